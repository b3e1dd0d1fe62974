#include "twin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "http.h"
#include "capture.h"
#include "p1out.h"
#include "log.h"
#include "mqtt.h"
#include "payload.h"
#include "sc_error.h"
#include "statefile.h"
#include "tls_check.h"

#define CONFIG_FILE "config.json"
#define PASSWORD_FILE "password"
#define FIRMWARE_FILE "firmware"
#define CERT_FILE "https-cert.pem"
#define KEY_FILE "https-key.pem"

struct sc_twin {
	struct sc_loop *loop;
	struct sc_clock *clock;
	struct sc_twin_opts o;
	struct sc_state state;
	struct sc_device dev;
	struct sc_dongle dongle;
	struct sc_api api;
	struct sc_source *source;
	struct sc_modbus *modbus;
	int modbus_port;          /* kept across restarts (port 0 picks once) */
	struct sc_mqtt *mqtt;
	struct sc_http *http, *https;
	struct sc_p1out *p1out;
	struct sc_capture_writer *record; /* --record: the meter line, timestamped */
	bool record_failing;              /* logged once until a write succeeds again */
	bool broker_cut;
	int release_timer;        /* the button's release (sc_twin_press) */
	char *cert_pem, *key_pem;
	char topic_power[300], topic_counters[300];
	enum sc_meter_link link;  /* as last logged */
	int link_timer, counters_timer, ping_timer, dongle_timer;
	int64_t next_counters_ms, next_ping_ms;
	struct sc_diag pings;     /* the ping counters of the model */
	struct sc_heap_model heap;
	char mqtt_note[512];      /* why there is no MQTT client, "" when there is one */
};

static int64_t now_ms(const struct sc_twin *t)
{
	return sc_clock_now(t->clock, sc_loop_now(t->loop));
}

static int64_t device_time_s(void *arg)
{
	return now_ms(arg) / 1000;
}

static void apply(struct sc_twin *t, const struct sc_dongle_events *ev);
static void schedule_dongle(struct sc_twin *t);

/* ---- the meter link, watched on the device clock ---- */

static void on_link_timer(void *arg)
{
	struct sc_twin *t = arg;
	t->link_timer = -1;
	if (sc_device_link(&t->dev, now_ms(t)) == SC_LINK_NO_DATA && t->link != SC_LINK_NO_DATA) {
		t->link = SC_LINK_NO_DATA;
		sc_log(SC_LOG_WARN, "meter: no data for %g s; the last values stay served",
		       (double)sc_device_no_data_ms(&t->dev) / 1000.0);
	}
}

static void publish_power(struct sc_twin *t)
{
	if (!t->mqtt)
		return;
	char json[2048];
	int n = sc_payload_power_instant_text(&t->dev.reading, json, sizeof json);
	if (n > 0)
		sc_mqtt_publish(t->mqtt, t->topic_power, json, (size_t)n);
}

static void on_event(void *arg, const struct sc_tg_event *ev)
{
	struct sc_twin *t = arg;
	switch (ev->kind) {
	case SC_TG_OK:
		sc_log(SC_LOG_DEBUG, "telegram at offset %llu: P %.0f W",
		       (unsigned long long)ev->offset, ev->reading.q[SC_RQ_P].v);
		if (t->link == SC_LINK_NO_DATA)
			sc_log(SC_LOG_INFO, "meter: data again");
		t->link = SC_LINK_OK;
		sc_loop_cancel_timer(t->loop, t->link_timer);
		t->link_timer = sc_loop_add_device_timer(
			t->loop, t->clock, t->dev.reading_ms + sc_device_no_data_ms(&t->dev),
			on_link_timer, t);
		/* manual §5.4: a power_instant message for every telegram parsed. */
		publish_power(t);
		break;
	case SC_TG_FAILED:
		sc_log(SC_LOG_WARN, "telegram at offset %llu rejected: %s at %llu: %s",
		       (unsigned long long)ev->offset, ev->name,
		       (unsigned long long)ev->error_offset, ev->detail);
		break;
	case SC_TG_GARBAGE:
		sc_log(SC_LOG_WARN, "%s at offset %llu", ev->detail, (unsigned long long)ev->offset);
		break;
	case SC_TG_NONE:
		break;
	}
}

/* The P1 ext output repeats every byte of the input. */
static void on_bytes(void *arg, const void *data, size_t len)
{
	struct sc_twin *t = arg;
	if (t->p1out)
		sc_p1out_write(t->p1out, data, len);
	if (t->record) {
		char why[300];
		double at = (double)now_ms(t) / 1000.0;
		if (sc_capture_writer_add(t->record, at, data, len, why, sizeof why) != 0) {
			if (!t->record_failing)
				sc_log(SC_LOG_ERROR, "record: %s", why);
			t->record_failing = true;
		} else {
			t->record_failing = false;
		}
	}
}

/* ---- diagnostics ---- */

static void on_ping(void *arg)
{
	struct sc_twin *t = arg;
	/* The network model says whether the gateway and the internet answer. */
	if (sc_dongle_services_on(&t->dongle)) {
		if (sc_dongle_gateway_ok(&t->dongle))
			t->pings.gw_ping_pass++;
		else
			t->pings.gw_ping_fail++;
		if (sc_dongle_internet_ok(&t->dongle))
			t->pings.internet_ping_pass++;
		else
			t->pings.internet_ping_fail++;
	}
	t->next_ping_ms += SC_DIAG_PING_S * 1000;
	t->ping_timer = sc_loop_add_device_timer(t->loop, t->clock, t->next_ping_ms, on_ping, t);
}

