#include "runner.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "firmware.h"
#include "json_at.h"
#include "meter.h"
#include "p1_gen.h"
#include "payload.h"
#include "sc_error.h"
#include "tic_gen.h"

/* ---- the timeline ---- */

enum ev_kind { EV_ACTION, EV_GEN, EV_CHUNK };

struct ev {
	double t;
	enum ev_kind kind;
	int step;             /* index into s->steps */
	int k;                /* telegram index within the step, or chunk index */
	int order;            /* file order for equal times */
};

struct capfile {
	char path[1024];
	struct sc_capture cap;
};

struct pending {
	size_t tg;                /* index into run->tg */
	double due;
	struct sc_run_sample smp; /* the oracle's values when it was sent */
};

struct open_exp {
	const struct sc_expect *e;
	const struct sc_step *st;
	double opened, deadline;
	bool done;
	struct sc_reading want;   /* from_telegram: the oracle's reading when opened */
	double want_at;           /* when that telegram was sent */
	bool have_want;
};

struct ctx {
	const struct sc_scenario *s;
	const char *dir;
	struct sc_dut *dut;
	const struct sc_run_io *io;
	struct sc_run *run;
	FILE *log;
	double now;
	size_t samples, sample_unread, sample_unsure, sample_bad; /* io.sample */
	/* read-backs waiting for io.latency after their telegram */
	struct pending *pend;
	size_t npend, cappend, phead;
	bool defer_advance;   /* the device is brought to now with the next bytes */
	/* the generated meter */
	struct sc_meter meter;
	bool meter_started;
	/* captures in use */
	struct capfile *caps;
	size_t ncaps;
	/* the oracle */
	struct sc_tg_stream *oracle;
	struct sc_tg_event *oev;
	struct sc_reading last;
	bool have_last;
	double last_at;           /* when the last good telegram was sent */
	struct sc_regmap_opts regs;
	bool fw_pending;
	struct sc_fw_version fw_target;
	/* the status document, fetched once per moment */
	cJSON *status;
	double status_at;
	/* The phase a restarting device named in its 503 answer to the status
	 * request ("power-up", "initialising"), "" otherwise. */
	char restarting[24];
	/* open expectations */
	struct open_exp *open;
	size_t nopen, capopen;
	int *remaining;           /* telegrams of each step still to send */
};

/* snprintf through a function of our own: texts here are cut to their
 * buffers on purpose (-Wformat-truncation would object to each). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fmt(char *dst, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(dst, cap, f, ap);
	va_end(ap);
	return n < 0 ? 0 : n;
}

/* A served float as short as says it exactly: 19064.85, 19064850, 0.1. */
struct num {
	char s[24];
};

static struct num ftext(double v)
{
	struct num n;
	if (isnan(v)) {
		snprintf(n.s, sizeof n.s, "none");
		return n;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(n.s, sizeof n.s, "%.0f", v);
		return n;
	}
	for (int p = 6; p <= 9; p++) {
		snprintf(n.s, sizeof n.s, "%.*g", p, v);
		if (strtof(n.s, NULL) == (float)v)
			break;
	}
	return n;
}

static void copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static struct sc_result *add_result(struct ctx *c)
{
	struct sc_run *r = c->run;
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

static void report(struct ctx *c, struct sc_result *x)
{
	if (x->skipped)
		c->run->skip++;
	else if (x->pass)
		c->run->pass++;
	else
		c->run->fail++;
	if (!c->log)
		return;
	if (x->skipped)
		fprintf(c->log, "SKIP %s at %g s: %s %s: %s\n", x->where, x->at, x->kind, x->target,
			x->actual);
	else if (x->pass)
		fprintf(c->log, "PASS %s at %g s: %s %s: %s\n", x->where, x->at, x->kind, x->target,
			x->actual);
	else
		fprintf(c->log, "FAIL %s at %g s: %s %s: expected %s, got %s%s%s%s\n", x->where, x->at,
			x->kind, x->target, x->expected, x->actual, x->note[0] ? " (" : "",
			x->note, x->note[0] ? ")" : "");
	fflush(c->log);
}

/* ---- the oracle: the twin's own core on the same bytes ---- */

static void oracle_feed(struct ctx *c, const char *data, size_t len, double at, bool *ok)
{
	*ok = false;
	while (len > 0) {
		size_t used = sc_tg_feed(c->oracle, data, len, c->oev);
		data += used;
		len -= used;
		if (c->oev->kind == SC_TG_OK) {
			c->last = c->oev->reading;
			c->last_at = at;
			c->have_last = true;
			*ok = true;
		}
	}
}

static void oracle_firmware(struct ctx *c)
{
	/* Energy in kWh before 5.1: the oracle follows the firmware the
	 * device says it runs once an update was asked for. */
	if (!c->fw_pending)
		return;
	int st;
	char *body, why[256];
	if (sc_dut_http(c->dut, "GET", "/api/v1/firmware", NULL, &st, &body, why, sizeof why) != 0)
		return;
	cJSON *doc = st == 200 ? cJSON_Parse(body) : NULL;
	free(body);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "Version");
	struct sc_fw_version fw;
	if (cJSON_IsString(v) && sc_fw_parse(v->valuestring, &fw) == SC_OK &&
	    sc_fw_cmp(&fw, &c->fw_target) == 0) {
		c->regs.energy_kwh = sc_fw_energy_kwh(&fw);
		c->fw_pending = false;
	}
	cJSON_Delete(doc);
}

/* ---- each telegram read back (io.sample) ---- */

#define SAMPLE_FAIL_LINES 10

static bool same_float(double want, double got)
{
	if (isnan(want) || isnan(got))
		return isnan(want) && isnan(got);
	return fabs(want - got) <= fabs(want) * 1e-6;
}

