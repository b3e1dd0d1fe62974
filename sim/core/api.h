/* The device's HTTP API and web page (manual §5.1, §5.2; SMART-CONNECT.md
 * §4-§5) as pure handlers: a request and the device's state in, a response
 * out. The HTTP server adapter (http.h) only moves bytes.
 *
 *   GET   /api/v1/config     the configuration document (config.h), secrets masked
 *   PATCH /api/v1/config     merge the given fields; validated whole; saved first
 *   GET   /api/v1/status     the manual's status document (§5.2) and nothing else:
 *                            MeterType, DefaultNetIf, Ethernet, WiFi, MQTT of the
 *                            configuration in force, secrets masked
 *   GET   /api/v1/firmware   version and update state
 *   POST  /api/v1/firmware   {"Version": "5.3.0"}: start a (simulated) update
 *   POST  /api/v1/reset      soft reset: the firmware restarts, reconnects the network
 *                            and applies the saved settings
 *   GET   /api/v1/telegram   the last raw telegram as received (bytes intact)
 *   GET   /                  the configuration page
 *
 * Authentication: HTTP Basic, user "user", the device's password, compared
 * in constant time. After SC_API_FAIL_LIMIT failures from one address within
 * SC_API_FAIL_WINDOW_MS, further failures from it are answered only after
 * SC_API_FAIL_DELAY_MS. The table keeps SC_API_FAIL_TABLE addresses; while
 * it is full, every failure from another address is answered late too (a
 * budget of failures answered at once that holds however many addresses
 * guess).
 *
 * One session at a time (manual §5.2). A session is one client address
 * using valid credentials: it lasts while requests keep coming, and ends
 * after session_idle_ms without one (default 60 s) or at a restart. A
 * request with valid credentials from another address while a session lasts
 * gets 409 with a JSON body naming the holder's address ("client") and when
 * the session ends if it stays idle ("seconds_left", "until": the device
 * clock's UTC time), and Retry-After. Requests from the
 * session's own address (a browser's several connections, a script's
 * several curl calls) belong to it.
 *
 * Over plain HTTP the device serves only a page linking to the secure
 * configuration environment (HTTPS), at / and /config; every other path
 * redirects there (308), unless the API is allowed on plain HTTP. */
#ifndef SC_API_H
#define SC_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"
#include "diag.h"
#include "dongle.h"

#define SC_API_USER "user"
#define SC_API_PASSWORD_MAX 64
#define SC_API_BODY_MAX 8192          /* larger request bodies are refused */
#define SC_API_FAIL_LIMIT 5
#define SC_API_FAIL_WINDOW_MS 60000
#define SC_API_FAIL_DELAY_MS 1000
#define SC_API_FAIL_TABLE 32

struct sc_http_request {
	const char *method;        /* "GET", "PATCH", ... */
	const char *path;          /* without the query */
	const char *authorization; /* the header, or NULL */
	const char *host;          /* the Host header, or NULL */
	const char *body;
	size_t body_len;
	bool body_too_large;       /* more than SC_API_BODY_MAX bytes came */
	uint32_t client_ip;        /* IPv4, host order */
	bool tls;                  /* came over HTTPS */
	uint32_t local_ip;         /* the address the connection came in on (host
				    * order), 0 when not known */
	const char *origin;        /* the Origin header, or NULL */
	const char *content_type;  /* the Content-Type header, or NULL */
	const char *base;          /* the prefix the device is served under: NULL or
				    * "" on its own server, "/devices/SN" in a fleet */
};

struct sc_http_response {
	int status;
	const char *content_type;
	char *body;                /* malloc'd, owned by the response */
	size_t len;
	char location[300];        /* a Location header when not empty */
	char allow[64];            /* an Allow header when not empty */
	bool www_authenticate;     /* a Basic challenge */
	int retry_after_s;         /* a Retry-After header when > 0 */
	int delay_ms;              /* answer no sooner than this (failed logins) */
};

