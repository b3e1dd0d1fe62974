/* The event loop (loop.h): timers in order, cancellation, device-clock
 * timers following a change of speed, virtual time, descriptors. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

struct log {
	int n;
	int order[4096];
	int64_t at[4096];
	struct sc_loop *l;
	int stop_after;
};

struct tick {
	struct log *log;
	int id;
};

static void on_tick(void *arg)
{
	struct tick *t = arg;
	struct log *g = t->log;
	g->at[g->n] = sc_loop_now(g->l);
	g->order[g->n++] = t->id;
	if (g->n == g->stop_after)
		sc_loop_stop(g->l);
}

Test(loop, virtual_timers_fire_in_order)
{
	struct sc_loop *l = sc_loop_new();
	static struct log g;
	static struct tick ticks[2000];
	memset(&g, 0, sizeof g);
	g.l = l;
	sc_loop_set_virtual(l, 1000);
	/* 2000 timers in a shuffled order, 200 of them cancelled. */
	int ids[2000];
	uint32_t s = 12345;
	for (int i = 0; i < 2000; i++) {
		s = s * 1103515245u + 12345u;
		ticks[i] = (struct tick){&g, i};
		ids[i] = sc_loop_add_timer(l, 1000 + (int64_t)(s % 100000), on_tick, &ticks[i]);
		cr_assert_geq(ids[i], 0);
	}
	for (int i = 0; i < 2000; i += 10)
		sc_loop_cancel_timer(l, ids[i]);
	cr_assert_eq(sc_loop_timers(l), 1800);
	g.stop_after = 1800;
	sc_loop_advance(l, 1000 + 100000, NULL, NULL);
	sc_loop_run(l);
	cr_assert_eq(g.n, 1800);
	for (int i = 1; i < g.n; i++)
		cr_assert_leq(g.at[i - 1], g.at[i], "timer %d fired before %d", g.order[i], g.order[i - 1]);
	for (int i = 0; i < g.n; i++)
		cr_assert_neq(g.order[i] % 10, 0, "a cancelled timer fired");
	sc_loop_free(l);
}

static void on_done(void *arg)
{
	struct log *g = arg;
	g->order[g->n++] = -1;
	sc_loop_stop(g->l);
}

Test(loop, virtual_time_stands_still_then_advances)
{
	struct sc_loop *l = sc_loop_new();
	static struct log g;
	static struct tick a, b;
	memset(&g, 0, sizeof g);
	g.l = l;
	sc_loop_set_virtual(l, 0);
	a = (struct tick){&g, 1};
	b = (struct tick){&g, 2};
	sc_loop_add_timer(l, 5000, on_tick, &a);
	sc_loop_add_timer(l, 20000, on_tick, &b);
	cr_assert_eq(sc_loop_now(l), 0);
	sc_loop_advance(l, 10000, on_done, &g);
	sc_loop_run(l);
	cr_assert_eq(g.n, 2, "the first timer and the end of the advance");
	cr_assert_eq(g.order[0], 1);
	cr_assert_eq(g.at[0], 5000);
	cr_assert_eq(g.order[1], -1);
	cr_assert_eq(sc_loop_now(l), 10000, "time stands where the advance ended");
	cr_assert_eq(sc_loop_timers(l), 1);
	sc_loop_free(l);
}

Test(loop, device_timers_follow_the_clock)
{
	struct sc_loop *l = sc_loop_new();
	static struct log g;
	static struct tick a;
	static struct sc_clock c;
	memset(&g, 0, sizeof g);
	g.l = l;
	sc_loop_set_virtual(l, 0);
	sc_clock_init(&c, 1000000, 0, 1); /* device time 1000 s at loop time 0 */
	a = (struct tick){&g, 7};
	sc_loop_add_device_timer(l, &c, 1000000 + 60000, on_tick, &a); /* a minute of device time */
	/* Ten times faster from now: the minute passes in 6 s of loop time. */
	sc_clock_init(&c, sc_clock_now(&c, 0), 0, 10);
	sc_loop_clock_changed(l, &c);
	g.stop_after = 1;
	sc_loop_advance(l, 100000, NULL, NULL);
	sc_loop_run(l);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.at[0], 6000);
	sc_loop_free(l);
}

struct fdt {
	struct sc_loop *l;
	int rd[2], wr[2];
	int seen;
};

/* Whichever of two readable pipes is served first removes the other: the
 * other's event of the same round must not be delivered. */