void sc_twin_diag(struct sc_twin *t, struct sc_diag *d)
{
	memset(d, 0, sizeof *d);
	int64_t now = now_ms(t);
	d->uptime = now > t->dongle.boot_ms ? (uint64_t)(now - t->dongle.boot_ms) / 1000 : 0;
	d->gw_ping_pass = t->pings.gw_ping_pass;
	d->gw_ping_fail = t->pings.gw_ping_fail;
	d->internet_ping_pass = t->pings.internet_ping_pass;
	d->internet_ping_fail = t->pings.internet_ping_fail;
	d->telegrams_pass = t->dev.counters.telegrams_pass;
	d->telegrams_fail = t->dev.counters.telegrams_fail;
	d->telegrams_frame_fail = t->dev.counters.telegrams_frame_fail;
	bool mqtt_up = false;
	if (t->mqtt) {
		const struct sc_mqtt_counters *c = sc_mqtt_counters(t->mqtt);
		d->mqtt_event_connect = c->event_connect;
		d->mqtt_event_errors = c->event_errors;
		d->mqtt_send_pass = c->send_pass;
		d->mqtt_send_fail = c->send_fail;
		mqtt_up = sc_mqtt_state(t->mqtt) == SC_MQTT_CONNECTED;
	}
	int clients = t->modbus ? sc_modbus_clients(t->modbus) : 0;
	sc_heap_sample(&t->heap, now / 1000, clients, mqtt_up, 0, d);
}

static void on_counters(void *arg)
{
	struct sc_twin *t = arg;
	struct sc_diag d;
	sc_twin_diag(t, &d);
	char json[1024];
	int n = sc_diag_json(&d, now_ms(t) / 1000, json, sizeof json);
	if (n > 0 && t->mqtt)
		sc_mqtt_publish(t->mqtt, t->topic_counters, json, (size_t)n);
	t->next_counters_ms += (int64_t)t->o.counters_interval_s * 1000;
	t->counters_timer = sc_loop_add_device_timer(t->loop, t->clock, t->next_counters_ms,
						     on_counters, t);
}

/* ---- MQTT, with the configuration in force ---- */

static void stop_mqtt(struct sc_twin *t)
{
	sc_mqtt_stop(t->mqtt);
	t->mqtt = NULL;
}

static void start_mqtt(struct sc_twin *t)
{
	const struct sc_config *c = &t->dongle.running;
	stop_mqtt(t);
	t->mqtt_note[0] = '\0';
	if (t->o.mqtt_off) {
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "off (--mqtt off)");
		return;
	}
	if (!c->mqtt_enabled) {
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "disabled in the configuration");
		return;
	}
	struct sc_mqtt_opts mo = {0};
	char why[160];
	if (sc_broker_parse(c->broker, &mo.broker, why, sizeof why) != SC_OK) {
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "broker %s: %s", c->broker, why);
		sc_log(SC_LOG_ERROR, "mqtt: %s", t->mqtt_note);
		return;
	}
	if (!mo.broker.tls && (c->username[0] || c->password[0]) && !t->o.plaintext_ok) {
		snprintf(t->mqtt_note, sizeof t->mqtt_note,
			 "refusing to send credentials in plain text to %s", c->broker);
		sc_log(SC_LOG_ERROR,
		       "mqtt: %s: use a TLS broker (mqtts://), or --mqtt-plaintext-ok for a test broker",
		       t->mqtt_note);
		return;
	}
	if (!mo.broker.tls && (c->username[0] || c->password[0]))
		sc_log(SC_LOG_WARN, "mqtt: the password goes in plain text to %s (--mqtt-plaintext-ok)",
		       c->broker);
	if (mo.broker.tls && t->o.certfile) {
		char cn[128];
		if (sc_tls_cert_cn(t->o.certfile, cn, sizeof cn) == 0 && strcmp(cn, t->o.serial) != 0)
			sc_log(SC_LOG_WARN, "mqtt: the device certificate's CN is '%s', not the serial "
					    "number %s: a Smart Connect broker will refuse it", cn,
			       t->o.serial);
	}
	mo.client_id = t->o.client_id ? t->o.client_id : t->o.serial;
	mo.username = c->username;
	mo.password = c->password;
	mo.cafile = t->o.cafile;
	mo.certfile = t->o.certfile;
	mo.keyfile = t->o.keyfile;
	mo.qos = t->o.qos;
	mo.retain = t->o.retain;
	mo.keepalive_s = t->o.keepalive_s;
	mo.reconnect_min_ms = t->o.reconnect_min_ms;
	mo.reconnect_max_ms = t->o.reconnect_max_ms;
	mo.device_time = device_time_s;
	mo.device_time_arg = t;
	mo.start_held = !sc_dongle_has_address(&t->dongle) || t->broker_cut;
	sc_topic(t->topic_power, sizeof t->topic_power, c->site, t->o.serial, "power_instant",
		 t->o.topic_site);
	sc_topic(t->topic_counters, sizeof t->topic_counters, c->site, t->o.serial,
		 "device_counters", t->o.topic_site);
	t->mqtt = sc_mqtt_start(t->loop, &mo);
	if (!t->mqtt)
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "the client could not be created");
}

/* ---- Modbus, up while the device runs ---- */

