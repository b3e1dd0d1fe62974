/* What real meters send that the tables of DSMR 5.0.2 and e-MUCS do not
 * write, each case with the telegram as the meter sent it (the field
 * captures of SC_CORPUS_DIR/p1, corpus/field/SOURCES.md), or, where no
 * capture proves the bytes, with the meter's lines in a telegram of our own:
 *
 *  - units: DLMS unit names in either case (Swedish kVAr, kVArh), the units
 *    the national variants allow (the limiter in kVA or A), a value without
 *    unit; an object outside its rule that feeds no quantity every reading
 *    has costs that object, not the reading; SC_P1_STRICT keeps the strict
 *    reading;
 *  - an empty M-Bus slot 0-n:24.1.0() and failure durations without unit;
 *  - the clock of a meter whose time was never set (000101010000W);
 *  - old meters told by their shape, also when their content breaks the
 *    current tables; a CRC without 1-3:0.2.8 is read;
 *  - energy and power on B-field 1, which the device does not read.
 *
 * Every telegram is fed whole, in chunks and split at every byte
 * (feed_checked): the same events each way. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "p1.h"
#include "p1_test_util.h"
#include "slurp.h"

#define P1_DIR SC_CORPUS_DIR "/p1"

static struct recording *rec;

static void setup(void)
{
	rec = rec_new();
}

static void teardown(void)
{
	free(rec);
}

TestSuite(p1_field, .init = setup, .fini = teardown);

/* The one event of a capture of P1_DIR. */
static const struct rec_event *capture(const char *name, unsigned flags)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof path, "%s/%s", P1_DIR, name);
	char *data = slurp(path, &len);
	feed_checked(data, len, flags, rec);
	free(data);
	cr_assert_eq(rec->n, 1, "%s: %d events, expected one", name, rec->n);
	return &rec->ev[0];
}

static const struct rec_event *telegram_of(const char *name, unsigned flags)
{
	const struct rec_event *e = capture(name, flags);
	cr_assert_eq(e->ev, SC_P1_TELEGRAM, "%s: %s: %s", name, sc_p1_event_name(e->ev),
		     e->detail);
	return e;
}

/* The one event of a telegram of our own: header, body, a valid CRC. */
static const struct rec_event *made(const char *header, const char *body, unsigned flags)
{
	char *t = tg_make(header, body);
	feed_checked(t, strlen(t), flags, rec);
	free(t);
	cr_assert_eq(rec->n, 1, "%d events, expected one", rec->n);
	return &rec->ev[0];
}

static const struct rec_event *good(const char *header, const char *body, unsigned flags)
{
	const struct rec_event *e = made(header, body, flags);
	cr_assert_eq(e->ev, SC_P1_TELEGRAM, "%s: %s", sc_p1_event_name(e->ev), e->detail);
	return e;
}

/* A syntax error whose detail holds `what`. */
static void syntax(const char *header, const char *body, unsigned flags, const char *what)
{
	const struct rec_event *e = made(header, body, flags);
	cr_assert_eq(e->ev, SC_P1_SYNTAX, "expected syntax (%s), got %s: %s", what,
		     sc_p1_event_name(e->ev), e->detail);
	cr_assert(strstr(e->detail, what), "detail '%s' does not say '%s'", e->detail, what);
}

static void is(const struct sc_reading *r, enum sc_rq q, double v)
{
	cr_assert(r->q[q].set, "%s absent, expected %.17g", sc_rq_name(q), v);
	cr_assert(fabs(r->q[q].v - v) <= 1e-9 * fabs(v), "%s = %.17g, expected %.17g",
		  sc_rq_name(q), r->q[q].v, v);
}

static void null(const struct sc_reading *r, enum sc_rq q)
{
	cr_assert(!r->q[q].set, "%s = %.17g, expected null", sc_rq_name(q), r->q[q].v);
}

static void ph(const struct sc_reading *r, int phase, enum sc_pq q, double v)
{
	const struct sc_opt *o = &r->ph[phase - 1][q];
	cr_assert(o->set, "l%d.%s absent, expected %.17g", phase, sc_pq_name(q), v);
	cr_assert(fabs(o->v - v) <= 1e-9 * fabs(v), "l%d.%s = %.17g, expected %.17g", phase,
		  sc_pq_name(q), o->v, v);
}

