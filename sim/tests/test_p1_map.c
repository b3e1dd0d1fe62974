/* The mapping rules from P1 objects to the device reading (p1_map.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "p1_test_util.h"
#include "payload.h"

static struct recording *rec;

static void setup(void)
{
	rec = rec_new();
}

static void teardown(void)
{
	free(rec);
}

TestSuite(p1_map, .init = setup, .fini = teardown);

static const struct sc_reading *map(const char *body)
{
	char *t = tg_make("XMX5TEST", body);
	feed_checked(t, strlen(t), 0, rec);
	free(t);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM, "%s", rec->ev[0].detail);
	return &rec->ev[0].reading;
}

#define ASSERT_Q(r, qq, val) \
	do { \
		cr_assert((r)->q[qq].set, #qq " absent"); \
		cr_assert_float_eq((r)->q[qq].v, (val), 1e-9, #qq " = %g", (r)->q[qq].v); \
	} while (0)
#define ASSERT_PH(r, p, qq, val) \
	do { \
		cr_assert((r)->ph[p][qq].set, "l%d " #qq " absent", (p) + 1); \
		cr_assert_float_eq((r)->ph[p][qq].v, (val), 1e-9, "l%d " #qq, (p) + 1); \
	} while (0)

Test(p1_map, power_and_energy)
{
	const struct sc_reading *r = map("1-3:0.2.8(50)\r\n0-0:1.0.0(230724150730S)\r\n"
					 "1-0:1.8.1(000047.719*kWh)\r\n1-0:1.8.2(000125.921*kWh)\r\n"
					 "1-0:2.8.1(000401.829*kWh)\r\n1-0:2.8.2(000225.348*kWh)\r\n"
					 "1-0:1.7.0(00.000*kW)\r\n1-0:2.7.0(02.601*kW)\r\n");
	cr_assert(r->ts_set);
	cr_assert_eq(r->ts, 1690204050);
	ASSERT_Q(r, SC_RQ_P_PLUS, 0);
	ASSERT_Q(r, SC_RQ_P_MINUS, 2601);
	ASSERT_Q(r, SC_RQ_P, -2601);
	ASSERT_Q(r, SC_RQ_E_IMPORT, 173640);
	ASSERT_Q(r, SC_RQ_E_EXPORT, 627177);
	cr_assert_not(r->q[SC_RQ_Q].set);
	cr_assert_not(r->q[SC_RQ_U12].set);
	cr_assert_not(r->q[SC_RQ_S].set, "no phase powers, no S");
	ASSERT_Q(r, SC_RQ_PF, -1); /* P / sqrt(P^2 + Q^2), no Q sent */
}

Test(p1_map, total_is_never_added_to_its_tariffs)
{
	const struct sc_reading *r = map("1-0:1.8.0(000173.640*kWh)\r\n1-0:1.8.1(000047.719*kWh)\r\n"
					 "1-0:1.8.2(000125.921*kWh)\r\n1-0:1.8.3(000000.000*kWh)\r\n"
					 "1-0:1.8.4(000000.000*kWh)\r\n1-0:2.8.3(000001.000*kWh)\r\n"
					 "1-0:2.8.4(000002.000*kWh)\r\n");
	ASSERT_Q(r, SC_RQ_E_IMPORT, 173640);
	ASSERT_Q(r, SC_RQ_E_EXPORT, 3000);
}

Test(p1_map, absent_is_not_zero)
{
	const struct sc_reading *r = map("1-3:0.2.8(42)\r\n1-0:1.7.0(00.500*kW)\r\n");
	cr_assert(r->q[SC_RQ_P_PLUS].set);
	cr_assert_not(r->q[SC_RQ_P].set, "P needs both 1.7.0 and 2.7.0");
	cr_assert_not(r->q[SC_RQ_E_IMPORT].set);
	cr_assert_not(r->q[SC_RQ_PFAIL].set);
	for (int ph = 0; ph < 3; ph++)
		for (int q = 0; q < SC_PQ_COUNT; q++)
			cr_assert_not(r->ph[ph][q].set);
	cr_assert_not(r->ts_set);
	cr_assert_eq(r->phases, 0);
}

