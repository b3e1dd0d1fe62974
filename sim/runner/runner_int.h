/* The scenario runner's pieces and the state each owns, shared by its files
 * only (the public API is runner.h):
 *   timeline.c   when each step and telegram is due; the generated meter
 *                and the captures that supply the bytes; what is handed
 *                ahead to a meter line of its own (io.line_put)
 *   oracle.c     the twin's own core fed the telegrams that reached the
 *                device: what the device should serve
 *   expect.c     the open expectations, each kind checked against what
 *                the device serves (Modbus, MQTT, HTTP, LED, counters)
 *   readback.c   what the device serves after each telegram (io.sample,
 *                io.record), read when io.latency has passed
 *   delivery.c   every telegram's power_instant: messages matched to the
 *                telegrams by their values and order (delivered, lost,
 *                duplicated, out of order)
 *   results.c    the run's record: results and their log lines,
 *                telegrams, samples
 *   runner.c     the run: time advanced, events carried out in order,
 *                bytes put on the meter line, actions handed to io.act */
#ifndef SC_RUNNER_INT_H
#define SC_RUNNER_INT_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "diagnose.h"
#include "cursor.h"
#include "firmware.h"
#include "meter.h"
#include "regmap.h"
#include "runner.h"
#include "telegram.h"

/* ---- the timeline ---- */

enum sc_ev_kind { SC_EV_ACTION, SC_EV_GEN, SC_EV_CHUNK };

struct sc_ev {
	double t;
	enum sc_ev_kind kind;
	int step;             /* index into s->steps */
	int k;                /* telegram index within the step, or chunk index */
	int order;            /* file order for equal times */
};

struct sc_capfile {
	char path[1024];
	struct sc_capture cap;
};

struct sc_timeline {
	struct sc_ev *ev;         /* owned, in the order they happen */
	size_t nev;
	int *remaining;           /* owned: telegrams of each step still to send */
	struct sc_meter meter;    /* the generated meter */
	bool meter_started;
	struct sc_capfile *caps;  /* owned: captures in use */
	size_t ncaps;
	/* A meter line of its own (io.line_put): the events handed to it are
	 * those before fed; the bytes of the telegrams handed and not yet
	 * carried out are kept, a queue from ahead_head. */
	size_t fed;
	struct sc_ahead *ahead;   /* owned, and each one's data */
	size_t nahead, capahead, ahead_head;
	/* The generated telegram of event pre - 1 made ahead of its time
	 * (sc_timeline_prepare; 0: none): its bytes, or the error. */
	size_t pre;
	const char *pre_data;
	size_t pre_len;
	int pre_rc;
	char pre_error[512];
	int slot;                 /* the generator's buffer the next one goes to */
};

struct sc_ahead {
	size_t ev;                /* index into ev */
	char *data;               /* owned */
	size_t len;
};

/* ---- the oracle ---- */

struct sc_oracle {
	struct sc_tg_stream *stream; /* owned */
	struct sc_tg_event *ev;      /* owned */
	struct sc_reading last;      /* of the last good telegram */
	bool have_last;
	struct sc_reading prev;      /* of the good telegram before it */
	bool have_prev;
	double last_at;              /* when the last good telegram was sent */
	struct sc_regmap_opts regs;  /* how the device builds its map */
	bool fw_pending;             /* an update to fw_target was accepted */
	struct sc_fw_version fw_target;
	/* What it was before bytes it took ahead of knowing that they reached
	 * the device (sc_oracle_mark): owned, or NULL. */
	struct sc_tg_stream *saved_stream;
	struct sc_reading saved_last, saved_prev;
	bool saved_have_last, saved_have_prev;
	double saved_last_at;
};

/* ---- the expectations ---- */

struct sc_open_exp {
	const struct sc_expect *e;  /* the scenario's */
	const struct sc_step *st;   /* the scenario's */
	double opened, deadline;
	bool done;
	struct sc_reading want;     /* from_telegram: the oracle's reading when opened */
	double want_at;             /* when that telegram was sent */
	bool have_want;
};

struct sc_expects {
	struct sc_open_exp *open;   /* owned */
	size_t nopen, capopen;
	/* the status document, fetched once per moment */
	cJSON *status;              /* owned, or NULL */
	double status_at;
	/* Status.Counters read once before the first telegram: counters
	 * expectations compare the differences from it (sc_counters_since).
	 * Owned, or NULL (not read, or the device did not serve it). */
	cJSON *base;
	/* device_counters compare against base too; without it, against the
	 * latest device_counters message before the run (owned, or NULL). */
	cJSON *mqtt_base;
	/* The phase a restarting device named in its 503 answer to the status
	 * request ("power-up", "initialising"), "" otherwise. */
	char restarting[24];
};

