"""sc-sim under a supervisor: the ready file a CI job waits for, systemd's
readiness notification (NOTIFY_SOCKET, Type=notify), and the page served
from --web-root. Each test starts sc-sim itself and stops it by pid."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402


def read_power(port):
    """0x8016 (total active power, float32 CD AB) over a raw Modbus socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack(">HHHBBHH", 7, 0, 6, 1, 3, 0x8016, 2))
        r = b""
        while len(r) < 13:
            chunk = s.recv(13 - len(r))
            if not chunk:
                raise AssertionError("connection closed after %r" % r)
            r += chunk
    assert r[7] == 3, r
    return struct.unpack(">f", r[11:13] + r[9:11])[0]


def read_ready(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return json.loads(text) if text.endswith("\n") else None


class ReadyFile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-ready-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "sc-sim.ready")

    def test_written_once_listening_and_removed_at_exit(self):
        # A file left by an earlier run is not this run's readiness.
        with open(self.path, "w") as f:
            f.write('{"pid": 1, "modbus": 1}\n')
        with Sim("--ready-file", self.path, "--password", "ready-pw") as sim:
            r = wait_until(lambda: (read_ready(self.path) or {}).get("pid") == sim.proc.pid
                           and read_ready(self.path), 15)
            self.assertEqual(r["modbus"], sim.port)
            self.assertEqual(r["http"], sim.http_port)
            self.assertEqual(r["https"], sim.https_port)
            self.assertEqual(r["serial"], "E8DB84000001")
            self.assertEqual(r["devices"], 1)
            # The ports in the file answer: Modbus reads a telegram's power.
            wait_until(lambda: read_power(r["modbus"]) != 0, 15)
            self.assertEqual(sim.stop(), 0)
        self.assertFalse(os.path.exists(self.path), "the ready file outlived sc-sim")

    def test_an_off_server_is_null(self):
        with Sim("--ready-file", self.path, "--https", "off", "--http", "off") as sim:
            r = wait_until(lambda: read_ready(self.path), 15)
            self.assertEqual(r["pid"], sim.proc.pid)
            self.assertIsNone(r["http"])
            self.assertIsNone(r["https"])

    def test_a_fleet_names_its_size_and_first_device(self):
        with Sim("--ready-file", self.path, "--devices", "3", "--https", "off",
                 "--password", "fleet-pw", ready=False) as sim:
            r = wait_until(lambda: read_ready(self.path), 30)
            self.assertEqual(r["pid"], sim.proc.pid)
            self.assertEqual(r["devices"], 3)
            self.assertEqual(r["serial"], "E8DB84000001")
            wait_until(lambda: read_power(r["modbus"]) != 0, 15)
            self.assertEqual(sim.stop(), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_a_scenario_in_real_time_says_where_it_serves(self):
        """A CI job's client can talk to a scenario's twin while the timeline
        plays: the file gives the free ports the scenario run chose."""
        scenario = os.path.join(simtest.SOURCE, "scenarios", "alfen-registers.json")
        with Sim("--scenario", scenario, "--speed", "10", "--ready-file", self.path,
                 ready=False) as sim:
            r = wait_until(lambda: read_ready(self.path), 15)
            self.assertEqual(r["pid"], sim.proc.pid)
            self.assertEqual(r["serial"], "E8DB84000001")
            # alfen-registers runs in AB CD: read the raw register pair.
            with socket.create_connection(("127.0.0.1", r["modbus"]), timeout=5) as s:
                s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0x800E, 2))
                self.assertEqual(s.recv(64)[7], 3)
            self.assertEqual(sim.proc.wait(60), 0, "\n".join(sim.lines))
        self.assertFalse(os.path.exists(self.path))

    def test_a_trailing_wait_keeps_the_scenario_twin_serving(self):
        """Two telegrams, then a wait: the twin serves the last values to a
        job's client until the wait is over, and the run lasts that long."""
        scenario = os.path.join(self.dir, "wait.json")
        with open(scenario, "w") as f:
            json.dump({"scenario": 1, "name": "wait-at-end",
                       "meter": {"protocol": "dsmr50", "start": 1751387390},
                       "steps": [{"at": 0, "telegrams": {"count": 2}}, {"at": 5, "wait": 25}]}, f)
        with Sim("--scenario", scenario, "--speed", "10", "--ready-file", self.path,
                 ready=False) as sim:
            r = wait_until(lambda: read_ready(self.path), 15)
            wait_until(lambda: read_power(r["modbus"]) != 0, 15)
            self.assertEqual(sim.proc.wait(60), 0, "\n".join(sim.lines))
        p = subprocess.run([simtest.SC_SIM, "--scenario", scenario, "--speed", "max"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("2 telegrams over 30 s of device time", p.stdout)

    def test_an_unwritable_path_is_a_clear_error(self):
        bad = os.path.join(self.dir, "no-such-dir", "ready")
        p = subprocess.run(simtest.sim_cmd("--ready-file", bad), capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"--ready-file: cannot write " + bad.encode(), p.stderr)

    def test_an_empty_path_is_a_usage_error(self):
        p = subprocess.run(simtest.sim_cmd("--ready-file", ""), capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--ready-file: a file name is expected", p.stderr)


class SystemdNotify(unittest.TestCase):
    def test_ready_then_stopping(self):
        d = tempfile.mkdtemp(prefix="sc-notify-")
        self.addCleanup(shutil.rmtree, d, True)
        addr = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(addr)
        sock.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=addr)
        with Sim("--password", "notify-pw", env=env) as sim:
            msg = sock.recv(4096).decode()
            fields = dict(line.split("=", 1) for line in msg.split("\n") if line)
            self.assertEqual(fields.get("READY"), "1", msg)
            self.assertEqual(int(fields["MAINPID"]), sim.proc.pid)
            self.assertIn("modbus tcp 127.0.0.1:%d" % sim.port, fields["STATUS"])
            # Ready means listening: the register answers now, no waiting.
            read_power(sim.port)
            sim.proc.terminate()
            msg = sock.recv(4096).decode()
            self.assertIn("STOPPING=1", msg)
            self.assertEqual(sim.stop(), 0)

    def test_without_notify_socket_nothing_is_sent(self):
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with Sim(env=env) as sim:
            read_power(sim.port)
            self.assertEqual(sim.stop(), 0)


class WebRoot(unittest.TestCase):
    def get(self, port, path="/"):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
        req.add_header("Authorization", "Basic dXNlcjp3ZWItcHc=")  # user:web-pw
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()

    def test_the_page_comes_from_the_directory(self):
        d = tempfile.mkdtemp(prefix="sc-web-")
        self.addCleanup(shutil.rmtree, d, True)
        page = b"<!doctype html><title>a page under development</title>\n"
        with open(os.path.join(d, "index.html"), "wb") as f:
            f.write(page)
        with Sim("--web-root", d, "--password", "web-pw", "--http-api-plain") as sim:
            status, ctype, body = self.get(sim.http_port)
            self.assertEqual((status, body), (200, page))
            self.assertTrue(ctype.startswith("text/html"))
            # The API is untouched.
            status, ctype, body = self.get(sim.http_port, "/api/v1/status")
            self.assertIn(b"MeterType", body)

    def test_the_installed_page_is_the_built_in_one(self):
        web = os.path.join(simtest.SOURCE, "sim", "web")
        with open(os.path.join(web, "index.html"), "rb") as f:
            page = f.read()
        with Sim("--password", "web-pw", "--http-api-plain") as sim:
            self.assertEqual(self.get(sim.http_port)[2], page)

    def test_a_missing_page_is_a_clear_error(self):
        d = tempfile.mkdtemp(prefix="sc-web-")
        self.addCleanup(shutil.rmtree, d, True)
        p = subprocess.run(simtest.sim_cmd("--web-root", d), capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 3)
        self.assertIn(("--web-root: %s/index.html" % d).encode(), p.stderr)


if __name__ == "__main__":
    unittest.main()
