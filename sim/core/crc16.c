#include "crc16.h"

#include "crc16_tables.h" /* generated at build time by crc16_gentables.c */

/* Slicing-by-8: eight table lookups per eight input bytes instead of one per
 * byte. The tables are derived from the byte-wise table T0 so that Tk[i] is
 * the CRC contribution of byte i followed by k zero bytes. */
uint16_t sc_crc16_update(uint16_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = crc;

	while (len >= 8) {
		uint32_t lo = ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) ^ c;
		c = sc_crc16_t[7][lo & 0xffu] ^ sc_crc16_t[6][(lo >> 8) & 0xffu] ^
		    sc_crc16_t[5][(lo >> 16) & 0xffu] ^ sc_crc16_t[4][lo >> 24] ^
		    sc_crc16_t[3][p[4]] ^ sc_crc16_t[2][p[5]] ^
		    sc_crc16_t[1][p[6]] ^ sc_crc16_t[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ sc_crc16_t[0][(c ^ *p++) & 0xffu];
	return (uint16_t)c;
}
