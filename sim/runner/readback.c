/* What the device serves after each telegram: with io.sample its power and
 * energy import compared with the oracle's (a FAIL line for each of the
 * first that differ, a result that sums them at the end); with io.record
 * the key registers and the power_instant received since, kept with the
 * telegram. Read io.latency after the telegram's last byte went out, from
 * a queue; not read when a newer telegram went out first. */
#include "runner_int.h"

#define SAMPLE_FAIL_LINES 10

static bool same_float(double want, double got)
{
	if (isnan(want) || isnan(got))
		return isnan(want) && isnan(got);
	return fabs(want - got) <= fabs(want) * 1e-6;
}

/* The words served for P and E_IMPORT and the oracle's values for the
 * telegram before (NAN unknown), for the diagnosis of a mismatch. */
struct served_words {
	uint16_t p[2], e[2];
	double prev_p, prev_e;
};

int sc_readback_served_moved(const struct sc_run *run, const struct sc_run_sample *cur, size_t n)
{
	const struct sc_run_sample *later = cur;
	size_t seen = cur ? 1 : 0;
	bool moved = false;
	for (size_t i = run->ns; i-- > 0 && seen < n;) {
		const struct sc_run_sample *s = &run->s[i];
		if (isnan(s->got_p) || isnan(s->got_e))
			return -1; /* one not read: the window is not whole */
		if (later && (s->got_p != later->got_p || s->got_e != later->got_e))
			moved = true;
		later = s;
		seen++;
	}
	return seen < n ? -1 : moved ? 1 : 0;
}

/* The likely cause of a sample that differs (diagnose.h). */
static void diagnose_sample(struct sc_runner *c, const struct sc_run_sample *smp,
			    const struct served_words *sw, struct sc_dx_cause *cause)
{
	struct sc_dx_value v[2];
	enum sc_word_order order = c->oracle.regs.order;
	sc_dx_register(0x8016, sw->p, order, smp->want_p, sw->prev_p, &v[0]);
	sc_dx_register(0x8100, sw->e, order, smp->want_e, sw->prev_e, &v[1]);
	struct sc_dx_input in = {v, 2, sc_readback_served_moved(c->run, smp, 3),
				 sc_oracle_moved(c->run, 2)};
	sc_diagnose(&in, cause);
}

static void check_sample(struct sc_runner *c, const struct sc_run_sample *smp, bool read,
			 const struct served_words *sw)
{
	c->rb.samples++;
	if (!read) {
		c->rb.unread++;
		return;
	}
	if (same_float(smp->want_p, smp->got_p) && same_float(smp->want_e, smp->got_e))
		return;
	struct sc_dx_cause cause;
	diagnose_sample(c, smp, sw, &cause);
	c->rb.ncause[cause.cause]++;
	c->rb.cause[cause.cause] = cause;
	if (c->rb.bad++ >= SAMPLE_FAIL_LINES)
		return;
	struct sc_result *x = sc_results_add(c->run);
	if (!x)
		return;
	sc_rn_fmt(x->where, sizeof x->where, "telegram %zu", c->run->ntg - 1);
	x->at = x->when = smp->at;
	sc_str_copy(x->kind, sizeof x->kind, "modbus");
	sc_str_copy(x->target, sizeof x->target, "0x8016 active_power, 0x8100 energy_import");
	sc_rn_fmt(x->expected, sizeof x->expected, "%s, %s", sc_rn_ftext(smp->want_p).s, sc_rn_ftext(smp->want_e).s);
	sc_rn_fmt(x->actual, sizeof x->actual, "%s, %s", sc_rn_ftext(smp->got_p).s, sc_rn_ftext(smp->got_e).s);
	sc_diagnose_append(x->actual, sizeof x->actual, &cause);
	if (c->rb.bad == SAMPLE_FAIL_LINES)
		sc_str_copy(x->note, sizeof x->note, "later ones are counted, not listed");
	sc_results_report(c->run, c->log, x);
}

/* Appends the cause named for most of the telegrams that differed, when
 * it is more than half of them (no guess otherwise), and how many. */
