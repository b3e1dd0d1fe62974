/* A twin's MQTT policy: which client runs for the configuration in force
 * (none when MQTT is off or would send credentials in plain text), its
 * topics, what is published when (power_instant for every telegram parsed,
 * device_counters every --counters-interval of device time), the counters
 * those documents carry (the network model's pings, the heap model), and
 * when the client is held (no address) or its broker refused (broker cut
 * off, no route to it in the network model). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "payload.h"
#include "sc_error.h"
#include "tls_check.h"
#include "twin_impl.h"

static int64_t device_time_s(void *arg)
{
	return sc_twin_now_ms(arg) / 1000;
}

/* Why the network keeps the broker from the client now: a test's broker
 * outage (refused, as a broker host that is down), or the network model
 * (no route beyond the LAN); NULL when the broker can be reached. */
static const char *broker_refusal(const struct sc_twin *t, const char *host)
{
	if (t->broker_cut)
		return "connection refused (the broker is down)";
	if (!sc_dongle_has_address(&t->dongle))
		return NULL; /* held down instead */
	return sc_dongle_broker_route(&t->dongle, host);
}

bool sc_twin_is_factory_broker(const char *url)
{
	struct sc_broker b, factory;
	char why[160];
	if (sc_broker_parse(url, &b, why, sizeof why) != SC_OK ||
	    sc_broker_parse(SC_CONFIG_DEFAULT_BROKER, &factory, why, sizeof why) != SC_OK)
		return false;
	size_t n = strlen(b.host);
	while (n > 0 && b.host[n - 1] == '.') /* the root's dot: the same host */
		n--;
	return n == strlen(factory.host) && strncasecmp(b.host, factory.host, n) == 0;
}

void sc_twin_stop_mqtt(struct sc_twin *t)
{
	sc_mqtt_stop(t->mqtt);
	t->mqtt = NULL;
}

void sc_twin_start_mqtt(struct sc_twin *t)
{
	const struct sc_config *c = &t->dongle.running;
	sc_twin_stop_mqtt(t);
	t->mqtt_note[0] = '\0';
	if (t->o.mqtt_off) {
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "off (--mqtt off)");
		return;
	}
	if (!c->mqtt_enabled) {
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "disabled in the configuration");
		return;
	}
	if (!t->o.dial_factory_broker && sc_twin_is_factory_broker(c->broker)) {
		snprintf(t->mqtt_note, sizeof t->mqtt_note,
			 "the factory broker is not dialled by a twin (--mqtt URL names a broker)");
		sc_log(SC_LOG_INFO, "mqtt: %s is the factory broker (the vendor's cloud); a twin does "
				    "not dial it unless --mqtt names it: give --mqtt URL for a broker, or "
				    "--mqtt off", c->broker);
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
	/* A minimum above the maximum is cut to it (--mqtt-reconnect-min). */
	mo.reconnect_min_ms = t->o.reconnect_min_ms < t->o.reconnect_max_ms ? t->o.reconnect_min_ms
									  : t->o.reconnect_max_ms;
	mo.reconnect_max_ms = t->o.reconnect_max_ms;
	mo.device_time = device_time_s;
	mo.device_time_arg = t;
	mo.start_held = !sc_dongle_has_address(&t->dongle);
	mo.refused = broker_refusal(t, mo.broker.host);
	sc_topic(t->topic_power, sizeof t->topic_power, c->site, t->o.serial, "power_instant",
		 t->o.topic_site);
	sc_topic(t->topic_counters, sizeof t->topic_counters, c->site, t->o.serial,
		 "device_counters", t->o.topic_site);
	t->mqtt = sc_mqtt_start(t->loop, &mo);
	if (!t->mqtt)
		snprintf(t->mqtt_note, sizeof t->mqtt_note, "the client could not be created");
	else if (t->mqtt_batch)
		sc_mqtt_batch(t->mqtt, true);
}

void sc_twin_mqtt_batch(struct sc_twin *t, bool on)
{
	t->mqtt_batch = on;
	if (t->mqtt)
		sc_mqtt_batch(t->mqtt, on);
}

