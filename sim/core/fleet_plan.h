/* How a fleet of virtual Smart Connects is numbered and varied. One rule,
 * in one place, so that shards of a fleet run on several machines
 * (--device-offset) make disjoint devices, and a device is the same
 * whichever shard runs it.
 *
 * Device g of the whole fleet (g = offset + i for the i-th device of a
 * shard) has the serial number first_serial + g (12 hex digits, as the
 * device's MAC-based serials), the meter model seeded with seed + g (its
 * profile and phases drawn from that seed unless fixed), its first telegram
 * at a point of the cadence drawn from it too (so that a fleet's telegrams
 * spread over the second instead of coming all at once), and the Modbus
 * port base + i of its shard (0: any free port). */
#ifndef SC_FLEET_PLAN_H
#define SC_FLEET_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meter.h"

#define SC_FLEET_MAX 100000
#define SC_SERIAL_MAX_VALUE 0xFFFFFFFFFFFFull

struct sc_fleet_plan {
	int devices;               /* in this shard, 1 .. SC_FLEET_MAX */
	uint64_t offset;           /* the shard's first device in the whole fleet */
	uint64_t first_serial;     /* device 0 of the whole fleet, a 48-bit number */
	int modbus_base_port;      /* device i of the shard: base + i; 0 = any free */
	uint64_t seed;             /* meter models: seed + g */
	bool fixed_profile;        /* every meter this profile, else drawn */
	enum sc_profile profile;
	int phases;                /* 1 or 3; 0 = drawn */
	int64_t cadence_ms;        /* the meters' cadence */
};

struct sc_fleet_member {
	uint64_t index;            /* g */
	char serial[13];
	int modbus_port;
	uint64_t seed;
	enum sc_profile profile;
	int phases;
	int64_t phase_ms;          /* the first telegram this long after the start */
};

/* 0, or -1 with why: too many devices, ports past 65535, serials past
 * FFFFFFFFFFFF. */
int sc_fleet_plan_check(const struct sc_fleet_plan *p, char *why, size_t cap);
/* The i-th device of the shard (0 <= i < devices). */
void sc_fleet_member(const struct sc_fleet_plan *p, int i, struct sc_fleet_member *out);
/* Exactly 12 hex digits, either case; 0 or -1. */
int sc_fleet_parse_serial(const char *s, uint64_t *out);
/* The shard's device with this serial number, or -1. */
int sc_fleet_find(const struct sc_fleet_plan *p, const char *serial);

#endif
