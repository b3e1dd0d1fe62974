/* Meter captures as support engineers bring them: the raw bytes of a serial
 * port (`cat /dev/ttyUSB0 > capture.p1`), or the timestamped form below,
 * either possibly gzip-compressed. Loaded whole, then cut into telegrams by
 * the device's own parser (bytes between telegrams travel with the
 * telegram after them, so faults and garbage replay as they came).
 *
 * The timestamped form: a first line "# smartconnect-twin capture 1", then
 * one line per read, "<seconds> <hex bytes>", seconds (with a fraction)
 * since any origin (an epoch, the start of the recording), e.g.
 *   # smartconnect-twin capture 1
 *   0.000 2f49534b35...0d0a
 *   1.002 2f49534b35...0d0a
 * Lines starting with '#' are comments. */
#ifndef SC_CAPTURE_H
#define SC_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telegram.h"

#define SC_CAPTURE_MAGIC "# smartconnect-twin capture 1"

struct sc_capture_chunk {
	size_t off, len;     /* in data: a telegram and the bytes before it */
	bool ok;             /* the telegram parsed */
	int64_t ts;          /* its own timestamp (UTC epoch s), -1 when it has none */
	double line_time;    /* timestamped form: the read it began in; -1 otherwise */
};

struct sc_capture {
	char *data;          /* the byte stream, owned */
	size_t len;
	bool timestamped;
	bool gzipped;
	bool cut_short;      /* gzip stream without its end: read as far as it goes */
	enum sc_protocol proto;          /* as read (detected unless forced) */
	struct sc_capture_chunk *chunks; /* owned */
	size_t n;
	bool dsmr42;         /* a DSMR 4.x meter: 10 s cadence */
};

/* Loads path (at most max_bytes after decompression). proto AUTO detects.
 * Returns 0, or -1 with why ("capture.p1: line 3: not hex"). */
int sc_capture_load(const char *path, enum sc_protocol proto, unsigned p1_flags, size_t max_bytes,
		    struct sc_capture *c, char *why, size_t cap);
void sc_capture_free(struct sc_capture *c);

/* Records a meter line in the timestamped form: one line per read, written
 * through at once so that a recording cut short (power, kill) keeps every
 * read before it. A path ending in ".gz" is gzip-compressed (each read
 * flushed as a complete deflate block). */
struct sc_capture_writer;

/* NULL with why when the file cannot be created. */
struct sc_capture_writer *sc_capture_writer_open(const char *path, char *why, size_t cap);
/* A read of len bytes at t seconds (any origin: sc-sim writes the device
 * clock, UTC epoch). 0, or -1 with why (the writer stays usable). */
int sc_capture_writer_add(struct sc_capture_writer *w, double t, const void *data, size_t len,
			  char *why, size_t cap);
/* Reads recorded so far. */
unsigned long long sc_capture_writer_count(const struct sc_capture_writer *w);
/* Closes the file. 0, or -1 with why (the last reads may be lost). */
int sc_capture_writer_close(struct sc_capture_writer *w, char *why, size_t cap);

#endif
