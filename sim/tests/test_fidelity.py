"""Behaviours the manual states, checked through the twin's real interfaces
(issue 24): readings after a restart (pymodbus, MQTT through a real
mosquitto), a broker outage as the network refusing the broker (errors,
back-off, reconnection), the LED on a link-local address and its switch,
MQTT against the network model's internet, and each interface's own MAC
and address. The twin's state is read from GET /sim/v1/state (its Status
object); it is driven through the control API (/sim/v1). Every wait polls
with a deadline; timings are checked through the twin's own state and log,
and wall time only within generous bounds."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402
from test_http import PW, curl  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

SC_TELEGRAM = os.path.join(simtest.BUILD, "sim", "sc-telegram")
SERIAL = "E8DB84ABCDEF"


def broker(test):
    """A mosquitto of the test's own, on a free port."""
    d = brokertest.tmpdir()
    test.addCleanup(shutil.rmtree, d, True)
    b = brokertest.Broker(d)
    test.addCleanup(b.close)
    return b


def telegrams(count, seed):
    """count DSMR 5 telegrams of a seeded meter, each as bytes."""
    out = subprocess.run([SC_TELEGRAM, "gen", "--count", str(count), "--seed", str(seed)],
                         capture_output=True, check=True).stdout
    return simtest.split_telegrams(out)


class Twin:
    """An sc-sim with its control API on loopback."""

    def __init__(self, test, *args, stdin_pipe=False):
        self.sim = Sim("--password", PW, "--serial-number", SERIAL, *args, stdin_pipe=stdin_pipe)
        test.addCleanup(self.sim.__exit__)
        self.url = "http://127.0.0.1:%d" % self.sim.http_port

    def control(self, path, doc=None, raw=None):
        data = raw if raw is not None else (json.dumps(doc).encode() if doc is not None else None)
        rq = urllib.request.Request(self.url + path, data=data,
                                    method="POST" if data is not None else "GET")
        if data is not None:
            rq.add_header("Content-Type", "application/octet-stream" if raw is not None
                          else "application/json")
        with urllib.request.urlopen(rq, timeout=20) as r:
            body = r.read()
        return json.loads(body) if body else None

    def state(self):
        return self.control("/sim/v1/state")["Status"]

    def telegram(self, tel):
        self.control("/sim/v1/telegram", raw=tel + b"\r\n")

    def image(self):
        """The whole register map, read by pymodbus (None while Modbus is down)."""
        c = ModbusTcpClient("127.0.0.1", port=self.sim.port, timeout=5)
        if not c.connect():
            return None
        try:
            words = []
            addr = simtest.MAP_START
            while addr < simtest.MAP_END:
                n = min(125, simtest.MAP_END - addr)
                rr = c.read_holding_registers(addr, n, slave=1)
                if rr.isError():
                    return None
                words += rr.registers
                addr += n
            return words
        finally:
            c.close()

    def running(self):
        return self.state()["System"]["State"] == "running"




def nonzero(words):
    """The first registers that do not read 0 (address, value), or the whole
    answer when the read failed."""
    if words is None:
        return "no answer"
    return [(hex(simtest.MAP_START + i), w) for i, w in enumerate(words) if w][:8]


