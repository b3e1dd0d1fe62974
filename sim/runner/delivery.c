/* Every telegram's power_instant. The device publishes one message for
 * each telegram it parses (manual §5.4), so each telegram the oracle takes
 * as good expects exactly one. Messages are matched to telegrams by their
 * values and order, never by timing (a unit's network and broker delay
 * them as they like): a message is telegram k's when every field equals the
 * power_instant the oracle builds for k (sc_cmp_payload: float32 rounding,
 * ts the meter's or the unit's own clock). Among telegrams that carry the
 * same values, the earliest not yet matched after the latest matched one
 * takes it, so consecutive identical telegrams are matched in order. A
 * message that matches none of the telegrams recorded so far waits for the
 * next ones (the meter line may record a telegram after the device has
 * published it); still waiting at the end, it is unexpected.
 *
 * Counted at the end: delivered (a message came), lost (none by the end of
 * the run and the MQTT grace), duplicated (a message for a telegram that
 * had one), out of order (a message for k after one for a later telegram),
 * unexpected (a message that is no telegram's: shown, not failed).
 *
 * Not judged: telegrams that went out as the meter line came back (the
 * device may not have listened), and those sent while the device could not
 * publish. The device publishes live values, not a queue: what it cannot
 * send while its broker is away it drops and counts in mqtt_send_fail (the
 * manual documents no queue; the twin does the same, io/mqtt.h). So from a
 * broker or network action, a power cut, a button press or a request that
 * may restart the device, unmatched telegrams are not judged until the
 * device is publishing again: the first telegram, sent once the broker and
 * the network are back, whose message came. */
#include "runner_int.h"

#include <time.h>

#include "compare.h"
#include "payload.h"

void sc_delivery_init(struct sc_delivery *d, double ts_window, double start_wall)
{
	memset(d, 0, sizeof *d);
	d->ts_window = ts_window;
	d->start_wall = start_wall;
	d->last = -1;
}

void sc_delivery_free(struct sc_delivery *d)
{
	for (size_t i = 0; i < d->npend; i++)
		cJSON_Delete(d->pend[i].got);
	free(d->pend);
	free(d->tg);
	free(d->ev);
	memset(d, 0, sizeof *d);
	d->last = -1;
}

static bool due(const struct sc_dl_tg *t);
static void retry_waiting(struct sc_delivery *d, size_t k);

int sc_delivery_add(struct sc_delivery *d, double at, enum sc_pi_fate fate,
		    const struct sc_reading *want, bool kwh, bool either_unit)
{
	if (d->ntg == d->captg) {
		size_t cap = d->captg ? d->captg * 2 : 256;
		struct sc_dl_tg *n = realloc(d->tg, cap * sizeof *n);
		if (!n)
			return -1;
		d->tg = n;
		d->captg = cap;
	}
	struct sc_dl_tg *t = &d->tg[d->ntg++];
	memset(t, 0, sizeof *t);
	t->at = at;
	t->seen = NAN;
	t->kwh = kwh;
	t->either_unit = either_unit;
	/* Due unless told why not (the fate of a due one is decided later). */
	t->fate = fate == SC_PI_NOT_DUE || fate == SC_PI_UNSURE ? fate : SC_PI_UNCHECKED;
	if (want)
		t->want = *want;
	if (d->npend && due(t))
		retry_waiting(d, d->ntg - 1);
	return 0;
}

int sc_delivery_event(struct sc_delivery *d, double at, bool down)
{
	if (d->nev == d->capev) {
		size_t cap = d->capev ? d->capev * 2 : 16;
		struct sc_dl_event *n = realloc(d->ev, cap * sizeof *n);
		if (!n)
			return -1;
		d->ev = n;
		d->capev = cap;
	}
	d->ev[d->nev++] = (struct sc_dl_event){at, down};
	return 0;
}

/* Does telegram t expect a message (judged or not yet)? */
static bool due(const struct sc_dl_tg *t)
{
	return t->fate != SC_PI_NOT_DUE && t->fate != SC_PI_UNSURE;
}

/* May telegram t carry the message got? A quick look at P and (from the
 * meter's clock) ts first: most telegrams differ there. */
