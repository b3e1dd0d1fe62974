/* One MQTT 3.1.1 connection over TCP or TLS, on the event loop: no thread,
 * one descriptor, a few hundred bytes while idle over TCP, so that a fleet
 * of thousands of devices runs in one process. The TLS handshake runs on
 * the loop too (OpenSSL, non-blocking). A broker given by name is resolved
 * off the loop (resolver.h: a short-lived thread, one lookup for all the
 * links of the process that ask for the same name at the same time);
 * without an answer within 5 s the attempt fails ("cannot resolve NAME: no
 * answer within 5 s"). A connection whose oldest QoS 1 publish has no PUBACK
 * within twice the keep-alive (30 s at most) has stalled: the link goes
 * down with "stalled: no PUBACK ...", its unacknowledged publishes counted
 * as failed (never sent again: clean session, see decisions.md). The device's client (mqtt.h)
 * decides when to connect, hold and retry; a link only connects, sends
 * CONNECT, publishes, keeps the connection alive (PINGREQ) and reports.
 *
 * Callbacks come from the loop, never from inside a link function; after
 * down() the link is dead and is closed by its owner. */
#ifndef SC_MQTT_LINK_H
#define SC_MQTT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "mqtt_codec.h"

struct sc_mqtt_link_events {
	void *arg;
	void (*up)(void *arg);                          /* CONNACK accepted */
	void (*down)(void *arg, bool was_up, const char *why);
};

struct sc_mqtt_link_opts {
	const char *host;          /* a name or an IPv4/IPv6 address */
	int port;
	struct sc_mqtt_connect connect;
	int timeout_ms;            /* for TCP, TLS and CONNACK together */
	/* TLS: NULL for plain TCP. The link takes a reference of its own (the
	 * caller may free its one after open). The broker's certificate must
	 * name host and be valid at tls_time (UTC epoch s: the device clock). */
	struct ssl_ctx_st *tls;
	int64_t tls_time;
};

struct sc_mqtt_link;

/* Starts connecting. NULL with why when it cannot even start (the
 * connection to an address is refused at once, no resources); a name that
 * does not resolve is reported by down(), as a connection that failed. A TLS failure's why
 * starts with "TLS: " and names the cause (tls_check.h). */
struct sc_mqtt_link *sc_mqtt_link_open(struct sc_loop *loop, const struct sc_mqtt_link_opts *o,
				       const struct sc_mqtt_link_events *ev, char *why, size_t cap);
/* Sends DISCONNECT when up (best effort) and frees; no more callbacks.
 * Adds the link's publishes to *ok and *failed (see sc_mqtt_link_counts);
 * those still unwritten or unacknowledged count as failed. */
void sc_mqtt_link_close(struct sc_mqtt_link *l, uint64_t *ok, uint64_t *failed);
/* Publishes done so far: QoS 0 written whole to the socket, QoS 1
 * acknowledged (ok); lost with the connection (failed). */
void sc_mqtt_link_counts(const struct sc_mqtt_link *l, uint64_t *ok, uint64_t *failed);
bool sc_mqtt_link_up(const struct sc_mqtt_link *l);
/* Up, with bytes the socket did not take waiting in the link, or half the
 * QoS 1 window unacknowledged: a publish now might be refused soon.
 * *progress (when not NULL) grows with every byte written and every
 * PUBACK, so that a caller can tell a broker that takes nothing. */
bool sc_mqtt_link_backed_up(const struct sc_mqtt_link *l, uint64_t *progress);
/* Publishes (qos 0 or 1); false when not up or too much is waiting to be
 * written (the broker does not keep up): the message is not sent. */
bool sc_mqtt_link_publish(struct sc_mqtt_link *l, const char *topic, const void *payload,
			  size_t len, int qos, bool retain);
/* Batches (on): from a publish on, the socket holds what is written
 * (TCP_CORK) until sc_mqtt_link_push, SC_MQTT_LINK_BATCH_BYTES written
 * since the batch began, a packet other than a publish (which goes out at
 * once, with what waits before it), or the socket taking what waited in
 * the link: the broker gets many publishes in one segment and wakes once
 * for them. A push ends the batch (the socket holds nothing back after
 * it, even what the broker's window takes only later); the next publish
 * begins another. For a loop on virtual time, whose owner pushes whenever
 * it waits (a publish is never held past that). Off: each write goes out
 * at once, as the device's. */
#define SC_MQTT_LINK_BATCH_BYTES 16384
void sc_mqtt_link_batch(struct sc_mqtt_link *l, bool on);
/* Sends what the socket holds (batches only; nothing otherwise). */
void sc_mqtt_link_push(struct sc_mqtt_link *l);

#endif
