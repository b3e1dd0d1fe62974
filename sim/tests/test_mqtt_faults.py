"""MQTT faults that must not freeze the device or MQTT itself.

A DNS server that never answers (root: sc-sim runs in a mount namespace of
its own whose /etc/resolv.conf names a silent UDP server on a loopback
address): the broker's name is resolved off the event loop, each attempt
fails after 5 s with "cannot resolve NAME: no answer within 5 s", and Modbus
answers every request meanwhile.

A broker that never acknowledges QoS 1 (a small MQTT server of the test's
own: CONNACK and PINGRESP, never a PUBACK): the stall is detected, logged,
shown in Status.MQTT.LastError, and the client reconnects and publishes on;
no publish is ever sent again (no DUP flag: clean session, see
docs/developer/decisions.md).

A fleet whose broker is a name (root, as above, with a DNS server of the
test's own that answers slowly): the devices that start together share one
lookup of the name, not one each, and every device connects.
"""

import base64
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
from dnstest import SilentDns, SlowDns, resolv_conf_wrap  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

SILENT_DNS = "127.0.0.77"
SLOW_DNS = "127.0.0.78"


def modbus_read(port, tid, timeout):
    """One read of two registers; True when answered within timeout."""
    req = tid.to_bytes(2, "big") + b"\x00\x00\x00\x06\x01\x03\x80\x06\x00\x02"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
            c.sendall(req)
            got = b""
            while len(got) < 13:
                chunk = c.recv(13 - len(got))
                if not chunk:
                    return False
                got += chunk
            return got[:2] == req[:2] and got[7] == 3
    except OSError:
        return False


def is_root():
    return os.geteuid() == 0


class SilentDnsServer(unittest.TestCase):
    def test_modbus_answers_while_the_broker_name_never_resolves(self):
        self.assertTrue(is_root(), "this test (label root) needs root: mount namespaces, port 53")
        self.assertTrue(shutil.which("unshare"), "unshare (util-linux) is needed")
        d = tempfile.mkdtemp(prefix="sc-mqtt-faults-")
        self.addCleanup(shutil.rmtree, d, True)
        dns = SilentDns(SILENT_DNS)
        self.addCleanup(dns.close)
        wrap = resolv_conf_wrap(d, SILENT_DNS)
        sim = Sim("--source", "gen:dsmr50", "--mqtt", "tcp://broker.invalid.example:1883",
                  "--mqtt-reconnect-min", "0.5", "--mqtt-reconnect-max", "0.5",
                  wrap=wrap, timeout=15)
        self.addCleanup(sim.__exit__)
        wait_until(lambda: dns.queries > 0, timeout=10)
        # 15 s of requests, each given 2 s: a loop blocked in getaddrinfo
        # (10 s per attempt here) leaves most of them unanswered.
        answered = unanswered = 0
        end = time.monotonic() + 15
        tid = 1
        while time.monotonic() < end:
            if modbus_read(sim.port, tid, timeout=2):
                answered += 1
            else:
                unanswered += 1
            tid = tid % 60000 + 1
            time.sleep(0.05)
        self.assertEqual(unanswered, 0, "%d of %d Modbus requests unanswered" %
                         (unanswered, answered + unanswered))
        self.assertGreater(answered, 20)
        sim.wait_for(r"cannot resolve broker\.invalid\.example: no answer within 5 s", timeout=10)
        self.assertGreater(dns.queries, 0, "the name was asked of the silent server")
        self.assertIsNone(sim.proc.poll(), "sc-sim still runs")


