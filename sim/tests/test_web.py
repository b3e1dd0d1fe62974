"""sc-sim's configuration page as a user meets it: in a real headless
Chromium (Debian's chromium package) driven over the DevTools protocol
(cdp.py), each test with its own sc-sim on free loopback ports, a password
and a state directory of its own, and the default synthetic meter.

The live status (read from the twin's /sim/v1/state), stale meter values
and their age, saving the MQTT settings, a refused static IP address, the
page on a desktop and on a phone (screenshots kept as artifacts), the
plain-HTTP page that links to HTTPS, and the page at /config. The page opened
with the credentials in its URL, and the device gone. The twin's own panel at
/sim/: every register and the last power_instant against a known telegram,
the LED, the buttons that drive the twin, and the controls that set the
meter by hand (PanelSetsMeter). No request of the page may leave the
device (127.0.0.1). Without Chromium the tests fail: they are not skipped."""

import base64
import json
import math
import os
import shutil
import ssl
import struct
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import cdp  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

PW = "web-pw-4711"
SERIAL = "E8DB84C0FFEE"
TITLE = "SmartConnect Configuration"
PANEL_TITLE = "Smart Connect twin"

# A DSMR 5 three-phase telegram whose quantities all differ: the panel's
# values are checked against it (simtest.p1_values, independent of the core).
TELEGRAM = simtest.p1_telegram("XMX5LGF0010PANEL", simtest.KNOWN_P1_LINES)
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


