"""Runs every case of the bad-input catalogue (badinput.py) against the real
programs and checks each answer; checks that nothing was lost on the way (the
services still answer good requests, the configuration is unchanged) and that
the tables of docs/developer/bad-input.md are the catalogue's (its bad
conditions, which other tests run, each naming a test that is there).

  /usr/bin/python3 sim/tests/test_badinput.py            the test
  /usr/bin/python3 sim/tests/test_badinput.py --show     every case's answer
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import badinput  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

SIM_DIR = os.path.join(simtest.BUILD, "sim")
PROGRAMS = {"sc-sim": os.path.join(SIM_DIR, "sc-sim"), "sc-telegram": os.path.join(SIM_DIR, "sc-telegram"),
            "sc-ctl": os.path.join(SIM_DIR, "sc-ctl"), "sc-hil": os.path.join(simtest.BUILD, "hil", "sc-hil")}
TABLE_DOC = os.path.join(simtest.SOURCE, "docs", "developer", "bad-input.md")
BEGIN, END = ("<!-- generated: bad-input table by docs/tables.py; do not edit -->",
              "<!-- end of bad-input table -->")
CONDITIONS_MARKERS = ("<!-- generated: bad-condition table by docs/tables.py; do not edit -->",
                      "<!-- end of bad-condition table -->")
SHOW = "--show" in sys.argv


def one_line(text):
    return " ".join(text.split())


def run(cmd, data=None, timeout=20):
    """'rc=N stderr stdout' of a program (rc=running when it did not exit)."""
    try:
        r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:  # killed: what it said while running
        return "rc=running %s" % one_line((e.stderr or b"").decode("latin-1"))
    return "rc=%d %s %s" % (r.returncode, one_line(r.stderr.decode("latin-1")),
                            one_line(r.stdout.decode("latin-1")))


class Catalogue(unittest.TestCase):
    def check(self, case, got):
        if SHOW:
            print("%-8s %-55s -> %s" % (case.surface, case.what, one_line(got[:120] + " ... " + got[-160:] if len(got) > 300 else got)))
            return
        self.assertRegex(got, re.compile(case.expect, re.S),
                         "%s: %s: expected %r, got %r" % (case.surface, case.what, case.expect, got[:600]))

    def cases(self, surface):
        cs = badinput.by_surface()[surface]
        self.assertGreater(len(cs), 0)
        return cs

    # ---- parsers, through sc-telegram parse (the device's parsers) ----
    def test_p1(self):
        for c in self.cases("P1"):
            with self.subTest(c.what):
                self.check(c, run([PROGRAMS["sc-telegram"], "parse", "--protocol", "p1", "-"], c.data))

    def test_tic(self):
        for c in self.cases("TIC"):
            with self.subTest(c.what):
                self.check(c, run([PROGRAMS["sc-telegram"], "parse", "--protocol", "tic", "-"], c.data))

    # ---- Modbus frames: one connection a case, the reply or why it closed ----
    def modbus_answer(self, s, data):
        # Loopback reuses the ports of closed connections: only this
        # connection's lines count.
        since = s.mark()
        conn = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        peer = "127.0.0.1:%d" % conn.getsockname()[1]
        s.wait_for(r"modbus: client %s connected" % re.escape(peer), since=since)
        try:
            conn.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        try:
            while True:
                if len(got) >= 6 and len(got) >= 6 + int.from_bytes(got[4:6], "big"):
                    n = 6 + int.from_bytes(got[4:6], "big")
                    conn.close()
                    return "reply " + got[:n].hex()
                chunk = conn.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            conn.close()
            return "no reply within 10 s"
        except ConnectionResetError:
            pass  # closed while bytes were still coming in
        conn.close()
        line = s.wait_for(r"modbus: client %s closed" % re.escape(peer), since=since)
        why = re.search(r"closed \((.*)\)", line).group(1)
        return ("closed (%s)" % why) + (" after " + got.hex() if got else "")

    def test_modbus(self):
        with Sim("--source", "gen:dsmr50", "--modbus-clients", "4", "--modbus-idle-timeout", "2") as s:
            wait_until(lambda: self.read_ok(s), 15)
            for c in self.cases("Modbus"):
                with self.subTest(c.what):
                    self.check(c, self.modbus_answer(s, c.data))
            # Nothing lost: the server still answers a good read.
            self.assertTrue(self.read_ok(s))
            self.assertIsNone(s.proc.poll())

    @staticmethod
    def read_ok(s):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as conn:
            conn.sendall(badinput.mbap(badinput.rd(3, 0x8006, 2), tid=7))
            got = b""
            while len(got) < 13:
                chunk = conn.recv(64)
                if not chunk:
                    return False
                got += chunk
            return got[:9] == bytes.fromhex("000700000007010304")

    # ---- HTTP: raw requests over plain HTTP; auth failures each from their
    # own loopback address (failures slow down an address), the others from
    # one (the device's one session) ----
    def http_answer(self, s, data, source):
        conn = socket.socket()
        conn.bind((source, 0))
        conn.settimeout(3)
        conn.connect(("127.0.0.1", s.http_port))
        try:
            conn.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            if not got:
                conn.close()
                return "no answer within 3 s"
        except ConnectionResetError:
            pass
        conn.close()
        return got.decode("latin-1") if got else "closed"

    def api_sim(self):
        state = tempfile.mkdtemp()
        self.addCleanup(subprocess.run, ["rm", "-rf", state])
        return Sim("--source", "gen:dsmr50", "--password", badinput.PASSWORD, "--state-dir", state,
                   "--http-api-plain", "--control", "off")

    def get_config(self, s):
        r = self.http_answer(s, badinput.http("GET", "/api/v1/config"), "127.0.0.2")
        self.assertRegex(r, r"^HTTP/1\.1 200")
        return r.split("\r\n\r\n", 1)[1]

    def test_http(self):
        with self.api_sim() as s:
            before = self.get_config(s)
            for i, c in enumerate(self.cases("HTTP")):
                with self.subTest(c.what):
                    authed = b"Authorization: Basic dXNlcjpiYWQtaW5wdXQtcHc=" in c.data
                    source = "127.0.0.2" if authed else "127.0.%d.%d" % (1 + i // 200, 10 + i % 200)
                    self.check(c, self.http_answer(s, c.data, source))
            self.assertEqual(self.get_config(s), before)
            self.assertIsNone(s.proc.poll())

    def test_json(self):
        with self.api_sim() as s:
            before = self.get_config(s)
            for c in self.cases("JSON"):
                with self.subTest(c.what):
                    body = c.data.encode("latin-1")
                    got = self.http_answer(s, badinput.http("PATCH", "/api/v1/config", body=body), "127.0.0.2")
                    self.check(c, got)
                    # A refused PATCH changes nothing.
                    if not SHOW and got.startswith("HTTP/1.1 400"):
                        self.assertEqual(self.get_config(s), before, c.what)
            # And a good one still goes through.
            good = badinput.http("PATCH", "/api/v1/config", body=b'{"MQTT": {"Site": "after"}}')
            self.assertRegex(self.http_answer(s, good, "127.0.0.2"), r"^HTTP/1\.1 200")

    # ---- scenario files and command lines ----
    def test_scenario(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(subprocess.run, ["rm", "-rf", tmp])
        for i, c in enumerate(self.cases("Scenario")):
            with self.subTest(c.what):
                path = os.path.join(tmp, "case%d.json" % i)
                with open(path, "wb") as f:
                    f.write(c.data.encode("latin-1"))
                self.check(c, run([PROGRAMS["sc-sim"], "--scenario", path, "--mqtt", "off", "--speed", "max"]))

    def test_flags(self):
        base = ["--modbus", "127.0.0.1:0", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--mqtt", "off"]
        for c in self.cases("Flags"):
            with self.subTest(c.what):
                prog = PROGRAMS[c.data[0]]
                args = c.data[1:]
                for k, a in enumerate(args):
                    if isinstance(a, tuple):  # (name, bytes): a state directory with that file
                        d = tempfile.mkdtemp()
                        self.addCleanup(subprocess.run, ["rm", "-rf", d])
                        with open(os.path.join(d, a[0]), "wb") as f:
                            f.write(a[1])
                        args = args[:k] + [d] + args[k + 1:]
                if "NEW-DIR" in args:
                    tmp = tempfile.mkdtemp()
                    self.addCleanup(subprocess.run, ["rm", "-rf", tmp])
                    args = [a.replace("NEW-DIR", os.path.join(tmp, "new")) for a in args]
                cmd = [prog] + (base + args if c.data[0] == "sc-sim" else args)
                self.check(c, run(cmd, b"", timeout=4))

    # ---- the catalogue itself ----
    def test_at_least_200_cases_each_class_once(self):
        self.assertGreaterEqual(len(badinput.CASES), 200)
        keys = [(c.surface, c.what) for c in badinput.CASES]
        self.assertEqual(len(keys), len(set(keys)), "a class listed twice")
        self.assertEqual(set(badinput.by_surface()),
                         {"P1", "TIC", "Modbus", "HTTP", "JSON", "Scenario", "Flags"})

    def test_documented_table_is_the_catalogues(self):
        with open(TABLE_DOC) as f:
            text = f.read()
        for (begin, end), want in (((BEGIN, END), badinput.table()),
                                   (CONDITIONS_MARKERS, badinput.conditions_table())):
            self.assertIn(begin, text)
            got = text.split(begin, 1)[1].split(end, 1)[0].strip("\n") + "\n"
            self.assertEqual(got, want, "docs/developer/bad-input.md out of date: run docs/tables.py")

    def test_each_condition_names_a_test_that_is_there(self):
        self.assertGreaterEqual(len(badinput.CONDITIONS), 10)
        self.assertEqual(badinput.conditions_missing(), [])
        whats = [(c.surface, c.what) for c in badinput.CONDITIONS]
        self.assertEqual(len(whats), len(set(whats)), "a condition listed twice")


if __name__ == "__main__":
    argv = [a for a in sys.argv if a != "--show"]
    unittest.main(argv=argv, verbosity=2 if SHOW else 1)
