#include "clock.h"

void sc_clock_init(struct sc_clock *c, int64_t epoch_ms, int64_t mono_ms, double speed)
{
	c->epoch0_ms = epoch_ms;
	c->mono0_ms = mono_ms;
	c->speed = speed > 0 ? speed : 1.0;
}

int64_t sc_clock_now(const struct sc_clock *c, int64_t mono_ms)
{
	return c->epoch0_ms + (int64_t)((double)(mono_ms - c->mono0_ms) * c->speed);
}

int64_t sc_clock_mono_at(const struct sc_clock *c, int64_t epoch_ms)
{
	double d = (double)(epoch_ms - c->epoch0_ms) / c->speed;
	int64_t m = c->mono0_ms + (int64_t)d;
	/* Round up so that at the returned time the device clock has reached it. */
	while (sc_clock_now(c, m) < epoch_ms)
		m++;
	return m;
}
