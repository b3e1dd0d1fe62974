#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct watch {
	int fd;
	short events;
	sc_fd_cb cb;
	void *arg;
};

struct timer {
	bool used;
	int64_t at_ms;
	sc_timer_cb cb;
	void *arg;
};

struct sc_loop {
	struct watch w[SC_LOOP_MAX_FDS];
	int nw;
	struct timer t[SC_LOOP_MAX_TIMERS];
	bool stop;
	int signo;
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
	if (sig_pipe[0] < 0) {
		if (pipe(sig_pipe) != 0) {
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
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sc_loop_add_fd(l, sig_pipe[0], POLLIN, on_sig_pipe, l);
	return l;
}

void sc_loop_free(struct sc_loop *l)
{
	free(l);
}

int sc_loop_add_fd(struct sc_loop *l, int fd, short events, sc_fd_cb cb, void *arg)
{
	if (l->nw >= SC_LOOP_MAX_FDS)
		return -1;
	l->w[l->nw++] = (struct watch){fd, events, cb, arg};
	return 0;
}

void sc_loop_set_events(struct sc_loop *l, int fd, short events)
{
	for (int i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd)
			l->w[i].events = events;
}

void sc_loop_del_fd(struct sc_loop *l, int fd)
{
	for (int i = 0; i < l->nw; i++) {
		if (l->w[i].fd == fd) {
			l->w[i] = l->w[--l->nw];
			return;
		}
	}
}

int sc_loop_add_timer(struct sc_loop *l, int64_t at_ms, sc_timer_cb cb, void *arg)
{
	for (int i = 0; i < SC_LOOP_MAX_TIMERS; i++) {
		if (!l->t[i].used) {
			l->t[i] = (struct timer){true, at_ms, cb, arg};
			return i;
		}
	}
	return -1;
}

void sc_loop_cancel_timer(struct sc_loop *l, int id)
{
	if (id >= 0 && id < SC_LOOP_MAX_TIMERS)
		l->t[id].used = false;
}

void sc_loop_stop(struct sc_loop *l)
{
	l->stop = true;
}

int sc_loop_run(struct sc_loop *l)
{
	struct pollfd pfd[SC_LOOP_MAX_FDS];
	struct watch snap[SC_LOOP_MAX_FDS];

	while (!l->stop) {
		int64_t now = sc_mono_ms(), next = -1;
		for (int i = 0; i < SC_LOOP_MAX_TIMERS; i++)
			if (l->t[i].used && (next < 0 || l->t[i].at_ms < next))
				next = l->t[i].at_ms;
		int timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);

		/* Callbacks may add or remove watches: work on a snapshot. */
		int n = l->nw;
		memcpy(snap, l->w, (size_t)n * sizeof snap[0]);
		for (int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){snap[i].fd, snap[i].events, 0};
		int rc = poll(pfd, (nfds_t)n, timeout);
		if (rc < 0 && errno != EINTR)
			return -1;

		now = sc_mono_ms();
		for (int i = 0; i < SC_LOOP_MAX_TIMERS && !l->stop; i++) {
			if (l->t[i].used && l->t[i].at_ms <= now) {
				l->t[i].used = false;
				l->t[i].cb(l->t[i].arg);
			}
		}
		for (int i = 0; rc > 0 && i < n && !l->stop; i++) {
			if (!pfd[i].revents)
				continue;
			/* Still watched? A callback earlier in this round may have
			 * closed it. */
			bool live = false;
			for (int k = 0; k < l->nw; k++)
				if (l->w[k].fd == snap[i].fd && l->w[k].cb == snap[i].cb &&
				    l->w[k].arg == snap[i].arg)
					live = true;
			if (live)
				snap[i].cb(snap[i].arg, pfd[i].fd, pfd[i].revents);
		}
	}
	return l->signo;
}