static bool start_modbus(struct sc_twin *t, int *merr)
{
	struct sc_modbus_opts mo = t->o.modbus;
	if (t->modbus_port > 0)
		mo.port = t->modbus_port;
	t->modbus = sc_modbus_start(t->loop, &t->dev, &mo, merr);
	if (t->modbus)
		t->modbus_port = sc_modbus_port(t->modbus);
	return t->modbus != NULL;
}

static void log_bind_error(const char *what, const char *h, int p, int err, const char *flag)
{
	if (err == EACCES)
		sc_log(SC_LOG_ERROR,
		       "%s: cannot listen on %s:%d: permission denied (ports below 1024 need root or "
		       "CAP_NET_BIND_SERVICE); choose another port, e.g. %s %s:%d", what, h, p, flag,
		       h, p == 502 ? 1502 : p < 1024 ? p + 8000 : p + 1);
	else if (err == EADDRINUSE)
		sc_log(SC_LOG_ERROR,
		       "%s: cannot listen on %s:%d: the port is in use; choose another with %s "
		       "ADDR:PORT (port 0 picks a free one)", what, h, p, flag);
	else
		sc_log(SC_LOG_ERROR, "%s: cannot listen on %s:%d: %s", what, h, p, strerror(err));
}

/* ---- state ---- */

static int save_config(void *arg, const struct sc_config *c, char *why, size_t cap)
{
	struct sc_twin *t = arg;
	char buf[4096];
	int n = sc_config_write(c, true, buf, sizeof buf);
	if (n < 0) {
		snprintf(why, cap, "cannot write the configuration document");
		return SC_ERR_IO;
	}
	buf[n++] = '\n';
	if (sc_state_write(&t->state, CONFIG_FILE, buf, (size_t)n, why, cap) != 0) {
		sc_log(SC_LOG_ERROR, "config: %s; the configuration stays as it was", why);
		return SC_ERR_IO;
	}
	sc_log(SC_LOG_INFO, "config: saved%s", t->state.on ? "" : " (in memory: no --state-dir)");
	return SC_OK;
}

/* Loads the saved configuration; false when there is none or it is unusable. */
static bool load_config(struct sc_twin *t, struct sc_config *out)
{
	char *data, why[256];
	size_t len;
	int rc = sc_state_read(&t->state, CONFIG_FILE, &data, &len, why, sizeof why);
	if (rc != 0) {
		if (rc < 0)
			sc_log(SC_LOG_ERROR, "config: %s; factory settings used", why);
		return false;
	}
	struct sc_config_error e;
	bool ok = sc_config_load(out, data, len, &e) == SC_OK;
	free(data);
	if (!ok) {
		sc_log(SC_LOG_ERROR, "config: %s/%s: %s%s%s; factory settings used", t->state.dir,
		       CONFIG_FILE, e.field, *e.field ? ": " : "", e.reason);
		return false;
	}
	sc_log(SC_LOG_INFO, "config: loaded from %s/%s", t->state.dir, CONFIG_FILE);
	return true;
}

static void new_password(char *out, size_t n)
{
	/* Eight characters as on the label, without look-alikes. */
	static const char set[] = "abcdefghjkmnpqrstuvwxyz23456789";
	unsigned char r[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
		/* Without randomness the password still differs per run. */
		for (size_t i = 0; i < sizeof r; i++)
			r[i] = (unsigned char)((uint64_t)sc_mono_ms() >> (i % 8) ^ i * 131);
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i + 1 < n && i < sizeof r; i++)
		out[i] = set[r[i] % (sizeof set - 1)];
	out[n - 1] = '\0';
}

static bool setup_password(struct sc_twin *t, char *pw, size_t cap)
{
	if (t->o.password) {
		snprintf(pw, cap, "%s", t->o.password);
		return true;
	}
	char *data, why[256];
	size_t len;
	int rc = sc_state_read(&t->state, PASSWORD_FILE, &data, &len, why, sizeof why);
	if (rc == 0) {
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			data[--len] = '\0';
		bool ok = len >= 1 && len <= SC_API_PASSWORD_MAX;
		if (ok)
			snprintf(pw, cap, "%s", data);
		free(data);
		if (ok)
			return true;
	} else if (rc < 0) {
		sc_log(SC_LOG_ERROR, "http: %s", why);
		return false;
	}
	new_password(pw, 9);
	char line[16];
	int n = snprintf(line, sizeof line, "%s\n", pw);
	if (sc_state_write(&t->state, PASSWORD_FILE, line, (size_t)n, why, sizeof why) != 0) {
		sc_log(SC_LOG_ERROR, "http: %s", why);
		return false;
	}
	/* Printed as the label prints it: user "user", this password. */
	sc_log(SC_LOG_INFO, "http: login: user / %s%s", pw,
	       t->state.on ? " (saved in the state directory)" : "");
	return true;
}

