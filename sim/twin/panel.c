/* The twin's panel and its values (panel.h). */
#include "panel.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "payload.h"
#include "regmap.h"
#include "twin.h"

/* The page's bytes, compiled in from sim/web/panel.html. */
extern const unsigned char sc_web_panel_html[];
extern const size_t sc_web_panel_html_len;

bool sc_panel_path(const char *path)
{
	return strcmp(path, "/sim") == 0 || strcmp(path, "/sim/") == 0 ||
	       strcmp(path, "/sim/index.html") == 0 || strcmp(path, "/sim/v1/values") == 0;
}

static void answer(struct sc_http_response *rs, int status, const char *type, const char *body,
		   size_t len)
{
	rs->status = status;
	rs->content_type = type;
	rs->body = malloc(len + 1);
	if (!rs->body) {
		rs->status = 500;
		rs->len = 0;
		return;
	}
	memcpy(rs->body, body, len);
	rs->body[len] = '\0';
	rs->len = len;
}

static void error(struct sc_http_response *rs, int status, const char *error, const char *reason)
{
	char buf[300];
	int n = snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"reason\":\"%s\"}", error, reason);
	answer(rs, status, "application/json", buf, (size_t)n);
}

static cJSON *values_doc(struct sc_twin *t)
{
	struct sc_device *d = sc_twin_device(t);
	const struct sc_regmap_opts *o = &d->cfg.regs;
	cJSON *doc = cJSON_CreateObject();
	cJSON *regs = cJSON_AddArrayToObject(doc, "Registers");
	if (!regs)
		goto fail;
	cJSON_AddStringToObject(doc, "WordOrder", o->order == SC_WORDS_ABCD ? "abcd" : "cdab");
	cJSON_AddNumberToObject(doc, "Generation", (double)d->generation);
	size_t n;
	const struct sc_regdef *defs = sc_regmap_defs(&n);
	for (size_t i = 0; i < n; i++) {
		const struct sc_regdef *r = &defs[i];
		const uint16_t *w = &d->image.w[r->addr - SC_REGMAP_BASE];
		char hex[8], field[16];
		snprintf(hex, sizeof hex, "0x%04X", r->addr);
		if (r->phase)
			snprintf(field, sizeof field, "l%d.%s", r->ph + 1, sc_pq_name((enum sc_pq)r->q));
		else
			snprintf(field, sizeof field, "%s", sc_rq_name((enum sc_rq)r->q));
		const char *unit = r->unit;
		if (o->energy_kwh && strcmp(unit, "Wh") == 0)
			unit = "kWh";
		cJSON *e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(regs, e))
			goto fail;
		cJSON_AddNumberToObject(e, "Address", r->addr);
		cJSON_AddStringToObject(e, "Hex", hex);
		cJSON_AddStringToObject(e, "Name", r->name);
		cJSON_AddStringToObject(e, "Unit", unit);
		cJSON_AddStringToObject(e, "Field", field);
		cJSON_AddStringToObject(e, "Meaning", r->what);
		cJSON_AddStringToObject(e, "P1", r->p1);
		cJSON_AddStringToObject(e, "TIC", r->tic);
		const int words[2] = {w[0], w[1]};
		cJSON_AddItemToObject(e, "Words", cJSON_CreateIntArray(words, 2));
		cJSON_AddNumberToObject(e, "Value", (double)sc_words_to_float(w, o->order));
	}
	if (d->have_reading) {
		const struct sc_payload_opts po = {o->energy_kwh};
		cJSON *pi = sc_payload_power_instant_as(&d->reading, &po);
		if (!pi)
			goto fail;
		cJSON_AddItemToObject(doc, "PowerInstant", pi);
	} else {
		cJSON_AddNullToObject(doc, "PowerInstant");
	}
	return doc;
fail:
	cJSON_Delete(doc);
	return NULL;
}

void sc_panel_handle(struct sc_twin *t, bool enabled, const struct sc_http_request *rq,
		     struct sc_http_response *rs)
{
	memset(rs, 0, sizeof *rs);
	if (!enabled) {
		error(rs, 403, "the control API is off",
		      "start sc-sim with --control on to see the twin's panel");
		return;
	}
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
		snprintf(rs->allow, sizeof rs->allow, "GET");
		error(rs, 405, "method not allowed", "GET");
		return;
	}
	if (strcmp(rq->path, "/sim") == 0) {
		/* The page's own URLs are built from where it is: /sim/. */
		snprintf(rs->location, sizeof rs->location, "%s/sim/", rq->base ? rq->base : "");
		error(rs, 308, "moved", "/sim/");
		return;
	}
	if (strcmp(rq->path, "/sim/v1/values") == 0) {
		cJSON *doc = values_doc(t);
		char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
		cJSON_Delete(doc);
		if (!text) {
			error(rs, 500, "out of memory", "");
			return;
		}
		rs->status = 200;
		rs->content_type = "application/json";
		rs->body = text;
		rs->len = strlen(text);
		return;
	}
	answer(rs, 200, "text/html; charset=utf-8", (const char *)sc_web_panel_html,
	       sc_web_panel_html_len);
}
