/* The MQTT 3.1.1 wire format of the loop-native client: the packets the
 * device sends, byte for byte as the standard's examples give them, and the
 * reader of the broker's packets, whole, split at every byte, and broken. */
#include <criterion/criterion.h>
#include <string.h>

#include "mqtt_codec.h"

Test(encode, connect_without_credentials)
{
	uint8_t b[64];
	struct sc_mqtt_connect c = {"E8DB84000001", NULL, NULL, 60, true};
	int n = sc_mqtt_encode_connect(b, sizeof b, &c);
	static const uint8_t want[] = {0x10, 24, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 12,
				       'E', '8', 'D', 'B', '8', '4', '0', '0', '0', '0', '0', '1'};
	cr_assert_eq(n, (int)sizeof want);
	cr_assert_arr_eq(b, want, sizeof want);
}

Test(encode, connect_with_user_and_password)
{
	uint8_t b[64];
	struct sc_mqtt_connect c = {"id", "u", "pw", 5, true};
	int n = sc_mqtt_encode_connect(b, sizeof b, &c);
	cr_assert_eq(n, 2 + 10 + 4 + 3 + 4);
	cr_assert_eq(b[9], 0xC2); /* user name, password, clean session */
	cr_assert_eq(memcmp(b + n - 7, "\0\1u\0\2pw", 7), 0);
	cr_assert_eq(sc_mqtt_encode_connect(b, 10, &c), -1, "does not fit");
}

Test(encode, publish_qos0_and_qos1)
{
	uint8_t b[64];
	long n = sc_mqtt_encode_publish(b, sizeof b, "a/b", "{}", 2, 0, false, 0);
	static const uint8_t q0[] = {0x30, 7, 0, 3, 'a', '/', 'b', '{', '}'};
	cr_assert_eq(n, (long)sizeof q0);
	cr_assert_arr_eq(b, q0, sizeof q0);
	n = sc_mqtt_encode_publish(b, sizeof b, "a/b", "{}", 2, 1, true, 0x1234);
	static const uint8_t q1[] = {0x33, 9, 0, 3, 'a', '/', 'b', 0x12, 0x34, '{', '}'};
	cr_assert_eq(n, (long)sizeof q1);
	cr_assert_arr_eq(b, q1, sizeof q1);
	cr_assert_eq(sc_mqtt_encode_publish(b, sizeof b, "a", "", 0, 1, false, 0), -1, "qos 1 needs an id");
	cr_assert_eq(sc_mqtt_encode_publish(b, 8, "a/b", "{}", 2, 0, false, 0), -1);
}

Test(encode, remaining_length_in_several_bytes)
{
	static uint8_t b[20000], payload[16384];
	long n = sc_mqtt_encode_publish(b, sizeof b, "t", payload, sizeof payload, 0, false, 0);
	/* 3 + 16384 = 16387 = 0x03 0x80 0x01 in the variable-length form */
	cr_assert_eq(n, 1 + 3 + 16387);
	cr_assert_eq(b[1], 0x83);
	cr_assert_eq(b[2], 0x80);
	cr_assert_eq(b[3], 0x01);
	cr_assert_eq(sc_mqtt_publish_size(1, sizeof payload, 0), (size_t)n);
	cr_assert_eq(sc_mqtt_publish_size(70000, 1, 0), 0, "a topic longer than 65535");
}

Test(encode, ping_and_disconnect)
{
	uint8_t b[2];
	cr_assert_eq(sc_mqtt_encode_pingreq(b, 2), 2);
	cr_assert_eq(b[0], 0xC0);
	cr_assert_eq(sc_mqtt_encode_disconnect(b, 2), 2);
	cr_assert_eq(b[0], 0xE0);
	cr_assert_eq(sc_mqtt_encode_disconnect(b, 1), -1);
}

static int read_all(const uint8_t *d, size_t len, size_t chunk, struct sc_mqtt_packet *out,
		    int max, char *why)
{
	struct sc_mqtt_reader r;
	sc_mqtt_reader_init(&r);
	int n = 0;
	for (size_t at = 0; at < len;) {
		size_t end = at + chunk < len ? at + chunk : len;
		while (at < end) {
			size_t used;
			int rc = sc_mqtt_read(&r, d + at, end - at, &used, &out[n], why, 160);
			at += used;
			if (rc < 0)
				return -1;
			if (rc == 1 && ++n == max)
				return n;
		}
	}
	return n;
}

