/* The P1 decoder's fast path (the common line in one pass, its value bytes
 * classed sixteen at a time, the telegram decoded against the one before
 * it) against its general path (SC_P1_REFERENCE),
 * which finds the line's end first and splits it byte by byte: the same return code, error
 * offset, detail and decoded telegram, on every telegram of the field and
 * generated captures and on many damaged copies of them. The CRC's fast
 * path has its own equivalence test (test_crc16.c); the fuzz target
 * fuzz_p1 holds the two decoder paths together on fuzzed input. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p1.h"
#include "sc_error.h"
#include "slurp.h"

struct decoded {
	int rc;
	size_t err_off;
	char detail[160];
	struct sc_p1_telegram tg;
};

static void decode(const char *raw, size_t len, unsigned flags, struct decoded *d)
{
	memset(d, 0, sizeof *d);
	d->rc = sc_p1_decode(raw, len, flags, &d->tg, &d->err_off, d->detail, sizeof d->detail);
}

/* As decode, against a history (sc_p1_decode_hist). */
static void decode_with(struct sc_p1_history *h, const char *raw, size_t len, unsigned flags,
			struct decoded *d)
{
	memset(d, 0, sizeof *d);
	d->rc = sc_p1_decode_hist(raw, len, flags, h, &d->tg, &d->err_off, d->detail,
				  sizeof d->detail);
}

static void same_as_reference(const struct decoded *fast, const char *raw, size_t len,
			      unsigned flags, const char *what)
{
	static struct decoded ref;
	decode(raw, len, flags | SC_P1_REFERENCE, &ref);
	cr_assert_eq(fast->rc, ref.rc, "%s: rc %d, reference %d (%s | %s)", what, fast->rc, ref.rc,
		     fast->detail, ref.detail);
	cr_assert_eq(fast->err_off, ref.err_off, "%s: error at %zu, reference %zu", what,
		     fast->err_off, ref.err_off);
	cr_assert_str_eq(fast->detail, ref.detail, "%s", what);
	cr_assert(memcmp(&fast->tg, &ref.tg, sizeof fast->tg) == 0, "%s: the decoded telegrams differ",
		  what);
}

/* Decoded both ways with each flag set; returns how many decoded SC_OK. */
static int same_both_ways(const char *raw, size_t len, const char *what)
{
	static struct decoded fast, ref;
	static const unsigned flag_sets[] = {0, SC_P1_ANY_VERSION};
	int ok = 0;
	for (size_t k = 0; k < sizeof flag_sets / sizeof flag_sets[0]; k++) {
		decode(raw, len, flag_sets[k], &fast);
		decode(raw, len, flag_sets[k] | SC_P1_REFERENCE, &ref);
		cr_assert_eq(fast.rc, ref.rc, "%s: rc %d, reference %d (%s | %s)", what, fast.rc,
			     ref.rc, fast.detail, ref.detail);
		cr_assert_eq(fast.err_off, ref.err_off, "%s: error at %zu, reference %zu", what,
			     fast.err_off, ref.err_off);
		cr_assert_str_eq(fast.detail, ref.detail, "%s", what);
		cr_assert(memcmp(&fast.tg, &ref.tg, sizeof fast.tg) == 0,
			  "%s: the decoded telegrams differ", what);
		ok += fast.rc == 0;
	}
	return ok;
}

struct telegrams {
	size_t n;
	char *raw[4096];
	size_t len[4096];
};

/* Every telegram the framer finds in the file (whatever the decoder makes
 * of it: CRC mismatches too, their text is what the decoder sees when the
 * meter sends no CRC). */
static void frame_file(const char *path, struct telegrams *t)
{
	static struct sc_p1_parser p;
	static struct sc_p1_result res;
	size_t len;
	char *data = slurp(path, &len);
	memset(&p, 0, sizeof p);
	p.flags = SC_P1_ANY_VERSION;
	for (size_t off = 0;;) {
		if (off < len) {
			off += sc_p1_feed(&p, data + off, len - off, &res);
		} else if (sc_p1_finish(&p, &res) == SC_P1_NEED_MORE) {
			break;
		}
		if (res.raw && res.raw_len > 0 && t->n < sizeof t->raw / sizeof t->raw[0]) {
			t->raw[t->n] = malloc(res.raw_len);
			cr_assert_not_null(t->raw[t->n]);
			memcpy(t->raw[t->n], res.raw, res.raw_len);
			t->len[t->n++] = res.raw_len;
		}
	}
	free(data);
}