/* ---- the read-backs after telegrams ---- */

struct sc_pending {
	size_t tg;                /* index into run->tg */
	double due;
	struct sc_run_sample smp; /* the oracle's values when it was sent */
};

struct sc_readback {
	size_t samples, unread, unsure, bad; /* io.sample: telegrams so judged */
	size_t skipped;           /* io.sample: not read, a newer telegram had gone out */
	struct sc_pending *pend;  /* owned: waiting for io.latency, a queue from phead */
	size_t npend, cappend, phead;
	/* The likely cause of each telegram that differed (diagnose.h): how
	 * many of each, and the last of each with its details. */
	size_t ncause[SC_CAUSE_COUNT];
	struct sc_dx_cause cause[SC_CAUSE_COUNT];
};

/* ---- every telegram's power_instant ---- */

/* A telegram as the accounting sees it. */
struct sc_dl_tg {
	double at;                /* when it was sent (s of the scenario) */
	enum sc_pi_fate fate;     /* NOT_DUE / UNSURE set when recorded; the
	                           * others by sc_delivery_tally */
	struct sc_reading want;   /* the oracle's reading (when it is due) */
	bool kwh;                 /* energy in kWh (the firmware's, then) */
	bool either_unit;         /* sent during a firmware update: kWh or Wh */
	int msgs;                 /* messages matched to it */
	double seen;              /* when the first came (s), NAN */
	bool out_of_order;        /* it came after a later telegram's */
};

/* Something done to the device that may keep it from publishing for a
 * while: a broker or network outage, a restart, a request that restarts
 * it. down: the broker or the network is still out after it. */
struct sc_dl_event {
	double at;
	bool down;
};

/* A message no telegram recorded so far carries: it may be for one not
 * recorded yet. */
struct sc_dl_msg {
	cJSON *got;               /* owned */
	double seen, wall;
	long next;                /* the telegram expected next when it came */
};

struct sc_delivery {
	bool on;                  /* the run accounts every power_instant */
	double ts_window;         /* as io.ts_window */
	double start_wall;        /* messages that came before are not the run's */
	struct sc_dl_tg *tg;      /* owned: one per telegram of the run, in order */
	size_t ntg, captg;
	struct sc_dl_event *ev;   /* owned, in order */
	size_t nev, capev;
	long last;                /* the latest telegram matched, -1 */
	uint64_t seq;             /* the last message taken (sc_dut_msg.seq) */
	bool broker_down;         /* the scenario's broker action: down */
	bool updating;            /* a firmware update under way (it restarts the
	                           * device when it likes) */
	unsigned net_down;        /* network fields the scenario turned off (bits) */
	struct sc_dl_msg *pend;   /* owned, in the order they came */
	size_t npend, cappend;
	int duplicated, out_of_order;
	int unexpected;           /* messages no telegram carries for good (not
	                           * JSON, or waited too long), the pending ones
	                           * not counted */
	char given_up[200];       /* what the first given up differs in */
	double given_up_at;       /* when it was taken */
	struct sc_dx_cause given_up_cause; /* its likely cause (diagnose.h), or none */
	struct sc_dx_cause unexpected_cause; /* the first unexpected one's */
	char unexpected_first[200]; /* what the first unexpected one (given up
	                           * or waiting) differs in: by sc_delivery_tally */
};

/* Counts of sc_delivery_tally. */
struct sc_delivery_counts {
	size_t due;               /* telegrams that expect a message and are judged */
	size_t delivered, lost, unsure, offline, not_due;
	int duplicated, out_of_order, unexpected;
};

/* ---- the run ---- */

struct sc_runner {
	const struct sc_scenario *s;
	const char *dir;          /* where the scenario file is */
	struct sc_dut *dut;
	const struct sc_run_io *io;
	struct sc_run *run;       /* the caller's: the record being written */
	FILE *log;                /* or NULL */
	double now;               /* scenario time (s) */
	double last_ended;        /* when the last byte of the latest telegram that
	                           * reached the device left (s of the scenario) */
	bool defer_advance;       /* the device is brought to now with the next bytes */
	struct sc_timeline tl;
	struct sc_oracle oracle;
	struct sc_expects ex;
	struct sc_readback rb;
	struct sc_delivery dl;
};

/* timeline.c. Builds c->tl from the scenario: 0, or -1 with run->error
 * set (a capture that cannot be read, an empty slice) or left empty (out
 * of memory). */
int sc_timeline_build(struct sc_runner *c);
void sc_timeline_free(struct sc_timeline *tl);
/* The bytes of a telegram event at its time: the generated meter's next
 * telegram or a capture's chunk (called for the events in order, at their
 * time or ahead of it). *data points into storage of the timeline's, valid
 * until the next call. 0, or -1 with run->error. */
