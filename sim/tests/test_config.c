/* The device configuration document (config.h): the manual's field names,
 * PATCH merging, every validation rule, secrets masked, and a bad PATCH
 * changing nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "regmap.h"
#include "sc_error.h"

static char *get(const struct sc_config *c, bool secrets)
{
	static char buf[4096];
	cr_assert_gt(sc_config_write(c, secrets, buf, sizeof buf), 0);
	return buf;
}

static int patch(struct sc_config *c, const char *json, struct sc_config_error *e)
{
	return sc_config_patch(c, json, strlen(json), e);
}

Test(config, factory_document)
{
	struct sc_config c;
	sc_config_defaults(&c);
	cr_assert_str_eq(get(&c, false),
			 "{\"MeterType\":\"PhoenixContact-EMPro\",\"DefaultNetIf\":\"Ethernet\","
			 "\"Ethernet\":{\"IpMode\":\"DHCP\"},\"WiFi\":{\"IpMode\":\"DHCP\"},"
			 "\"MQTT\":{\"Enabled\":true,\"Broker\":\"mqtt://broker.xemex-cloud.eu:8883\","
			 "\"Site\":\"\",\"Username\":\"\",\"Password\":\"\"}}");
}

/* The two PATCH examples of the manual (§5.2) and the document it shows. */
Test(config, manual_examples)
{
	struct sc_config c;
	struct sc_config_error e;
	sc_config_defaults(&c);
	cr_assert_eq(patch(&c, "{\"MQTT\":{\"Broker\":\"mqtt://broker.xemex-cloud.eu:8883\","
			       "\"Site\":\"site-new\",\"Username\":\"user-new\","
			       "\"Password\":\"newpassword\"}}", &e), SC_OK, "%s: %s", e.field, e.reason);
	cr_assert_eq(patch(&c, "{\"DefaultNetIf\":\"WiFi\",\"WiFi\":{\"ConnectionData\":{"
			       "\"WiFiSSID\":\"XemexTesting\",\"WiFiPassword\":\"Xem3x123\"},"
			       "\"IpMode\":\"DHCP\"}}", &e), SC_OK, "%s: %s", e.field, e.reason);
	cr_assert_eq(patch(&c, "{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{"
			       "\"IpAddress\":\"192.168.10.101\",\"Netmask\":\"24\","
			       "\"Gateway\":\"192.168.10.1\",\"DNS\":\"192.168.10.1\"}}}", &e), SC_OK,
		     "%s: %s", e.field, e.reason);
	cr_assert_str_eq(get(&c, false),
			 "{\"MeterType\":\"PhoenixContact-EMPro\",\"DefaultNetIf\":\"WiFi\","
			 "\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":"
			 "\"192.168.10.101\",\"Netmask\":\"24\",\"Gateway\":\"192.168.10.1\","
			 "\"DNS\":\"192.168.10.1\"}},\"WiFi\":{\"IpMode\":\"DHCP\",\"ConnectionData\":{"
			 "\"WiFiSSID\":\"XemexTesting\",\"WiFiPassword\":\"********\"}},"
			 "\"MQTT\":{\"Enabled\":true,\"Broker\":\"mqtt://broker.xemex-cloud.eu:8883\","
			 "\"Site\":\"site-new\",\"Username\":\"user-new\",\"Password\":\"********\"}}");
	/* The saved form keeps the secrets and loads back to the same. */
	char saved[4096];
	strcpy(saved, get(&c, true));
	cr_assert(strstr(saved, "\"Password\":\"newpassword\""));
	cr_assert(strstr(saved, "\"WiFiPassword\":\"Xem3x123\""));
	struct sc_config back;
	cr_assert_eq(sc_config_load(&back, saved, strlen(saved), &e), SC_OK, "%s", e.reason);
	cr_assert(memcmp(&back, &c, sizeof c) == 0);
}

