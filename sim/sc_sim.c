/* sc-sim: the virtual Smart Connect. One process, one event loop: a meter
 * source feeds the device core, and the device serves what a real unit
 * serves (Modbus TCP today; MQTT and HTTP plug into the same loop).
 *
 *   sc-sim --modbus 127.0.0.1:1502                  synthetic DSMR 5 meter
 *   sc-sim --source file:capture.p1 --speed 10      replay a capture
 *   sc-sim --source serial:/dev/ttyUSB0             a real P1 cable */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "device.h"
#include "log.h"
#include "loop.h"
#include "modbus_server.h"
#include "sc_error.h"
#include "source.h"

#define EXIT_USAGE 2
#define EXIT_UNAVAILABLE 3 /* a port or a source could not be opened */
#define DEFAULT_FIRMWARE "5.2.0"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sc-sim [OPTIONS]\n"
		"A virtual Xemex Smart Connect: reads meter telegrams and serves them as the\n"
		"device does (Modbus TCP, emulating a Phoenix Contact EMpro meter).\n"
		"\n"
		"Meter source:\n"
		"  --source SPEC            gen:METER[:PROFILE]  built-in synthetic meter (default\n"
		"                             gen:dsmr50); METER dsmr42|dsmr50|emucs|tic,\n"
		"                             PROFILE household|pv|ev|pv-ev\n"
		"                           file:PATH  replay a capture at the meter's cadence\n"
		"                           serial:DEV a serial port (P1 115200 8N1, TIC 9600 7E1)\n"
		"                           stdin      bytes from standard input\n"
		"  --phases N               gen: 1 or 3 phases (default 3)\n"
		"  --seed N                 gen: seed of the meter model (default 1)\n"
		"  --producer               gen:tic: a producer meter\n"
		"  --calendar C             gen:tic: base | hchp | tempo\n"
		"  --loop                   file: start again at the end\n"
		"  --exit-at-end            file/stdin: exit when the input ends (default: keep\n"
		"                           serving the last values, as the device does)\n"
		"  --device p1|tic          the hardware variant (default: from the source)\n"
		"  --no-crc                 P1: the meter sends no CRC\n"
		"  --any-version            P1: accept meters older than DSMR 4.2\n"
		"  --no-data-timeout S      the meter counts as silent after S seconds without a\n"
		"                           telegram (default 3 x its cadence: 30 s DSMR 4.x, 3 s\n"
		"                           else); the last values stay served\n"
		"\n"
		"Clock:\n"
		"  --speed X                run the device clock X times faster (default 1)\n"
		"  --start EPOCH            device time at start, UTC (default: now)\n"
		"\n"
		"Modbus TCP:\n"
		"  --modbus ADDR:PORT       listen address (default 0.0.0.0:502; port 0 = any free)\n"
		"  --modbus-clients N       connections at a time, 1 as the device (default) to 4\n"
		"  --modbus-idle-timeout S  close a client silent for S seconds (default 60)\n"
		"  --word-order cdab|abcd   float word order (default cdab, as the device)\n"
		"  --firmware VERSION       firmware emulated (default " DEFAULT_FIRMWARE
		"; before 5.1\n"
		"                           energy is served in kWh)\n"
		"\n"
		"  --log-level LEVEL        error | warn | info | debug (default info)\n"
		"  -h, --help               this text\n"
		"\n"
		"Exit status: 0 after SIGINT/SIGTERM or the end of input with --exit-at-end,\n"
		"2 on usage errors, 3 when a port or the source cannot be opened.\n");
}

struct app {
	struct sc_device dev;
	struct sc_loop *loop;
	struct sc_clock clock;
	enum sc_meter_link link; /* as last logged */
	int link_timer;
};

/* The meter link is watched on the device clock: a timer at the moment the
 * last telegram becomes too old says so once; the next telegram says the
 * data is back. */
