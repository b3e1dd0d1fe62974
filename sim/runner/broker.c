/* A private mosquitto for a scenario run (broker.h).
 *
 * The port: a port picked by binding port 0 and closing the socket is free
 * only at that moment; a run beside it (ctest -j) may be handed the same
 * number before mosquitto binds it. So the port stays bound here
 * (SO_REUSEADDR, not listening, which mosquitto's own SO_REUSEADDR bind
 * may share) until mosquitto listens on it, and the broker counts as up
 * only once the listening socket on that address and port is one of the
 * started process's own descriptors (Linux: /proc/net/tcp and
 * /proc/PID/fd), never because something else answers there. A mosquitto
 * that could not bind (the port was taken all the same) is started again
 * on a fresh port, when the port was ours to choose.
 *
 * Its end with the starting process: the watcher (watcher() below,
 * broker.h). The watcher is mosquitto's child rather than the starter's,
 * so that it only ever signals its own parent while that parent lives
 * (PR_SET_PDEATHSIG ends it with mosquitto, whose main thread, the one
 * that execs mosquitto, forked it): no pid that may have been reused is
 * signalled, and the starter has no second child to reap. The pipe exists
 * before the fork, and mosquitto's child closes its write end before it
 * forks the watcher, so a starter that dies at any moment after leaves
 * the watcher an end of file to read, however late it starts reading; the
 * starter's other children close it at exec (close-on-exec) and the
 * watchers of its other brokers at once. A watcher left without its
 * mosquitto is reaped by init, as any orphan. */
#define _GNU_SOURCE /* memfd_create, pipe2, close_range, _Fork */
#include "broker.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Fresh ports tried when mosquitto finds the one chosen taken. */
#define BROKER_TRIES 8

/* Binds addr:port (0: a free one) without listening, so that no one else
 * is given the number; the socket, or -1 with errno. */
static int reserve(struct in_addr a, int port, int *bound)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = a};
	socklen_t sl = sizeof sa;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) != 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return s;
}

/* Something accepts connections on addr:port. */
static bool answers(struct in_addr a, int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = a};
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

/* The inode of the socket listening on addr:port, 0 when none does; -1
 * when /proc/net/tcp cannot be read. It prints the address as the raw 32
 * bits of s_addr and the port in host order, both in hex; state 0A is
 * LISTEN. */
static long long listener_inode(struct in_addr a, int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return -1;
	char want[24], line[512];
	snprintf(want, sizeof want, "%08X:%04X", (unsigned)a.s_addr, (unsigned)port);
	unsigned long inode = 0;
	while (inode == 0 && fgets(line, sizeof line, f)) {
		char local[32];
		unsigned st;
		unsigned long ino;
		if (sscanf(line, " %*s %31s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &ino) == 3 &&
		    st == 0x0A && strcmp(local, want) == 0)
			inode = ino;
	}
	fclose(f);
	return (long long)inode;
}

/* pid holds the socket of that inode. */
static bool holds(pid_t pid, long long inode)
{
	char dir[64], want[48];
	snprintf(dir, sizeof dir, "/proc/%ld/fd", (long)pid);
	snprintf(want, sizeof want, "socket:[%lld]", inode);
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char path[320], link[64];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(d);
	return found;
}

/* fd moved above 0-2 (which a child points at /dev/null) and kept
 * close-on-exec; -1 as given or when it cannot be. */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return moved;
}

static void close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Every descriptor from 3 on but keep. Only async-signal-safe calls:
 * it runs in the child of a process that may have threads. */
static void close_others(int keep, long open_max)
{
	if ((keep <= 3 || syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) == 0) &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
		return;
	for (long fd = 3; fd < open_max; fd++)
		if (fd != keep)
			close((int)fd);
}

/* The starter's signal handlers taken away (a signal between fork and
 * exec would run them in the child), what it ignores left ignored (as
 * exec leaves it), then every signal let through. Async-signal-safe. */
static void default_signals(void)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old, dfl = {.sa_handler = SIG_DFL};
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sig, &dfl, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Seconds the watcher gives mosquitto to end on SIGTERM before SIGKILL. */
#define WATCH_GRACE_S 5

/* The watcher: a child of mosquitto holding the read end of the watch
 * pipe, whose write end only the process that started the broker holds.
 * End of file there is that process gone (however it ended, whichever
 * thread started the broker): mosquitto is stopped. The watcher ends with
 * mosquitto (PR_SET_PDEATHSIG: mosquitto's main thread, the one that
 * execs it, forked it), so it only ever signals its own living parent. */
static _Noreturn void watcher(pid_t broker, int rd, int null, long open_max)
{
	prctl(PR_SET_NAME, "sc-broker-watch", 0, 0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != broker)
		_exit(0);
	/* The terminal's signals go to the whole process group: mosquitto
	 * ends on them, and takes the watcher with it. */
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	close_others(rd, open_max);
	char c;
	while (read(rd, &c, 1) < 0 && errno == EINTR)
		;
	if (getppid() == broker)
		kill(broker, SIGTERM);
	struct timespec grace = {WATCH_GRACE_S, 0};
	while (nanosleep(&grace, &grace) != 0 && errno == EINTR)
		;
	if (getppid() == broker)
		kill(broker, SIGKILL);
	_exit(0);
}

/* The child that becomes mosquitto, after forking its watcher; conf (the
 * configuration, read as conf_path) is the one descriptor it keeps open
 * across exec besides /dev/null on 0-2. Async-signal-safe only. */
