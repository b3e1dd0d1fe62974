/* A twin's saved state (--state-dir, statefile.h): its configuration, login
 * password, running firmware version and HTTPS certificate, one file each,
 * as a real unit keeps them in flash across restarts. Without a state
 * directory they live in memory only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "cursor.h"
#include "password.h"
#include "sc_error.h"
#include "tls_check.h"
#include "twin_impl.h"

#define CONFIG_FILE "config.json"
#define PASSWORD_FILE "password"
#define FIRMWARE_FILE "firmware"
#define CERT_FILE "https-cert.pem"
#define KEY_FILE "https-key.pem"

int sc_twin_save_config(void *arg, const struct sc_config *c, char *why, size_t cap)
{
	struct sc_twin *t = arg;
	char buf[4096];
	int n = sc_config_write(c, true, buf, sizeof buf);
	if (n < 0) {
		snprintf(why, cap, "cannot write the configuration document");
		return SC_ERR_IO;
	}
	buf[n++] = '\n';
	if (sc_state_write(&t->state, CONFIG_FILE, buf, (size_t)n, why, cap) != 0) {
		sc_log(SC_LOG_ERROR, "config: %s; the configuration stays as it was", why);
		return SC_ERR_IO;
	}
	sc_log(SC_LOG_INFO, "config: saved%s", t->state.on ? "" : " (in memory: no --state-dir)");
	return SC_OK;
}

bool sc_twin_load_config(struct sc_twin *t, struct sc_config *out)
{
	char *data, why[256];
	size_t len;
	int rc = sc_state_read(&t->state, CONFIG_FILE, &data, &len, why, sizeof why);
	if (rc != 0) {
		if (rc < 0)
			sc_log(SC_LOG_ERROR, "config: %s; factory settings used", why);
		return false;
	}
	struct sc_config_error e;
	bool ok = sc_config_load(out, data, len, &e) == SC_OK;
	free(data);
	if (!ok) {
		sc_log(SC_LOG_ERROR, "config: %s/%s: %s%s%s; factory settings used", t->state.dir,
		       CONFIG_FILE, e.field, *e.field ? ": " : "", e.reason);
		return false;
	}
	sc_log(SC_LOG_INFO, "config: loaded from %s/%s", t->state.dir, CONFIG_FILE);
	return true;
}

/* One line: the flag, its value, and the saved one with where it is. */
static void log_override(const struct sc_twin *t, const char *flag, const char *given,
			 const char *field, const char *saved)
{
	sc_log(SC_LOG_WARN, "config: %s %s is overridden by the saved configuration: %s is %s in "
			    "%s/" CONFIG_FILE " (a factory reset, or a start without the file, "
			    "returns to the command line's)", flag, given, field, saved, t->state.dir);
}

void sc_twin_log_overrides(const struct sc_twin *t, const struct sc_config *saved,
			   const struct sc_fw_version *fw_given, const struct sc_fw_version *fw_saved)
{
	const struct sc_config *f = &t->o.factory;
	unsigned given = t->o.given;
	if (saved && (given & SC_GIVEN_BROKER)) {
		if (!saved->mqtt_enabled)
			log_override(t, "--mqtt", f->broker, "MQTT.Enabled", "false");
		else if (strcmp(saved->broker, f->broker) != 0)
			log_override(t, "--mqtt", f->broker, "MQTT.Broker", saved->broker);
	}
	if (saved && (given & SC_GIVEN_SITE) && strcmp(saved->site, f->site) != 0) {
		char quoted[sizeof saved->site + 2];
		snprintf(quoted, sizeof quoted, "'%s'", saved->site);
		char flag_value[sizeof f->site + 2];
		snprintf(flag_value, sizeof flag_value, "'%s'", f->site);
		log_override(t, "--site", flag_value, "MQTT.Site", quoted);
	}
	if (saved && (given & SC_GIVEN_MQTT_USER) && strcmp(saved->username, f->username) != 0) {
		char quoted[sizeof saved->username + 2];
		snprintf(quoted, sizeof quoted, "'%s'", saved->username);
		char flag_value[sizeof f->username + 2];
		snprintf(flag_value, sizeof flag_value, "'%s'", f->username);
		log_override(t, "--mqtt-user", flag_value, "MQTT.Username", quoted);
	}
	if (saved && (given & SC_GIVEN_MQTT_PASSWORD) && strcmp(saved->password, f->password) != 0)
		log_override(t, "--mqtt-password", "(not shown)", "MQTT.Password",
			     "another one (not shown)");
	if ((given & SC_GIVEN_FIRMWARE) &&
	    sc_fw_cmp(fw_given, fw_saved) != 0) {
		char a[16], b[16];
		sc_fw_format(fw_given, a, sizeof a);
		sc_fw_format(fw_saved, b, sizeof b);
		sc_log(SC_LOG_WARN, "firmware: --firmware %s is overridden by the version saved by a "
				    "simulated update: %s in %s/" FIRMWARE_FILE, a, b, t->state.dir);
	}
}

