/* A seeded synthetic electricity meter (with its M-Bus gas meter) over an
 * injected clock: the physical quantities a P1 or TIC generator prints.
 *
 *   struct sc_meter m;
 *   struct sc_meter_config cfg = { .profile = SC_PROFILE_PV, .phases = 3,
 *                                  .seed = 42, .start = t0 };
 *   sc_meter_init(&m, &cfg);
 *   for (t = t0 + 1; ...; t++) { sc_meter_advance(&m, t); print(&m); }
 *
 * Protocol-neutral: no OBIS codes, no units other than SI-ish base units
 * (V, A, W, Wh, m3). Never reads a clock and never calls rand(): every value
 * is a pure function of the seed, the start time and the sequence of times
 * passed to sc_meter_advance, so the same seed and the same times give the
 * same meter, bit for bit, on every machine with IEEE doubles.
 *
 * Time zone: the households modelled live in NL/BE (the same rule holds for
 * FR): local time is CET/CEST by the EU rule of civil.h. Daily shapes,
 * tariffs, month boundaries and EV sessions follow local time.
 *
 * Energy model: between two calls of sc_meter_advance the instantaneous
 * values drawn at the earlier time are held, and energy is integrated from
 * them: per tariff register, delta Wh == net power * dt / 3600 with net power
 * = sum over phases of (import_w - export_w), booked as import when positive
 * and export when negative (the meter nets its phases, as Dutch and Belgian
 * meters do). Counters never go down. */
#ifndef SC_METER_H
#define SC_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sc_profile {
	SC_PROFILE_HOUSEHOLD, /* base load with a daily shape and appliance spikes */
	SC_PROFILE_PV,        /* household + solar panels (exports at midday) */
	SC_PROFILE_EV,        /* household + evening EV charging sessions */
	SC_PROFILE_PV_EV,     /* both */
	SC_PROFILE_COUNT
};

/* "household", "pv", "ev", "pv-ev"; "?" for an unknown value. */
const char *sc_profile_name(enum sc_profile p);
/* The profile of a name, or -1 when unknown. */
int sc_profile_from_name(const char *name);

#define SC_METER_PHASES 3
#define SC_METER_FAILLOG 10     /* long power failures remembered */
#define SC_METER_DEMAND_HIST 13 /* months of peak demand remembered */

struct sc_meter_config {
	enum sc_profile profile;
	int phases;          /* 1 or 3 (anything else is taken as 3) */
	uint64_t seed;
	int64_t start;       /* UTC epoch seconds of the first state */
	double import_wh;    /* initial import counter (both tariffs); 0 -> seeded plausible */
	double export_wh;    /* initial export counter; 0 -> seeded plausible (0 without PV) */
};

struct sc_meter_failure {
	int64_t end;         /* UTC epoch when the supply came back */
	int64_t duration_s;
};

/* Peak 15-minute average import demand of one month (Belgian capacity tariff). */
struct sc_meter_demand {
	int64_t month;       /* UTC epoch of local midnight on the 1st of the month AFTER
			      * the one measured (as e-MUCS 0-0:98.1.0 stamps it) */
	int64_t when;        /* end of the peak quarter hour; 0 = no peak recorded */
	double w;
};

/* Model parameters drawn from the seed at init; private to meter.c. */
struct sc_meter_model {
	double base_w;                 /* always-on load */
	double activity;               /* scale of the daily shape */
	double share[SC_METER_PHASES]; /* base-load share per phase */
	int appliance_phase[16];
	double pv_wp;                  /* 0 without PV */
	int pv_phase;                  /* -1: three-phase inverter */
	double ev_w;                   /* 0 without EV */
	double gas_k;                  /* m3/h per kelvin of heating demand */
	double v_offset[SC_METER_PHASES];
};

