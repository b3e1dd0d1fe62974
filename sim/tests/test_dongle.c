/* The dongle model (dongle.h): power-up and restarts, soft reset, the
 * network (DHCP, link-local, static, Wi-Fi, access-point mode), the
 * environment, the button and the LED (SMART-CONNECT.md §2-§3, manual §2.3,
 * §2.4, §5.1), all on an injected clock with exact boundaries. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "dongle.h"
#include "firmware.h"

#define T0 1751360400000LL /* a whole second: LED halves start here */
#define SERIAL "XMX0012345"

static const struct sc_fw_version FW = {5, 3, 0};

static struct sc_config factory_cfg(void)
{
	struct sc_config c;
	sc_config_defaults(&c);
	return c;
}

static struct sc_config static_cfg(void)
{
	struct sc_config c = factory_cfg();
	c.eth.mode = SC_IPMODE_STATIC;
	c.eth.st.addr = 0xC0A80A65u;    /* 192.168.10.101 */
	c.eth.st.prefix = 24;
	c.eth.st.gateway = 0xC0A80A01u; /* 192.168.10.1 */
	c.eth.st.dns = 0xC0A80A01u;
	return c;
}

static struct sc_config wifi_cfg(const char *ssid)
{
	struct sc_config c = factory_cfg();
	c.netif = SC_NETIF_WIFI;
	snprintf(c.ssid, sizeof c.ssid, "%s", ssid);
	snprintf(c.psk, sizeof c.psk, "%s", "Xem3x123");
	return c;
}

/* A dongle in factory state (saved NULL) or with cfg saved. */
static void init(struct sc_dongle *u, const struct sc_config *cfg, bool booted, int64_t now)
{
	struct sc_config f = factory_cfg();
	sc_dongle_init(u, SERIAL, &f, cfg, cfg != NULL, &FW, booted, now);
}

static bool no_events(const struct sc_dongle_events *e)
{
	static const struct sc_dongle_events none;
	return memcmp(e, &none, sizeof none) == 0;
}

static void or_events(struct sc_dongle_events *acc, const struct sc_dongle_events *e)
{
	acc->services_down |= e->services_down;
	acc->services_up |= e->services_up;
	acc->network_up |= e->network_up;
	acc->network_down |= e->network_down;
	acc->soft_reset |= e->soft_reset;
	acc->config_applied |= e->config_applied;
	acc->firmware_changed |= e->firmware_changed;
	acc->factory_reset |= e->factory_reset;
	acc->ap_changed |= e->ap_changed;
}

static struct sc_dongle_events step(struct sc_dongle *u, int64_t t)
{
	struct sc_dongle_events e;
	memset(&e, 0xFF, sizeof e); /* step must say everything, not only set */
	sc_dongle_step(u, t, &e);
	return e;
}

static struct sc_dongle_events act_soft(struct sc_dongle *u, int64_t t)
{
	struct sc_dongle_events e;
	memset(&e, 0, sizeof e);
	sc_dongle_soft_reset(u, t, &e);
	return e;
}

static struct sc_dongle_events act_restart(struct sc_dongle *u, int64_t t)
{
	struct sc_dongle_events e;
	memset(&e, 0, sizeof e);
	sc_dongle_restart(u, t, &e);
	return e;
}

static struct sc_dongle_events act_env(struct sc_dongle *u, struct sc_dongle_env env, int64_t t)
{
	struct sc_dongle_events e;
	memset(&e, 0, sizeof e);
	sc_dongle_set_env(u, &env, t, &e);
	return e;
}

static struct sc_dongle_events button(struct sc_dongle *u, bool down, int64_t t)
{
	struct sc_dongle_events e;
	memset(&e, 0, sizeof e);
	sc_dongle_button(u, down, t, &e);
	return e;
}

/* Drives the dongle as the caller does: a step at every sc_dongle_next_ms
 * up to until, then one at until. Every next time lies after the step just
 * made. Returns the events of all of them together. */
static struct sc_dongle_events run(struct sc_dongle *u, int64_t from, int64_t until)
{
	struct sc_dongle_events acc;
	memset(&acc, 0, sizeof acc);
	int64_t last = from;
	for (int guard = 0;; guard++) {
		cr_assert_lt(guard, 10000, "sc_dongle_next_ms keeps returning times");
		int64_t t = sc_dongle_next_ms(u, last);
		if (t < 0 || t > until)
			break;
		cr_assert_geq(t, last, "next %lld is before now %lld", (long long)t,
			      (long long)last);
		struct sc_dongle_events e = step(u, t);
		or_events(&acc, &e);
		int64_t n = sc_dongle_next_ms(u, t);
		cr_assert(n < 0 || n > t, "after a step at %lld the next is %lld", (long long)t,
			  (long long)n);
		last = t;
	}
	struct sc_dongle_events e = step(u, until);
	or_events(&acc, &e);
	return acc;
}

static bool is_link_local(uint32_t a)
{
	/* RFC 3927 §2.1: 169.254.1.0 - 169.254.254.255. */
	return (a >> 16) == 0xA9FEu && ((a >> 8) & 0xFF) >= 1 && ((a >> 8) & 0xFF) <= 254;
}

static struct sc_dongle_env env_all(void)
{
	return (struct sc_dongle_env){true, true, true, true, true};
}

/* ---- names ---- */

Test(dongle, names)
{
	cr_assert_str_eq(sc_phase_name(SC_PHASE_POWER_UP), "power-up");
	cr_assert_str_eq(sc_phase_name(SC_PHASE_INITIALISING), "initialising");
	cr_assert_str_eq(sc_phase_name(SC_PHASE_RUNNING), "running");
	cr_assert_str_eq(sc_addr_state_name(SC_ADDR_NONE), "none");
	cr_assert_str_eq(sc_addr_state_name(SC_ADDR_DHCP), "dhcp");
	cr_assert_str_eq(sc_addr_state_name(SC_ADDR_STATIC), "static");
	cr_assert_str_eq(sc_addr_state_name(SC_ADDR_LINK_LOCAL), "link-local");
}

/* ---- starting ---- */

Test(dongle, booted_serves_at_once)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	cr_assert_str_eq(u.serial, SERIAL);
	cr_assert_eq(u.phase, SC_PHASE_RUNNING);
	cr_assert(sc_dongle_services_on(&u));
	cr_assert_not(u.configured);
	cr_assert(sc_dongle_link(&u));
	cr_assert(sc_dongle_has_address(&u));
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	cr_assert_neq(u.addr, 0);
	cr_assert_neq(u.gateway, 0);
	cr_assert(u.prefix > 0 && u.prefix <= 32);
	cr_assert(sc_dongle_gateway_ok(&u));
	cr_assert(sc_dongle_internet_ok(&u));
	cr_assert_not(u.ap_mode);
	cr_assert_not(sc_dongle_restart_pending(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, T0), -1, "nothing is due");
	cr_assert_eq(u.boot_ms, T0);
	cr_assert_eq(u.starts, 1);
	struct sc_config f = factory_cfg();
	cr_assert(memcmp(&u.saved, &f, sizeof f) == 0, "factory state: the factory settings");
	cr_assert(memcmp(&u.running, &f, sizeof f) == 0);
	cr_assert_eq(sc_fw_cmp(&u.fw.version, &FW), 0);
	cr_assert_eq(u.fw.state, SC_FW_IDLE);
	struct sc_led led;
	sc_dongle_led(&u, SC_LINK_OK, T0, &led);
	cr_assert_eq(led.state, SC_LED_NORMAL);
}