Test(p1_map, phases_counters_and_no_voltage_on_dsmr42)
{
	const struct sc_reading *r = map(
		"1-3:0.2.8(42)\r\n0-0:96.7.21(00015)\r\n0-0:96.7.9(00007)\r\n"
		"1-0:32.32.0(00001)\r\n1-0:52.32.0(00002)\r\n1-0:72.32.0(00003)\r\n"
		"1-0:32.36.0(00004)\r\n1-0:52.36.0(00005)\r\n1-0:72.36.0(00006)\r\n"
		"1-0:31.7.0(000*A)\r\n1-0:51.7.0(006*A)\r\n1-0:71.7.0(002*A)\r\n"
		"1-0:21.7.0(00.170*kW)\r\n1-0:22.7.0(00.000*kW)\r\n"
		"1-0:41.7.0(00.000*kW)\r\n1-0:42.7.0(01.247*kW)\r\n"
		"1-0:61.7.0(00.209*kW)\r\n1-0:62.7.0(00.000*kW)\r\n"
		"1-0:1.7.0(00.000*kW)\r\n1-0:2.7.0(00.868*kW)\r\n");
	ASSERT_Q(r, SC_RQ_PFAIL, 15);
	ASSERT_Q(r, SC_RQ_LPFAIL, 7);
	ASSERT_PH(r, 0, SC_PQ_VSAGS, 1);
	ASSERT_PH(r, 2, SC_PQ_VSWELLS, 6);
	ASSERT_PH(r, 1, SC_PQ_I, 6);
	ASSERT_PH(r, 0, SC_PQ_P, 170);
	ASSERT_PH(r, 1, SC_PQ_P, -1247);
	ASSERT_PH(r, 1, SC_PQ_P_MINUS, 1247);
	for (int ph = 0; ph < 3; ph++) {
		cr_assert_not(r->ph[ph][SC_PQ_U].set, "DSMR 4.2 has no voltages");
		cr_assert_not(r->ph[ph][SC_PQ_S].set);
		cr_assert_not(r->ph[ph][SC_PQ_Q].set);
	}
	/* S = sum |phase P| = 170 + 1247 + 209; PF = P / sqrt(P^2 + Q^2) with
	 * no Q sent: -1, however the phases share the load. */
	ASSERT_Q(r, SC_RQ_S, 1626);
	ASSERT_Q(r, SC_RQ_PF, -1);
	cr_assert_eq(r->phases, 3);
	cr_assert_eq(r->flavour, SC_FLAVOUR_DSMR42);
	cr_assert_eq(r->version, 42);
}

