/* Broker names resolved off the event loop.
 *
 * getaddrinfo blocks for as long as a DNS server keeps silent, so a name is
 * looked up by a short-lived thread and the answer is posted to the
 * caller's loop through an eventfd. Requests for a name that is being
 * looked up at that moment join that lookup instead of starting another:
 * a fleet of thousands of devices that start (or lose their broker and
 * reconnect) together asks the DNS server once, with one thread, instead
 * of once and with a thread per device. Nothing is cached: a request made
 * after a lookup has ended starts a new one, so each connection attempt of
 * a device resolves the name afresh, as the device does.
 *
 * Thread-safe: requests may come from any thread and any loop. */
#ifndef SC_RESOLVER_H
#define SC_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sc_resolve;

/* Starts resolving host for port. NULL with why (no memory, no thread).
 * The request is the caller's until sc_resolve_drop. */
struct sc_resolve *sc_resolve_start(const char *host, int port, char *why, size_t cap);
/* Readable (POLLIN) once the answer is there; read it with
 * sc_resolve_answer. Owned by the request. */
int sc_resolve_fd(const struct sc_resolve *r);
/* The answer: 1 with the address (port set) in *sa, *len; -1 when the name
 * did not resolve (why: "cannot resolve NAME: ..."); 0 while the lookup
 * still runs. Clears the descriptor's readiness. */
int sc_resolve_answer(struct sc_resolve *r, struct sockaddr_storage *sa, socklen_t *len,
		      char *why, size_t cap);
/* The name asked for. */
const char *sc_resolve_host(const struct sc_resolve *r);
/* The caller stops waiting (take the descriptor out of its loop first);
 * the lookup may run on, and frees the request when it ends. NULL is
 * allowed. */
void sc_resolve_drop(struct sc_resolve *r);

/* Since the process started: requests, lookups (threads) started for
 * them, and lookups whose thread has not let go of its memory yet. */
struct sc_resolve_stats {
	uint64_t requests, lookups;
	unsigned running;
};
void sc_resolve_stats(struct sc_resolve_stats *out);

#endif
