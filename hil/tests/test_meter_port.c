/* The meter emulator's port (meter_port.h) on pseudo-terminals: line
 * settings parsed and refused, the bytes as written, the pacing it keeps
 * (its own record of each telegram's line time), Data Request low, high
 * and dropping mid-telegram, a port without modem lines, and the port
 * going away and coming back behind the same link. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meter_port.h"

static char why[600];

/* ---- line settings ---- */

Test(line, parses_the_usual_forms)
{
	struct sc_line l;
	cr_assert_eq(sc_line_parse("115200,8N1", &l, why, sizeof why), 0, "%s", why);
	cr_assert(l.baud == 115200 && l.bits == 8 && l.parity == 'N' && l.stop == 1);
	cr_assert_eq(sc_line_parse("9600-7e1", &l, why, sizeof why), 0, "%s", why);
	cr_assert(l.baud == 9600 && l.bits == 7 && l.parity == 'E' && l.stop == 1);
	cr_assert_eq(sc_line_parse("1200,7O2", &l, why, sizeof why), 0, "%s", why);
	cr_assert(l.parity == 'O' && l.stop == 2);
	char buf[32];
	sc_line_format(&l, buf, sizeof buf);
	cr_assert_str_eq(buf, "1200,7O2");
}

Test(line, refuses_malformed_settings_saying_what_is_wrong)
{
	static const struct {
		const char *spec, *says;
	} bad[] = {
		{"", "the rate must be"},          {"abc", "the rate must be"},
		{"115200", "give rate and format"}, {"115200,", "the format is"},
		{"115200,9N1", "the format is"},    {"115200,4N1", "the format is"},
		{"115200,8X1", "the format is"},    {"115200,8N3", "the format is"},
		{"115200,8N", "the format is"},     {"115200,8N11", "the format is"},
		{"1199,8N1", "the rate must be"},   {"4000001,8N1", "the rate must be"},
		{"-9600,8N1", "the rate must be"},  {"99999999999999999999,8N1", "the rate must be"},
		{"9600;8N1", "give rate and format"}, {"9600,8\0N1", "the format is"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sc_line l = {1, 1, '?', 9};
		why[0] = '\0';
		cr_assert_eq(sc_line_parse(bad[i].spec, &l, why, sizeof why), -1, "'%s' taken", bad[i].spec);
		cr_assert(strstr(why, bad[i].says), "'%s': %s", bad[i].spec, why);
		cr_assert_eq(l.baud, 1, "'%s' changed the line", bad[i].spec);
	}
}

Test(line, character_time_and_the_protocols_lines)
{
	struct sc_line p1 = sc_line_for(false), tic = sc_line_for(true);
	cr_assert(p1.baud == 115200 && p1.bits == 8 && p1.parity == 'N' && p1.stop == 1);
	cr_assert(tic.baud == 9600 && tic.bits == 7 && tic.parity == 'E' && tic.stop == 1);
	/* 10 bits a character for both: start, 8 or 7 + parity, stop. */
	cr_assert_float_eq(sc_line_char_s(&p1), 10.0 / 115200, 1e-12);
	cr_assert_float_eq(sc_line_char_s(&tic), 10.0 / 9600, 1e-12);
	struct sc_line two = {9600, 8, 'O', 2};
	cr_assert_float_eq(sc_line_char_s(&two), 12.0 / 9600, 1e-12);
}

Test(line, data_request_names)
{
	enum sc_data_request d;
	const char *names[] = {"none", "cts", "dsr", "dcd", "ri"};
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(sc_data_request_parse(names[i], &d), 0);
		cr_assert_eq((int)d, i);
		cr_assert_str_eq(sc_data_request_name(d), names[i]);
	}
	cr_assert_eq(sc_data_request_parse("CTS", &d), 0);
	cr_assert_eq(d, SC_DR_CTS);
	cr_assert_eq(sc_data_request_parse("rts", &d), -1);
	cr_assert_eq(sc_data_request_parse("", &d), -1);
	cr_assert_eq(sc_data_request_parse("cts ", &d), -1);
}

