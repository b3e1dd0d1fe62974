/* P1 framer and object decoder: framing, CRC, resynchronisation, limits,
 * every object format, and malformed input. */
#include <criterion/criterion.h>
#include <string.h>

#include "p1_test_util.h"
#include "sc_error.h"

#define HDR "ISK5\\2M550T-1012"
#define BODY                                             \
	"1-3:0.2.8(50)\r\n"                              \
	"0-0:1.0.0(190324150519W)\r\n"                   \
	"0-0:96.1.1(4530303434303037313331363530363138)\r\n" \
	"1-0:1.8.1(003432.827*kWh)\r\n"                  \
	"1-0:1.8.2(003224.632*kWh)\r\n"                  \
	"1-0:2.8.1(000001.000*kWh)\r\n"                  \
	"1-0:2.8.2(000000.500*kWh)\r\n"                  \
	"0-0:96.14.0(0001)\r\n"                          \
	"1-0:1.7.0(00.378*kW)\r\n"                       \
	"1-0:2.7.0(00.000*kW)\r\n"                       \
	"1-0:32.7.0(237.1*V)\r\n"                        \
	"1-0:31.7.0(002*A)\r\n"                          \
	"1-0:21.7.0(00.378*kW)\r\n"                      \
	"1-0:22.7.0(00.000*kW)\r\n"

static struct recording *rec, *rec2;

static void setup(void)
{
	rec = rec_new();
	rec2 = rec_new();
}

static void teardown(void)
{
	free(rec);
	free(rec2);
}

TestSuite(p1_parse, .init = setup, .fini = teardown);

/* Parse one telegram with the given body and return its single event. */
static struct rec_event *one(const char *body, unsigned flags)
{
	char *t = tg_make(HDR, body);
	feed_checked(t, strlen(t), flags, rec);
	free(t);
	cr_assert_eq(rec->n, 1, "expected one event, got %d", rec->n);
	return &rec->ev[0];
}

static struct rec_event *good(const char *body)
{
	struct rec_event *e = one(body, 0);
	cr_assert_eq(e->ev, SC_P1_TELEGRAM, "event %s: %s", sc_p1_event_name(e->ev), e->detail);
	return e;
}

static void syntax(const char *body, const char *why)
{
	struct rec_event *e = one(body, 0);
	cr_assert_eq(e->ev, SC_P1_SYNTAX, "%s: got %s", why, sc_p1_event_name(e->ev));
	cr_assert_gt(strlen(e->detail), 0);
}

Test(p1_parse, one_telegram_whole)
{
	char *t = tg_make(HDR, BODY);
	feed_checked(t, strlen(t), 0, rec);
	cr_assert_eq(rec->n, 1);
	struct rec_event *e = &rec->ev[0];
	cr_assert_eq(e->ev, SC_P1_TELEGRAM);
	cr_assert_eq(e->offset, 0);
	cr_assert_eq(e->length, strlen(t) - 2); /* CR LF after the CRC is not part of it */
	cr_assert_str_eq(e->tg.maker, "ISK");
	cr_assert_eq(e->tg.version, 50);
	cr_assert(e->tg.has_crc);
	free(t);
}

Test(p1_parse, byte_by_byte_and_every_split_give_the_same_events)
{
	char *t1 = tg_make(HDR, BODY);
	char *t2 = tg_make("KFM5KAIFA-METER", "1-3:0.2.8(42)\r\n1-0:1.7.0(01.000*kW)\r\n");
	char stream[4096];
	int n = snprintf(stream, sizeof stream, "xx%s\r\n%sjunk!\r\n%s", t1, t2, t1);
	feed_checked(stream, (size_t)n, 0, rec);
	cr_assert_eq(rec->n, 5, "events: %d", rec->n);
	cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[2].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[3].ev, SC_P1_GARBAGE, "\"junk!\" between telegrams");
	cr_assert_eq(rec->ev[4].ev, SC_P1_TELEGRAM);
	feed_all(stream, (size_t)n, 1, 0, rec2);
	cr_assert(same_events(rec, rec2), "byte by byte differs");
	for (size_t cut = 0; cut <= (size_t)n; cut++) {
		feed_split(stream, (size_t)n, cut, 0, rec2);
		cr_assert(same_events(rec, rec2), "split at %zu differs", cut);
	}
	for (size_t chunk = 2; chunk < 64; chunk += 7) {
		feed_all(stream, (size_t)n, chunk, 0, rec2);
		cr_assert(same_events(rec, rec2), "chunk %zu differs", chunk);
	}
	free(t1);
	free(t2);
}

Test(p1_parse, garbage_before_and_between_is_reported_with_offset)
{
	char *t = tg_make(HDR, BODY);
	char stream[4096];
	size_t tl = strlen(t);
	memcpy(stream, "\x01\x02NOISE", 7);
	memcpy(stream + 7, t, tl);
	memcpy(stream + 7 + tl, "\r\n  zz", 6);
	memcpy(stream + 13 + tl, t, tl);
	feed_checked(stream, 13 + 2 * tl, 0, rec);
	cr_assert_eq(rec->n, 4);
	cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[0].length, 7);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].offset, 7);
	cr_assert_eq(rec->ev[2].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[2].offset, 7 + tl + 4, "garbage offset %llu",
		     (unsigned long long)rec->ev[2].offset);
	cr_assert_eq(rec->ev[2].length, 2);
	cr_assert_eq(rec->ev[3].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[3].offset, 13 + tl);
	free(t);
}

Test(p1_parse, whitespace_between_telegrams_is_not_garbage)
{
	char *t = tg_make(HDR, BODY);
	char stream[4096];
	int n = snprintf(stream, sizeof stream, "\r\n \t%s\r\n\r\n%s\r\n", t, t);
	feed_checked(stream, (size_t)n, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	free(t);
}

Test(p1_parse, next_header_glued_after_crc)
{
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t) - 2; /* without CR LF */
	char stream[4096];
	memcpy(stream, t, tl);
	memcpy(stream + tl, t, tl + 2);
	feed_checked(stream, 2 * tl + 2, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].offset, tl);
	free(t);
}

Test(p1_parse, crc_mismatch_is_reported_and_parsing_continues)
{
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	char stream[4096];
	memcpy(stream, t, tl);
	stream[tl - 3] = stream[tl - 3] == '0' ? '1' : '0'; /* corrupt a CRC digit */
	memcpy(stream + tl, t, tl);
	feed_checked(stream, 2 * tl, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_CRC_MISMATCH);
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[0].error_offset, tl - 6, "CRC error at the '!' + 1");
	cr_assert(strstr(rec->ev[0].detail, "computed"));
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	free(t);
}

Test(p1_parse, corrupted_body_byte_fails_crc)
{
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	for (size_t i = 1; i < tl - 7; i += 13) {
		char *c = malloc(tl + 1);
		memcpy(c, t, tl + 1);
		c[i] = (char)(c[i] ^ 0x01);
		if (c[i] == '/' || c[i] == '!')
			c[i] = (char)(c[i] ^ 0x02);
		feed_checked(c, tl, 0, rec);
		cr_assert_eq(rec->n, 1, "flip at %zu", i);
		cr_assert_eq(rec->ev[0].ev, SC_P1_CRC_MISMATCH, "flip at %zu: %s", i,
			     sc_p1_event_name(rec->ev[0].ev));
		free(c);
	}
	free(t);
}

