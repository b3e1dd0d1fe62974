/* Start-up: from fork+exec of the program to every one of its ports
 * accepting a TCP connection on loopback, polled by non-blocking connects
 * in a tight loop (what a CI job that starts a twin and connects waits for).
 *
 *   sc-sim, fresh state      Modbus, HTTP and HTTPS; a new state directory,
 *                            so the device's key and certificate are made
 *   sc-sim, saved state      the same directory again: the saved ones load
 *   sc-sim, no state kept    the default (a key made at every start)
 *   peers: pymodbus' TCP server (bench/pymodbus_server.py) and mosquitto,
 *   each to its one port.
 * Each is started --runs times (default 20); p50 and max in ms.
 * usage: bench_startup [--runs N] [--json FILE] */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) != 0)
		exit(2);
	close(s);
	return ntohs(sa.sin_port);
}

/* One non-blocking connect attempt with a short wait: true when accepted. */
static bool accepting(int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = false;
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
		ok = true;
	} else if (errno == EINPROGRESS) {
		struct pollfd p = {s, POLLOUT, 0};
		int err = 0;
		socklen_t el = sizeof err;
		if (poll(&p, 1, 50) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		    err == 0)
			ok = true;
	}
	close(s);
	return ok;
}

/* SIGTERM, again every 100 ms (a daemon may lose one that comes while it
 * is still starting: mosquitto does), SIGKILL after 5 s. */
static void stop(pid_t pid)
{
	for (int i = 0; i < 50; i++) {
		kill(pid, SIGTERM);
		for (int j = 0; j < 10; j++) {
			if (waitpid(pid, NULL, WNOHANG) == pid)
				return;
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Starts argv, returns ms until every port accepts (-1 after 20 s or when
 * the process exits), then stops it by its pid. */
static double time_start(char *const argv[], const int *ports, int nports)
{
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		dup2(dn, 0);
		dup2(dn, 1);
		dup2(dn, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	bool up[8] = {false};
	int left = nports;
	double ms = -1;
	while (now_s() - t0 < 20) {
		for (int i = 0; i < nports; i++)
			if (!up[i] && accepting(ports[i])) {
				up[i] = true;
				left--;
			}
		if (left == 0) {
			ms = (now_s() - t0) * 1e3;
			break;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			pid = -1;
			break;
		}
	}
	if (pid > 0)
		stop(pid);
	return ms;
}

struct result {
	const char *name, *key;
	double p50, max;
	int runs;
};

static char *mosquitto_path(void)
{
	static char path[] = "/usr/sbin/mosquitto";
	return access(path, X_OK) == 0 ? path : NULL;
}

int main(int argc, char **argv)
{
	int runs = 20;
	const char *json = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json = argv[++i];
		else {
			fprintf(stderr, "usage: bench_startup [--runs N] [--json FILE]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 1000) {
		fprintf(stderr, "bench_startup: --runs 1 to 1000\n");
		return 2;
	}
	char tmpl[] = "/tmp/bench-startup-XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		return 2;
	enum { FRESH, SAVED, NOSTATE, PYMODBUS, MOSQUITTO, N };
	struct result res[N] = {
		{"sc-sim, fresh state (key made)", "sc_sim_fresh", 0, 0, 0},
		{"sc-sim, saved state", "sc_sim_saved", 0, 0, 0},
		{"sc-sim, no state kept", "sc_sim_nostate", 0, 0, 0},
		{"pymodbus server (peer)", "pymodbus", 0, 0, 0},
		{"mosquitto (a C daemon)", "mosquitto", 0, 0, 0},
	};
	char image[512], conf[512], state[600];
	snprintf(image, sizeof image, "%s/image", dir);
	FILE *f = fopen(image, "w");
	for (int i = 0; f && i < 0xC38; i++)
		fprintf(f, "0\n");
	if (f)
		fclose(f);
	int rc = 0;
	for (int k = 0; k < N; k++) {
		double *ms = calloc((size_t)runs, sizeof *ms);
		int ok = 0;
		for (int r = 0; r < runs; r++) {
			int ports[3] = {free_port(), free_port(), free_port()};
			char mb[32], http[32], https[32], p0[16];
			snprintf(mb, sizeof mb, "127.0.0.1:%d", ports[0]);
			snprintf(http, sizeof http, "127.0.0.1:%d", ports[1]);
			snprintf(https, sizeof https, "127.0.0.1:%d", ports[2]);
			snprintf(p0, sizeof p0, "%d", ports[0]);
			snprintf(state, sizeof state, "%s/state-%d", dir, k == FRESH ? r : 0);
			double t = -1;
			if (k <= NOSTATE) {
				char *a[] = {SC_SIM_PATH, "--source", "gen:dsmr50", "--modbus", mb, "--http",
					     http, "--https", https, "--mqtt", "off", "--password",
					     "bench-startup", "--state-dir", state, NULL};
				if (k == NOSTATE)
					a[13] = NULL;
				t = time_start(a, ports, 3);
			} else if (k == PYMODBUS) {
				char *a[] = {"/usr/bin/python3", SC_BENCH_DIR "/pymodbus_server.py", p0,
					     image, NULL};
				t = time_start(a, ports, 1);
			} else if (mosquitto_path()) {
				snprintf(conf, sizeof conf, "%s/mosquitto.conf", dir);
				FILE *c = fopen(conf, "w");
				if (c) {
					fprintf(c, "listener %d 127.0.0.1\nallow_anonymous true\n"
						   "persistence false\n", ports[0]);
					fclose(c);
				}
				char *a[] = {mosquitto_path(), "-c", conf, NULL};
				t = time_start(a, ports, 1);
			}
			if (t >= 0)
				ms[ok++] = t;
		}
		if (ok > 0) {
			qsort(ms, (size_t)ok, sizeof *ms, cmp_double);
			res[k].p50 = ms[(ok - 1) / 2];
			res[k].max = ms[ok - 1];
		}
		res[k].runs = ok;
		if (ok < runs && k <= NOSTATE)
			rc = 1;
		free(ms);
	}
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_startup: could not remove %s\n", dir);

	printf("Start-up: fork+exec to every port accepting on loopback (%d runs each)\n", runs);
	printf("%-34s %6s %9s %9s\n", "program", "runs", "p50 ms", "max ms");
	for (int k = 0; k < N; k++)
		printf("%-34s %6d %9.1f %9.1f\n", res[k].name, res[k].runs, res[k].p50, res[k].max);
	printf("(sc-sim: Modbus, HTTP and HTTPS ports; the peers: their one port)\n");
	if (json) {
		FILE *o = fopen(json, "w");
		if (!o) {
			perror(json);
			return 2;
		}
		fprintf(o, "{\n  \"benchmark\": \"startup\",\n  \"results\": [\n");
		for (int k = 0; k < N; k++)
			fprintf(o,
				"    {\"subject\": \"%s\", \"figure\": \"%s\", \"runs\": %d, "
				"\"p50_ms\": %.2f, \"max_ms\": %.2f}%s\n",
				res[k].key, res[k].name, res[k].runs, res[k].p50, res[k].max,
				k + 1 < N ? "," : "");
		fprintf(o, "  ]\n}\n");
		fclose(o);
	}
	return rc;
}
