/* TIC standard-mode framer and group checker (Enedis-NOI-CPT_54E V3 §6).
 *
 * A frame is STX, groups, ETX; EOT interrupts a frame (its partial content is
 * discarded, as peers do and meters in the field show). A group is
 *   LF label HT [horodate HT] data HT checksum CR
 * and is checked for: bytes with bit 7 set (a parity problem of the 7E1
 * line), its shape, its checksum, and the label's data length (exact for
 * numeric labels, at most for text ones: tic_labels.c). A frame
 * with any bad group is rejected whole (the device counts it as failed), and
 * every bad group is reported with its label and offset. Historic-mode frames
 * and DSMR telegrams are recognised and reported as unsupported rather than as
 * streams of checksum errors.
 *
 * Bit 7 is the parity bit of the 7E1 line read as 8 bits: a byte with it set
 * is a damaged 7-bit character. The framer and the group splitter look at
 * the 7 data bits for the structure bytes (STX, LF, CR), so a parity error on
 * one of them costs the group it belongs to (reported as "bit7" with its
 * label), not the frame's structure. */
#include "tic.h"

#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "cpu.h"
#include "cursor.h"
#include "sc_error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SC_TIC_AVX2 1 /* chosen at run time (same_bytes) */
#endif

#define STX 0x02
#define ETX 0x03
#define EOT 0x04
#define HT 0x09

enum {
	ST_HUNT = 0, /* between frames, looking for STX */
	ST_SNIFF,    /* saw '/': is this a DSMR telegram? */
	ST_FOREIGN,  /* inside a DSMR telegram: skip to STX or the next '/' */
	ST_FRAME,    /* inside a frame, looking for ETX */
	ST_SKIP,     /* rest of an oversized frame */
	ST_STX7,     /* saw an STX with bit 7 set between frames: a frame if LF follows */
};

#define BIT7 0x80u

const char *sc_tic_event_name(enum sc_tic_event ev)
{
	switch (ev) {
	case SC_TIC_NEED_MORE: return "need-more";
	case SC_TIC_FRAME: return "frame";
	case SC_TIC_BAD_GROUPS: return "bad-groups";
	case SC_TIC_FRAMING: return "framing";
	case SC_TIC_OVERFLOW: return "overflow";
	case SC_TIC_UNSUPPORTED: return "unsupported";
	case SC_TIC_GARBAGE: return "garbage";
	}
	return "unknown";
}

const char *sc_tic_group_error_name(enum sc_tic_group_error e)
{
	switch (e) {
	case SC_TIC_GE_CHECKSUM: return "checksum";
	case SC_TIC_GE_LENGTH: return "length";
	case SC_TIC_GE_SYNTAX: return "syntax";
	case SC_TIC_GE_BIT7: return "bit7";
	}
	return "unknown";
}

char sc_tic_checksum(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (char)((sum & 0x3Fu) + 0x20u);
}

void sc_tic_reset(struct sc_tic_parser *p)
{
	uint64_t pos = p->pos;
	unsigned flags = p->flags;
	struct sc_tic_history *history = p->history;
	memset(p, 0, offsetof(struct sc_tic_parser, buf));
	p->pos = pos;
	p->flags = flags;
	p->history = history;
}

static void event(struct sc_tic_result *res, enum sc_tic_event ev, uint64_t offset,
		  uint64_t length)
{
	res->event = ev;
	res->offset = offset;
	res->length = length;
	res->error_offset = offset;
	res->raw = NULL;
	res->raw_len = 0;
	res->nerrors = 0;
	res->nchecksum = res->nlength = res->nsyntax = res->nbit7 = 0;
	res->detail[0] = '\0';
}

static bool is_space(unsigned char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t' || c == EOT;
}

static bool is_letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The 7 data bits of a byte: what a 7E1 character is with its parity bit
 * (bit 7 here) dropped. Used for the structure bytes only. */
static unsigned char seven(char c)
{
	return (unsigned char)((unsigned char)c & 0x7Fu);
}

/* Length of the label at b[s..e) as reported in errors: up to the first HT
 * or SP (the standard and the historic separator), at most
 * SC_TIC_MAX_LABEL bytes. */
static size_t label_span(const char *b, size_t s, size_t e)
{
	size_t k = s;
	while (k < e && k - s < SC_TIC_MAX_LABEL && seven(b[k]) != HT && seven(b[k]) != ' ')
		k++;
	return k - s;
}

static bool any_bit7(const char *b, size_t s, size_t e)
{
	for (size_t i = s; i < e; i++)
		if ((unsigned char)b[i] & BIT7)
			return true;
	return false;
}

/* The scans of a frame's bytes below take sixteen bytes at a time (SSE2)
 * unless the parser's SC_TIC_REFERENCE is set; then, and for the last
 * fewer than sixteen bytes, one at a time. Both give the same offset
 * (test_tic_parse.c, fuzz_tic). */
enum scan { SCAN_LF, SCAN_CR_LF, SCAN_FRAME_END };

/* Offset of the first byte of b[from..to) that the scan stops at, or to:
 *   SCAN_LF         an LF in the 7 data bits
 *   SCAN_CR_LF      a CR or an LF in the 7 data bits
 *   SCAN_FRAME_END  STX, ETX or EOT (all 8 bits) */
static size_t scan(const char *b, size_t from, size_t to, enum scan what, bool fast)
{
#if defined(__SSE2__)
	if (fast) {
		const __m128i low7 = _mm_set1_epi8(0x7F), lf = _mm_set1_epi8('\n');
		const __m128i cr = _mm_set1_epi8('\r'), stx = _mm_set1_epi8(STX);
		const __m128i two = _mm_set1_epi8(EOT - STX);
		for (; from + 16 <= to; from += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + from));
			__m128i hit;
			if (what == SCAN_FRAME_END) {
				/* x - STX in 0..2, unsigned */
				__m128i t = _mm_sub_epi8(x, stx);
				hit = _mm_cmpeq_epi8(_mm_min_epu8(t, two), t);
			} else {
				__m128i y = _mm_and_si128(x, low7);
				hit = _mm_cmpeq_epi8(y, lf);
				if (what == SCAN_CR_LF)
					hit = _mm_or_si128(hit, _mm_cmpeq_epi8(y, cr));
			}
			unsigned m = (unsigned)_mm_movemask_epi8(hit);
			if (m)
				return from + (size_t)__builtin_ctz(m);
		}
	}
#else
	(void)fast;
#endif
	for (; from < to; from++) {
		unsigned char ch = (unsigned char)b[from];
		if (what == SCAN_FRAME_END ? (unsigned char)(ch - STX) <= EOT - STX
		    : what == SCAN_LF      ? seven((char)ch) == '\n'
					   : seven((char)ch) == '\n' || seven((char)ch) == '\r')
			break;
	}
	return from;
}

