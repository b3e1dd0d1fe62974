/* The scenario loader (scenario.h): defaults, the timeline sorted by at
 * (stable), the duration, every action and expectation kind parsed into the
 * model, values and their descriptions, and the messages for malformed
 * input: the file's name, the JSON path and what is wrong there. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "sc_error.h"

static char err[1024];

static struct sc_scenario *load(const char *text)
{
	struct sc_scenario *s = NULL;
	int rc = sc_scenario_load(text, strlen(text), "f.json", &s, err, sizeof err);
	cr_assert_eq(rc, SC_OK, "load failed: %s", err);
	cr_assert_not_null(s);
	cr_assert_str_empty(err);
	return s;
}

/* The text's error message, without "f.json: ". */
static const char *error_of(const char *text)
{
	struct sc_scenario *s = (struct sc_scenario *)0x1;
	int rc = sc_scenario_load(text, strlen(text), "f.json", &s, err, sizeof err);
	cr_assert_eq(rc, SC_ERR_INVAL, "loaded: %s", text);
	cr_assert_null(s, "no model on failure");
	cr_assert_eq(strncmp(err, "f.json: ", 8), 0, "the file's name first: %s", err);
	return err + 8;
}

/* A document with these steps (JSON text of the list's items). */
static char *doc(const char *top, const char *steps)
{
	static char buf[8192];
	snprintf(buf, sizeof buf, "{\"scenario\": 1, \"name\": \"t\"%s%s, \"steps\": [%s]}", *top ? ", " : "",
		 top, steps);
	return buf;
}

static const struct sc_step *step_noted(const struct sc_scenario *s, const char *note)
{
	for (int i = 0; i < s->nsteps; i++)
		if (strcmp(s->steps[i].note, note) == 0)
			return &s->steps[i];
	cr_assert_fail("no step noted %s", note);
	return NULL;
}

/* ---- defaults ---- */

Test(scenario_load, defaults)
{
	struct sc_scenario *s = load(doc("", "{\"at\": 0, \"wait\": 2}"));
	cr_assert_str_eq(s->name, "t");
	cr_assert_null(s->description);
	cr_assert_eq(s->device, SC_PROTO_P1);
	cr_assert_str_eq(s->firmware, "5.2.0");
	cr_assert_str_eq(s->serial, "E8DB84000001");
	cr_assert_eq(s->word_order, SC_WORDS_CDAB);
	cr_assert_null(s->config);
	cr_assert_eq(s->flavour, SC_FLAVOUR_DSMR50);
	cr_assert_eq(s->meter.profile, SC_PROFILE_HOUSEHOLD);
	cr_assert_eq(s->meter.phases, 3);
	cr_assert_eq(s->meter.seed, 1);
	cr_assert_eq(s->meter.start, 1751360400);
	cr_assert_eq(s->meter.import_wh, 0);
	cr_assert_eq(s->meter.export_wh, 0);
	cr_assert_eq(s->tic.producer, false);
	cr_assert_eq(s->tic.calendar, SC_TIC_CAL_BASE);
	cr_assert_eq(s->tic.total, SC_TIC_TOTAL_SUM);
	cr_assert_eq(s->time_scale, 1);
	cr_assert_eq(s->nsteps, 1);
	cr_assert_eq(s->steps[0].kind, SC_STEP_EXPECT);
	cr_assert_eq(s->steps[0].seconds, 2);
	cr_assert_str_eq(s->steps[0].where, "steps[0]");
	cr_assert_str_empty(s->steps[0].note);
	cr_assert_eq(s->steps[0].nexpect, 0);
	cr_assert_eq(s->duration, 2);
	cr_assert_eq(sc_scenario_cadence(s), 1.0);
	sc_scenario_free(s);
}

Test(scenario_load, tic_device_without_meter_has_a_tic_meter)
{
	struct sc_scenario *s = load(doc("\"device\": \"tic\"", "{\"at\": 0, \"wait\": 1}"));
	cr_assert_eq(s->device, SC_PROTO_TIC);
	cr_assert_eq(s->flavour, SC_FLAVOUR_TIC);
	cr_assert_eq(sc_scenario_cadence(s), 1.0);
	sc_scenario_free(s);
}

Test(scenario_load, top_level_and_meter)
{
	struct sc_scenario *s = load(doc(
		"\"description\": \"a day\", \"device\": \"tic\", \"firmware\": \"5.0.3\", "
		"\"serial\": \"E8DB84ABCDEF\", \"word_order\": \"abcd\", "
		"\"config\": {\"MQTT\": {\"Site\": \"demo\", \"Enabled\": true}}, "
		"\"meter\": {\"protocol\": \"tic\", \"profile\": \"pv-ev\", \"phases\": 1, \"seed\": 42, "
		"\"start\": 1751320800, \"producer\": true, \"calendar\": \"tempo\", \"tic_total\": \"net\", "
		"\"time_scale\": 60, "
		"\"import_wh\": 1000.5, \"export_wh\": 20}",
		"{\"at\": 0, \"wait\": 1}"));
	cr_assert_str_eq(s->description, "a day");
	cr_assert_eq(s->device, SC_PROTO_TIC);
	cr_assert_str_eq(s->firmware, "5.0.3");
	cr_assert_str_eq(s->serial, "E8DB84ABCDEF");
	cr_assert_eq(s->word_order, SC_WORDS_ABCD);
	cr_assert_str_eq(s->config, "{\"MQTT\":{\"Site\":\"demo\",\"Enabled\":true}}");
	cr_assert_eq(s->flavour, SC_FLAVOUR_TIC);
	cr_assert_eq(s->meter.profile, SC_PROFILE_PV_EV);
	cr_assert_eq(s->meter.phases, 1);
	cr_assert_eq(s->meter.seed, 42);
	cr_assert_eq(s->meter.start, 1751320800);
	cr_assert_eq(s->tic.producer, true);
	cr_assert_eq(s->tic.calendar, SC_TIC_CAL_TEMPO);
	cr_assert_eq(s->tic.total, SC_TIC_TOTAL_NET);
	cr_assert_eq(s->time_scale, 60);
	cr_assert_eq(s->meter.import_wh, 1000.5);
	cr_assert_eq(s->meter.export_wh, 20);
	sc_scenario_free(s);
}

Test(scenario_load, protocols_and_cadence)
{
	static const struct {
		const char *name;
		enum sc_flavour f;
		double cadence;
	} p[] = {{"dsmr42", SC_FLAVOUR_DSMR42, 10}, {"dsmr50", SC_FLAVOUR_DSMR50, 1},
		 {"emucs", SC_FLAVOUR_EMUCS, 1}};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
		char top[96];
		snprintf(top, sizeof top, "\"meter\": {\"protocol\": \"%s\"}", p[i].name);
		struct sc_scenario *s = load(doc(top, "{\"at\": 0, \"telegrams\": {\"count\": 3}}"));
		cr_assert_eq(s->flavour, p[i].f, "%s", p[i].name);
		cr_assert_eq(sc_scenario_cadence(s), p[i].cadence, "%s", p[i].name);
		/* Three telegrams at the cadence: the last at 2 x cadence. */
		cr_assert_eq(s->duration, 2 * p[i].cadence, "%s", p[i].name);
		sc_scenario_free(s);
	}
}

