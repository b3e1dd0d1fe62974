/* The device's Modbus TCP server read through libmodbus: connected on first
 * use, reconnected once when the device closed the link; an exception is
 * the device's answer and is not retried. */
#include "dut_int.h"

#include <errno.h>
#include <modbus.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sc_dut_modbus {
	modbus_t *ctx;
	bool connected;
};

void sc_dut_modbus_free(struct sc_dut_modbus *mb)
{
	if (!mb)
		return;
	if (mb->ctx) {
		modbus_close(mb->ctx);
		modbus_free(mb->ctx);
	}
	free(mb);
}

static int mb_connect(struct sc_dut *d, char *why, size_t cap)
{
	if (!d->mb && !(d->mb = calloc(1, sizeof *d->mb))) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	struct sc_dut_modbus *mb = d->mb;
	if (mb->ctx && mb->connected)
		return 0;
	if (!mb->ctx) {
		mb->ctx = modbus_new_tcp(d->host, d->o.modbus_port);
		if (!mb->ctx) {
			snprintf(why, cap, "modbus: cannot make a client for %s:%d", d->host,
				 d->o.modbus_port);
			return -1;
		}
		uint32_t sec = (uint32_t)d->o.timeout_s;
		modbus_set_response_timeout(mb->ctx, sec, (uint32_t)((d->o.timeout_s - sec) * 1e6));
	}
	if (modbus_connect(mb->ctx) != 0) {
		snprintf(why, cap, "modbus: cannot connect to %s:%d: %s", d->host, d->o.modbus_port,
			 modbus_strerror(errno));
		return -1;
	}
	mb->connected = true;
	return 0;
}

static void mb_drop(struct sc_dut_modbus *mb)
{
	if (mb->ctx && mb->connected)
		modbus_close(mb->ctx);
	mb->connected = false;
}

int sc_dut_read(struct sc_dut *d, uint16_t addr, int count, uint16_t *out, char *why, size_t cap)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (mb_connect(d, why, cap) != 0)
			continue;
		int n = modbus_read_registers(d->mb->ctx, addr, count, out);
		if (n == count)
			return 0;
		int e = errno;
		/* An exception is the device's answer; a broken link is retried. */
		if (e >= MODBUS_ENOBASE && e < MODBUS_ENOBASE + 64) {
			snprintf(why, cap, "modbus: 0x%04X+%d: %s", addr, count, modbus_strerror(e));
			return -1;
		}
		snprintf(why, cap, "modbus: 0x%04X+%d: %s", addr, count, modbus_strerror(e));
		mb_drop(d->mb);
	}
	return -1;
}

int sc_dut_read_map(struct sc_dut *d, uint16_t *words, char *why, size_t cap)
{
	for (unsigned a = SC_REGMAP_BASE; a < SC_REGMAP_END; a += SC_MODBUS_MAX_READ) {
		unsigned n = SC_REGMAP_END - a < SC_MODBUS_MAX_READ ? SC_REGMAP_END - a : SC_MODBUS_MAX_READ;
		if (sc_dut_read(d, (uint16_t)a, (int)n, words + (a - SC_REGMAP_BASE), why, cap) != 0)
			return -1;
	}
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return (x > y) - (x < y);
}

int sc_dut_read_floats(struct sc_dut *d, const uint16_t *addrs, size_t n, uint16_t *words,
		       char *why, size_t cap)
{
	uint16_t *a = malloc((n ? n : 1) * sizeof *a);
	if (!a) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	memcpy(a, addrs, n * sizeof *a);
	qsort(a, n, sizeof *a, cmp_addr);
	int rc = 0;
	/* Greedy: a read starts at the lowest address left and takes every
	 * register that ends within SC_MODBUS_MAX_READ words of it. */
	for (size_t i = 0; i < n && rc == 0;) {
		unsigned start = a[i], end = start + 2u;
		size_t j = i + 1;
		while (j < n && a[j] + 2u - start <= SC_MODBUS_MAX_READ) {
			if (a[j] + 2u > end)
				end = a[j] + 2u;
			j++;
		}
		if (start < SC_REGMAP_BASE || end > SC_REGMAP_END) {
			snprintf(why, cap, "0x%04X is outside the register map", start);
			rc = -1;
			break;
		}
		rc = sc_dut_read(d, (uint16_t)start, (int)(end - start), words + (start - SC_REGMAP_BASE),
				 why, cap);
		i = j;
	}
	free(a);
	return rc;
}
