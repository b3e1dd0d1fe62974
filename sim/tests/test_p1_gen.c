/* The synthetic meter (meter.c) and the P1 generator (p1_gen.c): determinism,
 * energy bookkeeping, byte formats per flavour, CRC, DST flag, faults, and the
 * round trip generator -> parser -> mapping == the generator's expectation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "crc16.h"
#include "meter.h"
#include "p1.h"
#include "p1_gen.h"
#include "p1_test_util.h"
#include "sc_error.h"

static const enum sc_flavour flavours[] = {SC_FLAVOUR_DSMR42, SC_FLAVOUR_DSMR50,
					   SC_FLAVOUR_EMUCS};
#define N_FLAVOURS 3

/* 2025-01-01T00:00:00Z */
#define T2025 1735689600LL

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct sc_civil c = {y, mo, d, h, mi, s};
	return sc_civil_to_epoch(&c);
}

static void meter_at(struct sc_meter *m, enum sc_profile prof, int phases, uint64_t seed,
		     int64_t start)
{
	struct sc_meter_config cfg = {.profile = prof, .phases = phases, .seed = seed,
				      .start = start};
	sc_meter_init(m, &cfg);
}

static int gen(const struct sc_meter *m, enum sc_flavour f, enum sc_p1_fault fault,
	       uint64_t fseed, char *buf, struct sc_reading *expect)
{
	struct sc_p1_gen_opts o = {.flavour = f, .fault = fault, .fault_seed = fseed};
	int n = sc_p1_gen(m, &o, buf, SC_P1_GEN_MAX, expect);
	cr_assert_gt(n, 0, "sc_p1_gen(%s, %s) = %d", sc_flavour_name(f), sc_p1_fault_name(fault),
		     n);
	return n;
}

/* ---- a small event recorder around the parser ---- */

#define MAX_EV 8

struct events {
	int n;
	enum sc_p1_event ev[MAX_EV];
	struct sc_reading reading[MAX_EV];
	char detail[MAX_EV][160];
};

static struct sc_p1_parser *parser;
static struct sc_p1_result *result;
static char *buf, *buf2;

static void setup(void)
{
	parser = calloc(1, sizeof *parser);
	result = calloc(1, sizeof *result);
	buf = malloc(2 * SC_P1_GEN_MAX + 1);
	buf2 = malloc(SC_P1_GEN_MAX + 1);
}

static void teardown(void)
{
	free(parser);
	free(result);
	free(buf);
	free(buf2);
}

TestSuite(p1_gen, .init = setup, .fini = teardown);

static void record(struct events *e)
{
	if (e->n >= MAX_EV)
		return;
	e->ev[e->n] = result->event;
	memcpy(e->detail[e->n], result->detail, sizeof e->detail[0]);
	memset(&e->reading[e->n], 0, sizeof e->reading[0]);
	if (result->event == SC_P1_TELEGRAM)
		sc_p1_to_reading(&result->tg, result->raw, &e->reading[e->n]);
	e->n++;
}

/* Feed data in chunks of `chunk` bytes (0 = all at once), then finish. */
static void parse(const char *data, size_t len, size_t chunk, struct events *e)
{
	memset(parser, 0, sizeof *parser);
	e->n = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		const char *d = data + pos;
		pos += n;
		while (n > 0) {
			size_t used = sc_p1_feed(parser, d, n, result);
			d += used;
			n -= used;
			if (result->event != SC_P1_NEED_MORE)
				record(e);
		}
	}
	while (sc_p1_finish(parser, result) != SC_P1_NEED_MORE)
		record(e);
}

static bool close_enough(double a, double b)
{
	double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
	return fabs(a - b) <= 1e-6 * scale;
}

/* Compares every field; describes the first difference in why. */
static bool same_reading(const struct sc_reading *want, const struct sc_reading *got, char *why,
			 size_t cap)
{
	if (want->ts_set != got->ts_set || want->ts != got->ts) {
		snprintf(why, cap, "ts %lld/%d, got %lld/%d", (long long)want->ts, want->ts_set,
			 (long long)got->ts, got->ts_set);
		return false;
	}
	for (int q = 0; q < SC_RQ_COUNT; q++) {
		const struct sc_opt *a = &want->q[q], *b = &got->q[q];
		if (a->set != b->set || (a->set && !close_enough(a->v, b->v))) {
			snprintf(why, cap, "%s: want %s%.6f, got %s%.6f", sc_rq_name((enum sc_rq)q),
				 a->set ? "" : "absent ", a->v, b->set ? "" : "absent ", b->v);
			return false;
		}
	}
	for (int ph = 0; ph < SC_PHASES; ph++) {
		for (int q = 0; q < SC_PQ_COUNT; q++) {
			const struct sc_opt *a = &want->ph[ph][q], *b = &got->ph[ph][q];
			if (a->set != b->set || (a->set && !close_enough(a->v, b->v))) {
				snprintf(why, cap, "l%d.%s: want %s%.6f, got %s%.6f", ph + 1,
					 sc_pq_name((enum sc_pq)q), a->set ? "" : "absent ", a->v,
					 b->set ? "" : "absent ", b->v);
				return false;
			}
		}
	}
	if (want->flavour != got->flavour || want->version != got->version ||
	    strcmp(want->maker, got->maker) != 0 || strcmp(want->meter_id, got->meter_id) != 0 ||
	    want->tariff != got->tariff || want->phases != got->phases) {
		snprintf(why, cap,
			 "identity: want %s v%d %s %s tariff %d phases %d, got %s v%d %s %s "
			 "tariff %d phases %d",
			 sc_flavour_name(want->flavour), want->version, want->maker, want->meter_id,
			 want->tariff, want->phases, sc_flavour_name(got->flavour), got->version,
			 got->maker, got->meter_id, got->tariff, got->phases);
		return false;
	}
	if (want->gas_m3.set != got->gas_m3.set ||
	    (want->gas_m3.set && (!close_enough(want->gas_m3.v, got->gas_m3.v) ||
				  want->gas_ts != got->gas_ts))) {
		snprintf(why, cap, "gas: want %d %.3f @%lld, got %d %.3f @%lld", want->gas_m3.set,
			 want->gas_m3.v, (long long)want->gas_ts, got->gas_m3.set, got->gas_m3.v,
			 (long long)got->gas_ts);
		return false;
	}
	return true;
}