static void check_sample(struct ctx *c, const struct sc_run_sample *smp, bool read)
{
	c->samples++;
	if (!read) {
		c->sample_unread++;
		return;
	}
	if (same_float(smp->want_p, smp->got_p) && same_float(smp->want_e, smp->got_e))
		return;
	if (c->sample_bad++ >= SAMPLE_FAIL_LINES)
		return;
	struct sc_result *x = add_result(c);
	if (!x)
		return;
	fmt(x->where, sizeof x->where, "telegram %zu", c->run->ntg - 1);
	x->at = x->when = smp->at;
	copy(x->kind, sizeof x->kind, "modbus");
	copy(x->target, sizeof x->target, "0x8016 active_power, 0x8100 energy_import");
	fmt(x->expected, sizeof x->expected, "%s, %s", ftext(smp->want_p).s, ftext(smp->want_e).s);
	fmt(x->actual, sizeof x->actual, "%s, %s", ftext(smp->got_p).s, ftext(smp->got_e).s);
	if (c->sample_bad == SAMPLE_FAIL_LINES)
		copy(x->note, sizeof x->note, "later ones are counted, not listed");
	report(c, x);
}

/* The result that sums the telegrams read back. */
static void report_samples(struct ctx *c)
{
	struct sc_result *x = add_result(c);
	if (!x)
		return;
	copy(x->where, sizeof x->where, "each telegram");
	x->at = c->now;
	x->when = c->now;
	copy(x->kind, sizeof x->kind, "modbus");
	copy(x->target, sizeof x->target, "0x8016 active_power, 0x8100 energy_import");
	size_t read = c->samples - c->sample_unread;
	fmt(x->expected, sizeof x->expected, "the twin's values after each of %zu telegrams", c->samples);
	if (c->sample_bad == 0)
		fmt(x->actual, sizeof x->actual, "the same after each of %zu read back", read);
	else
		fmt(x->actual, sizeof x->actual, "%zu of %zu read back differ", c->sample_bad, read);
	read -= c->sample_unsure;
	if (c->sample_unread && c->sample_unsure)
		fmt(x->note, sizeof x->note, "%zu not read: the device did not answer; %zu not judged: "
					     "sent as the meter line came back", c->sample_unread,
		    c->sample_unsure);
	else if (c->sample_unread)
		fmt(x->note, sizeof x->note, "%zu not read: the device did not answer", c->sample_unread);
	else if (c->sample_unsure)
		fmt(x->note, sizeof x->note, "%zu not judged: sent as the meter line came back",
		    c->sample_unsure);
	x->pass = c->sample_bad == 0 && read > 0;
	report(c, x);
}

/* ---- sending ---- */

/* What the device serves after telegram k (io.sample, io.record). */
static void read_back(struct ctx *c, size_t k, struct sc_run_sample smp)
{
	struct sc_run *r = c->run;
	struct sc_run_telegram *t = &r->tg[k];
	for (size_t j = k + 1; j < r->ntg; j++)
		if (r->tg[j].sent) {
			/* A newer telegram went out first: the device may serve
			 * that one already. */
			if (c->io->sample && t->ok)
				c->samples++, c->sample_unread++;
			return;
		}
	char why[200];
	/* The last telegram is this one: what the device should serve now,
	 * with the firmware it runs now (a kWh to Wh update may have landed). */
	if (t->ok) {
		oracle_firmware(c);
		struct sc_regmap img;
		sc_regmap_build(&img, &c->last, &c->regs);
		smp.want_e = sc_words_to_float(&img.w[0x8100 - SC_REGMAP_BASE], c->regs.order);
	}
	if (c->io->sample && t->ok && t->unsure) {
		c->samples++;
		c->sample_unsure++;
	} else if (c->io->sample && t->ok) {
		uint16_t w[2];
		bool read = sc_dut_read(c->dut, 0x8016, 2, w, why, sizeof why) == 0;
		if (read)
			smp.got_p = sc_words_to_float(w, c->regs.order);
		if (read && sc_dut_read(c->dut, 0x8100, 2, w, why, sizeof why) == 0)
			smp.got_e = sc_words_to_float(w, c->regs.order);
		else
			read = false;
		check_sample(c, &smp, read);
		if (r->ns == r->caps) {
			size_t cap = r->caps ? r->caps * 2 : 256;
			struct sc_run_sample *n = realloc(r->s, cap * sizeof *n);
			if (n) {
				r->s = n;
				r->caps = cap;
			}
		}
		if (r->ns < r->caps)
			r->s[r->ns++] = smp;
	}
	if (c->io->record) {
		uint16_t addrs[SC_REGMAP_NKEY];
		for (size_t i = 0; i < SC_REGMAP_NKEY; i++)
			addrs[i] = sc_regmap_def_named(sc_regmap_key[i])->addr;
		static uint16_t map[SC_REGMAP_WORDS];
		if (sc_dut_read_floats(c->dut, addrs, SC_REGMAP_NKEY, map, why, sizeof why) == 0) {
			t->served = true;
			for (size_t i = 0; i < SC_REGMAP_NKEY; i++)
				t->regs[i] = sc_words_to_float(&map[addrs[i] - SC_REGMAP_BASE], c->regs.order);
		}
		if (sc_dut_mqtt_subscribed(c->dut)) {
			sc_dut_mqtt_drain(c->dut, c->now);
			size_t n;
			const struct sc_dut_msg *log = sc_dut_mqtt_log(c->dut, &n);
			for (size_t i = n; i-- > 0;) {
				if (log[i].seen < t->at)
					break;
				if (strcmp(log[i].metric, "power_instant") == 0) {
					t->mqtt = strdup(log[i].payload);
					break;
				}
			}
		}
	}
}

static void run_due_reads(struct ctx *c, bool all)
{
	while (c->phead < c->npend && (all || c->pend[c->phead].due <= c->now)) {
		struct pending *p = &c->pend[c->phead++];
		read_back(c, p->tg, p->smp);
	}
	if (c->phead == c->npend)
		c->phead = c->npend = 0;
}

