/* sc-telegram as a user meets it: the built program run through a shell,
 * its stdout, stderr and exit status checked. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slurp.h"

#define TOOL SC_BINARY_DIR "/sim/sc-telegram"
#define CORPUS SC_CORPUS_DIR "/p1"

struct run {
	int status;
	char *out;
	char *err;
};

/* Runs a shell command line with the tool's path in $T. */
static struct run sh(const char *cmd)
{
	char out[] = "/tmp/sc-telegram-test-out-XXXXXX", err[] = "/tmp/sc-telegram-test-err-XXXXXX";
	int fo = mkstemp(out), fe = mkstemp(err);
	cr_assert(fo >= 0 && fe >= 0);
	char line[4096];
	snprintf(line, sizeof line, "T='%s'; C='%s'; (%s) >%s 2>%s", TOOL, CORPUS, cmd, out, err);
	int st = system(line);
	struct run r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out, NULL), slurp(err, NULL)};
	unlink(out);
	unlink(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static const char *last_line(const char *s)
{
	size_t n = strlen(s);
	if (n && s[n - 1] == '\n')
		n--;
	while (n > 0 && s[n - 1] != '\n')
		n--;
	return s + n;
}

/* Fails the test when a field capture it reads is absent. */
static void need_capture(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "field capture %s not found", path);
}

Test(sc_telegram, help_and_usage_errors)
{
	struct run r = sh("$T --help");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Commands:"));
	run_free(&r);
	const char *cmds[] = {"gen", "parse", "check"};
	for (int i = 0; i < 3; i++) {
		char c[64];
		snprintf(c, sizeof c, "$T %s --help", cmds[i]);
		r = sh(c);
		cr_assert_eq(r.status, 0, "%s --help", cmds[i]);
		cr_assert(strstr(r.out, "Usage:"));
		run_free(&r);
	}
	const char *bad[] = {"$T", "$T frobnicate", "$T gen --phases 2", "$T gen --protocol dsmr30",
			     "$T gen --count abc", "$T gen --profile solar", "$T gen --fault melt",
			     "$T gen --interval 0", "$T gen extra", "$T parse --format xml",
			     "$T parse --word-order badc", "$T parse --bogus", "$T check --format json",
			     "$T parse --protocol modbus", "$T gen --seed -1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = sh(bad[i]);
		cr_assert_eq(r.status, 2, "'%s' exit %d", bad[i], r.status);
		cr_assert_gt(strlen(r.err), 0, "'%s' says nothing", bad[i]);
		run_free(&r);
	}
}

Test(sc_telegram, gen_parse_round_trip_every_protocol)
{
	const char *protos[] = {"dsmr42", "dsmr50", "emucs"};
	for (int i = 0; i < 3; i++) {
		for (int phases = 1; phases <= 3; phases += 2) {
			char c[256];
			snprintf(c, sizeof c,
				 "$T gen --protocol %s --phases %d --profile pv-ev --count 25 "
				 "--seed 9 --start 1751360400 | $T parse --strict",
				 protos[i], phases);
			struct run r = sh(c);
			cr_assert_eq(r.status, 0, "%s: %s", protos[i], r.err);
			cr_assert_eq(count_lines(r.out), 25);
			cr_assert_str_eq(last_line(r.err), "telegrams: 25 ok: 25 failed: 0\n");
			cr_assert(strstr(r.out, "{\"ts\":1751360400,"), "%s: first ts", protos[i]);
			run_free(&r);
		}
	}
}

Test(sc_telegram, gen_is_deterministic_and_paced_by_protocol)
{
	struct run a = sh("$T gen --count 5 --seed 3 --start 1700000000 | md5sum");
	struct run b = sh("$T gen --count 5 --seed 3 --start 1700000000 | md5sum");
	struct run c = sh("$T gen --count 5 --seed 4 --start 1700000000 | md5sum");
	cr_assert_str_eq(a.out, b.out);
	cr_assert_str_neq(a.out, c.out);
	run_free(&a);
	run_free(&b);
	run_free(&c);
	/* DSMR 4.2 meters send every 10 s, DSMR 5 every second. */
	struct run r = sh("$T gen --protocol dsmr42 --count 3 --start 1700000000 | $T parse");
	cr_assert(strstr(r.out, "\"ts\":1700000020,"));
	cr_assert(strstr(r.out, "\"U\":null"), "DSMR 4.2 has no voltages");
	run_free(&r);
	r = sh("$T gen --protocol dsmr50 --count 3 --start 1700000000 | $T parse");
	cr_assert(strstr(r.out, "\"ts\":1700000002,"));
	run_free(&r);
}

