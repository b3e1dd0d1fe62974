/* Field captures of Linky meters (corpus/field/tic): every file parsed
 * whole, byte by byte and split everywhere, with its values checked against
 * an independent reading of the text done here with plain string handling. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slurp.h"
#include "tic_test_util.h"

#define TIC_DIR SC_CORPUS_DIR "/tic"

static struct tic_recording *rec;

static void setup(void)
{
	rec = tic_rec_new();
}

static void teardown(void)
{
	free(rec);
}

TestSuite(tic_corpus, .init = setup, .fini = teardown);

/* A capture of TIC_DIR, whole; the test fails when it is absent. */
static char *load(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", TIC_DIR, name);
	return slurp(path, len);
}

/* The oracle: the number after "\nLABEL\t" in a frame's text, -1 if absent. */
static long field(const char *frame, size_t len, const char *label)
{
	char key[32];
	snprintf(key, sizeof key, "\n%s\t", label);
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl < len; i++)
		if (memcmp(frame + i, key, kl) == 0)
			return strtol(frame + i + kl, NULL, 10);
	return -1;
}

/* The oracle's search: where "what" first occurs in len bytes of s, or NULL. */
static const char *find(const char *s, size_t len, const char *what)
{
	size_t wl = strlen(what);
	for (size_t i = 0; i + wl <= len; i++)
		if (memcmp(s + i, what, wl) == 0)
			return s + i;
	return NULL;
}

Test(tic_corpus, consumer_base_frame)
{
	size_t len;
	char *data = load("standard-mono-consumer-base.tic", &len);
	tic_feed_checked(data, len, rec);
	cr_assert_eq(rec->n, 1);
	struct tic_rec_event *e = &rec->ev[0];
	cr_assert_eq(e->ev, SC_TIC_FRAME, "%s", e->detail);
	cr_assert_eq(e->frame.ngroups, 38);
	const struct sc_reading *r = &e->reading;
	cr_assert_eq(r->ts, 1707563635); /* DATE H240210121355: 12:13:55 UTC+1 */
	cr_assert_eq(r->q[SC_RQ_E_IMPORT].v, (double)field(data, len, "EAST"));
	cr_assert_eq(r->q[SC_RQ_E_IMPORT].v, 3519702);
	cr_assert_eq(r->q[SC_RQ_P].v, (double)field(data, len, "SINSTS"));
	cr_assert_eq(r->q[SC_RQ_P].v, 263);
	cr_assert_eq(r->ph[0][SC_PQ_U].v, 242);
	cr_assert_eq(r->ph[0][SC_PQ_I].v, 1);
	cr_assert_not(r->q[SC_RQ_E_EXPORT].set);
	cr_assert_eq(r->q[SC_RQ_S].v, 263, "S = SINSTS");
	cr_assert_eq(r->ph[0][SC_PQ_P].v, 263, "l1.P = SINSTS on a mono meter");
	cr_assert_eq(r->ph[0][SC_PQ_S].v, 263);
	cr_assert_not(r->q[SC_RQ_P_PLUS].set, "TIC.md mapping: no P+");
	cr_assert_not(r->q[SC_RQ_P_MINUS].set, "TIC.md mapping: no P-");
	cr_assert_str_eq(r->meter_id, "012345678910");
	cr_assert_eq(r->phases, 1);
	cr_assert_eq(r->tariff, 1);
	cr_assert_eq(e->frame.stge.raw, 0x003A0000);
	cr_assert(e->frame.stge.standard_mode);
	cr_assert_not(e->frame.stge.producer);
	cr_assert_eq(e->frame.pjourf1.len, 98);
	cr_assert_eq(memcmp(e->raw + e->frame.msg1.off, "PAS DE          MESSAGE         ", 32), 0);
	free(data);
}

