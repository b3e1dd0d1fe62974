#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(struct in_addr a)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = a};
	socklen_t sl = sizeof sa;
	int port = -1;
	if (s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(s, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static int listening(struct in_addr a, int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = a};
	int ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (s >= 0)
		close(s);
	return ok;
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
	snprintf(b->addr, sizeof b->addr, "%s", addr);
	const char *bin = access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto";
	b->port = port > 0 ? port : free_port(a);
	snprintf(b->conf, sizeof b->conf, "/tmp/sc-scenario-broker-XXXXXX");
	int fd = mkstemp(b->conf);
	if (b->port < 0 || fd < 0) {
		snprintf(why, cap, "cannot prepare a broker: %s", strerror(errno));
		return -1;
	}
	struct passwd *pw = getpwuid(getuid());
	/* Started as root, mosquitto would drop to its own user. */
	dprintf(fd, "user %s\nlistener %d %s\nallow_anonymous true\npersistence false\n"
		    "log_dest none\nset_tcp_nodelay true\n", pw ? pw->pw_name : "root", b->port, addr);
	close(fd);
	b->pid = fork();
	if (b->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp(bin, bin, "-c", b->conf, (char *)NULL);
		_exit(127);
	}
	if (b->pid < 0) {
		snprintf(why, cap, "cannot start mosquitto: %s", strerror(errno));
		unlink(b->conf);
		return -1;
	}
	/* Up within 10 s, checked every 20 ms. */
	for (int i = 0; i < 500; i++) {
		if (listening(a, b->port)) {
			snprintf(b->url, sizeof b->url, "tcp://%s:%d", addr, b->port);
			return 0;
		}
		int st;
		if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
			snprintf(why, cap, "mosquitto exited at once (is the mosquitto package installed?)");
			b->pid = 0;
			unlink(b->conf);
			return -1;
		}
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	snprintf(why, cap, "mosquitto did not listen on %d within 10 s", b->port);
	sc_broker_stop(b);
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
