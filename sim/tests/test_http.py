"""sc-sim's HTTP configuration API as installers' scripts meet it: every
endpoint called with curl over HTTPS (the device's self-signed certificate,
not verified), each test with its own sc-sim on free loopback ports."""

import calendar
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

PW = "s3cret-pw"
SC_TELEGRAM = os.path.join(simtest.BUILD, "sim", "sc-telegram")


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def curl(port, method, path, body=None, user="user", password=PW, source=None, tls=True,
         extra=()):
    """One request with the curl program; the status, headers and body."""
    tmp = tempfile.mkdtemp()
    try:
        hdr, out = os.path.join(tmp, "h"), os.path.join(tmp, "b")
        cmd = ["curl", "-s", "-k", "-X", method, "-D", hdr, "-o", out, "-w", "%{http_code}",
               "--max-time", "20"]
        if user is not None:
            cmd += ["-u", "%s:%s" % (user, password)]
        if source:
            cmd += ["--interface", source]
        if body is not None:
            data = os.path.join(tmp, "d")
            with open(data, "wb") as f:
                f.write(body if isinstance(body, bytes) else body.encode())
            cmd += ["-H", "Content-Type: application/json", "--data-binary", "@" + data]
        cmd += list(extra)
        cmd.append("%s://127.0.0.1:%d%s" % ("https" if tls else "http", port, path))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, "curl failed: %s %s" % (r.returncode, r.stderr)
        headers = {}
        with open(hdr) as f:
            for line in f.read().splitlines()[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
        with open(out, "rb") as f:
            data = f.read()
        return Reply(int(r.stdout), headers, data)
    finally:
        shutil.rmtree(tmp, True)


def gen(*args):
    return subprocess.run([SC_TELEGRAM, "gen", *args], capture_output=True, check=True,
                          timeout=30).stdout


def state(s):
    """The twin's state (/sim/v1/state, its control API, no login)."""
    r = curl(s.https_port, "GET", "/sim/v1/state", user=None)
    assert r.status == 200, r.body
    return r.json()


# The manual's example of GET /api/v1/status (smart-connect-manual-nl-v1.8.txt
# §5.2, "Voorbeeld van een GET-reactie"), as it is printed there.
MANUAL_STATUS = """
{
  "MeterType": "PhoenixContact-EMPro",
  "DefaultNetIf": "WiFi",
  "Ethernet": {
    "IpMode": "Static",
    "StaticIPv4": {
      "IpAddress": "192.168.10.101",
      "Netmask": "24",
      "Gateway": "192.168.10.1",
      "DNS": "192.168.10.1"
    }
  },
  "WiFi": {
    "IpMode": "DHCP"
  },
  "MQTT": {
    "Broker": "mqtt://broker.xemex-cloud.eu:8883",
    "Site": "site",
    "Username": "username",
    "Password": "password"
  }
}
"""


def key_tree(doc):
    """The keys of a document, level by level and in order, values left out:
    [(key, subtree or type name)]."""
    return [(k, key_tree(v) if isinstance(v, dict) else type(v).__name__) for k, v in doc.items()]


class Base(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="sc-http-state-")
        self.addCleanup(shutil.rmtree, self.state, True)

    def sim(self, *args, **kw):
        s = Sim("--password", PW, "--state-dir", self.state, *args, **kw)
        self.addCleanup(s.__exit__)
        return s


class Auth(Base):
    def test_none_wrong_right(self):
        s = self.sim()
        for user, pw in ((None, None), ("user", "wrong"), ("admin", PW), ("user", PW + "x"),
                         ("user", PW[:-1])):
            r = curl(s.https_port, "GET", "/api/v1/config", user=user, password=pw)
            self.assertEqual(r.status, 401, (user, pw))
            self.assertIn("basic", r.headers.get("www-authenticate", "").lower())
            self.assertIn("error", r.json())
        r = curl(s.https_port, "GET", "/api/v1/config")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["MeterType"], "PhoenixContact-EMPro")

    def test_every_device_path_needs_it(self):
        s = self.sim()
        for method, path in (("GET", "/"), ("GET", "/api/v1/config"), ("PATCH", "/api/v1/config"),
                             ("GET", "/api/v1/status"), ("GET", "/api/v1/firmware"),
                             ("POST", "/api/v1/firmware"), ("POST", "/api/v1/reset"),
                             ("GET", "/api/v1/telegram")):
            r = curl(s.https_port, method, path, user=None, body="{}" if method != "GET" else None)
            self.assertEqual(r.status, 401, path)

    def test_generated_password_printed_and_kept(self):
        s = Sim("--state-dir", self.state)
        self.addCleanup(s.__exit__)
        line = s.wait_for(r"http: login: user / ")
        pw = line.split("user / ")[1].split()[0]
        self.assertEqual(len(pw), 8)
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/status", password=pw).status, 200)
        s.stop()
        # The next start keeps the device's password and does not print it.
        s2 = Sim("--state-dir", self.state)
        self.addCleanup(s2.__exit__)
        self.assertEqual(curl(s2.https_port, "GET", "/api/v1/status", password=pw).status, 200)
        self.assertFalse(any("login:" in l for l in s2.lines))

    def test_repeated_failures_are_slowed_down(self):
        s = self.sim()
        for i in range(7):
            self.assertEqual(curl(s.https_port, "GET", "/api/v1/config", password="bad").status, 401)
            delayed = [l for l in s.lines if "repeated failed logins from 127.0.0.1" in l]
            # The sixth and later failures are answered a second late.
            self.assertEqual(len(delayed), max(0, i - 4), s.lines[-3:])
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/config", source="127.0.0.2",
                              ).status, 200, "another address is not slowed")
        self.assertFalse(any("127.0.0.2" in l for l in s.lines if "failed logins" in l))


