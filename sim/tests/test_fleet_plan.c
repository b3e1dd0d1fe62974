/* How a fleet is numbered and varied (fleet_plan.h): serials, ports, seeds
 * and models per device, shards that make the same devices as the whole
 * fleet, and the limits. */
#include <criterion/criterion.h>
#include <string.h>

#include "fleet_plan.h"

static struct sc_fleet_plan plan(int n, uint64_t offset)
{
	struct sc_fleet_plan p = {0};
	p.devices = n;
	p.offset = offset;
	p.first_serial = 0xE8DB84000001ull;
	p.modbus_base_port = 20000;
	p.seed = 1;
	p.cadence_ms = 1000;
	return p;
}

Test(plan, serials_ports_and_seeds)
{
	struct sc_fleet_plan p = plan(3, 0);
	struct sc_fleet_member m;
	sc_fleet_member(&p, 2, &m);
	cr_assert_str_eq(m.serial, "E8DB84000003");
	cr_assert_eq(m.modbus_port, 20002);
	cr_assert_eq(m.seed, 3);
	cr_assert_eq(m.index, 2);
	p.modbus_base_port = 0;
	sc_fleet_member(&p, 2, &m);
	cr_assert_eq(m.modbus_port, 0, "any free port");
}

Test(plan, a_shard_makes_the_devices_of_the_whole)
{
	struct sc_fleet_plan whole = plan(1000, 0), shard = plan(100, 900);
	shard.modbus_base_port = 30000;
	for (int i = 0; i < 100; i++) {
		struct sc_fleet_member a, b;
		sc_fleet_member(&whole, 900 + i, &a);
		sc_fleet_member(&shard, i, &b);
		cr_assert_str_eq(a.serial, b.serial);
		cr_assert_eq(a.seed, b.seed);
		cr_assert_eq(a.profile, b.profile);
		cr_assert_eq(a.phases, b.phases);
		cr_assert_eq(a.phase_ms, b.phase_ms);
		cr_assert_eq(b.modbus_port, 30000 + i, "ports are the shard's");
	}
}

Test(plan, models_and_phases_are_varied_and_spread)
{
	struct sc_fleet_plan p = plan(10000, 0);
	int profiles[SC_PROFILE_COUNT] = {0}, single = 0, slots[10] = {0};
	for (int i = 0; i < p.devices; i++) {
		struct sc_fleet_member m;
		sc_fleet_member(&p, i, &m);
		profiles[m.profile]++;
		single += m.phases == 1;
		cr_assert(m.phase_ms >= 0 && m.phase_ms < 1000);
		slots[m.phase_ms / 100]++;
	}
	/* 40/30/15/15 % and a quarter on one phase, within a few points. */
	cr_assert(profiles[SC_PROFILE_HOUSEHOLD] > 3700 && profiles[SC_PROFILE_HOUSEHOLD] < 4300);
	cr_assert(profiles[SC_PROFILE_PV] > 2700 && profiles[SC_PROFILE_PV] < 3300);
	cr_assert(profiles[SC_PROFILE_EV] > 1200 && profiles[SC_PROFILE_EV] < 1800);
	cr_assert(single > 2200 && single < 2800);
	for (int k = 0; k < 10; k++)
		cr_assert(slots[k] > 850 && slots[k] < 1150, "slot %d: %d", k, slots[k]);
	p.fixed_profile = true;
	p.profile = SC_PROFILE_EV;
	p.phases = 3;
	struct sc_fleet_member m;
	sc_fleet_member(&p, 17, &m);
	cr_assert_eq(m.profile, SC_PROFILE_EV);
	cr_assert_eq(m.phases, 3);
}

Test(plan, limits)
{
	char why[200];
	struct sc_fleet_plan p = plan(1, 0);
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), 0);
	p.devices = 0;
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), -1);
	p.devices = SC_FLEET_MAX + 1;
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), -1);
	p = plan(100, 0);
	p.modbus_base_port = 65436;
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), 0, "65436 + 99 = 65535");
	p.modbus_base_port = 65437;
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), -1);
	cr_assert(strstr(why, "past 65535"), "%s", why);
	p = plan(2, 0);
	p.first_serial = SC_SERIAL_MAX_VALUE;
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), -1);
	p.devices = 1;
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), 0);
	p.offset = UINT64_MAX;
	cr_assert_eq(sc_fleet_plan_check(&p, why, sizeof why), -1, "no wrap-around");
}

Test(plan, serial_text_and_lookup)
{
	uint64_t v;
	cr_assert_eq(sc_fleet_parse_serial("e8db84abcdef", &v), 0);
	cr_assert_eq(v, 0xE8DB84ABCDEFull);
	cr_assert_eq(sc_fleet_parse_serial("E8DB84ABCDE", &v), -1);
	cr_assert_eq(sc_fleet_parse_serial("E8DB84ABCDEG", &v), -1);
	cr_assert_eq(sc_fleet_parse_serial("E8DB84ABCDEF0", &v), -1);
	struct sc_fleet_plan p = plan(10, 5);
	cr_assert_eq(sc_fleet_find(&p, "E8DB84000006"), 0);
	cr_assert_eq(sc_fleet_find(&p, "E8DB8400000F"), 9);
	cr_assert_eq(sc_fleet_find(&p, "E8DB84000010"), -1);
	cr_assert_eq(sc_fleet_find(&p, "E8DB84000005"), -1);
	cr_assert_eq(sc_fleet_find(&p, "nothing"), -1);
}
