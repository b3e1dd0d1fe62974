#include "mqtt_codec.h"

#include <stdio.h>
#include <string.h>

static int put_varint(uint8_t *out, uint32_t v)
{
	int n = 0;
	do {
		uint8_t b = v % 128;
		v /= 128;
		out[n++] = (uint8_t)(v ? b | 0x80 : b);
	} while (v);
	return n;
}

static int varint_len(uint32_t v)
{
	return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
	*p++ = (uint8_t)(n >> 8);
	*p++ = (uint8_t)n;
	memcpy(p, s, n);
	return p + n;
}

int sc_mqtt_encode_connect(uint8_t *out, size_t cap, const struct sc_mqtt_connect *c)
{
	bool user = c->username && *c->username;
	size_t id = strlen(c->client_id), un = user ? strlen(c->username) : 0;
	size_t pw = user && c->password ? strlen(c->password) : 0;
	if (id > 65535 || un > 65535 || pw > 65535 || c->keepalive_s < 0 || c->keepalive_s > 65535)
		return -1;
	size_t rem = 10 + 2 + id + (user ? 2 + un + 2 + pw : 0);
	size_t total = 1 + (size_t)varint_len((uint32_t)rem) + rem;
	if (total > cap)
		return -1;
	uint8_t *p = out;
	*p++ = SC_MQTT_T_CONNECT << 4;
	p += put_varint(p, (uint32_t)rem);
	p = put_str(p, "MQTT", 4);
	*p++ = 4; /* protocol level: 3.1.1 */
	*p++ = (uint8_t)((user ? 0xC0 : 0) | (c->clean_session ? 0x02 : 0));
	*p++ = (uint8_t)(c->keepalive_s >> 8);
	*p++ = (uint8_t)c->keepalive_s;
	p = put_str(p, c->client_id, id);
	if (user) {
		p = put_str(p, c->username, un);
		p = put_str(p, c->password ? c->password : "", pw);
	}
	return (int)(p - out);
}

size_t sc_mqtt_publish_size(size_t topic_len, size_t payload_len, int qos)
{
	if (topic_len > 65535)
		return 0;
	size_t rem = 2 + topic_len + (qos ? 2 : 0) + payload_len;
	if (rem > SC_MQTT_MAX_REMAINING || rem < payload_len)
		return 0;
	return 1 + (size_t)varint_len((uint32_t)rem) + rem;
}

long sc_mqtt_encode_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
			    size_t len, int qos, bool retain, uint16_t id)
{
	size_t tn = strlen(topic);
	size_t total = sc_mqtt_publish_size(tn, len, qos);
	if (total == 0 || total > cap || (qos != 0 && qos != 1) || (qos == 1 && id == 0))
		return -1;
	uint8_t *p = out;
	*p++ = (uint8_t)(SC_MQTT_T_PUBLISH << 4 | qos << 1 | (retain ? 1 : 0));
	p += put_varint(p, (uint32_t)(2 + tn + (qos ? 2 : 0) + len));
	p = put_str(p, topic, tn);
	if (qos) {
		*p++ = (uint8_t)(id >> 8);
		*p++ = (uint8_t)id;
	}
	if (len)
		memcpy(p, payload, len);
	return (long)total;
}

int sc_mqtt_encode_pingreq(uint8_t *out, size_t cap)
{
	if (cap < 2)
		return -1;
	out[0] = SC_MQTT_T_PINGREQ << 4;
	out[1] = 0;
	return 2;
}

int sc_mqtt_encode_disconnect(uint8_t *out, size_t cap)
{
	if (cap < 2)
		return -1;
	out[0] = SC_MQTT_T_DISCONNECT << 4;
	out[1] = 0;
	return 2;
}

/* ---- the reader ---- */

enum { ST_FIRST, ST_LENGTH, ST_BODY };

void sc_mqtt_reader_init(struct sc_mqtt_reader *r)
{
	memset(r, 0, sizeof *r);
}

static int broken(struct sc_mqtt_reader *r, char *why, size_t cap, const char *what)
{
	snprintf(why, cap, "protocol error at byte %llu: %s", (unsigned long long)r->offset, what);
	return -1;
}

