#!/usr/bin/python3
"""An independent Smart Connect (P1 or TIC variant) for sc-hil's tests.

Written from the vendor's manual (v1.8: §5.2 HTTP API, §5.3 Modbus TCP,
§5.4 MQTT) and the DSMR 5.0.2 P1 companion standard only. It imports nothing
of this project and reads none of its files: it is a second, separate
reading of the manual, so that sc-hil is tested against a device under test
that is not its own twin.

It reads DSMR P1 telegrams (CRC-16/ARC checked), or with --device tic Linky
TIC frames in standard mode (every group's checksum checked), from a serial
device or pty (--meter), and serves:
  - Modbus TCP: the EMpro map, float32, words CD AB (low word first), FC 3
    and 4; every register of 0x8000-0x8C37 answers, 0 where no value;
  - MQTT: power_instant on devices/<site>/smart-connect/<serial>/data/ for
    every telegram that parses, device_counters every --counters-interval s;
  - HTTP (plain), Basic auth user `user`: /api/v1/status (the manual's
    document: MeterType, DefaultNetIf, Ethernet, WiFi, MQTT), /api/v1/config
    (GET, PATCH merging; MQTT settings take effect at a reset),
    /api/v1/reset, /api/v1/firmware, /api/v1/telegram.

Faults (--fault, repeatable), each a way a unit could be wrong:
  word-order        floats served in the other word order than --word-order
                    (AB CD, high word first, by default)
  kwh               energy in kWh (as firmware before 5.1 did)
  export-sign       P (total and per phase) positive when exporting
  swap-phases=A,B   two phases' values swapped (default L1,L2)
  late              registers and power_instant one telegram late
  drop-mqtt=N       the power_instant of telegrams 4, 4+N, 4+2N ... not sent
Benign quirks: --float32 (MQTT numbers held as float32), --own-clock-ts
(ts from its own clock, not the meter's).

Prints `indie-dongle ready modbus PORT http PORT` on stdout once every
server listens (ports given as 0 are chosen by the system)."""

