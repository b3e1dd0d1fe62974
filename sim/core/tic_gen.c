/* TIC frame generator: see tic_gen.h for the rules chosen.
 *
 * Layouts copy real Linky frames byte for byte (captures in corpus/tic: a
 * mono consumer BASE frame, a mono producer HC/HP log, a historic frame):
 * label order of Enedis-NOI-CPT_54E V3 §6.2, fixed data lengths (TIC.md
 * table), zero-padded decimals, NGTF/LTARF padded to 16 characters, MSG1 32,
 * PJOURF+1 98, horodates SYYMMDDhhmmss, DATE with an empty data field.
 * Values are quantised first (struct quant); both the text and the expected
 * reading are written from the quantised numbers, so what is printed is
 * exactly what a parser reads back. Numbers are formatted by hand: no printf
 * family, no locale. */
#include "tic_gen.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "civil.h"
#include "sc_error.h"
#include "textout.h"
#include "tic.h"

#define STX 0x02
#define ETX 0x03
#define EOT 0x04
#define HT 0x09
#define LF 0x0A
#define CR 0x0D

/* ---- names ---- */

static const char *const fault_names[SC_TIC_FAULT_COUNT] = {
	[SC_TIC_FAULT_NONE] = "none",
	[SC_TIC_FAULT_BAD_CHECKSUM] = "bad-checksum",
	[SC_TIC_FAULT_TRUNCATED] = "truncated",
	[SC_TIC_FAULT_GARBAGE] = "garbage",
	[SC_TIC_FAULT_BAD_LENGTH] = "bad-length",
	[SC_TIC_FAULT_BIT7] = "bit7",
	[SC_TIC_FAULT_HISTORIC] = "historic",
	[SC_TIC_FAULT_OVERSIZE] = "oversize",
};

const char *sc_tic_fault_name(enum sc_tic_fault f)
{
	return (unsigned)f < SC_TIC_FAULT_COUNT ? fault_names[f] : "?";
}

int sc_tic_fault_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SC_TIC_FAULT_COUNT; i++)
		if (strcmp(fault_names[i], name) == 0)
			return i;
	return -1;
}

static const char *const calendar_names[SC_TIC_CAL_COUNT] = {
	[SC_TIC_CAL_BASE] = "base",
	[SC_TIC_CAL_HCHP] = "hchp",
	[SC_TIC_CAL_TEMPO] = "tempo",
};

static const char *const total_names[SC_TIC_TOTAL_COUNT] = {
	[SC_TIC_TOTAL_SUM] = "sum",
	[SC_TIC_TOTAL_NET] = "net",
};

const char *sc_tic_total_name(enum sc_tic_total t)
{
	return (unsigned)t < SC_TIC_TOTAL_COUNT ? total_names[t] : "?";
}

int sc_tic_total_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SC_TIC_TOTAL_COUNT; i++)
		if (strcmp(total_names[i], name) == 0)
			return i;
	return -1;
}

const char *sc_tic_calendar_name(enum sc_tic_calendar c)
{
	return (unsigned)c < SC_TIC_CAL_COUNT ? calendar_names[c] : "?";
}

int sc_tic_calendar_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SC_TIC_CAL_COUNT; i++)
		if (strcmp(calendar_names[i], name) == 0)
			return i;
	return -1;
}

/* Horodate SYYMMDDhhmmss (Enedis V3 §6.2.1): local time, S = 'E' in EU
 * summer time (UTC+2), 'H' otherwise (UTC+1). */
static void put_horodate(struct sc_out *w, int64_t epoch)
{
	bool summer = sc_eu_summer_time(epoch);
	struct sc_civil c;
	sc_epoch_to_civil(epoch + (summer ? 7200 : 3600), &c);
	sc_out_ch(w, summer ? 'E' : 'H');
	sc_out_uint(w, (uint64_t)(c.year % 100), 2);
	sc_out_uint(w, (uint64_t)c.month, 2);
	sc_out_uint(w, (uint64_t)c.day, 2);
	sc_out_uint(w, (uint64_t)c.hour, 2);
	sc_out_uint(w, (uint64_t)c.minute, 2);
	sc_out_uint(w, (uint64_t)c.second, 2);
}

/* Into a small NUL-terminated array. */
static void fmt_uint(char *dst, size_t cap, uint64_t v, int width)
{
	struct sc_out w = {dst, cap - 1, 0, false};
	sc_out_uint(&w, v, width);
	dst[w.full ? 0 : w.len] = '\0';
}

/* TIC.md: (sum & 0x3F) + 0x20, standard mode over label..last HT, historic
 * over label SP data. */
static char checksum(const char *s, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)s[i];
	return (char)((sum & 0x3Fu) + 0x20u);
}

/* ---- seeded constants of the installation ---- */

/* splitmix64 (Steele, Lea, Flood 2014) finaliser. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Draw k of this meter's TIC constants: a stream of its own, so the meter
 * model's draws are untouched. */
