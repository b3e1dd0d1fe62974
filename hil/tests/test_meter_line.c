/* The meter line (meter_line.h) with a recording sender in place of a
 * port: telegrams and cable changes done in the order handed, each result
 * taken in that order with what send said, none written before its time,
 * the line going on while nobody takes its results (a check that waits),
 * a late item reported late, the clock shifted, and stop joining at once
 * with items still queued. Times are only checked as lower bounds: the
 * line never writes early, however loaded the machine. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "meter_line.h"

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

/* What the line did, in order: "T:<bytes>" for a send, "cut", "restore". */
struct rec {
	pthread_mutex_t mu;
	char ev[32][40];
	double at[32];        /* monotonic s of each */
	int n;
	int answer[32];       /* send's answer for the k-th send */
	int sends;
};

static void note(struct rec *r, const char *what)
{
	pthread_mutex_lock(&r->mu);
	if (r->n < 32) {
		snprintf(r->ev[r->n], sizeof r->ev[r->n], "%s", what);
		r->at[r->n++] = mono_s();
	}
	pthread_mutex_unlock(&r->mu);
}

static int rec_send(void *arg, const void *data, size_t len, double *started, char *why, size_t cap)
{
	struct rec *r = arg;
	char what[40];
	snprintf(what, sizeof what, "T:%.*s", (int)len, (const char *)data);
	note(r, what);
	*started = mono_s();
	pthread_mutex_lock(&r->mu);
	int a = r->sends < 32 ? r->answer[r->sends] : 0;
	r->sends++;
	pthread_mutex_unlock(&r->mu);
	if (a == 1)
		snprintf(why, cap, "the meter cable is out");
	return a;
}

static void rec_cable(void *arg, bool cut)
{
	note(arg, cut ? "cut" : "restore");
}

static int count(struct rec *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static struct sc_meter_line *start(struct rec *r, double t0, double speed)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	struct sc_meter_line_opts o = {.t0 = t0, .speed = speed, .send = rec_send, .cable = rec_cable, .arg = r};
	char why[200];
	struct sc_meter_line *l = sc_meter_line_start(&o, why, sizeof why);
	cr_assert(l, "%s", why);
	return l;
}

Test(meter_line, does_each_item_in_order_and_reports_each_telegram)
{
	struct rec r;
	double t0 = mono_s();
	struct sc_meter_line *l = start(&r, t0, 10);
	r.answer[1] = 1;
	r.answer[2] = 2;
	/* Scenario seconds at speed 10: 0.1 s apart in scenario time is 10 ms. */
	cr_assert_eq(sc_meter_line_put(l, 0.1, "a", 1), 0);
	cr_assert_eq(sc_meter_line_cable(l, 0.2, true), 0);
	cr_assert_eq(sc_meter_line_put(l, 0.3, "b", 1), 0);
	cr_assert_eq(sc_meter_line_cable(l, 0.4, false), 0);
	cr_assert_eq(sc_meter_line_put(l, 0.5, "cc", 2), 0);
	cr_assert_eq(sc_meter_line_pending(l), 3);
	struct sc_meter_line_done d[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(sc_meter_line_take(l, &d[i]), 0, "telegram %d", i);
	cr_assert_eq(sc_meter_line_pending(l), 0);
	/* Nothing more was handed: nothing to wait for. */
	struct sc_meter_line_done none;
	cr_assert_eq(sc_meter_line_take(l, &none), -1);
	sc_meter_line_stop(l);

	cr_assert_eq(r.n, 5);
	const char *want[] = {"T:a", "cut", "T:b", "restore", "T:cc"};
	for (int i = 0; i < 5; i++)
		cr_assert_str_eq(r.ev[i], want[i], "item %d", i);
	const double due[] = {0.1, 0.3, 0.5};
	const int sent[] = {0, 1, 2};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(d[i].sent, sent[i], "telegram %d", i);
		cr_assert_eq(d[i].due, due[i]);
		/* Never before its time; written no later than it ended. */
		cr_assert_geq(d[i].written, due[i] - 1e-9, "telegram %d written at %g", i, d[i].written);
		cr_assert_geq(d[i].ended, d[i].written);
		cr_assert_geq(d[i].late_s, 0);
	}
	cr_assert_str_empty(d[0].why);
	cr_assert_str_eq(d[1].why, "the meter cable is out");
	cr_assert_str_empty(d[2].why);
	/* On the monotonic clock: each item at t0 + t / speed or after. */
	const double at[] = {0.1, 0.2, 0.3, 0.4, 0.5};
	for (int i = 0; i < 5; i++)
		cr_assert_geq(r.at[i], t0 + at[i] / 10 - 1e-6, "item %d", i);
}

