/* The HTTP API handlers (api.h) called directly, without a network: Basic
 * authentication and the delay after failed logins, one session at a time
 * (manual §5.2), the configuration (PATCH merged, validated whole, saved
 * first), status, firmware, reset, the raw telegram, methods, paths, plain
 * HTTP and the device restarting (SMART-CONNECT.md §4-§5). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "device.h"
#include "dongle.h"
#include "firmware.h"
#include "meter.h"
#include "p1_gen.h"
#include "sc_error.h"
#include "tic_gen.h"

#define T0 1751360400000LL
#define SERIAL "XMX0012345"
#define PASSWORD "Label-Pw-7x3k"
#define IP_A 0xC0A80132u /* 192.168.1.50 */
#define IP_B 0xC0A80133u /* 192.168.1.51 */
#define IDLE_MS 60000

static struct sc_device dev;
static struct sc_dongle dongle;
static struct sc_api api;
static struct sc_api_ctx ctx;
static const struct sc_fw_version FW = {5, 3, 0};

/* The last telegram fed, bytes as the meter sent them. */
static char tg_last[SC_P1_GEN_MAX];
static size_t tg_last_len;
static struct sc_reading tg_reading;

/* The save callback: counts, remembers, fails on demand (a full disk). */
static struct {
	int calls;
	bool fail;
	struct sc_config last;
} saver;

static int save_cb(void *arg, const struct sc_config *c, char *why, size_t cap)
{
	cr_assert_eq(arg, &saver);
	saver.calls++;
	if (saver.fail) {
		snprintf(why, cap, "%s", "no space left on device");
		return SC_ERR_IO;
	}
	saver.last = *c;
	return SC_OK;
}

/* n DSMR 5 telegrams, one a second, fed as they come; the last is kept. */
static void feed_p1(int n, int64_t now_ms)
{
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV_EV, 3, 5, 1751360400, 0, 0};
	struct sc_p1_gen_opts go = {SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0};
	sc_meter_init(&m, &mc);
	for (int i = 0; i < n; i++) {
		sc_meter_advance(&m, mc.start + i);
		int k = sc_p1_gen(&m, &go, tg_last, sizeof tg_last, &tg_reading);
		cr_assert_gt(k, 0);
		tg_last_len = (size_t)k;
		sc_device_feed(&dev, tg_last, tg_last_len, now_ms - (n - 1 - i) * 1000);
	}
}

static void setup_with(enum sc_protocol proto, bool telegrams)
{
	memset(&saver, 0, sizeof saver);
	struct sc_device_config dc = {.protocol = proto, .regs = {SC_WORDS_CDAB, false}};
	cr_assert_eq(sc_device_init(&dev, &dc), SC_OK);
	if (telegrams)
		feed_p1(3, T0);
	struct sc_config f;
	sc_config_defaults(&f);
	sc_dongle_init(&dongle, SERIAL, &f, NULL, false, &FW, true, T0);
	sc_api_init(&api, PASSWORD, IDLE_MS);
	api.https_port = 8443;
	memset(&ctx, 0, sizeof ctx);
	ctx.dongle = &dongle;
	ctx.dev = &dev;
	ctx.mqtt_state = "connected";
	ctx.mqtt_error = "";
	ctx.modbus_port = 502;
	ctx.now_ms = T0;
	ctx.save = save_cb;
	ctx.save_arg = &saver;
	/* device_counters as the twin would fill them: distinct values. */
	ctx.diag = (struct sc_diag){
		.uptime = 3600, .gw_ping_pass = 1200, .gw_ping_fail = 2,
		.internet_ping_pass = 1190, .internet_ping_fail = 12, .telegrams_pass = 3,
		.telegrams_fail = 4, .telegrams_frame_fail = 5, .mqtt_event_errors = 6,
		.mqtt_event_connect = 7, .mqtt_send_pass = 8, .mqtt_send_fail = 9,
		.heap_free = 150000, .heap_min_free = 120000, .heap_largest_free = 90000,
		.heap_failed_allocs = 0,
	};
}

static void setup(void)
{
	setup_with(SC_PROTO_P1, true);
}

static void teardown(void)
{
	sc_device_free(&dev);
}

TestSuite(api, .init = setup, .fini = teardown);
TestSuite(api_empty, .init = NULL, .fini = teardown);

/* ---- requests ---- */

static void b64(const char *in, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)(unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned)(unsigned char)in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

/* "Basic <base64 of user:password>" (static, one at a time per slot). */
static const char *basic(const char *user_pass)
{
	static char slots[16][256];
	static int k;
	char *s = slots[k++ % 16];
	memcpy(s, "Basic ", 6);
	b64(user_pass, s + 6);
	return s;
}

static const char *good_auth(void)
{
	return basic("user:" PASSWORD);
}

static struct sc_http_request req(const char *method, const char *path)
{
	return (struct sc_http_request){
		.method = method, .path = path, .authorization = good_auth(),
		.host = "192.168.1.100", .client_ip = IP_A, .tls = true,
		.local_ip = 0xC0A80164u, /* 192.168.1.100, the address it came in on */
	};
}

static struct sc_http_request req_body(const char *method, const char *path, const char *body)
{
	struct sc_http_request r = req(method, path);
	r.body = body;
	r.body_len = strlen(body);
	r.content_type = "application/json";
	return r;
}

static void handle(const struct sc_http_request *r, struct sc_http_response *rs)
{
	ctx.want_soft_reset = false;
	ctx.firmware_started = false;
	memset(rs, 0xA5, sizeof *rs); /* the handler must set every field */
	rs->body = NULL;
	sc_api_handle(&api, &ctx, r, rs);
	cr_assert(rs->body != NULL, "a body is always set (%d)", rs->status);
	cr_assert_eq(strlen(rs->body) <= rs->len, true);
}

/* Status of one request; the response freed. */
static int status_of(const struct sc_http_request *r)
{
	struct sc_http_response rs;
	handle(r, &rs);
	int s = rs.status;
	sc_http_response_free(&rs);
	return s;
}

static cJSON *json_of(const struct sc_http_response *rs)
{
	cr_assert_str_eq(rs->content_type, "application/json");
	cJSON *j = cJSON_ParseWithLength(rs->body, rs->len);
	cr_assert(j != NULL, "JSON: %s", rs->body);
	return j;
}

static const char *str_at(const cJSON *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	const cJSON *cur = o;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		cur = cJSON_GetObjectItemCaseSensitive(cur, k);
		cr_assert(cur != NULL, "no %s", path);
	}
	cr_assert(cJSON_IsString(cur), "%s is not a string", path);
	return cur->valuestring;
}

static const cJSON *item_at(const cJSON *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	const cJSON *cur = o;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		cur = cJSON_GetObjectItemCaseSensitive(cur, k);
		cr_assert(cur != NULL, "no %s", path);
	}
	return cur;
}

static double num_at(const cJSON *o, const char *path)
{
	const cJSON *j = item_at(o, path);
	cr_assert(cJSON_IsNumber(j), "%s is not a number", path);
	return j->valuedouble;
}

static bool bool_at(const cJSON *o, const char *path)
{
	const cJSON *j = item_at(o, path);
	cr_assert(cJSON_IsBool(j), "%s is not a boolean", path);
	return cJSON_IsTrue(j);
}

/* An error response: status, JSON with "error" (and the field when given). */
static void assert_error(const struct sc_http_response *rs, int status, const char *field)
{
	cr_assert_eq(rs->status, status, "status %d, want %d: %s", rs->status, status, rs->body);
	cJSON *j = json_of(rs);
	cr_assert_neq(str_at(j, "error")[0], '\0');
	if (field)
		cr_assert_str_eq(str_at(j, "field"), field, "%s", rs->body);
	cJSON_Delete(j);
}

/* The twin's state (sc_api_state_json) under "Status", as GET /sim/v1/state
 * serves it. */
static cJSON *state_doc(void)
{
	char *text = sc_api_state_json(&ctx);
	cr_assert(text != NULL);
	cJSON *st = cJSON_Parse(text);
	cr_assert(st != NULL, "JSON: %s", text);
	free(text);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "Status", st);
	return j;
}

/* ---- authentication ---- */

