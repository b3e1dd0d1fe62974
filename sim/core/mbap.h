/* Modbus TCP requests as they arrive on a socket: the MBAP header (Modbus
 * Messaging on TCP/IP Implementation Guide V1.0b §3.1.3) tells where a
 * request ends. The device's answer to a read is decided here too, from the
 * register image (regmap.h); the socket adapter only moves bytes. */
#ifndef SC_MBAP_H
#define SC_MBAP_H

#include <stddef.h>
#include <stdint.h>

#include "regmap.h"

#define SC_MBAP_HEADER 7     /* transaction id, protocol id, length, unit id */
#define SC_MBAP_MAX_ADU 260  /* header + 253-byte PDU */

enum sc_mbap_state {
	SC_MBAP_NEED_MORE = 0, /* not a whole request yet */
	SC_MBAP_COMPLETE,      /* a whole request of *frame_len bytes */
	SC_MBAP_INVALID,       /* not Modbus TCP: protocol id not 0, or a bad length */
};

/* Looks at the bytes received so far. */
enum sc_mbap_state sc_mbap_frame(const uint8_t *buf, size_t len, size_t *frame_len);

/* Function codes the device answers (manual §5.3): both read the same image. */
#define SC_MODBUS_FC_READ_HOLDING 0x03
#define SC_MODBUS_FC_READ_INPUT 0x04

/* The exception a whole request gets from the device, or 0 when it is a
 * valid read (function 0x03/0x04 inside the map): 0x01 any other function,
 * 0x03 a count of 0 or over 125 or a PDU of the wrong size, 0x02 an address
 * outside 0x8000-0x8C37. The unit id is ignored. */
int sc_mbap_check(const uint8_t *req, size_t len, uint16_t *addr, uint16_t *count);

#define SC_MBAP_EXCEPTION_LEN 9

/* The exception reply to a whole request (SC_MBAP_EXCEPTION_LEN bytes into
 * out): its transaction and unit id, the function code with bit 7 set and the
 * code. A request whose function code already has bit 7 set keeps it (the
 * answer must never read as a normal reply). */
void sc_mbap_exception(const uint8_t *req, uint8_t code, uint8_t out[SC_MBAP_EXCEPTION_LEN]);

#endif