void sc_twin_mqtt_push(struct sc_twin *t)
{
	if (t->mqtt)
		sc_mqtt_push(t->mqtt);
}

void sc_twin_hold_mqtt(struct sc_twin *t)
{
	if (!t->mqtt)
		return;
	struct sc_broker b;
	char why[160];
	if (sc_broker_parse(t->dongle.running.broker, &b, why, sizeof why) != SC_OK)
		b.host[0] = '\0';
	/* Refused first, so that a release does not connect past it. */
	sc_mqtt_refuse(t->mqtt, broker_refusal(t, b.host));
	sc_mqtt_hold(t->mqtt, !sc_dongle_has_address(&t->dongle));
}

void sc_twin_publish_power(struct sc_twin *t)
{
	if (!t->mqtt)
		return;
	char json[2048];
	/* Energy in the unit the emulated firmware sends (kWh before 5.1). */
	const struct sc_payload_opts po = {t->dev.cfg.regs.energy_kwh};
	int n = sc_payload_power_instant_text_as(&t->dev.reading, &po, json, sizeof json);
	if (n > 0)
		sc_mqtt_publish(t->mqtt, t->topic_power, json, (size_t)n);
}

/* ---- the counters device_counters carries ---- */

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
	int64_t now = sc_twin_now_ms(t);
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
	int n = sc_diag_json(&d, sc_twin_now_ms(t) / 1000, json, sizeof json);
	if (n > 0 && t->mqtt)
		sc_mqtt_publish(t->mqtt, t->topic_counters, json, (size_t)n);
	t->next_counters_ms += (int64_t)t->o.counters_interval_s * 1000;
	t->counters_timer = sc_loop_add_device_timer(t->loop, t->clock, t->next_counters_ms,
						     on_counters, t);
}

void sc_twin_start_timers(struct sc_twin *t, int64_t now)
{
	t->next_ping_ms = now + SC_DIAG_PING_S * 1000;
	t->ping_timer = sc_loop_add_device_timer(t->loop, t->clock, t->next_ping_ms, on_ping, t);
	if (t->o.counters_interval_s > 0) {
		t->next_counters_ms = now + (int64_t)t->o.counters_interval_s * 1000;
		t->counters_timer = sc_loop_add_device_timer(t->loop, t->clock, t->next_counters_ms,
							     on_counters, t);
	}
}

void sc_twin_mqtt_summary(struct sc_twin *t, char *buf, size_t cap)
{
	struct sc_mqtt_counters c = {0};
	if (t->mqtt)
		c = *sc_mqtt_counters(t->mqtt);
	snprintf(buf, cap,
		 "mqtt: %llu sent, %llu failed (%llu dropped while not connected, %llu refused, "
		 "%llu lost with the connection), %llu connects, %llu errors",
		 (unsigned long long)c.send_pass, (unsigned long long)c.send_fail,
		 (unsigned long long)c.dropped, (unsigned long long)c.refused,
		 (unsigned long long)c.lost, (unsigned long long)c.event_connect,
		 (unsigned long long)c.event_errors);
}

void sc_twin_describe_mqtt(struct sc_twin *t, char *buf, size_t cap)
{
	if (t->mqtt)
		snprintf(buf, cap, "mqtt %s as %s, topic %s", sc_mqtt_describe(t->mqtt),
			 t->o.client_id ? t->o.client_id : t->o.serial, t->topic_power);
	else
		snprintf(buf, cap, "mqtt %s", t->mqtt_note);
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

bool sc_twin_mqtt_backed_up(const struct sc_twin *t, uint64_t *progress)
{
	if (!t->mqtt) {
		if (progress)
			*progress = 0;
		return false;
	}
	return sc_mqtt_backed_up(t->mqtt, progress);
}

int sc_twin_mqtt_state_code(const struct sc_twin *t)
{
	return t->mqtt ? (int)sc_mqtt_state(t->mqtt) : -1;
}

void sc_twin_mqtt_attempt_now(struct sc_twin *t)
{
	if (t->mqtt && sc_mqtt_state(t->mqtt) == SC_MQTT_IDLE)
		sc_mqtt_reconnect(t->mqtt);
}
