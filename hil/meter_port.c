/* The meter emulator's serial port: line settings, paced writes, Data
 * Request, and the adapter going away and coming back (meter_port.h). */
#define _GNU_SOURCE
#include "meter_port.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- line settings ---- */

int sc_line_parse(const char *spec, struct sc_line *l, char *why, size_t cap)
{
	char *end;
	errno = 0;
	long baud = strtol(spec, &end, 10);
	if (end == spec || errno || baud < 1200 || baud > 4000000) {
		snprintf(why, cap, "'%s': the rate must be 1200 to 4000000 baud, as in 115200,8N1", spec);
		return -1;
	}
	if (*end != ',' && *end != '-' && *end != ' ') {
		snprintf(why, cap, "'%s': give rate and format, as in 115200,8N1 or 9600,7E1", spec);
		return -1;
	}
	const char *f = end + 1;
	if (strlen(f) != 3 || f[0] < '5' || f[0] > '8' || !strchr("NEOneo", f[1]) || !f[1] ||
	    (f[2] != '1' && f[2] != '2')) {
		snprintf(why, cap,
			 "'%s': the format is data bits (5-8), parity (N, E, O) and stop bits (1, 2), as in 8N1",
			 spec);
		return -1;
	}
	l->baud = (int)baud;
	l->bits = f[0] - '0';
	l->parity = (char)(f[1] & ~0x20);
	l->stop = f[2] - '0';
	return 0;
}

void sc_line_format(const struct sc_line *l, char *buf, size_t cap)
{
	snprintf(buf, cap, "%d,%d%c%d", l->baud, l->bits, l->parity, l->stop);
}

double sc_line_char_s(const struct sc_line *l)
{
	return (double)(1 + l->bits + (l->parity != 'N') + l->stop) / (double)l->baud;
}

struct sc_line sc_line_for(bool tic)
{
	if (tic)
		return (struct sc_line){9600, 7, 'E', 1};
	return (struct sc_line){115200, 8, 'N', 1};
}

static const char *const dr_names[] = {"none", "cts", "dsr", "dcd", "ri"};

int sc_data_request_parse(const char *s, enum sc_data_request *dr)
{
	for (size_t i = 0; i < sizeof dr_names / sizeof dr_names[0]; i++)
		if (strcasecmp(s, dr_names[i]) == 0) {
			*dr = (enum sc_data_request)i;
			return 0;
		}
	return -1;
}

const char *sc_data_request_name(enum sc_data_request dr)
{
	return (unsigned)dr < sizeof dr_names / sizeof dr_names[0] ? dr_names[dr] : "?";
}

/* ---- the port ---- */

