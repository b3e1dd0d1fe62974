/* Modbus TCP figures of sc-sim on loopback, beside its peers serving the
 * same register image, measured in the same run by the same clients
 * (libmodbus, one request at a time per connection):
 *   - the 30-register block a charger polls (FC 0x03 of 0x8006-0x8023:
 *     voltages, currents, total powers, power per phase) and the whole map
 *     (0x8000-0x8C37 in 26 reads of at most 125 registers): reads/s and
 *     p50/p99/max latency, with 1 client and with more (--clients; sc-sim
 *     runs --modbus-clients with the largest count, as an EMpro would);
 *   - peers: pymodbus' TCP server with the same image, and a minimal
 *     libmodbus reply loop on a static mapping (select over its clients,
 *     modbus_receive + modbus_reply: the floor of any server built on
 *     libmodbus);
 *   - the floor of the machine: a bare TCP ping-pong of the 30-register
 *     sizes (12-byte request, 69-byte answer) between two processes;
 *   - telegram received to register visible: a telegram written to sc-sim's
 *     standard input, then reads in a tight loop until the new value shows
 *     (includes one read's latency).
 * Every server runs for the whole benchmark; each round measures every
 * client count and workload for --round-ms on each server in turn, back to
 * back, in an order that rotates, so that the machine's other load falls
 * on all of them alike (default 15 rounds of 200 ms, 1 and 4 clients).
 * Each figure is the median of the rounds, and a server's ratio to the
 * libmodbus loop (reads/s, and p99) the median of the rounds' ratios.
 * --pin puts the clients on one CPU and the servers on another.
 * usage: bench_modbus [--rounds N] [--round-ms MS] [--clients LIST]
 *                     [--pin CLIENT_CPU,SERVER_CPU] [--telegrams N] [--json FILE] */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <modbus.h>
#include <pthread.h>
#include <sched.h>
#include <sys/select.h>
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

#define MAX_CLIENTS 8
#define MAX_COUNTS 4
#define MAX_ROUNDS 101
#define MAX_LAT 400000 /* latencies kept per client and measurement */

static int pin_client = -1, pin_server = -1;

/* The calling thread (and what it forks) on one CPU; cpu < 0: anywhere. */
static void pin_to(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((size_t)cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		perror("bench_modbus: sched_setaffinity");
		exit(2);
	}
}

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
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	int i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

struct child {
	pid_t pid;
	int in;  /* its stdin, or -1 */
	int err; /* its stderr, or -1 */
};

/* Runs argv on the servers' CPU (--pin). */
static struct child spawn(char *const argv[], bool pipes)
{
	int in[2] = {-1, -1}, err[2] = {-1, -1};
	if (pipes && (pipe(in) != 0 || pipe(err) != 0))
		exit(2);
	struct child c = {fork(), -1, -1};
	if (c.pid == 0) {
		pin_to(pin_server);
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
	double per_s, p50_us, p99_us, max_us;
	int ops;
};

/* One operation: a list of reads done back to back. */
struct workload {
	const char *name, *key;
	int nreads;
	uint16_t addr[32], count[32];
};

static void workload_block(struct workload *w)
{
	*w = (struct workload){"FC03 0x8006 x30 (charger block)", "block30", 1, {0x8006}, {30}};
}

static void workload_map(struct workload *w)
{
	*w = (struct workload){"FC03 whole map (26 reads)", "whole_map", 0, {0}, {0}};
	for (unsigned a = SC_REGMAP_BASE; a < SC_REGMAP_END; a += SC_MODBUS_MAX_READ) {
		w->addr[w->nreads] = (uint16_t)a;
		w->count[w->nreads++] = (uint16_t)(SC_REGMAP_END - a < SC_MODBUS_MAX_READ
							? SC_REGMAP_END - a
							: SC_MODBUS_MAX_READ);
	}
}

static bool do_op(modbus_t *ctx, const struct workload *w)
{
	uint16_t regs[SC_MODBUS_MAX_READ];
	for (int k = 0; k < w->nreads; k++)
		if (modbus_read_registers(ctx, w->addr[k], w->count[k], regs) != w->count[k]) {
			fprintf(stderr, "bench_modbus: read of 0x%04X x%u failed: %s\n", w->addr[k],
				w->count[k], modbus_strerror(errno));
			return false;
		}
	return true;
}

static struct reads summarise(double *lat, int n, double secs)
{
	struct reads r = {n / secs, pct(lat, n, 0.5), pct(lat, n, 0.99), pct(lat, n, 1.0), n};
	return r;
}

/* ---- the clients: a thread each, all in one measurement at a time ---- */

struct worker {
	pthread_t th;
	int idx;
	double *lat;
	int n;
	double t_last; /* when its last operation ended */
	bool failed;
};

static struct {
	const struct workload *w;
	modbus_t *ctx[MAX_CLIENTS];
	int nclients;
	double t_end;
	bool quit;
} job;
static pthread_barrier_t job_start, job_done;
static struct worker workers[MAX_CLIENTS];
static int nworkers;

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	for (;;) {
		pthread_barrier_wait(&job_start);
		if (job.quit)
			return NULL;
		me->n = 0;
		me->failed = false;
		me->t_last = now_s();
		if (me->idx < job.nclients) {
			modbus_t *ctx = job.ctx[me->idx];
			for (;;) {
				double a = now_s();
				if (a >= job.t_end || me->n >= MAX_LAT)
					break;
				if (!do_op(ctx, job.w)) {
					me->failed = true;
					break;
				}
				me->t_last = now_s();
				me->lat[me->n++] = (me->t_last - a) * 1e6;
			}
		}
		pthread_barrier_wait(&job_done);
	}
}

