/* The P1 decoder's fast path (the common line in one pass, its value bytes
 * classed sixteen at a time) against its general path (SC_P1_REFERENCE),
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
