/* Checksums written back into hand-edited telegrams (sc-telegram crc): a
 * person changes a value in a captured or generated telegram, and the
 * telegram is made whole again, as a meter would have sent it.
 *
 *   P1   every telegram '/' .. '!' gets the CRC16 of its bytes (crc16.h) as
 *        four upper-case hex digits after the '!', replacing the digits
 *        there or added when there were none; a line inside a telegram
 *        that ends in a bare LF (an editor's doing) ends in CR LF again, as
 *        DSMR requires, before the CRC is computed; the telegram ends with
 *        CR LF.
 *   TIC  every group LF .. CR inside a frame STX .. ETX gets its checksum
 *        again, in the group's own mode: standard (HT separators: the sum
 *        covers the label through the HT before the checksum) or historic
 *        (SP separators: the sum stops before the SP before the checksum),
 *        TIC.md. Nothing else changes.
 * Bytes outside telegrams and frames are copied as they are. Pure: no I/O,
 * no allocation. */
#ifndef SC_TG_FIX_H
#define SC_TG_FIX_H

#include <stddef.h>

struct sc_tg_fix_stats {
	int telegrams;    /* P1 telegrams or TIC frames */
	int groups;       /* TIC groups */
	int changed;      /* checksums that were wrong or missing */
	int line_ends;    /* P1 bare LFs made CR LF */
	int tic;          /* 1 when the input is TIC */
};

/* The output never exceeds this for an input of len bytes. */
#define SC_TG_FIX_CAP(len) (4 * (len) + 64)

/* Writes the fixed telegrams of in[0..len) into out (cap bytes). Returns the
 * output length; SC_ERR_SYNTAX with why (the byte offset and what is wrong)
 * when the input holds no telegram or frame, or one cannot be made whole
 * (no '!', a group without CR or separator); SC_ERR_RANGE when cap is too
 * small. st may be NULL. */
long sc_tg_fix(const char *in, size_t len, char *out, size_t cap, struct sc_tg_fix_stats *st,
	       char *why, size_t wcap);

#endif