static void workers_start(int n)
{
	nworkers = n;
	pthread_barrier_init(&job_start, NULL, (unsigned)n + 1);
	pthread_barrier_init(&job_done, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		workers[i].idx = i;
		workers[i].lat = malloc(MAX_LAT * sizeof(double));
		if (!workers[i].lat || pthread_create(&workers[i].th, NULL, worker_main, &workers[i]))
			exit(2);
	}
}

static void workers_stop(void)
{
	job.quit = true;
	pthread_barrier_wait(&job_start);
	for (int i = 0; i < nworkers; i++) {
		pthread_join(workers[i].th, NULL);
		free(workers[i].lat);
	}
}

/* nclients connections each running w back to back for secs; the rate is
 * of all of them together, the latencies of every operation. */
static bool run_job(modbus_t *const *ctx, int nclients, const struct workload *w, double secs,
		    struct reads *out)
{
	job.w = w;
	job.nclients = nclients;
	for (int i = 0; i < nclients; i++)
		job.ctx[i] = ctx[i];
	double t0 = now_s();
	job.t_end = t0 + secs;
	pthread_barrier_wait(&job_start);
	pthread_barrier_wait(&job_done);
	static double all[MAX_CLIENTS * MAX_LAT];
	int n = 0;
	double t1 = t0;
	bool ok = true;
	for (int i = 0; i < nclients; i++) {
		memcpy(all + n, workers[i].lat, (size_t)workers[i].n * sizeof *all);
		n += workers[i].n;
		if (workers[i].t_last > t1)
			t1 = workers[i].t_last;
		ok = ok && !workers[i].failed;
	}
	*out = summarise(all, n, t1 > t0 ? t1 - t0 : 1);
	return ok && n > 0;
}

/* A listening socket on a free loopback port; *port is set. */
static int listen_free(int *port)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(lfd, MAX_CLIENTS) != 0 || getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		exit(2);
	*port = ntohs(sa.sin_port);
	return lfd;
}

/* The floor of a libmodbus server: a child accepting nclients clients and
 * answering each request with modbus_reply from a static mapping of the
 * image, select(2) over its clients (libmodbus' own way of serving
 * several). It ends when its last client has gone. */