Test(p1_parse, lower_case_and_unpadded_crc_accepted)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "/XMX5TEST\r\n\r\n1-3:0.2.8(50)\r\n!");
	uint16_t crc = sc_crc16(buf, (size_t)n);
	snprintf(buf + n, sizeof buf - (size_t)n, "%04x\r\n", crc);
	feed_checked(buf, strlen(buf), 0, rec);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM, "lower case");

	/* Find a telegram whose CRC is below 0x1000 to write it unpadded. */
	for (int k = 0; k < 100000; k++) {
		n = snprintf(buf, sizeof buf, "/XMX5TEST\r\n\r\n1-3:0.2.8(50)\r\n0-0:96.13.0(%d)\r\n!", k);
		crc = sc_crc16(buf, (size_t)n);
		if (crc < 0x1000)
			break;
	}
	cr_assert_lt(crc, 0x1000);
	snprintf(buf + n, sizeof buf - (size_t)n, "%X\r\n", crc);
	feed_checked(buf, strlen(buf), 0, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM, "unpadded: %s", rec->ev[0].detail);
	/* Unpadded CRC at the very end of input, without CR LF. */
	buf[strlen(buf) - 2] = '\0';
	feed_checked(buf, strlen(buf), 0, rec);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM);
}

Test(p1_parse, missing_crc_needs_the_no_crc_option)
{
	const char *t = "/XMX5TEST\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.7.0(01.000*kW)\r\n!\r\n";
	feed_checked(t, strlen(t), 0, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_FRAMING);
	cr_assert(strstr(rec->ev[0].detail, "no CRC"));
	feed_checked(t, strlen(t), SC_P1_NO_CRC, rec);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM);
	cr_assert_not(rec->ev[0].tg.has_crc);
	cr_assert_eq(rec->ev[0].reading.q[SC_RQ_P_PLUS].v, 1000.0);
}

Test(p1_parse, bad_character_in_crc_line)
{
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	t[tl - 4] = 'G';
	char stream[4096];
	memcpy(stream, t, tl);
	char *t2 = tg_make(HDR, BODY);
	memcpy(stream + tl, t2, tl);
	feed_checked(stream, 2 * tl, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_FRAMING);
	cr_assert_eq(rec->ev[0].error_offset, tl - 4);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM, "the rest of the bad line is not garbage");
	free(t);
	free(t2);
}

Test(p1_parse, truncated_by_next_header)
{
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	char stream[4096];
	size_t cut = tl / 2;
	memcpy(stream, t, cut);
	memcpy(stream + cut, t, tl);
	feed_checked(stream, cut + tl, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_FRAMING);
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[0].length, cut);
	cr_assert_eq(rec->ev[0].error_offset, cut);
	cr_assert(strstr(rec->ev[0].detail, "cut short"));
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].offset, cut);
	free(t);
}

Test(p1_parse, truncated_at_end_of_input)
{
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	feed_checked(t, tl - 20, 0, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_FRAMING);
	cr_assert_eq(rec->ev[0].error_offset, tl - 20);
	cr_assert(strstr(rec->ev[0].detail, "ended"));
	free(t);
}

Test(p1_parse, oversize_telegram_overflows_then_recovers)
{
	/* feed_checked: whole, byte by byte, in chunks and split at every
	 * position. */
	size_t big = SC_P1_BUF_SIZE + 100;
	char *body = malloc(big + 64);
	strcpy(body, "0-0:96.13.0(");
	size_t n = strlen(body);
	memset(body + n, 'A', big);
	strcpy(body + n + big, ")\r\n");
	char *t = tg_make(HDR, body);
	char *t2 = tg_make(HDR, BODY);
	size_t tl = strlen(t), t2l = strlen(t2);
	char *stream = malloc(tl + t2l);
	memcpy(stream, t, tl);
	memcpy(stream + tl, t2, t2l);
	feed_checked(stream, tl + t2l, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_OVERFLOW);
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[0].length, SC_P1_BUF_SIZE - 4 + 1);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].offset, tl);
	free(body);
	free(t);
	free(t2);
	free(stream);
}

Test(p1_parse, oversize_without_bang_overflows_at_the_same_offset_however_fed)
{
	/* More than the buffer holds and no '!', then the next telegram: the
	 * overflow is found at the first byte that does not fit, before the
	 * next '/' is seen, whether the bytes come at once, one by one or in
	 * 4096-byte reads. */
	size_t big = 9000;
	char *stream = malloc(big + 2048);
	int hn = snprintf(stream, big, "/%s\r\n\r\n0-0:96.13.0(", HDR);
	size_t n = (size_t)hn;
	memset(stream + n, 'A', big - n);
	n = big;
	memcpy(stream + n, ")\r\n", 3);
	n += 3;
	char *t2 = tg_make(HDR, BODY);
	size_t t2l = strlen(t2);
	memcpy(stream + n, t2, t2l);
	feed_checked(stream, n + t2l, 0, rec);
	cr_assert_eq(rec->n, 2, "events: %d", rec->n);
	cr_assert_eq(rec->ev[0].ev, SC_P1_OVERFLOW, "%s", sc_p1_event_name(rec->ev[0].ev));
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[0].error_offset, SC_P1_BUF_SIZE - 4);
	cr_assert_eq(rec->ev[0].length, SC_P1_BUF_SIZE - 4 + 1);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].offset, n);

	/* A '/' exactly where the buffer is full still cuts the telegram
	 * short (a '/' needs no room), and one byte later it comes after the
	 * overflow. */
	for (size_t extra = 0; extra < 2; extra++) {
		size_t at = SC_P1_BUF_SIZE - 4 + extra;
		memset(stream + hn, 'A', at - (size_t)hn);
		memcpy(stream + at, t2, t2l);
		feed_checked(stream, at + t2l, 0, rec);
		cr_assert_eq(rec->n, 2);
		cr_assert_eq(rec->ev[0].ev, extra == 0 ? SC_P1_FRAMING : SC_P1_OVERFLOW,
			     "'/' at %zu: %s", at, sc_p1_event_name(rec->ev[0].ev));
		cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
		cr_assert_eq(rec->ev[1].offset, at);
	}
	free(t2);
	free(stream);
}

Test(p1_parse, largest_telegram_that_fits)
{
	/* A 6000-character text message: far over any single-line limit a
	 * fixed-size line reader would have, still within the buffer. */
	char *body = malloc(7000);
	strcpy(body, "1-3:0.2.8(50)\r\n0-0:96.13.0(");
	size_t n = strlen(body);
	memset(body + n, '4', 6000);
	strcpy(body + n + 6000, ")\r\n");
	struct rec_event *e = good(body);
	cr_assert_eq(e->tg.message.len, 6000);
	free(body);
}

Test(p1_parse, sixty_four_kilobytes_without_slash)
{
	/* feed_checked: whole, byte by byte, in chunks, and (64 KiB being too
	 * much to split everywhere) split at every position around the start,
	 * the end and the buffer limits, and at seeded random positions. */
	size_t n = 65536;
	char *junk = malloc(n);
	for (size_t i = 0; i < n; i++)
		junk[i] = (char)("abc!\0\x7f\xff"[i % 7]);
	feed_checked(junk, n, 0, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[0].length, n);
	free(junk);
}