/* ---- a pty standing in for the adapter ---- */

struct bench {
	int master;
	char link[256];
	char dir[64];
	char log[8][400];
	int nlog;
};

static void on_log(void *arg, const char *line)
{
	struct bench *b = arg;
	if (b->nlog < 8)
		snprintf(b->log[b->nlog++], sizeof b->log[0], "%s", line);
}

/* A new pty behind b->link (made, or pointed at the new one). */
static void new_pty(struct bench *b)
{
	int slave;
	char name[128];
	cr_assert_eq(openpty(&b->master, &slave, name, NULL, NULL), 0, "openpty: %s", strerror(errno));
	close(slave);
	fcntl(b->master, F_SETFL, O_NONBLOCK);
	unlink(b->link);
	cr_assert_eq(symlink(name, b->link), 0);
}

static void bench_up(struct bench *b)
{
	memset(b, 0, sizeof *b);
	snprintf(b->dir, sizeof b->dir, "/tmp/sc-meter-port-XXXXXX");
	cr_assert_not_null(mkdtemp(b->dir));
	snprintf(b->link, sizeof b->link, "%s/meter", b->dir);
	new_pty(b);
}

static void bench_down(struct bench *b)
{
	if (b->master >= 0)
		close(b->master);
	unlink(b->link);
	rmdir(b->dir);
}

/* What arrived on the master so far (waits until n bytes or 2 s). */
static size_t drain(struct bench *b, char *buf, size_t cap, size_t n)
{
	size_t got = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < n && got < cap) {
		struct pollfd pf = {b->master, POLLIN, 0};
		poll(&pf, 1, 50);
		ssize_t r = read(b->master, buf + got, cap - got);
		if (r > 0)
			got += (size_t)r;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 > 2)
			break;
	}
	return got;
}

static struct sc_meter_port_opts opts(struct bench *b)
{
	return (struct sc_meter_port_opts){
		.path = b->link, .line = sc_line_for(false), .pace = 1, .reopen_s = 0.05,
		.log = on_log, .log_arg = b,
	};
}

Test(port, a_telegram_arrives_whole_and_paced)
{
	struct bench b;
	bench_up(&b);
	struct sc_meter_port_opts o = opts(&b);
	struct sc_meter_port *p = sc_meter_port_open(&o, why, sizeof why);
	cr_assert_not_null(p, "%s", why);
	cr_assert(sc_meter_port_present(p));
	char tel[900];
	for (size_t i = 0; i < sizeof tel; i++)
		tel[i] = (char)('A' + i % 26);
	cr_assert_eq(sc_meter_port_send(p, tel, sizeof tel, why, sizeof why), 0, "%s", why);
	char got[2048];
	size_t n = drain(&b, got, sizeof got, sizeof tel);
	cr_assert_eq(n, sizeof tel);
	cr_assert_eq(memcmp(got, tel, n), 0);
	const struct sc_meter_port_stats *st = sc_meter_port_stats(p);
	cr_assert_eq(st->telegrams, 1);
	cr_assert_eq(st->bytes, sizeof tel);
	/* Not dumped: the send lasted its line time (900 characters at 115200 8N1). */
	cr_assert_geq(st->max_telegram_s, 900 * 10.0 / 115200 * 0.99, "%g", st->max_telegram_s);
	cr_assert(isinf(sc_meter_port_since_back(p)));
	cr_assert_eq(b.nlog, 0, "%s", b.log[0]);
	sc_meter_port_close(p);
	bench_down(&b);
}

