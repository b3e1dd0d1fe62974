#include "api.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "civil.h"
#include "config.h"
#include "firmware.h"
#include "p1.h"
#include "sc_error.h"

void sc_http_response_free(struct sc_http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void sc_api_init(struct sc_api *a, const char *password, int64_t session_idle_ms)
{
	memset(a, 0, sizeof *a);
	size_t n = strlen(password);
	if (n > SC_API_PASSWORD_MAX)
		n = SC_API_PASSWORD_MAX;
	memcpy(a->password, password, n);
	a->session_idle_ms = session_idle_ms;
}

void sc_api_end_session(struct sc_api *a)
{
	a->session_active = false;
}

bool sc_api_secret_equal(const char *a, const char *b, size_t max)
{
	/* Every byte up to max is looked at whatever the contents; a
	 * difference in length counts like any other. */
	unsigned diff = 0;
	bool a_end = false, b_end = false;
	for (size_t i = 0; i < max; i++) {
		unsigned char x = a_end ? 0 : (unsigned char)a[i];
		unsigned char y = b_end ? 0 : (unsigned char)b[i];
		diff |= (unsigned)(x ^ y);
		a_end |= x == 0;
		b_end |= y == 0;
	}
	return diff == 0 && a_end == b_end;
}

/* ---- responses ---- */

static void set_body(struct sc_http_response *rs, int status, const char *type, const char *text,
		     size_t len)
{
	rs->status = status;
	rs->content_type = type;
	free(rs->body);
	rs->body = malloc(len + 1);
	if (!rs->body) {
		rs->len = 0;
		rs->status = 500;
		return;
	}
	memcpy(rs->body, text, len);
	rs->body[len] = '\0';
	rs->len = len;
}

static void set_json(struct sc_http_response *rs, int status, cJSON *doc)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	if (!text) {
		set_body(rs, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
		return;
	}
	rs->status = status;
	rs->content_type = "application/json";
	free(rs->body);
	rs->body = text;
	rs->len = strlen(text);
}

/* {"error": what, "field": field, "reason": reason} (field and reason when given). */
static void error(struct sc_http_response *rs, int status, const char *what, const char *field,
		  const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "error", what);
		if (field)
			cJSON_AddStringToObject(o, "field", field);
		if (reason)
			cJSON_AddStringToObject(o, "reason", reason);
	}
	set_json(rs, status, o);
}

static void config_doc(struct sc_http_response *rs, int status, const struct sc_config *c,
		       bool secrets)
{
	char buf[4096];
	int n = sc_config_write(c, secrets, buf, sizeof buf);
	if (n < 0)
		error(rs, 500, "cannot write the configuration", NULL, NULL);
	else
		set_body(rs, status, "application/json", buf, (size_t)n);
}

/* ---- where a request comes from ---- */

