/* Clients of a device under test: a real Smart Connect on the lab network,
 * or an sc-sim serving on loopback. The same code reads both, so "what the
 * twin serves" and "what the dongle serves" are seen the same way:
 *   Modbus TCP  libmodbus, reconnecting when the device closed the link
 *   HTTP        libcurl with Basic authentication (the device's API)
 *   MQTT        a paho subscriber on the device's topics; messages are kept
 *               with the time the runner saw them
 * Blocking calls with time limits: run them off any event loop. */
#ifndef SC_DUT_H
#define SC_DUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "regmap.h"

struct sc_dut_opts {
	const char *host;          /* "127.0.0.1", "192.168.1.50" */
	int modbus_port;           /* 502 on a device */
	int https_port;            /* 443; 0 = use plain HTTP */
	int http_port;             /* 80 */
	const char *user, *password;
	const char *broker_url;    /* where the device publishes (tcp://host:port), or NULL */
	const char *serial;        /* its topics: devices/<site>/smart-connect/<serial>/...;
	                            * "": any device's, the first seen is the one read */
	double timeout_s;          /* per request */
	bool pipeline;             /* the device answers Modbus requests sent one
	                            * after the other without waiting (the twin's
	                            * server): sc_dut_read_two sends both at once */
};

/* A message seen on the device's topics. */
struct sc_dut_msg {
	char metric[32];           /* "power_instant", "device_counters" */
	char *payload;             /* NUL-terminated JSON */
	double seen;               /* the runner's time when it was taken from the queue */
	double wall;               /* the real time it arrived (s since 1970) */
	uint64_t seq;
};

struct sc_dut;

/* NULL with why when the MQTT subscriber cannot be set up (Modbus and HTTP
 * connect on first use). */
struct sc_dut *sc_dut_open(const struct sc_dut_opts *o, char *why, size_t cap);
void sc_dut_close(struct sc_dut *d);

/* count registers from addr into out; 0, or -1 with why (connection,
 * exception). A refused or closed connection is retried once. */
int sc_dut_read(struct sc_dut *d, uint16_t addr, int count, uint16_t *out, char *why, size_t cap);
/* Two reads (a1, n1 into o1; a2, n2 into o2) as sc_dut_read each, the
 * second made only when the first was read. With o.pipeline both requests
 * go out before the answers are read (one round trip; the answers are the
 * same). 0 both read; 1 only the first (o1 filled); -1 neither; why says
 * what failed. */
int sc_dut_read_two(struct sc_dut *d, uint16_t a1, int n1, uint16_t *o1, uint16_t a2, int n2,
		    uint16_t *o2, char *why, size_t cap);
/* The whole map 0x8000-0x8C37 in reads of 125. */
int sc_dut_read_map(struct sc_dut *d, uint16_t *words, char *why, size_t cap);
/* The float32 registers at addrs (n of them, in the map's range) into
 * words (indexed from SC_REGMAP_BASE, as sc_dut_read_map), in as few reads
 * as cover them. 0, or -1 with why. */
int sc_dut_read_floats(struct sc_dut *d, const uint16_t *addrs, size_t n, uint16_t *words,
		       char *why, size_t cap);

/* One API request. *status is the HTTP status; *body the answer (malloc'd,
 * NUL-terminated). 0, or -1 with why when there was no answer. */
int sc_dut_http(struct sc_dut *d, const char *method, const char *path, const char *body,
		int *status, char **resp, char *why, size_t cap);

/* Takes the messages received since the last call, stamping them with
 * now (the runner's time); they join the log. */
void sc_dut_mqtt_drain(struct sc_dut *d, double now);
/* The log of messages, oldest first. */
const struct sc_dut_msg *sc_dut_mqtt_log(const struct sc_dut *d, size_t *n);
/* Forgets the logged messages seen before t (nothing will look at them). */
void sc_dut_mqtt_forget(struct sc_dut *d, double t);
bool sc_dut_mqtt_subscribed(const struct sc_dut *d);
/* The serial number of the device whose messages are read: the one given,
 * or (opened with "") the first seen publishing; "" while none has. other
 * (may be NULL): a second device seen publishing there (its messages are
 * left out), or "". */
void sc_dut_mqtt_serial(struct sc_dut *d, char *out, size_t cap, char *other, size_t ocap);
/* Waits up to ms (real time) for a message to arrive; true if one did. */
bool sc_dut_mqtt_wait(struct sc_dut *d, int ms);

/* What the subscriber saw, since it started: messages that arrived on the
 * device's topics (another device's left out), those of them the bench
 * dropped (no memory for them: never in the log), and the times its
 * connection to the broker was lost (what was published until it was
 * back never reached it). The queue between paho's thread and the runner
 * has no fixed bound, so the bench drops nothing else. */
struct sc_dut_mqtt_stats {
	uint64_t received, dropped, lost_connections;
};
void sc_dut_mqtt_stats(struct sc_dut *d, struct sc_dut_mqtt_stats *st);

#endif
