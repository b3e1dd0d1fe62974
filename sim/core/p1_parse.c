/* P1 framer: finds telegrams in a byte stream, checks their CRC and hands
 * them to the decoder (p1_decode.c).
 *
 * DSMR 5.0.2 §6.2: a telegram is '/' identification CR LF ... '!' CRC CR LF.
 * The framer resynchronises on '/': bytes outside a telegram are garbage, a
 * '/' before the '!' means the previous telegram was cut short. After '!' it
 * reads up to four hex digits; fewer (unpadded CRCs seen in the field) end at
 * CR, LF, '/' or the end of input.
 *
 * Every decision depends on the bytes alone, never on where the input was
 * cut into chunks: each state consumes bytes in order and looks no further
 * ahead than the byte it decides on. */
#include "p1.h"

#include <stdio.h>
#include <string.h>

#include "crc16.h"
#include "cursor.h"
#include "sc_error.h"
#include "tic.h"

/* Room kept after the '!' for the CRC digits. */
#define BODY_CAP (SC_P1_BUF_SIZE - 4)

enum {
	ST_HUNT = 0, /* looking for '/' */
	ST_BODY,     /* inside a telegram, looking for '!' */
	ST_CRC,      /* after '!', reading CRC digits */
	ST_SKIP,     /* discarding the rest of a rejected telegram up to '/' */
	ST_STX,      /* saw STX between telegrams: maybe a TIC frame */
	ST_TIC_LABEL, /* saw STX LF: a TIC frame if a group's label follows */
	ST_TIC,      /* inside a TIC frame: skip it (see ST_TIC) */
};

/* A TIC frame is at most this long, STX through ETX (tic.h); a skip of one
 * that lost its ETX ends here. */
#define TIC_FRAME_MAX SC_TIC_BUF_SIZE
/* Length of "/XXX5", the start of a DSMR identification line. */
#define DSMR_HDR_LEN 5

#define STX 0x02
#define ETX 0x03

const char *sc_p1_event_name(enum sc_p1_event ev)
{
	switch (ev) {
	case SC_P1_NEED_MORE: return "need-more";
	case SC_P1_TELEGRAM: return "telegram";
	case SC_P1_CRC_MISMATCH: return "crc";
	case SC_P1_FRAMING: return "framing";
	case SC_P1_OVERFLOW: return "overflow";
	case SC_P1_UNSUPPORTED: return "unsupported";
	case SC_P1_SYNTAX: return "syntax";
	case SC_P1_GARBAGE: return "garbage";
	}
	return "unknown";
}

void sc_p1_reset(struct sc_p1_parser *p)
{
	unsigned flags = p->flags;
	uint64_t pos = p->pos;
	p->state = ST_HUNT;
	p->start = 0;
	p->garbage = 0;
	p->len = 0;
	p->crc_digits = 0;
	p->crc_sent = 0;
	p->tic_label = 0;
	p->flags = flags;
	p->pos = pos;
}