Test(api, authentication_required)
{
	static const char *const paths[] = {"/api/v1/config", "/api/v1/status", "/api/v1/firmware",
					    "/api/v1/telegram", "/"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct sc_http_request r = req("GET", paths[i]);
		r.authorization = NULL;
		struct sc_http_response rs;
		handle(&r, &rs);
		assert_error(&rs, 401, NULL);
		cr_assert(rs.www_authenticate, "%s: a Basic challenge", paths[i]);
		sc_http_response_free(&rs);
	}
	/* POST reset without credentials does not reset. */
	struct sc_http_request r = req("POST", "/api/v1/reset");
	r.authorization = NULL;
	cr_assert_eq(status_of(&r), 401);
	cr_assert_not(ctx.want_soft_reset);
}

Test(api, wrong_credentials)
{
	const char *bad[] = {
		basic("user:wrong"),
		basic("admin:" PASSWORD),
		basic("user:" "Label-Pw-7x3"),    /* a prefix of the password */
		basic("user:" PASSWORD "x"),      /* longer */
		basic("user:" "label-pw-7x3k"),   /* case matters */
		basic("user" PASSWORD),           /* no colon */
		basic("user:"),
		basic(""),
		"Basic",
		"Basic !!!!",
		"Bearer abcdef",
		"",
		"user:" PASSWORD,                 /* not encoded */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sc_http_request r = req("GET", "/api/v1/config");
		r.authorization = bad[i];
		r.client_ip = IP_B + (uint32_t)i; /* keep clear of the failure delay */
		struct sc_http_response rs;
		handle(&r, &rs);
		assert_error(&rs, 401, NULL);
		cr_assert(rs.www_authenticate, "case %zu", i);
		cr_assert_eq(rs.delay_ms, 0, "case %zu: the first failure is answered at once", i);
		sc_http_response_free(&rs);
	}
}

Test(api, right_credentials)
{
	struct sc_http_request r = req("GET", "/api/v1/config");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_not(rs.www_authenticate);
	cr_assert_eq(rs.delay_ms, 0);
	cr_assert_eq(rs.retry_after_s, 0);
	sc_http_response_free(&rs);
}

Test(api, the_auth_scheme_is_case_insensitive)
{
	/* RFC 7235 §2.1 / RFC 7617 §2: the scheme name is case-insensitive. */
	char h[256];
	const char *scheme[] = {"basic ", "BASIC ", "bAsIc "};
	for (size_t i = 0; i < 3; i++) {
		snprintf(h, sizeof h, "%s%s", scheme[i], good_auth() + 6);
		struct sc_http_request r = req("GET", "/api/v1/config");
		r.authorization = h;
		cr_assert_eq(status_of(&r), 200, "%s", h);
	}
}

Test(api, secret_equal)
{
	cr_assert(sc_api_secret_equal("abc", "abc", 16));
	cr_assert(sc_api_secret_equal("", "", 16));
	cr_assert_not(sc_api_secret_equal("abc", "abd", 16));
	cr_assert_not(sc_api_secret_equal("xbc", "abc", 16));
	cr_assert_not(sc_api_secret_equal("abc", "abcd", 16), "a prefix is not equal");
	cr_assert_not(sc_api_secret_equal("abcd", "abc", 16));
	cr_assert_not(sc_api_secret_equal("", "a", 16));
	cr_assert_not(sc_api_secret_equal("a", "", 16));
	cr_assert_not(sc_api_secret_equal("abc", "ABC", 16));
	/* Strings as long as max. */
	cr_assert(sc_api_secret_equal("abcdefgh", "abcdefgh", 8));
	cr_assert_not(sc_api_secret_equal("abcdefgh", "abcdefgX", 8));
	cr_assert_not(sc_api_secret_equal("Xbcdefgh", "abcdefgh", 8));
	cr_assert_not(sc_api_secret_equal("abcdefg", "abcdefgh", 8));
	/* Nothing is read past a terminator: exact-size heap copies (under
	 * ASan an over-read is an error). */
	const char *pairs[][2] = {{"a", "abcdefghijkl"}, {"abcdefghijkl", "a"}, {"", "xyz"},
				  {"same", "same"}};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		size_t la = strlen(pairs[i][0]) + 1, lb = strlen(pairs[i][1]) + 1;
		char *a = malloc(la), *b = malloc(lb);
		memcpy(a, pairs[i][0], la);
		memcpy(b, pairs[i][1], lb);
		bool want = strcmp(a, b) == 0;
		cr_assert_eq(sc_api_secret_equal(a, b, 64), want, "pair %zu", i);
		free(a);
		free(b);
	}
}

Test(api, delay_after_more_than_five_failures)
{
	struct sc_http_request r = req("GET", "/api/v1/status");
	r.authorization = basic("user:guess");
	struct sc_http_response rs;
	for (int i = 1; i <= SC_API_FAIL_LIMIT; i++) {
		ctx.now_ms = T0 + i * 1000;
		handle(&r, &rs);
		cr_assert_eq(rs.status, 401);
		cr_assert_eq(rs.delay_ms, 0, "failure %d is answered at once", i);
		sc_http_response_free(&rs);
	}
	for (int i = SC_API_FAIL_LIMIT + 1; i <= SC_API_FAIL_LIMIT + 3; i++) {
		ctx.now_ms = T0 + i * 1000;
		handle(&r, &rs);
		cr_assert_eq(rs.status, 401);
		cr_assert_eq(rs.delay_ms, SC_API_FAIL_DELAY_MS, "failure %d is delayed", i);
		cr_assert(rs.www_authenticate);
		sc_http_response_free(&rs);
	}
	/* Another address is not slowed down. */
	struct sc_http_request other = r;
	other.client_ip = IP_B;
	handle(&other, &rs);
	cr_assert_eq(rs.status, 401);
	cr_assert_eq(rs.delay_ms, 0);
	sc_http_response_free(&rs);
	/* The right password from the slowed address is answered at once:
	 * only further failures wait. */
	struct sc_http_request right = req("GET", "/api/v1/status");
	handle(&right, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(rs.delay_ms, 0);
	sc_http_response_free(&rs);
}

Test(api, failures_outside_the_window_do_not_add_up)
{
	struct sc_http_request r = req("GET", "/api/v1/status");
	r.authorization = basic("user:guess");
	struct sc_http_response rs;
	/* One failure every 13 s: never more than 5 within 60 s. */
	for (int i = 0; i < 20; i++) {
		ctx.now_ms = T0 + (int64_t)i * 13000;
		handle(&r, &rs);
		cr_assert_eq(rs.status, 401);
		cr_assert_eq(rs.delay_ms, 0, "failure %d", i);
		sc_http_response_free(&rs);
	}
	/* Six in a burst: delayed; a minute after the burst, not any more. */
	ctx.now_ms = T0 + 1000000;
	for (int i = 0; i < 6; i++) {
		handle(&r, &rs);
		sc_http_response_free(&rs);
	}
	cr_assert_eq(rs.delay_ms, SC_API_FAIL_DELAY_MS);
	ctx.now_ms += SC_API_FAIL_WINDOW_MS + 1000;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 401);
	cr_assert_eq(rs.delay_ms, 0, "the window has passed");
	sc_http_response_free(&rs);
}

