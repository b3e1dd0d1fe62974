/* How the scenario runner compares what a device serves with the oracle
 * (compare.h): float32 rounding of MQTT values, every field of a
 * power_instant compared and listed, ts from the meter or the unit's own
 * clock, and lists of differences that never cut an item. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"

Test(f32, equal_when_both_round_to_the_same_float32)
{
	/* A unit holding 0.58 as float32 serves 0.579999983310699. */
	cr_assert(sc_cmp_f32(0.58, 0.579999983310699));
	cr_assert(sc_cmp_f32(0.58, (double)0.58f));
	cr_assert(sc_cmp_f32(230.1, (double)230.1f));
	cr_assert(sc_cmp_f32(19064.85, (double)19064.85f));
	cr_assert(sc_cmp_f32(0, 0));
	cr_assert(sc_cmp_f32(-1500.25, (double)-1500.25f));
}

Test(f32, within_one_float32_step_passes_two_do_not)
{
	float w = 1234.5678f;
	double up1 = (double)nextafterf(w, INFINITY);
	double up2 = (double)nextafterf(nextafterf(w, INFINITY), INFINITY);
	double down1 = (double)nextafterf(w, -INFINITY);
	double down2 = (double)nextafterf(nextafterf(w, -INFINITY), -INFINITY);
	cr_assert(sc_cmp_f32((double)w, up1));
	cr_assert(sc_cmp_f32((double)w, down1));
	cr_assert_not(sc_cmp_f32((double)w, up2));
	cr_assert_not(sc_cmp_f32((double)w, down2));
}

Test(f32, real_differences_fail)
{
	cr_assert_not(sc_cmp_f32(0.58, 0.59));
	cr_assert_not(sc_cmp_f32(230, 231));
	cr_assert_not(sc_cmp_f32(1500, -1500));
	cr_assert_not(sc_cmp_f32(1000, 1)); /* kWh for Wh */
	cr_assert_not(sc_cmp_f32(0.58, NAN));
	cr_assert_not(sc_cmp_f32(NAN, NAN));
	cr_assert_not(sc_cmp_f32(1e300, 1e301)); /* both infinite as float32: not a value */
	cr_assert(sc_cmp_f32(INFINITY, INFINITY));
}

Test(list, items_are_whole_and_the_rest_counted)
{
	char buf[64];
	struct sc_list l;
	sc_list_init(&l, buf, sizeof buf);
	cr_assert_str_eq(buf, "");
	for (int i = 0; i < 10; i++) {
		char item[32];
		snprintf(item, sizeof item, "l%d.P -1.594851e-38", i);
		sc_list_add(&l, item);
	}
	sc_list_end(&l);
	cr_assert_lt(strlen(buf), sizeof buf);
	cr_assert_eq(l.n + l.more, 10);
	cr_assert_gt(l.more, 0);
	char tail[32];
	snprintf(tail, sizeof tail, " (%d more)", l.more);
	cr_assert(strlen(buf) > strlen(tail) &&
		  strcmp(buf + strlen(buf) - strlen(tail), tail) == 0, "got '%s'", buf);
	/* Every item written is whole: each ends with its full number. */
	char copy[64];
	memcpy(copy, buf, sizeof copy);
	copy[strlen(copy) - strlen(tail)] = '\0';
	int whole = 0;
	for (char *p = strtok(copy, ","); p; p = strtok(NULL, ","), whole++)
		cr_assert(strstr(p, "-1.594851e-38") != NULL, "cut item '%s' in '%s'", p, buf);
	cr_assert_eq(whole, l.n);
}

Test(list, a_list_that_fits_has_no_tail)
{
	char buf[64];
	struct sc_list l;
	sc_list_init(&l, buf, sizeof buf);
	sc_list_add(&l, "l1.U 231 (want 230)");
	sc_list_add(&l, "P 5 (want 6)");
	sc_list_end(&l);
	cr_assert_str_eq(buf, "l1.U 231 (want 230), P 5 (want 6)");
	cr_assert_eq(l.more, 0);
}

