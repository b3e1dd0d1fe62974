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
	cr_assert_not(r->q[SC_RQ_P_PLUS].set, "TIC.md mapping: no P+");
	cr_assert_not(r->q[SC_RQ_P_MINUS].set, "TIC.md mapping: no P-");
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
	cr_assert_eq(r->q[SC_RQ_S].v, 0, "S = SINSTS");
	cr_assert_not(r->q[SC_RQ_P_PLUS].set, "TIC.md mapping: P+ is null");
	cr_assert_not(r->q[SC_RQ_P_MINUS].set, "TIC.md mapping: P- is null, even with SINSTI");
	cr_assert_eq(r->q[SC_RQ_E_EXPORT].v, 123456);
	cr_assert_eq(r->q[SC_RQ_EQ1].v, 11);
	cr_assert_eq(r->q[SC_RQ_EQ4].v, 44);
	cr_assert_not(r->q[SC_RQ_EQ2].set);
	for (int ph = 0; ph < 3; ph++) {
		cr_assert_eq(r->ph[ph][SC_PQ_P].v, 0, "phase %d reads 0 W on export", ph + 1);
		cr_assert(r->ph[ph][SC_PQ_P].set);
		cr_assert_eq(r->ph[ph][SC_PQ_I].v, 4);
		cr_assert_eq(r->ph[ph][SC_PQ_S].v, 0);
		cr_assert_not(r->ph[ph][SC_PQ_P_PLUS].set);
		cr_assert_not(r->ph[ph][SC_PQ_P_MINUS].set);
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

/* A producer-only Linky (NGTF "PRODUCTEUR", LTARF "INDEX NON CONSO"): the
 * head of the frame a user of NextDom/plugin-teleinfo pasted from his meter
 * (issue 20, 2018-02-26), the HTs put back where the thread shows them
 * expanded to 8 columns; every checksum is the one the meter sent and
 * checks. NGTF is written unpadded, as producer-only meters in the field
 * send it (10 characters where TIC.md gives 16): the thread's rendering
 * cannot tell "PRODUCTEUR" from "   PRODUCTEUR   ", and neither can the
 * checksum (six spaces are 3 x 64), so only the length rule decides. Text
 * labels are taken at or below their length; numeric ones stay exact. */
static const char producer_only[] = "\x02"
				    "\nADSC\t041662343035\t2\r"
				    "\nVTIC\t02\tJ\r"
				    "\nDATE\tH180227002921\t\tC\r"
				    "\nNGTF\tPRODUCTEUR\t.\r"
				    "\nLTARF\t INDEX NON CONSO\t0\r"
				    "\nEAST\t000000002\tQ\r"
				    "\nEASF01\t000000002\t$\r"
				    "\nEASF02\t000000000\t#\r"
				    "\nEASF03\t000000000\t$\r"
				    "\nEASF04\t000000000\t%\r"
				    "\nEASF05\t000000000\t&\r"
				    "\nEASF06\t000000000\t'\r"
				    "\x03";

Test(tic_parse, producer_only_ngtf_unpadded_is_accepted)
{
	struct tic_rec_event *e = good(producer_only);
	const struct sc_tic_frame *f = &e->frame;
	cr_assert_eq(f->ngtf.len, 10);
	cr_assert(memcmp(e->raw + f->ngtf.off, "PRODUCTEUR", 10) == 0);
	cr_assert_eq(f->ltarf.len, 16);
	cr_assert(f->east.set && f->east.v == 2);
	cr_assert(e->reading.q[SC_RQ_E_IMPORT].set && e->reading.q[SC_RQ_E_IMPORT].v == 2.0);
	cr_assert_eq(e->reading.ts, 1519687761); /* 2018-02-27 00:29:21 UTC+1 */
}

Test(tic_parse, text_labels_at_most_numeric_labels_exactly)
{
	int min = -1;
	bool h = true;
	static const char *const text[] = {"NGTF", "LTARF", "MSG1", "MSG2", "PJOURF+1", "PPOINTE"};
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
		int max = sc_tic_label_lookup(text[i], strlen(text[i]), &h, &min);
		cr_assert_gt(max, 0, "%s", text[i]);
		cr_assert_eq(min, 0, "%s is text", text[i]);
		cr_assert_not(h);
	}
	/* Every other label with a length keeps it exact. */
	int len;
	size_t k = 0;
	for (const char *l; (l = sc_tic_label_at(k, &len, &h)) != NULL; k++) {
		bool is_text = false;
		for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
			is_text = is_text || strcmp(l, text[i]) == 0;
		cr_assert_eq(sc_tic_label_lookup(l, strlen(l), NULL, &min), len);
		cr_assert_eq(min, is_text ? 0 : len, "%s", l);
	}
	cr_assert_eq(sc_tic_label_lookup("NOPE", 4, NULL, &min), -1);

	char f[4096], g[512];
	/* Text: shorter, empty and full are good; one more is a length error. */
	static const char *const ok_ngtf[] = {"PRODUCTEUR", "", "   PRODUCTEUR   ", "X"};
	for (size_t i = 0; i < sizeof ok_ngtf / sizeof ok_ngtf[0]; i++) {
		g[0] = '\0';
		tg_group(g, sizeof g, "MSG2", NULL, ok_ngtf[i]);
		mono_frame(f, sizeof f, g);
		good(f);
	}
	g[0] = '\0';
	tg_group(g, sizeof g, "MSG2", NULL, "   PRODUCTEUR    ");
	struct sc_tic_error *err = bad_group(g);
	cr_assert_eq(err->kind, SC_TIC_GE_LENGTH);
	cr_assert_str_eq(err->label, "MSG2");
	/* Numeric: one digit short is a length error, as before. */
	static const char *const short_num[][2] = {
		{"EAIT", "00003278"}, {"SINSTI", "0125"}, {"URMS2", "22"}, {"STGE", "002A030"},
		{"PRM", "2224645432544"}, {"ADSC", "03186466166"}};
	for (size_t i = 0; i < sizeof short_num / sizeof short_num[0]; i++) {
		g[0] = '\0';
		tg_group(g, sizeof g, short_num[i][0], NULL, short_num[i][1]);
		err = bad_group(g);
		cr_assert_eq(err->kind, SC_TIC_GE_LENGTH, "%s", short_num[i][0]);
	}
}

