#include <arpa/inet.h>
#include <errno.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- the broker connection ---- */

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

SSL_CTX *sc_tls_client_ctx(const char *cafile, const char *certfile, const char *keyfile,
			   bool verify, char *why, size_t cap)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		openssl_reason(why, cap, "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A broker that closes without close_notify has closed the connection
	 * (as over TCP), not failed the protocol. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	/* Writes from a buffer that grows while a record waits; a write may
	 * take part of what is offered; an idle connection keeps no buffers
	 * (a fleet has thousands). */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1
		   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		openssl_reason(why, cap, "cannot load the CA certificates: ");
		goto fail;
	}
	if (certfile && (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1 ||
			 SSL_CTX_use_PrivateKey_file(ctx, keyfile ? keyfile : certfile,
						     SSL_FILETYPE_PEM) != 1 ||
			 SSL_CTX_check_private_key(ctx) != 1)) {
		openssl_reason(why, cap, "cannot load the device certificate or key: ");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL *sc_tls_client_new(SSL_CTX *ctx, int fd, const char *host, int64_t t, char *why, size_t cap)
{
	ERR_clear_error();
	SSL *ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		openssl_reason(why, cap, "TLS: ");
		SSL_free(ssl);
		return NULL;
	}
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	struct in6_addr ip;
	if (inet_pton(AF_INET, host, &ip) == 1 || inet_pton(AF_INET6, host, &ip) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(vp, host);
	} else {
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
		SSL_set_tlsext_host_name(ssl, host);
	}
	X509_VERIFY_PARAM_set_time(vp, (time_t)t);
	SSL_set_connect_state(ssl);
	return ssl;
}

void sc_tls_explain(const SSL *ssl, int ssl_error, const char *host, bool handshaken, char *why,
		    size_t cap)
{
	if (handshaken) {
		if (ssl_error == SSL_ERROR_SSL)
			openssl_reason(why, cap, "the broker refused the device certificate: ");
		else
			openssl_reason(why, cap, "the connection was closed after the handshake: ");
		return;
	}
	long v = SSL_get_verify_result(ssl);
	if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
		ERR_clear_error();
		snprintf(why, cap, "the broker's certificate is not for %s", host);
	} else if (v != X509_V_OK) {
		ERR_clear_error();
		snprintf(why, cap, "the broker's certificate does not verify: %s (certificate verify failed)",
			 X509_verify_cert_error_string(v));
	} else {
		openssl_reason(why, cap, "the handshake failed: ");
	}
}

/* ---- the device's own certificate ---- */

static char *bio_text(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (out) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	return out;
}

int sc_tls_self_signed(const char *cn, const char *const *sans, size_t nsans, int days,
		       char **cert, char **key, char *why, size_t cap)
{
	int rc = -1;
	*cert = *key = NULL;
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	if (!pk || !x || !cb || !kb)
		goto out;
	X509_set_version(x, 2);
	unsigned char serial[16];
	if (RAND_bytes(serial, sizeof serial) != 1)
		goto out;
	serial[0] &= 0x7F; /* positive */
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400L);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L);
	X509_set_pubkey(x, pk);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Xemex Smart Connect (twin)", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	char san[1024] = "";
	size_t used = 0;
	for (size_t i = 0; i < nsans && used < sizeof san; i++)
		used += (size_t)snprintf(san + used, sizeof san - used, "%s%s", i ? "," : "", sans[i]);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (!ext)
		goto out;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
	if (ext) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, pk, EVP_sha256()) || !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL))
		goto out;
	*cert = bio_text(cb);
	*key = bio_text(kb);
	if (*cert && *key)
		rc = 0;
out:
	if (rc != 0) {
		openssl_reason(why, cap, "cannot make the HTTPS certificate: ");
		free(*cert);
		free(*key);
		*cert = *key = NULL;
	}
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

static void last_error(const char *what, char *why, size_t cap)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(why, cap, "%s%s%s%s", what, r ? " (" : "", r ? r : "", r ? ")" : "");
	ERR_clear_error();
}

int sc_tls_check_pem_pair(const char *cert, const char *key, char *why, size_t cap)
{
	ERR_clear_error();
	BIO *b = BIO_new_mem_buf(cert, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!x) {
		last_error("not a PEM certificate", why, cap);
		return 1;
	}
	b = BIO_new_mem_buf(key, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	int rc = 0;
	if (!k) {
		last_error("not a PEM private key", why, cap);
		rc = 2;
	} else if (X509_check_private_key(x, k) != 1) {
		snprintf(why, cap, "the key is not the certificate's");
		ERR_clear_error();
		rc = 2;
	}
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}
