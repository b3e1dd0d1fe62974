/* A meter byte stream of either protocol, P1 or TIC, behind one interface:
 * what the device does with a telegram does not depend on the protocol once
 * it is a reading. Wraps the P1 parser (p1.h) and the TIC parser (tic.h). */
#ifndef SC_TELEGRAM_H
#define SC_TELEGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "p1.h"
#include "reading.h"
#include "tic.h"

enum sc_protocol {
	SC_PROTO_AUTO = 0, /* decided by sc_protocol_detect on the first input */
	SC_PROTO_P1,
	SC_PROTO_TIC,
};

/* "auto", "p1", "tic"; lookup returns -1 when unknown. */
const char *sc_protocol_name(enum sc_protocol p);
int sc_protocol_from_name(const char *name);

/* The protocol the bytes look like: the first DSMR identification ('/'
 * followed by three letters and a digit) or TIC frame start (STX LF, or STX
 * CR LF as logs keep it, followed by a group's label and its HT or SP)
 * wins. SC_PROTO_AUTO when neither occurs (yet). */
enum sc_protocol sc_protocol_detect(const void *data, size_t len);

enum sc_tg_kind {
	SC_TG_NONE = 0, /* nothing complete yet */
	SC_TG_OK,       /* a telegram or frame that parsed: .reading is set */
	SC_TG_FAILED,   /* a telegram or frame that did not */
	SC_TG_GARBAGE,  /* bytes outside any telegram, skipped */
};

struct sc_tg_event {
	enum sc_tg_kind kind;
	const char *name;      /* the parser's event name: "telegram", "crc", "bad-groups" ... */
	uint64_t offset;       /* stream offset of the telegram (or garbage) */
	uint64_t length;
	uint64_t error_offset; /* where the fault was found */
	const char *raw;       /* the telegram's bytes when known; valid until the next call */
	size_t raw_len;
	char detail[512];
	/* TIC bad-groups: the bad groups by kind (checksum, length, syntax,
	 * bit 7: the parity of the 7E1 line); 0 otherwise. */
	int bad_checksum, bad_length, bad_syntax, bad_bit7;
	struct sc_reading reading;
};

/* An AUTO stream holds at most this many bytes while it cannot tell the
 * protocol; then it takes P1 (whose parser reports them as garbage). */
#define SC_TG_DETECT_MAX 8192

struct sc_tg_stream {
	enum sc_protocol proto; /* set before the first feed; AUTO detects */
	unsigned p1_flags;      /* SC_P1_NO_CRC, SC_P1_ANY_VERSION, SC_P1_STRICT */
	/* TIC: NULL, or a history the caller owns for the incremental decode
	 * (tic.h: struct sc_tic_history); may be set before any feed. */
	struct sc_tic_history *tic_history;
	/* P1: NULL, or a history the caller owns for decoding each telegram
	 * against the one before (p1.h: struct sc_p1_history); may be set
	 * before any feed. */
	struct sc_p1_history *p1_history;
	/* Private. */
	char *held;             /* AUTO: input seen while undecided, SC_TG_DETECT_MAX bytes */
	size_t held_len, held_pos;
	/* One parser at a time: a stream decides its protocol once. */
	union {
		struct {
			struct sc_p1_parser parser;
			struct sc_p1_result res;
		} p1;
		struct {
			struct sc_tic_parser parser;
			struct sc_tic_result res;
		} tic;
	} u;
};

/* Heap-allocated stream (the parsers' buffers make it large); NULL when out
 * of memory. sc_tg_stream_free(NULL) is safe. */
struct sc_tg_stream *sc_tg_stream_new(enum sc_protocol proto, unsigned p1_flags);
void sc_tg_stream_free(struct sc_tg_stream *s);

/* As sc_p1_feed / sc_tic_feed: returns bytes used, one event at most. An
 * AUTO stream decides on the first bytes that tell (sc_protocol_detect),
 * whatever the chunking; until then it holds what it got. A call may use 0
 * bytes when it reports an event: call again with the same data. */
size_t sc_tg_feed(struct sc_tg_stream *s, const void *data, size_t len, struct sc_tg_event *ev);
/* End of input: one event per call until SC_TG_NONE. */
enum sc_tg_kind sc_tg_finish(struct sc_tg_stream *s, struct sc_tg_event *ev);

#endif