/* Text of object `obis` up to its CR LF, or NULL. */
static const char *find_obj(const char *tg, const char *obis, char *out, size_t cap)
{
	char key[32];
	snprintf(key, sizeof key, "\n%s(", obis);
	const char *p = strstr(tg, key);
	if (!p)
		return NULL;
	p++;
	const char *e = strstr(p, "\r\n");
	size_t n = e ? (size_t)(e - p) : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

static bool matches(const char *s, const char *pattern)
{
	/* '9' = any digit, '#' = hex digit, anything else literal; whole string. */
	for (; *pattern; pattern++, s++) {
		if (!*s)
			return false;
		if (*pattern == '9') {
			if (*s < '0' || *s > '9')
				return false;
		} else if (*pattern == '#') {
			if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F')))
				return false;
		} else if (*pattern != *s) {
			return false;
		}
	}
	return *s == '\0';
}

/* ---- names ---- */

Test(p1_gen, names)
{
	static const char *const pn[] = {"household", "pv", "ev", "pv-ev"};
	for (int i = 0; i < SC_PROFILE_COUNT; i++) {
		cr_assert_str_eq(sc_profile_name((enum sc_profile)i), pn[i]);
		cr_assert_eq(sc_profile_from_name(pn[i]), i);
	}
	cr_assert_eq(sc_profile_from_name("solar"), -1);
	cr_assert_eq(sc_profile_from_name(NULL), -1);
	static const char *const fnames[] = {"none", "bad-crc", "truncated", "garbage",
					     "oversize"};
	for (int i = 0; i < SC_P1_FAULT_COUNT; i++) {
		cr_assert_str_eq(sc_p1_fault_name((enum sc_p1_fault)i), fnames[i]);
		cr_assert_eq(sc_p1_fault_from_name(fnames[i]), i);
	}
	cr_assert_eq(sc_p1_fault_from_name("bad_crc"), -1);
}

/* ---- meter ---- */

Test(p1_gen, determinism)
{
	for (uint64_t seed = 1; seed <= 8; seed++) {
		for (int prof = 0; prof < SC_PROFILE_COUNT; prof++) {
			struct sc_meter a, b, c;
			int64_t t0 = utc(2025, 6, 14, 4, 0, 0);
			meter_at(&a, (enum sc_profile)prof, seed % 2 ? 3 : 1, seed, t0);
			meter_at(&b, (enum sc_profile)prof, seed % 2 ? 3 : 1, seed, t0);
			meter_at(&c, (enum sc_profile)prof, seed % 2 ? 3 : 1, seed + 1000, t0);
			for (int64_t t = t0; t < t0 + 86400; t += 97) {
				sc_meter_advance(&a, t);
				sc_meter_advance(&b, t);
				sc_meter_advance(&c, t);
			}
			cr_assert(memcmp(&a, &b, sizeof a) == 0, "same seed, same times, same meter");
			cr_assert(memcmp(&a.import_wh, &c.import_wh, sizeof a.import_wh) != 0,
				  "another seed, another meter");
			for (int f = 0; f < N_FLAVOURS; f++) {
				int na = gen(&a, flavours[f], SC_P1_FAULT_NONE, 0, buf, NULL);
				int nb = gen(&b, flavours[f], SC_P1_FAULT_NONE, 0, buf2, NULL);
				cr_assert_eq(na, nb);
				cr_assert(memcmp(buf, buf2, (size_t)na) == 0);
			}
		}
	}
}

static double sum2(const double v[2])
{
	return v[0] + v[1];
}

/* Counters never go down, and the energy booked over each step equals the
 * net power held over it times the step. Steps of many sizes, including
 * ones that jump over tariff, quarter-hour, hour and month boundaries. */
Test(p1_gen, energy_consistent)
{
	static const int64_t steps[] = {1, 1, 10, 7, 299, 301, 900, 3599, 3601, 86399, 13};
	for (uint64_t seed = 1; seed <= 6; seed++) {
		for (int prof = 0; prof < SC_PROFILE_COUNT; prof++) {
			for (int phases = 1; phases <= 3; phases += 2) {
				struct sc_meter m;
				int64_t t = utc(2025, 3, 27, 10, 0, 0) + (int64_t)seed * 3331;
				meter_at(&m, (enum sc_profile)prof, phases, seed, t);
				for (int i = 0; i < 400; i++) {
					struct sc_meter prev = m;
					int64_t dt = steps[(size_t)i % (sizeof steps / sizeof steps[0])];
					double net = sc_meter_net_w(&prev);
					sc_meter_advance(&m, t + dt);
					t += dt;
					double d_imp = sum2(m.import_wh) - sum2(prev.import_wh);
					double d_exp = sum2(m.export_wh) - sum2(prev.export_wh);
					double want_imp = net > 0 ? net * (double)dt / 3600.0 : 0.0;
					double want_exp = net < 0 ? -net * (double)dt / 3600.0 : 0.0;
					cr_assert(fabs(d_imp - want_imp) <= 1e-6 * fmax(1.0, want_imp),
						  "import delta %.9f want %.9f", d_imp, want_imp);
					cr_assert(fabs(d_exp - want_exp) <= 1e-6 * fmax(1.0, want_exp),
						  "export delta %.9f want %.9f", d_exp, want_exp);
					for (int k = 0; k < 2; k++) {
						cr_assert_geq(m.import_wh[k], prev.import_wh[k]);
						cr_assert_geq(m.export_wh[k], prev.export_wh[k]);
					}
					cr_assert_geq(m.gas_m3, prev.gas_m3);
					cr_assert(fabs(m.gas_m3 - prev.gas_m3 -
						       prev.gas_rate * (double)dt / 3600.0) < 1e-6);
					cr_assert_geq(m.gas_5min_m3, prev.gas_5min_m3);
					cr_assert_geq(m.gas_hour_m3, prev.gas_hour_m3);
					cr_assert_geq(m.power_failures, prev.power_failures);
					cr_assert_geq(m.long_power_failures, prev.long_power_failures);
					for (int ph = 0; ph < 3; ph++) {
						cr_assert_geq(m.sags[ph], prev.sags[ph]);
						cr_assert_geq(m.swells[ph], prev.swells[ph]);
						cr_assert(m.import_w[ph] == 0 || m.export_w[ph] == 0,
							  "a phase imports or exports");
						if (ph >= phases)
							cr_assert(m.voltage[ph] == 0 && m.current[ph] == 0 &&
								  m.import_w[ph] == 0 && m.export_w[ph] == 0);
					}
					cr_assert(m.tariff == 1 || m.tariff == 2);
				}
			}
		}
	}
}

/* The profiles do what they say over a June week and a January week. */
Test(p1_gen, profiles_plausible)
{
	for (uint64_t seed = 1; seed <= 5; seed++) {
		double imp[SC_PROFILE_COUNT], exp_wh[SC_PROFILE_COUNT], peak[SC_PROFILE_COUNT];
		for (int prof = 0; prof < SC_PROFILE_COUNT; prof++) {
			struct sc_meter m;
			int64_t t0 = utc(2025, 6, 2, 0, 0, 0);
			meter_at(&m, (enum sc_profile)prof, 3, seed, t0);
			double i0 = sum2(m.import_wh), e0 = sum2(m.export_wh);
			peak[prof] = 0;
			for (int64_t t = t0 + 10; t <= t0 + 7 * 86400; t += 10) {
				sc_meter_advance(&m, t);
				peak[prof] = fmax(peak[prof], sc_meter_net_w(&m));
			}
			imp[prof] = sum2(m.import_wh) - i0;
			exp_wh[prof] = sum2(m.export_wh) - e0;
		}
		/* A household uses 1.5-25 kWh a day. */
		cr_assert(imp[SC_PROFILE_HOUSEHOLD] > 7 * 1500 && imp[SC_PROFILE_HOUSEHOLD] < 7 * 25000,
			  "household week %.0f Wh", imp[SC_PROFILE_HOUSEHOLD]);
		cr_assert_eq(exp_wh[SC_PROFILE_HOUSEHOLD], 0);
		cr_assert_gt(exp_wh[SC_PROFILE_PV], 7 * 2000, "pv exports in June");
		cr_assert_gt(imp[SC_PROFILE_EV], imp[SC_PROFILE_HOUSEHOLD] + 10000, "ev charges");
		cr_assert_gt(peak[SC_PROFILE_EV], 10000, "11 kW sessions");
		cr_assert_gt(exp_wh[SC_PROFILE_PV_EV], 0);
		cr_assert_gt(imp[SC_PROFILE_PV_EV], imp[SC_PROFILE_PV]);

		/* Gas: more in January than in June. */
		struct sc_meter w, s;
		meter_at(&w, SC_PROFILE_HOUSEHOLD, 3, seed, utc(2025, 1, 13, 0, 0, 0));
		meter_at(&s, SC_PROFILE_HOUSEHOLD, 3, seed, utc(2025, 6, 16, 0, 0, 0));
		double gw = w.gas_m3, gs = s.gas_m3;
		for (int64_t k = 60; k <= 7 * 86400; k += 60) {
			sc_meter_advance(&w, utc(2025, 1, 13, 0, 0, 0) + k);
			sc_meter_advance(&s, utc(2025, 6, 16, 0, 0, 0) + k);
		}
		cr_assert_gt(w.gas_m3 - gw, 2.0 * (s.gas_m3 - gs), "winter %.1f summer %.1f m3",
			     w.gas_m3 - gw, s.gas_m3 - gs);
		cr_assert_gt(s.gas_m3 - gs, 0, "hot water all year");
	}
	/* Voltages near 230 V on every phase, none on absent phases. */
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_PV_EV, 1, 3, utc(2025, 7, 1, 12, 0, 0));
	cr_assert(m.voltage[0] > 215 && m.voltage[0] < 250);
	cr_assert(m.voltage[1] == 0 && m.voltage[2] == 0);
}

