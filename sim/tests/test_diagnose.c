/* The diagnosis of a value mismatch (diagnose.h): each cause found from
 * values built the way a faulty unit serves them (float32 on the wire), the
 * most specific one winning, and no cause named when none fits; and the
 * runner's evidence for a stale value (what moved across the last
 * telegrams). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "diagnose.h"
#include "reading.h"
#include "regmap.h"
#include "runner_int.h"

/* A value as a unit holds it: float32. */
static double f32(double v)
{
	return (double)(float)v;
}

static struct sc_dx_value val(const char *name, enum sc_dx_kind kind, int phase, int q, double want,
			      double served, double prev)
{
	struct sc_dx_value v;
	memset(&v, 0, sizeof v);
	snprintf(v.name, sizeof v.name, "%s", name);
	v.kind = kind;
	v.phase = phase;
	v.q = q;
	v.want = f32(want);
	v.served = served;
	v.prev = isnan(prev) ? NAN : f32(prev);
	return v;
}

/* A register served from words in order o, read in order r. */
static struct sc_dx_value reg(uint16_t addr, double want, double served, enum sc_word_order o,
			      enum sc_word_order r)
{
	uint16_t w[2];
	sc_float_to_words((float)served, o, w);
	struct sc_dx_value v;
	cr_assert(sc_dx_register(addr, w, r, f32(want), NAN, &v));
	return v;
}

static enum sc_cause diag(struct sc_dx_value *v, size_t n, struct sc_dx_cause *c)
{
	struct sc_dx_input in = {v, n, -1, -1};
	return sc_diagnose(&in, c);
}

static void text_is(const struct sc_dx_cause *c, const char *want)
{
	char buf[64];
	sc_diagnose_text(c, buf, sizeof buf);
	cr_assert_str_eq(buf, want);
}

/* A household's values: U, I, P of three phases, P and the energies. */
struct house {
	struct sc_dx_value v[16];
	size_t n;
};

static void house_init(struct house *h, double p_total)
{
	static const double u[3] = {230.1, 229.4, 231.7}, i[3] = {3.2, 1.45, 0.87};
	h->n = 0;
	for (int ph = 0; ph < 3; ph++) {
		char name[16];
		snprintf(name, sizeof name, "l%d.U", ph + 1);
		h->v[h->n] = val(name, SC_DX_OTHER, ph, SC_PQ_U, u[ph], f32(u[ph]), NAN);
		h->n++;
		snprintf(name, sizeof name, "l%d.I", ph + 1);
		h->v[h->n] = val(name, SC_DX_OTHER, ph, SC_PQ_I, i[ph], f32(i[ph]), NAN);
		h->n++;
		double p = p_total / 3 + ph * 17.25;
		snprintf(name, sizeof name, "l%d.P", ph + 1);
		h->v[h->n] = val(name, SC_DX_POWER, ph, SC_PQ_P, p, f32(p), NAN);
		h->n++;
	}
	h->v[h->n++] = val("P", SC_DX_POWER, -1, SC_RQ_P, p_total, f32(p_total), NAN);
	h->v[h->n++] = val("E_IMPORT", SC_DX_ENERGY, -1, SC_RQ_E_IMPORT, 19064850.25,
			   f32(19064850.25), NAN);
	h->v[h->n++] = val("E_EXPORT", SC_DX_ENERGY, -1, SC_RQ_E_EXPORT, 4512345.5, f32(4512345.5),
			   NAN);
	h->v[h->n++] = val("PF", SC_DX_OTHER, -1, SC_RQ_PF, 0.97, f32(0.97), NAN);
}

static struct sc_dx_value *named(struct house *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, name) == 0)
			return &h->v[i];
	cr_assert_fail("no value %s", name);
	return NULL;
}

Test(diagnose, nothing_differs_names_no_cause)
{
	struct house h;
	house_init(&h, 1234.5);
	struct sc_dx_cause c;
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_NONE);
	text_is(&c, "");
	/* Also when the oracle moved and the device did not (nothing differs). */
	struct sc_dx_input in = {h.v, h.n, 0, 1};
	cr_assert_eq(sc_diagnose(&in, NULL), SC_CAUSE_NONE);
}