static bool same_text(const char *a, size_t n, const char *b)
{
	return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

/* Whether name (n bytes, no port) is a dotted quad that is a loopback
 * address or the address the connection came in on. */
static bool own_address(const char *name, size_t n, uint32_t local_ip)
{
	char text[16];
	uint32_t ip;
	if (n >= sizeof text)
		return false;
	memcpy(text, name, n);
	text[n] = '\0';
	if (!sc_ipv4_parse(text, &ip))
		return false;
	return (ip >> 24) == 127 || (local_ip && ip == local_ip);
}

bool sc_api_host_is_device(const struct sc_api *a, const char *host, uint32_t local_ip)
{
	if (!host || !*host)
		return false;
	/* NAME or NAME:PORT; the device has no IPv6, so no "[...]". */
	const char *colon = strchr(host, ':');
	size_t n = colon ? (size_t)(colon - host) : strlen(host);
	if (colon) {
		const char *q = colon + 1;
		if (!*q || strlen(q) > 5)
			return false;
		for (; *q; q++)
			if (*q < '0' || *q > '9')
				return false;
	}
	if (n > 0 && host[n - 1] == '.') /* the root's dot: "smart-connect.local." */
		n--;
	if (n == 0)
		return false;
	if (own_address(host, n, local_ip))
		return true;
	static const char *const fixed[] = {"localhost", "smart-connect", "smart-connect.local"};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (same_text(host, n, fixed[i]))
			return true;
	if (a->serial[0]) {
		char name[64];
		snprintf(name, sizeof name, "smart-connect-%s", a->serial);
		if (same_text(host, n, name))
			return true;
		snprintf(name, sizeof name, "smart-connect-%s.local", a->serial);
		if (same_text(host, n, name))
			return true;
	}
	if (a->hostname[0]) {
		char name[80];
		if (same_text(host, n, a->hostname))
			return true;
		snprintf(name, sizeof name, "%s.local", a->hostname);
		if (same_text(host, n, name))
			return true;
	}
	return false;
}

/* An Origin is the device's own when it is the scheme of this connection
 * and the host (and port) the request was sent to, that Host being the
 * device's; "null" (a sandboxed or local page) is nobody's. */
static bool own_origin(const struct sc_api *a, const struct sc_http_request *rq)
{
	const char *scheme = rq->tls ? "https://" : "http://";
	size_t sn = strlen(scheme);
	if (strncasecmp(rq->origin, scheme, sn) != 0 || !rq->host)
		return false;
	const char *h = rq->origin + sn;
	if (strcasecmp(h, rq->host) != 0) {
		/* The default port may be written in one and not the other. */
		const char *dflt = rq->tls ? ":443" : ":80";
		size_t hn = strlen(h), rn = strlen(rq->host), dn = strlen(dflt);
		bool same = (hn == rn + dn && strncasecmp(h, rq->host, rn) == 0 &&
			     strcmp(h + rn, dflt) == 0) ||
			    (rn == hn + dn && strncasecmp(h, rq->host, hn) == 0 &&
			     strcmp(rq->host + hn, dflt) == 0);
		if (!same)
			return false;
	}
	return sc_api_host_is_device(a, rq->host, rq->local_ip);
}

/* Whether a Content-Type header is the media type want (parameters allowed). */
static bool is_type(const char *ct, const char *want)
{
	size_t n = strlen(want);
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Neither can a page elsewhere send without the browser asking the device
 * first (a CORS preflight, which the device never grants). */
static bool is_json_type(const char *ct)
{
	return is_type(ct, "application/json");
}

static bool is_bytes_type(const char *ct)
{
	return is_type(ct, "application/octet-stream");
}

/* Whether a Host header's value is a dotted quad (a port allowed). */
static bool ipv4_host(const char *host)
{
	char text[16];
	size_t n = strcspn(host, ":");
	if (n >= sizeof text)
		return false;
	memcpy(text, host, n);
	text[n] = '\0';
	uint32_t ip;
	return sc_ipv4_parse(text, &ip);
}

bool sc_api_refuse_cross_site(const struct sc_api *a, const struct sc_http_request *rq,
			      struct sc_http_response *rs)
{
	/* A page whose name was rebound to the device's address sends its own
	 * name as Host. A request without Host (HTTP/1.0) comes from no browser.
	 * An address as Host is no rebinding (that takes a name): the device
	 * reached through a NAT or a container's published port is asked by
	 * an address that is not its own. */
	if (rq->host && !sc_api_host_is_device(a, rq->host, rq->local_ip) && !ipv4_host(rq->host)) {
		error(rs, 421, "misdirected request", "Host",
		      "not a name or address of this device");
		return true;
	}
	if (rq->origin && !own_origin(a, rq)) {
		error(rs, 403, "cross-site request refused", "Origin",
		      "not this device's own scheme, name and port");
		return true;
	}
	/* A form or a no-cors fetch can send any body, but as text/plain,
	 * form data or multipart: a state change takes JSON only. */
	bool reads = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0 ||
		     strcmp(rq->method, "OPTIONS") == 0;
	if (!reads && (rq->body_len > 0 || rq->body_too_large) && !is_json_type(rq->content_type) &&
	    !(is_bytes_type(rq->content_type) && strcmp(rq->path, "/sim/v1/telegram") == 0)) {
		error(rs, 415, "unsupported media type", "Content-Type",
		      "a request body must be application/json (meter bytes to /sim/v1/telegram: "
		      "application/octet-stream)");
		return true;
	}
	return false;
}

/* ---- authentication and the session ---- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* "Basic <base64 of user:password>" into out (NUL-terminated); false when
 * not that shape or longer than cap. */
static bool basic_credentials(const char *h, char *out, size_t cap)
{
	/* RFC 7235 §2.1: the auth-scheme is case-insensitive ("basic" too). */
	static const char scheme[] = "basic ";
	if (!h)
		return false;
	for (size_t i = 0; i < 6; i++) {
		char ch = h[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch != scheme[i])
			return false;
	}
	const char *p = h + 6;
	while (*p == ' ')
		p++;
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *p && *p != '='; p++) {
		int v = b64_value(*p);
		if (v < 0)
			return false;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= cap)
				return false;
			out[n++] = (char)(acc >> bits & 0xFF);
		}
	}
	while (*p == '=')
		p++;
	if (*p)
		return false;
	out[n] = '\0';
	return memchr(out, '\0', n) == NULL;
}

