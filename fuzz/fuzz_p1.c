/* libFuzzer target: P1 bytes as from a serial line through the incremental
 * parser (framing, CRC, decoding) in chunks whose size the input's first
 * byte draws (its top bit also sets SC_P1_ANY_VERSION or SC_P1_NO_CRC; the
 * next bit alone, SC_P1_STRICT);
 * every telegram found is mapped to a reading, its register image built and
 * its power_instant text written: the whole path of a telegram in the
 * device. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "p1.h"
#include "payload.h"
#include "regmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sc_p1_parser parser;
static struct sc_p1_result res;

static void handle(void)
{
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
	memset(&parser, 0, sizeof parser);
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
	return 0;
}
