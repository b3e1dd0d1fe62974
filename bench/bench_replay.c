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
 * bench_replay [--telegrams N] [--json FILE] */
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

struct variant {
	const char *name;
	bool mqtt, each;
	double wall, run;      /* s: the process, the scenario run */
	int passed, failed;
	long telegrams;
};

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

/* Runs sc-sim on the scenario; fills v from its summary line. */
static int run_variant(const char *sim, const char *scenario, struct variant *v)
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
	v->wall = now_s() - t0;
	char name[64];
	if (sscanf(last, "scenario %63s %d passed, %d failed, %*d skipped; %ld telegrams over %*g s of "
			 "device time in %lf s",
		   name, &v->passed, &v->failed, &v->telegrams, &v->run) != 5) {
		fprintf(stderr, "%s: no summary line from sc-sim (exit status %d)\n", v->name,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && v->failed == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	long n = 86400;
	const char *json = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--telegrams") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			json = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_replay [--telegrams N] [--json FILE]\n");
			return 2;
		}
	}
	if (n < 2 || n > 10000000) {
		fprintf(stderr, "bench_replay: --telegrams: 2 to 10000000\n");
		return 2;
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
	struct variant v[] = {
		{.name = "full: parse, registers, JSON, MQTT publish, Modbus read-back", .mqtt = true, .each = true},
		{.name = "without MQTT (--mqtt off)", .mqtt = false, .each = true},
		{.name = "without the read-back", .mqtt = true, .each = false},
		{.name = "neither: parse, registers, JSON, the oracle", .mqtt = false, .each = false},
	};
	size_t nv = sizeof v / sizeof v[0];
	int rc = 0;
	printf("Replay of %ld telegrams (a DSMR 5 day, one a second) at --speed max\n", n);
	printf("%-62s %9s %9s %12s %10s\n", "variant", "wall s", "run s", "telegrams/s", "us each");
	for (size_t i = 0; i < nv; i++) {
		if (run_variant(SC_SIM_PATH, v[i].mqtt ? with_mqtt : without, &v[i]) != 0) {
			fprintf(stderr, "%s: the scenario did not pass\n", v[i].name);
			rc = 1;
		}
		printf("%-62s %9.2f %9.2f %12.0f %10.1f\n", v[i].name, v[i].wall, v[i].run,
		       v[i].run > 0 ? (double)v[i].telegrams / v[i].run : 0,
		       v[i].telegrams > 0 ? v[i].run * 1e6 / (double)v[i].telegrams : 0);
		fflush(stdout);
	}
	unlink(with_mqtt);
	unlink(without);
	rmdir(dir);
	if (json) {
		FILE *f = fopen(json, "w");
		if (!f) {
			perror(json);
			return 1;
		}
		fprintf(f, "{\n  \"benchmark\": \"replay\",\n  \"telegrams\": %ld,\n  \"results\": [", n);
		for (size_t i = 0; i < nv; i++)
			fprintf(f,
				"%s\n    {\"subject\": \"sc_sim\", \"figure\": \"%s\", \"wall_s\": %.3f, "
				"\"run_s\": %.3f, \"per_second\": %.0f, \"passed\": %s}",
				i ? "," : "", v[i].name, v[i].wall, v[i].run,
				v[i].run > 0 ? (double)v[i].telegrams / v[i].run : 0,
				v[i].failed == 0 ? "true" : "false");
		fprintf(f, "\n  ]\n}\n");
		fclose(f);
	}
	return rc;
}
