"""sc-hil against a device under test that is not sc-sim: indie_dongle.py,
a small Smart Connect written from the vendor's manual alone (it imports
nothing of the project). It reads the dongle end of a socat pty pair, sc-hil
writes the meter's telegrams into the other end, and both talk to a private
mosquitto. Everything runs in real time, as against a unit.

- The clean unit passes a short scenario of its own (unit-p1.json) twice in
  a row without a restart, and the shipped scenarios it can serve
  (alfen-registers; crc-error-burst, whose LED and counter expectations a
  unit cannot show and come out SKIP); the TIC variant passes unit-tic.json.
- Each fault of the unit fails the run (exit 1) with the FAIL line naming the
  likely cause; a unit dropping power_instant messages fails the
  power_instant accounting, naming the telegrams lost.
- Benign quirks pass: values held as float32, ts from the unit's own clock
  when --unit-clock-ts says so.
- The dongle serves the manual's API documents only (no /sim/v1), takes its
  MQTT site at a reset, publishes device_counters; a wrong password stops
  sc-hil at once (exit 3)."""

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "sim", "tests"))
import brokertest  # noqa: E402
import simtest  # noqa: E402
import test_hil  # noqa: E402  (its PtyPair)

SC_HIL = os.path.join(simtest.BUILD, "hil", "sc-hil")
DONGLE = os.path.join(HERE, "indie_dongle.py")
SCENARIO = os.path.join(HERE, "unit-p1.json")
SHIPPED = os.path.join(simtest.SOURCE, "scenarios")
PASSWORD = "label-pass-7"
SERIAL = "E8DB84000077"


class Dongle:
    """indie_dongle.py on free ports (it binds port 0 and says which it got
    on its ready line); stopped by its pid."""

    READY = re.compile(r"^indie-dongle ready modbus (\d+) http (\d+)$")

    def __init__(self, meter, broker_url, *extra, wait_mqtt=True, serial=SERIAL):
        self.serial = serial
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", DONGLE, "--meter", meter, "--modbus-port", "0", "--http-port", "0",
             "--broker", broker_url, "--serial", serial, "--password", PASSWORD, *extra],
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        got = simtest.wait_until(lambda: self._ready() or self.proc.poll() is not None, timeout=20)
        if got is not True:
            raise AssertionError("the dongle did not start: " + self.stderr())
        if wait_mqtt:
            simtest.wait_until(lambda: "mqtt: connected" in self.stderr(), timeout=20)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _ready(self):
        for line in self.lines:
            m = self.READY.match(line)
            if m:
                self.modbus, self.http = int(m.group(1)), int(m.group(2))
                return True
        return False

    def stderr(self):
        if self.err.closed:
            return self.final_err
        self.err.seek(0)
        return self.err.read()

    def get(self, path, password=PASSWORD, method="GET", body=None):
        """(status, body bytes) of a request to its API."""
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http, path), method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(("user:" + password).encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if not self.err.closed:
            self.final_err = self.stderr()
            self.err.close()
        self.reader.join(10)
        self.proc.stdout.close()


class Rig:
    """A pty pair and a private broker, shared by a class's runs."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pty = test_hil.PtyPair(cls.tmp.name)
        cls.broker = brokertest.Broker(cls.tmp.name)
        cls.url = "tcp://127.0.0.1:%d" % cls.broker.port
        cls.runs = 0
        cls.lock = threading.Lock()

    @classmethod
    def tearDownClass(cls):
        cls.pty.stop()
        cls.broker.close()
        cls.tmp.cleanup()

    @classmethod
    def dongle(cls, *extra, pty=None, **kw):
        return Dongle((pty or cls.pty).dongle, "mqtt://127.0.0.1:%d" % cls.broker.port,
                      *extra, **kw)

    @classmethod
    def hil(cls, dongle, scenario, *extra, pty=None):
        """sc-hil run against the dongle, through the class's pty pair (or
        another): the CompletedProcess."""
        with cls.lock:
            cls.runs += 1
            reports = os.path.join(cls.tmp.name, "reports-%d" % cls.runs)
        args = [SC_HIL, "run", scenario, "--port", (pty or cls.pty).meter, "--dut", "127.0.0.1",
                "--http-port", str(dongle.http), "--https-port", "0",
                "--modbus-port", str(dongle.modbus), "--broker", cls.url,
                "--serial-number", dongle.serial, "--password", PASSWORD, "--report", reports,
                *extra]
        return subprocess.run(args, capture_output=True, text=True, timeout=300)


# A result line: verdict, what (steps[1].expect[0], each telegram ...), its
# kind (modbus, mqtt, http, led, counters) and the next word (an http
# expectation's path, after its method).
RESULT = re.compile(r"^(PASS|FAIL|SKIP) (.+?) at [\d.]+ s: (\S+) (?:GET |PATCH |POST )?([^\s:]*)")


def fails(r):
    return [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL")]


def why(r):
    return r.stdout[-5000:] + r.stderr[-2000:]


def accounting(r):
    """The power_instant accounting result's line."""
    return [ln for ln in r.stdout.splitlines() if "power_instant each telegram" in ln]


