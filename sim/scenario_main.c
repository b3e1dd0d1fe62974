/* sc-sim --scenario FILE: the twin runs in this process's event loop; the
 * scenario runner (sim/runner/runner.h) runs in a thread of its own and sees the
 * twin only as a device on the network: Modbus, MQTT (through a real
 * broker) and HTTP clients on loopback. The meter line and the clock are
 * handed to the loop through a channel. At --speed max the loop runs on
 * virtual time, advanced by the runner from one event to the next. */
#define _DEFAULT_SOURCE
#include "ready.h"
#include "scenario_main.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "channel.h"
#include "dut.h"
#include "json_at.h"
#include "log.h"
#include "loop.h"
#include "runner.h"
#include "sc_error.h"
#include "scenario.h"
#include "statefile.h"
#include "twin.h"

struct scn {
	const struct sc_scenario *s;
	const char *dir;
	struct sc_loop *loop;
	struct sc_clock *clock;
	struct sc_twin *twin;
	struct sc_channel *ch;
	struct sc_dut *dut;
	const char *broker_url;
	const char *password;
	bool virt;
	bool each_telegram;         /* io.sample: every telegram read back */
	double speed;
	double real_start;          /* monotonic s at scenario time 0 (real time) */
	int modbus_port, https_port;
	struct sc_run run;
	int result;                 /* exit status */
	bool wall_report;
	double wall_s;
	bool mqtt_gave_up;          /* a connection attempt outlasted the wait (io_advance) */
	struct adv_arg *adv;        /* io_meter_begin's, until io_meter_end */
	struct sc_call *adv_call;
	const void *adv_data;       /* the bytes io_meter_begin was given */
	/* The read-back's registers (io_read_two) read in the loop right after
	 * it took the last telegram, in the same call: P (0x8016) and energy
	 * import (0x8100), each read's result (sc_twin_modbus_read). Valid
	 * until the runner's next call into the loop. */
	bool after_valid;
	uint16_t after_p[2], after_e[2];
	int after_rc[2];
	/* The hold on virtual time while the MQTT output is backed up (the
	 * loop's): the client's progress and when it last moved (monotonic
	 * s; -1 while not backed up), and whether a broker that took nothing
	 * for HOLD_GIVE_UP_S was given up on (until it takes something
	 * again). */
	uint64_t hold_progress;
	double hold_moved;
	bool hold_gave_up;
};

/* A broker that takes nothing for this long (real time) while the device's
 * output waits is stalled: virtual time goes on, and the device drops as
 * it would at real time. */
#define HOLD_GIVE_UP_S 5.0

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- what runs in the loop ---- */

/* The loop's hold on virtual time (sc_loop_set_hold): at real time a
 * device whose broker does not keep up drops what it cannot send (the
 * link's buffer, mqtt_link.c); in virtual time nothing but the replay's
 * own speed would force that, so the clock waits while the MQTT output is
 * backed up and the broker takes it. */
static bool mqtt_hold(void *arg)
{
	struct scn *x = arg;
	if (!x->twin)
		return false;
	uint64_t progress;
	bool backed_up = sc_twin_mqtt_backed_up(x->twin, &progress);
	if (progress != x->hold_progress) {
		if (x->hold_gave_up)
			sc_log(SC_LOG_INFO, "scenario: the broker takes the device's MQTT output again");
		x->hold_gave_up = false;
		x->hold_progress = progress;
		x->hold_moved = -1; /* now, should it be backed up */
	}
	if (!backed_up) {
		x->hold_moved = -1;
		return false;
	}
	if (x->hold_gave_up)
		return false;
	double now = mono_s();
	if (x->hold_moved < 0)
		x->hold_moved = now;
	if (now - x->hold_moved >= HOLD_GIVE_UP_S) {
		sc_log(SC_LOG_WARN, "scenario: the broker took none of the device's MQTT output for "
				    "%g s of real time; virtual time goes on (publishes beyond the "
				    "device's buffer are dropped, as at real time)", HOLD_GIVE_UP_S);
		x->hold_gave_up = true;
		return false;
	}
	return true;
}

struct bytes_arg {
	struct scn *x;
	const void *data;
	size_t len;
	bool arrived;          /* false: the cable is out */
};

