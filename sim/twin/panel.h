/* The twin's own page, the panel, and the values it shows: beside the
 * control API (control.h), on the control side of the router (router.h), so
 * on and off with it. Not part of the device: the device's page stays at /
 * and /config.
 *
 *   GET /sim/            the panel (sim/web/panel.html, compiled in)
 *   GET /sim/v1/values   {"WordOrder": "cdab", "Generation": n, "Registers":
 *                        [{"Address": 32790, "Hex": "0x8016", "Name":
 *                        "active_power", "Unit": "W", "Field": "P", "Meaning":
 *                        ..., "P1": ..., "TIC": ..., "Words": [w0, w1],
 *                        "Value": 123.4}, ...] (every register of the map,
 *                        the value as a client decodes the two words),
 *                        "PowerInstant": the payload of the last good telegram
 *                        as MQTT publishes it, or null before the first} */
#ifndef SC_PANEL_H
#define SC_PANEL_H

#include <stdbool.h>

#include "api.h"

struct sc_twin;

/* True when the path is one of the panel's. */
bool sc_panel_path(const char *path);

/* rs is filled (rs->body malloc'd, as api.h says); enabled is the control
 * API's switch. */
void sc_panel_handle(struct sc_twin *t, bool enabled, const struct sc_http_request *rq,
		     struct sc_http_response *rs);

#endif
