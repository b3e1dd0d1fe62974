/* Inside one twin (twin.h): the state the twin's files share. twin.c wires
 * the device (meter, dongle, servers, start and stop), twin_state.c keeps
 * its saved state, twin_mqtt.c holds what it publishes when, and
 * twin_act.c what is done to it from outside. Not for use beyond sim/twin/. */
#ifndef SC_TWIN_IMPL_H
#define SC_TWIN_IMPL_H

#include "capture.h"
#include "http.h"
#include "mqtt.h"
#include "p1out.h"
#include "statefile.h"
#include "twin.h"

struct sc_twin {
	struct sc_loop *loop;
	struct sc_clock *clock;
	struct sc_twin_opts o;
	struct sc_state state;
	struct sc_device dev;
	struct sc_dongle dongle;
	struct sc_api api;
	struct sc_source *source;
	struct sc_modbus *modbus;
	int modbus_port;          /* kept across restarts (port 0 picks once) */
	struct sc_mqtt *mqtt;
	bool mqtt_batch;          /* sc_twin_mqtt_batch: for every client started */
	struct sc_http *http, *https;
	struct sc_p1out *p1out;
	struct sc_capture_writer *record; /* --record: the meter line, timestamped */
	bool record_failing;              /* logged once until a write succeeds again */
	bool broker_cut;
	int release_timer;        /* the button's release (a press) */
	int64_t release_at_ms;    /* the device time it is due */
	char *cert_pem, *key_pem;
	char topic_power[300], topic_counters[300];
	enum sc_meter_link link;  /* as last logged */
	int link_timer, counters_timer, ping_timer, dongle_timer;
	int64_t next_counters_ms, next_ping_ms;
	struct sc_diag pings;     /* the ping counters of the model */
	struct sc_heap_model heap;
	char mqtt_note[512];      /* why there is no MQTT client, "" when there is one */
};

/* The device clock now (ms). */
int64_t sc_twin_now_ms(const struct sc_twin *t);
/* The dongle's changes carried out (services, firmware, network), and its
 * next step scheduled (twin.c). */
void sc_twin_apply(struct sc_twin *t, const struct sc_dongle_events *ev);
void sc_twin_schedule_dongle(struct sc_twin *t);
/* What the device API needs of the device now (api.h). */
void sc_twin_api_ctx(struct sc_twin *t, struct sc_api_ctx *c);

/* ---- saved state (twin_state.c) ---- */

/* The saved configuration into out; false when there is none or it is
 * unusable (logged: the factory settings are used). */
bool sc_twin_load_config(struct sc_twin *t, struct sc_config *out);
/* The api.h save hook: the configuration written to the state directory. */
int sc_twin_save_config(void *arg, const struct sc_config *c, char *why, size_t cap);
/* The saved firmware version into fw, when there is a usable one. */
void sc_twin_load_firmware(struct sc_twin *t, struct sc_fw_version *fw);
/* Logs each setting the command line gave (t->o.given) that the saved
 * configuration or firmware version overrides at start, a line each. */
void sc_twin_log_overrides(const struct sc_twin *t, const struct sc_config *saved,
			   const struct sc_fw_version *fw_given, const struct sc_fw_version *fw_saved);
/* The running firmware version saved (errors logged). */
void sc_twin_save_firmware(struct sc_twin *t);
/* A factory reset: the saved configuration removed (errors logged). */
void sc_twin_forget_config(struct sc_twin *t);
/* The login password: --password, the saved one, or a new one saved.
 * Returns 0, or a negative sc_err with why. */
int sc_twin_setup_password(struct sc_twin *t, char *pw, size_t cap, char *why, size_t wcap);
/* The HTTPS certificate and key: the saved ones, or new self-signed ones
 * saved. Returns 0, or a negative sc_err with why. */
int sc_twin_setup_certificate(struct sc_twin *t, char *why, size_t cap);

/* ---- the MQTT policy (twin_mqtt.c) ---- */

/* The client for the configuration in force (none when it is off, or when
 * it would send credentials in plain text), and its topics. */
void sc_twin_start_mqtt(struct sc_twin *t);
void sc_twin_stop_mqtt(struct sc_twin *t);
/* Held while the device has no address or the broker is cut off. */
void sc_twin_hold_mqtt(struct sc_twin *t);
/* power_instant for the reading just parsed. */
void sc_twin_publish_power(struct sc_twin *t);
/* The ping and device_counters timers from now. */
void sc_twin_start_timers(struct sc_twin *t, int64_t now);
/* The MQTT part of the ready line. */
void sc_twin_describe_mqtt(struct sc_twin *t, char *buf, size_t cap);

#endif