static bool quick_match(const struct sc_delivery *d, const struct sc_dl_tg *t, const cJSON *got)
{
	const struct sc_opt *p = &t->want.q[SC_RQ_P];
	const cJSON *gp = cJSON_GetObjectItemCaseSensitive(got, "P");
	if (p->set && cJSON_IsNumber(gp) && !sc_cmp_f32(p->v, gp->valuedouble))
		return false;
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(got, "ts");
	if (d->ts_window <= 0 && t->want.ts_set && cJSON_IsNumber(ts) &&
	    ts->valuedouble != (double)t->want.ts)
		return false;
	return true;
}

/* The differences between telegram t's power_instant and got into diffs;
 * true when there are none. */
static bool compare(const struct sc_delivery *d, const struct sc_dl_tg *t, const cJSON *got,
		    double wall, struct sc_list *diffs)
{
	const struct sc_payload_opts po = {t->kwh};
	cJSON *want = sc_payload_power_instant_as(&t->want, &po);
	if (!want) {
		sc_list_add(diffs, "out of memory");
		return false;
	}
	sc_cmp_payload(want, got, diffs, d->ts_window, wall);
	cJSON_Delete(want);
	return diffs->n + diffs->more == 0;
}

static bool matches(const struct sc_delivery *d, const struct sc_dl_tg *t, const cJSON *got,
		    double wall)
{
	if (!due(t) || !quick_match(d, t, got))
		return false;
	char buf[64];
	struct sc_list diffs;
	sc_list_init(&diffs, buf, sizeof buf);
	if (compare(d, t, got, wall, &diffs))
		return true;
	if (!t->either_unit)
		return false;
	struct sc_dl_tg other = *t;
	other.kwh = !t->kwh;
	sc_list_init(&diffs, buf, sizeof buf);
	return compare(d, &other, got, wall, &diffs);
}

/* What a message no telegram carries differs in, from the telegram expected
 * next when it came (next), else the latest that expects one; got NULL:
 * not JSON. */
/* The likely cause of a message that is telegram k's but differs
 * (diagnose.h), against k's values and the previous telegram's; none when
 * nothing fits. */
static void diagnose(const struct sc_delivery *d, long k, const cJSON *got, struct sc_dx_cause *cause)
{
	memset(cause, 0, sizeof *cause);
	const struct sc_payload_opts po = {d->tg[k].kwh};
	cJSON *want = sc_payload_power_instant_as(&d->tg[k].want, &po);
	cJSON *prev = NULL;
	for (long j = k - 1; j >= 0 && !prev; j--)
		if (due(&d->tg[j])) {
			const struct sc_payload_opts pp = {d->tg[j].kwh};
			prev = sc_payload_power_instant_as(&d->tg[j].want, &pp);
		}
	struct sc_dx_value v[64];
	struct sc_dx_input in = {v, want ? sc_dx_from_payload(want, got, prev, v, 64) : 0, -1, -1};
	sc_diagnose(&in, cause);
	cJSON_Delete(want);
	cJSON_Delete(prev);
}

static void describe(const struct sc_delivery *d, char *out, size_t cap, const cJSON *got,
		     double seen, double wall, long next, struct sc_dx_cause *cause)
{
	if (cause)
		memset(cause, 0, sizeof *cause);
	if (!got) {
		sc_rn_fmt(out, cap, "at %g s: not JSON", seen);
		return;
	}
	long k = next;
	while (k < (long)d->ntg && !due(&d->tg[k]))
		k++;
	if (k >= (long)d->ntg)
		for (k = (long)d->ntg - 1; k >= 0 && !due(&d->tg[k]); k--)
			;
	if (k < 0) {
		sc_rn_fmt(out, cap, "at %g s, before any telegram it could carry", seen);
		return;
	}
	char diff[160];
	struct sc_list diffs;
	sc_list_init(&diffs, diff, sizeof diff);
	compare(d, &d->tg[k], got, wall, &diffs);
	sc_list_end(&diffs);
	char text[256];
	sc_rn_fmt(text, sizeof text, "at %g s, as telegram %ld's but %s", seen, k + 1, diff);
	sc_text_fit(out, cap, text);
	if (cause)
		diagnose(d, k, got, cause);
}

