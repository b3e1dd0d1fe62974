/* The device core: what it keeps from the telegrams it receives (counters,
 * last reading, image, last raw telegram, meter link state), the device
 * clock, and the Modbus TCP request rules. */
#include <criterion/criterion.h>
#include <string.h>

#include "clock.h"
#include "device.h"
#include "mbap.h"
#include "meter.h"
#include "p1_gen.h"
#include "p1_test_util.h"
#include "sc_error.h"
#include "tic_gen.h"

static struct sc_device *new_device(enum sc_protocol proto)
{
	static struct sc_device d;
	struct sc_device_config cfg = {.protocol = proto, .regs = {SC_WORDS_CDAB, false}};
	cr_assert_eq(sc_device_init(&d, &cfg), SC_OK);
	return &d;
}

/* n DSMR telegrams of a seeded meter, one second apart, concatenated. */
static size_t gen_p1(enum sc_flavour fl, int n, enum sc_p1_fault fault, int every, char *out,
		     size_t cap, struct sc_reading *last)
{
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV_EV, 3, 5, 1751360400, 0, 0};
	struct sc_p1_gen_opts go = {fl, SC_P1_FAULT_NONE, 0};
	sc_meter_init(&m, &mc);
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		sc_meter_advance(&m, mc.start + i);
		go.fault = (every && (i + 1) % every == 0) ? fault : SC_P1_FAULT_NONE;
		int k = sc_p1_gen(&m, &go, out + len, cap - len, go.fault ? NULL : last);
		cr_assert_gt(k, 0);
		len += (size_t)k;
	}
	return len;
}

Test(device, zero_image_before_the_first_telegram)
{
	struct sc_device *d = new_device(SC_PROTO_AUTO);
	for (size_t i = 0; i < SC_REGMAP_WORDS; i++)
		cr_assert_eq(d->image.w[i], 0);
	cr_assert_eq(sc_device_link(d, 0), SC_LINK_NEVER);
	cr_assert_str_eq(sc_meter_link_name(SC_LINK_NEVER), "never");
	sc_device_free(d);
}

Test(device, counts_every_kind_and_keeps_the_last_good_values)
{
	static char buf[1 << 16];
	struct sc_reading want;
	/* 6 telegrams, the 3rd and 6th with a bad CRC: the 5th is the last good. */
	size_t len = gen_p1(SC_FLAVOUR_DSMR50, 6, SC_P1_FAULT_BAD_CRC, 3, buf, sizeof buf, &want);
	memcpy(buf + len, "noise", 5);
	len += 5;
	struct sc_device *d = new_device(SC_PROTO_P1);
	sc_device_feed(d, buf, len, 1000);
	sc_device_input_end(d, 2000);
	cr_assert_eq(d->counters.telegrams_pass, 4);
	cr_assert_eq(d->counters.telegrams_fail, 2);
	cr_assert_eq(d->counters.bytes, len);
	cr_assert_eq(d->counters.garbage_bytes, 5);
	cr_assert_eq(d->generation, 4);
	cr_assert(d->have_reading);
	cr_assert_eq(d->reading.q[SC_RQ_P].v, want.q[SC_RQ_P].v);
	cr_assert_eq(d->reading.ts, want.ts);
	struct sc_regmap img;
	sc_regmap_build(&img, &want, &d->cfg.regs);
	cr_assert(memcmp(img.w, d->image.w, sizeof img.w) == 0, "the image is the last good one's");
	/* The last raw telegram is the failed 6th, bytes as received. */
	cr_assert_gt(d->last_raw_len, 0);
	cr_assert_eq(d->last_raw[0], '/');
	sc_device_free(d);
}

Test(device, framing_failures_are_counted_apart)
{
	static char buf[1 << 16];
	size_t len = gen_p1(SC_FLAVOUR_DSMR50, 4, SC_P1_FAULT_TRUNCATED, 2, buf, sizeof buf, NULL);
	struct sc_device *d = new_device(SC_PROTO_P1);
	sc_device_feed(d, buf, len, 0);
	sc_device_input_end(d, 0);
	cr_assert_eq(d->counters.telegrams_pass, 2);
	cr_assert_eq(d->counters.telegrams_frame_fail, 2);
	cr_assert_eq(d->counters.telegrams_fail, 0);
	sc_device_free(d);
}

