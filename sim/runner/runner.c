/* Runs a scenario against a device (runner.h): the timeline's events in
 * order, time brought forward between them through io.advance, telegrams
 * put on the meter line (or handed ahead to a line that keeps its own
 * time, and what became of them taken when their time comes) and fed to
 * the oracle when they reached the device, actions handed to io.act, the
 * open expectations checked at every moment the runner is not behind the
 * line. The pieces are described in runner_int.h. */
#include "runner_int.h"

/* Bytes on the meter line at c->now (with the clock, when the advance was
 * deferred to them), or, with a line of its own, what became of the bytes
 * handed to it: fed to the oracle at the time they were written when they
 * reached the device, recorded as a telegram of the run, read back after
 * when the run asks. 0, or -1 with run->error. */
static int send_bytes(struct sc_runner *c, size_t i, const char *data, size_t len, bool keep, int step)
{
	char why[256] = "";
	struct sc_run_written w = {0, c->now, c->now, 0};
	/* The oracle took the bytes while the device did (ahead: not yet
	 * known to have reached it), and its reading then. */
	bool fed = false, ok = false;
	if (c->io->line_take) {
		if (c->io->line_take(c->io->arg, &w, why, sizeof why) != 0)
			w.sent = -1;
	} else if (c->defer_advance && c->io->meter_begin) {
		c->defer_advance = false;
		/* The device takes the bytes while the oracle reads them and the
		 * next telegram is made: they take turns no more. */
		if (c->io->meter_begin(c->io->arg, c->now, data, len, why, sizeof why) != 0) {
			w.sent = -1;
		} else {
			fed = sc_oracle_mark(&c->oracle) == 0;
			if (fed)
				sc_oracle_feed(&c->oracle, data, len, w.written, &ok);
			sc_timeline_prepare(c, i);
			w.sent = c->io->meter_end(c->io->arg, why, sizeof why);
			if (fed && w.sent == 1)
				sc_oracle_back(&c->oracle);
		}
	} else if (c->defer_advance) {
		c->defer_advance = false;
		w.sent = c->io->meter_at(c->io->arg, c->now, data, len, why, sizeof why);
	} else {
		w.sent = c->io->meter(c->io->arg, data, len, why, sizeof why);
		/* Its last byte left now, which on the wall clock may be later
		 * than it was due. */
		if (c->io->clock)
			w.ended = fmax(c->now, c->io->clock(c->io->arg));
	}
	int sent = w.sent;
	if (sent < 0) {
		sc_rn_fmt(c->run->error, sizeof c->run->error, "meter line: %s", why);
		return -1;
	}
	/* Only what reached the device goes to the oracle, at the time it
	 * went out. */
	if (fed && sent == 1)
		ok = false;
	else if (!fed && sent != 1)
		sc_oracle_feed(&c->oracle, data, len, w.written, &ok);
	struct sc_run *r = c->run;
	if (sent == 1)
		r->not_sent++;
	struct sc_run_telegram *t = sc_results_telegram(r);
	if (!t) {
		sc_rn_fmt(r->error, sizeof r->error, "out of memory");
		return -1;
	}
	t->at = c->now;
	t->len = len;
	t->step = step;
	t->sent = sent != 1;
	t->unsure = sent == 2;
	t->ok = ok;
	t->written = w.written;
	t->ended = w.ended;
	if (t->sent)
		c->last_ended = fmax(c->last_ended, w.ended);
	t->late_s = w.late_s;
	t->late = t->sent && w.late_s > SC_RUN_LATE_S;
	if (t->late)
		r->late++;
	if (sent == 1)
		sc_str_copy(t->why, sizeof t->why, why);
	t->p = ok && c->oracle.last.q[SC_RQ_P].set ? c->oracle.last.q[SC_RQ_P].v : NAN;
	t->e_import = ok && c->oracle.last.q[SC_RQ_E_IMPORT].set ? c->oracle.last.q[SC_RQ_E_IMPORT].v : NAN;
	t->e_export = ok && c->oracle.last.q[SC_RQ_E_EXPORT].set ? c->oracle.last.q[SC_RQ_E_EXPORT].v : NAN;
	if ((keep && r->keep_bytes) || c->io->record) {
		t->bytes = malloc(len + 1);
		if (t->bytes) {
			memcpy(t->bytes, data, len);
			t->bytes[len] = '\0';
		}
	}
	if (sc_delivery_telegram(c, r->ntg - 1) != 0) {
		sc_rn_fmt(r->error, sizeof r->error, "out of memory");
		return -1;
	}
	/* Read back after what the device took: with a sample, what the twin
	 * made of it; a recording also keeps what follows a telegram the twin
	 * rejects (the device should still serve the last good one). */
	if (((c->io->sample && ok) || (c->io->record && t->sent)) &&
	    sc_readback_after(c, r->ntg - 1) != 0) {
		sc_rn_fmt(r->error, sizeof r->error, "out of memory");
		return -1;
	}
	return 0;
}