/* Index of the raw line that is kept (unknown or set aside) equal to text. */
static int kept_raw(const struct rec_event *e, const char *text)
{
	for (int i = 0; i < e->tg.unknown_count && i < SC_P1_MAX_UNKNOWN; i++) {
		struct sc_span s = e->tg.unknown[i];
		if (s.len == strlen(text) && memcmp(e->raw + s.off, text, s.len) == 0)
			return i;
	}
	return -1;
}

/* ------------------------------------------------------------------------
 * Units. */

#define SWEDEN "sweden-kaifa-ma304h4e-kvar.p1"

Test(p1_field, swedish_kvar_units_are_read_without_case)
{
	const struct rec_event *e = telegram_of(SWEDEN, 0);
	const struct sc_reading *r = &e->reading;
	/* No 1-3:0.2.8: a CRC says DSMR 4.0 or later, so it is read. */
	cr_assert_eq(e->tg.version, 0);
	cr_assert(e->tg.has_crc);
	cr_assert_eq(e->tg.set_aside, 0);
	cr_assert(r->ts_set && r->ts == 1621845730, "ts %lld", (long long)r->ts);
	is(r, SC_RQ_P_PLUS, 182);
	is(r, SC_RQ_P_MINUS, 0);
	is(r, SC_RQ_P, 182);
	is(r, SC_RQ_E_IMPORT, 424413);
	is(r, SC_RQ_E_EXPORT, 0);
	/* 1-0:3.7.0(0000.000*kVAr), 1-0:4.7.0(0000.069*kVAr) */
	is(r, SC_RQ_Q_PLUS, 0);
	is(r, SC_RQ_Q_MINUS, 69);
	is(r, SC_RQ_Q, -69);
	is(r, SC_RQ_PF, 182 / sqrt(182.0 * 182 + 69 * 69));
	is(r, SC_RQ_S, 53 + 107 + 20);
	static const double qm[3] = {16, 23, 29}, u[3] = {230.7, 227.8, 232.3},
			    i[3] = {0.4, 0.5, 0.1}, p[3] = {53, 107, 20};
	for (int k = 1; k <= 3; k++) {
		ph(r, k, SC_PQ_Q_PLUS, 0);
		ph(r, k, SC_PQ_Q_MINUS, qm[k - 1]);
		ph(r, k, SC_PQ_Q, -qm[k - 1]);
		ph(r, k, SC_PQ_U, u[k - 1]);
		ph(r, k, SC_PQ_I, i[k - 1]);
		ph(r, k, SC_PQ_P, p[k - 1]);
	}
	cr_assert_eq(e->tg.reactive_import.unit, SC_UNIT_VAR);
	/* 3.8.0 / 4.8.0 (kVArh totals) are no object of the tables: raw. */
	cr_assert_eq(e->tg.unknown_count, 2);
	cr_assert_geq(kept_raw(e, "1-0:3.8.0(00000002.116*kVArh)"), 0);

	/* Strictly read, the first kVAr fails the telegram as before. */
	e = capture(SWEDEN, SC_P1_STRICT);
	cr_assert_eq(e->ev, SC_P1_SYNTAX, "strict: %s", sc_p1_event_name(e->ev));
	cr_assert_str_eq(e->detail, "1-0:3.7.0: unit 'kVAr' where var was expected");
}

Test(p1_field, unit_names_compare_without_case)
{
	const struct rec_event *e =
		good("ISK5\\2M550T-1012",
		     "1-3:0.2.8(50)\r\n1-0:1.8.1(000001.500*KWH)\r\n1-0:1.7.0(01.250*KW)\r\n"
		     "1-0:5.8.0(000002.000*KVARH)\r\n1-0:32.7.0(230.1*v)\r\n", 0);
	is(&e->reading, SC_RQ_E_IMPORT, 1500);
	is(&e->reading, SC_RQ_P_PLUS, 1250);
	is(&e->reading, SC_RQ_EQ1, 2000);
	ph(&e->reading, 1, SC_PQ_U, 230.1);
	syntax("ISK5\\2M550T-1012", "1-3:0.2.8(50)\r\n1-0:1.7.0(01.250*KW)\r\n", SC_P1_STRICT,
	       "1-0:1.7.0: unit 'KW' where W was expected");
}

/* Luxembourg's Smarty (dsmr-reader issue 769, openhab-addons issue 14844)
 * sends its limiter in kVA, 27.600 and 027.6; the ids of the published
 * telegrams are masked, so these lines come in a telegram of our own. */