static bool setup_certificate(struct sc_twin *t)
{
	char *cert = NULL, *key = NULL, why[256];
	size_t n;
	if (sc_state_read(&t->state, CERT_FILE, &cert, &n, why, sizeof why) == 0 &&
	    sc_state_read(&t->state, KEY_FILE, &key, &n, why, sizeof why) == 0) {
		t->cert_pem = cert;
		t->key_pem = key;
		return true;
	}
	free(cert);
	free(key);
	char cn[64], dns1[80], dns2[80];
	snprintf(cn, sizeof cn, "smart-connect-%s", t->o.serial);
	snprintf(dns1, sizeof dns1, "DNS:smart-connect-%s", t->o.serial);
	snprintf(dns2, sizeof dns2, "DNS:smart-connect-%s.local", t->o.serial);
	const char *sans[] = {dns1, dns2, "DNS:smart-connect.local", "DNS:smart-connect",
			      "DNS:localhost", "IP:127.0.0.1", "IP:192.168.71.1"};
	if (sc_tls_self_signed(cn, sans, sizeof sans / sizeof sans[0], 3650, &t->cert_pem,
			       &t->key_pem, why, sizeof why) != 0) {
		sc_log(SC_LOG_ERROR, "https: %s", why);
		return false;
	}
	if (sc_state_write(&t->state, KEY_FILE, t->key_pem, strlen(t->key_pem), why, sizeof why) != 0 ||
	    sc_state_write(&t->state, CERT_FILE, t->cert_pem, strlen(t->cert_pem), why, sizeof why) != 0) {
		sc_log(SC_LOG_ERROR, "https: %s", why);
		return false;
	}
	return true;
}

/* ---- HTTP ---- */

static void fill_ctx(struct sc_twin *t, struct sc_api_ctx *c)
{
	memset(c, 0, sizeof *c);
	c->dongle = &t->dongle;
	c->dev = &t->dev;
	sc_twin_diag(t, &c->diag);
	c->now_ms = now_ms(t);
	c->modbus_port = t->modbus_port;
	if (t->mqtt) {
		c->mqtt_state = sc_mqtt_state_name(sc_mqtt_state(t->mqtt));
		c->mqtt_error = sc_mqtt_last_error(t->mqtt);
	} else {
		c->mqtt_state = "off";
		c->mqtt_error = t->mqtt_note;
	}
	c->save = save_config;
	c->save_arg = t;
}

void sc_twin_http(struct sc_twin *t, const struct sc_http_request *rq, struct sc_http_response *rs)
{
	if (strncmp(rq->path, "/sim/", 5) == 0) {
		sc_control_handle(t, t->o.control, rq, rs);
		sc_log(SC_LOG_DEBUG, "control: %s %s -> %d", rq->method, rq->path, rs->status);
		return;
	}
	struct sc_api_ctx c;
	fill_ctx(t, &c);
	sc_api_handle(&t->api, &c, rq, rs);
	sc_log(SC_LOG_DEBUG, "http: %s %s -> %d", rq->method, rq->path, rs->status);
	if (c.want_soft_reset) {
		struct sc_dongle_events ev;
		memset(&ev, 0, sizeof ev);
		sc_log(SC_LOG_INFO, "reset: requested through the API");
		sc_dongle_soft_reset(&t->dongle, c.now_ms, &ev);
		apply(t, &ev);
	}
	if (c.firmware_started) {
		char v[16];
		sc_fw_format(&t->dongle.fw.target, v, sizeof v);
		sc_log(SC_LOG_INFO, "firmware: update to %s started", v);
	}
	schedule_dongle(t);
}

static void on_http(void *arg, const struct sc_http_request *rq, struct sc_http_response *rs)
{
	sc_twin_http(arg, rq, rs);
}

/* ---- the dongle's changes ---- */

static void set_energy_unit(struct sc_twin *t)
{
	bool kwh = sc_fw_energy_kwh(&t->dongle.fw.version);
	if (kwh == t->dev.cfg.regs.energy_kwh)
		return;
	t->dev.cfg.regs.energy_kwh = kwh;
	/* The image in the new unit at once; Modbus serves it from the next request. */
	sc_regmap_build(&t->dev.image, t->dev.have_reading ? &t->dev.reading : NULL, &t->dev.cfg.regs);
	t->dev.generation++;
}

static void apply(struct sc_twin *t, const struct sc_dongle_events *ev)
{
	char why[256];
	if (ev->factory_reset) {
		sc_log(SC_LOG_WARN, "reset: factory reset: configuration back to the factory settings");
		if (sc_state_remove(&t->state, CONFIG_FILE, why, sizeof why) != 0)
			sc_log(SC_LOG_ERROR, "reset: %s", why);
	}
	if (ev->services_down) {
		sc_log(SC_LOG_INFO, "restart: the device restarts (Modbus and MQTT pause)");
		/* What the device counts lives in its RAM: a restart starts over. */
		memset(&t->dev.counters, 0, sizeof t->dev.counters);
		memset(&t->pings, 0, sizeof t->pings);
		sc_api_end_session(&t->api);
		stop_mqtt(t);
		sc_modbus_stop(t->modbus);
		t->modbus = NULL;
	}
	if (ev->firmware_changed) {
		char v[16];
		sc_fw_format(&t->dongle.fw.version, v, sizeof v);
		sc_log(SC_LOG_INFO, "firmware: %s runs (energy in %s)", v,
		       sc_fw_energy_kwh(&t->dongle.fw.version) ? "kWh" : "Wh");
		set_energy_unit(t);
		char line[24];
		int n = snprintf(line, sizeof line, "%s\n", v);
		if (sc_state_write(&t->state, FIRMWARE_FILE, line, (size_t)n, why, sizeof why) != 0)
			sc_log(SC_LOG_ERROR, "firmware: %s", why);
	}
	if (ev->services_up) {
		int merr;
		sc_log(SC_LOG_INFO, "restart: running again");
		if (!start_modbus(t, &merr))
			log_bind_error("modbus", t->o.modbus.addr, t->modbus_port, merr, "--modbus");
		start_mqtt(t);
	} else if (ev->config_applied && sc_dongle_services_on(&t->dongle)) {
		sc_log(SC_LOG_INFO, "config: saved settings take effect");
		start_mqtt(t);
	}
	if (ev->soft_reset)
		sc_log(SC_LOG_INFO, "reset: soft reset (the device restarts and reconnects)");
	if (ev->ap_changed)
		sc_log(SC_LOG_INFO, "network: access-point mode %s%s%s",
		       t->dongle.ap_mode ? "on (SSID SC-" : "off", t->dongle.ap_mode ? t->dongle.serial : "",
		       t->dongle.ap_mode ? ", 192.168.71.1)" : "");
	if (ev->network_down) {
		sc_log(SC_LOG_INFO, "network: the address is gone");
		if (t->mqtt)
			sc_mqtt_hold(t->mqtt, true);
	}
	if (ev->network_up) {
		char a[16];
		sc_ipv4_format(t->dongle.addr, a, sizeof a);
		sc_log(SC_LOG_INFO, "network: %s address %s", t->dongle.ap_mode ? "access-point"
				    : sc_addr_state_name(t->dongle.addr_state), a);
		if (t->mqtt && !t->broker_cut)
			sc_mqtt_hold(t->mqtt, false);
	}
}

