/* The reports of a harness run (report.h): the folder's name, JUnit XML
 * with a case per result and text escaped, result.json with its figures
 * (gaps as null), a self-contained HTML page whose plots stay bounded for
 * long runs, and errors for folders that cannot be written. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "slurp.h"
#include "scenario.h"

static char why[600];
static char base[64];

static void setup(void)
{
	snprintf(base, sizeof base, "/tmp/sc-report-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	cr_assert_eq(system(cmd), 0);
}

/* A file of the report folder, whole. */
static char *report_file(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", base, name);
	return slurp(path, NULL);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static struct sc_scenario *scenario(void)
{
	const char *text = "{\"scenario\":1,\"name\":\"rep\",\"description\":\"a <test> & more\","
			   "\"steps\":[{\"at\":0,\"telegrams\":{\"count\":2}}]}";
	struct sc_scenario *s = NULL;
	cr_assert_eq(sc_scenario_load(text, strlen(text), "rep.json", &s, why, sizeof why), 0, "%s", why);
	return s;
}

static void result(struct sc_run *run, const char *where, const char *kind, bool pass, bool skip,
		   const char *expected, const char *actual)
{
	if (run->n == run->cap) {
		run->cap = run->cap ? run->cap * 2 : 8;
		run->r = realloc(run->r, run->cap * sizeof *run->r);
	}
	struct sc_result *r = &run->r[run->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->where, sizeof r->where, "%s", where);
	snprintf(r->kind, sizeof r->kind, "%s", kind);
	snprintf(r->target, sizeof r->target, "0x8016 active_power");
	snprintf(r->expected, sizeof r->expected, "%s", expected);
	snprintf(r->actual, sizeof r->actual, "%s", actual);
	r->at = 1;
	r->when = 1.5;
	r->pass = pass;
	r->skipped = skip;
	if (skip)
		run->skip++;
	else if (pass)
		run->pass++;
	else
		run->fail++;
}

static void telegrams(struct sc_run *run, size_t n)
{
	run->tg = calloc(n, sizeof *run->tg);
	run->ntg = run->captg = n;
	for (size_t i = 0; i < n; i++) {
		struct sc_run_telegram *t = &run->tg[i];
		t->at = (double)i;
		t->sent = i != 1;
		t->ok = t->sent;
		t->p = (double)(i % 7) * 100;
		t->e_import = 1000 + (double)i;
		t->e_export = NAN;
		const char *b = "/ISK5\\2M550T\r\n\r\n1-0:1.8.1(1.0*kWh)\x02\xff\r\n!ABCD\r\n";
		t->len = strlen(b);
		t->bytes = strdup(b);
	}
	run->not_sent = 1;
}

static void samples(struct sc_run *run, size_t n)
{
	run->s = calloc(n, sizeof *run->s);
	run->ns = run->caps = n;
	for (size_t i = 0; i < n; i++)
		run->s[i] = (struct sc_run_sample){(double)i, sin((double)i / 50) * 1000,
						   i % 100 == 5 ? NAN : sin((double)i / 50) * 1000,
						   (double)i, (double)i};
	run->duration = (double)n;
}

Test(report, folders_are_new_named_and_nested, .init = setup, .fini = teardown)
{
	char deep[256], a[512], b[512];
	snprintf(deep, sizeof deep, "%s/x/y/reports", base);
	const char *t0 = "2026-12-06T23:20:05Z";
	cr_assert_eq(sc_report_dir(deep, t0, "dsmr50 household/day", a, sizeof a, why, sizeof why), 0, "%s", why);
	cr_assert_eq(sc_report_dir(deep, t0, "dsmr50 household/day", b, sizeof b, why, sizeof why), 0, "%s", why);
	cr_assert_str_neq(a, b);
	struct stat st;
	cr_assert(stat(a, &st) == 0 && S_ISDIR(st.st_mode));
	cr_assert(stat(b, &st) == 0 && S_ISDIR(st.st_mode));
	/* base/<the run's start, UTC>-<name>, the name made safe for a path;
	 * a second run started in the same second gets -2. */
	cr_assert_str_eq(strrchr(a, '/') + 1, "2026-12-06T23-20-05Z-dsmr50_household_day");
	cr_assert_str_eq(strrchr(b, '/') + 1, "2026-12-06T23-20-05Z-dsmr50_household_day-2");
	/* Without a start time: now, in the same form. */
	cr_assert_eq(sc_report_dir(deep, NULL, "n", a, sizeof a, why, sizeof why), 0, "%s", why);
	const char *leaf = strrchr(a, '/') + 1;
	cr_assert_eq(strlen(leaf), strlen("2026-12-06T23-20-05Z-n"), "%s", leaf);
	cr_assert(leaf[10] == 'T' && leaf[13] == '-' && leaf[19] == 'Z', "%s", leaf);

	char file[256];
	snprintf(file, sizeof file, "%s/plain", base);
	FILE *f = fopen(file, "w");
	fclose(f);
	cr_assert_eq(sc_report_dir(file, NULL, "n", a, sizeof a, why, sizeof why), -1);
	cr_assert(strstr(why, "plain"), "%s", why);
}

Test(report, junit_json_and_html, .init = setup, .fini = teardown)
{
	struct sc_scenario *s = scenario();
	struct sc_run run;
	memset(&run, 0, sizeof run);
	result(&run, "steps[1].expect[0]", "modbus", true, false, "230", "230");
	result(&run, "steps[2].expect[0]", "modbus", false, false, "-99999 <wrong> & \"odd\"",
	       "252 \x01\xc3(bad utf-8)");
	result(&run, "steps[3]", "action", false, true, "", "no way to do 'button' (give --hook CMD)");
	telegrams(&run, 3);
	samples(&run, 300);
	struct sc_meter_port_stats ls = {.telegrams = 2, .bytes = 1800, .reopens = 1, .longest_away_s = 2.5};
	struct sc_report_info ri = {
		.scenario_path = "scenarios/rep.json", .s = s, .dut = "sc-sim at 127.0.0.1",
		.dut_firmware = "5.2.0", .port = "/dev/pts/3", .line = "115200,8N1", .line_stats = &ls,
		.started = "2026-12-02T01:30:00Z", .wall_s = 4.25, .exit_status = 1,
	};
	cr_assert_eq(sc_report_write(base, &ri, &run, why, sizeof why), 0, "%s", why);

	char *x = report_file("junit.xml");
	cr_assert(strstr(x, "<testsuite name=\"rep\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "%s", x);
	cr_assert_eq(count(x, "<testcase "), 3);
	cr_assert(strstr(x, "-99999 &lt;wrong&gt; &amp; &quot;odd&quot;"), "%s", x);
	cr_assert_null(strstr(x, "<wrong>"));
	cr_assert_null(strstr(x, "\x01"));
	cr_assert(strstr(x, "\xEF\xBF\xBD(bad utf-8)"), "invalid UTF-8 replaced");
	cr_assert(strstr(x, "<skipped message=\"no way to do &#39;button&#39; (give --hook CMD)\"/>"), "%s", x);
	cr_assert(strstr(x, "step: steps[2].expect[0]\ninterface: modbus\nfield: 0x8016 active_power"), "%s", x);
	cr_assert(strstr(x, "<property name=\"dut_firmware\" value=\"5.2.0\"/>"), "%s", x);
	free(x);

	char *j = report_file("result.json");
	cJSON *doc = cJSON_Parse(j);
	cr_assert_not_null(doc, "result.json parses");
	cr_assert_str_eq(cJSON_GetObjectItem(doc, "verdict")->valuestring, "FAIL");
	cr_assert_eq(cJSON_GetObjectItem(doc, "failed")->valueint, 1);
	cr_assert_eq(cJSON_GetObjectItem(doc, "exit_status")->valueint, 1);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "results")), 3);
	cJSON *t = cJSON_GetObjectItem(doc, "telegrams");
	cr_assert_eq(cJSON_GetObjectItem(t, "sent")->valueint, 2);
	cr_assert_eq(cJSON_GetObjectItem(t, "not_sent")->valueint, 1);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "line_stats"), "reopens")->valueint, 1);
	cJSON *sa = cJSON_GetObjectItem(doc, "samples");
	cr_assert_eq(cJSON_GetArraySize(sa), 300);
	cr_assert(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetArrayItem(sa, 5), 2)), "a gap is null");
	cr_assert(cJSON_IsNumber(cJSON_GetArrayItem(cJSON_GetArrayItem(sa, 6), 2)));
	cJSON_Delete(doc);
	free(j);

	char *h = report_file("report.html");
	cr_assert(strstr(h, "<!DOCTYPE html>") == h);
	cr_assert(strstr(h, "id=\"verdict\">FAIL</span>"));
	cr_assert(strstr(h, "a &lt;test&gt; &amp; more"));
	cr_assert_null(strstr(h, "<script"));
	cr_assert_null(strstr(h, "src="));
	cr_assert_null(strstr(h, "href="));
	cr_assert_null(strstr(h, "url("));
	/* The mismatch before the passes; two plots of two series each. */
	cr_assert_lt(strstr(h, "-99999"), strstr(h, "<td>PASS</td>"));
	cr_assert_eq(count(h, "<svg "), 2);
	cr_assert_geq(count(h, "class=\"want\""), 2);
	cr_assert_geq(count(h, "class=\"got\""), 4, "the gaps split the served line");
	/* Telegram text with control bytes shown, not sent raw. */
	cr_assert(strstr(h, "&lt;02&gt;") && strstr(h, "&lt;FF&gt;"));
	cr_assert(strstr(h, "<td>no</td>"), "the telegram that did not reach the device");
	free(h);
	sc_run_free(&run);
	sc_scenario_free(s);
}

