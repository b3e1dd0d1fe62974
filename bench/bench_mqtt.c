/* MQTT figures of sc-sim through a local mosquitto, measured by a paho
 * subscriber in this process:
 *   - telegram in (written to sc-sim's standard input) to power_instant
 *     received by the subscriber: p50/p99/max over --telegrams telegrams
 *     sent one at a time;
 *   - the sustained power_instant rate: --burst telegrams written at once,
 *     messages/s until the last one arrives, and how many arrived;
 *   - the floor: the same broker relaying messages published by a paho
 *     client of this process, one at a time (broker round trip only).
 * --tls: sc-sim publishes to a TLS listener of the same broker (a CA and a
 * broker certificate for localhost made with openssl(1) in a temporary
 * directory); the subscriber stays on plain TCP. SC_SIM in the environment
 * names another sc-sim to measure (an older build beside this one).
 * usage: bench_mqtt [--telegrams N] [--burst N] [--broker-nodelay] [--tls] [--json FILE] */
#define _DEFAULT_SOURCE
#include <MQTTClient.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meter.h"
#include "p1_gen.h"

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
	return v[(int)(p * (n - 1) + 0.5)];
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	bind(s, (struct sockaddr *)&sa, sizeof sa);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	close(s);
	return ntohs(sa.sin_port);
}

/* ---- the subscriber ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long received;
static double last_at;

static int on_message(void *ctx, char *topic, int len, MQTTClient_message *msg)
{
	(void)ctx;
	(void)len;
	pthread_mutex_lock(&mu);
	received++;
	last_at = now_s();
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	MQTTClient_freeMessage(&msg);
	MQTTClient_free(topic);
	return 1;
}

static void on_lost(void *ctx, char *cause)
{
	(void)ctx;
	(void)cause;
}

/* Waits until `want` messages were received or timeout s passed. */
static bool wait_received(long want, double timeout)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)timeout;
	pthread_mutex_lock(&mu);
	while (received < want)
		if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT)
			break;
	bool ok = received >= want;
	pthread_mutex_unlock(&mu);
	return ok;
}

static MQTTClient client_on(int port, const char *id, bool subscriber)
{
	char uri[64];
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
	MQTTClient c;
	MQTTClient_create(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
	/* paho takes callbacks before it connects only. */
	if (subscriber)
		MQTTClient_setCallbacks(c, NULL, on_lost, on_message, NULL);
	MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer;
	co.keepAliveInterval = 30;
	co.cleansession = 1;
	for (int i = 0; i < 200; i++) {
		if (MQTTClient_connect(c, &co) == MQTTCLIENT_SUCCESS)
			return c;
		usleep(20000);
	}
	fprintf(stderr, "bench_mqtt: cannot connect to the broker on %d\n", port);
	exit(2);
}

/* ---- processes ---- */

/* Children to stop on any exit, error exits included. */
static pid_t children[4];
static int nchildren;
static char conf_path[64];
static char pki_dir[64];

static void stop_children(void)
{
	for (int i = nchildren - 1; i >= 0; i--) {
		kill(children[i], SIGTERM);
		waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
	if (conf_path[0])
		unlink(conf_path);
	if (pki_dir[0]) {
		static const char *const files[] = {"ca.key", "ca.crt", "broker.key", "broker.csr",
						    "broker.crt", "san.ext", "ca.srl"};
		for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
			char f[128];
			snprintf(f, sizeof f, "%s/%s", pki_dir, files[i]);
			unlink(f);
		}
		rmdir(pki_dir);
		pki_dir[0] = '\0';
	}
}

/* A CA and a broker certificate for localhost in pki_dir; false when
 * openssl(1) failed. */
static bool make_pki(void)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "cd %s && printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		 "-subj /CN=bench-ca -keyout ca.key -out ca.crt 2>/dev/null && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-subj /CN=localhost -keyout broker.key -out broker.csr 2>/dev/null && "
		 "openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-days 2 -extfile san.ext -out broker.crt 2>/dev/null && chmod 644 broker.key",
		 pki_dir);
	return system(cmd) == 0;
}

