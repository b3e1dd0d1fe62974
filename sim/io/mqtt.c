#include "mqtt.h"

#include <MQTTAsync.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mqtt_codec.h"
#include "mqtt_link.h"
#include "tls_check.h"

/* What paho's threads tell the loop. */
enum ev_kind { EV_CONNECTED, EV_CONNECT_FAILED, EV_LOST, EV_DISCONNECTED, EV_PROBED };

struct event {
	enum ev_kind kind;
	char text[240];
};

/* Events are rare (a connection made, failed or lost): a few slots do. */
#define QUEUE_CAP 8

struct sc_mqtt {
	struct sc_loop *loop;
	struct sc_mqtt_opts o;
	char *client_id, *username, *password, *cafile, *certfile, *keyfile;
	char uri[300];
	char desc[340];
	MQTTAsync client;         /* TLS brokers: paho */
	struct sc_mqtt_link *link;/* plain TCP: the loop's own connection */
	uint64_t link_ok, link_failed; /* of the links closed */
	enum sc_mqtt_state state;
	bool hold, stopping;
	int retry_timer;
	int backoff_ms;
	struct sc_mqtt_counters c;
	char last_error[320];

	/* Shared with paho's threads. */
	pthread_mutex_t mu;
	struct event q[QUEUE_CAP];
	int qhead, qlen;
	char ssl_error[200];
	atomic_uint_fast64_t sent_ok, sent_failed;
	uint64_t handed;          /* publishes paho took (loop thread) */
	bool registered;          /* counted by the hub */
	bool pending;             /* on the hub's list (hub.mu) */
	struct sc_mqtt *next_pending;
	/* A diagnostic handshake after a TLS failure paho cannot explain. */
	pthread_t probe;
	bool probing;
	char probe_host[254];
	int64_t probe_time;
};

static bool paho_ready;

const char *sc_mqtt_state_name(enum sc_mqtt_state s)
{
	switch (s) {
	case SC_MQTT_CONNECTING:
		return "connecting";
	case SC_MQTT_CONNECTED:
		return "connected";
	case SC_MQTT_HELD:
		return "held down";
	case SC_MQTT_IDLE:
		break;
	}
	return "disconnected";
}

/* ---- paho's threads: copy, queue, wake ---- */

/* One wake-up descriptor for every client of the process (a fleet has
 * thousands): paho's threads put a client on the pending list and write to
 * it; the loop drains the pending clients' queues. */
static struct {
	pthread_mutex_t mu;
	int fd;
	struct sc_loop *loop;
	int clients;
	struct sc_mqtt *pending;
} hub = {PTHREAD_MUTEX_INITIALIZER, -1, NULL, 0, NULL};

static void post(struct sc_mqtt *m, enum ev_kind k, const char *text)
{
	pthread_mutex_lock(&m->mu);
	if (m->qlen < QUEUE_CAP) {
		struct event *e = &m->q[(m->qhead + m->qlen++) % QUEUE_CAP];
		e->kind = k;
		snprintf(e->text, sizeof e->text, "%s", text ? text : "");
	}
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_lock(&hub.mu);
	if (!m->pending) {
		m->pending = true;
		m->next_pending = hub.pending;
		hub.pending = m;
	}
	int fd = hub.fd;
	pthread_mutex_unlock(&hub.mu);
	uint64_t one = 1;
	if (write(fd, &one, sizeof one) < 0) {
		/* The counter is at its maximum: the loop is already woken. */
	}
}

/* Paho leaves Nagle's algorithm on, and a broker acknowledges a QoS 0
 * publish only with its delayed ACK: each message after the first would wait
 * up to 40 ms for the one before it to be acknowledged. Turns it off on this
 * process's TCP connections to the broker's port (paho does not hand out its
 * socket). */
static void nodelay_to_port(int port)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || fd < 0 || fd == dirfd(d))
			continue;
		struct sockaddr_storage peer;
		socklen_t len = sizeof peer;
		int type = 0;
		socklen_t tl = sizeof type;
		if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
			continue;
		if (getpeername((int)fd, (struct sockaddr *)&peer, &len) != 0)
			continue;
		int pport = peer.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&peer)->sin_port)
			    : peer.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&peer)->sin6_port)
							 : -1;
		if (pport != port)
			continue;
		int one = 1;
		(void)setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	closedir(d);
}

