/* The event loop: one thread, poll(2), file descriptors and timers on the
 * monotonic clock. Everything that touches device state runs from here, so
 * nothing is shared between threads. */
#ifndef SC_LOOP_H
#define SC_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define SC_LOOP_MAX_FDS 64
#define SC_LOOP_MAX_TIMERS 16

struct sc_loop;

typedef void (*sc_fd_cb)(void *arg, int fd, short revents);
typedef void (*sc_timer_cb)(void *arg);

/* NULL when out of memory. Installs SIGINT/SIGTERM handlers that stop the
 * loop, and ignores SIGPIPE. */
struct sc_loop *sc_loop_new(void);
void sc_loop_free(struct sc_loop *l);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t sc_mono_ms(void);

/* Watch fd for events (POLLIN, POLLOUT); returns 0 or -1 when full. */
int sc_loop_add_fd(struct sc_loop *l, int fd, short events, sc_fd_cb cb, void *arg);
void sc_loop_set_events(struct sc_loop *l, int fd, short events);
void sc_loop_del_fd(struct sc_loop *l, int fd);

/* A timer firing once at monotonic time at_ms; returns an id >= 0 or -1. */
int sc_loop_add_timer(struct sc_loop *l, int64_t at_ms, sc_timer_cb cb, void *arg);
void sc_loop_cancel_timer(struct sc_loop *l, int id);

/* Runs until sc_loop_stop or a signal; returns the signal number that
 * stopped it, or 0. */
int sc_loop_run(struct sc_loop *l);
void sc_loop_stop(struct sc_loop *l);

#endif