static struct telegrams all;

static void load_all(void)
{
	const char *dirs[] = {SC_CORPUS_DIR "/p1", SC_SOURCE_DIR "/corpus/p1"};
	int files = 0;
	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
		DIR *dir = opendir(dirs[d]);
		cr_assert_not_null(dir, "cannot open %s", dirs[d]);
		struct dirent *e;
		while ((e = readdir(dir)) != NULL) {
			size_t n = strlen(e->d_name);
			if (n < 4 || strcmp(e->d_name + n - 3, ".p1") != 0)
				continue;
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
			frame_file(path, &all);
			files++;
		}
		closedir(dir);
	}
	cr_assert_geq(files, 10, "only %d P1 captures found", files);
	cr_assert_geq(all.n, 600u, "only %zu telegrams framed", all.n);
}

static void free_all(void)
{
	for (size_t i = 0; i < all.n; i++)
		free(all.raw[i]);
	all.n = 0;
}

TestSuite(p1_fastpath, .init = load_all, .fini = free_all);

Test(p1_fastpath, every_captured_telegram_decodes_the_same_both_ways)
{
	int ok = 0;
	for (size_t i = 0; i < all.n; i++) {
		char what[64];
		snprintf(what, sizeof what, "telegram %zu", i);
		ok += same_both_ways(all.raw[i], all.len[i], what);
	}
	/* Most decode: the comparison is not only of errors. */
	cr_assert_geq(ok, (int)all.n, "%d of %zu telegrams x 2 flag sets decoded", ok, all.n);
}

/* Bytes that change the shape of a line or a number. */
static const unsigned char nasty[] = {'(', ')', '\r', '\n', '*', '.', '-', ':', '0', '5', '9',
				      'k', 'W', 'h', ' ', '!', '/', 0x00, 0x1F, 0x7F, 0x80,
				      0xFF, 'S', 'e', '+'};

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* One to three bytes changed, deleted or inserted, anywhere after the
 * identification's '/'. */
static size_t damage(const char *in, size_t len, char *out, uint32_t *s)
{
	memcpy(out, in, len);
	int edits = 1 + (int)(rnd(s) % 3);
	for (int k = 0; k < edits && len > 2; k++) {
		size_t at = 1 + rnd(s) % (len - 1);
		unsigned char b = (rnd(s) & 1) ? nasty[rnd(s) % sizeof nasty] : (unsigned char)rnd(s);
		switch (rnd(s) % 3) {
		case 0:
			out[at] = (char)b;
			break;
		case 1:
			memmove(out + at, out + at + 1, len - at - 1);
			len--;
			break;
		default:
			if (len < SC_P1_BUF_SIZE) {
				memmove(out + at + 1, out + at, len - at);
				out[at] = (char)b;
				len++;
			}
			break;
		}
	}
	return len;
}

Test(p1_fastpath, damaged_telegrams_decode_the_same_both_ways)
{
	static char buf[SC_P1_BUF_SIZE + 8];
	uint32_t s = 2029;
	/* A sample of each capture's telegrams (the AM550's 566 are alike). */
	for (size_t i = 0; i < all.n; i += all.n > 200 ? 3 : 1) {
		for (int m = 0; m < 60; m++) {
			size_t len = damage(all.raw[i], all.len[i], buf, &s);
			char what[96];
			snprintf(what, sizeof what, "telegram %zu damage %d", i, m);
			same_both_ways(buf, len, what);
		}
	}
}

/* Numbers of every shape a value can take, in a line of their own: digits
 * before and after the point up to past sixteen (a value longer than one
 * sixteen-byte class), no digit after the point, a unit or not, the end of
 * the telegram near. */