class FleetBrokerByName(unittest.TestCase):
    DEVICES = 60

    def test_devices_starting_together_share_one_lookup_and_all_connect(self):
        self.assertTrue(is_root(), "this test (label root) needs root: mount namespaces, port 53")
        self.assertTrue(shutil.which("unshare"), "unshare (util-linux) is needed")
        d = tempfile.mkdtemp(prefix="sc-mqtt-faults-")
        self.addCleanup(shutil.rmtree, d, True)
        broker = brokertest.Broker(d)
        self.addCleanup(broker.close)
        name = "broker.fleet.test"
        # Two seconds for each answer: every device asks while the first
        # lookup still waits.
        dns = SlowDns(SLOW_DNS, {name: "127.0.0.1"}, delay=2.0)
        self.addCleanup(dns.close)
        sim = Sim("--devices", str(self.DEVICES), "--modbus-base-port", "0", "--password", "pw",
                  "--mqtt", "mqtt://%s:%d" % (name, broker.port),
                  wrap=resolv_conf_wrap(d, SLOW_DNS), ready=False)
        self.addCleanup(sim.__exit__)
        line = sim.wait_for(r"ready: fleet of", timeout=30)
        port = int(re.search(r"\bhttp [\d.]+:(\d+)", line).group(1))

        def status():
            req = urllib.request.Request("http://127.0.0.1:%d/fleet/v1/status" % port)
            req.add_header("Authorization", "Basic " + base64.b64encode(b"user:pw").decode())
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        doc = wait_until(lambda: (lambda s: s if s["MQTT"]["Connected"] == self.DEVICES else None)(status()),
                         timeout=30)
        # One lookup (glibc asks for A and AAAA) for all the devices, not one each.
        self.assertEqual(dns.count(name, 1), 1, dns.queries)
        self.assertLessEqual(dns.count(name, 28), 1, dns.queries)
        self.assertEqual(doc["MQTT"]["NameLookups"], 1, doc["MQTT"])
        self.assertIsNone(sim.proc.poll(), "sc-sim still runs")


def read_packet(conn):
    """(first byte, body) of one MQTT packet, or None when closed."""
    first = conn.recv(1)
    if not first:
        return None
    length, mult = 0, 1
    while True:
        b = conn.recv(1)
        if not b:
            return None
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return first[0], body


