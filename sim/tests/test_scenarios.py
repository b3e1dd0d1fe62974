"""Scenario files run with sc-sim --scenario as CI and a user run them: every
shipped scenario passes at --speed max, a wrong expectation fails naming its
step and both values, a malformed file is refused with the file, the JSON
path and what is wrong there (exit 2), and a scenario also passes in real
time (--speed 20)."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402

SC_SIM = simtest.SC_SIM
SC_TELEGRAM = os.path.join(simtest.BUILD, "sim", "sc-telegram")
SCENARIOS = os.path.join(simtest.SOURCE, "scenarios")
SHIPPED = sorted(glob.glob(os.path.join(SCENARIOS, "*.json")))



def run(path, *args, timeout=120):
    """sc-sim --scenario path; the completed process (text)."""
    return subprocess.run([SC_SIM, "--scenario", path, *args], capture_output=True, text=True,
                          timeout=timeout)


summary = simtest.scenario_summary


def generated(seed, start, count, protocol="dsmr50", profile="household"):
    """power_instant of the last of count telegrams, from sc-telegram (the
    telegrams the runner generates for a meter started at start)."""
    gen = subprocess.run([SC_TELEGRAM, "gen", "--protocol", protocol, "--profile", profile,
                          "--seed", str(seed), "--start", str(start), "--count", str(count)],
                         capture_output=True, check=True, timeout=30)
    parse = subprocess.run([SC_TELEGRAM, "parse"], input=gen.stdout, capture_output=True,
                           check=True, timeout=30)
    return json.loads(parse.stdout.decode().splitlines()[-1])


class ShippedScenarios(unittest.TestCase):
    """One test per file of scenarios/ (added below)."""

    def test_readme_lists_the_files(self):
        with open(os.path.join(SCENARIOS, "README.md")) as f:
            text = f.read()
        shipped = text[text.index("## Shipped"):]
        listed = sorted(set(re.findall(r"\[([a-z0-9._-]+\.json)\]\(\1\)", shipped)))
        self.assertEqual(len(listed), 10, listed)
        self.assertEqual(listed, sorted(os.path.basename(p) for p in SHIPPED))

    def check_file(self, path):
        with open(path) as f:
            doc = json.load(f)
        base = os.path.basename(path)[:-len(".json")]
        self.assertEqual(doc["name"], base, "the scenario's name is its file's")
        self.assertTrue(doc.get("description"), "a shipped scenario says what it shows")
        r = run(path, "--speed", "max")
        fails = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
        self.assertEqual(fails, [], "%s:\n%s\n%s" % (path, r.stdout, r.stderr))
        self.assertEqual(r.returncode, 0, "%s:\n%s\n%s" % (path, r.stdout, r.stderr))
        name, passed, failed, skipped, telegrams = summary(r.stdout)
        self.assertEqual(name, base)
        self.assertEqual((failed, skipped), (0, 0), r.stdout)
        self.assertGreaterEqual(passed, 5, r.stdout)
        self.assertGreater(telegrams, 0)
        self.assertEqual(passed, len([ln for ln in r.stdout.splitlines() if ln.startswith("PASS")]))


def _add(path):
    name = "test_" + re.sub(r"[^a-z0-9]", "_", os.path.basename(path)[:-len(".json")])
    setattr(ShippedScenarios, name, lambda self: self.check_file(path))


for _path in SHIPPED:
    _add(_path)


class Scratch(unittest.TestCase):
    """Scenario files written to a temporary directory."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-scn-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, doc, name="t.json"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=1))
        return path


START = 1751371200


def smoke(*expect, count=10):
    """Ten DSMR 5 telegrams (seed 3), then expectations at 9.5 s."""
    return {"scenario": 1, "name": "smoke", "meter": {"protocol": "dsmr50", "seed": 3, "start": START},
            "steps": [{"at": 0, "telegrams": {"count": count}},
                      {"at": 9.5, "note": "the check", "expect": list(expect)}]}