static void summary_cause(const struct sc_readback *rb, char *buf, size_t cap)
{
	size_t best = SC_CAUSE_NONE;
	for (size_t k = SC_CAUSE_NONE + 1; k < SC_CAUSE_COUNT; k++)
		if (rb->ncause[k] > rb->ncause[best] || (best == SC_CAUSE_NONE && rb->ncause[k]))
			best = k;
	if (best == SC_CAUSE_NONE || rb->ncause[best] * 2 <= rb->bad)
		return;
	char text[48];
	sc_diagnose_text(&rb->cause[best], text, sizeof text);
	size_t used = strlen(buf);
	sc_rn_fmt(buf + used, cap - used, "; likely cause: %s (%zu of them)", text, rb->ncause[best]);
}

void sc_readback_summary(struct sc_runner *c)
{
	struct sc_result *x = sc_results_add(c->run);
	if (!x)
		return;
	sc_str_copy(x->where, sizeof x->where, "each telegram");
	x->at = c->now;
	x->when = c->now;
	sc_str_copy(x->kind, sizeof x->kind, "modbus");
	sc_str_copy(x->target, sizeof x->target, "0x8016 active_power, 0x8100 energy_import");
	size_t read = c->rb.samples - c->rb.unread - c->rb.skipped;
	sc_rn_fmt(x->expected, sizeof x->expected, "the twin's values after each of %zu telegrams", c->rb.samples);
	if (c->rb.bad == 0)
		sc_rn_fmt(x->actual, sizeof x->actual, "the same after each of %zu read back", read);
	else
		sc_rn_fmt(x->actual, sizeof x->actual, "%zu of %zu read back differ", c->rb.bad, read);
	summary_cause(&c->rb, x->actual, sizeof x->actual);
	read -= c->rb.unsure;
	/* Why some were not judged: the device did not answer, or the runner
	 * did not read (a newer telegram had gone out by then), or the line
	 * had just come back. */
	size_t used = 0;
	if (c->rb.unread)
		used += (size_t)sc_rn_fmt(x->note + used, sizeof x->note - used,
					  "%zu not read: the device did not answer", c->rb.unread);
	if (c->rb.skipped && used < sizeof x->note)
		used += (size_t)sc_rn_fmt(x->note + used, sizeof x->note - used,
					  "%s%zu skipped: a newer telegram had gone out before they were read",
					  used ? "; " : "", c->rb.skipped);
	if (c->rb.unsure && used < sizeof x->note)
		sc_rn_fmt(x->note + used, sizeof x->note - used,
			  "%s%zu not judged: sent as the meter line came back", used ? "; " : "", c->rb.unsure);
	x->pass = c->rb.bad == 0 && read > 0;
	sc_results_report(c->run, c->log, x);
}

/* On a meter line of its own: the next telegram handed to it is due by
 * the device's clock (it went out, or is going out, while the runner was
 * busy). */
static bool overtaken(const struct sc_runner *c)
{
	return c->io->line_put && c->io->clock && c->io->clock(c->io->arg) >= sc_timeline_next_fed(c);
}

