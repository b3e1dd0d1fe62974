#include "twin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mqtt.h"
#include "payload.h"
#include "sc_error.h"
#include "tls_check.h"

struct sc_twin {
	struct sc_loop *loop;
	struct sc_clock *clock;
	struct sc_twin_opts o;
	struct sc_config cfg;     /* the configuration in force */
	struct sc_device dev;
	struct sc_source *source;
	struct sc_modbus *modbus;
	struct sc_mqtt *mqtt;
	char topic_power[300], topic_counters[300];
	int64_t boot_ms;          /* device time of the last start */
	enum sc_meter_link link;  /* as last logged */
	int link_timer, counters_timer, ping_timer;
	int64_t next_counters_ms, next_ping_ms;
	struct sc_diag pings;     /* the ping counters of the model */
	struct sc_heap_model heap;
	char mqtt_note[512];      /* why there is no MQTT client, "" when there is one */
};

static int64_t now_ms(const struct sc_twin *t)
{
	return sc_clock_now(t->clock, sc_mono_ms());
}

static int64_t device_time_s(void *arg)
{
	return now_ms(arg) / 1000;
}

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
		t->link_timer = sc_loop_add_timer(
			t->loop,
			sc_clock_mono_at(t->clock, t->dev.reading_ms + sc_device_no_data_ms(&t->dev)),
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

/* ---- diagnostics ---- */

static void on_ping(void *arg)
{
	struct sc_twin *t = arg;
	/* The network model (link, address, gateway, internet) decides; the
	 * twin's own network is up while it runs. */
	t->pings.gw_ping_pass++;
	t->pings.internet_ping_pass++;
	t->next_ping_ms += SC_DIAG_PING_S * 1000;
	t->ping_timer = sc_loop_add_timer(t->loop, sc_clock_mono_at(t->clock, t->next_ping_ms),
					  on_ping, t);
}

void sc_twin_diag(struct sc_twin *t, struct sc_diag *d)
{
	memset(d, 0, sizeof *d);
	int64_t now = now_ms(t);
	d->uptime = now > t->boot_ms ? (uint64_t)(now - t->boot_ms) / 1000 : 0;
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
	t->counters_timer = sc_loop_add_timer(
		t->loop, sc_clock_mono_at(t->clock, t->next_counters_ms), on_counters, t);
}

/* ---- MQTT ---- */

static void start_mqtt(struct sc_twin *t)
{
	const struct sc_config *c = &t->cfg;
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
	sc_topic(t->topic_power, sizeof t->topic_power, c->site, t->o.serial, "power_instant",
		 t->o.topic_site);
	sc_topic(t->topic_counters, sizeof t->topic_counters, c->site, t->o.serial,
		 "device_counters", t->o.topic_site);
	t->mqtt = sc_mqtt_start(t->loop, &mo);
	if (!t->mqtt)
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "the client could not be created");
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
	t->cfg = o->factory;
	t->link_timer = t->counters_timer = t->ping_timer = -1;
	sc_heap_init(&t->heap, o->seed);
	struct sc_device_config dc = o->dev;
	dc.on_event = on_event;
	dc.on_event_arg = t;
	if (sc_device_init(&t->dev, &dc) != SC_OK) {
		sc_log(SC_LOG_ERROR, "out of memory");
		free(t);
		return NULL;
	}
	t->boot_ms = now_ms(t);

	int merr;
	t->modbus = sc_modbus_start(loop, &t->dev, &o->modbus, &merr);
	if (!t->modbus) {
		const char *h = o->modbus.addr;
		int p = o->modbus.port;
		if (merr == EACCES)
			sc_log(SC_LOG_ERROR,
			       "cannot listen on %s:%d: permission denied (ports below 1024 need "
			       "root or CAP_NET_BIND_SERVICE); choose another port, e.g. --modbus %s:1502",
			       h, p, h);
		else if (merr == EADDRINUSE)
			sc_log(SC_LOG_ERROR,
			       "cannot listen on %s:%d: the port is in use; choose another with "
			       "--modbus ADDR:PORT (port 0 picks a free one)", h, p);
		else
			sc_log(SC_LOG_ERROR, "cannot listen on %s:%d: %s", h, p, strerror(merr));
		*exit_code = 3;
		sc_twin_stop(t);
		return NULL;
	}
	/* MQTT before the source, so the first telegram is published. */
	start_mqtt(t);
	t->next_ping_ms = t->boot_ms + SC_DIAG_PING_S * 1000;
	t->ping_timer = sc_loop_add_timer(loop, sc_clock_mono_at(clock, t->next_ping_ms), on_ping, t);
	if (o->counters_interval_s > 0) {
		t->next_counters_ms = t->boot_ms + (int64_t)o->counters_interval_s * 1000;
		t->counters_timer = sc_loop_add_timer(loop, sc_clock_mono_at(clock, t->next_counters_ms),
						      on_counters, t);
	}
	t->source = sc_source_start(loop, &t->dev, clock, &o->src);
	if (!t->source) {
		sc_log(SC_LOG_ERROR, "cannot start the source %s", o->source_spec);
		*exit_code = 3;
		sc_twin_stop(t);
		return NULL;
	}
	*exit_code = 0;
	return t;
}

