/* The TIC parser's sixteen-bytes-at-a-time scans (frame end, group end,
 * the group's checksum, bit 7, control bytes and separators) against its
 * byte-by-byte reference (SC_TIC_REFERENCE): two parsers fed the same
 * chunks give the same events, offsets, details, group errors and decoded
 * frames, on every field and generated capture, fed whole and in pieces,
 * and on many damaged copies of them. fuzz_tic does the same on fuzzed
 * input. */
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
