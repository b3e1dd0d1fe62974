/* The run's record (struct sc_run): the results with their log lines, the
 * telegrams sent and the samples read back, grown as the run goes. */
#include "runner_int.h"

struct sc_result *sc_results_add(struct sc_run *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct sc_result *n = realloc(r->r, cap * sizeof *n);
		if (!n)
			return NULL;
		r->r = n;
		r->cap = cap;
	}
	struct sc_result *x = &r->r[r->n++];
	memset(x, 0, sizeof *x);
	return x;
}

void sc_results_report(struct sc_run *run, FILE *log, const struct sc_result *x)
{
	if (x->skipped)
		run->skip++;
	else if (x->pass)
		run->pass++;
	else
		run->fail++;
	if (!log)
		return;
	if (x->skipped)
		fprintf(log, "SKIP %s at %g s: %s %s: %s\n", x->where, x->at, x->kind, x->target,
			x->actual);
	else if (x->pass)
		fprintf(log, "PASS %s at %g s: %s %s: %s\n", x->where, x->at, x->kind, x->target,
			x->actual);
	else
		fprintf(log, "FAIL %s at %g s: %s %s: expected %s, got %s%s%s%s\n", x->where, x->at,
			x->kind, x->target, x->expected, x->actual, x->note[0] ? " (" : "",
			x->note, x->note[0] ? ")" : "");
	fflush(log);
}

int sc_run_skip(struct sc_run *run, FILE *log, const struct sc_step *st,
		const struct sc_expect *e, const char *why)
{
	struct sc_result *x = sc_results_add(run);
	if (!x)
		return -1;
	sc_str_copy(x->where, sizeof x->where, e->where[0] ? e->where : st->where);
	x->at = st->at;
	x->when = st->at;
	sc_str_copy(x->kind, sizeof x->kind, sc_expect_kind_name(e->kind));
	sc_str_copy(x->target, sizeof x->target, e->kind == SC_EXPECT_MQTT ? e->metric : e->path);
	sc_str_copy(x->expected, sizeof x->expected, "not checked");
	sc_str_copy(x->actual, sizeof x->actual, why);
	x->skipped = true;
	sc_results_report(run, log, x);
	return 0;
}

struct sc_run_telegram *sc_results_telegram(struct sc_run *r)
{
	if (r->ntg == r->captg) {
		size_t cap = r->captg ? r->captg * 2 : 256;
		struct sc_run_telegram *n = realloc(r->tg, cap * sizeof *n);
		if (!n)
			return NULL;
		r->tg = n;
		r->captg = cap;
	}
	struct sc_run_telegram *t = &r->tg[r->ntg++];
	memset(t, 0, sizeof *t);
	return t;
}

void sc_results_sample(struct sc_run *r, const struct sc_run_sample *smp)
{
	if (r->ns == r->caps) {
		size_t cap = r->caps ? r->caps * 2 : 256;
		struct sc_run_sample *n = realloc(r->s, cap * sizeof *n);
		if (n) {
			r->s = n;
			r->caps = cap;
		}
	}
	if (r->ns < r->caps)
		r->s[r->ns++] = *smp;
}

void sc_run_free(struct sc_run *run)
{
	for (size_t i = 0; i < run->ntg; i++) {
		free(run->tg[i].bytes);
		free(run->tg[i].mqtt);
	}
	free(run->tg);
	free(run->r);
	free(run->s);
	memset(run, 0, sizeof *run);
}
