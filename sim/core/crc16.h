/* CRC-16/ARC as DSMR uses it (P1 Companion Standard 5.0.2 §6.12):
 * polynomial 0x8005 reflected (0xA001), initial value 0, no final xor,
 * computed over every byte from '/' through '!' inclusive.
 * Check value: crc("123456789") == 0xBB3D. */
#ifndef SC_CRC16_H
#define SC_CRC16_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len bytes; start with crc = 0. Carry-less multiply
 * (x86-64 with PCLMULQDQ, chosen at run time) for 64 bytes and more, else
 * the tables. */
uint16_t sc_crc16_update(uint16_t crc, const void *data, size_t len);

/* The same on every machine and length: slicing-by-16 tables. The reference
 * the faster path is tested against. */
uint16_t sc_crc16_update_generic(uint16_t crc, const void *data, size_t len);

/* Which path sc_crc16_update takes for long input here: "clmul" or "tables". */
const char *sc_crc16_path(void);

static inline uint16_t sc_crc16(const void *data, size_t len)
{
	return sc_crc16_update(0, data, len);
}

#endif
