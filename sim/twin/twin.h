/* One virtual Smart Connect: the meter pipeline (device.h) fed by a source,
 * the dongle model (dongle.h: configuration, firmware, restarts, network,
 * LED, button), and the services a real unit runs on the network (Modbus
 * TCP, MQTT, the HTTP API and page over HTTP and HTTPS), all on one event
 * loop. sc-sim runs one (or, in fleet mode, many) of these. */
#ifndef SC_TWIN_H
#define SC_TWIN_H

#include <stdbool.h>
#include <stdint.h>

#include "action.h"
#include "api.h"
#include "clock.h"
#include "config.h"
#include "device.h"
#include "diag.h"
#include "dongle.h"
#include "loop.h"
#include "modbus_server.h"
#include "source.h"

#define SC_SERIAL_MAX 32

struct sc_twin;

/* sc_twin_opts.given: what the command line set. */
enum {
	SC_GIVEN_BROKER = 1 << 0,        /* --mqtt URL: MQTT.Enabled, MQTT.Broker */
	SC_GIVEN_MQTT_USER = 1 << 1,     /* --mqtt-user */
	SC_GIVEN_MQTT_PASSWORD = 1 << 2, /* --mqtt-password */
	SC_GIVEN_SITE = 1 << 3,          /* --site */
	SC_GIVEN_FIRMWARE = 1 << 4,      /* --firmware */
};

struct sc_twin_opts {
	char serial[SC_SERIAL_MAX + 1];
	const char *firmware;          /* the factory version, "5.2.0" */
	struct sc_device_config dev;   /* on_event is the twin's own */
	struct sc_source_opts src;
	const char *source_spec;
	struct sc_modbus_opts modbus;
	/* The configuration the device has out of the box (and after a
	 * factory reset); the command line sets it. */
	struct sc_config factory;
	/* MQTT: what is not in the device configuration. */
	bool mqtt_off;                 /* --mqtt off: no client at all */
	/* The factory broker (SC_CONFIG_DEFAULT_BROKER, the vendor's cloud) is
	 * shown in the configuration but dialled only when this is set (--mqtt
	 * named it): a twin contacts no host beyond the machine unasked. */
	bool dial_factory_broker;
	/* Which factory settings and the firmware the command line gave
	 * (SC_GIVEN_*): a saved value that overrides one at start is logged. */
	unsigned given;
	const char *cafile, *certfile, *keyfile;
	const char *client_id;         /* NULL = the serial number */
	int qos;
	bool retain;
	int keepalive_s;
	int reconnect_min_ms, reconnect_max_ms;
	bool plaintext_ok;             /* credentials over plain TCP allowed */
	enum sc_topic_site topic_site;
	int counters_interval_s;       /* device_counters period (device clock) */
	uint64_t seed;                 /* heap model */
	/* HTTP */
	const char *state_dir;         /* NULL: nothing saved */
	const char *password;          /* NULL: the saved one, or a new one */
	const char *http_addr, *https_addr; /* NULL: off */
	int http_port, https_port;
	int64_t session_idle_ms;
	bool echo_secrets;
	const unsigned char *page;     /* the page at / (--web-root); NULL: built in */
	size_t page_len;
	bool plain_http_api;
	bool power_up;                 /* start with power-up and initialising */
	bool led_link_local_normal;    /* --led-link-local normal (dongle.h) */
	const char *p1_out;            /* P1 ext output: a serial port or pty, or NULL */
	const char *record;            /* the meter line recorded there (capture.h), or NULL */
	bool control;                  /* the twin's own control API (/sim/v1/...) */
	int https_port_shown;          /* without servers of its own (a fleet's device):
					* the HTTPS port its landing page links to */
	/* Where the twin's own HTTP servers hand each request (router.h: the
	 * control API and the device API by path); NULL: the device API only. */
	void (*route)(struct sc_twin *t, const struct sc_http_request *rq,
		      struct sc_http_response *rs);
};

/* Starts the device and its services into *out. Returns 0, or a negative
 * sc_err with why (nothing left running): SC_ERR_NOMEM, SC_ERR_INVAL (the
 * firmware version), SC_ERR_IO (a port, the source, a file or the state
 * directory cannot be used). */
int sc_twin_start(struct sc_loop *loop, struct sc_clock *clock, const struct sc_twin_opts *o,
		  struct sc_twin **out, char *why, size_t cap);
/* Stops and frees; NULL is fine. */
void sc_twin_stop(struct sc_twin *t);

/* True when the broker URL names the factory broker's host (the vendor's
 * cloud, SC_CONFIG_DEFAULT_BROKER), whatever its scheme and port. */
bool sc_twin_is_factory_broker(const char *url);

