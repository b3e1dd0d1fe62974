/* The device's HTTP API through libcurl: one easy handle reused, Basic
 * authentication, the device's own (self-signed) certificate accepted. */
#include "dut_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sc_dut_curl {
	CURL *curl;
	char base[300]; /* https://HOST:PORT or http://HOST:PORT */
};

void sc_dut_http_free(struct sc_dut_curl *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h);
}

static struct sc_dut_curl *client(struct sc_dut *d)
{
	if (d->http)
		return d->http;
	struct sc_dut_curl *h = calloc(1, sizeof *h);
	if (!h || !(h->curl = curl_easy_init())) {
		free(h);
		return NULL;
	}
	if (d->o.https_port > 0)
		snprintf(h->base, sizeof h->base, "https://%s:%d", d->host, d->o.https_port);
	else
		snprintf(h->base, sizeof h->base, "http://%s:%d", d->host, d->o.http_port);
	d->http = h;
	return h;
}

struct body {
	char *p;
	size_t n;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = size * n;
	char *p = realloc(b->p, b->n + k + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, data, k);
	b->p = p;
	b->n += k;
	b->p[b->n] = '\0';
	return k;
}

int sc_dut_http(struct sc_dut *d, const char *method, const char *path, const char *body,
		int *status, char **resp, char *why, size_t cap)
{
	*resp = NULL;
	*status = 0;
	struct sc_dut_curl *h = client(d);
	if (!h) {
		snprintf(why, cap, "http: cannot make a client");
		return -1;
	}
	CURL *c = h->curl;
	curl_easy_reset(c);
	char url[512];
	snprintf(url, sizeof url, "%s%s", h->base, path);
	struct body b = {NULL, 0};
	struct curl_slist *hdr = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_USERNAME, d->user);
	curl_easy_setopt(c, CURLOPT_PASSWORD, d->password);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(d->o.timeout_s * 1000));
	/* A device's certificate is its own, self-signed. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		snprintf(why, cap, "http: %s %s: %s", method, url, curl_easy_strerror(rc));
		free(b.p);
		return -1;
	}
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	*status = (int)st;
	*resp = b.p ? b.p : strdup("");
	return 0;
}
