/* power_instant JSON (SMART-CONNECT.md §7). */
#include <criterion/criterion.h>
#include <string.h>

#include "payload.h"
#include "sc_error.h"

Test(payload, keys_order_and_nulls)
{
	struct sc_reading r;
	memset(&r, 0, sizeof r);
	r.ts = 1553436319;
	r.ts_set = true;
	sc_reading_set(&r, SC_RQ_P, -378);
	sc_reading_set(&r, SC_RQ_E_IMPORT, 6657459);
	sc_reading_set_ph(&r, 0, SC_PQ_U, 237.1);
	sc_reading_set_ph(&r, 2, SC_PQ_I, 0.86);
	char buf[2048];
	int n = sc_payload_power_instant_text(&r, buf, sizeof buf);
	cr_assert_gt(n, 0);
	/* The manual's key order (§5.4 example). */
	cr_assert_str_eq(buf,
		"{\"ts\":1553436319,\"P\":-378,\"P+\":null,\"P-\":null,\"E_IMPORT\":6657459,"
		"\"E_EXPORT\":null,\"U12\":null,\"U31\":null,\"U32\":null,"
		"\"l1\":{\"U\":237.1,\"I\":null,\"P\":null,\"P+\":null,\"P-\":null,\"Q\":null,"
		"\"Q+\":null,\"Q-\":null,\"VSAGS\":null,\"VSWELLS\":null,\"S\":null},"
		"\"l2\":{\"U\":null,\"I\":null,\"P\":null,\"P+\":null,\"P-\":null,\"Q\":null,"
		"\"Q+\":null,\"Q-\":null,\"VSAGS\":null,\"VSWELLS\":null,\"S\":null},"
		"\"l3\":{\"U\":null,\"I\":0.86,\"P\":null,\"P+\":null,\"P-\":null,\"Q\":null,"
		"\"Q+\":null,\"Q-\":null,\"VSAGS\":null,\"VSWELLS\":null,\"S\":null},"
		"\"Q\":null,\"Q+\":null,\"Q-\":null,\"EQ1\":null,\"EQ2\":null,\"EQ3\":null,"
		"\"EQ4\":null,\"PFAIL\":null,\"LPFAIL\":null,\"PF\":null,\"S\":null}");
	cr_assert_eq((size_t)n, strlen(buf));
}

Test(payload, small_buffer_is_an_error)
{
	struct sc_reading r;
	memset(&r, 0, sizeof r);
	char buf[64];
	cr_assert_eq(sc_payload_power_instant_text(&r, buf, sizeof buf), SC_ERR_RANGE);
	cr_assert_eq(sc_payload_power_instant_text(&r, buf, 0), SC_ERR_RANGE);
}

Test(payload, parse_is_the_inverse)
{
	struct sc_reading r, back;
	memset(&r, 0, sizeof r);
	r.ts = 42;
	r.ts_set = true;
	for (int q = 0; q < SC_RQ_COUNT; q += 2)
		sc_reading_set(&r, (enum sc_rq)q, q * 1.25 - 3);
	for (int ph = 0; ph < 3; ph++)
		for (int q = ph; q < SC_PQ_COUNT; q += 3)
			sc_reading_set_ph(&r, ph, (enum sc_pq)q, q * 10.5 + ph);
	cJSON *o = sc_payload_power_instant(&r);
	cr_assert_not_null(o);
	char *text = cJSON_PrintUnformatted(o);
	cJSON *parsed = cJSON_Parse(text);
	cr_assert_eq(sc_payload_parse_power_instant(parsed, &back), SC_OK);
	cr_assert_eq(memcmp(&r.q, &back.q, sizeof r.q), 0);
	cr_assert_eq(memcmp(&r.ph, &back.ph, sizeof r.ph), 0);
	cr_assert_eq(back.ts, 42);
	cJSON_Delete(o);
	cJSON_Delete(parsed);
	cJSON_free(text);
}

Test(payload, parse_rejects_wrong_types)
{
	struct sc_reading r;
	const char *bad[] = {"[]", "{\"P\":\"12\"}", "{\"ts\":true}", "{\"l1\":5}",
			     "{\"l2\":{\"U\":[1]}}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *o = cJSON_Parse(bad[i]);
		cr_assert_not_null(o);
		cr_assert_eq(sc_payload_parse_power_instant(o, &r), SC_ERR_INVAL, "%s", bad[i]);
		cJSON_Delete(o);
	}
}

/* The text is written straight for speed; it is the text cJSON prints
 * from the object, for values of every kind: integers, decimals, negative,
 * huge, tiny, beyond an int, missing. */
