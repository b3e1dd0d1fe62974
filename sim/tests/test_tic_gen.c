/* The TIC generator (tic_gen.c) and the French registers of the meter model
 * (meter.c): byte format checked with this file's own group reader and
 * checksum (never the parser's), label order and lengths, horodates around
 * the 2025 DST switches, STGE, calendars, counters, faults, lines identical
 * to the field captures (read at run time from SC_CORPUS_DIR/tic), and the
 * round trip generator -> parser -> mapping == the generator's expectation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "civil.h"
#include "meter.h"
#include "sc_error.h"
#include "tic.h"
#include "tic_gen.h"
#include "slurp.h"
#include "tic_test_util.h"

#define TIC_DIR SC_CORPUS_DIR "/tic"

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

static char *buf, *buf2;
static struct tic_recording *rec;

static void setup(void)
{
	buf = malloc(SC_TIC_GEN_MAX + 1);
	buf2 = malloc(SC_TIC_GEN_MAX + 1);
	rec = tic_rec_new();
}

static void teardown(void)
{
	free(buf);
	free(buf2);
	free(rec);
}

TestSuite(tic_gen, .init = setup, .fini = teardown);

static int gen(const struct sc_meter *m, bool producer, enum sc_tic_calendar cal,
	       enum sc_tic_fault fault, uint64_t fseed, char *out, struct sc_reading *expect)
{
	struct sc_tic_gen_opts o = {.producer = producer, .calendar = cal, .fault = fault,
				    .fault_seed = fseed};
	int n = sc_tic_gen(m, &o, out, SC_TIC_GEN_MAX, expect);
	cr_assert_gt(n, 0, "sc_tic_gen(%s, %s, %s) = %d", producer ? "producer" : "consumer",
		     sc_tic_calendar_name(cal), sc_tic_fault_name(fault), n);
	cr_assert_leq(n, SC_TIC_GEN_MAX);
	return n;
}

/* ---- this file's own reading of the bytes ---- */

/* TIC.md: (sum & 0x3F) + 0x20. */
static char my_checksum(const char *s, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)s[i];
	return (char)((sum & 0x3F) + 0x20);
}

#define MAX_GROUPS 120

struct tgroup {
	size_t lf;        /* offset of the LF */
	const char *s;    /* content between LF and CR */
	size_t len;
	char label[16];
	char horodate[16]; /* "" when none */
	const char *data;
	size_t dlen;
	char cs;
	bool cs_ok;       /* checksum matches (standard or historic rule) */
	bool shape_ok;
};

struct tframe {
	int n;
	struct tgroup g[MAX_GROUPS];
	bool stx, etx;
};

/* Standard (sep HT) or historic (sep SP) groups of a frame STX..ETX. */
static void split_frame(const char *f, size_t len, bool historic, struct tframe *t)
{
	memset(t, 0, sizeof *t);
	char sep = historic ? ' ' : '\t';
	t->stx = len > 0 && f[0] == 0x02;
	t->etx = len > 0 && f[len - 1] == 0x03;
	size_t i = 1;
	while (i < len && f[i] == '\n' && t->n < MAX_GROUPS) {
		const char *cr = memchr(f + i, '\r', len - i);
		cr_assert_not_null(cr, "group at %zu without CR", i);
		struct tgroup *g = &t->g[t->n++];
		g->lf = i;
		g->s = f + i + 1;
		g->len = (size_t)(cr - g->s);
		i = (size_t)(cr - f) + 1;
		g->cs = g->s[g->len - 1];
		/* fields: label sep [horodate sep] data sep cs */
		const char *seps[4];
		int ns = 0;
		for (size_t k = 0; k + 1 < g->len && ns < 4; k++)
			if (g->s[k] == sep)
				seps[ns++] = g->s + k;
		if (historic) {
			/* data may not contain SP in what we generate */
			g->shape_ok = ns == 2 && seps[1] == g->s + g->len - 2;
			if (!g->shape_ok)
				continue;
			g->cs_ok = my_checksum(g->s, g->len - 2) == g->cs;
		} else {
			g->shape_ok = (ns == 2 || ns == 3) && seps[ns - 1] == g->s + g->len - 2;
			if (!g->shape_ok)
				continue;
			g->cs_ok = my_checksum(g->s, g->len - 1) == g->cs;
		}
		size_t ll = (size_t)(seps[0] - g->s);
		memcpy(g->label, g->s, ll < 15 ? ll : 15);
		if (ns == 3) {
			size_t hl = (size_t)(seps[1] - seps[0] - 1);
			memcpy(g->horodate, seps[0] + 1, hl < 15 ? hl : 15);
		}
		g->data = seps[ns - 2] + 1;
		g->dlen = (size_t)(seps[ns - 1] - g->data);
	}
}

static const struct tgroup *find(const struct tframe *t, const char *label)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->g[i].label, label) == 0)
			return &t->g[i];
	return NULL;
}

static bool has(const struct tframe *t, const char *label)
{
	return find(t, label) != NULL;
}

static uint64_t num(const struct tframe *t, const char *label)
{
	const struct tgroup *g = find(t, label);
	cr_assert_not_null(g, "no %s", label);
	uint64_t v = 0;
	for (size_t i = 0; i < g->dlen; i++) {
		cr_assert(g->data[i] >= '0' && g->data[i] <= '9', "%s not decimal", label);
		v = v * 10 + (uint64_t)(g->data[i] - '0');
	}
	return v;
}