Test(diagnose, word_order_swapped)
{
	/* The unit packs AB CD; the harness reads CD AB. */
	struct sc_dx_value v[] = {
		reg(0x8006, 230.1, 230.1, SC_WORDS_ABCD, SC_WORDS_CDAB),
		reg(0x8016, -1594.85, -1594.85, SC_WORDS_ABCD, SC_WORDS_CDAB),
		reg(0x8100, 19064850, 19064850, SC_WORDS_ABCD, SC_WORDS_CDAB),
		/* Zero reads as zero in either order: not differing. */
		reg(0x8018, 0, 0, SC_WORDS_ABCD, SC_WORDS_CDAB),
	};
	cr_assert(fabs(v[0].served - 230.1) > 1, "the swapped words read %g", v[0].served);
	struct sc_dx_cause c;
	cr_assert_eq(diag(v, 4, &c), SC_CAUSE_WORD_ORDER);
	text_is(&c, "word order swapped");
	/* And the other way round: served CD AB, read as AB CD. */
	struct sc_dx_value w[] = {reg(0x8016, 512.25, 512.25, SC_WORDS_CDAB, SC_WORDS_ABCD)};
	cr_assert_eq(diag(w, 1, &c), SC_CAUSE_WORD_ORDER);
}

Test(diagnose, word_order_needs_every_differing_value)
{
	/* One value swapped, another simply wrong: no cause. */
	struct sc_dx_value v[] = {
		reg(0x8006, 230.1, 230.1, SC_WORDS_ABCD, SC_WORDS_CDAB),
		reg(0x8016, 1500, 1400, SC_WORDS_CDAB, SC_WORDS_CDAB),
	};
	cr_assert_eq(diag(v, 2, NULL), SC_CAUSE_NONE);
	/* Without the raw words (an MQTT field) it cannot be word order. */
	struct sc_dx_value m = val("P", SC_DX_POWER, -1, SC_RQ_P, 230.1, v[0].served, NAN);
	cr_assert_eq(diag(&m, 1, NULL), SC_CAUSE_NONE);
}

Test(diagnose, energy_in_kwh)
{
	struct house h;
	house_init(&h, 1234.5);
	/* The unit divides by 1000 and holds float32. */
	named(&h, "E_IMPORT")->served = f32(19064850.25 / 1000);
	named(&h, "E_EXPORT")->served = f32(4512345.5 / 1000);
	struct sc_dx_cause c;
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_KWH);
	text_is(&c, "energy in kWh (firmware before 5.1)");
	/* One energy register alone is enough. */
	named(&h, "E_EXPORT")->served = f32(4512345.5);
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_KWH);
}

Test(diagnose, kwh_only_when_power_is_right)
{
	struct house h;
	house_init(&h, 1234.5);
	named(&h, "E_IMPORT")->served = f32(19064850.25 / 1000);
	named(&h, "P")->served = f32(1234.5 / 1000);
	/* Power too is /1000: a scale of the whole, not the firmware's kWh. */
	struct sc_dx_cause c;
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_SCALE);
	text_is(&c, "scale x0.001");
	/* Power wrong some other way: nothing fits. */
	named(&h, "P")->served = 999;
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_NONE);
}

Test(diagnose, export_sign_inverted)
{
	struct house h;
	house_init(&h, -2400.75);
	for (size_t i = 0; i < h.n; i++)
		if (h.v[i].kind == SC_DX_POWER)
			h.v[i].served = f32(-h.v[i].want);
	struct sc_dx_cause c;
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_EXPORT_SIGN);
	text_is(&c, "export sign inverted");
	/* The total alone. */
	house_init(&h, -2400.75);
	named(&h, "P")->served = 2400.75;
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_EXPORT_SIGN);
}

Test(diagnose, sign_of_a_value_that_is_no_power_is_no_cause)
{
	struct house h;
	house_init(&h, -2400.75);
	named(&h, "PF")->served = f32(-0.97);
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
	/* Magnitude off as well: not the sign. */
	house_init(&h, -2400.75);
	named(&h, "P")->served = 2300;
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
}

static void swap_phases(struct house *h, int a, int b)
{
	for (size_t i = 0; i < h->n; i++) {
		struct sc_dx_value *v = &h->v[i];
		if (v->phase != a)
			continue;
		for (size_t j = 0; j < h->n; j++) {
			struct sc_dx_value *u = &h->v[j];
			if (u->phase == b && u->q == v->q) {
				double t = v->served;
				v->served = u->served;
				u->served = t;
			}
		}
	}
}

