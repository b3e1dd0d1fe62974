#include "payload.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "sc_error.h"
#include "textout.h"

static cJSON *num_or_null(const struct sc_opt *v)
{
	return v->set ? cJSON_CreateNumber(v->v) : cJSON_CreateNull();
}

/* Key order of the manual's example payload (§5.4): the totals up to U32,
 * the three phase objects, then reactive quantities, failures, PF and S;
 * inside a phase S comes last. JSON objects are unordered, but people diff
 * payloads and some consumers are written against the example. */
static const enum sc_rq head_keys[] = {
	SC_RQ_P, SC_RQ_P_PLUS, SC_RQ_P_MINUS, SC_RQ_E_IMPORT, SC_RQ_E_EXPORT,
	SC_RQ_U12, SC_RQ_U31, SC_RQ_U32,
};
static const enum sc_rq tail_keys[] = {
	SC_RQ_Q, SC_RQ_Q_PLUS, SC_RQ_Q_MINUS, SC_RQ_EQ1, SC_RQ_EQ2, SC_RQ_EQ3, SC_RQ_EQ4,
	SC_RQ_PFAIL, SC_RQ_LPFAIL, SC_RQ_PF, SC_RQ_S,
};
static const enum sc_pq phase_order[] = {
	SC_PQ_U, SC_PQ_I, SC_PQ_P, SC_PQ_P_PLUS, SC_PQ_P_MINUS, SC_PQ_Q, SC_PQ_Q_PLUS,
	SC_PQ_Q_MINUS, SC_PQ_VSAGS, SC_PQ_VSWELLS, SC_PQ_S,
};
_Static_assert(sizeof head_keys / sizeof head_keys[0] + sizeof tail_keys / sizeof tail_keys[0] ==
		       SC_RQ_COUNT, "every total quantity has its place in the payload");
_Static_assert(sizeof phase_order / sizeof phase_order[0] == SC_PQ_COUNT,
	       "every phase quantity has its place in the payload");

static bool add_totals(cJSON *o, const struct sc_reading *r, const enum sc_rq *keys, size_t n)
{
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++)
		ok = cJSON_AddItemToObject(o, sc_rq_name(keys[i]), num_or_null(&r->q[keys[i]]));
	return ok;
}