Test(p1_parse, nul_bytes)
{
	/* NUL between telegrams is garbage; inside one it breaks the CRC, and
	 * with a CRC computed over it the object is rejected. */
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	char stream[4096];
	memset(stream, 0, 5);
	memcpy(stream + 5, t, tl);
	feed_checked(stream, 5 + tl, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);

	char body[256] = "1-3:0.2.8(50)\r\n1-0:1.7.0(00.3";
	size_t bl = strlen(body);
	memcpy(body + bl, "\0" "78*kW)\r\n", 9);
	char buf[512];
	int hn = snprintf(buf, sizeof buf, "/%s\r\n\r\n", HDR);
	memcpy(buf + hn, body, bl + 9);
	size_t len = (size_t)hn + bl + 8;
	buf[len++] = '!';
	snprintf(buf + len, sizeof buf - len, "%04X\r\n", sc_crc16(buf, len));
	feed_checked(buf, len + 6, 0, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_SYNTAX);
	cr_assert_eq(rec->ev[0].error_offset, (uint64_t)hn + bl);
	free(t);
}

Test(p1_parse, zeroed_parser_is_valid_and_reset_keeps_flags)
{
	struct sc_p1_parser *p = calloc(1, sizeof *p);
	struct sc_p1_result *res = malloc(sizeof *res);
	char *t = tg_make(HDR, BODY);
	size_t used = sc_p1_feed(p, t, strlen(t), res);
	cr_assert_eq(res->event, SC_P1_TELEGRAM);
	cr_assert_lt(used, strlen(t));
	p->flags = SC_P1_NO_CRC;
	sc_p1_feed(p, t, 10, res);
	sc_p1_reset(p);
	cr_assert_eq(p->flags, SC_P1_NO_CRC);
	used = sc_p1_feed(p, t, strlen(t), res);
	cr_assert_eq(res->event, SC_P1_TELEGRAM);
	free(t);
	free(p);
	free(res);
}

/* ---- objects ---- */

Test(p1_parse, timestamps_summer_winter_and_placeholders)
{
	struct sc_p1_time t;
	cr_assert_eq(sc_p1_parse_time("190324150519W", 13, &t), SC_OK);
	cr_assert(t.set);
	cr_assert_eq(t.epoch, 1553436319); /* 14:05:19 UTC */
	cr_assert_eq(sc_p1_parse_time("200512135409S", 13, &t), SC_OK);
	cr_assert_eq(t.epoch, 1589284449); /* 11:54:09 UTC */
	cr_assert_eq(t.dst, 'S');
	const char *fillers[] = {"000101000001W", "632525252525W", "700101010000W", "000000000000S"};
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(sc_p1_parse_time(fillers[i], 13, &t), SC_OK, "%s", fillers[i]);
		cr_assert(t.placeholder, "%s", fillers[i]);
		cr_assert_not(t.set);
	}
	const char *bad[] = {"190324150519X", "19032415051W", "1903241505190W", "19O324150519W",
			     "190324150519w"};
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(sc_p1_parse_time(bad[i], strlen(bad[i]), &t), SC_ERR_SYNTAX, "%s",
			     bad[i]);
}

Test(p1_parse, values_and_units_are_normalised)
{
	struct rec_event *e = good("1-3:0.2.8(50)\r\n"
				   "1-0:1.8.0(006545766*Wh)\r\n"
				   "1-0:1.7.0(000000286*W)\r\n"
				   "1-0:3.7.0(01.500*kvar)\r\n"
				   "1-0:5.8.0(000000.668*kvarh)\r\n"
				   "1-0:31.7.0(000.52*A)\r\n"
				   "0-0:17.0.0(999.9*kW)\r\n");
	cr_assert_eq(e->tg.import_total.v, 6545766.0);
	cr_assert_eq(e->tg.import_total.unit, SC_UNIT_WH);
	cr_assert_eq(e->tg.power_import.v, 286.0);
	cr_assert_eq(e->tg.reactive_import.v, 1500.0);
	cr_assert_eq(e->tg.reactive_energy_quadrant[0].v, 668.0);
	cr_assert_eq(e->tg.current[0].v, 0.52);
	cr_assert_float_eq(e->tg.limiter.v, 999900.0, 1e-6);
}

Test(p1_parse, obis_value_group_f_suffix)
{
	struct rec_event *e = good("1-3:0.2.8*255(50)\r\n1-0:1.7.0*255(01.193*kW)\r\n");
	cr_assert_eq(e->tg.version, 50);
	cr_assert_eq(e->tg.power_import.v, 1193.0);
}

Test(p1_parse, failure_log)
{
	struct rec_event *e = good("1-3:0.2.8(50)\r\n1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)"
				   "(0000000240*s)(101208151004W)(0000000301*s)\r\n");
	cr_assert_eq(e->tg.failure_log_count, 2);
	cr_assert_eq(e->tg.failure_log[1].duration_s, 301.0);
	cr_assert(e->tg.failure_log[0].end.set);
	e = good("1-3:0.2.8(50)\r\n1-0:99.97.0()\r\n");
	cr_assert_eq(e->tg.failure_log_count, 0);
	e = good("1-3:0.2.8(50)\r\n1-0:99.97.0(0)(0-0:96.7.19)\r\n");
	cr_assert_eq(e->tg.failure_log_count, 0);
	syntax("1-3:0.2.8(50)\r\n1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)\r\n",
	       "count says 2, one entry");
	/* A duration in another unit: the log is set aside (test_p1_field.c),
	 * or fails the telegram when read strictly. */
	e = one("1-3:0.2.8(50)\r\n1-0:99.97.0(1)(0-0:96.7.19)(101208152415W)(0000000240*kW)\r\n",
		SC_P1_STRICT);
	cr_assert_eq(e->ev, SC_P1_SYNTAX, "duration unit, strict: got %s", sc_p1_event_name(e->ev));
}

Test(p1_parse, mbus_selected_by_device_type)
{
	struct rec_event *e = good("1-3:0.2.8(50)\r\n"
				   "0-1:24.1.0(007)\r\n0-1:96.1.0(3853414731323334353637383930)\r\n"
				   "0-1:24.2.1(200512134558S)(00872.234*m3)\r\n"
				   "0-3:24.1.0(003)\r\n0-3:96.1.0(4730303339303031393336393930363139)\r\n"
				   "0-3:24.2.1(200426223001S)(00246.138*m3)\r\n"
				   "0-3:24.4.0(1)\r\n");
	cr_assert_eq(e->tg.mbus[0].device_type, 7);
	cr_assert_eq(e->tg.mbus[2].channel, 3);
	cr_assert_eq(e->tg.mbus[2].valve, 1);
	cr_assert_eq(e->tg.mbus[1].channel, 0);
	cr_assert(e->reading.gas_m3.set);
	cr_assert_eq(e->reading.gas_m3.v, 246.138);
	e = good("1-3:0.2.8(50)\r\n0-1:24.1.0(003)\r\n0-1:24.2.1(700101010000W)(00000000)\r\n");
	cr_assert(e->tg.mbus[0].reading_time.placeholder);
	cr_assert_not(e->reading.gas_m3.set, "placeholder reading is not a gas value");
	e = good("0-0:96.1.4(50217)\r\n0-1:24.1.0(003)\r\n0-1:24.2.3(200512134558S)(00112.384*m3)\r\n");
	cr_assert_not(e->tg.mbus[0].corrected);
	cr_assert_eq(e->reading.gas_m3.v, 112.384);
}

