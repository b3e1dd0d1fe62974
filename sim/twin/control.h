/* The twin's own control API, beside the device's (api.h), under /sim/v1/:
 * what a test or an integrator needs to drive failure modes a real meter
 * and network cannot produce on demand. Not part of the device: off with
 * --control off, and off by default when the HTTP servers listen beyond
 * loopback. No authentication (a test tool on loopback). It sits above the
 * twin: it calls the twin (twin.h), the twin never calls it; router.h sends
 * it the /sim/ paths. The actions (button, meter, network, broker, power,
 * telegram) become one struct sc_action each, carried by sc_twin_act.
 *
 *   GET  /sim/v1/state      {"Status": what the twin observes in the device and
 *                           a unit does not serve (system, LED, meter and the
 *                           age of its last telegram, network, MQTT, Modbus,
 *                           counters), "Twin": clock, dongle phases, network
 *                           model and its environment, meter cable, source,
 *                           MQTT, Modbus, session}
 *   POST /sim/v1/telegram   body: raw meter bytes, fed as if the meter sent them
 *   POST /sim/v1/source     {"Source": "gen:dsmr42", "Phases": 1, "Seed": 3,
 *                            "Producer": true, "Calendar": "tempo", "Loop": true}
 *   POST /sim/v1/button     {"Seconds": 5.1} (pressed now, released after that
 *                           much device time), or {"Action": "down" | "up"}
 *   POST /sim/v1/meter      {"Cable": "out" | "in"}
 *   POST /sim/v1/network    {"EthernetCable": false, "WifiInRange": true,
 *                            "DhcpServer": false, "Gateway": true, "Internet": false}
 *                           (the fields given change)
 *   POST /sim/v1/broker     {"Reachable": false | true}
 *   POST /sim/v1/power      {"Action": "cycle"}: power cut and back
 *   POST /sim/v1/clock      {"Speed": 10}
 */
#ifndef SC_CONTROL_H
#define SC_CONTROL_H

#include <stdbool.h>

#include "api.h"

struct sc_twin;

void sc_control_handle(struct sc_twin *t, bool enabled, const struct sc_http_request *rq,
		       struct sc_http_response *rs);

#endif
