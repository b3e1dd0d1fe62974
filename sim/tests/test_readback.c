/* The read-back after every telegram (io.sample) when the device's Modbus
 * server answers in the runner's process (io.read_two, as sc-sim --scenario
 * --speed max reads the twin): the runner drives a device of the core and
 * its Modbus server (sc_modbus_read, the image a client's request gets),
 * and every telegram's P and energy import are compared with the oracle.
 * A register image broken on purpose after one telegram fails the run on
 * that telegram alone (the next telegram writes the image anew): the read
 * is of the registers as they were after telegram k, and a wrong one is
 * caught. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "dut.h"
#include "firmware.h"
#include "loop.h"
#include "modbus_server.h"
#include "regmap.h"
#include "runner.h"
#include "scenario.h"

#define TELEGRAMS 20

struct rig {
	struct sc_loop *loop;
	struct sc_device dev;
	struct sc_modbus *mb;
	int64_t now_ms;
	int fed;          /* telegrams fed so far */
	int break_after;  /* 1-based: the image broken after that telegram; 0 none */
	int reads;
};

static int rig_meter(void *arg, const void *data, size_t len, char *why, size_t cap)
{
	(void)why;
	(void)cap;
	struct rig *r = arg;
	sc_device_feed(&r->dev, data, len, r->now_ms);
	if (++r->fed == r->break_after) {
		/* One bit of the power's high word flipped: a wrong register. */
		r->dev.image.w[0x8016 - SC_REGMAP_BASE] ^= 0x0040;
		r->dev.generation++;
	}
	return 0;
}

static int rig_advance(void *arg, double t, char *why, size_t cap)
{
	(void)why;
	(void)cap;
	struct rig *r = arg;
	r->now_ms = (int64_t)(t * 1000.0 + 0.5);
	return 0;
}

static int rig_act(void *arg, const struct sc_step *st, char *why, size_t cap)
{
	(void)arg;
	(void)st;
	snprintf(why, cap, "not on this rig");
	return 1;
}

static int rig_read_two(void *arg, uint16_t a1, int n1, uint16_t *o1, uint16_t a2, int n2,
			uint16_t *o2, char *why, size_t cap)
{
	struct rig *r = arg;
	r->reads++;
	if (sc_modbus_read(r->mb, a1, (uint16_t)n1, o1) != 0) {
		snprintf(why, cap, "exception");
		return -1;
	}
	if (sc_modbus_read(r->mb, a2, (uint16_t)n2, o2) != 0) {
		snprintf(why, cap, "exception");
		return 1;
	}
	return 0;
}

static const struct sc_result *find(const struct sc_run *run, const char *where, const char *kind)
{
	for (size_t i = 0; i < run->n; i++)
		if (strcmp(run->r[i].where, where) == 0 && strcmp(run->r[i].kind, kind) == 0)
			return &run->r[i];
	return NULL;
}

/* Runs TELEGRAMS telegrams of a DSMR 5 meter with the read-back after each. */
static void run_rig(int break_after, struct sc_run *run, struct rig *r)
{
	char text[512];
	snprintf(text, sizeof text,
		 "{\"scenario\": 1, \"name\": \"readback\",\n"
		 " \"meter\": {\"protocol\": \"dsmr50\", \"profile\": \"pv-ev\", \"seed\": 5},\n"
		 " \"steps\": [{\"at\": 0, \"telegrams\": {\"count\": %d}}]}\n",
		 TELEGRAMS);
	struct sc_scenario *s = NULL;
	char err[256];
	cr_assert_eq(sc_scenario_load(text, strlen(text), "readback.json", &s, err, sizeof err), 0,
		     "%s", err);
	memset(r, 0, sizeof *r);
	r->break_after = break_after;
	r->loop = sc_loop_new();
	cr_assert_not_null(r->loop);
	struct sc_device_config dc = {.protocol = s->device};
	dc.regs.order = s->word_order;
	struct sc_fw_version fw;
	if (sc_fw_parse(s->firmware, &fw) == 0)
		dc.regs.energy_kwh = sc_fw_energy_kwh(&fw);
	cr_assert_eq(sc_device_init(&r->dev, &dc), 0);
	struct sc_modbus_opts mo = {.addr = "127.0.0.1", .port = 0, .max_clients = 1,
				    .idle_timeout_s = 60};
	int merr = 0;
	r->mb = sc_modbus_start(r->loop, &r->dev, &mo, &merr);
	cr_assert_not_null(r->mb, "modbus server: error %d", merr);
	/* A device of the runner's: no connection is ever made to it. */
	struct sc_dut_opts d = {.host = "127.0.0.1", .modbus_port = sc_modbus_port(r->mb),
				.https_port = 1, .user = "user", .password = "x", .timeout_s = 1};
	struct sc_dut *dut = sc_dut_open(&d, err, sizeof err);
	cr_assert_not_null(dut, "%s", err);
	struct sc_run_io io = {.meter = rig_meter, .advance = rig_advance, .act = rig_act,
			       .arg = r, .tick = 0.25, .sample = true, .read_two = rig_read_two};
	memset(run, 0, sizeof *run);
	cr_assert_eq(sc_run_scenario(s, ".", dut, &io, run, NULL), 0, "%s", run->error);
	sc_dut_close(dut);
	sc_modbus_stop(r->mb);
	sc_device_free(&r->dev);
	sc_loop_free(r->loop);
	sc_scenario_free(s);
}

Test(readback, every_telegram_read_in_process_and_the_same)
{
	struct sc_run run;
	struct rig r;
	run_rig(0, &run, &r);
	cr_assert_eq(r.reads, TELEGRAMS);
	cr_assert_eq(run.ns, TELEGRAMS);
	const struct sc_result *x = find(&run, "each telegram", "modbus");
	cr_assert_not_null(x);
	cr_assert(x->pass, "%s", x->actual);
	cr_assert_str_eq(x->actual, "the same after each of 20 read back");
	cr_assert_eq(run.fail, 0);
	sc_run_free(&run);
}

Test(readback, a_register_broken_after_one_telegram_fails_that_telegram)
{
	struct sc_run run;
	struct rig r;
	run_rig(7, &run, &r);
	cr_assert_eq(r.reads, TELEGRAMS);
	const struct sc_result *x = find(&run, "each telegram", "modbus");
	cr_assert_not_null(x);
	cr_assert_not(x->pass);
	cr_assert(strncmp(x->actual, "1 of 20 read back differ", 24) == 0, "%s", x->actual);
	/* The FAIL line names the telegram, with what was served and wanted:
	 * the read after telegram 7, not one after the next telegram. */
	const struct sc_result *t = find(&run, "telegram 6", "modbus");
	cr_assert_not_null(t, "no FAIL line for telegram 7");
	cr_assert_not(t->pass);
	cr_assert_eq(run.ns, TELEGRAMS);
	cr_assert_neq(run.s[6].want_p, run.s[6].got_p);
	for (size_t i = 0; i < run.ns; i++)
		if (i != 6)
			cr_assert_eq((float)run.s[i].want_p, (float)run.s[i].got_p, "sample %zu", i);
	cr_assert_geq(run.fail, 1);
	sc_run_free(&run);
}
