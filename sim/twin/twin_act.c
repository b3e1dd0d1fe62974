/* What is done to a twin from outside the device: the actions of
 * scenarios, of the control API and of test hooks (action.h), all carried
 * by sc_twin_act; and what only a simulator can do: another meter source,
 * another clock speed, the whole internal state as a document. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "sc_error.h"
#include "twin_impl.h"

static void button_at(struct sc_twin *t, bool down, int64_t at_ms)
{
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_log(SC_LOG_INFO, "button: %s", down ? "pressed" : "released");
	sc_dongle_button(&t->dongle, down, at_ms, &ev);
	sc_twin_apply(t, &ev);
	sc_twin_schedule_dongle(t);
}

static void button(struct sc_twin *t, bool down)
{
	button_at(t, down, sc_twin_now_ms(t));
}

static void on_release(void *arg)
{
	struct sc_twin *t = arg;
	t->release_timer = -1;
	/* Released when it was due, however late the loop runs the timer: a
	 * press of 9.9 s is not held 10 s because the machine was busy. */
	int64_t now = sc_twin_now_ms(t);
	button_at(t, false, t->release_at_ms < now ? t->release_at_ms : now);
}

/* Pressed now, released after ms of device time. */
static void press(struct sc_twin *t, int64_t ms)
{
	sc_loop_cancel_timer(t->loop, t->release_timer);
	button(t, true);
	t->release_at_ms = sc_twin_now_ms(t) + ms;
	t->release_timer = sc_loop_add_device_timer(t->loop, t->clock, t->release_at_ms,
						    on_release, t);
}

static void meter_cut(struct sc_twin *t, bool cut)
{
	if (t->dev.cut != cut)
		sc_log(SC_LOG_INFO, "meter: cable %s", cut ? "out" : "back in");
	t->dev.cut = cut;
}

static void set_env(struct sc_twin *t, const struct sc_action *a)
{
	struct sc_dongle_env env = t->dongle.env;
	bool *f[SC_NET_FIELDS] = {&env.ethernet_cable, &env.wifi_in_range, &env.dhcp_server,
				  &env.gateway, &env.internet};
	for (int i = 0; i < SC_NET_FIELDS; i++)
		if (a->net_given[i])
			*f[i] = a->net_value[i];
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_log(SC_LOG_INFO, "network: ethernet cable %s, wi-fi %s, dhcp server %s, gateway %s, "
			    "internet %s", env.ethernet_cable ? "in" : "out",
	       env.wifi_in_range ? "in range" : "out of range", env.dhcp_server ? "on" : "off",
	       env.gateway ? "up" : "down", env.internet ? "up" : "down");
	sc_dongle_set_env(&t->dongle, &env, sc_twin_now_ms(t), &ev);
	sc_twin_apply(t, &ev);
	/* The gateway or the internet changed: a broker beyond the LAN with it. */
	sc_twin_hold_mqtt(t);
	sc_twin_schedule_dongle(t);
}

static void broker_cut(struct sc_twin *t, bool cut)
{
	t->broker_cut = cut;
	sc_log(SC_LOG_INFO, "mqtt: broker %s", cut ? "down: the network refuses it"
						     : "reachable again");
	sc_twin_hold_mqtt(t);
}

static void power_cycle(struct sc_twin *t)
{
	sc_log(SC_LOG_INFO, "power: cut and back");
	struct sc_dongle_events ev;
	memset(&ev, 0, sizeof ev);
	sc_dongle_restart(&t->dongle, sc_twin_now_ms(t), &ev);
	sc_twin_apply(t, &ev);
	sc_twin_schedule_dongle(t);
}

int sc_twin_act(struct sc_twin *t, const struct sc_action *a, char *why, size_t cap)
{
	switch (a->kind) {
	case SC_ACT_BUTTON:
		if (a->button == SC_BUTTON_PRESS)
			press(t, (int64_t)llround(a->seconds * 1000.0));
		else
			button(t, a->button == SC_BUTTON_DOWN);
		return SC_OK;
	case SC_ACT_METER:
		if (a->meter_set)
			return sc_source_meter_set(t->source, a->meter_set, sc_twin_now_ms(t), why,
						   cap);
		meter_cut(t, a->cut);
		return SC_OK;
	case SC_ACT_NETWORK:
		set_env(t, a);
		return SC_OK;
	case SC_ACT_BROKER:
		broker_cut(t, a->cut);
		return SC_OK;
	case SC_ACT_POWER:
		power_cycle(t);
		return SC_OK;
	case SC_ACT_TELEGRAM:
		/* With the cable out the bytes never arrive. */
		if (t->dev.cut)
			return 1;
		sc_device_feed(&t->dev, a->bytes, a->len, sc_twin_now_ms(t));
		return SC_OK;
	case SC_ACT_NONE:
		break;
	}
	snprintf(why, cap, "not an action");
	return SC_ERR_INVAL;
}