Test(scenario_load, only_the_given_length_is_read)
{
	const char *text = doc("", "{\"at\": 0, \"wait\": 1}");
	char buf[8300];
	snprintf(buf, sizeof buf, "%sGARBAGE", text);
	struct sc_scenario *s = NULL;
	cr_assert_eq(sc_scenario_load(buf, strlen(text), "f.json", &s, err, sizeof err), SC_OK, "%s", err);
	sc_scenario_free(s);
	cr_assert_eq(sc_scenario_load(buf, strlen(buf), "f.json", &s, err, sizeof err), SC_ERR_INVAL);
	char want[96];
	snprintf(want, sizeof want, "f.json: text after the document (line 1, column %zu)", strlen(text) + 1);
	cr_assert_str_eq(err, want);
	/* White space after it is fine. */
	snprintf(buf, sizeof buf, "%s \r\n\t\n", text);
	cr_assert_eq(sc_scenario_load(buf, strlen(buf), "f.json", &s, err, sizeof err), SC_OK, "%s", err);
	sc_scenario_free(s);
}

Test(scenario_load, free_null)
{
	sc_scenario_free(NULL);
}

/* ---- the timeline ---- */

Test(scenario_load, steps_sorted_by_at_ties_in_file_order)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 5, \"note\": \"a\", \"wait\": 0},"
		"{\"at\": 1, \"note\": \"b\", \"wait\": 0},"
		"{\"at\": 5, \"note\": \"c\", \"wait\": 0},"
		"{\"at\": 0, \"note\": \"d\", \"wait\": 0},"
		"{\"at\": 1, \"note\": \"e\", \"wait\": 0},"
		"{\"at\": 5, \"note\": \"f\", \"wait\": 0},"
		"{\"at\": 0.5, \"note\": \"g\", \"wait\": 0}"));
	static const char *const order = "dgbeacf";
	static const int index[] = {3, 6, 1, 4, 0, 2, 5};
	cr_assert_eq(s->nsteps, 7);
	for (int i = 0; i < 7; i++) {
		char note[2] = {order[i], 0}, where[16];
		cr_assert_str_eq(s->steps[i].note, note, "position %d", i);
		cr_assert_eq(s->steps[i].index, index[i]);
		snprintf(where, sizeof where, "steps[%d]", index[i]);
		cr_assert_str_eq(s->steps[i].where, where, "the file's index is kept for messages");
	}
	sc_scenario_free(s);
}

Test(scenario_load, duration_covers_telegrams_windows_and_waits)
{
	/* Telegrams at 2, 2.5 ... 6.5; an expectation at 3 open for 10 s. */
	struct sc_scenario *s = load(doc("",
		"{\"at\": 2, \"telegrams\": {\"count\": 10, \"every\": 0.5}},"
		"{\"at\": 3, \"expect\": {\"led\": \"normal\", \"within\": 10}}"));
	cr_assert_float_eq(s->duration, 13, 1e-9);
	sc_scenario_free(s);

	s = load(doc("", "{\"at\": 2, \"telegrams\": {\"count\": 10, \"every\": 0.5}},"
			 "{\"at\": 3, \"expect\": {\"led\": \"normal\", \"within\": 1}}"));
	cr_assert_float_eq(s->duration, 6.5, 1e-9);
	sc_scenario_free(s);

	/* A wait and a press last their seconds. */
	s = load(doc("", "{\"at\": 1, \"telegrams\": {\"count\": 1}}, {\"at\": 20, \"wait\": 3}"));
	cr_assert_eq(s->duration, 23);
	sc_scenario_free(s);
	s = load(doc("", "{\"at\": 4, \"button\": 10.5}"));
	cr_assert_eq(s->duration, 14.5);
	sc_scenario_free(s);

	/* DSMR 4.2: its 10 s cadence; a telegrams step's window opens after
	 * its last telegram but counts from the step's at. */
	s = load(doc("\"meter\": {\"protocol\": \"dsmr42\"}",
		     "{\"at\": 0, \"telegrams\": {\"count\": 4}, \"expect\": {\"led\": \"normal\"}}"));
	cr_assert_eq(s->duration, 30);
	sc_scenario_free(s);
}

/* ---- actions ---- */

Test(scenario_load, telegrams)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"note\": \"plain\", \"telegrams\": {}},"
		"{\"at\": 1, \"note\": \"faulty\", \"telegrams\": {\"count\": 12, \"every\": 0.25, "
		"\"fault\": \"bad-crc\", \"fault_every\": 3}},"
		"{\"at\": 2, \"note\": \"garbage\", \"telegrams\": {\"count\": 2, \"fault\": \"garbage\"}}"));
	const struct sc_step *st = step_noted(s, "plain");
	cr_assert_eq(st->kind, SC_STEP_TELEGRAMS);
	cr_assert_eq(st->count, 1);
	cr_assert_eq(st->every, 0, "0: the meter's cadence");
	cr_assert_eq(st->fault, SC_P1_FAULT_NONE);
	cr_assert_eq(st->fault_every, 1);
	st = step_noted(s, "faulty");
	cr_assert_eq(st->count, 12);
	cr_assert_eq(st->every, 0.25);
	cr_assert_eq(st->fault, SC_P1_FAULT_BAD_CRC);
	cr_assert_eq(st->fault_every, 3);
	cr_assert_eq(step_noted(s, "garbage")->fault, SC_P1_FAULT_GARBAGE);
	sc_scenario_free(s);

	s = load(doc("\"device\": \"tic\", \"meter\": {\"protocol\": \"tic\"}",
		     "{\"at\": 0, \"telegrams\": {\"count\": 2, \"fault\": \"bad-checksum\"}},"
		     "{\"at\": 5, \"telegrams\": {\"count\": 2, \"fault\": \"historic\"}}"));
	cr_assert_eq(s->steps[0].fault, SC_TIC_FAULT_BAD_CHECKSUM);
	cr_assert_eq(s->steps[1].fault, SC_TIC_FAULT_HISTORIC);
	sc_scenario_free(s);
}

