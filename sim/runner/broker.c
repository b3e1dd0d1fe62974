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
 * on a fresh port, when the port was ours to choose. */
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
#include <sys/socket.h>
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
	snprintf(b->conf, sizeof b->conf, "/tmp/sc-scenario-broker-XXXXXX");
	int fd = mkstemp(b->conf);
	if (fd < 0) {
		snprintf(why, cap, "cannot prepare a broker: %s", strerror(errno));
		b->conf[0] = '\0';
		close(hold);
		return FAILED;
	}
	struct passwd *pw = getpwuid(getuid());
	/* Started as root, mosquitto would drop to its own user. */
	dprintf(fd, "user %s\nlistener %d %s\nallow_anonymous true\npersistence false\n"
		    "log_dest none\nset_tcp_nodelay true\nmax_queued_messages 0\n", pw ? pw->pw_name : "root", b->port, addr);
	close(fd);
	const char *bin = access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto";
	b->pid = fork();
	if (b->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp(bin, bin, "-c", b->conf, (char *)NULL);
		_exit(127);
	}
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
			if (WIFEXITED(st) && WEXITSTATUS(st) != 127 && (inode > 0 || answers(a, b->port))) {
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
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
	if (b->conf[0])
		unlink(b->conf);
	b->conf[0] = '\0';
}