void sc_twin_hold_generator(struct sc_twin *t)
{
	sc_source_pause(t->source);
}

int sc_twin_set_source(struct sc_twin *t, const char *spec, const struct sc_source_opts *o,
		       char *why, size_t cap)
{
	struct sc_source_opts so = *o;
	so.tic_line = t->dev.cfg.protocol == SC_PROTO_TIC;
	struct sc_source *s = sc_source_start(t->loop, &t->dev, t->clock, &so);
	if (!s) {
		snprintf(why, cap, "the source %s cannot be started (see the log)", spec);
		return SC_ERR_IO;
	}
	sc_source_stop(t->source);
	t->source = s;
	t->o.src = so;
	sc_log(SC_LOG_INFO, "source: now %s", sc_source_describe(s));
	return SC_OK;
}

const struct sc_source_opts *sc_twin_source_opts(const struct sc_twin *t)
{
	return &t->o.src;
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
	sc_twin_api_ctx(t, &c);
	/* {"Status": what the twin observes in the device (a unit does not
	 * serve it), "Twin": what only a simulator has}. The device's own
	 * status document is /api/v1/status, behind its login. */
	char *status = sc_api_state_json(&c);
	cJSON *seen = status ? cJSON_Parse(status) : NULL;
	free(status);
	cJSON *root = seen ? cJSON_CreateObject() : NULL;
	if (!root) {
		cJSON_Delete(seen);
		return NULL;
	}
	cJSON_AddItemToObject(root, "Status", seen);
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
	add_bool(m, "Paused", sc_source_paused(t->source));
	/* The values held by hand (sc-ctl set), as now in force. */
	const struct sc_meter *gm = sc_source_meter(t->source);
	cJSON *hand = cJSON_AddObjectToObject(m, "Hand");
	for (int k = 0; gm && k < SC_MK_COUNT; k++) {
		if (!gm->hand.held[k])
			continue;
		double v = gm->hand.to[k];
		if (gm->hand.secs[k] > 0 && (double)(gm->t - gm->hand.t0[k]) < gm->hand.secs[k])
			v = gm->hand.from[k] + (gm->hand.to[k] - gm->hand.from[k]) *
						       (double)(gm->t - gm->hand.t0[k]) /
						       gm->hand.secs[k];
		/* The tariff as the meter prints it (BE: 1 day = our 2). */
		if (k == SC_MK_TARIFF && t->o.src.flavour == SC_FLAVOUR_EMUCS)
			v = 3 - v;
		cJSON_AddNumberToObject(hand, sc_meter_key_name((enum sc_meter_key)k), v);
	}
	cJSON *q = cJSON_AddObjectToObject(tw, "MQTT");
	add_bool(q, "BrokerCut", t->broker_cut);
	cJSON_AddStringToObject(q, "State", sc_twin_mqtt_state(t));
	cJSON_AddStringToObject(q, "Topic", t->mqtt ? t->topic_power : "");
	if (t->mqtt) {
		/* Where each publish went: sent, or which way it was dropped. */
		const struct sc_mqtt_counters *mc = sc_mqtt_counters(t->mqtt);
		cJSON_AddNumberToObject(q, "Sent", (double)mc->send_pass);
		cJSON_AddNumberToObject(q, "InFlight", (double)sc_mqtt_in_flight(t->mqtt));
		cJSON *dr = cJSON_AddObjectToObject(q, "Dropped");
		cJSON_AddNumberToObject(dr, "NotConnected", (double)mc->dropped);
		cJSON_AddNumberToObject(dr, "Refused", (double)mc->refused);
		cJSON_AddNumberToObject(dr, "LostWithConnection", (double)mc->lost);
	}
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
