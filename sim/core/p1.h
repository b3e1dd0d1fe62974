/* P1 telegrams (DSMR 4.2/5.0, Fluvius e-MUCS): incremental framer, object
 * decoder and the telegram object model. No I/O, no allocation.
 *
 *   struct sc_p1_parser p = {0};           zeroed state is valid
 *   struct sc_p1_result res;
 *   while (len > 0) {
 *           size_t used = sc_p1_feed(&p, buf, len, &res);
 *           buf += used; len -= used;
 *           if (res.event != SC_P1_NEED_MORE) handle(&res);
 *   }
 *   at end of stream: while (sc_p1_finish(&p, &res) != SC_P1_NEED_MORE) handle(&res);
 *
 * Each call stops after at most one event, so every telegram and every error
 * is seen by the caller. Pointers inside a result point into the parser and
 * stay valid until the next call on that parser. */
#ifndef SC_P1_H
#define SC_P1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reading.h"

/* Largest telegram accepted, from '/' through the CRC digits. Real telegrams
 * run 400-1500 bytes; Belgian ones with a full 13-month 98.1.0 history and a
 * 1024-character text message stay well below this. */
#define SC_P1_BUF_SIZE 8192

/* Capacities of the object model; objects past them (and entries of a
 * failure log or demand history past its capacity) are counted in
 * sc_p1_telegram.dropped rather than failing the telegram. */
#define SC_P1_MAX_UNKNOWN 48   /* unknown objects kept as raw lines */
#define SC_P1_MAX_MBUS 4       /* M-Bus channels 1-4 */
#define SC_P1_MAX_FAILLOG 10   /* 99.97.0 entries kept */
#define SC_P1_MAX_DEMAND_HIST 13 /* 98.1.0 months kept (e-MUCS) */
#define SC_P1_MAX_TARIFFS 4    /* 1.8.1 .. 1.8.4 */

enum sc_p1_event {
	SC_P1_NEED_MORE = 0, /* input consumed, nothing complete yet */
	SC_P1_TELEGRAM,      /* complete telegram, CRC valid, decoded into .tg */
	SC_P1_CRC_MISMATCH,  /* complete telegram whose CRC does not match */
	SC_P1_FRAMING,       /* broken structure: truncated, missing or bad CRC line */
	SC_P1_OVERFLOW,      /* telegram longer than SC_P1_BUF_SIZE */
	SC_P1_UNSUPPORTED,   /* a meter older than DSMR 4.2 (the device rejects it),
			      * or a TIC frame on this P1 input */
	SC_P1_SYNTAX,        /* CRC valid but an object is malformed */
	SC_P1_GARBAGE,       /* bytes outside any telegram, skipped */
};

/* Short stable name of an event: "telegram", "crc", "framing", "overflow",
 * "unsupported", "syntax", "garbage", "need-more". */
const char *sc_p1_event_name(enum sc_p1_event ev);

/* Parser options (bit set in sc_p1_parser.flags). */
#define SC_P1_NO_CRC 0x1u      /* the meter sends no CRC: accept telegrams without one */
#define SC_P1_ANY_VERSION 0x2u /* decode telegrams older than DSMR 4.2 instead of rejecting */
/* Read objects as strictly as the tables say: a unit other than the one of
 * DSMR 5.0.2 table 6-3 / e-MUCS (spelt exactly), a value without unit, an
 * empty M-Bus device type 0-n:24.1.0() or a failure duration without *s
 * fail the telegram. Without it, unit names compare without case, the other
 * units the standards allow are read (kVA or A on the limiter 0-0:17.0.0),
 * a duration without unit is seconds, an empty device type is no device,
 * and an object that feeds no quantity every reading has (reactive power
 * and energy, limiter, fuse, demand, failure log) with a unit outside its
 * rule is set aside (sc_p1_telegram.set_aside) instead of failing the
 * telegram. */
#define SC_P1_STRICT 0x4u
#define SC_P1_REFERENCE 0x8u   /* decode by the general path alone, the byte-by-byte reference
				* the fast paths are tested against (same results, slower) */