Test(device, a_telegram_without_timestamp_is_stamped_on_arrival)
{
	char *t = tg_make("XMX5TEST", "1-3:0.2.8(50)\r\n1-0:1.7.0(01.000*kW)\r\n"
				      "1-0:2.7.0(00.000*kW)\r\n");
	struct sc_device *d = new_device(SC_PROTO_P1);
	sc_device_feed(d, t, strlen(t), 1751360400123);
	cr_assert_eq(d->counters.telegrams_pass, 1);
	cr_assert(d->reading.ts_set);
	cr_assert_eq(d->reading.ts, 1751360400);
	cr_assert_eq(d->reading.q[SC_RQ_P].v, 1000);
	/* The raw telegram runs from '/' through the CRC (the CR LF after it
	 * belongs to the line, not to the telegram). */
	cr_assert_eq(d->last_raw_len, strlen(t) - 2);
	cr_assert(memcmp(d->last_raw, t, strlen(t) - 2) == 0);
	free(t);
	sc_device_free(d);
}

Test(device, link_state_follows_the_cadence)
{
	static char buf[1 << 14];
	struct sc_device *d = new_device(SC_PROTO_P1);
	cr_assert_eq(sc_device_cadence_ms(d), 1000);
	size_t len = gen_p1(SC_FLAVOUR_DSMR50, 1, SC_P1_FAULT_NONE, 0, buf, sizeof buf, NULL);
	sc_device_feed(d, buf, len, 10000);
	cr_assert_eq(sc_device_no_data_ms(d), 3000);
	cr_assert_eq(sc_device_link(d, 12999), SC_LINK_OK);
	cr_assert_eq(sc_device_link(d, 13000), SC_LINK_NO_DATA);
	cr_assert_str_eq(sc_meter_link_name(SC_LINK_NO_DATA), "no-data");
	sc_device_free(d);

	/* DSMR 4.x sends every 10 s: 30 s of silence before "no data". */
	d = new_device(SC_PROTO_P1);
	len = gen_p1(SC_FLAVOUR_DSMR42, 1, SC_P1_FAULT_NONE, 0, buf, sizeof buf, NULL);
	sc_device_feed(d, buf, len, 10000);
	cr_assert_eq(sc_device_cadence_ms(d), 10000);
	cr_assert_eq(sc_device_link(d, 39999), SC_LINK_OK);
	cr_assert_eq(sc_device_link(d, 40000), SC_LINK_NO_DATA);
	sc_device_free(d);
}

Test(device, no_data_timeout_configurable)
{
	static struct sc_device d;
	static char buf[1 << 14];
	struct sc_device_config cfg = {.protocol = SC_PROTO_P1, .no_data_ms = 500};
	cr_assert_eq(sc_device_init(&d, &cfg), SC_OK);
	size_t len = gen_p1(SC_FLAVOUR_DSMR42, 1, SC_P1_FAULT_NONE, 0, buf, sizeof buf, NULL);
	sc_device_feed(&d, buf, len, 0);
	cr_assert_eq(sc_device_link(&d, 499), SC_LINK_OK);
	cr_assert_eq(sc_device_link(&d, 500), SC_LINK_NO_DATA);
	sc_device_free(&d);
}

Test(device, tic_device_rejects_dsmr)
{
	static char buf[1 << 14];
	struct sc_device *d = new_device(SC_PROTO_TIC);
	size_t len = gen_p1(SC_FLAVOUR_DSMR50, 2, SC_P1_FAULT_NONE, 0, buf, sizeof buf, NULL);
	sc_device_feed(d, buf, len, 0);
	sc_device_input_end(d, 0);
	cr_assert_eq(d->counters.telegrams_pass, 0);
	cr_assert_gt(d->counters.telegrams_fail + d->counters.telegrams_frame_fail, 0);
	cr_assert_not(d->have_reading);
	sc_device_free(d);
}