void sc_http_response_free(struct sc_http_response *r);

struct sc_api_failures {
	uint32_t ip;
	int count;
	int64_t first_ms;
};

/* The API's own state. */
struct sc_api {
	char password[SC_API_PASSWORD_MAX + 1];
	int64_t session_idle_ms;
	bool session_active;
	uint32_t session_ip;
	int64_t session_last_ms;
	struct sc_api_failures fail[SC_API_FAIL_TABLE];
	bool echo_secrets;     /* firmware that shows passwords in GET responses */
	bool plain_http_api;   /* the API answers over plain HTTP too */
	int https_port;        /* for links and redirects from plain HTTP */
	/* The device's names besides the fixed ones (localhost, smart-connect,
	 * smart-connect.local): its serial number (smart-connect-SERIAL[.local])
	 * and the host's name; "" when none. */
	char serial[40];
	char hostname[64];
	/* The page at / (sc-sim --web-root); NULL: the one built in. */
	const unsigned char *page;
	size_t page_len;
};

void sc_api_init(struct sc_api *a, const char *password, int64_t session_idle_ms);
/* Requests a web page elsewhere can make a browser send, refused: a Host that
 * is none of the device's names or addresses (DNS rebinding: 421), an Origin
 * other than the device's own scheme://Host (403), a body on a state change
 * that is not application/json (415). True when refused, with rs filled. */
bool sc_api_refuse_cross_site(const struct sc_api *a, const struct sc_http_request *rq,
			      struct sc_http_response *rs);
/* Whether a Host header's value (a port allowed) names this device. */
bool sc_api_host_is_device(const struct sc_api *a, const char *host, uint32_t local_ip);
/* The session ends (a restart). */
void sc_api_end_session(struct sc_api *a);

/* What the handlers read and change. */
struct sc_api_ctx {
	struct sc_dongle *dongle;
	const struct sc_device *dev;   /* the meter pipeline */
	struct sc_diag diag;           /* device_counters now */
	const char *mqtt_state;        /* "connected", "disconnected", "off: ..." */
	const char *mqtt_error;        /* the last failure, "" when none */
	int modbus_port;
	int64_t now_ms;                /* device time */
	/* Saves the configuration durably; 0, or a negative sc_err with why. */
	int (*save)(void *arg, const struct sc_config *c, char *why, size_t cap);
	void *save_arg;
	/* Out: actions the caller carries out after the response. */
	bool want_soft_reset;
	bool firmware_started;
};

/* Handles one request; the response is always set (status and body). */
void sc_api_handle(struct sc_api *a, struct sc_api_ctx *c, const struct sc_http_request *rq,
		   struct sc_http_response *rs);

/* The status document (GET /api/v1/status) as JSON text, malloc'd; NULL when
 * out of memory. Exactly the members of the manual's example (§5.2):
 * MeterType, DefaultNetIf, Ethernet and WiFi (IpMode, StaticIPv4 when
 * static), MQTT (Broker, Site, Username, Password). The password is masked
 * unless secrets. */
char *sc_api_status_json(const struct sc_api_ctx *c, bool secrets);

/* What a unit does not serve and the twin observes in it, as JSON text,
 * malloc'd (NULL when out of memory): the object "Status" of the twin's
 * state (GET /sim/v1/state): System (serial, firmware, phase, uptime, LED),
 * Meter (state, the last telegram and its age, the last rejected one),
 * Network, MQTT, Modbus, Counters. */
char *sc_api_state_json(const struct sc_api_ctx *c);

/* Constant-time comparison of two NUL-terminated strings of at most max
 * bytes: the time does not depend on where they differ. */
bool sc_api_secret_equal(const char *a, const char *b, size_t max);

/* The page's bytes (web/index.html, built in). */
extern const unsigned char sc_web_index_html[];
extern const size_t sc_web_index_html_len;

#endif
