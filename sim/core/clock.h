/* The device clock: real time, or a virtual time running `speed` times
 * faster, derived from a monotonic clock the caller reads. Pure: the caller
 * passes the monotonic time in; nothing here reads a clock. */
#ifndef SC_CLOCK_H
#define SC_CLOCK_H

#include <stdint.h>

struct sc_clock {
	int64_t epoch0_ms; /* device time (UTC epoch ms) at mono0_ms */
	int64_t mono0_ms;  /* monotonic time at the start */
	double speed;      /* 1 = real time */
};

/* Start at device time epoch_ms (e.g. the real time now, or a scenario's
 * start) when the monotonic clock reads mono_ms. */
void sc_clock_init(struct sc_clock *c, int64_t epoch_ms, int64_t mono_ms, double speed);
/* Device time (UTC epoch ms) at monotonic time mono_ms. */
int64_t sc_clock_now(const struct sc_clock *c, int64_t mono_ms);
/* Monotonic time at which the device clock reaches device time epoch_ms. */
int64_t sc_clock_mono_at(const struct sc_clock *c, int64_t epoch_ms);

#endif
