/* The device's Modbus TCP server read through libmodbus: connected on first
 * use, reconnected once when the device closed the link; an exception is
 * the device's answer and is not retried. */
#include "dut_int.h"

#include <errno.h>
#include <modbus.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct sc_dut_modbus {
	modbus_t *ctx;
	bool connected;
	uint16_t tid;          /* transaction ids of the pipelined requests */
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

/* ---- two requests in one round trip (o.pipeline) ---- */

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put_request(uint8_t *f, uint16_t tid, uint16_t addr, int count)
{
	const uint8_t req[12] = {(uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6, MODBUS_TCP_SLAVE, 0x03,
				 (uint8_t)(addr >> 8), (uint8_t)addr, (uint8_t)(count >> 8), (uint8_t)count};
	memcpy(f, req, sizeof req);
}

/* Reads exactly len bytes by the deadline: 0, or -1 (errno set). */
static int recv_all(int fd, uint8_t *buf, size_t len, double deadline)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		double left = deadline - mono_now();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = {fd, POLLIN, 0};
		int ms = (int)(left * 1000.0) + 1;
		if (poll(&p, 1, ms) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* One answer to the request tid for count registers: 0 with out, a Modbus
 * exception code (> 0), or -1 (errno: the link, or EMBBADDATA for an
 * answer that is not the one asked for). */
static int read_answer(int fd, uint16_t tid, int count, uint16_t *out, double deadline)
{
	uint8_t h[9];
	if (recv_all(fd, h, sizeof h, deadline) != 0)
		return -1;
	if ((uint16_t)(h[0] << 8 | h[1]) != tid || h[2] != 0 || h[3] != 0) {
		errno = EMBBADDATA;
		return -1;
	}
	if (h[7] == (0x80 | 0x03))
		return h[8] ? h[8] : -1;
	if (h[7] != 0x03 || h[8] != count * 2 || (h[4] << 8 | h[5]) != 3 + count * 2) {
		errno = EMBBADDATA;
		return -1;
	}
	uint8_t d[250];
	if (recv_all(fd, d, (size_t)count * 2, deadline) != 0)
		return -1;
	for (int i = 0; i < count; i++)
		out[i] = (uint16_t)(d[2 * i] << 8 | d[2 * i + 1]);
	return 0;
}

/* Both requests written, then both answers read. 0 both; 1 the first only
 * (the device answered the second with an exception); -1 neither read:
 * *link says whether the link failed (retried as sc_dut_read does). */
static int pipelined(struct sc_dut *d, uint16_t a1, int n1, uint16_t *o1, uint16_t a2, int n2,
		     uint16_t *o2, bool *link, char *why, size_t cap)
{
	struct sc_dut_modbus *mb = d->mb;
	int fd = modbus_get_socket(mb->ctx);
	uint16_t t1 = ++mb->tid, t2 = ++mb->tid;
	uint8_t req[24];
	put_request(req, t1, a1, n1);
	put_request(req + 12, t2, a2, n2);
	*link = true;
	if (send(fd, req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
		snprintf(why, cap, "modbus: 0x%04X+%d: %s", a1, n1, modbus_strerror(errno));
		return -1;
	}
	double deadline = mono_now() + d->o.timeout_s;
	int r1 = read_answer(fd, t1, n1, o1, deadline);
	if (r1 < 0) {
		snprintf(why, cap, "modbus: 0x%04X+%d: %s", a1, n1, modbus_strerror(errno));
		return -1;
	}
	int r2 = read_answer(fd, t2, n2, o2, deadline);
	if (r2 < 0) {
		snprintf(why, cap, "modbus: 0x%04X+%d: %s", a2, n2, modbus_strerror(errno));
		return r1 == 0 ? 1 : -1;
	}
	*link = false;
	if (r1 > 0) {
		snprintf(why, cap, "modbus: 0x%04X+%d: %s", a1, n1, modbus_strerror(MODBUS_ENOBASE + r1));
		return -1;
	}
	if (r2 > 0) {
		snprintf(why, cap, "modbus: 0x%04X+%d: %s", a2, n2, modbus_strerror(MODBUS_ENOBASE + r2));
		return 1;
	}
	return 0;
}

int sc_dut_read_two(struct sc_dut *d, uint16_t a1, int n1, uint16_t *o1, uint16_t a2, int n2,
		    uint16_t *o2, char *why, size_t cap)
{
	if (!d->o.pipeline || n1 < 1 || n1 > SC_MODBUS_MAX_READ || n2 < 1 || n2 > SC_MODBUS_MAX_READ) {
		if (sc_dut_read(d, a1, n1, o1, why, cap) != 0)
			return -1;
		return sc_dut_read(d, a2, n2, o2, why, cap) == 0 ? 0 : 1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (mb_connect(d, why, cap) != 0)
			continue;
		bool link;
		int r = pipelined(d, a1, n1, o1, a2, n2, o2, &link, why, cap);
		if (link) /* what is left on it is not known: a new link next time */
			mb_drop(d->mb);
		if (r == 1 && link) /* the second asked again, as sc_dut_read would */
			return sc_dut_read(d, a2, n2, o2, why, cap) == 0 ? 0 : 1;
		if (r >= 0 || !link)
			return r;
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
