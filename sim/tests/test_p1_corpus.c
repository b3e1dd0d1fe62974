/* Field captures of P1 meters (SC_CORPUS_DIR/p1, by default the repository's
 * corpus/field/p1, described in corpus/field/SOURCES.md):
 *
 *  1. every capture framed whole, byte by byte and in seeded random chunk
 *     sizes: the same events each way, and the events each capture must give;
 *  2. the reading (sc_p1_to_reading) of each single-telegram capture checked
 *     quantity by quantity, every quantity present or absent as the mapping
 *     rules of p1_map.c say, and the decoded object model for the special
 *     objects (failure log, demand history, M-Bus, unknown lines);
 *  3. every telegram of the 566-telegram AM550 capture against an oracle
 *     written here with plain string handling, its own bitwise CRC-16/ARC
 *     and its own calendar arithmetic: nothing of the project's parser.
 *
 * Values that are exact decimals scaled to integers (W, Wh, var, varh,
 * counts) must match exactly; voltages, currents and PF within 1e-9
 * relative. A test fails when the corpus or a capture it reads is absent. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "p1.h"
#include "slurp.h"

#define P1_DIR SC_CORPUS_DIR "/p1"
#define AM550 "dsmr50-iskra-am550-566-telegrams.p1"
#define AM550_TELEGRAMS 566
#define OLD_DSMR22 "dsmr22-iskra-no-crc.p1"
#define WARMTELINK "dsmr50-warmtelink-unpadded-crc.p1"

/* ------------------------------------------------------------------------
 * Checks are counted; only failures go to Criterion (the first 40 of a
 * test, so a systematic error does not flood the log). */

static long n_checks, n_failed;

#define CHECK(cond, ...) \
	do { \
		n_checks++; \
		if (!(cond)) { \
			n_failed++; \
			if (n_failed <= 40) \
				cr_expect(0, __VA_ARGS__); \
		} \
	} while (0)

static void setup(void)
{
	n_checks = 0;
	n_failed = 0;
}

static void teardown(void)
{
	cr_log_info("%ld checks, %ld failed", n_checks, n_failed);
}

TestSuite(p1_corpus, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------------
 * Files. */

/* A capture of P1_DIR, whole; the test fails when it is absent. */
static char *load(const char *name, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", P1_DIR, name);
	return slurp(path, len);
}

/* ------------------------------------------------------------------------
 * Feeding the parser and recording its events. */

struct ev_rec {
	enum sc_p1_event ev;
	uint64_t offset, length, error_offset;
	bool has_raw, raw_ok; /* raw is the input's bytes at offset */
	size_t raw_len;
	bool crc_present;
	uint16_t crc_sent, crc_calc;
	int objects, unknown_count, dropped;
	char detail[160];
	struct sc_reading r; /* SC_P1_TELEGRAM only */
};

struct events {
	size_t n, cap;
	struct ev_rec *e;
};

static void events_free(struct events *ev)
{
	free(ev->e);
	memset(ev, 0, sizeof *ev);
}

static void record(struct events *out, const struct sc_p1_result *res, const char *data,
		   size_t len)
{
	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 16;
		out->e = realloc(out->e, out->cap * sizeof *out->e);
		cr_assert_not_null(out->e);
	}
	struct ev_rec *e = &out->e[out->n++];
	memset(e, 0, sizeof *e);
	e->ev = res->event;
	e->offset = res->offset;
	e->length = res->length;
	e->error_offset = res->error_offset;
	e->crc_present = res->crc_present;
	e->crc_sent = res->crc_sent;
	e->crc_calc = res->crc_calc;
	snprintf(e->detail, sizeof e->detail, "%s", res->detail);
	if (res->raw) {
		e->has_raw = true;
		e->raw_len = res->raw_len;
		e->raw_ok = res->offset <= len && res->raw_len <= len - (size_t)res->offset &&
			    memcmp(res->raw, data + (size_t)res->offset, res->raw_len) == 0;
	}
	if (res->event == SC_P1_TELEGRAM) {
		e->objects = res->tg.objects;
		e->unknown_count = res->tg.unknown_count;
		e->dropped = res->tg.dropped;
		sc_p1_to_reading(&res->tg, res->raw, &e->r);
	}
}

enum { CHUNK_WHOLE, CHUNK_BYTES, CHUNK_RANDOM };

struct chunker {
	int mode;
	uint64_t seed; /* CHUNK_RANDOM: chunk sizes 1..max from this seed */
	size_t max;
	uint64_t state;
};

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static size_t next_chunk(struct chunker *c, size_t left)
{
	size_t n;
	if (c->mode == CHUNK_WHOLE)
		n = left;
	else if (c->mode == CHUNK_BYTES)
		n = 1;
	else
		n = 1 + (size_t)(xorshift64(&c->state) % c->max);
	return n < left ? n : left;
}

static void chunker_name(const struct chunker *c, char *buf, size_t cap)
{
	if (c->mode == CHUNK_WHOLE)
		snprintf(buf, cap, "whole buffer");
	else if (c->mode == CHUNK_BYTES)
		snprintf(buf, cap, "byte by byte");
	else
		snprintf(buf, cap, "random chunks 1..%zu, seed %llu", c->max,
			 (unsigned long long)c->seed);
}

/* Feeds all of data in the chunker's pieces, then finishes the stream. */
static void feed(const char *data, size_t len, unsigned flags, struct chunker *ck,
		 struct events *out)
{
	struct sc_p1_parser *p = calloc(1, sizeof *p);
	struct sc_p1_result *res = malloc(sizeof *res);
	cr_assert(p && res);
	p->flags = flags;
	ck->state = ck->seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	out->n = 0;
	size_t pos = 0;
	int stalls = 0;
	while (pos < len) {
		size_t n = next_chunk(ck, len - pos);
		while (n > 0) {
			size_t used = sc_p1_feed(p, data + pos, n, res);
			cr_assert_leq(used, n, "sc_p1_feed used %zu of %zu bytes", used, n);
			if (res->event == SC_P1_NEED_MORE)
				cr_assert_eq(used, n, "NEED_MORE at %zu with %zu of %zu bytes used",
					     pos, used, n);
			stalls = used == 0 ? stalls + 1 : 0;
			cr_assert_lt(stalls, 4, "parser makes no progress at offset %zu", pos);
			pos += used;
			n -= used;
			if (res->event != SC_P1_NEED_MORE)
				record(out, res, data, len);
		}
	}
	int k = 0;
	while (sc_p1_finish(p, res) != SC_P1_NEED_MORE) {
		record(out, res, data, len);
		cr_assert_lt(++k, 8, "sc_p1_finish keeps reporting events");
	}
	free(p);
	free(res);
}

static bool same_opt(const struct sc_opt *a, const struct sc_opt *b)
{
	return a->set == b->set && (!a->set || a->v == b->v);
}

static bool same_reading(const struct sc_reading *a, const struct sc_reading *b, char *why,
			 size_t cap)
{
	if (a->ts_set != b->ts_set || a->ts != b->ts) {
		snprintf(why, cap, "ts %lld / %lld", (long long)a->ts, (long long)b->ts);
		return false;
	}
	for (int q = 0; q < SC_RQ_COUNT; q++) {
		if (!same_opt(&a->q[q], &b->q[q])) {
			snprintf(why, cap, "%s %.17g (%d) / %.17g (%d)", sc_rq_name((enum sc_rq)q),
				 a->q[q].v, a->q[q].set, b->q[q].v, b->q[q].set);
			return false;
		}
	}
	for (int ph = 0; ph < SC_PHASES; ph++) {
		for (int q = 0; q < SC_PQ_COUNT; q++) {
			if (!same_opt(&a->ph[ph][q], &b->ph[ph][q])) {
				snprintf(why, cap, "l%d.%s differs", ph + 1,
					 sc_pq_name((enum sc_pq)q));
				return false;
			}
		}
	}
	if (a->flavour != b->flavour || a->version != b->version ||
	    strcmp(a->maker, b->maker) != 0 || strcmp(a->meter_id, b->meter_id) != 0 ||
	    a->tariff != b->tariff || a->phases != b->phases || !same_opt(&a->gas_m3, &b->gas_m3) ||
	    a->gas_ts != b->gas_ts) {
		snprintf(why, cap, "identity or gas differs");
		return false;
	}
	return true;
}