class WrongExpectations(Scratch):
    def test_right_ones_pass(self):
        last = generated(3, START, 10)
        r = run(self.write(smoke({"modbus": "telegram"}, {"mqtt": {"fields": "telegram"}},
                                 {"modbus": {"register": "active_power", "value": last["P"]}},
                                 {"mqtt": {"fields": {"P": last["P"], "l1.U": last["l1"]["U"]}}},
                                 {"led": "normal"}, {"counters": {"telegrams_pass": 10}})),
                "--speed", "max")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The six, and every telegram's power_instant.
        self.assertEqual(summary(r.stdout)[1:4], (7, 0, 0))
        self.assertIn("power_instant each telegram: 10 delivered, 0 lost", r.stdout)

    def test_wrong_ones_fail_naming_step_expected_and_actual(self):
        last = generated(3, START, 10)
        r = run(self.write(smoke({"modbus": "telegram"},
                                 {"modbus": {"register": "active_power", "value": 123456}},
                                 {"led": "no-data"},
                                 {"counters": {"telegrams_pass": 11}},
                                 {"mqtt": {"fields": {"P": 123456}}},
                                 {"http": {"path": "/api/v1/firmware", "status": 200,
                                           "json": {"Version": "9.9.9"}}})),
                "--speed", "max")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("PASS steps[1].expect[0] at 9.5 s: modbus the register map", r.stdout)
        fails = {m.group(1): line for line in lines
                 for m in [re.match(r"FAIL (steps\[1\]\.expect\[\d\]) ", line)] if m}
        self.assertEqual(sorted(fails), ["steps[1].expect[%d]" % i for i in range(1, 6)], r.stdout)
        p = last["P"]
        self.assertEqual(fails["steps[1].expect[1]"],
                         "FAIL steps[1].expect[1] at 9.5 s: modbus 0x8016 active_power: "
                         "expected 123456, got %g (the check)" % p)
        self.assertEqual(fails["steps[1].expect[2]"],
                         "FAIL steps[1].expect[2] at 9.5 s: led Status.System.Led.State: "
                         "expected \"no-data\", got \"normal\" (the check)")
        self.assertEqual(fails["steps[1].expect[3]"],
                         "FAIL steps[1].expect[3] at 9.5 s: counters Status.Counters.telegrams_pass: "
                         "expected telegrams_pass 11, got telegrams_pass 10 (the check)")
        self.assertIn("mqtt power_instant: expected P 123456, got the last message has P %g" % p,
                      fails["steps[1].expect[4]"])
        self.assertIn("http GET /api/v1/firmware: expected status 200, Version \"9.9.9\", "
                      "got status 200, Version \"5.2.0\"", fails["steps[1].expect[5]"])
        # The wrong ones fail; every telegram's power_instant came.
        self.assertEqual(summary(r.stdout)[1:4], (2, 5, 0))

    def test_oracle_mismatch_names_the_registers(self):
        # A device that serves what the oracle would not: run with
        # --any-version the twin takes a DSMR 4.0 telegram (version 40,
        # valid CRC) that the oracle, as the real device, rejects; the
        # oracle's last telegram is then the one before.
        tel = subprocess.run([SC_TELEGRAM, "gen", "--seed", "4", "--start", str(START), "--count", "2"],
                             capture_output=True, check=True).stdout.decode()
        first, second = tel[:tel.index("/", 1)], tel[tel.index("/", 1):]
        body = second[:second.index("!") + 1].replace("1-3:0.2.8(50)", "1-3:0.2.8(40)")
        self.assertNotEqual(body, second[:second.index("!") + 1])
        old40 = body + "%04X\r\n" % simtest.p1_crc(body.encode())
        doc = {"scenario": 1, "name": "oracle",
               "steps": [{"at": 0, "telegram": first},
                         {"at": 1, "telegram": old40},
                         {"at": 1.5, "expect": {"modbus": "telegram"}}]}
        r = run(self.write(doc), "--speed", "max", "--any-version")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"FAIL steps\[2\]\.expect at 1\.5 s: modbus the register map: "
                                   r"expected the image of the telegram of ts %d, got 0x80" % START)

    def test_within_gives_time(self):
        # No data 3 s after the last telegram: a check at 9.5 s fails at
        # once, with "within" it passes later.
        r = run(self.write(smoke({"led": "no-data"}, {"led": "no-data", "within": 3})), "--speed", "max")
        self.assertEqual(r.returncode, 1)
        self.assertIn("FAIL steps[1].expect[0] at 9.5 s: led Status.System.Led.State: "
                      "expected \"no-data\", got \"normal\"", r.stdout)
        self.assertIn("PASS steps[1].expect[1] at 9.5 s: led", r.stdout)


