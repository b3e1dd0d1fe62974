/* Helpers for the TIC tests: build groups and frames with valid checksums,
 * and feed byte streams to the parser in chosen ways, recording the events. */
#ifndef TIC_TEST_UTIL_H
#define TIC_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tic.h"

/* Appends "LF label HT [horodate HT] data HT checksum CR" to out. */
static inline void tg_group(char *out, size_t cap, const char *label, const char *horodate,
			    const char *data)
{
	char body[256];
	int n = horodate ? snprintf(body, sizeof body, "%s\t%s\t%s\t", label, horodate, data)
			 : snprintf(body, sizeof body, "%s\t%s\t", label, data);
	cr_assert(n > 0 && (size_t)n < sizeof body);
	size_t len = strlen(out);
	cr_assert_lt(len + (size_t)n + 4, cap, "frame buffer too small");
	out[len] = '\n';
	memcpy(out + len + 1, body, (size_t)n);
	out[len + 1 + (size_t)n] = sc_tic_checksum(body, (size_t)n);
	out[len + 2 + (size_t)n] = '\r';
	out[len + 3 + (size_t)n] = '\0';
}

struct tic_rec_event {
	enum sc_tic_event ev;
	uint64_t offset, length, error_offset;
	int nerrors;
	int nchecksum, nlength, nsyntax, nbit7;
	struct sc_tic_error errors[SC_TIC_MAX_ERRORS];
	struct sc_reading reading;
	struct sc_tic_frame frame;
	char raw[SC_TIC_BUF_SIZE + 1];
	char detail[160];
};

struct tic_recording {
	int n;
	struct tic_rec_event ev[64];
};

static inline struct tic_recording *tic_rec_new(void)
{
	return calloc(1, sizeof(struct tic_recording));
}

static inline void tic_record(struct tic_recording *rec, const struct sc_tic_result *res)
{
	if (rec->n >= 64)
		return;
	struct tic_rec_event *e = &rec->ev[rec->n++];
	memset(e, 0, sizeof *e);
	e->ev = res->event;
	e->offset = res->offset;
	e->length = res->length;
	e->error_offset = res->error_offset;
	e->nerrors = res->nerrors;
	e->nchecksum = res->nchecksum;
	e->nlength = res->nlength;
	e->nsyntax = res->nsyntax;
	e->nbit7 = res->nbit7;
	cr_assert_eq(res->nchecksum + res->nlength + res->nsyntax + res->nbit7, res->nerrors,
		     "per-kind counts add up to nerrors");
	memcpy(e->errors, res->errors, sizeof e->errors);
	memcpy(e->detail, res->detail, sizeof e->detail);
	if (res->raw)
		memcpy(e->raw, res->raw, res->raw_len);
	if (res->event == SC_TIC_FRAME) {
		e->frame = res->frame;
		sc_tic_to_reading(&res->frame, res->raw, &e->reading);
	}
}

/* Feed in pieces: cut > 0 splits once there; chunk > 0 feeds that many
 * bytes per call; both 0 feeds all at once. */
static inline void tic_feed(const char *data, size_t len, size_t cut, size_t chunk,
			    struct tic_recording *rec)
{
	struct sc_tic_parser *p = calloc(1, sizeof *p);
	struct sc_tic_result *res = malloc(sizeof *res);
	rec->n = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t lim = len;
		if (cut > 0 && pos < cut)
			lim = cut;
		if (chunk > 0 && lim - pos > chunk)
			lim = pos + chunk;
		while (pos < lim) {
			pos += sc_tic_feed(p, data + pos, lim - pos, res);
			if (res->event != SC_TIC_NEED_MORE)
				tic_record(rec, res);
		}
	}
	while (sc_tic_finish(p, res) != SC_TIC_NEED_MORE)
		tic_record(rec, res);
	free(p);
	free(res);
}

static inline bool tic_same(const struct tic_recording *a, const struct tic_recording *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++) {
		const struct tic_rec_event *x = &a->ev[i], *y = &b->ev[i];
		if (x->ev != y->ev || x->offset != y->offset || x->length != y->length ||
		    x->error_offset != y->error_offset || x->nerrors != y->nerrors ||
		    x->nchecksum != y->nchecksum || x->nlength != y->nlength ||
		    x->nsyntax != y->nsyntax || x->nbit7 != y->nbit7 ||
		    strcmp(x->detail, y->detail) != 0 ||
		    memcmp(&x->reading, &y->reading, sizeof x->reading) != 0)
			return false;
		for (int k = 0; k < x->nerrors && k < SC_TIC_MAX_ERRORS; k++)
			if (x->errors[k].kind != y->errors[k].kind ||
			    x->errors[k].offset != y->errors[k].offset ||
			    strcmp(x->errors[k].label, y->errors[k].label) != 0)
				return false;
	}
	return true;
}

/* Whole, byte by byte, and split at every position (every 37th past 8 KiB):
 * the same events every way. The whole-buffer recording is left in rec. */
static inline void tic_feed_checked(const char *data, size_t len, struct tic_recording *rec)
{
	struct tic_recording *other = tic_rec_new();
	tic_feed(data, len, 0, 0, rec);
	tic_feed(data, len, 0, 1, other);
	cr_assert(tic_same(rec, other), "byte-by-byte feeding gives other events");
	size_t step = len > 8192 ? 37 : 1;
	for (size_t cut = 1; cut < len; cut += step) {
		tic_feed(data, len, cut, 0, other);
		cr_assert(tic_same(rec, other), "split at %zu gives other events", cut);
	}
	free(other);
}

#endif