static int send_bytes(struct ctx *c, const char *data, size_t len, bool keep, int step)
{
	char why[256];
	int sent;
	if (c->defer_advance) {
		c->defer_advance = false;
		sent = c->io->meter_at(c->io->arg, c->now, data, len, why, sizeof why);
	} else {
		sent = c->io->meter(c->io->arg, data, len, why, sizeof why);
	}
	if (sent < 0) {
		fmt(c->run->error, sizeof c->run->error, "meter line: %s", why);
		return -1;
	}
	/* Only what reached the device goes to the oracle. */
	bool ok = false;
	if (sent != 1)
		oracle_feed(c, data, len, c->now, &ok);
	struct sc_run *r = c->run;
	if (sent == 1)
		r->not_sent++;
	if (r->ntg == r->captg) {
		size_t cap = r->captg ? r->captg * 2 : 256;
		struct sc_run_telegram *n = realloc(r->tg, cap * sizeof *n);
		if (!n) {
			fmt(r->error, sizeof r->error, "out of memory");
			return -1;
		}
		r->tg = n;
		r->captg = cap;
	}
	struct sc_run_telegram *t = &r->tg[r->ntg++];
	memset(t, 0, sizeof *t);
	t->at = c->now;
	t->len = len;
	t->step = step;
	t->sent = sent != 1;
	t->unsure = sent == 2;
	t->ok = ok;
	t->p = ok && c->last.q[SC_RQ_P].set ? c->last.q[SC_RQ_P].v : NAN;
	t->e_import = ok && c->last.q[SC_RQ_E_IMPORT].set ? c->last.q[SC_RQ_E_IMPORT].v : NAN;
	if ((keep && r->keep_bytes) || c->io->record) {
		t->bytes = malloc(len + 1);
		if (t->bytes) {
			memcpy(t->bytes, data, len);
			t->bytes[len] = '\0';
		}
	}
	/* Read back after what the device took: with a sample, what the twin
	 * made of it; a recording also keeps what follows a telegram the twin
	 * rejects (the device should still serve the last good one). */
	if ((c->io->sample && ok) || (c->io->record && t->sent)) {
		/* The values the device should serve now: power and energy. */
		struct sc_run_sample smp = {c->now, NAN, NAN, NAN, NAN};
		if (ok) {
			struct sc_regmap img;
			sc_regmap_build(&img, &c->last, &c->regs);
			smp.want_e = sc_words_to_float(&img.w[0x8100 - SC_REGMAP_BASE], c->regs.order);
			smp.want_p = sc_words_to_float(&img.w[0x8016 - SC_REGMAP_BASE], c->regs.order);
		}
		if (c->io->latency <= 0) {
			read_back(c, r->ntg - 1, smp);
		} else {
			if (c->npend == c->cappend) {
				size_t cap = c->cappend ? c->cappend * 2 : 64;
				struct pending *n = realloc(c->pend, cap * sizeof *n);
				if (!n) {
					fmt(r->error, sizeof r->error, "out of memory");
					return -1;
				}
				c->pend = n;
				c->cappend = cap;
			}
			/* From when its last byte left, which on the wall clock
			 * may be later than it was due. */
			double from = c->io->clock ? fmax(c->now, c->io->clock(c->io->arg)) : c->now;
			c->pend[c->npend++] = (struct pending){r->ntg - 1, from + c->io->latency, smp};
		}
	}
	return 0;
}

static int send_generated(struct ctx *c, const struct sc_step *st, int k)
{
	const struct sc_scenario *s = c->s;
	int64_t t = s->meter.start + (int64_t)llround(c->now * s->time_scale);
	if (!c->meter_started) {
		struct sc_meter_config mc = s->meter;
		mc.start = t;
		sc_meter_init(&c->meter, &mc);
		c->meter_started = true;
	}
	sc_meter_advance(&c->meter, t);
	static char buf[SC_P1_GEN_MAX > SC_TIC_GEN_MAX ? SC_P1_GEN_MAX : SC_TIC_GEN_MAX];
	bool faulty = st->fault && (k + 1) % (st->fault_every ? st->fault_every : 1) == 0;
	uint64_t fseed = s->meter.seed ^ ((uint64_t)k * UINT64_C(0x9E3779B97F4A7C15)) ^ (uint64_t)t;
	int n;
	if (s->flavour == SC_FLAVOUR_TIC) {
		struct sc_tic_gen_opts o = s->tic;
		o.fault = faulty ? (enum sc_tic_fault)st->fault : SC_TIC_FAULT_NONE;
		o.fault_seed = fseed;
		n = sc_tic_gen(&c->meter, &o, buf, sizeof buf, NULL);
	} else {
		struct sc_p1_gen_opts o = {s->flavour, faulty ? (enum sc_p1_fault)st->fault : SC_P1_FAULT_NONE,
					   fseed};
		n = sc_p1_gen(&c->meter, &o, buf, sizeof buf, NULL);
	}
	if (n < 0) {
		fmt(c->run->error, sizeof c->run->error, "%s: the generator failed (%s)", st->where,
			 sc_strerror(n));
		return -1;
	}
	return send_bytes(c, buf, (size_t)n, true, st->index);
}

static struct sc_capture *capture_of(struct ctx *c, const struct sc_step *st)
{
	char path[1024];
	if (st->file[0] == '/')
		copy(path, sizeof path, st->file);
	else
		fmt(path, sizeof path, "%s/%s", c->dir, st->file);
	for (size_t i = 0; i < c->ncaps; i++)
		if (strcmp(c->caps[i].path, path) == 0)
			return &c->caps[i].cap;
	struct capfile *n = realloc(c->caps, (c->ncaps + 1) * sizeof *n);
	if (!n)
		return NULL;
	c->caps = n;
	struct capfile *f = &c->caps[c->ncaps];
	copy(f->path, sizeof f->path, path);
	char why[600];
	if (sc_capture_load(path, c->s->device, 0, (size_t)1 << 30, &f->cap, why, sizeof why) != 0) {
		fmt(c->run->error, sizeof c->run->error, "%s.capture: %s", st->where, why);
		return NULL;
	}
	c->ncaps++;
	return &f->cap;
}

/* ---- the status document, once per moment ---- */

