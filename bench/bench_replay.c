/* Replay speed: a day of a DSMR 5 meter (86,400 telegrams, one a second)
 * run as a scenario by sc-sim at --speed max through the whole pipeline:
 * parse, registers, power_instant JSON and its publish to a private
 * mosquitto, the oracle, and with --each-telegram power and energy read
 * back over Modbus TCP after every telegram (two reads).
 *
 * Variants: the full run; without MQTT (--mqtt off); without the read-back;
 * without either.
 * Each is one sc-sim process, timed from start to exit (set-up included)
 * and by its own summary line (the run). The scenario must pass: a run that
 * fails is reported and the benchmark exits 1.
 *
 * On a shared machine one run of each says little: --rounds N runs every
 * variant N times, interleaved (round 1 of each, then round 2, ...), and
 * reports the median and the best run; --baseline SC_SIM times a second
 * build (another commit's) in the same rounds, each run beside this one's,
 * with the ratio of the medians.
 *
 * bench_replay [--telegrams N] [--rounds N] [--only full|no-mqtt|no-readback|neither]
 *              [--sim SC_SIM] [--baseline SC_SIM] [--json FILE] */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define MAX_ROUNDS 50

struct variant {
	const char *key, *name;
	bool mqtt, each;
	/* per round, for the build timed and the baseline: the process, the
	 * scenario run (s) */
	double wall[2][MAX_ROUNDS], run[2][MAX_ROUNDS];
	int passed, failed;
	long telegrams;
	bool bad;
};

/* One sc-sim run's figures. */
struct one {
	double wall, run;
	int passed, failed;
	long telegrams;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];
	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double best(const double *v, int n)
{
	double b = v[0];
	for (int i = 1; i < n; i++)
		b = v[i] < b ? v[i] : b;
	return b;
}

static int write_scenario(const char *path, long n, bool mqtt)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f,
		"{\"scenario\": 1, \"name\": \"bench-day\",\n"
		" \"description\": \"A day of a DSMR 5 household with PV and an EV, a telegram a second\",\n"
		" \"meter\": {\"protocol\": \"dsmr50\", \"profile\": \"pv-ev\", \"seed\": 3, \"start\": 1751320800},\n"
		" \"steps\": [\n"
		"  {\"at\": 0, \"telegrams\": {\"count\": %ld}},\n"
		"  {\"at\": %ld, \"expect\": [{\"modbus\": \"telegram\"},%s\n"
		"    {\"counters\": {\"telegrams_pass\": %ld, \"telegrams_fail\": 0}}]}\n"
		" ]}\n",
		n, n - 1, mqtt ? " {\"mqtt\": {\"fields\": \"telegram\"}}," : "", n);
	return fclose(f);
}