/* ---- French calendars (for the TIC generator, TIC.md) ----
 *
 * France keeps CET/CEST like NL/BE, so local time is the same. The registers
 * below are what a Linky keeps and prints; they stay protocol-neutral
 * quantities (Wh, VA, W, V) and are updated by sc_meter_advance with the
 * same held-value integration as the other counters.
 *
 *   HC (heures creuses, off-peak): 22:00-06:00 local every day, the Tempo
 *      off-peak hours and a common HC/HP contract's.
 *   Tempo day: from 06:00 local to 06:00 the next day; its colour is drawn
 *      from the seed (sc_meter_tempo_colour).
 *   Distributor (TURPE) season: high = November to March, low = April to
 *      October, by local calendar month.
 *
 * Import energy is booked into 12 cells (Tempo colour x season x HC/HP);
 * every calendar's supplier and distributor indexes are sums of cells, so
 * they stay mutually consistent and monotonic whatever calendar a generator
 * prints. The cells sum to import_wh[0] + import_wh[1] (up to rounding). */
enum sc_tempo_colour {
	SC_TEMPO_NONE = 0,  /* unknown (not announced yet); STGE code 0 */
	SC_TEMPO_BLUE = 1,
	SC_TEMPO_WHITE = 2,
	SC_TEMPO_RED = 3,
};

#define SC_METER_FR_CELLS 12

struct sc_meter_fr {
	double import_wh[SC_METER_FR_CELLS]; /* by sc_meter_fr_cell() */

	/* Daily peaks of apparent power (VA) since local midnight, sampled at
	 * every state: [0] the meter, [1..3] phases 1-3. "Drawn" sums the phases
	 * that import (export_w == 0), "injected" those that export
	 * (sc_meter_va, sc_meter_phase_exports). A time of 0 = no sample that day. */
	int64_t day;                                   /* local day of the peaks */
	double smax_drawn[1 + SC_METER_PHASES];
	int64_t smax_drawn_ts[1 + SC_METER_PHASES];
	double smax_drawn_prev[1 + SC_METER_PHASES];   /* the day before */
	int64_t smax_drawn_prev_ts[1 + SC_METER_PHASES];
	double smax_injected, smax_injected_prev;
	int64_t smax_injected_ts, smax_injected_prev_ts;

	/* Load curve: mean active power imported / exported (net of phases)
	 * over 30-minute periods aligned on the clock; [0] the last completed
	 * period, [1] the one before, each stamped with its end. */
	int64_t curve_start;
	double curve_import_wh, curve_export_wh;      /* current period so far */
	double curve_import_w[2], curve_export_w[2];
	int64_t curve_end[2];

	/* Mean voltage per phase over 10-minute periods aligned on the clock. */
	int64_t umoy_start;
	double umoy_vs[SC_METER_PHASES];              /* V x s, current period */
	double umoy[SC_METER_PHASES];                 /* last completed period */
	int64_t umoy_end;
};

/* ---- Values set by hand (sc-ctl set, POST /sim/v1/meter) ----
 *
 * A person (or a test) may hold some of the meter's quantities at chosen
 * values instead of the generated day. Keys, as sc-ctl and the control API
 * spell them:
 *   P            total active power, W; + import, - export
 *   l1.P..l3.P   one phase's active power, W, signed as P
 *   l1.I..l3.I   one phase's current, A: taken as the power U x I that
 *                phase imports at the voltage in force when it is set
 *   l1.U..l3.U   one phase's voltage, V
 *   E_IMPORT     total import energy, Wh (both tariff registers together)
 *   E_EXPORT     total export energy, Wh
 *   tariff       the tariff the meter prints (its own numbering: NL 1 low,
 *                2 normal; BE 1 day, 2 night)
 * Rules (the meter stays consistent whatever is held):
 *   - the phases always sum to the total: a P held alone is spread over
 *     the phases not held by their base-load shares (the model's split); a
 *     phase power held without P leaves the other phases generated;
 *     giving P releases the phase powers not given with it; holding every
 *     phase's power releases P (it becomes their sum);
 *   - a phase whose power is held draws I = |P| / U (power factor 1);
 *     a held voltage with a generated power keeps the generated apparent
 *     power, its current following the voltage;
 *   - energies are counters: a set value replaces the total (split over
 *     the tariff registers and the French cells in their present
 *     proportions), then they integrate from the values in force, as
 *     always (meter.h "Energy model");
 *   - a ramp moves one key linearly from FROM to TO over SECONDS of the
 *     meter's time (the device clock), then holds TO;
 *   - values hold until changed; sc_meter_set with .profile returns every
 *     key to the generated day (the counters keep what they counted).
 * A request that the meter cannot express (sc_meter_limits) changes
 * nothing: sc_meter_set answers SC_ERR_INVAL or SC_ERR_RANGE naming the key. */
