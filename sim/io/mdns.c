/* sc-sim --mdns through avahi-client (mdns.h). Two parts: an AvahiPoll on
 * the event loop (avahi-client's D-Bus connection asks for descriptors and
 * timeouts through it), and the entry groups that hold what is published:
 *
 *   alias        smart-connect.local A           (one)
 *   host   [i]   smart-connect-SERIAL.local A    (per device)
 *   services[i]  smart-connect-SERIAL _http._tcp, _https._tcp (per device)
 *
 * Separate groups so that a collision is known to be on one name: Avahi
 * reports a collision for a whole group. */
#define _DEFAULT_SOURCE /* getifaddrs, IFF_* */
#include "mdns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/watch.h>

#include "log.h"

#define ALIAS "smart-connect"   /* SMART-CONNECT.md §3: mDNS name smart-connect.local */
#define RETRY_MS 5000           /* while the system bus cannot be reached */
#define RECONNECT_MS 1000       /* after the daemon went away */
#define RENAMES_MAX 16          /* alternatives tried at once for names in use */

/* ---- the AvahiPoll on the event loop ----
 *
 * libdbus may watch one descriptor twice (a watch for reading, one for
 * writing) and the loop watches a descriptor once: the watches of a
 * descriptor share one registration with the union of their events. A
 * watch freed from a watch callback is only marked, and freed after the
 * dispatch. */

struct AvahiWatch {
	struct sc_mdns *m;
	int fd;
	AvahiWatchEvent events;
	AvahiWatchEvent revents;     /* of the last dispatch */
	AvahiWatchCallback cb;
	void *userdata;
	bool dead;
	struct AvahiWatch *next;
};

struct AvahiTimeout {
	struct sc_mdns *m;
	int timer;                   /* loop timer id, -1: disabled */
	AvahiTimeoutCallback cb;
	void *userdata;
	struct AvahiTimeout *next;
};

struct fd_reg {
	int fd;
	short events;
	struct fd_reg *next;
};

enum group_kind { G_ALIAS, G_HOST, G_SERVICES };

struct group {
	struct sc_mdns *m;
	enum group_kind kind;
	int dev;                     /* G_HOST, G_SERVICES: the device */
	AvahiEntryGroup *g;          /* owned by the client */
	bool filled;                 /* entries added and committed */
	bool established;
};

struct dev {
	char serial[AVAHI_LABEL_MAX - sizeof ALIAS]; /* smart-connect-SERIAL is one label */
	char firmware[32];
	char host[AVAHI_LABEL_MAX];    /* smart-connect-SERIAL, or Avahi's alternative */
	char service[AVAHI_LABEL_MAX]; /* the service instance name */
	struct group host_g, svc_g;
};

struct sc_mdns {
	struct sc_loop *loop;
	AvahiPoll poll;
	AvahiClient *client;
	struct AvahiWatch *watches;
	struct AvahiTimeout *timeouts;
	struct fd_reg *fds;
	int dispatching;
	int retry_timer;
	AvahiAddress addr;
	char address[INET_ADDRSTRLEN];
	AvahiIfIndex ifindex;        /* the interface holding the address, or AVAHI_IF_UNSPEC */
	char ifname[IF_NAMESIZE];
	int http_port, https_port;
	char model[64];
	bool fleet;
	char alias[AVAHI_LABEL_MAX];
	struct group alias_g;
	int n;
	struct dev *devs;
	bool unreachable_said;       /* the daemon's absence is logged */
	bool running;                /* the client reached the daemon */
	bool published_said;         /* the current names are logged */
};

static void on_fd(void *arg, int fd, short revents);

/* The loop's registration of fd follows its live watches. */
static int fd_sync(struct sc_mdns *m, int fd)
{
	short ev = 0;
	for (struct AvahiWatch *w = m->watches; w; w = w->next)
		if (!w->dead && w->fd == fd)
			ev = (short)(ev | ((int)w->events & (POLLIN | POLLOUT)));
	struct fd_reg **pp = &m->fds;
	while (*pp && (*pp)->fd != fd)
		pp = &(*pp)->next;
	struct fd_reg *r = *pp;
	if (ev == 0) {
		if (r) {
			sc_loop_del_fd(m->loop, fd);
			*pp = r->next;
			free(r);
		}
	} else if (!r) {
		r = malloc(sizeof *r);
		if (!r || sc_loop_add_fd(m->loop, fd, ev, on_fd, m) != 0) {
			free(r);
			return -1;
		}
		r->fd = fd;
		r->events = ev;
		r->next = m->fds;
		m->fds = r;
	} else if (r->events != ev) {
		sc_loop_set_events(m->loop, fd, ev);
		r->events = ev;
	}
	return 0;
}