/* The failures of ip within the window; NULL when it has none (and add is
 * false, or the table is full). A full table evicts nobody: an address
 * forgotten would start again with SC_API_FAIL_LIMIT free guesses, so
 * enough addresses would guess without any delay. */
static struct sc_api_failures *failures_of(struct sc_api *a, uint32_t ip, int64_t now, bool add)
{
	struct sc_api_failures *free_slot = NULL;
	for (int i = 0; i < SC_API_FAIL_TABLE; i++) {
		struct sc_api_failures *f = &a->fail[i];
		if (f->count > 0 && now - f->first_ms > SC_API_FAIL_WINDOW_MS)
			f->count = 0; /* the window has passed */
		if (f->count > 0 && f->ip == ip)
			return f;
		if (f->count == 0 && !free_slot)
			free_slot = f;
	}
	if (!add || !free_slot)
		return NULL;
	*free_slot = (struct sc_api_failures){ip, 0, now};
	return free_slot;
}

static void ip_text(uint32_t ip, char *buf, size_t cap)
{
	sc_ipv4_format(ip, buf, cap);
}

/* 409 for a client other than the session's: who holds the session and
 * until when, if it sends nothing more (each of its requests extends it).
 * {"error", "reason", "client", "seconds_left", "until"}: until is the
 * device clock's UTC time, seconds_left rounded up. */
static void session_busy(const struct sc_api *a, int64_t now, struct sc_http_response *rs)
{
	char who[16], until[32], reason[240];
	ip_text(a->session_ip, who, sizeof who);
	int64_t end_ms = a->session_last_ms + a->session_idle_ms;
	long long left = (long long)((end_ms - now + 999) / 1000);
	if (left < 1)
		left = 1;
	int64_t end_s = end_ms / 1000 + (end_ms % 1000 > 0);
	struct sc_civil t;
	sc_epoch_to_civil(end_s, &t);
	snprintf(until, sizeof until, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.month, t.day,
		 t.hour, t.minute, t.second);
	snprintf(reason, sizeof reason,
		 "another client (%s) holds the session until %s (device clock), %lld s from now; "
		 "each of its requests extends it by %lld s",
		 who, until, left, (long long)(a->session_idle_ms / 1000));
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "error", "session in use");
		cJSON_AddStringToObject(o, "reason", reason);
		cJSON_AddStringToObject(o, "client", who);
		cJSON_AddNumberToObject(o, "seconds_left", (double)left);
		cJSON_AddStringToObject(o, "until", until);
	}
	set_json(rs, 409, o);
	rs->retry_after_s = (int)left;
}

/* True when the request may go on; otherwise rs holds the answer. */
static bool authorise(struct sc_api *a, const struct sc_http_request *rq, int64_t now,
		      struct sc_http_response *rs)
{
	char cred[2 * SC_API_PASSWORD_MAX + 8], want[2 * SC_API_PASSWORD_MAX + 8];
	snprintf(want, sizeof want, "%s:%s", SC_API_USER, a->password);
	bool ok = basic_credentials(rq->authorization, cred, sizeof cred) &&
		  sc_api_secret_equal(cred, want, sizeof want);
	if (!ok) {
		struct sc_api_failures *f = failures_of(a, rq->client_ip, now, rq->authorization != NULL);
		if (f) {
			f->count++;
			if (f->count > SC_API_FAIL_LIMIT)
				rs->delay_ms = SC_API_FAIL_DELAY_MS;
		} else if (rq->authorization) {
			/* The table is full (SC_API_FAIL_TABLE addresses failing within
			 * the window): every other address is answered late from its
			 * first failure, so the failures answered at once stay within
			 * SC_API_FAIL_TABLE * SC_API_FAIL_LIMIT a window, however many
			 * addresses guess. */
			rs->delay_ms = SC_API_FAIL_DELAY_MS;
		}
		rs->www_authenticate = true;
		error(rs, 401, rq->authorization ? "wrong user name or password" : "authentication required",
		      NULL, NULL);
		return false;
	}
	struct sc_api_failures *f = failures_of(a, rq->client_ip, now, false);
	if (f)
		f->count = 0;
	if (a->session_active && a->session_ip != rq->client_ip &&
	    now - a->session_last_ms < a->session_idle_ms) {
		session_busy(a, now, rs);
		return false;
	}
	a->session_active = true;
	a->session_ip = rq->client_ip;
	a->session_last_ms = now;
	return true;
}