Test(p1_fastpath, numbers_of_every_length_decode_the_same_both_ways)
{
	static char buf[SC_P1_BUF_SIZE];
	const char *units[] = {"*kWh", "*kW", "*V", "*A", "*s", "", "*", "*kWhx"};
	uint32_t s = 7;
	for (int ni = 0; ni <= 20; ni++) {
		for (int nf = -1; nf <= 20; nf++) {
			for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
				char num[64];
				int n = 0;
				for (int k = 0; k < ni; k++)
					num[n++] = (char)('0' + rnd(&s) % 10);
				if (nf >= 0) {
					num[n++] = '.';
					for (int k = 0; k < nf; k++)
						num[n++] = (char)('0' + rnd(&s) % 10);
				}
				num[n] = '\0';
				/* Once with lines after it, once as the last line. */
				for (int last = 0; last < 2; last++) {
					int len = snprintf(buf, sizeof buf,
							   "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n"
							   "1-0:1.8.1(%s%s)\r\n%s!",
							   num, units[u],
							   last ? "" : "1-0:2.8.1(000000.000*kWh)\r\n"
								       "1-0:32.7.0(237.1*V)\r\n");
					char what[96];
					snprintf(what, sizeof what, "'%s%s'%s", num, units[u],
						 last ? " last" : "");
					same_both_ways(buf, (size_t)len, what);
				}
			}
		}
	}
}

/* Hex strings (the equipment id) of every length to past two sixteen-byte
 * classes, whole and with one byte at each place replaced by a byte at the
 * edge of a hex range ('/' ':' '@' 'G' '`' 'g'), a hex letter of either
 * case or a byte with the high bit set: the first bad byte found at the
 * same place both ways. */
Test(p1_fastpath, hex_strings_of_every_length_decode_the_same_both_ways)
{
	static char buf[SC_P1_BUF_SIZE];
	static const char subst[] = {'/', ':', '@', 'G', '`', 'g', 'A', 'F', 'a', 'f',
				     '0', '9', (char)0x80, (char)0xC6, (char)0xE6, '\t'};
	static const char digits[] = "0123456789ABCDEFabcdef";
	uint32_t s = 11;
	int decoded = 0;
	for (int n = 0; n <= 40; n++) {
		char hex[48];
		for (int k = 0; k < n; k++)
			hex[k] = digits[rnd(&s) % (sizeof digits - 1)];
		for (int at = -1; at < n; at++) {
			for (size_t b = 0; b < (at < 0 ? 1 : sizeof subst); b++) {
				char h[48];
				memcpy(h, hex, (size_t)n);
				if (at >= 0)
					h[at] = subst[b];
				int len = snprintf(buf, sizeof buf,
						   "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n"
						   "0-0:96.1.1(%.*s)\r\n1-0:32.7.0(237.1*V)\r\n!",
						   n, h);
				char what[96];
				snprintf(what, sizeof what, "hex of %d, byte 0x%02X at %d", n,
					 at < 0 ? 0 : (unsigned char)subst[b], at);
				decoded += same_both_ways(buf, (size_t)len, what);
			}
		}
	}
	/* The whole strings of even length decode (21 of them, 2 flag sets). */
	cr_assert_geq(decoded, 42);
}

/* ---- History: a telegram decoded after another ----
 *
 * Given a history (p1.h: struct sc_p1_history), the fast path decodes a
 * telegram against the last one it decoded with it (p1_decode.c): each
 * telegram below is decoded fast after another with one history and
 * compared with the reference decode of it alone. */

static const unsigned history_flags[] = {0, SC_P1_ANY_VERSION, SC_P1_STRICT};

/* cur decoded fast right after prev (prev NULL: after nothing), against the
 * reference; returns 1 when it decoded SC_OK. */