static void on_dongle(void *arg)
{
	struct sc_twin *t = arg;
	t->dongle_timer = -1;
	int64_t now = now_ms(t);
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	if (sc_fw_step(&t->dongle.fw, now)) {
		sc_log(SC_LOG_INFO, "firmware: installed; restarting into it");
		sc_dongle_firmware_restart(&t->dongle, now, &ev);
		apply(t, &ev);
	}
	sc_dongle_step(&t->dongle, now, &ev);
	apply(t, &ev);
	schedule_dongle(t);
}

static void schedule_dongle(struct sc_twin *t)
{
	int64_t now = now_ms(t);
	int64_t at = sc_dongle_next_ms(&t->dongle, now);
	int64_t fw = sc_fw_next_ms(&t->dongle.fw);
	if (fw >= 0 && (at < 0 || fw < at))
		at = fw;
	sc_loop_cancel_timer(t->loop, t->dongle_timer);
	t->dongle_timer = at < 0 ? -1
				 : sc_loop_add_device_timer(t->loop, t->clock, at, on_dongle, t);
}

/* ---- start and stop ---- */

struct sc_twin *sc_twin_start(struct sc_loop *loop, struct sc_clock *clock,
			      const struct sc_twin_opts *o, int *exit_code)
{
	struct sc_twin *t = calloc(1, sizeof *t);
	*exit_code = 1;
	if (!t) {
		sc_log(SC_LOG_ERROR, "out of memory");
		return NULL;
	}
	t->loop = loop;
	t->clock = clock;
	t->o = *o;
	t->link_timer = t->counters_timer = t->ping_timer = t->dongle_timer = t->release_timer = -1;
	sc_heap_init(&t->heap, o->seed);
	*exit_code = 3;
	char why[256];
	if (o->state_dir && sc_state_open(&t->state, o->state_dir, why, sizeof why) != 0) {
		sc_log(SC_LOG_ERROR, "state: %s", why);
		free(t);
		return NULL;
	}

	/* What the device kept: configuration, firmware. */
	struct sc_config saved;
	bool configured = load_config(t, &saved);
	struct sc_fw_version fw;
	if (sc_fw_parse(o->firmware, &fw) != SC_OK) {
		sc_log(SC_LOG_ERROR, "firmware: '%s' is not a version", o->firmware);
		free(t);
		return NULL;
	}
	char *data;
	size_t len;
	if (sc_state_read(&t->state, FIRMWARE_FILE, &data, &len, why, sizeof why) == 0) {
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			data[--len] = '\0';
		struct sc_fw_version v;
		if (sc_fw_parse(data, &v) == SC_OK)
			fw = v;
		free(data);
	}
	int64_t now = now_ms(t);
	sc_dongle_init(&t->dongle, o->serial, &o->factory, configured ? &saved : NULL, configured,
		       &fw, !o->power_up, now);

	struct sc_device_config dc = o->dev;
	dc.regs.energy_kwh = sc_fw_energy_kwh(&fw);
	dc.on_event = on_event;
	dc.on_event_arg = t;
	if (o->record) {
		char rwhy[300];
		t->record = sc_capture_writer_open(o->record, rwhy, sizeof rwhy);
		if (!t->record) {
			sc_log(SC_LOG_ERROR, "--record: %s", rwhy);
			free(t);
			return NULL;
		}
	}
	if (o->p1_out) {
		t->p1out = sc_p1out_open(loop, o->p1_out, o->dev.protocol == SC_PROTO_TIC);
		if (!t->p1out) {
			char ignored[8];
			sc_capture_writer_close(t->record, ignored, sizeof ignored);
			free(t);
			return NULL;
		}
	}
	if (o->p1_out || o->record) {
		dc.on_bytes = on_bytes;
		dc.on_bytes_arg = t;
	}
	if (sc_device_init(&t->dev, &dc) != SC_OK) {
		sc_log(SC_LOG_ERROR, "out of memory");
		*exit_code = 1;
		free(t);
		return NULL;
	}

	char pw[SC_API_PASSWORD_MAX + 1] = "";
	if ((o->http_addr || o->https_addr || o->password) && !setup_password(t, pw, sizeof pw))
		goto fail;
	sc_api_init(&t->api, pw, o->session_idle_ms);
	t->api.echo_secrets = o->echo_secrets;
	t->api.page = o->page;
	t->api.page_len = o->page_len;
	t->api.plain_http_api = o->plain_http_api;
	t->api.https_port = o->https_port_shown;
	if (o->https_addr && !setup_certificate(t))
		goto fail;

	int err;
	if (sc_dongle_services_on(&t->dongle) && !start_modbus(t, &err)) {
		log_bind_error("modbus", o->modbus.addr, o->modbus.port, err, "--modbus");
		goto fail;
	}
	if (o->https_addr) {
		struct sc_http_opts ho = {o->https_addr, o->https_port, true, t->cert_pem, t->key_pem};
		t->https = sc_http_start(loop, &ho, on_http, t, &err);
		if (!t->https) {
			log_bind_error("https", o->https_addr, o->https_port, err, "--https");
			goto fail;
		}
		t->api.https_port = sc_http_port(t->https);
	}
	if (o->http_addr) {
		struct sc_http_opts ho = {o->http_addr, o->http_port, false, NULL, NULL};
		t->http = sc_http_start(loop, &ho, on_http, t, &err);
		if (!t->http) {
			log_bind_error("http", o->http_addr, o->http_port, err, "--http");
			goto fail;
		}
	}
	/* MQTT before the source, so the first telegram is published. */
	if (sc_dongle_services_on(&t->dongle))
		start_mqtt(t);
	t->next_ping_ms = now + SC_DIAG_PING_S * 1000;
	t->ping_timer = sc_loop_add_device_timer(loop, clock, t->next_ping_ms, on_ping, t);
	if (o->counters_interval_s > 0) {
		t->next_counters_ms = now + (int64_t)o->counters_interval_s * 1000;
		t->counters_timer = sc_loop_add_device_timer(loop, clock, t->next_counters_ms,
							     on_counters, t);
	}
	t->source = sc_source_start(loop, &t->dev, clock, &o->src);
	if (!t->source) {
		sc_log(SC_LOG_ERROR, "cannot start the source %s", o->source_spec);
		goto fail;
	}
	schedule_dongle(t);
	*exit_code = 0;
	return t;
fail:
	sc_twin_stop(t);
	return NULL;
}

