"""The integration recipes in recipes/ checked against sc-sim: each recipe file
is parsed, and sc-sim is read exactly as the recipe says (register address,
holding or input, 32-bit float in the recipe's word order, the recipe's scale;
MQTT topic and value template), so the documents cannot drift from the product.

sc-sim is fed one telegram with known, distinct values on stdin. The truth is
taken independently of the C core: the telegram sc-sim's HTTP API says it
received (GET /api/v1/telegram), turned into values by simtest.p1_values with
the rules of SMART-CONNECT.md. What each recipe entry is meant to read (total
power, current L2, import energy ...) is this test's own table, so a wrong
address reads another quantity and fails.

The recipes use placeholders, which the test replaces: Modbus host
192.168.1.50 and port 502 become sc-sim's loopback address and free port; the
MQTT site "home" and serial E8DB84123456 become the test's own.

The twin's recipes (recipes/*-twin.*) are quick starts: the test runs their
"$" lines as written (a mosquitto line starts a broker, an sc-sim line sc-sim;
each ADDR:PORT gets port 0 and the port sc-sim reports stands for the written
one wherever the configuration names it; a leading sudo is dropped), reads the
twin with the configuration exactly as pasted, and compares with the telegram
the twin's API says it received at that moment (the built-in meter sends one a
second: a read between two identical answers belongs to that telegram). Then
it runs their "try:" lines (sc-ctl, told the twin's URL) and reads again."""

import base64
import json
import datetime
import math
import os
import re
import shlex
import shutil
import subprocess
import ssl
import struct
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

import yaml  # noqa: E402
from pymodbus.client import ModbusTcpClient  # noqa: E402

RECIPES = os.path.join(simtest.SOURCE, "recipes")
PW = "recipes-pw1"

# The placeholders the recipes document.
HOST, PORT = "192.168.1.50", 502
SITE, SERIAL = "home", "E8DB84123456"
# What the test puts in their place.
TEST_SITE, TEST_SERIAL = "recipe-test", "E8DB84C0FFEE"

# A DSMR 5 three-phase telegram whose quantities all differ from each other:
# importing 3456 W in total while L3 feeds in 700 W.
TELEGRAM = simtest.p1_telegram("XMX5LGF0010RECIPES", simtest.KNOWN_P1_LINES)

# unit -> (the unit of the quantity, factor): a value in `unit` is value * factor
# in the quantity's unit.
UNITS = {"W": ("W", 1), "kW": ("W", 1000), "Wh": ("Wh", 1), "kWh": ("Wh", 1000),
         "A": ("A", 1), "V": ("V", 1)}
DEVICE_CLASS_UNIT = {"power": "W", "current": "A", "voltage": "V", "energy": "Wh"}


def quantity_unit(q):
    """The unit of a simtest quantity name (P, l2.I, E_IMPORT ...)."""
    last = q.split(".")[-1]
    if last in ("P", "P+", "P-"):
        return "W"
    if last == "I":
        return "A"
    if last == "U":
        return "V"
    if last in ("E_IMPORT", "E_EXPORT"):
        return "Wh"
    raise AssertionError("the test has no unit for quantity %r" % q)


def truth_in(values, q, unit, what):
    """The true value of quantity q expressed in unit."""
    if unit not in UNITS:
        raise AssertionError("%s: unit %r is not one the test knows" % (what, unit))
    base, factor = UNITS[unit]
    if base != quantity_unit(q):
        raise AssertionError("%s: unit %s does not fit %s (%s)" % (what, unit, q, quantity_unit(q)))
    if q not in values:
        raise AssertionError("%s: the test telegram carries no %s" % (what, q))
    return values[q] / factor


def close(got, want, tol=0.0):
    return got is not None and abs(got - want) <= max(1e-6 * abs(want), tol, 1e-9)


def far(got, want):
    return abs(got - want) > 0.01 * abs(want) + 1


def decode(words, order):
    """A float32 from two registers in word order 'abcd' or 'cdab'."""
    hi, lo = (words[0], words[1]) if order == "abcd" else (words[1], words[0])
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def address_of(v, what):
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and re.fullmatch(r"0x[0-9A-Fa-f]+|\d+", v):
        return int(v, 0)
    raise AssertionError("%s: address %r is not a number" % (what, v))


def local(host, port, sim, what):
    """The recipe's placeholder endpoint, replaced by sc-sim's. The test
    never connects anywhere but loopback."""
    if (host, int(port)) != (HOST, PORT):
        raise AssertionError("%s: %s:%s is not the documented placeholder %s:%d"
                             % (what, host, port, HOST, PORT))
    return "127.0.0.1", sim.port


class Modbus:
    """One pymodbus connection to sc-sim (the device serves one client)."""

    def __init__(self, host, port):
        assert host == "127.0.0.1", host
        self.c = ModbusTcpClient(host, port=port, timeout=5)
        assert self.c.connect(), "cannot connect to %s:%d" % (host, port)

    def words(self, address, kind, unit):
        if kind == "holding":
            rr = self.c.read_holding_registers(address, 2, slave=unit)
        elif kind == "input":
            rr = self.c.read_input_registers(address, 2, slave=unit)
        else:
            raise AssertionError("register type %r is neither holding nor input" % kind)
        assert not rr.isError(), "read of %#x (%s): %s" % (address, kind, rr)
        return rr.registers

    def close(self):
        self.c.close()


