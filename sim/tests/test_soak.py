"""A security probe of the running twin again, all its attacks at once against one sc-sim,
while well-behaved clients are served: a soak of about half a minute, every
part bounded by a deadline.

One sc-sim reads telegrams from its standard input (one a second, each with
values of its own: active power, imported energy, L1 voltage and time
differ from one to the next), publishes to a private mosquitto, and serves
Modbus (4 clients) and the HTTPS API. Throughout, each a process of its own
(soak_clients.py), a Modbus client (pymodbus) reads every mapped register,
an MQTT subscriber (paho) receives power_instant, and an HTTPS client asks
GET /api/v1/status twice a second.
Meanwhile, in each of two rounds and all together:

  slowloris      3 addresses x 12 half-sent HTTPS requests, a header line
                 every second: 8 an address held, the rest closed at once, each
                 closed by the server within SLOW_DEADLINE_S of its opening
                 (the request deadline is 10 s; the rest is this check's
                 cadence on a busy machine)
  login flood    wrong passwords from 64 loopback addresses (16 at a time):
                 every one 401; of each address's first guess at most 32
                 answered at once (the others a second late)
  cross-site     text/plain bodies (415), a foreign or null Origin (403), a
                 rebound Host (421), over HTTP (/sim/v1) and HTTPS (/api/v1)
  hostile bodies 20 MB (400 too large), JSON nested 1000 and 4000 deep (400),
                 MQTT fields the broker would drop the device for (400 naming
                 the character), path traversal (404, no file)
  header floods  one 64 KB header and 5,000 small ones (431)
  TLS            a handshake flood from 2 addresses; TLS 1.0 refused
  Modbus         a request dripped a byte a second (closed by the 5 s request
                 deadline), 1000 connects, reads and disconnects
  meter input    4 MB/s of noise between the telegrams for 6 s: the log
                 stays bounded (repeated messages counted, not written)
  kill -9        Modbus and HTTPS clients killed in the middle of a request

At the end: every attack got the documented answer; the Modbus client read
only images of telegrams sent (whole, never an older one after a newer, at
most FRESH_S old) with no gap longer than GAP_S; MQTT received a
power_instant with the right values for every telegram, each once, each
within GAP_S of the telegram's write (and no gap between them longer than
GAP_S beyond the meter's own longest pause); the HTTPS client got 200 every
time, no gap longer than GAP_S; sc-sim's open file descriptors are back to
their number before the soak; GET /api/v1/config and every file of the
state directory are byte for byte as before; the resident set grew by at
most RSS_BOUND_KIB from the end of the first round to the end of the second
(not under the sanitizers, whose allocators keep freed memory:
there LeakSanitizer's check at exit, sc-sim's status 0, stands for it).
"""

import base64
import datetime
import http.client
import json
import os
import queue
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim, rss_kib, wait_until  # noqa: E402
from test_http_limits import handshake  # noqa: E402
from test_robust import noise  # noqa: E402


SANITIZED = os.environ.get("SC_SANITIZED") == "1"
PW = "soak-pw-2718"
AUTH = "Basic " + base64.b64encode(("user:" + PW).encode()).decode()
SERIAL = "E8DB84500AC0"
SITE = "soak"
HEADER = "ISK5\\2M550T-SOAK"
ROUNDS = 2
ATTACK_S = 6.0          # each attack of a round (slowloris: until its requests are closed)
SLOW_DEADLINE_S = 15.0  # a slow request closed within this of its opening (10 s documented)
GAP_S = 5.0             # longest time a well-behaved client may go unserved
FRESH_S = 5.0           # the Modbus image is of a telegram written at most this long ago
RSS_BOUND_KIB = 1024
NOISE_RATE = 4 << 20    # bytes a second on the meter input while noise is sent
# Blocks of the register map holding every mapped register (simtest.REGISTERS).
BLOCKS = ((0x8000, 0x30), (0x8100, 0x08), (0x8C00, 0x38))
BASE_TIME = datetime.datetime(2025, 3, 15, 12, 0, 0)
CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak_clients.py")


