/* The reports of a harness run: JUnit XML, a JSON result and a
 * self-contained HTML page (report.h). */
#define _GNU_SOURCE
#include "report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "statefile.h"

/* ---- text ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t k = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
		   : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (!k || k > n || (k == 2 && s[0] < 0xC2))
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return k;
}

/* Text for XML and HTML: markup characters escaped, control characters
 * other than tab and newline and bytes that are not UTF-8 as U+FFFD. */
static void esc_n(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		switch (c) {
		case '&': fputs("&amp;", f); i++; continue;
		case '<': fputs("&lt;", f); i++; continue;
		case '>': fputs("&gt;", f); i++; continue;
		case '"': fputs("&quot;", f); i++; continue;
		case '\'': fputs("&#39;", f); i++; continue;
		case '\t': case '\n': fputc(c, f); i++; continue;
		case '\r': fputs("&#13;", f); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7F) {
			fputs("\xEF\xBF\xBD", f);
			i++;
			continue;
		}
		size_t k = utf8_len(u + i, n - i);
		if (!k) {
			fputs("\xEF\xBF\xBD", f);
			i++;
			continue;
		}
		fwrite(u + i, 1, k, f);
		i += k;
	}
}

static void esc(FILE *f, const char *s)
{
	if (s)
		esc_n(f, s, strlen(s));
}

/* A telegram's bytes for a person: printable as they are, CR LF shown as
 * line ends, other bytes as <XX> (TIC's STX, ETX, LF, CR, HT). */
static void esc_telegram(FILE *f, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];
		if (c == '\r' && i + 1 < n && b[i + 1] == '\n')
			continue;
		if (c == '\n' || (c >= 0x20 && c < 0x7F))
			esc_n(f, b + i, 1);
		else
			fprintf(f, "<span class=\"ctl\">&lt;%02X&gt;</span>", c);
	}
}

static const char *verdict(const struct sc_report_info *ri, const struct sc_run *run)
{
	if (ri->error)
		return "ERROR";
	return run->fail ? "FAIL" : "PASS";
}

/* ---- JUnit XML ---- */

/* A scenario's <testsuite> element. */
static void junit_suite(FILE *f, const struct sc_report_info *ri, const struct sc_run *run)
{
	const char *name = ri->s->name;
	int errors = ri->error ? 1 : 0;
	fprintf(f, "  <testsuite name=\"");
	esc(f, name);
	fprintf(f, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\" timestamp=\"",
		run->n + (size_t)errors, run->fail, errors, run->skip, ri->wall_s);
	esc(f, ri->started);
	fprintf(f, "\">\n    <properties>\n");
	const char *props[][2] = {
		{"scenario", ri->scenario_path}, {"dut", ri->dut}, {"dut_firmware", ri->dut_firmware},
		{"scenario_firmware", ri->s->firmware}, {"port", ri->port}, {"line", ri->line},
	};
	for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
		if (!props[i][1])
			continue;
		fprintf(f, "      <property name=\"%s\" value=\"", props[i][0]);
		esc(f, props[i][1]);
		fprintf(f, "\"/>\n");
	}
	fprintf(f, "      <property name=\"telegrams\" value=\"%zu\"/>\n", run->ntg);
	fprintf(f, "      <property name=\"telegrams_not_sent\" value=\"%d\"/>\n", run->not_sent);
	fprintf(f, "      <property name=\"telegrams_late\" value=\"%d\"/>\n", run->late);
	fprintf(f, "    </properties>\n");
	for (size_t i = 0; i < run->n; i++) {
		const struct sc_result *r = &run->r[i];
		fprintf(f, "    <testcase classname=\"");
		esc(f, name);
		fprintf(f, ".%s\" name=\"", r->kind);
		esc(f, r->where);
		fprintf(f, " ");
		esc(f, r->target);
		fprintf(f, "\" time=\"%.3f\"", r->when - r->at > 0 ? r->when - r->at : 0);
		if (r->pass) {
			fprintf(f, "/>\n");
			continue;
		}
		fprintf(f, ">\n");
		if (r->skipped) {
			fprintf(f, "      <skipped message=\"");
			esc(f, r->actual[0] ? r->actual : r->note[0] ? r->note : "not possible here");
			fprintf(f, "\"/>\n");
		} else {
			fprintf(f, "      <failure type=\"mismatch\" message=\"");
			esc(f, r->target);
			fprintf(f, ": expected ");
			esc(f, r->expected);
			fprintf(f, ", served ");
			esc(f, r->actual);
			fprintf(f, "\">");
			const char *body[][2] = {{"step", r->where},       {"interface", r->kind},
						 {"field", r->target},     {"expected", r->expected},
						 {"actual", r->actual}};
			for (size_t k = 0; k < sizeof body / sizeof body[0]; k++) {
				fprintf(f, "%s: ", body[k][0]);
				esc(f, body[k][1]);
				fputc('\n', f);
			}
			fprintf(f, "time: %.3f s (opened at %.3f s)", r->when, r->at);
			if (r->note[0]) {
				fprintf(f, "\nnote: ");
				esc(f, r->note);
			}
			fprintf(f, "</failure>\n");
		}
		fprintf(f, "    </testcase>\n");
	}
	if (ri->error) {
		fprintf(f, "    <testcase classname=\"");
		esc(f, name);
		fprintf(f, ".run\" name=\"the run\">\n      <error type=\"stopped\" message=\"");
		esc(f, ri->error);
		fprintf(f, "\"/>\n    </testcase>\n");
	}
	fprintf(f, "  </testsuite>\n");
}