def api_telegram(sim, password=PW):
    """The last telegram sc-sim's HTTP API says it received, or None."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    rq = urllib.request.Request("https://127.0.0.1:%d/api/v1/telegram" % sim.https_port)
    rq.add_header("Authorization", "Basic " + base64.b64encode(("user:" + password).encode()).decode())
    try:
        with urllib.request.urlopen(rq, context=ctx, timeout=5) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        if e.code in (404, 503):
            return None
        raise


class Device:
    """sc-sim fed TELEGRAM on stdin; .values is the truth, from its API."""

    def __init__(self, test, *args):
        self.sim = Sim("--source", "stdin", "--password", PW, *args, stdin_pipe=True)
        test.addCleanup(self.sim.__exit__)

    def feed(self):
        self.sim.proc.stdin.write(TELEGRAM)
        self.sim.proc.stdin.flush()
        got = wait_until(lambda: api_telegram(self.sim), timeout=15)
        assert got == TELEGRAM, "the API shows another telegram: %r" % got
        self.values = simtest.p1_values(got)
        # Served once the image holds the telegram (read here in the
        # device's documented CD AB or AB CD, whichever is not 0).
        c = Modbus("127.0.0.1", self.sim.port)
        try:
            wait_until(lambda: any(c.words(0x8016, "holding", 1)), timeout=15)
        finally:
            c.close()
        return self.values


# ---- reading the recipe files ----

def load(name):
    with open(os.path.join(RECIPES, name)) as f:
        return f.read()


def check_placeholders(test, text, name):
    """Every IPv4 address in a recipe is the documented placeholder (or the
    any-address sc-sim binds to)."""
    ips = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text)) - {"0.0.0.0"}
    test.assertEqual(ips, {HOST}, "%s: addresses other than the placeholder %s" % (name, HOST))


def alfen_block(text, name="alfen-ace"):
    blocks = re.findall(r"^```yaml\n(# recipe: %s\n.*?)^```" % re.escape(name), text, re.M | re.S)
    if len(blocks) != 1:
        raise AssertionError("%s.md: %d machine-readable blocks, not 1" % (name, len(blocks)))
    return yaml.safe_load(blocks[0])


def alfen_table(text):
    """The mapping table's rows: (measurement, address, type, multiplier, unit)."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"0x[0-9A-Fa-f]{4}", cells[1]):
            if int(cells[1], 16) != int(cells[2]):
                raise AssertionError("alfen-ace.md: %s is not %s" % (cells[1], cells[2]))
            rows.append((cells[0], int(cells[1], 16), cells[3], float(cells[4]), cells[5]))
    return rows


# What the Alfen appendix's six registers mean.
ALFEN = {"Current L1": "l1.I", "Current L2": "l2.I", "Current L3": "l3.I",
         "Real power L1": "l1.P", "Real power L2": "l2.P", "Real power L3": "l3.P"}
ALFEN_ORDER = {"High to Low": "abcd", "Low to High": "cdab"}

# What each evcc custom-meter field means (evcc's units: W, kWh, A).
EVCC_FIELDS = {"power": ("P", "W"), "energy": ("E_IMPORT", "kWh")}
EVCC_LISTS = {"currents": ("I", "A"), "powers": ("P", "W"), "voltages": ("U", "V")}
EVCC_DECODE = {"float32s": "cdab", "ieee754s": "cdab", "float32": "abcd", "ieee754": "abcd"}
EVCC_PLUGIN_KEYS = {"source", "uri", "id", "register", "scale", "timeout"}

# What each Home Assistant Modbus sensor means, by its unique_id.
HA_MODBUS = {
    "smart_connect_power": "P",
    "smart_connect_power_l1": "l1.P", "smart_connect_power_l2": "l2.P",
    "smart_connect_power_l3": "l3.P",
    "smart_connect_current_l1": "l1.I", "smart_connect_current_l2": "l2.I",
    "smart_connect_current_l3": "l3.I",
    "smart_connect_voltage_l1": "l1.U", "smart_connect_voltage_l2": "l2.U",
    "smart_connect_voltage_l3": "l3.U",
    "smart_connect_energy_import": "E_IMPORT", "smart_connect_energy_export": "E_EXPORT",
}
# ... and each MQTT sensor.
HA_MQTT = {
    "smart_connect_mqtt_power": "P", "smart_connect_mqtt_power_import": "P+",
    "smart_connect_mqtt_power_export": "P-",
    "smart_connect_mqtt_current_l1": "l1.I", "smart_connect_mqtt_current_l2": "l2.I",
    "smart_connect_mqtt_current_l3": "l3.I",
    "smart_connect_mqtt_energy_import": "E_IMPORT", "smart_connect_mqtt_energy_export": "E_EXPORT",
}
HA_SWAP = {None: "abcd", "none": "abcd", "word": "cdab"}

