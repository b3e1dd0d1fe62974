/* TIC throughput: the Linky standard-mode consumer frame of the field corpus
 * (or a capture given as argument) repeated to at least 100 MB in memory,
 * fed through the TIC parser in 64 KiB chunks on one core. Stages:
 *   frame+checksum   framing, every group checked and decoded (sc_tic_feed)
 *   + map            + mapping to the device reading (sc_tic_to_reading)
 * Prints a table and, with --json FILE, writes the figures as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tic.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct sc_tic_parser parser;
static struct sc_tic_result res;

static unsigned long run(const char *data, size_t len, bool map, unsigned long *bad, double *sink)
{
	unsigned long ok = 0;
	struct sc_reading r;
	memset(&parser, 0, sizeof parser);
	*bad = 0;
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < 65536 ? len - off : 65536;
		const char *d = data + off;
		off += chunk;
		while (chunk > 0) {
			size_t used = sc_tic_feed(&parser, d, chunk, &res);
			d += used;
			chunk -= used;
			if (res.event == SC_TIC_NEED_MORE)
				continue;
			if (res.event != SC_TIC_FRAME) {
				(*bad)++;
				continue;
			}
			ok++;
			if (map) {
				sc_tic_to_reading(&res.frame, res.raw, &r);
				*sink += r.q[SC_RQ_P].v;
			} else {
				*sink += res.frame.sinsts.v;
			}
		}
	}
	while (sc_tic_finish(&parser, &res) != SC_TIC_NEED_MORE)
		(*bad)++;
	return ok;
}

int main(int argc, char **argv)
{
	const char *path = SC_CORPUS_DIR "/tic/standard-mono-consumer-base.tic";
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
		fprintf(stderr, "bench_tic: cannot open %s (the field corpus is needed)\n", path);
		return 2;
	}
	static char one[1 << 20];
	size_t n = fread(one, 1, sizeof one, f);
	fclose(f);
	size_t reps = (size_t)(target_mb * 1e6 / (double)n) + 1, len = n * reps;
	char *data = malloc(len);
	if (!data)
		return 2;
	for (size_t i = 0; i < reps; i++)
		memcpy(data + i * n, one, n);

	static const char *const names[2] = {"frame+checksum+decode", "parse+checksum+map"};
	double sink = 0, secs[2];
	unsigned long count[2], bad[2];
	printf("TIC benchmark: %s x %zu = %.1f MB, one core\n", path, reps, (double)len / 1e6);
	printf("%-22s %12s %12s %10s %8s\n", "stage", "frames", "frames/s", "MB/s", "ns/frame");
	for (int st = 0; st < 2; st++) {
		run(data, len / 10, st == 1, &bad[st], &sink);
		double best = 1e30;
		for (int rep = 0; rep < 3; rep++) {
			double t0 = now();
			count[st] = run(data, len, st == 1, &bad[st], &sink);
			double t = now() - t0;
			if (t < best)
				best = t;
		}
		secs[st] = best;
		printf("%-22s %12lu %12.0f %10.1f %8.0f%s\n", names[st], count[st],
		       (double)count[st] / best, (double)len / 1e6 / best,
		       best * 1e9 / (double)count[st], bad[st] ? "  (errors!)" : "");
	}
	if (json_out) {
		FILE *o = fopen(json_out, "w");
		if (!o) {
			perror(json_out);
			return 2;
		}
		fprintf(o, "{\n  \"input\": \"%s\",\n  \"bytes\": %zu,\n  \"stages\": [\n", path, len);
		for (int st = 0; st < 2; st++)
			fprintf(o,
				"    {\"stage\": \"%s\", \"frames\": %lu, \"errors\": %lu, "
				"\"seconds\": %.6f, \"frames_per_s\": %.0f, \"mb_per_s\": %.1f}%s\n",
				names[st], count[st], bad[st], secs[st], (double)count[st] / secs[st],
				(double)len / 1e6 / secs[st], st == 0 ? "," : "");
		fprintf(o, "  ]\n}\n");
		fclose(o);
	}
	free(data);
	return sink == 0.12345 ? 1 : 0;
}