void sc_twin_stop(struct sc_twin *t)
{
	if (!t)
		return;
	sc_source_stop(t->source);
	sc_loop_cancel_timer(t->loop, t->link_timer);
	sc_loop_cancel_timer(t->loop, t->counters_timer);
	sc_loop_cancel_timer(t->loop, t->ping_timer);
	sc_loop_cancel_timer(t->loop, t->dongle_timer);
	sc_loop_cancel_timer(t->loop, t->release_timer);
	sc_p1out_close(t->p1out);
	if (t->record) {
		char why[300];
		unsigned long long n = sc_capture_writer_count(t->record);
		if (sc_capture_writer_close(t->record, why, sizeof why) != 0)
			sc_log(SC_LOG_ERROR, "record: %s", why);
		else
			sc_log(SC_LOG_INFO, "record: %llu reads of the meter line written", n);
	}
	sc_http_stop(t->http);
	sc_http_stop(t->https);
	stop_mqtt(t);
	sc_modbus_stop(t->modbus);
	sc_device_free(&t->dev);
	free(t->cert_pem);
	free(t->key_pem);
	free(t);
}

struct sc_device *sc_twin_device(struct sc_twin *t)
{
	return &t->dev;
}

int sc_twin_modbus_port(const struct sc_twin *t)
{
	return t->modbus_port;
}

int sc_twin_https_port(const struct sc_twin *t)
{
	return t->https ? sc_http_port(t->https) : 0;
}

int sc_twin_http_port(const struct sc_twin *t)
{
	return t->http ? sc_http_port(t->http) : 0;
}

struct sc_dongle *sc_twin_dongle(struct sc_twin *t)
{
	return &t->dongle;
}

void sc_twin_describe(struct sc_twin *t, char *buf, size_t cap)
{
	const struct sc_twin_opts *o = &t->o;
	const struct sc_regmap_opts *r = &t->dev.cfg.regs;
	char mqtt[600], http[160] = "", fw[16];
	if (t->mqtt)
		snprintf(mqtt, sizeof mqtt, "mqtt %s as %s, topic %s", sc_mqtt_describe(t->mqtt),
			 o->client_id ? o->client_id : o->serial, t->topic_power);
	else
		snprintf(mqtt, sizeof mqtt, "mqtt %s", t->mqtt_note);
	if (t->https && t->http)
		snprintf(http, sizeof http, "https %s:%d, http %s:%d; ", o->https_addr,
			 sc_http_port(t->https), o->http_addr, sc_http_port(t->http));
	else if (t->https)
		snprintf(http, sizeof http, "https %s:%d; ", o->https_addr, sc_http_port(t->https));
	else if (t->http)
		snprintf(http, sizeof http, "http %s:%d; ", o->http_addr, sc_http_port(t->http));
	sc_fw_format(&t->dongle.fw.version, fw, sizeof fw);
	snprintf(buf, cap,
		 "modbus tcp %s:%d (%d client%s, idle timeout %d s, words %s, energy %s); %s%s; "
		 "serial %s, firmware %s; device %s; source %s",
		 o->modbus.addr, t->modbus_port, o->modbus.max_clients,
		 o->modbus.max_clients > 1 ? "s" : "", o->modbus.idle_timeout_s,
		 r->order == SC_WORDS_CDAB ? "CDAB" : "ABCD", r->energy_kwh ? "kWh" : "Wh", http, mqtt,
		 o->serial, fw,
		 o->dev.protocol == SC_PROTO_AUTO ? "from the first bytes" : sc_protocol_name(o->dev.protocol),
		 sc_source_describe(t->source));
}

