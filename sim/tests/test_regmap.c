/* The EMpro register image: addresses, float packing, word order, limits. */
#include <criterion/criterion.h>
#include <string.h>

#include "regmap.h"

Test(regmap, float_packing_word_order)
{
	uint16_t w[2];
	sc_float_to_words(123.456f, SC_WORDS_CDAB, w);
	cr_assert_eq(w[0], 0xE979);
	cr_assert_eq(w[1], 0x42F6);
	sc_float_to_words(123.456f, SC_WORDS_ABCD, w);
	cr_assert_eq(w[0], 0x42F6);
	cr_assert_eq(w[1], 0xE979);
	cr_assert_eq(sc_words_to_float(w, SC_WORDS_ABCD), 123.456f);
	sc_float_to_words(-1.0f, SC_WORDS_CDAB, w);
	cr_assert_eq(w[0], 0x0000);
	cr_assert_eq(w[1], 0xBF80);
	sc_float_to_words(0.0f, SC_WORDS_CDAB, w);
	cr_assert_eq(w[0] | w[1], 0);
}

Test(regmap, round_trip_many_values)
{
	uint32_t s = 7;
	for (int i = 0; i < 10000; i++) {
		s = s * 1664525u + 1013904223u;
		float v;
		memcpy(&v, &s, sizeof v);
		if (v != v)
			continue;
		uint16_t w[2];
		for (int o = 0; o < 2; o++) {
			sc_float_to_words(v, (enum sc_word_order)o, w);
			cr_assert_eq(sc_words_to_float(w, (enum sc_word_order)o), v);
		}
	}
}

static float at(const struct sc_regmap *m, unsigned addr, enum sc_word_order o)
{
	return sc_words_to_float(&m->w[addr - SC_REGMAP_BASE], o);
}

Test(regmap, values_land_at_their_addresses)
{
	struct sc_reading r;
	memset(&r, 0, sizeof r);
	sc_reading_set(&r, SC_RQ_P, -2601);
	sc_reading_set(&r, SC_RQ_P_PLUS, 0);
	sc_reading_set(&r, SC_RQ_P_MINUS, 2601);
	sc_reading_set(&r, SC_RQ_E_IMPORT, 6657459);
	sc_reading_set(&r, SC_RQ_E_EXPORT, 12);
	sc_reading_set(&r, SC_RQ_PF, -1);
	sc_reading_set(&r, SC_RQ_PFAIL, 5);
	sc_reading_set(&r, SC_RQ_EQ3, 160487);
	for (int ph = 0; ph < 3; ph++) {
		sc_reading_set_ph(&r, ph, SC_PQ_U, 230.0 + ph);
		sc_reading_set_ph(&r, ph, SC_PQ_I, 1.5 + ph);
		sc_reading_set_ph(&r, ph, SC_PQ_P, -100.0 * (ph + 1));
		sc_reading_set_ph(&r, ph, SC_PQ_P_MINUS, 100.0 * (ph + 1));
		sc_reading_set_ph(&r, ph, SC_PQ_VSAGS, ph);
	}
	struct sc_regmap m;
	sc_regmap_build(&m, &r, NULL);
	enum sc_word_order o = SC_WORDS_CDAB;
	cr_assert_eq(at(&m, 0x8006, o), 230.0f);
	cr_assert_eq(at(&m, 0x800A, o), 232.0f);
	cr_assert_eq(at(&m, 0x8010, o), 2.5f);
	cr_assert_eq(at(&m, 0x8016, o), -2601.0f);
	cr_assert_eq(at(&m, 0x801C, o), -1.0f);
	cr_assert_eq(at(&m, 0x8022, o), -300.0f);
	cr_assert_eq(at(&m, 0x8100, o), 6657459.0f);
	cr_assert_eq(at(&m, 0x8106, o), 12.0f);
	cr_assert_eq(at(&m, 0x8C14, o), 160487.0f);
	cr_assert_eq(at(&m, 0x8C1A, o), 1.0f);
	cr_assert_eq(at(&m, 0x8C24, o), 5.0f);
	cr_assert_eq(at(&m, 0x8C2A, o), 2601.0f);
	cr_assert_eq(at(&m, 0x8C36, o), 300.0f);
	/* Absent values and gaps read 0. */
	cr_assert_eq(at(&m, 0x801A, o), 0.0f);
	cr_assert_eq(m.w[0], 0);
	cr_assert_eq(m.w[0x8C37 - SC_REGMAP_BASE + 0], m.w[0x8C37 - SC_REGMAP_BASE]);

	struct sc_regmap_opts kwh = {SC_WORDS_ABCD, true};
	sc_regmap_build(&m, &r, &kwh);
	cr_assert_float_eq(at(&m, 0x8100, SC_WORDS_ABCD), 6657.459f, 1e-3);
	cr_assert_eq(at(&m, 0x8016, SC_WORDS_ABCD), -2601.0f, "only energy changes unit");
}

Test(regmap, before_first_telegram_all_zero)
{
	struct sc_regmap m;
	memset(&m, 0xAB, sizeof m);
	sc_regmap_build(&m, NULL, NULL);
	for (size_t i = 0; i < SC_REGMAP_WORDS; i++)
		cr_assert_eq(m.w[i], 0);
}

Test(regmap, read_limits_and_exceptions)
{
	struct sc_regmap m;
	uint16_t out[SC_MODBUS_MAX_READ];
	sc_regmap_build(&m, NULL, NULL);
	cr_assert_eq(sc_regmap_read(&m, 0x8000, 125, out), 0);
	cr_assert_eq(sc_regmap_read(&m, 0x8006, 30, out), 0);
	cr_assert_eq(sc_regmap_read(&m, 0x8C36, 2, out), 0);
	cr_assert_eq(sc_regmap_read(&m, 0x8C37, 1, out), 0);
	cr_assert_eq(sc_regmap_read(&m, 0x8C37, 2, out), 0x02);
	cr_assert_eq(sc_regmap_read(&m, 0x7FFF, 2, out), 0x02);
	cr_assert_eq(sc_regmap_read(&m, 0, 1, out), 0x02);
	cr_assert_eq(sc_regmap_read(&m, 0xFFFF, 1, out), 0x02);
	cr_assert_eq(sc_regmap_read(&m, 0x8000, 126, out), 0x03);
	cr_assert_eq(sc_regmap_read(&m, 0x8000, 0, out), 0x03);
}

Test(regmap, definitions_are_ordered_unique_and_named)
{
	size_t n;
	const struct sc_regdef *d = sc_regmap_defs(&n);
	cr_assert_eq(n, 49);
	for (size_t i = 0; i < n; i++) {
		cr_assert_geq(d[i].addr, SC_REGMAP_BASE);
		cr_assert_leq(d[i].addr + 2u, SC_REGMAP_END);
		if (i > 0)
			cr_assert_geq(d[i].addr, d[i - 1].addr + 2u, "overlap at %04X", d[i].addr);
		cr_assert_eq(sc_regmap_def_at(d[i].addr), &d[i]);
		cr_assert_eq(sc_regmap_def_named(d[i].name), &d[i]);
	}
	cr_assert_null(sc_regmap_def_at(0x8000));
	cr_assert_null(sc_regmap_def_named("nope"));
	cr_assert_str_eq(sc_regmap_def_at(0x800E)->name, "current_l1");
	cr_assert_str_eq(sc_regmap_def_at(0x801E)->name, "active_power_l1");
}
