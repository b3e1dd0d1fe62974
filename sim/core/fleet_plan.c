#include "fleet_plan.h"

#include <stdio.h>
#include <string.h>

/* splitmix64: a seed spread over all 64 bits, so neighbouring devices draw
 * unrelated models. */
static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

int sc_fleet_plan_check(const struct sc_fleet_plan *p, char *why, size_t cap)
{
	if (p->devices < 1 || p->devices > SC_FLEET_MAX) {
		snprintf(why, cap, "a fleet has 1 to %d devices", SC_FLEET_MAX);
		return -1;
	}
	if (p->modbus_base_port > 0 && p->modbus_base_port + p->devices - 1 > 65535) {
		snprintf(why, cap, "Modbus ports %d to %d: the last is past 65535; choose a lower "
				   "--modbus-base-port", p->modbus_base_port,
			 p->modbus_base_port + p->devices - 1);
		return -1;
	}
	if (p->first_serial > SC_SERIAL_MAX_VALUE || p->offset > SC_SERIAL_MAX_VALUE ||
	    p->first_serial + p->offset + (uint64_t)p->devices - 1 > SC_SERIAL_MAX_VALUE) {
		snprintf(why, cap, "the serial numbers run past FFFFFFFFFFFF; choose a lower "
				   "--device-offset or first --serial-number");
		return -1;
	}
	return 0;
}

void sc_fleet_member(const struct sc_fleet_plan *p, int i, struct sc_fleet_member *m)
{
	memset(m, 0, sizeof *m);
	m->index = p->offset + (uint64_t)i;
	snprintf(m->serial, sizeof m->serial, "%012llX",
		 (unsigned long long)(p->first_serial + m->index));
	m->modbus_port = p->modbus_base_port > 0 ? p->modbus_base_port + i : 0;
	m->seed = p->seed + m->index;
	uint64_t h = mix(m->seed);
	/* Most homes have no panels and no car; a quarter are on one phase. */
	unsigned pick = (unsigned)(h % 100);
	m->profile = p->fixed_profile ? p->profile
		     : pick < 40	   ? SC_PROFILE_HOUSEHOLD
		     : pick < 70	   ? SC_PROFILE_PV
		     : pick < 85	   ? SC_PROFILE_EV
					   : SC_PROFILE_PV_EV;
	m->phases = p->phases ? p->phases : (h >> 8) % 100 < 25 ? 1 : 3;
	m->phase_ms = p->cadence_ms > 0 ? (int64_t)((h >> 16) % (uint64_t)p->cadence_ms) : 0;
}

int sc_fleet_parse_serial(const char *s, uint64_t *out)
{
	if (strlen(s) != 12)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < 12; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

int sc_fleet_find(const struct sc_fleet_plan *p, const char *serial)
{
	uint64_t v;
	if (sc_fleet_parse_serial(serial, &v) != 0)
		return -1;
	uint64_t first = p->first_serial + p->offset;
	if (v < first || v - first >= (uint64_t)p->devices)
		return -1;
	return (int)(v - first);
}
