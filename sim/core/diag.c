#include "diag.h"

#include <inttypes.h>
#include <stdio.h>

#include "sc_error.h"

/* splitmix64: a seeded, stateless draw per (seed, t). */
static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Figures of the order of the manual's example (heap_free 116840,
 * heap_min_free 54588, heap_largest_free 65536). */
#define HEAP_IDLE 128000u
#define HEAP_PER_MODBUS 2600u  /* a socket and its buffers */
#define HEAP_MQTT 9800u        /* the MQTT client and its TLS session */
#define HEAP_PER_HTTP 14000u   /* an HTTPS request in progress */
#define HEAP_JITTER 3000u

void sc_heap_init(struct sc_heap_model *h, uint64_t seed)
{
	h->seed = seed;
	h->min_free = UINT64_MAX;
}

void sc_heap_sample(struct sc_heap_model *h, int64_t t, int modbus_clients, bool mqtt_up,
		    int http_busy, struct sc_diag *out)
{
	uint64_t used = (uint64_t)(modbus_clients > 0 ? modbus_clients : 0) * HEAP_PER_MODBUS +
			(mqtt_up ? HEAP_MQTT : 0) +
			(uint64_t)(http_busy > 0 ? http_busy : 0) * HEAP_PER_HTTP +
			mix(h->seed ^ (uint64_t)t) % HEAP_JITTER;
	uint64_t free_b = HEAP_IDLE > used ? HEAP_IDLE - used : 0;
	if (free_b < h->min_free)
		h->min_free = free_b;
	out->heap_free = free_b;
	out->heap_min_free = h->min_free;
	/* The largest block is what the fragmentation leaves: a power of two
	 * at most half the free space, and never above 64 KiB. */
	uint64_t largest = 65536;
	while (largest > free_b / 2 && largest > 256)
		largest /= 2;
	out->heap_largest_free = largest;
	out->heap_failed_allocs = 0;
}

int sc_diag_json(const struct sc_diag *d, int64_t ts, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
			 "{\"ts\":%" PRId64 ",\"uptime\":%" PRIu64 ",\"gw_ping_pass\":%" PRIu64
			 ",\"gw_ping_fail\":%" PRIu64 ",\"internet_ping_pass\":%" PRIu64
			 ",\"internet_ping_fail\":%" PRIu64 ",\"telegrams_pass\":%" PRIu64
			 ",\"telegrams_fail\":%" PRIu64 ",\"telegrams_frame_fail\":%" PRIu64
			 ",\"mqtt_event_errors\":%" PRIu64 ",\"mqtt_event_connect\":%" PRIu64
			 ",\"mqtt_send_pass\":%" PRIu64 ",\"mqtt_send_fail\":%" PRIu64
			 ",\"heap_free\":%" PRIu64 ",\"heap_min_free\":%" PRIu64
			 ",\"heap_largest_free\":%" PRIu64 ",\"heap_failed_allocs\":%" PRIu64 "}",
			 ts, d->uptime, d->gw_ping_pass, d->gw_ping_fail, d->internet_ping_pass,
			 d->internet_ping_fail, d->telegrams_pass, d->telegrams_fail,
			 d->telegrams_frame_fail, d->mqtt_event_errors, d->mqtt_event_connect,
			 d->mqtt_send_pass, d->mqtt_send_fail, d->heap_free, d->heap_min_free,
			 d->heap_largest_free, d->heap_failed_allocs);
	if (n < 0 || (size_t)n >= cap)
		return SC_ERR_RANGE;
	return n;
}

int sc_topic(char *buf, size_t cap, const char *site, const char *serial, const char *metric,
	     enum sc_topic_site empty)
{
	int n;
	if (site[0] || empty == SC_TOPIC_SITE_EMPTY)
		n = snprintf(buf, cap, "devices/%s/smart-connect/%s/data/%s", site, serial, metric);
	else
		n = snprintf(buf, cap, "devices/smart-connect/%s/data/%s", serial, metric);
	if (n < 0 || (size_t)n >= cap)
		return SC_ERR_RANGE;
	return n;
}