Test(sc_telegram, faults_are_reported_with_offsets_and_strict_fails)
{
	struct run r = sh("$T gen --count 6 --fault bad-crc --fault-every 3 --start 1700000000 "
			  "| $T parse");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines(r.out), 4);
	cr_assert_str_eq(last_line(r.err), "telegrams: 6 ok: 4 failed: 2\n");
	cr_assert(strstr(r.err, "<stdin>:"));
	cr_assert(strstr(r.err, ": crc: CRC "));
	run_free(&r);
	r = sh("$T gen --count 6 --fault bad-crc --fault-every 3 --start 1700000000 "
	       "| $T parse --strict");
	cr_assert_eq(r.status, 1);
	run_free(&r);

	r = sh("$T gen --count 4 --fault truncated --fault-every 2 --start 1700000000 | $T parse");
	cr_assert(strstr(r.err, ": framing: "), "%s", r.err);
	cr_assert_str_eq(last_line(r.err), "telegrams: 4 ok: 2 failed: 2\n");
	run_free(&r);

	r = sh("$T gen --count 3 --fault garbage --start 1700000000 | $T parse --strict");
	cr_assert_eq(r.status, 0, "garbage is reported but no telegram is lost");
	cr_assert(strstr(r.err, ": garbage: "));
	cr_assert_str_eq(last_line(r.err), "telegrams: 3 ok: 3 failed: 0\n");
	run_free(&r);

	r = sh("$T gen --count 2 --fault oversize --start 1700000000 | $T parse");
	cr_assert(strstr(r.err, ": overflow: "), "%s", r.err);
	run_free(&r);
}

Test(sc_telegram, error_lines_name_file_and_offset)
{
	struct run r = sh("f=$(mktemp); $T gen --count 3 --start 1700000000 > $f; "
			  "printf 'XYZ' >> $f; $T parse $f | wc -l; rm -f $f");
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "3\n");
	cr_assert(strstr(r.err, ": garbage: 3 bytes"), "%s", r.err);
	cr_assert_not(strstr(r.err, "<stdin>"));
	run_free(&r);
}

Test(sc_telegram, missing_file_is_an_io_error)
{
	struct run r = sh("$T parse /nonexistent/capture.p1");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "/nonexistent/capture.p1"));
	run_free(&r);
	r = sh("$T check /nonexistent/capture.p1");
	cr_assert_eq(r.status, 2);
	run_free(&r);
}

Test(sc_telegram, register_format)
{
	struct run r = sh("$T gen --count 1 --start 1700000000 --seed 2 | $T parse --format registers");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "# telegram 1 ts 1700000000"));
	cr_assert(strstr(r.out, "0x8016 "), "total active power line");
	cr_assert(strstr(r.out, " active_power\n"));
	cr_assert(strstr(r.out, "0x802A 0000 0000 0 VA apparent_power_l1 (absent)"), "%s", r.out);
	cr_assert_eq(count_lines(r.out), 49 + 2);
	run_free(&r);
	r = sh("$T gen --count 1 --start 1700000000 | $T parse --format registers --energy-kwh");
	cr_assert(strstr(r.out, " kWh energy_import"));
	run_free(&r);
}