Test(diagnose, phases_swapped_names_the_two)
{
	static const char *const texts[3][3] = {
		{NULL, "phases L1 and L2 swapped", "phases L1 and L3 swapped"},
		{NULL, NULL, "phases L2 and L3 swapped"},
	};
	for (int a = 0; a < 3; a++)
		for (int b = a + 1; b < 3; b++) {
			struct house h;
			house_init(&h, 1234.5);
			swap_phases(&h, b, a);
			struct sc_dx_cause c;
			cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_PHASES, "L%d L%d", a + 1, b + 1);
			cr_assert_eq(c.pa, a);
			cr_assert_eq(c.pb, b);
			text_is(&c, texts[a][b]);
		}
}

Test(diagnose, phases_rotated_or_copied_is_no_cause)
{
	struct house h;
	house_init(&h, 1234.5);
	/* All three rotated: not a swap of two. */
	swap_phases(&h, 0, 1);
	swap_phases(&h, 1, 2);
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
	/* L1 serving L2's values, L2 its own: a copy, not a swap. */
	house_init(&h, 1234.5);
	named(&h, "l1.U")->served = named(&h, "l2.U")->want;
	named(&h, "l1.I")->served = named(&h, "l2.I")->want;
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
}

Test(diagnose, served_one_telegram_late)
{
	struct house h;
	house_init(&h, 1234.5);
	/* The previous telegram: other values; the unit serves those. */
	for (size_t i = 0; i < h.n; i++) {
		h.v[i].prev = f32(h.v[i].want * 0.98 + 1);
		h.v[i].served = h.v[i].prev;
	}
	/* A value that did not change from one telegram to the next. */
	named(&h, "PF")->prev = named(&h, "PF")->want;
	named(&h, "PF")->served = named(&h, "PF")->want;
	struct sc_dx_cause c;
	cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_LATE);
	text_is(&c, "served one telegram late");
}

Test(diagnose, late_needs_every_value_to_be_the_previous)
{
	struct house h;
	house_init(&h, 1234.5);
	for (size_t i = 0; i < h.n; i++) {
		h.v[i].prev = f32(h.v[i].want * 0.98 + 1);
		h.v[i].served = h.v[i].prev;
	}
	/* One of them current: not late (a mix). */
	named(&h, "P")->served = named(&h, "P")->want;
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
	/* The previous telegram unknown: cannot say. */
	house_init(&h, 1234.5);
	named(&h, "P")->served = 1000;
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
}

Test(diagnose, stale_value_when_the_oracle_moved_and_the_device_did_not)
{
	struct house h;
	house_init(&h, 1234.5);
	for (size_t i = 0; i < h.n; i++)
		h.v[i].served = f32(h.v[i].want * 0.9 + 3);
	struct sc_dx_cause c;
	struct sc_dx_input in = {h.v, h.n, 0, 1};
	cr_assert_eq(sc_diagnose(&in, &c), SC_CAUSE_STALE);
	text_is(&c, "stale value (not updating)");
	/* Stale wins over late: a late unit's values move with the meter's. */
	for (size_t i = 0; i < h.n; i++)
		h.v[i].prev = h.v[i].served;
	cr_assert_eq(sc_diagnose(&in, &c), SC_CAUSE_STALE);
	in.served_moved = 1;
	cr_assert_eq(sc_diagnose(&in, &c), SC_CAUSE_LATE);
}

Test(diagnose, stale_needs_to_know_both)
{
	struct house h;
	house_init(&h, 1234.5);
	named(&h, "P")->served = 1000;
	const int cases[][2] = {{-1, 1}, {0, -1}, {0, 0}, {1, 1}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct sc_dx_input in = {h.v, h.n, cases[k][0], cases[k][1]};
		cr_assert_eq(sc_diagnose(&in, NULL), SC_CAUSE_NONE, "served %d oracle %d",
			     cases[k][0], cases[k][1]);
	}
}

