#include "config.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "regmap.h"
#include "sc_error.h"

const char *sc_netif_name(enum sc_netif n)
{
	return n == SC_NETIF_WIFI ? "WiFi" : "Ethernet";
}

const char *sc_config_meter_type(const struct sc_config *c)
{
	size_t n;
	const char *const *names = sc_regmap_templates(&n);
	return names[c->meter_type < n ? c->meter_type : 0];
}

/* MeterType: one of the templates known, by its exact name. */
static bool find_template(const char *name, unsigned *index)
{
	size_t n;
	const char *const *names = sc_regmap_templates(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0) {
			*index = (unsigned)i;
			return true;
		}
	return false;
}

/* "\"A\", \"B\"": the templates known, for a refusal. */
static void template_list(char *buf, size_t cap)
{
	size_t n, used = 0;
	const char *const *names = sc_regmap_templates(&n);
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++) {
		int w = snprintf(buf + used, cap - used, "%s\"%s\"", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

const char *sc_ipmode_name(enum sc_ipmode m)
{
	return m == SC_IPMODE_STATIC ? "Static" : "DHCP";
}

void sc_config_defaults(struct sc_config *c)
{
	memset(c, 0, sizeof *c);
	c->netif = SC_NETIF_ETHERNET;
	c->eth.mode = SC_IPMODE_DHCP;
	c->wifi.mode = SC_IPMODE_DHCP;
	c->eth.st.prefix = -1;
	c->wifi.st.prefix = -1;
	c->mqtt_enabled = true;
	sc_str_copy(c->broker, sizeof c->broker, SC_CONFIG_DEFAULT_BROKER);
}

/* ---- addresses ---- */

bool sc_ipv4_parse(const char *s, uint32_t *out)
{
	uint32_t a = 0;
	for (int part = 0; part < 4; part++) {
		size_t n = 0;
		while (s[n] >= '0' && s[n] <= '9')
			n++;
		/* 1-3 digits, no leading zero (010 would read as octal elsewhere). */
		if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
			return false;
		uint64_t v;
		if (sc_parse_uint(s, n, 255, &v) != SC_OK)
			return false;
		a = a << 8 | (uint32_t)v;
		s += n;
		if (part < 3) {
			if (*s != '.')
				return false;
			s++;
		}
	}
	if (*s)
		return false;
	*out = a;
	return true;
}

void sc_ipv4_format(uint32_t a, char *buf, size_t cap)
{
	snprintf(buf, cap, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
}

static uint32_t mask_of(int prefix)
{
	return prefix <= 0 ? 0 : prefix >= 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> prefix);
}

/* "24", or a contiguous dotted mask "255.255.255.0". */
static bool parse_netmask(const char *s, int *prefix)
{
	uint64_t v;
	size_t n = strlen(s);
	if (n >= 1 && n <= 2 && sc_parse_uint(s, n, 32, &v) == SC_OK && (n == 1 || s[0] != '0')) {
		*prefix = (int)v;
		return true;
	}
	uint32_t m;
	if (!sc_ipv4_parse(s, &m))
		return false;
	int p = 0;
	while (p < 32 && (m & (0x80000000u >> p)))
		p++;
	if (m != mask_of(p))
		return false;
	*prefix = p;
	return true;
}

/* ---- broker URL and topic pieces ---- */

static bool valid_hostname(const char *h, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && label > 0) && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && h[n - 1] != '-';
}

int sc_broker_parse(const char *url, struct sc_broker *b, char *reason, size_t cap)
{
	static const struct {
		const char *scheme;
		int tls; /* 1 TLS, 0 plain, -1 by port */
	} schemes[] = {{"mqtts://", 1}, {"ssl://", 1}, {"tcp://", 0}, {"mqtt://", -1}};
	char dummy[8];
	if (!reason) {
		reason = dummy;
		cap = sizeof dummy;
	}
	const char *p = url;
	int tls = -1;
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t n = strlen(schemes[i].scheme);
		if (strncmp(p, schemes[i].scheme, n) == 0) {
			p += n;
			tls = schemes[i].tls;
			break;
		}
	}
	if (strstr(p, "://")) {
		snprintf(reason, cap, "unknown scheme (mqtt://, mqtts://, tcp:// or ssl://)");
		return SC_ERR_INVAL;
	}
	if (*p == '[') {
		snprintf(reason, cap, "IPv6 addresses are not supported (the device is IPv4 only)");
		return SC_ERR_INVAL;
	}
	const char *end = p + strlen(p);
	if (end > p && end[-1] == '/')
		end--; /* "mqtt://host:1883/" */
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *hend = colon ? colon : end;
	if (memchr(p, '/', (size_t)(end - p)) || memchr(p, '?', (size_t)(end - p)) ||
	    memchr(p, '@', (size_t)(end - p))) {
		snprintf(reason, cap, "a broker URL has no path, query or user part");
		return SC_ERR_INVAL;
	}
	size_t hlen = (size_t)(hend - p);
	if (!valid_hostname(p, hlen) || hlen >= sizeof b->host) {
		snprintf(reason, cap, "'%.*s' is not a host name or IPv4 address", (int)(hlen > 64 ? 64 : hlen), p);
		return SC_ERR_INVAL;
	}
	int port = 0;
	if (colon) {
		uint64_t v;
		size_t plen = (size_t)(end - colon - 1);
		if (plen == 0 || plen > 5 || sc_parse_uint(colon + 1, plen, 65535, &v) != SC_OK || v == 0) {
			snprintf(reason, cap, "the port must be 1-65535");
			return SC_ERR_INVAL;
		}
		port = (int)v;
	}
	if (tls < 0)
		tls = port == 8883;
	b->tls = tls == 1;
	b->port = port ? port : b->tls ? 8883 : 1883;
	memcpy(b->host, p, hlen);
	b->host[hlen] = '\0';
	return SC_OK;
}

