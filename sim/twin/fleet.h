/* A fleet: many virtual Smart Connects in one process and one event loop
 * (sc-sim --devices N). Each device is a whole twin (twin.h) with its own
 * serial number, meter, Modbus port and MQTT client; the fleet numbers and
 * varies them (fleet_plan.h) and serves every device's HTTP surface from
 * one server, by path:
 *
 *   /devices/SERIAL/              the device's page (and /api/v1/..., /sim/v1/...)
 *   /fleet/v1/status              the fleet's figures (GET), also at /
 *   /fleet/v1/devices             every device: serial, ports, MQTT state (GET)
 *   /fleet/v1/window              starts a measurement window (POST) */
#ifndef SC_FLEET_H
#define SC_FLEET_H

#include "fleet_plan.h"
#include "twin.h"

struct sc_fleet_opts {
	struct sc_fleet_plan plan;
	/* Every device's options; the fleet sets serial, Modbus port, meter
	 * seed, profile and phases, state directory, and turns the devices'
	 * own HTTP servers off. */
	struct sc_twin_opts device;
	const char *state_dir;          /* devices keep their state in DIR/SERIAL */
	const char *http_addr, *https_addr; /* the fleet's servers; NULL: off */
	int http_port, https_port;
};

struct sc_fleet;

/* Starts every device into *out. Returns 0, or a negative sc_err with why
 * after stopping those that did start: SC_ERR_USAGE (the plan), and as
 * sc_twin_start (a device's own failure is logged first). */
int sc_fleet_start(struct sc_loop *loop, struct sc_clock *clock, const struct sc_fleet_opts *o,
		   struct sc_fleet **out, char *why, size_t cap);
/* Stops and frees; NULL is fine. */
void sc_fleet_stop(struct sc_fleet *f);
int sc_fleet_size(const struct sc_fleet *f);
struct sc_twin *sc_fleet_twin(struct sc_fleet *f, int i);
int sc_fleet_http_port(const struct sc_fleet *f);
int sc_fleet_https_port(const struct sc_fleet *f);
/* The fleet's figures as /fleet/v1/status serves them (malloc'd JSON). */
char *sc_fleet_status_json(struct sc_fleet *f);
/* A "ready:" line, and one of totals for the log at shutdown. */
void sc_fleet_describe(struct sc_fleet *f, char *buf, size_t cap);
void sc_fleet_summary(struct sc_fleet *f, char *buf, size_t cap);

#endif