static void on_link_timer(void *arg)
{
	struct app *a = arg;
	a->link_timer = -1;
	int64_t now = sc_clock_now(&a->clock, sc_mono_ms());
	if (sc_device_link(&a->dev, now) == SC_LINK_NO_DATA && a->link != SC_LINK_NO_DATA) {
		a->link = SC_LINK_NO_DATA;
		sc_log(SC_LOG_WARN, "meter: no data for %g s; the last values stay served",
		       (double)sc_device_no_data_ms(&a->dev) / 1000.0);
	}
}

static void on_event(void *arg, const struct sc_tg_event *ev)
{
	struct app *a = arg;
	switch (ev->kind) {
	case SC_TG_OK:
		sc_log(SC_LOG_DEBUG, "telegram at offset %llu: P %.0f W",
		       (unsigned long long)ev->offset, ev->reading.q[SC_RQ_P].v);
		if (a->link == SC_LINK_NO_DATA)
			sc_log(SC_LOG_INFO, "meter: data again");
		a->link = SC_LINK_OK;
		sc_loop_cancel_timer(a->loop, a->link_timer);
		a->link_timer = sc_loop_add_timer(
			a->loop,
			sc_clock_mono_at(&a->clock, a->dev.reading_ms + sc_device_no_data_ms(&a->dev)),
			on_link_timer, a);
		break;
	case SC_TG_FAILED:
		sc_log(SC_LOG_WARN, "telegram at offset %llu rejected: %s at %llu: %s",
		       (unsigned long long)ev->offset, ev->name,
		       (unsigned long long)ev->error_offset, ev->detail);
		break;
	case SC_TG_GARBAGE:
		sc_log(SC_LOG_WARN, "%s at offset %llu", ev->detail, (unsigned long long)ev->offset);
		break;
	case SC_TG_NONE:
		break;
	}
}

/* "5.0.3" -> 50003; -1 when malformed. */
static long firmware_number(const char *v)
{
	long parts[3] = {0, 0, 0};
	int n = 0;
	const char *p = v;
	while (n < 3) {
		char *end;
		errno = 0;
		long x = strtol(p, &end, 10);
		if (end == p || errno || x < 0 || x > 99)
			return -1;
		parts[n++] = x;
		if (*end == '\0')
			break;
		if (*end != '.')
			return -1;
		p = end + 1;
	}
	return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

static int parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= hostlen || colon == s)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