Test(api, many_addresses_do_not_escape_the_delay)
{
	/* 64 addresses guessing in turn: an address pushed out of a full table
	 * once started again with free guesses. Now the failures answered at
	 * once stay within the table's budget, however many addresses. */
	struct sc_http_request r = req("GET", "/api/v1/status");
	r.authorization = basic("user:guess");
	struct sc_http_response rs;
	int at_once = 0, late = 0;
	for (int round = 0; round < 10; round++) {
		for (uint32_t k = 0; k < 64; k++) {
			ctx.now_ms = T0 + round * 1000 + (int64_t)k;
			r.client_ip = IP_B + k;
			handle(&r, &rs);
			cr_assert_eq(rs.status, 401);
			if (rs.delay_ms > 0)
				late++;
			else
				at_once++;
			sc_http_response_free(&rs);
		}
	}
	cr_assert_eq(at_once, SC_API_FAIL_TABLE * SC_API_FAIL_LIMIT, "%d answered at once", at_once);
	cr_assert_eq(late, 640 - SC_API_FAIL_TABLE * SC_API_FAIL_LIMIT);
	/* The right password is never delayed, even from an address not in
	 * the table. */
	struct sc_http_request right = req("GET", "/api/v1/status");
	right.client_ip = IP_B + 63;
	handle(&right, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(rs.delay_ms, 0);
	sc_http_response_free(&rs);
	/* A window later the table has room again. */
	ctx.now_ms += SC_API_FAIL_WINDOW_MS + 1000;
	r.client_ip = IP_B + 100;
	handle(&r, &rs);
	cr_assert_eq(rs.delay_ms, 0, "the window has passed");
	sc_http_response_free(&rs);
}

/* ---- the session (manual §5.2: one user session at a time) ---- */

Test(api, one_session_at_a_time)
{
	struct sc_http_request a = req("GET", "/api/v1/status");
	struct sc_http_request b = a;
	b.client_ip = IP_B;
	struct sc_http_response rs;
	ctx.now_ms = T0;
	cr_assert_eq(status_of(&a), 200);

	ctx.now_ms = T0 + 1000;
	handle(&b, &rs);
	assert_error(&rs, 409, NULL);
	cJSON *j = json_of(&rs);
	/* Who holds the session and until when: A's address, 60 s after its
	 * request at T0 (2025-07-01T09:00:00Z), 59 s from now. */
	cr_assert_str_eq(str_at(j, "client"), "192.168.1.50");
	cr_assert_eq(num_at(j, "seconds_left"), 59);
	cr_assert_str_eq(str_at(j, "until"), "2025-07-01T09:01:00Z");
	cr_assert(strstr(str_at(j, "reason"), "192.168.1.50"), "%s", rs.body);
	cr_assert(strstr(str_at(j, "reason"), "2025-07-01T09:01:00Z"), "%s", rs.body);
	cr_assert(strstr(str_at(j, "reason"), "59 s"), "%s", rs.body);
	cJSON_Delete(j);
	/* The session ends 60 s after A's last request: 59 s from now. */
	cr_assert_eq(rs.retry_after_s, 59);
	cr_assert_not(rs.www_authenticate, "the credentials were right");
	sc_http_response_free(&rs);

	/* A's own further requests belong to its session and keep it. */
	ctx.now_ms = T0 + 2000;
	cr_assert_eq(status_of(&a), 200);
	struct sc_http_request a2 = req("GET", "/api/v1/config");
	cr_assert_eq(status_of(&a2), 200);

	ctx.now_ms = T0 + 2000 + IDLE_MS - 1;
	handle(&b, &rs);
	cr_assert_eq(rs.status, 409);
	cr_assert_eq(rs.retry_after_s, 1);
	j = json_of(&rs);
	cr_assert_eq(num_at(j, "seconds_left"), 1);
	cr_assert_str_eq(str_at(j, "until"), "2025-07-01T09:01:02Z", "extended by A's requests");
	cJSON_Delete(j);
	sc_http_response_free(&rs);

	/* After session_idle_ms without a request, B gets in; now A waits. */
	ctx.now_ms = T0 + 2000 + IDLE_MS;
	cr_assert_eq(status_of(&b), 200);
	ctx.now_ms += 1;
	cr_assert_eq(status_of(&a), 409);
}

Test(api, a_session_is_not_taken_without_credentials)
{
	struct sc_http_request a = req("GET", "/api/v1/status");
	struct sc_http_request b = a;
	b.client_ip = IP_B;
	cr_assert_eq(status_of(&a), 200);
	/* B with wrong or no credentials is told to authenticate, not 409. */
	b.authorization = basic("user:nope");
	cr_assert_eq(status_of(&b), 401);
	b.authorization = NULL;
	cr_assert_eq(status_of(&b), 401);
	/* Failed attempts from B neither end nor extend A's session. */
	ctx.now_ms = T0 + 30000;
	cr_assert_eq(status_of(&b), 401);
	ctx.now_ms = T0 + IDLE_MS;
	b.authorization = good_auth();
	cr_assert_eq(status_of(&b), 200);
	/* A third address failing never took the session from B. */
	struct sc_http_request c = a;
	c.client_ip = IP_B + 1;
	c.authorization = basic("user:nope");
	cr_assert_eq(status_of(&c), 401);
	ctx.now_ms += 1;
	cr_assert_eq(status_of(&a), 409);
}

Test(api, a_restart_ends_the_session)
{
	struct sc_http_request a = req("GET", "/api/v1/status");
	struct sc_http_request b = a;
	b.client_ip = IP_B;
	cr_assert_eq(status_of(&a), 200);
	cr_assert_eq(status_of(&b), 409);
	sc_api_end_session(&api);
	cr_assert_eq(status_of(&b), 200);
	cr_assert_eq(status_of(&a), 409);
}

Test(api, session_idle_time_is_configurable)
{
	sc_api_init(&api, PASSWORD, 5000);
	struct sc_http_request a = req("GET", "/api/v1/status");
	struct sc_http_request b = a;
	b.client_ip = IP_B;
	cr_assert_eq(status_of(&a), 200);
	ctx.now_ms = T0 + 4999;
	struct sc_http_response rs;
	handle(&b, &rs);
	cr_assert_eq(rs.status, 409);
	cr_assert_eq(rs.retry_after_s, 1);
	sc_http_response_free(&rs);
	ctx.now_ms = T0 + 5000;
	cr_assert_eq(status_of(&b), 200);
}

/* ---- configuration ---- */

static char *config_text(const struct sc_config *c, bool secrets)
{
	static char buf[4096];
	cr_assert_gt(sc_config_write(c, secrets, buf, sizeof buf), 0);
	return buf;
}

Test(api, get_config)
{
	struct sc_http_request r = req("GET", "/api/v1/config");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cJSON *j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "MeterType"), "PhoenixContact-EMPro");
	cr_assert_str_eq(str_at(j, "DefaultNetIf"), "Ethernet");
	cr_assert_str_eq(str_at(j, "Ethernet.IpMode"), "DHCP");
	cr_assert_str_eq(str_at(j, "MQTT.Broker"), SC_CONFIG_DEFAULT_BROKER);
	cr_assert(bool_at(j, "MQTT.Enabled"));
	cJSON_Delete(j);
	cr_assert_str_eq(rs.body, config_text(&dongle.saved, false));
	sc_http_response_free(&rs);
}

Test(api, patch_merges_and_saves)
{
	struct sc_config before = dongle.saved;
	struct sc_http_request r =
		req_body("PATCH", "/api/v1/config",
			 "{\"MQTT\":{\"Site\":\"garage\",\"Password\":\"pw-123456\"}}");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200, "%s", rs.body);
	cJSON *j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "MQTT.Site"), "garage");
	cr_assert_str_eq(str_at(j, "MQTT.Broker"), SC_CONFIG_DEFAULT_BROKER, "others stay");
	cr_assert_str_eq(str_at(j, "MQTT.Password"), SC_CONFIG_MASK, "never echoed");
	cr_assert_str_eq(str_at(j, "DefaultNetIf"), "Ethernet");
	cJSON_Delete(j);
	sc_http_response_free(&rs);
	/* Saved first, then the dongle's saved configuration. */
	cr_assert_eq(saver.calls, 1);
	cr_assert_str_eq(saver.last.site, "garage");
	cr_assert_str_eq(saver.last.password, "pw-123456");
	cr_assert(memcmp(&saver.last, &dongle.saved, sizeof dongle.saved) == 0);
	cr_assert(dongle.configured, "a saved PATCH leaves factory state");
	struct sc_config want = before;
	snprintf(want.site, sizeof want.site, "%s", "garage");
	snprintf(want.password, sizeof want.password, "%s", "pw-123456");
	cr_assert(memcmp(&want, &dongle.saved, sizeof want) == 0, "nothing else changed");
	/* In force at the next reset (SMART-CONNECT.md §3). */
	cr_assert_str_eq(dongle.running.site, "");
	cr_assert(sc_dongle_restart_pending(&dongle));

	/* A second PATCH merges onto the first. */
	r = req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Username\":\"bob\"}}");
	cr_assert_eq(status_of(&r), 200);
	cr_assert_str_eq(dongle.saved.site, "garage");
	cr_assert_str_eq(dongle.saved.username, "bob");
	cr_assert_str_eq(dongle.saved.password, "pw-123456");

	/* GET shows it; the password masked, unless the firmware echoes it. */
	r = req("GET", "/api/v1/config");
	handle(&r, &rs);
	cr_assert(strstr(rs.body, "\"Site\":\"garage\""));
	cr_assert_null(strstr(rs.body, "pw-123456"));
	sc_http_response_free(&rs);
	api.echo_secrets = true;
	handle(&r, &rs);
	cr_assert(strstr(rs.body, "\"Password\":\"pw-123456\""), "%s", rs.body);
	sc_http_response_free(&rs);
}