static bool is_space(unsigned char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

static void note_garbage(struct sc_p1_parser *p, uint64_t at)
{
	if (p->garbage == 0)
		p->start = at;
	p->garbage = at + 1 - p->start;
}

static void event(struct sc_p1_result *res, enum sc_p1_event ev, uint64_t offset,
		  uint64_t length)
{
	res->event = ev;
	res->offset = offset;
	res->length = length;
	res->error_offset = offset;
	res->raw = NULL;
	res->raw_len = 0;
	res->crc_present = false;
	res->crc_sent = 0;
	res->crc_calc = 0;
	res->detail[0] = '\0';
}

/* Reports pending garbage; false when there is none. */
static bool flush_garbage(struct sc_p1_parser *p, struct sc_p1_result *res)
{
	if (p->garbage == 0)
		return false;
	event(res, SC_P1_GARBAGE, p->start, p->garbage);
	snprintf(res->detail, sizeof res->detail, "%llu bytes outside any telegram skipped",
		 (unsigned long long)p->garbage);
	p->garbage = 0;
	return true;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static bool is_letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Byte k (1..4) of "/XXX5": DSMR 5.0.2 §6.2, the maker's three letters (any
 * case: "ISk") and the baud rate digit. */
static bool fits_dsmr_header(size_t k, unsigned char c)
{
	return k < 4 ? is_letter(c) : c >= '0' && c <= '9';
}

/* Enedis-NOI-CPT_54E: a group starts with its label, upper-case letters and
 * digits (the first group of a frame is ADSC or ADCO), then HT (standard
 * mode) or SP (historic mode). */
static bool is_tic_label_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The STX (and the label after STX LF) were no TIC frame but garbage; at
 * is the stream offset of the byte after the label. */
static void stx_was_noise(struct sc_p1_parser *p, uint64_t at)
{
	note_garbage(p, p->stx_at);
	if (p->tic_label > 0)
		note_garbage(p, at - 1);
	p->tic_label = 0;
	p->state = ST_HUNT;
}

/* A whole telegram sits in p->buf: check the CRC, decode, and report. */
static void complete(struct sc_p1_parser *p, uint64_t end, struct sc_p1_result *res)
{
	size_t body = p->len - (size_t)p->crc_digits; /* '/' .. '!' inclusive */

	event(res, SC_P1_TELEGRAM, p->start, end - p->start);
	res->raw = p->buf;
	res->raw_len = p->len;
	res->crc_present = p->crc_digits > 0;
	res->crc_sent = p->crc_sent;

	if (p->crc_digits > 0) {
		res->crc_calc = sc_crc16(p->buf, body);
		if (res->crc_calc != p->crc_sent) {
			res->event = SC_P1_CRC_MISMATCH;
			res->error_offset = p->start + body;
			snprintf(res->detail, sizeof res->detail,
				 "CRC %04X in telegram, %04X computed over %zu bytes",
				 p->crc_sent, res->crc_calc, body);
			goto done;
		}
	}

	size_t err_off = 0;
	int rc = sc_p1_decode_hist(p->buf, p->len, p->flags, p->history, &res->tg, &err_off,
				   res->detail, sizeof res->detail);
	if (rc == SC_ERR_UNSUPPORTED) {
		res->event = SC_P1_UNSUPPORTED;
	} else if (rc != SC_OK) {
		res->event = SC_P1_SYNTAX;
		res->error_offset = p->start + err_off;
	} else if (p->crc_digits == 0 && !(p->flags & SC_P1_NO_CRC) &&
		   (res->tg.version >= 40 || res->tg.emucs_version > 0 ||
		    !(p->flags & SC_P1_ANY_VERSION))) {
		/* DSMR 4.0 and later always carry a CRC; only a meter declared
		 * to have none (or an old one when old ones are accepted) may
		 * omit it. */
		res->event = SC_P1_FRAMING;
		res->error_offset = p->start + body;
		snprintf(res->detail, sizeof res->detail,
			 "no CRC after '!' (a meter without CRC needs the no-CRC option)");
	}
done:
	p->state = ST_HUNT;
	p->len = 0;
	p->crc_digits = 0;
	p->crc_sent = 0;
}

size_t sc_p1_feed(struct sc_p1_parser *p, const void *data, size_t len, struct sc_p1_result *res)
{
	const unsigned char *d = data;
	size_t i = 0;

	res->event = SC_P1_NEED_MORE;
	while (i < len) {
		switch (p->state) {
		case ST_HUNT: {
			const unsigned char *slash = memchr(d + i, '/', len - i);
			size_t end = slash ? (size_t)(slash - d) : len;
			/* STX before the next '/': maybe a TIC frame (see ST_STX). */
			const unsigned char *stx = memchr(d + i, STX, end - i);
			if (stx)
				end = (size_t)(stx - d);
			for (size_t k = i; k < end; k++)
				if (!is_space(d[k]))
					note_garbage(p, p->pos + k);
			if (stx) {
				p->stx_at = p->pos + end;
				p->state = ST_STX;
				i = end + 1;
				break;
			}
			if (!slash) {
				i = len;
				break;
			}
			if (flush_garbage(p, res)) {
				i = end;
				goto out;
			}
			p->start = p->pos + end;
			p->buf[0] = '/';
			p->len = 1;
			p->state = ST_BODY;
			i = end + 1;
			break;
		}
		case ST_STX:
			/* STX LF may start a TIC frame (Enedis-NOI-CPT_54E): the
			 * wrong meter type on this input. Any other STX is noise. */
			if (d[i] == '\r' && p->pos + i == p->stx_at + 1) {
				i++; /* STX CR LF, as some logs of TIC lines keep it */
				break;
			}
			if (d[i] != '\n') {
				note_garbage(p, p->stx_at);
				p->state = ST_HUNT;
				break;
			}
			p->state = ST_TIC_LABEL;
			p->tic_label = 0;
			i++;
			break;
		case ST_TIC_LABEL: {
			/* STX LF alone is two bytes of line noise as often as a
			 * frame start: only STX LF and what looks like a TIC group's
			 * label (2..SC_TIC_MAX_LABEL characters, as the protocol
			 * detector of telegram.c asks) make a TIC frame. */
			unsigned char c = d[i];
			if (is_tic_label_char(c) && p->tic_label < SC_TIC_MAX_LABEL) {
				p->tic_label++;
				i++;
				break;
			}
			if ((c != '\t' && c != ' ') || p->tic_label < 2) {
				/* c is looked at again in ST_HUNT: it may be a '/'. */
				stx_was_noise(p, p->pos + i);
				break;
			}
			if (flush_garbage(p, res))
				goto out; /* the separator is looked at again on the next call */
			event(res, SC_P1_UNSUPPORTED, p->stx_at, p->pos + i + 1 - p->stx_at);
			snprintf(res->detail, sizeof res->detail, "a TIC frame on a P1 input");
			p->state = ST_TIC;
			p->tic_label = 0;
			p->len = 0;
			i++;
			goto out;
		}
		case ST_TIC: {
			/* Skip the TIC frame to its ETX. Its text may hold a '/', so
			 * a '/' ends the skip only as the start of a DSMR header
			 * ("/XXX5", kept in buf while it is checked): a P1 telegram
			 * after a TIC frame that lost its ETX is not lost. Nor is the
			 * skip longer than the largest TIC frame. */
			uint64_t at = p->pos + i;
			uint64_t end = p->stx_at + TIC_FRAME_MAX;
			if (at >= end) {
				/* The header begun, if any, goes on as a telegram, as
				 * its '/' would have in ST_HUNT. */
				p->state = p->len > 0 ? ST_BODY : ST_HUNT;
				break;
			}
			if (p->len > 0) {
				unsigned char c = d[i];
				if (!fits_dsmr_header(p->len, c)) {
					p->len = 0; /* c is looked at again: maybe '/' or ETX */
					break;
				}
				p->buf[p->len++] = (char)c;
				i++;
				if (p->len == DSMR_HDR_LEN)
					p->state = ST_BODY;
				break;
			}
			size_t n = len - i;
			if (end - at < n)
				n = (size_t)(end - at);
			const unsigned char *etx = memchr(d + i, ETX, n);
			if (etx)
				n = (size_t)(etx - (d + i)) + 1;
			const unsigned char *slash = memchr(d + i, '/', n);
			if (slash) {
				p->start = p->pos + (size_t)(slash - d);
				p->buf[0] = '/';
				p->len = 1;
				i = (size_t)(slash - d) + 1;
				break;
			}
			i += n;
			if (etx)
				p->state = ST_HUNT;
			break;
		}
		case ST_BODY: {
			/* Bytes are taken in order, and only as far as the buffer
			 * has room, so the result is the same however the input is
			 * chunked: a '/' before the '!' cuts the telegram short
			 * (it needs no room: it is not stored), a '!' or any other
			 * byte that does not fit is an overflow. */
			size_t room = BODY_CAP - p->len;
			size_t n = len - i;
			if (n > room + 1)
				n = room + 1; /* the fitting bytes and the first that does not */
			const unsigned char *bang = memchr(d + i, '!', n);
			if (bang)
				n = (size_t)(bang - (d + i)) + 1;
			const unsigned char *slash = memchr(d + i, '/', n);
			if (slash) {
				size_t cut = (size_t)(slash - d);
				memcpy(p->buf + p->len, d + i, cut - i);
				p->len += cut - i;
				event(res, SC_P1_FRAMING, p->start, p->pos + cut - p->start);
				res->raw = p->buf;
				res->raw_len = p->len;
				res->error_offset = p->pos + cut;
				snprintf(res->detail, sizeof res->detail,
					 "telegram cut short: a new '/' came before its '!'");
				p->state = ST_HUNT;
				p->len = 0;
				i = cut;
				goto out;
			}
			if (n > room) {
				/* Reported at the first byte that does not fit; the
				 * rest of the telegram is skipped up to the next '/'. */
				i += room + 1;
				event(res, SC_P1_OVERFLOW, p->start, p->pos + i - p->start);
				res->error_offset = p->start + BODY_CAP;
				snprintf(res->detail, sizeof res->detail,
					 "telegram longer than %d bytes", BODY_CAP);
				p->state = ST_SKIP;
				p->len = 0;
				goto out;
			}
			memcpy(p->buf + p->len, d + i, n);
			p->len += n;
			i += n;
			if (bang) {
				p->state = ST_CRC;
				p->crc_digits = 0;
				p->crc_sent = 0;
			}
			break;
		}
		case ST_CRC: {
			unsigned char c = d[i];
			if (is_hex(c)) {
				uint16_t v;
				sc_parse_hex16((const char *)&c, 1, &v);
				p->crc_sent = (uint16_t)(p->crc_sent << 4 | v);
				p->buf[p->len++] = (char)c;
				p->crc_digits++;
				i++;
				if (p->crc_digits == 4) {
					complete(p, p->pos + i, res);
					goto out;
				}
				break;
			}
			if (c == '\r' || c == '\n' || c == '/') {
				complete(p, p->pos + i, res);
				goto out;
			}
			event(res, SC_P1_FRAMING, p->start, p->pos + i + 1 - p->start);
			res->raw = p->buf;
			res->raw_len = p->len;
			res->error_offset = p->pos + i;
			snprintf(res->detail, sizeof res->detail,
				 "byte 0x%02X where a CRC digit or end of line was expected", c);
			p->state = ST_SKIP;
			p->len = 0;
			i++;
			goto out;
		}
		default: { /* ST_SKIP */
			const unsigned char *slash = memchr(d + i, '/', len - i);
			if (!slash) {
				i = len;
				break;
			}
			i = (size_t)(slash - d);
			p->state = ST_HUNT;
			break;
		}
		}
	}
out:
	p->pos += i;
	return i;
}

enum sc_p1_event sc_p1_finish(struct sc_p1_parser *p, struct sc_p1_result *res)
{
	res->event = SC_P1_NEED_MORE;
	switch (p->state) {
	case ST_BODY:
		event(res, SC_P1_FRAMING, p->start, p->pos - p->start);
		res->raw = p->buf;
		res->raw_len = p->len;
		res->error_offset = p->pos;
		snprintf(res->detail, sizeof res->detail,
			 "telegram cut short: input ended before its '!'");
		break;
	case ST_CRC:
		/* The input may end right after an unpadded CRC or a bare '!'. */
		complete(p, p->pos, res);
		break;
	case ST_STX:
		note_garbage(p, p->stx_at);
		p->state = ST_HUNT;
		flush_garbage(p, res);
		return res->event; /* reset on the next call */
	case ST_TIC_LABEL:
		stx_was_noise(p, p->pos);
		flush_garbage(p, res);
		return res->event; /* reset on the next call */
	case ST_HUNT:
		flush_garbage(p, res);
		break;
	default:
		break;
	}
	sc_p1_reset(p);
	return res->event;
}
