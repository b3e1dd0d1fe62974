#include "dut.h"

#include <MQTTAsync.h>
#include <curl/curl.h>
#include <errno.h>
#include <modbus.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct queued {
	char metric[32];
	char *payload;
};

#define QUEUE_CAP 4096

struct sc_dut {
	struct sc_dut_opts o;
	char host[256], user[64], password[128], serial[40];
	modbus_t *mb;
	bool mb_connected;
	CURL *curl;
	char base[300];
	/* MQTT (paho's asynchronous client, the library the twin uses too) */
	MQTTAsync mq;
	volatile bool subscribed, failed;
	char mq_error[160];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct queued q[QUEUE_CAP];
	int qhead, qlen;
	uint64_t dropped;
	struct sc_dut_msg *log;
	size_t nlog, caplog;
	uint64_t seq;
};

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- MQTT: paho's thread queues, the runner drains ---- */

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct sc_dut *d = ctx;
	(void)topic_len;
	const char *metric = strrchr(topic, '/');
	metric = metric ? metric + 1 : topic;
	char *payload = malloc((size_t)msg->payloadlen + 1);
	if (payload) {
		memcpy(payload, msg->payload, (size_t)msg->payloadlen);
		payload[msg->payloadlen] = '\0';
	}
	pthread_mutex_lock(&d->mu);
	if (payload && d->qlen < QUEUE_CAP) {
		struct queued *e = &d->q[(d->qhead + d->qlen++) % QUEUE_CAP];
		copy(e->metric, sizeof e->metric, metric);
		e->payload = payload;
	} else {
		d->dropped++;
		free(payload);
	}
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_lost(void *ctx, char *cause)
{
	struct sc_dut *d = ctx;
	(void)cause;
	d->subscribed = false;
}

static void signal_state(struct sc_dut *d)
{
	pthread_mutex_lock(&d->mu);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	struct sc_dut *d = ctx;
	d->subscribed = true;
	signal_state(d);
}

static void on_sub_failed(void *ctx, MQTTAsync_failureData *r)
{
	struct sc_dut *d = ctx;
	snprintf(d->mq_error, sizeof d->mq_error, "cannot subscribe (paho code %d)", r ? r->code : 0);
	d->failed = true;
	signal_state(d);
}

static void subscribe(struct sc_dut *d);

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

static void subscribe(struct sc_dut *d)
{
	/* The device's topics with a site and without one. */
	char t1[160], t2[160]; /* paho keeps copies */
	snprintf(t1, sizeof t1, "devices/+/smart-connect/%s/data/#", d->serial);
	snprintf(t2, sizeof t2, "devices/smart-connect/%s/data/#", d->serial);
	char *topics[2] = {t1, t2};
	int qos[2] = {1, 1};
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess = on_subscribed;
	ro.onFailure = on_sub_failed;
	ro.context = d;
	if (MQTTAsync_subscribeMany(d->mq, 2, topics, qos, &ro) != MQTTASYNC_SUCCESS) {
		snprintf(d->mq_error, sizeof d->mq_error, "cannot subscribe");
		d->failed = true;
		signal_state(d);
	}
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
	struct sc_dut *d = ctx;
	snprintf(d->mq_error, sizeof d->mq_error, "cannot connect (paho code %d%s%s)",
		 r ? r->code : 0, r && r->message ? ": " : "", r && r->message ? r->message : "");
	d->failed = true;
	signal_state(d);
}