Test(tic_corpus, producer_log_with_corrupted_groups)
{
	size_t len;
	char *data = load("standard-mono-producer-9-frames-with-corruption.log", &len);
	tic_feed_checked(data, len, rec);
	/* The log starts with the ETX of a frame it did not keep, holds nine
	 * whole frames and ends inside a tenth. Its corruption: binary junk
	 * (with STX bytes) inside four groups of three frames; the rest of its
	 * changes (groups reordered, relabelled) keep valid checksums and
	 * lengths and pass, as on a device. SOURCES.md counts 13 bad pieces
	 * because it splits those four groups at their STX bytes. */
	int frames = 0, bad_frames = 0, bad_groups = 0, garbage = 0, framing = 0;
	const char *labels[4] = {"CCAINKlBJ", "IRMS1", "ERQ2", "3?\"3:?KU"};
	for (int i = 0; i < rec->n; i++) {
		struct tic_rec_event *e = &rec->ev[i];
		switch (e->ev) {
		case SC_TIC_FRAME: {
			frames++;
			size_t fl = strlen(e->raw);
			const struct sc_reading *r = &e->reading;
			long sinsts = field(e->raw, fl, "SINSTS"), sinsti = field(e->raw, fl, "SINSTI");
			cr_assert_eq(r->q[SC_RQ_P].v, (double)(sinsts - sinsti));
			cr_assert_eq(r->q[SC_RQ_S].v, (double)sinsts);
			cr_assert_not(r->q[SC_RQ_P_PLUS].set, "TIC.md mapping: no P+");
			cr_assert_not(r->q[SC_RQ_P_MINUS].set, "TIC.md mapping: no P-, even with SINSTI");
			cr_assert_eq(r->q[SC_RQ_E_IMPORT].v, (double)field(e->raw, fl, "EAST"));
			cr_assert_eq(r->q[SC_RQ_E_EXPORT].v, (double)field(e->raw, fl, "EAIT"));
			cr_assert_eq(r->q[SC_RQ_EQ4].v, (double)field(e->raw, fl, "ERQ4"));
			cr_assert_eq(r->ph[0][SC_PQ_I].v, (double)field(e->raw, fl, "IRMS1"));
			cr_assert_eq(r->ph[0][SC_PQ_P].v, 0, "exporting: the phase reads 0 W");
			cr_assert_lt(r->q[SC_RQ_P].v, 0, "exporting: negative total");
			cr_assert(e->frame.stge.producer);
			cr_assert_geq(r->ts, 1741351430);
			cr_assert_leq(r->ts, 1741351438);
			break;
		}
		case SC_TIC_BAD_GROUPS:
			bad_frames++;
			for (int k = 0; k < e->nerrors; k++) {
				cr_assert_lt(bad_groups, 4);
				cr_assert_str_eq(e->errors[k].label, labels[bad_groups]);
				bad_groups++;
			}
			break;
		case SC_TIC_GARBAGE:
			garbage++;
			cr_assert_eq(e->offset, 0);
			cr_assert_eq(e->length, 1);
			break;
		case SC_TIC_FRAMING:
			framing++;
			cr_assert_eq(e->error_offset, len, "the last frame is cut by the end of the file");
			break;
		default:
			cr_assert_fail("unexpected %s", sc_tic_event_name(e->ev));
		}
	}
	cr_assert_eq(frames, 6);
	cr_assert_eq(bad_frames, 3);
	cr_assert_eq(bad_groups, 4);
	cr_assert_eq(garbage, 1);
	cr_assert_eq(framing, 1);
	/* The first good frame is the second of the log: DATE H250307134350. */
	cr_assert_eq(rec->ev[2].ev, SC_TIC_FRAME);
	cr_assert_eq(rec->ev[2].reading.ts, 1741351430);
	cr_assert_eq(rec->ev[2].reading.q[SC_RQ_P].v, -1678);
	free(data);
}

Test(tic_corpus, historic_capture_is_reported_as_historic)
{
	size_t len;
	char *data = load("historic-mono-base.tic", &len);
	tic_feed_checked(data, len, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_UNSUPPORTED);
	cr_assert(strstr(rec->ev[0].detail, "unsupported mode: historic"));
	free(data);
}

/* One event, historic, whatever way the bytes are fed. */
static void expect_historic(const char *data, size_t len, const char *what)
{
	tic_feed_checked(data, len, rec);
	cr_assert_eq(rec->n, 1, "%s: %d events, first %s", what, rec->n, rec->ev[0].detail);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_UNSUPPORTED, "%s: %s %s", what,
		     sc_tic_event_name(rec->ev[0].ev), rec->ev[0].detail);
	cr_assert(strstr(rec->ev[0].detail, "unsupported mode: historic"), "%s", what);
}