Test(dongle, booted_with_a_static_address)
{
	struct sc_dongle u;
	struct sc_config c = static_cfg();
	init(&u, &c, true, T0);
	cr_assert(u.configured);
	cr_assert_eq(u.addr_state, SC_ADDR_STATIC);
	cr_assert_eq(u.addr, 0xC0A80A65u);
	cr_assert_eq(u.prefix, 24);
	cr_assert_eq(u.gateway, 0xC0A80A01u);
	cr_assert_eq(u.dns, 0xC0A80A01u);
	cr_assert(sc_dongle_gateway_ok(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, T0), -1);
	cr_assert(memcmp(&u.running, &c, sizeof c) == 0, "the saved settings are in force");
}

Test(dongle, power_up_initialising_running)
{
	struct sc_dongle u;
	struct sc_led led;
	init(&u, NULL, false, T0);
	cr_assert_eq(u.phase, SC_PHASE_POWER_UP);
	cr_assert_not(sc_dongle_services_on(&u));
	cr_assert_not(sc_dongle_has_address(&u));
	cr_assert_eq(u.boot_ms, T0);
	cr_assert_eq(sc_dongle_next_ms(&u, T0), T0 + SC_DONGLE_POWER_UP_MS);
	for (int64_t t = T0; t < T0 + 1000; t += 111) {
		sc_dongle_led(&u, SC_LINK_OK, t, &led);
		cr_assert_eq(led.state, SC_LED_POWER_UP);
		cr_assert_str_eq(led.name, "power-up");
		cr_assert_str_eq(led.colour, "red");
		cr_assert_str_eq(led.pattern, "steady");
	}
	/* The LED says power-up whatever the meter does. */
	sc_dongle_led(&u, SC_LINK_NEVER, T0 + 600, &led);
	cr_assert_eq(led.state, SC_LED_POWER_UP);

	struct sc_dongle_events e = step(&u, T0 + 999);
	cr_assert(no_events(&e));
	cr_assert_eq(u.phase, SC_PHASE_POWER_UP);

	/* 1 s: initialising, the network comes up (DHCP asks). */
	e = step(&u, T0 + 1000);
	cr_assert_eq(u.phase, SC_PHASE_INITIALISING);
	cr_assert_not(e.services_up);
	cr_assert_not(e.network_up, "a lease takes its time");
	cr_assert_not(sc_dongle_services_on(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, T0 + 1000), T0 + 1000 + SC_DONGLE_DHCP_LEASE_MS);
	sc_dongle_led(&u, SC_LINK_OK, T0 + 1000, &led);
	cr_assert_eq(led.state, SC_LED_INITIALISING);
	cr_assert_str_eq(led.name, "initialising");
	cr_assert_str_eq(led.pattern, "cycling");

	e = step(&u, T0 + 1299);
	cr_assert(no_events(&e));
	cr_assert_not(sc_dongle_has_address(&u));
	e = step(&u, T0 + 1300);
	cr_assert(e.network_up);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	cr_assert_eq(u.phase, SC_PHASE_INITIALISING);
	cr_assert_eq(sc_dongle_next_ms(&u, T0 + 1300), T0 + 1000 + SC_DONGLE_INIT_MS);

	/* The colours cycle through initialising. */
	const char *seen[8] = {0};
	int distinct = 0;
	for (int64_t t = T0 + 1000; t < T0 + 5000; t += 100) {
		sc_dongle_led(&u, SC_LINK_OK, t, &led);
		cr_assert_eq(led.state, SC_LED_INITIALISING);
		cr_assert_str_neq(led.colour, "off");
		int k = 0;
		while (k < distinct && strcmp(seen[k], led.colour) != 0)
			k++;
		if (k == distinct && distinct < 8)
			seen[distinct++] = led.colour;
	}
	cr_assert_geq(distinct, 2, "cycling shows more than one colour");

	/* 5 s: running, services up, once. */
	e = step(&u, T0 + 4999);
	cr_assert(no_events(&e));
	cr_assert_eq(u.phase, SC_PHASE_INITIALISING);
	e = step(&u, T0 + 5000);
	cr_assert(e.services_up);
	cr_assert_not(e.services_down);
	cr_assert_eq(u.phase, SC_PHASE_RUNNING);
	cr_assert(sc_dongle_services_on(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, T0 + 5000), -1);
	e = step(&u, T0 + 9000);
	cr_assert(no_events(&e), "services come up once");
	sc_dongle_led(&u, SC_LINK_OK, T0 + 5000, &led);
	cr_assert_eq(led.state, SC_LED_NORMAL);
}

Test(dongle, power_up_in_one_long_step)
{
	/* A clock that jumps past every boundary gives the same end state and
	 * every event on the way. */
	struct sc_dongle u;
	init(&u, NULL, false, T0);
	struct sc_dongle_events e = step(&u, T0 + 60000);
	cr_assert(e.services_up);
	cr_assert(e.network_up);
	cr_assert_eq(u.phase, SC_PHASE_RUNNING);
	cr_assert_eq(u.phase_ms, T0 + 5000, "running since 5 s, not since the step");
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
}

Test(dongle, power_up_with_a_static_address)
{
	struct sc_dongle u;
	struct sc_config c = static_cfg();
	init(&u, &c, false, T0);
	struct sc_dongle_events e = step(&u, T0 + 999);
	cr_assert_not(sc_dongle_has_address(&u));
	e = step(&u, T0 + 1000);
	cr_assert(e.network_up, "a static address is applied at once");
	cr_assert_eq(u.addr_state, SC_ADDR_STATIC);
	cr_assert_eq(u.addr, 0xC0A80A65u);
	cr_assert_eq(sc_dongle_next_ms(&u, T0 + 1000), T0 + 5000);
}

/* ---- restarts ---- */

Test(dongle, full_restart)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	const int64_t t1 = T0 + 3600000;
	struct sc_dongle_events e = act_restart(&u, t1);
	cr_assert(e.services_down);
	cr_assert(e.network_down);
	cr_assert_not(e.services_up);
	cr_assert_not(e.config_applied, "nothing was changed");
	cr_assert_not(e.firmware_changed);
	cr_assert_not(e.factory_reset);
	cr_assert_eq(u.phase, SC_PHASE_POWER_UP);
	cr_assert_not(sc_dongle_services_on(&u));
	cr_assert_not(sc_dongle_has_address(&u));
	cr_assert_eq(u.boot_ms, t1, "uptime starts over");
	cr_assert_eq(u.starts, 2);
	cr_assert_eq(sc_dongle_next_ms(&u, t1), t1 + 1000);

	e = run(&u, t1, t1 + 4999);
	cr_assert_not(e.services_up);
	cr_assert(e.network_up);
	cr_assert_eq(u.phase, SC_PHASE_INITIALISING);
	e = step(&u, t1 + 5000);
	cr_assert(e.services_up);
	cr_assert_not(e.firmware_changed, "no firmware was installed");
	cr_assert(sc_dongle_services_on(&u));
	cr_assert_eq(sc_fw_cmp(&u.fw.version, &FW), 0);
}

Test(dongle, restart_applies_the_saved_settings)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_config c = static_cfg();
	snprintf(c.site, sizeof c.site, "%s", "garage");
	sc_dongle_saved(&u, &c);
	cr_assert(u.configured);
	cr_assert(sc_dongle_restart_pending(&u));
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP, "network settings wait for a reset");
	cr_assert_str_eq(u.running.site, "");
	struct sc_dongle_events e = act_restart(&u, T0 + 10000);
	cr_assert(e.services_down);
	cr_assert(e.config_applied);
	cr_assert(memcmp(&u.running, &c, sizeof c) == 0);
	cr_assert_not(sc_dongle_restart_pending(&u));
	run(&u, T0 + 10000, T0 + 16000);
	cr_assert_eq(u.addr_state, SC_ADDR_STATIC);
	cr_assert_eq(u.addr, 0xC0A80A65u);
	cr_assert(u.configured, "a restart keeps the saved configuration");
}