/* Configured counters are used as given; a time in the past is ignored. */
Test(p1_gen, config_counters)
{
	struct sc_meter_config cfg = {.profile = SC_PROFILE_HOUSEHOLD, .phases = 3, .seed = 9,
				      .start = T2025, .import_wh = 1234567.0, .export_wh = 89.0};
	struct sc_meter m;
	sc_meter_init(&m, &cfg);
	cr_assert_float_eq(sum2(m.import_wh), 1234567.0, 1e-6);
	cr_assert_float_eq(sum2(m.export_wh), 89.0, 1e-6);
	sc_meter_advance(&m, T2025 + 60);
	struct sc_meter copy;
	memcpy(&copy, &m, sizeof m);
	sc_meter_advance(&m, T2025 + 30);
	cr_assert(memcmp(&m, &copy, sizeof m) == 0, "the past is ignored");
	sc_meter_advance(&m, T2025 + 60);
	cr_assert(memcmp(&m, &copy, sizeof m) == 0, "the same time changes nothing");
}

/* Tariffs (NL numbering in the meter): low at night and at weekends. */
Test(p1_gen, tariff_times)
{
	struct sc_meter m;
	/* Wednesday 2025-01-15 */
	meter_at(&m, SC_PROFILE_HOUSEHOLD, 3, 1, utc(2025, 1, 15, 5, 59, 59)); /* 06:59:59 CET */
	cr_assert_eq(m.tariff, 1);
	sc_meter_advance(&m, utc(2025, 1, 15, 6, 0, 0));
	cr_assert_eq(m.tariff, 2);
	sc_meter_advance(&m, utc(2025, 1, 15, 21, 59, 59));
	cr_assert_eq(m.tariff, 2);
	sc_meter_advance(&m, utc(2025, 1, 15, 22, 0, 0)); /* 23:00 CET */
	cr_assert_eq(m.tariff, 1);
	sc_meter_advance(&m, utc(2025, 1, 18, 12, 0, 0)); /* Saturday noon */
	cr_assert_eq(m.tariff, 1);
	/* BE prints it the other way round. */
	int n = gen(&m, SC_FLAVOUR_EMUCS, SC_P1_FAULT_NONE, 0, buf, NULL);
	(void)n;
	cr_assert(strstr(buf, "\r\n0-0:96.14.0(0002)\r\n"), "night in BE is 2");
	gen(&m, SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0, buf, NULL);
	cr_assert(strstr(buf, "\r\n0-0:96.14.0(0001)\r\n"), "low in NL is 1");
}

