/* TIC frame generator: a meter state (meter.h) printed byte-exact as a Linky
 * in standard mode would send it (Enedis-NOI-CPT_54E V3, TIC.md; layouts
 * copied from the captures in corpus/tic), mono or three-phase (m->phases),
 * consumer or producer, with a BASE, HC/HP or Tempo supplier calendar,
 * optionally with a fault, plus the reading the device's mapping
 * (sc_tic_to_reading) must produce from it. Pure: no I/O, no allocation, no
 * clock; the caller owns every buffer.
 *
 * Rules chosen here (TIC.md "Power semantics"):
 *   VA         per phase S = URMS x IRMS taken unrounded from the meter model
 *              (voltage x current, i.e. sqrt(P^2 + Q^2)), rounded to the VA.
 *              A phase that does not export counts as drawn: SINSTSn = S,
 *              else SINSTSn = 0 and S goes to SINSTI. SINSTS = sum of the
 *              printed SINSTSn (three-phase) or S of L1 (mono); SINSTI = sum
 *              of S over the exporting phases. A netting meter
 *              (SC_TIC_TOTAL_NET) nets the same per-phase values instead. IRMS and URMS are the same
 *              current and voltage rounded to the ampere and volt, so
 *              |SINSTSn - URMSn x IRMSn| <= URMSn / 2 + IRMSn / 2 + 2.
 *   consumer   a consumer-mode meter (producer = false) has no EAIT, ERQ,
 *              SINSTI, SMAXIN, CCAIN; while it exports it shows 0 VA drawn
 *              on the exporting phases (SINSTS 0 on mono), counts nothing
 *              for the export, and still sets STGE bit 9 (TIC.md: "set even
 *              on consumer-mode meters").
 *   STGE bit 9 set whenever the meter's net active power is negative.
 *   Tempo      colour per Tempo day (06:00-06:00) from the meter's seed
 *              (sc_meter_tempo_colour); HC 22:00-06:00. A Tempo day's colour
 *              is "announced" at 11:00 local the day before it starts: from
 *              06:00 to 11:00 STGE bits 26-27 and NJOURF+1 read 0, and
 *              PJOURF+1 (the next calendar day: 00:00-06:00 still today's
 *              Tempo day, then tomorrow's) shows a colour not announced yet
 *              as blue. NJOURF / NJOURF+1 carry the colour code (1 blue,
 *              2 white, 3 red) on Tempo, 00 on the other calendars.
 *   Registers  SMAXSN/SMAXIN (daily peaks), CCASN/CCAIN (30-minute load
 *              curve) and UMOY (10-minute mean voltage) come from the meter's
 *              French registers (meter.h), a peak never below the value
 *              shown in the same frame. PREF = PCOUP, seeded (kVA: mono 6, 9,
 *              12; three-phase 9, 12, 18, 36; big enough for an EV charger).
 *              STGE bit 7 when SINSTS > PREF x 1000, bit 6 when a URMS is
 *              above 253 V; bits 19-21 as in the captures (0x003A0000).
 *   Indexes    supplier EASFnn and distributor EASDnn are sums of the meter's
 *              French cells (meter.h), each cell truncated to the Wh, so
 *              EAST = sum EASF = sum EASD exactly and all are monotonic.
 *              BASE: EASF01 and EASD01 only. HC/HP: EASF01 = HC, 02 = HP.
 *              Tempo: EASF01/02 HC/HP blue, 03/04 white, 05/06 red.
 *              Distributor (HC/HP and Tempo): EASD01 HC low season
 *              (April-October), 02 HP low, 03 HC high (November-March), 04 HP
 *              high. ERQ1/ERQ4 are seeded fractions of EAST, ERQ2/ERQ3 of
 *              EAIT (reactive energy follows the active flow's direction).
 */
#ifndef SC_TIC_GEN_H
#define SC_TIC_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meter.h"
#include "reading.h"

/* A buffer of this size holds any frame sc_tic_gen writes (a three-phase
 * producer frame is ~1.4 KB), garbage and oversize faults included (an
 * oversize frame is at most SC_TIC_BUF_SIZE + 2048 + one padding group). */
#define SC_TIC_GEN_MAX 8192

enum sc_tic_fault {
	SC_TIC_FAULT_NONE,
	SC_TIC_FAULT_BAD_CHECKSUM, /* one group's checksum character is wrong */
	SC_TIC_FAULT_TRUNCATED,    /* cut inside a group (after its LF, before its
				    * CR), then EOT 0x04: no ETX */
	SC_TIC_FAULT_GARBAGE,      /* 1-64 bytes (NUL, printable, binary; never
				    * STX with or without bit 7, never '/', at
				    * least one not blank) before an intact frame */
	SC_TIC_FAULT_BAD_LENGTH,   /* one group's data one character too long or
				    * too short (a text label's, which may be
				    * short: too long only), with a checksum
				    * VALID for it */
	SC_TIC_FAULT_BIT7,         /* one byte of a group's label or data with bit 7
				    * set (checksum as sent before the fault) */
	SC_TIC_FAULT_HISTORIC,     /* a historic-mode frame of the same meter:
				    * LF label SP data SP checksum CR */
	SC_TIC_FAULT_OVERSIZE,     /* the standard frame with padding groups of an
				    * unknown label (SC_TIC_PAD_LABEL, 96 characters
				    * of data, checksums valid) before its ETX, until
				    * STX..ETX is 1-2048 bytes longer than the
				    * parser's SC_TIC_BUF_SIZE */
	SC_TIC_FAULT_COUNT
};

