/* sc-hil doctor: the bench rig's checklist, before a run. Each check
 * prints one line, "ok", "FAIL" or "note", with what was seen and, on a
 * failure, what to look at:
 *   serial ports   the ports this machine has, USB adapters named
 *   adapter        --port opens and takes the protocol's line settings
 *   inversion      the P1 line is inverted: what the adapter needs
 *   data request   --data-request LINE: the dongle's request is high
 *   modbus         the device under test answers a read on its port (502)
 *   https / http   its API and page answer (443, 80; --http-port 0: 80 unchecked)
 *   mqtt config    with --broker: the device's own MQTT.Broker (its
 *                  /api/v1/config) is that broker, and MQTT is on
 *   broker         --broker URL accepts a subscriber on the device's topics
 * Checks that need an option not given are not run (and say so). */
#ifndef SC_DOCTOR_H
#define SC_DOCTOR_H

#include <stdbool.h>

struct sc_doctor_opts {
	const char *port;          /* the meter emulator's serial port, or NULL */
	bool tic;                  /* the TIC line (9600 7E1) instead of P1's */
	const char *line;          /* line settings given with --line, or NULL */
	const char *data_request;  /* none | cts | dsr | dcd | ri, or NULL */
	const char *dut;           /* the device's address, or NULL */
	int modbus_port, https_port, http_port;
	const char *user, *password;
	const char *serial;        /* for its topics; NULL: from its API, else any */
	const char *broker;        /* a broker URL, or NULL */
	double timeout_s;
};

/* Runs the checks, printing to stdout. Returns the number that failed. */
int sc_doctor_run(const struct sc_doctor_opts *o);

#endif