static uint32_t stge(const struct tframe *t)
{
	const struct tgroup *g = find(t, "STGE");
	cr_assert_not_null(g);
	cr_assert_eq(g->dlen, 8);
	uint32_t v = 0;
	for (size_t i = 0; i < 8; i++) {
		char c = g->data[i];
		cr_assert((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'), "STGE upper-case hex");
		v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10);
	}
	return v;
}

/* Horodate to UTC epoch, this file's way. */
static int64_t horodate_epoch(const char *h)
{
	cr_assert_eq(strlen(h), 13, "horodate %s", h);
	cr_assert(h[0] == 'H' || h[0] == 'E');
	int v[6];
	for (int i = 0; i < 6; i++)
		v[i] = (h[1 + 2 * i] - '0') * 10 + (h[2 + 2 * i] - '0');
	return utc(2000 + v[0], v[1], v[2], v[3], v[4], v[5]) - (h[0] == 'E' ? 7200 : 3600);
}

/* Spec lengths (TIC.md table), written out here independently of the parser. */
static const struct {
	const char *label;
	size_t len;
	bool horodate;
} spec[] = {
	{"ADSC", 12, false},     {"VTIC", 2, false},      {"DATE", 0, true},
	{"NGTF", 16, false},     {"LTARF", 16, false},    {"EAST", 9, false},
	{"EASF01", 9, false},    {"EASF02", 9, false},    {"EASF03", 9, false},
	{"EASF04", 9, false},    {"EASF05", 9, false},    {"EASF06", 9, false},
	{"EASF07", 9, false},    {"EASF08", 9, false},    {"EASF09", 9, false},
	{"EASF10", 9, false},    {"EASD01", 9, false},    {"EASD02", 9, false},
	{"EASD03", 9, false},    {"EASD04", 9, false},    {"EAIT", 9, false},
	{"ERQ1", 9, false},      {"ERQ2", 9, false},      {"ERQ3", 9, false},
	{"ERQ4", 9, false},      {"IRMS1", 3, false},     {"IRMS2", 3, false},
	{"IRMS3", 3, false},     {"URMS1", 3, false},     {"URMS2", 3, false},
	{"URMS3", 3, false},     {"PREF", 2, false},      {"PCOUP", 2, false},
	{"SINSTS", 5, false},    {"SINSTS1", 5, false},   {"SINSTS2", 5, false},
	{"SINSTS3", 5, false},   {"SMAXSN", 5, true},     {"SMAXSN1", 5, true},
	{"SMAXSN2", 5, true},    {"SMAXSN3", 5, true},    {"SMAXSN-1", 5, true},
	{"SMAXSN1-1", 5, true},  {"SMAXSN2-1", 5, true},  {"SMAXSN3-1", 5, true},
	{"SINSTI", 5, false},    {"SMAXIN", 5, true},     {"SMAXIN-1", 5, true},
	{"CCASN", 5, true},      {"CCASN-1", 5, true},    {"CCAIN", 5, true},
	{"CCAIN-1", 5, true},    {"UMOY1", 3, true},      {"UMOY2", 3, true},
	{"UMOY3", 3, true},      {"STGE", 8, false},      {"MSG1", 32, false},
	{"PRM", 14, false},      {"RELAIS", 3, false},    {"NTARF", 2, false},
	{"NJOURF", 2, false},    {"NJOURF+1", 2, false},  {"PJOURF+1", 98, false},
};

/* The labels a frame must carry, in order (TIC.md table order). */
static int expected_labels(int phases, bool producer, const char **out)
{
	int n = 0;
	bool tri = phases == 3;
	static const char *const head[] = {"ADSC",   "VTIC",   "DATE",   "NGTF",   "LTARF",
					   "EAST",   "EASF01", "EASF02", "EASF03", "EASF04",
					   "EASF05", "EASF06", "EASF07", "EASF08", "EASF09",
					   "EASF10", "EASD01", "EASD02", "EASD03", "EASD04"};
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		out[n++] = head[i];
	if (producer) {
		static const char *const p[] = {"EAIT", "ERQ1", "ERQ2", "ERQ3", "ERQ4"};
		for (int i = 0; i < 5; i++)
			out[n++] = p[i];
	}
	static const char *const irms[] = {"IRMS1", "IRMS2", "IRMS3"};
	static const char *const urms[] = {"URMS1", "URMS2", "URMS3"};
	for (int i = 0; i < phases; i++)
		out[n++] = irms[i];
	for (int i = 0; i < phases; i++)
		out[n++] = urms[i];
	out[n++] = "PREF";
	out[n++] = "PCOUP";
	out[n++] = "SINSTS";
	if (tri) {
		out[n++] = "SINSTS1";
		out[n++] = "SINSTS2";
		out[n++] = "SINSTS3";
	}
	out[n++] = "SMAXSN";
	if (tri) {
		out[n++] = "SMAXSN1";
		out[n++] = "SMAXSN2";
		out[n++] = "SMAXSN3";
	}
	out[n++] = "SMAXSN-1";
	if (tri) {
		out[n++] = "SMAXSN1-1";
		out[n++] = "SMAXSN2-1";
		out[n++] = "SMAXSN3-1";
	}
	if (producer) {
		out[n++] = "SINSTI";
		out[n++] = "SMAXIN";
		out[n++] = "SMAXIN-1";
	}
	out[n++] = "CCASN";
	out[n++] = "CCASN-1";
	if (producer) {
		out[n++] = "CCAIN";
		out[n++] = "CCAIN-1";
	}
	static const char *const umoy[] = {"UMOY1", "UMOY2", "UMOY3"};
	for (int i = 0; i < phases; i++)
		out[n++] = umoy[i];
	static const char *const tail[] = {"STGE",  "MSG1",   "PRM",      "RELAIS",
					   "NTARF", "NJOURF", "NJOURF+1", "PJOURF+1"};
	for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
		out[n++] = tail[i];
	return n;
}

static const enum sc_profile profiles[] = {SC_PROFILE_HOUSEHOLD, SC_PROFILE_PV,
					   SC_PROFILE_PV_EV, SC_PROFILE_EV};

/* Every group well formed, checksum right, label known with its length and
 * horodate, horodates valid. */
static void check_frame_format(const char *f, size_t len, int phases, bool producer)
{
	struct tframe *t = malloc(sizeof *t);
	split_frame(f, len, false, t);
	cr_assert(t->stx && t->etx, "STX .. ETX");
	const char *want[MAX_GROUPS];
	int nw = expected_labels(phases, producer, want);
	cr_assert_eq(t->n, nw, "%d groups, want %d", t->n, nw);
	size_t pos = 1;
	for (int i = 0; i < t->n; i++) {
		const struct tgroup *g = &t->g[i];
		cr_assert_eq(g->lf, pos, "groups follow each other");
		pos = g->lf + g->len + 2;
		cr_assert(g->shape_ok, "group %d shape", i);
		cr_assert(g->cs_ok, "group %s checksum", g->label);
		cr_assert_str_eq(g->label, want[i], "label %d", i);
		bool found = false;
		for (size_t k = 0; k < sizeof spec / sizeof spec[0]; k++) {
			if (strcmp(spec[k].label, g->label) != 0)
				continue;
			found = true;
			cr_assert_eq(g->dlen, spec[k].len, "%s length %zu", g->label, g->dlen);
			cr_assert_eq(g->horodate[0] != '\0', spec[k].horodate, "%s horodate", g->label);
		}
		cr_assert(found, "%s in the spec table", g->label);
		if (g->horodate[0])
			(void)horodate_epoch(g->horodate);
		for (size_t k = 0; k < g->len; k++)
			cr_assert((unsigned char)g->s[k] < 0x80 && g->s[k] != '\n');
	}
	cr_assert_eq(pos, len - 1, "ETX right after the last CR");
	free(t);
}

/* ---- names ---- */

Test(tic_gen, names)
{
	static const char *const fn[] = {"none",       "bad-checksum", "truncated", "garbage",
					 "bad-length", "bit7",         "historic",  "oversize"};
	cr_assert_eq(sizeof fn / sizeof fn[0], SC_TIC_FAULT_COUNT);
	for (int i = 0; i < SC_TIC_FAULT_COUNT; i++) {
		cr_assert_str_eq(sc_tic_fault_name((enum sc_tic_fault)i), fn[i]);
		cr_assert_eq(sc_tic_fault_from_name(fn[i]), i);
	}
	cr_assert_eq(sc_tic_fault_from_name("bad_checksum"), -1);
	cr_assert_eq(sc_tic_fault_from_name(NULL), -1);
	cr_assert_str_eq(sc_tic_fault_name(SC_TIC_FAULT_COUNT), "?");
	static const char *const cn[] = {"base", "hchp", "tempo"};
	for (int i = 0; i < SC_TIC_CAL_COUNT; i++) {
		cr_assert_str_eq(sc_tic_calendar_name((enum sc_tic_calendar)i), cn[i]);
		cr_assert_eq(sc_tic_calendar_from_name(cn[i]), i);
	}
	cr_assert_eq(sc_tic_calendar_from_name("ejp"), -1);
	cr_assert_eq(sc_tic_calendar_from_name(NULL), -1);
	static const char *const tn[] = {"sum", "net"};
	cr_assert_eq(sizeof tn / sizeof tn[0], SC_TIC_TOTAL_COUNT);
	for (int i = 0; i < SC_TIC_TOTAL_COUNT; i++) {
		cr_assert_str_eq(sc_tic_total_name((enum sc_tic_total)i), tn[i]);
		cr_assert_eq(sc_tic_total_from_name(tn[i]), i);
	}
	cr_assert_eq(sc_tic_total_from_name("netted"), -1);
	cr_assert_eq(sc_tic_total_from_name(NULL), -1);
	cr_assert_str_eq(sc_tic_total_name(SC_TIC_TOTAL_COUNT), "?");
}

Test(tic_gen, bad_options_and_small_buffer)
{
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_PV, 1, 1, utc(2025, 5, 1, 10, 0, 0));
	struct sc_tic_gen_opts o = {.calendar = SC_TIC_CAL_COUNT};
	cr_assert_eq(sc_tic_gen(&m, &o, buf, SC_TIC_GEN_MAX, NULL), SC_ERR_INVAL);
	o.calendar = SC_TIC_CAL_BASE;
	o.fault = SC_TIC_FAULT_COUNT;
	cr_assert_eq(sc_tic_gen(&m, &o, buf, SC_TIC_GEN_MAX, NULL), SC_ERR_INVAL);
	o.fault = SC_TIC_FAULT_NONE;
	o.total = SC_TIC_TOTAL_COUNT;
	cr_assert_eq(sc_tic_gen(&m, &o, buf, SC_TIC_GEN_MAX, NULL), SC_ERR_INVAL);
	o.total = SC_TIC_TOTAL_SUM;
	int n = sc_tic_gen(&m, &o, buf, SC_TIC_GEN_MAX, NULL);
	cr_assert_gt(n, 0);
	cr_assert_eq(buf[n], '\0');
	cr_assert_eq(sc_tic_gen(&m, &o, buf2, (size_t)n - 1, NULL), SC_ERR_RANGE);
	cr_assert_eq(sc_tic_gen(&m, &o, buf2, (size_t)n, NULL), n, "exactly fits, no NUL");
	cr_assert(memcmp(buf, buf2, (size_t)n) == 0);
}

/* ---- determinism ---- */

Test(tic_gen, determinism)
{
	for (uint64_t seed = 1; seed <= 6; seed++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			struct sc_meter a, b, c;
			int64_t t0 = utc(2025, 1, 14, 4, 0, 0);
			meter_at(&a, SC_PROFILE_PV_EV, phases, seed, t0);
			meter_at(&b, SC_PROFILE_PV_EV, phases, seed, t0);
			meter_at(&c, SC_PROFILE_PV_EV, phases, seed + 100, t0);
			for (int64_t t = t0; t < t0 + 86400; t += 311) {
				sc_meter_advance(&a, t);
				sc_meter_advance(&b, t);
				sc_meter_advance(&c, t);
			}
			cr_assert(memcmp(&a, &b, sizeof a) == 0, "same seed, same times, same meter");
			for (int cal = 0; cal < SC_TIC_CAL_COUNT; cal++) {
				for (int f = 0; f < SC_TIC_FAULT_COUNT; f++) {
					int na = gen(&a, seed & 1, (enum sc_tic_calendar)cal,
						     (enum sc_tic_fault)f, seed, buf, NULL);
					int nb = gen(&b, seed & 1, (enum sc_tic_calendar)cal,
						     (enum sc_tic_fault)f, seed, buf2, NULL);
					cr_assert_eq(na, nb);
					cr_assert(memcmp(buf, buf2, (size_t)na) == 0);
				}
			}
			struct tframe *ta = malloc(sizeof *ta), *tc = malloc(sizeof *tc);
			int na = gen(&a, true, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf, NULL);
			int nc = gen(&c, true, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf2, NULL);
			split_frame(buf, (size_t)na, false, ta);
			split_frame(buf2, (size_t)nc, false, tc);
			const struct tgroup *ga = find(ta, "ADSC"), *gc = find(tc, "ADSC");
			cr_assert(memcmp(ga->data, gc->data, 12) != 0, "another seed, another ADSC");
			cr_assert(memcmp(find(ta, "PRM")->data, find(tc, "PRM")->data, 14) != 0);
			free(ta);
			free(tc);
		}
	}
}

/* ---- format ---- */

Test(tic_gen, format_labels_lengths_checksums)
{
	for (uint64_t seed = 1; seed <= 5; seed++) {
		for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++) {
			for (int phases = 1; phases <= 3; phases += 2) {
				struct sc_meter m;
				int64_t t = utc(2025, 7, 3, 1, 0, 0) + (int64_t)seed * 7777;
				meter_at(&m, profiles[p], phases, seed, t);
				for (int step = 0; step < 6; step++) {
					t += 4 * 3600 + 17;
					sc_meter_advance(&m, t);
					for (int prod = 0; prod < 2; prod++)
						for (int cal = 0; cal < SC_TIC_CAL_COUNT; cal++) {
							int n = gen(&m, prod, (enum sc_tic_calendar)cal,
								    SC_TIC_FAULT_NONE, 0, buf, NULL);
							check_frame_format(buf, (size_t)n, phases, prod);
						}
				}
			}
		}
	}
}

Test(tic_gen, mono_tri_and_producer_label_sets)
{
	static const char *const tri_only[] = {"IRMS2",     "IRMS3",     "URMS2",   "URMS3",
					       "SINSTS1",   "SINSTS2",   "SINSTS3", "SMAXSN1",
					       "SMAXSN2",   "SMAXSN3",   "SMAXSN1-1", "SMAXSN2-1",
					       "SMAXSN3-1", "UMOY2",     "UMOY3"};
	static const char *const producer_only[] = {"EAIT",   "ERQ1",     "ERQ2",  "ERQ3",
						    "ERQ4",   "SINSTI",   "SMAXIN", "SMAXIN-1",
						    "CCAIN",  "CCAIN-1"};
	struct tframe *t = malloc(sizeof *t);
	for (int phases = 1; phases <= 3; phases += 2) {
		for (int prod = 0; prod < 2; prod++) {
			struct sc_meter m;
			meter_at(&m, SC_PROFILE_PV, phases, 3, utc(2025, 6, 1, 11, 0, 0));
			int n = gen(&m, prod, SC_TIC_CAL_HCHP, SC_TIC_FAULT_NONE, 0, buf, NULL);
			split_frame(buf, (size_t)n, false, t);
			for (size_t i = 0; i < sizeof tri_only / sizeof tri_only[0]; i++)
				cr_assert_eq(has(t, tri_only[i]), phases == 3, "%s", tri_only[i]);
			for (size_t i = 0; i < sizeof producer_only / sizeof producer_only[0]; i++)
				cr_assert_eq(has(t, producer_only[i]), prod == 1, "%s", producer_only[i]);
			cr_assert(has(t, "SINSTS") && has(t, "SMAXSN") && has(t, "IRMS1"));
			/* ADSC characters 5-6: meter type by phase count (TIC.md). */
			const struct tgroup *a = find(t, "ADSC");
			char type[3] = {a->data[4], a->data[5], '\0'};
			if (phases == 3)
				cr_assert(strstr("63 71 76", type), "tri type %s", type);
			else
				cr_assert(strstr("61 62 64 70 75", type), "mono type %s", type);
			/* No pilot-meter, mobile-peak or MSG2 groups. */
			cr_assert_not(has(t, "SINST1") || has(t, "DPM1") || has(t, "MSG2") ||
				      has(t, "PPOINTE"));
		}
	}
	free(t);
}