Test(device, tic_frames_feed_the_same_image)
{
	static char buf[SC_TIC_GEN_MAX];
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV, 1, 2, 1751371200, 0, 0};
	struct sc_tic_gen_opts to = {true, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, SC_TIC_TOTAL_SUM};
	sc_meter_init(&m, &mc);
	struct sc_reading want;
	int n = sc_tic_gen(&m, &to, buf, sizeof buf, &want);
	cr_assert_gt(n, 0);
	struct sc_device *d = new_device(SC_PROTO_AUTO);
	sc_device_feed(d, buf, (size_t)n, 0);
	cr_assert_eq(d->counters.telegrams_pass, 1);
	cr_assert_eq(d->reading.flavour, SC_FLAVOUR_TIC);
	struct sc_regmap img;
	sc_regmap_build(&img, &want, &d->cfg.regs);
	cr_assert(memcmp(img.w, d->image.w, sizeof img.w) == 0);
	sc_device_free(d);
}

/* A netting three-phase Linky (tic_gen.h) drawing on one phase while the
 * installation exports in total: the device serves what the manual says
 * from what the meter sends: total active power negative, every phase's
 * active power SINSTSn (never negative, 0 W on the exporting phases), the
 * total apparent power the SINSTS it sends (0); so the total is not the
 * sum of the phases here. */
static float reg(const struct sc_device *d, uint16_t addr)
{
	uint16_t w[2];
	cr_assert_eq(sc_regmap_read(&d->image, addr, 2, w), SC_OK);
	return sc_words_to_float(w, d->cfg.regs.order);
}

Test(device, netting_tic_meter_exporting_with_a_phase_drawing)
{
	static char buf[SC_TIC_GEN_MAX];
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV_EV, 3, 1, 1749520800, 0, 0};
	struct sc_tic_gen_opts to = {true, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, SC_TIC_TOTAL_NET};
	sc_meter_init(&m, &mc);
	int found = 0;
	for (int64_t t = mc.start; t < mc.start + 4 * 86400 && !found; t += 601) {
		sc_meter_advance(&m, t);
		bool draws = false;
		for (int ph = 0; ph < 3; ph++)
			draws = draws || (!sc_meter_phase_exports(&m, ph) && sc_meter_va(&m, ph) >= 1);
		if (!draws || sc_meter_net_w(&m) >= -100)
			continue;
		struct sc_reading want;
		int n = sc_tic_gen(&m, &to, buf, sizeof buf, &want);
		cr_assert_gt(n, 0);
		if (want.q[SC_RQ_P].v >= 0)
			continue; /* VA netted can still be drawn; look for net export */
		struct sc_device *d = new_device(SC_PROTO_TIC);
		sc_device_feed(d, buf, (size_t)n, 0);
		cr_assert_eq(d->counters.telegrams_pass, 1);
		float p = reg(d, 0x8016), sva = reg(d, 0x801A), sum = 0;
		cr_assert_lt(p, 0.0f, "total active power negative on export");
		cr_assert_eq(sva, 0.0f, "SINSTS of a netting meter exporting in total");
		bool phase_draws = false;
		for (int ph = 0; ph < 3; ph++) {
			float pp = reg(d, (uint16_t)(0x801E + 2 * ph));
			cr_assert_geq(pp, 0.0f, "L%d never negative", ph + 1);
			cr_assert_eq(pp, (float)want.ph[ph][SC_PQ_P].v);
			cr_assert_eq(reg(d, (uint16_t)(0x802A + 2 * ph)), pp, "L%d S", ph + 1);
			if (sc_meter_phase_exports(&m, ph))
				cr_assert_eq(pp, 0.0f, "an exporting phase reads 0 W");
			phase_draws = phase_draws || pp > 0;
			sum += pp;
		}
		cr_assert(phase_draws);
		cr_assert_neq(p, sum, "the total is the meter's net, not the sum of the phases");
		sc_device_free(d);
		found++;
	}
	cr_assert_gt(found, 0, "a state exporting in total with a phase drawing");
}

