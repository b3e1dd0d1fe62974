/* P1 telegram generator: see p1_gen.h.
 *
 * Layouts copy real meters byte for byte (captures in corpus/p1):
 *   DSMR 4.2  Kaifa MA304/MA105 "/KFM5KAIFA-METER"
 *   DSMR 5.0  Iskra AM550 "/ISK5\2M550T-1012" (three-phase), "...E-1011" (one)
 *   e-MUCS    Fluvius "/FLU5\253769484_A", e-MUCS P1 1.7.1 (96.1.4 = 50217)
 * Values are quantised first (struct quant); both the text and the expected
 * reading are written from the quantised numbers, so what is printed is
 * exactly what a parser reads back. Numbers are formatted by hand: no printf
 * family, no locale. */
#include "p1_gen.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "civil.h"
#include "crc16.h"
#include "p1.h"
#include "sc_error.h"
#include "textout.h"

/* ---- fault names ---- */

static const char *const fault_names[SC_P1_FAULT_COUNT] = {
	[SC_P1_FAULT_NONE] = "none",
	[SC_P1_FAULT_BAD_CRC] = "bad-crc",
	[SC_P1_FAULT_TRUNCATED] = "truncated",
	[SC_P1_FAULT_GARBAGE] = "garbage",
	[SC_P1_FAULT_OVERSIZE] = "oversize",
};

const char *sc_p1_fault_name(enum sc_p1_fault f)
{
	return (unsigned)f < SC_P1_FAULT_COUNT ? fault_names[f] : "?";
}

int sc_p1_fault_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SC_P1_FAULT_COUNT; i++)
		if (strcmp(fault_names[i], name) == 0)
			return i;
	return -1;
}

static uint64_t pow10u(int n)
{
	uint64_t p = 1;
	while (n-- > 0)
		p *= 10;
	return p;
}

/* A value held as an integer count of 10^-decs units, printed as
 * intw digits '.' decs digits: put_fixed(3432827, 6, 3) = "003432.827". */
static void put_fixed(struct sc_out *w, uint64_t scaled, int intw, int decs)
{
	uint64_t p = pow10u(decs);
	sc_out_uint(w, scaled / p, intw);
	sc_out_ch(w, '.');
	sc_out_uint(w, scaled % p, decs);
}

static void put_hex_text(struct sc_out *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		sc_out_ch(w, hex[c >> 4]);
		sc_out_ch(w, hex[c & 15]);
	}
}

/* DSMR timestamp YYMMDDhhmmssX (DSMR 5.0.2 §6.4.1): local time, X = S in
 * EU summer time (UTC+2), W otherwise (UTC+1). */
static void put_tst(struct sc_out *w, int64_t epoch)
{
	bool summer = sc_eu_summer_time(epoch);
	struct sc_civil c;
	sc_epoch_to_civil(epoch + (summer ? 7200 : 3600), &c);
	sc_out_uint(w, (uint64_t)(c.year % 100), 2);
	sc_out_uint(w, (uint64_t)c.month, 2);
	sc_out_uint(w, (uint64_t)c.day, 2);
	sc_out_uint(w, (uint64_t)c.hour, 2);
	sc_out_uint(w, (uint64_t)c.minute, 2);
	sc_out_uint(w, (uint64_t)c.second, 2);
	sc_out_ch(w, summer ? 'S' : 'W');
}

/* "OBIS(" ... ")" CR LF helpers */
static void obj_begin(struct sc_out *w, const char *obis)
{
	sc_out_str(w, obis);
	sc_out_ch(w, '(');
}

static void obj_end(struct sc_out *w)
{
	sc_out_str(w, ")\r\n");
}

static void obj_fixed(struct sc_out *w, const char *obis, uint64_t scaled, int intw, int decs,
		      const char *unit)
{
	obj_begin(w, obis);
	put_fixed(w, scaled, intw, decs);
	sc_out_ch(w, '*');
	sc_out_str(w, unit);
	obj_end(w);
}

static void obj_uint(struct sc_out *w, const char *obis, uint64_t v, int width)
{
	obj_begin(w, obis);
	sc_out_uint(w, v, width);
	obj_end(w);
}

static void obj_text(struct sc_out *w, const char *obis, const char *text)
{
	obj_begin(w, obis);
	sc_out_str(w, text);
	obj_end(w);
}