/* DATE carries its horodate and an EMPTY data field (TIC.md). */
Test(tic_gen, date_group_has_empty_data)
{
	struct sc_meter m;
	/* 2025-03-07 13:43:49 local (UTC+1), as in the producer capture. */
	meter_at(&m, SC_PROFILE_HOUSEHOLD, 1, 1, utc(2025, 3, 7, 12, 43, 49));
	int n = gen(&m, false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf, NULL);
	const char *want = "\nDATE\tH250307134349\t\tJ\r";
	cr_assert_not_null(strstr(buf, want), "DATE group byte-exact");
	struct tframe *t = malloc(sizeof *t);
	split_frame(buf, (size_t)n, false, t);
	const struct tgroup *g = find(t, "DATE");
	cr_assert_eq(g->dlen, 0);
	cr_assert_str_eq(g->horodate, "H250307134349");
	free(t);
}

/* Horodate season letter around the 2025 switches: summer time from
 * 30 March 01:00 UTC to 26 October 01:00 UTC. */
Test(tic_gen, horodate_season_at_dst_switches)
{
	static const struct {
		int64_t t;
		const char *h;
	} cases[] = {
		{1743296399, "H250330015959"}, /* 2025-03-30 00:59:59 UTC */
		{1743296400, "E250330030000"}, /* 01:00:00 UTC: clocks jump 02:00 -> 03:00 */
		{1743296401, "E250330030001"},
		{1761440399, "E251026025959"}, /* 2025-10-26 00:59:59 UTC */
		{1761440400, "H251026020000"}, /* 01:00:00 UTC: 03:00 -> 02:00 again */
		{1761438600, "E251026023000"}, /* the first 02:30 ... */
		{1761442200, "H251026023000"}, /* ... and the second */
		{1735689600, "H250101010000"},
		{1751328000, "E250701020000"},
	};
	cr_assert_eq(utc(2025, 3, 30, 1, 0, 0), 1743296400);
	cr_assert_eq(utc(2025, 10, 26, 1, 0, 0), 1761440400);
	struct tframe *t = malloc(sizeof *t);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_meter m;
		meter_at(&m, SC_PROFILE_PV, 3, 5, cases[i].t);
		struct sc_reading want;
		int n = gen(&m, true, SC_TIC_CAL_TEMPO, SC_TIC_FAULT_NONE, 0, buf, &want);
		split_frame(buf, (size_t)n, false, t);
		cr_assert_str_eq(find(t, "DATE")->horodate, cases[i].h);
		cr_assert_eq(horodate_epoch(cases[i].h), cases[i].t);
		cr_assert_eq(want.ts, cases[i].t);
		/* Every horodate of the frame uses the season of its own instant. */
		for (int k = 0; k < t->n; k++) {
			if (!t->g[k].horodate[0])
				continue;
			int64_t e = horodate_epoch(t->g[k].horodate);
			cr_assert_eq(t->g[k].horodate[0], sc_eu_summer_time(e) ? 'E' : 'H', "%s %s",
				     t->g[k].label, t->g[k].horodate);
			cr_assert_leq(e, cases[i].t, "%s in the past", t->g[k].label);
		}
		tic_feed(buf, (size_t)n, 0, 0, rec);
		cr_assert_eq(rec->n, 1);
		cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAME, "%s", rec->ev[0].detail);
		cr_assert_eq(rec->ev[0].reading.ts, cases[i].t);
	}
	free(t);
}

/* A group whose checksum is a space exists and is written as such: the
 * checksum byte is never trimmed. */
Test(tic_gen, checksum_can_be_a_space)
{
	struct tframe *t = malloc(sizeof *t);
	int found = 0;
	for (uint64_t seed = 1; seed <= 40 && found < 3; seed++) {
		struct sc_meter m;
		meter_at(&m, SC_PROFILE_PV_EV, seed % 2 ? 1 : 3, seed, utc(2025, 2, 10, 9, 0, 0));
		for (int step = 0; step < 24 && found < 3; step++) {
			sc_meter_advance(&m, m.t + 3607);
			int n = gen(&m, seed % 3 != 0, (enum sc_tic_calendar)(seed % 3),
				    SC_TIC_FAULT_NONE, 0, buf, NULL);
			split_frame(buf, (size_t)n, false, t);
			for (int k = 0; k < t->n; k++) {
				if (t->g[k].cs != ' ')
					continue;
				cr_assert(t->g[k].cs_ok, "%s", t->g[k].label);
				cr_assert_eq(t->g[k].s[t->g[k].len - 2], '\t');
				cr_assert_eq(t->g[k].s[t->g[k].len], '\r');
				tic_feed(buf, (size_t)n, 0, 1, rec);
				cr_assert_eq(rec->n, 1);
				cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAME, "space checksum on %s: %s",
					     t->g[k].label, rec->ev[0].detail);
				found++;
				break;
			}
		}
	}
	cr_assert_geq(found, 3, "frames with a space checksum found");
	/* And the capture's own example, rebuilt: SMAXSN-1 H250316044335 06731 -> ' '. */
	const char *g = "SMAXSN-1\tH250316044335\t06731\t";
	cr_assert_eq(my_checksum(g, strlen(g)), ' ');
	free(t);
}

/* ---- values ---- */

/* VA rule, per-phase semantics and peaks (tic_gen.h). */
Test(tic_gen, power_semantics)
{
	struct tframe *t = malloc(sizeof *t);
	int exporting = 0, mixed = 0;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			struct sc_meter m;
			int64_t t0 = utc(2025, 6, 10, 3, 0, 0);
			meter_at(&m, SC_PROFILE_PV_EV, phases, seed, t0);
			for (int64_t tt = t0; tt < t0 + 2 * 86400; tt += 1201) {
				sc_meter_advance(&m, tt);
				for (int prod = 0; prod < 2; prod++) {
					int n = gen(&m, prod, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf,
						    NULL);
					split_frame(buf, (size_t)n, false, t);
					static const char *const sl[] = {"SINSTS1", "SINSTS2", "SINSTS3"};
					static const char *const ul[] = {"URMS1", "URMS2", "URMS3"};
					static const char *const il[] = {"IRMS1", "IRMS2", "IRMS3"};
					uint64_t sum = 0, inj = 0;
					for (int ph = 0; ph < phases; ph++) {
						uint64_t u = num(t, ul[ph]), i = num(t, il[ph]);
						double va = m.voltage[ph] * m.current[ph];
						uint64_t s = phases == 3 ? num(t, sl[ph]) : num(t, "SINSTS");
						if (m.export_w[ph] > 0) {
							cr_assert_eq(s, 0, "exporting phase draws 0 VA");
							inj += (uint64_t)floor(va + 0.5);
						} else {
							cr_assert(fabs((double)s - va) <= 0.5 + 1e-9);
						}
						cr_assert(fabs(va - (double)(u * i)) <=
							  (double)u / 2 + (double)i / 2 + 2,
							  "S %.1f vs U %llu x I %llu", va,
							  (unsigned long long)u, (unsigned long long)i);
						sum += s;
					}
					cr_assert_eq(num(t, "SINSTS"), sum);
					if (prod)
						cr_assert_eq(num(t, "SINSTI"), inj);
					bool exp_now = sc_meter_net_w(&m) < 0;
					cr_assert_eq((stge(t) >> 9) & 1u, exp_now ? 1u : 0u, "bit 9");
					exporting += exp_now;
					mixed += prod && sum > 0 && inj > 0;
					cr_assert_geq(num(t, "SMAXSN"), num(t, "SINSTS"));
					int64_t hs = horodate_epoch(find(t, "SMAXSN")->horodate);
					int64_t h1 = horodate_epoch(find(t, "SMAXSN-1")->horodate);
					int64_t day = (tt + sc_meter_utc_offset(tt)) / 86400;
					cr_assert_eq((hs + sc_meter_utc_offset(hs)) / 86400, day, "today");
					cr_assert_eq((h1 + sc_meter_utc_offset(h1)) / 86400, day - 1,
						     "yesterday");
					if (phases == 3)
						for (int ph = 0; ph < 3; ph++) {
							static const char *const xl[] = {"SMAXSN1", "SMAXSN2",
											 "SMAXSN3"};
							cr_assert_geq(num(t, xl[ph]), num(t, sl[ph]));
						}
					if (prod)
						cr_assert_geq(num(t, "SMAXIN"), num(t, "SINSTI"));
					int64_t cc = horodate_epoch(find(t, "CCASN")->horodate);
					int64_t c1 = horodate_epoch(find(t, "CCASN-1")->horodate);
					cr_assert(cc % 1800 == 0 && cc <= tt && tt - cc < 1800);
					cr_assert_eq(c1, cc - 1800);
					int64_t um = horodate_epoch(find(t, "UMOY1")->horodate);
					cr_assert(um % 600 == 0 && um <= tt && tt - um < 600);
					cr_assert(labs((long)num(t, "UMOY1") - (long)num(t, "URMS1")) <= 12);
					cr_assert_eq(num(t, "PREF"), num(t, "PCOUP"));
				}
			}
		}
	}
	cr_assert_gt(exporting, 10, "PV meters export now and then");
	cr_assert_gt(mixed, 0, "a three-phase meter drawing on one phase, exporting on another");
	free(t);
}

/* A consumer-mode meter exporting: 0 VA drawn, no SINSTI, bit 9 set,
 * nothing counted. */
