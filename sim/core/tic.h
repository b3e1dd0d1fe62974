/* TIC frames of Linky meters in standard mode (Enedis-NOI-CPT_54E V3):
 * incremental framer, group checker and the frame object model. No I/O, no
 * allocation. Used like the P1 parser (p1.h):
 *
 *   struct sc_tic_parser p = {0};
 *   used = sc_tic_feed(&p, buf, len, &res);  one event per call
 *   at end of stream: sc_tic_finish(&p, &res) until SC_TIC_NEED_MORE
 *
 * Pointers inside a result point into the parser and stay valid until the
 * next call on it. */
#ifndef SC_TIC_H
#define SC_TIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reading.h"

/* Largest frame accepted, STX to ETX. A mono producer frame is ~1.1 KB; a
 * three-phase producer with every optional group stays under 2 KB. */
#define SC_TIC_BUF_SIZE 4096
#define SC_TIC_MAX_GROUPS 96     /* groups kept per frame; more is an overflow */
#define SC_TIC_MAX_ERRORS 16     /* group errors detailed per frame (all are counted) */
/* Longest label: the V3 text says 8, but three-phase meters send the
 * 9-character SMAXSN1-1 .. SMAXSN3-1. */
#define SC_TIC_MAX_LABEL 9

enum sc_tic_event {
	SC_TIC_NEED_MORE = 0, /* input consumed, nothing complete yet */
	SC_TIC_FRAME,         /* complete frame, every group valid, decoded into .frame */
	SC_TIC_BAD_GROUPS,    /* complete frame with bad groups: rejected as a whole */
	SC_TIC_FRAMING,       /* frame interrupted (EOT, a new STX, end of input) */
	SC_TIC_OVERFLOW,      /* frame longer than SC_TIC_BUF_SIZE */
	SC_TIC_UNSUPPORTED,   /* historic mode, or a DSMR P1 telegram on a TIC input */
	SC_TIC_GARBAGE,       /* bytes outside any frame, skipped */
};

/* "need-more", "frame", "bad-groups", "framing", "overflow", "unsupported", "garbage". */
const char *sc_tic_event_name(enum sc_tic_event ev);

/* What is wrong with one group. */
enum sc_tic_group_error {
	SC_TIC_GE_CHECKSUM = 1, /* checksum character does not match */
	SC_TIC_GE_LENGTH,       /* data length not the label's (sc_tic_label_lookup) */
	SC_TIC_GE_SYNTAX,       /* missing HT or CR, empty label, bad horodate, bad value */
	SC_TIC_GE_BIT7,         /* a byte with bit 7 set: a parity problem on the line */
};
const char *sc_tic_group_error_name(enum sc_tic_group_error e);

struct sc_tic_error {
	enum sc_tic_group_error kind;
	/* Stream offset of the group's LF; for bytes outside any group (an
	 * STX with bit 7 set, bytes between groups) the offset of that byte. */
	uint64_t offset;
	/* As far as readable, NUL-terminated: the bytes before the first HT or
	 * SP, at most SC_TIC_MAX_LABEL, unprintable ones as '?'; "" when the
	 * error is outside any group. */
	char label[SC_TIC_MAX_LABEL + 1];
};

struct sc_tic_span {
	uint16_t off;
	uint16_t len;
};

/* Horodate SYYMMDDhhmmss. */
struct sc_tic_time {
	int64_t epoch;  /* UTC */
	bool set;
	char season;    /* 'H' winter (UTC+1), 'E' summer (UTC+2); lower case = meter clock
			 * degraded; ' ' = not applicable (TIC.md: DPM/FPM only, the
			 * parser rejects it on every other label) */
	bool degraded;  /* season in lower case: the meter's clock is degraded */
};

struct sc_tic_group {
	struct sc_tic_span label;
	struct sc_tic_span horodate; /* len 0 when the label has none */
	struct sc_tic_span data;     /* may be empty (DATE) */
};