static const char LUX_HDR[] = "Lux5\\253663629_D";
#define LUX_HEAD "1-3:0.2.8(42)\r\n0-0:1.0.0(191031142239W)\r\n" \
	"1-0:1.8.0(005675.956*kWh)\r\n1-0:2.8.0(000000.002*kWh)\r\n" \
	"1-0:1.7.0(03.074*kW)\r\n1-0:2.7.0(00.000*kW)\r\n" \
	"1-0:3.7.0(00.000*kvar)\r\n1-0:4.7.0(00.200*kvar)\r\n"

Test(p1_field, limiter_in_kva_or_amperes)
{
	const struct rec_event *e = good(LUX_HDR, LUX_HEAD "0-0:17.0.0(27.600*kVA)\r\n", 0);
	cr_assert(e->tg.limiter.set && e->tg.limiter.v == 27600 &&
		  e->tg.limiter.unit == SC_UNIT_VA, "limiter %g unit %d", e->tg.limiter.v,
		  e->tg.limiter.unit);
	cr_assert_eq(e->tg.set_aside, 0);
	is(&e->reading, SC_RQ_E_IMPORT, 5675956);
	is(&e->reading, SC_RQ_P, 3074);
	is(&e->reading, SC_RQ_Q, -200);
	cr_assert(e->reading.ts_set && e->reading.ts == 1572528159);

	e = good(LUX_HDR, LUX_HEAD "0-0:17.0.0(027.6*kVA)\r\n", 0);
	cr_assert(e->tg.limiter.v == 27600 && e->tg.limiter.unit == SC_UNIT_VA);
	/* DSMR 3.0 writes the limiter in A. */
	e = good(LUX_HDR, LUX_HEAD "0-0:17.0.0(999*A)\r\n", 0);
	cr_assert(e->tg.limiter.v == 999 && e->tg.limiter.unit == SC_UNIT_A);
	/* A unit no standard gives it: the limiter is set aside, the reading stays. */
	e = good(LUX_HDR, LUX_HEAD "0-0:17.0.0(27.600*kvar)\r\n", 0);
	cr_assert(!e->tg.limiter.set);
	cr_assert_eq(e->tg.set_aside, 1);
	cr_assert_geq(kept_raw(e, "0-0:17.0.0(27.600*kvar)"), 0);
	is(&e->reading, SC_RQ_P, 3074);

	syntax(LUX_HDR, LUX_HEAD "0-0:17.0.0(27.600*kVA)\r\n", SC_P1_STRICT,
	       "0-0:17.0.0: unit 'kVA' where W was expected");
}

Test(p1_field, value_without_unit_costs_that_field)
{
	/* 1-0:3.7.0(00.000): no unit, so no scale; Q+ (and Q) are null, the
	 * rest is read. */
	const struct rec_event *e =
		good(LUX_HDR,
		     "1-3:0.2.8(42)\r\n1-0:1.8.0(005675.956*kWh)\r\n1-0:1.7.0(00.522*kW)\r\n"
		     "1-0:2.7.0(00.000*kW)\r\n1-0:3.7.0(00.000)\r\n1-0:4.7.0(00.200*kvar)\r\n",
		     0);
	const struct sc_reading *r = &e->reading;
	null(r, SC_RQ_Q_PLUS);
	null(r, SC_RQ_Q);
	is(r, SC_RQ_Q_MINUS, 200);
	is(r, SC_RQ_P, 522);
	is(r, SC_RQ_PF, 1); /* Q taken as 0 when absent */
	is(r, SC_RQ_E_IMPORT, 5675956);
	cr_assert_eq(e->tg.set_aside, 1);
	cr_assert_geq(kept_raw(e, "1-0:3.7.0(00.000)"), 0);

	/* The same on an object every reading has fails the telegram. */
	syntax(LUX_HDR, "1-3:0.2.8(42)\r\n1-0:1.7.0(00.522)\r\n", 0,
	       "1-0:1.7.0: unit 'none' where W was expected");
	syntax(LUX_HDR, "1-3:0.2.8(42)\r\n1-0:1.8.0(005675.956*kvarh)\r\n", 0,
	       "1-0:1.8.0: unit 'kvarh' where Wh was expected");
	/* Read strictly, the reactive power without unit fails it too. */
	syntax(LUX_HDR, "1-3:0.2.8(42)\r\n1-0:3.7.0(00.000)\r\n", SC_P1_STRICT,
	       "1-0:3.7.0: unit 'none' where var was expected");
	/* A demand history entry in another unit sets the whole history aside. */
	e = good("FLU5\\253769484_A",
		 "0-0:96.1.4(50217)\r\n0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)"
		 "(231101000000W)(231031120000W)(01.747*kW)"
		 "(231201000000W)(231109164500W)(03.260*kvar)\r\n"
		 "1-0:1.6.0(240107190000W)(02.485*A)\r\n", 0);
	cr_assert_eq(e->tg.demand_hist_count, -1);
	cr_assert(!e->tg.demand_max.set && !e->tg.demand_max_time.set);
	cr_assert_eq(e->tg.set_aside, 2);
	cr_assert_eq(e->tg.dropped, 0);
}