/* ---- the mapping: what is set, and nothing else (TIC.md "Power semantics") ---- */

Test(tic_parse, mapping_sets_only_the_quantities_of_tic_md)
{
	char f[4096] = "\x02";
	tg_group(f, sizeof f, "ADSC", NULL, "021776123456"); /* type 76: three-phase */
	tg_group(f, sizeof f, "VTIC", NULL, "02");
	tg_group(f, sizeof f, "DATE", "H250115120000", "");
	tg_group(f, sizeof f, "EAST", NULL, "000100000");
	tg_group(f, sizeof f, "EAIT", NULL, "000200000");
	static const char *const erq[] = {"ERQ1", "ERQ2", "ERQ3", "ERQ4"};
	for (int i = 0; i < 4; i++)
		tg_group(f, sizeof f, erq[i], NULL, "000000007");
	static const char *const ph[][3] = {{"IRMS1", "URMS1", "SINSTS1"},
					    {"IRMS2", "URMS2", "SINSTS2"},
					    {"IRMS3", "URMS3", "SINSTS3"}};
	for (int i = 0; i < 3; i++) {
		tg_group(f, sizeof f, ph[i][0], NULL, "010");
		tg_group(f, sizeof f, ph[i][1], NULL, "230");
	}
	tg_group(f, sizeof f, "SINSTS", NULL, "02300");
	tg_group(f, sizeof f, "SINSTS1", NULL, "02300");
	tg_group(f, sizeof f, "SINSTS2", NULL, "00000");
	tg_group(f, sizeof f, "SINSTS3", NULL, "00000");
	tg_group(f, sizeof f, "SINSTI", NULL, "04600");
	strcat(f, "\x03");
	const struct sc_reading *r = &good(f)->reading;
	bool want_q[SC_RQ_COUNT] = {0};
	want_q[SC_RQ_P] = want_q[SC_RQ_S] = want_q[SC_RQ_E_IMPORT] = want_q[SC_RQ_E_EXPORT] = true;
	for (int i = 0; i < 4; i++)
		want_q[SC_RQ_EQ1 + i] = true;
	for (int q = 0; q < SC_RQ_COUNT; q++)
		cr_assert_eq(r->q[q].set, want_q[q], "%s set: %d", sc_rq_name((enum sc_rq)q),
			     r->q[q].set);
	cr_assert_eq(r->q[SC_RQ_P].v, 2300 - 4600, "P = SINSTS - SINSTI");
	cr_assert_eq(r->q[SC_RQ_S].v, 2300, "S = SINSTS");
	cr_assert_eq(r->q[SC_RQ_E_IMPORT].v, 100000);
	cr_assert_eq(r->q[SC_RQ_E_EXPORT].v, 200000);
	for (int i = 0; i < 3; i++) {
		for (int q = 0; q < SC_PQ_COUNT; q++) {
			bool want = q == SC_PQ_U || q == SC_PQ_I || q == SC_PQ_P || q == SC_PQ_S;
			cr_assert_eq(r->ph[i][q].set, want, "l%d.%s", i + 1, sc_pq_name((enum sc_pq)q));
		}
		cr_assert_eq(r->ph[i][SC_PQ_P].v, i == 0 ? 2300 : 0, "lN.P = SINSTSn, 0 on export");
		cr_assert_eq(r->ph[i][SC_PQ_S].v, r->ph[i][SC_PQ_P].v);
		cr_assert_eq(r->ph[i][SC_PQ_U].v, 230);
		cr_assert_eq(r->ph[i][SC_PQ_I].v, 10);
	}
}

/* ---- historic frames: judged by most of their groups ---- */

/* The historic capture of the corpus (historic-mono-base.tic), verbatim. */
static const char historic[] = "\x02\nADCO 012345678910 E\r\nOPTARIF BASE 0\r\nISOUSC 30 9\r\n"
			       "PAPP 02390 /\r\nMOTDETAT 000000 B\r\nBASE 123456789 8\r\n"
			       "IINST 011 Y\r\nIMAX 090 H\r\x03";

