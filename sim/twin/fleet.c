/* A fleet of twins on one loop (fleet.h): starting and numbering the
 * devices, the fleet's HTTP server (/devices/SERIAL/ through the router,
 * /fleet/v1), and the fleet's figures. */
#include "fleet.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "mqtt.h"
#include "resolver.h"
#include "router.h"
#include "sc_error.h"
#include "tls_check.h"

struct sc_fleet {
	struct sc_loop *loop;
	struct sc_fleet_opts o;
	int n;
	struct sc_twin **twins;
	struct sc_http *http, *https;
	char *cert_pem, *key_pem;
	int64_t started_ms;          /* monotonic, when the last device was up */
	double start_s;              /* how long starting every device took */
	/* The measurement window (POST /fleet/v1/window). */
	int64_t window_ms;
	uint64_t window_telegrams, window_sent, window_failed;
	double window_cpu;
};

struct totals {
	uint64_t telegrams, telegrams_failed, sent, failed;
	int mqtt[4], mqtt_off;
	int modbus_clients;
};

static void add_totals(struct sc_fleet *f, struct totals *t)
{
	memset(t, 0, sizeof *t);
	for (int i = 0; i < f->n; i++) {
		struct sc_diag d;
		sc_twin_diag(f->twins[i], &d);
		t->telegrams += d.telegrams_pass;
		t->telegrams_failed += d.telegrams_fail;
		t->sent += d.mqtt_send_pass;
		t->failed += d.mqtt_send_fail;
		int s = sc_twin_mqtt_state_code(f->twins[i]);
		if (s >= 0 && s < 4)
			t->mqtt[s]++;
		else
			t->mqtt_off++;
	}
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Resident set size in KiB (/proc/self/statm), 0 when unknown. */
static long rss_kib(void)
{
	FILE *fp = fopen("/proc/self/statm", "r");
	long size, resident = 0;
	if (!fp)
		return 0;
	if (fscanf(fp, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(fp);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void start_window(struct sc_fleet *f)
{
	struct totals t;
	add_totals(f, &t);
	struct sc_loop_lateness ignored;
	sc_loop_lateness(f->loop, &ignored, true);
	f->window_ms = sc_mono_ms();
	f->window_telegrams = t.telegrams;
	f->window_sent = t.sent;
	f->window_failed = t.failed;
	f->window_cpu = cpu_seconds();
}

char *sc_fleet_status_json(struct sc_fleet *f)
{
	struct totals t;
	add_totals(f, &t);
	struct sc_fleet_member first, last;
	sc_fleet_member(&f->o.plan, 0, &first);
	sc_fleet_member(&f->o.plan, f->n - 1, &last);
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "Devices", f->n);
	cJSON_AddNumberToObject(o, "Offset", (double)f->o.plan.offset);
	cJSON_AddStringToObject(o, "FirstSerial", first.serial);
	cJSON_AddStringToObject(o, "LastSerial", last.serial);
	cJSON_AddNumberToObject(o, "StartSeconds", f->start_s);
	cJSON *q = cJSON_AddObjectToObject(o, "MQTT");
	cJSON_AddNumberToObject(q, "Connected", t.mqtt[SC_MQTT_CONNECTED]);
	cJSON_AddNumberToObject(q, "Connecting", t.mqtt[SC_MQTT_CONNECTING]);
	cJSON_AddNumberToObject(q, "Waiting", t.mqtt[SC_MQTT_IDLE]);
	cJSON_AddNumberToObject(q, "Held", t.mqtt[SC_MQTT_HELD]);
	cJSON_AddNumberToObject(q, "Off", t.mqtt_off);
	cJSON_AddNumberToObject(q, "Sent", (double)t.sent);
	cJSON_AddNumberToObject(q, "Failed", (double)t.failed);
	struct sc_resolve_stats rs;
	sc_resolve_stats(&rs);
	cJSON_AddNumberToObject(q, "NameLookups", (double)rs.lookups);
	cJSON_AddNumberToObject(o, "Telegrams", (double)t.telegrams);
	cJSON_AddNumberToObject(o, "TelegramsFailed", (double)t.telegrams_failed);
	struct sc_loop_lateness late;
	sc_loop_lateness(f->loop, &late, false);
	double cpu = cpu_seconds();
	cJSON *w = cJSON_AddObjectToObject(o, "Window");
	cJSON_AddNumberToObject(w, "Seconds", (double)(sc_mono_ms() - f->window_ms) / 1000.0);
	cJSON_AddNumberToObject(w, "Telegrams", (double)(t.telegrams - f->window_telegrams));
	cJSON_AddNumberToObject(w, "MqttSent", (double)(t.sent - f->window_sent));
	cJSON_AddNumberToObject(w, "MqttFailed", (double)(t.failed - f->window_failed));
	cJSON_AddNumberToObject(w, "CpuSeconds", cpu - f->window_cpu);
	cJSON_AddNumberToObject(w, "TimersFired", (double)late.fired);
	cJSON_AddNumberToObject(w, "LateP50Ms", (double)sc_loop_lateness_quantile(&late, 0.5));
	cJSON_AddNumberToObject(w, "LateP99Ms", (double)sc_loop_lateness_quantile(&late, 0.99));
	cJSON_AddNumberToObject(w, "LateMaxMs", (double)late.max_ms);
	cJSON *p = cJSON_AddObjectToObject(o, "Process");
	cJSON_AddNumberToObject(p, "RssKiB", (double)rss_kib());
	cJSON_AddNumberToObject(p, "CpuSeconds", cpu);
	cJSON_AddNumberToObject(p, "Timers", sc_loop_timers(f->loop));
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static char *devices_json(struct sc_fleet *f)
{
	cJSON *a = cJSON_CreateArray();
	if (!a)
		return NULL;
	for (int i = 0; i < f->n; i++) {
		struct sc_twin *t = f->twins[i];
		cJSON *d = cJSON_CreateObject();
		if (!d)
			break;
		cJSON_AddItemToArray(a, d);
		char path[48];
		snprintf(path, sizeof path, "/devices/%s/", sc_twin_serial(t));
		cJSON_AddStringToObject(d, "Serial", sc_twin_serial(t));
		cJSON_AddNumberToObject(d, "Index", (double)(f->o.plan.offset + (uint64_t)i));
		cJSON_AddNumberToObject(d, "ModbusPort", sc_twin_modbus_port(t));
		cJSON_AddStringToObject(d, "MQTT", sc_twin_mqtt_state(t));
		cJSON_AddStringToObject(d, "Path", path);
	}
	char *text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return text;
}

static void reply(struct sc_http_response *rs, int status, char *json)
{
	rs->status = json ? status : 500;
	rs->content_type = "application/json";
	rs->body = json ? json : strdup("{\"error\":\"out of memory\"}");
	rs->len = rs->body ? strlen(rs->body) : 0;
}

static void fail(struct sc_http_response *rs, int status, const char *error, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	if (o) {
		cJSON_AddStringToObject(o, "error", error);
		cJSON_AddStringToObject(o, "reason", reason);
		text = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	reply(rs, status, text);
}

static bool is(const struct sc_http_request *rq, const char *method)
{
	return strcmp(rq->method, method) == 0 ||
	       (strcmp(method, "GET") == 0 && strcmp(rq->method, "HEAD") == 0);
}

static void fleet_api(struct sc_fleet *f, const struct sc_http_request *rq,
		      struct sc_http_response *rs)
{
	const char *p = rq->path;
	/* The fleet's own API drives the harness, as /sim/v1 does: it follows
	 * --control (auto: on only while every HTTP address is a loopback one). */
	if (!f->o.device.control) {
		fail(rs, 403, "the fleet API is off",
		     "start sc-sim with --control on to read /fleet/v1 from beyond loopback");
		return;
	}
	if (strcmp(p, "/") == 0 || strcmp(p, "/fleet/v1/status") == 0) {
		if (!is(rq, "GET")) {
			snprintf(rs->allow, sizeof rs->allow, "GET");
			fail(rs, 405, "method not allowed", "GET only");
			return;
		}
		reply(rs, 200, sc_fleet_status_json(f));
	} else if (strcmp(p, "/fleet/v1/devices") == 0) {
		if (!is(rq, "GET")) {
			snprintf(rs->allow, sizeof rs->allow, "GET");
			fail(rs, 405, "method not allowed", "GET only");
			return;
		}
		reply(rs, 200, devices_json(f));
	} else if (strcmp(p, "/fleet/v1/window") == 0) {
		if (!is(rq, "POST")) {
			snprintf(rs->allow, sizeof rs->allow, "POST");
			fail(rs, 405, "method not allowed", "POST starts a measurement window");
			return;
		}
		start_window(f);
		reply(rs, 200, sc_fleet_status_json(f));
	} else {
		fail(rs, 404, "not found", "the fleet serves /devices/SERIAL/..., /fleet/v1/status, "
					   "/fleet/v1/devices and /fleet/v1/window");
	}
}

static void on_http(void *arg, const struct sc_http_request *rq, struct sc_http_response *rs)
{
	struct sc_fleet *f = arg;
	memset(rs, 0, sizeof *rs);
	if (strncmp(rq->path, "/devices/", 9) != 0) {
		/* The fleet's own API: refused to a page elsewhere as /sim/v1 is
		 * (the fleet answers to the names and addresses its devices do). */
		if (f->n > 0 && sc_api_refuse_cross_site(sc_twin_api_of(f->twins[0]), rq, rs))
			return;
		fleet_api(f, rq, rs);
		return;
	}
	const char *sn = rq->path + 9;
	const char *rest = strchr(sn, '/');
	size_t len = rest ? (size_t)(rest - sn) : strlen(sn);
	char serial[16];
	int i = -1;
	if (len < sizeof serial) {
		memcpy(serial, sn, len);
		serial[len] = '\0';
		i = sc_fleet_find(&f->o.plan, serial);
	}
	if (i < 0) {
		char why[160];
		struct sc_fleet_member a, b;
		sc_fleet_member(&f->o.plan, 0, &a);
		sc_fleet_member(&f->o.plan, f->n - 1, &b);
		snprintf(why, sizeof why, "no such device in this fleet: its serials run from %s to %s",
			 a.serial, b.serial);
		fail(rs, 404, "not found", why);
		return;
	}
	char base[32];
	snprintf(base, sizeof base, "/devices/%s", serial);
	if (!rest) {
		/* The page's links are relative to the directory. */
		snprintf(rs->location, sizeof rs->location, "%s/", base);
		fail(rs, 308, "moved", rs->location);
		return;
	}
	struct sc_http_request sub = *rq;
	sub.path = rest;
	sub.base = base;
	sc_router_serve(f->twins[i], &sub, rs);
}

static int start_servers(struct sc_fleet *f, char *why, size_t cap)
{
	const struct sc_fleet_opts *o = &f->o;
	int err;
	if (o->https_addr) {
		const char *sans[] = {"DNS:smart-connect.local", "DNS:localhost", "IP:127.0.0.1"};
		char e[256];
		if (sc_tls_self_signed("smart-connect-fleet", sans, sizeof sans / sizeof sans[0], 3650,
				       &f->cert_pem, &f->key_pem, e, sizeof e) != 0) {
			snprintf(why, cap, "https: %s", e);
			return SC_ERR_IO;
		}
		struct sc_http_opts ho = {o->https_addr, o->https_port, true, f->cert_pem, f->key_pem};
		f->https = sc_http_start(f->loop, &ho, on_http, f, &err);
		if (!f->https) {
			snprintf(why, cap, "https: cannot listen on %s:%d: %s", o->https_addr,
				 o->https_port, strerror(err));
			return SC_ERR_IO;
		}
	}
	if (o->http_addr) {
		struct sc_http_opts ho = {o->http_addr, o->http_port, false, NULL, NULL};
		f->http = sc_http_start(f->loop, &ho, on_http, f, &err);
		if (!f->http) {
			snprintf(why, cap, "http: cannot listen on %s:%d: %s", o->http_addr,
				 o->http_port, strerror(err));
			return SC_ERR_IO;
		}
	}
	return SC_OK;
}

int sc_fleet_start(struct sc_loop *loop, struct sc_clock *clock, const struct sc_fleet_opts *o,
		   struct sc_fleet **out, char *why, size_t cap)
{
	char e[300];
	*out = NULL;
	if (sc_fleet_plan_check(&o->plan, e, sizeof e) != 0) {
		snprintf(why, cap, "fleet: %s", e);
		return SC_ERR_USAGE;
	}
	struct sc_fleet *f = calloc(1, sizeof *f);
	if (!f || !(f->twins = calloc((size_t)o->plan.devices, sizeof *f->twins))) {
		snprintf(why, cap, "out of memory");
		free(f);
		return SC_ERR_NOMEM;
	}
	f->loop = loop;
	f->o = *o;
	int64_t t0 = sc_mono_ms();
	int rc = start_servers(f, why, cap);
	if (rc != SC_OK)
		goto fail;
	struct sc_twin_opts d = o->device;
	d.http_addr = d.https_addr = NULL;
	d.https_port_shown = f->https ? sc_http_port(f->https) : 0;
	char dir[4096];
	/* The fleet's folder holds one folder per device; like a single device's
	 * --state-dir it is created when it does not exist yet (one level). */
	if (o->state_dir && mkdir(o->state_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, cap, "state: cannot create %s: %s", o->state_dir, strerror(errno));
		rc = SC_ERR_IO;
		goto fail;
	}
	for (int i = 0; i < o->plan.devices; i++) {
		struct sc_fleet_member m;
		sc_fleet_member(&o->plan, i, &m);
		snprintf(d.serial, sizeof d.serial, "%s", m.serial);
		d.modbus.port = m.modbus_port;
		d.seed = m.seed;
		d.src.meter.seed = m.seed;
		d.src.meter.profile = m.profile;
		d.src.meter.phases = m.phases;
		d.src.phase_ms = m.phase_ms;
		if (o->state_dir) {
			if (snprintf(dir, sizeof dir, "%s/%s", o->state_dir, m.serial) >= (int)sizeof dir) {
				snprintf(why, cap, "state: %s: path too long", o->state_dir);
				rc = SC_ERR_IO;
				goto fail;
			}
			d.state_dir = dir;
		}
		rc = sc_twin_start(loop, clock, &d, &f->twins[i], e, sizeof e);
		if (rc != SC_OK) {
			/* The device's own failure, then which device it was. */
			sc_log(SC_LOG_ERROR, "%s", e);
			snprintf(why, cap, "fleet: device %s (number %llu) could not start", m.serial,
				 (unsigned long long)m.index);
			goto fail;
		}
		f->n = i + 1;
	}
	f->start_s = (double)(sc_mono_ms() - t0) / 1000.0;
	start_window(f);
	*out = f;
	return SC_OK;
fail:
	sc_fleet_stop(f);
	return rc;
}

void sc_fleet_stop(struct sc_fleet *f)
{
	if (!f)
		return;
	sc_http_stop(f->http);
	sc_http_stop(f->https);
	for (int i = 0; i < f->n; i++)
		sc_twin_stop(f->twins[i]);
	free(f->twins);
	free(f->cert_pem);
	free(f->key_pem);
	free(f);
}

int sc_fleet_size(const struct sc_fleet *f)
{
	return f->n;
}

struct sc_twin *sc_fleet_twin(struct sc_fleet *f, int i)
{
	return i >= 0 && i < f->n ? f->twins[i] : NULL;
}

int sc_fleet_http_port(const struct sc_fleet *f)
{
	return f->http ? sc_http_port(f->http) : 0;
}

int sc_fleet_https_port(const struct sc_fleet *f)
{
	return f->https ? sc_http_port(f->https) : 0;
}

void sc_fleet_describe(struct sc_fleet *f, char *buf, size_t cap)
{
	const struct sc_fleet_opts *o = &f->o;
	struct sc_fleet_member a, b;
	sc_fleet_member(&o->plan, 0, &a);
	sc_fleet_member(&o->plan, f->n - 1, &b);
	char modbus[96], http[160] = "";
	if (o->plan.modbus_base_port > 0)
		snprintf(modbus, sizeof modbus, "modbus tcp %s:%d-%d", o->device.modbus.addr,
			 a.modbus_port, b.modbus_port);
	else
		snprintf(modbus, sizeof modbus, "modbus tcp %s, free ports (GET /fleet/v1/devices)",
			 o->device.modbus.addr);
	if (f->https)
		snprintf(http + strlen(http), sizeof http - strlen(http), "https %s:%d, ",
			 o->https_addr, sc_http_port(f->https));
	if (f->http)
		snprintf(http + strlen(http), sizeof http - strlen(http), "http %s:%d, ", o->http_addr,
			 sc_http_port(f->http));
	snprintf(buf, cap,
		 "fleet of %d devices, numbers %llu to %llu, serials %s to %s; %s; %sdevices under "
		 "/devices/SERIAL/; mqtt %s; started in %.0f ms",
		 f->n, (unsigned long long)a.index, (unsigned long long)b.index, a.serial, b.serial,
		 modbus, http, o->device.mqtt_off ? "off" : o->device.factory.broker,
		 f->start_s * 1000.0);
}

void sc_fleet_summary(struct sc_fleet *f, char *buf, size_t cap)
{
	struct totals t;
	add_totals(f, &t);
	snprintf(buf, cap, "fleet of %d devices: telegrams: %llu ok, %llu failed; mqtt: %llu sent, "
			   "%llu failed; %d connected at the end",
		 f->n, (unsigned long long)t.telegrams, (unsigned long long)t.telegrams_failed,
		 (unsigned long long)t.sent, (unsigned long long)t.failed, t.mqtt[SC_MQTT_CONNECTED]);
}
