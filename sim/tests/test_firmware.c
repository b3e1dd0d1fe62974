/* The firmware model (firmware.h): version text, ordering, the energy unit
 * rule of manual §5.3 (kWh before 5.1.x, Wh since), and the simulated update
 * (downloading, verifying, installing, restart) on an injected clock. */
#include <criterion/criterion.h>
#include <string.h>

#include "firmware.h"
#include "sc_error.h"

static struct sc_fw_version ver(int a, int b, int c)
{
	return (struct sc_fw_version){a, b, c};
}

static void assert_version(const struct sc_fw_version *v, int a, int b, int c)
{
	cr_assert(v->major == a && v->minor == b && v->patch == c, "got %d.%d.%d, want %d.%d.%d",
		  v->major, v->minor, v->patch, a, b, c);
}

/* ---- version text ---- */

Test(fw_version, parses_one_to_three_parts)
{
	static const struct {
		const char *text;
		int a, b, c;
	} good[] = {
		{"5.1.2", 5, 1, 2}, {"5", 5, 0, 0},	   {"5.1", 5, 1, 0},
		{"0.0.0", 0, 0, 0}, {"99.99.99", 99, 99, 99}, {"10.20.30", 10, 20, 30},
		{"4.9", 4, 9, 0},   {"0", 0, 0, 0},	   {"1.0.99", 1, 0, 99},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct sc_fw_version v = {-1, -1, -1};
		cr_assert_eq(sc_fw_parse(good[i].text, &v), SC_OK, "\"%s\"", good[i].text);
		assert_version(&v, good[i].a, good[i].b, good[i].c);
	}
}

Test(fw_version, refuses_malformed_text)
{
	static const char *const bad[] = {
		"",	 ".",	   "5.",      ".5",	"5..1",	   "5.1.2.3", "5.1.2.",
		"100",	 "5.100",  "5.1.100", "a",	"5.1a",	   "5.a.1",   " 5.1",
		"5.1 ",	 "-1",	   "+5",      "5,1",	"5.1.-2",  "v5.1.2",  "5.1.2\n",
		"123.1", "1.2.3x", "5:1",     "5.1..2", "..",	   "0x5",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sc_fw_version v;
		cr_assert_eq(sc_fw_parse(bad[i], &v), SC_ERR_INVAL, "\"%s\" should be refused",
			     bad[i]);
	}
}

Test(fw_version, format_round_trips)
{
	char buf[16];
	struct sc_fw_version v = ver(5, 1, 2), back;
	sc_fw_format(&v, buf, sizeof buf);
	cr_assert_str_eq(buf, "5.1.2");
	cr_assert_eq(sc_fw_parse(buf, &back), SC_OK);
	cr_assert_eq(sc_fw_cmp(&v, &back), 0);
	v = ver(5, 0, 0);
	sc_fw_format(&v, buf, sizeof buf);
	cr_assert_str_eq(buf, "5.0.0", "every part is written");
	v = ver(99, 99, 99);
	sc_fw_format(&v, buf, sizeof buf);
	cr_assert_str_eq(buf, "99.99.99");
	/* A short buffer is cut, still terminated. */
	char tiny[4];
	memset(tiny, 'x', sizeof tiny);
	sc_fw_format(&v, tiny, sizeof tiny);
	cr_assert_eq(tiny[3], '\0');
	cr_assert_str_eq(tiny, "99.");
}

Test(fw_version, comparison_orders_major_minor_patch)
{
	/* Ascending. */
	const struct sc_fw_version order[] = {
		ver(0, 0, 0), ver(0, 0, 1), ver(0, 1, 0),  ver(1, 0, 0),  ver(4, 99, 99),
		ver(5, 0, 0), ver(5, 0, 9), ver(5, 0, 10), ver(5, 1, 0),  ver(5, 1, 2),
		ver(5, 2, 0), ver(5, 10, 0), ver(6, 0, 0), ver(99, 99, 99),
	};
	size_t n = sizeof order / sizeof order[0];
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int c = sc_fw_cmp(&order[i], &order[j]);
			int want = i < j ? -1 : i > j ? 1 : 0;
			int sign = c < 0 ? -1 : c > 0 ? 1 : 0;
			cr_assert_eq(sign, want, "cmp(%zu, %zu) = %d", i, j, c);
		}
	}
}