class ReadingsAfterRestart(unittest.TestCase):
    def restart_clears(self, restart):
        b = broker(self)
        sub = brokertest.Subscriber(b.port, "#")
        self.addCleanup(sub.close)
        t = Twin(self, "--source", "none", "--speed", "5", "--no-data-timeout", "2",
                 "--counters-interval", "0", "--mqtt", "tcp://127.0.0.1:%d" % b.port)
        t.sim.wait_for(r"mqtt: connected")
        first, second = telegrams(2, 7)
        t.telegram(first)
        want = simtest.expected_image(simtest.p1_values(first))
        wait_until(lambda: t.image() == want)
        self.assertEqual(t.state()["Meter"]["State"], "ok")
        got = sub.until(lambda m: m[0].endswith("power_instant"))
        self.assertAlmostEqual(json.loads(got[-1][1])["P"], float(simtest.p1_values(first)["P"]))

        restart(t)
        wait_until(lambda: not t.running(), timeout=10)
        wait_until(t.running, timeout=20)
        t.sim.wait_for(r"restart: running again")
        wait_until(lambda: sum("mqtt: connected" in ln for ln in t.sim.lines) >= 2, timeout=20)
        # No telegram since: the registers read 0 as at a first start, the
        # meter is not "ok", nothing of the old reading is left.
        self.assertEqual(nonzero(t.image()), [], "Modbus serves nothing from before the restart")
        st = t.state()
        self.assertEqual(st["Meter"]["State"], "never")
        self.assertIsNone(st["Meter"]["ActivePower"])
        self.assertIsNone(st["Meter"]["LastTelegramAge"])
        self.assertEqual(st["Counters"]["telegrams_pass"], 0)
        # The LED says no data once the no-data time (2 s) has passed.
        wait_until(lambda: t.state()["System"]["Led"]["State"] == "no-data", timeout=10)
        self.assertEqual(nonzero(t.image()), [])
        # MQTT: nothing published since the restart (nothing stale).
        time.sleep(0.5)
        stale = []
        while True:
            try:
                stale.append(sub.get(timeout=0.2))
            except Exception:
                break
        self.assertEqual([m for m in stale if m[0].endswith("power_instant")], [],
                         "no power_instant before the first telegram after the restart")

        # The first telegram after the restart: its values, everywhere.
        t.telegram(second)
        want2 = simtest.expected_image(simtest.p1_values(second))
        wait_until(lambda: t.image() == want2)
        self.assertEqual(t.state()["Meter"]["State"], "ok")
        got = sub.until(lambda m: m[0].endswith("power_instant"))
        self.assertAlmostEqual(json.loads(got[-1][1])["P"], float(simtest.p1_values(second)["P"]))
        self.assertEqual(t.state()["System"]["Led"]["State"], "normal")
        t.sim.wait_for(r"meter: the first telegram since the restart")

    def test_power_cycle(self):
        self.restart_clears(lambda t: t.control("/sim/v1/power", {"Action": "cycle"}))

    def test_soft_reset(self):
        self.restart_clears(
            lambda t: self.assertEqual(curl(t.sim.https_port, "POST", "/api/v1/reset").status, 202))


class BrokerOutage(unittest.TestCase):
    def test_refused_with_errors_backoff_and_back(self):
        b = broker(self)
        # The back-off runs on the event loop's clock (real time here): 1, 2,
        # 4 s, then every 4 s.
        t = Twin(self, "--source", "none", "--log-level", "debug",
                 "--mqtt", "tcp://127.0.0.1:%d" % b.port, "--mqtt-reconnect-min", "1",
                 "--mqtt-reconnect-max", "4")
        t.sim.wait_for(r"mqtt: connected")
        self.assertEqual(t.state()["MQTT"]["State"], "connected")
        self.assertEqual(t.state()["Counters"]["mqtt_event_errors"], 0)
        t.control("/sim/v1/broker", {"Reachable": False})
        # The connection drops, every attempt fails, each counted.
        wait_until(lambda: t.state()["Counters"]["mqtt_event_errors"] >= 5, timeout=30)
        st = t.state()
        self.assertEqual(st["MQTT"]["State"], "disconnected")
        self.assertEqual(st["MQTT"]["LastError"], "connection refused (the broker is down)")
        self.assertEqual(st["Counters"]["mqtt_event_connect"], 1)
        # The waits between attempts, as the client logs them: 1 s doubling
        # to the maximum of 4 s (in ms of the loop's clock).
        waits = [int(ln.split("next attempt in ")[1].split()[0]) for ln in t.sim.lines
                 if "mqtt: next attempt in" in ln]
        self.assertGreaterEqual(len(waits), 4, waits)
        self.assertEqual(waits[:4], [1000, 2000, 4000, 4000])
        # Reachable again: the next attempt due connects (no sooner than the
        # attempt scheduled, no later than the maximum wait, with slack).
        errors = t.state()["Counters"]["mqtt_event_errors"]
        t.control("/sim/v1/broker", {"Reachable": True})
        start = time.monotonic()
        wait_until(lambda: t.state()["MQTT"]["State"] == "connected", timeout=20)
        self.assertLess(time.monotonic() - start, 10, "the reconnection waits at most one back-off")
        st = t.state()
        self.assertEqual(st["Counters"]["mqtt_event_connect"], 2)
        self.assertLessEqual(st["Counters"]["mqtt_event_errors"], errors + 1)
        self.assertEqual(st["MQTT"]["LastError"], "")
        self.assertIn("the network reaches", "\n".join(t.sim.lines))


