/* sc-ctl: drive a running sc-sim through its control API (/sim/v1, see
 * sim/twin/control.h) from a shell or a test script.
 *
 *   sc-ctl state                          the whole state as JSON
 *   sc-ctl get Status.System.Led.State    one value of it
 *   sc-ctl button 5.1                     press for 5.1 s of device time
 *   sc-ctl meter out                      pull the meter cable
 *   sc-ctl network dhcp-server=off internet=off
 *   sc-ctl broker down
 *   sc-ctl telegram capture.p1
 *   sc-ctl source gen:dsmr42 --phases 1
 *   sc-ctl speed 20
 *   sc-ctl power cycle
 *   sc-ctl set P=9000 l1.U=231         hold meter values by hand
 *   sc-ctl set --profile               back to the generated day
 *   sc-ctl ramp P 0 11000 30           a load step over 30 s of device time */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_at.h"
#include "meter.h"

#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

/* usage(FILE *): the text of man/help/sc-ctl.txt, generated at build time. */
#include "help/sc-ctl.h"

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t k = size * n;
	char *p = realloc(b->p, b->n + k + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, d, k);
	b->p = p;
	b->n += k;
	b->p[b->n] = '\0';
	return k;
}

/* One request; the answer's body in *out (malloc'd). Returns the HTTP
 * status, or -1 when the server cannot be reached. */
static long request(const char *base, const char *method, const char *path, const char *body,
		    size_t len, const char *type, char **out)
{
	char url[1024];
	snprintf(url, sizeof url, "%s%s", base, path);
	CURL *c = curl_easy_init();
	struct buf b = {NULL, 0};
	struct curl_slist *h = NULL;
	long status = -1;
	if (!c)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	/* The device's certificate is its own, self-signed. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (body) {
		h = curl_slist_append(h, type);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "sc-ctl: %s: %s\n", url, curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	*out = b.p ? b.p : strdup("");
	return status;
}

static int post_json(const char *base, const char *path, cJSON *doc)
{
	char *body = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	char *out;
	long st = request(base, "POST", path, body, strlen(body), "Content-Type: application/json",
			  &out);
	free(body);
	if (st < 0) {
		free(out);
		return EXIT_UNREACHABLE;
	}
	puts(out);
	free(out);
	return st >= 200 && st < 300 ? 0 : 1;
}

static int read_all(const char *path, char **data, size_t *len);

/* A request of the meter set by hand: a refusal is a usage error (the
 * value cannot be set), told on stderr as sc-sim words it. */
static int post_set(const char *base, cJSON *doc)
{
	char *body = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	char *out;
	long st = request(base, "POST", "/sim/v1/meter", body, strlen(body),
			  "Content-Type: application/json", &out);
	free(body);
	if (st < 0) {
		free(out);
		return EXIT_UNREACHABLE;
	}
	int rc = 0;
	if (st >= 200 && st < 300) {
		puts(out);
	} else {
		cJSON *a = cJSON_Parse(out);
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "reason");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(a, "error");
		fprintf(stderr, "sc-ctl: %s\n", cJSON_IsString(r) ? r->valuestring
						   : cJSON_IsString(e) ? e->valuestring : out);
		cJSON_Delete(a);
		rc = st == 400 ? EXIT_USAGE : 1;
	}
	free(out);
	return rc;
}

/* A number as the meter takes it: all of the text, finite. */
static bool number_arg(const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* The key of KEY=VALUE, or a message on stderr and -1. */
static int key_arg(const char *name)
{
	int k = sc_meter_key_from_name(name);
	if (k < 0) {
		fprintf(stderr, "sc-ctl: %s: unknown key (", name);
		for (int i = 0; i < SC_MK_COUNT; i++)
			fprintf(stderr, "%s%s", i ? ", " : "", sc_meter_key_name((enum sc_meter_key)i));
		fprintf(stderr, ")\n");
	}
	return k;
}

static int cmd_set(const char *base, int n, char **a)
{
	cJSON *o = cJSON_CreateObject();
	if (n == 1 && strcmp(a[0], "--profile") == 0) {
		cJSON_AddBoolToObject(o, "Profile", 1);
		return post_set(base, o);
	}
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(a[i], '=');
		char name[32];
		double v;
		if (!eq || (size_t)(eq - a[i]) >= sizeof name) {
			fprintf(stderr, "sc-ctl: set: '%s' is not KEY=VALUE\n", a[i]);
			cJSON_Delete(o);
			return EXIT_USAGE;
		}
		snprintf(name, sizeof name, "%.*s", (int)(eq - a[i]), a[i]);
		if (key_arg(name) < 0) {
			cJSON_Delete(o);
			return EXIT_USAGE;
		}
		if (!number_arg(eq + 1, &v)) {
			fprintf(stderr, "sc-ctl: %s: '%s' is not a number\n", name, eq + 1);
			cJSON_Delete(o);
			return EXIT_USAGE;
		}
		if (cJSON_GetObjectItemCaseSensitive(o, name)) {
			fprintf(stderr, "sc-ctl: %s: given twice\n", name);
			cJSON_Delete(o);
			return EXIT_USAGE;
		}
		cJSON_AddNumberToObject(o, name, v);
	}
	return post_set(base, o);
}