static void expect_historic(const char *frame, size_t len, const char *what)
{
	tic_feed_checked(frame, len, rec);
	cr_assert_eq(rec->n, 1, "%s: %d events, first %s %s", what, rec->n,
		     sc_tic_event_name(rec->ev[0].ev), rec->ev[0].detail);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_UNSUPPORTED, "%s: %s %s", what,
		     sc_tic_event_name(rec->ev[0].ev), rec->ev[0].detail);
	cr_assert(strstr(rec->ev[0].detail, "unsupported mode: historic"), "%s", what);
	cr_assert_eq(rec->ev[0].nerrors, 0, "%s: no group errors", what);
}

Test(tic_parse, historic_frame_with_a_damaged_first_group)
{
	char f[256];
	size_t n = sizeof historic - 1;
	memcpy(f, historic, n);
	expect_historic(f, n, "intact");
	f[20] = 'F'; /* ADCO's checksum E -> F */
	expect_historic(f, n, "first checksum damaged");
	memcpy(f, historic, n);
	f[8] = '9'; /* ADCO's data changed, checksum kept */
	expect_historic(f, n, "first data damaged");
	/* The first label cut: the frame begins inside it. */
	for (size_t cut = 1; cut <= 5; cut++) {
		char what[32];
		snprintf(what, sizeof what, "first label cut by %zu", cut);
		f[0] = 0x02;
		f[1] = '\n';
		memcpy(f + 2, historic + 2 + cut, n - 2 - cut);
		expect_historic(f, n - cut, what);
	}
}

Test(tic_parse, historic_frame_with_a_stray_ht)
{
	char f[256], what[48];
	size_t n = sizeof historic - 1;
	/* One HT in place of any byte but STX and ETX, or inserted anywhere. */
	for (size_t at = 1; at + 1 < n; at++) {
		memcpy(f, historic, n);
		f[at] = '\t';
		snprintf(what, sizeof what, "HT replacing byte %zu", at);
		expect_historic(f, n, what);
		memcpy(f, historic, at);
		f[at] = '\t';
		memcpy(f + at + 1, historic + at, n - at);
		snprintf(what, sizeof what, "HT inserted at %zu", at);
		expect_historic(f, n + 1, what);
	}
}

Test(tic_parse, standard_frames_with_damage_are_not_taken_for_historic)
{
	/* Every HT of one group replaced by SP: still one bad standard group. */
	char f[4096], extra[256] = "";
	tg_group(extra, sizeof extra, "PREF", NULL, "06");
	for (char *c = extra; *c; c++)
		if (*c == '\t')
			*c = ' ';
	mono_frame(f, sizeof f, extra);
	struct tic_rec_event *e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
	cr_assert_eq(e->nerrors, 1);
	/* Half the groups historic-looking, half standard: not "most". */
	char g[1024] = "\x02\nADCO 012345678910 E\r\nOPTARIF BASE 0\r";
	tg_group(g, sizeof g, "VTIC", NULL, "02");
	tg_group(g, sizeof g, "PREF", NULL, "06");
	strcat(g, "\x03");
	e = only(g);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "%s", e->detail);
	cr_assert_eq(e->nerrors, 2);
}

/* ---- mono / tri: each signal alone ---- */

/* A frame with an ADSC of meter type `type`, L1 groups, plus extra. */
static void typed_frame(char *out, size_t cap, const char *type, const char *extra)
{
	char adsc[13];
	snprintf(adsc, sizeof adsc, "0217%s123456", type);
	out[0] = 0x02;
	out[1] = '\0';
	tg_group(out, cap, "ADSC", NULL, adsc);
	tg_group(out, cap, "VTIC", NULL, "02");
	tg_group(out, cap, "DATE", "H240210121355", "");
	tg_group(out, cap, "EAST", NULL, "003519702");
	tg_group(out, cap, "IRMS1", NULL, "002");
	tg_group(out, cap, "URMS1", NULL, "231");
	tg_group(out, cap, "SINSTS", NULL, "00462");
	size_t n = strlen(out);
	snprintf(out + n, cap - n, "%s\x03", extra ? extra : "");
}

Test(tic_parse, every_adsc_meter_type)
{
	static const struct {
		const char *type;
		bool tri, pilot;
	} types[] = {
		{"61", false, false}, {"62", false, false}, {"64", false, false},
		{"70", false, false}, {"75", false, false}, {"63", true, false},
		{"71", true, false},  {"76", true, false},  {"67", false, true},
		{"68", false, true},  {"00", false, false}, {"99", false, false},
		{"6A", false, false},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		char f[4096];
		typed_frame(f, sizeof f, types[i].type, NULL);
		struct tic_rec_event *e = good(f);
		cr_assert_eq(e->frame.three_phase, types[i].tri, "type %s tri", types[i].type);
		cr_assert_eq(e->frame.pilot, types[i].pilot, "type %s pilot", types[i].type);
		cr_assert_eq(e->reading.phases, types[i].tri ? 3 : 1, "type %s phases", types[i].type);
	}
}

Test(tic_parse, tri_meter_type_with_l1_labels_only_is_tri)
{
	char f[4096];
	typed_frame(f, sizeof f, "63", NULL);
	struct tic_rec_event *e = good(f);
	cr_assert(e->frame.three_phase, "the ADSC type alone says three-phase");
	const struct sc_reading *r = &e->reading;
	cr_assert_eq(r->phases, 3);
	cr_assert_eq(r->ph[0][SC_PQ_U].v, 231);
	cr_assert_eq(r->ph[0][SC_PQ_I].v, 2);
	cr_assert_not(r->ph[0][SC_PQ_P].set, "no SINSTS1: l1.P is null, not SINSTS");
	cr_assert_not(r->ph[1][SC_PQ_U].set);
	cr_assert_eq(r->q[SC_RQ_P].v, 462);
}

