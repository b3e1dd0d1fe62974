/* Where the device's meter bytes come from: the built-in synthetic meter, a
 * capture file replayed at the meter's cadence, a serial port (a real P1 or
 * TIC cable), or standard input. Each source feeds the device from the loop. */
#ifndef SC_SOURCE_H
#define SC_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "device.h"
#include "loop.h"
#include "meter.h"
#include "tic_gen.h"

/* SC_SRC_NONE: no meter of its own; telegrams come from a scenario or the
 * control API. */
enum sc_source_kind { SC_SRC_GEN, SC_SRC_FILE, SC_SRC_SERIAL, SC_SRC_STDIN, SC_SRC_NONE };

struct sc_source_opts {
	enum sc_source_kind kind;
	enum sc_flavour flavour;          /* gen: the meter's protocol */
	struct sc_meter_config meter;     /* gen: profile, phases, seed */
	struct sc_tic_gen_opts tic;       /* gen:tic: producer, calendar */
	const char *path;                 /* file: or serial: */
	bool loop;                        /* file: start again at the end */
	bool exit_at_end;                 /* file:/stdin: stop the loop at the end */
	bool tic_line;                    /* serial: 9600 7E1 (TIC) instead of 115200 8N1 */
	int64_t phase_ms;                 /* gen: the first telegram this long after the
					   * start (a fleet spreads its meters over the
					   * cadence); 0: at once */
};

/* Parses "gen:dsmr50[:PROFILE]", "file:PATH", "serial:DEV", "stdin", "none" into o
 * (other fields keep their values). Returns 0, or -1 with a message in err. */
int sc_source_parse(const char *spec, struct sc_source_opts *o, char *err, size_t errlen);

struct sc_source;

/* Starts feeding dev; NULL on failure (logged). */
struct sc_source *sc_source_start(struct sc_loop *loop, struct sc_device *dev,
				  const struct sc_clock *clock, const struct sc_source_opts *o);
void sc_source_stop(struct sc_source *s);
/* A line for the ready message: "gen:dsmr50:household (every 1 s)". */
const char *sc_source_describe(const struct sc_source *s);

#endif