static void in_loop_inject(void *arg, struct sc_call *call)
{
	struct bytes_arg *b = arg;
	struct sc_action a = {.kind = SC_ACT_TELEGRAM, .bytes = b->data, .len = b->len};
	char why[80];
	b->arrived = sc_twin_act(b->x->twin, &a, why, sizeof why) == 0;
	sc_channel_done(call, 0);
}

/* Virtual time brought to until_ms, then (meter_at) the bytes on the line:
 * one call into the loop for a telegram. */
struct adv_arg {
	struct scn *x;
	int64_t until_ms;
	const void *data;      /* bytes for the meter line once there, or NULL */
	size_t len;
	bool arrived;          /* they did (the cable is in) */
	char mqtt[24];         /* the MQTT client's state after it */
	struct sc_call *call;
};

static void advance_done(void *arg)
{
	struct adv_arg *a = arg;
	snprintf(a->mqtt, sizeof a->mqtt, "%s", sc_twin_mqtt_state(a->x->twin));
	/* While the client connects the bytes wait (see virt_advance). */
	if (a->data && !(a->x->broker_url && strcmp(a->mqtt, "connecting") == 0 &&
			 !a->x->mqtt_gave_up)) {
		struct sc_action tg = {.kind = SC_ACT_TELEGRAM, .bytes = a->data, .len = a->len};
		char why[80];
		a->arrived = sc_twin_act(a->x->twin, &tg, why, sizeof why) == 0;
		a->data = NULL;
		if (a->x->each_telegram) {
			struct scn *x = a->x;
			x->after_rc[0] = sc_twin_modbus_read(x->twin, 0x8016, 2, x->after_p);
			x->after_rc[1] = sc_twin_modbus_read(x->twin, 0x8100, 2, x->after_e);
			x->after_valid = true;
		}
	}
	sc_channel_done(a->call, 0);
}

static void in_loop_advance(void *arg, struct sc_call *call)
{
	struct adv_arg *a = arg;
	a->call = call;
	sc_loop_advance(a->x->loop, a->until_ms, advance_done, a);
}

struct act_arg {
	struct scn *x;
	const struct sc_step *st;
};

static void in_loop_act(void *arg, struct sc_call *call)
{
	struct act_arg *a = arg;
	char why[80];
	if (a->st->action.kind != SC_ACT_NONE)
		sc_twin_act(a->x->twin, &a->st->action, why, sizeof why);
	/* The broker back in virtual time: the scenario's clock waits for the
	 * device's next attempt instead of running on to it (as sc-hil's clock
	 * waits for a unit's), so the attempt is made now. */
	if (a->st->action.kind == SC_ACT_BROKER && !a->st->action.cut && a->x->virt)
		sc_twin_mqtt_attempt_now(a->x->twin);
	sc_channel_done(call, 0);
}

static void in_loop_stop(void *arg, struct sc_call *call)
{
	struct scn *x = arg;
	sc_loop_stop(x->loop);
	sc_channel_done(call, 0);
}

/* The twin's MQTT state ("connecting", "connected", "held down", ...). */
struct mqtt_arg {
	struct scn *x;
	char state[32];
};

static void in_loop_mqtt_state(void *arg, struct sc_call *call)
{
	struct mqtt_arg *a = arg;
	snprintf(a->state, sizeof a->state, "%s", sc_twin_mqtt_state(a->x->twin));
	sc_channel_done(call, 0);
}

struct flight_arg {
	struct scn *x;
	uint64_t n;
};

static void in_loop_in_flight(void *arg, struct sc_call *call)
{
	struct flight_arg *a = arg;
	/* What the batch holds goes to the broker before checks look. */
	sc_twin_mqtt_push(a->x->twin);
	a->n = sc_twin_mqtt_in_flight(a->x->twin);
	sc_channel_done(call, 0);
}

/* The read-back's two reads, served by the twin's Modbus server without a
 * connection (io.read_two). */
struct read_arg {
	struct scn *x;
	uint16_t a[2];
	int n[2];
	uint16_t *o[2];
	int rc[2];
};

static void in_loop_read(void *arg, struct sc_call *call)
{
	struct read_arg *a = arg;
	for (int i = 0; i < 2; i++)
		a->rc[i] = sc_twin_modbus_read(a->x->twin, a->a[i], (uint16_t)a->n[i], a->o[i]);
	sc_channel_done(call, 0);
}