/* The bytes of event i (a telegram), and what became of them: from the
 * timeline at its time, or handed to the line ahead of it. */
static int telegram_event(struct sc_runner *c, size_t i, const struct sc_step *st)
{
	if (!c->io->line_put) {
		const char *data = st->bytes;
		size_t len = st->nbytes;
		if (c->tl.ev[i].kind != SC_EV_ACTION && sc_timeline_bytes(c, &c->tl.ev[i], &data, &len) != 0)
			return -1;
		return send_bytes(c, i, data, len, true, st->index);
	}
	char *data;
	size_t len;
	if (sc_timeline_feed(c, i) != 0 || sc_timeline_fed_bytes(c, i, &data, &len) != 0)
		return -1;
	int r = send_bytes(c, i, data, len, true, st->index);
	free(data);
	return r;
}

/* A step's action at c->now: a telegram of its own, an API request judged
 * at once, or a fault or action the device's io carries out (one it could
 * not is a SKIP result, one that failed ends the run). 0, or -1. */
static int act(struct sc_runner *c, size_t i, const struct sc_step *st)
{
	char why[512];
	switch (st->kind) {
	case SC_STEP_EXPECT:
		return 0;
	case SC_STEP_TELEGRAM:
		return telegram_event(c, i, st);
	case SC_STEP_METER:
		if (c->io->line_put)
			return 0; /* the line cut or restored it at its time */
		break;
	case SC_STEP_API:
		sc_expects_api(c, st);
		return 0;
	case SC_STEP_TELEGRAMS:
	case SC_STEP_CAPTURE:
		return 0; /* their telegrams are events of their own */
	default:
		break;
	}
	int rc = c->io->act(c->io->arg, st, why, sizeof why);
	sc_expects_stale(&c->ex);
	if (rc == 0)
		return 0;
	struct sc_result *x = sc_results_add(c->run);
	if (!x)
		return -1;
	sc_str_copy(x->where, sizeof x->where, st->where);
	x->at = x->when = c->now;
	sc_str_copy(x->kind, sizeof x->kind, "action");
	sc_str_copy(x->target, sizeof x->target, st->note[0] ? st->note : "");
	sc_str_copy(x->actual, sizeof x->actual, why);
	x->skipped = rc > 0;
	sc_results_report(c->run, c->log, x);
	if (rc < 0) {
		sc_rn_fmt(c->run->error, sizeof c->run->error, "%s: %s", st->where, why);
		return -1;
	}
	return 0;
}



/* The next moment something is due: an event, a read-back, a check of the
 * open expectations (every tick, and at each deadline). */
static double next_moment(const struct sc_runner *c, size_t i, double tick)
{
	double next = i < c->tl.nev ? c->tl.ev[i].t : INFINITY;
	next = fmin(next, sc_readback_next(&c->rb));
	if (c->ex.nopen > 0) {
		double t = c->now + tick;
		for (size_t k = 0; k < c->ex.nopen; k++)
			if (c->ex.open[k].deadline < t && c->ex.open[k].deadline > c->now)
				t = c->ex.open[k].deadline;
		if (t < next)
			next = t;
	}
	return next;
}

/* Messages that came by now were seen now. Kept: those since the last
 * telegram (a later "telegram" expectation looks there) and since each open
 * expectation opened. */
static void take_messages(struct sc_runner *c)
{
	if (!sc_dut_mqtt_subscribed(c->dut))
		return;
	sc_dut_mqtt_drain(c->dut, sc_rn_seen_now(c));
	sc_delivery_take(c); /* each power_instant, before the log forgets it */
	double keep = c->oracle.have_last ? fmin(c->now, c->oracle.last_at) : c->now;
	for (size_t k = 0; k < c->ex.nopen; k++)
		keep = fmin(keep, fmin(c->ex.open[k].opened, c->ex.open[k].want_at));
	sc_dut_mqtt_forget(c->dut, keep);
}

/* One event of the timeline at c->now: 0, or -1 with run->error (or left
 * empty: out of memory). */
