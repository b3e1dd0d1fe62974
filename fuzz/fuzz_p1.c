/* libFuzzer target: P1 bytes as from a serial line through the incremental
 * parser (framing, CRC, decoding) in chunks whose size the input's first
 * byte draws (its top bit also sets SC_P1_ANY_VERSION or SC_P1_NO_CRC; the
 * next bit alone, SC_P1_STRICT);
 * every telegram found is mapped to a reading, its register image built and
 * its power_instant text written: the whole path of a telegram in the
 * device. Every framed telegram is also decoded by the decoder's general
 * path alone (SC_P1_REFERENCE): the fast paths must give the same result,
 * error and decoded telegram.
 *
 * Given a history (p1.h: struct sc_p1_history), the fast path decodes a
 * telegram against the one it decoded before with it (p1_decode.c): the
 * parser runs with one, so its own decode of each telegram of the input
 * (after the ones before it) is compared with the reference, and the input
 * is also cut at every '/' into pieces that are decoded one after another
 * with a second history, each compared with the reference decode of it
 * alone; each framed telegram is also decoded without a history. Both
 * histories are local to the input, so that a failure found is reproduced
 * by its input alone. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "p1.h"
#include "payload.h"
#include "regmap.h"
#include "sc_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sc_p1_parser parser;
static struct sc_p1_result res;

static struct sc_p1_telegram fast_tg, ref_tg;

/* The fast paths (with the history h, or none) against the general one on
 * the framed bytes. */
static void same_both_ways(const char *raw, size_t len, unsigned flags, struct sc_p1_history *h)
{
	size_t fast_off = 0, ref_off = 0;
	char fast_detail[160] = "", ref_detail[160] = "";
	memset(&fast_tg, 0, sizeof fast_tg);
	memset(&ref_tg, 0, sizeof ref_tg);
	int a = sc_p1_decode_hist(raw, len, flags, h, &fast_tg, &fast_off, fast_detail,
				  sizeof fast_detail);
	int b = sc_p1_decode(raw, len, flags | SC_P1_REFERENCE, &ref_tg, &ref_off, ref_detail,
			     sizeof ref_detail);
	if (a != b || fast_off != ref_off || strcmp(fast_detail, ref_detail) != 0 ||
	    memcmp(&fast_tg, &ref_tg, sizeof fast_tg) != 0)
		__builtin_trap();
}

/* The parser's own decode (with the history of the input so far) against
 * the reference. */
static void parser_decode_as_reference(void)
{
	if (!res.raw || (res.event != SC_P1_TELEGRAM && res.event != SC_P1_SYNTAX &&
			 res.event != SC_P1_UNSUPPORTED))
		return;
	size_t ref_off = 0;
	char ref_detail[160] = "";
	memset(&ref_tg, 0, sizeof ref_tg);
	int b = sc_p1_decode(res.raw, res.raw_len, parser.flags | SC_P1_REFERENCE, &ref_tg,
			     &ref_off, ref_detail, sizeof ref_detail);
	bool want = res.event == SC_P1_TELEGRAM ? b == SC_OK
		    : res.event == SC_P1_UNSUPPORTED ? b == SC_ERR_UNSUPPORTED
						     : b != SC_OK && b != SC_ERR_UNSUPPORTED;
	if (!want || memcmp(&res.tg, &ref_tg, sizeof ref_tg) != 0)
		__builtin_trap();
	if (res.event != SC_P1_TELEGRAM && strcmp(res.detail, ref_detail) != 0)
		__builtin_trap();
	if (res.event == SC_P1_SYNTAX && res.error_offset != res.offset + ref_off)
		__builtin_trap();
}

static void handle(void)
{
	parser_decode_as_reference();
	if (res.raw && res.raw_len > 0)
		same_both_ways(res.raw, res.raw_len, parser.flags, NULL);
	if (res.event != SC_P1_TELEGRAM)
		return;
	struct sc_reading r;
	sc_p1_to_reading(&res.tg, res.raw, &r);
	struct sc_regmap img;
	struct sc_regmap_opts o = {SC_WORDS_CDAB, false};
	sc_regmap_build(&img, &r, &o);
	char text[4096];
	sc_payload_power_instant_text(&r, text, sizeof text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = size ? (size_t)(data[0] & 0x3F) + 1 : 1;
	struct sc_p1_history hist, pieces_hist;
	memset(&hist, 0, sizeof hist);
	memset(&pieces_hist, 0, sizeof pieces_hist);
	memset(&parser, 0, sizeof parser);
	parser.history = &hist;
	if (size && (data[0] & 0x80))
		parser.flags = data[0] & 0x40 ? SC_P1_NO_CRC : SC_P1_ANY_VERSION;
	else if (size && (data[0] & 0x40))
		parser.flags = SC_P1_STRICT;
	for (size_t off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t used = sc_p1_feed(&parser, data + off, n, &res);
		if (used == 0 && res.event == SC_P1_NEED_MORE)
			__builtin_trap(); /* bytes left and no progress */
		off += used;
		handle();
	}
	while (sc_p1_finish(&parser, &res) != SC_P1_NEED_MORE)
		handle();
	/* The pieces from each '/' to the next, decoded one after another. */
	const char *text = (const char *)data + (size ? 1 : 0);
	size_t left = size ? size - 1 : 0;
	while (left > 0) {
		const char *next = left > 1 ? memchr(text + 1, '/', left - 1) : NULL;
		size_t n = next ? (size_t)(next - text) : left;
		same_both_ways(text, n, parser.flags, &pieces_hist);
		text += n;
		left -= n;
	}
	parser.history = NULL; /* hist ends here */
	return 0;
}