static int mqtt_open(struct sc_dut *d, char *why, size_t cap)
{
	char id[96];
	snprintf(id, sizeof id, "sc-hil-%ld-%s", (long)getpid(), d->serial);
	if (MQTTAsync_create(&d->mq, d->o.broker_url, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
	    MQTTASYNC_SUCCESS) {
		snprintf(why, cap, "mqtt: cannot create a client for %s", d->o.broker_url);
		d->mq = NULL;
		return -1;
	}
	MQTTAsync_setCallbacks(d->mq, d, on_lost, on_message, NULL);
	MQTTAsync_setConnected(d->mq, d, on_reconnected);
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	co.keepAliveInterval = 30;
	co.automaticReconnect = 1;
	co.minRetryInterval = 1;
	co.maxRetryInterval = 2;
	co.cleansession = 1;
	co.connectTimeout = 10;
	co.onSuccess = on_connected;
	co.onFailure = on_connect_failed;
	co.context = d;
	if (MQTTAsync_connect(d->mq, &co) != MQTTASYNC_SUCCESS) {
		snprintf(why, cap, "mqtt: cannot connect to %s", d->o.broker_url);
		return -1;
	}
	/* Subscribed before the run starts, or not at all. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 15;
	pthread_mutex_lock(&d->mu);
	while (!d->subscribed && !d->failed)
		if (pthread_cond_timedwait(&d->cv, &d->mu, &dl) != 0)
			break;
	pthread_mutex_unlock(&d->mu);
	if (!d->subscribed) {
		snprintf(why, cap, "mqtt: %s: %s", d->o.broker_url,
			 d->mq_error[0] ? d->mq_error : "no answer within 15 s");
		return -1;
	}
	return 0;
}

struct sc_dut *sc_dut_open(const struct sc_dut_opts *o, char *why, size_t cap)
{
	struct sc_dut *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	d->o = *o;
	copy(d->host, sizeof d->host, o->host);
	copy(d->user, sizeof d->user, o->user ? o->user : "user");
	copy(d->password, sizeof d->password, o->password);
	copy(d->serial, sizeof d->serial, o->serial);
	d->o.host = d->host;
	if (d->o.timeout_s <= 0)
		d->o.timeout_s = 5;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (o->https_port > 0)
		snprintf(d->base, sizeof d->base, "https://%s:%d", d->host, o->https_port);
	else
		snprintf(d->base, sizeof d->base, "http://%s:%d", d->host, o->http_port);
	if (o->broker_url && mqtt_open(d, why, cap) != 0) {
		sc_dut_close(d);
		return NULL;
	}
	return d;
}

void sc_dut_close(struct sc_dut *d)
{
	if (!d)
		return;
	if (d->mq) {
		if (MQTTAsync_isConnected(d->mq)) {
			MQTTAsync_disconnectOptions o = MQTTAsync_disconnectOptions_initializer;
			o.timeout = 200;
			MQTTAsync_disconnect(d->mq, &o);
		}
		MQTTAsync_destroy(&d->mq);
	}
	for (int i = 0; i < d->qlen; i++)
		free(d->q[(d->qhead + i) % QUEUE_CAP].payload);
	for (size_t i = 0; i < d->nlog; i++)
		free(d->log[i].payload);
	free(d->log);
	if (d->mb) {
		modbus_close(d->mb);
		modbus_free(d->mb);
	}
	if (d->curl)
		curl_easy_cleanup(d->curl);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}

void sc_dut_mqtt_drain(struct sc_dut *d, double now)
{
	pthread_mutex_lock(&d->mu);
	while (d->qlen > 0) {
		struct queued *e = &d->q[d->qhead];
		d->qhead = (d->qhead + 1) % QUEUE_CAP;
		d->qlen--;
		if (d->nlog == d->caplog) {
			size_t cap = d->caplog ? d->caplog * 2 : 256;
			struct sc_dut_msg *l = realloc(d->log, cap * sizeof *l);
			if (!l) {
				free(e->payload);
				continue;
			}
			d->log = l;
			d->caplog = cap;
		}
		struct sc_dut_msg *m = &d->log[d->nlog++];
		copy(m->metric, sizeof m->metric, e->metric);
		m->payload = e->payload;
		m->seen = now;
		m->seq = ++d->seq;
	}
	pthread_mutex_unlock(&d->mu);
}

const struct sc_dut_msg *sc_dut_mqtt_log(const struct sc_dut *d, size_t *n)
{
	*n = d->nlog;
	return d->log;
}

void sc_dut_mqtt_forget(struct sc_dut *d, double t)
{
	size_t k = 0;
	while (k < d->nlog && d->log[k].seen < t)
		free(d->log[k++].payload);
	if (k == 0)
		return;
	memmove(d->log, d->log + k, (d->nlog - k) * sizeof *d->log);
	d->nlog -= k;
}

bool sc_dut_mqtt_subscribed(const struct sc_dut *d)
{
	return d->mq && d->subscribed;
}

bool sc_dut_mqtt_wait(struct sc_dut *d, int ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	while (d->qlen == 0)
		if (pthread_cond_timedwait(&d->cv, &d->mu, &dl) != 0)
			break;
	bool got = d->qlen > 0;
	pthread_mutex_unlock(&d->mu);
	return got;
}

/* ---- Modbus ---- */

static int mb_connect(struct sc_dut *d, char *why, size_t cap)
{
	if (d->mb && d->mb_connected)
		return 0;
	if (!d->mb) {
		d->mb = modbus_new_tcp(d->host, d->o.modbus_port);
		if (!d->mb) {
			snprintf(why, cap, "modbus: cannot make a client for %s:%d", d->host,
				 d->o.modbus_port);
			return -1;
		}
		uint32_t sec = (uint32_t)d->o.timeout_s;
		modbus_set_response_timeout(d->mb, sec, (uint32_t)((d->o.timeout_s - sec) * 1e6));
	}
	if (modbus_connect(d->mb) != 0) {
		snprintf(why, cap, "modbus: cannot connect to %s:%d: %s", d->host, d->o.modbus_port,
			 modbus_strerror(errno));
		return -1;
	}
	d->mb_connected = true;
	return 0;
}

static void mb_drop(struct sc_dut *d)
{
	if (d->mb && d->mb_connected)
		modbus_close(d->mb);
	d->mb_connected = false;
}

int sc_dut_read(struct sc_dut *d, uint16_t addr, int count, uint16_t *out, char *why, size_t cap)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (mb_connect(d, why, cap) != 0)
			continue;
		int n = modbus_read_registers(d->mb, addr, count, out);
		if (n == count)
			return 0;
		int e = errno;
		/* An exception is the device's answer; a broken link is retried. */
		if (e >= MODBUS_ENOBASE && e < MODBUS_ENOBASE + 64) {
			snprintf(why, cap, "modbus: 0x%04X+%d: %s", addr, count, modbus_strerror(e));
			return -1;
		}
		snprintf(why, cap, "modbus: 0x%04X+%d: %s", addr, count, modbus_strerror(e));
		mb_drop(d);
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

/* ---- HTTP ---- */

struct body {
	char *p;
	size_t n;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = size * n;
	char *p = realloc(b->p, b->n + k + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, data, k);
	b->p = p;
	b->n += k;
	b->p[b->n] = '\0';
	return k;
}

int sc_dut_http(struct sc_dut *d, const char *method, const char *path, const char *body,
		int *status, char **resp, char *why, size_t cap)
{
	*resp = NULL;
	*status = 0;
	if (!d->curl && !(d->curl = curl_easy_init())) {
		snprintf(why, cap, "http: cannot make a client");
		return -1;
	}
	CURL *c = d->curl;
	curl_easy_reset(c);
	char url[512];
	snprintf(url, sizeof url, "%s%s", d->base, path);
	struct body b = {NULL, 0};
	struct curl_slist *h = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_USERNAME, d->user);
	curl_easy_setopt(c, CURLOPT_PASSWORD, d->password);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(d->o.timeout_s * 1000));
	/* A device's certificate is its own, self-signed. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(why, cap, "http: %s %s: %s", method, url, curl_easy_strerror(rc));
		free(b.p);
		return -1;
	}
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	*status = (int)st;
	*resp = b.p ? b.p : strdup("");
	return 0;
}
