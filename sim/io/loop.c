#include "loop.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct watch {
	bool used;
	short events;
	sc_fd_cb cb;
	void *arg;
	uint32_t gen;  /* +1 at every registration: stale events are dropped */
};

struct timer {
	int64_t key;                 /* loop time it is due */
	int64_t device_ms;           /* device timers: the device time */
	const struct sc_clock *clock; /* NULL: a loop-time timer */
	sc_timer_cb cb;
	void *arg;
	int heap_pos;                /* -1: free */
	int next_free;
};

struct sc_loop {
	int ep;
	struct watch *w;             /* by descriptor */
	int nw_cap;
	struct timer *t;             /* slots; an id is a slot index */
	int nt_cap, free_head;
	int *heap;                   /* slot indices, ordered by key */
	int nheap;
	bool stop;
	int signo;
	/* virtual time */
	bool virt;
	int64_t vnow, vuntil;
	bool advancing;
	sc_timer_cb adv_done;
	void *adv_arg;
	bool (*hold)(void *arg);     /* sc_loop_set_hold */
	void *hold_arg;
	void (*before_sleep)(void *arg); /* sc_loop_set_before_sleep */
	void *before_sleep_arg;
	struct sc_loop_lateness late;
	/* another thread's work, polled while spinning (sc_loop_set_idle_poll) */
	bool (*idle_poll)(void *arg);
	void *idle_arg;
	atomic_bool spinning;
	long spin_us;                /* the idle spin's length now (see SC_LOOP_SPIN_US) */
};

/* Self-pipe: the signal handler only writes the signal number. */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* Pipe full: a stop is already pending. */
	}
	errno = saved;
}

int64_t sc_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sc_loop_now(const struct sc_loop *l)
{
	return l->virt ? l->vnow : sc_mono_ms();
}

static void on_sig_pipe(void *arg, int fd, short revents)
{
	struct sc_loop *l = arg;
	unsigned char b;
	(void)revents;
	if (read(fd, &b, 1) == 1) {
		l->signo = b;
		l->stop = true;
	}
}

struct sc_loop *sc_loop_new(void)
{
	struct sc_loop *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->free_head = -1;
	if (l->ep < 0) {
		free(l);
		return NULL;
	}
	if (sig_pipe[0] < 0) {
		if (pipe(sig_pipe) != 0) {
			close(l->ep);
			free(l);
			return NULL;
		}
		for (int i = 0; i < 2; i++) {
			fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
			fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* SIGHUP (the terminal gone), SIGUSR1 and SIGQUIT stop as SIGTERM does,
	 * so that the ready file is withdrawn and the totals logged; the log is
	 * stderr, there is no file to reopen. */
	static const int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGQUIT};
	for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
		sigaction(stops[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sc_loop_add_fd(l, sig_pipe[0], POLLIN, on_sig_pipe, l);
	return l;
}

void sc_loop_free(struct sc_loop *l)
{
	if (!l)
		return;
	if (sig_pipe[0] >= 0 && sig_pipe[0] < l->nw_cap && l->w[sig_pipe[0]].used)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, sig_pipe[0], NULL);
	close(l->ep);
	free(l->w);
	free(l->t);
	free(l->heap);
	free(l);
}

/* ---- descriptors ---- */

static uint32_t to_epoll(short ev)
{
	return (ev & POLLIN ? EPOLLIN : 0u) | (ev & POLLOUT ? EPOLLOUT : 0u) | EPOLLRDHUP;
}

static short from_epoll(uint32_t ev)
{
	return (short)((ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) |
		       (ev & EPOLLERR ? POLLERR : 0) | (ev & (EPOLLHUP | EPOLLRDHUP) ? POLLHUP : 0));
}

int sc_loop_add_fd(struct sc_loop *l, int fd, short events, sc_fd_cb cb, void *arg)
{
	if (fd < 0)
		return -1;
	if (fd >= l->nw_cap) {
		int cap = l->nw_cap ? l->nw_cap : 64;
		while (cap <= fd)
			cap *= 2;
		struct watch *w = realloc(l->w, (size_t)cap * sizeof *w);
		if (!w)
			return -1;
		memset(w + l->nw_cap, 0, (size_t)(cap - l->nw_cap) * sizeof *w);
		l->w = w;
		l->nw_cap = cap;
	}
	struct watch *w = &l->w[fd];
	if (w->used)
		return -1;
	w->gen++;
	struct epoll_event e = {.events = to_epoll(events), .data.u64 = (uint64_t)w->gen << 32 | (uint32_t)fd};
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e) != 0)
		return -1;
	w->used = true;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
	return 0;
}

