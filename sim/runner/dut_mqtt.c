/* The device's MQTT messages through a paho subscriber (paho's asynchronous
 * client on its own thread, the right tool for a harness): paho's thread
 * queues each message under a lock, the runner drains the queue into a log
 * stamped with its own time. The queue has no fixed bound: a device that
 * sends faster than the runner drains for a while (a replay at full speed
 * whose broker takes a backlog at once) must not lose messages in the
 * bench. What the bench does lose, a message it finds no memory for, or
 * those published while its connection is down, is counted
 * (sc_dut_mqtt_stats). The subscription is renewed when the broker comes
 * back (a broker outage restarts it). */
#include "dut_int.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cursor.h"

struct queued {
	char metric[32];
	char *payload;
	double wall;              /* real time it arrived (s since 1970) */
};

struct sc_dut_mqtt {
	const struct sc_dut *d;   /* its device: the broker's URL, the serial */
	MQTTAsync mq;
	volatile bool subscribed, failed;
	char error[160];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Arrived, not drained yet (oldest first); under mu. */
	struct queued *q;
	size_t qlen, qcap;
	/* Under mu: messages that arrived, those dropped for want of memory,
	 * connections lost (see sc_dut_mqtt_stats). */
	uint64_t received, dropped, lost;
	/* Opened without a serial: the first device seen on the wildcard
	 * topics is the one read; another's messages are left out (other
	 * names the first such, ignored counts them). Under mu. */
	char learned[40], other[40];
	uint64_t ignored;
	struct sc_dut_msg *log;
	size_t nlog, caplog;
	uint64_t seq;
};

/* ---- paho's thread queues ---- */

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct sc_dut_mqtt *m = ctx;
	(void)topic_len;
	const char *metric = strrchr(topic, '/');
	metric = metric ? metric + 1 : topic;
	if (!m->d->serial[0]) {
		/* devices/[<site>/]smart-connect/<serial>/data/<metric> */
		char serial[40] = "";
		const char *sn = strstr(topic, "smart-connect/");
		if (sn) {
			sn += strlen("smart-connect/");
			size_t n = strcspn(sn, "/");
			if (n < sizeof serial) {
				memcpy(serial, sn, n);
				serial[n] = '\0';
			}
		}
		pthread_mutex_lock(&m->mu);
		bool theirs = !m->learned[0] || strcmp(m->learned, serial) == 0;
		if (!m->learned[0])
			sc_str_copy(m->learned, sizeof m->learned, serial);
		if (!theirs) {
			if (!m->other[0])
				sc_str_copy(m->other, sizeof m->other, serial);
			m->ignored++;
		}
		pthread_mutex_unlock(&m->mu);
		if (!theirs) {
			MQTTAsync_freeMessage(&msg);
			MQTTAsync_free(topic);
			return 1;
		}
	}
	char *payload = malloc((size_t)msg->payloadlen + 1);
	if (payload) {
		memcpy(payload, msg->payload, (size_t)msg->payloadlen);
		payload[msg->payloadlen] = '\0';
	}
	pthread_mutex_lock(&m->mu);
	m->received++;
	if (payload && m->qlen == m->qcap) {
		size_t cap = m->qcap ? m->qcap * 2 : 1024;
		struct queued *q = realloc(m->q, cap * sizeof *q);
		if (q) {
			m->q = q;
			m->qcap = cap;
		}
	}
	if (payload && m->qlen < m->qcap) {
		struct queued *e = &m->q[m->qlen++];
		sc_str_copy(e->metric, sizeof e->metric, metric);
		e->payload = payload;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		e->wall = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	} else {
		m->dropped++;
		free(payload);
	}
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_lost(void *ctx, char *cause)
{
	struct sc_dut_mqtt *m = ctx;
	(void)cause;
	pthread_mutex_lock(&m->mu);
	m->lost++;
	pthread_mutex_unlock(&m->mu);
	m->subscribed = false;
}

static void signal_state(struct sc_dut_mqtt *m)
{
	pthread_mutex_lock(&m->mu);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	struct sc_dut_mqtt *m = ctx;
	m->subscribed = true;
	signal_state(m);
}