static int after(const char *prev, size_t plen, const char *cur, size_t clen, unsigned flags,
		 const char *what)
{
	static struct decoded d;
	static struct sc_p1_history h;
	memset(&h, 0, sizeof h);
	if (prev)
		decode_with(&h, prev, plen, flags, &d);
	decode_with(&h, cur, clen, flags, &d);
	same_as_reference(&d, cur, clen, flags, what);
	return d.rc == 0;
}

Test(p1_fastpath, every_capture_decodes_the_same_telegram_after_telegram)
{
	/* In the order of the captures (the AM550's 566 real consecutive
	 * telegrams among them), one capture after the other, each telegram
	 * decoded fast after the one before it. */
	for (size_t k = 0; k < sizeof history_flags / sizeof history_flags[0]; k++) {
		static struct decoded d;
		static struct sc_p1_history h;
		memset(&h, 0, sizeof h);
		int ok = 0;
		for (size_t i = 0; i < all.n; i++) {
			char what[64];
			snprintf(what, sizeof what, "telegram %zu after %zu, flags %u", i, i - 1,
				 history_flags[k]);
			decode_with(&h, all.raw[i], all.len[i], history_flags[k], &d);
			same_as_reference(&d, all.raw[i], all.len[i], history_flags[k], what);
			ok += d.rc == 0;
		}
		cr_assert_geq(ok, (int)all.n / 2, "%d of %zu decoded", ok, all.n);
	}
}

/* Edits of one line of a telegram that keep or break its layout. */
enum edit {
	ED_DIGIT,      /* a digit of the value another digit: the same layout */
	ED_VALUE_BAD,  /* a byte of the value 'x' or a control byte: an error in place */
	ED_WIDER,      /* a '0' more at the value's start: the line's end moves */
	ED_NARROWER,   /* the value's first byte less */
	ED_KEY,        /* a digit of the OBIS code another: the same length, another key */
	ED_DROP,       /* the line removed */
	ED_TWICE,      /* the line sent twice */
	ED_INSERT,     /* an unknown object before the line */
	ED_UNIT,       /* the unit in capitals, or a unit the object's rule sets aside */
	ED_IDENT,      /* a byte of the identification another letter or a control byte */
	ED_COUNT,
};

/* The lines of a telegram after its identification: offsets of their
 * starts (and of the '!'). */
static size_t lines_of(const char *raw, size_t len, size_t *start, size_t max)
{
	size_t n = 0;
	const char *bang = memchr(raw, '!', len);
	size_t end = bang ? (size_t)(bang - raw) : len;
	for (size_t i = 0; i < end && n + 1 < max; i++)
		if (raw[i] == '\n' && i + 1 < end)
			start[n++] = i + 1;
	start[n] = end;
	return n;
}

/* The telegram with edit e on line li (seeded choices from *s); its
 * length, or 0 when the edit does not apply to the line. */