Test(report, long_runs_plot_bounded_and_list_the_first_telegrams, .init = setup, .fini = teardown)
{
	struct sc_scenario *s = scenario();
	struct sc_run run;
	memset(&run, 0, sizeof run);
	result(&run, "each telegram", "modbus", true, false, "x", "x");
	telegrams(&run, 2000);
	samples(&run, 86400);
	struct sc_report_info ri = {.scenario_path = "rep.json", .s = s, .dut = "d",
				    .started = "2026-12-02T01:30:00Z", .wall_s = 1};
	cr_assert_eq(sc_report_write(base, &ri, &run, why, sizeof why), 0, "%s", why);
	char *h = report_file("report.html");
	/* A day of samples: at most ~2000 points a line (min and max per
	 * column), whatever the gaps split it into. */
	size_t points = 0;
	for (const char *p = h; (p = strstr(p, "points=\"")); p++) {
		p += 8;
		size_t n = 0;
		for (; *p != '"'; p++)
			n += *p == ' ';
		points += n;
	}
	cr_assert_leq(points, 4 * 2000 + 200, "%zu points", points);
	cr_assert_geq(points, 4 * 500, "%zu points", points);
	cr_assert(strstr(h, "The first 500 of 2000 are listed."));
	cr_assert_eq(count(h, "<details>"), 500);
	cr_assert(strstr(h, "id=\"verdict\">PASS</span>"));
	struct stat st;
	char path[256];
	snprintf(path, sizeof path, "%s/report.html", base);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_lt(st.st_size, 4 * 1024 * 1024, "%lld bytes", (long long)st.st_size);
	free(h);
	sc_run_free(&run);
	sc_scenario_free(s);
}