Test(tic_parse, mono_meter_type_with_a_tri_label_is_tri)
{
	/* Each three-phase-only label alone makes a mono-typed frame tri. */
	static const char *const tri[][3] = {
		{"IRMS2", NULL, "003"},           {"IRMS3", NULL, "003"},
		{"URMS2", NULL, "229"},           {"URMS3", NULL, "229"},
		{"SINSTS1", NULL, "00100"},       {"SINSTS2", NULL, "00100"},
		{"SINSTS3", NULL, "00100"},       {"SMAXSN1", "H240210110331", "00986"},
		{"SMAXSN2", "H240210110331", "00986"}, {"SMAXSN3", "H240210110331", "00986"},
		{"SMAXSN1-1", "H240209110331", "00986"}, {"SMAXSN2-1", "H240209110331", "00986"},
		{"SMAXSN3-1", "H240209110331", "00986"}, {"UMOY2", "H240210121000", "230"},
		{"UMOY3", "H240210121000", "230"},
	};
	for (size_t i = 0; i < sizeof tri / sizeof tri[0]; i++) {
		char f[4096], extra[256] = "";
		tg_group(extra, sizeof extra, tri[i][0], tri[i][1], tri[i][2]);
		typed_frame(f, sizeof f, "61", extra);
		struct tic_rec_event *e = good(f);
		cr_assert(e->frame.three_phase, "%s makes it three-phase", tri[i][0]);
		cr_assert_eq(e->reading.phases, 3, "%s", tri[i][0]);
	}
	/* L1 labels with a number do not. */
	static const char *const mono[][3] = {
		{"UMOY1", "H240210121000", "230"},
		{"SMAXSN", "H240210110331", "00986"},
		{"SMAXSN-1", "H240209110331", "00986"},
	};
	for (size_t i = 0; i < sizeof mono / sizeof mono[0]; i++) {
		char f[4096], extra[256] = "";
		tg_group(extra, sizeof extra, mono[i][0], mono[i][1], mono[i][2]);
		typed_frame(f, sizeof f, "61", extra);
		cr_assert_not(good(f)->frame.three_phase, "%s", mono[i][0]);
	}
	char f[4096], extra[256] = "";
	tg_group(extra, sizeof extra, "IRMS2", NULL, "003");
	typed_frame(f, sizeof f, "61", extra);
	const struct sc_reading *r = &good(f)->reading;
	cr_assert_eq(r->ph[1][SC_PQ_I].v, 3);
	cr_assert_not(r->ph[0][SC_PQ_P].set, "three-phase: l1.P from SINSTS1, absent here");
}

Test(tic_parse, one_bad_group_does_not_flip_the_phases_of_the_good_frames)
{
	/* Mono, mono with a damaged IRMS2, mono: the phases of the good frames
	 * stay 1 and the bad one is rejected, whichever way the stream is cut.
	 * The same for a three-phase meter whose IRMS2 is damaged once. */
	for (int tri = 0; tri < 2; tri++) {
		char good_f[4096], bad_f[4096], extra[256] = "", s[16384];
		if (tri)
			tg_group(extra, sizeof extra, "IRMS2", NULL, "003");
		typed_frame(good_f, sizeof good_f, tri ? "71" : "62", extra);
		extra[0] = '\0';
		tg_group(extra, sizeof extra, "IRMS2", NULL, "003");
		extra[strlen(extra) - 2] ^= 1; /* its checksum */
		typed_frame(bad_f, sizeof bad_f, tri ? "71" : "62", extra);
		if (tri) /* the damaged IRMS2 in place of the good one */
			memcpy(bad_f + strlen(bad_f) - 1, "\x03", 2);
		snprintf(s, sizeof s, "%s%s%s%s", good_f, bad_f, good_f, bad_f);
		strcat(s, good_f);
		tic_feed_checked(s, strlen(s), rec);
		cr_assert_eq(rec->n, 5);
		for (int i = 0; i < 5; i++) {
			struct tic_rec_event *e = &rec->ev[i];
			if (i % 2) {
				cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "frame %d", i);
				cr_assert_str_eq(e->errors[0].label, "IRMS2");
				continue;
			}
			cr_assert_eq(e->ev, SC_TIC_FRAME, "frame %d: %s", i, e->detail);
			cr_assert_eq(e->frame.three_phase, tri == 1, "frame %d", i);
			cr_assert_eq(e->reading.phases, tri ? 3 : 1, "frame %d", i);
		}
	}
}

/* ---- bit 7 anywhere in a frame ---- */

/* The mono frame with byte `at` given bit 7. */
static struct tic_rec_event *with_bit7(char *f, size_t at)
{
	mono_frame(f, 4096, NULL);
	f[at] = (char)((unsigned char)f[at] | 0x80u);
	return only(f);
}

static size_t offset_of(const char *f, const char *needle)
{
	const char *p = strstr(f, needle);
	cr_assert_not_null(p, "%s", needle);
	return (size_t)(p - f);
}