Test(p1_map, manual_example_exporting_meter)
{
	/* The power_instant example of the manual (smart-connect-manual-nl-v1.8
	 * §5.4, SMART-CONNECT.md §7), rebuilt as the telegram of an exporting
	 * three-phase DSMR meter without voltages. The manual prints P and P-
	 * as 4022.9999999999995, a double rounding of 4.023 kW x 1000; the twin
	 * scales exactly and says 4023. Every other value is the manual's. */
	const struct sc_reading *r = map(
		"1-3:0.2.8(42)\r\n0-0:1.0.0(260602122749S)\r\n"
		"1-0:1.8.1(028250.454*kWh)\r\n1-0:1.8.2(028250.455*kWh)\r\n"
		"1-0:2.8.1(012796.710*kWh)\r\n1-0:2.8.2(012796.711*kWh)\r\n"
		"1-0:1.7.0(00.000*kW)\r\n1-0:2.7.0(04.023*kW)\r\n"
		"0-0:96.7.21(00019)\r\n0-0:96.7.9(00004)\r\n"
		"1-0:32.32.0(00000)\r\n1-0:52.32.0(00001)\r\n1-0:72.32.0(00001)\r\n"
		"1-0:32.36.0(00000)\r\n1-0:52.36.0(00000)\r\n1-0:72.36.0(00000)\r\n"
		"1-0:31.7.0(011*A)\r\n1-0:51.7.0(004*A)\r\n1-0:71.7.0(001*A)\r\n"
		"1-0:21.7.0(00.000*kW)\r\n1-0:41.7.0(00.000*kW)\r\n1-0:61.7.0(00.000*kW)\r\n"
		"1-0:22.7.0(02.735*kW)\r\n1-0:42.7.0(00.959*kW)\r\n1-0:62.7.0(00.364*kW)\r\n");
	cr_assert(r->ts_set);
	cr_assert_eq(r->ts, 1780396069);
	cr_assert_eq(r->q[SC_RQ_P].v, -4023.0);
	cr_assert_eq(r->q[SC_RQ_P_PLUS].v, 0.0);
	cr_assert_eq(r->q[SC_RQ_P_MINUS].v, 4023.0);
	cr_assert_eq(r->q[SC_RQ_E_IMPORT].v, 56500909.0);
	cr_assert_eq(r->q[SC_RQ_E_EXPORT].v, 25593421.0);
	cr_assert_eq(r->q[SC_RQ_PFAIL].v, 19.0);
	cr_assert_eq(r->q[SC_RQ_LPFAIL].v, 4.0);
	cr_assert_eq(r->q[SC_RQ_S].v, 4058.0, "S = 2735 + 959 + 364");
	cr_assert_eq(r->q[SC_RQ_PF].v, -1.0, "PF = P / sqrt(P^2 + Q^2), Q absent");
	static const enum sc_rq set[] = {SC_RQ_P, SC_RQ_P_PLUS, SC_RQ_P_MINUS, SC_RQ_E_IMPORT,
					 SC_RQ_E_EXPORT, SC_RQ_PFAIL, SC_RQ_LPFAIL, SC_RQ_S,
					 SC_RQ_PF};
	for (int q = 0; q < SC_RQ_COUNT; q++) {
		bool want = false;
		for (size_t k = 0; k < sizeof set / sizeof set[0]; k++)
			want = want || set[k] == (enum sc_rq)q;
		cr_assert_eq(r->q[q].set, want, "%s %s", sc_rq_name((enum sc_rq)q),
			     want ? "absent" : "should be null");
	}
	static const double i[3] = {11, 4, 1}, pm[3] = {2735, 959, 364}, sags[3] = {0, 1, 1};
	for (int ph = 0; ph < 3; ph++) {
		const struct sc_opt *o = r->ph[ph];
		cr_assert(o[SC_PQ_I].set && o[SC_PQ_I].v == i[ph], "l%d.I", ph + 1);
		cr_assert(o[SC_PQ_P].set && o[SC_PQ_P].v == -pm[ph], "l%d.P", ph + 1);
		cr_assert(o[SC_PQ_P_PLUS].set && o[SC_PQ_P_PLUS].v == 0, "l%d.P+", ph + 1);
		cr_assert(o[SC_PQ_P_MINUS].set && o[SC_PQ_P_MINUS].v == pm[ph], "l%d.P-", ph + 1);
		cr_assert(o[SC_PQ_VSAGS].set && o[SC_PQ_VSAGS].v == sags[ph], "l%d.VSAGS", ph + 1);
		cr_assert(o[SC_PQ_VSWELLS].set && o[SC_PQ_VSWELLS].v == 0, "l%d.VSWELLS", ph + 1);
		static const enum sc_pq absent[] = {SC_PQ_U, SC_PQ_Q, SC_PQ_Q_PLUS, SC_PQ_Q_MINUS,
						    SC_PQ_S};
		for (size_t k = 0; k < sizeof absent / sizeof absent[0]; k++)
			cr_assert_not(o[absent[k]].set, "l%d.%s should be null", ph + 1,
				      sc_pq_name(absent[k]));
	}
	cr_assert_eq(r->phases, 3);

	/* And the payload: the manual's, printed compactly, with the phase
	 * keys l1..l3 (SMART-CONNECT.md §7 decision) and P, P- exact. */
	char json[4096];
	cr_assert_gt(sc_payload_power_instant_text(r, json, sizeof json), 0);
	cr_assert_str_eq(
		json,
		"{\"ts\":1780396069,\"P\":-4023,\"P+\":0,\"P-\":4023,\"E_IMPORT\":56500909,"
		"\"E_EXPORT\":25593421,\"U12\":null,\"U31\":null,\"U32\":null,"
		"\"l1\":{\"U\":null,\"I\":11,\"P\":-2735,\"P+\":0,\"P-\":2735,\"Q\":null,"
		"\"Q+\":null,\"Q-\":null,\"VSAGS\":0,\"VSWELLS\":0,\"S\":null},"
		"\"l2\":{\"U\":null,\"I\":4,\"P\":-959,\"P+\":0,\"P-\":959,\"Q\":null,"
		"\"Q+\":null,\"Q-\":null,\"VSAGS\":1,\"VSWELLS\":0,\"S\":null},"
		"\"l3\":{\"U\":null,\"I\":1,\"P\":-364,\"P+\":0,\"P-\":364,\"Q\":null,"
		"\"Q+\":null,\"Q-\":null,\"VSAGS\":1,\"VSWELLS\":0,\"S\":null},"
		"\"Q\":null,\"Q+\":null,\"Q-\":null,\"EQ1\":null,\"EQ2\":null,\"EQ3\":null,"
		"\"EQ4\":null,\"PFAIL\":19,\"LPFAIL\":4,\"PF\":-1,\"S\":4058}");
}

