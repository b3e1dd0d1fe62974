/* The expectations: each opens at its step's time (a telegram block's
 * after its last telegram) and passes when it holds at any check until its
 * deadline ("within", at least io.latency); one that cannot pass later
 * (a missing path, no telegram sent) fails at once. Each kind is checked
 * against what the device serves: Modbus registers (or the whole map
 * against the oracle's image of the last telegram), MQTT messages (given
 * io.mqtt_grace_ms of real time at the end), an HTTP request, the LED and
 * the counters of the status document (fetched once per moment). */
#include "runner_int.h"

#include <time.h>

#include "compare.h"
#include "json_at.h"
#include "payload.h"
#include "sc_error.h"

/* The LED and counters as a unit shows them to this bench: io.observe
 * (sc-hil's --hook), added to ex.status under the twin's paths
 * (Status.System.Led.State, Status.Counters) so that both kinds of device
 * are judged alike. NULL with why; *skip when this bench cannot observe
 * it. */
static const cJSON *observed_doc(struct sc_runner *c, const char *what, bool *skip, char *why,
				 size_t cap)
{
	bool led = strcmp(what, "led") == 0;
	const char *path = led ? "Status.System.Led.State" : "Status.Counters";
	if (c->ex.status && c->ex.status_at == c->now && sc_json_at(c->ex.status, path))
		return c->ex.status;
	if (!c->ex.status || c->ex.status_at != c->now) {
		cJSON_Delete(c->ex.status);
		c->ex.status = cJSON_CreateObject();
		c->ex.status_at = c->now;
		if (!c->ex.status) {
			sc_rn_fmt(why, cap, "out of memory");
			return NULL;
		}
	}
	char out[4096];
	int rc = c->io->observe(c->io->arg, what, out, sizeof out, why, cap);
	if (rc != 0) {
		*skip = rc > 0;
		return NULL;
	}
	cJSON *value = led ? cJSON_CreateString(out) : cJSON_Parse(out);
	if (!led && !cJSON_IsObject(value)) {
		cJSON_Delete(value);
		sc_rn_fmt(why, cap, "the counters observed are not a JSON object: %.120s", out);
		return NULL;
	}
	cJSON *st = cJSON_GetObjectItemCaseSensitive(c->ex.status, "Status");
	if (!st)
		st = cJSON_AddObjectToObject(c->ex.status, "Status");
	cJSON *at = st;
	if (led) {
		cJSON *sys = cJSON_GetObjectItemCaseSensitive(st, "System");
		if (!sys)
			sys = cJSON_AddObjectToObject(st, "System");
		at = sys ? cJSON_AddObjectToObject(sys, "Led") : NULL;
	}
	if (!at || !value || !cJSON_AddItemToObject(at, led ? "State" : "Counters", value)) {
		cJSON_Delete(value);
		sc_rn_fmt(why, cap, "out of memory");
		return NULL;
	}
	return c->ex.status;
}

/* The device's LED ("led") or counters ("counters"), in a document shaped
 * as the twin's state ({"Status": ...}), fetched once per moment: the
 * twin's /sim/v1/state, or what io.observe says of a unit (which serves
 * neither: its /api/v1/status is the manual's document only). NULL with
 * why; *skip when this bench cannot observe it on this device. */
static const cJSON *status_doc(struct sc_runner *c, const char *what, bool *skip, char *why,
			       size_t cap)
{
	*skip = false;
	if (c->io->observe)
		return observed_doc(c, what, skip, why, cap);
	if (c->ex.status && c->ex.status_at == c->now)
		return c->ex.status;
	cJSON_Delete(c->ex.status);
	c->ex.status = NULL;
	int st;
	char *body;
	c->ex.restarting[0] = '\0';
	if (sc_dut_http(c->dut, "GET", "/sim/v1/state", NULL, &st, &body, why, cap) != 0)
		return NULL;
	if (st != 200) {
		sc_rn_fmt(why, cap, "GET /sim/v1/state answered %d", st);
		/* Fix: while restarting the device answers 503 with the phase as
		 * its reason; the LED then shows that phase (power-up,
		 * initialising), which a led expectation could not see before. */
		cJSON *err = st == 503 ? cJSON_Parse(body) : NULL;
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(err, "reason");
		if (cJSON_IsString(r)) {
			sc_str_copy(c->ex.restarting, sizeof c->ex.restarting, r->valuestring);
			sc_rn_fmt(why, cap, "GET /sim/v1/state answered 503 (restarting: %s)", r->valuestring);
		}
		cJSON_Delete(err);
		free(body);
		return NULL;
	}
	c->ex.status = cJSON_Parse(body);
	free(body);
	if (!c->ex.status)
		sc_rn_fmt(why, cap, "the twin's state is not JSON");
	c->ex.status_at = c->now;
	return c->ex.status;
}