Test(config, patch_merges_only_given_fields)
{
	struct sc_config c;
	struct sc_config_error e;
	sc_config_defaults(&c);
	cr_assert_eq(patch(&c, "{\"MQTT\":{\"Site\":\"garage\",\"Password\":\"s3cret\"}}", &e), SC_OK);
	cr_assert_eq(patch(&c, "{\"MQTT\":{\"Username\":\"bob\"}}", &e), SC_OK);
	cr_assert_str_eq(c.site, "garage");
	cr_assert_str_eq(c.username, "bob");
	cr_assert_str_eq(c.password, "s3cret");
	cr_assert_str_eq(c.broker, SC_CONFIG_DEFAULT_BROKER);
	/* The mask sent back leaves the password as it was. */
	cr_assert_eq(patch(&c, "{\"MQTT\":{\"Password\":\"********\",\"Enabled\":false}}", &e), SC_OK);
	cr_assert_str_eq(c.password, "s3cret");
	cr_assert_not(c.mqtt_enabled);
	cr_assert_eq(patch(&c, "{}", &e), SC_OK);
	cr_assert_eq(patch(&c, " {\"MQTT\":{}}\r\n", &e), SC_OK);
	/* Static settings survive a trip through DHCP. */
	cr_assert_eq(patch(&c, "{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":"
			       "\"10.0.0.5\",\"Netmask\":\"255.255.255.0\"}}}", &e), SC_OK, "%s", e.reason);
	cr_assert_eq(c.eth.st.prefix, 24);
	cr_assert_eq(patch(&c, "{\"Ethernet\":{\"IpMode\":\"DHCP\"}}", &e), SC_OK);
	cr_assert_null(strstr(get(&c, false), "10.0.0.5"));
	cr_assert_eq(patch(&c, "{\"Ethernet\":{\"IpMode\":\"Static\"}}", &e), SC_OK);
	cr_assert(strstr(get(&c, false), "\"IpAddress\":\"10.0.0.5\""));
}

struct bad {
	const char *body, *field, *reason;
};