/* True when both recordings hold the same events; else *why says where. */
static bool same_events(const struct events *a, const struct events *b, char *why, size_t cap)
{
	if (a->n != b->n) {
		snprintf(why, cap, "%zu events instead of %zu", b->n, a->n);
		return false;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct ev_rec *x = &a->e[i], *y = &b->e[i];
		char sub[200];
		if (x->ev != y->ev || x->offset != y->offset || x->length != y->length ||
		    x->error_offset != y->error_offset) {
			snprintf(why, cap, "event %zu: %s at %llu+%llu (error at %llu) instead of "
				 "%s at %llu+%llu (error at %llu)", i, sc_p1_event_name(y->ev),
				 (unsigned long long)y->offset, (unsigned long long)y->length,
				 (unsigned long long)y->error_offset, sc_p1_event_name(x->ev),
				 (unsigned long long)x->offset, (unsigned long long)x->length,
				 (unsigned long long)x->error_offset);
			return false;
		}
		if (x->has_raw != y->has_raw || x->raw_ok != y->raw_ok || x->raw_len != y->raw_len ||
		    x->crc_present != y->crc_present || x->crc_sent != y->crc_sent ||
		    x->crc_calc != y->crc_calc || strcmp(x->detail, y->detail) != 0) {
			snprintf(why, cap, "event %zu: raw, CRC or detail differ ('%s' / '%s')", i,
				 x->detail, y->detail);
			return false;
		}
		if (x->objects != y->objects || x->unknown_count != y->unknown_count ||
		    x->dropped != y->dropped) {
			snprintf(why, cap, "event %zu: object counts differ", i);
			return false;
		}
		if (!same_reading(&x->r, &y->r, sub, sizeof sub)) {
			snprintf(why, cap, "event %zu: reading differs: %s", i, sub);
			return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------------------
 * 1. Every capture, fed every way. */

/* Feeds the capture whole into ref, then byte by byte and in random chunks,
 * checking that every way gives ref's events. */
static void feed_every_way(const char *name, const char *data, size_t len, unsigned flags,
			   struct events *ref)
{
	struct chunker whole = {CHUNK_WHOLE, 0, 0, 0};
	feed(data, len, flags, &whole, ref);

	struct chunker ways[1 + 8];
	size_t nways = 0;
	ways[nways++] = (struct chunker){CHUNK_BYTES, 0, 0, 0};
	static const size_t maxes[4] = {3, 64, 1024, 9000};
	for (uint64_t seed = 1; seed <= 2; seed++)
		for (size_t m = 0; m < 4; m++)
			ways[nways++] = (struct chunker){CHUNK_RANDOM, seed * 7919 + m, maxes[m], 0};

	struct events other = {0};
	for (size_t w = 0; w < nways; w++) {
		char how[80], why[400];
		chunker_name(&ways[w], how, sizeof how);
		feed(data, len, flags, &ways[w], &other);
		bool same = same_events(ref, &other, why, sizeof why);
		CHECK(same, "%s (flags %u), %s: %s", name, flags, how, why);
	}
	events_free(&other);
}

static const char *const known_single[] = {
	"dsmr42-kaifa.p1",
	"dsmr42-landisgyr-e350-clock-unset.p1",
	"dsmr42-landisgyr-e350.p1",
	"dsmr50-sagemcom-t210d-xs210.p1",
	"dsmr50-sagemcom-t211-3phase.p1",
	"emucs-50213-fluvius-1phase.p1",
	"sweden-kaifa-ma304h4e-kvar.p1",
	"dsmr50-iskra-am550-two-mbus.p1",
	"dsmr50-iskra-mt382.p1",
	"dsmr50-sagemcom-eon-hungary.p1",
	"dsmr50-sagemcom-t210dr-austria.p1",
	WARMTELINK,
	"emucs171-fluvius-3phase-alt.p1",
	"emucs171-fluvius-3phase.p1",
};

/* Meters older than DSMR 4.2 (no version, no CRC): one telegram each,
 * refused as unsupported, decoded with SC_P1_NO_CRC | SC_P1_ANY_VERSION. */
static const char *const known_old[] = {
	OLD_DSMR22,
	"dsmr3-kamstrup-382-no-crc.p1",
	"dsmr3-kamstrup-limiter-in-amperes.p1",
};

static bool is_known_old(const char *name)
{
	for (size_t i = 0; i < sizeof known_old / sizeof known_old[0]; i++)
		if (strcmp(known_old[i], name) == 0)
			return true;
	return false;
}

static bool is_known_single(const char *name)
{
	for (size_t i = 0; i < sizeof known_single / sizeof known_single[0]; i++)
		if (strcmp(known_single[i], name) == 0)
			return true;
	return false;
}

/* A capture of good telegrams: telegram events only, each covering its raw
 * bytes '/'..CRC exactly, in order, with a matching CRC. */
static void check_good_capture(const char *name, size_t len, const struct events *ev,
			       size_t want)
{
	size_t telegrams = 0;
	uint64_t prev_end = 0;
	for (size_t i = 0; i < ev->n; i++) {
		const struct ev_rec *e = &ev->e[i];
		CHECK(e->ev == SC_P1_TELEGRAM, "%s: event %zu is %s at offset %llu: %s", name, i,
		      sc_p1_event_name(e->ev), (unsigned long long)e->offset, e->detail);
		if (e->ev != SC_P1_TELEGRAM)
			continue;
		telegrams++;
		CHECK(e->raw_ok, "%s: telegram %zu: raw is not the input at offset %llu", name,
		      i, (unsigned long long)e->offset);
		CHECK(e->length == e->raw_len && e->offset >= prev_end && e->offset < len,
		      "%s: telegram %zu covers %llu+%llu, raw %zu bytes, previous ended at %llu",
		      name, i, (unsigned long long)e->offset, (unsigned long long)e->length,
		      e->raw_len, (unsigned long long)prev_end);
		CHECK(e->crc_present && e->crc_sent == e->crc_calc,
		      "%s: telegram %zu: CRC present %d, sent %04X, computed %04X", name, i,
		      e->crc_present, e->crc_sent, e->crc_calc);
		CHECK(e->dropped == 0, "%s: telegram %zu dropped %d objects", name, i, e->dropped);
		prev_end = e->offset + e->length;
	}
	if (want)
		CHECK(telegrams == want, "%s: %zu telegrams, expected %zu", name, telegrams, want);
	else
		CHECK(telegrams >= 1, "%s: no telegram", name);
}

static void check_capture_events(const char *name, const char *data, size_t len)
{
	struct events ref = {0};
	feed_every_way(name, data, len, 0, &ref);

	if (is_known_old(name)) {
		/* DSMR 2.2/3.0: no version object, no CRC: refused as too old. */
		CHECK(ref.n == 1 && ref.e[0].ev == SC_P1_UNSUPPORTED,
		      "%s: %zu events, first %s (%s); expected exactly one unsupported", name,
		      ref.n, ref.n ? sc_p1_event_name(ref.e[0].ev) : "-",
		      ref.n ? ref.e[0].detail : "");
		if (ref.n >= 1) {
			const struct ev_rec *e = &ref.e[0];
			CHECK(e->offset == 0 && e->length >= 1 && e->length <= len &&
				      data[e->offset + e->length - 1] == '!',
			      "%s: unsupported event covers %llu+%llu, not '/'..'!'", name,
			      (unsigned long long)e->offset, (unsigned long long)e->length);
			CHECK(!e->crc_present, "%s: a CRC was found", name);
		}
		/* Declared as a meter without CRC and accepted although old. */
		feed_every_way(name, data, len, SC_P1_NO_CRC | SC_P1_ANY_VERSION, &ref);
		CHECK(ref.n == 1 && ref.e[0].ev == SC_P1_TELEGRAM,
		      "%s with NO_CRC|ANY_VERSION: %zu events, first %s (%s)", name, ref.n,
		      ref.n ? sc_p1_event_name(ref.e[0].ev) : "-", ref.n ? ref.e[0].detail : "");
		if (ref.n >= 1)
			CHECK(ref.e[0].raw_ok && !ref.e[0].crc_present,
			      "%s with NO_CRC|ANY_VERSION: raw or CRC wrong", name);
	} else {
		/* Every capture has its outcome here (and its values in this
		 * file or test_p1_field.c): a new one must be added. */
		CHECK(strcmp(name, AM550) == 0 || is_known_single(name),
		      "%s: a capture without an expected outcome (add it to known_single or "
		      "known_old)", name);
		size_t want = strcmp(name, AM550) == 0 ? AM550_TELEGRAMS
			      : is_known_single(name) ? 1
						      : 0;
		check_good_capture(name, len, &ref, want);
		if (strcmp(name, WARMTELINK) == 0 && ref.n >= 1)
			CHECK(ref.e[0].crc_sent == 0xB9F && ref.e[0].crc_calc == 0xB9F &&
				      ref.e[0].raw_len >= 4 &&
				      data[ref.e[0].offset + ref.e[0].raw_len - 4] == '!',
			      "%s: CRC sent %04X computed %04X; expected the 3-digit B9F", name,
			      ref.e[0].crc_sent, ref.e[0].crc_calc);
	}
	events_free(&ref);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(p1_corpus, every_capture_gives_the_same_events_however_fed)
{
	DIR *dir = opendir(P1_DIR);
	cr_assert_not_null(dir, "P1 corpus not found at %s", P1_DIR);
	char *names[256];
	size_t n = 0;
	for (struct dirent *de; n < 256 && (de = readdir(dir)) != NULL;) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 4 || strcmp(de->d_name + l - 3, ".p1") != 0)
			continue;
		names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	cr_assert_gt(n, 0, "no .p1 capture in %s", P1_DIR);
	qsort(names, n, sizeof names[0], cmp_names);

	size_t known = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *data = load(names[i], &len);
		check_capture_events(names[i], data, len);
		if (is_known_single(names[i]) || strcmp(names[i], AM550) == 0 ||
		    is_known_old(names[i]))
			known++;
		free(data);
		free(names[i]);
	}
	size_t all = sizeof known_single / sizeof known_single[0] +
		     sizeof known_old / sizeof known_old[0] + 1;
	cr_assert_eq(known, all, "%zu of the %zu captures of SOURCES.md found in %s", known, all,
		     P1_DIR);
	cr_log_info("%zu captures, each fed 10 ways", n);
}

/* ------------------------------------------------------------------------
 * 2. Single-telegram captures, field by field. */

struct single {
	char *data;
	size_t len;
	struct sc_p1_result res; /* the telegram's event, its tg decoded */
	char raw[SC_P1_BUF_SIZE + 1];
	struct sc_reading r;
};

/* The one telegram of a capture, fed whole; fails when the file is absent. */
static struct single *parse_single(const char *name, unsigned flags)
{
	struct single *s = calloc(1, sizeof *s);
	cr_assert_not_null(s);
	s->data = load(name, &s->len);
	struct sc_p1_parser *p = calloc(1, sizeof *p);
	struct sc_p1_result *res = malloc(sizeof *res);
	cr_assert(p && res);
	p->flags = flags;
	int events = 0;
	for (size_t pos = 0;;) {
		enum sc_p1_event ev;
		if (pos < s->len) {
			pos += sc_p1_feed(p, s->data + pos, s->len - pos, res);
			ev = res->event;
		} else if ((ev = sc_p1_finish(p, res)) == SC_P1_NEED_MORE) {
			break;
		}
		if (ev == SC_P1_NEED_MORE)
			continue;
		events++;
		cr_assert_eq(ev, SC_P1_TELEGRAM, "%s: %s at %llu: %s", name, sc_p1_event_name(ev),
			     (unsigned long long)res->error_offset, res->detail);
		cr_assert_eq(events, 1, "%s: more than one telegram", name);
		s->res = *res;
		memcpy(s->raw, res->raw, res->raw_len);
		s->raw[res->raw_len] = '\0';
		s->res.raw = s->raw;
	}
	cr_assert_eq(events, 1, "%s: no telegram", name);
	sc_p1_to_reading(&s->res.tg, s->raw, &s->r);
	free(p);
	free(res);
	return s;
}

static void single_free(struct single *s)
{
	free(s->data);
	free(s);
}

/* Quantities given as exact decimals of W, Wh, var, varh or counts compare
 * exactly; voltage, current and PF within 1e-9 relative. */
static bool rq_exact(int q)
{
	return q != SC_RQ_PF;
}

static bool pq_exact(int q)
{
	return q != SC_PQ_U && q != SC_PQ_I;
}

static void check_opt(const char *file, const char *key, const struct sc_opt *got,
		      const struct sc_opt *want, bool exact)
{
	if (!want->set) {
		CHECK(!got->set, "%s: %s should be absent, is %.17g", file, key, got->v);
		return;
	}
	CHECK(got->set, "%s: %s absent, expected %.17g", file, key, want->v);
	if (!got->set)
		return;
	if (exact)
		CHECK(got->v == want->v, "%s: %s = %.17g, expected exactly %.17g", file, key,
		      got->v, want->v);
	else
		CHECK(fabs(got->v - want->v) <= 1e-9 * fabs(want->v),
		      "%s: %s = %.17g, expected %.17g", file, key, got->v, want->v);
}

/* spec: "KEY=VALUE ..." with KEY a power_instant key (P, E_IMPORT, ...), or
 * lN.KEY for phase N (l*.KEY for all three). Every quantity not listed must
 * be absent. */
static void check_reading(const char *file, const struct sc_reading *r, const char *spec)
{
	struct sc_opt want[SC_RQ_COUNT], wph[SC_PHASES][SC_PQ_COUNT];
	memset(want, 0, sizeof want);
	memset(wph, 0, sizeof wph);
	char buf[2048];
	snprintf(buf, sizeof buf, "%s", spec);
	char *save = NULL;
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		cr_assert_not_null(eq, "bad spec token '%s'", tok);
		*eq = '\0';
		char *end;
		double v = strtod(eq + 1, &end);
		cr_assert_eq(*end, '\0', "bad spec value '%s'", eq + 1);
		if (tok[0] == 'l' && tok[1] != '\0' && tok[2] == '.') {
			int q = sc_pq_from_name(tok + 3);
			cr_assert_geq(q, 0, "bad spec key '%s'", tok);
			for (int ph = 0; ph < SC_PHASES; ph++)
				if (tok[1] == '*' || tok[1] == '1' + ph)
					wph[ph][q] = (struct sc_opt){v, true};
		} else {
			int q = sc_rq_from_name(tok);
			cr_assert_geq(q, 0, "bad spec key '%s'", tok);
			want[q] = (struct sc_opt){v, true};
		}
	}
	for (int q = 0; q < SC_RQ_COUNT; q++)
		check_opt(file, sc_rq_name((enum sc_rq)q), &r->q[q], &want[q], rq_exact(q));
	for (int ph = 0; ph < SC_PHASES; ph++) {
		for (int q = 0; q < SC_PQ_COUNT; q++) {
			char key[32];
			snprintf(key, sizeof key, "l%d.%s", ph + 1, sc_pq_name((enum sc_pq)q));
			check_opt(file, key, &r->ph[ph][q], &wph[ph][q], pq_exact(q));
		}
	}
}

static void check_ts(const char *file, const struct sc_reading *r, int64_t ts)
{
	CHECK(r->ts_set && r->ts == ts, "%s: ts %lld (set %d), expected %lld", file,
	      (long long)r->ts, r->ts_set, (long long)ts);
}

struct ident {
	const char *maker, *meter_id;
	enum sc_flavour flavour;
	int version, tariff, phases;
};

static void check_identity(const char *file, const struct sc_reading *r, struct ident w)
{
	CHECK(strcmp(r->maker, w.maker) == 0, "%s: maker '%s', expected '%s'", file, r->maker,
	      w.maker);
	CHECK(strcmp(r->meter_id, w.meter_id) == 0, "%s: meter_id '%s', expected '%s'", file,
	      r->meter_id, w.meter_id);
	CHECK(r->flavour == w.flavour, "%s: flavour %s, expected %s", file,
	      sc_flavour_name(r->flavour), sc_flavour_name(w.flavour));
	CHECK(r->version == w.version, "%s: version %d, expected %d", file, r->version,
	      w.version);
	CHECK(r->tariff == w.tariff, "%s: tariff %d, expected %d", file, r->tariff, w.tariff);
	CHECK(r->phases == w.phases, "%s: phases %d, expected %d", file, r->phases, w.phases);
}

static void check_gas(const char *file, const struct sc_reading *r, double m3, int64_t ts)
{
	CHECK(r->gas_m3.set, "%s: no gas reading, expected %g m3", file, m3);
	CHECK(fabs(r->gas_m3.v - m3) <= 1e-9 * m3, "%s: gas %.17g m3, expected %g", file,
	      r->gas_m3.v, m3);
	CHECK(r->gas_ts == ts, "%s: gas ts %lld, expected %lld", file, (long long)r->gas_ts,
	      (long long)ts);
}

static void check_no_gas(const char *file, const struct sc_reading *r)
{
	CHECK(!r->gas_m3.set, "%s: gas %g m3 where no gas meter is", file, r->gas_m3.v);
}

static void check_time(const char *file, const char *what, const struct sc_p1_time *t,
		       int64_t epoch)
{
	CHECK(t->set && !t->placeholder && t->epoch == epoch,
	      "%s: %s: set %d placeholder %d epoch %lld, expected %lld", file, what, t->set,
	      t->placeholder, (long long)t->epoch, (long long)epoch);
}

static void check_placeholder(const char *file, const char *what, const struct sc_p1_time *t)
{
	CHECK(t->placeholder && !t->set, "%s: %s: set %d placeholder %d, expected a placeholder",
	      file, what, t->set, t->placeholder);
}

/* A decoded value with its unit; exact for W/Wh/var/varh/counts. */
static void check_val(const char *file, const char *what, const struct sc_p1_val *v,
		      double want, enum sc_unit unit, bool exact)
{
	CHECK(v->set, "%s: %s not decoded", file, what);
	CHECK(v->unit == unit, "%s: %s unit %d, expected %d", file, what, v->unit, unit);
	if (exact)
		CHECK(v->v == want, "%s: %s = %.17g, expected exactly %.17g", file, what, v->v,
		      want);
	else
		CHECK(fabs(v->v - want) <= 1e-9 * fabs(want), "%s: %s = %.17g, expected %.17g",
		      file, what, v->v, want);
}

static bool span_is(const char *raw, struct sc_span s, const char *text)
{
	return s.len == strlen(text) && memcmp(raw + s.off, text, s.len) == 0;
}

/* Index of the unknown raw line equal to text (prefix when prefix), -1. */
static int find_unknown(const struct sc_p1_telegram *tg, const char *raw, const char *text,
			bool prefix)
{
	size_t tl = strlen(text);
	for (int i = 0; i < tg->unknown_count && i < SC_P1_MAX_UNKNOWN; i++) {
		struct sc_span s = tg->unknown[i];
		if ((prefix ? s.len >= tl : s.len == tl) && memcmp(raw + s.off, text, tl) == 0)
			return i;
	}
	return -1;
}

static void check_mbus(const char *file, const struct sc_p1_mbus *m, int channel, int type)
{
	CHECK(m->channel == channel, "%s: M-Bus slot %d: channel %d", file, channel, m->channel);
	CHECK(m->device_type == type, "%s: M-Bus channel %d: device type %d, expected %d", file,
	      channel, m->device_type, type);
}

Test(p1_corpus, dsmr42_kaifa)
{
	const char *f = "dsmr42-kaifa.p1";
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	/* DSMR 4.2: no voltages; E_IMPORT is the sum of the two tariffs. */
	check_reading(f, &s->r,
		      "P=2027 P+=2027 P-=0 E_IMPORT=3016829 E_EXPORT=0 S=1626 PF=1 "
		      "PFAIL=15 LPFAIL=7 l1.I=0 l2.I=6 l3.I=2 "
		      "l1.P+=170 l2.P+=1247 l3.P+=209 l*.P-=0 l1.P=170 l2.P=1247 l3.P=209 "
		      "l*.VSAGS=0 l*.VSWELLS=0");
	check_ts(f, &s->r, 1479067077); /* 161113205757W */
	check_identity(f, &s->r,
		       (struct ident){"KFM", "3960221976967177082151037881335713",
				      SC_FLAVOUR_DSMR42, 42, 2, 3});
	check_gas(f, &s->r, 981.443, 1480446000); /* 161129200000W */

	CHECK(span_is(s->raw, tg->header, "KFM5KAIFA-METER"), "%s: header", f);
	CHECK(tg->version == 42 && tg->emucs_version == 0 && tg->has_crc, "%s: version", f);
	check_val(f, "1.8.1", &tg->import_tariff[0], 1581123, SC_UNIT_WH, true);
	check_val(f, "1.8.2", &tg->import_tariff[1], 1435706, SC_UNIT_WH, true);
	CHECK(!tg->import_total.set && !tg->import_tariff[2].set, "%s: no 1.8.0 / 1.8.3", f);
	check_val(f, "1.7.0", &tg->power_import, 2027, SC_UNIT_W, true);
	/* 99.97.0(3)(0-0:96.7.19)(000104180320W)(0000237126*s)(000101000001W)
	 * (2147583646*s)(000102000003W)(2317482647*s) */
	CHECK(tg->failure_log_count == 3, "%s: failure log count %d", f, tg->failure_log_count);
	check_time(f, "failure 1 end", &tg->failure_log[0].end, 947005400);
	CHECK(tg->failure_log[0].duration_s == 237126, "%s: failure 1 duration %.17g", f,
	      tg->failure_log[0].duration_s);
	check_placeholder(f, "failure 2 end 000101000001W", &tg->failure_log[1].end);
	CHECK(tg->failure_log[1].duration_s == 2147583646.0, "%s: failure 2 duration %.17g", f,
	      tg->failure_log[1].duration_s);
	check_time(f, "failure 3 end", &tg->failure_log[2].end, 946767603);
	CHECK(tg->failure_log[2].duration_s == 2317482647.0, "%s: failure 3 duration %.17g", f,
	      tg->failure_log[2].duration_s);
	CHECK(tg->message_code.len == 0 && tg->message.len == 0, "%s: empty messages", f);
	check_mbus(f, &tg->mbus[0], 1, 3);
	CHECK(span_is(s->raw, tg->mbus[0].id, "4819243993373755377509728609491464"),
	      "%s: M-Bus id", f);
	check_time(f, "gas time", &tg->mbus[0].reading_time, 1480446000);
	check_val(f, "gas", &tg->mbus[0].reading, 981.443, SC_UNIT_M3, false);
	CHECK(tg->mbus[0].corrected, "%s: 24.2.1 is the corrected reading", f);
	CHECK(tg->mbus[1].channel == 0, "%s: only one M-Bus channel", f);
	CHECK(tg->unknown_count == 0 && tg->dropped == 0, "%s: %d unknown, %d dropped", f,
	      tg->unknown_count, tg->dropped);
	single_free(s);
}

Test(p1_corpus, dsmr50_am550_two_mbus)
{
	const char *f = "dsmr50-iskra-am550-two-mbus.p1";
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	check_reading(f, &s->r,
		      "P=111 P+=111 P-=0 E_IMPORT=2375582 E_EXPORT=0 S=111 PF=1 PFAIL=5 LPFAIL=3 "
		      "l1.U=229.9 l2.U=229.2 l3.U=222.9 l1.I=0 l2.I=0 l3.I=1 "
		      "l1.P+=56 l2.P+=0 l3.P+=55 l*.P-=0 l1.P=56 l2.P=0 l3.P=55 "
		      "l1.VSAGS=1 l2.VSAGS=1 l3.VSAGS=192 l*.VSWELLS=1");
	check_ts(f, &s->r, 1587933205); /* 200426223325S */
	check_identity(f, &s->r,
		       (struct ident){"ISK", "4530303434303037333832323436303139",
				      SC_FLAVOUR_DSMR50, 50, 1, 3});
	/* Channel 1 holds the placeholder 700101010000W(00000000): gas is on 2. */
	check_gas(f, &s->r, 246.138, 1587933001); /* 200426223001S */

	check_mbus(f, &tg->mbus[0], 1, 3);
	CHECK(tg->mbus[0].id.len == 0, "%s: channel 1 id empty", f);
	check_placeholder(f, "channel 1 time 700101010000W", &tg->mbus[0].reading_time);
	CHECK(tg->mbus[0].reading.set && tg->mbus[0].reading.v == 0,
	      "%s: channel 1 bare (00000000) value", f);
	check_mbus(f, &tg->mbus[1], 2, 3);
	CHECK(span_is(s->raw, tg->mbus[1].id, "4730303339303031393336393930363139"),
	      "%s: channel 2 id", f);
	check_time(f, "channel 2 time", &tg->mbus[1].reading_time, 1587933001);
	check_val(f, "channel 2 gas", &tg->mbus[1].reading, 246.138, SC_UNIT_M3, false);
	CHECK(tg->failure_log_count == 1, "%s: failure log count %d", f, tg->failure_log_count);
	check_time(f, "failure end 190326095015W", &tg->failure_log[0].end, 1553590215);
	CHECK(tg->failure_log[0].duration_s == 2014, "%s: failure duration %.17g", f,
	      tg->failure_log[0].duration_s);
	check_val(f, "l3 sags", &tg->sags[2], 192, SC_UNIT_NONE, true);
	CHECK(tg->unknown_count == 0, "%s: %d unknown", f, tg->unknown_count);
	single_free(s);
}

Test(p1_corpus, dsmr50_mt382)
{
	const char *f = "dsmr50-iskra-mt382.p1";
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	check_reading(f, &s->r,
		      "P=244 P+=244 P-=0 E_IMPORT=6825 E_EXPORT=2444 S=244 PF=1 PFAIL=13 LPFAIL=0 "
		      "l1.U=230 l2.U=230 l3.U=229 l1.I=0.48 l2.I=0.44 l3.I=0.86 "
		      "l1.P+=70 l2.P+=32 l3.P+=142 l*.P-=0 l1.P=70 l2.P=32 l3.P=142 "
		      "l*.VSAGS=0 l*.VSWELLS=0");
	check_ts(f, &s->r, 1483381202); /* 170102192002W */
	check_identity(f, &s->r,
		       (struct ident){"ISk", "4B384547303034303436333935353037", SC_FLAVOUR_DSMR50,
				      50, 2, 3});
	check_gas(f, &s->r, 0.107, 1483369805); /* 170102161005W */
	CHECK(tg->failure_log_count == 0, "%s: 99.97.0(0)(0-0:96.7.19) count %d", f,
	      tg->failure_log_count);
	check_mbus(f, &tg->mbus[1], 2, 3);
	CHECK(!tg->mbus[1].reading.set && tg->mbus[1].id.len == 0,
	      "%s: channel 2 without reading", f);
	CHECK(tg->unknown_count == 0, "%s: %d unknown", f, tg->unknown_count);
	single_free(s);
}

Test(p1_corpus, dsmr50_sagemcom_hungary)
{
	const char *f = "dsmr50-sagemcom-eon-hungary.p1";
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	/* E_IMPORT from 1.8.0 (not 1.8.0 + tariffs); EQ1..EQ4 from 5.8.0..8.8.0;
	 * 5.7.0..8.7.0 are not 3.7.0/4.7.0, so no Q; no phase powers, no S; PF
	 * from P alone (Q taken as 0). The meter's own PF 13.7.0 stays raw. */
	check_reading(f, &s->r,
		      "P=-2601 P+=0 P-=2601 E_IMPORT=173640 E_EXPORT=627177 PF=-1 "
		      "EQ1=668 EQ2=71 EQ3=160487 EQ4=143346 "
		      "l1.U=240.4 l2.U=239.1 l3.U=241.2 l1.I=3 l2.I=4 l3.I=3");
	check_ts(f, &s->r, 1690204050); /* 230724150730S */
	/* No 1-3:0.2.8 and no 96.1.1: the id is 0-0:96.1.0. */
	check_identity(f, &s->r,
		       (struct ident){"SAG", "383930303832323030303032313630", SC_FLAVOUR_DSMR50,
				      0, 1, 3});
	check_no_gas(f, &s->r);

	check_val(f, "1.8.0", &tg->import_total, 173640, SC_UNIT_WH, true);
	check_val(f, "1.8.1", &tg->import_tariff[0], 47719, SC_UNIT_WH, true);
	check_val(f, "1.8.2", &tg->import_tariff[1], 125921, SC_UNIT_WH, true);
	check_val(f, "1.8.3", &tg->import_tariff[2], 0, SC_UNIT_WH, true);
	check_val(f, "1.8.4", &tg->import_tariff[3], 0, SC_UNIT_WH, true);
	check_val(f, "2.8.0", &tg->export_total, 627177, SC_UNIT_WH, true);
	check_val(f, "7.8.0", &tg->reactive_energy_quadrant[2], 160487, SC_UNIT_VARH, true);
	check_val(f, "17.0.0", &tg->limiter, 90000, SC_UNIT_W, true);
	check_val(f, "51.4.0", &tg->fuse[1], 200, SC_UNIT_A, false);
	CHECK(tg->breaker_state == 1, "%s: breaker %d", f, tg->breaker_state);
	CHECK(tg->version == 0 && tg->emucs_version == 0, "%s: no version objects", f);
	/* Kept raw: 42.0.0, 3.8.0, 4.8.0, 15.8.0, 13.7.0, 33.7.0, 53.7.0, 73.7.0,
	 * 14.7.0, 5.7.0..8.7.0 and the billing-history 98.1.0. */
	CHECK(tg->unknown_count == 14, "%s: %d unknown objects, expected 14", f,
	      tg->unknown_count);
	CHECK(find_unknown(tg, s->raw, "1-0:14.7.0(50.00*Hz)", false) >= 0,
	      "%s: frequency line not kept raw", f);
	CHECK(tg->unknown_count > 0 &&
		      span_is(s->raw, tg->unknown[0], "0-0:42.0.0(53414733303832323030303032313630)"),
	      "%s: first unknown line is '%.*s'", f, tg->unknown_count ? tg->unknown[0].len : 0,
	      s->raw + tg->unknown[0].off);
	CHECK(find_unknown(tg, s->raw, "1-0:13.7.0(4.556)", false) >= 0, "%s: PF line raw", f);
	CHECK(find_unknown(tg, s->raw, "0-0:98.1.0(230701000000S)(000040.777*kWh)", true) >= 0,
	      "%s: billing history kept raw", f);
	CHECK(tg->demand_hist_count == -1, "%s: demand history count %d", f,
	      tg->demand_hist_count);
	single_free(s);
}

Test(p1_corpus, dsmr50_sagemcom_austria)
{
	const char *f = "dsmr50-sagemcom-t210dr-austria.p1";
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	/* Units Wh/W/var; E_IMPORT = 1.8.0, not 1.8.0 + 1.8.1 + 1.8.2; PF =
	 * 286 / sqrt(286^2 + 166^2). */
	check_reading(f, &s->r,
		      "P=286 P+=286 P-=0 E_IMPORT=6545766 E_EXPORT=58 Q=-166 Q+=0 Q-=166 "
		      "PF=0.86487365431329455");
	check_ts(f, &s->r, 1665064214); /* 221006155014S */
	check_identity(f, &s->r, (struct ident){"EST", "", SC_FLAVOUR_DSMR50, 50, 0, 0});
	check_no_gas(f, &s->r);
	check_val(f, "1.8.0", &tg->import_total, 6545766, SC_UNIT_WH, true);
	check_val(f, "1.8.1", &tg->import_tariff[0], 5017120, SC_UNIT_WH, true);
	check_val(f, "1.8.2", &tg->import_tariff[1], 1528646, SC_UNIT_WH, true);
	check_val(f, "2.8.2", &tg->export_tariff[1], 58, SC_UNIT_WH, true);
	check_val(f, "1.7.0", &tg->power_import, 286, SC_UNIT_W, true);
	check_val(f, "4.7.0", &tg->reactive_export, 166, SC_UNIT_VAR, true);
	CHECK(tg->equipment_id.len == 0, "%s: no equipment id", f);
	/* 3.8.0..3.8.2 and 4.8.0..4.8.2 are not in the model. */
	CHECK(tg->unknown_count == 6, "%s: %d unknown objects, expected 6", f,
	      tg->unknown_count);
	CHECK(find_unknown(tg, s->raw, "1-0:3.8.0(000000747*varh)", false) >= 0,
	      "%s: 3.8.0 not kept raw", f);
	single_free(s);
}

Test(p1_corpus, dsmr50_warmtelink_unpadded_crc)
{
	const char *f = WARMTELINK;
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	CHECK(s->res.crc_present && s->res.crc_sent == 0xB9F && s->res.crc_calc == 0xB9F,
	      "%s: CRC sent %04X computed %04X", f, s->res.crc_sent, s->res.crc_calc);
	CHECK(s->res.raw_len >= 4 && memcmp(s->raw + s->res.raw_len - 4, "!B9F", 4) == 0,
	      "%s: raw does not end in !B9F", f);
	check_reading(f, &s->r, "");
	check_ts(f, &s->r, 1771182323); /* 260215200523W */
	check_identity(f, &s->r,
		       (struct ident){"NWA", "ADC3100000158491", SC_FLAVOUR_DSMR50, 50, 0, 0});
	check_no_gas(f, &s->r); /* a heat meter (device type 4) is not gas */
	check_mbus(f, &tg->mbus[0], 1, 4);
	check_val(f, "heat", &tg->mbus[0].reading, 240.86, SC_UNIT_GJ, false);
	check_time(f, "heat time", &tg->mbus[0].reading_time, 1771182323);
	CHECK(tg->unknown_count == 0, "%s: %d unknown", f, tg->unknown_count);
	single_free(s);
}

Test(p1_corpus, emucs_fluvius)
{
	const char *f = "emucs171-fluvius-3phase.p1";
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	/* All powers 0: S = 0, and no PF (P = Q = 0). */
	check_reading(f, &s->r,
		      "P=0 P+=0 P-=0 E_IMPORT=15792 E_EXPORT=11 S=0 "
		      "l*.U=234.7 l*.I=0 l*.P+=0 l*.P-=0 l*.P=0");
	check_ts(f, &s->r, 1589284449); /* 200512135409S */
	check_identity(f, &s->r,
		       (struct ident){"FLU", "3153414733313031303231363035", SC_FLAVOUR_EMUCS,
				      50217, 1, 3});
	check_gas(f, &s->r, 112.384, 1589283958); /* 200512134558S, 24.2.3 */

	CHECK(tg->emucs_version == 50217 && tg->version == 0, "%s: versions %d %d", f,
	      tg->emucs_version, tg->version);
	check_val(f, "1.4.0", &tg->demand_avg, 2351, SC_UNIT_W, true);
	check_time(f, "1.6.0 time", &tg->demand_max_time, 1589024758); /* 200509134558S */
	check_val(f, "1.6.0", &tg->demand_max, 2589, SC_UNIT_W, true);
	CHECK(tg->demand_hist_count == 3, "%s: demand history count %d", f,
	      tg->demand_hist_count);
	static const int64_t month[3] = {1588284000, 1585692000, 1583013600};
	static const int64_t when[3] = {1587662738, 1583403699, 1581303261};
	static const double kw[3] = {3695, 5980, 4318};
	for (int k = 0; k < 3; k++) {
		char what[40];
		snprintf(what, sizeof what, "98.1.0 entry %d month", k + 1);
		check_time(f, what, &tg->demand_hist[k].month, month[k]);
		snprintf(what, sizeof what, "98.1.0 entry %d peak time", k + 1);
		check_time(f, what, &tg->demand_hist[k].when, when[k]);
		CHECK(tg->demand_hist[k].w == kw[k], "%s: 98.1.0 entry %d: %.17g W, expected %g",
		      f, k + 1, tg->demand_hist[k].w, kw[k]);
	}
	CHECK(tg->breaker_state == 1, "%s: breaker %d", f, tg->breaker_state);
	check_val(f, "17.0.0", &tg->limiter, 999900, SC_UNIT_W, true);
	check_val(f, "31.4.0", &tg->fuse[0], 999, SC_UNIT_A, false);
	check_mbus(f, &tg->mbus[0], 1, 3);
	CHECK(!tg->mbus[0].corrected && tg->mbus[0].valve == 1,
	      "%s: 24.2.3 is not corrected; valve %d", f, tg->mbus[0].valve);
	check_mbus(f, &tg->mbus[1], 2, 7);
	check_val(f, "water", &tg->mbus[1].reading, 872.234, SC_UNIT_M3, false);
	CHECK(tg->unknown_count == 0, "%s: %d unknown", f, tg->unknown_count);
	single_free(s);
}

Test(p1_corpus, emucs_fluvius_alt_placeholder_history)
{
	const char *f = "emucs171-fluvius-3phase-alt.p1";
	struct single *s = parse_single(f, 0);
	const struct sc_p1_telegram *tg = &s->res.tg;
	/* Currents with two decimals; P / S = 338 / 337 limited to 1. */
	check_reading(f, &s->r,
		      "P=338 P+=338 P-=0 E_IMPORT=571562 E_EXPORT=5 S=337 PF=1 "
		      "l1.U=232.9 l2.U=228.1 l3.U=228.1 l1.I=0.27 l2.I=0.88 l3.I=0.52 "
		      "l1.P+=47 l2.P+=179 l3.P+=111 l*.P-=0 l1.P=47 l2.P=179 l3.P=111");
	check_ts(f, &s->r, 1698923748); /* 231102121548W */
	check_identity(f, &s->r,
		       (struct ident){"FLU", "3153414733313030373231333236", SC_FLAVOUR_EMUCS,
				      50217, 1, 3});
	/* Gas from channel 1 (type 003, 24.2.3), not channel 2 (water 007). */
	check_gas(f, &s->r, 92.287, 1698923402); /* 231102121002W */

	check_val(f, "1.4.0", &tg->demand_avg, 52, SC_UNIT_W, true);
	check_time(f, "1.6.0 time", &tg->demand_max_time, 1698921900); /* 231102114500W */
	check_val(f, "1.6.0", &tg->demand_max, 3064, SC_UNIT_W, true);
	CHECK(tg->demand_hist_count == 4, "%s: demand history count %d", f,
	      tg->demand_hist_count);
	check_time(f, "98.1.0 entry 1 month", &tg->demand_hist[0].month, 1690840800);
	check_placeholder(f, "98.1.0 entry 1 peak time 632525252525W", &tg->demand_hist[0].when);
	CHECK(tg->demand_hist[0].w == 0, "%s: 98.1.0 entry 1: %g W", f, tg->demand_hist[0].w);
	static const int64_t month[3] = {1693519200, 1696111200, 1698793200};
	static const int64_t when[3] = {1693498500, 1694363400, 1697454000};
	static const double kw[3] = {1862, 4229, 4927};
	for (int k = 0; k < 3; k++) {
		char what[40];
		snprintf(what, sizeof what, "98.1.0 entry %d month", k + 2);
		check_time(f, what, &tg->demand_hist[k + 1].month, month[k]);
		snprintf(what, sizeof what, "98.1.0 entry %d peak time", k + 2);
		check_time(f, what, &tg->demand_hist[k + 1].when, when[k]);
		CHECK(tg->demand_hist[k + 1].w == kw[k],
		      "%s: 98.1.0 entry %d: %.17g W, expected %g", f, k + 2,
		      tg->demand_hist[k + 1].w, kw[k]);
	}
	check_mbus(f, &tg->mbus[0], 1, 3);
	check_val(f, "gas", &tg->mbus[0].reading, 92.287, SC_UNIT_M3, false);
	check_mbus(f, &tg->mbus[1], 2, 7);
	check_val(f, "water", &tg->mbus[1].reading, 8.579, SC_UNIT_M3, false);
	check_time(f, "water time", &tg->mbus[1].reading_time, 1698923732);
	CHECK(span_is(s->raw, tg->mbus[1].id, "3853455430303030393631313733"), "%s: water id", f);
	check_val(f, "l2 current", &tg->current[1], 0.88, SC_UNIT_A, false);
	CHECK(tg->unknown_count == 0, "%s: %d unknown", f, tg->unknown_count);
	single_free(s);
}

Test(p1_corpus, dsmr22_decodes_with_no_crc_and_any_version)
{
	const char *f = OLD_DSMR22;
	struct single *s = parse_single(f, SC_P1_NO_CRC | SC_P1_ANY_VERSION);
	const struct sc_p1_telegram *tg = &s->res.tg;
	CHECK(!tg->has_crc && !s->res.crc_present, "%s: no CRC", f);
	check_reading(f, &s->r, "P=1010 P+=1010 P-=0 E_IMPORT=2002 E_EXPORT=2002 PF=1");
	CHECK(!s->r.ts_set, "%s: no 0-0:1.0.0, yet ts %lld", f, (long long)s->r.ts);
	CHECK(strcmp(s->r.maker, "ISk") == 0 && strcmp(s->r.meter_id, "00000000000000") == 0 &&
		      s->r.version == 0 && s->r.tariff == 1 && s->r.phases == 0,
	      "%s: identity %s %s v%d t%d ph%d", f, s->r.maker, s->r.meter_id, s->r.version,
	      s->r.tariff, s->r.phases);
	check_no_gas(f, &s->r); /* 2.2 gas (24.3.0 + next line) is not decoded */
	check_mbus(f, &tg->mbus[0], 1, 3);
	CHECK(tg->mbus[0].valve == 1, "%s: valve %d", f, tg->mbus[0].valve);
	CHECK(tg->unknown_count == 2, "%s: %d unknown lines, expected 2", f, tg->unknown_count);
	CHECK(find_unknown(tg, s->raw, "(00001.001)", false) >= 0,
	      "%s: gas continuation line not kept raw", f);
	check_val(f, "17.0.0", &tg->limiter, 999000, SC_UNIT_W, true);
	single_free(s);
}

/* ------------------------------------------------------------------------
 * 3. The AM550 capture against an independent oracle.
 *
 * The oracle splits the file on LF, starts a telegram at a line beginning
 * with '/' and ends it at a line beginning with '!'. Values are read with
 * strncmp/strtod; exact quantities as integers (decimal point removed,
 * scaled by powers of ten). Its CRC is a bitwise CRC-16/ARC and its clock a
 * count of days from 1970. */

struct o_num {
	bool set;
	double v;
};

struct o_tg {
	size_t off, len; /* '/' .. last CRC digit */
	unsigned crc_sent, crc_calc;
	int crc_digits;
	bool ts_set;
	long long ts;
	char maker[4];
	char meter_id[64];
	int version, tariff;
	struct o_num q[SC_RQ_COUNT];
	struct o_num ph[SC_PHASES][SC_PQ_COUNT];
};

#define O_MAX_LINES 96

struct o_lines {
	int n;
	const char *s[O_MAX_LINES];
	size_t len[O_MAX_LINES];
};

static unsigned o_crc16(const char *s, size_t n)
{
	unsigned crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (unsigned char)s[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1u) ? (crc >> 1) ^ 0xA001u : crc >> 1;
	}
	return crc & 0xFFFFu;
}

