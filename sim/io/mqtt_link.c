#include "mqtt_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "resolver.h"
#include "tls_check.h"

/* Publishes waiting to be written whole, and QoS 1 ones waiting for their
 * PUBACK: beyond these the broker is not keeping up and a publish fails. */
#define PENDING_MAX 32
#define TX_MAX (256 * 1024)
/* A broker name resolves within this, or the attempt fails. */
#define RESOLVE_MS 5000
/* The oldest QoS 1 publish is acknowledged within this (or twice the
 * keep-alive when that is shorter), or the connection has stalled. */
#define PUBACK_MAX_MS 30000

enum stage { L_RESOLVE, L_TCP, L_TLS, L_CONNACK, L_UP, L_DEAD };

struct sc_mqtt_link {
	struct sc_loop *loop;
	int fd;                          /* -1 while the name resolves */
	struct sc_resolve *job;          /* while the name resolves (resolver.h) */
	struct ssl_ctx_st *tls_ctx;      /* a reference held until the socket exists */
	enum stage st;
	struct sc_mqtt_link_events ev;
	int64_t keepalive_ms, timeout_ms;
	int64_t opened_ms, last_tx_ms, ping_sent_ms; /* monotonic; ping 0: none out */
	int64_t ack_limit_ms;            /* a PUBACK later than this: stalled */
	int timer;
	int64_t timer_at;                /* loop time the timer fires at */
	struct sc_mqtt_reader rd;
	/* What could not be written at once. */
	uint8_t *tx;
	size_t tx_off, tx_len, tx_cap;
	uint64_t written, queued;        /* bytes, since the connection started */
	uint64_t ends[PENDING_MAX];      /* QoS 0 messages in tx: where each ends */
	int nends;
	uint16_t ids[PENDING_MAX];       /* QoS 1 messages without PUBACK */
	int64_t sent_ms[PENDING_MAX];    /* when each was handed over (monotonic) */
	int nids;
	uint16_t next_id;
	uint64_t ok, failed;
	struct sc_mqtt_connect connect;  /* strings owned by the caller until up */
	/* TLS: NULL over plain TCP. */
	SSL *ssl;
	bool tls_wants_write;            /* OpenSSL waits for the socket to take bytes */
	char *host;                      /* the name the broker's certificate must bear */
	int64_t tls_time;
	char tls_error[200];             /* why the last TLS call failed, "" when none */
	/* sc_mqtt_link_batch: asked for; the socket corked now (a batch under
	 * way, from its first publish to the next push); the bytes of the
	 * batch's publishes. */
	bool batch, corked;
	size_t held;
};

static void on_timer(void *arg);
static void cork(struct sc_mqtt_link *l, bool on);

static void arm(struct sc_mqtt_link *l, int64_t in_ms)
{
	sc_loop_cancel_timer(l->loop, l->timer);
	l->timer_at = sc_loop_now(l->loop) + (in_ms > 0 ? in_ms : 0);
	l->timer = sc_loop_add_timer(l->loop, l->timer_at, on_timer, l);
}

/* The timer fires within in_ms (earlier when it is due earlier already). */
static void arm_by(struct sc_mqtt_link *l, int64_t in_ms)
{
	if (l->timer < 0 || sc_loop_now(l->loop) + in_ms < l->timer_at)
		arm(l, in_ms);
}

/* The link stops waiting for its name (the thread may still run). */
static void drop_job(struct sc_mqtt_link *l)
{
	if (!l->job)
		return;
	sc_loop_del_fd(l->loop, sc_resolve_fd(l->job));
	sc_resolve_drop(l->job);
	l->job = NULL;
}

/* Readable always; writable while bytes wait or OpenSSL waits to write. */
static void watch(struct sc_mqtt_link *l)
{
	sc_loop_set_events(l->loop, l->fd,
			   (short)(POLLIN | (l->tx_len || l->tls_wants_write ? POLLOUT : 0)));
}