/* ---- quantisation ---- */

struct quant {
	int64_t t;
	int phases;
	char id[40];         /* equipment id (ASCII, sent hex-encoded) */
	char gas_id[40];
	uint64_t imp_wh[2];  /* registers x.8.1, x.8.2 as printed */
	uint64_t exp_wh[2];
	int tariff;          /* 96.14.0 as printed */
	uint64_t imp_w, exp_w;
	uint64_t ph_imp_w[SC_PHASES], ph_exp_w[SC_PHASES];
	uint64_t dv[SC_PHASES];   /* voltage, 0.1 V */
	uint64_t cur[SC_PHASES];  /* current in 1 A (NL) or 0.01 A (e-MUCS) */
	uint64_t pfail, lpfail;
	uint64_t sags[SC_PHASES], swells[SC_PHASES];
	uint64_t gas_l;      /* gas in litres (0.001 m3) */
	int64_t gas_ts;
	uint64_t demand_avg_w, month_max_w;
	int64_t month_max_ts;
};

static uint64_t round_clamp(double v, uint64_t max)
{
	if (!(v > 0))
		return 0;
	double r = floor(v + 0.5);
	return r >= (double)max ? max : (uint64_t)r;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Energy registers are 6.3 kWh: shown truncated to the Wh and rolling over
 * at 1,000,000 kWh like the meter's display. */
static uint64_t energy_reg(double wh)
{
	if (!(wh > 0))
		return 0;
	return (uint64_t)fmod(floor(wh), 1e9);
}

static void ascii_id(char *dst, size_t cap, const char *prefix, uint64_t digits, int n)
{
	struct sc_out w = {dst, cap - 1, 0, false};
	sc_out_str(&w, prefix);
	sc_out_uint(&w, digits % pow10u(n), n);
	dst[w.full ? 0 : w.len] = '\0';
}

static void quantise(const struct sc_meter *m, enum sc_flavour f, struct quant *q)
{
	memset(q, 0, sizeof *q);
	bool be = f == SC_FLAVOUR_EMUCS;
	q->t = m->t;
	q->phases = m->phases;
	uint64_t gas_serial = ((uint64_t)m->serial * 7 + 13) % 1000000000u;
	switch (f) {
	case SC_FLAVOUR_DSMR42:
		ascii_id(q->id, sizeof q->id, m->phases == 3 ? "E0026000" : "E0025000", m->serial, 9);
		ascii_id(q->gas_id, sizeof q->gas_id, "G0039001", gas_serial, 9);
		break;
	case SC_FLAVOUR_DSMR50:
		ascii_id(q->id, sizeof q->id, "E0044007", m->serial, 9);
		ascii_id(q->gas_id, sizeof q->gas_id, "G0039001", gas_serial, 9);
		break;
	default:
		ascii_id(q->id, sizeof q->id, "1SAG31", m->serial, 8);
		ascii_id(q->gas_id, sizeof q->gas_id, "7FLO21", gas_serial, 8);
		break;
	}
	/* NL: 1.8.1 = tariff 1 (low), 1.8.2 = tariff 2 (normal). BE (e-MUCS):
	 * 1.8.1 = day, 1.8.2 = night, and 96.14.0 1 = day, 2 = night
	 * (P1-DSMR.md: the Belgian inversion). */
	int r1 = be ? 1 : 0, r2 = be ? 0 : 1;
	q->imp_wh[0] = energy_reg(m->import_wh[r1]);
	q->imp_wh[1] = energy_reg(m->import_wh[r2]);
	q->exp_wh[0] = energy_reg(m->export_wh[r1]);
	q->exp_wh[1] = energy_reg(m->export_wh[r2]);
	q->tariff = be ? 3 - m->tariff : m->tariff;

	/* Powers are 2.3 kW = whole W. The total is the net of the printed
	 * phases, so 1.7.0 - 2.7.0 == sum of (21.7.0 - 22.7.0) exactly. */
	int64_t net = 0;
	for (int ph = 0; ph < m->phases; ph++) {
		q->ph_imp_w[ph] = round_clamp(m->import_w[ph], 99999);
		q->ph_exp_w[ph] = round_clamp(m->export_w[ph], 99999);
		net += (int64_t)q->ph_imp_w[ph] - (int64_t)q->ph_exp_w[ph];
		q->dv[ph] = round_clamp(m->voltage[ph] * 10.0, 9999);
		q->cur[ph] = be ? round_clamp(m->current[ph] * 100.0, 99999)
				: round_clamp(m->current[ph], 999);
		q->sags[ph] = min_u64(m->sags[ph], 99999);
		q->swells[ph] = min_u64(m->swells[ph], 99999);
	}
	q->imp_w = net > 0 ? min_u64((uint64_t)net, 99999) : 0;
	q->exp_w = net < 0 ? min_u64((uint64_t)-net, 99999) : 0;
	q->pfail = min_u64(m->power_failures, 99999);
	q->lpfail = min_u64(m->long_power_failures, 99999);

	/* DSMR 4.x gas meters report hourly, DSMR 5 and e-MUCS ones every 5 min. */
	double gas = f == SC_FLAVOUR_DSMR42 ? m->gas_hour_m3 : m->gas_5min_m3;
	q->gas_ts = f == SC_FLAVOUR_DSMR42 ? m->gas_hour_ts : m->gas_5min_ts;
	q->gas_l = gas > 0 ? (uint64_t)fmod(floor(gas * 1000.0), 1e8) : 0;

	q->demand_avg_w = round_clamp(m->demand_avg_w, 99999);
	q->month_max_w = m->month_max_ts ? round_clamp(m->month_max_w, 99999) : 0;
	q->month_max_ts = m->month_max_ts;
}

/* ---- telegram bodies ('/' .. '!') ---- */

/* Phase objects: "1-0:" + C + ".7.0" with C = base + 20 * phase. */
static const char *const obis_u[SC_PHASES] = {"1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0"};
static const char *const obis_i[SC_PHASES] = {"1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"};
static const char *const obis_pp[SC_PHASES] = {"1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0"};
static const char *const obis_pm[SC_PHASES] = {"1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0"};
static const char *const obis_sag[SC_PHASES] = {"1-0:32.32.0", "1-0:52.32.0", "1-0:72.32.0"};
static const char *const obis_swell[SC_PHASES] = {"1-0:32.36.0", "1-0:52.36.0",
						  "1-0:72.36.0"};

/* Text of a network operator's message, repeated as long as asked. */
static const char message_text[] =
	"Geplande onderbreking: de netbeheerder voert onderhoud uit aan het net. ";

static void put_message(struct sc_out *w, const char *obis, size_t hex_len)
{
	static const char hex[] = "0123456789ABCDEF";
	obj_begin(w, obis);
	size_t n = sizeof message_text - 1;
	for (size_t i = 0; i < hex_len / 2; i++) {
		unsigned char c = (unsigned char)message_text[i % n];
		sc_out_ch(w, hex[c >> 4]);
		sc_out_ch(w, hex[c & 15]);
	}
	obj_end(w);
}

static void put_id(struct sc_out *w, const char *obis, const char *ascii)
{
	obj_begin(w, obis);
	put_hex_text(w, ascii);
	obj_end(w);
}

static void put_energy(struct sc_out *w, const struct quant *q)
{
	/* DSMR 5.0.2 table 6-3: 6.3 kWh */
	obj_fixed(w, "1-0:1.8.1", q->imp_wh[0], 6, 3, "kWh");
	obj_fixed(w, "1-0:1.8.2", q->imp_wh[1], 6, 3, "kWh");
	obj_fixed(w, "1-0:2.8.1", q->exp_wh[0], 6, 3, "kWh");
	obj_fixed(w, "1-0:2.8.2", q->exp_wh[1], 6, 3, "kWh");
}

/* 1-0:99.97.0(count)(0-0:96.7.19)(end TST)(duration 10 digits *s)... */
static void put_failure_log(struct sc_out *w, const struct sc_meter *m)
{
	obj_begin(w, "1-0:99.97.0");
	sc_out_uint(w, (uint64_t)m->faillog_count, 1);
	sc_out_str(w, ")(0-0:96.7.19");
	for (int i = 0; i < m->faillog_count; i++) {
		sc_out_str(w, ")(");
		put_tst(w, m->faillog[i].end);
		sc_out_str(w, ")(");
		sc_out_uint(w, (uint64_t)m->faillog[i].duration_s % 10000000000ULL, 10);
		sc_out_str(w, "*s");
	}
	obj_end(w);
}

static void put_counts(struct sc_out *w, const struct quant *q, const char *const obis[],
		       const uint64_t *v)
{
	for (int ph = 0; ph < q->phases; ph++)
		obj_uint(w, obis[ph], v[ph], 5);
}

static void put_phase_powers(struct sc_out *w, const struct quant *q, bool interleave)
{
	if (interleave) { /* Kaifa: 21, 22, 41, 42, 61, 62 */
		for (int ph = 0; ph < q->phases; ph++) {
			obj_fixed(w, obis_pp[ph], q->ph_imp_w[ph], 2, 3, "kW");
			obj_fixed(w, obis_pm[ph], q->ph_exp_w[ph], 2, 3, "kW");
		}
		return;
	}
	for (int ph = 0; ph < q->phases; ph++)
		obj_fixed(w, obis_pp[ph], q->ph_imp_w[ph], 2, 3, "kW");
	for (int ph = 0; ph < q->phases; ph++)
		obj_fixed(w, obis_pm[ph], q->ph_exp_w[ph], 2, 3, "kW");
}

static void put_voltages(struct sc_out *w, const struct quant *q)
{
	for (int ph = 0; ph < q->phases; ph++)
		obj_fixed(w, obis_u[ph], q->dv[ph], 3, 1, "V");
}

static void put_currents(struct sc_out *w, const struct quant *q, bool centi)
{
	for (int ph = 0; ph < q->phases; ph++) {
		if (centi) {
			obj_fixed(w, obis_i[ph], q->cur[ph], 3, 2, "A");
		} else {
			obj_begin(w, obis_i[ph]);
			sc_out_uint(w, q->cur[ph], 3);
			sc_out_str(w, "*A");
			obj_end(w);
		}
	}
}

/* NL gas meter on M-Bus channel 1: device type 003, temperature-corrected
 * reading 24.2.1 (DSMR 5.0.2 table 6-3). */
static void put_gas_nl(struct sc_out *w, const struct quant *q)
{
	obj_text(w, "0-1:24.1.0", "003");
	put_id(w, "0-1:96.1.0", q->gas_id);
	obj_begin(w, "0-1:24.2.1");
	put_tst(w, q->gas_ts);
	sc_out_str(w, ")(");
	put_fixed(w, q->gas_l, 5, 3);
	sc_out_str(w, "*m3");
	obj_end(w);
}

static void put_common_head(struct sc_out *w, const struct quant *q, const char *header,
			    const char *version)
{
	sc_out_str(w, header);
	sc_out_str(w, "\r\n\r\n");
	obj_text(w, "1-3:0.2.8", version);
	obj_begin(w, "0-0:1.0.0");
	put_tst(w, q->t);
	obj_end(w);
	put_id(w, "0-0:96.1.1", q->id);
	put_energy(w, q);
	obj_uint(w, "0-0:96.14.0", (uint64_t)q->tariff, 4);
	obj_fixed(w, "1-0:1.7.0", q->imp_w, 2, 3, "kW");
	obj_fixed(w, "1-0:2.7.0", q->exp_w, 2, 3, "kW");
	obj_uint(w, "0-0:96.7.21", q->pfail, 5);
	obj_uint(w, "0-0:96.7.9", q->lpfail, 5);
}

/* DSMR 4.2, laid out as a Kaifa MA304 (three-phase) or MA105 (one). */
static void body_dsmr42(struct sc_out *w, const struct sc_meter *m, const struct quant *q,
			size_t msg_hex)
{
	put_common_head(w, q, "/KFM5KAIFA-METER", "42");
	put_failure_log(w, m);
	put_counts(w, q, obis_sag, q->sags);
	put_counts(w, q, obis_swell, q->swells);
	obj_text(w, "0-0:96.13.1", "");
	put_message(w, "0-0:96.13.0", msg_hex);
	put_currents(w, q, false);
	put_phase_powers(w, q, true);
	put_gas_nl(w, q);
	sc_out_ch(w, '!');
}

/* DSMR 5.0, laid out as an Iskra AM550. */
static void body_dsmr50(struct sc_out *w, const struct sc_meter *m, const struct quant *q,
			size_t msg_hex)
{
	put_common_head(w, q, q->phases == 3 ? "/ISK5\\2M550T-1012" : "/ISK5\\2M550E-1011",
			"50");
	put_failure_log(w, m);
	put_counts(w, q, obis_sag, q->sags);
	put_counts(w, q, obis_swell, q->swells);
	put_message(w, "0-0:96.13.0", msg_hex);
	put_voltages(w, q);
	put_currents(w, q, false);
	put_phase_powers(w, q, false);
	put_gas_nl(w, q);
	sc_out_ch(w, '!');
}

/* 632525252525W: the placeholder Fluvius sends for "no peak". */
static void put_tst_or_none(struct sc_out *w, int64_t epoch)
{
	if (epoch)
		put_tst(w, epoch);
	else
		sc_out_str(w, "632525252525W");
}

/* e-MUCS, laid out as a Fluvius meter (e-MUCS P1 1.7.1). */
static void body_emucs(struct sc_out *w, const struct sc_meter *m, const struct quant *q,
		       size_t msg_hex)
{
	sc_out_str(w, "/FLU5\\253769484_A\r\n\r\n");
	obj_text(w, "0-0:96.1.4", "50217");
	put_id(w, "0-0:96.1.1", q->id);
	obj_begin(w, "0-0:1.0.0");
	put_tst(w, q->t);
	obj_end(w);
	put_energy(w, q);
	obj_uint(w, "0-0:96.14.0", (uint64_t)q->tariff, 4);
	/* Capacity tariff: running 15-minute average, this month's peak,
	 * 13-month history (newest last; "(0)(1-0:1.6.0)(1-0:1.6.0)()" when empty,
	 * as Fluvius meters send it). */
	obj_fixed(w, "1-0:1.4.0", q->demand_avg_w, 2, 3, "kW");
	obj_begin(w, "1-0:1.6.0");
	put_tst_or_none(w, q->month_max_ts);
	sc_out_str(w, ")(");
	put_fixed(w, q->month_max_w, 2, 3);
	sc_out_str(w, "*kW");
	obj_end(w);
	obj_begin(w, "0-0:98.1.0");
	sc_out_uint(w, (uint64_t)m->demand_hist_count, 1);
	sc_out_str(w, ")(1-0:1.6.0)(1-0:1.6.0");
	if (m->demand_hist_count == 0)
		sc_out_str(w, ")(");
	for (int i = 0; i < m->demand_hist_count; i++) {
		const struct sc_meter_demand *d = &m->demand_hist[i];
		sc_out_str(w, ")(");
		put_tst(w, d->month);
		sc_out_str(w, ")(");
		put_tst_or_none(w, d->when);
		sc_out_str(w, ")(");
		put_fixed(w, d->when ? round_clamp(d->w, 99999) : 0, 2, 3);
		sc_out_str(w, "*kW");
	}
	obj_end(w);
	obj_fixed(w, "1-0:1.7.0", q->imp_w, 2, 3, "kW");
	obj_fixed(w, "1-0:2.7.0", q->exp_w, 2, 3, "kW");
	put_phase_powers(w, q, false);
	put_voltages(w, q);
	put_currents(w, q, true);
	obj_text(w, "0-0:96.3.10", "1");
	obj_text(w, "0-0:17.0.0", "999.9*kW");
	obj_text(w, "1-0:31.4.0", "999*A");
	put_message(w, "0-0:96.13.0", msg_hex);
	/* Belgian gas: channel 1, type 003, valve 24.4.0, uncorrected 24.2.3. */
	obj_text(w, "0-1:24.1.0", "003");
	put_id(w, "0-1:96.1.1", q->gas_id);
	obj_text(w, "0-1:24.4.0", "1");
	obj_begin(w, "0-1:24.2.3");
	put_tst(w, q->gas_ts);
	sc_out_str(w, ")(");
	put_fixed(w, q->gas_l, 5, 3);
	sc_out_str(w, "*m3");
	obj_end(w);
	sc_out_ch(w, '!');
}

static void body(struct sc_out *w, const struct sc_meter *m, const struct quant *q,
		 enum sc_flavour f, size_t msg_hex)
{
	switch (f) {
	case SC_FLAVOUR_DSMR42:
		body_dsmr42(w, m, q, msg_hex);
		break;
	case SC_FLAVOUR_DSMR50:
		body_dsmr50(w, m, q, msg_hex);
		break;
	default:
		body_emucs(w, m, q, msg_hex);
		break;
	}
}

/* ---- expected reading (the rules of p1_map.c, from our own numbers) ---- */

static void fill_expect(const struct quant *q, enum sc_flavour f, struct sc_reading *r)
{
	memset(r, 0, sizeof *r);
	bool be = f == SC_FLAVOUR_EMUCS;
	r->ts = q->t;
	r->ts_set = true;
	sc_reading_set(r, SC_RQ_P_PLUS, (double)q->imp_w);
	sc_reading_set(r, SC_RQ_P_MINUS, (double)q->exp_w);
	sc_reading_set(r, SC_RQ_P, (double)q->imp_w - (double)q->exp_w);
	sc_reading_set(r, SC_RQ_E_IMPORT, (double)(q->imp_wh[0] + q->imp_wh[1]));
	sc_reading_set(r, SC_RQ_E_EXPORT, (double)(q->exp_wh[0] + q->exp_wh[1]));
	if (!be) {
		sc_reading_set(r, SC_RQ_PFAIL, (double)q->pfail);
		sc_reading_set(r, SC_RQ_LPFAIL, (double)q->lpfail);
	}
	double s = 0;
	for (int ph = 0; ph < q->phases; ph++) {
		double p = (double)q->ph_imp_w[ph] - (double)q->ph_exp_w[ph];
		if (f != SC_FLAVOUR_DSMR42)
			sc_reading_set_ph(r, ph, SC_PQ_U, (double)q->dv[ph] / 10.0);
		sc_reading_set_ph(r, ph, SC_PQ_I, be ? (double)q->cur[ph] / 100.0 : (double)q->cur[ph]);
		sc_reading_set_ph(r, ph, SC_PQ_P_PLUS, (double)q->ph_imp_w[ph]);
		sc_reading_set_ph(r, ph, SC_PQ_P_MINUS, (double)q->ph_exp_w[ph]);
		sc_reading_set_ph(r, ph, SC_PQ_P, p);
		if (!be) {
			sc_reading_set_ph(r, ph, SC_PQ_VSAGS, (double)q->sags[ph]);
			sc_reading_set_ph(r, ph, SC_PQ_VSWELLS, (double)q->swells[ph]);
		}
		s += fabs(p);
	}
	/* S = sum of |phase P|; PF = P / sqrt(P^2 + Q^2) with Q = 0, as no
	 * reactive power is sent: the sign of P, absent for P = 0
	 * (SMART-CONNECT.md §7, p1_map.c). */
	sc_reading_set(r, SC_RQ_S, s);
	if (r->q[SC_RQ_P].v != 0)
		sc_reading_set(r, SC_RQ_PF, r->q[SC_RQ_P].v > 0 ? 1.0 : -1.0);
	r->flavour = f;
	r->version = f == SC_FLAVOUR_DSMR42 ? 42 : f == SC_FLAVOUR_DSMR50 ? 50 : 50217;
	memcpy(r->maker, f == SC_FLAVOUR_DSMR42 ? "KFM" : f == SC_FLAVOUR_DSMR50 ? "ISK" : "FLU", 4);
	struct sc_out w = {r->meter_id, sizeof r->meter_id - 1, 0, false};
	put_hex_text(&w, q->id);
	r->meter_id[w.full ? 0 : w.len] = '\0';
	r->tariff = q->tariff;
	r->phases = q->phases;
	r->gas_m3.v = (double)q->gas_l / 1000.0;
	r->gas_m3.set = true;
	r->gas_ts = q->gas_ts;
}

/* ---- faults ---- */

static uint64_t fault_rand(uint64_t *state)
{
	/* splitmix64 as a sequence */
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* 1-64 bytes, none of them '/', at least one NUL, printable and binary. */
static void put_garbage(struct sc_out *w, uint64_t seed)
{
	uint64_t st = seed;
	size_t n = 1 + (size_t)(fault_rand(&st) % 64);
	size_t nul = (size_t)(fault_rand(&st) % n);
	for (size_t i = 0; i < n; i++) {
		uint64_t r = fault_rand(&st);
		char c;
		if (i == nul)
			c = '\0';
		else if (r & 1)
			c = (char)(0x20 + (r >> 8) % 95);  /* printable */
		else
			c = (char)(unsigned char)((r >> 8) & 0xFF); /* any byte */
		if (c == '/')
			c = '.';
		sc_out_ch(w, c);
	}
}

static void put_crc(struct sc_out *w, uint16_t crc)
{
	static const char hex[] = "0123456789ABCDEF";
	char d[4] = {hex[crc >> 12], hex[(crc >> 8) & 15], hex[(crc >> 4) & 15], hex[crc & 15]};
	sc_out_mem(w, d, 4);
	sc_out_str(w, "\r\n");
}

int sc_p1_gen(const struct sc_meter *m, const struct sc_p1_gen_opts *o, char *buf, size_t cap,
	      struct sc_reading *expect)
{
	enum sc_flavour f = o->flavour;
	if (f != SC_FLAVOUR_DSMR42 && f != SC_FLAVOUR_DSMR50 && f != SC_FLAVOUR_EMUCS)
		return SC_ERR_INVAL;
	if ((unsigned)o->fault >= SC_P1_FAULT_COUNT)
		return SC_ERR_INVAL;
	struct quant q;
	quantise(m, f, &q);
	if (expect)
		fill_expect(&q, f, expect);

	struct sc_out w = {buf, cap, 0, false};
	uint64_t st = o->fault_seed;
	if (o->fault == SC_P1_FAULT_GARBAGE)
		put_garbage(&w, o->fault_seed);
	size_t start = w.len;
	size_t msg_hex = 0;
	if (o->fault == SC_P1_FAULT_OVERSIZE) {
		/* Measure the telegram with an empty message, then grow the
		 * message until '/'..CRC exceeds the parser's buffer by 2-2048. */
		body(&w, m, &q, f, 0);
		if (w.full)
			return SC_ERR_RANGE;
		size_t base = w.len - start + 4; /* + CRC digits */
		size_t want = SC_P1_BUF_SIZE + 2 + (size_t)(fault_rand(&st) % 2047);
		msg_hex = (want - base + 1) & ~(size_t)1;
		w.len = start;
	}
	body(&w, m, &q, f, msg_hex);
	if (w.full)
		return SC_ERR_RANGE;
	size_t bang = w.len - 1;
	switch (o->fault) {
	case SC_P1_FAULT_TRUNCATED: {
		/* Cut anywhere from the end of the identification line to just
		 * before '!': no '!' line, no CRC. */
		const char *nl = memchr(buf + start, '\n', bang - start);
		size_t from = nl ? (size_t)(nl - buf) + 1 : start + 1;
		w.len = from + (size_t)(fault_rand(&st) % (bang - from));
		break;
	}
	case SC_P1_FAULT_BAD_CRC: {
		uint16_t crc = sc_crc16(buf + start, w.len - start);
		uint16_t flip = (uint16_t)(1 + fault_rand(&st) % 0xFFFF);
		put_crc(&w, (uint16_t)(crc ^ flip));
		break;
	}
	default:
		/* DSMR 5.0.2 §6.12: CRC16 over '/'..'!', 4 upper-case hex digits. */
		put_crc(&w, sc_crc16(buf + start, w.len - start));
		break;
	}
	if (w.full)
		return SC_ERR_RANGE;
	if (w.len < cap)
		buf[w.len] = '\0';
	return (int)w.len;
}

int sc_p1_gen_limits(enum sc_flavour f, struct sc_meter_limits *lim)
{
	if (f != SC_FLAVOUR_DSMR42 && f != SC_FLAVOUR_DSMR50 && f != SC_FLAVOUR_EMUCS)
		return SC_ERR_INVAL;
	bool be = f == SC_FLAVOUR_EMUCS;
	*lim = (struct sc_meter_limits){
		.meter = f == SC_FLAVOUR_DSMR42 ? "DSMR 4.2" : be ? "e-MUCS" : "DSMR 5",
		.max_w = 99999,
		.max_a = 100,
		.a_step = be ? 0.01 : 1,
		.max_v = 999.9,
		.max_wh = 1e9,
		.phase_export = true,
		.export = true,
		.tariff = true,
		.tariff_inverted = be,
	};
	return SC_OK;
}