static int junit(FILE *f, const struct sc_report_info *ri, const struct sc_run *run)
{
	int errors = ri->error ? 1 : 0;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites name=\"sc-hil\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
		run->n + (size_t)errors, run->fail, errors, run->skip, ri->wall_s);
	junit_suite(f, ri, run);
	fprintf(f, "</testsuites>\n");
	return 0;
}

/* ---- JSON ---- */

static cJSON *num_or_null(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static char *result_json(const struct sc_report_info *ri, const struct sc_run *run)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "scenario", ri->s->name);
	add_str(o, "path", ri->scenario_path);
	add_str(o, "description", ri->s->description);
	add_str(o, "verdict", verdict(ri, run));
	add_str(o, "dut", ri->dut);
	add_str(o, "dut_firmware", ri->dut_firmware);
	add_str(o, "scenario_firmware", ri->s->firmware);
	add_str(o, "port", ri->port);
	add_str(o, "line", ri->line);
	add_str(o, "started", ri->started);
	cJSON_AddNumberToObject(o, "wall_s", ri->wall_s);
	cJSON_AddNumberToObject(o, "duration_s", run->duration);
	cJSON_AddNumberToObject(o, "exit_status", ri->exit_status);
	cJSON_AddNumberToObject(o, "passed", run->pass);
	cJSON_AddNumberToObject(o, "failed", run->fail);
	cJSON_AddNumberToObject(o, "skipped", run->skip);
	add_str(o, "error", ri->error);
	cJSON *rs = cJSON_AddArrayToObject(o, "results");
	for (size_t i = 0; i < run->n; i++) {
		const struct sc_result *r = &run->r[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "where", r->where);
		cJSON_AddStringToObject(e, "status", r->pass ? "pass" : r->skipped ? "skip" : "fail");
		cJSON_AddStringToObject(e, "interface", r->kind);
		cJSON_AddStringToObject(e, "field", r->target);
		cJSON_AddStringToObject(e, "expected", r->expected);
		cJSON_AddStringToObject(e, "actual", r->actual);
		cJSON_AddNumberToObject(e, "at", r->at);
		cJSON_AddNumberToObject(e, "when", r->when);
		if (r->note[0])
			cJSON_AddStringToObject(e, "note", r->note);
		cJSON_AddItemToArray(rs, e);
	}
	int rejected = 0;
	for (size_t i = 0; i < run->ntg; i++)
		rejected += run->tg[i].sent && !run->tg[i].ok;
	cJSON *t = cJSON_AddObjectToObject(o, "telegrams");
	cJSON_AddNumberToObject(t, "sent", (double)run->ntg - run->not_sent);
	cJSON_AddNumberToObject(t, "not_sent", run->not_sent);
	cJSON_AddNumberToObject(t, "rejected_by_oracle", rejected);
	/* Each telegram's time and when it was written: late ones are the
	 * rig's (the meter line's), not the unit's. */
	cJSON_AddNumberToObject(t, "late", run->late);
	cJSON *each = cJSON_AddArrayToObject(t, "each");
	for (size_t i = 0; each && i < run->ntg; i++) {
		const struct sc_run_telegram *g = &run->tg[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "n", (double)(i + 1));
		cJSON_AddNumberToObject(e, "at", g->at);
		cJSON_AddItemToObject(e, "written", num_or_null(g->written));
		cJSON_AddNumberToObject(e, "late_s", g->late_s);
		cJSON_AddBoolToObject(e, "late", g->late);
		cJSON_AddBoolToObject(e, "sent", g->sent);
		if (!g->sent && g->why[0])
			cJSON_AddStringToObject(e, "why", g->why);
		cJSON_AddItemToArray(each, e);
	}
	if (ri->line_stats) {
		const struct sc_meter_port_stats *st = ri->line_stats;
		cJSON *l = cJSON_AddObjectToObject(o, "line_stats");
		cJSON_AddNumberToObject(l, "telegrams", (double)st->telegrams);
		cJSON_AddNumberToObject(l, "bytes", (double)st->bytes);
		cJSON_AddNumberToObject(l, "not_sent_port_away", (double)st->not_sent_gone);
		cJSON_AddNumberToObject(l, "not_sent_data_request_low", (double)st->not_sent_dr);
		cJSON_AddNumberToObject(l, "cut_short_data_request", (double)st->cut_short_dr);
		cJSON_AddNumberToObject(l, "reopens", st->reopens);
		cJSON_AddNumberToObject(l, "longest_away_s", st->longest_away_s);
		cJSON_AddNumberToObject(l, "max_telegram_s", st->max_telegram_s);
	} else {
		cJSON_AddNullToObject(o, "line_stats");
	}
	cJSON *sa = cJSON_AddArrayToObject(o, "samples");
	for (size_t i = 0; i < run->ns; i++) {
		const struct sc_run_sample *s = &run->s[i];
		cJSON *a = cJSON_CreateArray();
		cJSON_AddItemToArray(a, cJSON_CreateNumber(s->at));
		cJSON_AddItemToArray(a, num_or_null(s->want_p));
		cJSON_AddItemToArray(a, num_or_null(s->got_p));
		cJSON_AddItemToArray(a, num_or_null(s->want_e));
		cJSON_AddItemToArray(a, num_or_null(s->got_e));
		cJSON_AddItemToArray(sa, a);
	}
	char *text = cJSON_Print(o);
	cJSON_Delete(o);
	return text;
}