/* A message no telegram carries for good: counted, the first described. */
static void unexpected(struct sc_delivery *d, const cJSON *got, double seen, double wall, long next)
{
	if (d->unexpected++ == 0) {
		describe(d, d->given_up, sizeof d->given_up, got, seen, wall, next, &d->given_up_cause);
		d->given_up_at = seen;
	}
}

/* Messages waiting for their telegram: at most this many (a unit that
 * publishes wrong values sends nothing else); the oldest is then given up. */
#define SC_DL_PENDING 256

static void wait_for_telegram(struct sc_delivery *d, cJSON *got, double seen, double wall)
{
	if (d->npend == SC_DL_PENDING) {
		struct sc_dl_msg *o = &d->pend[0];
		unexpected(d, o->got, o->seen, o->wall, o->next);
		cJSON_Delete(o->got);
		memmove(d->pend, d->pend + 1, --d->npend * sizeof *d->pend);
	}
	if (d->npend == d->cappend) {
		size_t cap = d->cappend ? d->cappend * 2 : 16;
		struct sc_dl_msg *n = realloc(d->pend, cap * sizeof *n);
		if (!n) {
			unexpected(d, got, seen, wall, d->last + 1);
			cJSON_Delete(got);
			return;
		}
		d->pend = n;
		d->cappend = cap;
	}
	d->pend[d->npend++] = (struct sc_dl_msg){got, seen, wall, d->last + 1};
}

/* Telegram k, just recorded, may be what waiting messages carry (the first
 * delivers it, any other is a duplicate). */
static void retry_waiting(struct sc_delivery *d, size_t k)
{
	struct sc_dl_tg *t = &d->tg[k];
	size_t keep = 0;
	for (size_t i = 0; i < d->npend; i++) {
		struct sc_dl_msg *m = &d->pend[i];
		if (!matches(d, t, m->got, m->wall)) {
			d->pend[keep++] = *m;
			continue;
		}
		if (t->msgs++ == 0) {
			t->seen = m->seen;
			d->last = (long)k;
		} else {
			d->duplicated++;
		}
		cJSON_Delete(m->got);
	}
	d->npend = keep;
}

void sc_delivery_message(struct sc_delivery *d, const char *payload, double seen, double wall)
{
	cJSON *got = cJSON_Parse(payload);
	if (!cJSON_IsObject(got)) {
		unexpected(d, NULL, seen, wall, d->last + 1);
		cJSON_Delete(got);
		return;
	}
	long hit = -1;
	/* In order: the first after the latest matched (none of those has
	 * a message yet). */
	for (size_t k = (size_t)(d->last + 1); k < d->ntg && hit < 0; k++)
		if (matches(d, &d->tg[k], got, wall))
			hit = (long)k;
	if (hit >= 0) {
		d->last = hit;
	} else {
		/* Late: the nearest earlier telegram without a message (out of
		 * order), else the nearest with one (a duplicate). */
		long dup = -1;
		for (long k = d->last; k >= 0 && hit < 0; k--) {
			if (!matches(d, &d->tg[k], got, wall))
				continue;
			if (d->tg[k].msgs == 0)
				hit = k;
			else if (dup < 0)
				dup = k;
		}
		if (hit >= 0) {
			d->tg[hit].out_of_order = true;
			d->out_of_order++;
		} else if (dup >= 0) {
			hit = dup;
			d->duplicated++;
		}
	}
	if (hit < 0) {
		wait_for_telegram(d, got, seen, wall);
		return;
	}
	if (d->tg[hit].msgs++ == 0)
		d->tg[hit].seen = seen;
	cJSON_Delete(got);
}