Test(port, a_faster_pace_and_the_gap_between_telegrams)
{
	struct bench b;
	bench_up(&b);
	struct sc_meter_port_opts o = opts(&b);
	o.line = sc_line_for(true);
	o.pace = 0.1;
	o.min_gap_s = 0.02;
	struct sc_meter_port *p = sc_meter_port_open(&o, why, sizeof why);
	cr_assert_not_null(p, "%s", why);
	char fr[300];
	memset(fr, 'x', sizeof fr);
	struct timespec a, z;
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert_eq(sc_meter_port_send(p, fr, sizeof fr, why, sizeof why), 0, "%s", why);
	cr_assert_eq(sc_meter_port_send(p, fr, sizeof fr, why, sizeof why), 0, "%s", why);
	clock_gettime(CLOCK_MONOTONIC, &z);
	double took = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) * 1e-9;
	/* Two frames of 300 characters at a tenth of 9600 7E1's time, and the
	 * gap: a lower bound the port keeps by sleeping to deadlines. */
	double line = 2 * 300 * (10.0 / 9600) * 0.1 + 0.02;
	cr_assert_geq(took, line * 0.99, "%g < %g", took, line);
	char got[1024];
	cr_assert_eq(drain(&b, got, sizeof got, 600), 600);
	sc_meter_port_close(p);
	bench_down(&b);
}

Test(port, refuses_what_it_cannot_open)
{
	struct sc_meter_port_opts o = {.path = "/nonexistent/ttyUSB9", .line = sc_line_for(false)};
	cr_assert_null(sc_meter_port_open(&o, why, sizeof why));
	cr_assert(strstr(why, "/nonexistent/ttyUSB9") && strstr(why, "No such file"), "%s", why);

	o.path = "/dev/null";
	cr_assert_null(sc_meter_port_open(&o, why, sizeof why));
	cr_assert(strstr(why, "/dev/null"), "%s", why);

	struct bench b;
	bench_up(&b);
	o = opts(&b);
	o.line.baud = 250000; /* not a rate a pty takes */
	cr_assert_null(sc_meter_port_open(&o, why, sizeof why));
	cr_assert(strstr(why, "250000 baud") && strstr(why, "standard rates"), "%s", why);
	o = opts(&b);
	o.line.bits = 9;
	cr_assert_null(sc_meter_port_open(&o, why, sizeof why));
	cr_assert(strstr(why, "is not a serial line's"), "%s", why);
	o = opts(&b);
	o.dr = SC_DR_CTS; /* a pty has no modem lines */
	cr_assert_null(sc_meter_port_open(&o, why, sizeof why));
	cr_assert(strstr(why, "data request on cts") && strstr(why, "no modem lines"), "%s", why);
	bench_down(&b);
}

Test(port, a_pty_says_it_keeps_8n1_for_a_7e1_line)
{
	struct bench b;
	bench_up(&b);
	struct sc_meter_port_opts o = opts(&b);
	o.line = sc_line_for(true);
	struct sc_meter_port *p = sc_meter_port_open(&o, why, sizeof why);
	cr_assert_not_null(p, "%s", why);
	cr_assert_eq(b.nlog, 1);
	cr_assert(strstr(b.log[0], "pseudo-terminal: it keeps 8N1, not 7E1"), "%s", b.log[0]);
	sc_meter_port_close(p);
	bench_down(&b);
}

struct dr_script {
	int calls, high_until; /* high for the first high_until reads, then low */
};

static int script_dr(void *arg)
{
	struct dr_script *d = arg;
	return d->calls++ < d->high_until ? 1 : 0;
}