# (name, document or raw text, the message after "sc-sim: FILE: ", exact or a prefix)
BASE = {"scenario": 1, "name": "t", "meter": {"seed": 3, "start": START},
        "steps": [{"at": 0, "telegrams": {"count": 2}}, {"at": 1.5, "expect": {"led": "normal"}}]}


def edit(fn):
    doc = json.loads(json.dumps(BASE))
    fn(doc)
    return doc


def step1(**kw):
    return edit(lambda d: d["steps"].__setitem__(1, dict({"at": 1.5}, **kw)))


def expect1(e):
    return step1(expect=e)


KNOWN_STEP = ("at, note, telegrams, telegram, telegram_hex, capture, meter, network, broker, "
              "button, power, api, wait, expect")
MALFORMED = [
    ("bad_json", '{"scenario": 1,\n  "name": "x",\n  "steps": [}\n',
     "not valid JSON (line 3, column 13)"),
    ("bad_json_missing_comma", '{"scenario": 1,\n  "name": "x"\n  "steps": []}\n',
     "not valid JSON (line 3, column 3)"),
    ("not_an_object", "[1, 2]", "must be an object"),
    ("text_after_the_document", '{"scenario": 1, "name": "x", "steps": [{"at": 0, "wait": 1}]}\n}\n',
     "text after the document (line 2, column 1)"),
    ("missing_scenario", edit(lambda d: d.pop("scenario")), "scenario: missing: the format version, 1"),
    ("version_2", edit(lambda d: d.update(scenario=2)), "scenario: must be from 1 to 1"),
    ("missing_name", edit(lambda d: d.pop("name")), "name: missing or longer than 63 characters"),
    ("name_upper_case", edit(lambda d: d.update(name="My Test")),
     "name: lower-case letters, digits, '-', '_' and '.' only"),
    ("name_twice", '{"scenario": 1, "name": "a", "name": "b", "steps": [{"at": 0, "wait": 1}]}',
     "name: given twice"),
    ("missing_steps", edit(lambda d: d.pop("steps")), "steps: missing or empty: the timeline"),
    ("empty_steps", edit(lambda d: d.update(steps=[])), "steps: missing or empty: the timeline"),
    ("steps_not_a_list", edit(lambda d: d.update(steps={"at": 0})), "steps: missing or empty: the timeline"),
    ("unknown_top_key", edit(lambda d: d.update(colour="red")),
     "colour: unknown key (known here: scenario, name, description, device, firmware, serial, "
     "word_order, config, meter, steps)"),
    ("unknown_meter_key", edit(lambda d: d["meter"].update(speed=2)),
     "meter.speed: unknown key (known here: protocol, profile, phases, seed, start, producer, "
     "calendar, tic_total, time_scale, import_wh, export_wh)"),
    ("unknown_step_key", step1(when=3, wait=1), "steps[1].when: unknown key (known here: %s)" % KNOWN_STEP),
    ("unknown_telegrams_key", edit(lambda d: d["steps"][0]["telegrams"].update(interval=2)),
     "steps[0].telegrams.interval: unknown key (known here: count, every, fault, fault_every)"),
    ("unknown_expect_key", expect1({"led": "normal", "timeout": 3}),
     "steps[1].expect.timeout: unknown key (known here: modbus, mqtt, http, led, counters, within, "
     "tolerance)"),
    ("unknown_modbus_key", expect1([{"led": "normal"}, {"modbus": {"reg": "0x8016", "value": 1}}]),
     "steps[1].expect[1].modbus.reg: unknown key (known here: register, value, registers, tolerance)"),
    ("unknown_value_key", expect1({"counters": {"telegrams_pass": {"least": 1}}}),
     "steps[1].expect.counters.telegrams_pass.least: unknown key (known here: min, max, value, tolerance)"),
    ("unknown_http_key", expect1({"http": {"path": "/api/v1/status", "status": 200, "headers": {}}}),
     "steps[1].expect.http.headers: unknown key (known here: method, path, body, status, json, tolerance)"),
    ("unknown_api_key", step1(api={"path": "/api/v1/config", "status": 200, "timeout": 1}),
     "steps[1].api.timeout: unknown key (known here: method, path, body, status, json, tolerance)"),
    ("unknown_network_key", step1(network={"Wifi": True}),
     "steps[1].network.Wifi: unknown key (known here: EthernetCable, WifiInRange, DhcpServer, "
     "Gateway, Internet)"),
    ("unknown_capture_key", step1(capture={"file": "c.p1", "to": 3}),
     "steps[1].capture.to: unknown key (known here: file, from, count, from_time, to_time, every)"),
    ("at_a_string", edit(lambda d: d["steps"][1].update(at="1.5")), "steps[1].at: must be a number"),
    ("at_negative", edit(lambda d: d["steps"][1].update(at=-1)), "steps[1].at: must be from 0 to 2678400"),
    ("at_missing", edit(lambda d: d["steps"].append({"wait": 1})),
     "steps[2].at: missing (seconds from the start)"),
    ("seed_a_string", edit(lambda d: d["meter"].update(seed="x")), "meter.seed: must be a number"),
    ("count_fractional", edit(lambda d: d["steps"][0]["telegrams"].update(count=2.5)),
     "steps[0].telegrams.count: must be a whole number"),
    ("count_zero", edit(lambda d: d["steps"][0]["telegrams"].update(count=0)),
     "steps[0].telegrams.count: must be from 1 to 10000000"),
    ("phases_2", edit(lambda d: d["meter"].update(phases=2)), "meter.phases: 1 or 3"),
    ("producer_a_string", edit(lambda d: d["meter"].update(producer="yes")),
     "meter.producer: must be true or false"),
    ("producer_on_p1", edit(lambda d: d["meter"].update(producer=True)),
     "meter.producer: a producer meter is a TIC meter"),
    ("expect_a_number", expect1(5), "steps[1].expect: an expectation or a list of them"),
    ("expect_empty_list", expect1([]), "steps[1].expect: an empty list"),
    ("device_x", edit(lambda d: d.update(device="x")), "device: 'x' is not p1 or tic"),
    ("protocol_unknown", edit(lambda d: d["meter"].update(protocol="dsmr6")),
     "meter.protocol: 'dsmr6' is not dsmr42, dsmr50, emucs or tic"),
    ("tic_meter_on_p1", edit(lambda d: d["meter"].update(protocol="tic")),
     "meter.protocol: the meter is tic, the device p1: they do not fit"),
    ("profile_unknown", edit(lambda d: d["meter"].update(profile="office")),
     "meter.profile: 'office' is not household, pv, ev or pv-ev"),
    ("calendar_unknown", edit(lambda d: d.update(device="tic") or d["meter"].update(protocol="tic", calendar="ejp")),
     "meter.calendar: 'ejp' is not base, hchp or tempo"),
    ("word_order_unknown", edit(lambda d: d.update(word_order="dcba")), "word_order: 'dcba' is not cdab or abcd"),
    ("firmware_unknown", edit(lambda d: d.update(firmware="5.x")), "firmware: '5.x' is not a version like 5.1.2"),
    ("serial_bad", edit(lambda d: d.update(serial="E8-DB")), "serial: 1-32 letters and digits"),
    ("register_name_unknown", expect1({"modbus": {"register": "power", "value": 1}}),
     "steps[1].expect.modbus.register: unknown register 'power' (an address of the map such as "
     "0x8016, or a name such as active_power)"),
    ("register_address_unknown", expect1({"modbus": {"registers": {"active_power": 1, "0x9000": 1}}}),
     "steps[1].expect.modbus.registers.0x9000: unknown register '0x9000' (an address of the map such "
     "as 0x8016, or a name such as active_power)"),
    ("register_a_string", expect1({"modbus": {"registers": {"active_power": "high"}}}),
     "steps[1].expect.modbus.registers.active_power: a register holds a number"),
    ("register_without_value", expect1({"modbus": {"register": "active_power"}}),
     "steps[1].expect.modbus.value: missing"),
    ("modbus_oracle_misspelt", expect1({"modbus": "telegrams"}), "steps[1].expect.modbus: must be an object"),
    ("two_actions", edit(lambda d: d["steps"][0].update(meter="cut")),
     "steps[0]: one action per step (telegrams, telegram, telegram_hex, capture, meter, network, "
     "broker, button, power, api or wait)"),
    ("step_does_nothing", edit(lambda d: d["steps"].append({"at": 3, "note": "nothing"})),
     "steps[2]: does nothing (an action, a wait or expectations)"),
    ("two_kinds_in_one_expectation", expect1({"led": "normal", "counters": {"uptime": 1}}),
     "steps[1].expect: one of modbus, mqtt, http, led or counters"),
    ("mqtt_metric_unknown", expect1({"mqtt": {"metric": "power_total", "fields": {"P": 1}}}),
     "steps[1].expect.mqtt.metric: 'power_total' is not power_instant or device_counters"),
    ("mqtt_fields_missing", expect1({"mqtt": {"metric": "device_counters"}}),
     "steps[1].expect.mqtt.fields: missing (an object of fields, or \"telegram\")"),
    ("mqtt_counters_from_telegram", expect1({"mqtt": {"metric": "device_counters", "fields": "telegram"}}),
     "steps[1].expect.mqtt.fields: \"telegram\" is for power_instant"),
    ("led_state_unknown", expect1({"led": "purple"}),
     "steps[1].expect.led: a LED state: power-up, initialising, normal, ap, no-data, no-data-ap, "
     "no-ip or no-data-no-ip"),
    ("counter_unknown", expect1({"counters": {"telegrams_ok": 1}}),
     "steps[1].expect.counters.telegrams_ok: 'telegrams_ok' is not a device_counters name"),
    ("range_upside_down", expect1({"counters": {"uptime": {"min": 5, "max": 1}}}),
     "steps[1].expect.counters.uptime: min is above max"),
    ("range_empty", expect1({"counters": {"uptime": {}}}),
     "steps[1].expect.counters.uptime: a range needs min or max"),
    ("value_a_list", expect1({"counters": {"uptime": [1, 2]}}),
     "steps[1].expect.counters.uptime: must be a number, string, boolean, null or {\"min\", \"max\"}"),
    ("within_negative", expect1({"led": "normal", "within": -1}), "steps[1].expect.within: must be from 0 to 86400"),
    ("http_path_relative", expect1({"http": {"path": "api/v1/status", "status": 200}}),
     "steps[1].expect.http.path: a path beginning with /"),
    ("http_method_unknown", expect1({"http": {"method": "FETCH", "path": "/api/v1/status", "status": 200}}),
     "steps[1].expect.http.method: 'FETCH' is not an HTTP method"),
    ("http_nothing_to_check", expect1({"http": {"path": "/api/v1/status"}}),
     "steps[1].expect.http: status or json to check"),
    ("api_method_unknown", step1(api={"method": "FETCH", "path": "/api/v1/config", "status": 200}),
     "steps[1].api.method: 'FETCH' is not an HTTP method"),
    ("fault_unknown", edit(lambda d: d["steps"][0]["telegrams"].update(fault="bad-checksum")),
     "steps[0].telegrams.fault: 'bad-checksum' is not a P1 fault (bad-crc, truncated, garbage, oversize)"),
    ("broker_sideways", step1(broker="sideways"), "steps[1].broker: \"down\" or \"up\""),
    ("meter_unplugged", step1(meter="unplugged"), "steps[1].meter: \"cut\" or \"restore\""),
    ("power_off", step1(power="off"), "steps[1].power: \"cycle\""),
    ("button_zero", step1(button=0), "steps[1].button: must be from 0.01 to 60"),
    ("network_empty", step1(network={}), "steps[1].network: names nothing to change"),
    ("network_not_bool", step1(network={"Internet": "no"}), "steps[1].network.Internet: must be true or false"),
    ("telegram_hex_odd", step1(telegram_hex="2f4"), "steps[1].telegram_hex: an even number of hex digits"),
    ("telegram_hex_not_hex", step1(telegram_hex="2fzz"), "steps[1].telegram_hex: 'zz' at 2 is not a hex byte"),
    ("telegram_empty", step1(telegram=""),
     "steps[1].telegram: the telegram's text (JSON escapes: \\r\\n, \\u0002 ...)"),
    ("capture_without_file", step1(capture={"from": 1}),
     "steps[1].capture.file: the capture's path, relative to the scenario file"),
    ("capture_both_slices", step1(capture={"file": "c.p1", "from": 1, "to_time": 5}),
     "steps[1].capture: a slice by index (from, count) or by time (from_time, to_time)"),
    ("capture_times_reversed", step1(capture={"file": "c.p1", "from_time": 5, "to_time": 1}),
     "steps[1].capture: from_time after to_time"),
    ("config_not_an_object", edit(lambda d: d.update(config="x")),
     "config: a configuration document (as PATCH /api/v1/config takes)"),
    ("config_field_unknown", edit(lambda d: d.update(config={"MQTT": {"Brokr": "x"}})),
     "config.MQTT.Brokr: unknown field"),
]

