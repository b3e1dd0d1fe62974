/* The TIC parser's fast path against its byte-by-byte reference
 * (SC_TIC_REFERENCE): the sixteen-bytes-at-a-time scans (frame end, group
 * end, the group's checksum, bit 7, control bytes and separators) and the
 * incremental decode against the last frame (a history, tic.h). Two parsers
 * fed the same chunks give the same events, offsets, details, group errors
 * and decoded frames, on every field and generated capture, fed whole and
 * in pieces, on many damaged copies of them, and on sequences of frames
 * that differ from the one before as meters' and damaged lines' do (a group
 * added or removed, a label changed in place, a value of another width, a
 * damaged or historic frame between good ones). The reference decodes each
 * frame alone. fuzz_tic does the same on fuzzed input. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slurp.h"
#include "tic.h"

static struct sc_tic_parser fast_p, ref_p;
static struct sc_tic_result fast_r, ref_r;
static struct sc_tic_history history;

static void same_results(size_t fast_used, size_t ref_used, const char *what)
{
	const struct sc_tic_result *a = &fast_r, *b = &ref_r;
	cr_assert_eq(fast_used, ref_used, "%s: used %zu, reference %zu", what, fast_used,
		     ref_used);
	cr_assert_eq(a->event, b->event, "%s: event %s, reference %s", what,
		     sc_tic_event_name(a->event), sc_tic_event_name(b->event));
	cr_assert_eq(a->offset, b->offset, "%s", what);
	cr_assert_eq(a->length, b->length, "%s", what);
	cr_assert_eq(a->error_offset, b->error_offset, "%s", what);
	cr_assert_eq(a->raw_len, b->raw_len, "%s", what);
	cr_assert_eq(a->raw == NULL, b->raw == NULL, "%s", what);
	if (a->raw)
		cr_assert(memcmp(a->raw, b->raw, a->raw_len) == 0, "%s: raw bytes", what);
	cr_assert_eq(a->nerrors, b->nerrors, "%s", what);
	cr_assert_eq(a->nchecksum, b->nchecksum, "%s", what);
	cr_assert_eq(a->nlength, b->nlength, "%s", what);
	cr_assert_eq(a->nsyntax, b->nsyntax, "%s", what);
	cr_assert_eq(a->nbit7, b->nbit7, "%s", what);
	cr_assert_str_eq(a->detail, b->detail, "%s", what);
	for (int k = 0; k < a->nerrors && k < SC_TIC_MAX_ERRORS; k++) {
		cr_assert_eq(a->errors[k].kind, b->errors[k].kind, "%s: error %d", what, k);
		cr_assert_eq(a->errors[k].offset, b->errors[k].offset, "%s: error %d", what, k);
		cr_assert_str_eq(a->errors[k].label, b->errors[k].label, "%s: error %d", what, k);
	}
	if (a->event == SC_TIC_FRAME)
		cr_assert(memcmp(&a->frame, &b->frame, sizeof a->frame) == 0, "%s: frames differ",
			  what);
}

/* Feeds data to both parsers in chunks of size chunk; returns the frames. */
static int both_ways(const char *data, size_t len, size_t chunk, const char *what)
{
	int frames = 0;
	memset(&fast_p, 0, sizeof fast_p);
	memset(&ref_p, 0, sizeof ref_p);
	memset(&history, 0, sizeof history);
	fast_p.history = &history;
	ref_p.flags = SC_TIC_REFERENCE;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < chunk ? len - off : chunk;
		size_t used = sc_tic_feed(&fast_p, data + off, n, &fast_r);
		same_results(used, sc_tic_feed(&ref_p, data + off, n, &ref_r), what);
		frames += fast_r.event == SC_TIC_FRAME;
		off += used;
	}
	for (;;) {
		enum sc_tic_event ev = sc_tic_finish(&fast_p, &fast_r);
		sc_tic_finish(&ref_p, &ref_r);
		same_results(0, 0, what);
		if (ev == SC_TIC_NEED_MORE)
			break;
		frames += ev == SC_TIC_FRAME;
	}
	return frames;
}