static void on_connect_ok(void *ctx, MQTTAsync_successData *r)
{
	struct sc_mqtt *m = ctx;
	(void)r;
	nodelay_to_port(m->o.broker.port);
	post(ctx, EV_CONNECTED, NULL);
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData *r)
{
	struct sc_mqtt *m = ctx;
	char text[220];
	const char *ca = r ? sc_mqtt_connack_text(r->code) : NULL;
	pthread_mutex_lock(&m->mu);
	if (ca)
		snprintf(text, sizeof text, "%s", ca);
	else if (m->ssl_error[0])
		snprintf(text, sizeof text, "TLS: %s", m->ssl_error);
	else if (r && r->message)
		snprintf(text, sizeof text, "%s", r->message);
	else
		snprintf(text, sizeof text, "connect failed (paho code %d)", r ? r->code : 0);
	m->ssl_error[0] = '\0';
	pthread_mutex_unlock(&m->mu);
	post(m, EV_CONNECT_FAILED, text);
}

static void on_lost(void *ctx, char *cause)
{
	post(ctx, EV_LOST, cause && *cause ? cause : "connection lost");
}

static void on_disconnected(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	post(ctx, EV_DISCONNECTED, NULL);
}

static void on_disconnect_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	post(ctx, EV_DISCONNECTED, NULL);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	(void)ctx;
	(void)topic_len;
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_sent(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	struct sc_mqtt *m = ctx;
	atomic_fetch_add(&m->sent_ok, 1);
}

static void on_send_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	struct sc_mqtt *m = ctx;
	atomic_fetch_add(&m->sent_failed, 1);
}

static int on_ssl_error(const char *str, size_t len, void *ctx)
{
	struct sc_mqtt *m = ctx;
	/* OpenSSL's error lines: "TID:error:CODE:LIBRARY:FUNCTION:REASON:FILE:LINE:".
	 * The reason ("certificate verify failed") is the sixth field. */
	const char *p = str, *end = str + len;
	for (int field = 0; field < 5 && p < end; field++) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (!colon) {
			p = str;
			break;
		}
		p = colon + 1;
	}
	const char *stop = memchr(p, ':', (size_t)(end - p));
	size_t n = (size_t)((stop ? stop : end) - p);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	pthread_mutex_lock(&m->mu);
	if (!m->ssl_error[0] && n > 0)
		snprintf(m->ssl_error, sizeof m->ssl_error, "%.*s", (int)(n > 190 ? 190 : n), p);
	pthread_mutex_unlock(&m->mu);
	return 1;
}

/* ---- the loop ---- */

static void *probe_main(void *arg)
{
	struct sc_mqtt *m = arg;
	char why[240];
	if (sc_tls_probe(m->probe_host, m->o.broker.port, m->cafile, m->certfile, m->keyfile,
			 m->probe_time, why, sizeof why) != 0)
		post(m, EV_PROBED, why);
	else
		post(m, EV_PROBED, "");
	return NULL;
}

/* paho says "TCP/TLS connect failure" whatever went wrong in the handshake;
 * a handshake of our own, off the loop, finds the cause for the log. */
static void start_probe(struct sc_mqtt *m)
{
	if (m->probing || m->stopping)
		return;
	snprintf(m->probe_host, sizeof m->probe_host, "%s", m->o.broker.host);
	m->probe_time = m->o.device_time ? m->o.device_time(m->o.device_time_arg) : (int64_t)time(NULL);
	m->probing = pthread_create(&m->probe, NULL, probe_main, m) == 0;
}

static void try_connect(void *arg);

static void schedule_retry(struct sc_mqtt *m)
{
	if (m->hold || m->stopping)
		return;
	sc_loop_cancel_timer(m->loop, m->retry_timer);
	int delay = m->backoff_ms;
	m->retry_timer = sc_loop_add_timer(m->loop, sc_loop_now(m->loop) + delay, try_connect, m);
	/* Doubling up to the maximum: a broker that is down is asked again
	 * every reconnect_max_ms (the device's esp-mqtt waits 10 s). */
	m->backoff_ms = delay * 2 > m->o.reconnect_max_ms ? m->o.reconnect_max_ms : delay * 2;
	sc_log(SC_LOG_DEBUG, "mqtt: next attempt in %d ms", delay);
}