/* What a broker may send a client that publishes, and the lengths they
 * must have (§3); a PUBLISH is skipped whatever its length. */
static int check_packet(struct sc_mqtt_reader *r, char *why, size_t cap)
{
	uint8_t type = r->first >> 4, flags = r->first & 0x0F;
	switch (type) {
	case SC_MQTT_T_CONNACK:
	case SC_MQTT_T_PUBACK:
		if (flags != 0 || r->remaining != 2)
			return broken(r, why, cap, type == SC_MQTT_T_CONNACK
							   ? "a CONNACK has flags 0 and 2 bytes"
							   : "a PUBACK has flags 0 and 2 bytes");
		return 0;
	case SC_MQTT_T_PINGRESP:
		if (flags != 0 || r->remaining != 0)
			return broken(r, why, cap, "a PINGRESP has flags 0 and no body");
		return 0;
	case SC_MQTT_T_PUBLISH:
	case SC_MQTT_T_SUBACK:
	case SC_MQTT_T_UNSUBACK:
	case SC_MQTT_T_PUBREC:
	case SC_MQTT_T_PUBREL:
	case SC_MQTT_T_PUBCOMP:
		return 0;
	default: {
		char w[80];
		snprintf(w, sizeof w, "packet type %u is not sent to a client", type);
		return broken(r, why, cap, w);
	}
	}
}

static void finish(struct sc_mqtt_reader *r, struct sc_mqtt_packet *out)
{
	memset(out, 0, sizeof *out);
	out->type = (enum sc_mqtt_type)(r->first >> 4);
	out->flags = r->first & 0x0F;
	out->length = r->remaining;
	if (out->type == SC_MQTT_T_CONNACK) {
		out->session_present = r->head[0] & 1;
		out->return_code = r->head[1];
	} else if (out->type == SC_MQTT_T_PUBACK) {
		out->id = (uint16_t)(r->head[0] << 8 | r->head[1]);
	}
	r->stage = ST_FIRST;
}

int sc_mqtt_read(struct sc_mqtt_reader *r, const uint8_t *data, size_t len, size_t *used,
		 struct sc_mqtt_packet *out, char *why, size_t cap)
{
	size_t i = 0;
	int rc = 0;
	while (i < len && rc == 0) {
		uint8_t b = data[i];
		switch (r->stage) {
		case ST_FIRST:
			r->first = b;
			r->remaining = 0;
			r->multiplier = 1;
			r->got = 0;
			r->stage = ST_LENGTH;
			i++;
			r->offset++;
			break;
		case ST_LENGTH:
			if (r->multiplier > 128u * 128u * 128u) {
				rc = broken(r, why, cap, "a remaining length of more than 4 bytes");
				break;
			}
			r->remaining += (uint32_t)(b & 0x7F) * r->multiplier;
			r->multiplier *= 128;
			i++;
			r->offset++;
			if (b & 0x80)
				break;
			if (check_packet(r, why, cap) != 0) {
				rc = -1;
				break;
			}
			r->stage = ST_BODY;
			if (r->remaining == 0) {
				finish(r, out);
				rc = 1;
			}
			break;
		case ST_BODY: {
			size_t want = r->remaining - r->got, have = len - i;
			size_t n = have < want ? have : want;
			for (size_t k = 0; k < n && r->got + k < sizeof r->head; k++)
				r->head[r->got + k] = data[i + k];
			r->got += (uint32_t)n;
			i += n;
			r->offset += n;
			if (r->got == r->remaining) {
				finish(r, out);
				rc = 1;
			}
			break;
		}
		}
	}
	*used = i;
	return rc;
}

const char *sc_mqtt_connack_text(int code)
{
	/* MQTT 3.1.1 §3.2.2.3, CONNACK return codes. */
	switch (code) {
	case 1:
		return "connection refused: unacceptable protocol version";
	case 2:
		return "connection refused: client identifier rejected";
	case 3:
		return "connection refused: server unavailable";
	case 4:
		return "connection refused: bad user name or password";
	case 5:
		return "connection refused: not authorized";
	}
	return NULL;
}

