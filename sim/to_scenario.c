/* sc-telegram to-scenario CAPTURE: a field capture turned into a replay
 * scenario (scenarios/README.md) whose expectations are what the twin
 * serves for it today. Replaying it later catches a regression of the twin;
 * playing it into a dongle (sc-hil) compares the unit with the twin.
 *
 * Each telegram becomes a step at its time (the meter's cadence, or the
 * capture's own times when it is timestamped) with the registers and the
 * power_instant the twin derives from it; a last step checks the counters. */
#define _DEFAULT_SOURCE
#include "to_scenario.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "device.h"
#include "payload.h"
#include "regmap.h"
#include "sc_error.h"
#include "tic_gen.h"

#define EXIT_USAGE 2

/* usage(FILE *): the text of man/help/sc-telegram-to-scenario.txt, generated at
 * build time. */
#include "help/sc-telegram-to-scenario.h"

/* The capture's path as the scenario will name it. */
static void relative_path(const char *capture, const char *output, char *out, size_t cap)
{
	char cap_abs[PATH_MAX], out_dir[PATH_MAX + 2];
	if (!realpath(capture, cap_abs)) {
		snprintf(out, cap, "%s", capture);
		return;
	}
	if (!output) {
		snprintf(out, cap, "%s", cap_abs);
		return;
	}
	char *tmp = strdup(output);
	char dir_real[PATH_MAX];
	if (!tmp || !realpath(dirname(tmp), dir_real)) {
		free(tmp);
		snprintf(out, cap, "%s", cap_abs);
		return;
	}
	free(tmp);
	snprintf(out_dir, sizeof out_dir, "%s/", dir_real);
	/* The common directory prefix, then ../ for each level left. */
	size_t common = 0;
	for (size_t i = 0; cap_abs[i] && out_dir[i] && cap_abs[i] == out_dir[i]; i++)
		if (cap_abs[i] == '/')
			common = i + 1;
	size_t used = 0;
	out[0] = '\0';
	for (const char *p = out_dir + common; *p; p++)
		if (*p == '/' && used + 3 < cap)
			used += (size_t)snprintf(out + used, cap - used, "../");
	snprintf(out + used, cap - used, "%s", cap_abs + common);
}

static bool printable(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t' && c != 0x02 && c != 0x03) || c >= 0x7F)
			return false;
	}
	return true;
}

static cJSON *modbus_expect(const struct sc_device *d)
{
	cJSON *regs = cJSON_CreateObject();
	/* The key registers that have a value in this telegram. */
	for (size_t i = 0; i < SC_REGMAP_NKEY; i++) {
		const struct sc_regdef *def = sc_regmap_def_named(sc_regmap_key[i]);
		double v;
		if (!def || !sc_regmap_value(def, &d->reading, &d->cfg.regs, &v))
			continue;
		/* As served: a float32. */
		cJSON_AddNumberToObject(regs, def->name, (double)(float)v);
	}
	cJSON *m = cJSON_CreateObject();
	cJSON_AddItemToObject(m, "registers", regs);
	cJSON *e = cJSON_CreateObject();
	cJSON_AddItemToObject(e, "modbus", m);
	return e;
}

/* Every field of power_instant, phases as dotted keys ("l1.U"). */
static cJSON *mqtt_expect(const struct sc_device *d)
{
	cJSON *pi = sc_payload_power_instant(&d->reading);
	cJSON *fields = cJSON_CreateObject();
	for (cJSON *v = pi ? pi->child : NULL; v; v = v->next) {
		if (strcmp(v->string, "ts") == 0)
			continue; /* stamped by the device when the telegram has none */
		if (cJSON_IsObject(v)) {
			for (cJSON *p = v->child; p; p = p->next) {
				char key[32];
				snprintf(key, sizeof key, "%s.%s", v->string, p->string);
				cJSON_AddItemToObject(fields, key, cJSON_Duplicate(p, 0));
			}
		} else {
			cJSON_AddItemToObject(fields, v->string, cJSON_Duplicate(v, 0));
		}
	}
	cJSON_Delete(pi);
	cJSON *m = cJSON_CreateObject();
	cJSON_AddItemToObject(m, "fields", fields);
	cJSON *e = cJSON_CreateObject();
	cJSON_AddItemToObject(e, "mqtt", m);
	return e;
}