/* ---- the device clock ---- */

Test(clock, real_time_and_faster)
{
	struct sc_clock c;
	sc_clock_init(&c, 1751360400000, 5000, 1);
	cr_assert_eq(sc_clock_now(&c, 5000), 1751360400000);
	cr_assert_eq(sc_clock_now(&c, 6500), 1751360401500);
	cr_assert_eq(sc_clock_mono_at(&c, 1751360401500), 6500);
	sc_clock_init(&c, 0, 100, 10);
	cr_assert_eq(sc_clock_now(&c, 200), 1000);
	cr_assert_eq(sc_clock_mono_at(&c, 1000), 200);
	/* Rounded up: at the returned time the device clock has reached it. */
	sc_clock_init(&c, 0, 0, 3);
	int64_t m = sc_clock_mono_at(&c, 1000);
	cr_assert_geq(sc_clock_now(&c, m), 1000);
	cr_assert_lt(sc_clock_now(&c, m - 1), 1000);
	/* A speed of 0 or less is taken as real time. */
	sc_clock_init(&c, 0, 0, 0);
	cr_assert_eq(sc_clock_now(&c, 1234), 1234);
}

/* ---- Modbus TCP requests ---- */

static size_t req(uint8_t *b, uint16_t tid, uint8_t unit, uint8_t fc, uint16_t addr, uint16_t n)
{
	uint8_t r[12] = {(uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6, unit, fc,
			 (uint8_t)(addr >> 8), (uint8_t)addr, (uint8_t)(n >> 8), (uint8_t)n};
	memcpy(b, r, sizeof r);
	return sizeof r;
}

Test(mbap, framing_every_prefix)
{
	uint8_t b[SC_MBAP_MAX_ADU];
	size_t len = req(b, 1, 1, 3, 0x8006, 2), n = 0;
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(sc_mbap_frame(b, i, &n), SC_MBAP_NEED_MORE, "prefix %zu", i);
	cr_assert_eq(sc_mbap_frame(b, len, &n), SC_MBAP_COMPLETE);
	cr_assert_eq(n, 12);
	/* Two requests back to back: the first is framed alone. */
	req(b + 12, 2, 1, 3, 0x8006, 2);
	cr_assert_eq(sc_mbap_frame(b, 24, &n), SC_MBAP_COMPLETE);
	cr_assert_eq(n, 12);
}

Test(mbap, not_modbus_tcp)
{
	uint8_t b[16];
	size_t n = 0;
	memcpy(b, "GET / HTTP/1.0\r\n", 16);
	cr_assert_eq(sc_mbap_frame(b, 16, &n), SC_MBAP_INVALID);
	req(b, 1, 1, 3, 0x8006, 2);
	b[4] = 0, b[5] = 1; /* a length without a function code */
	cr_assert_eq(sc_mbap_frame(b, 12, &n), SC_MBAP_INVALID);
	b[4] = 0xFF, b[5] = 0xFF; /* longer than any ADU */
	cr_assert_eq(sc_mbap_frame(b, 12, &n), SC_MBAP_INVALID);
	b[4] = 0, b[5] = 254; /* the largest PDU is 253 bytes + unit id */
	cr_assert_eq(sc_mbap_frame(b, 12, &n), SC_MBAP_NEED_MORE);
	b[5] = 255;
	cr_assert_eq(sc_mbap_frame(b, 12, &n), SC_MBAP_INVALID);
}

Test(mbap, answers_of_the_device)
{
	uint8_t b[16];
	uint16_t a, c;
	for (unsigned unit = 0; unit < 256; unit += 51)
		cr_assert_eq(sc_mbap_check(b, req(b, 1, (uint8_t)unit, 3, 0x8006, 50), &a, &c), 0);
	cr_assert_eq(a, 0x8006);
	cr_assert_eq(c, 50);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 4, 0x8000, 125), &a, &c), 0);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 3, 0x8C37, 1), &a, &c), 0);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 1, 0x8000, 1), &a, &c), 0x01);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 6, 0x8006, 1), &a, &c), 0x01);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 0x10, 0x8006, 1), &a, &c), 0x01);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 3, 0x7FFF, 2), &a, &c), 0x02);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 3, 0x8C37, 2), &a, &c), 0x02);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 3, 0x0000, 1), &a, &c), 0x02);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 3, 0x8000, 126), &a, &c), 0x03);
	cr_assert_eq(sc_mbap_check(b, req(b, 1, 1, 3, 0x8000, 0), &a, &c), 0x03);
	/* A read PDU of the wrong size. */
	req(b, 1, 1, 3, 0x8006, 2);
	cr_assert_eq(sc_mbap_check(b, 11, &a, &c), 0x03);
}

