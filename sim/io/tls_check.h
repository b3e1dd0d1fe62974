/* Certificate checks the device makes against its own clock, before a TLS
 * connection: a device whose date is far off cannot use its certificates
 * (manual §5.1: "correct date and time are required"); and the client side
 * of the device's TLS connection to its broker (contexts, connections, and
 * why one failed). OpenSSL. */
#ifndef SC_TLS_CHECK_H
#define SC_TLS_CHECK_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 when the PEM file holds a certificate valid at device time t (UTC
 * epoch seconds); -1 with the reason in why otherwise (no certificate, or
 * none valid then: the first one's validity is named). what names the file
 * in the reason ("CA certificate"). */
int sc_tls_check_valid(const char *path, int64_t t, const char *what, char *why, size_t cap);

/* The subject CN of the first certificate of a PEM file; -1 when none. */
int sc_tls_cert_cn(const char *path, char *cn, size_t cap);

/* A client context for the broker: verifies the broker with the CA
 * certificates of cafile (the system's when NULL) unless verify is false,
 * and presents certfile with keyfile when certfile is set (mutual TLS).
 * TLS 1.2 at least. NULL with the reason in why ("cannot load the CA
 * certificates: ..."). The caller frees it with SSL_CTX_free. */
SSL_CTX *sc_tls_client_ctx(const char *cafile, const char *certfile, const char *keyfile,
			   bool verify, char *why, size_t cap);

/* One client connection of ctx on the connected socket fd: the broker's
 * certificate must name host (a name or an IP address) and be valid at
 * device time t (UTC epoch s), as the device checks it against its own
 * clock. Nothing is sent yet (SSL_connect does, blocking or not as fd is).
 * NULL with why when out of memory. The caller frees it with SSL_free. */
SSL *sc_tls_client_new(SSL_CTX *ctx, int fd, const char *host, int64_t t, char *why, size_t cap);

/* Why a TLS connection failed, for the log: "the broker's certificate is
 * not for localhost", "the broker's certificate does not verify: ...",
 * "the broker refused the device certificate (tlsv1 alert unknown ca)".
 * ssl_error is SSL_get_error's answer; handshaken says whether
 * SSL_connect had succeeded (TLS 1.3: a broker that refuses the device
 * certificate says so after the client finished its handshake). Reads and
 * clears the thread's OpenSSL error queue. */
void sc_tls_explain(const SSL *ssl, int ssl_error, const char *host, bool handshaken, char *why,
		    size_t cap);

/* A self-signed certificate for the device's HTTPS page: an EC P-256 key,
 * subject CN cn, the names in sans ("DNS:smart-connect.local",
 * "IP:127.0.0.1", ...), valid from a day before now for days days. PEM
 * texts malloc'd into *cert and *key. Returns 0, or -1 with why. */
int sc_tls_self_signed(const char *cn, const char *const *sans, size_t nsans, int days,
		       char **cert, char **key, char *why, size_t cap);

/* Checks an HTTPS server's PEM texts before they are used: 0 when cert is
 * a PEM certificate, key a PEM private key, and the key the certificate's.
 * Otherwise 1 (the certificate is wrong) or 2 (the key is wrong, or does
 * not match the certificate), with what is wrong in why ("not a PEM private
 * key (no start line)"). Clears the thread's OpenSSL error queue. */
int sc_tls_check_pem_pair(const char *cert, const char *key, char *why, size_t cap);

#endif