Test(api, patch_survives_a_restart)
{
	struct sc_http_request r =
		req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"garage\"}}");
	cr_assert_eq(status_of(&r), 200);
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_dongle_restart(&dongle, T0 + 1000, &ev);
	sc_dongle_step(&dongle, T0 + 7000, &ev);
	cr_assert(sc_dongle_services_on(&dongle));
	ctx.now_ms = T0 + 7000;
	sc_api_end_session(&api);
	struct sc_http_response rs;
	r = req("GET", "/api/v1/status");
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cJSON *j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "MQTT.Site"), "garage", "the configuration in force");
	cJSON_Delete(j);
	sc_http_response_free(&rs);
	j = state_doc();
	cr_assert_not(bool_at(j, "Status.System.RestartPending"));
	cJSON_Delete(j);
}

Test(api, patch_with_an_invalid_field_changes_nothing)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"MQTT\":{\"Site\":\"new\"},\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{"
		 "\"IpAddress\":\"300.1.1.1\",\"Netmask\":\"24\",\"Gateway\":\"192.168.1.1\"}}}",
		 "Ethernet.StaticIPv4.IpAddress"},
		{"{\"MQTT\":{\"Site\":\"new\",\"Broker\":\"http://x\"}}", "MQTT.Broker"},
		{"{\"Foo\":1}", "Foo"},
		{"{\"MQTT\":{\"Enabled\":\"yes\"}}", "MQTT.Enabled"},
		{"{\"DefaultNetIf\":\"Token-Ring\"}", "DefaultNetIf"},
	};
	struct sc_config before = dongle.saved;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_http_request r = req_body("PATCH", "/api/v1/config", cases[i].body);
		struct sc_http_response rs;
		handle(&r, &rs);
		assert_error(&rs, 400, cases[i].field);
		cJSON *j = json_of(&rs);
		cr_assert_neq(str_at(j, "reason")[0], '\0');
		cJSON_Delete(j);
		sc_http_response_free(&rs);
		cr_assert(memcmp(&before, &dongle.saved, sizeof before) == 0, "case %zu", i);
	}
	/* Not JSON at all, or empty. */
	const char *junk[] = {"{", "", "[1,2]", "null", "{\"MQTT\":"};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		struct sc_http_request r = req_body("PATCH", "/api/v1/config", junk[i]);
		struct sc_http_response rs;
		handle(&r, &rs);
		assert_error(&rs, 400, NULL);
		sc_http_response_free(&rs);
	}
	cr_assert_eq(saver.calls, 0, "nothing was saved");
	cr_assert_not(dongle.configured);
	cr_assert(memcmp(&before, &dongle.saved, sizeof before) == 0);
}

Test(api, patch_when_saving_fails)
{
	struct sc_config before = dongle.saved;
	saver.fail = true;
	struct sc_http_request r =
		req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"garage\"}}");
	struct sc_http_response rs;
	handle(&r, &rs);
	assert_error(&rs, 500, NULL);
	cJSON *j = json_of(&rs);
	cr_assert(strstr(str_at(j, "reason"), "no space left"), "why the save failed: %s", rs.body);
	cJSON_Delete(j);
	sc_http_response_free(&rs);
	cr_assert_eq(saver.calls, 1);
	cr_assert(memcmp(&before, &dongle.saved, sizeof before) == 0,
		  "saved configuration unchanged");
	cr_assert_not(dongle.configured);
	r = req("GET", "/api/v1/config");
	handle(&r, &rs);
	cr_assert_null(strstr(rs.body, "garage"));
	sc_http_response_free(&rs);
	/* The disk has room again: the same PATCH goes through. */
	saver.fail = false;
	r = req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"garage\"}}");
	cr_assert_eq(status_of(&r), 200);
	cr_assert_str_eq(dongle.saved.site, "garage");
}

Test(api, bodies_too_large)
{
	struct sc_config before = dongle.saved;
	struct sc_http_request r =
		req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"x\"}}");
	r.body_too_large = true;
	struct sc_http_response rs;
	handle(&r, &rs);
	assert_error(&rs, 400, NULL);
	sc_http_response_free(&rs);
	cr_assert_eq(saver.calls, 0);
	cr_assert(memcmp(&before, &dongle.saved, sizeof before) == 0);

	r = req_body("POST", "/api/v1/firmware", "{\"Version\":\"5.4.0\"}");
	r.body_too_large = true;
	handle(&r, &rs);
	assert_error(&rs, 400, NULL);
	sc_http_response_free(&rs);
	cr_assert_not(ctx.firmware_started);
	cr_assert_eq(dongle.fw.state, SC_FW_IDLE);
}

/* ---- status ---- */

/* The manual's example of GET /api/v1/status, §5.2 of
 * smart-connect-manual-nl-v1.8.txt, as it is printed there. */
static const char MANUAL_STATUS[] =
	"{\n"
	"  \"MeterType\": \"PhoenixContact-EMPro\",\n"
	"  \"DefaultNetIf\": \"WiFi\",\n"
	"  \"Ethernet\": {\n"
	"    \"IpMode\": \"Static\",\n"
	"    \"StaticIPv4\": {\n"
	"      \"IpAddress\": \"192.168.10.101\",\n"
	"      \"Netmask\": \"24\",\n"
	"      \"Gateway\": \"192.168.10.1\",\n"
	"      \"DNS\": \"192.168.10.1\"\n"
	"    }\n"
	"  },\n"
	"  \"WiFi\": {\n"
	"    \"IpMode\": \"DHCP\"\n"
	"  },\n"
	"  \"MQTT\": {\n"
	"    \"Broker\": \"mqtt://broker.xemex-cloud.eu:8883\",\n"
	"    \"Site\": \"site\",\n"
	"    \"Username\": \"username\",\n"
	"    \"Password\": \"password\"\n"
	"  }\n"
	"}\n";

/* got has the members of want, in its order, and no other, level by level;
 * a value is an object where want's is one, else a string as want's is. */
static void same_keys(const cJSON *got, const cJSON *want, const char *path)
{
	const cJSON *g = got->child, *w = want->child;
	for (; g && w; g = g->next, w = w->next) {
		char sub[128];
		snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", w->string);
		cr_assert_str_eq(g->string, w->string, "at %s: %s where the manual has %s",
				 path[0] ? path : "the top", g->string, w->string);
		if (cJSON_IsObject(w)) {
			cr_assert(cJSON_IsObject(g), "%s is not an object", sub);
			same_keys(g, w, sub);
		} else {
			cr_assert(cJSON_IsString(g), "%s is not a string as in the manual", sub);
		}
	}
	cr_assert(g == NULL, "%s%s%s is not in the manual's document", path, *path ? "." : "",
		  g ? g->string : "");
	cr_assert(w == NULL, "%s%s%s of the manual's document is missing", path,
		  *path ? "." : "", w ? w->string : "");
}

/* The device configured as the manual's example, in force after a restart;
 * then GET /api/v1/status. */
static cJSON *status_configured_as_the_manual(bool echo_secrets, struct sc_http_response *rs)
{
	struct sc_http_request r = req_body(
		"PATCH", "/api/v1/config",
		"{\"DefaultNetIf\":\"WiFi\",\"WiFi\":{\"IpMode\":\"DHCP\",\"ConnectionData\":"
		"{\"WiFiSSID\":\"XemexTesting\",\"WiFiPassword\":\"Xem3x123\"}},"
		"\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"192.168.10.101\","
		"\"Netmask\":\"24\",\"Gateway\":\"192.168.10.1\",\"DNS\":\"192.168.10.1\"}},"
		"\"MQTT\":{\"Broker\":\"mqtt://broker.xemex-cloud.eu:8883\",\"Site\":\"site\","
		"\"Username\":\"username\",\"Password\":\"password\"}}");
	cr_assert_eq(status_of(&r), 200);
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_dongle_restart(&dongle, T0 + 1000, &ev);
	sc_dongle_step(&dongle, T0 + 7000, &ev);
	cr_assert(sc_dongle_services_on(&dongle));
	ctx.now_ms = T0 + 7000;
	sc_api_end_session(&api);
	api.echo_secrets = echo_secrets;
	r = req("GET", "/api/v1/status");
	handle(&r, rs);
	cr_assert_eq(rs->status, 200);
	return json_of(rs);
}