Test(scenario_load, literal_telegrams)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"telegram\": \"/ISK5\\\\2M550T-1012\\r\\n\\r\\n!1A2B\\r\\n\"},"
		"{\"at\": 1, \"telegram_hex\": \"2f41000aFF\"}"));
	cr_assert_eq(s->steps[0].kind, SC_STEP_TELEGRAM);
	cr_assert_eq(s->steps[0].nbytes, strlen("/ISK5\\2M550T-1012\r\n\r\n!1A2B\r\n"));
	cr_assert_str_eq(s->steps[0].bytes, "/ISK5\\2M550T-1012\r\n\r\n!1A2B\r\n");
	cr_assert_eq(s->steps[1].kind, SC_STEP_TELEGRAM);
	cr_assert_eq(s->steps[1].nbytes, 5);
	cr_assert_eq(memcmp(s->steps[1].bytes, "/A\0\n\xff", 5), 0, "bytes as given, NUL included");
	sc_scenario_free(s);
}

Test(scenario_load, captures)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"note\": \"all\", \"capture\": {\"file\": \"c.p1\"}},"
		"{\"at\": 1, \"note\": \"index\", \"capture\": {\"file\": \"d/c.p1.gz\", \"from\": 3, "
		"\"count\": 7, \"every\": 2}},"
		"{\"at\": 2, \"note\": \"time\", \"capture\": {\"file\": \"/abs/c.txt\", \"from_time\": 10, "
		"\"to_time\": 70}},"
		"{\"at\": 3, \"note\": \"from\", \"capture\": {\"file\": \"c.p1\", \"from_time\": 5}}"));
	const struct sc_step *st = step_noted(s, "all");
	cr_assert_eq(st->kind, SC_STEP_CAPTURE);
	cr_assert_str_eq(st->file, "c.p1");
	cr_assert_eq(st->from, 0);
	cr_assert_eq(st->count, -1, "to the end");
	cr_assert_eq(st->every, 0);
	cr_assert_not(st->by_time);
	st = step_noted(s, "index");
	cr_assert_str_eq(st->file, "d/c.p1.gz");
	cr_assert_eq(st->from, 3);
	cr_assert_eq(st->count, 7);
	cr_assert_eq(st->every, 2);
	st = step_noted(s, "time");
	cr_assert_str_eq(st->file, "/abs/c.txt");
	cr_assert(st->by_time);
	cr_assert_eq(st->from_time, 10);
	cr_assert_eq(st->to_time, 70);
	st = step_noted(s, "from");
	cr_assert(st->by_time);
	cr_assert_eq(st->from_time, 5);
	cr_assert(isinf(st->to_time));
	sc_scenario_free(s);
}

Test(scenario_load, faults_and_actions)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"note\": \"cut\", \"meter\": \"cut\"},"
		"{\"at\": 1, \"note\": \"restore\", \"meter\": \"restore\"},"
		"{\"at\": 2, \"note\": \"down\", \"broker\": \"down\"},"
		"{\"at\": 3, \"note\": \"up\", \"broker\": \"up\"},"
		"{\"at\": 4, \"note\": \"net\", \"network\": {\"EthernetCable\": false, \"DhcpServer\": true, "
		"\"Internet\": false}},"
		"{\"at\": 5, \"note\": \"button\", \"button\": 5.1},"
		"{\"at\": 6, \"note\": \"power\", \"power\": \"cycle\"},"
		"{\"at\": 7, \"note\": \"wait\", \"wait\": 2.5}"));
	cr_assert_eq(step_noted(s, "cut")->kind, SC_STEP_METER);
	cr_assert(step_noted(s, "cut")->action.cut);
	cr_assert_eq(step_noted(s, "restore")->kind, SC_STEP_METER);
	cr_assert_not(step_noted(s, "restore")->action.cut);
	cr_assert_eq(step_noted(s, "down")->kind, SC_STEP_BROKER);
	cr_assert(step_noted(s, "down")->action.cut);
	cr_assert_not(step_noted(s, "up")->action.cut);
	const struct sc_step *st = step_noted(s, "net");
	cr_assert_eq(st->kind, SC_STEP_NETWORK);
	static const bool given[5] = {true, false, true, false, true}, value[5] = {false, false, true,
										 false, false};
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(st->action.net_given[i], given[i], "field %d", i);
		cr_assert_eq(st->action.net_value[i], value[i], "field %d", i);
	}
	cr_assert_eq(step_noted(s, "button")->kind, SC_STEP_BUTTON);
	cr_assert_eq(step_noted(s, "button")->action.seconds, 5.1);
	cr_assert_eq(step_noted(s, "power")->kind, SC_STEP_POWER);
	cr_assert_eq(step_noted(s, "wait")->kind, SC_STEP_EXPECT);
	cr_assert_eq(step_noted(s, "wait")->seconds, 2.5);
	/* The action each step carries, as the control API would build it. */
	cr_assert_eq(step_noted(s, "cut")->action.kind, SC_ACT_METER);
	cr_assert_eq(step_noted(s, "up")->action.kind, SC_ACT_BROKER);
	cr_assert_eq(st->action.kind, SC_ACT_NETWORK);
	cr_assert_eq(step_noted(s, "button")->action.kind, SC_ACT_BUTTON);
	cr_assert_eq(step_noted(s, "button")->action.button, SC_BUTTON_PRESS);
	cr_assert_eq(step_noted(s, "power")->action.kind, SC_ACT_POWER);
	cr_assert_eq(step_noted(s, "wait")->action.kind, SC_ACT_NONE);
	cr_assert_float_eq(s->duration, 10.1, 1e-9, "the press of 5.1 s at 5 s lasts longest");
	sc_scenario_free(s);
}

Test(scenario_load, api_request)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"wait\": 0},"
		"{\"at\": 3, \"api\": {\"method\": \"PATCH\", \"path\": \"/api/v1/config\", "
		"\"body\": {\"MQTT\": {\"Site\": \"garage\"}}, \"status\": 200, "
		"\"json\": {\"MQTT.Site\": \"garage\"}}},"
		"{\"at\": 4, \"api\": {\"method\": \"POST\", \"path\": \"/api/v1/reset\", \"status\": 202}}"));
	const struct sc_step *st = &s->steps[1];
	cr_assert_eq(st->kind, SC_STEP_API);
	cr_assert_eq(st->nexpect, 0);
	cr_assert_eq(st->api.kind, SC_EXPECT_HTTP);
	cr_assert_str_eq(st->api.where, "steps[1].api");
	cr_assert_str_eq(st->api.method, "PATCH");
	cr_assert_str_eq(st->api.path, "/api/v1/config");
	cr_assert_str_eq(st->api.body, "{\"MQTT\":{\"Site\":\"garage\"}}");
	cr_assert_eq(st->api.status, 200);
	cr_assert_eq(st->api.nm, 1);
	cr_assert_str_eq(st->api.m[0].key, "MQTT.Site");
	cr_assert_eq(st->api.m[0].kind, SC_MATCH_STRING);
	cr_assert_str_eq(st->api.m[0].str, "garage");
	st = &s->steps[2];
	cr_assert_null(st->api.body);
	cr_assert_eq(st->api.nm, 0);
	cr_assert_eq(st->api.status, 202);
	sc_scenario_free(s);
}