/* ---- formats ---- */

static void check_crc(const char *tg, int n)
{
	const char *bang = memchr(tg, '!', (size_t)n);
	cr_assert(bang, "no '!'");
	size_t body = (size_t)(bang - tg) + 1;
	cr_assert_eq((size_t)n, body + 6, "'!' then 4 digits and CR LF");
	char want[8];
	snprintf(want, sizeof want, "%04X\r\n", sc_crc16(tg, body));
	cr_assert(memcmp(bang + 1, want, 6) == 0, "CRC %.4s, computed %.4s", bang + 1, want);
}

/* Every line ends CR LF; no lone CR or LF; objects look like OBIS(...). */
static void check_lines(const char *tg, int n)
{
	for (int i = 0; i < n; i++) {
		if (tg[i] == '\r')
			cr_assert(i + 1 < n && tg[i + 1] == '\n', "lone CR at %d", i);
		if (tg[i] == '\n')
			cr_assert(i > 0 && tg[i - 1] == '\r', "lone LF at %d", i);
	}
	cr_assert_eq(tg[0], '/');
	const char *hdr_end = strstr(tg, "\r\n");
	cr_assert(hdr_end && hdr_end[2] == '\r' && hdr_end[3] == '\n', "blank line after header");
}

static void check_common(const char *tg, int phases)
{
	char v[2048];
	static const char *const energy[] = {"1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2"};
	for (int i = 0; i < 4; i++) {
		cr_assert(find_obj(tg, energy[i], v, sizeof v), "%s missing", energy[i]);
		cr_assert(matches(v + strlen(energy[i]), "(999999.999*kWh)"), "%s", v);
	}
	cr_assert(find_obj(tg, "1-0:1.7.0", v, sizeof v) && matches(v, "1-0:1.7.0(99.999*kW)"), "%s",
		  v);
	cr_assert(find_obj(tg, "1-0:2.7.0", v, sizeof v) && matches(v, "1-0:2.7.0(99.999*kW)"), "%s",
		  v);
	cr_assert(find_obj(tg, "0-0:1.0.0", v, sizeof v));
	cr_assert(matches(v, "0-0:1.0.0(999999999999S)") || matches(v, "0-0:1.0.0(999999999999W)"),
		  "%s", v);
	cr_assert(find_obj(tg, "0-0:96.14.0", v, sizeof v));
	cr_assert(strcmp(v, "0-0:96.14.0(0001)") == 0 || strcmp(v, "0-0:96.14.0(0002)") == 0);
	cr_assert(find_obj(tg, "0-0:96.1.1", v, sizeof v));
	for (const char *p = v + strlen("0-0:96.1.1("); *p != ')'; p++)
		cr_assert(strchr("0123456789ABCDEF", *p), "equipment id is upper-case hex: %s", v);
	static const char *const l23[] = {"1-0:52.7.0", "1-0:72.7.0", "1-0:51.7.0", "1-0:71.7.0",
					  "1-0:41.7.0", "1-0:61.7.0", "1-0:42.7.0", "1-0:62.7.0",
					  "1-0:52.32.0", "1-0:72.32.0", "1-0:52.36.0", "1-0:72.36.0"};
	for (size_t i = 0; i < sizeof l23 / sizeof l23[0]; i++) {
		if (phases == 1)
			cr_assert_null(find_obj(tg, l23[i], v, sizeof v), "1-phase has %s", l23[i]);
	}
	if (phases == 3) {
		cr_assert(find_obj(tg, "1-0:41.7.0", v, sizeof v));
		cr_assert(find_obj(tg, "1-0:62.7.0", v, sizeof v));
		cr_assert(find_obj(tg, "1-0:71.7.0", v, sizeof v));
	}
}

Test(p1_gen, format_dsmr42)
{
	char v[2048];
	for (uint64_t seed = 1; seed <= 20; seed++) {
		int phases = seed % 2 ? 3 : 1;
		struct sc_meter m;
		meter_at(&m, (enum sc_profile)(seed % 4), phases, seed,
			 utc(2025, 8, 1, 0, 0, 0) + (int64_t)seed * 7777);
		int n = gen(&m, SC_FLAVOUR_DSMR42, SC_P1_FAULT_NONE, 0, buf, NULL);
		check_lines(buf, n);
		check_crc(buf, n);
		check_common(buf, phases);
		cr_assert(strncmp(buf, "/KFM5KAIFA-METER\r\n\r\n1-3:0.2.8(42)\r\n", 35) == 0);
		cr_assert_null(strstr(buf, "1-0:32.7.0"), "DSMR 4.2 has no voltages");
		cr_assert_null(strstr(buf, "96.1.4"));
		cr_assert(strstr(buf, "\r\n0-0:96.13.1()\r\n0-0:96.13.0()\r\n"));
		cr_assert(find_obj(buf, "1-0:31.7.0", v, sizeof v) && matches(v, "1-0:31.7.0(999*A)"),
			  "%s", v);
		cr_assert(find_obj(buf, "1-0:99.97.0", v, sizeof v));
		if (m.faillog_count == 0)
			cr_assert_str_eq(v, "1-0:99.97.0(0)(0-0:96.7.19)");
		else
			cr_assert(matches(v + 11, "(9)(0-0:96.7.19)(999999999999W)(9999999999*s)") ||
					  matches(v + 11, "(9)(0-0:96.7.19)(999999999999S)(9999999999*s)") ||
					  m.faillog_count > 1,
				  "%s", v);
		cr_assert(find_obj(buf, "0-0:96.7.21", v, sizeof v) && matches(v, "0-0:96.7.21(99999)"));
		cr_assert(find_obj(buf, "1-0:32.32.0", v, sizeof v) && matches(v, "1-0:32.32.0(99999)"));
		/* Hourly gas: stamped on the last full hour. */
		cr_assert(find_obj(buf, "0-1:24.2.1", v, sizeof v));
		cr_assert(matches(v, "0-1:24.2.1(999999999999W)(99999.999*m3)") ||
			  matches(v, "0-1:24.2.1(999999999999S)(99999.999*m3)"), "%s", v);
		cr_assert(strncmp(v + 19, "0000", 4) == 0, "hourly gas %s", v);
		cr_assert(strstr(buf, "\r\n0-1:24.1.0(003)\r\n0-1:96.1.0("));
	}
}