def telegram(k):
    """Telegram k: the known telegram with its time k seconds on, active
    power 1000 + 7k W, imported energy 10k Wh up (float32 steps are 4 Wh
    there) and an L1 voltage of its own."""
    lines = []
    for line in simtest.KNOWN_P1_LINES:
        if line.startswith("0-0:1.0.0("):
            line = "0-0:1.0.0(%sW)" % (BASE_TIME + datetime.timedelta(seconds=k)).strftime("%y%m%d%H%M%S")
        elif line.startswith("1-0:1.7.0("):
            line = "1-0:1.7.0(%06.3f*kW)" % ((1000 + 7 * k) / 1000.0)
        elif line.startswith("1-0:1.8.1("):
            line = "1-0:1.8.1(%010.3f*kWh)" % (12345.678 + k / 100.0)
        elif line.startswith("1-0:32.7.0("):
            line = "1-0:32.7.0(%05.1f*V)" % (220.0 + (k % 100) / 10.0)
        lines.append(line)
    return simtest.p1_telegram(HEADER, lines)


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def request(port, method, path, headers=None, body=None, tls=True, source="127.0.0.1", timeout=20):
    """One request on a connection of its own, headers as given (a Host
    among them replaces http.client's): (status, body)."""
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port, context=tls_context(), timeout=timeout,
                                        source_address=(source, 0))
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def recv_all(conn, n):
    got = b""
    while len(got) < n:
        chunk = conn.recv(n - len(got))
        if not chunk:
            return None
        got += chunk
    return got


class Feeder(threading.Thread):
    """The meter: telegram k written to sc-sim's standard input at second k,
    and noise between them while garbage_until is ahead."""

    def __init__(self, pipe, stop):
        super().__init__(daemon=True)
        self.pipe, self.stop = pipe, stop
        self.sent = []  # (k, monotonic time its write completed)
        self.garbage_until = 0.0
        self.garbage_bytes = 0
        self.noise = noise(1 << 20, seed=27)
        self.error = None

    def run(self):
        try:
            k, due, at = 0, time.monotonic(), 0
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= due:
                    self.pipe.write(b"\r\n" + telegram(k))
                    self.pipe.flush()
                    self.sent.append((k, time.monotonic()))
                    k += 1
                    due = max(due + 1.0, now)
                elif now < self.garbage_until:
                    chunk = self.noise[at:at + 65536]
                    at = (at + 65536) % len(self.noise)
                    self.pipe.write(chunk)
                    self.pipe.flush()
                    self.garbage_bytes += len(chunk)
                    self.stop.wait(len(chunk) / NOISE_RATE)
                else:
                    self.stop.wait(min(due - now, 0.05))
        except Exception as e:  # reported by the test
            self.error = e

    def written_before(self, t):
        """The last telegram whose write completed before t (-1: none)."""
        last = -1
        for k, when in self.sent:
            if when < t:
                last = k
        return last


