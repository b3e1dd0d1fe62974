/* sc-telegram: generate, parse and check meter telegrams.
 *
 *   sc-telegram gen --protocol dsmr50 --count 10 --seed 7
 *   sc-telegram parse capture.p1            one power_instant JSON per line
 *   sc-telegram check capture.p1            summary only
 *   sc-telegram crc edited.p1 -o fixed.p1   checksums made right again
 *
 * A thin program around the core: every rule lives in sim/core. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meter.h"
#include "p1.h"
#include "p1_gen.h"
#include "payload.h"
#include "regmap.h"
#include "registers.h"
#include "sc_error.h"
#include "telegram.h"
#include "tg_fix.h"
#include "tic_gen.h"
#include "to_scenario.h"

#define EXIT_USAGE 2

static const char *prog = "sc-telegram";

/* The texts of man/help/sc-telegram*.txt, generated at build time. */
#include "help/sc-telegram.h"
#include "help/sc-telegram-gen.h"
#include "help/sc-telegram-parse.h"
#include "help/sc-telegram-check.h"
#include "help/sc-telegram-crc.h"

static void usage_parse(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "parse") == 0)
		usage_parse_cmd(f);
	else
		usage_check_cmd(f);
}

static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "%s: %s: invalid number '%s'\n", prog, opt, s);
		return SC_ERR_USAGE;
	}
	*out = v;
	return SC_OK;
}

static int parse_i64(const char *opt, const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "%s: %s: invalid number '%s'\n", prog, opt, s);
		return SC_ERR_USAGE;
	}
	*out = v;
	return SC_OK;
}

/* ---- gen ---- */

#define GEN_START_MIN 978307200LL  /* 2001-01-01T00:00:00Z */
#define GEN_START_MAX 4102444799LL /* 2099-12-31T23:59:59Z */

/* One telegram of the given protocol for the meter's state. */
static int gen_one(const struct sc_meter *m, enum sc_flavour flavour, bool faulty, int fault,
		   const struct sc_tic_gen_opts *tic, uint64_t fault_seed, char *buf, size_t cap)
{
	if (flavour == SC_FLAVOUR_TIC) {
		struct sc_tic_gen_opts o = *tic;
		o.fault = faulty ? (enum sc_tic_fault)fault : SC_TIC_FAULT_NONE;
		o.fault_seed = fault_seed;
		return sc_tic_gen(m, &o, buf, cap, NULL);
	}
	struct sc_p1_gen_opts o = {flavour, faulty ? (enum sc_p1_fault)fault : SC_P1_FAULT_NONE,
				   fault_seed};
	return sc_p1_gen(m, &o, buf, cap, NULL);
}