struct sc_device *sc_twin_device(struct sc_twin *t);
/* The ports listened on (useful with port 0); 0 when not listening. */
int sc_twin_modbus_port(const struct sc_twin *t);
/* What a Modbus client reading count registers from addr is served now,
 * read in this process without a connection (sc_modbus_read): 0 with out
 * filled, the exception code the request would get (> 0), or -1 when the
 * device serves no Modbus now (restarting, powered off). */
int sc_twin_modbus_read(struct sc_twin *t, uint16_t addr, uint16_t count, uint16_t *out);
int sc_twin_https_port(const struct sc_twin *t);
int sc_twin_http_port(const struct sc_twin *t);
struct sc_dongle *sc_twin_dongle(struct sc_twin *t);
/* The device_counters figures now. */
void sc_twin_diag(struct sc_twin *t, struct sc_diag *out);
/* A "ready:" line listing what the device serves. */
void sc_twin_describe(struct sc_twin *t, char *buf, size_t cap);
/* One line of totals for the log at shutdown. */
void sc_twin_summary(struct sc_twin *t, char *buf, size_t cap);
/* Its MQTT part: "mqtt: N sent, N failed (N dropped while not connected,
 * N refused, N lost with the connection), N connects, N errors". */
void sc_twin_mqtt_summary(struct sc_twin *t, char *buf, size_t cap);

/* A request to the device's own HTTP surface: its API (/api/...) and page.
 * The control API is above the twin (control.h); router.h serves both. */
void sc_twin_api(struct sc_twin *t, const struct sc_http_request *rq, struct sc_http_response *rs);
/* Whether the control API (/sim/v1) answers for this twin (--control). */
bool sc_twin_control_on(const struct sc_twin *t);
/* The serial number, and the MQTT client's state (SC_MQTT_* of mqtt.h; -1
 * without a client). */
const char *sc_twin_serial(const struct sc_twin *t);
/* The device API's settings (its names and addresses), owned by the twin. */
const struct sc_api *sc_twin_api_of(const struct sc_twin *t);
int sc_twin_mqtt_state_code(const struct sc_twin *t);

/* ---- what is done to a twin from outside ---- */

/* One action (action.h) carried out now: the one entry point for scenario
 * steps, control API requests and test hooks. Returns 0; 1 for a telegram
 * that never arrives (the meter cable is out); SC_ERR_INVAL with why for
 * SC_ACT_NONE; for values set on the meter, sc_source_meter_set's answer
 * (SC_ERR_INVAL / SC_ERR_RANGE: a value the meter cannot express;
 * SC_ERR_UNSUPPORTED: the source has no meter of its own). */
int sc_twin_act(struct sc_twin *t, const struct sc_action *a, char *why, size_t cap);
/* A telegram was fed by hand: the generated meter holds its telegrams
 * back until values are set again (sc_source_pause). */
void sc_twin_hold_generator(struct sc_twin *t);
/* Another meter source (SPEC as --source; o gives its options). Returns 0,
 * or a negative sc_err with why (the old source stays). */
int sc_twin_set_source(struct sc_twin *t, const char *spec, const struct sc_source_opts *o,
		       char *why, size_t cap);
const struct sc_source_opts *sc_twin_source_opts(const struct sc_twin *t);
/* The MQTT client's state as Status.MQTT.State names it ("off" without one). */
const char *sc_twin_mqtt_state(const struct sc_twin *t);
/* Publishes under way while connected (0 without a client or connection). */
uint64_t sc_twin_mqtt_in_flight(const struct sc_twin *t);
/* Virtual time (sc-sim --scenario --speed max): the MQTT client's publishes
 * batched, many to a segment (sc_mqtt_batch), until sc_twin_mqtt_push; the
 * loop's owner pushes whenever it waits. */
void sc_twin_mqtt_batch(struct sc_twin *t, bool on);
void sc_twin_mqtt_push(struct sc_twin *t);
/* The MQTT client's output is backed up (sc_mqtt_backed_up): false
 * without a client or connection. */
bool sc_twin_mqtt_backed_up(const struct sc_twin *t, uint64_t *progress);
/* The MQTT client's next attempt made now rather than when its back-off
 * says (a scenario in virtual time, whose clock waits for a reconnection);
 * nothing when it is connected, connecting or held. */
void sc_twin_mqtt_attempt_now(struct sc_twin *t);
/* The device clock X times faster from now (shared by every twin of the loop). */
void sc_twin_set_speed(struct sc_twin *t, double speed);
/* The whole internal state as JSON (malloc'd), NULL when out of memory:
 * {"Status": ..., "Twin": ...}, GET /sim/v1/state (control.h). */
char *sc_twin_state_json(struct sc_twin *t);

#endif