/* ---- plots ---- */

struct series {
	const double *t, *v;  /* stride apart */
	size_t n, stride;
};

static double at(const struct series *s, const double *base, size_t i)
{
	return base[i * s->stride];
}

/* A "nice" step for about n ticks over span. */
static double nice_step(double span, int n)
{
	double raw = span / n;
	double mag = pow(10, floor(log10(raw)));
	double f = raw / mag;
	return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

#define PW 880
#define PH 240
#define ML 80
#define MR 16
#define MT 18
#define MB 34
/* More points than this in a series are drawn as min/max per column. */
#define MAX_POINTS 2000

static void polyline(FILE *f, const struct series *s, double x0, double x1, double y0, double y1,
		     const char *cls)
{
	double sx = (PW - ML - MR) / (x1 - x0), sy = (PH - MT - MB) / (y1 - y0);
	size_t buckets = s->n > MAX_POINTS ? MAX_POINTS / 2 : s->n;
	bool open = false;
	size_t i = 0;
	for (size_t b = 0; b < buckets && i < s->n; b++) {
		size_t end = s->n > MAX_POINTS ? (b + 1) * s->n / buckets : i + 1;
		/* The bucket's first, lowest, highest and last points, in order;
		 * a gap (NAN) ends the line. */
		size_t lo = SIZE_MAX, hi = SIZE_MAX;
		bool gap = false;
		for (size_t k = i; k < end; k++) {
			double v = at(s, s->v, k);
			if (!isfinite(v)) {
				gap = true;
				continue;
			}
			if (lo == SIZE_MAX || v < at(s, s->v, lo))
				lo = k;
			if (hi == SIZE_MAX || v > at(s, s->v, hi))
				hi = k;
		}
		if (gap && open) {
			fprintf(f, "\"/>\n");
			open = false;
		}
		size_t pts[2] = {lo < hi ? lo : hi, lo < hi ? hi : lo};
		for (int k = 0; k < 2 && lo != SIZE_MAX; k++) {
			if (k == 1 && pts[1] == pts[0])
				break;
			double x = ML + (at(s, s->t, pts[k]) - x0) * sx;
			double y = MT + (y1 - at(s, s->v, pts[k])) * sy;
			if (!open) {
				fprintf(f, "<polyline class=\"%s\" points=\"", cls);
				open = true;
			}
			fprintf(f, "%.1f,%.1f ", x, y);
		}
		i = end;
	}
	if (open)
		fprintf(f, "\"/>\n");
}

/* A short label for a step that acts on the device, or NULL. */
static const char *event_label(const struct sc_step *st)
{
	const struct sc_action *a = &st->action;
	switch (a->kind) {
	case SC_ACT_METER:
		return a->cut ? "cable out" : "cable in";
	case SC_ACT_BROKER:
		return a->cut ? "broker down" : "broker up";
	case SC_ACT_POWER:
		return "power cut";
	case SC_ACT_BUTTON:
		return a->button == SC_BUTTON_DOWN ? "button down" : a->button == SC_BUTTON_UP ? "button up" : "button";
	case SC_ACT_NETWORK:
		return "network";
	default:
		return NULL;
	}
}

/* The scenario's actions as vertical lines with a label, inside the frame. */
static void markers(FILE *f, const struct sc_scenario *s, double x0, double x1)
{
	for (int i = 0; s && i < s->nsteps; i++) {
		const struct sc_step *st = &s->steps[i];
		const char *label = event_label(st);
		if (!label || st->at < x0 || st->at > x1)
			continue;
		double x = ML + (st->at - x0) / (x1 - x0) * (PW - ML - MR);
		fprintf(f, "<g class=\"event\" data-step=\"%d\"><line class=\"ev\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>",
			st->index, x, MT, x, PH - MB);
		fprintf(f, "<text class=\"evl\" x=\"%.1f\" y=\"%d\">%s</text></g>\n", x + 3, MT + 12, label);
	}
}

static void plot(FILE *f, const char *title, const char *unit, const struct series *want,
		 const struct series *got, double t_end, const struct sc_scenario *sc)
{
	double x0 = 0, x1 = t_end > 0 ? t_end : 1;
	double y0 = INFINITY, y1 = -INFINITY;
	const struct series *ss[2] = {want, got};
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; ss[k] && i < ss[k]->n; i++) {
			double v = at(ss[k], ss[k]->v, i), t = at(ss[k], ss[k]->t, i);
			if (t > x1)
				x1 = t;
			if (!isfinite(v))
				continue;
			y0 = v < y0 ? v : y0;
			y1 = v > y1 ? v : y1;
		}
	fprintf(f, "<figure>\n<figcaption>");
	esc(f, title);
	fprintf(f, "</figcaption>\n");
	if (!isfinite(y0)) {
		fprintf(f, "<p class=\"note\">No values to plot.</p>\n</figure>\n");
		return;
	}
	if (y1 - y0 < 1e-9) {
		y0 -= 1;
		y1 += 1;
	} else {
		double pad = (y1 - y0) * 0.05;
		y0 -= pad;
		y1 += pad;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">\n",
		PW, PH, PW, PH);
	fprintf(f, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", ML, MT,
		PW - ML - MR, PH - MT - MB);
	double ys = nice_step(y1 - y0, 5);
	for (double v = ceil(y0 / ys) * ys; v <= y1; v += ys) {
		double y = MT + (y1 - v) / (y1 - y0) * (PH - MT - MB);
		fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", ML, y, PW - MR, y);
		fprintf(f, "<text class=\"yl\" x=\"%d\" y=\"%.1f\">%.10g</text>\n", ML - 6, y + 4,
			fabs(v) < ys * 1e-6 ? 0.0 : v);
	}
	double xs = nice_step(x1 - x0, 8);
	for (double v = 0; v <= x1 + xs * 1e-9; v += xs) {
		double x = ML + (v - x0) / (x1 - x0) * (PW - ML - MR);
		fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, MT, x, PH - MB);
		fprintf(f, "<text class=\"xl\" x=\"%.1f\" y=\"%d\">%.6g</text>\n", x, PH - MB + 16, v);
	}
	fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\">scenario time (s)</text>\n", PW - MR, PH - 2);
	fprintf(f, "<text class=\"unit\" x=\"4\" y=\"%d\">", MT - 2);
	esc(f, unit);
	fprintf(f, "</text>\n");
	markers(f, sc, x0, x1);
	polyline(f, want, x0, x1, y0, y1, "want");
	if (got)
		polyline(f, got, x0, x1, y0, y1, "got");
	fprintf(f, "</svg>\n<p class=\"legend\"><span class=\"kw\">&#9473;</span> expected (the twin)");
	if (got)
		fprintf(f, " &#160; <span class=\"kg\">&#9473;</span> served by the device");
	fprintf(f, "</p>\n</figure>\n");
}