Test(diagnose, scale_factors)
{
	static const struct {
		double f;
		const char *text;
	} cases[] = {{10, "scale x10"}, {1000, "scale x1000"}, {0.1, "scale x0.1"},
		     {0.001, "scale x0.001"}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct house h;
		house_init(&h, 1234.5);
		/* Currents served in another unit, as float32. */
		for (int ph = 1; ph <= 3; ph++) {
			char name[8];
			snprintf(name, sizeof name, "l%d.I", ph);
			struct sc_dx_value *v = named(&h, name);
			v->served = f32(v->want * cases[k].f);
		}
		struct sc_dx_cause c;
		cr_assert_eq(diag(h.v, h.n, &c), SC_CAUSE_SCALE, "x%g", cases[k].f);
		cr_assert_float_eq(c.factor, cases[k].f, 1e-12);
		text_is(&c, cases[k].text);
	}
}

Test(diagnose, scale_needs_one_factor_and_exactness)
{
	struct house h;
	house_init(&h, 1234.5);
	named(&h, "l1.I")->served = f32(named(&h, "l1.I")->want * 10);
	named(&h, "l2.I")->served = f32(named(&h, "l2.I")->want * 1000);
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
	/* Ten times and a little: no. */
	house_init(&h, 1234.5);
	named(&h, "l1.I")->served = f32(named(&h, "l1.I")->want * 10.01);
	cr_assert_eq(diag(h.v, h.n, NULL), SC_CAUSE_NONE);
	/* An expected 0 served as 5: no factor makes it. */
	struct sc_dx_value z = val("Q", SC_DX_OTHER, -1, SC_RQ_Q, 0, 5, NAN);
	cr_assert_eq(diag(&z, 1, NULL), SC_CAUSE_NONE);
}

Test(diagnose, float32_rounding_is_no_difference)
{
	/* The oracle's values in double, the unit's float32: equal. */
	struct sc_dx_value v[] = {
		val("E_IMPORT", SC_DX_ENERGY, -1, SC_RQ_E_IMPORT, 19064.85, (double)19064.85f, NAN),
		val("l1.I", SC_DX_OTHER, 0, SC_PQ_I, 0.58, 0.579999983310699, NAN),
	};
	v[0].want = 19064.85;
	v[1].want = 0.58;
	cr_assert_eq(diag(v, 2, NULL), SC_CAUSE_NONE);
	/* kWh from a double expected value, the unit rounding its own way. */
	v[0].want = 19064850.123;
	v[0].served = (double)(float)(19064850.123 / 1000.0);
	struct sc_dx_cause c;
	cr_assert_eq(diag(v, 2, &c), SC_CAUSE_KWH);
	v[0].served = (double)((float)19064850.123 / 1000.0f);
	cr_assert_eq(diag(v, 2, &c), SC_CAUSE_KWH);
}

Test(diagnose, the_most_specific_wins)
{
	/* Energy registers in the other word order: the word order, whatever
	 * the garbage they read as. */
	struct sc_dx_value v[] = {reg(0x8100, 19064850, 19064850, SC_WORDS_ABCD, SC_WORDS_CDAB),
				  reg(0x8106, 5120, 5120, SC_WORDS_ABCD, SC_WORDS_CDAB)};
	cr_assert_eq(diag(v, 2, NULL), SC_CAUSE_WORD_ORDER);
	/* Energy / 1000 is kWh, not "scale x0.001". */
	struct sc_dx_value e = val("E_IMPORT", SC_DX_ENERGY, -1, SC_RQ_E_IMPORT, 5000, 5, NAN);
	cr_assert_eq(diag(&e, 1, NULL), SC_CAUSE_KWH);
	/* Power * -1 is the sign, though it equals the previous telegram's. */
	struct sc_dx_value p = val("P", SC_DX_POWER, -1, SC_RQ_P, -300, 300, 300);
	cr_assert_eq(diag(&p, 1, NULL), SC_CAUSE_EXPORT_SIGN);
	/* Served the previous telegram's, which is ten times this one's:
	 * late, not a scale. */
	struct sc_dx_value l = val("l1.I", SC_DX_OTHER, 0, SC_PQ_I, 1.5, 15, 15);
	cr_assert_eq(diag(&l, 1, NULL), SC_CAUSE_LATE);
}