static size_t edited(const char *raw, size_t len, size_t li, enum edit e, uint32_t *s, char *out)
{
	size_t start[256];
	size_t n = lines_of(raw, len, start, 256);
	if (li >= n)
		return 0;
	size_t a = start[li], b = start[li + 1];
	const char *paren = memchr(raw + a, '(', b - a);
	size_t v = paren ? (size_t)(paren - raw) + 1 : 0; /* the value's first byte */
	size_t o = 0;
#define PUT(p, n) (memcpy(out + o, (p), (n)), o += (n))
	switch (e) {
	case ED_DIGIT:
	case ED_VALUE_BAD: {
		if (!v)
			return 0;
		size_t digits[64], nd = 0;
		for (size_t i = v; i < b && nd < 64; i++)
			if ((e == ED_DIGIT && raw[i] >= '0' && raw[i] <= '9') ||
			    (e == ED_VALUE_BAD && raw[i] != '\r' && raw[i] != '\n'))
				digits[nd++] = i;
		if (!nd)
			return 0;
		PUT(raw, len);
		size_t at = digits[rnd(s) % nd];
		static const char bad[] = {'x', '(', ')', 0x01, (char)0x80, '*', '.'};
		out[at] = e == ED_DIGIT ? (char)('0' + ((unsigned)(raw[at] - '0') + 1 + rnd(s) % 9) % 10)
					: bad[rnd(s) % sizeof bad];
		return o;
	}
	case ED_WIDER:
	case ED_NARROWER:
		if (!v || v >= b)
			return 0;
		PUT(raw, v);
		if (e == ED_WIDER)
			PUT("0", 1);
		else
			v++;
		PUT(raw + v, len - v);
		return o;
	case ED_KEY: {
		size_t digits[32], nd = 0;
		for (size_t i = a; i < (v ? v - 1 : b) && nd < 32; i++)
			if (raw[i] >= '0' && raw[i] <= '9')
				digits[nd++] = i;
		if (!nd)
			return 0;
		PUT(raw, len);
		size_t at = digits[rnd(s) % nd];
		out[at] = (char)('0' + ((unsigned)(raw[at] - '0') + 1 + rnd(s) % 9) % 10);
		return o;
	}
	case ED_DROP:
		PUT(raw, a);
		PUT(raw + b, len - b);
		return o;
	case ED_TWICE:
		PUT(raw, b);
		PUT(raw + a, len - a);
		return o;
	case ED_INSERT:
		PUT(raw, a);
		PUT("0-0:96.99.9(42)\r\n", 17);
		PUT(raw + a, len - a);
		return o;
	case ED_UNIT: {
		const char *star = v ? memchr(raw + v, '*', b - v) : NULL;
		if (!star)
			return 0;
		size_t at = (size_t)(star - raw) + 1;
		PUT(raw, at);
		if (rnd(s) & 1) {
			for (size_t i = at; i < b && raw[i] != ')'; i++)
				out[o++] = (char)(raw[i] >= 'a' && raw[i] <= 'z' ? raw[i] - 32 : raw[i]);
			at = (size_t)((const char *)memchr(raw + at, ')', b - at) - raw);
		} else {
			PUT("GJ", 2); /* a unit outside most objects' rules, as long as "kW" */
			at += 2;
		}
		PUT(raw + at, len - at);
		return o;
	}
	case ED_IDENT: {
		const char *nl = memchr(raw, '\n', len);
		size_t hl = nl ? (size_t)(nl - raw) : 0;
		if (hl < 3)
			return 0;
		PUT(raw, len);
		size_t at = 1 + (li + rnd(s)) % (hl - 2);
		out[at] = (rnd(s) % 4) ? (char)('A' + rnd(s) % 26) : (char)0x01;
		return o;
	}
	case ED_COUNT:
		break;
	}
#undef PUT
	return 0;
}

/* Telegrams to edit: every one of the small captures and a sample of the
 * AM550's. */
static bool sampled(size_t i)
{
	return all.n < 300 || i % 40 == 0 || all.len[i] != all.len[i ? i - 1 : 0];
}

Test(p1_fastpath, every_edit_of_every_line_decodes_the_same_after_the_original)
{
	static char buf[SC_P1_BUF_SIZE + 64], buf2[SC_P1_BUF_SIZE + 64];
	uint32_t s = 4242;
	size_t pairs = 0;
	for (size_t i = 0; i < all.n; i++) {
		if (!sampled(i))
			continue;
		const char *t = all.raw[i];
		size_t tl = all.len[i];
		for (size_t li = 0; li < 256; li++) {
			size_t start[256];
			if (li >= lines_of(t, tl, start, 256))
				break;
			for (int e = 0; e < ED_COUNT; e++) {
				size_t n = edited(t, tl, li, (enum edit)e, &s, buf);
				if (n == 0 || n > SC_P1_BUF_SIZE)
					continue;
				/* A second edit of the same kind elsewhere, for a pair
				 * of edited telegrams. */
				size_t n2 = edited(t, tl, (li * 7 + 3) % 40, (enum edit)e, &s, buf2);
				for (size_t k = 0; k < sizeof history_flags / sizeof history_flags[0];
				     k++) {
					unsigned f = history_flags[k];
					char what[128];
					snprintf(what, sizeof what,
						 "telegram %zu line %zu edit %d flags %u", i, li, e, f);
					after(t, tl, buf, n, f, what);    /* the edit after the original */
					after(buf, n, t, tl, f, what);    /* the original after the edit */
					after(buf, n, buf, n, f, what);   /* the same bytes again */
					if (n2 && n2 <= SC_P1_BUF_SIZE)
						after(buf2, n2, buf, n, f, what); /* one edit after another */
					pairs += 4;
				}
			}
		}
	}
	cr_assert_geq(pairs, 10000u, "only %zu pairs", pairs);
}

