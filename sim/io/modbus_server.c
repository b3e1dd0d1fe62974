#include "modbus_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "mbap.h"

struct client {
	int fd; /* -1 = free slot */
	uint8_t buf[SC_MBAP_MAX_ADU];
	size_t len;
	int64_t last_ms; /* monotonic time of the last byte received */
	int64_t first_ms; /* when the request being received began; -1: none */
	char peer[64];
};

struct sc_modbus {
	struct sc_loop *loop;
	struct sc_device *dev;
	struct sc_modbus_opts o;
	modbus_t *ctx;
	modbus_mapping_t *map;
	uint64_t map_generation;
	int listen_fd;
	int port;
	int sweep_timer;
	struct client c[SC_MODBUS_MAX_CLIENTS];
	struct sc_modbus_stats stats;
};

static void close_client(struct sc_modbus *m, struct client *c, const char *why)
{
	sc_log(SC_LOG_INFO, "modbus: client %s closed (%s)", c->peer, why);
	sc_loop_del_fd(m->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->first_ms = -1;
}

/* The mapping libmodbus replies from mirrors the device's image; it is
 * refreshed between requests only, so a read never mixes two telegrams. */
static void sync_image(struct sc_modbus *m)
{
	if (m->map_generation == m->dev->generation)
		return;
	memcpy(m->map->tab_registers, m->dev->image.w, sizeof m->dev->image.w);
	memcpy(m->map->tab_input_registers, m->dev->image.w, sizeof m->dev->image.w);
	m->map_generation = m->dev->generation;
}

static void answer(struct sc_modbus *m, struct client *c, size_t n)
{
	uint16_t addr = 0, count = 0;
	int ex = sc_mbap_check(c->buf, n, &addr, &count);
	modbus_set_socket(m->ctx, c->fd);
	m->stats.requests++;
	int rc;
	if (ex) {
		m->stats.exceptions++;
		sc_log(SC_LOG_DEBUG, "modbus: %s fc 0x%02X -> exception 0x%02X", c->peer,
		       c->buf[SC_MBAP_HEADER], ex);
		uint8_t out[SC_MBAP_EXCEPTION_LEN];
		sc_mbap_exception(c->buf, (uint8_t)ex, out);
		rc = send(c->fd, out, sizeof out, MSG_NOSIGNAL) == (ssize_t)sizeof out ? 0 : -1;
	} else {
		sync_image(m);
		rc = modbus_reply(m->ctx, c->buf, (int)n, m->map);
	}
	if (rc < 0)
		close_client(m, c, "reply failed");
}

int sc_modbus_read(struct sc_modbus *m, uint16_t addr, uint16_t count, uint16_t *out)
{
	/* The same request as a client's, checked by the same rule. */
	uint8_t req[SC_MBAP_HEADER + 5] = {0, 0, 0, 0, 0, 6, 1, SC_MODBUS_FC_READ_HOLDING,
					   (uint8_t)(addr >> 8), (uint8_t)addr,
					   (uint8_t)(count >> 8), (uint8_t)count};
	uint16_t a = 0, n = 0;
	int ex = sc_mbap_check(req, sizeof req, &a, &n);
	if (ex)
		return ex;
	sync_image(m);
	memcpy(out, &m->map->tab_registers[a - SC_REGMAP_BASE], (size_t)n * sizeof *out);
	return 0;
}

static void on_client(void *arg, int fd, short revents)
{
	struct sc_modbus *m = arg;
	struct client *c = NULL;
	for (int i = 0; i < SC_MODBUS_MAX_CLIENTS; i++)
		if (m->c[i].fd == fd)
			c = &m->c[i];
	if (!c)
		return;
	if (revents & (POLLERR | POLLNVAL)) {
		close_client(m, c, "socket error");
		return;
	}
	ssize_t r = recv(fd, c->buf + c->len, sizeof c->buf - c->len, 0);
	if (r == 0) {
		close_client(m, c, "closed by the client");
		return;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			close_client(m, c, strerror(errno));
		return;
	}
	int64_t now = sc_loop_now(m->loop);
	if (c->len == 0)
		c->first_ms = now;
	c->len += (size_t)r;
	c->last_ms = now;
	/* Serve every whole request received, in order. */
	for (;;) {
		size_t n = 0;
		enum sc_mbap_state st = sc_mbap_frame(c->buf, c->len, &n);
		if (st == SC_MBAP_NEED_MORE) {
			/* The next request's clock starts with its first byte. */
			c->first_ms = c->len ? c->first_ms : -1;
			return;
		}
		if (st == SC_MBAP_INVALID) {
			m->stats.dropped_garbage++;
			close_client(m, c, "not a Modbus TCP request");
			return;
		}
		answer(m, c, n);
		if (c->fd < 0)
			return;
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
		c->first_ms = now;
	}
}

static struct client *free_slot(struct sc_modbus *m)
{
	for (int i = 0; i < m->o.max_clients; i++)
		if (m->c[i].fd < 0)
			return &m->c[i];
	return NULL;
}

static void on_sweep(void *arg);

static void on_accept(void *arg, int fd, short revents)
{
	struct sc_modbus *m = arg;
	(void)revents;
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int s = accept(fd, (struct sockaddr *)&sa, &sl);
	if (s < 0)
		return;
	char peer[64];
	char ip[INET_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
	snprintf(peer, sizeof peer, "%s:%u", ip, ntohs(sa.sin_port));
	struct client *c = free_slot(m);
	if (!c) {
		/* A client that closed and came straight back: its close may
		 * still wait in this poll round. Look before refusing. */
		for (int i = 0; i < m->o.max_clients; i++) {
			struct pollfd p = {m->c[i].fd, POLLIN, 0};
			if (m->c[i].fd >= 0 && poll(&p, 1, 0) > 0)
				on_client(m, p.fd, p.revents);
		}
		c = free_slot(m);
	}
	if (!c) {
		/* Only max_clients at a time (one on the device): a further
		 * client is accepted and closed at once. */
		m->stats.refused++;
		sc_log(SC_LOG_INFO, "modbus: client %s refused: %d connection%s already open", peer,
		       m->o.max_clients, m->o.max_clients > 1 ? "s" : "");
		close(s);
		return;
	}
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	fcntl(s, F_SETFD, FD_CLOEXEC);
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = s;
	c->len = 0;
	c->first_ms = -1;
	c->last_ms = sc_loop_now(m->loop);
	memcpy(c->peer, peer, sizeof c->peer);
	m->stats.connections++;
	sc_log(SC_LOG_INFO, "modbus: client %s connected", peer);
	sc_loop_add_fd(m->loop, s, POLLIN, on_client, m);
	/* Idle clients are looked for while there are clients (a fleet has
	 * thousands of servers with none). */
	if (m->sweep_timer < 0)
		m->sweep_timer = sc_loop_add_timer(m->loop, sc_loop_now(m->loop) + 250, on_sweep, m);
}

static void on_sweep(void *arg)
{
	struct sc_modbus *m = arg;
	int64_t now = sc_loop_now(m->loop);
	for (int i = 0; i < SC_MODBUS_MAX_CLIENTS; i++) {
		struct client *c = &m->c[i];
		if (c->fd >= 0 && now - c->last_ms >= (int64_t)m->o.idle_timeout_s * 1000) {
			m->stats.dropped_idle++;
			close_client(m, c, "idle timeout");
		} else if (c->fd >= 0 && c->first_ms >= 0 &&
			   now - c->first_ms >= SC_MODBUS_REQUEST_DEADLINE_MS) {
			/* A request dripped in a byte at a time would otherwise hold
			 * the slot for as long as each byte beats the idle timeout. */
			m->stats.dropped_idle++;
			close_client(m, c, "request not complete within its deadline");
		}
	}
	m->sweep_timer = -1;
	for (int i = 0; i < SC_MODBUS_MAX_CLIENTS; i++)
		if (m->c[i].fd >= 0) {
			m->sweep_timer = sc_loop_add_timer(m->loop, now + 250, on_sweep, m);
			break;
		}
}

struct sc_modbus *sc_modbus_start(struct sc_loop *loop, struct sc_device *dev,
				  const struct sc_modbus_opts *o, int *err)
{
	struct sc_modbus *m = calloc(1, sizeof *m);
	*err = ENOMEM;
	if (!m)
		return NULL;
	m->loop = loop;
	m->dev = dev;
	m->o = *o;
	m->listen_fd = -1;
	m->sweep_timer = -1;
	for (int i = 0; i < SC_MODBUS_MAX_CLIENTS; i++)
		m->c[i].fd = -1;
	m->ctx = modbus_new_tcp(o->addr, o->port);
	m->map = modbus_mapping_new_start_address(0, 0, 0, 0, SC_REGMAP_BASE, SC_REGMAP_WORDS,
						  SC_REGMAP_BASE, SC_REGMAP_WORDS);
	if (!m->ctx || !m->map) {
		*err = m->ctx ? ENOMEM : EINVAL;
		goto fail;
	}
	m->map_generation = (uint64_t)-1;
	sync_image(m);
	m->listen_fd = modbus_tcp_listen(m->ctx, SC_MODBUS_MAX_CLIENTS);
	if (m->listen_fd < 0) {
		*err = errno;
		goto fail;
	}
	fcntl(m->listen_fd, F_SETFD, FD_CLOEXEC);
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	getsockname(m->listen_fd, (struct sockaddr *)&sa, &sl);
	m->port = ntohs(sa.sin_port);
	sc_loop_add_fd(loop, m->listen_fd, POLLIN, on_accept, m);
	*err = 0;
	return m;
fail:
	sc_modbus_stop(m);
	return NULL;
}

void sc_modbus_stop(struct sc_modbus *m)
{
	if (!m)
		return;
	for (int i = 0; i < SC_MODBUS_MAX_CLIENTS; i++)
		if (m->c[i].fd >= 0)
			close_client(m, &m->c[i], "shutting down");
	if (m->listen_fd >= 0) {
		sc_loop_del_fd(m->loop, m->listen_fd);
		close(m->listen_fd);
	}
	sc_loop_cancel_timer(m->loop, m->sweep_timer);
	if (m->map)
		modbus_mapping_free(m->map);
	if (m->ctx) {
		modbus_set_socket(m->ctx, -1);
		modbus_free(m->ctx);
	}
	free(m);
}

int sc_modbus_port(const struct sc_modbus *m)
{
	return m->port;
}

const struct sc_modbus_stats *sc_modbus_stats(const struct sc_modbus *m)
{
	return &m->stats;
}

int sc_modbus_clients(const struct sc_modbus *m)
{
	int n = 0;
	for (int i = 0; i < SC_MODBUS_MAX_CLIENTS; i++)
		n += m->c[i].fd >= 0;
	return n;
}

void sc_modbus_drop_clients(struct sc_modbus *m, const char *why)
{
	for (int i = 0; i < SC_MODBUS_MAX_CLIENTS; i++)
		if (m->c[i].fd >= 0)
			close_client(m, &m->c[i], why);
}