static _Noreturn void broker_child(const char *bin, int conf, const char *conf_path, int null,
				   const int watch[2], long open_max)
{
	default_signals();
	/* Only the starting process holds the write end. */
	close(watch[1]);
	pid_t self = getpid();
	/* _Fork: fork without the atfork handlers, safe here. */
	pid_t w = _Fork();
	if (w == 0)
		watcher(self, watch[0], null, open_max);
	if (w < 0)
		_exit(126);
	close(watch[0]);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	fcntl(conf, F_SETFD, 0);
	execlp(bin, bin, "-c", conf_path, (char *)NULL);
	_exit(127);
}

enum { STARTED = 0, FAILED = -1, TAKEN = 1 };

/* One mosquitto on addr:port (0: a free one). STARTED; TAKEN when the port
 * turned out to be in use (why says so); FAILED with why otherwise. */
static int start_once(struct sc_broker_proc *b, struct in_addr a, const char *addr, int port,
		      char *why, size_t cap)
{
	memset(b, 0, sizeof *b);
	snprintf(b->addr, sizeof b->addr, "%s", addr);
	int hold = reserve(a, port, &b->port);
	if (hold < 0) {
		int e = errno;
		if (e == EADDRINUSE) {
			snprintf(why, cap, "%s:%d is in use", addr, port);
			return TAKEN;
		}
		snprintf(why, cap, "cannot prepare a broker on %s: %s", addr, strerror(e));
		return FAILED;
	}
	/* The configuration: a file in memory, handed to mosquitto as an
	 * open descriptor, so that there is never one on disk to leave. */
	int conf = above_stdio(memfd_create("sc-broker.conf", MFD_CLOEXEC));
	int watch[2] = {-1, -1};
	int null = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
	if (conf >= 0 && pipe2(watch, O_CLOEXEC) == 0) {
		watch[0] = above_stdio(watch[0]);
		watch[1] = above_stdio(watch[1]);
	}
	if (conf < 0 || null < 0 || watch[0] < 0 || watch[1] < 0) {
		snprintf(why, cap, "cannot prepare a broker: %s", strerror(errno));
		close_all((int[]){conf, null, watch[0], watch[1], hold}, 5);
		return FAILED;
	}
	struct passwd *pw = getpwuid(getuid());
	/* Started as root, mosquitto would drop to its own user. */
	dprintf(conf, "user %s\nlistener %d %s\nallow_anonymous true\npersistence false\n"
		      "log_dest none\nset_tcp_nodelay true\nmax_queued_messages 0\n",
		pw ? pw->pw_name : "root", b->port, addr);
	char conf_path[48];
	snprintf(conf_path, sizeof conf_path, "/proc/self/fd/%d", conf);
	const char *bin = access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto";
	long open_max = sysconf(_SC_OPEN_MAX);
	b->pid = fork();
	if (b->pid == 0)
		broker_child(bin, conf, conf_path, null, watch, open_max);
	close_all((int[]){conf, null, watch[0]}, 3);
	if (b->pid > 0)
		b->watch = watch[1];
	else
		close(watch[1]);
	int rc = FAILED;
	if (b->pid < 0) {
		snprintf(why, cap, "cannot start mosquitto: %s", strerror(errno));
		b->pid = 0;
		goto out;
	}
	/* Up within 10 s, checked every 20 ms. */
	for (int i = 0; i < 500; i++) {
		long long inode = listener_inode(a, b->port);
		/* Without /proc to tell whose it is: an answer on the port. */
		bool up = inode > 0 ? holds(b->pid, inode) : inode < 0 && answers(a, b->port);
		if (up) {
			snprintf(b->url, sizeof b->url, "tcp://%s:%d", addr, b->port);
			rc = STARTED;
			goto out;
		}
		int st;
		if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
			b->pid = 0;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 126) {
				snprintf(why, cap, "cannot start the broker's watcher");
			} else if (WIFEXITED(st) && WEXITSTATUS(st) != 127 &&
				   (inode > 0 || answers(a, b->port))) {
				snprintf(why, cap, "%s:%d was taken as mosquitto started", addr, b->port);
				rc = TAKEN;
			} else {
				snprintf(why, cap, "mosquitto exited at once (is the mosquitto package installed?)");
			}
			goto out;
		}
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	snprintf(why, cap, "mosquitto did not listen on %d within 10 s", b->port);
out:
	close(hold);
	if (rc != STARTED)
		sc_broker_stop(b);
	return rc;
}

int sc_broker_start(struct sc_broker_proc *b, char *why, size_t cap)
{
	return sc_broker_start_at(b, "127.0.0.1", 0, why, cap);
}

int sc_broker_start_at(struct sc_broker_proc *b, const char *addr, int port, char *why, size_t cap)
{
	memset(b, 0, sizeof *b);
	struct in_addr a;
	if (inet_pton(AF_INET, addr, &a) != 1 || a.s_addr == htonl(INADDR_ANY)) {
		snprintf(why, cap, "'%s' is not an IPv4 address of this machine", addr);
		return -1;
	}
	/* A port given is the one the device was told: no other will do. */
	for (int i = 0; i < (port > 0 ? 1 : BROKER_TRIES); i++) {
		int rc = start_once(b, a, addr, port, why, cap);
		if (rc != TAKEN)
			return rc == STARTED ? 0 : -1;
	}
	if (port <= 0) {
		char last[160];
		snprintf(last, sizeof last, "%s", why);
		snprintf(why, cap, "no free port for a broker in %d tries (last: %s)", BROKER_TRIES, last);
	}
	return -1;
}

void sc_broker_stop(struct sc_broker_proc *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		while (waitpid(b->pid, NULL, 0) < 0 && errno == EINTR)
			;
		b->pid = 0;
	}
	/* Its watcher ended with it (PR_SET_PDEATHSIG); the pipe is closed
	 * after, so that the watcher does not race the stop with a SIGTERM
	 * of its own. */
	if (b->watch > 0)
		close(b->watch);
	b->watch = 0;
}
