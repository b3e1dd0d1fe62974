"""The meter set by hand through the real interfaces: sc-ctl set / ramp /
set --profile against an sc-sim started here on free loopback ports, the
values read back with pymodbus, a real mosquitto and subscriber, and the
device's /api/v1/telegram with curl; bad input to every new command gets a
clear message, the usage exit and changes nothing; sc-ctl telegram says the
device's verdict; sc-telegram crc makes an edited telegram whole again."""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

SC_CTL = os.path.join(simtest.BUILD, "sim", "sc-ctl")
SC_TELEGRAM = os.path.join(simtest.BUILD, "sim", "sc-telegram")
CORPUS = os.path.join(simtest.SOURCE, "corpus")
PW = "meter-set-pw"
SERIAL = "E8DB84000A26"


def run(cmd, stdin=b""):
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="meter-set-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def sim(self, *args):
        state = os.path.join(self.dir, "state")
        os.makedirs(state, exist_ok=True)
        s = Sim("--control", "on", "--password", PW, "--state-dir", state,
                "--serial-number", SERIAL, *args)
        self.addCleanup(s.__exit__)
        return s

    def ctl(self, s, *args, stdin=b""):
        return run([SC_CTL, "--url", "http://127.0.0.1:%d" % s.http_port, *args], stdin)

    def state(self, s):
        rc, out, err = self.ctl(s, "state")
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def hand(self, s):
        return self.state(s)["Twin"]["Meter"]["Hand"]

    def floats(self, s, addr, n=1):
        """n float32 values from addr, read by pymodbus (CDAB, the default)."""
        c = ModbusTcpClient("127.0.0.1", port=s.port, timeout=5)
        self.assertTrue(c.connect())
        try:
            rr = c.read_holding_registers(addr, 2 * n, slave=1)
            self.assertFalse(rr.isError(), rr)
            w = rr.registers
        finally:
            c.close()
        return [struct.unpack(">f", struct.pack(">HH", w[2 * i + 1], w[2 * i]))[0]
                for i in range(n)]

    def power(self, s):
        return self.floats(s, 0x8016)[0]

    def device_time(self, s):
        return self.state(s)["Twin"]["Clock"]["DeviceTime"]