/* Runs of telegrams of one layout whose values change at random places
 * (the decode against the history at its most used), with now and then a
 * damaged telegram, the same bytes again, or a telegram of another meter:
 * each decoded fast after the one before and compared. */
Test(p1_fastpath, runs_of_changing_values_decode_the_same_after_each_other)
{
	static char cur[SC_P1_BUF_SIZE + 64];
	static struct decoded d;
	uint32_t s = 99;
	int ok = 0, runs = 0;
	for (size_t i = 0; i < all.n; i++) {
		if (!sampled(i))
			continue;
		for (size_t k = 0; k < sizeof history_flags / sizeof history_flags[0]; k++) {
			unsigned f = history_flags[k];
			size_t len = all.len[i];
			memcpy(cur, all.raw[i], len);
			static struct sc_p1_history h;
			memset(&h, 0, sizeof h);
			runs++;
			for (int step = 0; step < 200; step++) {
				const char *in = cur;
				size_t inlen = len;
				uint32_t what_kind = rnd(&s) % 16;
				if (what_kind < 11) {
					/* 1-4 digits anywhere another digit (values, codes,
					 * the identification). */
					int nd = 1 + (int)(rnd(&s) % 4);
					for (int m = 0; m < nd; m++) {
						size_t at = rnd(&s) % len;
						if (cur[at] >= '0' && cur[at] <= '9')
							cur[at] = (char)('0' + rnd(&s) % 10);
					}
				} else if (what_kind < 13) {
					/* A damaged telegram in between; the next one is
					 * the undamaged one again. */
					static char dam[SC_P1_BUF_SIZE + 8];
					inlen = damage(cur, len, dam, &s);
					in = dam;
				} else if (what_kind == 13) {
					/* Another meter's telegram in between. */
					size_t j = rnd(&s) % all.n;
					in = all.raw[j];
					inlen = all.len[j];
				} else if (what_kind == 14) {
					/* A byte of the CRC or after the '!' (not decoded
					 * but for its length and the '!' place). */
					cur[len - 1] = (char)"0123456789ABCDEF!"[rnd(&s) % 17];
				}
				/* 15: the same bytes again. */
				char what[128];
				snprintf(what, sizeof what, "telegram %zu flags %u step %d kind %u", i, f,
					 step, what_kind);
				decode_with(&h, in, inlen, f, &d);
				same_as_reference(&d, in, inlen, f, what);
				ok += d.rc == 0;
			}
		}
	}
	cr_assert_geq(ok, runs * 50, "%d of %d x 200 decoded", ok, runs);
}

/* Telegrams where one object's fields are written by two lines, or one
 * line's effect reads another's: a changed line there is not decoded over
 * the kept telegram (the classes of p1_decode.c). Each pair both ways. */