Test(reader, packets_whole_and_split_at_every_byte)
{
	/* CONNACK accepted with a session, PUBACK 7, PINGRESP, a PUBLISH of
	 * 300 bytes (skipped), SUBACK. */
	static uint8_t d[400];
	size_t n = 0;
	const uint8_t head[] = {0x20, 2, 1, 0, 0x40, 2, 0, 7, 0xD0, 0, 0x30, 0xAC, 0x02};
	memcpy(d, head, sizeof head);
	n = sizeof head;
	memset(d + n, 'x', 300);
	n += 300;
	const uint8_t tail[] = {0x90, 3, 0, 1, 0};
	memcpy(d + n, tail, sizeof tail);
	n += sizeof tail;
	for (size_t chunk = 1; chunk <= n; chunk = chunk < 8 ? chunk + 1 : chunk * 3) {
		struct sc_mqtt_packet p[8];
		char why[160];
		int got = read_all(d, n, chunk, p, 8, why);
		cr_assert_eq(got, 5, "chunk %zu: %d", chunk, got);
		cr_assert_eq(p[0].type, SC_MQTT_T_CONNACK);
		cr_assert(p[0].session_present);
		cr_assert_eq(p[0].return_code, 0);
		cr_assert_eq(p[1].type, SC_MQTT_T_PUBACK);
		cr_assert_eq(p[1].id, 7);
		cr_assert_eq(p[2].type, SC_MQTT_T_PINGRESP);
		cr_assert_eq(p[3].type, SC_MQTT_T_PUBLISH);
		cr_assert_eq(p[3].length, 300);
		cr_assert_eq(p[4].type, SC_MQTT_T_SUBACK);
	}
}

Test(reader, connack_refusal_code)
{
	const uint8_t d[] = {0x20, 2, 0, 5};
	struct sc_mqtt_packet p[1];
	char why[160];
	cr_assert_eq(read_all(d, sizeof d, sizeof d, p, 1, why), 1);
	cr_assert_eq(p[0].return_code, 5);
	cr_assert_str_eq(sc_mqtt_connack_text(5), "connection refused: not authorized");
	cr_assert_null(sc_mqtt_connack_text(0));
}

struct broken {
	const char *name;
	uint8_t d[8];
	size_t len;
	const char *why;
};

Test(reader, broken_streams_are_named_with_their_offset)
{
	static const struct broken cases[] = {
		{"a CONNACK of 3 bytes", {0x20, 3, 0, 0, 0}, 5, "at byte 2: a CONNACK has flags 0 and 2 bytes"},
		{"a CONNACK with flags", {0x21, 2, 0, 0}, 4, "a CONNACK has flags 0 and 2 bytes"},
		{"a PUBACK of 1 byte", {0x40, 1, 0}, 3, "a PUBACK has flags 0 and 2 bytes"},
		{"a PINGRESP with a body", {0xD0, 1, 0}, 3, "a PINGRESP has flags 0 and no body"},
		{"a CONNECT to the client", {0x10, 0}, 2, "packet type 1 is not sent to a client"},
		{"a PINGREQ to the client", {0xC0, 0}, 2, "packet type 12 is not sent to a client"},
		{"type 0", {0x00, 0}, 2, "packet type 0"},
		{"type 15", {0xF0, 0}, 2, "packet type 15"},
		{"a five-byte length", {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 6, "more than 4 bytes"},
		{"after a good PINGRESP", {0xD0, 0, 0x20, 9}, 4, "at byte 4: a CONNACK"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sc_mqtt_packet p[4];
		char why[160] = "";
		int got = read_all(cases[i].d, cases[i].len, 1, p, 4, why);
		cr_assert_eq(got, -1, "%s: read %d packets", cases[i].name, got);
		cr_assert(strstr(why, cases[i].why), "%s: '%s'", cases[i].name, why);
		cr_assert(strstr(why, "protocol error at byte "), "%s: '%s'", cases[i].name, why);
	}
}