class SilentAckBroker:
    """Accepts connections, answers CONNECT and PINGREQ, never PUBACK.
    Records each connection's publishes: (dup flag, qos, packet id, topic,
    payload)."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                pubs = []
                self.conns.append(pubs)
                self.socks.append(c)
            threading.Thread(target=self._serve, args=(c, pubs), daemon=True).start()

    def _serve(self, c, pubs):
        try:
            while True:
                p = read_packet(c)
                if p is None:
                    return
                kind, body = p
                if kind >> 4 == 1:      # CONNECT
                    c.sendall(b"\x20\x02\x00\x00")
                elif kind >> 4 == 12:   # PINGREQ
                    c.sendall(b"\xd0\x00")
                elif kind >> 4 == 3:    # PUBLISH: kept, never acknowledged
                    qos = (kind >> 1) & 3
                    tl = int.from_bytes(body[:2], "big")
                    topic = body[2:2 + tl].decode()
                    rest = body[2 + tl:]
                    pid = int.from_bytes(rest[:2], "big") if qos else None
                    payload = rest[2:] if qos else rest
                    with self.lock:
                        pubs.append((bool(kind & 8), qos, pid, topic, payload))
                elif kind >> 4 == 14:   # DISCONNECT
                    return
        except OSError:
            return
        finally:
            c.close()

    def snapshot(self):
        with self.lock:
            return [list(p) for p in self.conns]

    def close(self):
        self.srv.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class NoPuback(unittest.TestCase):
    def test_stall_detected_shown_and_resumed_without_duplicates(self):
        b = SilentAckBroker()
        self.addCleanup(b.close)
        state = tempfile.mkdtemp(prefix="sc-mqtt-faults-")
        self.addCleanup(shutil.rmtree, state, True)
        sim = Sim("--source", "gen:dsmr50", "--password", "faults-pw-1", "--state-dir", state,
                  "--http-api-plain", "--mqtt", "tcp://127.0.0.1:%d" % b.port,
                  "--mqtt-qos", "1", "--mqtt-keepalive", "5",
                  "--mqtt-reconnect-min", "2", "--mqtt-reconnect-max", "2")
        self.addCleanup(sim.__exit__)
        sim.wait_for(r"mqtt: connected")
        api = simtest_api(sim.http_port)
        # Twice the keep-alive (10 s) without a PUBACK: stalled.
        def stalled():
            doc = api()
            return doc if "stalled" in doc["Status"]["MQTT"]["LastError"] else None
        seen = wait_until(stalled, timeout=30, step=0.05)
        self.assertIn("no PUBACK within 10 s", seen["Status"]["MQTT"]["LastError"])
        self.assertNotEqual(seen["Twin"]["MQTT"]["State"], "connected")
        sim.wait_for(r"mqtt: .*stalled: no PUBACK within 10 s", timeout=5)
        # Reconnected and publishing again on a new connection.
        wait_until(lambda: len(b.snapshot()) >= 2 and len(b.snapshot()[1]) > 0, timeout=20)
        conns = b.snapshot()
        self.assertGreater(len(conns[0]), 0)
        pubs = [p for c in conns for p in c]
        self.assertTrue(all(p[1] == 1 for p in pubs), "all QoS 1")
        self.assertFalse([p for p in pubs if p[0]], "no publish sent again (DUP)")
        stalls = [l for l in sim.lines if "stalled: no PUBACK" in l]
        self.assertEqual(len(stalls), 1, "one stall logged once: %s" % stalls)
        # The unacknowledged publishes went with the connection: said and counted.
        said = sim.wait_for(r"mqtt: .*: \d+ publish(es)? lost with the connection", timeout=5)
        lost = int(re.search(r": (\d+) publish(es)? lost with the connection", said).group(1))
        self.assertGreaterEqual(lost, 1, said)
        self.assertGreaterEqual(api()["Twin"]["MQTT"]["Dropped"]["LostWithConnection"], lost)
        self.assertIsNone(sim.proc.poll(), "sc-sim still runs")

    def test_a_broker_that_does_not_keep_up_gets_publishes_refused_counted_and_said(self):
        # Twenty telegrams a second, none acknowledged: the QoS 1 window (32)
        # fills within two seconds and each publish beyond it is refused.
        b = SilentAckBroker()
        self.addCleanup(b.close)
        state = tempfile.mkdtemp(prefix="sc-mqtt-faults-")
        self.addCleanup(shutil.rmtree, state, True)
        sim = Sim("--source", "gen:dsmr50", "--speed", "20", "--password", "faults-pw-1",
                  "--state-dir", state, "--http-api-plain", "--mqtt",
                  "tcp://127.0.0.1:%d" % b.port, "--mqtt-qos", "1", "--mqtt-keepalive", "60")
        self.addCleanup(sim.__exit__)
        sim.wait_for(r"mqtt: connected")
        api = simtest_api(sim.http_port)
        doc = wait_until(lambda: (lambda d: d if d["Twin"]["MQTT"]["Dropped"]["Refused"] >= 3
                                  else None)(api()), timeout=30, step=0.05)
        sim.wait_for(r"mqtt: .* does not keep up: publishes are dropped while 32 messages "
                     r"or 256 KiB wait", timeout=5)
        m = doc["Twin"]["MQTT"]
        self.assertEqual(m["State"], "connected")
        self.assertEqual(m["Sent"], 0, "nothing acknowledged")
        self.assertEqual(m["InFlight"], 32, "the window, full")
        self.assertEqual(m["Dropped"]["LostWithConnection"], 0)
        # device_counters' mqtt_send_fail is the sum of the ways.
        doc = api()
        self.assertEqual(doc["Status"]["Counters"]["mqtt_send_fail"],
                         sum(doc["Twin"]["MQTT"]["Dropped"].values()))
        warned = [l for l in sim.lines if "does not keep up" in l]
        self.assertEqual(len(warned), 1, "said once while it lasts: %s" % warned)
        self.assertIsNone(sim.proc.poll(), "sc-sim still runs")


def simtest_api(port):
    import base64
    import http.client
    import json

    def get():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        auth = base64.b64encode(b"user:faults-pw-1").decode()
        c.request("GET", "/sim/v1/state", headers={"Authorization": "Basic " + auth})
        r = c.getresponse()
        data = r.read()
        c.close()
        assert r.status == 200, "GET /sim/v1/state: %d" % r.status
        return json.loads(data)
    return get


if __name__ == "__main__":
    unittest.main()