Test(tic_parse, bit7_on_structure_bytes)
{
	char f[4096];
	/* The LF of VTIC: that group is reported, as bit7, with its label. */
	mono_frame(f, sizeof f, NULL);
	size_t lf = offset_of(f, "\nVTIC");
	struct tic_rec_event *e = with_bit7(f, lf);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
	cr_assert_eq(e->nerrors, 1, "%s", e->detail);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->errors[0].label, "VTIC");
	cr_assert_eq(e->errors[0].offset, lf);
	/* The CR of ADSC. */
	mono_frame(f, sizeof f, NULL);
	size_t cr = offset_of(f, "\r\nVTIC");
	e = with_bit7(f, cr);
	cr_assert_eq(e->nerrors, 1, "%s", e->detail);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->errors[0].label, "ADSC");
	cr_assert_eq(e->errors[0].offset, 1, "the LF of ADSC");
	/* An HT. */
	e = with_bit7(f, offset_of(f, "\tH240210121355"));
	cr_assert_eq(e->nerrors, 1);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->errors[0].label, "DATE");
	/* The STX: still a frame, its one error the STX's. */
	e = with_bit7(f, 0);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "%s: %s", sc_tic_event_name(e->ev), e->detail);
	cr_assert_eq(e->offset, 0);
	cr_assert_eq(e->nerrors, 1);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->errors[0].label, "");
	cr_assert_eq(e->errors[0].offset, 0);
	/* Label and data bytes, and the checksum character. */
	e = with_bit7(f, offset_of(f, "NGTF") + 2);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->errors[0].label, "NG?F");
	e = with_bit7(f, offset_of(f, "BASE") + 3);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->errors[0].label, "NGTF");
	e = with_bit7(f, offset_of(f, "\r\nEASF01") - 1);
	cr_assert_eq(e->nerrors, 1);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7);
	cr_assert_str_eq(e->errors[0].label, "EAST");
}

Test(tic_parse, bit7_stx_after_garbage_and_between_frames)
{
	char f[4096], s[16384];
	mono_frame(f, sizeof f, NULL);
	size_t n = strlen(f);
	/* garbage, a frame whose STX has bit 7, a good frame */
	memcpy(s, "xyz", 3);
	memcpy(s + 3, f, n);
	s[3] = (char)0x82;
	memcpy(s + 3 + n, f, n);
	tic_feed_checked(s, 3 + 2 * n, rec);
	cr_assert_eq(rec->n, 3);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_GARBAGE);
	cr_assert_eq(rec->ev[0].length, 3);
	cr_assert_eq(rec->ev[1].ev, SC_TIC_BAD_GROUPS);
	cr_assert_eq(rec->ev[1].offset, 3);
	cr_assert_eq(rec->ev[1].nbit7, 1);
	cr_assert_eq(rec->ev[2].ev, SC_TIC_FRAME);
	/* 0x82 not followed by LF or CR is line noise, counted with the garbage. */
	memcpy(s, "x\x82y", 3);
	memcpy(s + 3, f, n);
	tic_feed_checked(s, 3 + n, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_GARBAGE);
	cr_assert_eq(rec->ev[0].length, 3);
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME);
	/* ... also at the end of the input. */
	tic_feed_checked("\x82", 1, rec);
	cr_assert_eq(rec->n, 1);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_GARBAGE);
}

Test(tic_parse, bit7_in_every_byte_of_a_frame)
{
	/* Whatever byte carries bit 7 (the ETX aside, which then does not end
	 * the frame), the frame is rejected with exactly one error, of kind
	 * bit7, and nothing else is reported. */
	char f[4096];
	mono_frame(f, sizeof f, NULL);
	size_t n = strlen(f);
	for (size_t at = 0; at + 1 < n; at++) {
		mono_frame(f, sizeof f, NULL);
		f[at] = (char)((unsigned char)f[at] | 0x80u);
		tic_feed(f, n, 0, 0, rec);
		cr_assert_eq(rec->n, 1, "byte %zu: %d events", at, rec->n);
		struct tic_rec_event *e = &rec->ev[0];
		cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "byte %zu: %s %s", at, sc_tic_event_name(e->ev),
			     e->detail);
		cr_assert_eq(e->nerrors, 1, "byte %zu: %s", at, e->detail);
		cr_assert_eq(e->nbit7, 1, "byte %zu: %s", at, e->detail);
		cr_assert_eq(e->errors[0].kind, SC_TIC_GE_BIT7, "byte %zu", at);
		cr_assert_null(strchr(e->errors[0].label, '\t'));
	}
}

Test(tic_parse, unterminated_group_reports_its_label_only)
{
	/* ADSC whose CR is lost: its label is "ADSC", not "ADSC?0220". */
	char f[4096];
	mono_frame(f, sizeof f, NULL);
	size_t cr = offset_of(f, "\r\nVTIC");
	memmove(f + cr, f + cr + 1, strlen(f + cr + 1) + 1);
	struct tic_rec_event *e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
	cr_assert_eq(e->nerrors, 1);
	cr_assert_eq(e->errors[0].kind, SC_TIC_GE_SYNTAX);
	cr_assert_str_eq(e->errors[0].label, "ADSC");
	cr_assert(strstr(e->detail, "first: ADSC syntax"), "%s", e->detail);
	/* Labels are cut at a SP as well. */
	struct sc_tic_error *err = bad_group("\nPREF 12 B\r");
	cr_assert_str_eq(err->label, "PREF");
}