Test(list, an_item_too_long_for_the_buffer_is_counted)
{
	char buf[24];
	struct sc_list l;
	sc_list_init(&l, buf, sizeof buf);
	sc_list_add(&l, "a much longer item than the buffer holds");
	sc_list_end(&l);
	cr_assert_str_eq(buf, "(1 more)");
}

Test(fit, long_text_is_cut_at_a_separator)
{
	char dst[40];
	sc_text_fit(dst, sizeof dst, "short");
	cr_assert_str_eq(dst, "short");
	sc_text_fit(dst, sizeof dst, "P -1.594851e-38, Q 2.4206e-41, l1.U 1.2e-40, l2.U 7.5e-39");
	cr_assert_str_eq(dst, "P -1.594851e-38 (3 more)");
	sc_text_fit(dst, sizeof dst, "one number far too long for this field 1.23456789e-38");
	cr_assert_eq(strchr(dst, 'e'), strstr(dst, "e"));
	cr_assert(strstr(dst, "1.2345") == NULL, "a number cut: '%s'", dst);
}

static const char *const want_text =
	"{\"ts\":1700000000,\"P\":0.58,\"E\":19064850,\"Q\":null,"
	"\"l1\":{\"U\":230.1,\"I\":2.5},\"l2\":{\"U\":229.9,\"I\":1.25}}";

static void compare(const char *got_text, double window, double wall, char *out, size_t cap,
		    int *ndiff)
{
	cJSON *want = cJSON_Parse(want_text), *got = cJSON_Parse(got_text);
	cr_assert(want && got);
	struct sc_list l;
	sc_list_init(&l, out, cap);
	sc_cmp_payload(want, got, &l, window, wall);
	*ndiff = l.n + l.more;
	sc_list_end(&l);
	cJSON_Delete(want);
	cJSON_Delete(got);
}

Test(payload, float32_values_pass)
{
	char out[256];
	int n;
	compare("{\"ts\":1700000000,\"P\":0.579999983310699,\"E\":19064850,\"Q\":null,"
		"\"l1\":{\"U\":230.10000610351562,\"I\":2.5},\"l2\":{\"U\":229.89999389648438,\"I\":1.25}}",
		0, 0, out, sizeof out, &n);
	cr_assert_eq(n, 0, "got '%s'", out);
}

Test(payload, every_difference_is_listed)
{
	char out[256];
	int n;
	compare("{\"ts\":1700000000,\"P\":0.6,\"E\":19064.85,\"Q\":null,"
		"\"l1\":{\"U\":229.9,\"I\":2.5},\"l2\":{\"U\":230.1,\"I\":1.25}}",
		0, 0, out, sizeof out, &n);
	cr_assert_eq(n, 4, "got '%s'", out);
	cr_assert_str_eq(out, "P 0.6 (want 0.58), E 19064.85 (want 19064850), l1.U 229.9 (want 230.1), "
			      "l2.U 230.1 (want 229.9)");
}

Test(payload, missing_fields_and_objects_are_listed)
{
	char out[256];
	int n;
	compare("{\"ts\":1700000000,\"E\":19064850,\"Q\":1,\"l1\":{\"U\":230.1,\"I\":2.5}}", 0, 0, out,
		sizeof out, &n);
	cr_assert_eq(n, 3, "got '%s'", out);
	cr_assert_str_eq(out, "P (missing) (want 0.58), Q 1 (want null), l2 missing");
}