/* ---- HTML ---- */

/* Exported energy, when the telegrams carry it: expected from each telegram,
 * served from the device's energy_export register read back after it. */
static void export_plot(FILE *f, const struct sc_report_info *ri, const struct sc_run *run, double t_end)
{
	size_t n = run->ntg;
	bool any = false, served = false;
	for (size_t i = 0; i < n; i++) {
		any = any || (run->tg[i].ok && isfinite(run->tg[i].e_export));
		served = served || run->tg[i].served;
	}
	if (!any)
		return;
	int key = -1;
	for (int k = 0; k < SC_REGMAP_NKEY; k++)
		if (!strcmp(sc_regmap_key[k], "energy_export"))
			key = k;
	double *d = malloc(n * 3 * sizeof *d);
	if (!d)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct sc_run_telegram *t = &run->tg[i];
		d[3 * i] = t->at;
		d[3 * i + 1] = t->ok ? t->e_export : NAN;
		d[3 * i + 2] = t->served && key >= 0 ? (double)t->regs[key] : NAN;
	}
	struct series we = {d, d + 1, n, 3};
	struct series ge = {d, d + 2, n, 3};
	plot(f, "Exported energy E_EXPORT", "Wh", &we, served && key >= 0 ? &ge : NULL, t_end, ri->s);
	free(d);
}

static const char *css =
	"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
	".verdict{display:inline-block;padding:4px 14px;border-radius:4px;color:#fff;font-weight:bold;font-size:18px}"
	".PASS{background:#1a7f37}.FAIL{background:#c62828}.ERROR{background:#8e24aa}"
	"table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}"
	"th{background:#f3f3f3}tr.fail td{background:#fdecea}tr.skip td{color:#777}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}code,pre{font:12px ui-monospace,monospace}"
	"pre{white-space:pre-wrap;margin:4px 0;background:#f8f8f8;padding:6px}.ctl{color:#999}"
	"figure{margin:12px 0}figcaption{font-weight:bold}.note{color:#666}"
	"svg .frame{fill:none;stroke:#999}svg .grid{stroke:#eee}svg text{font:11px sans-serif;fill:#555}"
	"svg .yl{text-anchor:end}svg .xl{text-anchor:middle}svg .axis{text-anchor:end}svg .unit{text-anchor:start;font-weight:bold}"
	"svg .ev{stroke:#8e24aa;stroke-dasharray:2 2}svg .evl{fill:#8e24aa;text-anchor:start}"
	"svg polyline{fill:none;stroke-width:1.5}svg .want{stroke:#1f77b4}svg .got{stroke:#ff7f0e;stroke-dasharray:5 3}"
	".kw{color:#1f77b4}.kg{color:#ff7f0e}.legend{margin:2px 0 0 80px}";

static void row2(FILE *f, const char *k, const char *v)
{
	if (!v)
		return;
	fprintf(f, "<tr><th>");
	esc(f, k);
	fprintf(f, "</th><td>");
	esc(f, v);
	fprintf(f, "</td></tr>\n");
}

static void results_table(FILE *f, const struct sc_run *run, int want)
{
	/* want: 0 failures, 1 the others */
	fprintf(f, "<table>\n<tr><th>where</th><th>result</th><th>interface</th><th>field</th>"
		   "<th>expected</th><th>served</th><th>time (s)</th></tr>\n");
	for (size_t i = 0; i < run->n; i++) {
		const struct sc_result *r = &run->r[i];
		bool fail = !r->pass && !r->skipped;
		if (fail != (want == 0))
			continue;
		fprintf(f, "<tr class=\"%s\"><td><code>", fail ? "fail" : r->skipped ? "skip" : "pass");
		esc(f, r->where);
		fprintf(f, "</code></td><td>%s</td><td>", fail ? "FAIL" : r->skipped ? "SKIP" : "PASS");
		esc(f, r->kind);
		fprintf(f, "</td><td>");
		esc(f, r->target);
		fprintf(f, "</td><td>");
		esc(f, r->expected);
		fprintf(f, "</td><td>");
		esc(f, r->actual);
		if (r->note[0]) {
			fprintf(f, "<br><span class=\"note\">");
			esc(f, r->note);
			fprintf(f, "</span>");
		}
		fprintf(f, "</td><td class=\"num\">%.2f</td></tr>\n", r->when);
	}
	fprintf(f, "</table>\n");
}