/* ------------------------------------------------------------------------
 * Empty values and durations without unit (DSMR 5.0 meters; the lines as
 * issue 28 quotes them). */

Test(p1_field, empty_mbus_slot_and_durations_without_unit)
{
	static const char hdr[] = "XMX5LGF0010455397";
	static const char body[] =
		"1-3:0.2.8(50)\r\n0-0:1.0.0(230418204222S)\r\n"
		"1-0:1.8.1(000024.487*kWh)\r\n1-0:1.7.0(00.104*kW)\r\n1-0:2.7.0(00.000*kW)\r\n"
		"1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647)\r\n"
		"0-1:24.1.0()\r\n0-1:96.1.0()\r\n";
	const struct rec_event *e = good(hdr, body, 0);
	cr_assert_eq(e->tg.mbus[0].device_type, -1, "an empty slot is no device");
	cr_assert(!e->reading.gas_m3.set);
	cr_assert_eq(e->tg.failure_log_count, 1);
	cr_assert(e->tg.failure_log[0].end.placeholder);
	cr_assert_eq(e->tg.failure_log[0].duration_s, 2147483647.0);
	cr_assert_eq(e->tg.set_aside, 0);
	is(&e->reading, SC_RQ_P, 104);

	/* Strictly, each fails the telegram. */
	syntax(hdr,
	       "1-3:0.2.8(50)\r\n1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647)\r\n",
	       SC_P1_STRICT, "1-0:99.97.0: unit 'none' where s was expected");
	syntax(hdr, "1-3:0.2.8(50)\r\n0-1:24.1.0()\r\n", SC_P1_STRICT,
	       "0-1:24.1.0: bad integer ''");
	/* A duration in a unit that is no duration: the log is set aside. */
	e = good(hdr, "1-3:0.2.8(50)\r\n1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(12*kW)\r\n", 0);
	cr_assert_eq(e->tg.failure_log_count, -1);
	cr_assert_eq(e->tg.set_aside, 1);
}

/* ------------------------------------------------------------------------
 * Real meters of the field corpus. */

Test(p1_field, landis_gyr_e350_clock_never_set)
{
	const struct rec_event *e = telegram_of("dsmr42-landisgyr-e350-clock-unset.p1", 0);
	const struct sc_reading *r = &e->reading;
	/* 0-0:1.0.0(000101010000W): a placeholder, not 2000-01-01 00:00 UTC. */
	cr_assert(!r->ts_set, "ts %lld", (long long)r->ts);
	cr_assert(e->tg.time.placeholder && !e->tg.time.set);
	is(r, SC_RQ_E_IMPORT, 24487 + 30536);
	is(r, SC_RQ_E_EXPORT, 528);
	is(r, SC_RQ_P, 0);
	null(r, SC_RQ_PF);
	is(r, SC_RQ_PFAIL, 116);
	is(r, SC_RQ_LPFAIL, 0);
	ph(r, 1, SC_PQ_P, 4);
	ph(r, 2, SC_PQ_VSAGS, 28);
	cr_assert_eq(e->tg.failure_log_count, 0);
	/* Gas meter on channel 1 with the same unset clock and a bare reading. */
	cr_assert_eq(e->tg.mbus[0].device_type, 3);
	cr_assert(e->tg.mbus[0].reading_time.placeholder);
	cr_assert(!r->gas_m3.set);
	cr_assert_eq(r->version, 42);
	cr_assert_str_eq(r->maker, "XMX");
}

