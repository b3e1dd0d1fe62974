"""Faults a real installation sees and load, survived by sc-sim: each test
asserts that nothing was lost and that service resumed.

Faults: the broker killed and restarted repeatedly; Modbus clients killed
mid-request, 1000 connects and disconnects, a silent (half-open) client
holding the one slot until the idle timeout; the state directory full or
read-only (root only: a tmpfs in a mount namespace of the test's own); the
wall clock stepped forwards and backwards under a running sc-sim
(libfaketime). The serial source vanishing and returning is in
test_sources.py, kill -9 during configuration writes in test_http.py.

Load: 1,000,000 Modbus requests from one client, 10,000 authenticated HTTPS
requests (p99 printed), an hour of device time at 1 Hz through a real
mosquitto with no publish lost, a day at --speed 100000 with flat RSS. RSS is
only asserted without sanitizers (SC_SANITIZED unset): their allocators keep
freed memory on purpose.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
from simtest import Sim, rss_kib, wait_until  # noqa: E402

PW = "faults-pw-1"
SANITIZED = os.environ.get("SC_SANITIZED") == "1"
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def read_req(tid, addr=0x8006, count=30):
    return tid.to_bytes(2, "big") + b"\x00\x00\x00\x06\x01\x03" + addr.to_bytes(2, "big") + \
        count.to_bytes(2, "big")


def recv_exact(conn, n):
    got = b""
    while len(got) < n:
        chunk = conn.recv(n - len(got))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(got), n))
        got += chunk
    return got


def modbus_read_ok(port, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(read_req(9, count=2))
        try:
            r = recv_exact(c, 13)
        except (AssertionError, ConnectionResetError, socket.timeout):
            return False
        return r[:9] == bytes.fromhex("000900000007010304")


class Api:
    """GET/PATCH over the plain-HTTP API (sc-sim --http-api-plain)."""

    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        hdr = {"Authorization": "Basic " + __import__("base64").b64encode(("user:" + PW).encode()).decode()}
        if body is not None:
            hdr["Content-Type"] = "application/json"
        c.request(method, path, body=body, headers=hdr)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if data else None

    def counters(self):
        return self.call("GET", "/sim/v1/state")[1]["Status"]["Counters"]


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-faults-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def broker(self, **kw):
        b = brokertest.Broker(self.dir, **kw)
        self.addCleanup(b.close)
        return b

    def subscriber(self, port, topic="#"):
        s = brokertest.Subscriber(port, topic)
        self.addCleanup(s.close)
        return s


class BrokerFaults(Base):
    def test_broker_killed_and_restarted_three_times(self):
        b = self.broker()
        with Sim("--mqtt", "tcp://127.0.0.1:%d" % b.port, "--mqtt-reconnect-max", "0.5",
                 "--counters-interval", "1") as sim:
            sim.wait_for(r"mqtt: connected")
            for cycle in range(3):
                b.proc.kill()  # SIGKILL: no goodbye to the clients
                b.proc.wait(10)
                wait_until(lambda: sum("mqtt: connection lost" in l or "lost" in l for l in sim.lines)
                           >= cycle + 1, timeout=20)
                # The device serves Modbus all through the outage.
                self.assertTrue(modbus_read_ok(sim.port))
                b.start()
                wait_until(lambda: sum("mqtt: connected" in l for l in sim.lines) >= cycle + 2,
                           timeout=20)
                # And publishes again: a power_instant reaches a new subscriber.
                sub = self.subscriber(b.port)
                sub.until(lambda m: m[0].endswith("power_instant"), timeout=20)
                sub.close()
            sub = self.subscriber(b.port)
            got = sub.until(lambda m: m[0].endswith("device_counters"), timeout=20)
            counters = json.loads(got[-1][1])
            self.assertEqual(counters["mqtt_event_connect"], 4)
            self.assertGreaterEqual(counters["mqtt_event_errors"], 3)
            self.assertEqual(sim.stop(), 0)


class ModbusFaults(Base):
    def test_1000_connects_and_disconnects(self):
        with Sim("--source", "gen:dsmr50") as sim:
            wait_until(lambda: modbus_read_ok(sim.port), 15)
            before = rss_kib(sim.proc.pid)
            errors = 0
            for i in range(1000):
                with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as c:
                    c.sendall(read_req(i))
                    r = recv_exact(c, 9 + 60)
                    if r[:2] != i.to_bytes(2, "big") or r[7] != 3 or r[8] != 60:
                        errors += 1
            self.assertEqual(errors, 0)
            self.assertTrue(modbus_read_ok(sim.port))
            if not SANITIZED:
                self.assertLess(rss_kib(sim.proc.pid) - before, 512, "RSS grew over 1000 connections")
            self.assertIsNone(sim.proc.poll())

    def test_client_killed_mid_request_frees_the_slot(self):
        with Sim("--source", "gen:dsmr50") as sim:
            wait_until(lambda: modbus_read_ok(sim.port), 15)
            # A client process that sends half a request and is killed -9.
            script = ("import socket,sys,time\n"
                      "c=socket.create_connection(('127.0.0.1',%d))\n"
                      "c.sendall(bytes.fromhex('0001000000060103'))\n"
                      "print('sent',c.getsockname()[1],flush=True)\n"
                      "time.sleep(600)\n" % sim.port)
            since = sim.mark()  # the port may be one an earlier read used
            child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
            try:
                said = child.stdout.readline().split()
                self.assertEqual(said[0], b"sent")
                peer = r"modbus: client 127\.0\.0\.1:%d " % int(said[1])
                sim.wait_for(peer + "connected", since=since)
                child.send_signal(signal.SIGKILL)
                child.wait(10)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                child.stdout.close()
            # That client's close (the reads before it closed theirs too).
            sim.wait_for(peer + r"closed \(closed by the client\)", since=since)
            # The one slot is free again at once, no idle timeout needed.
            self.assertTrue(modbus_read_ok(sim.port))

    def test_silent_client_holds_the_slot_until_the_idle_timeout(self):
        with Sim("--source", "gen:dsmr50", "--modbus-idle-timeout", "1") as sim:
            wait_until(lambda: modbus_read_ok(sim.port), 15)
            since = sim.mark()
            silent = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
            self.addCleanup(silent.close)
            sim.wait_for(r"modbus: client 127\.0\.0\.1:%d connected" % silent.getsockname()[1], since=since)
            # While it holds the slot, another client is refused ...
            self.assertFalse(modbus_read_ok(sim.port))
            # ... and once the idle timeout has closed it, served.
            sim.wait_for(r"modbus: client 127\.0\.0\.1:%d closed \(idle timeout\)"
                         % silent.getsockname()[1], since=since)
            self.assertTrue(modbus_read_ok(sim.port))
            self.assertEqual(silent.recv(10), b"", "the silent client was closed")


def can_mount_namespaces():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return False
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                          capture_output=True).returncode == 0


@unittest.skipUnless(can_mount_namespaces(), "needs root and mount namespaces")
class StateDirFaults(Base):
    """sc-sim in a mount namespace of its own with its state directory on a
    small tmpfs; the test reaches into it through /proc/PID/root."""

    def start(self):
        state = os.path.join(self.dir, "state")
        os.mkdir(state)
        wrap = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"', state]
        sim = Sim("--source", "gen:dsmr50", "--password", PW, "--state-dir", state,
                  "--http-api-plain", wrap=wrap)
        self.addCleanup(sim.__exit__)
        self.state = state
        self.inside = "/proc/%d/root%s" % (sim.proc.pid, state)
        self.api = Api(sim.http_port)
        self.sim = sim
        self.assertEqual(self.api.call("PATCH", "/api/v1/config", '{"MQTT":{"Site":"before"}}')[0], 200)
        self.saved = self.saved_files()
        self.assertTrue(self.saved, "nothing saved in the state directory")
        return sim

    def saved_files(self):
        out = {}
        for name in sorted(os.listdir(self.inside)):
            p = os.path.join(self.inside, name)
            if os.path.isfile(p) and name != "fill":
                with open(p, "rb") as f:
                    out[name] = f.read()
        return out

    def refused_and_kept(self):
        st, body = self.api.call("PATCH", "/api/v1/config", '{"MQTT":{"Site":"after"}}')
        self.assertEqual(st, 500, body)
        self.assertIn("could not be saved", body["error"])
        # The running configuration is kept, the saved one untouched.
        self.assertEqual(self.api.call("GET", "/api/v1/config")[1]["MQTT"]["Site"], "before")
        self.assertEqual(self.saved_files(), self.saved)
        # The log says why; its line may reach the test's reader after the
        # answer did, so it is waited for (with a deadline).
        self.sim.wait_for(r"could not be saved|cannot save|No space|Read-only", timeout=10)
        self.assertTrue(modbus_read_ok(self.sim.port))

    def saved_again(self):
        st, body = self.api.call("PATCH", "/api/v1/config", '{"MQTT":{"Site":"after"}}')
        self.assertEqual(st, 200, body)
        self.assertIn(b'"after"', b"".join(self.saved_files().values()))

    def test_state_dir_full(self):
        self.start()
        fill = os.path.join(self.inside, "fill")
        with open(fill, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        self.refused_and_kept()
        os.unlink(fill)
        self.saved_again()

    def test_state_dir_read_only(self):
        sim = self.start()
        ns = "/proc/%d/ns/mnt" % sim.proc.pid
        subprocess.run(["nsenter", "--mount=" + ns, "mount", "-o", "remount,ro", self.state], check=True)
        self.refused_and_kept()
        subprocess.run(["nsenter", "--mount=" + ns, "mount", "-o", "remount,rw", self.state], check=True)
        self.saved_again()


class ClockSteps(Base):
    def test_wall_clock_stepped_forwards_and_backwards(self):
        """An NTP step of the host clock: sc-sim's device clock follows the
        monotonic clock from its start, so telegrams keep their cadence, the
        device time does not jump and every service keeps answering."""
        self.assertTrue(os.path.exists(FAKETIME),
                        "needs libfaketime (Debian package faketime, scripts/setup.sh)")
        offset = os.path.join(self.dir, "faketime")
        with open(offset, "w") as f:
            f.write("+0\n")
        env = dict(os.environ, LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=offset,
                   FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_DONT_RESET="1")
        if SANITIZED:
            # libfaketime is preloaded ahead of the ASan runtime, which
            # otherwise refuses to start.
            env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
        with Sim("--source", "gen:dsmr50", "--password", PW, "--http-api-plain", env=env) as sim:
            api = Api(sim.http_port)

            def meter():
                return api.call("GET", "/sim/v1/state")[1]["Status"]["Meter"]
            wait_until(lambda: api.counters()["telegrams_pass"] >= 2, 15)
            for step in ("+3600", "-7200", "+0"):
                n0, ts0 = api.counters()["telegrams_pass"], meter()["LastTelegramTs"]
                wall0 = time.monotonic()
                with open(offset, "w") as f:
                    f.write(step + "\n")
                wait_until(lambda: api.counters()["telegrams_pass"] >= n0 + 3, 20)
                ts1 = meter()["LastTelegramTs"]
                elapsed = time.monotonic() - wall0
                # Device time moved as the monotonic clock did, not by the step.
                self.assertGreaterEqual(ts1 - ts0, 2, step)
                self.assertLess(ts1 - ts0, elapsed + 5, "device time jumped with %s" % step)
                self.assertTrue(modbus_read_ok(sim.port), step)
            self.assertEqual(api.counters()["telegrams_fail"], 0)
            self.assertEqual(sim.stop(), 0)


class Load(Base):
    def test_a_million_modbus_requests_from_one_client(self):
        """Pipelined in windows of 100, each reply checked (transaction id,
        function, byte count); RSS sampled every 100,000."""
        total, window = 1_000_000, 100
        with Sim("--source", "gen:dsmr50") as sim:
            wait_until(lambda: modbus_read_ok(sim.port), 15)
            c = socket.create_connection(("127.0.0.1", sim.port), timeout=30)
            self.addCleanup(c.close)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reply_len = 9 + 60
            errors, done, rss = 0, 0, []
            while done < total:
                n = min(window, total - done)
                c.sendall(b"".join(read_req((done + k) & 0xFFFF) for k in range(n)))
                data = recv_exact(c, n * reply_len)
                for k in range(n):
                    r = data[k * reply_len:(k + 1) * reply_len]
                    if r[:2] != ((done + k) & 0xFFFF).to_bytes(2, "big") or r[6:9] != b"\x01\x03\x3c":
                        errors += 1
                done += n
                if done % 100_000 == 0:
                    rss.append(rss_kib(sim.proc.pid))
            self.assertEqual(errors, 0)
            print("modbus: %d requests, 0 errors, RSS KiB every 100k: %s" % (done, rss), file=sys.stderr)
            if not SANITIZED:
                self.assertLessEqual(max(rss[1:]) - rss[1], 256, "RSS grew: %s" % rss)
            self.assertIsNone(sim.proc.poll())

    def test_ten_thousand_authenticated_https_requests(self):
        with Sim("--source", "gen:dsmr50", "--password", PW) as sim:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            auth = {"Authorization": "Basic " + __import__("base64").b64encode(("user:" + PW).encode()).decode()}
            c = http.client.HTTPSConnection("127.0.0.1", sim.https_port, context=ctx, timeout=10)
            self.addCleanup(c.close)
            lat, rss, bad = [], [], 0
            for i in range(10_000):
                path = ("/api/v1/status", "/api/v1/config", "/api/v1/telegram")[i % 3]
                t0 = time.perf_counter()
                c.request("GET", path, headers=auth)
                r = c.getresponse()
                body = r.read()
                lat.append(time.perf_counter() - t0)
                if r.status != 200 or not body:
                    bad += 1
                if i % 1000 == 999:
                    rss.append(rss_kib(sim.proc.pid))
            self.assertEqual(bad, 0)
            lat.sort()
            print("https: 10000 authenticated requests, p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
                  "RSS KiB every 1000: %s" % (lat[5000] * 1e3, lat[9900] * 1e3, lat[-1] * 1e3, rss),
                  file=sys.stderr)
            if not SANITIZED:
                self.assertLessEqual(max(rss[2:]) - rss[1], 256, "RSS grew: %s" % rss)

    def test_an_hour_at_1_hz_loses_no_publish(self):
        """3,600 telegrams of device time at --speed 100 to a real mosquitto:
        a power_instant for every second, none missing or repeated."""
        b = self.broker()
        sub = self.subscriber(b.port, "devices/+/+/data/power_instant")
        start = 1764547200
        with Sim("--mqtt", "tcp://127.0.0.1:%d" % b.port, "--speed", "100", "--start", str(start)) as sim:
            sim.wait_for(r"mqtt: connected")
            seen = set()

            def enough(m):
                seen.add(json.loads(m[1])["ts"])
                return len(seen) >= 3601
            sub.until(enough, timeout=600)
            sim.stop()
        first = min(seen)
        self.assertLessEqual(first - start, 5, "the first publishes came late")
        missing = [t for t in range(first, first + 3600) if t not in seen]
        self.assertEqual(missing, [], "%d seconds without a power_instant" % len(missing))

    def test_a_day_at_full_speed_with_flat_rss(self):
        with Sim("--source", "gen:dsmr50", "--speed", "100000", "--password", PW, "--http-api-plain") as sim:
            api = Api(sim.http_port)
            rss = []
            for mark in (8640, 21600, 43200, 64800, 86400):
                wait_until(lambda: api.counters()["telegrams_pass"] >= mark, 600, step=0.05)
                rss.append(rss_kib(sim.proc.pid))
            self.assertEqual(api.counters()["telegrams_fail"], 0)
            print("day at --speed 100000: RSS KiB at 10/25/50/75/100 %%: %s" % rss, file=sys.stderr)
            if not SANITIZED:
                self.assertLessEqual(max(rss) - rss[0], 256, "RSS grew: %s" % rss)
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
