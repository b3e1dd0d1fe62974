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

/* gen: values set by hand on the built-in meter at device time now_ms
 * (meter.h, sc_meter_set, checked against what the flavour can print); a
 * pause ends. Returns SC_OK; SC_ERR_INVAL or SC_ERR_RANGE with why naming
 * the key (nothing changed); SC_ERR_UNSUPPORTED with why for a source
 * without a meter of its own (file:, serial:, stdin, none). */
int sc_source_meter_set(struct sc_source *s, const struct sc_meter_set *req, int64_t now_ms,
			char *why, size_t cap);
/* gen: the generated telegrams are held back (the meter keeps its time and
 * counts on) until the next sc_source_meter_set. False for other sources. */
bool sc_source_pause(struct sc_source *s);
bool sc_source_paused(const struct sc_source *s);
/* gen: the built-in meter; NULL for other sources. */
const struct sc_meter *sc_source_meter(const struct sc_source *s);

#endif