class Malformed(Scratch):
    def check(self, doc, message, name="t.json"):
        path = self.write(doc, name)
        r = run(path, "--speed", "max", timeout=30)
        self.assertEqual(r.returncode, 2, "%s\n%s" % (r.stdout, r.stderr))
        self.assertEqual(r.stdout, "", "nothing ran")
        self.assertEqual(r.stderr.strip().splitlines(), ["sc-sim: %s: %s" % (path, message)])

    def test_a_file_that_is_not_there(self):
        path = os.path.join(self.dir, "none.json")
        r = run(path, "--speed", "max", timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.strip(), "sc-sim: --scenario: %s: No such file or directory" % path)

    def capture(self):
        data = subprocess.run([SC_TELEGRAM, "gen", "--seed", "2", "--start", str(START), "--count", "5"],
                              capture_output=True, check=True).stdout
        with open(os.path.join(self.dir, "c.p1"), "wb") as f:
            f.write(data)

    def test_capture_slice_out_of_range(self):
        self.capture()
        self.check(step1(capture={"file": "c.p1", "from": 7}),
                   "steps[1].capture.from: 7 is past the capture's last telegram (it has 5)")

    def test_capture_time_slice_empty(self):
        # A raw capture has the telegrams' own timestamps: 0-4 s.
        self.capture()
        self.check(step1(capture={"file": "c.p1", "from_time": 10, "to_time": 20}),
                   "steps[1].capture: no telegram from 10 s to 20 s of the capture (it has 5)")

    def test_capture_file_missing(self):
        self.check(step1(capture={"file": "gone.p1"}),
                   "steps[1].capture.file: %s/gone.p1: No such file or directory" % self.dir)

    def test_capture_slice_in_range_runs(self):
        self.capture()
        doc = step1(capture={"file": "c.p1", "from": 2, "count": 3})
        doc["steps"].append({"at": 5, "expect": [{"modbus": "telegram"},
                                                 {"counters": {"telegrams_pass": 5}}]})
        r = run(self.write(doc), "--speed", "max")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("the telegram of ts %d" % (START + 4), r.stdout)