static uint64_t seeded(const struct sc_meter *m, uint64_t k)
{
	return mix64(mix64(m->cfg.seed ^ 0x5449432D47454E00ULL) ^ mix64(k));
}

/* ---- quantisation ---- */

#define PJOURF_LEN 98

struct quant {
	int64_t t;
	int phases;
	bool producer;
	enum sc_tic_calendar cal;
	char adsc[13];
	char prm[15];
	const char *ngtf, *ltarf;   /* 16 characters */
	uint64_t east, easf[10], easd[4], eait, erq[4];
	uint64_t irms[SC_PHASES], urms[SC_PHASES];
	uint64_t pref, pcoup;
	uint64_t sinsts, sinsts_ph[SC_PHASES], sinsti;
	/* daily peaks [0] total, [1..3] phases; with their horodates */
	uint64_t smaxsn[1 + SC_PHASES], smaxsn1[1 + SC_PHASES];
	int64_t smaxsn_ts[1 + SC_PHASES], smaxsn1_ts[1 + SC_PHASES];
	uint64_t smaxin, smaxin1;
	int64_t smaxin_ts, smaxin1_ts;
	uint64_t ccasn, ccasn1, ccain, ccain1;
	int64_t cca_ts, cca1_ts;
	uint64_t umoy[SC_PHASES];
	int64_t umoy_ts;
	uint32_t stge;
	int ntarf, njourf, njourf1;
	bool relay_closed;          /* relay 1 (water heater) */
	int tempo_today, tempo_tomorrow;
	char pjourf1[PJOURF_LEN + 1];
	/* historic mode */
	uint64_t isousc;
	char hhphc;
};

static uint64_t round_clamp(double v, uint64_t max)
{
	if (!(v > 0))
		return 0;
	double r = floor(v + 0.5);
	return r >= (double)max ? max : (uint64_t)r;
}

/* Energy registers are 9 digits of Wh (TIC.md table). */
#define WH_ROLL 1000000000ULL

static uint64_t trunc_wh(double wh)
{
	return wh > 0 ? (uint64_t)fmod(floor(wh), (double)WH_ROLL) : 0;
}

static const char *const ltarf_tempo[6] = {
	"HC BLEU         ", "HP BLEU         ", "HC BLANC        ",
	"HP BLANC        ", "HC ROUGE        ", "HP ROUGE        ",
};

/* A day-profile action (PJOURF+1 entries "hhmmSSSS", corpus: C001 = relay 1
 * closed + index 1, 8002 = relay open + index 2). */
static unsigned action(int index, bool relay_closed)
{
	return 0x8000u | (relay_closed ? 0x4000u : 0u) | (unsigned)index;
}

static void put_step(struct sc_out *w, int hhmm, unsigned act)
{
	sc_out_uint(w, (uint64_t)hhmm, 4);
	sc_out_hex(w, act, 4);
}

/* Tempo supplier index of a colour: HC = 2 c - 1, HP = 2 c. */
static int tempo_index(int colour, bool offpeak)
{
	return (colour - 1) * 2 + (offpeak ? 1 : 2);
}

static void next_day_profile(const struct sc_meter *m, struct quant *q)
{
	struct sc_out w = {q->pjourf1, sizeof q->pjourf1 - 1, 0, false};
	int steps = 1;
	switch (q->cal) {
	case SC_TIC_CAL_BASE:
		put_step(&w, 0, action(1, true));
		break;
	case SC_TIC_CAL_HCHP:
		put_step(&w, 0, action(1, true));
		sc_out_ch(&w, ' ');
		put_step(&w, 600, action(2, false));
		sc_out_ch(&w, ' ');
		put_step(&w, 2200, action(1, true));
		steps = 3;
		break;
	default: {
		/* Tomorrow 00:00-06:00 still belongs to the Tempo day starting
		 * today at 06:00; from 06:00 tomorrow's Tempo day runs. A colour
		 * not announced yet is shown as blue. */
		int64_t local = q->t + sc_meter_utc_offset(q->t);
		int64_t date = (local >= 0 ? local : local - 86399) / 86400;
		int64_t announce = sc_meter_local_to_utc(date * 86400 + 11 * 3600);
		int c0 = (int)sc_meter_tempo_colour(m, date);
		int c1 = q->t >= announce ? (int)sc_meter_tempo_colour(m, date + 1) : SC_TEMPO_BLUE;
		put_step(&w, 0, action(tempo_index(c0, true), true));
		sc_out_ch(&w, ' ');
		put_step(&w, 600, action(tempo_index(c1, false), false));
		sc_out_ch(&w, ' ');
		put_step(&w, 2200, action(tempo_index(c1, true), true));
		steps = 3;
		break;
	}
	}
	for (int i = steps; i < 11; i++)
		sc_out_str(&w, " NONUTILE");
	q->pjourf1[w.full ? 0 : w.len] = '\0';
}

