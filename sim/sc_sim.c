/* sc-sim: the virtual Smart Connect. One process, one event loop: a meter
 * source feeds the device core, and the device serves what a real unit
 * serves (Modbus TCP and MQTT; HTTP plugs into the same loop).
 *
 *   sc-sim --modbus 127.0.0.1:1502                  synthetic DSMR 5 meter
 *   sc-sim --source file:capture.p1 --speed 10      replay a capture
 *   sc-sim --source serial:/dev/ttyUSB0             a real P1 cable */
#include <arpa/inet.h>
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
#include "api.h"
#include "scenario_main.h"
#include "twin.h"
#include "fleet.h"
#include "password.h"
#include "router.h"
#include "ready.h"
#include "mdns.h"
#include "statefile.h"
#include <sys/resource.h>

#define EXIT_USAGE 2
#define EXIT_UNAVAILABLE 3 /* a port or a source could not be opened */
#define DEFAULT_FIRMWARE "5.2.0"
/* Where the servers listen unless told (--listen): this machine only. */
#define DEFAULT_LISTEN "127.0.0.1"

/* --ready-file: written once every port listens (ready.h). */
static const char *ready_path;

/* Says ready (ready.h): the file, systemd. Returns 0, or the exit code. */
static int announce_ready(const struct sc_ready *r)
{
	char why[300];
	if (sc_ready_announce(ready_path, r, why, sizeof why) != 0) {
		fprintf(stderr, "sc-sim: --ready-file: %s\n", why);
		return EXIT_UNAVAILABLE;
	}
	return 0;
}

/* --web-root DIR: the page at / is DIR/index.html, read once at start. */
#define SC_PAGE_MAX (4u << 20)
static int load_page(const char *dir, struct sc_twin_opts *to)
{
	char path[4096], why[4400];
	if (snprintf(path, sizeof path, "%s/index.html", dir) >= (int)sizeof path) {
		fprintf(stderr, "sc-sim: --web-root: path too long\n");
		return -1;
	}
	size_t len;
	char *page = sc_read_file(path, &len, why, sizeof why);
	if (!page) {
		fprintf(stderr, "sc-sim: --web-root: %s\n", why);
		return -1;
	}
	if (len > SC_PAGE_MAX) {
		fprintf(stderr, "sc-sim: --web-root: %s is %zu bytes; at most %u are served\n", path,
			len, SC_PAGE_MAX);
		free(page);
		return -1;
	}
	free((void *)to->page); /* a second --web-root wins */
	to->page = (const unsigned char *)page;
	to->page_len = len;
	return 0;
}

/* --mdns: the device advertised over mDNS through avahi-daemon (mdns.h). */
static bool mdns_on;
static const char *mdns_address; /* --mdns-address, or NULL */

/* One device, or every device of a fleet (one HTTP server, by path). NULL
 * without --mdns, or when there is no address to advertise (logged; sc-sim
 * goes on without mDNS). */
static struct sc_mdns *start_mdns(struct sc_loop *loop, const struct sc_twin_opts *to,
				  struct sc_twin *one, struct sc_fleet *fleet)
{
	if (!mdns_on)
		return NULL;
	const char *listen = to->http_addr ? to->http_addr : to->https_addr;
	char addr[INET_ADDRSTRLEN], why[200];
	if (sc_mdns_pick_address(listen, mdns_address, addr, sizeof addr, why, sizeof why) != 0) {
		sc_log(SC_LOG_ERROR, "mdns: %s; the device is not advertised", why);
		return NULL;
	}
	if (listen && strncmp(listen, "127.", 4) == 0)
		sc_log(SC_LOG_WARN, "mdns: %s is advertised but HTTP listens on %s only (--http "
				    "0.0.0.0:PORT is reached at that address)", addr, listen);
	static struct sc_mdns_device devs[SC_MDNS_MAX_DEVICES];
	static char fw[SC_MDNS_MAX_DEVICES][32];
	int n = fleet ? sc_fleet_size(fleet) : 1;
	for (int i = 0; i < n && i < SC_MDNS_MAX_DEVICES; i++) {
		struct sc_twin *t = fleet ? sc_fleet_twin(fleet, i) : one;
		sc_fw_format(&sc_twin_dongle(t)->fw.version, fw[i], sizeof fw[i]);
		devs[i] = (struct sc_mdns_device){sc_twin_serial(t), fw[i]};
	}
	struct sc_mdns_opts mo = {
		.address = addr,
		.http_port = fleet ? sc_fleet_http_port(fleet) : sc_twin_http_port(one),
		.https_port = fleet ? sc_fleet_https_port(fleet) : sc_twin_https_port(one),
		.model = to->dev.protocol == SC_PROTO_TIC ? "Smart Connect TIC"
			 : to->dev.protocol == SC_PROTO_P1 ? "Smart Connect P1" : "Smart Connect",
		.devices = devs,
		.n_devices = n,
		.fleet = fleet != NULL,
	};
	return sc_mdns_start(loop, &mo);
}

