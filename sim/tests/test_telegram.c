/* Either protocol behind one stream (telegram.h): detection from the bytes
 * that tell, whatever the chunking, and the same events as the protocol's
 * own parser. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter.h"
#include "p1_gen.h"
#include "telegram.h"
#include "tic_gen.h"

struct seen {
	int ok, failed, garbage;
	enum sc_protocol proto;
	double p[16];
	uint64_t offsets[32];
	int n;
};

/* Feeds data in chunks of `chunk` bytes (0 = whole), the first chunk of
 * `first` bytes when non-zero, then finishes. */
static void run(const char *data, size_t len, size_t first, size_t chunk, struct seen *out)
{
	struct sc_tg_stream *s = sc_tg_stream_new(SC_PROTO_AUTO, 0);
	struct sc_tg_event *ev = malloc(sizeof *ev);
	cr_assert(s && ev);
	memset(out, 0, sizeof *out);
	size_t pos = 0;
	while (pos < len) {
		size_t n = pos == 0 && first ? first : chunk ? chunk : len - pos;
		if (n > len - pos)
			n = len - pos;
		const char *d = data + pos;
		pos += n;
		while (n > 0) {
			size_t used = sc_tg_feed(s, d, n, ev);
			d += used;
			n -= used;
			if (ev->kind == SC_TG_OK && out->ok < 16)
				out->p[out->ok] = ev->reading.q[SC_RQ_P].v;
			if (ev->kind != SC_TG_NONE && out->n < 32)
				out->offsets[out->n++] = ev->offset;
			out->ok += ev->kind == SC_TG_OK;
			out->failed += ev->kind == SC_TG_FAILED;
			out->garbage += ev->kind == SC_TG_GARBAGE;
		}
	}
	while (sc_tg_finish(s, ev) != SC_TG_NONE) {
		if (out->n < 32)
			out->offsets[out->n++] = ev->offset;
		out->ok += ev->kind == SC_TG_OK;
		out->failed += ev->kind == SC_TG_FAILED;
		out->garbage += ev->kind == SC_TG_GARBAGE;
	}
	out->proto = s->proto;
	sc_tg_stream_free(s);
	free(ev);
}

static size_t gen_tic(int n, char *buf, size_t cap)
{
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV, 1, 4, 1751371200, 0, 0};
	struct sc_tic_gen_opts o = {false, SC_TIC_CAL_BASE, SC_TIC_FAULT_NONE, 0, SC_TIC_TOTAL_SUM};
	sc_meter_init(&m, &mc);
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		sc_meter_advance(&m, mc.start + 2 * i);
		int k = sc_tic_gen(&m, &o, buf + len, cap - len, NULL);
		cr_assert_gt(k, 0);
		len += (size_t)k;
	}
	return len;
}

static size_t gen_p1(int n, char *buf, size_t cap)
{
	struct sc_meter m;
	struct sc_meter_config mc = {SC_PROFILE_PV_EV, 3, 4, 1751371200, 0, 0};
	struct sc_p1_gen_opts o = {SC_FLAVOUR_DSMR50, SC_P1_FAULT_NONE, 0};
	sc_meter_init(&m, &mc);
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		sc_meter_advance(&m, mc.start + i);
		int k = sc_p1_gen(&m, &o, buf + len, cap - len, NULL);
		cr_assert_gt(k, 0);
		len += (size_t)k;
	}
	return len;
}

static void same(const struct seen *a, const struct seen *b, const char *how)
{
	cr_assert_eq(a->proto, b->proto, "%s", how);
	cr_assert_eq(a->ok, b->ok, "%s: %d ok vs %d", how, a->ok, b->ok);
	cr_assert_eq(a->failed, b->failed, "%s", how);
	cr_assert_eq(a->garbage, b->garbage, "%s", how);
	cr_assert_eq(a->n, b->n, "%s", how);
	for (int i = 0; i < a->n; i++)
		cr_assert_eq(a->offsets[i], b->offsets[i], "%s: event %d", how, i);
	for (int i = 0; i < a->ok && i < 16; i++)
		cr_assert_eq(a->p[i], b->p[i], "%s", how);
}

