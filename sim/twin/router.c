/* The router of a twin's HTTP paths (router.h): the one place that knows
 * both the control API and the device API. */
#include "router.h"

#include <string.h>

#include "control.h"
#include "log.h"
#include "panel.h"
#include "twin.h"

void sc_router_serve(struct sc_twin *t, const struct sc_http_request *rq,
		     struct sc_http_response *rs)
{
	/* The panel and the control API change the twin: a page elsewhere
	 * must not (the device API checks its own, after its plain-HTTP page). */
	bool twin_path = sc_panel_path(rq->path) || strncmp(rq->path, "/sim/", 5) == 0;
	if (twin_path) {
		memset(rs, 0, sizeof *rs);
		if (sc_api_refuse_cross_site(sc_twin_api_of(t), rq, rs)) {
			sc_log(SC_LOG_INFO, "http: %s %s refused: %s", rq->method, rq->path,
			       rs->status == 421 ? "Host not this device's" :
			       rs->status == 403 ? "cross-site Origin" : "body not JSON");
			return;
		}
	}
	if (sc_panel_path(rq->path)) {
		sc_panel_handle(t, sc_twin_control_on(t), rq, rs);
		sc_log(SC_LOG_DEBUG, "panel: %s %s -> %d", rq->method, rq->path, rs->status);
		return;
	}
	if (strncmp(rq->path, "/sim/", 5) == 0) {
		sc_control_handle(t, sc_twin_control_on(t), rq, rs);
		sc_log(SC_LOG_DEBUG, "control: %s %s -> %d", rq->method, rq->path, rs->status);
		return;
	}
	sc_twin_api(t, rq, rs);
}
