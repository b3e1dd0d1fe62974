/* TIC standard-mode parser: checksum, framing, group checks, labels, the
 * frame model and the mapping to the device reading. */
#include <criterion/criterion.h>
#include <string.h>

#include "sc_error.h"
#include "tic_test_util.h"

static struct tic_recording *rec;

static void setup(void)
{
	rec = tic_rec_new();
}

static void teardown(void)
{
	free(rec);
}

TestSuite(tic_parse, .init = setup, .fini = teardown);

/* A mono consumer frame, with extra groups appended before ETX. */
static void mono_frame(char *out, size_t cap, const char *extra_groups)
{
	out[0] = 0x02;
	out[1] = '\0';
	tg_group(out, cap, "ADSC", NULL, "022061123456");
	tg_group(out, cap, "VTIC", NULL, "02");
	tg_group(out, cap, "DATE", "H240210121355", "");
	tg_group(out, cap, "NGTF", NULL, "      BASE      ");
	tg_group(out, cap, "EAST", NULL, "003519702");
	tg_group(out, cap, "EASF01", NULL, "003519702");
	tg_group(out, cap, "IRMS1", NULL, "001");
	tg_group(out, cap, "URMS1", NULL, "242");
	tg_group(out, cap, "SINSTS", NULL, "00263");
	tg_group(out, cap, "SMAXSN", "H240210110331", "00986");
	tg_group(out, cap, "STGE", NULL, "003A0000");
	tg_group(out, cap, "NTARF", NULL, "01");
	size_t n = strlen(out);
	snprintf(out + n, cap - n, "%s\x03", extra_groups ? extra_groups : "");
}

static struct tic_rec_event *only(const char *frame)
{
	tic_feed_checked(frame, strlen(frame), rec);
	cr_assert_eq(rec->n, 1, "events: %d", rec->n);
	return &rec->ev[0];
}

static struct tic_rec_event *good(const char *frame)
{
	struct tic_rec_event *e = only(frame);
	cr_assert_eq(e->ev, SC_TIC_FRAME, "%s: %s", sc_tic_event_name(e->ev), e->detail);
	return e;
}

/* A frame whose one extra group is broken: returns the single error. */
static struct sc_tic_error *bad_group(const char *raw_group)
{
	char f[4096];
	mono_frame(f, sizeof f, raw_group);
	struct tic_rec_event *e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "%s", sc_tic_event_name(e->ev));
	cr_assert_eq(e->nerrors, 1);
	return &e->errors[0];
}

Test(tic_parse, checksum_examples_from_real_frames)
{
	cr_assert_eq(sc_tic_checksum("ADSC\t012345678910\t", 18), ';');
	cr_assert_eq(sc_tic_checksum("VTIC\t02\t", 8), 'J');
	cr_assert_eq(sc_tic_checksum("DATE\tH240210121355\t\t", 20), ';');
	cr_assert_eq(sc_tic_checksum("SMAXSN-1\tH250316044335\t06731\t", 29), ' ');
	cr_assert_eq(sc_tic_checksum("", 0), ' ');
}

Test(tic_parse, space_checksum_is_never_trimmed)
{
	/* A group whose checksum is a space passes; without the space it is
	 * a broken group, not a trimmed valid one. */
	char g[128] = "\nSMAXSN-1\tH250316044335\t06731\t \r";
	char f[4096];
	mono_frame(f, sizeof f, g);
	struct tic_rec_event *e = good(f);
	cr_assert_eq(e->frame.smaxsn1.v, 6731);
	mono_frame(f, sizeof f, "\nSMAXSN-1\tH250316044335\t06731\t\r");
	e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
}

