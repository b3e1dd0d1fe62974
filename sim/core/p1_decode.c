/* P1 object decoder: turns a framed telegram into struct sc_p1_telegram.
 *
 * Every line after the identification is an object
 *   A-B:C.D.E[*F](value)(value)...
 * (DSMR 5.0.2 §6.4, IEC 62056-61 OBIS). Known objects are checked for their
 * shape and unit and stored; unknown ones are kept as raw lines. A known
 * object with a wrong shape fails the telegram: its CRC says the meter sent
 * it that way, so the telegram is not what the spec describes. The same
 * holds for a known object sent twice (which value would count?); unknown
 * objects may repeat. */
#include "p1.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "cpu.h"
#include "cursor.h"
#include "sc_error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The steps of every line, inlined into the full path and the history's
 * (the compiler would otherwise call them from both). */
#if defined(__GNUC__)
#define HOT_INLINE inline __attribute__((always_inline))
#else
#define HOT_INLINE inline
#endif

/* Value groups of a line kept for direct access (all are counted): every
 * known object but the failure log and the demand history has at most 2,
 * and those two read their entries with a group cursor (groups_next), so a
 * line of any length is decoded whole. */
#define MAX_GROUPS 8

/* Distinct known objects a telegram can hold: 61 electricity objects and 6
 * per M-Bus channel, 85 in all. */
#define MAX_SEEN 96

/* OBIS A-B:C.D.E packed; A and B are small (medium 0/1, channel 0-4). */
#define OBIS(a, b, c, d, e) \
	((uint32_t)(a) << 28 | (uint32_t)(b) << 24 | (uint32_t)(c) << 16 | (uint32_t)(d) << 8 | \
	 (uint32_t)(e))

/* The known objects, each decoded its own way (decode_object); which
 * object a key is, is object_of's rule. */
enum p1_object {
	OBJ_UNKNOWN, /* kept raw */
	OBJ_VERSION, OBJ_EMUCS_VERSION, OBJ_TIME, OBJ_EQUIPMENT_ID, OBJ_EQUIPMENT_ID_OTHER,
	OBJ_IMPORT_TOTAL, OBJ_EXPORT_TOTAL, OBJ_IMPORT_TARIFF, OBJ_EXPORT_TARIFF, OBJ_TARIFF,
	OBJ_POWER_IMPORT, OBJ_POWER_EXPORT, OBJ_REACTIVE_IMPORT, OBJ_REACTIVE_EXPORT,
	OBJ_REACTIVE_QUADRANT, OBJ_POWER_FAILURES, OBJ_LONG_POWER_FAILURES, OBJ_FAILURE_LOG,
	OBJ_SAGS, OBJ_SWELLS, OBJ_MESSAGE, OBJ_MESSAGE_CODE, OBJ_VOLTAGE, OBJ_CURRENT,
	OBJ_PHASE_IMPORT, OBJ_PHASE_EXPORT, OBJ_PHASE_REACTIVE_IMPORT, OBJ_PHASE_REACTIVE_EXPORT,
	OBJ_DEMAND_AVG, OBJ_DEMAND_MAX, OBJ_DEMAND_HISTORY, OBJ_BREAKER, OBJ_LIMITER, OBJ_FUSE,
	OBJ_MBUS, /* 0-n:24.x and 0-n:96.1.x of M-Bus channels 1-4 (mbus_object) */
};

static enum p1_object object_of(uint32_t key);

struct line {
	const char *raw;    /* start of the telegram */
	size_t off;         /* offset of the line in raw */
	size_t len;         /* without CR LF */
	uint32_t key;
	enum p1_object object; /* object_of(key) */
	unsigned nth;       /* the line's place in the telegram, from 0 */
	int ngroups;        /* all value groups of the line */
	struct sc_span g[MAX_GROUPS]; /* the first MAX_GROUPS, without parentheses */
};

struct ctx {
	const char *raw;
	const char *end;            /* raw + its length */
	bool fast;                  /* the fast paths may be taken (not SC_P1_REFERENCE) */
	struct sc_p1_telegram *tg;
	size_t *err_off;
	char *detail;
	size_t detail_len;
	unsigned flags;             /* SC_P1_* of the parser */
	uint64_t seen_bits[16];     /* quick filter over seen[] */
	int nseen;
	uint32_t seen[MAX_SEEN];    /* keys of the known objects decoded */
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int fail(struct ctx *c, size_t off, int rc, const char *fmt, ...)
{
	*c->err_off = off;
	if (c->detail_len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->detail, c->detail_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Splits a line into its OBIS key and value groups. Returns false when the
 * line is not an object; *why says what is wrong. */
/* What a byte is inside a value: one look-up per byte in the hot loop. */
enum { VB_PLAIN, VB_PAREN, VB_BAD };
#define VB_ROW_CTRL VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, \
	VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD
static const unsigned char value_byte[256] = {
	VB_ROW_CTRL, VB_ROW_CTRL,
	['('] = VB_PAREN, [')'] = VB_PAREN, [0x7F] = VB_BAD,
	[0x80] = VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD,
	VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_BAD, VB_ROW_CTRL, VB_ROW_CTRL, VB_ROW_CTRL,
	VB_ROW_CTRL, VB_ROW_CTRL, VB_ROW_CTRL, VB_ROW_CTRL,
};
_Static_assert(sizeof value_byte == 256, "one entry per byte");

static bool split_line(struct line *ln, size_t *bad, const char **why)
{
	static const char seps[5] = {'-', ':', '.', '.', '\0'};
	const char *s = ln->raw + ln->off;
	size_t len = ln->len, i = 0;
	unsigned f[5];

	/* A-B:C.D.E, each field 1-3 digits up to 255. */
	for (int k = 0; k < 5; k++) {
		unsigned v = 0;
		size_t start = i;
		while (i < len && i - start < 3) {
			unsigned d = (unsigned)(unsigned char)s[i] - '0';
			if (d > 9)
				break;
			v = v * 10 + d;
			i++;
		}
		if (i == start || v > 255 || (k < 4 && (i >= len || s[i] != seps[k]))) {
			*bad = i;
			*why = "not an OBIS object";
			return false;
		}
		f[k] = v;
		if (k < 4)
			i++;
	}
	if (i < len && s[i] == '*') { /* value group F, e.g. *255: not used by DSMR */
		size_t start = ++i;
		while (i < len && i - start < 3 && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start) {
			*bad = i;
			*why = "bad OBIS value group F";
			return false;
		}
	}
	unsigned a = f[0], b = f[1], c = f[2], d = f[3], e = f[4];
	ln->key = (a < 16 && b < 16) ? OBIS(a, b, c, d, e) : 0xFFFFFFFFu;
	ln->ngroups = 0;
	if (i >= len || s[i] != '(') {
		*bad = i;
		*why = "object without a value";
		return false;
	}
	while (i < len) {
		if (s[i] != '(') {
			*bad = i;
			*why = "text after the last value";
			return false;
		}
		/* Values are short: a plain scan beats library calls. This is
		 * also where every byte of a value is checked to be printable
		 * ASCII (DSMR 5.0.2 §6.4); the OBIS code is checked above. */
		size_t j = i + 1;
		while (j < len && value_byte[(unsigned char)s[j]] == VB_PLAIN)
			j++;
		if (j < len && value_byte[(unsigned char)s[j]] == VB_BAD) {
			*bad = j;
			*why = "control or non-ASCII byte inside a value";
			return false;
		}
		if (j >= len || s[j] == '(') {
			*bad = j;
			*why = j >= len ? "value not closed by ')'" : "'(' inside a value";
			return false;
		}
		size_t gl = j - i - 1;
		if (ln->ngroups < MAX_GROUPS) { /* the rest: groups_next */
			ln->g[ln->ngroups].off = (uint16_t)(ln->off + i + 1);
			ln->g[ln->ngroups].len = (uint16_t)gl;
		}
		ln->ngroups++;
		i += gl + 2;
	}
	return true;
}

/* The common line, in one pass: A-B:C.D.E (no value group F), then value
 * groups of plain bytes, then CR LF, LF or the '!'. It decides only lines
 * that split_line would accept with the same key and groups, and gives up
 * (false) on anything else, which then goes the general way (its line end
 * found first, split_line with its exact error). *next is where the line
 * after it starts. Eight value bytes are classed at a time (SWAR): a byte
 * that is not VB_PLAIN stops the scan. */
static inline uint64_t bytes_below(uint64_t x, unsigned char n)
{
	/* High bit set in the lowest byte of x below n (n <= 128), and in no
	 * byte below that one; higher bytes may be flagged falsely. */
	return (x - 0x0101010101010101u * n) & ~x & 0x8080808080808080u;
}

static inline uint64_t bytes_equal(uint64_t x, unsigned char c)
{
	return bytes_below(x ^ (0x0101010101010101u * c), 1);
}

/* Offset of the first byte of s[0..n) that is not VB_PLAIN, or n. */
static HOT_INLINE size_t plain_run(const char *s, size_t n)
{
	size_t j = 0;
#if defined(__SSE2__)
	/* Sixteen bytes at a time: a signed compare below 0x20 also catches
	 * 0x80-0xFF. */
	const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7F);
	const __m128i open = _mm_set1_epi8('('), close = _mm_set1_epi8(')');
	for (; j + 16 <= n; j += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + j));
		__m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, space),
							 _mm_cmpeq_epi8(x, del)),
					    _mm_or_si128(_mm_cmpeq_epi8(x, open),
							 _mm_cmpeq_epi8(x, close)));
		unsigned m = (unsigned)_mm_movemask_epi8(stop);
		if (m)
			return j + (size_t)__builtin_ctz(m);
	}
#endif
	for (; j + 8 <= n; j += 8) {
		uint64_t x;
		memcpy(&x, s + j, 8);
		uint64_t stop = bytes_below(x, 0x20) | (x & 0x8080808080808080u) |
				bytes_equal(x, 0x7F) | bytes_equal(x, '(') | bytes_equal(x, ')');
		if (stop) {
			/* The lowest flagged byte is exact (see bytes_below). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return j + (size_t)(__builtin_ctzll(stop) >> 3);
#else
			break; /* bytewise below */
#endif
		}
	}
	while (j < n && value_byte[(unsigned char)s[j]] == VB_PLAIN)
		j++;
	return j;
}

