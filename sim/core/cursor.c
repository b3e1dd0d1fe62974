#include "cursor.h"

#include <stdbool.h>
#include <string.h>

#include "sc_error.h"

static const double pow10_table[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

double sc_pow10(int n)
{
	if (n >= 0 && n <= 22)
		return pow10_table[n];
	double v = 1.0;
	if (n > 0)
		while (n--)
			v *= 10.0;
	else
		while (n++)
			v /= 10.0;
	return v;
}

int sc_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	if (len == 0)
		return SC_ERR_SYNTAX;
	if (len > 19)
		return SC_ERR_RANGE;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return SC_ERR_SYNTAX;
		v = v * 10 + d;
	}
	if (v > max)
		return SC_ERR_RANGE;
	*out = v;
	return SC_OK;
}

double sc_decimal_value(int64_t mant, int exp10)
{
	/* One exact operation: 10^n is exact for n <= 22 and mant < 10^18, so
	 * "02.027" kW scaled by 10^3 gives exactly 2027, with no intermediate
	 * 2.027 that a double cannot hold. */
	if (exp10 >= 0)
		return (double)mant * sc_pow10(exp10);
	return (double)mant / sc_pow10(-exp10);
}

int sc_parse_decimal_prefix(const char *s, size_t len, double *out, int *frac, size_t *used)
{
	int64_t mant;
	int f;
	int rc = sc_parse_decimal_parts(s, len, &mant, &f, used);
	if (rc != SC_OK)
		return rc;
	*out = sc_decimal_value(mant, -f);
	if (frac)
		*frac = f;
	return SC_OK;
}

int sc_parse_decimal(const char *s, size_t len, double *out, int *frac)
{
	size_t used;
	int rc = sc_parse_decimal_prefix(s, len, out, frac, &used);
	if (rc == SC_OK && used != len)
		return SC_ERR_SYNTAX;
	return rc;
}

int sc_parse_hex16(const char *s, size_t len, uint16_t *out)
{
	if (len == 0 || len > 4)
		return len == 0 ? SC_ERR_SYNTAX : SC_ERR_RANGE;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10u;
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10u;
		else
			return SC_ERR_SYNTAX;
		v = v << 4 | d;
	}
	*out = (uint16_t)v;
	return SC_OK;
}

size_t sc_str_copy(char *dst, size_t cap, const char *src)
{
	size_t len = src ? strlen(src) : 0;
	size_t n = len < cap ? len : cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return len;
}