/* What an SSL call's failure means, as recv and send say it: -1 with
 * errno EAGAIN when it waits for the socket, 0 when the broker closed the
 * connection, -1 with another errno when it broke (tls_error then says
 * why, when OpenSSL knows). */
static ssize_t tls_failed(struct sc_mqtt_link *l, int rc)
{
	int e = SSL_get_error(l->ssl, rc);
	switch (e) {
	case SSL_ERROR_WANT_WRITE:
		l->tls_wants_write = true;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == 0 || errno == EAGAIN)
				return 0; /* closed without close_notify */
			return -1;
		}
		break;
	default:
		break;
	}
	if (l->st == L_CONNACK) {
		/* Right after the handshake: a broker refusing the device certificate. */
		char why[180];
		sc_tls_explain(l->ssl, e, l->host, true, why, sizeof why);
		snprintf(l->tls_error, sizeof l->tls_error, "TLS: %s", why);
	} else {
		const char *r = ERR_reason_error_string(ERR_peek_last_error());
		snprintf(l->tls_error, sizeof l->tls_error, "TLS: %s", r ? r : "protocol error");
		ERR_clear_error();
	}
	errno = EPROTO;
	return -1;
}

static ssize_t io_write(struct sc_mqtt_link *l, const uint8_t *p, size_t n)
{
	if (!l->ssl)
		return send(l->fd, p, n, MSG_NOSIGNAL);
	ERR_clear_error();
	errno = 0;
	l->tls_wants_write = false;
	int w = SSL_write(l->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (w > 0)
		return w;
	ssize_t rc = tls_failed(l, w);
	if (rc == 0) {
		errno = EPIPE;
		rc = -1;
	}
	return rc;
}

static ssize_t io_read(struct sc_mqtt_link *l, uint8_t *buf, size_t cap)
{
	if (!l->ssl)
		return recv(l->fd, buf, cap, 0);
	ERR_clear_error();
	errno = 0;
	l->tls_wants_write = false;
	int r = SSL_read(l->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	return r > 0 ? r : tls_failed(l, r);
}

/* "what: the cause" of a broken connection: OpenSSL's word when it has one. */
static void io_error(const struct sc_mqtt_link *l, const char *what, char *why, size_t cap)
{
	if (l->tls_error[0])
		snprintf(why, cap, "%s%s", what, l->tls_error);
	else
		snprintf(why, cap, "%s%s", what, strerror(errno));
}

static void lose_pending(struct sc_mqtt_link *l)
{
	l->failed += (uint64_t)l->nends + (uint64_t)l->nids;
	l->nends = l->nids = 0;
}

/* The end: no more I/O; down() is the last thing done with l. */
static void die(struct sc_mqtt_link *l, const char *why)
{
	bool was_up = l->st == L_UP;
	l->st = L_DEAD;
	sc_loop_cancel_timer(l->loop, l->timer);
	l->timer = -1;
	drop_job(l);
	if (l->fd >= 0)
		sc_loop_del_fd(l->loop, l->fd);
	lose_pending(l);
	l->ev.down(l->ev.arg, was_up, why);
}

static void count_written(struct sc_mqtt_link *l)
{
	int done = 0;
	while (done < l->nends && l->ends[done] <= l->written)
		done++;
	if (done) {
		l->ok += (uint64_t)done;
		memmove(l->ends, l->ends + done, (size_t)(l->nends - done) * sizeof l->ends[0]);
		l->nends -= done;
	}
}

/* Writes what waits; -1 (with errno) when the connection broke. */
static int flush(struct sc_mqtt_link *l)
{
	while (l->tx_len > 0) {
		ssize_t n = io_write(l, l->tx + l->tx_off, l->tx_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		l->tx_off += (size_t)n;
		l->tx_len -= (size_t)n;
		l->written += (uint64_t)n;
	}
	if (l->tx_len == 0)
		l->tx_off = 0;
	count_written(l);
	watch(l);
	/* What waited for the socket goes out as it takes it. */
	sc_mqtt_link_push(l);
	return 0;
}

/* Queues bytes behind those waiting (or writes them at once); -1 when the
 * buffer would pass TX_MAX or memory runs out, or the connection broke
 * (errno set, and *broke). */
static int send_bytes(struct sc_mqtt_link *l, const uint8_t *p, size_t n, bool *broke)
{
	*broke = false;
	size_t at = 0;
	if (l->tx_len == 0) {
		while (at < n) {
			ssize_t w = io_write(l, p + at, n - at);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				*broke = true;
				return -1;
			}
			at += (size_t)w;
			l->written += (uint64_t)w;
		}
	}
	l->queued += n;
	if (at == n)
		return 0;
	size_t rest = n - at;
	if (l->tx_off + l->tx_len + rest > l->tx_cap) {
		if (l->tx_off) {
			memmove(l->tx, l->tx + l->tx_off, l->tx_len);
			l->tx_off = 0;
		}
		if (l->tx_len + rest > l->tx_cap) {
			size_t cap = l->tx_cap ? l->tx_cap : 1024;
			while (cap < l->tx_len + rest)
				cap *= 2;
			uint8_t *t = realloc(l->tx, cap);
			if (!t)
				return -1;
			l->tx = t;
			l->tx_cap = cap;
		}
	}
	memcpy(l->tx + l->tx_off + l->tx_len, p + at, rest);
	l->tx_len += rest;
	watch(l);
	return 0;
}

/* 0, or -1 when the link died (and may be freed already). */
static int send_or_die(struct sc_mqtt_link *l, const uint8_t *p, size_t n, const char *what)
{
	bool broke;
	if (send_bytes(l, p, n, &broke) != 0) {
		char why[300], head[64];
		snprintf(head, sizeof head, "%s: ", what);
		if (broke && l->ssl && l->st == L_CONNACK && !l->tls_error[0]) {
			/* TLS 1.3: a broker refusing the device certificate sends its
			 * alert and resets the connection; the alert is still there
			 * to read, and is the cause. */
			int err = errno;
			uint8_t b[64];
			(void)io_read(l, b, sizeof b);
			errno = err;
		}
		if (broke)
			io_error(l, l->tls_error[0] ? "" : head, why, sizeof why);
		else
			snprintf(why, sizeof why, "%s: out of memory", what);
		die(l, why);
		return -1;
	}
	l->last_tx_ms = sc_mono_ms();
	/* Not a publish (a ping, the CONNECT): out at once. */
	sc_mqtt_link_push(l);
	return 0;
}

static void on_packet(struct sc_mqtt_link *l, const struct sc_mqtt_packet *p, bool *dead)
{
	*dead = false;
	switch (p->type) {
	case SC_MQTT_T_CONNACK:
		if (l->st != L_CONNACK) {
			*dead = true;
			die(l, "protocol error: a second CONNACK");
			return;
		}
		if (p->return_code != 0) {
			const char *t = sc_mqtt_connack_text(p->return_code);
			char why[96];
			snprintf(why, sizeof why, "connection refused (CONNACK code %u)", p->return_code);
			*dead = true;
			die(l, t ? t : why);
			return;
		}
		l->st = L_UP;
		arm(l, l->keepalive_ms);
		/* The owner may close the link in up(): l is not touched after it
		 * (bytes still to read wait for the next round of the loop). */
		*dead = true;
		l->ev.up(l->ev.arg);
		return;
	case SC_MQTT_T_PUBACK:
		for (int i = 0; i < l->nids; i++) {
			if (l->ids[i] == p->id) {
				l->nids--;
				l->ids[i] = l->ids[l->nids];
				l->sent_ms[i] = l->sent_ms[l->nids];
				l->ok++;
				return;
			}
		}
		return; /* a PUBACK for nothing outstanding: ignored */
	case SC_MQTT_T_PINGRESP:
		l->ping_sent_ms = 0;
		return;
	default:
		return; /* a PUBLISH or an acknowledgement the device has no use for */
	}
}

/* 0, or -1 when the link died (and may be freed already). */
static int on_readable(struct sc_mqtt_link *l)
{
	uint8_t buf[1024];
	for (;;) {
		ssize_t n = io_read(l, buf, sizeof buf);
		if (n == 0) {
			die(l, l->st == L_UP ? "connection lost: closed by the broker"
					     : "the broker closed the connection before CONNACK");
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (l->ssl)
					watch(l);
				return 0;
			}
			char why[260];
			/* Before CONNACK a TLS cause is the whole story. */
			io_error(l, l->st == L_UP || !l->tls_error[0] ? "connection lost: " : "", why,
				 sizeof why);
			die(l, why);
			return -1;
		}
		size_t at = 0;
		while (at < (size_t)n) {
			struct sc_mqtt_packet p;
			size_t used;
			char why[160];
			int rc = sc_mqtt_read(&l->rd, buf + at, (size_t)n - at, &used, &p, why, sizeof why);
			at += used;
			if (rc < 0) {
				die(l, why);
				return -1;
			}
			if (rc == 1) {
				bool dead;
				if (l->st == L_CONNACK && p.type != SC_MQTT_T_CONNACK) {
					die(l, "protocol error: a packet before CONNACK");
					return -1;
				}
				on_packet(l, &p, &dead);
				if (dead)
					return -1;
			}
		}
	}
}

/* 0, or -1 when the link died (and may be freed already). */
static int send_connect(struct sc_mqtt_link *l)
{
	uint8_t pkt[1024];
	uint8_t *p = pkt;
	int n = sc_mqtt_encode_connect(pkt, sizeof pkt, &l->connect);
	if (n < 0) {
		/* Long credentials: the exact size on the heap. */
		size_t cap = 16 + strlen(l->connect.client_id) +
			     (l->connect.username ? strlen(l->connect.username) : 0) +
			     (l->connect.password ? strlen(l->connect.password) : 0);
		p = malloc(cap);
		n = p ? sc_mqtt_encode_connect(p, cap, &l->connect) : -1;
		if (n < 0) {
			free(p);
			die(l, "the CONNECT packet cannot be made (a field longer than MQTT allows)");
			return -1;
		}
	}
	l->st = L_CONNACK;
	int rc = send_or_die(l, p, (size_t)n, "sending CONNECT");
	if (p != pkt)
		free(p);
	return rc;
}

/* One step of the TLS handshake, as far as the socket allows; CONNECT
 * follows it at once. */
static void handshake(struct sc_mqtt_link *l)
{
	ERR_clear_error();
	errno = 0;
	l->tls_wants_write = false;
	int r = SSL_connect(l->ssl);
	if (r == 1) {
		if (send_connect(l) == 0)
			watch(l);
		return;
	}
	int e = SSL_get_error(l->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		l->tls_wants_write = e == SSL_ERROR_WANT_WRITE;
		watch(l);
		return;
	}
	char why[200], text[220];
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno != 0)
		snprintf(why, sizeof why, "the handshake failed: %s", strerror(errno));
	else
		sc_tls_explain(l->ssl, e, l->host, false, why, sizeof why);
	snprintf(text, sizeof text, "TLS: %s", why);
	die(l, text);
}