Test(api, status_document_is_the_manuals)
{
	/* §5.2: the keys of the manual's example, level by level, in its
	 * order, and nothing else; with the same settings, its values. */
	cJSON *want = cJSON_Parse(MANUAL_STATUS);
	cr_assert(want != NULL);
	struct sc_http_response rs;
	cJSON *j = status_configured_as_the_manual(true, &rs);
	same_keys(j, want, "");
	cr_assert(cJSON_Compare(j, want, true), "not the manual's example: %s", rs.body);
	/* sc_api_status_json gives the same document. */
	char *doc = sc_api_status_json(&ctx, true);
	cr_assert(doc);
	cr_assert_str_eq(doc, rs.body);
	free(doc);
	cJSON_Delete(j);
	sc_http_response_free(&rs);
	cJSON_Delete(want);
}

Test(api, status_document_masks_the_password)
{
	/* The twin's decision against the manual's example: the MQTT password
	 * is masked unless the firmware echoes secrets (--echo-secrets). */
	cJSON *want = cJSON_Parse(MANUAL_STATUS);
	struct sc_http_response rs;
	cJSON *j = status_configured_as_the_manual(false, &rs);
	same_keys(j, want, "");
	cr_assert_str_eq(str_at(j, "MQTT.Password"), SC_CONFIG_MASK);
	cr_assert_null(strstr(rs.body, "\"password\""), "%s", rs.body);
	cr_assert_null(strstr(rs.body, "Xem3x123"), "%s", rs.body);
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(want, "MQTT"),
					       "Password", cJSON_CreateString(SC_CONFIG_MASK));
	cr_assert(cJSON_Compare(j, want, true), "%s", rs.body);
	cJSON_Delete(j);
	sc_http_response_free(&rs);
	cJSON_Delete(want);
}

Test(api, status_document_at_factory_settings)
{
	/* Factory settings: DHCP everywhere, no StaticIPv4; still only the
	 * manual's members, none of the twin's state. */
	struct sc_http_request r = req("GET", "/api/v1/status");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cJSON *j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "MeterType"), "PhoenixContact-EMPro");
	cr_assert_str_eq(str_at(j, "DefaultNetIf"), "Ethernet");
	cr_assert_str_eq(str_at(j, "Ethernet.IpMode"), "DHCP");
	cr_assert_str_eq(str_at(j, "WiFi.IpMode"), "DHCP");
	cr_assert_str_eq(str_at(j, "MQTT.Broker"), SC_CONFIG_DEFAULT_BROKER);
	cr_assert_eq(cJSON_GetArraySize(j), 5, "%s", rs.body);
	cr_assert_eq(cJSON_GetArraySize(item_at(j, "Ethernet")), 1, "%s", rs.body);
	cr_assert_eq(cJSON_GetArraySize(item_at(j, "WiFi")), 1, "%s", rs.body);
	cr_assert_eq(cJSON_GetArraySize(item_at(j, "MQTT")), 4, "%s", rs.body);
	cr_assert_null(cJSON_GetObjectItemCaseSensitive(j, "Status"));
	cr_assert_null(strstr(rs.body, "Enabled"), "%s", rs.body);
	cJSON_Delete(j);
	sc_http_response_free(&rs);
}

Test(api, twin_state)
{
	/* What the twin observes and a unit does not serve: /sim/v1/state's
	 * "Status". */
	cJSON *j = state_doc();
	cr_assert_str_eq(str_at(j, "Status.System.SerialNumber"), SERIAL);
	cr_assert_str_eq(str_at(j, "Status.System.Hostname"), "smart-connect-" SERIAL);
	cr_assert_str_eq(str_at(j, "Status.System.Firmware"), "5.3.0");
	cr_assert_str_eq(str_at(j, "Status.System.State"), "running");
	cr_assert_eq(num_at(j, "Status.System.Uptime"), 3600);
	cr_assert(bool_at(j, "Status.System.FactoryState"));
	cr_assert_not(bool_at(j, "Status.System.RestartPending"));
	cr_assert_str_eq(str_at(j, "Status.System.Led.State"), "normal");
	cr_assert_str_eq(str_at(j, "Status.System.Led.Colour"), "green");

	cr_assert_str_eq(str_at(j, "Status.Meter.State"), "ok");
	cr_assert_str_eq(str_at(j, "Status.Meter.Protocol"), "P1");
	cr_assert_str_eq(str_at(j, "Status.Meter.Flavour"), sc_flavour_name(SC_FLAVOUR_DSMR50));
	cr_assert(tg_reading.q[SC_RQ_P].set);
	cr_assert_float_eq(num_at(j, "Status.Meter.ActivePower"), tg_reading.q[SC_RQ_P].v, 1e-6);
	cr_assert_eq(num_at(j, "Status.Meter.LastTelegramAge"), 0);
	cr_assert_eq(num_at(j, "Status.Meter.LastTelegramTs"), (double)tg_reading.ts);
	cr_assert_str_eq(str_at(j, "Status.Meter.EquipmentId"), tg_reading.meter_id);
	cr_assert_eq(num_at(j, "Status.Meter.Phases"), 3);
	cr_assert(cJSON_IsNull(item_at(j, "Status.Meter.LastRejected")));

	char addr[16];
	sc_ipv4_format(dongle.addr, addr, sizeof addr);
	cr_assert_str_eq(str_at(j, "Status.Network.ActiveInterface"), "Ethernet");
	cr_assert(bool_at(j, "Status.Network.Link"));
	cr_assert(bool_at(j, "Status.Network.Network"));
	cr_assert(bool_at(j, "Status.Network.Internet"));
	cr_assert_str_eq(str_at(j, "Status.Network.IpAddress"), addr);
	uint32_t parsed;
	cr_assert(sc_ipv4_parse(addr, &parsed) && parsed != 0);
	cr_assert_str_eq(str_at(j, "Status.Network.AddressFrom"), "dhcp");
	cr_assert_not(bool_at(j, "Status.Network.ApMode"));

	cr_assert_str_eq(str_at(j, "Status.MQTT.State"), "connected");
	cr_assert_str_eq(str_at(j, "Status.MQTT.LastError"), "");
	cr_assert_eq(num_at(j, "Status.Modbus.Port"), 502);

	/* device_counters (SMART-CONNECT.md §7): every key, the values given. */
	static const struct {
		const char *k;
		double v;
	} counters[] = {
		{"uptime", 3600}, {"gw_ping_pass", 1200}, {"gw_ping_fail", 2},
		{"internet_ping_pass", 1190}, {"internet_ping_fail", 12}, {"telegrams_pass", 3},
		{"telegrams_fail", 4}, {"telegrams_frame_fail", 5}, {"mqtt_event_errors", 6},
		{"mqtt_event_connect", 7}, {"mqtt_send_pass", 8}, {"mqtt_send_fail", 9},
		{"heap_free", 150000}, {"heap_min_free", 120000}, {"heap_largest_free", 90000},
		{"heap_failed_allocs", 0},
	};
	const cJSON *k = item_at(j, "Status.Counters");
	cr_assert_eq(cJSON_GetArraySize(k), (int)(sizeof counters / sizeof counters[0]));
	for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
		char path[64];
		snprintf(path, sizeof path, "Status.Counters.%s", counters[i].k);
		cr_assert_eq(num_at(j, path), counters[i].v, "%s", counters[i].k);
	}
	cJSON_Delete(j);
}

