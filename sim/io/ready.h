/* Telling a supervisor that sc-sim is ready: every port it serves is
 * listening, so a client connecting now is answered. Two ways, for the two
 * kinds of supervisor:
 *   --ready-file PATH  a JSON object written atomically (temporary file and
 *                      rename), removed again at exit: a CI job waits for
 *                      the file and reads the ports from it;
 *   NOTIFY_SOCKET      systemd's readiness notification (Type=notify),
 *                      READY=1 with a STATUS= line, STOPPING=1 at exit. */
#ifndef SC_READY_H
#define SC_READY_H

#include <stddef.h>

struct sc_ready {
	const char *serial;   /* the device's, or a fleet's first */
	int devices;          /* 1, or the size of the fleet */
	int modbus_port;      /* a fleet: its first device's */
	int http_port;        /* 0 when off */
	int https_port;       /* 0 when off */
	const char *status;   /* one line for systemctl status */
};

/* Removes a stale file left by an earlier run, so nothing reads it as this
 * run's readiness. Returns 0, or -1 with why. */
int sc_ready_clear(const char *path, char *why, size_t cap);
/* Writes the file (when path is not NULL) and notifies systemd (when
 * NOTIFY_SOCKET is set). Returns 0, or -1 with why. */
int sc_ready_announce(const char *path, const struct sc_ready *r, char *why, size_t cap);
/* At exit: tells systemd it is stopping and removes the file. */
void sc_ready_withdraw(const char *path);

#endif
