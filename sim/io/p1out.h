/* The P1 ext output (manual §2.1): the device repeats the meter's bytes,
 * unchanged, on its RJ12 output, so a second P1 reader keeps working. Here
 * a serial port or a pseudo-terminal written with the line settings of the
 * input. A port that cannot take bytes right now drops them (counted), as
 * a line driver does not wait for its listener; one that goes away is
 * reopened every second. */
#ifndef SC_P1OUT_H
#define SC_P1OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct sc_p1out;

/* path: a serial device or pty; tic: 9600 7E1 instead of 115200 8N1.
 * NULL with why when it cannot be opened at all. */
struct sc_p1out *sc_p1out_open(struct sc_loop *loop, const char *path, bool tic, char *why,
			       size_t cap);
void sc_p1out_close(struct sc_p1out *o);
void sc_p1out_write(struct sc_p1out *o, const void *data, size_t len);
uint64_t sc_p1out_sent(const struct sc_p1out *o);
uint64_t sc_p1out_dropped(const struct sc_p1out *o);

#endif