/* The label of the oversize fault's padding groups: no TIC label. */
#define SC_TIC_PAD_LABEL "XPADDING"

/* "none", "bad-checksum", "truncated", "garbage", "bad-length", "bit7",
 * "historic", "oversize"; "?" if unknown. */
const char *sc_tic_fault_name(enum sc_tic_fault f);
/* The fault of a name, or -1 when unknown. */
int sc_tic_fault_from_name(const char *name);

enum sc_tic_calendar {
	SC_TIC_CAL_BASE,  /* one index */
	SC_TIC_CAL_HCHP,  /* heures creuses 22:00-06:00 / heures pleines */
	SC_TIC_CAL_TEMPO, /* blue / white / red days x HC / HP */
	SC_TIC_CAL_COUNT
};

/* "base", "hchp", "tempo"; "?" if unknown. */
const char *sc_tic_calendar_name(enum sc_tic_calendar c);
/* The calendar of a name, or -1 when unknown. */
int sc_tic_calendar_from_name(const char *name);

/* How a three-phase meter makes its totals SINSTS / SINSTI from its phases
 * (the rule "VA" above; a single-phase meter is the same either way). */
enum sc_tic_total {
	SC_TIC_TOTAL_SUM, /* SINSTS = sum of the drawing phases' S, SINSTI = sum of
			   * the exporting phases' S (the default) */
	SC_TIC_TOTAL_NET, /* the phases netted, as real three-phase producers do
			   * (field: SINSTS 00013 while SINSTS2 00568): with N =
			   * the drawing phases' S minus the exporting phases' S,
			   * SINSTS = N and SINSTI = 0 when N >= 0, else SINSTS =
			   * 0 and SINSTI = -N (a consumer-mode meter shows no
			   * SINSTI). SINSTSn stay per phase, so SINSTS is not
			   * their sum while the phases flow both ways. */
	SC_TIC_TOTAL_COUNT
};

/* "sum", "net"; "?" if unknown. */
const char *sc_tic_total_name(enum sc_tic_total t);
/* The total rule of a name, or -1 when unknown. */
int sc_tic_total_from_name(const char *name);

struct sc_tic_gen_opts {
	bool producer;                /* producer mode: EAIT, ERQ, SINSTI, ... */
	enum sc_tic_calendar calendar;
	enum sc_tic_fault fault;
	uint64_t fault_seed;          /* which group, which byte, which garbage */
	enum sc_tic_total total;      /* three-phase totals: summed (0) or netted */
};

/* Write the frame of meter state m at m->t into buf (cap bytes). Returns the
 * number of bytes written (a NUL follows when there is room, not counted),
 * SC_ERR_RANGE when cap is too small, SC_ERR_INVAL for a calendar or fault
 * it cannot produce.
 *
 * expect (may be NULL) receives the reading sc_tic_to_reading must give for
 * this frame, computed from the generator's own quantised values. For the
 * garbage fault it is the reading of the frame after the garbage; for the
 * other faults, where a correct parser delivers no reading, it is the reading
 * of the standard frame as meant before the fault was applied. */
int sc_tic_gen(const struct sc_meter *m, const struct sc_tic_gen_opts *o, char *buf, size_t cap,
	       struct sc_reading *expect);

/* What a Linky with options o prints (meter.h, values set by hand): SINSTS
 * and SINSTSn 5 digits of VA, URMS and IRMS 3 digits of V and A, indexes 9
 * digits of Wh; no signed per-phase power (export is SINSTI, a producer's
 * only: a consumer meter shows none); its tariff follows the calendar; rated
 * 100 A like the P1 meters. */
void sc_tic_gen_limits(const struct sc_tic_gen_opts *o, struct sc_meter_limits *lim);

/* Line time (TIC.md "Line"): standard mode is 9600 baud 7E1, 10 bits a byte
 * on the wire (start, 7 data, parity, stop), so N bytes take N / 960 s: a
 * mono consumer frame (~865 bytes) 0.9 s, a three-phase producer frame
 * (~1442 bytes) 1.5 s. Pure arithmetic, no clock. */
#define SC_TIC_BAUD 9600
#define SC_TIC_BITS_PER_BYTE 10
/* Silence between two frames (TIC.md: 16.7-33.4 ms): the cadence uses the
 * longest, so a paced stream never runs ahead of what a Linky can send. */
#define SC_TIC_FRAME_SILENCE_US 33400

/* Milliseconds the frame_bytes bytes take on the line, rounded up to the
 * whole ms (INT64_MAX if that does not fit). */
int64_t sc_tic_line_ms(size_t frame_bytes);
/* Milliseconds from one frame's start to the next one's for a Linky sending
 * frames of frame_bytes bytes back to back: the line time plus
 * SC_TIC_FRAME_SILENCE_US, rounded up to the whole ms once (INT64_MAX if
 * that does not fit). */
int64_t sc_tic_cadence_ms(size_t frame_bytes);

#endif