Test(tic_gen, consumer_meter_exporting)
{
	struct tframe *t = malloc(sizeof *t);
	int seen = 0;
	for (uint64_t seed = 1; seed <= 10 && seen < 5; seed++) {
		struct sc_meter m;
		meter_at(&m, SC_PROFILE_PV, 1, seed, utc(2025, 6, 21, 9, 0, 0));
		for (int i = 0; i < 30; i++) {
			uint64_t east0 = 0;
			int n = gen(&m, false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf, NULL);
			split_frame(buf, (size_t)n, false, t);
			east0 = num(t, "EAST");
			bool exporting = m.export_w[0] > 0;
			sc_meter_advance(&m, m.t + 60);
			if (!exporting)
				continue;
			struct sc_reading want;
			n = gen(&m, false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf, &want);
			split_frame(buf, (size_t)n, false, t);
			if (m.export_w[0] <= 0)
				continue;
			seen++;
			cr_assert_eq(num(t, "SINSTS"), 0);
			cr_assert_not(has(t, "SINSTI"));
			cr_assert_eq(stge(t) & (3u << 8), 1u << 9, "not producer, injecting");
			cr_assert_eq(num(t, "EAST"), east0, "an exporting minute counts nothing");
			cr_assert_eq(want.q[SC_RQ_P].v, 0);
			cr_assert_not(want.q[SC_RQ_P_MINUS].set);
			cr_assert_not(want.q[SC_RQ_E_EXPORT].set);
		}
	}
	cr_assert_geq(seen, 5);
	free(t);
}

/* Summing and netting meters (tic_gen.h, sc_tic_total) in the same state:
 * the same per-phase values, totals that differ exactly as the rule says,
 * and through the parser and the mapping the reading each kind's expect
 * gives: P = SINSTS - SINSTI is the net either way (the device's total
 * active power, negative on export), S is the SINSTS each meter sends, the
 * phases are SINSTSn (0 W while exporting). A single-phase meter is the
 * same byte for byte. */
static void expect_one_frame(const char *data, size_t len, size_t chunk,
			     const struct sc_reading *want, const char *what);

Test(tic_gen, netting_and_summing_meters, .timeout = 300)
{
	struct tframe *ts = malloc(sizeof *ts), *tn = malloc(sizeof *tn);
	static const char *const sl[] = {"SINSTS1", "SINSTS2", "SINSTS3"};
	int mixed = 0, net_export = 0, frames = 0;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			struct sc_meter m;
			int64_t t0 = utc(2025, 6, 10, 3, 0, 0);
			meter_at(&m, SC_PROFILE_PV_EV, phases, seed, t0);
			for (int64_t tt = t0; tt < t0 + 2 * 86400; tt += 1801) {
				sc_meter_advance(&m, tt);
				for (int prod = 0; prod < 2; prod++) {
					struct sc_tic_gen_opts o = {.producer = prod};
					struct sc_reading want_s, want_n;
					int ns = sc_tic_gen(&m, &o, buf, SC_TIC_GEN_MAX, &want_s);
					o.total = SC_TIC_TOTAL_NET;
					int nn = sc_tic_gen(&m, &o, buf2, SC_TIC_GEN_MAX, &want_n);
					cr_assert(ns > 0 && nn > 0);
					if (phases == 1) {
						cr_assert(ns == nn && memcmp(buf, buf2, (size_t)ns) == 0,
							  "single phase: the same frame");
						continue;
					}
					split_frame(buf, (size_t)ns, false, ts);
					split_frame(buf2, (size_t)nn, false, tn);
					uint64_t drawn = 0;
					for (int ph = 0; ph < 3; ph++) {
						cr_assert_eq(num(tn, sl[ph]), num(ts, sl[ph]));
						drawn += num(ts, sl[ph]);
					}
					cr_assert_eq(num(ts, "SINSTS"), drawn, "summing: SINSTS = sum");
					/* The exporting phases' S, which a consumer-mode
					 * meter shows nowhere but still nets. */
					uint64_t inj = 0;
					for (int ph = 0; ph < 3; ph++)
						if (m.export_w[ph] > 0)
							inj += (uint64_t)floor(m.voltage[ph] * m.current[ph] +
									       0.5);
					if (prod)
						cr_assert_eq(num(ts, "SINSTI"), inj);
					uint64_t n_s = num(tn, "SINSTS"), n_i = prod ? num(tn, "SINSTI") : 0;
					cr_assert_eq(n_s, drawn > inj ? drawn - inj : 0, "netting: SINSTS");
					if (prod) {
						cr_assert_eq(n_i, inj > drawn ? inj - drawn : 0,
							     "netting: SINSTI");
						cr_assert((double)n_s - (double)n_i ==
							  (double)drawn - (double)inj);
					} else {
						cr_assert_not(has(tn, "SINSTI"));
					}
					mixed += prod && drawn > 0 && inj > 0 && n_s != drawn;
					net_export += prod && n_i > 0;
					/* Only the totals differ: the rest of the frame is the same. */
					cr_assert_eq(ts->n, tn->n);
					for (int k = 0; k < ts->n; k++) {
						const char *l = ts->g[k].label;
						if (strcmp(l, "SINSTS") && strcmp(l, "SINSTI") &&
						    strcmp(l, "SMAXSN") && strcmp(l, "SMAXIN") &&
						    strcmp(l, "STGE"))
							cr_assert(ts->g[k].len == tn->g[k].len &&
								  memcmp(ts->g[k].s, tn->g[k].s,
									 ts->g[k].len) == 0,
								  "%s differs", l);
					}
					/* gen -> parse -> values, for both kinds. */
					expect_one_frame(buf, (size_t)ns, 0, &want_s, "summing");
					expect_one_frame(buf2, (size_t)nn, 0, &want_n, "netting");
					if (prod)
						cr_assert_eq(want_n.q[SC_RQ_P].v, want_s.q[SC_RQ_P].v,
							     "P is the net either way (producer)");
					cr_assert_eq(want_n.q[SC_RQ_S].v, (double)n_s);
					for (int ph = 0; ph < 3; ph++)
						cr_assert_eq(want_n.ph[ph][SC_PQ_P].v,
							     (double)num(tn, sl[ph]));
					frames++;
				}
			}
		}
	}
	cr_assert_gt(frames, 100);
	cr_assert_gt(mixed, 0, "a netting meter drawing on one phase, exporting on another");
	cr_assert_gt(net_export, 0, "a netting meter exporting in total");
	free(ts);
	free(tn);
}

Test(tic_gen, stge_bits)
{
	struct tframe *t = malloc(sizeof *t);
	for (uint64_t seed = 1; seed <= 4; seed++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			struct sc_meter m;
			int64_t t0 = utc(2025, 1, 5, 0, 0, 0);
			meter_at(&m, SC_PROFILE_PV, phases, seed, t0);
			for (int64_t tt = t0; tt < t0 + 3 * 86400; tt += 1800 + 7) {
				sc_meter_advance(&m, tt);
				for (int prod = 0; prod < 2; prod++) {
					for (int cal = 0; cal < SC_TIC_CAL_COUNT; cal++) {
						int n = gen(&m, prod, (enum sc_tic_calendar)cal,
							    SC_TIC_FAULT_NONE, 0, buf, NULL);
						split_frame(buf, (size_t)n, false, t);
						uint32_t s = stge(t);
						cr_assert(s & (1u << 17), "TIC standard mode");
						cr_assert_eq((s >> 8) & 1u, (uint32_t)prod, "producer");
						cr_assert_eq((s >> 9) & 1u, sc_meter_net_w(&m) < 0 ? 1u : 0u);
						cr_assert_eq(((s >> 10) & 15u) + 1, num(t, "NTARF"));
						cr_assert_eq(s & 1u, num(t, "RELAIS") & 1u ? 0u : 1u,
							     "dry contact open = relay 1 open");
						cr_assert_eq((s >> 1) & 7u, 0, "cut-off device closed");
						cr_assert_eq((s >> 16) & 1u, 0, "clock fine");
						bool off = sc_meter_fr_offpeak(tt);
						bool high = sc_meter_fr_high_season(tt);
						uint32_t dist = ((s >> 14) & 3u) + 1;
						if (cal == SC_TIC_CAL_BASE)
							cr_assert_eq(dist, 1);
						else
							cr_assert_eq(dist, (high ? 2u : 0u) + (off ? 1u : 2u));
						if (cal == SC_TIC_CAL_TEMPO) {
							cr_assert_eq((s >> 24) & 3u, num(t, "NJOURF"));
							cr_assert_eq((s >> 26) & 3u, num(t, "NJOURF+1"));
							cr_assert_neq((s >> 24) & 3u, 0, "today known");
						} else {
							cr_assert_eq(s >> 24, 0, "no Tempo colours");
						}
						cr_assert_eq((s >> 7) & 1u,
							     num(t, "SINSTS") > num(t, "PREF") * 1000 ? 1u : 0u);
					}
				}
			}
		}
	}
	free(t);
}

/* ---- calendars ---- */

static void local_civil(int64_t t, struct sc_civil *c)
{
	sc_epoch_to_civil(t + sc_meter_utc_offset(t), c);
}

Test(tic_gen, calendars)
{
	struct tframe *t = malloc(sizeof *t);
	struct sc_meter m;
	int64_t t0 = utc(2025, 1, 6, 0, 0, 0);
	meter_at(&m, SC_PROFILE_HOUSEHOLD, 1, 9, t0);
	int hc = 0, hp = 0;
	for (int64_t tt = t0; tt < t0 + 4 * 86400; tt += 1800) {
		sc_meter_advance(&m, tt);
		struct sc_civil c;
		local_civil(tt, &c);
		bool off = c.hour >= 22 || c.hour < 6;
		int n = gen(&m, false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf, NULL);
		split_frame(buf, (size_t)n, false, t);
		cr_assert_eq(num(t, "NTARF"), 1);
		cr_assert_eq(memcmp(find(t, "LTARF")->data, "BASE            ", 16), 0);
		cr_assert_eq(memcmp(find(t, "NGTF")->data, "base            ", 16), 0);
		cr_assert_eq(num(t, "RELAIS"), 1);
		cr_assert_eq(num(t, "EASF01"), num(t, "EAST"));
		cr_assert_eq(num(t, "EASD01"), num(t, "EAST"));

		n = gen(&m, false, SC_TIC_CAL_HCHP, SC_TIC_FAULT_NONE, 0, buf, NULL);
		split_frame(buf, (size_t)n, false, t);
		cr_assert_eq(num(t, "NTARF"), off ? 1 : 2, "HC 22:00-06:00 local");
		cr_assert_eq(memcmp(find(t, "NGTF")->data, "H PLEINE/CREUSE ", 16), 0);
		cr_assert_eq(memcmp(find(t, "LTARF")->data, off ? " HEURE  CREUSE  " : " HEURE  PLEINE  ",
				    16), 0);
		cr_assert_eq(num(t, "RELAIS"), off ? 1 : 0, "water heater on in HC");
		cr_assert_eq(memcmp(find(t, "PJOURF+1")->data, "0000C001 06008002 2200C001 NONUTILE", 35),
			     0);
		hc += off;
		hp += !off;

		n = gen(&m, false, SC_TIC_CAL_TEMPO, SC_TIC_FAULT_NONE, 0, buf, NULL);
		split_frame(buf, (size_t)n, false, t);
		int colour = (int)sc_meter_tempo_colour(&m, sc_meter_tempo_day(tt));
		static const char *const names[] = {"", "BLEU", "BLANC", "ROUGE"};
		char want[17];
		snprintf(want, sizeof want, "%s %-13s", off ? "HC" : "HP", names[colour]);
		cr_assert_eq(memcmp(find(t, "LTARF")->data, want, 16), 0, "LTARF %.16s want %s",
			     find(t, "LTARF")->data, want);
		cr_assert_eq(num(t, "NTARF"), (uint64_t)((colour - 1) * 2 + (off ? 1 : 2)));
		cr_assert_eq(num(t, "NJOURF"), (uint64_t)colour);
		/* Tomorrow is announced at 11:00: unknown from 06:00 to 11:00. */
		uint64_t tomorrow = num(t, "NJOURF+1");
		if (c.hour >= 6 && c.hour < 11)
			cr_assert_eq(tomorrow, 0, "%02d:%02d", c.hour, c.minute);
		else
			cr_assert_eq(tomorrow, (uint64_t)sc_meter_tempo_colour(
						       &m, sc_meter_tempo_day(tt) + 1));
	}
	cr_assert_eq(hc, 4 * 16);
	cr_assert_eq(hp, 4 * 32);
	free(t);
}

