#include "crc16.h"

#include <stdbool.h>
#include <string.h>

#include "cpu.h"
#include "crc16_tables.h" /* generated at build time by crc16_gentables.c */

#if defined(__x86_64__) && defined(__GNUC__)
#define SC_CRC16_CLMUL 1
#include <immintrin.h>
#endif

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

uint16_t sc_crc16_update_generic(uint16_t crc, const void *data, size_t len)
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

#if SC_CRC16_CLMUL
/* Carry-less multiply (PCLMULQDQ): the message is folded sixteen bytes at a
 * time into a 128-bit remainder congruent to it modulo the polynomial,
 * four remainders side by side while 64 bytes remain, so that the
 * multiplies of a block do not wait for each other. The CRC of the last
 * remainder followed by the bytes left over (fewer than sixteen) is the
 * CRC of the message; the table path computes it. The CRC so far enters
 * XORed into the first two bytes, which is what the byte-wise update does
 * with it. Constants: crc16_gentables.c. */
__attribute__((target("pclmul,sse2"))) static inline __m128i fold(__m128i x, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul,sse2"))) static uint16_t crc16_clmul(uint16_t crc,
								 const uint8_t *p, size_t len)
{
	const __m128i k512 = _mm_set_epi64x((long long)sc_crc16_fold[0][1],
					    (long long)sc_crc16_fold[0][0]);
	const __m128i k128 = _mm_set_epi64x((long long)sc_crc16_fold[1][1],
					    (long long)sc_crc16_fold[1][0]);
	__m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)p),
				   _mm_cvtsi32_si128(crc));
	if (len >= 64) {
		__m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
		__m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
		__m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
		p += 64;
		len -= 64;
		while (len >= 64) {
			x0 = _mm_xor_si128(fold(x0, k512),
					   _mm_loadu_si128((const __m128i *)(const void *)p));
			x1 = _mm_xor_si128(fold(x1, k512),
					   _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
			x2 = _mm_xor_si128(fold(x2, k512),
					   _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
			x3 = _mm_xor_si128(fold(x3, k512),
					   _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
			p += 64;
			len -= 64;
		}
		x0 = _mm_xor_si128(fold(x0, k128), x1);
		x0 = _mm_xor_si128(fold(x0, k128), x2);
		x0 = _mm_xor_si128(fold(x0, k128), x3);
	} else {
		p += 16;
		len -= 16;
	}
	while (len >= 16) {
		x0 = _mm_xor_si128(fold(x0, k128), _mm_loadu_si128((const __m128i *)(const void *)p));
		p += 16;
		len -= 16;
	}
	uint8_t rem[16];
	_mm_storeu_si128((__m128i *)(void *)rem, x0);
	return sc_crc16_update_generic(sc_crc16_update_generic(0, rem, sizeof rem), p, len);
}

#endif

/* Below this many bytes the tables are as fast. */
#define CLMUL_MIN 64

uint16_t sc_crc16_update(uint16_t crc, const void *data, size_t len)
{
#if SC_CRC16_CLMUL
	if (len >= CLMUL_MIN && sc_cpu_clmul())
		return crc16_clmul(crc, data, len);
#endif
	return sc_crc16_update_generic(crc, data, len);
}

const char *sc_crc16_path(void)
{
#if SC_CRC16_CLMUL
	if (sc_cpu_clmul())
		return "clmul";
#endif
	return "tables";
}