/* The capture damaged as lines damage it: the frame is still reported once
 * as historic, never as a stream of "[ADCO 0123 syntax] [OPTARIF B
 * syntax] ..." errors. */
Test(tic_corpus, damaged_historic_capture_is_still_historic)
{
	size_t len;
	char *data = load("historic-mono-base.tic", &len);
	cr_assert_eq(data[0], 0x02);
	cr_assert_eq(data[len - 1], 0x03);
	char *f = malloc(len + 2), what[64];

	/* Each group's checksum damaged in turn, the first one included. */
	int groups = 0;
	for (size_t i = 1; i < len; i++) {
		if (data[i] != '\r')
			continue;
		memcpy(f, data, len);
		f[i - 1] = (char)(f[i - 1] == 'Z' ? 'Y' : f[i - 1] + 1);
		snprintf(what, sizeof what, "checksum of group %d", groups);
		expect_historic(f, len, what);
		groups++;
	}
	cr_assert_geq(groups, 8);

	/* The first label cut: 1 to 4 bytes of "ADCO" lost. */
	cr_assert_eq(memcmp(data, "\x02\nADCO ", 7), 0);
	for (size_t cut = 1; cut <= 4; cut++) {
		f[0] = 0x02;
		f[1] = '\n';
		memcpy(f + 2, data + 2 + cut, len - 2 - cut);
		snprintf(what, sizeof what, "first label cut by %zu", cut);
		expect_historic(f, len - cut, what);
	}

	/* One stray HT, in place of any byte between STX and ETX or added. */
	for (size_t at = 1; at + 1 < len; at++) {
		memcpy(f, data, len);
		f[at] = '\t';
		snprintf(what, sizeof what, "HT in place of byte %zu", at);
		expect_historic(f, len, what);
		memcpy(f, data, at);
		f[at] = '\t';
		memcpy(f + at + 1, data + at, len - at);
		snprintf(what, sizeof what, "HT added at %zu", at);
		expect_historic(f, len + 1, what);
	}
	free(f);
	free(data);
}

/* Ten consecutive frames of a single-phase Linky in historic mode on the
 * TEMPO option (OPTARIF BBR(, six BBRH* indexes, PTEC HCJB, DEMAIN ROUG),
 * recorded raw: each frame is reported once as historic, at its own STX,
 * never as a stream of group errors and never as a reading. The oracle reads
 * the frame bounds and the TEMPO index with plain string handling; the index
 * only grows from frame to frame, as a live recording's does. */
Test(tic_corpus, historic_tempo_run_is_reported_frame_by_frame)
{
	size_t len;
	char *data = load("historic-mono-tempo-10-frames.tic", &len);
	tic_feed_checked(data, len, rec);
	cr_assert_eq(rec->n, 10);
	size_t at = 0;
	long last_hcjb = -1;
	for (int i = 0; i < rec->n; i++) {
		const struct tic_rec_event *e = &rec->ev[i];
		const char *stx = memchr(data + at, 0x02, len - at);
		cr_assert_not_null(stx);
		const char *etx = memchr(stx, 0x03, len - (size_t)(stx - data));
		cr_assert_not_null(etx);
		cr_assert_eq(e->ev, SC_TIC_UNSUPPORTED, "frame %d: %s %s", i,
			     sc_tic_event_name(e->ev), e->detail);
		cr_assert(strstr(e->detail, "unsupported mode: historic"), "frame %d: %s", i, e->detail);
		cr_assert_eq(e->offset, (uint64_t)(stx - data), "frame %d", i);
		cr_assert_eq(e->length, (uint64_t)(etx - stx + 1), "frame %d", i);
		const char *f = stx;
		size_t fl = (size_t)(etx - stx + 1);
		cr_assert_not_null(find(f, fl, "\nOPTARIF BBR( S\r"), "frame %d is TEMPO", i);
		cr_assert_not_null(find(f, fl, "\nPTEC HCJB C\r"), "frame %d", i);
		const char *h = find(f, fl, "\nBBRHCJB ");
		cr_assert_not_null(h);
		long hcjb = strtol(h + 9, NULL, 10);
		cr_assert_geq(hcjb, last_hcjb, "frame %d: the index never goes back", i);
		last_hcjb = hcjb;
		at = (size_t)(etx - data) + 1;
	}
	cr_assert_eq(at, len, "the file is ten whole frames");
	cr_assert_eq(last_hcjb, 18328876);
	free(data);
}