class Client:
    """A well-behaved client in a process of its own (soak_clients.py), its
    lines collected; stopped by closing its stdin."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, CLIENTS, *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.decode().rstrip("\n"))

    def close(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(10)
        self.proc.stdout.close()


class Attacks:
    """The attacks of one round, each in its own thread, results kept per
    attack; a failed expectation is recorded, not raised, so that every
    attack runs to its end."""

    def __init__(self, sim, dir, round_no):
        self.sim, self.dir, self.round = sim, dir, round_no
        self.lock = threading.Lock()
        self.wrong = []      # (attack, what, expected, got)
        self.figures = {}    # attack -> a figure for the report
        self.killed_modbus_ports = []

    def expect(self, attack, what, want, got):
        ok = got in want if isinstance(want, set) else got == want
        if not ok:
            with self.lock:
                self.wrong.append((attack, what, want, got))

    def figure(self, attack, text):
        with self.lock:
            self.figures[attack] = text

    # ---- HTTPS ----

    def slowloris(self, addresses=3, per_address=12, line_every=1.0):
        ctx = tls_context()
        held, refused = [], 0
        for a in range(addresses):
            ip = "127.0.0.%d" % (70 + a)
            for _ in range(per_address):
                try:
                    raw = socket.create_connection(("127.0.0.1", self.sim.https_port), timeout=10,
                                                   source_address=(ip, 0))
                    opened = time.monotonic()
                    c = ctx.wrap_socket(raw)
                    c.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    c.settimeout(0.05)
                    held.append([c, opened, None])
                except (OSError, ssl.SSLError):
                    refused += 1  # the address's cap: closed at once
        deadline = time.monotonic() + SLOW_DEADLINE_S + line_every
        next_line = time.monotonic() + line_every

        def ended(h):
            h[2] = time.monotonic() - h[1]
        while time.monotonic() < deadline and any(h[2] is None for h in held):
            live = [h for h in held if h[2] is None]
            readable, _, _ = select.select([h[0] for h in live], [], [], 0.1)
            for h in live:
                if h[0] in readable:
                    try:
                        h[0].recv(1)  # an answer or the end: the server ended it
                        ended(h)
                    except (socket.timeout, ssl.SSLWantReadError):
                        pass
                    except (OSError, ssl.SSLError):
                        ended(h)
            if time.monotonic() >= next_line:
                next_line += line_every
                for h in live:
                    if h[2] is None:
                        try:
                            h[0].sendall(b"X-Slow: 1\r\n")
                        except (OSError, ssl.SSLError):
                            ended(h)
        for h in held:
            h[0].close()
        still = sum(1 for h in held if h[2] is None)
        longest = max((h[2] for h in held if h[2] is not None), default=0.0)
        self.expect("slowloris", "held by the server after %.0f s" % SLOW_DEADLINE_S, 0, still)
        self.expect("slowloris", "longest hold within %.0f s" % SLOW_DEADLINE_S, True,
                    longest <= SLOW_DEADLINE_S)
        self.expect("slowloris", "held at once (8 an address)", addresses * 8, len(held))
        self.figure("slowloris", "%d held, %d refused at once, longest %.1f s"
                    % (len(held), refused, longest))

    def login_flood(self, addresses=64, tries=3, threads=16):
        # Every address once whatever the time it takes (each guess past the
        # budget takes a second), then more while the attack's time lasts.
        work = queue.Queue()
        for t in range(tries):
            for a in range(addresses):
                work.put((t, "127.0.%d.%d" % (1 + a // 200, 2 + a % 200)))
        results = []
        t_end = time.monotonic() + ATTACK_S
        deadline = time.monotonic() + 60
        wrong = {"Authorization": "Basic " + base64.b64encode(b"user:wrong-guess").decode()}

        def guess():
            while time.monotonic() < deadline:
                try:
                    t, ip = work.get_nowait()
                except queue.Empty:
                    return
                if t > 0 and time.monotonic() > t_end:
                    return
                t0 = time.monotonic()
                try:
                    st, _ = request(self.sim.https_port, "GET", "/api/v1/status", wrong, source=ip)
                except Exception as e:
                    st = repr(e)
                with self.lock:
                    results.append((t, ip, st, time.monotonic() - t0))
        ts = [threading.Thread(target=guess) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        # A late answer is held a second; one within half of that was not.
        at_once = sum(1 for _, _, _, took in results if took < 0.5)
        first = sum(1 for t, _, _, took in results if t == 0 and took < 0.5)
        for _, ip, st, _ in results:
            self.expect("login flood", "a wrong password from " + ip, 401, st)
        # The table holds 32 failing addresses: the others are answered late
        # from their first failure, so of the first guess of each address at
        # most 32 come at once (all 64 did when the table forgot the oldest).
        self.expect("login flood", "first guesses answered at once (at most 32)", True, first <= 32)
        self.expect("login flood", "answered at once (32 addresses x 5 a minute)", True, at_once <= 160)
        used = len({ip for _, ip, _, _ in results})
        self.expect("login flood", "addresses used", addresses, used)
        self.figure("login flood", "%d guesses from %d addresses, %d answered at once (%d of the first "
                    "guesses), %d a second late" % (len(results), used, at_once, first, len(results) - at_once))

    def authenticated(self):
        """From 127.0.0.1, the session's address, with the right password:
        what a logged-in page on another site, or a hostile script, sends."""
        port = self.sim.https_port
        big = os.path.join(self.dir, "body-20MB")
        if not os.path.exists(big):
            with open(big, "wb") as f:
                f.write(b"{" + b" " * ((20 << 20) - 2) + b"}")
        nest = '"x"'
        for _ in range(1000):
            nest = '{"a":%s}' % nest
        hostile = [('{"MQTT":{"Site":"a\\u0085"}}', "U+0085"), ('{"MQTT":{"Site":"\\uffff"}}', "U+FFFF"),
                   ('{"MQTT":{"Site":"\\ufdd0"}}', "U+FDD0"), ('{"MQTT":{"Site":"a/b"}}', "one topic level"),
                   ('{"MQTT":{"Site":"+"}}', "one topic level"), ('{"MQTT":{"Site":"#"}}', "one topic level"),
                   ('{"MQTT":{"Username":"u\\u0085"}}', "U+0085"),
                   ('{"MQTT":{"Username":"\\uffff"}}', "U+FFFF")]
        js = {"Authorization": AUTH, "Content-Type": "application/json"}
        counts = {}
        deadline = time.monotonic() + ATTACK_S
        n = 0
        while time.monotonic() < deadline or n == 0:
            n += 1
            for body, named in hostile:
                st, text = request(port, "PATCH", "/api/v1/config", js, body)
                self.expect("hostile MQTT", body, (400, True), (st, named.encode() in text))
            counts["hostile MQTT"] = counts.get("hostile MQTT", 0) + len(hostile)
            # 20 MB: curl, which reads the early answer while it sends.
            r = subprocess.run(["curl", "-s", "-k", "-u", "user:" + PW, "-X", "PATCH", "-H",
                                "Content-Type: application/json", "--data-binary", "@" + big,
                                "-o", "-", "-w", "\n%{http_code}", "--max-time", "20",
                                "https://127.0.0.1:%d/api/v1/config" % port],
                               capture_output=True, text=True, timeout=30)
            text, _, code = r.stdout.rpartition("\n")
            self.expect("20 MB body", "PATCH", ("400", True), (code, "too large" in text))
            counts["20 MB body"] = counts.get("20 MB body", 0) + 1
            for body, want in ((nest, b"nested too deep"), ("[" * 4000 + "]" * 4000, b"")):
                st, text = request(port, "PATCH", "/api/v1/config", js, body)
                self.expect("deep JSON", body[:12], (400, True), (st, want in text))
            counts["deep JSON"] = counts.get("deep JSON", 0) + 2
            for path in ("/api/v1/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                         "/..%2f..%2f..%2fetc%2fpasswd", "/static/../../../../etc/shadow"):
                st, text = request(port, "GET", path, {"Authorization": AUTH})
                self.expect("path traversal", path, (404, False), (st, b"root:" in text))
            counts["path traversal"] = counts.get("path traversal", 0) + 4
            for headers, body, want in (
                    ({"Origin": "https://evil.example"}, '{"MQTT":{"Site":"pwned"}}', 403),
                    ({"Origin": "null"}, '{"MQTT":{"Site":"pwned"}}', 403),
                    ({"Content-Type": "text/plain"}, '{"MQTT":{"Site":"pwned"}}', 415),
                    ({"Host": "evil.example:%d" % port}, '{"MQTT":{"Site":"pwned"}}', 421)):
                st, _ = request(port, "PATCH", "/api/v1/config", dict(js, **headers), body)
                self.expect("cross-site /api/v1", "PATCH %s" % headers, want, st)
            st, _ = request(port, "POST", "/api/v1/reset", {"Authorization": AUTH,
                                                            "Origin": "https://evil.example"})
            self.expect("cross-site /api/v1", "POST /api/v1/reset from a foreign Origin", 403, st)
            counts["cross-site /api/v1"] = counts.get("cross-site /api/v1", 0) + 5
        for attack, c in counts.items():
            self.figure(attack, "%d refused" % c)

    def cross_site_plain(self):
        """The control API over plain HTTP, as a page elsewhere reaches it."""
        port = self.sim.http_port
        body = '{"Cable": "out", "P": 7777}'
        n = 0
        deadline = time.monotonic() + ATTACK_S
        while time.monotonic() < deadline:
            for headers, want in (({"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403),
                                  ({"Origin": "http://evil.example", "Content-Type": "application/json"}, 403),
                                  ({"Origin": "null", "Content-Type": "application/json"}, 403),
                                  ({"Content-Type": "text/plain"}, 415),
                                  ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
                                  ({"Host": "rebind.example:%d" % port,
                                    "Content-Type": "application/json"}, 421)):
                st, _ = request(port, "POST", "/sim/v1/meter", headers, body, tls=False)
                self.expect("cross-site /sim/v1", "POST %s" % headers, want, st)
                n += 1
        self.figure("cross-site /sim/v1", "%d refused" % n)

    def header_floods(self):
        """431 for each; or, when the server's answer and close overtake the
        rest of the headers still being sent, a connection reset (counted)."""
        ctx = tls_context()
        answers = {}
        deadline = time.monotonic() + ATTACK_S
        while time.monotonic() < deadline:
            for what, head in (("one 64 KB header", b"X-Fill: " + b"a" * 65536 + b"\r\n"),
                               ("5000 headers", b"X-A: b\r\n" * 5000)):
                raw = socket.create_connection(("127.0.0.1", self.sim.https_port), timeout=20,
                                               source_address=("127.0.0.95", 0))
                with ctx.wrap_socket(raw) as c:
                    try:
                        c.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + b"\r\n")
                        got = c.recv(64)
                        got = "431" if got.startswith(b"HTTP/1.1 431 ") else got[:40]
                    except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
                        got = "closed while sending"
                    except OSError as e:
                        got = repr(e)
                self.expect("header flood", what, {"431", "closed while sending"}, got)
                answers[got] = answers.get(got, 0) + 1
        self.expect("header flood", "answered 431", True, answers.get("431", 0) > 0)
        self.figure("header flood", "%d refused: %d with 431, %d closed while the headers were sent"
                    % (sum(answers.values()), answers.get("431", 0), answers.get("closed while sending", 0)))

    def tls_flood(self, threads=2):
        ctx = tls_context()
        counts = []
        deadline = time.monotonic() + ATTACK_S

        def flood(ip):
            n = 0
            while time.monotonic() < deadline:
                try:
                    raw = socket.create_connection(("127.0.0.1", self.sim.https_port), timeout=10,
                                                   source_address=(ip, 0))
                    with ctx.wrap_socket(raw):
                        n += 1
                except (OSError, ssl.SSLError):
                    pass
            with self.lock:
                counts.append(n)
        ts = [threading.Thread(target=flood, args=("127.0.0.%d" % (80 + i),)) for i in range(threads)]
        for t in ts:
            t.start()
        ok, what = handshake(self.sim.https_port, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")
        self.expect("TLS", "TLS 1.0 handshake", False, ok)
        for t in ts:
            t.join(60)
        self.figure("TLS handshake flood", "%d handshakes in %.0f s from %d addresses; TLS 1.0 refused"
                    % (sum(counts), ATTACK_S, threads))

    # ---- Modbus ----

    def modbus_drip(self):
        req = struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0x8006, 2)
        c = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
        t0 = time.monotonic()
        closed_after = None
        try:
            for b in req[:-1]:  # never the whole request
                try:
                    c.sendall(bytes([b]))
                    c.settimeout(1.0)
                    if c.recv(1) == b"":
                        closed_after = time.monotonic() - t0
                        break
                except socket.timeout:
                    continue
                except OSError:
                    closed_after = time.monotonic() - t0
                    break
        finally:
            c.close()
        self.expect("Modbus drip", "closed by the request deadline (5 s)", True,
                    closed_after is not None)
        self.figure("Modbus drip", "closed after %s s" % ("%.1f" % closed_after if closed_after else "-"))

    def modbus_connects(self, total=1000):
        done, refused, bad = 0, 0, 0
        deadline = time.monotonic() + 4 * ATTACK_S
        while done < total and time.monotonic() < deadline:
            tid = done & 0xFFFF
            try:
                with socket.create_connection(("127.0.0.1", self.sim.port), timeout=5) as c:
                    c.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0x8016, 2))
                    r = recv_all(c, 13)
            except OSError:
                r = None
            if r is None:
                refused += 1  # the 4 slots taken for a moment: tried again
                continue
            if r[:9] != struct.pack(">HHHBBB", tid, 0, 7, 1, 3, 4):
                bad += 1
            done += 1
        self.expect("Modbus connects", "reads answered", total, done)
        self.expect("Modbus connects", "wrong replies", 0, bad)
        self.figure("Modbus connects", "%d connects, reads and disconnects, %d refused for a moment"
                    % (done, refused))

    # ---- clients killed mid-request ----

    def kill_9(self, each=3):
        modbus = ("import socket,time\n"
                  "c=socket.create_connection(('127.0.0.1',%d))\n"
                  "c.sendall(bytes.fromhex('0001000000060103'))\n"
                  "print('sent',flush=True)\n"
                  "time.sleep(600)\n" % self.sim.port)
        https = ("import socket,ssl,time\n"
                 "x=ssl.create_default_context();x.check_hostname=False;x.verify_mode=ssl.CERT_NONE\n"
                 "r=socket.create_connection(('127.0.0.1',%d),source_address=('127.0.0.90',0))\n"
                 "c=x.wrap_socket(r)\n"
                 "c.sendall(b'PATCH /api/v1/config HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n"
                 "Authorization: %s\\r\\nContent-Type: application/json\\r\\n"
                 "Content-Length: 200\\r\\n\\r\\n{\"MQTT\":{\"Site\":\"ki')\n"
                 "print('sent',flush=True)\n"
                 "time.sleep(600)\n" % (self.sim.https_port, AUTH))
        n = 0
        for _ in range(each):
            for script in (modbus, https):
                child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
                try:
                    said = child.stdout.readline()
                    self.expect("kill -9", "the child sent half a request", b"sent\n", said)
                    child.send_signal(signal.SIGKILL)
                    child.wait(10)
                    n += 1
                finally:
                    if child.poll() is None:
                        child.kill()
                        child.wait()
                    child.stdout.close()
        self.figure("kill -9", "%d clients killed mid-request (Modbus, HTTPS PATCH)" % n)

    def run(self, feeder):
        feeder.garbage_until = time.monotonic() + ATTACK_S
        garbage0 = feeder.garbage_bytes
        attacks = [self.slowloris, self.login_flood, self.authenticated, self.cross_site_plain,
                   self.header_floods, self.tls_flood, self.modbus_drip, self.modbus_connects,
                   self.kill_9]
        errors = []

        def guarded(f):
            try:
                f()
            except Exception as e:
                with self.lock:
                    errors.append("%s: %r" % (f.__name__, e))
        ts = [threading.Thread(target=guarded, args=(f,), daemon=True) for f in attacks]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        self.expect("round", "attacks still running after 120 s", [], [t.name for t in ts if t.is_alive()])
        self.expect("round", "attacks that raised", [], errors)
        self.figure("meter noise", "%.1f MB of noise between the telegrams"
                    % ((feeder.garbage_bytes - garbage0) / 1e6))


class Soak(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-soak-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def state_files(self):
        out = {}
        for name in sorted(os.listdir(self.state)):
            p = os.path.join(self.state, name)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    out[name] = f.read()
        return out

    def config(self, sim):
        st, body = request(sim.https_port, "GET", "/api/v1/config", {"Authorization": AUTH})
        self.assertEqual(st, 200, body)
        return body

    def test_the_probes_attacks_together(self):
        broker = brokertest.Broker(self.dir)
        self.addCleanup(broker.close)
        self.state = os.path.join(self.dir, "state")
        topic = "devices/%s/smart-connect/%s/data/power_instant" % (SITE, SERIAL)
        sub = Client("mqtt", broker.port, topic)
        self.addCleanup(sub.close)
        wait_until(lambda: sub.lines, 15)
        sim = Sim("--source", "stdin", "--password", PW, "--state-dir", self.state,
                  "--serial-number", SERIAL, "--site", SITE, "--mqtt", "tcp://127.0.0.1:%d" % broker.port,
                  "--modbus-clients", "4", "--counters-interval", "0", stdin_pipe=True, timeout=30)
        self.addCleanup(sim.__exit__)
        sim.wait_for(r"mqtt: connected", 20)
        # sc-sim's descriptors with no client but MQTT's connection.
        fds_idle = open_fds(sim.proc.pid)
        # A configuration saved before the soak (not MQTT's: it is in force).
        st, body = request(sim.https_port, "PATCH", "/api/v1/config",
                           {"Authorization": AUTH, "Content-Type": "application/json"},
                           '{"WiFi":{"ConnectionData":{"WiFiSSID":"soak-lab","WiFiPassword":"soak-pass-1"}}}')
        self.assertEqual(st, 200, body)
        config_before, files_before = self.config(sim), self.state_files()
        self.assertIn("config.json", files_before)

        stop = threading.Event()
        feeder = Feeder(sim.proc.stdin, stop)
        feeder.start()
        wait_until(lambda: len(feeder.sent) >= 1, 10)
        modbus = Client("modbus", sim.port, ",".join("%#x:%d" % b for b in BLOCKS))
        self.addCleanup(modbus.close)
        https = Client("https", sim.https_port, AUTH)
        self.addCleanup(https.close)
        wait_until(lambda: any(" ok " in l for l in modbus.lines), 15)
        t_start = time.monotonic()
        rss, rounds = [rss_kib(sim.proc.pid)], []
        log_before = len(sim.lines)
        try:
            for r in range(ROUNDS):
                a = Attacks(sim, self.dir, r)
                a.run(feeder)
                rounds.append(a)
                # Every connection of the attacks closed again by sc-sim
                # (the two pollers' may be open).
                wait_until(lambda: open_fds(sim.proc.pid) <= fds_idle + 2, 20, step=0.1)
                rss.append(rss_kib(sim.proc.pid))
            t_end = time.monotonic()
            # Two more telegrams after the last attack, for MQTT's count.
            n_sent = len(feeder.sent)
            wait_until(lambda: len(feeder.sent) >= n_sent + 2, 10)
        finally:
            stop.set()
            feeder.join(30)
            for c in (modbus, https, sub):
                c.close()
        self.assertIsNone(feeder.error)
        try:
            fds_after = wait_until(lambda: open_fds(sim.proc.pid) == fds_idle and fds_idle, 20, step=0.1)
        except AssertionError:
            fds_after = open_fds(sim.proc.pid)
        soak_log = sim.lines[log_before:]
        config_after, files_after = self.config(sim), self.state_files()
        twin = json.loads(request(sim.http_port, "GET", "/sim/v1/state", tls=False)[1])
        self.assertEqual(sim.stop(30), 0, "\n".join(sim.lines[-30:]))
        sent = feeder.sent

        # ---- the well-behaved Modbus client ----
        images = {}
        for k, _ in sent:
            want = simtest.expected_image(simtest.p1_values(telegram(k)))
            for b, (addr, n) in enumerate(BLOCKS):
                images[(b, tuple(want[addr - simtest.MAP_START:addr - simtest.MAP_START + n]))] = k
        self.assertEqual(len(images), len(BLOCKS) * len(sent), "a block's image names its telegram")
        failed, wrong, stale, backwards, served = [], [], [], [], []
        last_k = -1
        polls = [l.split(" ", 3) for l in modbus.lines]
        for t0, t1, kind, got in polls:
            t0, t1 = float(t0), float(t1)
            if kind != "ok":
                failed.append((round(t0 - t_start, 1), got))
                continue
            ks = [images.get((b, tuple(int(x) for x in w.split(",")))) for b, w in enumerate(got.split(";"))]
            if None in ks:
                wrong.append((round(t0 - t_start, 1), ks))
                continue
            if min(ks) < last_k:
                backwards.append((last_k, ks))
            last_k = max(ks)
            if ks[0] < feeder.written_before(t0 - FRESH_S):
                stale.append((round(t0 - t_start, 1), ks[0], feeder.written_before(t0 - FRESH_S)))
            served.append(t1)
        modbus_in = [t for t in served if t_start <= t <= t_end]
        modbus_gap = max(b - a for a, b in zip([t_start] + modbus_in, modbus_in + [t_end]))
        # ---- MQTT ----
        msgs = [l.split(" ", 1) for l in sub.lines[1:]]
        by_p = {}
        for k, _ in sent:
            v = simtest.p1_values(telegram(k))
            by_p[round(v["P"])] = (k, v)
        published, mqtt_wrong, arrivals, latency = [], [], [], []
        written = dict(sent)
        for when, payload in msgs:
            when, p = float(when), json.loads(payload)
            k, v = by_p.get(round(p["P"]), (None, None))
            if k is None or abs(p["E_IMPORT"] - v["E_IMPORT"]) > 1e-6 * v["E_IMPORT"] or \
                    abs(p["l1"]["U"] - v["l1.U"]) > 1e-6 * v["l1.U"]:
                mqtt_wrong.append(p)
                continue
            published.append(k)
            arrivals.append(when)
            latency.append(when - written[k])
        mqtt_in = [t for t in arrivals if t_start <= t <= t_end]
        mqtt_gap = max(b - a for a, b in zip([t_start] + mqtt_in, mqtt_in + [t_end]))
        # The meter's own longest pause (the test's feeder: a pipe full of
        # noise, a busy machine), which the gaps between messages include.
        feeder_gap = max(b - a for (_, a), (_, b) in zip(sent, sent[1:]))
        before_end = [k for k, when in sent if when < t_end]
        missing = sorted(set(before_end) - set(published))
        # ---- HTTPS ----
        hpolls = [(float(t0), float(t1), st) for t0, t1, st in (l.split(" ") for l in https.lines)]
        https_bad = [(round(t0 - t_start, 1), st) for t0, _, st in hpolls if st != "200"]
        ok_times = [t1 for t0, t1, st in hpolls if st == "200" and t_start <= t1 <= t_end]
        https_gap = max(b - a for a, b in zip([t_start] + ok_times, ok_times + [t_end]))
        # ---- the log ----
        log_bytes = sum(len(l) + 1 for l in soak_log)
        summaries = [l for l in soak_log if "more like this" in l]

        # The figures, printed whether the test passes or not.
        report = ["soak: %.0f s, %d rounds, %d telegrams sent" % (t_end - t_start, ROUNDS, len(sent))]
        for r, a in enumerate(rounds):
            for attack in sorted(a.figures):
                report.append("  round %d, %s: %s" % (r + 1, attack, a.figures[attack]))
        report.append("  Modbus client: %d polls (%d registers each), longest gap %.2f s, %d failed, "
                      "%d wrong, %d stale" % (len(polls), sum(n for _, n in BLOCKS), modbus_gap,
                                             len(failed), len(wrong), len(stale)))
        report.append("  MQTT: %d power_instant, longest gap %.2f s (the meter's: %.2f s), longest from "
                      "telegram to subscriber %.2f s, %d missing, %d wrong"
                      % (len(published), mqtt_gap, feeder_gap, max(latency, default=0.0), len(missing),
                         len(mqtt_wrong)))
        report.append("  HTTPS client: %d polls, longest gap %.2f s, %d not 200"
                      % (len(hpolls), https_gap, len(https_bad)))
        report.append("  RSS KiB before, after each round: %s%s" % (rss, " (sanitizers: not asserted)"
                                                                   if SANITIZED else ""))
        report.append("  open fds before %d, after %d; log %d lines, %d bytes, %d summaries"
                      % (fds_idle, fds_after, len(soak_log), log_bytes, len(summaries)))
        print("\n".join(report), file=sys.stderr)

        for r, a in enumerate(rounds):
            self.assertEqual(a.wrong, [], "round %d: attacks not answered as documented" % (r + 1))
        self.assertEqual(failed, [], "the Modbus client was not served")
        self.assertEqual(wrong, [], "the Modbus client read an image of no telegram sent")
        self.assertEqual(backwards, [], "the Modbus client read an older telegram after a newer")
        self.assertEqual(stale, [], "the Modbus client read a telegram over %s s old" % FRESH_S)
        self.assertLessEqual(modbus_gap, GAP_S, "the Modbus client went unserved too long")
        self.assertGreaterEqual(len(modbus_in), (t_end - t_start) / GAP_S)
        self.assertEqual(mqtt_wrong, [], "power_instant with values of no telegram sent")
        self.assertEqual(published, sorted(set(published)), "a telegram published twice or out of order")
        self.assertEqual(missing, [], "telegrams without their power_instant")
        self.assertLessEqual(max(latency), GAP_S, "a power_instant came late")
        self.assertLessEqual(mqtt_gap, GAP_S + feeder_gap, "no power_instant for too long")
        self.assertGreaterEqual(len(mqtt_in), (t_end - t_start) / GAP_S)
        self.assertEqual(https_bad, [], "the HTTPS client was not served")
        self.assertLessEqual(https_gap, GAP_S, "the HTTPS client went unserved too long")
        self.assertEqual(fds_after, fds_idle, "connections left open")
        self.assertEqual(config_after, config_before, "GET /api/v1/config changed")
        self.assertEqual(files_after, files_before, "the state directory changed")
        self.assertEqual((twin["Twin"]["Meter"]["CableOut"], twin["Twin"]["Meter"]["Hand"]), (False, {}),
                         "a cross-site POST reached the meter")
        self.assertTrue(summaries, "the noise on the meter input was not summarised")
        self.assertLess(log_bytes, 512 << 10, "the log was not bounded")
        if not SANITIZED:
            self.assertLessEqual(rss[-1] - rss[1], RSS_BOUND_KIB, "RSS grew from round 1 to round 2: %s" % rss)


if __name__ == "__main__":
    unittest.main()
