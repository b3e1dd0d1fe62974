/* The timeline: when each step and each telegram is due. A step's action
 * at its time; a "telegrams" block at the meter's cadence (or its every);
 * a capture's slice at its own recorded times or at the cadence. Equal
 * times keep the file's order. The bytes come from the generated meter
 * (advanced to the scenario's time) or from the captures, loaded once. */
#include "runner_int.h"

#include "p1_gen.h"
#include "sc_error.h"
#include "tic_gen.h"

/* The generated meter's telegram k of step st, due at `at` (s of the
 * scenario): made when it is due, or ahead of it for a meter line. */
static int generate(struct sc_runner *c, const struct sc_step *st, int k, double at, const char **data,
		    size_t *len)
{
	const struct sc_scenario *s = c->s;
	int64_t t = s->meter.start + (int64_t)llround(at * s->time_scale);
	if (!c->tl.meter_started) {
		struct sc_meter_config mc = s->meter;
		mc.start = t;
		sc_meter_init(&c->tl.meter, &mc);
		c->tl.meter_started = true;
	}
	sc_meter_advance(&c->tl.meter, t);
	/* Two buffers: one made ahead (sc_timeline_prepare) while the line
	 * still reads the one before. */
	static char bufs[2][SC_P1_GEN_MAX > SC_TIC_GEN_MAX ? SC_P1_GEN_MAX : SC_TIC_GEN_MAX];
	char *buf = bufs[c->tl.slot];
	c->tl.slot ^= 1;
	bool faulty = st->fault && (k + 1) % (st->fault_every ? st->fault_every : 1) == 0;
	uint64_t fseed = s->meter.seed ^ ((uint64_t)k * UINT64_C(0x9E3779B97F4A7C15)) ^ (uint64_t)t;
	int n;
	if (s->flavour == SC_FLAVOUR_TIC) {
		struct sc_tic_gen_opts o = s->tic;
		o.fault = faulty ? (enum sc_tic_fault)st->fault : SC_TIC_FAULT_NONE;
		o.fault_seed = fseed;
		n = sc_tic_gen(&c->tl.meter, &o, buf, sizeof bufs[0], NULL);
	} else {
		struct sc_p1_gen_opts o = {s->flavour, faulty ? (enum sc_p1_fault)st->fault : SC_P1_FAULT_NONE,
					   fseed};
		n = sc_p1_gen(&c->tl.meter, &o, buf, sizeof bufs[0], NULL);
	}
	if (n < 0) {
		sc_rn_fmt(c->run->error, sizeof c->run->error, "%s: the generator failed (%s)", st->where,
			 sc_strerror(n));
		return -1;
	}
	*data = buf;
	*len = (size_t)n;
	return 0;
}

static struct sc_capture *capture_of(struct sc_runner *c, const struct sc_step *st)
{
	char path[1024];
	if (st->file[0] == '/')
		sc_str_copy(path, sizeof path, st->file);
	else
		sc_rn_fmt(path, sizeof path, "%s/%s", c->dir, st->file);
	for (size_t i = 0; i < c->tl.ncaps; i++)
		if (strcmp(c->tl.caps[i].path, path) == 0)
			return &c->tl.caps[i].cap;
	struct sc_capfile *n = realloc(c->tl.caps, (c->tl.ncaps + 1) * sizeof *n);
	if (!n)
		return NULL;
	c->tl.caps = n;
	struct sc_capfile *f = &c->tl.caps[c->tl.ncaps];
	sc_str_copy(f->path, sizeof f->path, path);
	char why[600];
	if (sc_capture_load(path, c->s->device, 0, (size_t)1 << 30, &f->cap, why, sizeof why) != 0) {
		sc_rn_fmt(c->run->error, sizeof c->run->error, "%s.capture: %s", st->where, why);
		return NULL;
	}
	c->tl.ncaps++;
	return &f->cap;
}

/* ---- the status document, once per moment ---- */

