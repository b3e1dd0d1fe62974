/* MQTT 3.1.1 on the wire (OASIS mqtt-v3.1.1 §2-§3): the packets the
 * device sends and an incremental reader of what a broker sends back. Pure:
 * the loop-native client (mqtt_link.h) moves the bytes. */
#ifndef SC_MQTT_CODEC_H
#define SC_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sc_mqtt_type {
	SC_MQTT_T_CONNECT = 1, SC_MQTT_T_CONNACK, SC_MQTT_T_PUBLISH, SC_MQTT_T_PUBACK,
	SC_MQTT_T_PUBREC, SC_MQTT_T_PUBREL, SC_MQTT_T_PUBCOMP, SC_MQTT_T_SUBSCRIBE,
	SC_MQTT_T_SUBACK, SC_MQTT_T_UNSUBSCRIBE, SC_MQTT_T_UNSUBACK, SC_MQTT_T_PINGREQ,
	SC_MQTT_T_PINGRESP, SC_MQTT_T_DISCONNECT,
};

/* The largest remaining length the protocol can express (§2.2.3). */
#define SC_MQTT_MAX_REMAINING 268435455u

struct sc_mqtt_connect {
	const char *client_id;
	const char *username;   /* NULL or "": none */
	const char *password;   /* with a user name only */
	int keepalive_s;        /* 0 .. 65535 */
	bool clean_session;
};

/* Each encoder writes the packet to out and returns its length, or -1 when
 * it does not fit in cap or a field is too long for the protocol. */
int sc_mqtt_encode_connect(uint8_t *out, size_t cap, const struct sc_mqtt_connect *c);
/* qos 0 or 1 (id > 0 with qos 1). */
long sc_mqtt_encode_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
			    size_t len, int qos, bool retain, uint16_t id);
/* The length sc_mqtt_encode_publish needs, 0 when too long for MQTT. */
size_t sc_mqtt_publish_size(size_t topic_len, size_t payload_len, int qos);
int sc_mqtt_encode_pingreq(uint8_t *out, size_t cap);
int sc_mqtt_encode_disconnect(uint8_t *out, size_t cap);

/* A packet from the broker. Of a body only what a client needs is kept:
 * CONNACK's flags and return code, PUBACK's packet id; the rest (a PUBLISH
 * the device never subscribed to) is skipped. */
struct sc_mqtt_packet {
	enum sc_mqtt_type type;
	uint8_t flags;          /* the low nibble of the first byte */
	uint32_t length;        /* remaining length */
	bool session_present;   /* CONNACK */
	uint8_t return_code;    /* CONNACK */
	uint16_t id;            /* PUBACK */
};

struct sc_mqtt_reader {
	int stage;              /* private */
	uint8_t first;
	uint32_t remaining, multiplier, got;
	uint8_t head[2];
	uint64_t offset;        /* bytes read so far on this connection */
};

void sc_mqtt_reader_init(struct sc_mqtt_reader *r);
/* Reads from data; *used tells how much it took. Returns 1 with a whole
 * packet in *out, 0 when it needs more bytes, or -1 when the stream breaks
 * the protocol, with why (and the offset of the packet) in text. */
int sc_mqtt_read(struct sc_mqtt_reader *r, const uint8_t *data, size_t len, size_t *used,
		 struct sc_mqtt_packet *out, char *why, size_t cap);

/* What a CONNACK return code means; NULL when the code is not one of a
 * refusal. */
const char *sc_mqtt_connack_text(int code);

#endif