Test(fw_version, energy_in_kwh_before_5_1_0)
{
	/* Manual §5.3: "since V5.1.x" energy is in Wh; earlier firmware sent kWh. */
	const struct sc_fw_version kwh[] = {ver(0, 0, 0), ver(4, 99, 99), ver(5, 0, 0),
					    ver(5, 0, 99), ver(1, 9, 0)};
	const struct sc_fw_version wh[] = {ver(5, 1, 0), ver(5, 1, 1), ver(5, 2, 0),
					   ver(5, 10, 0), ver(6, 0, 0), ver(99, 0, 0)};
	for (size_t i = 0; i < sizeof kwh / sizeof kwh[0]; i++)
		cr_assert(sc_fw_energy_kwh(&kwh[i]), "%d.%d.%d serves kWh", kwh[i].major,
			  kwh[i].minor, kwh[i].patch);
	for (size_t i = 0; i < sizeof wh / sizeof wh[0]; i++)
		cr_assert_not(sc_fw_energy_kwh(&wh[i]), "%d.%d.%d serves Wh", wh[i].major,
			      wh[i].minor, wh[i].patch);
	/* The short forms mean the same. */
	struct sc_fw_version v;
	cr_assert_eq(sc_fw_parse("5.1", &v), SC_OK);
	cr_assert_not(sc_fw_energy_kwh(&v));
	cr_assert_eq(sc_fw_parse("5", &v), SC_OK);
	cr_assert(sc_fw_energy_kwh(&v));
}

Test(fw_state, names)
{
	cr_assert_str_eq(sc_fw_state_name(SC_FW_IDLE), "idle");
	cr_assert_str_eq(sc_fw_state_name(SC_FW_DOWNLOADING), "downloading");
	cr_assert_str_eq(sc_fw_state_name(SC_FW_VERIFYING), "verifying");
	cr_assert_str_eq(sc_fw_state_name(SC_FW_INSTALLING), "installing");
	cr_assert_str_eq(sc_fw_state_name(SC_FW_REBOOTING), "rebooting");
}

/* ---- the update ---- */

Test(fw_update, idle_after_init)
{
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 0, 3);
	memset(&f, 0xA5, sizeof f); /* init must not rely on zeroed memory */
	sc_fw_init(&f, &run);
	assert_version(&f.version, 5, 0, 3);
	cr_assert_eq(f.state, SC_FW_IDLE);
	cr_assert_not(f.have_last);
	cr_assert_eq(sc_fw_next_ms(&f), -1);
	cr_assert_eq(sc_fw_progress(&f, 0), 0);
	cr_assert_not(sc_fw_step(&f, 1000000));
	cr_assert_eq(f.state, SC_FW_IDLE);
}