Test(dongle, firmware_restart_boots_the_new_version)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_fw_version target = {5, 4, 1};
	char why[64];
	cr_assert_eq(sc_fw_start(&u.fw, &target, T0, why, sizeof why), 0);
	const int64_t t1 = T0 + SC_FW_DOWNLOAD_MS + SC_FW_VERIFY_MS + SC_FW_INSTALL_MS;
	cr_assert_not(sc_fw_step(&u.fw, t1 - 1));
	cr_assert(sc_fw_step(&u.fw, t1));
	struct sc_dongle_events e;
	memset(&e, 0, sizeof e);
	sc_dongle_firmware_restart(&u, t1, &e);
	cr_assert(e.services_down);
	cr_assert_not(e.firmware_changed, "the new image has not booted yet");
	cr_assert_eq(u.phase, SC_PHASE_POWER_UP);
	cr_assert_eq(sc_fw_cmp(&u.fw.version, &FW), 0);

	e = step(&u, t1 + 999);
	cr_assert_not(e.firmware_changed);
	cr_assert_eq(sc_fw_cmp(&u.fw.version, &FW), 0);
	e = step(&u, t1 + 1000);
	cr_assert(e.firmware_changed, "it changes when the device boots");
	cr_assert_eq(sc_fw_cmp(&u.fw.version, &target), 0);
	cr_assert_eq(u.fw.state, SC_FW_IDLE);
	cr_assert(u.fw.have_last);
	cr_assert_eq(sc_fw_cmp(&u.fw.last_from, &FW), 0);
	cr_assert_eq(sc_fw_cmp(&u.fw.last_to, &target), 0);
	cr_assert_eq(u.fw.last_at_ms, t1 + 1000);

	e = run(&u, t1 + 1000, t1 + 4999);
	cr_assert_not(e.firmware_changed);
	cr_assert_not(e.services_up);
	e = step(&u, t1 + 5000);
	cr_assert(e.services_up);
	cr_assert_not(e.firmware_changed, "once");
	/* A later plain restart installs nothing. */
	e = act_restart(&u, t1 + 60000);
	e = run(&u, t1 + 60000, t1 + 70000);
	cr_assert(e.services_up);
	cr_assert_not(e.firmware_changed);
}

/* ---- soft reset ---- */

Test(dongle, soft_reset_restarts_the_firmware)
{
	/* Manual §5.2 "soft reset, reconnect network": a software restart
	 * through power-up and initialising, the network taken again. */
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	const int64_t t1 = T0 + 20000;
	struct sc_dongle_events e = act_soft(&u, t1);
	cr_assert(e.soft_reset);
	cr_assert(e.services_down);
	cr_assert(e.network_down);
	cr_assert_not(e.config_applied, "nothing was saved");
	cr_assert_not(sc_dongle_services_on(&u));
	cr_assert_eq(u.phase, SC_PHASE_POWER_UP);
	cr_assert_eq(u.boot_ms, t1, "uptime starts over");
	cr_assert_eq(u.starts, 2);
	cr_assert_not(sc_dongle_has_address(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, t1), t1 + SC_DONGLE_POWER_UP_MS);
	e = step(&u, t1 + SC_DONGLE_POWER_UP_MS);
	cr_assert_eq(u.phase, SC_PHASE_INITIALISING);
	/* DHCP asks again while initialising. */
	e = step(&u, t1 + SC_DONGLE_POWER_UP_MS + SC_DONGLE_DHCP_LEASE_MS);
	cr_assert(e.network_up);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	cr_assert(sc_dongle_gateway_ok(&u));
	e = step(&u, t1 + SC_DONGLE_POWER_UP_MS + SC_DONGLE_INIT_MS);
	cr_assert(e.services_up);
	cr_assert(sc_dongle_services_on(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, t1 + SC_DONGLE_POWER_UP_MS + SC_DONGLE_INIT_MS), -1);
}

Test(dongle, soft_reset_applies_the_saved_settings)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_config c = static_cfg();
	snprintf(c.broker, sizeof c.broker, "%s", "mqtts://broker.example.com:8883");
	sc_dongle_saved(&u, &c);
	cr_assert(sc_dongle_restart_pending(&u));
	const int64_t t1 = T0 + 20000;
	struct sc_dongle_events e = act_soft(&u, t1);
	cr_assert(e.soft_reset);
	cr_assert(e.config_applied);
	cr_assert(memcmp(&u.running, &c, sizeof c) == 0);
	cr_assert_not(sc_dongle_restart_pending(&u));
	cr_assert_not(sc_dongle_has_address(&u));
	e = step(&u, t1 + SC_DONGLE_POWER_UP_MS - 1);
	cr_assert_not(sc_dongle_has_address(&u));
	e = step(&u, t1 + SC_DONGLE_POWER_UP_MS);
	cr_assert(e.network_up, "the static address as soon as the network comes up");
	cr_assert_eq(u.addr_state, SC_ADDR_STATIC);
	cr_assert_eq(u.addr, 0xC0A80A65u);
	run(&u, t1, t1 + 10000);
	/* A second soft reset has nothing left to apply. */
	e = act_soft(&u, t1 + 10000);
	cr_assert(e.soft_reset);
	cr_assert_not(e.config_applied);
}

/* ---- DHCP ---- */

Test(dongle, dhcp_fails_over_to_link_local)
{
	struct sc_dongle u;
	init(&u, NULL, false, T0);
	struct sc_dongle_env env = env_all();
	env.dhcp_server = false;
	act_env(&u, env, T0);
	/* Three attempts of 4 s from the network's start at 1 s. */
	const int64_t start = T0 + SC_DONGLE_POWER_UP_MS;
	const int64_t ll = start + SC_DONGLE_DHCP_ATTEMPTS * SC_DONGLE_DHCP_ATTEMPT_MS;
	struct sc_dongle_events e = run(&u, T0, start + 4000 - 1);
	cr_assert_not(e.network_up);
	cr_assert_eq(u.dhcp_attempt, 1);
	e = run(&u, start + 4000 - 1, start + 8000 - 1);
	cr_assert(e.services_up, "services run without an address");
	cr_assert_eq(u.dhcp_attempt, 2);
	e = run(&u, start + 8000 - 1, ll - 1);
	cr_assert_eq(u.dhcp_attempt, 3);
	cr_assert_not(e.network_up);
	cr_assert_not(sc_dongle_has_address(&u));
	cr_assert_eq(u.addr_state, SC_ADDR_NONE);
	cr_assert_eq(sc_dongle_next_ms(&u, ll - 1), ll);

	e = step(&u, ll);
	cr_assert(e.network_up);
	cr_assert_eq(u.addr_state, SC_ADDR_LINK_LOCAL);
	cr_assert(sc_dongle_has_address(&u));
	cr_assert(is_link_local(u.addr), "%08x", u.addr);
	cr_assert_eq(u.prefix, 16);
	cr_assert_not(sc_dongle_gateway_ok(&u), "link-local has no gateway");
	cr_assert_not(sc_dongle_internet_ok(&u));
	/* DHCP goes on asking in the background. */
	int64_t next = sc_dongle_next_ms(&u, ll);
	cr_assert_gt(next, ll);
	cr_assert_leq(next, ll + SC_DONGLE_DHCP_ATTEMPT_MS);
	e = run(&u, ll, ll + 60000);
	cr_assert_not(e.network_down, "the link-local address stays");
	cr_assert_eq(u.addr_state, SC_ADDR_LINK_LOCAL);
	cr_assert_gt(sc_dongle_next_ms(&u, ll + 60000), ll + 60000);
}

