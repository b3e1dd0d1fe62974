#include "log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum sc_log_level threshold = SC_LOG_INFO;
static const char *prog_name = "sc-sim";
static const char *const names[] = {"error", "warn", "info", "debug"};

/* Repeated messages: a message (one format string, one level) is written at
 * most SC_LOG_BURST times in a window of SC_LOG_WINDOW_S seconds; the rest
 * are counted, and when the window is over one line says how many there were
 * ("N more like this in the last S s"), with the last of them. */
#define SC_LOG_BURST 200
#define SC_LOG_WINDOW_S 10
#define KEYS 32

struct key {
	const char *fmt; /* NULL: free */
	enum sc_log_level level;
	int64_t start_ms; /* the window's start */
	unsigned written;
	uint64_t suppressed;
	char last[256]; /* the last suppressed line, cut */
};

/* Lines stderr could not take at once wait here (a reader that is slow or
 * stalled never blocks the event loop); when it is full, lines are dropped
 * and counted, and the count is written once stderr takes lines again. */
#define PENDING_CAP (64 * 1024)

static struct {
	pthread_mutex_t mu;
	struct key keys[KEYS];
	char pending[PENDING_CAP];
	size_t pending_len;
	uint64_t dropped;
} st = {.mu = PTHREAD_MUTEX_INITIALIZER};

void sc_log_set_level(enum sc_log_level level)
{
	threshold = level;
}

void sc_log_set_prog(const char *prog)
{
	prog_name = prog;
}

int sc_log_level_from_name(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes what stderr takes now without blocking: a pipe that polls writable
 * takes a write of up to PIPE_BUF bytes whole. Returns the bytes written. */
static size_t write_now(const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		struct pollfd pf = {STDERR_FILENO, POLLOUT, 0};
		if (poll(&pf, 1, 0) != 1 || !(pf.revents & POLLOUT))
			break;
		size_t chunk = n - done < 4096 ? n - done : 4096;
		ssize_t w = write(STDERR_FILENO, p + done, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return done;
}

static void drain(void)
{
	if (st.pending_len) {
		size_t w = write_now(st.pending, st.pending_len);
		memmove(st.pending, st.pending + w, st.pending_len - w);
		st.pending_len -= w;
	}
	if (!st.pending_len && st.dropped) {
		char line[160];
		int n = snprintf(line, sizeof line,
				 "%s: warn: log: %llu lines dropped: stderr was not read fast enough\n",
				 prog_name, (unsigned long long)st.dropped);
		if (write_now(line, (size_t)n) == (size_t)n)
			st.dropped = 0;
	}
}

/* One line to stderr, whole (lines of one process never interleave), or
 * kept for later, or dropped and counted. */
static void emit(const char *line, size_t n)
{
	drain();
	if (!st.pending_len && !st.dropped) {
		size_t w = write_now(line, n);
		line += w;
		n -= w;
		if (!n)
			return;
	}
	if (st.pending_len + n <= PENDING_CAP) {
		memcpy(st.pending + st.pending_len, line, n);
		st.pending_len += n;
	} else {
		st.dropped++;
	}
}

static void format_line(char *out, size_t cap, size_t *n, enum sc_log_level level,
			const char *text)
{
	int k = snprintf(out, cap, "%s: %s: %s\n", prog_name, names[level], text);
	*n = k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
	if (*n && out[*n - 1] != '\n')
		out[*n - 1] = '\n';
}

static void summarise(struct key *k, int64_t now)
{
	if (k->suppressed) {
		char text[512], line[700];
		int64_t s = (now - k->start_ms + 999) / 1000;
		snprintf(text, sizeof text, "%llu more like this in the last %lld s: %s",
			 (unsigned long long)k->suppressed,
			 (long long)(s < 1 ? 1 : s > SC_LOG_WINDOW_S ? SC_LOG_WINDOW_S : s), k->last);
		size_t n;
		format_line(line, sizeof line, &n, k->level, text);
		emit(line, n);
	}
	k->suppressed = 0;
	k->written = 0;
}

/* The key of fmt at level, its window renewed when over; windows that are
 * over elsewhere are summarised on the way. */
static struct key *key_of(const char *fmt, enum sc_log_level level, int64_t now)
{
	struct key *found = NULL, *free_k = NULL, *oldest = NULL;
	for (int i = 0; i < KEYS; i++) {
		struct key *k = &st.keys[i];
		if (!k->fmt) {
			if (!free_k)
				free_k = k;
			continue;
		}
		if (now - k->start_ms >= SC_LOG_WINDOW_S * 1000) {
			summarise(k, now);
			k->fmt = NULL;
			if (!free_k)
				free_k = k;
			continue;
		}
		if (k->fmt == fmt && k->level == level)
			found = k;
		if (!oldest || k->start_ms < oldest->start_ms)
			oldest = k;
	}
	if (found)
		return found;
	struct key *k = free_k ? free_k : oldest;
	if (k->fmt)
		summarise(k, now);
	memset(k, 0, sizeof *k);
	k->fmt = fmt;
	k->level = level;
	k->start_ms = now;
	return k;
}

/* At exit: the counts of windows not over yet, and what waits for stderr,
 * given up to a second (a stalled reader does not hold the exit). */
static void at_exit(void)
{
	pthread_mutex_lock(&st.mu);
	int64_t now = now_ms(), deadline = now + 1000;
	for (int i = 0; i < KEYS; i++)
		if (st.keys[i].fmt)
			summarise(&st.keys[i], now);
	for (;;) {
		drain();
		int64_t left = deadline - now_ms();
		if ((!st.pending_len && !st.dropped) || left <= 0)
			break;
		struct pollfd pf = {STDERR_FILENO, POLLOUT, 0};
		if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	pthread_mutex_unlock(&st.mu);
}

void sc_log(enum sc_log_level level, const char *fmt, ...)
{
	if (level > threshold)
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&st.mu);
	static bool registered;
	if (!registered)
		registered = atexit(at_exit) == 0;
	struct key *k = key_of(fmt, level, now_ms());
	if (k->written < SC_LOG_BURST) {
		k->written++;
		char line[1100];
		size_t n;
		format_line(line, sizeof line, &n, level, text);
		emit(line, n);
	} else {
		k->suppressed++;
		size_t n = strnlen(text, sizeof k->last - 1);
		memcpy(k->last, text, n);
		k->last[n] = '\0';
	}
	pthread_mutex_unlock(&st.mu);
}
