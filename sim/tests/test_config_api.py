"""The configuration environment's paths and rules that the manual states and
an audit found the twin getting wrong, through curl against a running sc-sim
(each test with its own sc-sim on free loopback ports and its own state
directory):

- the page at /config (manual §7 sends the user there, twice), over HTTPS as
  at /, and on plain HTTP what / does there;
- Wi-Fi is WPA2-PSK only (manual §5.1): an SSID without a passphrase, or
  with one of a length WPA2-PSK does not have, is refused with 400 naming
  WPA2-PSK, and neither the configuration in force nor the saved file
  changes;
- the TIC variant's Modbus map template (manual §1.2) is the configuration's
  MeterType: the known one is accepted, another refused with the list;
- MQTT text a broker refuses (a Site or user name with a C0/C1 control
  character or a non-character, a Site with '/', '+' or '#') is refused with
  400 naming the field and the character, in the API and on the command line,
  and nothing is saved: saved, the broker would drop every connection."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402
from simtest import Sim  # noqa: E402

PW = "cfg-api-pw"
KNOWN_TEMPLATES = ["PhoenixContact-EMPro"]


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def curl(port, method, path, body=None, auth=True, tls=True):
    """One request with the curl program: status, headers (lower-case) and body."""
    tmp = tempfile.mkdtemp()
    try:
        hdr, out = os.path.join(tmp, "h"), os.path.join(tmp, "b")
        # HEAD with -I: with -X HEAD curl would wait for a body that never comes.
        cmd = ["curl", "-s", "-k", *(["-I"] if method == "HEAD" else ["-X", method]), "-D", hdr,
               "-o", out, "-w", "%{http_code}", "--max-time", "20", "--noproxy", "*"]
        if auth:
            cmd += ["-u", "user:" + PW]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", body]
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
            return Reply(int(r.stdout), headers, f.read())
    finally:
        shutil.rmtree(tmp, True)


class Base(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="sc-cfgapi-")
        self.addCleanup(shutil.rmtree, self.state, True)

    def sim(self, *args):
        s = Sim("--password", PW, "--state-dir", self.state, *args)
        self.addCleanup(s.__exit__)
        self.assertIsNotNone(s.https_port, s.lines)
        self.assertIsNotNone(s.http_port, s.lines)
        return s

    def saved_file(self):
        """The saved configuration's bytes, or None before the first save."""
        path = os.path.join(self.state, "config.json")
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read()


class ConfigPath(Base):
    def test_page_at_config_over_https(self):
        s = self.sim()
        root = curl(s.https_port, "GET", "/")
        self.assertEqual(root.status, 200)
        r = curl(s.https_port, "GET", "/config")
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertTrue(r.headers["content-type"].startswith("text/html"), r.headers)
        self.assertEqual(r.body, root.body, "/config is the page / serves")
        self.assertIn(b"<title>SmartConnect Configuration</title>", r.body)
        # The same login as /: none is 401, and other methods are refused.
        self.assertEqual(curl(s.https_port, "GET", "/config", auth=False).status, 401)
        self.assertEqual(curl(s.https_port, "HEAD", "/config").status, 200)
        r = curl(s.https_port, "POST", "/config", body="{}")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers.get("allow"), "GET")
        # Only /config: neighbours of it are not the page.
        for path in ("/config/", "/configuration", "/config/api/v1/status"):
            self.assertEqual(curl(s.https_port, "GET", path).status, 404, path)

    def test_config_over_plain_http_as_root(self):
        s = self.sim()
        root = curl(s.http_port, "GET", "/", auth=False, tls=False)
        r = curl(s.http_port, "GET", "/config", auth=False, tls=False)
        self.assertEqual((root.status, r.status), (200, 200))
        self.assertNotIn("location", r.headers)
        # The landing page links to the secure environment, at /config.
        self.assertIn(b'href="https://127.0.0.1:%d/config"' % s.https_port, r.body)
        self.assertIn(b'href="https://127.0.0.1:%d/"' % s.https_port, root.body)
        # Any other path is still redirected, as before.
        r = curl(s.http_port, "GET", "/index.html", auth=False, tls=False)
        self.assertEqual(r.status, 308)
        self.assertEqual(r.headers["location"], "https://127.0.0.1:%d/index.html" % s.https_port)

    def test_config_over_plain_http_when_the_api_is_allowed_there(self):
        s = self.sim("--http-api-plain")
        root = curl(s.http_port, "GET", "/", tls=False)
        r = curl(s.http_port, "GET", "/config", tls=False)
        self.assertEqual((root.status, r.status), (200, 200))
        self.assertEqual(r.body, root.body)
        self.assertIn(b"<title>SmartConnect Configuration</title>", r.body)


