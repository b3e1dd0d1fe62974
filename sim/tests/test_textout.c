/* The generators' text writer: decimals as printf writes them, and a full
 * buffer remembered. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "textout.h"

static void check_uint(uint64_t v, int width)
{
	char got[64], want[64];
	struct sc_out w = {got, sizeof got, 0, false};
	sc_out_uint(&w, v, width);
	cr_assert(!w.full);
	got[w.len] = '\0';
	snprintf(want, sizeof want, "%0*llu", width, (unsigned long long)v);
	cr_assert_str_eq(got, want, "%llu width %d", (unsigned long long)v, width);
}

Test(textout, uint_as_printf_writes_it)
{
	for (uint64_t v = 0; v < 100000; v++)
		check_uint(v, (int)(v % 12));
	uint64_t x = 7;
	for (int i = 0; i < 100000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		check_uint(x >> (x % 64), (int)(x % 23));
	}
	check_uint(UINT64_MAX, 0);
	check_uint(UINT64_MAX, 20);
	check_uint(0, 20);
}

Test(textout, full_is_remembered)
{
	char buf[4];
	struct sc_out w = {buf, sizeof buf, 0, false};
	sc_out_uint(&w, 123, 0);
	cr_assert(!w.full);
	sc_out_uint(&w, 45, 0);
	cr_assert(w.full);
}