Test(p1_gen, format_dsmr50)
{
	char v[2048];
	for (uint64_t seed = 1; seed <= 20; seed++) {
		int phases = seed % 2 ? 3 : 1;
		struct sc_meter m;
		meter_at(&m, (enum sc_profile)(seed % 4), phases, seed,
			 utc(2025, 2, 1, 0, 0, 0) + (int64_t)seed * 7777);
		int n = gen(&m, SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0, buf, NULL);
		check_lines(buf, n);
		check_crc(buf, n);
		check_common(buf, phases);
		cr_assert(strncmp(buf, phases == 3 ? "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n"
						   : "/ISK5\\2M550E-1011\r\n\r\n1-3:0.2.8(50)\r\n",
				  36) == 0,
			  "%.36s", buf);
		cr_assert(find_obj(buf, "1-0:32.7.0", v, sizeof v) && matches(v, "1-0:32.7.0(999.9*V)"),
			  "%s", v);
		cr_assert(find_obj(buf, "1-0:31.7.0", v, sizeof v) && matches(v, "1-0:31.7.0(999*A)"),
			  "%s", v);
		cr_assert_null(strstr(buf, "96.13.1"));
		/* Gas every 5 minutes, on the 5-minute grid. */
		cr_assert(find_obj(buf, "0-1:24.2.1", v, sizeof v));
		cr_assert(matches(v, "0-1:24.2.1(999999999999W)(99999.999*m3)"), "%s", v);
		int mm = (v[19] - '0') * 10 + (v[20] - '0');
		cr_assert(mm % 5 == 0 && v[21] == '0' && v[22] == '0', "%s", v);
	}
}

Test(p1_gen, format_emucs)
{
	char v[2048];
	for (uint64_t seed = 1; seed <= 20; seed++) {
		int phases = seed % 2 ? 3 : 1;
		struct sc_meter m;
		meter_at(&m, (enum sc_profile)(seed % 4), phases, seed,
			 utc(2025, 5, 3, 0, 0, 0) + (int64_t)seed * 7777);
		int n = gen(&m, SC_FLAVOUR_EMUCS, SC_P1_FAULT_NONE, 0, buf, NULL);
		check_lines(buf, n);
		check_crc(buf, n);
		check_common(buf, phases);
		cr_assert(strncmp(buf, "/FLU5\\253769484_A\r\n\r\n0-0:96.1.4(50217)\r\n", 40) == 0);
		cr_assert_null(strstr(buf, "0.2.8"), "e-MUCS has no 0.2.8");
		cr_assert_null(strstr(buf, "96.7.21"));
		cr_assert_null(strstr(buf, "32.32.0"));
		cr_assert(find_obj(buf, "1-0:31.7.0", v, sizeof v) &&
				  matches(v, "1-0:31.7.0(999.99*A)"),
			  "currents with 2 decimals: %s", v);
		cr_assert(find_obj(buf, "1-0:32.7.0", v, sizeof v) && matches(v, "1-0:32.7.0(999.9*V)"));
		cr_assert(find_obj(buf, "1-0:1.4.0", v, sizeof v) && matches(v, "1-0:1.4.0(99.999*kW)"),
			  "%s", v);
		cr_assert(find_obj(buf, "1-0:1.6.0", v, sizeof v));
		cr_assert(matches(v, "1-0:1.6.0(999999999999S)(99.999*kW)") ||
			  matches(v, "1-0:1.6.0(999999999999W)(99.999*kW)"), "%s", v);
		cr_assert(find_obj(buf, "0-0:98.1.0", v, sizeof v));
		char head[64];
		snprintf(head, sizeof head, "0-0:98.1.0(%d)(1-0:1.6.0)(1-0:1.6.0)(",
			 m.demand_hist_count);
		cr_assert(strncmp(v, head, strlen(head)) == 0, "%s", v);
		if (m.demand_hist_count == 0)
			cr_assert_str_eq(v, "0-0:98.1.0(0)(1-0:1.6.0)(1-0:1.6.0)()");
		else
			cr_assert_eq(strlen(v), strlen(head) - 1 + 41 * (size_t)m.demand_hist_count,
				     "%s", v);
		cr_assert(strstr(buf, "\r\n0-0:96.3.10(1)\r\n0-0:17.0.0(999.9*kW)\r\n"
				      "1-0:31.4.0(999*A)\r\n0-0:96.13.0()\r\n"));
		cr_assert(strstr(buf, "\r\n0-1:24.1.0(003)\r\n0-1:96.1.1("));
		cr_assert(strstr(buf, "\r\n0-1:24.4.0(1)\r\n0-1:24.2.3("));
		cr_assert_null(strstr(buf, "24.2.1"));
	}
}