class Wpa2Only(Base):
    REFUSED = [
        # An SSID and no password: an open network.
        '{"WiFi":{"ConnectionData":{"WiFiSSID":"open-net"}}}',
        '{"DefaultNetIf":"WiFi","WiFi":{"ConnectionData":{"WiFiSSID":"open-net"},"IpMode":"DHCP"}}',
        # An empty password.
        '{"DefaultNetIf":"WiFi","WiFi":{"ConnectionData":{"WiFiSSID":"open-net",'
        '"WiFiPassword":""},"IpMode":"DHCP"}}',
        # Lengths WPA2-PSK has not: 7 characters, 64 that are not hex digits.
        '{"DefaultNetIf":"WiFi","WiFi":{"ConnectionData":{"WiFiSSID":"net",'
        '"WiFiPassword":"1234567"}}}',
        '{"DefaultNetIf":"WiFi","WiFi":{"ConnectionData":{"WiFiSSID":"net",'
        '"WiFiPassword":"%s"}}}' % ("p" * 64),
    ]

    def test_open_network_refused_and_nothing_changes(self):
        s = self.sim()
        # A saved configuration first, so that there is a file to compare.
        r = curl(s.https_port, "PATCH", "/api/v1/config", body='{"MQTT":{"Site":"kept"}}')
        self.assertEqual(r.status, 200, r.body)
        before = curl(s.https_port, "GET", "/api/v1/config").json()
        saved = self.saved_file()
        self.assertIsNotNone(saved)
        for body in self.REFUSED:
            r = curl(s.https_port, "PATCH", "/api/v1/config", body=body)
            self.assertEqual(r.status, 400, body)
            doc = r.json()
            self.assertEqual(doc["field"], "WiFi.ConnectionData.WiFiPassword", body)
            self.assertIn("WPA2-PSK", doc["reason"], body)
            self.assertIn("8-63", doc["reason"], body)
            self.assertEqual(curl(s.https_port, "GET", "/api/v1/config").json(), before, body)
            self.assertEqual(self.saved_file(), saved, body)
        self.assertEqual(before["DefaultNetIf"], "Ethernet")
        self.assertNotIn("ConnectionData", before["WiFi"])
        # The twin's own view: still on Ethernet, and after a reset too (the
        # saved configuration takes effect then: no open network to join).
        self.assertEqual(curl(s.https_port, "POST", "/api/v1/reset").status, 202)
        deadline = time.monotonic() + 20
        while True:
            r = curl(s.http_port, "GET", "/sim/v1/state", auth=False, tls=False)
            self.assertEqual(r.status, 200)
            st = r.json()["Status"]
            if st["System"]["State"] == "running" and not st["System"]["RestartPending"]:
                break
            self.assertLess(time.monotonic(), deadline, st["System"])
            time.sleep(0.1)
        self.assertEqual(st["Network"]["ActiveInterface"], "Ethernet")
        self.assertEqual(curl(s.https_port, "GET", "/api/v1/config").json(), before)

    def test_first_save_refused_leaves_no_file(self):
        s = self.sim()
        self.assertIsNone(self.saved_file())
        r = curl(s.https_port, "PATCH", "/api/v1/config", body=self.REFUSED[0])
        self.assertEqual(r.status, 400)
        self.assertIsNone(self.saved_file())

    def test_wpa2_passphrases_accepted(self):
        s = self.sim()
        for psk in ("Xem3x123", "x" * 63, "0123456789abcdef" * 4):
            body = json.dumps({"DefaultNetIf": "WiFi", "WiFi": {
                "ConnectionData": {"WiFiSSID": "XemexTesting", "WiFiPassword": psk},
                "IpMode": "DHCP"}})
            r = curl(s.https_port, "PATCH", "/api/v1/config", body=body)
            self.assertEqual(r.status, 200, (psk, r.body))
        c = curl(s.https_port, "GET", "/api/v1/config").json()
        self.assertEqual(c["WiFi"]["ConnectionData"],
                         {"WiFiSSID": "XemexTesting", "WiFiPassword": "********"})
        # With a passphrase saved, another SSID alone keeps it.
        r = curl(s.https_port, "PATCH", "/api/v1/config",
                 body='{"WiFi":{"ConnectionData":{"WiFiSSID":"other-net"}}}')
        self.assertEqual(r.status, 200, r.body)
        saved = json.loads(self.saved_file())
        self.assertEqual(saved["WiFi"]["ConnectionData"],
                         {"WiFiSSID": "other-net", "WiFiPassword": "0123456789abcdef" * 4})


