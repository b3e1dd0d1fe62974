"""The device's behaviour driven through the twin's control API (/sim/v1)
and observed through the device's own status API: every LED state, the
button at its boundaries, factory reset, DHCP falling back to link-local,
restarts pausing Modbus, the P1 ext output, and the control API refused
when it is off. Each test runs its own sc-sim; the device clock runs fast
(--speed) where the manual's timings are long, and every timing the tests
rely on is on that clock, not on the wall."""

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402
from test_http import PW, curl  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

SC_CTL = os.path.join(simtest.BUILD, "sim", "sc-ctl")


class Twin:
    """An sc-sim and its two APIs."""

    def __init__(self, test, *args, state=None):
        self.state = state or tempfile.mkdtemp(prefix="sc-behaviour-")
        if not state:
            test.addCleanup(shutil.rmtree, self.state, True)
        self.sim = Sim("--password", PW, "--state-dir", self.state, *args)
        test.addCleanup(self.sim.__exit__)
        self.url = "http://127.0.0.1:%d" % self.sim.http_port

    def ctl(self, *args):
        out = subprocess.run([SC_CTL, "--url", self.url, *args], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, "sc-ctl %s: %s %s" % (args, out.stdout, out.stderr)
        return out.stdout.strip()

    def status(self):
        """What the twin observes in the device: /sim/v1/state (its Status
        and Twin); a unit's /api/v1/status holds none of it."""
        r = curl(self.sim.https_port, "GET", "/sim/v1/state", user=None)
        return r.json() if r.status == 200 else None

    def state_doc(self):
        return json.loads(self.ctl("state"))

    def led(self):
        return self.state_doc()["Status"]["System"]["Led"]["State"]

    def wait_led(self, name, timeout=20):
        return wait_until(lambda: self.led() == name, timeout=timeout, step=0.05)


class Led(unittest.TestCase):
    def test_every_state(self):
        t = Twin(self, "--speed", "5")
        t.wait_led("normal")
        st = t.status()["Status"]["System"]["Led"]
        self.assertEqual((st["Colour"], st["Pattern"]), ("green", "steady"))
        # No meter data: red/green alternating 1 Hz.
        t.ctl("meter", "out")
        t.wait_led("no-data")
        self.assertEqual(t.status()["Status"]["System"]["Led"]["Pattern"], "alternating 1 Hz")
        colours = set()
        wait_until(lambda: colours.add(t.state_doc()["Status"]["System"]["Led"]["Colour"]) or
                   colours == {"red", "green"}, timeout=20, step=0.02)
        # No data and no IP: red/orange.
        t.ctl("network", "ethernet-cable=off")
        t.wait_led("no-data-no-ip")
        # No IP only: green/orange.
        t.ctl("meter", "in")
        t.wait_led("no-ip")
        t.ctl("network", "ethernet-cable=on")
        t.wait_led("normal")
        # AP mode (factory state, button held 5 s): blue blinking; without
        # data blue/red.
        t.ctl("button", "5.5")
        t.wait_led("ap")
        self.assertEqual(t.status()["Status"]["Network"]["ApSsid"], "SC-E8DB84000001")
        self.assertEqual(t.status()["Status"]["Network"]["IpAddress"], "192.168.71.1")
        t.ctl("meter", "out")
        t.wait_led("no-data-ap")
        # Power cut and back: red, then colours cycling, then running;
        # access-point mode lasts until a Wi-Fi client connection or a
        # factory reset.
        t.ctl("meter", "in")
        # Power-up lasts 1 s of device time: at half speed, 2 s to look
        # at it (at 5 x, 200 ms, less than two sc-ctl calls may take on a
        # loaded machine).
        t.ctl("speed", "0.5")
        t.ctl("power", "cycle")
        led = t.state_doc()["Status"]["System"]["Led"]
        self.assertEqual((led["State"], led["Colour"]), ("power-up", "red"))
        t.ctl("speed", "5")
        t.wait_led("initialising")
        t.wait_led("ap")
        t.ctl("button", "10.5")
        t.wait_led("power-up")
        t.wait_led("normal")


class Button(unittest.TestCase):
    """Boundaries of the manual's §2.4: < 2 s soft reset, 5 s AP mode (from
    factory state only), > 10 s factory reset."""

    def press(self, seconds, configured=False):
        t = Twin(self, "--speed", "20")
        if configured:
            self.assertEqual(curl(t.sim.https_port, "PATCH", "/api/v1/config",
                                  '{"MQTT":{"Site":"configured"}}').status, 200)
        t.ctl("button", str(seconds))
        t.sim.wait_for(r"button: released")
        # What a press does happens by its release; the dongle settles after.
        wait_until(lambda: t.state_doc()["Twin"]["Dongle"]["Phase"] == "running", timeout=20)
        lines = "\n".join(t.sim.lines)
        doc = t.state_doc()
        return ("reset: soft reset" in lines, doc["Twin"]["Dongle"]["ApMode"],
                "factory reset" in lines, t)

    def test_1_9_s_is_a_soft_reset(self):
        self.assertEqual(self.press(1.9)[:3], (True, False, False))

    def test_2_1_s_does_nothing(self):
        self.assertEqual(self.press(2.1)[:3], (False, False, False))

    def test_4_9_s_does_nothing(self):
        self.assertEqual(self.press(4.9)[:3], (False, False, False))

    def test_5_1_s_enters_ap_mode_from_factory_state(self):
        self.assertEqual(self.press(5.1)[:3], (False, True, False))

    def test_5_1_s_does_not_enter_ap_mode_when_configured(self):
        self.assertEqual(self.press(5.1, configured=True)[:3], (False, False, False))

    def test_9_9_s_is_ap_mode_not_a_factory_reset(self):
        self.assertEqual(self.press(9.9)[:3], (False, True, False))

    def test_10_1_s_is_a_factory_reset(self):
        soft, ap, factory, t = self.press(10.1, configured=True)
        self.assertEqual((soft, ap, factory), (False, False, True))
        self.assertEqual(t.state_doc()["Twin"]["Dongle"]["Starts"], 2, "it restarted")


class FactoryReset(unittest.TestCase):
    def test_defaults_restored_and_kept_across_a_restart(self):
        state = tempfile.mkdtemp(prefix="sc-factory-")
        self.addCleanup(shutil.rmtree, state, True)
        t = Twin(self, "--speed", "20", state=state)
        self.assertEqual(curl(t.sim.https_port, "PATCH", "/api/v1/config",
                              '{"MQTT":{"Site":"before"},"Ethernet":{"IpMode":"Static","StaticIPv4":'
                              '{"IpAddress":"10.0.0.9","Netmask":"8"}}}').status, 200)
        factory = json.loads(curl(t.sim.https_port, "GET", "/api/v1/config").body)
        self.assertEqual(factory["MQTT"]["Site"], "before")
        t.ctl("button", "10.5")
        t.sim.wait_for(r"factory reset")
        wait_until(lambda: (t.status() or {}).get("Status", {}).get("System", {}).get("State") ==
                   "running", timeout=20)
        c = curl(t.sim.https_port, "GET", "/api/v1/config").json()
        self.assertEqual(c["MQTT"]["Site"], "")
        self.assertEqual(c["Ethernet"], {"IpMode": "DHCP"})
        self.assertTrue(t.status()["Status"]["System"]["FactoryState"])
        self.assertFalse(os.path.exists(os.path.join(state, "config.json")))
        t.sim.stop()
        t2 = Twin(self, state=state)
        self.assertEqual(curl(t2.sim.https_port, "GET", "/api/v1/config").json()["MQTT"]["Site"], "")


class Network(unittest.TestCase):
    def test_dhcp_falls_back_to_link_local_after_3_attempts(self):
        t = Twin(self, "--speed", "20")
        t.ctl("network", "dhcp-server=off")
        r = curl(t.sim.https_port, "POST", "/api/v1/reset")
        self.assertEqual(r.status, 202)
        # While DHCP tries: no address, LED no-ip; the attempts are counted.
        wait_until(lambda: t.state_doc()["Twin"]["Dongle"]["DhcpAttempt"] >= 2, timeout=20)
        self.assertIsNone(t.status()["Status"]["Network"]["IpAddress"])
        n = wait_until(lambda: (lambda s: s if s["AddressFrom"] == "link-local" else None)(
            t.status()["Status"]["Network"]), timeout=30)
        a = [int(x) for x in n["IpAddress"].split(".")]
        self.assertEqual(a[:2], [169, 254])
        self.assertTrue(1 <= a[2] <= 254)
        self.assertFalse(n["Internet"])
        self.assertGreaterEqual(t.state_doc()["Twin"]["Dongle"]["DhcpAttempt"], 3)
        # A DHCP server coming back gives a lease.
        t.ctl("network", "dhcp-server=on")
        wait_until(lambda: t.status()["Status"]["Network"]["AddressFrom"] == "dhcp", timeout=30)

    def test_pings_follow_the_network(self):
        t = Twin(self, "--speed", "20")
        wait_until(lambda: t.status()["Status"]["Counters"]["gw_ping_pass"] >= 2)
        t.ctl("network", "internet=off")
        wait_until(lambda: t.status()["Status"]["Counters"]["internet_ping_fail"] >= 2)
        c = t.status()["Status"]["Counters"]
        self.assertGreater(c["gw_ping_pass"], 2, "the gateway still answers")
        self.assertFalse(t.status()["Status"]["Network"]["Internet"])


class Restart(unittest.TestCase):
    def test_power_cycle_pauses_modbus(self):
        t = Twin(self, "--modbus-clients", "4")
        c = ModbusTcpClient("127.0.0.1", port=t.sim.port, timeout=2)
        self.assertTrue(c.connect())
        self.assertFalse(c.read_holding_registers(0x8006, 2, slave=1).isError())
        c.close()
        t.ctl("power", "cycle")
        # Nothing listens while the device restarts...
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", t.sim.port), timeout=2).close()
        self.assertEqual(curl(t.sim.https_port, "GET", "/api/v1/status").status, 503)
        # ... and Modbus serves again once it runs (1 s power-up, 4 s initialising).
        t.sim.wait_for(r"restart: running again", timeout=20)
        c = ModbusTcpClient("127.0.0.1", port=t.sim.port, timeout=5)
        self.assertTrue(c.connect())
        wait_until(lambda: not c.read_holding_registers(0x8016, 2, slave=1).isError())
        c.close()
        self.assertEqual(t.state_doc()["Twin"]["Dongle"]["Starts"], 2)
        self.assertLess(t.status()["Status"]["Counters"]["uptime"], 60, "uptime starts over")

    def test_start_with_power_up(self):
        t = Twin(self, "--power-up")
        self.assertIn(t.led(), ("power-up", "initialising"))
        t.wait_led("normal")


class Control(unittest.TestCase):
    def test_refused_when_off(self):
        t = Twin(self, "--control", "off")
        r = curl(t.sim.http_port, "GET", "/sim/v1/state", tls=False, user=None)
        self.assertEqual(r.status, 403)
        self.assertIn("--control on", r.json()["reason"])
        out = subprocess.run([SC_CTL, "--url", t.url, "meter", "out"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 1)

    def test_off_by_default_beyond_loopback(self):
        s = Sim("--password", PW, "--http", "0.0.0.0:0")
        self.addCleanup(s.__exit__)
        r = curl(s.http_port, "GET", "/sim/v1/state", tls=False, user=None)
        self.assertEqual(r.status, 403)

    def test_bad_requests(self):
        t = Twin(self)
        for path, body, field in (("/sim/v1/button", '{"Seconds": -1}', "Seconds"),
                                  ("/sim/v1/button", '{"Action": "hold"}', "Action"),
                                  ("/sim/v1/meter", '{"Cable": "cut"}', "Cable"),
                                  ("/sim/v1/network", '{"DhcpServer": "no"}', "DhcpServer"),
                                  ("/sim/v1/network", '{"Wifi": false}', "Wifi"),
                                  ("/sim/v1/clock", '{"Speed": 0}', "Speed"),
                                  ("/sim/v1/source", '{"Source": "gen:dsmr30"}', "Source"),
                                  ("/sim/v1/source", '{"Source": "file:/nonexistent"}', "Source"),
                                  ("/sim/v1/source", '{"Source": "gen:tic", "TicTotal": "avg"}',
                                   "TicTotal"),
                                  ("/sim/v1/power", '{"Action": "off"}', "Action"),
                                  ("/sim/v1/broker", "not json", "")):
            r = curl(t.sim.http_port, "POST", path, body, tls=False, user=None)
            self.assertEqual(r.status, 400, (path, body, r.body))
            self.assertEqual(r.json().get("field"), field, (path, body))
        self.assertEqual(curl(t.sim.http_port, "GET", "/sim/v1/button", tls=False,
                              user=None).status, 405)
        self.assertEqual(curl(t.sim.http_port, "GET", "/sim/v1/nothing", tls=False,
                              user=None).status, 404)

    def test_inject_and_switch_source(self):
        t = Twin(self)
        tel = subprocess.run([os.path.join(simtest.BUILD, "sim", "sc-telegram"), "gen", "--protocol",
                              "dsmr42", "--count", "1", "--seed", "77"], capture_output=True,
                             check=True).stdout
        t.ctl("source", "gen:dsmr42", "--phases", "1", "--seed", "5")
        t.sim.wait_for(r"source: now gen:dsmr42:household \(1 phase, seed 5")
        tmp = tempfile.NamedTemporaryFile(suffix=".p1", delete=False)
        tmp.write(tel)
        tmp.close()
        self.addCleanup(os.unlink, tmp.name)
        t.ctl("telegram", tmp.name)
        want = simtest.p1_values(simtest.split_telegrams(tel)[0])["P"]
        wait_until(lambda: t.status()["Status"]["Meter"]["ActivePower"] == want)
        self.assertEqual(curl(t.sim.https_port, "GET", "/api/v1/telegram").body,
                         simtest.split_telegrams(tel)[0] + b"\r\n")

    def test_broker_cut_and_back(self):
        import brokertest
        d = brokertest.tmpdir()
        self.addCleanup(shutil.rmtree, d, True)
        b = brokertest.Broker(d)
        self.addCleanup(b.close)
        t = Twin(self, "--mqtt", "tcp://127.0.0.1:%d" % b.port, "--mqtt-reconnect-max", "0.5")
        t.sim.wait_for(r"mqtt: connected")
        t.ctl("broker", "down")
        wait_until(lambda: t.status()["Status"]["MQTT"]["State"] == "disconnected")
        t.ctl("broker", "up")
        wait_until(lambda: sum("mqtt: connected" in l for l in t.sim.lines) >= 2, timeout=20)
        self.assertEqual(t.status()["Status"]["MQTT"]["State"], "connected")


class P1Out(unittest.TestCase):
    def test_bytes_repeated_unchanged(self):
        from test_sources import PtyPair
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        for sub in ("in", "out"):
            os.mkdir(os.path.join(d, sub))
        inp = PtyPair(os.path.join(d, "in"))
        self.addCleanup(inp.close)
        out = PtyPair(os.path.join(d, "out"))
        self.addCleanup(out.close)
        # Garbage and a bad telegram too: P1 ext repeats bytes, not telegrams.
        data = (b"\x00noise" + subprocess.run(
            [os.path.join(simtest.BUILD, "sim", "sc-telegram"), "gen", "--count", "3", "--fault",
             "bad-crc", "--fault-every", "2"], capture_output=True, check=True).stdout)
        reader = os.open(out.meter, os.O_RDONLY | os.O_NOCTTY)
        self.addCleanup(os.close, reader)
        t = Twin(self, "--source", "serial:" + inp.dongle, "--p1-out", "serial:" + out.dongle)
        t.sim.wait_for(r"p1-out: .* open at 115200 8N1")
        inp.send(data)
        got = b""
        while len(got) < len(data):
            r, _, _ = select.select([reader], [], [], 10)
            self.assertTrue(r, "only %d of %d bytes came out" % (len(got), len(data)))
            got += os.read(reader, 65536)
        self.assertEqual(got, data)
        self.assertEqual(t.state_doc()["Twin"]["P1Out"]["Sent"], len(data))


if __name__ == "__main__":
    unittest.main(verbosity=2)
