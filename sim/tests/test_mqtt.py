"""sc-sim's MQTT client against a real mosquitto broker started by each test
on a free loopback port, read by a real subscriber (paho): payloads field by
field, topics, user name and password, TLS, mutual TLS, a far-off device
clock, a broker outage, and device_counters."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

GEN = os.path.join(simtest.SOURCE, "corpus")
SERIAL = "E8DB84ABCDEF"


def close_to(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = brokertest.tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def broker(self, **kw):
        b = brokertest.Broker(self.dir, **kw)
        self.addCleanup(b.close)
        return b

    def subscriber(self, port, topic="#", **kw):
        s = brokertest.Subscriber(port, topic, **kw)
        self.addCleanup(s.close)
        return s

    def payloads(self, sub, topic_suffix, n, timeout=20):
        """The next n payloads on topics ending in topic_suffix, as dicts."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "only %d of %d messages" % (len(out), n))
            try:
                topic, payload, _ = sub.get(timeout=left)
            except Exception:
                continue
            if topic.endswith(topic_suffix):
                out.append((topic, json.loads(payload)))
        return out


class Payloads(Base):
    """Each telegram of a capture gives one power_instant message whose
    fields are the values computed from the telegram (SMART-CONNECT.md §7),
    null where the telegram has none."""

    def check(self, capture, values_of):
        with open(capture, "rb") as f:
            data = f.read()
        tels = simtest.split_telegrams(data)
        b = self.broker()
        sub = self.subscriber(b.port, "devices/#")
        with Sim("--source", "stdin", "--serial-number", SERIAL, "--site", "home",
                 "--mqtt", "mqtt://127.0.0.1:%d" % b.port, stdin_pipe=True) as sim:
            sim.wait_for(r"mqtt: connected")
            sim.proc.stdin.write(data)
            sim.proc.stdin.flush()
            msgs = self.payloads(sub, "/data/power_instant", len(tels))
            for (topic, p), tel in zip(msgs, tels):
                self.assertEqual(topic, "devices/home/smart-connect/%s/data/power_instant" % SERIAL)
                want = values_of(tel)
                self.check_payload(p, want)
            self.assertEqual(sim.stop(), 0)
        return msgs

    def check_payload(self, p, want):
        totals = ["P", "P+", "P-", "E_IMPORT", "E_EXPORT", "U12", "U31", "U32", "Q", "Q+", "Q-",
                  "EQ1", "EQ2", "EQ3", "EQ4", "PF", "S", "PFAIL", "LPFAIL"]
        phase = ["U", "I", "P", "P+", "P-", "Q", "Q+", "Q-", "S", "VSAGS", "VSWELLS"]
        self.assertEqual(sorted(p), sorted(totals + ["ts", "l1", "l2", "l3"]))
        for k in totals:
            if k in want:
                self.assertIsNotNone(p[k], k)
                self.assertTrue(close_to(p[k], want[k]), "%s: %s != %s" % (k, p[k], want[k]))
            else:
                self.assertIsNone(p[k], "%s should be null" % k)
        for n in (1, 2, 3):
            ph = p["l%d" % n]
            self.assertEqual(sorted(ph), sorted(phase))
            for k in phase:
                key = "l%d.%s" % (n, k)
                if key in want:
                    self.assertTrue(close_to(ph[k], want[key]), "%s: %s != %s" % (key, ph[k], want[key]))
                else:
                    self.assertIsNone(ph[k], "%s should be null" % key)
        self.assertIsInstance(p["ts"], int)

    def test_dsmr50(self):
        self.check(os.path.join(GEN, "p1/gen-dsmr50-pv-ev-seed42.p1"), simtest.p1_values)

    def test_dsmr42_voltages_are_null(self):
        msgs = self.check(os.path.join(GEN, "p1/gen-dsmr42-pv-ev-seed42.p1"), simtest.p1_values)
        for _, p in msgs:
            self.assertIsNone(p["l1"]["U"])

    def test_emucs(self):
        msgs = self.check(os.path.join(GEN, "p1/gen-emucs-pv-ev-seed42.p1"), simtest.p1_values)
        self.assertTrue(any(p["l1"]["I"] != int(p["l1"]["I"]) for _, p in msgs),
                        "decimal currents")

    def test_tic_export(self):
        msgs = self.check(os.path.join(GEN, "tic/gen-tic-mono-producer-hchp-pv.tic"),
                          simtest.tic_values)
        exporting = [p for _, p in msgs if p["P"] < 0]
        self.assertTrue(exporting)
        for p in exporting:
            self.assertEqual(p["l1"]["P"], 0)

    def test_field_capture_am550(self):
        path = simtest.field_capture("p1", "dsmr50-iskra-am550-566-telegrams.p1")
        msgs = self.check(path, simtest.p1_values)
        self.assertEqual(len(msgs), 566)
        # ts is the telegram's own time (W = UTC+1): 2019-03-24 15:05:19.
        self.assertEqual(msgs[0][1]["ts"], 1553436319)