TOPIC = re.compile(r"^devices/(?:(?P<site>[^/+#]+)/)?smart-connect/(?P<serial>[^/+#]+)"
                   r"/data/power_instant$")

# The value templates the test can interpret: {{ value_json.KEY }},
# {{ value_json.l1.KEY }}, {{ value_json['P+'] }}, optionally | float or
# | float(default), optionally followed by * N or / N. Anything else is refused.
TEMPLATE = re.compile(
    r"^\{\{\s*value_json(?P<path>(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\s*'[^'\]]+'\s*\]"
    r"|\[\s*\"[^\"\]]+\"\s*\])+)\s*(?P<float>\|\s*float(?:\(\s*-?\d+(?:\.\d+)?\s*\))?\s*)?"
    r"(?:(?P<op>[*/])\s*(?P<num>\d+(?:\.\d+)?)\s*)?\}\}$")


def parse_template(text):
    """(path, op, number) of a value template, or ValueError."""
    m = TEMPLATE.match(text.strip())
    if not m:
        raise ValueError("value_template %r is not a form the test can interpret" % text)
    path = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^'\]]+)'\s*\]|\[\s*\"([^\"\]]+)\"\s*\]",
                      m.group("path"))
    keys = [a or b or c for a, b, c in path]
    return keys, m.group("op"), float(m.group("num")) if m.group("num") else None


def apply_template(text, payload):
    keys, op, num = parse_template(text)
    v = payload
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            raise AssertionError("value_template %r: no %r in the payload" % (text, k))
        v = v[k]
    if v is None:
        return None
    v = float(v)
    if op == "*":
        v *= num
    elif op == "/":
        v /= num
    return v


def template_quantity(text):
    keys, _, _ = parse_template(text)
    return ".".join(keys)


class Templates(unittest.TestCase):
    """The test's template interpreter: the forms it reads, the ones it refuses."""

    def test_forms_read(self):
        p = {"P": -4023, "P+": 0, "E_IMPORT": 56500909, "l2": {"I": 11, "U": None}}
        self.assertEqual(apply_template("{{ value_json.P }}", p), -4023)
        self.assertEqual(apply_template("{{ value_json['P+'] }}", p), 0)
        self.assertEqual(apply_template('{{value_json["P+"]|float}}', p), 0)
        self.assertEqual(apply_template("{{ value_json.l2.I | float(0) }}", p), 11)
        self.assertAlmostEqual(apply_template("{{ value_json.E_IMPORT | float / 1000 }}", p),
                               56500.909)
        self.assertIsNone(apply_template("{{ value_json.l2.U }}", p))
        self.assertEqual(template_quantity("{{ value_json.l2.I }}"), "l2.I")

    def test_forms_refused(self):
        for t in ("{{ value_json.P | round(1) }}", "{{ value_json.P + 1 }}",
                  "{{ states('sensor.x') }}", "{{ value }}", "{{ value_json.P | int }}",
                  "{% if value_json.P %}1{% endif %}", "{{ (value_json.P | float) / 1000 }}",
                  "{{ value_json.P - 1000 }}"):
            with self.assertRaises(ValueError, msg=t):
                parse_template(t)


class AlfenAce(unittest.TestCase):
    """recipes/alfen-ace.md: the manual's Alfen appendix. sc-sim is started
    with the recipe's own sc-sim arguments (the AB CD switch)."""

    def setUp(self):
        self.text = load("alfen-ace.md")
        self.r = alfen_block(self.text)
        self.meter = self.r["meter"]

    def test_placeholders_and_settings(self):
        check_placeholders(self, self.text, "alfen-ace.md")
        self.assertEqual(self.meter["connection"], "TCP/IP meter")
        self.assertEqual(self.meter["mapping"], "custom")
        self.assertEqual(self.meter["slave_address"], 1)
        self.assertIn(self.meter["word_order"], ALFEN_ORDER)

    def test_table_matches_block(self):
        block = [(e["measurement"], address_of(e["address"], e["measurement"]), e["type"],
                  float(e["multiplier"]), e["unit"]) for e in self.meter["registers"]]
        self.assertEqual(alfen_table(self.text), block, "the table and the yaml block differ")
        self.assertEqual(sorted(e[0] for e in block), sorted(ALFEN),
                         "the appendix maps exactly these six measurements")

    def read(self, sim, order):
        """{measurement: (value, truth-unit)} read as the recipe says, in
        `order`, with both functions (the manual does not say which one
        the charger uses; the device answers both alike)."""
        host, port = local(self.meter["host"], self.meter["port"], sim, "alfen-ace.md")
        c = Modbus(host, port)
        out = {}
        try:
            for e in self.meter["registers"]:
                name = e["measurement"]
                self.assertEqual(e["type"], "FLOAT32", name)
                addr = address_of(e["address"], name)
                got = []
                for kind in ("holding", "input"):
                    w = c.words(addr, kind, self.meter["slave_address"])
                    got.append(decode(w, order) * float(e["multiplier"]))
                self.assertEqual(got[0], got[1], "%s: FC 0x03 and 0x04 differ" % name)
                out[name] = (got[0], e["unit"])
        finally:
            c.close()
        return out

    def test_reads_match_the_telegram(self):
        dev = Device(self, *self.r["sc_sim"]["args"])
        values = dev.feed()
        order = ALFEN_ORDER[self.meter["word_order"]]
        for name, (got, unit) in self.read(dev.sim, order).items():
            want = truth_in(values, ALFEN[name], unit, "alfen-ace.md " + name)
            self.assertTrue(close(got, want),
                            "%s: read %r, the telegram says %r" % (name, got, want))

    def test_the_other_word_order_reads_wrong(self):
        """The same sc-sim (AB CD) read in CD AB: every value is nonsense."""
        dev = Device(self, *self.r["sc_sim"]["args"])
        values = dev.feed()
        order = ALFEN_ORDER[self.meter["word_order"]]
        other = "cdab" if order == "abcd" else "abcd"
        for name, (got, unit) in self.read(dev.sim, other).items():
            want = truth_in(values, ALFEN[name], unit, name)
            self.assertTrue(far(got, want),
                            "%s in %s: %r is too close to %r" % (name, other, got, want))

    def test_sc_sim_without_the_switch_does_not_fit(self):
        """A default sc-sim (CD AB) read as the recipe says: nonsense, so the
        recipe's sc-sim arguments are needed."""
        dev = Device(self)
        values = dev.feed()
        order = ALFEN_ORDER[self.meter["word_order"]]
        for name, (got, unit) in self.read(dev.sim, order).items():
            want = truth_in(values, ALFEN[name], unit, name)
            self.assertTrue(far(got, want), "%s: %r is too close to %r" % (name, got, want))


