/* The handle of a device under test (dut.h): its address and credentials,
 * and the clients of dut_modbus.c, dut_http.c and dut_mqtt.c. */
#include "dut_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "cursor.h"

struct sc_dut *sc_dut_open(const struct sc_dut_opts *o, char *why, size_t cap)
{
	struct sc_dut *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	d->o = *o;
	sc_str_copy(d->host, sizeof d->host, o->host);
	sc_str_copy(d->user, sizeof d->user, o->user ? o->user : "user");
	sc_str_copy(d->password, sizeof d->password, o->password);
	sc_str_copy(d->serial, sizeof d->serial, o->serial);
	d->o.host = d->host;
	d->o.user = d->user;
	d->o.password = d->password;
	d->o.serial = d->serial;
	if (d->o.timeout_s <= 0)
		d->o.timeout_s = 5;
	if (o->broker_url && sc_dut_mqtt_start(d, why, cap) != 0) {
		sc_dut_close(d);
		return NULL;
	}
	return d;
}

void sc_dut_close(struct sc_dut *d)
{
	if (!d)
		return;
	sc_dut_mqtt_free(d->mq);
	sc_dut_modbus_free(d->mb);
	sc_dut_http_free(d->http);
	free(d);
}