static int cmp_ev(const void *a, const void *b)
{
	const struct sc_ev *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->order - y->order;
}

/* The telegrams [first, last) of a capture that a step takes; first ==
 * last when the slice holds none. */
static void capture_slice(const struct sc_capture *capf, const struct sc_step *st, size_t *first,
			  size_t *last)
{
	if (st->by_time) {
		/* By the capture's own times: its reads' times, else the
		 * telegrams' timestamps. */
		double t0 = -1;
		*first = capf->n;
		*last = 0;
		for (size_t k = 0; k < capf->n; k++) {
			double tk = capf->chunks[k].line_time >= 0 ? capf->chunks[k].line_time
								   : (double)capf->chunks[k].ts;
			if (tk < 0)
				continue;
			if (t0 < 0)
				t0 = tk;
			if (tk - t0 >= st->from_time && tk - t0 <= st->to_time) {
				if (*first == capf->n)
					*first = k;
				*last = k + 1;
			}
		}
		if (*first == capf->n)
			*first = *last = 0;
	} else {
		*first = (size_t)st->from;
		*last = st->count < 0 ? capf->n : *first + (size_t)st->count;
		if (*last > capf->n)
			*last = capf->n;
		if (*first > *last)
			*first = *last;
	}
}

int sc_run_check_captures(const struct sc_scenario *s, const char *dir, char *err, size_t cap)
{
	/* Added with the fix in sc-sim --scenario: a capture that cannot be
	 * read or a slice that holds no telegram is a fault of the file (exit
	 * 2, naming the JSON path), found before anything is set up. */
	/* The file last read stays loaded: a replay names it in every step. */
	struct sc_capture capf;
	char loaded[1024] = "";
	int rc = 0;
	for (int i = 0; i < s->nsteps && rc == 0; i++) {
		const struct sc_step *st = &s->steps[i];
		if (st->kind != SC_STEP_CAPTURE)
			continue;
		char path[1024], why[600];
		if (st->file[0] == '/')
			sc_str_copy(path, sizeof path, st->file);
		else
			sc_rn_fmt(path, sizeof path, "%s/%s", dir && *dir ? dir : ".", st->file);
		if (strcmp(path, loaded) != 0) {
			if (loaded[0])
				sc_capture_free(&capf);
			loaded[0] = '\0';
			if (sc_capture_load(path, s->device, 0, (size_t)1 << 30, &capf, why, sizeof why) != 0) {
				sc_rn_fmt(err, cap, "%s.capture.file: %s", st->where, why);
				return -1;
			}
			sc_str_copy(loaded, sizeof loaded, path);
		}
		size_t first, last;
		capture_slice(&capf, st, &first, &last);
		if (first < last)
			continue;
		if (st->by_time)
			sc_rn_fmt(err, cap, "%s.capture: no telegram from %g s to %g s of the capture (it has %zu)",
			    st->where, st->from_time, st->to_time, capf.n);
		else
			sc_rn_fmt(err, cap, "%s.capture.from: %d is past the capture's last telegram (it has %zu)",
			    st->where, st->from, capf.n);
		rc = -1;
	}
	if (loaded[0])
		sc_capture_free(&capf);
	return rc;
}