Test(dongle, the_attempts_keep_to_their_schedule)
{
	/* Stepped at every ms or at sc_dongle_next_ms only, or in one jump: the
	 * same state. */
	struct sc_dongle a, b, c;
	struct sc_dongle_env env = env_all();
	env.dhcp_server = false;
	init(&a, NULL, false, T0);
	init(&b, NULL, false, T0);
	init(&c, NULL, false, T0);
	act_env(&a, env, T0);
	act_env(&b, env, T0);
	act_env(&c, env, T0);
	const int64_t end = T0 + 21500;
	for (int64_t t = T0; t <= end; t++)
		step(&a, t);
	run(&b, T0, end);
	step(&c, end);
	const struct sc_dongle *v[] = {&a, &b, &c};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(v[i]->phase, SC_PHASE_RUNNING);
		cr_assert_eq(v[i]->phase_ms, T0 + 5000, "dongle %d", i);
		cr_assert_eq(v[i]->addr_state, SC_ADDR_LINK_LOCAL, "dongle %d", i);
		cr_assert_eq(v[i]->addr, a.addr);
		cr_assert_eq(sc_dongle_next_ms(v[i], end), sc_dongle_next_ms(&a, end), "dongle %d",
			     i);
	}
}

Test(dongle, link_local_addresses_stay_in_range)
{
	struct sc_dongle_env env = env_all();
	env.dhcp_server = false;
	for (int i = 0; i < 500; i++) {
		char serial[16];
		snprintf(serial, sizeof serial, "XMX%07d", i * 7919);
		struct sc_dongle u;
		struct sc_config f = factory_cfg();
		sc_dongle_init(&u, serial, &f, NULL, false, &FW, false, T0);
		act_env(&u, env, T0);
		step(&u, T0 + 13000);
		cr_assert_eq(u.addr_state, SC_ADDR_LINK_LOCAL, "%s", serial);
		cr_assert(is_link_local(u.addr), "%s: %u.%u.%u.%u", serial, u.addr >> 24,
			  (u.addr >> 16) & 255, (u.addr >> 8) & 255, u.addr & 255);
	}
}

Test(dongle, a_server_that_appears_later_gives_a_lease)
{
	struct sc_dongle u;
	init(&u, NULL, false, T0);
	struct sc_dongle_env env = env_all();
	env.dhcp_server = false;
	act_env(&u, env, T0);
	run(&u, T0, T0 + 14000);
	cr_assert_eq(u.addr_state, SC_ADDR_LINK_LOCAL);
	uint32_t ll = u.addr;

	env.dhcp_server = true;
	const int64_t appear = T0 + 15000;
	struct sc_dongle_events e = act_env(&u, env, appear);
	cr_assert_eq(u.addr_state, SC_ADDR_LINK_LOCAL, "a lease takes its time");
	/* At the latest the next attempt asks, and a lease takes 300 ms. */
	const int64_t latest = appear + SC_DONGLE_DHCP_ATTEMPT_MS + SC_DONGLE_DHCP_LEASE_MS;
	e = run(&u, appear, latest);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	cr_assert_neq(u.addr, ll);
	cr_assert_not(is_link_local(u.addr));
	cr_assert(sc_dongle_gateway_ok(&u));
	cr_assert(sc_dongle_internet_ok(&u));
	cr_assert(e.network_up, "an address was taken (dongle.h: network_up)");
	cr_assert_eq(sc_dongle_next_ms(&u, latest), -1, "leased: no more attempts");
}

Test(dongle, a_server_that_appears_during_the_attempts)
{
	struct sc_dongle u;
	init(&u, NULL, false, T0);
	struct sc_dongle_env env = env_all();
	env.dhcp_server = false;
	act_env(&u, env, T0);
	run(&u, T0, T0 + 6000); /* the second attempt, no address yet */
	cr_assert_eq(u.addr_state, SC_ADDR_NONE);
	env.dhcp_server = true;
	act_env(&u, env, T0 + 6000);
	struct sc_dongle_events e = run(&u, T0 + 6000, T0 + 9000 + SC_DONGLE_DHCP_LEASE_MS);
	cr_assert(e.network_up);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP, "a lease, not link-local");
}

/* ---- the environment ---- */

Test(dongle, cable_pulled_and_plugged)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_dongle_env env = env_all();
	env.ethernet_cable = false;
	const int64_t t1 = T0 + 10000;
	struct sc_dongle_events e = act_env(&u, env, t1);
	cr_assert(e.network_down);
	cr_assert_not(e.network_up);
	cr_assert_not(sc_dongle_link(&u));
	cr_assert_not(sc_dongle_has_address(&u));
	cr_assert_not(sc_dongle_gateway_ok(&u));
	cr_assert_not(sc_dongle_internet_ok(&u));
	cr_assert(sc_dongle_services_on(&u), "the services stay up without a network");
	cr_assert_eq(sc_dongle_next_ms(&u, t1), -1, "no link, nothing to try");
	e = run(&u, t1, t1 + 60000);
	cr_assert(no_events(&e));
	cr_assert_not(sc_dongle_has_address(&u));

	/* Plugged again: DHCP asks again. */
	const int64_t t2 = t1 + 60000;
	env.ethernet_cable = true;
	e = act_env(&u, env, t2);
	cr_assert_not(e.network_up);
	cr_assert(sc_dongle_link(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, t2), t2 + SC_DONGLE_DHCP_LEASE_MS);
	e = step(&u, t2 + 299);
	cr_assert_not(sc_dongle_has_address(&u));
	e = step(&u, t2 + 300);
	cr_assert(e.network_up);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
}

Test(dongle, cable_with_a_static_address)
{
	struct sc_dongle u;
	struct sc_config c = static_cfg();
	init(&u, &c, true, T0);
	struct sc_dongle_env env = env_all();
	env.ethernet_cable = false;
	struct sc_dongle_events e = act_env(&u, env, T0 + 1000);
	cr_assert(e.network_down);
	cr_assert_eq(u.addr_state, SC_ADDR_NONE);
	env.ethernet_cable = true;
	e = act_env(&u, env, T0 + 2000);
	cr_assert(e.network_up, "the static address at once");
	cr_assert_eq(u.addr, 0xC0A80A65u);
}

Test(dongle, gateway_and_internet)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_dongle_env env = env_all();
	cr_assert(sc_dongle_gateway_ok(&u));
	cr_assert(sc_dongle_internet_ok(&u));
	env.internet = false;
	struct sc_dongle_events e = act_env(&u, env, T0 + 1);
	cr_assert(no_events(&e), "the address stays");
	cr_assert(sc_dongle_gateway_ok(&u));
	cr_assert_not(sc_dongle_internet_ok(&u));
	env.gateway = false;
	env.internet = true;
	act_env(&u, env, T0 + 2);
	cr_assert_not(sc_dongle_gateway_ok(&u));
	cr_assert_not(sc_dongle_internet_ok(&u), "nothing beyond a gateway that is down");
	cr_assert(sc_dongle_has_address(&u));
	env.gateway = true;
	act_env(&u, env, T0 + 3);
	cr_assert(sc_dongle_internet_ok(&u));
	/* The DHCP server going away does not take a lease back. */
	env.dhcp_server = false;
	e = act_env(&u, env, T0 + 4);
	cr_assert_not(e.network_down);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);

	/* A static address without a gateway reaches neither. */
	struct sc_config c = static_cfg();
	c.eth.st.gateway = 0;
	init(&u, &c, true, T0);
	cr_assert(sc_dongle_has_address(&u));
	cr_assert_not(sc_dongle_gateway_ok(&u));
	cr_assert_not(sc_dongle_internet_ok(&u));
}

