/* The device's data model: one reading per telegram, whatever the meter
 * protocol. Every output of the device (Modbus register image, MQTT
 * power_instant, HTTP status) is a pure function of a reading.
 *
 * Quantities follow the device's power_instant payload (SMART-CONNECT.md §7)
 * and are kept in base units: W, Wh, var, varh, VA, V, A. A quantity the
 * telegram does not provide is absent, which is not the same as 0: MQTT sends
 * null for it, Modbus serves 0. */
#ifndef SC_READING_H
#define SC_READING_H

#include <stdbool.h>
#include <stdint.h>

/* Meter protocol flavour a reading (or a generator) speaks. */
enum sc_flavour {
	SC_FLAVOUR_UNKNOWN = 0,
	SC_FLAVOUR_DSMR42, /* NL DSMR 4.x: 10 s, no voltages, integer amperes */
	SC_FLAVOUR_DSMR50, /* NL DSMR 5.x (and other 5.0-style meters): 1 s */
	SC_FLAVOUR_EMUCS,  /* BE Fluvius e-MUCS: 1 s, 96.1.4 instead of 0.2.8 */
	SC_FLAVOUR_TIC,    /* FR Linky TIC standard mode */
};

/* Whole-meter quantities, in the order of the power_instant payload. */
enum sc_rq {
	SC_RQ_P,        /* W, active power, negative = export */
	SC_RQ_P_PLUS,   /* W, active power demand (import) */
	SC_RQ_P_MINUS,  /* W, active power delivery (export) */
	SC_RQ_E_IMPORT, /* Wh */
	SC_RQ_E_EXPORT, /* Wh */
	SC_RQ_U12,      /* V, line-to-line */
	SC_RQ_U31,
	SC_RQ_U32,
	SC_RQ_Q,        /* var */
	SC_RQ_Q_PLUS,
	SC_RQ_Q_MINUS,
	SC_RQ_EQ1,      /* varh, reactive energy per quadrant */
	SC_RQ_EQ2,
	SC_RQ_EQ3,
	SC_RQ_EQ4,
	SC_RQ_PF,       /* power factor, -1..1 */
	SC_RQ_S,        /* VA */
	SC_RQ_PFAIL,    /* count of power failures */
	SC_RQ_LPFAIL,   /* count of long power failures */
	SC_RQ_COUNT
};

/* Per-phase quantities (the l1, l2, l3 objects of power_instant). */
enum sc_pq {
	SC_PQ_U,       /* V */
	SC_PQ_I,       /* A */
	SC_PQ_P,       /* W, negative = export */
	SC_PQ_P_PLUS,  /* W */
	SC_PQ_P_MINUS, /* W */
	SC_PQ_Q,       /* var */
	SC_PQ_Q_PLUS,
	SC_PQ_Q_MINUS,
	SC_PQ_S,       /* VA */
	SC_PQ_VSAGS,   /* count */
	SC_PQ_VSWELLS, /* count */
	SC_PQ_COUNT
};

#define SC_PHASES 3

struct sc_opt {
	double v;
	bool set;
};

struct sc_reading {
	int64_t ts;        /* UTC epoch seconds of the measurement */
	bool ts_set;
	struct sc_opt q[SC_RQ_COUNT];
	struct sc_opt ph[SC_PHASES][SC_PQ_COUNT];

	/* Identity and context, not part of power_instant. */
	enum sc_flavour flavour;
	int version;         /* DSMR 42/50, e-MUCS 50217 ...; 0 unknown */
	char maker[4];       /* "ISK", "FLU", ...; NUL-terminated */
	char meter_id[48];   /* equipment id as sent (hex for P1), NUL-terminated */
	int tariff;          /* tariff indicator as sent, 0 if absent */
	int phases;          /* 1 or 3 as far as the telegram tells, 0 unknown */
	struct sc_opt gas_m3; /* M-Bus gas meter reading, m3 */
	int64_t gas_ts;
};

/* Key text of a quantity as in power_instant ("P", "P+", "E_IMPORT", ...). */
const char *sc_rq_name(enum sc_rq q);
const char *sc_pq_name(enum sc_pq q);
/* Lookup by key text; returns -1 when unknown. */
int sc_rq_from_name(const char *name);
int sc_pq_from_name(const char *name);

const char *sc_flavour_name(enum sc_flavour f);
/* "dsmr42", "dsmr50", "emucs", "tic"; returns SC_FLAVOUR_UNKNOWN otherwise. */
enum sc_flavour sc_flavour_from_name(const char *name);

static inline void sc_reading_set(struct sc_reading *r, enum sc_rq q, double v)
{
	r->q[q].v = v;
	r->q[q].set = true;
}

static inline void sc_reading_set_ph(struct sc_reading *r, int phase, enum sc_pq q, double v)
{
	r->ph[phase][q].v = v;
	r->ph[phase][q].set = true;
}

#endif