Test(p1_map, power_factor_from_active_and_reactive_power)
{
	/* PF = P / sqrt(P^2 + Q^2), Q = Q+ - Q- (0 when not sent). */
	const struct sc_reading *r = map("1-0:1.7.0(03.000*kW)\r\n1-0:2.7.0(00.000*kW)\r\n"
					 "1-0:3.7.0(04.000*kvar)\r\n1-0:4.7.0(00.000*kvar)\r\n");
	ASSERT_Q(r, SC_RQ_PF, 0.6);
	cr_assert_not(r->q[SC_RQ_S].set, "S needs phase powers");
	r = map("1-0:1.7.0(00.000*kW)\r\n1-0:2.7.0(03.000*kW)\r\n"
		"1-0:3.7.0(00.000*kvar)\r\n1-0:4.7.0(04.000*kvar)\r\n");
	ASSERT_Q(r, SC_RQ_PF, -0.6);
	r = map("1-0:1.7.0(00.000*kW)\r\n1-0:2.7.0(00.000*kW)\r\n"
		"1-0:3.7.0(00.500*kvar)\r\n1-0:4.7.0(00.000*kvar)\r\n");
	ASSERT_Q(r, SC_RQ_PF, 0);
	r = map("1-0:3.7.0(00.500*kvar)\r\n1-0:4.7.0(00.000*kvar)\r\n");
	cr_assert_not(r->q[SC_RQ_PF].set, "no P, no PF");
	r = map("1-0:1.7.0(00.000*kW)\r\n1-0:2.7.0(00.000*kW)\r\n"
		"1-0:3.7.0(00.000*kvar)\r\n1-0:4.7.0(00.000*kvar)\r\n");
	cr_assert_not(r->q[SC_RQ_PF].set, "P = Q = 0");
	r = map("1-0:1.7.0(00.100*kW)\r\n1-0:2.7.0(00.000*kW)\r\n1-0:3.7.0(00.500*kvar)\r\n");
	ASSERT_Q(r, SC_RQ_PF, 1); /* Q- not sent: Q absent, taken as 0 */
}