static bool o_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static long long o_days(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long long days = 0;
	for (int yy = 1970; yy < y; yy++)
		days += o_leap(yy) ? 366 : 365;
	for (int mm = 1; mm < m; mm++)
		days += mdays[mm - 1] + (mm == 2 && o_leap(y) ? 1 : 0);
	return days + d - 1;
}

/* The text between "OBIS(" and the next ')' of the first line with that
 * OBIS code, copied into val. */
static bool o_value(const struct o_lines *L, const char *obis, char *val, size_t cap)
{
	size_t ol = strlen(obis);
	for (int i = 0; i < L->n; i++) {
		const char *s = L->s[i];
		size_t n = L->len[i];
		if (n > ol && strncmp(s, obis, ol) == 0 && s[ol] == '(') {
			size_t k = ol + 1, start = k;
			while (k < n && s[k] != ')')
				k++;
			if (k >= n || k - start >= cap)
				return false;
			memcpy(val, s + start, k - start);
			val[k - start] = '\0';
			return true;
		}
	}
	return false;
}

/* An exact value: digits with an optional '.', then "*unit" (or nothing
 * when unit is ""), scaled to an integer by 10^scale (3 for kW, kWh). */
static bool o_fixed(const struct o_lines *L, const char *obis, const char *unit, int scale,
		    long long *out)
{
	char v[64];
	if (!o_value(L, obis, v, sizeof v))
		return false;
	long long mant = 0;
	int frac = -1;
	size_t i = 0;
	for (; v[i] != '\0' && v[i] != '*'; i++) {
		if (v[i] == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (v[i] < '0' || v[i] > '9')
			return false;
		mant = mant * 10 + (v[i] - '0');
		if (frac >= 0)
			frac++;
	}
	if (frac < 0)
		frac = 0;
	if (unit[0] != '\0' ? v[i] != '*' || strcmp(v + i + 1, unit) != 0 : v[i] != '\0')
		return false;
	if (frac > scale)
		return false;
	for (int k = frac; k < scale; k++)
		mant *= 10;
	*out = mant;
	return true;
}

/* A real value read with strtod, followed by "*unit". */
static bool o_real(const struct o_lines *L, const char *obis, const char *unit, double *out)
{
	char v[64], *end;
	if (!o_value(L, obis, v, sizeof v))
		return false;
	*out = strtod(v, &end);
	return end != v && *end == '*' && strcmp(end + 1, unit) == 0;
}

static void o_set_fixed(struct o_num *n, const struct o_lines *L, const char *obis,
			const char *unit, int scale)
{
	long long v;
	n->set = o_fixed(L, obis, unit, scale, &v);
	n->v = n->set ? (double)v : 0;
}

static void o_fill(const char *hdr, size_t hdr_len, const struct o_lines *L, struct o_tg *t)
{
	char v[64];

	memset(t->maker, 0, sizeof t->maker);
	memcpy(t->maker, hdr + 1, hdr_len > 4 ? 3 : hdr_len - 1);
	if (o_value(L, "0-0:96.1.1", v, sizeof v))
		snprintf(t->meter_id, sizeof t->meter_id, "%s", v);
	t->version = o_value(L, "1-3:0.2.8", v, sizeof v) ? atoi(v) : 0;
	t->tariff = o_value(L, "0-0:96.14.0", v, sizeof v) ? atoi(v) : 0;

	int yy, mo, dd, hh, mi, ss;
	char dst;
	if (o_value(L, "0-0:1.0.0", v, sizeof v) && strlen(v) == 13 &&
	    sscanf(v, "%2d%2d%2d%2d%2d%2d%c", &yy, &mo, &dd, &hh, &mi, &ss, &dst) == 7 &&
	    (dst == 'S' || dst == 'W')) {
		t->ts_set = true;
		t->ts = o_days(2000 + yy, mo, dd) * 86400 + hh * 3600 + mi * 60 + ss -
			(dst == 'S' ? 7200 : 3600);
	}

	struct o_num *q = t->q;
	o_set_fixed(&q[SC_RQ_P_PLUS], L, "1-0:1.7.0", "kW", 3);
	o_set_fixed(&q[SC_RQ_P_MINUS], L, "1-0:2.7.0", "kW", 3);
	if (q[SC_RQ_P_PLUS].set && q[SC_RQ_P_MINUS].set)
		q[SC_RQ_P] = (struct o_num){true, q[SC_RQ_P_PLUS].v - q[SC_RQ_P_MINUS].v};
	/* Energy: the total when sent, else the sum of the tariffs. */
	static const char *const imp[5] = {"1-0:1.8.0", "1-0:1.8.1", "1-0:1.8.2", "1-0:1.8.3",
					   "1-0:1.8.4"};
	static const char *const exp_[5] = {"1-0:2.8.0", "1-0:2.8.1", "1-0:2.8.2", "1-0:2.8.3",
					    "1-0:2.8.4"};
	for (int dir = 0; dir < 2; dir++) {
		const char *const *codes = dir == 0 ? imp : exp_;
		struct o_num *out = &q[dir == 0 ? SC_RQ_E_IMPORT : SC_RQ_E_EXPORT];
		long long total, sum = 0, part;
		bool any = false;
		if (o_fixed(L, codes[0], "kWh", 3, &total)) {
			*out = (struct o_num){true, (double)total};
			continue;
		}
		for (int k = 1; k < 5; k++) {
			if (o_fixed(L, codes[k], "kWh", 3, &part)) {
				sum += part;
				any = true;
			}
		}
		if (any)
			*out = (struct o_num){true, (double)sum};
	}
	o_set_fixed(&q[SC_RQ_PFAIL], L, "0-0:96.7.21", "", 0);
	o_set_fixed(&q[SC_RQ_LPFAIL], L, "0-0:96.7.9", "", 0);

	static const char *const c_u[3] = {"1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0"};
	static const char *const c_i[3] = {"1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"};
	static const char *const c_pp[3] = {"1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0"};
	static const char *const c_pm[3] = {"1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0"};
	static const char *const c_sag[3] = {"1-0:32.32.0", "1-0:52.32.0", "1-0:72.32.0"};
	static const char *const c_swl[3] = {"1-0:32.36.0", "1-0:52.36.0", "1-0:72.36.0"};
	long long s = 0;
	int with_p = 0;
	for (int ph = 0; ph < 3; ph++) {
		struct o_num *p = t->ph[ph];
		double d;
		if (o_real(L, c_u[ph], "V", &d))
			p[SC_PQ_U] = (struct o_num){true, d};
		if (o_real(L, c_i[ph], "A", &d))
			p[SC_PQ_I] = (struct o_num){true, d};
		o_set_fixed(&p[SC_PQ_P_PLUS], L, c_pp[ph], "kW", 3);
		o_set_fixed(&p[SC_PQ_P_MINUS], L, c_pm[ph], "kW", 3);
		if (p[SC_PQ_P_PLUS].set && p[SC_PQ_P_MINUS].set) {
			p[SC_PQ_P] = (struct o_num){true, p[SC_PQ_P_PLUS].v - p[SC_PQ_P_MINUS].v};
			long long pw = (long long)p[SC_PQ_P].v;
			s += pw < 0 ? -pw : pw;
			with_p++;
		}
		o_set_fixed(&p[SC_PQ_VSAGS], L, c_sag[ph], "", 0);
		o_set_fixed(&p[SC_PQ_VSWELLS], L, c_swl[ph], "", 0);
	}
	/* S = sum of |phase P| (all three sent). PF = P / sqrt(P^2 + Q^2): the
	 * AM550 sends no reactive power (3.7.0/4.7.0), so Q = 0 and PF is the
	 * sign of P, absent for P = 0. */
	if (with_p == 3)
		q[SC_RQ_S] = (struct o_num){true, (double)s};
	if (q[SC_RQ_P].set && q[SC_RQ_P].v != 0)
		q[SC_RQ_PF] = (struct o_num){true, q[SC_RQ_P].v > 0 ? 1.0 : -1.0};
}

/* Every telegram of a capture, read the oracle's way; returns the count. */
static size_t oracle_run(const char *data, size_t len, struct o_tg **out)
{
	size_t n = 0, cap = 64;
	struct o_tg *t = calloc(cap, sizeof *t);
	cr_assert_not_null(t);
	static struct o_lines L;
	bool in = false;
	size_t start = 0, hdr_len = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t next = nl ? end + 1 : len;
		size_t l = end - pos;
		if (l > 0 && data[end - 1] == '\r')
			l--;
		const char *s = data + pos;
		if (l > 0 && s[0] == '/') {
			in = true;
			start = pos;
			hdr_len = l;
			L.n = 0;
		} else if (in && l > 0 && s[0] == '!') {
			if (n == cap) {
				cap *= 2;
				t = realloc(t, cap * sizeof *t);
				cr_assert_not_null(t);
			}
			struct o_tg *o = &t[n++];
			memset(o, 0, sizeof *o);
			o->off = start;
			o->len = pos + l - start;
			o->crc_calc = o_crc16(data + start, pos + 1 - start);
			char hex[8] = {0};
			o->crc_digits = (int)(l - 1);
			memcpy(hex, s + 1, l - 1 < 7 ? l - 1 : 7);
			o->crc_sent = (unsigned)strtoul(hex, NULL, 16);
			o_fill(data + start, hdr_len, &L, o);
			in = false;
		} else if (in && l > 0) {
			cr_assert_lt(L.n, O_MAX_LINES, "oracle: telegram with too many lines");
			L.s[L.n] = s;
			L.len[L.n] = l;
			L.n++;
		}
		pos = next;
	}
	*out = t;
	return n;
}