class TicTemplate(Base):
    def test_known_template_accepted_unknown_refused(self):
        s = self.sim("--source", "gen:tic")
        c = curl(s.https_port, "GET", "/api/v1/config").json()
        self.assertEqual(c["MeterType"], KNOWN_TEMPLATES[0])
        r = curl(s.https_port, "PATCH", "/api/v1/config",
                 body=json.dumps({"MeterType": KNOWN_TEMPLATES[0]}))
        self.assertEqual(r.status, 200, r.body)
        saved = self.saved_file()
        before = curl(s.https_port, "GET", "/api/v1/config").json()
        for name in ("Linky-Standard", "phoenixcontact-empro", ""):
            r = curl(s.https_port, "PATCH", "/api/v1/config",
                     body=json.dumps({"MeterType": name, "MQTT": {"Site": "changed"}}))
            self.assertEqual(r.status, 400, name)
            doc = r.json()
            self.assertEqual(doc["field"], "MeterType")
            self.assertIn("template", doc["reason"])
            for known in KNOWN_TEMPLATES:
                self.assertIn('"%s"' % known, doc["reason"])
            self.assertEqual(curl(s.https_port, "GET", "/api/v1/config").json(), before)
            self.assertEqual(self.saved_file(), saved)


class MqttText(Base):
    # (JSON document, field, code point named in the reason)
    REFUSED = [
        ({"MQTT": {"Site": "a\u0085b"}}, "MQTT.Site", "U+0085"),
        ({"MQTT": {"Site": "\uffff"}}, "MQTT.Site", "U+FFFF"),
        ({"MQTT": {"Site": "x\ufdd0"}}, "MQTT.Site", "U+FDD0"),
        ({"MQTT": {"Site": "\U0001fffe"}}, "MQTT.Site", "U+1FFFE"),
        ({"MQTT": {"Site": "a\u009fb"}}, "MQTT.Site", "U+009F"),
        ({"MQTT": {"Username": "me\u0085"}}, "MQTT.Username", "U+0085"),
        ({"MQTT": {"Username": "\uffff"}}, "MQTT.Username", "U+FFFF"),
        ({"MQTT": {"Username": "\ufdef"}}, "MQTT.Username", "U+FDEF"),
    ]

    def test_refused_with_the_character_and_nothing_saved(self):
        s = self.sim()
        r = curl(s.https_port, "PATCH", "/api/v1/config",
                 body='{"MQTT":{"Site":"kept","Username":"kept-user"}}')
        self.assertEqual(r.status, 200, r.body)
        before = curl(s.https_port, "GET", "/api/v1/config").json()
        saved = self.saved_file()
        for doc, field, cp in self.REFUSED:
            r = curl(s.https_port, "PATCH", "/api/v1/config", body=json.dumps(doc))
            self.assertEqual(r.status, 400, (doc, r.body))
            err = r.json()
            self.assertEqual(err["field"], field, doc)
            self.assertIn(cp + " is not allowed in an MQTT", err["reason"], doc)
            self.assertEqual(curl(s.https_port, "GET", "/api/v1/config").json(), before, doc)
            self.assertEqual(self.saved_file(), saved, doc)
        # Text brokers take is still accepted: letters past ASCII, a user name
        # with '/' or '+' (only a topic level refuses those).
        r = curl(s.https_port, "PATCH", "/api/v1/config",
                 body=json.dumps({"MQTT": {"Site": "caf\u00e9-\u20ac", "Username": "a/b+c#"}}))
        self.assertEqual(r.status, 200, r.body)
        c = curl(s.https_port, "GET", "/api/v1/config").json()
        self.assertEqual((c["MQTT"]["Site"], c["MQTT"]["Username"]), ("caf\u00e9-\u20ac", "a/b+c#"))

    def test_command_line_refuses_them_as_usage_errors(self):
        for opt, value, cp in [("--site", "a\u0085", "U+0085"), ("--site", "\uffff", "U+FFFF"),
                               ("--site", "\ufdd0", "U+FDD0"),
                               ("--mqtt-user", "u\u0085", "U+0085"),
                               ("--mqtt-user", "\uffff", "U+FFFF"),
                               ("--mqtt-user", "\ufdd0", "U+FDD0")]:
            out = subprocess.run([*simtest.sim_cmd(), "--state-dir", self.state, opt,
                                  value.encode()], capture_output=True, timeout=10)
            self.assertEqual(out.returncode, 2, (opt, value, out.stderr))
            err = out.stderr.decode("utf-8", "replace")
            self.assertIn("sc-sim: %s: %s is not allowed in an MQTT" % (opt, cp), err)
        self.assertIsNone(self.saved_file())


if __name__ == "__main__":
    unittest.main()
