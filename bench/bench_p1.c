/* P1 throughput: the AM550 field capture repeated to at least 100 MB in
 * memory, fed through the incremental parser in 64 KiB chunks (as from a file)
 * on one core. Stages measured separately:
 *   frame+crc        framing, CRC-16 and object decoding (sc_p1_feed)
 *   parse+crc+map    + mapping to the device reading (sc_p1_to_reading)
 *   + registers      + the Modbus register image (sc_regmap_build)
 *   + json           + the power_instant JSON text (cJSON)
 * Prints a table and, with --json FILE, writes the figures as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "p1.h"
#include "payload.h"
#include "regmap.h"

enum stage { FRAME, MAP, REGS, JSON, NSTAGES };
static const char *const stage_names[NSTAGES] = {"frame+crc+decode", "parse+crc+map",
						  "+ register image", "+ power_instant json"};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct sc_p1_parser parser;
static struct sc_p1_result res;

/* Returns telegrams parsed; *bad counts anything else. */
static unsigned long run(const char *data, size_t len, enum stage st, unsigned long *bad,
			 double *sink)
{
	unsigned long ok = 0;
	struct sc_reading r;
	struct sc_regmap m;
	char json[4096];
	memset(&parser, 0, sizeof parser);
	*bad = 0;
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < 65536 ? len - off : 65536;
		const char *d = data + off;
		off += chunk;
		while (chunk > 0) {
			size_t used = sc_p1_feed(&parser, d, chunk, &res);
			d += used;
			chunk -= used;
			if (res.event == SC_P1_NEED_MORE)
				continue;
			if (res.event != SC_P1_TELEGRAM) {
				(*bad)++;
				continue;
			}
			ok++;
			if (st == FRAME) {
				*sink += res.tg.power_import.v;
				continue;
			}
			sc_p1_to_reading(&res.tg, res.raw, &r);
			*sink += r.q[SC_RQ_P].v;
			if (st >= REGS) {
				sc_regmap_build(&m, &r, NULL);
				*sink += m.w[0x16];
			}
			if (st >= JSON)
				*sink += sc_payload_power_instant_text(&r, json, sizeof json);
		}
	}
	while (sc_p1_finish(&parser, &res) != SC_P1_NEED_MORE)
		(*bad)++;
	return ok;
}

int main(int argc, char **argv)
{
	const char *path = SC_CORPUS_DIR "/p1/dsmr50-iskra-am550-566-telegrams.p1";
	const char *json_out = NULL;
	double target_mb = 100;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json_out = argv[++i];
		else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
			target_mb = atof(argv[++i]);
		else
			path = argv[i];
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "bench_p1: cannot open %s (the field corpus is needed)\n", path);
		return 2;
	}
	static char one[1 << 20];
	size_t n = fread(one, 1, sizeof one, f);
	fclose(f);
	size_t reps = (size_t)(target_mb * 1e6 / (double)n) + 1;
	size_t len = n * reps;
	char *data = malloc(len);
	if (!data)
		return 2;
	for (size_t i = 0; i < reps; i++)
		memcpy(data + i * n, one, n);

	double sink = 0;
	double secs[NSTAGES];
	unsigned long count[NSTAGES], bad[NSTAGES];
	printf("P1 benchmark: %s x %zu = %.1f MB, one core\n", path, reps, (double)len / 1e6);
	printf("%-22s %12s %14s %10s %8s\n", "stage", "telegrams", "telegrams/s", "MB/s", "ns/tg");
	for (int st = 0; st < NSTAGES; st++) {
		run(data, len / 10, (enum stage)st, &bad[st], &sink); /* warm-up */
		double best = 1e30;
		for (int rep = 0; rep < 3; rep++) {
			double t0 = now();
			count[st] = run(data, len, (enum stage)st, &bad[st], &sink);
			double t = now() - t0;
			if (t < best)
				best = t;
		}
		secs[st] = best;
		printf("%-22s %12lu %14.0f %10.1f %8.0f%s\n", stage_names[st], count[st],
		       (double)count[st] / best, (double)len / 1e6 / best, best * 1e9 / (double)count[st],
		       bad[st] ? "  (errors!)" : "");
	}
	if (json_out) {
		FILE *o = fopen(json_out, "w");
		if (!o) {
			perror(json_out);
			return 2;
		}
		fprintf(o, "{\n  \"input\": \"%s\",\n  \"bytes\": %zu,\n  \"stages\": [\n", path, len);
		for (int st = 0; st < NSTAGES; st++)
			fprintf(o,
				"    {\"stage\": \"%s\", \"telegrams\": %lu, \"errors\": %lu, "
				"\"seconds\": %.6f, \"telegrams_per_s\": %.0f, \"mb_per_s\": %.1f}%s\n",
				stage_names[st], count[st], bad[st], secs[st],
				(double)count[st] / secs[st], (double)len / 1e6 / secs[st],
				st + 1 < NSTAGES ? "," : "");
		fprintf(o, "  ]\n}\n");
		fclose(o);
	}
	free(data);
	return sink == 0.12345 ? 1 : 0;
}