/* ---- per-kind counts ---- */

Test(tic_parse, bad_groups_are_counted_per_kind)
{
	char extra[1024] = "";
	/* 2 checksum, 1 length, 3 syntax (one between groups), 2 bit7 */
	tg_group(extra, sizeof extra, "PREF", NULL, "06");
	extra[strlen(extra) - 2] ^= 1;
	tg_group(extra, sizeof extra, "PCOUP", NULL, "06");
	extra[strlen(extra) - 2] ^= 1;
	tg_group(extra, sizeof extra, "URMS1", NULL, "2300");
	tg_group(extra, sizeof extra, "PREF", NULL, "1A");
	strcat(extra, "\nPREF\r");
	strcat(extra, "junk");
	tg_group(extra, sizeof extra, "RELAIS", NULL, "001");
	extra[strlen(extra) - 4] = (char)0xB1;
	tg_group(extra, sizeof extra, "NJOURF", NULL, "00");
	extra[strlen(extra) - 8] = (char)((unsigned char)extra[strlen(extra) - 8] | 0x80u);
	char f[4096];
	mono_frame(f, sizeof f, extra);
	struct tic_rec_event *e = only(f);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
	cr_assert_eq(e->nerrors, 8, "%s", e->detail);
	cr_assert_eq(e->nchecksum, 2);
	cr_assert_eq(e->nlength, 1);
	cr_assert_eq(e->nsyntax, 3);
	cr_assert_eq(e->nbit7, 2);
	/* A good frame, a historic one and a framing error count nothing. */
	mono_frame(f, sizeof f, NULL);
	e = good(f);
	cr_assert_eq(e->nchecksum + e->nlength + e->nsyntax + e->nbit7, 0);
	e = only(historic);
	cr_assert_eq(e->nchecksum + e->nlength + e->nsyntax + e->nbit7, 0);
	/* More errors than SC_TIC_MAX_ERRORS: all counted per kind too. */
	extra[0] = '\0';
	for (int i = 0; i < 20; i++) {
		tg_group(extra, sizeof extra, "PREF", NULL, "06");
		extra[strlen(extra) - 2] = 'x';
	}
	mono_frame(f, sizeof f, extra);
	e = only(f);
	cr_assert_eq(e->nchecksum, 20);
}

/* ---- horodate seasons ---- */

Test(tic_parse, horodate_seasons_per_label)
{
	/* Lower case: the meter's clock is degraded; accepted, flagged, and the
	 * time read with the season it names. */
	char f[4096], extra[256];
	f[0] = 0x02;
	f[1] = '\0';
	tg_group(f, sizeof f, "ADSC", NULL, "022061123456");
	tg_group(f, sizeof f, "DATE", "h240210121355", "");
	strcat(f, "\x03");
	struct tic_rec_event *e = good(f);
	cr_assert_eq(e->frame.date.season, 'h');
	cr_assert(e->frame.date.degraded);
	cr_assert_eq(e->frame.date.epoch, 1707563635, "as H: UTC+1");
	cr_assert_eq(e->reading.ts, 1707563635);
	f[1] = '\0';
	tg_group(f, sizeof f, "ADSC", NULL, "022061123456");
	tg_group(f, sizeof f, "DATE", "e250701120000", "");
	strcat(f, "\x03");
	e = good(f);
	cr_assert_eq(e->frame.date.season, 'e');
	cr_assert(e->frame.date.degraded);
	cr_assert_eq(e->frame.date.epoch, 1751364000, "as E: UTC+2");
	struct sc_tic_time t;
	cr_assert_eq(sc_tic_parse_time("H240210121355", 13, &t), SC_OK);
	cr_assert_not(t.degraded);
	extra[0] = '\0';
	tg_group(extra, sizeof extra, "SMAXSN-1", "e240209110331", "01000");
	mono_frame(f, sizeof f, extra);
	good(f);

	/* A space season: DPM/FPM only (TIC.md). */
	static const char *const mobile[] = {"DPM1", "DPM2", "DPM3", "FPM1", "FPM2", "FPM3"};
	for (size_t i = 0; i < 6; i++) {
		extra[0] = '\0';
		tg_group(extra, sizeof extra, mobile[i], " 250115060000", "01");
		mono_frame(f, sizeof f, extra);
		cr_assert_eq(good(f)->frame.ngroups, 13, "%s with a space season", mobile[i]);
	}
	static const char *const timed[][2] = {
		{"DATE", ""}, {"SMAXSN", "00986"}, {"SMAXSN-1", "00986"}, {"CCASN", "00100"},
		{"UMOY1", "230"}, {"SMAXIN", "00100"}, {"CCAIN-1", "00100"}, {"SMAXN", "00100"},
	};
	for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++) {
		extra[0] = '\0';
		tg_group(extra, sizeof extra, timed[i][0], " 240210121355", timed[i][1]);
		struct sc_tic_error *err = bad_group(extra);
		cr_assert_eq(err->kind, SC_TIC_GE_SYNTAX, "%s with a space season", timed[i][0]);
		cr_assert_str_eq(err->label, timed[i][0]);
	}
}

/* ---- STX CR LF starts a frame in CR LF logs ---- */