bool sc_config_valid_broker(const char *url, char *reason, size_t cap)
{
	struct sc_broker b;
	if (strlen(url) > SC_CONFIG_URL_MAX) {
		if (reason)
			snprintf(reason, cap, "longer than %d characters", SC_CONFIG_URL_MAX);
		return false;
	}
	return sc_broker_parse(url, &b, reason, cap) == SC_OK;
}

/* The next code point of well-formed UTF-8 at *s (advanced past it), or -1
 * for a malformed sequence. */
static long utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	unsigned c = *p++;
	int more;
	unsigned min;
	if (c < 0x80)
		more = 0, min = 0;
	else if (c >= 0xC2 && c <= 0xDF)
		more = 1, min = 0x80, c &= 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		more = 2, min = 0x800, c &= 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		more = 3, min = 0x10000, c &= 0x07;
	else
		return -1;
	for (; more > 0; more--, p++) {
		if ((*p & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (*p & 0x3Fu);
	}
	/* No overlong form, no surrogate, nothing past U+10FFFF. */
	if (c < min || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return -1;
	*s = p;
	return (long)c;
}

/* An MQTT UTF-8 string (MQTT 3.1.1 §1.5.3, 5.0 §1.5.4): brokers drop the
 * connection of a client sending U+0000, the control characters U+0001-001F
 * and U+007F-009F, or a non-character (U+FDD0-FDEF, U+xFFFE and U+xFFFF);
 * a topic level (§4.7) also has no '/', '+' or '#'. what names the field's
 * kind in the reason ("an MQTT topic", "an MQTT user name"). */
static bool mqtt_text_ok(const char *text, bool level, const char *what, char *reason,
			 size_t cap)
{
	const unsigned char *s = (const unsigned char *)text;
	while (*s) {
		long c = utf8_next(&s);
		const char *why = NULL;
		if (c < 0)
			why = "not valid UTF-8";
		else if (level && (c == '/' || c == '+' || c == '#')) {
			if (reason)
				snprintf(reason, cap, "'%c' is not allowed in %s: a site is one "
						      "topic level", (char)c, what);
			return false;
		} else if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
			why = "no control characters";
		else if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE)
			why = "no non-characters";
		if (why) {
			if (reason && c < 0)
				snprintf(reason, cap, "%s", why);
			else if (reason)
				snprintf(reason, cap, "U+%04lX is not allowed in %s: %s", c, what, why);
			return false;
		}
	}
	return true;
}

bool sc_config_valid_site(const char *site, char *reason, size_t cap)
{
	size_t n = strlen(site);
	if (n > SC_CONFIG_SITE_MAX) {
		if (reason)
			snprintf(reason, cap, "longer than %d characters", SC_CONFIG_SITE_MAX);
		return false;
	}
	return mqtt_text_ok(site, true, "an MQTT topic", reason, cap);
}

bool sc_config_valid_mqtt_user(const char *user, char *reason, size_t cap)
{
	if (strlen(user) > SC_CONFIG_CRED_MAX) {
		if (reason)
			snprintf(reason, cap, "longer than %d bytes", SC_CONFIG_CRED_MAX);
		return false;
	}
	return mqtt_text_ok(user, false, "an MQTT user name", reason, cap);
}

bool sc_utf8_valid(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	while (*s)
		if (utf8_next(&s) < 0)
			return false;
	return true;
}

/* ---- PATCH ---- */

struct ctx {
	struct sc_config *c;
	struct sc_config_error *e;
	bool mask_keeps; /* the mask as a password means "unchanged" */
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int fail(struct ctx *x, const char *path, const char *key, const char *fmt, ...)
{
	if (key && *path)
		snprintf(x->e->field, sizeof x->e->field, "%s.%s", path, key);
	else
		snprintf(x->e->field, sizeof x->e->field, "%s", key ? key : path);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->e->reason, sizeof x->e->reason, fmt, ap);
	va_end(ap);
	return SC_ERR_INVAL;
}

/* Every member of an object: known keys only, each once. */
static int check_members(struct ctx *x, const cJSON *o, const char *path,
			 const char *const *keys, size_t nkeys)
{
	if (!cJSON_IsObject(o))
		return fail(x, path, NULL, "%s", "must be an object");
	for (const cJSON *m = o->child; m; m = m->next) {
		bool known = false;
		for (size_t i = 0; i < nkeys; i++)
			known |= strcmp(m->string, keys[i]) == 0;
		if (!known)
			return fail(x, path, m->string, "%s", "unknown field");
		for (const cJSON *n = m->next; n; n = n->next)
			if (strcmp(n->string, m->string) == 0)
				return fail(x, path, m->string, "%s", "given twice");
	}
	return SC_OK;
}

static const char *string_of(struct ctx *x, const cJSON *o, const char *path, const char *key,
			     int *rc)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	*rc = SC_OK;
	if (!v)
		return NULL;
	if (!cJSON_IsString(v)) {
		*rc = fail(x, path, key, "%s", "must be a string");
		return NULL;
	}
	for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++)
		if (*s < 0x20 || *s == 0x7F) {
			*rc = fail(x, path, key, "%s", "contains control characters");
			return NULL;
		}
	if (!sc_utf8_valid(v->valuestring)) {
		*rc = fail(x, path, key, "%s", "is not valid UTF-8");
		return NULL;
	}
	return v->valuestring;
}

