/* The meter line on its own thread (meter_line.h): a queue of items in
 * their order, each done at its time on the monotonic clock, and a queue
 * of what became of each telegram for the runner to take. */
#define _GNU_SOURCE
#include "meter_line.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum item_kind { ITEM_TELEGRAM, ITEM_CUT, ITEM_RESTORE };

struct item {
	double t;                 /* scenario s */
	enum item_kind kind;
	char *data;               /* owned (telegrams) */
	size_t len;
};

struct sc_meter_line {
	struct sc_meter_line_opts o;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t more;      /* an item handed, the clock shifted, or stop */
	pthread_cond_t done;      /* a telegram done */
	struct item *items;       /* a queue from head */
	size_t n, cap, head;
	struct sc_meter_line_done *res; /* a queue from rhead */
	size_t nres, capres, rhead;
	size_t pending;           /* telegrams handed, not yet taken */
	bool stop;
	bool oom;                 /* a result found no room */
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct timespec abs_ts(double t)
{
	struct timespec ts = {(time_t)t, (long)((t - floor(t)) * 1e9)};
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* The result of a telegram, kept for take (under mu). */
static void keep(struct sc_meter_line *l, const struct sc_meter_line_done *d)
{
	if (l->rhead == l->nres)
		l->rhead = l->nres = 0;
	if (l->nres == l->capres) {
		size_t cap = l->capres ? l->capres * 2 : 64;
		struct sc_meter_line_done *n = realloc(l->res, cap * sizeof *n);
		if (!n) {
			l->oom = true; /* take says the line cannot go on */
			return;
		}
		l->res = n;
		l->capres = cap;
	}
	l->res[l->nres++] = *d;
}

static void *line_main(void *arg)
{
	struct sc_meter_line *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stop && l->head == l->n)
			pthread_cond_wait(&l->more, &l->mu);
		if (l->stop)
			break;
		/* Its time; the clock may shift meanwhile. */
		double due;
		for (;;) {
			due = l->o.t0 + l->items[l->head].t / l->o.speed;
			if (l->stop || mono_s() >= due)
				break;
			struct timespec ts = abs_ts(due);
			pthread_cond_timedwait(&l->more, &l->mu, &ts);
		}
		if (l->stop)
			break;
		struct item it = l->items[l->head++];
		double t0 = l->o.t0, speed = l->o.speed;
		pthread_mutex_unlock(&l->mu);

		struct sc_meter_line_done d = {.due = it.t};
		if (it.kind == ITEM_TELEGRAM) {
			double started = mono_s();
			d.sent = l->o.send(l->o.arg, it.data, it.len, &started, d.why, sizeof d.why);
			double end = mono_s();
			if (d.sent != 1 && d.sent != -1)
				d.why[0] = '\0';
			d.written = (started - t0) * speed;
			d.ended = (end - t0) * speed;
			d.late_s = started > due ? started - due : 0;
		} else if (l->o.cable) {
			l->o.cable(l->o.arg, it.kind == ITEM_CUT);
		}
		free(it.data);

		pthread_mutex_lock(&l->mu);
		if (it.kind == ITEM_TELEGRAM) {
			keep(l, &d);
			pthread_cond_broadcast(&l->done);
		}
	}
	pthread_cond_broadcast(&l->done);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

struct sc_meter_line *sc_meter_line_start(const struct sc_meter_line_opts *o, char *why, size_t cap)
{
	struct sc_meter_line *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	l->o = *o;
	if (!(l->o.speed > 0))
		l->o.speed = 1;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->more, &ca);
	pthread_cond_init(&l->done, &ca);
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&l->thread, NULL, line_main, l);
	if (e != 0) {
		snprintf(why, cap, "the meter line's thread: %s", strerror(e));
		pthread_cond_destroy(&l->more);
		pthread_cond_destroy(&l->done);
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	return l;
}

static int add(struct sc_meter_line *l, const struct item *it)
{
	pthread_mutex_lock(&l->mu);
	if (l->head == l->n) {
		l->head = l->n = 0;
	} else if (l->head > 0 && l->n == l->cap) {
		/* Done ones make room at the front. */
		memmove(l->items, l->items + l->head, (l->n - l->head) * sizeof *l->items);
		l->n -= l->head;
		l->head = 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct item *n = realloc(l->items, cap * sizeof *n);
		if (!n) {
			pthread_mutex_unlock(&l->mu);
			return -1;
		}
		l->items = n;
		l->cap = cap;
	}
	l->items[l->n++] = *it;
	if (it->kind == ITEM_TELEGRAM)
		l->pending++;
	pthread_cond_broadcast(&l->more);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

int sc_meter_line_put(struct sc_meter_line *l, double t, const void *data, size_t len)
{
	struct item it = {t, ITEM_TELEGRAM, malloc(len ? len : 1), len};
	if (!it.data)
		return -1;
	memcpy(it.data, data, len);
	if (add(l, &it) != 0) {
		free(it.data);
		return -1;
	}
	return 0;
}

int sc_meter_line_cable(struct sc_meter_line *l, double t, bool cut)
{
	struct item it = {t, cut ? ITEM_CUT : ITEM_RESTORE, NULL, 0};
	return add(l, &it);
}

int sc_meter_line_take(struct sc_meter_line *l, struct sc_meter_line_done *d)
{
	pthread_mutex_lock(&l->mu);
	int rc = -1;
	for (;;) {
		if (l->rhead < l->nres) {
			*d = l->res[l->rhead++];
			l->pending--;
			rc = 0;
			break;
		}
		if (l->oom && l->pending > 0) {
			memset(d, 0, sizeof *d);
			d->sent = -1;
			snprintf(d->why, sizeof d->why, "out of memory");
			rc = 0;
			break;
		}
		if (l->pending == 0 || l->stop)
			break;
		pthread_cond_wait(&l->done, &l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void sc_meter_line_shift(struct sc_meter_line *l, double real_s)
{
	pthread_mutex_lock(&l->mu);
	l->o.t0 += real_s;
	pthread_cond_broadcast(&l->more);
	pthread_mutex_unlock(&l->mu);
}

size_t sc_meter_line_pending(struct sc_meter_line *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->pending;
	pthread_mutex_unlock(&l->mu);
	return n;
}

void sc_meter_line_stop(struct sc_meter_line *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->more);
	pthread_cond_broadcast(&l->done);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	for (size_t i = l->head; i < l->n; i++)
		free(l->items[i].data);
	free(l->items);
	free(l->res);
	pthread_cond_destroy(&l->more);
	pthread_cond_destroy(&l->done);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