/* The loop is about to wait: the batched MQTT output goes out. */
static void push_mqtt(void *arg)
{
	struct scn *x = arg;
	if (x->twin)
		sc_twin_mqtt_push(x->twin);
}

/* ---- the runner's side ---- */

/* Virtual time: the publishes of the telegrams sent are confirmed by the
 * client (mqtt_send_pass) in real time; checks wait for them, at most 1 s. */
static void io_settle(void *arg)
{
	struct scn *x = arg;
	if (!x->broker_url)
		return;
	double dl = mono_s() + 1;
	for (;;) {
		struct flight_arg a = {x, 0};
		if (sc_channel_run(x->ch, in_loop_in_flight, &a) != 0 || a.n == 0 || mono_s() >= dl)
			return;
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
}

static int io_meter(void *arg, const void *data, size_t len, char *why, size_t cap)
{
	struct scn *x = arg;
	x->after_valid = false;
	struct bytes_arg b = {x, data, len, false};
	if (sc_channel_run(x->ch, in_loop_inject, &b) != 0) {
		snprintf(why, cap, "the twin did not take the bytes");
		return -1;
	}
	if (!b.arrived) {
		snprintf(why, cap, "the meter cable is out");
		return 1;
	}
	return 0;
}

/* What follows the advance to t (a the loop's answer): a connection
 * attempt under way waited for, then the bytes if they waited too. 0, 1
 * when the bytes did not arrive (the cable is out), or -1. */
static int virt_after(struct scn *x, struct adv_arg *a, const void *data)
{
	/* A connection attempt runs in real time while virtual time races on:
	 * after a restart (button, power, reset, firmware update) every
	 * publish until it connects would be dropped, and MQTT expectations
	 * would depend on the machine's speed. Virtual time waits for an
	 * attempt in progress, as for "broker": "up", at most 5 s (then it
	 * goes on, until one connects again). Retries after a failure are
	 * timers of the loop: they run as virtual time advances. */
	if (!x->broker_url)
		return data && !a->arrived ? 1 : 0;
	if (strcmp(a->mqtt, "connected") == 0)
		x->mqtt_gave_up = false;
	if (strcmp(a->mqtt, "connecting") == 0 && !x->mqtt_gave_up) {
		double dl = mono_s() + 5;
		for (;;) {
			struct mqtt_arg m = {x, ""};
			if (sc_channel_run(x->ch, in_loop_mqtt_state, &m) != 0)
				return -1;
			if (strcmp(m.state, "connected") == 0)
				x->mqtt_gave_up = false;
			if (strcmp(m.state, "connecting") != 0)
				break;
			if (mono_s() >= dl) {
				sc_log(SC_LOG_WARN, "scenario: MQTT still connecting after 5 s of real time; "
						    "virtual time goes on");
				x->mqtt_gave_up = true;
				break;
			}
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
		}
	}
	if (a->data) {
		struct bytes_arg b = {x, a->data, a->len, false};
		if (sc_channel_run(x->ch, in_loop_inject, &b) != 0)
			return -1;
		a->arrived = b.arrived;
	}
	return data && !a->arrived ? 1 : 0;
}

/* Virtual time to t, then the bytes (may be NULL). 0, 1 when the bytes did
 * not arrive (the cable is out), or -1. */
static int virt_advance(struct scn *x, double t, const void *data, size_t len)
{
	x->after_valid = false;
	struct adv_arg a = {x, (int64_t)(t * 1000.0 + 0.5), data, len, false, "", NULL};
	if (sc_channel_run(x->ch, in_loop_advance, &a) != 0)
		return -1;
	return virt_after(x, &a, data);
}

/* io.meter_at in two halves: the advance and the bytes handed to the loop,
 * and what became of them waited for, the runner working in between. */
static int io_meter_begin(void *arg, double t, const void *data, size_t len, char *why, size_t cap)
{
	struct scn *x = arg;
	x->after_valid = false;
	struct adv_arg *a = malloc(sizeof *a);
	if (a) {
		*a = (struct adv_arg){x, (int64_t)(t * 1000.0 + 0.5), data, len, false, "", NULL};
		x->adv_call = sc_channel_post(x->ch, in_loop_advance, a);
	}
	if (!a || !x->adv_call) {
		free(a);
		snprintf(why, cap, "the twin did not take the bytes");
		return -1;
	}
	x->adv = a;
	x->adv_data = data;
	return 0;
}

static int io_meter_end(void *arg, char *why, size_t cap)
{
	struct scn *x = arg;
	struct adv_arg *a = x->adv;
	/* a->data is the loop's until the call is done: the bytes as given. */
	int rc = sc_channel_wait(x->adv_call) != 0 ? -1 : virt_after(x, a, x->adv_data);
	x->adv = NULL;
	x->adv_call = NULL;
	free(a);
	if (rc < 0)
		snprintf(why, cap, "the twin did not take the bytes");
	else if (rc > 0)
		snprintf(why, cap, "the meter cable is out");
	return rc;
}

static int io_meter_at(void *arg, double t, const void *data, size_t len, char *why, size_t cap)
{
	int rc = virt_advance(arg, t, data, len);
	if (rc < 0)
		snprintf(why, cap, "the twin did not take the bytes");
	else if (rc > 0)
		snprintf(why, cap, "the meter cable is out");
	return rc;
}

static int io_advance(void *arg, double t, char *why, size_t cap)
{
	struct scn *x = arg;
	(void)why;
	(void)cap;
	if (x->virt)
		return virt_advance(x, t, NULL, 0);
	/* Real time, X times faster: wait for the wall clock. */
	double due = x->real_start + t / x->speed;
	for (;;) {
		double left = due - mono_s();
		if (left <= 0)
			return 0;
		struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
		nanosleep(&ts, NULL);
	}
}

/* io.read_two: the twin's Modbus server answers in this process, in the
 * loop, as it would a client's request. The read after a telegram was
 * made in the loop as the telegram's call ended (the registers the runner
 * asks for after every telegram): virtual time stands still until the
 * runner's next call into the loop and no one else talks to the twin, so
 * the image is the one the runner would read now. Other reads, or after
 * another call, are a call into the loop of their own. */
static int io_read_two(void *arg, uint16_t a1, int n1, uint16_t *o1, uint16_t a2, int n2,
		       uint16_t *o2, char *why, size_t cap)
{
	struct scn *x = arg;
	struct read_arg a = {x, {a1, a2}, {n1, n2}, {o1, o2}, {-1, -1}};
	if (x->after_valid && a1 == 0x8016 && n1 == 2 && a2 == 0x8100 && n2 == 2) {
		/* Read with the telegram, in the same call into the loop. */
		memcpy(o1, x->after_p, sizeof x->after_p);
		memcpy(o2, x->after_e, sizeof x->after_e);
		a.rc[0] = x->after_rc[0];
		a.rc[1] = x->after_rc[1];
	} else if (n1 < 1 || n1 > 125 || n2 < 1 || n2 > 125 ||
		   sc_channel_run(x->ch, in_loop_read, &a) != 0) {
		snprintf(why, cap, "the twin did not answer");
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (a.rc[i] == 0)
			continue;
		if (a.rc[i] < 0)
			snprintf(why, cap, "the device serves no Modbus now");
		else
			snprintf(why, cap, "Modbus exception 0x%02X", (unsigned)a.rc[i]);
		return i == 0 ? -1 : 1;
	}
	return 0;
}

/* The twin's state (/sim/v1/state) answers path == want within wait_s of real time. */
static bool status_is(struct scn *x, const char *path, const char *want, double wait_s)
{
	double dl = mono_s() + wait_s;
	do {
		int st;
		char *body, why[256];
		if (sc_dut_http(x->dut, "GET", "/sim/v1/state", NULL, &st, &body, why, sizeof why) == 0) {
			cJSON *doc = st == 200 ? cJSON_Parse(body) : NULL;
			const cJSON *v = sc_json_at(doc, path);
			bool ok = cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
			cJSON_Delete(doc);
			free(body);
			if (ok)
				return true;
		}
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	} while (mono_s() < dl);
	return false;
}

static int io_act(void *arg, const struct sc_step *st, char *why, size_t cap)
{
	struct scn *x = arg;
	x->after_valid = false;
	if (st->kind == SC_STEP_BROKER && !x->broker_url) {
		snprintf(why, cap, "--mqtt off: no broker in this run");
		return 1;
	}
	struct act_arg a = {x, st};
	if (sc_channel_run(x->ch, in_loop_act, &a) != 0) {
		snprintf(why, cap, "the twin did not act");
		return -1;
	}
	/* The broker reachable again: the twin reconnects in real time, and the
	 * timeline goes on once it has (virtual time waits for it). */
	if (st->action.kind == SC_ACT_BROKER && !st->action.cut && x->virt) {
		double dl = mono_s() + 15;
		for (;;) {
			struct mqtt_arg m = {x, ""};
			if (sc_channel_run(x->ch, in_loop_mqtt_state, &m) != 0)
				return -1;
			if (strcmp(m.state, "connected") == 0)
				break;
			if (mono_s() >= dl) {
				snprintf(why, cap, "MQTT did not reconnect within 15 s");
				return -1;
			}
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

static void *runner_main(void *arg)
{
	struct scn *x = arg;
	char why[512];
	struct sc_dut_opts d = {
		.host = "127.0.0.1", .modbus_port = x->modbus_port, .https_port = x->https_port,
		.user = "user", .password = x->password, .broker_url = x->broker_url,
		.serial = x->s->serial, .timeout_s = 5,
		/* The twin's server answers requests in the order they came. */
		.pipeline = true,
	};
	x->dut = sc_dut_open(&d, why, sizeof why);
	if (!x->dut) {
		fprintf(stderr, "sc-sim: scenario %s: %s\n", x->s->name, why);
		x->result = 3;
		goto out;
	}
	/* Published telegrams need a connected device. */
	if (x->broker_url && !status_is(x, "Status.MQTT.State", "connected", 15)) {
		fprintf(stderr, "sc-sim: scenario %s: the twin did not connect to %s\n", x->s->name,
			x->broker_url);
		x->result = 3;
		goto out;
	}
	struct sc_run_io io = {.meter = io_meter, .advance = io_advance, .act = io_act,
			       .meter_at = x->virt ? io_meter_at : NULL,
			       .meter_begin = x->virt ? io_meter_begin : NULL,
			       .meter_end = x->virt ? io_meter_end : NULL,
			       .settle = x->virt ? io_settle : NULL, .arg = x, .tick = 0.25,
			       .mqtt_grace_ms = 3000, .sample = x->each_telegram,
			       .read_two = x->virt ? io_read_two : NULL};
	x->real_start = mono_s();
	double w0 = mono_s();
	int rc = sc_run_scenario(x->s, x->dir, x->dut, &io, &x->run, stdout);
	x->wall_s = mono_s() - w0;
	if (rc != 0) {
		fprintf(stderr, "sc-sim: scenario %s stopped: %s\n", x->s->name, x->run.error);
		x->result = 3;
	} else {
		x->result = x->run.fail ? 1 : 0;
	}
	printf("scenario %s: %d passed, %d failed, %d skipped; %zu telegrams over %g s of device "
	       "time in %.2f s",
	       x->s->name, x->run.pass, x->run.fail, x->run.skip, x->run.ntg, x->run.duration, x->wall_s);
	if (x->run.not_sent)
		printf("; %d did not reach the device", x->run.not_sent);
	printf("\n");
	fflush(stdout);
out:
	sc_channel_run(x->ch, in_loop_stop, x);
	return NULL;
}

/* ---- set up, run, tear down ---- */

static bool needs_mqtt(const struct sc_scenario *s)
{
	for (int i = 0; i < s->nsteps; i++) {
		if (s->steps[i].kind == SC_STEP_BROKER)
			return true;
		for (int k = 0; k < s->steps[i].nexpect; k++)
			if (s->steps[i].expect[k].kind == SC_EXPECT_MQTT)
				return true;
	}
	return false;
}

/* --mqtt off: what only MQTT can show is not checked. Each MQTT expectation,
 * each MQTT counter (mqtt_*) of a counters expectation and each MQTT state
 * (Status.MQTT.*) of an expectation on /sim/v1/state gets a SKIP line
 * saying so in run, before the run, and is taken out of the scenario (a
 * counters expectation left with nothing goes too); the run checks the rest.
 * 0, or -1 out of memory. */
static int skip_mqtt(struct sc_scenario *s, struct sc_run *run)
{
	static const char why[] = "--mqtt off: MQTT is not checked in this run";
	for (int i = 0; i < s->nsteps; i++) {
		struct sc_step *st = &s->steps[i];
		for (int k = 0; k < st->nexpect; k++) {
			struct sc_expect *e = &st->expect[k];
			if (e->kind == SC_EXPECT_MQTT) {
				if (sc_run_skip(run, stdout, st, e, why) != 0)
					return -1;
				continue;
			}
			bool counters = e->kind == SC_EXPECT_COUNTERS;
			bool state = e->kind == SC_EXPECT_HTTP && strcmp(e->path, "/sim/v1/state") == 0;
			if (!counters && !state)
				continue;
			int kept = 0;
			for (int j = 0; j < e->nm; j++) {
				const char *key = e->m[j].key;
				if (counters ? strncmp(key, "mqtt_", 5) != 0
					     : strncmp(key, "Status.MQTT.", 12) != 0) {
					e->m[kept++] = e->m[j];
					continue;
				}
				struct sc_expect one = *e;
				snprintf(one.path, sizeof one.path, "%s%s", counters ? "Status.Counters."
										: "/sim/v1/state ", key);
				if (sc_run_skip(run, stdout, st, &one, why) != 0)
					return -1;
				free(e->m[j].str);
			}
			/* Nothing left to check: dropped with the MQTT ones below. */
			if (kept == 0 && (counters || e->status == 0))
				e->kind = SC_EXPECT_MQTT;
			e->nm = kept;
		}
	}
	sc_scenario_drop_expects(s, SC_EXPECT_MQTT);
	return 0;
}

int sc_scenario_main(const struct sc_scenario_run *o, struct sc_twin_opts *to)
{
	/* Read and load: every error names the file and the JSON path. */
	size_t len;
	char err[1024];
	char *text = sc_read_file(o->path, &len, err, sizeof err);
	if (!text) {
		fprintf(stderr, "sc-sim: --scenario: %s\n", err);
		return strstr(err, "out of memory") ? 1 : 2;
	}
	struct sc_scenario *s;
	int rc = sc_scenario_load(text, len, o->path, &s, err, sizeof err);
	free(text);
	if (rc != SC_OK) {
		fprintf(stderr, "sc-sim: %s\n", err);
		return 2;
	}

	/* The device the scenario describes. */
	to->dev.protocol = s->device;
	to->dev.regs.order = s->word_order;
	to->firmware = s->firmware;
	snprintf(to->serial, sizeof to->serial, "%s", s->serial);
	to->src.kind = SC_SRC_NONE;
	to->source_spec = "none";
	to->modbus.addr = "127.0.0.1";
	to->modbus.port = 0;
	to->http_addr = "127.0.0.1";
	to->http_port = 0;
	to->https_addr = "127.0.0.1";
	to->https_port = 0;
	to->state_dir = NULL;
	to->control = true;
	static char password[32];
	snprintf(password, sizeof password, "scn-%ld-%ld", (long)getpid(), (long)time(NULL) % 100000);
	to->password = password;
	if (s->config) {
		struct sc_config_error e;
		if (sc_config_patch(&to->factory, s->config, strlen(s->config), &e) != SC_OK) {
			fprintf(stderr, "sc-sim: %s: config.%s: %s\n", o->path, e.field, e.reason);
			sc_scenario_free(s);
			return 2;
		}
	}
	{
		/* Fix: a capture that cannot be read or a slice that holds no
		 * telegram made the run stop with exit 3 ("could not be set
		 * up") without naming the file; it is the file's fault (2). */
		char *dcopy = strdup(o->path);
		int crc = sc_run_check_captures(s, dcopy ? dirname(dcopy) : ".", err, sizeof err);
		free(dcopy);
		if (crc != 0) {
			fprintf(stderr, "sc-sim: %s: %s\n", o->path, err);
			sc_scenario_free(s);
			return 2;
		}
	}
	struct sc_broker_proc broker = {0};
	const char *broker_url = NULL;
	/* --mqtt URL: a copy, as the URL given may be the factory broker's
	 * field that the broker is written into below. */
	static char given_url[sizeof to->factory.broker];
	struct sc_run skipped = {0};
	if (o->mqtt_off && skip_mqtt(s, &skipped) != 0) {
		fprintf(stderr, "sc-sim: out of memory\n");
		sc_run_free(&skipped);
		sc_scenario_free(s);
		return 1;
	}
	if (o->mqtt_off || !needs_mqtt(s)) {
		to->mqtt_off = true;
	} else if (o->mqtt_url) {
		snprintf(given_url, sizeof given_url, "%s", o->mqtt_url);
		broker_url = given_url;
		/* Named on the command line: dialled, whichever broker it is. */
		to->dial_factory_broker = true;
	} else {
		if (sc_broker_start(&broker, err, sizeof err) != 0) {
			fprintf(stderr, "sc-sim: scenario %s needs an MQTT broker: %s (or give --mqtt URL)\n",
				s->name, err);
			sc_run_free(&skipped);
			sc_scenario_free(s);
			return 3;
		}
		broker_url = broker.url;
	}
	if (broker_url) {
		to->mqtt_off = false;
		to->factory.mqtt_enabled = true;
		snprintf(to->factory.broker, sizeof to->factory.broker, "%s", broker_url);
		/* The back-off is the device's (--mqtt-reconnect-min/max): its
		 * timers run on virtual time. */
		to->plaintext_ok = true;
	}

	struct scn x;
	memset(&x, 0, sizeof x);
	x.run = skipped; /* the SKIP lines of --mqtt off, first in the results */
	x.s = s;
	char *path_copy = strdup(o->path);
	x.dir = path_copy ? dirname(path_copy) : ".";
	x.virt = o->speed_max;
	x.each_telegram = o->each_telegram;
	x.speed = o->speed > 0 ? o->speed : 1;
	x.broker_url = broker_url;
	x.password = password;
	x.loop = sc_loop_new();
	static struct sc_clock clock;
	x.clock = &clock;
	int code = 3;
	if (!x.loop)
		goto out;
	int64_t epoch_ms = s->meter.start * 1000;
	if (x.virt) {
		sc_loop_set_virtual(x.loop, 0);
		x.hold_moved = -1;
		sc_loop_set_hold(x.loop, mqtt_hold, &x);
		sc_clock_init(&clock, epoch_ms, 0, 1);
	} else {
		sc_clock_init(&clock, epoch_ms, sc_loop_now(x.loop), x.speed);
	}
	rc = sc_twin_start(x.loop, &clock, to, &x.twin, err, sizeof err);
	if (rc != SC_OK) {
		sc_log(SC_LOG_ERROR, "%s", err);
		code = rc == SC_ERR_NOMEM ? 1 : 3; /* as sc-sim's exit statuses say */
		goto out;
	}
	if (x.virt) {
		/* Many publishes to a segment: the broker and the subscriber
		 * wake once for them (pushed whenever the loop waits). */
		sc_twin_mqtt_batch(x.twin, true);
		sc_loop_set_before_sleep(x.loop, push_mqtt, &x);
	}
	x.modbus_port = sc_twin_modbus_port(x.twin);
	x.https_port = sc_twin_https_port(x.twin);
	{
		struct sc_ready rd = {sc_twin_serial(x.twin), 1, x.modbus_port,
				      sc_twin_http_port(x.twin), x.https_port, s->name};
		if (sc_ready_announce(o->ready_file, &rd, err, sizeof err) != 0) {
			fprintf(stderr, "sc-sim: --ready-file: %s\n", err);
			goto out;
		}
	}
	x.ch = sc_channel_new(x.loop);
	if (!x.ch)
		goto out;
	sc_log(SC_LOG_INFO, "scenario %s: %d steps over %g s, %s%s", s->name, s->nsteps, s->duration,
	       x.virt ? "as fast as it goes (virtual time)" : "real time",
	       broker_url ? "" : ", no MQTT");
	pthread_t th;
	if (pthread_create(&th, NULL, runner_main, &x) != 0)
		goto out;
	sc_loop_run(x.loop);
	pthread_join(th, NULL);
	code = x.result;
	if (broker_url) {
		/* Where the device's publishes went, each way of dropping one counted. */
		char line[256];
		sc_twin_mqtt_summary(x.twin, line, sizeof line);
		sc_log(SC_LOG_INFO, "scenario: the device's %s", line);
	}
	if (o->results) {
		/* The run for a report writer (sc-hil's formats). */
		o->results(o->results_arg, s, &x.run, x.wall_s);
	}
out:
	/* Every way out after the twin started takes the ready file away. */
	if (x.twin)
		sc_ready_withdraw(o->ready_file);
	sc_dut_close(x.dut);
	sc_run_free(&x.run);
	sc_channel_free(x.ch);
	sc_twin_stop(x.twin);
	sc_loop_free(x.loop);
	sc_broker_stop(&broker);
	sc_scenario_free(s);
	free(path_copy);
	return code;
}