static const cJSON *status_doc(struct ctx *c, char *why, size_t cap)
{
	if (c->status && c->status_at == c->now)
		return c->status;
	cJSON_Delete(c->status);
	c->status = NULL;
	int st;
	char *body;
	c->restarting[0] = '\0';
	if (sc_dut_http(c->dut, "GET", "/api/v1/status", NULL, &st, &body, why, cap) != 0)
		return NULL;
	if (st != 200) {
		fmt(why, cap, "GET /api/v1/status answered %d", st);
		/* Fix: while restarting the device answers 503 with the phase as
		 * its reason; the LED then shows that phase (power-up,
		 * initialising), which a led expectation could not see before. */
		cJSON *err = st == 503 ? cJSON_Parse(body) : NULL;
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(err, "reason");
		if (cJSON_IsString(r)) {
			copy(c->restarting, sizeof c->restarting, r->valuestring);
			fmt(why, cap, "GET /api/v1/status answered 503 (restarting: %s)", r->valuestring);
		}
		cJSON_Delete(err);
		free(body);
		return NULL;
	}
	c->status = cJSON_Parse(body);
	free(body);
	if (!c->status)
		fmt(why, cap, "the status is not JSON");
	c->status_at = c->now;
	return c->status;
}

static void describe_json(const cJSON *v, char *buf, size_t cap)
{
	if (!v) {
		fmt(buf, cap, "(missing)");
		return;
	}
	char *t = cJSON_PrintUnformatted(v);
	fmt(buf, cap, "%s", t ? t : "?");
	free(t);
}

/* Does a JSON value satisfy a match? */
static bool json_matches(const struct sc_match *m, const cJSON *v)
{
	if (!v)
		return false;
	switch (m->kind) {
	case SC_MATCH_NUMBER:
	case SC_MATCH_RANGE:
		return cJSON_IsNumber(v) && sc_match_number(m, v->valuedouble);
	case SC_MATCH_STRING:
		return cJSON_IsString(v) && strcmp(v->valuestring, m->str) == 0;
	case SC_MATCH_BOOL:
		return cJSON_IsBool(v) && cJSON_IsTrue(v) == m->b;
	case SC_MATCH_NULL:
		return cJSON_IsNull(v);
	}
	return false;
}

/* ---- checks: true when the expectation holds now; actual/target set ---- */

struct verdict {
	bool pass;
	bool final_fail;       /* cannot pass later (a missing path, a wrong type) */
	char target[96], expected[160], actual[256];
};

static void check_modbus(struct ctx *c, const struct open_exp *o, struct verdict *v)
{
	const struct sc_expect *e = o->e;
	char why[256];
	if (e->from_telegram) {
		oracle_firmware(c);
		copy(v->target, sizeof v->target, "the register map");
		if (!o->have_want) {
			copy(v->expected, sizeof v->expected, "a telegram sent before");
			copy(v->actual, sizeof v->actual, "none was");
			v->final_fail = true;
			return;
		}
		fmt(v->expected, sizeof v->expected, "the image of the telegram of ts %lld",
			 (long long)o->want.ts);
		static uint16_t got[SC_REGMAP_WORDS];
		if (sc_dut_read_map(c->dut, got, why, sizeof why) != 0) {
			copy(v->actual, sizeof v->actual, why);
			return;
		}
		struct sc_regmap img;
		sc_regmap_build(&img, &o->want, &c->regs);
		size_t ndefs;
		const struct sc_regdef *defs = sc_regmap_defs(&ndefs);
		size_t used = 0, bad = 0;
		v->actual[0] = '\0';
		for (size_t i = 0; i < ndefs; i++) {
			size_t a = defs[i].addr - SC_REGMAP_BASE;
			float want = sc_words_to_float(&img.w[a], c->regs.order);
			float have = sc_words_to_float(&got[a], c->regs.order);
			double tol = fmax(e->m ? 0 : 0, fabs((double)want) * 1e-6);
			if (!(fabs((double)have - (double)want) <= tol)) {
				if (used < sizeof v->actual)
					used += (size_t)fmt(v->actual + used, sizeof v->actual - used,
								 "%s0x%04X %s %s (want %s)",
								 bad ? ", " : "", defs[i].addr,
								 defs[i].name, ftext(have).s, ftext(want).s);
				bad++;
			}
		}
		v->pass = bad == 0;
		if (v->pass)
			fmt(v->actual, sizeof v->actual, "every register as the twin derives it from the "
							 "telegram of ts %lld", (long long)o->want.ts);
		return;
	}
	/* Explicit registers: one read for one value, the map (a few reads)
	 * for several. With several, a failure lists the registers that are
	 * off, by name, and counts the others. */
	static uint16_t map[SC_REGMAP_WORDS];
	bool several = e->nm > 1;
	v->pass = true;
	v->target[0] = v->expected[0] = v->actual[0] = '\0';
	if (e->nm > 0) {
		const struct sc_regdef *d = sc_regmap_def_at(e->m[0].addr);
		fmt(v->target, sizeof v->target, "0x%04X %s%s", e->m[0].addr, d ? d->name : "",
		    several ? " ..." : "");
	}
	int rd = 0;
	if (several) {
		uint16_t *addrs = malloc((size_t)e->nm * sizeof *addrs);
		if (addrs) {
			for (int i = 0; i < e->nm; i++)
				addrs[i] = e->m[i].addr;
			rd = sc_dut_read_floats(c->dut, addrs, (size_t)e->nm, map, why, sizeof why);
		} else {
			copy(why, sizeof why, "out of memory");
			rd = -1;
		}
		free(addrs);
	}
	if (rd != 0) {
		v->pass = false;
		copy(v->expected, sizeof v->expected, "the registers");
		copy(v->actual, sizeof v->actual, why);
		return;
	}
	size_t nm = e->nm > 0 ? (size_t)e->nm : 1;
	bool *ok = calloc(nm, sizeof *ok);
	char(*got)[96] = calloc(nm, sizeof *got);
	if (!ok || !got) {
		free(ok);
		free(got);
		v->pass = false;
		copy(v->actual, sizeof v->actual, "out of memory");
		return;
	}
	int off = 0;
	for (int i = 0; i < e->nm; i++) {
		const struct sc_match *m = &e->m[i];
		uint16_t one[2];
		if (!several && sc_dut_read(c->dut, m->addr, 2, one, why, sizeof why) != 0) {
			copy(got[i], sizeof got[i], why);
			ok[i] = false;
		} else {
			const uint16_t *w = several ? &map[m->addr - SC_REGMAP_BASE] : one;
			double have = sc_words_to_float(w, c->s->word_order);
			/* Floats as served: a tolerance of the float's own precision. */
			struct sc_match mm = *m;
			if (mm.kind == SC_MATCH_NUMBER)
				mm.tolerance = fmax(mm.tolerance, fabs(mm.num) * 1e-6);
			fmt(got[i], sizeof got[i], "%s", ftext(have).s);
			ok[i] = sc_match_number(&mm, have);
		}
		if (!ok[i]) {
			v->pass = false;
			off++;
		}
	}
	/* All of them when all held, else the ones off. */
	size_t eu = 0, au = 0;
	for (int i = 0; i < e->nm; i++) {
		if (!v->pass && ok[i])
			continue;
		const struct sc_regdef *d = sc_regmap_def_at(e->m[i].addr);
		const char *name = several && d ? d->name : "";
		const char *sep = eu ? ", " : "";
		char exp[64];
		sc_match_describe(&e->m[i], exp, sizeof exp);
		if (eu < sizeof v->expected)
			eu += (size_t)fmt(v->expected + eu, sizeof v->expected - eu, "%s%s%s%s", sep, name,
					  *name ? " " : "", exp);
		if (au < sizeof v->actual)
			au += (size_t)fmt(v->actual + au, sizeof v->actual - au, "%s%s%s%s", sep, name,
					  *name ? " " : "", got[i]);
	}
	if (!v->pass && several && off < e->nm && au < sizeof v->actual)
		fmt(v->actual + au, sizeof v->actual - au, " (%d other%s as expected)", e->nm - off,
		    e->nm - off == 1 ? "" : "s");
	free(ok);
	free(got);
}