static void on_fd(void *arg, int fd, short revents)
{
	struct sc_mqtt_link *l = arg;
	if (l->st == L_TCP) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err == 0 && (revents & (POLLERR | POLLHUP)))
			err = ECONNREFUSED;
		if (err) {
			char why[120];
			snprintf(why, sizeof why, "TCP connect: %s", strerror(err));
			die(l, why);
			return;
		}
		if (!(revents & POLLOUT))
			return;
		if (l->ssl) {
			l->st = L_TLS;
			handshake(l);
		} else {
			(void)send_connect(l);
		}
		return;
	}
	if (l->st == L_TLS) {
		handshake(l);
		return;
	}
	/* OpenSSL may wait for the socket to be writable to go on reading. */
	if ((revents & (POLLIN | POLLHUP | POLLERR)) || (l->ssl && (revents & POLLOUT))) {
		if (on_readable(l) != 0)
			return;
	}
	if (revents & POLLOUT) {
		if (flush(l) != 0) {
			char why[260];
			io_error(l, "connection lost: ", why, sizeof why);
			die(l, why);
		}
	}
}

/* The time limit of the name's resolution, then the connect timeout
 * before CONNACK; keep-alive and the PUBACK limit after. Times are
 * monotonic: a loop on virtual time fires the timer early and it is set
 * again. */
