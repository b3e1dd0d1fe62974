/* Broker names resolved off the event loop, one lookup per name at a time
 * (resolver.h).
 *
 * A request belongs to its caller and to the lookup it waits on: the last
 * of the two to let go frees it, so a caller may give up (and be freed)
 * while the lookup still waits for the DNS server. The lookups under way are
 * a list under one mutex; a lookup leaves the list before it hands out its
 * answer, so a request either joins a lookup that will answer it or starts
 * a new one. */
#include "resolver.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct sc_resolve {
	atomic_int refs;         /* the caller's and the lookup's */
	atomic_bool done;
	int efd;
	int port;
	int rc;                  /* 0, or -1 with why */
	struct sockaddr_storage sa;
	socklen_t salen;
	char why[200];
	struct sc_resolve *next; /* the lookup's next request */
	char host[];
};

struct lookup {
	struct lookup *next;     /* in in_flight, until it answers */
	struct sc_resolve *waiting;
	char host[];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct lookup *in_flight;
static struct sc_resolve_stats stats;

static void release(struct sc_resolve *r)
{
	if (atomic_fetch_sub(&r->refs, 1) == 1) {
		close(r->efd);
		free(r);
	}
}

/* The lookup's answer for one of its requests (each has its own port). */
static void answer(struct sc_resolve *r, int rc, int err, const struct addrinfo *res)
{
	if (rc != 0 || !res) {
		snprintf(r->why, sizeof r->why, "cannot resolve %s: %s", r->host,
			 rc == EAI_SYSTEM ? strerror(err) : gai_strerror(rc));
		r->rc = -1;
	} else {
		memcpy(&r->sa, res->ai_addr, res->ai_addrlen);
		r->salen = res->ai_addrlen;
		if (r->sa.ss_family == AF_INET)
			((struct sockaddr_in *)&r->sa)->sin_port = htons((uint16_t)r->port);
		else
			((struct sockaddr_in6 *)&r->sa)->sin6_port = htons((uint16_t)r->port);
		r->rc = 0;
	}
	atomic_store_explicit(&r->done, true, memory_order_release);
	uint64_t one = 1;
	ssize_t w = write(r->efd, &one, sizeof one);
	(void)w; /* an eventfd counter takes it: it cannot overflow here */
	release(r);
}

/* The lookup's thread: getaddrinfo as long as it takes, then the answer to
 * every request that joined meanwhile. */
static void *lookup_run(void *arg)
{
	struct lookup *lk = arg;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(lk->host, NULL, &hints, &res);
	int err = errno;
	pthread_mutex_lock(&mu);
	for (struct lookup **p = &in_flight; *p; p = &(*p)->next)
		if (*p == lk) {
			*p = lk->next;
			break;
		}
	struct sc_resolve *r = lk->waiting;
	lk->waiting = NULL;
	pthread_mutex_unlock(&mu);
	/* Out of the list: no request joins any more. */
	while (r) {
		struct sc_resolve *next = r->next;
		answer(r, rc, err, res);
		r = next;
	}
	if (res)
		freeaddrinfo(res);
	free(lk);
	pthread_mutex_lock(&mu);
	stats.running--; /* counted until it has let go of everything */
	pthread_mutex_unlock(&mu);
	return NULL;
}

struct sc_resolve *sc_resolve_start(const char *host, int port, char *why, size_t cap)
{
	size_t hl = strlen(host);
	struct sc_resolve *r = calloc(1, sizeof *r + hl + 1);
	if (!r) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	memcpy(r->host, host, hl + 1);
	r->port = port;
	atomic_init(&r->refs, 2);
	atomic_init(&r->done, false);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		snprintf(why, cap, "eventfd: %s", strerror(errno));
		free(r);
		return NULL;
	}
	pthread_mutex_lock(&mu);
	stats.requests++;
	for (struct lookup *lk = in_flight; lk; lk = lk->next)
		if (strcmp(lk->host, host) == 0) {
			r->next = lk->waiting;
			lk->waiting = r;
			pthread_mutex_unlock(&mu);
			return r;
		}
	struct lookup *lk = calloc(1, sizeof *lk + hl + 1);
	int e = ENOMEM;
	if (lk) {
		memcpy(lk->host, host, hl + 1);
		lk->waiting = r;
		pthread_attr_t at;
		pthread_t th;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		/* Enough for getaddrinfo and its NSS modules. */
		pthread_attr_setstacksize(&at, 256 * 1024);
		/* Listed before the thread can look for itself in the list. */
		lk->next = in_flight;
		in_flight = lk;
		e = pthread_create(&th, &at, lookup_run, lk);
		pthread_attr_destroy(&at);
		if (e == 0) {
			stats.lookups++;
			stats.running++;
		} else {
			in_flight = lk->next;
		}
	}
	pthread_mutex_unlock(&mu);
	if (e != 0) {
		if (lk)
			snprintf(why, cap, "cannot resolve %s: no thread: %s", host, strerror(e));
		else
			snprintf(why, cap, "out of memory");
		free(lk);
		close(r->efd);
		free(r);
		return NULL;
	}
	return r;
}

int sc_resolve_fd(const struct sc_resolve *r)
{
	return r->efd;
}

const char *sc_resolve_host(const struct sc_resolve *r)
{
	return r->host;
}

int sc_resolve_answer(struct sc_resolve *r, struct sockaddr_storage *sa, socklen_t *len,
		      char *why, size_t cap)
{
	uint64_t n;
	ssize_t got = read(r->efd, &n, sizeof n);
	(void)got; /* nothing there yet: EAGAIN */
	if (!atomic_load_explicit(&r->done, memory_order_acquire))
		return 0;
	if (r->rc != 0) {
		snprintf(why, cap, "%s", r->why);
		return -1;
	}
	*sa = r->sa;
	*len = r->salen;
	return 1;
}

void sc_resolve_drop(struct sc_resolve *r)
{
	if (r)
		release(r);
}

void sc_resolve_stats(struct sc_resolve_stats *out)
{
	pthread_mutex_lock(&mu);
	*out = stats;
	pthread_mutex_unlock(&mu);
}
