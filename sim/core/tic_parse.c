/* TIC standard-mode framer and group checker (Enedis-NOI-CPT_54E V3 §6).
 *
 * A frame is STX, groups, ETX; EOT interrupts a frame (its partial content is
 * discarded, as peers do and meters in the field show). A group is
 *   LF label HT [horodate HT] data HT checksum CR
 * and is checked for: bytes with bit 7 set (a parity problem of the 7E1
 * line), its shape, its checksum, and the label's fixed data length. A frame
 * with any bad group is rejected whole (the device counts it as failed), and
 * every bad group is reported with its label and offset. Historic-mode frames
 * and DSMR telegrams are recognised and reported as unsupported rather than as
 * streams of checksum errors. */
#include "tic.h"

#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "cursor.h"
#include "sc_error.h"

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
};

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
	memset(p, 0, offsetof(struct sc_tic_parser, buf));
	p->pos = pos;
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

/* ---- one frame ---- */

struct frame_ctx {
	const char *buf;
	uint64_t base; /* stream offset of buf[0] */
	struct sc_tic_result *res;
	struct sc_tic_frame *f;
};

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
}

static bool label_is(const struct frame_ctx *c, struct sc_tic_span s, const char *name)
{
	size_t n = strlen(name);
	return s.len == n && memcmp(c->buf + s.off, name, n) == 0;
}

static int num(const struct frame_ctx *c, struct sc_tic_span s, struct sc_tic_num *out)
{
	uint64_t v;
	if (sc_parse_uint(c->buf + s.off, s.len, UINT32_MAX, &v) != SC_OK)
		return SC_ERR_SYNTAX;
	out->v = (uint32_t)v;
	out->set = true;
	return SC_OK;
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
	for (int i = 0; i < 6; i++)
		if (sc_parse_uint(s + 1 + 2 * i, 2, 99, &f[i]) != SC_OK)
			return SC_ERR_SYNTAX;
	cv.year = 2000 + (int)f[0];
	cv.month = (int)f[1];
	cv.day = (int)f[2];
	cv.hour = (int)f[3];
	cv.minute = (int)f[4];
	cv.second = (int)f[5];
	if (season == ' ') /* DPM/FPM: a time without a season, not a point in time */
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
		if (label_is(c, l, "DATE"))
			f->date = t;
	}
	switch (name[0]) {
	case 'A':
		if (label_is(c, l, "ADSC"))
			f->adsc = d;
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
			f->ltarf = d;
		return SC_OK;
	case 'M':
		if (label_is(c, l, "MSG1"))
			f->msg1 = d;
		else if (label_is(c, l, "MSG2"))
			f->msg2 = d;
		return SC_OK;
	case 'N':
		if (label_is(c, l, "NGTF"))
			f->ngtf = d;
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
			f->prm = d;
		else if (label_is(c, l, "PJOURF+1"))
			f->pjourf1 = d;
		else if (label_is(c, l, "PPOINTE"))
			f->ppointe = d;
		return SC_OK;
	case 'R':
		if (label_is(c, l, "RELAIS"))
			return num(c, d, &f->relais);
		return SC_OK;
	case 'S':
		if (label_is(c, l, "SINST1") || label_is(c, l, "SMAXN"))
			f->pilot = true;
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
			f->vtic = d;
		return SC_OK;
	}
	return SC_OK;
}

/* Checks one group whose content (between LF and CR) is buf[s..e). */
static void check_group(struct frame_ctx *c, size_t lf, size_t s, size_t e)
{
	const char *b = c->buf;
	size_t len = e - s;

	/* The label as far as it goes, for the report. */
	size_t lab_end = s;
	while (lab_end < e && b[lab_end] != HT && lab_end - s < SC_TIC_MAX_LABEL)
		lab_end++;

	/* One pass: bit 7, control bytes, the checksum sum, the separators. */
	unsigned high = 0, ctrl = 0, sum = 0;
	size_t ht[4];
	int nht = 0;
	for (size_t i = s; i < e; i++) {
		unsigned ch = (unsigned char)b[i];
		high |= ch & 0x80u;
		if (ch == HT) {
			if (nht < 4)
				ht[nht] = i;
			nht++;
		} else {
			ctrl |= ch < 0x20;
		}
		sum += ch;
	}
	if (high) {
		group_error(c, SC_TIC_GE_BIT7, lf, b + s, lab_end - s);
		return;
	}
	/* label HT data HT checksum at the least: the checksum is the last
	 * byte and may be a space, so nothing is ever trimmed. */
	if (ctrl || len < 4 || b[e - 2] != HT) {
		group_error(c, SC_TIC_GE_SYNTAX, lf, b + s, lab_end - s);
		return;
	}
	sum -= (unsigned char)b[e - 1];
	if ((char)((sum & 0x3Fu) + 0x20u) != b[e - 1]) {
		group_error(c, SC_TIC_GE_CHECKSUM, lf, b + s, lab_end - s);
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
		group_error(c, SC_TIC_GE_SYNTAX, lf, b + s, lab_end - s);
		return;
	}
	struct sc_tic_group g;
	g.label.off = (uint16_t)fs[0];
	g.label.len = (uint16_t)(fe[0] - fs[0]);
	g.horodate.off = (uint16_t)(nf == 3 ? fs[1] : 0);
	g.horodate.len = (uint16_t)(nf == 3 ? fe[1] - fs[1] : 0);
	g.data.off = (uint16_t)fs[nf - 1];
	g.data.len = (uint16_t)(fe[nf - 1] - fs[nf - 1]);
	for (size_t i = fs[0]; i < fe[0]; i++) {
		unsigned char ch = (unsigned char)b[i];
		if (ch <= 0x20 || ch >= 0x7f) {
			group_error(c, SC_TIC_GE_SYNTAX, lf, b + s, lab_end - s);
			return;
		}
	}
	bool want_h = false;
	int want_len = sc_tic_label_length(b + fs[0], fe[0] - fs[0], &want_h);
	if (want_len >= 0) {
		if ((nf == 3) != want_h) {
			group_error(c, SC_TIC_GE_SYNTAX, lf, b + s, lab_end - s);
			return;
		}
		if (g.data.len != want_len) {
			group_error(c, SC_TIC_GE_LENGTH, lf, b + s, lab_end - s);
			return;
		}
	}
	struct sc_tic_frame *f = c->f;
	if (f->ngroups >= SC_TIC_MAX_GROUPS) {
		group_error(c, SC_TIC_GE_SYNTAX, lf, b + s, lab_end - s);
		return;
	}
	if (decode_group(c, &g) != SC_OK) {
		group_error(c, SC_TIC_GE_SYNTAX, lf, b + s, lab_end - s);
		return;
	}
	f->g[f->ngroups++] = g;
}