static void reap_watches(struct sc_mdns *m)
{
	struct AvahiWatch **pp = &m->watches;
	while (*pp) {
		struct AvahiWatch *w = *pp;
		if (w->dead) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

static void on_fd(void *arg, int fd, short revents)
{
	struct sc_mdns *m = arg;
	m->dispatching++;
	for (struct AvahiWatch *w = m->watches; w; w = w->next) {
		if (w->dead || w->fd != fd)
			continue;
		AvahiWatchEvent ev = (AvahiWatchEvent)(revents & ((int)w->events | POLLERR | POLLHUP));
		if (!ev)
			continue;
		w->revents = ev;
		w->cb(w, fd, ev, w->userdata);
	}
	if (--m->dispatching == 0)
		reap_watches(m);
}

static AvahiWatch *watch_new(const AvahiPoll *api, int fd, AvahiWatchEvent event,
			     AvahiWatchCallback cb, void *userdata)
{
	struct sc_mdns *m = api->userdata;
	struct AvahiWatch *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->m = m;
	w->fd = fd;
	w->events = event;
	w->cb = cb;
	w->userdata = userdata;
	w->next = m->watches;
	m->watches = w;
	if (fd_sync(m, fd) != 0) {
		m->watches = w->next;
		free(w);
		return NULL;
	}
	return w;
}

static void watch_update(AvahiWatch *w, AvahiWatchEvent event)
{
	w->events = event;
	fd_sync(w->m, w->fd);
}

static AvahiWatchEvent watch_get_events(AvahiWatch *w)
{
	return w->revents;
}

static void watch_free(AvahiWatch *w)
{
	struct sc_mdns *m = w->m;
	w->dead = true;
	fd_sync(m, w->fd);
	if (m->dispatching == 0)
		reap_watches(m);
}

static void on_timeout(void *arg)
{
	struct AvahiTimeout *t = arg;
	t->timer = -1;
	t->cb(t, t->userdata); /* may free t */
}

/* Avahi's times are absolute, on gettimeofday's clock (avahi_elapse_time);
 * the loop's are monotonic: what is left goes over. */
static void timeout_arm(struct AvahiTimeout *t, const struct timeval *tv)
{
	struct sc_mdns *m = t->m;
	sc_loop_cancel_timer(m->loop, t->timer);
	t->timer = -1;
	if (!tv)
		return;
	struct timeval now;
	gettimeofday(&now, NULL);
	int64_t left = ((int64_t)tv->tv_sec - (int64_t)now.tv_sec) * 1000 +
		       ((int64_t)tv->tv_usec - (int64_t)now.tv_usec) / 1000;
	if (left < 0)
		left = 0;
	t->timer = sc_loop_add_timer(m->loop, sc_loop_now(m->loop) + left, on_timeout, t);
	if (t->timer < 0)
		sc_log(SC_LOG_ERROR, "mdns: out of memory for a timer");
}

static AvahiTimeout *timeout_new(const AvahiPoll *api, const struct timeval *tv,
				 AvahiTimeoutCallback cb, void *userdata)
{
	struct sc_mdns *m = api->userdata;
	struct AvahiTimeout *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->m = m;
	t->timer = -1;
	t->cb = cb;
	t->userdata = userdata;
	t->next = m->timeouts;
	m->timeouts = t;
	timeout_arm(t, tv);
	return t;
}

static void timeout_update(AvahiTimeout *t, const struct timeval *tv)
{
	timeout_arm(t, tv);
}

static void timeout_free(AvahiTimeout *t)
{
	struct sc_mdns *m = t->m;
	sc_loop_cancel_timer(m->loop, t->timer);
	struct AvahiTimeout **pp = &m->timeouts;
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	free(t);
}

/* ---- what is published ---- */

static void publish(struct sc_mdns *m, struct group *gr, AvahiClient *c);

static bool has_services(const struct sc_mdns *m)
{
	return m->http_port > 0 || m->https_port > 0;
}

static void describe(const struct sc_mdns *m, const struct group *gr, char *buf, size_t cap)
{
	if (gr->kind == G_ALIAS)
		snprintf(buf, cap, "%s.local", m->alias);
	else if (gr->kind == G_HOST)
		snprintf(buf, cap, "%s.local", m->devs[gr->dev].host);
	else
		snprintf(buf, cap, "service '%s'", m->devs[gr->dev].service);
}

static void copy_name(char *dst, const char *src)
{
	snprintf(dst, AVAHI_LABEL_MAX, "%s", src);
}

/* The whole set is up: one line with the names as they are now. */
static void maybe_published(struct sc_mdns *m)
{
	if (m->published_said || !m->alias_g.established)
		return;
	for (int i = 0; i < m->n; i++)
		if (!m->devs[i].host_g.established ||
		    (has_services(m) && !m->devs[i].svc_g.established))
			return;
	m->published_said = true;
	char where[64], svc[320] = "";
	snprintf(where, sizeof where, "%s%s%s%s", m->address, m->ifname[0] ? " (" : "", m->ifname,
		 m->ifname[0] ? ")" : " (every interface)");
	char ports[96] = "";
	if (m->http_port > 0)
		snprintf(ports, sizeof ports, "_http._tcp port %d", m->http_port);
	if (m->https_port > 0)
		snprintf(ports + strlen(ports), sizeof ports - strlen(ports), "%s_https._tcp port %d",
			 m->http_port > 0 ? " and " : "", m->https_port);
	const struct dev *a = &m->devs[0], *z = &m->devs[m->n - 1];
	if (m->n == 1) {
		if (has_services(m))
			snprintf(svc, sizeof svc, ", service '%s' on %s", a->service, ports);
		sc_log(SC_LOG_INFO, "mdns: published %s.local and %s.local at %s%s", m->alias, a->host,
		       where, svc);
	} else {
		if (has_services(m))
			snprintf(svc, sizeof svc, ", services '%s' to '%s' on %s (path=/devices/SERIAL/)",
				 a->service, z->service, ports);
		sc_log(SC_LOG_INFO, "mdns: published %s.local and %d devices at %s: %s.local to %s.local%s",
		       m->alias, m->n, where, a->host, z->host, svc);
	}
}

static int add_address(struct sc_mdns *m, AvahiEntryGroup *g, const char *label)
{
	char fqdn[AVAHI_LABEL_MAX + 8];
	snprintf(fqdn, sizeof fqdn, "%s.local", label);
	/* No reverse PTR: the address's reverse name is avahi-daemon's own
	 * host name, and a second one would collide with it. */
	return avahi_entry_group_add_address(g, m->ifindex, AVAHI_PROTO_INET,
					     AVAHI_PUBLISH_NO_REVERSE, fqdn, &m->addr);
}

static int add_services(struct sc_mdns *m, AvahiEntryGroup *g, const struct dev *d)
{
	char path[AVAHI_LABEL_MAX + 16], host[AVAHI_LABEL_MAX + 8];
	if (m->fleet)
		snprintf(path, sizeof path, "/devices/%s/", d->serial);
	else
		snprintf(path, sizeof path, "/");
	snprintf(host, sizeof host, "%s.local", d->host);
	/* avahi_string_list_add_pair puts each pair in front. */
	AvahiStringList *txt = avahi_string_list_add_pair(NULL, "path", path);
	txt = avahi_string_list_add_pair(txt, "fw", d->firmware);
	txt = avahi_string_list_add_pair(txt, "model", m->model);
	txt = avahi_string_list_add_pair(txt, "serial", d->serial);
	if (!txt)
		return AVAHI_ERR_NO_MEMORY;
	int r = AVAHI_OK;
	if (m->http_port > 0)
		r = avahi_entry_group_add_service_strlst(g, m->ifindex, AVAHI_PROTO_INET, 0, d->service,
							 "_http._tcp", NULL, host,
							 (uint16_t)m->http_port, txt);
	if (r == AVAHI_OK && m->https_port > 0)
		r = avahi_entry_group_add_service_strlst(g, m->ifindex, AVAHI_PROTO_INET, 0, d->service,
							 "_https._tcp", NULL, host,
							 (uint16_t)m->https_port, txt);
	avahi_string_list_free(txt);
	return r;
}

static int add_entries(struct sc_mdns *m, struct group *gr)
{
	switch (gr->kind) {
	case G_ALIAS:
		return add_address(m, gr->g, m->alias);
	case G_HOST:
		return add_address(m, gr->g, m->devs[gr->dev].host);
	case G_SERVICES:
		return add_services(m, gr->g, &m->devs[gr->dev]);
	}
	return AVAHI_ERR_INVALID_OBJECT;
}

static void withdraw(struct group *gr)
{
	if (gr->g && gr->filled)
		avahi_entry_group_reset(gr->g);
	gr->filled = false;
	gr->established = false;
}

/* A name of gr is in use (by another device, or another program on this
 * host): Avahi's alternative, as avahi-publish and the daemon itself do.
 * A device's services point at its host name, so they follow it. */
static void rename_group(struct sc_mdns *m, struct group *gr, AvahiClient *c)
{
	char *dst = gr->kind == G_ALIAS ? m->alias
		  : gr->kind == G_HOST  ? m->devs[gr->dev].host
					: m->devs[gr->dev].service;
	char *alt = gr->kind == G_SERVICES ? avahi_alternative_service_name(dst)
					   : avahi_alternative_host_name(dst);
	if (!alt) {
		sc_log(SC_LOG_ERROR, "mdns: out of memory");
		return;
	}
	if (gr->kind == G_SERVICES)
		sc_log(SC_LOG_WARN, "mdns: the service name '%s' is taken; now '%s'", dst, alt);
	else
		sc_log(SC_LOG_WARN, "mdns: the host name %s.local is taken; now %s.local", dst, alt);
	copy_name(dst, alt);
	avahi_free(alt);
	m->published_said = false;
	if (gr->kind == G_HOST && has_services(m)) {
		struct group *s = &m->devs[gr->dev].svc_g;
		if (s->filled) {
			withdraw(s);
			publish(m, s, c);
		}
	}
}

static void on_group(AvahiEntryGroup *g, AvahiEntryGroupState state, void *userdata)
{
	struct group *gr = userdata;
	struct sc_mdns *m = gr->m;
	AvahiClient *c = avahi_entry_group_get_client(g);
	char what[AVAHI_LABEL_MAX + 16];
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		gr->established = true;
		maybe_published(m);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		/* Another responder on the network answered for a name while the
		 * daemon probed it: the group is withdrawn; take the next name. */
		gr->g = g;
		withdraw(gr);
		rename_group(m, gr, c);
		publish(m, gr, c);
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		describe(m, gr, what, sizeof what);
		sc_log(SC_LOG_ERROR, "mdns: %s could not be published: %s", what,
		       avahi_strerror(avahi_client_errno(c)));
		break;
	case AVAHI_ENTRY_GROUP_UNCOMMITED:
	case AVAHI_ENTRY_GROUP_REGISTERING:
		break;
	}
}

/* Adds gr's entries and commits them; a name already in use on this host
 * is known at once (AVAHI_ERR_COLLISION) and renamed here. */
static void publish(struct sc_mdns *m, struct group *gr, AvahiClient *c)
{
	char what[AVAHI_LABEL_MAX + 16];
	if (gr->filled || (gr->kind == G_SERVICES && !has_services(m)))
		return;
	if (!gr->g) {
		/* Its callback runs from within avahi_entry_group_new already. */
		gr->g = avahi_entry_group_new(c, on_group, gr);
		if (!gr->g) {
			sc_log(SC_LOG_ERROR, "mdns: %s", avahi_strerror(avahi_client_errno(c)));
			return;
		}
	}
	gr->established = false;
	m->published_said = false;
	for (int tries = 0; tries < RENAMES_MAX; tries++) {
		int r = add_entries(m, gr);
		if (r == AVAHI_OK)
			r = avahi_entry_group_commit(gr->g);
		if (r == AVAHI_OK) {
			gr->filled = true;
			return;
		}
		avahi_entry_group_reset(gr->g);
		if (r != AVAHI_ERR_COLLISION) {
			describe(m, gr, what, sizeof what);
			sc_log(SC_LOG_ERROR, "mdns: %s could not be published: %s", what,
			       avahi_strerror(r));
			return;
		}
		rename_group(m, gr, c);
	}
	describe(m, gr, what, sizeof what);
	sc_log(SC_LOG_ERROR, "mdns: %s not published: %d names in a row are taken", what,
	       RENAMES_MAX);
}

static void publish_all(struct sc_mdns *m, AvahiClient *c)
{
	publish(m, &m->alias_g, c);
	for (int i = 0; i < m->n; i++) {
		publish(m, &m->devs[i].host_g, c);
		publish(m, &m->devs[i].svc_g, c);
	}
}

static void withdraw_all(struct sc_mdns *m)
{
	withdraw(&m->alias_g);
	for (int i = 0; i < m->n; i++) {
		withdraw(&m->devs[i].host_g);
		withdraw(&m->devs[i].svc_g);
	}
}

/* The client and its groups are gone (avahi_client_free frees them). */
static void forget(struct group *gr)
{
	gr->g = NULL;
	gr->filled = gr->established = false;
}

static void forget_groups(struct sc_mdns *m)
{
	forget(&m->alias_g);
	for (int i = 0; i < m->n; i++) {
		forget(&m->devs[i].host_g);
		forget(&m->devs[i].svc_g);
	}
}

static void drop_client(struct sc_mdns *m)
{
	if (m->client) {
		avahi_client_free(m->client);
		m->client = NULL;
	}
	forget_groups(m);
	m->running = false;
}

static void say_unreachable(struct sc_mdns *m, int err)
{
	if (m->unreachable_said)
		return;
	m->unreachable_said = true;
	sc_log(SC_LOG_ERROR, "mdns: avahi-daemon is not reachable (%s): %s.local is not advertised; "
			     "sc-sim goes on without mDNS and advertises the device once avahi-daemon "
			     "runs", avahi_strerror(err), m->alias);
}

static void connect_client(struct sc_mdns *m);

static void on_retry(void *arg)
{
	struct sc_mdns *m = arg;
	m->retry_timer = -1;
	drop_client(m);
	connect_client(m);
}

static void retry_in(struct sc_mdns *m, int64_t ms)
{
	if (m->retry_timer < 0)
		m->retry_timer = sc_loop_add_timer(m->loop, sc_loop_now(m->loop) + ms, on_retry, m);
}

static void on_client(AvahiClient *c, AvahiClientState state, void *userdata)
{
	struct sc_mdns *m = userdata;
	m->client = c; /* also from within avahi_client_new, before it returns */
	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		if (m->unreachable_said)
			sc_log(SC_LOG_INFO, "mdns: avahi-daemon is running now");
		m->unreachable_said = false;
		m->running = true;
		publish_all(m, c);
		break;
	case AVAHI_CLIENT_S_REGISTERING:
	case AVAHI_CLIENT_S_COLLISION:
		/* The daemon (re)registers its own host name: entries come back
		 * when it is running. */
		withdraw_all(m);
		break;
	case AVAHI_CLIENT_CONNECTING:
		/* The bus is there, the daemon not (AVAHI_CLIENT_NO_FAIL): the
		 * client waits for it. */
		say_unreachable(m, AVAHI_ERR_NO_DAEMON);
		break;
	case AVAHI_CLIENT_FAILURE:
		if (m->running)
			sc_log(SC_LOG_ERROR, "mdns: lost avahi-daemon (%s); the device is advertised "
					     "again once it is back", avahi_strerror(avahi_client_errno(c)));
		else
			say_unreachable(m, avahi_client_errno(c));
		m->running = false;
		m->unreachable_said = true;
		/* Not freed from its own callback: a new client from the loop. */
		retry_in(m, RECONNECT_MS);
		break;
	}
}