Test(api, twin_state_follows_the_device)
{
	/* The meter goes quiet, the cable is pulled, MQTT fails. */
	ctx.now_ms = T0 + 60000;
	struct sc_dongle_env env = {false, true, true, true, true};
	struct sc_dongle_events ev;
	sc_dongle_set_env(&dongle, &env, ctx.now_ms, &ev);
	ctx.mqtt_state = "disconnected";
	ctx.mqtt_error = "connection refused";
	cJSON *j = state_doc();
	cr_assert_str_eq(str_at(j, "Status.Meter.State"), "no-data");
	/* Stale values stay served; their age says how stale. */
	cr_assert_eq(num_at(j, "Status.Meter.LastTelegramAge"), 60);
	cr_assert_float_eq(num_at(j, "Status.Meter.ActivePower"), tg_reading.q[SC_RQ_P].v, 1e-6);
	cr_assert_not(bool_at(j, "Status.Network.Link"));
	cr_assert_not(bool_at(j, "Status.Network.Network"));
	cr_assert_not(bool_at(j, "Status.Network.Internet"));
	cr_assert(cJSON_IsNull(item_at(j, "Status.Network.IpAddress")));
	cr_assert_str_eq(str_at(j, "Status.System.Led.State"), "no-data-no-ip");
	cr_assert_str_eq(str_at(j, "Status.MQTT.State"), "disconnected");
	cr_assert_str_eq(str_at(j, "Status.MQTT.LastError"), "connection refused");
	cJSON_Delete(j);
	ctx.now_ms = T0 + 3600000;
	j = state_doc();
	cr_assert_eq(num_at(j, "Status.Meter.LastTelegramAge"), 3600, "device seconds");
	cJSON_Delete(j);
}

Test(api_empty, twin_state_before_any_telegram)
{
	setup_with(SC_PROTO_P1, false);
	cJSON *j = state_doc();
	cr_assert_str_eq(str_at(j, "Status.Meter.State"), "never");
	cr_assert(cJSON_IsNull(item_at(j, "Status.Meter.Flavour")));
	cr_assert(cJSON_IsNull(item_at(j, "Status.Meter.ActivePower")));
	cr_assert(cJSON_IsNull(item_at(j, "Status.Meter.LastTelegramAge")), "none yet");
	cr_assert_str_eq(str_at(j, "Status.System.Led.State"), "no-data");
	cJSON_Delete(j);
}

/* ---- firmware ---- */

Test(api, firmware_get)
{
	struct sc_http_request r = req("GET", "/api/v1/firmware");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cJSON *j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "Version"), "5.3.0");
	cr_assert_str_eq(str_at(j, "State"), "idle");
	cr_assert(cJSON_IsNull(item_at(j, "Target")));
	cr_assert_eq(num_at(j, "Progress"), 0);
	cr_assert(cJSON_IsNull(item_at(j, "LastUpdate")));
	cr_assert_str_eq(str_at(j, "EnergyUnit"), "Wh", "5.3.0 serves Wh (manual §5.3)");
	cJSON_Delete(j);
	sc_http_response_free(&rs);
}

static void drive(int64_t from, int64_t until)
{
	/* The caller's loop: firmware steps, then the dongle. */
	for (int64_t t = from; t <= until; t += 100) {
		struct sc_dongle_events ev;
		memset(&ev, 0, sizeof ev);
		if (sc_fw_step(&dongle.fw, t))
			sc_dongle_firmware_restart(&dongle, t, &ev);
		sc_dongle_step(&dongle, t, &ev);
	}
}

Test(api, firmware_update_through_the_api)
{
	struct sc_http_request r = req_body("POST", "/api/v1/firmware", "{\"Version\":\"5.4.0\"}");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 202, "%s", rs.body);
	cr_assert(ctx.firmware_started);
	cJSON *j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "State"), "downloading");
	cr_assert_str_eq(str_at(j, "Target"), "5.4.0");
	cr_assert_str_eq(str_at(j, "Version"), "5.3.0");
	cr_assert_eq(num_at(j, "Progress"), 0);
	cJSON_Delete(j);
	sc_http_response_free(&rs);
	cr_assert_eq(dongle.fw.state, SC_FW_DOWNLOADING);

	/* Progress on the device clock. */
	ctx.now_ms = T0 + 10000;
	r = req("GET", "/api/v1/firmware");
	handle(&r, &rs);
	j = json_of(&rs);
	cr_assert_eq(num_at(j, "Progress"), 50);
	cJSON_Delete(j);
	sc_http_response_free(&rs);

	/* While it runs, another is refused. */
	r = req_body("POST", "/api/v1/firmware", "{\"Version\":\"5.5.0\"}");
	handle(&r, &rs);
	assert_error(&rs, 409, NULL);
	cr_assert_not(ctx.firmware_started);
	sc_http_response_free(&rs);
	cr_assert_eq(dongle.fw.state, SC_FW_DOWNLOADING);

	/* Installed at 28 s, the device restarts and the API is away. */
	drive(T0, T0 + 28000);
	cr_assert_eq(dongle.phase, SC_PHASE_POWER_UP);
	ctx.now_ms = T0 + 28500;
	r = req("GET", "/api/v1/firmware");
	handle(&r, &rs);
	cr_assert_eq(rs.status, 503);
	cr_assert_gt(rs.retry_after_s, 0);
	sc_http_response_free(&rs);

	drive(T0 + 28100, T0 + 34000);
	cr_assert(sc_dongle_services_on(&dongle));
	ctx.now_ms = T0 + 34000;
	r = req("GET", "/api/v1/firmware");
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "Version"), "5.4.0");
	cr_assert_str_eq(str_at(j, "State"), "idle");
	cr_assert_str_eq(str_at(j, "LastUpdate.From"), "5.3.0");
	cr_assert_str_eq(str_at(j, "LastUpdate.To"), "5.4.0");
	cr_assert_str_eq(str_at(j, "LastUpdate.Result"), "success");
	cr_assert_eq(num_at(j, "LastUpdate.At"), (double)((T0 + 29000) / 1000), "booted at 29 s");
	cJSON_Delete(j);
	sc_http_response_free(&rs);

	/* A downgrade below 5.1 serves kWh. */
	r = req_body("POST", "/api/v1/firmware", "{\"Version\":\"5.0.2\"}");
	cr_assert_eq(status_of(&r), 202);
	drive(T0 + 34000, T0 + 70000);
	ctx.now_ms = T0 + 70000;
	r = req("GET", "/api/v1/firmware");
	handle(&r, &rs);
	j = json_of(&rs);
	cr_assert_str_eq(str_at(j, "Version"), "5.0.2");
	cr_assert_str_eq(str_at(j, "EnergyUnit"), "kWh");
	cJSON_Delete(j);
	sc_http_response_free(&rs);
}

Test(api, firmware_refusals)
{
	static const struct {
		const char *body;
		int status;
		const char *field;
	} cases[] = {
		{"{", 400, NULL},
		{"", 400, NULL},
		{"[]", 400, NULL},
		{"\"5.4.0\"", 400, NULL},
		{"{}", 400, "Version"},
		{"{\"Version\":\"5.4.0\",\"Force\":true}", 400, "Force"},
		{"{\"version\":\"5.4.0\"}", 400, "version"},
		{"{\"Version\":\"5.x\"}", 400, "Version"},
		{"{\"Version\":\"5.4.0.1\"}", 400, "Version"},
		{"{\"Version\":\"\"}", 400, "Version"},
		{"{\"Version\":5}", 400, "Version"},
		{"{\"Version\":null}", 400, "Version"},
		{"{\"Version\":\"5.3.0\"}", 409, NULL}, /* already installed */
		{"{\"Version\":\"5.3\"}", 409, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_http_request r = req_body("POST", "/api/v1/firmware", cases[i].body);
		struct sc_http_response rs;
		handle(&r, &rs);
		assert_error(&rs, cases[i].status, cases[i].field);
		cr_assert_not(ctx.firmware_started, "case %zu", i);
		cr_assert_eq(dongle.fw.state, SC_FW_IDLE, "case %zu", i);
		sc_http_response_free(&rs);
	}
}

/* ---- reset ---- */

Test(api, reset)
{
	struct sc_http_request r = req("POST", "/api/v1/reset");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 202);
	cr_assert(ctx.want_soft_reset, "the caller soft-resets after the response");
	cJSON *j = json_of(&rs);
	cJSON_Delete(j);
	sc_http_response_free(&rs);
	/* The handler itself leaves the dongle to the caller. */
	cr_assert(sc_dongle_has_address(&dongle));
	r = req("GET", "/api/v1/reset");
	handle(&r, &rs);
	cr_assert_eq(rs.status, 405);
	cr_assert_not(ctx.want_soft_reset);
	sc_http_response_free(&rs);
}

/* ---- the raw telegram ---- */

Test(api, telegram_as_received)
{
	struct sc_http_request r = req("GET", "/api/v1/telegram");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_str_eq(rs.content_type, "application/octet-stream");
	/* The generator's bytes: '/' .. CRC plus the CR LF ending the line. */
	cr_assert_eq(rs.len, dev.last_raw_len + 2);
	cr_assert_eq(rs.len, tg_last_len);
	cr_assert(memcmp(rs.body, tg_last, tg_last_len) == 0);
	cr_assert_eq(rs.body[rs.len - 2], '\r');
	cr_assert_eq(rs.body[rs.len - 1], '\n');
	sc_http_response_free(&rs);
}

