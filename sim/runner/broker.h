/* A private mosquitto for a scenario run: started on a free loopback port
 * (or an address and port given), waited for, stopped by its pid. sc-sim
 * --scenario uses it when no broker is given, so MQTT expectations are
 * checked through a real broker; sc-hil for a dongle told to publish there,
 * and stops and starts it again for a broker outage.
 *
 * It ends with the process that started it, however that process ends
 * (sc_broker_stop, exit, a signal, SIGKILL, a crash, a failed test
 * assertion), whichever of its threads started it and whether or not that
 * thread still runs: a watcher beside mosquitto (a child of it, named
 * sc-broker-watch) holds the read end of a pipe whose write end the
 * starting process holds (close-on-exec, in struct sc_broker_proc.watch).
 * When the write end closes, mosquitto is sent SIGTERM (SIGKILL 5 s later);
 * the watcher ends with mosquitto. A child that the starting process
 * forks and that does not exec holds the write end too: the broker then
 * lasts until both are gone. Its configuration is a file in memory that
 * mosquitto reads through /proc/self/fd: there is no file on disk, so
 * none is left behind. Linux only (memfd, /proc, PR_SET_PDEATHSIG). */
#ifndef SC_BROKER_H
#define SC_BROKER_H

#include <stddef.h>
#include <sys/types.h>

struct sc_broker_proc {
	pid_t pid;      /* mosquitto's; 0 when none runs */
	int port;
	int watch;      /* the write end of the watcher's pipe; 0: none */
	char addr[64];  /* where it listens */
	char url[96];   /* tcp://ADDR:PORT */
};

/* 0, or -1 with why (no mosquitto installed, did not start). Up means
 * the started mosquitto itself listens on the port; a port that another
 * process takes while it starts is given up for a fresh one. Runs started
 * at once (ctest -j) get ports of their own. */
int sc_broker_start(struct sc_broker_proc *b, char *why, size_t cap);
/* On addr (an IPv4 address of this machine) and port (0: a free one). A
 * port given that is in use: -1, why says so. */
int sc_broker_start_at(struct sc_broker_proc *b, const char *addr, int port, char *why, size_t cap);
/* Sends mosquitto SIGTERM, waits until it has exited (its port is then
 * free for sc_broker_start_at on it again) and lets go of the watch; pid
 * and watch are 0 after. Does nothing on a zeroed or stopped b. */
void sc_broker_stop(struct sc_broker_proc *b);

#endif