Test(tic_parse, mono_frame_decoded_and_mapped)
{
	char f[4096];
	mono_frame(f, sizeof f, NULL);
	struct tic_rec_event *e = good(f);
	cr_assert_eq(e->offset, 0);
	cr_assert_eq(e->length, strlen(f));
	cr_assert_eq(e->frame.ngroups, 12);
	cr_assert(e->frame.date.set);
	cr_assert_eq(e->frame.date.epoch, 1707563635); /* 12:13:55 UTC+1 */
	cr_assert_not(e->frame.three_phase);
	cr_assert(e->frame.has_stge);
	cr_assert(e->frame.stge.standard_mode);
	cr_assert_not(e->frame.stge.producer);
	const struct sc_reading *r = &e->reading;
	cr_assert_eq(r->flavour, SC_FLAVOUR_TIC);
	cr_assert_eq(r->version, 2);
	cr_assert_str_eq(r->meter_id, "022061123456");
	cr_assert_eq(r->phases, 1);
	cr_assert_eq(r->tariff, 1);
	cr_assert_eq(r->q[SC_RQ_P].v, 263);
	cr_assert_eq(r->q[SC_RQ_S].v, 263);
	cr_assert_eq(r->q[SC_RQ_E_IMPORT].v, 3519702);
	cr_assert_not(r->q[SC_RQ_E_EXPORT].set, "consumer meter: no EAIT");
	cr_assert_not(r->q[SC_RQ_P_MINUS].set);
	cr_assert_eq(r->ph[0][SC_PQ_U].v, 242);
	cr_assert_eq(r->ph[0][SC_PQ_I].v, 1);
	cr_assert_eq(r->ph[0][SC_PQ_P].v, 263);
	cr_assert_eq(r->ph[0][SC_PQ_S].v, 263);
	cr_assert_not(r->ph[1][SC_PQ_U].set);
	cr_assert_not(r->q[SC_RQ_PF].set);
	cr_assert_not(r->q[SC_RQ_Q].set);
}

Test(tic_parse, tri_producer_exporting_gives_negative_total_and_zero_phases)
{
	char f[4096] = "\x02";
	tg_group(f, sizeof f, "ADSC", NULL, "021763123456"); /* type 63: three-phase */
	tg_group(f, sizeof f, "VTIC", NULL, "02");
	tg_group(f, sizeof f, "DATE", "E250701120000", "");
	tg_group(f, sizeof f, "EAST", NULL, "012345678");
	tg_group(f, sizeof f, "EAIT", NULL, "000123456");
	tg_group(f, sizeof f, "ERQ1", NULL, "000000011");
	tg_group(f, sizeof f, "ERQ4", NULL, "000000044");
	for (int i = 1; i <= 3; i++) {
		char l[16];
		snprintf(l, sizeof l, "IRMS%d", i);
		tg_group(f, sizeof f, l, NULL, "004");
		snprintf(l, sizeof l, "URMS%d", i);
		tg_group(f, sizeof f, l, NULL, i == 2 ? "229" : "231");
	}
	tg_group(f, sizeof f, "SINSTS", NULL, "00000");
	tg_group(f, sizeof f, "SINSTS1", NULL, "00000");
	tg_group(f, sizeof f, "SINSTS2", NULL, "00000");
	tg_group(f, sizeof f, "SINSTS3", NULL, "00000");
	tg_group(f, sizeof f, "SINSTI", NULL, "02750");
	tg_group(f, sizeof f, "STGE", NULL, "003A0300");
	strcat(f, "\x03");
	struct tic_rec_event *e = good(f);
	cr_assert(e->frame.three_phase);
	cr_assert(e->frame.stge.producer);
	cr_assert(e->frame.stge.injecting);
	const struct sc_reading *r = &e->reading;
	cr_assert_eq(r->ts, 1751364000); /* 12:00 UTC+2 */
	cr_assert_eq(r->q[SC_RQ_P].v, -2750, "export: negative total");
	cr_assert_eq(r->q[SC_RQ_P_MINUS].v, 2750);
	cr_assert_eq(r->q[SC_RQ_E_EXPORT].v, 123456);
	cr_assert_eq(r->q[SC_RQ_EQ1].v, 11);
	cr_assert_eq(r->q[SC_RQ_EQ4].v, 44);
	cr_assert_not(r->q[SC_RQ_EQ2].set);
	for (int ph = 0; ph < 3; ph++) {
		cr_assert_eq(r->ph[ph][SC_PQ_P].v, 0, "phase %d reads 0 W on export", ph + 1);
		cr_assert(r->ph[ph][SC_PQ_P].set);
		cr_assert_eq(r->ph[ph][SC_PQ_I].v, 4);
	}
	cr_assert_eq(r->ph[1][SC_PQ_U].v, 229);
	cr_assert_eq(r->phases, 3);
}

