/* sc-hil: plays a scenario into a Smart Connect through a USB-serial meter
 * emulator, reads what the dongle serves over Modbus, MQTT and HTTP, and
 * compares it step by step with what the twin says it should serve.
 *
 *   sc-hil run SCENARIO --port DEV --dut HOST [options]
 *   sc-hil record SCENARIO|CAPTURE --port DEV --dut HOST -o OUT.json [options]
 *   sc-hil doctor [--port DEV] [--dut HOST] [--broker URL] [options]
 *
 * The device under test is a real dongle on the lab network, or an sc-sim
 * reading the other end of a pty pair (which is how the harness is tested
 * without hardware); with an sc-sim, the actions of a scenario (button,
 * power, network, broker) go through its control API. */
#define _DEFAULT_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "doctor.h"
#include "dut.h"
#include "firmware.h"
#include "json_at.h"
#include "log.h"
#include "meter_line.h"
#include "meter_port.h"
#include "record.h"
#include "report.h"
#include "runner.h"
#include "sc_error.h"
#include "scenario.h"
#include "statefile.h"

#define EXIT_MISMATCH 1
#define EXIT_USAGE 2
#define EXIT_SETUP 3

/* Real seconds after the meter port comes back in which a telegram's
 * read-back is not judged. */
#define LINE_BACK_S 2.0
/* Real seconds the scenario's clock waits for the device to reconnect to a
 * broker that is up again. */
#define RECONNECT_S 15.0

static const char *prog = "sc-hil";

/* usage(FILE *): the text of man/help/sc-hil.txt, generated at build time. */
#include "help/sc-hil.h"

struct hil {
	const struct sc_scenario *s;
	struct sc_dut *dut;
	struct sc_meter_port *port;
	/* The meter line on its own thread (meter_line.h), started with the
	 * first telegram handed to it; it alone then writes the port and
	 * reads `cut`. */
	struct sc_meter_line *line;
	bool twin;                 /* the device under test is an sc-sim (control API) */
	bool cut;                  /* the scenario took the meter cable out */
	double speed;
	double t0;                 /* monotonic s at scenario time 0 */
	const char *hook;
	struct sc_broker_proc *broker; /* private, or NULL */
};

static pid_t broker_pid; /* a private broker, stopped with us on a signal */

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void port_log(void *arg, const char *line)
{
	(void)arg;
	sc_log(SC_LOG_WARN, "%s", line);
}

/* ---- the runner's side ---- */

/* A telegram on the meter port now, as io.meter answers; *started: when
 * its first byte left (left alone when none did). */
static int meter_send(void *arg, const void *data, size_t len, double *started, char *why, size_t cap)
{
	struct hil *h = arg;
	if (h->cut) {
		snprintf(why, cap, "the meter cable is out (the scenario cut it)");
		return 1;
	}
	int r = sc_meter_port_send(h->port, data, len, why, cap);
	double t = sc_meter_port_last_start(h->port);
	if (r != 1 && !isnan(t))
		*started = t;
	/* A device whose line just came back may not listen yet (it reopens
	 * its own port, or it restarts): not judged by what it serves. */
	if (r == 0 && sc_meter_port_since_back(h->port) < LINE_BACK_S)
		return 2;
	return r;
}

static int io_meter(void *arg, const void *data, size_t len, char *why, size_t cap)
{
	double started = 0;
	return meter_send(arg, data, len, &started, why, cap);
}

/* The meter cable, on the line's thread at its time. */
static void meter_cable(void *arg, bool cut)
{
	struct hil *h = arg;
	h->cut = cut;
	sc_log(SC_LOG_INFO, "meter: %s", cut ? "cut (nothing is sent)" : "restored");
}

static int line_started(struct hil *h, char *why, size_t cap)
{
	if (h->line)
		return 0;
	struct sc_meter_line_opts lo = {.t0 = h->t0, .speed = h->speed, .send = meter_send,
					.cable = meter_cable, .arg = h};
	h->line = sc_meter_line_start(&lo, why, cap);
	return h->line ? 0 : -1;
}

static int io_line_put(void *arg, double t, const void *data, size_t len, char *why, size_t cap)
{
	struct hil *h = arg;
	if (line_started(h, why, cap) != 0)
		return -1;
	if (sc_meter_line_put(h->line, t, data, len) != 0) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	return 0;
}

static int io_line_cable(void *arg, double t, bool cut, char *why, size_t cap)
{
	struct hil *h = arg;
	if (line_started(h, why, cap) != 0)
		return -1;
	if (sc_meter_line_cable(h->line, t, cut) != 0) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	return 0;
}

static int io_line_take(void *arg, struct sc_run_written *w, char *why, size_t cap)
{
	struct hil *h = arg;
	struct sc_meter_line_done d;
	if (!h->line || sc_meter_line_take(h->line, &d) != 0) {
		snprintf(why, cap, "no telegram was handed to the meter line");
		return -1;
	}
	*w = (struct sc_run_written){d.sent, d.written, d.ended, d.late_s};
	snprintf(why, cap, "%s", d.why);
	return 0;
}