Test(sc_telegram, corpus_parse_and_check)
{
	need_capture(CORPUS "/dsmr50-iskra-am550-566-telegrams.p1");
	struct run r = sh("$T parse $C/dsmr50-iskra-am550-566-telegrams.p1");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines(r.out), 566);
	cr_assert_str_eq(r.err, "telegrams: 566 ok: 566 failed: 0\n");
	const char *first = "{\"ts\":1553436319,\"P\":378,";
	cr_assert(strncmp(r.out, first, strlen(first)) == 0, "%.60s", r.out);
	run_free(&r);

	r = sh("$T parse $C/dsmr22-iskra-no-crc.p1");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.err, "dsmr22-iskra-no-crc.p1:0: unsupported: DSMR 2.2"), "%s", r.err);
	run_free(&r);
	r = sh("$T parse --any-version $C/dsmr22-iskra-no-crc.p1");
	cr_assert_eq(count_lines(r.out), 1);
	run_free(&r);

	r = sh("$T check $C/dsmr42-kaifa.p1 $C/dsmr50-warmtelink-unpadded-crc.p1");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "dsmr42-kaifa.p1: P1 telegrams: 1 ok: 1 failed: 0\n"));
	cr_assert(strstr(r.out, "total: telegrams: 2 ok: 2 failed: 0\n"));
	run_free(&r);
	r = sh("$T check $C/*.p1");
	cr_assert_eq(r.status, 1);
	/* The three meters older than DSMR 4.2 (SOURCES.md) fail, unsupported. */
	cr_assert(strstr(r.out, "total: telegrams: 583 ok: 580 failed: 3\n"), "%s", r.out);
	cr_assert(strstr(r.out, "unsupported: 1 first-error: unsupported at offset 0"));
	run_free(&r);
}

/* A regular file is read through a mapping of it from where its descriptor
 * stands (here standard input redirected from the capture, its first line
 * read before), a pipe by read(2): the same telegrams and the same report. */
Test(sc_telegram, check_reads_a_file_from_its_position_as_a_pipe)
{
	need_capture(CORPUS "/dsmr50-iskra-am550-566-telegrams.p1");
	struct run a = sh("(read -r first; \"$T\" check) < $C/dsmr50-iskra-am550-566-telegrams.p1");
	struct run b = sh("tail -c +20 $C/dsmr50-iskra-am550-566-telegrams.p1 | \"$T\" check");
	cr_assert_str_eq(a.out, "<stdin>: P1 telegrams: 565 ok: 565 failed: 0 garbage: 1\n");
	cr_assert_str_eq(a.out, b.out);
	run_free(&a);
	run_free(&b);
	a = sh("\"$T\" parse < $C/dsmr50-iskra-am550-566-telegrams.p1 | md5sum");
	b = sh("cat $C/dsmr50-iskra-am550-566-telegrams.p1 | \"$T\" parse | md5sum");
	cr_assert_str_eq(a.out, b.out);
	run_free(&a);
	run_free(&b);
}

Test(sc_telegram, tic_autodetected_and_forced)
{
	need_capture(SC_CORPUS_DIR "/tic/standard-mono-consumer-base.tic");
	struct run r = sh("$T parse $C/../tic/standard-mono-consumer-base.tic");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(count_lines(r.out), 1);
	cr_assert(strstr(r.out, "\"P\":263,"), "%s", r.out);
	cr_assert_str_eq(r.err, "telegrams: 1 ok: 1 failed: 0\n");
	run_free(&r);

	r = sh("$T parse --strict $C/../tic/standard-mono-producer-9-frames-with-corruption.log");
	cr_assert_eq(r.status, 1);
	cr_assert_eq(count_lines(r.out), 6);
	cr_assert(strstr(r.err, ":791: bad-groups: 1 bad group: CCAINKlBJ syntax at 791"), "%s", r.err);
	cr_assert(strstr(r.err, ":8106: bad-groups: 2 bad groups: ERQ2 syntax at 8106,"));
	cr_assert_str_eq(last_line(r.err), "telegrams: 10 ok: 6 failed: 4\n");
	run_free(&r);

	r = sh("$T check $C/../tic/historic-mono-base.tic");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.out, "TIC telegrams: 1 ok: 0 failed: 1 unsupported: 1"), "%s", r.out);
	run_free(&r);

	/* The wrong protocol forced: every frame said to be unsupported. */
	r = sh("$T parse --protocol p1 $C/../tic/standard-mono-consumer-base.tic");
	cr_assert(strstr(r.err, ":0: unsupported: a TIC frame on a P1 input"), "%s", r.err);
	run_free(&r);
	r = sh("$T parse --protocol tic $C/dsmr42-kaifa.p1");
	cr_assert(strstr(r.err, ":0: unsupported: a DSMR P1 telegram on a TIC input"), "%s", r.err);
	run_free(&r);
}