Test(tic_parse, stx_cr_lf_cuts_a_frame_missing_its_etx)
{
	/* Log style: STX CR, groups LF .. CR, LF ETX. */
	char body[4096], f1[4096], s[16384];
	mono_frame(body, sizeof body, NULL);
	size_t bl = strlen(body); /* STX groups ETX */
	snprintf(f1, sizeof f1, "\x02\r%.*s\n\x03", (int)(bl - 2), body + 1);
	size_t n = strlen(f1);
	struct tic_rec_event *e = good(f1);
	cr_assert_eq(e->frame.ngroups, 12);
	/* The first frame loses its LF ETX; STX CR LF of the next follows. */
	memcpy(s, f1, n - 1);
	memcpy(s + n - 1, f1, n + 1);
	size_t len = 2 * n - 1;
	tic_feed_checked(s, len, rec);
	cr_assert_eq(rec->n, 2, "%d events: %s", rec->n, rec->ev[0].detail);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAMING);
	cr_assert(strstr(rec->ev[0].detail, "cut short"));
	cr_assert_eq(rec->ev[0].length, n - 1);
	cr_assert_eq(rec->ev[0].error_offset, n - 1, "at the new STX");
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME, "%s", rec->ev[1].detail);
	cr_assert_eq(rec->ev[1].offset, n - 1);
	cr_assert_eq(rec->ev[1].length, n);
	cr_assert_eq(rec->ev[1].frame.ngroups, 12);
	cr_assert_eq(rec->ev[1].raw[1], '\r', "the new frame keeps its CR");
	/* Its LF lost as well: the STX follows the last group's CR. */
	memcpy(s, f1, n - 2);
	memcpy(s + n - 2, f1, n + 1);
	tic_feed_checked(s, 2 * n - 2, rec);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec->ev[0].ev, SC_TIC_FRAMING);
	cr_assert_eq(rec->ev[1].ev, SC_TIC_FRAME, "%s", rec->ev[1].detail);
	cr_assert_eq(rec->ev[1].offset, n - 2);
	/* An STX CR LF inside a group (not where an ETX could be) is line
	 * noise, as in the corpus log's ERQ2 junk: the frame is not cut. */
	char noise[64] = "\nERQ2\t\x02\r\n3\x02\r";
	mono_frame(f1, sizeof f1, noise);
	e = only(f1);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS, "%s", e->detail);
	cr_assert_eq(e->nerrors, 2);
	/* An STX CR not followed by LF stays line noise inside a group. */
	char extra[64] = "\nPREF\t0\x02\r\t?\r";
	mono_frame(f1, sizeof f1, extra);
	e = only(f1);
	cr_assert_eq(e->ev, SC_TIC_BAD_GROUPS);
}

/* ---- the label table, written here from TIC.md, not from tic_labels.c ---- */

static const struct {
	const char *label;
	int len;
	bool horodate;
} tic_md[] = {
	/* | ADSC | 12 | ... */
	{"ADSC", 12, false}, {"VTIC", 2, false}, {"DATE", 0, true},
	/* | NGTF, LTARF | 16 | */
	{"NGTF", 16, false}, {"LTARF", 16, false},
	/* | EAST | 9 |, | EASF01..10, EASD01..04 | 9 | */
	{"EAST", 9, false},
	{"EASF01", 9, false}, {"EASF02", 9, false}, {"EASF03", 9, false}, {"EASF04", 9, false},
	{"EASF05", 9, false}, {"EASF06", 9, false}, {"EASF07", 9, false}, {"EASF08", 9, false},
	{"EASF09", 9, false}, {"EASF10", 9, false},
	{"EASD01", 9, false}, {"EASD02", 9, false}, {"EASD03", 9, false}, {"EASD04", 9, false},
	/* | EAIT | 9 |, | ERQ1..4 | 9 | */
	{"EAIT", 9, false},
	{"ERQ1", 9, false}, {"ERQ2", 9, false}, {"ERQ3", 9, false}, {"ERQ4", 9, false},
	/* | IRMS1 (2, 3: 3P) | 3 |, | URMS1 (2, 3: 3P) | 3 | */
	{"IRMS1", 3, false}, {"IRMS2", 3, false}, {"IRMS3", 3, false},
	{"URMS1", 3, false}, {"URMS2", 3, false}, {"URMS3", 3, false},
	/* | PREF, PCOUP | 2 | */
	{"PREF", 2, false}, {"PCOUP", 2, false},
	/* | SINSTS (SINSTS1..3: 3P) | 5 | */
	{"SINSTS", 5, false}, {"SINSTS1", 5, false}, {"SINSTS2", 5, false}, {"SINSTS3", 5, false},
	/* | SMAXSN(1..3), SMAXSN-1 .. | 5 | [H] */
	{"SMAXSN", 5, true}, {"SMAXSN1", 5, true}, {"SMAXSN2", 5, true}, {"SMAXSN3", 5, true},
	{"SMAXSN-1", 5, true}, {"SMAXSN1-1", 5, true}, {"SMAXSN2-1", 5, true},
	{"SMAXSN3-1", 5, true},
	/* | SINSTI | 5 |, | SMAXIN, SMAXIN-1 | 5 | [H] */
	{"SINSTI", 5, false}, {"SMAXIN", 5, true}, {"SMAXIN-1", 5, true},
	/* | CCASN, CCASN-1 | 5 | [H], | CCAIN, CCAIN-1 | 5 | [H] */
	{"CCASN", 5, true}, {"CCASN-1", 5, true}, {"CCAIN", 5, true}, {"CCAIN-1", 5, true},
	/* | UMOY1 (2, 3: 3P) | 3 | [H] */
	{"UMOY1", 3, true}, {"UMOY2", 3, true}, {"UMOY3", 3, true},
	/* | STGE | 8 | */
	{"STGE", 8, false},
	/* | DPM1..3, FPM1..3 | 2 | [H, season space] */
	{"DPM1", 2, true}, {"DPM2", 2, true}, {"DPM3", 2, true},
	{"FPM1", 2, true}, {"FPM2", 2, true}, {"FPM3", 2, true},
	/* | MSG1, MSG2 | 32, 16 | */
	{"MSG1", 32, false}, {"MSG2", 16, false},
	/* | PRM | 14 |, | RELAIS | 3 | */
	{"PRM", 14, false}, {"RELAIS", 3, false},
	/* | NTARF, NJOURF, NJOURF+1 | 2 | */
	{"NTARF", 2, false}, {"NJOURF", 2, false}, {"NJOURF+1", 2, false},
	/* | PJOURF+1, PPOINTE | 98 | */
	{"PJOURF+1", 98, false}, {"PPOINTE", 98, false},
	/* Pilot meters: SINST1, SMAXN, SMAXN-1 in place of SINSTS, SMAXSN, SMAXSN-1. */
	{"SINST1", 5, false}, {"SMAXN", 5, true}, {"SMAXN-1", 5, true},
};