int sc_timeline_bytes(struct sc_runner *c, const struct sc_ev *e, const char **data, size_t *len);
/* While the device takes event i's bytes: the bytes of the event after
 * it, when the generated meter makes them, made now (the same bytes, in
 * the same order), kept for sc_timeline_bytes. */
void sc_timeline_prepare(struct sc_runner *c, size_t i);
/* With a meter line (io.line_put): hands it the events from tl.fed on, up
 * to io.line_ahead s past c->now, stopping at a broker step not carried
 * out yet (index i or later). 0, or -1 with run->error. */
int sc_timeline_feed(struct sc_runner *c, size_t i);
/* The bytes handed to the line for event i, taken off the queue (the
 * caller frees *data). 0, or -1 with run->error. */
int sc_timeline_fed_bytes(struct sc_runner *c, size_t i, char **data, size_t *len);
/* The time of the next telegram handed to the line and not carried out
 * yet, INFINITY when none is. */
double sc_timeline_next_fed(const struct sc_runner *c);

/* oracle.c */
int sc_oracle_init(struct sc_oracle *o, const struct sc_scenario *s);
void sc_oracle_free(struct sc_oracle *o);
/* Feeds bytes that reached the device at time at; *ok when a telegram in
 * them was good. */
void sc_oracle_feed(struct sc_oracle *o, const char *data, size_t len, double at, bool *ok);
/* Before feeding bytes that may turn out not to have reached the device:
 * keeps what the oracle is now (0), or says it cannot (-1: feed them only
 * once they are known to have arrived). sc_oracle_back returns to it. */
int sc_oracle_mark(struct sc_oracle *o);
void sc_oracle_back(struct sc_oracle *o);
/* Once an update was accepted, asks the device which firmware it runs and
 * follows it (energy in kWh before 5.1). */
void sc_oracle_firmware(struct sc_oracle *o, struct sc_dut *dut);
/* Power (0x8016) and energy import (0x8100) as the device should serve
 * them for the last good telegram (either pointer may be NULL). */
void sc_oracle_served(const struct sc_oracle *o, double *p, double *e);
/* The same for reading r (the oracle's last or prev), with the firmware
 * the oracle follows now. */
void sc_oracle_served_of(const struct sc_oracle *o, const struct sc_reading *r, double *p,
			 double *e);
/* Did the oracle's values (P, E_IMPORT, E_EXPORT of run->tg) change from
 * each of the last steps + 1 good telegrams to the next? 1 yes, 0 no, -1
 * fewer telegrams than that. */
int sc_oracle_moved(const struct sc_run *run, size_t steps);

/* expect.c */
/* Opens the expectations of step st at c->now; 0, or -1 out of memory. */
int sc_expects_open(struct sc_runner *c, const struct sc_step *st);
/* Every open expectation checked at c->now; final: decided now. */
void sc_expects_check(struct sc_runner *c, bool final);
/* An "api" step: the request made and judged at once. */
void sc_expects_api(struct sc_runner *c, const struct sc_step *st);
/* What the device says may have changed: fetch the status anew. */
void sc_expects_stale(struct sc_expects *ex);
void sc_expects_free(struct sc_expects *ex);
/* Reads the baseline of the counters (ex.base) when the scenario has a
 * counters expectation; a device that does not serve them leaves it NULL
 * (those expectations then fail as they read nothing). */
void sc_expects_baseline(struct sc_runner *c);

/* readback.c */
/* Telegram k (the last recorded) wants a read-back: at once, or queued
 * until io.latency has passed. 0, or -1 out of memory. */
int sc_readback_after(struct sc_runner *c, size_t k);
/* The queued read-backs now due (all: every one). */
void sc_readback_due(struct sc_runner *c, bool all);
bool sc_readback_waiting(const struct sc_readback *rb);
double sc_readback_next(const struct sc_readback *rb);
/* Did the served P and E_IMPORT change across the last n samples of run
 * (cur, when not NULL, the newest)? 1 yes, 0 no, -1 fewer samples read. */
int sc_readback_served_moved(const struct sc_run *run, const struct sc_run_sample *cur, size_t n);
/* The result that sums the telegrams read back (io.sample). */
void sc_readback_summary(struct sc_runner *c);
void sc_readback_free(struct sc_readback *rb);

/* delivery.c: the matching, pure (no device; the unit tests drive it) */
void sc_delivery_init(struct sc_delivery *d, double ts_window, double start_wall);
void sc_delivery_free(struct sc_delivery *d);
/* A telegram sent at at: due (it reached the device, the oracle took it
 * and it was not sent as the line came back) with the oracle's reading
 * want and the firmware's energy unit (either_unit: kWh or Wh, the firmware
 * is changing); else fate says why not (NOT_DUE,
 * UNSURE). 0, or -1 out of memory. */