/* Telegrams listed in the page; the rest are counted. */
#define MAX_TELEGRAM_ROWS 500

/* Each telegram's power_instant, when the run accounted them: whether its
 * message came and when (the result "power_instant each telegram" sums
 * them up). */
static void power_instant_table(FILE *f, const struct sc_run *run)
{
	size_t judged = 0;
	for (size_t i = 0; i < run->ntg; i++)
		judged += run->tg[i].pi != SC_PI_UNCHECKED;
	if (!judged)
		return;
	fprintf(f, "<h2 id=\"power-instant\">power_instant of each telegram</h2>\n");
	for (size_t i = 0; i < run->n; i++)
		if (strcmp(run->r[i].target, "power_instant each telegram") == 0) {
			fprintf(f, "<p>");
			esc(f, run->r[i].actual);
			if (run->r[i].note[0]) {
				fprintf(f, "; ");
				esc(f, run->r[i].note);
			}
			fprintf(f, "</p>\n");
		}
	if (run->ntg > MAX_TELEGRAM_ROWS)
		fprintf(f, "<p class=\"note\">The first %d of %zu are listed.</p>\n", MAX_TELEGRAM_ROWS, run->ntg);
	fprintf(f, "<table>\n<tr><th>#</th><th>sent (s)</th><th>power_instant</th><th>came at (s)</th></tr>\n");
	for (size_t i = 0; i < run->ntg && i < MAX_TELEGRAM_ROWS; i++) {
		const struct sc_run_telegram *t = &run->tg[i];
		const char *what = "", *cls = "";
		char buf[64];
		switch (t->pi) {
		case SC_PI_DELIVERED:
			if (t->pi_msgs > 1)
				snprintf(buf, sizeof buf, "delivered %d times%s", t->pi_msgs,
					 t->pi_out_of_order ? ", out of order" : "");
			else
				snprintf(buf, sizeof buf, "delivered%s", t->pi_out_of_order ? " out of order" : "");
			what = buf;
			cls = t->pi_msgs > 1 || t->pi_out_of_order ? " class=\"fail\"" : "";
			break;
		case SC_PI_LOST:
			what = "lost";
			cls = " class=\"fail\"";
			break;
		case SC_PI_NOT_DUE:
			what = t->sent ? "none due (the twin rejected it)" : "none due (not sent)";
			cls = " class=\"skip\"";
			break;
		case SC_PI_UNSURE:
			what = "not judged (sent as the line came back)";
			cls = " class=\"skip\"";
			break;
		case SC_PI_OFFLINE:
			what = "not judged (the device could not publish)";
			cls = " class=\"skip\"";
			break;
		case SC_PI_UNCHECKED:
			break;
		}
		fprintf(f, "<tr%s><td class=\"num\">%zu</td><td class=\"num\">%.2f</td><td>%s</td>", cls, i + 1,
			t->at, what);
		if (t->pi == SC_PI_DELIVERED && isfinite(t->pi_seen))
			fprintf(f, "<td class=\"num\">%.2f</td></tr>\n", t->pi_seen);
		else
			fprintf(f, "<td></td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

static int html(FILE *f, const struct sc_report_info *ri, const struct sc_run *run)
{
	const char *v = verdict(ri, run);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
	fprintf(f, "%s: ", v);
	esc(f, ri->s->name);
	fprintf(f, " (sc-hil)</title>\n<style>%s</style>\n</head>\n<body>\n", css);
	fprintf(f, "<h1>Scenario ");
	esc(f, ri->s->name);
	fprintf(f, "</h1>\n<p><span class=\"verdict %s\" id=\"verdict\">%s</span> &#160; %d passed, %d failed, %d skipped</p>\n",
		v, v, run->pass, run->fail, run->skip);
	if (ri->error) {
		fprintf(f, "<p><b>The run stopped early:</b> ");
		esc(f, ri->error);
		fprintf(f, "</p>\n");
	}

	fprintf(f, "<h2>Summary</h2>\n<table>\n");
	row2(f, "description", ri->s->description);
	row2(f, "scenario file", ri->scenario_path);
	row2(f, "device under test", ri->dut);
	char buf[160];
	snprintf(buf, sizeof buf, "%s (the scenario is written for %s)",
		 ri->dut_firmware ? ri->dut_firmware : "not said", ri->s->firmware);
	row2(f, "firmware", buf);
	if (ri->port) {
		snprintf(buf, sizeof buf, "%s%s%s", ri->port, ri->line ? " at " : "", ri->line ? ri->line : "");
		row2(f, "meter port", buf);
	}
	row2(f, "started", ri->started);
	snprintf(buf, sizeof buf, "%.1f s of scenario time in %.1f s", run->duration, ri->wall_s);
	row2(f, "duration", buf);
	snprintf(buf, sizeof buf, "%zu sent%s", run->ntg - (size_t)run->not_sent, "");
	if (run->not_sent)
		snprintf(buf, sizeof buf, "%zu sent, %d did not reach the device", run->ntg - (size_t)run->not_sent,
			 run->not_sent);
	if (run->late) {
		size_t used = strlen(buf);
		snprintf(buf + used, sizeof buf - used, "; %d left late (the rig's fault, not the unit's)",
			 run->late);
	}
	row2(f, "telegrams", buf);
	if (ri->line_stats) {
		const struct sc_meter_port_stats *st = ri->line_stats;
		snprintf(buf, sizeof buf,
			 "%llu bytes; slowest telegram %.3f s on the line; port away %u time%s (longest %.1f s); "
			 "Data Request low %llu, cut short %llu",
			 (unsigned long long)st->bytes, st->max_telegram_s, st->reopens, st->reopens == 1 ? "" : "s",
			 st->longest_away_s, (unsigned long long)st->not_sent_dr,
			 (unsigned long long)st->cut_short_dr);
		row2(f, "line", buf);
	}
	snprintf(buf, sizeof buf, "%d", ri->exit_status);
	row2(f, "exit status", buf);
	fprintf(f, "</table>\n");

	fprintf(f, "<h2 id=\"mismatches\">Mismatches (%d)</h2>\n", run->fail);
	if (run->fail)
		results_table(f, run, 0);
	else
		fprintf(f, "<p>None: everything the scenario expects, the device served.</p>\n");

	fprintf(f, "<h2>Power and energy over time</h2>\n");
	double t_end = run->duration;
	if (run->ns) {
		const double *b = &run->s[0].at;
		size_t stride = sizeof run->s[0] / sizeof(double);
		struct series wp = {b, &run->s[0].want_p, run->ns, stride};
		struct series gp = {b, &run->s[0].got_p, run->ns, stride};
		struct series we = {b, &run->s[0].want_e, run->ns, stride};
		struct series ge = {b, &run->s[0].got_e, run->ns, stride};
		plot(f, "Active power P", "W", &wp, &gp, t_end, ri->s);
		plot(f, "Imported energy E_IMPORT", "Wh", &we, &ge, t_end, ri->s);
	} else {
		/* Only what the twin expected: values were not read back. */
		size_t n = run->ntg;
		double *d = n ? malloc(n * 3 * sizeof *d) : NULL;
		for (size_t i = 0; d && i < n; i++) {
			d[3 * i] = run->tg[i].at;
			d[3 * i + 1] = run->tg[i].ok ? run->tg[i].p : NAN;
			d[3 * i + 2] = run->tg[i].ok ? run->tg[i].e_import : NAN;
		}
		fprintf(f, "<p class=\"note\">What the device served after each telegram was not read back "
			   "(--no-read-back): the plots show what the twin expected.</p>\n");
		struct series wp = {d, d ? d + 1 : NULL, d ? n : 0, 3};
		struct series we = {d, d ? d + 2 : NULL, d ? n : 0, 3};
		plot(f, "Active power P", "W", &wp, NULL, t_end, ri->s);
		plot(f, "Imported energy E_IMPORT", "Wh", &we, NULL, t_end, ri->s);
		free(d);
	}

	export_plot(f, ri, run, t_end);

	fprintf(f, "<h2>Expectations met or skipped (%d)</h2>\n", run->pass + run->skip);
	results_table(f, run, 1);

	power_instant_table(f, run);
	fprintf(f, "<h2>Telegrams sent (%zu)</h2>\n", run->ntg);
	if (run->late)
		fprintf(f, "<p class=\"note\" id=\"late\">%d telegram%s left the meter line more than %.0f ms "
			   "after %s time (marked late (rig) below): the rig's fault, not the unit's. Results "
			   "right after a late telegram may be affected.</p>\n",
			run->late, run->late == 1 ? "" : "s", SC_RUN_LATE_S * 1000, run->late == 1 ? "its" : "their");
	if (run->ntg > MAX_TELEGRAM_ROWS)
		fprintf(f, "<p class=\"note\">The first %d of %zu are listed.%s</p>\n", MAX_TELEGRAM_ROWS,
			run->ntg, run->late ? " Later ones that left late are listed too." : "");
	fprintf(f, "<table id=\"telegrams\">\n<tr><th>#</th><th>time (s)</th><th>written (s)</th><th>step</th>"
		   "<th>bytes</th><th>reached the device</th><th>P (W)</th><th>E_IMPORT (Wh)</th><th>text</th></tr>\n");
	for (size_t i = 0; i < run->ntg; i++) {
		const struct sc_run_telegram *t = &run->tg[i];
		if (i >= MAX_TELEGRAM_ROWS && !t->late)
			continue;
		fprintf(f, "<tr%s><td class=\"num\">%zu</td><td class=\"num\">%.2f</td>",
			t->late ? " class=\"fail\"" : t->sent ? "" : " class=\"skip\"", i + 1, t->at);
		/* When it left (scenario s, by the line's clock). */
		if (!t->sent || !isfinite(t->written))
			fprintf(f, "<td></td>");
		else if (t->late)
			fprintf(f, "<td class=\"num\">%.3f <b>late (rig)</b> +%.0f ms</td>", t->written,
				t->late_s * 1000);
		else
			fprintf(f, "<td class=\"num\">%.3f</td>", t->written);
		fprintf(f, "<td class=\"num\">%d</td><td class=\"num\">%zu</td><td>", t->step, t->len);
		if (t->sent)
			fprintf(f, "%s", t->ok ? "yes" : "yes (the twin rejected it)");
		else if (t->why[0]) {
			fprintf(f, "no: ");
			esc(f, t->why);
		} else
			fprintf(f, "no");
		fprintf(f, "</td>");
		if (t->ok && isfinite(t->p))
			fprintf(f, "<td class=\"num\">%.10g</td>", t->p);
		else
			fprintf(f, "<td></td>");
		if (t->ok && isfinite(t->e_import))
			fprintf(f, "<td class=\"num\">%.10g</td>", t->e_import);
		else
			fprintf(f, "<td></td>");
		if (t->bytes) {
			fprintf(f, "<td><details><summary>show</summary><pre>");
			esc_telegram(f, t->bytes, t->len);
			fprintf(f, "</pre></details></td></tr>\n");
		} else {
			fprintf(f, "<td></td></tr>\n");
		}
	}
	fprintf(f, "</table>\n<p class=\"note\">Written by sc-hil; this page fetches nothing.</p>\n</body>\n</html>\n");
	return 0;
}

static int json(FILE *f, const struct sc_report_info *ri, const struct sc_run *run)
{
	char *text = result_json(ri, run);
	if (!text)
		return -1;
	fprintf(f, "%s\n", text);
	free(text);
	return 0;
}

/* A document written to the memory stream f (over *buf, *len) closed and
 * put in place whole as dir/name; bad: its writer already failed. Frees
 * the buffer. 0, or -1 with why. */
static int put_doc(const char *dir, const char *name, FILE *f, char **buf, size_t *len, bool bad,
		   char *why, size_t cap)
{
	bad |= ferror(f) != 0;
	bad |= fclose(f) != 0;
	if (bad || !*buf) {
		free(*buf);
		snprintf(why, cap, "%s: out of memory", name);
		return -1;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int rc = sc_write_file_atomic(path, *buf, *len, 0644, why, cap);
	free(*buf);
	return rc;
}

/* One file of the report, written whole by its writer and put in place. */
static int write_doc(const char *dir, const char *name,
		     int (*writer)(FILE *, const struct sc_report_info *, const struct sc_run *),
		     const struct sc_report_info *ri, const struct sc_run *run, char *why, size_t cap)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		snprintf(why, cap, "%s: out of memory", name);
		return -1;
	}
	bool bad = writer(f, ri, run) != 0;
	return put_doc(dir, name, f, &buf, &len, bad, why, cap);
}

int sc_report_write(const char *dir, const struct sc_report_info *ri, const struct sc_run *run,
		    char *why, size_t cap)
{
	if (write_doc(dir, "junit.xml", junit, ri, run, why, cap) != 0 ||
	    write_doc(dir, "result.json", json, ri, run, why, cap) != 0 ||
	    write_doc(dir, "report.html", html, ri, run, why, cap) != 0)
		return -1;
	return 0;
}

/* mkdir -p */
static int mkdirs(const char *path, char *why, size_t cap)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			snprintf(why, cap, "%s: %s", p, strerror(errno));
			return -1;
		}
		*s = '/';
	}
	if (mkdir(p, 0755) != 0 && errno != EEXIST) {
		snprintf(why, cap, "%s: %s", p, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, cap, "%s: not a directory", p);
		return -1;
	}
	return 0;
}

