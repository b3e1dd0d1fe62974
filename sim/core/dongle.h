/* The dongle: everything a Smart Connect is besides its meter pipeline
 * (device.h): the configuration saved and the one in force, the firmware,
 * power-up and restarts, the network it sits on, its LED and its button
 * (SMART-CONNECT.md §2-§5, §8). Pure and driven by the device clock: the
 * caller passes the time in, calls sc_dongle_step at sc_dongle_next_ms, and acts
 * on the events it gets (stop or start services, reconnect, save).
 *
 * Phases of a start (manual §2.3 LED table):
 *   power-up      SC_DONGLE_POWER_UP_MS, LED red
 *   initialising  SC_DONGLE_INIT_MS, LED colours cycling; the network comes up
 *   running       services (Modbus, MQTT, the device API) on
 * Every restart goes through all three: a soft reset (API reset, short
 * button press: the firmware restarts and reconnects the network), a power
 * cycle, a firmware update, a factory reset. The saved network and MQTT
 * settings take effect at a restart; access-point mode stays until the
 * Wi-Fi client connects or a factory reset.
 *
 * The network model (manual §5.1): one interface active (Ethernet or Wi-Fi,
 * DefaultNetIf); DHCP (SC_DONGLE_DHCP_ATTEMPTS attempts of
 * SC_DONGLE_DHCP_ATTEMPT_MS, then a link-local 169.254.x.x address) or a
 * static address; access-point mode (SSID SC-<serial>, the device at
 * 192.168.71.1) entered from factory state by holding the button 5 s and
 * left when the Wi-Fi client connects. What the dongle sits on (cable
 * plugged, access point in range, a DHCP server, a gateway, the internet) is
 * its environment, which a test changes. The twin's real sockets stay on
 * the addresses of its command line: the model is what status, LED and
 * diagnostics report. */
#ifndef SC_DONGLE_H
#define SC_DONGLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"
#include "firmware.h"

#define SC_DONGLE_POWER_UP_MS 1000
#define SC_DONGLE_INIT_MS 4000
#define SC_DONGLE_DHCP_ATTEMPT_MS 4000
#define SC_DONGLE_DHCP_ATTEMPTS 3
#define SC_DONGLE_DHCP_LEASE_MS 300     /* a DHCP server answers this fast */
#define SC_DONGLE_BUTTON_SOFT_MS 2000   /* shorter: soft reset */
#define SC_DONGLE_BUTTON_AP_MS 5000     /* held this long from factory state: AP mode */
#define SC_DONGLE_BUTTON_FACTORY_MS 10000 /* held longer: factory reset */
#define SC_DONGLE_AP_ADDR 0xC0A84701u   /* 192.168.71.1 */

enum sc_phase { SC_PHASE_POWER_UP = 0, SC_PHASE_INITIALISING, SC_PHASE_RUNNING };

enum sc_addr_state {
	SC_ADDR_NONE = 0,   /* no link, or waiting for DHCP */
	SC_ADDR_DHCP,       /* leased */
	SC_ADDR_STATIC,
	SC_ADDR_LINK_LOCAL, /* DHCP failed: 169.254.x.x */
};

/* What the dongle is plugged into; a test changes it. */
struct sc_dongle_env {
	bool ethernet_cable;  /* a live cable on the RJ45 */
	bool wifi_in_range;   /* the configured SSID answers with the configured key */
	bool dhcp_server;     /* the LAN hands out addresses */
	bool gateway;         /* the gateway answers pings */
	bool internet;        /* hosts beyond it answer */
};

/* Only bools: sc_dongle_button merges two of them field by field. */
struct sc_dongle_events {
	bool services_down;   /* a full restart began: stop Modbus, MQTT, the device API */
	bool services_up;     /* running (again): start them with cfg_running */
	bool network_up;      /* an address was taken (MQTT may connect) */
	bool network_down;    /* the address is gone (connections drop) */
	bool soft_reset;      /* the restart is a soft reset (API, short press) */
	bool config_applied;  /* cfg_running changed (MQTT settings, network) */
	bool firmware_changed;/* a new firmware runs (energy units may change) */
	bool factory_reset;   /* configuration back to defaults: clean the state dir */
	bool ap_changed;      /* access-point mode entered or left */
};

struct sc_dongle {
	char serial[33];
	struct sc_config factory;   /* out of the box */
	struct sc_config saved;     /* what GET /api/v1/config shows, kept across restarts */
	struct sc_config running;   /* in force since the last (re)start */
	bool configured;            /* false in factory state */
	struct sc_fw fw;
	enum sc_phase phase;
	int64_t phase_ms;           /* device time the phase began */
	int64_t boot_ms;            /* device time of the last power-up (uptime) */
	uint32_t starts;            /* power-ups since the twin started */
	bool pending_firmware_boot; /* the restart in progress installs firmware */
	/* network */
	struct sc_dongle_env env;
	bool net_started;           /* the interface was brought up in this start */
	enum sc_addr_state addr_state;
	uint32_t addr, gateway, dns;
	int prefix;
	int dhcp_attempt;           /* 1..SC_DONGLE_DHCP_ATTEMPTS while trying */
	int64_t dhcp_next_ms;       /* end of the current attempt */
	bool dhcp_answered;         /* the last attempt got a lease */
	bool ap_mode;
	/* Each interface's MAC (sc_dongle_mac), fixed at init. */
	uint8_t mac[2][6];          /* [SC_NETIF_ETHERNET], [SC_NETIF_WIFI] */
	/* The LED for a link-local address: false = "no IP" (green/orange, the
	 * manual's §7 "no IP via DHCP"), true = normal (sc-sim --led-link-local). */
	bool led_link_local_normal;
	/* button */
	bool button_down;
	int64_t button_since_ms;
	bool button_ap_done, button_factory_done;
};