static void describe_json(const cJSON *v, char *buf, size_t cap)
{
	if (!v) {
		sc_rn_fmt(buf, cap, "(missing)");
		return;
	}
	char *t = cJSON_PrintUnformatted(v);
	sc_rn_fmt(buf, cap, "%s", t ? t : "?");
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
	bool skip;             /* cannot be observed on this bench (SKIP, actual says why) */
	char target[96], expected[160], actual[320];
};

/* Is the expectation's telegram the oracle's last (so its prev is the one
 * before)? The same send time and meter time. */
static bool want_is_last(const struct sc_runner *c, const struct sc_open_exp *o)
{
	return o->have_want && c->oracle.have_last && o->want_at == c->oracle.last_at &&
	       o->want.ts == c->oracle.last.ts;
}

/* Appends the likely cause of a map that differs from the oracle's image
 * (diagnose.h) to text. */
static void diagnose_map(struct sc_runner *c, const struct sc_open_exp *o, const uint16_t *got,
			 const struct sc_regmap *img, char *text, size_t cap)
{
	size_t ndefs;
	sc_regmap_defs(&ndefs);
	struct sc_dx_value *vals = malloc(ndefs * sizeof *vals);
	if (!vals)
		return;
	static struct sc_regmap prev;
	bool have_prev = want_is_last(c, o) && c->oracle.have_prev;
	if (have_prev)
		sc_regmap_build(&prev, &c->oracle.prev, &c->oracle.regs);
	struct sc_dx_input in = {vals, 0, sc_readback_served_moved(c->run, NULL, 3),
				 sc_oracle_moved(c->run, 2)};
	in.n = sc_dx_from_map(got, img, have_prev ? &prev : NULL, c->oracle.regs.order, vals);
	struct sc_dx_cause cause;
	sc_diagnose(&in, &cause);
	sc_diagnose_append(text, cap, &cause);
	free(vals);
}