struct capture {
	char *data;
	size_t len;
	char name[256];
};

static struct capture caps[32];
static int ncaps;

static void load_all(void)
{
	const char *dirs[] = {SC_CORPUS_DIR "/tic", SC_SOURCE_DIR "/corpus/tic"};
	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
		DIR *dir = opendir(dirs[d]);
		cr_assert_not_null(dir, "cannot open %s", dirs[d]);
		struct dirent *e;
		while ((e = readdir(dir)) != NULL && ncaps < 32) {
			size_t n = strlen(e->d_name);
			if (n < 5 || (strcmp(e->d_name + n - 4, ".tic") != 0 &&
				      strcmp(e->d_name + n - 4, ".log") != 0))
				continue;
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
			caps[ncaps].data = slurp(path, &caps[ncaps].len);
			snprintf(caps[ncaps].name, sizeof caps[ncaps].name, "%s", e->d_name);
			ncaps++;
		}
		closedir(dir);
	}
	cr_assert_geq(ncaps, 7, "only %d TIC captures found", ncaps);
}

static void free_all(void)
{
	for (int i = 0; i < ncaps; i++)
		free(caps[i].data);
	ncaps = 0;
}

TestSuite(tic_fastpath, .init = load_all, .fini = free_all);

Test(tic_fastpath, every_capture_whole_and_in_pieces)
{
	const size_t chunks[] = {1, 2, 7, 16, 17, 64, 1000, 65536};
	int frames = 0;
	for (int i = 0; i < ncaps; i++) {
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
			char what[300];
			snprintf(what, sizeof what, "%s in chunks of %zu", caps[i].name, chunks[c]);
			frames += both_ways(caps[i].data, caps[i].len, chunks[c], what);
		}
	}
	cr_assert_geq(frames, 8 * 20, "only %d frames parsed", frames);
}

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Bytes that change a frame's or a group's shape. */
static const unsigned char nasty[] = {0x02, 0x03, 0x04, '\n', '\r', '\t', ' ', 0x82, 0x8A,
				      0x8D, 0x83, 0x00, 0x1F, 0x7F, 0xFF, '/', 'A', '0'};

Test(tic_fastpath, damaged_captures)
{
	uint32_t s = 31;
	for (int i = 0; i < ncaps; i++) {
		size_t cap = caps[i].len + 64;
		char *buf = malloc(cap);
		cr_assert_not_null(buf);
		for (int m = 0; m < 150; m++) {
			size_t len = caps[i].len;
			memcpy(buf, caps[i].data, len);
			int edits = 1 + (int)(rnd(&s) % 8);
			for (int k = 0; k < edits && len > 1; k++) {
				size_t at = rnd(&s) % len;
				unsigned char b = (rnd(&s) & 1) ? nasty[rnd(&s) % sizeof nasty]
								 : (unsigned char)rnd(&s);
				if (rnd(&s) % 4 == 0 && len + 1 < cap) {
					memmove(buf + at + 1, buf + at, len - at);
					len++;
				}
				buf[at] = (char)b;
			}
			char what[300];
			snprintf(what, sizeof what, "%s damage %d", caps[i].name, m);
			both_ways(buf, len, 1 + rnd(&s) % 300, what);
		}
		free(buf);
	}
}

/* ---- sequences of frames ---- */

#define MAXG 64

/* A frame as its groups' text (label HT [horodate HT] data, without the
 * checksum), rebuilt with right checksums unless a group is marked bad. */
struct groups {
	int n;
	char g[MAXG][128];
	bool bad[MAXG];
};

