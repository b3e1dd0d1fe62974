#include "telegram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

const char *sc_protocol_name(enum sc_protocol p)
{
	switch (p) {
	case SC_PROTO_AUTO: return "auto";
	case SC_PROTO_P1: return "p1";
	case SC_PROTO_TIC: return "tic";
	}
	return "?";
}

int sc_protocol_from_name(const char *name)
{
	for (int p = SC_PROTO_AUTO; p <= SC_PROTO_TIC; p++)
		if (strcmp(sc_protocol_name((enum sc_protocol)p), name) == 0)
			return p;
	return -1;
}

static bool letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A TIC group begins at d: a label of upper-case letters, digits, '+' or
 * '-' (TIC.md: at most 8 characters; three-phase meters send 9) ended by HT
 * (standard mode) or SP (historic mode). */
static bool tic_group_start(const unsigned char *d, size_t len)
{
	size_t n = 0;
	while (n < len && n < 10) {
		unsigned char c = d[n];
		if (c == '\t' || c == ' ')
			return n >= 2;
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-'))
			return false;
		n++;
	}
	return false;
}

enum sc_protocol sc_protocol_detect(const void *data, size_t len)
{
	const unsigned char *d = data;
	for (size_t i = 0; i + 1 < len; i++) {
		/* STX LF and a group's label; logs of TIC lines sometimes keep a
		 * CR: STX CR LF. STX LF alone is line noise as often as not. */
		if (d[i] == 0x02) {
			size_t g = d[i + 1] == '\n' ? i + 2
				   : (d[i + 1] == '\r' && i + 2 < len && d[i + 2] == '\n') ? i + 3
				   : 0;
			if (g && tic_group_start(d + g, len - g))
				return SC_PROTO_TIC;
		}
		/* DSMR identification: '/', the maker's three letters, the baud digit. */
		if (d[i] == '/' && i + 4 < len && letter(d[i + 1]) && letter(d[i + 2]) &&
		    letter(d[i + 3]) && d[i + 4] >= '0' && d[i + 4] <= '9')
			return SC_PROTO_P1;
	}
	return SC_PROTO_AUTO;
}

struct sc_tg_stream *sc_tg_stream_new(enum sc_protocol proto, unsigned p1_flags)
{
	struct sc_tg_stream *s = calloc(1, sizeof *s);
	if (s && proto == SC_PROTO_AUTO && !(s->held = malloc(SC_TG_DETECT_MAX))) {
		free(s);
		return NULL;
	}
	if (s) {
		s->proto = proto;
		s->p1_flags = p1_flags;
		s->u.p1.parser.flags = p1_flags;
	}
	return s;
}

void sc_tg_stream_free(struct sc_tg_stream *s)
{
	if (s)
		free(s->held);
	free(s);
}

static void from_p1(struct sc_tg_event *ev, const struct sc_p1_result *r)
{
	if (r->event == SC_P1_NEED_MORE) {
		ev->kind = SC_TG_NONE;
		return;
	}
	ev->name = sc_p1_event_name(r->event);
	ev->offset = r->offset;
	ev->length = r->length;
	ev->error_offset = r->error_offset;
	ev->raw = r->raw;
	ev->raw_len = r->raw_len;
	ev->bad_checksum = ev->bad_length = ev->bad_syntax = ev->bad_bit7 = 0;
	sc_str_copy(ev->detail, sizeof ev->detail, r->detail); /* no printf per telegram */
	switch (r->event) {
	case SC_P1_NEED_MORE:
		ev->kind = SC_TG_NONE;
		break;
	case SC_P1_TELEGRAM:
		ev->kind = SC_TG_OK;
		sc_p1_to_reading(&r->tg, r->raw, &ev->reading);
		break;
	case SC_P1_GARBAGE:
		ev->kind = SC_TG_GARBAGE;
		break;
	default:
		ev->kind = SC_TG_FAILED;
		break;
	}
}

