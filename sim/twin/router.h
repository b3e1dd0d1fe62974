/* The router of a twin's HTTP paths: the twin's panel (/sim/ and its
 * /sim/v1/values, panel.h) and /sim/... to the control API above the twin
 * (control.h), both on the control side; everything else (/api/..., the
 * device's page) to the device's own API (twin.h). The single device's servers (sc_twin_opts.route) and the
 * fleet's server (per device, under /devices/SERIAL/) both serve through it. */
#ifndef SC_ROUTER_H
#define SC_ROUTER_H

#include "api.h"

struct sc_twin;

/* rs is filled (rs->body malloc'd, as api.h says). */
void sc_router_serve(struct sc_twin *t, const struct sc_http_request *rq,
		     struct sc_http_response *rs);

#endif