/* ---- documents ---- */

static cJSON *firmware_json(const struct sc_fw *f, int64_t now)
{
	char v[16];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	sc_fw_format(&f->version, v, sizeof v);
	cJSON_AddStringToObject(o, "Version", v);
	cJSON_AddStringToObject(o, "State", sc_fw_state_name(f->state));
	if (f->state != SC_FW_IDLE) {
		sc_fw_format(&f->target, v, sizeof v);
		cJSON_AddStringToObject(o, "Target", v);
		cJSON_AddNumberToObject(o, "Progress", sc_fw_progress(f, now));
	} else {
		cJSON_AddNullToObject(o, "Target");
		cJSON_AddNumberToObject(o, "Progress", 0);
	}
	if (f->have_last) {
		cJSON *l = cJSON_AddObjectToObject(o, "LastUpdate");
		if (l) {
			sc_fw_format(&f->last_from, v, sizeof v);
			cJSON_AddStringToObject(l, "From", v);
			sc_fw_format(&f->last_to, v, sizeof v);
			cJSON_AddStringToObject(l, "To", v);
			cJSON_AddStringToObject(l, "Result", "success");
			cJSON_AddNumberToObject(l, "At", (double)(f->last_at_ms / 1000));
		}
	} else {
		cJSON_AddNullToObject(o, "LastUpdate");
	}
	cJSON_AddStringToObject(o, "EnergyUnit", sc_fw_energy_kwh(&f->version) ? "kWh" : "Wh");
	return o;
}

static const char *meter_state(const struct sc_device *d, int64_t now)
{
	/* Unsupported input (DSMR older than 4.2, TIC historic) since the
	 * last good telegram is what the meter is. */
	if (d->last_fail_ms && strcmp(d->last_fail_kind, "unsupported") == 0 &&
	    (!d->have_reading || d->last_fail_ms > d->reading_ms) &&
	    now - d->last_fail_ms < sc_device_no_data_ms(d))
		return "unsupported";
	return sc_meter_link_name(sc_device_link(d, now));
}