Test(dongle, wifi_without_ssid_has_no_link)
{
	struct sc_dongle u;
	struct sc_config c = wifi_cfg("");
	init(&u, &c, true, T0);
	cr_assert_not(sc_dongle_link(&u));
	cr_assert_not(sc_dongle_has_address(&u));
	cr_assert_eq(u.addr_state, SC_ADDR_NONE);
	cr_assert_not(sc_dongle_gateway_ok(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, T0), -1);
	/* The Ethernet cable is not the active interface. */
	struct sc_dongle_env env = env_all();
	env.ethernet_cable = false;
	struct sc_dongle_events e = act_env(&u, env, T0 + 100);
	cr_assert(no_events(&e));
	env.ethernet_cable = true;
	e = act_env(&u, env, T0 + 200);
	cr_assert(no_events(&e));
	cr_assert_not(sc_dongle_link(&u));
	/* Nor over a power-up. */
	init(&u, &c, false, T0);
	run(&u, T0, T0 + 30000);
	cr_assert_eq(u.phase, SC_PHASE_RUNNING);
	cr_assert_not(sc_dongle_has_address(&u));
}

Test(dongle, wifi_out_of_range_then_in_range)
{
	struct sc_dongle u;
	struct sc_config c = wifi_cfg("Home");
	init(&u, &c, false, T0);
	struct sc_dongle_env env = env_all();
	env.wifi_in_range = false;
	act_env(&u, env, T0);
	struct sc_dongle_events e = run(&u, T0, T0 + 20000);
	cr_assert(e.services_up);
	cr_assert_not(e.network_up);
	cr_assert_not(sc_dongle_link(&u));
	cr_assert_not(sc_dongle_has_address(&u));
	cr_assert_eq(sc_dongle_next_ms(&u, T0 + 20000), -1);

	env.wifi_in_range = true;
	e = act_env(&u, env, T0 + 21000);
	cr_assert(sc_dongle_link(&u));
	e = run(&u, T0 + 21000, T0 + 21000 + SC_DONGLE_DHCP_LEASE_MS);
	cr_assert(e.network_up);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);

	/* Out of range again: the address goes. */
	env.wifi_in_range = false;
	e = act_env(&u, env, T0 + 30000);
	cr_assert(e.network_down);
	cr_assert_not(sc_dongle_has_address(&u));
}

Test(dongle, wifi_in_range_when_booted)
{
	struct sc_dongle u;
	struct sc_config c = wifi_cfg("Home");
	init(&u, &c, true, T0);
	cr_assert(sc_dongle_link(&u));
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	/* Pulling the Ethernet cable does not touch Wi-Fi. */
	struct sc_dongle_env env = env_all();
	env.ethernet_cable = false;
	struct sc_dongle_events e = act_env(&u, env, T0 + 100);
	cr_assert_not(e.network_down);
	cr_assert(sc_dongle_has_address(&u));
}

/* ---- the button (manual §2.4) ---- */

/* Pressed at t for held ms, stepped as the caller does while it is down. */
static struct sc_dongle_events press(struct sc_dongle *u, int64_t t, int64_t held)
{
	struct sc_dongle_events e = button(u, true, t);
	cr_assert(no_events(&e), "pressing does nothing by itself");
	struct sc_dongle_events acc = run(u, t, t + held - 1);
	e = button(u, false, t + held);
	or_events(&acc, &e);
	return acc;
}

Test(dongle, button_short_press_soft_resets)
{
	const int64_t held[] = {50, 1900, 1999};
	for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) {
		struct sc_dongle u;
		init(&u, NULL, true, T0);
		const int64_t t1 = T0 + 10000;
		struct sc_dongle_events e = press(&u, t1, held[i]);
		cr_assert(e.soft_reset, "held %lld ms", (long long)held[i]);
		cr_assert(e.network_down);
		cr_assert_not(e.factory_reset);
		cr_assert_not(e.ap_changed);
		cr_assert_not(u.ap_mode);
		cr_assert(e.services_down, "a soft reset restarts the firmware");
		const int64_t up = t1 + held[i];
		cr_assert_eq(sc_dongle_next_ms(&u, up), up + SC_DONGLE_POWER_UP_MS);
		e = run(&u, up, up + SC_DONGLE_POWER_UP_MS + SC_DONGLE_INIT_MS);
		cr_assert(e.network_up);
		cr_assert(e.services_up);
		cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	}
}

Test(dongle, button_between_2_and_5_s_does_nothing)
{
	const int64_t held[] = {2000, 2100, 4900, 4999};
	for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) {
		struct sc_dongle u;
		init(&u, NULL, true, T0);
		struct sc_dongle_events e = press(&u, T0 + 10000, held[i]);
		cr_assert(no_events(&e), "held %lld ms", (long long)held[i]);
		cr_assert_not(u.ap_mode);
		cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
		cr_assert_eq(u.phase, SC_PHASE_RUNNING);
		cr_assert_eq(sc_dongle_next_ms(&u, T0 + 10000 + held[i]), -1);
	}
}

Test(dongle, button_5_s_from_factory_state_enters_ap_mode)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	const int64_t t1 = T0 + 10000;
	struct sc_dongle_events e = button(&u, true, t1);
	cr_assert_eq(sc_dongle_next_ms(&u, t1), t1 + SC_DONGLE_BUTTON_AP_MS);
	e = step(&u, t1 + 4999);
	cr_assert_not(e.ap_changed);
	cr_assert_not(u.ap_mode);
	e = step(&u, t1 + 5000);
	cr_assert(e.ap_changed);
	cr_assert(u.ap_mode);
	cr_assert_eq(u.addr, SC_DONGLE_AP_ADDR);
	cr_assert_eq(u.addr, 0xC0A84701u, "192.168.71.1");
	cr_assert(sc_dongle_has_address(&u));
	cr_assert(sc_dongle_link(&u));
	cr_assert_not(sc_dongle_gateway_ok(&u), "the device is the network");
	cr_assert_not(sc_dongle_internet_ok(&u));
	/* Still held: the factory reset is next. */
	cr_assert_eq(sc_dongle_next_ms(&u, t1 + 5000), t1 + SC_DONGLE_BUTTON_FACTORY_MS);
	e = button(&u, false, t1 + 5100);
	cr_assert_not(e.soft_reset);
	cr_assert_not(e.factory_reset);
	cr_assert_not(e.ap_changed, "entered once");
	cr_assert(u.ap_mode);
	cr_assert_eq(sc_dongle_next_ms(&u, t1 + 5100), -1);
	/* AP mode lasts. */
	e = run(&u, t1 + 5100, t1 + 600000);
	cr_assert(no_events(&e));
	cr_assert(u.ap_mode);
	cr_assert_eq(u.addr, SC_DONGLE_AP_ADDR);
}

Test(dongle, button_5_1_s_released_without_a_step_between)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	button(&u, true, T0 + 10000);
	struct sc_dongle_events e = button(&u, false, T0 + 15100);
	cr_assert(e.ap_changed);
	cr_assert_not(e.soft_reset);
	cr_assert(u.ap_mode);
	cr_assert_eq(u.addr, SC_DONGLE_AP_ADDR);
}