static void quantise(const struct sc_meter *m, const struct sc_tic_gen_opts *o, struct quant *q)
{
	memset(q, 0, sizeof *q);
	const struct sc_meter_fr *fr = &m->fr;
	int64_t t = m->t;
	q->t = t;
	q->phases = m->phases;
	q->producer = o->producer;
	q->cal = o->calendar;

	/* ADSC: manufacturer (2), year (2), meter type (2, TIC.md: 61/62/64/70/75
	 * mono, 63/71/76 three-phase), serial (6). */
	static const char *const makers[] = {"01", "02", "03", "04"};
	static const char *const mono_types[] = {"61", "62", "64", "70", "75"};
	static const char *const tri_types[] = {"63", "71", "76"};
	struct sc_out w = {q->adsc, sizeof q->adsc - 1, 0, false};
	sc_out_str(&w, makers[seeded(m, 1) % 4]);
	sc_out_uint(&w, 14 + seeded(m, 2) % 11, 2);
	sc_out_str(&w, m->phases == 3 ? tri_types[seeded(m, 3) % 3] : mono_types[seeded(m, 3) % 5]);
	sc_out_uint(&w, m->serial % 1000000u, 6);
	q->adsc[w.full ? 0 : w.len] = '\0';
	fmt_uint(q->prm, sizeof q->prm, seeded(m, 4) % 100000000000000ULL, 14);

	/* Subscribed power (kVA), big enough for an EV charger. */
	static const uint64_t mono_pref[] = {6, 9, 12};
	static const uint64_t tri_pref[] = {9, 12, 18, 36};
	if (m->phases == 3)
		q->pref = m->model.ev_w > 0 ? tri_pref[2 + seeded(m, 5) % 2] : tri_pref[seeded(m, 5) % 4];
	else
		q->pref = m->model.ev_w > 4000 ? 12 : m->model.ev_w > 0 ? mono_pref[1 + seeded(m, 5) % 2]
									: mono_pref[seeded(m, 5) % 3];
	q->pcoup = q->pref;
	q->isousc = m->phases == 3 ? q->pref * 5 / 3 : q->pref * 5;

	/* Calendar state at t. */
	bool offpeak = sc_meter_fr_offpeak(t);
	bool high = sc_meter_fr_high_season(t);
	int64_t tday = sc_meter_tempo_day(t);
	int today = (int)sc_meter_tempo_colour(m, tday);
	/* Tempo day tday + 1 is announced at 11:00 local on date tday. */
	int64_t announce = sc_meter_local_to_utc(tday * 86400 + 11 * 3600);
	int tomorrow = t >= announce ? (int)sc_meter_tempo_colour(m, tday + 1) : SC_TEMPO_NONE;
	int sup = 1, dist = 1;
	switch (q->cal) {
	case SC_TIC_CAL_BASE:
		q->ngtf = "base            ";
		q->ltarf = "BASE            ";
		q->relay_closed = true;
		q->hhphc = 'A';
		break;
	case SC_TIC_CAL_HCHP:
		q->ngtf = "H PLEINE/CREUSE ";
		q->ltarf = offpeak ? " HEURE  CREUSE  " : " HEURE  PLEINE  ";
		sup = offpeak ? 1 : 2;
		q->relay_closed = offpeak;
		q->hhphc = 'C';
		break;
	default:
		q->ngtf = "TEMPO           ";
		sup = tempo_index(today, offpeak);
		q->ltarf = ltarf_tempo[sup - 1];
		q->relay_closed = offpeak;
		q->tempo_today = today;
		q->tempo_tomorrow = tomorrow;
		q->njourf = today;
		q->njourf1 = tomorrow;
		q->hhphc = 'C';
		break;
	}
	if (q->cal != SC_TIC_CAL_BASE)
		dist = (high ? 2 : 0) + (offpeak ? 1 : 2);
	q->ntarf = sup;

	/* Indexes: sums of the meter's cells, each truncated to the Wh. */
	uint64_t cell[SC_METER_FR_CELLS];
	for (int i = 0; i < SC_METER_FR_CELLS; i++)
		cell[i] = trunc_wh(fr->import_wh[i]);
	for (int col = SC_TEMPO_BLUE; col <= SC_TEMPO_RED; col++) {
		for (int hs = 0; hs < 2; hs++) {
			for (int op = 0; op < 2; op++) {
				uint64_t v = cell[sc_meter_fr_cell((enum sc_tempo_colour)col, hs, op)];
				q->east += v;
				int fi = q->cal == SC_TIC_CAL_BASE ? 0
					 : q->cal == SC_TIC_CAL_HCHP ? (op ? 0 : 1)
								      : tempo_index(col, op) - 1;
				int di = q->cal == SC_TIC_CAL_BASE ? 0 : hs * 2 + (op ? 0 : 1);
				q->easf[fi] += v;
				q->easd[di] += v;
			}
		}
	}
	q->east %= WH_ROLL;
	q->eait = trunc_wh(m->export_wh[0] + m->export_wh[1]);
	/* Reactive energy per quadrant: Q1/Q4 while importing, Q2/Q3 while
	 * exporting, as seeded fractions (per mille) of the active energy. */
	uint64_t k1 = 20 + seeded(m, 6) % 60, k4 = 30 + seeded(m, 7) % 70;
	uint64_t k2 = 300 + seeded(m, 8) % 200, k3 = 2 + seeded(m, 9) % 8;
	q->erq[0] = q->east * k1 / 1000;
	q->erq[1] = q->eait * k2 / 1000;
	q->erq[2] = q->eait * k3 / 1000;
	q->erq[3] = q->east * k4 / 1000;

	/* Instantaneous values (tic_gen.h: the VA rule). */
	uint64_t drawn = 0;
	for (int ph = 0; ph < m->phases; ph++) {
		q->urms[ph] = round_clamp(m->voltage[ph], 999);
		q->irms[ph] = round_clamp(m->current[ph], 999);
		uint64_t s = round_clamp(sc_meter_va(m, ph), 99999);
		if (sc_meter_phase_exports(m, ph)) {
			q->sinsti += s;
		} else {
			q->sinsts_ph[ph] = s;
			drawn += s;
		}
	}
	if (o->total == SC_TIC_TOTAL_NET) {
		/* The phases netted (tic_gen.h): one of the two totals is 0. */
		uint64_t injected = q->sinsti;
		q->sinsti = injected > drawn ? injected - drawn : 0;
		drawn = drawn > injected ? drawn - injected : 0;
	}
	q->sinsts = drawn > 99999 ? 99999 : drawn;
	q->sinsti = q->sinsti > 99999 ? 99999 : q->sinsti;

	/* Peaks: the meter's, never below the value shown now (the meter
	 * samples this very state). A day without a sample shows 0 at its
	 * local midnight. */
	int64_t lday = (t + sc_meter_utc_offset(t)) / 86400;
	int64_t midnight = sc_meter_local_to_utc(lday * 86400);
	int64_t prev_midnight = sc_meter_local_to_utc((lday - 1) * 86400);
	for (int k = 0; k <= m->phases; k++) {
		uint64_t cur = k == 0 ? q->sinsts : q->sinsts_ph[k - 1];
		q->smaxsn[k] = fr->smax_drawn_ts[k] ? round_clamp(fr->smax_drawn[k], 99999) : 0;
		q->smaxsn_ts[k] = fr->smax_drawn_ts[k] ? fr->smax_drawn_ts[k] : midnight;
		if (cur > q->smaxsn[k]) {
			q->smaxsn[k] = cur;
			q->smaxsn_ts[k] = t;
		}
		q->smaxsn1[k] = fr->smax_drawn_prev_ts[k] ? round_clamp(fr->smax_drawn_prev[k], 99999)
							  : 0;
		q->smaxsn1_ts[k] = fr->smax_drawn_prev_ts[k] ? fr->smax_drawn_prev_ts[k] : prev_midnight;
	}
	q->smaxin = fr->smax_injected_ts ? round_clamp(fr->smax_injected, 99999) : 0;
	q->smaxin_ts = fr->smax_injected_ts ? fr->smax_injected_ts : midnight;
	if (q->sinsti > q->smaxin) {
		q->smaxin = q->sinsti;
		q->smaxin_ts = t;
	}
	q->smaxin1 = fr->smax_injected_prev_ts ? round_clamp(fr->smax_injected_prev, 99999) : 0;
	q->smaxin1_ts = fr->smax_injected_prev_ts ? fr->smax_injected_prev_ts : prev_midnight;

	q->ccasn = round_clamp(fr->curve_import_w[0], 99999);
	q->ccasn1 = round_clamp(fr->curve_import_w[1], 99999);
	q->ccain = round_clamp(fr->curve_export_w[0], 99999);
	q->ccain1 = round_clamp(fr->curve_export_w[1], 99999);
	q->cca_ts = fr->curve_end[0];
	q->cca1_ts = fr->curve_end[1];
	for (int ph = 0; ph < m->phases; ph++)
		q->umoy[ph] = round_clamp(fr->umoy[ph], 999);
	q->umoy_ts = fr->umoy_end;

	/* STGE (TIC.md): bits 17 (standard mode), 19-20 Euridis = 3 and 21 CPL
	 * state = 1 as in both captures; the rest from the state. */
	uint32_t st = 0x003A0000u;
	if (!q->relay_closed)
		st |= 1u; /* bit 0: dry contact open */
	for (int ph = 0; ph < m->phases; ph++)
		if (q->urms[ph] > 253) /* bit 6: overvoltage, above 230 V + 10% */
			st |= 1u << 6;
	if (q->sinsts > q->pref * 1000)
		st |= 1u << 7; /* reference power exceeded */
	if (q->producer)
		st |= 1u << 8;
	if (sc_meter_net_w(m) < 0)
		st |= 1u << 9; /* active energy negative: set on consumer meters too */
	st |= (uint32_t)(sup - 1) << 10;
	st |= (uint32_t)(dist - 1) << 14;
	st |= (uint32_t)q->tempo_today << 24;
	st |= (uint32_t)q->tempo_tomorrow << 26;
	q->stge = st;

	next_day_profile(m, q);
}