Test(p1_parse, hex_strings_and_messages_kept_as_sent)
{
	struct rec_event *e = good("1-3:0.2.8(50)\r\n0-0:96.1.1(4B384547303034303436333935353037)\r\n"
				   "0-0:96.13.0(48656C6C6F)\r\n0-0:96.13.1()\r\n");
	cr_assert_eq(e->tg.equipment_id.len, 32);
	cr_assert_str_eq(e->reading.meter_id, "4B384547303034303436333935353037");
	cr_assert_eq(strncmp(e->raw + e->tg.message.off, "48656C6C6F", 10), 0);
	cr_assert_eq(e->tg.message_code.len, 0);
}

Test(p1_parse, emucs_objects)
{
	struct rec_event *e = good(
		"0-0:96.1.4(50217)\r\n"
		"1-0:1.4.0(02.351*kW)\r\n"
		"1-0:1.6.0(200509134558S)(02.589*kW)\r\n"
		"0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)"
		"(200401000000S)(632525252525W)(00.000*kW)\r\n"
		"0-0:96.3.10(1)\r\n0-0:17.0.0(999.9*kW)\r\n1-0:31.4.0(999*A)\r\n");
	cr_assert_eq(e->tg.emucs_version, 50217);
	cr_assert_eq(e->tg.demand_avg.v, 2351.0);
	cr_assert_eq(e->tg.demand_max.v, 2589.0);
	cr_assert_eq(e->tg.demand_hist_count, 2);
	cr_assert_eq(e->tg.demand_hist[0].w, 3695.0);
	cr_assert(e->tg.demand_hist[1].when.placeholder);
	cr_assert_eq(e->tg.breaker_state, 1);
	cr_assert_eq(e->tg.fuse[0].v, 999.0);
	cr_assert_eq(e->reading.flavour, SC_FLAVOUR_EMUCS);
	e = good("0-0:96.1.4(50217)\r\n0-0:98.1.0(0)(1-0:1.6.0)(1-0:1.6.0)()\r\n");
	cr_assert_eq(e->tg.demand_hist_count, 0, "empty history as Fluvius sends it");
	syntax("0-0:96.1.4(50217)\r\n0-0:98.1.0(0)(1-0:1.6.0)(1-0:1.6.0)()()\r\n",
	       "empty history with two empty values");
	syntax("0-0:96.1.4(50217)\r\n0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)"
	       "(200423192538S)(03.695*kW)\r\n", "history count mismatch");
}

Test(p1_parse, unknown_objects_are_kept_raw)
{
	struct rec_event *e = good("1-3:0.2.8(50)\r\n1-0:14.7.0(50.00*Hz)\r\n"
				   "0-0:42.0.0(53414733303832323030303032313630)\r\n"
				   "0-1:24.3.0(161107190000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n"
				   "1-0:1.7.0(00.100*kW)\r\n");
	cr_assert_eq(e->tg.unknown_count, 3);
	cr_assert_eq(strncmp(e->raw + e->tg.unknown[0].off, "1-0:14.7.0(50.00*Hz)", 20), 0);
	cr_assert_eq(e->tg.unknown[0].len, 20);
	cr_assert_eq(e->tg.objects, 5);
}

Test(p1_parse, malformed_objects_are_syntax_errors)
{
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01.193*V)\r\n", "wrong unit");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01.193)\r\n", "missing unit");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01,193*kW)\r\n", "comma");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(*kW)\r\n", "no digits");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01.193*kW\r\n", "unclosed");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01.193*kW)x\r\n", "text after value");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01.193*kW)(1)\r\n", "two values");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0\r\n", "no value");
	syntax("1-3:0.2.8(50)\r\nhello world\r\n", "not OBIS");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7(01.193*kW)\r\n", "short OBIS");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0((01.193*kW)\r\n", "nested paren");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(0000000000000000001.0*kW)\r\n", "too many digits");
	syntax("1-3:0.2.8(50)\r\n0-0:1.0.0(190324150519X)\r\n", "bad timestamp");
	syntax("1-3:0.2.8(5x)\r\n", "bad version");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01.193*kW)\x7f\r\n", "DEL byte");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(01.1\xc3\xa9*kW)\r\n", "UTF-8 byte");
	syntax("1-3:0.2.8(50)\r\n1-0:999.7.0(1)\r\n", "OBIS field over 255");
}

Test(p1_parse, short_identification_is_rejected)
{
	char buf[64];
	int n = snprintf(buf, sizeof buf, "/AB\r\n\r\n1-3:0.2.8(50)\r\n!");
	snprintf(buf + n, sizeof buf - (size_t)n, "%04X\r\n", sc_crc16(buf, (size_t)n));
	feed_checked(buf, strlen(buf), 0, rec);
	cr_assert_eq(rec->ev[0].ev, SC_P1_SYNTAX);
}

Test(p1_parse, versions)
{
	struct rec_event *e = one("1-3:0.2.8(40)\r\n", 0);
	cr_assert_eq(e->ev, SC_P1_UNSUPPORTED);
	cr_assert(strstr(e->detail, "4.2"));
	e = one("1-3:0.2.8(40)\r\n", SC_P1_ANY_VERSION);
	cr_assert_eq(e->ev, SC_P1_TELEGRAM);
	e = good("1-3:0.2.8(502)\r\n");
	cr_assert_eq(e->tg.version, 50);
	e = good("1-3:0.2.8(42)\r\n");
	cr_assert_eq(e->reading.flavour, SC_FLAVOUR_DSMR42);
	/* No version object but a CRC: a 5.0-style meter (e.g. Hungarian). */
	e = good("1-0:1.7.0(00.100*kW)\r\n");
	cr_assert_eq(e->reading.flavour, SC_FLAVOUR_DSMR50);
}

Test(p1_parse, dsmr22_without_crc_is_unsupported)
{
	const char *t = "/ISk5\\2MT382-1004\r\n\r\n0-0:96.1.1(00000000000000)\r\n"
			"1-0:1.7.0(0001.01*kW)\r\n"
			"0-1:24.3.0(161107190000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00001.001)\r\n!\r\n";
	feed_checked(t, strlen(t), 0, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_UNSUPPORTED);
	cr_assert(strstr(rec->ev[0].detail, "DSMR 2.2"));
	feed_checked(t, strlen(t), SC_P1_NO_CRC, rec);
	cr_assert_eq(rec->ev[0].ev, SC_P1_UNSUPPORTED, "no-CRC alone does not accept old meters");
	feed_checked(t, strlen(t), SC_P1_ANY_VERSION, rec);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[0].tg.unknown_count, 2);
}

Test(p1_parse, lf_only_line_endings)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "/KFM5KAIFA\n\n1-3:0.2.8(42)\n1-0:1.7.0(00.500*kW)\n!");
	snprintf(buf + n, sizeof buf - (size_t)n, "%04X\n", sc_crc16(buf, (size_t)n));
	feed_checked(buf, strlen(buf), 0, rec);
	cr_assert_eq(rec->ev[0].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[0].tg.power_import.v, 500.0);
}

Test(p1_parse, decode_rejects_bad_frames_directly)
{
	struct sc_p1_telegram *tg = malloc(sizeof *tg);
	char detail[160];
	size_t off;
	cr_assert_eq(sc_p1_decode("x", 1, 0, tg, &off, detail, sizeof detail), SC_ERR_SYNTAX);
	cr_assert_eq(sc_p1_decode("/ISK5abc\r\n1-3:0.2.8(50)\r\n", 25, 0, tg, &off, detail,
				  sizeof detail), SC_ERR_SYNTAX);
	cr_assert(strstr(detail, "'!'"));
	cr_assert_eq(sc_p1_decode("/ISK5abc\r\n1-3:0.2.8(50)\r\n!", 26, 0, tg, NULL, detail, 0),
		     SC_OK);
	free(tg);
}