static void on_sub_failed(void *ctx, MQTTAsync_failureData *r)
{
	struct sc_dut_mqtt *m = ctx;
	snprintf(m->error, sizeof m->error, "cannot subscribe (paho code %d)", r ? r->code : 0);
	m->failed = true;
	signal_state(m);
}

static void subscribe(struct sc_dut_mqtt *m);

static void on_connected(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	subscribe(ctx);
}

/* The broker came back (restarted for an outage): the subscriptions went
 * with the session. */
static void on_reconnected(void *ctx, char *cause)
{
	(void)cause;
	subscribe(ctx);
}

static void subscribe(struct sc_dut_mqtt *m)
{
	/* The device's topics with a site and without one; without its
	 * serial, any device's (the first seen is the one read). */
	const char *serial = m->d->serial[0] ? m->d->serial : "+";
	char t1[160], t2[160]; /* paho keeps copies */
	snprintf(t1, sizeof t1, "devices/+/smart-connect/%s/data/#", serial);
	snprintf(t2, sizeof t2, "devices/smart-connect/%s/data/#", serial);
	char *topics[2] = {t1, t2};
	int qos[2] = {1, 1};
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_subscribed;
	ro.onFailure = on_sub_failed;
	ro.context = m;
	if (MQTTAsync_subscribeMany(m->mq, 2, topics, qos, &ro) != MQTTASYNC_SUCCESS) {
		snprintf(m->error, sizeof m->error, "cannot subscribe");
		m->failed = true;
		signal_state(m);
	}
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
	struct sc_dut_mqtt *m = ctx;
	snprintf(m->error, sizeof m->error, "cannot connect (paho code %d%s%s)",
		 r ? r->code : 0, r && r->message ? ": " : "", r && r->message ? r->message : "");
	m->failed = true;
	signal_state(m);
}

/* ---- the runner's side ---- */