void sc_delivery_tally(struct sc_delivery *d, struct sc_delivery_counts *n)
{
	memset(n, 0, sizeof *n);
	/* Offline from an event until a telegram sent after it, with the
	 * broker and the network back, has its message. */
	bool offline = false, down = false;
	size_t e = 0;
	for (size_t k = 0; k < d->ntg; k++) {
		struct sc_dl_tg *t = &d->tg[k];
		while (e < d->nev && d->ev[e].at <= t->at) {
			offline = true;
			down = d->ev[e++].down;
		}
		if (t->fate == SC_PI_NOT_DUE) {
			n->not_due++;
			continue;
		}
		if (t->fate == SC_PI_UNSURE) {
			n->unsure++;
			continue;
		}
		if (t->msgs > 0) {
			t->fate = SC_PI_DELIVERED;
			n->delivered++;
			n->due++;
			if (!down)
				offline = false;
			continue;
		}
		/* UNCHECKED, LOST or OFFLINE from an earlier tally: decided anew. */
		t->fate = offline ? SC_PI_OFFLINE : SC_PI_LOST;
		if (offline) {
			n->offline++;
		} else {
			n->lost++;
			n->due++;
		}
	}
	n->duplicated = d->duplicated;
	n->out_of_order = d->out_of_order;
	n->unexpected = d->unexpected + (int)d->npend;
	/* The first: given up, or still waiting. */
	if (d->npend && (!d->unexpected || d->pend[0].seen < d->given_up_at))
		describe(d, d->unexpected_first, sizeof d->unexpected_first, d->pend[0].got,
			 d->pend[0].seen, d->pend[0].wall, d->pend[0].next, &d->unexpected_cause);
	else {
		sc_str_copy(d->unexpected_first, sizeof d->unexpected_first, d->given_up);
		d->unexpected_cause = d->given_up_cause;
	}
}

void sc_delivery_text(const struct sc_delivery *d, const struct sc_delivery_counts *n, char *buf,
		      size_t cap)
{
	/* The unexpected ones last, with room kept for them and for the
	 * likely cause of the first (a unit serving every message wrong: all
	 * lost, all unexpected, and why). */
	char tail[32 + SC_DX_TAIL] = "";
	if (n->unexpected) {
		sc_rn_fmt(tail, sizeof tail, "; %d unexpected", n->unexpected);
		sc_diagnose_append(tail, sizeof tail, &d->unexpected_cause);
	}
	size_t room = cap > strlen(tail) ? cap - strlen(tail) : 0;
	size_t used = (size_t)sc_rn_fmt(buf, room, "%zu delivered, %zu lost, %d duplicated, %d out of order",
					n->delivered, n->lost, n->duplicated, n->out_of_order);
	if (n->lost && used + 20 < room) {
		used += (size_t)sc_rn_fmt(buf + used, room - used, "; lost: telegram%s ",
					  n->lost == 1 ? "" : "s");
		struct sc_list l;
		sc_list_init(&l, buf + used, room - used);
		for (size_t k = 0; k < d->ntg; k++) {
			if (d->tg[k].fate != SC_PI_LOST)
				continue;
			char item[24];
			sc_rn_fmt(item, sizeof item, "%zu", k + 1);
			sc_list_add(&l, item);
		}
		sc_list_end(&l);
		used += l.used;
	}
	if (used < room)
		sc_rn_fmt(buf + used, cap - used, "%s", tail);
}

/* ---- the runner's side ---- */

static double wall_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void sc_delivery_start(struct sc_runner *c)
{
	sc_delivery_init(&c->dl, c->io->ts_window, wall_now());
	if (!sc_dut_mqtt_subscribed(c->dut))
		return;
	bool mqtt = c->io->sample;
	for (int i = 0; i < c->s->nsteps && !mqtt; i++)
		for (int j = 0; j < c->s->steps[i].nexpect; j++)
			if (c->s->steps[i].expect[j].kind == SC_EXPECT_MQTT)
				mqtt = true;
	c->dl.on = mqtt;
	/* What came before the run (a retained message, the tail of an
	 * earlier run) is not its: skip what the log holds. */
	sc_dut_mqtt_drain(c->dut, c->now);
	size_t n;
	const struct sc_dut_msg *log = sc_dut_mqtt_log(c->dut, &n);
	if (n)
		c->dl.seq = log[n - 1].seq;
}

/* The device is down (may not publish) while the broker or the network is
 * out, or a firmware update is under way. */
static bool down(const struct sc_delivery *d)
{
	return d->broker_down || d->net_down || d->updating;
}

/* A firmware update accepted restarts the device when it has the image; the
 * oracle follows once it runs the new one: an event each way. */
static int updated(struct sc_runner *c)
{
	struct sc_delivery *d = &c->dl;
	if (d->updating == c->oracle.fw_pending)
		return 0;
	d->updating = c->oracle.fw_pending;
	return sc_delivery_event(d, c->now, down(d));
}

