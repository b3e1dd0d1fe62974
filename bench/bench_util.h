/* Shared harness of the parser benchmarks: load a capture repeated to a
 * size in memory, time each stage (best of three after a warm-up), print a
 * table, write the figures as JSON. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_stage {
	const char *name;
	/* Runs the stage over data; returns items parsed, counts others in *bad. */
	unsigned long (*run)(const char *data, size_t len, unsigned long *bad);
	unsigned long count, bad;
	double secs;
};

struct bench {
	const char *what;  /* "P1", "TIC" */
	const char *unit;  /* "telegrams", "frames" */
	const char *path;
	const char *json_out;
	double mb;
	char *data;
	size_t len, reps;
};

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* [--mb N] [--json FILE] [CAPTURE]; loads the capture repeated to N MB. */
static inline int bench_setup(struct bench *b, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			b->json_out = argv[++i];
		else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
			b->mb = atof(argv[++i]);
		else
			b->path = argv[i];
	}
	FILE *f = fopen(b->path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s (the field corpus is needed)\n", b->path);
		return 2;
	}
	static char one[1 << 20];
	size_t n = fread(one, 1, sizeof one, f);
	fclose(f);
	if (n == 0)
		return 2;
	b->reps = (size_t)(b->mb * 1e6 / (double)n) + 1;
	b->len = n * b->reps;
	b->data = malloc(b->len);
	if (!b->data)
		return 2;
	for (size_t i = 0; i < b->reps; i++)
		memcpy(b->data + i * n, one, n);
	return 0;
}

static inline int bench_run(struct bench *b, struct bench_stage *st, int nst)
{
	printf("%s benchmark: %s x %zu = %.1f MB, one core\n", b->what, b->path, b->reps,
	       (double)b->len / 1e6);
	printf("%-24s %12s %12s %10s %8s\n", "stage", b->unit, "per second", "MB/s", "ns each");
	for (int s = 0; s < nst; s++) {
		st[s].run(b->data, b->len / 10, &st[s].bad); /* warm-up */
		st[s].secs = 1e30;
		for (int rep = 0; rep < 3; rep++) {
			double t0 = bench_now();
			st[s].count = st[s].run(b->data, b->len, &st[s].bad);
			double t = bench_now() - t0;
			if (t < st[s].secs)
				st[s].secs = t;
		}
		printf("%-24s %12lu %12.0f %10.1f %8.0f%s\n", st[s].name, st[s].count,
		       (double)st[s].count / st[s].secs, (double)b->len / 1e6 / st[s].secs,
		       st[s].secs * 1e9 / (double)st[s].count, st[s].bad ? "  (errors!)" : "");
	}
	int rc = 0;
	if (b->json_out) {
		FILE *o = fopen(b->json_out, "w");
		if (!o) {
			perror(b->json_out);
			rc = 2;
		} else {
			fprintf(o, "{\n  \"benchmark\": \"%s\",\n  \"input\": \"%s\",\n  \"bytes\": %zu,\n"
				   "  \"stages\": [\n", b->what, b->path, b->len);
			for (int s = 0; s < nst; s++)
				fprintf(o,
					"    {\"stage\": \"%s\", \"%s\": %lu, \"errors\": %lu, "
					"\"seconds\": %.6f, \"per_second\": %.0f, \"mb_per_s\": %.1f}%s\n",
					st[s].name, b->unit, st[s].count, st[s].bad, st[s].secs,
					(double)st[s].count / st[s].secs,
					(double)b->len / 1e6 / st[s].secs, s + 1 < nst ? "," : "");
			fprintf(o, "  ]\n}\n");
			fclose(o);
		}
	}
	free(b->data);
	for (int s = 0; s < nst; s++)
		if (st[s].bad)
			rc = 1;
	return rc;
}

#endif
