/* cfmakeraw and the high baud rates are BSD extensions of termios. */
#define _DEFAULT_SOURCE
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "capture.h"
#include "log.h"
#include "p1_gen.h"
#include "sc_error.h"

/* A capture replayed is loaded whole, up to this size. */
#define SC_SOURCE_FILE_MAX ((size_t)1 << 30)

struct sc_source {
	struct sc_loop *loop;
	struct sc_device *dev;
	const struct sc_clock *clock;
	struct sc_source_opts o;
	char desc[256];
	int timer;
	int64_t next_ms;  /* device time of the next telegram */
	int64_t cadence_ms;
	/* gen */
	struct sc_meter meter;
	/* file */
	struct sc_capture cap;
	size_t next_chunk;
	/* serial / stdin */
	int fd;
	struct sp_port *port;
	bool tic;       /* file: a TIC capture */
	bool ended;
	bool reopening; /* serial: quiet while waiting for the port to return */
	bool paused;    /* gen: telegrams held back (a telegram was fed by hand) */
};

int sc_source_parse(const char *spec, struct sc_source_opts *o, char *err, size_t errlen)
{
	if (strncmp(spec, "gen:", 4) == 0) {
		char flav[32];
		const char *colon = strchr(spec + 4, ':');
		size_t n = colon ? (size_t)(colon - spec - 4) : strlen(spec + 4);
		if (n >= sizeof flav)
			n = sizeof flav - 1;
		memcpy(flav, spec + 4, n);
		flav[n] = '\0';
		o->kind = SC_SRC_GEN;
		o->flavour = sc_flavour_from_name(flav);
		if (o->flavour == SC_FLAVOUR_UNKNOWN) {
			snprintf(err, errlen, "unknown meter '%s' (dsmr42, dsmr50, emucs, tic)", flav);
			return -1;
		}
		if (colon) {
			int p = sc_profile_from_name(colon + 1);
			if (p < 0) {
				snprintf(err, errlen, "unknown profile '%s' (household, pv, ev, pv-ev)",
					 colon + 1);
				return -1;
			}
			o->meter.profile = (enum sc_profile)p;
		}
		return 0;
	}
	if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
		o->kind = SC_SRC_FILE;
		o->path = spec + 5;
		return 0;
	}
	if (strncmp(spec, "serial:", 7) == 0 && spec[7]) {
		o->kind = SC_SRC_SERIAL;
		o->path = spec + 7;
		return 0;
	}
	if (strcmp(spec, "stdin") == 0) {
		o->kind = SC_SRC_STDIN;
		return 0;
	}
	if (strcmp(spec, "none") == 0) {
		o->kind = SC_SRC_NONE;
		return 0;
	}
	snprintf(err, errlen, "'%s' is not gen:METER[:PROFILE], file:PATH, serial:DEV, stdin or none",
		 spec);
	return -1;
}

static int64_t dev_now(const struct sc_source *s)
{
	return sc_clock_now(s->clock, sc_loop_now(s->loop));
}

static void schedule(struct sc_source *s, void (*cb)(void *))
{
	s->timer = sc_loop_add_device_timer(s->loop, s->clock, s->next_ms, cb, s);
}

/* ---- gen: the built-in synthetic meter ---- */

/* A telegram is made and fed to its device at once, on the loop's one
 * thread: every generator of a fleet shares this buffer. */
static char gen_buf[SC_P1_GEN_MAX > SC_TIC_GEN_MAX ? SC_P1_GEN_MAX : SC_TIC_GEN_MAX];

static void on_gen(void *arg)
{
	struct sc_source *s = arg;
	s->timer = -1;
	int64_t now = s->next_ms;
	sc_meter_advance(&s->meter, now / 1000);
	int n;
	if (s->o.flavour == SC_FLAVOUR_TIC) {
		n = sc_tic_gen(&s->meter, &s->o.tic, gen_buf, sizeof gen_buf, NULL);
	} else {
		struct sc_p1_gen_opts go = {s->o.flavour, SC_P1_FAULT_NONE, 0};
		n = sc_p1_gen(&s->meter, &go, gen_buf, sizeof gen_buf, NULL);
	}
	if (n > 0 && !s->paused)
		sc_device_feed(s->dev, gen_buf, (size_t)n, now);
	else if (n <= 0)
		sc_log(SC_LOG_ERROR, "source: generator failed (%d)", n);
	/* A Linky sends frame after frame, each taking its time on the line. */
	if (s->o.flavour == SC_FLAVOUR_TIC && n > 0)
		s->cadence_ms = sc_tic_cadence_ms((size_t)n);
	s->next_ms += s->cadence_ms;
	schedule(s, on_gen);
}