enum sc_meter_key {
	SC_MK_P,
	SC_MK_L1_P, SC_MK_L2_P, SC_MK_L3_P,
	SC_MK_L1_I, SC_MK_L2_I, SC_MK_L3_I,
	SC_MK_L1_U, SC_MK_L2_U, SC_MK_L3_U,
	SC_MK_E_IMPORT, SC_MK_E_EXPORT,
	SC_MK_TARIFF,
	SC_MK_COUNT
};

/* "P", "l1.P", ... "tariff"; "?" if unknown. */
const char *sc_meter_key_name(enum sc_meter_key k);
/* The key of a name (exact spelling), or -1 when unknown. */
int sc_meter_key_from_name(const char *name);

/* What a meter can print (sc_p1_gen_limits, sc_tic_gen_limits): the widths
 * of its telegram's fields and its rating. */
struct sc_meter_limits {
	const char *meter;       /* for messages: "DSMR 5", "TIC" ... */
	double max_w;            /* |power|, total and per phase, W */
	double max_a;            /* current the meter is rated for, A */
	double a_step;           /* resolution of the current it prints, A */
	double max_v;            /* voltage field, V */
	double max_wh;           /* energy registers roll over here, Wh */
	bool phase_export;       /* a phase's power may be negative (not TIC) */
	bool export;             /* the meter shows export at all (not a consumer TIC) */
	bool tariff;             /* the tariff can be set (not TIC: its calendar) */
	bool tariff_inverted;    /* the meter prints our 1 as 2 (BE) */
};

/* One request. */
struct sc_meter_set {
	bool profile;                 /* back to the generated day (alone) */
	bool given[SC_MK_COUNT];
	double value[SC_MK_COUNT];
	bool ramp;                    /* one key from value[ramp_key] to ramp_to */
	enum sc_meter_key ramp_key;
	double ramp_to, ramp_s;
};

/* The held values; private to meter.c (zero = nothing held). */
struct sc_meter_hand {
	bool held[SC_MK_COUNT];       /* P, lN.P, lN.U, tariff (lN.I become lN.P) */
	double from[SC_MK_COUNT];     /* the value, or a ramp's start */
	double to[SC_MK_COUNT];       /* a ramp's end (= from when none) */
	int64_t t0[SC_MK_COUNT];      /* a ramp's start, meter time */
	double secs[SC_MK_COUNT];     /* a ramp's length; 0 = no ramp */
	bool manual[SC_METER_PHASES]; /* this phase's power is held or spread */
};

struct sc_meter {
	struct sc_meter_config cfg;
	int phases;                    /* 1 or 3 */
	int64_t t;                     /* UTC epoch of the values below */
	uint32_t serial;               /* manufacturing number, from the seed */

	/* Instantaneous values at t; phases past .phases read 0. */
	double voltage[SC_METER_PHASES]; /* V */
	double current[SC_METER_PHASES]; /* A, unsigned */
	double import_w[SC_METER_PHASES]; /* W; a phase either imports ... */
	double export_w[SC_METER_PHASES]; /* ... or exports, the other one is 0 */
	double gas_rate;                 /* m3/h */

	/* Tariff in force at t, Dutch numbering: 1 = low (23:00-07:00 local on
	 * weekdays, all of Saturday and Sunday), 2 = normal. A Belgian generator
	 * prints it the other way round (BE 1 = day = our 2, BE 2 = night = our 1). */
	int tariff;

	/* Counters, monotonic. Index 0 = tariff 1 (low), 1 = tariff 2 (normal). */
	double import_wh[2];
	double export_wh[2];
	double gas_m3;                   /* the gas meter's own register */
	uint32_t power_failures;         /* all failures */
	uint32_t long_power_failures;    /* longer than 3 minutes */
	uint32_t sags[SC_METER_PHASES];
	uint32_t swells[SC_METER_PHASES];
	int faillog_count;               /* entries in faillog, oldest first */
	struct sc_meter_failure faillog[SC_METER_FAILLOG];

