/* Checksums written back into hand-edited telegrams: see tg_fix.h. */
#include "tg_fix.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crc16.h"
#include "sc_error.h"
#include "telegram.h"
#include "tic.h"

struct w {
	char *p;
	size_t cap, n;
	bool full;
};

static void put(struct w *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->n) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void put_ch(struct w *w, char c)
{
	put(w, &c, 1);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static long fix_p1(const char *in, size_t len, struct w *w, struct sc_tg_fix_stats *st,
		   char *why, size_t wcap)
{
	size_t i = 0;
	while (i < len) {
		const char *slash = memchr(in + i, '/', len - i);
		if (!slash) {
			put(w, in + i, len - i);
			break;
		}
		size_t start = (size_t)(slash - in);
		put(w, in + i, start - i);
		const char *bang = memchr(in + start, '!', len - start);
		if (!bang) {
			snprintf(why, wcap, "the telegram at byte %zu has no '!' (its end, before the CRC)",
				 start);
			return SC_ERR_SYNTAX;
		}
		size_t end = (size_t)(bang - in); /* the '!' */
		size_t body = w->n;
		for (size_t k = start; k <= end; k++) {
			if (in[k] == '\n' && (k == start || in[k - 1] != '\r')) {
				put_ch(w, '\r');
				st->line_ends++;
			}
			put_ch(w, in[k]);
		}
		if (w->full)
			return SC_ERR_RANGE;
		uint16_t crc = sc_crc16(w->p + body, w->n - body);
		char hex[8];
		snprintf(hex, sizeof hex, "%04X", crc);
		size_t k = end + 1, digits = 0;
		while (k < len && digits < 4 && is_hex(in[k])) {
			k++;
			digits++;
		}
		if (digits != 4 || strncmp(in + end + 1, hex, 4) != 0)
			st->changed++;
		put(w, hex, 4);
		/* The line end after the CRC: CR LF, whatever was there. */
		if (k < len && in[k] == '\r')
			k++;
		if (k < len && in[k] == '\n')
			k++;
		put(w, "\r\n", 2);
		st->telegrams++;
		i = k;
	}
	return w->full ? SC_ERR_RANGE : (long)w->n;
}

static long fix_tic(const char *in, size_t len, struct w *w, struct sc_tg_fix_stats *st,
		    char *why, size_t wcap)
{
	/* Same length out as in: the checksums are patched in place. */
	put(w, in, len);
	if (w->full)
		return SC_ERR_RANGE;
	char *out = w->p;
	bool in_frame = false, open = false;
	size_t group = 0, frame_start = 0; /* the open group's first byte after its LF */
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == 0x02) {
			if (open) {
				snprintf(why, wcap, "the group at byte %zu has no CR before the next frame",
					 group - 1);
				return SC_ERR_SYNTAX;
			}
			in_frame = true;
			frame_start = i;
		} else if (c == 0x03 && in_frame) {
			if (open) {
				snprintf(why, wcap, "the group at byte %zu has no CR before the frame's ETX",
					 group - 1);
				return SC_ERR_SYNTAX;
			}
			in_frame = false;
			st->telegrams++;
		} else if (c == '\n' && in_frame && !open) {
			open = true;
			group = i + 1;
		} else if (c == '\r' && in_frame && open) {
			open = false;
			size_t n = i - group;
			const char *g = in + group;
			if (n < 3 || (g[n - 2] != '\t' && g[n - 2] != ' ')) {
				snprintf(why, wcap, "the group at byte %zu ('%.*s') has no separator before "
						    "its checksum", group - 1, (int)(n < 24 ? n : 24), g);
				return SC_ERR_SYNTAX;
			}
			/* Standard: through the HT before the checksum; historic:
			 * up to the SP before it. */
			char sum = g[n - 2] == '\t' ? sc_tic_checksum(g, n - 1) : sc_tic_checksum(g, n - 2);
			if (sum != g[n - 1])
				st->changed++;
			out[group + n - 1] = sum;
			st->groups++;
		}
	}
	if (in_frame) {
		snprintf(why, wcap, "the frame at byte %zu has no ETX (its end)", frame_start);
		return SC_ERR_SYNTAX;
	}
	return (long)len;
}

long sc_tg_fix(const char *in, size_t len, char *out, size_t cap, struct sc_tg_fix_stats *st,
	       char *why, size_t wcap)
{
	struct sc_tg_fix_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	struct w w = {out, cap, 0, false};
	switch (sc_protocol_detect(in, len)) {
	case SC_PROTO_P1:
		return fix_p1(in, len, &w, st, why, wcap);
	case SC_PROTO_TIC:
		st->tic = 1;
		return fix_tic(in, len, &w, st, why, wcap);
	default:
		break;
	}
	snprintf(why, wcap, "not a telegram: neither a P1 telegram ('/' and a meter's "
			    "identification) nor a TIC frame (STX and a group)");
	return SC_ERR_SYNTAX;
}