static int set_text(struct ctx *x, const cJSON *o, const char *path, const char *key,
		    char *dst, size_t cap)
{
	int rc;
	const char *s = string_of(x, o, path, key, &rc);
	if (rc || !s)
		return rc;
	if (strlen(s) >= cap) {
		char lim[16];
		snprintf(lim, sizeof lim, "%zu", cap - 1);
		return fail(x, path, key, "longer than %s bytes", lim);
	}
	sc_str_copy(dst, cap, s);
	return SC_OK;
}

static int set_addr(struct ctx *x, const cJSON *o, const char *path, const char *key,
		    uint32_t *dst, bool clearable)
{
	int rc;
	const char *s = string_of(x, o, path, key, &rc);
	if (rc || !s)
		return rc;
	if (!*s && clearable) {
		*dst = 0;
		return SC_OK;
	}
	if (!sc_ipv4_parse(s, dst))
		return fail(x, path, key, "'%s' is not an IPv4 address (a.b.c.d)", s);
	return SC_OK;
}

static int apply_static(struct ctx *x, const cJSON *o, const char *path, struct sc_ipv4_static *st)
{
	static const char *const keys[] = {"IpAddress", "Netmask", "Gateway", "DNS"};
	int rc = check_members(x, o, path, keys, 4);
	if (rc)
		return rc;
	if ((rc = set_addr(x, o, path, "IpAddress", &st->addr, false)) ||
	    (rc = set_addr(x, o, path, "Gateway", &st->gateway, true)) ||
	    (rc = set_addr(x, o, path, "DNS", &st->dns, true)))
		return rc;
	const char *m = string_of(x, o, path, "Netmask", &rc);
	if (rc)
		return rc;
	if (m && !parse_netmask(m, &st->prefix))
		return fail(x, path, "Netmask", "'%s' is not a prefix length 0-32 or a netmask", m);
	return SC_OK;
}

static int apply_enum(struct ctx *x, const cJSON *o, const char *path, const char *key,
		      const char *a, const char *b, int *dst)
{
	int rc;
	const char *s = string_of(x, o, path, key, &rc);
	if (rc || !s)
		return rc;
	if (strcmp(s, a) == 0)
		*dst = 0;
	else if (strcmp(s, b) == 0)
		*dst = 1;
	else {
		char want[64];
		snprintf(want, sizeof want, "must be \"%s\" or \"%s\"", a, b);
		return fail(x, path, key, "%s", want);
	}
	return SC_OK;
}

