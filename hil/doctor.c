/* sc-hil doctor: the bench rig's checklist (doctor.h). */
#define _DEFAULT_SOURCE
#include "doctor.h"

#include <cjson/cJSON.h>
#include <libserialport.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "diagnose.h"
#include "dut.h"
#include "json_at.h"
#include "meter_port.h"
#include "regmap.h"
#include "tcp.h"

struct tally {
	int ok, failed, notes;
};

static void line(struct tally *t, const char *mark, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void line(struct tally *t, const char *mark, const char *what, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	printf("%-5s %-13s %s\n", mark, what, text);
	fflush(stdout);
	if (strcmp(mark, "ok") == 0)
		t->ok++;
	else if (strcmp(mark, "FAIL") == 0)
		t->failed++;
	else
		t->notes++;
}

/* ---- the meter side ---- */

/* Every serial port libserialport sees; the USB ones with their ids. */
static void list_ports(struct tally *t)
{
	struct sp_port **ports;
	if (sp_list_ports(&ports) != SP_OK) {
		line(t, "note", "serial ports", "cannot list them (libserialport)");
		return;
	}
	int n = 0;
	for (int i = 0; ports[i]; i++, n++) {
		struct sp_port *p = ports[i];
		int vid, pid;
		if (sp_get_port_transport(p) == SP_TRANSPORT_USB &&
		    sp_get_port_usb_vid_pid(p, &vid, &pid) == SP_OK) {
			const char *m = sp_get_port_usb_manufacturer(p), *pr = sp_get_port_usb_product(p);
			line(t, "ok", "serial ports", "%s: USB %04x:%04x %s %s", sp_get_port_name(p), vid,
			     pid, m ? m : "", pr ? pr : "");
		} else {
			const char *d = sp_get_port_description(p);
			line(t, "note", "serial ports", "%s: %s", sp_get_port_name(p), d ? d : "");
		}
	}
	sp_free_port_list(ports);
	if (n == 0)
		line(t, "note", "serial ports", "none found: is the USB-serial adapter plugged in? "
						 "(dmesg says what the kernel saw)");
}

/* The USB vendor of a port, or -1 (a pty, a built-in UART). */
static int usb_vendor(const char *path)
{
	char real[4096];
	if (!realpath(path, real))
		return -1;
	struct sp_port *p;
	if (sp_get_port_by_name(real, &p) != SP_OK)
		return -1;
	int vid = -1, pid;
	if (sp_get_port_transport(p) != SP_TRANSPORT_USB || sp_get_port_usb_vid_pid(p, &vid, &pid) != SP_OK)
		vid = -1;
	sp_free_port(p);
	return vid;
}

static void check_adapter(const struct sc_doctor_opts *o, struct tally *t)
{
	struct sc_meter_port_opts mo = {0};
	mo.path = o->port;
	mo.line = sc_line_for(o->tic);
	char why[512], fmt[32];
	if (o->line && sc_line_parse(o->line, &mo.line, why, sizeof why) != 0) {
		line(t, "FAIL", "adapter", "--line %s: %s", o->line, why);
		return;
	}
	if (o->data_request) {
		enum sc_data_request dr;
		if (sc_data_request_parse(o->data_request, &dr) != 0) {
			line(t, "FAIL", "data request", "'%s' is not none, cts, dsr, dcd or ri", o->data_request);
			return;
		}
		mo.dr = dr;
	}
	sc_line_format(&mo.line, fmt, sizeof fmt);
	struct sc_meter_port *p = sc_meter_port_open(&mo, why, sizeof why);
	if (!p) {
		line(t, "FAIL", "adapter", "%s (is it the adapter's node? ls -l /dev/serial/by-id/; "
					  "the user needs the dialout group)", why);
		return;
	}
	line(t, "ok", "adapter", "%s opened, %s (%s line)", o->port, fmt, o->tic ? "TIC" : "P1");
	/* What no software can see: the P1 data line is inverted (open
	 * collector, idle low) and TIC is a 50 kHz modulated signal. */
	int vid = usb_vendor(o->port);
	if (o->tic)
		line(t, "note", "modulation", "TIC carries the bytes on a 50 kHz carrier: the adapter's TX "
					      "goes through the modulator stage (hil/README.md), not to the "
					      "TIC input directly");
	else if (vid == 0x0403)
		line(t, "note", "inversion", "FTDI adapter: P1 needs TX inverted: \"Invert TXD\" in its "
					     "EEPROM (FT_PROG, or ftdi_eeprom's invert_txd) or an inverter "
					     "stage (hil/README.md)");
	else
		line(t, "note", "inversion", "P1 needs the adapter's TX inverted (a P1 cable or an inverter "
					     "stage, hil/README.md); software cannot see which you have");
	if (mo.dr) {
		int dr = sc_meter_port_data_request(p);
		if (dr == 1)
			line(t, "ok", "data request", "%s is high: the dongle asks for telegrams",
			     sc_data_request_name(mo.dr));
		else if (dr == 0)
			line(t, "FAIL", "data request", "%s is low: is the dongle powered, and its RJ12 pin 2 "
							"wired to the adapter's %s input?",
			     sc_data_request_name(mo.dr), sc_data_request_name(mo.dr));
		else
			line(t, "FAIL", "data request", "%s cannot be read on %s", sc_data_request_name(mo.dr),
			     o->port);
	}
	sc_meter_port_close(p);
}

/* ---- the device under test ---- */

/* A TCP connection within the time limit: 0, or -1 with why. */
static int tcp_reach(const char *host, int port, double timeout_s, char *why, size_t cap)
{
	int fd = sc_tcp_connect(host, port, (int)(timeout_s * 1000), why, cap);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void check_modbus(const struct sc_doctor_opts *o, struct sc_dut *d, struct tally *t)
{
	char why[512];
	if (tcp_reach(o->dut, o->modbus_port, o->timeout_s, why, sizeof why) != 0) {
		line(t, "FAIL", "modbus", "%s (is the device on this network? only one Modbus client "
					  "at a time: is a charger or an EMS connected?)", why);
		return;
	}
	uint16_t w[2];
	if (sc_dut_read(d, 0x8006, 2, w, why, sizeof why) != 0) {
		line(t, "FAIL", "modbus", "%s:%d connects but a read of 0x8006 fails: %s", o->dut,
		     o->modbus_port, why);
		return;
	}
	/* A mains voltage tells the word order apart: the other order of the
	 * same words is no voltage at all (the finding sc-hil's diagnosis of
	 * a mismatch uses too: sc_word_order_fit). */
	enum sc_word_order order = SC_WORDS_CDAB;
	double volts = 0;
	bool fits = sc_word_order_fit(w, 80, 300, &order, &volts) > 0;
	if (w[0] == 0 && w[1] == 0)
		line(t, "ok", "modbus", "%s:%d answers; 0x8006 voltage L1 reads 0: no telegram yet, or "
					"a meter without voltages (DSMR 4.2)", o->dut, o->modbus_port);
	else if (fits && order == SC_WORDS_CDAB)
		line(t, "ok", "modbus", "%s:%d: 0x8006 voltage L1 %.1f V, words CD AB (the device's "
					"default)", o->dut, o->modbus_port, volts);
	else if (fits)
		line(t, "ok", "modbus", "%s:%d: 0x8006 voltage L1 %.1f V, words AB CD", o->dut,
		     o->modbus_port, volts);
	else
		line(t, "FAIL", "modbus", "%s:%d: 0x8006 voltage L1 reads %g (CD AB) or %g (AB CD): "
					  "not the map of a Smart Connect", o->dut, o->modbus_port,
		     (double)sc_words_to_float(w, SC_WORDS_CDAB),
		     (double)sc_words_to_float(w, SC_WORDS_ABCD));
}

/* Compares the broker the device is configured to publish to (its
 * /api/v1/config, MQTT.Enabled and MQTT.Broker, read with the password) with
 * --broker: the same host and port, or a FAIL naming both. */
static void check_broker_config(const struct sc_doctor_opts *o, struct sc_dut *d, struct tally *t)
{
	int status;
	char *body = NULL, why[512];
	if (sc_dut_http(d, "GET", "/api/v1/config", NULL, &status, &body, why, sizeof why) != 0 ||
	    status != 200) {
		if (status)
			snprintf(why, sizeof why, "GET /api/v1/config answers %d", status);
		line(t, "FAIL", "mqtt config", "cannot read the device's MQTT settings: %s", why);
		free(body);
		return;
	}
	cJSON *j = cJSON_Parse(body);
	free(body);
	const cJSON *on = sc_json_at(j, "MQTT.Enabled");
	const cJSON *url = sc_json_at(j, "MQTT.Broker");
	struct sc_broker want, have;
	if (!cJSON_IsString(url)) {
		line(t, "FAIL", "mqtt config", "the device's configuration has no MQTT.Broker");
	} else if (sc_broker_parse(o->broker, &want, why, sizeof why) != 0) {
		line(t, "note", "mqtt config", "the device publishes to %s; --broker %s is not a "
						 "broker URL to compare it with (%s)",
		     url->valuestring, o->broker, why);
	} else if (sc_broker_parse(url->valuestring, &have, why, sizeof why) != 0 ||
		   strcasecmp(want.host, have.host) != 0 || want.port != have.port) {
		line(t, "FAIL", "mqtt config", "the device publishes to %s (its MQTT.Broker), not to "
						 "--broker %s: point it there (sc-hil run "
						 "--configure-broker, or its page)",
		     url->valuestring, o->broker);
	} else if (cJSON_IsFalse(on)) {
		line(t, "FAIL", "mqtt config", "the device's MQTT is off (MQTT.Enabled false): it "
						 "publishes nothing to %s", url->valuestring);
	} else {
		line(t, "ok", "mqtt config", "the device publishes to %s, as --broker", url->valuestring);
	}
	cJSON_Delete(j);
}

/* Checks the API (GET /api/v1/status with the password); fills serial from
 * the twin's /sim/v1/state when it answers (a unit does not say it), and
 * with --broker compares the device's configured broker. */
static void check_api(const struct sc_doctor_opts *o, struct sc_dut *d, char *serial, size_t cap,
		      struct tally *t)
{
	const char *what = o->https_port > 0 ? "https" : "http api";
	int port = o->https_port > 0 ? o->https_port : o->http_port;
	char why[512];
	if (tcp_reach(o->dut, port, o->timeout_s, why, sizeof why) != 0) {
		line(t, "FAIL", what, "%s", why);
		return;
	}
	int status;
	char *body;
	if (sc_dut_http(d, "GET", "/api/v1/status", NULL, &status, &body, why, sizeof why) != 0) {
		line(t, "FAIL", what, "%s:%d connects but GET /api/v1/status has no answer: %s", o->dut,
		     port, why);
		return;
	}
	if (status == 401) {
		line(t, "FAIL", what, "%s:%d answers, but refuses the password: %s", o->dut, port,
		     o->password && *o->password ? "wrong (--password, $SC_HIL_PASSWORD)"
						 : "none given (--password or $SC_HIL_PASSWORD; the "
						   "label's, or the one set on the page)");
	} else if (status != 200) {
		line(t, "FAIL", what, "%s:%d: GET /api/v1/status answers %d", o->dut, port, status);
	} else {
		/* The serial number and firmware come from the twin's state
		 * (/sim/v1/state): a unit's status document holds neither. */
		free(body);
		body = NULL;
		cJSON *j = NULL;
		if (sc_dut_http(d, "GET", "/sim/v1/state", NULL, &status, &body, why, sizeof why) == 0 &&
		    status == 200)
			j = cJSON_Parse(body);
		const cJSON *sn = sc_json_at(j, "Status.System.SerialNumber");
		const cJSON *fw = sc_json_at(j, "Status.System.Firmware");
		if (cJSON_IsString(sn) && !*serial)
			snprintf(serial, cap, "%s", sn->valuestring);
		line(t, "ok", what, "%s:%d: serial %s, firmware %s", o->dut, port,
		     cJSON_IsString(sn) ? sn->valuestring : "?", cJSON_IsString(fw) ? fw->valuestring : "?");
		cJSON_Delete(j);
		if (o->broker)
			check_broker_config(o, d, t);
	}
	free(body);
}

static void check_http(const struct sc_doctor_opts *o, struct tally *t)
{
	char why[512];
	if (tcp_reach(o->dut, o->http_port, o->timeout_s, why, sizeof why) != 0)
		line(t, "FAIL", "http", "%s (the page at http://%s/ links to HTTPS)", why, o->dut);
	else
		line(t, "ok", "http", "%s:%d accepts connections", o->dut, o->http_port);
}

static void check_broker(const struct sc_doctor_opts *o, const char *serial, struct tally *t)
{
	struct sc_dut_opts bo = {0};
	bo.host = o->dut ? o->dut : "127.0.0.1";
	bo.broker_url = o->broker;
	bo.serial = *serial ? serial : "+";
	bo.timeout_s = o->timeout_s;
	char why[512];
	struct sc_dut *b = sc_dut_open(&bo, why, sizeof why);
	if (!b) {
		line(t, "FAIL", "broker", "%s", why);
		return;
	}
	line(t, "ok", "broker", "%s: subscribed to devices/+/smart-connect/%s/data/#", o->broker,
	     bo.serial);
	sc_dut_close(b);
}

int sc_doctor_run(const struct sc_doctor_opts *o)
{
	struct tally t = {0};
	list_ports(&t);
	if (o->port)
		check_adapter(o, &t);
	else
		line(&t, "note", "adapter", "not checked: --port DEV names the meter emulator's port");
	char serial[64] = "";
	if (o->serial)
		snprintf(serial, sizeof serial, "%s", o->serial);
	if (o->dut) {
		struct sc_dut_opts dopts = {0};
		dopts.host = o->dut;
		dopts.modbus_port = o->modbus_port;
		dopts.https_port = o->https_port;
		dopts.http_port = o->http_port;
		dopts.user = o->user;
		dopts.password = o->password ? o->password : "";
		dopts.serial = o->serial ? o->serial : "";
		dopts.timeout_s = o->timeout_s;
		char why[512];
		struct sc_dut *d = sc_dut_open(&dopts, why, sizeof why);
		if (!d) {
			line(&t, "FAIL", "device", "%s", why);
		} else {
			check_modbus(o, d, &t);
			if (o->https_port > 0 || o->http_port > 0)
				check_api(o, d, serial, sizeof serial, &t);
			else
				line(&t, "note", "api", "not checked: --https-port 0 and --http-port 0");
			if (o->https_port > 0 && o->http_port > 0)
				check_http(o, &t);
			else if (o->https_port > 0)
				line(&t, "note", "http", "not checked (--http-port 0)");
			sc_dut_close(d);
		}
	} else {
		line(&t, "note", "device", "not checked: --dut HOST names the device under test");
	}
	if (o->broker)
		check_broker(o, serial, &t);
	else
		line(&t, "note", "broker", "not checked: --broker URL names the broker the device "
					   "publishes to");
	printf("%d ok, %d failed, %d notes\n", t.ok, t.failed, t.notes);
	return t.failed;
}
