/* Certificate checks the device makes against its own clock, before a TLS
 * connection: a device whose date is far off cannot use its certificates
 * (manual §5.1: "correct date and time are required"). OpenSSL, read-only. */
#ifndef SC_TLS_CHECK_H
#define SC_TLS_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* 0 when the PEM file holds a certificate valid at device time t (UTC
 * epoch seconds); -1 with the reason in why otherwise (no certificate, or
 * none valid then: the first one's validity is named). what names the file
 * in the reason ("CA certificate"). */
int sc_tls_check_valid(const char *path, int64_t t, const char *what, char *why, size_t cap);

/* The subject CN of the first certificate of a PEM file; -1 when none. */
int sc_tls_cert_cn(const char *path, char *cn, size_t cap);

/* Why a TLS connection to host:port fails, found by a handshake of its own
 * with the same files, verifying the broker's name and validity at device
 * time t: "the broker's certificate does not match localhost", "the broker
 * refused the device certificate (tlsv1 alert unknown ca)"... Blocking
 * (at most a few seconds): run it off the loop. Returns 0 when the
 * handshake succeeds (why says so), -1 with the cause otherwise. */
int sc_tls_probe(const char *host, int port, const char *cafile, const char *certfile,
		 const char *keyfile, int64_t t, char *why, size_t cap);

/* A self-signed certificate for the device's HTTPS page: an EC P-256 key,
 * subject CN cn, the names in sans ("DNS:smart-connect.local",
 * "IP:127.0.0.1", ...), valid from a day before now for days days. PEM
 * texts malloc'd into *cert and *key. Returns 0, or -1 with why. */
int sc_tls_self_signed(const char *cn, const char *const *sans, size_t nsans, int days,
		       char **cert, char **key, char *why, size_t cap);

#endif
