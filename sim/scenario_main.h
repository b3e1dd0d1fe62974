/* sc-sim --scenario: runs a scenario file against the twin (see
 * scenario_main.c) and prints a line per expectation. */
#ifndef SC_SCENARIO_MAIN_H
#define SC_SCENARIO_MAIN_H

#include <stdbool.h>

#include "runner.h"
#include "scenario.h"
#include "twin.h"

struct sc_scenario_run {
	const char *path;
	bool speed_max;       /* virtual time, as fast as it goes */
	double speed;         /* else real time this many times faster */
	const char *mqtt_url; /* a broker to use; NULL: a private mosquitto when needed */
	bool mqtt_off;
	bool each_telegram;   /* read P and E back after every telegram and compare */
	const char *ready_file; /* --ready-file: the ports, once the twin listens */
	/* Called with the finished run (reports), may be NULL. */
	void (*results)(void *arg, const struct sc_scenario *s, const struct sc_run *run, double wall_s);
	void *results_arg;
};

/* Exit status: 0 every expectation passed, 1 one failed, 2 the file is not
 * a valid scenario, 3 the run could not be set up or went wrong. to: the
 * twin's options from the command line, changed to what the scenario says. */
int sc_scenario_main(const struct sc_scenario_run *o, struct sc_twin_opts *to);

#endif