/* Quantised values are what the meter state says. */
Test(p1_gen, quantisation)
{
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_HOUSEHOLD, 3, 5, utc(2025, 1, 15, 12, 0, 0));
	m.import_wh[0] = 3432827.9; /* truncated to the Wh */
	m.import_wh[1] = 1.0;
	m.export_wh[0] = 0;
	m.export_wh[1] = 999.4999;
	m.import_w[0] = 377.5; /* rounded to the W */
	m.export_w[0] = 0;
	m.voltage[0] = 237.06;
	m.current[0] = 1.5;
	m.gas_5min_m3 = 981.4439;
	m.tariff = 2;
	char v[256];
	gen(&m, SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0, buf, NULL);
	cr_assert_str_eq(find_obj(buf, "1-0:1.8.1", v, sizeof v), "1-0:1.8.1(003432.827*kWh)");
	cr_assert_str_eq(find_obj(buf, "1-0:1.8.2", v, sizeof v), "1-0:1.8.2(000000.001*kWh)");
	cr_assert_str_eq(find_obj(buf, "1-0:2.8.2", v, sizeof v), "1-0:2.8.2(000000.999*kWh)");
	cr_assert_str_eq(find_obj(buf, "1-0:21.7.0", v, sizeof v), "1-0:21.7.0(00.378*kW)");
	cr_assert_str_eq(find_obj(buf, "1-0:32.7.0", v, sizeof v), "1-0:32.7.0(237.1*V)");
	cr_assert_str_eq(find_obj(buf, "1-0:31.7.0", v, sizeof v), "1-0:31.7.0(002*A)");
	cr_assert_str_eq(find_obj(buf, "0-0:96.14.0", v, sizeof v), "0-0:96.14.0(0002)");
	cr_assert(strstr(find_obj(buf, "0-1:24.2.1", v, sizeof v), ")(00981.443*m3)"));
	gen(&m, SC_FLAVOUR_EMUCS, SC_P1_FAULT_NONE, 0, buf, NULL);
	cr_assert_str_eq(find_obj(buf, "1-0:31.7.0", v, sizeof v), "1-0:31.7.0(001.50*A)");
	/* BE: 1.8.1 is the day (normal) register, 1.8.2 the night (low) one. */
	cr_assert_str_eq(find_obj(buf, "1-0:1.8.1", v, sizeof v), "1-0:1.8.1(000000.001*kWh)");
	cr_assert_str_eq(find_obj(buf, "1-0:1.8.2", v, sizeof v), "1-0:1.8.2(003432.827*kWh)");
	cr_assert_str_eq(find_obj(buf, "0-0:96.14.0", v, sizeof v), "0-0:96.14.0(0001)");
}

Test(p1_gen, crc_every_flavour)
{
	for (uint64_t seed = 0; seed < 30; seed++) {
		struct sc_meter m;
		meter_at(&m, (enum sc_profile)(seed % 4), seed % 3 ? 3 : 1, seed,
			 T2025 + (int64_t)seed * 86400 * 11 + 40000);
		for (int f = 0; f < N_FLAVOURS; f++) {
			int n = gen(&m, flavours[f], SC_P1_FAULT_NONE, 0, buf, NULL);
			check_crc(buf, n);
			cr_assert_eq(buf[n], '\0', "NUL after the telegram");
		}
	}
}

/* 2025: summer time from 30 March 01:00 UTC to 26 October 01:00 UTC. */
Test(p1_gen, dst_flag)
{
	static const struct {
		int64_t t;
		const char *tst;
	} cases[] = {
		{1743296399, "250330015959W"}, /* 2025-03-30 00:59:59 UTC */
		{1743296400, "250330030000S"}, /* 01:00:00 UTC: clocks jump to 03:00 */
		{1761440399, "251026025959S"}, /* 2025-10-26 00:59:59 UTC */
		{1761440400, "251026020000W"}, /* 01:00:00 UTC: 02:00 again, now W */
		{1761443999, "251026025959W"},
		{1735689600, "250101010000W"},
		{1751328000, "250701020000S"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_meter m;
		meter_at(&m, SC_PROFILE_HOUSEHOLD, 3, 77, cases[i].t - 3600);
		sc_meter_advance(&m, cases[i].t);
		for (int f = 0; f < N_FLAVOURS; f++) {
			struct sc_reading want;
			int n = gen(&m, flavours[f], SC_P1_FAULT_NONE, 0, buf, &want);
			char v[64], exp_obj[64];
			snprintf(exp_obj, sizeof exp_obj, "0-0:1.0.0(%s)", cases[i].tst);
			cr_assert_str_eq(find_obj(buf, "0-0:1.0.0", v, sizeof v), exp_obj);
			struct events e;
			parse(buf, (size_t)n, 0, &e);
			cr_assert_eq(e.n, 1);
			cr_assert_eq(e.ev[0], SC_P1_TELEGRAM, "%s", e.detail[0]);
			cr_assert_eq(e.reading[0].ts, cases[i].t);
			cr_assert_eq(want.ts, cases[i].t);
		}
	}
}

/* ---- faults ---- */

Test(p1_gen, fault_outputs)
{
	for (uint64_t fs = 0; fs < 40; fs++) {
		struct sc_meter m;
		meter_at(&m, (enum sc_profile)(fs % 4), fs % 2 ? 3 : 1, fs, T2025 + (int64_t)fs * 999);
		for (int f = 0; f < N_FLAVOURS; f++) {
			struct sc_reading good, r;
			int n = gen(&m, flavours[f], SC_P1_FAULT_NONE, 0, buf2, &good);

			int k = gen(&m, flavours[f], SC_P1_FAULT_BAD_CRC, fs, buf, &r);
			cr_assert_eq(k, n);
			cr_assert(memcmp(buf, buf2, (size_t)n - 6) == 0, "only the CRC differs");
			cr_assert(memcmp(buf + n - 6, buf2 + n - 6, 4) != 0, "CRC differs");
			cr_assert(matches(buf + n - 6, "####\r\n"));
			cr_assert(memcmp(&r, &good, sizeof r) == 0);

			k = gen(&m, flavours[f], SC_P1_FAULT_TRUNCATED, fs, buf, &r);
			cr_assert_lt(k, n - 6);
			cr_assert(memcmp(buf, buf2, (size_t)k) == 0, "a prefix");
			cr_assert_null(memchr(buf, '!', (size_t)k));
			cr_assert_gt(k, (int)(strstr(buf2, "\r\n") - buf2) + 1, "header kept");

			k = gen(&m, flavours[f], SC_P1_FAULT_GARBAGE, fs, buf, &r);
			cr_assert(k > n && k <= n + 64);
			size_t g = (size_t)(k - n);
			cr_assert_null(memchr(buf, '/', g), "no '/' in garbage");
			cr_assert_not_null(memchr(buf, '\0', g), "NUL in garbage");
			cr_assert(memcmp(buf + g, buf2, (size_t)n) == 0, "then the telegram");

			k = gen(&m, flavours[f], SC_P1_FAULT_OVERSIZE, fs, buf, &r);
			cr_assert_gt(k, SC_P1_BUF_SIZE);
			cr_assert_leq(k, SC_P1_GEN_MAX);
			check_crc(buf, k);
			check_lines(buf, k);
			char *v = malloc(SC_P1_GEN_MAX);
			cr_assert(find_obj(buf, "0-0:96.13.0", v, SC_P1_GEN_MAX));
			cr_assert_gt(strlen(v), 4000);
			free(v);
		}
	}
	/* Too small a buffer; flavours it cannot print. */
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_PV, 3, 1, T2025);
	struct sc_p1_gen_opts o = {.flavour = SC_FLAVOUR_DSMR50};
	cr_assert_eq(sc_p1_gen(&m, &o, buf, 100, NULL), SC_ERR_RANGE);
	int n = sc_p1_gen(&m, &o, buf, SC_P1_GEN_MAX, NULL);
	cr_assert_eq(sc_p1_gen(&m, &o, buf, (size_t)n - 1, NULL), SC_ERR_RANGE);
	cr_assert_eq(sc_p1_gen(&m, &o, buf, (size_t)n, NULL), n, "exactly enough, no NUL");
	o.fault = SC_P1_FAULT_OVERSIZE;
	cr_assert_eq(sc_p1_gen(&m, &o, buf, SC_P1_BUF_SIZE, NULL), SC_ERR_RANGE);
	o.fault = SC_P1_FAULT_NONE;
	o.flavour = SC_FLAVOUR_TIC;
	cr_assert_eq(sc_p1_gen(&m, &o, buf, SC_P1_GEN_MAX, NULL), SC_ERR_INVAL);
	o.flavour = SC_FLAVOUR_UNKNOWN;
	cr_assert_eq(sc_p1_gen(&m, &o, buf, SC_P1_GEN_MAX, NULL), SC_ERR_INVAL);
}