Test(dongle, button_5_1_s_configured_is_no_ap_mode)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_config c = factory_cfg();
	snprintf(c.site, sizeof c.site, "%s", "garage");
	sc_dongle_saved(&u, &c);
	cr_assert(u.configured);
	struct sc_dongle_events e = press(&u, T0 + 10000, 5100);
	cr_assert(no_events(&e));
	cr_assert_not(u.ap_mode, "AP mode from factory state only (manual §2.4)");
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	/* Nor configured at start. */
	init(&u, &c, true, T0);
	e = press(&u, T0 + 10000, 5100);
	cr_assert(no_events(&e));
	cr_assert_not(u.ap_mode);
}

Test(dongle, button_9_9_s_is_ap_mode_but_no_factory_reset)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_dongle_events e = press(&u, T0 + 10000, 9900);
	cr_assert(e.ap_changed);
	cr_assert_not(e.factory_reset);
	cr_assert_not(e.services_down);
	cr_assert_not(e.soft_reset);
	cr_assert(u.ap_mode);
	cr_assert_eq(u.phase, SC_PHASE_RUNNING);

	/* Configured: nothing at all. */
	struct sc_config c = static_cfg();
	init(&u, &c, true, T0);
	e = press(&u, T0 + 10000, 9900);
	cr_assert(no_events(&e));
	cr_assert(u.configured);
	cr_assert(memcmp(&u.saved, &c, sizeof c) == 0);
}

Test(dongle, button_10_1_s_factory_resets)
{
	struct sc_dongle u;
	struct sc_config c = static_cfg();
	snprintf(c.site, sizeof c.site, "%s", "garage");
	init(&u, &c, true, T0);
	const int64_t t1 = T0 + 10000;
	struct sc_dongle_events e = button(&u, true, t1);
	e = run(&u, t1, t1 + 9999);
	cr_assert(no_events(&e));
	cr_assert(u.configured);
	e = step(&u, t1 + 10000);
	cr_assert(e.factory_reset);
	cr_assert(e.services_down);
	cr_assert(e.config_applied, "the factory settings take over");
	cr_assert_not(e.ap_changed, "AP mode was neither entered nor left");
	struct sc_config f = factory_cfg();
	cr_assert(memcmp(&u.saved, &f, sizeof f) == 0, "saved configuration back to factory");
	cr_assert_not(u.configured);
	cr_assert_eq(u.phase, SC_PHASE_POWER_UP);
	cr_assert_eq(u.boot_ms, t1 + 10000);
	e = button(&u, false, t1 + 10100);
	cr_assert_not(e.soft_reset, "the release after a factory reset does nothing more");
	cr_assert_not(e.factory_reset);
	e = run(&u, t1 + 10100, t1 + 10000 + 5000);
	cr_assert(e.services_up);
	cr_assert(memcmp(&u.running, &f, sizeof f) == 0);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP, "factory network settings: DHCP");
}

Test(dongle, button_10_1_s_from_factory_state_leaves_ap_mode)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	const int64_t t1 = T0 + 10000;
	button(&u, true, t1);
	struct sc_dongle_events e = run(&u, t1, t1 + 5000);
	cr_assert(u.ap_mode);
	e = run(&u, t1 + 5000, t1 + 10000);
	cr_assert(e.factory_reset);
	cr_assert(e.services_down);
	cr_assert(e.ap_changed);
	cr_assert_not(u.ap_mode, "a factory reset leaves AP mode");
	e = button(&u, false, t1 + 10100);
	cr_assert(no_events(&e));
}

Test(dongle, button_10_1_s_released_without_a_step_between)
{
	struct sc_dongle u;
	struct sc_config c = static_cfg();
	init(&u, &c, true, T0);
	button(&u, true, T0 + 10000);
	struct sc_dongle_events e = button(&u, false, T0 + 20100);
	cr_assert(e.factory_reset);
	cr_assert(e.services_down);
	cr_assert_not(e.soft_reset);
	cr_assert_not(u.configured);
	cr_assert_eq(u.phase, SC_PHASE_POWER_UP);
	cr_assert_eq(u.boot_ms, T0 + 20000, "the reset happened at 10 s of holding");
}

Test(dongle, factory_reset_action)
{
	struct sc_dongle u;
	struct sc_config c = static_cfg();
	init(&u, &c, true, T0);
	struct sc_dongle_events e;
	memset(&e, 0, sizeof e);
	sc_dongle_factory_reset(&u, T0 + 1000, &e);
	cr_assert(e.factory_reset);
	cr_assert(e.services_down);
	cr_assert_not(e.ap_changed);
	cr_assert_not(u.configured);
	struct sc_config f = factory_cfg();
	cr_assert(memcmp(&u.saved, &f, sizeof f) == 0);
	run(&u, T0 + 1000, T0 + 7000);
	cr_assert(memcmp(&u.running, &f, sizeof f) == 0);
}

/* ---- access-point mode ---- */

static void enter_ap(struct sc_dongle *u, int64_t t)
{
	button(u, true, t);
	run(u, t, t + 5000);
	button(u, false, t + 5100);
	cr_assert(u->ap_mode);
}

Test(dongle, ap_mode_is_left_when_the_wifi_client_connects)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	enter_ap(&u, T0 + 1000);
	/* The installer joins SC-<serial> and configures Wi-Fi. */
	struct sc_config c = wifi_cfg("Home");
	sc_dongle_saved(&u, &c);
	cr_assert(u.ap_mode, "saving alone changes nothing");
	cr_assert(sc_dongle_restart_pending(&u));
	const int64_t t2 = T0 + 60000;
	struct sc_dongle_events e = act_soft(&u, t2);
	cr_assert(e.soft_reset);
	cr_assert(e.config_applied);
	/* It restarts; AP mode lasts until the network comes up again. */
	e = step(&u, t2 + SC_DONGLE_POWER_UP_MS - 1);
	cr_assert(u.ap_mode);
	const int64_t t3 = t2 + SC_DONGLE_POWER_UP_MS;
	e = step(&u, t3);
	cr_assert(e.ap_changed);
	cr_assert_not(u.ap_mode, "AP mode ends once the Wi-Fi client connects (manual §5.1)");
	cr_assert(sc_dongle_link(&u));
	e = run(&u, t3, t3 + SC_DONGLE_DHCP_LEASE_MS);
	cr_assert(e.network_up);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	cr_assert_neq(u.addr, SC_DONGLE_AP_ADDR);
	cr_assert(sc_dongle_gateway_ok(&u));
	run(&u, t3, t2 + 6000);
	struct sc_led led;
	sc_dongle_led(&u, SC_LINK_OK, t2 + 6000, &led);
	cr_assert_eq(led.state, SC_LED_NORMAL);
}

Test(dongle, ap_mode_stays_while_the_wifi_is_out_of_range)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	enter_ap(&u, T0 + 1000);
	struct sc_dongle_env env = env_all();
	env.wifi_in_range = false;
	act_env(&u, env, T0 + 7000);
	cr_assert(u.ap_mode);
	struct sc_config c = wifi_cfg("Home");
	sc_dongle_saved(&u, &c);
	act_soft(&u, T0 + 8000);
	struct sc_dongle_events e = run(&u, T0 + 8000, T0 + 30000);
	cr_assert_not(e.ap_changed);
	cr_assert(u.ap_mode);
	cr_assert_eq(u.addr, SC_DONGLE_AP_ADDR);
	cr_assert(sc_dongle_has_address(&u));
	/* Without an SSID neither. */
	init(&u, NULL, true, T0);
	enter_ap(&u, T0 + 1000);
	c = wifi_cfg("");
	sc_dongle_saved(&u, &c);
	act_soft(&u, T0 + 8000);
	run(&u, T0 + 8000, T0 + 30000);
	cr_assert(u.ap_mode);
}