static void on_read(void *arg, int fd, short revents)
{
	struct fdt *f = arg;
	char b[16];
	cr_assert(revents & POLLIN);
	(void)!read(fd, b, sizeof b);
	f->seen++;
	sc_loop_del_fd(f->l, fd == f->rd[0] ? f->rd[1] : f->rd[0]);
}

static void on_stop(void *arg)
{
	sc_loop_stop(arg);
}

Test(loop, descriptors)
{
	struct sc_loop *l = sc_loop_new();
	static struct fdt f;
	int p[2][2];
	memset(&f, 0, sizeof f);
	f.l = l;
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pipe(p[i]), 0);
		f.rd[i] = p[i][0];
		f.wr[i] = p[i][1];
		cr_assert_eq(sc_loop_add_fd(l, f.rd[i], POLLIN, on_read, &f), 0);
		(void)!write(f.wr[i], "x", 1);
	}
	cr_assert_eq(sc_loop_add_fd(l, f.rd[0], POLLIN, on_read, &f), -1, "watched once");
	/* One round: both events come back from epoll together. */
	sc_loop_add_timer(l, sc_loop_now(l), on_stop, l);
	sc_loop_run(l);
	cr_assert_eq(f.seen, 1);
	/* Descriptor numbers past the first table grow it. */
	int many[200];
	for (int i = 0; i < 200; i++) {
		many[i] = dup(f.rd[0]);
		cr_assert_eq(sc_loop_add_fd(l, many[i], POLLIN, on_read, &f), 0);
	}
	for (int i = 0; i < 200; i++) {
		sc_loop_del_fd(l, many[i]);
		close(many[i]);
	}
	for (int i = 0; i < 2; i++) {
		sc_loop_del_fd(l, f.rd[i]);
		close(f.rd[i]);
		close(f.wr[i]);
	}
	sc_loop_free(l);
}

Test(loop, real_time_timers)
{
	struct sc_loop *l = sc_loop_new();
	static struct log g;
	static struct tick a, b;
	memset(&g, 0, sizeof g);
	g.l = l;
	a = (struct tick){&g, 1};
	b = (struct tick){&g, 2};
	int64_t t0 = sc_loop_now(l);
	sc_loop_add_timer(l, t0 + 30, on_tick, &b);
	sc_loop_add_timer(l, t0 + 10, on_tick, &a);
	g.stop_after = 2;
	sc_loop_run(l);
	cr_assert_eq(g.order[0], 1);
	cr_assert_eq(g.order[1], 2);
	cr_assert_geq(g.at[0], t0 + 10);
	cr_assert_geq(g.at[1], t0 + 30);
	sc_loop_free(l);
}

struct backlog {
	struct sc_loop *l;
	int wr;                  /* written to once the backlog has begun */
	long fired;
	long fired_at_read; /* timers fired when the descriptor was served */
};

/* A timer that is always overdue: a device that cannot keep up with its
 * speed. Stops the loop after a million, so a loop that never looks at its
 * descriptors fails the test instead of hanging it. */
static void on_overdue(void *arg)
{
	struct backlog *b = arg;
	if (++b->fired >= 1000000) {
		sc_loop_stop(b->l);
		return;
	}
	if (b->fired == 10)
		(void)!write(b->wr, "x", 1);
	sc_loop_add_timer(b->l, sc_loop_now(b->l) - 1000, on_overdue, b);
}

static void on_backlog_read(void *arg, int fd, short revents)
{
	struct backlog *b = arg;
	char c;
	(void)revents;
	(void)!read(fd, &c, 1);
	b->fired_at_read = b->fired;
	sc_loop_stop(b->l);
}

Test(loop, a_backlog_of_due_timers_does_not_starve_descriptors)
{
	struct sc_loop *l = sc_loop_new();
	static struct backlog b;
	int p[2];
	memset(&b, 0, sizeof b);
	b.l = l;
	b.fired_at_read = -1;
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(sc_loop_add_fd(l, p[0], POLLIN, on_backlog_read, &b), 0);
	b.wr = p[1];
	sc_loop_add_timer(l, sc_loop_now(l) - 1000, on_overdue, &b);
	sc_loop_run(l);
	cr_assert_geq(b.fired_at_read, 0, "the descriptor was never served (%ld timers fired)", b.fired);
	cr_assert_lt(b.fired_at_read, 10000, "the descriptor waited for %ld timers", b.fired_at_read);
	sc_loop_del_fd(l, p[0]);
	close(p[0]);
	close(p[1]);
	sc_loop_free(l);
}
