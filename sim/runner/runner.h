/* Runs a scenario (scenario.h) against a device under test: sends its
 * telegrams on the meter line at their times, carries out its actions,
 * and checks its expectations against what the device serves, read through
 * its real interfaces (dut.h). The same run drives the twin (sc-sim
 * --scenario, the meter line and the clock inside the process) and a real
 * dongle (sc-hil: a serial port, the wall clock).
 *
 * The oracle: every byte sent also goes through the twin's own core
 * (parser, mapping, register image, power_instant), so "telegram"
 * expectations compare the device with what the twin says it should serve
 * for the last telegram sent.
 *
 * An expectation opens at its step's time and passes when it holds at any
 * check up to "within" seconds later (checks every tick); MQTT messages are
 * given mqtt_grace_ms of real time to arrive, counted from the last time a
 * telegram waiting for its power_instant got it (at most 20 times it in all). */
#ifndef SC_RUNNER_H
#define SC_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "dut.h"
#include "scenario.h"

/* What became of a telegram on a meter line that keeps its own time
 * (io.line_take). */
struct sc_run_written {
	int sent;             /* as io.meter: 0, 1 (not sent), 2 (as the line came
	                       * back), -1 the run cannot go on */
	double written;       /* s of the scenario its first byte left (not sent:
	                       * when it was tried) */
	double ended;         /* s of the scenario its last byte left */
	double late_s;        /* real s its first byte left after its time */
};

/* A telegram that left more than this many real seconds after its time
 * left late: the rig's fault, not the device's. */
#define SC_RUN_LATE_S 0.05

struct sc_run_io {
	/* Bytes on the meter line now. 0 when they went out, 1 when they did
	 * not reach the device (why: the cable is out, the port is gone, Data
	 * Request is low; the oracle does not take them), 2 when they went out
	 * as the line had just come back (the device may not listen yet: the
	 * oracle takes them, what is read back after them is not judged), -1
	 * with why when the run cannot go on. */
	int (*meter)(void *arg, const void *data, size_t len, char *why, size_t cap);
	/* Bring the device to scenario time t (s): advance a virtual clock, or
	 * wait for the wall clock. 0, or -1 with why. */
	int (*advance)(void *arg, double t, char *why, size_t cap);
	/* A fault or action of the timeline (meter, network, broker, button,
	 * power): 0 done, 1 not possible here (skipped, why says so), -1 failed.
	 * Only for a broker step may it hold the scenario's clock (a device on
	 * the wall clock reconnecting: the clock waits for it). */
	int (*act)(void *arg, const struct sc_step *st, char *why, size_t cap);
	/* Optional, for a device on virtual time: advance to t and put the
	 * bytes on the line in one step (a telegram's usual pair of calls). */
	int (*meter_at)(void *arg, double t, const void *data, size_t len, char *why, size_t cap);
	/* Optional, with meter_at: the same in two halves, so that the runner
	 * works while the device takes the bytes (the oracle reads them, the
	 * next telegram is made). meter_begin hands them over (0, or -1 with
	 * why; data stays valid until meter_end), meter_end waits for what
	 * became of them (as meter_at). No other call of io comes between. */
	int (*meter_begin)(void *arg, double t, const void *data, size_t len, char *why, size_t cap);
	int (*meter_end)(void *arg, char *why, size_t cap);
	/* Optional, for a device on virtual time: called before expectations
	 * are checked, lets what the device has under way in real time (MQTT
	 * publishes) finish. */
	void (*settle)(void *arg);
	/* Optional: the device's scenario time now (s), for a device on the
	 * wall clock, which a slow check or a long telegram may have carried
	 * past the runner's; read-backs wait `latency` from there. */
	double (*clock)(void *arg);
	/* Optional, for a device that serves only the manual's interfaces (a
	 * unit): what it shows on none of them, observed another way (sc-hil's
	 * --hook). what is "led" (out: the LED state as the twin names it,
	 * e.g. "normal", "no-data") or "counters" (out: a JSON object of the
	 * device_counters names). 0 with out, 1 not observable here (why says
	 * so: the expectation is SKIP), -1 failed (why). NULL: both come from
	 * the twin's /sim/v1/state. */
	int (*observe)(void *arg, const char *what, char *out, size_t cap, char *why, size_t whycap);
	/* The device is a unit: it serves the manual's interfaces only, so a
	 * request of the scenario to the twin's own API (/sim/...) is SKIP. */
	bool unit;
	/* Optional, a meter line that keeps its own time (sc-hil): the runner
	 * hands it each telegram (line_put) and each cut or restore of the
	 * meter cable (line_cable) ahead of its time, in the timeline's order,
	 * up to line_ahead s of scenario time ahead of its own (0: all) and
	 * never past a broker step not yet carried out (io.act may hold the
	 * clock there); the line writes each at its time whatever the runner
	 * is doing (a check that waits does not hold the meter back). When
	 * the runner reaches a telegram's time it takes what became of it
	 * (line_take, in the same order, waiting for the line to finish it:
	 * 0, or -1 with why). With a line, io.meter and io.meter_at are not
	 * used and io.act is not called for the meter cable. 0, or -1 with
	 * why. */
	int (*line_put)(void *arg, double t, const void *data, size_t len, char *why, size_t cap);
	int (*line_cable)(void *arg, double t, bool cut, char *why, size_t cap);
	int (*line_take)(void *arg, struct sc_run_written *w, char *why, size_t cap);
	double line_ahead;
	void *arg;
	double tick;          /* s of scenario time between checks of open expectations */
	double latency;       /* s a device may take to serve a telegram after it went
	                       * out: every expectation's window is at least that
	                       * long (and lasts that long after the latest telegram's
	                       * last byte), and read-backs wait that long (0: at once) */
	int mqtt_grace_ms;    /* real time a message may take to arrive */
	double ts_window;     /* 0: a power_instant's ts is the meter's; > 0: the
	                       * unit stamps its own clock, ts within this many
	                       * seconds of the real time the message arrived */
	bool record;          /* read the key registers and the last power_instant
	                       * after every telegram (sc-hil record) */
	bool sample;          /* read P and E_IMPORT after every telegram (plots), and
	                       * check them: a result "each telegram" at the end,
	                       * a FAIL line for each of the first that differ */
	/* Optional, with sample, for a device in this very process (the twin
	 * on virtual time): those two reads (n1 registers from a1 into o1, n2
	 * from a2 into o2) served by the device's Modbus server from its image
	 * without a connection, at the moment the runner asks. As
	 * sc_dut_read_two: 0 both read, 1 the first only, -1 neither (why).
	 * NULL: read over Modbus TCP. */
	int (*read_two)(void *arg, uint16_t a1, int n1, uint16_t *o1, uint16_t a2, int n2,
			uint16_t *o2, char *why, size_t cap);
};