/* label_span of a group of sixteen bytes or more, in one compare of its
 * first sixteen (the label is at most SC_TIC_MAX_LABEL long); label_span
 * itself for the others and the reference. */
static size_t label_span_fast(const char *b, size_t s, size_t e, bool fast)
{
#if defined(__SSE2__)
	if (fast && e - s >= 16) {
		__m128i y = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(b + s)),
					  _mm_set1_epi8(0x7F));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			_mm_cmpeq_epi8(y, _mm_set1_epi8(HT)), _mm_cmpeq_epi8(y, _mm_set1_epi8(' '))));
		size_t n = m ? (size_t)__builtin_ctz(m) : 16;
		return n < SC_TIC_MAX_LABEL ? n : SC_TIC_MAX_LABEL;
	}
#else
	(void)fast;
#endif
	return label_span(b, s, e);
}

/* The next LF (7 data bits) in b[from..to), or to. */
static size_t next_lf(const char *b, size_t from, size_t to, bool fast)
{
	return scan(b, from, to, SCAN_LF, fast);
}

/* ---- one frame ---- */

struct frame_ctx {
	const char *buf;
	size_t len;    /* of the frame in buf */
	uint64_t base; /* stream offset of buf[0] */
	struct sc_tic_result *res;
	struct sc_tic_frame *f;
	bool fast;     /* not SC_TIC_REFERENCE: see scan() */
	/* Where the group being decoded notes the fields it sets (the
	 * incremental decode), or NULL. */
	struct sc_tic_memo_group *rec;
};

/* What check_group learns of a group's content in one pass. */
struct group_pass {
	unsigned high; /* a byte with bit 7 set */
	unsigned ctrl; /* a control byte other than HT */
	unsigned sum;  /* of every byte */
	size_t ht[4];  /* the first four HTs */
	int nht;       /* all HTs */
};

#if defined(__SSE2__)
/* Sixteen bytes x of a group, at b[at..at+16), into g: those from x's
 * byte first on count (the others are counted already); *sum gathers
 * their sum (SAD). */
static inline void pass16(struct group_pass *g, __m128i x, unsigned first, size_t at,
			  __m128i *sum)
{
	unsigned keep = (0xFFFFu << first) & 0xFFFFu;
	unsigned high = (unsigned)_mm_movemask_epi8(x) & keep;
	unsigned tabs = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(HT))) & keep;
	/* signed: below 0x20 or bit 7 set; the latter taken out */
	unsigned low = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20))) & keep;
	g->high |= high;
	g->ctrl |= low & ~high & ~tabs;
	if (first) { /* the bytes before first add nothing to the sum */
		const __m128i index = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
						    14, 15);
		x = _mm_and_si128(x, _mm_cmpgt_epi8(index, _mm_set1_epi8((char)(first - 1))));
	}
	*sum = _mm_add_epi64(*sum, _mm_sad_epu8(x, _mm_setzero_si128()));
	for (; tabs; tabs &= tabs - 1) {
		if (g->nht < 4)
			g->ht[g->nht] = at + (size_t)__builtin_ctz(tabs);
		g->nht++;
	}
}
#endif

/* One pass over b[s..e): sixteen bytes at a time as scan() does (the sum
 * by SAD, the others by compares and their bit masks), the last fewer than
 * sixteen in the sixteen that end at e (the frame's buffer holds them when
 * e >= 16), those before them left out; the reference byte by byte. */
static void group_pass(const char *b, size_t s, size_t e, bool fast, struct group_pass *g)
{
	size_t i = s;
#if defined(__SSE2__)
	if (fast && e >= 16) {
		__m128i sum = _mm_setzero_si128();
		for (; i + 16 <= e; i += 16)
			pass16(g, _mm_loadu_si128((const __m128i *)(const void *)(b + i)), 0, i, &sum);
		if (i < e) {
			/* the last e - i bytes: the end of the sixteen that end at e */
			pass16(g, _mm_loadu_si128((const __m128i *)(const void *)(b + e - 16)),
			       (unsigned)(16 - (e - i)), e - 16, &sum);
			i = e;
		}
		g->sum += (unsigned)_mm_cvtsi128_si32(sum) +
			  (unsigned)_mm_cvtsi128_si32(_mm_unpackhi_epi64(sum, sum));
		g->high = g->high ? BIT7 : 0;
		g->ctrl = g->ctrl != 0;
	}
#else
	(void)fast;
#endif
	for (; i < e; i++) {
		unsigned ch = (unsigned char)b[i];
		g->high |= ch & BIT7;
		if (ch == HT) {
			if (g->nht < 4)
				g->ht[g->nht] = i;
			g->nht++;
		} else {
			g->ctrl |= ch < 0x20;
		}
		g->sum += ch;
	}
}