Test(meter_line, goes_on_while_nobody_takes_its_results)
{
	/* The runner busy in a check: the line writes every telegram at its
	 * time all the same, and the results wait to be taken. */
	struct rec r;
	struct sc_meter_line *l = start(&r, mono_s(), 1);
	for (int i = 0; i < 4; i++) {
		char b[2] = {(char)('0' + i), 0};
		cr_assert_eq(sc_meter_line_put(l, 0.05 * (i + 1), b, 1), 0);
	}
	double dl = mono_s() + 10;
	while (count(&r) < 4 && mono_s() < dl)
		nap(0.01);
	cr_assert_eq(count(&r), 4, "the line waited for its results to be taken");
	for (int i = 0; i < 4; i++) {
		struct sc_meter_line_done d;
		cr_assert_eq(sc_meter_line_take(l, &d), 0);
		cr_assert_eq(d.due, 0.05 * (i + 1));
		char want[4] = {'T', ':', (char)('0' + i), 0};
		cr_assert_str_eq(r.ev[i], want);
	}
	sc_meter_line_stop(l);
}

Test(meter_line, an_item_handed_after_its_time_goes_at_once_and_is_late)
{
	struct rec r;
	double t0 = mono_s() - 2; /* scenario time 2 s now */
	struct sc_meter_line *l = start(&r, t0, 1);
	cr_assert_eq(sc_meter_line_put(l, 0.5, "x", 1), 0);
	struct sc_meter_line_done d;
	cr_assert_eq(sc_meter_line_take(l, &d), 0);
	cr_assert_eq(d.sent, 0);
	cr_assert_geq(d.late_s, 1.5 - 1e-6, "late %g s", d.late_s);
	cr_assert_geq(d.written, 2.0 - 1e-6);
	sc_meter_line_stop(l);
}

Test(meter_line, a_shift_moves_what_is_not_done_yet)
{
	/* The scenario's clock held 0.3 s (a device reconnecting): the next
	 * telegram goes that much later, and its scenario time says it left
	 * on time by the shifted clock. */
	struct rec r;
	double t0 = mono_s();
	struct sc_meter_line *l = start(&r, t0, 1);
	cr_assert_eq(sc_meter_line_put(l, 1.0, "y", 1), 0);
	sc_meter_line_shift(l, 0.3);
	struct sc_meter_line_done d;
	cr_assert_eq(sc_meter_line_take(l, &d), 0);
	cr_assert_geq(r.at[0], t0 + 1.3 - 1e-6, "sent %g s after t0", r.at[0] - t0);
	cr_assert_geq(d.written, 1.0 - 1e-9);
	sc_meter_line_stop(l);
}

Test(meter_line, stop_joins_at_once_with_items_still_queued, .timeout = 20)
{
	struct rec r;
	struct sc_meter_line *l = start(&r, mono_s(), 1);
	cr_assert_eq(sc_meter_line_put(l, 1000, "late in the day", 15), 0);
	cr_assert_eq(sc_meter_line_cable(l, 2000, true), 0);
	sc_meter_line_stop(l);
	cr_assert_eq(r.n, 0, "the line wrote what was not due");
	sc_meter_line_stop(NULL);
}

Test(meter_line, many_telegrams_through_a_queue_that_grows)
{
	/* More than its first allocation, all due at once, taken while the
	 * line still writes. */
	struct rec r;
	struct sc_meter_line *l = start(&r, mono_s(), 1);
	for (int i = 0; i < 200; i++) {
		char b[8];
		int n = snprintf(b, sizeof b, "%d", i);
		cr_assert_eq(sc_meter_line_put(l, 0, b, (size_t)n), 0);
	}
	for (int i = 0; i < 200; i++) {
		struct sc_meter_line_done d;
		cr_assert_eq(sc_meter_line_take(l, &d), 0, "telegram %d", i);
		cr_assert_eq(d.sent, 0);
	}
	cr_assert_eq(r.sends, 200);
	sc_meter_line_stop(l);
}