static void from_tic(struct sc_tg_event *ev, const struct sc_tic_result *r)
{
	if (r->event == SC_TIC_NEED_MORE) {
		ev->kind = SC_TG_NONE;
		return;
	}
	ev->name = sc_tic_event_name(r->event);
	ev->offset = r->offset;
	ev->length = r->length;
	ev->error_offset = r->error_offset;
	ev->raw = r->raw;
	ev->raw_len = r->raw_len;
	ev->bad_checksum = r->nchecksum;
	ev->bad_length = r->nlength;
	ev->bad_syntax = r->nsyntax;
	ev->bad_bit7 = r->nbit7;
	sc_str_copy(ev->detail, sizeof ev->detail, r->detail); /* no printf per telegram */
	switch (r->event) {
	case SC_TIC_NEED_MORE:
		ev->kind = SC_TG_NONE;
		break;
	case SC_TIC_FRAME:
		ev->kind = SC_TG_OK;
		sc_tic_to_reading(&r->frame, r->raw, &ev->reading);
		break;
	case SC_TIC_GARBAGE:
		ev->kind = SC_TG_GARBAGE;
		break;
	case SC_TIC_BAD_GROUPS: {
		/* "N bad groups: LABEL kind at OFFSET, ..." */
		ev->kind = SC_TG_FAILED;
		size_t n = (size_t)snprintf(ev->detail, sizeof ev->detail, "%d bad group%s:",
					    r->nerrors, r->nerrors > 1 ? "s" : "");
		for (int k = 0; k < r->nerrors && k < SC_TIC_MAX_ERRORS && n < sizeof ev->detail; k++) {
			const struct sc_tic_error *e = &r->errors[k];
			n += (size_t)snprintf(ev->detail + n, sizeof ev->detail - n,
					      "%s %s %s at %llu", k ? "," : "",
					      e->label[0] ? e->label : "(no label)",
					      sc_tic_group_error_name(e->kind),
					      (unsigned long long)e->offset);
		}
		if (r->nerrors > SC_TIC_MAX_ERRORS && n < sizeof ev->detail)
			snprintf(ev->detail + n, sizeof ev->detail - n, ", ...");
		break;
	}
	default:
		ev->kind = SC_TG_FAILED;
		break;
	}
}

/* One step of the chosen parser over bytes; at most one event. */
static size_t step(struct sc_tg_stream *s, const void *data, size_t len, struct sc_tg_event *ev)
{
	size_t used;
	if (s->proto == SC_PROTO_TIC) {
		s->u.tic.parser.history = s->tic_history;
		used = sc_tic_feed(&s->u.tic.parser, data, len, &s->u.tic.res);
		from_tic(ev, &s->u.tic.res);
	} else {
		s->u.p1.parser.history = s->p1_history;
		used = sc_p1_feed(&s->u.p1.parser, data, len, &s->u.p1.res);
		from_p1(ev, &s->u.p1.res);
	}
	return used;
}

/* Bytes held while the protocol was undecided go to the parser first.
 * True when that gave an event. */
static bool replay(struct sc_tg_stream *s, struct sc_tg_event *ev)
{
	while (s->held_pos < s->held_len) {
		s->held_pos += step(s, s->held + s->held_pos, s->held_len - s->held_pos, ev);
		if (ev->kind != SC_TG_NONE)
			return true;
	}
	return false;
}

size_t sc_tg_feed(struct sc_tg_stream *s, const void *data, size_t len, struct sc_tg_event *ev)
{
	ev->kind = SC_TG_NONE;
	if (s->proto == SC_PROTO_AUTO) {
		/* Undecided: look at what came so far plus these bytes. They are
		 * kept (used) only while the answer is still open, so that a small
		 * first read (a byte from a serial port) never decides by chance. */
		size_t room = SC_TG_DETECT_MAX - s->held_len;
		size_t n = len < room ? len : room;
		memcpy(s->held + s->held_len, data, n);
		enum sc_protocol p = sc_protocol_detect(s->held, s->held_len + n);
		if (p == SC_PROTO_AUTO && n == len && s->held_len + n < SC_TG_DETECT_MAX) {
			s->held_len += n;
			return n;
		}
		/* Decided, or nothing recognisable in SC_TG_DETECT_MAX bytes: the P1
		 * parser then reports them as garbage. These bytes are not used
		 * yet: the held ones go first. */
		s->proto = p == SC_PROTO_AUTO ? SC_PROTO_P1 : p;
		if (s->proto == SC_PROTO_TIC)
			memset(&s->u.tic, 0, sizeof s->u.tic);
	}
	if (s->held_pos < s->held_len && replay(s, ev))
		return 0;
	return step(s, data, len, ev);
}

enum sc_tg_kind sc_tg_finish(struct sc_tg_stream *s, struct sc_tg_event *ev)
{
	ev->kind = SC_TG_NONE;
	if (s->proto == SC_PROTO_AUTO)
		s->proto = SC_PROTO_P1;
	if (s->held_pos < s->held_len && replay(s, ev))
		return ev->kind;
	if (s->proto == SC_PROTO_TIC) {
		s->u.tic.parser.history = s->tic_history;
		sc_tic_finish(&s->u.tic.parser, &s->u.tic.res);
		from_tic(ev, &s->u.tic.res);
	} else {
		s->u.p1.parser.history = s->p1_history;
		sc_p1_finish(&s->u.p1.parser, &s->u.p1.res);
		from_p1(ev, &s->u.p1.res);
	}
	return ev->kind;
}
