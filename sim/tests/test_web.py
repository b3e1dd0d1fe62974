"""sc-sim's configuration page as a user meets it: in a real headless
Chromium (Debian's chromium package) driven over the DevTools protocol
(cdp.py), each test with its own sc-sim on free loopback ports, a password
and a state directory of its own, and the default synthetic meter.

The live status (read from the twin's /sim/v1/state), stale meter values
and their age, saving the MQTT settings, a refused static IP address, the
page on a desktop and on a phone (screenshots kept as artifacts), the
plain-HTTP page that links to HTTPS, and the page at /config. No request of the page may leave the
device (127.0.0.1). Without Chromium the tests fail: they are not skipped."""

import base64
import json
import os
import shutil
import ssl
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import cdp  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim  # noqa: E402

PW = "web-pw-4711"
SERIAL = "E8DB84C0FFEE"
TITLE = "SmartConnect Configuration"
ARTIFACTS = os.environ.get("SC_ARTIFACT_DIR") or os.path.join(simtest.BUILD, "artifacts")


def api(port, method, path, body=None, password=PW, timeout=20):
    """(status, JSON) of one API request over HTTPS, certificate not verified."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    token = base64.b64encode(("user:%s" % password).encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    rq = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path), data=data, method=method,
                                headers={"Authorization": "Basic " + token,
                                         "Content-Type": "application/json"})
    # No proxy from the environment: the device is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(rq, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class WebTest(unittest.TestCase):
    """One browser for the class; per test a sc-sim and a fresh tab."""

    @classmethod
    def setUpClass(cls):
        # No Chromium is a failure, not a skip: CI installs it (scripts/setup.sh).
        cls.browser = cdp.Browser()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-web-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sim = Sim("--password", PW, "--state-dir", os.path.join(self.dir, "state"),
                       "--serial-number", SERIAL, timeout=30)
        self.addCleanup(self.sim.__exit__, None, None, None)
        self.assertIsNotNone(self.sim.https_port, self.sim.lines)
        self.assertIsNotNone(self.sim.http_port, self.sim.lines)
        self.base = "https://127.0.0.1:%d/" % self.sim.https_port
        self.expect_status = []   # (path, status) the page is expected to meet
        self.page = self.browser.new_page()
        self.addCleanup(self.page.close)
        self.page.basic_auth("user", PW)
        # Checked last (cleanups run in reverse order), with the tab still open.
        self.addCleanup(self.check_page_stayed_home)

    def check_page_stayed_home(self):
        """Every request went to this sc-sim on 127.0.0.1, the page threw no
        exception and logged no error (a CSP refusal would be one)."""
        self.browser.pump(0.05)
        p = self.page
        origins = {"https://127.0.0.1:%d" % self.sim.https_port,
                   "http://127.0.0.1:%d" % self.sim.http_port}
        for url in p.requests:
            if url == "about:blank":
                continue
            u = urllib.parse.urlsplit(url)
            self.assertEqual(u.hostname, "127.0.0.1", "request to another host: %s" % url)
            self.assertIn("%s://%s" % (u.scheme, u.netloc), origins,
                          "request to another origin: %s" % url)
        self.assertEqual(p.exceptions, [], "exceptions in the page")
        errors = [c for c in p.console if c["level"] in ("error", "assert")
                  and not self.expected_error(c)]
        self.assertEqual(errors, [], "errors in the console")

    def expected_error(self, entry):
        """Console errors that are not the page's: Chromium's own request for
        /favicon.ico (the device has none: 404; on plain HTTP the redirect to
        HTTPS is refused by the CSP), and the network log line of an API
        answer a test provokes on purpose (self.expect_status)."""
        url = entry["url"]
        if url.endswith("/favicon.ico") or "/favicon.ico'" in entry["text"]:
            return True
        return (entry["source"] == "network" and
                any(url.endswith(path) and "status of %d" % status in entry["text"]
                    for path, status in self.expect_status))

    # ---- helpers ----

    def open_page(self):
        """Loads the page and waits for the live status and the forms."""
        self.page.navigate(self.base)
        self.wait_status()

    def wait_status(self, timeout=30):
        self.page.wait_js("document.getElementById('st-meter').textContent === 'ok' && "
                          "document.getElementById('mqtt-broker').value !== ''", timeout)

    def text(self, el_id):
        return self.page.evaluate("document.getElementById(%s).textContent" % json.dumps(el_id))

    def value(self, el_id):
        return self.page.evaluate("document.getElementById(%s).value" % json.dumps(el_id))

    def classes(self, el_id):
        return self.page.evaluate("[...document.getElementById(%s).classList]"
                                  % json.dumps(el_id))

    def config(self):
        status, doc = api(self.sim.https_port, "GET", "/api/v1/config")
        self.assertEqual(status, 200, doc)
        return doc

    def save_png(self, name, data):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name)
        # Whole or not at all, even with another run writing the same name.
        tmp = "%s.%d.tmp" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return path

    def assert_png(self, data, min_width=300):
        width, height = cdp.png_size(data)
        self.assertGreaterEqual(width, min_width)
        self.assertGreaterEqual(height, 300)
        self.assertGreater(len(data), 5000, "a near-empty picture")
        return width, height

    # ---- the tests ----

    def test_live_status(self):
        """Title, system and meter values, the dots, and values that refresh."""
        self.open_page()
        p = self.page
        self.assertEqual(p.evaluate("document.title"), TITLE)
        self.assertEqual(p.evaluate("document.querySelector('h1').textContent"), TITLE)
        self.assertEqual(self.text("st-serial"), SERIAL)
        self.assertEqual(self.text("st-firmware"), "5.2.0")
        self.assertEqual(self.text("st-state"), "running")
        self.assertEqual(self.text("st-meter"), "ok")
        self.assertRegex(self.text("st-meter-id"), r"^ISK dsmr50\b")
        self.assertRegex(self.text("st-power"), r"^-?\d+ W$")
        self.assertRegex(self.text("st-uptime"), r"^\d+ min \d+ s$")
        self.assertRegex(self.text("st-age"), r"^\d+\.\d s ago$")
        self.assertEqual(self.text("st-netif"), "Ethernet")
        self.assertRegex(self.text("st-ip"), r"^\d+\.\d+\.\d+\.\d+$")
        self.assertEqual(self.text("foot-serial"), "smart-connect-" + SERIAL)
        for dot in ("dot-link", "dot-network", "dot-internet"):
            self.assertIn("on", self.classes(dot), dot)
            self.assertNotIn("off", self.classes(dot), dot)
        # MQTT is off in the tests (--mqtt off): its dot is off, not on.
        self.assertIn("off", self.classes("dot-mqtt"))
        self.assertEqual(p.evaluate("getComputedStyle(document.getElementById('dot-link'),"
                                    " '::before').backgroundColor"), "rgb(46, 155, 69)")
        # The values agree with the twin's state (/sim/v1/state), where the
        # page reads them; the device's status document holds none of them.
        status, doc = api(self.sim.https_port, "GET", "/sim/v1/state")
        self.assertEqual(status, 200)
        self.assertEqual(doc["Status"]["System"]["SerialNumber"], SERIAL)
        status, doc = api(self.sim.https_port, "GET", "/api/v1/status")
        self.assertEqual(status, 200)
        self.assertNotIn("Status", doc)
        # The page polls: the uptime or the telegram's age changes on its own.
        first = (self.text("st-uptime"), self.text("st-age"))
        p.wait_js("document.getElementById('st-uptime').textContent !== %s || "
                  "document.getElementById('st-age').textContent !== %s"
                  % (json.dumps(first[0]), json.dumps(first[1])), timeout=20)
        n = sum(1 for u in p.requests if u.endswith("/sim/v1/state"))
        self.assertGreaterEqual(n, 2, p.requests)

    def test_stale_meter_values(self):
        """The meter goes quiet: the page keeps its last values and says how
        old they are (the age of the last telegram, on the device clock)."""
        self.open_page()
        power = self.text("st-power")
        self.assertEqual(api(self.sim.https_port, "POST", "/sim/v1/meter", {"Cable": "out"})[0], 200)
        self.assertEqual(api(self.sim.https_port, "POST", "/sim/v1/clock", {"Speed": 20})[0], 200)
        self.page.wait_js("document.getElementById('st-meter').textContent === 'no-data'", 30)
        self.page.wait_js("/^\\d+\\.\\d s ago \\(the values shown are from then\\)$/"
                          ".test(document.getElementById('st-age').textContent) && "
                          "parseFloat(document.getElementById('st-age').textContent) > 10", 30)
        self.assertEqual(self.text("st-power"), power, "the last value stays shown")

    def test_save_mqtt_site(self):
        """A new site saved from the form is kept: after a reload and in the API."""
        self.open_page()
        before = self.config()
        self.assertEqual(self.value("mqtt-site"), before["MQTT"]["Site"])
        self.page.type("#mqtt-site", "attic-7")
        self.assertEqual(self.value("mqtt-site"), "attic-7")
        self.page.click("#mqtt-save")
        self.page.wait_js("document.getElementById('mqtt-msg').classList.contains('ok') || "
                          "document.getElementById('mqtt-msg').classList.contains('err')")
        self.assertIn("ok", self.classes("mqtt-msg"), self.text("mqtt-msg"))
        self.assertTrue(self.page.evaluate(
            "getComputedStyle(document.getElementById('mqtt-msg')).display !== 'none'"))
        self.assertIn("Saved", self.text("mqtt-msg"))
        # The saved settings wait for a restart: the status says so.
        self.page.wait_js("document.getElementById('st-restart').textContent"
                          ".includes('restart')")
        after = self.config()
        self.assertEqual(after["MQTT"]["Site"], "attic-7")
        want = json.loads(json.dumps(before))
        want["MQTT"]["Site"] = "attic-7"
        self.assertEqual(after, want)
        self.page.reload()
        self.wait_status()
        self.assertEqual(self.value("mqtt-site"), "attic-7")
        self.assertEqual(self.value("mqtt-broker"), before["MQTT"]["Broker"])

    def test_invalid_static_ip(self):
        """An impossible address is refused: the message names the field and
        the input is marked; nothing is saved. Corrected, it saves."""
        self.open_page()
        before = self.config()
        p = self.page
        self.assertTrue(p.evaluate("document.getElementById('static-fields').hidden"))
        p.click("#ip-static")
        p.wait_js("!document.getElementById('static-fields').hidden")
        p.type("#ip-addr", "192.168.1.300")
        p.type("#ip-mask", "24")
        p.type("#ip-gw", "192.168.1.1")
        p.type("#ip-dns", "192.168.1.1")
        self.expect_status.append(("/api/v1/config", 400))
        p.click("#net-save")
        p.wait_js("document.getElementById('net-msg').className.includes('ok') || "
                  "document.getElementById('net-msg').className.includes('err')")
        self.assertIn("err", self.classes("net-msg"))
        msg = self.text("net-msg")
        self.assertIn("Ethernet.StaticIPv4.IpAddress", msg)
        self.assertIn("192.168.1.300", msg)
        self.assertIn("invalid", self.classes("ip-addr"))
        for other in ("ip-mask", "ip-gw", "ip-dns", "mqtt-site"):
            self.assertNotIn("invalid", self.classes(other), other)
        self.assertEqual(self.config(), before)
        # Corrected, it is saved and the mark goes.
        p.type("#ip-addr", "192.168.1.30")
        p.click("#net-save")
        p.wait_js("document.getElementById('net-msg').className.includes('ok')")
        self.assertNotIn("invalid", self.classes("ip-addr"))
        eth = self.config()["Ethernet"]
        self.assertEqual(eth["IpMode"], "Static")
        self.assertEqual(eth["StaticIPv4"]["IpAddress"], "192.168.1.30")
        self.assertEqual(eth["StaticIPv4"]["Gateway"], "192.168.1.1")

    def test_switch_interface_shows_its_own_settings(self):
        """Each interface has its own IP settings: choosing Wi-Fi shows Wi-Fi's
        (here DHCP), not Ethernet's static ones, and saving Wi-Fi leaves
        Ethernet's as they were."""
        static = {"IpAddress": "192.168.1.30", "Netmask": "24", "Gateway": "192.168.1.1",
                  "DNS": "192.168.1.1"}
        status, doc = api(self.sim.https_port, "PATCH", "/api/v1/config",
                          {"Ethernet": {"IpMode": "Static", "StaticIPv4": static}})
        self.assertEqual(status, 200, doc)
        self.open_page()
        p = self.page
        self.assertTrue(p.evaluate("document.getElementById('ip-static').checked"))
        self.assertEqual(self.value("ip-addr"), "192.168.1.30")
        p.click("#net-wifi")
        p.wait_js("!document.getElementById('wifi-fields').hidden")
        self.assertTrue(p.evaluate("document.getElementById('ip-dhcp').checked"))
        self.assertTrue(p.evaluate("document.getElementById('static-fields').hidden"))
        self.assertEqual(self.value("ip-addr"), "")
        p.type("#wifi-ssid", "home-net")
        p.type("#wifi-psk", "correct horse")
        p.click("#net-save")
        p.wait_js("document.getElementById('net-msg').className.includes('ok') || "
                  "document.getElementById('net-msg').className.includes('err')")
        self.assertIn("ok", self.classes("net-msg"), self.text("net-msg"))
        c = self.config()
        self.assertEqual(c["DefaultNetIf"], "WiFi")
        self.assertEqual(c["WiFi"]["IpMode"], "DHCP")
        self.assertNotIn("StaticIPv4", c["WiFi"])
        self.assertEqual(c["WiFi"]["ConnectionData"]["WiFiSSID"], "home-net")
        self.assertEqual(c["Ethernet"], {"IpMode": "Static", "StaticIPv4": static})
        # Back to Ethernet: its static settings again.
        p.click("#net-eth")
        p.wait_js("!document.getElementById('static-fields').hidden")
        self.assertEqual(self.value("ip-addr"), "192.168.1.30")

    def test_screenshots(self):
        """The page on a desktop and on a phone, kept as PNG artifacts; on a
        phone nothing sticks out sideways."""
        p = self.page
        p.set_viewport(1024, 768)
        self.open_page()
        png = p.screenshot(full_page=True)
        width, _ = self.assert_png(png)
        self.assertEqual(width, 1024)
        path = self.save_png("web-desktop.png", png)
        self.assertTrue(os.path.getsize(path) > 0)

        # A phone: 390 CSS pixels wide, mobile viewport (the page's viewport
        # meta), static fields shown so the widest form is on the picture.
        p.set_viewport(390, 844, mobile=True, scale=1)
        p.reload()
        self.wait_status()
        p.click("#ip-static")
        p.wait_js("!document.getElementById('static-fields').hidden")
        self.assertEqual(p.evaluate("window.innerWidth"), 390)
        self.assertEqual(p.evaluate("document.documentElement.clientWidth"), 390)
        widths = p.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")
        self.assertLessEqual(max(widths), 392, "horizontal overflow on a phone: %s" % widths)
        wide = p.evaluate("""[...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 392)
            .map(e => e.tagName + '#' + e.id)""")
        self.assertEqual(wide, [], "elements wider than a phone")
        # The shown inputs and buttons are big enough to touch.
        small = p.evaluate("""[...document.querySelectorAll('input[type=text], button')]
            .map(e => [e.id, e.getBoundingClientRect().height])
            .filter(([id, h]) => h > 0 && h < 30)""")
        self.assertEqual(small, [])
        png = p.screenshot(full_page=True)
        width, height = self.assert_png(png)
        self.assertEqual(width, 390)
        self.assertGreater(height, 844)
        self.save_png("web-phone.png", png)

    def test_plain_http_links_to_https(self):
        """http://device/ is a page whose link leads to the HTTPS page."""
        p = self.page
        url = "http://127.0.0.1:%d/" % self.sim.http_port
        p.navigate(url)
        href = p.wait_js("document.getElementById('secure') && "
                         "document.getElementById('secure').href")
        self.assertEqual(href, self.base)
        self.assertEqual(urllib.parse.urlsplit(href).port, self.sim.https_port)
        # Following the link (a real click) opens the configuration page.
        p.evaluate("window.__sc_old_document = true")
        p.click("#secure")
        p.wait_new_document(self.base)
        self.assertEqual(p.evaluate("document.title"), TITLE)
        self.wait_status()
        # Another path on plain HTTP is redirected (308) to the same on HTTPS.
        p.navigate("http://127.0.0.1:%d/index.html" % self.sim.http_port,
                   lands_at=self.base + "index.html")
        self.assertEqual(p.evaluate("document.title"), TITLE)
        self.assertIn(("http://127.0.0.1:%d/index.html" % self.sim.http_port, 308),
                      p.responses)

    def test_page_at_config(self):
        """/config, where the manual's troubleshooting section (§7) sends the
        user, is the configuration page: it loads, shows the live status and
        reads the API beside it (not under /config/); on plain HTTP its
        link leads to /config on HTTPS."""
        p = self.page
        p.navigate(self.base + "config")
        self.assertEqual(p.evaluate("document.title"), TITLE)
        self.wait_status()
        self.assertEqual(self.value("mqtt-broker"), self.config()["MQTT"]["Broker"])
        api_calls = [u for u in p.requests if "/api/" in u]
        self.assertTrue(api_calls)
        for u in api_calls:
            self.assertTrue(u.startswith(self.base + "api/v1/"), u)
        p.navigate("http://127.0.0.1:%d/config" % self.sim.http_port)
        href = p.wait_js("document.getElementById('secure') && "
                         "document.getElementById('secure').href")
        self.assertEqual(href, self.base + "config")
        p.evaluate("window.__sc_old_document = true")
        p.click("#secure")
        p.wait_new_document(self.base + "config")
        self.assertEqual(p.evaluate("document.title"), TITLE)
        self.wait_status()

    def test_status_not_shown_when_control_is_off(self):
        """With the twin's control API off (as by default beyond loopback)
        the page has no /sim/v1/state to read: it says so where the state
        would be, and the device's own forms still work."""
        self.sim.__exit__(None, None, None)
        self.sim = Sim("--password", PW, "--state-dir", os.path.join(self.dir, "state-off"),
                       "--serial-number", SERIAL, "--control", "off", timeout=30)
        self.addCleanup(self.sim.__exit__, None, None, None)
        self.base = "https://127.0.0.1:%d/" % self.sim.https_port
        self.expect_status.append(("/sim/v1/state", 403))
        p = self.page
        p.navigate(self.base)
        p.wait_js("document.getElementById('st-state').textContent.indexOf("
                  "'control API is off') >= 0 && "
                  "document.getElementById('mqtt-broker').value !== ''", 30)
        self.assertEqual(self.value("mqtt-broker"), self.config()["MQTT"]["Broker"])
        self.assertIn("sc-sim --control on", self.text("st-state"))


if __name__ == "__main__":
    unittest.main()