Test(p1_parse, event_names)
{
	cr_assert_str_eq(sc_p1_event_name(SC_P1_CRC_MISMATCH), "crc");
	cr_assert_str_eq(sc_p1_event_name(SC_P1_UNSUPPORTED), "unsupported");
	cr_assert_str_eq(sc_strerror(SC_ERR_OVERFLOW), "telegram too large");
}

Test(p1_parse, tic_frames_on_a_p1_input_are_unsupported)
{
	/* Two TIC frames (one with a '/' in its text), then a P1 telegram. */
	const char *tic = "\x02\nADSC\t012345678910\t;\r\nNGTF\tH PLEINE/CREUSE \t\\\r\x03"
			  "\x02\nADSC\t012345678910\t;\r\x03";
	char *t = tg_make(HDR, BODY);
	char stream[4096];
	size_t tl = strlen(tic);
	memcpy(stream, tic, tl);
	memcpy(stream + tl, t, strlen(t));
	feed_checked(stream, tl + strlen(t), 0, rec);
	cr_assert_eq(rec->n, 3);
	cr_assert_eq(rec->ev[0].ev, SC_P1_UNSUPPORTED);
	cr_assert(strstr(rec->ev[0].detail, "TIC"));
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert_eq(rec->ev[1].ev, SC_P1_UNSUPPORTED);
	cr_assert_eq(rec->ev[2].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[2].offset, tl);
	free(t);
}

Test(p1_parse, stray_stx_is_garbage)
{
	char *t = tg_make(HDR, BODY);
	char stream[4096] = "\x02x\x02";
	size_t tl = strlen(t);
	memcpy(stream + 3, t, tl);
	feed_checked(stream, 3 + tl, 0, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[0].length, 3);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	feed_checked("ab\x02", 3, 0, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[0].length, 3);
	free(t);
}

Test(p1_parse, kilo_units_scale_exactly)
{
	/* 02.027 kW must be exactly 2027 W, not 2.027 x 1000 rounded twice. */
	struct sc_p1_telegram *tg = malloc(sizeof *tg);
	char detail[160];
	for (unsigned w = 0; w < 3000000; w += 997) {
		char t[128];
		int n = snprintf(t, sizeof t,
				 "/XMX5TEST\r\n\r\n1-0:1.7.0(%02u.%03u*kW)\r\n1-0:1.8.1(%06u.%03u*kWh)\r\n!",
				 w / 1000, w % 1000, w / 1000, w % 1000);
		cr_assert_eq(sc_p1_decode(t, (size_t)n, SC_P1_ANY_VERSION, tg, NULL, detail,
					  sizeof detail), SC_OK,
			     "%s", detail);
		cr_assert_eq(tg->power_import.v, (double)w, "%u W", w);
		cr_assert_eq(tg->import_tariff[0].v, (double)w, "%u Wh", w);
	}
	free(tg);
}

/* ---- STX LF line noise and TIC frames (audit finding 1) ---- */

Test(p1_parse, stx_lf_noise_before_between_and_after_telegrams)
{
	/* STX LF not followed by a TIC label is two bytes of noise: the STX is
	 * garbage, and the P1 telegrams around it all come through. */
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	char stream[8192];
	size_t n = 0;
	memcpy(stream + n, "\x02\n", 2), n += 2;
	memcpy(stream + n, t, tl), n += tl;
	memcpy(stream + n, "\x02\n", 2), n += 2;
	memcpy(stream + n, t, tl), n += tl;
	memcpy(stream + n, "\x02\r\n", 3), n += 3; /* STX CR LF, as logs keep it */
	memcpy(stream + n, t, tl), n += tl;
	memcpy(stream + n, "\x02\n", 2), n += 2;
	feed_checked(stream, n, 0, rec);
	cr_assert_eq(rec->n, 7, "events: %d", rec->n);
	static const enum sc_p1_event want[7] = {SC_P1_GARBAGE, SC_P1_TELEGRAM, SC_P1_GARBAGE,
						 SC_P1_TELEGRAM, SC_P1_GARBAGE, SC_P1_TELEGRAM,
						 SC_P1_GARBAGE};
	static const uint64_t at[7] = {0, 2, 0, 0, 0, 0, 0};
	for (int i = 0; i < 7; i++)
		cr_assert_eq(rec->ev[i].ev, want[i], "event %d: %s (%s)", i,
			     sc_p1_event_name(rec->ev[i].ev), rec->ev[i].detail);
	cr_assert_eq(rec->ev[0].offset, at[0]);
	cr_assert_eq(rec->ev[0].length, 1);
	cr_assert_eq(rec->ev[1].offset, at[1]);
	cr_assert_eq(rec->ev[2].offset, 2 + tl);
	cr_assert_eq(rec->ev[2].length, 1);
	cr_assert_eq(rec->ev[3].offset, 4 + tl);
	cr_assert_eq(rec->ev[5].offset, 7 + 2 * tl);
	cr_assert_eq(rec->ev[6].offset, 7 + 3 * tl);
	cr_assert_eq(rec->ev[6].length, 1);
	free(t);
}

Test(p1_parse, stx_lf_then_text_that_is_no_tic_label_is_garbage)
{
	/* Lower case, a label without separator, a separator without label,
	 * a label longer than TIC allows: none is a TIC group. */
	static const char *const noise[] = {"\x02\nadsc\t", "\x02\nADSC;", "\x02\n\t",
					    "\x02\nABCDEFGHIJ\t", "\x02\nA\t"};
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t);
	for (size_t k = 0; k < sizeof noise / sizeof noise[0]; k++) {
		char stream[4096];
		size_t nl = strlen(noise[k]);
		memcpy(stream, noise[k], nl);
		memcpy(stream + nl, t, tl);
		feed_checked(stream, nl + tl, 0, rec);
		cr_assert_eq(rec->n, 2, "noise %zu: %d events", k, rec->n);
		cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE, "noise %zu: %s", k,
			     sc_p1_event_name(rec->ev[0].ev));
		cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM, "noise %zu", k);
		cr_assert_eq(rec->ev[1].offset, nl);
	}
	free(t);
}

Test(p1_parse, tic_frame_without_etx_ends_at_the_next_dsmr_header)
{
	/* A TIC frame cut before its ETX, then P1 telegrams: the skip ends at
	 * '/' + three letters + a digit, not at a '/' in the TIC text. */
	const char *tic = "\x02\nADSC\t012345678910\t;\r\nNGTF\tH PLEINE/CREUSE \t\\\r\n"
			  "MSG1\t/AB 1/ABC/ /abc\t?\r";
	char *t = tg_make(HDR, BODY);
	char stream[8192];
	size_t n = strlen(tic), tl = strlen(t);
	memcpy(stream, tic, n);
	memcpy(stream + n, t, tl);
	memcpy(stream + n + tl, t, tl);
	feed_checked(stream, n + 2 * tl, 0, rec);
	cr_assert_eq(rec->n, 3, "events: %d", rec->n);
	cr_assert_eq(rec->ev[0].ev, SC_P1_UNSUPPORTED);
	cr_assert_eq(rec->ev[0].offset, 0);
	cr_assert(strstr(rec->ev[0].detail, "TIC"));
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM, "%s", sc_p1_event_name(rec->ev[1].ev));
	cr_assert_eq(rec->ev[1].offset, n);
	cr_assert_eq(rec->ev[2].ev, SC_P1_TELEGRAM);
	free(t);
}

