/* Bounded number readers for untrusted text: every function reads exactly
 * the len bytes it is given (no NUL terminator needed, none read past) and
 * fails rather than guessing. The core's replacement for atoi/strtod/sscanf. */
#ifndef SC_CURSOR_H
#define SC_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sc_error.h"

/* Unsigned decimal integer of 1..19 digits, no sign, no spaces, <= max.
 * Returns SC_OK, SC_ERR_SYNTAX or SC_ERR_RANGE. */
int sc_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out);

/* Decimal number [-]digits[.digits] with at most 18 digits in all.
 * *frac receives the number of digits after the point (may be NULL).
 * The value is the digits as an integer divided by an exact power of ten,
 * so "001234.567" is the double nearest 1234.567. */
int sc_parse_decimal(const char *s, size_t len, double *out, int *frac);

/* The digits of a decimal number as an integer and the count of digits after
 * the point: "-001234.567" gives -1234567 and 3. Parses the longest number at
 * the start of s; *used tells where it ended. */
static inline int sc_parse_decimal_parts(const char *s, size_t len, int64_t *mant, int *frac,
					 size_t *used)
{
	size_t i = 0;
	bool neg = false;
	if (len > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	/* The integer digits, then the fraction's: two plain loops (every
	 * P1 value comes through here: inline for that). */
	uint64_t m = 0;
	unsigned d;
	size_t start = i;
	while (i < len && (d = (unsigned)(unsigned char)s[i] - '0') <= 9) {
		m = m * 10 + d;
		i++;
	}
	size_t digits = i - start, after = 0;
	bool point = i < len && s[i] == '.';
	if (point) {
		size_t fstart = ++i;
		while (i < len && (d = (unsigned)(unsigned char)s[i] - '0') <= 9) {
			m = m * 10 + d;
			i++;
		}
		after = i - fstart;
		digits += after;
	}
	if (digits > 18)
		return SC_ERR_RANGE;
	if (digits == 0 || (point && after == 0))
		return SC_ERR_SYNTAX;
	*mant = neg ? -(int64_t)m : (int64_t)m;
	*frac = (int)after;
	*used = i;
	return SC_OK;
}

/* mant x 10^exp10 as the nearest double, in one rounding. */
double sc_decimal_value(int64_t mant, int exp10);

/* The same for a number followed by other text: parses the longest number
 * at the start of s and tells in *used where it ended. */
int sc_parse_decimal_prefix(const char *s, size_t len, double *out, int *frac, size_t *used);

/* Hexadecimal of 1..4 digits, upper or lower case. */
int sc_parse_hex16(const char *s, size_t len, uint16_t *out);

/* Exact powers of ten 10^0 .. 10^22 as doubles. */
double sc_pow10(int n);

/* The bounded string copy: as much of src as fits in cap - 1 bytes, always
 * terminated (cap >= 1); NULL src copies "". Returns strlen(src), so a
 * result >= cap means the text was cut. */
size_t sc_str_copy(char *dst, size_t cap, const char *src);

#endif
