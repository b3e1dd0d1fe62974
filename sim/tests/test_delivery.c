/* Every telegram's power_instant (delivery.c): messages matched to the
 * telegrams by their values and order, and counted as delivered, lost,
 * duplicated, out of order and unexpected; telegrams that expect no message
 * (not sent, rejected) or are not judged (sent as the line came back, while
 * the device could not publish) left out. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "payload.h"
#include "runner_int.h"

/* The reading of telegram i: its own ts, its power p and an energy that
 * follows it (telegrams of the same power carry the same values but ts). */
static struct sc_reading reading(int i, double p)
{
	struct sc_reading r;
	memset(&r, 0, sizeof r);
	r.ts = 1751371200 + i;
	r.ts_set = true;
	r.q[SC_RQ_P].set = true;
	r.q[SC_RQ_P].v = p;
	r.q[SC_RQ_E_IMPORT].set = true;
	r.q[SC_RQ_E_IMPORT].v = 19064850 + p;
	r.ph[0][SC_PQ_U].set = true;
	r.ph[0][SC_PQ_U].v = 230.1;
	return r;
}

/* n telegrams, all due, telegram i (0-based) with power p[i] (or 100 + i). */
static void telegrams(struct sc_delivery *d, int n, const double *p)
{
	for (int i = 0; i < n; i++) {
		struct sc_reading r = reading(i, p ? p[i] : 100 + i);
		cr_assert_eq(sc_delivery_add(d, i, SC_PI_UNCHECKED, &r, false, false), 0);
	}
}

/* The message a device publishes for telegram i, taken at seen. */
static void message(struct sc_delivery *d, int i, double p, double seen)
{
	struct sc_reading r = reading(i, p);
	char buf[2048];
	cr_assert_gt(sc_payload_power_instant_text(&r, buf, sizeof buf), 0);
	sc_delivery_message(d, buf, seen, 1751371200 + seen);
}

static void text(struct sc_delivery *d, struct sc_delivery_counts *n, char *buf, size_t cap)
{
	sc_delivery_tally(d, n);
	sc_delivery_text(d, n, buf, cap);
}

Test(delivery, every_telegram_delivered_in_order)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 5, NULL);
	for (int i = 0; i < 5; i++)
		message(&d, i, 100 + i, i + 0.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "5 delivered, 0 lost, 0 duplicated, 0 out of order");
	cr_assert_eq(n.due, 5);
	cr_assert_eq(d.tg[3].fate, SC_PI_DELIVERED);
	cr_assert_float_eq(d.tg[3].seen, 3.5, 1e-9);
	sc_delivery_free(&d);
}

Test(delivery, lost_ones_named_one_based)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 30, NULL);
	/* 1 in 10 dropped: telegrams 4, 14, 24 (1-based). */
	for (int i = 0; i < 30; i++)
		if (i % 10 != 3)
			message(&d, i, 100 + i, i + 0.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "27 delivered, 3 lost, 0 duplicated, 0 out of order; lost: telegrams 4, 14, 24");
	cr_assert_eq(d.tg[13].fate, SC_PI_LOST);
	cr_assert(isnan(d.tg[13].seen));
	sc_delivery_free(&d);
}

Test(delivery, a_long_list_of_lost_says_how_many_more)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 200, NULL);
	message(&d, 0, 100, 0.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_eq(n.lost, 199);
	cr_assert(strncmp(t, "1 delivered, 199 lost, 0 duplicated, 0 out of order; lost: telegrams 2, 3, 4, ",
			  77) == 0, "%s", t);
	int shown = 0;
	cr_assert(strstr(t, " more)"), "%s", t);
	/* Every number shown whole, and the count of the rest right. */
	const char *p = strstr(t, "telegrams ") + 10;
	while (*p >= '0' && *p <= '9') {
		shown++;
		p += strspn(p, "0123456789");
		if (strncmp(p, ", ", 2) != 0)
			break;
		p += 2;
	}
	int more = 0;
	cr_assert_eq(sscanf(p, " (%d more)", &more), 1, "%s", p);
	cr_assert_eq(shown + more, 199);
	/* An unexpected message is still counted at the end. */
	sc_delivery_message(&d, "{}", 201, 1751371401);
	text(&d, &n, t, sizeof t);
	size_t len = strlen(t);
	cr_assert_lt(len, sizeof t);
	cr_assert(len > 14 && strcmp(t + len - 14, "; 1 unexpected") == 0, "%s", t);
	cr_assert(strstr(t, " more); 1 unexpected"), "%s", t);
	sc_delivery_free(&d);
}

