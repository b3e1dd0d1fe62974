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