class SetByHand(Base):
    def test_p_on_modbus_mqtt_and_the_telegram(self):
        """sc-ctl set P=9000: 0x8016 reads 9000 W, the next power_instant
        has P 9000 with phases summing to it, and the telegram says 9 kW."""
        b = brokertest.Broker(self.dir)
        self.addCleanup(b.close)
        sub = brokertest.Subscriber(b.port, "devices/#")
        self.addCleanup(sub.close)
        s = self.sim("--source", "gen:dsmr50", "--mqtt", "mqtt://127.0.0.1:%d" % b.port)
        s.wait_for(r"mqtt: connected")
        rc, out, err = self.ctl(s, "set", "P=9000")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["Result"], "set")
        wait_until(lambda: abs(self.power(s) - 9000) < 0.5, timeout=15)
        l1, l2, l3 = self.floats(s, 0x801E, 3)
        self.assertAlmostEqual(l1 + l2 + l3, 9000, delta=1.5)
        # MQTT: a power_instant with the value set (earlier ones may be older).
        def got_9000():
            try:
                topic, payload, _ = sub.get(timeout=1)
            except Exception:
                return False
            if not topic.endswith("/data/power_instant"):
                return False
            p = json.loads(payload)
            if p["P"] != 9000:
                return False
            self.assertAlmostEqual(sum(p["l%d" % n]["P"] for n in (1, 2, 3)), 9000, delta=1.5)
            for n in (1, 2, 3):
                ph = p["l%d" % n]
                # The meter prints whole amperes of P / U (U to 0.1 V here).
                self.assertLessEqual(abs(ph["I"] - ph["P"] / ph["U"]), 0.51)
            return True
        wait_until(got_9000, timeout=20, step=0)
        # The device's last telegram, over HTTPS with its login.
        r = subprocess.run(["curl", "-s", "-k", "-u", "user:" + PW, "--max-time", "20",
                            "https://127.0.0.1:%d/api/v1/telegram" % s.https_port],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"1-0:1.7.0(09.000*kW)", r.stdout)
        # Values hold: still 9000 some device seconds later.
        t0 = self.device_time(s)
        wait_until(lambda: self.device_time(s) > t0 + 3, timeout=15)
        self.assertAlmostEqual(self.power(s), 9000, delta=0.5)

    def test_one_phase_and_back_to_the_profile(self):
        """l1.P=9000 is L1's power (an EV charger's first test); the other
        phases stay generated; set --profile returns to the generated day."""
        s = self.sim("--source", "gen:dsmr50")
        rc, _, err = self.ctl(s, "set", "l1.P=9000", "l1.U=225")
        self.assertEqual(rc, 0, err)
        wait_until(lambda: abs(self.floats(s, 0x801E)[0] - 9000) < 0.5, timeout=15)
        self.assertAlmostEqual(self.floats(s, 0x8006)[0], 225, delta=0.05)
        self.assertAlmostEqual(self.floats(s, 0x800E)[0], 40, delta=1e-6)   # 9000 / 225
        self.assertEqual(self.hand(s), {"l1.P": 9000, "l1.U": 225})
        rc, out, err = self.ctl(s, "set", "--profile")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.hand(s), {})
        wait_until(lambda: self.floats(s, 0x801E)[0] < 5000, timeout=15)

    def test_ramp_on_the_device_clock(self):
        """A load step of 100 s of device time under --speed 20: the power
        climbs through intermediate values and reaches its end no sooner than
        100 device seconds after the start (the meter's clock is whole
        seconds: 99)."""
        s = self.sim("--source", "gen:dsmr50", "--speed", "20")
        t0 = self.device_time(s)
        rc, out, err = self.ctl(s, "ramp", "P", "10000", "20000", "100")
        self.assertEqual(rc, 0, err)
        seen = []

        def done():
            p = self.power(s)
            seen.append(p)
            return abs(p - 20000) < 0.5
        wait_until(done, timeout=60, step=0.1)
        self.assertGreaterEqual(self.device_time(s) - t0, 99)
        between = [p for p in seen if 10500 < p < 19500]
        self.assertTrue(between, "no value between the ends: %s" % seen)
        # The telegrams before the ramp's first one show the generated load.
        ramp = [p for p in seen if p > 9999.5]
        self.assertEqual(ramp, sorted(ramp), "the ramp went down")

    def test_post_json(self):
        """POST /sim/v1/meter with a JSON object, as the twin's panel does."""
        s = self.sim("--source", "gen:emucs")
        url = "http://127.0.0.1:%d/sim/v1/meter" % s.http_port

        def post(doc):
            r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-H",
                                "Content-Type: application/json", "--data-binary", json.dumps(doc),
                                url], capture_output=True, text=True, timeout=30)
            body, code = r.stdout.rsplit("\n", 1)
            return int(code), json.loads(body)
        code, a = post({"P": -2500, "E_EXPORT": 123456, "tariff": 2})
        self.assertEqual(code, 200, a)
        wait_until(lambda: abs(self.power(s) + 2500) < 0.5, timeout=15)
        e_export = self.floats(s, 0x8106)[0]
        self.assertGreaterEqual(e_export, 123456)
        code, a = post({"Ramp": {"Key": "l2.I", "From": 1, "To": 2, "Seconds": 5}})
        self.assertEqual(code, 200, a)
        code, a = post({"Profile": True})
        self.assertEqual(code, 200, a)
        for doc, field in (({"P": "9000"}, "P"), ({"power": 1}, "power"), ({"P": 1e9}, "P"),
                           ({"Ramp": {"Key": "E_IMPORT", "From": 0, "To": 1, "Seconds": 1}},
                            "E_IMPORT"),
                           ({"Ramp": {"Key": "P", "From": 0, "To": 1}}, "Ramp"),
                           ({"Profile": True, "P": 1}, "profile"), ({"Cable": "out", "P": 1}, "Cable")):
            code, a = post(doc)
            self.assertEqual(code, 400, doc)
            self.assertIn(field, a.get("field", "") + " " + a.get("reason", ""), (doc, a))
        self.assertEqual(self.hand(s), {})