Test(report, plots_mark_actions_show_export_and_whole_units, .init = setup, .fini = teardown)
{
	const char *text = "{\"scenario\":1,\"name\":\"ev\",\"steps\":["
			   "{\"at\":0,\"telegrams\":{\"count\":20}},"
			   "{\"at\":2,\"meter\":\"cut\"},{\"at\":4,\"meter\":\"restore\"},"
			   "{\"at\":6,\"broker\":\"down\"},{\"at\":8,\"broker\":\"up\"},"
			   "{\"at\":10,\"power\":\"cycle\"},{\"at\":12,\"button\":1.0},"
			   "{\"at\":14,\"network\":{\"EthernetCable\":false}},"
			   "{\"at\":15,\"expect\":[{\"modbus\":\"telegram\"}]}]}";
	struct sc_scenario *s = NULL;
	cr_assert_eq(sc_scenario_load(text, strlen(text), "ev.json", &s, why, sizeof why), 0, "%s", why);
	struct sc_run run;
	memset(&run, 0, sizeof run);
	result(&run, "steps[7].expect[0]", "modbus", true, false, "x", "x");
	telegrams(&run, 20);
	for (size_t i = 0; i < run.ntg; i++) {
		run.tg[i].e_export = 500 + 2 * (double)i;
		run.tg[i].served = true;
		run.tg[i].regs[2] = (float)(500 + 2 * (double)i);
	}
	samples(&run, 20);
	struct sc_report_info ri = {.scenario_path = "ev.json", .s = s, .dut = "d",
				    .started = "2026-12-02T01:30:00Z", .wall_s = 1};
	cr_assert_eq(sc_report_write(base, &ri, &run, why, sizeof why), 0, "%s", why);
	char *h = report_file("report.html");
	/* Power, import and export: three plots, export with both lines. */
	cr_assert_eq(count(h, "<svg "), 3);
	const char *ex = strstr(h, "Exported energy E_EXPORT");
	cr_assert(ex, "no export plot");
	cr_assert(strstr(ex, "class=\"want\"") && strstr(ex, "class=\"got\""));
	/* Each action on each plot: a line and its label. */
	const char *labels[] = {"cable out", "cable in", "broker down", "broker up", "power cut", "button",
				"network"};
	for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
		char tag[64];
		snprintf(tag, sizeof tag, ">%s</text></g>", labels[i]);
		cr_assert_eq(count(h, tag), 3, "%s", labels[i]);
	}
	cr_assert_eq(count(h, "<g class=\"event\""), 3 * 7);
	cr_assert_eq(count(h, "class=\"ev\""), 3 * 7);
	/* The unit above each plot is anchored at its start, and no rule in the
	 * style sheet anchors it at its end (which put it off the left edge). */
	cr_assert_eq(count(h, "<text class=\"unit\" x=\"4\""), 3);
	cr_assert(strstr(h, "svg .unit{text-anchor:start"));
	cr_assert_null(strstr(h, "text-anchor=\"start\""), "an attribute the style sheet overrides");
	free(h);
	sc_run_free(&run);
	sc_scenario_free(s);
}