/* ---- file: a capture replayed at the meter's cadence ---- */

static void on_file(void *arg)
{
	struct sc_source *s = arg;
	s->timer = -1;
	if (s->next_chunk >= s->cap.n) {
		if (s->o.loop && s->cap.n > 0) {
			s->next_chunk = 0;
		} else {
			sc_device_input_end(s->dev, s->next_ms);
			sc_log(SC_LOG_INFO, "source: end of %s (%zu telegrams)%s", s->o.path,
			       s->cap.n,
			       s->o.exit_at_end ? "" : "; the last values stay served");
			s->ended = true;
			if (s->o.exit_at_end)
				sc_loop_stop(s->loop);
			return;
		}
	}
	const struct sc_capture_chunk *c = &s->cap.chunks[s->next_chunk++];
	sc_device_feed(s->dev, s->cap.data + c->off, c->len, s->next_ms);
	/* TIC frames follow each other as fast as the 9600 baud line carries
	 * them; P1 telegrams come at the meter's fixed cadence. */
	s->next_ms += s->tic ? sc_tic_cadence_ms(c->len) : s->cadence_ms;
	schedule(s, on_file);
}

/* The capture (raw or timestamped, maybe gzip), telegram by telegram. */
static int load_file(struct sc_source *s)
{
	char why[512];
	if (sc_capture_load(s->o.path, s->dev->cfg.protocol, s->dev->cfg.p1_flags, SC_SOURCE_FILE_MAX,
			    &s->cap, why, sizeof why) != 0) {
		sc_log(SC_LOG_ERROR, "source: %s", why);
		return -1;
	}
	if (s->cap.cut_short)
		sc_log(SC_LOG_WARN, "source: %s: the compressed data ends early (a recording cut short?); "
				    "replaying the %zu bytes there are", s->o.path, s->cap.len);
	s->tic = s->cap.proto == SC_PROTO_TIC;
	/* DSMR 4.x meters send every 10 s, DSMR 5 and e-MUCS every second. */
	s->cadence_ms = s->cap.dsmr42 ? 10000 : 1000;
	return 0;
}

/* ---- stdin and serial: bytes as they come ---- */

static void on_bytes(void *arg, int fd, short revents);

/* Pseudo-terminals (socat pty pairs, emulators) are not ports libserialport
 * knows: they are opened with termios directly, with the same line settings. */
static int open_pty(struct sc_source *s)
{
	int fd = open(s->o.path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		sc_log(s->reopening ? SC_LOG_DEBUG : SC_LOG_ERROR, "source: cannot open %s: %s",
		       s->o.path, strerror(errno));
		return -1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) != 0) {
		sc_log(SC_LOG_ERROR, "source: %s is not a serial port: %s", s->o.path, strerror(errno));
		close(fd);
		return -1;
	}
	cfmakeraw(&t);
	bool tic = s->o.tic_line;
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB);
	t.c_cflag |= (tic ? CS7 | PARENB : CS8) | CLOCAL | CREAD;
	cfsetispeed(&t, tic ? B9600 : B115200);
	cfsetospeed(&t, tic ? B9600 : B115200);
	tcsetattr(fd, TCSANOW, &t);
	s->fd = fd;
	sc_loop_add_fd(s->loop, fd, POLLIN, on_bytes, s);
	sc_log(SC_LOG_INFO, "source: %s open at %s (pseudo-terminal)", s->o.path,
	       tic ? "9600 7E1" : "115200 8N1");
	return 0;
}

