/* libFuzzer target: TIC bytes as from the 9600 baud line through the TIC
 * parser (framing, group checksums, decoding) in chunks whose size the
 * input's first byte draws; every frame found is mapped to a reading, its
 * register image built and its power_instant text written. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "payload.h"
#include "regmap.h"
#include "tic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sc_tic_parser parser;
static struct sc_tic_result res;

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = size ? (size_t)data[0] + 1 : 1;
	memset(&parser, 0, sizeof parser);
	for (size_t off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t used = sc_tic_feed(&parser, data + off, n, &res);
		if (used == 0 && res.event == SC_TIC_NEED_MORE)
			__builtin_trap(); /* bytes left and no progress */
		off += used;
		handle();
	}
	while (sc_tic_finish(&parser, &res) != SC_TIC_NEED_MORE)
		handle();
	return 0;
}