/* Every rule: the field named, the reason given, nothing changed. */
Test(config, every_validation_error_changes_nothing)
{
	static const struct bad cases[] = {
		{"", "", "not valid JSON"},
		{"{", "", "not valid JSON"},
		{"{\"MQTT\":{\"Site\":\"a\"}} x", "", "text after"},
		{"[]", "", "must be an object"},
		{"\"MQTT\"", "", "must be an object"},
		{"{\"Mqtt\":{}}", "Mqtt", "unknown field"},
		{"{\"MQTT\":{\"Brokr\":\"x\"}}", "MQTT.Brokr", "unknown field"},
		{"{\"MQTT\":{\"Site\":\"a\",\"Site\":\"b\"}}", "MQTT.Site", "given twice"},
		{"{\"MQTT\":[]}", "MQTT", "must be an object"},
		{"{\"MQTT\":{\"Enabled\":\"yes\"}}", "MQTT.Enabled", "true or false"},
		{"{\"MQTT\":{\"Broker\":5}}", "MQTT.Broker", "must be a string"},
		{"{\"MQTT\":{\"Broker\":\"http://x:80\"}}", "MQTT.Broker", "unknown scheme"},
		{"{\"MQTT\":{\"Broker\":\"mqtt://\"}}", "MQTT.Broker", "not a host name"},
		{"{\"MQTT\":{\"Broker\":\"mqtt://bad host\"}}", "MQTT.Broker", "not a host name"},
		{"{\"MQTT\":{\"Broker\":\"mqtt://h:0\"}}", "MQTT.Broker", "port"},
		{"{\"MQTT\":{\"Broker\":\"mqtt://h:65536\"}}", "MQTT.Broker", "port"},
		{"{\"MQTT\":{\"Broker\":\"mqtt://h:x\"}}", "MQTT.Broker", "port"},
		{"{\"MQTT\":{\"Broker\":\"mqtt://h/path\"}}", "MQTT.Broker", "no path"},
		{"{\"MQTT\":{\"Broker\":\"mqtt://[::1]:1883\"}}", "MQTT.Broker", "IPv6"},
		{"{\"MQTT\":{\"Site\":\"a/b\"}}", "MQTT.Site", "one topic level"},
		{"{\"MQTT\":{\"Site\":\"#\"}}", "MQTT.Site", "one topic level"},
		{"{\"MQTT\":{\"Site\":\"a\\nb\"}}", "MQTT.Site", "control characters"},
		{"{\"MQTT\":{\"Site\":\"a\\u0085\"}}", "MQTT.Site", "U+0085 is not allowed in an MQTT topic"},
		{"{\"MQTT\":{\"Username\":\"\\ufdd0\"}}", "MQTT.Username", "U+FDD0 is not allowed"},
		{"{\"MQTT\":{\"Site\":\"a\\u0000b\"}}", "", "NUL character"},
		{"{\"MQTT\":{\"Site\":\"\xff\xfe\"}}", "MQTT.Site", "not valid UTF-8"},
		{"{\"MQTT\":{\"Site\":\"\xc0\xaf\"}}", "MQTT.Site", "not valid UTF-8"},
		{"{\"MQTT\":{\"Site\":\"\xed\xa0\x80\"}}", "MQTT.Site", "not valid UTF-8"},
		{"{\"MQTT\":{\"Site\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
		 "MQTT.Site", "longer than 64"},
		{"{\"MeterType\":\"Other\"}", "MeterType", "the templates known: \"PhoenixContact-EMPro\""},
		{"{\"DefaultNetIf\":\"LTE\"}", "DefaultNetIf", "\"Ethernet\" or \"WiFi\""},
		{"{\"DefaultNetIf\":\"WiFi\"}", "WiFi.ConnectionData.WiFiSSID", "needed when"},
		{"{\"Ethernet\":{\"IpMode\":\"Auto\"}}", "Ethernet.IpMode", "\"DHCP\" or \"Static\""},
		{"{\"Ethernet\":{\"IpMode\":\"Static\"}}", "Ethernet.StaticIPv4.IpAddress", "needed"},
		{"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"10.0.0.2\"}}}",
		 "Ethernet.StaticIPv4.Netmask", "needed"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"IpAddress\":\"10.0.0.256\"}}}",
		 "Ethernet.StaticIPv4.IpAddress", "not an IPv4"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"IpAddress\":\"10.0.0\"}}}",
		 "Ethernet.StaticIPv4.IpAddress", "not an IPv4"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"IpAddress\":\"10.0.0.01\"}}}",
		 "Ethernet.StaticIPv4.IpAddress", "not an IPv4"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"IpAddress\":\" 10.0.0.1\"}}}",
		 "Ethernet.StaticIPv4.IpAddress", "not an IPv4"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"Netmask\":\"33\"}}}", "Ethernet.StaticIPv4.Netmask",
		 "prefix length"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"Netmask\":\"255.0.255.0\"}}}",
		 "Ethernet.StaticIPv4.Netmask", "prefix length"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"Netmask\":24}}}", "Ethernet.StaticIPv4.Netmask",
		 "must be a string"},
		{"{\"Ethernet\":{\"StaticIPv4\":{\"Mask\":\"24\"}}}", "Ethernet.StaticIPv4.Mask",
		 "unknown field"},
		{"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"10.0.0.2\","
		 "\"Netmask\":\"24\",\"Gateway\":\"10.0.1.1\"}}}", "Ethernet.StaticIPv4.Gateway",
		 "subnet"},
		{"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"10.0.0.2\","
		 "\"Netmask\":\"24\",\"Gateway\":\"10.0.0.2\"}}}", "Ethernet.StaticIPv4.Gateway",
		 "subnet"},
		{"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"10.0.0.0\","
		 "\"Netmask\":\"24\"}}}", "Ethernet.StaticIPv4.IpAddress", "network or broadcast"},
		{"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"10.0.0.255\","
		 "\"Netmask\":\"24\"}}}", "Ethernet.StaticIPv4.IpAddress", "network or broadcast"},
		{"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"127.0.0.5\","
		 "\"Netmask\":\"8\"}}}", "Ethernet.StaticIPv4.IpAddress", "usable host"},
		{"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"224.0.0.5\","
		 "\"Netmask\":\"24\"}}}", "Ethernet.StaticIPv4.IpAddress", "usable host"},
		{"{\"Ethernet\":{\"ConnectionData\":{}}}", "Ethernet.ConnectionData", "unknown field"},
		{"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"\"}}}", "WiFi.ConnectionData.WiFiSSID",
		 "1-32 bytes"},
		{"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"123456789012345678901234567890123\"}}}",
		 "WiFi.ConnectionData.WiFiSSID", "1-32 bytes"},
		{"{\"WiFi\":{\"ConnectionData\":{\"WiFiPassword\":\"short\"}}}",
		 "WiFi.ConnectionData.WiFiPassword", "8-63"},
		{"{\"WiFi\":{\"ConnectionData\":{\"WiFiPassword\":"
		 "\"1234567890123456789012345678901234567890123456789012345678901234\"}}}",
		 NULL, NULL}, /* 64 hex digits: a raw key, valid */
		{"{\"WiFi\":{\"ConnectionData\":{\"WiFiPassword\":"
		 "\"123456789012345678901234567890123456789012345678901234567890123x\"}}}",
		 "WiFi.ConnectionData.WiFiPassword", "8-63"},
		{"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":[\"x\"]}}}",
		 "WiFi.ConnectionData.WiFiSSID", "must be a string"},
		{"{\"MQTT\":{\"Username\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
		 "MQTT.Username", "longer than 128"},
		{"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}", "", "nested too deep"},
		{"{\"MQTT\":{\"Site\":\"a\"},\"x\":[[[[[[[[1]]]]]]]]}", "", "nested too deep"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_config c, before;
		struct sc_config_error e;
		sc_config_defaults(&c);
		cr_assert_eq(patch(&c, "{\"MQTT\":{\"Site\":\"kept\"}}", &e), SC_OK);
		before = c;
		int rc = patch(&c, cases[i].body, &e);
		if (!cases[i].field) {
			cr_assert_eq(rc, SC_OK, "case %zu: %s: %s", i, e.field, e.reason);
			continue;
		}
		cr_assert_eq(rc, SC_ERR_INVAL, "case %zu (%s) accepted", i, cases[i].body);
		cr_assert_str_eq(e.field, cases[i].field, "case %zu (%s): %s", i, cases[i].body,
				 e.reason);
		cr_assert(strstr(e.reason, cases[i].reason), "case %zu: reason '%s'", i, e.reason);
		cr_assert(memcmp(&c, &before, sizeof c) == 0, "case %zu changed the config", i);
	}
}

/* Wi-Fi is WPA2-PSK only (manual §5.1): an SSID without a passphrase, or
 * with one of the wrong length, is refused naming WPA2-PSK, and nothing
 * changes; the device never joins an open network. */
Test(config, wifi_is_wpa2_psk_only)
{
	static const char *const refused[] = {
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"open-net\"}}}",
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"open-net\",\"WiFiPassword\":\"\"}}}",
		"{\"DefaultNetIf\":\"WiFi\",\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"open-net\"},"
		"\"IpMode\":\"DHCP\"}}",
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"net\",\"WiFiPassword\":\"1234567\"}}}",
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"net\",\"WiFiPassword\":"
		"\"1234567890123456789012345678901234567890123456789012345678901234x\"}}}",
		/* The mask means "unchanged": with no passphrase saved, still none. */
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"net\",\"WiFiPassword\":\"********\"}}}",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct sc_config c, before;
		struct sc_config_error e;
		sc_config_defaults(&c);
		cr_assert_eq(patch(&c, "{\"MQTT\":{\"Site\":\"kept\"}}", &e), SC_OK);
		before = c;
		cr_assert_eq(patch(&c, refused[i], &e), SC_ERR_INVAL, "case %zu accepted", i);
		cr_assert_str_eq(e.field, "WiFi.ConnectionData.WiFiPassword", "case %zu", i);
		cr_assert(strstr(e.reason, "WPA2-PSK"), "case %zu: %s", i, e.reason);
		cr_assert(strstr(e.reason, "8-63"), "case %zu: %s", i, e.reason);
		cr_assert(memcmp(&c, &before, sizeof c) == 0, "case %zu changed the config", i);
	}
	/* 8 and 63 characters, and 64 hex digits, are WPA2-PSK passphrases. */
	static const char *const accepted[] = {
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"net\",\"WiFiPassword\":\"12345678\"}}}",
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"net\",\"WiFiPassword\":"
		"\"123456789012345678901234567890123456789012345678901234567890123\"}}}",
		"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"net\",\"WiFiPassword\":"
		"\"0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef\"}}}",
	};
	for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
		struct sc_config c;
		struct sc_config_error e;
		sc_config_defaults(&c);
		cr_assert_eq(patch(&c, accepted[i], &e), SC_OK, "case %zu: %s", i, e.reason);
		cr_assert_str_eq(c.ssid, "net");
	}
	/* Once a passphrase is saved, a new SSID alone keeps it (a page that
	 * round-trips a GET sends the mask). */
	struct sc_config c;
	struct sc_config_error e;
	sc_config_defaults(&c);
	cr_assert_eq(patch(&c, accepted[0], &e), SC_OK);
	cr_assert_eq(patch(&c, "{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"other\"}}}", &e), SC_OK,
		     "%s", e.reason);
	cr_assert_eq(patch(&c, "{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"third\","
			       "\"WiFiPassword\":\"********\"}}}", &e), SC_OK, "%s", e.reason);
	cr_assert_str_eq(c.psk, "12345678");
	/* A saved file with an SSID and no passphrase does not load either. */
	const char *open_doc = "{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"open-net\"}}}";
	cr_assert_eq(sc_config_load(&c, open_doc, strlen(open_doc), &e), SC_ERR_INVAL);
	cr_assert(strstr(e.reason, "WPA2-PSK"));
}

/* The Modbus map template (manual §1.2) is the configuration's MeterType:
 * one of the templates known, today the EMpro map only; another is refused
 * with the list, and nothing changes. */
Test(config, meter_type_is_a_known_template)
{
	size_t n;
	const char *const *names = sc_regmap_templates(&n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "PhoenixContact-EMPro");
	cr_assert_str_eq(names[0], SC_CONFIG_METER_TYPE);
	struct sc_config c, before;
	struct sc_config_error e;
	sc_config_defaults(&c);
	cr_assert_str_eq(sc_config_meter_type(&c), "PhoenixContact-EMPro");
	cr_assert_eq(patch(&c, "{\"MeterType\":\"PhoenixContact-EMPro\"}", &e), SC_OK, "%s", e.reason);
	cr_assert(strstr(get(&c, false), "\"MeterType\":\"PhoenixContact-EMPro\""));
	before = c;
	static const char *const unknown[] = {
		"{\"MeterType\":\"Linky-Standard\",\"MQTT\":{\"Site\":\"x\"}}",
		"{\"MQTT\":{\"Site\":\"x\"},\"MeterType\":\"phoenixcontact-empro\"}",
		"{\"MeterType\":\"\"}",
	};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		cr_assert_eq(patch(&c, unknown[i], &e), SC_ERR_INVAL, "case %zu accepted", i);
		cr_assert_str_eq(e.field, "MeterType");
		cr_assert_str_eq(e.reason, "not a Modbus map template the device knows; the templates "
					   "known: \"PhoenixContact-EMPro\"");
		cr_assert(memcmp(&c, &before, sizeof c) == 0, "case %zu changed the config", i);
	}
	cr_assert_eq(patch(&c, "{\"MeterType\":5}", &e), SC_ERR_INVAL);
	cr_assert_str_eq(e.reason, "must be a string");
	/* A saved file naming an unknown template is not loaded. */
	const char *doc = "{\"MeterType\":\"Other\"}";
	cr_assert_eq(sc_config_load(&c, doc, strlen(doc), &e), SC_ERR_INVAL);
	cr_assert_str_eq(e.field, "MeterType");
}