Test(report, a_folder_that_cannot_be_written, .init = setup, .fini = teardown)
{
	struct sc_scenario *s = scenario();
	struct sc_run run;
	memset(&run, 0, sizeof run);
	struct sc_report_info ri = {.s = s, .started = "2026-12-02T01:30:00Z"};
	char dir[128];
	snprintf(dir, sizeof dir, "%s/missing", base);
	cr_assert_eq(sc_report_write(dir, &ri, &run, why, sizeof why), -1);
	cr_assert(strstr(why, "missing"), "%s", why);
	sc_scenario_free(s);
}

Test(report, each_telegrams_power_instant_listed, .init = setup, .fini = teardown)
{
	struct sc_scenario *s = scenario();
	struct sc_run run;
	memset(&run, 0, sizeof run);
	result(&run, "each telegram", "mqtt", false, false, "one power_instant for each of 4 telegrams",
	       "3 delivered, 1 lost, 0 duplicated, 1 out of order; lost: telegram 4");
	snprintf(run.r[0].target, sizeof run.r[0].target, "power_instant each telegram");
	telegrams(&run, 6);
	const enum sc_pi_fate fate[6] = {SC_PI_DELIVERED, SC_PI_NOT_DUE, SC_PI_DELIVERED,
					 SC_PI_LOST, SC_PI_OFFLINE, SC_PI_DELIVERED};
	for (size_t i = 0; i < 6; i++) {
		run.tg[i].pi = fate[i];
		run.tg[i].pi_msgs = fate[i] == SC_PI_DELIVERED;
		run.tg[i].pi_seen = fate[i] == SC_PI_DELIVERED ? (double)i + 0.25 : NAN;
	}
	run.tg[2].pi_out_of_order = true;
	struct sc_report_info ri = {.scenario_path = "rep.json", .s = s, .dut = "d",
				    .started = "2026-12-02T01:30:00Z", .wall_s = 1};
	cr_assert_eq(sc_report_write(base, &ri, &run, why, sizeof why), 0, "%s", why);
	char *h = report_file("report.html");
	const char *sec = strstr(h, "<h2 id=\"power-instant\">power_instant of each telegram</h2>");
	cr_assert(sec, "%s", h);
	cr_assert(strstr(sec, "<p>3 delivered, 1 lost, 0 duplicated, 1 out of order; lost: telegram 4</p>"));
	cr_assert(strstr(sec, "<tr><td class=\"num\">1</td><td class=\"num\">0.00</td><td>delivered</td>"
			      "<td class=\"num\">0.25</td></tr>"), "%s", sec);
	cr_assert(strstr(sec, "<td>none due (not sent)</td>"), "%s", sec);
	cr_assert(strstr(sec, "<tr class=\"fail\"><td class=\"num\">3</td><td class=\"num\">2.00</td>"
			      "<td>delivered out of order</td><td class=\"num\">2.25</td></tr>"), "%s", sec);
	cr_assert(strstr(sec, "<tr class=\"fail\"><td class=\"num\">4</td><td class=\"num\">3.00</td>"
			      "<td>lost</td><td></td></tr>"), "%s", sec);
	cr_assert(strstr(sec, "<td>not judged (the device could not publish)</td>"), "%s", sec);
	free(h);
	sc_run_free(&run);

	/* Not accounted (no MQTT read): no section. */
	memset(&run, 0, sizeof run);
	telegrams(&run, 3);
	cr_assert_eq(sc_report_write(base, &ri, &run, why, sizeof why), 0, "%s", why);
	h = report_file("report.html");
	cr_assert_null(strstr(h, "power_instant of each telegram"));
	free(h);
	sc_run_free(&run);
	sc_scenario_free(s);
}

