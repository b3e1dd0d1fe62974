/* The meter line: the meter emulator playing on a thread of its own. The
 * scenario runner hands it the telegrams (and the meter cable's cuts and
 * restores) ahead of their time, in the timeline's order; the line writes
 * each at t0 + t / speed on the monotonic clock, whatever the runner is
 * doing meanwhile (a check waiting for an MQTT message, a request waiting
 * for its timeout), as a meter keeps its cadence whatever a dongle does.
 * The runner learns afterwards what became of each telegram: written at
 * what time, or not sent and why.
 *
 * The line does not know the port: it calls `send` for each telegram and
 * `cable` for each cut or restore, on its own thread only. An item whose
 * time has passed when the line comes to it (it was handed late, or the
 * one before took long) is done at once and reported late.
 *
 * Ownership: the line copies the bytes it is handed; sc_meter_line_stop
 * joins the thread and frees everything, items not yet done included. Any
 * function may be called from any thread but stop, which is called once,
 * by the owner, when no other call is under way. */
#ifndef SC_METER_LINE_H
#define SC_METER_LINE_H

#include <stdbool.h>
#include <stddef.h>

struct sc_meter_line_opts {
	double t0;            /* monotonic s at scenario time 0 */
	double speed;         /* scenario s per real s (0 means 1) */
	/* Writes one telegram, as sc_run_io.meter does: 0 it went out, 1 it
	 * did not reach the device (why), 2 it went out as the line had just
	 * come back, -1 the line cannot go on (why). *started: the monotonic
	 * time its first byte left; left alone, the time of the call. */
	int (*send)(void *arg, const void *data, size_t len, double *started, char *why, size_t cap);
	/* The meter cable taken out (cut) or put back, at its time. May be
	 * NULL. */
	void (*cable)(void *arg, bool cut);
	void *arg;
};

/* What became of a telegram (in the order they were handed). */
struct sc_meter_line_done {
	int sent;             /* send's result: 0, 1, 2 or -1 */
	double due;           /* scenario s it was handed for */
	double written;       /* scenario s its first byte left (not sent: when tried) */
	double ended;         /* scenario s the send returned (its last byte left) */
	double late_s;        /* real s its first byte left after its time (0: on time) */
	char why[256];        /* why it was not sent (sent 1 or -1), else "" */
};

struct sc_meter_line;

/* Starts the line's thread. NULL with why (out of memory, no thread). */
struct sc_meter_line *sc_meter_line_start(const struct sc_meter_line_opts *o, char *why, size_t cap);
/* Hands the line a telegram for scenario time t (the bytes are copied).
 * Times are handed in order; one earlier than the last is done after it.
 * 0, or -1 out of memory. */
int sc_meter_line_put(struct sc_meter_line *l, double t, const void *data, size_t len);
/* Hands the line the meter cable cut (or restored, cut false) at t. 0, or
 * -1 out of memory. */
int sc_meter_line_cable(struct sc_meter_line *l, double t, bool cut);
/* What became of the oldest telegram not yet taken, waiting until the
 * line has done it. 0, or -1 when no telegram handed is left to take. */
int sc_meter_line_take(struct sc_meter_line *l, struct sc_meter_line_done *d);
/* The scenario's clock stood still for real_s seconds (the runner waited
 * for the device): the items not yet done move that much later. */
void sc_meter_line_shift(struct sc_meter_line *l, double real_s);
/* Telegrams handed and not yet taken. */
size_t sc_meter_line_pending(struct sc_meter_line *l);
/* Stops the thread (a telegram on the line is finished first), joins it
 * and frees the line. NULL is ignored. */
void sc_meter_line_stop(struct sc_meter_line *l);

#endif