Test(fw_update, steps_on_the_device_clock)
{
	const int64_t t0 = 1751360400000;
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 0, 0), target = ver(5, 3, 0);
	sc_fw_init(&f, &run);
	char why[128] = "";
	cr_assert_eq(sc_fw_start(&f, &target, t0, why, sizeof why), SC_OK, "%s", why);
	cr_assert_eq(f.state, SC_FW_DOWNLOADING);
	assert_version(&f.target, 5, 3, 0);
	assert_version(&f.version, 5, 0, 0);

	/* Downloading: 20 s, progress 0..100. */
	cr_assert_eq(sc_fw_next_ms(&f), t0 + SC_FW_DOWNLOAD_MS);
	cr_assert_eq(sc_fw_progress(&f, t0), 0);
	cr_assert_eq(sc_fw_progress(&f, t0 + 5000), 25);
	cr_assert_eq(sc_fw_progress(&f, t0 + 10000), 50);
	cr_assert_eq(sc_fw_progress(&f, t0 + 19999), 99);
	int last = -1;
	for (int64_t t = t0; t < t0 + SC_FW_DOWNLOAD_MS; t += 250) {
		cr_assert_not(sc_fw_step(&f, t));
		cr_assert_eq(f.state, SC_FW_DOWNLOADING, "at +%lld ms", (long long)(t - t0));
		int p = sc_fw_progress(&f, t);
		cr_assert(p >= last && p >= 0 && p < 100, "progress %d after %d", p, last);
		last = p;
	}
	cr_assert_not(sc_fw_step(&f, t0 + 19999));
	cr_assert_eq(f.state, SC_FW_DOWNLOADING);

	/* Verifying: 2 s. */
	cr_assert_not(sc_fw_step(&f, t0 + 20000));
	cr_assert_eq(f.state, SC_FW_VERIFYING);
	cr_assert_eq(sc_fw_progress(&f, t0 + 20000), 100);
	cr_assert_eq(sc_fw_next_ms(&f), t0 + 20000 + SC_FW_VERIFY_MS);
	cr_assert_not(sc_fw_step(&f, t0 + 21999));
	cr_assert_eq(f.state, SC_FW_VERIFYING);

	/* Installing: 6 s. */
	cr_assert_not(sc_fw_step(&f, t0 + 22000));
	cr_assert_eq(f.state, SC_FW_INSTALLING);
	cr_assert_eq(sc_fw_progress(&f, t0 + 25000), 100);
	cr_assert_eq(sc_fw_next_ms(&f), t0 + 22000 + SC_FW_INSTALL_MS);
	cr_assert_not(sc_fw_step(&f, t0 + 27999));
	cr_assert_eq(f.state, SC_FW_INSTALLING);

	/* Installed: true once, then the device restarts (the caller's job). */
	cr_assert(sc_fw_step(&f, t0 + 28000));
	cr_assert_eq(f.state, SC_FW_REBOOTING);
	cr_assert_eq(sc_fw_next_ms(&f), -1, "nothing is due until the restart is over");
	cr_assert_eq(sc_fw_progress(&f, t0 + 28000), 100);
	cr_assert_not(sc_fw_step(&f, t0 + 28000));
	cr_assert_not(sc_fw_step(&f, t0 + 100000));
	cr_assert_eq(f.state, SC_FW_REBOOTING);
	assert_version(&f.version, 5, 0, 0); /* still the old image until it boots */
	cr_assert_not(f.have_last);

	/* Booted: the new version runs and the update is recorded. */
	sc_fw_booted(&f, t0 + 33000);
	cr_assert_eq(f.state, SC_FW_IDLE);
	assert_version(&f.version, 5, 3, 0);
	cr_assert(f.have_last);
	assert_version(&f.last_from, 5, 0, 0);
	assert_version(&f.last_to, 5, 3, 0);
	cr_assert_eq(f.last_at_ms, t0 + 33000);
	cr_assert_eq(sc_fw_next_ms(&f), -1);
	cr_assert_eq(sc_fw_progress(&f, t0 + 33000), 0);
	cr_assert_not(sc_fw_step(&f, t0 + 200000));
}

Test(fw_update, the_energy_unit_follows_the_running_version)
{
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 0, 2), target = ver(5, 1, 0);
	sc_fw_init(&f, &run);
	cr_assert(sc_fw_energy_kwh(&f.version));
	char why[64];
	cr_assert_eq(sc_fw_start(&f, &target, 0, why, sizeof why), SC_OK);
	cr_assert(sc_fw_step(&f, 28000));
	cr_assert(sc_fw_energy_kwh(&f.version), "the old image runs until the restart");
	sc_fw_booted(&f, 30000);
	cr_assert_not(sc_fw_energy_kwh(&f.version));
}

