/* CRC-16/ARC as DSMR uses it (P1 Companion Standard 5.0.2 §6.12):
 * polynomial 0x8005 reflected (0xA001), initial value 0, no final xor,
 * computed over every byte from '/' through '!' inclusive.
 * Check value: crc("123456789") == 0xBB3D. */
#ifndef SC_CRC16_H
#define SC_CRC16_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len bytes; start with crc = 0. */
uint16_t sc_crc16_update(uint16_t crc, const void *data, size_t len);

static inline uint16_t sc_crc16(const void *data, size_t len)
{
	return sc_crc16_update(0, data, len);
}

#endif