static int cmd_ramp(const char *base, char **a)
{
	double from, to, secs;
	if (key_arg(a[0]) < 0)
		return EXIT_USAGE;
	const char *what[] = {"FROM", "TO", "SECONDS"};
	double *dst[] = {&from, &to, &secs};
	for (int i = 0; i < 3; i++) {
		if (!number_arg(a[1 + i], dst[i])) {
			fprintf(stderr, "sc-ctl: ramp %s: %s '%s' is not a number\n", a[0], what[i],
				a[1 + i]);
			return EXIT_USAGE;
		}
	}
	cJSON *o = cJSON_CreateObject();
	cJSON *r = cJSON_AddObjectToObject(o, "Ramp");
	cJSON_AddStringToObject(r, "Key", a[0]);
	cJSON_AddNumberToObject(r, "From", from);
	cJSON_AddNumberToObject(r, "To", to);
	cJSON_AddNumberToObject(r, "Seconds", secs);
	return post_set(base, o);
}

/* The device's verdict on the bytes fed: printed (the answer on stdout, a
 * rejection's reason on stderr); 0 only when every telegram was accepted. */
static int cmd_telegram(const char *base, const char *path)
{
	char *data, *out;
	size_t len;
	if (read_all(path, &data, &len) != 0)
		return EXIT_USAGE;
	if (len == 0) {
		fprintf(stderr, "sc-ctl: %s: empty: no meter bytes to feed\n", path);
		free(data);
		return EXIT_USAGE;
	}
	long st = request(base, "POST", "/sim/v1/telegram", data, len,
			  "Content-Type: application/octet-stream", &out);
	free(data);
	if (st < 0) {
		free(out);
		return EXIT_UNREACHABLE;
	}
	puts(out);
	int rc = 1;
	cJSON *a = cJSON_Parse(out);
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(a, "Result");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(a, "Reason");
	const cJSON *detail = cJSON_GetObjectItemCaseSensitive(a, "Detail");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(a, "Offset");
	if (st == 200 && cJSON_IsString(res) && strcmp(res->valuestring, "accepted") == 0) {
		rc = 0;
	} else if (cJSON_IsString(res)) {
		fprintf(stderr, "sc-ctl: telegram %s", res->valuestring);
		if (cJSON_IsString(reason))
			fprintf(stderr, ": %s", reason->valuestring);
		if (cJSON_IsString(detail) && detail->valuestring[0])
			fprintf(stderr, ": %s", detail->valuestring);
		if (cJSON_IsNumber(off))
			fprintf(stderr, " (at byte %.0f of the telegram)", off->valuedouble);
		fputc('\n', stderr);
	}
	cJSON_Delete(a);
	free(out);
	return rc;
}

static int read_all(const char *path, char **data, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "sc-ctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 65536, n = 0, r;
	char *p = malloc(cap);
	while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *q = realloc(p, cap * 2);
			if (!q) {
				free(p);
				p = NULL;
				break;
			}
			p = q;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!p)
		return -1;
	*data = p;
	*len = n;
	return 0;
}

static int onoff(const char *v)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "in") == 0 || strcmp(v, "up") == 0 ||
	    strcmp(v, "true") == 0)
		return 1;
	if (strcmp(v, "off") == 0 || strcmp(v, "out") == 0 || strcmp(v, "down") == 0 ||
	    strcmp(v, "false") == 0)
		return 0;
	return -1;
}

static int cmd_get(const char *base, const char *path)
{
	char *out;
	long st = request(base, "GET", "/sim/v1/state", NULL, 0, NULL, &out);
	if (st < 0) {
		free(out);
		return EXIT_UNREACHABLE;
	}
	if (st != 200) {
		puts(out);
		free(out);
		return 1;
	}
	cJSON *root = cJSON_Parse(out);
	free(out);
	if (!root) {
		fprintf(stderr, "sc-ctl: the state is not JSON\n");
		return 1;
	}
	if (!path) {
		char *text = cJSON_Print(root);
		puts(text);
		free(text);
		cJSON_Delete(root);
		return 0;
	}
	/* Dotted path: Status.System.Led.State */
	const cJSON *v = sc_json_at(root, path);
	int rc = 0;
	if (!v) {
		fprintf(stderr, "sc-ctl: no %s in the state\n", path);
		rc = 1;
	} else if (cJSON_IsString(v)) {
		puts(v->valuestring);
	} else {
		char *text = cJSON_PrintUnformatted(v);
		puts(text);
		free(text);
	}
	cJSON_Delete(root);
	return rc;
}