class Evcc(unittest.TestCase):
    """recipes/evcc.yaml: a custom grid meter with evcc's Modbus plugin."""

    def setUp(self):
        self.text = load("evcc.yaml")
        doc = yaml.safe_load(self.text)
        meters = doc["meters"]
        self.assertEqual(len(meters), 1)
        self.meter = meters[0]
        self.assertEqual(self.meter["name"], "grid")
        self.assertEqual(self.meter["type"], "custom")

    def plugins(self):
        """(what, plugin, quantity, evcc's unit) for every value evcc reads."""
        out = []
        for key, v in self.meter.items():
            if key in ("name", "type"):
                continue
            if key in EVCC_FIELDS:
                q, unit = EVCC_FIELDS[key]
                out.append((key, v, q, unit))
            elif key in EVCC_LISTS:
                suffix, unit = EVCC_LISTS[key]
                self.assertEqual(len(v), 3, key + ": one per phase")
                for i, p in enumerate(v):
                    out.append(("%s[%d]" % (key, i), p, "l%d.%s" % (i + 1, suffix), unit))
            else:
                raise AssertionError("evcc.yaml: the test does not know meter field %r" % key)
        self.assertIn("power", self.meter)
        return out

    def read(self, sim):
        """{what: (value as evcc computes it, quantity, unit)}."""
        c = None
        out = {}
        try:
            for what, p, q, unit in self.plugins():
                extra = set(p) - EVCC_PLUGIN_KEYS
                self.assertFalse(extra,
                                 "%s: plugin keys the test does not know: %s" % (what, extra))
                self.assertEqual(p["source"], "modbus", what)
                host, _, port = p["uri"].rpartition(":")
                lhost, lport = local(host, port, sim, "evcc.yaml " + what)
                if c is None:
                    c = Modbus(lhost, lport)
                self.assertEqual(p["id"], 1, what)
                reg = p["register"]
                enc = reg.get("decode", reg.get("encoding"))
                self.assertFalse("decode" in reg and "encoding" in reg, what)
                if enc not in EVCC_DECODE:
                    raise AssertionError("%s: decode %r is not one the test knows" % (what, enc))
                w = c.words(address_of(reg["address"], what), reg["type"], p["id"])
                out[what] = (decode(w, EVCC_DECODE[enc]) * float(p.get("scale", 1)), q, unit)
        finally:
            if c:
                c.close()
        return out

    def test_placeholders(self):
        check_placeholders(self, self.text, "evcc.yaml")

    def test_reads_match_the_telegram(self):
        dev = Device(self)
        values = dev.feed()
        got = self.read(dev.sim)
        for what, (v, q, unit) in got.items():
            want = truth_in(values, q, unit, "evcc.yaml " + what)
            self.assertTrue(close(v, want), "%s: evcc would read %r, the telegram says %r"
                            % (what, v, want))
        # evcc signs each grid current with its phase's power: the currents
        # and powers lists must be in the same phase order.
        if "currents" in self.meter and "powers" in self.meter:
            for i in range(3):
                cur, p = got["currents[%d]" % i][0], got["powers[%d]" % i][0]
                signed = -abs(cur) if p < 0 else cur
                want = math.copysign(values["l%d.I" % (i + 1)], values["l%d.P" % (i + 1)])
                self.assertTrue(close(signed, want), "phase %d current as evcc signs it" % (i + 1))

    def test_energy_scale_is_for_firmware_5_1_and_later(self):
        """Firmware before 5.1 served kWh: the recipe's scale then reads 1/1000,
        as its comment says."""
        dev = Device(self, "--firmware", "5.0.3")
        values = dev.feed()
        v, q, unit = self.read(dev.sim)["energy"]
        self.assertTrue(close(v * 1000, truth_in(values, q, unit, "energy")), v)


