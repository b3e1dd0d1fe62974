/* The event loop: one thread, epoll, file descriptors and timers. Everything
 * that touches device state runs from here, so nothing is shared between
 * threads. Sized for a fleet: any number of descriptors and timers (a heap).
 *
 * Time: the loop's own time (sc_loop_now) is the monotonic clock, or, in
 * virtual mode, a time that stands still until the loop is told to advance
 * and then runs through its timers as fast as they can be served (replays
 * and scenarios at --speed max). Timers on a device clock (clock.h) fire
 * when that clock reaches their time; when the clock's speed changes
 * (sc_loop_clock_changed) they follow. */
#ifndef SC_LOOP_H
#define SC_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

struct sc_loop;

typedef void (*sc_fd_cb)(void *arg, int fd, short revents);
typedef void (*sc_timer_cb)(void *arg);

/* NULL when out of memory. Installs SIGINT, SIGTERM, SIGHUP, SIGUSR1 and
 * SIGQUIT handlers that stop the loop, and ignores SIGPIPE. */
struct sc_loop *sc_loop_new(void);
void sc_loop_free(struct sc_loop *l);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t sc_mono_ms(void);
/* The loop's time in ms: monotonic, or virtual. */
int64_t sc_loop_now(const struct sc_loop *l);

/* Watch fd for events (POLLIN, POLLOUT, as poll(2) names them); returns 0
 * or -1. A descriptor is watched once. */
int sc_loop_add_fd(struct sc_loop *l, int fd, short events, sc_fd_cb cb, void *arg);
void sc_loop_set_events(struct sc_loop *l, int fd, short events);
void sc_loop_del_fd(struct sc_loop *l, int fd);

/* A timer firing once at loop time at_ms; returns an id >= 0 or -1. */
int sc_loop_add_timer(struct sc_loop *l, int64_t at_ms, sc_timer_cb cb, void *arg);
/* A timer firing once when the device clock reaches device time at_ms. */
int sc_loop_add_device_timer(struct sc_loop *l, const struct sc_clock *clock, int64_t at_ms,
			     sc_timer_cb cb, void *arg);
/* Cancels a pending timer; -1 and fired ids are ignored. */
void sc_loop_cancel_timer(struct sc_loop *l, int id);
/* The clock's speed or anchor changed: its timers are due anew. */
void sc_loop_clock_changed(struct sc_loop *l, const struct sc_clock *clock);
/* Pending timers (for tests and the fleet's figures). */
int sc_loop_timers(const struct sc_loop *l);

/* How late timers fired on the monotonic clock (a fleet holding its
 * cadence fires them on time): a histogram in 1 ms buckets, the last one
 * holding everything later. Virtual time is never late. */
#define SC_LOOP_LATE_BUCKETS 1001
struct sc_loop_lateness {
	uint64_t fired;
	int64_t max_ms;
	uint64_t hist[SC_LOOP_LATE_BUCKETS];
};
/* The figures since the start or the last reset. */
void sc_loop_lateness(struct sc_loop *l, struct sc_loop_lateness *out, bool reset);
/* The lateness not exceeded by a fraction q of the timers fired, ms. */
int64_t sc_loop_lateness_quantile(const struct sc_loop_lateness *s, double q);

/* Virtual time: loop time starts at start_ms and stands still. */
void sc_loop_set_virtual(struct sc_loop *l, int64_t start_ms);
bool sc_loop_is_virtual(const struct sc_loop *l);
/* Virtual time may run up to until_ms: timers up to then fire in order,
 * descriptors are served between them, then time stands at until_ms and
 * done(arg) is called from the loop. */
void sc_loop_advance(struct sc_loop *l, int64_t until_ms, sc_timer_cb done, void *arg);
/* Virtual time: while hold(arg) is true an advance under way waits, its
 * timers not fired and done not called, with the descriptors served (the
 * loop sleeps in them, a few milliseconds at a time): what the device
 * cannot get rid of yet (its MQTT output backed up) holds the clock
 * instead of being dropped. NULL: no hold. */
void sc_loop_set_hold(struct sc_loop *l, bool (*hold)(void *arg), void *arg);
/* Virtual time: fn(arg) is called whenever the loop is about to sleep in
 * its descriptors (its idle spin ended with nothing to do, or an advance
 * is held), so that what it holds back for the moment (batched MQTT
 * output) goes out before it waits. NULL: none. */
void sc_loop_set_before_sleep(struct sc_loop *l, void (*fn)(void *arg), void *arg);

/* Work another thread hands over (channel.h) without a descriptor: while
 * virtual time stands still the loop spins for a moment before it sleeps,
 * calling poll(arg) on every turn, which runs the work if any and returns
 * true. *spinning is true only while the loop spins that way (seq_cst): a
 * thread that sees it false must wake the loop through a descriptor. One
 * per loop; poll NULL removes it. */
void sc_loop_set_idle_poll(struct sc_loop *l, bool (*poll)(void *arg), void *arg,
			   atomic_bool **spinning);

/* Runs until sc_loop_stop or a signal; returns the signal number that
 * stopped it, or 0. */
int sc_loop_run(struct sc_loop *l);
void sc_loop_stop(struct sc_loop *l);

#endif
