"""sc-sim --devices N, the fleet, as a load-testing user meets it: every
device on its own Modbus port (read with pymodbus) and MQTT client (read
through a real mosquitto), the HTTP surface by path (curl-like requests over
HTTPS and HTTP), shards numbered by --device-offset that make the same
devices whichever shard runs them, the fleet's figures, and the usage errors."""

import json
import os
import re
import shutil
import socket
import ssl
import sys
import unittest
import urllib.error
import urllib.request
import base64

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
from simtest import Sim, SC_SIM, wait_until  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

import subprocess  # noqa: E402

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
AUTH = "Basic " + base64.b64encode(b"user:pw").decode()


class Fleet(Sim):
    """A fleet: the ready line names its HTTP and HTTPS ports."""

    def __init__(self, *args, timeout=30):
        super().__init__("--password", "pw", *args, ready=False)
        try:
            line = self.wait_for(r"ready: fleet of", timeout)
        except AssertionError:
            self.__exit__()
            raise
        m = re.search(r"https [\d.]+:(\d+)", line)
        self.https_port = int(m.group(1)) if m else None
        m = re.search(r"\bhttp [\d.]+:(\d+)", line)
        self.http_port = int(m.group(1)) if m else None
        self.ready_line = line

    def get(self, path, tls=False, auth=True, method="GET", body=None):
        """(status, headers, body text) of a request to the fleet's server."""
        url = ("https://127.0.0.1:%d%s" % (self.https_port, path) if tls
               else "http://127.0.0.1:%d%s" % (self.http_port, path))
        rq = urllib.request.Request(url, method=method, data=body)
        if body is not None:
            rq.add_header("Content-Type", "application/json")
        if auth:
            rq.add_header("Authorization", AUTH)
        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=CTX))
        try:
            with opener.open(rq, timeout=10) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def json(self, path, **kw):
        status, _, text = self.get(path, **kw)
        assert status == 200, (path, status, text)
        return json.loads(text)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


def serial(n):
    return "E8DB84%06X" % n


def free_range(n):
    """The first of n consecutive loopback ports that are free now. A port
    whose only sockets are closed connections waiting out TIME_WAIT is free:
    sc-sim binds its listeners with SO_REUSEADDR, and so does this probe (a
    busy machine has thousands of them, which made a probe without it find
    no range at all)."""
    for _ in range(50):
        p = brokertest.free_port()
        socks = []
        try:
            for k in range(n):
                s = socket.socket()
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p + k))
            return p
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no %d free ports in a row" % n)


class Devices(unittest.TestCase):
    def setUp(self):
        self.dir = brokertest.tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.broker = brokertest.Broker(self.dir)
        self.addCleanup(self.broker.close)

    def test_each_device_serves_its_own_meter_on_its_own_port_and_topic(self):
        sub = brokertest.Subscriber(self.broker.port, "devices/#")
        self.addCleanup(sub.close)
        with Fleet("--devices", "6", "--mqtt", "mqtt://127.0.0.1:%d" % self.broker.port) as f:
            devices = f.json("/fleet/v1/devices")
            self.assertEqual([d["Serial"] for d in devices], [serial(i) for i in range(1, 7)])
            self.assertEqual([d["Index"] for d in devices], list(range(6)))
            ports = [d["ModbusPort"] for d in devices]
            self.assertEqual(len(set(ports)), 6, ports)
            # Every device publishes under its own serial.
            seen = {}

            def all_published():
                while True:
                    try:
                        topic, payload, _ = sub.get(timeout=0.2)
                    except Exception:
                        break
                    m = re.match(r"devices/smart-connect/(\w+)/data/power_instant$", topic)
                    if m:
                        seen[m.group(1)] = json.loads(payload)
                return len(seen) == 6
            wait_until(all_published, timeout=20)
            self.assertEqual(sorted(seen), [serial(i) for i in range(1, 7)])
            # Seeded apart: six meters, not one meter six times.
            self.assertEqual(len({p["E_IMPORT"] for p in seen.values()}), 6, seen)
            # Each Modbus port answers with its own device's registers: the
            # energy import there is its own MQTT figure's (Wh, 0x8100..).
            energies = set()
            for port in ports:
                c = ModbusTcpClient("127.0.0.1", port=port)
                self.assertTrue(c.connect())
                r = c.read_holding_registers(0x8100, count=4, slave=1)
                c.close()
                self.assertFalse(r.isError(), r)
                energies.add(tuple(r.registers))
            self.assertEqual(len(energies), 6)
            status = wait_until(lambda: (lambda s: s if s["MQTT"]["Connected"] == 6 else None)(
                f.json("/fleet/v1/status")), timeout=10)
            self.assertEqual(status["Devices"], 6)
            self.assertEqual(status["FirstSerial"], serial(1))
            self.assertEqual(status["LastSerial"], serial(6))
            self.assertGreater(status["Process"]["RssKiB"], 0)
            self.assertEqual(f.stop(), 0)
        self.assertTrue(any(re.search(r"fleet of 6 devices: telegrams: [1-9]\d* ok", ln)
                            for ln in f.lines), f.lines[-3:])

    def test_modbus_base_port_gives_a_range(self):
        # Three numbers in a row that are free now; another test may take
        # one before the fleet binds it, and then the fleet is started again
        # on a fresh range.
        for _ in range(20):
            base = free_range(3)
            try:
                f = Fleet("--devices", "3", "--modbus-base-port", str(base))
            except AssertionError as e:
                if "the port is in use" in str(e):
                    continue
                raise
            break
        else:
            self.fail("no free range of 3 ports in 20 tries")
        with f:
            self.assertIn("modbus tcp 127.0.0.1:%d-%d" % (base, base + 2), f.ready_line)
            self.assertEqual([d["ModbusPort"] for d in f.json("/fleet/v1/devices")],
                             [base, base + 1, base + 2])
            for k in range(3):
                c = ModbusTcpClient("127.0.0.1", port=base + k)
                self.assertTrue(c.connect())
                c.close()