/* One OBIS field of 1-3 digits up to 255 at s, then sep: the byte after
 * the sep, or NULL. s has at least four bytes to read. */
static inline const char *obis_field(const char *s, char sep, unsigned *out)
{
	unsigned d0 = (unsigned)(unsigned char)s[0] - '0';
	unsigned d1 = (unsigned)(unsigned char)s[1] - '0';
	if (d0 > 9)
		return NULL;
	if (d1 > 9) {
		*out = d0;
		return s[1] == sep ? s + 2 : NULL;
	}
	unsigned d2 = (unsigned)(unsigned char)s[2] - '0';
	if (d2 > 9) {
		*out = d0 * 10 + d1;
		return s[2] == sep ? s + 3 : NULL;
	}
	*out = d0 * 100 + d1 * 10 + d2;
	return *out <= 255 && s[3] == sep ? s + 4 : NULL;
}

/* The longest A-B:C.D.E with its '(' (five fields of three digits). */
#define OBIS_MAX 20

/* The packed key of the OBIS code at q, as its text "A-B:C.D.E(" gives it:
 * the offset of the '(' (*key set), or -1 when q does not start so. q has
 * OBIS_MAX bytes to read. */
static int parse_obis(const char *q, uint32_t *key)
{
	const char *start = q;
	unsigned f[5];
	/* "A-B:" with one digit each, as every DSMR object has it. */
	unsigned a0 = (unsigned)(unsigned char)q[0] - '0', b0 = (unsigned)(unsigned char)q[2] - '0';
	if (a0 <= 9 && b0 <= 9 && q[1] == '-' && q[3] == ':') {
		f[0] = a0;
		f[1] = b0;
		q += 4;
	} else if (!(q = obis_field(q, '-', &f[0])) || !(q = obis_field(q, ':', &f[1]))) {
		return -1;
	}
	if (!(q = obis_field(q, '.', &f[2])) || !(q = obis_field(q, '.', &f[3])) ||
	    !(q = obis_field(q, '(', &f[4])))
		return -1;
	*key = (f[0] < 16 && f[1] < 16) ? OBIS(f[0], f[1], f[2], f[3], f[4]) : 0xFFFFFFFFu;
	return (int)(q - start) - 1;
}

#if defined(__SSE2__)
/* A meter sends the same codes in the same order in every telegram: the
 * text of the code parse_obis read on each line of the last telegram on
 * this thread, up to and with its '(', is kept with its key by the line's
 * place in the telegram. A line whose code has the text its place kept
 * takes the key from there: the same text gives the same key, so this
 * changes no result, only the time. Codes of more than 15 bytes are not
 * kept. */
#define OBIS_MEMO 64

struct obis_memo {
	__m128i text;  /* the code's bytes through the '(', zeros after it */
	uint32_t key;
	enum p1_object object; /* object_of(key), found once for the place */
};

static _Thread_local struct obis_memo obis_memo[OBIS_MEMO];

/* The bytes of the code at q through its '(' (at *paren), zeros after
 * them; *paren is -1 when there is no '(' in the first 16 bytes. */
static inline __m128i obis_text(const char *q, int *paren)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
	unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('(')));
	if (!m) {
		*paren = -1;
		return x;
	}
	int p = __builtin_ctz(m);
	const __m128i index = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	*paren = p;
	return _mm_and_si128(x, _mm_cmplt_epi8(index, _mm_set1_epi8((char)(p + 1))));
}

/* parse_obis through the memo, for the nth line of the telegram: the key
 * and its object into ln. */
static HOT_INLINE int obis_key(const char *q, unsigned nth, struct line *ln)
{
	int paren;
	__m128i text = obis_text(q, &paren);
	if (paren < 0) {
		paren = parse_obis(q, &ln->key);
		if (paren >= 0)
			ln->object = object_of(ln->key);
		return paren;
	}
	struct obis_memo *e = &obis_memo[nth % OBIS_MEMO];
	if (_mm_movemask_epi8(_mm_cmpeq_epi8(text, e->text)) == 0xFFFF) {
		ln->key = e->key;
		ln->object = e->object;
		return paren;
	}
	int got = parse_obis(q, &ln->key);
	if (got < 0)
		return got; /* ln->key not set: not an OBIS code */
	ln->object = object_of(ln->key);
	e->text = text;
	e->key = ln->key;
	e->object = ln->object;
	return got;
}
#else
static HOT_INLINE int obis_key(const char *q, unsigned nth, struct line *ln)
{
	(void)nth;
	int paren = parse_obis(q, &ln->key);
	if (paren >= 0)
		ln->object = object_of(ln->key);
	return paren;
}
#endif

static HOT_INLINE bool fast_line(struct line *ln, size_t pos, size_t bang, unsigned nth,
				 size_t *next)
{
	const char *raw = ln->raw;

	if (bang - pos < OBIS_MAX)
		return false;
	int paren = obis_key(raw + pos, nth, ln);
	if (paren < 0)
		return false;
	size_t i = pos + (size_t)paren; /* the '(' */
	ln->ngroups = 0;
	for (;;) {
		/* raw[i] is '(' */
		size_t j = i + 1 + plain_run(raw + i + 1, bang - i - 1);
		if (j >= bang || raw[j] != ')')
			return false;
		if (ln->ngroups < MAX_GROUPS) {
			ln->g[ln->ngroups].off = (uint16_t)(i + 1);
			ln->g[ln->ngroups].len = (uint16_t)(j - i - 1);
		}
		ln->ngroups++;
		i = j + 1;
		if (i < bang && raw[i] == '(')
			continue;
		break;
	}
	ln->off = pos;
	ln->len = i - pos;
	if (i + 1 < bang && raw[i] == '\r' && raw[i + 1] == '\n') {
		*next = i + 2; /* CR LF, as DSMR sends it: tested first */
	} else if (i == bang) {
		*next = bang;
	} else if (raw[i] == '\n') {
		*next = i + 1;
	} else if (raw[i] == '\r' && i + 1 == bang) {
		*next = bang;
	} else {
		return false;
	}
	return true;
}

/* Length of the OBIS code at the start of a split line (up to its '('). */
static int obis_len(const struct line *ln)
{
	const char *s = ln->raw + ln->off;
	const char *paren = memchr(s, '(', ln->len);
	return paren ? (int)(paren - s) : (int)ln->len;
}

/* A cursor over the value groups of a line that split_line accepted, for
 * lines with more groups than ln->g holds. */
struct groups {
	const char *raw;
	size_t pos, end; /* next '(' and the end of the line, offsets in raw */
};

static struct groups groups_of(const struct line *ln)
{
	const char *s = ln->raw + ln->off;
	const char *paren = memchr(s, '(', ln->len);
	struct groups it = {ln->raw, ln->off + (size_t)(paren - s), ln->off + ln->len};
	return it;
}

static struct sc_span groups_next(struct groups *it)
{
	/* split_line has checked that groups follow one another to the end of
	 * the line, each '(' closed by a ')' with none inside. */
	const char *open = it->raw + it->pos;
	const char *close = memchr(open, ')', it->end - it->pos);
	struct sc_span g = {(uint16_t)(it->pos + 1), (uint16_t)(close - open - 1)};
	it->pos = (size_t)(close - it->raw) + 1;
	return g;
}

/* Units as sent, with the power of ten that converts them to the base unit.
 * DLMS unit names are written in either case in the field (Swedish meters
 * send kVAr, kVArh): they are compared without case, except with
 * SC_P1_STRICT. */
static const struct {
	const char *name;
	enum sc_unit unit;
	int exp;
} units[] = {
	{"kWh", SC_UNIT_WH, 3}, {"Wh", SC_UNIT_WH, 0},     {"kW", SC_UNIT_W, 3},
	{"W", SC_UNIT_W, 0},     {"kvarh", SC_UNIT_VARH, 3}, {"varh", SC_UNIT_VARH, 0},
	{"kvar", SC_UNIT_VAR, 3}, {"var", SC_UNIT_VAR, 0},  {"kVA", SC_UNIT_VA, 3},
	{"VA", SC_UNIT_VA, 0},   {"V", SC_UNIT_V, 0},       {"A", SC_UNIT_A, 0},
	{"m3", SC_UNIT_M3, 0},   {"GJ", SC_UNIT_GJ, 0},     {"s", SC_UNIT_S, 0},
	{"Hz", SC_UNIT_HZ, 0},
};

static bool same_unit_name(const char *name, const char *u, size_t ulen, bool exact)
{
	if (strlen(name) != ulen)
		return false;
	if (exact)
		return memcmp(name, u, ulen) == 0;
	for (size_t i = 0; i < ulen; i++) {
		unsigned char a = (unsigned char)name[i], b = (unsigned char)u[i];
		bool letter = (a | 0x20) >= 'a' && (a | 0x20) <= 'z';
		if (a != b && !(letter && (a ^ 0x20) == b))
			return false;
	}
	return true;
}

static enum sc_unit lookup_unit(const char *u, size_t ulen, bool exact, int *exp)
{
	/* The usual units first, without a library call. */
	if (ulen == 3 && u[0] == 'k' && u[1] == 'W' && u[2] == 'h') {
		*exp = 3;
		return SC_UNIT_WH;
	}
	if (ulen == 2 && u[0] == 'k' && u[1] == 'W') {
		*exp = 3;
		return SC_UNIT_W;
	}
	if (ulen == 1 && (u[0] == 'V' || u[0] == 'A' || u[0] == 's' || u[0] == 'W')) {
		*exp = 0;
		return u[0] == 'V' ? SC_UNIT_V : u[0] == 'A' ? SC_UNIT_A : u[0] == 's' ? SC_UNIT_S
										    : SC_UNIT_W;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (same_unit_name(units[i].name, u, ulen, exact)) {
			*exp = units[i].exp;
			return units[i].unit;
		}
	}
	*exp = 0;
	return SC_UNIT_OTHER;
}

static const char *unit_name(enum sc_unit u)
{
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (units[i].unit == u && units[i].exp == 0)
			return units[i].name;
	return u == SC_UNIT_NONE ? "none" : "other";
}