/* A PATCH whose first field is good and second bad changes nothing at all. */
Test(config, atomic)
{
	struct sc_config c, before;
	struct sc_config_error e;
	sc_config_defaults(&c);
	before = c;
	cr_assert_eq(patch(&c, "{\"MQTT\":{\"Site\":\"new\",\"Broker\":\"nope://x\"}}", &e),
		     SC_ERR_INVAL);
	cr_assert(memcmp(&c, &before, sizeof c) == 0);
	cr_assert_eq(patch(&c, "{\"MQTT\":{\"Site\":\"new\"},\"Ethernet\":{\"IpMode\":\"Static\"}}", &e),
		     SC_ERR_INVAL);
	cr_assert_str_eq(c.site, "");
}

Test(config, broker_forms)
{
	static const struct {
		const char *url;
		bool tls;
		const char *host;
		int port;
	} ok[] = {
		{"mqtt://broker.xemex-cloud.eu:8883", true, "broker.xemex-cloud.eu", 8883},
		{"mqtt://localhost", false, "localhost", 1883},
		{"mqtt://127.0.0.1:1884", false, "127.0.0.1", 1884},
		{"mqtts://example.com", true, "example.com", 8883},
		{"mqtts://example.com:1883", true, "example.com", 1883},
		{"ssl://10.1.2.3:9999", true, "10.1.2.3", 9999},
		{"tcp://example.com:8883", false, "example.com", 8883},
		{"tcp://my_broker", false, "my_broker", 1883},
		{"example.com", false, "example.com", 1883},
		{"example.com:8883", true, "example.com", 8883},
		{"mqtt://host:1883/", false, "host", 1883},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct sc_broker b;
		char why[128];
		cr_assert_eq(sc_broker_parse(ok[i].url, &b, why, sizeof why), SC_OK, "%s: %s",
			     ok[i].url, why);
		cr_assert_eq(b.tls, ok[i].tls, "%s", ok[i].url);
		cr_assert_str_eq(b.host, ok[i].host);
		cr_assert_eq(b.port, ok[i].port, "%s", ok[i].url);
	}
	const char *bad[] = {"", "mqtt://", "ws://x", "mqtt://-x", "mqtt://x-", "mqtt://a..b",
			     "mqtt://user@host", "mqtt://h:", "mqtt://h:123456", "mqtt://h?x=1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sc_broker b;
		cr_assert_eq(sc_broker_parse(bad[i], &b, NULL, 0), SC_ERR_INVAL, "'%s'", bad[i]);
	}
}

