/* A private mosquitto for a scenario run: started on a free loopback port,
 * waited for, stopped by its pid. sc-sim --scenario uses it when no broker
 * is given, so MQTT expectations are checked through a real broker. */
#ifndef SC_BROKER_H
#define SC_BROKER_H

#include <stddef.h>
#include <sys/types.h>

struct sc_broker_proc {
	pid_t pid;
	int port;
	char conf[64];
	char url[64];   /* tcp://127.0.0.1:PORT */
};

/* 0, or -1 with why (no mosquitto installed, did not start). */
int sc_broker_start(struct sc_broker_proc *b, char *why, size_t cap);
void sc_broker_stop(struct sc_broker_proc *b);

#endif