Test(payload, text_is_what_cjson_prints)
{
	static const double values[] = {0, 1, -1, 230.1, 0.86, -378, 6657459, 2147483647.0,
					2147483648.0, -2147483648.0, -2147483649.0, 1e15, 1e-7,
					0.1 + 0.2, 123456.789, 4294967296.5, 3.0e300, -0.5, 49.99};
	const size_t nv = sizeof values / sizeof values[0];
	uint64_t x = 12345;
	for (int round = 0; round < 2000; round++) {
		struct sc_reading r;
		memset(&r, 0, sizeof r);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		r.ts_set = (x >> 60) != 0;
		r.ts = (int64_t)(x >> 33);
		for (int q = 0; q < SC_RQ_COUNT; q++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			if ((x >> 62) != 0)
				sc_reading_set(&r, (enum sc_rq)q, values[(x >> 40) % nv] * (double)((x >> 20) % 7 + 1));
		}
		for (int ph = 0; ph < SC_PHASES; ph++)
			for (int q = 0; q < SC_PQ_COUNT; q++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				if ((x >> 61) != 0)
					sc_reading_set_ph(&r, ph, (enum sc_pq)q, values[(x >> 40) % nv] / 3.0);
			}
		char fast[4096], slow[4096];
		int n = sc_payload_power_instant_text(&r, fast, sizeof fast);
		cJSON *o = sc_payload_power_instant(&r);
		cr_assert(o && cJSON_PrintPreallocated(o, slow, sizeof slow - 5, false));
		cJSON_Delete(o);
		cr_assert_gt(n, 0);
		cr_assert_str_eq(fast, slow, "round %d", round);
	}
}

/* Numbers one at a time, as a meter sends them (k / 10^p for every p up to
 * 9, both signs, from 1e-5 to beyond 1e15) and values that are no short
 * decimal (thirds, sums that do not round-trip, subnormal, -0): each is
 * the text cJSON prints for it. */
Test(payload, number_text_is_what_cjson_prints)
{
	uint64_t x = 99;
	int checked = 0;
	for (int round = 0; round < 200000; round++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		int p = (int)((x >> 8) % 12);
		double scale = 1;
		for (int k = 0; k < p; k++)
			scale *= 10;
		double k = (double)((x >> 16) % (round % 3 == 0 ? 100000ull : 10000000000000000ull));
		double v = k / scale;
		switch (round % 7) {
		case 4: v = 1.0 / (double)((x >> 40) % 97 + 3); break;
		case 5: v = v + 0.1 + 0.2; break;
		case 6: v = v * 1e-6; break;
		default: break;
		}
		if ((x >> 63) != 0)
			v = -v;
		if (round == 0)
			v = -0.0;
		if (round == 1)
			v = 5e-324;
		struct sc_reading r;
		memset(&r, 0, sizeof r);
		sc_reading_set(&r, SC_RQ_P, v);
		char fast[4096], slow[4096];
		cr_assert_gt(sc_payload_power_instant_text(&r, fast, sizeof fast), 0);
		cJSON *o = sc_payload_power_instant(&r);
		cr_assert(o && cJSON_PrintPreallocated(o, slow, sizeof slow - 5, false));
		cJSON_Delete(o);
		cr_assert_str_eq(fast, slow, "value %.17g: %s against %s", v, fast, slow);
		checked++;
	}
	cr_assert_eq(checked, 200000);
}

/* Firmware before 5.1 sent E_IMPORT and E_EXPORT in kWh (the manual's
 * footnote in §5.4, as on the registers in §5.3); nothing else changes. */
Test(payload, energy_in_kwh_before_firmware_5_1)
{
	struct sc_reading r;
	memset(&r, 0, sizeof r);
	r.ts = 1780396069;
	r.ts_set = true;
	sc_reading_set(&r, SC_RQ_P, -4023);
	sc_reading_set(&r, SC_RQ_E_IMPORT, 56500909);
	sc_reading_set(&r, SC_RQ_E_EXPORT, 25593421);
	sc_reading_set(&r, SC_RQ_EQ1, 1500);
	sc_reading_set_ph(&r, 0, SC_PQ_P, -2735);
	const struct sc_payload_opts kwh = {true}, wh = {false};
	char a[2048], b[2048], c[2048];
	cr_assert_gt(sc_payload_power_instant_text_as(&r, &kwh, a, sizeof a), 0);
	cr_assert_gt(sc_payload_power_instant_text_as(&r, &wh, b, sizeof b), 0);
	cr_assert_gt(sc_payload_power_instant_text(&r, c, sizeof c), 0);
	cr_assert_str_eq(b, c, "5.1 and later: Wh, as without options");
	cr_assert(strstr(a, "\"E_IMPORT\":56500.909,\"E_EXPORT\":25593.421,"), "%s", a);
	cr_assert(strstr(b, "\"E_IMPORT\":56500909,\"E_EXPORT\":25593421,"), "%s", b);
	cr_assert(strstr(a, "\"P\":-4023,") && strstr(a, "\"EQ1\":1500,"), "%s", a);
	cr_assert(strstr(a, "\"l1\":{\"U\":null,\"I\":null,\"P\":-2735,"), "%s", a);
	/* The reading itself is left as it was. */
	cr_assert_eq(r.q[SC_RQ_E_IMPORT].v, 56500909);
	/* The cJSON form, and absent energy stays null. */
	cJSON *o = sc_payload_power_instant_as(&r, &kwh);
	cr_assert_not_null(o);
	cr_assert_float_eq(cJSON_GetObjectItem(o, "E_EXPORT")->valuedouble, 25593.421, 1e-9);
	cJSON_Delete(o);
	r.q[SC_RQ_E_EXPORT].set = false;
	o = sc_payload_power_instant_as(&r, &kwh);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "E_EXPORT")));
	cJSON_Delete(o);
	cr_assert_gt(sc_payload_power_instant_text_as(&r, NULL, c, sizeof c), 0);
	cr_assert(strstr(c, "\"E_IMPORT\":56500909,"), "NULL options: Wh");
}