Test(config, ipv4)
{
	uint32_t a;
	cr_assert(sc_ipv4_parse("192.168.10.101", &a));
	cr_assert_eq(a, 0xC0A80A65u);
	cr_assert(sc_ipv4_parse("0.0.0.0", &a));
	cr_assert(sc_ipv4_parse("255.255.255.255", &a));
	const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.4 ", "a.b.c.d",
			     "1..3.4", "-1.2.3.4", "1.2.3.4/24", "1234.1.1.1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_not(sc_ipv4_parse(bad[i], &a), "'%s'", bad[i]);
	char buf[16];
	sc_ipv4_format(0xA9FEA4FEu, buf, sizeof buf);
	cr_assert_str_eq(buf, "169.254.164.254");
}

Test(config, load_rejects_what_patch_rejects)
{
	struct sc_config c;
	struct sc_config_error e;
	const char *doc = "{\"MQTT\":{\"Broker\":\"gopher://x\"}}";
	cr_assert_eq(sc_config_load(&c, doc, strlen(doc), &e), SC_ERR_INVAL);
	cr_assert_str_eq(e.field, "MQTT.Broker");
	/* The mask in a saved file is a password like any other. */
	doc = "{\"MQTT\":{\"Password\":\"********\"}}";
	cr_assert_eq(sc_config_load(&c, doc, strlen(doc), &e), SC_OK);
	cr_assert_str_eq(c.password, "********");
}

Test(config, utf8_validity)
{
	cr_assert(sc_utf8_valid(""));
	cr_assert(sc_utf8_valid("plain"));
	cr_assert(sc_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8c"));
	cr_assert_not(sc_utf8_valid("\x80"), "a continuation byte alone");
	cr_assert_not(sc_utf8_valid("\xc3"), "cut short");
	cr_assert_not(sc_utf8_valid("\xc1\x81"), "overlong");
	cr_assert_not(sc_utf8_valid("\xe0\x80\xaf"), "overlong");
	cr_assert_not(sc_utf8_valid("\xed\xbf\xbf"), "a surrogate");
	cr_assert_not(sc_utf8_valid("\xf4\x90\x80\x80"), "past U+10FFFF");
	cr_assert_not(sc_utf8_valid("\xff"));
}