/* A three-phase Linky in standard mode on TEMPO (HC BLANC), recorded raw from
 * the line for about 13 s: the recording starts inside a frame, holds seven whole
 * frames and ends inside the eighth. Five of the seven carry line damage
 * (bits lost: '0' read as ' ', 'A' as '@', a CR as a form feed), each
 * rejected whole with every bad group named where it starts; the two clean
 * ones give readings that agree with a plain reading of their labels. A
 * summing meter: SINSTS is the sum of the SINSTSn within the meter's
 * rounding, and P, S and each phase come out as the mapping gives them. */
static const struct {
	uint64_t frame;
	int n;
	struct {
		const char *label;
		uint64_t offset;
		enum sc_tic_group_error kind;
	} bad[3];
} tri_damage[] = {
	{2444, 1, {{"EASD01", 2769, SC_TIC_GE_SYNTAX}}}, /* its CR read as FF */
	{3708,
	 3,
	 {{"EASF06", 3933, SC_TIC_GE_SYNTAX},
	  {"EASF09", 3993, SC_TIC_GE_CHECKSUM},
	  {"EASD02", 4053, SC_TIC_GE_CHECKSUM}}},
	{4972, 2, {{"CC@SN-1", 5828, SC_TIC_GE_CHECKSUM}, {"NTARF", 6084, SC_TIC_GE_CHECKSUM}}},
	{6236,
	 3,
	 {{"EASF07", 6481, SC_TIC_GE_CHECKSUM},
	  {"SMAXSN2-1", 6997, SC_TIC_GE_CHECKSUM},
	  {"FPM1", 7246, SC_TIC_GE_CHECKSUM}}},
	{7500,
	 3,
	 {{"@COUP", 7994, SC_TIC_GE_CHECKSUM},
	  {"SINSTS1", 8022, SC_TIC_GE_CHECKSUM},
	  {"CC@SN", 8327, SC_TIC_GE_CHECKSUM}}},
};