static int open_serial(struct sc_source *s)
{
	struct sp_port *p;
	enum sp_return rc = sp_get_port_by_name(s->o.path, &p);
	if (rc == SP_ERR_ARG)
		return open_pty(s);
	if (rc != SP_OK) {
		sc_log(s->reopening ? SC_LOG_DEBUG : SC_LOG_ERROR, "source: no serial port %s",
		       s->o.path);
		return -1;
	}
	if (sp_open(p, SP_MODE_READ) != SP_OK) {
		char *msg = sp_last_error_message();
		sc_log(s->reopening ? SC_LOG_DEBUG : SC_LOG_ERROR, "source: cannot open %s: %s",
		       s->o.path, msg ? msg : "?");
		sp_free_error_message(msg);
		sp_free_port(p);
		return -1;
	}
	/* P1 DSMR 4.2+/e-MUCS: 115200 8N1; TIC standard mode: 9600 7E1. */
	bool tic = s->o.tic_line;
	sp_set_baudrate(p, tic ? 9600 : 115200);
	sp_set_bits(p, tic ? 7 : 8);
	sp_set_parity(p, tic ? SP_PARITY_EVEN : SP_PARITY_NONE);
	sp_set_stopbits(p, 1);
	sp_set_flowcontrol(p, SP_FLOWCONTROL_NONE);
	int fd;
	if (sp_get_port_handle(p, &fd) != SP_OK) {
		sp_close(p);
		sp_free_port(p);
		return -1;
	}
	s->port = p;
	s->fd = fd;
	sc_loop_add_fd(s->loop, fd, POLLIN, on_bytes, s);
	sc_log(SC_LOG_INFO, "source: %s open at %s", s->o.path, tic ? "9600 7E1" : "115200 8N1");
	return 0;
}

static void on_reopen(void *arg)
{
	struct sc_source *s = arg;
	s->timer = -1;
	s->reopening = true;
	if (open_serial(s) != 0)
		s->timer = sc_loop_add_timer(s->loop, sc_loop_now(s->loop) + 1000, on_reopen, s);
	else
		s->reopening = false;
}

static void close_serial(struct sc_source *s)
{
	if (s->o.kind != SC_SRC_SERIAL || s->fd < 0)
		return;
	sc_loop_del_fd(s->loop, s->fd);
	if (s->port) {
		sp_close(s->port);
		sp_free_port(s->port);
		s->port = NULL;
	} else {
		close(s->fd);
	}
	s->fd = -1;
}

static void on_bytes(void *arg, int fd, short revents)
{
	struct sc_source *s = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0) {
		sc_device_feed(s->dev, buf, (size_t)n, dev_now(s));
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && !(revents & (POLLHUP | POLLERR)))
		return;
	sc_device_input_end(s->dev, dev_now(s));
	if (s->o.kind == SC_SRC_SERIAL) {
		/* The adapter went away (unplugged, dongle restarted): wait for it. */
		sc_log(SC_LOG_WARN, "source: %s lost (%s); reopening every second", s->o.path,
		       n < 0 ? strerror(errno) : "hang-up");
		close_serial(s);
		s->timer = sc_loop_add_timer(s->loop, sc_loop_now(s->loop) + 1000, on_reopen, s);
		return;
	}
	sc_loop_del_fd(s->loop, fd);
	s->ended = true;
	sc_log(SC_LOG_INFO, "source: end of standard input%s",
	       s->o.exit_at_end ? "" : "; the last values stay served");
	if (s->o.exit_at_end)
		sc_loop_stop(s->loop);
}