Test(p1_field, landis_gyr_e350)
{
	const struct rec_event *e = telegram_of("dsmr42-landisgyr-e350.p1", 0);
	const struct sc_reading *r = &e->reading;
	cr_assert(r->ts_set && r->ts == 1567712403);
	is(r, SC_RQ_P, 374);
	is(r, SC_RQ_E_IMPORT, 3235689 + 6777240);
	is(r, SC_RQ_E_EXPORT, 313);
	is(r, SC_RQ_PFAIL, 3);
	is(r, SC_RQ_LPFAIL, 1);
	ph(r, 1, SC_PQ_I, 2);
	cr_assert_eq(r->phases, 1);
	cr_assert_eq(e->tg.failure_log_count, 1);
	cr_assert_eq(e->tg.failure_log[0].end.epoch, 1484632752);
	cr_assert_eq(e->tg.failure_log[0].duration_s, 9606);
	cr_assert(r->gas_m3.set && fabs(r->gas_m3.v - 1091.352) < 1e-9 &&
		  r->gas_ts == 1567710000);
}

Test(p1_field, sagemcom_t210d)
{
	const struct rec_event *e = telegram_of("dsmr50-sagemcom-t210d-xs210.p1", 0);
	const struct sc_reading *r = &e->reading;
	cr_assert(r->ts_set && r->ts == 1509909204);
	is(r, SC_RQ_P, 335);
	is(r, SC_RQ_E_IMPORT, 51775);
	is(r, SC_RQ_E_EXPORT, 24413);
	ph(r, 1, SC_PQ_U, 229);
	ph(r, 1, SC_PQ_I, 1);
	cr_assert_eq(r->version, 50);
	cr_assert_str_eq(r->maker, "Ene");
	cr_assert(r->gas_m3.set && fabs(r->gas_m3.v - 16.713) < 1e-9 && r->gas_ts == 1509909000);
}

Test(p1_field, sagemcom_t211_three_phase)
{
	const struct rec_event *e = telegram_of("dsmr50-sagemcom-t211-3phase.p1", 0);
	const struct sc_reading *r = &e->reading;
	cr_assert(r->ts_set && r->ts == 1700859418);
	is(r, SC_RQ_P, 499);
	is(r, SC_RQ_E_IMPORT, 341156 + 265076);
	is(r, SC_RQ_E_EXPORT, 469838 + 945206);
	is(r, SC_RQ_S, 87 + 88 + 323);
	is(r, SC_RQ_PFAIL, 15);
	is(r, SC_RQ_LPFAIL, 9);
	ph(r, 3, SC_PQ_I, 1);
	ph(r, 2, SC_PQ_U, 233);
	ph(r, 3, SC_PQ_P, 323);
	cr_assert_eq(r->phases, 3);
	cr_assert_eq(e->tg.failure_log_count, 1);
	cr_assert_eq(e->tg.failure_log[0].end.epoch, 1690109806);
	cr_assert_eq(e->tg.failure_log[0].duration_s, 712);
	cr_assert(!r->gas_m3.set);
}

/* Fluvius e-MUCS 50213, single phase: no 1-3:0.2.8, gas on 24.2.3. */
Test(p1_field, fluvius_emucs_50213)
{
	const struct rec_event *e = telegram_of("emucs-50213-fluvius-1phase.p1", 0);
	const struct sc_reading *r = &e->reading;
	cr_assert(r->ts_set && r->ts == 1568904870);
	cr_assert_eq(r->flavour, SC_FLAVOUR_EMUCS);
	cr_assert_eq(r->version, 50213);
	is(r, SC_RQ_P, 342);
	is(r, SC_RQ_E_IMPORT, 31250 + 40792);
	is(r, SC_RQ_E_EXPORT, 61957 + 23548);
	ph(r, 1, SC_PQ_U, 236.7);
	ph(r, 1, SC_PQ_I, 2);
	cr_assert(e->tg.limiter.v == 999900 && e->tg.limiter.unit == SC_UNIT_W);
	cr_assert(e->tg.fuse[0].v == 999 && e->tg.fuse[0].unit == SC_UNIT_A);
	cr_assert_eq(e->tg.breaker_state, 1);
	cr_assert(r->gas_m3.set && fabs(r->gas_m3.v - 1.315) < 1e-9 && r->gas_ts == 1568904607);
	cr_assert_eq(e->tg.unknown_count, 0);
	cr_assert_eq(e->tg.set_aside, 0);
}

/* ------------------------------------------------------------------------
 * Versions. */