int main(int argc, char **argv)
{
	const char *base = getenv("SC_CTL_URL");
	if (!base || !*base)
		base = "http://127.0.0.1:8080";
	int i = 1;
	if (i < argc && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (i + 1 < argc && strcmp(argv[i], "--url") == 0) {
		base = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *cmd = argv[i++];
	int left = argc - i;
	char **a = argv + i;
	int rc = EXIT_USAGE;
	cJSON *o = cJSON_CreateObject();
	if (strcmp(cmd, "state") == 0 && left == 0) {
		rc = cmd_get(base, NULL);
	} else if (strcmp(cmd, "get") == 0 && left == 1) {
		rc = cmd_get(base, a[0]);
	} else if (strcmp(cmd, "telegram") == 0 && left == 1) {
		rc = cmd_telegram(base, a[0]);
	} else if (strcmp(cmd, "set") == 0 && left >= 1) {
		rc = cmd_set(base, left, a);
	} else if (strcmp(cmd, "ramp") == 0 && left == 4) {
		rc = cmd_ramp(base, a);
	} else if (strcmp(cmd, "source") == 0 && left >= 1) {
		cJSON_AddStringToObject(o, "Source", a[0]);
		bool good = true;
		for (int k = 1; k < left && good; k++) {
			if (strcmp(a[k], "--producer") == 0)
				cJSON_AddBoolToObject(o, "Producer", 1);
			else if (strcmp(a[k], "--loop") == 0)
				cJSON_AddBoolToObject(o, "Loop", 1);
			else if (k + 1 < left && strcmp(a[k], "--phases") == 0)
				cJSON_AddNumberToObject(o, "Phases", atof(a[++k]));
			else if (k + 1 < left && strcmp(a[k], "--seed") == 0)
				cJSON_AddNumberToObject(o, "Seed", atof(a[++k]));
			else if (k + 1 < left && strcmp(a[k], "--calendar") == 0)
				cJSON_AddStringToObject(o, "Calendar", a[++k]);
			else if (k + 1 < left && strcmp(a[k], "--tic-total") == 0)
				cJSON_AddStringToObject(o, "TicTotal", a[++k]);
			else
				good = false;
		}
		if (good) {
			rc = post_json(base, "/sim/v1/source", o);
			o = NULL;
		}
	} else if (strcmp(cmd, "button") == 0 && left == 1) {
		char *end;
		double s = strtod(a[0], &end);
		if (strcmp(a[0], "down") == 0 || strcmp(a[0], "up") == 0)
			cJSON_AddStringToObject(o, "Action", a[0]);
		else if (*end == '\0' && end != a[0])
			cJSON_AddNumberToObject(o, "Seconds", s);
		else
			goto usage_error;
		rc = post_json(base, "/sim/v1/button", o);
		o = NULL;
	} else if (strcmp(cmd, "meter") == 0 && left == 1 && onoff(a[0]) >= 0) {
		cJSON_AddStringToObject(o, "Cable", onoff(a[0]) ? "in" : "out");
		rc = post_json(base, "/sim/v1/meter", o);
		o = NULL;
	} else if (strcmp(cmd, "network") == 0 && left >= 1) {
		static const struct {
			const char *arg, *field;
		} keys[] = {{"ethernet-cable", "EthernetCable"}, {"wifi", "WifiInRange"},
			    {"dhcp-server", "DhcpServer"}, {"gateway", "Gateway"},
			    {"internet", "Internet"}};
		for (int k = 0; k < left; k++) {
			const char *eq = strchr(a[k], '=');
			int v = eq ? onoff(eq + 1) : -1;
			const char *field = NULL;
			for (size_t j = 0; eq && j < sizeof keys / sizeof keys[0]; j++)
				if (strlen(keys[j].arg) == (size_t)(eq - a[k]) &&
				    strncmp(a[k], keys[j].arg, (size_t)(eq - a[k])) == 0)
					field = keys[j].field;
			if (!field || v < 0)
				goto usage_error;
			cJSON_AddBoolToObject(o, field, v);
		}
		rc = post_json(base, "/sim/v1/network", o);
		o = NULL;
	} else if (strcmp(cmd, "broker") == 0 && left == 1 && onoff(a[0]) >= 0) {
		cJSON_AddBoolToObject(o, "Reachable", onoff(a[0]));
		rc = post_json(base, "/sim/v1/broker", o);
		o = NULL;
	} else if (strcmp(cmd, "power") == 0 && left == 1 && strcmp(a[0], "cycle") == 0) {
		cJSON_AddStringToObject(o, "Action", "cycle");
		rc = post_json(base, "/sim/v1/power", o);
		o = NULL;
	} else if (strcmp(cmd, "speed") == 0 && left == 1) {
		char *end;
		double s = strtod(a[0], &end);
		if (*end || end == a[0])
			goto usage_error;
		cJSON_AddNumberToObject(o, "Speed", s);
		rc = post_json(base, "/sim/v1/clock", o);
		o = NULL;
	} else {
	usage_error:
		fprintf(stderr, "sc-ctl: '%s' with these arguments is not a command\n", cmd);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	cJSON_Delete(o);
	curl_global_cleanup();
	return rc;
}