/* Runs sc-sim on the scenario; fills o from its summary line. */
static int run_variant(const char *sim, const char *scenario, const struct variant *v, struct one *o)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		const char *argv[8] = {sim, "--scenario", scenario, "--speed", "max"};
		int k = 5;
		if (!v->mqtt) {
			argv[k++] = "--mqtt";
			argv[k++] = "off";
		}
		if (v->each)
			argv[k++] = "--each-telegram";
		argv[k] = NULL;
		execv(sim, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	FILE *out = fdopen(fds[0], "r");
	char line[1024], last[1024] = "";
	while (out && fgets(line, sizeof line, out)) {
		if (strncmp(line, "scenario ", 9) == 0)
			snprintf(last, sizeof last, "%s", line);
		if (strncmp(line, "FAIL", 4) == 0)
			fprintf(stderr, "%s: %s", v->name, line);
	}
	if (out)
		fclose(out);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	o->wall = now_s() - t0;
	char name[64];
	if (sscanf(last, "scenario %63s %d passed, %d failed, %*d skipped; %ld telegrams over %*g s of "
			 "device time in %lf s",
		   name, &o->passed, &o->failed, &o->telegrams, &o->run) != 5) {
		fprintf(stderr, "%s: no summary line from sc-sim (exit status %d)\n", v->name,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && o->failed == 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_replay [--telegrams N] [--rounds N] "
			"[--only full|no-mqtt|no-readback|neither] [--sim SC_SIM] [--baseline SC_SIM] "
			"[--json FILE]\n");
}

int main(int argc, char **argv)
{
	long n = 86400;
	int rounds = 1;
	const char *json = NULL, *only = NULL;
	const char *sims[2] = {SC_SIM_PATH, NULL};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--telegrams") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = (int)strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--sim") == 0 && i + 1 < argc) {
			sims[0] = argv[++i];
		} else if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc) {
			sims[1] = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			json = argv[++i];
		} else {
			usage();
			return 2;
		}
	}
	if (n < 2 || n > 10000000) {
		fprintf(stderr, "bench_replay: --telegrams: 2 to 10000000\n");
		return 2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench_replay: --rounds: 1 to %d\n", MAX_ROUNDS);
		return 2;
	}
	for (int k = 0; k < 2; k++) {
		if (sims[k] && access(sims[k], X_OK) != 0) {
			fprintf(stderr, "bench_replay: %s: not an executable\n", sims[k]);
			return 2;
		}
	}
	char dir[] = "/tmp/bench-replay-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char with_mqtt[64], without[64];
	snprintf(with_mqtt, sizeof with_mqtt, "%s/day.json", dir);
	snprintf(without, sizeof without, "%s/day-modbus.json", dir);
	if (write_scenario(with_mqtt, n, true) != 0 || write_scenario(without, n, false) != 0) {
		perror("scenario");
		return 1;
	}
	struct variant all[] = {
		{.key = "full", .name = "full: parse, registers, JSON, MQTT publish, Modbus read-back", .mqtt = true, .each = true},
		{.key = "no-mqtt", .name = "without MQTT (--mqtt off)", .mqtt = false, .each = true},
		{.key = "no-readback", .name = "without the read-back", .mqtt = true, .each = false},
		{.key = "neither", .name = "neither: parse, registers, JSON, the oracle", .mqtt = false, .each = false},
	};
	struct variant *v[4];
	size_t nv = 0;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!only || strcmp(only, all[i].key) == 0)
			v[nv++] = &all[i];
	if (nv == 0) {
		usage();
		return 2;
	}
	int nsim = sims[1] ? 2 : 1;
	int rc = 0;
	printf("Replay of %ld telegrams (a DSMR 5 day, one a second) at --speed max", n);
	if (rounds > 1)
		printf(", %d rounds interleaved: median (best)", rounds);
	printf("\n");
	if (nsim == 2)
		printf("this build: %s\nbaseline:   %s\n", sims[0], sims[1]);
	/* Interleaved: every variant (and the baseline beside it) once per round. */
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < nv; i++) {
			for (int k = 0; k < nsim; k++) {
				/* The baseline first in odd rounds: neither build always
				 * runs on the machine the other one left. */
				int which = nsim == 2 && r % 2 ? 1 - k : k;
				struct one o = {0};
				if (run_variant(sims[which], v[i]->mqtt ? with_mqtt : without, v[i], &o) != 0) {
					fprintf(stderr, "%s (%s): the scenario did not pass\n", v[i]->name,
						which ? "baseline" : "this build");
					rc = 1;
					v[i]->bad = true;
				}
				v[i]->wall[which][r] = o.wall;
				v[i]->run[which][r] = o.run;
				if (which == 0) {
					v[i]->passed = o.passed;
					v[i]->failed += o.failed;
					v[i]->telegrams = o.telegrams;
				}
			}
		}
	}
	printf("%-62s %9s %9s %12s %10s", "variant", "wall s", "run s", "telegrams/s", "us each");
	if (nsim == 2)
		printf(" %13s %9s", "baseline run", "ratio");
	printf("\n");
	for (size_t i = 0; i < nv; i++) {
		double w = median(v[i]->wall[0], rounds), t = median(v[i]->run[0], rounds);
		printf("%-62s %9.2f %9.2f %12.0f %10.1f", v[i]->name, w, t,
		       t > 0 ? (double)v[i]->telegrams / t : 0,
		       v[i]->telegrams > 0 ? t * 1e6 / (double)v[i]->telegrams : 0);
		if (nsim == 2) {
			double b = median(v[i]->run[1], rounds);
			printf(" %13.2f %9.2f", b, t > 0 ? b / t : 0);
		}
		printf("\n");
		if (rounds > 1) {
			printf("%-62s %9.2f %9.2f", "  best", best(v[i]->wall[0], rounds), best(v[i]->run[0], rounds));
			if (nsim == 2)
				printf(" %12s %10s %13.2f", "", "", best(v[i]->run[1], rounds));
			printf("\n");
		}
	}
	fflush(stdout);
	unlink(with_mqtt);
	unlink(without);
	rmdir(dir);
	if (json) {
		FILE *f = fopen(json, "w");
		if (!f) {
			perror(json);
			return 1;
		}
		fprintf(f, "{\n  \"benchmark\": \"replay\",\n  \"telegrams\": %ld,\n  \"rounds\": %d,\n  \"results\": [",
			n, rounds);
		for (size_t i = 0; i < nv; i++) {
			double t = median(v[i]->run[0], rounds);
			fprintf(f,
				"%s\n    {\"subject\": \"sc_sim\", \"figure\": \"%s\", \"wall_s\": %.3f, "
				"\"run_s\": %.3f, \"best_run_s\": %.3f, \"per_second\": %.0f, \"passed\": %s",
				i ? "," : "", v[i]->name, median(v[i]->wall[0], rounds), t,
				best(v[i]->run[0], rounds),
				t > 0 ? (double)v[i]->telegrams / t : 0,
				v[i]->failed == 0 && !v[i]->bad ? "true" : "false");
			if (nsim == 2)
				fprintf(f, ", \"baseline_run_s\": %.3f, \"baseline_best_run_s\": %.3f",
					median(v[i]->run[1], rounds), best(v[i]->run[1], rounds));
			fprintf(f, "}");
		}
		fprintf(f, "\n  ]\n}\n");
		fclose(f);
	}
	return rc;
}