static void connect_client(struct sc_mdns *m)
{
	int err = 0;
	AvahiClient *c = avahi_client_new(&m->poll, AVAHI_CLIENT_NO_FAIL, on_client, m, &err);
	if (!c) {
		/* No system bus (or no memory). The callback may have run with a
		 * client that is freed now. */
		m->client = NULL;
		forget_groups(m);
		m->running = false;
		say_unreachable(m, err);
		retry_in(m, RETRY_MS);
		return;
	}
	m->client = c;
}

/* ---- addresses ---- */

static bool usable(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	return h != 0 && (h >> 24) != 127 && (h >> 28) != 0xE && h != 0xFFFFFFFFu;
}

int sc_mdns_pick_address(const char *listen, const char *given, char *out, size_t cap,
			 char *why, size_t why_cap)
{
	struct in_addr a;
	if (given) {
		if (inet_pton(AF_INET, given, &a) != 1 || !usable(a)) {
			snprintf(why, why_cap, "'%s' is not an IPv4 unicast address (A.B.C.D, not "
					       "loopback or 0.0.0.0)", given);
			return -1;
		}
		snprintf(out, cap, "%s", given);
		return 0;
	}
	if (listen && inet_pton(AF_INET, listen, &a) == 1 && usable(a)) {
		snprintf(out, cap, "%s", listen);
		return 0;
	}
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) != 0) {
		snprintf(why, why_cap, "the interfaces cannot be listed: %s", strerror(errno));
		return -1;
	}
	bool found = false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		struct in_addr ia = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
		if (usable(ia) && inet_ntop(AF_INET, &ia, out, (socklen_t)cap))
			found = true;
	}
	freeifaddrs(ifs);
	if (!found)
		snprintf(why, why_cap, "no interface that is up has an IPv4 address other than "
				       "loopback (--mdns-address A.B.C.D names one)");
	return found ? 0 : -1;
}