Test(port, data_request_low_high_and_dropping)
{
	struct bench b;
	bench_up(&b);
	struct dr_script d = {0, 0};
	struct sc_meter_port_opts o = opts(&b);
	o.dr = SC_DR_DSR;
	o.read_dr = script_dr;
	o.read_dr_arg = &d;
	o.pace = 0.5;
	struct sc_meter_port *p = sc_meter_port_open(&o, why, sizeof why);
	cr_assert_not_null(p, "%s", why);
	char tel[600];
	memset(tel, 'z', sizeof tel);
	/* Low: nothing goes out. */
	cr_assert_eq(sc_meter_port_send(p, tel, sizeof tel, why, sizeof why), 1);
	cr_assert(strstr(why, "Data Request is low"), "%s", why);
	char got[2048];
	cr_assert_eq(drain(&b, got, sizeof got, 1), 0);
	/* High throughout. */
	d = (struct dr_script){0, 1000};
	cr_assert_eq(sc_meter_port_send(p, tel, sizeof tel, why, sizeof why), 0, "%s", why);
	cr_assert_eq(drain(&b, got, sizeof got, sizeof tel), sizeof tel);
	/* Drops after the first chunks: the rest is not sent. */
	d = (struct dr_script){0, 3};
	cr_assert_eq(sc_meter_port_send(p, tel, sizeof tel, why, sizeof why), 1);
	cr_assert(strstr(why, "Data Request dropped after"), "%s", why);
	size_t n = drain(&b, got, sizeof got, sizeof tel);
	cr_assert_gt(n, 0);
	cr_assert_lt(n, sizeof tel);
	const struct sc_meter_port_stats *st = sc_meter_port_stats(p);
	cr_assert_eq(st->telegrams, 1);
	cr_assert_eq(st->not_sent_dr, 1);
	cr_assert_eq(st->cut_short_dr, 1);
	cr_assert_eq(st->bytes, sizeof tel + n);
	sc_meter_port_close(p);
	bench_down(&b);
}

Test(port, goes_away_and_comes_back_behind_its_link)
{
	struct bench b;
	bench_up(&b);
	struct sc_meter_port_opts o = opts(&b);
	o.reopen_s = 0.05;
	struct sc_meter_port *p = sc_meter_port_open(&o, why, sizeof why);
	cr_assert_not_null(p, "%s", why);
	char tel[200];
	memset(tel, 'q', sizeof tel);
	cr_assert_eq(sc_meter_port_send(p, tel, sizeof tel, why, sizeof why), 0, "%s", why);
	/* The adapter goes: its pty is gone and the link dangles. */
	close(b.master);
	b.master = -1;
	int r = sc_meter_port_send(p, tel, sizeof tel, why, sizeof why);
	cr_assert_eq(r, 1, "%d %s", r, why);
	cr_assert(strstr(why, "went away"), "%s", why);
	cr_assert_not(sc_meter_port_present(p));
	cr_assert(b.nlog >= 1 && strstr(b.log[0], "gone (EIO") && strstr(b.log[0], "reopening"), "%s",
		  b.log[0]);
	/* While away (the link leads nowhere), telegrams are counted, not sent. */
	struct timespec ts = {0, 60 * 1000 * 1000};
	nanosleep(&ts, NULL);
	cr_assert_eq(sc_meter_port_send(p, tel, sizeof tel, why, sizeof why), 1);
	cr_assert(strstr(why, "away"), "%s", why);
	/* Back, as a new pty behind the same link. */
	new_pty(&b);
	nanosleep(&ts, NULL);
	cr_assert_eq(sc_meter_port_send(p, tel, sizeof tel, why, sizeof why), 0, "%s", why);
	char got[512];
	cr_assert_eq(drain(&b, got, sizeof got, sizeof tel), sizeof tel);
	cr_assert(sc_meter_port_present(p));
	cr_assert_lt(sc_meter_port_since_back(p), 10);
	const struct sc_meter_port_stats *st = sc_meter_port_stats(p);
	cr_assert_eq(st->reopens, 1);
	cr_assert_eq(st->telegrams, 2);
	cr_assert_geq(st->not_sent_gone, 2);
	cr_assert_gt(st->longest_away_s, 0);
	cr_assert(strstr(b.log[b.nlog - 1], "back after"), "%s", b.log[b.nlog - 1]);
	sc_meter_port_close(p);
	bench_down(&b);
}
