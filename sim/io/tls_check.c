/* getaddrinfo and struct timeval need more than _POSIX_C_SOURCE. */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tls_check.h"

static void format_time(const ASN1_TIME *t, char *buf, size_t cap)
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
	else
		snprintf(buf, cap, "?");
}

int sc_tls_check_valid(const char *path, int64_t t, const char *what, char *why, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why, cap, "cannot read %s %s", what, path);
		return -1;
	}
	time_t now = (time_t)t;
	X509 *x, *first = NULL;
	bool valid = false;
	while (!valid && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		/* X509_cmp_time: -1 when the certificate's time is before now. */
		if (X509_cmp_time(X509_get0_notBefore(x), &now) <= 0 &&
		    X509_cmp_time(X509_get0_notAfter(x), &now) >= 0)
			valid = true;
		if (!first)
			first = x;
		else
			X509_free(x);
	}
	fclose(f);
	if (valid) {
		X509_free(first);
		return 0;
	}
	if (!first) {
		snprintf(why, cap, "no certificate in %s %s", what, path);
		return -1;
	}
	char nb[32], na[32], dev[32];
	struct tm tm;
	format_time(X509_get0_notBefore(first), nb, sizeof nb);
	format_time(X509_get0_notAfter(first), na, sizeof na);
	gmtime_r(&now, &tm);
	strftime(dev, sizeof dev, "%Y-%m-%d %H:%M:%SZ", &tm);
	snprintf(why, cap,
		 "device clock %s is outside the validity of the %s %s (%s to %s): the device "
		 "needs the right date and time", dev, what, path, nb, na);
	X509_free(first);
	return -1;
}

int sc_tls_cert_cn(const char *path, char *cn, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return -1;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cap);
	X509_free(x);
	return n < 0 ? -1 : 0;
}

/* ---- a diagnostic handshake ---- */

static int tcp_connect(const char *host, int port, int timeout_ms, char *why, size_t cap)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET; /* the device has no IPv6 */
	hints.ai_socktype = SOCK_STREAM;
	char ps[8];
	snprintf(ps, sizeof ps, "%d", port);
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0) {
		snprintf(why, cap, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		snprintf(why, cap, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc != 0 && errno == EINPROGRESS) {
		struct pollfd p = {fd, POLLOUT, 0};
		int err = 0;
		socklen_t el = sizeof err;
		if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		    err == 0)
			rc = 0;
		else
			errno = err ? err : ETIMEDOUT;
	}
	if (rc != 0) {
		snprintf(why, cap, "cannot connect to %s:%d: %s", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	/* Blocking from here on, with time limits on every read and write. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static void openssl_reason(char *why, size_t cap, const char *prefix)
{
	unsigned long e = ERR_get_error(), last = e;
	while (e) {
		last = e;
		e = ERR_get_error();
	}
	const char *r = last ? ERR_reason_error_string(last) : NULL;
	snprintf(why, cap, "%s%s", prefix, r ? r : "the connection was closed");
}

int sc_tls_probe(const char *host, int port, const char *cafile, const char *certfile,
		 const char *keyfile, int64_t t, char *why, size_t cap)
{
	int fd = tcp_connect(host, port, 5000, why, cap);
	if (fd < 0)
		return -1;
	int result = -1;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	ERR_clear_error();
	if (!ctx) {
		openssl_reason(why, cap, "");
		goto out;
	}
	if (cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1
		   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		openssl_reason(why, cap, "cannot load the CA certificates: ");
		goto out;
	}
	if (certfile && (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1 ||
			 SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1)) {
		openssl_reason(why, cap, "cannot load the device certificate or key: ");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(ctx);
	struct in_addr ip;
	if (inet_pton(AF_INET, host, &ip) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(vp, host);
	else
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	X509_VERIFY_PARAM_set_time(vp, (time_t)t);
	ssl = SSL_new(ctx);
	if (!ssl) {
		openssl_reason(why, cap, "");
		goto out;
	}
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, host);
	if (SSL_connect(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);
		if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
			snprintf(why, cap, "the broker's certificate is not for %s", host);
		else if (v != X509_V_OK)
			snprintf(why, cap, "the broker's certificate does not verify: %s",
				 X509_verify_cert_error_string(v));
		else
			openssl_reason(why, cap, "the handshake failed: ");
		goto out;
	}
	/* TLS 1.3: a server that refuses the client certificate says so after
	 * the client has finished; look for its alert. */
	char b;
	struct timeval tv = {0, 300000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int r = SSL_peek(ssl, &b, 1);
	if (r <= 0 && SSL_get_error(ssl, r) == SSL_ERROR_SSL) {
		openssl_reason(why, cap, "the broker refused the device certificate: ");
		goto out;
	}
	snprintf(why, cap, "the TLS handshake succeeds");
	result = 0;
out:
	if (ssl)
		SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return result;
}