static pid_t libmodbus_floor(const struct sc_regmap *img, int *port, int nclients)
{
	int lfd = listen_free(port);
	pid_t pid = fork();
	if (pid == 0) {
		pin_to(pin_server);
		modbus_t *ctx = modbus_new_tcp("127.0.0.1", *port);
		modbus_mapping_t *mb = modbus_mapping_new_start_address(
			0, 0, 0, 0, SC_REGMAP_BASE, SC_REGMAP_WORDS, SC_REGMAP_BASE, SC_REGMAP_WORDS);
		if (!ctx || !mb)
			_exit(2);
		memcpy(mb->tab_registers, img->w, sizeof img->w);
		memcpy(mb->tab_input_registers, img->w, sizeof img->w);
		fd_set watched;
		FD_ZERO(&watched);
		FD_SET(lfd, &watched);
		int maxfd = lfd, open = 0, accepted = 0;
		uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
		for (;;) {
			fd_set rd = watched;
			if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
				if (errno == EINTR)
					continue;
				_exit(2);
			}
			for (int fd = 0; fd <= maxfd; fd++) {
				if (!FD_ISSET(fd, &rd))
					continue;
				if (fd == lfd) {
					int s = accept(lfd, NULL, NULL);
					if (s < 0 || s >= FD_SETSIZE)
						_exit(2);
					FD_SET(s, &watched);
					maxfd = s > maxfd ? s : maxfd;
					open++;
					if (++accepted == nclients) {
						FD_CLR(lfd, &watched);
						close(lfd);
					}
					continue;
				}
				modbus_set_socket(ctx, fd);
				int rc = modbus_receive(ctx, q);
				if (rc > 0) {
					modbus_reply(ctx, q, rc, mb);
				} else if (rc == -1) {
					close(fd);
					FD_CLR(fd, &watched);
					if (--open == 0 && accepted == nclients)
						_exit(0);
				}
			}
		}
	}
	close(lfd);
	return pid;
}

/* A child that answers every 12 bytes with 69 (a FC 0x03 reply of 30
 * registers) at once; the parent measures the round trips for secs. */
static struct reads pingpong_once(double secs)
{
	int port;
	int lfd = listen_free(&port);
	pid_t pid = fork();
	if (pid == 0) {
		pin_to(pin_server);
		int c = accept(lfd, NULL, NULL);
		int one = 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		char req[12], rep[69] = {0};
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
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		exit(2);
	double *lat = malloc(MAX_LAT * sizeof *lat);
	char req[12] = {0}, rep[69];
	double t0 = now_s();
	int i = 0;
	for (; i < MAX_LAT && now_s() - t0 < secs; i++) {
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
	struct reads r = summarise(lat, i, now_s() - t0);
	free(lat);
	close(s);
	waitpid(pid, NULL, 0);
	return r;
}

enum { SIM, PYMODBUS, LIBMODBUS, NSERVERS };
static const char *const server_name[NSERVERS] = {"sc-sim", "pymodbus server",
						  "libmodbus reply loop"};
static const char *const server_key[NSERVERS] = {"sc_sim", "pymodbus", "libmodbus_floor"};

/* The whole map read from ctx equals that read from ref. */
static bool same_image(modbus_t *ctx, modbus_t *ref, const struct workload *map)
{
	for (int k = 0; k < map->nreads; k++) {
		uint16_t a[SC_MODBUS_MAX_READ], b[SC_MODBUS_MAX_READ];
		int na = modbus_read_registers(ref, map->addr[k], map->count[k], a);
		int nb = modbus_read_registers(ctx, map->addr[k], map->count[k], b);
		if (na != nb || na < 0 || memcmp(a, b, (size_t)na * 2) != 0)
			return false;
	}
	return true;
}

/* Opens n connections to port; false if one fails. */
static bool connect_all(int port, modbus_t **ctx, int n)
{
	for (int i = 0; i < n; i++)
		if (!(ctx[i] = connect_to(port)))
			return false;
	return true;
}

static void close_all(modbus_t **ctx, int n)
{
	for (int i = 0; i < n; i++)
		if (ctx[i]) {
			modbus_close(ctx[i]);
			modbus_free(ctx[i]);
			ctx[i] = NULL;
		}
}

static double median(double *v, int n)
{
	return pct(v, n, 0.5);
}

/* The rounds of one server, client count and workload, summarised. */
struct figure {
	struct reads round[MAX_ROUNDS];
	struct reads med; /* medians of the rounds (max: the largest) */
	double per_s_min, per_s_max;
	double ratio, p99_ratio; /* sc-sim: median of the rounds' ratios to the loop */
};

static void summarise_rounds(struct figure *f, int rounds)
{
	double v[MAX_ROUNDS] = {0};
	for (int r = 0; r < rounds; r++)
		v[r] = f->round[r].per_s;
	f->med.per_s = median(v, rounds);
	f->per_s_min = v[0];
	f->per_s_max = v[rounds - 1];
	for (int r = 0; r < rounds; r++)
		v[r] = f->round[r].p50_us;
	f->med.p50_us = median(v, rounds);
	for (int r = 0; r < rounds; r++)
		v[r] = f->round[r].p99_us;
	f->med.p99_us = median(v, rounds);
	f->med.max_us = 0;
	f->med.ops = 0;
	for (int r = 0; r < rounds; r++) {
		if (f->round[r].max_us > f->med.max_us)
			f->med.max_us = f->round[r].max_us;
		f->med.ops += f->round[r].ops;
	}
}

static void ratios(struct figure *ours, const struct figure *loop, int rounds)
{
	double v[MAX_ROUNDS], p[MAX_ROUNDS];
	for (int r = 0; r < rounds; r++) {
		v[r] = ours->round[r].per_s / loop->round[r].per_s;
		p[r] = ours->round[r].p99_us / loop->round[r].p99_us;
	}
	ours->ratio = median(v, rounds);
	ours->p99_ratio = median(p, rounds);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_modbus [--rounds N] [--round-ms MS] [--clients LIST] "
			"[--pin CLIENT_CPU,SERVER_CPU] [--telegrams N] [--json FILE]\n");
	exit(2);
}

static int parse_int(const char *s, int lo, int hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < lo || v > hi)
		usage();
	return (int)v;
}