/* The interface holding the address, if it is one of this host's. */
static void find_interface(struct sc_mdns *m)
{
	m->ifindex = AVAHI_IF_UNSPEC;
	m->ifname[0] = '\0';
	struct in_addr want;
	struct ifaddrs *ifs;
	if (inet_pton(AF_INET, m->address, &want) != 1 || getifaddrs(&ifs) != 0)
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct in_addr ia = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
		unsigned idx = if_nametoindex(i->ifa_name);
		if (ia.s_addr == want.s_addr && idx > 0) {
			m->ifindex = (AvahiIfIndex)idx;
			snprintf(m->ifname, sizeof m->ifname, "%s", i->ifa_name);
			break;
		}
	}
	freeifaddrs(ifs);
}

/* ---- start and stop ---- */

static void init_group(struct group *gr, struct sc_mdns *m, enum group_kind kind, int dev)
{
	gr->m = m;
	gr->kind = kind;
	gr->dev = dev;
}

struct sc_mdns *sc_mdns_start(struct sc_loop *loop, const struct sc_mdns_opts *o)
{
	if (o->n_devices < 1 || o->n_devices > SC_MDNS_MAX_DEVICES) {
		sc_log(SC_LOG_ERROR, "mdns: 1 to %d devices are advertised, not %d",
		       SC_MDNS_MAX_DEVICES, o->n_devices);
		return NULL;
	}
	struct sc_mdns *m = calloc(1, sizeof *m);
	if (!m || !(m->devs = calloc((size_t)o->n_devices, sizeof *m->devs))) {
		free(m);
		sc_log(SC_LOG_ERROR, "mdns: out of memory");
		return NULL;
	}
	m->loop = loop;
	m->retry_timer = -1;
	m->poll = (AvahiPoll){m, watch_new, watch_update, watch_get_events, watch_free,
			      timeout_new, timeout_update, timeout_free};
	snprintf(m->address, sizeof m->address, "%s", o->address);
	if (!avahi_address_parse(m->address, AVAHI_PROTO_INET, &m->addr)) {
		sc_log(SC_LOG_ERROR, "mdns: '%s' is not an IPv4 address", o->address);
		free(m->devs);
		free(m);
		return NULL;
	}
	find_interface(m);
	m->http_port = o->http_port;
	m->https_port = o->https_port;
	snprintf(m->model, sizeof m->model, "%s", o->model ? o->model : "Smart Connect");
	m->fleet = o->fleet;
	copy_name(m->alias, ALIAS);
	init_group(&m->alias_g, m, G_ALIAS, 0);
	m->n = o->n_devices;
	for (int i = 0; i < m->n; i++) {
		struct dev *d = &m->devs[i];
		snprintf(d->serial, sizeof d->serial, "%s", o->devices[i].serial);
		snprintf(d->firmware, sizeof d->firmware, "%s",
			 o->devices[i].firmware ? o->devices[i].firmware : "");
		/* SMART-CONNECT.md §3: hostname smart-connect-<serial>. */
		snprintf(d->host, sizeof d->host, ALIAS "-%s", d->serial);
		copy_name(d->service, d->host);
		init_group(&d->host_g, m, G_HOST, i);
		init_group(&d->svc_g, m, G_SERVICES, i);
	}
	connect_client(m);
	return m;
}

void sc_mdns_stop(struct sc_mdns *m)
{
	if (!m)
		return;
	sc_loop_cancel_timer(m->loop, m->retry_timer);
	/* Freeing the client closes its D-Bus connection: avahi-daemon
	 * withdraws what it published (goodbye packets, TTL 0). */
	drop_client(m);
	/* What the connection left behind (nothing once libdbus finalised it). */
	while (m->timeouts) {
		struct AvahiTimeout *t = m->timeouts;
		m->timeouts = t->next;
		sc_loop_cancel_timer(m->loop, t->timer);
		free(t);
	}
	while (m->watches) {
		struct AvahiWatch *w = m->watches;
		m->watches = w->next;
		free(w);
	}
	while (m->fds) {
		struct fd_reg *r = m->fds;
		m->fds = r->next;
		sc_loop_del_fd(m->loop, r->fd);
		free(r);
	}
	free(m->devs);
	free(m);
}
