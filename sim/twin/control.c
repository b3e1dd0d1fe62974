/* The control API /sim/v1 (control.h): requests parsed into actions
 * (action.h) and other calls on the twin (twin.h); the twin never calls it. */
#include "control.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
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

/* An action carried to the twin (twin.h), answered with what it did. A
 * telegram that never arrives (the meter cable is out) is still "fed". */
static void carry(struct sc_twin *t, const struct sc_action *a, struct sc_http_response *rs,
		  const char *done)
{
	char why[200];
	if (sc_twin_act(t, a, why, sizeof why) < 0)
		fail(rs, 500, "the action failed", NULL, why);
	else
		ok(rs, done);
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
	struct sc_action a = {.kind = SC_ACT_BUTTON};
	if (sec && !act && cJSON_IsNumber(sec) && sec->valuedouble > 0 && sec->valuedouble <= 3600) {
		a.button = SC_BUTTON_PRESS;
		a.seconds = sec->valuedouble;
		carry(t, &a, rs, "pressed");
	} else if (act && !sec && cJSON_IsString(act) &&
		   (strcmp(act->valuestring, "down") == 0 || strcmp(act->valuestring, "up") == 0)) {
		a.button = act->valuestring[0] == 'd' ? SC_BUTTON_DOWN : SC_BUTTON_UP;
		carry(t, &a, rs, act->valuestring[0] == 'd' ? "down" : "up");
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
		struct sc_action a = {.kind = SC_ACT_METER, .cut = strcmp(c->valuestring, "out") == 0};
		carry(t, &a, rs, a.cut ? "meter cable out" : "meter cable in");
	} else {
		fail(rs, 400, "invalid request", "Cable", "\"out\" or \"in\"");
	}
	cJSON_Delete(o);
}

static void post_network(struct sc_twin *t, const struct sc_http_request *rq,
			 struct sc_http_response *rs)
{
	cJSON *o = object_of(rq, sc_net_field_names, SC_NET_FIELDS, rs);
	if (!o)
		return;
	/* The fields given change; the others stay as they are. */
	struct sc_action a = {.kind = SC_ACT_NETWORK};
	bool valid = true;
	for (int i = 0; valid && i < SC_NET_FIELDS; i++) {
		a.net_given[i] = cJSON_GetObjectItemCaseSensitive(o, sc_net_field_names[i]) != NULL;
		valid = get_bool(o, sc_net_field_names[i], &a.net_value[i], rs);
	}
	if (valid)
		carry(t, &a, rs, "network changed");
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
		struct sc_action a = {.kind = SC_ACT_BROKER, .cut = !cJSON_IsTrue(r)};
		carry(t, &a, rs, a.cut ? "broker cut off" : "broker reachable");
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
		struct sc_action power = {.kind = SC_ACT_POWER};
		carry(t, &power, rs, "power cycled");
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
		/* Fed even with the meter cable out: the bytes are lost, as on a real line. */
		struct sc_action a = {.kind = SC_ACT_TELEGRAM, .bytes = rq->body, .len = rq->body_len};
		carry(t, &a, rs, "fed");
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
