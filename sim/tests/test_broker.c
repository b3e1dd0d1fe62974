/* The private broker of test runs (sim/runner/broker.h) against a real
 * mosquitto: up on a port of its own, restarted on the same port (a broker
 * outage), a port that is taken refused rather than taken for its own, and
 * brokers started at once in threads (as ctest -j starts runs) each on a
 * port of its own with its own process listening there; a broker ends with
 * the process that started it when that process is killed (SIGKILL), also
 * when a thread that has since ended started it (and lives on while the
 * process does), and leaves no configuration file behind. */
#define _GNU_SOURCE /* gettid */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

static bool answers(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

/* An MQTT CONNECT answered by a CONNACK: a broker, not just a socket. */
static bool is_broker(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {5, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	/* MQTT 3.1.1 CONNECT, clean session, keep-alive 10 s, client id "t". */
	static const unsigned char connect_pkt[] = {0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 10,
						    0, 1, 't'};
	unsigned char ack[4] = {0};
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		  write(s, connect_pkt, sizeof connect_pkt) == (ssize_t)sizeof connect_pkt &&
		  read(s, ack, sizeof ack) == 4 && ack[0] == 0x20 && ack[1] == 2 && ack[3] == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* pid holds the socket listening on 127.0.0.1:port (/proc/net/tcp gives
 * the socket's inode, /proc/PID/fd the descriptors that name it). */
static bool listens_on(pid_t pid, int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	cr_assert_not_null(f);
	char want[24], line[512], sock[48] = "";
	snprintf(want, sizeof want, "%08X:%04X", (unsigned)htonl(INADDR_LOOPBACK), (unsigned)port);
	while (!sock[0] && fgets(line, sizeof line, f)) {
		char local[32];
		unsigned state;
		unsigned long inode;
		if (sscanf(line, " %*s %31s %*s %x %*s %*s %*s %*s %*s %lu", local, &state, &inode) == 3 &&
		    state == 0x0A && strcmp(local, want) == 0)
			snprintf(sock, sizeof sock, "socket:[%lu]", inode);
	}
	fclose(f);
	bool found = false;
	for (int fd = 0; sock[0] && !found && fd < 1024; fd++) {
		char path[64], link[64];
		snprintf(path, sizeof path, "/proc/%ld/fd/%d", (long)pid, fd);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, sock) == 0;
		}
	}
	return found;
}

static void config_file_of(pid_t pid, char *out, size_t cap);

static bool running(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

Test(broker, up_stopped_and_up_again_on_its_port)
{
	struct sc_broker_proc b;
	char why[256] = "";
	cr_assert_eq(sc_broker_start(&b, why, sizeof why), 0, "%s", why);
	cr_assert_gt(b.port, 0);
	char url[96];
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", b.port);
	cr_assert_str_eq(b.url, url);
	cr_assert(is_broker(b.port));
	int port = b.port;
	char conf[512];
	config_file_of(b.pid, conf, sizeof conf);
	sc_broker_stop(&b);
	cr_assert_eq(b.pid, 0);
	cr_assert_not(answers(port), "port %d still answers after the stop", port);
	cr_assert_eq(b.watch, 0);
	cr_assert(conf[0] == '\0' || access(conf, F_OK) != 0, "%s is left behind", conf);
	/* A broker outage: the device was told this port. */
	cr_assert_eq(sc_broker_start_at(&b, "127.0.0.1", port, why, sizeof why), 0, "%s", why);
	cr_assert_eq(b.port, port);
	cr_assert(is_broker(port));
	sc_broker_stop(&b);
}

Test(broker, a_taken_port_is_refused)
{
	/* Something else listens on the port: it must not pass for the broker. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(s, 8), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	int port = ntohs(sa.sin_port);
	struct sc_broker_proc b;
	char why[256] = "";
	cr_assert_eq(sc_broker_start_at(&b, "127.0.0.1", port, why, sizeof why), -1,
		     "a broker 'started' on port %d, which another socket holds", port);
	cr_assert(strstr(why, "in use") != NULL, "%s", why);
	cr_assert_eq(b.pid, 0);
	cr_assert_eq(b.watch, 0);
	close(s);
}

Test(broker, not_an_address_of_this_machine)
{
	struct sc_broker_proc b;
	char why[256] = "";
	cr_assert_eq(sc_broker_start_at(&b, "0.0.0.0", 0, why, sizeof why), -1);
	cr_assert(strstr(why, "not an IPv4 address") != NULL, "%s", why);
	cr_assert_eq(sc_broker_start_at(&b, "localhost", 0, why, sizeof why), -1);
}

#define THREADS 4
#define ROUNDS 12

struct starter {
	pthread_barrier_t *go;
	struct sc_broker_proc b;
	int rc;
	char why[256];
};

static void *start_one(void *arg)
{
	struct starter *st = arg;
	pthread_barrier_wait(st->go);
	st->rc = sc_broker_start(&st->b, st->why, sizeof st->why);
	return NULL;
}

Test(broker, started_at_once_each_on_its_own_port, .timeout = 240)
{
	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, THREADS);
		struct starter st[THREADS];
		pthread_t th[THREADS];
		memset(st, 0, sizeof st);
		for (int i = 0; i < THREADS; i++) {
			st[i].go = &go;
			cr_assert_eq(pthread_create(&th[i], NULL, start_one, &st[i]), 0);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		/* A broker that lost its port to another would exit a moment
		 * after; the socket listening on the port is its own instead. */
		for (int i = 0; i < THREADS; i++) {
			cr_assert_eq(st[i].rc, 0, "round %d: %s", round, st[i].why);
			cr_assert(running(st[i].b.pid), "round %d: the broker on %d is gone", round,
				  st[i].b.port);
			cr_assert(listens_on(st[i].b.pid, st[i].b.port),
				  "round %d: the broker %ld does not hold the listener on %d", round,
				  (long)st[i].b.pid, st[i].b.port);
			cr_assert(is_broker(st[i].b.port), "round %d: no broker on %d", round,
				  st[i].b.port);
			for (int j = 0; j < i; j++)
				cr_assert_neq(st[i].b.port, st[j].b.port, "round %d: two brokers on %d",
					      round, st[i].b.port);
		}
		for (int i = 0; i < THREADS; i++) {
			int port = st[i].b.port;
			sc_broker_stop(&st[i].b);
			/* Its own process listened there: stopped, nothing answers. */
			cr_assert_not(answers(port), "round %d: %d answers after its broker stopped", round,
				      port);
		}
	}
}

/* ---- a broker ends with the process that started it ---- */

/* /proc/PID/stat after the process's name ("PID (COMM) S PPID ...": the
 * name may hold spaces and parentheses), in buf; NULL when there is no
 * such process. */
static const char *stat_after_name(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' ? close_paren + 2 : NULL;
}

/* The state letter of /proc/PID/stat, 0 when there is no such process. */
static char proc_state(pid_t pid)
{
	char buf[512];
	const char *rest = stat_after_name(pid, buf, sizeof buf);
	return rest ? rest[0] : 0;
}

/* Exited: no process, or one that only waits to be reaped (a broker whose
 * parent died is someone else's child; it cannot be waited for here). */
static bool gone(pid_t pid)
{
	char s = proc_state(pid);
	return s == 0 || s == 'Z' || s == 'X';
}

/* The file mosquitto was told to read its configuration from (-c), as it
 * appears on disk, or "" when that is no file of a file system (a memory
 * file of its own). */
static void config_file_of(pid_t pid, char *out, size_t cap)
{
	char path[64], cmd[1024];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "no broker %ld", (long)pid);
	size_t n = fread(cmd, 1, sizeof cmd - 1, f);
	fclose(f);
	cmd[n] = '\0';
	const char *conf = NULL;
	for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
		if (strcmp(cmd + i, "-c") == 0 && i + 3 < n)
			conf = cmd + i + 3;
	cr_assert_not_null(conf, "broker %ld was given no configuration file", (long)pid);
	/* A path through the broker's own /proc/self: what it names. */
	char link[512] = "";
	if (strncmp(conf, "/proc/self/", 11) == 0) {
		char at[600];
		snprintf(at, sizeof at, "/proc/%ld/%s", (long)pid, conf + 11);
		ssize_t l = readlink(at, link, sizeof link - 1);
		cr_assert_gt(l, 0, "%s names nothing", at);
		link[l] = '\0';
		conf = link;
	}
	snprintf(out, cap, "%s", strncmp(conf, "/memfd:", 7) == 0 ? "" : conf);
}

struct report {
	pid_t pid;  /* the broker's, 0 when it did not start */
	pid_t tid;  /* the thread that started it */
	int port;
	char why[256];
};

static void *start_in_thread(void *arg)
{
	struct report *r = arg;
	struct sc_broker_proc b;
	r->tid = gettid();
	if (sc_broker_start(&b, r->why, sizeof r->why) == 0) {
		r->pid = b.pid;
		r->port = b.port;
	}
	/* The thread ends; the process and its broker go on. */
	return NULL;
}

/* A process that starts a broker (from a thread that then ends, or its
 * main thread), reports it and waits to be killed; its pid. It ends of
 * itself when this process does (*life, which it holds, closes): a failed
 * assertion here leaves nothing running. */
static pid_t starter(bool from_thread, struct report *r, int *life)
{
	int p[2], l[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(l), 0);
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		close(p[0]);
		close(l[1]);
		struct report mine = {0};
		if (from_thread) {
			pthread_t th;
			if (pthread_create(&th, NULL, start_in_thread, &mine) == 0)
				pthread_join(th, NULL);
			else
				snprintf(mine.why, sizeof mine.why, "no thread");
			/* Reported once the thread is gone from the kernel too (a
			 * join may return a moment before), so that whatever its
			 * end sets off has been set off. */
			char task[64];
			snprintf(task, sizeof task, "/proc/self/task/%ld", (long)mine.tid);
			double dl = mono_s() + 10;
			while (access(task, F_OK) == 0 && mono_s() < dl) {
				struct timespec ts = {0, 1000000};
				nanosleep(&ts, NULL);
			}
		} else {
			start_in_thread(&mine);
		}
		if (write(p[1], &mine, sizeof mine) != (ssize_t)sizeof mine)
			_exit(1);
		char c;
		while (read(l[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[1]);
	close(l[0]);
	*life = l[1];
	struct pollfd pfd = {p[0], POLLIN, 0};
	cr_assert_eq(poll(&pfd, 1, 30000), 1, "the starter did not report within 30 s");
	cr_assert_eq(read(p[0], r, sizeof *r), (ssize_t)sizeof *r);
	close(p[0]);
	cr_assert_gt(r->pid, 0, "no broker: %s", r->why);
	return child;
}

/* Kills the starter; its broker must end within 10 s and leave no
 * configuration file. */
static void killed_takes_its_broker(pid_t child, int life, const struct report *r)
{
	char conf[512];
	config_file_of(r->pid, conf, sizeof conf);
	cr_assert_eq(kill(child, SIGKILL), 0);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	close(life);
	double dl = mono_s() + 10;
	while (!gone(r->pid) && mono_s() < dl) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	bool ended = gone(r->pid);
	if (!ended)
		kill(r->pid, SIGKILL); /* this test's own broker, not left behind */
	cr_assert(ended, "the broker %ld outlived the process that started it by 10 s",
		  (long)r->pid);
	cr_assert_not(answers(r->port), "port %d still answers", r->port);
	cr_assert(conf[0] == '\0' || access(conf, F_OK) != 0, "%s is left behind", conf);
}

Test(broker, ends_when_the_process_that_started_it_is_killed, .timeout = 60)
{
	struct report r;
	int life;
	pid_t child = starter(false, &r, &life);
	cr_assert(is_broker(r.port), "no broker on %d", r.port);
	killed_takes_its_broker(child, life, &r);
}

Test(broker, started_from_a_thread_that_ended_lives_as_long_as_its_process, .timeout = 60)
{
	struct report r;
	int life;
	pid_t child = starter(true, &r, &life);
	/* The thread that started it has ended: the broker stays up. */
	cr_assert(is_broker(r.port), "no broker on %d once its thread ended", r.port);
	cr_assert(is_broker(r.port), "the broker on %d went once its thread ended", r.port);
	cr_assert_not(gone(r.pid), "the broker %ld ended with the thread that started it",
		      (long)r.pid);
	killed_takes_its_broker(child, life, &r);
}

/* pid's parent, from /proc/PID/stat; 0 when there is no such process. */
static pid_t parent_of(pid_t pid)
{
	char buf[512];
	const char *rest = stat_after_name(pid, buf, sizeof buf);
	long ppid = 0;
	if (!rest || sscanf(rest, "%*c %ld", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

/* Every child this process has is reaped within 10 s: true; false after
 * killing those left (this test's own). */
static bool children_end(void)
{
	double dl = mono_s() + 10;
	for (;;) {
		pid_t w = waitpid(-1, NULL, WNOHANG);
		if (w < 0 && errno == ECHILD)
			return true;
		if (w > 0)
			continue;
		if (mono_s() > dl)
			break;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	DIR *d = opendir("/proc");
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		long pid = strtol(e->d_name, NULL, 10);
		if (pid > 0 && parent_of((pid_t)pid) == getpid())
			kill((pid_t)pid, SIGKILL);
	}
	closedir(d);
	while (waitpid(-1, NULL, 0) > 0)
		;
	return false;
}

Test(broker, a_starter_killed_at_any_moment_of_the_start_leaves_nothing, .timeout = 120)
{
	/* What the killed starter leaves becomes this process's, to be told
	 * apart from the brokers of other runs and waited for. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	for (int i = 0; i < 24; i++) {
		pid_t child = fork();
		cr_assert_geq(child, 0);
		if (child == 0) {
			struct sc_broker_proc b;
			char why[256];
			sc_broker_start(&b, why, sizeof why);
			for (;;)
				pause();
		}
		/* Killed 0 to 46 ms in: before the fork, between the fork and
		 * the exec, while mosquitto starts, once it listens. */
		struct timespec ts = {0, i * 2000000L};
		nanosleep(&ts, NULL);
		cr_assert_eq(kill(child, SIGKILL), 0);
		cr_assert(children_end(), "killed %d ms into its start, the starter left a process "
					  "running for 10 s",
			  i * 2);
	}
}
