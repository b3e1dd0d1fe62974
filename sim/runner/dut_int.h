/* The device's clients, one file per library, shared by dut*.c only (the
 * public API is dut.h):
 *   dut.c         the handle: options, opening and closing
 *   dut_modbus.c  Modbus TCP through libmodbus
 *   dut_http.c    the device's API through libcurl
 *   dut_mqtt.c    a paho subscriber on the device's topics
 * Each client's state is its own file's; the handle holds a pointer. */
#ifndef SC_DUT_INT_H
#define SC_DUT_INT_H

#include <stddef.h>

#include "dut.h"

struct sc_dut_modbus;
struct sc_dut_curl;
struct sc_dut_mqtt;

struct sc_dut {
	struct sc_dut_opts o;         /* its strings point into the copies below */
	char host[256], user[64], password[128], serial[40];
	struct sc_dut_modbus *mb;     /* owned, made on first use */
	struct sc_dut_curl *http;     /* owned, made on first use */
	struct sc_dut_mqtt *mq;       /* owned; NULL without a broker */
};

/* dut_mqtt.c: connects to o.broker_url and waits (up to 15 s) until the
 * device's topics are subscribed; 0, or -1 with why (d->mq may then be
 * set: sc_dut_mqtt_free frees it). */
int sc_dut_mqtt_start(struct sc_dut *d, char *why, size_t cap);
void sc_dut_mqtt_free(struct sc_dut_mqtt *mq);
/* dut_modbus.c, dut_http.c; NULL is safe. */
void sc_dut_modbus_free(struct sc_dut_modbus *mb);
void sc_dut_http_free(struct sc_dut_curl *h);

#endif
