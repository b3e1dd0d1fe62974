/* The oracle: the twin's own core (parser, mapping, register image) fed
 * the telegrams that reached the device, so a check can compare what the
 * device serves with what the twin says it should serve. It follows the
 * firmware the device runs once an update was accepted (energy in kWh
 * before 5.1). */
#include "runner_int.h"

#include "sc_error.h"

int sc_oracle_init(struct sc_oracle *o, const struct sc_scenario *s)
{
	memset(o, 0, sizeof *o);
	o->regs.order = s->word_order;
	struct sc_fw_version fw;
	if (sc_fw_parse(s->firmware, &fw) == SC_OK)
		o->regs.energy_kwh = sc_fw_energy_kwh(&fw);
	o->stream = sc_tg_stream_new(s->device, 0);
	o->ev = malloc(sizeof *o->ev);
	return o->stream && o->ev ? 0 : -1;
}

void sc_oracle_free(struct sc_oracle *o)
{
	sc_tg_stream_free(o->stream);
	free(o->saved_stream);
	free(o->ev);
	o->saved_stream = NULL;
	o->stream = NULL;
	o->ev = NULL;
}

void sc_oracle_feed(struct sc_oracle *o, const char *data, size_t len, double at, bool *ok)
{
	*ok = false;
	while (len > 0) {
		size_t used = sc_tg_feed(o->stream, data, len, o->ev);
		data += used;
		len -= used;
		if (o->ev->kind == SC_TG_OK) {
			/* The one before: a device one telegram late serves it. */
			o->prev = o->last;
			o->have_prev = o->have_last;
			o->last = o->ev->reading;
			o->last_at = at;
			o->have_last = true;
			*ok = true;
		}
	}
}

int sc_oracle_mark(struct sc_oracle *o)
{
	/* A stream still deciding its protocol holds bytes outside itself. */
	if (o->stream->held)
		return -1;
	if (!o->saved_stream && !(o->saved_stream = malloc(sizeof *o->saved_stream)))
		return -1;
	/* Put back at the same address, its pointers into itself hold. */
	memcpy(o->saved_stream, o->stream, sizeof *o->stream);
	o->saved_last = o->last;
	o->saved_prev = o->prev;
	o->saved_have_last = o->have_last;
	o->saved_have_prev = o->have_prev;
	o->saved_last_at = o->last_at;
	return 0;
}

void sc_oracle_back(struct sc_oracle *o)
{
	memcpy(o->stream, o->saved_stream, sizeof *o->stream);
	o->last = o->saved_last;
	o->prev = o->saved_prev;
	o->have_last = o->saved_have_last;
	o->have_prev = o->saved_have_prev;
	o->last_at = o->saved_last_at;
}

void sc_oracle_firmware(struct sc_oracle *o, struct sc_dut *dut)
{
	/* Energy in kWh before 5.1: the oracle follows the firmware the
	 * device says it runs once an update was asked for. */
	if (!o->fw_pending)
		return;
	int st;
	char *body, why[256];
	if (sc_dut_http(dut, "GET", "/api/v1/firmware", NULL, &st, &body, why, sizeof why) != 0)
		return;
	cJSON *doc = st == 200 ? cJSON_Parse(body) : NULL;
	free(body);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "Version");
	struct sc_fw_version fw;
	if (cJSON_IsString(v) && sc_fw_parse(v->valuestring, &fw) == SC_OK &&
	    sc_fw_cmp(&fw, &o->fw_target) == 0) {
		o->regs.energy_kwh = sc_fw_energy_kwh(&fw);
		o->fw_pending = false;
	}
	cJSON_Delete(doc);
}

void sc_oracle_served(const struct sc_oracle *o, double *p, double *e)
{
	sc_oracle_served_of(o, &o->last, p, e);
}

void sc_oracle_served_of(const struct sc_oracle *o, const struct sc_reading *r, double *p,
			 double *e)
{
	struct sc_regmap img;
	sc_regmap_build(&img, r, &o->regs);
	if (p)
		*p = sc_words_to_float(&img.w[0x8016 - SC_REGMAP_BASE], o->regs.order);
	if (e)
		*e = sc_words_to_float(&img.w[0x8100 - SC_REGMAP_BASE], o->regs.order);
}

/* Two telegrams' values differ (NAN equal to NAN: absent in both). */
static bool tg_differ(const struct sc_run_telegram *a, const struct sc_run_telegram *b)
{
	const double x[] = {a->p, a->e_import, a->e_export}, y[] = {b->p, b->e_import, b->e_export};
	for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
		if (isnan(x[i]) != isnan(y[i]) || (!isnan(x[i]) && x[i] != y[i]))
			return true;
	return false;
}

int sc_oracle_moved(const struct sc_run *run, size_t steps)
{
	const struct sc_run_telegram *later = NULL;
	size_t seen = 0;
	for (size_t i = run->ntg; i-- > 0 && seen < steps + 1;) {
		const struct sc_run_telegram *t = &run->tg[i];
		if (!t->ok)
			continue;
		if (later && !tg_differ(t, later))
			return 0;
		later = t;
		seen++;
	}
	return seen == steps + 1 ? 1 : -1;
}