/* The oracle's expected power_instant against a received one. */
static bool same_payload(const cJSON *want, const cJSON *got, char *diff, size_t cap,
			 const char *prefix)
{
	for (const cJSON *w = want->child; w; w = w->next) {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
		char key[64];
		fmt(key, sizeof key, "%s%s", prefix, w->string);
		if (cJSON_IsObject(w)) {
			if (!cJSON_IsObject(g)) {
				fmt(diff, cap, "%s missing", key);
				return false;
			}
			char p[64];
			fmt(p, sizeof p, "%s.", key);
			if (!same_payload(w, g, diff, cap, p))
				return false;
			continue;
		}
		bool ok = cJSON_IsNull(w) ? cJSON_IsNull(g)
			  : cJSON_IsNumber(w) && cJSON_IsNumber(g) &&
				  fabs(w->valuedouble - g->valuedouble) <=
					  fmax(1e-9, fabs(w->valuedouble) * 1e-9);
		if (!ok) {
			char gt[48], wt[48];
			describe_json(g, gt, sizeof gt);
			describe_json(w, wt, sizeof wt);
			fmt(diff, cap, "%s %s (want %s)", key, gt, wt);
			return false;
		}
	}
	return true;
}

static void check_mqtt(struct ctx *c, const struct open_exp *o, struct verdict *v)
{
	const struct sc_expect *e = o->e;
	sc_dut_mqtt_drain(c->dut, c->now);
	size_t n;
	const struct sc_dut_msg *log = sc_dut_mqtt_log(c->dut, &n);
	copy(v->target, sizeof v->target, e->metric);
	cJSON *want = NULL;
	if (e->from_telegram) {
		if (!o->have_want) {
			copy(v->expected, sizeof v->expected, "a telegram sent before");
			copy(v->actual, sizeof v->actual, "none was");
			v->final_fail = true;
			return;
		}
		want = sc_payload_power_instant(&o->want);
		fmt(v->expected, sizeof v->expected, "power_instant of the telegram of ts %lld",
			 (long long)o->want.ts);
	} else {
		size_t used = 0;
		for (int i = 0; i < e->nm && used < sizeof v->expected; i++) {
			char d[64];
			sc_match_describe(&e->m[i], d, sizeof d);
			used += (size_t)fmt(v->expected + used, sizeof v->expected - used, "%s%s %s",
						 i ? ", " : "", e->m[i].key, d);
		}
	}
	/* The telegram's own message came when it was sent; other
	 * expectations look at the messages since their step, or since the
	 * last telegram before it (the device's latest message then). */
	double since = want ? o->want_at : o->have_want ? fmin(o->opened, o->want_at) : o->opened;
	int seen = 0;
	fmt(v->actual, sizeof v->actual, "no %s message since %g s", e->metric, since);
	/* Newest first: the freshest differing message explains a failure best. */
	for (size_t i = n; i-- > 0;) {
		const struct sc_dut_msg *m = &log[i];
		if (m->seen < since || strcmp(m->metric, e->metric) != 0)
			continue;
		seen++;
		cJSON *doc = cJSON_Parse(m->payload);
		if (!doc)
			continue;
		bool ok = true;
		char diff[200] = "";
		if (want) {
			ok = same_payload(want, doc, diff, sizeof diff, "");
		} else {
			for (int k = 0; ok && k < e->nm; k++) {
				const cJSON *got = sc_json_at(doc, e->m[k].key);
				ok = json_matches(&e->m[k], got);
				if (!ok) {
					char g[64];
					describe_json(got, g, sizeof g);
					fmt(diff, sizeof diff, "%s %s", e->m[k].key, g);
				}
			}
		}
		cJSON_Delete(doc);
		if (ok) {
			v->pass = true;
			fmt(v->actual, sizeof v->actual, "%s at %g s", want ? "the telegram's values"
							      : "a matching message", m->seen);
			break;
		}
		if (seen == 1)
			fmt(v->actual, sizeof v->actual, "the last message has %s", diff);
	}
	cJSON_Delete(want);
}