/* Tempo colours: a pure function of seed and day; Sundays blue; red only
 * on weekdays November-March; counts in RTE's range. */
Test(tic_gen, tempo_colours)
{
	for (uint64_t seed = 1; seed <= 5; seed++) {
		struct sc_meter m, m2;
		meter_at(&m, SC_PROFILE_HOUSEHOLD, 1, seed, utc(2024, 9, 1, 0, 0, 0));
		meter_at(&m2, SC_PROFILE_PV, 3, seed, utc(2025, 9, 1, 0, 0, 0));
		int count[4] = {0, 0, 0, 0};
		int64_t d0 = sc_days_from_civil(2024, 9, 1);
		for (int64_t d = d0; d < d0 + 365; d++) {
			enum sc_tempo_colour c = sc_meter_tempo_colour(&m, d);
			cr_assert(c >= SC_TEMPO_BLUE && c <= SC_TEMPO_RED);
			cr_assert_eq(c, sc_meter_tempo_colour(&m2, d), "depends on seed and day only");
			count[c]++;
			struct sc_civil cv;
			sc_epoch_to_civil(d * 86400, &cv);
			int wday = (int)(((d + 4) % 7 + 7) % 7);
			if (wday == 0)
				cr_assert_eq(c, SC_TEMPO_BLUE, "Sunday");
			if (c == SC_TEMPO_RED) {
				cr_assert(cv.month >= 11 || cv.month <= 3);
				cr_assert(wday >= 1 && wday <= 5);
			}
		}
		cr_assert(count[SC_TEMPO_RED] >= 8 && count[SC_TEMPO_RED] <= 40, "red %d",
			  count[SC_TEMPO_RED]);
		cr_assert(count[SC_TEMPO_WHITE] >= 20 && count[SC_TEMPO_WHITE] <= 70, "white %d",
			  count[SC_TEMPO_WHITE]);
	}
	/* The Tempo day runs 06:00-06:00 local. */
	cr_assert_eq(sc_meter_tempo_day(utc(2025, 1, 7, 4, 59, 59)), sc_days_from_civil(2025, 1, 6));
	cr_assert_eq(sc_meter_tempo_day(utc(2025, 1, 7, 5, 0, 0)), sc_days_from_civil(2025, 1, 7));
	cr_assert_eq(sc_meter_tempo_day(utc(2025, 7, 7, 4, 0, 0)), sc_days_from_civil(2025, 7, 7));
	cr_assert_eq(sc_meter_tempo_day(utc(2025, 7, 7, 3, 59, 59)), sc_days_from_civil(2025, 7, 6));
}

/* ---- counters ---- */

struct idx {
	uint64_t east, easf[10], easd[4], eait, erq[4];
	uint64_t ntarf, dist;
};

static void read_idx(const struct tframe *t, bool producer, struct idx *x)
{
	static const char *const fl[] = {"EASF01", "EASF02", "EASF03", "EASF04", "EASF05",
					 "EASF06", "EASF07", "EASF08", "EASF09", "EASF10"};
	static const char *const dl[] = {"EASD01", "EASD02", "EASD03", "EASD04"};
	static const char *const ql[] = {"ERQ1", "ERQ2", "ERQ3", "ERQ4"};
	memset(x, 0, sizeof *x);
	x->east = num(t, "EAST");
	for (int i = 0; i < 10; i++)
		x->easf[i] = num(t, fl[i]);
	for (int i = 0; i < 4; i++)
		x->easd[i] = num(t, dl[i]);
	if (producer) {
		x->eait = num(t, "EAIT");
		for (int i = 0; i < 4; i++)
			x->erq[i] = num(t, ql[i]);
	}
	x->ntarf = num(t, "NTARF");
	x->dist = ((stge(t) >> 14) & 3u) + 1;
}

/* Indexes never go down; EAST = sum EASF = sum EASD; between two frames
 * with the same tariff only the index in force grows; EAST follows the
 * meter's import energy. Steps cross HC/HP, Tempo-day, month and season
 * boundaries (October-November, March-April). */
Test(tic_gen, counters, .timeout = 300)
{
	static const int64_t starts[][3] = {{2025, 10, 30}, {2025, 3, 30}, {2025, 12, 31}};
	struct tframe *t = malloc(sizeof *t);
	for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			for (int cal = 0; cal < SC_TIC_CAL_COUNT; cal++) {
				struct sc_meter m;
				int64_t tt = utc((int)starts[s][0], (int)starts[s][1], (int)starts[s][2],
						 3, 0, 0);
				meter_at(&m, SC_PROFILE_PV_EV, phases, 11 + s, tt);
				struct idx prev, cur;
				int n = gen(&m, true, (enum sc_tic_calendar)cal, SC_TIC_FAULT_NONE, 0,
					    buf, NULL);
				split_frame(buf, (size_t)n, false, t);
				read_idx(t, true, &prev);
				double imp0 = m.import_wh[0] + m.import_wh[1];
				uint64_t east0 = prev.east;
				int grew_other = 0;
				for (int i = 0; i < 900; i++) {
					/* mostly 60 s steps, now and then a long jump */
					int64_t dt = i % 50 == 49 ? 5 * 3600 + 13 : 60;
					tt += dt;
					sc_meter_advance(&m, tt);
					n = gen(&m, true, (enum sc_tic_calendar)cal, SC_TIC_FAULT_NONE, 0,
						buf, NULL);
					split_frame(buf, (size_t)n, false, t);
					read_idx(t, true, &cur);
					uint64_t sf = 0, sd = 0;
					for (int k = 0; k < 10; k++) {
						cr_assert_geq(cur.easf[k], prev.easf[k], "EASF%02d", k + 1);
						sf += cur.easf[k];
						if (cal == SC_TIC_CAL_BASE && k > 0)
							cr_assert_eq(cur.easf[k], 0);
						if (cal == SC_TIC_CAL_HCHP && k > 1)
							cr_assert_eq(cur.easf[k], 0);
						if (cal == SC_TIC_CAL_TEMPO && k > 5)
							cr_assert_eq(cur.easf[k], 0);
					}
					for (int k = 0; k < 4; k++) {
						cr_assert_geq(cur.easd[k], prev.easd[k]);
						sd += cur.easd[k];
					}
					cr_assert_eq(sf, cur.east, "EAST = sum EASF");
					cr_assert_eq(sd, cur.east, "EAST = sum EASD");
					cr_assert_geq(cur.east, prev.east);
					cr_assert_geq(cur.eait, prev.eait);
					for (int k = 0; k < 4; k++)
						cr_assert_geq(cur.erq[k], prev.erq[k]);
					if (dt == 60 && cur.ntarf == prev.ntarf && cur.dist == prev.dist) {
						for (int k = 0; k < 10; k++)
							if (k != (int)cur.ntarf - 1)
								grew_other += cur.easf[k] != prev.easf[k];
						for (int k = 0; k < 4; k++)
							if (k != (int)cur.dist - 1)
								grew_other += cur.easd[k] != prev.easd[k];
					}
					double imp = m.import_wh[0] + m.import_wh[1];
					cr_assert(fabs((double)(cur.east - east0) - (imp - imp0)) <= 13.0,
						  "EAST follows the import energy");
					prev = cur;
				}
				cr_assert_eq(grew_other, 0, "only the index in force grows");
			}
		}
	}
	free(t);
}

/* The meter's French cells add up to its import counters; the
 * P1-facing counters are unchanged by them. */
Test(tic_gen, meter_fr_cells)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct sc_meter m;
		int64_t tt = utc(2025, 3, 25, 0, 0, 0);
		meter_at(&m, SC_PROFILE_EV, seed % 2 ? 1 : 3, seed, tt);
		for (int i = 0; i < 200; i++) {
			tt += 1237;
			sc_meter_advance(&m, tt);
			double sum = 0;
			for (int k = 0; k < SC_METER_FR_CELLS; k++) {
				cr_assert_geq(m.fr.import_wh[k], 0);
				sum += m.fr.import_wh[k];
			}
			double imp = m.import_wh[0] + m.import_wh[1];
			cr_assert(fabs(sum - imp) < 1e-6 * imp);
			/* red energy never booked in the low season */
			cr_assert_eq(m.fr.import_wh[sc_meter_fr_cell(SC_TEMPO_RED, false, false)], 0);
			cr_assert_eq(m.fr.import_wh[sc_meter_fr_cell(SC_TEMPO_RED, false, true)], 0);
		}
	}
}

/* ---- lines identical to the field captures ---- */

/* A capture of TIC_DIR, whole; the test fails when it is absent. */
static char *load(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", TIC_DIR, name);
	return slurp(path, len);
}