Test(tic_parse, one_bad_group_does_not_make_a_mono_meter_tri)
{
	char f[4096];
	char extra[256] = "";
	tg_group(extra, sizeof extra, "IRMS2", NULL, "004");
	extra[strlen(extra) - 2] ^= 1; /* break its checksum */
	mono_frame(f, sizeof f, extra);
	struct tic_rec_event *e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "the frame is rejected, not decoded as tri");
}

Test(tic_parse, group_errors_have_their_kind_label_and_offset)
{
	char extra[256] = "";
	tg_group(extra, sizeof extra, "IRMS1", NULL, "005");
	extra[strlen(extra) - 4] = '6'; /* value changed, checksum kept */
	struct sc_tic_error *e = bad_group(extra);
	cr_assert_eq(e->kind, SC_TIC_GE_CHECKSUM);
	cr_assert_str_eq(e->label, "IRMS1");
	char f[4096];
	mono_frame(f, sizeof f, NULL);
	cr_assert_eq(e->offset, strlen(f) - 1, "offset of the group's LF");

	extra[0] = '\0';
	tg_group(extra, sizeof extra, "URMS1", NULL, "2300"); /* valid checksum, 4 chars */
	e = bad_group(extra);
	cr_assert_eq(e->kind, SC_TIC_GE_LENGTH);
	cr_assert_str_eq(e->label, "URMS1");

	extra[0] = '\0';
	tg_group(extra, sizeof extra, "PREF", NULL, "1\xb2");
	e = bad_group(extra);
	cr_assert_eq(e->kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->label, "PREF");

	const char *syntax[] = {
		"\nPREF 12 B\r",             /* historic separators inside a standard frame */
		"\n\t12\t)\r",               /* empty label */
		"\nPREF\r",                  /* no fields */
		"\nPREF\t12\r",              /* no checksum */
		"\nTOOLONGLABEL\t12\t$\r",   /* label over 9 characters */
	};
	for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++) {
		e = bad_group(syntax[i]);
		cr_assert(e->kind == SC_TIC_GE_SYNTAX || e->kind == SC_TIC_GE_CHECKSUM, "case %zu", i);
	}
	/* Shapes whose checksum is right but whose content is wrong. */
	const char *shapes[][3] = {
		{"PREF", NULL, "1A"},                /* digits expected */
		{"SMAXSN", NULL, "00986"},           /* horodate missing */
		{"URMS1", "H240210121355", "230"},   /* horodate where none belongs */
		{"SMAXSN", "X240210110331", "00986"}, /* bad season letter */
		{"SMAXSN", "H241310110331", "00986"}, /* month 13 */
		{"STGE", NULL, "003A00G0"},          /* not hex */
		{"A\x01" "B", NULL, "12"},           /* control byte in the label */
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		extra[0] = '\0';
		tg_group(extra, sizeof extra, shapes[i][0], shapes[i][1], shapes[i][2]);
		e = bad_group(extra);
		cr_assert_eq(e->kind, SC_TIC_GE_SYNTAX, "shape %zu: %s", i,
			     sc_tic_group_error_name(e->kind));
	}
}

Test(tic_parse, every_bad_group_is_counted)
{
	char extra[1024] = "";
	for (int i = 0; i < 20; i++) {
		tg_group(extra, sizeof extra, "PREF", NULL, "06");
		extra[strlen(extra) - 2] = 'x';
	}
	char f[4096];
	mono_frame(f, sizeof f, extra);
	struct tic_rec_event *e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
	cr_assert_eq(e->nerrors, 20, "all counted");
	cr_assert_str_eq(e->errors[SC_TIC_MAX_ERRORS - 1].label, "PREF");
	cr_assert(strstr(e->detail, "20 bad groups"));
}