/* STGE status register, decoded (TIC.md: bits). */
struct sc_tic_stge {
	uint32_t raw;
	bool producer;        /* bit 8 */
	bool injecting;       /* bit 9: active energy negative right now */
	bool standard_mode;   /* bit 17 */
	int supplier_index;   /* bits 10-13, + 1 */
	int distributor_index;/* bits 14-15, + 1 */
	int tempo_today;      /* bits 24-25: 0 none, 1 blue, 2 white, 3 red */
	int tempo_tomorrow;   /* bits 26-27 */
	bool clock_degraded;  /* bit 16 */
	int cutoff_state;     /* bits 1-3 */
};

struct sc_tic_num {
	uint32_t v;
	bool set;
};

struct sc_tic_frame {
	int ngroups;
	struct sc_tic_group g[SC_TIC_MAX_GROUPS];
	/* Known labels decoded; unknown ones are only in g[]. */
	struct sc_tic_span adsc, vtic, ngtf, ltarf, prm, msg1, msg2, pjourf1, ppointe;
	struct sc_tic_time date;
	struct sc_tic_num east, eait, easf[10], easd[4], erq[4];
	struct sc_tic_num irms[SC_PHASES], urms[SC_PHASES], umoy[SC_PHASES];
	struct sc_tic_num pref, pcoup, sinsts, sinsts_ph[SC_PHASES], sinsti;
	struct sc_tic_num smaxsn, smaxsn_ph[SC_PHASES], smaxsn1, smaxsn1_ph[SC_PHASES];
	struct sc_tic_num smaxin, smaxin1;
	struct sc_tic_num ccasn, ccasn1, ccain, ccain1, relais, ntarf, njourf, njourf1;
	bool has_stge;
	struct sc_tic_stge stge;
	/* Three-phase when the ADSC meter type says so (characters 5-6: 63, 71,
	 * 76) OR any three-phase-only label is present: IRMS2/3, URMS2/3,
	 * SINSTS1-3, SMAXSN1-3, SMAXSN1-1..SMAXSN3-1, UMOY2/3 (TIC.md table,
	 * "3P"). Either signal alone is enough: a meter type that is not a
	 * known three-phase one never hides phases the frame carries, and a
	 * three-phase type whose frame shows L1 only is still three-phase. It
	 * is decided per frame, on frames whose every group is valid only, so
	 * one bad group (a damaged IRMS2) never flips it: that frame is
	 * rejected as a whole and the good frames around it keep theirs. */
	bool three_phase;
	/* Pilot meter: ADSC type 67 or 68, or the SINST1 / SMAXN labels it
	 * sends in place of SINSTS / SMAXSN. */
	bool pilot;
};

/* Parser option (bit set in sc_tic_parser.flags): scan byte by byte only,
 * the reference the sixteen-bytes-at-a-time scans are tested against (the
 * same results, slower). */
#define SC_TIC_REFERENCE 0x1u

/* What a parser keeps of the last frame it checked, for the incremental
 * decode (tic_parse.c, "incremental decode"): the frame's bytes and, for
 * each of its good groups, where it lay and what decoding it did to the
 * frame model. A group of the next frame that is the same bytes at the same
 * place is taken from here instead of being checked and decoded again: the
 * results are the same as without (test_tic_fastpath.c, fuzz_tic). Owned
 * by the caller, who points sc_tic_parser.history at it before feeding;
 * zeroed is empty. About 14 KB, so that parsers that decode one frame a
 * second (the twin's devices) need not carry it. Everything is private. */
#define SC_TIC_MEMO_BYTES 40 /* decoded values one group sets, at most */
struct sc_tic_memo_group {
	uint16_t lf, cr;       /* the group's LF and CR in the frame */
	struct sc_tic_group g; /* as the frame lists it */
	uint8_t nset;          /* fields of the frame model it sets (0 to 2) */
	uint8_t used;          /* bytes of val in use */
	uint16_t set_off[2];   /* their offsets in struct sc_tic_frame */
	uint8_t set_len[2];    /* and sizes */
	unsigned char val[SC_TIC_MEMO_BYTES]; /* and what the group set them to */
};