class HomeAssistant(unittest.TestCase):
    """recipes/home-assistant.yaml: its modbus: and mqtt: blocks."""

    def setUp(self):
        self.text = load("home-assistant.yaml")
        self.doc = yaml.safe_load(self.text)

    def test_placeholders(self):
        check_placeholders(self, self.text, "home-assistant.yaml")

    def check_sensor_meta(self, s, q, what):
        unit = s["unit_of_measurement"]
        if unit not in UNITS:
            raise AssertionError("%s: unit %r is not one the test knows" % (what, unit))
        dc = s.get("device_class")
        self.assertIn(dc, DEVICE_CLASS_UNIT, what)
        self.assertEqual(UNITS[unit][0], DEVICE_CLASS_UNIT[dc], "%s: %s for %s" % (what, unit, dc))
        self.assertEqual(quantity_unit(q), DEVICE_CLASS_UNIT[dc],
                         "%s: %s is not %s" % (what, q, dc))
        self.assertEqual(s.get("state_class"),
                         "total_increasing" if dc == "energy" else "measurement", what)

    def test_modbus_sensors_match_the_telegram(self):
        hubs = self.doc["modbus"]
        self.assertEqual(len(hubs), 1)
        hub = hubs[0]
        self.assertEqual(hub["type"], "tcp")
        dev = Device(self)
        values = dev.feed()
        host, port = local(hub["host"], hub["port"], dev.sim, "home-assistant.yaml modbus")
        c = Modbus(host, port)
        try:
            self.assertTrue(hub["sensors"])
            seen = set()
            for s in hub["sensors"]:
                uid = s.get("unique_id")
                if uid not in HA_MODBUS:
                    raise AssertionError("home-assistant.yaml: sensor %r has a unique_id the "
                                         "test does not know: %r" % (s.get("name"), uid))
                self.assertNotIn(uid, seen)
                seen.add(uid)
                q = HA_MODBUS[uid]
                self.check_sensor_meta(s, q, uid)
                self.assertEqual(s["data_type"], "float32", uid)
                self.assertIn(s.get("count", 2), (2,), uid)
                swap = s.get("swap")
                if swap not in HA_SWAP:
                    raise AssertionError("%s: swap %r is not one the test knows" % (uid, swap))
                unit_id = s.get("slave", s.get("device_address"))
                self.assertEqual(unit_id, 1, uid)
                w = c.words(address_of(s["address"], uid), s.get("input_type", "holding"), unit_id)
                # Home Assistant: value = scale * raw + offset, rounded to precision.
                v = float(s.get("scale", 1)) * decode(w, HA_SWAP[swap]) + float(s.get("offset", 0))
                prec = int(s.get("precision", 0))
                v = round(v, prec)
                want = truth_in(values, q, s["unit_of_measurement"], uid)
                self.assertTrue(close(v, want, 0.5 * 10 ** -prec + 1e-9),
                                "%s: Home Assistant would show %r, the telegram says %r"
                                % (uid, v, want))
        finally:
            c.close()

    def test_mqtt_sensors_match_the_telegram(self):
        sensors = self.doc["mqtt"]["sensor"]
        self.assertTrue(sensors)
        topics = set()
        seen = set()
        for s in sensors:
            uid = s.get("unique_id")
            if uid not in HA_MQTT:
                raise AssertionError("home-assistant.yaml: MQTT sensor %r has a unique_id the "
                                     "test does not know: %r" % (s.get("name"), uid))
            self.assertNotIn(uid, seen)
            seen.add(uid)
            self.assertEqual(template_quantity(s["value_template"]), HA_MQTT[uid],
                             "%s: the template reads another key" % uid)
            m = TOPIC.match(s["state_topic"])
            self.assertTrue(m, "%s: %s is not a power_instant topic" % (uid, s["state_topic"]))
            self.assertEqual((m.group("site"), m.group("serial")), (SITE, SERIAL),
                             "%s: not the documented placeholders" % uid)
            # The placeholders replaced by the test's site and serial.
            topics.add(s["state_topic"].replace("devices/%s/" % SITE, "devices/%s/" % TEST_SITE)
                       .replace("/%s/" % SERIAL, "/%s/" % TEST_SERIAL))
            self.check_sensor_meta(s, template_quantity(s["value_template"]), uid)
        self.assertEqual(len(topics), 1, "the sensors subscribe to one topic")
        topic = topics.pop()
        self.assertEqual(topic, "devices/%s/smart-connect/%s/data/power_instant"
                         % (TEST_SITE, TEST_SERIAL))

        tmp = brokertest.tmpdir()
        self.addCleanup(shutil.rmtree, tmp, True)
        broker = brokertest.Broker(tmp)
        self.addCleanup(broker.close)
        sub = brokertest.Subscriber(broker.port, topic)
        self.addCleanup(sub.close)
        dev = Device(self, "--mqtt", "tcp://127.0.0.1:%d" % broker.port, "--site", TEST_SITE,
                     "--serial-number", TEST_SERIAL)
        dev.sim.wait_for(r"mqtt: connected")
        values = dev.feed()
        got = sub.until(lambda m: m[0] == topic, timeout=15)
        payload = json.loads(got[-1][1])
        for s in sensors:
            uid = s["unique_id"]
            v = apply_template(s["value_template"], payload)
            q = template_quantity(s["value_template"])
            want = truth_in(values, q, s["unit_of_measurement"], uid)
            self.assertTrue(close(v, want), "%s: Home Assistant would show %r, the telegram says %r"
                            % (uid, v, want))


