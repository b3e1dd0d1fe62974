#include "mqtt.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mqtt_link.h"
#include "tls_check.h"

/* What happened to the connection, as the client's state machine sees it. */
enum ev_kind { EV_CONNECTED, EV_CONNECT_FAILED, EV_LOST, EV_DISCONNECTED };

struct sc_mqtt {
	struct sc_loop *loop;
	struct sc_mqtt_opts o;
	char *client_id, *username, *password, *cafile, *certfile, *keyfile;
	char desc[340];
	struct sc_mqtt_link *link;     /* the connection, NULL while there is none */
	uint64_t link_ok, link_failed; /* publishes of the links closed */
	enum sc_mqtt_state state;
	bool hold, stopping;
	bool batch;                    /* sc_mqtt_batch */
	int retry_timer;
	int backoff_ms;
	struct sc_mqtt_counters c;
	uint64_t handed;               /* publishes the links took */
	/* For the logs: drops while disconnected not yet reported, and the
	 * refusals of the connection up since it last took a publish. */
	uint64_t dropped_unsaid, refused_run;
	char last_error[320];
	char refused[160];             /* the network refuses the broker: why */
};

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

static void handle(struct sc_mqtt *m, enum ev_kind kind, const char *text);

/* Closes the connection; returns how many publishes it had taken that
 * went with it (not written whole, or not acknowledged). */
static uint64_t close_link(struct sc_mqtt *m)
{
	uint64_t before = m->link_failed;
	sc_mqtt_link_close(m->link, &m->link_ok, &m->link_failed);
	m->link = NULL;
	return m->link_failed - before;
}

/* Publishes lost with a connection, said (they are counted in lost). */
static void say_lost(struct sc_mqtt *m, uint64_t lost)
{
	if (lost)
		sc_log(SC_LOG_WARN, "mqtt: %s: %llu publish%s lost with the connection", m->desc,
		       (unsigned long long)lost, lost == 1 ? "" : "es");
}

/* Ends a connection on purpose. */
static void disconnect(struct sc_mqtt *m)
{
	uint64_t lost = close_link(m);
	handle(m, EV_DISCONNECTED, "");
	say_lost(m, lost);
}

static void on_link_up(void *arg)
{
	handle(arg, EV_CONNECTED, "");
}

static void on_link_down(void *arg, bool was_up, const char *why)
{
	struct sc_mqtt *m = arg;
	uint64_t lost = close_link(m);
	handle(m, was_up ? EV_LOST : EV_CONNECT_FAILED, why);
	say_lost(m, lost);
}

static int64_t device_now(const struct sc_mqtt *m)
{
	return m->o.device_time ? m->o.device_time(m->o.device_time_arg) : (int64_t)time(NULL);
}

static void try_connect(void *arg)
{
	struct sc_mqtt *m = arg;
	m->retry_timer = -1;
	if (m->hold || m->stopping || m->state != SC_MQTT_IDLE)
		return;
	struct sc_mqtt_link_opts lo = {
		.host = m->o.broker.host,
		.port = m->o.broker.port,
		.connect = {m->client_id, m->username, m->password, m->o.keepalive_s, true},
		.timeout_ms = 10000,
	};
	char why[256], text[300];
	SSL_CTX *ctx = NULL;
	if (m->refused[0]) {
		/* The attempt fails as the network makes it fail. */
		failed(m, m->refused);
		schedule_retry(m);
		return;
	}
	if (m->o.broker.tls) {
		/* The device checks certificates against its own clock. */
		int64_t now = device_now(m);
		const char *files[] = {m->cafile, m->certfile};
		const char *what[] = {"CA certificate", "device certificate"};
		for (int i = 0; i < 2; i++) {
			if (files[i] && sc_tls_check_valid(files[i], now, what[i], why, sizeof why) != 0) {
				snprintf(text, sizeof text, "TLS: %s", why);
				failed(m, text);
				schedule_retry(m);
				return;
			}
		}
		/* Read afresh for each connection: files replaced on disk count. */
		ctx = sc_tls_client_ctx(m->cafile, m->certfile, m->keyfile, !m->o.insecure, why,
					sizeof why);
		if (!ctx) {
			snprintf(text, sizeof text, "TLS: %s", why);
			failed(m, text);
			schedule_retry(m);
			return;
		}
		lo.tls = ctx;
		lo.tls_time = now;
	}
	struct sc_mqtt_link_events ev = {m, on_link_up, on_link_down};
	m->state = SC_MQTT_CONNECTING;
	m->link = sc_mqtt_link_open(m->loop, &lo, &ev, why, sizeof why);
	SSL_CTX_free(ctx); /* the link holds its own reference */
	sc_mqtt_link_batch(m->link, m->batch);
	if (!m->link) {
		m->state = SC_MQTT_IDLE;
		failed(m, why);
		schedule_retry(m);
	}
}