struct sc_source *sc_source_start(struct sc_loop *loop, struct sc_device *dev,
				  const struct sc_clock *clock, const struct sc_source_opts *o)
{
	struct sc_source *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->loop = loop;
	s->dev = dev;
	s->clock = clock;
	s->o = *o;
	s->timer = -1;
	s->fd = -1;
	s->next_ms = sc_clock_now(clock, sc_loop_now(loop));
	switch (o->kind) {
	case SC_SRC_GEN:
		s->o.meter.start = s->next_ms / 1000;
		sc_meter_init(&s->meter, &s->o.meter);
		s->cadence_ms = o->flavour == SC_FLAVOUR_DSMR42 ? 10000 : 1000;
		if (o->flavour == SC_FLAVOUR_TIC)
			snprintf(s->desc, sizeof s->desc,
				 "gen:tic:%s (%d phase%s, seed %llu, frames at the 9600 baud pace)",
				 sc_profile_name(o->meter.profile), s->meter.phases,
				 s->meter.phases > 1 ? "s" : "", (unsigned long long)o->meter.seed);
		else
			snprintf(s->desc, sizeof s->desc, "gen:%s:%s (%d phase%s, seed %llu, every %lld s)",
				 sc_flavour_name(o->flavour), sc_profile_name(o->meter.profile),
				 s->meter.phases, s->meter.phases > 1 ? "s" : "",
				 (unsigned long long)o->meter.seed, (long long)(s->cadence_ms / 1000));
		if (o->phase_ms > 0) {
			s->next_ms += o->phase_ms;
			schedule(s, on_gen);
		} else {
			on_gen(s);
		}
		break;
	case SC_SRC_FILE:
		if (load_file(s) != 0)
			goto fail;
		if (s->tic)
			snprintf(s->desc, sizeof s->desc, "file:%s (%zu frames at the 9600 baud pace%s)",
				 o->path, s->cap.n, o->loop ? ", looped" : "");
		else
			snprintf(s->desc, sizeof s->desc, "file:%s (%zu telegrams, every %lld s%s)",
				 o->path, s->cap.n, (long long)(s->cadence_ms / 1000),
				 o->loop ? ", looped" : "");
		on_file(s);
		break;
	case SC_SRC_SERIAL:
		if (open_serial(s) != 0)
			goto fail;
		snprintf(s->desc, sizeof s->desc, "serial:%s (%s)", o->path,
			 o->tic_line ? "9600 7E1" : "115200 8N1");
		break;
	case SC_SRC_STDIN:
		s->fd = 0;
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
		sc_loop_add_fd(loop, 0, POLLIN, on_bytes, s);
		snprintf(s->desc, sizeof s->desc, "stdin");
		break;
	case SC_SRC_NONE:
		snprintf(s->desc, sizeof s->desc, "none (telegrams from a scenario or the control API)");
		break;
	}
	return s;
fail:
	sc_source_stop(s);
	return NULL;
}

void sc_source_stop(struct sc_source *s)
{
	if (!s)
		return;
	sc_loop_cancel_timer(s->loop, s->timer);
	close_serial(s);
	if (s->o.kind == SC_SRC_STDIN && !s->ended)
		sc_loop_del_fd(s->loop, 0);
	sc_capture_free(&s->cap);
	free(s);
}

const char *sc_source_describe(const struct sc_source *s)
{
	return s->desc;
}

int sc_source_meter_set(struct sc_source *s, const struct sc_meter_set *req, int64_t now_ms,
			char *why, size_t cap)
{
	if (!s || s->o.kind != SC_SRC_GEN) {
		snprintf(why, cap, "the meter source is %s: only the built-in meter (gen:) takes "
				   "values by hand", s ? s->desc : "none");
		return SC_ERR_UNSUPPORTED;
	}
	struct sc_meter_limits lim;
	if (s->o.flavour == SC_FLAVOUR_TIC)
		sc_tic_gen_limits(&s->o.tic, &lim);
	else if (sc_p1_gen_limits(s->o.flavour, &lim) != SC_OK)
		return SC_ERR_UNSUPPORTED;
	int rc = sc_meter_set(&s->meter, req, &lim, now_ms / 1000, why, cap);
	if (rc == SC_OK && s->paused) {
		s->paused = false;
		sc_log(SC_LOG_INFO, "source: the generated meter sends again");
	}
	return rc;
}

bool sc_source_pause(struct sc_source *s)
{
	if (!s || s->o.kind != SC_SRC_GEN)
		return false;
	if (!s->paused)
		sc_log(SC_LOG_INFO, "source: a telegram fed by hand: the generated meter holds its "
				    "telegrams until the next 'sc-ctl set' (or set --profile)");
	s->paused = true;
	return true;
}

bool sc_source_paused(const struct sc_source *s)
{
	return s && s->paused;
}

const struct sc_meter *sc_source_meter(const struct sc_source *s)
{
	return s && s->o.kind == SC_SRC_GEN ? &s->meter : NULL;
}