struct sc_result {
	char where[72];       /* "steps[3].expect[0]" */
	double at, when;      /* opened, decided (s of the scenario) */
	char kind[12];        /* modbus, mqtt, http, led, counters, api */
	char target[96];      /* "0x8016 active_power", "l1.U", "Status.Meter.State" */
	char expected[160];
	char actual[320];     /* a list, and the likely cause of a mismatch */
	bool pass, skipped;
	char note[160];
};

/* What became of a telegram's power_instant (the run checks every one when
 * it reads MQTT: see delivery.c). */
enum sc_pi_fate {
	SC_PI_UNCHECKED = 0,  /* not accounted in this run */
	SC_PI_DELIVERED,      /* a message with its values came */
	SC_PI_LOST,           /* none came by the end of the run (and the grace) */
	SC_PI_NOT_DUE,        /* none expected: it did not reach the device, or the
	                       * twin rejected it */
	SC_PI_UNSURE,         /* not judged: sent as the meter line came back */
	SC_PI_OFFLINE,        /* not judged: sent while the device could not
	                       * publish (broker or network down, restarting) */
};

/* A telegram sent, with what the oracle made of it. */
struct sc_run_telegram {
	double at;
	size_t len;
	int step;             /* the step that sent it (index in the file) */
	bool sent;            /* it reached the device (see io.meter) */
	bool unsure;          /* it went out as the line came back (io.meter 2) */
	bool ok;              /* the oracle parsed it (false when not sent) */
	/* When it was written, by the device's clock (on virtual time: at).
	 * The oracle took it at `written`; read-backs wait io.latency from
	 * `ended`. */
	double written;       /* s of the scenario its first byte left (not sent:
	                       * when it was tried) */
	double ended;         /* s of the scenario its last byte left */
	double late_s;        /* real s it left after its time (0: on time) */
	bool late;            /* sent, late_s > SC_RUN_LATE_S: the rig's fault */
	char why[96];         /* not sent: why */
	double p, e_import;   /* its P (W) and E_IMPORT (Wh), NAN when absent */
	double e_export;      /* its E_EXPORT (Wh), NAN when absent */
	char *bytes;          /* owned, kept when the run keeps telegrams */
	/* io.record: what the device served after it (regs in the order of
	 * sc_regmap_key; mqtt the power_instant received since, or NULL) */
	bool served;
	float regs[SC_REGMAP_NKEY];
	char *mqtt;
	/* Its power_instant: what became of it, how many messages carried
	 * it, when the first was taken (s of the scenario, NAN when none),
	 * and whether it came after a later telegram's. */
	enum sc_pi_fate pi;
	int pi_msgs;
	double pi_seen;
	bool pi_out_of_order;
};

/* Expected and served values after a telegram (when io.sample). */
struct sc_run_sample {
	double at;
	double want_p, got_p, want_e, got_e; /* NAN when unknown */
};

struct sc_run {
	struct sc_result *r;
	size_t n, cap;
	int pass, fail, skip;
	struct sc_run_telegram *tg;
	size_t ntg, captg;
	struct sc_run_sample *s;
	size_t ns, caps;
	int not_sent;         /* telegrams that did not reach the device */
	int late;             /* telegrams that left late (the rig's fault) */
	double duration;      /* s of the scenario run */
	bool keep_bytes;      /* set before running: keep the telegrams' bytes */
	char error[512];      /* when the run could not go on */
};

/* 0 when it ran to its end (expectations may have failed: run->fail), -1
 * when it could not go on (run->error). log gets a line per result (may be
 * NULL). dir: where the scenario file is, for its captures. */
int sc_run_scenario(const struct sc_scenario *s, const char *dir, struct sc_dut *dut,
		    const struct sc_run_io *io, struct sc_run *run, FILE *log);
void sc_run_free(struct sc_run *run);

/* Records an expectation of step st as SKIP, with why as what was seen (a
 * line in log, may be NULL): for one the bench is told not to check. 0, or
 * -1 out of memory. */
int sc_run_skip(struct sc_run *run, FILE *log, const struct sc_step *st,
		const struct sc_expect *e, const char *why);

/* Reads the captures the scenario's steps name and checks their slices:
 * 0, or -1 with "steps[2].capture.from: 40 is past the capture's last
 * telegram (it has 12)" in err. */
int sc_run_check_captures(const struct sc_scenario *s, const char *dir, char *err, size_t cap);

#endif
