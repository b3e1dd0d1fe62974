"""A replay at --speed max loses no power_instant to a broker that does not
keep up: the twin's MQTT client keeps at most 32 messages or 256 KiB waiting
(a device at real time drops beyond that), but in virtual time nothing
forces a drop, so virtual time waits while the twin's output is backed up.

The broker is a real mosquitto behind a proxy that stops reading from the
twin for a while (a broker that has stopped taking): the proxy goes on
again once the twin's device time has run on far beyond what any buffer
holds (a replay that does not wait, which drops), or has stood still (a
replay that waits). Either way every telegram's message must arrive, and
the bench's own subscriber must take the backlog the broker then sends at
once whole (test_dut_mqtt checks that on its own)."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402

SC_SIM = simtest.SC_SIM
TELEGRAMS = 30000
# Device seconds (a telegram each) the twin must not get ahead of a broker
# that takes nothing: far more messages than the socket buffers and the
# client's own hold (a few MB, some 600 bytes each).
AHEAD = 15000


class Proxy:
    """TCP proxy from a listening port to the broker; the twin-to-broker
    direction stops reading while paused."""

    def __init__(self, broker_port):
        self.broker_port = broker_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.running = threading.Event()
        self.running.set()
        self.forwarded = 0
        self.closed = False
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.broker_port))
            self.socks += [down, up]
            threading.Thread(target=self._pump, args=(down, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, False), daemon=True).start()

    def _pump(self, src, dst, from_twin):
        try:
            while True:
                if from_twin:
                    self.running.wait()
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if from_twin:
                    self.forwarded += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.running.set()
        self.listener.close()
        for s in self.socks:
            s.close()


def device_time(http_port):
    with urllib.request.urlopen("http://127.0.0.1:%d/sim/v1/state" % http_port,
                                timeout=30) as r:
        return json.load(r)["Twin"]["Clock"]["DeviceTime"]


class ReplayWaitsForTheBroker(unittest.TestCase):
    def test_a_broker_that_stops_taking_loses_nothing(self):
        d = tempfile.mkdtemp(prefix="replay-mqtt-")
        broker = brokertest.Broker(d)
        self.addCleanup(broker.close)
        proxy = Proxy(broker.port)
        self.addCleanup(proxy.close)
        path = os.path.join(d, "day.json")
        with open(path, "w") as f:
            json.dump({"scenario": 1, "name": "broker-stops-taking",
                       "meter": {"protocol": "dsmr50", "profile": "pv-ev", "seed": 3,
                                 "start": 1751320800},
                       "steps": [{"at": 0, "telegrams": {"count": TELEGRAMS}},
                                 {"at": TELEGRAMS - 1,
                                  "expect": [{"mqtt": {"fields": "telegram"}}]}]}, f)
        ready = os.path.join(d, "ready.json")
        proc = subprocess.Popen([SC_SIM, "--scenario", path, "--speed", "max", "--mqtt",
                                 "tcp://127.0.0.1:%d" % proxy.port, "--ready-file", ready],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 60
        while not os.path.exists(ready):
            self.assertIsNone(proc.poll(), "sc-sim exited before it was ready")
            self.assertLess(time.monotonic(), deadline, "no ready file")
            time.sleep(0.02)
        with open(ready) as f:
            http_port = json.load(f)["http"]
        # Publishing under way, then the broker stops taking.
        while proxy.forwarded < 20000:
            self.assertIsNone(proc.poll(), "sc-sim exited before it published")
            self.assertLess(time.monotonic(), deadline, "the twin published nothing")
            time.sleep(0.005)
        proxy.running.clear()
        t0 = device_time(http_port)
        last, still_since = t0, time.monotonic()
        deadline = time.monotonic() + 120
        while True:
            self.assertLess(time.monotonic(), deadline, "device time neither ran on nor stopped")
            now = device_time(http_port)
            if now - t0 >= AHEAD:
                break  # it did not wait: what is beyond the buffers is lost
            if now != last:
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= 1.0:
                break  # it waits for the broker
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        proxy.running.set()
        out, _ = proc.communicate(timeout=300)
        self.assertEqual(proc.returncode, 0, out[-3000:])
        self.assertIn("%d delivered, 0 lost" % TELEGRAMS, out)
        # The device dropped none either, in any of the ways it counts.
        self.assertRegex(out, r"the device's mqtt: \d+ sent, 0 failed \(0 dropped while not "
                              r"connected, 0 refused, 0 lost with the connection\)")
        self.assertNotIn("the bench's subscriber", out)


if __name__ == "__main__":
    unittest.main()
