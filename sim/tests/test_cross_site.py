"""Requests a web page elsewhere can make a browser send to sc-sim, refused:
a state change from a foreign Origin (403), a body that is not JSON (415),
and a Host that is none of the device's names or addresses (DNS rebinding,
421). First as curl sends what a browser would, then in a real headless
Chromium (cdp.py) from a page served by another server on another port, and
from a name that resolves to the twin (Chromium's host resolver rules, the
rebinding case). Each time the twin's state is read back: unchanged. The
twin's own page, sc-ctl and curl with JSON keep working. Each test has its
own sc-sim on free loopback ports."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import cdp  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim  # noqa: E402
from test_http import curl  # noqa: E402

PW = "xsite-pw-1234"
SC_CTL = os.path.join(simtest.BUILD, "sim", "sc-ctl")


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-xsite-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sim = Sim("--password", PW, "--state-dir", os.path.join(self.dir, "state"),
                       "--serial-number", "E8DB84ABCDEF", timeout=30)
        self.addCleanup(self.sim.__exit__, None, None, None)
        self.assertIsNotNone(self.sim.http_port, self.sim.lines)

    def twin_meter(self):
        r = curl(self.sim.http_port, "GET", "/sim/v1/state", tls=False, user=None)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["Twin"]["Meter"]

    def config(self):
        r = curl(self.sim.https_port, "GET", "/api/v1/config", password=PW)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def raw(self, port, method, path, headers, body=None, tls=False, auth=False):
        """One request with curl, headers as given (none added): status, body."""
        cmd = ["curl", "-s", "-k", "-X", method, "-o", "-", "-w", "\n%{http_code}",
               "--max-time", "20", "--noproxy", "*"]
        if auth:
            cmd += ["-u", "user:" + PW]
        for h in headers:
            cmd += ["-H", h]
        if body is not None:
            cmd += ["--data-binary", body]
        cmd.append("%s://127.0.0.1:%d%s" % ("https" if tls else "http", port, path))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        text, _, code = r.stdout.rpartition("\n")
        return int(code), text


class AsCurlSendsThem(Base):
    def test_control_api_refuses_what_a_foreign_page_sends(self):
        p = self.sim.http_port
        foreign = "Origin: http://evil.example"
        # A no-cors fetch / form: text/plain (or no type), foreign Origin.
        for headers, want in (([foreign, "Content-Type: text/plain"], 403),
                              ([foreign, "Content-Type: application/json"], 403),
                              (["Origin: null", "Content-Type: application/json"], 403),
                              (["Content-Type: text/plain"], 415),
                              (["Content-Type: application/x-www-form-urlencoded"], 415),
                              (["Content-Type: multipart/form-data; boundary=x"], 415),
                              (["Content-Type:"], 415)):
            status, text = self.raw(p, "POST", "/sim/v1/meter", headers, '{"Cable": "out", "P": 7777}')
            self.assertEqual(status, want, (headers, text))
        status, text = self.raw(p, "GET", "/sim/v1/state", ["Host: evil.example:%d" % p])
        self.assertEqual(status, 421, text)
        self.assertIn("misdirected request", text)
        # An address is no rebinding: the twin reached through a NAT or a
        # container's published port is asked by an address not its own.
        status, text = self.raw(p, "GET", "/sim/v1/state", ["Host: 10.1.2.3:%d" % p])
        self.assertEqual(status, 200, text)
        self.assertEqual(self.twin_meter()["CableOut"], False)
        self.assertEqual(self.twin_meter()["Hand"], {})
        # Its own origin, and no Origin (curl, scripts) with JSON: accepted.
        status, text = self.raw(p, "POST", "/sim/v1/meter",
                                ["Origin: http://127.0.0.1:%d" % p, "Content-Type: application/json"],
                                '{"P": 4321}')
        self.assertEqual(status, 200, text)
        self.assertEqual(self.twin_meter()["Hand"], {"P": 4321})
        status, text = self.raw(p, "POST", "/sim/v1/meter", ["Content-Type: application/json"],
                                '{"P": 1234}', )
        self.assertEqual(status, 200, text)
        self.assertEqual(self.twin_meter()["Hand"], {"P": 1234})

    def test_device_api_refuses_what_a_foreign_page_sends(self):
        p = self.sim.https_port
        before = self.config()
        foreign = "Origin: https://evil.example"
        patch = '{"MQTT": {"Site": "pwned"}}'
        for headers, want in (([foreign, "Content-Type: text/plain"], 403),
                              ([foreign, "Content-Type: application/json"], 403),
                              (["Origin: http://127.0.0.1:%d" % p, "Content-Type: application/json"], 403),
                              (["Content-Type: text/plain"], 415),
                              (["Host: evil.example:%d" % p, "Content-Type: application/json"], 421)):
            status, text = self.raw(p, "PATCH", "/api/v1/config", headers, patch, tls=True, auth=True)
            self.assertEqual(status, want, (headers, text))
        # A bodiless POST (reset) from a foreign Origin.
        status, text = self.raw(p, "POST", "/api/v1/reset", [foreign], tls=True, auth=True)
        self.assertEqual(status, 403, text)
        status, text = self.raw(p, "POST", "/api/v1/firmware", [foreign, "Content-Type: text/plain"],
                                '{"Version": "5.0.0"}', tls=True, auth=True)
        self.assertEqual(status, 403, text)
        self.assertEqual(self.config(), before)
        self.assertFalse([ln for ln in self.sim.lines if "soft reset" in ln or "restart" in ln.lower()
                          and "firmware" in ln], self.sim.lines)
        # Its own origin with JSON: accepted.
        status, text = self.raw(p, "PATCH", "/api/v1/config",
                                ["Origin: https://127.0.0.1:%d" % p, "Content-Type: application/json"],
                                patch, tls=True, auth=True)
        self.assertEqual(status, 200, text)
        self.assertEqual(self.config()["MQTT"]["Site"], "pwned")

    def test_sc_ctl_keeps_working(self):
        url = "http://127.0.0.1:%d" % self.sim.http_port
        telegram = os.path.join(self.dir, "t.txt")
        with open(telegram, "wb") as f:
            f.write(subprocess.run([os.path.join(simtest.BUILD, "sim", "sc-telegram"), "gen",
                                    "--count", "1"], capture_output=True, check=True,
                                   timeout=30).stdout)
        # Meter bytes as application/octet-stream, the rest as JSON.
        r = subprocess.run([SC_CTL, "--url", url, "telegram", telegram], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        r = subprocess.run([SC_CTL, "--url", url, "meter", "out"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.twin_meter()["CableOut"], True)


class AFleet(Base):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-xsite-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_fleet_and_its_devices_refuse_them_too(self):
        from test_fleet import Fleet
        os.makedirs(os.path.join(self.dir, "fleet"))
        f = Fleet("--devices", "2", "--state-dir", os.path.join(self.dir, "fleet"))
        self.addCleanup(f.__exit__)
        p = f.http_port
        status, text = self.raw(p, "POST", "/fleet/v1/window", ["Origin: http://evil.example"])
        self.assertEqual(status, 403, text)
        status, text = self.raw(p, "GET", "/fleet/v1/status", ["Host: evil.example"])
        self.assertEqual(status, 421, text)
        status, text = self.raw(p, "GET", "/devices/E8DB84000001/sim/v1/state", ["Host: evil.example"])
        self.assertEqual(status, 421, text)
        status, text = self.raw(p, "POST", "/devices/E8DB84000001/sim/v1/meter",
                                ["Content-Type: text/plain"], '{"P": 1}')
        self.assertEqual(status, 415, text)
        status, text = self.raw(p, "POST", "/fleet/v1/window", ["Origin: http://127.0.0.1:%d" % p])
        self.assertEqual(status, 200, text)


ATTACK = """<!DOCTYPE html><html><body>
<iframe name="sink" id="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink" action="%(twin)s/sim/v1/meter">
<input name='{"Cable": "out", "P": 6666, "x": "' value='"}'></form>
<script>
window.done = 0;
const twin = %(twin_js)s;
const end = () => { window.done++; };
fetch(twin + "/sim/v1/meter", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: '{"P": 7777}'}).then(end, end);
fetch(twin + "/sim/v1/meter", {method: "POST", mode: "no-cors",
      body: new Blob(['{"Cable": "out"}'])}).then(end, end);