static struct figure fig[NSERVERS][MAX_COUNTS][2];

int main(int argc, char **argv)
{
	int ntel = 300, rounds = 15, round_ms = 200, counts[MAX_COUNTS] = {1, 4}, ncounts = 2;
	const char *json = NULL;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--telegrams") == 0) {
			ntel = parse_int(argv[++i], 2, 1000000);
		} else if (strcmp(argv[i], "--rounds") == 0) {
			rounds = parse_int(argv[++i], 1, MAX_ROUNDS);
		} else if (strcmp(argv[i], "--round-ms") == 0) {
			round_ms = parse_int(argv[++i], 10, 60000);
		} else if (strcmp(argv[i], "--json") == 0) {
			json = argv[++i];
		} else if (strcmp(argv[i], "--clients") == 0) {
			char list[64];
			snprintf(list, sizeof list, "%s", argv[++i]);
			ncounts = 0;
			for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
				if (ncounts == MAX_COUNTS)
					usage();
				counts[ncounts++] = parse_int(t, 1, 4); /* sc-sim --modbus-clients */
			}
			if (ncounts == 0)
				usage();
		} else if (strcmp(argv[i], "--pin") == 0) {
			char *comma = strchr(argv[++i], ',');
			if (!comma)
				usage();
			*comma = '\0';
			pin_client = parse_int(argv[i], 0, CPU_SETSIZE - 1);
			pin_server = parse_int(comma + 1, 0, CPU_SETSIZE - 1);
		} else {
			usage();
		}
	}
	int most = 1;
	for (int c = 0; c < ncounts; c++)
		most = counts[c] > most ? counts[c] : most;
	/* The clients (this thread, and the workers it starts) on their CPU. */
	pin_to(pin_client);

	/* sc-sim fed by us through its standard input; as many connections
	 * at a time as the largest client count (1: the device's one slot);
	 * no web servers (their default ports may be another's). */
	char most_s[16];
	snprintf(most_s, sizeof most_s, "%d", most);
	char *sim_argv[] = {SC_SIM_PATH, "--source", "stdin", "--modbus", "127.0.0.1:0",
			    "--modbus-clients", most_s, "--http", "off", "--https", "off", NULL};
	struct child sim = spawn(sim_argv, true);
	int port = ready_port(sim.err);
	if (port <= 0) {
		fprintf(stderr, "bench_modbus: sc-sim did not start\n");
		return 2;
	}
	modbus_t *conn[NSERVERS][MAX_CLIENTS] = {{NULL}};
	if (!connect_all(port, conn[SIM], most)) {
		fprintf(stderr, "bench_modbus: cannot connect to sc-sim\n");
		return 2;
	}
	modbus_t *ctx = conn[SIM][0];

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
	struct reads tel_r = summarise(lat, measured, 1);
	free(lat);

	/* The same image served by the peers, all of them running together
	 * from here on. */
	struct sc_regmap img;
	sc_regmap_build(&img, &expect, NULL);
	char image_path[] = "/tmp/bench-modbus-image-XXXXXX";
	int fd = mkstemp(image_path);
	FILE *f = fdopen(fd, "w");
	for (size_t i = 0; i < SC_REGMAP_WORDS; i++)
		fprintf(f, "%u\n", img.w[i]);
	fclose(f);
	int pport;
	close(listen_free(&pport)); /* a free port for pymodbus to bind */
	char pport_s[16];
	snprintf(pport_s, sizeof pport_s, "%d", pport);
	char *py_argv[] = {"/usr/bin/python3", SC_BENCH_DIR "/pymodbus_server.py", pport_s, image_path,
			   NULL};
	struct child py = spawn(py_argv, false);
	int lport;
	pid_t lpid = libmodbus_floor(&img, &lport, most);

	struct workload wl[2];
	workload_block(&wl[0]);
	workload_map(&wl[1]);
	bool ok[NSERVERS] = {true, false, false};
	if (connect_all(pport, conn[PYMODBUS], most))
		ok[PYMODBUS] = same_image(conn[PYMODBUS][0], ctx, &wl[1]);
	else
		fprintf(stderr, "bench_modbus: the pymodbus server did not start\n");
	if (connect_all(lport, conn[LIBMODBUS], most))
		ok[LIBMODBUS] = same_image(conn[LIBMODBUS][0], ctx, &wl[1]);
	else
		fprintf(stderr, "bench_modbus: the libmodbus loop did not start\n");
	for (int s = 1; s < NSERVERS; s++)
		if (!ok[s])
			fprintf(stderr, "bench_modbus: %s did not run or served another image\n",
				server_name[s]);
	if (!ok[LIBMODBUS]) {
		fprintf(stderr, "bench_modbus: no libmodbus loop to compare with\n");
		return 1;
	}

	/* The rounds: each figure of every server in turn, back to back, the
	 * servers in an order rotating by round and figure, so that the
	 * figures compared were measured within a moment of each other. */
	workers_start(most);
	double secs = round_ms / 1000.0;
	for (int r = 0; r < rounds; r++)
		for (int c = 0; c < ncounts; c++)
			for (int w = 0; w < 2; w++)
				for (int k = 0; k < NSERVERS; k++) {
					int s = (r + c * 2 + w + k) % NSERVERS;
					if (ok[s] &&
					    !run_job(conn[s], counts[c], &wl[w], secs, &fig[s][c][w].round[r])) {
						fprintf(stderr, "bench_modbus: %s stopped answering\n",
							server_name[s]);
						return 1;
					}
				}
	workers_stop();
	for (int s = 0; s < NSERVERS; s++) {
		close_all(conn[s], most);
		for (int c = 0; c < ncounts && ok[s]; c++)
			for (int w = 0; w < 2; w++) {
				summarise_rounds(&fig[s][c][w], rounds);
				ratios(&fig[s][c][w], &fig[LIBMODBUS][c][w], rounds);
			}
	}
	stop(&py);
	unlink(image_path);
	kill(lpid, SIGTERM);
	waitpid(lpid, NULL, 0);
	stop(&sim);

	/* The machine's floor, as many rounds. */
	struct figure ping;
	for (int r = 0; r < rounds; r++)
		ping.round[r] = pingpong_once(secs);
	summarise_rounds(&ping, rounds);

	printf("Modbus TCP on loopback, libmodbus clients, one request at a time each; "
	       "%d rounds of %d ms, servers interleaved, medians",
	       rounds, round_ms);
	if (pin_client >= 0)
		printf("; clients on CPU %d, servers on CPU %d", pin_client, pin_server);
	printf("\n%-21s %3s %-32s %9s %17s %8s %8s %8s %7s %7s\n", "server", "cl", "workload",
	       "reads/s", "(min-max)", "p50 us", "p99 us", "max us", "vs loop", "p99 vs");
	for (int s = 0; s < NSERVERS; s++) {
		if (!ok[s]) {
			printf("%-21s (did not run or served another image)\n", server_name[s]);
			continue;
		}
		for (int c = 0; c < ncounts; c++)
			for (int w = 0; w < 2; w++) {
				const struct figure *g = &fig[s][c][w];
				int k = wl[w].nreads;
				char range[40];
				snprintf(range, sizeof range, "(%.0f-%.0f)", g->per_s_min * k,
					 g->per_s_max * k);
				printf("%-21s %3d %-32s %9.0f %17s %8.1f %8.1f %8.1f %6.1f%% %7.2f\n",
				       server_name[s], counts[c], wl[w].name, g->med.per_s * k, range,
				       g->med.p50_us, g->med.p99_us, g->med.max_us, g->ratio * 100,
				       g->p99_ratio);
			}
	}
	printf("%-21s %3d %-32s %9.0f %17s %8.1f %8.1f %8.1f\n", "TCP ping-pong (floor)", 1,
	       "12 bytes out, 69 back", ping.med.per_s, "", ping.med.p50_us, ping.med.p99_us,
	       ping.med.max_us);
	printf("(whole-map latencies are of the 26 reads together; vs loop: median of the rounds' "
	       "ratios of reads/s, p99 vs: of p99s)\n");
	for (int c = 1; c < ncounts; c++)
		for (int w = 0; w < 2; w++) {
			printf("scaling %d -> %d clients, %s:", counts[0], counts[c], wl[w].key);
			for (int s = 0; s < NSERVERS; s++)
				if (ok[s])
					printf(" %s x%.2f", server_name[s],
					       fig[s][c][w].med.per_s / fig[s][0][w].med.per_s);
			printf("\n");
		}
	int rc = 0;
	for (int c = 0; c < ncounts; c++)
		for (int w = 0; w < 2; w++) {
			const struct figure *g = &fig[SIM][c][w];
			bool met = g->ratio >= 0.95 && g->p99_ratio <= 1.0;
			printf("aim %d client%s %s: >= 95 %% of the loop, p99 not above: %.1f %%, p99 "
			       "x%.3f: %s\n",
			       counts[c], counts[c] > 1 ? "s" : "", wl[w].key, g->ratio * 100,
			       g->p99_ratio, met ? "met" : "NOT met");
		}
	printf("telegram received to register visible (sc-sim, %d telegrams): p50 %.1f us, "
	       "p99 %.1f us, max %.1f us\n",
	       measured, tel_r.p50_us, tel_r.p99_us, tel_r.max_us);
	for (int s = 0; s < NSERVERS; s++)
		rc |= !ok[s];
	if (json) {
		FILE *o = fopen(json, "w");
		if (!o) {
			perror(json);
			return 2;
		}
		fprintf(o, "{\n  \"benchmark\": \"modbus\",\n  \"rounds\": %d,\n  \"round_ms\": %d,\n",
			rounds, round_ms);
		if (pin_client >= 0)
			fprintf(o, "  \"pinned\": {\"clients_cpu\": %d, \"servers_cpu\": %d},\n",
				pin_client, pin_server);
		fprintf(o, "  \"results\": [\n");
		/* one client first: readers that take the first match get it */
		for (int c = 0; c < ncounts; c++)
			for (int s = 0; s < NSERVERS; s++)
				for (int w = 0; w < 2 && ok[s]; w++) {
					const struct figure *g = &fig[s][c][w];
					int k = wl[w].nreads;
					fprintf(o,
						"    {\"subject\": \"%s\", \"figure\": \"%s\", "
						"\"clients\": %d, \"reads_per_s\": %.0f, "
						"\"reads_per_s_min\": %.0f, \"reads_per_s_max\": %.0f, "
						"\"ops_per_s\": %.0f, \"ops\": %d, \"p50_us\": %.1f, "
						"\"p99_us\": %.1f, \"max_us\": %.1f, \"ratio_to_loop\": %.4f, "
						"\"p99_ratio_to_loop\": %.4f, \"scaling\": %.3f},\n",
						server_key[s], wl[w].key, counts[c], g->med.per_s * k,
						g->per_s_min * k, g->per_s_max * k, g->med.per_s,
						g->med.ops, g->med.p50_us, g->med.p99_us, g->med.max_us,
						g->ratio, g->p99_ratio,
						g->med.per_s / fig[s][0][w].med.per_s);
				}
		fprintf(o,
			"    {\"subject\": \"tcp_pingpong\", \"figure\": \"block30_sizes\", "
			"\"clients\": 1, \"reads_per_s\": %.0f, \"ops_per_s\": %.0f, \"ops\": %d, "
			"\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f},\n",
			ping.med.per_s, ping.med.per_s, ping.med.ops, ping.med.p50_us, ping.med.p99_us,
			ping.med.max_us);
		fprintf(o,
			"    {\"subject\": \"sc_sim\", \"figure\": \"telegram_to_register\", "
			"\"telegrams\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n"
			"  ]\n}\n",
			measured, tel_r.p50_us, tel_r.p99_us, tel_r.max_us);
		fclose(o);
	}
	return rc;
}
