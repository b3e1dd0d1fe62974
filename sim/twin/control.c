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
#include "sc_error.h"
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

/* An action carried to the twin (twin.h), answered with what it did. */
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
	static const char *const keys[] = {"Source",   "Phases",   "Seed", "Producer",
					   "Calendar", "TicTotal", "Loop"};
	cJSON *o = object_of(rq, keys, sizeof keys / sizeof keys[0], rs);
	if (!o)
		return;
	struct sc_source_opts so = *sc_twin_source_opts(t);
	so.loop = false;
	char why[200];
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "Source");
	const cJSON *ph = cJSON_GetObjectItemCaseSensitive(o, "Phases");
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "Seed");
	const cJSON *cal = cJSON_GetObjectItemCaseSensitive(o, "Calendar");
	const cJSON *tot = cJSON_GetObjectItemCaseSensitive(o, "TicTotal");
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
	if (tot) {
		int c = cJSON_IsString(tot) ? sc_tic_total_from_name(tot->valuestring) : -1;
		if (c < 0) {
			fail(rs, 400, "invalid request", "TicTotal", "sum or net");
			goto out;
		}
		so.tic.total = (enum sc_tic_total)c;
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

/* The keys of the meter set by hand, for messages. */
static void key_list(char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int k = 0; k < SC_MK_COUNT && n < cap; k++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", k ? ", " : "",
				      sc_meter_key_name((enum sc_meter_key)k));
}

/* A number member of the meter's request; false with rs set otherwise. */
static bool meter_number(const cJSON *v, const char *field, double *out,
			 struct sc_http_response *rs)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
		fail(rs, 400, "invalid request", field, "not a number");
		return false;
	}
	*out = v->valuedouble;
	return true;
}

/* Values set by hand: carried to the meter, answered with its refusal
 * (400, naming the key) or what the meter now holds. */
static void carry_set(struct sc_twin *t, const struct sc_meter_set *set,
		      struct sc_http_response *rs, const char *done)
{
	struct sc_action a = {.kind = SC_ACT_METER, .meter_set = set};
	char why[300] = "";
	int rc = sc_twin_act(t, &a, why, sizeof why);
	if (rc == SC_ERR_UNSUPPORTED) {
		fail(rs, 409, "the meter takes no values by hand", NULL, why);
	} else if (rc < 0) {
		/* why starts with the key: "l1.P: ..." */
		char field[32] = "";
		const char *colon = strchr(why, ':');
		if (colon && (size_t)(colon - why) < sizeof field)
			snprintf(field, sizeof field, "%.*s", (int)(colon - why), why);
		fail(rs, 400, "invalid request", field, why);
	} else {
		cJSON *o = cJSON_CreateObject();
		if (o)
			cJSON_AddStringToObject(o, "Result", done);
		reply(rs, 200, o);
	}
}