class WebBase(unittest.TestCase):
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
        self.sim_stopped = False  # the test stops sc-sim: refused requests are expected
        self.origins = set()      # the origins of sc-sims this test replaced
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
        origins = self.origins | {"https://127.0.0.1:%d" % self.sim.https_port,
                                  "http://127.0.0.1:%d" % self.sim.http_port}
        for url in p.requests:
            if url == "about:blank":
                continue
            u = urllib.parse.urlsplit(url)
            self.assertEqual(u.hostname, "127.0.0.1", "request to another host: %s" % url)
            # (credentials in the URL, user:pw@, are the same origin)
            self.assertIn("%s://%s:%s" % (u.scheme, u.hostname, u.port), origins,
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
        if self.sim_stopped and entry["source"] == "network" and \
                "ERR_CONNECTION_REFUSED" in entry["text"]:
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

    def wait_msg(self, text, timeout=20):
        """The panel's message says text (it is set when the twin's answer
        reaches the page, which may be after the twin's state shows the
        change)."""
        try:
            self.page.wait_js("document.getElementById('msg').textContent === %s" % json.dumps(text),
                              timeout)
        except AssertionError:
            self.assertEqual(self.text("msg"), text)
            raise

    def value(self, el_id):
        return self.page.evaluate("document.getElementById(%s).value" % json.dumps(el_id))

    def classes(self, el_id):
        return self.page.evaluate("[...document.getElementById(%s).classList]"
                                  % json.dumps(el_id))

    def restart_sim(self, *args, stdin_pipe=False):
        """This test's sc-sim replaced by one with other options."""
        self.origins |= {"https://127.0.0.1:%d" % self.sim.https_port,
                         "http://127.0.0.1:%d" % self.sim.http_port}
        self.sim.__exit__(None, None, None)
        self.sim = Sim("--password", PW, "--state-dir", os.path.join(self.dir, "state2"),
                       "--serial-number", SERIAL, *args, timeout=30, stdin_pipe=stdin_pipe)
        self.addCleanup(self.sim.__exit__, None, None, None)
        self.base = "https://127.0.0.1:%d/" % self.sim.https_port

    def state(self):
        status, doc = api(self.sim.https_port, "GET", "/sim/v1/state")
        self.assertEqual(status, 200, doc)
        return doc

    def stop_sim(self):
        self.sim_stopped = True
        self.sim.stop()

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

    def open_panel(self, url=None):
        self.page.navigate(url or self.base + "sim/", lands_at=self.base + "sim/")
        self.assertEqual(self.page.evaluate("document.title"), PANEL_TITLE)
        self.page.wait_js("document.getElementById('reach').textContent.startsWith('live') && "
                          "document.getElementById('reg-active_power') !== null", 30)


class WebTest(WebBase):
    """The device's page and the twin's panel."""

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
        self.assertEqual(api(self.sim.https_port, "POST", "/sim/v1/meter", {"Cable": "out"})[0], 200)
        # The last telegram's power, as the twin holds it once the cable is
        # out (a telegram may have come just before): the page shows it at
        # its next poll.
        status, doc = api(self.sim.https_port, "GET", "/sim/v1/state")
        self.assertEqual(status, 200)
        last = doc["Status"]["Meter"]["ActivePower"]
        self.page.wait_js("document.getElementById('st-power').textContent === %s"
                          % json.dumps("%d W" % math.floor(last + 0.5)), 20)
        power = self.text("st-power")
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

    # ---- the device page: absolute URLs, the device gone ----

    def test_credentials_in_the_url_then_the_device_gone(self):
        """Opened as https://user:pw@127.0.0.1:PORT/ (the test's own
        Authorization header dropped), the page shows the live status and the
        forms: its API URLs are absolute, built from location.origin. Its
        footer links the twin's register reference. Then sc-sim stops: the
        page says the device is not reachable instead of its last state."""
        p = self.page
        p.send("Network.setExtraHTTPHeaders", {"headers": {}})
        url = "https://user:%s@127.0.0.1:%d/" % (PW, self.sim.https_port)
        # Chromium keeps the credentials out of location.href but in the
        # document's base URL: a relative fetch is refused there.
        p.navigate(url, lands_at=self.base)
        self.assertIn("includes credentials",
                      p.evaluate("fetch('/api/v1/config').then(r => 'fetched').catch(e => String(e))"))
        self.wait_status()
        self.assertEqual(self.text("st-state"), "running")
        self.assertEqual(self.value("mqtt-site"), self.config()["MQTT"]["Site"])
        calls = [u for u in p.requests if "/api/" in u or "/sim/" in u]
        self.assertTrue(any(u.endswith("/api/v1/config") for u in calls), calls)
        for u in calls:
            self.assertTrue(u.startswith(self.base), u)
        self.assertEqual(p.evaluate("document.getElementById('link-registers').href"),
                         self.base + "sim/#registers")
        self.assertFalse(p.evaluate("document.getElementById('twin-links').hidden"))
        self.stop_sim()
        p.wait_js("document.getElementById('st-state').textContent === "
                  "'device not reachable'", 20)
        self.assertIn("Device not reachable", self.text("st-reach"))
        self.assertIn("err", self.classes("st-reach"))
        self.assertNotIn("s ago", self.text("st-age"))
        for dot in ("dot-link", "dot-network", "dot-internet", "dot-mqtt"):
            self.assertNotIn("on", self.classes(dot), dot)
        # It stays so: the next refreshes do not bring the old state back.
        p.wait_js("document.getElementById('st-reach').textContent.indexOf('since') > 0", 10)
        self.assertEqual(self.text("st-state"), "device not reachable")

    # ---- the twin's panel ----

    def test_panel_shows_every_register_and_power_instant(self):
        """A known telegram: every register's value on the panel is the
        telegram's (0 where it has none), power_instant is the payload, the
        LED is a green dot; the panel links the device's page and works with
        the credentials in the URL too. Then sc-sim stops: 'twin not
        reachable'."""
        self.restart_sim("--source", "stdin", stdin_pipe=True)
        self.sim.proc.stdin.write(TELEGRAM)
        self.sim.proc.stdin.flush()
        values = simtest.p1_values(TELEGRAM)
        self.open_panel("https://user:%s@127.0.0.1:%d/sim/" % (PW, self.sim.https_port))
        p = self.page
        p.wait_js("document.getElementById('reg-active_power').textContent === %s"
                  % json.dumps(str(int(values["P"]))), 20)
        shown = p.evaluate("Object.fromEntries([...document.querySelectorAll('#regs tr')]"
                           ".map(tr => [tr.cells[0].textContent, [tr.cells[1].textContent,"
                           " tr.cells[3].textContent, tr.cells[6].textContent]]))")
        self.assertEqual(sorted(int(h, 16) for h in shown), sorted(simtest.REGISTERS))
        for addr, key in simtest.REGISTERS.items():
            dec, value, field = shown["0x%04X" % addr]
            self.assertEqual((int(dec), field), (addr, key))
            want = struct.unpack(">f", struct.pack(">f", values.get(key, 0.0)))[0]
            self.assertAlmostEqual(float(value), want, delta=max(1e-3, abs(want) * 1e-6),
                                   msg="%s (0x%04X)" % (key, addr))
        pi = json.loads(self.text("pi"))
        for key in ("P", "P+", "P-", "E_IMPORT", "E_EXPORT", "PF"):
            self.assertAlmostEqual(pi[key], values[key], places=3, msg=key)
        self.assertEqual(pi["l2"]["I"], values["l2.I"])
        self.assertEqual(p.evaluate("document.getElementById('led').dataset.colour"), "green")
        self.assertEqual(p.evaluate("getComputedStyle(document.getElementById('led'))"
                                    ".backgroundColor"), "rgb(52, 168, 83)")
        self.assertEqual(self.text("led-text"), "normal (steady)")
        self.assertEqual(self.text("serial"), SERIAL)
        self.assertEqual(p.evaluate("document.getElementById('device-page').href"),
                         "https://127.0.0.1:%d/" % self.sim.https_port)
        self.assertEqual(self.text("word-order"), "CD AB")
        self.save_png("panel-desktop.png", p.screenshot(full_page=True))
        self.stop_sim()
        p.wait_js("document.getElementById('reach').textContent.startsWith("
                  "'twin not reachable')", 20)
        self.assertIn("err", self.classes("reach"))
        self.assertEqual(p.evaluate("document.getElementById('led').dataset.colour"), "unknown")

    def test_panel_buttons_drive_the_twin(self):
        """The meter cable (and the LED it turns), the network, the broker,
        the power cycle and the device's button, each by a click on the
        panel, seen in the twin's state."""
        self.open_panel()
        p = self.page
        self.assertEqual(self.text("cable-state"), "in")
        p.click("#cable-out")
        p.wait_js("document.getElementById('cable-state').textContent === 'out'", 20)
        self.assertTrue(self.state()["Twin"]["Meter"]["CableOut"])
        self.wait_msg("meter cable out")
        self.assertEqual(api(self.sim.https_port, "POST", "/sim/v1/clock", {"Speed": 20})[0], 200)
        p.wait_js("document.getElementById('led-text').textContent.startsWith('no-data')", 30)
        self.assertIn(p.evaluate("document.getElementById('led').dataset.colour"),
                      ("red", "green"))
        p.click("#cable-in")
        p.wait_js("document.getElementById('cable-state').textContent === 'in'", 20)
        p.wait_js("document.getElementById('led-text').textContent === 'normal (steady)'", 30)

        self.assertTrue(p.evaluate("document.getElementById('net-Internet').checked"))
        p.click("#net-Internet")
        wait_until(lambda: not self.state()["Twin"]["Dongle"]["Environment"]["Internet"], 20)
        self.wait_msg("network changed")
        p.click("#net-Internet")
        wait_until(lambda: self.state()["Twin"]["Dongle"]["Environment"]["Internet"], 20)

        self.assertTrue(p.evaluate("document.getElementById('broker-reachable').checked"))
        p.click("#broker-reachable")
        wait_until(lambda: self.state()["Twin"]["MQTT"]["BrokerCut"], 20)
        self.wait_msg("broker cut off")

        starts = self.state()["Twin"]["Dongle"]["Starts"]
        p.click("#power-cycle")
        wait_until(lambda: self.state()["Twin"]["Dongle"]["Starts"] > starts, 20)
        self.wait_msg("power cycled")
        p.wait_js("document.getElementById('st-state').textContent.startsWith('running')", 60)

        p.click("#press-1")
        p.wait_js("document.getElementById('msg').textContent === 'pressed'", 20)
        self.assertIn("ok", self.classes("msg"))

    def test_panel_at_sim_without_slash_and_with_control_off(self):
        """/sim answers a redirect to /sim/; with the control API off the
        panel is refused like the rest of /sim/."""
        p = self.page
        p.navigate("http://127.0.0.1:%d/sim" % self.sim.http_port,
                   lands_at="http://127.0.0.1:%d/sim/" % self.sim.http_port)
        self.assertEqual(p.evaluate("document.title"), PANEL_TITLE)
        p.wait_js("document.getElementById('reach').textContent.startsWith('live')", 30)
        self.restart_sim("--control", "off")
        for path in ("/sim/", "/sim/v1/values"):
            status, doc = api(self.sim.https_port, "GET", path)
            self.assertEqual(status, 403, path)
            self.assertIn("--control on", doc["reason"])


class PanelSetsMeter(WebBase):
    """The panel's set and ramp controls, through POST /sim/v1/meter: 9 kW
    import typed in, seen in the registers and power_instant; back to the
    generated day; a ramp; a value the meter refuses is shown with its key."""

    def setUp(self):
        super().setUp()
        self.expect_status.append(("/sim/v1/meter", 400))

    def test_set_and_ramp(self):
        self.open_panel()
        p = self.page
        p.type("#set-P", "9000")
        p.click("#set-apply")
        p.wait_js("document.getElementById('msg').className !== ''", 20)
        self.assertIn("ok", self.classes("msg"), self.text("msg"))
        p.wait_js("document.getElementById('reg-active_power').textContent === '9000'", 20)
        p.wait_js("JSON.parse(document.getElementById('pi').textContent).P === 9000", 20)
        p.type("#set-P", "")
        p.click("#set-profile")
        p.wait_js("document.getElementById('msg').textContent !== '' && "
                  "document.getElementById('reg-active_power').textContent !== '9000'", 20)
        self.assertIn("ok", self.classes("msg"), self.text("msg"))
        p.evaluate("document.getElementById('ramp-key').value = 'P'")
        p.type("#ramp-from", "0")
        p.type("#ramp-to", "5000")
        p.type("#ramp-seconds", "30")
        p.click("#ramp-start")
        p.wait_js("document.getElementById('msg').className !== ''", 20)
        self.assertIn("ok", self.classes("msg"), self.text("msg"))
        p.wait_js("(v => v > 0 && v < 5000)(parseFloat("
                  "document.getElementById('reg-active_power').textContent))", 20)
        # A value the meter cannot hold: refused, the key named.
        p.type("#set-P", "1e12")
        p.click("#set-apply")
        p.wait_js("document.getElementById('msg').className === 'err'", 20)
        self.assertTrue(self.text("msg").startswith("P"), self.text("msg"))


if __name__ == "__main__":
    unittest.main()