/* ---- the LED (manual §2.3) ---- */

static void assert_led(const struct sc_dongle *u, enum sc_meter_link link, enum sc_led_state st,
		       const char *name, const char *first, const char *second,
		       const char *pattern)
{
	/* 1 Hz: the first colour in the first 500 ms of each second. */
	static const int64_t offs[] = {0, 1, 250, 499, 500, 501, 750, 999};
	for (int s = 0; s < 3; s++) {
		for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
			int64_t t = T0 + 100000 + s * 1000 + offs[i];
			struct sc_led led;
			sc_dongle_led(u, link, t, &led);
			cr_assert_eq(led.state, st, "%s at %lld", name, (long long)offs[i]);
			cr_assert_str_eq(led.name, name);
			cr_assert_str_eq(led.pattern, pattern);
			const char *want = offs[i] < 500 ? first : second;
			cr_assert_str_eq(led.colour, want, "%s at +%lld ms", name,
					 (long long)offs[i]);
		}
	}
}

Test(dongle, led_normal_and_no_data)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	assert_led(&u, SC_LINK_OK, SC_LED_NORMAL, "normal", "green", "green", "steady");
	assert_led(&u, SC_LINK_NO_DATA, SC_LED_NO_DATA, "no-data", "red", "green",
		   "alternating 1 Hz");
	assert_led(&u, SC_LINK_NEVER, SC_LED_NO_DATA, "no-data", "red", "green",
		   "alternating 1 Hz");
}

Test(dongle, led_no_ip)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	struct sc_dongle_env env = env_all();
	env.ethernet_cable = false;
	act_env(&u, env, T0 + 1000);
	assert_led(&u, SC_LINK_OK, SC_LED_NO_IP, "no-ip", "green", "orange", "alternating 1 Hz");
	assert_led(&u, SC_LINK_NO_DATA, SC_LED_NO_DATA_NO_IP, "no-data-no-ip", "red", "orange",
		   "alternating 1 Hz");
	assert_led(&u, SC_LINK_NEVER, SC_LED_NO_DATA_NO_IP, "no-data-no-ip", "red", "orange",
		   "alternating 1 Hz");
	/* While DHCP is still asking there is no IP either. */
	init(&u, NULL, true, T0);
	env = env_all();
	env.dhcp_server = false;
	act_env(&u, env, T0 + 500);
	act_soft(&u, T0 + 1000);
	run(&u, T0 + 1000, T0 + 1000 + SC_DONGLE_POWER_UP_MS + SC_DONGLE_INIT_MS);
	cr_assert_eq(u.phase, SC_PHASE_RUNNING);
	cr_assert_gt(u.dhcp_attempt, 0, "still asking");
	assert_led(&u, SC_LINK_OK, SC_LED_NO_IP, "no-ip", "green", "orange", "alternating 1 Hz");
}

Test(dongle, led_ap_mode)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	enter_ap(&u, T0 + 1000);
	assert_led(&u, SC_LINK_OK, SC_LED_AP, "ap", "blue", "off", "blinking");
	assert_led(&u, SC_LINK_NO_DATA, SC_LED_NO_DATA_AP, "no-data-ap", "blue", "red",
		   "alternating 1 Hz");
	assert_led(&u, SC_LINK_NEVER, SC_LED_NO_DATA_AP, "no-data-ap", "blue", "red",
		   "alternating 1 Hz");
}

Test(dongle, led_through_a_restart)
{
	struct sc_dongle u;
	struct sc_led led;
	init(&u, NULL, true, T0);
	const int64_t t1 = T0 + 100000;
	act_restart(&u, t1);
	sc_dongle_led(&u, SC_LINK_OK, t1, &led);
	cr_assert_eq(led.state, SC_LED_POWER_UP);
	sc_dongle_led(&u, SC_LINK_NO_DATA, t1 + 999, &led);
	cr_assert_eq(led.state, SC_LED_POWER_UP);
	step(&u, t1 + 1000);
	sc_dongle_led(&u, SC_LINK_NO_DATA, t1 + 1000, &led);
	cr_assert_eq(led.state, SC_LED_INITIALISING);
	run(&u, t1 + 1000, t1 + 4999);
	sc_dongle_led(&u, SC_LINK_OK, t1 + 4999, &led);
	cr_assert_eq(led.state, SC_LED_INITIALISING);
	step(&u, t1 + 5000);
	sc_dongle_led(&u, SC_LINK_OK, t1 + 5000, &led);
	cr_assert_eq(led.state, SC_LED_NORMAL);
	cr_assert_str_eq(led.colour, "green");
}

/* ---- what sc_dongle_next_ms says at each step ---- */

Test(dongle, next_ms_at_each_step)
{
	struct sc_dongle u;
	struct sc_dongle_env env = env_all();
	env.dhcp_server = false;
	init(&u, NULL, false, T0);
	act_env(&u, env, T0);
	/* The times a caller is woken at, in order. */
	const int64_t want[] = {
		T0 + 1000,  /* power-up ends */
		T0 + 5000,  /* initialising ends; the first attempt too */
		T0 + 9000,  /* second attempt ends */
		T0 + 13000, /* third: link-local */
		T0 + 17000, /* background attempts */
		T0 + 21000,
	};
	int64_t now = T0;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int64_t n = sc_dongle_next_ms(&u, now);
		cr_assert_eq(n, want[i], "wake %zu: %lld, want %lld", i, (long long)(n - T0),
			     (long long)(want[i] - T0));
		step(&u, n);
		now = n;
	}
	cr_assert_eq(u.addr_state, SC_ADDR_LINK_LOCAL);
	/* A server now: the next attempt gets a lease 300 ms into it. */
	env.dhcp_server = true;
	act_env(&u, env, now);
	int64_t n = sc_dongle_next_ms(&u, now);
	cr_assert_gt(n, now);
	cr_assert_leq(n, now + SC_DONGLE_DHCP_ATTEMPT_MS + SC_DONGLE_DHCP_LEASE_MS);
	run(&u, now, now + SC_DONGLE_DHCP_ATTEMPT_MS + SC_DONGLE_DHCP_LEASE_MS);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	cr_assert_eq(sc_dongle_next_ms(&u, now + 5000), -1);

	/* Button held while configured: woken by 10 s at the latest. */
	struct sc_config c = static_cfg();
	init(&u, &c, true, T0);
	button(&u, true, T0 + 1000);
	n = sc_dongle_next_ms(&u, T0 + 1000);
	cr_assert_gt(n, T0 + 1000);
	cr_assert_leq(n, T0 + 1000 + SC_DONGLE_BUTTON_FACTORY_MS);
	struct sc_dongle_events e = run(&u, T0 + 1000, T0 + 1000 + SC_DONGLE_BUTTON_FACTORY_MS);
	cr_assert(e.factory_reset);
	cr_assert_eq(sc_dongle_next_ms(&u, T0 + 11000), T0 + 12000, "power-up of the restart");
}

/* ---- per-interface MAC and address ---- */