void sc_twin_summary(struct sc_twin *t, char *buf, size_t cap)
{
	struct sc_diag d;
	sc_twin_diag(t, &d);
	const struct sc_modbus_stats *st = t->modbus ? sc_modbus_stats(t->modbus) : NULL;
	snprintf(buf, cap,
		 "telegrams: %llu ok, %llu failed, %llu framing; modbus: %llu requests, %llu "
		 "exceptions, %llu connections, %llu refused; mqtt: %llu sent, %llu failed, "
		 "%llu connects, %llu errors; http: %lu requests",
		 (unsigned long long)d.telegrams_pass, (unsigned long long)d.telegrams_fail,
		 (unsigned long long)d.telegrams_frame_fail,
		 (unsigned long long)(st ? st->requests : 0), (unsigned long long)(st ? st->exceptions : 0),
		 (unsigned long long)(st ? st->connections : 0), (unsigned long long)(st ? st->refused : 0),
		 (unsigned long long)d.mqtt_send_pass, (unsigned long long)d.mqtt_send_fail,
		 (unsigned long long)d.mqtt_event_connect, (unsigned long long)d.mqtt_event_errors,
		 (t->http ? sc_http_requests(t->http) : 0) + (t->https ? sc_http_requests(t->https) : 0));
}

/* ---- what the control API does ---- */

bool sc_twin_inject(struct sc_twin *t, const void *data, size_t len)
{
	if (t->dev.cut)
		return false;
	sc_device_feed(&t->dev, data, len, now_ms(t));
	return true;
}

int sc_twin_set_source(struct sc_twin *t, const char *spec, const struct sc_source_opts *o,
		       char *why, size_t cap)
{
	struct sc_source_opts so = *o;
	so.tic_line = t->dev.cfg.protocol == SC_PROTO_TIC;
	struct sc_source *s = sc_source_start(t->loop, &t->dev, t->clock, &so);
	if (!s) {
		snprintf(why, cap, "the source %s cannot be started (see the log)", spec);
		return -1;
	}
	sc_source_stop(t->source);
	t->source = s;
	t->o.src = so;
	sc_log(SC_LOG_INFO, "source: now %s", sc_source_describe(s));
	return 0;
}

const struct sc_source_opts *sc_twin_source_opts(const struct sc_twin *t)
{
	return &t->o.src;
}

static void act(struct sc_twin *t, void (*fn)(struct sc_dongle *, int64_t, struct sc_dongle_events *))
{
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	fn(&t->dongle, now_ms(t), &ev);
	apply(t, &ev);
	schedule_dongle(t);
}

void sc_twin_button(struct sc_twin *t, bool down)
{
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_log(SC_LOG_INFO, "button: %s", down ? "pressed" : "released");
	sc_dongle_button(&t->dongle, down, now_ms(t), &ev);
	apply(t, &ev);
	schedule_dongle(t);
}

static void on_release(void *arg)
{
	struct sc_twin *t = arg;
	t->release_timer = -1;
	sc_twin_button(t, false);
}

void sc_twin_press(struct sc_twin *t, int64_t ms)
{
	sc_loop_cancel_timer(t->loop, t->release_timer);
	sc_twin_button(t, true);
	t->release_timer = sc_loop_add_device_timer(t->loop, t->clock, now_ms(t) + ms, on_release, t);
}

void sc_twin_meter_cut(struct sc_twin *t, bool cut)
{
	if (t->dev.cut != cut)
		sc_log(SC_LOG_INFO, "meter: cable %s", cut ? "out" : "back in");
	t->dev.cut = cut;
}

void sc_twin_set_env(struct sc_twin *t, const struct sc_dongle_env *env)
{
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_log(SC_LOG_INFO, "network: ethernet cable %s, wi-fi %s, dhcp server %s, gateway %s, "
			    "internet %s", env->ethernet_cable ? "in" : "out",
	       env->wifi_in_range ? "in range" : "out of range", env->dhcp_server ? "on" : "off",
	       env->gateway ? "up" : "down", env->internet ? "up" : "down");
	sc_dongle_set_env(&t->dongle, env, now_ms(t), &ev);
	apply(t, &ev);
	schedule_dongle(t);
}

void sc_twin_broker_cut(struct sc_twin *t, bool cut)
{
	t->broker_cut = cut;
	sc_log(SC_LOG_INFO, "mqtt: broker %s", cut ? "cut off" : "reachable again");
	if (t->mqtt)
		sc_mqtt_hold(t->mqtt, cut || !sc_dongle_has_address(&t->dongle));
}

void sc_twin_power_cycle(struct sc_twin *t)
{
	sc_log(SC_LOG_INFO, "power: cut and back");
	act(t, sc_dongle_restart);
}

