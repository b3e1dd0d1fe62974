/* Diagnosis of a value mismatch (see diagnose.h). */
#include "diagnose.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "reading.h"

int sc_word_order_fit(const uint16_t w[2], double lo, double hi, enum sc_word_order *order,
		      double *value)
{
	static const enum sc_word_order orders[] = {SC_WORDS_CDAB, SC_WORDS_ABCD};
	int n = 0;
	for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
		double v = (double)sc_words_to_float(w, orders[i]);
		bool fits = lo == hi ? sc_cmp_f32(lo, v) : v >= lo && v <= hi;
		if (!fits)
			continue;
		if (n++ == 0) {
			if (order)
				*order = orders[i];
			if (value)
				*value = v;
		}
	}
	return n;
}

/* A value derived from the expected one (x1000, /1000, -1, x10): the
 * device may round differently from the oracle, so two float32 steps. */
static bool near_f32(double want, double got)
{
	if (sc_cmp_f32(want, got))
		return true;
	if (!isfinite(want) || !isfinite(got))
		return false;
	float fw = fabsf((float)want);
	double step = (double)nextafterf(fw, INFINITY) - (double)fw;
	return fabs(got - want) <= 2 * step;
}

static bool differs(const struct sc_dx_value *v)
{
	if (isnan(v->want) && isnan(v->served))
		return false;
	return !sc_cmp_f32(v->want, v->served);
}

static bool rule_word_order(const struct sc_dx_value *v)
{
	enum sc_word_order o;
	return v->words && sc_word_order_fit(v->w, v->want, v->want, &o, NULL) > 0 && o != v->order;
}

static bool rule_kwh(const struct sc_dx_value *v)
{
	return v->kind == SC_DX_ENERGY && v->want != 0 && near_f32(v->want / 1000.0, v->served);
}

static bool rule_sign(const struct sc_dx_value *v)
{
	return v->kind == SC_DX_POWER && v->want != 0 && near_f32(-v->want, v->served);
}

/* Every differing value passes the rule (and at least one differs). */
static bool all_differing(const struct sc_dx_input *in, bool (*rule)(const struct sc_dx_value *))
{
	size_t n = 0;
	for (size_t i = 0; i < in->n; i++) {
		if (!differs(&in->v[i]))
			continue;
		if (!rule(&in->v[i]))
			return false;
		n++;
	}
	return n > 0;
}

static bool any_differs(const struct sc_dx_input *in)
{
	for (size_t i = 0; i < in->n; i++)
		if (differs(&in->v[i]))
			return true;
	return false;
}

/* The value of quantity q in phase ph, or NULL. */
static const struct sc_dx_value *in_phase(const struct sc_dx_input *in, int ph, int q)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i].phase == ph && in->v[i].q == q)
			return &in->v[i];
	return NULL;
}

static bool rule_phases(const struct sc_dx_input *in, int *pa, int *pb)
{
	bool seen[3] = {false, false, false};
	size_t n = 0;
	for (size_t i = 0; i < in->n; i++) {
		const struct sc_dx_value *v = &in->v[i];
		if (!differs(v))
			continue;
		if (v->phase < 0 || v->phase > 2)
			return false;
		seen[v->phase] = true;
		n++;
	}
	int a = -1, b = -1, count = 0;
	for (int p = 0; p < 3; p++)
		if (seen[p]) {
			if (count == 0)
				a = p;
			else
				b = p;
			count++;
		}
	if (n == 0 || count != 2)
		return false;
	for (size_t i = 0; i < in->n; i++) {
		const struct sc_dx_value *v = &in->v[i];
		if (!differs(v))
			continue;
		const struct sc_dx_value *u = in_phase(in, v->phase == a ? b : a, v->q);
		if (!u || !sc_cmp_f32(u->want, v->served))
			return false;
	}
	*pa = a;
	*pb = b;
	return true;
}

static bool rule_late(const struct sc_dx_input *in)
{
	size_t n = 0;
	for (size_t i = 0; i < in->n; i++) {
		const struct sc_dx_value *v = &in->v[i];
		if (isnan(v->prev) || !sc_cmp_f32(v->prev, v->served))
			return false;
		if (differs(v))
			n++;
	}
	return n > 0;
}