static void compare_with_oracle(size_t k, const struct o_tg *o, const struct ev_rec *e)
{
	char f[48];
	snprintf(f, sizeof f, "AM550 telegram %zu", k + 1);
	CHECK(e->ev == SC_P1_TELEGRAM, "%s: %s: %s", f, sc_p1_event_name(e->ev), e->detail);
	if (e->ev != SC_P1_TELEGRAM)
		return;
	CHECK(e->offset == o->off && e->length == o->len,
	      "%s: event at %llu+%llu, oracle %zu+%zu", f, (unsigned long long)e->offset,
	      (unsigned long long)e->length, o->off, o->len);
	CHECK(e->crc_sent == o->crc_sent && e->crc_calc == o->crc_calc,
	      "%s: CRC sent %04X computed %04X, oracle %04X %04X", f, e->crc_sent, e->crc_calc,
	      o->crc_sent, o->crc_calc);
	const struct sc_reading *r = &e->r;
	CHECK(r->ts_set == o->ts_set && r->ts == o->ts, "%s: ts %lld, oracle %lld", f,
	      (long long)r->ts, o->ts);
	for (int q = 0; q < SC_RQ_COUNT; q++) {
		struct sc_opt w = {o->q[q].v, o->q[q].set};
		check_opt(f, sc_rq_name((enum sc_rq)q), &r->q[q], &w, rq_exact(q));
	}
	for (int ph = 0; ph < SC_PHASES; ph++) {
		for (int q = 0; q < SC_PQ_COUNT; q++) {
			char key[24];
			snprintf(key, sizeof key, "l%d.%s", ph + 1, sc_pq_name((enum sc_pq)q));
			struct sc_opt w = {o->ph[ph][q].v, o->ph[ph][q].set};
			check_opt(f, key, &r->ph[ph][q], &w, pq_exact(q));
		}
	}
	check_identity(f, r,
		       (struct ident){o->maker, o->meter_id, SC_FLAVOUR_DSMR50, o->version,
				      o->tariff, 3});
	check_no_gas(f, r);
}

