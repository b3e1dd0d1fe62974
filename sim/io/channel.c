#include "channel.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* The caller's spin while the loop works: as long as it has been paying
 * (halved when the call outlasted it, doubled back when it was done
 * within it), with the core yielded now and then, as the loop's idle spin
 * (loop.c) on a machine busier than its cores. */
#define SPIN_US 300
#define SPIN_MIN_US 5

struct sc_call {
	void (*fn)(void *arg, struct sc_call *call);
	void *arg;
	int result;
	bool done;
	atomic_bool done_flag;   /* the same, for the caller's short spin */
	struct sc_channel *ch;
};

struct sc_channel {
	struct sc_loop *loop;
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sc_call *pending; /* one call at a time: the runner waits for each */
	atomic_bool posted;      /* pending is set */
	atomic_bool *spinning;   /* the loop polls posted (loop.h) */
	long spin_us;            /* the caller's spin now; the calling thread's */
};

/* In the loop: runs the pending call, if any. */
static bool take(void *arg)
{
	struct sc_channel *ch = arg;
	if (!atomic_load(&ch->posted))
		return false;
	pthread_mutex_lock(&ch->mu);
	struct sc_call *c = ch->pending;
	ch->pending = NULL;
	atomic_store(&ch->posted, false);
	pthread_mutex_unlock(&ch->mu);
	if (c)
		c->fn(c->arg, c);
	return c != NULL;
}

static void on_wake(void *arg, int fd, short revents)
{
	(void)revents;
	uint64_t n;
	if (read(fd, &n, sizeof n) < 0) {
		/* Nothing to read: woken for nothing. */
	}
	take(arg);
}

struct sc_channel *sc_channel_new(struct sc_loop *loop)
{
	struct sc_channel *ch = calloc(1, sizeof *ch);
	if (!ch)
		return NULL;
	ch->loop = loop;
	ch->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&ch->mu, NULL);
	pthread_cond_init(&ch->cv, NULL);
	sc_loop_set_idle_poll(loop, take, ch, &ch->spinning);
	if (ch->efd < 0 || sc_loop_add_fd(loop, ch->efd, POLLIN, on_wake, ch) != 0) {
		sc_channel_free(ch);
		return NULL;
	}
	return ch;
}

void sc_channel_free(struct sc_channel *ch)
{
	if (!ch)
		return;
	atomic_bool *unused;
	if (ch->spinning)
		sc_loop_set_idle_poll(ch->loop, NULL, NULL, &unused);
	if (ch->efd >= 0) {
		sc_loop_del_fd(ch->loop, ch->efd);
		close(ch->efd);
	}
	pthread_mutex_destroy(&ch->mu);
	pthread_cond_destroy(&ch->cv);
	free(ch);
}

/* Hands c to the loop: 0, or -1 when the loop could not be woken. */
static int post(struct sc_channel *ch, struct sc_call *c)
{
	pthread_mutex_lock(&ch->mu);
	ch->pending = c;
	atomic_store(&ch->posted, true);
	pthread_mutex_unlock(&ch->mu);
	/* A loop spinning on posted takes it without a wake-up; if it stopped
	 * spinning before seeing it, it looks again before it sleeps. */
	uint64_t one = 1;
	if (!atomic_load(ch->spinning) && write(ch->efd, &one, sizeof one) < 0) {
		pthread_mutex_lock(&ch->mu);
		if (ch->pending == c) {
			ch->pending = NULL;
			atomic_store(&ch->posted, false);
		}
		pthread_mutex_unlock(&ch->mu);
		return -1;
	}
	return 0;
}

static int wait_done(struct sc_call *c)
{
	struct sc_channel *ch = c->ch;
	/* Most calls are done within microseconds: a short spin saves this
	 * thread a sleep and a wake-up (see the loop's idle spin). */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ch->spin_us <= 0)
		ch->spin_us = SPIN_US;
	bool done = false;
	for (unsigned turn = 1; !(done = atomic_load_explicit(&c->done_flag, memory_order_acquire)); turn++) {
		if (turn % 64 != 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000L >= ch->spin_us)
			break;
		if (turn % 512 == 0)
			sched_yield();
	}
	if (done)
		ch->spin_us = ch->spin_us * 2 < SPIN_US ? ch->spin_us * 2 : SPIN_US;
	else
		ch->spin_us = ch->spin_us / 2 > SPIN_MIN_US ? ch->spin_us / 2 : SPIN_MIN_US;
	pthread_mutex_lock(&ch->mu);
	while (!c->done)
		pthread_cond_wait(&ch->cv, &ch->mu);
	pthread_mutex_unlock(&ch->mu);
	return c->result;
}

int sc_channel_run(struct sc_channel *ch, void (*fn)(void *arg, struct sc_call *call), void *arg)
{
	struct sc_call c = {fn, arg, 0, false, false, ch};
	if (post(ch, &c) != 0)
		return -1;
	return wait_done(&c);
}

struct sc_call *sc_channel_post(struct sc_channel *ch, void (*fn)(void *arg, struct sc_call *call),
				void *arg)
{
	struct sc_call *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	*c = (struct sc_call){fn, arg, 0, false, false, ch};
	if (post(ch, c) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

int sc_channel_wait(struct sc_call *call)
{
	int r = wait_done(call);
	free(call);
	return r;
}

void sc_channel_done(struct sc_call *call, int result)
{
	struct sc_channel *ch = call->ch;
	pthread_mutex_lock(&ch->mu);
	call->result = result;
	call->done = true;
	atomic_store_explicit(&call->done_flag, true, memory_order_release);
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mu);
}