static void post_meter(struct sc_twin *t, const struct sc_http_request *rq,
		       struct sc_http_response *rs)
{
	if (rq->body_too_large) {
		fail(rs, 400, "request too large", "", NULL);
		return;
	}
	cJSON *o = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->body_len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		fail(rs, 400, "invalid request", "", "a JSON object is expected");
		return;
	}
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "Cable");
	if (c) {
		if (cJSON_GetArraySize(o) != 1)
			fail(rs, 400, "invalid request", "Cable", "the cable goes alone");
		else if (cJSON_IsString(c) &&
			 (strcmp(c->valuestring, "out") == 0 || strcmp(c->valuestring, "in") == 0)) {
			struct sc_action a = {.kind = SC_ACT_METER,
					      .cut = strcmp(c->valuestring, "out") == 0};
			carry(t, &a, rs, a.cut ? "meter cable out" : "meter cable in");
		} else {
			fail(rs, 400, "invalid request", "Cable", "\"out\" or \"in\"");
		}
		cJSON_Delete(o);
		return;
	}
	/* {"P": 9000, "l1.U": 231, ...}, {"Profile": true} or
	 * {"Ramp": {"Key": "P", "From": 0, "To": 9000, "Seconds": 10}} */
	struct sc_meter_set set;
	memset(&set, 0, sizeof set);
	bool any = false;
	for (const cJSON *m = o->child; m; m = m->next) {
		if (strcmp(m->string, "Profile") == 0) {
			if (!cJSON_IsTrue(m)) {
				fail(rs, 400, "invalid request", "Profile", "true");
				goto out;
			}
			set.profile = true;
		} else if (strcmp(m->string, "Ramp") == 0) {
			static const char *const rkeys[] = {"Key", "From", "To", "Seconds"};
			const cJSON *k = cJSON_GetObjectItemCaseSensitive(m, "Key");
			int key = cJSON_IsString(k) ? sc_meter_key_from_name(k->valuestring) : -1;
			if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) != 4) {
				fail(rs, 400, "invalid request", "Ramp",
				     "{\"Key\": K, \"From\": X, \"To\": Y, \"Seconds\": S}");
				goto out;
			}
			for (const cJSON *r = m->child; r; r = r->next) {
				bool known = false;
				for (size_t i = 0; i < 4; i++)
					known |= strcmp(r->string, rkeys[i]) == 0;
				if (!known) {
					fail(rs, 400, "invalid request", r->string, "unknown field of Ramp");
					goto out;
				}
			}
			if (key < 0) {
				char keys[200];
				key_list(keys, sizeof keys);
				char reason[300];
				snprintf(reason, sizeof reason, "%s: unknown key (%s)",
					 cJSON_IsString(k) ? k->valuestring : "Key", keys);
				fail(rs, 400, "invalid request", cJSON_IsString(k) ? k->valuestring : "Key",
				     reason);
				goto out;
			}
			set.ramp = true;
			set.ramp_key = (enum sc_meter_key)key;
			if (!meter_number(cJSON_GetObjectItemCaseSensitive(m, "From"), "From",
					  &set.value[key], rs) ||
			    !meter_number(cJSON_GetObjectItemCaseSensitive(m, "To"), "To", &set.ramp_to,
					  rs) ||
			    !meter_number(cJSON_GetObjectItemCaseSensitive(m, "Seconds"), "Seconds",
					  &set.ramp_s, rs))
				goto out;
		} else {
			int key = sc_meter_key_from_name(m->string);
			if (key < 0) {
				char keys[200], reason[300];
				key_list(keys, sizeof keys);
				snprintf(reason, sizeof reason, "%s: unknown key (%s)", m->string, keys);
				fail(rs, 400, "invalid request", m->string, reason);
				goto out;
			}
			if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble)) {
				char reason[120];
				snprintf(reason, sizeof reason, "%s: not a number", m->string);
				fail(rs, 400, "invalid request", m->string, reason);
				goto out;
			}
			set.given[key] = true;
			set.value[key] = m->valuedouble;
		}
		any = true;
	}
	if (!any) {
		fail(rs, 400, "invalid request", "",
		     "{\"Cable\": \"out\"|\"in\"}, {KEY: VALUE, ...}, {\"Profile\": true} or "
		     "{\"Ramp\": {...}}");
		goto out;
	}
	carry_set(t, &set, rs, set.profile ? "generated day" : set.ramp ? "ramping" : "set");
out:
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

/* Raw meter bytes, fed as if the meter sent them now; answered with the
 * device's verdict: "accepted" (every complete telegram parsed), "rejected"
 * (the last one rejected: the parser's reason, its detail and where in the
 * telegram; or the meter cable is out and nothing arrived) or "incomplete"
 * (no complete telegram in the bytes: the device waits for the rest). The
 * generated meter then holds its telegrams back (sc_twin_hold_generator),
 * so what was fed stays what the device shows. */
static void post_telegram(struct sc_twin *t, const struct sc_http_request *rq,
			  struct sc_http_response *rs)
{
	struct sc_device *d = sc_twin_device(t);
	uint64_t pass = d->counters.telegrams_pass;
	uint64_t failed = d->counters.telegrams_fail + d->counters.telegrams_frame_fail;
	uint64_t garbage = d->counters.garbage_bytes;
	struct sc_action a = {.kind = SC_ACT_TELEGRAM, .bytes = rq->body, .len = rq->body_len};
	char why[200];
	int rc = sc_twin_act(t, &a, why, sizeof why);
	if (rc < 0) {
		fail(rs, 500, "the action failed", NULL, why);
		return;
	}
	sc_twin_hold_generator(t);
	cJSON *o = cJSON_CreateObject();
	if (!o) {
		reply(rs, 500, NULL);
		return;
	}
	uint64_t np = d->counters.telegrams_pass - pass;
	uint64_t nf = d->counters.telegrams_fail + d->counters.telegrams_frame_fail - failed;
	if (rc == 1) {
		cJSON_AddStringToObject(o, "Result", "rejected");
		cJSON_AddStringToObject(o, "Reason", "cable-out");
		cJSON_AddStringToObject(o, "Detail", "the meter cable is out: nothing arrived");
	} else if (nf > 0) {
		cJSON_AddStringToObject(o, "Result", "rejected");
		cJSON_AddStringToObject(o, "Reason", d->last_fail_kind);
		cJSON_AddStringToObject(o, "Detail", d->last_fail_detail);
		cJSON_AddNumberToObject(o, "Offset", (double)d->last_fail_at);
	} else if (np > 0) {
		cJSON_AddStringToObject(o, "Result", "accepted");
	} else {
		cJSON_AddStringToObject(o, "Result", "incomplete");
		cJSON_AddStringToObject(o, "Detail", "no complete telegram: the device waits for the rest");
	}
	cJSON_AddNumberToObject(o, "Accepted", (double)np);
	cJSON_AddNumberToObject(o, "Rejected", (double)nf);
	cJSON_AddNumberToObject(o, "GarbageBytes", (double)(d->counters.garbage_bytes - garbage));
	reply(rs, 200, o);
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
		post_telegram(t, rq, rs);
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