static void every_way(const char *data, size_t len, const struct seen *want, size_t step)
{
	struct seen got;
	run(data, len, 1, 0, &got);
	same(want, &got, "one byte, then the rest");
	run(data, len, 0, 1, &got);
	same(want, &got, "byte by byte");
	for (size_t cut = 1; cut < len; cut += step) {
		run(data, len, cut, 0, &got);
		char how[64];
		snprintf(how, sizeof how, "split at %zu", cut);
		same(want, &got, how);
	}
}

Test(telegram, tic_detected_whatever_the_chunking)
{
	static char buf[3 * SC_TIC_GEN_MAX];
	size_t len = gen_tic(3, buf, sizeof buf);
	struct seen want;
	run(buf, len, 0, 0, &want);
	cr_assert_eq(want.proto, SC_PROTO_TIC);
	cr_assert_eq(want.ok, 3);
	every_way(buf, len, &want, 7);
}

Test(telegram, p1_detected_whatever_the_chunking)
{
	static char buf[3 * SC_P1_GEN_MAX];
	size_t len = gen_p1(3, buf, sizeof buf);
	struct seen want;
	run(buf, len, 0, 0, &want);
	cr_assert_eq(want.proto, SC_PROTO_P1);
	cr_assert_eq(want.ok, 3);
	every_way(buf, len, &want, 5);
}

Test(telegram, line_noise_before_p1_is_not_tic)
{
	static char buf[3 * SC_P1_GEN_MAX + 16];
	memcpy(buf, "ab\x02\nxx", 6);
	size_t len = 6 + gen_p1(3, buf + 6, sizeof buf - 6);
	struct seen want;
	run(buf, len, 0, 0, &want);
	cr_assert_eq(want.proto, SC_PROTO_P1);
	cr_assert_eq(want.ok, 3);
	cr_assert_eq(want.failed, 0);
	every_way(buf, len, &want, 11);
}

Test(telegram, detection_rules)
{
	cr_assert_eq(sc_protocol_detect("/ISK5\\2M550T", 12), SC_PROTO_P1);
	cr_assert_eq(sc_protocol_detect("xx/KFM5KAIFA", 12), SC_PROTO_P1);
	cr_assert_eq(sc_protocol_detect("/ISK", 4), SC_PROTO_AUTO, "not yet");
	cr_assert_eq(sc_protocol_detect("/12345", 6), SC_PROTO_AUTO);
	cr_assert_eq(sc_protocol_detect("\x02\nADSC\t0", 8), SC_PROTO_TIC);
	cr_assert_eq(sc_protocol_detect("\x02\r\nADSC\t0", 9), SC_PROTO_TIC, "a CR LF log");
	cr_assert_eq(sc_protocol_detect("\x02\nADCO 0", 8), SC_PROTO_TIC, "historic is TIC too");
	cr_assert_eq(sc_protocol_detect("\x02\nxx", 4), SC_PROTO_AUTO, "STX LF alone is noise");
	cr_assert_eq(sc_protocol_detect("\x02\nADSC", 6), SC_PROTO_AUTO, "not yet");
	cr_assert_eq(sc_protocol_detect("", 0), SC_PROTO_AUTO);
}

/* Nothing recognisable in SC_TG_DETECT_MAX bytes: the stream takes P1,
 * reports the bytes as garbage, and reads the telegrams after them. */
Test(telegram, undecided_input_is_p1_garbage)
{
	size_t noise = SC_TG_DETECT_MAX + 100;
	char *buf = malloc(noise + SC_P1_GEN_MAX);
	memset(buf, 'z', noise);
	size_t len = noise + gen_p1(1, buf + noise, SC_P1_GEN_MAX);
	struct seen want, got;
	run(buf, len, 0, 0, &want);
	cr_assert_eq(want.proto, SC_PROTO_P1);
	cr_assert_eq(want.ok, 1);
	cr_assert_geq(want.garbage, 1);
	run(buf, len, 0, 1, &got);
	same(&want, &got, "byte by byte");
	run(buf, len, 0, 4096, &got);
	same(&want, &got, "4 KiB reads");
	/* An input that ends undecided is read as P1 at its end. */
	run(buf, 100, 0, 0, &got);
	cr_assert_eq(got.proto, SC_PROTO_P1);
	cr_assert_eq(got.garbage, 1);
	free(buf);
}