static void add_counters(cJSON *o, const struct sc_diag *d)
{
	const struct {
		const char *k;
		uint64_t v;
	} f[] = {
		{"uptime", d->uptime}, {"gw_ping_pass", d->gw_ping_pass},
		{"gw_ping_fail", d->gw_ping_fail}, {"internet_ping_pass", d->internet_ping_pass},
		{"internet_ping_fail", d->internet_ping_fail}, {"telegrams_pass", d->telegrams_pass},
		{"telegrams_fail", d->telegrams_fail}, {"telegrams_frame_fail", d->telegrams_frame_fail},
		{"mqtt_event_errors", d->mqtt_event_errors}, {"mqtt_event_connect", d->mqtt_event_connect},
		{"mqtt_send_pass", d->mqtt_send_pass}, {"mqtt_send_fail", d->mqtt_send_fail},
		{"heap_free", d->heap_free}, {"heap_min_free", d->heap_min_free},
		{"heap_largest_free", d->heap_largest_free},
		{"heap_failed_allocs", d->heap_failed_allocs},
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		cJSON_AddNumberToObject(o, f[i].k, (double)f[i].v);
}

/* The members of the manual's status document (§5.2's example), by dotted
 * path; a static address adds StaticIPv4 to its interface. Nothing else. */
static const char *const status_members[] = {
	"MeterType", "DefaultNetIf",
	"Ethernet", "Ethernet.IpMode", "Ethernet.StaticIPv4", "Ethernet.StaticIPv4.IpAddress",
	"Ethernet.StaticIPv4.Netmask", "Ethernet.StaticIPv4.Gateway", "Ethernet.StaticIPv4.DNS",
	"WiFi", "WiFi.IpMode", "WiFi.StaticIPv4", "WiFi.StaticIPv4.IpAddress",
	"WiFi.StaticIPv4.Netmask", "WiFi.StaticIPv4.Gateway", "WiFi.StaticIPv4.DNS",
	"MQTT", "MQTT.Broker", "MQTT.Site", "MQTT.Username", "MQTT.Password",
};

/* Drops every member of o (at path prefix) that status_members does not name. */
static void keep_status_members(cJSON *o, const char *prefix)
{
	cJSON *m = o->child;
	while (m) {
		cJSON *next = m->next;
		char path[96];
		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", m->string);
		bool known = false;
		for (size_t i = 0; i < sizeof status_members / sizeof status_members[0]; i++)
			known |= strcmp(path, status_members[i]) == 0;
		if (!known)
			cJSON_Delete(cJSON_DetachItemViaPointer(o, m));
		else if (cJSON_IsObject(m))
			keep_status_members(m, path);
		m = next;
	}
}

char *sc_api_status_json(const struct sc_api_ctx *c, bool secrets)
{
	/* The settings in force (the saved ones apply at the next restart),
	 * in the configuration document's form, cut to the manual's members. */
	char buf[4096];
	if (sc_config_write(&c->dongle->running, secrets, buf, sizeof buf) < 0)
		return NULL;
	cJSON *root = cJSON_Parse(buf);
	if (!root)
		return NULL;
	keep_status_members(root, "");
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

char *sc_api_state_json(const struct sc_api_ctx *c)
{
	const struct sc_dongle *u = c->dongle;
	const struct sc_device *d = c->dev;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	cJSON *st = root;
	cJSON *sys = cJSON_AddObjectToObject(st, "System");
	char text[64];
	cJSON_AddStringToObject(sys, "SerialNumber", u->serial);
	snprintf(text, sizeof text, "smart-connect-%s", u->serial);
	cJSON_AddStringToObject(sys, "Hostname", text);
	sc_fw_format(&u->fw.version, text, sizeof text);
	cJSON_AddStringToObject(sys, "Firmware", text);
	cJSON_AddStringToObject(sys, "State", sc_phase_name(u->phase));
	cJSON_AddNumberToObject(sys, "Uptime", (double)c->diag.uptime);
	cJSON_AddBoolToObject(sys, "RestartPending", sc_dongle_restart_pending(u));
	cJSON_AddBoolToObject(sys, "FactoryState", !u->configured);
	enum sc_meter_link link = sc_device_link(d, c->now_ms);
	struct sc_led led;
	sc_dongle_led(u, link, c->now_ms, &led);
	cJSON *l = cJSON_AddObjectToObject(sys, "Led");
	cJSON_AddStringToObject(l, "State", led.name);
	cJSON_AddStringToObject(l, "Colour", led.colour);
	cJSON_AddStringToObject(l, "Pattern", led.pattern);

	cJSON *m = cJSON_AddObjectToObject(st, "Meter");
	cJSON_AddStringToObject(m, "State", meter_state(d, c->now_ms));
	cJSON_AddStringToObject(m, "Protocol", d->stream->proto == SC_PROTO_TIC ? "TIC"
					       : d->stream->proto == SC_PROTO_P1 ? "P1" : "unknown");
	if (d->have_reading) {
		const struct sc_reading *r = &d->reading;
		cJSON_AddStringToObject(m, "Flavour", sc_flavour_name(r->flavour));
		if (r->version)
			cJSON_AddNumberToObject(m, "Version", r->version);
		else
			cJSON_AddNullToObject(m, "Version");
		cJSON_AddStringToObject(m, "Maker", r->maker);
		cJSON_AddStringToObject(m, "EquipmentId", r->meter_id);
		/* A P1 equipment id is ASCII in hex (DSMR 5.0.2 §6.4): shown as
		 * text too when it decodes to printable characters. */
		char id[sizeof r->meter_id];
		int n = r->flavour == SC_FLAVOUR_TIC
				? -1
				: sc_p1_hex_decode(r->meter_id, strlen(r->meter_id), id, sizeof id);
		bool printable = n > 0;
		for (int k = 0; printable && k < n; k++)
			printable = id[k] >= 0x20 && id[k] < 0x7F;
		if (printable)
			cJSON_AddStringToObject(m, "EquipmentIdText", id);
		cJSON_AddNumberToObject(m, "Phases", r->phases);
		cJSON_AddNumberToObject(m, "CadenceSeconds", (double)sc_device_cadence_ms(d) / 1000.0);
		cJSON_AddNumberToObject(m, "LastTelegramAge",
					(double)(c->now_ms - d->reading_ms) / 1000.0);
		cJSON_AddNumberToObject(m, "LastTelegramTs", (double)r->ts);
		if (r->q[SC_RQ_P].set)
			cJSON_AddNumberToObject(m, "ActivePower", r->q[SC_RQ_P].v);
		else
			cJSON_AddNullToObject(m, "ActivePower");
	} else {
		cJSON_AddNullToObject(m, "Flavour");
		cJSON_AddNullToObject(m, "LastTelegramAge");
		cJSON_AddNullToObject(m, "ActivePower");
	}
	if (d->last_fail_ms) {
		cJSON *f = cJSON_AddObjectToObject(m, "LastRejected");
		cJSON_AddStringToObject(f, "Kind", d->last_fail_kind);
		cJSON_AddStringToObject(f, "Detail", d->last_fail_detail);
		cJSON_AddNumberToObject(f, "Age", (double)(c->now_ms - d->last_fail_ms) / 1000.0);
	} else {
		cJSON_AddNullToObject(m, "LastRejected");
	}

	cJSON *n = cJSON_AddObjectToObject(st, "Network");
	cJSON_AddStringToObject(n, "ActiveInterface",
				u->ap_mode ? "AccessPoint" : sc_netif_name(u->running.netif));
	cJSON_AddBoolToObject(n, "Link", sc_dongle_link(u));
	cJSON_AddBoolToObject(n, "Network", sc_dongle_has_address(u));
	cJSON_AddBoolToObject(n, "Internet", sc_dongle_internet_ok(u));
	cJSON_AddStringToObject(n, "AddressFrom", u->ap_mode ? "access-point"
								 : sc_addr_state_name(u->addr_state));
	if (sc_dongle_has_address(u)) {
		sc_ipv4_format(u->addr, text, sizeof text);
		cJSON_AddStringToObject(n, "IpAddress", text);
		snprintf(text, sizeof text, "%d", u->prefix);
		cJSON_AddStringToObject(n, "Netmask", text);
		sc_ipv4_format(u->gateway, text, sizeof text);
		cJSON_AddStringToObject(n, "Gateway", u->gateway ? text : "");
	} else {
		cJSON_AddNullToObject(n, "IpAddress");
	}
	/* Each interface: its own MAC, and the address when it is the one in
	 * use (one interface is active at a time; AP mode runs on Wi-Fi). */
	for (int i = 0; i < 2; i++) {
		enum sc_netif ni = i ? SC_NETIF_WIFI : SC_NETIF_ETHERNET;
		cJSON *o = cJSON_AddObjectToObject(n, i ? "WiFi" : "Ethernet");
		uint8_t mac[6];
		sc_dongle_mac(u, ni, mac);
		sc_mac_format(mac, text, sizeof text);
		cJSON_AddStringToObject(o, "Mac", text);
		bool active = u->ap_mode ? ni == SC_NETIF_WIFI : u->running.netif == ni;
		cJSON_AddBoolToObject(o, "Active", active);
		if (active && sc_dongle_has_address(u)) {
			sc_ipv4_format(u->addr, text, sizeof text);
			cJSON_AddStringToObject(o, "IpAddress", text);
		} else {
			cJSON_AddNullToObject(o, "IpAddress");
		}
	}
	cJSON_AddBoolToObject(n, "ApMode", u->ap_mode);
	if (u->ap_mode) {
		snprintf(text, sizeof text, "SC-%s", u->serial);
		cJSON_AddStringToObject(n, "ApSsid", text);
	}

	cJSON *q = cJSON_AddObjectToObject(st, "MQTT");
	cJSON_AddStringToObject(q, "State", c->mqtt_state ? c->mqtt_state : "off");
	cJSON_AddStringToObject(q, "LastError", c->mqtt_error ? c->mqtt_error : "");
	cJSON *mb = cJSON_AddObjectToObject(st, "Modbus");
	cJSON_AddNumberToObject(mb, "Port", c->modbus_port);
	cJSON *k = cJSON_AddObjectToObject(st, "Counters");
	add_counters(k, &c->diag);
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* ---- handlers ---- */

static void patch_config(struct sc_api *a, struct sc_api_ctx *c, const struct sc_http_request *rq,
			 struct sc_http_response *rs)
{
	if (rq->body_too_large) {
		char why[64];
		snprintf(why, sizeof why, "the body is larger than %d bytes", SC_API_BODY_MAX);
		error(rs, 400, "request too large", "", why);
		return;
	}
	struct sc_config next = c->dongle->saved;
	struct sc_config_error e;
	if (sc_config_patch(&next, rq->body ? rq->body : "", rq->body_len, &e) != SC_OK) {
		error(rs, 400, "invalid configuration", e.field, e.reason);
		return;
	}
	char why[200] = "";
	if (c->save && c->save(c->save_arg, &next, why, sizeof why) != SC_OK) {
		/* Nothing changed: the saved file and the device keep the old one. */
		error(rs, 500, "the configuration could not be saved", NULL, why);
		return;
	}
	sc_dongle_saved(c->dongle, &next);
	config_doc(rs, 200, &c->dongle->saved, a->echo_secrets);
}

static void post_firmware(struct sc_api_ctx *c, const struct sc_http_request *rq,
			  struct sc_http_response *rs)
{
	if (rq->body_too_large) {
		error(rs, 400, "request too large", "", "the body is too large");
		return;
	}
	cJSON *doc = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->body_len);
	if (!doc || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		error(rs, 400, "invalid request", "", "a JSON object {\"Version\": \"5.3.0\"} is expected");
		return;
	}
	for (const cJSON *m = doc->child; m; m = m->next) {
		if (strcmp(m->string, "Version") != 0) {
			error(rs, 400, "invalid request", m->string, "unknown field");
			cJSON_Delete(doc);
			return;
		}
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "Version");
	struct sc_fw_version target;
	if (!cJSON_IsString(v) || sc_fw_parse(v->valuestring, &target) != SC_OK) {
		error(rs, 400, "invalid request", "Version", "a version like \"5.3.0\" is expected");
		cJSON_Delete(doc);
		return;
	}
	cJSON_Delete(doc);
	char why[128];
	if (sc_fw_start(&c->dongle->fw, &target, c->now_ms, why, sizeof why) != SC_OK) {
		error(rs, 409, "update refused", "Version", why);
		return;
	}
	c->firmware_started = true;
	set_json(rs, 202, firmware_json(&c->dongle->fw, c->now_ms));
}

static bool method_is(const struct sc_http_request *rq, const char *m)
{
	return strcmp(rq->method, m) == 0;
}

static void not_allowed(struct sc_http_response *rs, const char *allow)
{
	snprintf(rs->allow, sizeof rs->allow, "%s", allow);
	error(rs, 405, "method not allowed", NULL, allow);
}

/* Where the configuration page is: / and /config, the path the manual's
 * troubleshooting section (§7) sends the user to. Over plain HTTP both give
 * the landing page; over HTTPS both (and /index.html) give the page. */
static bool is_page_path(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, "/config") == 0;
}

static void landing_page(const struct sc_api *a, const struct sc_http_request *rq,
			 struct sc_http_response *rs)
{
	/* The name the client used when it is one of the device's names or
	 * addresses, else the address the connection came in on: a link and a
	 * Location lead to this device only, never to a name a client made up. */
	char host[256] = "smart-connect.local";
	if (sc_api_host_is_device(a, rq->host, rq->local_ip) && strlen(rq->host) < sizeof host) {
		memcpy(host, rq->host, strlen(rq->host) + 1);
		char *colon = strchr(host, ':'); /* the port dropped */
		if (colon)
			*colon = '\0';
	} else if (rq->local_ip) {
		sc_ipv4_format(rq->local_ip, host, sizeof host);
	}
	/* The path goes into a Location header: printable ASCII only. */
	const char *path = rq->path;
	for (const char *q = path; *q; q++)
		if (*q <= 0x20 || *q >= 0x7F || *q == '"' || *q == '<' || *q == '>')
			path = "/";
	const char *base = rq->base ? rq->base : "";
	char url[300];
	/* The link leads to the page the client asked for (/ or /config). */
	snprintf(url, sizeof url, "https://%s:%d%s%s", host, a->https_port, base,
		 is_page_path(rq->path) ? rq->path : "/");
	if (!is_page_path(rq->path)) {
		snprintf(rs->location, sizeof rs->location, "https://%s:%d%s%s", host, a->https_port,
			 base, path);
		error(rs, 308, "the configuration environment is served over HTTPS", NULL,
		      rs->location);
		return;
	}
	char page[1024];
	int n = snprintf(page, sizeof page,
			 "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
			 "<title>SmartConnect</title><link rel=\"icon\" href=\"data:,\"></head>"
			 "<body style=\"font-family:sans-serif\">"
			 "<h1>SmartConnect</h1><p>The configuration is served in a secure "
			 "environment:</p><p><a id=\"secure\" href=\"%s\">%s</a></p></body></html>",
			 url, url);
	set_body(rs, 200, "text/html; charset=utf-8", page, (size_t)n);
}

void sc_api_handle(struct sc_api *a, struct sc_api_ctx *c, const struct sc_http_request *rq,
		   struct sc_http_response *rs)
{
	memset(rs, 0, sizeof *rs);
	if (!rq->tls && !a->plain_http_api) {
		landing_page(a, rq, rs);
		return;
	}
	if (sc_api_refuse_cross_site(a, rq, rs))
		return;
	bool api = strncmp(rq->path, "/api/", 5) == 0;
	bool page = is_page_path(rq->path) || strcmp(rq->path, "/index.html") == 0;
	if (!api && !page) {
		error(rs, 404, "not found", NULL, rq->path);
		return;
	}
	if (!authorise(a, rq, c->now_ms, rs))
		return;
	if (page) {
		if (!method_is(rq, "GET") && !method_is(rq, "HEAD")) {
			not_allowed(rs, "GET");
			return;
		}
		if (a->page)
			set_body(rs, 200, "text/html; charset=utf-8", (const char *)a->page,
				 a->page_len);
		else
			set_body(rs, 200, "text/html; charset=utf-8",
				 (const char *)sc_web_index_html, sc_web_index_html_len);
		return;
	}
	if (!sc_dongle_services_on(c->dongle)) {
		rs->retry_after_s = 5;
		error(rs, 503, "the device is restarting", NULL, sc_phase_name(c->dongle->phase));
		return;
	}
	const char *p = rq->path + 5;
	if (strcmp(p, "v1/config") == 0) {
		if (method_is(rq, "GET"))
			config_doc(rs, 200, &c->dongle->saved, a->echo_secrets);
		else if (method_is(rq, "PATCH"))
			patch_config(a, c, rq, rs);
		else
			not_allowed(rs, "GET, PATCH");
	} else if (strcmp(p, "v1/status") == 0) {
		if (!method_is(rq, "GET")) {
			not_allowed(rs, "GET");
			return;
		}
		char *doc = sc_api_status_json(c, a->echo_secrets);
		if (!doc) {
			error(rs, 500, "out of memory", NULL, NULL);
			return;
		}
		rs->status = 200;
		rs->content_type = "application/json";
		rs->body = doc;
		rs->len = strlen(doc);
	} else if (strcmp(p, "v1/firmware") == 0) {
		if (method_is(rq, "GET"))
			set_json(rs, 200, firmware_json(&c->dongle->fw, c->now_ms));
		else if (method_is(rq, "POST"))
			post_firmware(c, rq, rs);
		else
			not_allowed(rs, "GET, POST");
	} else if (strcmp(p, "v1/reset") == 0) {
		if (!method_is(rq, "POST")) {
			not_allowed(rs, "POST");
			return;
		}
		c->want_soft_reset = true;
		set_body(rs, 202, "application/json", "{\"Result\":\"resetting\"}", 22);
	} else if (strcmp(p, "v1/telegram") == 0) {
		if (!method_is(rq, "GET")) {
			not_allowed(rs, "GET");
			return;
		}
		if (c->dev->last_raw_len == 0) {
			error(rs, 404, "no telegram received yet", NULL, NULL);
			return;
		}
		/* As received. A P1 telegram ends "!CRC CR LF" (DSMR 5.0.2 §6.2); the
		 * parser keeps '/'..CRC, the line end is put back. */
		const char *raw = c->dev->last_raw;
		size_t n = c->dev->last_raw_len;
		/* Only a telegram that reached its "!" trailer had a line end
		 * after it; one cut short (the input ended) is served as it came. */
		bool p1 = raw[0] == '/' && ((n >= 5 && raw[n - 5] == '!') || raw[n - 1] == '!');
		set_body(rs, 200, "application/octet-stream", raw, n);
		if (p1 && rs->body) {
			char *b = realloc(rs->body, n + 3);
			if (b) {
				memcpy(b + n, "\r\n", 3);
				rs->body = b;
				rs->len = n + 2;
			}
		}
	} else {
		error(rs, 404, "not found", NULL, rq->path);
	}
}