Test(p1_parse, tic_skip_ends_at_the_largest_tic_frame)
{
	/* No ETX and no DSMR header: the skip stops 4096 bytes (the largest TIC
	 * frame, STX..ETX) after the STX; what follows is garbage, then P1. */
	char *t = tg_make(HDR, BODY);
	size_t tl = strlen(t), n = 6000;
	char *stream = malloc(n + tl);
	memcpy(stream, "\x02\nADSC\t", 7);
	for (size_t i = 7; i < n; i++)
		stream[i] = (char)('A' + i % 26);
	memcpy(stream + n, t, tl);
	feed_checked(stream, n + tl, 0, rec);
	cr_assert_eq(rec->n, 3, "events: %d", rec->n);
	cr_assert_eq(rec->ev[0].ev, SC_P1_UNSUPPORTED);
	cr_assert_eq(rec->ev[1].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[1].offset, 4096);
	cr_assert_eq(rec->ev[1].length, n - 4096);
	cr_assert_eq(rec->ev[2].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[2].offset, n);

	/* A DSMR header that straddles the 4096th byte is a telegram start. */
	size_t at = 4094;
	memcpy(stream + at, t, tl);
	feed_checked(stream, at + tl, 0, rec);
	cr_assert_eq(rec->n, 2, "events: %d", rec->n);
	cr_assert_eq(rec->ev[0].ev, SC_P1_UNSUPPORTED);
	cr_assert_eq(rec->ev[1].ev, SC_P1_TELEGRAM);
	cr_assert_eq(rec->ev[1].offset, at);
	free(stream);
	free(t);
}

Test(p1_parse, tic_frame_reported_once_after_pending_garbage)
{
	char *t = tg_make(HDR, BODY);
	char stream[4096];
	const char *pre = "zz\x02\nADCO 012345678910 ;\r\x03";
	size_t pl = strlen(pre), tl = strlen(t);
	memcpy(stream, pre, pl);
	memcpy(stream + pl, t, tl);
	feed_checked(stream, pl + tl, 0, rec);
	cr_assert_eq(rec->n, 3);
	cr_assert_eq(rec->ev[0].ev, SC_P1_GARBAGE);
	cr_assert_eq(rec->ev[0].length, 2);
	cr_assert_eq(rec->ev[1].ev, SC_P1_UNSUPPORTED, "historic TIC (SP separator)");
	cr_assert_eq(rec->ev[1].offset, 2);
	cr_assert_eq(rec->ev[2].ev, SC_P1_TELEGRAM);
	free(t);
}

/* ---- strictness of values (audit findings 4-6) ---- */

Test(p1_parse, hex_strings_must_be_hex_of_even_length)
{
	syntax("1-3:0.2.8(50)\r\n0-0:96.1.1(XYZ hello)\r\n", "not hex");
	struct rec_event *e = one("1-3:0.2.8(50)\r\n0-0:96.1.1(XYZ hello)\r\n", 0);
	cr_assert(strstr(e->detail, "0-0:96.1.1"), "detail names the object: %s", e->detail);
	cr_assert_eq(e->error_offset, strlen("/" HDR "\r\n\r\n1-3:0.2.8(50)\r\n0-0:96.1.1("));
	syntax("1-3:0.2.8(50)\r\n0-0:96.1.1(4530303)\r\n", "odd length");
	syntax("1-3:0.2.8(50)\r\n0-0:96.13.0(48656C6C6G)\r\n", "message not hex");
	e = one("1-3:0.2.8(50)\r\n0-0:96.13.0(48656C6C6G)\r\n", 0);
	cr_assert(strstr(e->detail, "0-0:96.13.0"), "%s", e->detail);
	syntax("1-3:0.2.8(50)\r\n0-1:24.1.0(003)\r\n0-1:96.1.0(G730)\r\n", "M-Bus id not hex");
	e = one("1-3:0.2.8(50)\r\n0-2:96.1.0(123)\r\n", 0);
	cr_assert_eq(e->ev, SC_P1_SYNTAX);
	cr_assert(strstr(e->detail, "0-2:96.1.0"), "%s", e->detail);
	syntax("0-0:96.1.4(50217)\r\n0-1:96.1.1(31 2)\r\n", "e-MUCS M-Bus id not hex");

	e = good("1-3:0.2.8(50)\r\n0-0:96.1.1()\r\n0-0:96.13.0()\r\n0-1:96.1.0()\r\n");
	cr_assert_eq(e->tg.equipment_id.len, 0, "empty hex is valid");
	e = good("1-3:0.2.8(50)\r\n0-0:96.1.1(4b3845)\r\n");
	cr_assert_str_eq(e->reading.meter_id, "4b3845", "lower-case hex kept as sent");
}

