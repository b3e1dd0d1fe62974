#include "crc16.h"

#include <string.h>

#include "crc16_tables.h" /* generated at build time by crc16_gentables.c */

/* Slicing-by-16: sixteen table lookups per sixteen input bytes instead of
 * one per byte. Tk[i] is the CRC contribution of byte i followed by k zero
 * bytes (derived from the byte-wise table T0), so the lookups of a block
 * are independent of each other and only the first two depend on the CRC
 * so far. */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint16_t sc_crc16_update(uint16_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	unsigned c = crc;

	while (len >= 16) {
		/* Two loads of eight bytes, bytes taken out by shifts: a load
		 * per byte would double the loads the loop is bound by. */
		uint64_t a = load_le64(p), b = load_le64(p + 8);
		/* The fourteen lookups that do not depend on the CRC so far
		 * first, the two that do last: the chain from one block's CRC
		 * to the next is one lookup and two XORs long. */
		unsigned rest = sc_crc16_t[13][a >> 16 & 0xffu] ^ sc_crc16_t[12][a >> 24 & 0xffu] ^
				sc_crc16_t[11][a >> 32 & 0xffu] ^ sc_crc16_t[10][a >> 40 & 0xffu] ^
				sc_crc16_t[9][a >> 48 & 0xffu] ^ sc_crc16_t[8][a >> 56] ^
				sc_crc16_t[7][b & 0xffu] ^ sc_crc16_t[6][b >> 8 & 0xffu] ^
				sc_crc16_t[5][b >> 16 & 0xffu] ^ sc_crc16_t[4][b >> 24 & 0xffu] ^
				sc_crc16_t[3][b >> 32 & 0xffu] ^ sc_crc16_t[2][b >> 40 & 0xffu] ^
				sc_crc16_t[1][b >> 48 & 0xffu] ^ sc_crc16_t[0][b >> 56];
		unsigned lo = ((unsigned)a & 0xffffu) ^ c;
		c = rest ^ sc_crc16_t[15][lo & 0xffu] ^ sc_crc16_t[14][lo >> 8];
		p += 16;
		len -= 16;
	}
	while (len--)
		c = (c >> 8) ^ sc_crc16_t[0][(c ^ *p++) & 0xffu];
	return (uint16_t)c;
}