static int apply_if(struct ctx *x, const cJSON *o, const char *path, struct sc_config_if *i,
		    bool wifi)
{
	static const char *const eth_keys[] = {"IpMode", "StaticIPv4"};
	static const char *const wifi_keys[] = {"IpMode", "StaticIPv4", "ConnectionData"};
	int rc = check_members(x, o, path, wifi ? wifi_keys : eth_keys, wifi ? 3 : 2);
	if (rc)
		return rc;
	int mode = (int)i->mode;
	if ((rc = apply_enum(x, o, path, "IpMode", "DHCP", "Static", &mode)))
		return rc;
	i->mode = (enum sc_ipmode)mode;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "StaticIPv4");
	char sub[48];
	snprintf(sub, sizeof sub, "%s.StaticIPv4", path);
	if (st && (rc = apply_static(x, st, sub, &i->st)))
		return rc;
	const cJSON *cd = wifi ? cJSON_GetObjectItemCaseSensitive(o, "ConnectionData") : NULL;
	if (cd) {
		static const char *const cd_keys[] = {"WiFiSSID", "WiFiPassword"};
		snprintf(sub, sizeof sub, "%s.ConnectionData", path);
		if ((rc = check_members(x, cd, sub, cd_keys, 2)))
			return rc;
		const char *ssid = string_of(x, cd, sub, "WiFiSSID", &rc);
		if (rc)
			return rc;
		if (ssid) {
			size_t n = strlen(ssid);
			if (n < 1 || n > SC_CONFIG_SSID_MAX)
				return fail(x, sub, "WiFiSSID", "%s", "an SSID is 1-32 bytes");
			sc_str_copy(x->c->ssid, sizeof x->c->ssid, ssid);
		}
		const char *psk = string_of(x, cd, sub, "WiFiPassword", &rc);
		if (rc)
			return rc;
		if (psk && !(x->mask_keeps && strcmp(psk, SC_CONFIG_MASK) == 0)) {
			size_t n = strlen(psk);
			bool hex = n == 64;
			for (size_t k = 0; hex && k < n; k++)
				hex = (psk[k] >= '0' && psk[k] <= '9') || (psk[k] >= 'a' && psk[k] <= 'f') ||
				      (psk[k] >= 'A' && psk[k] <= 'F');
			/* WPA2-PSK (IEEE 802.11i): a passphrase of 8-63 printable
			 * ASCII characters, or the key as 64 hex digits. */
			bool printable = n >= 8 && n <= 63;
			for (size_t k = 0; printable && k < n; k++)
				printable = psk[k] >= 0x20 && psk[k] <= 0x7E;
			if (!printable && !hex)
				return fail(x, sub, "WiFiPassword", "%s", SC_CONFIG_WPA2_RULE);
			sc_str_copy(x->c->psk, sizeof x->c->psk, psk);
		}
	}
	return SC_OK;
}

static int apply_mqtt(struct ctx *x, const cJSON *o)
{
	static const char *const keys[] = {"Enabled", "Broker", "Site", "Username", "Password"};
	int rc = check_members(x, o, "MQTT", keys, 5);
	if (rc)
		return rc;
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(o, "Enabled");
	if (en) {
		if (!cJSON_IsBool(en))
			return fail(x, "MQTT", "Enabled", "%s", "must be true or false");
		x->c->mqtt_enabled = cJSON_IsTrue(en);
	}
	char reason[128];
	const char *broker = string_of(x, o, "MQTT", "Broker", &rc);
	if (rc)
		return rc;
	if (broker) {
		if (!sc_config_valid_broker(broker, reason, sizeof reason))
			return fail(x, "MQTT", "Broker", "%s", reason);
		sc_str_copy(x->c->broker, sizeof x->c->broker, broker);
	}
	const char *site = string_of(x, o, "MQTT", "Site", &rc);
	if (rc)
		return rc;
	if (site) {
		if (!sc_config_valid_site(site, reason, sizeof reason))
			return fail(x, "MQTT", "Site", "%s", reason);
		sc_str_copy(x->c->site, sizeof x->c->site, site);
	}
	const char *user = string_of(x, o, "MQTT", "Username", &rc);
	if (rc)
		return rc;
	if (user) {
		if (!sc_config_valid_mqtt_user(user, reason, sizeof reason))
			return fail(x, "MQTT", "Username", "%s", reason);
		sc_str_copy(x->c->username, sizeof x->c->username, user);
	}
	const char *pw = string_of(x, o, "MQTT", "Password", &rc);
	if (rc)
		return rc;
	if (pw && !(x->mask_keeps && strcmp(pw, SC_CONFIG_MASK) == 0))
		return set_text(x, o, "MQTT", "Password", x->c->password, sizeof x->c->password);
	return SC_OK;
}