Test(p1_parse, hex_decode)
{
	char out[16];
	cr_assert_eq(sc_p1_hex_decode("48656C6C6F", 10, out, sizeof out), 5);
	cr_assert_str_eq(out, "Hello");
	cr_assert_eq(sc_p1_hex_decode("4b3845", 6, out, sizeof out), 3);
	cr_assert_str_eq(out, "K8E");
	cr_assert_eq(sc_p1_hex_decode("", 0, out, sizeof out), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(sc_p1_hex_decode("00ff", 4, out, sizeof out), 2);
	cr_assert_eq(out[0], '\0');
	cr_assert_eq((unsigned char)out[1], 0xFF);
	cr_assert_eq(sc_p1_hex_decode("486", 3, out, sizeof out), SC_ERR_SYNTAX, "odd length");
	cr_assert_eq(sc_p1_hex_decode("4G", 2, out, sizeof out), SC_ERR_SYNTAX, "not hex");
	cr_assert_eq(sc_p1_hex_decode("48 5", 4, out, sizeof out), SC_ERR_SYNTAX);
	cr_assert_eq(sc_p1_hex_decode("4865", 4, out, 2), SC_ERR_RANGE, "no room for NUL");
	cr_assert_eq(sc_p1_hex_decode("4865", 4, out, 3), 2);
	cr_assert_eq(sc_p1_hex_decode("", 0, out, 0), SC_ERR_RANGE);

	/* The equipment id of BODY (an Iskra AM550), from its span. */
	struct rec_event *e = good(BODY);
	char id[64];
	int n = sc_p1_hex_decode(sc_span_ptr(e->raw, e->tg.equipment_id), e->tg.equipment_id.len,
				 id, sizeof id);
	cr_assert_eq(n, 17);
	cr_assert_str_eq(id, "E0044007131650618");
}

Test(p1_parse, only_known_fillers_are_placeholder_timestamps)
{
	struct sc_p1_time t;
	static const char *const fillers[] = {"000101000001W", "632525252525W", "700101010000W",
					      "000000000000W", "000000000000S"};
	for (size_t i = 0; i < sizeof fillers / sizeof fillers[0]; i++) {
		cr_assert_eq(sc_p1_parse_time(fillers[i], 13, &t), SC_OK, "%s", fillers[i]);
		cr_assert(t.placeholder && !t.set, "%s", fillers[i]);
	}
	static const char *const invalid[] = {
		"250732120000S", /* 32 July */
		"250731240000S", /* hour 24 */
		"250731236000S", /* minute 60 */
		"250731235960S", /* second 60 */
		"250229120000W", /* 29 February 2025 */
		"251301120000W", /* month 13 */
		"250001120000W", /* month 0 */
		"250100120000W", /* day 0 */
		"632525252526W", /* near a filler */
		"992525252525W",
	};
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
		cr_assert_eq(sc_p1_parse_time(invalid[i], 13, &t), SC_ERR_SYNTAX, "%s", invalid[i]);
	/* Valid dates are real times, even on 1 January 2000. */
	cr_assert_eq(sc_p1_parse_time("000101120000W", 13, &t), SC_OK);
	cr_assert(t.set && !t.placeholder);
	cr_assert_eq(t.epoch, 946724400);
	cr_assert_eq(sc_p1_parse_time("240229235959W", 13, &t), SC_OK, "leap day");
	cr_assert(t.set);

	syntax("1-3:0.2.8(50)\r\n0-0:1.0.0(250732120000S)\r\n", "day 32");
	struct rec_event *e = one("1-3:0.2.8(50)\r\n0-0:1.0.0(250731240000S)\r\n", 0);
	cr_assert_eq(e->ev, SC_P1_SYNTAX, "hour 24");
	cr_assert(strstr(e->detail, "250731240000S"), "%s", e->detail);
	syntax("1-3:0.2.8(50)\r\n1-0:99.97.0(1)(0-0:96.7.19)(251301000000W)(0000000240*s)\r\n",
	       "failure log end in month 13");
	syntax("1-3:0.2.8(50)\r\n0-1:24.1.0(003)\r\n0-1:24.2.1(250230000000W)(00012.345*m3)\r\n",
	       "gas time 30 February");
	e = good("1-3:0.2.8(50)\r\n0-0:1.0.0(000000000000W)\r\n");
	cr_assert(e->tg.time.placeholder);
	cr_assert_not(e->reading.ts_set);
}

Test(p1_parse, values_are_unsigned_with_a_digit_before_the_point)
{
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(-01.000*kW)\r\n", "negative power");
	struct rec_event *e = one("1-3:0.2.8(50)\r\n1-0:1.7.0(-01.000*kW)\r\n", 0);
	cr_assert(strstr(e->detail, "1-0:1.7.0"), "%s", e->detail);
	syntax("1-3:0.2.8(50)\r\n1-0:1.8.1(-000001.000*kWh)\r\n", "negative energy");
	syntax("1-3:0.2.8(50)\r\n1-0:31.7.0(-002*A)\r\n", "negative current");
	syntax("1-3:0.2.8(50)\r\n1-0:32.7.0(-230.0*V)\r\n", "negative voltage");
	syntax("1-3:0.2.8(50)\r\n0-0:96.7.21(-0005)\r\n", "negative count");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(.5*kW)\r\n", "no digit before the point");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(+01.000*kW)\r\n", "plus sign");
	syntax("1-3:0.2.8(50)\r\n1-0:1.7.0(1.*kW)\r\n", "no digit after the point");
	syntax("1-3:0.2.8(50)\r\n0-1:24.1.0(003)\r\n0-1:24.2.1(200512134558S)(-0012.345*m3)\r\n",
	       "negative gas");
	e = good("1-3:0.2.8(50)\r\n1-0:1.7.0(0.5*kW)\r\n1-0:2.7.0(00*kW)\r\n");
	cr_assert_eq(e->tg.power_import.v, 500.0);
	cr_assert_eq(e->tg.power_export.v, 0.0);
}

Test(p1_parse, repeated_objects_are_syntax_errors)
{
	struct rec_event *e =
		one("1-3:0.2.8(50)\r\n1-0:1.7.0(01.000*kW)\r\n1-0:1.7.0(02.000*kW)\r\n", 0);
	cr_assert_eq(e->ev, SC_P1_SYNTAX, "%s", sc_p1_event_name(e->ev));
	cr_assert(strstr(e->detail, "1-0:1.7.0 repeated"), "%s", e->detail);
	cr_assert_eq(e->error_offset,
		     strlen("/" HDR "\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.7.0(01.000*kW)\r\n"));
	syntax("1-3:0.2.8(50)\r\n1-3:0.2.8(50)\r\n", "version twice");
	syntax("1-3:0.2.8(50)\r\n0-0:1.0.0(190324150519W)\r\n0-0:1.0.0(190324150520W)\r\n",
	       "time twice");
	syntax("1-3:0.2.8(50)\r\n1-0:99.97.0()\r\n1-0:99.97.0()\r\n", "failure log twice");
	syntax("1-3:0.2.8(50)\r\n0-1:24.1.0(003)\r\n0-1:24.1.0(003)\r\n", "M-Bus type twice");
	syntax("1-3:0.2.8*255(50)\r\n1-3:0.2.8(50)\r\n", "the same with a value group F");

	/* The same code on two M-Bus channels is not a repetition; unknown
	 * objects are kept raw however often they come. */
	e = good("1-3:0.2.8(50)\r\n0-1:24.1.0(003)\r\n0-2:24.1.0(007)\r\n"
		 "1-0:14.7.0(50.00*Hz)\r\n1-0:14.7.0(50.01*Hz)\r\n");
	cr_assert_eq(e->tg.mbus[1].device_type, 7);
	cr_assert_eq(e->tg.unknown_count, 2);
	/* 0-0:96.1.0 after an equipment id is kept raw, as before. */
	e = good("1-3:0.2.8(50)\r\n0-0:96.1.1(4530)\r\n0-0:96.1.0(4531)\r\n0-0:96.1.0(4532)\r\n");
	cr_assert_str_eq(e->reading.meter_id, "4530");
	cr_assert_eq(e->tg.unknown_count, 2);
}

/* ---- lines past the object model's capacities (audit finding 7) ---- */

/* A failure log of n entries whose count says `count`. */
static char *failure_log_body(int count, int n)
{
	size_t cap = 64 + (size_t)n * 32;
	char *b = malloc(cap);
	size_t len = (size_t)snprintf(b, cap, "1-3:0.2.8(50)\r\n1-0:99.97.0(%d)(0-0:96.7.19)", count);
	for (int k = 0; k < n; k++)
		len += (size_t)snprintf(b + len, cap - len, "(%02d%02d%02d120000W)(%010d*s)",
					10 + k / 300, 1 + k / 28 % 12, 1 + k % 28, 100 + k);
	snprintf(b + len, cap - len, "\r\n1-0:1.7.0(00.100*kW)\r\n");
	return b;
}

Test(p1_parse, long_failure_log_keeps_the_first_entries)
{
	static const int sizes[] = {SC_P1_MAX_FAILLOG, SC_P1_MAX_FAILLOG + 1, 50, 200};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		int n = sizes[i];
		char *b = failure_log_body(n, n);
		struct rec_event *e = good(b);
		cr_assert_eq(e->tg.failure_log_count, n, "count as sent");
		cr_assert_eq(e->tg.dropped, n - SC_P1_MAX_FAILLOG, "%d entries: %d dropped", n,
			     e->tg.dropped);
		for (int k = 0; k < SC_P1_MAX_FAILLOG; k++) {
			cr_assert(e->tg.failure_log[k].end.set);
			cr_assert_eq(e->tg.failure_log[k].duration_s, 100.0 + k);
		}
		cr_assert_eq(e->tg.power_import.v, 100.0, "the objects after it are decoded");
		free(b);
	}
	/* A count that disagrees with the entries present still fails. */
	static const int wrong[][2] = {{50, 49}, {49, 50}, {200, 199}, {10, 200}};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		char *b = failure_log_body(wrong[i][0], wrong[i][1]);
		struct rec_event *e = one(b, 0);
		cr_assert_eq(e->ev, SC_P1_SYNTAX, "count %d, %d entries", wrong[i][0], wrong[i][1]);
		char want[64];
		snprintf(want, sizeof want, "count %d but %d", wrong[i][0], wrong[i][1]);
		cr_assert(strstr(e->detail, want), "%s", e->detail);
		free(b);
	}
	/* Entries past the capacity are still checked. */
	char *b = failure_log_body(50, 50);
	char *bad = strstr(b, "(0000000145*s)");
	cr_assert_not_null(bad);
	bad[1] = 'x';
	syntax(b, "bad duration in entry 46");
	free(b);
}

