/* Modbus TCP server of the device (manual §5.3): libmodbus listens, accepts
 * and builds the replies from the register image of the device; requests are
 * framed here without blocking so one slow client never stalls the loop. */
#ifndef SC_MODBUS_SERVER_H
#define SC_MODBUS_SERVER_H

#include <stdint.h>

#include "device.h"
#include "loop.h"

#define SC_MODBUS_MAX_CLIENTS 4
/* A request must be whole within this long of its first byte, whatever the
 * idle timeout, or its client is closed (one byte a second would otherwise
 * hold the device's one slot for hours). */
#define SC_MODBUS_REQUEST_DEADLINE_MS 5000

struct sc_modbus_opts {
	const char *addr;   /* IPv4 address to listen on, "0.0.0.0" for all */
	int port;           /* 0 = any free port (see sc_modbus_port) */
	int max_clients;    /* 1 as the device (default), up to 4 as an EMpro */
	int idle_timeout_s; /* a client silent this long is closed, freeing its slot */
};

struct sc_modbus;

/* NULL on failure, with the cause logged (e.g. no permission for port 502). */
struct sc_modbus *sc_modbus_start(struct sc_loop *loop, struct sc_device *dev,
				  const struct sc_modbus_opts *o, int *err);
void sc_modbus_stop(struct sc_modbus *m);
/* The port listened on (useful with port 0). */
int sc_modbus_port(const struct sc_modbus *m);

/* Closes every client connection (the network went away). */
void sc_modbus_drop_clients(struct sc_modbus *m, const char *why);

/* What a client reading count registers from addr (function 0x03 or 0x04,
 * both the same image) is served now, read in this process without a
 * connection: the image the server answers from, refreshed as before a
 * request. 0 with out filled, or the Modbus exception code the request
 * would get (0x02, 0x03). Not counted as a request. */
int sc_modbus_read(struct sc_modbus *m, uint16_t addr, uint16_t count, uint16_t *out);

/* Client connections open now. */
int sc_modbus_clients(const struct sc_modbus *m);

struct sc_modbus_stats {
	/* dropped_idle: idle timeouts and requests past their deadline */
	uint64_t requests, exceptions, connections, refused, dropped_garbage, dropped_idle;
};
const struct sc_modbus_stats *sc_modbus_stats(const struct sc_modbus *m);

#endif