/* The unit rule of each kind of value: the one place that says which units
 * an object may carry and what a value outside them costs.
 *
 * - strict: the one unit of DSMR 5.0.2 table 6-3 / e-MUCS (SC_UNIT_NONE for
 *   a count, SC_UNIT_OTHER for "any"); with SC_P1_STRICT it is the only one
 *   accepted, its name spelt exactly, and anything else fails the telegram.
 * - also: further units the standards allow for the object (bit per
 *   enum sc_unit): the limiter 0-0:17.0.0 in kW (DSMR 4/5, e-MUCS), kVA
 *   (Luxembourg) or A (DSMR 3.0).
 * - bare: the unit of a value sent without one (SC_UNIT_NONE: not read);
 *   failure-log durations without unit are seconds (DSMR 5.0 meters).
 * - needed: the value feeds a quantity every reading has (time, active
 *   power, active energy, phase voltage, current and power, counts): a
 *   value outside the rule fails the telegram. Otherwise (reactive power
 *   and energy, which only some meters send; limiter, fuse, demand and
 *   failure log, which feed nothing of the reading) it costs that object
 *   alone: it is set aside, kept as a raw line and counted in
 *   tg->set_aside, and the reading is published without it. */
enum vkind {
	VK_ENERGY, VK_POWER, VK_VOLTAGE, VK_CURRENT, VK_COUNT,
	VK_REACTIVE_POWER, VK_REACTIVE_ENERGY, VK_DURATION, VK_LIMITER, VK_FUSE, VK_DEMAND,
	VK_MBUS,
};

#define UBIT(u) (1u << (u))

static const struct {
	enum sc_unit strict;
	unsigned also;
	enum sc_unit bare;
	bool needed;
} vrules[] = {
	[VK_ENERGY] = {SC_UNIT_WH, 0, SC_UNIT_NONE, true},
	[VK_POWER] = {SC_UNIT_W, 0, SC_UNIT_NONE, true},
	[VK_VOLTAGE] = {SC_UNIT_V, 0, SC_UNIT_NONE, true},
	[VK_CURRENT] = {SC_UNIT_A, 0, SC_UNIT_NONE, true},
	[VK_COUNT] = {SC_UNIT_NONE, 0, SC_UNIT_NONE, true},
	[VK_REACTIVE_POWER] = {SC_UNIT_VAR, 0, SC_UNIT_NONE, false},
	[VK_REACTIVE_ENERGY] = {SC_UNIT_VARH, 0, SC_UNIT_NONE, false},
	[VK_DURATION] = {SC_UNIT_S, 0, SC_UNIT_S, false},
	[VK_LIMITER] = {SC_UNIT_W, UBIT(SC_UNIT_VA) | UBIT(SC_UNIT_A), SC_UNIT_NONE, false},
	[VK_FUSE] = {SC_UNIT_A, 0, SC_UNIT_NONE, false},
	[VK_DEMAND] = {SC_UNIT_W, 0, SC_UNIT_NONE, false},
	[VK_MBUS] = {SC_UNIT_OTHER, 0, SC_UNIT_NONE, false},
};

/* get_val and the object readers: the object is set aside (see vrules). */
#define SET_ASIDE 2

/* A unit other than the kind's own (*unit as looked up, SC_UNIT_NONE when
 * the value has none): read (*unit is then the unit to store), the object
 * set aside (SET_ASIDE) or the telegram failed, by the rule of the kind. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static int other_unit(struct ctx *c, const struct line *ln, struct sc_span g, enum vkind kind,
		      const char *star, size_t ulen, enum sc_unit *unit)
{
	bool strict = (c->flags & SC_P1_STRICT) != 0;
	enum sc_unit u = *unit;
	bool ok;
	if (kind == VK_MBUS)
		ok = true; /* M-Bus devices differ (m3, GJ, none) */
	else if (strict)
		ok = false;
	else if (u == SC_UNIT_NONE)
		ok = vrules[kind].bare != SC_UNIT_NONE;
	else
		ok = u != SC_UNIT_OTHER && (vrules[kind].also & UBIT(u)) != 0;
	if (ok) {
		if (u == SC_UNIT_NONE)
			*unit = vrules[kind].bare != SC_UNIT_NONE ? vrules[kind].bare
								  : vrules[kind].strict;
		return SC_OK;
	}
	if (!strict && !vrules[kind].needed)
		return SET_ASIDE;
	return fail(c, g.off, SC_ERR_SYNTAX, "%.*s: unit '%.*s' where %s was expected",
		    obis_len(ln), c->raw + ln->off, star ? (int)ulen : 4, star ? star + 1 : "none",
		    unit_name(vrules[kind].strict));
}

/* The number at the start of a value group: digits, then optionally '.'
 * and digits (see get_val), at most 18 digits in all, as an integer and
 * the count of digits after the point. Returns the length of the number,
 * 0 when the group does not start with one (a digit first, one after a
 * point). Every group is closed by its ')' at s[len], which is not a
 * digit: it ends the digit loops, so they read no bound (every value of
 * every telegram comes through here). */
static size_t read_number(const char *s, int64_t *mant, int *frac)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t m = 0;
	unsigned d;
	size_t i = 0;
	while ((d = (unsigned)p[i] - '0') <= 9) {
		m = m * 10 + d;
		i++;
	}
	size_t digits = i, after = 0;
	if (digits == 0)
		return 0;
	if (p[i] == '.') {
		size_t start = ++i;
		while ((d = (unsigned)p[i] - '0') <= 9) {
			m = m * 10 + d;
			i++;
		}
		after = i - start;
		if (after == 0)
			return 0;
		digits += after;
	}
	if (digits > 18)
		return 0;
	*mant = (int64_t)m;
	*frac = (int)after;
	return i;
}

#if defined(__SSE2__)
/* The number memo: most values of a meter's telegram are the same as in
 * the one before (counters, totals, zeros), so for each line's place in the
 * telegram the text of its last value group (up to 15 bytes) is kept with
 * what read_number made of it. A group with the text its place kept takes
 * the number from there: the same text gives the same number, so this
 * changes no result, only the time (SC_P1_REFERENCE reads every number). */
#define VALUE_MEMO 64

struct number_memo {
	__m128i text;  /* the group's bytes, zeros after them */
	size_t len;    /* the group's length, 0 for an empty entry */
	size_t nlen;   /* read_number's results */
	int64_t mant;
	int frac;
};

static _Thread_local struct number_memo number_memo[VALUE_MEMO];

/* Whether a group of len bytes at s can be kept in a memo (1-15 bytes,
 * and 16 to read before end, the end of the telegram); *text is then its
 * bytes, zeros after them. */
static inline bool group_text(const char *s, size_t len, const char *end, __m128i *text)
{
	if (len == 0 || len > 15 || end - s < 16)
		return false;
	const __m128i index = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	*text = _mm_and_si128(x, _mm_cmplt_epi8(index, _mm_set1_epi8((char)len)));
	return true;
}

/* read_number through the memo, for a group of g_len bytes at s of the nth
 * line; end is the end of the telegram. */
static size_t memo_number(const char *s, size_t g_len, const char *end, unsigned nth,
			  int64_t *mant, int *frac)
{
	__m128i text;
	if (!group_text(s, g_len, end, &text))
		return read_number(s, mant, frac);
	struct number_memo *e = &number_memo[nth % VALUE_MEMO];
	if (e->len == g_len && _mm_movemask_epi8(_mm_cmpeq_epi8(text, e->text)) == 0xFFFF) {
		*mant = e->mant;
		*frac = e->frac;
		return e->nlen;
	}
	size_t nlen = read_number(s, mant, frac);
	if (nlen) {
		e->text = text;
		e->len = g_len;
		e->nlen = nlen;
		e->mant = *mant;
		e->frac = *frac;
	}
	return nlen;
}
#endif

/* A value group whose number (up to its '*', if any) read_number refused:
 * the telegram fails. Out of get_val's way. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static int bad_number(struct ctx *c, const struct line *ln, struct sc_span g)
{
	const char *s = c->raw + g.off;
	const char *star = memchr(s, '*', g.len);
	size_t nlen = star ? (size_t)(star - s) : g.len;
	return fail(c, g.off, SC_ERR_SYNTAX, "%.*s: bad number '%.*s'", obis_len(ln),
		    c->raw + ln->off, (int)nlen, s);
}

/* Reads "number[*unit]" and checks the unit against the rule of its kind.
 * An M-Bus reading takes any unit and none (a channel without device sends
 * a bare (00000000)). DSMR 5.0.2 §6.4: every value of a P1 object (energy,
 * power, current, voltage, counts, durations, M-Bus readings) is an
 * unsigned fixed-point number such as F9(3,3): digits, then '.' and
 * digits; no sign and no missing integer part. Returns SC_OK, an error or
 * SET_ASIDE. */
static int get_val(struct ctx *c, const struct line *ln, struct sc_span g, enum vkind kind,
		   struct sc_p1_val *out)
{
	const char *s = c->raw + g.off;
	size_t len = g.len;
	int64_t mant = 0;
	int frac = 0;
	assert(s[len] == ')'); /* read_number's end mark */
#if defined(__SSE2__)
	size_t nlen = c->fast ? memo_number(s, len, c->end, ln->nth, &mant, &frac)
			      : read_number(s, &mant, &frac);
#else
	size_t nlen = read_number(s, &mant, &frac);
#endif
	if (nlen == 0 || (nlen < len && s[nlen] != '*'))
		return bad_number(c, ln, g);
	const char *star = nlen < len ? s + nlen : NULL;
	enum sc_unit unit = SC_UNIT_NONE, want = vrules[kind].strict;
	int exp = 0;
	if (star)
		unit = lookup_unit(star + 1, len - nlen - 1, (c->flags & SC_P1_STRICT) != 0, &exp);
	if (unit != want) { /* the rare case, out of the common path */
		int rc2 = other_unit(c, ln, g, kind, star, len - nlen - 1, &unit);
		if (rc2 != SC_OK)
			return rc2;
	}
	/* Scaled in one step: 02.027 kW is exactly 2027 W. */
	out->v = exp == frac ? (double)mant : sc_decimal_value(mant, exp - frac);
	out->unit = unit;
	out->set = true;
	return SC_OK;
}

