/* libFuzzer target: TIC bytes as from the 9600 baud line through the TIC
 * parser (framing, group checksums, decoding) in chunks whose size the
 * input's first byte draws; every frame found is mapped to a reading, its
 * register image built and its power_instant text written. The parser runs
 * its fast path with a history (the incremental decode against the last
 * frame, tic.h); a second parser with SC_TIC_REFERENCE (byte-by-byte
 * scans, no history: each frame decoded alone) takes the same chunks, and
 * every result must be the same.
 *
 * History is part of the input, not of the process: both parsers and the
 * history start empty for each input, and the input is fed three times in
 * a row, the second time with one byte changed (its place and value drawn
 * from the input's bytes 1 to 3). So a one-frame input gives that frame
 * after itself, after a copy one byte off and before it, and an input of
 * several frames each after the one before; a failure replays from the
 * saved input alone. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "payload.h"
#include "regmap.h"
#include "tic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sc_tic_parser parser, ref_parser;
static struct sc_tic_result res, ref_res;
static struct sc_tic_history history;

static void same_as_reference(size_t used, size_t ref_used)
{
	const struct sc_tic_result *a = &res, *b = &ref_res;
	if (used != ref_used || a->event != b->event || a->offset != b->offset ||
	    a->length != b->length || a->error_offset != b->error_offset ||
	    a->raw_len != b->raw_len || (a->raw == NULL) != (b->raw == NULL) ||
	    (a->raw && memcmp(a->raw, b->raw, a->raw_len) != 0) || a->nerrors != b->nerrors ||
	    a->nchecksum != b->nchecksum || a->nlength != b->nlength ||
	    a->nsyntax != b->nsyntax || a->nbit7 != b->nbit7 ||
	    strcmp(a->detail, b->detail) != 0)
		__builtin_trap();
	for (int k = 0; k < a->nerrors && k < SC_TIC_MAX_ERRORS; k++)
		if (a->errors[k].kind != b->errors[k].kind ||
		    a->errors[k].offset != b->errors[k].offset ||
		    strcmp(a->errors[k].label, b->errors[k].label) != 0)
			__builtin_trap();
	if (a->event == SC_TIC_FRAME && memcmp(&a->frame, &b->frame, sizeof a->frame) != 0)
		__builtin_trap();
}

static void handle(void)
{
	if (res.event != SC_TIC_FRAME)
		return;
	struct sc_reading r;
	sc_tic_to_reading(&res.frame, res.raw, &r);
	struct sc_regmap img;
	struct sc_regmap_opts o = {SC_WORDS_ABCD, true};
	sc_regmap_build(&img, &r, &o);
	char text[4096];
	sc_payload_power_instant_text(&r, text, sizeof text);
}

static uint8_t copy[8192];

static void feed(const uint8_t *data, size_t size, size_t chunk)
{
	for (size_t off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t used = sc_tic_feed(&parser, data + off, n, &res);
		if (used == 0 && res.event == SC_TIC_NEED_MORE)
			__builtin_trap(); /* bytes left and no progress */
		same_as_reference(used, sc_tic_feed(&ref_parser, data + off, n, &ref_res));
		off += used;
		handle();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = size ? (size_t)data[0] + 1 : 1;
	memset(&parser, 0, sizeof parser);
	memset(&ref_parser, 0, sizeof ref_parser);
	memset(&history, 0, sizeof history);
	parser.history = &history;
	ref_parser.flags = SC_TIC_REFERENCE;
	feed(data, size, chunk);
	if (size >= 4 && size <= sizeof copy) {
		memcpy(copy, data, size);
		copy[((size_t)data[1] << 8 | data[2]) % size] = data[3];
		feed(copy, size, chunk);
	}
	feed(data, size, chunk);
	for (;;) {
		enum sc_tic_event ev = sc_tic_finish(&parser, &res);
		sc_tic_finish(&ref_parser, &ref_res);
		same_as_reference(0, 0);
		if (ev == SC_TIC_NEED_MORE)
			break;
		handle();
	}
	return 0;
}