/* ---- groups ---- */

/* The writer of one frame's groups, with the fault to apply to one of them. */
struct gw {
	struct sc_out *w;
	bool historic;
	int n;              /* groups written so far */
	int eligible;       /* groups the fault may hit, so far */
	enum sc_tic_fault fault;
	int target;         /* eligible group number the fault hits; -1 none */
	uint64_t rnd;       /* fault randomness */
	size_t cut;         /* truncated: output length to keep */
};

/* LF label HT [horodate HT] data HT checksum CR (standard) or
 * LF label SP data SP checksum CR (historic). */
static void group(struct gw *g, const char *label, const int64_t *horodate, const char *data)
{
	char body[192];
	struct sc_out b = {body, sizeof body, 0, false};
	char sep = g->historic ? ' ' : HT;
	size_t dlen = strlen(data);
	/* A text label's data may be shorter than its length (tic_labels.c):
	 * only one character too many is a bad length there. */
	int min_len = 0;
	int max_len = sc_tic_label_lookup(label, strlen(label), NULL, &min_len);
	bool text = max_len > 0 && min_len == 0;
	bool eligible = g->fault != SC_TIC_FAULT_BAD_LENGTH ||
			(dlen > 0 && (!text || dlen == (size_t)max_len));
	bool hit = eligible && g->eligible == g->target;
	if (eligible)
		g->eligible++;
	g->n++;

	sc_out_str(&b, label);
	sc_out_ch(&b, sep);
	if (horodate) {
		put_horodate(&b, *horodate);
		sc_out_ch(&b, sep);
	}
	size_t data_at = b.len;
	if (hit && g->fault == SC_TIC_FAULT_BAD_LENGTH) {
		if ((g->rnd & 1) || text) {
			sc_out_ch(&b, data[0]); /* one too long */
			sc_out_str(&b, data);
		} else {
			sc_out_str(&b, data + 1); /* one too short */
		}
	} else {
		sc_out_str(&b, data);
	}
	size_t data_end = b.len;
	/* Historic: the checksum covers label SP data, not the SP after it. */
	char cs = g->historic ? checksum(body, b.len) : 0;
	sc_out_ch(&b, sep);
	if (!g->historic)
		cs = checksum(body, b.len);
	if (hit && g->fault == SC_TIC_FAULT_BAD_CHECKSUM)
		cs = (char)(0x20 + ((cs - 0x20 + 1 + (int)(g->rnd % 63)) & 0x3F));
	if (hit && g->fault == SC_TIC_FAULT_BIT7) {
		/* One byte of the label or the data, after the checksum was made. */
		size_t llen = strlen(label), n = llen + (data_end - data_at);
		size_t k = (size_t)(g->rnd % n);
		size_t at = k < llen ? k : data_at + (k - llen);
		body[at] = (char)((unsigned char)body[at] | 0x80u);
	}
	sc_out_ch(&b, cs);
	sc_out_ch(g->w, LF);
	if (hit && g->fault == SC_TIC_FAULT_TRUNCATED)
		g->cut = g->w->len + (size_t)(g->rnd % (b.len + 1)); /* LF kept, CR never */
	sc_out_mem(g->w, body, b.len);
	sc_out_ch(g->w, CR);
	if (b.full)
		g->w->full = true;
}