/* name as a file name: letters, digits, '-', '_' and '.' kept, the rest
 * '_', never empty or hidden. */
static void safe_name(const char *name, char *safe, size_t cap)
{
	size_t k = 0;
	for (const char *s = name; *s && k < cap - 1; s++)
		safe[k++] = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
				    *s == '-' || *s == '_' || *s == '.'
			    ? *s
			    : '_';
	safe[k] = '\0';
	if (!k || safe[0] == '.')
		safe[0] = '_', safe[1] = k ? safe[1] : '\0';
}

/* Creates base/stem, or base/stem-2, -3 ... when taken; its path in out.
 * 0, or -1 with why. */
static int new_dir(const char *base, const char *stem, char *out, size_t cap, char *why, size_t whycap)
{
	for (int n = 1; n < 1000; n++) {
		if (n == 1)
			snprintf(out, cap, "%s/%s", base, stem);
		else
			snprintf(out, cap, "%s/%s-%d", base, stem, n);
		if (mkdir(out, 0755) == 0)
			return 0;
		if (errno != EEXIST) {
			snprintf(why, whycap, "%s: %s", out, strerror(errno));
			return -1;
		}
	}
	snprintf(why, whycap, "%s: no free name for a folder %s", base, stem);
	return -1;
}

int sc_report_dir(const char *base, const char *started, const char *name, char *out, size_t cap, char *why,
		  size_t whycap)
{
	if (mkdirs(base, why, whycap) != 0)
		return -1;
	char safe[64];
	safe_name(name, safe, sizeof safe);
	/* The run's start as ISO 8601 UTC, ':' (not allowed in a file name
	 * everywhere) as '-': 2026-12-06T23-20-05Z. */
	char stamp[32];
	if (started && *started) {
		size_t j = 0;
		for (const char *c = started; *c && j < sizeof stamp - 1; c++)
			stamp[j++] = *c == ':' ? '-' : (*c >= '0' && *c <= '9') || *c == '-' || *c == 'T' || *c == 'Z' ? *c : '_';
		stamp[j] = '\0';
	} else {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H-%M-%SZ", &tm);
	}
	char stem[100];
	snprintf(stem, sizeof stem, "%s-%s", stamp, safe);
	return new_dir(base, stem, out, cap, why, whycap);
}