static bool rule_scale(const struct sc_dx_input *in, double *factor)
{
	static const double factors[] = {10, 1000, 0.1, 0.001};
	for (size_t f = 0; f < sizeof factors / sizeof factors[0]; f++) {
		size_t n = 0;
		bool all = true;
		for (size_t i = 0; i < in->n && all; i++) {
			const struct sc_dx_value *v = &in->v[i];
			if (!differs(v))
				continue;
			all = v->want != 0 && near_f32(v->want * factors[f], v->served);
			n++;
		}
		if (all && n > 0) {
			*factor = factors[f];
			return true;
		}
	}
	return false;
}

enum sc_cause sc_diagnose(const struct sc_dx_input *in, struct sc_dx_cause *out)
{
	struct sc_dx_cause c = {SC_CAUSE_NONE, -1, -1, 0};
	if (all_differing(in, rule_word_order))
		c.cause = SC_CAUSE_WORD_ORDER;
	else if (all_differing(in, rule_kwh))
		c.cause = SC_CAUSE_KWH;
	else if (all_differing(in, rule_sign))
		c.cause = SC_CAUSE_EXPORT_SIGN;
	else if (rule_phases(in, &c.pa, &c.pb))
		c.cause = SC_CAUSE_PHASES;
	else if (in->served_moved == 0 && in->oracle_moved == 1 && any_differs(in))
		c.cause = SC_CAUSE_STALE;
	else if (rule_late(in))
		c.cause = SC_CAUSE_LATE;
	else if (rule_scale(in, &c.factor))
		c.cause = SC_CAUSE_SCALE;
	if (out)
		*out = c;
	return c.cause;
}

const char *sc_cause_name(enum sc_cause c)
{
	static const char *const names[SC_CAUSE_COUNT] = {
		[SC_CAUSE_NONE] = "",
		[SC_CAUSE_WORD_ORDER] = "word order swapped",
		[SC_CAUSE_KWH] = "energy in kWh (firmware before 5.1)",
		[SC_CAUSE_EXPORT_SIGN] = "export sign inverted",
		[SC_CAUSE_PHASES] = "phases swapped",
		[SC_CAUSE_STALE] = "stale value (not updating)",
		[SC_CAUSE_LATE] = "served one telegram late",
		[SC_CAUSE_SCALE] = "scale",
	};
	return (unsigned)c < SC_CAUSE_COUNT ? names[c] : "";
}

void sc_diagnose_text(const struct sc_dx_cause *c, char *buf, size_t cap)
{
	if (!cap)
		return;
	switch (c->cause) {
	case SC_CAUSE_PHASES:
		snprintf(buf, cap, "phases L%d and L%d swapped", c->pa + 1, c->pb + 1);
		break;
	case SC_CAUSE_SCALE:
		snprintf(buf, cap, "scale x%g", c->factor);
		break;
	default:
		snprintf(buf, cap, "%s", sc_cause_name(c->cause));
		break;
	}
}

void sc_diagnose_append(char *buf, size_t cap, const struct sc_dx_cause *c)
{
	if (!c || c->cause == SC_CAUSE_NONE)
		return;
	char text[48], tail[SC_DX_TAIL + 8];
	sc_diagnose_text(c, text, sizeof text);
	int n = snprintf(tail, sizeof tail, "; likely cause: %s", text);
	size_t used = strlen(buf);
	if (n < 0 || used + (size_t)n >= cap)
		return;
	memcpy(buf + used, tail, (size_t)n + 1);
}

/* What the rules need of a register's definition. */
static void from_def(const struct sc_regdef *d, struct sc_dx_value *v)
{
	snprintf(v->name, sizeof v->name, "0x%04X %s", d->addr, d->name);
	v->phase = d->phase ? d->ph : -1;
	v->q = d->q;
	v->kind = SC_DX_OTHER;
	if (!d->phase && (d->q == SC_RQ_E_IMPORT || d->q == SC_RQ_E_EXPORT))
		v->kind = SC_DX_ENERGY;
	else if ((!d->phase && d->q == SC_RQ_P) || (d->phase && d->q == SC_PQ_P))
		v->kind = SC_DX_POWER;
}