cJSON *sc_payload_power_instant(const struct sc_reading *r)
{
	static const char *const phase_keys[SC_PHASES] = {"l1", "l2", "l3"};
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	bool ok = cJSON_AddItemToObject(o, "ts", r->ts_set ? cJSON_CreateNumber((double)r->ts)
							    : cJSON_CreateNull());
	ok = ok && add_totals(o, r, head_keys, sizeof head_keys / sizeof head_keys[0]);
	for (int ph = 0; ok && ph < SC_PHASES; ph++) {
		cJSON *p = cJSON_CreateObject();
		ok = p && cJSON_AddItemToObject(o, phase_keys[ph], p);
		for (size_t i = 0; ok && i < SC_PQ_COUNT; i++)
			ok = cJSON_AddItemToObject(p, sc_pq_name(phase_order[i]),
						   num_or_null(&r->ph[ph][phase_order[i]]));
	}
	ok = ok && add_totals(o, r, tail_keys, sizeof tail_keys / sizeof tail_keys[0]);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A number as cJSON prints it (cJSON_PrintUnformatted): an integer that
 * fits an int as %d, else the shortest of %1.15g and %1.17g that reads
 * back the same; null for NaN and infinities. */
/* A meter's values are short decimals (237.1 V, 0.378 kW). When d is the
 * double nearest to k / 10^p for an integer k below 10^15 and p <= 9, and
 * 1e-4 <= |d| < 1e15, "%1.15g" prints exactly k / 10^p (d is within 2^-53
 * of it relatively, far less than half a unit in its 15th digit, and %g
 * uses no exponent in that range) and cJSON keeps that text. Written here
 * without printf's exact binary-to-decimal conversion; false when d is
 * not such a number. */
static bool put_short_decimal(struct sc_out *w, double d)
{
	double a = fabs(d);
	if (!(a >= 1e-4 && a < 1e15))
		return false;
	for (int p = 1; p <= 9; p++) {
		double scale = sc_pow10(p), t = a * scale;
		if (t >= 1e15)
			return false;
		double k = floor(t + 0.5);
		if (k / scale != a)
			continue;
		uint64_t ki = (uint64_t)k, unit = (uint64_t)scale;
		uint64_t ip = ki / unit, fp = ki % unit;
		int digits = p;
		while (fp != 0 && fp % 10 == 0) {
			fp /= 10;
			digits--;
		}
		if (d < 0)
			sc_out_ch(w, '-');
		sc_out_uint(w, ip, 1);
		if (fp != 0) {
			sc_out_ch(w, '.');
			sc_out_uint(w, fp, digits);
		}
		return true;
	}
	return false;
}

static void put_number(struct sc_out *w, double d)
{
	if (isnan(d) || isinf(d)) {
		sc_out_str(w, "null");
		return;
	}
	/* -0 is printed as cJSON prints it, "-0", by printf below. */
	if (d >= (double)INT_MIN && d <= (double)INT_MAX && d == (double)(int)d &&
	    !(d == 0 && signbit(d))) {
		int v = (int)d;
		if (v < 0)
			sc_out_ch(w, '-');
		sc_out_uint(w, v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v, 1);
		return;
	}
	if (put_short_decimal(w, d))
		return;
	char t[32];
	int n = snprintf(t, sizeof t, "%1.15g", d);
	/* cJSON's test: equal within a relative DBL_EPSILON. */
	double back = strtod(t, NULL), big = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
	if (!(fabs(back - d) <= big * DBL_EPSILON))
		n = snprintf(t, sizeof t, "%1.17g", d);
	if (n > 0)
		sc_out_mem(w, t, (size_t)n);
}

static void put_opt(struct sc_out *w, const char *key, const struct sc_opt *v, bool first)
{
	if (!first)
		sc_out_ch(w, ',');
	sc_out_ch(w, '"');
	sc_out_str(w, key);
	sc_out_str(w, "\":");
	if (v->set)
		put_number(w, v->v);
	else
		sc_out_str(w, "null");
}

/* The same text as printing sc_payload_power_instant with cJSON, written
 * straight: a fleet and a replay make one for every telegram. */
int sc_payload_power_instant_text(const struct sc_reading *r, char *buf, size_t cap)
{
	static const char *const phase_keys[SC_PHASES] = {"l1", "l2", "l3"};
	struct sc_out w = {buf, cap, 0, false};
	struct sc_opt ts = {(double)r->ts, r->ts_set};
	sc_out_ch(&w, '{');
	put_opt(&w, "ts", &ts, true);
	for (size_t i = 0; i < sizeof head_keys / sizeof head_keys[0]; i++)
		put_opt(&w, sc_rq_name(head_keys[i]), &r->q[head_keys[i]], false);
	for (int ph = 0; ph < SC_PHASES; ph++) {
		sc_out_str(&w, ",\"");
		sc_out_str(&w, phase_keys[ph]);
		sc_out_str(&w, "\":{");
		for (size_t i = 0; i < SC_PQ_COUNT; i++)
			put_opt(&w, sc_pq_name(phase_order[i]), &r->ph[ph][phase_order[i]], i == 0);
		sc_out_ch(&w, '}');
	}
	for (size_t i = 0; i < sizeof tail_keys / sizeof tail_keys[0]; i++)
		put_opt(&w, sc_rq_name(tail_keys[i]), &r->q[tail_keys[i]], false);
	sc_out_ch(&w, '}');
	if (w.full || w.len >= cap)
		return SC_ERR_RANGE;
	buf[w.len] = '\0';
	return (int)w.len;
}

static int take(const cJSON *obj, const char *key, struct sc_opt *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v))
		return SC_OK;
	if (!cJSON_IsNumber(v))
		return SC_ERR_INVAL;
	out->v = v->valuedouble;
	out->set = true;
	return SC_OK;
}

int sc_payload_parse_power_instant(const cJSON *obj, struct sc_reading *r)
{
	static const char *const phase_keys[SC_PHASES] = {"l1", "l2", "l3"};
	struct sc_opt ts = {0, false};

	memset(r, 0, sizeof *r);
	if (!cJSON_IsObject(obj) || take(obj, "ts", &ts))
		return SC_ERR_INVAL;
	r->ts = (int64_t)ts.v;
	r->ts_set = ts.set;
	for (int q = 0; q < SC_RQ_COUNT; q++)
		if (take(obj, sc_rq_name((enum sc_rq)q), &r->q[q]))
			return SC_ERR_INVAL;
	for (int ph = 0; ph < SC_PHASES; ph++) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, phase_keys[ph]);
		if (!p || cJSON_IsNull(p))
			continue;
		if (!cJSON_IsObject(p))
			return SC_ERR_INVAL;
		for (int q = 0; q < SC_PQ_COUNT; q++)
			if (take(p, sc_pq_name((enum sc_pq)q), &r->ph[ph][q]))
				return SC_ERR_INVAL;
	}
	return SC_OK;
}

/* The reading as firmware o sends it: energy in kWh before 5.1 (payload.h). */
static const struct sc_reading *as_sent(const struct sc_reading *r, const struct sc_payload_opts *o,
					struct sc_reading *copy)
{
	if (!o || !o->energy_kwh)
		return r;
	*copy = *r;
	copy->q[SC_RQ_E_IMPORT].v /= 1000.0;
	copy->q[SC_RQ_E_EXPORT].v /= 1000.0;
	return copy;
}

cJSON *sc_payload_power_instant_as(const struct sc_reading *r, const struct sc_payload_opts *o)
{
	struct sc_reading copy;
	return sc_payload_power_instant(as_sent(r, o, &copy));
}

int sc_payload_power_instant_text_as(const struct sc_reading *r, const struct sc_payload_opts *o,
				     char *buf, size_t cap)
{
	struct sc_reading copy;
	return sc_payload_power_instant_text(as_sent(r, o, &copy), buf, cap);
}