void sc_twin_stop(struct sc_twin *t)
{
	if (!t)
		return;
	sc_source_stop(t->source);
	sc_loop_cancel_timer(t->loop, t->link_timer);
	sc_loop_cancel_timer(t->loop, t->counters_timer);
	sc_loop_cancel_timer(t->loop, t->ping_timer);
	sc_mqtt_stop(t->mqtt);
	sc_modbus_stop(t->modbus);
	sc_device_free(&t->dev);
	free(t);
}

struct sc_device *sc_twin_device(struct sc_twin *t)
{
	return &t->dev;
}

int sc_twin_modbus_port(const struct sc_twin *t)
{
	return sc_modbus_port(t->modbus);
}

void sc_twin_describe(struct sc_twin *t, char *buf, size_t cap)
{
	const struct sc_twin_opts *o = &t->o;
	const struct sc_regmap_opts *r = &o->dev.regs;
	char mqtt[600];
	if (t->mqtt)
		snprintf(mqtt, sizeof mqtt, "mqtt %s as %s, topic %s", sc_mqtt_describe(t->mqtt),
			 o->client_id ? o->client_id : o->serial, t->topic_power);
	else
		snprintf(mqtt, sizeof mqtt, "mqtt %s", t->mqtt_note);
	snprintf(buf, cap,
		 "modbus tcp %s:%d (%d client%s, idle timeout %d s, words %s, energy %s); %s; "
		 "serial %s, firmware %s; device %s; source %s",
		 o->modbus.addr, sc_modbus_port(t->modbus), o->modbus.max_clients,
		 o->modbus.max_clients > 1 ? "s" : "", o->modbus.idle_timeout_s,
		 r->order == SC_WORDS_CDAB ? "CDAB" : "ABCD", r->energy_kwh ? "kWh" : "Wh", mqtt,
		 o->serial, o->firmware,
		 o->dev.protocol == SC_PROTO_AUTO ? "from the first bytes" : sc_protocol_name(o->dev.protocol),
		 sc_source_describe(t->source));
}

void sc_twin_summary(struct sc_twin *t, char *buf, size_t cap)
{
	const struct sc_modbus_stats *st = sc_modbus_stats(t->modbus);
	struct sc_diag d;
	sc_twin_diag(t, &d);
	snprintf(buf, cap,
		 "telegrams: %llu ok, %llu failed, %llu framing; modbus: %llu requests, %llu "
		 "exceptions, %llu connections, %llu refused; mqtt: %llu sent, %llu failed, "
		 "%llu connects, %llu errors",
		 (unsigned long long)d.telegrams_pass, (unsigned long long)d.telegrams_fail,
		 (unsigned long long)d.telegrams_frame_fail, (unsigned long long)st->requests,
		 (unsigned long long)st->exceptions, (unsigned long long)st->connections,
		 (unsigned long long)st->refused, (unsigned long long)d.mqtt_send_pass,
		 (unsigned long long)d.mqtt_send_fail, (unsigned long long)d.mqtt_event_connect,
		 (unsigned long long)d.mqtt_event_errors);
}