/* usage(FILE *): the text of man/help/sc-sim.txt, generated at build time. */
#include "help/sc-sim.h"

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

/* A listening address: dotted-quad IPv4 (the device's servers are IPv4 only)
 * and a port; ":PORT" leaves host empty (the --listen address). Anything
 * else is refused rather than read as "every address". */
static int parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= hostlen)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	struct in_addr a;
	if (colon != s && inet_pton(AF_INET, host, &a) != 1)
		return -1;
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


static int set_text(const char *opt, const char *v, char *dst, size_t cap)
{
	if (strlen(v) >= cap) {
		fprintf(stderr, "sc-sim: %s: longer than %zu bytes\n", opt, cap - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* A serial number names the device in topics, its hostname and SSID:
 * letters and digits only. */
static bool valid_serial(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SC_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

/* A fleet needs descriptors: per device its Modbus listener and its MQTT
 * connection, and some for Modbus and HTTP clients. The soft limit is
 * raised as far as needed (the hard one too where permitted). */
static int fds_for_fleet(long devices)
{
	rlim_t need = (rlim_t)devices * 2 + 256;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	struct rlimit want = {need, rl.rlim_max > need ? rl.rlim_max : need};
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		return 0;
	want.rlim_max = rl.rlim_max;
	want.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &want);
	fprintf(stderr, "sc-sim: --devices %ld needs about %llu file descriptors; this process may "
			"open %llu (ulimit -n); raise the limit, or run the fleet in shards (--device-offset)\n", devices,
		(unsigned long long)need, (unsigned long long)rl.rlim_max);
	return -1;
}

/* What the command line asks for. */
struct args {
	struct sc_twin_opts to;       /* the device's options (a fleet's: every device's) */
	struct sc_scenario_run scn;   /* --scenario and what goes with it */
	long devices;                 /* --devices */
	uint64_t offset;              /* --device-offset */
	bool profile_given, phases_given;
	double speed;                 /* --speed X */
	int64_t start_ms;             /* --start, -1: now */
};

/* The library's error as the exit status (see --help). */
static int exit_status(int err)
{
	return err == SC_ERR_NOMEM ? 1 : err == SC_ERR_USAGE ? 2 : EXIT_UNAVAILABLE;
}

/* The one serve/stop sequence of a device or a fleet (fo): start on a new
 * loop, say ready (log, --ready-file, systemd), advertise (--mdns), run until
 * a signal or the end of input, then withdraw, log the totals and stop. */
static int serve(const struct args *a, const struct sc_fleet_opts *fo)
{
	struct sc_loop *loop = sc_loop_new();
	if (!loop) {
		fprintf(stderr, "sc-sim: out of memory\n");
		return 1;
	}
	static struct sc_clock clock;
	int64_t start_ms = a->start_ms;
	if (start_ms < 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		start_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	sc_clock_init(&clock, start_ms, sc_loop_now(loop), a->speed);
	struct sc_twin *twin = NULL;
	struct sc_fleet *fleet = NULL;
	char why[1024];
	int rc = fo ? sc_fleet_start(loop, &clock, fo, &fleet, why, sizeof why)
		    : sc_twin_start(loop, &clock, &a->to, &twin, why, sizeof why);
	if (rc != SC_OK) {
		sc_log(SC_LOG_ERROR, "%s", why);
		sc_loop_free(loop);
		return exit_status(rc);
	}
	static char line[2048];
	struct sc_twin *first = fleet ? sc_fleet_twin(fleet, 0) : twin;
	if (fleet)
		sc_fleet_describe(fleet, line, sizeof line);
	else
		sc_twin_describe(twin, line, sizeof line);
	sc_log(SC_LOG_INFO, "ready: %s; speed %g", line, a->speed);
	struct sc_ready rd = {sc_twin_serial(first), fleet ? sc_fleet_size(fleet) : 1,
			      sc_twin_modbus_port(first),
			      fleet ? sc_fleet_http_port(fleet) : sc_twin_http_port(twin),
			      fleet ? sc_fleet_https_port(fleet) : sc_twin_https_port(twin), line};
	rc = announce_ready(&rd);
	if (rc == 0) {
		struct sc_mdns *mdns = start_mdns(loop, &a->to, twin, fleet);
		int signo = sc_loop_run(loop);
		if (signo > 0)
			sc_log(SC_LOG_INFO, "stopping on signal %d", signo);
		sc_ready_withdraw(ready_path);
		sc_mdns_stop(mdns);
		if (fleet)
			sc_fleet_summary(fleet, line, sizeof line);
		else
			sc_twin_summary(twin, line, sizeof line);
		sc_log(SC_LOG_INFO, "%s", line);
	}
	sc_fleet_stop(fleet);
	sc_twin_stop(twin);
	sc_loop_free(loop);
	return rc;
}

/* --devices N: the fleet's plan and its devices' options, then serve. */
static int run_fleet(const struct args *a)
{
	const struct sc_twin_opts *to = &a->to;
	static struct sc_fleet_opts fo;
	fo.plan.devices = (int)a->devices;
	fo.plan.offset = a->offset;
	if (sc_fleet_parse_serial(to->serial, &fo.plan.first_serial) != 0) {
		fprintf(stderr, "sc-sim: --serial-number: a fleet numbers its devices from a serial of "
				"12 hex digits, such as E8DB84000001 ('%s' is not)\n", to->serial);
		return EXIT_USAGE;
	}
	fo.plan.modbus_base_port = to->modbus.port;
	fo.plan.seed = to->src.meter.seed;
	fo.plan.fixed_profile = a->profile_given;
	fo.plan.profile = to->src.meter.profile;
	fo.plan.phases = a->phases_given ? to->src.meter.phases : 0;
	fo.plan.cadence_ms = to->src.flavour == SC_FLAVOUR_DSMR42 ? 10000 : 1000;
	char why[200];
	if (sc_fleet_plan_check(&fo.plan, why, sizeof why) != 0) {
		fprintf(stderr, "sc-sim: --devices: %s\n", why);
		return EXIT_USAGE;
	}
	if (fds_for_fleet(a->devices) != 0)
		return EXIT_UNAVAILABLE;
	fo.device = *to;
	fo.state_dir = to->state_dir;
	fo.device.state_dir = NULL;
	fo.http_addr = to->http_addr;
	fo.https_addr = to->https_addr;
	fo.http_port = to->http_port;
	fo.https_port = to->https_port;
	/* One password for the fleet: every device's page and API. */
	static char pw[16];
	if (!to->password && (to->http_addr || to->https_addr)) {
		if (sc_password_new(pw, sizeof pw, why, sizeof why) != SC_OK) {
			fprintf(stderr, "sc-sim: %s\n", why);
			return 1;
		}
		fo.device.password = pw;
		sc_log(SC_LOG_INFO, "http: login for every device: user / %s", pw);
	}
	return serve(a, &fo);
}

/* The command line into a; -1 to go on, else the exit status (0 after
 * --help). */
static int parse_options(int argc, char **argv, struct args *a)
{
	enum {
		O_MQTT = 256, O_MQTT_USER, O_MQTT_PW, O_PLAIN, O_SITE, O_SERIAL, O_CAFILE, O_CERT,
		O_KEY, O_CLIENT_ID, O_QOS, O_RETAIN, O_KEEPALIVE, O_RECONNECT, O_COUNTERS,
		O_EMPTY_SITE, O_HTTP, O_HTTPS, O_STATE, O_PASSWORD, O_SESSION, O_ECHO, O_PLAIN_API,
		O_POWER_UP, O_P1_OUT, O_RECORD, O_CONTROL, O_SCENARIO, O_EACH, O_DEVICES,
		O_OFFSET, O_BASE_PORT, O_READY, O_WEB_ROOT,
		O_MDNS, O_MDNS_ADDRESS, O_RECONNECT_MIN, O_LED_LINK_LOCAL, O_LISTEN,
		O_TIC_TOTAL, O_STRICT,
	};
	static const struct option opts[] = {
		{"source", required_argument, NULL, 's'},
		{"phases", required_argument, NULL, 'P'},
		{"seed", required_argument, NULL, 'S'},
		{"producer", no_argument, NULL, 'o'},
		{"calendar", required_argument, NULL, 'C'},
		{"tic-total", required_argument, NULL, O_TIC_TOTAL},
		{"loop", no_argument, NULL, 'L'},
		{"exit-at-end", no_argument, NULL, 'x'},
		{"device", required_argument, NULL, 'd'},
		{"no-crc", no_argument, NULL, 'n'},
		{"any-version", no_argument, NULL, 'a'},
		{"strict", no_argument, NULL, O_STRICT},
		{"no-data-timeout", required_argument, NULL, 'D'},
		{"speed", required_argument, NULL, 'v'},
		{"start", required_argument, NULL, 't'},
		{"modbus", required_argument, NULL, 'm'},
		{"modbus-clients", required_argument, NULL, 'c'},
		{"modbus-idle-timeout", required_argument, NULL, 'i'},
		{"word-order", required_argument, NULL, 'w'},
		{"firmware", required_argument, NULL, 'f'},
		{"mqtt", required_argument, NULL, O_MQTT},
		{"mqtt-user", required_argument, NULL, O_MQTT_USER},
		{"mqtt-password", required_argument, NULL, O_MQTT_PW},
		{"mqtt-plaintext-ok", no_argument, NULL, O_PLAIN},
		{"site", required_argument, NULL, O_SITE},
		{"serial-number", required_argument, NULL, O_SERIAL},
		{"cafile", required_argument, NULL, O_CAFILE},
		{"cert", required_argument, NULL, O_CERT},
		{"key", required_argument, NULL, O_KEY},
		{"mqtt-client-id", required_argument, NULL, O_CLIENT_ID},
		{"mqtt-qos", required_argument, NULL, O_QOS},
		{"mqtt-retain", no_argument, NULL, O_RETAIN},
		{"mqtt-keepalive", required_argument, NULL, O_KEEPALIVE},
		{"mqtt-reconnect-min", required_argument, NULL, O_RECONNECT_MIN},
		{"mqtt-reconnect-max", required_argument, NULL, O_RECONNECT},
		{"counters-interval", required_argument, NULL, O_COUNTERS},
		{"empty-site", required_argument, NULL, O_EMPTY_SITE},
		{"http", required_argument, NULL, O_HTTP},
		{"https", required_argument, NULL, O_HTTPS},
		{"state-dir", required_argument, NULL, O_STATE},
		{"password", required_argument, NULL, O_PASSWORD},
		{"session-idle", required_argument, NULL, O_SESSION},
		{"echo-secrets", no_argument, NULL, O_ECHO},
		{"http-api-plain", no_argument, NULL, O_PLAIN_API},
		{"power-up", no_argument, NULL, O_POWER_UP},
		{"p1-out", required_argument, NULL, O_P1_OUT},
		{"record", required_argument, NULL, O_RECORD},
		{"control", required_argument, NULL, O_CONTROL},
		{"scenario", required_argument, NULL, O_SCENARIO},
		{"each-telegram", no_argument, NULL, O_EACH},
		{"devices", required_argument, NULL, O_DEVICES},
		{"device-offset", required_argument, NULL, O_OFFSET},
		{"modbus-base-port", required_argument, NULL, O_BASE_PORT},
		{"ready-file", required_argument, NULL, O_READY},
		{"web-root", required_argument, NULL, O_WEB_ROOT},
		{"led-link-local", required_argument, NULL, O_LED_LINK_LOCAL},
		{"mdns", no_argument, NULL, O_MDNS},
		{"mdns-address", required_argument, NULL, O_MDNS_ADDRESS},
		{"listen", required_argument, NULL, O_LISTEN},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	a->to.src = (struct sc_source_opts){
		.kind = SC_SRC_GEN,
		.flavour = SC_FLAVOUR_DSMR50,
		.meter = {SC_PROFILE_HOUSEHOLD, 3, 1, 0, 0, 0},
		.tic = {false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, SC_TIC_TOTAL_SUM},
	};
	a->to.source_spec = "gen:dsmr50";
	a->to.modbus = (struct sc_modbus_opts){DEFAULT_LISTEN, 502, 1, 60};
	a->to.dev = (struct sc_device_config){.protocol = SC_PROTO_AUTO, .regs = {SC_WORDS_CDAB, false}};
	a->to.firmware = DEFAULT_FIRMWARE;
	snprintf(a->to.serial, sizeof a->to.serial, "E8DB84000001");
	sc_config_defaults(&a->to.factory);
	a->to.qos = 0;
	a->to.keepalive_s = 60;
	a->to.reconnect_min_ms = 1000;
	a->to.reconnect_max_ms = 10000;
	a->to.counters_interval_s = 60;
	/* Each server's address: its own option's, else --listen's (set at the
	 * end, once every option is read). */
	static char mb_host[64], http_host[64], https_host[64];
	static char listen_host[INET_ADDRSTRLEN] = DEFAULT_LISTEN;
	bool mb_given = false, http_given = false, https_given = false;
	a->to.route = sc_router_serve;
	a->to.http_addr = http_host;
	a->to.https_addr = https_host;
	a->to.http_port = 80;
	a->to.https_port = 443;
	a->to.session_idle_ms = 60000;
	int device = -1; /* -1 from the source, else enum sc_protocol */
	int control = -1; /* -1 auto: on when every HTTP address is a loopback one */
	bool mqtt_given = false;
	a->devices = 1;
	a->speed = 1;
	a->start_ms = -1;
	double d;
	char err[256];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->to.source_spec = optarg;
			a->profile_given = strncmp(optarg, "gen:", 4) == 0 && strchr(optarg + 4, ':');
			if (sc_source_parse(optarg, &a->to.src, err, sizeof err) != 0) {
				fprintf(stderr, "sc-sim: --source: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "3") != 0) {
				fprintf(stderr, "sc-sim: --phases must be 1 or 3\n");
				return EXIT_USAGE;
			}
			a->to.src.meter.phases = optarg[0] - '0';
			a->phases_given = true;
			break;
		case 'S':
			if (number("--seed", optarg, 0, 1e18, &d))
				return EXIT_USAGE;
			a->to.src.meter.seed = (uint64_t)d;
			break;
		case 'o':
			a->to.src.tic.producer = true;
			break;
		case 'C': {
			int cal = sc_tic_calendar_from_name(optarg);
			if (cal < 0) {
				fprintf(stderr, "sc-sim: --calendar: '%s' is not base, hchp or tempo\n",
					optarg);
				return EXIT_USAGE;
			}
			a->to.src.tic.calendar = (enum sc_tic_calendar)cal;
			break;
		}
		case O_TIC_TOTAL: {
			int t = sc_tic_total_from_name(optarg);
			if (t < 0) {
				fprintf(stderr, "sc-sim: --tic-total: '%s' is not sum or net\n", optarg);
				return EXIT_USAGE;
			}
			a->to.src.tic.total = (enum sc_tic_total)t;
			break;
		}
		case 'L':
			a->to.src.loop = true;
			break;
		case 'x':
			a->to.src.exit_at_end = true;
			break;
		case 'd':
			device = sc_protocol_from_name(optarg);
			if (device != SC_PROTO_P1 && device != SC_PROTO_TIC) {
				fprintf(stderr, "sc-sim: --device: '%s' is not p1 or tic\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			a->to.dev.p1_flags |= SC_P1_NO_CRC;
			break;
		case 'a':
			a->to.dev.p1_flags |= SC_P1_ANY_VERSION;
			break;
		case O_STRICT:
			a->to.dev.p1_flags |= SC_P1_STRICT;
			break;
		case 'D':
			if (number("--no-data-timeout", optarg, 0.001, 86400, &d))
				return EXIT_USAGE;
			a->to.dev.no_data_ms = (int64_t)(d * 1000);
			break;
		case 'v':
			if (strcmp(optarg, "max") == 0) {
				a->scn.speed_max = true;
				break;
			}
			a->scn.speed_max = false;
			if (number("--speed", optarg, 0.001, 100000, &a->speed))
				return EXIT_USAGE;
			break;
		case O_SCENARIO:
			a->scn.path = optarg;
			break;
		case O_EACH:
			a->scn.each_telegram = true;
			break;
		case O_DEVICES:
			if (number("--devices", optarg, 1, SC_FLEET_MAX, &d))
				return EXIT_USAGE;
			if (d != (double)(long)d) {
				fprintf(stderr, "sc-sim: --devices: '%s' is not a whole number\n", optarg);
				return EXIT_USAGE;
			}
			a->devices = (long)d;
			break;
		case O_OFFSET:
			if (number("--device-offset", optarg, 0, (double)SC_SERIAL_MAX_VALUE, &d))
				return EXIT_USAGE;
			if (d != (double)(uint64_t)d) {
				fprintf(stderr, "sc-sim: --device-offset: '%s' is not a whole number\n",
					optarg);
				return EXIT_USAGE;
			}
			a->offset = (uint64_t)d;
			break;
		case O_BASE_PORT:
			if (number("--modbus-base-port", optarg, 0, 65535, &d))
				return EXIT_USAGE;
			a->to.modbus.port = (int)d;
			break;
		case 't':
			if (number("--start", optarg, 0, 4102444800.0, &d))
				return EXIT_USAGE;
			a->start_ms = (int64_t)d * 1000;
			break;
		case 'm':
			if (parse_hostport(optarg, mb_host, sizeof mb_host, &a->to.modbus.port) != 0) {
				fprintf(stderr, "sc-sim: --modbus: '%s' is not ADDR:PORT or :PORT\n", optarg);
				return EXIT_USAGE;
			}
			mb_given = true;
			break;
		case 'c':
			if (number("--modbus-clients", optarg, 1, SC_MODBUS_MAX_CLIENTS, &d))
				return EXIT_USAGE;
			a->to.modbus.max_clients = (int)d;
			break;
		case 'i':
			if (number("--modbus-idle-timeout", optarg, 1, 86400, &d))
				return EXIT_USAGE;
			a->to.modbus.idle_timeout_s = (int)d;
			break;
		case 'w':
			if (strcmp(optarg, "cdab") == 0)
				a->to.dev.regs.order = SC_WORDS_CDAB;
			else if (strcmp(optarg, "abcd") == 0)
				a->to.dev.regs.order = SC_WORDS_ABCD;
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
			a->to.firmware = optarg;
			a->to.given |= SC_GIVEN_FIRMWARE;
			break;
		case O_MQTT:
			mqtt_given = true;
			if (strcmp(optarg, "off") == 0) {
				a->to.mqtt_off = true;
				a->to.given &= ~(unsigned)SC_GIVEN_BROKER;
				break;
			}
			if (!sc_config_valid_broker(optarg, err, sizeof err)) {
				fprintf(stderr, "sc-sim: --mqtt: '%s': %s\n", optarg, err);
				return EXIT_USAGE;
			}
			a->to.mqtt_off = false;
			a->to.factory.mqtt_enabled = true;
			/* Named on the command line: dialled, even the vendor's cloud. */
			a->to.dial_factory_broker = sc_twin_is_factory_broker(optarg);
			a->to.given |= SC_GIVEN_BROKER;
			set_text("--mqtt", optarg, a->to.factory.broker, sizeof a->to.factory.broker);
			break;
		case O_MQTT_USER:
			if (!sc_config_valid_mqtt_user(optarg, err, sizeof err)) {
				fprintf(stderr, "sc-sim: --mqtt-user: %s\n", err);
				return EXIT_USAGE;
			}
			if (set_text("--mqtt-user", optarg, a->to.factory.username, sizeof a->to.factory.username))
				return EXIT_USAGE;
			a->to.given |= SC_GIVEN_MQTT_USER;
			break;
		case O_MQTT_PW:
			if (set_text("--mqtt-password", optarg, a->to.factory.password,
				     sizeof a->to.factory.password))
				return EXIT_USAGE;
			a->to.given |= SC_GIVEN_MQTT_PASSWORD;
			break;
		case O_PLAIN:
			a->to.plaintext_ok = true;
			break;
		case O_SITE:
			if (!sc_config_valid_site(optarg, err, sizeof err)) {
				fprintf(stderr, "sc-sim: --site: %s\n", err);
				return EXIT_USAGE;
			}
			set_text("--site", optarg, a->to.factory.site, sizeof a->to.factory.site);
			a->to.given |= SC_GIVEN_SITE;
			break;
		case O_SERIAL:
			if (!valid_serial(optarg)) {
				fprintf(stderr, "sc-sim: --serial-number: '%s' is not 1-%d letters and "
						"digits\n", optarg, SC_SERIAL_MAX);
				return EXIT_USAGE;
			}
			set_text("--serial-number", optarg, a->to.serial, sizeof a->to.serial);
			break;
		case O_CAFILE:
			a->to.cafile = optarg;
			break;
		case O_CERT:
			a->to.certfile = optarg;
			break;
		case O_KEY:
			a->to.keyfile = optarg;
			break;
		case O_CLIENT_ID:
			if (!*optarg || strlen(optarg) > 65535) {
				fprintf(stderr, "sc-sim: --mqtt-client-id: empty\n");
				return EXIT_USAGE;
			}
			a->to.client_id = optarg;
			break;
		case O_QOS:
			if (strcmp(optarg, "0") != 0 && strcmp(optarg, "1") != 0) {
				fprintf(stderr, "sc-sim: --mqtt-qos must be 0 or 1\n");
				return EXIT_USAGE;
			}
			a->to.qos = optarg[0] - '0';
			break;
		case O_RETAIN:
			a->to.retain = true;
			break;
		case O_KEEPALIVE:
			if (number("--mqtt-keepalive", optarg, 5, 65535, &d))
				return EXIT_USAGE;
			a->to.keepalive_s = (int)d;
			break;
		case O_RECONNECT:
			if (number("--mqtt-reconnect-max", optarg, 0.1, 3600, &d))
				return EXIT_USAGE;
			a->to.reconnect_max_ms = (int)(d * 1000);
			break;
		case O_RECONNECT_MIN:
			if (number("--mqtt-reconnect-min", optarg, 0.1, 3600, &d))
				return EXIT_USAGE;
			a->to.reconnect_min_ms = (int)(d * 1000);
			break;
		case O_LED_LINK_LOCAL:
			if (strcmp(optarg, "no-ip") == 0)
				a->to.led_link_local_normal = false;
			else if (strcmp(optarg, "normal") == 0)
				a->to.led_link_local_normal = true;
			else {
				fprintf(stderr, "sc-sim: --led-link-local: '%s' is not no-ip or normal\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case O_COUNTERS:
			if (number("--counters-interval", optarg, 0, 86400, &d))
				return EXIT_USAGE;
			a->to.counters_interval_s = (int)d;
			break;
		case O_EMPTY_SITE:
			if (strcmp(optarg, "omit") == 0)
				a->to.topic_site = SC_TOPIC_SITE_OMIT;
			else if (strcmp(optarg, "empty") == 0)
				a->to.topic_site = SC_TOPIC_SITE_EMPTY;
			else {
				fprintf(stderr, "sc-sim: --empty-site: '%s' is not omit or empty\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_HTTP:
		case O_HTTPS: {
			char *host = c == O_HTTP ? http_host : https_host;
			int *port = c == O_HTTP ? &a->to.http_port : &a->to.https_port;
			const char **addr = c == O_HTTP ? &a->to.http_addr : &a->to.https_addr;
			if (strcmp(optarg, "off") == 0) {
				*addr = NULL;
				break;
			}
			if (parse_hostport(optarg, host, 64, port) != 0) {
				fprintf(stderr, "sc-sim: --%s: '%s' is not ADDR:PORT, :PORT or off\n",
					c == O_HTTP ? "http" : "https", optarg);
				return EXIT_USAGE;
			}
			*addr = host;
			*(c == O_HTTP ? &http_given : &https_given) = true;
			break;
		}
		case O_LISTEN: {
			struct in_addr ia;
			if (strlen(optarg) >= sizeof listen_host || inet_pton(AF_INET, optarg, &ia) != 1) {
				fprintf(stderr, "sc-sim: --listen: '%s' is not an IPv4 address such as "
						"127.0.0.1 or 0.0.0.0\n", optarg);
				return EXIT_USAGE;
			}
			memcpy(listen_host, optarg, strlen(optarg) + 1);
			break;
		}
		case O_STATE:
			a->to.state_dir = optarg;
			break;
		case O_PASSWORD: {
			size_t n = strlen(optarg);
			bool ok = n >= 1 && n <= SC_API_PASSWORD_MAX;
			for (size_t k = 0; ok && k < n; k++)
				ok = optarg[k] >= 0x20 && optarg[k] < 0x7F;
			if (!ok) {
				fprintf(stderr, "sc-sim: --password: 1-%d printable ASCII characters\n",
					SC_API_PASSWORD_MAX);
				return EXIT_USAGE;
			}
			a->to.password = optarg;
			break;
		}
		case O_SESSION:
			if (number("--session-idle", optarg, 1, 86400, &d))
				return EXIT_USAGE;
			a->to.session_idle_ms = (int64_t)(d * 1000);
			break;
		case O_ECHO:
			a->to.echo_secrets = true;
			break;
		case O_PLAIN_API:
			a->to.plain_http_api = true;
			break;
		case O_POWER_UP:
			a->to.power_up = true;
			break;
		case O_P1_OUT:
			a->to.p1_out = strncmp(optarg, "serial:", 7) == 0 ? optarg + 7 : optarg;
			if (!*a->to.p1_out) {
				fprintf(stderr, "sc-sim: --p1-out: a serial port or pty is expected\n");
				return EXIT_USAGE;
			}
			break;
		case O_RECORD:
			if (!*optarg) {
				fprintf(stderr, "sc-sim: --record: a file name is expected\n");
				return EXIT_USAGE;
			}
			a->to.record = optarg;
			break;
		case O_CONTROL:
			if (strcmp(optarg, "on") == 0)
				control = 1;
			else if (strcmp(optarg, "off") == 0)
				control = 0;
			else if (strcmp(optarg, "auto") == 0)
				control = -1;
			else {
				fprintf(stderr, "sc-sim: --control: '%s' is not on, off or auto\n", optarg);
				return EXIT_USAGE;
			}
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
		case O_WEB_ROOT:
			if (load_page(optarg, &a->to) != 0)
				return EXIT_UNAVAILABLE;
			break;
		case O_READY:
			if (!*optarg) {
				fprintf(stderr, "sc-sim: --ready-file: a file name is expected\n");
				return EXIT_USAGE;
			}
			ready_path = optarg;
			break;
		case O_MDNS:
			mdns_on = true;
			break;
		case O_MDNS_ADDRESS: {
			char addr[INET_ADDRSTRLEN], why[200];
			if (sc_mdns_pick_address(NULL, optarg, addr, sizeof addr, why, sizeof why) != 0) {
				fprintf(stderr, "sc-sim: --mdns-address: %s\n", why);
				return EXIT_USAGE;
			}
			mdns_address = optarg;
			mdns_on = true;
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
	if (!a->to.certfile != !a->to.keyfile) {
		fprintf(stderr, "sc-sim: --cert and --key go together\n");
		return EXIT_USAGE;
	}
	if (device >= 0)
		a->to.dev.protocol = (enum sc_protocol)device;
	else if (a->to.src.kind == SC_SRC_GEN)
		a->to.dev.protocol = a->to.src.flavour == SC_FLAVOUR_TIC ? SC_PROTO_TIC : SC_PROTO_P1;
	else if (a->to.src.kind == SC_SRC_SERIAL)
		a->to.dev.protocol = SC_PROTO_P1;
	a->to.src.tic_line = a->to.dev.protocol == SC_PROTO_TIC;
	if (a->to.src.kind == SC_SRC_GEN &&
	    (a->to.src.flavour == SC_FLAVOUR_TIC) != (a->to.dev.protocol == SC_PROTO_TIC))
		sc_log(SC_LOG_WARN, "the %s meter does not match the %s device: its telegrams "
				    "will be rejected", sc_flavour_name(a->to.src.flavour),
		       sc_protocol_name(a->to.dev.protocol));
	/* A server without an address of its own (no option, or ":PORT")
	 * listens on --listen's. */
	if (!mb_given || !mb_host[0])
		memcpy(mb_host, listen_host, sizeof listen_host);
	if (!http_given || !http_host[0])
		memcpy(http_host, listen_host, sizeof listen_host);
	if (!https_given || !https_host[0])
		memcpy(https_host, listen_host, sizeof listen_host);
	a->to.modbus.addr = mb_host;
	/* The control API drives the twin without a password: beyond loopback
	 * only when asked for. */
	bool loopback = (!a->to.http_addr || strncmp(a->to.http_addr, "127.", 4) == 0) &&
			(!a->to.https_addr || strncmp(a->to.https_addr, "127.", 4) == 0);
	a->to.control = control < 0 ? loopback : control == 1;
	if (a->to.control && !loopback)
		sc_log(SC_LOG_WARN, "the control API (/sim/v1) answers without a password on %s",
		       a->to.https_addr ? a->to.https_addr : a->to.http_addr);
	a->to.seed = a->to.src.meter.seed;

	a->scn.speed = a->speed;
	a->scn.ready_file = ready_path;
	a->scn.mqtt_off = mqtt_given && a->to.mqtt_off;
	a->scn.mqtt_url = mqtt_given && !a->to.mqtt_off ? a->to.factory.broker : NULL;
	return -1;
}

/* Which of the three ways to run: a fleet, a scenario, or one device; -1
 * when the options go together, else the exit status. */
static int check_mode(const struct args *a)
{
	const struct sc_twin_opts *to = &a->to;
	if (a->devices > 1 || a->offset > 0) {
		const char *why = a->scn.path		      ? "--scenario drives one device"
				  : a->scn.speed_max	      ? "--speed max runs a scenario only"
				  : a->scn.each_telegram      ? "--each-telegram goes with --scenario"
				  : to->src.kind != SC_SRC_GEN && to->src.kind != SC_SRC_NONE
					  ? "a fleet's devices have built-in meters (--source gen:...) "
					    "or none"
				  : to->p1_out		      ? "--p1-out repeats one device's meter"
				  : to->record		      ? "--record records one device's meter"
				  : to->client_id	      ? "--mqtt-client-id names one device; "
								"a fleet's are their serials"
				  : to->certfile	      ? "--cert is one device's certificate"
							      : NULL;
		if (why) {
			fprintf(stderr, "sc-sim: --devices: %s\n", why);
			return EXIT_USAGE;
		}
		if (mdns_on && a->devices > SC_MDNS_MAX_DEVICES) {
			fprintf(stderr, "sc-sim: --mdns advertises a fleet of at most %d devices, not %ld "
					"(run the others as a shard without --mdns)\n", SC_MDNS_MAX_DEVICES,
				a->devices);
			return EXIT_USAGE;
		}
		return -1;
	}
	if (a->scn.path && mdns_on) {
		fprintf(stderr, "sc-sim: --mdns advertises a running device, not a scenario's\n");
		return EXIT_USAGE;
	}
	if (a->scn.path)
		return -1;
	if (a->scn.speed_max) {
		fprintf(stderr, "sc-sim: --speed max runs a scenario (--scenario FILE) only\n");
		return EXIT_USAGE;
	}
	if (a->scn.each_telegram) {
		fprintf(stderr, "sc-sim: --each-telegram goes with --scenario FILE\n");
		return EXIT_USAGE;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static struct args a;
	int rc = parse_options(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (ready_path) {
		char why[300];
		if (sc_ready_clear(ready_path, why, sizeof why) != 0) {
			fprintf(stderr, "sc-sim: --ready-file: %s\n", why);
			return EXIT_UNAVAILABLE;
		}
	}
	if ((rc = check_mode(&a)) >= 0)
		return rc;
	if (a.devices > 1 || a.offset > 0)
		return run_fleet(&a);
	if (a.scn.path)
		return sc_scenario_main(&a.scn, &a.to);
	return serve(&a, NULL);
}