static void failed(struct sc_mqtt *m, const char *why)
{
	m->c.event_errors++;
	bool repeat = strcmp(m->last_error, why) == 0;
	snprintf(m->last_error, sizeof m->last_error, "%s", why);
	/* The same cause again is logged at debug level only. */
	sc_log(repeat ? SC_LOG_DEBUG : SC_LOG_WARN, "mqtt: %s: %s", m->desc, why);
}

static void handle(struct sc_mqtt *m, const struct event *e);

/* Ends a connection on purpose; EV_DISCONNECTED follows (at once for a
 * link, from paho's thread for paho). */
static void disconnect(struct sc_mqtt *m)
{
	if (m->link) {
		sc_mqtt_link_close(m->link, &m->link_ok, &m->link_failed);
		m->link = NULL;
		struct event e = {EV_DISCONNECTED, ""};
		handle(m, &e);
		return;
	}
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	d.onSuccess = on_disconnected;
	d.onFailure = on_disconnect_fail;
	d.context = m;
	MQTTAsync_disconnect(m->client, &d);
}

static void on_link_up(void *arg)
{
	struct event e = {EV_CONNECTED, ""};
	handle(arg, &e);
}

static void on_link_down(void *arg, bool was_up, const char *why)
{
	struct sc_mqtt *m = arg;
	sc_mqtt_link_close(m->link, &m->link_ok, &m->link_failed);
	m->link = NULL;
	struct event e = {was_up ? EV_LOST : EV_CONNECT_FAILED, ""};
	snprintf(e.text, sizeof e.text, "%s", why);
	handle(m, &e);
}

static void connect_link(struct sc_mqtt *m)
{
	struct sc_mqtt_link_opts lo = {
		.host = m->o.broker.host,
		.port = m->o.broker.port,
		.connect = {m->client_id, m->username, m->password, m->o.keepalive_s, true},
		.timeout_ms = 10000,
	};
	struct sc_mqtt_link_events ev = {m, on_link_up, on_link_down};
	char why[200];
	m->state = SC_MQTT_CONNECTING;
	m->link = sc_mqtt_link_open(m->loop, &lo, &ev, why, sizeof why);
	if (!m->link) {
		m->state = SC_MQTT_IDLE;
		failed(m, why);
		schedule_retry(m);
	}
}

static void try_connect(void *arg)
{
	struct sc_mqtt *m = arg;
	m->retry_timer = -1;
	if (m->hold || m->stopping || m->state != SC_MQTT_IDLE)
		return;
	/* The device checks certificates against its own clock. */
	if (m->o.broker.tls) {
		int64_t now = m->o.device_time ? m->o.device_time(m->o.device_time_arg)
					       : (int64_t)time(NULL);
		char why[256];
		const char *files[] = {m->cafile, m->certfile};
		const char *what[] = {"CA certificate", "device certificate"};
		for (int i = 0; i < 2; i++) {
			if (files[i] && sc_tls_check_valid(files[i], now, what[i], why, sizeof why) != 0) {
				char text[300];
				snprintf(text, sizeof text, "TLS: %s", why);
				failed(m, text);
				schedule_retry(m);
				return;
			}
		}
	}
	if (!m->o.broker.tls) {
		connect_link(m);
		return;
	}
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_SSLOptions so = MQTTAsync_SSLOptions_initializer;
	co.keepAliveInterval = m->o.keepalive_s;
	co.cleansession = 1;
	co.connectTimeout = 10;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.onSuccess = on_connect_ok;
	co.onFailure = on_connect_fail;
	co.context = m;
	if (m->username && *m->username) {
		co.username = m->username;
		co.password = m->password;
	}
	if (m->o.broker.tls) {
		so.trustStore = m->cafile;
		so.keyStore = m->certfile;
		so.privateKey = m->keyfile;
		so.enableServerCertAuth = 1;
		so.verify = 1; /* the broker's name must match its certificate */
		so.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
		so.ssl_error_cb = on_ssl_error;
		so.ssl_error_context = m;
		co.ssl = &so;
	}
	m->state = SC_MQTT_CONNECTING;
	int rc = MQTTAsync_connect(m->client, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		m->state = SC_MQTT_IDLE;
		char text[64];
		snprintf(text, sizeof text, "cannot start connecting (paho code %d)", rc);
		failed(m, text);
		schedule_retry(m);
	}
}