Test(p1_parse, long_demand_history_keeps_the_first_months)
{
	char body[4096];
	size_t len = (size_t)snprintf(body, sizeof body,
				      "0-0:96.1.4(50217)\r\n0-0:98.1.0(20)(1-0:1.6.0)(1-0:1.6.0)");
	for (int k = 0; k < 20; k++)
		len += (size_t)snprintf(body + len, sizeof body - len,
					"(%02d%02d01000000W)(%02d%02d05120000W)(0%d.000*kW)",
					20 + k / 12, 1 + k % 12, 20 + k / 12, 1 + k % 12, k % 10);
	snprintf(body + len, sizeof body - len, "\r\n");
	struct rec_event *e = good(body);
	cr_assert_eq(e->tg.demand_hist_count, 20);
	cr_assert_eq(e->tg.dropped, 20 - SC_P1_MAX_DEMAND_HIST);
	cr_assert_eq(e->tg.demand_hist[12].w, 2000.0);
}

/* Inside a value every printable ASCII byte is taken and every other byte
 * refused where it stands (DSMR 5.0.2 §6.4), whatever its value. */
Test(p1_parse, every_byte_value_inside_a_value)
{
	for (int b = 0; b < 256; b++) {
		if (b == '\n' || b == '\r' || b == '!' || b == '/')
			continue; /* they end a line, the data, or the telegram */
		char raw[128];
		int n = snprintf(raw, sizeof raw, "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n"
						  "0-0:96.99.9(ab");
		raw[n++] = (char)b;
		n += snprintf(raw + n, sizeof raw - (size_t)n, "cd)\r\n!");
		struct sc_p1_telegram tg;
		char detail[200];
		size_t off = 0;
		int rc = sc_p1_decode(raw, (size_t)n, SC_P1_NO_CRC, &tg, &off, detail, sizeof detail);
		bool printable = b >= 0x20 && b <= 0x7e;
		if (printable && b != '(' && b != ')') {
			cr_assert_eq(rc, SC_OK, "byte 0x%02X: %s", b, detail);
		} else {
			cr_assert_eq(rc, SC_ERR_SYNTAX, "byte 0x%02X accepted", b);
			/* at the byte; after ')' at the text that follows it */
			size_t at = (size_t)n - (b == ')' ? 6 : 7);
			cr_assert_eq(off, at, "byte 0x%02X: offset %zu, not %zu", b, off, at);
			if (!printable)
				cr_assert(strstr(detail, "control or non-ASCII byte inside a value"),
					  "0x%02X: %s", b, detail);
		}
	}
}

/* Lines are decoded in one pass when they have the usual shape and the
 * general way otherwise (p1_decode.c, fast_line): both give the same
 * values. Each body below is the same four objects with line ends, OBIS
 * spellings and value bytes that take one way or the other. */
Test(p1_parse, line_shapes_decode_alike)
{
	static const char *const bodies[] = {
		"1-3:0.2.8(50)\r\n1-0:1.7.0(01.234*kW)\r\n1-0:1.8.1(000012.500*kWh)\r\n"
		"1-0:32.7.0(230.1*V)\r\n",
		/* LF alone, and the last line ended by the '!' itself */
		"1-3:0.2.8(50)\n1-0:1.7.0(01.234*kW)\n1-0:1.8.1(000012.500*kWh)\n1-0:32.7.0(230.1*V)",
		/* CR before the '!' */
		"1-3:0.2.8(50)\r\n1-0:1.7.0(01.234*kW)\r\n1-0:1.8.1(000012.500*kWh)\r\n"
		"1-0:32.7.0(230.1*V)\r",
		/* leading zeros in OBIS fields, value group F, empty lines */
		"001-003:000.002.008(50)\r\n\r\n1-0:1.7.0*255(01.234*kW)\r\n"
		"1-0:1.8.1(000012.500*kWh)\r\n\r\n01-00:032.07.00(230.1*V)\r\n",
		/* values longer than sixteen bytes around them (the scan's blocks) */
		"1-3:0.2.8(50)\r\n0-0:96.13.0(303132333435363738393A3B3C3D3E3F40)\r\n"
		"1-0:1.7.0(0000000000001.234*kW)\r\n1-0:1.8.1(000012.500*kWh)\r\n"
		"1-0:32.7.0(230.1*V)\r\n",
	};
	static struct sc_p1_telegram tg;
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		char t[512], detail[160];
		int n = snprintf(t, sizeof t, "/ISK5\\2M550T-1012\r\n\r\n%s!", bodies[i]);
		size_t off = 0;
		int rc = sc_p1_decode(t, (size_t)n, SC_P1_ANY_VERSION, &tg, &off, detail, sizeof detail);
		cr_assert_eq(rc, SC_OK, "body %zu: %s at %zu", i, detail, off);
		cr_assert_eq(tg.version, 50, "body %zu", i);
		cr_assert_float_eq(tg.power_import.v, 1234.0, 1e-9, "body %zu", i);
		cr_assert_float_eq(tg.import_tariff[0].v, 12500.0, 1e-9, "body %zu", i);
		cr_assert_float_eq(tg.voltage[0].v, 230.1, 1e-9, "body %zu", i);
	}
}

/* Where the one-pass decoding gives up, the error is the general one, at
 * the same offset: a control byte in a value, a '(' inside one, text after
 * the last value, a field over 255, a value not closed. */
Test(p1_parse, line_errors_are_the_general_ones)
{
	static const struct {
		const char *line;
		const char *why;
		size_t at; /* offset in the line */
	} cases[] = {
		{"1-0:1.7.0(01.2\x01" "34*kW)", "control or non-ASCII byte inside a value", 14},
		{"1-0:1.7.0(01.2(34*kW)", "'(' inside a value", 14},
		{"1-0:1.7.0(01.234*kW)x", "text after the last value", 20},
		{"1-0:256.7.0(01.234*kW)", "not an OBIS object", 7},
		{"1-0:1.7.0(01.234*kW", "value not closed by ')'", 19},
		{"1-0:1.7.0(01.234*kW)\r1-0:2.7.0(00.000*kW)", "text after the last value", 20},
	};
	static struct sc_p1_telegram tg;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char t[512], detail[160];
		const char *head = "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n";
		int n = snprintf(t, sizeof t, "%s%s\r\n1-0:2.7.0(00.000*kW)\r\n!", head, cases[i].line);
		size_t off = 0;
		int rc = sc_p1_decode(t, (size_t)n, 0, &tg, &off, detail, sizeof detail);
		cr_assert_eq(rc, SC_ERR_SYNTAX, "case %zu", i);
		cr_assert(strstr(detail, cases[i].why), "case %zu: %s", i, detail);
		cr_assert_eq(off, strlen(head) + cases[i].at, "case %zu: %s at %zu", i, detail, off);
	}
}