static int get_int(struct ctx *c, const struct line *ln, struct sc_span g, uint64_t max,
		   int *out)
{
	uint64_t v;
	const char *s = c->raw + g.off;
	if (sc_parse_uint(s, g.len, max, &v) != SC_OK)
		return fail(c, g.off, SC_ERR_SYNTAX, "%.*s: bad integer '%.*s'", obis_len(ln),
			    c->raw + ln->off, (int)g.len, s);
	*out = (int)v;
	return SC_OK;
}

int sc_p1_parse_time(const char *s, size_t len, struct sc_p1_time *t)
{
	struct sc_civil cv;
	uint64_t f[6];

	memset(t, 0, sizeof *t);
	if (len != 13 || (s[12] != 'S' && s[12] != 'W'))
		return SC_ERR_SYNTAX;
	for (int i = 0; i < 6; i++) {
		/* Two digits each: what sc_parse_uint(s + 2 * i, 2, 99) takes,
		 * without a call per field. */
		unsigned hi = (unsigned)(unsigned char)s[2 * i] - '0';
		unsigned lo = (unsigned)(unsigned char)s[2 * i + 1] - '0';
		if (hi > 9 || lo > 9)
			return SC_ERR_SYNTAX;
		f[i] = hi * 10 + lo;
	}
	t->dst = s[12];
	/* The fillers meters send where they have no time (P1-DSMR.md "field
	 * quirks": 000101000001W in Kaifa failure logs, 632525252525W for
	 * Fluvius' "no peak", 700101010000W on an empty M-Bus channel,
	 * 000101010000W as the clock of a meter whose time was never set) and
	 * the all-zero one. They are known by their digits; the DST letter says
	 * nothing about them. Any other impossible date is an error, not a
	 * filler: the CRC says the meter sent it so. */
	static const char fillers[][12] = {
		{'0', '0', '0', '1', '0', '1', '0', '0', '0', '0', '0', '1'},
		{'6', '3', '2', '5', '2', '5', '2', '5', '2', '5', '2', '5'},
		{'7', '0', '0', '1', '0', '1', '0', '1', '0', '0', '0', '0'},
		{'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'},
		{'0', '0', '0', '1', '0', '1', '0', '1', '0', '0', '0', '0'},
	};
	for (size_t k = 0; k < sizeof fillers / sizeof fillers[0]; k++) {
		if (memcmp(s, fillers[k], 12) == 0) {
			t->placeholder = true;
			return SC_OK;
		}
	}
	cv.year = 2000 + (int)f[0];
	cv.month = (int)f[1];
	cv.day = (int)f[2];
	cv.hour = (int)f[3];
	cv.minute = (int)f[4];
	cv.second = (int)f[5];
	if (!sc_civil_valid(&cv)) {
		t->dst = 0;
		return SC_ERR_SYNTAX;
	}
	/* DSMR 5.0.2 §6.4.3: local time, S = summer (UTC+2), W = winter (UTC+1). */
	t->epoch = sc_civil_to_epoch(&cv) - (t->dst == 'S' ? 7200 : 3600);
	t->set = true;
	return SC_OK;
}

#if defined(__SSE2__)
/* The time memo, like the value memo: for each line's place the text of its
 * last timestamp with what sc_p1_parse_time made of it (the failure log's
 * and the M-Bus reading's times repeat from telegram to telegram). */
struct time_memo {
	__m128i text;  /* the group's bytes, zeros after them */
	size_t len;    /* the group's length, 0 for an empty entry */
	struct sc_p1_time t;
};

static _Thread_local struct time_memo time_memo[VALUE_MEMO];

/* sc_p1_parse_time through the memo, for a group of the nth line. */
static int memo_time(const char *s, size_t len, const char *end, unsigned nth,
		     struct sc_p1_time *t)
{
	__m128i text;
	if (!group_text(s, len, end, &text))
		return sc_p1_parse_time(s, len, t);
	struct time_memo *e = &time_memo[nth % VALUE_MEMO];
	if (e->len == len && _mm_movemask_epi8(_mm_cmpeq_epi8(text, e->text)) == 0xFFFF) {
		*t = e->t;
		return SC_OK;
	}
	int rc = sc_p1_parse_time(s, len, t);
	if (rc == SC_OK) {
		e->text = text;
		e->len = len;
		e->t = *t;
	}
	return rc;
}
#endif

static int get_time(struct ctx *c, const struct line *ln, struct sc_span g,
		    struct sc_p1_time *t)
{
	const char *s = c->raw + g.off;
#if defined(__SSE2__)
	int rc = c->fast ? memo_time(s, g.len, c->end, ln->nth, t) : sc_p1_parse_time(s, g.len, t);
#else
	int rc = sc_p1_parse_time(s, g.len, t);
#endif
	if (rc != SC_OK)
		return fail(c, g.off, SC_ERR_SYNTAX, "%.*s: bad timestamp '%.*s'", obis_len(ln),
			    c->raw + ln->off, (int)g.len, s);
	return SC_OK;
}

static int want_groups(struct ctx *c, const struct line *ln, int n)
{
	if (ln->ngroups == n)
		return SC_OK;
	return fail(c, ln->off, SC_ERR_SYNTAX, "%.*s: %d values where %d expected",
		    obis_len(ln), c->raw + ln->off, ln->ngroups, n);
}

static int one_val(struct ctx *c, const struct line *ln, enum vkind kind, struct sc_p1_val *v)
{
	int rc = want_groups(c, ln, 1);
	return rc ? rc : get_val(c, ln, ln->g[0], kind, v);
}

static int one_int(struct ctx *c, const struct line *ln, uint64_t max, int *out)
{
	int rc = want_groups(c, ln, 1);
	return rc ? rc : get_int(c, ln, ln->g[0], max, out);
}

static struct sc_span group_span(const struct line *ln, int gi)
{
	return ln->g[gi];
}

static int one_span(struct ctx *c, const struct line *ln, struct sc_span *s)
{
	int rc = want_groups(c, ln, 1);
	if (rc == SC_OK)
		*s = group_span(ln, 0);
	return rc;
}

/* A hex digit's value plus one, 0 for any other byte: one look-up a byte. */
static const unsigned char hex_plus1[256] = {
	['0'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	['A'] = 11, 12, 13, 14, 15, 16,
	['a'] = 11, 12, 13, 14, 15, 16,
};

static int hex_digit(unsigned char ch)
{
	return (int)hex_plus1[ch] - 1;
}

int sc_p1_hex_decode(const char *hex, size_t len, char *out, size_t cap)
{
	if (len % 2 != 0)
		return SC_ERR_SYNTAX;
	for (size_t i = 0; i < len; i++)
		if (hex_digit((unsigned char)hex[i]) < 0)
			return SC_ERR_SYNTAX;
	if (cap < len / 2 + 1 || len / 2 > (size_t)INT_MAX)
		return SC_ERR_RANGE;
	for (size_t i = 0; i < len; i += 2)
		out[i / 2] = (char)(hex_digit((unsigned char)hex[i]) << 4 |
				    hex_digit((unsigned char)hex[i + 1]));
	out[len / 2] = '\0';
	return (int)(len / 2);
}

/* Offset of the first byte of s[0..n) that is not a hex digit, or n: the
 * rule (hex_digit), a byte at a time. */
static size_t hex_run_bytes(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && hex_digit((unsigned char)s[i]) >= 0)
		i++;
	return i;
}

/* The same, sixteen bytes at a time where SSE2 is there (an equipment id
 * is 34 hex digits in every telegram). Held to hex_run_bytes by the
 * equivalence tests (SC_P1_REFERENCE takes hex_run_bytes alone). */
static size_t hex_run(const char *s, size_t n)
{
	size_t i = 0;
#if defined(__SSE2__)
	/* Signed compares: bytes 0x80-0xFF are negative and match no range;
	 * OR 0x20 folds 'A'-'F' onto 'a'-'f' and leaves 0x80-0xFF negative. */
	const __m128i below0 = _mm_set1_epi8('0' - 1), above9 = _mm_set1_epi8('9' + 1);
	const __m128i belowa = _mm_set1_epi8('a' - 1), abovef = _mm_set1_epi8('f' + 1);
	const __m128i fold = _mm_set1_epi8(0x20);
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i low = _mm_or_si128(x, fold);
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, below0), _mm_cmplt_epi8(x, above9));
		__m128i letter =
			_mm_and_si128(_mm_cmpgt_epi8(low, belowa), _mm_cmplt_epi8(low, abovef));
		unsigned ok = (unsigned)_mm_movemask_epi8(_mm_or_si128(digit, letter));
		if (ok != 0xFFFF)
			return i + (size_t)__builtin_ctz(~ok);
	}
#endif
	return i + hex_run_bytes(s + i, n - i);
}

/* An octet string: DSMR 5.0.2 §6.4 sends it hex-encoded, two digits per
 * byte; it is kept as sent (sc_p1_hex_decode gives the bytes). */
static int one_hex(struct ctx *c, const struct line *ln, struct sc_span *s)
{
	int rc = want_groups(c, ln, 1);
	if (rc != SC_OK)
		return rc;
	struct sc_span g = group_span(ln, 0);
	const char *h = c->raw + g.off;
	size_t bad = c->fast ? hex_run(h, g.len) : hex_run_bytes(h, g.len);
	if (bad < g.len)
		return fail(c, g.off + bad, SC_ERR_SYNTAX, "%.*s: '%c' in a hex string",
			    obis_len(ln), c->raw + ln->off, h[bad]);
	if (g.len % 2 != 0)
		return fail(c, g.off, SC_ERR_SYNTAX, "%.*s: hex string of odd length %u",
			    obis_len(ln), c->raw + ln->off, (unsigned)g.len);
	*s = g;
	return SC_OK;
}

static bool group_is_obis(const char *raw, struct sc_span s)
{
	return s.len >= 9 && memchr(raw + s.off, ':', s.len) != NULL;
}

/* 1-0:99.97.0(count)(0-0:96.7.19)(TST)(duration*s)... ; "()" = empty log.
 * Every entry is checked; the first SC_P1_MAX_FAILLOG are kept, the others
 * counted in tg->dropped (p1.h). */