static void handle(struct sc_mqtt *m, const struct event *e)
{
	switch (e->kind) {
	case EV_CONNECTED:
		if (m->hold || m->stopping) {
			/* Held down while the connect was in flight. */
			m->state = SC_MQTT_CONNECTED;
			m->c.event_connect++;
			disconnect(m);
			m->state = SC_MQTT_HELD;
			return;
		}
		m->state = SC_MQTT_CONNECTED;
		m->c.event_connect++;
		m->backoff_ms = m->o.reconnect_min_ms;
		m->last_error[0] = '\0';
		sc_log(SC_LOG_INFO, "mqtt: connected to %s as %s", m->desc, m->client_id);
		if (m->o.on_state)
			m->o.on_state(m->o.on_state_arg, true);
		break;
	case EV_CONNECT_FAILED: {
		m->state = m->hold ? SC_MQTT_HELD : SC_MQTT_IDLE;
		bool vague = m->o.broker.tls && strncmp(e->text, "TLS: ", 5) != 0 &&
			     strncmp(e->text, "connection refused", 18) != 0;
		bool repeat = strcmp(m->last_error, e->text) == 0;
		failed(m, e->text);
		if (vague && !repeat)
			start_probe(m);
		schedule_retry(m);
		break;
	}
	case EV_PROBED:
		if (m->probing) {
			pthread_join(m->probe, NULL);
			m->probing = false;
		}
		if (e->text[0] && m->state != SC_MQTT_CONNECTED) {
			char text[300];
			snprintf(text, sizeof text, "TLS: %s", e->text);
			snprintf(m->last_error, sizeof m->last_error, "%s", text);
			sc_log(SC_LOG_WARN, "mqtt: %s: %s", m->desc, text);
		}
		break;
	case EV_LOST:
		if (m->state != SC_MQTT_CONNECTED)
			break;
		m->state = m->hold ? SC_MQTT_HELD : SC_MQTT_IDLE;
		failed(m, e->text);
		if (m->o.on_state)
			m->o.on_state(m->o.on_state_arg, false);
		schedule_retry(m);
		break;
	case EV_DISCONNECTED:
		if (m->state == SC_MQTT_CONNECTED)
			m->state = m->hold ? SC_MQTT_HELD : SC_MQTT_IDLE;
		if (!m->hold && !m->stopping && m->state == SC_MQTT_IDLE) {
			m->backoff_ms = m->o.reconnect_min_ms;
			try_connect(m);
		}
		break;
	}
}

static void drain(struct sc_mqtt *m)
{
	for (;;) {
		struct event e;
		pthread_mutex_lock(&m->mu);
		bool have = m->qlen > 0;
		if (have) {
			e = m->q[m->qhead];
			m->qhead = (m->qhead + 1) % QUEUE_CAP;
			m->qlen--;
		}
		pthread_mutex_unlock(&m->mu);
		if (!have)
			break;
		handle(m, &e);
	}
}

static void on_hub(void *arg, int fd, short revents)
{
	(void)arg;
	(void)revents;
	uint64_t n;
	if (read(fd, &n, sizeof n) < 0) {
		/* EAGAIN: drained by an earlier wake-up */
	}
	/* One client at a time: a client stopped meanwhile leaves the list. */
	for (;;) {
		pthread_mutex_lock(&hub.mu);
		struct sc_mqtt *m = hub.pending;
		if (m) {
			hub.pending = m->next_pending;
			m->pending = false;
		}
		pthread_mutex_unlock(&hub.mu);
		if (!m)
			break;
		drain(m);
	}
}

/* Counts the client in; the first one sets the descriptor up. */
static int hub_join(struct sc_mqtt *m, struct sc_loop *loop)
{
	int rc = 0;
	pthread_mutex_lock(&hub.mu);
	if (hub.fd < 0) {
		hub.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (hub.fd < 0 || sc_loop_add_fd(loop, hub.fd, POLLIN, on_hub, NULL) != 0) {
			if (hub.fd >= 0)
				close(hub.fd);
			hub.fd = -1;
			rc = -1;
		}
		hub.loop = loop;
	} else if (hub.loop != loop) {
		sc_log(SC_LOG_ERROR, "mqtt: every client of a process runs on one event loop");
		rc = -1;
	}
	if (rc == 0) {
		hub.clients++;
		m->registered = true;
	}
	pthread_mutex_unlock(&hub.mu);
	return rc;
}