Test(p1_map, power_factor_does_not_depend_on_rounded_phase_powers)
{
	/* Phase powers rounded apart from the total: 0.378 kW total vs
	 * 45 + 10 + 322 = 377 W; S is their sum, PF comes from P and Q. */
	const struct sc_reading *r = map(
		"1-3:0.2.8(50)\r\n1-0:1.7.0(00.378*kW)\r\n1-0:2.7.0(00.000*kW)\r\n"
		"1-0:21.7.0(00.045*kW)\r\n1-0:22.7.0(00.000*kW)\r\n"
		"1-0:41.7.0(00.010*kW)\r\n1-0:42.7.0(00.000*kW)\r\n"
		"1-0:61.7.0(00.322*kW)\r\n1-0:62.7.0(00.000*kW)\r\n");
	ASSERT_Q(r, SC_RQ_S, 377);
	ASSERT_Q(r, SC_RQ_PF, 1);
}

Test(p1_map, zero_load_has_no_power_factor)
{
	const struct sc_reading *r = map("1-3:0.2.8(50)\r\n1-0:1.7.0(00.000*kW)\r\n"
					 "1-0:2.7.0(00.000*kW)\r\n1-0:21.7.0(00.000*kW)\r\n"
					 "1-0:22.7.0(00.000*kW)\r\n");
	ASSERT_Q(r, SC_RQ_S, 0);
	cr_assert_not(r->q[SC_RQ_PF].set);
	cr_assert_eq(r->phases, 1);
}

Test(p1_map, reactive_quantities_when_sent)
{
	const struct sc_reading *r = map("1-0:3.7.0(000000000*var)\r\n1-0:4.7.0(000000166*var)\r\n"
					 "1-0:5.8.0(000000.668*kvarh)\r\n1-0:6.8.0(000000.071*kvarh)\r\n"
					 "1-0:7.8.0(000160.487*kvarh)\r\n1-0:8.8.0(000143.346*kvarh)\r\n"
					 "1-0:23.7.0(00.010*kvar)\r\n1-0:24.7.0(00.004*kvar)\r\n");
	ASSERT_Q(r, SC_RQ_Q, -166);
	ASSERT_Q(r, SC_RQ_Q_MINUS, 166);
	ASSERT_Q(r, SC_RQ_EQ1, 668);
	ASSERT_Q(r, SC_RQ_EQ4, 143346);
	ASSERT_PH(r, 0, SC_PQ_Q, 6);
}

Test(p1_map, identity)
{
	const struct sc_reading *r = map("1-3:0.2.8(50)\r\n0-0:96.1.1(4530303434)\r\n"
					 "0-0:96.14.0(0002)\r\n1-0:32.7.0(230.0*V)\r\n");
	cr_assert_str_eq(r->maker, "XMX");
	cr_assert_str_eq(r->meter_id, "4530303434");
	cr_assert_eq(r->tariff, 2);
	cr_assert_eq(r->phases, 1);
	cr_assert_eq(r->flavour, SC_FLAVOUR_DSMR50);
}

Test(p1_map, long_equipment_id_is_truncated_safely)
{
	char body[256] = "1-3:0.2.8(50)\r\n0-0:96.1.1(";
	size_t n = strlen(body);
	memset(body + n, 'A', 96);
	strcpy(body + n + 96, ")\r\n");
	const struct sc_reading *r = map(body);
	cr_assert_eq(strlen(r->meter_id), sizeof r->meter_id - 1);
}

Test(p1_map, gas_by_device_type_and_only_in_m3)
{
	const struct sc_reading *r = map("1-3:0.2.8(50)\r\n0-0:1.0.0(230724150730S)\r\n"
					 "0-2:24.1.0(003)\r\n0-2:24.2.1(230724150500S)(01234.567*m3)\r\n");
	cr_assert(r->gas_m3.set);
	cr_assert_float_eq(r->gas_m3.v, 1234.567, 1e-9);
	rec->n = 0;
	r = map("1-3:0.2.8(50)\r\n0-0:1.0.0(230724150730S)\r\n"
		"0-1:24.1.0(003)\r\n0-1:24.2.1(230724150500S)(01234.567*kWh)\r\n");
	cr_assert_not(r->gas_m3.set, "a reading in kWh is not a gas volume");
}