/* A dongle at device time now_ms: powering up, or (booted) already
 * running with its network up, as a twin that should serve at once. */
void sc_dongle_init(struct sc_dongle *u, const char *serial, const struct sc_config *factory,
		  const struct sc_config *saved, bool configured,
		  const struct sc_fw_version *firmware, bool booted, int64_t now_ms);

/* Moves the dongle on to now; events says what happened (may be NULL). */
void sc_dongle_step(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev);
/* Device time of the next change, or -1. */
int64_t sc_dongle_next_ms(const struct sc_dongle *u, int64_t now_ms);

/* Actions. */
void sc_dongle_soft_reset(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev);
void sc_dongle_restart(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev);
void sc_dongle_factory_reset(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev);
/* The button pressed (down) or released; a press's effect depends on how
 * long it was held (SC_DONGLE_BUTTON_*). */
void sc_dongle_button(struct sc_dongle *u, bool down, int64_t now_ms, struct sc_dongle_events *ev);
/* The environment changes (cable pulled, DHCP server gone, ...). */
void sc_dongle_set_env(struct sc_dongle *u, const struct sc_dongle_env *env, int64_t now_ms,
		     struct sc_dongle_events *ev);
/* A PATCH was accepted and saved: the dongle leaves factory state. Network
 * and MQTT settings take effect at the next reset. */
void sc_dongle_saved(struct sc_dongle *u, const struct sc_config *c);
/* A firmware update reached its restart. */
void sc_dongle_firmware_restart(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev);

/* The MAC of an interface. The serial number as the sticker shows it is
 * the device's base MAC when it is 12 hex digits (an Espressif OUI such as
 * E8DB84): Wi-Fi uses the base MAC, Ethernet the base + 3 (the ESP32's
 * universal MAC addresses: station, access point, Bluetooth, Ethernet).
 * Another serial gives locally administered MACs (02:..) drawn from it. */
void sc_dongle_mac(const struct sc_dongle *u, enum sc_netif i, uint8_t out[6]);
/* "E8:DB:84:00:00:01" into buf (at least 18 bytes). */
void sc_mac_format(const uint8_t mac[6], char *buf, size_t cap);

/* Views. */
bool sc_dongle_services_on(const struct sc_dongle *u);  /* running, not mid-restart */
bool sc_dongle_has_address(const struct sc_dongle *u);
bool sc_dongle_link(const struct sc_dongle *u);
bool sc_dongle_gateway_ok(const struct sc_dongle *u);   /* pings to the gateway pass */
bool sc_dongle_internet_ok(const struct sc_dongle *u);  /* pings beyond it pass */
bool sc_dongle_restart_pending(const struct sc_dongle *u); /* saved differs from running */
/* Whether the network model lets the MQTT client reach a broker on host
 * (a name or IPv4 literal): NULL when it does, else why not, as the
 * connect error. A broker on the local network (loopback, RFC 1918,
 * 169.254/16, "localhost", a .local name: the broker of every test) is
 * reached with any address; one beyond it needs the internet
 * (sc_dongle_internet_ok), which AP mode and a link-local address never
 * have. Without an address nothing is reached (the twin holds the client
 * down then rather than failing attempts). */
const char *sc_dongle_broker_route(const struct sc_dongle *u, const char *host);
const char *sc_phase_name(enum sc_phase p);         /* "power-up", "initialising", "running" */
const char *sc_addr_state_name(enum sc_addr_state s); /* "none", "dhcp", "static", "link-local" */

/* The LED (manual §2.3): a state and its colour at a time. */
enum sc_led_state {
	SC_LED_POWER_UP = 0,   /* red, steady */
	SC_LED_INITIALISING,   /* colours cycling */
	SC_LED_NORMAL,         /* green, steady */
	SC_LED_AP,             /* blue, blinking */
	SC_LED_NO_DATA,        /* red/green alternating 1 Hz */
	SC_LED_NO_DATA_AP,     /* blue/red alternating 1 Hz */
	SC_LED_NO_IP,          /* green/orange alternating 1 Hz */
	SC_LED_NO_DATA_NO_IP,  /* red/orange alternating 1 Hz */
};
struct sc_led {
	enum sc_led_state state;
	const char *name;      /* "normal", "no-data", ... */
	const char *colour;    /* the colour lit at that time: "green", "off", ... */
	const char *pattern;   /* "steady", "blinking", "alternating 1 Hz", "cycling" */
};
void sc_dongle_led(const struct sc_dongle *u, enum sc_meter_link link, int64_t now_ms,
		 struct sc_led *out);

#endif