int sc_dut_mqtt_start(struct sc_dut *d, char *why, size_t cap)
{
	struct sc_dut_mqtt *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	m->d = d;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	d->mq = m;
	const char *url = d->o.broker_url;
	char id[96];
	snprintf(id, sizeof id, "sc-hil-%ld-%s", (long)getpid(), d->serial);
	if (MQTTAsync_create(&m->mq, url, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS) {
		snprintf(why, cap, "mqtt: cannot create a client for %s", url);
		m->mq = NULL;
		return -1;
	}
	MQTTAsync_setCallbacks(m->mq, m, on_lost, on_message, NULL);
	MQTTAsync_setConnected(m->mq, m, on_reconnected);
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	co.keepAliveInterval = 30;
	co.automaticReconnect = 1;
	co.minRetryInterval = 1;
	co.maxRetryInterval = 2;
	co.cleansession = 1;
	co.connectTimeout = 10;
	co.onSuccess = on_connected;
	co.onFailure = on_connect_failed;
	co.context = m;
	if (MQTTAsync_connect(m->mq, &co) != MQTTASYNC_SUCCESS) {
		snprintf(why, cap, "mqtt: cannot connect to %s", url);
		return -1;
	}
	/* Subscribed before the run starts, or not at all. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 15;
	pthread_mutex_lock(&m->mu);
	while (!m->subscribed && !m->failed)
		if (pthread_cond_timedwait(&m->cv, &m->mu, &dl) != 0)
			break;
	pthread_mutex_unlock(&m->mu);
	if (!m->subscribed) {
		snprintf(why, cap, "mqtt: %s: %s", url, m->error[0] ? m->error : "no answer within 15 s");
		return -1;
	}
	return 0;
}

void sc_dut_mqtt_free(struct sc_dut_mqtt *m)
{
	if (!m)
		return;
	if (m->mq) {
		if (MQTTAsync_isConnected(m->mq)) {
			MQTTAsync_disconnectOptions o = MQTTAsync_disconnectOptions_initializer;
			o.timeout = 200;
			MQTTAsync_disconnect(m->mq, &o);
		}
		MQTTAsync_destroy(&m->mq);
	}
	for (size_t i = 0; i < m->qlen; i++)
		free(m->q[i].payload);
	free(m->q);
	for (size_t i = 0; i < m->nlog; i++)
		free(m->log[i].payload);
	free(m->log);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}

void sc_dut_mqtt_drain(struct sc_dut *d, double now)
{
	struct sc_dut_mqtt *m = d->mq;
	if (!m)
		return;
	/* The whole queue taken at once: paho's thread goes on queueing into
	 * a fresh one while these join the log. */
	pthread_mutex_lock(&m->mu);
	struct queued *q = m->q;
	size_t n = m->qlen, qcap = m->qcap;
	if (n == 0) {
		pthread_mutex_unlock(&m->mu);
		return;
	}
	m->q = NULL;
	m->qlen = m->qcap = 0;
	pthread_mutex_unlock(&m->mu);
	if (n > m->caplog - m->nlog) {
		size_t cap = m->caplog ? m->caplog : 256;
		while (cap - m->nlog < n)
			cap *= 2;
		struct sc_dut_msg *l = realloc(m->log, cap * sizeof *l);
		if (l) {
			m->log = l;
			m->caplog = cap;
		}
	}
	uint64_t dropped = 0;
	for (size_t i = 0; i < n; i++) {
		struct queued *e = &q[i];
		if (m->nlog == m->caplog) {
			free(e->payload);
			dropped++;
			continue;
		}
		struct sc_dut_msg *msg = &m->log[m->nlog++];
		sc_str_copy(msg->metric, sizeof msg->metric, e->metric);
		msg->payload = e->payload;
		msg->seen = now;
		msg->wall = e->wall;
		msg->seq = ++m->seq;
	}
	/* The emptied array is the next queue, unless paho's thread has
	 * started one meanwhile. */
	pthread_mutex_lock(&m->mu);
	m->dropped += dropped;
	if (!m->q) {
		m->q = q;
		m->qcap = qcap;
		q = NULL;
	}
	pthread_mutex_unlock(&m->mu);
	free(q);
}

void sc_dut_mqtt_stats(struct sc_dut *d, struct sc_dut_mqtt_stats *st)
{
	memset(st, 0, sizeof *st);
	struct sc_dut_mqtt *m = d->mq;
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	st->received = m->received;
	st->dropped = m->dropped;
	st->lost_connections = m->lost;
	pthread_mutex_unlock(&m->mu);
}

const struct sc_dut_msg *sc_dut_mqtt_log(const struct sc_dut *d, size_t *n)
{
	*n = d->mq ? d->mq->nlog : 0;
	return d->mq ? d->mq->log : NULL;
}

void sc_dut_mqtt_forget(struct sc_dut *d, double t)
{
	struct sc_dut_mqtt *m = d->mq;
	if (!m)
		return;
	size_t k = 0;
	while (k < m->nlog && m->log[k].seen < t)
		free(m->log[k++].payload);
	if (k == 0)
		return;
	memmove(m->log, m->log + k, (m->nlog - k) * sizeof *m->log);
	m->nlog -= k;
}

bool sc_dut_mqtt_subscribed(const struct sc_dut *d)
{
	return d->mq && d->mq->mq && d->mq->subscribed;
}

bool sc_dut_mqtt_wait(struct sc_dut *d, int ms)
{
	struct timespec dl;
	if (!d->mq) {
		/* No subscriber: nothing will come; the wait is kept. */
		dl.tv_sec = ms / 1000;
		dl.tv_nsec = (long)(ms % 1000) * 1000000L;
		nanosleep(&dl, NULL);
		return false;
	}
	struct sc_dut_mqtt *m = d->mq;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->mu);
	while (m->qlen == 0)
		if (pthread_cond_timedwait(&m->cv, &m->mu, &dl) != 0)
			break;
	bool got = m->qlen > 0;
	pthread_mutex_unlock(&m->mu);
	return got;
}

void sc_dut_mqtt_serial(struct sc_dut *d, char *out, size_t cap, char *other, size_t ocap)
{
	struct sc_dut_mqtt *m = d->mq;
	if (other && ocap)
		other[0] = '\0';
	if (d->serial[0] || !m) {
		sc_str_copy(out, cap, d->serial);
		return;
	}
	pthread_mutex_lock(&m->mu);
	sc_str_copy(out, cap, m->learned);
	if (other && ocap)
		sc_str_copy(other, ocap, m->other);
	pthread_mutex_unlock(&m->mu);
}
