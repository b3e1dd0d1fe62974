#include "mbap.h"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

enum sc_mbap_state sc_mbap_frame(const uint8_t *buf, size_t len, size_t *frame_len)
{
	if (len >= 4 && be16(buf + 2) != 0)
		return SC_MBAP_INVALID;
	if (len < 6)
		return SC_MBAP_NEED_MORE;
	/* The length counts the unit id and the PDU: at least a function code. */
	uint16_t n = be16(buf + 4);
	if (n < 2 || n > SC_MBAP_MAX_ADU - 6)
		return SC_MBAP_INVALID;
	if (len < 6u + n)
		return SC_MBAP_NEED_MORE;
	*frame_len = 6u + n;
	return SC_MBAP_COMPLETE;
}

int sc_mbap_check(const uint8_t *req, size_t len, uint16_t *addr, uint16_t *count)
{
	uint8_t fc = req[SC_MBAP_HEADER];
	if (fc != SC_MODBUS_FC_READ_HOLDING && fc != SC_MODBUS_FC_READ_INPUT)
		return 0x01;
	if (len != SC_MBAP_HEADER + 5)
		return 0x03;
	*addr = be16(req + SC_MBAP_HEADER + 1);
	*count = be16(req + SC_MBAP_HEADER + 3);
	return sc_regmap_check(*addr, *count);
}

void sc_mbap_exception(const uint8_t *req, uint8_t code, uint8_t out[SC_MBAP_EXCEPTION_LEN])
{
	out[0] = req[0]; /* transaction id */
	out[1] = req[1];
	out[2] = 0; /* protocol id */
	out[3] = 0;
	out[4] = 0; /* length: unit id, function, code */
	out[5] = 3;
	out[6] = req[6];
	out[7] = (uint8_t)(req[SC_MBAP_HEADER] | 0x80);
	out[8] = code;
}