/* The groups of the first frame of data. */
static void split_groups(struct groups *gs, const char *data, size_t len)
{
	memset(gs, 0, sizeof *gs);
	const char *p = memchr(data, 0x02, len), *end = data + len;
	cr_assert_not_null(p);
	while (p < end && *p != 0x03) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *etx = memchr(p, 0x03, (size_t)(end - p));
		if (!lf || (etx && etx < lf))
			break;
		const char *cr = memchr(lf, '\r', (size_t)(end - lf));
		cr_assert_not_null(cr);
		/* without the HT and the checksum before the CR */
		size_t n = (size_t)(cr - lf - 1) - 2;
		cr_assert(n < sizeof gs->g[0] && gs->n < MAXG);
		memcpy(gs->g[gs->n], lf + 1, n);
		gs->g[gs->n][n] = '\0';
		gs->n++;
		p = cr + 1;
	}
	cr_assert_geq(gs->n, 20);
}

static int find_group(const struct groups *gs, const char *label)
{
	size_t n = strlen(label);
	for (int i = 0; i < gs->n; i++)
		if (strncmp(gs->g[i], label, n) == 0 && gs->g[i][n] == '\t')
			return i;
	cr_assert_fail("no group %s", label);
	return -1;
}

static size_t build(const struct groups *gs, char *out)
{
	size_t n = 0;
	out[n++] = 0x02;
	for (int i = 0; i < gs->n; i++) {
		size_t l = strlen(gs->g[i]);
		out[n++] = '\n';
		memcpy(out + n, gs->g[i], l);
		n += l;
		out[n++] = '\t';
		/* the checksum covers the HT before it */
		char sum = sc_tic_checksum(out + n - l - 1, l + 1);
		out[n++] = gs->bad[i] ? (char)(sum == '!' ? '"' : '!') : sum;
		out[n++] = '\r';
	}
	out[n++] = 0x03;
	return n;
}

static void set_group(struct groups *gs, int i, const char *text)
{
	cr_assert(strlen(text) < sizeof gs->g[0]);
	strcpy(gs->g[i], text);
}

static void insert_group(struct groups *gs, int at, const char *text)
{
	cr_assert(gs->n < MAXG);
	memmove(&gs->g[at + 1], &gs->g[at], (size_t)(gs->n - at) * sizeof gs->g[0]);
	memmove(&gs->bad[at + 1], &gs->bad[at], (size_t)(gs->n - at) * sizeof gs->bad[0]);
	gs->n++;
	gs->bad[at] = false;
	set_group(gs, at, text);
}

static void remove_group(struct groups *gs, int at)
{
	memmove(&gs->g[at], &gs->g[at + 1], (size_t)(gs->n - at - 1) * sizeof gs->g[0]);
	memmove(&gs->bad[at], &gs->bad[at + 1], (size_t)(gs->n - at - 1) * sizeof gs->bad[0]);
	gs->n--;
}

#define NVAR 16
static char variant[NVAR][4096];
static size_t variant_len[NVAR];
static const char *variant_name[NVAR];
static int nvariants;

static void add_variant(const char *name, const struct groups *gs)
{
	cr_assert(nvariants < NVAR);
	variant_len[nvariants] = build(gs, variant[nvariants]);
	variant_name[nvariants++] = name;
}

static const struct capture *capture_named(const char *name)
{
	for (int i = 0; i < ncaps; i++)
		if (strcmp(caps[i].name, name) == 0)
			return &caps[i];
	cr_assert_fail("no capture %s", name);
	return NULL;
}