static void handle(struct sc_mqtt *m, enum ev_kind kind, const char *text)
{
	switch (kind) {
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
		if (m->dropped_unsaid || m->refused_run)
			sc_log(SC_LOG_INFO,
			       "mqtt: connected to %s as %s (%llu publishes dropped while not "
			       "connected, %llu refused by the connection before)",
			       m->desc, m->client_id, (unsigned long long)m->dropped_unsaid,
			       (unsigned long long)m->refused_run);
		else
			sc_log(SC_LOG_INFO, "mqtt: connected to %s as %s", m->desc, m->client_id);
		m->dropped_unsaid = 0;
		m->refused_run = 0;
		if (m->o.on_state)
			m->o.on_state(m->o.on_state_arg, true);
		break;
	case EV_CONNECT_FAILED:
		m->state = m->hold ? SC_MQTT_HELD : SC_MQTT_IDLE;
		failed(m, text);
		schedule_retry(m);
		break;
	case EV_LOST:
		if (m->state != SC_MQTT_CONNECTED)
			break;
		m->state = m->hold ? SC_MQTT_HELD : SC_MQTT_IDLE;
		failed(m, text);
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

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct sc_mqtt *sc_mqtt_start(struct sc_loop *loop, const struct sc_mqtt_opts *o)
{
	struct sc_mqtt *m = calloc(1, sizeof *m);
	if (!m) {
		sc_log(SC_LOG_ERROR, "mqtt: out of memory");
		return NULL;
	}
	m->loop = loop;
	m->o = *o;
	m->retry_timer = -1;
	m->backoff_ms = o->reconnect_min_ms;
	m->client_id = dup_or_null(o->client_id);
	m->username = dup_or_null(o->username);
	m->password = dup_or_null(o->password);
	m->cafile = dup_or_null(o->cafile);
	m->certfile = dup_or_null(o->certfile);
	m->keyfile = dup_or_null(o->keyfile);
	if ((o->client_id && !m->client_id) || (o->username && !m->username) ||
	    (o->password && !m->password) || (o->cafile && !m->cafile) ||
	    (o->certfile && !m->certfile) || (o->keyfile && !m->keyfile)) {
		sc_log(SC_LOG_ERROR, "mqtt: out of memory");
		sc_mqtt_stop(m);
		return NULL;
	}
	snprintf(m->desc, sizeof m->desc, "%s://%s:%d (%s)", o->broker.tls ? "mqtts" : "mqtt",
		 o->broker.host, o->broker.port,
		 o->broker.tls ? (o->certfile ? "mutual TLS" : "TLS")
			       : (o->username && *o->username ? "user name and password" : "plain"));
	if (o->refused)
		snprintf(m->refused, sizeof m->refused, "%s", o->refused);
	if (o->start_held) {
		m->hold = true;
		m->state = SC_MQTT_HELD;
	} else {
		try_connect(m);
	}
	return m;
}

void sc_mqtt_stop(struct sc_mqtt *m)
{
	if (!m)
		return;
	m->stopping = true;
	sc_loop_cancel_timer(m->loop, m->retry_timer);
	if (m->link)
		say_lost(m, close_link(m));
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
	*ok = m->link_ok + lok;
	*bad = m->link_failed + lbad;
}

static void sync_counters(struct sc_mqtt *m)
{
	uint64_t ok, bad;
	link_counts(m, &ok, &bad);
	m->c.send_pass = ok;
	m->c.lost = bad;
	m->c.send_fail = bad + m->c.dropped + m->c.refused;
}

bool sc_mqtt_publish(struct sc_mqtt *m, const char *topic, const void *payload, size_t len)
{
	if (m->state != SC_MQTT_CONNECTED || !m->link) {
		/* Said when the next connection is made (the loss of this one
		 * was said already). */
		m->c.dropped++;
		m->dropped_unsaid++;
		return false;
	}
	if (!sc_mqtt_link_publish(m->link, topic, payload, len, m->o.qos, m->o.retain)) {
		m->c.refused++;
		if (m->refused_run++ == 0)
			sc_log(SC_LOG_WARN,
			       "mqtt: %s does not keep up: publishes are dropped while 32 messages "
			       "or 256 KiB wait to be written or acknowledged",
			       m->desc);
		return false;
	}
	if (m->refused_run) {
		sc_log(SC_LOG_INFO, "mqtt: %s takes publishes again; %llu dropped meanwhile", m->desc,
		       (unsigned long long)m->refused_run);
		m->refused_run = 0;
	}
	m->handed++;
	return true;
}

bool sc_mqtt_backed_up(const struct sc_mqtt *m, uint64_t *progress)
{
	if (m->state != SC_MQTT_CONNECTED || !m->link) {
		if (progress)
			*progress = 0;
		return false;
	}
	return sc_mqtt_link_backed_up(m->link, progress);
}

void sc_mqtt_batch(struct sc_mqtt *m, bool on)
{
	m->batch = on;
	sc_mqtt_link_batch(m->link, on);
}

void sc_mqtt_push(struct sc_mqtt *m)
{
	sc_mqtt_link_push(m->link);
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
			/* The attempt under way ends now (nothing published on it). */
			(void)close_link(m);
		}
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

void sc_mqtt_refuse(struct sc_mqtt *m, const char *why)
{
	if (!why)
		why = "";
	if (strcmp(why, m->refused) == 0)
		return;
	bool was = m->refused[0] != '\0';
	snprintf(m->refused, sizeof m->refused, "%s", why);
	if (!why[0]) {
		sc_log(SC_LOG_INFO, "mqtt: the network reaches %s again", m->desc);
		return;
	}
	if (!was)
		sc_log(SC_LOG_INFO, "mqtt: the network refuses %s", m->desc);
	if (m->state == SC_MQTT_CONNECTED) {
		/* The connection breaks: lost, as a broker gone away. */
		uint64_t lost = close_link(m);
		handle(m, EV_LOST, why);
		say_lost(m, lost);
	} else if (m->state == SC_MQTT_CONNECTING && m->link) {
		(void)close_link(m);
		handle(m, EV_CONNECT_FAILED, why);
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
		disconnect(m); /* and connects again */
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