static void on_timer(void *arg)
{
	struct sc_mqtt_link *l = arg;
	l->timer = -1;
	int64_t now = sc_mono_ms();
	if (l->st == L_RESOLVE) {
		if (now - l->opened_ms >= RESOLVE_MS) {
			char why[160];
			snprintf(why, sizeof why, "cannot resolve %s: no answer within %d s",
				 sc_resolve_host(l->job), RESOLVE_MS / 1000);
			die(l, why);
			return;
		}
		arm(l, RESOLVE_MS - (now - l->opened_ms));
		return;
	}
	if (l->st != L_UP) {
		if (now - l->opened_ms >= l->timeout_ms) {
			char why[96];
			snprintf(why, sizeof why, "%s timeout after %lld ms",
				 l->st == L_TCP	  ? "TCP connect"
				 : l->st == L_TLS ? "TLS: handshake"
						  : "CONNACK",
				 (long long)l->timeout_ms);
			die(l, why);
			return;
		}
		arm(l, l->timeout_ms - (now - l->opened_ms));
		return;
	}
	int64_t next = INT64_MAX;
	if (l->nids > 0) {
		/* The broker takes publishes but acknowledges none: the window
		 * fills and QoS 1 stops for good while the connection looks up. */
		int64_t oldest = l->sent_ms[0];
		for (int i = 1; i < l->nids; i++)
			if (l->sent_ms[i] < oldest)
				oldest = l->sent_ms[i];
		if (now - oldest >= l->ack_limit_ms) {
			char why[160];
			snprintf(why, sizeof why,
				 "stalled: no PUBACK within %lld s (%d QoS 1 publishes unacknowledged)",
				 (long long)(l->ack_limit_ms / 1000), l->nids);
			die(l, why);
			return;
		}
		next = oldest + l->ack_limit_ms;
	}
	if (l->keepalive_ms > 0) {
		if (l->ping_sent_ms && now - l->ping_sent_ms >= l->keepalive_ms) {
			char why[96];
			snprintf(why, sizeof why, "no PINGRESP within %lld s: the broker is gone",
				 (long long)(l->keepalive_ms / 1000));
			die(l, why);
			return;
		}
		if (!l->ping_sent_ms && now - l->last_tx_ms >= l->keepalive_ms) {
			uint8_t p[2];
			sc_mqtt_encode_pingreq(p, sizeof p);
			if (send_or_die(l, p, 2, "sending PINGREQ") != 0)
				return;
			l->ping_sent_ms = now;
		}
		int64_t ka = l->ping_sent_ms ? l->ping_sent_ms + l->keepalive_ms
					     : l->last_tx_ms + l->keepalive_ms;
		if (ka < next)
			next = ka;
	}
	if (next != INT64_MAX)
		arm(l, next - now);
}