def _malformed(name, doc, message):
    setattr(Malformed, "test_" + name, lambda self: self.check(doc, message))


for _n, _d, _m in MALFORMED:
    _malformed(_n, _d, _m)


class EveryPowerInstant(Scratch):
    """Each telegram the twin takes expects one power_instant: a clean run
    through a real mosquitto accounts every one; telegrams rejected (bad
    CRC) or not sent (cable out) expect none, and those sent while the
    broker is down are not judged."""

    def line(self, out):
        got = [ln for ln in out.splitlines() if "power_instant each telegram" in ln]
        self.assertEqual(len(got), 1, out)
        return got[0]

    def test_clean_run_counts_every_telegram(self):
        # 20 telegrams, 1 s apart: every fourth has a bad CRC (the 4th, 8th,
        # 12th, 16th, 20th), the cable is out from 12.5 to 15.5 s (the 14th to
        # 16th): 13 good ones reach the device, as its own counters say.
        doc = {"scenario": 1, "name": "every", "meter": {"protocol": "dsmr50", "seed": 5, "start": START},
               "steps": [{"at": 0, "telegrams": {"count": 20, "fault": "bad-crc", "fault_every": 4}},
                         {"at": 12.5, "meter": "cut"},
                         {"at": 15.5, "meter": "restore"},
                         {"at": 19.5, "expect": [
                             {"mqtt": {"fields": "telegram"}},
                             {"counters": {"telegrams_pass": 13, "mqtt_send_pass": 13,
                                           "mqtt_send_fail": 0}}]}]}
        r = run(self.write(doc), "--speed", "max")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(self.line(r.stdout),
                         r"^PASS each telegram at [\d.]+ s: mqtt power_instant each telegram: "
                         r"13 delivered, 0 lost, 0 duplicated, 0 out of order$")

    def test_broker_outage_not_judged(self):
        # 66 telegrams, 20 dropped by the device while its broker is away
        # (counted in its mqtt_send_fail): the other 46 delivered.
        r = run(os.path.join(SCENARIOS, "broker-outage.json"), "--speed", "max")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(": mqtt power_instant each telegram: 46 delivered, 0 lost, 0 duplicated, "
                      "0 out of order", self.line(r.stdout))

    def test_a_duplicate_and_a_stranger_fail_the_result(self):
        # A broker of the test's own, where the test publishes the third
        # power_instant once more and then one no telegram carries.
        broker = brokertest.Broker(self.dir)
        self.addCleanup(broker.close)
        sub = brokertest.Subscriber(broker.port, "#")
        self.addCleanup(sub.close)
        doc = smoke({"mqtt": {"fields": "telegram"}})
        p = subprocess.Popen([SC_SIM, "--scenario", self.write(doc), "--speed", "4", "--mqtt",
                              "tcp://127.0.0.1:%d" % broker.port],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        seen = 0
        while seen < 3:
            topic, payload, _ = sub.get(timeout=30)
            if topic.endswith("/power_instant"):
                seen += 1
        sub.c.publish(topic, payload, qos=1).wait_for_publish(10)
        sub.c.publish(topic, b'{"ts":1,"P":1}', qos=1).wait_for_publish(10)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, out + err)
        self.assertRegex(self.line(out),
                         r"^FAIL each telegram at [\d.]+ s: mqtt power_instant each telegram: "
                         r"expected one power_instant for each of 10 telegrams, got 10 delivered, "
                         r"0 lost, 1 duplicated, 0 out of order; 1 unexpected \(unexpected: "
                         r"matching no telegram, the first at [\d.]+ s, as telegram \d+'s but "
                         r"ts 1 \(want \d+\), P 1 \(want [\d.-]+\)")

    def test_not_accounted_without_mqtt(self):
        # No MQTT expectation: no subscriber, no accounting.
        r = run(self.write(smoke({"modbus": "telegram"})), "--speed", "max")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("power_instant each telegram", r.stdout)


