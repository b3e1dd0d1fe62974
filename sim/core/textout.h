/* A bounded text writer for the generators: appends to a caller's buffer and
 * remembers when something did not fit, so a long sequence of writes needs
 * one check at the end. No printf family, no locale. */
#ifndef SC_TEXTOUT_H
#define SC_TEXTOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_out {
	char *buf;  /* caller's buffer */
	size_t cap;
	size_t len;
	bool full;  /* something did not fit; the output is unusable */
};

void sc_out_mem(struct sc_out *w, const void *s, size_t n);
void sc_out_str(struct sc_out *w, const char *s);
void sc_out_ch(struct sc_out *w, char c);
/* Decimal, zero-padded to at least width digits. */
void sc_out_uint(struct sc_out *w, uint64_t v, int width);
/* Upper-case hexadecimal of exactly digits digits. */
void sc_out_hex(struct sc_out *w, uint64_t v, int digits);

#endif