Test(diagnose, append_says_likely_cause)
{
	char buf[96] = "0x8016 active_power 1 (want 2)";
	struct sc_dx_cause c = {SC_CAUSE_PHASES, 1, 2, 0};
	sc_diagnose_append(buf, sizeof buf, &c);
	cr_assert_str_eq(buf, "0x8016 active_power 1 (want 2); likely cause: phases L2 and L3 swapped");
	/* No cause: nothing appended. */
	struct sc_dx_cause none = {SC_CAUSE_NONE, -1, -1, 0};
	sc_diagnose_append(buf, sizeof buf, &none);
	cr_assert_str_eq(buf, "0x8016 active_power 1 (want 2); likely cause: phases L2 and L3 swapped");
	/* No room: nothing, rather than a cut phrase. */
	char small[40] = "0x8016 active_power 1 (want 2)";
	sc_diagnose_append(small, sizeof small, &c);
	cr_assert_str_eq(small, "0x8016 active_power 1 (want 2)");
	/* Every cause's tail fits SC_DX_TAIL. */
	for (int k = SC_CAUSE_WORD_ORDER; k < SC_CAUSE_COUNT; k++) {
		struct sc_dx_cause x = {(enum sc_cause)k, 0, 2, 0.001};
		char t[SC_DX_TAIL] = "";
		sc_diagnose_append(t, sizeof t, &x);
		cr_assert(strncmp(t, "; likely cause: ", 16) == 0 && strlen(t) > 16, "%d: %s", k, t);
	}
}

Test(word_order_fit, mains_voltage_tells_the_order)
{
	uint16_t w[2];
	enum sc_word_order o;
	double v;
	sc_float_to_words(230.1f, SC_WORDS_CDAB, w);
	cr_assert_eq(sc_word_order_fit(w, 80, 300, &o, &v), 1);
	cr_assert_eq(o, SC_WORDS_CDAB);
	cr_assert_float_eq(v, 230.1, 1e-4);
	sc_float_to_words(230.1f, SC_WORDS_ABCD, w);
	cr_assert_eq(sc_word_order_fit(w, 80, 300, &o, &v), 1);
	cr_assert_eq(o, SC_WORDS_ABCD);
	cr_assert_float_eq(v, 230.1, 1e-4);
	/* An exact value, within float32 rounding. */
	cr_assert_eq(sc_word_order_fit(w, 230.1, 230.1, &o, NULL), 1);
	cr_assert_eq(o, SC_WORDS_ABCD);
	/* Neither: no voltage. */
	sc_float_to_words(1e6f, SC_WORDS_CDAB, w);
	cr_assert_eq(sc_word_order_fit(w, 80, 300, NULL, NULL), 0);
	/* Both words equal: either order reads the same. */
	w[0] = w[1] = 0x4366;
	cr_assert_eq(sc_word_order_fit(w, 0, 1000, &o, NULL), 2);
	cr_assert_eq(o, SC_WORDS_CDAB);
}

static struct sc_reading household(double p)
{
	struct sc_reading r;
	memset(&r, 0, sizeof r);
	sc_reading_set(&r, SC_RQ_P, p);
	sc_reading_set(&r, SC_RQ_E_IMPORT, 19064850);
	sc_reading_set(&r, SC_RQ_E_EXPORT, 512345);
	static const double u[3] = {230.1, 229.4, 231.7}, i[3] = {3.2, 1.45, 0.87};
	for (int ph = 0; ph < 3; ph++) {
		sc_reading_set_ph(&r, ph, SC_PQ_U, u[ph]);
		sc_reading_set_ph(&r, ph, SC_PQ_I, i[ph]);
		sc_reading_set_ph(&r, ph, SC_PQ_P, p / 3 + ph);
	}
	return r;
}

static enum sc_cause map_cause(const struct sc_reading *served, const struct sc_regmap_opts *so,
			       const struct sc_reading *want, const struct sc_regmap_opts *wo,
			       const struct sc_reading *prev, struct sc_dx_cause *c)
{
	static struct sc_regmap got, img, pimg;
	sc_regmap_build(&got, served, so);
	sc_regmap_build(&img, want, wo);
	if (prev)
		sc_regmap_build(&pimg, prev, wo);
	size_t ndefs;
	sc_regmap_defs(&ndefs);
	static struct sc_dx_value v[128];
	cr_assert(ndefs <= 128);
	struct sc_dx_input in = {v, 0, -1, -1};
	in.n = sc_dx_from_map(got.w, &img, prev ? &pimg : NULL, wo->order, v);
	cr_assert_eq(in.n, ndefs);
	return sc_diagnose(&in, c);
}

