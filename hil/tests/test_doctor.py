"""sc-hil doctor against a rig without hardware: a socat pty pair as the
adapter, an sc-sim reading the other end as the device under test, a real
mosquitto as the broker. A healthy rig passes every check; each broken part
(adapter missing, Data Request unreadable, device off, wrong password,
broker down, wrong word order) fails its own line with a hint, and nothing
else."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "..", "sim", "tests"))
sys.path.insert(0, HERE)
import brokertest  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim  # noqa: E402
from test_hil import PtyPair  # noqa: E402

SC_HIL = os.path.join(simtest.BUILD, "hil", "sc-hil")
PW = "doctor-pw"


def doctor(*args):
    p = subprocess.run([SC_HIL, "doctor", "--timeout", "3", *args], capture_output=True, text=True,
                       timeout=120)
    checks = {}
    for line in p.stdout.splitlines():
        m = re.match(r"(ok|FAIL|note)\s+(\S.*?)\s{2,}(.*)$", line)
        if m:
            checks.setdefault(m.group(2).strip(), []).append((m.group(1), m.group(3)))
    return p.returncode, checks, p.stdout + p.stderr


class Doctor(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sc-doctor-")
        cls.pty = PtyPair(cls.dir)
        cls.broker = brokertest.Broker(cls.dir)
        cls.sim = Sim("--source", "serial:" + cls.pty.dongle, "--password", PW,
                      "--mqtt", "tcp://127.0.0.1:%d" % cls.broker.port, "--serial-number", "E8DB84D0C70R")
        # Telegrams from the emulator's end, so the device has values.
        telegram = simtest.p1_telegram("ISK5\\2M550T-1012", [
            "1-3:0.2.8(50)", "0-0:1.0.0(251201120000W)", "1-0:1.8.1(000100.000*kWh)",
            "1-0:1.7.0(01.234*kW)", "1-0:2.7.0(00.000*kW)", "1-0:32.7.0(231.0*V)",
            "1-0:52.7.0(232.0*V)", "1-0:72.7.0(233.0*V)"])
        with open(cls.pty.meter, "wb", buffering=0) as f:
            f.write(telegram)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.sim.__exit__(None, None, None)
        cls.broker.close()
        cls.pty.stop()
        shutil.rmtree(cls.dir, True)

    def dut(self, **kw):
        a = {"--dut": "127.0.0.1", "--modbus-port": self.sim.port, "--https-port": self.sim.https_port,
             "--http-port": self.sim.http_port, "--password": PW,
             "--broker": "tcp://127.0.0.1:%d" % self.broker.port}
        a.update(kw)
        out = []
        for k, v in a.items():
            if v is not None:
                out += [k, str(v)]
        return out

    def wait_values(self):
        simtest.wait_until(lambda: "voltage L1 231.0 V" in doctor(*self.dut())[2], 15)

    def test_a_healthy_rig_passes_every_check(self):
        self.wait_values()
        rc, checks, text = doctor("--port", self.pty.meter, *self.dut())
        self.assertEqual(rc, 0, text)
        self.assertEqual(checks["adapter"], [("ok", "%s opened, 115200,8N1 (P1 line)" % self.pty.meter)])
        self.assertEqual(checks["inversion"][0][0], "note")
        self.assertIn("voltage L1 231.0 V, words CD AB", checks["modbus"][0][1])
        self.assertEqual(checks["https"], [("ok", "127.0.0.1:%d: serial E8DB84D0C70R, firmware 5.2.0"
                                             % self.sim.https_port)])
        self.assertEqual(checks["http"][0][0], "ok")
        self.assertEqual(checks["mqtt config"], [("ok", "the device publishes to tcp://127.0.0.1:%d, "
                                                     "as --broker" % self.broker.port)])
        # The serial came from the API; the broker check subscribed to its topics.
        self.assertEqual(checks["broker"], [("ok", "tcp://127.0.0.1:%d: subscribed to "
                                              "devices/+/smart-connect/E8DB84D0C70R/data/#" % self.broker.port)])
        self.assertRegex(text, r"\n\d+ ok, 0 failed, \d+ notes\n")

    def test_tic_line_settings(self):
        rc, checks, text = doctor("--port", self.pty.meter, "--protocol", "tic")
        self.assertEqual(rc, 0, text)
        self.assertIn("9600,7E1 (TIC line)", checks["adapter"][0][1])
        self.assertEqual(checks["modulation"][0][0], "note")
        self.assertEqual(checks["device"][0][0], "note")

    def test_each_broken_part_fails_its_own_line(self):
        missing = os.path.join(self.dir, "no-adapter")
        rc, checks, text = doctor("--port", missing, *self.dut(**{"--password": "wrong"}))
        self.assertEqual(rc, 1, text)
        self.assertEqual(checks["adapter"][0][0], "FAIL")
        self.assertIn("No such file or directory", checks["adapter"][0][1])
        self.assertEqual(checks["https"][0][0], "FAIL")
        self.assertIn("refuses the password: wrong", checks["https"][0][1])
        self.assertEqual(checks["modbus"][0][0], "ok")  # the rest is still checked
        self.assertRegex(text, r"\n\d+ ok, 2 failed, \d+ notes\n")

    def test_a_device_publishing_to_another_broker_is_named(self):
        other = brokertest.Broker(self.dir)
        try:
            url = "tcp://127.0.0.1:%d" % other.port
            rc, checks, text = doctor(*self.dut(**{"--broker": url}))
        finally:
            other.close()
        self.assertEqual(rc, 1, text)
        self.assertEqual(checks["mqtt config"], [(
            "FAIL", "the device publishes to tcp://127.0.0.1:%d (its MQTT.Broker), not to --broker %s: "
            "point it there (sc-hil run --configure-broker, or its page)" % (self.broker.port, url))])
        # The other broker itself is up: only the configuration is wrong.
        self.assertEqual(checks["broker"][0][0], "ok")
        self.assertRegex(text, r"\n\d+ ok, 1 failed, \d+ notes\n")

    def test_http_port_0_skips_port_80(self):
        rc, checks, text = doctor(*self.dut(**{"--http-port": 0}))
        self.assertEqual(rc, 0, text)
        self.assertEqual(checks["http"], [("note", "not checked (--http-port 0)")])
        self.assertEqual(checks["https"][0][0], "ok")

    def test_data_request_on_a_port_without_modem_lines(self):
        rc, checks, text = doctor("--port", self.pty.meter, "--data-request", "cts")
        self.assertEqual(rc, 1, text)
        self.assertEqual(checks["adapter"][0][0], "FAIL")
        self.assertIn("no modem lines", checks["adapter"][0][1])

    def test_device_and_broker_unreachable(self):
        dead = brokertest.closed_port(self)
        rc, checks, text = doctor(*self.dut(**{"--modbus-port": dead, "--https-port": dead,
                                               "--http-port": dead,
                                               "--broker": "tcp://127.0.0.1:%d" % dead}))
        self.assertEqual(rc, 1, text)
        for what in ("modbus", "https", "http", "broker"):
            self.assertEqual(checks[what][0][0], "FAIL", what)
        self.assertIn("Connection refused", checks["modbus"][0][1])
        self.assertIn("only one Modbus client at a time", checks["modbus"][0][1])

    def test_a_device_serving_ab_cd_is_named(self):
        with Sim("--source", "gen:dsmr50", "--word-order", "abcd", "--password", PW) as s2:
            simtest.wait_until(lambda: "words AB CD" in doctor(*self.dut(**{
                "--modbus-port": s2.port, "--https-port": s2.https_port, "--http-port": s2.http_port,
                "--broker": None}))[2], 15)

    def test_usage_errors(self):
        for args, msg in ((["--protocol", "x"], "--protocol: 'x' is not p1 or tic"),
                          (["--modbus-port", "0"], "--modbus-port: '0' is not a number"),
                          (["extra"], "unexpected argument 'extra'")):
            p = subprocess.run([SC_HIL, "doctor", *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(msg, p.stderr)


if __name__ == "__main__":
    unittest.main()