void sc_loop_set_events(struct sc_loop *l, int fd, short events)
{
	if (fd < 0 || fd >= l->nw_cap || !l->w[fd].used)
		return;
	struct watch *w = &l->w[fd];
	w->events = events;
	struct epoll_event e = {.events = to_epoll(events), .data.u64 = (uint64_t)w->gen << 32 | (uint32_t)fd};
	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &e);
}

void sc_loop_del_fd(struct sc_loop *l, int fd)
{
	if (fd < 0 || fd >= l->nw_cap || !l->w[fd].used)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	l->w[fd].used = false;
	l->w[fd].gen++;
}

/* ---- timers: a binary heap of slot indices ---- */

static bool before(const struct sc_loop *l, int a, int b)
{
	return l->t[a].key < l->t[b].key;
}

static void heap_swap(struct sc_loop *l, int i, int j)
{
	int a = l->heap[i], b = l->heap[j];
	l->heap[i] = b;
	l->heap[j] = a;
	l->t[b].heap_pos = i;
	l->t[a].heap_pos = j;
}

static void heap_up(struct sc_loop *l, int i)
{
	while (i > 0) {
		int parent = (i - 1) / 2;
		if (!before(l, l->heap[i], l->heap[parent]))
			break;
		heap_swap(l, i, parent);
		i = parent;
	}
}