class Session(Base):
    def test_one_session_at_a_time(self):
        s = self.sim("--session-idle", "2")
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/status").status, 200)
        r = curl(s.https_port, "GET", "/api/v1/status", source="127.0.0.2")
        self.assertEqual(r.status, 409)
        b = r.json()
        self.assertEqual(b["error"], "session in use")
        # Who holds the session, and until when if it stays idle: seconds
        # left and the device clock's time.
        self.assertEqual(b["client"], "127.0.0.1")
        self.assertIn(b["seconds_left"], (1, 2))
        self.assertIn("127.0.0.1", b["reason"])
        self.assertIn(b["until"], b["reason"])
        until = calendar.timegm(time.strptime(b["until"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertLess(abs(until - (time.time() + b["seconds_left"])), 2.5, b)
        self.assertEqual(int(r.headers["retry-after"]), b["seconds_left"])
        # The session's own address goes on; a wrong password elsewhere is 401.
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/config").status, 200)
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/config", source="127.0.0.2",
                              password="x").status, 401)
        # Idle for longer than the window: the other client gets the session.
        wait_until(lambda: curl(s.https_port, "GET", "/api/v1/config",
                                source="127.0.0.2").status == 200, timeout=10, step=0.5)
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/config").status, 409)


class Config(Base):
    def get(self, s):
        r = curl(s.https_port, "GET", "/api/v1/config")
        self.assertEqual(r.status, 200)
        return r.json()

    def test_patch_merges_only_given_fields(self):
        s = self.sim()
        r = curl(s.https_port, "PATCH", "/api/v1/config",
                 '{"MQTT":{"Broker":"mqtt://broker.xemex-cloud.eu:8883","Site":"site-new",'
                 '"Username":"user-new","Password":"newpassword"}}')
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["MQTT"]["Password"], "********", "never echoed")
        r = curl(s.https_port, "PATCH", "/api/v1/config",
                 '{"DefaultNetIf":"WiFi","WiFi":{"ConnectionData":{"WiFiSSID":"XemexTesting",'
                 '"WiFiPassword":"Xem3x123"},"IpMode":"DHCP"}}')
        self.assertEqual(r.status, 200, r.body)
        c = self.get(s)
        self.assertEqual(c["MQTT"]["Site"], "site-new")
        self.assertEqual(c["MQTT"]["Username"], "user-new")
        self.assertEqual(c["DefaultNetIf"], "WiFi")
        self.assertEqual(c["WiFi"]["ConnectionData"]["WiFiSSID"], "XemexTesting")
        self.assertEqual(c["WiFi"]["ConnectionData"]["WiFiPassword"], "********")
        self.assertEqual(c["Ethernet"], {"IpMode": "DHCP"})
        # The saved file keeps the secrets for the device, readable by it only.
        path = os.path.join(self.state, "config.json")
        with open(path) as f:
            saved = json.load(f)
        self.assertEqual(saved["MQTT"]["Password"], "newpassword")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        # Not in force until a reset, as on the device.
        self.assertTrue(state(s)["Status"]["System"]["RestartPending"])
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/status").json()["MQTT"]["Site"], "")

    def test_every_validation_error_changes_nothing(self):
        s = self.sim()
        self.assertEqual(curl(s.https_port, "PATCH", "/api/v1/config",
                              '{"MQTT":{"Site":"kept"}}').status, 200)
        before = self.get(s)
        with open(os.path.join(self.state, "config.json"), "rb") as f:
            saved_before = f.read()
        cases = [
            ("{", ""), ("", ""), ("[1]", ""), ('{"MQTT":{"Site":"a"}} trailing', ""),
            ('{"Mqtt":{}}', "Mqtt"), ('{"MQTT":{"Brokr":"x"}}', "MQTT.Brokr"),
            ('{"MQTT":{"Broker":1883}}', "MQTT.Broker"),
            ('{"MQTT":{"Broker":"http://x"}}', "MQTT.Broker"),
            ('{"MQTT":{"Enabled":"yes"}}', "MQTT.Enabled"),
            ('{"MQTT":{"Site":"a/b"}}', "MQTT.Site"),
            ('{"DefaultNetIf":"Bluetooth"}', "DefaultNetIf"),
            ('{"MeterType":"Other"}', "MeterType"),
            ('{"Ethernet":{"IpMode":"Static","StaticIPv4":{"IpAddress":"192.168.1.300",'
             '"Netmask":"24"}}}', "Ethernet.StaticIPv4.IpAddress"),
            ('{"Ethernet":{"IpMode":"Static","StaticIPv4":{"IpAddress":"192.168.1.10",'
             '"Netmask":"40"}}}', "Ethernet.StaticIPv4.Netmask"),
            ('{"Ethernet":{"IpMode":"Static","StaticIPv4":{"IpAddress":"192.168.1.10",'
             '"Netmask":"24","Gateway":"10.0.0.1"}}}', "Ethernet.StaticIPv4.Gateway"),
            ('{"Ethernet":{"IpMode":"Static"}}', "Ethernet.StaticIPv4.IpAddress"),
            ('{"WiFi":{"ConnectionData":{"WiFiSSID":""}}}', "WiFi.ConnectionData.WiFiSSID"),
            ('{"WiFi":{"ConnectionData":{"WiFiSSID":"' + "x" * 33 + '"}}}',
             "WiFi.ConnectionData.WiFiSSID"),
            ('{"WiFi":{"ConnectionData":{"WiFiPassword":"short"}}}',
             "WiFi.ConnectionData.WiFiPassword"),
            ('{"WiFi":{"ConnectionData":{"WiFiPassword":"' + "p" * 64 + '"}}}',
             "WiFi.ConnectionData.WiFiPassword"),
            ('{"DefaultNetIf":"WiFi"}', "WiFi.ConnectionData.WiFiSSID"),
            ('{"a":{"b":{"c":{"d":{"e":{}}}}}}', ""),
        ]
        for body, field in cases:
            r = curl(s.https_port, "PATCH", "/api/v1/config", body)
            self.assertEqual(r.status, 400, "%s: %s" % (body, r.body))
            err = r.json()
            self.assertEqual(err.get("field"), field, body)
            self.assertTrue(err.get("reason"), body)
        big = '{"MQTT":{"Site":"' + "a" * 9000 + '"}}'
        r = curl(s.https_port, "PATCH", "/api/v1/config", big)
        self.assertEqual(r.status, 400)
        self.assertIn("larger than", r.json()["reason"])
        self.assertEqual(self.get(s), before, "nothing changed")
        with open(os.path.join(self.state, "config.json"), "rb") as f:
            self.assertEqual(f.read(), saved_before, "nor the saved file")

    def test_methods_and_paths(self):
        s = self.sim()
        r = curl(s.https_port, "DELETE", "/api/v1/config")
        self.assertEqual(r.status, 405)
        self.assertIn("PATCH", r.headers["allow"])
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/reset").status, 405)
        self.assertEqual(curl(s.https_port, "GET", "/api/v2/config").status, 404)
        self.assertEqual(curl(s.https_port, "GET", "/etc/passwd").status, 404)

    def test_survives_a_restart(self):
        s = self.sim()
        self.assertEqual(curl(s.https_port, "PATCH", "/api/v1/config",
                              '{"MQTT":{"Site":"attic","Enabled":false},'
                              '"Ethernet":{"IpMode":"Static","StaticIPv4":{"IpAddress":"10.1.2.3",'
                              '"Netmask":"255.255.0.0","Gateway":"10.1.0.1","DNS":"10.1.0.1"}}}'
                              ).status, 200)
        want = self.get(s)
        self.assertEqual(s.stop(), 0)
        s2 = self.sim()
        self.assertEqual(self.get(s2), want)
        s2.wait_for(r"config: loaded from")
        st = state(s2)
        # A start applies what was saved.
        self.assertEqual(st["Status"]["Network"]["IpAddress"], "10.1.2.3")
        self.assertEqual(st["Status"]["Network"]["AddressFrom"], "static")
        self.assertEqual(curl(s2.https_port, "GET", "/api/v1/status").json()["MQTT"]["Site"], "attic")
        self.assertFalse(st["Status"]["System"]["FactoryState"])

    def test_a_broken_saved_file_is_reported_and_not_used(self):
        with open(os.path.join(self.state, "config.json"), "w") as f:
            f.write('{"MQTT":{"Broker":"gopher://nope"}}')
        s = self.sim()
        s.wait_for(r"config: .*config.json: MQTT.Broker: .*factory settings used")
        self.assertEqual(self.get(s)["MQTT"]["Broker"], "mqtt://broker.xemex-cloud.eu:8883")

    def test_kill_9_during_patches_leaves_a_valid_config(self):
        rng = random.Random(7)
        sites = set([""])
        for round_ in range(8):
            s = self.sim()
            proc = subprocess.Popen(
                ["bash", "-c",
                 "for i in $(seq 1 1000); do curl -sk -u user:%s -X PATCH "
                 "-H 'Content-Type: application/json' --data '{\"MQTT\":{\"Site\":\"r%d-'$i'\"}}' "
                 "https://127.0.0.1:%d/api/v1/config -o /dev/null || true; done"
                 % (PW, round_, s.https_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Let some PATCHes through, then kill -9 while they go on.
            target = rng.randint(1, 25)
            wait_until(lambda: sum("config: saved" in l for l in s.lines) >= target, timeout=30)
            os.kill(s.proc.pid, signal.SIGKILL)
            s.proc.wait(10)
            proc.kill()
            proc.wait()
            with open(os.path.join(self.state, "config.json")) as f:
                doc = json.load(f)  # always whole, never half written
            self.assertTrue(doc["MQTT"]["Site"].startswith("r%d-" % round_) or doc["MQTT"]["Site"] in sites)
            sites.add(doc["MQTT"]["Site"])
            # and the device starts with it
            s2 = self.sim()
            self.assertEqual(self.get(s2)["MQTT"]["Site"], doc["MQTT"]["Site"])
            s2.stop()

    def test_read_only_state_dir_refuses_cleanly(self):
        if os.geteuid() == 0:
            self.skipTest("root writes into read-only directories")
        s = self.sim()
        os.chmod(self.state, 0o500)
        self.addCleanup(os.chmod, self.state, 0o700)
        r = curl(s.https_port, "PATCH", "/api/v1/config", '{"MQTT":{"Site":"x"}}')
        self.assertEqual(r.status, 500)
        self.assertIn("could not be saved", r.json()["error"])
        self.assertEqual(self.get(s)["MQTT"]["Site"], "")


class Status(Base):
    def status_as_the_manual(self, *args):
        """A sc-sim configured as the manual's example, in force after a
        reset; its GET /api/v1/status."""
        s = self.sim(*args)
        r = curl(s.https_port, "PATCH", "/api/v1/config", json.dumps({
            "DefaultNetIf": "WiFi",
            "WiFi": {"IpMode": "DHCP",
                     "ConnectionData": {"WiFiSSID": "XemexTesting", "WiFiPassword": "Xem3x123"}},
            "Ethernet": {"IpMode": "Static",
                         "StaticIPv4": {"IpAddress": "192.168.10.101", "Netmask": "24",
                                        "Gateway": "192.168.10.1", "DNS": "192.168.10.1"}},
            "MQTT": {"Broker": "mqtt://broker.xemex-cloud.eu:8883", "Site": "site",
                     "Username": "username", "Password": "password"}}))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(curl(s.https_port, "POST", "/api/v1/reset").status, 202)
        s.wait_for(r"restart: running again", timeout=30)
        r = curl(s.https_port, "GET", "/api/v1/status")
        self.assertEqual(r.status, 200, r.body)
        return r

    def test_status_document_is_the_manuals(self):
        """§5.2: the manual's example, key by key and level by level, in its
        order and nothing else; with the same settings, its values too."""
        want = json.loads(MANUAL_STATUS)
        got = self.status_as_the_manual("--echo-secrets").json()
        self.assertEqual(key_tree(got), key_tree(want))
        self.assertEqual(got, want)

    def test_status_document_masks_the_password(self):
        """The twin's decision against the example: the password masked
        unless --echo-secrets; the Wi-Fi password appears nowhere."""
        want = json.loads(MANUAL_STATUS)
        r = self.status_as_the_manual()
        got = r.json()
        self.assertEqual(key_tree(got), key_tree(want))
        self.assertEqual(got["MQTT"]["Password"], "********")
        want["MQTT"]["Password"] = "********"
        self.assertEqual(got, want)
        self.assertNotIn(b"Xem3x123", r.body)

    def test_status_document_at_factory_settings(self):
        s = self.sim("--source", "gen:dsmr42")
        d = curl(s.https_port, "GET", "/api/v1/status").json()
        self.assertEqual(key_tree(d), [
            ("MeterType", "str"), ("DefaultNetIf", "str"), ("Ethernet", [("IpMode", "str")]),
            ("WiFi", [("IpMode", "str")]),
            ("MQTT", [("Broker", "str"), ("Site", "str"), ("Username", "str"), ("Password", "str")])])

    def test_twin_state(self):
        """What a unit does not serve is the twin's: /sim/v1/state, under
        Status, beside Twin."""
        s = self.sim("--source", "gen:dsmr42")
        wait_until(lambda: state(s)["Status"]["Meter"]["State"] == "ok")
        d = state(s)
        self.assertEqual(sorted(d), ["Status", "Twin"])
        st = d["Status"]
        self.assertEqual(st["System"]["SerialNumber"], "E8DB84000001")
        self.assertEqual(st["System"]["Hostname"], "smart-connect-E8DB84000001")
        self.assertEqual(st["System"]["State"], "running")
        self.assertEqual(st["System"]["Led"]["State"], "normal")
        self.assertEqual(st["System"]["Led"]["Colour"], "green")
        m = st["Meter"]
        self.assertEqual((m["Protocol"], m["Flavour"], m["Version"], m["Maker"]), ("P1", "dsmr42", 42, "KFM"))
        self.assertEqual(m["CadenceSeconds"], 10)
        self.assertLess(m["LastTelegramAge"], 11)
        n = st["Network"]
        self.assertEqual((n["ActiveInterface"], n["Link"], n["Network"], n["Internet"]),
                         ("Ethernet", True, True, True))
        self.assertTrue(n["IpAddress"].startswith("192.168.1."))
        self.assertEqual(st["MQTT"]["State"], "off")
        self.assertEqual(st["Modbus"]["Port"], s.port)
        self.assertGreaterEqual(st["Counters"]["telegrams_pass"], 1)

    def test_age_of_the_last_telegram(self):
        """Null before the first telegram; then device seconds since the last
        good one, growing while the meter is quiet, its values still served."""
        s = self.sim("--source", "none", "--speed", "10")
        m = state(s)["Status"]["Meter"]
        self.assertIsNone(m["LastTelegramAge"])
        self.assertIsNone(m["ActivePower"])
        r = curl(s.https_port, "POST", "/sim/v1/telegram", gen("--count", "1", "--seed", "3"),
                 user=None)
        self.assertEqual(r.status, 200, r.body)
        m = state(s)["Status"]["Meter"]
        self.assertLess(m["LastTelegramAge"], 1)
        power = m["ActivePower"]
        self.assertIsNotNone(power)
        t0 = state(s)["Twin"]["Clock"]["DeviceTime"]
        wait_until(lambda: state(s)["Status"]["Meter"]["LastTelegramAge"] > 20, timeout=30)
        d = state(s)
        self.assertEqual(d["Status"]["Meter"]["State"], "no-data")
        age = d["Status"]["Meter"]["LastTelegramAge"]
        self.assertAlmostEqual(age, d["Twin"]["Clock"]["DeviceTime"] - t0, delta=1.5)
        self.assertEqual(d["Status"]["Meter"]["ActivePower"], power, "the last values stay served")

    def test_unsupported_meter_is_reported(self):
        path = simtest.field_capture("p1", "dsmr22-iskra-no-crc.p1")
        s = self.sim("--source", "file:" + path, "--loop", "--device", "p1")
        wait_until(lambda: state(s)["Status"]["Meter"]["State"] == "unsupported")
        m = state(s)["Status"]["Meter"]
        self.assertEqual(m["LastRejected"]["Kind"], "unsupported")

    def test_strict_reading_rejects_units_outside_the_tables(self):
        # A Swedish meter's kVAr is read by default (test_p1_field.c);
        # --strict reads the tables' units only, spelt exactly.
        path = simtest.field_capture("p1", "sweden-kaifa-ma304h4e-kvar.p1")
        s = self.sim("--source", "file:" + path, "--loop", "--device", "p1", "--strict")
        wait_until(lambda: (state(s)["Status"]["Meter"].get("LastRejected") or {}).get("Kind") == "syntax")
        m = state(s)["Status"]["Meter"]
        self.assertIn("unit 'kVAr' where var was expected", m["LastRejected"]["Detail"])


class Telegram(Base):
    def test_bytes_as_received(self):
        tels = simtest.split_telegrams(gen("--count", "2", "--seed", "5"))
        s = self.sim("--source", "stdin", stdin_pipe=True)
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/telegram").status, 404)
        for t in tels:
            s.proc.stdin.write(t + b"\r\n")
            s.proc.stdin.flush()
            wait_until(lambda: curl(s.https_port, "GET", "/api/v1/telegram").body == t + b"\r\n")
        # A rejected telegram is the last one received, too.
        bad = tels[0][:-4] + b"0000"
        s.proc.stdin.write(bad + b"\r\n")
        s.proc.stdin.flush()
        wait_until(lambda: curl(s.https_port, "GET", "/api/v1/telegram").body == bad + b"\r\n")

    def test_tic_frame_intact(self):
        frame = gen("--protocol", "tic", "--count", "1")
        s = self.sim("--source", "stdin", "--device", "tic", stdin_pipe=True)
        s.proc.stdin.write(frame)
        s.proc.stdin.flush()
        wait_until(lambda: curl(s.https_port, "GET", "/api/v1/telegram").body == frame)


class Reset(Base):
    def test_soft_reset_restarts_and_applies_saved_settings(self):
        s = self.sim("--modbus-clients", "4", "--speed", "5")
        self.assertEqual(curl(s.https_port, "PATCH", "/api/v1/config",
                              '{"MQTT":{"Site":"after-reset"}}').status, 200)
        c = ModbusTcpClient("127.0.0.1", port=s.port, timeout=5)
        self.assertTrue(c.connect())
        self.assertFalse(c.read_holding_registers(0x8006, 2, slave=1).isError())
        r = curl(s.https_port, "POST", "/api/v1/reset")
        self.assertEqual(r.status, 202)
        s.wait_for(r"reset: soft reset \(the device restarts and reconnects\)")
        s.wait_for(r"modbus: client .* closed \(shutting down\)")
        c.close()
        s.wait_for(r"restart: running again", timeout=20)
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/status").json()["MQTT"]["Site"],
                         "after-reset")
        st = state(s)
        self.assertFalse(st["Status"]["System"]["RestartPending"])
        self.assertTrue(st["Status"]["Network"]["Network"])


def energy(port):
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=5)
    try:
        if not c.connect():
            return None
        rr = c.read_holding_registers(0x8100, 2, slave=1)
        if rr.isError():
            return None
        return struct.unpack(">f", struct.pack(">HH", rr.registers[1], rr.registers[0]))[0]
    finally:
        c.close()


class Firmware(Base):
    def test_update_from_5_0_to_5_1_changes_energy_to_wh(self):
        s = self.sim("--firmware", "5.0.3", "--speed", "10", "--modbus-clients", "4")
        fw = curl(s.https_port, "GET", "/api/v1/firmware").json()
        self.assertEqual((fw["Version"], fw["State"], fw["EnergyUnit"]), ("5.0.3", "idle", "kWh"))
        kwh = wait_until(lambda: energy(s.port))
        for body in ('{"Version":"5.0.3"}', '{"Version":"five"}', '{"Url":"x"}', "[]", "{"):
            r = curl(s.https_port, "POST", "/api/v1/firmware", body)
            self.assertIn(r.status, (400, 409), body)
        r = curl(s.https_port, "POST", "/api/v1/firmware", '{"Version":"5.1.0"}')
        self.assertEqual(r.status, 202)
        self.assertEqual(r.json()["State"], "downloading")
        self.assertEqual(curl(s.https_port, "POST", "/api/v1/firmware",
                              '{"Version":"5.2.0"}').status, 409, "one update at a time")
        seen = set()

        def state():
            r = curl(s.https_port, "GET", "/api/v1/firmware")
            if r.status == 503:
                seen.add("restarting")
                return None
            f = r.json()
            seen.add(f["State"])
            return f if f["State"] == "idle" and f["Version"] == "5.1.0" else None
        f = wait_until(state, timeout=60, step=0.05)
        self.assertEqual(f["LastUpdate"]["From"], "5.0.3")
        self.assertEqual(f["LastUpdate"]["To"], "5.1.0")
        self.assertEqual(f["EnergyUnit"], "Wh")
        self.assertTrue({"downloading", "verifying", "installing", "restarting"} <= seen, seen)
        s.wait_for(r"restart: running again")
        wh = wait_until(lambda: energy(s.port))
        self.assertAlmostEqual(wh / kwh, 1000, delta=5, msg="kWh %s then Wh %s" % (kwh, wh))
        # The new version is kept across a restart of sc-sim.
        s.stop()
        s2 = self.sim("--firmware", "5.0.3")
        self.assertEqual(curl(s2.https_port, "GET", "/api/v1/firmware").json()["Version"], "5.1.0")


class PlainHttp(Base):
    def test_links_and_redirects_to_https(self):
        s = self.sim()
        r = curl(s.http_port, "GET", "/", tls=False, user=None)
        self.assertEqual(r.status, 200)
        self.assertIn(b"https://127.0.0.1:%d/" % s.https_port, r.body)
        r = curl(s.http_port, "GET", "/api/v1/config", tls=False)
        self.assertEqual(r.status, 308)
        self.assertEqual(r.headers["location"], "https://127.0.0.1:%d/api/v1/config" % s.https_port)

    def test_a_strange_host_header_is_not_echoed(self):
        s = self.sim()
        r = curl(s.http_port, "GET", "/", tls=False, user=None,
                 extra=["-H", 'Host: x"><script>alert(1)</script>'])
        self.assertEqual(r.status, 200)
        self.assertNotIn(b"<script>", r.body)
        # Not a name of the device: the link names the address the
        # connection came in on.
        self.assertIn(b"https://127.0.0.1:%d/" % s.https_port, r.body)
        r = curl(s.http_port, "GET", "/api/v1/config", tls=False,
                 extra=["-H", "Host: smart-connect.local:80"])
        self.assertEqual(r.headers["location"], "https://smart-connect.local:%d/api/v1/config"
                         % s.https_port)

    def test_redirect_leads_to_the_device_only(self):
        # A Host the device does not answer to is never where the redirect
        # leads: it leads to the address the connection came in on.
        s = self.sim("--serial-number", "E8DB84A1B2C3")
        for host in ("evil.example", "evil.example:80", "smart-connect.local.evil.example",
                     "10.9.8.7", "localhost:80@evil.example"):
            r = curl(s.http_port, "GET", "/index.html", tls=False, user=None,
                     extra=["-H", "Host: " + host])
            self.assertEqual(r.status, 308, host)
            self.assertEqual(r.headers["location"], "https://127.0.0.1:%d/index.html" % s.https_port,
                             host)
            self.assertNotIn(b"evil", r.body, host)
            r = curl(s.http_port, "GET", "/", tls=False, user=None, extra=["-H", "Host: " + host])
            self.assertNotIn(b"evil", r.body, host)
            self.assertIn(b'href="https://127.0.0.1:%d/"' % s.https_port, r.body, host)
        # The device's own names are kept.
        for host, name in (("localhost:8080", "localhost"), ("SMART-CONNECT.local", "SMART-CONNECT.local"),
                           ("smart-connect-E8DB84A1B2C3", "smart-connect-E8DB84A1B2C3")):
            r = curl(s.http_port, "GET", "/index.html", tls=False, user=None,
                     extra=["-H", "Host: " + host])
            self.assertEqual(r.headers["location"], "https://%s:%d/index.html" % (name, s.https_port))

    def test_api_over_plain_http_when_allowed(self):
        s = self.sim("--http-api-plain")
        self.assertEqual(curl(s.http_port, "GET", "/api/v1/config", tls=False).status, 200)

    def test_port_in_use(self):
        s = self.sim()
        out = subprocess.run([*simtest.sim_cmd(), "--https", "127.0.0.1:%d" % s.https_port],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 3)
        self.assertIn("https: cannot listen on 127.0.0.1:%d: the port is in use" % s.https_port,
                      out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
