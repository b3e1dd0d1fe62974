/* The Modbus register image the device serves: it emulates a Phoenix
 * Contact EMpro meter (SMART-CONNECT.md §6). The one place that knows the
 * register map and the word order. */
#ifndef SC_REGMAP_H
#define SC_REGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reading.h"

#define SC_REGMAP_BASE 0x8000u /* first register of the map */
#define SC_REGMAP_END 0x8C38u  /* one past the last (0x8C36 + 2 words) */
#define SC_REGMAP_WORDS (SC_REGMAP_END - SC_REGMAP_BASE)
#define SC_MODBUS_MAX_READ 125 /* registers in one read (Modbus spec) */

/* Order of the two 16-bit words of a float32 (bytes within a word are always
 * big-endian). The device serves CD AB: low word first. */
enum sc_word_order {
	SC_WORDS_CDAB = 0,
	SC_WORDS_ABCD = 1,
};

struct sc_regmap_opts {
	enum sc_word_order order;
	bool energy_kwh; /* firmware before 5.1 served energy in kWh instead of Wh */
};

struct sc_regmap {
	uint16_t w[SC_REGMAP_WORDS]; /* w[0] is register SC_REGMAP_BASE */
};

/* One float32 value in the map. */
struct sc_regdef {
	uint16_t addr;
	const char *name; /* stable snake_case name, e.g. "voltage_l1" */
	const char *unit; /* "V", "A", "W", "Wh", ... or "" */
	bool phase;       /* per-phase quantity (q is enum sc_pq) or total (enum sc_rq) */
	int q;
	int ph;           /* 0..2 for per-phase values */
	/* For the register reference (sc-telegram registers, docs/reference/
	 * registers.md): what the value means, and the meter's objects it is
	 * made of, as p1_map.c and tic_map.c compute it: P1 OBIS codes
	 * ("1-0:1.7.0 - 1-0:2.7.0") and TIC labels ("SINSTS - SINSTI"), each
	 * code written out in full; "" when that protocol carries nothing for it
	 * (the register then reads 0). sim/tests/test_registers.py checks them
	 * against the mapping by changing each object of a telegram in turn. */
	const char *what;
	const char *p1;
	const char *tic;
};

/* The Modbus map templates the twin knows, by the names the configuration's
 * MeterType uses (manual §1.2: the TIC variant's map is chosen from
 * templates at installation; §5.2: MeterType, the type of Modbus meter).
 * Only the EMpro map (§5.3) is documented, so the list has that one; the
 * manual does not name others. n gets the count. */
const char *const *sc_regmap_templates(size_t *n);

/* The map's definitions in address order. */
const struct sc_regdef *sc_regmap_defs(size_t *count);
/* Definition by address of its first word, or by name; NULL when none. */
const struct sc_regdef *sc_regmap_def_at(uint16_t addr);
const struct sc_regdef *sc_regmap_def_named(const char *name);

/* The registers whose values say most of a telegram (power, energy,
 * voltages, currents, phase powers, S, PF): what a recorded or generated
 * scenario expects after each telegram. */
#define SC_REGMAP_NKEY 14
extern const char *const sc_regmap_key[SC_REGMAP_NKEY];

/* Build the image from a reading. Absent values and unmapped registers in
 * the map's range serve 0 (Decision in §6); NULL reading = all zero, as
 * before the first telegram. */
void sc_regmap_build(struct sc_regmap *m, const struct sc_reading *r,
		     const struct sc_regmap_opts *o);

/* The value a definition serves for a reading (before packing), with units
 * as served (kWh when energy_kwh). Returns false when absent (served as 0). */
bool sc_regmap_value(const struct sc_regdef *d, const struct sc_reading *r,
		     const struct sc_regmap_opts *o, double *out);

/* The exception a read of count registers from addr gets: 0 when valid,
 * 0x03 illegal data value when count is 0 or > 125 (checked first), 0x02
 * illegal data address when any register lies outside the map. */
int sc_regmap_check(unsigned addr, unsigned count);

/* Modbus read of count registers from addr. Returns 0 and fills out, or the
 * Modbus exception code: 0x02 illegal data address when any register lies
 * outside the map, 0x03 illegal data value when count is 0 or > 125. */
int sc_regmap_read(const struct sc_regmap *m, unsigned addr, unsigned count, uint16_t *out);

/* IEEE 754 float32 into two registers in the given order, and back. */
void sc_float_to_words(float v, enum sc_word_order o, uint16_t out[2]);
float sc_words_to_float(const uint16_t w[2], enum sc_word_order o);

#endif
