/* The runner's MQTT subscriber (sim/runner/dut_mqtt.c) against a real
 * mosquitto: a device that publishes far more than the runner drains for a
 * while (a replay at full speed whose broker takes a backlog at once, while
 * the runner waits on the twin) loses nothing in the bench, and what the
 * bench does miss (a lost connection) is counted; the runner's grace for
 * messages still on their way lasts while a backlog of them flows. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "dut.h"
#include "mqtt_codec.h"
#include "payload.h"
#include "runner_int.h"

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_all(int s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(s, p, n);
		cr_assert_gt(w, 0, "write to the broker failed");
		p += w;
		n -= (size_t)w;
	}
}

/* A private mosquitto and the runner's subscriber to it, for device T1. */
static struct sc_dut *bench_open(struct sc_broker_proc *b)
{
	char why[256] = "";
	cr_assert_eq(sc_broker_start(b, why, sizeof why), 0, "%s", why);
	struct sc_dut_opts o = {.host = "127.0.0.1", .broker_url = b->url, .serial = "T1"};
	struct sc_dut *d = sc_dut_open(&o, why, sizeof why);
	cr_assert_not_null(d, "%s", why);
	return d;
}

/* A device's connection: CONNECT answered by a CONNACK. */
static int device_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {10, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int one = 1; /* each publish out as it is written, as a device's */
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	uint8_t pkt[64];
	struct sc_mqtt_connect c = {"T1", NULL, NULL, 60, true};
	int n = sc_mqtt_encode_connect(pkt, sizeof pkt, &c);
	cr_assert_gt(n, 0);
	write_all(s, pkt, (size_t)n);
	uint8_t ack[4];
	cr_assert_eq(read(s, ack, sizeof ack), 4);
	cr_assert(ack[0] == 0x20 && ack[3] == 0, "no CONNACK accepting the device");
	return s;
}

/* Waits (real time, with a deadline) until the subscriber has received
 * want messages, without draining them into the runner's log. */
static void wait_received(struct sc_dut *d, uint64_t want)
{
	double dl = mono_s() + 30;
	struct sc_dut_mqtt_stats st;
	for (;;) {
		sc_dut_mqtt_stats(d, &st);
		if (st.received >= want)
			return;
		cr_assert_lt(mono_s(), dl, "the subscriber received %llu of %llu messages",
			     (unsigned long long)st.received, (unsigned long long)want);
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
}

#define ROUNDS 12
#define PER_ROUND 1000

Test(dut_mqtt, a_backlog_the_runner_has_not_drained_is_kept_whole, .timeout = 120)
{
	struct sc_broker_proc b;
	struct sc_dut *d = bench_open(&b);
	int s = device_connect(b.port);
	/* 12,000 messages arrive while the runner drains none (a few times
	 * what a fixed queue of a few thousand would hold), in rounds the
	 * broker's own queue for the subscriber (1000 by default) takes. */
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < PER_ROUND; i++) {
			char payload[64];
			int pl = snprintf(payload, sizeof payload, "{\"n\":%d}", r * PER_ROUND + i);
			uint8_t pkt[160];
			long n = sc_mqtt_encode_publish(pkt, sizeof pkt,
							"devices/smart-connect/T1/data/power_instant",
							payload, (size_t)pl, 0, false, 0);
			cr_assert_gt(n, 0);
			write_all(s, pkt, (size_t)n);
		}
		wait_received(d, (uint64_t)(r + 1) * PER_ROUND);
	}
	sc_dut_mqtt_drain(d, 1.0);
	size_t n;
	const struct sc_dut_msg *log = sc_dut_mqtt_log(d, &n);
	cr_assert_eq(n, (size_t)ROUNDS * PER_ROUND, "%zu messages in the log", n);
	for (size_t i = 0; i < n; i++) {
		char want[64];
		snprintf(want, sizeof want, "{\"n\":%zu}", i);
		cr_assert_str_eq(log[i].payload, want, "message %zu", i);
	}
	struct sc_dut_mqtt_stats st;
	sc_dut_mqtt_stats(d, &st);
	cr_assert_eq(st.received, (uint64_t)ROUNDS * PER_ROUND);
	cr_assert_eq(st.dropped, 0);
	cr_assert_eq(st.lost_connections, 0);
	close(s);
	sc_dut_close(d);
	sc_broker_stop(&b);
}