Test(mbap, exception_keeps_ids_and_sets_bit_7)
{
	const uint8_t req[] = {0x12, 0x34, 0, 0, 0, 6, 0x09, 0x05, 0x80, 0x00, 0xFF, 0x00};
	uint8_t out[SC_MBAP_EXCEPTION_LEN];
	sc_mbap_exception(req, 0x01, out);
	const uint8_t want[] = {0x12, 0x34, 0, 0, 0, 3, 0x09, 0x85, 0x01};
	cr_assert_arr_eq(out, want, sizeof want);
	/* A function code that already has bit 7 set must not come back as a
	 * normal reply (libmodbus' fc + 0x80 wraps 0x83 to 0x03). */
	const uint8_t odd[] = {0, 1, 0, 0, 0, 6, 1, 0x83, 0x80, 0x00, 0x00, 0x01};
	sc_mbap_exception(odd, 0x01, out);
	cr_assert_eq(out[7], 0x83);
}

Test(device, a_restart_forgets_the_reading_until_the_next_telegram)
{
	static char buf[1 << 14];
	struct sc_reading last;
	struct sc_device *d = new_device(SC_PROTO_AUTO);
	size_t len = gen_p1(SC_FLAVOUR_DSMR50, 2, SC_P1_FAULT_NONE, 0, buf, sizeof buf, &last);
	sc_device_feed(d, buf, len, 1000);
	cr_assert(d->have_reading);
	cr_assert_eq(sc_device_link(d, 1500), SC_LINK_OK);
	bool nonzero = false;
	for (size_t i = 0; i < SC_REGMAP_WORDS; i++)
		nonzero |= d->image.w[i] != 0;
	cr_assert(nonzero, "a telegram fills the image");
	uint64_t gen = d->generation;

	/* The power cut: RAM is gone. Every register reads 0 again, the link
	 * is "never" as at a first start, the last telegram is gone. */
	sc_device_restart(d);
	cr_assert_not(d->have_reading);
	for (size_t i = 0; i < SC_REGMAP_WORDS; i++)
		cr_assert_eq(d->image.w[i], 0, "register %zu", i);
	cr_assert_gt(d->generation, gen, "Modbus takes the new image");
	cr_assert_eq(sc_device_link(d, 1500), SC_LINK_NEVER);
	cr_assert_eq(sc_device_link(d, 100000), SC_LINK_NEVER, "not ok, however long");
	cr_assert_eq(d->last_raw_len, 0);
	cr_assert_eq(d->last_fail_ms, 0);

	/* The next good telegram fills it again. */
	struct sc_reading next;
	len = gen_p1(SC_FLAVOUR_DSMR50, 1, SC_P1_FAULT_NONE, 0, buf, sizeof buf, &next);
	sc_device_feed(d, buf, len, 20000);
	cr_assert(d->have_reading);
	cr_assert_eq(sc_device_link(d, 20000), SC_LINK_OK);
	cr_assert_eq(d->reading_ms, 20000);
	struct sc_regmap want;
	struct sc_regmap_opts ro = {SC_WORDS_CDAB, false};
	sc_regmap_build(&want, &next, &ro);
	cr_assert_eq(memcmp(want.w, d->image.w, sizeof want.w), 0);
	sc_device_free(d);
}