/* The group "\nLABEL\t...\r" of a text, NUL-terminated into out. */
static bool line_of(const char *text, size_t len, const char *label, char *out, size_t cap)
{
	char key[32];
	snprintf(key, sizeof key, "\n%s\t", label);
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl < len; i++) {
		if (memcmp(text + i, key, kl) != 0)
			continue;
		const char *cr = memchr(text + i, '\r', len - i);
		if (!cr || (size_t)(cr - text - (long)i) + 2 > cap)
			return false;
		size_t n = (size_t)(cr - (text + i)) + 1;
		memcpy(out, text + i, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static void same_lines(const char *cap, size_t cap_len, const char *mine, size_t mine_len,
		       const char *const *labels, size_t n)
{
	char a[160], b[160];
	for (size_t i = 0; i < n; i++) {
		cr_assert(line_of(cap, cap_len, labels[i], a, sizeof a), "capture has %s", labels[i]);
		cr_assert(line_of(mine, mine_len, labels[i], b, sizeof b), "frame has %s", labels[i]);
		cr_assert_str_eq(b, a, "%s line as in the capture", labels[i]);
	}
}

/* Label sequence of each frame of a capture, as one string. */
static int capture_orders(const char *d, size_t len, char orders[][1024], int max)
{
	int n = 0;
	for (size_t i = 0; i < len && n < max; i++) {
		if (d[i] != 0x02)
			continue;
		char *o = orders[n++];
		o[0] = '\0';
		size_t j = i + 1;
		while (j < len && d[j] != 0x02 && d[j] != 0x03) {
			if (d[j] == '\n') {
				size_t k = j + 1, l = 0;
				char lab[16];
				while (k < len && (unsigned char)d[k] >= 0x20 && l < 15)
					lab[l++] = d[k++];
				lab[l] = '\0';
				if (l > 0) { /* logs keep a CR LF before the ETX */
					strncat(o, lab, 1023 - strlen(o));
					strncat(o, " ", 1023 - strlen(o));
				}
			}
			j++;
		}
	}
	return n;
}

static void my_order(int phases, bool producer, char *o, size_t cap)
{
	const char *want[MAX_GROUPS];
	int n = expected_labels(phases, producer, want);
	o[0] = '\0';
	for (int i = 0; i < n; i++) {
		strncat(o, want[i], cap - 1 - strlen(o));
		strncat(o, " ", cap - 1 - strlen(o));
	}
}

Test(tic_gen, like_the_consumer_capture)
{
	size_t len;
	char *cap = load("standard-mono-consumer-base.tic", &len);
	static char orders[4][1024];
	cr_assert_eq(capture_orders(cap, len, orders, 4), 1);
	char mine[1024];
	my_order(1, false, mine, sizeof mine);
	cr_assert_str_eq(mine, orders[0], "label order of a mono consumer Linky");
	/* A household (no export) BASE meter: constant groups byte-identical. */
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_HOUSEHOLD, 1, 4, utc(2024, 2, 10, 11, 13, 55));
	int n = gen(&m, false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf, NULL);
	static const char *const same[] = {"VTIC",   "NGTF",   "LTARF",    "EASF02", "EASF03",
					   "EASF04", "EASF05", "EASF06",   "EASF07", "EASF08",
					   "EASF09", "EASF10", "EASD02",   "EASD03", "EASD04",
					   "MSG1",   "NJOURF", "NJOURF+1", "PJOURF+1", "DATE",
					   "STGE",   "NTARF",  "RELAIS"};
	same_lines(cap, len, buf, (size_t)n, same, sizeof same / sizeof same[0]);
	free(cap);
}

Test(tic_gen, like_the_producer_capture)
{
	size_t len;
	char *cap = load("standard-mono-producer-9-frames-with-corruption.log", &len);
	static char orders[64][1024];
	int nf = capture_orders(cap, len, orders, 64);
	char mine[1024];
	my_order(1, true, mine, sizeof mine);
	int clean = 0;
	for (int i = 0; i < nf; i++)
		clean += strcmp(orders[i], mine) == 0;
	cr_assert_geq(clean, 1, "the capture's intact frame has our label order");
	/* A PV meter exporting at 13:43:49 on 7 March 2025, HC/HP, producer. */
	bool done = false;
	for (uint64_t seed = 1; seed <= 60 && !done; seed++) {
		struct sc_meter m;
		meter_at(&m, SC_PROFILE_PV, 1, seed, utc(2025, 3, 7, 12, 43, 49));
		if (sc_meter_net_w(&m) >= 0)
			continue;
		done = true;
		int n = gen(&m, true, SC_TIC_CAL_HCHP, SC_TIC_FAULT_NONE, 0, buf, NULL);
		static const char *const same[] = {"VTIC",   "NGTF",   "LTARF",  "EASF03", "EASF04",
						   "EASF05", "EASF06", "EASF07", "EASF08", "EASF09",
						   "EASF10", "MSG1",   "NJOURF", "NJOURF+1", "DATE",
						   "STGE",   "NTARF",  "RELAIS"};
		same_lines(cap, len, buf, (size_t)n, same, sizeof same / sizeof same[0]);
	}
	cr_assert(done, "a seed exporting at that time");
	free(cap);
}

/* ---- faults, as bytes ---- */

static int bad_checksum_groups(const struct tframe *t, int *which)
{
	int bad = 0;
	for (int i = 0; i < t->n; i++)
		if (t->g[i].shape_ok && !t->g[i].cs_ok) {
			bad++;
			*which = i;
		}
	return bad;
}

static size_t spec_len(const char *label)
{
	for (size_t k = 0; k < sizeof spec / sizeof spec[0]; k++)
		if (strcmp(spec[k].label, label) == 0)
			return spec[k].len;
	return (size_t)-1;
}

Test(tic_gen, fault_bytes, .timeout = 300)
{
	struct tframe *t = malloc(sizeof *t), *t0 = malloc(sizeof *t0);
	for (uint64_t fs = 1; fs <= 40; fs++) {
		int phases = fs % 2 ? 1 : 3;
		bool prod = fs % 4 < 2;
		enum sc_tic_calendar cal = (enum sc_tic_calendar)(fs % 3);
		struct sc_meter m;
		meter_at(&m, SC_PROFILE_PV_EV, phases, fs, utc(2025, 4, 2, 6, 0, 0) + (int64_t)fs * 3001);
		int n0 = gen(&m, prod, cal, SC_TIC_FAULT_NONE, 0, buf2, NULL);
		split_frame(buf2, (size_t)n0, false, t0);
		int n, which = -1;

		/* bad checksum: exactly one group, the rest intact */
		n = gen(&m, prod, cal, SC_TIC_FAULT_BAD_CHECKSUM, fs, buf, NULL);
		cr_assert_eq(n, n0);
		split_frame(buf, (size_t)n, false, t);
		cr_assert_eq(t->n, t0->n);
		cr_assert_eq(bad_checksum_groups(t, &which), 1);
		size_t diff = 0;
		for (int i = 0; i < n; i++)
			diff += buf[i] != buf2[i];
		cr_assert_eq(diff, 1, "only the checksum byte differs");

		/* truncated: cut after a group's LF and before its CR, then EOT */
		n = gen(&m, prod, cal, SC_TIC_FAULT_TRUNCATED, fs, buf, NULL);
		cr_assert_lt(n, n0);
		cr_assert_eq(buf[n - 1], 0x04);
		cr_assert(memcmp(buf, buf2, (size_t)n - 1) == 0, "a prefix of the frame");
		cr_assert_null(memchr(buf, 0x03, (size_t)n));
		size_t cut = (size_t)n - 1;
		bool inside = false;
		for (int i = 0; i < t0->n; i++)
			inside = inside || (cut > t0->g[i].lf && cut <= t0->g[i].lf + 1 + t0->g[i].len);
		cr_assert(inside, "cut at %zu inside a group", cut);

		/* garbage: 1-64 bytes before the intact frame */
		n = gen(&m, prod, cal, SC_TIC_FAULT_GARBAGE, fs, buf, NULL);
		cr_assert(n > n0 && n <= n0 + 64);
		size_t gl = (size_t)(n - n0);
		cr_assert(memcmp(buf + gl, buf2, (size_t)n0) == 0);
		cr_assert_null(memchr(buf, 0x02, gl), "no STX in the garbage");
		cr_assert_null(memchr(buf, '/', gl));

		/* bad length: one group one char off, checksum valid */
		n = gen(&m, prod, cal, SC_TIC_FAULT_BAD_LENGTH, fs, buf, NULL);
		cr_assert(n == n0 + 1 || n == n0 - 1);
		split_frame(buf, (size_t)n, false, t);
		cr_assert_eq(t->n, t0->n);
		int off = 0;
		for (int i = 0; i < t->n; i++) {
			cr_assert(t->g[i].cs_ok, "every checksum valid (%s)", t->g[i].label);
			cr_assert_str_eq(t->g[i].label, t0->g[i].label);
			if (t->g[i].dlen != spec_len(t->g[i].label)) {
				off++;
				cr_assert(t->g[i].dlen + 1 == spec_len(t->g[i].label) ||
					  t->g[i].dlen == spec_len(t->g[i].label) + 1);
			}
		}
		cr_assert_eq(off, 1);

		/* bit 7: one byte, in a label or data; cleared, the frame is intact */
		n = gen(&m, prod, cal, SC_TIC_FAULT_BIT7, fs, buf, NULL);
		cr_assert_eq(n, n0);
		int high = 0;
		for (int i = 0; i < n; i++) {
			if ((unsigned char)buf[i] & 0x80) {
				high++;
				cr_assert_eq((char)(buf[i] & 0x7F), buf2[i]);
				cr_assert(buf2[i] != '\t' && buf2[i] != '\r' && buf2[i] != '\n');
			} else {
				cr_assert_eq(buf[i], buf2[i]);
			}
		}
		cr_assert_eq(high, 1);

		/* historic: SP separators, historic checksums, no HT */
		n = gen(&m, prod, cal, SC_TIC_FAULT_HISTORIC, fs, buf, NULL);
		cr_assert_null(memchr(buf, '\t', (size_t)n));
		split_frame(buf, (size_t)n, true, t);
		cr_assert(t->stx && t->etx);
		cr_assert_geq(t->n, 9);
		for (int i = 0; i < t->n; i++) {
			cr_assert(t->g[i].shape_ok, "historic group %d", i);
			cr_assert(t->g[i].cs_ok, "historic checksum %s", t->g[i].label);
		}
		cr_assert_str_eq(t->g[0].label, "ADCO");
		cr_assert_str_eq(t->g[1].label, "OPTARIF");
		cr_assert_str_eq(t->g[2].label, "ISOUSC");
		cr_assert(has(t, "PTEC") && has(t, "PAPP") && has(t, "HHPHC") && has(t, "MOTDETAT"));
		cr_assert(has(t, phases == 3 ? "IINST3" : "IINST"));
		cr_assert(has(t, phases == 3 ? "IMAX1" : "IMAX"));
		cr_assert(has(t, cal == SC_TIC_CAL_BASE ? "BASE"
				 : cal == SC_TIC_CAL_HCHP ? "HCHP" : "BBRHPJB"));
		cr_assert_eq(memcmp(find(t, "ADCO")->data, find(t0, "ADSC")->data, 12), 0);
		cr_assert_eq(num(t, "PAPP"), num(t0, "SINSTS"));

		/* oversize: the intact frame, then well-formed padding groups of
		 * an unknown label, past the parser's buffer by 1-2048 bytes */
		n = gen(&m, prod, cal, SC_TIC_FAULT_OVERSIZE, fs, buf, NULL);
		cr_assert_gt(n, SC_TIC_BUF_SIZE, "longer than the parser's buffer");
		cr_assert_leq(n, SC_TIC_BUF_SIZE + 2048 + 110);
		cr_assert(memcmp(buf, buf2, (size_t)n0 - 1) == 0, "the frame, then padding");
		split_frame(buf, (size_t)n, false, t);
		cr_assert(t->stx && t->etx);
		cr_assert_lt(t->n, MAX_GROUPS);
		cr_assert_gt(t->n, t0->n);
		size_t pos = 1;
		for (int i = 0; i < t->n; i++) {
			const struct tgroup *g = &t->g[i];
			cr_assert_eq(g->lf, pos);
			pos = g->lf + g->len + 2;
			cr_assert(g->shape_ok && g->cs_ok, "group %d (%s) valid", i, g->label);
			if (i < t0->n) {
				cr_assert_str_eq(g->label, t0->g[i].label);
				continue;
			}
			cr_assert_str_eq(g->label, SC_TIC_PAD_LABEL);
			cr_assert_eq(spec_len(g->label), (size_t)-1, "not a TIC label");
			cr_assert_eq(g->dlen, 96);
		}
		cr_assert_eq(pos, (size_t)n - 1, "ETX right after the last CR");
		/* without the last padding group it would fit: not longer than needed */
		cr_assert_leq((size_t)n - (t->g[t->n - 1].len + 2), SC_TIC_BUF_SIZE + 2048);
	}
	/* The historic checksum rule against the capture's own groups. */
	cr_assert_eq(my_checksum("OPTARIF BASE", 12), '0');
	cr_assert_eq(my_checksum("ISOUSC 30", 9), '9');
	free(t);
	free(t0);
}

/* ---- round trip through the parser ---- */

static bool same_opt(struct sc_opt a, struct sc_opt b)
{
	return a.set == b.set && (!a.set || a.v == b.v);
}

static void assert_reading_eq(const struct sc_reading *got, const struct sc_reading *want,
			      const char *what)
{
	cr_assert_eq(got->ts_set, want->ts_set, "%s: ts set", what);
	cr_assert_eq(got->ts, want->ts, "%s: ts %lld want %lld", what, (long long)got->ts,
		     (long long)want->ts);
	for (int q = 0; q < SC_RQ_COUNT; q++)
		cr_assert(same_opt(got->q[q], want->q[q]), "%s: %s got %s%.3f want %s%.3f", what,
			  sc_rq_name((enum sc_rq)q), got->q[q].set ? "" : "unset ", got->q[q].v,
			  want->q[q].set ? "" : "unset ", want->q[q].v);
	for (int ph = 0; ph < SC_PHASES; ph++)
		for (int q = 0; q < SC_PQ_COUNT; q++)
			cr_assert(same_opt(got->ph[ph][q], want->ph[ph][q]),
				  "%s: l%d.%s got %s%.3f want %s%.3f", what, ph + 1,
				  sc_pq_name((enum sc_pq)q), got->ph[ph][q].set ? "" : "unset ",
				  got->ph[ph][q].v, want->ph[ph][q].set ? "" : "unset ",
				  want->ph[ph][q].v);
	cr_assert_eq(got->flavour, want->flavour, "%s: flavour", what);
	cr_assert_eq(got->version, want->version, "%s: version", what);
	cr_assert_str_eq(got->meter_id, want->meter_id, "%s: meter id", what);
	cr_assert_eq(got->tariff, want->tariff, "%s: tariff", what);
	cr_assert_eq(got->phases, want->phases, "%s: phases", what);
	cr_assert_not(got->gas_m3.set);
}

static void expect_one_frame(const char *data, size_t len, size_t chunk,
			     const struct sc_reading *want, const char *what)
{
	tic_feed(data, len, 0, chunk, rec);
	cr_assert_eq(rec->n, 1, "%s (chunk %zu): %d events, first %s %s", what, chunk, rec->n,
		     rec->n ? sc_tic_event_name(rec->ev[0].ev) : "-", rec->n ? rec->ev[0].detail : "");
	cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAME, "%s (chunk %zu): %s %s", what, chunk,
		     sc_tic_event_name(rec->ev[0].ev), rec->ev[0].detail);
	assert_reading_eq(&rec->ev[0].reading, want, what);
}