Test(fw_update, booted_without_an_update_changes_nothing)
{
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 2, 0), target = ver(5, 3, 0);
	sc_fw_init(&f, &run);
	sc_fw_booted(&f, 1000);
	cr_assert_eq(f.state, SC_FW_IDLE);
	assert_version(&f.version, 5, 2, 0);
	cr_assert_not(f.have_last);
	/* Nor in the middle of one: only an installed image boots. */
	char why[64];
	cr_assert_eq(sc_fw_start(&f, &target, 1000, why, sizeof why), SC_OK);
	sc_fw_booted(&f, 2000);
	cr_assert_eq(f.state, SC_FW_DOWNLOADING);
	assert_version(&f.version, 5, 2, 0);
	cr_assert_not(f.have_last);
}

Test(fw_update, refuses_a_second_update_while_one_runs)
{
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 0, 0), target = ver(5, 3, 0), other = ver(5, 4, 0);
	sc_fw_init(&f, &run);
	char why[128];
	cr_assert_eq(sc_fw_start(&f, &target, 0, why, sizeof why), SC_OK);
	const int64_t at[] = {0, 10000, 21000, 27000, 28000};
	const enum sc_fw_state st[] = {SC_FW_DOWNLOADING, SC_FW_DOWNLOADING, SC_FW_VERIFYING,
				       SC_FW_INSTALLING, SC_FW_REBOOTING};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		sc_fw_step(&f, at[i]);
		cr_assert_eq(f.state, st[i]);
		int64_t next = sc_fw_next_ms(&f);
		why[0] = '\0';
		cr_assert_eq(sc_fw_start(&f, &other, at[i], why, sizeof why), SC_ERR_INVAL,
			     "refused while %s", sc_fw_state_name(st[i]));
		cr_assert_neq(why[0], '\0', "a reason is given");
		/* The update in progress is untouched. */
		cr_assert_eq(f.state, st[i]);
		assert_version(&f.target, 5, 3, 0);
		cr_assert_eq(sc_fw_next_ms(&f), next);
	}
	/* The same target again is refused as well. */
	cr_assert_eq(sc_fw_start(&f, &target, 28000, why, sizeof why), SC_ERR_INVAL);
}

Test(fw_update, refuses_the_version_already_installed)
{
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 3, 0), same = ver(5, 3, 0);
	sc_fw_init(&f, &run);
	char why[128] = "";
	cr_assert_eq(sc_fw_start(&f, &same, 0, why, sizeof why), SC_ERR_INVAL);
	cr_assert(strstr(why, "5.3.0"), "the reason names the version: %s", why);
	cr_assert_eq(f.state, SC_FW_IDLE);
	cr_assert_eq(sc_fw_next_ms(&f), -1);
	/* "5.3" is the same version as "5.3.0". */
	struct sc_fw_version shorter;
	cr_assert_eq(sc_fw_parse("5.3", &shorter), SC_OK);
	cr_assert_eq(sc_fw_start(&f, &shorter, 0, why, sizeof why), SC_ERR_INVAL);
	/* A reason in a small buffer is cut, never overrun. */
	char tiny[8];
	memset(tiny, 'x', sizeof tiny);
	cr_assert_eq(sc_fw_start(&f, &same, 0, tiny, sizeof tiny), SC_ERR_INVAL);
	cr_assert_eq(tiny[7], '\0');
}

Test(fw_update, any_other_version_may_be_installed)
{
	/* Only the running version is refused: an older image (a downgrade)
	 * is an update like any other (firmware.h). */
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 3, 0), old = ver(5, 0, 1), back = ver(5, 3, 0);
	sc_fw_init(&f, &run);
	char why[128] = "";
	cr_assert_eq(sc_fw_start(&f, &old, 1000, why, sizeof why), SC_OK, "%s", why);
	cr_assert(sc_fw_step(&f, 1000 + 28000));
	sc_fw_booted(&f, 30000);
	assert_version(&f.version, 5, 0, 1);
	cr_assert(sc_fw_energy_kwh(&f.version));
	/* And back again, a second update after the first ended. */
	cr_assert_eq(sc_fw_start(&f, &back, 40000, why, sizeof why), SC_OK, "%s", why);
	cr_assert_eq(sc_fw_next_ms(&f), 40000 + SC_FW_DOWNLOAD_MS);
	cr_assert(sc_fw_step(&f, 40000 + 28000));
	sc_fw_booted(&f, 70000);
	assert_version(&f.version, 5, 3, 0);
	assert_version(&f.last_from, 5, 0, 1);
	assert_version(&f.last_to, 5, 3, 0);
	cr_assert_eq(f.last_at_ms, 70000);
}