/* After paho let go of the client: off the list; the last one closes. */
static void hub_leave(struct sc_mqtt *m)
{
	if (!m->registered)
		return;
	pthread_mutex_lock(&hub.mu);
	for (struct sc_mqtt **p = &hub.pending; *p; p = &(*p)->next_pending) {
		if (*p == m) {
			*p = m->next_pending;
			break;
		}
	}
	if (--hub.clients == 0) {
		sc_loop_del_fd(hub.loop, hub.fd);
		close(hub.fd);
		hub.fd = -1;
		hub.loop = NULL;
		hub.pending = NULL;
	}
	pthread_mutex_unlock(&hub.mu);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct sc_mqtt *sc_mqtt_start(struct sc_loop *loop, const struct sc_mqtt_opts *o)
{
	if (!paho_ready && o->broker.tls) {
		MQTTAsync_init_options io = MQTTAsync_init_options_initializer;
		io.do_openssl_init = 1;
		MQTTAsync_global_init(&io);
		paho_ready = true;
	}
	struct sc_mqtt *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->loop = loop;
	m->o = *o;
	m->retry_timer = -1;
	m->backoff_ms = o->reconnect_min_ms;
	pthread_mutex_init(&m->mu, NULL);
	atomic_init(&m->sent_ok, 0);
	atomic_init(&m->sent_failed, 0);
	m->client_id = dup_or_null(o->client_id);
	m->username = dup_or_null(o->username);
	m->password = dup_or_null(o->password);
	m->cafile = dup_or_null(o->cafile);
	m->certfile = dup_or_null(o->certfile);
	m->keyfile = dup_or_null(o->keyfile);
	snprintf(m->uri, sizeof m->uri, "%s://%s:%d", o->broker.tls ? "ssl" : "tcp", o->broker.host,
		 o->broker.port);
	snprintf(m->desc, sizeof m->desc, "%s://%s:%d (%s)", o->broker.tls ? "mqtts" : "mqtt",
		 o->broker.host, o->broker.port,
		 o->broker.tls ? (o->certfile ? "mutual TLS" : "TLS")
			       : (o->username && *o->username ? "user name and password" : "plain"));
	if (o->broker.tls) {
		if (hub_join(m, loop) != 0)
			goto fail;
		int rc = MQTTAsync_create(&m->client, m->uri, m->client_id,
					  MQTTCLIENT_PERSISTENCE_NONE, NULL);
		if (rc != MQTTASYNC_SUCCESS) {
			sc_log(SC_LOG_ERROR, "mqtt: cannot create a client for %s (paho code %d)",
			       m->uri, rc);
			m->client = NULL;
			goto fail;
		}
		MQTTAsync_setCallbacks(m->client, m, on_lost, on_message, NULL);
	}
	if (o->start_held) {
		m->hold = true;
		m->state = SC_MQTT_HELD;
	} else {
		try_connect(m);
	}
	return m;
fail:
	sc_mqtt_stop(m);
	return NULL;
}

void sc_mqtt_stop(struct sc_mqtt *m)
{
	if (!m)
		return;
	m->stopping = true;
	sc_loop_cancel_timer(m->loop, m->retry_timer);
	if (m->probing)
		pthread_join(m->probe, NULL);
	if (m->link) {
		sc_mqtt_link_close(m->link, &m->link_ok, &m->link_failed);
		m->link = NULL;
	}
	if (m->client) {
		if (MQTTAsync_isConnected(m->client)) {
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
			d.timeout = 200;
			MQTTAsync_disconnect(m->client, &d);
			/* Let paho send DISCONNECT before the client goes. */
			for (int i = 0; i < 40 && MQTTAsync_isConnected(m->client); i++) {
				struct timespec ts = {0, 5000000};
				nanosleep(&ts, NULL);
			}
		}
		MQTTAsync_destroy(&m->client);
	}
	hub_leave(m);
	pthread_mutex_destroy(&m->mu);
	free(m->client_id);
	free(m->username);
	free(m->password);
	free(m->cafile);
	free(m->certfile);
	free(m->keyfile);
	free(m);
}

static void link_counts(const struct sc_mqtt *m, uint64_t *ok, uint64_t *bad)
{
	uint64_t lok, lbad;
	sc_mqtt_link_counts(m->link, &lok, &lbad);
	*ok = atomic_load(&m->sent_ok) + m->link_ok + lok;
	*bad = atomic_load(&m->sent_failed) + m->link_failed + lbad;
}

static void sync_counters(struct sc_mqtt *m)
{
	uint64_t ok, bad;
	link_counts(m, &ok, &bad);
	m->c.send_pass = ok;
	m->c.send_fail = bad + m->c.dropped;
}

bool sc_mqtt_publish(struct sc_mqtt *m, const char *topic, const void *payload, size_t len)
{
	if (m->state != SC_MQTT_CONNECTED) {
		m->c.dropped++;
		return false;
	}
	if (m->link) {
		if (!sc_mqtt_link_publish(m->link, topic, payload, len, m->o.qos, m->o.retain)) {
			m->c.dropped++;
			return false;
		}
		m->handed++;
		return true;
	}
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	msg.payload = (void *)(uintptr_t)payload;
	msg.payloadlen = (int)len;
	msg.qos = m->o.qos;
	msg.retained = m->o.retain;
	ro.onSuccess = on_sent;
	ro.onFailure = on_send_fail;
	ro.context = m;
	int rc = MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		m->c.dropped++;
		return false;
	}
	m->handed++;
	return true;
}