static int failure_log(struct ctx *c, const struct line *ln)
{
	struct sc_p1_telegram *tg = c->tg;
	if (ln->ngroups == 1 && ln->g[0].len == 0) {
		tg->failure_log_count = 0;
		return SC_OK;
	}
	int count = 0, rc;
	if ((rc = get_int(c, ln, ln->g[0], 9999, &count)))
		return rc;
	int first = 1;
	if (ln->ngroups > 1 && group_is_obis(c->raw, ln->g[1]))
		first = 2;
	int pairs = (ln->ngroups - first) / 2;
	if ((ln->ngroups - first) % 2 != 0 || pairs != count)
		return fail(c, ln->off, SC_ERR_SYNTAX,
			    "1-0:99.97.0: count %d but %d (time, duration) values", count, pairs);
	tg->failure_log_count = count;
	int dropped = tg->dropped;
	struct groups it = groups_of(ln);
	for (int k = 0; k < first; k++)
		groups_next(&it);
	for (int k = 0; k < pairs; k++) {
		struct sc_p1_val dur;
		struct sc_p1_time end;
		struct sc_span gt = groups_next(&it), gd = groups_next(&it);
		if ((rc = get_time(c, ln, gt, &end)) ||
		    (rc = get_val(c, ln, gd, VK_DURATION, &dur))) {
			if (rc == SET_ASIDE) { /* the whole log, not a part of it */
				tg->failure_log_count = -1;
				tg->dropped = dropped;
			}
			return rc;
		}
		if (k < SC_P1_MAX_FAILLOG) {
			tg->failure_log[k].end = end;
			tg->failure_log[k].duration_s = dur.v;
		} else {
			tg->dropped++;
		}
	}
	return SC_OK;
}

/* e-MUCS 0-0:98.1.0(count)(1-0:1.6.0)(1-0:1.6.0)(month)(peak time)(kW)...
 * Other meters (e.g. Hungarian Sagemcom) use the same code for a billing
 * history of a different shape: that is kept as an unknown raw line. Every
 * month is checked; the first SC_P1_MAX_DEMAND_HIST are kept, the others
 * counted in tg->dropped. */
static int demand_history(struct ctx *c, const struct line *ln, bool *keep_raw)
{
	struct sc_p1_telegram *tg = c->tg;
	uint64_t count;
	if (ln->ngroups < 1 || sc_parse_uint(c->raw + ln->g[0].off, ln->g[0].len, 99, &count)) {
		*keep_raw = true;
		return SC_OK;
	}
	int first = 1;
	while (first < ln->ngroups && first < 3 && group_is_obis(c->raw, ln->g[first]))
		first++;
	/* Fluvius meters without history send (0)(1-0:1.6.0)(1-0:1.6.0)(). */
	if (count == 0 && ln->ngroups == first + 1 && ln->g[first].len == 0) {
		tg->demand_hist_count = 0;
		return SC_OK;
	}
	if ((ln->ngroups - first) % 3 != 0 || (uint64_t)((ln->ngroups - first) / 3) != count)
		return fail(c, ln->off, SC_ERR_SYNTAX,
			    "0-0:98.1.0: count %d but %d (month, time, demand) values", (int)count,
			    (ln->ngroups - first) / 3);
	tg->demand_hist_count = (int)count;
	int dropped = tg->dropped;
	struct groups it = groups_of(ln);
	for (int k = 0; k < first; k++)
		groups_next(&it);
	for (int k = 0; k < (int)count; k++) {
		struct sc_p1_demand dm;
		struct sc_p1_val v;
		int rc;
		struct sc_span gm = groups_next(&it), gw = groups_next(&it), gv = groups_next(&it);
		if ((rc = get_time(c, ln, gm, &dm.month)) || (rc = get_time(c, ln, gw, &dm.when)) ||
		    (rc = get_val(c, ln, gv, VK_DEMAND, &v))) {
			if (rc == SET_ASIDE) {
				tg->demand_hist_count = -1;
				tg->dropped = dropped;
			}
			return rc;
		}
		dm.w = v.v;
		if (k < SC_P1_MAX_DEMAND_HIST)
			tg->demand_hist[k] = dm;
		else
			tg->dropped++;
	}
	return SC_OK;
}

/* Objects on M-Bus channels 1-4 (0-n:24.x, 0-n:96.1.x). Returns 1 when the
 * key is not an M-Bus object. */
static int mbus_object(struct ctx *c, const struct line *ln, unsigned ch, uint32_t key)
{
	struct sc_p1_mbus *m = &c->tg->mbus[ch - 1];
	int rc;
	switch (key) {
	case OBIS(0, 0, 24, 1, 0): case OBIS(0, 0, 96, 1, 0): case OBIS(0, 0, 96, 1, 1):
	case OBIS(0, 0, 24, 4, 0): case OBIS(0, 0, 24, 2, 1): case OBIS(0, 0, 24, 2, 3):
		m->channel = (int)ch;
		break;
	default:
		return 1;
	}
	switch (key) {
	case OBIS(0, 0, 24, 1, 0):
		/* An empty slot: DSMR 5.0 meters send 0-n:24.1.0() where no device
		 * is bound; that is no device (device type -1). */
		if (ln->ngroups == 1 && ln->g[0].len == 0 && !(c->flags & SC_P1_STRICT))
			return SC_OK;
		return one_int(c, ln, 255, &m->device_type);
	case OBIS(0, 0, 96, 1, 0): /* DSMR 5.0.2 table 6-3: equipment id, hex */
	case OBIS(0, 0, 96, 1, 1): /* the same in e-MUCS */
		return one_hex(c, ln, &m->id);
	case OBIS(0, 0, 24, 4, 0):
		return one_int(c, ln, 255, &m->valve);
	case OBIS(0, 0, 24, 2, 1):
	case OBIS(0, 0, 24, 2, 3):
		if ((rc = want_groups(c, ln, 2)) ||
		    (rc = get_time(c, ln, ln->g[0], &m->reading_time)))
			return rc;
		/* The unit depends on the device (m3 gas/water, GJ heat); a channel
		 * with no device sends a bare (00000000). */
		if ((rc = get_val(c, ln, ln->g[1], VK_MBUS, &m->reading)) == SC_OK) {
			m->corrected = key == OBIS(0, 0, 24, 2, 1);
			return SC_OK;
		}
		return rc;
	default:
		return 1;
	}
}

static int phase_of(unsigned c)
{
	/* IEC 62056-61: C groups 21-40 are L1, 41-60 L2, 61-80 L3 (and 31/51/71,
	 * 32/52/72 inside them). */
	return c < 41 ? 0 : c < 61 ? 1 : 2;
}

/* Which known object a key is: the place of each OBIS code's rule. */
static enum p1_object object_of(uint32_t key)
{
	unsigned a = key >> 28, b = key >> 24 & 0xF, cc = key >> 16 & 0xFF, d = key >> 8 & 0xFF;
	if (a == 0 && b >= 1 && b <= SC_P1_MAX_MBUS && (cc == 24 || (cc == 96 && d == 1)))
		return OBJ_MBUS;
	switch (key) {
	case OBIS(1, 3, 0, 2, 8):
		return OBJ_VERSION;
	case OBIS(0, 0, 96, 1, 4):
		return OBJ_EMUCS_VERSION;
	case OBIS(0, 0, 1, 0, 0):
		return OBJ_TIME;
	case OBIS(0, 0, 96, 1, 1):
		return OBJ_EQUIPMENT_ID;
	case OBIS(0, 0, 96, 1, 0):
		return OBJ_EQUIPMENT_ID_OTHER;
	case OBIS(1, 0, 1, 8, 0):
		return OBJ_IMPORT_TOTAL;
	case OBIS(1, 0, 2, 8, 0):
		return OBJ_EXPORT_TOTAL;
	case OBIS(1, 0, 1, 8, 1): case OBIS(1, 0, 1, 8, 2):
	case OBIS(1, 0, 1, 8, 3): case OBIS(1, 0, 1, 8, 4):
		return OBJ_IMPORT_TARIFF;
	case OBIS(1, 0, 2, 8, 1): case OBIS(1, 0, 2, 8, 2):
	case OBIS(1, 0, 2, 8, 3): case OBIS(1, 0, 2, 8, 4):
		return OBJ_EXPORT_TARIFF;
	case OBIS(0, 0, 96, 14, 0):
		return OBJ_TARIFF;
	case OBIS(1, 0, 1, 7, 0):
		return OBJ_POWER_IMPORT;
	case OBIS(1, 0, 2, 7, 0):
		return OBJ_POWER_EXPORT;
	case OBIS(1, 0, 3, 7, 0):
		return OBJ_REACTIVE_IMPORT;
	case OBIS(1, 0, 4, 7, 0):
		return OBJ_REACTIVE_EXPORT;
	case OBIS(1, 0, 5, 8, 0): case OBIS(1, 0, 6, 8, 0):
	case OBIS(1, 0, 7, 8, 0): case OBIS(1, 0, 8, 8, 0):
		return OBJ_REACTIVE_QUADRANT;
	case OBIS(0, 0, 96, 7, 21):
		return OBJ_POWER_FAILURES;
	case OBIS(0, 0, 96, 7, 9):
		return OBJ_LONG_POWER_FAILURES;
	case OBIS(1, 0, 99, 97, 0):
		return OBJ_FAILURE_LOG;
	case OBIS(1, 0, 32, 32, 0): case OBIS(1, 0, 52, 32, 0): case OBIS(1, 0, 72, 32, 0):
		return OBJ_SAGS;
	case OBIS(1, 0, 32, 36, 0): case OBIS(1, 0, 52, 36, 0): case OBIS(1, 0, 72, 36, 0):
		return OBJ_SWELLS;
	case OBIS(0, 0, 96, 13, 0):
		return OBJ_MESSAGE;
	case OBIS(0, 0, 96, 13, 1):
		return OBJ_MESSAGE_CODE;
	case OBIS(1, 0, 32, 7, 0): case OBIS(1, 0, 52, 7, 0): case OBIS(1, 0, 72, 7, 0):
		return OBJ_VOLTAGE;
	case OBIS(1, 0, 31, 7, 0): case OBIS(1, 0, 51, 7, 0): case OBIS(1, 0, 71, 7, 0):
		return OBJ_CURRENT;
	case OBIS(1, 0, 21, 7, 0): case OBIS(1, 0, 41, 7, 0): case OBIS(1, 0, 61, 7, 0):
		return OBJ_PHASE_IMPORT;
	case OBIS(1, 0, 22, 7, 0): case OBIS(1, 0, 42, 7, 0): case OBIS(1, 0, 62, 7, 0):
		return OBJ_PHASE_EXPORT;
	case OBIS(1, 0, 23, 7, 0): case OBIS(1, 0, 43, 7, 0): case OBIS(1, 0, 63, 7, 0):
		return OBJ_PHASE_REACTIVE_IMPORT;
	case OBIS(1, 0, 24, 7, 0): case OBIS(1, 0, 44, 7, 0): case OBIS(1, 0, 64, 7, 0):
		return OBJ_PHASE_REACTIVE_EXPORT;
	case OBIS(1, 0, 1, 4, 0):
		return OBJ_DEMAND_AVG;
	case OBIS(1, 0, 1, 6, 0):
		return OBJ_DEMAND_MAX;
	case OBIS(0, 0, 98, 1, 0):
		return OBJ_DEMAND_HISTORY;
	case OBIS(0, 0, 96, 3, 10):
		return OBJ_BREAKER;
	case OBIS(0, 0, 17, 0, 0):
		return OBJ_LIMITER;
	case OBIS(1, 0, 31, 4, 0): case OBIS(1, 0, 51, 4, 0): case OBIS(1, 0, 71, 4, 0):
		return OBJ_FUSE;
	default:
		return OBJ_UNKNOWN;
	}
}

