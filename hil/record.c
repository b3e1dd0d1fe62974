#define _DEFAULT_SOURCE
#include "record.h"

#include <cjson/cJSON.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "regmap.h"
#include "statefile.h"

/* Text when every byte is printable (CR, LF, tab, STX, ETX, EOT allowed),
 * else hex: as a scenario's "telegram" / "telegram_hex" takes it. */
static void add_telegram(cJSON *step, const char *bytes, size_t len)
{
	bool text = true;
	for (size_t i = 0; i < len && text; i++) {
		unsigned char c = (unsigned char)bytes[i];
		text = (c >= 0x20 && c < 0x7F) || c == '\r' || c == '\n' || c == '\t' || c == 0x02 ||
		       c == 0x03 || c == 0x04;
	}
	if (text) {
		char *s = malloc(len + 1);
		if (!s)
			return;
		memcpy(s, bytes, len);
		s[len] = '\0';
		cJSON_AddStringToObject(step, "telegram", s);
		free(s);
		return;
	}
	char *h = malloc(len * 2 + 1);
	if (!h)
		return;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		h[2 * i] = hex[(unsigned char)bytes[i] >> 4];
		h[2 * i + 1] = hex[(unsigned char)bytes[i] & 15];
	}
	h[2 * len] = '\0';
	cJSON_AddStringToObject(step, "telegram_hex", h);
	free(h);
}

/* The power_instant as expected fields: phases as dotted keys, ts left out
 * (the device stamps it when the telegram has none). */
static cJSON *mqtt_fields(const char *payload)
{
	cJSON *doc = cJSON_Parse(payload);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return NULL;
	}
	cJSON *fields = cJSON_CreateObject();
	for (cJSON *v = doc->child; v; v = v->next) {
		if (strcmp(v->string, "ts") == 0)
			continue;
		if (cJSON_IsObject(v)) {
			for (cJSON *p = v->child; p; p = p->next) {
				char key[64];
				snprintf(key, sizeof key, "%s.%s", v->string, p->string);
				cJSON_AddItemToObject(fields, key, cJSON_Duplicate(p, 0));
			}
		} else if (!cJSON_IsArray(v)) {
			cJSON_AddItemToObject(fields, v->string, cJSON_Duplicate(v, 0));
		}
	}
	cJSON_Delete(doc);
	return fields;
}

static cJSON *telegram_step(const struct sc_run_telegram *t)
{
	cJSON *st = cJSON_CreateObject();
	cJSON_AddNumberToObject(st, "at", round(t->at * 1000) / 1000);
	if (t->bytes)
		add_telegram(st, t->bytes, t->len);
	if (!t->sent) {
		cJSON_AddStringToObject(st, "note", "did not reach the device in the recording");
		return st;
	}
	if (!t->served && !t->mqtt) {
		cJSON_AddStringToObject(st, "note", t->ok ? "the device served nothing after it in the recording"
							   : "the twin rejects this telegram; the device served "
							     "nothing after it in the recording");
		return st;
	}
	cJSON *ex = cJSON_AddArrayToObject(st, "expect");
	if (t->served) {
		cJSON *regs = cJSON_CreateObject();
		for (size_t i = 0; i < SC_REGMAP_NKEY; i++)
			cJSON_AddNumberToObject(regs, sc_regmap_key[i], (double)t->regs[i]);
		cJSON *m = cJSON_CreateObject();
		cJSON_AddItemToObject(m, "registers", regs);
		cJSON *e = cJSON_CreateObject();
		cJSON_AddItemToObject(e, "modbus", m);
		cJSON_AddItemToArray(ex, e);
	}
	cJSON *fields = t->mqtt ? mqtt_fields(t->mqtt) : NULL;
	if (fields) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddItemToObject(m, "fields", fields);
		cJSON *e = cJSON_CreateObject();
		cJSON_AddItemToObject(e, "mqtt", m);
		cJSON_AddItemToArray(ex, e);
	}
	if (!t->ok)
		cJSON_AddStringToObject(st, "note", "the twin rejects this telegram");
	return st;
}

static bool sends_telegrams(const cJSON *step)
{
	return cJSON_GetObjectItemCaseSensitive(step, "telegrams") ||
	       cJSON_GetObjectItemCaseSensitive(step, "telegram") ||
	       cJSON_GetObjectItemCaseSensitive(step, "telegram_hex") ||
	       cJSON_GetObjectItemCaseSensitive(step, "capture");
}