Test(p1_corpus, am550_566_telegrams_match_the_oracle)
{
	size_t len;
	char *data = load(AM550, &len);

	/* The oracle's own CRC and clock first. */
	cr_assert_eq(o_crc16("123456789", 9), 0xBB3Du, "oracle CRC-16/ARC check value");
	cr_assert_eq(o_days(2019, 3, 24), 17979, "oracle days of 2019-03-24");
	cr_assert_eq(o_days(2000, 3, 1), 11017, "oracle days of 2000-03-01 (leap year)");

	struct o_tg *o;
	size_t n = oracle_run(data, len, &o);
	cr_assert_eq(n, AM550_TELEGRAMS, "oracle finds %zu telegrams", n);
	for (size_t k = 0; k < n; k++) {
		CHECK(o[k].crc_digits == 4 && o[k].crc_sent == o[k].crc_calc,
		      "oracle: telegram %zu CRC %04X, computed %04X", k + 1, o[k].crc_sent,
		      o[k].crc_calc);
		CHECK(o[k].ts_set, "oracle: telegram %zu without time", k + 1);
		if (k > 0)
			CHECK(o[k].ts > o[k - 1].ts, "oracle: telegram %zu not after the last",
			      k + 1);
	}
	/* 190324150519W and 190324151445W: 14:05:19 and 14:14:45 UTC. */
	cr_assert_eq(o[0].ts, 1553436319);
	cr_assert_eq(o[n - 1].ts, 1553436319 + 9 * 60 + 26);

	struct events ev = {0};
	struct chunker whole = {CHUNK_WHOLE, 0, 0, 0};
	feed(data, len, 0, &whole, &ev);
	CHECK(ev.n == n, "parser gives %zu events, oracle %zu telegrams", ev.n, n);
	for (size_t k = 0; k < n && k < ev.n; k++)
		compare_with_oracle(k, &o[k], &ev.e[k]);
	cr_assert_gt(ev.n, 0);
	cr_assert_eq(ev.e[0].r.ts, 1553436319);
	cr_assert_eq(ev.e[ev.n - 1].r.ts, 1553436885);
	/* The first telegram: P 378 W over phases 45 + 10 + 322 = 377 W. */
	cr_assert_eq(ev.e[0].r.q[SC_RQ_P].v, 378);
	cr_assert_eq(ev.e[0].r.q[SC_RQ_S].v, 377);
	cr_assert_eq(ev.e[0].r.q[SC_RQ_PF].v, 1.0);

	events_free(&ev);
	free(o);
	free(data);
}