static void group_error(struct frame_ctx *c, enum sc_tic_group_error kind, size_t lf,
			const char *label, size_t label_len)
{
	struct sc_tic_result *res = c->res;
	if (res->nerrors < SC_TIC_MAX_ERRORS) {
		struct sc_tic_error *e = &res->errors[res->nerrors];
		e->kind = kind;
		e->offset = c->base + lf;
		size_t n = 0;
		for (size_t i = 0; i < label_len && n < sizeof e->label - 1; i++) {
			unsigned char ch = (unsigned char)label[i];
			e->label[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		e->label[n] = '\0';
	}
	if (res->nerrors == 0)
		res->error_offset = c->base + lf;
	res->nerrors++;
	switch (kind) {
	case SC_TIC_GE_CHECKSUM: res->nchecksum++; break;
	case SC_TIC_GE_LENGTH: res->nlength++; break;
	case SC_TIC_GE_SYNTAX: res->nsyntax++; break;
	case SC_TIC_GE_BIT7: res->nbit7++; break;
	}
}

static bool label_is(const struct frame_ctx *c, struct sc_tic_span s, const char *name)
{
	size_t n = strlen(name);
	return s.len == n && memcmp(c->buf + s.off, name, n) == 0;
}

/* The group being decoded sets the frame model's field at p, size bytes:
 * noted for the incremental decode. A group that sets more than its memo
 * holds is not kept (rec->used past SC_TIC_MEMO_BYTES). */
static void sets(const struct frame_ctx *c, const void *p, size_t size)
{
	struct sc_tic_memo_group *m = c->rec;
	if (!m)
		return;
	if (m->nset >= 2 || m->used + size > SC_TIC_MEMO_BYTES) {
		m->used = SC_TIC_MEMO_BYTES + 1;
		return;
	}
	m->set_off[m->nset] = (uint16_t)((const char *)p - (const char *)c->f);
	m->set_len[m->nset] = (uint8_t)size;
	m->nset++;
	m->used = (uint8_t)(m->used + size);
}

static int num(const struct frame_ctx *c, struct sc_tic_span s, struct sc_tic_num *out)
{
	uint64_t v;
	if (sc_parse_uint(c->buf + s.off, s.len, UINT32_MAX, &v) != SC_OK)
		return SC_ERR_SYNTAX;
	out->v = (uint32_t)v;
	out->set = true;
	sets(c, out, sizeof *out);
	return SC_OK;
}

static void text(const struct frame_ctx *c, struct sc_tic_span s, struct sc_tic_span *out)
{
	*out = s;
	sets(c, out, sizeof *out);
}

int sc_tic_parse_time(const char *s, size_t len, struct sc_tic_time *t)
{
	struct sc_civil cv;
	uint64_t f[6];

	memset(t, 0, sizeof *t);
	if (len != 13)
		return SC_ERR_SYNTAX;
	char season = s[0];
	if (season != 'H' && season != 'h' && season != 'E' && season != 'e' && season != ' ')
		return SC_ERR_SYNTAX;
	t->season = season;
	t->degraded = season == 'h' || season == 'e';
	for (int i = 0; i < 6; i++) {
		/* Two digits each: what sc_parse_uint(s + 1 + 2 * i, 2, 99)
		 * takes, without a call per field. */
		unsigned hi = (unsigned)(unsigned char)s[1 + 2 * i] - '0';
		unsigned lo = (unsigned)(unsigned char)s[2 + 2 * i] - '0';
		if (hi > 9 || lo > 9)
			return SC_ERR_SYNTAX;
		f[i] = hi * 10 + lo;
	}
	cv.year = 2000 + (int)f[0];
	cv.month = (int)f[1];
	cv.day = (int)f[2];
	cv.hour = (int)f[3];
	cv.minute = (int)f[4];
	cv.second = (int)f[5];
	if (season == ' ') /* DPM/FPM (TIC.md): a time without a season, not a point in time */
		return sc_civil_valid(&cv) || (f[1] == 0 && f[2] == 0) ? SC_OK : SC_ERR_SYNTAX;
	if (!sc_civil_valid(&cv))
		return SC_ERR_SYNTAX;
	/* Enedis V3 §6.2.1: H = winter (UTC+1), E = summer (UTC+2). */
	t->epoch = sc_civil_to_epoch(&cv) - (season == 'E' || season == 'e' ? 7200 : 3600);
	t->set = true;
	return SC_OK;
}

struct sc_tic_stge sc_tic_decode_stge(uint32_t raw)
{
	struct sc_tic_stge s;
	/* The padding too: frames are compared whole (memcmp) by the tests
	 * that hold the fast paths to the reference, and a padding byte left
	 * as the stack had it differed between them. */
	memset(&s, 0, sizeof s);
	s.raw = raw;
	s.cutoff_state = (int)(raw >> 1 & 0x7u);
	s.producer = raw >> 8 & 1u;
	s.injecting = raw >> 9 & 1u;
	s.supplier_index = (int)(raw >> 10 & 0xFu) + 1;
	s.distributor_index = (int)(raw >> 14 & 0x3u) + 1;
	s.clock_degraded = raw >> 16 & 1u;
	s.standard_mode = raw >> 17 & 1u;
	s.tempo_today = (int)(raw >> 24 & 0x3u);
	s.tempo_tomorrow = (int)(raw >> 26 & 0x3u);
	return s;
}

/* Stores a checked group's value in the frame model. */
static int decode_group(struct frame_ctx *c, const struct sc_tic_group *g)
{
	struct sc_tic_frame *f = c->f;
	struct sc_tic_span l = g->label, d = g->data;
	const char *name = c->buf + l.off;

	if (g->horodate.len) {
		struct sc_tic_time t;
		if (sc_tic_parse_time(c->buf + g->horodate.off, g->horodate.len, &t) != SC_OK)
			return SC_ERR_SYNTAX;
		/* TIC.md: a space season ("not applicable") belongs to the mobile
		 * peak start/end DPM1..3, FPM1..3 only; on DATE, SMAXSN, CCASN,
		 * UMOY, ... a horodate is a point in time and needs its season. */
		bool mobile_peak = l.len == 4 && (memcmp(name, "DPM", 3) == 0 ||
						  memcmp(name, "FPM", 3) == 0) &&
				   name[3] >= '1' && name[3] <= '3';
		if (t.season == ' ' && !mobile_peak)
			return SC_ERR_SYNTAX;
		if (label_is(c, l, "DATE")) {
			f->date = t;
			sets(c, &f->date, sizeof f->date);
		}
	}
	switch (name[0]) {
	case 'A':
		if (label_is(c, l, "ADSC"))
			text(c, d, &f->adsc);
		return SC_OK;
	case 'C':
		if (label_is(c, l, "CCASN"))
			return num(c, d, &f->ccasn);
		if (label_is(c, l, "CCASN-1"))
			return num(c, d, &f->ccasn1);
		if (label_is(c, l, "CCAIN"))
			return num(c, d, &f->ccain);
		if (label_is(c, l, "CCAIN-1"))
			return num(c, d, &f->ccain1);
		return SC_OK;
	case 'E':
		if (label_is(c, l, "EAST"))
			return num(c, d, &f->east);
		if (label_is(c, l, "EAIT"))
			return num(c, d, &f->eait);
		if (l.len == 6 && memcmp(name, "EASF", 4) == 0) {
			int k = (name[4] - '0') * 10 + (name[5] - '0');
			return k >= 1 && k <= 10 ? num(c, d, &f->easf[k - 1]) : SC_OK;
		}
		if (l.len == 6 && memcmp(name, "EASD0", 5) == 0 && name[5] >= '1' && name[5] <= '4')
			return num(c, d, &f->easd[name[5] - '1']);
		if (l.len == 4 && memcmp(name, "ERQ", 3) == 0 && name[3] >= '1' && name[3] <= '4')
			return num(c, d, &f->erq[name[3] - '1']);
		return SC_OK;
	case 'I':
		if (l.len == 5 && memcmp(name, "IRMS", 4) == 0 && name[4] >= '1' && name[4] <= '3')
			return num(c, d, &f->irms[name[4] - '1']);
		return SC_OK;
	case 'L':
		if (label_is(c, l, "LTARF"))
			text(c, d, &f->ltarf);
		return SC_OK;
	case 'M':
		if (label_is(c, l, "MSG1"))
			text(c, d, &f->msg1);
		else if (label_is(c, l, "MSG2"))
			text(c, d, &f->msg2);
		return SC_OK;
	case 'N':
		if (label_is(c, l, "NGTF"))
			text(c, d, &f->ngtf);
		else if (label_is(c, l, "NTARF"))
			return num(c, d, &f->ntarf);
		else if (label_is(c, l, "NJOURF"))
			return num(c, d, &f->njourf);
		else if (label_is(c, l, "NJOURF+1"))
			return num(c, d, &f->njourf1);
		return SC_OK;
	case 'P':
		if (label_is(c, l, "PREF"))
			return num(c, d, &f->pref);
		if (label_is(c, l, "PCOUP"))
			return num(c, d, &f->pcoup);
		if (label_is(c, l, "PRM"))
			text(c, d, &f->prm);
		else if (label_is(c, l, "PJOURF+1"))
			text(c, d, &f->pjourf1);
		else if (label_is(c, l, "PPOINTE"))
			text(c, d, &f->ppointe);
		return SC_OK;
	case 'R':
		if (label_is(c, l, "RELAIS"))
			return num(c, d, &f->relais);
		return SC_OK;
	case 'S':
		if (label_is(c, l, "SINST1") || label_is(c, l, "SMAXN")) {
			f->pilot = true;
			sets(c, &f->pilot, sizeof f->pilot);
		}
		if (label_is(c, l, "SINSTS") || label_is(c, l, "SINST1"))
			return num(c, d, &f->sinsts);
		if (l.len == 7 && memcmp(name, "SINSTS", 6) == 0 && name[6] >= '1' && name[6] <= '3')
			return num(c, d, &f->sinsts_ph[name[6] - '1']);
		if (label_is(c, l, "SINSTI"))
			return num(c, d, &f->sinsti);
		if (label_is(c, l, "SMAXSN") || label_is(c, l, "SMAXN"))
			return num(c, d, &f->smaxsn);
		if (l.len == 7 && memcmp(name, "SMAXSN", 6) == 0 && name[6] >= '1' && name[6] <= '3')
			return num(c, d, &f->smaxsn_ph[name[6] - '1']);
		if (label_is(c, l, "SMAXSN-1") || label_is(c, l, "SMAXN-1"))
			return num(c, d, &f->smaxsn1);
		if (l.len == 9 && memcmp(name, "SMAXSN", 6) == 0 && name[6] >= '1' && name[6] <= '3' &&
		    name[7] == '-' && name[8] == '1')
			return num(c, d, &f->smaxsn1_ph[name[6] - '1']);
		if (label_is(c, l, "SMAXIN"))
			return num(c, d, &f->smaxin);
		if (label_is(c, l, "SMAXIN-1"))
			return num(c, d, &f->smaxin1);
		if (label_is(c, l, "STGE")) {
			uint32_t v = 0;
			for (size_t i = 0; i < d.len; i++) {
				uint16_t nib;
				if (sc_parse_hex16(c->buf + d.off + i, 1, &nib) != SC_OK)
					return SC_ERR_SYNTAX;
				v = v << 4 | nib;
			}
			f->has_stge = true;
			f->stge = sc_tic_decode_stge(v);
			sets(c, &f->has_stge, sizeof f->has_stge);
			sets(c, &f->stge, sizeof f->stge);
		}
		return SC_OK;
	case 'U':
		if (l.len == 5 && memcmp(name, "URMS", 4) == 0 && name[4] >= '1' && name[4] <= '3')
			return num(c, d, &f->urms[name[4] - '1']);
		if (l.len == 5 && memcmp(name, "UMOY", 4) == 0 && name[4] >= '1' && name[4] <= '3')
			return num(c, d, &f->umoy[name[4] - '1']);
		return SC_OK;
	case 'V':
		if (label_is(c, l, "VTIC"))
			text(c, d, &f->vtic);
		return SC_OK;
	}
	return SC_OK;
}

/* sc_tic_label_lookup of the label b[s..e) (1 to SC_TIC_MAX_LABEL bytes). */
static int label_rule(const struct frame_ctx *c, size_t s, size_t e, bool *want_h, int *min_len)
{
	return sc_tic_label_lookup(c->buf + s, e - s, want_h, min_len);
}

/* A bad group b[s..e): reported with its label as far as it goes. */
static void bad_group(struct frame_ctx *c, enum sc_tic_group_error kind, size_t lf, size_t s,
		      size_t e)
{
	group_error(c, kind, lf, c->buf + s, label_span_fast(c->buf, s, e, c->fast));
}

/* A label's bytes are printable, without space. */
static bool label_bytes_ok(const char *b, size_t s, size_t e)
{
	for (size_t i = s; i < e; i++) {
		unsigned char ch = (unsigned char)b[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return false;
	}
	return true;
}

/* Checks one group: its LF at b[lf], its content b[s..e), its CR at b[e]. */
static void check_group(struct frame_ctx *c, size_t lf, size_t s, size_t e)
{
	const char *b = c->buf;
	size_t len = e - s;

	/* One pass: bit 7, control bytes, the checksum sum, the separators. */
	struct group_pass gp = {((unsigned char)b[lf] | (unsigned char)b[e]) & BIT7, 0, 0, {0}, 0};
	group_pass(b, s, e, c->fast, &gp);
	unsigned high = gp.high, ctrl = gp.ctrl, sum = gp.sum;
	const size_t *ht = gp.ht;
	int nht = gp.nht;
	/* A parity error anywhere in the group, its LF and CR included, comes
	 * before every other check: its checksum and shape are noise. */
	if (high) {
		bad_group(c, SC_TIC_GE_BIT7, lf, s, e);
		return;
	}
	/* label HT data HT checksum at the least: the checksum is the last
	 * byte and may be a space, so nothing is ever trimmed. */
	if (ctrl || len < 4 || b[e - 2] != HT) {
		bad_group(c, SC_TIC_GE_SYNTAX, lf, s, e);
		return;
	}
	sum -= (unsigned char)b[e - 1];
	if ((char)((sum & 0x3Fu) + 0x20u) != b[e - 1]) {
		bad_group(c, SC_TIC_GE_CHECKSUM, lf, s, e);
		return;
	}
	/* Fields between the separators: label, [horodate,] data; the last HT
	 * is the one before the checksum. */
	int nf = nht >= 2 && nht <= 3 ? nht : 0;
	size_t fs[3] = {0}, fe[3] = {0};
	for (int k = 0; k < nf; k++) {
		fs[k] = k == 0 ? s : ht[k - 1] + 1;
		fe[k] = ht[k];
	}
	if (nf == 0 || fe[0] == fs[0] || fe[0] - fs[0] > SC_TIC_MAX_LABEL) {
		bad_group(c, SC_TIC_GE_SYNTAX, lf, s, e);
		return;
	}
	struct sc_tic_group g;
	g.label.off = (uint16_t)fs[0];
	g.label.len = (uint16_t)(fe[0] - fs[0]);
	g.horodate.off = (uint16_t)(nf == 3 ? fs[1] : 0);
	g.horodate.len = (uint16_t)(nf == 3 ? fe[1] - fs[1] : 0);
	g.data.off = (uint16_t)fs[nf - 1];
	g.data.len = (uint16_t)(fe[nf - 1] - fs[nf - 1]);
	bool want_h = false;
	int min_len = 0;
	int want_len = label_rule(c, fs[0], fe[0], &want_h, &min_len);
	/* A known label is spelt as the table has it: only another one needs
	 * its bytes checked. */
	if (want_len < 0 && !label_bytes_ok(b, fs[0], fe[0])) {
		bad_group(c, SC_TIC_GE_SYNTAX, lf, s, e);
		return;
	}
	if (want_len >= 0) {
		if ((nf == 3) != want_h) {
			bad_group(c, SC_TIC_GE_SYNTAX, lf, s, e);
			return;
		}
		if (g.data.len > want_len || g.data.len < min_len) {
			bad_group(c, SC_TIC_GE_LENGTH, lf, s, e);
			return;
		}
	}
	struct sc_tic_frame *f = c->f;
	if (f->ngroups >= SC_TIC_MAX_GROUPS) {
		bad_group(c, SC_TIC_GE_SYNTAX, lf, s, e);
		return;
	}
	if (decode_group(c, &g) != SC_OK) {
		bad_group(c, SC_TIC_GE_SYNTAX, lf, s, e);
		return;
	}
	f->g[f->ngroups++] = g;
}


/* ---- incremental decode ----
 *
 * A meter sends the same groups in the same order frame after frame, and
 * most of them unchanged (TIC.md; a day of a generated three-phase meter
 * changes about one group in ten from one frame to the next). With a
 * history (tic.h), the frame is first compared with the last one, byte by
 * byte (thirty-two at a time with AVX2 when the CPU has it, sixteen with
 * SSE2, one by one otherwise), into a bit per byte: equal or not. A group
 * whose LF, bytes and CR are all equal to a good group of the last frame at
 * the same offset is that group: it was checked (checksum, shape, length)
 * and decoded there, and both depend on nothing but its bytes and where
 * they are. So its place in the frame model is taken from the memo (the
 * group's spans and the fields its decoding set, with their values) instead
 * of being checked, looked up and parsed again. Every other group, and
 * everything not aligned with the last frame (a group added, removed or of
 * another width shifts the ones after it: their bytes at their offsets no
 * longer match), takes the full path. Errors, counts and raw bytes come
 * out the same; test_tic_fastpath.c and fuzz_tic hold it to the
 * reference over sequences of frames. */

#if defined(SC_TIC_AVX2)
__attribute__((target("avx2"))) static void same_bytes_avx2(const char *a, const char *b,
								size_t n, uint64_t *w)
{
	for (size_t i = 0; i + 64 <= n; i += 64) {
		__m256i x0 = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(a + i)),
					       _mm256_loadu_si256((const __m256i *)(const void *)(b + i)));
		__m256i x1 = _mm256_cmpeq_epi8(
			_mm256_loadu_si256((const __m256i *)(const void *)(a + i + 32)),
			_mm256_loadu_si256((const __m256i *)(const void *)(b + i + 32)));
		w[i >> 6] = (uint64_t)(uint32_t)_mm256_movemask_epi8(x0) |
			    (uint64_t)(uint32_t)_mm256_movemask_epi8(x1) << 32;
	}
}

#endif

/* w: a bit per byte of a[0..n), set where it equals b's. Both buffers are
 * SC_TIC_BUF_SIZE long: the bytes are compared sixty-four at a time up to
 * there, the bits past n mean nothing. */
static void same_bytes(const char *a, const char *b, size_t n, uint64_t *w)
{
	size_t i = 0;
	n = (n + 63) & ~(size_t)63;
#if defined(SC_TIC_AVX2)
	if (sc_cpu_avx2()) {
		same_bytes_avx2(a, b, n, w);
		return;
	}
#endif
#if defined(__SSE2__)
	for (; i + 64 <= n; i += 64) {
		uint64_t m = 0;
		for (int k = 0; k < 4; k++) {
			__m128i x = _mm_cmpeq_epi8(
				_mm_loadu_si128((const __m128i *)(const void *)(a + i + 16 * (size_t)k)),
				_mm_loadu_si128((const __m128i *)(const void *)(b + i + 16 * (size_t)k)));
			m |= (uint64_t)(unsigned)_mm_movemask_epi8(x) << (16 * k);
		}
		w[i >> 6] = m;
	}
#endif
	for (; i < n; i++) {
		if (!(i & 63))
			w[i >> 6] = 0;
		w[i >> 6] |= (uint64_t)(a[i] == b[i]) << (i & 63);
	}
}

/* Are the bytes a..z (inclusive) all equal to the last frame's? */
static inline bool all_same(const uint64_t *w, size_t a, size_t z)
{
	size_t wa = a >> 6, wz = z >> 6;
	uint64_t ma = ~(uint64_t)0 << (a & 63), mz = ~(uint64_t)0 >> (63 - (z & 63));
	if (wa == wz)
		return (~w[wa] & ma & mz) == 0;
	if (~w[wa] & ma)
		return false;
	for (size_t k = wa + 1; k < wz; k++)
		if (~w[k])
			return false;
	return (~w[wz] & mz) == 0;
}

/* The memo of the last frame's good group whose LF is at lf, when the
 * group is the same bytes there (as far as the shorter of the two frames
 * goes) and ends before the frame's ETX (len its length): then the scans
 * find its CR where they found it last time. NULL otherwise. */
static inline const struct sc_tic_memo_group *same_group(const struct sc_tic_history *h,
							 size_t lf, size_t len)
{
	unsigned k = h->memo_at[lf];
	const struct sc_tic_memo_group *m = &h->group[k];
	if ((int)k >= h->ngroups || m->lf != lf || m->cr >= len - 1 || !all_same(h->same, lf, m->cr))
		return NULL;
	return m;
}

/* The memos of the frame being decoded replace the last frame's in place:
 * the n-th good group's memo goes where the last frame's n-th was. Only
 * while that one is behind the group being decoded (at its LF lf, or
 * before it): a memo still ahead may yet be asked for. When a group was
 * added, the rest of the frame keeps no memos (the next frame decodes
 * those groups in full once). Returns the slot, or NULL. */
static struct sc_tic_memo_group *memo_slot(struct sc_tic_history *h, int n, size_t lf)
{
	if (n >= SC_TIC_MAX_GROUPS)
		return NULL;
	return n >= h->ngroups || h->group[n].lf <= lf ? &h->group[n] : NULL;
}

/* The group of memo m into the frame model, as decoding it did. */
static void replay_group(struct sc_tic_frame *f, const struct sc_tic_memo_group *m)
{
	const unsigned char *v = m->val;
	for (int k = 0; k < m->nset; k++) {
		char *to = (char *)f + m->set_off[k];
		/* the sizes of the frame model's fields, each a copy of known size */
		switch (m->set_len[k]) {
		case sizeof(struct sc_tic_num): memcpy(to, v, sizeof(struct sc_tic_num)); break;
		case sizeof(struct sc_tic_span): memcpy(to, v, sizeof(struct sc_tic_span)); break;
		case sizeof(struct sc_tic_time): memcpy(to, v, sizeof(struct sc_tic_time)); break;
		case 1: *to = (char)*v; break;
		default: memcpy(to, v, m->set_len[k]); break;
		}
		v += m->set_len[k];
	}
	f->g[f->ngroups++] = m->g;
}

/* After check_group found the group at lf..cr good (it is the frame's last
 * one): its memo, completed with the values of the fields it set. */
static void keep_group(struct sc_tic_memo_group *m, const struct sc_tic_frame *f, size_t lf,
		       size_t cr)
{
	m->lf = (uint16_t)lf;
	m->cr = (uint16_t)cr;
	m->g = f->g[f->ngroups - 1];
	unsigned char *v = m->val;
	for (int k = 0; k < m->nset; k++) {
		memcpy(v, (const char *)f + m->set_off[k], m->set_len[k]);
		v += m->set_len[k];
	}
}

/* Labels of the historic TIC, which a Linky in historic mode sends as the
 * older meters did (Enedis-NOI-CPT_02E; TIC.md names ADCO, PAPP, ... only
 * through the corpus capture): none of them is a standard-mode label. */
static const char *const historic_labels[] = {
	"ADCO",    "OPTARIF", "ISOUSC",  "BASE",    "HCHC",    "HCHP",   "EJPHN",  "EJPHPM",
	"BBRHCJB", "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR", "PEJP",  "PTEC",
	"DEMAIN",  "IINST",   "IINST1",  "IINST2",  "IINST3",  "ADPS",   "ADIR1",  "ADIR2",
	"ADIR3",   "IMAX",    "IMAX1",   "IMAX2",   "IMAX3",   "PMAX",   "PAPP",   "HHPHC",
	"MOTDETAT", "PPOT",   "GAZ",     "AUTRE",
};

/* Does the group b[s..e) (e at its CR, or where it was cut) read as a
 * historic one: "label SP data SP checksum" with the historic checksum
 * (TIC.md: over label SP data, without the SP before it), or a historic
 * label before the first SP? A stray HT, a damaged checksum or a cut label
 * each leave one of the two signals. */
static bool historic_group(const char *b, size_t s, size_t e, bool has_cr)
{
	/* Any HT: a standard group, or a historic one with a stray HT, which
	 * the other groups outvote. Keeps the test cheap on standard frames. */
	if (memchr(b + s, HT, e - s))
		return false;
	size_t ll = label_span(b, s, e);
	for (size_t k = 0; k < sizeof historic_labels / sizeof historic_labels[0]; k++) {
		size_t n = strlen(historic_labels[k]);
		if (n == ll && memcmp(historic_labels[k], b + s, n) == 0)
			return true;
	}
	if (!has_cr || e - s < 5 || b[e - 2] != ' ')
		return false;
	return memchr(b + s, ' ', e - s - 2) && sc_tic_checksum(b + s, e - s - 2) == b[e - 1];
}

/* A frame is a historic-mode one when most of its groups read as historic
 * groups. Judged over the whole frame, not its first group: one damaged
 * group must not turn a historic frame into a stream of "syntax" and
 * "checksum" errors (TIC.md: recognise historic input and report it). */
static bool looks_historic(const char *b, size_t len, bool fast)
{
	int groups = 0, historic = 0;
	size_t i = next_lf(b, 1, len - 1, fast);
	while (i < len - 1) {
		size_t s = i + 1, k = scan(b, s, len - 1, SCAN_CR_LF, fast);
		bool has_cr = k < len - 1 && seven(b[k]) == '\r';
		if (k > s || has_cr) { /* an empty LF before ETX is no group */
			groups++;
			historic += historic_group(b, s, k, has_cr);
		}
		i = next_lf(b, k, len - 1, fast);
	}
	return groups > 0 && 2 * historic > groups;
}

/* The three-phase and pilot rules of tic.h (struct sc_tic_frame). */
static void meter_kind(struct sc_tic_frame *f, const char *b)
{
	bool tri = false;
	if (f->adsc.len == 12) {
		/* ADSC characters 5-6: meter type (TIC.md: 61/62/64/70/75 mono,
		 * 63/71/76 three-phase, 67/68 pilot). */
		const char *t = b + f->adsc.off + 4;
		if (t[0] >= '0' && t[0] <= '9' && t[1] >= '0' && t[1] <= '9') {
			int type = (t[0] - '0') * 10 + (t[1] - '0');
			tri = type == 63 || type == 71 || type == 76;
			f->pilot = f->pilot || type == 67 || type == 68;
		}
	}
	for (int i = 1; i < SC_PHASES; i++)
		tri = tri || f->irms[i].set || f->urms[i].set || f->umoy[i].set;
	for (int i = 0; i < SC_PHASES; i++)
		tri = tri || f->sinsts_ph[i].set || f->smaxsn_ph[i].set || f->smaxsn1_ph[i].set;
	f->three_phase = tri;
}

static void historic_frame(struct sc_tic_result *res)
{
	res->event = SC_TIC_UNSUPPORTED;
	snprintf(res->detail, sizeof res->detail,
		 "unsupported mode: historic (SP separators, 1200 baud); the device "
		 "reads standard mode only");
}

static void process_frame(struct sc_tic_parser *p, uint64_t end, struct sc_tic_result *res)
{
	const char *b = p->buf;
	size_t len = p->len; /* STX .. ETX inclusive */

	event(res, SC_TIC_FRAME, p->start, end - p->start);
	res->raw = b;
	res->raw_len = len;
	bool fast = !(p->flags & SC_TIC_REFERENCE);
	struct sc_tic_history *h = fast ? p->history : NULL;
	int nfresh = 0;   /* memos of this frame's good groups */
	bool keep = true; /* and more may be kept (memo_slot) */
	if (h)
		same_bytes(b, h->buf, len < h->len ? len : h->len, h->same);
	/* The reference asks first; the fast path only of a frame with bad
	 * groups (below): a frame whose every group is good has no historic
	 * group (each has its HTs), and the two split a frame into the same
	 * groups then. */
	if (!fast && looks_historic(b, len, fast)) {
		historic_frame(res);
		return;
	}
	memset(&res->frame, 0, sizeof res->frame);
	struct frame_ctx c = {b, len, p->start, res, &res->frame, fast, NULL};
	if ((unsigned char)b[0] & BIT7) /* the STX itself (see ST_STX7) */
		group_error(&c, SC_TIC_GE_BIT7, 0, b, 0);
	size_t i = 1;
	while (i < len - 1) {
		unsigned char ch = seven(b[i]);
		bool high = (unsigned char)b[i] & BIT7;
		if (ch == '\r') { /* some logs keep a CR between groups */
			if (high)
				group_error(&c, SC_TIC_GE_BIT7, i, b + i, 0);
			i++;
			continue;
		}
		if (ch == '\n' && i + 1 == len - 1) {
			/* LF right before ETX: nothing follows (logs keep it) */
			if (high)
				group_error(&c, SC_TIC_GE_BIT7, i, b + i, 0);
			break;
		}
		if (ch != '\n') {
			/* Bytes between groups: report once, go to the next LF. */
			size_t next = next_lf(b, i, len - 1, fast);
			group_error(&c, any_bit7(b, i, next) ? SC_TIC_GE_BIT7 : SC_TIC_GE_SYNTAX, i,
				    b + i, 0);
			i = next;
			continue;
		}
		if (h) {
			/* The same group as in the last frame: as it was. */
			const struct sc_tic_memo_group *m = same_group(h, i, len);
			if (m && res->frame.ngroups < SC_TIC_MAX_GROUPS) {
				/* This group and the run of those after it that are
				 * the last frame's next ones, unchanged. */
				const struct sc_tic_memo_group *last = h->group + h->ngroups;
				do {
					replay_group(&res->frame, m);
					/* Most often the memo stays in its slot. */
					struct sc_tic_memo_group *to =
						!keep ? NULL
						: m == h->group + nfresh ? h->group + nfresh
									 : memo_slot(h, nfresh, i);
					if (to) {
						if (to != m)
							*to = *m;
						h->memo_at[i] = (uint8_t)nfresh++;
					} else {
						keep = false;
					}
					i = (size_t)m->cr + 1;
					m++;
				} while (m < last && m->lf == i && m->cr < len - 1 &&
					 res->frame.ngroups < SC_TIC_MAX_GROUPS &&
					 all_same(h->same, i, m->cr));
				continue;
			}
		}
		/* A group: LF .. CR, and no LF inside it. */
		size_t s = i + 1, k = scan(b, s, len - 1, SCAN_CR_LF, fast);
		if (k >= len - 1 || seven(b[k]) == '\n') {
			group_error(&c, any_bit7(b, i, k) ? SC_TIC_GE_BIT7 : SC_TIC_GE_SYNTAX, i, b + s,
				    label_span(b, s, k));
			i = k;
			continue;
		}
		int before = res->frame.ngroups;
		c.rec = h && keep ? memo_slot(h, nfresh, i) : NULL;
		if (c.rec) {
			c.rec->nset = 0;
			c.rec->used = 0;
		}
		check_group(&c, i, s, k);
		if (res->frame.ngroups > before && h) {
			if (c.rec && c.rec->used <= SC_TIC_MEMO_BYTES) {
				h->memo_at[i] = (uint8_t)nfresh;
				keep_group(c.rec, &res->frame, i, k);
				nfresh++;
			} else {
				keep = false;
			}
		}
		i = k + 1;
	}
	if (h) { /* this frame is the last one for the next */
		memcpy(h->buf, b, len);
		h->len = len;
		h->ngroups = nfresh;
	}
	if (fast && res->nerrors > 0 && looks_historic(b, len, fast)) {
		/* As if asked first: no group errors. */
		event(res, SC_TIC_FRAME, p->start, end - p->start);
		res->raw = b;
		res->raw_len = len;
		historic_frame(res);
		return;
	}
	if (res->nerrors > 0) {
		res->event = SC_TIC_BAD_GROUPS;
		const struct sc_tic_error *e = &res->errors[0];
		snprintf(res->detail, sizeof res->detail, "%d bad group%s, first: %s %s", res->nerrors,
			 res->nerrors > 1 ? "s" : "", e->label[0] ? e->label : "(no label)",
			 sc_tic_group_error_name(e->kind));
		return;
	}
	if (res->frame.ngroups == 0) {
		res->event = SC_TIC_FRAMING;
		snprintf(res->detail, sizeof res->detail, "frame without groups");
		return;
	}
	meter_kind(&res->frame, b);
}

/* ---- the stream ---- */

static bool flush_garbage(struct sc_tic_parser *p, struct sc_tic_result *res)
{
	if (p->garbage == 0)
		return false;
	event(res, SC_TIC_GARBAGE, p->start, p->garbage);
	snprintf(res->detail, sizeof res->detail, "%llu bytes outside any frame skipped",
		 (unsigned long long)p->garbage);
	p->garbage = 0;
	return true;
}

static void note_garbage(struct sc_tic_parser *p, uint64_t at)
{
	if (p->garbage == 0)
		p->start = at;
	p->garbage = at + 1 - p->start;
}

static void start_frame(struct sc_tic_parser *p, uint64_t at)
{
	p->stx_inside = false;
	p->stx_cr = false;
	p->start = at;
	p->buf[0] = STX;
	p->len = 1;
	p->state = ST_FRAME;
}

size_t sc_tic_feed(struct sc_tic_parser *p, const void *data, size_t len, struct sc_tic_result *res)
{
	const unsigned char *d = data;
	size_t i = 0;

	res->event = SC_TIC_NEED_MORE;
	while (i < len) {
		unsigned char ch = d[i];
		uint64_t at = p->pos + i;
		switch (p->state) {
		case ST_HUNT:
			if (ch == STX) {
				if (flush_garbage(p, res))
					goto out;
				start_frame(p, at);
			} else if (ch == (STX | BIT7)) {
				/* An STX with a parity error: decided by the next byte. */
				p->stx7_at = at;
				p->state = ST_STX7;
			} else if (ch == '/') {
				p->sniff[0] = ch;
				p->nsniff = 1;
				p->state = ST_SNIFF;
				p->sniff_at = at;
			} else if (!is_space(ch)) {
				note_garbage(p, at);
			}
			i++;
			break;
		case ST_SNIFF:
			/* "/XXX5": a DSMR identification (maker id, baud digit). */
			if (p->nsniff < 4 ? is_letter(ch) : (ch >= '0' && ch <= '9')) {
				p->sniff[p->nsniff++] = ch;
				i++;
				if (p->nsniff == 5) {
					if (flush_garbage(p, res)) {
						/* Report the garbage first; the sniffed
						 * telegram is reported on the next call. */
						p->state = ST_FOREIGN;
						p->foreign_pending = true;
						goto out;
					}
					event(res, SC_TIC_UNSUPPORTED, p->sniff_at, 5);
					snprintf(res->detail, sizeof res->detail,
						 "a DSMR P1 telegram on a TIC input");
					p->state = ST_FOREIGN;
					goto out;
				}
				break;
			}
			/* Not a telegram: what was sniffed is garbage. */
			for (int k = 0; k < p->nsniff; k++)
				note_garbage(p, p->sniff_at + (uint64_t)k);
			p->state = ST_HUNT;
			break;
		case ST_FOREIGN:
			if (p->foreign_pending) {
				p->foreign_pending = false;
				event(res, SC_TIC_UNSUPPORTED, p->sniff_at, 5);
				snprintf(res->detail, sizeof res->detail,
					 "a DSMR P1 telegram on a TIC input");
				goto out;
			}
			if (ch == STX || ch == '/') {
				p->state = ST_HUNT;
				break;
			}
			i++;
			break;
		case ST_STX7:
			/* STX LF (or STX CR LF in logs) opens a frame: with the
			 * STX's bit 7 set it is still one, reported as a bit7
			 * error of the frame instead of lost as garbage. Any other
			 * byte after it makes the 0x82 line noise. */
			if (seven((char)ch) == '\n' || seven((char)ch) == '\r') {
				if (flush_garbage(p, res))
					goto out; /* this byte is looked at again */
				start_frame(p, p->stx7_at);
				p->buf[0] = (char)(STX | BIT7);
				break;
			}
			note_garbage(p, p->stx7_at);
			p->state = ST_HUNT;
			break;
		case ST_FRAME: {
			if ((p->stx_inside || p->stx_cr) && ch == '\n') {
				/* STX LF, or STX CR LF as CR LF logs keep it: a new
				 * frame began, the current one was cut short. It
				 * starts at the STX kept in buf. */
				size_t back = p->stx_cr ? 2 : 1;
				uint64_t stx_at = p->start + p->len - back;
				event(res, SC_TIC_FRAMING, p->start, stx_at - p->start);
				res->raw = p->buf;
				res->raw_len = p->len - back;
				res->error_offset = stx_at;
				snprintf(res->detail, sizeof res->detail,
					 "frame cut short: a new frame began before its ETX");
				start_frame(p, stx_at);
				if (back == 2)
					p->buf[p->len++] = '\r';
				goto out;
			}
			if (p->stx_inside && ch == '\r' && p->len < SC_TIC_BUF_SIZE - 1 &&
			    (seven(p->buf[p->len - 2]) == '\r' || seven(p->buf[p->len - 2]) == '\n')) {
				/* STX CR: a new frame if LF follows, as CR LF logs
				 * write a frame start. Only where an ETX could have
				 * been, after a group's CR or LF: STX CR LF inside a
				 * group is line noise (the corpus log has one in
				 * the binary junk of its ERQ2 group). */
				p->buf[p->len++] = '\r';
				p->stx_inside = false;
				p->stx_cr = true;
				i++;
				break;
			}
			p->stx_cr = false;
			/* Copy up to the next STX, ETX or EOT in one go. */
			size_t k = scan((const char *)d, i, len, SCAN_FRAME_END,
					!(p->flags & SC_TIC_REFERENCE));
			if (k < len && d[k] == STX)
				k++; /* kept as data unless LF follows */
			size_t n = k - i;
			if (n > SC_TIC_BUF_SIZE - 1 - p->len) {
				i += SC_TIC_BUF_SIZE - 1 - p->len + 1;
				event(res, SC_TIC_OVERFLOW, p->start, p->pos + i - p->start);
				res->error_offset = p->start + SC_TIC_BUF_SIZE - 1;
				snprintf(res->detail, sizeof res->detail,
					 "frame longer than %d bytes", SC_TIC_BUF_SIZE);
				p->state = ST_SKIP;
				p->len = 0;
				goto out;
			}
			memcpy(p->buf + p->len, d + i, n);
			p->len += n;
			i = k;
			p->stx_inside = n > 0 && d[k - 1] == STX;
			if (k >= len || p->stx_inside)
				break;
			if (d[k] == ETX) {
				p->buf[p->len++] = (char)ETX;
				i++;
				process_frame(p, p->pos + i, res);
				p->state = ST_HUNT;
				p->len = 0;
				goto out;
			}
			/* EOT */
			event(res, SC_TIC_FRAMING, p->start, p->pos + k - p->start);
			res->raw = p->buf;
			res->raw_len = p->len;
			res->error_offset = p->pos + k;
			snprintf(res->detail, sizeof res->detail, "frame interrupted by EOT");
			p->state = ST_HUNT;
			p->len = 0;
			i++;
			goto out;
		}
		default: /* ST_SKIP */
			if (ch == STX) {
				p->state = ST_HUNT;
				break;
			}
			if (ch == ETX || ch == EOT)
				p->state = ST_HUNT;
			i++;
			break;
		}
	}
out:
	p->pos += i;
	return i;
}

enum sc_tic_event sc_tic_finish(struct sc_tic_parser *p, struct sc_tic_result *res)
{
	res->event = SC_TIC_NEED_MORE;
	switch (p->state) {
	case ST_FRAME:
		event(res, SC_TIC_FRAMING, p->start, p->pos - p->start);
		res->raw = p->buf;
		res->raw_len = p->len;
		res->error_offset = p->pos;
		snprintf(res->detail, sizeof res->detail, "input ended inside a frame");
		p->state = ST_HUNT;
		p->len = 0;
		return res->event;
	case ST_SNIFF:
		for (int k = 0; k < p->nsniff; k++)
			note_garbage(p, p->sniff_at + (uint64_t)k);
		p->state = ST_HUNT;
		break;
	case ST_STX7:
		note_garbage(p, p->stx7_at);
		p->state = ST_HUNT;
		break;
	case ST_FOREIGN:
		if (p->foreign_pending) {
			p->foreign_pending = false;
			event(res, SC_TIC_UNSUPPORTED, p->sniff_at, 5);
			snprintf(res->detail, sizeof res->detail, "a DSMR P1 telegram on a TIC input");
			return res->event;
		}
		break;
	default:
		break;
	}
	if (flush_garbage(p, res))
		return res->event;
	sc_tic_reset(p);
	return SC_TIC_NEED_MORE;
}
