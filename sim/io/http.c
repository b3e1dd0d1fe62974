#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* HTTPS: TLS 1.2 and 1.3 only, with forward-secret key exchange and AEAD
 * ciphers (no CBC, no SHA-1 MACs, no RSA key transport), in GnuTLS's
 * priority syntax. */
#define TLS_PRIORITIES                                                                         \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"  \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"

/* A whole request (TLS handshake, request line, headers, body) must come
 * within REQUEST_DEADLINE_MS of the connection's opening or of its previous
 * answer: the idle timeout alone lets a client that sends a header line now
 * and then hold a connection for ever. At most PER_IP_CONNECTIONS at once
 * from one address, so a few addresses cannot take every connection. */
#define REQUEST_DEADLINE_MS 10000
#define PER_IP_CONNECTIONS 8u
#define MAX_CONNECTIONS 64u

/* One open connection, while it waits for a request. */
struct conn_watch {
	struct MHD_Connection *conn;
	int64_t since_ms;   /* waiting since; -1: a request is being answered */
	struct conn_watch *prev, *next;
};

struct sc_http {
	struct sc_loop *loop;
	struct MHD_Daemon *d;
	int listen_fd, epoll_fd, port;
	bool tls;
	int timer;
	sc_http_handler handler;
	void *arg;
	unsigned long requests;
	struct pending *suspended[64]; /* answered late; resumed before a stop */
	struct conn_watch *conns;      /* every open connection */
	int sweep_timer;               /* the request deadline's check */
};

/* One request in progress: its body as it comes, then its response. */
struct pending {
	struct sc_http *h;
	char *body;
	size_t len;
	bool too_large;
	bool answered;      /* the handler ran */
	bool suspended;
	struct sc_http_response rs;
	struct MHD_Connection *conn;
	int timer;
};

static void schedule(struct sc_http *h);
static void run(struct sc_http *h);

static struct conn_watch *watch_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Connections past the request deadline are shut down (libmicrohttpd then
 * sees the end of the stream and closes them); the check runs every second
 * while a connection waits for a request. */
static void on_sweep(void *arg)
{
	struct sc_http *h = arg;
	h->sweep_timer = -1;
	int64_t now = sc_loop_now(h->loop);
	bool waiting = false, cut = false;
	for (struct conn_watch *w = h->conns; w; w = w->next) {
		if (w->since_ms < 0)
			continue;
		if (now - w->since_ms < REQUEST_DEADLINE_MS) {
			waiting = true;
			continue;
		}
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(w->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci && ci->connect_fd != MHD_INVALID_SOCKET)
			shutdown(ci->connect_fd, SHUT_RDWR);
		w->since_ms = -1;
		cut = true;
	}
	if (cut) {
		sc_log(SC_LOG_DEBUG, "http: closed connections without a whole request after %d s",
		       REQUEST_DEADLINE_MS / 1000);
		run(h);
	}
	if (waiting && h->sweep_timer < 0)
		h->sweep_timer = sc_loop_add_timer(h->loop, now + 1000, on_sweep, h);
}

static void arm_sweep(struct sc_http *h)
{
	if (h->sweep_timer < 0)
		h->sweep_timer = sc_loop_add_timer(h->loop, sc_loop_now(h->loop) + 1000, on_sweep, h);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct sc_http *h = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn_watch *w = calloc(1, sizeof *w);
		if (!w)
			return;
		w->conn = conn;
		w->since_ms = sc_loop_now(h->loop);
		w->next = h->conns;
		if (h->conns)
			h->conns->prev = w;
		h->conns = w;
		*socket_context = w;
		arm_sweep(h);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct conn_watch *w = *socket_context;
		if (!w)
			return;
		if (w->prev)
			w->prev->next = w->next;
		else
			h->conns = w->next;
		if (w->next)
			w->next->prev = w->prev;
		free(w);
		*socket_context = NULL;
	}
}

static void run(struct sc_http *h)
{
	MHD_run(h->d);
	schedule(h);
}

static void on_timer(void *arg)
{
	struct sc_http *h = arg;
	h->timer = -1;
	run(h);
}

