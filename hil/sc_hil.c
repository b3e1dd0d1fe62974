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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "cursor.h"
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

/* The hook asked what it observes: `CMD led` prints the LED's state,
 * `CMD counters` the counters as a JSON object (docs/lab/hooks.md). Its
 * output (trimmed) into out: 0, 1 not possible here (exit 77, or no
 * hook), -1 failed (why). A hook that has not finished in HOOK_S is
 * stopped. */
#define HOOK_S 10.0
static int hook_observe(struct hil *h, const char *what, char *out, size_t cap, char *why,
			size_t whycap)
{
	int fd[2];
	if (pipe(fd) != 0) {
		snprintf(why, whycap, "--hook: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whycap, "--hook: %s", strerror(errno));
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execl("/bin/sh", "sh", "-c", "exec $0 \"$@\"", h->hook, what, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	size_t used = 0;
	bool late = false;
	double dl = mono_s() + HOOK_S;
	for (;;) {
		double left = dl - mono_s();
		if (left <= 0) {
			late = true;
			break;
		}
		struct pollfd pfd = {fd[0], POLLIN, 0};
		int pr = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		char buf[512];
		ssize_t n = read(fd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (used + 1 < cap)
				out[used++] = buf[i];
	}
	close(fd[0]);
	if (late)
		kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	while (used && (out[used - 1] == '\n' || out[used - 1] == '\r' || out[used - 1] == ' ' ||
			out[used - 1] == '\t'))
		used--;
	out[used] = '\0';
	size_t lead = strspn(out, " \t\r\n");
	memmove(out, out + lead, used - lead + 1);
	if (late) {
		snprintf(why, whycap, "--hook %s did not answer within %g s", what, HOOK_S);
		return -1;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (code == 77) {
		snprintf(why, whycap, "--hook %s: not observable on this bench (exit 77)", what);
		return 1;
	}
	if (code != 0) {
		snprintf(why, whycap, "--hook %s failed (exit %d)", what, code);
		return -1;
	}
	if (!out[0]) {
		snprintf(why, whycap, "--hook %s printed nothing", what);
		return -1;
	}
	return 0;
}

/* io.observe for a unit: its LED and counters are on none of its
 * interfaces, so only a hook can say them; without one, SKIP. */
static int io_observe(void *arg, const char *what, char *out, size_t cap, char *why, size_t whycap)
{
	struct hil *h = arg;
	if (!h->hook) {
		snprintf(why, whycap, "a unit shows its %s on none of its interfaces: give --hook CMD "
				      "that answers '%s' to observe it (docs/lab/hooks.md)",
			 strcmp(what, "led") == 0 ? "LED" : "event counters", what);
		return 1;
	}
	return hook_observe(h, what, out, cap, why, whycap);
}

static int wait_ready(struct sc_dut *d, bool twin, bool want_mqtt, bool restarted, double timeout_s,
		      char *why, size_t cap);
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
	if (!h->twin) {
		/* A unit does not say when it is connected again: what follows
		 * the reconnection is for the scenario's "within" to allow. */
		return 0;
	}
	int ready = wait_ready(h->dut, true, true, false, RECONNECT_S, err, sizeof err);
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
 * was up). A twin says its state in /sim/v1/state ("Status"). A unit says
 * none of it (its /api/v1/status is the manual's document only): it is
 * running when its API answers 200, after a restart (restarted) once it
 * was seen away or 10 s passed; whether it is connected to its broker it
 * does not say. */
static int wait_ready(struct sc_dut *d, bool twin, bool want_mqtt, bool restarted, double timeout_s,
		      char *why, size_t cap)
{
	double start = mono_s(), dl = start + timeout_s;
	char state[32] = "", mq[32] = "";
	bool away = false;
	for (;;) {
		int st = 0;
		char *body = NULL;
		if (twin) {
			if (sc_dut_http(d, "GET", "/sim/v1/state", NULL, &st, &body, why, cap) == 0 &&
			    st == 200) {
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
			} else if (st) {
				snprintf(state, sizeof state, "answering %d", st);
			} else {
				snprintf(state, sizeof state, "not answering");
			}
		} else if (sc_dut_http(d, "GET", "/api/v1/status", NULL, &st, &body, why, cap) == 0 &&
			   st == 200) {
			if (!restarted || away || mono_s() - start >= 10) {
				free(body);
				if (want_mqtt)
					sc_log(SC_LOG_DEBUG, "device: a unit does not say whether it is "
							     "connected to its broker; its messages will");
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
		free(body);
		if (mono_s() >= dl) {
			snprintf(why, cap, "the device is not ready (state %s%s%s) after %g s", state,
				 want_mqtt && twin ? ", MQTT " : "",
				 want_mqtt && twin ? (mq[0] ? mq : "?") : "", timeout_s);
			return -1;
		}
		sleep_s(0.2);
	}
}

/* POST /api/v1/reset, then wait (at most 60 s) for the device to run again
 * (a unit: its API answering 200 again; with want_mqtt, connected too). */
static int reset_and_wait(struct sc_dut *d, bool twin, bool want_mqtt, char *why, size_t cap)
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
	return wait_ready(d, twin, want_mqtt, true, 60, why, cap);
}

/* PATCH the configuration; when a restart is due, a reset and a wait for
 * the device to come back (and, if it publishes, to connect). */
static int configure(struct sc_dut *d, bool twin, const char *doc, bool want_mqtt, char *why,
		     size_t cap)
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
	if (twin && sc_dut_http(d, "GET", "/sim/v1/state", NULL, &st, &body, why, cap) == 0 &&
	    st == 200) {
		cJSON *sd = cJSON_Parse(body);
		pending = cJSON_IsTrue(sc_json_at(sd, "Status.System.RestartPending"));
		cJSON_Delete(sd);
	}
	free(body);
	if (!pending)
		return 0;
	sc_log(SC_LOG_INFO, "device: the configuration takes effect at a reset; resetting");
	return reset_and_wait(d, twin, want_mqtt, why, cap);
}

/* --reset-first: a reset before the run. The device's event counters start
 * over, so a run on it starts as on a fresh device. */
static int reset_first(struct sc_dut *d, bool twin, char *why, size_t cap)
{
	sc_log(SC_LOG_INFO, "device: --reset-first: resetting");
	return reset_and_wait(d, twin, false, why, cap);
}

struct opts {
	bool reset_first;
	bool record;
	char **inputs;             /* the scenario files and folders given */
	int ninputs;
	const char *output;
	const char *firmware;      /* --firmware: the oracle's firmware, or "unit" */
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
	enum { O_UNIT_CLOCK_TS = 512, O_RESET_FIRST, O_FIRMWARE };
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
		{"firmware", required_argument, NULL, O_FIRMWARE},
		{NULL, 0, NULL, 0},
	};
	double d;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case O_RESET_FIRST: o->reset_first = true; break;
		case O_FIRMWARE: {
			struct sc_fw_version fw;
			if (strcmp(optarg, "unit") != 0 && sc_fw_parse(optarg, &fw) != SC_OK) {
				fprintf(stderr, "%s: --firmware: '%s' is not a version (5.1.0) or 'unit'\n",
					prog, optarg);
				return -1;
			}
			o->firmware = optarg;
			break;
		}
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
	if (o->record ? optind + 1 != argc : optind >= argc) {
		fprintf(stderr, "%s: %s expected\n", prog,
			o->record ? "one scenario or capture" : "a scenario file (or several, or a folder)");
		return -1;
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
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


/* ---- the scenarios of a run ---- */

/* A scenario of the run: loaded (and its captures checked) before anything
 * is set up, run in turn, its record kept for the suite's reports. */
struct scen {
	char path[4096];
	char dir[4096];
	char *text;                /* owned: the scenario's JSON */
	struct sc_scenario *s;     /* owned */
	struct sc_run run;
	bool ran;
	int rc;                    /* 0 passed, EXIT_MISMATCH, EXIT_SETUP */
	double wall;
	char started[32], desc[300], firmware[32], line[32], rdir[4096];
	struct sc_meter_port_stats stats;
	bool have_stats;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_scen(struct scen **v, size_t *n, const char *path, bool record)
{
	struct scen *m = realloc(*v, (*n + 1) * sizeof **v);
	if (!m) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	*v = m;
	struct scen *sc = &m[*n];
	memset(sc, 0, sizeof *sc);
	(*n)++;
	snprintf(sc->path, sizeof sc->path, "%s", path);
	char why[1024];
	size_t len = 0;
	sc->text = sc_read_file(path, &len, why, sizeof why);
	if (!sc->text) {
		fprintf(stderr, "%s: %s\n", prog, why);
		return -1;
	}
	size_t lead = strspn(sc->text, " \t\r\n");
	if (record && sc->text[lead] != '{') {
		free(sc->text);
		sc->text = sc_record_capture_scenario(path, why, sizeof why);
		if (!sc->text) {
			fprintf(stderr, "%s: %s\n", prog, why);
			return -1;
		}
		len = strlen(sc->text);
	}
	if (sc_scenario_load(sc->text, len, path, &sc->s, why, sizeof why) != 0) {
		fprintf(stderr, "%s: %s\n", prog, why);
		return -1;
	}
	char dirbuf[4096];
	snprintf(dirbuf, sizeof dirbuf, "%s", path);
	snprintf(sc->dir, sizeof sc->dir, "%s", dirname(dirbuf));
	if (sc_run_check_captures(sc->s, sc->dir, why, sizeof why) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, why);
		return -1;
	}
	sc->run.keep_bytes = true;
	return 0;
}

/* The scenarios named: files as given, a folder's *.json in name order.
 * 0, or -1 (said on stderr). */
static int load_inputs(const struct opts *o, struct scen **v, size_t *n)
{
	for (int i = 0; i < o->ninputs; i++) {
		const char *in = o->inputs[i];
		struct stat st;
		if (!o->record && stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(in);
			if (!d) {
				fprintf(stderr, "%s: %s: %s\n", prog, in, strerror(errno));
				return -1;
			}
			char **names = NULL;
			size_t nn = 0;
			struct dirent *de;
			int rc = 0;
			while ((de = readdir(d)) != NULL) {
				size_t l = strlen(de->d_name);
				if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0 || de->d_name[0] == '.')
					continue;
				char **m = realloc(names, (nn + 1) * sizeof *names);
				char *dup = m ? strdup(de->d_name) : NULL;
				if (!dup) {
					names = m ? m : names;
					rc = -1;
					break;
				}
				names = m;
				names[nn++] = dup;
			}
			closedir(d);
			if (rc == 0 && nn == 0) {
				fprintf(stderr, "%s: %s: no scenario (*.json) in the folder\n", prog, in);
				rc = -1;
			} else if (rc != 0) {
				fprintf(stderr, "%s: out of memory\n", prog);
			}
			if (nn)
				qsort(names, nn, sizeof *names, cmp_name);
			for (size_t k = 0; rc == 0 && k < nn; k++) {
				char path[4096];
				snprintf(path, sizeof path, "%s/%s", in, names[k]);
				rc = add_scen(v, n, path, false);
			}
			for (size_t k = 0; k < nn; k++)
				free(names[k]);
			free(names);
			if (rc != 0)
				return -1;
			continue;
		}
		if (add_scen(v, n, in, o->record) != 0)
			return -1;
	}
	return 0;
}

/* The steps of s with MQTT expectations, named in out ("steps[2], steps[5]
 * and 3 more"); how many. */
static int mqtt_steps(const struct sc_scenario *s, char *out, size_t cap)
{
	size_t used = 0;
	int nsteps = 0;
	out[0] = '\0';
	for (int i = 0; i < s->nsteps; i++) {
		const struct sc_step *st = &s->steps[i];
		bool has = false;
		for (int k = 0; k < st->nexpect; k++)
			has |= st->expect[k].kind == SC_EXPECT_MQTT;
		if (has && nsteps++ < 8 && used < cap)
			used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "", st->where);
	}
	if (nsteps > 8 && used < cap)
		snprintf(out + used, cap - used, " and %d more", nsteps - 8);
	return nsteps;
}

/* ---- the bench: the device and the broker, set up once ---- */

struct bench {
	const struct opts *o;
	struct sc_broker_proc broker;
	const char *broker_url;    /* NULL: MQTT is not read */
	struct sc_dut_opts dopts;
	bool twin;                 /* an sc-sim: its /sim/v1 may be used */
	char serial[40];           /* given, said by a twin, or learnt from its messages; "" */
	char firmware[32];         /* what the device says it runs, or "" */
};

static void describe_dut(const struct bench *b, char *out, size_t cap)
{
	const struct opts *o = b->o;
	snprintf(out, cap, "%s%s (serial %s; Modbus %d, %s %d)", b->twin ? "sc-sim at " : "", o->dut,
		 b->serial[0] ? b->serial : "not known", o->modbus_port, o->https_port ? "HTTPS" : "HTTP",
		 o->https_port ? o->https_port : o->http_port);
}

/* The broker, the device's API, what it is (twin or unit), its serial
 * and firmware; --configure-broker. 0, or an exit status (said on
 * stderr). */
static int setup_bench(struct bench *b)
{
	const struct opts *o = b->o;
	char why[1024];
	b->broker_url = o->no_mqtt ? NULL : o->broker;
	if (b->broker_url && strncmp(b->broker_url, "private", 7) == 0) {
		const char *addr = b->broker_url[7] == ':' ? b->broker_url + 8 : "127.0.0.1";
		if (sc_broker_start_at(&b->broker, addr, 0, why, sizeof why) != 0) {
			fprintf(stderr, "%s: --broker private: %s\n", prog, why);
			return EXIT_SETUP;
		}
		b->broker_url = b->broker.url;
		broker_pid = b->broker.pid;
		sc_log(SC_LOG_INFO, "broker: mosquitto on %s", b->broker.url);
	}
	b->dopts = (struct sc_dut_opts){
		.host = o->dut, .modbus_port = o->modbus_port, .https_port = o->https_port,
		.http_port = o->http_port, .user = o->user, .password = o->password ? o->password : "",
		.broker_url = NULL, .serial = "", .timeout_s = 5,
	};
	struct sc_dut *probe = sc_dut_open(&b->dopts, why, sizeof why);
	int rc = EXIT_SETUP;
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
			prog, o->dut, o->user, o->password && *o->password ? "it is wrong" : "none was given");
		goto out;
	}
	if (!status) {
		fprintf(stderr, "%s: the device's API at %s://%s:%d does not answer: %s\n", prog,
			o->https_port ? "https" : "http", o->dut, o->https_port ? o->https_port : o->http_port,
			why);
		goto out;
	}
	cJSON_Delete(status);
	/* A twin or a unit: asked once. A twin says its serial and firmware
	 * in /sim/v1/state; a unit answers 404 there and is read from then on
	 * through the manual's interfaces only. */
	char *state = get_200(probe, "/sim/v1/state", 0, NULL, why, sizeof why);
	cJSON *sd = state ? cJSON_Parse(state) : NULL;
	b->twin = cJSON_IsObject(sc_json_at(sd, "Twin"));
	if (b->twin) {
		json_string(sd, "Status.System.SerialNumber", b->serial, sizeof b->serial);
		json_string(sd, "Status.System.Firmware", b->firmware, sizeof b->firmware);
	}
	cJSON_Delete(sd);
	free(state);
	if (!b->firmware[0]) {
		/* A unit: the version its firmware endpoint (manual §5.2) gives. */
		cJSON *fw = get_json(probe, "/api/v1/firmware", 0, NULL, why, sizeof why);
		json_string(fw, "Version", b->firmware, sizeof b->firmware);
		cJSON_Delete(fw);
	}
	if (o->serial)
		snprintf(b->serial, sizeof b->serial, "%s", o->serial);
	char desc[300];
	describe_dut(b, desc, sizeof desc);
	sc_log(SC_LOG_INFO, "device: %s, firmware %s", desc, b->firmware[0] ? b->firmware : "?");
	if (!b->serial[0] && b->broker_url)
		sc_log(SC_LOG_INFO, "device: its serial number is not known (a unit does not say it): "
				    "its messages are read from the first device publishing to %s "
				    "(--serial-number SN names it)",
		       b->broker_url);
	if (o->firmware && strcmp(o->firmware, "unit") == 0 && !b->firmware[0]) {
		fprintf(stderr, "%s: --firmware unit: the device did not say its firmware "
				"(GET /api/v1/firmware); give the version\n", prog);
		goto out;
	}
	if (o->configure_broker) {
		char doc[300];
		snprintf(doc, sizeof doc, "{\"MQTT\":{\"Enabled\":true,\"Broker\":\"%s\"}}", b->broker_url);
		if (configure(probe, b->twin, doc, true, why, sizeof why) != 0) {
			fprintf(stderr, "%s: --configure-broker: %s\n", prog, why);
			goto out;
		}
		sc_log(SC_LOG_INFO, "device: publishes to %s", b->broker_url);
	}
	rc = 0;
out:
	sc_dut_close(probe);
	return rc;
}

/* One scenario on the bench: its configuration, the device ready, the
 * meter port, the run, its report (in sc->rdir) and, recording, the
 * recording. Sets sc->rc; returns EXIT_SETUP when the bench cannot go on
 * (the suite stops), else 0. */
static int run_one(struct bench *b, struct scen *sc, const char *report_base, bool in_suite)
{
	const struct opts *o = b->o;
	struct sc_scenario *s = sc->s;
	struct sc_run *run = &sc->run;
	char why[1024];
	struct sc_dut *dut = NULL, *probe = NULL;
	struct sc_meter_port *port = NULL;
	sc->rc = EXIT_SETUP;
	iso_now(sc->started, sizeof sc->started);

	/* The firmware the twin's oracle follows: the scenario's, or
	 * --firmware's (the unit's own with "unit"). */
	const char *fw = o->firmware ? strcmp(o->firmware, "unit") == 0 ? b->firmware : o->firmware
				     : NULL;
	struct sc_fw_version want_fw, have_fw;
	if (fw && strcmp(fw, s->firmware) != 0) {
		sc_log(SC_LOG_INFO, "twin: follows firmware %s (--firmware), the scenario is written for %s",
		       fw, s->firmware);
		sc_str_copy(s->firmware, sizeof s->firmware, fw);
	} else if (!fw && sc_fw_parse(s->firmware, &want_fw) == SC_OK &&
		   sc_fw_parse(b->firmware, &have_fw) == SC_OK && sc_fw_cmp(&want_fw, &have_fw) != 0) {
		sc_log(SC_LOG_WARN, "device: it runs firmware %s, the scenario is written for %s "
				    "(--firmware unit: the twin follows the unit)",
		       b->firmware, s->firmware);
	}
	bool tic = s->device == SC_PROTO_TIC;
	struct sc_line line = sc_line_for(tic);
	if (o->line)
		sc_line_parse(o->line, &line, why, sizeof why); /* checked before the bench */
	enum sc_data_request dr = SC_DR_NONE;
	if (o->dr)
		sc_data_request_parse(o->dr, &dr);

	probe = sc_dut_open(&b->dopts, why, sizeof why);
	if (!probe) {
		fprintf(stderr, "%s: %s\n", prog, why);
		goto out;
	}
	if (o->reset_first && reset_first(probe, b->twin, why, sizeof why) != 0) {
		fprintf(stderr, "%s: --reset-first: %s\n", prog, why);
		goto out;
	}
	if (s->config && configure(probe, b->twin, s->config, b->broker_url != NULL, why, sizeof why) != 0) {
		fprintf(stderr, "%s: %s: the scenario's configuration: %s\n", prog, sc->path, why);
		goto out;
	}
	sc_dut_close(probe);
	probe = NULL;
	struct sc_dut_opts dopts = b->dopts;
	dopts.broker_url = b->broker_url;
	dopts.serial = b->serial;
	dut = sc_dut_open(&dopts, why, sizeof why);
	if (!dut) {
		fprintf(stderr, "%s: %s\n", prog, why);
		goto out;
	}
	/* Time 0 is when the device is ready: running and, if it publishes
	 * to the broker read here, connected to it (as far as it says). */
	bool publishes = false;
	if (b->broker_url) {
		cJSON *cd = get_json(dut, "/api/v1/config", 10, NULL, why, sizeof why);
		publishes = cJSON_IsTrue(sc_json_at(cd, "MQTT.Enabled"));
		cJSON_Delete(cd);
	}
	if (wait_ready(dut, b->twin, publishes, false, 30, why, sizeof why) != 0)
		sc_log(SC_LOG_WARN, "device: %s; going on", why);

	/* The meter emulator. */
	struct sc_meter_port_opts po = {
		.path = o->port, .line = line, .dr = dr, .pace = 1 / o->speed,
		.min_gap_s = (tic ? 0.0167 : 0.0) / o->speed, .reopen_s = 0.5, .log = port_log,
	};
	port = sc_meter_port_open(&po, why, sizeof why);
	if (!port) {
		fprintf(stderr, "%s: --port: %s\n", prog, why);
		goto out;
	}
	sc_line_format(&line, sc->line, sizeof sc->line);
	sc_log(SC_LOG_INFO, "meter: %s at %s%s%s", o->port, sc->line, dr ? ", data request on " : "",
	       dr ? sc_data_request_name(dr) : "");

	struct hil h = {.s = s, .dut = dut, .port = port, .twin = b->twin, .speed = o->speed,
			.hook = o->hook, .broker = b->broker.pid > 0 ? &b->broker : NULL};
	struct sc_run_io io = {
		.meter = io_meter, .advance = io_advance, .act = io_act, .clock = io_clock, .arg = &h, .tick = 0.25,
		.line_put = io_line_put, .line_cable = io_line_cable, .line_take = io_line_take,
		.line_ahead = 30 * o->speed, /* 30 s of real time */
		.latency = o->latency, .mqtt_grace_ms = 3000, .sample = !o->no_read_back,
		.record = o->record,
		.ts_window = o->unit_clock_ts,
		.observe = b->twin ? NULL : io_observe,
		.unit = !b->twin,
	};
	if (o->no_mqtt) {
		/* Skipped, said before the run: the run checks the rest. */
		for (int i = 0; i < s->nsteps; i++)
			for (int k = 0; k < s->steps[i].nexpect; k++)
				if (s->steps[i].expect[k].kind == SC_EXPECT_MQTT &&
				    sc_run_skip(run, stdout, &s->steps[i], &s->steps[i].expect[k],
						"--no-mqtt: MQTT is not read on this bench") != 0) {
					fprintf(stderr, "%s: out of memory\n", prog);
					goto out;
				}
		sc_scenario_drop_expects(s, SC_EXPECT_MQTT);
	}
	sc_log(SC_LOG_INFO, "scenario %s: %d steps over %g s%s", s->name, s->nsteps, s->duration,
	       o->speed != 1 ? ", faster" : "");
	h.t0 = mono_s();
	int r = sc_run_scenario(s, sc->dir, dut, &io, run, stdout);
	line_stop(&h);
	sc->wall = mono_s() - h.t0;
	sc->ran = true;
	if (r != 0)
		fprintf(stderr, "%s: scenario %s stopped: %s\n", prog, s->name, run->error);
	sc->rc = r != 0 || run->fail ? EXIT_MISMATCH : 0;
	printf("scenario %s: %d passed, %d failed, %d skipped; %zu telegrams over %g s in %.2f s",
	       s->name, run->pass, run->fail, run->skip, run->ntg, run->duration, sc->wall);
	if (run->not_sent)
		printf("; %d did not reach the device", run->not_sent);
	if (run->late)
		printf("; %d telegrams left late (the rig's fault, not the unit's)", run->late);
	printf("\n");
	fflush(stdout);

	/* The serial a unit's messages came with, for the reports. */
	if (!b->serial[0] && b->broker_url) {
		char other[40];
		sc_dut_mqtt_serial(dut, b->serial, sizeof b->serial, other, sizeof other);
		if (b->serial[0])
			sc_log(SC_LOG_INFO, "device: serial %s (from the topics of its messages)", b->serial);
		if (other[0])
			sc_log(SC_LOG_WARN, "device: another device (serial %s) publishes to the same broker; "
					    "its messages were left out (--serial-number SN names the one "
					    "under test)",
			       other);
	}
	describe_dut(b, sc->desc, sizeof sc->desc);
	snprintf(sc->firmware, sizeof sc->firmware, "%s", b->firmware);
	if (port) {
		sc->stats = *sc_meter_port_stats(port);
		sc->have_stats = true;
	}

	/* Reports, and the recording. */
	int made = in_suite ? sc_report_subdir(report_base, s->name, sc->rdir, sizeof sc->rdir, why, sizeof why)
			    : sc_report_dir(report_base, sc->started, s->name, sc->rdir, sizeof sc->rdir, why,
					    sizeof why);
	if (made != 0) {
		fprintf(stderr, "%s: --report: %s\n", prog, why);
		sc->rc = EXIT_SETUP;
	} else {
		struct sc_report_info ri = {
			.scenario_path = sc->path, .s = s, .dut = sc->desc,
			.dut_firmware = sc->firmware[0] ? sc->firmware : NULL, .port = o->port, .line = sc->line,
			.line_stats = &sc->stats, .started = sc->started, .wall_s = sc->wall,
			.exit_status = sc->rc, .error = r != 0 ? run->error : NULL,
		};
		if (sc_report_write(sc->rdir, &ri, run, why, sizeof why) != 0) {
			fprintf(stderr, "%s: report: %s\n", prog, why);
			sc->rc = EXIT_SETUP;
		} else {
			printf("report: %s/report.html\n", sc->rdir);
		}
	}
	if (o->record && r == 0) {
		struct sc_record_info rec = {sc->path, sc->desc, sc->firmware[0] ? sc->firmware : NULL,
					     sc->started};
		if (sc_record_write(o->output, sc->text, &rec, run, why, sizeof why) != 0) {
			fprintf(stderr, "%s: -o: %s\n", prog, why);
			sc->rc = EXIT_SETUP;
		} else {
			size_t served = 0;
			for (size_t k = 0; k < run->ntg; k++)
				served += run->tg[k].served || run->tg[k].mqtt;
			printf("recorded: %s (%zu telegrams, %zu with what the device served)\n", o->output,
			       run->ntg, served);
			/* A recording's expectations are what it saw, mismatches
			 * with the twin included. */
			if (sc->rc == EXIT_MISMATCH)
				sc->rc = 0;
		}
	}
	fflush(stdout);
out:
	sc_meter_port_close(port);
	sc_dut_close(dut);
	sc_dut_close(probe);
	return sc->rc == EXIT_SETUP ? EXIT_SETUP : 0;
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

	int rc = EXIT_USAGE;
	struct scen *v = NULL;
	size_t n = 0;
	struct bench b;
	memset(&b, 0, sizeof b);
	b.o = &o;
	char why[1024];
	if (load_inputs(&o, &v, &n) != 0)
		goto out;
	struct sc_line line;
	if (o.line && sc_line_parse(o.line, &line, why, sizeof why) != 0) {
		fprintf(stderr, "%s: --line: %s\n", prog, why);
		goto out;
	}
	enum sc_data_request dr;
	if (o.dr && sc_data_request_parse(o.dr, &dr) != 0) {
		fprintf(stderr, "%s: --data-request: '%s' is not none, cts, dsr, dcd or ri\n", prog, o.dr);
		goto out;
	}
	/* MQTT expectations need a subscriber: without --broker, say so before
	 * the run rather than fail each of them after it; --no-mqtt skips them. */
	if (!o.broker || o.no_mqtt) {
		for (size_t i = 0; i < n; i++) {
			char steps[600];
			int nsteps = mqtt_steps(v[i].s, steps, sizeof steps);
			if (nsteps && !o.no_mqtt) {
				fprintf(stderr,
					"%s: %s%s%s expect%s MQTT messages, and no --broker URL names the "
					"broker the device publishes to: give --broker, or --no-mqtt to skip "
					"those expectations\n",
					prog, n > 1 ? v[i].path : "", n > 1 ? ": " : "", steps,
					nsteps == 1 ? "s" : "");
				goto out;
			}
			if (nsteps)
				sc_log(SC_LOG_INFO, "--no-mqtt: the MQTT expectations of %s%s%s are skipped",
				       n > 1 ? v[i].path : "", n > 1 ? ": " : "", steps);
		}
	}

	rc = setup_bench(&b);
	if (rc != 0)
		goto out;

	/* One scenario: its folder under --report as before. Several: a
	 * folder for the suite, one inside it for each, an index and one
	 * junit.xml. */
	bool suite = n > 1;
	char started[32], sdir[4096] = "";
	iso_now(started, sizeof started);
	if (suite && sc_report_dir(o.report, started, "suite", sdir, sizeof sdir, why, sizeof why) != 0) {
		fprintf(stderr, "%s: --report: %s\n", prog, why);
		rc = EXIT_SETUP;
		goto out;
	}
	double t0 = mono_s();
	bool stopped = false;
	for (size_t i = 0; i < n && !stopped; i++) {
		if (suite)
			printf("== %s (%zu of %zu)\n", v[i].path, i + 1, n);
		stopped = run_one(&b, &v[i], suite ? sdir : o.report, suite) != 0;
	}
	rc = 0;
	size_t passed = 0, failed = 0, ran = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].ran)
			ran++;
		if (v[i].rc > rc)
			rc = v[i].rc;
		if (v[i].ran && v[i].rc == 0)
			passed++;
		else if (v[i].ran)
			failed++;
	}
	if (stopped && rc < EXIT_SETUP)
		rc = EXIT_SETUP;
	if (suite) {
		struct sc_report_entry *e = calloc(n, sizeof *e);
		if (!e) {
			fprintf(stderr, "%s: out of memory\n", prog);
			rc = EXIT_SETUP;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			e[i].ran = v[i].ran;
			e[i].run = &v[i].run;
			e[i].href = v[i].rdir[0] ? v[i].rdir + strlen(sdir) + 1 : NULL;
			e[i].ri = (struct sc_report_info){
				.scenario_path = v[i].path, .s = v[i].s, .dut = v[i].desc,
				.dut_firmware = v[i].firmware[0] ? v[i].firmware : NULL, .port = o.port,
				.line = v[i].line, .line_stats = v[i].have_stats ? &v[i].stats : NULL,
				.started = v[i].started, .wall_s = v[i].wall, .exit_status = v[i].rc,
				.error = v[i].ran && v[i].run.error[0] ? v[i].run.error : NULL,
			};
		}
		double wall = mono_s() - t0;
		if (sc_report_suite(sdir, e, n, started, wall, why, sizeof why) != 0) {
			fprintf(stderr, "%s: report: %s\n", prog, why);
			rc = EXIT_SETUP;
		} else {
			printf("suite: %zu scenarios, %zu passed, %zu failed%s%s in %.2f s\n", n, passed, failed,
			       ran < n ? ", not run: " : "", ran < n ? "the bench stopped" : "", wall);
			printf("report: %s/index.html\n", sdir);
		}
		free(e);
	}
	fflush(stdout);
out:
	for (size_t i = 0; i < n; i++) {
		sc_run_free(&v[i].run);
		sc_scenario_free(v[i].s);
		free(v[i].text);
	}
	free(v);
	if (b.broker.pid > 0)
		sc_broker_stop(&b.broker);
	return rc;
}
