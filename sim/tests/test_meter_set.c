/* Values set by hand on the synthetic meter (meter.h sc_meter_set): every
 * flavour's telegram, parsed by the device's own parser, stays consistent:
 * phases sum to the total, currents are P / U at the meter's rounding,
 * energies integrate from the values held, ramps follow the meter's clock,
 * TIC has no negative phase, and a value the meter cannot express changes
 * nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "meter.h"
#include "p1_gen.h"
#include "sc_error.h"
#include "telegram.h"
#include "tic_gen.h"

/* 2025-03-12T10:00:00Z, a Wednesday: tariff 2 (normal) in NL. */
#define T0 1741773600LL

struct kind {
	const char *name;
	enum sc_flavour flavour;
	bool producer; /* TIC */
};

static const struct kind kinds[] = {
	{"dsmr42", SC_FLAVOUR_DSMR42, false},
	{"dsmr50", SC_FLAVOUR_DSMR50, false},
	{"emucs", SC_FLAVOUR_EMUCS, false},
	{"tic producer", SC_FLAVOUR_TIC, true},
	{"tic consumer", SC_FLAVOUR_TIC, false},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static void limits(const struct kind *k, struct sc_meter_limits *lim)
{
	if (k->flavour == SC_FLAVOUR_TIC) {
		struct sc_tic_gen_opts o = {.producer = k->producer};
		sc_tic_gen_limits(&o, lim);
	} else {
		cr_assert_eq(sc_p1_gen_limits(k->flavour, lim), SC_OK);
	}
}

static void meter_new(struct sc_meter *m, int phases, enum sc_profile prof)
{
	struct sc_meter_config cfg = {.profile = prof, .phases = phases, .seed = 11, .start = T0};
	sc_meter_init(m, &cfg);
}

/* The telegram of m as the device's parser reads it. */
static struct sc_reading read_back(const struct sc_meter *m, const struct kind *k)
{
	static char buf[SC_P1_GEN_MAX];
	int n;
	if (k->flavour == SC_FLAVOUR_TIC) {
		struct sc_tic_gen_opts o = {.producer = k->producer};
		n = sc_tic_gen(m, &o, buf, sizeof buf, NULL);
	} else {
		struct sc_p1_gen_opts o = {.flavour = k->flavour};
		n = sc_p1_gen(m, &o, buf, sizeof buf, NULL);
	}
	cr_assert_gt(n, 0, "%s: the generator failed (%d)", k->name, n);
	struct sc_tg_stream *s = sc_tg_stream_new(k->flavour == SC_FLAVOUR_TIC ? SC_PROTO_TIC
									  : SC_PROTO_P1, 0);
	cr_assert_not_null(s);
	static struct sc_tg_event ev;
	struct sc_reading r;
	int ok = 0;
	const char *p = buf;
	size_t left = (size_t)n;
	while (left > 0) {
		size_t used = sc_tg_feed(s, p, left, &ev);
		p += used;
		left -= used;
		if (ev.kind == SC_TG_OK) {
			r = ev.reading;
			ok++;
		}
		cr_assert_neq(ev.kind, SC_TG_FAILED, "%s: %s: %s", k->name, ev.name, ev.detail);
	}
	while (sc_tg_finish(s, &ev) != SC_TG_NONE) {
		if (ev.kind == SC_TG_OK) {
			r = ev.reading;
			ok++;
		}
	}
	sc_tg_stream_free(s);
	cr_assert_eq(ok, 1, "%s: %d readings", k->name, ok);
	return r;
}

static int set_kv(struct sc_meter *m, const struct kind *k, int64_t now, const char *keys,
		  char *why, size_t cap)
{
	/* "P=9000 l1.U=230" */
	struct sc_meter_set rq;
	memset(&rq, 0, sizeof rq);
	char text[256];
	snprintf(text, sizeof text, "%s", keys);
	for (char *tok = strtok(text, " "); tok; tok = strtok(NULL, " ")) {
		char *eq = strchr(tok, '=');
		cr_assert_not_null(eq, "%s", tok);
		*eq = '\0';
		int key = sc_meter_key_from_name(tok);
		cr_assert_geq(key, 0, "%s", tok);
		rq.given[key] = true;
		rq.value[key] = strtod(eq + 1, NULL);
	}
	struct sc_meter_limits lim;
	limits(k, &lim);
	return sc_meter_set(m, &rq, &lim, now, why, cap);
}

static void set_ok(struct sc_meter *m, const struct kind *k, int64_t now, const char *keys)
{
	char why[300] = "";
	int rc = set_kv(m, k, now, keys, why, sizeof why);
	cr_assert_eq(rc, SC_OK, "%s: set %s: %s", k->name, keys, why);
}

/* Refused naming the key, and the meter bit for bit as it was. */
static void set_refused(struct sc_meter *m, const struct kind *k, int64_t now, const char *keys,
			const char *key)
{
	static struct sc_meter before;
	before = *m;
	char why[300] = "";
	int rc = set_kv(m, k, now, keys, why, sizeof why);
	cr_assert(rc == SC_ERR_RANGE || rc == SC_ERR_INVAL, "%s: set %s: %d", k->name, keys, rc);
	size_t n = strlen(key);
	cr_assert(strncmp(why, key, n) == 0 && why[n] == ':', "%s: set %s: '%s' does not name %s",
		  k->name, keys, why, key);
	cr_assert(memcmp(&before, m, sizeof before) == 0, "%s: set %s changed the meter", k->name,
		  keys);
}

static double rq(const struct sc_reading *r, enum sc_rq q)
{
	cr_assert(r->q[q].set, "%s not in the reading", sc_rq_name(q));
	return r->q[q].v;
}

static double pq(const struct sc_reading *r, int ph, enum sc_pq q)
{
	cr_assert(r->ph[ph][q].set, "L%d %s not in the reading", ph + 1, sc_pq_name(q));
	return r->ph[ph][q].v;
}

/* The phases sum to the total; each current is |P| / U at the meter's
 * resolution (DSMR 4.2 prints no voltage: the meter's own is used). */
static void consistent(const struct sc_meter *m, const struct sc_reading *r,
		       const struct kind *k)
{
	struct sc_meter_limits lim;
	limits(k, &lim);
	double sum = 0;
	for (int ph = 0; ph < m->phases; ph++) {
		double p = pq(r, ph, SC_PQ_P);
		sum += p;
		double u = r->ph[ph][SC_PQ_U].set ? pq(r, ph, SC_PQ_U) : m->voltage[ph];
		double i = pq(r, ph, SC_PQ_I);
		double mp = m->import_w[ph] - m->export_w[ph];
		if (!m->hand.manual[ph])
			continue; /* generated: with its reactive power */
		/* The current printed is the model's |P| / U rounded to the step. */
		double want = round(fabs(mp) / m->voltage[ph] / lim.a_step) * lim.a_step;
		cr_assert_float_eq(i, want, lim.a_step / 100 + 1e-9, "%s: L%d I %g, want %g", k->name,
				   ph + 1, i, want);
		/* ... and, from what the telegram shows, |P| ~ U x I. */
		if (k->flavour != SC_FLAVOUR_TIC || mp >= 0)
			cr_assert_leq(fabs(fabs(mp) - u * i), u * lim.a_step / 2 + 0.6 * i + 1.5,
				      "%s: L%d: %g W, %g V x %g A", k->name, ph + 1, mp, u, i);
	}
	if (k->flavour == SC_FLAVOUR_TIC) {
		/* SINSTS - SINSTI: the phases that export read 0, their VA go to
		 * SINSTI; the total is the net of the phases' VA (a phase set by
		 * hand has no reactive power: its VA are its W). */
		double net_va = 0;
		for (int ph = 0; ph < m->phases; ph++)
			net_va += (sc_meter_phase_exports(m, ph) ? -1 : 1) * sc_meter_va(m, ph);
		cr_assert_leq(fabs(rq(r, SC_RQ_P) - net_va), 0.5 * m->phases + 0.01,
			      "%s: P %g, the meter's net %g VA", k->name, rq(r, SC_RQ_P), net_va);
		return;
	}
	/* P1: the total is the net of the printed phases, exactly. */
	cr_assert_leq(fabs(rq(r, SC_RQ_P) - sum), 0.5, "%s: P %g, phases sum to %g", k->name,
		      rq(r, SC_RQ_P), sum);
}

Test(meter_set, total_spread_over_the_phases_every_flavour)
{
	static struct sc_meter m;
	for (size_t i = 0; i < N_KINDS; i++) {
		meter_new(&m, 3, SC_PROFILE_HOUSEHOLD);
		set_ok(&m, &kinds[i], T0 + 5, "P=9000");
		sc_meter_advance(&m, T0 + 6);
		struct sc_reading r = read_back(&m, &kinds[i]);
		cr_assert_float_eq(rq(&r, SC_RQ_P), 9000, 0.5, "%s: P %g", kinds[i].name,
				   rq(&r, SC_RQ_P));
		/* Spread by the model's shares: every phase imports some. */
		for (int ph = 0; ph < 3; ph++)
			cr_assert_gt(pq(&r, ph, SC_PQ_P), 0, "%s L%d", kinds[i].name, ph + 1);
		consistent(&m, &r, &kinds[i]);
	}
}

Test(meter_set, one_phase_and_currents_every_flavour)
{
	static struct sc_meter m;
	for (size_t i = 0; i < N_KINDS; i++) {
		meter_new(&m, 3, SC_PROFILE_HOUSEHOLD);
		set_ok(&m, &kinds[i], T0 + 2, "l1.P=9000 l1.U=225 l2.I=10 l2.U=230");
		for (int64_t t = T0 + 3; t < T0 + 6; t++) {
			sc_meter_advance(&m, t);
			struct sc_reading r = read_back(&m, &kinds[i]);
			cr_assert_float_eq(pq(&r, 0, SC_PQ_P), 9000, 0.5, "%s", kinds[i].name);
			cr_assert_float_eq(pq(&r, 1, SC_PQ_P), 2300, 0.5, "%s", kinds[i].name);
			if (kinds[i].flavour != SC_FLAVOUR_DSMR42) {
				cr_assert_float_eq(pq(&r, 0, SC_PQ_U), 225, 0.01, "%s", kinds[i].name);
				cr_assert_float_eq(pq(&r, 1, SC_PQ_U), 230, 0.01, "%s", kinds[i].name);
			}
			/* 9000 / 225 = 40 A exactly; 10 A as set. */
			cr_assert_float_eq(pq(&r, 0, SC_PQ_I), 40, 1e-6, "%s", kinds[i].name);
			cr_assert_float_eq(pq(&r, 1, SC_PQ_I), 10, 1e-6, "%s", kinds[i].name);
			consistent(&m, &r, &kinds[i]);
		}
	}
}

Test(meter_set, the_meters_rounding_of_current)
{
	/* 1000 W at 230 V = 4.3478 A: 4 A in NL and on TIC, 4.35 A in BE. */
	static struct sc_meter m;
	const double want[N_KINDS] = {4, 4, 4.35, 4, 4};
	for (size_t i = 0; i < N_KINDS; i++) {
		meter_new(&m, 1, SC_PROFILE_HOUSEHOLD);
		set_ok(&m, &kinds[i], T0 + 1, "P=1000 l1.U=230");
		sc_meter_advance(&m, T0 + 2);
		struct sc_reading r = read_back(&m, &kinds[i]);
		cr_assert_float_eq(pq(&r, 0, SC_PQ_I), want[i], 1e-6, "%s: %g A", kinds[i].name,
				   pq(&r, 0, SC_PQ_I));
		cr_assert_float_eq(rq(&r, SC_RQ_P), 1000, 0.5, "%s", kinds[i].name);
	}
}

/* Import and export registers as the telegram shows them. */
static double e_import(const struct sc_reading *r)
{
	return rq(r, SC_RQ_E_IMPORT);
}

Test(meter_set, energies_integrate_from_the_values_set)
{
	static struct sc_meter m;
	for (size_t i = 0; i < N_KINDS; i++) {
		meter_new(&m, 3, SC_PROFILE_HOUSEHOLD);
		set_ok(&m, &kinds[i], T0, "E_IMPORT=1000000 P=3600");
		struct sc_reading r = read_back(&m, &kinds[i]);
		cr_assert_float_eq(e_import(&r), 1000000, 0.5, "%s: %g", kinds[i].name, e_import(&r));
		/* One hour at 3600 W, in steps of a telegram. */
		for (int64_t t = T0 + 1; t <= T0 + 3600; t += 10)
			sc_meter_advance(&m, t);
		sc_meter_advance(&m, T0 + 3600);
		r = read_back(&m, &kinds[i]);
		cr_assert_float_eq(e_import(&r), 1003600, 1.0, "%s: %g", kinds[i].name, e_import(&r));
	}
	/* Export (not on a consumer-mode TIC meter). */
	for (size_t i = 0; i < N_KINDS - 1; i++) {
		meter_new(&m, 3, SC_PROFILE_PV);
		set_ok(&m, &kinds[i], T0, "E_EXPORT=5000 P=-1800");
		sc_meter_advance(&m, T0 + 7200);
		struct sc_reading r = read_back(&m, &kinds[i]);
		cr_assert_float_eq(rq(&r, SC_RQ_E_EXPORT), 8600, 1.0, "%s: %g", kinds[i].name,
				   rq(&r, SC_RQ_E_EXPORT));
		cr_assert_float_eq(rq(&r, SC_RQ_P), -1800, 0.5, "%s", kinds[i].name);
		consistent(&m, &r, &kinds[i]);
	}
}

Test(meter_set, tariff_as_the_meter_prints_it)
{
	static struct sc_meter m;
	/* NL 1 = low; BE 1 = day: the same key value is what the telegram shows. */
	for (size_t i = 0; i < 3; i++) {
		meter_new(&m, 3, SC_PROFILE_HOUSEHOLD);
		set_ok(&m, &kinds[i], T0, "tariff=1");
		sc_meter_advance(&m, T0 + 1);
		struct sc_reading r = read_back(&m, &kinds[i]);
		cr_assert_eq(r.tariff, 1, "%s: tariff %d", kinds[i].name, r.tariff);
		set_ok(&m, &kinds[i], T0 + 2, "tariff=2");
		sc_meter_advance(&m, T0 + 3);
		r = read_back(&m, &kinds[i]);
		cr_assert_eq(r.tariff, 2, "%s: tariff %d", kinds[i].name, r.tariff);
	}
	set_refused(&m, &kinds[3], T0 + 4, "tariff=1", "tariff");
}

Test(meter_set, ramp_on_the_meters_clock)
{
	static struct sc_meter m;
	const struct kind *k = &kinds[1];
	struct sc_meter_limits lim;
	limits(k, &lim);
	meter_new(&m, 3, SC_PROFILE_HOUSEHOLD);
	struct sc_meter_set rq_ramp;
	memset(&rq_ramp, 0, sizeof rq_ramp);
	rq_ramp.ramp = true;
	rq_ramp.ramp_key = SC_MK_P;
	rq_ramp.value[SC_MK_P] = 0;
	rq_ramp.ramp_to = 10000;
	rq_ramp.ramp_s = 100;
	char why[300];
	cr_assert_eq(sc_meter_set(&m, &rq_ramp, &lim, T0 + 10, why, sizeof why), SC_OK, "%s", why);
	const int64_t at[] = {10, 35, 60, 110, 200};
	const double want[] = {0, 2500, 5000, 10000, 10000};
	for (size_t i = 0; i < 5; i++) {
		sc_meter_advance(&m, T0 + at[i]);
		struct sc_reading r = read_back(&m, k);
		cr_assert_float_eq(rq(&r, SC_RQ_P), want[i], 0.5, "at +%lld: %g", (long long)at[i],
				   rq(&r, SC_RQ_P));
		consistent(&m, &r, k);
	}
	/* A ramp whose end the meter cannot print is refused whole. */
	rq_ramp.ramp_to = 120000;
	cr_assert_eq(sc_meter_set(&m, &rq_ramp, &lim, T0 + 201, why, sizeof why), SC_ERR_RANGE);
	cr_assert(strncmp(why, "P:", 2) == 0, "%s", why);
	/* A current ramp on one phase: the power it takes at the voltage set. */
	set_ok(&m, k, T0 + 202, "l1.U=200");
	memset(&rq_ramp, 0, sizeof rq_ramp);
	rq_ramp.ramp = true;
	rq_ramp.ramp_key = SC_MK_L1_I;
	rq_ramp.value[SC_MK_L1_I] = 10;
	rq_ramp.ramp_to = 30;
	rq_ramp.ramp_s = 20;
	cr_assert_eq(sc_meter_set(&m, &rq_ramp, &lim, T0 + 202, why, sizeof why), SC_OK, "%s", why);
	sc_meter_advance(&m, T0 + 212);
	struct sc_reading r = read_back(&m, k);
	cr_assert_float_eq(pq(&r, 0, SC_PQ_I), 20, 1e-6);
	cr_assert_float_eq(pq(&r, 0, SC_PQ_P), 4000, 0.5);
}

Test(meter_set, profile_returns_to_the_generated_day)
{
	static struct sc_meter m, twin;
	const struct kind *k = &kinds[1];
	meter_new(&m, 3, SC_PROFILE_PV);
	meter_new(&twin, 3, SC_PROFILE_PV);
	set_ok(&m, k, T0 + 5, "P=5000 l2.U=240 tariff=1");
	sc_meter_advance(&m, T0 + 20);
	cr_assert(sc_meter_manual(&m));
	struct sc_meter_set back = {.profile = true};
	struct sc_meter_limits lim;
	limits(k, &lim);
	char why[300];
	cr_assert_eq(sc_meter_set(&m, &back, &lim, T0 + 30, why, sizeof why), SC_OK, "%s", why);
	cr_assert_not(sc_meter_manual(&m));
	sc_meter_advance(&m, T0 + 40);
	sc_meter_advance(&twin, T0 + 40);
	for (int ph = 0; ph < 3; ph++) {
		cr_assert_float_eq(m.import_w[ph], twin.import_w[ph], 1e-9);
		cr_assert_float_eq(m.export_w[ph], twin.export_w[ph], 1e-9);
		cr_assert_float_eq(m.voltage[ph], twin.voltage[ph], 1e-9);
		cr_assert_float_eq(m.current[ph], twin.current[ph], 1e-9);
	}
	cr_assert_eq(m.tariff, twin.tariff);
}

Test(meter_set, a_new_total_respreads_and_all_phases_release_it)
{
	static struct sc_meter m;
	const struct kind *k = &kinds[1];
	meter_new(&m, 3, SC_PROFILE_HOUSEHOLD);
	set_ok(&m, k, T0 + 1, "P=6000 l1.P=3000");
	sc_meter_advance(&m, T0 + 2);
	struct sc_reading r = read_back(&m, k);
	cr_assert_float_eq(pq(&r, 0, SC_PQ_P), 3000, 0.5);
	cr_assert_float_eq(pq(&r, 1, SC_PQ_P) + pq(&r, 2, SC_PQ_P), 3000, 1.0);
	/* P alone again: l1 is spread with the others. */
	set_ok(&m, k, T0 + 3, "P=6000");
	cr_assert_not(m.hand.held[SC_MK_L1_P]);
	/* The three phases: their sum is the total. */
	set_ok(&m, k, T0 + 4, "l1.P=1000 l2.P=2000 l3.P=-500");
	cr_assert_not(m.hand.held[SC_MK_P]);
	sc_meter_advance(&m, T0 + 5);
	r = read_back(&m, k);
	cr_assert_float_eq(rq(&r, SC_RQ_P), 2500, 0.5);
	consistent(&m, &r, k);
}

Test(meter_set, what_the_meter_cannot_express_changes_nothing)
{
	static struct sc_meter m;
	for (size_t i = 0; i < N_KINDS; i++) {
		const struct kind *k = &kinds[i];
		meter_new(&m, 3, SC_PROFILE_HOUSEHOLD);
		set_ok(&m, k, T0 + 1, "P=2000");
		set_refused(&m, k, T0 + 2, "P=100000", "P");
		set_refused(&m, k, T0 + 2, "l1.P=30000", "l1.P");        /* 130 A */
		set_refused(&m, k, T0 + 2, "l2.I=101", "l2.I");
		set_refused(&m, k, T0 + 2, "l3.U=0", "l3.U");
		set_refused(&m, k, T0 + 2, "l3.U=1000", "l3.U");
		set_refused(&m, k, T0 + 2, "E_IMPORT=1000000000", "E_IMPORT");
		set_refused(&m, k, T0 + 2, "E_IMPORT=-1", "E_IMPORT");
		set_refused(&m, k, T0 + 2, "P=nan", "P");
		set_refused(&m, k, T0 + 2, "P=3000 l1.P=1000 l2.P=1000 l3.P=0", "P");
		set_refused(&m, k, T0 + 2, "l1.P=2300 l1.U=230 l1.I=20", "l1.I");
		/* 20 kW at 230 V is 87 A; at 150 V, 133 A: the voltage is named. */
		set_ok(&m, k, T0 + 3, "l1.P=20000 l1.U=230");
		set_refused(&m, k, T0 + 4, "l1.U=150", "l1.U");
		set_ok(&m, k, T0 + 5, "l1.P=1000");
		if (k->flavour == SC_FLAVOUR_TIC) {
			/* No signed per-phase power on TIC. */
			set_refused(&m, k, T0 + 2, "l1.P=-100", "l1.P");
			set_refused(&m, k, T0 + 2, "tariff=2", "tariff");
			if (!k->producer) {
				set_refused(&m, k, T0 + 2, "P=-1000", "P");
				set_refused(&m, k, T0 + 2, "E_EXPORT=10", "E_EXPORT");
			} else {
				/* A producer exports through the total: SINSTI. */
				set_ok(&m, k, T0 + 3, "P=-1500");
				sc_meter_advance(&m, T0 + 4);
				struct sc_reading r = read_back(&m, k);
				cr_assert_float_eq(rq(&r, SC_RQ_P), -1500, 1.0, "%g", rq(&r, SC_RQ_P));
				for (int ph = 0; ph < 3; ph++)
					cr_assert_float_eq(pq(&r, ph, SC_PQ_P), 0, 1e-9);
			}
		} else {
			set_refused(&m, k, T0 + 2, "tariff=3", "tariff");
			set_ok(&m, k, T0 + 3, "l1.P=-100");
		}
	}
	/* A one-phase meter has no L2. */
	meter_new(&m, 1, SC_PROFILE_HOUSEHOLD);
	set_refused(&m, &kinds[1], T0 + 1, "l2.P=100", "l2.P");
	set_ok(&m, &kinds[1], T0 + 1, "P=100");
}