static bool bad_host_address(uint32_t a)
{
	return a == 0 || a == 0xFFFFFFFFu || (a >> 24) == 127 || (a >> 28) == 14;
}

/* Rules on the whole document, after the fields were merged. */
static int validate(struct ctx *x)
{
	const struct sc_config *c = x->c;
	const struct {
		const char *path;
		const struct sc_config_if *i;
	} ifs[] = {{"Ethernet.StaticIPv4", &c->eth}, {"WiFi.StaticIPv4", &c->wifi}};
	for (size_t k = 0; k < 2; k++) {
		const struct sc_config_if *i = ifs[k].i;
		const char *path = ifs[k].path;
		if (i->mode != SC_IPMODE_STATIC)
			continue;
		if (i->st.addr == 0)
			return fail(x, path, "IpAddress", "%s", "needed in Static mode");
		if (i->st.prefix < 0)
			return fail(x, path, "Netmask", "%s", "needed in Static mode");
		char a[16];
		sc_ipv4_format(i->st.addr, a, sizeof a);
		uint32_t m = mask_of(i->st.prefix);
		if (bad_host_address(i->st.addr))
			return fail(x, path, "IpAddress", "%s is not a usable host address", a);
		if (i->st.prefix <= 30 && ((i->st.addr & ~m) == 0 || (i->st.addr & ~m) == ~m))
			return fail(x, path, "IpAddress", "%s is the network or broadcast address of "
							  "its subnet", a);
		if (i->st.gateway) {
			char g[16];
			sc_ipv4_format(i->st.gateway, g, sizeof g);
			if ((i->st.gateway & m) != (i->st.addr & m) || i->st.gateway == i->st.addr ||
			    bad_host_address(i->st.gateway))
				return fail(x, path, "Gateway", "%s is not another host in the "
								"address's subnet", g);
		}
		if (i->st.dns && bad_host_address(i->st.dns))
			return fail(x, path, "DNS", "%s", "not a usable address");
	}
	if (c->netif == SC_NETIF_WIFI && !c->ssid[0])
		return fail(x, "WiFi.ConnectionData", "WiFiSSID", "%s",
			    "needed when DefaultNetIf is WiFi");
	/* The device joins WPA2-PSK networks only (manual §5.1: "alleen
	 * WPA2-PSK"): an SSID without a passphrase would be an open network. */
	if (c->ssid[0] && !c->psk[0])
		return fail(x, "WiFi.ConnectionData", "WiFiPassword", "%s", SC_CONFIG_WPA2_RULE);
	return SC_OK;
}

static int apply(struct sc_config *c, const char *json, size_t len, struct sc_config_error *e,
		 bool mask_keeps)
{
	static const char *const keys[] = {"MeterType", "DefaultNetIf", "Ethernet", "WiFi", "MQTT"};
	struct sc_config next = *c;
	struct ctx x = {&next, e, mask_keeps};
	memset(e, 0, sizeof *e);

	/* Depth first, before cJSON recurses into it; and no \u0000 in a
	 * string (cJSON would end the string there: "a\u0000b" read as "a"). */
	int depth = 0, max = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char ch = json[i];
		if (in_str) {
			if (ch == '\\') {
				if (i + 5 < len && memcmp(json + i + 1, "u0000", 5) == 0)
					return fail(&x, "", NULL, "%s",
						    "a NUL character (\\u0000) in a string");
				i++;
			} else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				max = depth;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	if (max > SC_CONFIG_MAX_DEPTH)
		return fail(&x, "", NULL, "%s", "nested too deep");
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root) {
		char at[32];
		snprintf(at, sizeof at, "%zu", end && end >= json ? (size_t)(end - json) : (size_t)0);
		return fail(&x, "", NULL, "not valid JSON (at byte %s)", at);
	}
	/* Nothing but white space after the document. */
	for (const char *p = end; p < json + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			cJSON_Delete(root);
			return fail(&x, "", NULL, "%s", "text after the JSON document");
		}
	int rc = check_members(&x, root, "", keys, 5);
	const char *mt = rc ? NULL : string_of(&x, root, "", "MeterType", &rc);
	if (!rc && mt && !find_template(mt, &next.meter_type)) {
		char known[96];
		template_list(known, sizeof known);
		rc = fail(&x, "", "MeterType", "not a Modbus map template the device knows; "
					       "the templates known: %s", known);
	}
	int netif = (int)next.netif;
	if (!rc)
		rc = apply_enum(&x, root, "", "DefaultNetIf", "Ethernet", "WiFi", &netif);
	next.netif = (enum sc_netif)netif;
	const cJSON *o;
	if (!rc && (o = cJSON_GetObjectItemCaseSensitive(root, "Ethernet")))
		rc = apply_if(&x, o, "Ethernet", &next.eth, false);
	if (!rc && (o = cJSON_GetObjectItemCaseSensitive(root, "WiFi")))
		rc = apply_if(&x, o, "WiFi", &next.wifi, true);
	if (!rc && (o = cJSON_GetObjectItemCaseSensitive(root, "MQTT")))
		rc = apply_mqtt(&x, o);
	cJSON_Delete(root);
	if (!rc)
		rc = validate(&x);
	if (!rc)
		*c = next;
	return rc;
}

