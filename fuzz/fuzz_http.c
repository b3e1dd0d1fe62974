/* libFuzzer target: whole HTTP requests (request line, headers, body) to
 * the device's API handlers (api.h), as the HTTP adapter hands them over:
 * method, path without the query, the Authorization and Host headers, the
 * body. The device has a telegram served and a session; every request is
 * sent once without and once with the right credentials, so that the
 * handlers behind authentication are reached. Whatever the request, the
 * answer is a status and a body, and a refused PATCH changes nothing. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "config.h"
#include "device.h"
#include "dongle.h"
#include "firmware.h"
#include "meter.h"
#include "p1_gen.h"
#include "sc_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1751360400000LL
#define AUTH "Basic dXNlcjpmdXp6LXB3" /* user:fuzz-pw */

static struct sc_device dev;
static struct sc_dongle dongle;
static struct sc_api api;
static struct sc_api_ctx ctx;
static bool ready;
static bool save_fails;

static int save_cb(void *arg, const struct sc_config *c, char *why, size_t cap)
{
	(void)arg;
	(void)c;
	if (save_fails) {
		snprintf(why, cap, "no space left on device");
		return SC_ERR_IO;
	}
	return SC_OK;
}

static void setup(void)
{
	struct sc_device_config dc = {.protocol = SC_PROTO_P1, .regs = {SC_WORDS_CDAB, false}};
	if (sc_device_init(&dev, &dc) != SC_OK)
		abort();
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV_EV, 3, 5, 1751360400, 0, 0};
	struct sc_p1_gen_opts go = {SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0};
	static char tg[SC_P1_GEN_MAX];
	sc_meter_init(&m, &mc);
	sc_meter_advance(&m, mc.start);
	int k = sc_p1_gen(&m, &go, tg, sizeof tg, NULL);
	if (k <= 0)
		abort();
	sc_device_feed(&dev, tg, (size_t)k, T0);
	ready = true;
}

static void fresh(void)
{
	static const struct sc_fw_version fw = {5, 3, 0};
	struct sc_config f;
	sc_config_defaults(&f);
	sc_dongle_init(&dongle, "XMX0012345", &f, NULL, false, &fw, true, T0);
	sc_api_init(&api, "fuzz-pw", 60000);
	api.https_port = 443;
	memset(&ctx, 0, sizeof ctx);
	ctx.dongle = &dongle;
	ctx.dev = &dev;
	ctx.mqtt_state = "connected";
	ctx.mqtt_error = "";
	ctx.modbus_port = 502;
	ctx.now_ms = T0 + 1000;
	ctx.save = save_cb;
}

/* The line at *p (up to CRLF or LF) into a NUL-terminated copy. */
static char *line(const char **p, const char *end)
{
	const char *s = *p, *e = memchr(s, '\n', (size_t)(end - s));
	const char *next = e ? e + 1 : end;
	if (!e)
		e = end;
	if (e > s && e[-1] == '\r')
		e--;
	char *out = malloc((size_t)(e - s) + 1);
	if (!out)
		abort();
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	*p = next;
	return out;
}

static void send(const struct sc_http_request *rq)
{
	struct sc_http_response rs;
	memset(&rs, 0, sizeof rs);
	struct sc_config before = dongle.saved;
	char a[8192], b[8192];
	int na = sc_config_write(&before, true, a, sizeof a);
	sc_api_handle(&api, &ctx, rq, &rs);
	if (rs.status < 100 || rs.status > 599 || (rs.len && !rs.body))
		__builtin_trap(); /* every request gets an answer */
	if (rs.status >= 400) {
		int nb = sc_config_write(&dongle.saved, true, b, sizeof b);
		if (na != nb || memcmp(a, b, (size_t)na) != 0)
			__builtin_trap(); /* a refused request changed the configuration */
	}
	sc_http_response_free(&rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	fresh();
	const char *p = (const char *)data, *end = p + size;
	/* Bit 0 of the first byte: the save fails (a full disk); bit 1: TLS. */
	unsigned mode = size ? data[0] : 0;
	save_fails = mode & 1;
	char *first = line(&p, end);
	char *method = first, *path = strchr(first, ' ');
	if (path) {
		*path++ = '\0';
		char *sp = strchr(path, ' ');
		if (sp)
			*sp = '\0';
		char *q = strchr(path, '?');
		if (q)
			*q = '\0';
	} else {
		path = (char *)"/";
	}
	char *hdr[32];
	int nh = 0;
	const char *auth = NULL, *host = NULL;
	while (p < end && nh < 32) {
		char *h = line(&p, end);
		hdr[nh++] = h;
		if (!*h)
			break;
		char *colon = strchr(h, ':');
		if (!colon)
			continue;
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		if (strcasecmp(h, "Authorization") == 0)
			auth = v;
		else if (strcasecmp(h, "Host") == 0)
			host = v;
	}
	struct sc_http_request rq = {
		.method = method, .path = path, .authorization = auth, .host = host,
		.body = p, .body_len = (size_t)(end - p),
		.body_too_large = (size_t)(end - p) > SC_API_BODY_MAX,
		.client_ip = 0x7F000001u, .tls = (mode & 2) != 0, .base = NULL,
	};
	send(&rq);
	rq.authorization = AUTH;
	send(&rq);
	for (int i = 0; i < nh; i++)
		free(hdr[i]);
	free(first);
	return 0;
}