/* A slice of the raw telegram. */
struct sc_span {
	uint16_t off;
	uint16_t len;
};

enum sc_unit {
	SC_UNIT_NONE = 0,
	SC_UNIT_WH,   /* kWh values are converted to Wh */
	SC_UNIT_W,    /* kW converted to W */
	SC_UNIT_VARH, /* kvarh converted */
	SC_UNIT_VAR,  /* kvar converted */
	SC_UNIT_VA,
	SC_UNIT_V,
	SC_UNIT_A,
	SC_UNIT_M3,
	SC_UNIT_GJ,
	SC_UNIT_S,
	SC_UNIT_HZ,
	SC_UNIT_OTHER,
};

/* A number as sent, converted to the base unit of its kind. */
struct sc_p1_val {
	double v;
	enum sc_unit unit;
	bool set;
};

/* A DSMR timestamp YYMMDDhhmmssX (X = S summer UTC+2, W winter UTC+1). */
struct sc_p1_time {
	int64_t epoch;    /* UTC */
	bool set;         /* a real time was sent */
	bool placeholder; /* a known filler: 000101000001, 632525252525,
			   * 700101010000, 000101010000 (a clock never set)
			   * or 000000000000 (S or W) */
	char dst;         /* 'S' or 'W' */
};

struct sc_p1_mbus {
	int channel;         /* 1..4; 0 = slot unused */
	int device_type;     /* 24.1.0: 3 gas, 4 heat, 7 water; -1 absent */
	struct sc_span id;   /* 96.1.0 / 96.1.1, hex as sent (sc_p1_hex_decode) */
	struct sc_p1_time reading_time;
	struct sc_p1_val reading; /* 24.2.1 (NL, corrected) or 24.2.3 (BE, not corrected) */
	bool corrected;
	int valve;           /* 24.4.0, -1 absent */
};

struct sc_p1_failure {
	struct sc_p1_time end;
	double duration_s;
};

struct sc_p1_demand {
	struct sc_p1_time month; /* start of the month */
	struct sc_p1_time when;  /* time of the peak */
	double w;
};

