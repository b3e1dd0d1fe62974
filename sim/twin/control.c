#include "control.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter.h"
#include "tic_gen.h"
#include "twin.h"

static void reply(struct sc_http_response *rs, int status, cJSON *doc)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	rs->status = text ? status : 500;
	rs->content_type = "application/json";
	rs->body = text ? text : strdup("{\"error\":\"out of memory\"}");
	rs->len = rs->body ? strlen(rs->body) : 0;
}

static void fail(struct sc_http_response *rs, int status, const char *error, const char *field,
		 const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "error", error);
		if (field)
			cJSON_AddStringToObject(o, "field", field);
		if (reason)
			cJSON_AddStringToObject(o, "reason", reason);
	}
	reply(rs, status, o);
}

static void ok(struct sc_http_response *rs, const char *what)
{
	cJSON *o = cJSON_CreateObject();
	if (o)
		cJSON_AddStringToObject(o, "Result", what);
	reply(rs, 200, o);
}

/* The body as a JSON object whose members are all among keys; NULL (and rs
 * set) otherwise. */
static cJSON *object_of(const struct sc_http_request *rq, const char *const *keys, size_t n,
			struct sc_http_response *rs)
{
	if (rq->body_too_large) {
		fail(rs, 400, "request too large", "", NULL);
		return NULL;
	}
	cJSON *o = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->body_len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		fail(rs, 400, "invalid request", "", "a JSON object is expected");
		return NULL;
	}
	for (const cJSON *m = o->child; m; m = m->next) {
		bool known = false;
		for (size_t i = 0; i < n; i++)
			known |= strcmp(m->string, keys[i]) == 0;
		if (!known) {
			fail(rs, 400, "invalid request", m->string, "unknown field");
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

/* An optional boolean member: false with rs set when it is not one. */
static bool get_bool(const cJSON *o, const char *k, bool *out, struct sc_http_response *rs)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v)
		return true;
	if (!cJSON_IsBool(v)) {
		fail(rs, 400, "invalid request", k, "must be true or false");
		return false;
	}
	*out = cJSON_IsTrue(v);
	return true;
}

static void post_source(struct sc_twin *t, const struct sc_http_request *rq,
			struct sc_http_response *rs)
{
	static const char *const keys[] = {"Source", "Phases", "Seed", "Producer", "Calendar", "Loop"};
	cJSON *o = object_of(rq, keys, 6, rs);
	if (!o)
		return;
	struct sc_source_opts so = *sc_twin_source_opts(t);
	so.loop = false;
	char why[200];
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "Source");
	const cJSON *ph = cJSON_GetObjectItemCaseSensitive(o, "Phases");
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "Seed");
	const cJSON *cal = cJSON_GetObjectItemCaseSensitive(o, "Calendar");
	if (!cJSON_IsString(src) || sc_source_parse(src->valuestring, &so, why, sizeof why) != 0) {
		fail(rs, 400, "invalid request", "Source",
		     cJSON_IsString(src) ? why : "gen:METER[:PROFILE], file:PATH or serial:DEV");
		goto out;
	}
	if (so.kind == SC_SRC_STDIN) {
		fail(rs, 400, "invalid request", "Source", "stdin is for the command line");
		goto out;
	}
	if (ph) {
		if (!cJSON_IsNumber(ph) || (ph->valuedouble != 1 && ph->valuedouble != 3)) {
			fail(rs, 400, "invalid request", "Phases", "1 or 3");
			goto out;
		}
		so.meter.phases = (int)ph->valuedouble;
	}
	if (seed) {
		if (!cJSON_IsNumber(seed) || seed->valuedouble < 0 || seed->valuedouble > 1e15 ||
		    seed->valuedouble != floor(seed->valuedouble)) {
			fail(rs, 400, "invalid request", "Seed", "a whole number");
			goto out;
		}
		so.meter.seed = (uint64_t)seed->valuedouble;
	}
	if (cal) {
		int c = cJSON_IsString(cal) ? sc_tic_calendar_from_name(cal->valuestring) : -1;
		if (c < 0) {
			fail(rs, 400, "invalid request", "Calendar", "base, hchp or tempo");
			goto out;
		}
		so.tic.calendar = (enum sc_tic_calendar)c;
	}
	if (!get_bool(o, "Producer", &so.tic.producer, rs) || !get_bool(o, "Loop", &so.loop, rs))
		goto out;
	if (sc_twin_set_source(t, src->valuestring, &so, why, sizeof why) != 0) {
		fail(rs, 400, "invalid request", "Source", why);
		goto out;
	}
	ok(rs, "source switched");
