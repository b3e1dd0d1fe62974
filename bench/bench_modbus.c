/* Modbus TCP figures of sc-sim on loopback, beside a pymodbus server serving
 * the same register image, measured in the same run by the same client
 * (libmodbus):
 *   - single-client FC 0x03 reads of 0x8006-0x8037 (50 registers): requests/s
 *     and p50/p99 latency;
 *   - telegram received to register visible: a telegram written to sc-sim's
 *     standard input, then reads in a tight loop until the new value shows
 *     (includes one read's latency);
 *   - the floor: a bare TCP ping-pong of the same sizes (12-byte request,
 *     109-byte answer) between two processes, what no server can beat on
 *     this machine's loopback.
 * Rates are the best of three runs.
 * usage: bench_modbus [--requests N] [--telegrams N] [--json FILE] */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meter.h"
#include "p1_gen.h"
#include "regmap.h"

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

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	int i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

struct child {
	pid_t pid;
	int in;  /* its stdin, or -1 */
	int err; /* its stderr, or -1 */
};

static struct child spawn(char *const argv[], bool pipes)
{
	int in[2] = {-1, -1}, err[2] = {-1, -1};
	if (pipes && (pipe(in) != 0 || pipe(err) != 0))
		exit(2);
	struct child c = {fork(), -1, -1};
	if (c.pid == 0) {
		if (pipes) {
			dup2(in[0], 0);
			dup2(err[1], 2);
			close(in[1]);
			close(err[0]);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pipes) {
		close(in[0]);
		close(err[1]);
		c.in = in[1];
		c.err = err[0];
	}
	return c;
}

static void stop(struct child *c)
{
	if (c->in >= 0)
		close(c->in);
	kill(c->pid, SIGTERM);
	waitpid(c->pid, NULL, 0);
	if (c->err >= 0)
		close(c->err);
}

/* Reads sc-sim's stderr up to its ready line; returns the port. */
static int ready_port(int fd)
{
	char buf[8192];
	size_t len = 0;
	double deadline = now_s() + 20;
	while (now_s() < deadline && len < sizeof buf - 1) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *r = strstr(buf, "ready: modbus tcp 127.0.0.1:");
		if (r && strchr(r, '\n'))
			return atoi(r + strlen("ready: modbus tcp 127.0.0.1:"));
	}
	return -1;
}

static modbus_t *connect_to(int port)
{
	double deadline = now_s() + 20;
	while (now_s() < deadline) {
		modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
		if (ctx && modbus_connect(ctx) == 0) {
			modbus_set_response_timeout(ctx, 5, 0);
			return ctx;
		}
		modbus_free(ctx);
		usleep(20000);
	}
	return NULL;
}

struct reads {
	double per_s, p50_us, p99_us;
};

static struct reads read_rate_once(modbus_t *ctx, int n)
{
	double *lat = malloc((size_t)n * sizeof *lat);
	uint16_t regs[50];
	for (int i = 0; i < n / 10; i++) /* warm-up */
		modbus_read_registers(ctx, 0x8006, 50, regs);
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		double a = now_s();
		if (modbus_read_registers(ctx, 0x8006, 50, regs) != 50) {
			fprintf(stderr, "bench_modbus: read failed: %s\n", modbus_strerror(errno));
			exit(1);
		}
		lat[i] = (now_s() - a) * 1e6;
	}
	struct reads r = {n / (now_s() - t0), pct(lat, n, 0.5), pct(lat, n, 0.99)};
	free(lat);
	return r;
}

/* Best of three runs (the machine's other load only ever slows a run). */
static struct reads read_rate(modbus_t *ctx, int n)
{
	struct reads best = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		struct reads r = read_rate_once(ctx, n);
		if (r.per_s > best.per_s)
			best = r;
	}
	return best;
}

/* A child that answers every 12 bytes with 109 (a FC 0x03 reply of 50
 * registers) at once; the parent measures the round trips. */
static struct reads pingpong_once(int n)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		exit(2);
	pid_t pid = fork();
	if (pid == 0) {
		int c = accept(lfd, NULL, NULL);
		int one = 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		char req[12], rep[109] = {0};
		for (;;) {
			size_t got = 0;
			while (got < sizeof req) {
				ssize_t r = recv(c, req + got, sizeof req - got, 0);
				if (r <= 0)
					_exit(0);
				got += (size_t)r;
			}
			if (send(c, rep, sizeof rep, 0) != (ssize_t)sizeof rep)
				_exit(0);
		}
	}
	close(lfd);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		exit(2);
	double *lat = malloc((size_t)n * sizeof *lat);
	char req[12] = {0}, rep[109];
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		double a = now_s();
		if (send(s, req, sizeof req, 0) != (ssize_t)sizeof req)
			exit(2);
		size_t got = 0;
		while (got < sizeof rep) {
			ssize_t r = recv(s, rep + got, sizeof rep - got, 0);
			if (r <= 0)
				exit(2);
			got += (size_t)r;
		}
		lat[i] = (now_s() - a) * 1e6;
	}
	struct reads r = {n / (now_s() - t0), pct(lat, n, 0.5), pct(lat, n, 0.99)};
	free(lat);
	close(s);
	waitpid(pid, NULL, 0);
	return r;
}

static struct reads pingpong(int n)
{
	struct reads best = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		struct reads r = pingpong_once(n);
		if (r.per_s > best.per_s)
			best = r;
	}
	return best;
}