Test(tic_gen, round_trip, .timeout = 600)
{
	static const size_t chunks[] = {0, 1, 7, 61};
	char what[160];
	int frames = 0;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		for (size_t p = 0; p < 3; p++) {
			for (int phases = 1; phases <= 3; phases += 2) {
				struct sc_meter m;
				int64_t t0 = utc(2025, seed % 2 ? 6 : 1, 8 + (int)seed, 0, 0, 0) +
					     (int64_t)seed * 613;
				meter_at(&m, profiles[p], phases, seed, t0);
				for (int step = 0; step < 12; step++) {
					sc_meter_advance(&m, t0 + step * (2 * 3600 + 17 * 60 + 3));
					for (int prod = 0; prod < 2; prod++) {
						for (int cal = 0; cal < SC_TIC_CAL_COUNT; cal++) {
							struct sc_reading want;
							int n = gen(&m, prod, (enum sc_tic_calendar)cal,
								    SC_TIC_FAULT_NONE, 0, buf, &want);
							snprintf(what, sizeof what,
								 "seed %llu %s %dph %s %s t=%lld",
								 (unsigned long long)seed,
								 sc_profile_name(profiles[p]), phases,
								 prod ? "producer" : "consumer",
								 sc_tic_calendar_name((enum sc_tic_calendar)cal),
								 (long long)m.t);
							for (size_t c = 0; c < 4; c++)
								expect_one_frame(buf, (size_t)n, chunks[c],
										 &want, what);
							frames++;
						}
					}
				}
			}
		}
	}
	cr_assert_eq(frames, 6 * 3 * 2 * 12 * 2 * 3);
}

/* Whole, byte by byte and split at every position: the same events. */
Test(tic_gen, round_trip_every_split, .timeout = 600)
{
	for (int phases = 1; phases <= 3; phases += 2) {
		for (int prod = 0; prod < 2; prod++) {
			for (int cal = 0; cal < SC_TIC_CAL_COUNT; cal++) {
				struct sc_meter m;
				meter_at(&m, SC_PROFILE_PV_EV, phases, 21, utc(2025, 5, 17, 11, 0, 0));
				struct sc_reading want;
				int n = gen(&m, prod, (enum sc_tic_calendar)cal, SC_TIC_FAULT_NONE, 0, buf,
					    &want);
				tic_feed_checked(buf, (size_t)n, rec);
				cr_assert_eq(rec->n, 1);
				cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAME, "%s", rec->ev[0].detail);
				assert_reading_eq(&rec->ev[0].reading, &want, "every split");
				/* the frame model agrees with the text */
				const struct sc_tic_frame *f = &rec->ev[0].frame;
				cr_assert_eq(f->three_phase, phases == 3);
				cr_assert(f->has_stge && f->stge.standard_mode);
				cr_assert_eq(f->stge.producer, prod == 1);
				cr_assert_eq(f->ntarf.v, (uint32_t)want.tariff);
				int want_groups = phases == 3 ? (prod ? 63 : 53) : (prod ? 48 : 38);
				cr_assert_eq(f->ngroups, want_groups, "%d groups, want %d", f->ngroups,
					     want_groups);
			}
		}
	}
}

/* A stream of consecutive frames, one per second for ten minutes, parsed
 * as one: one FRAME per frame, each equal to its expectation. */
Test(tic_gen, round_trip_stream, .timeout = 300)
{
	size_t cap = 700 * 1500;
	char *stream = malloc(cap);
	struct sc_reading *want = malloc(600 * sizeof *want);
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_PV, 3, 77, utc(2025, 10, 26, 0, 55, 0)); /* across the DST end */
	size_t len = 0;
	for (int i = 0; i < 600; i++) {
		sc_meter_advance(&m, m.t + 1);
		struct sc_tic_gen_opts o = {.producer = true, .calendar = SC_TIC_CAL_TEMPO};
		int n = sc_tic_gen(&m, &o, stream + len, cap - len, &want[i]);
		cr_assert_gt(n, 0);
		len += (size_t)n;
	}
	struct sc_tic_parser *p = calloc(1, sizeof *p);
	struct sc_tic_result *res = malloc(sizeof *res);
	int got = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t lim = pos + 997 < len ? pos + 997 : len;
		while (pos < lim) {
			pos += sc_tic_feed(p, stream + pos, lim - pos, res);
			if (res->event == SC_TIC_NEED_MORE)
				continue;
			cr_assert_eq(res->event, SC_TIC_FRAME, "%s", res->detail);
			cr_assert_lt(got, 600);
			struct sc_reading r;
			sc_tic_to_reading(&res->frame, res->raw, &r);
			assert_reading_eq(&r, &want[got], "stream");
			got++;
		}
	}
	cr_assert_eq(sc_tic_finish(p, res), SC_TIC_NEED_MORE);
	cr_assert_eq(got, 600);
	free(p);
	free(res);
	free(stream);
	free(want);
}

/* Label of a group as the parser reports it: up to SC_TIC_MAX_LABEL bytes before the
 * first HT or SP, unprintable bytes as '?'. */
static void reported_label(const struct tgroup *g, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < g->len && g->s[i] != '\t' && g->s[i] != ' ' && n < SC_TIC_MAX_LABEL;
	     i++) {
		unsigned char c = (unsigned char)g->s[i];
		out[n++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
	}
	out[n] = '\0';
}

/* The group of the frame containing offset off. */
static const struct tgroup *group_at(const struct tframe *t, size_t off)
{
	for (int i = 0; i < t->n; i++)
		if (off > t->g[i].lf && off <= t->g[i].lf + t->g[i].len + 1)
			return &t->g[i];
	return NULL;
}

static void expect_bad_group(const char *data, size_t len, enum sc_tic_group_error kind,
			     const char *label, size_t lf, const char *what)
{
	static const size_t chunks[] = {0, 1, 13};
	for (size_t c = 0; c < 3; c++) {
		tic_feed(data, len, 0, chunks[c], rec);
		cr_assert_eq(rec->n, 1, "%s: %d events", what, rec->n);
		const struct tic_rec_event *e = &rec->ev[0];
		cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "%s: %s %s", what, sc_tic_event_name(e->ev),
			     e->detail);
		cr_assert_eq(e->nerrors, 1, "%s: %d errors (%s)", what, e->nerrors, e->detail);
		cr_assert_eq(e->errors[0].kind, kind, "%s: kind %s", what,
			     sc_tic_group_error_name(e->errors[0].kind));
		cr_assert_str_eq(e->errors[0].label, label, "%s", what);
		cr_assert_eq(e->errors[0].offset, lf, "%s: offset of the LF", what);
	}
}