int sc_config_patch(struct sc_config *c, const char *json, size_t len, struct sc_config_error *e)
{
	return apply(c, json, len, e, true);
}

int sc_config_load(struct sc_config *c, const char *json, size_t len, struct sc_config_error *e)
{
	sc_config_defaults(c);
	return apply(c, json, len, e, false);
}

/* ---- GET ---- */

static bool add_str(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool add_if(cJSON *root, const char *name, const struct sc_config_if *i,
		   const struct sc_config *c, bool wifi, bool secrets)
{
	cJSON *o = cJSON_AddObjectToObject(root, name);
	bool ok = o && add_str(o, "IpMode", sc_ipmode_name(i->mode));
	if (ok && i->mode == SC_IPMODE_STATIC) {
		cJSON *st = cJSON_AddObjectToObject(o, "StaticIPv4");
		char a[16], m[4];
		ok = st != NULL;
		sc_ipv4_format(i->st.addr, a, sizeof a);
		snprintf(m, sizeof m, "%d", i->st.prefix);
		ok = ok && add_str(st, "IpAddress", a) && add_str(st, "Netmask", m);
		if (i->st.gateway)
			sc_ipv4_format(i->st.gateway, a, sizeof a);
		ok = ok && add_str(st, "Gateway", i->st.gateway ? a : "");
		if (i->st.dns)
			sc_ipv4_format(i->st.dns, a, sizeof a);
		ok = ok && add_str(st, "DNS", i->st.dns ? a : "");
	}
	if (ok && wifi && c->ssid[0]) {
		cJSON *cd = cJSON_AddObjectToObject(o, "ConnectionData");
		ok = cd && add_str(cd, "WiFiSSID", c->ssid) &&
		     add_str(cd, "WiFiPassword", secrets || !c->psk[0] ? c->psk : SC_CONFIG_MASK);
	}
	return ok;
}

int sc_config_write(const struct sc_config *c, bool with_secrets, char *buf, size_t cap)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return SC_ERR_NOMEM;
	bool ok = add_str(root, "MeterType", sc_config_meter_type(c)) &&
		  add_str(root, "DefaultNetIf", sc_netif_name(c->netif)) &&
		  add_if(root, "Ethernet", &c->eth, c, false, with_secrets) &&
		  add_if(root, "WiFi", &c->wifi, c, true, with_secrets);
	cJSON *m = ok ? cJSON_AddObjectToObject(root, "MQTT") : NULL;
	ok = m && cJSON_AddBoolToObject(m, "Enabled", c->mqtt_enabled) &&
	     add_str(m, "Broker", c->broker) && add_str(m, "Site", c->site) &&
	     add_str(m, "Username", c->username) &&
	     add_str(m, "Password", with_secrets || !c->password[0] ? c->password : SC_CONFIG_MASK);
	if (!ok) {
		cJSON_Delete(root);
		return SC_ERR_NOMEM;
	}
	if (cap > 0x7FFFFFFF)
		cap = 0x7FFFFFFF;
	ok = cap > 5 && cJSON_PrintPreallocated(root, buf, (int)cap - 5, false);
	cJSON_Delete(root);
	return ok ? (int)strlen(buf) : SC_ERR_RANGE;
}