fetch(twin + "/sim/v1/button", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "a=b"}).then(end, end);
document.getElementById("sink").onload = end;
document.getElementById("f").submit();
</script></body></html>"""


class InABrowser(Base):
    @classmethod
    def setUpClass(cls):
        # The rebinding case: a name of the attacker's that resolves to the twin.
        cls.browser = cdp.Browser(extra_flags=["--host-resolver-rules=MAP rebind.test 127.0.0.1"])

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()

    def serve(self, page):
        """A server of its own on another port: the foreign site."""
        body = page.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        self.addCleanup(t.join, 5)
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return srv.server_address[1]

    def test_a_page_elsewhere_changes_nothing(self):
        twin = "http://127.0.0.1:%d" % self.sim.http_port
        port = self.serve(ATTACK % {"twin": twin, "twin_js": json.dumps(twin)})
        page = self.browser.new_page()
        self.addCleanup(page.close)
        page.navigate("http://127.0.0.1:%d/" % port)
        page.wait_js("window.done >= 4", 30)
        # Each of the four reached the twin and was refused there.
        self.sim.wait_for(r"POST /sim/v1/button refused: cross-site Origin", 10)
        refused = [ln for ln in self.sim.lines if "/sim/v1/meter refused: cross-site Origin" in ln]
        self.assertEqual(len(refused), 3, self.sim.lines)
        meter = self.twin_meter()
        self.assertEqual((meter["CableOut"], meter["Hand"]), (False, {}))

    def test_a_rebound_name_is_refused(self):
        # The page's name resolves to the twin (as after a DNS rebinding): its
        # requests are same-origin for the browser, but the Host is not the
        # device's.
        page = self.browser.new_page()
        self.addCleanup(page.close)
        origin = "http://rebind.test:%d" % self.sim.http_port
        page.navigate(origin + "/sim/v1/state")
        self.assertIn("misdirected request", page.evaluate("document.body.textContent"))
        got = page.evaluate(
            "fetch(%s, {method: 'POST', headers: {'Content-Type': 'application/json'}, "
            "body: '{\"P\": 5555}'}).then(r => r.status)" % json.dumps(origin + "/sim/v1/meter"))
        self.assertEqual(got, 421)
        self.assertEqual(self.twin_meter()["Hand"], {})

    def test_the_twins_own_panel_still_changes_it(self):
        page = self.browser.new_page()
        self.addCleanup(page.close)
        origin = "http://127.0.0.1:%d" % self.sim.http_port
        page.navigate(origin + "/sim/")
        got = page.evaluate(
            "fetch(%s, {method: 'POST', headers: {'Content-Type': 'application/json'}, "
            "body: '{\"P\": 3210}'}).then(r => r.status)" % json.dumps(origin + "/sim/v1/meter"))
        self.assertEqual(got, 200)
        self.assertEqual(self.twin_meter()["Hand"], {"P": 3210})


if __name__ == "__main__":
    unittest.main(verbosity=2)