uint64_t sc_mqtt_in_flight(const struct sc_mqtt *m)
{
	uint64_t ok, bad;
	link_counts(m, &ok, &bad);
	uint64_t done = ok + bad;
	return m->handed > done ? m->handed - done : 0;
}

void sc_mqtt_hold(struct sc_mqtt *m, bool hold)
{
	if (hold == m->hold)
		return;
	m->hold = hold;
	if (hold) {
		sc_loop_cancel_timer(m->loop, m->retry_timer);
		m->retry_timer = -1;
		if (m->state == SC_MQTT_CONNECTED) {
			disconnect(m);
			if (m->o.on_state)
				m->o.on_state(m->o.on_state_arg, false);
		} else if (m->state == SC_MQTT_CONNECTING && m->link) {
			/* A link's attempt ends now (paho's ends in EV_CONNECTED). */
			sc_mqtt_link_close(m->link, &m->link_ok, &m->link_failed);
			m->link = NULL;
			m->state = SC_MQTT_HELD;
		}
		if (m->state != SC_MQTT_CONNECTING)
			m->state = SC_MQTT_HELD;
		sc_log(SC_LOG_INFO, "mqtt: held down");
	} else {
		sc_log(SC_LOG_INFO, "mqtt: released");
		if (m->state == SC_MQTT_HELD)
			m->state = SC_MQTT_IDLE;
		m->backoff_ms = m->o.reconnect_min_ms;
		if (m->state == SC_MQTT_IDLE)
			try_connect(m);
	}
}

void sc_mqtt_reconnect(struct sc_mqtt *m)
{
	if (m->hold)
		return;
	m->backoff_ms = m->o.reconnect_min_ms;
	if (m->state == SC_MQTT_CONNECTED) {
		if (m->o.on_state)
			m->o.on_state(m->o.on_state_arg, false);
		disconnect(m);
		/* EV_DISCONNECTED connects again. */
	} else if (m->state == SC_MQTT_IDLE) {
		sc_loop_cancel_timer(m->loop, m->retry_timer);
		m->retry_timer = -1;
		try_connect(m);
	}
}

enum sc_mqtt_state sc_mqtt_state(const struct sc_mqtt *m)
{
	return m->state;
}

const struct sc_mqtt_counters *sc_mqtt_counters(struct sc_mqtt *m)
{
	sync_counters(m);
	return &m->c;
}

const char *sc_mqtt_last_error(const struct sc_mqtt *m)
{
	return m->last_error;
}

const char *sc_mqtt_describe(const struct sc_mqtt *m)
{
	return m->desc;
}