/* An address literal: no resolver needed. 0, or -1 when host is a name. */
static int literal(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
	memset(sa, 0, sizeof *sa);
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof *v4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof *v6;
		return 0;
	}
	return -1;
}

/* Creates the socket and starts connecting to sa; 0, or -1 with why. */
static int start_connect(struct sc_mqtt_link *l, const struct sockaddr_storage *sa,
			 socklen_t salen, int64_t tls_time, char *why, size_t cap)
{
	l->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		snprintf(why, cap, "socket: %s", strerror(errno));
		return -1;
	}
	/* Each publish goes out at once (a broker acknowledges QoS 0 only with
	 * its delayed ACK: with Nagle each message would wait for it). */
	int one = 1;
	(void)setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (l->tls_ctx) {
		l->ssl = sc_tls_client_new(l->tls_ctx, l->fd, l->host, tls_time, why, cap);
		SSL_CTX_free(l->tls_ctx);
		l->tls_ctx = NULL;
		if (!l->ssl)
			goto fail;
	}
	l->st = L_TCP;
	l->opened_ms = l->last_tx_ms = sc_mono_ms();
	if (connect(l->fd, (const struct sockaddr *)sa, salen) != 0 && errno != EINPROGRESS) {
		snprintf(why, cap, "TCP connect: %s", strerror(errno));
		goto fail;
	}
	if (sc_loop_add_fd(l->loop, l->fd, POLLOUT, on_fd, l) != 0) {
		snprintf(why, cap, "out of memory");
		goto fail;
	}
	arm(l, l->timeout_ms);
	return 0;