static void check_status_values(struct ctx *c, const struct open_exp *o, struct verdict *v,
				const char *prefix)
{
	char why[256];
	const cJSON *doc = status_doc(c, why, sizeof why);
	if (!doc) {
		copy(v->actual, sizeof v->actual, why);
		return;
	}
	const struct sc_expect *e = o->e;
	v->pass = true;
	size_t eu = 0, au = 0;
	for (int i = 0; i < e->nm; i++) {
		char path[160], d[64], g[64];
		fmt(path, sizeof path, "%s%s", prefix, e->m[i].key);
		const cJSON *got = sc_json_at(doc, path);
		if (!json_matches(&e->m[i], got))
			v->pass = false;
		sc_match_describe(&e->m[i], d, sizeof d);
		describe_json(got, g, sizeof g);
		if (eu < sizeof v->expected)
			eu += (size_t)fmt(v->expected + eu, sizeof v->expected - eu, "%s%s %s",
					       i ? ", " : "", e->m[i].key, d);
		if (au < sizeof v->actual)
			au += (size_t)fmt(v->actual + au, sizeof v->actual - au, "%s%s %s",
					       i ? ", " : "", e->m[i].key, g);
	}
	fmt(v->target, sizeof v->target, "%s%s%s", prefix, e->nm ? e->m[0].key : "",
		 e->nm > 1 ? " ..." : "");
}

static void check_http(struct ctx *c, const struct sc_expect *e, struct verdict *v)
{
	int st;
	char *body, why[256];
	fmt(v->target, sizeof v->target, "%s %s", e->method, e->path);
	size_t eu = 0;
	if (e->status)
		eu += (size_t)fmt(v->expected, sizeof v->expected, "status %d", e->status);
	for (int i = 0; i < e->nm && eu < sizeof v->expected; i++) {
		char d[64];
		sc_match_describe(&e->m[i], d, sizeof d);
		eu += (size_t)fmt(v->expected + eu, sizeof v->expected - eu, "%s%s %s",
				       eu ? ", " : "", e->m[i].key, d);
	}
	if (sc_dut_http(c->dut, e->method, e->path, e->body, &st, &body, why, sizeof why) != 0) {
		copy(v->actual, sizeof v->actual, why);
		return;
	}
	cJSON_Delete(c->status); /* a request may change what the status says */
	c->status = NULL;
	size_t au = (size_t)fmt(v->actual, sizeof v->actual, "status %d", st);
	v->pass = !e->status || st == e->status;
	cJSON *doc = e->nm ? cJSON_Parse(body) : NULL;
	for (int i = 0; i < e->nm; i++) {
		const cJSON *got = doc ? sc_json_at(doc, e->m[i].key) : NULL;
		char g[64];
		describe_json(got, g, sizeof g);
		if (!json_matches(&e->m[i], got))
			v->pass = false;
		if (au < sizeof v->actual)
			au += (size_t)fmt(v->actual + au, sizeof v->actual - au, ", %s %s",
					       e->m[i].key, g);
	}
	/* An accepted firmware update: the oracle follows once it runs. */
	if (st == 202 && strcmp(e->path, "/api/v1/firmware") == 0 && e->body) {
		cJSON *b = cJSON_Parse(e->body);
		const cJSON *ver = cJSON_GetObjectItemCaseSensitive(b, "Version");
		if (cJSON_IsString(ver) && sc_fw_parse(ver->valuestring, &c->fw_target) == SC_OK)
			c->fw_pending = true;
		cJSON_Delete(b);
	}
	cJSON_Delete(doc);
	free(body);
}

static void check(struct ctx *c, const struct open_exp *o, struct verdict *v)
{
	memset(v, 0, sizeof *v);
	switch (o->e->kind) {
	case SC_EXPECT_MODBUS:
		check_modbus(c, o, v);
		break;
	case SC_EXPECT_MQTT:
		check_mqtt(c, o, v);
		break;
	case SC_EXPECT_HTTP:
		check_http(c, o->e, v);
		break;
	case SC_EXPECT_LED: {
		char why[256];
		const cJSON *doc = status_doc(c, why, sizeof why);
		copy(v->target, sizeof v->target, "Status.System.Led.State");
		fmt(v->expected, sizeof v->expected, "\"%s\"", o->e->led);
		const cJSON *led = doc ? sc_json_at(doc, "Status.System.Led.State") : NULL;
		if (!doc && (strcmp(c->restarting, "power-up") == 0 ||
			     strcmp(c->restarting, "initialising") == 0)) {
			/* Restarting: the LED shows the phase (see status_doc). */
			fmt(v->actual, sizeof v->actual, "\"%s\" (%s)", c->restarting, why);
			v->pass = strcmp(c->restarting, o->e->led) == 0;
			break;
		}
		if (!doc)
			copy(v->actual, sizeof v->actual, why);
		else
			describe_json(led, v->actual, sizeof v->actual);
		v->pass = cJSON_IsString(led) && strcmp(led->valuestring, o->e->led) == 0;
		break;
	}
	case SC_EXPECT_COUNTERS:
		check_status_values(c, o, v, "Status.Counters.");
		break;
	}
}

static void decide(struct ctx *c, struct open_exp *o, const struct verdict *v)
{
	struct sc_result *x = add_result(c);
	o->done = true;
	if (!x)
		return;
	copy(x->where, sizeof x->where, o->e->where);
	x->at = o->opened;
	x->when = c->now;
	copy(x->kind, sizeof x->kind, sc_expect_kind_name(o->e->kind));
	copy(x->target, sizeof x->target, v->target);
	copy(x->expected, sizeof x->expected, v->expected);
	copy(x->actual, sizeof x->actual, v->actual);
	x->pass = v->pass;
	if (o->st->note[0])
		copy(x->note, sizeof x->note, o->st->note);
	report(c, x);
}