Test(delivery, a_second_message_for_a_telegram_is_a_duplicate)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 3, NULL);
	message(&d, 0, 100, 0.5);
	message(&d, 1, 101, 1.5);
	message(&d, 1, 101, 1.6);
	message(&d, 2, 102, 2.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "3 delivered, 0 lost, 1 duplicated, 0 out of order");
	cr_assert_eq(d.tg[1].msgs, 2);
	cr_assert_float_eq(d.tg[1].seen, 1.5, 1e-9);
	sc_delivery_free(&d);
}

Test(delivery, a_message_after_a_later_telegrams_is_out_of_order)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 4, NULL);
	message(&d, 0, 100, 0.5);
	message(&d, 2, 102, 2.5);
	message(&d, 1, 101, 2.6);
	message(&d, 3, 103, 3.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "4 delivered, 0 lost, 0 duplicated, 1 out of order");
	cr_assert(d.tg[1].out_of_order);
	cr_assert_not(d.tg[2].out_of_order);
	sc_delivery_free(&d);
}

Test(delivery, a_message_of_no_telegram_is_unexpected_and_described)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 3, NULL);
	message(&d, 0, 100, 0.5);
	message(&d, 1, 999, 1.5); /* telegram 2's time, another power */
	message(&d, 2, 102, 2.5);
	sc_delivery_message(&d, "not json", 2.7, 1751371202.7);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "2 delivered, 1 lost, 0 duplicated, 0 out of order; lost: telegram 2; "
			    "2 unexpected");
	cr_assert_eq(n.unexpected, 2);
	cr_assert(strstr(d.unexpected_first, "at 1.5 s, as telegram 2's but P 999 (want 101), E_IMPORT"), "%s",
		  d.unexpected_first);
	sc_delivery_free(&d);
}

Test(delivery, identical_consecutive_telegrams_are_matched_in_order)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 1, 0); /* the unit's own clock: ts tells nothing */
	double p[5] = {100, 200, 200, 200, 300};
	telegrams(&d, 5, p);
	message(&d, 0, 100, 0.5);
	message(&d, 1, 200, 1.5);
	message(&d, 2, 200, 2.5);
	message(&d, 3, 200, 3.5);
	message(&d, 4, 300, 4.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "5 delivered, 0 lost, 0 duplicated, 0 out of order");
	for (int i = 0; i < 5; i++)
		cr_assert_float_eq(d.tg[i].seen, i + 0.5, 1e-9);
	/* A fourth message of those values is a duplicate. */
	message(&d, 4, 200, 4.6);
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "5 delivered, 0 lost, 1 duplicated, 0 out of order");
	/* One of the three missing: matched in order, the last of them is
	 * named. */
	struct sc_delivery e;
	sc_delivery_init(&e, 1, 0);
	telegrams(&e, 5, p);
	message(&e, 0, 100, 0.5);
	message(&e, 1, 200, 1.5);
	message(&e, 3, 200, 3.5);
	message(&e, 4, 300, 4.5);
	text(&e, &n, t, sizeof t);
	cr_assert_str_eq(t, "4 delivered, 1 lost, 0 duplicated, 0 out of order; lost: telegram 4");
	cr_assert_float_eq(e.tg[2].seen, 3.5, 1e-9);
	sc_delivery_free(&e);
	sc_delivery_free(&d);
}