fail:
	SSL_free(l->ssl);
	l->ssl = NULL;
	close(l->fd);
	l->fd = -1;
	return -1;
}

/* The resolver's answer arrived: connect, or fail as open would have. */
static void on_resolved(void *arg, int fd, short revents)
{
	struct sc_mqtt_link *l = arg;
	(void)fd;
	(void)revents;
	char why[300];
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	int rc = sc_resolve_answer(l->job, &sa, &salen, why, sizeof why);
	if (rc == 0)
		return;
	drop_job(l);
	if (rc < 0 || start_connect(l, &sa, salen, l->tls_time, why, sizeof why) != 0)
		die(l, why);
}

static void link_free(struct sc_mqtt_link *l)
{
	drop_job(l);
	if (l->tls_ctx)
		SSL_CTX_free(l->tls_ctx);
	SSL_free(l->ssl);
	free(l->host);
	if (l->fd >= 0)
		close(l->fd);
	free(l->tx);
	free(l);
}

/* Starts resolving l's host (resolver.h); 0, or -1 with why. */
static int start_resolve(struct sc_mqtt_link *l, const char *host, int port, char *why, size_t cap)
{
	struct sc_resolve *r = sc_resolve_start(host, port, why, cap);
	if (!r)
		return -1;
	if (sc_loop_add_fd(l->loop, sc_resolve_fd(r), POLLIN, on_resolved, l) != 0) {
		snprintf(why, cap, "out of memory");
		sc_resolve_drop(r);
		return -1;
	}
	l->job = r;
	l->st = L_RESOLVE;
	l->opened_ms = sc_mono_ms();
	arm(l, RESOLVE_MS);
	return 0;
}

struct sc_mqtt_link *sc_mqtt_link_open(struct sc_loop *loop, const struct sc_mqtt_link_opts *o,
				       const struct sc_mqtt_link_events *ev, char *why, size_t cap)
{
	struct sc_mqtt_link *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	l->loop = loop;
	l->fd = -1;
	l->ev = *ev;
	l->connect = o->connect;
	l->keepalive_ms = (int64_t)o->connect.keepalive_s * 1000;
	l->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	l->ack_limit_ms = l->keepalive_ms > 0 && 2 * l->keepalive_ms < PUBACK_MAX_MS
				  ? 2 * l->keepalive_ms
				  : PUBACK_MAX_MS;
	l->timer = -1;
	l->next_id = 1;
	l->tls_time = o->tls_time;
	sc_mqtt_reader_init(&l->rd);
	if (o->tls) {
		l->host = strdup(o->host);
		if (!l->host || SSL_CTX_up_ref(o->tls) != 1) {
			snprintf(why, cap, "out of memory");
			link_free(l);
			return NULL;
		}
		l->tls_ctx = o->tls;
	}
	struct sockaddr_storage sa;
	socklen_t salen;
	int rc = literal(o->host, o->port, &sa, &salen) == 0
			 ? start_connect(l, &sa, salen, o->tls_time, why, cap)
			 : start_resolve(l, o->host, o->port, why, cap);
	if (rc != 0) {
		link_free(l);
		return NULL;
	}
	return l;
}

