/* sc-sim --mdns: the device advertised over mDNS / DNS-SD as the real one
 * is (SMART-CONNECT.md §3: hostname smart-connect-<serial>, mDNS name
 * smart-connect.local), through avahi-daemon: one thin adapter around
 * avahi-client, which talks to the daemon over D-Bus. Its descriptors and
 * timers run on the event loop (an AvahiPoll on loop.h), so every callback
 * comes from the loop's thread.
 *
 * Published, IPv4 only (the device has no IPv6), on the interface that
 * holds the address (every interface when it is not one of this host's):
 *   smart-connect.local            A  address
 *   smart-connect-SERIAL.local     A  address (one per device)
 *   smart-connect-SERIAL           _http._tcp on the HTTP port and
 *                                  _https._tcp on the HTTPS port, the
 *                                  SRV target smart-connect-SERIAL.local,
 *                                  TXT serial=, model=, fw=, path=
 * Names taken on the network get Avahi's alternatives ("smart-connect-2",
 * "smart-connect-SERIAL #2"), logged. No reverse (PTR) records: the
 * address is the host's, whose reverse name is avahi-daemon's own.
 *
 * avahi-daemon (or the system bus) not running is not fatal: an error is
 * logged and the names are published once the daemon is there (a daemon
 * that goes away and comes back is handled the same way). */
#ifndef SC_MDNS_H
#define SC_MDNS_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

/* A fleet's devices advertised at most: two entry groups per device, well
 * within avahi-daemon's default objects-per-client-max (1024); mDNS is for
 * finding a few devices on a LAN, not a load test. */
#define SC_MDNS_MAX_DEVICES 100

struct sc_mdns_device {
	const char *serial;       /* names the host and the service; copied */
	const char *firmware;     /* TXT fw=; copied */
};

struct sc_mdns_opts {
	const char *address;      /* the IPv4 address advertised, dotted quad */
	int http_port;            /* _http._tcp; 0: not published */
	int https_port;           /* _https._tcp; 0: not published */
	const char *model;        /* TXT model= */
	const struct sc_mdns_device *devices; /* 1 to SC_MDNS_MAX_DEVICES; copied */
	int n_devices;
	bool fleet;               /* TXT path=/devices/SERIAL/ (else path=/) */
};

struct sc_mdns;

/* The address to advertise into out (INET_ADDRSTRLEN bytes): given
 * (--mdns-address) when not NULL, else listen (the HTTP listen address)
 * when it is a specific non-loopback address, else the first IPv4
 * address of an interface that is up and not loopback. 0, or -1 with why. */
int sc_mdns_pick_address(const char *listen, const char *given, char *out, size_t cap,
			 char *why, size_t why_cap);

/* Connects to avahi-daemon and publishes (asynchronously: a log line says
 * when it is done). NULL only when out of memory or the options are
 * invalid (logged); an unreachable daemon is logged and waited for. */
struct sc_mdns *sc_mdns_start(struct sc_loop *loop, const struct sc_mdns_opts *o);
/* Withdraws everything and frees; NULL is fine. */
void sc_mdns_stop(struct sc_mdns *m);

#endif