# ---- the twin's quick starts ----

STEP = re.compile(r"^(?:#\s*)?\$ (.+)$", re.M)
TRY = re.compile(r"^(?:#\s*)?try: (.+)$", re.M)
# What the quick starts call the machine running the twin, besides loopback.
TWIN_HOSTS = {"127.0.0.1", "192.168.1.60"}
SC_CTL = os.path.join(simtest.BUILD, "sim", "sc-ctl")


def p1_epoch(tel):
    """The telegram's 0-0:1.0.0 as UTC epoch (W = UTC+1, S = UTC+2)."""
    m = re.search(rb"0-0:1\.0\.0\((\d{12})([WS])\)", tel)
    t = datetime.datetime.strptime(m.group(1).decode(), "%y%m%d%H%M%S")
    t = t.replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) - (3600 if m.group(2) == b"W" else 7200)


class QuickStart:
    """The processes of a recipe's quick start, started as its "$" lines say."""

    def __init__(self, test, text, name):
        self.test, self.name = test, name
        self.ports = {}           # the port the recipe writes -> the port in use
        self.sim = self.broker = None
        steps = [shlex.split(c) for c in STEP.findall(text)]
        test.assertTrue(steps, "%s: no quick start ($ lines)" % name)
        for argv in steps:
            if argv[0] == "sudo":
                argv = argv[1:]
            prog = os.path.basename(argv[0])
            if prog == "mosquitto":
                self.start_broker(argv)
            elif prog == "sc-sim" and argv[0] in ("sc-sim", "build/sim/sc-sim"):
                self.start_sim(argv)
            else:
                raise AssertionError("%s: the quick start runs %r, which the test does not know"
                                     % (name, " ".join(argv)))
        test.assertIsNotNone(self.sim, "%s: the quick start starts no sc-sim" % name)
        self.tries = [shlex.split(c) for c in TRY.findall(text)]

    def start_broker(self, argv):
        self.test.assertEqual(len(argv), 3, argv)
        self.test.assertEqual(argv[1], "-p", argv)
        tmp = brokertest.tmpdir()
        self.test.addCleanup(shutil.rmtree, tmp, True)
        self.broker = brokertest.Broker(tmp)
        self.test.addCleanup(self.broker.close)
        self.ports[int(argv[2])] = self.broker.port

    def start_sim(self, argv):
        args, servers = [], []
        for prev, a in zip([""] + argv[1:], argv[1:]):
            m = re.fullmatch(r"(mqtts?|tcp)://127\.0\.0\.1:(\d+)", a)
            if m:
                if int(m.group(2)) not in self.ports:
                    raise AssertionError("%s: sc-sim's broker %s is started by no earlier line"
                                         % (self.name, a))
                a = "%s://127.0.0.1:%d" % (m.group(1), self.ports[int(m.group(2))])
            elif re.fullmatch(r"\d+\.\d+\.\d+\.\d+:\d+", a):
                host, port = a.rsplit(":", 1)
                servers.append((prev, int(port)))
                a = host + ":0"
            args.append(a)
        self.password = args[args.index("--password") + 1]
        self.sim = Sim(*args, timeout=30)
        self.test.addCleanup(self.sim.__exit__)
        got = {"--modbus": self.sim.port, "--http": self.sim.http_port,
               "--https": self.sim.https_port}
        for opt, port in servers:
            self.test.assertIn(opt, got, "%s: %s ADDR:PORT" % (self.name, opt))
            self.ports[port] = got[opt]
        self.test.assertIsNotNone(self.sim.https_port,
                                  "%s: the quick start's twin serves no HTTPS API" % self.name)

    def local(self, host, port, what):
        """The address the configuration names, as the test reaches it."""
        if host not in TWIN_HOSTS or int(port) not in self.ports:
            raise AssertionError("%s: %s:%s is not the twin the quick start started"
                                 % (what, host, port))
        return "127.0.0.1", self.ports[int(port)]

    def snapshot(self, read):
        """(the telegram's values, read()) for a read between two identical
        answers of the twin's API: the values of one telegram."""
        for _ in range(30):
            before = api_telegram(self.sim, self.password)
            got = read()
            after = api_telegram(self.sim, self.password)
            if before is not None and before == after:
                return simtest.p1_values(before), got
        raise AssertionError("%s: no read fell between two telegrams in 30 tries" % self.name)

    def mqtt_snapshot(self, topic):
        """(the telegram's values, its power_instant from mosquitto_sub on
        topic): a message and the API's telegram with the same timestamp."""
        port = self.broker.port if self.broker else None
        self.test.assertIsNotNone(port, "%s: MQTT without a broker" % self.name)
        for _ in range(15):
            p = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                                "-C", "1", "-W", "15"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            self.test.assertEqual(p.returncode, 0, "%s: nothing on %s: %s"
                                  % (self.name, topic, p.stderr.decode()))
            payload = json.loads(p.stdout)
            tel = api_telegram(self.sim, self.password)
            if tel is not None and p1_epoch(tel) == payload["ts"]:
                return simtest.p1_values(tel), payload
        raise AssertionError("%s: no message matched the API's telegram in 15 tries" % self.name)

    def run_try(self, argv):
        """Runs a "try:" line: sc-ctl, told the twin's URL."""
        if argv[0] not in ("sc-ctl", "build/sim/sc-ctl"):
            raise AssertionError("%s: try: %r is not sc-ctl" % (self.name, " ".join(argv)))
        url = "http://127.0.0.1:%d" % self.ports[8080]
        p = subprocess.run([SC_CTL, "--url", url, *argv[1:]], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.test.assertEqual(p.returncode, 0, "%s: %s: %s"
                              % (self.name, " ".join(argv), p.stdout.decode()))

    def load_step(self, read):
        """The try: lines in order: `set KEY=VALUE`, after which read() must
        come to VALUE, then `set --profile`, after which it leaves it."""
        self.test.assertEqual(len(self.tries), 2, "%s: two try: lines" % self.name)
        self.test.assertEqual(self.tries[1][1:], ["set", "--profile"], self.name)
        args = self.tries[0][1:]
        self.test.assertEqual((args[0], len(args)), ("set", 2), self.tries[0])
        want = {k: float(v) for k, v in (a.split("=", 1) for a in args[1:])}
        self.run_try(self.tries[0])
        wait_until(lambda: close_enough(read(), list(want.values())[0]), timeout=20)
        self.run_try(self.tries[1])
        wait_until(lambda: not close_enough(read(), list(want.values())[0]), timeout=20)
        return want


def close_enough(got, want):
    return close(got, want, 0.01 * abs(want) + 0.5)


class EvccTwin(unittest.TestCase):
    """recipes/evcc-twin.yaml: its quick start, then evcc's reads."""

    def setUp(self):
        self.text = load("evcc-twin.yaml")
        meters = yaml.safe_load(self.text)["meters"]
        self.assertEqual(len(meters), 1)
        self.meter = meters[0]
        self.assertEqual((self.meter["name"], self.meter["type"]), ("grid", "custom"))
        self.qs = QuickStart(self, self.text, "evcc-twin.yaml")

    def read(self):
        """{what: (value as evcc computes it, quantity, unit)}."""
        c = None
        out = {}
        try:
            for what, p, q, unit in Evcc.plugins(self):
                self.assertFalse(set(p) - EVCC_PLUGIN_KEYS, what)
                self.assertEqual((p["source"], p["id"]), ("modbus", 1), what)
                host, _, port = p["uri"].rpartition(":")
                if c is None:
                    c = Modbus(*self.qs.local(host, port, "evcc-twin.yaml " + what))
                reg = p["register"]
                enc = reg.get("decode", reg.get("encoding"))
                if enc not in EVCC_DECODE:
                    raise AssertionError("%s: decode %r is not one the test knows" % (what, enc))
                w = c.words(address_of(reg["address"], what), reg["type"], p["id"])
                out[what] = (decode(w, EVCC_DECODE[enc]) * float(p.get("scale", 1)), q, unit)
        finally:
            if c:
                c.close()
        return out

    def test_quick_start_reads_the_twin(self):
        values, got = self.qs.snapshot(self.read)
        self.assertIn("power", got)
        for what, (v, q, unit) in got.items():
            want = truth_in(values, q, unit, "evcc-twin.yaml " + what)
            self.assertTrue(close(v, want), "%s: evcc would read %r, the telegram says %r"
                            % (what, v, want))

    def test_quick_start_load_step(self):
        """The try: lines: the value set by hand is what evcc reads."""
        want = self.qs.load_step(lambda: self.read()["powers[0]"][0])
        self.assertEqual(list(want), ["l1.P"])


class HomeAssistantTwin(unittest.TestCase):
    """recipes/home-assistant-twin.yaml: its quick start (a broker, the twin),
    then Home Assistant's Modbus and MQTT sensors."""

    def setUp(self):
        self.text = load("home-assistant-twin.yaml")
        self.doc = yaml.safe_load(self.text)
        self.qs = QuickStart(self, self.text, "home-assistant-twin.yaml")

    def quantity(self, table, uid):
        if not uid.startswith("twin_") or uid[5:] not in table:
            raise AssertionError("home-assistant-twin.yaml: unique_id %r is not one the test "
                                 "knows" % uid)
        return table[uid[5:]]

    def read_modbus(self):
        """{unique_id: (value as Home Assistant shows it, quantity, sensor)}."""
        hubs = self.doc["modbus"]
        self.assertEqual(len(hubs), 1)
        hub = hubs[0]
        self.assertEqual(hub["type"], "tcp")
        c = Modbus(*self.qs.local(hub["host"], hub["port"], "home-assistant-twin.yaml modbus"))
        out = {}
        try:
            for s in hub["sensors"]:
                uid = s["unique_id"]
                q = self.quantity(HA_MODBUS, uid)
                self.assertEqual((s["data_type"], s.get("slave", s.get("device_address"))),
                                 ("float32", 1), uid)
                swap = s.get("swap")
                if swap not in HA_SWAP:
                    raise AssertionError("%s: swap %r is not one the test knows" % (uid, swap))
                w = c.words(address_of(s["address"], uid), s.get("input_type", "holding"), 1)
                v = float(s.get("scale", 1)) * decode(w, HA_SWAP[swap]) + float(s.get("offset", 0))
                out[uid] = (round(v, int(s.get("precision", 0))), q, s)
        finally:
            c.close()
        return out

    def test_quick_start_modbus(self):
        values, got = self.qs.snapshot(self.read_modbus)
        self.assertEqual(len(got), len(HA_MODBUS))
        for uid, (v, q, s) in got.items():
            HomeAssistant.check_sensor_meta(self, s, q, uid)
            want = truth_in(values, q, s["unit_of_measurement"], uid)
            prec = int(s.get("precision", 0))
            self.assertTrue(close(v, want, 0.5 * 10 ** -prec + 1e-9),
                            "%s: Home Assistant would show %r, the telegram says %r"
                            % (uid, v, want))

    def test_quick_start_mqtt(self):
        sensors = self.doc["mqtt"]["sensor"]
        topics = {s["state_topic"] for s in sensors}
        self.assertEqual(len(topics), 1, "the sensors subscribe to one topic")
        topic = topics.pop()
        self.assertTrue(TOPIC.match(topic), topic)
        values, payload = self.qs.mqtt_snapshot(topic)
        self.assertEqual(len(sensors), len(HA_MQTT))
        for s in sensors:
            uid = s["unique_id"]
            q = self.quantity(HA_MQTT, uid)
            self.assertEqual(template_quantity(s["value_template"]), q, uid)
            HomeAssistant.check_sensor_meta(self, s, q, uid)
            v = apply_template(s["value_template"], payload)
            want = truth_in(values, q, s["unit_of_measurement"], uid)
            self.assertTrue(close(v, want), "%s: Home Assistant would show %r, the telegram says "
                            "%r" % (uid, v, want))

    def test_quick_start_load_step(self):
        want = self.qs.load_step(lambda: self.read_modbus()["twin_smart_connect_power"][0])
        self.assertEqual(list(want), ["P"])


class AlfenAceTwin(unittest.TestCase):
    """recipes/alfen-ace-twin.md: its quick start (the AB CD switch on port
    502, here a free port), then the charger's custom mapping."""

    def setUp(self):
        self.text = load("alfen-ace-twin.md")
        self.meter = alfen_block(self.text, "alfen-ace-twin")["meter"]
        self.qs = QuickStart(self, self.text, "alfen-ace-twin.md")

    def test_settings_and_table(self):
        self.assertEqual((self.meter["connection"], self.meter["mapping"],
                          self.meter["slave_address"]), ("TCP/IP meter", "custom", 1))
        block = [(e["measurement"], address_of(e["address"], e["measurement"]), e["type"],
                  float(e["multiplier"]), e["unit"]) for e in self.meter["registers"]]
        self.assertEqual(alfen_table(self.text), block, "the table and the yaml block differ")
        self.assertEqual(sorted(e[0] for e in block), sorted(ALFEN))
        self.assertIn("| IP address | `%s` |" % self.meter["host"], self.text)
        self.assertIn("| word order | %s |" % self.meter["word_order"], self.text)

    def read(self):
        c = Modbus(*self.qs.local(self.meter["host"], self.meter["port"], "alfen-ace-twin.md"))
        order = ALFEN_ORDER[self.meter["word_order"]]
        out = {}
        try:
            for e in self.meter["registers"]:
                self.assertEqual(e["type"], "FLOAT32")
                w = c.words(address_of(e["address"], e["measurement"]), "holding",
                            self.meter["slave_address"])
                out[e["measurement"]] = (decode(w, order) * float(e["multiplier"]), e["unit"])
        finally:
            c.close()
        return out

    def test_quick_start_reads_the_twin(self):
        values, got = self.qs.snapshot(self.read)
        self.assertEqual(sorted(got), sorted(ALFEN))
        for name, (v, unit) in got.items():
            want = truth_in(values, ALFEN[name], unit, "alfen-ace-twin.md " + name)
            self.assertTrue(close(v, want), "%s: read %r, the telegram says %r" % (name, v, want))

    def test_quick_start_load_step(self):
        want = self.qs.load_step(lambda: self.read()["Real power L1"][0])
        self.assertEqual(list(want), ["l1.P"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