static HOT_INLINE int decode_object(struct ctx *c, const struct line *ln, bool *keep_raw)
{
	struct sc_p1_telegram *tg = c->tg;
	uint32_t key = ln->key;
	unsigned b = key >> 24 & 0xF, cc = key >> 16 & 0xFF;
	unsigned d = key >> 8 & 0xFF, e = key & 0xFF;
	int rc;

	*keep_raw = false;
	switch (ln->object) {
	case OBJ_MBUS:
		rc = mbus_object(c, ln, b, OBIS(0, 0, cc, d, e));
		if (rc == 1)
			*keep_raw = true;
		return rc == 1 ? SC_OK : rc;
	case OBJ_VERSION: {
		int v = 0;
		if ((rc = one_int(c, ln, 999, &v)))
			return rc;
		while (v >= 100) /* "502" style versions compare as 50 */
			v /= 10;
		tg->version = v;
		return SC_OK;
	}
	case OBJ_EMUCS_VERSION:
		return one_int(c, ln, 999999, &tg->emucs_version);
	case OBJ_TIME:
		if ((rc = want_groups(c, ln, 1)))
			return rc;
		return get_time(c, ln, ln->g[0], &tg->time);
	case OBJ_EQUIPMENT_ID: /* DSMR 5.0.2 table 6-3: equipment id, hex */
		return one_hex(c, ln, &tg->equipment_id);
	case OBJ_EQUIPMENT_ID_OTHER: /* some non-NL meters identify themselves here */
		if (tg->equipment_id.len == 0)
			return one_span(c, ln, &tg->equipment_id);
		*keep_raw = true;
		return SC_OK;
	case OBJ_IMPORT_TOTAL:
		return one_val(c, ln, VK_ENERGY, &tg->import_total);
	case OBJ_EXPORT_TOTAL:
		return one_val(c, ln, VK_ENERGY, &tg->export_total);
	case OBJ_IMPORT_TARIFF:
		return one_val(c, ln, VK_ENERGY, &tg->import_tariff[e - 1]);
	case OBJ_EXPORT_TARIFF:
		return one_val(c, ln, VK_ENERGY, &tg->export_tariff[e - 1]);
	case OBJ_TARIFF:
		return one_int(c, ln, 9999, &tg->tariff);
	case OBJ_POWER_IMPORT:
		return one_val(c, ln, VK_POWER, &tg->power_import);
	case OBJ_POWER_EXPORT:
		return one_val(c, ln, VK_POWER, &tg->power_export);
	case OBJ_REACTIVE_IMPORT:
		return one_val(c, ln, VK_REACTIVE_POWER, &tg->reactive_import);
	case OBJ_REACTIVE_EXPORT:
		return one_val(c, ln, VK_REACTIVE_POWER, &tg->reactive_export);
	case OBJ_REACTIVE_QUADRANT:
		return one_val(c, ln, VK_REACTIVE_ENERGY, &tg->reactive_energy_quadrant[cc - 5]);
	case OBJ_POWER_FAILURES:
		return one_val(c, ln, VK_COUNT, &tg->power_failures);
	case OBJ_LONG_POWER_FAILURES:
		return one_val(c, ln, VK_COUNT, &tg->long_power_failures);
	case OBJ_FAILURE_LOG:
		return failure_log(c, ln);
	case OBJ_SAGS:
		return one_val(c, ln, VK_COUNT, &tg->sags[phase_of(cc)]);
	case OBJ_SWELLS:
		return one_val(c, ln, VK_COUNT, &tg->swells[phase_of(cc)]);
	case OBJ_MESSAGE: /* text message, hex */
		return one_hex(c, ln, &tg->message);
	case OBJ_MESSAGE_CODE:
		return one_span(c, ln, &tg->message_code);
	case OBJ_VOLTAGE:
		return one_val(c, ln, VK_VOLTAGE, &tg->voltage[phase_of(cc)]);
	case OBJ_CURRENT:
		return one_val(c, ln, VK_CURRENT, &tg->current[phase_of(cc)]);
	case OBJ_PHASE_IMPORT:
		return one_val(c, ln, VK_POWER, &tg->phase_import[phase_of(cc)]);
	case OBJ_PHASE_EXPORT:
		return one_val(c, ln, VK_POWER, &tg->phase_export[phase_of(cc)]);
	case OBJ_PHASE_REACTIVE_IMPORT:
		return one_val(c, ln, VK_REACTIVE_POWER, &tg->phase_reactive_import[phase_of(cc)]);
	case OBJ_PHASE_REACTIVE_EXPORT:
		return one_val(c, ln, VK_REACTIVE_POWER, &tg->phase_reactive_export[phase_of(cc)]);
	case OBJ_DEMAND_AVG:
		return one_val(c, ln, VK_DEMAND, &tg->demand_avg);
	case OBJ_DEMAND_MAX:
		if ((rc = want_groups(c, ln, 2)) ||
		    (rc = get_time(c, ln, ln->g[0], &tg->demand_max_time)))
			return rc;
		if ((rc = get_val(c, ln, ln->g[1], VK_DEMAND, &tg->demand_max)) == SET_ASIDE)
			memset(&tg->demand_max_time, 0, sizeof tg->demand_max_time);
		return rc;
	case OBJ_DEMAND_HISTORY:
		return demand_history(c, ln, keep_raw);
	case OBJ_BREAKER:
		return one_int(c, ln, 9, &tg->breaker_state);
	case OBJ_LIMITER:
		return one_val(c, ln, VK_LIMITER, &tg->limiter);
	case OBJ_FUSE:
		return one_val(c, ln, VK_FUSE, &tg->fuse[phase_of(cc)]);
	case OBJ_UNKNOWN:
		break;
	}
	*keep_raw = true;
	return SC_OK;
}

/* One object line: decoded into tg, or kept raw (*keep_raw) when unknown or
 * set aside by its unit rule (vrules). */
static HOT_INLINE int object(struct ctx *c, const struct line *ln, bool *keep_raw)
{
	int rc = decode_object(c, ln, keep_raw);
	if (rc == SET_ASIDE) {
		c->tg->set_aside++;
		*keep_raw = true;
		return SC_OK;
	}
	return rc;
}

/* True when a known object of this key was decoded before; else notes it. */
static bool repeated(struct ctx *c, uint32_t key)
{
	unsigned h = (key * 0x9E3779B1u) >> 22; /* one of 1024 bits: few false hits */
	uint64_t bit = 1ull << (h & 63);
	if (c->seen_bits[h >> 6] & bit) {
		for (int i = 0; i < c->nseen; i++)
			if (c->seen[i] == key)
				return true;
	}
	/* Each key is noted once and there are fewer known keys than MAX_SEEN. */
	assert(c->nseen < MAX_SEEN);
	c->seen_bits[h >> 6] |= bit;
	c->seen[c->nseen++] = key;
	return false;
}

static void keep_unknown(struct sc_p1_telegram *tg, size_t off, size_t len)
{
	if (tg->unknown_count < SC_P1_MAX_UNKNOWN) {
		tg->unknown[tg->unknown_count].off = (uint16_t)off;
		tg->unknown[tg->unknown_count].len = (uint16_t)len;
		tg->unknown_count++;
	} else {
		tg->dropped++;
	}
}

static void init_telegram(struct sc_p1_telegram *tg)
{
	memset(tg, 0, sizeof *tg);
	tg->failure_log_count = -1;
	tg->demand_hist_count = -1;
	tg->breaker_state = -1;
	for (int i = 0; i < SC_P1_MAX_MBUS; i++) {
		tg->mbus[i].device_type = -1;
		tg->mbus[i].valve = -1;
	}
}

/* general_line: the line needs no object decoding (empty, or kept raw). */
#define LINE_DONE 1

/* Any line fast_line gave up on: its end found first, then split (with the
 * exact error when it is not an object). Returns SC_OK with ln split,
 * LINE_DONE, or the error. */
static int general_line(struct ctx *c, struct line *ln, size_t *pos, size_t bang)
{
	const char *raw = ln->raw;
	const char *eol = memchr(raw + *pos, '\n', bang - *pos);
	size_t end = eol ? (size_t)(eol - raw) : bang;
	size_t next = eol ? end + 1 : bang;
	if (end > *pos && raw[end - 1] == '\r')
		end--;
	ln->off = *pos;
	ln->len = end - *pos;
	*pos = next;
	if (ln->len == 0)
		return LINE_DONE;
	if (raw[ln->off] == '(') {
		/* DSMR 2.2/3.0 continue the gas value on its own line. */
		for (size_t i = 0; i < ln->len; i++) {
			unsigned char ch = (unsigned char)raw[ln->off + i];
			if (ch < 0x20 || ch > 0x7e)
				return fail(c, ln->off + i, SC_ERR_SYNTAX,
					    "byte 0x%02X inside a line", ch);
		}
		keep_unknown(c->tg, ln->off, ln->len);
		return LINE_DONE;
	}
	size_t bad;
	const char *why;
	if (!split_line(ln, &bad, &why))
		return fail(c, ln->off + bad, SC_ERR_SYNTAX, "%s: '%.*s'", why,
			    (int)(ln->len > 60 ? 60 : ln->len), raw + ln->off);
	ln->object = object_of(ln->key);
	return SC_OK;
}

