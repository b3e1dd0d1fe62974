/* Checksums written back into hand-edited telegrams (tg_fix.h): a value
 * changed in a generated P1 telegram or TIC frame (standard and historic
 * mode) is rejected by the device's parser, accepted once fixed, and shows
 * the value edited; what is not a telegram is refused with the reason. */
#include <criterion/criterion.h>
#include <string.h>

#include "meter.h"
#include "p1_gen.h"
#include "sc_error.h"
#include "telegram.h"
#include "tg_fix.h"
#include "tic_gen.h"

#define T0 1741773600LL

/* Telegrams parsed (ok) and refused (failed) in buf; the last reading. */
static void parse(const char *buf, size_t len, enum sc_protocol proto, int *ok, int *failed,
		  struct sc_reading *last)
{
	struct sc_tg_stream *s = sc_tg_stream_new(proto, 0);
	cr_assert_not_null(s);
	static struct sc_tg_event ev;
	*ok = *failed = 0;
	while (len > 0) {
		size_t used = sc_tg_feed(s, buf, len, &ev);
		buf += used;
		len -= used;
		*ok += ev.kind == SC_TG_OK;
		*failed += ev.kind == SC_TG_FAILED;
		if (ev.kind == SC_TG_OK && last)
			*last = ev.reading;
	}
	while (sc_tg_finish(s, &ev) != SC_TG_NONE) {
		*ok += ev.kind == SC_TG_OK;
		*failed += ev.kind == SC_TG_FAILED;
	}
	sc_tg_stream_free(s);
}

static char in[SC_P1_GEN_MAX + 1], out[SC_TG_FIX_CAP(SC_P1_GEN_MAX)];

static void meter(struct sc_meter *m)
{
	struct sc_meter_config cfg = {.profile = SC_PROFILE_HOUSEHOLD, .phases = 3, .seed = 5,
				      .start = T0};
	sc_meter_init(m, &cfg);
}

Test(tg_fix, p1_edited_value_gets_its_crc_back)
{
	static struct sc_meter m;
	meter(&m);
	struct sc_p1_gen_opts o = {.flavour = SC_FLAVOUR_DSMR50};
	int n = sc_p1_gen(&m, &o, in, sizeof in, NULL);
	cr_assert_gt(n, 0);
	/* 9 kW on L1, by hand. */
	char *pp = strstr(in, "1-0:21.7.0(");
	cr_assert_not_null(pp);
	memcpy(pp + 11, "09.000", 6);
	int ok, failed;
	parse(in, (size_t)n, SC_PROTO_P1, &ok, &failed, NULL);
	cr_assert_eq(failed, 1, "the edit must break the CRC");
	struct sc_tg_fix_stats st;
	char why[256];
	long k = sc_tg_fix(in, (size_t)n, out, sizeof out, &st, why, sizeof why);
	cr_assert_eq(k, n, "%s", why);
	cr_assert_eq(st.telegrams, 1);
	cr_assert_eq(st.changed, 1);
	struct sc_reading r;
	parse(out, (size_t)k, SC_PROTO_P1, &ok, &failed, &r);
	cr_assert_eq(ok, 1);
	cr_assert_eq(failed, 0);
	cr_assert_float_eq(r.ph[0][SC_PQ_P_PLUS].v, 9000, 1e-6);
	/* Fixing again changes nothing. */
	static char again[sizeof out];
	long k2 = sc_tg_fix(out, (size_t)k, again, sizeof again, &st, why, sizeof why);
	cr_assert_eq(k2, k);
	cr_assert_eq(st.changed, 0);
	cr_assert(memcmp(out, again, (size_t)k) == 0);
}

