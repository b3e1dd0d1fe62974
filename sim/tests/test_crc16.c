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

/* The carry-less multiply path (where the machine has it) against the
 * tables, and the tables against the bitwise reference: every length up
 * to past the four-block loop and its tails, every alignment of a 16-byte
 * load, any CRC so far. */
Test(crc16, fast_path_matches_tables_for_every_length_alignment_and_start)
{
	static unsigned char buf[2200];
	uint32_t s = 777;
	for (size_t i = 0; i < sizeof buf; i++) {
		s = s * 1103515245u + 12345u;
		buf[i] = (unsigned char)(s >> 16);
	}
	cr_log_info("crc16 path: %s", sc_crc16_path());
	for (size_t off = 0; off < 16; off++) {
		for (size_t n = 0; n + off + 16 <= sizeof buf; n++) {
			s = s * 1103515245u + 12345u;
			uint16_t start = (uint16_t)(s >> 8);
			uint16_t want = sc_crc16_update_generic(start, buf + off, n);
			cr_assert_eq(sc_crc16_update(start, buf + off, n), want,
				     "off %zu len %zu start %04X", off, n, start);
			if (n <= 300)
				cr_assert_eq(sc_crc16_update_generic(0, buf + off, n),
					     crc_ref(buf + off, n), "off %zu len %zu", off, n);
		}
	}
}

/* Runs of one byte value (zeros, ones) are where a wrong folding constant
 * cancels out least. */
Test(crc16, fast_path_matches_tables_on_uniform_runs)
{
	static unsigned char buf[1100];
	const unsigned char fill[] = {0x00, 0xFF, 0x01, 0x80, '0'};
	for (size_t f = 0; f < sizeof fill; f++) {
		memset(buf, fill[f], sizeof buf);
		for (size_t n = 0; n <= sizeof buf; n++)
			cr_assert_eq(sc_crc16_update(0xFFFF, buf, n),
				     sc_crc16_update_generic(0xFFFF, buf, n), "fill %02X len %zu",
				     fill[f], n);
	}
}