class StateDir(unittest.TestCase):
    def test_a_state_dir_that_does_not_exist_yet_is_created(self):
        # Like a single device's --state-dir, the fleet's folder is created;
        # each device then keeps its files in a folder named by its serial.
        top = brokertest.tmpdir()
        self.addCleanup(shutil.rmtree, top, True)
        state = os.path.join(top, "fleet-state")
        with Fleet("--devices", "2", "--state-dir", state) as f:
            self.assertEqual(len(f.json("/fleet/v1/devices")), 2)
            for n in (1, 2):
                self.assertTrue(os.path.isdir(os.path.join(state, serial(n))), serial(n))


class Shards(unittest.TestCase):
    def state(self, fleet, sn):
        return fleet.json("/devices/%s/sim/v1/state" % sn)

    def test_offset_numbers_disjoint_shards_and_a_device_is_the_same_in_any(self):
        with Fleet("--devices", "6", "--seed", "9") as whole, \
                Fleet("--devices", "2", "--device-offset", "4", "--seed", "9") as shard:
            self.assertEqual([d["Serial"] for d in shard.json("/fleet/v1/devices")],
                             [serial(5), serial(6)])
            self.assertEqual([d["Index"] for d in shard.json("/fleet/v1/devices")], [4, 5])
            for sn in (serial(5), serial(6)):
                a = self.state(whole, sn)["Twin"]["Meter"]["Source"]
                b = self.state(shard, sn)["Twin"]["Meter"]["Source"]
                self.assertEqual(a, b)
                self.assertIn("seed %d" % (9 + int(sn[-6:], 16) - 1), a)
            # The models differ between devices (profiles, phases or seeds).
            srcs = {self.state(whole, serial(i))["Twin"]["Meter"]["Source"] for i in range(1, 7)}
            self.assertEqual(len(srcs), 6)
            status, _, text = shard.get("/devices/%s/sim/v1/state" % serial(1))
            self.assertEqual(status, 404)
            self.assertIn("%s to %s" % (serial(5), serial(6)), text)

    def test_first_serial_and_fixed_profile(self):
        with Fleet("--devices", "3", "--serial-number", "E8DB84ABCDEF", "--source",
                   "gen:dsmr50:pv", "--phases", "1") as f:
            serials = [d["Serial"] for d in f.json("/fleet/v1/devices")]
            self.assertEqual(serials, ["E8DB84ABCDEF", "E8DB84ABCDF0", "E8DB84ABCDF1"])
            for sn in serials:
                src = self.state(f, sn)["Twin"]["Meter"]["Source"]
                self.assertIn("gen:dsmr50:pv (1 phase,", src)