class BadInput(Base):
    def refused(self, s, args, names):
        before = self.hand(s)
        rc, out, err = self.ctl(s, *args)
        self.assertEqual(rc, 2, (args, out, err))
        self.assertIn(names, err, args)
        self.assertEqual(out, "", args)
        self.assertEqual(self.hand(s), before, args)
        return err

    def test_every_command_refuses_and_changes_nothing(self):
        s = self.sim("--source", "gen:dsmr50")
        rc, _, err = self.ctl(s, "set", "P=2000")
        self.assertEqual(rc, 0, err)
        wait_until(lambda: abs(self.power(s) - 2000) < 0.5, timeout=15)
        self.assertIn("unknown key", self.refused(s, ["set", "watts=1"], "watts"))
        self.assertIn("not a number", self.refused(s, ["set", "P=abc"], "P"))
        self.assertIn("not a number", self.refused(s, ["set", "P=nan"], "P"))
        self.assertIn("99999 W", self.refused(s, ["set", "P=200000"], "P"))
        self.assertIn("100 A", self.refused(s, ["set", "l1.P=30000"], "l1.P"))
        self.assertIn("100 A", self.refused(s, ["set", "l2.I=500"], "l2.I"))
        self.refused(s, ["set", "l3.U=0"], "l3.U")
        self.refused(s, ["set", "tariff=3"], "tariff")
        self.refused(s, ["set", "E_IMPORT=-5"], "E_IMPORT")
        self.refused(s, ["set", "P=3000", "l1.P=1000", "l2.P=1000", "l3.P=0"], "P")
        self.refused(s, ["set", "P=1", "P=2"], "P")
        self.refused(s, ["ramp", "E_IMPORT", "0", "1000", "10"], "E_IMPORT")
        self.refused(s, ["ramp", "P", "0", "200000", "10"], "P")
        self.refused(s, ["ramp", "P", "0", "1000", "0"], "P")
        self.refused(s, ["ramp", "P", "0", "1000", "x"], "SECONDS")
        self.refused(s, ["ramp", "Q", "0", "1000", "10"], "Q")
        self.assertEqual(self.hand(s), {"P": 2000})
        self.assertAlmostEqual(self.power(s), 2000, delta=0.5)

    def test_tic_has_no_negative_phase(self):
        s = self.sim("--source", "gen:tic")
        err = self.refused(s, ["set", "l1.P=-500"], "l1.P")
        self.assertIn("TIC", err)
        self.refused(s, ["set", "P=-500"], "P")           # a consumer-mode meter
        self.refused(s, ["set", "tariff=1"], "tariff")    # its calendar decides
        rc, _, err = self.ctl(s, "set", "l1.P=4000")
        self.assertEqual(rc, 0, err)
        wait_until(lambda: abs(self.floats(s, 0x801E)[0] - 4000) < 0.5, timeout=15)

    def test_a_source_without_its_own_meter(self):
        s = self.sim("--source", "none")
        rc, out, err = self.ctl(s, "set", "P=100")
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("gen:", err)


