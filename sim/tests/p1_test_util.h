/* Helpers shared by the P1 tests: build telegrams with a valid CRC and feed
 * byte streams to the parser in chosen chunk sizes, recording the events. */
#ifndef P1_TEST_UTIL_H
#define P1_TEST_UTIL_H

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

/* Feed data split in two at `cut`, finishing at the end. */
static inline void feed_split(const char *data, size_t len, size_t cut, unsigned flags,
			      struct recording *rec);

/* Feed data in chunks of `chunk` bytes (0 = all at once); finish at the end. */
static inline void feed_all(const char *data, size_t len, size_t chunk, unsigned flags,
			    struct recording *rec)
{
	struct sc_p1_parser *p = calloc(1, sizeof *p);
	struct sc_p1_result *res = malloc(sizeof *res);
	p->flags = flags;
	rec->n = 0;
	size_t pos = 0;
	for (;;) {
		bool at_end = pos >= len;
		size_t n = chunk == 0 ? len - pos : (len - pos < chunk ? len - pos : chunk);
		const char *d = data + pos;
		while (!at_end && n > 0) {
			size_t used = sc_p1_feed(p, d, n, res);
			d += used;
			n -= used;
			pos += used;
			if (res->event == SC_P1_NEED_MORE)
				continue;
			goto record;
		}
		if (at_end) {
			if (sc_p1_finish(p, res) == SC_P1_NEED_MORE)
				break;
			goto record;
		}
		continue;
record:
		if (rec->n < 64) {
			struct rec_event *e = &rec->ev[rec->n++];
			e->ev = res->event;
			e->offset = res->offset;
			e->length = res->length;
			e->error_offset = res->error_offset;
			memcpy(e->detail, res->detail, sizeof e->detail);
			e->raw[0] = '\0';
			memset(&e->reading, 0, sizeof e->reading);
			memset(&e->tg, 0, sizeof e->tg);
			if (res->raw) {
				memcpy(e->raw, res->raw, res->raw_len);
				e->raw[res->raw_len] = '\0';
			}
			if (res->event == SC_P1_TELEGRAM) {
				e->tg = res->tg;
				sc_p1_to_reading(&res->tg, res->raw, &e->reading);
			}
		}
	}
	free(p);
	free(res);
}

static inline void feed_split(const char *data, size_t len, size_t cut, unsigned flags,
			      struct recording *rec)
{
	/* Chunk size cut for the first piece, then the rest at once: done by
	 * feeding two separate calls through a small two-chunk wrapper. */
	struct sc_p1_parser *p = calloc(1, sizeof *p);
	struct sc_p1_result *res = malloc(sizeof *res);
	p->flags = flags;
	rec->n = 0;
	const char *pieces[2] = {data, data + cut};
	size_t lens[2] = {cut, len - cut};
	for (int k = 0; k <= 2; k++) {
		const char *d = k < 2 ? pieces[k] : NULL;
		size_t n = k < 2 ? lens[k] : 0;
		for (;;) {
			if (k < 2) {
				if (n == 0)
					break;
				size_t used = sc_p1_feed(p, d, n, res);
				d += used;
				n -= used;
				if (res->event == SC_P1_NEED_MORE)
					continue;
			} else if (sc_p1_finish(p, res) == SC_P1_NEED_MORE) {
				break;
			}
			if (rec->n < 64) {
				struct rec_event *e = &rec->ev[rec->n++];
				memset(&e->reading, 0, sizeof e->reading);
				e->ev = res->event;
				e->offset = res->offset;
				e->length = res->length;
				e->error_offset = res->error_offset;
				if (res->event == SC_P1_TELEGRAM)
					sc_p1_to_reading(&res->tg, res->raw, &e->reading);
			}
		}
	}
	free(p);
	free(res);
}

static inline struct recording *rec_new(void)
{
	return calloc(1, sizeof(struct recording));
}

static inline bool same_events(const struct recording *a, const struct recording *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (a->ev[i].ev != b->ev[i].ev || a->ev[i].offset != b->ev[i].offset ||
		    a->ev[i].length != b->ev[i].length ||
		    a->ev[i].error_offset != b->ev[i].error_offset ||
		    memcmp(&a->ev[i].reading, &b->ev[i].reading, sizeof a->ev[i].reading) != 0)
			return false;
	return true;
}

/* Feed whole, then byte by byte and split at every position (every 97th
 * for inputs over 16 KiB): every way must give the same events. The
 * whole-buffer recording is left in rec. */
static inline void feed_checked(const char *data, size_t len, unsigned flags, struct recording *rec)
{
	struct recording *other = rec_new();
	feed_all(data, len, 1, flags, other);
	feed_all(data, len, 0, flags, rec);
	cr_assert(same_events(rec, other), "byte-by-byte feeding gives other events");
	size_t step = len > 16384 ? 97 : 1;
	for (size_t cut = 0; cut <= len; cut += step) {
		feed_split(data, len, cut, flags, other);
		cr_assert(same_events(rec, other), "split at %zu gives other events", cut);
	}
	free(other);
}

#endif