Test(tg_fix, p1_lf_line_ends_and_a_missing_crc)
{
	static struct sc_meter m;
	meter(&m);
	struct sc_p1_gen_opts o = {.flavour = SC_FLAVOUR_EMUCS};
	int n = sc_p1_gen(&m, &o, in, sizeof in, NULL);
	cr_assert_gt(n, 0);
	static char orig[sizeof in];
	memcpy(orig, in, (size_t)n);
	/* As an editor saves it: LF only, and the CRC line cut after '!'. */
	size_t len = 0;
	for (int i = 0; i < n; i++)
		if (in[i] != '\r')
			in[len++] = in[i];
	char *bang = memchr(in, '!', len);
	cr_assert_not_null(bang);
	len = (size_t)(bang - in) + 1;
	struct sc_tg_fix_stats st;
	char why[256];
	long k = sc_tg_fix(in, len, out, sizeof out, &st, why, sizeof why);
	cr_assert_gt(k, 0, "%s", why);
	cr_assert_gt(st.line_ends, 10);
	/* Byte for byte the telegram the generator wrote. */
	cr_assert_eq(k, n);
	cr_assert(memcmp(out, orig, (size_t)n) == 0);
}

Test(tg_fix, tic_standard_and_historic_groups)
{
	static struct sc_meter m;
	meter(&m);
	for (int historic = 0; historic < 2; historic++) {
		struct sc_tic_gen_opts o = {.fault = historic ? SC_TIC_FAULT_HISTORIC
							       : SC_TIC_FAULT_NONE};
		int n = sc_tic_gen(&m, &o, in, sizeof in, NULL);
		cr_assert_gt(n, 0);
		in[n] = '\0';
		static char orig[sizeof in];
		memcpy(orig, in, (size_t)n);
		/* A group's checksum made wrong by an edit of its data. */
		char *lf = strchr(in + 1, '\n');
		cr_assert_not_null(lf);
		char *cr = strchr(lf, '\r');
		cr_assert_not_null(cr);
		cr[-1] = (char)(cr[-1] == '!' ? '"' : '!');
		struct sc_tg_fix_stats st;
		char why[256];
		long k = sc_tg_fix(in, (size_t)n, out, sizeof out, &st, why, sizeof why);
		cr_assert_eq(k, n, "%s", why);
		cr_assert_eq(st.tic, 1);
		cr_assert_eq(st.changed, 1, "historic %d: %d changed", historic, st.changed);
		cr_assert_gt(st.groups, 10);
		cr_assert(memcmp(out, orig, (size_t)n) == 0, "historic %d", historic);
	}
	/* A standard frame with a value edited parses again, with the value. */
	struct sc_tic_gen_opts o = {0};
	int n = sc_tic_gen(&m, &o, in, sizeof in, NULL);
	in[n] = '\0';
	char *g = strstr(in, "\nURMS1\t");
	cr_assert_not_null(g);
	memcpy(g + 7, "239", 3); /* 232 was generated: another digit sum */
	int ok, failed;
	parse(in, (size_t)n, SC_PROTO_TIC, &ok, &failed, NULL);
	cr_assert_eq(failed, 1);
	char why[256];
	long k = sc_tg_fix(in, (size_t)n, out, sizeof out, NULL, why, sizeof why);
	cr_assert_eq(k, n, "%s", why);
	struct sc_reading r;
	parse(out, (size_t)k, SC_PROTO_TIC, &ok, &failed, &r);
	cr_assert_eq(ok, 1);
	cr_assert_float_eq(r.ph[0][SC_PQ_U].v, 239, 1e-9);
}

Test(tg_fix, what_is_not_a_telegram)
{
	char why[256];
	static const char *const bad[] = {
		"hello world\n",
		"/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n", /* no '!' */
		"\x02\nADSC\t041876097471\tJ\r\n\nURMS1\r\n\x03",           /* no separator */
		"\x02\nADSC\t041876097471\tJ\r\n",                          /* no ETX */
	};
	static const char *const says[] = {"not a telegram", "no '!'", "no separator", "no ETX"};
	for (size_t i = 0; i < 4; i++) {
		why[0] = '\0';
		long k = sc_tg_fix(bad[i], strlen(bad[i]), out, sizeof out, NULL, why, sizeof why);
		cr_assert_eq(k, SC_ERR_SYNTAX, "input %zu: %ld", i, k);
		cr_assert_not_null(strstr(why, says[i]), "input %zu: '%s'", i, why);
	}
}
