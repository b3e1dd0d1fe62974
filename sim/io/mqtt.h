/* The device's MQTT client (manual §5.1, §5.4): when to connect, retry with
 * a backoff, hold down, and what is counted. It runs on the event loop
 * alone, over TCP or TLS (mqtt_link.h: no thread, no state shared between
 * clients, a fleet of thousands in one process); the TLS handshake checks
 * the broker's certificate against the device clock and says why it failed
 * (tls_check.h). Connecting never blocks the loop (a host name resolves
 * on a thread, mqtt_link.h); what is published while disconnected is dropped and counted,
 * as the device publishes live values, not a queue. */
#ifndef SC_MQTT_H
#define SC_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"

struct sc_mqtt_opts {
	struct sc_broker broker;
	const char *client_id;
	const char *username;     /* NULL or "" = none (mutual TLS) */
	const char *password;
	const char *cafile;       /* TLS: CA certificates to verify the broker with */
	const char *certfile;     /* TLS: the device certificate (CN = serial) */
	const char *keyfile;      /* TLS: its private key */
	bool insecure;            /* TLS without verifying the broker (tests only) */
	int qos;                  /* 0 or 1 */
	bool retain;
	int keepalive_s;
	int reconnect_min_ms, reconnect_max_ms;
	/* Device time (UTC epoch s) for certificate validity: TLS fails when
	 * the device clock lies outside the certificates' validity (§5.1: the
	 * device needs the right date and time). NULL = real time. */
	int64_t (*device_time)(void *arg);
	void *device_time_arg;
	bool start_held;          /* start held down (the device has no network yet) */
	/* Start with the network refusing the broker (sc_mqtt_refuse); NULL
	 * or "" = reachable. */
	const char *refused;
	/* Called from the loop when the connection comes up or goes down. */
	void (*on_state)(void *arg, bool connected);
	void *on_state_arg;
};

enum sc_mqtt_state {
	SC_MQTT_IDLE = 0,     /* waiting to (re)connect */
	SC_MQTT_CONNECTING,
	SC_MQTT_CONNECTED,
	SC_MQTT_HELD,         /* held down on purpose (broker cut by a test) */
};

/* Every publish ends in send_pass or in one of the three ways of
 * send_fail (or is still in flight, sc_mqtt_in_flight). Each way is
 * logged too: a connection lost says how many went with it, the next
 * connection how many were dropped while there was none, and a connection
 * that refuses publishes gets a warning when it starts and a line with
 * the count when it takes them again. */
struct sc_mqtt_counters {
	uint64_t event_connect; /* connections made */
	uint64_t event_errors;  /* attempts that failed, connections lost */
	uint64_t send_pass;     /* publishes the client handed to the broker: QoS 0
	                         * written whole to the socket, QoS 1 acknowledged */
	uint64_t send_fail;     /* dropped + refused + lost */
	uint64_t dropped;       /* of send_fail: dropped while not connected */
	uint64_t refused;       /* of send_fail: refused by the connection up (32
	                         * messages or 256 KiB waiting: the broker does not
	                         * keep up; or the socket broke as it was written) */
	uint64_t lost;          /* of send_fail: taken by a connection, lost with it
	                         * (not written whole, or no PUBACK, when it ended) */
};

struct sc_mqtt;

/* NULL on failure (logged). Starts connecting at once. */
struct sc_mqtt *sc_mqtt_start(struct sc_loop *loop, const struct sc_mqtt_opts *o);
void sc_mqtt_stop(struct sc_mqtt *m);

/* Publishes now if connected; otherwise drops and counts. Returns true
 * when handed to the client. */
bool sc_mqtt_publish(struct sc_mqtt *m, const char *topic, const void *payload, size_t len);

/* Drops the connection and stays down until released (a test's "broker
 * down"); release reconnects at once. */
void sc_mqtt_hold(struct sc_mqtt *m, bool hold);
/* The network refuses the broker (why: the error each attempt fails with,
 * e.g. "connection refused"), or reaches it again (why NULL or ""). While
 * refused the client goes on trying with its back-off, each attempt fails
 * and counts in event_errors, last_error says why; a connection up is lost
 * (counted too). Reachable again: the next attempt due connects; the
 * back-off is not cut short. Independent of sc_mqtt_hold. */
void sc_mqtt_refuse(struct sc_mqtt *m, const char *why);
/* Reconnect now (soft reset): closes a connection and connects again. */
void sc_mqtt_reconnect(struct sc_mqtt *m);

enum sc_mqtt_state sc_mqtt_state(const struct sc_mqtt *m);
const char *sc_mqtt_state_name(enum sc_mqtt_state s);
const struct sc_mqtt_counters *sc_mqtt_counters(struct sc_mqtt *m);
/* Publishes handed to the client whose outcome is not known yet. */
uint64_t sc_mqtt_in_flight(const struct sc_mqtt *m);
/* Publishes batched into few segments (sc_mqtt_link_batch), this
 * connection's and the next ones', until pushed (sc_mqtt_push): for a
 * loop on virtual time whose owner pushes whenever it waits. */
void sc_mqtt_batch(struct sc_mqtt *m, bool on);
void sc_mqtt_push(struct sc_mqtt *m);
/* Connected, and what was published is not all with the broker yet
 * beyond what a publish now may add (sc_mqtt_link_backed_up); progress
 * grows while the broker takes anything. */
bool sc_mqtt_backed_up(const struct sc_mqtt *m, uint64_t *progress);
/* The cause of the last failure, "" when none. */
const char *sc_mqtt_last_error(const struct sc_mqtt *m);
/* "mqtts://host:port (mutual TLS)" and the like, for logs and status. */
const char *sc_mqtt_describe(const struct sc_mqtt *m);

#endif
