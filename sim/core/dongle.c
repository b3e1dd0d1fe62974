#include "dongle.h"

#include <stdio.h>
#include <string.h>

/* The LAN a DHCP lease comes from in the model: 192.168.1.0/24 with the
 * gateway and DNS at .1, the device at .100-.199 by its serial. */
#define LAN_NET 0xC0A80100u
#define LAN_GW 0xC0A80101u

static uint32_t serial_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static uint32_t mac_hash(const uint8_t mac[6])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void derive_macs(struct sc_dongle *u)
{
	uint64_t base = 0;
	bool hex = strlen(u->serial) == 12;
	for (int i = 0; hex && i < 12; i++) {
		int d = hex_digit(u->serial[i]);
		hex = d >= 0;
		base = base << 4 | (uint64_t)(d < 0 ? 0 : d);
	}
	if (!hex) {
		/* Locally administered, unicast: 02 and 40 bits of the serial's hash. */
		uint64_t h = serial_hash(u->serial);
		base = 0x020000000000ull | (h << 8 & 0xFFFFFFFF00ull) | (h >> 24 & 0xFF);
	}
	/* Wi-Fi: the base; Ethernet: base + 3 within the same OUI. */
	uint64_t m[2];
	m[SC_NETIF_WIFI] = base;
	m[SC_NETIF_ETHERNET] = (base & 0xFFFFFF000000ull) | ((base + 3) & 0xFFFFFF);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 6; k++)
			u->mac[i][k] = (uint8_t)(m[i] >> (40 - 8 * k));
}

void sc_dongle_mac(const struct sc_dongle *u, enum sc_netif i, uint8_t out[6])
{
	memcpy(out, u->mac[i == SC_NETIF_WIFI ? SC_NETIF_WIFI : SC_NETIF_ETHERNET], 6);
}