/* ---- expectations ---- */

Test(scenario_load, one_expectation_or_a_list)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"note\": \"one\", \"expect\": {\"led\": \"no-data\"}},"
		"{\"at\": 1, \"note\": \"list\", \"expect\": [{\"led\": \"ap\"}, {\"led\": \"no-data-no-ip\", "
		"\"within\": 4}]}"));
	const struct sc_step *st = step_noted(s, "one");
	cr_assert_eq(st->kind, SC_STEP_EXPECT);
	cr_assert_eq(st->nexpect, 1);
	cr_assert_eq(st->expect[0].kind, SC_EXPECT_LED);
	cr_assert_str_eq(st->expect[0].led, "no-data");
	cr_assert_str_eq(st->expect[0].where, "steps[0].expect");
	cr_assert_eq(st->expect[0].within, 0);
	st = step_noted(s, "list");
	cr_assert_eq(st->nexpect, 2);
	cr_assert_str_eq(st->expect[0].where, "steps[1].expect[0]");
	cr_assert_str_eq(st->expect[1].where, "steps[1].expect[1]");
	cr_assert_str_eq(st->expect[1].led, "no-data-no-ip");
	cr_assert_eq(st->expect[1].within, 4);
	cr_assert_eq(s->duration, 5);
	sc_scenario_free(s);
}

Test(scenario_load, modbus)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"telegrams\": {\"count\": 1}, \"expect\": ["
		"{\"modbus\": \"telegram\"},"
		"{\"modbus\": {\"register\": \"active_power\", \"value\": 2257, \"tolerance\": 1}},"
		"{\"modbus\": {\"register\": \"0x800e\", \"value\": {\"min\": 10}}},"
		"{\"modbus\": {\"registers\": {\"voltage_l1\": {\"min\": 200, \"max\": 250}, "
		"\"0x8100\": {\"value\": 5, \"tolerance\": 0.5}, \"current_l2\": 3}, \"tolerance\": 0.1}},"
		"{\"modbus\": {\"registers\": {\"energy_export\": 7}}, \"tolerance\": 2, \"within\": 3}]}"));
	const struct sc_step *st = &s->steps[0];
	cr_assert_eq(st->nexpect, 5);
	const struct sc_expect *e = st->expect;
	cr_assert_eq(e[0].kind, SC_EXPECT_MODBUS);
	cr_assert(e[0].from_telegram);
	cr_assert_eq(e[0].nm, 0);

	cr_assert_not(e[1].from_telegram);
	cr_assert_eq(e[1].nm, 1);
	cr_assert_str_eq(e[1].m[0].key, "active_power");
	cr_assert_eq(e[1].m[0].addr, 0x8016);
	cr_assert_eq(e[1].m[0].kind, SC_MATCH_NUMBER);
	cr_assert_eq(e[1].m[0].num, 2257);
	cr_assert_eq(e[1].m[0].tolerance, 1);

	cr_assert_eq(e[2].m[0].addr, 0x800E, "an address, any case");
	cr_assert_eq(e[2].m[0].kind, SC_MATCH_RANGE);
	cr_assert(e[2].m[0].has_min);
	cr_assert_not(e[2].m[0].has_max);
	cr_assert_eq(e[2].m[0].min, 10);
	cr_assert(isinf(e[2].m[0].max) && e[2].m[0].max > 0);

	cr_assert_eq(e[3].nm, 3);
	cr_assert_str_eq(e[3].m[0].key, "voltage_l1");
	cr_assert_eq(e[3].m[0].addr, 0x8006);
	cr_assert_eq(e[3].m[0].kind, SC_MATCH_RANGE);
	cr_assert_eq(e[3].m[0].min, 200);
	cr_assert_eq(e[3].m[0].max, 250);
	cr_assert_eq(e[3].m[1].addr, 0x8100);
	cr_assert_eq(e[3].m[1].kind, SC_MATCH_NUMBER);
	cr_assert_eq(e[3].m[1].num, 5);
	cr_assert_eq(e[3].m[1].tolerance, 0.5, "a value's own tolerance wins");
	cr_assert_eq(e[3].m[2].addr, 0x8010);
	cr_assert_eq(e[3].m[2].tolerance, 0.1, "the modbus object's tolerance");

	cr_assert_eq(e[4].m[0].tolerance, 2, "the expectation's tolerance applies to every number");
	cr_assert_eq(e[4].within, 3);
	sc_scenario_free(s);
}

Test(scenario_load, mqtt)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"expect\": ["
		"{\"mqtt\": {\"fields\": \"telegram\"}},"
		"{\"mqtt\": {\"fields\": {\"P\": -4023, \"l1.U\": null, \"l2.I\": {\"max\": 1.5}}, "
		"\"tolerance\": 0.5}},"
		"{\"mqtt\": {\"metric\": \"device_counters\", \"fields\": {\"telegrams_fail\": {\"min\": 1}, "
		"\"name\": \"x\", \"flag\": true}}}]}"));
	const struct sc_expect *e = s->steps[0].expect;
	cr_assert_eq(e[0].kind, SC_EXPECT_MQTT);
	cr_assert(e[0].from_telegram);
	cr_assert_str_eq(e[0].metric, "power_instant");
	cr_assert_str_eq(e[1].metric, "power_instant");
	cr_assert_not(e[1].from_telegram);
	cr_assert_eq(e[1].nm, 3);
	cr_assert_str_eq(e[1].m[0].key, "P");
	cr_assert_eq(e[1].m[0].num, -4023);
	cr_assert_eq(e[1].m[0].tolerance, 0.5);
	cr_assert_str_eq(e[1].m[1].key, "l1.U");
	cr_assert_eq(e[1].m[1].kind, SC_MATCH_NULL);
	cr_assert_eq(e[1].m[2].kind, SC_MATCH_RANGE);
	cr_assert(isinf(e[1].m[2].min) && e[1].m[2].min < 0);
	cr_assert_eq(e[1].m[2].max, 1.5);
	cr_assert_str_eq(e[2].metric, "device_counters");
	cr_assert_eq(e[2].m[1].kind, SC_MATCH_STRING);
	cr_assert_str_eq(e[2].m[1].str, "x");
	cr_assert_eq(e[2].m[2].kind, SC_MATCH_BOOL);
	cr_assert(e[2].m[2].b);
	sc_scenario_free(s);
}

