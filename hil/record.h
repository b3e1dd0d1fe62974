/* sc-hil record: what a device served during a run, saved as a scenario
 * whose expectations are those values. Replayed into a later firmware it
 * shows what changed; run against the twin (sc-sim --scenario) it shows
 * where the twin and the real unit differ, which is how the Decisions of
 * SMART-CONNECT.md are confirmed or corrected.
 *
 * The recorded scenario keeps the original's header (device, firmware,
 * serial, word order, configuration, meter) and its steps in file order;
 * each step that sends telegrams becomes one step per telegram, the
 * telegram itself in the file (as sent, faults included), expecting the
 * key registers (sc_regmap_key) and the power_instant fields the device
 * served after it; a telegram that did not reach the device, or after
 * which the device served nothing, gets a note instead. Other steps are
 * copied as they are, with their own expectations. */
#ifndef SC_RECORD_H
#define SC_RECORD_H

#include <stddef.h>

#include "runner.h"

struct sc_record_info {
	const char *source;       /* the scenario or capture recorded */
	const char *dut;          /* "192.168.1.50" */
	const char *dut_firmware; /* what it said it runs, or NULL */
	const char *started;      /* ISO 8601 UTC */
};

/* Writes the recorded scenario to out (atomically) from the original's
 * JSON text and the run (io.record). 0, or -1 with why. */
int sc_record_write(const char *out, const char *scenario_text, const struct sc_record_info *ri,
		    const struct sc_run *run, char *why, size_t cap);

/* A scenario that plays a capture (raw, timestamped, gzip), for recording
 * a capture: its text (malloc'd), or NULL with why. */
char *sc_record_capture_scenario(const char *capture, char *why, size_t cap);

#endif