void sc_mqtt_link_close(struct sc_mqtt_link *l, uint64_t *ok, uint64_t *failed)
{
	if (!l)
		return;
	if (l->st == L_UP) {
		uint8_t p[2];
		sc_mqtt_encode_disconnect(p, sizeof p);
		flush(l);
		if (l->tx_len == 0 && io_write(l, p, 2) < 0) {
			/* best effort: the broker sees the connection close anyway */
		}
		count_written(l);
		if (l->ssl && l->tx_len == 0)
			(void)SSL_shutdown(l->ssl); /* close_notify, best effort */
	}
	if (l->st != L_DEAD) {
		sc_loop_cancel_timer(l->loop, l->timer);
		if (l->fd >= 0)
			sc_loop_del_fd(l->loop, l->fd);
		lose_pending(l);
	}
	*ok += l->ok;
	*failed += l->failed;
	link_free(l);
}

bool sc_mqtt_link_up(const struct sc_mqtt_link *l)
{
	return l && l->st == L_UP;
}

bool sc_mqtt_link_backed_up(const struct sc_mqtt_link *l, uint64_t *progress)
{
	if (progress)
		*progress = l ? l->written + l->ok : 0;
	return l && l->st == L_UP && (l->tx_len > 0 || l->nids >= PENDING_MAX / 2);
}

void sc_mqtt_link_counts(const struct sc_mqtt_link *l, uint64_t *ok, uint64_t *failed)
{
	*ok = l ? l->ok : 0;
	*failed = l ? l->failed : 0;
}

bool sc_mqtt_link_publish(struct sc_mqtt_link *l, const char *topic, const void *payload,
			  size_t len, int qos, bool retain)
{
	if (l->st != L_UP)
		return false;
	if (l->tx_len + len > TX_MAX || (qos == 0 && l->tx_len && l->nends == PENDING_MAX) ||
	    (qos == 1 && l->nids == PENDING_MAX))
		return false;
	size_t need = sc_mqtt_publish_size(strlen(topic), len, qos);
	if (need == 0)
		return false;
	uint8_t stack[4096];
	uint8_t *p = need <= sizeof stack ? stack : malloc(need);
	if (!p)
		return false;
	uint16_t id = 0;
	if (qos == 1) {
		id = l->next_id++;
		if (l->next_id == 0)
			l->next_id = 1;
	}
	long n = sc_mqtt_encode_publish(p, need, topic, payload, len, qos, retain, id);
	/* A batch starts with its first publish; a push ends it, so that the
	 * socket holds nothing back while the loop waits (what the broker's
	 * window did not take yet goes out as soon as it does). */
	if (l->batch && !l->corked)
		cork(l, true);
	bool broke = false;
	int rc = n > 0 ? send_bytes(l, p, (size_t)n, &broke) : -1;
	if (p != stack)
		free(p);
	if (rc != 0) {
		if (broke) /* the descriptor reports it: down() comes from the loop */
			sc_loop_set_events(l->loop, l->fd, POLLIN | POLLOUT);
		return false;
	}
	l->last_tx_ms = sc_mono_ms();
	if (qos == 1) {
		l->sent_ms[l->nids] = l->last_tx_ms;
		l->ids[l->nids++] = id;
		if (l->nids == 1)
			arm_by(l, l->ack_limit_ms);
	} else if (l->written >= l->queued)
		l->ok++;
	else
		l->ends[l->nends++] = l->queued;
	if (l->corked) {
		l->held += (size_t)n;
		if (l->held >= SC_MQTT_LINK_BATCH_BYTES)
			sc_mqtt_link_push(l);
	}
	return true;
}

/* TCP_CORK on the socket: on, the kernel holds partial segments; off, it
 * sends what it holds. */
static void cork(struct sc_mqtt_link *l, bool on)
{
	int v = on;
	if (l->fd < 0 || setsockopt(l->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v) != 0)
		return;
	l->corked = on;
	l->held = 0;
}

void sc_mqtt_link_batch(struct sc_mqtt_link *l, bool on)
{
	if (!l)
		return;
	l->batch = on;
	if (!on)
		sc_mqtt_link_push(l);
}

void sc_mqtt_link_push(struct sc_mqtt_link *l)
{
	if (l && l->corked)
		cork(l, false);
}