Test(from_map, the_twins_faults_through_the_register_map)
{
	struct sc_reading r = household(1500.5), before = household(1400.25);
	const struct sc_regmap_opts want = {SC_WORDS_CDAB, false};
	const struct sc_regmap_opts abcd = {SC_WORDS_ABCD, false};
	const struct sc_regmap_opts kwh = {SC_WORDS_CDAB, true};
	struct sc_dx_cause c;
	cr_assert_eq(map_cause(&r, &want, &r, &want, &before, &c), SC_CAUSE_NONE);
	cr_assert_eq(map_cause(&r, &abcd, &r, &want, &before, &c), SC_CAUSE_WORD_ORDER);
	cr_assert_eq(map_cause(&r, &kwh, &r, &want, &before, &c), SC_CAUSE_KWH);
	cr_assert_eq(map_cause(&before, &want, &r, &want, &before, &c), SC_CAUSE_LATE);
	/* Without the previous telegram, late cannot be told. */
	cr_assert_eq(map_cause(&before, &want, &r, &want, NULL, &c), SC_CAUSE_NONE);
	struct sc_reading swapped = r;
	for (int q = 0; q < SC_PQ_COUNT; q++) {
		swapped.ph[0][q] = r.ph[2][q];
		swapped.ph[2][q] = r.ph[0][q];
	}
	cr_assert_eq(map_cause(&swapped, &want, &r, &want, &before, &c), SC_CAUSE_PHASES);
	text_is(&c, "phases L1 and L3 swapped");
	struct sc_reading exp = household(-800.5), inv = exp;
	inv.q[SC_RQ_P].v = 800.5;
	for (int ph = 0; ph < 3; ph++)
		inv.ph[ph][SC_PQ_P].v = -exp.ph[ph][SC_PQ_P].v;
	cr_assert_eq(map_cause(&inv, &want, &exp, &want, NULL, &c), SC_CAUSE_EXPORT_SIGN);
}

Test(from_payload, fields_of_power_instant)
{
	cJSON *want = cJSON_Parse("{\"ts\":1751360400,\"P\":-812.5,\"E_IMPORT\":19064850,"
				  "\"E_EXPORT\":51234,\"l1\":{\"U\":230.1,\"I\":3.2,\"P\":-400},"
				  "\"l2\":{\"U\":229.4,\"I\":1.5,\"P\":-412.5},\"l3\":null}");
	cJSON *kwh = cJSON_Parse("{\"ts\":1751360400,\"P\":-812.5,\"E_IMPORT\":19064.85,"
				 "\"E_EXPORT\":51.234,\"l1\":{\"U\":230.1,\"I\":3.2,\"P\":-400},"
				 "\"l2\":{\"U\":229.4,\"I\":1.5,\"P\":-412.5},\"l3\":null}");
	cJSON *swapped = cJSON_Parse("{\"ts\":1751360401,\"P\":-812.5,\"E_IMPORT\":19064850,"
				     "\"E_EXPORT\":51234,\"l2\":{\"U\":230.1,\"I\":3.2,\"P\":-400},"
				     "\"l1\":{\"U\":229.4,\"I\":1.5,\"P\":-412.5}}");
	cJSON *sign = cJSON_Parse("{\"ts\":1751360400,\"P\":812.5,\"E_IMPORT\":19064850,"
				  "\"E_EXPORT\":51234,\"l1\":{\"U\":230.1,\"I\":3.2,\"P\":400},"
				  "\"l2\":{\"U\":229.4,\"I\":1.5,\"P\":412.5}}");
	cr_assert(want && kwh && swapped && sign);
	struct sc_dx_value v[32];
	size_t n = sc_dx_from_payload(want, kwh, NULL, v, 32);
	/* ts left out; l3 null: nothing of it. */
	cr_assert_eq(n, 9);
	cr_assert_str_eq(v[0].name, "P");
	cr_assert_eq(v[0].kind, SC_DX_POWER);
	cr_assert_eq(v[1].kind, SC_DX_ENERGY);
	cr_assert_str_eq(v[5].name, "l1.P");
	cr_assert_eq(v[5].kind, SC_DX_POWER);
	cr_assert_eq(v[5].phase, 0);
	struct sc_dx_cause c;
	struct sc_dx_input in = {v, n, -1, -1};
	cr_assert_eq(sc_diagnose(&in, &c), SC_CAUSE_KWH);
	in.n = sc_dx_from_payload(want, swapped, NULL, v, 32);
	cr_assert_eq(sc_diagnose(&in, &c), SC_CAUSE_PHASES);
	text_is(&c, "phases L1 and L2 swapped");
	in.n = sc_dx_from_payload(want, sign, NULL, v, 32);
	cr_assert_eq(sc_diagnose(&in, &c), SC_CAUSE_EXPORT_SIGN);
	/* Late: the served message is the previous telegram's. */
	in.n = sc_dx_from_payload(kwh, want, want, v, 32);
	cr_assert_eq(sc_diagnose(&in, &c), SC_CAUSE_LATE);
	/* cap respected */
	cr_assert_eq(sc_dx_from_payload(want, kwh, NULL, v, 3), 3);
	/* Moved: ts alone is no change. */
	cr_assert(sc_dx_payload_moved(want, swapped));
	cJSON *later = cJSON_Duplicate(want, true);
	cJSON_ReplaceItemInObject(later, "ts", cJSON_CreateNumber(1751360410));
	cr_assert_not(sc_dx_payload_moved(want, later));
	cr_assert(sc_dx_payload_moved(want, kwh));
	cJSON_Delete(later);
	cJSON_Delete(want);
	cJSON_Delete(kwh);
	cJSON_Delete(swapped);
	cJSON_Delete(sign);
}