Test(p1_fastpath, lines_that_share_a_field_decode_the_same_after_a_change)
{
	static const char *const pairs[][2] = {
		/* The demand peak twice: the second set aside (a unit outside its
		 * rule) clears the time the first wrote. */
		{"1-0:1.6.0(200509134558S)(00.111*kW)\r\n1-0:1.6.0(200501000000S)(00.222*GJ)\r\n",
		 "1-0:1.6.0(200509134559S)(00.112*kW)\r\n1-0:1.6.0(200501000000S)(00.222*GJ)\r\n"},
		/* An empty equipment id, then 96.1.0 taking its place: the id's
		 * code written otherwise with the same key and length. */
		{"0-0:96.01.1()\r\n0-0:96.1.0(4B384547)\r\n", "0-0:096.1.1()\r\n0-0:96.1.0(4B384547)\r\n"},
		/* M-Bus channel 1 with both readings: the later one counts. */
		{"0-1:24.1.0(003)\r\n0-1:24.2.1(200509134500S)(00123.456*m3)\r\n"
		 "0-1:24.2.3(200509134500S)(00777.000*m3)\r\n",
		 "0-1:24.1.0(003)\r\n0-1:24.2.1(200509135000S)(00123.457*m3)\r\n"
		 "0-1:24.2.3(200509134500S)(00777.000*m3)\r\n"},
		/* Both ids of one M-Bus channel. */
		{"0-2:96.1.1(3232323241424344313233343536373839)\r\n0-2:96.1.0(4142)\r\n",
		 "0-2:96.1.1(3232323241424344313233343536373830)\r\n0-2:96.1.0(4142)\r\n"},
		/* The failure log's entries change, its length not. */
		{"1-0:99.97.0(2)(0-0:96.7.19)(180417201458S)(0000000236*s)(180417201459S)(0000000001*s)\r\n",
		 "1-0:99.97.0(1)(0-0:96.7.19)(180417201458S)(0000000236*s)(180417201459S)(0000000001*s)\r\n"},
		/* A value set aside in one, read in the other. */
		{"1-0:3.7.0(00.100*kvar)\r\n", "1-0:3.7.0(00.100*kvas)\r\n"},
	};
	/* A failure log of more entries than tg keeps (the rest counted in
	 * tg->dropped), an entry's time changed. */
	static char log_a[1024], log_b[1024];
	int n = snprintf(log_a, sizeof log_a, "1-0:99.97.0(%d)(0-0:96.7.19)", SC_P1_MAX_FAILLOG + 1);
	for (int k = 0; k <= SC_P1_MAX_FAILLOG; k++)
		n += snprintf(log_a + n, sizeof log_a - (size_t)n, "(1804172014%02dS)(0000000236*s)", k);
	snprintf(log_a + n, sizeof log_a - (size_t)n, "\r\n");
	memcpy(log_b, log_a, sizeof log_b);
	log_b[strlen("1-0:99.97.0(11)(0-0:96.7.19)(18041720140")] = '9';
	static char a[1024], b[1024];
	for (size_t i = 0; i <= sizeof pairs / sizeof pairs[0]; i++) {
		const char *pa = i < sizeof pairs / sizeof pairs[0] ? pairs[i][0] : log_a;
		const char *pb = i < sizeof pairs / sizeof pairs[0] ? pairs[i][1] : log_b;
		int la = snprintf(a, sizeof a, "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n%s"
				  "1-0:32.7.0(237.1*V)\r\n!", pa);
		int lb = snprintf(b, sizeof b, "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n%s"
				  "1-0:32.7.0(237.1*V)\r\n!", pb);
		cr_assert_eq(la, lb, "pair %zu: of one length", i);
		for (size_t k = 0; k < sizeof history_flags / sizeof history_flags[0]; k++) {
			char what[64];
			snprintf(what, sizeof what, "pair %zu flags %u", i, history_flags[k]);
			after(a, (size_t)la, b, (size_t)lb, history_flags[k], what);
			after(b, (size_t)lb, a, (size_t)la, history_flags[k], what);
		}
	}
	/* The identification changed, with an object right after it (no empty
	 * line between, as some meters send it). */
	static const char *const ident[] = {
		"/ISK5\\2M550T-1012\r\n1-3:0.2.8(50)\r\n1-0:1.7.0(00.378*kW)\r\n!",
		"/ISX5\\2M550T-1012\r\n1-3:0.2.8(50)\r\n1-0:1.7.0(00.379*kW)\r\n!",
		"/ISK5\\2M550T-1012\r\n1-3:0.2.8(50)\r\n1-0:1.7.0(00.379*kW)\r\n!",
		"/IS\x01""5\\2M550T-1012\r\n1-3:0.2.8(50)\r\n1-0:1.7.0(00.379*kW)\r\n!",
	};
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 4; j++) {
			char what[64];
			snprintf(what, sizeof what, "identification %zu after %zu", j, i);
			after(ident[i], strlen(ident[i]), ident[j], strlen(ident[j]), 0, what);
		}
	}
}