/* Every open expectation checked at the current moment. final: the run
 * is at its end, everything still open is decided now. */
static void check_open(struct ctx *c, bool final)
{
	for (size_t i = 0; i < c->nopen; i++) {
		struct open_exp *o = &c->open[i];
		if (o->done)
			continue;
		struct verdict v;
		/* Fix: "telegram" means the last telegram sent at the moment of
		 * the check. Kept from the opening, an expectation with "within"
		 * could never pass once another telegram was sent (e.g. Modbus
		 * back after a restart while the meter goes on sending). */
		if (o->e->from_telegram && c->have_last) {
			o->want = c->last;
			o->want_at = c->last_at;
			o->have_want = true;
		}
		check(c, o, &v);
		if (v.pass || v.final_fail) {
			decide(c, o, &v);
			continue;
		}
		if (c->now + 1e-9 < o->deadline && !final)
			continue;
		if (o->e->kind == SC_EXPECT_MQTT) {
			/* Messages travel in real time: give them a moment. */
			struct timespec t0;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			for (;;) {
				struct timespec t1;
				clock_gettime(CLOCK_MONOTONIC, &t1);
				double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
					    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
				if (ms >= c->io->mqtt_grace_ms)
					break;
				sc_dut_mqtt_wait(c->dut, (int)(c->io->mqtt_grace_ms - ms) + 1);
				check(c, o, &v);
				if (v.pass)
					break;
			}
		}
		decide(c, o, &v);
	}
	/* Forget the decided ones. */
	size_t k = 0;
	for (size_t i = 0; i < c->nopen; i++)
		if (!c->open[i].done)
			c->open[k++] = c->open[i];
	c->nopen = k;
}

static int open_expects(struct ctx *c, const struct sc_step *st)
{
	for (int i = 0; i < st->nexpect; i++) {
		if (c->nopen == c->capopen) {
			size_t cap = c->capopen ? c->capopen * 2 : 16;
			struct open_exp *n = realloc(c->open, cap * sizeof *n);
			if (!n)
				return -1;
			c->open = n;
			c->capopen = cap;
		}
		struct open_exp *o = &c->open[c->nopen++];
		memset(o, 0, sizeof *o);
		o->e = &st->expect[i];
		o->st = st;
		o->opened = c->now;
		o->deadline = c->now + fmax(st->expect[i].within, c->io->latency);
		o->have_want = c->have_last;
		if (c->have_last) {
			o->want = c->last;
			o->want_at = c->last_at;
		}
	}
	return 0;
}

/* ---- actions ---- */

static int act(struct ctx *c, const struct sc_step *st)
{
	char why[512];
	switch (st->kind) {
	case SC_STEP_EXPECT:
		return 0;
	case SC_STEP_TELEGRAM:
		return send_bytes(c, st->bytes, st->nbytes, true, st->index);
	case SC_STEP_API: {
		struct open_exp o = {.e = &st->api, .st = st, .opened = c->now, .deadline = c->now};
		struct verdict v;
		memset(&v, 0, sizeof v);
		check_http(c, &st->api, &v);
		decide(c, &o, &v);
		return 0;
	}
	case SC_STEP_TELEGRAMS:
	case SC_STEP_CAPTURE:
		return 0; /* their telegrams are events of their own */
	default:
		break;
	}
	int rc = c->io->act(c->io->arg, st, why, sizeof why);
	cJSON_Delete(c->status);
	c->status = NULL;
	if (rc == 0)
		return 0;
	struct sc_result *x = add_result(c);
	if (!x)
		return -1;
	copy(x->where, sizeof x->where, st->where);
	x->at = x->when = c->now;
	copy(x->kind, sizeof x->kind, "action");
	copy(x->target, sizeof x->target, st->note[0] ? st->note : "");
	copy(x->actual, sizeof x->actual, why);
	x->skipped = rc > 0;
	report(c, x);
	if (rc < 0) {
		fmt(c->run->error, sizeof c->run->error, "%s: %s", st->where, why);
		return -1;
	}
	return 0;
}

/* ---- the run ---- */

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
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
			copy(path, sizeof path, st->file);
		else
			fmt(path, sizeof path, "%s/%s", dir && *dir ? dir : ".", st->file);
		if (strcmp(path, loaded) != 0) {
			if (loaded[0])
				sc_capture_free(&capf);
			loaded[0] = '\0';
			if (sc_capture_load(path, s->device, 0, (size_t)1 << 30, &capf, why, sizeof why) != 0) {
				fmt(err, cap, "%s.capture.file: %s", st->where, why);
				return -1;
			}
			copy(loaded, sizeof loaded, path);
		}
		size_t first, last;
		capture_slice(&capf, st, &first, &last);
		if (first < last)
			continue;
		if (st->by_time)
			fmt(err, cap, "%s.capture: no telegram from %g s to %g s of the capture (it has %zu)",
			    st->where, st->from_time, st->to_time, capf.n);
		else
			fmt(err, cap, "%s.capture.from: %d is past the capture's last telegram (it has %zu)",
			    st->where, st->from, capf.n);
		rc = -1;
	}
	if (loaded[0])
		sc_capture_free(&capf);
	return rc;
}