Test(dut_mqtt, a_lost_connection_is_counted, .timeout = 120)
{
	struct sc_broker_proc b;
	struct sc_dut *d = bench_open(&b);
	int port = b.port;
	/* A broker outage: what is published meanwhile never reaches the
	 * bench, which says so. */
	sc_broker_stop(&b);
	double dl = mono_s() + 30;
	struct sc_dut_mqtt_stats st;
	for (;;) {
		sc_dut_mqtt_stats(d, &st);
		if (st.lost_connections > 0)
			break;
		cr_assert_lt(mono_s(), dl, "the lost connection was not counted");
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(st.lost_connections, 1);
	char why[256] = "";
	cr_assert_eq(sc_broker_start_at(&b, "127.0.0.1", port, why, sizeof why), 0, "%s", why);
	sc_dut_close(d);
	sc_broker_stop(&b);
}

/* The reading of telegram i (as the oracle would want it). */
static struct sc_reading reading(int i)
{
	struct sc_reading r;
	memset(&r, 0, sizeof r);
	r.ts = 1751371200 + i;
	r.ts_set = true;
	r.q[SC_RQ_P].set = true;
	r.q[SC_RQ_P].v = 100 + i;
	r.q[SC_RQ_E_IMPORT].set = true;
	r.q[SC_RQ_E_IMPORT].v = 19064850 + i;
	return r;
}

/* A device publishing telegram i's power_instant for i < n, gap_ns apart
 * (a backlog the broker is still handing on when the run ends). */
struct drip {
	int s, n;
	long gap_ns;
};

static void *drip_run(void *arg)
{
	struct drip *dr = arg;
	for (int i = 0; i < dr->n; i++) {
		struct sc_reading r = reading(i);
		char payload[2048];
		int pl = sc_payload_power_instant_text(&r, payload, sizeof payload);
		uint8_t pkt[2300];
		long n = pl > 0 ? sc_mqtt_encode_publish(pkt, sizeof pkt,
							 "devices/smart-connect/T1/data/power_instant",
							 payload, (size_t)pl, 0, false, 0)
				: -1;
		if (n <= 0 || write(dr->s, pkt, (size_t)n) != n)
			break;
		struct timespec ts = {0, dr->gap_ns};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Runs the grace to its end over a drip of n messages gap_ns apart, with
 * n telegrams waiting for them; returns how many got theirs. */
static size_t grace_over_drip(struct sc_dut *d, int s, int grace_ms, int n, long gap_ns)
{
	struct sc_run_io io = {.mqtt_grace_ms = grace_ms};
	struct sc_runner c = {.dut = d, .io = &io};
	sc_delivery_init(&c.dl, 0, 0);
	c.dl.on = true;
	sc_dut_mqtt_drain(d, 0);
	size_t have;
	sc_dut_mqtt_log(d, &have);
	if (have > 0)
		c.dl.seq = sc_dut_mqtt_log(d, &have)[have - 1].seq;
	for (int i = 0; i < n; i++) {
		struct sc_reading r = reading(i);
		cr_assert_eq(sc_delivery_add(&c.dl, i, SC_PI_UNCHECKED, &r, false, false), 0);
	}
	struct drip dr = {s, n, gap_ns};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, drip_run, &dr), 0);
	struct sc_mqtt_grace g;
	sc_mqtt_grace_start(&c, &g);
	while (sc_mqtt_grace_wait(&c, &g))
		;
	struct sc_delivery_counts k;
	sc_delivery_tally(&c.dl, &k);
	pthread_join(th, NULL);
	sc_delivery_free(&c.dl);
	return (size_t)n - k.lost;
}

Test(dut_mqtt, the_grace_lasts_while_a_backlog_flows, .timeout = 120)
{
	struct sc_broker_proc b;
	struct sc_dut *d = bench_open(&b);
	int s = device_connect(b.port);
	/* A grace of 1 s, a backlog flowing for 2 s: a grace counted from its
	 * start would end with half of them. */
	size_t got = grace_over_drip(d, s, 1000, 40, 50000000);
	cr_assert_eq(got, 40, "the grace ended with %zu of 40 messages", got);
	/* A flow that does not stop is waited for SC_MQTT_GRACE_MAX graces at
	 * most: with a grace of 100 ms, 2 s, while the drip goes on for 3 s. */
	got = grace_over_drip(d, s, 100, 300, 10000000);
	cr_assert_lt(got, 300, "the grace outlasted its cap: all %zu messages came within it", got);
	close(s);
	sc_dut_close(d);
	sc_broker_stop(&b);
}