static int number(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "sc-sim: %s: '%s' is not a number from %g to %g\n", opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"source", required_argument, NULL, 's'},
		{"phases", required_argument, NULL, 'P'},
		{"seed", required_argument, NULL, 'S'},
		{"producer", no_argument, NULL, 'o'},
		{"calendar", required_argument, NULL, 'C'},
		{"loop", no_argument, NULL, 'L'},
		{"exit-at-end", no_argument, NULL, 'x'},
		{"device", required_argument, NULL, 'd'},
		{"no-crc", no_argument, NULL, 'n'},
		{"any-version", no_argument, NULL, 'a'},
		{"speed", required_argument, NULL, 'v'},
		{"start", required_argument, NULL, 't'},
		{"no-data-timeout", required_argument, NULL, 'D'},
		{"modbus", required_argument, NULL, 'm'},
		{"modbus-clients", required_argument, NULL, 'c'},
		{"modbus-idle-timeout", required_argument, NULL, 'i'},
		{"word-order", required_argument, NULL, 'w'},
		{"firmware", required_argument, NULL, 'f'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sc_source_opts src = {
		.kind = SC_SRC_GEN,
		.flavour = SC_FLAVOUR_DSMR50,
		.meter = {SC_PROFILE_HOUSEHOLD, 3, 1, 0, 0, 0},
		.tic = {false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0},
	};
	const char *source_spec = "gen:dsmr50";
	struct sc_modbus_opts mb = {"0.0.0.0", 502, 1, 60};
	char mb_host[64] = "0.0.0.0";
	static struct app app = {.link_timer = -1};
	struct sc_device_config dc = {
		.protocol = SC_PROTO_AUTO,
		.regs = {SC_WORDS_CDAB, false},
		.on_event = on_event,
		.on_event_arg = &app,
	};
	const char *firmware = DEFAULT_FIRMWARE;
	int device = -1; /* -1 from the source, else enum sc_protocol */
	double speed = 1, d;
	int64_t start_ms = -1;
	char err[256];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			source_spec = optarg;
			if (sc_source_parse(optarg, &src, err, sizeof err) != 0) {
				fprintf(stderr, "sc-sim: --source: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "3") != 0) {
				fprintf(stderr, "sc-sim: --phases must be 1 or 3\n");
				return EXIT_USAGE;
			}
			src.meter.phases = optarg[0] - '0';
			break;
		case 'S':
			if (number("--seed", optarg, 0, 1e18, &d))
				return EXIT_USAGE;
			src.meter.seed = (uint64_t)d;
			break;
		case 'o':
			src.tic.producer = true;
			break;
		case 'C': {
			int cal = sc_tic_calendar_from_name(optarg);
			if (cal < 0) {
				fprintf(stderr, "sc-sim: --calendar: '%s' is not base, hchp or tempo\n",
					optarg);
				return EXIT_USAGE;
			}
			src.tic.calendar = (enum sc_tic_calendar)cal;
			break;
		}
		case 'L':
			src.loop = true;
			break;
		case 'x':
			src.exit_at_end = true;
			break;
		case 'd':
			device = sc_protocol_from_name(optarg);
			if (device != SC_PROTO_P1 && device != SC_PROTO_TIC) {
				fprintf(stderr, "sc-sim: --device: '%s' is not p1 or tic\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			dc.p1_flags |= SC_P1_NO_CRC;
			break;
		case 'a':
			dc.p1_flags |= SC_P1_ANY_VERSION;
			break;
		case 'v':
			if (number("--speed", optarg, 0.001, 100000, &speed))
				return EXIT_USAGE;
			break;
		case 't':
			if (number("--start", optarg, 0, 4102444800.0, &d))
				return EXIT_USAGE;
			start_ms = (int64_t)d * 1000;
			break;
		case 'D':
			if (number("--no-data-timeout", optarg, 0.001, 86400, &d))
				return EXIT_USAGE;
			dc.no_data_ms = (int64_t)(d * 1000);
			break;
		case 'm':
			if (parse_hostport(optarg, mb_host, sizeof mb_host, &mb.port) != 0) {
				fprintf(stderr, "sc-sim: --modbus: '%s' is not ADDR:PORT\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			if (number("--modbus-clients", optarg, 1, SC_MODBUS_MAX_CLIENTS, &d))
				return EXIT_USAGE;
			mb.max_clients = (int)d;
			break;
		case 'i':
			if (number("--modbus-idle-timeout", optarg, 1, 86400, &d))
				return EXIT_USAGE;
			mb.idle_timeout_s = (int)d;
			break;
		case 'w':
			if (strcmp(optarg, "cdab") == 0)
				dc.regs.order = SC_WORDS_CDAB;
			else if (strcmp(optarg, "abcd") == 0)
				dc.regs.order = SC_WORDS_ABCD;
			else {
				fprintf(stderr, "sc-sim: --word-order: '%s' is not cdab or abcd\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (firmware_number(optarg) < 0) {
				fprintf(stderr, "sc-sim: --firmware: '%s' is not a version like 5.1.2\n",
					optarg);
				return EXIT_USAGE;
			}
			firmware = optarg;
			break;
		case 'l': {
			int lv = sc_log_level_from_name(optarg);
			if (lv < 0) {
				fprintf(stderr, "sc-sim: --log-level: '%s' is not error, warn, info or debug\n",
					optarg);
				return EXIT_USAGE;
			}
			sc_log_set_level((enum sc_log_level)lv);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sc-sim: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	/* Firmware before 5.1.x served energy in kWh (manual §5.3). */
	dc.regs.energy_kwh = firmware_number(firmware) < 50100;
	if (device >= 0)
		dc.protocol = (enum sc_protocol)device;
	else if (src.kind == SC_SRC_GEN)
		dc.protocol = src.flavour == SC_FLAVOUR_TIC ? SC_PROTO_TIC : SC_PROTO_P1;
	else if (src.kind == SC_SRC_SERIAL)
		dc.protocol = SC_PROTO_P1;
	src.tic_line = dc.protocol == SC_PROTO_TIC;
	if (src.kind == SC_SRC_GEN && (src.flavour == SC_FLAVOUR_TIC) != (dc.protocol == SC_PROTO_TIC))
		sc_log(SC_LOG_WARN, "the %s meter does not match the %s device: its telegrams "
				    "will be rejected", sc_flavour_name(src.flavour),
		       sc_protocol_name(dc.protocol));

	struct sc_loop *loop = sc_loop_new();
	app.loop = loop;
	if (!loop || sc_device_init(&app.dev, &dc) != SC_OK) {
		fprintf(stderr, "sc-sim: out of memory\n");
		return 1;
	}
	struct sc_clock *clock = &app.clock;
	if (start_ms < 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		start_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	sc_clock_init(clock, start_ms, sc_mono_ms(), speed);

	mb.addr = mb_host;
	int merr;
	struct sc_modbus *modbus = sc_modbus_start(loop, &app.dev, &mb, &merr);
	if (!modbus) {
		if (merr == EACCES)
			sc_log(SC_LOG_ERROR,
			       "cannot listen on %s:%d: permission denied (ports below 1024 need "
			       "root or CAP_NET_BIND_SERVICE); choose another port, e.g. --modbus %s:1502",
			       mb_host, mb.port, mb_host);
		else if (merr == EADDRINUSE)
			sc_log(SC_LOG_ERROR,
			       "cannot listen on %s:%d: the port is in use; choose another with "
			       "--modbus ADDR:PORT (port 0 picks a free one)", mb_host, mb.port);
		else
			sc_log(SC_LOG_ERROR, "cannot listen on %s:%d: %s", mb_host, mb.port,
			       strerror(merr));
		sc_device_free(&app.dev);
		sc_loop_free(loop);
		return EXIT_UNAVAILABLE;
	}
	struct sc_source *source = sc_source_start(loop, &app.dev, clock, &src);
	if (!source) {
		sc_log(SC_LOG_ERROR, "cannot start the source %s", source_spec);
		sc_modbus_stop(modbus);
		sc_device_free(&app.dev);
		sc_loop_free(loop);
		return EXIT_UNAVAILABLE;
	}
	sc_log(SC_LOG_INFO,
	       "ready: modbus tcp %s:%d (%d client%s, idle timeout %d s, words %s, energy %s, "
	       "firmware %s); device %s; source %s; speed %g",
	       mb_host, sc_modbus_port(modbus), mb.max_clients, mb.max_clients > 1 ? "s" : "",
	       mb.idle_timeout_s, dc.regs.order == SC_WORDS_CDAB ? "CDAB" : "ABCD",
	       dc.regs.energy_kwh ? "kWh" : "Wh", firmware,
	       dc.protocol == SC_PROTO_AUTO ? "from the first bytes" : sc_protocol_name(dc.protocol),
	       sc_source_describe(source), speed);

	int signo = sc_loop_run(loop);
	if (signo > 0)
		sc_log(SC_LOG_INFO, "stopping on signal %d", signo);
	const struct sc_modbus_stats *st = sc_modbus_stats(modbus);
	sc_log(SC_LOG_INFO,
	       "telegrams: %llu ok, %llu failed, %llu framing; modbus: %llu requests, %llu "
	       "exceptions, %llu connections, %llu refused",
	       (unsigned long long)app.dev.counters.telegrams_pass,
	       (unsigned long long)app.dev.counters.telegrams_fail,
	       (unsigned long long)app.dev.counters.telegrams_frame_fail,
	       (unsigned long long)st->requests, (unsigned long long)st->exceptions,
	       (unsigned long long)st->connections, (unsigned long long)st->refused);
	sc_source_stop(source);
	sc_modbus_stop(modbus);
	sc_device_free(&app.dev);
	sc_loop_free(loop);
	return 0;
}