Test(report, telegrams_that_left_late_are_the_rigs, .init = setup, .fini = teardown)
{
	/* Each telegram's write time in the table; those that left more than
	 * 50 ms late marked "late (rig)" (one past the 500 rows listed too),
	 * counted in JUnit and result.json, and said not to be the unit's. */
	struct sc_scenario *s = scenario();
	struct sc_run run;
	memset(&run, 0, sizeof run);
	result(&run, "steps[1].expect[0]", "modbus", true, false, "x", "x");
	telegrams(&run, 600);
	for (size_t i = 0; i < run.ntg; i++) {
		struct sc_run_telegram *t = &run.tg[i];
		t->written = t->at + 0.004;
		t->ended = t->written + 0.08;
		t->late_s = 0.004;
	}
	size_t late[] = {3, 550};
	for (size_t k = 0; k < 2; k++) {
		struct sc_run_telegram *t = &run.tg[late[k]];
		t->late_s = 0.25;
		t->written = t->at + 0.25;
		t->late = true;
	}
	snprintf(run.tg[1].why, sizeof run.tg[1].why, "the meter cable is out (the scenario cut it)");
	run.late = 2;
	struct sc_report_info ri = {.scenario_path = "rep.json", .s = s, .dut = "d",
				    .started = "2026-12-02T01:30:00Z", .wall_s = 1};
	cr_assert_eq(sc_report_write(base, &ri, &run, why, sizeof why), 0, "%s", why);

	char *h = report_file("report.html");
	cr_assert_eq(count(h, "<b>late (rig)</b>"), 2);
	cr_assert(strstr(h, "<td class=\"num\">3.250 <b>late (rig)</b> +250 ms</td>"), "telegram 4");
	cr_assert(strstr(h, "<td class=\"num\">550.250 <b>late (rig)</b> +250 ms</td>"), "telegram 551");
	cr_assert(strstr(h, "<td class=\"num\">2.004</td>"), "written on time");
	cr_assert(strstr(h, "2 telegrams left the meter line more than 50 ms after their time"));
	cr_assert(strstr(h, "the rig's fault, not the unit's. Results right after a late telegram may be "
			    "affected."));
	cr_assert(strstr(h, "Later ones that left late are listed too."));
	cr_assert(strstr(h, "<td>no: the meter cable is out (the scenario cut it)</td>"));
	cr_assert(strstr(h, "2 left late (the rig&#39;s fault, not the unit&#39;s)"), "the summary");
	free(h);

	char *x = report_file("junit.xml");
	cr_assert(strstr(x, "<property name=\"telegrams_late\" value=\"2\"/>"), "%s", x);
	free(x);

	char *j = report_file("result.json");
	cJSON *doc = cJSON_Parse(j);
	cr_assert_not_null(doc);
	cJSON *t = cJSON_GetObjectItem(doc, "telegrams");
	cr_assert_eq(cJSON_GetObjectItem(t, "late")->valueint, 2);
	cJSON *each = cJSON_GetObjectItem(t, "each");
	cr_assert_eq(cJSON_GetArraySize(each), 600);
	cJSON *e = cJSON_GetArrayItem(each, 3);
	cr_assert_eq(cJSON_GetObjectItem(e, "n")->valueint, 4);
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(e, "late")));
	cr_assert_float_eq(cJSON_GetObjectItem(e, "written")->valuedouble, 3.25, 1e-9);
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(each, 2), "late")));
	cJSON *ns = cJSON_GetArrayItem(each, 1);
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(ns, "sent")));
	cr_assert_str_eq(cJSON_GetObjectItem(ns, "why")->valuestring, "the meter cable is out (the scenario cut it)");
	cJSON_Delete(doc);
	free(j);
	sc_run_free(&run);
	sc_scenario_free(s);
}
