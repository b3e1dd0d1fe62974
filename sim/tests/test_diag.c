/* device_counters, topics and the heap model (diag.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "diag.h"
#include "sc_error.h"

Test(diag, topics)
{
	char t[128];
	cr_assert_gt(sc_topic(t, sizeof t, "site", "E8DB84000001", "power_instant", SC_TOPIC_SITE_OMIT), 0);
	cr_assert_str_eq(t, "devices/site/smart-connect/E8DB84000001/data/power_instant");
	sc_topic(t, sizeof t, "", "E8DB84000001", "device_counters", SC_TOPIC_SITE_OMIT);
	cr_assert_str_eq(t, "devices/smart-connect/E8DB84000001/data/device_counters");
	sc_topic(t, sizeof t, "", "X1", "power_instant", SC_TOPIC_SITE_EMPTY);
	cr_assert_str_eq(t, "devices//smart-connect/X1/data/power_instant");
	cr_assert_eq(sc_topic(t, 20, "site", "E8DB84000001", "power_instant", SC_TOPIC_SITE_OMIT),
		     SC_ERR_RANGE);
}

/* The manual's example (§5.4), with the twin's ts first. */
Test(diag, counters_json_in_the_manuals_order)
{
	struct sc_diag d = {1032561, 344105, 30, 335993, 8142, 1028834, 0, 0, 0, 1,
			    1040530, 0, 116840, 54588, 65536, 0};
	char buf[1024];
	int n = sc_diag_json(&d, 1780396069, buf, sizeof buf);
	cr_assert_gt(n, 0);
	cr_assert_str_eq(buf,
			 "{\"ts\":1780396069,\"uptime\":1032561,\"gw_ping_pass\":344105,\"gw_ping_fail\":30,"
			 "\"internet_ping_pass\":335993,\"internet_ping_fail\":8142,"
			 "\"telegrams_pass\":1028834,\"telegrams_fail\":0,\"telegrams_frame_fail\":0,"
			 "\"mqtt_event_errors\":0,\"mqtt_event_connect\":1,\"mqtt_send_pass\":1040530,"
			 "\"mqtt_send_fail\":0,\"heap_free\":116840,\"heap_min_free\":54588,"
			 "\"heap_largest_free\":65536,\"heap_failed_allocs\":0}");
	cr_assert_eq((size_t)n, strlen(buf));
	cr_assert_eq(sc_diag_json(&d, 0, buf, 100), SC_ERR_RANGE);
}

Test(diag, heap_model)
{
	struct sc_heap_model h;
	struct sc_diag a, b;
	sc_heap_init(&h, 7);
	sc_heap_sample(&h, 100, 0, false, 0, &a);
	sc_heap_sample(&h, 101, 4, true, 1, &b);
	cr_assert_lt(b.heap_free, a.heap_free, "connections take memory");
	cr_assert_eq(b.heap_min_free, b.heap_free, "the low-water mark follows");
	sc_heap_sample(&h, 102, 0, false, 0, &a);
	cr_assert_gt(a.heap_free, b.heap_free);
	cr_assert_eq(a.heap_min_free, b.heap_free, "and stays");
	cr_assert_leq(a.heap_largest_free, 65536);
	cr_assert_leq(a.heap_largest_free, a.heap_free);
	cr_assert_eq(a.heap_failed_allocs, 0);
	/* Seeded: the same seed and time give the same figures. */
	struct sc_heap_model h2;
	struct sc_diag c;
	sc_heap_init(&h2, 7);
	sc_heap_sample(&h2, 100, 0, false, 0, &c);
	sc_heap_init(&h, 7);
	sc_heap_sample(&h, 100, 0, false, 0, &a);
	cr_assert_eq(a.heap_free, c.heap_free);
}