Test(p1_field, old_meters_are_unsupported_by_their_shape)
{
	/* Kamstrup 382, DSMR 2.2/3.0: no version, no CRC. */
	const struct rec_event *e = capture("dsmr3-kamstrup-382-no-crc.p1", 0);
	cr_assert_eq(e->ev, SC_P1_UNSUPPORTED, "%s: %s", sc_p1_event_name(e->ev), e->detail);
	cr_assert(strstr(e->detail, "DSMR 2.2/3.0"), "%s", e->detail);

	/* Its limiter in A (a DSMR 3.0 unit) is no content error: the meter is
	 * old, strictly read or not. */
	static const char amps[] = "dsmr3-kamstrup-limiter-in-amperes.p1";
	for (int strict = 0; strict < 2; strict++) {
		e = capture(amps, strict ? SC_P1_STRICT : 0);
		cr_assert_eq(e->ev, SC_P1_UNSUPPORTED, "%s: %s", sc_p1_event_name(e->ev),
			     e->detail);
		cr_assert(strstr(e->detail, "DSMR 2.2/3.0"), "%s", e->detail);
		cr_assert_eq(e->error_offset, e->offset);
	}
	e = capture(amps, SC_P1_NO_CRC | SC_P1_ANY_VERSION);
	cr_assert_eq(e->ev, SC_P1_TELEGRAM, "%s", e->detail);
	cr_assert(e->tg.limiter.v == 999 && e->tg.limiter.unit == SC_UNIT_A);
	is(&e->reading, SC_RQ_P, 980);
	is(&e->reading, SC_RQ_E_IMPORT, 185000 + 84000);
	/* Strictly and old ones accepted, the content error is what remains. */
	e = capture(amps, SC_P1_NO_CRC | SC_P1_ANY_VERSION | SC_P1_STRICT);
	cr_assert_eq(e->ev, SC_P1_SYNTAX, "%s", e->detail);

	/* DSMR 4.0 names itself: unsupported whatever its content. */
	e = made("KFM5KAIFA-METER", "1-3:0.2.8(40)\r\n1-0:1.7.0(01.000*kvar)\r\n", 0);
	cr_assert_eq(e->ev, SC_P1_UNSUPPORTED, "%s", e->detail);
	cr_assert_str_eq(e->detail, "P1 version 4.0: the device needs DSMR 4.2 or later");
	/* A new meter with a content error stays a content error. */
	syntax("KFM5KAIFA-METER", "1-3:0.2.8(42)\r\n1-0:1.7.0(01.000*kvar)\r\n", 0,
	       "1-0:1.7.0: unit 'kvar' where W was expected");
	/* A version that cannot be read is a content error, not an old meter. */
	syntax("KFM5KAIFA-METER", "1-3:0.2.8(4x)\r\n", 0, "1-3:0.2.8: bad integer '4x'");
	/* e-MUCS: no 1-3:0.2.8, its version in 0-0:96.1.4. */
	e = good("FLU5\\253769484_A", "0-0:96.1.4(50217)\r\n1-0:1.7.0(00.132*kW)\r\n", 0);
	cr_assert_eq(e->reading.flavour, SC_FLAVOUR_EMUCS);
}

/* ------------------------------------------------------------------------
 * B-field 1 (decisions.md): Swiss and Sagemcom XT211 meters send their
 * energy and power on channel 1, objects neither DSMR nor e-MUCS writes. */

Test(p1_field, b_field_1_is_not_read)
{
	const struct rec_event *e =
		good("SAG5\\XT211",
		     "0-0:96.1.4(50220)\r\n0-0:1.0.0(240918141228S)\r\n"
		     "1-1:1.8.1(000025.600*kWh)\r\n1-1:1.8.2(000020.655*kWh)\r\n"
		     "1-1:2.8.1(000465.932*kWh)\r\n1-1:2.8.2(000003.609*kWh)\r\n"
		     "1-1:1.7.0(00.000*kW)\r\n1-1:2.7.0(00.006*kW)\r\n"
		     "1-0:32.7.0(236.8*V)\r\n1-0:31.7.0(000.70*A)\r\n",
		     0);
	const struct sc_reading *r = &e->reading;
	null(r, SC_RQ_P);
	null(r, SC_RQ_P_PLUS);
	null(r, SC_RQ_P_MINUS);
	null(r, SC_RQ_E_IMPORT);
	null(r, SC_RQ_E_EXPORT);
	ph(r, 1, SC_PQ_U, 236.8);
	ph(r, 1, SC_PQ_I, 0.7);
	cr_assert_eq(e->tg.unknown_count, 6);
	cr_assert_geq(kept_raw(e, "1-1:1.8.1(000025.600*kWh)"), 0);
	cr_assert_geq(kept_raw(e, "1-1:1.7.0(00.000*kW)"), 0);
	cr_assert_eq(e->tg.set_aside, 0);
}