/* libmicrohttpd's own timeouts (idle connections) need a call of MHD_run. */
static void schedule(struct sc_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;
	sc_loop_cancel_timer(h->loop, h->timer);
	h->timer = -1;
	if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		h->timer = sc_loop_add_timer(h->loop, sc_loop_now(h->loop) + (int64_t)(ms > 60000 ? 60000 : ms),
					     on_timer, h);
}

static void on_ready(void *arg, int fd, short revents)
{
	(void)fd;
	(void)revents;
	run(arg);
}

static void forget_suspended(struct sc_http *h, struct pending *p)
{
	for (size_t i = 0; i < sizeof h->suspended / sizeof h->suspended[0]; i++)
		if (h->suspended[i] == p)
			h->suspended[i] = NULL;
}

static void on_resume(void *arg)
{
	struct pending *p = arg;
	p->timer = -1;
	p->suspended = false;
	forget_suspended(p->h, p);
	MHD_resume_connection(p->conn);
	run(p->h);
}

static void add_header(struct MHD_Response *r, const char *k, const char *v)
{
	if (v && *v)
		MHD_add_response_header(r, k, v);
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct pending *p)
{
	struct sc_http_response *rs = &p->rs;
	struct MHD_Response *r = MHD_create_response_from_buffer(rs->len, rs->body,
								 MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	add_header(r, "Content-Type", rs->content_type);
	add_header(r, "Location", rs->location);
	add_header(r, "Allow", rs->allow);
	add_header(r, "Cache-Control", "no-store");
	add_header(r, "X-Content-Type-Options", "nosniff");
	/* The page loads nothing from elsewhere. */
	add_header(r, "Content-Security-Policy",
		   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
		   "connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'");
	if (rs->www_authenticate)
		add_header(r, "WWW-Authenticate", "Basic realm=\"Smart Connect\", charset=\"UTF-8\"");
	if (rs->retry_after_s > 0) {
		char v[16];
		snprintf(v, sizeof v, "%d", rs->retry_after_s);
		add_header(r, "Retry-After", v);
	}
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	p->h->requests++;
	return ret;
}

static const char *ip_text(uint32_t ip)
{
	static char buf[16];
	snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
	return buf;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct sc_http *h = cls;
	(void)version;
	struct pending *p = *con_cls;
	if (!p) {
		p = calloc(1, sizeof *p);
		if (!p)
			return MHD_NO;
		p->h = h;
		p->conn = conn;
		p->timer = -1;
		*con_cls = p;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		if (!p->too_large && p->len + n <= SC_API_BODY_MAX) {
			char *b = realloc(p->body, p->len + n + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + p->len, upload_data, n);
			p->body = b;
			p->len += n;
			p->body[p->len] = '\0';
		} else {
			/* Read on (to answer cleanly) but keep nothing more. */
			p->too_large = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!p->answered) {
		struct sc_http_request rq = {0};
		rq.method = method;
		rq.path = url;
		rq.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		rq.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
		rq.origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
		rq.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		rq.body = p->body;
		rq.body_len = p->len;
		rq.body_too_large = p->too_large;
		rq.tls = h->tls;
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
			rq.client_ip = ntohl(((const struct sockaddr_in *)(const void *)ci->client_addr)
						     ->sin_addr.s_addr);
		/* The address the client reached: links and checks name it, never
		 * the Host header's. */
		const union MHD_ConnectionInfo *fi =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct sockaddr_in local;
		socklen_t local_len = sizeof local;
		if (fi && getsockname(fi->connect_fd, (struct sockaddr *)&local, &local_len) == 0 &&
		    local.sin_family == AF_INET)
			rq.local_ip = ntohl(local.sin_addr.s_addr);
		h->handler(h->arg, &rq, &p->rs);
		p->answered = true;
		struct conn_watch *w = watch_of(conn);
		if (w)
			w->since_ms = -1; /* the request is whole */
		if (p->rs.delay_ms > 0) {
			/* Failed logins are answered late, without holding the loop. */
			sc_log(SC_LOG_WARN, "http: repeated failed logins from %s: answered after %d ms",
			       ip_text(rq.client_ip), p->rs.delay_ms);
			for (size_t i = 0; i < sizeof h->suspended / sizeof h->suspended[0]; i++) {
				if (!h->suspended[i]) {
					h->suspended[i] = p;
					p->suspended = true;
					break;
				}
			}
			if (p->suspended) {
				MHD_suspend_connection(conn);
				p->timer = sc_loop_add_timer(h->loop, sc_loop_now(h->loop) + p->rs.delay_ms,
							     on_resume, p);
				return MHD_YES;
			}
		}
	}
	return queue(conn, p);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct sc_http *h = cls;
	/* A kept-alive connection has the deadline again for its next request. */
	struct conn_watch *w = watch_of(conn);
	if (w) {
		w->since_ms = sc_loop_now(h->loop);
		arm_sweep(h);
	}
	struct pending *p = *con_cls;
	if (!p)
		return;
	sc_loop_cancel_timer(h->loop, p->timer);
	forget_suspended(h, p);
	sc_http_response_free(&p->rs);
	free(p->body);
	free(p);
	*con_cls = NULL;
}

/* microhttpd's messages are printf formats of its own. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
							      va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	sc_log(SC_LOG_DEBUG, "http: %s", line);
}

static int listen_on(const char *addr, int port, int *err)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		*err = EINVAL;
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 32) != 0) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

struct sc_http *sc_http_start(struct sc_loop *loop, const struct sc_http_opts *o,
			      sc_http_handler handler, void *arg, int *err)
{
	struct sc_http *h = calloc(1, sizeof *h);
	*err = ENOMEM;
	if (!h)
		return NULL;
	h->loop = loop;
	h->handler = handler;
	h->arg = arg;
	h->tls = o->tls;
	h->timer = -1;
	h->sweep_timer = -1;
	h->listen_fd = listen_on(o->addr, o->port, err);
	if (h->listen_fd < 0) {
		free(h);
		return NULL;
	}
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	getsockname(h->listen_fd, (struct sockaddr *)&sa, &sl);
	h->port = ntohs(sa.sin_port);
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (o->tls)
		flags |= MHD_USE_TLS;
	h->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
		NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_LIMIT,
		MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, PER_IP_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(64 * 1024),
		o->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, o->key_pem,
		MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
		MHD_OPTION_END);
	if (!h->d) {
		*err = o->tls ? EPROTO : EIO;
		close(h->listen_fd);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->epoll_fd = di ? di->epoll_fd : -1;
	if (h->epoll_fd < 0 || sc_loop_add_fd(loop, h->epoll_fd, POLLIN, on_ready, h) != 0) {
		MHD_socket fd = MHD_quiesce_daemon(h->d);
		MHD_stop_daemon(h->d);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
		free(h);
		*err = EIO;
		return NULL;
	}
	schedule(h);
	*err = 0;
	return h;
}

void sc_http_stop(struct sc_http *h)
{
	if (!h)
		return;
	sc_loop_cancel_timer(h->loop, h->timer);
	sc_loop_cancel_timer(h->loop, h->sweep_timer);
	sc_loop_del_fd(h->loop, h->epoll_fd);
	/* libmicrohttpd must not stop with suspended connections. */
	for (size_t i = 0; i < sizeof h->suspended / sizeof h->suspended[0]; i++) {
		struct pending *p = h->suspended[i];
		if (p) {
			sc_loop_cancel_timer(h->loop, p->timer);
			p->timer = -1;
			p->suspended = false;
			h->suspended[i] = NULL;
			MHD_resume_connection(p->conn);
		}
	}
	/* Quiesced, it hands the listening socket back instead of closing it. */
	MHD_socket fd = MHD_quiesce_daemon(h->d);
	MHD_stop_daemon(h->d);
	/* Closing the connections may have armed the check again. */
	sc_loop_cancel_timer(h->loop, h->sweep_timer);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	free(h);
}

int sc_http_port(const struct sc_http *h)
{
	return h->port;
}

unsigned long sc_http_requests(const struct sc_http *h)
{
	return h->requests;
}
