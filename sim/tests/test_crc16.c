#include <criterion/criterion.h>
#include <string.h>

#include "crc16.h"

/* Bitwise reference: CRC-16/ARC, poly 0xA001 reflected, init 0. */
static uint16_t crc_ref(const unsigned char *p, size_t n)
{
	uint16_t c = 0;
	while (n--) {
		c ^= *p++;
		for (int b = 0; b < 8; b++)
			c = (uint16_t)((c & 1u) ? (c >> 1) ^ 0xA001u : c >> 1);
	}
	return c;
}

Test(crc16, check_value)
{
	cr_assert_eq(sc_crc16("123456789", 9), 0xBB3D);
}

Test(crc16, empty_is_zero)
{
	cr_assert_eq(sc_crc16("", 0), 0);
}

Test(crc16, matches_bitwise_reference_for_every_length_and_alignment)
{
	unsigned char buf[300];
	uint32_t s = 12345;
	for (size_t i = 0; i < sizeof buf; i++) {
		s = s * 1103515245u + 12345u;
		buf[i] = (unsigned char)(s >> 16);
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= sizeof buf; n++)
			cr_assert_eq(sc_crc16(buf + off, n), crc_ref(buf + off, n), "off %zu len %zu",
				     off, n);
}

Test(crc16, incremental_equals_whole)
{
	const char *t = "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n!";
	size_t n = strlen(t);
	for (size_t cut = 0; cut <= n; cut++) {
		uint16_t c = sc_crc16_update(0, t, cut);
		c = sc_crc16_update(c, t + cut, n - cut);
		cr_assert_eq(c, sc_crc16(t, n));
	}
}