/* What the device serves after telegram k (io.sample, io.record). */
static void read_back(struct sc_runner *c, size_t k, struct sc_run_sample smp)
{
	struct sc_run *r = c->run;
	struct sc_run_telegram *t = &r->tg[k];
	/* A newer telegram went out first (on a line of its own it may have
	 * gone out while the runner was busy, its time passed): the device
	 * may serve that one already. */
	bool newer = overtaken(c);
	for (size_t j = k + 1; j < r->ntg && !newer; j++)
		newer = r->tg[j].sent;
	if (newer) {
		if (c->io->sample && t->ok)
			c->rb.samples++, c->rb.skipped++;
		return;
	}
	char why[200];
	struct served_words sw = {{0, 0}, {0, 0}, NAN, NAN};
	/* The last telegram is this one: what the device should serve now,
	 * with the firmware it runs now (a kWh to Wh update may have landed). */
	if (t->ok) {
		sc_oracle_firmware(&c->oracle, c->dut);
		sc_oracle_served(&c->oracle, NULL, &smp.want_e);
		if (c->oracle.have_prev)
			sc_oracle_served_of(&c->oracle, &c->oracle.prev, &sw.prev_p, &sw.prev_e);
	}
	if (c->io->sample && t->ok && t->unsure) {
		c->rb.samples++;
		c->rb.unsure++;
	} else if (c->io->sample && t->ok) {
		int got = c->io->read_two
				  ? c->io->read_two(c->io->arg, 0x8016, 2, sw.p, 0x8100, 2, sw.e, why,
						    sizeof why)
				  : sc_dut_read_two(c->dut, 0x8016, 2, sw.p, 0x8100, 2, sw.e, why, sizeof why);
		bool read = got == 0;
		if (got >= 0)
			smp.got_p = sc_words_to_float(sw.p, c->oracle.regs.order);
		if (read)
			smp.got_e = sc_words_to_float(sw.e, c->oracle.regs.order);
		if (read && overtaken(c)) {
			/* The next telegram went out while this was read: what
			 * came back may be either's. */
			c->rb.samples++;
			c->rb.skipped++;
		} else {
			check_sample(c, &smp, read, &sw);
			sc_results_sample(r, &smp);
		}
	}
	if (c->io->record) {
		uint16_t addrs[SC_REGMAP_NKEY];
		for (size_t i = 0; i < SC_REGMAP_NKEY; i++)
			addrs[i] = sc_regmap_def_named(sc_regmap_key[i])->addr;
		static uint16_t map[SC_REGMAP_WORDS];
		if (sc_dut_read_floats(c->dut, addrs, SC_REGMAP_NKEY, map, why, sizeof why) == 0 &&
		    !overtaken(c)) {
			t->served = true;
			for (size_t i = 0; i < SC_REGMAP_NKEY; i++)
				t->regs[i] = sc_words_to_float(&map[addrs[i] - SC_REGMAP_BASE], c->oracle.regs.order);
		}
		if (sc_dut_mqtt_subscribed(c->dut)) {
			sc_dut_mqtt_drain(c->dut, sc_rn_seen_now(c));
			size_t n;
			const struct sc_dut_msg *log = sc_dut_mqtt_log(c->dut, &n);
			for (size_t i = n; i-- > 0;) {
				if (log[i].seen < t->written)
					break;
				if (strcmp(log[i].metric, "power_instant") == 0) {
					t->mqtt = strdup(log[i].payload);
					break;
				}
			}
		}
	}
}

void sc_readback_due(struct sc_runner *c, bool all)
{
	struct sc_readback *rb = &c->rb;
	while (rb->phead < rb->npend && (all || rb->pend[rb->phead].due <= c->now)) {
		struct sc_pending *p = &rb->pend[rb->phead++];
		read_back(c, p->tg, p->smp);
	}
	if (rb->phead == rb->npend)
		rb->phead = rb->npend = 0;
}

int sc_readback_after(struct sc_runner *c, size_t k)
{
	struct sc_readback *rb = &c->rb;
	/* The values the device should serve now: power and energy. */
	struct sc_run_sample smp = {c->now, NAN, NAN, NAN, NAN};
	if (c->run->tg[k].ok)
		sc_oracle_served(&c->oracle, &smp.want_p, &smp.want_e);
	if (c->io->latency <= 0) {
		read_back(c, k, smp);
		return 0;
	}
	if (rb->npend == rb->cappend) {
		size_t cap = rb->cappend ? rb->cappend * 2 : 64;
		struct sc_pending *n = realloc(rb->pend, cap * sizeof *n);
		if (!n)
			return -1;
		rb->pend = n;
		rb->cappend = cap;
	}
	/* From when its last byte left, which on the wall clock may be later
	 * than it was due. */
	double from = fmax(c->now, c->run->tg[k].ended);
	rb->pend[rb->npend++] = (struct sc_pending){k, from + c->io->latency, smp};
	return 0;
}

bool sc_readback_waiting(const struct sc_readback *rb)
{
	return rb->phead < rb->npend;
}

double sc_readback_next(const struct sc_readback *rb)
{
	return rb->phead < rb->npend ? rb->pend[rb->phead].due : INFINITY;
}

void sc_readback_free(struct sc_readback *rb)
{
	free(rb->pend);
	memset(rb, 0, sizeof *rb);
}