int sc_report_subdir(const char *base, const char *name, char *out, size_t cap, char *why, size_t whycap)
{
	char safe[64];
	safe_name(name, safe, sizeof safe);
	return new_dir(base, safe, out, cap, why, whycap);
}

/* ---- a suite: several scenarios on one device ---- */

static void suite_junit(FILE *f, const struct sc_report_entry *e, size_t n, double wall_s)
{
	size_t tests = 0;
	int failures = 0, errors = 0, skipped = 0;
	for (size_t i = 0; i < n; i++) {
		if (!e[i].ran)
			continue;
		tests += e[i].run->n + (e[i].ri.error ? 1 : 0);
		failures += e[i].run->fail;
		errors += e[i].ri.error ? 1 : 0;
		skipped += e[i].run->skip;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites name=\"sc-hil\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
		tests, failures, errors, skipped, wall_s);
	for (size_t i = 0; i < n; i++) {
		if (e[i].ran) {
			junit_suite(f, &e[i].ri, e[i].run);
			continue;
		}
		/* Not run (the bench stopped before it): an error, so that a CI
		 * does not count it as passed. */
		fprintf(f, "  <testsuite name=\"");
		esc(f, e[i].ri.s->name);
		fprintf(f, "\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0\">\n"
			   "    <testcase classname=\"");
		esc(f, e[i].ri.s->name);
		fprintf(f, ".run\" name=\"the run\">\n      <error type=\"not-run\" message=\"not run: "
			   "the bench stopped before this scenario\"/>\n    </testcase>\n  </testsuite>\n");
	}
	fprintf(f, "</testsuites>\n");
}

