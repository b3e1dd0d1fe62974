/* libFuzzer target: bytes as a Modbus TCP client sends them, framed by the
 * MBAP header rules (mbap.h) as the server does it, request after request;
 * each whole request is checked and, when a valid read, answered from the
 * register image of a served telegram. Traps when a frame runs past the
 * bytes or a valid read goes outside the map. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mbap.h"
#include "regmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sc_regmap img;
	static int built;
	if (!built) {
		struct sc_regmap_opts o = {SC_WORDS_CDAB, false};
		sc_regmap_build(&img, NULL, &o);
		built = 1;
	}
	size_t off = 0;
	while (off < size) {
		size_t n = 0;
		enum sc_mbap_state st = sc_mbap_frame(data + off, size - off, &n);
		if (st == SC_MBAP_NEED_MORE || st == SC_MBAP_INVALID)
			break; /* the server waits, or closes the connection */
		if (n < SC_MBAP_HEADER + 1 || n > SC_MBAP_MAX_ADU || n > size - off)
			__builtin_trap();
		uint16_t addr = 0, count = 0;
		if (sc_mbap_check(data + off, n, &addr, &count) == 0) {
			if (count == 0 || count > 125 || addr < SC_REGMAP_BASE ||
			    (uint32_t)addr + count > SC_REGMAP_END)
				__builtin_trap();
			volatile uint16_t sum = 0;
			for (uint16_t i = 0; i < count; i++)
				sum = (uint16_t)(sum + img.w[addr - SC_REGMAP_BASE + i]);
		}
		off += n;
	}
	return 0;
}