void sc_twin_set_speed(struct sc_twin *t, double speed)
{
	int64_t mono = sc_loop_now(t->loop);
	sc_clock_init(t->clock, sc_clock_now(t->clock, mono), mono, speed);
	sc_loop_clock_changed(t->loop, t->clock);
	sc_log(SC_LOG_INFO, "clock: speed %g", speed);
}

static void add_bool(cJSON *o, const char *k, bool v)
{
	cJSON_AddBoolToObject(o, k, v);
}

char *sc_twin_state_json(struct sc_twin *t)
{
	struct sc_api_ctx c;
	fill_ctx(t, &c);
	/* The device's status document, and what only the twin knows. */
	char *status = sc_api_status_json(&c);
	cJSON *root = status ? cJSON_Parse(status) : NULL;
	free(status);
	if (!root)
		return NULL;
	cJSON *tw = cJSON_AddObjectToObject(root, "Twin");
	const struct sc_dongle *u = &t->dongle;
	char text[64];
	cJSON *clk = cJSON_AddObjectToObject(tw, "Clock");
	cJSON_AddNumberToObject(clk, "DeviceTime", (double)c.now_ms / 1000.0);
	cJSON_AddNumberToObject(clk, "Speed", t->clock->speed);
	add_bool(clk, "Virtual", sc_loop_is_virtual(t->loop));
	cJSON *d = cJSON_AddObjectToObject(tw, "Dongle");
	cJSON_AddStringToObject(d, "Phase", sc_phase_name(u->phase));
	cJSON_AddNumberToObject(d, "PhaseAge", (double)(c.now_ms - u->phase_ms) / 1000.0);
	cJSON_AddNumberToObject(d, "Starts", u->starts);
	add_bool(d, "ButtonDown", u->button_down);
	add_bool(d, "ApMode", u->ap_mode);
	add_bool(d, "Configured", u->configured);
	cJSON_AddStringToObject(d, "AddressState", sc_addr_state_name(u->addr_state));
	sc_ipv4_format(u->addr, text, sizeof text);
	cJSON_AddStringToObject(d, "Address", text);
	cJSON_AddNumberToObject(d, "DhcpAttempt", u->dhcp_attempt);
	cJSON *env = cJSON_AddObjectToObject(d, "Environment");
	add_bool(env, "EthernetCable", u->env.ethernet_cable);
	add_bool(env, "WifiInRange", u->env.wifi_in_range);
	add_bool(env, "DhcpServer", u->env.dhcp_server);
	add_bool(env, "Gateway", u->env.gateway);
	add_bool(env, "Internet", u->env.internet);
	cJSON *m = cJSON_AddObjectToObject(tw, "Meter");
	add_bool(m, "CableOut", t->dev.cut);
	cJSON_AddStringToObject(m, "Link", sc_meter_link_name(sc_device_link(&t->dev, c.now_ms)));
	cJSON_AddNumberToObject(m, "Bytes", (double)t->dev.counters.bytes);
	cJSON_AddNumberToObject(m, "GarbageBytes", (double)t->dev.counters.garbage_bytes);
	cJSON_AddStringToObject(m, "Source", sc_source_describe(t->source));
	cJSON *q = cJSON_AddObjectToObject(tw, "MQTT");
	add_bool(q, "BrokerCut", t->broker_cut);
	cJSON_AddStringToObject(q, "State", sc_twin_mqtt_state(t));
	cJSON_AddStringToObject(q, "Topic", t->mqtt ? t->topic_power : "");
	cJSON *mb = cJSON_AddObjectToObject(tw, "Modbus");
	cJSON_AddNumberToObject(mb, "Port", t->modbus_port);
	add_bool(mb, "Listening", t->modbus != NULL);
	cJSON_AddNumberToObject(mb, "Clients", t->modbus ? sc_modbus_clients(t->modbus) : 0);
	if (t->modbus) {
		const struct sc_modbus_stats *st = sc_modbus_stats(t->modbus);
		cJSON_AddNumberToObject(mb, "Requests", (double)st->requests);
		cJSON_AddNumberToObject(mb, "Refused", (double)st->refused);
	}
	cJSON *h = cJSON_AddObjectToObject(tw, "HTTP");
	add_bool(h, "SessionActive", t->api.session_active);
	if (t->api.session_active) {
		sc_ipv4_format(t->api.session_ip, text, sizeof text);
		cJSON_AddStringToObject(h, "SessionClient", text);
	}
	if (t->p1out) {
		cJSON *p = cJSON_AddObjectToObject(tw, "P1Out");
		cJSON_AddNumberToObject(p, "Sent", (double)sc_p1out_sent(t->p1out));
		cJSON_AddNumberToObject(p, "Dropped", (double)sc_p1out_dropped(t->p1out));
	}
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

const char *sc_twin_mqtt_state(const struct sc_twin *t)
{
	return t->mqtt ? sc_mqtt_state_name(sc_mqtt_state(t->mqtt)) : "off";
}

uint64_t sc_twin_mqtt_in_flight(const struct sc_twin *t)
{
	if (!t->mqtt || sc_mqtt_state(t->mqtt) != SC_MQTT_CONNECTED)
		return 0;
	return sc_mqtt_in_flight(t->mqtt);
}

const char *sc_twin_serial(const struct sc_twin *t)
{
	return t->o.serial;
}

int sc_twin_mqtt_state_code(const struct sc_twin *t)
{
	return t->mqtt ? (int)sc_mqtt_state(t->mqtt) : -1;
}