/* Every object of P1-DSMR.md decoded; anything else kept raw. */
struct sc_p1_telegram {
	struct sc_span header;   /* identification after '/', without CR LF */
	char maker[4];           /* first three characters of the header */
	int version;             /* 1-3:0.2.8, 0 absent */
	int emucs_version;       /* 0-0:96.1.4, 0 absent */
	bool has_crc;
	struct sc_p1_time time;  /* 0-0:1.0.0 */
	struct sc_span equipment_id; /* 0-0:96.1.1, hex as sent (sc_p1_hex_decode) */
	struct sc_p1_val import_total;  /* 1-0:1.8.0 */
	struct sc_p1_val export_total;  /* 1-0:2.8.0 */
	struct sc_p1_val import_tariff[SC_P1_MAX_TARIFFS]; /* 1-0:1.8.1 .. 1.8.4 */
	struct sc_p1_val export_tariff[SC_P1_MAX_TARIFFS]; /* 1-0:2.8.1 .. 2.8.4 */
	int tariff;              /* 0-0:96.14.0, 0 absent */
	struct sc_p1_val power_import;  /* 1-0:1.7.0 */
	struct sc_p1_val power_export;  /* 1-0:2.7.0 */
	struct sc_p1_val reactive_import; /* 1-0:3.7.0 */
	struct sc_p1_val reactive_export; /* 1-0:4.7.0 */
	struct sc_p1_val reactive_energy_quadrant[4]; /* 1-0:5.8.0 .. 8.8.0 */
	struct sc_p1_val power_failures;      /* 0-0:96.7.21 */
	struct sc_p1_val long_power_failures; /* 0-0:96.7.9 */
	int failure_log_count;   /* 1-0:99.97.0 count as sent, -1 absent */
	struct sc_p1_failure failure_log[SC_P1_MAX_FAILLOG];
	struct sc_p1_val sags[SC_PHASES];     /* 1-0:32/52/72.32.0 */
	struct sc_p1_val swells[SC_PHASES];   /* 1-0:32/52/72.36.0 */
	struct sc_span message;               /* 0-0:96.13.0, hex as sent */
	struct sc_span message_code;          /* 0-0:96.13.1 (DSMR 4) */
	struct sc_p1_val voltage[SC_PHASES];  /* 1-0:32/52/72.7.0 */
	struct sc_p1_val current[SC_PHASES];  /* 1-0:31/51/71.7.0 */
	struct sc_p1_val phase_import[SC_PHASES]; /* 1-0:21/41/61.7.0 */
	struct sc_p1_val phase_export[SC_PHASES]; /* 1-0:22/42/62.7.0 */
	struct sc_p1_val phase_reactive_import[SC_PHASES]; /* 1-0:23/43/63.7.0 */
	struct sc_p1_val phase_reactive_export[SC_PHASES]; /* 1-0:24/44/64.7.0 */
	/* e-MUCS (BE) */
	struct sc_p1_val demand_avg;          /* 1-0:1.4.0 */
	struct sc_p1_time demand_max_time;    /* 1-0:1.6.0 */
	struct sc_p1_val demand_max;
	int demand_hist_count;                /* 0-0:98.1.0 count, -1 absent */
	struct sc_p1_demand demand_hist[SC_P1_MAX_DEMAND_HIST];
	int breaker_state;                    /* 0-0:96.3.10, -1 absent */
	struct sc_p1_val limiter;             /* 0-0:17.0.0 */
	struct sc_p1_val fuse[SC_PHASES];     /* 1-0:31/51/71.4.0 */
	struct sc_p1_mbus mbus[SC_P1_MAX_MBUS];
	int objects;                          /* object lines decoded */
	int unknown_count;
	struct sc_span unknown[SC_P1_MAX_UNKNOWN]; /* whole raw lines */
	int dropped;                          /* objects past a capacity */
	int set_aside;                        /* known objects whose unit their rule
					       * does not allow, kept raw instead
					       * (SC_P1_STRICT) */
};

/* What the decoder keeps of the last telegram it decoded without error, to
 * decode the next one against it (p1_decode.c, "the history"): its bytes,
 * where each of its lines lies and how it was decoded, and the decoded
 * telegram. Owned by the caller, who passes it to sc_p1_decode_hist or
 * points sc_p1_parser.history at it; zeroed is empty, and a history holds
 * nothing of a stream but the telegrams decoded with it (one per stream:
 * the decode of each telegram depends on the one before only in speed).
 * About 13 KB, so that parsers that decode a telegram a second (the twin's
 * devices, the fleet) need not carry one. Everything is private. */
#define SC_P1_HIST_LINES 128
struct sc_p1_hist_line {
	uint16_t off, next, len; /* start, start of the next line, length without CR LF */
	uint8_t cls;             /* how its decode may be redone (p1_decode.c) */
	uint8_t ngroups;         /* its value groups (1 or 2; a failure log up to 22) */
	uint32_t key;
	struct sc_span g[2];
};

struct sc_p1_history {
	bool valid;              /* a telegram is kept */
	unsigned flags;          /* the flags it was decoded with */
	size_t len, bang, body;  /* its length, its '!', its first object line */
	unsigned nlines;
	unsigned skip, backoff;  /* telegrams not compared after one that did not decode against it */
	struct sc_p1_hist_line line[SC_P1_HIST_LINES];
	struct sc_p1_telegram tg;
	char raw[SC_P1_BUF_SIZE];
};

struct sc_p1_parser {
	unsigned flags;     /* SC_P1_NO_CRC, SC_P1_ANY_VERSION, SC_P1_STRICT; set before feeding */
	/* NULL, or the caller's history: telegrams are then decoded against the
	 * one before (sc_p1_decode_hist). Set before feeding; kept by
	 * sc_p1_reset. */
	struct sc_p1_history *history;
	/* Everything below is private. */
	int state;
	uint64_t pos;       /* stream offset of the next byte fed */
	uint64_t start;     /* stream offset of the current telegram or garbage */
	uint64_t garbage;   /* bytes of pending garbage */
	uint64_t stx_at;    /* stream offset of an STX that may start a TIC frame */
	int tic_label;      /* label characters seen after STX LF */
	size_t len;         /* bytes in buf (in a TIC frame: of a '/' header candidate) */
	int crc_digits;
	uint16_t crc_sent;
	char buf[SC_P1_BUF_SIZE];
};