Test(tic_gen, round_trip_faults, .timeout = 600)
{
	struct tframe *t = malloc(sizeof *t), *t0 = malloc(sizeof *t0);
	char what[160], label[16];
	for (uint64_t fs = 1; fs <= 36; fs++) {
		int phases = fs % 2 ? 1 : 3;
		bool prod = (fs / 2) % 2 == 0;
		enum sc_tic_calendar cal = (enum sc_tic_calendar)((fs / 4) % 3);
		struct sc_meter m;
		meter_at(&m, SC_PROFILE_PV_EV, phases, fs + 100,
			 utc(2025, 11, 20, 0, 0, 0) + (int64_t)fs * 2311);
		struct sc_reading want;
		int n0 = gen(&m, prod, cal, SC_TIC_FAULT_NONE, 0, buf2, &want);
		split_frame(buf2, (size_t)n0, false, t0);
		snprintf(what, sizeof what, "fault seed %llu %dph %s %s", (unsigned long long)fs,
			 phases, prod ? "producer" : "consumer", sc_tic_calendar_name(cal));
		int n, which = -1;
		struct sc_reading want_f;

		n = gen(&m, prod, cal, SC_TIC_FAULT_BAD_CHECKSUM, fs, buf, &want_f);
		assert_reading_eq(&want_f, &want, "expect is the frame as meant");
		split_frame(buf, (size_t)n, false, t);
		cr_assert_eq(bad_checksum_groups(t, &which), 1);
		reported_label(&t->g[which], label);
		expect_bad_group(buf, (size_t)n, SC_TIC_GE_CHECKSUM, label, t->g[which].lf, what);

		n = gen(&m, prod, cal, SC_TIC_FAULT_BAD_LENGTH, fs, buf, NULL);
		split_frame(buf, (size_t)n, false, t);
		which = -1;
		for (int i = 0; i < t->n; i++)
			if (t->g[i].dlen != spec_len(t->g[i].label))
				which = i;
		cr_assert_geq(which, 0);
		reported_label(&t->g[which], label);
		expect_bad_group(buf, (size_t)n, SC_TIC_GE_LENGTH, label, t->g[which].lf, what);

		n = gen(&m, prod, cal, SC_TIC_FAULT_BIT7, fs, buf, NULL);
		split_frame(buf, (size_t)n, false, t);
		size_t at = 0;
		for (int i = 0; i < n; i++)
			if ((unsigned char)buf[i] & 0x80)
				at = (size_t)i;
		const struct tgroup *g = group_at(t, at);
		cr_assert_not_null(g);
		reported_label(g, label);
		expect_bad_group(buf, (size_t)n, SC_TIC_GE_BIT7, label, g->lf, what);

		n = gen(&m, prod, cal, SC_TIC_FAULT_TRUNCATED, fs, buf, NULL);
		for (size_t c = 0; c < 2; c++) {
			tic_feed(buf, (size_t)n, 0, c, rec);
			cr_assert_eq(rec->n, 1, "%s truncated: %d events", what, rec->n);
			cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAMING, "%s truncated: %s", what,
				     sc_tic_event_name(rec->ev[0].ev));
			cr_assert_eq(rec->ev[0].error_offset, (uint64_t)n - 1, "at the EOT");
		}
		/* A good frame after the interrupted one still parses. */
		memcpy(buf + n, buf2, (size_t)n0);
		tic_feed(buf, (size_t)(n + n0), 0, 0, rec);
		cr_assert_eq(rec->n, 2);
		cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAMING);
		cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME, "%s", rec->ev[1].detail);
		assert_reading_eq(&rec->ev[1].reading, &want, what);

		n = gen(&m, prod, cal, SC_TIC_FAULT_GARBAGE, fs, buf, &want_f);
		assert_reading_eq(&want_f, &want, "garbage: expect is the frame after it");
		for (size_t c = 0; c < 2; c++) {
			tic_feed(buf, (size_t)n, 0, c, rec);
			cr_assert_eq(rec->n, 2, "%s garbage: %d events", what, rec->n);
			cr_assert_eq(rec->ev[0].ev, SC_TIC_GARBAGE, "%s", what);
			cr_assert_leq(rec->ev[0].offset + rec->ev[0].length, (uint64_t)(n - n0),
				      "the garbage event covers garbage only");
			cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME, "%s: %s", what, rec->ev[1].detail);
			cr_assert_eq(rec->ev[1].offset, (uint64_t)(n - n0));
			assert_reading_eq(&rec->ev[1].reading, &want, what);
		}

		n = gen(&m, prod, cal, SC_TIC_FAULT_HISTORIC, fs, buf, NULL);
		for (size_t c = 0; c < 2; c++) {
			tic_feed(buf, (size_t)n, 0, c, rec);
			cr_assert_eq(rec->n, 1, "%s historic: %d events", what, rec->n);
			cr_assert_eq(rec->ev[0].ev, SC_TIC_UNSUPPORTED, "%s historic: %s %s", what,
				     sc_tic_event_name(rec->ev[0].ev), rec->ev[0].detail);
		}

		/* oversize: overflow, then the next frame parses */
		n = gen(&m, prod, cal, SC_TIC_FAULT_OVERSIZE, fs, buf, &want_f);
		assert_reading_eq(&want_f, &want, "oversize: expect is the frame as meant");
		memcpy(buf + n, buf2, (size_t)n0);
		for (size_t c = 0; c < 3; c++) {
			tic_feed(buf, (size_t)(n + n0), 0, c == 2 ? 509 : c, rec);
			cr_assert_eq(rec->n, 2, "%s oversize: %d events", what, rec->n);
			cr_assert_eq(rec->ev[0].ev, SC_TIC_OVERFLOW, "%s oversize: %s %s", what,
				     sc_tic_event_name(rec->ev[0].ev), rec->ev[0].detail);
			cr_assert_eq(rec->ev[0].offset, 0);
			cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME, "%s: %s", what, rec->ev[1].detail);
			cr_assert_eq(rec->ev[1].offset, (uint64_t)n);
			assert_reading_eq(&rec->ev[1].reading, &want, what);
		}
	}
	free(t);
	free(t0);
}

/* The oversize fault through every split: overflow, then the good frame. */
Test(tic_gen, oversize_every_split, .timeout = 300)
{
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_PV_EV, 3, 9, utc(2025, 8, 2, 13, 0, 0));
	struct sc_reading want;
	int n = gen(&m, true, SC_TIC_CAL_TEMPO, SC_TIC_FAULT_OVERSIZE, 5, buf, NULL);
	int n0 = gen(&m, true, SC_TIC_CAL_TEMPO, SC_TIC_FAULT_NONE, 0, buf2, &want);
	char *s = malloc((size_t)(n + n0));
	memcpy(s, buf, (size_t)n);
	memcpy(s + n, buf2, (size_t)n0);
	tic_feed_checked(s, (size_t)(n + n0), rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_OVERFLOW);
	cr_assert(strstr(rec->ev[0].detail, "longer than"));
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME, "%s", rec->ev[1].detail);
	assert_reading_eq(&rec->ev[1].reading, &want, "after the oversize frame");
	free(s);
}

/* ---- line time (TIC.md "Line": 9600 baud 7E1, frame silence) ---- */

Test(tic_gen, line_time_and_cadence)
{
	/* 10 bits a byte at 9600 baud: 960 bytes a second. */
	cr_assert_eq(sc_tic_line_ms(0), 0);
	cr_assert_eq(sc_tic_line_ms(1), 2, "1.04 ms, rounded up");
	cr_assert_eq(sc_tic_line_ms(24), 25, "exactly 25 ms");
	cr_assert_eq(sc_tic_line_ms(25), 27, "26.04 ms, rounded up");
	cr_assert_eq(sc_tic_line_ms(960), 1000);
	cr_assert_eq(sc_tic_line_ms(9600), 10000);
	cr_assert_eq(sc_tic_line_ms(865), 902, "mono consumer capture: ~0.9 s");
	cr_assert_eq(sc_tic_line_ms(1442), 1503, "three-phase producer: ~1.5 s");
	/* + 33.4 ms of silence, rounded up once. */
	cr_assert_eq(sc_tic_cadence_ms(0), 34);
	cr_assert_eq(sc_tic_cadence_ms(960), 1034, "1033.4 ms");
	cr_assert_eq(sc_tic_cadence_ms(1442), 1536, "1502.08 + 33.4 = 1535.48 ms");
	cr_assert_eq(sc_tic_cadence_ms(24), 59, "25 + 33.4 = 58.4 ms");
	for (int64_t b = 0; b < 5000; b += 7) {
		/* from first principles, in 1/9600 us: b bytes x 10 bits x 10^6 */
		int64_t line = b * 10 * 1000000, silence = 33400LL * 9600, ms = 1000LL * 9600;
		int64_t l = sc_tic_line_ms((size_t)b), c = sc_tic_cadence_ms((size_t)b);
		cr_assert(l * ms >= line && (l - 1) * ms < line, "%lld bytes: %lld ms", (long long)b,
			  (long long)l);
		cr_assert(c * ms >= line + silence && (c - 1) * ms < line + silence,
			  "%lld bytes: cadence %lld ms", (long long)b, (long long)c);
	}
	cr_assert_eq(sc_tic_line_ms(SIZE_MAX), INT64_MAX);
	cr_assert_eq(sc_tic_cadence_ms(SIZE_MAX), INT64_MAX);
	/* The generator's frames: ~0.9 s mono consumer to ~1.5 s tri producer. */
	struct sc_meter m;
	meter_at(&m, SC_PROFILE_PV, 1, 3, utc(2025, 6, 1, 11, 0, 0));
	int n = gen(&m, false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, buf, NULL);
	cr_assert(sc_tic_line_ms((size_t)n) >= 850 && sc_tic_line_ms((size_t)n) <= 950, "%d bytes", n);
	meter_at(&m, SC_PROFILE_PV, 3, 3, utc(2025, 6, 1, 11, 0, 0));
	n = gen(&m, true, SC_TIC_CAL_TEMPO, SC_TIC_FAULT_NONE, 0, buf, NULL);
	cr_assert(sc_tic_line_ms((size_t)n) >= 1400 && sc_tic_line_ms((size_t)n) <= 1600, "%d bytes",
		  n);
}