/* ---- The history: decoding a telegram against the one before ----
 *
 * A meter's telegrams are mostly the previous one again: the same lines at
 * the same offsets, and most of them byte for byte the same (identification,
 * version, equipment id, tariff, counts, the failure log); only the time and
 * the measured values change. Given a history (p1.h: struct sc_p1_history,
 * the caller's), the fast path keeps there the last telegram it decoded
 * without error: its bytes, its lines (where each starts and ends, its key,
 * how it was decoded) and the decoded telegram. A new
 * telegram of the same length, flags and '!' is compared with it 32 bytes at
 * a time; the lines without a changed byte are not looked at again, their
 * effect is the one the kept telegram holds; the changed lines are read
 * again (fast_line) and decoded over the kept telegram. This gives what the
 * full decode gives only when each changed line's decode is independent of
 * the others and replaces all its earlier effect, so a changed line is read
 * this way only when
 * - its class (below) is LC_RAW or LC_VALUE, and it ends where it ended
 *   before, with the same length, key, and value groups at the same places;
 * - its decode gives SC_OK, not set aside and not kept raw;
 * and the kept telegram was decoded with nothing set aside. Any other change
 * (the identification, a line's end or key, a value group that moves, an
 * error, a line of class LC_OTHER) decodes the whole telegram again by the
 * full path, which gives the errors and offsets. Lines that did not change
 * keep their place, key and order, so counts, raw lines, repeats and M-Bus
 * channels come out as before.
 *
 * Classes of a kept line:
 * - LC_VALUE: a known object decoded into fields of its own, which its decode
 *   overwrites whole and no other line writes or reads: every object but
 *   the ones below;
 * - LC_RAW: an unknown object, kept raw: its effect is its place alone;
 * - LC_OTHER: all else: empty and continuation lines, lines set aside, the
 *   equipment ids (0-0:96.1.0 reads what 96.1.1 wrote), a failure log of
 *   more entries than tg keeps and the demand history (tg->dropped), M-Bus
 *   objects other than a channel's one reading (24.2.1 and 24.2.3 of one
 *   channel both write its reading: then neither is LC_VALUE). */
#define HIST_LINES SC_P1_HIST_LINES

enum { LC_OTHER, LC_RAW, LC_VALUE };

/* A stream whose telegrams do not decode against the one before (a layout
 * that changes each time) would pay for the comparison and for keeping each
 * telegram and gain nothing: after a telegram that did not, the history is
 * left alone (neither compared nor kept) for the next 1, then 2, 4, 8, at
 * most 16 telegrams, until one decodes against it again. */
#define HIST_BACKOFF_MAX 16

/* The class of a line the full path decoded (see above). */
static int line_class(const struct line *ln, bool keep_raw)
{
	if (keep_raw)
		return ln->object == OBJ_UNKNOWN ? LC_RAW : LC_OTHER;
	switch (ln->object) {
	case OBJ_EQUIPMENT_ID: case OBJ_EQUIPMENT_ID_OTHER: case OBJ_DEMAND_HISTORY:
	case OBJ_UNKNOWN:
		return LC_OTHER;
	case OBJ_FAILURE_LOG:
		/* As many groups give as many entries (failure_log): with no more
		 * than it keeps, a decode writes the same fields, tg->dropped
		 * not. */
		return ln->ngroups <= 2 * SC_P1_MAX_FAILLOG + 2 ? LC_VALUE : LC_OTHER;
	case OBJ_MBUS: {
		uint32_t k = ln->key & 0xF0FFFFFFu; /* the channel's object */
		return k == OBIS(0, 0, 24, 2, 1) || k == OBIS(0, 0, 24, 2, 3) ? LC_VALUE : LC_OTHER;
	}
	default:
		return ln->ngroups <= 2 ? LC_VALUE : LC_OTHER;
	}
}

static void note_line(struct sc_p1_history *hist, unsigned nth, size_t start, size_t next,
		      const struct line *ln, int cls)
{
	if (nth >= HIST_LINES)
		return;
	struct sc_p1_hist_line *h = &hist->line[nth];
	h->off = (uint16_t)start;
	h->next = (uint16_t)next;
	h->cls = (uint8_t)cls;
	if (cls == LC_OTHER)
		return; /* never read again: ln may be the last object's (an empty line) */
	h->len = (uint16_t)ln->len;
	h->key = ln->key;
	h->ngroups = (uint8_t)ln->ngroups;
	h->g[0] = ln->g[0];
	if (ln->ngroups > 1)
		h->g[1] = ln->g[1];
}

/* After a full decode without error: keeps the telegram for the next. */
static void remember(struct sc_p1_history *hist, const char *raw, size_t len, size_t bang,
		     size_t body, unsigned nlines, unsigned flags, const struct sc_p1_telegram *tg)
{
	if (nlines > HIST_LINES || tg->set_aside != 0)
		return;
	/* One reading per M-Bus channel as LC_VALUE (see above). */
	int reading_line[SC_P1_MAX_MBUS] = {-1, -1, -1, -1};
	for (unsigned i = 0; i < nlines; i++) {
		struct sc_p1_hist_line *h = &hist->line[i];
		uint32_t k = h->key & 0xF0FFFFFFu;
		if (h->cls != LC_VALUE || (k != OBIS(0, 0, 24, 2, 1) && k != OBIS(0, 0, 24, 2, 3)))
			continue;
		unsigned ch = (h->key >> 24 & 0xF) - 1;
		if (reading_line[ch] >= 0) {
			hist->line[reading_line[ch]].cls = LC_OTHER;
			h->cls = LC_OTHER;
		} else {
			reading_line[ch] = (int)i;
		}
	}
	memcpy(hist->raw, raw, len);
	hist->tg = *tg;
	hist->len = len;
	hist->bang = bang;
	hist->body = body;
	hist->nlines = nlines;
	hist->flags = flags;
	hist->valid = true;
}

/* Bytes that differ between a and b, 32 at a time: for each chunk of
 * 32 bytes (of n / 32) that differs, its number and a bit per differing
 * byte; b takes a's bytes of those chunks. Returns how many differ. */
static size_t diff_chunks_plain(const char *a, char *b, size_t n, uint16_t *chunk,
				uint32_t *mask)
{
	size_t k = 0;
	for (size_t c = 0; c < n / 32; c++) {
		uint32_t m = 0;
		for (unsigned w = 0; w < 32; w += 8) {
			uint64_t x, y;
			memcpy(&x, a + c * 32 + w, 8);
			memcpy(&y, b + c * 32 + w, 8);
			if (x == y)
				continue;
			for (unsigned i = w; i < w + 8; i++)
				if (a[c * 32 + i] != b[c * 32 + i])
					m |= 1u << i;
		}
		if (m) {
			memcpy(b + c * 32, a + c * 32, 32);
			chunk[k] = (uint16_t)c;
			mask[k++] = m;
		}
	}
	return k;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HIST_AVX2 1
__attribute__((target("avx2"))) static size_t diff_chunks_avx2(const char *a, char *b, size_t n,
							     uint16_t *chunk, uint32_t *mask)
{
	size_t k = 0;
	for (size_t c = 0; c < n / 32; c++) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + c * 32));
		__m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + c * 32));
		uint32_t m = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y));
		if (m) {
			_mm256_storeu_si256((__m256i *)(void *)(b + c * 32), x);
			chunk[k] = (uint16_t)c;
			mask[k++] = m;
		}
	}
	return k;
}

#endif

/* The lines of raw (same length and '!' as the kept telegram) whose bytes
 * differ from the kept ones, as bits in dirty[]; the kept bytes take the new
 * ones. False when a byte of the identification differs. */
static bool changed_lines(struct sc_p1_history *hist, const char *raw, size_t bang,
			  uint64_t dirty[HIST_LINES / 64])
{
	uint16_t chunk[SC_P1_BUF_SIZE / 32 + 1];
	uint32_t mask[SC_P1_BUF_SIZE / 32 + 1];
	size_t n;
#if defined(HIST_AVX2)
	if (sc_cpu_avx2())
		n = diff_chunks_avx2(raw, hist->raw, bang, chunk, mask);
	else
#endif
		n = diff_chunks_plain(raw, hist->raw, bang, chunk, mask);
	/* The last bytes, fewer than 32. */
	size_t tail = bang / 32 * 32;
	uint32_t m = 0;
	for (size_t i = tail; i < bang; i++)
		m |= (uint32_t)(raw[i] != hist->raw[i]) << (i - tail);
	if (m) {
		memcpy(hist->raw + tail, raw + tail, bang - tail);
		chunk[n] = (uint16_t)(bang / 32);
		mask[n++] = m;
	}
	unsigned li = 0;
	for (size_t k = 0; k < n; k++) {
		size_t base = (size_t)chunk[k] * 32;
		m = mask[k];
		while (m) {
			size_t at = base + (size_t)__builtin_ctz(m);
			if (at < hist->body)
				return false;
			while (hist->line[li].next <= at)
				li++; /* the lines cover body..bang */
			dirty[li / 64] |= 1ull << (li % 64);
			size_t end = hist->line[li].next;
			m = end - base >= 32 ? 0 : m & (~0u << (end - base));
		}
	}
	return true;
}

/* The telegram decoded against the kept one (see above): SC_OK with tg
 * set, or false when the full path must decode it (the kept one is then
 * forgotten). */