/* ---- round trip ---- */

/* Local times of day to sample: night, breakfast, noon, afternoon sun,
 * evening EV, late; at start dates spread over the year. */
static const int sample_minutes[] = {3 * 60 + 10, 7 * 60 + 35, 12 * 60, 14 * 60 + 20,
				     18 * 60 + 50, 22 * 60 + 40};
#define N_SAMPLES 6
#define N_SEEDS 50

static void fail_dump(const char *what, const char *tg, int n, const char *why)
{
	cr_log_error("%s: %s\n--- telegram (%d bytes) ---\n%.*s", what, why, n,
		     n > 4000 ? 4000 : n, tg);
}

static bool round_trip_one(const struct sc_meter *m, enum sc_flavour f, size_t chunk,
			   const char *ctx, bool dump)
{
	struct sc_reading want;
	int n = gen(m, f, SC_P1_FAULT_NONE, 0, buf, &want);
	struct events e;
	parse(buf, (size_t)n, chunk, &e);
	char why[400];
	if (e.n != 1 || e.ev[0] != SC_P1_TELEGRAM) {
		snprintf(why, sizeof why, "%d events, first %s (%s)", e.n,
			 e.n ? sc_p1_event_name(e.ev[0]) : "-", e.n ? e.detail[0] : "");
		if (dump)
			fail_dump(ctx, buf, n, why);
		return false;
	}
	if (!same_reading(&want, &e.reading[0], why, sizeof why)) {
		if (dump)
			fail_dump(ctx, buf, n, why);
		return false;
	}
	return true;
}

Test(p1_gen, round_trip, .timeout = 600)
{
	int done = 0, failed = 0;
	for (int f = 0; f < N_FLAVOURS; f++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			for (int prof = 0; prof < SC_PROFILE_COUNT; prof++) {
				for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
					/* A day somewhere in 2025, local midnight-ish. */
					int64_t day = T2025 + (int64_t)((seed * 37 + (uint64_t)prof * 11) %
									365) * 86400 - 3600;
					struct sc_meter m;
					meter_at(&m, (enum sc_profile)prof, phases, seed * 7919 + 3, day);
					for (int s = 0; s < N_SAMPLES; s++) {
						sc_meter_advance(&m, day + sample_minutes[s] * 60 +
									     (int64_t)(seed % 60));
						char ctx[160];
						snprintf(ctx, sizeof ctx, "%s %d-phase %s seed %llu t %lld",
							 sc_flavour_name(flavours[f]), phases,
							 sc_profile_name((enum sc_profile)prof),
							 (unsigned long long)seed, (long long)m.t);
						/* Whole buffer; byte by byte for some. */
						bool dump = failed < 5;
						bool ok = round_trip_one(&m, flavours[f], 0, ctx, dump);
						if (ok && seed <= 3)
							ok = round_trip_one(&m, flavours[f], 1, ctx, dump);
						if (ok && seed > 3 && seed <= 6)
							ok = round_trip_one(&m, flavours[f], 97, ctx, dump);
						done++;
						if (!ok)
							failed++;
					}
				}
			}
		}
	}
	cr_assert_eq(failed, 0, "%d of %d round trips failed", failed, done);
	cr_assert_eq(done, N_FLAVOURS * 2 * SC_PROFILE_COUNT * N_SEEDS * N_SAMPLES);
}

/* Over a whole month at 1-telegram-per-15-minutes, so that demand history,
 * failure logs and counters move: every telegram round-trips. */
