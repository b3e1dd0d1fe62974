/* One twin's wiring (twin.h): the device core fed by its meter source, the
 * dongle model's changes carried to the services (Modbus, MQTT, HTTP, the
 * P1 ext output, the recording of the meter line), start and stop, and the
 * lines it logs about itself. The saved state is in twin_state.c, the MQTT
 * policy in twin_mqtt.c, what is done to it from outside in twin_act.c. */
#include "twin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sc_error.h"
#include "twin_impl.h"

int64_t sc_twin_now_ms(const struct sc_twin *t)
{
	return sc_clock_now(t->clock, sc_loop_now(t->loop));
}

/* ---- the meter link, watched on the device clock ---- */

static void on_link_timer(void *arg)
{
	struct sc_twin *t = arg;
	t->link_timer = -1;
	if (sc_device_link(&t->dev, sc_twin_now_ms(t)) == SC_LINK_NO_DATA && t->link != SC_LINK_NO_DATA) {
		t->link = SC_LINK_NO_DATA;
		sc_log(SC_LOG_WARN, "meter: no data for %g s; the last values stay served",
		       (double)sc_device_no_data_ms(&t->dev) / 1000.0);
	}
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
		else if (t->link == SC_LINK_NEVER && t->dongle.starts > 1)
			sc_log(SC_LOG_INFO, "meter: the first telegram since the restart");
		t->link = SC_LINK_OK;
		sc_loop_cancel_timer(t->loop, t->link_timer);
		t->link_timer = sc_loop_add_device_timer(
			t->loop, t->clock, t->dev.reading_ms + sc_device_no_data_ms(&t->dev),
			on_link_timer, t);
		/* manual §5.4: a power_instant message for every telegram parsed. */
		sc_twin_publish_power(t);
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
		double at = (double)sc_twin_now_ms(t) / 1000.0;
		if (sc_capture_writer_add(t->record, at, data, len, why, sizeof why) != 0) {
			if (!t->record_failing)
				sc_log(SC_LOG_ERROR, "record: %s", why);
			t->record_failing = true;
		} else {
			t->record_failing = false;
		}
	}
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

/* Why a server cannot listen, with what to do about it. */
static void bind_error(char *why, size_t cap, const char *what, const char *h, int p, int err,
		       const char *flag)
{
	if (err == EACCES)
		snprintf(why, cap,
			 "%s: cannot listen on %s:%d: permission denied (ports below 1024 need root "
			 "or CAP_NET_BIND_SERVICE); choose another port, e.g. %s %s:%d", what, h, p,
			 flag, h, p == 502 ? 1502 : p < 1024 ? p + 8000 : p + 1);
	else if (err == EADDRINUSE)
		snprintf(why, cap,
			 "%s: cannot listen on %s:%d: the port is in use; choose another with %s "
			 "ADDR:PORT (port 0 picks a free one)", what, h, p, flag);
	else
		snprintf(why, cap, "%s: cannot listen on %s:%d: %s", what, h, p, strerror(err));
}

/* ---- HTTP ---- */

void sc_twin_api_ctx(struct sc_twin *t, struct sc_api_ctx *c)
{
	memset(c, 0, sizeof *c);
	c->dongle = &t->dongle;
	c->dev = &t->dev;
	sc_twin_diag(t, &c->diag);
	c->now_ms = sc_twin_now_ms(t);
	c->modbus_port = t->modbus_port;
	if (t->mqtt) {
		c->mqtt_state = sc_mqtt_state_name(sc_mqtt_state(t->mqtt));
		c->mqtt_error = sc_mqtt_last_error(t->mqtt);
	} else {
		c->mqtt_state = "off";
		c->mqtt_error = t->mqtt_note;
	}
	c->save = sc_twin_save_config;
	c->save_arg = t;
}