/* A frame without a single HT whose groups read as "label SP data SP
 * checksum" with the historic checksum is a historic-mode frame. */
static bool looks_historic(const char *b, size_t len)
{
	if (memchr(b, HT, len))
		return false;
	const char *lf = memchr(b, '\n', len);
	if (!lf)
		return false;
	size_t s = (size_t)(lf - b) + 1;
	const char *cr = memchr(b + s, '\r', len - s);
	if (!cr)
		return false;
	size_t e = (size_t)(cr - b);
	if (e - s < 5 || b[e - 2] != ' ')
		return false;
	/* Historic checksum: label SP data, without the SP before it. */
	return sc_tic_checksum(b + s, e - s - 2) == b[e - 1] && memchr(b + s, ' ', e - s - 2);
}

static void three_phase_from_labels(struct sc_tic_frame *f, const char *b)
{
	bool tri = false;
	if (f->adsc.len == 12) {
		/* ADSC characters 5-6: meter type (63, 71, 76 three-phase). */
		const char *t = b + f->adsc.off + 4;
		tri = (t[0] == '6' && t[1] == '3') || (t[0] == '7' && (t[1] == '1' || t[1] == '6'));
	}
	for (int i = 1; i < SC_PHASES; i++)
		tri = tri || f->irms[i].set || f->urms[i].set;
	for (int i = 0; i < SC_PHASES; i++)
		tri = tri || f->sinsts_ph[i].set;
	f->three_phase = tri;
}

static void process_frame(struct sc_tic_parser *p, uint64_t end, struct sc_tic_result *res)
{
	const char *b = p->buf;
	size_t len = p->len; /* STX .. ETX inclusive */

	event(res, SC_TIC_FRAME, p->start, end - p->start);
	res->raw = b;
	res->raw_len = len;
	if (looks_historic(b, len)) {
		res->event = SC_TIC_UNSUPPORTED;
		snprintf(res->detail, sizeof res->detail,
			 "unsupported mode: historic (SP separators, 1200 baud); the device "
			 "reads standard mode only");
		return;
	}
	memset(&res->frame, 0, sizeof res->frame);
	struct frame_ctx c = {b, p->start, res, &res->frame};
	size_t i = 1;
	while (i < len - 1) {
		unsigned char ch = (unsigned char)b[i];
		if (ch == '\r') { /* some logs keep a CR between groups */
			i++;
			continue;
		}
		if (ch == '\n' && i + 1 == len - 1)
			break; /* LF right before ETX: nothing follows (logs keep it) */
		if (ch != '\n') {
			/* Bytes between groups: report once, go to the next LF. */
			const char *lf = memchr(b + i, '\n', len - 1 - i);
			size_t next = lf ? (size_t)(lf - b) : len - 1;
			group_error(&c, SC_TIC_GE_SYNTAX, i, b + i, 0);
			i = next;
			continue;
		}
		/* A group: LF .. CR, and no LF inside it. */
		size_t s = i + 1, k = s;
		while (k < len - 1 && b[k] != '\r' && b[k] != '\n')
			k++;
		if (k >= len - 1 || b[k] == '\n') {
			group_error(&c, SC_TIC_GE_SYNTAX, i, b + s,
				    k - s > SC_TIC_MAX_LABEL ? SC_TIC_MAX_LABEL : k - s);
			i = k;
			continue;
		}
		check_group(&c, i, s, k);
		i = k + 1;
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
	three_phase_from_labels(&res->frame, b);
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
		case ST_FRAME: {
			if (p->stx_inside && ch == '\n') {
				/* STX LF: a new frame began, the current one was
				 * cut short. It starts at the STX kept in buf. */
				uint64_t stx_at = p->start + p->len - 1;
				event(res, SC_TIC_FRAMING, p->start, stx_at - p->start);
				res->raw = p->buf;
				res->raw_len = p->len - 1;
				res->error_offset = stx_at;
				snprintf(res->detail, sizeof res->detail,
					 "frame cut short: a new frame began before its ETX");
				start_frame(p, stx_at);
				goto out;
			}
			/* Copy up to the next STX, ETX or EOT in one go. */
			size_t k = i;
			while (k < len && (unsigned char)(d[k] - STX) > EOT - STX)
				k++;
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