/* The line stopped (its thread joined): the port is the caller's again. */
static void line_stop(struct hil *h)
{
	sc_meter_line_stop(h->line);
	h->line = NULL;
}

static int io_advance(void *arg, double t, char *why, size_t cap)
{
	struct hil *h = arg;
	(void)why;
	(void)cap;
	sleep_s(h->t0 + t / h->speed - mono_s());
	return 0;
}

static double io_clock(void *arg)
{
	struct hil *h = arg;
	return (mono_s() - h->t0) * h->speed;
}

/* A request to the twin's control API: 0, or -1 with why. */
static int control(struct hil *h, const char *path, const char *body, char *why, size_t cap)
{
	int st;
	char *resp = NULL;
	if (sc_dut_http(h->dut, "POST", path, body, &st, &resp, why, cap) != 0)
		return -1;
	int rc = st / 100 == 2 ? 0 : -1;
	if (rc)
		snprintf(why, cap, "POST %s answered %d: %.200s", path, st, resp ? resp : "");
	free(resp);
	return rc;
}

/* The hook: 0 done, 1 not possible here, -1 failed. */
static int run_hook(struct hil *h, const char *action, const char *arg1, char *why, size_t cap)
{
	if (!h->hook) {
		snprintf(why, cap, "no way to do '%s' to this device here (give --hook CMD)", action);
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, cap, "--hook: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exec $0 \"$@\"", h->hook, action, arg1, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (code == 0)
		return 0;
	if (code == 77) {
		snprintf(why, cap, "--hook %s %s: not possible here", action, arg1 ? arg1 : "");
		return 1;
	}
	snprintf(why, cap, "--hook %s %s failed (exit %d)", action, arg1 ? arg1 : "", code);
	return -1;
}

static int wait_ready(struct sc_dut *d, bool want_mqtt, double timeout_s, char *why, size_t cap);
static int do_act(struct hil *h, const struct sc_step *st, char *why, size_t cap);

/* An action; after the broker is up again, the scenario's clock waits for
 * the device to reconnect (a device's backoff is its own: a scenario says
 * what follows the reconnection), as virtual time does in sc-sim. */
static int io_act(void *arg, const struct sc_step *st, char *why, size_t cap)
{
	struct hil *h = arg;
	int rc = do_act(h, st, why, cap);
	if (rc != 0 || st->action.kind != SC_ACT_BROKER || st->action.cut ||
	    !sc_dut_mqtt_subscribed(h->dut))
		return rc;
	double w0 = mono_s();
	char err[300];
	int ready = wait_ready(h->dut, true, RECONNECT_S, err, sizeof err);
	double waited = mono_s() - w0;
	h->t0 += waited;
	if (h->line)
		sc_meter_line_shift(h->line, waited);
	if (ready != 0) {
		snprintf(why, cap, "the broker is up, but %s", err);
		return -1;
	}
	sc_log(SC_LOG_INFO, "broker up: the device reconnected in %.1f s (the scenario's clock waited)",
	       waited);
	return 0;
}

static int do_act(struct hil *h, const struct sc_step *st, char *why, size_t cap)
{
	/* The step's action (action.h), as far as this bench can carry it: the
	 * meter cable through the serial port; the rest through an sc-sim's
	 * control API, or a --hook, or the private broker. */
	const struct sc_action *a = &st->action;
	char body[256];
	switch (a->kind) {
	case SC_ACT_METER:
		/* As the dongle sees it, a meter that stops sending. */
		h->cut = a->cut;
		sc_log(SC_LOG_INFO, "meter: %s", a->cut ? "cut (nothing is sent)" : "restored");
		return 0;
	case SC_ACT_BUTTON:
		snprintf(body, sizeof body, "{\"Seconds\":%g}", a->seconds);
		if (h->twin)
			return control(h, "/sim/v1/button", body, why, cap);
		snprintf(body, sizeof body, "%g", a->seconds);
		return run_hook(h, "button", body, why, cap);
	case SC_ACT_POWER:
		if (h->twin)
			return control(h, "/sim/v1/power", "{\"Action\":\"cycle\"}", why, cap);
		return run_hook(h, "power", "cycle", why, cap);
	case SC_ACT_NETWORK: {
		size_t used = (size_t)snprintf(body, sizeof body, "{");
		for (int i = 0; i < SC_NET_FIELDS; i++)
			if (a->net_given[i])
				used += (size_t)snprintf(body + used, sizeof body - used, "%s\"%s\":%s",
							 used > 1 ? "," : "", sc_net_field_names[i],
							 a->net_value[i] ? "true" : "false");
		snprintf(body + used, sizeof body - used, "}");
		if (h->twin)
			return control(h, "/sim/v1/network", body, why, cap);
		return run_hook(h, "network", body, why, cap);
	}
	case SC_ACT_BROKER:
		if (h->twin)
			return control(h, "/sim/v1/broker", a->cut ? "{\"Reachable\":false}"
								  : "{\"Reachable\":true}",
				       why, cap);
		if (h->broker) {
			/* Our own broker: stopped, and started again on its port. */
			if (a->cut) {
				sc_broker_stop(h->broker);
				return 0;
			}
			char addr[64];
			snprintf(addr, sizeof addr, "%s", h->broker->addr);
			int port = h->broker->port;
			int rc = sc_broker_start_at(h->broker, addr, port, why, cap) == 0 ? 0 : -1;
			broker_pid = h->broker->pid;
			return rc;
		}
		return run_hook(h, "broker", a->cut ? "down" : "up", why, cap);
	case SC_ACT_TELEGRAM: /* telegrams go over the meter port (io_meter) */
	case SC_ACT_NONE:
		break;
	}
	snprintf(why, cap, "not an action");
	return 1;
}

/* ---- setting up ---- */

/* A string at a dotted path of a JSON answer, or "" (into out). */
static void json_string(const cJSON *doc, const char *path, char *out, size_t cap)
{
	const cJSON *v = sc_json_at(doc, path);
	snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* GET path until it answers 200 or wait_s pass; the body (malloc'd) or NULL.
 * A 401 (the password refused) is not tried again: each attempt would add
 * to the unit's failed-login delay. *code (may be NULL): the last status,
 * 0 when nothing answered. */
static char *get_200(struct sc_dut *d, const char *path, double wait_s, int *code, char *why,
		     size_t cap)
{
	double dl = mono_s() + wait_s;
	for (;;) {
		int st = 0;
		char *body = NULL;
		if (sc_dut_http(d, "GET", path, NULL, &st, &body, why, cap) == 0) {
			if (code)
				*code = st;
			if (st == 200)
				return body;
			snprintf(why, cap, "GET %s answered %d", path, st);
			free(body);
			if (st == 401)
				return NULL;
		} else if (code) {
			*code = 0;
		}
		if (mono_s() >= dl)
			return NULL;
		sleep_s(0.2);
	}
}

/* get_200, parsed: the document (cJSON_Delete it) or NULL with why. */
static cJSON *get_json(struct sc_dut *d, const char *path, double wait_s, int *code, char *why,
		       size_t cap)
{
	char *body = get_200(d, path, wait_s, code, why, cap);
	if (!body)
		return NULL;
	cJSON *doc = cJSON_Parse(body);
	free(body);
	if (!doc)
		snprintf(why, cap, "GET %s: the answer is not JSON", path);
	return doc;
}

/* Waits for the device to run with no restart pending and, with want_mqtt,
 * to be connected to its broker. 0, or -1 with why (its state when the time
 * was up). The state comes from the twin's /sim/v1/state ("Status"): a unit
 * serves none of it (its /api/v1/status is the manual's document only), so
 * for a unit (the state refused: 403 or 404) the device is taken as ready
 * once its API answers 200 again after a restart, MQTT unseen. */
static int wait_ready(struct sc_dut *d, bool want_mqtt, double timeout_s, char *why, size_t cap)
{
	double start = mono_s(), dl = start + timeout_s;
	char state[32] = "", mq[32] = "";
	bool away = false, told = false;
	for (;;) {
		int st = 0;
		char *body = NULL;
		if (sc_dut_http(d, "GET", "/sim/v1/state", NULL, &st, &body, why, cap) == 0 && st == 200) {
			cJSON *doc = cJSON_Parse(body);
			bool pending = cJSON_IsTrue(sc_json_at(doc, "Status.System.RestartPending"));
			json_string(doc, "Status.System.State", state, sizeof state);
			json_string(doc, "Status.MQTT.State", mq, sizeof mq);
			cJSON_Delete(doc);
			if (!pending && strcmp(state, "running") == 0 &&
			    (!want_mqtt || strcmp(mq, "connected") == 0)) {
				free(body);
				return 0;
			}
		} else if (st == 403 || st == 404) {
			/* A unit: only its API answering again says the restart is over. */
			free(body);
			body = NULL;
			if (!told && want_mqtt)
				sc_log(SC_LOG_INFO, "device: it does not say whether MQTT is connected "
						    "(no /sim/v1/state); going on when its API answers");
			told = true;
			if (sc_dut_http(d, "GET", "/api/v1/status", NULL, &st, &body, why, cap) == 0 &&
			    st == 200) {
				if (away || mono_s() - start >= 10) {
					free(body);
					return 0;
				}
				snprintf(state, sizeof state, "not restarted yet");
			} else {
				away = true;
				if (st)
					snprintf(state, sizeof state, "answering %d", st);
				else
					snprintf(state, sizeof state, "not answering");
			}
		} else if (st) {
			snprintf(state, sizeof state, "answering %d", st);
		} else {
			snprintf(state, sizeof state, "not answering");
		}
		free(body);
		if (mono_s() >= dl) {
			snprintf(why, cap, "the device is not ready (state %s%s%s) after %g s", state,
				 want_mqtt ? ", MQTT " : "", want_mqtt ? (mq[0] ? mq : "?") : "", timeout_s);
			return -1;
		}
		sleep_s(0.2);
	}
}

/* POST /api/v1/reset, then wait (at most 60 s) for the device to run again
 * (a unit: its API answering 200 again; with want_mqtt, connected too). */
static int reset_and_wait(struct sc_dut *d, bool want_mqtt, char *why, size_t cap)
{
	int st;
	char *body = NULL;
	if (sc_dut_http(d, "POST", "/api/v1/reset", "{}", &st, &body, why, cap) != 0)
		return -1;
	free(body);
	if (st / 100 != 2) {
		snprintf(why, cap, "POST /api/v1/reset answered %d", st);
		return -1;
	}
	return wait_ready(d, want_mqtt, 60, why, cap);
}

/* PATCH the configuration; when a restart is due, a reset and a wait for
 * the device to come back (and, if it publishes, to connect). */
static int configure(struct sc_dut *d, const char *doc, bool want_mqtt, char *why, size_t cap)
{
	int st;
	char *body = NULL;
	if (sc_dut_http(d, "PATCH", "/api/v1/config", doc, &st, &body, why, cap) != 0)
		return -1;
	if (st != 200) {
		snprintf(why, cap, "PATCH /api/v1/config %s answered %d: %.300s", doc, st, body ? body : "");
		free(body);
		return -1;
	}
	free(body);
	/* A twin says whether a restart is due; a unit does not (no
	 * /sim/v1/state), and applies network and MQTT settings at a restart
	 * (manual §5.1): reset it. */
	body = NULL;
	bool pending = true;
	if (sc_dut_http(d, "GET", "/sim/v1/state", NULL, &st, &body, why, cap) == 0 && st == 200) {
		cJSON *sd = cJSON_Parse(body);
		pending = cJSON_IsTrue(sc_json_at(sd, "Status.System.RestartPending"));
		cJSON_Delete(sd);
	}
	free(body);
	if (!pending)
		return 0;
	sc_log(SC_LOG_INFO, "device: the configuration takes effect at a reset; resetting");
	return reset_and_wait(d, want_mqtt, why, cap);
}

/* --reset-first: a reset before the run. The device's event counters start
 * over, so a run on it starts as on a fresh device. */
static int reset_first(struct sc_dut *d, char *why, size_t cap)
{
	sc_log(SC_LOG_INFO, "device: --reset-first: resetting");
	return reset_and_wait(d, false, why, cap);
}

struct opts {
	bool reset_first;
	bool record;
	const char *input, *output;
	const char *port, *line, *dr;
	const char *dut;
	int modbus_port, https_port, http_port;
	const char *user, *password, *serial;
	const char *broker;
	bool configure_broker, no_mqtt, no_read_back;
	double speed, latency;
	double unit_clock_ts; /* 0, or the window of a unit stamping its own clock (s) */
	const char *hook, *report;
};

static int number(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || !(d >= lo && d <= hi)) {
		fprintf(stderr, "%s: %s: '%s' is not a number from %g to %g\n", prog, opt, v, lo, hi);
		return -1;
	}
	*out = d;
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	enum {
		O_PORT = 256, O_LINE, O_DR, O_DUT, O_MB, O_HTTPS, O_HTTP, O_USER, O_PW, O_SERIAL,
		O_BROKER, O_CONFB, O_NOMQTT, O_SPEED, O_LAT, O_NORB, O_HOOK, O_REPORT, O_LOG
	};
	enum { O_UNIT_CLOCK_TS = 512, O_RESET_FIRST };
	static const struct option lo[] = {
		{"port", required_argument, NULL, O_PORT}, {"line", required_argument, NULL, O_LINE},
		{"data-request", required_argument, NULL, O_DR}, {"dut", required_argument, NULL, O_DUT},
		{"modbus-port", required_argument, NULL, O_MB},
		{"https-port", required_argument, NULL, O_HTTPS},
		{"http-port", required_argument, NULL, O_HTTP}, {"user", required_argument, NULL, O_USER},
		{"password", required_argument, NULL, O_PW},
		{"serial-number", required_argument, NULL, O_SERIAL},
		{"broker", required_argument, NULL, O_BROKER},
		{"configure-broker", no_argument, NULL, O_CONFB}, {"no-mqtt", no_argument, NULL, O_NOMQTT},
		{"speed", required_argument, NULL, O_SPEED}, {"latency", required_argument, NULL, O_LAT},
		{"no-read-back", no_argument, NULL, O_NORB}, {"hook", required_argument, NULL, O_HOOK},
		{"report", required_argument, NULL, O_REPORT}, {"output", required_argument, NULL, 'o'},
		{"log-level", required_argument, NULL, O_LOG}, {"help", no_argument, NULL, 'h'},
		{"unit-clock-ts", required_argument, NULL, O_UNIT_CLOCK_TS},
		{"reset-first", no_argument, NULL, O_RESET_FIRST},
		{NULL, 0, NULL, 0},
	};
	double d;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case O_RESET_FIRST: o->reset_first = true; break;
		case O_PORT: o->port = optarg; break;
		case O_LINE: o->line = optarg; break;
		case O_DR: o->dr = optarg; break;
		case O_DUT: o->dut = optarg; break;
		case O_MB:
			if (number("--modbus-port", optarg, 1, 65535, &d))
				return -1;
			o->modbus_port = (int)d;
			break;
		case O_HTTPS:
			if (number("--https-port", optarg, 0, 65535, &d))
				return -1;
			o->https_port = (int)d;
			break;
		case O_HTTP:
			if (number("--http-port", optarg, 1, 65535, &d))
				return -1;
			o->http_port = (int)d;
			break;
		case O_USER: o->user = optarg; break;
		case O_PW: o->password = optarg; break;
		case O_SERIAL: o->serial = optarg; break;
		case O_BROKER: o->broker = optarg; break;
		case O_CONFB: o->configure_broker = true; break;
		case O_NOMQTT: o->no_mqtt = true; break;
		case O_SPEED:
			if (number("--speed", optarg, 0.01, 1000, &o->speed))
				return -1;
			break;
		case O_LAT:
			if (number("--latency", optarg, 0, 60, &o->latency))
				return -1;
			break;
		case O_NORB: o->no_read_back = true; break;
		case O_UNIT_CLOCK_TS:
			if (number("--unit-clock-ts", optarg, 0.001, 86400, &o->unit_clock_ts))
				return -1;
			break;
		case O_HOOK: o->hook = optarg; break;
		case O_REPORT: o->report = optarg; break;
		case 'o': o->output = optarg; break;
		case O_LOG: {
			int lv = sc_log_level_from_name(optarg);
			if (lv < 0) {
				fprintf(stderr, "%s: --log-level: '%s' is not error, warn, info or debug\n",
					prog, optarg);
				return -1;
			}
			sc_log_set_level((enum sc_log_level)lv);
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "%s: one %s expected\n", prog,
			o->record ? "scenario or capture" : "scenario file");
		return -1;
	}
	o->input = argv[optind];
	const char *missing = !o->port ? "--port DEV (the meter emulator's serial port)"
			      : !o->dut ? "--dut HOST (the device under test)"
			      : o->record && !o->output ? "-o FILE (where the recording goes)"
							: NULL;
	if (missing) {
		fprintf(stderr, "%s: %s is required\n", prog, missing);
		return -1;
	}
	if (o->configure_broker && !o->broker) {
		fprintf(stderr, "%s: --configure-broker needs --broker\n", prog);
		return -1;
	}
	return 0;
}

static void iso_now(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void on_signal(int sig)
{
	/* Interrupted: stop at once, and the broker we started with us. */
	if (broker_pid > 0)
		kill(broker_pid, SIGTERM);
	_exit(128 + sig);
}

/* sc-hil doctor: the rig's checklist (doctor.h). */
static int doctor_main(int argc, char **argv)
{
	enum {
		D_PORT = 256, D_PROTO, D_LINE, D_DR, D_DUT, D_MB, D_HTTPS, D_HTTP, D_USER, D_PW,
		D_SERIAL, D_BROKER, D_TIMEOUT
	};
	static const struct option lo[] = {
		{"port", required_argument, NULL, D_PORT}, {"protocol", required_argument, NULL, D_PROTO},
		{"line", required_argument, NULL, D_LINE}, {"data-request", required_argument, NULL, D_DR},
		{"dut", required_argument, NULL, D_DUT}, {"modbus-port", required_argument, NULL, D_MB},
		{"https-port", required_argument, NULL, D_HTTPS},
		{"http-port", required_argument, NULL, D_HTTP}, {"user", required_argument, NULL, D_USER},
		{"password", required_argument, NULL, D_PW},
		{"serial-number", required_argument, NULL, D_SERIAL},
		{"broker", required_argument, NULL, D_BROKER},
		{"timeout", required_argument, NULL, D_TIMEOUT}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sc_doctor_opts o = {.modbus_port = 502, .https_port = 443, .http_port = 80,
				   .user = "user", .timeout_s = 5};
	double d;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case D_PORT: o.port = optarg; break;
		case D_PROTO:
			if (strcmp(optarg, "p1") != 0 && strcmp(optarg, "tic") != 0) {
				fprintf(stderr, "%s: --protocol: '%s' is not p1 or tic\n", prog, optarg);
				return EXIT_USAGE;
			}
			o.tic = strcmp(optarg, "tic") == 0;
			break;
		case D_LINE: o.line = optarg; break;
		case D_DR: o.data_request = optarg; break;
		case D_DUT: o.dut = optarg; break;
		case D_MB:
		case D_HTTPS:
		case D_HTTP: {
			int *port = c == D_MB ? &o.modbus_port : c == D_HTTPS ? &o.https_port : &o.http_port;
			const char *name = c == D_MB ? "--modbus-port" : c == D_HTTPS ? "--https-port"
										   : "--http-port";
			if (number(name, optarg, c == D_MB ? 1 : 0, 65535, &d))
				return EXIT_USAGE;
			*port = (int)d;
			break;
		}
		case D_USER: o.user = optarg; break;
		case D_PW: o.password = optarg; break;
		case D_SERIAL: o.serial = optarg; break;
		case D_BROKER: o.broker = optarg; break;
		case D_TIMEOUT:
			if (number("--timeout", optarg, 0.1, 120, &o.timeout_s))
				return EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: doctor: unexpected argument '%s'\n", prog, argv[optind]);
		return EXIT_USAGE;
	}
	if (!o.password)
		o.password = getenv("SC_HIL_PASSWORD");
	signal(SIGPIPE, SIG_IGN);
	return sc_doctor_run(&o) == 0 ? 0 : EXIT_MISMATCH;
}

int main(int argc, char **argv)
{
	sc_log_set_prog(prog);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	struct opts o = {.modbus_port = 502, .https_port = 443, .http_port = 80, .user = "user",
			 .speed = 1, .latency = 0.5, .report = "reports"};
	if (strcmp(argv[1], "doctor") == 0)
		return doctor_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0) {
		o.record = false;
	} else if (strcmp(argv[1], "record") == 0) {
		o.record = true;
	} else {
		fprintf(stderr, "%s: unknown command '%s' (run, record or doctor)\n", prog, argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse(argc - 1, argv + 1, &o) != 0)
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!o.password)
		o.password = getenv("SC_HIL_PASSWORD");

	/* The scenario (or, to record, a capture made one). */
	char why[1024];
	size_t len = 0;
	char *text = sc_read_file(o.input, &len, why, sizeof why);
	if (!text) {
		fprintf(stderr, "%s: %s\n", prog, why);
		return EXIT_USAGE;
	}
	size_t lead = strspn(text, " \t\r\n");
	if (o.record && text[lead] != '{') {
		free(text);
		text = sc_record_capture_scenario(o.input, why, sizeof why);
		if (!text) {
			fprintf(stderr, "%s: %s\n", prog, why);
			return EXIT_USAGE;
		}
		len = strlen(text);
	}
	struct sc_scenario *s = NULL;
	if (sc_scenario_load(text, len, o.input, &s, why, sizeof why) != 0) {
		fprintf(stderr, "%s: %s\n", prog, why);
		free(text);
		return EXIT_USAGE;
	}
	char dirbuf[4096];
	snprintf(dirbuf, sizeof dirbuf, "%s", o.input);
	const char *dir = dirname(dirbuf);
	if (sc_run_check_captures(s, dir, why, sizeof why) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.input, why);
		sc_scenario_free(s);
		free(text);
		return EXIT_USAGE;
	}
	bool tic = s->device == SC_PROTO_TIC;
	struct sc_line line = sc_line_for(tic);
	if (o.line && sc_line_parse(o.line, &line, why, sizeof why) != 0) {
		fprintf(stderr, "%s: --line: %s\n", prog, why);
		sc_scenario_free(s);
		free(text);
		return EXIT_USAGE;
	}
	enum sc_data_request dr = SC_DR_NONE;
	if (o.dr && sc_data_request_parse(o.dr, &dr) != 0) {
		fprintf(stderr, "%s: --data-request: '%s' is not none, cts, dsr, dcd or ri\n", prog, o.dr);
		sc_scenario_free(s);
		free(text);
		return EXIT_USAGE;
	}

	int rc = EXIT_SETUP;
	struct sc_broker_proc broker = {0};
	struct sc_dut *probe = NULL, *dut = NULL;
	struct sc_meter_port *port = NULL;
	struct sc_run run;
	memset(&run, 0, sizeof run);
	char started[32], firmware[32] = "", serial[40] = "", dut_desc[300];
	iso_now(started, sizeof started);

	/* MQTT expectations need a subscriber: without --broker, say so before
	 * the run rather than fail each of them after it; --no-mqtt skips them. */
	if (!o.broker || o.no_mqtt) {
		char steps[600] = "";
		size_t used = 0;
		int nsteps = 0;
		for (int i = 0; i < s->nsteps; i++) {
			const struct sc_step *st = &s->steps[i];
			bool named = false;
			for (int k = 0; k < st->nexpect; k++) {
				if (st->expect[k].kind != SC_EXPECT_MQTT)
					continue;
				if (named)
					continue; /* the step is named once */
				named = true;
				if (nsteps++ < 8 && used < sizeof steps)
					used += (size_t)snprintf(steps + used, sizeof steps - used, "%s%s",
								 used ? ", " : "", st->where);
			}
		}
		if (nsteps > 8 && used < sizeof steps)
			snprintf(steps + used, sizeof steps - used, " and %d more", nsteps - 8);
		if (nsteps && !o.no_mqtt) {
			fprintf(stderr,
				"%s: %s expect%s MQTT messages, and no --broker URL names the broker the "
				"device publishes to: give --broker, or --no-mqtt to skip those "
				"expectations\n",
				prog, steps, nsteps == 1 ? "s" : "");
			rc = EXIT_USAGE;
			goto out;
		}
		if (nsteps)
			sc_log(SC_LOG_INFO, "--no-mqtt: the MQTT expectations of %s are skipped", steps);
	}

	/* A private broker. */
	const char *broker_url = o.no_mqtt ? NULL : o.broker;
	if (broker_url && strncmp(broker_url, "private", 7) == 0) {
		const char *addr = broker_url[7] == ':' ? broker_url + 8 : "127.0.0.1";
		if (sc_broker_start_at(&broker, addr, 0, why, sizeof why) != 0) {
			fprintf(stderr, "%s: --broker private: %s\n", prog, why);
			goto out;
		}
		broker_url = broker.url;
		broker_pid = broker.pid;
		sc_log(SC_LOG_INFO, "broker: mosquitto on %s", broker.url);
	}

	/* The device: its API first, for its serial and firmware. */
	struct sc_dut_opts dopts = {
		.host = o.dut, .modbus_port = o.modbus_port, .https_port = o.https_port,
		.http_port = o.http_port, .user = o.user, .password = o.password ? o.password : "",
		.broker_url = NULL, .serial = "", .timeout_s = 5,
	};
	probe = sc_dut_open(&dopts, why, sizeof why);
	int api_code = 0;
	cJSON *status = probe ? get_json(probe, "/api/v1/status", 15, &api_code, why, sizeof why)
			      : NULL;
	if (!status && api_code == 401) {
		/* It answered: the password is the problem, and trying again
		 * only lengthens the unit's failed-login delay. */
		fprintf(stderr,
			"%s: the device at %s refuses the password of user '%s' (401): %s; give "
			"the unit's password with --password PW or in $SC_HIL_PASSWORD (the label's, "
			"or the one set on its page)\n",
			prog, o.dut, o.user, o.password && *o.password ? "it is wrong" : "none was given");
		goto out;
	}
	if (!status) {
		fprintf(stderr, "%s: the device's API at %s://%s:%d does not answer: %s\n", prog,
			o.https_port ? "https" : "http", o.dut, o.https_port ? o.https_port : o.http_port,
			why);
		goto out;
	}
	cJSON_Delete(status);
	/* The serial number and firmware: the twin says them in /sim/v1/state;
	 * a unit's status document holds neither. */
	char *state = get_200(probe, "/sim/v1/state", 0, NULL, why, sizeof why);
	cJSON *sd = state ? cJSON_Parse(state) : NULL;
	bool twin = cJSON_IsObject(sc_json_at(sd, "Twin"));
	json_string(sd, "Status.System.SerialNumber", serial, sizeof serial);
	json_string(sd, "Status.System.Firmware", firmware, sizeof firmware);
	cJSON_Delete(sd);
	free(state);
	if (!firmware[0]) {
		/* A unit: the version its firmware endpoint (manual §5.2) gives. */
		cJSON *fw = get_json(probe, "/api/v1/firmware", 0, NULL, why, sizeof why);
		json_string(fw, "Version", firmware, sizeof firmware);
		cJSON_Delete(fw);
	}
	if (o.serial)
		snprintf(serial, sizeof serial, "%s", o.serial);
	if (!serial[0]) {
		fprintf(stderr, "%s: the device did not say its serial number: give --serial-number\n", prog);
		goto out;
	}
	snprintf(dut_desc, sizeof dut_desc, "%s%s (serial %s; Modbus %d, %s %d)", twin ? "sc-sim at " : "",
		 o.dut, serial, o.modbus_port, o.https_port ? "HTTPS" : "HTTP",
		 o.https_port ? o.https_port : o.http_port);
	sc_log(SC_LOG_INFO, "device: %s, firmware %s", dut_desc, firmware[0] ? firmware : "?");
	struct sc_fw_version want_fw, have_fw;
	if (sc_fw_parse(s->firmware, &want_fw) == SC_OK && sc_fw_parse(firmware, &have_fw) == SC_OK &&
	    sc_fw_cmp(&want_fw, &have_fw) != 0)
		sc_log(SC_LOG_WARN, "device: it runs firmware %s, the scenario is written for %s", firmware,
		       s->firmware);
	if (o.reset_first && reset_first(probe, why, sizeof why) != 0) {
		fprintf(stderr, "%s: --reset-first: %s\n", prog, why);
		goto out;
	}
	if (o.configure_broker) {
		char doc[300];
		snprintf(doc, sizeof doc, "{\"MQTT\":{\"Enabled\":true,\"Broker\":\"%s\"}}", broker_url);
		if (configure(probe, doc, true, why, sizeof why) != 0) {
			fprintf(stderr, "%s: --configure-broker: %s\n", prog, why);
			goto out;
		}
		sc_log(SC_LOG_INFO, "device: publishes to %s", broker_url);
	}
	if (s->config && configure(probe, s->config, broker_url != NULL, why, sizeof why) != 0) {
		fprintf(stderr, "%s: the scenario's configuration: %s\n", prog, why);
		goto out;
	}
	sc_dut_close(probe);
	probe = NULL;
	dopts.broker_url = broker_url;
	dopts.serial = serial;
	dut = sc_dut_open(&dopts, why, sizeof why);
	if (!dut) {
		fprintf(stderr, "%s: %s\n", prog, why);
		goto out;
	}
	/* Time 0 is when the device is ready: running and, if it publishes
	 * to the broker read here, connected to it. */
	bool publishes = false;
	if (broker_url) {
		cJSON *cd = get_json(dut, "/api/v1/config", 10, NULL, why, sizeof why);
		publishes = cJSON_IsTrue(sc_json_at(cd, "MQTT.Enabled"));
		cJSON_Delete(cd);
	}
	if (wait_ready(dut, publishes, 30, why, sizeof why) != 0)
		sc_log(SC_LOG_WARN, "device: %s; going on", why);

	/* The meter emulator. */
	struct sc_meter_port_opts po = {
		.path = o.port, .line = line, .dr = dr, .pace = 1 / o.speed,
		.min_gap_s = (tic ? 0.0167 : 0.0) / o.speed, .reopen_s = 0.5, .log = port_log,
	};
	port = sc_meter_port_open(&po, why, sizeof why);
	if (!port) {
		fprintf(stderr, "%s: --port: %s\n", prog, why);
		goto out;
	}
	char line_text[32];
	sc_line_format(&line, line_text, sizeof line_text);
	sc_log(SC_LOG_INFO, "meter: %s at %s%s%s", o.port, line_text, dr ? ", data request on " : "",
	       dr ? sc_data_request_name(dr) : "");

	struct hil h = {.s = s, .dut = dut, .port = port, .twin = twin, .speed = o.speed,
			.hook = o.hook, .broker = broker.pid > 0 ? &broker : NULL};
	struct sc_run_io io = {
		.meter = io_meter, .advance = io_advance, .act = io_act, .clock = io_clock, .arg = &h, .tick = 0.25,
		.line_put = io_line_put, .line_cable = io_line_cable, .line_take = io_line_take,
		.line_ahead = 30 * o.speed, /* 30 s of real time */
		.latency = o.latency, .mqtt_grace_ms = 3000, .sample = !o.no_read_back,
		.record = o.record,
		.ts_window = o.unit_clock_ts,
	};
	run.keep_bytes = true;
	if (o.no_mqtt) {
		/* Skipped, said before the run: the run checks the rest. */
		for (int i = 0; i < s->nsteps; i++)
			for (int k = 0; k < s->steps[i].nexpect; k++)
				if (s->steps[i].expect[k].kind == SC_EXPECT_MQTT &&
				    sc_run_skip(&run, stdout, &s->steps[i], &s->steps[i].expect[k],
						"--no-mqtt: MQTT is not read on this bench") != 0) {
					fprintf(stderr, "%s: out of memory\n", prog);
					goto out;
				}
		sc_scenario_drop_expects(s, SC_EXPECT_MQTT);
	}
	sc_log(SC_LOG_INFO, "scenario %s: %d steps over %g s%s", s->name, s->nsteps, s->duration,
	       o.speed != 1 ? ", faster" : "");
	h.t0 = mono_s();
	int r = sc_run_scenario(s, dir, dut, &io, &run, stdout);
	line_stop(&h);
	double wall = mono_s() - h.t0;
	if (r != 0)
		fprintf(stderr, "%s: scenario %s stopped: %s\n", prog, s->name, run.error);
	rc = r != 0 || run.fail ? EXIT_MISMATCH : 0;
	printf("scenario %s: %d passed, %d failed, %d skipped; %zu telegrams over %g s in %.2f s",
	       s->name, run.pass, run.fail, run.skip, run.ntg, run.duration, wall);
	if (run.not_sent)
		printf("; %d did not reach the device", run.not_sent);
	if (run.late)
		printf("; %d telegrams left late (the rig's fault, not the unit's)", run.late);
	printf("\n");
	fflush(stdout);

	/* Reports, and the recording. */
	char rdir[4096];
	if (sc_report_dir(o.report, started, s->name, rdir, sizeof rdir, why, sizeof why) != 0) {
		fprintf(stderr, "%s: --report: %s\n", prog, why);
		rc = EXIT_SETUP;
	} else {
		struct sc_report_info ri = {
			.scenario_path = o.input, .s = s, .dut = dut_desc,
			.dut_firmware = firmware[0] ? firmware : NULL, .port = o.port, .line = line_text,
			.line_stats = sc_meter_port_stats(port), .started = started, .wall_s = wall,
			.exit_status = rc, .error = r != 0 ? run.error : NULL,
		};
		if (sc_report_write(rdir, &ri, &run, why, sizeof why) != 0) {
			fprintf(stderr, "%s: report: %s\n", prog, why);
			rc = EXIT_SETUP;
		} else {
			printf("report: %s/report.html\n", rdir);
		}
	}
	if (o.record && r == 0) {
		struct sc_record_info rec = {o.input, dut_desc, firmware[0] ? firmware : NULL, started};
		if (sc_record_write(o.output, text, &rec, &run, why, sizeof why) != 0) {
			fprintf(stderr, "%s: -o: %s\n", prog, why);
			rc = EXIT_SETUP;
		} else {
			size_t served = 0;
			for (size_t k = 0; k < run.ntg; k++)
				served += run.tg[k].served || run.tg[k].mqtt;
			printf("recorded: %s (%zu telegrams, %zu with what the device served)\n", o.output,
			       run.ntg, served);
			/* A recording's expectations are what it saw, mismatches
			 * with the twin included. */
			if (rc == EXIT_MISMATCH)
				rc = 0;
		}
	}
	fflush(stdout);
out:
	sc_run_free(&run);
	sc_meter_port_close(port);
	sc_dut_close(dut);
	sc_dut_close(probe);
	if (broker.pid > 0)
		sc_broker_stop(&broker);
	sc_scenario_free(s);
	free(text);
	return rc;
}