struct sc_p1_result {
	enum sc_p1_event event;
	uint64_t offset;      /* stream offset of the first byte of the event */
	uint64_t length;      /* bytes the event covers */
	const char *raw;      /* the telegram's bytes '/'..last CRC digit (not for GARBAGE/OVERFLOW) */
	size_t raw_len;
	bool crc_present;
	uint16_t crc_sent;
	uint16_t crc_calc;
	uint64_t error_offset; /* stream offset where an error was found */
	char detail[160];     /* human-readable cause for errors */
	struct sc_p1_telegram tg; /* decoded for SC_P1_TELEGRAM */
};

/* Reset to the state of a zeroed parser, keeping flags. */
void sc_p1_reset(struct sc_p1_parser *p);

/* Consume up to len bytes; returns how many were used. res->event says what
 * completed (SC_P1_NEED_MORE when nothing did and all bytes were used). */
size_t sc_p1_feed(struct sc_p1_parser *p, const void *data, size_t len,
		  struct sc_p1_result *res);

/* End of stream: reports a telegram cut short or trailing garbage, one event
 * per call, then SC_P1_NEED_MORE. The parser is reset afterwards. */
enum sc_p1_event sc_p1_finish(struct sc_p1_parser *p, struct sc_p1_result *res);

/* Decode a framed telegram ('/' .. '!' [CRC]) into tg. Returns SC_OK,
 * SC_ERR_SYNTAX or SC_ERR_UNSUPPORTED (with SC_P1_ANY_VERSION unset), with the
 * cause in detail and its offset within raw in *err_off. */
int sc_p1_decode(const char *raw, size_t len, unsigned flags, struct sc_p1_telegram *tg,
		 size_t *err_off, char *detail, size_t detail_len);

/* As sc_p1_decode, against what history holds of the telegram decoded
 * before (NULL: exactly sc_p1_decode; with SC_P1_REFERENCE the history is
 * not used): a telegram laid out as that one is compared with it and only
 * its changed lines are read again (p1_decode.c, "the history"); the result,
 * errors and offsets included, is the same as sc_p1_decode's. A telegram
 * decoded without error is kept in history for the next. */
int sc_p1_decode_hist(const char *raw, size_t len, unsigned flags,
		      struct sc_p1_history *history, struct sc_p1_telegram *tg, size_t *err_off,
		      char *detail, size_t detail_len);

/* Text of a span of raw. */
static inline const char *sc_span_ptr(const char *raw, struct sc_span s)
{
	return raw + s.off;
}

/* Parse a DSMR timestamp of exactly 13 characters. Returns SC_OK for a real
 * date and time and for a known filler (t->placeholder set, t->set clear);
 * SC_ERR_SYNTAX for anything else, an impossible date included. */
int sc_p1_parse_time(const char *s, size_t len, struct sc_p1_time *t);

/* Decode the hex text of an octet string (equipment id, text message, M-Bus
 * id: DSMR 5.0.2 §6.4, "octet strings are hex-encoded") into out, followed
 * by a NUL. Returns the number of bytes decoded (len / 2; the bytes may hold
 * NULs), SC_ERR_SYNTAX for an odd length or a character that is not a hex
 * digit, SC_ERR_RANGE when out cannot hold len / 2 + 1 bytes. */
int sc_p1_hex_decode(const char *hex, size_t len, char *out, size_t cap);

/* The mapping rules from a decoded telegram to the device's reading; the one
 * place where P1 objects become power_instant quantities (see p1_map.c). */
void sc_p1_to_reading(const struct sc_p1_telegram *tg, const char *raw, struct sc_reading *r);

#endif