static pid_t spawn(char *const argv[], int *stdin_fd, int *stderr_fd)
{
	int in[2], err[2];
	if (pipe(in) || pipe(err))
		exit(2);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(err[1], 2);
		close(in[1]);
		close(err[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(err[1]);
	*stdin_fd = in[1];
	*stderr_fd = err[0];
	children[nchildren++] = pid;
	return pid;
}

/* Reads a child's stderr until a line containing `what`. */
static bool wait_line(int fd, const char *what, double timeout)
{
	static char buf[16384];
	static size_t len;
	double dl = now_s() + timeout;
	while (now_s() < dl) {
		if (strstr(buf, what))
			return true;
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (len > sizeof buf / 2) {
			memmove(buf, buf + len / 2, len - len / 2 + 1);
			len -= len / 2;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	int ntel = 500, nburst = 20000;
	bool nodelay = false, tls = false;
	const char *json = NULL;
	const char *sim = getenv("SC_SIM") ? getenv("SC_SIM") : SC_SIM_PATH;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--telegrams") == 0 && i + 1 < argc)
			ntel = atoi(argv[++i]);
		else if (strcmp(argv[i], "--burst") == 0 && i + 1 < argc)
			nburst = atoi(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json = argv[++i];
		else if (strcmp(argv[i], "--broker-nodelay") == 0)
			nodelay = true;
		else if (strcmp(argv[i], "--tls") == 0)
			tls = true;
	}
	signal(SIGPIPE, SIG_IGN);

	/* mosquitto on a free loopback port. */
	int port = free_port();
	char conf[] = "/tmp/bench-mqtt-conf-XXXXXX";
	int cfd = mkstemp(conf);
	snprintf(conf_path, sizeof conf_path, "%s", conf);
	atexit(stop_children);
	struct passwd *pw = getpwuid(getuid());
	/* A default mosquitto leaves Nagle's algorithm on towards subscribers;
	 * --broker-nodelay sets set_tcp_nodelay, as sc-sim's own broker does. */
	dprintf(cfd, "user %s\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence false\n%s",
		pw ? pw->pw_name : "root", port, nodelay ? "set_tcp_nodelay true\n" : "");
	int tls_port = 0;
	if (tls) {
		snprintf(pki_dir, sizeof pki_dir, "/tmp/bench-mqtt-pki-XXXXXX");
		if (!mkdtemp(pki_dir) || chmod(pki_dir, 0755) != 0) {
			pki_dir[0] = '\0';
			return 2;
		}
		if (!make_pki()) {
			fprintf(stderr, "bench_mqtt: openssl could not make the certificates\n");
			return 2;
		}
		tls_port = free_port();
		dprintf(cfd, "listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/broker.crt\n"
			     "keyfile %s/broker.key\n",
			tls_port, pki_dir, pki_dir, pki_dir);
	}
	close(cfd);
	char *mq_argv[] = {"/usr/sbin/mosquitto", "-c", conf, NULL};
	int mq_in, mq_err;
	spawn(mq_argv, &mq_in, &mq_err);

	MQTTClient sub = client_on(port, "bench-sub", true);
	MQTTClient_subscribe(sub, "devices/#", 0);

	/* Floor: this process publishes, the same subscriber receives. */
	MQTTClient pub = client_on(port, "bench-pub", false);
	double *lat = malloc(sizeof(double) * (size_t)(ntel > nburst ? ntel : nburst));
	char payload[800];
	memset(payload, 'x', sizeof payload);
	for (int i = 0; i < ntel; i++) {
		long want = received + 1;
		double t0 = now_s();
		MQTTClient_publish(pub, "devices/floor/x", (int)sizeof payload, payload, 0, 0, NULL);
		if (!wait_received(want, 5)) {
			fprintf(stderr, "bench_mqtt: the broker lost a message\n");
			return 1;
		}
		lat[i] = (now_s() - t0) * 1e6;
	}
	double f50 = pct(lat, ntel, 0.5), f99 = pct(lat, ntel, 0.99), fmax = lat[ntel - 1];
	MQTTClient_disconnect(pub, 100);
	MQTTClient_destroy(&pub);

	/* sc-sim reading telegrams from us. */
	char mqtt_url[64], cafile[96];
	if (tls)
		snprintf(mqtt_url, sizeof mqtt_url, "mqtts://localhost:%d", tls_port);
	else
		snprintf(mqtt_url, sizeof mqtt_url, "tcp://127.0.0.1:%d", port);
	snprintf(cafile, sizeof cafile, "%s/ca.crt", pki_dir);
	char *sim_argv[] = {(char *)sim, "--source", "stdin", "--modbus", "127.0.0.1:0", "--mqtt",
			    mqtt_url, "--counters-interval", "0", "--log-level", "info",
			    tls ? "--cafile" : NULL, cafile, NULL};
	int sim_in, sim_err;
	spawn(sim_argv, &sim_in, &sim_err);
	if (!wait_line(sim_err, "mqtt: connected", 20)) {
		fprintf(stderr, "bench_mqtt: sc-sim did not connect\n");
		return 2;
	}
	static struct sc_meter m;
	static char tel[SC_P1_GEN_MAX];
	struct sc_meter_config mc = {SC_PROFILE_PV_EV, 3, 7, 1751360400, 0, 0};
	struct sc_p1_gen_opts go = {SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0};
	sc_meter_init(&m, &mc);
	pthread_mutex_lock(&mu);
	received = 0;
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < ntel; i++) {
		sc_meter_advance(&m, mc.start + i);
		int n = sc_p1_gen(&m, &go, tel, sizeof tel, NULL);
		double t0 = now_s();
		if (write(sim_in, tel, (size_t)n) != n)
			return 2;
		if (!wait_received(i + 1, 5)) {
			fprintf(stderr, "bench_mqtt: telegram %d was not published\n", i);
			return 1;
		}
		lat[i] = (now_s() - t0) * 1e6;
	}
	double s50 = pct(lat, ntel, 0.5), s99 = pct(lat, ntel, 0.99), smax = lat[ntel - 1];

	/* Burst: every telegram at once; the rate the subscriber sees. */
	static char bulk[1 << 20];
	size_t blen = 0;
	long base = received;
	double t0 = now_s();
	for (int i = 0; i < nburst; i++) {
		sc_meter_advance(&m, mc.start + ntel + i);
		int n = sc_p1_gen(&m, &go, tel, sizeof tel, NULL);
		if (blen + (size_t)n > sizeof bulk) {
			if (write(sim_in, bulk, blen) != (ssize_t)blen)
				return 2;
			blen = 0;
		}
		memcpy(bulk + blen, tel, (size_t)n);
		blen += (size_t)n;
	}
	if (write(sim_in, bulk, blen) != (ssize_t)blen)
		return 2;
	/* Wait until nothing more arrives for a second. */
	long seen = -1;
	while (seen != received) {
		seen = received;
		wait_received(seen + 1, 1);
	}
	long got = received - base;
	double rate = (double)got / (last_at - t0);

	close(sim_in);
	MQTTClient_disconnect(sub, 100);
	MQTTClient_destroy(&sub);
	stop_children();

	printf("MQTT through a local mosquitto (%s), QoS 0, one paho subscriber, sc-sim over %s\n",
	       nodelay ? "set_tcp_nodelay true" : "default configuration", tls ? "TLS" : "TCP");
	printf("%-44s %10s %10s %10s\n", "latency", "p50 us", "p99 us", "max us");
	printf("%-44s %10.1f %10.1f %10.1f\n", "telegram in -> power_instant received", s50, s99,
	       smax);
	printf("%-44s %10.1f %10.1f %10.1f\n", "broker relay alone (floor)", f50, f99, fmax);
	printf("sustained: %d telegrams at once -> %ld messages received, %.0f messages/s\n", nburst,
	       got, rate);
	if (json) {
		FILE *o = fopen(json, "w");
		if (o) {
			fprintf(o,
				"{\n  \"benchmark\": \"mqtt\",\n  \"transport\": \"%s\",\n"
				"  \"telegram_to_message\": {\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f},\n"
				"  \"broker_floor\": {\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f},\n"
				"  \"sustained\": {\"telegrams\": %d, \"received\": %ld, \"per_s\": %.0f}\n}\n",
				tls ? "tls" : "tcp", s50, s99, smax, f50, f99, fmax, nburst, got, rate);
			fclose(o);
		}
	}
	return 0;
}