/* ---- the runner's evidence for stale: what moved across the last telegrams ---- */

static struct sc_run_telegram tg(double p, double e)
{
	struct sc_run_telegram t;
	memset(&t, 0, sizeof t);
	t.sent = t.ok = true;
	t.p = p;
	t.e_import = e;
	t.e_export = NAN;
	return t;
}

Test(evidence, the_oracle_moved_at_each_step)
{
	struct sc_run_telegram t[5] = {tg(100, 5000), tg(110, 5000), tg(110, 5001), tg(120, 5001),
				       tg(0, 0)};
	t[4].ok = false; /* a bad telegram: not the oracle's */
	struct sc_run run;
	memset(&run, 0, sizeof run);
	run.tg = t;
	run.ntg = 2;
	cr_assert_eq(sc_oracle_moved(&run, 2), -1, "two telegrams are not three");
	run.ntg = 5;
	cr_assert_eq(sc_oracle_moved(&run, 2), 1);
	cr_assert_eq(sc_oracle_moved(&run, 3), 1);
	t[2].p = 110;
	t[2].e_import = 5000;
	cr_assert_eq(sc_oracle_moved(&run, 2), 0, "the same values twice");
}

static struct sc_run_sample smp(double p, double e)
{
	struct sc_run_sample s = {0, p + 1, p, e + 1, e};
	return s;
}

Test(evidence, the_served_values_moved)
{
	struct sc_run_sample s[3] = {smp(100, 5000), smp(100, 5000), smp(100, 5000)};
	struct sc_run run;
	memset(&run, 0, sizeof run);
	run.s = s;
	run.ns = 1;
	struct sc_run_sample cur = smp(100, 5000);
	cr_assert_eq(sc_readback_served_moved(&run, &cur, 3), -1, "two samples are not three");
	run.ns = 3;
	cr_assert_eq(sc_readback_served_moved(&run, &cur, 3), 0);
	cr_assert_eq(sc_readback_served_moved(&run, NULL, 3), 0);
	/* Older than the window: not counted. */
	s[0].got_p = 90;
	cr_assert_eq(sc_readback_served_moved(&run, &cur, 3), 0);
	cr_assert_eq(sc_readback_served_moved(&run, NULL, 3), 1);
	cur.got_e = 5001;
	cr_assert_eq(sc_readback_served_moved(&run, &cur, 3), 1);
	/* One not read in the window: unknown. */
	s[2].got_p = NAN;
	cr_assert_eq(sc_readback_served_moved(&run, &cur, 3), -1);
}
