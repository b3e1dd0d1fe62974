/* Helpers shared by the P1 tests: build telegrams with a valid CRC and feed
 * byte streams to the parser in chosen pieces, recording the events. Every
 * way of feeding records the same things (event, offsets, detail, raw bytes,
 * object counts, reading), so that any two recordings can be compared. */
#ifndef P1_TEST_UTIL_H
#define P1_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "p1.h"

struct rec_event {
	enum sc_p1_event ev;
	uint64_t offset, length, error_offset;
	struct sc_reading reading;
	struct sc_p1_telegram tg;
	size_t raw_len;
	char raw[SC_P1_BUF_SIZE + 1];
	char detail[160];
};

struct recording {
	int n;
	struct rec_event ev[64];
};

/* "/" header CRLF CRLF body "!" CRC CRLF into out (heap, caller frees). */
static inline char *tg_make(const char *header, const char *body)
{
	size_t cap = strlen(header) + strlen(body) + 32;
	char *out = malloc(cap);
	int n = snprintf(out, cap, "/%s\r\n\r\n%s!", header, body);
	snprintf(out + n, cap - (size_t)n, "%04X\r\n", sc_crc16(out, (size_t)n));
	return out;
}

static inline void rec_store(struct recording *rec, const struct sc_p1_result *res)
{
	if (rec->n >= 64)
		return;
	struct rec_event *e = &rec->ev[rec->n++];
	e->ev = res->event;
	e->offset = res->offset;
	e->length = res->length;
	e->error_offset = res->error_offset;
	memcpy(e->detail, res->detail, sizeof e->detail);
	e->raw_len = 0;
	e->raw[0] = '\0';
	memset(&e->reading, 0, sizeof e->reading);
	memset(&e->tg, 0, sizeof e->tg);
	if (res->raw) {
		memcpy(e->raw, res->raw, res->raw_len);
		e->raw[res->raw_len] = '\0';
		e->raw_len = res->raw_len;
	}
	if (res->event == SC_P1_TELEGRAM) {
		e->tg = res->tg;
		sc_p1_to_reading(&res->tg, res->raw, &e->reading);
	}
}

/* Feeds data in pieces whose ends are cuts[0] < cuts[1] < ... (each <= len;
 * the last piece ends at len), then finishes the stream. */
static inline void feed_cuts(const char *data, size_t len, const size_t *cuts, size_t ncuts,
			     unsigned flags, struct recording *rec)
{
	struct sc_p1_parser *p = calloc(1, sizeof *p);
	struct sc_p1_result *res = malloc(sizeof *res);
	p->flags = flags;
	rec->n = 0;
	size_t pos = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		while (pos < end) {
			size_t used = sc_p1_feed(p, data + pos, end - pos, res);
			pos += used;
			if (res->event != SC_P1_NEED_MORE)
				rec_store(rec, res);
		}
	}
	while (sc_p1_finish(p, res) != SC_P1_NEED_MORE)
		rec_store(rec, res);
	free(p);
	free(res);
}

/* Feed data in chunks of `chunk` bytes (0 = all at once); finish at the end. */
static inline void feed_all(const char *data, size_t len, size_t chunk, unsigned flags,
			    struct recording *rec)
{
	if (chunk == 0 || chunk >= len) {
		feed_cuts(data, len, NULL, 0, flags, rec);
		return;
	}
	size_t n = (len - 1) / chunk;
	size_t *cuts = malloc(n * sizeof *cuts);
	for (size_t k = 0; k < n; k++)
		cuts[k] = (k + 1) * chunk;
	feed_cuts(data, len, cuts, n, flags, rec);
	free(cuts);
}

/* Feed data split in two at `cut`, finishing at the end. */
static inline void feed_split(const char *data, size_t len, size_t cut, unsigned flags,
			      struct recording *rec)
{
	feed_cuts(data, len, &cut, 1, flags, rec);
}

static inline struct recording *rec_new(void)
{
	return calloc(1, sizeof(struct recording));
}

static inline bool same_events(const struct recording *a, const struct recording *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++) {
		const struct rec_event *x = &a->ev[i], *y = &b->ev[i];
		if (x->ev != y->ev || x->offset != y->offset || x->length != y->length ||
		    x->error_offset != y->error_offset || strcmp(x->detail, y->detail) != 0 ||
		    x->raw_len != y->raw_len || memcmp(x->raw, y->raw, x->raw_len) != 0 ||
		    x->tg.objects != y->tg.objects || x->tg.dropped != y->tg.dropped ||
		    x->tg.unknown_count != y->tg.unknown_count ||
		    memcmp(&x->reading, &y->reading, sizeof x->reading) != 0)
			return false;
	}
	return true;
}

static inline uint64_t test_xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Inputs up to this size are split at every position. */
#define FEED_EVERY_SPLIT_MAX 16384
/* Larger ones, where every split would take minutes: every split within
 * this many bytes of each boundary (start and end of every event, every
 * error offset, and the parser's buffer limits counted from each event's
 * start), plus FEED_RANDOM_SPLITS seeded random splits. */
#define FEED_WINDOW 64
#define FEED_RANDOM_SPLITS 512

static inline void check_split(const char *data, size_t len, size_t cut, unsigned flags,
			       const struct recording *ref, struct recording *other)
{
	feed_split(data, len, cut, flags, other);
	cr_assert(same_events(ref, other), "split at %zu gives other events", cut);
}

static inline void check_window(const char *data, size_t len, uint64_t at, unsigned flags,
				const struct recording *ref, struct recording *other)
{
	uint64_t from = at > FEED_WINDOW ? at - FEED_WINDOW : 0;
	for (uint64_t cut = from; cut <= at + FEED_WINDOW && cut <= len; cut++)
		check_split(data, len, (size_t)cut, flags, ref, other);
}

/* Feed whole, then byte by byte, in chunks of several sizes (among them the
 * 4096 a serial driver or pipe hands over) and split in two at every
 * position (see FEED_EVERY_SPLIT_MAX for large inputs): every way must give
 * the same events. The whole-buffer recording is left in rec. */
static inline void feed_checked(const char *data, size_t len, unsigned flags, struct recording *rec)
{
	static const size_t chunks[] = {1, 2, 3, 7, 64, 977, 4095, 4096, 8191};
	struct recording *other = rec_new();
	feed_all(data, len, 0, flags, rec);
	for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		if (chunks[k] >= len && k > 0)
			break;
		feed_all(data, len, chunks[k], flags, other);
		cr_assert(same_events(rec, other), "chunks of %zu bytes give other events",
			  chunks[k]);
	}
	if (len <= FEED_EVERY_SPLIT_MAX) {
		for (size_t cut = 0; cut <= len; cut++)
			check_split(data, len, cut, flags, rec, other);
	} else {
		check_window(data, len, 0, flags, rec, other);
		check_window(data, len, len, flags, rec, other);
		for (int i = 0; i < rec->n; i++) {
			const struct rec_event *e = &rec->ev[i];
			check_window(data, len, e->offset, flags, rec, other);
			check_window(data, len, e->offset + e->length, flags, rec, other);
			check_window(data, len, e->error_offset, flags, rec, other);
			check_window(data, len, e->offset + SC_P1_BUF_SIZE - 4, flags, rec, other);
			check_window(data, len, e->offset + SC_P1_BUF_SIZE, flags, rec, other);
		}
		uint64_t seed = 0x5EED0000u + len;
		for (int i = 0; i < FEED_RANDOM_SPLITS; i++)
			check_split(data, len, (size_t)(test_xorshift(&seed) % (len + 1)), flags,
				    rec, other);
	}
	free(other);
}

#endif
