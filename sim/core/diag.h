/* The device's diagnostics: the device_counters MQTT metric (SMART-CONNECT.md
 * §7, manual §5.4) and the MQTT topics. Pure.
 *
 * What is counted and what is modelled:
 *   counted   telegrams_pass/fail/frame_fail (the parser, device.h),
 *             mqtt_event_connect (connections made), mqtt_event_errors
 *             (connection attempts that failed and connections lost),
 *             mqtt_send_pass/fail (publishes handed to the broker / not:
 *             dropped while disconnected or refused), uptime (device clock
 *             since the last start, seconds).
 *   modelled  gw_ping_* and internet_ping_*: one ping of each every
 *             SC_DIAG_PING_S seconds of device time (the manual's example
 *             counts about one per 3 s of uptime), passing while the network
 *             model says the gateway / the internet is reachable.
 *             heap_*: an ESP32-class heap (the counters are ESP-IDF's) whose
 *             free space drops with each open connection, seeded jitter, the
 *             low-water mark kept; no allocation ever fails.
 */
#ifndef SC_DIAG_H
#define SC_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_DIAG_PING_S 3

struct sc_diag {
	uint64_t uptime;
	uint64_t gw_ping_pass, gw_ping_fail;
	uint64_t internet_ping_pass, internet_ping_fail;
	uint64_t telegrams_pass, telegrams_fail, telegrams_frame_fail;
	uint64_t mqtt_event_errors, mqtt_event_connect;
	uint64_t mqtt_send_pass, mqtt_send_fail;
	uint64_t heap_free, heap_min_free, heap_largest_free, heap_failed_allocs;
};

/* The heap model's state. */
struct sc_heap_model {
	uint64_t seed;
	uint64_t min_free;
};

void sc_heap_init(struct sc_heap_model *h, uint64_t seed);
/* Heap figures for the current load (open Modbus clients, MQTT connected,
 * HTTP requests in progress), drawn at the given device time (seconds). */
void sc_heap_sample(struct sc_heap_model *h, int64_t t, int modbus_clients, bool mqtt_up,
		    int http_busy, struct sc_diag *out);

/* device_counters as compact JSON in the manual's key order, with "ts"
 * first (every payload carries one, §5.4). Returns the length, or
 * SC_ERR_RANGE when buf is too small. */
int sc_diag_json(const struct sc_diag *d, int64_t ts, char *buf, size_t cap);

/* How a topic is formed when the site is empty. */
enum sc_topic_site {
	SC_TOPIC_SITE_OMIT = 0, /* devices/smart-connect/<serial>/data/<metric> */
	SC_TOPIC_SITE_EMPTY,    /* devices//smart-connect/<serial>/data/<metric> */
};

/* devices/<site>/smart-connect/<serial>/data/<metric> (manual §5.4).
 * Returns the length or SC_ERR_RANGE. */
int sc_topic(char *buf, size_t cap, const char *site, const char *serial, const char *metric,
	     enum sc_topic_site empty);

#endif
