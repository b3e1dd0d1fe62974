/* An action on a Smart Connect from outside the device: what a scenario step,
 * a control API request (/sim/v1/...) and a lab harness hook do to a unit.
 * The scenario parser (scenario.h) and the control API's JSON parser both
 * produce one of these; a twin carries it out with sc_twin_act (twin.h), a
 * real unit in the lab as far as its bench allows (sc_hil.c). Pure data: no
 * pointer in it is owned. */
#ifndef SC_ACTION_H
#define SC_ACTION_H

#include <stdbool.h>
#include <stddef.h>

enum sc_action_kind {
	SC_ACT_NONE = 0,  /* not an action (a scenario step that only expects or waits) */
	SC_ACT_BUTTON,    /* the button: pressed for a while, or held down, or let go */
	SC_ACT_METER,     /* the meter cable out or back in; or values set by hand */
	SC_ACT_NETWORK,   /* what the dongle is plugged into changes */
	SC_ACT_BROKER,    /* the MQTT broker unreachable or back */
	SC_ACT_POWER,     /* power cut and back: a full restart */
	SC_ACT_TELEGRAM,  /* bytes on the meter line, as if the meter sent them now */
};

enum sc_button_action {
	SC_BUTTON_PRESS = 0, /* pressed now, released after seconds of device time */
	SC_BUTTON_DOWN,
	SC_BUTTON_UP,
};

/* The network environment's fields, in the order of the JSON documents. */
enum sc_net_field {
	SC_NET_ETHERNET_CABLE,
	SC_NET_WIFI_IN_RANGE,
	SC_NET_DHCP_SERVER,
	SC_NET_GATEWAY,
	SC_NET_INTERNET,
	SC_NET_FIELDS
};

struct sc_meter_set; /* meter.h */

struct sc_action {
	enum sc_action_kind kind;
	enum sc_button_action button;  /* BUTTON */
	double seconds;                /* BUTTON PRESS: how long it is held (> 0) */
	bool cut;                      /* METER: cable out; BROKER: unreachable */
	/* METER: when not NULL, values set on the meter by hand (meter.h
	 * sc_meter_set; not owned) instead of the cable. */
	const struct sc_meter_set *meter_set;
	/* NETWORK: the fields that change (given) and their new values; the
	 * others stay as they are. */
	bool net_given[SC_NET_FIELDS], net_value[SC_NET_FIELDS];
	const void *bytes;             /* TELEGRAM: not owned */
	size_t len;
};

/* "EthernetCable", "WifiInRange", "DhcpServer", "Gateway", "Internet": the
 * members of a network action in scenario files and the control API. */
extern const char *const sc_net_field_names[SC_NET_FIELDS];

/* "button", "meter", ...; "none" for SC_ACT_NONE. Never NULL. */
const char *sc_action_kind_name(enum sc_action_kind k);

#endif