Test(scenario_load, drop_the_expectations_of_a_kind)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"expect\": [{\"mqtt\": {\"fields\": \"telegram\"}}, {\"modbus\": \"telegram\"},"
		"{\"mqtt\": {\"fields\": {\"P\": 1}}}, {\"led\": \"no-data\"}]},"
		"{\"at\": 1, \"expect\": {\"mqtt\": {\"fields\": \"telegram\"}}},"
		"{\"at\": 2, \"expect\": {\"modbus\": \"telegram\"}}"));
	cr_assert_eq(sc_scenario_drop_expects(s, SC_EXPECT_MQTT), 3);
	cr_assert_eq(s->steps[0].nexpect, 2);
	cr_assert_eq(s->steps[0].expect[0].kind, SC_EXPECT_MODBUS, "the others keep their order");
	cr_assert_str_eq(s->steps[0].expect[0].where, "steps[0].expect[1]", "and their place in the file");
	cr_assert_eq(s->steps[0].expect[1].kind, SC_EXPECT_LED);
	cr_assert_eq(s->steps[1].nexpect, 0);
	cr_assert_eq(s->steps[2].nexpect, 1);
	cr_assert_eq(sc_scenario_drop_expects(s, SC_EXPECT_MQTT), 0, "none left");
	sc_scenario_free(s);
}

Test(scenario_load, http_led_counters)
{
	struct sc_scenario *s = load(doc("",
		"{\"at\": 0, \"expect\": ["
		"{\"http\": {\"path\": \"/api/v1/firmware\", \"status\": 200, \"json\": {\"Version\": \"5.1.0\", "
		"\"Progress\": {\"min\": 0}}}},"
		"{\"http\": {\"method\": \"POST\", \"path\": \"/api/v1/firmware\", \"body\": {\"Version\": \"5.1.0\"}, "
		"\"status\": 202}},"
		"{\"led\": \"power-up\"}, {\"led\": \"initialising\"}, {\"led\": \"normal\"},"
		"{\"counters\": {\"telegrams_fail\": 3, \"telegrams_pass\": {\"min\": 10}, \"mqtt_send_fail\": 0}}]}"));
	const struct sc_expect *e = s->steps[0].expect;
	cr_assert_eq(e[0].kind, SC_EXPECT_HTTP);
	cr_assert_str_eq(e[0].method, "GET", "GET by default");
	cr_assert_str_eq(e[0].path, "/api/v1/firmware");
	cr_assert_null(e[0].body);
	cr_assert_eq(e[0].status, 200);
	cr_assert_eq(e[0].nm, 2);
	cr_assert_str_eq(e[0].m[0].str, "5.1.0");
	cr_assert_str_eq(e[0].m[1].key, "Progress");
	cr_assert_str_eq(e[1].method, "POST");
	cr_assert_str_eq(e[1].body, "{\"Version\":\"5.1.0\"}");
	cr_assert_eq(e[1].nm, 0);
	cr_assert_eq(e[1].status, 202);
	cr_assert_str_eq(e[2].led, "power-up");
	cr_assert_str_eq(e[3].led, "initialising");
	cr_assert_eq(e[4].kind, SC_EXPECT_LED);
	cr_assert_eq(e[5].kind, SC_EXPECT_COUNTERS);
	cr_assert_eq(e[5].nm, 3);
	cr_assert_str_eq(e[5].m[0].key, "telegrams_fail");
	cr_assert_eq(e[5].m[0].num, 3);
	cr_assert_eq(e[5].m[1].kind, SC_MATCH_RANGE);
	cr_assert_eq(e[5].m[1].min, 10);
	sc_scenario_free(s);
}

/* ---- values ---- */

Test(scenario_match, numbers_ranges_and_descriptions)
{
	struct sc_match m = {.kind = SC_MATCH_NUMBER, .num = 2257, .tolerance = 1};
	cr_assert(sc_match_number(&m, 2258));
	cr_assert(sc_match_number(&m, 2256));
	cr_assert_not(sc_match_number(&m, 2258.5));
	char buf[64];
	sc_match_describe(&m, buf, sizeof buf);
	cr_assert_str_eq(buf, "2257 +- 1");
	m.tolerance = 0;
	sc_match_describe(&m, buf, sizeof buf);
	cr_assert_str_eq(buf, "2257");
	cr_assert_not(sc_match_number(&m, 2257.0001));

	struct sc_match r = {.kind = SC_MATCH_RANGE, .min = 1, .max = INFINITY, .has_min = true};
	cr_assert(sc_match_number(&r, 1));
	cr_assert(sc_match_number(&r, 1e30));
	cr_assert_not(sc_match_number(&r, 0.99));
	sc_match_describe(&r, buf, sizeof buf);
	cr_assert_str_eq(buf, "[1, inf]");

	struct sc_match t = {.kind = SC_MATCH_STRING, .str = "no-data"};
	sc_match_describe(&t, buf, sizeof buf);
	cr_assert_str_eq(buf, "\"no-data\"");
	cr_assert_not(sc_match_number(&t, 0), "a string is not a number");
	struct sc_match b = {.kind = SC_MATCH_BOOL, .b = false};
	sc_match_describe(&b, buf, sizeof buf);
	cr_assert_str_eq(buf, "false");
	struct sc_match n = {.kind = SC_MATCH_NULL};
	sc_match_describe(&n, buf, sizeof buf);
	cr_assert_str_eq(buf, "null");
	cr_assert_not(sc_match_number(&n, 0));

	cr_assert_str_eq(sc_expect_kind_name(SC_EXPECT_MODBUS), "modbus");
	cr_assert_str_eq(sc_expect_kind_name(SC_EXPECT_MQTT), "mqtt");
	cr_assert_str_eq(sc_expect_kind_name(SC_EXPECT_HTTP), "http");
	cr_assert_str_eq(sc_expect_kind_name(SC_EXPECT_LED), "led");
	cr_assert_str_eq(sc_expect_kind_name(SC_EXPECT_COUNTERS), "counters");
}

/* ---- errors: the JSON path and the reason ---- */

static const char *const REG_HINT = "(an address of the map such as 0x8016, or a name such as active_power)";

Test(scenario_errors, json_syntax_with_line_and_column)
{
	cr_assert_str_eq(error_of("{\"scenario\": 1,\n  \"name\": \"x\",\n  \"steps\": [}\n"),
			 "not valid JSON (line 3, column 13)");
	cr_assert_str_eq(error_of("{\"scenario\": 1,\n  \"name\": \"x\"\n  \"steps\": []}"),
			 "not valid JSON (line 3, column 3)");
	cr_assert_str_eq(error_of(""), "not valid JSON (line 1, column 1)");
	cr_assert_str_eq(error_of("[1]"), "must be an object");
}

