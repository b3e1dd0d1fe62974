"""Helpers for the tests that run sc-sim as a user does: start it on a free
loopback port, wait for its ready line with a deadline, stop it by pid.

The expected device values are computed here from the telegram text with the
rules of SMART-CONNECT.md, independently of the C core under test."""

import os
import re
import signal
import struct
import subprocess
import threading
import time
from decimal import Decimal

BUILD = os.environ.get("SC_BINARY_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("SC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
# The field captures of real meters (corpus/field, SOURCES.md there).
CORPUS = os.environ.get("SC_CORPUS_DIR", os.path.join(SOURCE, "corpus", "field"))
SC_SIM = os.path.join(BUILD, "sim", "sc-sim")


def field_capture(kind, name):
    """The path of a field capture (kind "p1" or "tic"): a test that needs
    one fails when it is absent, it does not skip."""
    path = os.path.join(CORPUS, kind, name)
    if not os.path.isfile(path):
        raise AssertionError("field capture %s not found (SC_CORPUS_DIR=%s)" % (path, CORPUS))
    return path


def sim_cmd(*args):
    """sc-sim's command line as the tests run it: every port on loopback and
    free, no MQTT unless asked for (later options win over these)."""
    return [SC_SIM, "--modbus", "127.0.0.1:0", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0",
            "--mqtt", "off", *args]


class LineLog:
    """A process's output collected line by line in self.lines by a reader
    thread (start_reader); wait_for waits for a line with a deadline."""

    def start_reader(self, stream):
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.reader.start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def mark(self):
        """Where the log stands now: wait_for(..., since=mark()) looks only
        at lines written after it (a client's port, say, may be one that an
        earlier connection used and whose lines are already there)."""
        with self.cond:
            return len(self.lines)

    def wait_for(self, pattern, timeout=15, since=0):
        """The first line matching pattern (from line since on); fails after
        timeout seconds."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        with self.cond:
            while True:
                for line in self.lines[since:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("no line matching %r from %s; got:\n%s"
                                         % (pattern, " ".join(self.args), "\n".join(self.lines)))
                self.cond.wait(min(left, 0.2))


class Sim(LineLog):
    """A running sc-sim; its stderr is collected in self.lines."""

    def __init__(self, *args, ready=True, timeout=15, stdin_pipe=False, wrap=(), env=None):
        # No MQTT unless the test asks for it: the default broker is the
        # vendor's cloud, which a test machine cannot reach.
        mqtt = [] if "--mqtt" in args else ["--mqtt", "off"]
        # The device's HTTP ports (80, 443) are not a test's to take.
        http = [] if "--http" in args else ["--http", "127.0.0.1:0"]
        https = [] if "--https" in args else ["--https", "127.0.0.1:0"]
        # wrap: a command sc-sim runs under (it must exec sc-sim, so that the
        # pid is sc-sim's); env: its environment.
        self.args = [*wrap, SC_SIM, "--modbus", "127.0.0.1:0", *mqtt, *http, *https, *args]
        self.proc = subprocess.Popen(self.args, env=env,
                                     stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.start_reader(self.proc.stderr)
        self.port = self.http_port = self.https_port = None
        if ready:
            line = self.wait_for(r"ready: modbus tcp [\d.]+:(\d+)", timeout)
            self.port = int(re.search(r"ready: modbus tcp [\d.]+:(\d+)", line).group(1))
            m = re.search(r"https [\d.]+:(\d+)", line)
            self.https_port = int(m.group(1)) if m else None
            m = re.search(r"\bhttp [\d.]+:(\d+)", line)
            self.http_port = int(m.group(1)) if m else None

    def stop(self, timeout=10):
        """SIGTERM to our own pid; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.reader.join(timeout)
            self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        if not self.proc.stderr.closed:
            self.proc.stderr.close()


def wait_until(predicate, timeout=10, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %s s" % timeout)
        time.sleep(step)


# ---- telegrams and the values the device derives from them ----

def p1_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


# The object lines of a DSMR 5 telegram whose values the tests know (both
# tariffs, import and export, every phase's U, I and P, the failure and
# voltage-event counters): p1_telegram(HEADER, KNOWN_P1_LINES).
KNOWN_P1_LINES = [
    "1-3:0.2.8(50)",
    "0-0:1.0.0(250315120000W)",
    "0-0:96.1.1(4530303437303030303037363330383138)",
    "1-0:1.8.1(012345.678*kWh)",
    "1-0:1.8.2(023456.789*kWh)",
    "1-0:2.8.1(001234.567*kWh)",
    "1-0:2.8.2(002345.678*kWh)",
    "0-0:96.14.0(0002)",
    "1-0:1.7.0(03.456*kW)",
    "1-0:2.7.0(00.000*kW)",
    "0-0:96.7.21(00007)",
    "0-0:96.7.9(00003)",
    "1-0:32.32.0(00002)",
    "1-0:52.32.0(00001)",
    "1-0:72.32.0(00005)",
    "1-0:32.36.0(00006)",
    "1-0:52.36.0(00008)",
    "1-0:72.36.0(00009)",
    "1-0:32.7.0(229.8*V)",
    "1-0:52.7.0(231.4*V)",
    "1-0:72.7.0(233.1*V)",
    "1-0:31.7.0(011*A)",
    "1-0:51.7.0(007*A)",
    "1-0:71.7.0(004*A)",
    "1-0:21.7.0(02.534*kW)",
    "1-0:41.7.0(01.622*kW)",
    "1-0:61.7.0(00.000*kW)",
    "1-0:22.7.0(00.000*kW)",
    "1-0:42.7.0(00.000*kW)",
    "1-0:62.7.0(00.700*kW)",
]


def p1_telegram(header, lines):
    body = "/" + header + "\r\n\r\n" + "".join(l + "\r\n" for l in lines) + "!"
    return (body + "%04X\r\n" % p1_crc(body.encode())).encode()


def split_telegrams(data: bytes):
    """Good P1 telegrams or TIC frames of a capture, in order (bytes)."""
    if b"\x02\n" in data[:64] or b"\x02\r\n" in data[:64]:
        return [f for f in re.findall(rb"\x02[^\x02\x03]*\x03", data)]
    return re.findall(rb"/[^/!]*![0-9A-Fa-f]{0,4}", data)


def _num(text):
    n, _, unit = text.partition("*")
    scale = 1000 if unit in ("kWh", "kW", "kvar", "kvarh") else 1
    return float(Decimal(n) * scale)


def p1_values(tel: bytes):
    """quantity name -> value, per SMART-CONNECT.md §7 (absent ones missing)."""
    obj = {}
    for line in tel.decode("ascii").split("\r\n"):
        m = re.match(r"^(\d+-\d+:\d+\.\d+\.\d+)((?:\([^)]*\))+)$", line)
        if m:
            obj[m.group(1)] = re.findall(r"\(([^)]*)\)", m.group(2))
    v = {}

    def take(key, obis):
        if obis in obj:
            v[key] = _num(obj[obis][-1])

    take("P+", "1-0:1.7.0")
    take("P-", "1-0:2.7.0")
    if "P+" in v and "P-" in v:
        v["P"] = v["P+"] - v["P-"]
    for key, total, tariffs in (("E_IMPORT", "1-0:1.8.0", "1-0:1.8.%d"),
                                ("E_EXPORT", "1-0:2.8.0", "1-0:2.8.%d")):
        if total in obj:
            v[key] = _num(obj[total][0])
        else:
            parts = [_num(obj[tariffs % i][0]) for i in range(1, 5) if tariffs % i in obj]
            if parts:
                v[key] = sum(parts)
    take("PFAIL", "0-0:96.7.21")
    take("LPFAIL", "0-0:96.7.9")
    s, have_s = 0.0, False
    for ph, (u, i, pp, pm, sag, swell) in enumerate(
            (("32.7.0", "31.7.0", "21.7.0", "22.7.0", "32.32.0", "32.36.0"),
             ("52.7.0", "51.7.0", "41.7.0", "42.7.0", "52.32.0", "52.36.0"),
             ("72.7.0", "71.7.0", "61.7.0", "62.7.0", "72.32.0", "72.36.0")), 1):
        take("l%d.U" % ph, "1-0:" + u)
        take("l%d.I" % ph, "1-0:" + i)
        take("l%d.P+" % ph, "1-0:" + pp)
        take("l%d.P-" % ph, "1-0:" + pm)
        take("l%d.VSAGS" % ph, "1-0:" + sag)
        take("l%d.VSWELLS" % ph, "1-0:" + swell)
        if "l%d.P+" % ph in v and "l%d.P-" % ph in v:
            v["l%d.P" % ph] = v["l%d.P+" % ph] - v["l%d.P-" % ph]
            s += abs(v["l%d.P" % ph])
            have_s = True
    take("Q+", "1-0:3.7.0")
    take("Q-", "1-0:4.7.0")
    if "Q+" in v and "Q-" in v:
        v["Q"] = v["Q+"] - v["Q-"]
    if have_s:
        v["S"] = s
    # PF = P / sqrt(P^2 + Q^2), Q taken as 0 when the meter sends none: the
    # manual's example (an exporting DSMR meter) shows PF -1.
    if "P" in v:
        q = v.get("Q", 0.0)
        if v["P"] != 0 or q != 0:
            v["PF"] = max(-1.0, min(1.0, v["P"] / (v["P"] ** 2 + q ** 2) ** 0.5))
    return v


def tic_values(frame: bytes):
    groups = {}
    for g in re.findall(rb"\n([^\r\n]*)\r", frame):
        f = g[:-2].split(b"\t")
        groups[f[0].decode()] = f[-1].decode()
    n = lambda k: float(int(groups[k]))
    v = {}
    # TIC.md: P = SINSTS - SINSTI (apparent power used as active power),
    # S = SINSTS; P+ and P- stay null.
    if "SINSTS" in groups:
        v["S"] = n("SINSTS")
        v["P"] = n("SINSTS") - (n("SINSTI") if "SINSTI" in groups else 0)
    if "EAST" in groups:
        v["E_IMPORT"] = n("EAST")
    if "EAIT" in groups:
        v["E_EXPORT"] = n("EAIT")
    for q in range(1, 5):
        if "ERQ%d" % q in groups:
            v["EQ%d" % q] = n("ERQ%d" % q)
    # Three-phase: the ADSC meter type (characters 5-6: 63, 71, 76) or any
    # label only three-phase meters send.
    adsc = groups.get("ADSC", "")
    tri = adsc[4:6] in ("63", "71", "76") or any(
        k in groups for k in ("IRMS2", "IRMS3", "URMS2", "URMS3", "SINSTS1", "SINSTS2", "SINSTS3",
                              "SMAXSN1", "SMAXSN2", "SMAXSN3", "SMAXSN1-1", "SMAXSN2-1",
                              "SMAXSN3-1", "UMOY2", "UMOY3"))
    for ph in (1, 2, 3):
        src = "SINSTS%d" % ph if tri else ("SINSTS" if ph == 1 else None)
        if src and src in groups:
            v["l%d.P" % ph] = v["l%d.S" % ph] = n(src)
        if "URMS%d" % ph in groups:
            v["l%d.U" % ph] = n("URMS%d" % ph)
        if "IRMS%d" % ph in groups:
            v["l%d.I" % ph] = n("IRMS%d" % ph)
    return v


# SMART-CONNECT.md §6: register -> quantity.
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
    0x8C24: "PFAIL", 0x8C26: "LPFAIL", 0x8C28: "P+", 0x8C2A: "P-",
    0x8C2C: "l1.P+", 0x8C2E: "l1.P-", 0x8C30: "l2.P+", 0x8C32: "l2.P-",
    0x8C34: "l3.P+", 0x8C36: "l3.P-",
}
MAP_START, MAP_END = 0x8000, 0x8C38


def expected_image(values, word_order="cdab", energy_kwh=False):
    """The 0x8000-0x8C37 image as a list of 16-bit words."""
    words = [0] * (MAP_END - MAP_START)
    for addr, key in REGISTERS.items():
        if key not in values:
            continue
        x = values[key]
        if energy_kwh and key in ("E_IMPORT", "E_EXPORT"):
            x /= 1000.0
        hi, lo = struct.unpack(">HH", struct.pack(">f", x))
        a, b = (hi, lo) if word_order == "abcd" else (lo, hi)
        words[addr - MAP_START] = a
        words[addr - MAP_START + 1] = b
    return words


def float_at(words, addr, word_order="cdab"):
    a, b = words[addr - MAP_START], words[addr - MAP_START + 1]
    hi, lo = (a, b) if word_order == "abcd" else (b, a)
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


# The last line of a scenario run, sc-sim --scenario's and sc-hil's alike.
SUMMARY = re.compile(r"^scenario (\S+): (\d+) passed, (\d+) failed, (\d+) skipped; (\d+) telegrams")


def find_summary(out):
    """(name, passed, failed, skipped, telegrams) from the last summary line
    of stdout, or None."""
    for line in reversed(out.splitlines()):
        m = SUMMARY.match(line)
        if m:
            return m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
    return None


def scenario_summary(out):
    """find_summary, failing the test when there is none."""
    got = find_summary(out)
    if got is None:
        raise AssertionError("no summary line in:\n" + out)
    return got


def rss_kib(pid):
    """The resident set of process pid, in KiB (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)