int sc_record_write(const char *out, const char *scenario_text, const struct sc_record_info *ri,
		    const struct sc_run *run, char *why, size_t cap)
{
	cJSON *orig = cJSON_Parse(scenario_text);
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(orig, "steps");
	if (!cJSON_IsArray(steps)) {
		cJSON_Delete(orig);
		snprintf(why, cap, "the scenario has no steps");
		return -1;
	}
	cJSON *root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "scenario", 1);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(orig, "name");
	char buf[700];
	snprintf(buf, sizeof buf, "%s-recorded", cJSON_IsString(name) ? name->valuestring : "run");
	cJSON_AddStringToObject(root, "name", buf);
	snprintf(buf, sizeof buf, "What %s%s%s%s served for %s, recorded %s", ri->dut,
		 ri->dut_firmware ? " (firmware " : "", ri->dut_firmware ? ri->dut_firmware : "",
		 ri->dut_firmware ? ")" : "", ri->source, ri->started);
	cJSON_AddStringToObject(root, "description", buf);
	/* The header as the original has it. */
	static const char *const keep[] = {"device", "firmware", "serial", "word_order", "config", "meter"};
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(orig, keep[i]);
		if (v)
			cJSON_AddItemToObject(root, keep[i], cJSON_Duplicate(v, 1));
	}
	cJSON *out_steps = cJSON_AddArrayToObject(root, "steps");
	int index = 0;
	for (const cJSON *st = steps->child; st; st = st->next, index++) {
		if (!sends_telegrams(st)) {
			cJSON_AddItemToArray(out_steps, cJSON_Duplicate(st, 1));
			continue;
		}
		for (size_t k = 0; k < run->ntg; k++)
			if (run->tg[k].step == index)
				cJSON_AddItemToArray(out_steps, telegram_step(&run->tg[k]));
	}
	cJSON_Delete(orig);
	/* One step per line, as sc-telegram to-scenario writes them. */
	cJSON *arr = cJSON_DetachItemFromObject(root, "steps");
	char *head = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	size_t total = strlen(head) + 64, used = 0;
	for (cJSON *s = arr->child; s; s = s->next) {
		char *line = cJSON_PrintUnformatted(s);
		total += strlen(line) + 8;
		free(line);
	}
	char *text = malloc(total);
	if (!text) {
		free(head);
		cJSON_Delete(arr);
		snprintf(why, cap, "out of memory");
		return -1;
	}
	used += (size_t)snprintf(text + used, total - used, "%.*s,\n \"steps\": [\n",
				 (int)(strlen(head) - 1), head);
	free(head);
	for (cJSON *s = arr->child; s; s = s->next) {
		char *line = cJSON_PrintUnformatted(s);
		used += (size_t)snprintf(text + used, total - used, "  %s%s\n", line, s->next ? "," : "");
		free(line);
	}
	used += (size_t)snprintf(text + used, total - used, " ]\n}\n");
	cJSON_Delete(arr);
	int rc = sc_write_file_atomic(out, text, used, 0644, why, cap);
	free(text);
	return rc;
}

char *sc_record_capture_scenario(const char *capture, char *why, size_t cap)
{
	struct sc_capture c;
	char w[600];
	if (sc_capture_load(capture, SC_PROTO_AUTO, 0, (size_t)1 << 30, &c, w, sizeof w) != 0) {
		snprintf(why, cap, "%s", w);
		return NULL;
	}
	if (c.n == 0) {
		snprintf(why, cap, "%s holds no telegram", capture);
		sc_capture_free(&c);
		return NULL;
	}
	char abs[PATH_MAX];
	if (!realpath(capture, abs))
		snprintf(abs, sizeof abs, "%s", capture);
	char *tmp = strdup(capture);
	char name[64];
	size_t k = 0;
	for (const char *q = tmp ? basename(tmp) : "capture"; *q && k + 1 < sizeof name; q++) {
		char ch = *q >= 'A' && *q <= 'Z' ? (char)(*q - 'A' + 'a') : *q;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_';
		name[k++] = ok ? ch : '-';
	}
	name[k] = '\0';
	free(tmp);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "scenario", 1);
	cJSON_AddStringToObject(root, "name", name);
	char desc[PATH_MAX + 64];
	snprintf(desc, sizeof desc, "The capture %s, %zu telegrams", capture, c.n);
	cJSON_AddStringToObject(root, "description", desc);
	bool tic = c.proto == SC_PROTO_TIC;
	cJSON_AddStringToObject(root, "device", tic ? "tic" : "p1");
	cJSON *meter = cJSON_AddObjectToObject(root, "meter");
	cJSON_AddStringToObject(meter, "protocol", tic ? "tic" : c.dsmr42 ? "dsmr42" : "dsmr50");
	for (size_t i = 0; i < c.n; i++)
		if (c.chunks[i].ts >= 978307200 && c.chunks[i].ts <= 4102444799) {
			cJSON_AddNumberToObject(meter, "start", (double)c.chunks[i].ts);
			break;
		}
	cJSON *steps = cJSON_AddArrayToObject(root, "steps");
	cJSON *st = cJSON_CreateObject();
	cJSON_AddNumberToObject(st, "at", 0);
	cJSON *cp = cJSON_AddObjectToObject(st, "capture");
	cJSON_AddStringToObject(cp, "file", abs);
	cJSON_AddNumberToObject(cp, "from", 0);
	cJSON_AddNumberToObject(cp, "count", (double)c.n);
	cJSON_AddItemToArray(steps, st);
	sc_capture_free(&c);
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		snprintf(why, cap, "out of memory");
	return text;
}
