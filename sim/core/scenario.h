/* Scenario files (scenarios/README.md): a device, a meter, and a timeline
 * of telegrams, faults and actions with the expectations on what the device
 * serves. The unit that sc-sim --scenario runs against the twin and sc-hil
 * against a real dongle. Loading is pure: text in, a model out, or an error
 * naming the JSON path and what is wrong there; unknown keys are errors.
 * Capture files a step names are read by the runner, not here. */
#ifndef SC_SCENARIO_H
#define SC_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "action.h"
#include "meter.h"
#include "p1_gen.h"
#include "reading.h"
#include "regmap.h"
#include "telegram.h"
#include "tic_gen.h"

#define SC_SCENARIO_VERSION 1

/* A value an expectation wants: a number (within a tolerance), a range, a
 * string, a boolean or null. */
enum sc_match_kind { SC_MATCH_NUMBER, SC_MATCH_RANGE, SC_MATCH_STRING, SC_MATCH_BOOL, SC_MATCH_NULL };

struct sc_match {
	char key[96];          /* register name or address, JSON path, counter name */
	enum sc_match_kind kind;
	double num, min, max;  /* RANGE: min/max, either may be +-inf */
	bool has_min, has_max;
	bool b;
	char *str;             /* STRING, owned */
	double tolerance;      /* NUMBER: |actual - num| <= tolerance */
	uint16_t addr;         /* modbus: the register */
};

enum sc_expect_kind {
	SC_EXPECT_MODBUS,   /* register values */
	SC_EXPECT_MQTT,     /* a message of a metric with field values */
	SC_EXPECT_HTTP,     /* a request's status and JSON fields */
	SC_EXPECT_LED,      /* the LED state (from the status API) */
	SC_EXPECT_COUNTERS, /* device counters (from the status API) */
};

struct sc_expect {
	enum sc_expect_kind kind;
	double within;        /* s: true at some moment of [at, at + within] */
	bool from_telegram;   /* modbus/mqtt: the values the oracle derives from the last
			       * telegram sent (the twin's mapping of it) */
	char metric[32];      /* mqtt: "power_instant", "device_counters" */
	char method[8];       /* http */
	char path[160];       /* http */
	char *body;           /* http: JSON text to send, owned (may be NULL) */
	int status;           /* http: 0 = not checked */
	char led[24];         /* led */
	struct sc_match *m;   /* the values, owned */
	int nm;
	char where[64];       /* "steps[3].expect[1]" for messages */
};

enum sc_step_kind {
	SC_STEP_EXPECT = 0,   /* nothing but expectations (or a wait) */
	SC_STEP_TELEGRAMS,    /* generated telegrams */
	SC_STEP_TELEGRAM,     /* one literal telegram */
	SC_STEP_CAPTURE,      /* telegrams of a capture file */
	SC_STEP_METER,        /* cable out / in */
	SC_STEP_NETWORK,      /* environment change */
	SC_STEP_BROKER,       /* broker down / up */
	SC_STEP_BUTTON,       /* a press of some seconds */
	SC_STEP_POWER,        /* power cut and back */
	SC_STEP_API,          /* a device API request */
};

struct sc_step {
	double at;            /* s from the start */
	enum sc_step_kind kind;
	char where[32];       /* "steps[3]" */
	int index;            /* in the file */
	char note[160];
	/* TELEGRAMS */
	int count;
	double every;         /* s; 0 = the meter's cadence */
	int fault;            /* sc_p1_fault or sc_tic_fault, 0 none */
	int fault_every;
	/* TELEGRAM: the bytes, owned */
	char *bytes;
	size_t nbytes;
	/* CAPTURE */
	char file[512];       /* as written; relative to the scenario file */
	int from;             /* index of the first telegram */
	bool by_time;
	double from_time, to_time; /* s from the capture's first telegram (by_time) */
	/* METER, NETWORK, BROKER, BUTTON, POWER: what is done to the device
	 * (kind SC_ACT_NONE for the other steps) */
	struct sc_action action;
	/* WAIT (an EXPECT step with "wait"): its length in s */
	double seconds;
	/* API (method/path/body/status in api) */
	struct sc_expect api;
	struct sc_expect *expect; /* owned */
	int nexpect;
};

struct sc_scenario {
	char name[64];
	char *description;          /* owned, may be NULL */
	enum sc_protocol device;    /* P1 or TIC */
	char firmware[16];
	char serial[33];
	enum sc_word_order word_order;
	char *config;               /* a PATCH document applied before the start, owned, may be NULL */
	/* The meter generated telegrams come from. */
	enum sc_flavour flavour;
	struct sc_meter_config meter;
	struct sc_tic_gen_opts tic;
	double time_scale;          /* meter seconds per scenario second (a day in minutes) */
	struct sc_step *steps;      /* owned, sorted by at (stable) */
	int nsteps;
	double duration;            /* s: the last step, its telegrams and windows */
};

/* Loads scenario text. name is the file's name for messages. Returns 0, or
 * SC_ERR_INVAL with "NAME: steps[3].expect[0].modbus.register: unknown
 * register 'x' (...)" in err. */
int sc_scenario_load(const char *text, size_t len, const char *name, struct sc_scenario **out,
		     char *err, size_t cap);
void sc_scenario_free(struct sc_scenario *s);

/* Removes (and frees) every expectation of a kind from the steps; returns
 * how many were removed. */
int sc_scenario_drop_expects(struct sc_scenario *s, enum sc_expect_kind kind);

/* The meter's cadence for generated telegrams (s): 10 for DSMR 4.2, 1 else. */
double sc_scenario_cadence(const struct sc_scenario *s);

/* Does a value satisfy a match? (numbers within the tolerance, ranges,
 * strings, booleans, null). */
bool sc_match_number(const struct sc_match *m, double actual);
const char *sc_expect_kind_name(enum sc_expect_kind k);
/* The match as text ("2257 +- 1", "[1, inf]", "\"no-data\""). */
void sc_match_describe(const struct sc_match *m, char *buf, size_t cap);

#endif