static bool decode_again(struct sc_p1_history *hist, const char *raw, size_t len, size_t bang,
			 unsigned flags, struct sc_p1_telegram *tg)
{
	uint64_t dirty[HIST_LINES / 64] = {0};
	hist->valid = false; /* until it holds this telegram */
	if (!changed_lines(hist, raw, bang, dirty))
		return false;
	size_t dummy;
	char detail[1];
	struct ctx c; /* seen[] is not used: the keys are the kept ones */
	c.raw = raw;
	c.end = raw + len;
	c.fast = true;
	c.tg = &hist->tg;
	c.err_off = &dummy;
	c.detail = detail;
	c.detail_len = 0;
	c.flags = flags;
	c.nseen = 0;
	struct line ln;
	ln.raw = raw;
	/* First what needs no decoding: each changed line of a class read
	 * again, still ending where it ended. */
	for (unsigned w = 0; w < HIST_LINES / 64; w++) {
		for (uint64_t bits = dirty[w]; bits; bits &= bits - 1) {
			unsigned li = w * 64 + (unsigned)__builtin_ctzll(bits);
			const struct sc_p1_hist_line *h = &hist->line[li];
			if (h->cls == LC_OTHER || (h->next != bang && raw[h->next - 1] != '\n'))
				return false;
		}
	}
	for (unsigned w = 0; w < HIST_LINES / 64; w++) {
		for (uint64_t bits = dirty[w]; bits; bits &= bits - 1) {
			unsigned li = w * 64 + (unsigned)__builtin_ctzll(bits);
			const struct sc_p1_hist_line *h = &hist->line[li];
			size_t next;
			ln.nth = li;
			if (!fast_line(&ln, h->off, bang, li, &next) || next != h->next ||
			    ln.len != h->len || ln.key != h->key)
				return false;
			if (h->cls == LC_RAW)
				continue; /* the same place, the same raw line */
			if (ln.ngroups != h->ngroups || ln.g[0].off != h->g[0].off ||
			    ln.g[0].len != h->g[0].len ||
			    (ln.ngroups > 1 && (ln.g[1].off != h->g[1].off || ln.g[1].len != h->g[1].len)))
				return false;
			bool keep_raw;
			if (decode_object(&c, &ln, &keep_raw) != SC_OK || keep_raw)
				return false;
		}
	}
	*tg = hist->tg;
	hist->valid = true;
	return true;
}

static int decode_telegram(const char *raw, size_t len, unsigned flags,
			   struct sc_p1_history *hist, struct sc_p1_telegram *tg, size_t *err_off,
			   char *detail, size_t detail_len)
{
	/* A telegram of the kept one's length, flags and '!': against it. */
	bool use_hist = hist && !(flags & SC_P1_REFERENCE);
	if (use_hist && hist->skip > 0) {
		hist->skip--;
		use_hist = false;
	} else if (use_hist && hist->valid) {
		size_t b = len;
		while (b > 0 && raw[b - 1] != '!')
			b--;
		if (hist->len == len && hist->flags == flags && b == hist->bang + 1 &&
		    decode_again(hist, raw, len, hist->bang, flags, tg)) {
			hist->backoff = 0;
			return SC_OK;
		}
		hist->backoff = hist->backoff == 0 ? 1 : hist->backoff * 2;
		if (hist->backoff > HIST_BACKOFF_MAX)
			hist->backoff = HIST_BACKOFF_MAX;
		hist->skip = hist->backoff;
	}

	struct ctx c; /* seen[] is read only as far as nseen */
	c.raw = raw;
	/* The general path alone (SC_P1_REFERENCE): what the fast paths are
	 * tested against. */
	c.fast = !(flags & SC_P1_REFERENCE);
	c.tg = tg;
	c.err_off = err_off;
	c.detail = detail;
	c.detail_len = detail_len;
	c.flags = flags;
	c.end = raw + len;
	memset(c.seen_bits, 0, sizeof c.seen_bits);
	c.nseen = 0;
	struct line ln;
	size_t dummy;

	if (!err_off)
		c.err_off = &dummy;
	init_telegram(tg);
	if (len < 2 || raw[0] != '/' || len > SC_P1_BUF_SIZE)
		return fail(&c, 0, SC_ERR_SYNTAX, "telegram does not start with '/'");

	/* The '!' ends the data; what follows is the CRC (0-4 hex digits). */
	size_t bang = len;
	while (bang > 0 && raw[bang - 1] != '!')
		bang--;
	if (bang == 0)
		return fail(&c, len, SC_ERR_SYNTAX, "telegram has no '!'");
	bang--;
	tg->has_crc = bang + 1 < len;

	const char *nl = memchr(raw, '\n', bang);
	size_t hdr_end = nl ? (size_t)(nl - raw) : bang;
	size_t hl = hdr_end;
	if (hl > 1 && raw[hl - 1] == '\r')
		hl--;
	if (hl < 4)
		return fail(&c, 0, SC_ERR_SYNTAX, "identification line too short");
	for (size_t i = 1; i < hl; i++)
		if ((unsigned char)raw[i] < 0x20 || (unsigned char)raw[i] > 0x7e)
			return fail(&c, i, SC_ERR_SYNTAX,
				    "byte 0x%02X in the identification line",
				    (unsigned char)raw[i]);
	tg->header.off = 1;
	tg->header.len = (uint16_t)(hl - 1);
	memcpy(tg->maker, raw + 1, 3);
	tg->maker[3] = '\0';

	size_t body = nl ? hdr_end + 1 : bang;
	ln.raw = raw;
	size_t pos = body;
	unsigned nth = 0;
	if (use_hist)
		hist->valid = false; /* its lines are noted anew below */
	for (; pos < bang; nth++) {
		size_t start = pos;
		ln.nth = nth;
		if (!(c.fast && fast_line(&ln, pos, bang, nth, &pos))) {
			int rc = general_line(&c, &ln, &pos, bang);
			if (rc == LINE_DONE) {
				if (use_hist)
					note_line(hist, nth, start, pos, &ln, LC_OTHER);
				continue;
			}
			if (rc != SC_OK)
				return rc;
		}
		bool keep_raw;
		int rc = object(&c, &ln, &keep_raw);
		if (rc != SC_OK)
			return rc;
		if (keep_raw)
			keep_unknown(tg, ln.off, ln.len);
		else if (repeated(&c, ln.key))
			return fail(&c, ln.off, SC_ERR_SYNTAX, "object %.*s repeated", obis_len(&ln),
				    raw + ln.off);
		tg->objects++;
		if (use_hist)
			note_line(hist, nth, start, pos, &ln, line_class(&ln, keep_raw));
	}
	if (use_hist)
		remember(hist, raw, len, bang, body, nth, flags, tg);
	return SC_OK;
}

/* The version a telegram declares, found without decoding it: for a
 * telegram whose decoding failed, to tell an old meter from a bad one. */
static bool declared_version(const char *raw, size_t len, int *version, bool *emucs,
			     bool *crc)
{
	static const char dsmr[] = "1-3:0.2.8(", mucs[] = "0-0:96.1.4(";
	size_t bang = len;
	while (bang > 0 && raw[bang - 1] != '!')
		bang--;
	if (bang == 0)
		return false; /* not a telegram at all */
	*crc = bang < len;
	*version = 0;
	*emucs = false;
	for (const char *p = raw, *end = raw + bang;
	     (p = memchr(p, '\n', (size_t)(end - p))) != NULL;) {
		p++;
		size_t left = (size_t)(end - p);
		if (left > sizeof mucs - 1 && memcmp(p, mucs, sizeof mucs - 1) == 0)
			*emucs = true;
		if (*version == 0 && left > sizeof dsmr - 1 &&
		    memcmp(p, dsmr, sizeof dsmr - 1) == 0) {
			int v = 0;
			size_t i = sizeof dsmr - 1;
			for (; i < left && i < sizeof dsmr + 2 && p[i] >= '0' && p[i] <= '9'; i++)
				v = v * 10 + (p[i] - '0');
			if (i == sizeof dsmr - 1 || i >= left || p[i] != ')') {
				*version = -1; /* named but unreadable: not an old meter */
				continue;
			}
			while (v >= 100)
				v /= 10;
			*version = v;
		}
	}
	return true;
}

/* The device reads DSMR 4.2 and later (manual §1, §7: "DSMR < 4.2" is an
 * incompatible meter). The version is recognised from the telegram's
 * shape: DSMR 4.0 and later send a CRC (P1-DSMR.md), and every DSMR 4.x/5
 * meter names its version in 1-3:0.2.8, e-MUCS in 0-0:96.1.4 instead. So:
 * - a version below 42 (4.0 sends 40, 3.0 sends nothing) is unsupported;
 * - neither version object nor CRC is DSMR 2.2/3.0: unsupported;
 * - a CRC without a version object is read (DSMR 5 as other countries
 *   send it: Sweden, Ireland, Austria; not an old Dutch meter, which has no
 *   CRC).
 * This holds also when the content of an old telegram breaks a rule of
 * the current tables (a limiter in A, gas on two lines): the version is
 * what the device rejects it for. */
int sc_p1_decode_hist(const char *raw, size_t len, unsigned flags,
		      struct sc_p1_history *history, struct sc_p1_telegram *tg, size_t *err_off,
		      char *detail, size_t detail_len)
{
	int rc = decode_telegram(raw, len, flags, history, tg, err_off, detail, detail_len);
	if ((flags & SC_P1_ANY_VERSION) || (rc != SC_OK && rc != SC_ERR_SYNTAX))
		return rc;
	int version;
	bool emucs, crc;
	if (rc == SC_OK) {
		version = tg->version;
		emucs = tg->emucs_version != 0;
		crc = tg->has_crc;
	} else {
		if (len < 2 || raw[0] != '/' || !declared_version(raw, len, &version, &emucs, &crc) ||
		    version < 0)
			return rc;
	}
	if (version == 0 && !emucs && !crc) {
		if (err_off)
			*err_off = 0;
		if (detail_len > 0)
			snprintf(detail, detail_len,
				 "DSMR 2.2/3.0 telegram (no version, no CRC): the device needs "
				 "DSMR 4.2 or later");
		return SC_ERR_UNSUPPORTED;
	}
	if (version != 0 && version < 42) {
		if (err_off)
			*err_off = 0;
		if (detail_len > 0)
			snprintf(detail, detail_len,
				 "P1 version %d.%d: the device needs DSMR 4.2 or later",
				 version / 10, version % 10);
		return SC_ERR_UNSUPPORTED;
	}
	return rc;
}

int sc_p1_decode(const char *raw, size_t len, unsigned flags, struct sc_p1_telegram *tg,
		 size_t *err_off, char *detail, size_t detail_len)
{
	return sc_p1_decode_hist(raw, len, flags, NULL, tg, err_off, detail, detail_len);
}
