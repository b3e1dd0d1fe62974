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