Test(payload, ts_is_the_meters_unless_the_unit_stamps_its_own)
{
	const char *own = "{\"ts\":1765062000,\"P\":0.58,\"E\":19064850,\"Q\":null,"
			  "\"l1\":{\"U\":230.1,\"I\":2.5},\"l2\":{\"U\":229.9,\"I\":1.25}}";
	char out[256];
	int n;
	compare(own, 0, 1765062001.5, out, sizeof out, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(out, "ts 1765062000 (want 1700000000)");
	compare(own, 2, 1765062001.5, out, sizeof out, &n);
	cr_assert_eq(n, 0, "got '%s'", out);
	compare(own, 1, 1765062001.5, out, sizeof out, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(out, "ts 1765062000 (want the unit's clock 1765062002 +- 1)");
	/* The meter's ts is wrong for a unit declared to stamp its own. */
	compare(want_text, 5, 1765062001.5, out, sizeof out, &n);
	cr_assert_eq(n, 1, "got '%s'", out);
}

Test(payload, a_long_list_says_how_many_more)
{
	char out[64];
	int n;
	compare("{\"ts\":1,\"P\":1,\"E\":1,\"Q\":1,\"l1\":{\"U\":1,\"I\":1},\"l2\":{\"U\":1,\"I\":1}}", 0,
		0, out, sizeof out, &n);
	cr_assert_eq(n, 8, "got '%s'", out);
	cr_assert(strstr(out, " more)") != NULL, "got '%s'", out);
	cr_assert_lt(strlen(out), sizeof out);
}

/* Counters since the start of the run: event counts less the baseline,
 * gauges as they are, counts as they are after a restart. */
static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	cr_assert(cJSON_IsNumber(v), "%s", k);
	return v->valuedouble;
}

Test(counters, event_counts_are_differences_gauges_stay)
{
	cJSON *base = cJSON_Parse("{\"uptime\": 100, \"telegrams_pass\": 30, \"telegrams_fail\": 2,"
				  " \"heap_free\": 150000, \"heap_failed_allocs\": 1}");
	cJSON *now = cJSON_Parse("{\"uptime\": 140, \"telegrams_pass\": 60, \"telegrams_fail\": 2,"
				 " \"heap_free\": 149000, \"heap_failed_allocs\": 3, \"mqtt_send_pass\": 7}");
	cJSON *d = sc_counters_since(now, base);
	cr_assert_not_null(d);
	cr_assert_eq(num(d, "telegrams_pass"), 30);
	cr_assert_eq(num(d, "telegrams_fail"), 0);
	cr_assert_eq(num(d, "heap_failed_allocs"), 2);
	cr_assert_eq(num(d, "uptime"), 140);
	cr_assert_eq(num(d, "heap_free"), 149000);
	/* not in the baseline: as it is */
	cr_assert_eq(num(d, "mqtt_send_pass"), 7);
	cJSON_Delete(d);
	cJSON_Delete(now);
	cJSON_Delete(base);
}

Test(counters, after_a_restart_the_counts_started_over)
{
	cJSON *base = cJSON_Parse("{\"uptime\": 100, \"telegrams_pass\": 30}");
	cJSON *now = cJSON_Parse("{\"uptime\": 5, \"telegrams_pass\": 40}");
	cJSON *d = sc_counters_since(now, base);
	cr_assert_eq(num(d, "telegrams_pass"), 40);
	cJSON_Delete(d);
	cJSON_Delete(now);
	/* uptime unknown, a count that went down */
	now = cJSON_Parse("{\"telegrams_pass\": 4}");
	d = sc_counters_since(now, base);
	cr_assert_eq(num(d, "telegrams_pass"), 4);
	cJSON_Delete(d);
	cJSON_Delete(now);
	cJSON_Delete(base);
}

Test(counters, without_a_baseline_all_as_they_are)
{
	cJSON *now = cJSON_Parse("{\"uptime\": 5, \"telegrams_pass\": 40}");
	cJSON *d = sc_counters_since(now, NULL);
	cr_assert_eq(num(d, "telegrams_pass"), 40);
	cr_assert_eq(num(d, "uptime"), 5);
	cJSON_Delete(d);
	cr_assert_null(sc_counters_since(NULL, NULL));
	cJSON *arr = cJSON_Parse("[1]");
	cr_assert_null(sc_counters_since(arr, NULL));
	cJSON_Delete(arr);
	cJSON_Delete(now);
}

Test(counters, gauges_and_event_counts)
{
	cr_assert(sc_counter_is_gauge("uptime"));
	cr_assert(sc_counter_is_gauge("heap_free"));
	cr_assert(sc_counter_is_gauge("heap_min_free"));
	cr_assert(sc_counter_is_gauge("heap_largest_free"));
	cr_assert_not(sc_counter_is_gauge("heap_failed_allocs"));
	cr_assert_not(sc_counter_is_gauge("telegrams_pass"));
	cr_assert_not(sc_counter_is_gauge("gw_ping_fail"));
}