Test(p1_gen, round_trip_month, .timeout = 600)
{
	for (int f = 0; f < N_FLAVOURS; f++) {
		struct sc_meter m;
		int64_t t0 = utc(2025, 10, 20, 0, 0, 0); /* spans the October DST switch */
		meter_at(&m, SC_PROFILE_PV_EV, 3, 4242 + (uint64_t)f, t0);
		for (int64_t t = t0; t < t0 + 40 * 86400; t += 900 + 17) {
			sc_meter_advance(&m, t);
			char ctx[96];
			snprintf(ctx, sizeof ctx, "%s month t %lld", sc_flavour_name(flavours[f]),
				 (long long)t);
			cr_assert(round_trip_one(&m, flavours[f], 0, ctx, true), "%s", ctx);
		}
	}
}

Test(p1_gen, round_trip_faults, .timeout = 600)
{
	for (int f = 0; f < N_FLAVOURS; f++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			for (uint64_t seed = 1; seed <= 20; seed++) {
				struct sc_meter m;
				meter_at(&m, (enum sc_profile)(seed % 4), phases, seed,
					 T2025 + (int64_t)seed * 86400 * 17 + 50000);
				const char *fl = sc_flavour_name(flavours[f]);
				struct sc_reading want;
				struct events e;
				int n;

				n = gen(&m, flavours[f], SC_P1_FAULT_BAD_CRC, seed, buf, &want);
				parse(buf, (size_t)n, 0, &e);
				cr_assert(e.n == 1 && e.ev[0] == SC_P1_CRC_MISMATCH,
					  "%s bad-crc seed %llu: %d events, first %s", fl,
					  (unsigned long long)seed, e.n, sc_p1_event_name(e.ev[0]));

				n = gen(&m, flavours[f], SC_P1_FAULT_TRUNCATED, seed, buf, &want);
				parse(buf, (size_t)n, 0, &e);
				cr_assert(e.n == 1 && e.ev[0] == SC_P1_FRAMING,
					  "%s truncated seed %llu at finish: %d events, first %s", fl,
					  (unsigned long long)seed, e.n, sc_p1_event_name(e.ev[0]));
				/* ... and when the next telegram starts. */
				int n2 = gen(&m, flavours[f], SC_P1_FAULT_NONE, 0, buf + n, &want);
				parse(buf, (size_t)(n + n2), seed % 2 ? 0 : 7, &e);
				cr_assert(e.n == 2 && e.ev[0] == SC_P1_FRAMING && e.ev[1] == SC_P1_TELEGRAM,
					  "%s truncated seed %llu + telegram: %d events, %s, %s", fl,
					  (unsigned long long)seed, e.n, sc_p1_event_name(e.ev[0]),
					  e.n > 1 ? sc_p1_event_name(e.ev[1]) : "-");
				char why[400];
				cr_assert(same_reading(&want, &e.reading[1], why, sizeof why), "%s", why);

				n = gen(&m, flavours[f], SC_P1_FAULT_GARBAGE, seed, buf, &want);
				parse(buf, (size_t)n, seed % 2 ? 0 : 1, &e);
				cr_assert(e.n == 2 && e.ev[0] == SC_P1_GARBAGE && e.ev[1] == SC_P1_TELEGRAM,
					  "%s garbage seed %llu: %d events, %s, %s", fl,
					  (unsigned long long)seed, e.n, sc_p1_event_name(e.ev[0]),
					  e.n > 1 ? sc_p1_event_name(e.ev[1]) : "-");
				cr_assert(same_reading(&want, &e.reading[1], why, sizeof why), "%s", why);

				n = gen(&m, flavours[f], SC_P1_FAULT_OVERSIZE, seed, buf, &want);
				parse(buf, (size_t)n, 0, &e);
				cr_assert(e.n >= 1 && e.ev[0] == SC_P1_OVERFLOW,
					  "%s oversize seed %llu: %d events, first %s", fl,
					  (unsigned long long)seed, e.n, sc_p1_event_name(e.ev[0]));
				for (int i = 0; i < e.n; i++)
					cr_assert_neq(e.ev[i], SC_P1_TELEGRAM);
				/* The parser recovers for the next telegram. */
				n2 = gen(&m, flavours[f], SC_P1_FAULT_NONE, 0, buf + n, &want);
				parse(buf, (size_t)(n + n2), 0, &e);
				cr_assert(e.n == 2 && e.ev[0] == SC_P1_OVERFLOW && e.ev[1] == SC_P1_TELEGRAM,
					  "%s oversize + telegram: %d events", fl, e.n);
			}
		}
	}
}

/* Every fault, followed by a good telegram, gives the same events fed whole,
 * byte by byte, in chunks and split at every position. */
Test(p1_gen, faults_same_events_however_fed, .timeout = 600)
{
	static const enum sc_p1_fault faults[] = {SC_P1_FAULT_BAD_CRC, SC_P1_FAULT_TRUNCATED,
						  SC_P1_FAULT_GARBAGE, SC_P1_FAULT_OVERSIZE};
	struct recording *rec = rec_new();
	for (int f = 0; f < N_FLAVOURS; f++) {
		for (size_t k = 0; k < sizeof faults / sizeof faults[0]; k++) {
			for (uint64_t seed = 1; seed <= 2; seed++) {
				struct sc_meter m;
				struct sc_reading want;
				meter_at(&m, SC_PROFILE_PV_EV, 3, seed, T2025 + (int64_t)seed * 3600);
				int n = gen(&m, flavours[f], faults[k], seed, buf, &want);
				int n2 = gen(&m, flavours[f], SC_P1_FAULT_NONE, 0, buf + n, &want);
				feed_checked(buf, (size_t)(n + n2), 0, rec);
				cr_assert_geq(rec->n, 2, "%s %s: %d events", sc_flavour_name(flavours[f]),
					      sc_p1_fault_name(faults[k]), rec->n);
				cr_assert_eq(rec->ev[rec->n - 1].ev, SC_P1_TELEGRAM);
			}
		}
	}
	free(rec);
}
