/* HTTP and HTTPS servers of the device: one thin adapter around
 * libmicrohttpd in external-poll mode (its epoll descriptor is watched by
 * the event loop). Requests are handed whole to a handler that fills a
 * response (api.h); this file only moves bytes, headers and TLS. */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <stdbool.h>

#include "api.h"
#include "loop.h"

struct sc_http_opts {
	const char *addr;      /* IPv4 address to listen on */
	int port;              /* 0 = any free port */
	bool tls;
	const char *cert_pem;  /* TLS: certificate and key, PEM text */
	const char *key_pem;
};

typedef void (*sc_http_handler)(void *arg, const struct sc_http_request *rq,
				struct sc_http_response *rs);

struct sc_http;

/* NULL on failure with *err set to the errno of the failure (EACCES,
 * EADDRINUSE, ...). */
struct sc_http *sc_http_start(struct sc_loop *loop, const struct sc_http_opts *o,
			      sc_http_handler handler, void *arg, int *err);
void sc_http_stop(struct sc_http *h);
int sc_http_port(const struct sc_http *h);
/* Requests answered so far. */
unsigned long sc_http_requests(const struct sc_http *h);

#endif