Test(fw_update, a_clock_jump_skips_steps)
{
	struct sc_fw f;
	struct sc_fw_version run = ver(5, 0, 0), target = ver(5, 3, 0);
	char why[64];

	/* Far past the end: every step passes at once, reported once. */
	sc_fw_init(&f, &run);
	cr_assert_eq(sc_fw_start(&f, &target, 5000, why, sizeof why), SC_OK);
	cr_assert(sc_fw_step(&f, 5000 + 3600000));
	cr_assert_eq(f.state, SC_FW_REBOOTING);
	cr_assert_not(sc_fw_step(&f, 5000 + 3600001));

	/* Into the middle of verifying: downloading is skipped, verifying
	 * keeps its schedule (it began when the download ended). */
	sc_fw_init(&f, &run);
	cr_assert_eq(sc_fw_start(&f, &target, 5000, why, sizeof why), SC_OK);
	cr_assert_not(sc_fw_step(&f, 5000 + 21000));
	cr_assert_eq(f.state, SC_FW_VERIFYING);
	cr_assert_eq(sc_fw_next_ms(&f), 5000 + 22000);

	/* Into installing, skipping two steps. */
	sc_fw_init(&f, &run);
	cr_assert_eq(sc_fw_start(&f, &target, 5000, why, sizeof why), SC_OK);
	cr_assert_not(sc_fw_step(&f, 5000 + 22000));
	cr_assert_eq(f.state, SC_FW_INSTALLING);
	cr_assert_eq(sc_fw_next_ms(&f), 5000 + 28000);
}

Test(fw_update, the_end_does_not_depend_on_how_often_it_is_stepped)
{
	/* Stepped every ms, every 7 s, or only at sc_fw_next_ms: the image is
	 * installed at start + 28 s each time. */
	const int64_t t0 = 123456;
	const int64_t strides[] = {1, 333, 7000, 13000};
	struct sc_fw_version run = ver(5, 0, 0), target = ver(5, 3, 0);
	char why[64];
	for (size_t i = 0; i < sizeof strides / sizeof strides[0]; i++) {
		struct sc_fw f;
		sc_fw_init(&f, &run);
		cr_assert_eq(sc_fw_start(&f, &target, t0, why, sizeof why), SC_OK);
		int64_t done = -1;
		for (int64_t t = t0; t <= t0 + 60000; t += strides[i]) {
			if (sc_fw_step(&f, t)) {
				cr_assert_eq(done, -1, "true only once");
				done = t;
			}
		}
		int64_t want = t0 + SC_FW_DOWNLOAD_MS + SC_FW_VERIFY_MS + SC_FW_INSTALL_MS;
		/* The first step at or after the end. */
		int64_t first = t0 + ((want - t0 + strides[i] - 1) / strides[i]) * strides[i];
		cr_assert_eq(done, first, "stride %lld", (long long)strides[i]);
	}
	/* Driven by sc_fw_next_ms alone: three calls. */
	struct sc_fw f;
	sc_fw_init(&f, &run);
	cr_assert_eq(sc_fw_start(&f, &target, t0, why, sizeof why), SC_OK);
	int64_t seen[4];
	int calls = 0;
	for (int64_t next; (next = sc_fw_next_ms(&f)) >= 0 && calls < 4;) {
		seen[calls++] = next;
		sc_fw_step(&f, next);
	}
	cr_assert_eq(calls, 3);
	cr_assert_eq(seen[0], t0 + 20000);
	cr_assert_eq(seen[1], t0 + 22000);
	cr_assert_eq(seen[2], t0 + 28000);
	cr_assert_eq(f.state, SC_FW_REBOOTING);
}