bool sc_dx_register(uint16_t addr, const uint16_t w[2], enum sc_word_order order, double want,
		    double prev, struct sc_dx_value *out)
{
	const struct sc_regdef *d = sc_regmap_def_at(addr);
	if (!d)
		return false;
	memset(out, 0, sizeof *out);
	from_def(d, out);
	out->words = true;
	out->w[0] = w[0];
	out->w[1] = w[1];
	out->order = order;
	out->served = (double)sc_words_to_float(w, order);
	out->want = want;
	out->prev = prev;
	return true;
}

size_t sc_dx_from_map(const uint16_t *got, const struct sc_regmap *want,
		      const struct sc_regmap *prev, enum sc_word_order order,
		      struct sc_dx_value *out)
{
	size_t ndefs;
	const struct sc_regdef *defs = sc_regmap_defs(&ndefs);
	for (size_t i = 0; i < ndefs; i++) {
		size_t a = defs[i].addr - SC_REGMAP_BASE;
		double w = (double)sc_words_to_float(&want->w[a], order);
		double p = prev ? (double)sc_words_to_float(&prev->w[a], order) : NAN;
		sc_dx_register(defs[i].addr, &got[a], order, w, p, &out[i]);
	}
	return ndefs;
}

static const char *const phase_keys[3] = {"l1", "l2", "l3"};

static void payload_at(const cJSON *want, const cJSON *got, const cJSON *prev, int phase,
		       struct sc_dx_value *out, size_t cap, size_t *n)
{
	for (const cJSON *w = want->child; w; w = w->next) {
		if (!w->string || (phase < 0 && strcmp(w->string, "ts") == 0))
			continue;
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
		const cJSON *p = prev ? cJSON_GetObjectItemCaseSensitive(prev, w->string) : NULL;
		if (cJSON_IsObject(w)) {
			int ph = -1;
			for (int k = 0; k < 3; k++)
				if (phase < 0 && strcmp(w->string, phase_keys[k]) == 0)
					ph = k;
			if (ph >= 0 && cJSON_IsObject(g))
				payload_at(w, g, cJSON_IsObject(p) ? p : NULL, ph, out, cap, n);
			continue;
		}
		if (!cJSON_IsNumber(w) || !cJSON_IsNumber(g) || *n >= cap)
			continue;
		struct sc_dx_value *v = &out[(*n)++];
		memset(v, 0, sizeof *v);
		if (phase >= 0)
			snprintf(v->name, sizeof v->name, "%s.%s", phase_keys[phase], w->string);
		else
			snprintf(v->name, sizeof v->name, "%s", w->string);
		v->phase = phase;
		if (phase >= 0) {
			v->q = sc_pq_from_name(w->string);
			v->kind = v->q == SC_PQ_P ? SC_DX_POWER : SC_DX_OTHER;
		} else {
			v->q = sc_rq_from_name(w->string);
			v->kind = v->q == SC_RQ_E_IMPORT || v->q == SC_RQ_E_EXPORT ? SC_DX_ENERGY
				  : v->q == SC_RQ_P				   ? SC_DX_POWER
										   : SC_DX_OTHER;
		}
		v->served = g->valuedouble;
		v->want = w->valuedouble;
		v->prev = cJSON_IsNumber(p) ? p->valuedouble : NAN;
	}
}

size_t sc_dx_from_payload(const cJSON *want, const cJSON *got, const cJSON *prev,
			  struct sc_dx_value *out, size_t cap)
{
	size_t n = 0;
	if (cJSON_IsObject(want) && cJSON_IsObject(got))
		payload_at(want, got, cJSON_IsObject(prev) ? prev : NULL, -1, out, cap, &n);
	return n;
}

static bool moved_at(const cJSON *a, const cJSON *b, bool top)
{
	for (const cJSON *x = a->child; x; x = x->next) {
		if (!x->string || (top && strcmp(x->string, "ts") == 0))
			continue;
		const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
		if (cJSON_IsObject(x)) {
			if (!cJSON_IsObject(y) || moved_at(x, y, false))
				return true;
			continue;
		}
		if (cJSON_IsNumber(x) != cJSON_IsNumber(y))
			return true;
		if (cJSON_IsNumber(x) && x->valuedouble != y->valuedouble)
			return true;
	}
	return false;
}

bool sc_dx_payload_moved(const cJSON *a, const cJSON *b)
{
	if (!cJSON_IsObject(a) || !cJSON_IsObject(b))
		return false;
	return moved_at(a, b, true) || moved_at(b, a, true);
}
