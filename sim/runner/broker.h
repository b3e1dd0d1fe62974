/* A private mosquitto for a scenario run: started on a free loopback port
 * (or an address and port given), waited for, stopped by its pid. sc-sim
 * --scenario uses it when no broker is given, so MQTT expectations are
 * checked through a real broker; sc-hil for a dongle told to publish there,
 * and stops and starts it again for a broker outage. */
#ifndef SC_BROKER_H
#define SC_BROKER_H

#include <stddef.h>
#include <sys/types.h>

struct sc_broker_proc {
	pid_t pid;      /* mosquitto's; 0 when none runs */
	int port;
	int watch;      /* the watch on this process (broker.c); 0: none */
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
void sc_broker_stop(struct sc_broker_proc *b);

#endif