struct sc_tic_history {
	size_t len;   /* bytes of the kept frame in buf; 0: none */
	int ngroups;  /* memos of its good groups in group[], in the order of their LFs */
	struct sc_tic_memo_group group[SC_TIC_MAX_GROUPS];
	uint64_t same[SC_TIC_BUF_SIZE / 64]; /* scratch: the bytes equal to buf's */
	/* By a group's LF offset, its memo's index (checked: may be stale). */
	uint8_t memo_at[SC_TIC_BUF_SIZE];
	char buf[SC_TIC_BUF_SIZE];
};

struct sc_tic_parser {
	unsigned flags;    /* SC_TIC_REFERENCE; set before feeding, kept by sc_tic_reset */
	/* NULL, or the caller's history: frames are then decoded against the
	 * last one (unless SC_TIC_REFERENCE). Kept by sc_tic_reset. */
	struct sc_tic_history *history;
	/* Everything below is private; zeroed state is valid. */
	int state;
	uint64_t pos;
	uint64_t start;
	uint64_t garbage;
	uint8_t sniff[8];
	int nsniff;
	uint64_t sniff_at;
	bool foreign_pending;
	bool stx_inside;   /* the last byte of the frame so far was an STX */
	bool stx_cr;       /* the last two bytes of the frame so far were STX CR */
	uint64_t stx7_at;  /* where an STX with bit 7 set was seen between frames */
	size_t len;
	char buf[SC_TIC_BUF_SIZE];
};

struct sc_tic_result {
	enum sc_tic_event event;
	uint64_t offset;      /* stream offset of the event's first byte (STX for frames) */
	uint64_t length;
	const char *raw;      /* frame bytes STX..ETX for FRAME and BAD_GROUPS */
	size_t raw_len;
	uint64_t error_offset;
	int nerrors;          /* group errors in the frame (all of them) */
	/* The same errors counted per kind (nchecksum + nlength + nsyntax +
	 * nbit7 == nerrors), for callers that sum them over a stream. */
	int nchecksum, nlength, nsyntax, nbit7;
	struct sc_tic_error errors[SC_TIC_MAX_ERRORS];
	char detail[160];
	struct sc_tic_frame frame; /* for SC_TIC_FRAME */
};

void sc_tic_reset(struct sc_tic_parser *p);
size_t sc_tic_feed(struct sc_tic_parser *p, const void *data, size_t len, struct sc_tic_result *res);
enum sc_tic_event sc_tic_finish(struct sc_tic_parser *p, struct sc_tic_result *res);

/* Standard-mode checksum of a group's bytes from the label through the HT
 * before the checksum: (sum & 0x3F) + 0x20. */
char sc_tic_checksum(const void *data, size_t len);

/* Parse a horodate of 13 characters. Returns SC_OK or SC_ERR_SYNTAX. */
int sc_tic_parse_time(const char *s, size_t len, struct sc_tic_time *t);

/* Decode an STGE value. */
struct sc_tic_stge sc_tic_decode_stge(uint32_t raw);

/* Data length TIC.md gives a known label, -1 when unknown (tic_labels.c). */
int sc_tic_label_length(const char *label, size_t len, bool *has_horodate);
/* The same, and the shortest data the parser accepts for it in *min_len
 * (may be NULL): the full length for numeric and code labels, 0 for the
 * text labels (NGTF, LTARF, MSG1, MSG2, PJOURF+1, PPOINTE), which field
 * meters send unpadded. A group's data is good when min_len <= length <=
 * the returned length (tic_labels.c holds the rule and its reasons). */
int sc_tic_label_lookup(const char *label, size_t len, bool *has_horodate, int *min_len);
/* The i-th known label (i from 0) with its length and horodate flag, NULL
 * past the last: lets tests hold the table against the spec both ways. */
const char *sc_tic_label_at(size_t i, int *len, bool *has_horodate);

/* The mapping rules from a TIC frame to the device's reading (tic_map.c). */
void sc_tic_to_reading(const struct sc_tic_frame *f, const char *raw, struct sc_reading *r);

#endif