static void suite_html(FILE *f, const struct sc_report_entry *e, size_t n, const char *started,
		       double wall_s)
{
	size_t passed = 0, failed = 0, notrun = 0;
	for (size_t i = 0; i < n; i++) {
		if (!e[i].ran)
			notrun++;
		else if (e[i].ri.error || e[i].run->fail)
			failed++;
		else
			passed++;
	}
	const char *v = failed ? "FAIL" : notrun ? "ERROR" : "PASS";
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		   "<title>%s: %zu scenarios (sc-hil)</title>\n<style>%s"
		   ".NOTRUN{background:#777}</style>\n</head>\n<body>\n",
		v, n, css);
	fprintf(f, "<h1>Suite of %zu scenarios</h1>\n<p><span class=\"verdict %s\" id=\"verdict\">%s</span>"
		   " &#160; %zu passed, %zu failed, %zu not run</p>\n",
		n, v, v, passed, failed, notrun);
	fprintf(f, "<table>\n");
	row2(f, "device under test", n ? e[0].ri.dut : NULL);
	row2(f, "firmware it said", n ? e[0].ri.dut_firmware : NULL);
	row2(f, "started (UTC)", started);
	char buf[64];
	snprintf(buf, sizeof buf, "%.2f s", wall_s);
	row2(f, "time taken", buf);
	fprintf(f, "</table>\n<h2>Scenarios</h2>\n<table id=\"scenarios\">\n<tr><th>scenario</th>"
		   "<th>verdict</th><th>passed</th><th>failed</th><th>skipped</th><th>telegrams</th>"
		   "<th>time (s)</th><th>file</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		const struct sc_report_entry *x = &e[i];
		const char *sv = !x->ran ? "NOTRUN" : verdict(&x->ri, x->run);
		fprintf(f, "<tr class=\"%s\"><td>", strcmp(sv, "PASS") == 0 ? "" : "fail");
		if (x->href) {
			fprintf(f, "<a href=\"");
			esc(f, x->href);
			fprintf(f, "/report.html\">");
			esc(f, x->ri.s->name);
			fprintf(f, "</a>");
		} else {
			esc(f, x->ri.s->name);
		}
		fprintf(f, "</td><td><span class=\"verdict %s\">%s</span></td>", sv,
			strcmp(sv, "NOTRUN") == 0 ? "NOT RUN" : sv);
		if (x->ran)
			fprintf(f, "<td class=\"num\">%d</td><td class=\"num\">%d</td><td class=\"num\">%d</td>"
				   "<td class=\"num\">%zu</td><td class=\"num\">%.2f</td>",
				x->run->pass, x->run->fail, x->run->skip, x->run->ntg, x->ri.wall_s);
		else
			fprintf(f, "<td></td><td></td><td></td><td></td><td></td>");
		fprintf(f, "<td><code>");
		esc(f, x->ri.scenario_path);
		fprintf(f, "</code>");
		if (x->ri.error) {
			fprintf(f, "<br>stopped: ");
			esc(f, x->ri.error);
		}
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n</body>\n</html>\n");
}

static int put_suite_doc(const char *dir, const char *name, const struct sc_report_entry *e, size_t n,
			 const char *started, double wall_s, bool is_html, char *why, size_t cap)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		snprintf(why, cap, "%s: out of memory", name);
		return -1;
	}
	if (is_html)
		suite_html(f, e, n, started, wall_s);
	else
		suite_junit(f, e, n, wall_s);
	return put_doc(dir, name, f, &buf, &len, false, why, cap);
}

int sc_report_suite(const char *dir, const struct sc_report_entry *e, size_t n, const char *started,
		    double wall_s, char *why, size_t cap)
{
	if (put_suite_doc(dir, "junit.xml", e, n, started, wall_s, false, why, cap) != 0 ||
	    put_suite_doc(dir, "index.html", e, n, started, wall_s, true, why, cap) != 0)
		return -1;
	return 0;
}