class Topics(Base):
    def topic_of(self, *args):
        b = self.broker()
        sub = self.subscriber(b.port)
        tel = subprocess.run([os.path.join(simtest.BUILD, "sim", "sc-telegram"), "gen", "--count",
                              "1"], capture_output=True, check=True).stdout
        with Sim("--source", "stdin", "--serial-number", SERIAL, "--mqtt",
                 "tcp://127.0.0.1:%d" % b.port, *args, stdin_pipe=True) as sim:
            sim.wait_for(r"mqtt: connected")
            sim.proc.stdin.write(tel)
            sim.proc.stdin.flush()
            topic, _, _ = sub.get(timeout=10)
            sim.stop()
        return topic

    def test_without_site(self):
        self.assertEqual(self.topic_of(), "devices/smart-connect/%s/data/power_instant" % SERIAL)

    def test_without_site_as_an_empty_level(self):
        self.assertEqual(self.topic_of("--empty-site", "empty"),
                         "devices//smart-connect/%s/data/power_instant" % SERIAL)

    def test_with_site(self):
        self.assertEqual(self.topic_of("--site", "garage-1"),
                         "devices/garage-1/smart-connect/%s/data/power_instant" % SERIAL)

    def test_bad_site_is_a_usage_error(self):
        out = subprocess.run([*simtest.sim_cmd(), "--site", "a/b"], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("one topic level", out.stderr)


class Credentials(Base):
    def test_user_and_password(self):
        b = self.broker(users={"meter": "s3cret"})
        sub = self.subscriber(b.port, username="meter", password="s3cret")
        with Sim("--mqtt", "tcp://127.0.0.1:%d" % b.port, "--mqtt-user", "meter",
                 "--mqtt-password", "s3cret", "--mqtt-plaintext-ok", "--serial-number", SERIAL) as sim:
            sim.wait_for(r"mqtt: connected")
            topic, payload, _ = sub.get(timeout=10)
            self.assertTrue(topic.endswith("/power_instant"))
            self.assertTrue(any("plain text" in l for l in sim.lines), "a warning is logged")
            sim.stop()

    def test_wrong_password_refused_and_counted(self):
        b = self.broker(users={"meter": "s3cret"})
        sub = self.subscriber(b.port, username="meter", password="s3cret")
        with Sim("--mqtt", "tcp://127.0.0.1:%d" % b.port, "--mqtt-user", "meter",
                 "--mqtt-password", "wrong", "--mqtt-plaintext-ok", "--mqtt-reconnect-max", "0.2",
                 "--serial-number", SERIAL, "--counters-interval", "1") as sim:
            sim.wait_for(r"bad user name or password|not authorized")
            sim.stop()
            summary = next(l for l in sim.lines if "mqtt:" in l and "connects" in l)
            self.assertIn(" 0 connects", summary)
            errors = int(summary.split(" errors")[0].rsplit(" ", 1)[1])
            self.assertGreaterEqual(errors, 1)
        self.assertTrue(sub.q.empty(), "nothing was published")

    def test_credentials_over_plain_tcp_need_a_flag(self):
        b = self.broker(users={"meter": "s3cret"})
        with Sim("--mqtt", "tcp://127.0.0.1:%d" % b.port, "--mqtt-user", "meter",
                 "--mqtt-password", "s3cret") as sim:
            line = sim.wait_for(r"refusing to send credentials in plain text")
            self.assertIn("--mqtt-plaintext-ok", line)
            self.assertFalse(any("s3cret" in l for l in sim.lines), "no secret in the log")
            sim.stop()


class Tls(Base):
    def setUp(self):
        super().setUp()
        self.pki = brokertest.Pki(self.dir)
        self.server = self.pki.cert("server", "localhost", ["DNS:localhost", "IP:127.0.0.1"])

    def tls_broker(self, cert=None, require_cert=False):
        crt, key = cert or self.server
        return self.broker(tls=(crt, key, self.pki.ca), require_cert=require_cert)

    def sub_for(self, b, client=None):
        crt, key = client or self.pki.cert("sub-%d" % b.port, "test-subscriber")
        return self.subscriber(b.port, tls=(self.pki.ca, crt, key))

    def test_server_verified_against_the_ca(self):
        b = self.tls_broker()
        sub = self.sub_for(b)
        with Sim("--mqtt", "mqtts://localhost:%d" % b.port, "--cafile", self.pki.ca,
                 "--serial-number", SERIAL) as sim:
            sim.wait_for(r"mqtt: connected to mqtts://localhost:%d \(TLS\)" % b.port)
            topic, _, _ = sub.get(timeout=10)
            self.assertIn(SERIAL, topic)
            sim.stop()

    def test_server_of_another_ca_refused(self):
        b = self.tls_broker(cert=self.pki.cert("rogue", "localhost", ["DNS:localhost"],
                                               ca=(self.pki.other_key, self.pki.other_ca)))
        with Sim("--mqtt", "mqtts://localhost:%d" % b.port, "--cafile", self.pki.ca,
                 "--mqtt-reconnect-max", "0.5") as sim:
            line = sim.wait_for(r"mqtt: mqtts://localhost:%d.*TLS" % b.port)
            self.assertIn("certificate verify failed", line)
            self.assertFalse(any("mqtt: connected" in l for l in sim.lines))
            sim.stop()

    def test_server_with_the_wrong_name_refused(self):
        b = self.tls_broker(cert=self.pki.cert("wrongname", "broker.example.net",
                                               ["DNS:broker.example.net"]))
        with Sim("--mqtt", "mqtts://localhost:%d" % b.port, "--cafile", self.pki.ca,
                 "--mqtt-reconnect-max", "0.5") as sim:
            line = sim.wait_for(r"mqtt: mqtts://localhost:%d \(TLS\): TLS: " % b.port)
            self.assertIn("the broker's certificate is not for localhost", line)
            self.assertFalse(any("mqtt: connected" in l for l in sim.lines),
                             "a broker whose certificate names another host is refused")
            sim.stop()

    def test_mutual_tls_with_the_device_certificate(self):
        b = self.tls_broker(require_cert=True)
        dev_crt, dev_key = self.pki.cert("device", SERIAL)
        sub = self.sub_for(b)
        with Sim("--mqtt", "mqtts://localhost:%d" % b.port, "--cafile", self.pki.ca,
                 "--cert", dev_crt, "--key", dev_key, "--serial-number", SERIAL) as sim:
            sim.wait_for(r"mqtt: connected to mqtts://localhost:%d \(mutual TLS\)" % b.port)
            topic, _, _ = sub.get(timeout=10)
            self.assertTrue(topic.startswith("devices/smart-connect/%s/" % SERIAL))
            sim.stop()
        # The broker took the certificate's CN, the serial, as the user.
        self.assertFalse("not authorised" in b.log_text())

    def test_mutual_tls_certificate_of_another_ca_refused(self):
        b = self.tls_broker(require_cert=True)
        crt, key = self.pki.cert("foreign", SERIAL, ca=(self.pki.other_key, self.pki.other_ca))
        with Sim("--mqtt", "mqtts://localhost:%d" % b.port, "--cafile", self.pki.ca,
                 "--cert", crt, "--key", key, "--serial-number", SERIAL,
                 "--mqtt-reconnect-max", "0.5") as sim:
            line = sim.wait_for(r"mqtt: mqtts://localhost:%d \(mutual TLS\): TLS: " % b.port,
                                timeout=20)
            self.assertIn("the broker refused the device certificate", line)
            self.assertFalse(any("mqtt: connected" in l for l in sim.lines))
            sim.stop()

    def test_certificate_cn_not_the_serial_is_warned(self):
        b = self.tls_broker(require_cert=True)
        crt, key = self.pki.cert("other-cn", "SOMEONEELSE")
        with Sim("--mqtt", "mqtts://localhost:%d" % b.port, "--cafile", self.pki.ca,
                 "--cert", crt, "--key", key, "--serial-number", SERIAL) as sim:
            sim.wait_for(r"CN is 'SOMEONEELSE', not the serial number %s" % SERIAL)
            sim.stop()

    def test_device_clock_far_off_fails_tls(self):
        b = self.tls_broker()
        # 2001: long before the test CA was made.
        with Sim("--mqtt", "mqtts://localhost:%d" % b.port, "--cafile", self.pki.ca,
                 "--start", "978307200", "--mqtt-reconnect-max", "0.5") as sim:
            line = sim.wait_for(r"device clock 2001-01-01")
            self.assertIn("needs the right date and time", line)
            self.assertFalse(any("mqtt: connected" in l for l in sim.lines))
            sim.stop()


class Outage(Base):
    def test_broker_restarted_mid_stream(self):
        b = self.broker()
        sub = self.subscriber(b.port)
        with Sim("--mqtt", "tcp://127.0.0.1:%d" % b.port, "--serial-number", SERIAL,
                 "--mqtt-reconnect-max", "0.5", "--counters-interval", "1",
                 "--modbus-clients", "4") as sim:
            sim.wait_for(r"mqtt: connected")
            sub.until(lambda m: m[0].endswith("power_instant"))
            b.stop()
            sub.close()
            sim.wait_for(r"mqtt: .*(connection lost|Connection lost|lost)")
            # Modbus serves throughout: two telegrams' worth of reads.
            c = ModbusTcpClient("127.0.0.1", port=sim.port, timeout=5)
            self.assertTrue(c.connect())
            deadline = time.monotonic() + 2.5
            reads = 0
            while time.monotonic() < deadline:
                self.assertFalse(c.read_holding_registers(0x8006, 50, slave=1).isError())
                reads += 1
            c.close()
            self.assertGreater(reads, 10)
            b.start()
            wait_until(lambda: sum("mqtt: connected" in l for l in sim.lines) >= 2, timeout=20)
            sub2 = self.subscriber(b.port)
            got = sub2.until(lambda m: m[0].endswith("device_counters") and
                             json.loads(m[1])["mqtt_event_connect"] == 2, timeout=20)
            counters = json.loads(got[-1][1])
            self.assertGreaterEqual(counters["mqtt_event_errors"], 1)
            self.assertGreaterEqual(counters["mqtt_send_fail"], 1, "telegrams during the outage")
            sub2.until(lambda m: m[0].endswith("power_instant"))
            # What was dropped while there was no connection is said when
            # the next one is made, and again in the summary at the end.
            again = [l for l in sim.lines if "mqtt: connected" in l][1]
            dropped = re.search(r"\((\d+) publishes dropped while not connected, 0 refused",
                                again)
            self.assertIsNotNone(dropped, again)
            self.assertGreaterEqual(int(dropped.group(1)), 1, again)
            self.assertEqual(sim.stop(), 0)
            summary = [l for l in sim.lines if "mqtt: " in l and " sent, " in l]
            self.assertTrue(summary, "a summary line at the end")
            self.assertRegex(summary[-1], r"mqtt: \d+ sent, \d+ failed \((\d+) dropped while not "
                             r"connected, 0 refused, \d+ lost with the connection\)")


class Counters(Base):
    def test_device_counters_consistent_with_what_was_sent(self):
        b = self.broker()
        sub = self.subscriber(b.port)
        tels = subprocess.run([os.path.join(simtest.BUILD, "sim", "sc-telegram"), "gen", "--count",
                               "7", "--fault", "bad-crc", "--fault-every", "7"],
                              capture_output=True, check=True).stdout
        with Sim("--source", "stdin", "--serial-number", SERIAL, "--mqtt",
                 "tcp://127.0.0.1:%d" % b.port, "--counters-interval", "1",
                 stdin_pipe=True) as sim:
            sim.wait_for(r"mqtt: connected")
            sim.proc.stdin.write(tels)
            sim.proc.stdin.flush()
            got = sub.until(lambda m: m[0].endswith("device_counters") and
                            json.loads(m[1])["telegrams_pass"] == 6 and
                            json.loads(m[1])["mqtt_send_pass"] >= 6, timeout=20)
            sim.stop()
        power = [m for m in got if m[0].endswith("power_instant")]
        before = [m for m in got[:-1] if m[0].endswith("device_counters")]
        c = json.loads(got[-1][1])
        self.assertEqual(len(power), 6)
        self.assertEqual(c["telegrams_pass"], 6)
        self.assertEqual(c["telegrams_fail"], 1)
        self.assertEqual(c["telegrams_frame_fail"], 0)
        self.assertEqual(c["mqtt_event_connect"], 1)
        self.assertEqual(c["mqtt_event_errors"], 0)
        self.assertEqual(c["mqtt_send_fail"], 0)
        self.assertEqual(c["mqtt_send_pass"], len(power) + len(before))
        keys = ["ts", "uptime", "gw_ping_pass", "gw_ping_fail", "internet_ping_pass",
                "internet_ping_fail", "telegrams_pass", "telegrams_fail", "telegrams_frame_fail",
                "mqtt_event_errors", "mqtt_event_connect", "mqtt_send_pass", "mqtt_send_fail",
                "heap_free", "heap_min_free", "heap_largest_free", "heap_failed_allocs"]
        self.assertEqual(list(c), keys, "the manual's keys in its order, ts first")
        self.assertGreaterEqual(c["uptime"], 1)
        self.assertLessEqual(c["heap_min_free"], c["heap_free"])
        self.assertEqual(c["heap_failed_allocs"], 0)


class FakeBroker:
    """A TCP server that speaks as much MQTT as a test wants: what the
    device sends is read, whatever bytes the test chooses go back."""

    def __init__(self, reply):
        import socket
        import threading
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.reply = reply
        self.received = []
        self.connections = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            c.settimeout(5)
            try:
                data = c.recv(4096)
                with self.lock:
                    self.received.append(data)
                c.sendall(self.reply)
                while True:
                    more = c.recv(4096)
                    if not more:
                        break
                    with self.lock:
                        self.received.append(more)
            except OSError:
                pass
            finally:
                c.close()

    def close(self):
        self.srv.close()


class Wire(Base):
    """The loop's own MQTT connection: what it sends, and a broker that
    breaks the protocol or refuses."""

    def fake(self, reply):
        b = FakeBroker(reply)
        self.addCleanup(b.close)
        return b

    def test_connect_and_publish_bytes(self):
        b = self.fake(bytes([0x20, 2, 0, 0]))
        with Sim("--serial-number", SERIAL, "--mqtt", "mqtt://127.0.0.1:%d" % b.port) as sim:
            sim.wait_for(r"mqtt: connected to mqtt://127.0.0.1:%d \(plain\) as %s" % (b.port, SERIAL))
            topic = ("devices/smart-connect/%s/data/power_instant" % SERIAL).encode()
            wait_until(lambda: topic in b"".join(b.received), timeout=10)
            data = b"".join(b.received)
            # CONNECT: protocol MQTT level 4, clean session, keep-alive 60, the serial as id.
            self.assertEqual(data[:2], bytes([0x10, 24]))
            self.assertEqual(data[2:12], b"\0\4MQTT\4\2\0\x3c")
            self.assertEqual(data[12:26], b"\0\x0c" + SERIAL.encode())
            # PUBLISH QoS 0: topic, then the JSON payload to the end of the packet.
            at = data.index(b"\x30", 26)
            rem, mult, i = 0, 1, at + 1
            while True:
                rem += (data[i] & 0x7F) * mult
                mult *= 128
                i += 1
                if data[i - 1] < 0x80:
                    break
            self.assertEqual(data[i:i + 2 + len(topic)], len(topic).to_bytes(2, "big") + topic)
            payload = json.loads(data[i + 2 + len(topic):i + rem])
            self.assertIn("E_IMPORT", payload)

    def test_broken_connack_is_named_and_retried(self):
        b = self.fake(bytes([0x20, 3, 0, 0, 0]))
        with Sim("--mqtt", "mqtt://127.0.0.1:%d" % b.port, "--mqtt-reconnect-max", "0.5") as sim:
            sim.wait_for(r"mqtt: .*protocol error at byte 2: a CONNACK has flags 0 and 2 bytes")
            wait_until(lambda: b.connections >= 3, timeout=15)
            self.assertFalse(any("mqtt: connected" in ln for ln in sim.lines))

    def test_refusal_code_and_garbage(self):
        b = self.fake(bytes([0x20, 2, 0, 5]))
        with Sim("--mqtt", "mqtt://127.0.0.1:%d" % b.port) as sim:
            sim.wait_for(r"mqtt: .*connection refused: not authorized")
        g = self.fake(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        with Sim("--mqtt", "mqtt://127.0.0.1:%d" % g.port) as sim:
            sim.wait_for(r"mqtt: .*protocol error at byte \d+: packet type 4|protocol error")

    def test_broker_that_closes_before_connack(self):
        # The fake reads CONNECT, answers nothing and hangs up after its
        # 5 s read timeout.
        b = self.fake(b"")
        with Sim("--mqtt", "mqtt://127.0.0.1:%d" % b.port) as sim:
            sim.wait_for(r"mqtt: .*the broker closed the connection before CONNACK", timeout=20)


class BrokerPorts(Base):
    """The tests' own mosquitto (brokertest) where another program holds the
    port it picked: started again on a fresh one, and its port held while it
    is stopped."""

    def test_a_taken_port_is_given_up_for_a_fresh_one(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = [taken.getsockname()[1]]
        real = brokertest.free_port

        def first_the_taken_one():
            return picks.pop() if picks else real()
        brokertest.free_port = first_the_taken_one
        try:
            b = self.broker()
        finally:
            brokertest.free_port = real
        self.assertEqual(picks, [])
        self.assertNotEqual(b.port, taken.getsockname()[1])
        self.assertIn("Address already in use", b.log_text())
        sub = self.subscriber(b.port, "t")
        subprocess.run(["mosquitto_pub", "-p", str(b.port), "-t", "t", "-m", "x"], check=True,
                       timeout=30)
        self.assertEqual(sub.get()[1], b"x")

    def test_the_port_is_held_while_stopped(self):
        b = self.broker()
        b.stop()
        other = socket.socket()
        self.addCleanup(other.close)
        with self.assertRaises(OSError):
            other.bind(("127.0.0.1", b.port))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", b.port), timeout=2).close()
        b.start()
        socket.create_connection(("127.0.0.1", b.port), timeout=2).close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