Test(tic_parse, unknown_labels_are_kept)
{
	char extra[256] = "";
	tg_group(extra, sizeof extra, "NEWLBL", NULL, "whatever it is");
	tg_group(extra, sizeof extra, "NEWH", "E250101000000", "1");
	char f[4096];
	mono_frame(f, sizeof f, extra);
	struct tic_rec_event *e = good(f);
	cr_assert_eq(e->frame.ngroups, 14);
	const struct sc_tic_group *g = &e->frame.g[12];
	cr_assert_eq(memcmp(e->raw + g->label.off, "NEWLBL", 6), 0);
	cr_assert_eq(g->data.len, 14);
	cr_assert_eq(e->frame.g[13].horodate.len, 13);
}

Test(tic_parse, horodates)
{
	struct sc_tic_time t;
	cr_assert_eq(sc_tic_parse_time("H240210121355", 13, &t), SC_OK);
	cr_assert_eq(t.epoch, 1707563635);
	cr_assert_eq(sc_tic_parse_time("E250701120000", 13, &t), SC_OK);
	cr_assert_eq(t.epoch, 1751364000);
	cr_assert_eq(sc_tic_parse_time("e250701120000", 13, &t), SC_OK);
	cr_assert_eq(t.season, 'e', "degraded clock kept visible");
	cr_assert(t.set);
	cr_assert_eq(sc_tic_parse_time(" 000000000000", 13, &t), SC_OK);
	cr_assert_not(t.set, "DPM/FPM without season is not a point in time");
	cr_assert_eq(sc_tic_parse_time("H24021012135", 12, &t), SC_ERR_SYNTAX);
	cr_assert_eq(sc_tic_parse_time("S240210121355", 13, &t), SC_ERR_SYNTAX);
	cr_assert_eq(sc_tic_parse_time("H2402101213x5", 13, &t), SC_ERR_SYNTAX);
}

Test(tic_parse, stge_bits)
{
	struct sc_tic_stge s = sc_tic_decode_stge(0x003AC701);
	cr_assert(s.producer);
	cr_assert(s.injecting);
	cr_assert(s.standard_mode);
	cr_assert_eq(s.supplier_index, 2);
	cr_assert_eq(s.distributor_index, 4);
	s = sc_tic_decode_stge(0x0D000000 | 1u << 17);
	cr_assert_eq(s.tempo_today, 1, "blue");
	cr_assert_eq(s.tempo_tomorrow, 3, "red");
	cr_assert_not(s.producer);
	s = sc_tic_decode_stge(0x00010000);
	cr_assert(s.clock_degraded);
	cr_assert_not(s.standard_mode);
}

Test(tic_parse, pilot_meter_labels)
{
	char f[4096] = "\x02";
	tg_group(f, sizeof f, "ADSC", NULL, "022067123456");
	tg_group(f, sizeof f, "SINST1", NULL, "00420");
	tg_group(f, sizeof f, "SMAXN", "H240210110331", "00986");
	tg_group(f, sizeof f, "SMAXN-1", "H240209110331", "01000");
	strcat(f, "\x03");
	struct tic_rec_event *e = good(f);
	cr_assert(e->frame.pilot);
	cr_assert_eq(e->frame.sinsts.v, 420);
	cr_assert_eq(e->frame.smaxsn1.v, 1000);
	cr_assert_eq(e->reading.q[SC_RQ_P].v, 420);
}

Test(tic_parse, eot_interrupts_a_frame_and_parsing_goes_on)
{
	char f[4096], s[8192];
	mono_frame(f, sizeof f, NULL);
	size_t n = strlen(f), cut = n / 2;
	memcpy(s, f, cut);
	s[cut] = 0x04;
	memcpy(s + cut + 1, f, n + 1);
	tic_feed_checked(s, cut + 1 + n, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAMING);
	cr_assert_eq(rec->ev[0].error_offset, cut);
	cr_assert(strstr(rec->ev[0].detail, "EOT"));
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME);
	cr_assert_eq(rec->ev[1].offset, cut + 1);
}