Test(scenario_errors, top_level)
{
	cr_assert_str_eq(error_of("{\"name\": \"t\", \"steps\": [{\"at\": 0, \"wait\": 1}]}"),
			 "scenario: missing: the format version, 1");
	cr_assert_str_eq(error_of("{\"scenario\": \"1\", \"name\": \"t\", \"steps\": []}"),
			 "scenario: must be a number");
	cr_assert_str_eq(error_of("{\"scenario\": 2, \"name\": \"t\", \"steps\": []}"),
			 "scenario: must be from 1 to 1");
	cr_assert_str_eq(error_of("{\"scenario\": 1, \"steps\": [{\"at\": 0, \"wait\": 1}]}"),
			 "name: missing or longer than 63 characters");
	cr_assert_str_eq(error_of("{\"scenario\": 1, \"name\": \"A b\", \"steps\": [{\"at\": 0, \"wait\": 1}]}"),
			 "name: lower-case letters, digits, '-', '_' and '.' only");
	cr_assert_str_eq(error_of("{\"scenario\": 1, \"name\": 5, \"steps\": []}"), "name: must be a string");
	cr_assert_str_eq(error_of("{\"scenario\": 1, \"name\": \"t\"}"), "steps: missing or empty: the timeline");
	cr_assert_str_eq(error_of(doc("", "")), "steps: missing or empty: the timeline");
	cr_assert_str_eq(error_of(doc("\"steps\": 1", "{\"at\": 0, \"wait\": 1}")), "steps: given twice");
	cr_assert_str_eq(error_of(doc("\"colour\": 1", "{\"at\": 0, \"wait\": 1}")),
			 "colour: unknown key (known here: scenario, name, description, device, firmware, "
			 "serial, word_order, config, meter, steps)");
	cr_assert_str_eq(error_of(doc("\"device\": \"x\"", "{\"at\": 0, \"wait\": 1}")),
			 "device: 'x' is not p1 or tic");
	cr_assert_str_eq(error_of(doc("\"firmware\": \"five\"", "{\"at\": 0, \"wait\": 1}")),
			 "firmware: 'five' is not a version like 5.1.2");
	cr_assert_str_eq(error_of(doc("\"serial\": \"\"", "{\"at\": 0, \"wait\": 1}")),
			 "serial: 1-32 letters and digits");
	cr_assert_str_eq(error_of(doc("\"word_order\": \"badc\"", "{\"at\": 0, \"wait\": 1}")),
			 "word_order: 'badc' is not cdab or abcd");
	cr_assert_str_eq(error_of(doc("\"config\": []", "{\"at\": 0, \"wait\": 1}")),
			 "config: a configuration document (as PATCH /api/v1/config takes)");
	cr_assert_str_eq(error_of(doc("\"description\": 3", "{\"at\": 0, \"wait\": 1}")),
			 "description: must be a string");
}