static void group_num(struct gw *g, const char *label, const int64_t *horodate, uint64_t v,
		      int width)
{
	char d[24];
	fmt_uint(d, sizeof d, v, width);
	group(g, label, horodate, d);
}

static const char *const l_easf[10] = {"EASF01", "EASF02", "EASF03", "EASF04", "EASF05",
				       "EASF06", "EASF07", "EASF08", "EASF09", "EASF10"};
static const char *const l_easd[4] = {"EASD01", "EASD02", "EASD03", "EASD04"};
static const char *const l_erq[4] = {"ERQ1", "ERQ2", "ERQ3", "ERQ4"};
static const char *const l_irms[3] = {"IRMS1", "IRMS2", "IRMS3"};
static const char *const l_urms[3] = {"URMS1", "URMS2", "URMS3"};
static const char *const l_umoy[3] = {"UMOY1", "UMOY2", "UMOY3"};
static const char *const l_sinsts[3] = {"SINSTS1", "SINSTS2", "SINSTS3"};
static const char *const l_smaxsn[3] = {"SMAXSN1", "SMAXSN2", "SMAXSN3"};
static const char *const l_smaxsn1[3] = {"SMAXSN1-1", "SMAXSN2-1", "SMAXSN3-1"};

/* Standard mode, labels in the order of Enedis V3 §6.2 (TIC.md table). */
static void frame_standard(struct gw *g, const struct quant *q)
{
	bool tri = q->phases == 3;
	group(g, "ADSC", NULL, q->adsc);
	group(g, "VTIC", NULL, "02");
	group(g, "DATE", &q->t, ""); /* empty data: DATE HT horodate HT HT checksum */
	group(g, "NGTF", NULL, q->ngtf);
	group(g, "LTARF", NULL, q->ltarf);
	group_num(g, "EAST", NULL, q->east, 9);
	for (int i = 0; i < 10; i++)
		group_num(g, l_easf[i], NULL, q->easf[i], 9);
	for (int i = 0; i < 4; i++)
		group_num(g, l_easd[i], NULL, q->easd[i], 9);
	if (q->producer) {
		group_num(g, "EAIT", NULL, q->eait, 9);
		for (int i = 0; i < 4; i++)
			group_num(g, l_erq[i], NULL, q->erq[i], 9);
	}
	for (int ph = 0; ph < q->phases; ph++)
		group_num(g, l_irms[ph], NULL, q->irms[ph], 3);
	for (int ph = 0; ph < q->phases; ph++)
		group_num(g, l_urms[ph], NULL, q->urms[ph], 3);
	group_num(g, "PREF", NULL, q->pref, 2);
	group_num(g, "PCOUP", NULL, q->pcoup, 2);
	group_num(g, "SINSTS", NULL, q->sinsts, 5);
	if (tri)
		for (int ph = 0; ph < 3; ph++)
			group_num(g, l_sinsts[ph], NULL, q->sinsts_ph[ph], 5);
	group_num(g, "SMAXSN", &q->smaxsn_ts[0], q->smaxsn[0], 5);
	if (tri)
		for (int ph = 0; ph < 3; ph++)
			group_num(g, l_smaxsn[ph], &q->smaxsn_ts[1 + ph], q->smaxsn[1 + ph], 5);
	group_num(g, "SMAXSN-1", &q->smaxsn1_ts[0], q->smaxsn1[0], 5);
	if (tri)
		for (int ph = 0; ph < 3; ph++)
			group_num(g, l_smaxsn1[ph], &q->smaxsn1_ts[1 + ph], q->smaxsn1[1 + ph], 5);
	if (q->producer) {
		group_num(g, "SINSTI", NULL, q->sinsti, 5);
		group_num(g, "SMAXIN", &q->smaxin_ts, q->smaxin, 5);
		group_num(g, "SMAXIN-1", &q->smaxin1_ts, q->smaxin1, 5);
	}
	group_num(g, "CCASN", &q->cca_ts, q->ccasn, 5);
	group_num(g, "CCASN-1", &q->cca1_ts, q->ccasn1, 5);
	if (q->producer) {
		group_num(g, "CCAIN", &q->cca_ts, q->ccain, 5);
		group_num(g, "CCAIN-1", &q->cca1_ts, q->ccain1, 5);
	}
	for (int ph = 0; ph < q->phases; ph++)
		group_num(g, l_umoy[ph], &q->umoy_ts, q->umoy[ph], 3);
	char stge[9];
	struct sc_out sw = {stge, sizeof stge - 1, 0, false};
	sc_out_hex(&sw, q->stge, 8);
	stge[sw.len] = '\0';
	group(g, "STGE", NULL, stge);
	group(g, "MSG1", NULL, "PAS DE          MESSAGE         ");
	group(g, "PRM", NULL, q->prm);
	group_num(g, "RELAIS", NULL, q->relay_closed ? 1 : 0, 3);
	group_num(g, "NTARF", NULL, (uint64_t)q->ntarf, 2);
	group_num(g, "NJOURF", NULL, (uint64_t)q->njourf, 2);
	group_num(g, "NJOURF+1", NULL, (uint64_t)q->njourf1, 2);
	group(g, "PJOURF+1", NULL, q->pjourf1);
}