void sc_twin_forget_config(struct sc_twin *t)
{
	char why[256];
	if (sc_state_remove(&t->state, CONFIG_FILE, why, sizeof why) != 0)
		sc_log(SC_LOG_ERROR, "reset: %s", why);
}

void sc_twin_load_firmware(struct sc_twin *t, struct sc_fw_version *fw)
{
	char *data, why[256];
	size_t len;
	int rc = sc_state_read(&t->state, FIRMWARE_FILE, &data, &len, why, sizeof why);
	char cur[16];
	sc_fw_format(fw, cur, sizeof cur);
	if (rc < 0)
		sc_log(SC_LOG_WARN, "firmware: %s: running %s instead", why, cur);
	if (rc != 0)
		return;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	struct sc_fw_version v;
	if (strlen(data) == len && sc_fw_parse(data, &v) == SC_OK) {
		*fw = v;
	} else {
		/* A damaged file would otherwise switch the energy unit (kWh before
		 * 5.1, Wh from 5.1 on) without a word: say which file and what it held. */
		char shown[48];
		size_t k = 0, i = 0;
		for (; i < len && k + 5 < sizeof shown; i++) {
			unsigned char c = (unsigned char)data[i];
			k += (size_t)snprintf(shown + k, sizeof shown - k,
					      c >= 0x20 && c < 0x7f && c != '\\' ? "%c" : "\\x%02x", c);
		}
		shown[k] = '\0';
		sc_log(SC_LOG_WARN, "firmware: %s/" FIRMWARE_FILE " is not a version (%zu bytes: \"%s%s\"): "
				    "ignored, running %s (kWh before 5.1, Wh from 5.1)",
		       t->state.dir, len, shown, i < len ? "..." : "", cur);
	}
	free(data);
}

void sc_twin_save_firmware(struct sc_twin *t)
{
	char v[16], line[24], why[256];
	sc_fw_format(&t->dongle.fw.version, v, sizeof v);
	int n = snprintf(line, sizeof line, "%s\n", v);
	if (sc_state_write(&t->state, FIRMWARE_FILE, line, (size_t)n, why, sizeof why) != 0)
		sc_log(SC_LOG_ERROR, "firmware: %s", why);
}

