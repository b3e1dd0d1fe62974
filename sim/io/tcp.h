/* A blocking TCP connection to an IPv4 host within a time limit, for the
 * diagnostics that run off the event loop (the TLS probe of a broker,
 * sc-hil doctor's checks of a device). */
#ifndef SC_TCP_H
#define SC_TCP_H

#include <stddef.h>

/* The connected socket, blocking, with timeout_ms on every read and write
 * too; or -1 with why ("cannot resolve HOST: ...", "cannot connect to
 * HOST:PORT: Connection refused"). */
int sc_tcp_connect(const char *host, int port, int timeout_ms, char *why, size_t cap);

#endif