import argparse
import asyncio
import base64
import calendar
import copy
import json
import logging
import os
import select
import struct
import sys
import termios
import threading
import time
import urllib.parse
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
from pymodbus.datastore import (ModbusServerContext, ModbusSequentialDataBlock,
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusTcpServer

MAP_FIRST, MAP_END = 0x8000, 0x8C38   # registers 0x8000-0x8C37

# The EMpro map of manual §5.3: register -> key of the reading ("l1.U" is
# phase 1's voltage).
REGISTERS = {
    0x8006: "l1.U", 0x8008: "l2.U", 0x800A: "l3.U",
    0x800E: "l1.I", 0x8010: "l2.I", 0x8012: "l3.I",
    0x8016: "P", 0x8018: "Q", 0x801A: "S", 0x801C: "PF",
    0x801E: "l1.P", 0x8020: "l2.P", 0x8022: "l3.P",
    0x8024: "l1.Q", 0x8026: "l2.Q", 0x8028: "l3.Q",
    0x802A: "l1.S", 0x802C: "l2.S", 0x802E: "l3.S",
    0x8100: "E_IMPORT", 0x8106: "E_EXPORT",
    0x8C00: "Q+", 0x8C02: "Q-",
    0x8C04: "l1.Q+", 0x8C06: "l1.Q-", 0x8C08: "l2.Q+", 0x8C0A: "l2.Q-",
    0x8C0C: "l3.Q+", 0x8C0E: "l3.Q-",
    0x8C10: "EQ1", 0x8C12: "EQ2", 0x8C14: "EQ3", 0x8C16: "EQ4",
    0x8C18: "l1.VSAGS", 0x8C1A: "l2.VSAGS", 0x8C1C: "l3.VSAGS",
    0x8C1E: "l1.VSWELLS", 0x8C20: "l2.VSWELLS", 0x8C22: "l3.VSWELLS",
    0x8C24: "PFAIL", 0x8C26: "LPFAIL",
    0x8C28: "P+", 0x8C2A: "P-",
    0x8C2C: "l1.P+", 0x8C2E: "l1.P-", 0x8C30: "l2.P+", 0x8C32: "l2.P-",
    0x8C34: "l3.P+", 0x8C36: "l3.P-",
}
# power_instant's keys in the order of the manual's example (§5.4).
TOP_KEYS = ["ts", "P", "P+", "P-", "E_IMPORT", "E_EXPORT", "U12", "U31", "U32",
            "l1", "l2", "l3", "Q", "Q+", "Q-", "EQ1", "EQ2", "EQ3", "EQ4",
            "PFAIL", "LPFAIL", "PF", "S"]
PHASE_KEYS = ["U", "I", "P", "P+", "P-", "Q", "Q+", "Q-", "VSAGS", "VSWELLS", "S"]


def log(*words):
    print("indie-dongle:", *words, file=sys.stderr, flush=True)


# --- P1 (DSMR) --------------------------------------------------------------

def crc16_arc(data):
    """CRC-16/ARC: polynomial 0xA001 (reflected 0x8005), initial 0."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class Telegrams:
    """Cuts a byte stream into telegrams: '/' ... '!' CRC CR LF. Anything
    before a '/' is noise; a telegram longer than 8 KiB is dropped."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        """Yields (raw bytes, CRC ok)."""
        self.buf += data
        while True:
            start = self.buf.find(b"/")
            if start < 0:
                self.buf = b""
                return
            self.buf = self.buf[start:]
            bang = self.buf.find(b"!")
            if bang < 0:
                if len(self.buf) > 8192:
                    self.buf = self.buf[1:]
                    continue
                return
            # A new header before the '!' means the first was cut.
            again = self.buf.find(b"/", 1, bang)
            if again > 0:
                self.buf = self.buf[again:]
                continue
            eol = self.buf.find(b"\n", bang)
            if eol < 0:
                if len(self.buf) - bang > 16:
                    self.buf = self.buf[bang + 1:]
                    continue
                return
            raw = self.buf[:eol + 1]
            self.buf = self.buf[eol + 1:]
            given = raw[bang + 1:].strip()
            try:
                ok = int(given, 16) == crc16_arc(raw[:bang + 1]) and len(given) == 4
            except ValueError:
                ok = False
            yield raw, ok


def p1_objects(raw):
    """{OBIS: [value strings]} of a telegram's lines."""
    objs = {}
    for line in raw.decode("ascii", "replace").split("\n"):
        line = line.strip()
        if not line or line[0] in "/!" or "(" not in line:
            continue
        obis, rest = line.split("(", 1)
        values = ("(" + rest).replace(")(", ")\x00(").split("\x00")
        objs[obis] = [v.strip("()") for v in values]
    return objs


def number(text):
    """Decimal of '001234.567*kWh' (None when not a number), and its unit."""
    value, _, unit = text.partition("*")
    try:
        return Decimal(value), unit
    except ArithmeticError:
        return None, unit


def p1_timestamp(text):
    """UTC epoch of a TST 'YYMMDDhhmmssX' (X: S = UTC+2, W = UTC+1)."""
    if len(text) != 13 or not text[:12].isdigit() or text[12] not in "SW":
        return None
    y, mo, d, h, mi, s = (int(text[i:i + 2]) for i in range(0, 12, 2))
    try:
        local = calendar.timegm((2000 + y, mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return local - (7200 if text[12] == "S" else 3600)


def p1_reading(raw):
    """The device's reading of a telegram: a dict of Decimals (None where
    the telegram does not say), the manual's §5.4 keys, phases as 'l1.U'."""
    objs = p1_objects(raw)

    def scaled(obis, to_base):
        if obis not in objs:
            return None
        v, unit = number(objs[obis][-1])
        if v is None:
            return None
        if unit.lower() in ("kw", "kwh", "kvar", "kvarh") and to_base:
            v *= 1000
        return v

    def diff(a, b):
        return None if a is None or b is None else a - b

    r = {}
    r["ts"] = p1_timestamp(objs.get("0-0:1.0.0", [""])[0])
    r["P+"] = scaled("1-0:1.7.0", True)
    r["P-"] = scaled("1-0:2.7.0", True)
    r["P"] = diff(r["P+"], r["P-"])
    for key, direction in (("E_IMPORT", "1"), ("E_EXPORT", "2")):
        total = scaled("1-0:%s.8.0" % direction, True)
        if total is None:
            tariffs = [scaled("1-0:%s.8.%d" % (direction, t), True) for t in range(1, 5)]
            tariffs = [t for t in tariffs if t is not None]
            total = sum(tariffs) if tariffs else None
        r[key] = total
    r["Q+"] = scaled("1-0:3.7.0", True)
    r["Q-"] = scaled("1-0:4.7.0", True)
    r["Q"] = diff(r["Q+"], r["Q-"])
    for n, q in enumerate(("5", "6", "7", "8"), 1):
        r["EQ%d" % n] = scaled("1-0:%s.8.0" % q, True)
    r["PFAIL"] = scaled("0-0:96.7.21", False)
    r["LPFAIL"] = scaled("0-0:96.7.9", False)
    for n, c in ((1, "3"), (2, "5"), (3, "7")):
        p = "l%d." % n
        r[p + "U"] = scaled("1-0:%s2.7.0" % c, False)
        r[p + "I"] = scaled("1-0:%s1.7.0" % c, False)
        r[p + "P+"] = scaled("1-0:%d1.7.0" % (2 * n), True)
        r[p + "P-"] = scaled("1-0:%d2.7.0" % (2 * n), True)
        r[p + "P"] = diff(r[p + "P+"], r[p + "P-"])
        r[p + "Q+"] = scaled("1-0:%d3.7.0" % (2 * n), True)
        r[p + "Q-"] = scaled("1-0:%d4.7.0" % (2 * n), True)
        r[p + "Q"] = diff(r[p + "Q+"], r[p + "Q-"])
        r[p + "VSAGS"] = scaled("1-0:%s2.32.0" % c, False)
        r[p + "VSWELLS"] = scaled("1-0:%s2.36.0" % c, False)
        r[p + "S"] = None
    for k in ("U12", "U31", "U32"):
        r[k] = None
    # Apparent power and power factor: P1 carries neither. The manual's
    # example (exporting, no reactive power) gives S = 4058, the sum of the
    # phases' |P|, and PF = -1: P over sqrt(P^2 + Q^2), Q being 0.
    phases = [r["l%d.P" % n] for n in (1, 2, 3) if r["l%d.P" % n] is not None]
    r["S"] = sum(abs(p) for p in phases) if phases else None
    if r["P"] is None:
        r["PF"] = None
    else:
        q = r["Q"] or Decimal(0)
        if r["P"] == 0 and q == 0:
            r["PF"] = None
        else:
            pf = float(r["P"]) / (float(r["P"]) ** 2 + float(q) ** 2) ** 0.5
            r["PF"] = Decimal(max(-1.0, min(1.0, pf)))
    return r


# --- TIC (Linky, standard mode) ----------------------------------------------------

class TicFrames:
    """Cuts a 7-bit byte stream into frames: STX ... ETX. EOT abandons the
    frame being read; an STX inside a frame starts a new one."""

    def __init__(self):
        self.frame = None

    def feed(self, data):
        """Yields (frame bytes between STX and ETX, every group's checksum
        and shape right)."""
        for b in data:
            b &= 0x7F                      # the parity bit of 7E1
            if b == 0x02:
                self.frame = bytearray()
            elif b == 0x04:
                self.frame = None
            elif self.frame is None:
                continue
            elif b == 0x03:
                frame, self.frame = bytes(self.frame), None
                yield frame, tic_groups(frame) is not None
            else:
                self.frame.append(b)
                if len(self.frame) > 8192:
                    self.frame = None


def tic_groups(frame):
    """{label: (horodate or None, data)} of a standard-mode frame, or None
    when a group is malformed or its checksum is wrong. Checksum: the sum of
    the bytes from the label through the HT before the checksum, & 0x3F, +
    0x20 (a space is a valid checksum: nothing is trimmed)."""
    groups = {}
    for part in frame.split(b"\n")[1:]:
        if not part.endswith(b"\r"):
            return None
        g = part[:-1]
        if len(g) < 3 or g[-2:-1] != b"\t":
            return None
        if (sum(g[:-1]) & 0x3F) + 0x20 != g[-1]:
            return None
        fields = g[:-2].decode("ascii").split("\t")
        if len(fields) == 2:
            groups[fields[0]] = (None, fields[1])
        elif len(fields) == 3:
            groups[fields[0]] = (fields[1], fields[2])
        else:
            return None
    return groups or None


def tic_horodate(text):
    """UTC epoch of a horodate 'SYYMMDDhhmmss' (E summer UTC+2, H winter
    UTC+1; lower case: the meter's clock degraded, same offsets)."""
    if not text or len(text) != 13 or text[0] not in "EeHh" or not text[1:].isdigit():
        return None
    y, mo, d, h, mi, s = (int(text[i:i + 2]) for i in range(1, 13, 2))
    try:
        local = calendar.timegm((2000 + y, mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return local - (7200 if text[0] in "Ee" else 3600)


def tic_reading(frame):
    """The device's reading of a TIC frame (TIC.md's mapping): P = SINSTS -
    SINSTI (VA taken as W), per-phase P and S = SINSTSn (never negative;
    a single-phase meter's SINSTS on L1), S = SINSTS, energy EAST / EAIT,
    EQ1-4 = ERQ1-4, U = URMSn, I = IRMSn; the rest is not in TIC."""
    g = tic_groups(frame) or {}

    def val(label):
        if label not in g:
            return None
        try:
            return Decimal(int(g[label][1]))
        except ValueError:
            return None

    r = {k: None for k in REGISTERS.values()}
    r.update({k: None for k in ("U12", "U31", "U32")})
    r["ts"] = tic_horodate(g["DATE"][0]) if "DATE" in g else None
    sinsts, sinsti = val("SINSTS"), val("SINSTI")
    if sinsts is None:                      # pilot meters
        sinsts = val("SINST1")
    r["P"] = None if sinsts is None else sinsts - (sinsti or 0)
    r["S"] = sinsts
    r["E_IMPORT"], r["E_EXPORT"] = val("EAST"), val("EAIT")
    for n in range(1, 5):
        r["EQ%d" % n] = val("ERQ%d" % n)
    three = "SINSTS1" in g or "IRMS2" in g
    for n in (1, 2, 3):
        p = "l%d." % n
        r[p + "U"], r[p + "I"] = val("URMS%d" % n), val("IRMS%d" % n)
        r[p + "P"] = val("SINSTS%d" % n) if three else (sinsts if n == 1 else None)
        r[p + "S"] = r[p + "P"]
    return r


# --- the device ---------------------------------------------------------------

def version_tuple(text):
    try:
        return tuple(int(x) for x in text.split(".")[:3])
    except ValueError:
        return (0,)


class Dongle:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.faults = {}
        for f in args.fault:
            kind, _, value = f.partition("=")
            self.faults[kind] = value
        self.config = {
            "MeterType": "PhoenixContact-EMPro",
            "DefaultNetIf": "Ethernet",
            "Ethernet": {"IpMode": "DHCP"},
            "WiFi": {"IpMode": "DHCP"},
            "MQTT": {"Enabled": bool(args.broker), "Broker": args.broker or
                     "mqtt://broker.xemex-cloud.eu:8883", "Site": args.site,
                     "Username": "", "Password": ""},
        }
        self.mqtt_in_force = copy.deepcopy(self.config["MQTT"])
        self.words = [0] * (MAP_END - MAP_FIRST)
        self.last_raw = None
        self.previous = None           # the reading before the last (fault late)
        self.parsed = 0                # telegrams that parsed, since the start
        self.counters = {"telegrams_pass": 0, "telegrams_fail": 0, "telegrams_frame_fail": 0,
                         "mqtt_event_errors": 0, "mqtt_event_connect": 0,
                         "mqtt_send_pass": 0, "mqtt_send_fail": 0}
        self.booted = time.monotonic()
        self.restart_pending = threading.Event()
        self.connected = threading.Event()
        self.client = None

    # Values as served -------------------------------------------------------
    def energy_in_kwh(self):
        return "kwh" in self.faults or version_tuple(self.args.firmware) < (5, 1)

    def served(self, r):
        """The reading as this device serves it: its faults applied."""
        r = dict(r)
        if self.energy_in_kwh():
            for k in ("E_IMPORT", "E_EXPORT"):
                if r[k] is not None:
                    r[k] = r[k] / 1000
        if "export-sign" in self.faults:
            for k in ("P", "l1.P", "l2.P", "l3.P", "PF"):
                if r[k] is not None:
                    r[k] = -r[k]
        if "swap-phases" in self.faults:
            a, b = (self.faults["swap-phases"] or "L1,L2").lower().split(",")
            for k in PHASE_KEYS:
                r[a + "." + k], r[b + "." + k] = r[b + "." + k], r[a + "." + k]
        return r

    def register_words(self, r):
        words = [0] * (MAP_END - MAP_FIRST)
        for reg, key in REGISTERS.items():
            v = r.get(key)
            hi, lo = struct.unpack(">HH", struct.pack(">f", float(v) if v is not None else 0.0))
            i = reg - MAP_FIRST
            high_first = self.args.word_order == "abcd"
            if "word-order" in self.faults:
                high_first = not high_first
            if high_first:
                words[i], words[i + 1] = hi, lo
            else:
                words[i], words[i + 1] = lo, hi
        return words

    def payload(self, r):
        def num(v):
            if v is None:
                return None
            f = float(v)
            if self.args.float32:
                f = struct.unpack(">f", struct.pack(">f", f))[0]
            return int(f) if f == int(f) and abs(f) < 2 ** 53 else f

        doc = {}
        for k in TOP_KEYS:
            if k in ("l1", "l2", "l3"):
                doc[k] = {pk: num(r[k + "." + pk]) for pk in PHASE_KEYS}
            elif k == "ts":
                doc[k] = int(time.time()) if self.args.own_clock_ts else r["ts"]
            else:
                doc[k] = num(r[k])
        return doc

    # The meter line -----------------------------------------------------------
    def telegram(self, raw, ok):
        with self.lock:
            self.last_raw = raw
            if not ok:
                self.counters["telegrams_fail"] += 1
                return
            r = tic_reading(raw) if self.args.device == "tic" else p1_reading(raw)
            if r["ts"] is None and r["P"] is None:
                self.counters["telegrams_frame_fail"] += 1
                return
            self.counters["telegrams_pass"] += 1
            self.parsed += 1
            number_ = self.parsed
            if "late" in self.faults:
                r, self.previous = self.previous, r
                if r is None:
                    return
            s = self.served(r)
            self.words = self.register_words(s)
        self.publish_power(s, number_)

    def publish_power(self, s, n):
        if "drop-mqtt" in self.faults:
            every = int(self.faults["drop-mqtt"] or 10)
            first = 4 if every >= 4 else every
            if n >= first and (n - first) % every == 0:
                return
        self.publish("power_instant", self.payload(s))

    def publish(self, metric, doc):
        c = self.client
        m = self.mqtt_in_force
        if c is None:
            return
        topic = "devices/%s/smart-connect/%s/data/%s" % (m.get("Site", ""), self.args.serial,
                                                         metric)
        info = c.publish(topic, json.dumps(doc), qos=0)
        with self.lock:
            self.counters["mqtt_send_pass" if info.rc == mqtt.MQTT_ERR_SUCCESS
                          else "mqtt_send_fail"] += 1

    def read_meter(self):
        cutter = TicFrames() if self.args.device == "tic" else Telegrams()
        fd = None
        while True:
            if fd is None:
                try:
                    fd = os.open(self.args.meter, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
                    attrs = termios.tcgetattr(fd)
                    attrs[0] = 0                                   # iflag: raw
                    attrs[1] = 0                                   # oflag
                    attrs[3] = 0                                   # lflag: no echo, no canon
                    if self.args.device == "tic":                  # 9600 7E1
                        attrs[2] = termios.CS7 | termios.PARENB | termios.CREAD | termios.CLOCAL
                        attrs[4] = attrs[5] = termios.B9600
                    else:                                          # 115200 8N1
                        attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
                        attrs[4] = attrs[5] = termios.B115200
                    try:
                        termios.tcsetattr(fd, termios.TCSANOW, attrs)
                    except termios.error as e:
                        # A pty takes no character size or parity (Linux
                        # refuses a change it cannot make at all): go on.
                        log("meter: %s: line settings not taken (%s)" % (self.args.meter, e))
                except (OSError, termios.error) as e:
                    if fd is not None:
                        os.close(fd)
                    fd = None
                    log("meter: %s: %s" % (self.args.meter, e))
                    time.sleep(0.5)
                    continue
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                # The other end went away: open again until it is back.
                os.close(fd)
                fd = None
                time.sleep(0.2)
                continue
            for raw, ok in cutter.feed(data):
                self.telegram(raw, ok)

    # MQTT ----------------------------------------------------------------------
    def start_mqtt(self):
        m = copy.deepcopy(self.config["MQTT"])
        self.mqtt_in_force = m
        self.connected.clear()
        if not m.get("Enabled", True):
            self.connected.set()
            self.client = None
            return
        url = urllib.parse.urlsplit(m["Broker"])
        tls = url.scheme in ("mqtts", "ssl")
        c = mqtt.Client(client_id="smart-connect-%s" % self.args.serial, clean_session=True)
        if m.get("Username"):
            c.username_pw_set(m["Username"], m.get("Password") or None)
        if tls:
            c.tls_set()
        c.reconnect_delay_set(1, 10)

        def on_connect(client, userdata, flags, rc):
            with self.lock:
                self.counters["mqtt_event_connect" if rc == 0 else "mqtt_event_errors"] += 1
            if rc == 0:
                self.connected.set()
                log("mqtt: connected to %s" % m["Broker"])

        def on_disconnect(client, userdata, rc):
            self.connected.clear()
            if rc != 0:
                with self.lock:
                    self.counters["mqtt_event_errors"] += 1

        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.connect_async(url.hostname or "localhost", url.port or (8883 if tls else 1883), 30)
        c.loop_start()
        self.client = c

    def stop_mqtt(self):
        c, self.client = self.client, None
        if c is not None:
            c.disconnect()
            c.loop_stop()

    def counters_loop(self):
        while self.args.counters_interval > 0:
            time.sleep(self.args.counters_interval)
            with self.lock:
                doc = {"ts": int(time.time()), "uptime": int(time.monotonic() - self.booted)}
                doc.update(self.counters)
            self.publish("device_counters", doc)

    # Reset (manual §5.2: soft reset, reconnect the network) ----------------------
    def reset(self):
        """Stops serving the API for --restart-seconds (it answers 503),
        forgets the meter's values and its counters, takes the MQTT
        configuration in force and connects again; the API comes back once
        it is connected (at most 5 s more)."""
        def restart():
            self.stop_mqtt()
            with self.lock:
                self.words = [0] * (MAP_END - MAP_FIRST)
                self.previous = None
                self.last_raw = None
                for k in self.counters:
                    self.counters[k] = 0
                self.booted = time.monotonic()
            time.sleep(self.args.restart_seconds)
            self.start_mqtt()
            self.connected.wait(5)
            self.restart_pending.clear()
        self.restart_pending.set()
        threading.Thread(target=restart, daemon=True).start()

    def restarting(self):
        return self.restart_pending.is_set()


# --- Modbus TCP ------------------------------------------------------------------

class Registers(ModbusSequentialDataBlock):
    """0x8000-0x8C37, read from the last telegram's words in one piece, so a
    multi-register read is one telegram's snapshot."""

    def __init__(self, dongle):
        super().__init__(MAP_FIRST, [0] * (MAP_END - MAP_FIRST))
        self.dongle = dongle

    def getValues(self, address, count=1):
        with self.dongle.lock:
            words = self.dongle.words
        i = address - MAP_FIRST
        return words[i:i + count]

    def setValues(self, address, values):
        pass


def start_modbus(dongle, port, started):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    block = Registers(dongle)
    slave = ModbusSlaveContext(hr=block, ir=block, zero_mode=True)
    server = ModbusTcpServer(ModbusServerContext(slaves=slave, single=True),
                             address=("127.0.0.1", port), allow_reuse_address=True, loop=loop)

    async def run():
        task = asyncio.ensure_future(server.serve_forever())
        await server.serving
        started.append(server.server.sockets[0].getsockname()[1])
        await task

    threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True).start()


# --- HTTP API ----------------------------------------------------------------------

def merge(into, patch):
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


def check_patch(patch, config, path=""):
    """None, or what is wrong in a PATCH body (a field the configuration
    does not have, or of another type)."""
    for k, v in patch.items():
        where = path + k
        if k not in config and not (k == "ConnectionData" or k == "StaticIPv4"):
            return "unknown field %s" % where
        have = config.get(k)
        if isinstance(v, dict):
            if have is not None and not isinstance(have, dict):
                return "%s: an object is not allowed here" % where
            why = check_patch(v, have or v, where + ".")
            if why:
                return why
        elif have is not None and type(v) is not type(have):
            return "%s: wrong type" % where
    broker = patch.get("MQTT", {}).get("Broker") if isinstance(patch.get("MQTT"), dict) else None
    if broker is not None:
        u = urllib.parse.urlsplit(broker)
        if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not u.hostname:
            return "MQTT.Broker: not a broker URL"
    return None


def make_handler(dongle):
    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def answer(self, code, body=b"", ctype="application/json", extra=()):
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def allowed(self):
            if dongle.restarting():
                self.answer(503, {"error": "restarting"})
                return False
            want = base64.b64encode(("user:" + dongle.args.password).encode()).decode()
            if self.headers.get("Authorization", "") != "Basic " + want:
                self.answer(401, {"error": "unauthorized"},
                            extra=[("WWW-Authenticate", 'Basic realm="Smart Connect"')])
                return False
            return True

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self):
            self.body()
            path = self.path.split("?")[0]
            if not path.startswith("/api/v1/"):
                return self.answer(404, {"error": "not found"})
            if not self.allowed():
                return
            if path in ("/api/v1/status", "/api/v1/config"):
                with dongle.lock:
                    doc = copy.deepcopy(dongle.config)
                return self.answer(200, doc)
            if path == "/api/v1/firmware":
                return self.answer(200, {"Version": dongle.args.firmware})
            if path == "/api/v1/telegram":
                with dongle.lock:
                    raw = dongle.last_raw
                if raw is None:
                    return self.answer(404, {"error": "no telegram yet"})
                return self.answer(200, raw, "application/octet-stream")
            return self.answer(404, {"error": "not found"})

        def do_PATCH(self):
            data = self.body()
            if self.path != "/api/v1/config":
                return self.not_here()
            if not self.allowed():
                return
            try:
                patch = json.loads(data or b"null")
            except ValueError:
                return self.answer(400, {"error": "not JSON"})
            if not isinstance(patch, dict):
                return self.answer(400, {"error": "not a JSON object"})
            with dongle.lock:
                why = check_patch(patch, dongle.config)
                if why:
                    return self.answer(400, {"error": why})
                merge(dongle.config, patch)
                doc = copy.deepcopy(dongle.config)
            return self.answer(200, doc)

        def do_POST(self):
            self.body()
            if not self.path.startswith("/api/v1/"):
                return self.answer(404, {"error": "not found"})
            if not self.allowed():
                return
            if self.path == "/api/v1/reset":
                self.answer(200, {"Reset": True})
                dongle.reset()
                return
            if self.path == "/api/v1/firmware":
                return self.answer(501, {"error": "no update server here"})
            return self.not_here()

        def not_here(self):
            """405 for an endpoint of the manual's table with another
            method, 404 for anything else."""
            known = ("/api/v1/status", "/api/v1/config", "/api/v1/firmware", "/api/v1/reset",
                     "/api/v1/telegram")
            return self.answer(405 if self.path in known else 404, {"error": "not here"})

    return Api


def main():
    ap = argparse.ArgumentParser(description="An independent Smart Connect (P1) for tests.")
    ap.add_argument("--device", choices=("p1", "tic"), default="p1",
                    help="the variant: P1 (DSMR) or TIC (Linky, standard mode)")
    ap.add_argument("--meter", required=True, help="the serial device or pty of the meter line")
    ap.add_argument("--modbus-port", type=int, default=502)
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--broker", default="", help="MQTT broker URL (mqtt://HOST:PORT)")
    ap.add_argument("--site", default="site")
    ap.add_argument("--serial", default="E8DB84000001")
    ap.add_argument("--password", required=True)
    ap.add_argument("--firmware", default="5.2.0")
    ap.add_argument("--word-order", choices=("cdab", "abcd"), default="cdab",
                    help="how floats are served (cdab: low word first, as the manual says)")
    ap.add_argument("--fault", action="append", default=[],
                    help="word-order, kwh, export-sign, swap-phases[=L1,L2], late, drop-mqtt[=N]")
    ap.add_argument("--float32", action="store_true", help="MQTT values held as float32")
    ap.add_argument("--own-clock-ts", action="store_true", help="ts from its own clock")
    ap.add_argument("--counters-interval", type=float, default=60)
    ap.add_argument("--restart-seconds", type=float, default=1.5)
    args = ap.parse_args()
    known = {"word-order", "kwh", "export-sign", "swap-phases", "late", "drop-mqtt"}
    for f in args.fault:
        kind, _, value = f.partition("=")
        if kind not in known:
            ap.error("unknown fault %s (known: %s)" % (kind, ", ".join(sorted(known))))
        if kind == "swap-phases" and value:
            pair = value.lower().split(",")
            if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= {"l1", "l2", "l3"}:
                ap.error("swap-phases takes two phases, as L1,L2")
        if kind == "drop-mqtt" and value and (not value.isdigit() or int(value) < 1):
            ap.error("drop-mqtt takes a number from 1")

    # pymodbus logs every client that hangs up as an error: not one here.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    dongle = Dongle(args)
    started = []
    start_modbus(dongle, args.modbus_port, started)
    http = ThreadingHTTPServer(("127.0.0.1", args.http_port), make_handler(dongle))
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    deadline = time.monotonic() + 10
    while not started:
        if time.monotonic() > deadline:
            log("modbus: the server did not start")
            return 3
        time.sleep(0.02)
    dongle.start_mqtt()
    threading.Thread(target=dongle.counters_loop, daemon=True).start()
    threading.Thread(target=dongle.read_meter, daemon=True).start()
    print("indie-dongle ready modbus %d http %d" % (started[0], http.server_address[1]), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