Test(delivery, telegrams_not_sent_rejected_or_unsure_expect_nothing)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	struct sc_reading r0 = reading(0, 100), r3 = reading(3, 103);
	cr_assert_eq(sc_delivery_add(&d, 0, SC_PI_UNCHECKED, &r0, false, false), 0);
	cr_assert_eq(sc_delivery_add(&d, 1, SC_PI_NOT_DUE, NULL, false, false), 0); /* cable out */
	cr_assert_eq(sc_delivery_add(&d, 2, SC_PI_NOT_DUE, NULL, false, false), 0); /* rejected */
	struct sc_reading r2 = reading(2, 102);
	cr_assert_eq(sc_delivery_add(&d, 2.5, SC_PI_UNSURE, &r2, false, false), 0); /* line back */
	cr_assert_eq(sc_delivery_add(&d, 3, SC_PI_UNCHECKED, &r3, false, false), 0);
	message(&d, 0, 100, 0.5);
	message(&d, 3, 103, 3.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "2 delivered, 0 lost, 0 duplicated, 0 out of order");
	cr_assert_eq(n.due, 2);
	cr_assert_eq(n.not_due, 2);
	cr_assert_eq(n.unsure, 1);
	cr_assert_eq(d.tg[1].fate, SC_PI_NOT_DUE);
	cr_assert_eq(d.tg[3].fate, SC_PI_UNSURE);
	/* An unsure one's message, when it comes, is no telegram's. */
	message(&d, 2, 102, 3.6);
	sc_delivery_tally(&d, &n);
	cr_assert_eq(n.unexpected, 1);
	sc_delivery_free(&d);
}

Test(delivery, not_judged_while_the_device_cannot_publish)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 12, NULL);
	/* Broker down at 2.5 s, back at 6.5 s; the device publishes again from
	 * telegram 9 (index 8). */
	cr_assert_eq(sc_delivery_event(&d, 2.5, true), 0);
	cr_assert_eq(sc_delivery_event(&d, 6.5, false), 0);
	for (int i = 0; i < 12; i++)
		if (i < 3 || i >= 8)
			message(&d, i, 100 + i, i + 0.5);
	/* One published just before the outage took hold. */
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "7 delivered, 0 lost, 0 duplicated, 0 out of order");
	cr_assert_eq(n.offline, 5);
	cr_assert_eq(d.tg[7].fate, SC_PI_OFFLINE);
	sc_delivery_free(&d);

	/* Once it publishes again, a telegram without a message is lost. */
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 12, NULL);
	cr_assert_eq(sc_delivery_event(&d, 2.5, true), 0);
	cr_assert_eq(sc_delivery_event(&d, 6.5, false), 0);
	for (int i = 0; i < 12; i++)
		if (i < 3 || i == 8 || i > 9)
			message(&d, i, 100 + i, i + 0.5);
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "6 delivered, 1 lost, 0 duplicated, 0 out of order; lost: telegram 10");
	sc_delivery_free(&d);

	/* While the broker is still down, a message that came does not end
	 * the outage: the later ones are still not judged. */
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 8, NULL);
	cr_assert_eq(sc_delivery_event(&d, 2.5, true), 0);
	cr_assert_eq(sc_delivery_event(&d, 6.5, false), 0);
	for (int i = 0; i < 8; i++)
		if (i != 4 && i != 5 && i != 6)
			message(&d, i, 100 + i, i + 0.5);
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "5 delivered, 0 lost, 0 duplicated, 0 out of order");
	cr_assert_eq(n.offline, 3);
	sc_delivery_free(&d);
}

Test(delivery, late_messages_are_matched_after_a_tally)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 3, NULL);
	message(&d, 0, 100, 0.5);
	struct sc_delivery_counts n;
	sc_delivery_tally(&d, &n);
	cr_assert_eq(n.lost, 2);
	/* They come during the grace. */
	message(&d, 1, 101, 3.5);
	message(&d, 2, 102, 3.5);
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "3 delivered, 0 lost, 0 duplicated, 0 out of order");
	sc_delivery_free(&d);
}

Test(delivery, float32_values_and_the_units_own_clock_match)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 5, 0);
	struct sc_reading r = reading(0, 0.58);
	cr_assert_eq(sc_delivery_add(&d, 0, SC_PI_UNCHECKED, &r, false, false), 0);
	/* As a unit holding float32 and stamping its own clock sends it. */
	char msg[512];
	snprintf(msg, sizeof msg, "{\"ts\":1751371290,\"P\":%.15g,\"E_IMPORT\":%.15g,\"l1\":{\"U\":%.15g}}",
		 (double)0.58f, (double)19064850.0f, (double)230.1f);
	struct sc_delivery_counts n;
	sc_delivery_message(&d, msg, 1, 1751371292);
	sc_delivery_tally(&d, &n);
	/* The payload's other keys are null in the oracle's and absent here. */
	cr_assert_eq(n.unexpected, 1, "%s", d.unexpected_first);
	sc_delivery_free(&d);

	sc_delivery_init(&d, 5, 0);
	cr_assert_eq(sc_delivery_add(&d, 0, SC_PI_UNCHECKED, &r, false, false), 0);
	cJSON *full = sc_payload_power_instant(&r);
	cJSON_ReplaceItemInObject(full, "ts", cJSON_CreateNumber(1751371290));
	cJSON_ReplaceItemInObject(full, "P", cJSON_CreateNumber((double)0.58f));
	char *text_ = cJSON_PrintUnformatted(full);
	sc_delivery_message(&d, text_, 1, 1751371292);
	sc_delivery_tally(&d, &n);
	cr_assert_eq(n.delivered, 1, "%s", d.unexpected_first);
	free(text_);
	cJSON_Delete(full);
	sc_delivery_free(&d);
}