class RealTime(unittest.TestCase):
    def test_speed_20(self):
        # 29 s of scenario in about 1.5 s of wall time: the cadence holds on
        # the wall clock too, MQTT included.
        path = os.path.join(SCENARIOS, "emucs-decimal-currents.json")
        r = run(path, "--speed", "20", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("FAIL", r.stdout)
        name, passed, failed, skipped, telegrams = summary(r.stdout)
        self.assertEqual((name, failed, skipped, telegrams), ("emucs-decimal-currents", 0, 0, 30))
        wall = float(re.search(r"in ([\d.]+) s$", r.stdout.splitlines()[-1]).group(1))
        self.assertGreater(wall, 29 / 20 * 0.9, "real time, not virtual")
        self.assertIn("real time", r.stderr)


class MqttChoice(unittest.TestCase):
    """--mqtt with --scenario: a broker of the user's instead of the private
    one, or off (what only MQTT shows is SKIP, with the reason)."""

    def test_a_broker_given_by_url_is_used(self):
        import brokertest
        with tempfile.TemporaryDirectory(prefix="sc-scn-mqtt-") as d:
            broker = brokertest.Broker(d)
            sub = None
            try:
                sub = brokertest.Subscriber(broker.port, "devices/#")
                path = os.path.join(SCENARIOS, "crc-error-burst.json")
                r = run(path, "--speed", "max", "--mqtt", "mqtt://127.0.0.1:%d" % broker.port)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertNotIn("is not a host name", r.stderr)
                name, passed, failed, skipped, telegrams = summary(r.stdout)
                self.assertEqual((name, failed, skipped), ("crc-error-burst", 0, 0), r.stdout)
                mqtt = [ln for ln in r.stdout.splitlines() if ln.startswith("PASS") and " mqtt " in ln]
                self.assertTrue(mqtt, r.stdout)
                # The twin published to this broker, not to a private one.
                with open(path) as f:
                    serial = json.load(f).get("serial", "E8DB84000001")
                got = sub.until(lambda m: m[0].endswith(serial + "/data/power_instant"))
                self.assertTrue(got)
            finally:
                if sub:
                    sub.close()
                broker.close()

    def test_off_skips_mqtt_with_the_reason_and_checks_the_rest(self):
        for base in ("crc-error-burst", "broker-outage"):
            with self.subTest(base):
                path = os.path.join(SCENARIOS, base + ".json")
                r = run(path, "--speed", "max", "--mqtt", "off")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                lines = r.stdout.splitlines()
                self.assertEqual([ln for ln in lines if ln.startswith("FAIL")], [], r.stdout)
                skips = [ln for ln in lines if ln.startswith("SKIP")]
                name, passed, failed, skipped, telegrams = summary(r.stdout)
                self.assertEqual(skipped, len(skips))
                self.assertGreater(passed, 0)
                actions = [ln for ln in skips if re.match(r"SKIP steps\[\d+\] at [\d.]+ s: action ", ln)]
                for ln in actions:
                    self.assertTrue(ln.endswith(": --mqtt off: no broker in this run"), ln)
                self.assertEqual(len(actions), 2 if base == "broker-outage" else 0, r.stdout)
                for ln in set(skips) - set(actions):
                    self.assertTrue(ln.endswith(": --mqtt off: MQTT is not checked in this run"), ln)
                    self.assertRegex(ln, r"^SKIP steps\[\d+\]\.expect(\[\d+\])? at [\d.]+ s: "
                                         r"(mqtt power_instant|mqtt device_counters|counters "
                                         r"Status\.Counters\.mqtt_\w+|http /sim/v1/state "
                                         r"Status\.MQTT\.\w+):")
                # The others are still checked: Modbus and the LED pass.
                self.assertTrue([ln for ln in lines if ln.startswith("PASS") and " modbus " in ln])
                self.assertNotIn("did not connect", r.stderr)
                self.assertIn("no MQTT", r.stderr)
        # An MQTT expectation, and the counters: skipped, not failed after waiting.
        r = run(os.path.join(SCENARIOS, "crc-error-burst.json"), "--speed", "max", "--mqtt", "off")
        self.assertIn("SKIP steps[0].expect[1] at 0 s: mqtt power_instant: --mqtt off", r.stdout)
        self.assertIn("SKIP steps[0].expect[2] at 0 s: counters Status.Counters.mqtt_send_pass: "
                      "--mqtt off", r.stdout)
        # The same expectation's other counters pass.
        self.assertRegex(r.stdout, r"PASS steps\[0\]\.expect\[2\] at 9 s: counters "
                                   r"Status\.Counters\.telegrams_pass")


if __name__ == "__main__":
    unittest.main(verbosity=2)