class Telegram(Base):
    def gen(self):
        r = subprocess.run([SC_TELEGRAM, "gen", "--count", "1", "--seed", "9"],
                           capture_output=True, check=True, timeout=30)
        return r.stdout

    def counters(self, s):
        return self.state(s)["Status"]["Counters"]

    def test_verdicts(self):
        s = self.sim("--source", "gen:dsmr50")
        tel = self.gen()
        rc, out, err = self.ctl(s, "telegram", "-", stdin=tel)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["Result"], "accepted")
        # The generated meter holds its telegrams back: the fed one stays.
        self.assertTrue(self.state(s)["Twin"]["Meter"]["Paused"])
        passed = self.counters(s)["telegrams_pass"]
        t0 = self.device_time(s)
        wait_until(lambda: self.device_time(s) > t0 + 3, timeout=15)
        self.assertEqual(self.counters(s)["telegrams_pass"], passed)
        want = simtest.p1_values(tel)["P"]
        self.assertAlmostEqual(self.power(s), want, delta=0.5)
        # A bad CRC: exit 1, the reason named.
        bad = tel.replace(b"1-0:1.8.1(0", b"1-0:1.8.1(9", 1)
        self.assertNotEqual(bad, tel)
        rc, out, err = self.ctl(s, "telegram", "-", stdin=bad)
        self.assertEqual(rc, 1, (out, err))
        self.assertEqual(json.loads(out)["Reason"], "crc")
        self.assertRegex(err, r"rejected: crc: CRC .* \(at byte \d+ of the telegram\)")
        # The cable out: nothing arrives.
        self.assertEqual(self.ctl(s, "meter", "out")[0], 0)
        rc, out, err = self.ctl(s, "telegram", "-", stdin=tel)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("cable-out", err)
        self.assertEqual(self.ctl(s, "meter", "in")[0], 0)
        # An unsupported meter (DSMR 2.2, no CRC).
        rc, out, err = self.ctl(s, "telegram", os.path.join(simtest.CORPUS, "p1",
                                                            "dsmr22-iskra-no-crc.p1"))
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("rejected", err)
        # An empty file is a usage error.
        self.assertEqual(self.ctl(s, "telegram", "-", stdin=b"")[0], 2)
        # sc-ctl set (here --profile) lets the generated meter send again.
        self.assertEqual(self.ctl(s, "set", "--profile")[0], 0)
        self.assertFalse(self.state(s)["Twin"]["Meter"]["Paused"])
        wait_until(lambda: self.counters(s)["telegrams_pass"] > passed, timeout=15)


class Crc(Base):
    def test_edited_corpus_telegrams_round_trip(self):
        """A value edited in a corpus telegram: check refuses it; crc makes it
        whole; check accepts it, parse shows the value, the twin accepts it."""
        with open(os.path.join(CORPUS, "p1", "gen-dsmr50-pv-ev-seed42.p1"), "rb") as f:
            one = simtest.split_telegrams(f.read())[0]
        edited = re.sub(rb"1-0:21\.7\.0\(\d\d\.\d\d\d", b"1-0:21.7.0(09.000", one, count=1)
        self.assertNotEqual(edited, one)
        path = os.path.join(self.dir, "edited.p1")
        fixed = os.path.join(self.dir, "fixed.p1")
        with open(path, "wb") as f:
            f.write(edited)
        self.assertEqual(run([SC_TELEGRAM, "check", path])[0], 1)
        rc, out, err = run([SC_TELEGRAM, "crc", path, "-o", fixed])
        self.assertEqual(rc, 0, err)
        self.assertIn("1 CRC rewritten", err)
        rc, out, err = run([SC_TELEGRAM, "check", fixed])
        self.assertEqual(rc, 0, out + err)
        rc, out, err = run([SC_TELEGRAM, "parse", fixed])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out.splitlines()[0])["l1"]["P+"], 9000)
        s = self.sim("--source", "gen:dsmr50")
        rc, out, err = self.ctl(s, "telegram", fixed)
        self.assertEqual(rc, 0, out + err)
        # TIC: a frame of the corpus, a group's value edited.
        with open(os.path.join(CORPUS, "tic", "gen-tic-mono-consumer-base.tic"), "rb") as f:
            data = f.read()
        frame = data[:data.index(b"\x03") + 1]
        m = re.search(rb"\nURMS1\t(\d\d\d)\t", frame)
        self.assertIsNotNone(m)
        new = b"199" if m.group(1) != b"199" else b"198"
        edited = frame[:m.start(1)] + new + frame[m.end(1):]
        rc, out, err = run([SC_TELEGRAM, "crc", "-"], edited)
        self.assertEqual(rc, 0, err)
        rc, parsed, err = run([SC_TELEGRAM, "parse", "-"], out.encode("latin-1"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(parsed.splitlines()[0])["l1"]["U"], int(new))

    def test_not_a_telegram(self):
        rc, out, err = run([SC_TELEGRAM, "crc", "-"], b"just some text\n")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("not a telegram", err)
        rc, out, err = run([SC_TELEGRAM, "crc", "-"], b"/ISK5\\2M550T-1012\r\n\r\n1-0:1.7.0(00.1*kW)\r\n")
        self.assertEqual(rc, 1)
        self.assertIn("no '!'", err)


if __name__ == "__main__":
    unittest.main()
