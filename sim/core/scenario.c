#include "scenario.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "firmware.h"
#include "sc_error.h"

struct ld {
	const char *name;
	char *err;
	size_t cap;
	bool failed;
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static bool fail(struct ld *l, const char *path, const char *fmt, ...)
{
	if (l->failed)
		return false;
	l->failed = true;
	int n = snprintf(l->err, l->cap, "%s: %s%s", l->name, path, *path ? ": " : "");
	if (n < 0 || (size_t)n >= l->cap)
		return false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err + n, l->cap - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* A field's dotted path for messages; a path too long is cut at cap with
 * "..." at its end. */
static void join(char *out, size_t cap, const char *path, const char *key)
{
	int n = snprintf(out, cap, "%s%s%s", path, *path ? "." : "", key);
	if (n >= 0 && (size_t)n >= cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

/* Only keys of the list, each once. */
static bool members(struct ld *l, const cJSON *o, const char *path, const char *const *keys,
		    size_t n)
{
	if (!cJSON_IsObject(o))
		return fail(l, path, "must be an object");
	for (const cJSON *m = o->child; m; m = m->next) {
		bool known = false;
		for (size_t i = 0; i < n; i++)
			known |= strcmp(m->string, keys[i]) == 0;
		char p[160];
		join(p, sizeof p, path, m->string);
		if (!known) {
			char list[400] = "";
			size_t used = 0;
			for (size_t i = 0; i < n && used < sizeof list; i++)
				used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
							 i ? ", " : "", keys[i]);
			return fail(l, p, "unknown key (known here: %s)", list);
		}
		for (const cJSON *k = m->next; k; k = k->next)
			if (strcmp(k->string, m->string) == 0)
				return fail(l, p, "given twice");
	}
	return true;
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static bool get_number(struct ld *l, const cJSON *o, const char *path, const char *k, double lo,
		       double hi, double *out)
{
	const cJSON *v = get(o, k);
	if (!v)
		return true;
	char p[160];
	join(p, sizeof p, path, k);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return fail(l, p, "must be a number");
	if (v->valuedouble < lo || v->valuedouble > hi)
		return fail(l, p, "must be from %.16g to %.16g", lo, hi);
	*out = v->valuedouble;
	return true;
}

static bool get_int(struct ld *l, const cJSON *o, const char *path, const char *k, double lo,
		    double hi, int64_t *out)
{
	double d = (double)*out;
	if (!get_number(l, o, path, k, lo, hi, &d))
		return false;
	if (d != floor(d)) {
		char p[160];
		join(p, sizeof p, path, k);
		return fail(l, p, "must be a whole number");
	}
	*out = (int64_t)d;
	return true;
}

static bool get_string(struct ld *l, const cJSON *o, const char *path, const char *k,
		       const char **out)
{
	const cJSON *v = get(o, k);
	if (!v)
		return true;
	if (!cJSON_IsString(v)) {
		char p[160];
		join(p, sizeof p, path, k);
		return fail(l, p, "must be a string");
	}
	*out = v->valuestring;
	return true;
}

static bool get_bool(struct ld *l, const cJSON *o, const char *path, const char *k, bool *out)
{
	const cJSON *v = get(o, k);
	if (!v)
		return true;
	if (!cJSON_IsBool(v)) {
		char p[160];
		join(p, sizeof p, path, k);
		return fail(l, p, "must be true or false");
	}
	*out = cJSON_IsTrue(v);
	return true;
}

/* ---- the meter ---- */

static bool load_meter(struct ld *l, const cJSON *o, struct sc_scenario *s)
{
	static const char *const keys[] = {"protocol", "profile", "phases", "seed", "start",
					   "producer", "calendar", "tic_total", "time_scale",
					   "import_wh", "export_wh"};
	if (!members(l, o, "meter", keys, sizeof keys / sizeof keys[0]))
		return false;
	const char *text = NULL;
	if (!get_string(l, o, "meter", "protocol", &text))
		return false;
	if (text) {
		s->flavour = sc_flavour_from_name(text);
		if (s->flavour == SC_FLAVOUR_UNKNOWN)
			return fail(l, "meter.protocol", "'%s' is not dsmr42, dsmr50, emucs or tic", text);
	}
	text = NULL;
	if (!get_string(l, o, "meter", "profile", &text))
		return false;
	if (text) {
		int p = sc_profile_from_name(text);
		if (p < 0)
			return fail(l, "meter.profile", "'%s' is not household, pv, ev or pv-ev", text);
		s->meter.profile = (enum sc_profile)p;
	}
	int64_t v = s->meter.phases;
	if (!get_int(l, o, "meter", "phases", 1, 3, &v))
		return false;
	if (v != 1 && v != 3)
		return fail(l, "meter.phases", "1 or 3");
	s->meter.phases = (int)v;
	v = (int64_t)s->meter.seed;
	if (!get_int(l, o, "meter", "seed", 0, 1e15, &v))
		return false;
	s->meter.seed = (uint64_t)v;
	v = s->meter.start;
	/* Two-digit years on the meter: 2001-2099 (sc-telegram gen --start). */
	if (!get_int(l, o, "meter", "start", 978307200.0, 4102444799.0, &v))
		return false;
	s->meter.start = v;
	if (!get_bool(l, o, "meter", "producer", &s->tic.producer))
		return false;
	text = NULL;
	if (!get_string(l, o, "meter", "calendar", &text))
		return false;
	if (text) {
		int c = sc_tic_calendar_from_name(text);
		if (c < 0)
			return fail(l, "meter.calendar", "'%s' is not base, hchp or tempo", text);
		s->tic.calendar = (enum sc_tic_calendar)c;
	}
	text = NULL;
	if (!get_string(l, o, "meter", "tic_total", &text))
		return false;
	if (text) {
		int t = sc_tic_total_from_name(text);
		if (t < 0)
			return fail(l, "meter.tic_total", "'%s' is not sum or net", text);
		if (s->flavour != SC_FLAVOUR_TIC)
			return fail(l, "meter.tic_total", "the phase totals are a TIC meter's");
		s->tic.total = (enum sc_tic_total)t;
	}
	if (!get_number(l, o, "meter", "time_scale", 0.001, 100000, &s->time_scale) ||
	    !get_number(l, o, "meter", "import_wh", 0, 1e12, &s->meter.import_wh) ||
	    !get_number(l, o, "meter", "export_wh", 0, 1e12, &s->meter.export_wh))
		return false;
	if (s->tic.producer && s->flavour != SC_FLAVOUR_TIC)
		return fail(l, "meter.producer", "a producer meter is a TIC meter");
	return true;
}

/* ---- values ---- */

static bool load_value(struct ld *l, const cJSON *v, const char *path, double tolerance,
		       struct sc_match *m)
{
	m->tolerance = tolerance;
	if (cJSON_IsNumber(v)) {
		m->kind = SC_MATCH_NUMBER;
		m->num = v->valuedouble;
	} else if (cJSON_IsString(v)) {
		m->kind = SC_MATCH_STRING;
		m->str = strdup(v->valuestring);
		if (!m->str)
			return fail(l, path, "out of memory");
	} else if (cJSON_IsBool(v)) {
		m->kind = SC_MATCH_BOOL;
		m->b = cJSON_IsTrue(v);
	} else if (cJSON_IsNull(v)) {
		m->kind = SC_MATCH_NULL;
	} else if (cJSON_IsObject(v)) {
		static const char *const keys[] = {"min", "max", "value", "tolerance"};
		if (!members(l, v, path, keys, 4))
			return false;
		const cJSON *val = get(v, "value");
		if (val) {
			if (get(v, "min") || get(v, "max"))
				return fail(l, path, "either value (with tolerance) or min/max");
			if (!cJSON_IsNumber(val)) {
				char p[200];
				join(p, sizeof p, path, "value");
				return fail(l, p, "must be a number");
			}
			m->kind = SC_MATCH_NUMBER;
			m->num = val->valuedouble;
			return get_number(l, v, path, "tolerance", 0, 1e15, &m->tolerance);
		}
		m->kind = SC_MATCH_RANGE;
		m->min = -INFINITY;
		m->max = INFINITY;
		m->has_min = get(v, "min") != NULL;
		m->has_max = get(v, "max") != NULL;
		if (!m->has_min && !m->has_max)
			return fail(l, path, "a range needs min or max");
		if (!get_number(l, v, path, "min", -1e300, 1e300, &m->min) ||
		    !get_number(l, v, path, "max", -1e300, 1e300, &m->max))
			return false;
		if (m->min > m->max)
			return fail(l, path, "min is above max");
	} else {
		return fail(l, path, "must be a number, string, boolean, null or {\"min\", \"max\"}");
	}
	return true;
}

/* An object of key: value into a match list. keyfn checks each key. */
static bool load_values(struct ld *l, const cJSON *o, const char *path, double tolerance,
			struct sc_expect *e, bool (*keyfn)(struct ld *, const char *, const char *,
							   struct sc_match *))
{
	if (!cJSON_IsObject(o))
		return fail(l, path, "must be an object of names and values");
	int n = cJSON_GetArraySize(o);
	if (n == 0)
		return fail(l, path, "names no value");
	e->m = calloc((size_t)n, sizeof *e->m);
	if (!e->m)
		return fail(l, path, "out of memory");
	for (const cJSON *v = o->child; v; v = v->next) {
		struct sc_match *m = &e->m[e->nm++];
		char p[200];
		join(p, sizeof p, path, v->string);
		if (strlen(v->string) >= sizeof m->key)
			return fail(l, p, "name too long");
		sc_str_copy(m->key, sizeof m->key, v->string);
		if (!load_value(l, v, p, tolerance, m) || (keyfn && !keyfn(l, p, v->string, m)))
			return false;
	}
	return true;
}

static bool register_key(struct ld *l, const char *path, const char *key, struct sc_match *m)
{
	const struct sc_regdef *d = NULL;
	if (strncmp(key, "0x", 2) == 0 || strncmp(key, "0X", 2) == 0) {
		uint16_t a;
		if (strlen(key) == 6 && sc_parse_hex16(key + 2, 4, &a) == SC_OK)
			d = sc_regmap_def_at(a);
	} else {
		d = sc_regmap_def_named(key);
	}
	if (!d)
		return fail(l, path, "unknown register '%s' (an address of the map such as 0x8016, "
				     "or a name such as active_power)", key);
	if (m->kind != SC_MATCH_NUMBER && m->kind != SC_MATCH_RANGE)
		return fail(l, path, "a register holds a number");
	m->addr = d->addr;
	return true;
}

static bool counter_key(struct ld *l, const char *path, const char *key, struct sc_match *m)
{
	static const char *const names[] = {
		"uptime", "gw_ping_pass", "gw_ping_fail", "internet_ping_pass", "internet_ping_fail",
		"telegrams_pass", "telegrams_fail", "telegrams_frame_fail", "mqtt_event_errors",
		"mqtt_event_connect", "mqtt_send_pass", "mqtt_send_fail", "heap_free",
		"heap_min_free", "heap_largest_free", "heap_failed_allocs"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(key, names[i]) == 0)
			return m->kind == SC_MATCH_NUMBER || m->kind == SC_MATCH_RANGE ||
			       fail(l, path, "a counter is a number");
	return fail(l, path, "'%s' is not a device_counters name", key);
}

/* ---- expectations ---- */

/* An http expectation, or an api step's request (path "steps[3].api"). */
static bool load_http(struct ld *l, const cJSON *v, const char *p, double tol, struct sc_expect *e)
{
	e->kind = SC_EXPECT_HTTP;
	static const char *const hk[] = {"method", "path", "body", "status", "json", "tolerance"};
	if (!members(l, v, p, hk, sizeof hk / sizeof hk[0]))
		return false;
	const char *method = "GET", *hp = NULL;
	int64_t status = 0;
	if (!get_string(l, v, p, "method", &method) || !get_string(l, v, p, "path", &hp) ||
	    !get_int(l, v, p, "status", 100, 599, &status) ||
	    !get_number(l, v, p, "tolerance", 0, 1e15, &tol))
		return false;
	char q[200];
	static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"};
	bool mok = false;
	for (size_t i = 0; i < 6; i++)
		mok |= strcmp(method, methods[i]) == 0;
	if (!mok) {
		join(q, sizeof q, p, "method");
		return fail(l, q, "'%s' is not an HTTP method", method);
	}
	if (!hp || hp[0] != '/' || strlen(hp) >= sizeof e->path) {
		join(q, sizeof q, p, "path");
		return fail(l, q, "a path beginning with /");
	}
	sc_str_copy(e->method, sizeof e->method, method);
	sc_str_copy(e->path, sizeof e->path, hp);
	e->status = (int)status;
	const cJSON *body = get(v, "body");
	if (body) {
		e->body = cJSON_PrintUnformatted(body);
		if (!e->body)
			return fail(l, p, "out of memory");
	}
	const cJSON *js = get(v, "json");
	if (!js && !e->status) {
		return fail(l, p, "status or json to check");
	}
	if (js) {
		join(q, sizeof q, p, "json");
		return load_values(l, js, q, tol, e, NULL);
	}
	return true;
}


static bool load_expect(struct ld *l, const cJSON *o, const char *path, struct sc_expect *e)
{
	static const char *const keys[] = {"modbus", "mqtt", "http", "led", "counters", "within",
					   "tolerance"};
	if (!members(l, o, path, keys, sizeof keys / sizeof keys[0]))
		return false;
	sc_str_copy(e->where, sizeof e->where, path);
	double tol = 0;
	if (!get_number(l, o, path, "within", 0, 86400, &e->within) ||
	    !get_number(l, o, path, "tolerance", 0, 1e15, &tol))
		return false;
	int kinds = 0;
	for (int i = 0; i < 5; i++)
		kinds += get(o, keys[i]) != NULL;
	if (kinds != 1)
		return fail(l, path, "one of modbus, mqtt, http, led or counters");
	char p[160];
	const cJSON *v;
	if ((v = get(o, "modbus"))) {
		e->kind = SC_EXPECT_MODBUS;
		join(p, sizeof p, path, "modbus");
		if (cJSON_IsString(v) && strcmp(v->valuestring, "telegram") == 0) {
			e->from_telegram = true;
			return true;
		}
		static const char *const mk[] = {"register", "value", "registers", "tolerance"};
		if (!members(l, v, p, mk, 4))
			return false;
		if (!get_number(l, v, p, "tolerance", 0, 1e15, &tol))
			return false;
		const cJSON *regs = get(v, "registers"), *reg = get(v, "register");
		if (!regs == !reg)
			return fail(l, p, "either register and value, or registers");
		if (regs) {
			char q[200];
			join(q, sizeof q, p, "registers");
			return load_values(l, regs, q, tol, e, register_key);
		}
		char q[200];
		join(q, sizeof q, p, "register");
		if (!cJSON_IsString(reg))
			return fail(l, q, "must be a string (\"0x8016\" or \"active_power\")");
		const cJSON *val = get(v, "value");
		if (!val) {
			join(q, sizeof q, p, "value");
			return fail(l, q, "missing");
		}
		e->m = calloc(1, sizeof *e->m);
		if (!e->m)
			return fail(l, p, "out of memory");
		e->nm = 1;
		sc_str_copy(e->m->key, sizeof e->m->key, reg->valuestring);
		join(q, sizeof q, p, "value");
		if (!load_value(l, val, q, tol, e->m))
			return false;
		join(q, sizeof q, p, "register");
		return register_key(l, q, reg->valuestring, e->m);
	}
	if ((v = get(o, "mqtt"))) {
		e->kind = SC_EXPECT_MQTT;
		join(p, sizeof p, path, "mqtt");
		static const char *const qk[] = {"metric", "fields", "tolerance"};
		if (!members(l, v, p, qk, 3))
			return false;
		const char *metric = "power_instant";
		if (!get_string(l, v, p, "metric", &metric) ||
		    !get_number(l, v, p, "tolerance", 0, 1e15, &tol))
			return false;
		if (strcmp(metric, "power_instant") != 0 && strcmp(metric, "device_counters") != 0) {
			char q[200];
			join(q, sizeof q, p, "metric");
			return fail(l, q, "'%s' is not power_instant or device_counters", metric);
		}
		sc_str_copy(e->metric, sizeof e->metric, metric);
		const cJSON *f = get(v, "fields");
		char q[200];
		join(q, sizeof q, p, "fields");
		if (!f)
			return fail(l, q, "missing (an object of fields, or \"telegram\")");
		if (cJSON_IsString(f) && strcmp(f->valuestring, "telegram") == 0) {
			if (strcmp(metric, "power_instant") != 0)
				return fail(l, q, "\"telegram\" is for power_instant");
			e->from_telegram = true;
			return true;
		}
		return load_values(l, f, q, tol, e, NULL);
	}
	if ((v = get(o, "http"))) {
		join(p, sizeof p, path, "http");
		return load_http(l, v, p, tol, e);
	}
	if ((v = get(o, "led"))) {
		e->kind = SC_EXPECT_LED;
		join(p, sizeof p, path, "led");
		static const char *const states[] = {"power-up", "initialising", "normal", "ap", "no-data",
						     "no-data-ap", "no-ip", "no-data-no-ip"};
		bool ok = false;
		for (size_t i = 0; cJSON_IsString(v) && i < sizeof states / sizeof states[0]; i++)
			ok |= strcmp(v->valuestring, states[i]) == 0;
		if (!ok)
			return fail(l, p, "a LED state: power-up, initialising, normal, ap, no-data, "
					  "no-data-ap, no-ip or no-data-no-ip");
		sc_str_copy(e->led, sizeof e->led, v->valuestring);
		return true;
	}
	v = get(o, "counters");
	e->kind = SC_EXPECT_COUNTERS;
	join(p, sizeof p, path, "counters");
	return load_values(l, v, p, tol, e, counter_key);
}

static bool load_expects(struct ld *l, const cJSON *v, const char *path, struct sc_step *st)
{
	bool one = cJSON_IsObject(v);
	if (!one && !cJSON_IsArray(v))
		return fail(l, path, "an expectation or a list of them");
	int n = one ? 1 : cJSON_GetArraySize(v);
	if (n == 0)
		return fail(l, path, "an empty list");
	st->expect = calloc((size_t)n, sizeof *st->expect);
	if (!st->expect)
		return fail(l, path, "out of memory");
	const cJSON *e = one ? v : v->child;
	for (int i = 0; i < n; i++, e = e->next) {
		char p[200];
		if (one)
			sc_str_copy(p, sizeof p, path);
		else
			snprintf(p, sizeof p, "%s[%d]", path, i);
		st->nexpect++;
		if (!load_expect(l, e, p, &st->expect[i]))
			return false;
	}
	return true;
}

/* ---- steps ---- */

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool load_step(struct ld *l, const cJSON *o, const struct sc_scenario *s, struct sc_step *st)
{
	static const char *const keys[] = {"at", "note", "telegrams", "telegram", "telegram_hex",
					   "capture", "meter", "network", "broker", "button",
					   "power", "api", "wait", "expect"};
	const char *path = st->where;
	if (!members(l, o, path, keys, sizeof keys / sizeof keys[0]))
		return false;
	const cJSON *at = get(o, "at");
	char p[160];
	join(p, sizeof p, path, "at");
	if (!at)
		return fail(l, p, "missing (seconds from the start)");
	if (!get_number(l, o, path, "at", 0, 31.0 * 86400, &st->at))
		return false;
	const char *note = NULL;
	if (!get_string(l, o, path, "note", &note))
		return false;
	if (note)
		sc_str_copy(st->note, sizeof st->note, note);
	int actions = 0;
	for (size_t i = 2; i < 13; i++)
		actions += get(o, keys[i]) != NULL;
	if (actions > 1)
		return fail(l, path, "one action per step (telegrams, telegram, telegram_hex, capture, "
				     "meter, network, broker, button, power, api or wait)");
	const cJSON *v;
	if ((v = get(o, "telegrams"))) {
		st->kind = SC_STEP_TELEGRAMS;
		join(p, sizeof p, path, "telegrams");
		static const char *const tk[] = {"count", "every", "fault", "fault_every"};
		if (!members(l, v, p, tk, 4))
			return false;
		int64_t count = 1, fe = 1;
		if (!get_int(l, v, p, "count", 1, 10000000, &count) ||
		    !get_number(l, v, p, "every", 0.001, 86400, &st->every) ||
		    !get_int(l, v, p, "fault_every", 1, 1000000, &fe))
			return false;
		st->count = (int)count;
		st->fault_every = (int)fe;
		const char *fault = NULL;
		if (!get_string(l, v, p, "fault", &fault))
			return false;
		if (fault) {
			bool tic = s->flavour == SC_FLAVOUR_TIC;
			st->fault = tic ? sc_tic_fault_from_name(fault) : sc_p1_fault_from_name(fault);
			if (st->fault <= 0) {
				char q[200];
				join(q, sizeof q, p, "fault");
				return fail(l, q, "'%s' is not a %s fault (%s)", fault, tic ? "TIC" : "P1",
					    tic ? "bad-checksum, truncated, garbage, bad-length, bit7, "
						  "historic, oversize"
						: "bad-crc, truncated, garbage, oversize");
			}
		}
	} else if ((v = get(o, "telegram"))) {
		st->kind = SC_STEP_TELEGRAM;
		join(p, sizeof p, path, "telegram");
		if (!cJSON_IsString(v) || !*v->valuestring)
			return fail(l, p, "the telegram's text (JSON escapes: \\r\\n, \\u0002 ...)");
		st->nbytes = strlen(v->valuestring);
		st->bytes = malloc(st->nbytes + 1);
		if (!st->bytes)
			return fail(l, p, "out of memory");
		memcpy(st->bytes, v->valuestring, st->nbytes + 1);
	} else if ((v = get(o, "telegram_hex"))) {
		st->kind = SC_STEP_TELEGRAM;
		join(p, sizeof p, path, "telegram_hex");
		if (!cJSON_IsString(v))
			return fail(l, p, "must be a string of hex digits");
		size_t n = strlen(v->valuestring);
		if (n == 0 || n % 2)
			return fail(l, p, "an even number of hex digits");
		st->nbytes = n / 2;
		st->bytes = malloc(st->nbytes + 1);
		if (!st->bytes)
			return fail(l, p, "out of memory");
		for (size_t i = 0; i < st->nbytes; i++) {
			int hi = hex_value(v->valuestring[2 * i]), lo = hex_value(v->valuestring[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return fail(l, p, "'%c%c' at %zu is not a hex byte", v->valuestring[2 * i],
					    v->valuestring[2 * i + 1], 2 * i);
			st->bytes[i] = (char)(hi << 4 | lo);
		}
		st->bytes[st->nbytes] = '\0';
	} else if ((v = get(o, "capture"))) {
		st->kind = SC_STEP_CAPTURE;
		join(p, sizeof p, path, "capture");
		static const char *const ck[] = {"file", "from", "count", "from_time", "to_time", "every"};
		if (!members(l, v, p, ck, sizeof ck / sizeof ck[0]))
			return false;
		const char *file = NULL;
		if (!get_string(l, v, p, "file", &file))
			return false;
		char q[200];
		join(q, sizeof q, p, "file");
		if (!file || !*file || strlen(file) >= sizeof st->file)
			return fail(l, q, "the capture's path, relative to the scenario file");
		sc_str_copy(st->file, sizeof st->file, file);
		int64_t from = 0, count = -1;
		if (!get_int(l, v, p, "from", 0, 1e9, &from) || !get_int(l, v, p, "count", 1, 1e9, &count) ||
		    !get_number(l, v, p, "every", 0.001, 86400, &st->every))
			return false;
		st->from = (int)from;
		st->count = (int)count; /* -1: to the end */
		st->by_time = get(v, "from_time") || get(v, "to_time");
		if (st->by_time && (get(v, "from") || get(v, "count")))
			return fail(l, p, "a slice by index (from, count) or by time (from_time, to_time)");
		st->to_time = INFINITY;
		if (!get_number(l, v, p, "from_time", 0, 1e9, &st->from_time) ||
		    !get_number(l, v, p, "to_time", 0, 1e9, &st->to_time))
			return false;
		if (st->from_time > st->to_time)
			return fail(l, p, "from_time after to_time");
	} else if ((v = get(o, "meter")) || (v = get(o, "broker"))) {
		bool meter = get(o, "meter") != NULL;
		st->kind = meter ? SC_STEP_METER : SC_STEP_BROKER;
		join(p, sizeof p, path, meter ? "meter" : "broker");
		const char *cut = meter ? "cut" : "down", *back = meter ? "restore" : "up";
		if (!cJSON_IsString(v) || (strcmp(v->valuestring, cut) && strcmp(v->valuestring, back)))
			return fail(l, p, "\"%s\" or \"%s\"", cut, back);
		st->action.kind = meter ? SC_ACT_METER : SC_ACT_BROKER;
		st->action.cut = strcmp(v->valuestring, cut) == 0;
	} else if ((v = get(o, "network"))) {
		st->kind = SC_STEP_NETWORK;
		join(p, sizeof p, path, "network");
		const char *const *nk = sc_net_field_names;
		if (!members(l, v, p, nk, SC_NET_FIELDS))
			return false;
		if (cJSON_GetArraySize(v) == 0)
			return fail(l, p, "names nothing to change");
		st->action.kind = SC_ACT_NETWORK;
		for (int i = 0; i < SC_NET_FIELDS; i++) {
			st->action.net_given[i] = get(v, nk[i]) != NULL;
			if (!get_bool(l, v, p, nk[i], &st->action.net_value[i]))
				return false;
		}
	} else if ((v = get(o, "button"))) {
		st->kind = SC_STEP_BUTTON;
		st->action.kind = SC_ACT_BUTTON;
		st->action.button = SC_BUTTON_PRESS;
		if (!get_number(l, o, path, "button", 0.01, 60, &st->action.seconds))
			return false;
	} else if ((v = get(o, "power"))) {
		st->kind = SC_STEP_POWER;
		join(p, sizeof p, path, "power");
		if (!cJSON_IsString(v) || strcmp(v->valuestring, "cycle") != 0)
			return fail(l, p, "\"cycle\"");
		st->action.kind = SC_ACT_POWER;
	} else if ((v = get(o, "api"))) {
		st->kind = SC_STEP_API;
		join(p, sizeof p, path, "api");
		/* An API request checks itself like an http expectation. Fix: it
		 * was loaded as {"http": ...}, so its errors named
		 * steps[N].http.method where the file says steps[N].api.method. */
		sc_str_copy(st->api.where, sizeof st->api.where, p);
		if (!load_http(l, v, p, 0, &st->api))
			return false;
	} else if ((v = get(o, "wait"))) {
		double w = 0;
		if (!get_number(l, o, path, "wait", 0, 31.0 * 86400, &w))
			return false;
		st->seconds = w;
	}
	if ((v = get(o, "expect"))) {
		join(p, sizeof p, path, "expect");
		if (!load_expects(l, v, p, st))
			return false;
	}
	if (actions == 0 && !st->nexpect && !get(o, "wait"))
		return fail(l, path, "does nothing (an action, a wait or expectations)");
	return true;
}

static int cmp_steps(const void *a, const void *b)
{
	const struct sc_step *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	/* Stable: the order of the file. */
	return x->index - y->index;
}

double sc_scenario_cadence(const struct sc_scenario *s)
{
	return s->flavour == SC_FLAVOUR_DSMR42 ? 10.0 : 1.0;
}

static void free_expect(struct sc_expect *e)
{
	for (int i = 0; i < e->nm; i++)
		free(e->m[i].str);
	free(e->m);
	free(e->body);
}

void sc_scenario_free(struct sc_scenario *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nsteps; i++) {
		struct sc_step *st = &s->steps[i];
		for (int k = 0; k < st->nexpect; k++)
			free_expect(&st->expect[k]);
		free(st->expect);
		free_expect(&st->api);
		free(st->bytes);
	}
	free(s->steps);
	free(s->description);
	free(s->config);
	free(s);
}

int sc_scenario_drop_expects(struct sc_scenario *s, enum sc_expect_kind kind)
{
	int dropped = 0;
	for (int i = 0; i < s->nsteps; i++) {
		struct sc_step *st = &s->steps[i];
		int k = 0;
		for (int j = 0; j < st->nexpect; j++) {
			if (st->expect[j].kind == kind) {
				free_expect(&st->expect[j]);
				dropped++;
			} else {
				st->expect[k++] = st->expect[j];
			}
		}
		st->nexpect = k;
	}
	return dropped;
}

int sc_scenario_load(const char *text, size_t len, const char *name, struct sc_scenario **out,
		     char *err, size_t cap)
{
	static const char *const keys[] = {"scenario", "name", "description", "device", "firmware",
					   "serial", "word_order", "config", "meter", "steps"};
	struct ld l = {name, err, cap, false};
	*out = NULL;
	err[0] = '\0';
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	/* Fix: text after the document (a second object, a stray brace) was
	 * ignored without a word; it is an error, as in the device's API. */
	bool trailing = false;
	if (root && end && end >= text) {
		while ((size_t)(end - text) < len && (*end == ' ' || *end == '\t' || *end == '\r' ||
						      *end == '\n'))
			end++;
		if ((size_t)(end - text) < len) {
			trailing = true;
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (!root) {
		/* Line and column of the fault, for a person with an editor. */
		size_t at = end && end >= text ? (size_t)(end - text) : 0, line = 1, col = 1;
		for (size_t i = 0; i < at && i < len; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		fail(&l, "", "%s (line %zu, column %zu)",
		     trailing ? "text after the document" : "not valid JSON", line, col);
		return SC_ERR_INVAL;
	}
	struct sc_scenario *s = calloc(1, sizeof *s);
	if (!s) {
		cJSON_Delete(root);
		fail(&l, "", "out of memory");
		return SC_ERR_NOMEM;
	}
	/* Defaults. */
	s->device = SC_PROTO_P1;
	sc_str_copy(s->firmware, sizeof s->firmware, "5.2.0");
	sc_str_copy(s->serial, sizeof s->serial, "E8DB84000001");
	s->flavour = SC_FLAVOUR_DSMR50;
	s->meter = (struct sc_meter_config){SC_PROFILE_HOUSEHOLD, 3, 1, 1751360400, 0, 0};
	s->tic = (struct sc_tic_gen_opts){false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, SC_TIC_TOTAL_SUM};
	s->time_scale = 1;

	bool ok = members(&l, root, "", keys, sizeof keys / sizeof keys[0]);
	int64_t version = 0;
	const cJSON *v;
	if (ok && !get(root, "scenario"))
		ok = fail(&l, "scenario", "missing: the format version, 1");
	if (ok)
		ok = get_int(&l, root, "", "scenario", 1, 1, &version);
	const char *str = NULL;
	if (ok && !(ok = get_string(&l, root, "", "name", &str)))
		;
	else if (ok && (!str || !*str || strlen(str) >= sizeof s->name))
		ok = fail(&l, "name", "missing or longer than %zu characters", sizeof s->name - 1);
	else if (ok) {
		for (const char *q = str; *q && ok; q++)
			if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_' || *q == '.'))
				ok = fail(&l, "name", "lower-case letters, digits, '-', '_' and '.' only");
		sc_str_copy(s->name, sizeof s->name, str);
	}
	str = NULL;
	if (ok && (ok = get_string(&l, root, "", "description", &str)) && str)
		s->description = strdup(str);
	str = NULL;
	if (ok && (ok = get_string(&l, root, "", "device", &str)) && str) {
		int p = sc_protocol_from_name(str);
		if (p != SC_PROTO_P1 && p != SC_PROTO_TIC)
			ok = fail(&l, "device", "'%s' is not p1 or tic", str);
		else
			s->device = (enum sc_protocol)p;
	}
	str = NULL;
	if (ok && (ok = get_string(&l, root, "", "firmware", &str)) && str) {
		struct sc_fw_version fw;
		if (strlen(str) >= sizeof s->firmware || sc_fw_parse(str, &fw) != SC_OK)
			ok = fail(&l, "firmware", "'%s' is not a version like 5.1.2", str);
		else
			sc_str_copy(s->firmware, sizeof s->firmware, str);
	}
	str = NULL;
	if (ok && (ok = get_string(&l, root, "", "serial", &str)) && str) {
		size_t n = strlen(str);
		bool good = n >= 1 && n < sizeof s->serial;
		for (size_t i = 0; good && i < n; i++)
			good = (str[i] >= '0' && str[i] <= '9') || (str[i] >= 'A' && str[i] <= 'Z') ||
			       (str[i] >= 'a' && str[i] <= 'z');
		if (!good)
			ok = fail(&l, "serial", "1-32 letters and digits");
		else
			sc_str_copy(s->serial, sizeof s->serial, str);
	}
	str = NULL;
	if (ok && (ok = get_string(&l, root, "", "word_order", &str)) && str) {
		if (strcmp(str, "cdab") == 0)
			s->word_order = SC_WORDS_CDAB;
		else if (strcmp(str, "abcd") == 0)
			s->word_order = SC_WORDS_ABCD;
		else
			ok = fail(&l, "word_order", "'%s' is not cdab or abcd", str);
	}
	if (ok && (v = get(root, "config"))) {
		if (!cJSON_IsObject(v))
			ok = fail(&l, "config", "a configuration document (as PATCH /api/v1/config takes)");
		else if (!(s->config = cJSON_PrintUnformatted(v)))
			ok = fail(&l, "config", "out of memory");
	}
	if (ok && (v = get(root, "meter")))
		ok = load_meter(&l, v, s);
	if (ok && (s->flavour == SC_FLAVOUR_TIC) != (s->device == SC_PROTO_TIC) && get(root, "meter"))
		ok = fail(&l, "meter.protocol", "the meter is %s, the device %s: they do not fit",
			  sc_flavour_name(s->flavour), sc_protocol_name(s->device));
	if (ok && !get(root, "meter") && s->device == SC_PROTO_TIC)
		s->flavour = SC_FLAVOUR_TIC;
	v = ok ? get(root, "steps") : NULL;
	if (ok && (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0))
		ok = fail(&l, "steps", "missing or empty: the timeline");
	if (ok) {
		int n = cJSON_GetArraySize(v);
		s->steps = calloc((size_t)n, sizeof *s->steps);
		if (!s->steps)
			ok = fail(&l, "steps", "out of memory");
		const cJSON *e = v->child;
		for (int i = 0; ok && i < n; i++, e = e->next) {
			struct sc_step *st = &s->steps[s->nsteps++];
			snprintf(st->where, sizeof st->where, "steps[%d]", i);
			st->index = i;
			ok = load_step(&l, e, s, st);
		}
	}
	cJSON_Delete(root);
	if (!ok) {
		sc_scenario_free(s);
		return SC_ERR_INVAL;
	}
	qsort(s->steps, (size_t)s->nsteps, sizeof *s->steps, cmp_steps);
	double cad = sc_scenario_cadence(s);
	for (int i = 0; i < s->nsteps; i++) {
		const struct sc_step *st = &s->steps[i];
		/* A wait lasts its seconds, a button press as long as it is held. */
		double end_t = st->at + st->seconds + (st->action.kind == SC_ACT_BUTTON ? st->action.seconds : 0);
		if (st->kind == SC_STEP_TELEGRAMS)
			end_t = st->at + (st->count - 1) * (st->every > 0 ? st->every : cad);
		for (int k = 0; k < st->nexpect; k++)
			if (st->at + st->expect[k].within > end_t)
				end_t = st->at + st->expect[k].within;
		if (end_t > s->duration)
			s->duration = end_t;
	}
	*out = s;
	return SC_OK;
}

bool sc_match_number(const struct sc_match *m, double actual)
{
	switch (m->kind) {
	case SC_MATCH_NUMBER:
		return fabs(actual - m->num) <= m->tolerance;
	case SC_MATCH_RANGE:
		return actual >= m->min && actual <= m->max;
	default:
		return false;
	}
}

const char *sc_expect_kind_name(enum sc_expect_kind k)
{
	switch (k) {
	case SC_EXPECT_MODBUS:
		return "modbus";
	case SC_EXPECT_MQTT:
		return "mqtt";
	case SC_EXPECT_HTTP:
		return "http";
	case SC_EXPECT_LED:
		return "led";
	case SC_EXPECT_COUNTERS:
		break;
	}
	return "counters";
}

void sc_match_describe(const struct sc_match *m, char *buf, size_t cap)
{
	switch (m->kind) {
	case SC_MATCH_NUMBER:
		if (m->tolerance > 0)
			snprintf(buf, cap, "%.10g +- %g", m->num, m->tolerance);
		else
			snprintf(buf, cap, "%.10g", m->num);
		break;
	case SC_MATCH_RANGE:
		snprintf(buf, cap, "[%.10g, %.10g]", m->min, m->max);
		break;
	case SC_MATCH_STRING:
		snprintf(buf, cap, "\"%s\"", m->str);
		break;
	case SC_MATCH_BOOL:
		snprintf(buf, cap, "%s", m->b ? "true" : "false");
		break;
	case SC_MATCH_NULL:
		snprintf(buf, cap, "null");
		break;
	}
}
