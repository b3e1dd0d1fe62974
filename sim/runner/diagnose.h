/* Diagnosis of a value mismatch: when what a device serves differs from
 * what the oracle expects, the usual causes are tested against the served
 * values and the most likely one is named ("likely cause: word order
 * swapped"). Pure functions, no I/O.
 *
 * The rules, in the order tried (the most specific first; when none fits
 * no cause is named: the diagnosis never guesses):
 *   word order swapped    every differing value, its two words read in the
 *                         other order, is the expected float
 *   energy in kWh         only energy (E_IMPORT, E_EXPORT) differs, each
 *                         the expected / 1000 (firmware before 5.1)
 *   export sign inverted  only active power (P, per-phase P) differs, each
 *                         with the expected magnitude and the other sign
 *   phases swapped        only per-phase values of two phases differ, each
 *                         the expected value of the other phase
 *   stale value           the served values did not change across the last
 *                         few telegrams while the oracle's did at each
 *   served one telegram   every compared value equals the previous
 *   late                  telegram's (and the differing ones not the last's)
 *   scale                 every differing value is the expected times one
 *                         factor: 10, 1000, 0.1 or 0.001
 * Values are equal within float32 rounding (sc_cmp_f32), derived ones
 * (x1000, /1000, -1) within two float32 steps. */
#ifndef SC_DIAGNOSE_H
#define SC_DIAGNOSE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "regmap.h"

enum sc_cause {
	SC_CAUSE_NONE = 0,
	SC_CAUSE_WORD_ORDER,
	SC_CAUSE_KWH,
	SC_CAUSE_EXPORT_SIGN,
	SC_CAUSE_PHASES,
	SC_CAUSE_STALE,
	SC_CAUSE_LATE,
	SC_CAUSE_SCALE,
	SC_CAUSE_COUNT
};

/* What a compared quantity measures, as far as the rules care. */
enum sc_dx_kind {
	SC_DX_OTHER = 0,
	SC_DX_ENERGY, /* active energy import or export (Wh; kWh before 5.1) */
	SC_DX_POWER,  /* active power, signed: negative = export (P, l1.P) */
};

/* One quantity compared. */
struct sc_dx_value {
	char name[40];        /* "0x8016 active_power", "l1.U": for the caller */
	enum sc_dx_kind kind;
	int phase;            /* 0..2 for a per-phase quantity, -1 for a total */
	int q;                /* per-phase: which quantity (L1's pairs with L2's) */
	double served;        /* as the device served it */
	bool words;           /* served from two Modbus registers: w and order */
	uint16_t w[2];        /* the raw words as read */
	enum sc_word_order order; /* the order served was read in */
	double want;          /* the oracle's, for the last telegram */
	double prev;          /* the oracle's, for the previous one; NAN unknown */
};

/* What the diagnosis is given. */
struct sc_dx_input {
	const struct sc_dx_value *v; /* the caller's */
	size_t n;
	/* Across the last few telegrams (the caller's window, at least two):
	 * did the served values change at all (served_moved), and did the
	 * oracle's change from each of them to the next (oracle_moved)?
	 * -1 unknown, 0 no, 1 yes. */
	int served_moved, oracle_moved;
};

struct sc_dx_cause {
	enum sc_cause cause;
	int pa, pb;           /* SC_CAUSE_PHASES: the two phases, 0-based, pa < pb */
	double factor;        /* SC_CAUSE_SCALE: 10, 1000, 0.1 or 0.001 */
};

/* The word order finding shared by doctor and the diagnosis: the orders in
 * which the two words w read as a value in [lo, hi] (lo == hi: that value
 * within float32 rounding). Returns how many of the two orders fit (0, 1,
 * 2); *order (may be NULL) gets the first that fits, CD AB tried first,
 * and *value (may be NULL) what it reads as. */
int sc_word_order_fit(const uint16_t w[2], double lo, double hi, enum sc_word_order *order,
		      double *value);

/* Tests the rules against in (see above): the cause found, SC_CAUSE_NONE
 * when no value differs or none fits. out (may be NULL) gets the details. */
enum sc_cause sc_diagnose(const struct sc_dx_input *in, struct sc_dx_cause *out);

/* The cause as the shared vocabulary says it, without "likely cause: ":
 * "word order swapped", "energy in kWh (firmware before 5.1)", "export
 * sign inverted", "phases L1 and L3 swapped", "served one telegram late",
 * "scale x10", "stale value (not updating)"; "" for none. Writes at most
 * cap bytes, NUL-terminated. */
void sc_diagnose_text(const struct sc_dx_cause *c, char *buf, size_t cap);

/* The cause's name without details ("phases swapped", "scale"), for
 * counting; "" for SC_CAUSE_NONE. */
const char *sc_cause_name(enum sc_cause c);

/* Room a "; likely cause: ..." tail needs (with its NUL). */
#define SC_DX_TAIL 56

/* Appends "; likely cause: TEXT" to the NUL-terminated text in buf (cap
 * bytes) when c names a cause and it fits whole; nothing otherwise. */
void sc_diagnose_append(char *buf, size_t cap, const struct sc_dx_cause *c);

/* The values of a whole register map: got (the served words, SC_REGMAP_WORDS
 * from SC_REGMAP_BASE) read in order, against want and prev (the oracle's
 * images; prev may be NULL). One value per register of the map; out holds
 * at least the map's count of definitions (sc_regmap_defs). Returns the
 * count written. */
size_t sc_dx_from_map(const uint16_t *got, const struct sc_regmap *want,
		      const struct sc_regmap *prev, enum sc_word_order order,
		      struct sc_dx_value *out);

/* One value of the map at addr (a definition's first register): served
 * from the words w read in order, want and prev as given (prev NAN when
 * unknown). False when addr is not in the map. */
bool sc_dx_register(uint16_t addr, const uint16_t w[2], enum sc_word_order order, double want,
		    double prev, struct sc_dx_value *out);

/* The numeric fields of a power_instant (want, the oracle's) with what got
 * served in got and the oracle's previous payload prev (may be NULL): one
 * value per number of want that got has as a number ("P", "l1.U"), ts left
 * out (a clock, not a measurement). At most cap written; returns the
 * count. */
size_t sc_dx_from_payload(const cJSON *want, const cJSON *got, const cJSON *prev,
			  struct sc_dx_value *out, size_t cap);

/* Did any numeric field but ts differ between two payloads? */
bool sc_dx_payload_moved(const cJSON *a, const cJSON *b);

#endif