out:
	cJSON_Delete(o);
}

static void post_button(struct sc_twin *t, const struct sc_http_request *rq,
			struct sc_http_response *rs)
{
	static const char *const keys[] = {"Seconds", "Action"};
	cJSON *o = object_of(rq, keys, 2, rs);
	if (!o)
		return;
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(o, "Seconds");
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "Action");
	if (sec && !act && cJSON_IsNumber(sec) && sec->valuedouble > 0 && sec->valuedouble <= 3600) {
		sc_twin_press(t, (int64_t)llround(sec->valuedouble * 1000.0));
		ok(rs, "pressed");
	} else if (act && !sec && cJSON_IsString(act) &&
		   (strcmp(act->valuestring, "down") == 0 || strcmp(act->valuestring, "up") == 0)) {
		sc_twin_button(t, act->valuestring[0] == 'd');
		ok(rs, act->valuestring[0] == 'd' ? "down" : "up");
	} else {
		fail(rs, 400, "invalid request", sec ? "Seconds" : "Action",
		     "{\"Seconds\": 0-3600} or {\"Action\": \"down\" | \"up\"}");
	}
	cJSON_Delete(o);
}

static void post_meter(struct sc_twin *t, const struct sc_http_request *rq,
		       struct sc_http_response *rs)
{
	static const char *const keys[] = {"Cable"};
	cJSON *o = object_of(rq, keys, 1, rs);
	if (!o)
		return;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "Cable");
	if (cJSON_IsString(c) && (strcmp(c->valuestring, "out") == 0 || strcmp(c->valuestring, "in") == 0)) {
		sc_twin_meter_cut(t, strcmp(c->valuestring, "out") == 0);
		ok(rs, c->valuestring[0] == 'o' ? "meter cable out" : "meter cable in");
	} else {
		fail(rs, 400, "invalid request", "Cable", "\"out\" or \"in\"");
	}
	cJSON_Delete(o);
}

static void post_network(struct sc_twin *t, const struct sc_http_request *rq,
			 struct sc_http_response *rs)
{
	static const char *const keys[] = {"EthernetCable", "WifiInRange", "DhcpServer", "Gateway",
					   "Internet"};
	cJSON *o = object_of(rq, keys, 5, rs);
	if (!o)
		return;
	struct sc_dongle_env env = sc_twin_dongle(t)->env;
	if (get_bool(o, "EthernetCable", &env.ethernet_cable, rs) &&
	    get_bool(o, "WifiInRange", &env.wifi_in_range, rs) &&
	    get_bool(o, "DhcpServer", &env.dhcp_server, rs) && get_bool(o, "Gateway", &env.gateway, rs) &&
	    get_bool(o, "Internet", &env.internet, rs)) {
		sc_twin_set_env(t, &env);
		ok(rs, "network changed");
	}
	cJSON_Delete(o);
}

static void post_broker(struct sc_twin *t, const struct sc_http_request *rq,
			struct sc_http_response *rs)
{
	static const char *const keys[] = {"Reachable"};
	cJSON *o = object_of(rq, keys, 1, rs);
	if (!o)
		return;
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "Reachable");
	if (cJSON_IsBool(r)) {
		sc_twin_broker_cut(t, !cJSON_IsTrue(r));
		ok(rs, cJSON_IsTrue(r) ? "broker reachable" : "broker cut off");
	} else {
		fail(rs, 400, "invalid request", "Reachable", "true or false");
	}
	cJSON_Delete(o);
}