/* Historic mode (1200 baud, TIC.md; corpus historic-mono-base.tic), the
 * same meter and calendar: what a Linky sends before it is switched to
 * standard mode. */
static void frame_historic(struct gw *g, const struct quant *q)
{
	static const char *const ptec_tempo[6] = {"HCJB", "HPJB", "HCJW", "HPJW", "HCJR", "HPJR"};
	static const char *const l_bbr[6] = {"BBRHCJB", "BBRHPJB", "BBRHCJW",
					     "BBRHPJW", "BBRHCJR", "BBRHPJR"};
	static const char *const demain[4] = {"----", "BLEU", "BLAN", "ROUG"};
	static const char *const l_iinst[3] = {"IINST1", "IINST2", "IINST3"};
	static const char *const l_imax[3] = {"IMAX1", "IMAX2", "IMAX3"};
	bool tri = q->phases == 3;
	group(g, "ADCO", NULL, q->adsc);
	switch (q->cal) {
	case SC_TIC_CAL_BASE:
		group(g, "OPTARIF", NULL, "BASE");
		group_num(g, "ISOUSC", NULL, q->isousc, 2);
		group_num(g, "BASE", NULL, q->east, 9);
		group(g, "PTEC", NULL, "TH..");
		break;
	case SC_TIC_CAL_HCHP:
		group(g, "OPTARIF", NULL, "HC..");
		group_num(g, "ISOUSC", NULL, q->isousc, 2);
		group_num(g, "HCHC", NULL, q->easf[0], 9);
		group_num(g, "HCHP", NULL, q->easf[1], 9);
		group(g, "PTEC", NULL, q->ntarf == 1 ? "HC.." : "HP..");
		break;
	default:
		group(g, "OPTARIF", NULL, "BBR(");
		group_num(g, "ISOUSC", NULL, q->isousc, 2);
		for (int i = 0; i < 6; i++)
			group_num(g, l_bbr[i], NULL, q->easf[i], 9);
		group(g, "PTEC", NULL, ptec_tempo[q->ntarf - 1]);
		group(g, "DEMAIN", NULL, demain[q->tempo_tomorrow & 3]);
		break;
	}
	if (tri) {
		for (int ph = 0; ph < 3; ph++)
			group_num(g, l_iinst[ph], NULL, q->irms[ph], 3);
		for (int ph = 0; ph < 3; ph++)
			group_num(g, l_imax[ph], NULL, 60, 3);
		group_num(g, "PMAX", NULL, q->smaxsn[0], 5);
	} else {
		group_num(g, "IINST", NULL, q->irms[0], 3);
		group_num(g, "IMAX", NULL, 90, 3);
	}
	group_num(g, "PAPP", NULL, q->sinsts, 5);
	char hh[2] = {q->hhphc, '\0'};
	group(g, "HHPHC", NULL, hh);
	group(g, "MOTDETAT", NULL, "000000");
	if (tri)
		group(g, "PPOT", NULL, "00");
}