/* The history is the caller's: a decode given it takes the unchanged lines
 * from it (here shown by a kept telegram altered on purpose), a decode
 * without one, or with SC_P1_REFERENCE, or with a fresh one, does not. */
Test(p1_fastpath, only_a_decode_given_the_history_reads_it)
{
	static struct decoded d, ref;
	static struct sc_p1_history h;
	size_t i = 0;
	for (; i < all.n; i++) {
		decode(all.raw[i], all.len[i], 0, &ref);
		if (ref.rc == SC_OK && ref.tg.objects > 0)
			break;
	}
	cr_assert_lt(i, all.n, "no telegram decodes");
	const char *t = all.raw[i];
	size_t tl = all.len[i];

	memset(&h, 0, sizeof h);
	decode_with(&h, t, tl, 0, &d);
	same_as_reference(&d, t, tl, 0, "first telegram with a history");
	h.tg.objects += 1000; /* what only the history holds */
	decode_with(&h, t, tl, 0, &d);
	cr_assert_eq(d.tg.objects, ref.tg.objects + 1000, "the same bytes again were not taken "
		     "from the history");

	decode(t, tl, 0, &d);
	same_as_reference(&d, t, tl, 0, "without a history, after one was used");
	decode_with(&h, t, tl, SC_P1_REFERENCE, &d);
	same_as_reference(&d, t, tl, 0, "the reference path given a history");
	static struct sc_p1_history fresh;
	memset(&fresh, 0, sizeof fresh);
	decode_with(&fresh, t, tl, 0, &d);
	same_as_reference(&d, t, tl, 0, "a fresh history");
}

/* Two streams through two parsers, each with its own history, fed in turns
 * (the AM550's real consecutive telegrams and a generated day): every
 * telegram as the reference decodes it; sc_p1_reset keeps the history. */
Test(p1_fastpath, parsers_with_their_own_histories_fed_in_turns_decode_as_the_reference)
{
	const char *paths[2] = {SC_CORPUS_DIR "/p1/dsmr50-iskra-am550-566-telegrams.p1",
				SC_SOURCE_DIR "/corpus/p1/gen-dsmr50-pv-ev-seed42.p1"};
	static struct sc_p1_parser p[2];
	static struct sc_p1_result res;
	static struct sc_p1_history h[2];
	static struct decoded d;
	char *data[2];
	size_t len[2], off[2] = {0, 0};
	int telegrams[2] = {0, 0};
	for (int k = 0; k < 2; k++) {
		data[k] = slurp(paths[k], &len[k]);
		cr_assert_not_null(data[k], "cannot read %s", paths[k]);
		memset(&p[k], 0, sizeof p[k]);
		memset(&h[k], 0, sizeof h[k]);
		p[k].history = &h[k];
	}
	sc_p1_reset(&p[1]);
	cr_assert_eq(p[1].history, &h[1], "sc_p1_reset dropped the history");
	while (off[0] < len[0] || off[1] < len[1]) {
		for (int k = 0; k < 2; k++) {
			if (off[k] >= len[k])
				continue;
			size_t n = len[k] - off[k] < 700 ? len[k] - off[k] : 700;
			off[k] += sc_p1_feed(&p[k], data[k] + off[k], n, &res);
			if (res.event != SC_P1_TELEGRAM)
				continue;
			telegrams[k]++;
			decode(res.raw, res.raw_len, SC_P1_REFERENCE, &d);
			cr_assert_eq(d.rc, SC_OK, "%s: telegram %d: %s", paths[k], telegrams[k],
				     d.detail);
			cr_assert(memcmp(&res.tg, &d.tg, sizeof d.tg) == 0,
				  "%s: telegram %d differs from the reference", paths[k], telegrams[k]);
		}
	}
	cr_assert_eq(telegrams[0], 566);
	cr_assert_geq(telegrams[1], 10);
	free(data[0]);
	free(data[1]);
}