void sc_mac_format(const uint8_t mac[6], char *buf, size_t cap)
{
	snprintf(buf, cap, "%02X:%02X:%02X:%02X:%02X:%02X", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

static void clear_events(struct sc_dongle_events *ev)
{
	if (ev)
		memset(ev, 0, sizeof *ev);
}

const char *sc_phase_name(enum sc_phase p)
{
	switch (p) {
	case SC_PHASE_POWER_UP:
		return "power-up";
	case SC_PHASE_INITIALISING:
		return "initialising";
	case SC_PHASE_RUNNING:
		break;
	}
	return "running";
}

const char *sc_addr_state_name(enum sc_addr_state s)
{
	switch (s) {
	case SC_ADDR_DHCP:
		return "dhcp";
	case SC_ADDR_STATIC:
		return "static";
	case SC_ADDR_LINK_LOCAL:
		return "link-local";
	case SC_ADDR_NONE:
		break;
	}
	return "none";
}

/* ---- network ---- */

static const struct sc_config_if *active_if(const struct sc_dongle *u)
{
	return u->running.netif == SC_NETIF_WIFI ? &u->running.wifi : &u->running.eth;
}

bool sc_dongle_link(const struct sc_dongle *u)
{
	if (u->ap_mode)
		return true; /* the device is the access point */
	if (u->running.netif == SC_NETIF_WIFI)
		return u->running.ssid[0] && u->env.wifi_in_range;
	return u->env.ethernet_cable;
}

bool sc_dongle_has_address(const struct sc_dongle *u)
{
	return u->ap_mode || u->addr_state != SC_ADDR_NONE;
}

bool sc_dongle_gateway_ok(const struct sc_dongle *u)
{
	return !u->ap_mode && (u->addr_state == SC_ADDR_DHCP || u->addr_state == SC_ADDR_STATIC) &&
	       u->gateway != 0 && u->env.gateway;
}

bool sc_dongle_internet_ok(const struct sc_dongle *u)
{
	return sc_dongle_gateway_ok(u) && u->env.internet;
}

static bool on_local_network(const char *host)
{
	size_t n = strlen(host);
	if (strcmp(host, "localhost") == 0 || (n > 6 && strcmp(host + n - 6, ".local") == 0))
		return true;
	unsigned a[4];
	char end;
	if (sscanf(host, "%u.%u.%u.%u%c", &a[0], &a[1], &a[2], &a[3], &end) != 4)
		return false; /* a name: resolved through the internet's DNS */
	return a[0] == 127 || a[0] == 10 || (a[0] == 172 && a[1] >= 16 && a[1] < 32) ||
	       (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254);
}

const char *sc_dongle_broker_route(const struct sc_dongle *u, const char *host)
{
	if (!sc_dongle_has_address(u))
		return "no route to the broker: the device has no address";
	if (on_local_network(host) || sc_dongle_internet_ok(u))
		return NULL;
	if (u->ap_mode)
		return "no route to the broker: access-point mode has no way beyond the device";
	if (u->addr_state == SC_ADDR_LINK_LOCAL)
		return "no route to the broker: a link-local address has no gateway";
	if (!sc_dongle_gateway_ok(u))
		return "no route to the broker: the gateway does not answer";
	return "no route to the broker: no internet";
}

static void set_address(struct sc_dongle *u, enum sc_addr_state st, uint32_t a, int prefix,
			uint32_t gw, uint32_t dns, struct sc_dongle_events *ev)
{
	bool had = sc_dongle_has_address(u);
	uint32_t old = u->addr;
	u->addr_state = st;
	u->addr = a;
	u->prefix = prefix;
	u->gateway = gw;
	u->dns = dns;
	bool has = sc_dongle_has_address(u);
	/* A new address replacing one (a DHCP lease after link-local, the
	 * access point's after a lease) is an address taken too (dongle.h). */
	if (ev && has && (!had || a != old))
		ev->network_up = true;
	if (ev && had && !has)
		ev->network_down = true;
}

static void drop_address(struct sc_dongle *u, struct sc_dongle_events *ev)
{
	u->dhcp_attempt = 0;
	set_address(u, SC_ADDR_NONE, 0, 0, 0, 0, ev);
}

/* Brings the active interface up: a static address at once, or DHCP. */
static void net_start(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	u->net_started = true;
	if (u->ap_mode && u->running.netif == SC_NETIF_WIFI && u->running.ssid[0] &&
	    u->env.wifi_in_range) {
		/* Manual §5.1: AP mode ends once the Wi-Fi client connects. */
		u->ap_mode = false;
		if (ev)
			ev->ap_changed = true;
	}
	if (u->ap_mode) {
		set_address(u, SC_ADDR_STATIC, SC_DONGLE_AP_ADDR, 24, 0, 0, ev);
		return;
	}
	if (!sc_dongle_link(u)) {
		drop_address(u, ev);
		return;
	}
	const struct sc_config_if *i = active_if(u);
	if (i->mode == SC_IPMODE_STATIC) {
		set_address(u, SC_ADDR_STATIC, i->st.addr, i->st.prefix, i->st.gateway, i->st.dns, ev);
		return;
	}
	set_address(u, SC_ADDR_NONE, 0, 0, 0, 0, ev);
	u->dhcp_attempt = 1;
	u->dhcp_answered = u->env.dhcp_server;
	u->dhcp_next_ms = now_ms + (u->dhcp_answered ? SC_DONGLE_DHCP_LEASE_MS : SC_DONGLE_DHCP_ATTEMPT_MS);
}

/* The current DHCP attempt ends: a lease, another attempt, or link-local. */
static void dhcp_step(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	while (u->dhcp_attempt > 0 && now_ms >= u->dhcp_next_ms) {
		int64_t at = u->dhcp_next_ms;
		if (u->dhcp_answered) {
			/* The server leases by MAC: each interface its own address. */
			uint32_t host = 100 + mac_hash(u->mac[u->running.netif == SC_NETIF_WIFI]) % 100;
			set_address(u, SC_ADDR_DHCP, LAN_NET | host, 24, LAN_GW, LAN_GW, ev);
			u->dhcp_attempt = 0;
			return;
		}
		if (u->addr_state == SC_ADDR_NONE && u->dhcp_attempt >= SC_DONGLE_DHCP_ATTEMPTS) {
			/* Manual §5.1: after 3 attempts, a link-local (APIPA) address. */
			uint32_t h = mac_hash(u->mac[u->running.netif == SC_NETIF_WIFI]);
			uint32_t a = 0xA9FE0000u | (1 + h % 254) << 8 | (h >> 8) % 256;
			set_address(u, SC_ADDR_LINK_LOCAL, a, 16, 0, 0, ev);
		}
		/* DHCP goes on asking in the background. */
		u->dhcp_attempt++;
		u->dhcp_answered = u->env.dhcp_server;
		u->dhcp_next_ms = at + (u->dhcp_answered ? SC_DONGLE_DHCP_LEASE_MS : SC_DONGLE_DHCP_ATTEMPT_MS);
	}
}

/* ---- phases ---- */

static void begin_power_up(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	u->phase = SC_PHASE_POWER_UP;
	u->phase_ms = now_ms;
	u->boot_ms = now_ms;
	u->starts++;
	u->net_started = false;
	/* Access-point mode stays across a restart: the installer configures
	 * Wi-Fi through it and restarts; it ends when the Wi-Fi client
	 * connects (net_start) or at a factory reset. */
	drop_address(u, ev);
	u->running = u->saved;
}

void sc_dongle_init(struct sc_dongle *u, const char *serial, const struct sc_config *factory,
		  const struct sc_config *saved, bool configured,
		  const struct sc_fw_version *firmware, bool booted, int64_t now_ms)
{
	memset(u, 0, sizeof *u);
	size_t n = strlen(serial);
	if (n >= sizeof u->serial)
		n = sizeof u->serial - 1;
	memcpy(u->serial, serial, n);
	derive_macs(u);
	u->factory = *factory;
	u->saved = saved ? *saved : *factory;
	u->configured = configured;
	sc_fw_init(&u->fw, firmware);
	u->env = (struct sc_dongle_env){true, true, true, true, true};
	begin_power_up(u, now_ms, NULL);
	if (booted) {
		u->phase = SC_PHASE_RUNNING;
		net_start(u, now_ms, NULL);
		if (u->dhcp_attempt > 0 && u->dhcp_answered)
			dhcp_step(u, u->dhcp_next_ms, NULL);
	}
}

void sc_dongle_step(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	clear_events(ev);
	if (u->phase == SC_PHASE_POWER_UP && now_ms >= u->phase_ms + SC_DONGLE_POWER_UP_MS) {
		u->phase = SC_PHASE_INITIALISING;
		u->phase_ms += SC_DONGLE_POWER_UP_MS;
		if (u->pending_firmware_boot) {
			/* The new image is what booted. */
			sc_fw_booted(&u->fw, u->phase_ms);
			u->pending_firmware_boot = false;
			if (ev)
				ev->firmware_changed = true;
		}
		net_start(u, u->phase_ms, ev);
	}
	if (u->phase == SC_PHASE_INITIALISING && now_ms >= u->phase_ms + SC_DONGLE_INIT_MS) {
		u->phase = SC_PHASE_RUNNING;
		u->phase_ms += SC_DONGLE_INIT_MS;
		if (ev)
			ev->services_up = true;
	}
	if (u->phase != SC_PHASE_POWER_UP)
		dhcp_step(u, now_ms, ev);
	if (u->button_down) {
		int64_t held = now_ms - u->button_since_ms;
		if (held >= SC_DONGLE_BUTTON_AP_MS && !u->button_ap_done) {
			u->button_ap_done = true;
			/* Manual §2.4/§5.1: AP mode from factory state only. */
			if (!u->configured && !u->ap_mode) {
				u->ap_mode = true;
				u->dhcp_attempt = 0;
				if (ev)
					ev->ap_changed = true;
				set_address(u, SC_ADDR_STATIC, SC_DONGLE_AP_ADDR, 24, 0, 0, ev);
			}
		}
		if (held >= SC_DONGLE_BUTTON_FACTORY_MS && !u->button_factory_done) {
			u->button_factory_done = true;
			sc_dongle_factory_reset(u, u->button_since_ms + SC_DONGLE_BUTTON_FACTORY_MS, ev);
		}
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int64_t sc_dongle_next_ms(const struct sc_dongle *u, int64_t now_ms)
{
	(void)now_ms;
	int64_t t = -1;
	if (u->phase == SC_PHASE_POWER_UP)
		t = earliest(t, u->phase_ms + SC_DONGLE_POWER_UP_MS);
	else if (u->phase == SC_PHASE_INITIALISING)
		t = earliest(t, u->phase_ms + SC_DONGLE_INIT_MS);
	if (u->dhcp_attempt > 0)
		t = earliest(t, u->dhcp_next_ms);
	if (u->button_down) {
		if (!u->button_ap_done)
			t = earliest(t, u->button_since_ms + SC_DONGLE_BUTTON_AP_MS);
		else if (!u->button_factory_done)
			t = earliest(t, u->button_since_ms + SC_DONGLE_BUTTON_FACTORY_MS);
	}
	return t;
}

/* ---- actions ---- */

static bool same_network_and_mqtt(const struct sc_config *a, const struct sc_config *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

void sc_dongle_soft_reset(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	/* A software reset: the firmware restarts, comes up through power-up
	 * and initialising, and reconnects the network with what was saved. */
	if (ev)
		ev->soft_reset = true;
	sc_dongle_restart(u, now_ms, ev);
}

void sc_dongle_restart(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	if (ev)
		ev->services_down = true;
	bool changed = !same_network_and_mqtt(&u->running, &u->saved);
	begin_power_up(u, now_ms, ev);
	if (ev && changed)
		ev->config_applied = true;
}

void sc_dongle_factory_reset(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	/* ap_changed only when AP mode is left (dongle.h: "entered or left"). */
	bool was_ap = u->ap_mode;
	u->saved = u->factory;
	u->configured = false;
	u->ap_mode = false;
	u->button_down = false;
	if (ev) {
		ev->factory_reset = true;
		if (was_ap)
			ev->ap_changed = true;
	}
	sc_dongle_restart(u, now_ms, ev);
}

void sc_dongle_firmware_restart(struct sc_dongle *u, int64_t now_ms, struct sc_dongle_events *ev)
{
	u->pending_firmware_boot = true;
	sc_dongle_restart(u, now_ms, ev);
}

void sc_dongle_button(struct sc_dongle *u, bool down, int64_t now_ms, struct sc_dongle_events *ev)
{
	if (down) {
		if (u->button_down)
			return;
		u->button_down = true;
		u->button_since_ms = now_ms;
		u->button_ap_done = u->button_factory_done = false;
		return;
	}
	if (!u->button_down)
		return;
	/* What the hold reached while down happens first (sc_dongle_step),
	 * added to what the caller has collected already. */
	_Static_assert(sizeof(struct sc_dongle_events) == 9 * sizeof(bool),
		       "sc_dongle_events holds bools only");
	struct sc_dongle_events held;
	sc_dongle_step(u, now_ms, &held);
	if (ev) {
		bool *dst = (bool *)ev;
		const bool *src = (const bool *)&held;
		for (size_t i = 0; i < sizeof held / sizeof(bool); i++)
			dst[i] |= src[i];
	}
	u->button_down = false;
	if (now_ms - u->button_since_ms < SC_DONGLE_BUTTON_SOFT_MS)
		sc_dongle_soft_reset(u, now_ms, ev);
}

void sc_dongle_set_env(struct sc_dongle *u, const struct sc_dongle_env *env, int64_t now_ms,
		     struct sc_dongle_events *ev)
{
	bool link_before = sc_dongle_link(u);
	u->env = *env;
	bool link_after = sc_dongle_link(u);
	if (!u->net_started)
		return;
	if (link_before && !link_after)
		drop_address(u, ev);
	else if (!link_before && link_after)
		net_start(u, now_ms, ev);
	else if (u->dhcp_attempt > 0 && env->dhcp_server && !u->dhcp_answered &&
		 u->addr_state == SC_ADDR_NONE) {
		/* A server that appears answers the attempt in progress. */
		u->dhcp_answered = true;
		if (u->dhcp_next_ms > now_ms + SC_DONGLE_DHCP_LEASE_MS)
			u->dhcp_next_ms = now_ms + SC_DONGLE_DHCP_LEASE_MS;
	}
}

void sc_dongle_saved(struct sc_dongle *u, const struct sc_config *c)
{
	u->saved = *c;
	u->configured = true;
}

/* ---- views ---- */

bool sc_dongle_services_on(const struct sc_dongle *u)
{
	return u->phase == SC_PHASE_RUNNING;
}

bool sc_dongle_restart_pending(const struct sc_dongle *u)
{
	return !same_network_and_mqtt(&u->running, &u->saved);
}

void sc_dongle_led(const struct sc_dongle *u, enum sc_meter_link link, int64_t now_ms,
		 struct sc_led *out)
{
	static const char *const cycle[] = {"red", "green", "blue"};
	/* 1 Hz: the first colour for the first half of each second. */
	bool first = (now_ms % 1000 + 1000) % 1000 < 500;
	if (u->phase == SC_PHASE_POWER_UP) {
		*out = (struct sc_led){SC_LED_POWER_UP, "power-up", "red", "steady"};
		return;
	}
	if (u->phase == SC_PHASE_INITIALISING) {
		int64_t k = (now_ms - u->phase_ms) / 500;
		*out = (struct sc_led){SC_LED_INITIALISING, "initialising", cycle[(k % 3 + 3) % 3],
				       "cycling"};
		return;
	}
	bool no_data = link != SC_LINK_OK;
	/* Manual §7 lists "no IP via DHCP" among the causes of green/orange;
	 * §5.1 says DHCP failing ends in a link-local address: the LED says
	 * "no IP" for it too (docs/developer/decisions.md), unless switched. */
	bool no_ip = !sc_dongle_has_address(u) ||
		     (!u->ap_mode && u->addr_state == SC_ADDR_LINK_LOCAL && !u->led_link_local_normal);
	if (u->ap_mode && no_data)
		*out = (struct sc_led){SC_LED_NO_DATA_AP, "no-data-ap", first ? "blue" : "red",
				       "alternating 1 Hz"};
	else if (u->ap_mode)
		*out = (struct sc_led){SC_LED_AP, "ap", first ? "blue" : "off", "blinking"};
	else if (no_data && no_ip)
		*out = (struct sc_led){SC_LED_NO_DATA_NO_IP, "no-data-no-ip", first ? "red" : "orange",
				       "alternating 1 Hz"};
	else if (no_data)
		*out = (struct sc_led){SC_LED_NO_DATA, "no-data", first ? "red" : "green",
				       "alternating 1 Hz"};
	else if (no_ip)
		*out = (struct sc_led){SC_LED_NO_IP, "no-ip", first ? "green" : "orange",
				       "alternating 1 Hz"};
	else
		*out = (struct sc_led){SC_LED_NORMAL, "normal", "green", "steady"};
}