int sc_delivery_telegram(struct sc_runner *c, size_t k)
{
	if (!c->dl.on)
		return 0;
	const struct sc_run_telegram *t = &c->run->tg[k];
	enum sc_pi_fate fate = !t->sent || !t->ok ? SC_PI_NOT_DUE
			       : t->unsure	  ? SC_PI_UNSURE
						  : SC_PI_UNCHECKED;
	/* The records are one for one with the run's telegrams. */
	while (c->dl.ntg < k)
		if (sc_delivery_add(&c->dl, c->run->tg[c->dl.ntg].at, SC_PI_NOT_DUE, NULL, false,
				    false) != 0)
			return -1;
	if (updated(c) != 0)
		return -1;
	return sc_delivery_add(&c->dl, t->at, fate, t->ok ? &c->oracle.last : NULL,
			       c->oracle.regs.energy_kwh, c->oracle.fw_pending);
}

/* Does a request to the device (method on path) restart it or its MQTT? */
static bool restarts(const char *method, const char *path)
{
	(void)path;
	return method[0] && strcmp(method, "GET") != 0;
}

void sc_delivery_step(struct sc_runner *c, const struct sc_step *st)
{
	struct sc_delivery *d = &c->dl;
	if (!d->on)
		return;
	/* An action the bench could not carry out (a SKIP result for this
	 * step just now) changed nothing. */
	if (c->run->n > 0) {
		const struct sc_result *x = &c->run->r[c->run->n - 1];
		if (x->skipped && strcmp(x->kind, "action") == 0 && strcmp(x->where, st->where) == 0)
			return;
	}
	bool event = false;
	switch (st->action.kind) {
	case SC_ACT_BROKER:
		d->broker_down = st->action.cut;
		event = true;
		break;
	case SC_ACT_NETWORK:
		for (int f = 0; f < SC_NET_FIELDS; f++) {
			if (!st->action.net_given[f])
				continue;
			if (st->action.net_value[f])
				d->net_down &= ~(1u << f);
			else
				d->net_down |= 1u << f;
		}
		event = true;
		break;
	case SC_ACT_POWER:
	case SC_ACT_BUTTON:
		event = true;
		break;
	default:
		break;
	}
	if (st->kind == SC_STEP_API && restarts(st->api.method, st->api.path))
		event = true;
	for (int i = 0; i < st->nexpect; i++)
		if (st->expect[i].kind == SC_EXPECT_HTTP &&
		    restarts(st->expect[i].method, st->expect[i].path))
			event = true;
	d->updating = c->oracle.fw_pending; /* the request may have started one */
	if (event && sc_delivery_event(d, c->now, down(d)) != 0)
		d->on = false; /* out of memory: no result rather than a wrong one */
}

void sc_delivery_take(struct sc_runner *c)
{
	struct sc_delivery *d = &c->dl;
	if (!d->on)
		return;
	size_t n;
	const struct sc_dut_msg *log = sc_dut_mqtt_log(c->dut, &n);
	/* The log is in order of seq: the new ones are at its end. */
	size_t i = n;
	while (i > 0 && log[i - 1].seq > d->seq)
		i--;
	for (; i < n; i++) {
		d->seq = log[i].seq;
		if (strcmp(log[i].metric, "power_instant") == 0 && log[i].wall >= d->start_wall)
			sc_delivery_message(d, log[i].payload, log[i].seen, log[i].wall);
	}
}