class LinkLocalLed(unittest.TestCase):
    def link_local(self, *args):
        t = Twin(self, "--speed", "20", *args)
        t.control("/sim/v1/network", {"DhcpServer": False})
        self.assertEqual(curl(t.sim.https_port, "POST", "/api/v1/reset").status, 202)
        wait_until(lambda: t.state()["Network"]["AddressFrom"] == "link-local", timeout=30)
        return t

    def test_link_local_is_no_ip(self):
        t = self.link_local()
        wait_until(lambda: t.state()["System"]["Led"]["State"] == "no-ip", timeout=10)
        # A DHCP server again: a lease, the LED normal.
        t.control("/sim/v1/network", {"DhcpServer": True})
        wait_until(lambda: t.state()["Network"]["AddressFrom"] == "dhcp", timeout=30)
        wait_until(lambda: t.state()["System"]["Led"]["State"] == "normal", timeout=10)

    def test_switch_makes_it_normal(self):
        t = self.link_local("--led-link-local", "normal")
        wait_until(lambda: t.state()["System"]["Led"]["State"] == "normal", timeout=10)

    def test_switch_refuses_other_words(self):
        r = subprocess.run(simtest.sim_cmd("--led-link-local", "orange"), capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--led-link-local: 'orange' is not no-ip or normal", r.stderr)


class MqttWithoutInternet(unittest.TestCase):
    def test_internet_broker_unreachable_local_broker_kept(self):
        b = broker(self)
        # A LAN (here loopback) broker: the internet switch does not matter.
        t = Twin(self, "--source", "none", "--mqtt", "tcp://127.0.0.1:%d" % b.port)
        t.sim.wait_for(r"mqtt: connected")
        t.control("/sim/v1/network", {"Internet": False})
        time.sleep(0.5)
        self.assertEqual(t.state()["MQTT"]["State"], "connected")
        self.assertFalse(t.state()["Network"]["Internet"])

    def test_internet_broker_needs_the_internet(self):
        # A broker beyond the LAN (a name the internet's DNS would resolve):
        # without internet no attempt gets out; the reason is the network's.
        t = Twin(self, "--source", "none", "--speed", "10", "--mqtt",
                 "tcp://broker.invalid:1883", "--mqtt-reconnect-max", "1")
        t.control("/sim/v1/network", {"Internet": False})
        wait_until(lambda: "no internet" in t.state()["MQTT"]["LastError"], timeout=20)
        self.assertNotEqual(t.state()["MQTT"]["State"], "connected")
        n = t.state()["Counters"]["mqtt_event_errors"]
        wait_until(lambda: t.state()["Counters"]["mqtt_event_errors"] > n, timeout=20)
        # Link-local (DHCP failed): no gateway, so no route either.
        t.control("/sim/v1/network", {"Internet": True, "DhcpServer": False})
        self.assertEqual(curl(t.sim.https_port, "POST", "/api/v1/reset").status, 202)
        wait_until(lambda: t.state()["Network"]["AddressFrom"] == "link-local", timeout=30)
        wait_until(lambda: "link-local" in t.state()["MQTT"]["LastError"], timeout=20)


class Interfaces(unittest.TestCase):
    def test_each_interface_has_its_mac_and_address(self):
        t = Twin(self, "--speed", "20")
        n = t.state()["Network"]
        self.assertEqual(n["Ethernet"]["Mac"], "E8:DB:84:AB:CD:F2")
        self.assertEqual(n["WiFi"]["Mac"], "E8:DB:84:AB:CD:EF", "Wi-Fi: the serial itself")
        self.assertTrue(n["Ethernet"]["Active"])
        self.assertFalse(n["WiFi"]["Active"])
        eth = n["Ethernet"]["IpAddress"]
        self.assertEqual(eth, n["IpAddress"])
        self.assertIsNone(n["WiFi"]["IpAddress"])
        # Wi-Fi as the interface: its own lease.
        r = curl(t.sim.https_port, "PATCH", "/api/v1/config",
                 '{"DefaultNetIf":"WiFi","WiFi":{"ConnectionData":{"WiFiSSID":"XemexTesting",'
                 '"WiFiPassword":"Xem3x123"},"IpMode":"DHCP"}}')
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(curl(t.sim.https_port, "POST", "/api/v1/reset").status, 202)
        wait_until(lambda: t.state()["Network"]["WiFi"]["IpAddress"] is not None, timeout=30)
        n = t.state()["Network"]
        self.assertTrue(n["WiFi"]["Active"])
        self.assertIsNone(n["Ethernet"]["IpAddress"])
        self.assertTrue(n["WiFi"]["IpAddress"].startswith("192.168.1."))
        self.assertNotEqual(n["WiFi"]["IpAddress"], eth, "each interface its own address")


if __name__ == "__main__":
    unittest.main(verbosity=2)