/* A telegram the device rejected is served too, bytes as they came. */
static void fed_one(enum sc_p1_fault fault, char *buf, size_t cap, size_t *len)
{
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV_EV, 3, 5, 1751360400, 0, 0};
	struct sc_p1_gen_opts go = {SC_FLAVOUR_DSMR50, fault, 7};
	sc_meter_init(&m, &mc);
	int k = sc_p1_gen(&m, &go, buf, cap, NULL);
	cr_assert_gt(k, 0);
	*len = (size_t)k;
	sc_device_feed(&dev, buf, *len, T0);
	sc_device_input_end(&dev, T0);
}

Test(api_empty, telegram_with_a_bad_crc_as_received)
{
	setup_with(SC_PROTO_P1, false);
	static char buf[SC_P1_GEN_MAX];
	size_t len;
	fed_one(SC_P1_FAULT_BAD_CRC, buf, sizeof buf, &len);
	cr_assert_eq(dev.counters.telegrams_fail, 1);
	struct sc_http_request r = req("GET", "/api/v1/telegram");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(rs.len, len);
	cr_assert(memcmp(rs.body, buf, len) == 0);
	sc_http_response_free(&rs);
}

Test(api_empty, telegram_cut_short_as_received)
{
	/* The input ended inside a telegram: no "!CRC" line came, so no line
	 * end either; nothing is added to what came. */
	setup_with(SC_PROTO_P1, false);
	static char buf[SC_P1_GEN_MAX];
	size_t len;
	fed_one(SC_P1_FAULT_TRUNCATED, buf, sizeof buf, &len);
	cr_assert_eq(dev.counters.telegrams_frame_fail, 1);
	cr_assert_eq(dev.last_raw_len, len);
	struct sc_http_request r = req("GET", "/api/v1/telegram");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(rs.len, len, "%zu bytes served, %zu came", rs.len, len);
	cr_assert(memcmp(rs.body, buf, len) == 0);
	sc_http_response_free(&rs);
}

Test(api_empty, telegram_before_any)
{
	setup_with(SC_PROTO_P1, false);
	struct sc_http_request r = req("GET", "/api/v1/telegram");
	struct sc_http_response rs;
	handle(&r, &rs);
	assert_error(&rs, 404, NULL);
	sc_http_response_free(&rs);
}

Test(api_empty, telegram_tic_bytes_intact)
{
	setup_with(SC_PROTO_TIC, false);
	static char buf[SC_TIC_GEN_MAX];
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV, 1, 2, 1751371200, 0, 0};
	struct sc_tic_gen_opts to = {true, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, SC_TIC_TOTAL_SUM};
	sc_meter_init(&m, &mc);
	int n = sc_tic_gen(&m, &to, buf, sizeof buf, NULL);
	cr_assert_gt(n, 0);
	sc_device_feed(&dev, buf, (size_t)n, T0);
	cr_assert_eq(dev.counters.telegrams_pass, 1);
	struct sc_http_request r = req("GET", "/api/v1/telegram");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(rs.len, dev.last_raw_len, "no line end added to a TIC frame");
	cr_assert(memcmp(rs.body, dev.last_raw, rs.len) == 0);
	sc_http_response_free(&rs);
}

/* ---- methods and paths ---- */

Test(api, wrong_methods)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{"DELETE", "/api/v1/config", "GET, PATCH"},
		{"POST", "/api/v1/config", "GET, PATCH"},
		{"PUT", "/api/v1/config", "GET, PATCH"},    {"POST", "/api/v1/status", "GET"},
		{"PATCH", "/api/v1/firmware", "GET, POST"},
		{"DELETE", "/api/v1/firmware", "GET, POST"},
		{"GET", "/api/v1/reset", "POST"},	    {"PUT", "/api/v1/reset", "POST"},
		{"POST", "/api/v1/telegram", "GET"},	    {"POST", "/", "GET"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_http_request r = req_body(cases[i].method, cases[i].path, "{}");
		struct sc_http_response rs;
		handle(&r, &rs);
		assert_error(&rs, 405, NULL);
		cr_assert_str_eq(rs.allow, cases[i].allow, "%s %s", cases[i].method, cases[i].path);
		sc_http_response_free(&rs);
		cr_assert_not(ctx.want_soft_reset);
		cr_assert_not(ctx.firmware_started);
	}
	cr_assert_eq(saver.calls, 0);
}

Test(api, unknown_paths)
{
	const char *paths[] = {"/api/v1/nothing", "/api/v2/config", "/api/", "/api/v1/",
			       "/nothing", "/api"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct sc_http_request r = req("GET", paths[i]);
		struct sc_http_response rs;
		handle(&r, &rs);
		assert_error(&rs, 404, NULL);
		cr_assert_str_eq(rs.allow, "");
		sc_http_response_free(&rs);
	}
}

Test(api, the_page_over_https)
{
	const char *methods[] = {"GET", "HEAD"};
	for (size_t i = 0; i < 2; i++) {
		struct sc_http_request r = req(methods[i], "/");
		struct sc_http_response rs;
		handle(&r, &rs);
		cr_assert_eq(rs.status, 200);
		cr_assert(strncmp(rs.content_type, "text/html", 9) == 0);
		cr_assert_eq(rs.len, sc_web_index_html_len);
		cr_assert(memcmp(rs.body, sc_web_index_html, rs.len) == 0);
		sc_http_response_free(&rs);
	}
	struct sc_http_request r = req("GET", "/index.html");
	cr_assert_eq(status_of(&r), 200);
}

/* The manual's troubleshooting section (§7) sends the user to /config. */
Test(api, the_page_at_config)
{
	const char *methods[] = {"GET", "HEAD"};
	for (size_t i = 0; i < 2; i++) {
		struct sc_http_request r = req(methods[i], "/config");
		struct sc_http_response rs;
		handle(&r, &rs);
		cr_assert_eq(rs.status, 200);
		cr_assert(strncmp(rs.content_type, "text/html", 9) == 0);
		cr_assert_eq(rs.len, sc_web_index_html_len);
		cr_assert(memcmp(rs.body, sc_web_index_html, rs.len) == 0);
		sc_http_response_free(&rs);
	}
	struct sc_http_request r = req("POST", "/config");
	cr_assert_eq(status_of(&r), 405);
	r = req("GET", "/config");
	r.authorization = NULL;
	cr_assert_eq(status_of(&r), 401, "the page at /config asks for the login as / does");
	r = req("GET", "/config/");
	cr_assert_eq(status_of(&r), 404);
	r = req("GET", "/configuration");
	cr_assert_eq(status_of(&r), 404);
}

/* ---- plain HTTP ---- */

static struct sc_http_request plain(const char *method, const char *path, const char *host)
{
	struct sc_http_request r = req(method, path);
	r.tls = false;
	r.host = host;
	r.authorization = NULL;
	return r;
}

Test(api, plain_http_landing_page)
{
	static const struct {
		const char *host, *link;
	} cases[] = {
		{"192.168.1.100:8080", "https://192.168.1.100:8443/"},
		{"192.168.1.100", "https://192.168.1.100:8443/"},
		{"smart-connect.local", "https://smart-connect.local:8443/"},
		{"smart-connect:80", "https://smart-connect:8443/"},
		/* Not the device's (it has no IPv6; a name it does not have):
		 * the address the connection came in on. */
		{"[::1]:8080", "https://192.168.1.100:8443/"},
		{"evil.example", "https://192.168.1.100:8443/"},
		{"10.0.0.9:80", "https://192.168.1.100:8443/"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_http_request r = plain("GET", "/", cases[i].host);
		struct sc_http_response rs;
		handle(&r, &rs);
		cr_assert_eq(rs.status, 200, "no credentials needed for the landing page");
		cr_assert(strncmp(rs.content_type, "text/html", 9) == 0);
		char want[128];
		snprintf(want, sizeof want, "href=\"%s\"", cases[i].link);
		cr_assert(strstr(rs.body, want), "host %s: %s", cases[i].host, rs.body);
		cr_assert_not(rs.www_authenticate);
		sc_http_response_free(&rs);
	}
	/* No Host header: a link all the same. */
	struct sc_http_request r = plain("GET", "/", NULL);
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert(strstr(rs.body, "href=\"https://"));
	cr_assert(strstr(rs.body, ":8443/\""));
	sc_http_response_free(&rs);
}

Test(api, plain_http_landing_page_at_config)
{
	struct sc_http_request r = plain("GET", "/config", "192.168.1.100:8080");
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200, "/config over plain HTTP is the landing page, as / is");
	cr_assert(strncmp(rs.content_type, "text/html", 9) == 0);
	cr_assert(strstr(rs.body, "href=\"https://192.168.1.100:8443/config\""), "%s", rs.body);
	cr_assert_eq(rs.location[0], '\0');
	sc_http_response_free(&rs);
	/* In a fleet, under the device's directory. */
	r.base = "/devices/E8DB84000001";
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert(strstr(rs.body, "href=\"https://192.168.1.100:8443/devices/E8DB84000001/config\""),
		  "%s", rs.body);
	sc_http_response_free(&rs);
}

