/* The reports of a harness run, in a folder of their own:
 *   junit.xml    one test case per expectation (and per action skipped or
 *                failed, and the read-back summary) for CI systems: a
 *                <failure> with step, interface, field, expected, actual
 *                and time; <skipped> for what could not be done here
 *   result.json  the same, and the run's figures, for programs (with
 *                each telegram's time, write time and lateness)
 *   report.html  one self-contained page for a person: the verdict and
 *                summary, mismatches first, plots of expected against
 *                served power and energy (import; export when the
 *                telegrams carry it) over time (inline SVG), with the
 *                scenario's actions marked on them, the
 *                telegrams sent with when each was written (those that
 *                left more than SC_RUN_LATE_S late marked "late (rig)":
 *                the rig's fault, not the unit's) or why it was not sent;
 *                no script, style sheet, font or image is
 *                fetched from anywhere
 * Files are written whole to a temporary name and renamed. */
#ifndef SC_REPORT_H
#define SC_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "meter_port.h"
#include "runner.h"
#include "scenario.h"

struct sc_report_info {
	const char *scenario_path;
	const struct sc_scenario *s;
	const char *dut;          /* "192.168.1.50 (Modbus 502, HTTPS 443)", "sc-sim at 127.0.0.1" */
	const char *dut_firmware; /* what the device said it runs, or NULL */
	const char *port;         /* the meter emulator's port, or NULL */
	const char *line;         /* "115200,8N1", or NULL */
	const struct sc_meter_port_stats *line_stats; /* or NULL */
	const char *started;      /* ISO 8601 UTC: "2026-12-01T22:53:04Z" */
	double wall_s;            /* the run's real time */
	int exit_status;          /* what sc-hil exits with */
	const char *error;        /* why the run stopped early, or NULL */
};

/* Writes dir/junit.xml, dir/result.json and dir/report.html (dir exists).
 * 0, or -1 with why. */
int sc_report_write(const char *dir, const struct sc_report_info *ri, const struct sc_run *run,
		    char *why, size_t cap);

/* A new folder for a run under base, named by the run's start (started:
 * ISO 8601 UTC "2026-12-06T23:20:05Z", or NULL for now) and the scenario's
 * name: base/2026-12-06T23-20-05Z-<name>, with -2, -3 ... when taken (two
 * runs in the same second), created with its parents. Its path in out.
 * 0, or -1 with why. */
int sc_report_dir(const char *base, const char *started, const char *name, char *out, size_t cap,
		  char *why, size_t whycap);

/* base/name (name made safe for a file name), base/name-2 ... when taken,
 * created: a scenario's folder inside a suite's. 0, or -1 with why. */
int sc_report_subdir(const char *base, const char *name, char *out, size_t cap, char *why, size_t whycap);

/* A scenario of a suite, for its reports. */
struct sc_report_entry {
	struct sc_report_info ri;
	const struct sc_run *run; /* when ran */
	bool ran;                 /* false: the bench stopped before it */
	const char *href;         /* its folder, relative to the suite's, or NULL */
};

/* A suite's reports in dir (each scenario's own are in its folder):
 *   junit.xml   a <testsuite> per scenario (one not run: an error)
 *   index.html  a line per scenario, its verdict and counts, linking
 *               its report
 * 0, or -1 with why. */
int sc_report_suite(const char *dir, const struct sc_report_entry *e, size_t n, const char *started,
		    double wall_s, char *why, size_t cap);

#endif