/* ---- expected reading (the rules of tic_map.c, from our own numbers) ---- */

static void fill_expect(const struct quant *q, struct sc_reading *r)
{
	memset(r, 0, sizeof *r);
	r->ts = q->t;
	r->ts_set = true;
	/* TIC.md: P = SINSTS - SINSTI (VA as W), S = SINSTS; no P+ / P-. */
	double injected = q->producer ? (double)q->sinsti : 0.0;
	sc_reading_set(r, SC_RQ_P, (double)q->sinsts - injected);
	sc_reading_set(r, SC_RQ_S, (double)q->sinsts);
	sc_reading_set(r, SC_RQ_E_IMPORT, (double)q->east);
	if (q->producer) {
		sc_reading_set(r, SC_RQ_E_EXPORT, (double)q->eait);
		for (int i = 0; i < 4; i++)
			sc_reading_set(r, (enum sc_rq)(SC_RQ_EQ1 + i), (double)q->erq[i]);
	}
	for (int ph = 0; ph < q->phases; ph++) {
		double s = q->phases == 3 ? (double)q->sinsts_ph[ph] : (double)q->sinsts;
		sc_reading_set_ph(r, ph, SC_PQ_P, s);
		sc_reading_set_ph(r, ph, SC_PQ_S, s);
		sc_reading_set_ph(r, ph, SC_PQ_U, (double)q->urms[ph]);
		sc_reading_set_ph(r, ph, SC_PQ_I, (double)q->irms[ph]);
	}
	r->flavour = SC_FLAVOUR_TIC;
	r->version = 2; /* VTIC 02 */
	memcpy(r->meter_id, q->adsc, sizeof q->adsc);
	r->tariff = q->ntarf;
	r->phases = q->phases;
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

/* 1-64 bytes, none of them STX or '/' (which would open a frame or look
 * like a DSMR telegram) nor an STX with bit 7 set (which the parser takes
 * for a damaged STX when a LF follows), with a NUL, printable and binary
 * bytes. */
static void put_garbage(struct sc_out *w, uint64_t *st)
{
	size_t n = 1 + (size_t)(fault_rand(st) % 64);
	size_t nul = (size_t)(fault_rand(st) % n);
	for (size_t i = 0; i < n; i++) {
		uint64_t r = fault_rand(st);
		char c;
		if (i == nul)
			c = '\0';
		else if (r & 1)
			c = (char)(0x20 + (r >> 8) % 95);
		else
			c = (char)(unsigned char)((r >> 8) & 0xFF);
		if (c == STX || (unsigned char)c == (STX | 0x80) || c == '/')
			c = '.';
		sc_out_ch(w, c);
	}
}

/* Oversize fault: groups of an unknown label, 96 letters and digits of data
 * each, checksums valid, until STX..ETX is longer than the parser's buffer
 * by 1-2048 bytes. Every group is well formed: only the size is wrong. */
static void put_padding(struct gw *g, size_t frame_start)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t want = SC_TIC_BUF_SIZE + 1 + (size_t)(fault_rand(&g->rnd) % 2048);
	char pad[97];
	/* + 1: the ETX still to come */
	while (!g->w->full && g->w->len - frame_start + 1 < want) {
		for (size_t i = 0; i < sizeof pad - 1; i++)
			pad[i] = alnum[fault_rand(&g->rnd) % (sizeof alnum - 1)];
		pad[sizeof pad - 1] = '\0';
		group(g, SC_TIC_PAD_LABEL, NULL, pad);
	}
}