static int build_events(struct ctx *c, struct ev **out, size_t *nout)
{
	const struct sc_scenario *s = c->s;
	size_t cap = 64, n = 0;
	struct ev *ev = malloc(cap * sizeof *ev);
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
				fmt(c->run->error, sizeof c->run->error,
					 "%s.capture: the slice holds no telegram (the capture has %zu)",
					 st->where, capf->n);
				free(ev);
				return -1;
			}
			add += last - first;
		}
		while (n + add > cap) {
			cap *= 2;
			struct ev *m = realloc(ev, cap * sizeof *ev);
			if (!m) {
				free(ev);
				return -1;
			}
			ev = m;
		}
		ev[n++] = (struct ev){st->at, EV_ACTION, i, 0, order++};
		double every = st->every > 0 ? st->every : sc_scenario_cadence(s);
		for (int k = 0; st->kind == SC_STEP_TELEGRAMS && k < st->count; k++)
			ev[n++] = (struct ev){st->at + k * every, EV_GEN, i, k, order++};
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
				ev[n++] = (struct ev){t, EV_CHUNK, i, (int)k, order++};
			}
		}
	}
	if (!ev)
		return -1;
	c->remaining = calloc((size_t)s->nsteps + 1, sizeof *c->remaining);
	if (!c->remaining) {
		free(ev);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		if (ev[k].kind != EV_ACTION)
			c->remaining[ev[k].step]++;
	qsort(ev, n, sizeof *ev, cmp_ev);
	*out = ev;
	*nout = n;
	return 0;
}

int sc_run_scenario(const struct sc_scenario *s, const char *dir, struct sc_dut *dut,
		    const struct sc_run_io *io, struct sc_run *run, FILE *log)
{
	struct ctx c;
	memset(&c, 0, sizeof c);
	c.s = s;
	c.dir = dir && *dir ? dir : ".";
	c.dut = dut;
	c.io = io;
	c.run = run;
	c.log = log;
	c.status_at = -1;
	c.regs.order = s->word_order;
	struct sc_fw_version fw;
	if (sc_fw_parse(s->firmware, &fw) == SC_OK)
		c.regs.energy_kwh = sc_fw_energy_kwh(&fw);
	c.oracle = sc_tg_stream_new(s->device, 0);
	c.oev = malloc(sizeof *c.oev);
	struct ev *ev = NULL;
	size_t nev = 0;
	int rc = -1;
	if (!c.oracle || !c.oev) {
		fmt(run->error, sizeof run->error, "out of memory");
		goto out;
	}
	if (build_events(&c, &ev, &nev) != 0) {
		if (!run->error[0])
			fmt(run->error, sizeof run->error, "out of memory");
		goto out;
	}
	double tick = io->tick > 0 ? io->tick : 0.25;
	size_t i = 0;
	char why[512];
	while (i < nev || c.nopen > 0 || c.phead < c.npend) {
		double next = i < nev ? ev[i].t : INFINITY;
		if (c.phead < c.npend && c.pend[c.phead].due < next)
			next = c.pend[c.phead].due;
		if (c.nopen > 0) {
			double t = c.now + tick;
			for (size_t k = 0; k < c.nopen; k++)
				if (c.open[k].deadline < t && c.open[k].deadline > c.now)
					t = c.open[k].deadline;
			if (t < next)
				next = t;
		}
		if (next > c.now) {
			/* Messages that came by now were seen now. Kept: those
			 * since the last telegram (a later "telegram" expectation
			 * looks there) and since each open expectation opened. */
			if (sc_dut_mqtt_subscribed(dut)) {
				sc_dut_mqtt_drain(dut, c.now);
				double keep = c.have_last ? fmin(c.now, c.last_at) : c.now;
				for (size_t k = 0; k < c.nopen; k++)
					keep = fmin(keep, fmin(c.open[k].opened, c.open[k].want_at));
				sc_dut_mqtt_forget(dut, keep);
			}
			/* When a telegram is the first thing at that time, the
			 * device gets there with its bytes (meter_at). */
			c.defer_advance = io->meter_at && i < nev && ev[i].t <= next &&
					  ev[i].kind != EV_ACTION;
			if (!c.defer_advance && io->advance(io->arg, next, why, sizeof why) != 0) {
				fmt(run->error, sizeof run->error, "clock: %s", why);
				goto out;
			}
			c.now = next;
		}
		run_due_reads(&c, false);
		while (i < nev && ev[i].t <= c.now) {
			const struct ev *e = &ev[i++];
			const struct sc_step *st = &s->steps[e->step];
			int r = 0;
			if (e->kind == EV_ACTION) {
				r = act(&c, st);
				if (r == 0 && st->kind != SC_STEP_TELEGRAMS && st->kind != SC_STEP_CAPTURE)
					r = open_expects(&c, st);
			} else if (e->kind == EV_GEN) {
				r = send_generated(&c, st, e->k);
			} else {
				const struct sc_capture *capf = capture_of(&c, st);
				const struct sc_capture_chunk *ch = &capf->chunks[e->k];
				r = send_bytes(&c, capf->data + ch->off, ch->len, true, st->index);
			}
			/* A telegram block's expectations open after its last telegram. */
			if (r == 0 && e->kind != EV_ACTION && --c.remaining[e->step] == 0)
				r = open_expects(&c, st);
			if (r != 0) {
				if (!run->error[0])
					fmt(run->error, sizeof run->error, "out of memory");
				goto out;
			}
			cJSON_Delete(c.status);
			c.status = NULL;
		}
		if (c.defer_advance) { /* no bytes went after all */
			c.defer_advance = false;
			if (io->advance(io->arg, c.now, why, sizeof why) != 0) {
				fmt(run->error, sizeof run->error, "clock: %s", why);
				goto out;
			}
		}
		if (c.nopen > 0 && io->settle)
			io->settle(io->arg);
		check_open(&c, i >= nev && next == INFINITY && c.phead >= c.npend);
	}
	/* A trailing wait lets time pass with nothing due in it (a client of
	 * the twin talking to it meanwhile, the device's own timers). */
	if (s->duration > c.now) {
		if (io->advance(io->arg, s->duration, why, sizeof why) != 0) {
			fmt(run->error, sizeof run->error, "clock: %s", why);
			goto out;
		}
		c.now = s->duration;
	}
	if (io->sample)
		report_samples(&c);
	rc = 0;
out:
	run->duration = c.now;
	free(ev);
	for (size_t k = 0; k < c.ncaps; k++)
		sc_capture_free(&c.caps[k].cap);
	free(c.caps);
	free(c.open);
	free(c.pend);
	free(c.remaining);
	cJSON_Delete(c.status);
	sc_tg_stream_free(c.oracle);
	free(c.oev);
	return rc;
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