Test(tic_corpus, three_phase_tempo_run_with_line_damage)
{
	size_t len;
	char *data = load("standard-tri-consumer-tempo-8-frames-damaged.tic", &len);
	cr_assert_eq(len, 11183);
	tic_feed_checked(data, len, rec);
	cr_assert_eq(rec->n, 9);

	/* The head of a frame the recording started inside. */
	cr_assert_eq(rec->ev[0].ev, SC_TIC_GARBAGE, "%s", sc_tic_event_name(rec->ev[0].ev));
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[0].length, 1180);

	int frames = 0, damaged = 0;
	int64_t ts[2] = {0, 0};
	for (int i = 1; i < 8; i++) {
		const struct tic_rec_event *e = &rec->ev[i];
		cr_assert_eq(data[e->offset], 0x02, "event %d starts at an STX", i);
		cr_assert_eq(e->length, 1264, "event %d", i);
		if (e->ev == SC_TIC_BAD_GROUPS) {
			cr_assert_lt(damaged, 5);
			cr_assert_eq(e->offset, tri_damage[damaged].frame);
			cr_assert_eq(e->nerrors, tri_damage[damaged].n, "frame at %lu",
				     (unsigned long)e->offset);
			for (int k = 0; k < e->nerrors; k++) {
				cr_assert_str_eq(e->errors[k].label, tri_damage[damaged].bad[k].label);
				cr_assert_eq(e->errors[k].offset, tri_damage[damaged].bad[k].offset,
					     "%s", e->errors[k].label);
				cr_assert_eq(e->errors[k].kind, tri_damage[damaged].bad[k].kind, "%s: %s",
					     e->errors[k].label,
					     sc_tic_group_error_name(e->errors[k].kind));
				cr_assert_eq(data[e->errors[k].offset], '\n');
			}
			damaged++;
			continue;
		}
		cr_assert_eq(e->ev, SC_TIC_FRAME, "event %d: %s %s", i, sc_tic_event_name(e->ev),
			     e->detail);
		cr_assert_lt(frames, 2);
		const char *f = data + e->offset;
		size_t fl = e->length;
		const struct sc_reading *r = &e->reading;
		long sinsts = field(f, fl, "SINSTS");
		long sum = field(f, fl, "SINSTS1") + field(f, fl, "SINSTS2") + field(f, fl, "SINSTS3");
		cr_assert_leq(labs(sinsts - sum), 3, "a summing meter: %ld against %ld", sinsts, sum);
		cr_assert_eq(field(f, fl, "SINSTI"), -1, "a consumer: no SINSTI");
		cr_assert_eq(r->phases, 3);
		cr_assert_str_eq(r->meter_id, "041776199277");
		cr_assert_eq(r->tariff, field(f, fl, "NTARF"));
		cr_assert_eq(r->q[SC_RQ_P].v, (double)sinsts);
		cr_assert_eq(r->q[SC_RQ_S].v, (double)sinsts);
		cr_assert_eq(r->q[SC_RQ_E_IMPORT].v, (double)field(f, fl, "EAST"));
		cr_assert_not(r->q[SC_RQ_E_EXPORT].set, "a consumer: no EAIT");
		cr_assert_not(r->q[SC_RQ_P_PLUS].set, "TIC.md mapping: no P+");
		cr_assert_not(r->q[SC_RQ_P_MINUS].set, "TIC.md mapping: no P-");
		static const char *const sl[3] = {"SINSTS1", "SINSTS2", "SINSTS3"};
		static const char *const ul[3] = {"URMS1", "URMS2", "URMS3"};
		static const char *const il[3] = {"IRMS1", "IRMS2", "IRMS3"};
		for (int p = 0; p < 3; p++) {
			cr_assert_eq(r->ph[p][SC_PQ_P].v, (double)field(f, fl, sl[p]), "l%d", p + 1);
			cr_assert_eq(r->ph[p][SC_PQ_S].v, (double)field(f, fl, sl[p]), "l%d", p + 1);
			cr_assert_eq(r->ph[p][SC_PQ_U].v, (double)field(f, fl, ul[p]), "l%d", p + 1);
			cr_assert_eq(r->ph[p][SC_PQ_I].v, (double)field(f, fl, il[p]), "l%d", p + 1);
		}
		ts[frames++] = r->ts;
	}
	cr_assert_eq(frames, 2);
	cr_assert_eq(damaged, 5);
	/* The clean frames: the first of the recording and the seventh. */
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME);
	cr_assert_eq(rec->ev[1].offset, 1180);
	cr_assert_eq(ts[0], 1581718084); /* DATE H200214230804: 23:08:04 UTC+1 */
	cr_assert_eq(rec->ev[1].reading.q[SC_RQ_P].v, 2700);
	cr_assert_eq(rec->ev[1].reading.ph[0][SC_PQ_P].v, 664);
	cr_assert_eq(rec->ev[1].reading.ph[1][SC_PQ_P].v, 1373);
	cr_assert_eq(rec->ev[1].reading.ph[2][SC_PQ_P].v, 664);
	cr_assert_eq(rec->ev[1].reading.q[SC_RQ_E_IMPORT].v, 21849106);
	cr_assert_eq(rec->ev[1].reading.tariff, 3);
	cr_assert_eq(rec->ev[7].offset, 8764);
	cr_assert_eq(ts[1], 1581718094); /* H200214230814 */
	cr_assert_eq(rec->ev[7].reading.q[SC_RQ_P].v, 2698);

	/* The eighth frame, cut by the end of the recording. */
	cr_assert_eq(rec->ev[8].ev, SC_TIC_FRAMING, "%s", sc_tic_event_name(rec->ev[8].ev));
	cr_assert_eq(rec->ev[8].offset, 10028);
	cr_assert_eq(rec->ev[8].error_offset, len);
	free(data);
}