	/* M-Bus captures of the gas register: DSMR 5 and e-MUCS gas meters
	 * report every 5 minutes, DSMR 4 ones every hour. */
	double gas_5min_m3;
	int64_t gas_5min_ts;             /* last multiple of 300 s <= t */
	double gas_hour_m3;
	int64_t gas_hour_ts;             /* last full hour <= t */

	/* Demand: average import over quarter hours aligned on the clock. */
	int64_t quarter_start;
	double quarter_wh;               /* import energy in the current quarter so far */
	double demand_avg_w;             /* running average of the current quarter at t */
	double demand_last_w;            /* average of the last completed quarter */
	double month_max_w;              /* this month's peak quarter */
	int64_t month_max_ts;            /* its end; 0 = none yet */
	int demand_hist_count;           /* oldest first */
	struct sc_meter_demand demand_hist[SC_METER_DEMAND_HIST];

	struct sc_meter_model model;

	/* French (Linky) registers, see "French calendars" above. */
	struct sc_meter_fr fr;

	/* Values set by hand, see above. */
	struct sc_meter_hand hand;
};

/* Start a meter at cfg->start with seeded counters and identity. */
void sc_meter_init(struct sc_meter *m, const struct sc_meter_config *cfg);

/* Move to time t (UTC epoch): integrate energy and gas from m->t to t with the
 * values held, count the rare events (failures, sags, swells) of the hours
 * crossed, then draw the instantaneous values at t. A t earlier than m->t is
 * ignored; t == m->t changes nothing. */
void sc_meter_advance(struct sc_meter *m, int64_t t);

/* Net active power at m->t in W: sum of import_w - export_w over phases. */
double sc_meter_net_w(const struct sc_meter *m);

/* Offset of local time (CET/CEST) from UTC at an epoch, in seconds. */
int64_t sc_meter_utc_offset(int64_t epoch);

/* UTC epoch of a local wall-clock time given as seconds since the local
 * epoch (local days * 86400 + seconds of the day); in the autumn overlap the
 * summer-time reading wins. */
int64_t sc_meter_local_to_utc(int64_t local);

/* French calendars (see above). */
bool sc_meter_fr_offpeak(int64_t t);      /* 22:00-06:00 local */
bool sc_meter_fr_high_season(int64_t t);  /* November-March, local date */
/* The Tempo day containing t, as local days since 1970-01-01 of the date on
 * which it starts (at 06:00 local). */
int64_t sc_meter_tempo_day(int64_t t);
/* Colour of a Tempo day, drawn from the seed like RTE's calendar: Sundays
 * blue; red only on weekdays November-March (about 20% of them); white on
 * about 14% of the non-Sundays; blue otherwise. Never SC_TEMPO_NONE. */
enum sc_tempo_colour sc_meter_tempo_colour(const struct sc_meter *m, int64_t tempo_day);
/* Cell of fr.import_wh for a colour (BLUE..RED), season and HC/HP. */
int sc_meter_fr_cell(enum sc_tempo_colour c, bool high_season, bool offpeak);

/* Apparent power of one phase (0-2) at m->t in VA: voltage x current; 0 past
 * m->phases. Counted as drawn when the phase does not export, else as
 * injected (TIC.md "Power semantics"). */
double sc_meter_va(const struct sc_meter *m, int phase);
bool sc_meter_phase_exports(const struct sc_meter *m, int phase);

/* Carry out a request at meter time now (the meter first advances to it):
 * every value checked against lim first, then held from now. Returns SC_OK,
 * or SC_ERR_INVAL / SC_ERR_RANGE with why naming the key ("l1.P: ...") and
 * the meter unchanged. */
int sc_meter_set(struct sc_meter *m, const struct sc_meter_set *req,
		 const struct sc_meter_limits *lim, int64_t now, char *why, size_t cap);

/* True while any value is held by hand. */
bool sc_meter_manual(const struct sc_meter *m);

#endif