class Http(unittest.TestCase):
    def test_devices_by_path(self):
        sn = serial(2)
        with Fleet("--devices", "3") as f:
            st = f.json("/devices/%s/api/v1/status" % sn, tls=True)
            self.assertEqual(st["MeterType"], "PhoenixContact-EMPro")
            st = f.json("/devices/%s/sim/v1/state" % sn, tls=True)
            self.assertEqual(st["Status"]["System"]["SerialNumber"], sn)
            status, _, _ = f.get("/devices/%s/api/v1/status" % sn, tls=True, auth=False)
            self.assertEqual(status, 401)
            # The page, under its device's path, and its API beside it.
            status, _, page = f.get("/devices/%s/" % sn, tls=True)
            self.assertEqual(status, 200)
            self.assertIn("location.pathname", page)
            status, headers, _ = f.get("/devices/%s" % sn, tls=True)
            self.assertEqual(status, 308)
            self.assertEqual(headers["Location"], "/devices/%s/" % sn)
            # Plain HTTP links to the device's page over HTTPS.
            status, _, landing = f.get("/devices/%s/" % sn, auth=False)
            self.assertEqual(status, 200)
            self.assertIn("https://127.0.0.1:%d/devices/%s/" % (f.https_port, sn), landing)
            # A bad PATCH on one device changes nothing, there or elsewhere.
            before = [f.json("/devices/%s/api/v1/config" % serial(i), tls=True) for i in (1, 2, 3)]
            status, _, text = f.get("/devices/%s/api/v1/config" % sn, tls=True, method="PATCH",
                                    body=b'{"MQTT":{"Broker":"nope://x"}}')
            self.assertEqual(status, 400, text)
            after = [f.json("/devices/%s/api/v1/config" % serial(i), tls=True) for i in (1, 2, 3)]
            self.assertEqual(before, after)
            for bad in ("/devices/", "/devices/XYZ/api/v1/status", "/devices/%s/api/v1/status"
                        % serial(9), "/devices/E8DB84000002000000000/", "/fleet/v1/nothing"):
                status, _, text = f.get(bad, tls=True)
                self.assertEqual(status, 404, bad)
                self.assertIn("reason", json.loads(text))

    def test_window_and_methods(self):
        with Fleet("--devices", "2") as f:
            w = json.loads(f.get("/fleet/v1/window", method="POST", body=b"")[2])["Window"]
            self.assertLess(w["Seconds"], 1.0)
            self.assertEqual(w["Telegrams"], 0)
            wait_until(lambda: f.json("/fleet/v1/status")["Window"]["Telegrams"] >= 2, timeout=10)
            status, headers, _ = f.get("/fleet/v1/window")
            self.assertEqual(status, 405)
            self.assertEqual(headers["Allow"], "POST")
            status, headers, _ = f.get("/fleet/v1/status", method="POST", body=b"")
            self.assertEqual(status, 405)
            self.assertEqual(f.json("/")["Devices"], 2)

    def test_fleet_api_follows_control(self):
        """Like /sim/v1, /fleet/v1 drives the harness: --control off (the
        default beyond loopback) closes it while the devices still answer."""
        with Fleet("--devices", "2", "--control", "off") as f:
            status, _, body = f.get("/fleet/v1/status")
            self.assertEqual(status, 403)
            self.assertIn("--control on", json.loads(body)["reason"])
            self.assertEqual(f.get("/fleet/v1/window", method="POST", body=b"")[0], 403)


class Usage(unittest.TestCase):
    def refused(self, *args, message):
        r = subprocess.run([SC_SIM, "--mqtt", "off", "--http", "off", "--https", "off", *args],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(message, r.stderr.decode())

    def test_usage_errors(self):
        self.refused("--devices", "0", message="--devices: '0' is not a number from 1 to 100000")
        self.refused("--devices", "2.5", message="not a whole number")
        self.refused("--devices", "2", "--source", "file:/dev/null",
                     message="built-in meters (--source gen:...) or none")
        self.refused("--devices", "2", "--scenario", "x.json", message="drives one device")
        self.refused("--devices", "2", "--mqtt-client-id", "a", message="--mqtt-client-id")
        self.refused("--devices", "2", "--serial-number", "ABC", message="12 hex digits")
        self.refused("--devices", "100", "--modbus-base-port", "65500", message="past 65535")
        self.refused("--devices", "2", "--serial-number", "FFFFFFFFFFFF",
                     message="run past FFFFFFFFFFFF")
        self.refused("--device-offset", "-1", message="--device-offset")


if __name__ == "__main__":
    unittest.main(verbosity=2)