Test(tic_parse, new_frame_before_etx_and_stx_inside_a_value)
{
	char f[4096], s[8192];
	mono_frame(f, sizeof f, NULL);
	size_t n = strlen(f), cut = 100;
	memcpy(s, f, cut);
	memcpy(s + cut, f, n + 1);
	tic_feed_checked(s, cut + n, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAMING);
	cr_assert_eq(rec->ev[0].length, cut);
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME);
	cr_assert_eq(rec->ev[1].offset, cut);
	/* An STX not followed by LF is line noise inside a group. */
	char extra[64] = "\nPREF\t0\x02\t?\r";
	mono_frame(f, sizeof f, extra);
	struct tic_rec_event *e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_SYNTAX);
}

Test(tic_parse, garbage_truncation_and_overflow)
{
	char f[4096], s[16384];
	mono_frame(f, sizeof f, NULL);
	size_t n = strlen(f);
	memcpy(s, "\x03junk\r\n", 7);
	memcpy(s + 7, f, n);
	memcpy(s + 7 + n, f, n / 2);
	tic_feed_checked(s, 7 + n + n / 2, rec);
	cr_assert_eq(rec->n, 3);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_GARBAGE);
	cr_assert_eq(rec->ev[0].length, 5);
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME);
	cr_assert_eq(rec->ev[2].ev, SC_TIC_FRAMING);
	cr_assert(strstr(rec->ev[2].detail, "ended"));

	s[0] = 0x02;
	memset(s + 1, 'A', 5000);
	memcpy(s + 5001, f, n);
	tic_feed_checked(s, 5001 + n, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_OVERFLOW);
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME);
}

Test(tic_parse, frame_without_groups)
{
	struct tic_rec_event *e = only("\x02\x03");
	cr_assert_eq(e->ev, SC_TIC_FRAMING);
}

Test(tic_parse, dsmr_on_a_tic_input_is_unsupported)
{
	const char *p1 = "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n!ABCD\r\n"
			 "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n!ABCD\r\n";
	tic_feed_checked(p1, strlen(p1), rec);
	cr_assert_eq(rec->n, 2, "one report per telegram");
	cr_assert_eq(rec->ev[0].ev, SC_TIC_UNSUPPORTED);
	cr_assert(strstr(rec->ev[0].detail, "DSMR"));
	cr_assert_eq(rec->ev[1].offset, strlen(p1) / 2);
	/* A '/' that is not a DSMR identification is garbage. */
	tic_feed_checked("x/12", 4, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_GARBAGE);
	cr_assert_eq(rec->ev[0].length, 4);
}

Test(tic_parse, historic_frame_is_unsupported)
{
	const char *h = "\x02\nADCO 012345678910 E\r\nOPTARIF BASE 0\r\nPAPP 02390 /\r\x03";
	struct tic_rec_event *e = only(h);
	cr_assert_eq(e->ev, SC_TIC_UNSUPPORTED);
	cr_assert(strstr(e->detail, "unsupported mode: historic"));
}

Test(tic_parse, reset_and_names)
{
	struct sc_tic_parser *p = calloc(1, sizeof *p);
	struct sc_tic_result *res = malloc(sizeof *res);
	sc_tic_feed(p, "\x02\nAB", 4, res);
	sc_tic_reset(p);
	char f[4096];
	mono_frame(f, sizeof f, NULL);
	sc_tic_feed(p, f, strlen(f), res);
	cr_assert_eq(res->event, SC_TIC_FRAME);
	cr_assert_str_eq(sc_tic_event_name(SC_TIC_BAD_GROUPS), "bad-groups");
	cr_assert_str_eq(sc_tic_group_error_name(SC_TIC_GE_BIT7), "bit7");
	bool h;
	cr_assert_eq(sc_tic_label_length("PJOURF+1", 8, &h), 98);
	cr_assert_eq(sc_tic_label_length("DATE", 4, &h), 0);
	cr_assert(h);
	cr_assert_eq(sc_tic_label_length("NOPE", 4, &h), -1);
	free(p);
	free(res);
}