Test(sc_telegram, tic_gen_parse_round_trip_and_faults)
{
	const char *variants[] = {"--phases 1", "--phases 3", "--phases 1 --producer --calendar hchp",
				  "--phases 3 --producer --calendar tempo --profile pv-ev"};
	for (size_t i = 0; i < 4; i++) {
		char c[256];
		snprintf(c, sizeof c,
			 "$T gen --protocol tic %s --count 12 --seed 5 --start 1741351430 "
			 "| $T parse --strict", variants[i]);
		struct run r = sh(c);
		cr_assert_eq(r.status, 0, "%s: %s", variants[i], r.err);
		cr_assert_eq(count_lines(r.out), 12);
		cr_assert_str_eq(last_line(r.err), "telegrams: 12 ok: 12 failed: 0\n");
		cr_assert(strstr(r.out, "{\"ts\":1741351430,"));
		run_free(&r);
	}
	struct run r = sh("$T gen --protocol tic --count 6 --fault bad-checksum --fault-every 3 "
			  "--start 1741351430 | $T parse");
	cr_assert(strstr(r.err, ": bad-groups: 1 bad group: "), "%s", r.err);
	cr_assert(strstr(r.err, " checksum at "));
	cr_assert_str_eq(last_line(r.err), "telegrams: 6 ok: 4 failed: 2\n");
	run_free(&r);
	r = sh("$T gen --protocol tic --count 2 --fault historic | $T parse");
	cr_assert(strstr(r.err, ": unsupported: unsupported mode: historic"), "%s", r.err);
	run_free(&r);
	r = sh("$T gen --protocol tic --count 2 --fault truncated --start 1741351430 | $T parse");
	cr_assert(strstr(r.err, ": framing: frame interrupted by EOT"), "%s", r.err);
	run_free(&r);
	/* Options that belong to the other protocol are refused. */
	r = sh("$T gen --protocol dsmr50 --producer");
	cr_assert_eq(r.status, 2);
	run_free(&r);
	r = sh("$T gen --protocol tic --fault bad-crc");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "bad-checksum"));
	run_free(&r);
	r = sh("$T gen --protocol tic --calendar weekly");
	cr_assert_eq(r.status, 2);
	run_free(&r);
}

Test(sc_telegram, write_errors_on_stdout_are_io_errors)
{
	struct run r = sh("\"$T\" gen --count 3 --start 1751360400 > /tmp/sc-tg-full-in.p1; "
			  "\"$T\" parse /tmp/sc-tg-full-in.p1 > /dev/full; echo \"parse $?\"; "
			  "\"$T\" check /tmp/sc-tg-full-in.p1 > /dev/full; echo \"check $?\"; "
			  "\"$T\" gen --count 3 > /dev/full; echo \"gen $?\"; rm -f /tmp/sc-tg-full-in.p1");
	cr_assert(strstr(r.out, "parse 2\n"), "%s", r.out);
	cr_assert(strstr(r.out, "check 2\n"), "%s", r.out);
	cr_assert(strstr(r.out, "gen 2\n"), "%s", r.out);
	cr_assert(strstr(r.err, "write error"), "%s", r.err);
	run_free(&r);
}

/* A pipe that stays open: the first telegram's JSON comes out while the
 * writer still holds the pipe, not when the input ends. */
Test(sc_telegram, parse_is_live_on_a_pipe)
{
	struct run r = sh("rm -f /tmp/sc-tg-live.out; mkfifo /tmp/sc-tg-live.fifo; "
			  "\"$T\" parse < /tmp/sc-tg-live.fifo > /tmp/sc-tg-live.out 2>/dev/null & pid=$!; "
			  "exec 3>/tmp/sc-tg-live.fifo; "
			  "\"$T\" gen --count 1 --start 1751360400 >&3; "
			  "i=0; while [ ! -s /tmp/sc-tg-live.out ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
			  "if [ -s /tmp/sc-tg-live.out ]; then echo live; else echo late; fi; "
			  "exec 3>&-; wait $pid; cat /tmp/sc-tg-live.out; rm -f /tmp/sc-tg-live.fifo /tmp/sc-tg-live.out");
	cr_assert(strncmp(r.out, "live\n", 5) == 0, "%s", r.out);
	cr_assert_eq(count_lines(r.out), 2);
	run_free(&r);
}