int main(int argc, char **argv)
{
	int nreq = 20000, ntel = 300;
	const char *json = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
			nreq = atoi(argv[++i]);
		else if (strcmp(argv[i], "--telegrams") == 0 && i + 1 < argc)
			ntel = atoi(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json = argv[++i];
	}

	/* sc-sim fed by us through its standard input. */
	char *sim_argv[] = {SC_SIM_PATH, "--source", "stdin", "--modbus", "127.0.0.1:0", NULL};
	struct child sim = spawn(sim_argv, true);
	int port = ready_port(sim.err);
	if (port <= 0) {
		fprintf(stderr, "bench_modbus: sc-sim did not start\n");
		return 2;
	}
	modbus_t *ctx = connect_to(port);

	static struct sc_meter m;
	static char tel[SC_P1_GEN_MAX];
	struct sc_meter_config cfg = {SC_PROFILE_PV_EV, 3, 7, 1751360400, 0, 0};
	struct sc_p1_gen_opts go = {SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0};
	struct sc_reading expect;
	sc_meter_init(&m, &cfg);
	int n = sc_p1_gen(&m, &go, tel, sizeof tel, &expect);
	if (write(sim.in, tel, (size_t)n) != n)
		return 2;

	/* Telegram received to register visible. */
	double *lat = malloc((size_t)ntel * sizeof *lat);
	int measured = 0;
	float last = 1e30f;
	for (int i = 1; i <= ntel; i++) {
		sc_meter_advance(&m, cfg.start + i);
		n = sc_p1_gen(&m, &go, tel, sizeof tel, &expect);
		float want = (float)expect.q[SC_RQ_P].v;
		if (want == last)
			continue; /* the same value cannot be told apart */
		last = want;
		double t0 = now_s();
		if (write(sim.in, tel, (size_t)n) != n)
			return 2;
		for (;;) {
			uint16_t r[2];
			if (modbus_read_registers(ctx, 0x8016, 2, r) == 2 &&
			    sc_words_to_float(r, SC_WORDS_CDAB) == want)
				break;
			if (now_s() - t0 > 5) {
				fprintf(stderr, "bench_modbus: telegram %d never became visible\n", i);
				return 1;
			}
		}
		lat[measured++] = (now_s() - t0) * 1e6;
	}
	double tel_p50 = pct(lat, measured, 0.5), tel_p99 = pct(lat, measured, 0.99);
	free(lat);

	struct reads sim_r = read_rate(ctx, nreq);

	/* The same image served by pymodbus. */
	struct sc_regmap img;
	sc_regmap_build(&img, &expect, NULL);
	char image_path[] = "/tmp/bench-modbus-image-XXXXXX";
	int fd = mkstemp(image_path);
	FILE *f = fdopen(fd, "w");
	for (size_t i = 0; i < SC_REGMAP_WORDS; i++)
		fprintf(f, "%u\n", img.w[i]);
	fclose(f);
	/* A free port: bind to 0, read it, let go. */
	int pport = port + 1;
	{
		modbus_t *probe = modbus_new_tcp("127.0.0.1", 0);
		int s = modbus_tcp_listen(probe, 1);
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (s >= 0 && getsockname(s, (struct sockaddr *)&ss, &sl) == 0)
			pport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		if (s >= 0)
			close(s);
		modbus_free(probe);
	}
	char pport_s[16];
	snprintf(pport_s, sizeof pport_s, "%d", pport);
	char *py_argv[] = {"/usr/bin/python3", SC_BENCH_DIR "/pymodbus_server.py", pport_s, image_path,
			   NULL};
	struct child py = spawn(py_argv, false);
	modbus_t *pctx = connect_to(pport);
	struct reads py_r = {0, 0, 0};
	if (pctx) {
		uint16_t a[50], b[50];
		modbus_read_registers(ctx, 0x8006, 50, a);
		modbus_read_registers(pctx, 0x8006, 50, b);
		if (memcmp(a, b, sizeof a) != 0)
			fprintf(stderr, "bench_modbus: pymodbus serves another image\n");
		py_r = read_rate(pctx, nreq);
		modbus_close(pctx);
		modbus_free(pctx);
	} else {
		fprintf(stderr, "bench_modbus: the pymodbus server did not start\n");
	}
	stop(&py);
	unlink(image_path);
	modbus_close(ctx);
	modbus_free(ctx);
	stop(&sim);
	struct reads floor_r = pingpong(nreq);

	printf("Modbus TCP on loopback, one client (libmodbus), FC 0x03 of 0x8006-0x8037 (50 registers)\n");
	printf("%-26s %12s %10s %10s\n", "server", "requests/s", "p50 us", "p99 us");
	printf("%-26s %12.0f %10.1f %10.1f\n", "sc-sim", sim_r.per_s, sim_r.p50_us, sim_r.p99_us);
	printf("%-26s %12.0f %10.1f %10.1f\n", "pymodbus 3.0 server", py_r.per_s, py_r.p50_us,
	       py_r.p99_us);
	printf("%-26s %12.0f %10.1f %10.1f\n", "TCP ping-pong (floor)", floor_r.per_s,
	       floor_r.p50_us, floor_r.p99_us);
	printf("telegram received to register visible (sc-sim, %d telegrams): p50 %.1f us, p99 %.1f us\n",
	       measured, tel_p50, tel_p99);
	if (json) {
		FILE *o = fopen(json, "w");
		if (o) {
			fprintf(o,
				"{\n  \"benchmark\": \"modbus\",\n"
				"  \"sc_sim\": {\"requests_per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f},\n"
				"  \"pymodbus\": {\"requests_per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f},\n"
				"  \"tcp_pingpong\": {\"requests_per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f},\n"
				"  \"telegram_to_register\": {\"telegrams\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f}\n}\n",
				sim_r.per_s, sim_r.p50_us, sim_r.p99_us, py_r.per_s, py_r.p50_us,
				py_r.p99_us, floor_r.per_s, floor_r.p50_us, floor_r.p99_us, measured,
				tel_p50, tel_p99);
			fclose(o);
		}
	}
	return 0;
}