/* Frames of one meter, each a small change from the first. */
static void make_variants(void)
{
	const struct capture *c = capture_named("standard-mono-consumer-base.tic");
	struct groups base, g;
	split_groups(&base, c->data, c->len);
	nvariants = 0;
	add_variant("the field frame", &base);
	g = base;
	set_group(&g, find_group(&g, "SINSTS"), "SINSTS\t00999");
	set_group(&g, find_group(&g, "DATE"), "DATE\tH251206064641\t");
	add_variant("two values changed in place", &g);
	g = base;
	remove_group(&g, find_group(&g, "EASF05"));
	add_variant("a group removed", &g);
	g = base;
	insert_group(&g, find_group(&g, "EAST") + 1, "EAIT\t000001234");
	add_variant("a group added", &g);
	g = base;
	set_group(&g, find_group(&g, "EASF02"), "EASD02\t000000042");
	add_variant("a label changed in place (known)", &g);
	g = base;
	set_group(&g, find_group(&g, "EASF03"), "XASF03\t000000000");
	add_variant("a label changed in place (unknown)", &g);
	g = base;
	set_group(&g, find_group(&g, "NGTF"), "NGTF\tbase");
	add_variant("a text value of another width", &g);
	g = base;
	set_group(&g, find_group(&g, "SINSTS"), "SINSTS\t0373");
	add_variant("a number of another width (bad length)", &g);
	g = base;
	g.bad[find_group(&g, "IRMS1")] = true;
	add_variant("a damaged checksum", &g);
	g = base;
	set_group(&g, find_group(&g, "STGE"), "STGE\t013A4301");
	set_group(&g, find_group(&g, "SINSTS"), "SINST1\t00373");
	add_variant("STGE changed, a pilot's SINST1", &g);
	g = base;
	set_group(&g, find_group(&g, "URMS1"), "URMS1\t2x1");
	add_variant("a value that is no number", &g);
	/* A byte with bit 7 set in a group that was good: the group's bytes
	 * differ, its neighbours' do not. */
	memcpy(variant[nvariants], variant[0], variant_len[0]);
	variant_len[nvariants] = variant_len[0];
	char *at = variant[nvariants];
	while (at < variant[nvariants] + variant_len[0] - 4 && memcmp(at, "PREF", 4) != 0)
		at++;
	cr_assert(memcmp(at, "PREF", 4) == 0);
	at[1] = (char)(at[1] | 0x80);
	variant_name[nvariants++] = "a parity error";
	const struct capture *h = capture_named("historic-mono-base.tic");
	cr_assert(h->len < sizeof variant[0]);
	memcpy(variant[nvariants], h->data, h->len);
	variant_len[nvariants] = h->len;
	variant_name[nvariants++] = "a historic frame";
}

static char stream[16 * 4096];

Test(tic_fastpath, sequences_of_frames)
{
	make_variants();
	/* Every variant before and after every other (a, b, a), whole and in
	 * small pieces: each frame is decoded against the one before. */
	int frames = 0;
	for (int a = 0; a < nvariants; a++) {
		for (int b = 0; b < nvariants; b++) {
			size_t n = 0;
			int order[3] = {a, b, a};
			for (int k = 0; k < 3; k++) {
				memcpy(stream + n, variant[order[k]], variant_len[order[k]]);
				n += variant_len[order[k]];
			}
			char what[300];
			snprintf(what, sizeof what, "%s, then %s, then the first again",
				 variant_name[a], variant_name[b]);
			frames += both_ways(stream, n, 65536, what);
			both_ways(stream, n, 7, what);
		}
	}
	/* Fifteen good variants of each pair, the rest bad or historic. */
	cr_assert_geq(frames, 100, "only %d frames", frames);
	/* A damaged frame between good ones, runs of the same frame, and all
	 * in a row, in several orders. */
	uint32_t s = 7;
	for (int round = 0; round < 200; round++) {
		size_t n = 0;
		char what[64];
		for (int k = 0; k < 14; k++) {
			int v = (int)(rnd(&s) % (uint32_t)nvariants);
			if (rnd(&s) % 3 == 0)
				v = 0;
			memcpy(stream + n, variant[v], variant_len[v]);
			n += variant_len[v];
		}
		snprintf(what, sizeof what, "mixed sequence %d", round);
		both_ways(stream, n, 1 + rnd(&s) % 2000, what);
	}
}

Test(tic_fastpath, captures_twice)
{
	/* Each capture twice in a row: its last frame before its first, and
	 * every frame after its own copy when the capture has one. */
	int frames = 0;
	for (int i = 0; i < ncaps; i++) {
		size_t n = caps[i].len < sizeof stream / 2 ? caps[i].len : sizeof stream / 2;
		memcpy(stream, caps[i].data, n);
		memcpy(stream + n, caps[i].data, n);
		frames += both_ways(stream, 2 * n, 4096, caps[i].name);
	}
	cr_assert_geq(frames, 20);
}