Test(dongle, each_interface_has_its_own_mac_from_the_serial)
{
	struct sc_dongle u;
	struct sc_config f = factory_cfg();
	/* The serial as the sticker shows it is the base MAC: Wi-Fi uses it,
	 * Ethernet the base + 3. */
	sc_dongle_init(&u, "E8DB84000001", &f, NULL, false, &FW, true, T0);
	uint8_t m[6];
	char text[18];
	sc_dongle_mac(&u, SC_NETIF_WIFI, m);
	sc_mac_format(m, text, sizeof text);
	cr_assert_str_eq(text, "E8:DB:84:00:00:01");
	sc_dongle_mac(&u, SC_NETIF_ETHERNET, m);
	sc_mac_format(m, text, sizeof text);
	cr_assert_str_eq(text, "E8:DB:84:00:00:04");
	/* The + 3 stays within the vendor's block (the OUI is kept). */
	sc_dongle_init(&u, "e8db84fffffe", &f, NULL, false, &FW, true, T0);
	sc_dongle_mac(&u, SC_NETIF_ETHERNET, m);
	sc_mac_format(m, text, sizeof text);
	cr_assert_str_eq(text, "E8:DB:84:00:00:01");
	/* Another serial: locally administered unicast MACs, distinct. */
	sc_dongle_init(&u, SERIAL, &f, NULL, false, &FW, true, T0);
	uint8_t w[6], e[6];
	sc_dongle_mac(&u, SC_NETIF_WIFI, w);
	sc_dongle_mac(&u, SC_NETIF_ETHERNET, e);
	cr_assert_eq(w[0], 0x02);
	cr_assert_eq(e[0], 0x02);
	cr_assert_neq(memcmp(w, e, 6), 0);
}

Test(dongle, each_interface_gets_its_own_address)
{
	struct sc_config f = factory_cfg();
	struct sc_config wc = wifi_cfg("XemexTesting");
	int differ = 0;
	for (int i = 0; i < 50; i++) {
		char serial[16];
		snprintf(serial, sizeof serial, "E8DB84%06X", i * 7919);
		struct sc_dongle eth, wifi;
		sc_dongle_init(&eth, serial, &f, NULL, false, &FW, true, T0);
		sc_dongle_init(&wifi, serial, &f, &wc, true, &FW, true, T0);
		cr_assert_eq(eth.addr_state, SC_ADDR_DHCP);
		cr_assert_eq(wifi.addr_state, SC_ADDR_DHCP);
		cr_assert_eq(eth.addr >> 8, 0xC0A801u);
		cr_assert_eq(wifi.addr >> 8, 0xC0A801u);
		differ += eth.addr != wifi.addr;
		/* The same interface of the same device: the same lease again. */
		struct sc_dongle again;
		sc_dongle_init(&again, serial, &f, &wc, true, &FW, true, T0);
		cr_assert_eq(again.addr, wifi.addr);
	}
	/* A lease is by MAC: two interfaces share an address only by chance
	 * (1 in 100 of the pool). */
	cr_assert_geq(differ, 45, "%d of 50 differ", differ);
}

/* ---- the LED with a link-local address ---- */

static void link_local_dongle(struct sc_dongle *u, bool normal)
{
	init(u, NULL, false, T0);
	u->led_link_local_normal = normal;
	struct sc_dongle_env env = env_all();
	env.dhcp_server = false;
	act_env(u, env, T0);
	run(u, T0, T0 + 14000);
	cr_assert_eq(u->addr_state, SC_ADDR_LINK_LOCAL);
}

Test(dongle, led_says_no_ip_on_a_link_local_address)
{
	struct sc_dongle u;
	struct sc_led led;
	link_local_dongle(&u, false);
	/* Manual §7: "no IP via DHCP" is green/orange. */
	sc_dongle_led(&u, SC_LINK_OK, T0 + 14000, &led);
	cr_assert_eq(led.state, SC_LED_NO_IP);
	cr_assert_str_eq(led.colour, "green");
	sc_dongle_led(&u, SC_LINK_OK, T0 + 14500, &led);
	cr_assert_str_eq(led.colour, "orange");
	sc_dongle_led(&u, SC_LINK_NO_DATA, T0 + 14000, &led);
	cr_assert_eq(led.state, SC_LED_NO_DATA_NO_IP);
	/* A DHCP server later: a lease, the LED normal. */
	struct sc_dongle_env env = env_all();
	act_env(&u, env, T0 + 14000);
	run(&u, T0 + 14000, T0 + 30000);
	cr_assert_eq(u.addr_state, SC_ADDR_DHCP);
	sc_dongle_led(&u, SC_LINK_OK, T0 + 30000, &led);
	cr_assert_eq(led.state, SC_LED_NORMAL);
}

Test(dongle, led_normal_on_link_local_when_switched)
{
	struct sc_dongle u;
	struct sc_led led;
	link_local_dongle(&u, true);
	sc_dongle_led(&u, SC_LINK_OK, T0 + 14000, &led);
	cr_assert_eq(led.state, SC_LED_NORMAL);
	sc_dongle_led(&u, SC_LINK_NO_DATA, T0 + 14000, &led);
	cr_assert_eq(led.state, SC_LED_NO_DATA);
	/* Without any address it is no-ip whatever the switch says. */
	struct sc_dongle_env env = env_all();
	env.ethernet_cable = false;
	act_env(&u, env, T0 + 14000);
	sc_dongle_led(&u, SC_LINK_OK, T0 + 14000, &led);
	cr_assert_eq(led.state, SC_LED_NO_IP);
}

/* ---- which broker the network reaches ---- */

Test(dongle, broker_route_follows_the_network_model)
{
	struct sc_dongle u;
	init(&u, NULL, true, T0);
	const char *local[] = {"127.0.0.1", "localhost", "192.168.1.20", "10.0.0.5", "172.16.0.1",
			       "172.31.255.1", "169.254.3.4", "mosquitto.local"};
	const char *far[] = {"broker.xemex-cloud.eu", "8.8.8.8", "172.32.0.1", "192.169.0.1",
			     "11.0.0.1"};
	for (size_t i = 0; i < sizeof local / sizeof *local; i++)
		cr_assert_null(sc_dongle_broker_route(&u, local[i]), "%s", local[i]);
	for (size_t i = 0; i < sizeof far / sizeof *far; i++)
		cr_assert_null(sc_dongle_broker_route(&u, far[i]), "%s with internet", far[i]);

	/* No internet: a broker beyond the LAN is out of reach, a LAN one is not. */
	struct sc_dongle_env env = env_all();
	env.internet = false;
	act_env(&u, env, T0);
	cr_assert_null(sc_dongle_broker_route(&u, "127.0.0.1"));
	for (size_t i = 0; i < sizeof far / sizeof *far; i++) {
		const char *why = sc_dongle_broker_route(&u, far[i]);
		cr_assert_not_null(why, "%s", far[i]);
		cr_assert(strstr(why, "no internet"), "%s", why);
	}
	env.internet = true;
	env.gateway = false;
	act_env(&u, env, T0);
	cr_assert(strstr(sc_dongle_broker_route(&u, "broker.xemex-cloud.eu"), "gateway"));

	/* Link-local (DHCP failed): no gateway, no internet. */
	link_local_dongle(&u, false);
	cr_assert_null(sc_dongle_broker_route(&u, "127.0.0.1"));
	cr_assert(strstr(sc_dongle_broker_route(&u, "broker.xemex-cloud.eu"), "link-local"));

	/* Access-point mode (factory state, button held 5 s). */
	init(&u, NULL, true, T0);
	button(&u, true, T0);
	step(&u, T0 + SC_DONGLE_BUTTON_AP_MS);
	button(&u, false, T0 + SC_DONGLE_BUTTON_AP_MS + 100);
	cr_assert(u.ap_mode);
	cr_assert(strstr(sc_dongle_broker_route(&u, "broker.xemex-cloud.eu"), "access-point"));
	cr_assert_null(sc_dongle_broker_route(&u, "127.0.0.1"));

	/* No address at all: nothing. */
	init(&u, NULL, true, T0);
	env = env_all();
	env.ethernet_cable = false;
	act_env(&u, env, T0);
	cr_assert_not_null(sc_dongle_broker_route(&u, "127.0.0.1"));
}