static int carry_out(struct sc_runner *c, size_t i)
{
	const struct sc_ev *e = &c->tl.ev[i];
	const struct sc_step *st = &c->s->steps[e->step];
	int r;
	if (e->kind == SC_EV_ACTION) {
		r = act(c, i, st);
		if (r == 0)
			sc_delivery_step(c, st);
		if (r == 0 && st->kind != SC_STEP_TELEGRAMS && st->kind != SC_STEP_CAPTURE)
			r = sc_expects_open(c, st);
	} else {
		r = telegram_event(c, i, st);
		/* A telegram block's expectations open after its last telegram. */
		if (r == 0 && --c->tl.remaining[e->step] == 0)
			r = sc_expects_open(c, st);
	}
	sc_expects_stale(&c->ex);
	return r;
}

int sc_run_scenario(const struct sc_scenario *s, const char *dir, struct sc_dut *dut,
		    const struct sc_run_io *io, struct sc_run *run, FILE *log)
{
	struct sc_runner c;
	memset(&c, 0, sizeof c);
	c.s = s;
	c.dir = dir && *dir ? dir : ".";
	c.dut = dut;
	c.io = io;
	c.run = run;
	c.log = log;
	c.ex.status_at = -1;
	int rc = -1;
	if (sc_oracle_init(&c.oracle, s) != 0) {
		sc_rn_fmt(run->error, sizeof run->error, "out of memory");
		goto out;
	}
	if (sc_timeline_build(&c) != 0) {
		if (!run->error[0])
			sc_rn_fmt(run->error, sizeof run->error, "out of memory");
		goto out;
	}
	sc_expects_baseline(&c);
	sc_delivery_start(&c);
	const struct sc_ev *ev = c.tl.ev;
	size_t nev = c.tl.nev;
	double tick = io->tick > 0 ? io->tick : 0.25;
	size_t i = 0;
	char why[512];
	while (i < nev || c.ex.nopen > 0 || sc_readback_waiting(&c.rb)) {
		/* A line of its own gets what is due soon before the runner
		 * waits or checks anything. */
		if (io->line_put && sc_timeline_feed(&c, i) != 0)
			goto out;
		double next = next_moment(&c, i, tick);
		if (next > c.now) {
			take_messages(&c);
			/* When a telegram is the first thing at that time, the
			 * device gets there with its bytes (meter_at). */
			c.defer_advance = io->meter_at && !io->line_put && i < nev && ev[i].t <= next &&
					  ev[i].kind != SC_EV_ACTION;
			if (!c.defer_advance && io->advance(io->arg, next, why, sizeof why) != 0) {
				sc_rn_fmt(run->error, sizeof run->error, "clock: %s", why);
				goto out;
			}
			c.now = next;
		}
		sc_readback_due(&c, false);
		while (i < nev && ev[i].t <= c.now) {
			if (carry_out(&c, i++) != 0) {
				if (!run->error[0])
					sc_rn_fmt(run->error, sizeof run->error, "out of memory");
				goto out;
			}
		}
		if (c.defer_advance) { /* no bytes went after all */
			c.defer_advance = false;
			if (io->advance(io->arg, c.now, why, sizeof why) != 0) {
				sc_rn_fmt(run->error, sizeof run->error, "clock: %s", why);
				goto out;
			}
		}
		if (c.ex.nopen > 0 && io->settle)
			io->settle(io->arg);
		bool final = i >= nev && next == INFINITY && !sc_readback_waiting(&c.rb);
		/* Behind the device's clock (a check held the runner while the
		 * meter line went on): the events the device has had first, so
		 * that the oracle expects what it got; the open expectations are
		 * checked once caught up. */
		bool behind = io->line_put && io->clock && i < nev && ev[i].t <= io->clock(io->arg);
		if (!behind || final)
			sc_expects_check(&c, final);
	}
	/* A trailing wait lets time pass with nothing due in it (a client of
	 * the twin talking to it meanwhile, the device's own timers). */
	if (s->duration > c.now) {
		if (io->advance(io->arg, s->duration, why, sizeof why) != 0) {
			sc_rn_fmt(run->error, sizeof run->error, "clock: %s", why);
			goto out;
		}
		c.now = s->duration;
	}
	if (io->sample)
		sc_readback_summary(&c);
	sc_delivery_result(&c);
	rc = 0;
out:
	run->duration = c.now;
	sc_timeline_free(&c.tl);
	sc_expects_free(&c.ex);
	sc_readback_free(&c.rb);
	sc_delivery_free(&c.dl);
	sc_oracle_free(&c.oracle);
	return rc;
}
