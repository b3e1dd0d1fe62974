/* The device configuration (SMART-CONNECT.md §3-§5, manual §5.1-§5.2): the
 * document GET /api/v1/config returns and PATCH changes, with every rule of
 * validation in one place. Pure: text in, text out; saving it is the
 * caller's business (statefile.h).
 *
 * JSON, as the manual's examples spell it:
 *   { "MeterType": "PhoenixContact-EMPro", "DefaultNetIf": "Ethernet",
 *     "Ethernet": { "IpMode": "Static", "StaticIPv4": { "IpAddress": "192.168.10.101",
 *                   "Netmask": "24", "Gateway": "192.168.10.1", "DNS": "192.168.10.1" } },
 *     "WiFi": { "IpMode": "DHCP", "ConnectionData": { "WiFiSSID": "...", "WiFiPassword": "..." } },
 *     "MQTT": { "Enabled": true, "Broker": "mqtt://broker.xemex-cloud.eu:8883",
 *               "Site": "site", "Username": "", "Password": "" } }
 *
 * Decisions (the manual is silent):
 *   - "MQTT.Enabled" (boolean) carries the web page's Enable/Disable MQTT
 *     choice, which the manual's API examples do not show.
 *   - StaticIPv4 is shown for an interface in Static mode only (as the
 *     example shows WiFi in DHCP mode without it); it is kept when the mode
 *     goes back to DHCP.
 *   - Netmask is a prefix length "0".."32" as in the example; a dotted mask
 *     ("255.255.255.0") is accepted and stored as its prefix length.
 *   - MeterType is the Modbus map template (manual §1.2: the TIC variant's
 *     map is chosen from templates at installation; §5.2 calls MeterType the
 *     type of Modbus meter). A PATCH may name one of sc_regmap_templates();
 *     another is refused with the list. Today the list holds the EMpro map
 *     only, the one the manual documents; on the P1/A1 variant that is the
 *     only map in any case.
 *   - Passwords are shown as SC_CONFIG_MASK; a PATCH that sends the mask
 *     back leaves the password as it was (a page can round-trip a GET).
 */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_CONFIG_MASK "********"
/* The factory template: the first of sc_regmap_templates(). */
#define SC_CONFIG_METER_TYPE "PhoenixContact-EMPro"
#define SC_CONFIG_DEFAULT_BROKER "mqtt://broker.xemex-cloud.eu:8883"

/* Wi-Fi is WPA2-PSK only (manual §5.1): an SSID always comes with a
 * passphrase; a PATCH that leaves the SSID without one (none given, or "")
 * is refused with this reason. */
#define SC_CONFIG_WPA2_RULE "the device joins WPA2-PSK networks only: the password is a WPA2-PSK " \
			    "passphrase of 8-63 printable ASCII characters (or 64 hex digits)"
#define SC_CONFIG_SSID_MAX 32   /* IEEE 802.11: 1-32 bytes */
#define SC_CONFIG_PSK_MAX 64    /* WPA2: 8-63 printable, or 64 hex digits */
#define SC_CONFIG_URL_MAX 255
#define SC_CONFIG_SITE_MAX 64
#define SC_CONFIG_CRED_MAX 128  /* MQTT user name and password */

enum sc_netif { SC_NETIF_ETHERNET = 0, SC_NETIF_WIFI = 1 };
enum sc_ipmode { SC_IPMODE_DHCP = 0, SC_IPMODE_STATIC = 1 };

struct sc_ipv4_static {
	uint32_t addr, gateway, dns; /* host order; 0 = not set */
	int prefix;                  /* netmask as a prefix length, 0-32; -1 = not set */
};

struct sc_config_if {
	enum sc_ipmode mode;
	struct sc_ipv4_static st;
};

struct sc_config {
	unsigned meter_type; /* MeterType: the Modbus map template, an index into
			      * sc_regmap_templates() (regmap.h) */
	enum sc_netif netif; /* DefaultNetIf: the one active interface */
	struct sc_config_if eth, wifi;
	char ssid[SC_CONFIG_SSID_MAX + 1];
	char psk[SC_CONFIG_PSK_MAX + 1];
	bool mqtt_enabled;
	char broker[SC_CONFIG_URL_MAX + 1];
	char site[SC_CONFIG_SITE_MAX + 1];
	char username[SC_CONFIG_CRED_MAX + 1];
	char password[SC_CONFIG_CRED_MAX + 1];
};

/* Factory settings: Ethernet with DHCP, Wi-Fi unset, MQTT enabled to the
 * Xemex cloud broker with mutual TLS (no user name), no site. */
void sc_config_defaults(struct sc_config *c);

/* Where a document or a PATCH went wrong: the JSON path of the field
 * ("MQTT.Broker", "" for the document) and what is wrong with it. */
struct sc_config_error {
	char field[64];
	char reason[160];
};

/* Applies a PATCH body (JSON text of len bytes) to c: only the fields given
 * change. The result is validated whole; on any error c is left exactly as
 * it was and e says which field and why. Returns 0 or SC_ERR_INVAL. Bodies
 * nest at most SC_CONFIG_MAX_DEPTH objects deep. */
#define SC_CONFIG_MAX_DEPTH 4
int sc_config_patch(struct sc_config *c, const char *json, size_t len, struct sc_config_error *e);

/* Reads a whole saved document (as sc_config_write with secrets) over the
 * factory settings; the same rules as a PATCH. */
int sc_config_load(struct sc_config *c, const char *json, size_t len, struct sc_config_error *e);

/* The document as JSON text (NUL-terminated, compact) into buf. Secrets
 * are masked unless with_secrets (for the saved file, or firmware that
 * echoes them). Returns the length, or SC_ERR_RANGE / SC_ERR_NOMEM. */
int sc_config_write(const struct sc_config *c, bool with_secrets, char *buf, size_t cap);

/* A broker URL taken apart. Forms: mqtts://H[:P] and ssl://H[:P] (TLS,
 * port 8883 by default), tcp://H[:P] (plain, 1883), mqtt://H[:P] and a bare
 * H[:P]: TLS on port 8883 (the device's default broker is written
 * mqtt://broker.xemex-cloud.eu:8883 and speaks TLS), plain otherwise. H is a
 * DNS name or a dotted IPv4 address (the device has no IPv6). */
struct sc_broker {
	bool tls;
	char host[254];
	int port;
};
int sc_broker_parse(const char *url, struct sc_broker *b, char *reason, size_t cap);

/* Checks shared with other inputs (command line, scenario files). Each
 * returns true when the text is acceptable; reason (may be NULL) gets why not. */
bool sc_config_valid_broker(const char *url, char *reason, size_t cap);
bool sc_config_valid_site(const char *site, char *reason, size_t cap);
/* An MQTT user name: at most SC_CONFIG_CRED_MAX bytes of UTF-8 without
 * control characters or non-characters (a broker drops such a client). */
bool sc_config_valid_mqtt_user(const char *user, char *reason, size_t cap);
/* Whether text is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). Every text field of a PATCH is. */
bool sc_utf8_valid(const char *text);
/* Dotted-quad IPv4 "a.b.c.d", each 0-255 without leading zeros. */
bool sc_ipv4_parse(const char *s, uint32_t *out);
void sc_ipv4_format(uint32_t a, char *buf, size_t cap); /* cap >= 16 */

/* The configuration's MeterType: the name of its Modbus map template. */
const char *sc_config_meter_type(const struct sc_config *c);

const char *sc_netif_name(enum sc_netif n);   /* "Ethernet", "WiFi" */
const char *sc_ipmode_name(enum sc_ipmode m); /* "DHCP", "Static" */

#endif