/* Telegrams still waiting for their message. */
static size_t waiting(struct sc_delivery *d)
{
	struct sc_delivery_counts n;
	sc_delivery_tally(d, &n);
	return n.lost;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Telegrams still waiting for their power_instant (drained and matched
 * first); SIZE_MAX when the run does not account for every telegram. */
static size_t grace_progress(struct sc_runner *c)
{
	if (!c->dl.on)
		return SIZE_MAX;
	sc_dut_mqtt_drain(c->dut, c->now);
	sc_delivery_take(c);
	return waiting(&c->dl);
}

void sc_mqtt_grace_start(struct sc_runner *c, struct sc_mqtt_grace *g)
{
	clock_gettime(CLOCK_MONOTONIC, &g->t0);
	g->last = g->t0;
	g->waiting = grace_progress(c);
}

bool sc_mqtt_grace_wait(struct sc_runner *c, struct sc_mqtt_grace *g)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	size_t w = grace_progress(c);
	if (w < g->waiting) {
		/* A backlog still flows: the grace starts again. */
		g->waiting = w;
		g->last = now;
	}
	double grace = c->io->mqtt_grace_ms;
	double left = grace - ms_between(&g->last, &now);
	double cap = grace * SC_MQTT_GRACE_MAX - ms_between(&g->t0, &now);
	if (cap < left)
		left = cap;
	if (left <= 0)
		return false;
	sc_dut_mqtt_wait(c->dut, (int)left + 1);
	return true;
}

/* One more part of a result's note, after a "; " when it has one. */
__attribute__((format(printf, 3, 4))) static void note_add(char *note, size_t cap,
							    const char *f, ...)
{
	size_t used = strlen(note);
	if (used && used + 2 < cap) {
		memcpy(note + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= cap)
		return;
	va_list ap;
	va_start(ap, f);
	vsnprintf(note + used, cap - used, f, ap);
	va_end(ap);
}

void sc_delivery_result(struct sc_runner *c)
{
	struct sc_delivery *d = &c->dl;
	if (!d->on)
		return;
	/* Messages travel in real time: the last ones are given the grace. */
	struct sc_mqtt_grace g;
	sc_mqtt_grace_start(c, &g);
	for (;;) {
		sc_dut_mqtt_drain(c->dut, c->now);
		sc_delivery_take(c);
		if (waiting(d) == 0 || !sc_mqtt_grace_wait(c, &g))
			break;
	}
	struct sc_delivery_counts n;
	sc_delivery_tally(d, &n);
	struct sc_run *run = c->run;
	for (size_t k = 0; k < d->ntg && k < run->ntg; k++) {
		run->tg[k].pi = d->tg[k].fate;
		run->tg[k].pi_msgs = d->tg[k].msgs;
		run->tg[k].pi_seen = d->tg[k].seen;
		run->tg[k].pi_out_of_order = d->tg[k].out_of_order;
	}
	struct sc_result *x = sc_results_add(run);
	if (!x)
		return;
	sc_str_copy(x->where, sizeof x->where, "each telegram");
	x->at = x->when = c->now;
	sc_str_copy(x->kind, sizeof x->kind, "mqtt");
	sc_str_copy(x->target, sizeof x->target, "power_instant each telegram");
	sc_rn_fmt(x->expected, sizeof x->expected, "one power_instant for each of %zu telegram%s",
		  n.due, n.due == 1 ? "" : "s");
	sc_delivery_text(d, &n, x->actual, sizeof x->actual);
	char note[512] = "";
	/* What the bench itself missed comes first: the lost telegrams may
	 * be its own. */
	struct sc_dut_mqtt_stats bs;
	sc_dut_mqtt_stats(c->dut, &bs);
	if (bs.dropped || bs.lost_connections)
		note_add(note, sizeof note,
			 "the bench's subscriber dropped %llu message%s (no memory) and lost its "
			 "connection %llu time%s",
			 (unsigned long long)bs.dropped, bs.dropped == 1 ? "" : "s",
			 (unsigned long long)bs.lost_connections, bs.lost_connections == 1 ? "" : "s");
	if (n.unsure && n.offline)
		note_add(note, sizeof note,
			 "%zu not judged (%zu sent as the meter line came back, %zu while the device "
			 "could not publish)",
			 n.unsure + n.offline, n.unsure, n.offline);
	else if (n.unsure)
		note_add(note, sizeof note, "%zu not judged (sent as the meter line came back)",
			 n.unsure);
	else if (n.offline)
		note_add(note, sizeof note, "%zu not judged (sent while the device could not publish)",
			 n.offline);
	if (n.unexpected)
		note_add(note, sizeof note, "unexpected: matching no telegram, the first %s",
			 d->unexpected_first);
	sc_text_fit(x->note, sizeof x->note, note);
	x->pass = n.lost == 0 && n.duplicated == 0 && n.out_of_order == 0;
	sc_results_report(run, c->log, x);
}
