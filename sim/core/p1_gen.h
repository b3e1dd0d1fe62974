/* P1 telegram generator: a meter state (meter.h) printed byte-exact as a
 * DSMR 4.2 (Kaifa), DSMR 5.0 (Iskra AM550) or e-MUCS (Fluvius) meter would,
 * optionally with a fault, plus the reading a correct parser and the
 * device's mapping (sc_p1_to_reading) must produce from it. Pure: no I/O, no
 * allocation, no clock; the caller owns every buffer. */
#ifndef SC_P1_GEN_H
#define SC_P1_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "meter.h"
#include "reading.h"

/* A buffer of this size holds any telegram sc_p1_gen writes, oversize and
 * garbage faults included. */
#define SC_P1_GEN_MAX 16384

enum sc_p1_fault {
	SC_P1_FAULT_NONE,
	SC_P1_FAULT_BAD_CRC,   /* CRC digits that do not match the content */
	SC_P1_FAULT_TRUNCATED, /* cut before the '!' line: no '!', no CRC */
	SC_P1_FAULT_GARBAGE,   /* 1-64 random bytes other than '/' (NUL and binary
				* included) before an intact telegram */
	SC_P1_FAULT_OVERSIZE,  /* longer than SC_P1_BUF_SIZE through a long
				* 0-0:96.13.0 text message, CRC valid */
	SC_P1_FAULT_COUNT
};

/* "none", "bad-crc", "truncated", "garbage", "oversize"; "?" if unknown. */
const char *sc_p1_fault_name(enum sc_p1_fault f);
/* The fault of a name, or -1 when unknown. */
int sc_p1_fault_from_name(const char *name);

struct sc_p1_gen_opts {
	enum sc_flavour flavour;   /* SC_FLAVOUR_DSMR42, _DSMR50 or _EMUCS */
	enum sc_p1_fault fault;
	uint64_t fault_seed;       /* where to cut, which garbage, which wrong CRC */
};

/* Write the telegram of meter state m at m->t into buf (cap bytes). Returns
 * the number of bytes written (a NUL follows when there is room, not
 * counted), SC_ERR_RANGE when cap is too small, SC_ERR_INVAL for a flavour
 * or fault it cannot produce.
 *
 * expect (may be NULL) receives the reading sc_p1_to_reading must give for
 * this telegram, computed from the generator's own quantised values. For the
 * garbage fault it is the reading of the telegram after the garbage; for the
 * other faults, where a correct parser delivers no reading, it is the
 * reading of the telegram as meant before the fault was applied. */
int sc_p1_gen(const struct sc_meter *m, const struct sc_p1_gen_opts *o, char *buf, size_t cap,
	      struct sc_reading *expect);

/* What a meter of flavour f prints (meter.h, values set by hand): powers
 * 2.3 kW (99,999 W), voltages 3.1 V (999.9 V), currents 3 digits of A (NL)
 * or 3.2 (e-MUCS), energies 6.3 kWh (rolling over at 10^9 Wh), signed phase
 * powers (21.7.0 / 22.7.0); rated 100 A. Returns SC_OK, or SC_ERR_INVAL for
 * a flavour it does not generate. */
int sc_p1_gen_limits(enum sc_flavour f, struct sc_meter_limits *lim);

#endif