class CleanUnit(Rig, unittest.TestCase):
    """The unit as the manual describes it: unit-p1 twice in a row on one
    dongle, no restart between."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.unit = cls.dongle()
        try:
            cls.first = cls.hil(cls.unit, SCENARIO)
            cls.second = cls.hil(cls.unit, SCENARIO)
        finally:
            cls.unit.stop()

    def test_passes_twice_in_a_row(self):
        for r in (self.first, self.second):
            self.assertEqual(fails(r), [], why(r))
            self.assertEqual(r.returncode, 0, why(r))
            name, passed, failed, _, telegrams = simtest.scenario_summary(r.stdout)
            self.assertEqual((name, failed, telegrams), ("unit-p1", 0, 6))
            self.assertGreaterEqual(passed, 9)
            self.assertIn("PASS each telegram", r.stdout)

    def test_every_power_instant_delivered(self):
        for r in (self.first, self.second):
            lines = accounting(r)
            self.assertEqual(len(lines), 1, why(r))
            self.assertTrue(lines[0].startswith("PASS"), lines)
            self.assertIn("6 delivered, 0 lost, 0 duplicated, 0 out of order", lines[0])


class ShippedScenarios(Rig, unittest.TestCase):
    """Shipped scenarios that a unit can serve, short enough for real time."""

    def test_alfen_registers_through_the_api(self):
        # The unit serves AB CD as the Alfen appendix sets it, and starts
        # configured for the factory broker: sc-hil points it at the bench's
        # (PATCH MQTT.Broker, POST /api/v1/reset, wait).
        unit = Dongle(self.pty.dongle, "mqtt://broker.xemex-cloud.eu:8883", "--word-order", "abcd",
                      wait_mqtt=False)
        try:
            r = self.hil(unit, os.path.join(SHIPPED, "alfen-registers.json"), "--configure-broker")
            _, config = unit.get("/api/v1/config")
        finally:
            unit.stop()
        self.assertEqual(fails(r), [], why(r))
        self.assertEqual(r.returncode, 0, why(r))
        self.assertEqual(json.loads(config)["MQTT"]["Broker"], self.url)
        self.assertIn("mqtt: connected to " + self.url, unit.stderr())

    def test_crc_error_burst(self):
        # Bad CRCs rejected, last good values kept, nothing published; the
        # LED, the counters and the twin's state are not a unit's to show.
        unit = self.dongle()
        try:
            r = self.hil(unit, os.path.join(SHIPPED, "crc-error-burst.json"))
        finally:
            unit.stop()
        self.assertEqual(fails(r), [], why(r))
        self.assertEqual(r.returncode, 0, why(r))
        kinds = {"PASS": set(), "SKIP": set()}
        for ln in r.stdout.splitlines():
            m = RESULT.match(ln)
            if m:
                twin_only = m.group(3) in ("led", "counters") or m.group(4) == "/sim/v1/state"
                # What a unit cannot show is SKIP, everything else PASS.
                self.assertEqual(m.group(1), "SKIP" if twin_only else "PASS", ln)
                kinds[m.group(1)].add(m.group(3))
        self.assertEqual(kinds["SKIP"], {"led", "counters", "http"}, why(r))
        self.assertTrue({"modbus", "mqtt"} <= kinds["PASS"], why(r))


class Faults(Rig, unittest.TestCase):
    """Each fault of the unit alone, on a fresh dongle: the run fails (exit
    1), and the FAIL line says why (the diagnosis' phrases). The runs go in
    two lanes at once (each its own pty pair and serial, so its own topics
    on the shared broker): real time is what they take."""

    CAUSE = {
        "word-order": "likely cause: word order swapped",
        "kwh": "likely cause: energy in kWh (firmware before 5.1)",
        "export-sign": "likely cause: export sign inverted",
        "swap-phases=L1,L2": "likely cause: phases L1 and L2 swapped",
        "late": "likely cause: served one telegram late",
    }

    FAULTS = ["word-order", "kwh", "export-sign", "swap-phases=L1,L2", "late", "drop-mqtt=3"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.results = {}
        lane2 = os.path.join(cls.tmp.name, "lane2")
        os.mkdir(lane2)
        second = test_hil.PtyPair(lane2)
        lanes = [(cls.pty, SERIAL, cls.FAULTS[0::2]), (second, "E8DB84000078", cls.FAULTS[1::2])]
        errors = []

        def lane(pty, serial, faults):
            try:
                for fault in faults:
                    unit = cls.dongle("--fault", fault, pty=pty, serial=serial)
                    try:
                        cls.results[fault] = cls.hil(unit, SCENARIO, pty=pty)
                    finally:
                        unit.stop()
            except Exception as e:  # reported by the tests that want the result
                errors.append(e)

        threads = [threading.Thread(target=lane, args=a) for a in lanes]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            second.stop()
        cls.errors = errors

    def run_with(self, fault):
        self.assertIn(fault, self.results, self.errors)
        return self.results[fault]

    def fails_with_exit_1(self, fault):
        r = self.run_with(fault)
        self.assertEqual(r.returncode, 1, why(r))
        self.assertTrue(fails(r), why(r))

    def names_the_cause(self, fault):
        r = self.run_with(fault)
        self.assertTrue(any(self.CAUSE[fault] in ln for ln in fails(r)),
                        "no FAIL line says '%s':\n%s" % (self.CAUSE[fault], why(r)))

    def test_word_order_fails(self):
        self.fails_with_exit_1("word-order")

    def test_word_order_named(self):
        self.names_the_cause("word-order")

    def test_kwh_fails(self):
        self.fails_with_exit_1("kwh")

    def test_kwh_named(self):
        self.names_the_cause("kwh")

    def test_export_sign_fails(self):
        self.fails_with_exit_1("export-sign")

    def test_export_sign_named(self):
        self.names_the_cause("export-sign")

    def test_swap_phases_fails(self):
        self.fails_with_exit_1("swap-phases=L1,L2")

    def test_swap_phases_named(self):
        self.names_the_cause("swap-phases=L1,L2")

    def test_late_fails(self):
        self.fails_with_exit_1("late")

    def test_late_named(self):
        self.names_the_cause("late")

    def test_drop_mqtt_fails(self):
        # 1 in 3 dropped: telegrams 3 and 6 of the six.
        self.fails_with_exit_1("drop-mqtt=3")

    def test_drop_mqtt_named(self):
        r = self.run_with("drop-mqtt=3")
        lines = accounting(r)
        self.assertEqual(len(lines), 1, why(r))
        self.assertTrue(lines[0].startswith("FAIL"), lines)
        self.assertIn("4 delivered, 2 lost, 0 duplicated, 0 out of order", lines[0])
        self.assertIn("lost: telegrams 3, 6", lines[0])


class TicUnit(Rig, unittest.TestCase):
    """The TIC variant: a Linky producer exporting (its own pty pair: a pty
    already at 9600 baud refuses sc-hil's 7E1 with EINVAL)."""

    def test_passes(self):
        unit = self.dongle("--device", "tic")
        try:
            r = self.hil(unit, os.path.join(HERE, "unit-tic.json"))
        finally:
            unit.stop()
        self.assertEqual(fails(r), [], why(r))
        self.assertEqual(r.returncode, 0, why(r))
        name, passed, failed, _, telegrams = simtest.scenario_summary(r.stdout)
        self.assertEqual((name, failed, telegrams), ("unit-tic", 0, 6))
        self.assertGreaterEqual(passed, 6)


class BenignQuirks(Rig, unittest.TestCase):
    """What a real unit may do and still be right."""

    def run_quirk(self, quirk, *hil_extra):
        unit = self.dongle(quirk)
        try:
            r = self.hil(unit, SCENARIO, *hil_extra)
        finally:
            unit.stop()
        self.assertEqual(fails(r), [], why(r))
        self.assertEqual(r.returncode, 0, why(r))
        self.assertEqual(simtest.scenario_summary(r.stdout)[2], 0)

    def test_values_held_as_float32(self):
        self.run_quirk("--float32")

    def test_ts_from_its_own_clock_when_declared(self):
        self.run_quirk("--own-clock-ts", "--unit-clock-ts", "5")


class Api(Rig, unittest.TestCase):
    """The unit's API is the manual's, nothing of the twin's; sc-hil stops
    at once on its 401."""

    def test_the_manuals_documents_only(self):
        unit = self.dongle()
        try:
            st, body = unit.get("/api/v1/status")
            self.assertEqual(st, 200)
            self.assertEqual(sorted(json.loads(body)),
                             ["DefaultNetIf", "Ethernet", "MQTT", "MeterType", "WiFi"])
            self.assertEqual(unit.get("/api/v1/status", password="wrong")[0], 401)
            self.assertEqual(unit.get("/sim/v1/state")[0], 404)
            self.assertEqual(json.loads(unit.get("/api/v1/firmware")[1]), {"Version": "5.2.0"})
            st, body = unit.get("/api/v1/config", method="PATCH", body={"MQTT": {"Site": "barn"}})
            self.assertEqual(st, 200, body)
            mqtt = json.loads(unit.get("/api/v1/config")[1])["MQTT"]
            self.assertEqual((mqtt["Site"], mqtt["Broker"]),
                             ("barn", "mqtt://127.0.0.1:%d" % self.broker.port))
            self.assertEqual(unit.get("/api/v1/reset", method="POST", body={})[0], 200)
            simtest.wait_until(lambda: unit.get("/api/v1/status")[0] == 200, timeout=20)
            self.assertEqual(unit.stderr().count("mqtt: connected"), 2, unit.stderr())
        finally:
            unit.stop()

    def test_device_counters_on_the_configured_site(self):
        sub = brokertest.Subscriber(self.broker.port,
                                    "devices/+/smart-connect/%s/data/device_counters" % SERIAL)
        unit = self.dongle("--counters-interval", "0.3", "--site", "farm")
        try:
            topic, payload, _ = sub.until(lambda m: True)[-1]
            self.assertEqual(topic, "devices/farm/smart-connect/%s/data/device_counters" % SERIAL)
            doc = json.loads(payload)
            for key in ("ts", "uptime", "telegrams_pass", "telegrams_fail", "mqtt_send_pass"):
                self.assertIn(key, doc)
            # The site changes at the reset after a PATCH, not before.
            self.assertEqual(unit.get("/api/v1/config", method="PATCH",
                                      body={"MQTT": {"Site": "barn"}})[0], 200)
            topic = sub.until(lambda m: True)[-1][0]
            self.assertIn("/farm/", topic)
            self.assertEqual(unit.get("/api/v1/reset", method="POST", body={})[0], 200)
            sub.until(lambda m: "/barn/" in m[0])
        finally:
            unit.stop()
            sub.close()

    def test_wrong_password_exit_3_at_once(self):
        unit = self.dongle()
        try:
            args = [SC_HIL, "run", SCENARIO, "--port", self.pty.meter, "--dut", "127.0.0.1",
                    "--http-port", str(unit.http), "--https-port", "0",
                    "--modbus-port", str(unit.modbus), "--broker", self.url,
                    "--serial-number", SERIAL, "--password", "not-the-label's",
                    "--report", os.path.join(self.tmp.name, "reports")]
            r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        finally:
            unit.stop()
        self.assertEqual(r.returncode, 3, why(r))
        self.assertIn("(401)", r.stderr)
        self.assertIn("SC_HIL_PASSWORD", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
