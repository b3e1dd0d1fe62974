#include <criterion/criterion.h>
#include <string.h>

#include "civil.h"
#include "cursor.h"
#include "sc_error.h"

#define S(x) x, strlen(x)

Test(cursor, uint_accepts_digits_only)
{
	uint64_t v;
	cr_assert_eq(sc_parse_uint(S("00042"), 1000, &v), SC_OK);
	cr_assert_eq(v, 42);
	cr_assert_eq(sc_parse_uint(S(""), 1000, &v), SC_ERR_SYNTAX);
	cr_assert_eq(sc_parse_uint(S("4 2"), 1000, &v), SC_ERR_SYNTAX);
	cr_assert_eq(sc_parse_uint(S("-1"), 1000, &v), SC_ERR_SYNTAX);
	cr_assert_eq(sc_parse_uint(S("+1"), 1000, &v), SC_ERR_SYNTAX);
	cr_assert_eq(sc_parse_uint(S("1001"), 1000, &v), SC_ERR_RANGE);
	cr_assert_eq(sc_parse_uint(S("99999999999999999999"), UINT64_MAX, &v), SC_ERR_RANGE);
	cr_assert_eq(sc_parse_uint(S("18446744073709551615"), UINT64_MAX, &v), SC_ERR_RANGE);
}

Test(cursor, uint_reads_only_len_bytes)
{
	uint64_t v;
	cr_assert_eq(sc_parse_uint("12x", 2, 99, &v), SC_OK);
	cr_assert_eq(v, 12);
}

Test(cursor, decimal_values)
{
	double v;
	int frac;
	cr_assert_eq(sc_parse_decimal(S("001234.567"), &v, &frac), SC_OK);
	cr_assert_eq(v, 1234.567);
	cr_assert_eq(frac, 3);
	cr_assert_eq(sc_parse_decimal(S("237.1"), &v, NULL), SC_OK);
	cr_assert_eq(v, 237.1);
	cr_assert_eq(sc_parse_decimal(S("000"), &v, &frac), SC_OK);
	cr_assert_eq(v, 0.0);
	cr_assert_eq(frac, 0);
	cr_assert_eq(sc_parse_decimal(S("-2.5"), &v, NULL), SC_OK);
	cr_assert_eq(v, -2.5);
	cr_assert_eq(sc_parse_decimal(S(".5"), &v, NULL), SC_OK);
	cr_assert_eq(v, 0.5);
}

Test(cursor, decimal_rejects_malformed)
{
	double v;
	const char *bad[] = {"", "-", ".", "1.", "1.2.3", "1,5", "1e3", " 1", "1 ", "abc", "0x10"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_neq(sc_parse_decimal(S(bad[i]), &v, NULL), SC_OK, "'%s'", bad[i]);
	cr_assert_eq(sc_parse_decimal(S("1234567890123456789"), &v, NULL), SC_ERR_RANGE);
}

Test(cursor, hex16)
{
	uint16_t v;
	cr_assert_eq(sc_parse_hex16(S("BB3D"), &v), SC_OK);
	cr_assert_eq(v, 0xBB3D);
	cr_assert_eq(sc_parse_hex16(S("b9f"), &v), SC_OK);
	cr_assert_eq(v, 0xB9F);
	cr_assert_eq(sc_parse_hex16(S("12345"), &v), SC_ERR_RANGE);
	cr_assert_eq(sc_parse_hex16(S("G1"), &v), SC_ERR_SYNTAX);
	cr_assert_eq(sc_parse_hex16(S(""), &v), SC_ERR_SYNTAX);
}

Test(civil, epoch_round_trip_and_known_dates)
{
	struct sc_civil c = {2019, 3, 24, 14, 5, 19};
	cr_assert_eq(sc_civil_to_epoch(&c), 1553436319);
	for (int64_t t = -86400 * 400; t < 4102444800; t += 86400 * 37 + 3611) {
		struct sc_civil d;
		sc_epoch_to_civil(t, &d);
		cr_assert(sc_civil_valid(&d));
		cr_assert_eq(sc_civil_to_epoch(&d), t);
	}
}

Test(civil, validity)
{
	struct sc_civil leap = {2024, 2, 29, 0, 0, 0}, noleap = {2023, 2, 29, 0, 0, 0};
	struct sc_civil bad = {2063, 25, 25, 25, 25, 25};
	cr_assert(sc_civil_valid(&leap));
	cr_assert_not(sc_civil_valid(&noleap));
	cr_assert_not(sc_civil_valid(&bad));
}

Test(civil, eu_summer_time_switches)
{
	/* 2025: summer time from 30 March 01:00 UTC to 26 October 01:00 UTC. */
	cr_assert_not(sc_eu_summer_time(1743296399));
	cr_assert(sc_eu_summer_time(1743296400));
	cr_assert(sc_eu_summer_time(1761440399));
	cr_assert_not(sc_eu_summer_time(1761440400));
	cr_assert_not(sc_eu_summer_time(1735689600)); /* 1 January */
	cr_assert(sc_eu_summer_time(1751328000));     /* 1 July */
}

Test(str_copy, fits_cuts_and_terminates)
{
	char b[6];
	memset(b, 'x', sizeof b);
	cr_assert_eq(sc_str_copy(b, sizeof b, "abc"), 3);
	cr_assert_str_eq(b, "abc");
	/* Cut to cap - 1 bytes; the length returned tells it was cut. */
	memset(b, 'x', sizeof b);
	cr_assert_eq(sc_str_copy(b, sizeof b, "abcdefgh"), 8);
	cr_assert_str_eq(b, "abcde");
	cr_assert_eq(sc_str_copy(b, sizeof b, "abcdef"), 6);
	cr_assert_str_eq(b, "abcde");
	cr_assert_eq(sc_str_copy(b, sizeof b, "abcde"), 5);
	cr_assert_str_eq(b, "abcde");
	cr_assert_eq(sc_str_copy(b, sizeof b, NULL), 0);
	cr_assert_str_eq(b, "");
	cr_assert_eq(sc_str_copy(b, 1, "abc"), 3);
	cr_assert_str_eq(b, "");
}