int sc_twin_setup_password(struct sc_twin *t, char *pw, size_t cap, char *why, size_t wcap)
{
	if (t->o.password) {
		sc_str_copy(pw, cap, t->o.password);
		return SC_OK;
	}
	char *data, e[256];
	size_t len;
	int rc = sc_state_read(&t->state, PASSWORD_FILE, &data, &len, e, sizeof e);
	if (rc == 0) {
		/* The file as written: the password and one line end. Anything
		 * else (a NUL, a control byte, nothing, too much) is refused, not
		 * repaired: a password cut at a NUL could be the empty one. */
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			len--;
		size_t bad = len;
		for (size_t k = 0; k < len && bad == len; k++)
			if ((unsigned char)data[k] < 0x20 || (unsigned char)data[k] > 0x7E)
				bad = k;
		if (len < 1 || len > SC_API_PASSWORD_MAX || len >= cap || bad < len) {
			if (bad < len)
				snprintf(why, wcap, "http: %s/%s: byte %zu is 0x%02x: the password "
					 "must be 1-%d printable ASCII characters on one line; fix or "
					 "remove the file (a new password is then made)", t->state.dir,
					 PASSWORD_FILE, bad + 1, (unsigned char)data[bad],
					 SC_API_PASSWORD_MAX);
			else
				snprintf(why, wcap, "http: %s/%s: %zu characters: the password must "
					 "be 1-%d printable ASCII characters on one line; fix or remove "
					 "the file (a new password is then made)", t->state.dir,
					 PASSWORD_FILE, len, SC_API_PASSWORD_MAX);
			free(data);
			return SC_ERR_USAGE;
		}
		memcpy(pw, data, len);
		pw[len] = '\0';
		free(data);
		return SC_OK;
	} else if (rc < 0) {
		snprintf(why, wcap, "http: %s", e);
		return SC_ERR_IO;
	}
	rc = sc_password_new(pw, cap, e, sizeof e);
	if (rc != SC_OK) {
		snprintf(why, wcap, "http: %s", e);
		return rc;
	}
	char line[16];
	int n = snprintf(line, sizeof line, "%s\n", pw);
	if (sc_state_write(&t->state, PASSWORD_FILE, line, (size_t)n, e, sizeof e) != 0) {
		snprintf(why, wcap, "http: %s", e);
		return SC_ERR_IO;
	}
	/* Printed as the label prints it: user "user", this password. */
	sc_log(SC_LOG_INFO, "http: login: user / %s%s", pw,
	       t->state.on ? " (saved in the state directory)" : "");
	return SC_OK;
}

int sc_twin_setup_certificate(struct sc_twin *t, char *why, size_t cap)
{
	char *cert = NULL, *key = NULL, e[256];
	size_t n, kn;
	if (sc_state_read(&t->state, CERT_FILE, &cert, &n, e, sizeof e) == 0 &&
	    sc_state_read(&t->state, KEY_FILE, &key, &kn, e, sizeof e) == 0) {
		/* A damaged file is named with what is wrong, rather than
		 * libmicrohttpd's "cannot listen ... Protocol error". */
		int bad = strlen(cert) != n ? 1 : strlen(key) != kn ? 2 : 0;
		if (bad)
			snprintf(e, sizeof e, "a NUL byte inside the PEM text");
		else
			bad = sc_tls_check_pem_pair(cert, key, e, sizeof e);
		if (bad != 0) {
			snprintf(why, cap, "https: %s/%s: %s (removing both %s and %s makes a new pair)",
				 t->state.dir, bad == 1 ? CERT_FILE : KEY_FILE, e, CERT_FILE, KEY_FILE);
			free(cert);
			free(key);
			return SC_ERR_INVAL;
		}
		t->cert_pem = cert;
		t->key_pem = key;
		return SC_OK;
	}
	free(cert);
	free(key);
	char cn[64], dns1[80], dns2[80];
	snprintf(cn, sizeof cn, "smart-connect-%s", t->o.serial);
	snprintf(dns1, sizeof dns1, "DNS:smart-connect-%s", t->o.serial);
	snprintf(dns2, sizeof dns2, "DNS:smart-connect-%s.local", t->o.serial);
	const char *sans[] = {dns1, dns2, "DNS:smart-connect.local", "DNS:smart-connect",
			      "DNS:localhost", "IP:127.0.0.1", "IP:192.168.71.1"};
	if (sc_tls_self_signed(cn, sans, sizeof sans / sizeof sans[0], 3650, &t->cert_pem,
			       &t->key_pem, e, sizeof e) != 0) {
		snprintf(why, cap, "https: %s", e);
		return SC_ERR_IO;
	}
	if (sc_state_write(&t->state, KEY_FILE, t->key_pem, strlen(t->key_pem), e, sizeof e) != 0 ||
	    sc_state_write(&t->state, CERT_FILE, t->cert_pem, strlen(t->cert_pem), e, sizeof e) != 0) {
		snprintf(why, cap, "https: %s", e);
		return SC_ERR_IO;
	}
	return SC_OK;
}