static void post_power(struct sc_twin *t, const struct sc_http_request *rq,
		       struct sc_http_response *rs)
{
	static const char *const keys[] = {"Action"};
	cJSON *o = object_of(rq, keys, 1, rs);
	if (!o)
		return;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "Action");
	if (cJSON_IsString(a) && strcmp(a->valuestring, "cycle") == 0) {
		sc_twin_power_cycle(t);
		ok(rs, "power cycled");
	} else {
		fail(rs, 400, "invalid request", "Action", "\"cycle\"");
	}
	cJSON_Delete(o);
}

static void post_clock(struct sc_twin *t, const struct sc_http_request *rq,
		       struct sc_http_response *rs)
{
	static const char *const keys[] = {"Speed"};
	cJSON *o = object_of(rq, keys, 1, rs);
	if (!o)
		return;
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "Speed");
	if (cJSON_IsNumber(sp) && sp->valuedouble >= 0.001 && sp->valuedouble <= 100000) {
		sc_twin_set_speed(t, sp->valuedouble);
		ok(rs, "speed set");
	} else {
		fail(rs, 400, "invalid request", "Speed", "a number from 0.001 to 100000");
	}
	cJSON_Delete(o);
}

void sc_control_handle(struct sc_twin *t, bool enabled, const struct sc_http_request *rq,
		       struct sc_http_response *rs)
{
	memset(rs, 0, sizeof *rs);
	if (!enabled) {
		fail(rs, 403, "the control API is off", NULL,
		     "start sc-sim with --control on to drive the twin over /sim/v1");
		return;
	}
	static const struct {
		const char *path;
		void (*post)(struct sc_twin *, const struct sc_http_request *, struct sc_http_response *);
	} routes[] = {
		{"/sim/v1/source", post_source}, {"/sim/v1/button", post_button},
		{"/sim/v1/meter", post_meter},   {"/sim/v1/network", post_network},
		{"/sim/v1/broker", post_broker}, {"/sim/v1/power", post_power},
		{"/sim/v1/clock", post_clock},
	};
	bool post = strcmp(rq->method, "POST") == 0;
	if (strcmp(rq->path, "/sim/v1/state") == 0) {
		if (strcmp(rq->method, "GET") != 0) {
			snprintf(rs->allow, sizeof rs->allow, "GET");
			fail(rs, 405, "method not allowed", NULL, "GET");
			return;
		}
		char *doc = sc_twin_state_json(t);
		rs->status = doc ? 200 : 500;
		rs->content_type = "application/json";
		rs->body = doc ? doc : strdup("{\"error\":\"out of memory\"}");
		rs->len = rs->body ? strlen(rs->body) : 0;
		return;
	}
	if (strcmp(rq->path, "/sim/v1/telegram") == 0) {
		if (!post) {
			snprintf(rs->allow, sizeof rs->allow, "POST");
			fail(rs, 405, "method not allowed", NULL, "POST");
			return;
		}
		if (rq->body_too_large || rq->body_len == 0) {
			fail(rs, 400, "invalid request", "", rq->body_len ? "the body is too large"
								 : "the body holds the meter's bytes");
			return;
		}
		sc_twin_inject(t, rq->body, rq->body_len);
		ok(rs, "fed");
		return;
	}
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (strcmp(rq->path, routes[i].path) == 0) {
			if (!post) {
				snprintf(rs->allow, sizeof rs->allow, "POST");
				fail(rs, 405, "method not allowed", NULL, "POST");
				return;
			}
			routes[i].post(t, rq, rs);
			return;
		}
	}
	fail(rs, 404, "not found", NULL, rq->path);
}