static void write_frame(struct gw *g, const struct quant *q)
{
	size_t start = g->w->len;
	sc_out_ch(g->w, STX);
	if (g->historic)
		frame_historic(g, q);
	else
		frame_standard(g, q);
	if (g->fault == SC_TIC_FAULT_OVERSIZE)
		put_padding(g, start);
	sc_out_ch(g->w, ETX);
}

int sc_tic_gen(const struct sc_meter *m, const struct sc_tic_gen_opts *o, char *buf, size_t cap,
	       struct sc_reading *expect)
{
	if ((unsigned)o->calendar >= SC_TIC_CAL_COUNT || (unsigned)o->fault >= SC_TIC_FAULT_COUNT ||
	    (unsigned)o->total >= SC_TIC_TOTAL_COUNT)
		return SC_ERR_INVAL;
	struct quant q;
	quantise(m, o, &q);
	if (expect)
		fill_expect(&q, expect);

	struct sc_out w = {buf, cap, 0, false};
	uint64_t st = o->fault_seed;
	struct gw g = {&w, o->fault == SC_TIC_FAULT_HISTORIC, 0, 0, o->fault, -1, 0, 0};
	bool per_group = o->fault == SC_TIC_FAULT_BAD_CHECKSUM ||
			 o->fault == SC_TIC_FAULT_TRUNCATED || o->fault == SC_TIC_FAULT_BAD_LENGTH ||
			 o->fault == SC_TIC_FAULT_BIT7;
	if (per_group) {
		/* Count the groups the fault may hit, then pick one. */
		write_frame(&g, &q);
		if (w.full)
			return SC_ERR_RANGE;
		g.target = (int)(fault_rand(&st) % (uint64_t)g.eligible);
		g.rnd = fault_rand(&st);
		g.n = g.eligible = 0;
		w.len = 0;
	}
	if (o->fault == SC_TIC_FAULT_GARBAGE)
		put_garbage(&w, &st);
	if (o->fault == SC_TIC_FAULT_OVERSIZE)
		g.rnd = fault_rand(&st);
	write_frame(&g, &q);
	if (w.full)
		return SC_ERR_RANGE;
	if (o->fault == SC_TIC_FAULT_TRUNCATED) {
		/* Cut inside the chosen group; EOT interrupts the frame (TIC.md). */
		w.len = g.cut;
		sc_out_ch(&w, EOT);
	}
	if (w.full)
		return SC_ERR_RANGE;
	if (w.len < cap)
		buf[w.len] = '\0';
	return (int)w.len;
}

/* ---- line time ---- */

int64_t sc_tic_line_ms(size_t frame_bytes)
{
	/* TIC.md: 9600 baud 7E1, 10 bits a byte: bytes x 10 x 1000 / 9600 ms. */
	const uint64_t per_byte = SC_TIC_BITS_PER_BYTE * 1000u, baud = SC_TIC_BAUD;
	uint64_t n = (uint64_t)frame_bytes;
	if (n > (UINT64_MAX - baud) / per_byte)
		return INT64_MAX;
	uint64_t ms = (n * per_byte + baud - 1) / baud;
	return ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ms;
}

int64_t sc_tic_cadence_ms(size_t frame_bytes)
{
	/* In units of 1/9600 us, so that the line time is exact before the one
	 * rounding up: bytes x 10 x 10^6 + silence_us x 9600. */
	const uint64_t per_byte = SC_TIC_BITS_PER_BYTE * 1000000u, baud = SC_TIC_BAUD;
	const uint64_t silence = (uint64_t)SC_TIC_FRAME_SILENCE_US * baud, unit = 1000u * baud;
	uint64_t n = (uint64_t)frame_bytes;
	if (n > (UINT64_MAX - silence - unit) / per_byte)
		return INT64_MAX;
	uint64_t ms = (n * per_byte + silence + unit - 1) / unit;
	return ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ms;
}

void sc_tic_gen_limits(const struct sc_tic_gen_opts *o, struct sc_meter_limits *lim)
{
	*lim = (struct sc_meter_limits){
		.meter = "TIC",
		.max_w = 99999,
		.max_a = 100,
		.a_step = 1,
		.max_v = 999,
		.max_wh = (double)WH_ROLL,
		.phase_export = false,
		.export = o->producer,
		.tariff = false,
		.tariff_inverted = false,
	};
}
