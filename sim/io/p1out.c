/* cfmakeraw and the high baud rates are BSD extensions of termios. */
#define _DEFAULT_SOURCE
#include "p1out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

struct sc_p1out {
	struct sc_loop *loop;
	char *path;
	bool tic;
	int fd;
	int timer;
	uint64_t sent, dropped;
};

/* Opens the port; -1 with why when it cannot be. */
static int open_port(struct sc_p1out *o, char *why, size_t cap)
{
	int fd = open(o->path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, cap, "p1-out: cannot open %s: %s", o->path, strerror(errno));
		return -1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB);
		t.c_cflag |= (o->tic ? CS7 | PARENB : CS8) | CLOCAL;
		cfsetospeed(&t, o->tic ? B9600 : B115200);
		cfsetispeed(&t, o->tic ? B9600 : B115200);
		tcsetattr(fd, TCSANOW, &t);
	}
	o->fd = fd;
	sc_log(SC_LOG_INFO, "p1-out: %s open at %s", o->path, o->tic ? "9600 7E1" : "115200 8N1");
	return 0;
}

static void on_reopen(void *arg)
{
	struct sc_p1out *o = arg;
	o->timer = -1;
	char why[300];
	if (open_port(o, why, sizeof why) != 0) {
		sc_log(SC_LOG_DEBUG, "%s", why);
		o->timer = sc_loop_add_timer(o->loop, sc_loop_now(o->loop) + 1000, on_reopen, o);
	}
}

struct sc_p1out *sc_p1out_open(struct sc_loop *loop, const char *path, bool tic, char *why,
			       size_t cap)
{
	struct sc_p1out *o = calloc(1, sizeof *o);
	if (!o) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	o->loop = loop;
	o->tic = tic;
	o->fd = -1;
	o->timer = -1;
	o->path = strdup(path);
	if (!o->path)
		snprintf(why, cap, "out of memory");
	if (!o->path || open_port(o, why, cap) != 0) {
		free(o->path);
		free(o);
		return NULL;
	}
	return o;
}

void sc_p1out_close(struct sc_p1out *o)
{
	if (!o)
		return;
	sc_loop_cancel_timer(o->loop, o->timer);
	if (o->fd >= 0)
		close(o->fd);
	free(o->path);
	free(o);
}

void sc_p1out_write(struct sc_p1out *o, const void *data, size_t len)
{
	if (o->fd < 0) {
		o->dropped += len;
		return;
	}
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(o->fd, p, len);
		if (w > 0) {
			o->sent += (uint64_t)w;
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			o->dropped += len; /* nobody reads: the line does not wait */
			return;
		}
		/* The port went away (EIO when a pty's other side closed). */
		sc_log(SC_LOG_WARN, "p1-out: %s lost (%s); reopening every second", o->path,
		       w < 0 ? strerror(errno) : "no progress");
		close(o->fd);
		o->fd = -1;
		o->dropped += len;
		o->timer = sc_loop_add_timer(o->loop, sc_loop_now(o->loop) + 1000, on_reopen, o);
		return;
	}
}

uint64_t sc_p1out_sent(const struct sc_p1out *o)
{
	return o->sent;
}

uint64_t sc_p1out_dropped(const struct sc_p1out *o)
{
	return o->dropped;
}