int sc_delivery_add(struct sc_delivery *d, double at, enum sc_pi_fate fate,
		    const struct sc_reading *want, bool kwh, bool either_unit);
/* Something done to the device at at that may keep it from publishing; down:
 * the broker or network stays out after it. 0, or -1 out of memory. */
int sc_delivery_event(struct sc_delivery *d, double at, bool down);
/* One power_instant message (payload JSON) taken at seen (s of the scenario),
 * arrived at wall (s since 1970): matched to the telegram whose values it
 * carries, in order; one that matches none waits for the telegrams recorded
 * after it (it may have come before its telegram was recorded). */
void sc_delivery_message(struct sc_delivery *d, const char *payload, double seen, double wall);
/* The fate of every telegram as things stand, and the counts. */
void sc_delivery_tally(struct sc_delivery *d, struct sc_delivery_counts *n);
/* The result's text: "N delivered, N lost, N duplicated, N out of order;
 * lost: telegrams 4, 14, 24" (1-based). */
void sc_delivery_text(const struct sc_delivery *d, const struct sc_delivery_counts *n, char *buf,
		      size_t cap);

/* delivery.c: the runner's side */
/* At the start of the run: on when MQTT is read and the scenario checks
 * MQTT or the run reads back every telegram. */
void sc_delivery_start(struct sc_runner *c);
/* Telegram k was recorded in run->tg (the oracle has taken it). 0, or -1
 * out of memory. */
int sc_delivery_telegram(struct sc_runner *c, size_t k);
/* Step st's action was carried out at c->now. */
void sc_delivery_step(struct sc_runner *c, const struct sc_step *st);
/* The messages drained since the last call, matched (before the log
 * forgets them). */
void sc_delivery_take(struct sc_runner *c);
/* The real-time wait for messages still on their way (io.mqtt_grace_ms).
 * When the run accounts for every telegram's power_instant, the grace runs
 * from the last time a waiting telegram got its message, so a backlog the
 * broker is still handing on is waited for while it flows, up to
 * SC_MQTT_GRACE_MAX times the grace in all; other messages (a device at
 * real time goes on publishing) do not prolong it. Start with
 * sc_mqtt_grace_start; sc_mqtt_grace_wait waits up to the rest of the grace
 * for a message and returns false when the grace is over. */
#define SC_MQTT_GRACE_MAX 20
struct sc_mqtt_grace {
	struct timespec t0, last;
	size_t waiting;
};
void sc_mqtt_grace_start(struct sc_runner *c, struct sc_mqtt_grace *g);
bool sc_mqtt_grace_wait(struct sc_runner *c, struct sc_mqtt_grace *g);
/* At the end: the late messages waited for (io.mqtt_grace_ms), the result
 * "power_instant each telegram", and each telegram's fate in run->tg. */
void sc_delivery_result(struct sc_runner *c);

/* results.c */
/* A new zeroed result in run->r, or NULL out of memory. */
struct sc_result *sc_results_add(struct sc_run *run);
/* Counts a filled result and writes its line to log (may be NULL). */
void sc_results_report(struct sc_run *run, FILE *log, const struct sc_result *x);
/* A new zeroed telegram in run->tg, or NULL out of memory. */
struct sc_run_telegram *sc_results_telegram(struct sc_run *run);
/* Keeps a sample; one that finds no memory is dropped. */
void sc_results_sample(struct sc_run *run, const struct sc_run_sample *smp);

/* When a message taken from the MQTT queue now was seen (s of the
 * scenario): on the wall clock, the device's time now (a check may have
 * held the runner behind it, while the meter line went on); else c->now. */
static inline double sc_rn_seen_now(const struct sc_runner *c)
{
	return c->io->clock ? fmax(c->now, c->io->clock(c->io->arg)) : c->now;
}

/* ---- text helpers ---- */

/* snprintf through a function of our own: texts here are cut to their
 * buffers on purpose (-Wformat-truncation would object to each). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline int sc_rn_fmt(char *dst, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(dst, cap, f, ap);
	va_end(ap);
	return n < 0 ? 0 : n;
}


/* A served float as short as says it exactly: 19064.85, 19064850, 0.1. */
struct sc_rn_num {
	char s[24];
};

static inline struct sc_rn_num sc_rn_ftext(double v)
{
	struct sc_rn_num n;
	if (isnan(v)) {
		snprintf(n.s, sizeof n.s, "none");
		return n;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(n.s, sizeof n.s, "%.0f", v);
		return n;
	}
	for (int p = 6; p <= 9; p++) {
		snprintf(n.s, sizeof n.s, "%.*g", p, v);
		if (strtof(n.s, NULL) == (float)v)
			break;
	}
	return n;
}

#endif