static void heap_down(struct sc_loop *l, int i)
{
	for (;;) {
		int a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->nheap && before(l, l->heap[a], l->heap[m]))
			m = a;
		if (b < l->nheap && before(l, l->heap[b], l->heap[m]))
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static void heap_remove(struct sc_loop *l, int pos)
{
	int last = l->nheap - 1;
	if (pos != last)
		heap_swap(l, pos, last);
	l->nheap--;
	if (pos < l->nheap) {
		heap_down(l, pos);
		heap_up(l, pos);
	}
}

static int64_t device_key(const struct sc_clock *c, int64_t device_ms)
{
	return sc_clock_mono_at(c, device_ms);
}

static int add(struct sc_loop *l, int64_t key, const struct sc_clock *clock, int64_t device_ms,
	       sc_timer_cb cb, void *arg)
{
	if (l->free_head < 0) {
		int cap = l->nt_cap ? l->nt_cap * 2 : 64;
		struct timer *t = realloc(l->t, (size_t)cap * sizeof *t);
		if (!t)
			return -1;
		l->t = t;
		int *h = realloc(l->heap, (size_t)cap * sizeof *h);
		if (!h)
			return -1;
		l->heap = h;
		for (int i = cap - 1; i >= l->nt_cap; i--) {
			l->t[i].heap_pos = -1;
			l->t[i].next_free = l->free_head;
			l->free_head = i;
		}
		l->nt_cap = cap;
	}
	int id = l->free_head;
	struct timer *t = &l->t[id];
	l->free_head = t->next_free;
	t->key = key;
	t->clock = clock;
	t->device_ms = device_ms;
	t->cb = cb;
	t->arg = arg;
	t->heap_pos = l->nheap;
	l->heap[l->nheap++] = id;
	heap_up(l, t->heap_pos);
	return id;
}

int sc_loop_add_timer(struct sc_loop *l, int64_t at_ms, sc_timer_cb cb, void *arg)
{
	return add(l, at_ms, NULL, 0, cb, arg);
}

int sc_loop_add_device_timer(struct sc_loop *l, const struct sc_clock *clock, int64_t at_ms,
			     sc_timer_cb cb, void *arg)
{
	return add(l, device_key(clock, at_ms), clock, at_ms, cb, arg);
}

static void release(struct sc_loop *l, int id)
{
	l->t[id].heap_pos = -1;
	l->t[id].next_free = l->free_head;
	l->free_head = id;
}

void sc_loop_cancel_timer(struct sc_loop *l, int id)
{
	if (id < 0 || id >= l->nt_cap || l->t[id].heap_pos < 0)
		return;
	heap_remove(l, l->t[id].heap_pos);
	release(l, id);
}

void sc_loop_clock_changed(struct sc_loop *l, const struct sc_clock *clock)
{
	for (int i = 0; i < l->nheap; i++) {
		struct timer *t = &l->t[l->heap[i]];
		if (t->clock == clock)
			t->key = device_key(clock, t->device_ms);
	}
	for (int i = l->nheap / 2; i >= 0; i--)
		heap_down(l, i);
}

int sc_loop_timers(const struct sc_loop *l)
{
	return l->nheap;
}

static void note_lateness(struct sc_loop_lateness *s, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	s->fired++;
	if (ms > s->max_ms)
		s->max_ms = ms;
	s->hist[ms < SC_LOOP_LATE_BUCKETS - 1 ? ms : SC_LOOP_LATE_BUCKETS - 1]++;
}

void sc_loop_lateness(struct sc_loop *l, struct sc_loop_lateness *out, bool reset)
{
	*out = l->late;
	if (reset)
		memset(&l->late, 0, sizeof l->late);
}

int64_t sc_loop_lateness_quantile(const struct sc_loop_lateness *s, double q)
{
	if (s->fired == 0)
		return 0;
	uint64_t want = (uint64_t)((double)s->fired * q + 0.5), seen = 0;
	if (want < 1)
		want = 1;
	for (int i = 0; i < SC_LOOP_LATE_BUCKETS; i++) {
		seen += s->hist[i];
		if (seen >= want)
			return i == SC_LOOP_LATE_BUCKETS - 1 ? s->max_ms : i;
	}
	return s->max_ms;
}

/* At most this many timers fire between two looks at the descriptors. A
 * device that cannot keep up with its --speed has an ever-growing backlog
 * of due timers; without a bound, every round would fire the whole backlog
 * and the next round a larger one, and Modbus, HTTP and MQTT would go
 * unanswered for longer and longer. With it the device falls behind its
 * speed but every service keeps answering. */
#define SC_LOOP_FIRE_BATCH 256

/* Fires the timers due at loop time now (and those its callbacks add for
 * now), in order; at most max of them when max > 0. */
static void fire_due(struct sc_loop *l, int64_t now, unsigned max)
{
	for (unsigned fired = 0; l->nheap > 0 && !l->stop; fired++) {
		if (max > 0 && fired >= max)
			return;
		int id = l->heap[0];
		struct timer *t = &l->t[id];
		if (t->key > now)
			return;
		if (l->virt && t->key > l->vnow)
			l->vnow = t->key;
		else if (!l->virt)
			note_lateness(&l->late, now - t->key);
		sc_timer_cb cb = t->cb;
		void *arg = t->arg;
		heap_remove(l, 0);
		release(l, id);
		cb(arg);
	}
}

/* ---- virtual time ---- */

void sc_loop_set_virtual(struct sc_loop *l, int64_t start_ms)
{
	l->virt = true;
	l->vnow = start_ms;
	l->vuntil = start_ms;
}

bool sc_loop_is_virtual(const struct sc_loop *l)
{
	return l->virt;
}

void sc_loop_advance(struct sc_loop *l, int64_t until_ms, sc_timer_cb done, void *arg)
{
	if (until_ms < l->vnow)
		until_ms = l->vnow;
	l->vuntil = until_ms;
	l->advancing = true;
	l->adv_done = done;
	l->adv_arg = arg;
}

void sc_loop_set_hold(struct sc_loop *l, bool (*hold)(void *arg), void *arg)
{
	l->hold = hold;
	l->hold_arg = arg;
}

void sc_loop_set_before_sleep(struct sc_loop *l, void (*fn)(void *arg), void *arg)
{
	l->before_sleep = fn;
	l->before_sleep_arg = arg;
}

static void before_sleep(struct sc_loop *l)
{
	if (l->before_sleep)
		l->before_sleep(l->before_sleep_arg);
}

/* Milliseconds the loop sleeps in its descriptors while an advance is held. */
#define SC_LOOP_HOLD_WAIT_MS 5

void sc_loop_stop(struct sc_loop *l)
{
	l->stop = true;
}

/* ---- the loop ---- */

static int dispatch(struct sc_loop *l, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(l->ep, ev, 64, timeout_ms);
	for (int i = 0; i < n && !l->stop; i++) {
		int fd = (int)(uint32_t)ev[i].data.u64;
		uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
		/* Still watched, and the same registration? A callback earlier
		 * in this round may have closed it, or the number reused. */
		if (fd < 0 || fd >= l->nw_cap || !l->w[fd].used || l->w[fd].gen != gen)
			continue;
		struct watch *w = &l->w[fd];
		w->cb(w->arg, fd, from_epoll(ev[i].events));
	}
	return n;
}

/* Virtual time stands still between a runner's requests, which follow each
 * other within microseconds: polling for a moment before sleeping saves
 * the wake-up of a sleeping thread (tens of microseconds on a virtual
 * machine) on every one of them. That pays only while the runner has a
 * core of its own: on a machine busier than its cores the spin keeps the
 * runner from the core it waits for. So the spin is as long as it has
 * been paying: halved each time it ended with nothing, doubled back (to
 * SC_LOOP_SPIN_US at most) each time work came during it, and it yields
 * the core now and then. */
#define SC_LOOP_SPIN_US 300
#define SC_LOOP_SPIN_MIN_US 5

void sc_loop_set_idle_poll(struct sc_loop *l, bool (*poll)(void *arg), void *arg,
			   atomic_bool **spinning)
{
	l->idle_poll = poll;
	l->idle_arg = arg;
	*spinning = &l->spinning;
}

static bool idle_work(struct sc_loop *l)
{
	return l->idle_poll && l->idle_poll(l->idle_arg);
}

static void dispatch_virtual_idle(struct sc_loop *l)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (l->spin_us <= 0)
		l->spin_us = SC_LOOP_SPIN_US;
	atomic_store(&l->spinning, true);
	for (unsigned turn = 0;; turn++) {
		/* The hand-over is polled on every turn, the descriptors (a
		 * syscall) and the clock on every eighth. */
		if (idle_work(l) || l->stop || l->advancing)
			break;
		if (turn % 8 != 0)
			continue;
		if (dispatch(l, 0) > 0 || l->stop || l->advancing)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long us = (long)(t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000L;
		if (us >= l->spin_us) {
			atomic_store(&l->spinning, false);
			l->spin_us = l->spin_us / 2 > SC_LOOP_SPIN_MIN_US ? l->spin_us / 2 : SC_LOOP_SPIN_MIN_US;
			/* Work handed over while the flag was still up had no wake-up. */
			if (idle_work(l))
				return;
			before_sleep(l);
			dispatch(l, -1);
			return;
		}
		if (turn % 64 == 0)
			sched_yield();
	}
	atomic_store(&l->spinning, false);
	l->spin_us = l->spin_us * 2 < SC_LOOP_SPIN_US ? l->spin_us * 2 : SC_LOOP_SPIN_US;
}

int sc_loop_run(struct sc_loop *l)
{
	while (!l->stop) {
		int timeout;
		if (l->virt) {
			if (l->advancing && l->hold && l->hold(l->hold_arg)) {
				/* Held: the descriptors drain what holds it. */
				before_sleep(l);
				dispatch(l, SC_LOOP_HOLD_WAIT_MS);
				continue;
			}
			int64_t next = l->nheap > 0 ? l->t[l->heap[0]].key : INT64_MAX;
			if (l->advancing && next <= l->vuntil) {
				timeout = 0;
			} else {
				if (l->advancing) {
					/* Nothing more due before until: time stands there. */
					l->vnow = l->vuntil;
					l->advancing = false;
					if (l->adv_done)
						l->adv_done(l->adv_arg);
					continue;
				}
				/* standing still: wait for a descriptor */
				dispatch_virtual_idle(l);
				continue;
			}
			dispatch(l, timeout);
			/* Every timer due up to until, in order, each at its own
			 * time, with a look at the descriptors every
			 * SC_LOOP_FIRE_BATCH of them (not one at every instant: a
			 * second of a device holds several, and each look is a
			 * syscall). */
			if (l->advancing)
				fire_due(l, l->vuntil, SC_LOOP_FIRE_BATCH);
			continue;
		}
		int64_t now = sc_mono_ms();
		if (l->nheap > 0) {
			int64_t next = l->t[l->heap[0]].key;
			timeout = next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
		} else {
			timeout = 60000;
		}
		dispatch(l, timeout);
		if (!l->stop)
			fire_due(l, sc_mono_ms(), SC_LOOP_FIRE_BATCH);
	}
	return l->signo;
}