Test(api, plain_http_redirects_everything_else)
{
	static const struct {
		const char *method, *path;
	} cases[] = {
		{"GET", "/api/v1/status"}, {"PATCH", "/api/v1/config"}, {"POST", "/api/v1/reset"},
		{"GET", "/index.html"},	   {"GET", "/nothing"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_http_request r =
			plain(cases[i].method, cases[i].path, "192.168.1.100:8080");
		r.authorization = good_auth(); /* credentials do not open plain HTTP */
		struct sc_http_response rs;
		handle(&r, &rs);
		cr_assert_eq(rs.status, 308, "%s %s", cases[i].method, cases[i].path);
		char want[128];
		snprintf(want, sizeof want, "https://192.168.1.100:8443%s", cases[i].path);
		cr_assert_str_eq(rs.location, want);
		sc_http_response_free(&rs);
		cr_assert_not(ctx.want_soft_reset, "nothing is done over plain HTTP");
	}
	cr_assert_eq(saver.calls, 0);
}

/* ---- requests a page elsewhere makes a browser send ---- */

Test(api, cross_site_requests_refused)
{
	snprintf(api.serial, sizeof api.serial, "E8DB84000001");
	snprintf(api.hostname, sizeof api.hostname, "bench-7");
	/* Host: the device's names and addresses only (DNS rebinding). */
	static const char *const own[] = {
		"192.168.1.100", "192.168.1.100:8443", "127.0.0.1:443", "localhost", "LOCALHOST:8443",
		"smart-connect", "smart-connect.local", "smart-connect.local.", "smart-connect-E8DB84000001",
		"smart-connect-e8db84000001.local:443", "bench-7", "bench-7.local",
	};
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
		struct sc_http_request r = req("GET", "/api/v1/status");
		r.host = own[i];
		cr_assert_eq(status_of(&r), 200, "%s", own[i]);
	}
	/* An address not the device's own (a NAT, a container's published
	 * port) is no rebinding, which takes a name. */
	static const char *const addresses[] = {"192.168.1.101", "10.0.0.5:8443"};
	for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
		struct sc_http_request r = req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"x\"}}");
		r.host = addresses[i];
		cr_assert_eq(status_of(&r), 200, "%s", addresses[i]);
	}
	static const char *const foreign[] = {
		"evil.example", "evil.example:8443", "192.168.1.101.evil.example", "smart-connect.local.evil.example",
		"smart-connect-E8DB84000002", "localhost:", "localhost:8443x", "[::1]:8443", "",
		"localhost@evil.example",
	};
	for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
		struct sc_http_request r = req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"x\"}}");
		r.host = foreign[i];
		cr_assert_eq(status_of(&r), 421, "%s", foreign[i]);
	}
	/* Origin: this device's scheme, name and port only. */
	static const struct {
		const char *host, *origin;
		int status;
	} origins[] = {
		{"192.168.1.100:8443", "https://192.168.1.100:8443", 202},
		{"smart-connect.local", "https://smart-connect.local", 202},
		{"smart-connect.local", "https://smart-connect.local:443", 202},
		{"smart-connect.local:443", "https://SMART-CONNECT.local", 202},
		{"192.168.1.100:8443", "http://192.168.1.100:8443", 403},
		{"192.168.1.100:8443", "https://192.168.1.100:8444", 403},
		{"192.168.1.100:8443", "https://evil.example", 403},
		{"192.168.1.100:8443", "null", 403},
		{"192.168.1.100:8443", "", 403},
	};
	for (size_t i = 0; i < sizeof origins / sizeof origins[0]; i++) {
		struct sc_http_request r = req("POST", "/api/v1/reset");
		r.host = origins[i].host;
		r.origin = origins[i].origin;
		cr_assert_eq(status_of(&r), origins[i].status, "%s from %s", origins[i].host,
			     origins[i].origin);
		cr_assert_eq(ctx.want_soft_reset, origins[i].status == 202);
	}
	/* A body on a state change: JSON only. */
	static const struct {
		const char *type;
		int status;
	} types[] = {
		{"application/json", 200},		     {"application/json; charset=utf-8", 200},
		{"Application/JSON", 200},		     {NULL, 415},
		{"text/plain", 415},			     {"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415}, {"application/jsonp", 415},
		{"application/octet-stream", 415},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		struct sc_http_request r = req_body("PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"t\"}}");
		r.content_type = types[i].type;
		cr_assert_eq(status_of(&r), types[i].status, "%s", types[i].type ? types[i].type : "none");
	}
	api.serial[0] = api.hostname[0] = '\0';
}

Test(api, plain_http_api_when_allowed)
{
	api.plain_http_api = true;
	struct sc_http_request r = plain("GET", "/api/v1/status", "192.168.1.100:8080");
	cr_assert_eq(status_of(&r), 401, "the API still wants credentials");
	r.authorization = good_auth();
	struct sc_http_response rs;
	handle(&r, &rs);
	cr_assert_eq(rs.status, 200);
	cr_assert_str_eq(rs.location, "");
	sc_http_response_free(&rs);
	/* The page too, at / and at /config alike. */
	const char *paths[] = {"/", "/config"};
	for (size_t i = 0; i < 2; i++) {
		r = plain("GET", paths[i], "192.168.1.100:8080");
		r.authorization = good_auth();
		handle(&r, &rs);
		cr_assert_eq(rs.status, 200, "%s", paths[i]);
		cr_assert_eq(rs.len, sc_web_index_html_len, "%s", paths[i]);
		sc_http_response_free(&rs);
	}
}

/* ---- while the device restarts ---- */

Test(api, unavailable_while_restarting)
{
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_dongle_restart(&dongle, T0, &ev);
	struct sc_config before = dongle.saved;
	static const struct {
		const char *method, *path, *body;
	} cases[] = {
		{"GET", "/api/v1/status", ""},	      {"GET", "/api/v1/config", ""},
		{"PATCH", "/api/v1/config", "{\"MQTT\":{\"Site\":\"x\"}}"},
		{"GET", "/api/v1/firmware", ""},
		{"POST", "/api/v1/firmware", "{\"Version\":\"5.4.0\"}"},
		{"POST", "/api/v1/reset", ""},	      {"GET", "/api/v1/telegram", ""},
	};
	const int64_t times[] = {T0, T0 + 999, T0 + 1000, T0 + 4999};
	for (size_t k = 0; k < sizeof times / sizeof times[0]; k++) {
		ctx.now_ms = times[k];
		sc_dongle_step(&dongle, times[k], &ev);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			struct sc_http_request r =
				req_body(cases[i].method, cases[i].path, cases[i].body);
			struct sc_http_response rs;
			handle(&r, &rs);
			assert_error(&rs, 503, NULL);
			cr_assert_gt(rs.retry_after_s, 0, "%s", cases[i].path);
			sc_http_response_free(&rs);
			cr_assert_not(ctx.want_soft_reset);
			cr_assert_not(ctx.firmware_started);
		}
	}
	cr_assert_eq(saver.calls, 0);
	cr_assert(memcmp(&before, &dongle.saved, sizeof before) == 0);
	/* Running again at 5 s. */
	ctx.now_ms = T0 + 5000;
	sc_dongle_step(&dongle, T0 + 5000, &ev);
	struct sc_http_request r = req("GET", "/api/v1/status");
	cr_assert_eq(status_of(&r), 200);
}