Test(tic_parse, label_table_matches_tic_md)
{
	size_t n = sizeof tic_md / sizeof tic_md[0];
	for (size_t i = 0; i < n; i++) {
		bool h = !tic_md[i].horodate;
		int len = sc_tic_label_length(tic_md[i].label, strlen(tic_md[i].label), &h);
		cr_assert_eq(len, tic_md[i].len, "%s: length %d, TIC.md %d", tic_md[i].label, len,
			     tic_md[i].len);
		cr_assert_eq(h, tic_md[i].horodate, "%s: horodate flag", tic_md[i].label);
	}
	/* And the other way: tic_labels.c knows no label TIC.md does not list. */
	size_t k = 0;
	int len;
	bool h;
	for (const char *l; (l = sc_tic_label_at(k, &len, &h)) != NULL; k++) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found = found || strcmp(tic_md[i].label, l) == 0;
		cr_assert(found, "tic_labels.c has %s, TIC.md does not", l);
	}
	cr_assert_eq(k, n, "%zu labels in tic_labels.c, %zu in TIC.md", k, n);
	cr_assert_null(sc_tic_label_at(n, NULL, NULL));
	cr_assert_eq(sc_tic_label_length("SMAXSN-", 7, NULL), -1);
	cr_assert_eq(sc_tic_label_length("", 0, NULL), -1);
}

Test(tic_parse, every_label_of_tic_md_in_a_frame)
{
	/* Its exact length passes; one more or one less is a length error
	 * (one less passes on a text label);
	 * a horodate where none belongs (or none where one does) is syntax. */
	for (size_t i = 0; i < sizeof tic_md / sizeof tic_md[0]; i++) {
		const char *l = tic_md[i].label;
		char data[128], extra[512];
		int len = tic_md[i].len;
		memset(data, '0', (size_t)len + 1);
		data[len] = '\0';
		const char *h = tic_md[i].horodate ? "H250115060000" : NULL;
		extra[0] = '\0';
		tg_group(extra, sizeof extra, l, h, data);
		char f[4096];
		mono_frame(f, sizeof f, extra);
		struct tic_rec_event *e = good(f);
		cr_assert_eq(e->frame.ngroups, 13, "%s", l);

		data[len] = '0';
		data[len + 1] = '\0';
		extra[0] = '\0';
		tg_group(extra, sizeof extra, l, h, data);
		cr_assert_eq(bad_group(extra)->kind, SC_TIC_GE_LENGTH, "%s one longer", l);
		if (len > 0) {
			/* Text labels (tic_labels.c) may be shorter. */
			bool text = strcmp(l, "NGTF") == 0 || strcmp(l, "LTARF") == 0 ||
				    strcmp(l, "MSG1") == 0 || strcmp(l, "MSG2") == 0 ||
				    strcmp(l, "PJOURF+1") == 0 || strcmp(l, "PPOINTE") == 0;
			data[len - 1] = '\0';
			extra[0] = '\0';
			tg_group(extra, sizeof extra, l, h, data);
			if (text) {
				mono_frame(f, sizeof f, extra);
				good(f);
			} else {
				cr_assert_eq(bad_group(extra)->kind, SC_TIC_GE_LENGTH,
					     "%s one shorter", l);
			}
			data[len - 1] = '0';
		}
		data[len] = '\0';
		extra[0] = '\0';
		tg_group(extra, sizeof extra, l, h ? NULL : "H250115060000", data);
		struct sc_tic_error *err = bad_group(extra);
		cr_assert_eq(err->kind, SC_TIC_GE_SYNTAX, "%s horodate %s", l, h ? "missing" : "extra");
	}
}