struct sc_meter_port {
	struct sc_meter_port_opts o;
	char path[PATH_MAX];
	struct sp_port *sp;   /* a real port, or NULL */
	int fd;               /* a pty through termios, or -1 */
	bool present;
	double gone_at;       /* when it went away */
	double next_try;      /* when to try opening it again */
	double last_end;      /* when the last byte of the last telegram left */
	bool sent_any;
	bool said_pty;
	double back_at;       /* when it last came back, or -1 */
	double last_start;    /* when the first byte of the last send left, or NAN */
	struct sc_meter_port_stats st;
	/* Held by every public call: the meter line writes from its own
	 * thread while another may ask whether the port is there. */
	pthread_mutex_t mu;
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_until(double t)
{
	struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void say(const struct sc_meter_port *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct sc_meter_port *p, const char *fmt, ...)
{
	if (!p->o.log)
		return;
	char line[PATH_MAX + 200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	p->o.log(p->o.log_arg, line);
}

/* Whether path leads to a pseudo-terminal's slave (Unix 98: /dev/pts/N). */
static bool is_pty(const char *path)
{
	char real[PATH_MAX];
	return realpath(path, real) && strncmp(real, "/dev/pts/", 9) == 0;
}

static speed_t termios_speed(int baud)
{
	static const struct {
		int baud;
		speed_t code;
	} t[] = {
		{1200, B1200}, {2400, B2400}, {4800, B4800}, {9600, B9600}, {19200, B19200},
		{38400, B38400}, {57600, B57600}, {115200, B115200}, {230400, B230400},
		{460800, B460800}, {500000, B500000}, {576000, B576000}, {921600, B921600},
		{1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000}, {2000000, B2000000},
		{2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].baud == baud)
			return t[i].code;
	return 0;
}

static int open_pty(struct sc_meter_port *p, char *why, size_t cap)
{
	const struct sc_line *l = &p->o.line;
	speed_t sp = termios_speed(l->baud);
	if (!sp) {
		snprintf(why, cap, "%s: %d baud: a pseudo-terminal takes only the standard rates",
			 p->path, l->baud);
		return -1;
	}
	int fd = open(p->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, cap, "%s: %s", p->path, strerror(errno));
		return -1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) != 0) {
		snprintf(why, cap, "%s: not a terminal: %s", p->path, strerror(errno));
		close(fd);
		return -1;
	}
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
	static const tcflag_t size[] = {CS5, CS6, CS7, CS8};
	t.c_cflag |= size[l->bits - 5] | CLOCAL | CREAD;
	if (l->parity != 'N')
		t.c_cflag |= PARENB | (l->parity == 'O' ? PARODD : 0);
	if (l->stop == 2)
		t.c_cflag |= CSTOPB;
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	cfsetispeed(&t, sp);
	cfsetospeed(&t, sp);
	if (tcsetattr(fd, TCSANOW, &t) != 0) {
		snprintf(why, cap, "%s: cannot set %d,%d%c%d: %s", p->path, l->baud, l->bits, l->parity,
			 l->stop, strerror(errno));
		close(fd);
		return -1;
	}
	/* Linux ptys keep 8 bits and no parity whatever is asked: the bytes
	 * are the same (TIC's are 7-bit ASCII), the pacing follows the line
	 * asked for. Said once, so nobody takes the pty for the line. */
	struct termios got;
	if (!p->said_pty && tcgetattr(fd, &got) == 0 &&
	    ((got.c_cflag & CSIZE) != size[l->bits - 5] || !(got.c_cflag & PARENB) != (l->parity == 'N'))) {
		say(p, "meter port %s is a pseudo-terminal: it keeps %s, not %d%c%d (the kernel's); bytes "
		       "are paced as %d,%d%c%d", p->path, (got.c_cflag & PARENB) ? "parity" : "8N1", l->bits,
		    l->parity, l->stop, l->baud, l->bits, l->parity, l->stop);
		p->said_pty = true;
	}
	p->fd = fd;
	return 0;
}

static void sp_why(const char *path, const char *what, char *why, size_t cap)
{
	char *msg = sp_last_error_message();
	snprintf(why, cap, "%s: %s%s%s", path, what, what[0] ? ": " : "", msg ? msg : "error");
	sp_free_error_message(msg);
}

static int open_serial(struct sc_meter_port *p, char *why, size_t cap)
{
	const struct sc_line *l = &p->o.line;
	struct sp_port *sp;
	if (sp_get_port_by_name(p->path, &sp) != SP_OK) {
		/* libserialport's own message says little when the node is missing. */
		if (access(p->path, F_OK) != 0)
			snprintf(why, cap, "%s: %s", p->path, strerror(errno));
		else
			sp_why(p->path, "", why, cap);
		return -1;
	}
	if (sp_open(sp, SP_MODE_READ_WRITE) != SP_OK) {
		sp_why(p->path, "", why, cap);
		sp_free_port(sp);
		return -1;
	}
	enum sp_parity par = l->parity == 'E' ? SP_PARITY_EVEN : l->parity == 'O' ? SP_PARITY_ODD
									     : SP_PARITY_NONE;
	char what[64];
	snprintf(what, sizeof what, "cannot set %d,%d%c%d", l->baud, l->bits, l->parity, l->stop);
	if (sp_set_baudrate(sp, l->baud) != SP_OK || sp_set_bits(sp, l->bits) != SP_OK ||
	    sp_set_parity(sp, par) != SP_OK || sp_set_stopbits(sp, l->stop) != SP_OK ||
	    sp_set_flowcontrol(sp, SP_FLOWCONTROL_NONE) != SP_OK) {
		sp_why(p->path, what, why, cap);
		sp_close(sp);
		sp_free_port(sp);
		return -1;
	}
	p->sp = sp;
	return 0;
}

static void close_port(struct sc_meter_port *p)
{
	if (p->sp) {
		sp_close(p->sp);
		sp_free_port(p->sp);
		p->sp = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	p->present = false;
}

/* The Data Request line: 1 high, 0 low, -1 cannot be read. */
static int read_dr(struct sc_meter_port *p)
{
	if (p->o.read_dr)
		return p->o.read_dr(p->o.read_dr_arg);
	if (p->sp) {
		enum sp_signal s;
		if (sp_get_signals(p->sp, &s) != SP_OK)
			return -1;
		enum sp_signal bit = p->o.dr == SC_DR_CTS   ? SP_SIG_CTS
				     : p->o.dr == SC_DR_DSR ? SP_SIG_DSR
				     : p->o.dr == SC_DR_DCD ? SP_SIG_DCD
							    : SP_SIG_RI;
		return (s & bit) != 0;
	}
	int m;
	if (p->fd < 0 || ioctl(p->fd, TIOCMGET, &m) != 0)
		return -1;
	int bit = p->o.dr == SC_DR_CTS ? TIOCM_CTS : p->o.dr == SC_DR_DSR ? TIOCM_DSR
					     : p->o.dr == SC_DR_DCD ? TIOCM_CAR : TIOCM_RNG;
	return (m & bit) != 0;
}

int sc_meter_port_data_request(struct sc_meter_port *p)
{
	pthread_mutex_lock(&p->mu);
	int r = p->o.dr ? read_dr(p) : -1;
	pthread_mutex_unlock(&p->mu);
	return r;
}

static int open_port(struct sc_meter_port *p, char *why, size_t cap)
{
	int r = is_pty(p->path) ? open_pty(p, why, cap) : open_serial(p, why, cap);
	if (r != 0)
		return -1;
	if (p->o.dr && !p->o.read_dr && read_dr(p) < 0) {
		snprintf(why, cap, "%s: data request on %s: the port has no modem lines to read it from",
			 p->path, sc_data_request_name(p->o.dr));
		close_port(p);
		return -1;
	}
	p->present = true;
	return 0;
}

struct sc_meter_port *sc_meter_port_open(const struct sc_meter_port_opts *o, char *why, size_t cap)
{
	struct sc_meter_port *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	p->o = *o;
	p->fd = -1;
	p->back_at = -1;
	p->last_start = NAN;
	if (p->o.pace <= 0)
		p->o.pace = 1;
	if (p->o.reopen_s <= 0)
		p->o.reopen_s = 0.5;
	snprintf(p->path, sizeof p->path, "%s", o->path);
	p->o.path = p->path;
	if (o->line.bits < 5 || o->line.bits > 8 || !strchr("NEO", o->line.parity) || !o->line.parity ||
	    (o->line.stop != 1 && o->line.stop != 2) || o->line.baud < 1200 || o->line.baud > 4000000) {
		snprintf(why, cap, "%s: line %d,%d%c%d is not a serial line's", p->path, o->line.baud,
			 o->line.bits, o->line.parity ? o->line.parity : '?', o->line.stop);
		free(p);
		return NULL;
	}
	if (open_port(p, why, cap) != 0) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

double sc_meter_port_since_back(struct sc_meter_port *p)
{
	pthread_mutex_lock(&p->mu);
	double back = p->back_at;
	pthread_mutex_unlock(&p->mu);
	return back < 0 ? INFINITY : mono_s() - back;
}

double sc_meter_port_last_start(struct sc_meter_port *p)
{
	pthread_mutex_lock(&p->mu);
	double t = p->last_start;
	pthread_mutex_unlock(&p->mu);
	return t;
}

bool sc_meter_port_present(struct sc_meter_port *p)
{
	pthread_mutex_lock(&p->mu);
	bool present = p->present;
	pthread_mutex_unlock(&p->mu);
	return present;
}

const struct sc_meter_port_stats *sc_meter_port_stats(const struct sc_meter_port *p)
{
	return p ? &p->st : NULL;
}

void sc_meter_port_stats_get(struct sc_meter_port *p, struct sc_meter_port_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	pthread_mutex_unlock(&p->mu);
}

void sc_meter_port_close(struct sc_meter_port *p)
{
	if (!p)
		return;
	close_port(p);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static bool gone_errno(int e)
{
	return e == EIO || e == ENXIO || e == ENODEV || e == EBADF || e == EPIPE || e == ENOENT;
}

static void went_away(struct sc_meter_port *p, int e, double now)
{
	say(p, "meter port %s gone (%s: %s); reopening", p->path, strerrorname_np(e) ? strerrorname_np(e) : "?",
	    strerror(e));
	close_port(p);
	p->gone_at = now;
	p->next_try = now;
}

/* Puts n bytes on the line; waits up to timeout_s for room. n written, or
 * -1 with errno (EAGAIN: the line took nothing in time). */
static ssize_t put(struct sc_meter_port *p, const char *b, size_t n, double timeout_s)
{
	if (p->sp) {
		enum sp_return r = sp_blocking_write(p->sp, b, n, (unsigned)(timeout_s * 1000) + 1);
		if (r < 0) {
			errno = r == SP_ERR_FAIL ? sp_last_error_code() : EINVAL;
			if (!errno)
				errno = EIO;
			return -1;
		}
		if (r == 0) {
			errno = EAGAIN;
			return -1;
		}
		return r;
	}
	size_t done = 0;
	double deadline = mono_s() + timeout_s;
	while (done < n) {
		ssize_t w = write(p->fd, b + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return done ? (ssize_t)done : -1;
		double left = deadline - mono_s();
		if (left <= 0) {
			if (done)
				return (ssize_t)done;
			errno = EAGAIN;
			return -1;
		}
		struct pollfd pf = {p->fd, POLLOUT, 0};
		int pr = poll(&pf, 1, (int)(left * 1000) + 1);
		if (pr > 0 && (pf.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(pf.revents & POLLOUT)) {
			errno = EIO;
			return done ? (ssize_t)done : -1;
		}
	}
	return (ssize_t)done;
}

static int send_locked(struct sc_meter_port *p, const void *data, size_t len, char *why, size_t cap);

int sc_meter_port_send(struct sc_meter_port *p, const void *data, size_t len, char *why, size_t cap)
{
	pthread_mutex_lock(&p->mu);
	int r = send_locked(p, data, len, why, cap);
	pthread_mutex_unlock(&p->mu);
	return r;
}

static int send_locked(struct sc_meter_port *p, const void *data, size_t len, char *why, size_t cap)
{
	double now = mono_s();
	p->last_start = now;
	if (!p->present) {
		if (now < p->next_try) {
			p->st.not_sent_gone++;
			snprintf(why, cap, "the meter port %s is away", p->path);
			return 1;
		}
		char err[PATH_MAX + 100];
		if (open_port(p, err, sizeof err) != 0) {
			p->next_try = now + p->o.reopen_s;
			p->st.not_sent_gone++;
			snprintf(why, cap, "the meter port is away (%s)", err);
			return 1;
		}
		double away = now - p->gone_at;
		p->st.reopens++;
		if (away > p->st.longest_away_s)
			p->st.longest_away_s = away;
		say(p, "meter port %s back after %.1f s", p->path, away);
		p->back_at = now;
		p->sent_any = false;
	}
	if (p->o.dr) {
		int d = read_dr(p);
		if (d < 0 && !p->o.read_dr) {
			int e = errno;
			if (gone_errno(e)) {
				went_away(p, e, now);
				p->st.not_sent_gone++;
				snprintf(why, cap, "the meter port %s went away (%s)", p->path, strerror(e));
				return 1;
			}
		}
		if (d <= 0) {
			p->st.not_sent_dr++;
			snprintf(why, cap, "Data Request is %s", d < 0 ? "unreadable" : "low");
			return 1;
		}
	}

	double c = sc_line_char_s(&p->o.line) * p->o.pace;
	/* Chunks of about 2 ms of line time: a UART's buffer never holds more. */
	size_t chunk = (size_t)(0.002 / c);
	if (chunk < 1)
		chunk = 1;
	double start = now;
	if (p->sent_any && p->last_end + p->o.min_gap_s > start) {
		start = p->last_end + p->o.min_gap_s;
		sleep_until(start);
	}
	p->last_start = start;
	const char *b = data;
	size_t done = 0;
	while (done < len) {
		if (done) {
			sleep_until(start + (double)done * c);
			if (p->o.dr && read_dr(p) == 0) {
				p->st.cut_short_dr++;
				p->st.bytes += done;
				p->last_end = mono_s();
				p->sent_any = true;
				snprintf(why, cap, "Data Request dropped after %zu of %zu bytes", done, len);
				return 1;
			}
		}
		size_t n = len - done < chunk ? len - done : chunk;
		ssize_t w = put(p, b + done, n, 1.0 + (double)n * c);
		if (w < 0) {
			int e = errno;
			p->st.bytes += done;
			if (e == EAGAIN) {
				p->st.not_sent_gone++;
				snprintf(why, cap, "the meter port %s took no bytes for 1 s (%zu of %zu sent)",
					 p->path, done, len);
				return 1;
			}
			if (gone_errno(e)) {
				went_away(p, e, mono_s());
				p->st.not_sent_gone++;
				snprintf(why, cap, "the meter port %s went away (%s) after %zu of %zu bytes",
					 p->path, strerror(e), done, len);
				return 1;
			}
			snprintf(why, cap, "%s: %s", p->path, strerror(e));
			return -1;
		}
		done += (size_t)w;
	}
	double end = start + (double)len * c;
	sleep_until(end);
	p->last_end = end;
	p->sent_any = true;
	double took = mono_s() - start;
	if (took > p->st.max_telegram_s)
		p->st.max_telegram_s = took;
	p->st.telegrams++;
	p->st.bytes += len;
	return 0;
}