Test(sc_telegram, gen_start_range)
{
	const char *bad[] = {"0", "946684800", "4102444800", "-5", "99999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "\"$T\" gen --count 1 --start %s", bad[i]);
		struct run r = sh(cmd);
		cr_assert_eq(r.status, 2, "--start %s", bad[i]);
		cr_assert(strstr(r.err, "--start"), "%s", r.err);
		run_free(&r);
	}
	struct run r = sh("\"$T\" gen --count 2 --start 4102444790 --interval 10");
	cr_assert_eq(r.status, 2, "the second telegram would fall in 2100");
	run_free(&r);
	r = sh("\"$T\" gen --count 1 --start 978307200 | \"$T\" parse");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "\"ts\":978307200"), "%s", r.out);
	run_free(&r);
}

/* A Swedish meter's kVAr: read by default, a syntax error with --strict
 * (parse exits 1 then; check always does on a failure). */
Test(sc_telegram, strict_reads_units_as_the_tables)
{
	need_capture(CORPUS "/sweden-kaifa-ma304h4e-kvar.p1");
	struct run r = sh("$T parse $C/sweden-kaifa-ma304h4e-kvar.p1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"Q-\":69,"), "%s", r.out);
	cr_assert(strstr(r.err, "telegrams: 1 ok: 1 failed: 0"), "%s", r.err);
	run_free(&r);
	r = sh("$T parse --strict $C/sweden-kaifa-ma304h4e-kvar.p1");
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(strstr(r.err, "syntax: 1-0:3.7.0: unit 'kVAr' where var was expected"), "%s",
		  r.err);
	run_free(&r);
	r = sh("$T check $C/sweden-kaifa-ma304h4e-kvar.p1");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	run_free(&r);
	r = sh("$T check --strict $C/sweden-kaifa-ma304h4e-kvar.p1");
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "failed: 1"), "%s", r.out);
	run_free(&r);
}

Test(sc_telegram, check_help_says_what_check_prints)
{
	struct run r = sh("\"$T\" check --help");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "summary"), "%s", r.out);
	/* --strict of check reads strictly; check exits 1 on a failure anyway. */
	cr_assert(strstr(r.out, "P1 objects read strictly"), "%s", r.out);
	cr_assert_null(strstr(r.out, "FILE:OFFSET"));
	run_free(&r);
}

/* Line noise STX LF before a P1 stream does not make it TIC (the stream
 * itself is tested at every split in test_telegram.c). */
Test(sc_telegram, stx_lf_noise_does_not_make_p1_tic)
{
	struct run r =
		sh("{ printf 'ab\\002\\nxx'; \"$T\" gen --count 3 --start 1751360400; } | \"$T\" parse");
	cr_assert_eq(count_lines(r.out), 3, "%s", r.err);
	run_free(&r);
}

Test(sc_telegram, check_counts_tic_bad_groups_by_kind)
{
	struct run r = sh("{ \"$T\" gen --protocol tic --count 2 --fault bit7 --start 1751360400; "
			  "\"$T\" gen --protocol tic --count 3 --fault bad-checksum --start 1751360400; } "
			  "| \"$T\" check -");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.out, "bad-groups-by-kind: checksum 3 length 0 syntax 0 bit7 2"), "%s", r.out);
	run_free(&r);
	r = sh("\"$T\" gen --protocol tic --count 2 --fault oversize --start 1751360400 | \"$T\" check -");
	cr_assert(strstr(r.out, "overflow: 2"), "%s", r.out);
	run_free(&r);
}

Test(sc_telegram, tic_interval_follows_the_line)
{
	/* A three-phase producer frame takes about 1.5 s at 9600 baud 7E1: the
	 * next DATE is 2 s later; a single-phase consumer frame, 1 s. */
	struct run r = sh("\"$T\" gen --protocol tic --phases 3 --producer --count 2 --start 1751360400 "
			  "| \"$T\" parse");
	cr_assert(strstr(r.out, "\"ts\":1751360400"), "%s", r.out);
	cr_assert(strstr(r.out, "\"ts\":1751360402"), "%s", r.out);
	run_free(&r);
	r = sh("\"$T\" gen --protocol tic --phases 1 --count 2 --start 1751360400 | \"$T\" parse");
	cr_assert(strstr(r.out, "\"ts\":1751360401"), "%s", r.out);
	run_free(&r);
}