static int cmd_gen(int argc, char **argv)
{
	static const struct option opts[] = {
		{"protocol", required_argument, NULL, 'p'}, {"phases", required_argument, NULL, 'P'},
		{"profile", required_argument, NULL, 'r'},  {"count", required_argument, NULL, 'c'},
		{"start", required_argument, NULL, 's'},    {"interval", required_argument, NULL, 'i'},
		{"seed", required_argument, NULL, 'S'},     {"fault", required_argument, NULL, 'f'},
		{"fault-every", required_argument, NULL, 'e'}, {"realtime", no_argument, NULL, 'R'},
		{"producer", no_argument, NULL, 'o'},       {"calendar", required_argument, NULL, 'C'},
		{"tic-total", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sc_meter_config cfg = {SC_PROFILE_HOUSEHOLD, 3, 1, (int64_t)time(NULL), 0, 0};
	struct sc_tic_gen_opts tic = {false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, SC_TIC_TOTAL_SUM};
	enum sc_flavour flavour = SC_FLAVOUR_DSMR50;
	const char *fault_name = NULL;
	bool tic_only = false;
	uint64_t count = 10, interval = 0, every = 1, v;
	bool realtime = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			flavour = sc_flavour_from_name(optarg);
			if (flavour == SC_FLAVOUR_UNKNOWN) {
				fprintf(stderr, "%s gen: --protocol: '%s' is not dsmr42, dsmr50, emucs or tic\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			if (parse_u64("--phases", optarg, 3, &v) || (v != 1 && v != 3)) {
				fprintf(stderr, "%s gen: --phases must be 1 or 3\n", prog);
				return EXIT_USAGE;
			}
			cfg.phases = (int)v;
			break;
		case 'r': {
			int pr = sc_profile_from_name(optarg);
			if (pr < 0) {
				fprintf(stderr, "%s gen: --profile: unknown profile '%s' (household, pv, ev, pv-ev)\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			cfg.profile = (enum sc_profile)pr;
			break;
		}
		case 'c':
			if (parse_u64("--count", optarg, UINT64_MAX, &count))
				return EXIT_USAGE;
			break;
		case 's':
			/* P1 and TIC print two-digit years: 2001-2099 (2000 is the
			 * year of the meters' placeholder timestamps). */
			if (parse_i64("--start", optarg, &cfg.start))
				return EXIT_USAGE;
			if (cfg.start < GEN_START_MIN || cfg.start > GEN_START_MAX) {
				fprintf(stderr, "%s gen: --start: %s is outside 2001-2099 (%lld..%lld)\n",
					prog, optarg, (long long)GEN_START_MIN, (long long)GEN_START_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			if (parse_u64("--interval", optarg, 86400, &interval) || interval == 0) {
				fprintf(stderr, "%s gen: --interval must be 1..86400 seconds\n", prog);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			if (parse_u64("--seed", optarg, UINT64_MAX, &cfg.seed))
				return EXIT_USAGE;
			break;
		case 'f':
			fault_name = optarg;
			break;
		case 'e':
			if (parse_u64("--fault-every", optarg, UINT64_MAX, &every) || every == 0) {
				fprintf(stderr, "%s gen: --fault-every must be at least 1\n", prog);
				return EXIT_USAGE;
			}
			break;
		case 'R':
			realtime = true;
			break;
		case 'o':
			tic.producer = true;
			tic_only = true;
			break;
		case 'C': {
			int cal = sc_tic_calendar_from_name(optarg);
			if (cal < 0) {
				fprintf(stderr, "%s gen: --calendar: '%s' is not base, hchp or tempo\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			tic.calendar = (enum sc_tic_calendar)cal;
			tic_only = true;
			break;
		}
		case 'T': {
			int t = sc_tic_total_from_name(optarg);
			if (t < 0) {
				fprintf(stderr, "%s gen: --tic-total: '%s' is not sum or net\n", prog,
					optarg);
				return EXIT_USAGE;
			}
			tic.total = (enum sc_tic_total)t;
			tic_only = true;
			break;
		}
		case 'h':
			usage_gen(stdout);
			return 0;
		default:
			usage_gen(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s gen: unexpected argument '%s'\n", prog, argv[optind]);
		return EXIT_USAGE;
	}
	bool is_tic = flavour == SC_FLAVOUR_TIC;
	if (tic_only && !is_tic) {
		fprintf(stderr, "%s gen: --producer, --calendar and --tic-total need --protocol tic\n",
			prog);
		return EXIT_USAGE;
	}
	int fault = 0;
	if (fault_name) {
		fault = is_tic ? sc_tic_fault_from_name(fault_name) : sc_p1_fault_from_name(fault_name);
		if (fault < 0) {
			fprintf(stderr, "%s gen: --fault: unknown %s fault '%s' (%s)\n", prog,
				is_tic ? "TIC" : "P1", fault_name,
				is_tic ? "bad-checksum, truncated, garbage, bad-length, bit7, historic, oversize"
				       : "bad-crc, truncated, garbage, oversize");
			return EXIT_USAGE;
		}
	}
	static struct sc_meter m;
	static char buf[SC_P1_GEN_MAX > SC_TIC_GEN_MAX ? SC_P1_GEN_MAX : SC_TIC_GEN_MAX];
	sc_meter_init(&m, &cfg);
	if (interval == 0 && is_tic) {
		/* A Linky sends frame after frame: one takes its bytes' time at
		 * 9600 baud 7E1 plus the silence between frames (TIC.md). */
		int n = gen_one(&m, flavour, false, 0, &tic, 0, buf, sizeof buf);
		if (n < 0) {
			fprintf(stderr, "%s gen: %s\n", prog, sc_strerror(n));
			return 1;
		}
		interval = (uint64_t)(sc_tic_cadence_ms((size_t)n) + 999) / 1000;
	}
	if (interval == 0)
		interval = flavour == SC_FLAVOUR_DSMR42 ? 10 : 1;
	/* The last telegram's time must stay printable too. */
	uint64_t max_count = (uint64_t)(GEN_START_MAX - cfg.start) / interval + 1;
	if (count == 0 || count > max_count) {
		if (count != 0) {
			fprintf(stderr, "%s gen: --count: %llu telegrams every %llu s from %lld run past 2099\n",
				prog, (unsigned long long)count, (unsigned long long)interval,
				(long long)cfg.start);
			return EXIT_USAGE;
		}
		count = max_count;
	}

	struct timespec wall;
	clock_gettime(CLOCK_MONOTONIC, &wall);
	for (uint64_t i = 0; i < count; i++) {
		if (realtime && i > 0) {
			/* Telegram i is due interval * i after the first. */
			struct timespec due = wall;
			due.tv_sec += (time_t)(i * interval);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
				;
		}
		bool faulty = fault != 0 && i % every == every - 1;
		sc_meter_advance(&m, cfg.start + (int64_t)(i * interval));
		int n = gen_one(&m, flavour, faulty, fault, &tic,
				cfg.seed ^ (i * 0x9E3779B97F4A7C15ull), buf, sizeof buf);
		if (n < 0) {
			fprintf(stderr, "%s gen: %s\n", prog, sc_strerror(n));
			return 1;
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) != 0) {
			if (errno == EPIPE)
				return 0;
			fprintf(stderr, "%s gen: write error: %s\n", prog, strerror(errno));
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* ---- parse / check ---- */

enum out_format { OUT_JSON, OUT_REGISTERS, OUT_NONE };

struct kind_count {
	const char *name;
	uint64_t n;
};

struct parse_run {
	enum out_format format;
	struct sc_regmap_opts regopts;
	enum sc_protocol proto;
	unsigned flags;
	bool quiet_errors;     /* check: only count */
	uint64_t telegrams, ok, failed, garbage;
	struct kind_count kinds[16]; /* failures by kind, in order of appearance */
	uint64_t first_error_offset;
	const char *first_error_kind;
	uint64_t bad_groups[4];      /* TIC: checksum, length, syntax, bit7 */
	enum sc_protocol seen;       /* the protocol the input was read as */
};

static void print_registers(const struct sc_reading *r, const struct sc_regmap_opts *o,
			    uint64_t n)
{
	struct sc_regmap m;
	size_t count;
	const struct sc_regdef *defs = sc_regmap_defs(&count);

	sc_regmap_build(&m, r, o);
	printf("# telegram %" PRIu64 " ts %" PRId64 "\n", n, r->ts_set ? r->ts : (int64_t)0);
	for (size_t i = 0; i < count; i++) {
		const uint16_t *w = &m.w[defs[i].addr - SC_REGMAP_BASE];
		double v;
		bool set = sc_regmap_value(&defs[i], r, o, &v);
		const char *unit = defs[i].unit;
		if (o->energy_kwh && strcmp(unit, "Wh") == 0)
			unit = "kWh";
		printf("0x%04X %04X %04X %.9g%s%s %s%s\n", defs[i].addr, w[0], w[1],
		       (double)sc_words_to_float(w, o->order), *unit ? " " : "", unit,
		       defs[i].name, set ? "" : " (absent)");
	}
	printf("\n");
}

static void count_kind(struct parse_run *run, const char *name)
{
	for (size_t i = 0; i < sizeof run->kinds / sizeof run->kinds[0]; i++) {
		if (!run->kinds[i].name || strcmp(run->kinds[i].name, name) == 0) {
			run->kinds[i].name = name;
			run->kinds[i].n++;
			return;
		}
	}
}

static void handle(struct parse_run *run, const char *name, const struct sc_tg_event *ev)
{
	switch (ev->kind) {
	case SC_TG_NONE:
		return;
	case SC_TG_GARBAGE:
		run->garbage++;
		count_kind(run, ev->name);
		if (!run->quiet_errors)
			fprintf(stderr, "%s:%" PRIu64 ": garbage: %s\n", name, ev->offset, ev->detail);
		return;
	case SC_TG_FAILED:
		run->telegrams++;
		run->failed++;
		count_kind(run, ev->name);
		run->bad_groups[0] += (uint64_t)ev->bad_checksum;
		run->bad_groups[1] += (uint64_t)ev->bad_length;
		run->bad_groups[2] += (uint64_t)ev->bad_syntax;
		run->bad_groups[3] += (uint64_t)ev->bad_bit7;
		if (run->first_error_kind == NULL) {
			run->first_error_kind = ev->name;
			run->first_error_offset = ev->error_offset;
		}
		if (!run->quiet_errors)
			fprintf(stderr, "%s:%" PRIu64 ": %s: %s (telegram at offset %" PRIu64 ")\n",
				name, ev->error_offset, ev->name, ev->detail, ev->offset);
		return;
	case SC_TG_OK:
		break;
	}
	run->telegrams++;
	run->ok++;
	if (run->format == OUT_REGISTERS) {
		print_registers(&ev->reading, &run->regopts, run->ok);
	} else if (run->format == OUT_JSON) {
		char json[4096];
		const struct sc_payload_opts po = {run->regopts.energy_kwh};
		if (sc_payload_power_instant_text_as(&ev->reading, &po, json, sizeof json) > 0)
			puts(json);
	}
}

/* The mapping feed_mapped is reading, and where a read of it past the
 * file's end jumps back to: a file cut shorter by another program while it
 * is mapped raises SIGBUS at the first page past its new end. The handler
 * is installed only while a file is mapped and answers only while the
 * parser reads the mapping (armed); any other SIGBUS takes the default
 * action. */
static struct {
	const char *start;
	size_t len;
	volatile sig_atomic_t armed;
	const char *volatile fault; /* the address that faulted */
	sigjmp_buf back;
} mapped;

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	(void)uctx;
	const char *a = (const char *)si->si_addr;
	if (mapped.armed && a >= mapped.start && a < mapped.start + mapped.len) {
		mapped.armed = 0;
		mapped.fault = a;
		siglongjmp(mapped.back, 1);
	}
	/* Not the mapping's: on return the access faults again, to the
	 * default action. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	(void)sigaction(sig, &dfl, NULL);
}

/* The bytes of one mapped window (mapped.start .. + mapped.len, from skip)
 * through the parser. False when the file shrank under it: the parser was
 * then left in the middle of a feed (mapped.fault says where). */
static bool feed_window(struct parse_run *run, const char *name, struct sc_tg_stream *s,
			struct sc_tg_event *ev, size_t skip)
{
	if (sigsetjmp(mapped.back, 1) != 0)
		return false;
	const char *d = mapped.start + skip;
	size_t n = mapped.len - skip;
	while (n > 0) {
		mapped.armed = 1;
		size_t used = sc_tg_feed(s, d, n, ev);
		mapped.armed = 0;
		d += used;
		n -= used;
		handle(run, name, ev);
	}
	return true;
}

/* A regular file (a capture, or standard input redirected from one) is fed
 * to the parser straight from a mapping of it, a window at a time, rather
 * than copied into a buffer by read(2): from where fd stands to the size it
 * has now, leaving fd after that, so that the read(2) loop takes what is
 * appended meanwhile. Anything that cannot be mapped (a pipe, a terminal, a
 * serial port, an empty file) is left to the read(2) loop whole. Returns
 * false, reported, when the file shrank while being read: the stream is then
 * in the middle of a feed and is not to be fed or finished. */
static bool feed_mapped(struct parse_run *run, const char *name, int fd, struct sc_tg_stream *s,
			struct sc_tg_event *ev)
{
	const off_t window = (off_t)64 << 20;
	struct stat st;
	off_t at = lseek(fd, 0, SEEK_CUR);
	long page = sysconf(_SC_PAGESIZE);
	if (at < 0 || page <= 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || at >= st.st_size)
		return true;
	struct sigaction bus, old_bus;
	memset(&bus, 0, sizeof bus);
	bus.sa_sigaction = on_sigbus;
	bus.sa_flags = SA_SIGINFO;
	sigemptyset(&bus.sa_mask);
	if (sigaction(SIGBUS, &bus, &old_bus) != 0)
		return true; /* the read(2) loop reads it all */
	bool whole = true;
	while (at < st.st_size) {
		off_t base = at - at % page;
		size_t span = (size_t)(st.st_size - base < window ? st.st_size - base : window);
		void *m = mmap(NULL, span, PROT_READ, MAP_PRIVATE, fd, base);
		if (m == MAP_FAILED)
			break; /* the read(2) loop goes on from at */
		(void)posix_madvise(m, span, POSIX_MADV_SEQUENTIAL);
		mapped.start = m;
		mapped.len = span;
		whole = feed_window(run, name, s, ev, (size_t)(at - base));
		munmap(m, span);
		mapped.start = NULL;
		if (!whole) {
			/* Where it ends now, or where reading stopped if it has
			 * grown again since (the bytes of the page that held the
			 * new end read as zeros up to there). */
			off_t end = base + (off_t)(mapped.fault - (const char *)m);
			if (fstat(fd, &st) == 0 && st.st_size < end)
				end = st.st_size;
			fprintf(stderr, "%s: %s: file shrank while being read at byte %lld\n", prog,
				name, (long long)end);
			break;
		}
		at = base + (off_t)span;
		fflush(stdout);
	}
	(void)sigaction(SIGBUS, &old_bus, NULL);
	if (whole)
		(void)lseek(fd, at, SEEK_SET);
	return whole;
}

/* Parses one input; returns SC_OK, SC_ERR_IO or SC_ERR_NOMEM (reported). */
static int parse_stream(struct parse_run *run, const char *path)
{
	static char buf[65536];
	static struct sc_tg_event ev;
	bool is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "<stdin>" : path;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return SC_ERR_IO;
	}
	struct sc_tg_stream *s = sc_tg_stream_new(run->proto, run->flags);
	if (!s) {
		fprintf(stderr, "%s: out of memory\n", prog);
		if (!is_stdin)
			fclose(f);
		return SC_ERR_NOMEM;
	}
	/* TIC frames decoded against the last one (tic.h): a new history for
	 * each input. */
	static struct sc_tic_history tic_history;
	memset(&tic_history, 0, sizeof tic_history);
	s->tic_history = &tic_history;
	/* P1 telegrams decoded against the one before (p1.h): a new history
	 * for each input. */
	static struct sc_p1_history p1_history;
	memset(&p1_history, 0, sizeof p1_history);
	s->p1_history = &p1_history;
	int rc = SC_OK;
	int fd = fileno(f);
	/* A file that shrank while mapped left the parser in the middle of a
	 * feed: what it holds is not reported. */
	bool shrank = !feed_mapped(run, name, fd, s, &ev);
	if (shrank)
		rc = SC_ERR_IO;
	while (!shrank) {
		/* read(2), not fread: it returns what a pipe or serial port has
		 * now, so live input gives live output. */
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: %s: read error: %s\n", prog, name, strerror(errno));
			rc = SC_ERR_IO;
			break;
		}
		if (r == 0)
			break;
		const char *d = buf;
		size_t n = (size_t)r;
		while (n > 0) {
			size_t used = sc_tg_feed(s, d, n, &ev);
			d += used;
			n -= used;
			handle(run, name, &ev);
		}
		/* Before the next read may block. */
		fflush(stdout);
	}
	while (!shrank && sc_tg_finish(s, &ev) != SC_TG_NONE)
		handle(run, name, &ev);
	run->seen = s->proto;
	sc_tg_stream_free(s);
	if (!is_stdin)
		fclose(f);
	fflush(stdout);
	return rc;
}

static void print_check_summary(const char *name, const struct parse_run *r)
{
	printf("%s: %s telegrams: %" PRIu64 " ok: %" PRIu64 " failed: %" PRIu64, name,
	       r->seen == SC_PROTO_TIC ? "TIC" : "P1", r->telegrams, r->ok, r->failed);
	for (size_t i = 0; i < sizeof r->kinds / sizeof r->kinds[0] && r->kinds[i].name; i++)
		printf(" %s: %" PRIu64, r->kinds[i].name, r->kinds[i].n);
	/* TIC: the bad groups by kind; parity (bit7) apart from the rest, as
	 * it points at the line rather than the meter. */
	if (r->bad_groups[0] + r->bad_groups[1] + r->bad_groups[2] + r->bad_groups[3])
		printf(" bad-groups-by-kind: checksum %" PRIu64 " length %" PRIu64 " syntax %" PRIu64
		       " bit7 %" PRIu64, r->bad_groups[0], r->bad_groups[1], r->bad_groups[2],
		       r->bad_groups[3]);
	if (r->first_error_kind)
		printf(" first-error: %s at offset %" PRIu64, r->first_error_kind,
		       r->first_error_offset);
	printf("\n");
}

static int cmd_parse(int argc, char **argv, bool check)
{
	static const struct option opts[] = {
		{"protocol", required_argument, NULL, 'p'}, {"no-crc", no_argument, NULL, 'n'},
		{"any-version", no_argument, NULL, 'a'},    {"format", required_argument, NULL, 'f'},
		{"word-order", required_argument, NULL, 'w'}, {"energy-kwh", no_argument, NULL, 'k'},
		{"strict", no_argument, NULL, 's'},         {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = check ? "check" : "parse";
	struct parse_run run;
	bool strict = check;
	int c;

	memset(&run, 0, sizeof run);
	run.format = check ? OUT_NONE : OUT_JSON;
	run.quiet_errors = check;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			int pr = sc_protocol_from_name(optarg);
			if (pr < 0) {
				fprintf(stderr, "%s %s: --protocol: '%s' is not auto, p1 or tic\n", prog,
					cmd, optarg);
				return EXIT_USAGE;
			}
			run.proto = (enum sc_protocol)pr;
			break;
		}
		case 'n':
			run.flags |= SC_P1_NO_CRC;
			break;
		case 'a':
			run.flags |= SC_P1_ANY_VERSION;
			break;
		case 'f':
			if (check)
				goto bad;
			if (strcmp(optarg, "json") == 0)
				run.format = OUT_JSON;
			else if (strcmp(optarg, "registers") == 0)
				run.format = OUT_REGISTERS;
			else {
				fprintf(stderr, "%s parse: --format: '%s' is not json or registers\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'w':
			if (check)
				goto bad;
			if (strcmp(optarg, "cdab") == 0)
				run.regopts.order = SC_WORDS_CDAB;
			else if (strcmp(optarg, "abcd") == 0)
				run.regopts.order = SC_WORDS_ABCD;
			else {
				fprintf(stderr, "%s parse: --word-order: '%s' is not cdab or abcd\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'k':
			if (check)
				goto bad;
			run.regopts.energy_kwh = true;
			break;
		case 's':
			/* Strict reading; parse also exits 1 on a failed telegram
			 * (check always does). */
			run.flags |= SC_P1_STRICT;
			strict = true;
			break;
		case 'h':
			usage_parse(stdout, cmd);
			return 0;
		default:
		bad:
			usage_parse(stderr, cmd);
			return EXIT_USAGE;
		}
	}

	static char *stdin_only[] = {"-"};
	char **files = optind < argc ? argv + optind : stdin_only;
	int nfiles = optind < argc ? argc - optind : 1;
	struct parse_run total = run;
	bool io_error = false;
	for (int i = 0; i < nfiles; i++) {
		struct parse_run one = run;
		if (parse_stream(&one, files[i]) != SC_OK)
			io_error = true;
		if (check)
			print_check_summary(strcmp(files[i], "-") == 0 ? "<stdin>" : files[i], &one);
		total.telegrams += one.telegrams;
		total.ok += one.ok;
		total.failed += one.failed;
		total.garbage += one.garbage;
	}
	if (!check)
		fprintf(stderr, "telegrams: %" PRIu64 " ok: %" PRIu64 " failed: %" PRIu64 "\n",
			total.telegrams, total.ok, total.failed);
	else if (nfiles > 1)
		printf("total: telegrams: %" PRIu64 " ok: %" PRIu64 " failed: %" PRIu64 "\n",
		       total.telegrams, total.ok, total.failed);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s %s: write error on standard output: %s\n", prog, cmd,
			strerror(errno));
		return EXIT_USAGE;
	}
	if (io_error)
		return EXIT_USAGE;
	return strict && total.failed > 0 ? 1 : 0;
}

/* ---- crc ---- */

static int cmd_crc(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *outpath = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			usage_crc_cmd(stdout);
			return 0;
		default:
			usage_crc_cmd(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s crc: one FILE (or -) to fix\n", prog);
		usage_crc_cmd(stderr);
		return EXIT_USAGE;
	}
	const char *path = argv[optind];
	bool is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "<stdin>" : path;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s crc: %s: %s\n", prog, path, strerror(errno));
		return EXIT_USAGE;
	}
	/* A telegram file is small: read whole, up to 16 MB. */
	size_t cap = 16u << 20, len = 0;
	char *in = malloc(cap + 1);
	if (!in) {
		if (!is_stdin)
			fclose(f);
		fprintf(stderr, "%s crc: out of memory\n", prog);
		return EXIT_USAGE;
	}
	size_t r;
	while (len <= cap && (r = fread(in + len, 1, cap + 1 - len, f)) > 0)
		len += r;
	bool rerr = ferror(f);
	if (!is_stdin)
		fclose(f);
	if (rerr || len > cap) {
		fprintf(stderr, "%s crc: %s: %s\n", prog, name,
			rerr ? "read error" : "larger than 16 MB: not a telegram file");
		free(in);
		return EXIT_USAGE;
	}
	char *out = malloc(SC_TG_FIX_CAP(len));
	char why[256];
	struct sc_tg_fix_stats st;
	long n = out ? sc_tg_fix(in, len, out, SC_TG_FIX_CAP(len), &st, why, sizeof why)
		     : SC_ERR_NOMEM;
	free(in);
	if (n < 0) {
		if (n == SC_ERR_NOMEM)
			fprintf(stderr, "%s crc: out of memory\n", prog);
		else
			fprintf(stderr, "%s crc: %s: %s\n", prog, name, why);
		free(out);
		return n == SC_ERR_SYNTAX ? 1 : EXIT_USAGE;
	}
	FILE *o = outpath ? fopen(outpath, "wb") : stdout;
	if (!o) {
		fprintf(stderr, "%s crc: %s: %s\n", prog, outpath, strerror(errno));
		free(out);
		return EXIT_USAGE;
	}
	bool werr = fwrite(out, 1, (size_t)n, o) != (size_t)n;
	werr |= outpath ? fclose(o) != 0 : fflush(o) != 0;
	free(out);
	if (werr) {
		fprintf(stderr, "%s crc: %s: write error: %s\n", prog,
			outpath ? outpath : "standard output", strerror(errno));
		return EXIT_USAGE;
	}
	if (st.tic)
		fprintf(stderr, "%s crc: %s: %d frame%s, %d group%s, %d checksum%s rewritten\n", prog,
			name, st.telegrams, st.telegrams == 1 ? "" : "s", st.groups,
			st.groups == 1 ? "" : "s", st.changed, st.changed == 1 ? "" : "s");
	else
		fprintf(stderr, "%s crc: %s: %d telegram%s, %d CRC%s rewritten, %d line end%s made CR LF\n",
			prog, name, st.telegrams, st.telegrams == 1 ? "" : "s", st.changed,
			st.changed == 1 ? "" : "s", st.line_ends, st.line_ends == 1 ? "" : "s");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage_main(stdout);
		return 0;
	}
	if (strcmp(cmd, "gen") == 0)
		return cmd_gen(argc - 1, argv + 1);
	if (strcmp(cmd, "parse") == 0)
		return cmd_parse(argc - 1, argv + 1, false);
	if (strcmp(cmd, "check") == 0)
		return cmd_parse(argc - 1, argv + 1, true);
	if (strcmp(cmd, "to-scenario") == 0)
		return sc_cmd_to_scenario(argc - 1, argv + 1);
	if (strcmp(cmd, "crc") == 0)
		return cmd_crc(argc - 1, argv + 1);
	if (strcmp(cmd, "registers") == 0)
		return sc_cmd_registers(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	usage_main(stderr);
	return EXIT_USAGE;
}