int sc_timeline_build(struct sc_runner *c)
{
	const struct sc_scenario *s = c->s;
	size_t cap = 64, n = 0;
	struct sc_ev *ev = malloc(cap * sizeof *ev);
	int order = 0;
	for (int i = 0; ev && i < s->nsteps; i++) {
		const struct sc_step *st = &s->steps[i];
		size_t add = 1;
		const struct sc_capture *capf = NULL;
		size_t first = 0, last = 0;
		if (st->kind == SC_STEP_TELEGRAMS)
			add += (size_t)st->count;
		if (st->kind == SC_STEP_CAPTURE) {
			capf = capture_of(c, st);
			if (!capf) {
				free(ev);
				return -1;
			}
			capture_slice(capf, st, &first, &last);
			if (first == last) {
				sc_rn_fmt(c->run->error, sizeof c->run->error,
					 "%s.capture: the slice holds no telegram (the capture has %zu)",
					 st->where, capf->n);
				free(ev);
				return -1;
			}
			add += last - first;
		}
		while (n + add > cap) {
			cap *= 2;
			struct sc_ev *m = realloc(ev, cap * sizeof *ev);
			if (!m) {
				free(ev);
				return -1;
			}
			ev = m;
		}
		ev[n++] = (struct sc_ev){st->at, SC_EV_ACTION, i, 0, order++};
		double every = st->every > 0 ? st->every : sc_scenario_cadence(s);
		for (int k = 0; st->kind == SC_STEP_TELEGRAMS && k < st->count; k++)
			ev[n++] = (struct sc_ev){st->at + k * every, SC_EV_GEN, i, k, order++};
		if (capf) {
			double base = -1;
			double t = st->at;
			for (size_t k = first; k < last; k++) {
				const struct sc_capture_chunk *ch = &capf->chunks[k];
				double tk = ch->line_time >= 0 ? ch->line_time : (double)ch->ts;
				if (st->every > 0 || tk < 0 || (!capf->timestamped && !st->by_time)) {
					/* At the meter's cadence (or the step's every). */
					if (k > first)
						t += st->every > 0 ? st->every
						     : capf->proto == SC_PROTO_TIC
							     ? (double)sc_tic_cadence_ms(capf->chunks[k - 1].len) / 1000.0
							     : capf->dsmr42 ? 10.0 : 1.0;
				} else {
					if (base < 0)
						base = tk;
					t = st->at + (tk - base);
				}
				ev[n++] = (struct sc_ev){t, SC_EV_CHUNK, i, (int)k, order++};
			}
		}
	}
	if (!ev)
		return -1;
	c->tl.remaining = calloc((size_t)s->nsteps + 1, sizeof *c->tl.remaining);
	if (!c->tl.remaining) {
		free(ev);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		if (ev[k].kind != SC_EV_ACTION)
			c->tl.remaining[ev[k].step]++;
	qsort(ev, n, sizeof *ev, cmp_ev);
	c->tl.ev = ev;
	c->tl.nev = n;
	return 0;
}

int sc_timeline_bytes(struct sc_runner *c, const struct sc_ev *e, const char **data, size_t *len)
{
	const struct sc_step *st = &c->s->steps[e->step];
	struct sc_timeline *tl = &c->tl;
	if (tl->pre && tl->pre - 1 == (size_t)(e - tl->ev)) {
		tl->pre = 0;
		if (tl->pre_rc != 0) {
			sc_str_copy(c->run->error, sizeof c->run->error, tl->pre_error);
			return -1;
		}
		*data = tl->pre_data;
		*len = tl->pre_len;
		return 0;
	}
	if (e->kind == SC_EV_GEN)
		return generate(c, st, e->k, e->t, data, len);
	const struct sc_capture *capf = capture_of(c, st);
	if (!capf)
		return -1;
	const struct sc_capture_chunk *ch = &capf->chunks[e->k];
	*data = capf->data + ch->off;
	*len = ch->len;
	return 0;
}

void sc_timeline_prepare(struct sc_runner *c, size_t i)
{
	struct sc_timeline *tl = &c->tl;
	if (i + 1 >= tl->nev || tl->ev[i + 1].kind != SC_EV_GEN || tl->pre)
		return;
	const struct sc_ev *e = &tl->ev[i + 1];
	/* A failure is the run's when that telegram's time comes. */
	char keep[sizeof c->run->error];
	sc_str_copy(keep, sizeof keep, c->run->error);
	tl->pre_rc = generate(c, &c->s->steps[e->step], e->k, e->t, &tl->pre_data, &tl->pre_len);
	sc_str_copy(tl->pre_error, sizeof tl->pre_error, c->run->error);
	sc_str_copy(c->run->error, sizeof c->run->error, keep);
	tl->pre = i + 2;
}

/* ---- a meter line of its own ---- */

static int keep_ahead(struct sc_runner *c, size_t i, const char *data, size_t len)
{
	struct sc_timeline *tl = &c->tl;
	if (tl->ahead_head == tl->nahead)
		tl->ahead_head = tl->nahead = 0;
	if (tl->nahead == tl->capahead) {
		size_t cap = tl->capahead ? tl->capahead * 2 : 64;
		struct sc_ahead *n = realloc(tl->ahead, cap * sizeof *n);
		if (!n)
			return -1;
		tl->ahead = n;
		tl->capahead = cap;
	}
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	memcpy(copy, data, len);
	tl->ahead[tl->nahead++] = (struct sc_ahead){i, copy, len};
	return 0;
}

int sc_timeline_feed(struct sc_runner *c, size_t i)
{
	struct sc_timeline *tl = &c->tl;
	const struct sc_run_io *io = c->io;
	char why[256];
	while (tl->fed < tl->nev) {
		size_t k = tl->fed;
		const struct sc_ev *e = &tl->ev[k];
		if (io->line_ahead > 0 && e->t > c->now + io->line_ahead)
			break;
		const struct sc_step *st = &c->s->steps[e->step];
		/* The device's clock may be held at a broker step (io.act):
		 * what follows waits until it is carried out. */
		if (e->kind == SC_EV_ACTION && st->kind == SC_STEP_BROKER && k >= i)
			break;
		int r = 0;
		if (e->kind == SC_EV_ACTION && st->kind == SC_STEP_METER) {
			r = io->line_cable(io->arg, e->t, st->action.cut, why, sizeof why);
		} else if (e->kind != SC_EV_ACTION || st->kind == SC_STEP_TELEGRAM) {
			const char *data = st->bytes;
			size_t len = st->nbytes;
			if (e->kind != SC_EV_ACTION && sc_timeline_bytes(c, e, &data, &len) != 0)
				return -1;
			if (keep_ahead(c, k, data, len) != 0) {
				sc_rn_fmt(c->run->error, sizeof c->run->error, "out of memory");
				return -1;
			}
			r = io->line_put(io->arg, e->t, data, len, why, sizeof why);
		}
		if (r != 0) {
			sc_rn_fmt(c->run->error, sizeof c->run->error, "meter line: %s", why);
			return -1;
		}
		tl->fed++;
	}
	return 0;
}

int sc_timeline_fed_bytes(struct sc_runner *c, size_t i, char **data, size_t *len)
{
	struct sc_timeline *tl = &c->tl;
	if (tl->ahead_head == tl->nahead || tl->ahead[tl->ahead_head].ev != i) {
		sc_rn_fmt(c->run->error, sizeof c->run->error,
			 "meter line: the telegram of %s was not handed to the line",
			 c->s->steps[tl->ev[i].step].where);
		return -1;
	}
	struct sc_ahead *a = &tl->ahead[tl->ahead_head++];
	*data = a->data;
	*len = a->len;
	a->data = NULL;
	return 0;
}

double sc_timeline_next_fed(const struct sc_runner *c)
{
	const struct sc_timeline *tl = &c->tl;
	return tl->ahead_head < tl->nahead ? tl->ev[tl->ahead[tl->ahead_head].ev].t : INFINITY;
}

void sc_timeline_free(struct sc_timeline *tl)
{
	for (size_t k = tl->ahead_head; k < tl->nahead; k++)
		free(tl->ahead[k].data);
	free(tl->ahead);
	free(tl->ev);
	for (size_t k = 0; k < tl->ncaps; k++)
		sc_capture_free(&tl->caps[k].cap);
	free(tl->caps);
	free(tl->remaining);
	memset(tl, 0, sizeof *tl);
}
