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