void sc_twin_api(struct sc_twin *t, const struct sc_http_request *rq, struct sc_http_response *rs)
{
	struct sc_api_ctx c;
	sc_twin_api_ctx(t, &c);
	sc_api_handle(&t->api, &c, rq, rs);
	sc_log(SC_LOG_DEBUG, "http: %s %s -> %d", rq->method, rq->path, rs->status);
	if (c.want_soft_reset) {
		struct sc_dongle_events ev;
		memset(&ev, 0, sizeof ev);
		sc_log(SC_LOG_INFO, "reset: requested through the API");
		sc_dongle_soft_reset(&t->dongle, c.now_ms, &ev);
		sc_twin_apply(t, &ev);
	}
	if (c.firmware_started) {
		char v[16];
		sc_fw_format(&t->dongle.fw.target, v, sizeof v);
		sc_log(SC_LOG_INFO, "firmware: update to %s started", v);
	}
	sc_twin_schedule_dongle(t);
}

static void on_http(void *arg, const struct sc_http_request *rq, struct sc_http_response *rs)
{
	struct sc_twin *t = arg;
	if (t->o.route)
		t->o.route(t, rq, rs);
	else
		sc_twin_api(t, rq, rs);
}

bool sc_twin_control_on(const struct sc_twin *t)
{
	return t->o.control;
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

void sc_twin_apply(struct sc_twin *t, const struct sc_dongle_events *ev)
{
	char why[300];
	if (ev->factory_reset) {
		sc_log(SC_LOG_WARN, "reset: factory reset: configuration back to the factory settings");
		sc_twin_forget_config(t);
	}
	if (ev->services_down) {
		sc_log(SC_LOG_INFO, "restart: the device restarts (Modbus and MQTT pause)");
		/* What the device counts lives in its RAM: a restart starts over. */
		memset(&t->dev.counters, 0, sizeof t->dev.counters);
		memset(&t->pings, 0, sizeof t->pings);
		/* So does the last reading: Modbus serves 0 again and the meter
		 * is "never" until the first good telegram after the restart. */
		sc_device_restart(&t->dev);
		sc_loop_cancel_timer(t->loop, t->link_timer);
		t->link_timer = -1;
		t->link = SC_LINK_NEVER;
		sc_api_end_session(&t->api);
		sc_twin_stop_mqtt(t);
		sc_modbus_stop(t->modbus);
		t->modbus = NULL;
	}
	if (ev->firmware_changed) {
		char v[16];
		sc_fw_format(&t->dongle.fw.version, v, sizeof v);
		sc_log(SC_LOG_INFO, "firmware: %s runs (energy in %s)", v,
		       sc_fw_energy_kwh(&t->dongle.fw.version) ? "kWh" : "Wh");
		set_energy_unit(t);
		sc_twin_save_firmware(t);
	}
	if (ev->services_up) {
		int merr;
		/* Said once Modbus listens again, so that whoever reads the log
		 * can connect when they see it. */
		if (!start_modbus(t, &merr)) {
			bind_error(why, sizeof why, "modbus", t->o.modbus.addr, t->modbus_port, merr,
				   "--modbus");
			sc_log(SC_LOG_ERROR, "%s", why);
		}
		sc_log(SC_LOG_INFO, "restart: running again");
		sc_twin_start_mqtt(t);
	} else if (ev->config_applied && sc_dongle_services_on(&t->dongle)) {
		sc_log(SC_LOG_INFO, "config: saved settings take effect");
		sc_twin_start_mqtt(t);
	}
	if (ev->soft_reset)
		sc_log(SC_LOG_INFO, "reset: soft reset (the device restarts and reconnects)");
	if (ev->ap_changed)
		sc_log(SC_LOG_INFO, "network: access-point mode %s%s%s",
		       t->dongle.ap_mode ? "on (SSID SC-" : "off", t->dongle.ap_mode ? t->dongle.serial : "",
		       t->dongle.ap_mode ? ", 192.168.71.1)" : "");
	if (ev->network_down) {
		sc_log(SC_LOG_INFO, "network: the address is gone");
		sc_twin_hold_mqtt(t);
	}
	if (ev->network_up) {
		char a[16];
		sc_ipv4_format(t->dongle.addr, a, sizeof a);
		sc_log(SC_LOG_INFO, "network: %s address %s", t->dongle.ap_mode ? "access-point"
				    : sc_addr_state_name(t->dongle.addr_state), a);
		sc_twin_hold_mqtt(t);
	}
}

static void on_dongle(void *arg)
{
	struct sc_twin *t = arg;
	t->dongle_timer = -1;
	int64_t now = sc_twin_now_ms(t);
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	if (sc_fw_step(&t->dongle.fw, now)) {
		sc_log(SC_LOG_INFO, "firmware: installed; restarting into it");
		sc_dongle_firmware_restart(&t->dongle, now, &ev);
		sc_twin_apply(t, &ev);
	}
	sc_dongle_step(&t->dongle, now, &ev);
	sc_twin_apply(t, &ev);
	sc_twin_schedule_dongle(t);
}

void sc_twin_schedule_dongle(struct sc_twin *t)
{
	int64_t now = sc_twin_now_ms(t);
	int64_t at = sc_dongle_next_ms(&t->dongle, now);
	int64_t fw = sc_fw_next_ms(&t->dongle.fw);
	if (fw >= 0 && (at < 0 || fw < at))
		at = fw;
	sc_loop_cancel_timer(t->loop, t->dongle_timer);
	t->dongle_timer = at < 0 ? -1
				 : sc_loop_add_device_timer(t->loop, t->clock, at, on_dongle, t);
}

/* ---- start and stop ---- */

int sc_twin_start(struct sc_loop *loop, struct sc_clock *clock, const struct sc_twin_opts *o,
		  struct sc_twin **out, char *why, size_t cap)
{
	*out = NULL;
	struct sc_twin *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(why, cap, "out of memory");
		return SC_ERR_NOMEM;
	}
	t->loop = loop;
	t->clock = clock;
	t->o = *o;
	t->link_timer = t->counters_timer = t->ping_timer = t->dongle_timer = t->release_timer = -1;
	sc_heap_init(&t->heap, o->seed);
	char e[300];
	if (o->state_dir && sc_state_open(&t->state, o->state_dir, e, sizeof e) != 0) {
		snprintf(why, cap, "state: %s", e);
		free(t);
		return SC_ERR_IO;
	}

	/* What the device kept: configuration, firmware. */
	struct sc_config saved;
	bool configured = sc_twin_load_config(t, &saved);
	struct sc_fw_version fw;
	if (sc_fw_parse(o->firmware, &fw) != SC_OK) {
		snprintf(why, cap, "firmware: '%s' is not a version", o->firmware);
		free(t);
		return SC_ERR_INVAL;
	}
	struct sc_fw_version fw_given = fw;
	sc_twin_load_firmware(t, &fw);
	sc_twin_log_overrides(t, configured ? &saved : NULL, &fw_given, &fw);
	int64_t now = sc_twin_now_ms(t);
	sc_dongle_init(&t->dongle, o->serial, &o->factory, configured ? &saved : NULL, configured,
		       &fw, !o->power_up, now);
	t->dongle.led_link_local_normal = o->led_link_local_normal;

	struct sc_device_config dc = o->dev;
	dc.regs.energy_kwh = sc_fw_energy_kwh(&fw);
	dc.on_event = on_event;
	dc.on_event_arg = t;
	if (o->record) {
		t->record = sc_capture_writer_open(o->record, e, sizeof e);
		if (!t->record) {
			snprintf(why, cap, "--record: %s", e);
			free(t);
			return SC_ERR_IO;
		}
	}
	if (o->p1_out) {
		t->p1out = sc_p1out_open(loop, o->p1_out, o->dev.protocol == SC_PROTO_TIC, why, cap);
		if (!t->p1out) {
			char ignored[8];
			sc_capture_writer_close(t->record, ignored, sizeof ignored);
			free(t);
			return SC_ERR_IO;
		}
	}
	if (o->p1_out || o->record) {
		dc.on_bytes = on_bytes;
		dc.on_bytes_arg = t;
	}
	if (sc_device_init(&t->dev, &dc) != SC_OK) {
		snprintf(why, cap, "out of memory");
		sc_p1out_close(t->p1out);
		char ignored[8];
		sc_capture_writer_close(t->record, ignored, sizeof ignored);
		free(t);
		return SC_ERR_NOMEM;
	}

	int rc;
	char pw[SC_API_PASSWORD_MAX + 1] = "";
	if ((o->http_addr || o->https_addr || o->password) &&
	    (rc = sc_twin_setup_password(t, pw, sizeof pw, why, cap)) != SC_OK)
		goto fail;
	sc_api_init(&t->api, pw, o->session_idle_ms);
	t->api.echo_secrets = o->echo_secrets;
	t->api.page = o->page;
	t->api.page_len = o->page_len;
	t->api.plain_http_api = o->plain_http_api;
	t->api.https_port = o->https_port_shown;
	snprintf(t->api.serial, sizeof t->api.serial, "%s", o->serial);
	if (gethostname(t->api.hostname, sizeof t->api.hostname) != 0)
		t->api.hostname[0] = '\0';
	t->api.hostname[sizeof t->api.hostname - 1] = '\0';
	if (o->https_addr && (rc = sc_twin_setup_certificate(t, why, cap)) != SC_OK)
		goto fail;

	int err;
	rc = SC_ERR_IO;
	if (sc_dongle_services_on(&t->dongle) && !start_modbus(t, &err)) {
		bind_error(why, cap, "modbus", o->modbus.addr, o->modbus.port, err, "--modbus");
		goto fail;
	}
	if (o->https_addr) {
		struct sc_http_opts ho = {o->https_addr, o->https_port, true, t->cert_pem, t->key_pem};
		t->https = sc_http_start(loop, &ho, on_http, t, &err);
		if (!t->https) {
			bind_error(why, cap, "https", o->https_addr, o->https_port, err, "--https");
			goto fail;
		}
		t->api.https_port = sc_http_port(t->https);
	}
	if (o->http_addr) {
		struct sc_http_opts ho = {o->http_addr, o->http_port, false, NULL, NULL};
		t->http = sc_http_start(loop, &ho, on_http, t, &err);
		if (!t->http) {
			bind_error(why, cap, "http", o->http_addr, o->http_port, err, "--http");
			goto fail;
		}
	}
	/* MQTT before the source, so the first telegram is published. */
	if (sc_dongle_services_on(&t->dongle))
		sc_twin_start_mqtt(t);
	sc_twin_start_timers(t, now);
	t->source = sc_source_start(loop, &t->dev, clock, &o->src);
	if (!t->source) {
		snprintf(why, cap, "cannot start the source %s", o->source_spec);
		goto fail;
	}
	sc_twin_schedule_dongle(t);
	*out = t;
	return SC_OK;
fail:
	sc_twin_stop(t);
	return rc;
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
	sc_twin_stop_mqtt(t);
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

int sc_twin_modbus_read(struct sc_twin *t, uint16_t addr, uint16_t count, uint16_t *out)
{
	return t->modbus ? sc_modbus_read(t->modbus, addr, count, out) : -1;
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
	sc_twin_describe_mqtt(t, mqtt, sizeof mqtt);
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
	char mqtt[256];
	sc_twin_mqtt_summary(t, mqtt, sizeof mqtt);
	snprintf(buf, cap,
		 "telegrams: %llu ok, %llu failed, %llu framing; modbus: %llu requests, %llu "
		 "exceptions, %llu connections, %llu refused; %s; http: %lu requests",
		 (unsigned long long)d.telegrams_pass, (unsigned long long)d.telegrams_fail,
		 (unsigned long long)d.telegrams_frame_fail,
		 (unsigned long long)(st ? st->requests : 0), (unsigned long long)(st ? st->exceptions : 0),
		 (unsigned long long)(st ? st->connections : 0), (unsigned long long)(st ? st->refused : 0),
		 mqtt, (t->http ? sc_http_requests(t->http) : 0) + (t->https ? sc_http_requests(t->https) : 0));
}

const struct sc_api *sc_twin_api_of(const struct sc_twin *t)
{
	return &t->api;
}

const char *sc_twin_serial(const struct sc_twin *t)
{
	return t->o.serial;
}