Test(delivery, a_message_before_its_telegram_was_recorded_waits_for_it)
{
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 2, NULL);
	message(&d, 0, 100, 0.5);
	message(&d, 1, 101, 1.5);
	/* Telegram 3's message, and a copy, before telegram 3 is recorded. */
	message(&d, 2, 102, 2.1);
	message(&d, 2, 102, 2.2);
	struct sc_delivery_counts n;
	sc_delivery_tally(&d, &n);
	cr_assert_eq(n.unexpected, 2);
	struct sc_reading r = reading(2, 102);
	cr_assert_eq(sc_delivery_add(&d, 2, SC_PI_UNCHECKED, &r, false, false), 0);
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "3 delivered, 0 lost, 1 duplicated, 0 out of order");
	cr_assert_float_eq(d.tg[2].seen, 2.1, 1e-9);
	/* The next one in order after it. */
	struct sc_reading r3 = reading(3, 103);
	cr_assert_eq(sc_delivery_add(&d, 3, SC_PI_UNCHECKED, &r3, false, false), 0);
	message(&d, 3, 103, 3.5);
	text(&d, &n, t, sizeof t);
	cr_assert_str_eq(t, "4 delivered, 0 lost, 1 duplicated, 0 out of order");
	sc_delivery_free(&d);
}

Test(delivery, messages_of_no_telegram_are_all_counted)
{
	/* A unit whose every message is wrong: far more than wait. */
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 400, NULL);
	for (int i = 0; i < 400; i++)
		message(&d, i, 5000 + i, i + 0.5);
	struct sc_delivery_counts n;
	char t[256];
	text(&d, &n, t, sizeof t);
	cr_assert_eq(n.unexpected, 400);
	cr_assert_eq(n.lost, 400);
	cr_assert(strstr(t, "; 400 unexpected"), "%s", t);
	cr_assert(strstr(d.unexpected_first, "at 0.5 s, as telegram 1's but P 5000 (want 100)"), "%s",
		  d.unexpected_first);
	sc_delivery_free(&d);
}

Test(delivery, every_message_wrong_the_same_way_names_the_likely_cause)
{
	/* A unit that publishes every power_instant with its power's sign
	 * inverted: no message is any telegram's, and the text says why. */
	struct sc_delivery d;
	sc_delivery_init(&d, 0, 0);
	double p[4] = {-500, -620, -480, -700};
	telegrams(&d, 4, p);
	for (int i = 0; i < 4; i++) {
		struct sc_reading r = reading(i, p[i]);
		r.q[SC_RQ_P].v = -p[i];
		char buf[2048];
		cr_assert_gt(sc_payload_power_instant_text(&r, buf, sizeof buf), 0);
		sc_delivery_message(&d, buf, i + 0.5, 1751371200 + i + 0.5);
	}
	struct sc_delivery_counts n;
	char t[320];
	text(&d, &n, t, sizeof t);
	cr_assert_eq(n.lost, 4);
	cr_assert(strstr(t, "; 4 unexpected; likely cause: export sign inverted"), "%s", t);
	sc_delivery_free(&d);
	/* Messages that differ in no recognisable way name no cause. */
	sc_delivery_init(&d, 0, 0);
	telegrams(&d, 2, NULL);
	sc_delivery_message(&d, "{\"ts\":1751371200,\"P\":7}", 0.5, 1751371200.5);
	text(&d, &n, t, sizeof t);
	cr_assert(strstr(t, "unexpected"), "%s", t);
	cr_assert_null(strstr(t, "likely cause"), "%s", t);
	sc_delivery_free(&d);
}