int sc_cmd_to_scenario(int argc, char **argv)
{
	enum { O_NAME = 256, O_PROTO, O_EMBED, O_EVERY, O_NO_MQTT };
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"name", required_argument, NULL, O_NAME},
		{"protocol", required_argument, NULL, O_PROTO}, {"embed", no_argument, NULL, O_EMBED},
		{"every", required_argument, NULL, O_EVERY}, {"no-mqtt", no_argument, NULL, O_NO_MQTT},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *output = NULL, *name = NULL;
	enum sc_protocol proto = SC_PROTO_AUTO;
	bool embed = false, mqtt = true;
	double every = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case O_NAME:
			name = optarg;
			break;
		case O_PROTO: {
			int p = sc_protocol_from_name(optarg);
			if (p < 0) {
				fprintf(stderr, "sc-telegram to-scenario: --protocol: '%s' is not auto, p1 or tic\n",
					optarg);
				return EXIT_USAGE;
			}
			proto = (enum sc_protocol)p;
			break;
		}
		case O_EMBED:
			embed = true;
			break;
		case O_EVERY: {
			char *end;
			errno = 0;
			every = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(every >= 0.001 && every <= 86400)) {
				fprintf(stderr, "sc-telegram to-scenario: --every: '%s' is not 0.001-86400 s\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case O_NO_MQTT:
			mqtt = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "sc-telegram to-scenario: one capture file expected\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *path = argv[optind];
	struct sc_capture cap;
	char why[600];
	if (sc_capture_load(path, proto, 0, (size_t)1 << 30, &cap, why, sizeof why) != 0) {
		fprintf(stderr, "sc-telegram to-scenario: %s\n", why);
		return EXIT_USAGE;
	}
	if (cap.cut_short)
		fprintf(stderr, "sc-telegram to-scenario: warning: %s: the compressed data ends early "
				"(a recording cut short?); %zu bytes read\n",
			path, cap.len);
	if (cap.n == 0) {
		fprintf(stderr, "sc-telegram to-scenario: %s holds no telegram\n", path);
		sc_capture_free(&cap);
		return 1;
	}
	/* The twin's device core, fed the capture chunk by chunk as a replay feeds it. */
	static struct sc_device dev;
	struct sc_device_config dc = {.protocol = cap.proto, .regs = {SC_WORDS_CDAB, false}};
	if (sc_device_init(&dev, &dc) != SC_OK) {
		sc_capture_free(&cap);
		return 1;
	}
	char rel[PATH_MAX + 64], sname[64];
	relative_path(path, output, rel, sizeof rel);
	if (name) {
		snprintf(sname, sizeof sname, "%s", name);
	} else {
		/* The file's base name, in the characters a name allows. */
		char *tmp = strdup(path);
		const char *b = tmp ? basename(tmp) : "capture";
		size_t k = 0;
		for (const char *q = b; *q && k + 1 < sizeof sname; q++) {
			char ch = *q >= 'A' && *q <= 'Z' ? (char)(*q - 'A' + 'a') : *q;
			sname[k++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
						     ch == '_'
					     ? ch
					     : '-';
		}
		sname[k] = '\0';
		free(tmp);
	}
	cJSON *root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "scenario", 1);
	cJSON_AddStringToObject(root, "name", sname);
	char desc[700];
	snprintf(desc, sizeof desc, "Replay of %s (%zu telegrams) with what the twin served for it",
		 path, cap.n);
	cJSON_AddStringToObject(root, "description", desc);
	cJSON_AddStringToObject(root, "device", cap.proto == SC_PROTO_TIC ? "tic" : "p1");
	/* The device clock starts at the capture's first timestamp. */
	int64_t first_ts = -1;
	for (size_t k = 0; k < cap.n && first_ts < 0; k++)
		first_ts = cap.chunks[k].ts;
	cJSON *meter = cJSON_AddObjectToObject(root, "meter");
	cJSON_AddStringToObject(meter, "protocol", cap.proto == SC_PROTO_TIC ? "tic"
						   : cap.dsmr42 ? "dsmr42" : "dsmr50");
	if (first_ts >= 978307200 && first_ts <= 4102444799)
		cJSON_AddNumberToObject(meter, "start", (double)first_ts);
	cJSON *steps = cJSON_AddArrayToObject(root, "steps");
	double t = 0, t0 = -1;
	int ok = 0;
	for (size_t k = 0; k < cap.n; k++) {
		const struct sc_capture_chunk *ch = &cap.chunks[k];
		if (k > 0) {
			if (every > 0)
				t += every;
			else if (cap.timestamped && ch->line_time >= 0 && t0 >= 0)
				t = ch->line_time - t0;
			else
				t += cap.proto == SC_PROTO_TIC
					     ? (double)sc_tic_cadence_ms(cap.chunks[k - 1].len) / 1000.0
					     : cap.dsmr42 ? 10.0 : 1.0;
		}
		if (t0 < 0 && ch->line_time >= 0)
			t0 = ch->line_time;
		uint64_t before = dev.counters.telegrams_pass;
		sc_device_feed(&dev, cap.data + ch->off, ch->len, (int64_t)(t * 1000));
		cJSON *st = cJSON_CreateObject();
		cJSON_AddNumberToObject(st, "at", round(t * 1000) / 1000);
		if (embed) {
			if (printable(cap.data + ch->off, ch->len)) {
				char *s = malloc(ch->len + 1);
				memcpy(s, cap.data + ch->off, ch->len);
				s[ch->len] = '\0';
				cJSON_AddStringToObject(st, "telegram", s);
				free(s);
			} else {
				char *h = malloc(ch->len * 2 + 1);
				for (size_t i = 0; i < ch->len; i++)
					snprintf(h + 2 * i, 3, "%02x", (unsigned char)cap.data[ch->off + i]);
				cJSON_AddStringToObject(st, "telegram_hex", h);
				free(h);
			}
		} else {
			cJSON *c2 = cJSON_AddObjectToObject(st, "capture");
			cJSON_AddStringToObject(c2, "file", rel);
			cJSON_AddNumberToObject(c2, "from", (double)k);
			cJSON_AddNumberToObject(c2, "count", 1);
		}
		if (dev.counters.telegrams_pass > before) {
			ok++;
			cJSON *ex = cJSON_AddArrayToObject(st, "expect");
			cJSON_AddItemToArray(ex, modbus_expect(&dev));
			if (mqtt)
				cJSON_AddItemToArray(ex, mqtt_expect(&dev));
		} else {
			char note[64];
			snprintf(note, sizeof note, "telegram %zu is rejected by the twin", k);
			cJSON_AddStringToObject(st, "note", note);
		}
		cJSON_AddItemToArray(steps, st);
	}
	sc_device_input_end(&dev, (int64_t)(t * 1000));
	cJSON *last = cJSON_CreateObject();
	cJSON_AddNumberToObject(last, "at", round(t * 1000) / 1000);
	cJSON_AddStringToObject(last, "note", "what the device counted");
	cJSON *cnt = cJSON_CreateObject();
	cJSON_AddNumberToObject(cnt, "telegrams_pass", (double)dev.counters.telegrams_pass);
	cJSON_AddNumberToObject(cnt, "telegrams_fail", (double)dev.counters.telegrams_fail);
	cJSON_AddNumberToObject(cnt, "telegrams_frame_fail", (double)dev.counters.telegrams_frame_fail);
	cJSON *ce = cJSON_CreateObject();
	cJSON_AddItemToObject(ce, "counters", cnt);
	cJSON_AddItemToObject(last, "expect", ce);
	cJSON_AddItemToArray(steps, last);
	sc_device_free(&dev);
	sc_capture_free(&cap);

	/* One step per line: a diff of two scenarios reads telegram by telegram. */
	FILE *out = output ? fopen(output, "w") : stdout;
	if (!out) {
		fprintf(stderr, "sc-telegram to-scenario: %s: %s\n", output, strerror(errno));
		cJSON_Delete(root);
		return EXIT_USAGE;
	}
	cJSON *st_arr = cJSON_DetachItemFromObject(root, "steps");
	int nsteps = cJSON_GetArraySize(st_arr);
	char *head = cJSON_PrintUnformatted(root);
	size_t hl = strlen(head);
	fprintf(out, "%.*s,\n \"steps\": [\n", (int)(hl - 1), head);
	free(head);
	for (cJSON *s = st_arr->child; s; s = s->next) {
		char *line = cJSON_PrintUnformatted(s);
		fprintf(out, "  %s%s\n", line, s->next ? "," : "");
		free(line);
	}
	fprintf(out, " ]\n}\n");
	cJSON_Delete(st_arr);
	cJSON_Delete(root);
	int rc = 0;
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "sc-telegram to-scenario: write error: %s\n", strerror(errno));
		rc = EXIT_USAGE;
	}
	if (output && fclose(out) != 0 && rc == 0) {
		fprintf(stderr, "sc-telegram to-scenario: %s: %s\n", output, strerror(errno));
		rc = EXIT_USAGE;
	}
	if (output && rc == 0)
		fprintf(stderr, "%s: %d steps, %d telegrams with expectations\n", output, nsteps, ok);
	return rc;
}