Test(scenario_errors, meter)
{
	static const struct {
		const char *meter, *msg;
	} c[] = {
		{"[]", "meter: must be an object"},
		{"{\"rate\": 1}", "meter.rate: unknown key (known here: protocol, profile, phases, seed, start, "
				  "producer, calendar, tic_total, time_scale, import_wh, export_wh)"},
		{"{\"protocol\": \"dsmr22\"}", "meter.protocol: 'dsmr22' is not dsmr42, dsmr50, emucs or tic"},
		{"{\"protocol\": \"tic\"}", "meter.protocol: the meter is tic, the device p1: they do not fit"},
		{"{\"profile\": \"farm\"}", "meter.profile: 'farm' is not household, pv, ev or pv-ev"},
		{"{\"phases\": 2}", "meter.phases: 1 or 3"},
		{"{\"phases\": 4}", "meter.phases: must be from 1 to 3"},
		{"{\"seed\": -1}", "meter.seed: must be from 0 to 1000000000000000"},
		{"{\"seed\": 1.5}", "meter.seed: must be a whole number"},
		{"{\"start\": 0}", "meter.start: must be from 978307200 to 4102444799"},
		{"{\"time_scale\": 0}", "meter.time_scale: must be from 0.001 to 100000"},
		{"{\"import_wh\": \"1\"}", "meter.import_wh: must be a number"},
		{"{\"producer\": 1}", "meter.producer: must be true or false"},
		{"{\"producer\": true}", "meter.producer: a producer meter is a TIC meter"},
		{"{\"calendar\": \"ejp\"}", "meter.calendar: 'ejp' is not base, hchp or tempo"},
		{"{\"tic_total\": \"avg\"}", "meter.tic_total: 'avg' is not sum or net"},
		{"{\"tic_total\": \"net\"}", "meter.tic_total: the phase totals are a TIC meter's"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char top[256];
		snprintf(top, sizeof top, "\"meter\": %s", c[i].meter);
		cr_assert_str_eq(error_of(doc(top, "{\"at\": 0, \"wait\": 1}")), c[i].msg, "meter %s", c[i].meter);
	}
	cr_assert_str_eq(error_of(doc("\"device\": \"tic\", \"meter\": {\"protocol\": \"emucs\"}",
				      "{\"at\": 0, \"wait\": 1}")),
			 "meter.protocol: the meter is emucs, the device tic: they do not fit");
}

Test(scenario_errors, steps_and_actions)
{
	static const struct {
		const char *step, *msg;
	} c[] = {
		{"5", "steps[0]: must be an object"},
		{"{\"wait\": 1}", "steps[0].at: missing (seconds from the start)"},
		{"{\"at\": \"0\", \"wait\": 1}", "steps[0].at: must be a number"},
		{"{\"at\": -0.5, \"wait\": 1}", "steps[0].at: must be from 0 to 2678400"},
		{"{\"at\": 0}", "steps[0]: does nothing (an action, a wait or expectations)"},
		{"{\"at\": 0, \"note\": \"x\"}", "steps[0]: does nothing (an action, a wait or expectations)"},
		{"{\"at\": 0, \"note\": 1, \"wait\": 1}", "steps[0].note: must be a string"},
		{"{\"at\": 0, \"wait\": 1, \"button\": 1}",
		 "steps[0]: one action per step (telegrams, telegram, telegram_hex, capture, meter, network, "
		 "broker, button, power, api or wait)"},
		{"{\"at\": 0, \"tele\": {}}",
		 "steps[0].tele: unknown key (known here: at, note, telegrams, telegram, telegram_hex, capture, "
		 "meter, network, broker, button, power, api, wait, expect)"},
		{"{\"at\": 0, \"telegrams\": 3}", "steps[0].telegrams: must be an object"},
		{"{\"at\": 0, \"telegrams\": {\"n\": 3}}",
		 "steps[0].telegrams.n: unknown key (known here: count, every, fault, fault_every)"},
		{"{\"at\": 0, \"telegrams\": {\"count\": 0}}", "steps[0].telegrams.count: must be from 1 to 10000000"},
		{"{\"at\": 0, \"telegrams\": {\"every\": 0}}", "steps[0].telegrams.every: must be from 0.001 to 86400"},
		{"{\"at\": 0, \"telegrams\": {\"fault\": \"bit7\"}}",
		 "steps[0].telegrams.fault: 'bit7' is not a P1 fault (bad-crc, truncated, garbage, oversize)"},
		{"{\"at\": 0, \"telegrams\": {\"fault\": 1}}", "steps[0].telegrams.fault: must be a string"},
		{"{\"at\": 0, \"telegram\": 1}",
		 "steps[0].telegram: the telegram's text (JSON escapes: \\r\\n, \\u0002 ...)"},
		{"{\"at\": 0, \"telegram_hex\": \"abc\"}", "steps[0].telegram_hex: an even number of hex digits"},
		{"{\"at\": 0, \"telegram_hex\": \"ab0g\"}", "steps[0].telegram_hex: '0g' at 2 is not a hex byte"},
		{"{\"at\": 0, \"telegram_hex\": 12}", "steps[0].telegram_hex: must be a string of hex digits"},
		{"{\"at\": 0, \"capture\": {}}",
		 "steps[0].capture.file: the capture's path, relative to the scenario file"},
		{"{\"at\": 0, \"capture\": {\"file\": \"c\", \"from\": -1}}",
		 "steps[0].capture.from: must be from 0 to 1000000000"},
		{"{\"at\": 0, \"capture\": {\"file\": \"c\", \"count\": 0}}",
		 "steps[0].capture.count: must be from 1 to 1000000000"},
		{"{\"at\": 0, \"capture\": {\"file\": \"c\", \"count\": 2, \"from_time\": 0}}",
		 "steps[0].capture: a slice by index (from, count) or by time (from_time, to_time)"},
		{"{\"at\": 0, \"capture\": {\"file\": \"c\", \"from_time\": 9, \"to_time\": 3}}",
		 "steps[0].capture: from_time after to_time"},
		{"{\"at\": 0, \"capture\": {\"file\": \"c\", \"speed\": 3}}",
		 "steps[0].capture.speed: unknown key (known here: file, from, count, from_time, to_time, every)"},
		{"{\"at\": 0, \"meter\": \"out\"}", "steps[0].meter: \"cut\" or \"restore\""},
		{"{\"at\": 0, \"broker\": false}", "steps[0].broker: \"down\" or \"up\""},
		{"{\"at\": 0, \"network\": {}}", "steps[0].network: names nothing to change"},
		{"{\"at\": 0, \"network\": {\"Gateway\": 0}}", "steps[0].network.Gateway: must be true or false"},
		{"{\"at\": 0, \"network\": {\"Dhcp\": true}}",
		 "steps[0].network.Dhcp: unknown key (known here: EthernetCable, WifiInRange, DhcpServer, Gateway, "
		 "Internet)"},
		{"{\"at\": 0, \"button\": 61}", "steps[0].button: must be from 0.01 to 60"},
		{"{\"at\": 0, \"button\": \"long\"}", "steps[0].button: must be a number"},
		{"{\"at\": 0, \"power\": \"off\"}", "steps[0].power: \"cycle\""},
		{"{\"at\": 0, \"wait\": -1}", "steps[0].wait: must be from 0 to 2678400"},
		{"{\"at\": 0, \"api\": []}", "steps[0].api: must be an object"},
		{"{\"at\": 0, \"api\": {\"path\": \"/api/v1/reset\"}}", "steps[0].api: status or json to check"},
		{"{\"at\": 0, \"api\": {\"method\": \"get\", \"path\": \"/x\", \"status\": 200}}",
		 "steps[0].api.method: 'get' is not an HTTP method"},
		{"{\"at\": 0, \"api\": {\"path\": \"x\", \"status\": 200}}",
		 "steps[0].api.path: a path beginning with /"},
		{"{\"at\": 0, \"api\": {\"path\": \"/x\", \"status\": 600}}",
		 "steps[0].api.status: must be from 100 to 599"},
		{"{\"at\": 0, \"api\": {\"path\": \"/x\", \"status\": 200, \"within\": 1}}",
		 "steps[0].api.within: unknown key (known here: method, path, body, status, json, tolerance)"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		cr_assert_str_eq(error_of(doc("", c[i].step)), c[i].msg, "step %s", c[i].step);
	/* The index is the file's, also when the step sorts elsewhere. */
	cr_assert_str_eq(error_of(doc("", "{\"at\": 9, \"wait\": 1}, {\"at\": 0, \"meter\": \"x\"}")),
			 "steps[1].meter: \"cut\" or \"restore\"");
	/* TIC faults on a TIC meter. */
	cr_assert_str_eq(error_of(doc("\"device\": \"tic\"",
				      "{\"at\": 0, \"telegrams\": {\"fault\": \"bad-crc\"}}")),
			 "steps[0].telegrams.fault: 'bad-crc' is not a TIC fault (bad-checksum, truncated, "
			 "garbage, bad-length, bit7, historic, oversize)");
}

Test(scenario_errors, expectations)
{
	char msg[512];
	static const struct {
		const char *expect, *msg;
	} c[] = {
		{"3", "steps[0].expect: an expectation or a list of them"},
		{"[]", "steps[0].expect: an empty list"},
		{"{}", "steps[0].expect: one of modbus, mqtt, http, led or counters"},
		{"{\"led\": \"normal\", \"modbus\": \"telegram\"}",
		 "steps[0].expect: one of modbus, mqtt, http, led or counters"},
		{"{\"led\": \"normal\", \"wthin\": 1}",
		 "steps[0].expect.wthin: unknown key (known here: modbus, mqtt, http, led, counters, within, "
		 "tolerance)"},
		{"[{\"led\": \"normal\"}, {\"led\": \"normal\", \"within\": \"1\"}]",
		 "steps[0].expect[1].within: must be a number"},
		{"{\"led\": \"normal\", \"within\": 86401}", "steps[0].expect.within: must be from 0 to 86400"},
		{"{\"led\": \"green\"}",
		 "steps[0].expect.led: a LED state: power-up, initialising, normal, ap, no-data, no-data-ap, "
		 "no-ip or no-data-no-ip"},
		{"{\"led\": 1}",
		 "steps[0].expect.led: a LED state: power-up, initialising, normal, ap, no-data, no-data-ap, "
		 "no-ip or no-data-no-ip"},
		{"{\"modbus\": {\"register\": \"power\", \"value\": 1}}", NULL},
		{"{\"modbus\": {\"register\": \"0x9000\", \"value\": 1}}", NULL},
		{"{\"modbus\": {\"register\": \"0x80\", \"value\": 1}}", NULL},
		{"{\"modbus\": {\"register\": 32790, \"value\": 1}}",
		 "steps[0].expect.modbus.register: must be a string (\"0x8016\" or \"active_power\")"},
		{"{\"modbus\": {\"register\": \"active_power\"}}", "steps[0].expect.modbus.value: missing"},
		{"{\"modbus\": {\"register\": \"active_power\", \"value\": \"1\"}}",
		 "steps[0].expect.modbus.register: a register holds a number"},
		{"{\"modbus\": {\"register\": \"active_power\", \"value\": 1, \"registers\": {}}}",
		 "steps[0].expect.modbus: either register and value, or registers"},
		{"{\"modbus\": {\"value\": 1}}", "steps[0].expect.modbus: either register and value, or registers"},
		{"{\"modbus\": {\"registers\": {}}}", "steps[0].expect.modbus.registers: names no value"},
		{"{\"modbus\": {\"registers\": [1]}}",
		 "steps[0].expect.modbus.registers: must be an object of names and values"},
		{"{\"modbus\": {\"registers\": {\"active_power\": 1, \"bogus\": 2}}}", NULL},
		{"{\"modbus\": {\"registers\": {\"active_power\": true}}}",
		 "steps[0].expect.modbus.registers.active_power: a register holds a number"},
		{"{\"modbus\": {\"registers\": {\"active_power\": {\"min\": 1, \"value\": 2}}}}",
		 "steps[0].expect.modbus.registers.active_power: either value (with tolerance) or min/max"},
		{"{\"modbus\": {\"registers\": {\"active_power\": {\"min\": 3, \"max\": 2}}}}",
		 "steps[0].expect.modbus.registers.active_power: min is above max"},
		{"{\"modbus\": {\"registers\": {\"active_power\": {\"tolerance\": 2}}}}",
		 "steps[0].expect.modbus.registers.active_power: a range needs min or max"},
		{"{\"modbus\": {\"registers\": {\"active_power\": {\"value\": \"x\"}}}}",
		 "steps[0].expect.modbus.registers.active_power.value: must be a number"},
		{"{\"modbus\": {\"registers\": {\"active_power\": {\"min\": \"x\"}}}}",
		 "steps[0].expect.modbus.registers.active_power.min: must be a number"},
		{"{\"modbus\": {\"registers\": {\"active_power\": {\"above\": 1}}}}",
		 "steps[0].expect.modbus.registers.active_power.above: unknown key (known here: min, max, value, "
		 "tolerance)"},
		{"{\"modbus\": {\"registers\": {\"active_power\": [1]}}}",
		 "steps[0].expect.modbus.registers.active_power: must be a number, string, boolean, null or "
		 "{\"min\", \"max\"}"},
		{"{\"modbus\": {\"registers\": {\"active_power\": 1}, \"tolerance\": -1}}",
		 "steps[0].expect.modbus.tolerance: must be from 0 to 1000000000000000"},
		{"{\"modbus\": \"image\"}", "steps[0].expect.modbus: must be an object"},
		{"{\"mqtt\": {\"metric\": \"power\", \"fields\": {\"P\": 1}}}",
		 "steps[0].expect.mqtt.metric: 'power' is not power_instant or device_counters"},
		{"{\"mqtt\": {\"metric\": 1, \"fields\": {\"P\": 1}}}", "steps[0].expect.mqtt.metric: must be a string"},
		{"{\"mqtt\": {}}", "steps[0].expect.mqtt.fields: missing (an object of fields, or \"telegram\")"},
		{"{\"mqtt\": {\"fields\": \"all\"}}", "steps[0].expect.mqtt.fields: must be an object of names and values"},
		{"{\"mqtt\": {\"metric\": \"device_counters\", \"fields\": \"telegram\"}}",
		 "steps[0].expect.mqtt.fields: \"telegram\" is for power_instant"},
		{"{\"mqtt\": {\"fields\": {\"P\": 1}, \"topic\": \"x\"}}",
		 "steps[0].expect.mqtt.topic: unknown key (known here: metric, fields, tolerance)"},
		{"{\"http\": {\"path\": \"/api/v1/status\"}}", "steps[0].expect.http: status or json to check"},
		{"{\"http\": {\"status\": 200}}", "steps[0].expect.http.path: a path beginning with /"},
		{"{\"http\": {\"path\": \"/x\", \"method\": \"GETS\", \"status\": 200}}",
		 "steps[0].expect.http.method: 'GETS' is not an HTTP method"},
		{"{\"http\": {\"path\": \"/x\", \"status\": 200.5}}", "steps[0].expect.http.status: must be a whole number"},
		{"{\"http\": {\"path\": \"/x\", \"json\": {}}}", "steps[0].expect.http.json: names no value"},
		{"{\"http\": {\"path\": \"/x\", \"status\": 200, \"header\": 1}}",
		 "steps[0].expect.http.header: unknown key (known here: method, path, body, status, json, tolerance)"},
		{"{\"counters\": {\"telegrams\": 1}}",
		 "steps[0].expect.counters.telegrams: 'telegrams' is not a device_counters name"},
		{"{\"counters\": {\"uptime\": \"long\"}}", "steps[0].expect.counters.uptime: a counter is a number"},
		{"{\"counters\": {}}", "steps[0].expect.counters: names no value"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char step[600];
		snprintf(step, sizeof step, "{\"at\": 0, \"expect\": %s}", c[i].expect);
		const char *want = c[i].msg;
		if (!want) {
			/* An unknown register: its path and the hint. */
			const char *reg = strstr(c[i].expect, "bogus") ? "bogus"
					  : strstr(c[i].expect, "0x9000") ? "0x9000"
					  : strstr(c[i].expect, "0x80\"") ? "0x80" : "power";
			bool map = strstr(c[i].expect, "registers") != NULL;
			snprintf(msg, sizeof msg, "steps[0].expect.modbus.%s%s: unknown register '%s' %s",
				 map ? "registers." : "register", map ? reg : "", reg, REG_HINT);
			want = msg;
		}
		cr_assert_str_eq(error_of(doc("", step)), want, "expect %s", c[i].expect);
	}
}

Test(scenario_errors, the_first_fault_is_reported)
{
	/* Two faults: the one met first (in the file's order) is named. */
	cr_assert_str_eq(error_of(doc("", "{\"at\": 0, \"meter\": \"x\"}, {\"at\": -1, \"wait\": 1}")),
			 "steps[0].meter: \"cut\" or \"restore\"");
}

Test(scenario_errors, a_small_buffer_is_cut_not_overrun)
{
	struct sc_scenario *s = NULL;
	char small[24];
	memset(small, 'x', sizeof small);
	const char *text = "{\"scenario\": 1, \"name\": \"t\", \"colour\": 1, \"steps\": []}";
	cr_assert_eq(sc_scenario_load(text, strlen(text), "a-rather-long-file-name.json", &s, small,
				      sizeof small - 4),
		     SC_ERR_INVAL);
	cr_assert_null(s);
	cr_assert_eq(strlen(small), sizeof small - 5);
	cr_assert_eq(memcmp(small + sizeof small - 4, "xxxx", 4), 0);
}
