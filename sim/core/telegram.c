#include "telegram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum sc_protocol sc_protocol_detect(const void *data, size_t len)
{
	const unsigned char *d = data;
	for (size_t i = 0; i + 1 < len; i++) {
		/* STX LF; logs of TIC lines sometimes keep a CR: STX CR LF. */
		if (d[i] == 0x02 && (d[i + 1] == '\n' ||
				     (d[i + 1] == '\r' && i + 2 < len && d[i + 2] == '\n')))
			return SC_PROTO_TIC;
		if (d[i] == '/' && i + 4 < len && letter(d[i + 1]) && letter(d[i + 2]) &&
		    letter(d[i + 3]) && d[i + 4] >= '0' && d[i + 4] <= '9')
			return SC_PROTO_P1;
	}
	return SC_PROTO_AUTO;
}

struct sc_tg_stream *sc_tg_stream_new(enum sc_protocol proto, unsigned p1_flags)
{
	struct sc_tg_stream *s = calloc(1, sizeof *s);
	if (s) {
		s->proto = proto;
		s->p1_flags = p1_flags;
		s->p1.flags = p1_flags;
	}
	return s;
}

void sc_tg_stream_free(struct sc_tg_stream *s)
{
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
	snprintf(ev->detail, sizeof ev->detail, "%s", r->detail);
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
	snprintf(ev->detail, sizeof ev->detail, "%s", r->detail);
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

size_t sc_tg_feed(struct sc_tg_stream *s, const void *data, size_t len, struct sc_tg_event *ev)
{
	if (s->proto == SC_PROTO_AUTO) {
		s->proto = sc_protocol_detect(data, len);
		if (s->proto == SC_PROTO_AUTO)
			s->proto = SC_PROTO_P1;
	}
	size_t used;
	if (s->proto == SC_PROTO_TIC) {
		used = sc_tic_feed(&s->tic, data, len, &s->ticres);
		from_tic(ev, &s->ticres);
	} else {
		used = sc_p1_feed(&s->p1, data, len, &s->p1res);
		from_p1(ev, &s->p1res);
	}
	return used;
}

enum sc_tg_kind sc_tg_finish(struct sc_tg_stream *s, struct sc_tg_event *ev)
{
	if (s->proto == SC_PROTO_TIC) {
		sc_tic_finish(&s->tic, &s->ticres);
		from_tic(ev, &s->ticres);
	} else {
		sc_p1_finish(&s->p1, &s->p1res);
		from_p1(ev, &s->p1res);
	}
	return ev->kind;
}