static void check_modbus(struct sc_runner *c, const struct sc_open_exp *o, struct verdict *v)
{
	const struct sc_expect *e = o->e;
	char why[256];
	if (e->from_telegram) {
		sc_oracle_firmware(&c->oracle, c->dut);
		sc_str_copy(v->target, sizeof v->target, "the register map");
		if (!o->have_want) {
			sc_str_copy(v->expected, sizeof v->expected, "a telegram sent before");
			sc_str_copy(v->actual, sizeof v->actual, "none was");
			v->final_fail = true;
			return;
		}
		sc_rn_fmt(v->expected, sizeof v->expected, "the image of the telegram of ts %lld",
			 (long long)o->want.ts);
		static uint16_t got[SC_REGMAP_WORDS];
		if (sc_dut_read_map(c->dut, got, why, sizeof why) != 0) {
			sc_str_copy(v->actual, sizeof v->actual, why);
			return;
		}
		struct sc_regmap img;
		sc_regmap_build(&img, &o->want, &c->oracle.regs);
		size_t ndefs;
		const struct sc_regdef *defs = sc_regmap_defs(&ndefs);
		size_t bad = 0;
		struct sc_list diffs;
		/* Room kept for the likely cause. */
		sc_list_init(&diffs, v->actual, sizeof v->actual - SC_DX_TAIL);
		for (size_t i = 0; i < ndefs; i++) {
			size_t a = defs[i].addr - SC_REGMAP_BASE;
			float want = sc_words_to_float(&img.w[a], c->oracle.regs.order);
			float have = sc_words_to_float(&got[a], c->oracle.regs.order);
			double tol = fmax(e->m ? 0 : 0, fabs((double)want) * 1e-6);
			if (!(fabs((double)have - (double)want) <= tol)) {
				char item[128];
				sc_rn_fmt(item, sizeof item, "0x%04X %s %s (want %s)", defs[i].addr,
					  defs[i].name, sc_rn_ftext(have).s, sc_rn_ftext(want).s);
				sc_list_add(&diffs, item);
				bad++;
			}
		}
		sc_list_end(&diffs);
		v->pass = bad == 0;
		if (!v->pass)
			diagnose_map(c, o, got, &img, v->actual, sizeof v->actual);
		if (v->pass)
			sc_rn_fmt(v->actual, sizeof v->actual, "every register as the twin derives it from the "
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
		sc_rn_fmt(v->target, sizeof v->target, "0x%04X %s%s", e->m[0].addr, d ? d->name : "",
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
			sc_str_copy(why, sizeof why, "out of memory");
			rd = -1;
		}
		free(addrs);
	}
	if (rd != 0) {
		v->pass = false;
		sc_str_copy(v->expected, sizeof v->expected, "the registers");
		sc_str_copy(v->actual, sizeof v->actual, why);
		return;
	}
	size_t nm = e->nm > 0 ? (size_t)e->nm : 1;
	bool *ok = calloc(nm, sizeof *ok);
	char(*got)[96] = calloc(nm, sizeof *got);
	if (!ok || !got) {
		free(ok);
		free(got);
		v->pass = false;
		sc_str_copy(v->actual, sizeof v->actual, "out of memory");
		return;
	}
	int off = 0;
	for (int i = 0; i < e->nm; i++) {
		const struct sc_match *m = &e->m[i];
		uint16_t one[2];
		if (!several && sc_dut_read(c->dut, m->addr, 2, one, why, sizeof why) != 0) {
			sc_str_copy(got[i], sizeof got[i], why);
			ok[i] = false;
		} else {
			const uint16_t *w = several ? &map[m->addr - SC_REGMAP_BASE] : one;
			double have = sc_words_to_float(w, c->s->word_order);
			/* Floats as served: a tolerance of the float's own precision. */
			struct sc_match mm = *m;
			if (mm.kind == SC_MATCH_NUMBER)
				mm.tolerance = fmax(mm.tolerance, fabs(mm.num) * 1e-6);
			sc_rn_fmt(got[i], sizeof got[i], "%s", sc_rn_ftext(have).s);
			ok[i] = sc_match_number(&mm, have);
		}
		if (!ok[i]) {
			v->pass = false;
			off++;
		}
	}
	/* All of them when all held, else the ones off. */
	struct sc_list el, al;
	/* Room for " (N others as expected)" after the served values. */
	char others[40] = "";
	if (!v->pass && several && off < e->nm)
		sc_rn_fmt(others, sizeof others, " (%d other%s as expected)", e->nm - off,
			  e->nm - off == 1 ? "" : "s");
	sc_list_init(&el, v->expected, sizeof v->expected);
	sc_list_init(&al, v->actual, sizeof v->actual - strlen(others));
	for (int i = 0; i < e->nm; i++) {
		if (!v->pass && ok[i])
			continue;
		const struct sc_regdef *d = sc_regmap_def_at(e->m[i].addr);
		const char *name = several && d ? d->name : "";
		char exp[64], item[192];
		sc_match_describe(&e->m[i], exp, sizeof exp);
		sc_rn_fmt(item, sizeof item, "%s%s%s", name, *name ? " " : "", exp);
		sc_list_add(&el, item);
		sc_rn_fmt(item, sizeof item, "%s%s%s", name, *name ? " " : "", got[i]);
		sc_list_add(&al, item);
	}
	sc_list_end(&el);
	sc_list_end(&al);
	memcpy(v->actual + al.used, others, strlen(others) + 1);
	free(ok);
	free(got);
}

/* A scenario's field match on an MQTT value: its own tolerance, or for a
 * measured value (f32: power_instant) within float32 rounding (a unit may
 * hold it as float32). Counters stay exact integers. */
static bool mqtt_matches(const struct sc_match *m, const cJSON *v, bool f32)
{
	if (json_matches(m, v))
		return true;
	return f32 && m->kind == SC_MATCH_NUMBER && cJSON_IsNumber(v) &&
	       sc_cmp_f32(m->num, v->valuedouble);
}

/* The likely cause of a message (got, log[k]) that differs from the
 * oracle's power_instant (want): see diagnose.h. */
static void diagnose_payload(struct sc_runner *c, const struct sc_open_exp *o, const cJSON *want,
			     const cJSON *got, const struct sc_dut_msg *log, size_t k,
			     struct sc_dx_cause *cause)
{
	cJSON *prev = NULL;
	if (want_is_last(c, o) && c->oracle.have_prev) {
		const struct sc_payload_opts po = {c->oracle.regs.energy_kwh};
		prev = sc_payload_power_instant_as(&c->oracle.prev, &po);
	}
	/* Did the device's messages change across its last three? */
	int older = 0, served_moved = 0;
	for (size_t i = k; i-- > 0 && older < 2;) {
		if (strcmp(log[i].metric, log[k].metric) != 0)
			continue;
		cJSON *d = cJSON_Parse(log[i].payload);
		if (sc_dx_payload_moved(got, d))
			served_moved = 1;
		cJSON_Delete(d);
		older++;
	}
	if (older < 2)
		served_moved = -1;
	struct sc_dx_value vals[96];
	struct sc_dx_input in = {vals, sc_dx_from_payload(want, got, prev, vals, 96), served_moved,
				 sc_oracle_moved(c->run, 2)};
	sc_diagnose(&in, cause);
	cJSON_Delete(prev);
}

static void check_mqtt(struct sc_runner *c, const struct sc_open_exp *o, struct verdict *v)
{
	const struct sc_expect *e = o->e;
	sc_dut_mqtt_drain(c->dut, sc_rn_seen_now(c));
	size_t n;
	const struct sc_dut_msg *log = sc_dut_mqtt_log(c->dut, &n);
	sc_str_copy(v->target, sizeof v->target, e->metric);
	cJSON *want = NULL;
	if (e->from_telegram) {
		if (!o->have_want) {
			sc_str_copy(v->expected, sizeof v->expected, "a telegram sent before");
			sc_str_copy(v->actual, sizeof v->actual, "none was");
			v->final_fail = true;
			return;
		}
		/* In the firmware's energy unit, as the registers (kWh before 5.1). */
		const struct sc_payload_opts po = {c->oracle.regs.energy_kwh};
		want = sc_payload_power_instant_as(&o->want, &po);
		sc_rn_fmt(v->expected, sizeof v->expected, "power_instant of the telegram of ts %lld",
			 (long long)o->want.ts);
	} else {
		struct sc_list el;
		sc_list_init(&el, v->expected, sizeof v->expected);
		for (int i = 0; i < e->nm; i++) {
			char d[64], item[160];
			sc_match_describe(&e->m[i], d, sizeof d);
			sc_rn_fmt(item, sizeof item, "%s %s", e->m[i].key, d);
			sc_list_add(&el, item);
		}
		sc_list_end(&el);
	}
	/* The telegram's own message came when it was sent; other
	 * expectations look at the messages since their step, or since the
	 * last telegram before it (the device's latest message then). */
	double since = want ? o->want_at : o->have_want ? fmin(o->opened, o->want_at) : o->opened;
	int seen = 0;
	sc_rn_fmt(v->actual, sizeof v->actual, "no %s message since %g s", e->metric, since);
	/* Newest first: the freshest differing message explains a failure best. */
	for (size_t i = n; i-- > 0;) {
		const struct sc_dut_msg *m = &log[i];
		if (m->seen < since || strcmp(m->metric, e->metric) != 0)
			continue;
		seen++;
		cJSON *doc = cJSON_Parse(m->payload);
		if (!doc)
			continue;
		char diff[sizeof v->actual - 24];
		struct sc_list diffs;
		/* Against the oracle: room kept for the likely cause. */
		sc_list_init(&diffs, diff, sizeof diff - (want ? SC_DX_TAIL : 0));
		if (want) {
			sc_cmp_payload(want, doc, &diffs, c->io->ts_window, m->wall);
		} else {
			bool f32 = strcmp(e->metric, "power_instant") == 0;
			/* device_counters as Status.Counters: event counts since the
			 * start of the run, gauges as they are. */
			cJSON *counts = NULL;
			if (strcmp(e->metric, "device_counters") == 0)
				counts = sc_counters_since(doc, c->ex.base ? c->ex.base : c->ex.mqtt_base);
			for (int k = 0; k < e->nm; k++) {
				const cJSON *got = sc_json_at(counts ? counts : doc, e->m[k].key);
				if (!mqtt_matches(&e->m[k], got, f32)) {
					char g[64], item[160];
					describe_json(got, g, sizeof g);
					sc_rn_fmt(item, sizeof item, "%s %s", e->m[k].key, g);
					sc_list_add(&diffs, item);
				}
			}
			cJSON_Delete(counts);
		}
		bool ok = diffs.n + diffs.more == 0;
		sc_list_end(&diffs);
		struct sc_dx_cause cause = {SC_CAUSE_NONE, -1, -1, 0};
		if (!ok && want && seen == 1)
			diagnose_payload(c, o, want, doc, log, i, &cause);
		cJSON_Delete(doc);
		if (ok) {
			v->pass = true;
			sc_rn_fmt(v->actual, sizeof v->actual, "%s at %g s", want ? "the telegram's values"
							      : "a matching message", m->seen);
			break;
		}
		if (seen == 1) {
			sc_rn_fmt(v->actual, sizeof v->actual, "the last message has %s", diff);
			sc_diagnose_append(v->actual, sizeof v->actual, &cause);
		}
	}
	cJSON_Delete(want);
}

static void check_status_values(struct sc_runner *c, const struct sc_open_exp *o, struct verdict *v,
				const char *prefix)
{
	char why[256];
	const struct sc_expect *e = o->e;
	const cJSON *doc = status_doc(c, e->kind == SC_EXPECT_COUNTERS ? "counters" : "led", &v->skip,
				      why, sizeof why);
	if (!doc) {
		sc_str_copy(v->actual, sizeof v->actual, why);
		return;
	}
	/* Counters: the differences from the start of the run, so that the
	 * same scenario passes again on a device that has run before. */
	cJSON *since = NULL;
	if (e->kind == SC_EXPECT_COUNTERS) {
		since = sc_counters_since(sc_json_at(doc, "Status.Counters"), c->ex.base);
		if (!since) {
			sc_str_copy(v->actual, sizeof v->actual, "no Status.Counters in the twin's state");
			return;
		}
		doc = since;
		prefix = "";
	}
	v->pass = true;
	struct sc_list el, al;
	sc_list_init(&el, v->expected, sizeof v->expected);
	sc_list_init(&al, v->actual, sizeof v->actual);
	for (int i = 0; i < e->nm; i++) {
		char path[160], d[64], g[64], item[192];
		sc_rn_fmt(path, sizeof path, "%s%s", prefix, e->m[i].key);
		const cJSON *got = sc_json_at(doc, path);
		if (!json_matches(&e->m[i], got))
			v->pass = false;
		sc_match_describe(&e->m[i], d, sizeof d);
		describe_json(got, g, sizeof g);
		sc_rn_fmt(item, sizeof item, "%s %s", e->m[i].key, d);
		sc_list_add(&el, item);
		sc_rn_fmt(item, sizeof item, "%s %s", e->m[i].key, g);
		sc_list_add(&al, item);
	}
	sc_list_end(&el);
	sc_list_end(&al);
	cJSON_Delete(since);
	if (e->kind == SC_EXPECT_COUNTERS)
		prefix = "Status.Counters.";
	sc_rn_fmt(v->target, sizeof v->target, "%s%s%s", prefix, e->nm ? e->m[0].key : "",
		 e->nm > 1 ? " ..." : "");
}

static void check_http(struct sc_runner *c, const struct sc_expect *e, struct verdict *v)
{
	int st;
	char *body, why[256];
	sc_rn_fmt(v->target, sizeof v->target, "%s %s", e->method, e->path);
	struct sc_list el;
	sc_list_init(&el, v->expected, sizeof v->expected);
	if (e->status) {
		char item[32];
		sc_rn_fmt(item, sizeof item, "status %d", e->status);
		sc_list_add(&el, item);
	}
	for (int i = 0; i < e->nm; i++) {
		char d[64], item[192];
		sc_match_describe(&e->m[i], d, sizeof d);
		sc_rn_fmt(item, sizeof item, "%s %s", e->m[i].key, d);
		sc_list_add(&el, item);
	}
	sc_list_end(&el);
	if (c->io->unit && strncmp(e->path, "/sim/", 5) == 0) {
		sc_rn_fmt(v->actual, sizeof v->actual, "%s is the twin's own API: a unit serves only the "
			  "manual's interfaces", e->path);
		v->skip = true;
		return;
	}
	if (sc_dut_http(c->dut, e->method, e->path, e->body, &st, &body, why, sizeof why) != 0) {
		sc_str_copy(v->actual, sizeof v->actual, why);
		return;
	}
	cJSON_Delete(c->ex.status); /* a request may change what the status says */
	c->ex.status = NULL;
	struct sc_list al;
	sc_list_init(&al, v->actual, sizeof v->actual);
	char item[192];
	sc_rn_fmt(item, sizeof item, "status %d", st);
	sc_list_add(&al, item);
	v->pass = !e->status || st == e->status;
	cJSON *doc = e->nm ? cJSON_Parse(body) : NULL;
	for (int i = 0; i < e->nm; i++) {
		const cJSON *got = doc ? sc_json_at(doc, e->m[i].key) : NULL;
		char g[64];
		describe_json(got, g, sizeof g);
		if (!json_matches(&e->m[i], got))
			v->pass = false;
		sc_rn_fmt(item, sizeof item, "%s %s", e->m[i].key, g);
		sc_list_add(&al, item);
	}
	sc_list_end(&al);
	/* An accepted firmware update: the oracle follows once it runs. */
	if (st == 202 && strcmp(e->path, "/api/v1/firmware") == 0 && e->body) {
		cJSON *b = cJSON_Parse(e->body);
		const cJSON *ver = cJSON_GetObjectItemCaseSensitive(b, "Version");
		if (cJSON_IsString(ver) && sc_fw_parse(ver->valuestring, &c->oracle.fw_target) == SC_OK)
			c->oracle.fw_pending = true;
		cJSON_Delete(b);
	}
	cJSON_Delete(doc);
	free(body);
}

static void check(struct sc_runner *c, const struct sc_open_exp *o, struct verdict *v)
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
		const cJSON *doc = status_doc(c, "led", &v->skip, why, sizeof why);
		sc_str_copy(v->target, sizeof v->target, "Status.System.Led.State");
		sc_rn_fmt(v->expected, sizeof v->expected, "\"%s\"", o->e->led);
		const cJSON *led = doc ? sc_json_at(doc, "Status.System.Led.State") : NULL;
		if (!doc && (strcmp(c->ex.restarting, "power-up") == 0 ||
			     strcmp(c->ex.restarting, "initialising") == 0)) {
			/* Restarting: the LED shows the phase (see status_doc). */
			sc_rn_fmt(v->actual, sizeof v->actual, "\"%s\" (%s)", c->ex.restarting, why);
			v->pass = strcmp(c->ex.restarting, o->e->led) == 0;
			break;
		}
		if (!doc)
			sc_str_copy(v->actual, sizeof v->actual, why);
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

static void decide(struct sc_runner *c, struct sc_open_exp *o, const struct verdict *v)
{
	struct sc_result *x = sc_results_add(c->run);
	o->done = true;
	if (!x)
		return;
	sc_str_copy(x->where, sizeof x->where, o->e->where);
	x->at = o->opened;
	x->when = c->now;
	sc_str_copy(x->kind, sizeof x->kind, sc_expect_kind_name(o->e->kind));
	sc_str_copy(x->target, sizeof x->target, v->target);
	sc_text_fit(x->expected, sizeof x->expected, v->expected);
	sc_text_fit(x->actual, sizeof x->actual, v->actual);
	x->pass = v->pass;
	x->skipped = !v->pass && v->skip;
	if (o->st->note[0])
		sc_str_copy(x->note, sizeof x->note, o->st->note);
	sc_results_report(c->run, c->log, x);
}

void sc_expects_check(struct sc_runner *c, bool final)
{
	for (size_t i = 0; i < c->ex.nopen; i++) {
		struct sc_open_exp *o = &c->ex.open[i];
		if (o->done)
			continue;
		struct verdict v;
		/* Fix: "telegram" means the last telegram sent at the moment of
		 * the check. Kept from the opening, an expectation with "within"
		 * could never pass once another telegram was sent (e.g. Modbus
		 * back after a restart while the meter goes on sending). */
		if (o->e->from_telegram && c->oracle.have_last) {
			o->want = c->oracle.last;
			o->want_at = c->oracle.last_at;
			o->have_want = true;
		}
		check(c, o, &v);
		if (v.pass || v.final_fail || v.skip) {
			decide(c, o, &v);
			continue;
		}
		if (c->now + 1e-9 < o->deadline && !final)
			continue;
		if (o->e->kind == SC_EXPECT_MQTT) {
			/* Messages travel in real time: give them a moment. */
			struct sc_mqtt_grace g;
			sc_mqtt_grace_start(c, &g);
			while (sc_mqtt_grace_wait(c, &g)) {
				check(c, o, &v);
				if (v.pass)
					break;
			}
		}
		decide(c, o, &v);
	}
	/* Forget the decided ones. */
	size_t k = 0;
	for (size_t i = 0; i < c->ex.nopen; i++)
		if (!c->ex.open[i].done)
			c->ex.open[k++] = c->ex.open[i];
	c->ex.nopen = k;
}

int sc_expects_open(struct sc_runner *c, const struct sc_step *st)
{
	for (int i = 0; i < st->nexpect; i++) {
		if (c->ex.nopen == c->ex.capopen) {
			size_t cap = c->ex.capopen ? c->ex.capopen * 2 : 16;
			struct sc_open_exp *n = realloc(c->ex.open, cap * sizeof *n);
			if (!n)
				return -1;
			c->ex.open = n;
			c->ex.capopen = cap;
		}
		struct sc_open_exp *o = &c->ex.open[c->ex.nopen++];
		memset(o, 0, sizeof *o);
		o->e = &st->expect[i];
		o->st = st;
		o->opened = c->now;
		/* At least io.latency after the latest telegram really left:
		 * one the line wrote late is given its full time too. */
		o->deadline = fmax(c->now + fmax(st->expect[i].within, c->io->latency),
				   c->last_ended + c->io->latency);
		o->have_want = c->oracle.have_last;
		if (c->oracle.have_last) {
			o->want = c->oracle.last;
			o->want_at = c->oracle.last_at;
		}
	}
	return 0;
}

/* ---- actions ---- */

void sc_expects_api(struct sc_runner *c, const struct sc_step *st)
{
	struct sc_open_exp o = {.e = &st->api, .st = st, .opened = c->now, .deadline = c->now};
	struct verdict v;
	memset(&v, 0, sizeof v);
	check_http(c, &st->api, &v);
	decide(c, &o, &v);
}

void sc_expects_stale(struct sc_expects *ex)
{
	cJSON_Delete(ex->status);
	ex->status = NULL;
}

/* The baseline of device_counters: Status.Counters when the device serves
 * it (the same counters; read below), else the latest device_counters
 * message before the run (its ts left out: a time, not a count). None: the
 * counts are compared as they are. */
static void mqtt_counters_baseline(struct sc_runner *c)
{
	if (!sc_dut_mqtt_subscribed(c->dut))
		return;
	sc_dut_mqtt_drain(c->dut, c->now);
	size_t n;
	const struct sc_dut_msg *log = sc_dut_mqtt_log(c->dut, &n);
	for (size_t i = n; i-- > 0;) {
		if (strcmp(log[i].metric, "device_counters") != 0)
			continue;
		cJSON *doc = cJSON_Parse(log[i].payload);
		if (cJSON_IsObject(doc)) {
			cJSON_DeleteItemFromObjectCaseSensitive(doc, "ts");
			c->ex.mqtt_base = doc;
			return;
		}
		cJSON_Delete(doc);
	}
}

void sc_expects_baseline(struct sc_runner *c)
{
	bool wanted = false, mqtt = false;
	for (int i = 0; i < c->s->nsteps; i++)
		for (int j = 0; j < c->s->steps[i].nexpect; j++) {
			const struct sc_expect *e = &c->s->steps[i].expect[j];
			if (e->kind == SC_EXPECT_COUNTERS)
				wanted = true;
			if (e->kind == SC_EXPECT_MQTT && strcmp(e->metric, "device_counters") == 0)
				mqtt = true;
		}
	if (mqtt)
		mqtt_counters_baseline(c);
	if (!wanted && !mqtt)
		return;
	char why[256];
	bool skip;
	const cJSON *doc = status_doc(c, "counters", &skip, why, sizeof why);
	const cJSON *k = doc ? sc_json_at(doc, "Status.Counters") : NULL;
	if (cJSON_IsObject(k))
		c->ex.base = cJSON_Duplicate(k, true);
	/* Read again at the first check: the telegrams change it. */
	cJSON_Delete(c->ex.status);
	c->ex.status = NULL;
	c->ex.status_at = -1;
}

void sc_expects_free(struct sc_expects *ex)
{
	free(ex->open);
	cJSON_Delete(ex->status);
	cJSON_Delete(ex->base);
	cJSON_Delete(ex->mqtt_base);
	memset(ex, 0, sizeof *ex);
}
