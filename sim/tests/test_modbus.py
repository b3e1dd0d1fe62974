"""sc-sim's Modbus TCP server read by real, independent clients (pymodbus and
mbpoll), each test with its own sc-sim on a free loopback port."""

import os
import re
import socket
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

GEN = os.path.join(simtest.SOURCE, "corpus")


def read_image(port, fc=3, unit=1):
    """The whole map 0x8000-0x8C37 read by pymodbus in reads of <= 125."""
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=5)
    assert c.connect()
    words = []
    try:
        addr = simtest.MAP_START
        while addr < simtest.MAP_END:
            n = min(125, simtest.MAP_END - addr)
            fn = c.read_holding_registers if fc == 3 else c.read_input_registers
            rr = fn(addr, n, slave=unit)
            assert not rr.isError(), "read of %#x+%d: %s" % (addr, n, rr)
            words += rr.registers
            addr += n
    finally:
        c.close()
    return words


def mbpoll_floats(port, first, count, abcd=False):
    """count float32 values from register first, read by mbpoll."""
    cmd = ["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-0", "-1", "-t", "4:float",
           "-r", str(first), "-c", str(count), "-o", "5"]
    if abcd:
        cmd.append("-B")
    out = subprocess.run(cmd + ["127.0.0.1"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    vals = {}
    for m in re.finditer(r"^\[(\d+)\]:\s+(\S+)", out.stdout, re.M):
        vals[int(m.group(1))] = float(m.group(2))
    assert len(vals) == count, out.stdout
    return vals


def mbpoll_words(port, first, count):
    """count 16-bit registers from first, read by mbpoll, as integers."""
    out = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-0", "-1",
                          "-t", "4:hex", "-r", str(first), "-c", str(count), "-o", "5",
                          "127.0.0.1"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    words = [int(m.group(2), 16) for m in re.finditer(r"^\[(\d+)\]:\s+0x([0-9A-Fa-f]+)",
                                                       out.stdout, re.M)]
    assert len(words) == count, out.stdout
    return words


def mbpoll_image(port):
    words = []
    addr = simtest.MAP_START
    while addr < simtest.MAP_END:
        n = min(125, simtest.MAP_END - addr)
        words += mbpoll_words(port, addr, n)
        addr += n
    return words


def last_telegram(path):
    with open(path, "rb") as f:
        return simtest.split_telegrams(f.read())[-1]


class ReplayedValues(unittest.TestCase):
    """A capture replayed to its end: the last telegram's values are served."""

    def check(self, capture, values_of, *extra, word_order="cdab", energy_kwh=False):
        tel = last_telegram(capture)
        want_values = values_of(tel)
        want = simtest.expected_image(want_values, word_order, energy_kwh)
        with Sim("--source", "file:" + capture, "--speed", "1000", *extra) as sim:
            sim.wait_for(r"source: end of")
            got3 = read_image(sim.port, fc=3)
            got4 = read_image(sim.port, fc=4)
            self.assertEqual(got3, want, "FC 0x03 image of %s" % capture)
            self.assertEqual(got4, got3, "FC 0x04 equals FC 0x03")
            self.assertEqual(mbpoll_image(sim.port), want, "the whole map read by mbpoll")
            # mbpoll, configured for the word order served, reads the same floats.
            floats = mbpoll_floats(sim.port, 0x8006, 25, abcd=word_order == "abcd")
            for i in range(25):
                addr = 0x8006 + 2 * i
                key = simtest.REGISTERS.get(addr)
                expect = want_values.get(key, 0.0) if key else 0.0
                self.assertAlmostEqual(floats[addr], expect, delta=abs(expect) * 1e-5 + 1e-6,
                                       msg="mbpoll %#x (%s)" % (addr, key))
            self.assertEqual(sim.stop(), 0)
        return want_values

    def test_dsmr50(self):
        v = self.check(os.path.join(GEN, "p1/gen-dsmr50-pv-ev-seed42.p1"), simtest.p1_values)
        self.assertIn("l1.U", v)

    def test_dsmr42_has_no_voltages(self):
        v = self.check(os.path.join(GEN, "p1/gen-dsmr42-pv-ev-seed42.p1"), simtest.p1_values)
        self.assertNotIn("l1.U", v)  # and so 0x8006 reads 0, checked by the image

    def test_emucs(self):
        self.check(os.path.join(GEN, "p1/gen-emucs-pv-ev-seed42.p1"), simtest.p1_values)

    def test_tic_export(self):
        v = self.check(os.path.join(GEN, "tic/gen-tic-mono-producer-hchp-pv.tic"),
                       simtest.tic_values)
        self.assertLess(v["P"], 0, "the capture exports")
        self.assertEqual(v["l1.P"], 0)

    def test_word_order_abcd(self):
        self.check(os.path.join(GEN, "p1/gen-dsmr50-pv-ev-seed42.p1"), simtest.p1_values,
                   "--word-order", "abcd", word_order="abcd")

    def test_firmware_before_5_1_serves_kwh(self):
        self.check(os.path.join(GEN, "p1/gen-emucs-pv-ev-seed42.p1"), simtest.p1_values,
                   "--firmware", "5.0.3", energy_kwh=True)

    def test_field_capture_kaifa(self):
        path = simtest.field_capture("p1", "dsmr42-kaifa.p1")
        self.check(path, simtest.p1_values)


class Protocol(unittest.TestCase):
    # Four slots, so that a connection opened right after another closed is
    # never refused while the server has not yet seen the close; the
    # one-slot policy is tested on its own below.
    def setUp(self):
        self.sim = Sim("--modbus-idle-timeout", "2", "--modbus-clients", "4")
        self.addCleanup(self.sim.__exit__)
        wait_until(lambda: any(read_image(self.sim.port)[:0x20]))

    def client(self):
        c = ModbusTcpClient("127.0.0.1", port=self.sim.port, timeout=5)
        self.assertTrue(c.connect())
        self.addCleanup(c.close)
        return c

    def test_exceptions(self):
        c = self.client()
        self.assertEqual(c.read_coils(0x8000, 1, slave=1).exception_code, 0x01)
        self.assertEqual(c.write_register(0x8006, 1, slave=1).exception_code, 0x01)
        self.assertEqual(c.read_holding_registers(0x7FFF, 2, slave=1).exception_code, 0x02)
        self.assertEqual(c.read_holding_registers(0x8C37, 2, slave=1).exception_code, 0x02)
        self.assertEqual(c.read_input_registers(0x0000, 1, slave=1).exception_code, 0x02)
        self.assertEqual(c.read_holding_registers(0x8000, 126, slave=1).exception_code, 0x03)
        self.assertFalse(c.read_holding_registers(0x8C37, 1, slave=1).isError())
        self.assertFalse(c.read_holding_registers(0x8000, 125, slave=1).isError())
        # A gap inside the map reads 0.
        self.assertEqual(c.read_holding_registers(0x8000, 6, slave=1).registers, [0] * 6)

    def test_unit_id_ignored(self):
        c = self.client()
        answers = [c.read_holding_registers(0x8006, 10, slave=u) for u in (0, 1, 247)]
        for a in answers:
            self.assertFalse(a.isError())
        self.assertEqual(len(answers[0].registers), 10)

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
        self.addCleanup(s.close)
        return s

    def closed_by_server(self, s, timeout=5):
        s.settimeout(timeout)
        try:
            return s.recv(1) == b""
        except ConnectionResetError:
            return True

    def test_idle_client_is_dropped(self):
        idle = self.raw()
        self.assertTrue(self.closed_by_server(idle, timeout=10))
        self.sim.wait_for(r"idle timeout")
        self.assertFalse(self.client().read_holding_registers(0x8006, 2, slave=1).isError())

    def test_garbage_and_abrupt_disconnects_then_a_good_read(self):
        s = self.raw()
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        self.assertTrue(self.closed_by_server(s))
        s = self.raw()
        s.sendall(b"\x00\x01\x00")  # a truncated MBAP header, then gone
        s.close()
        s = self.raw()
        s.sendall(struct.pack(">HHHB", 7, 0, 6, 1) + b"\x03\x80")  # cut mid-request
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        s = self.raw()
        s.sendall(struct.pack(">HHH", 1, 0, 0xFFFF))  # absurd length
        self.assertTrue(self.closed_by_server(s))
        wait_until(lambda: not self.client().read_holding_registers(0x8006, 30, slave=1).isError())

    def test_pipelined_requests_answered_in_order(self):
        s = self.raw()
        reqs = b"".join(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0x8006, 2) for tid in (5, 6, 7))
        s.sendall(reqs)
        got = b""
        while len(got) < 3 * 13:
            chunk = s.recv(256)
            self.assertTrue(chunk)
            got += chunk
        tids = [struct.unpack(">H", got[i:i + 2])[0] for i in range(0, 39, 13)]
        self.assertEqual(tids, [5, 6, 7])


def closed_by_server(s, timeout=5):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


class Clients(unittest.TestCase):
    def test_one_client_at_a_time_as_the_device(self):
        with Sim() as sim:
            first = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
            first.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0x8006, 2))
            self.assertEqual(len(first.recv(64)), 9 + 4)
            second = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
            self.assertTrue(closed_by_server(second), "a second client is closed at once")
            second.close()
            sim.wait_for(r"refused: 1 connection already open")
            first.close()
            sim.wait_for(r"closed \(closed by the client\)")
            c = ModbusTcpClient("127.0.0.1", port=sim.port, timeout=5)
            self.assertTrue(c.connect())
            self.assertFalse(c.read_holding_registers(0x8006, 2, slave=1).isError(),
                             "the slot is free once the first client has gone")
            c.close()
            self.assertEqual(sim.stop(), 0)

    def test_four_clients_when_allowed(self):
        with Sim("--modbus-clients", "4") as sim:
            cs = [ModbusTcpClient("127.0.0.1", port=sim.port, timeout=5) for _ in range(4)]
            for c in cs:
                self.assertTrue(c.connect())
            for c in cs:
                self.assertFalse(c.read_holding_registers(0x8006, 2, slave=1).isError())
            for c in cs:
                c.close()
            self.assertEqual(sim.stop(), 0)


class Snapshot(unittest.TestCase):
    """Telegram k carries values that all derive from k, so a read mixing two
    telegrams is visible."""

    def test_reads_never_mix_two_telegrams(self):
        tels = []
        for k in range(1, 401):
            lines = ["1-3:0.2.8(50)", "0-0:1.0.0(250701%02d%02d%02dS)" % (k // 3600, k // 60 % 60, k % 60)]
            lines += ["1-0:1.7.0(%02d.%03d*kW)" % (k // 1000, k % 1000), "1-0:2.7.0(00.000*kW)"]
            for ph, (u, i, pp, pm) in enumerate((("32", "31", "21", "22"), ("52", "51", "41", "42"),
                                                  ("72", "71", "61", "62"))):
                lines.append("1-0:%s.7.0(%03d.0*V)" % (u, 100 + k % 300))
                lines.append("1-0:%s.7.0(%03d*A)" % (i, k % 1000))
                lines.append("1-0:%s.7.0(%02d.%03d*kW)" % (pp, k // 1000, k % 1000))
                lines.append("1-0:%s.7.0(00.000*kW)" % pm)
            tels.append(simtest.p1_telegram("XMX5SNAPSHOT", lines))
        with tempfile.NamedTemporaryFile(suffix=".p1", delete=False) as f:
            f.write(b"".join(tels))
            path = f.name
        self.addCleanup(os.unlink, path)
        with Sim("--source", "file:" + path, "--speed", "100", "--loop") as sim:
            c = ModbusTcpClient("127.0.0.1", port=sim.port, timeout=5)
            self.assertTrue(c.connect())
            seen = set()
            deadline = time.monotonic() + 4
            reads = 0
            while time.monotonic() < deadline:
                rr = c.read_holding_registers(0x8006, 50, slave=1)
                self.assertFalse(rr.isError())
                w = [0] * 6 + rr.registers
                w += [0] * (simtest.MAP_END - simtest.MAP_START - len(w))
                p = round(simtest.float_at(w, 0x8016))
                k = p
                self.assertGreater(k, 0)
                for addr in (0x801E, 0x8020, 0x8022):
                    self.assertEqual(round(simtest.float_at(w, addr)), k, "phase P of telegram %d" % k)
                for addr in (0x800E, 0x8010, 0x8012):
                    self.assertEqual(round(simtest.float_at(w, addr)), k % 1000)
                for addr in (0x8006, 0x8008, 0x800A):
                    self.assertEqual(round(simtest.float_at(w, addr)), 100 + k % 300)
                self.assertEqual(round(simtest.float_at(w, 0x801A)), 3 * k, "S")
                seen.add(k)
                reads += 1
            c.close()
            self.assertGreater(len(seen), 50, "the stream moved while reading (%d reads)" % reads)


class Replay566(unittest.TestCase):
    def test_capture_served_in_order(self):
        path = simtest.field_capture("p1", "dsmr50-iskra-am550-566-telegrams.p1")
        with open(path, "rb") as f:
            tels = simtest.split_telegrams(f.read())
        self.assertEqual(len(tels), 566)
        # Values of one read only: two reads may see two telegrams.
        keys = ("P", "l1.U", "l2.U", "l3.U", "l1.P", "l2.P", "l3.P", "l3.I")
        addr = {"P": 0x8016, "l1.U": 0x8006, "l2.U": 0x8008, "l3.U": 0x800A,
                "l1.P": 0x801E, "l2.P": 0x8020, "l3.P": 0x8022, "l3.I": 0x8012}
        expected = []
        for t in tels:
            v = simtest.p1_values(t)
            expected.append(tuple(struct.unpack(">f", struct.pack(">f", v[k]))[0] for k in keys))
        with Sim("--source", "file:" + path, "--speed", "50") as sim:
            c = ModbusTcpClient("127.0.0.1", port=sim.port, timeout=5)
            self.assertTrue(c.connect())
            pos, matched = 0, 0
            while True:
                ended = any("source: end of" in l for l in sim.lines)
                rr = c.read_holding_registers(0x8006, 125, slave=1)
                w = [0] * (simtest.MAP_END - simtest.MAP_START)
                w[6:6 + 125] = rr.registers
                got = tuple(simtest.float_at(w, addr[k]) for k in keys)
                # Each observation is the telegram last seen or a later one.
                while pos < len(expected) and expected[pos] != got:
                    pos += 1
                self.assertLess(pos, len(expected), "value tuple %s out of order" % (got,))
                matched += 1
                if ended:
                    break
            c.close()
            self.assertEqual(pos, len(expected) - 1, "the last telegram is served at the end")
            self.assertGreater(matched, 100)


class Lifecycle(unittest.TestCase):
    def test_port_in_use_is_a_clear_error(self):
        with Sim() as first:
            busy = Sim("--modbus", "127.0.0.1:%d" % first.port, ready=False)
            # our --modbus comes last on the command line and wins
            busy.proc.wait(10)
            busy.__exit__()
            self.assertEqual(busy.proc.returncode, 3)
            self.assertTrue(any("port is in use" in l for l in busy.lines), busy.lines)

    def test_port_502_without_privileges_says_how_to_choose_another(self):
        if os.geteuid() != 0:
            cmd = [simtest.SC_SIM]
        else:
            # As root, drop to nobody: what a user without privileges sees.
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", simtest.SC_SIM]
            if subprocess.run(cmd[:-1] + ["test", "-x", simtest.SC_SIM]).returncode != 0:
                self.skipTest("nobody cannot run %s here" % simtest.SC_SIM)
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            if int(f.read()) <= 502:
                self.skipTest("this machine lets anyone bind port 502")
        out = subprocess.run(cmd + ["--modbus", "127.0.0.1:502", "--http", "off", "--https", "off",
                                    "--mqtt", "off"], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertIn("permission denied", out.stderr)
        self.assertIn("--modbus 127.0.0.1:1502", out.stderr)

    def test_sigterm_stops_cleanly(self):
        with Sim() as sim:
            self.assertEqual(sim.stop(), 0)
            self.assertTrue(any("stopping on signal 15" in l for l in sim.lines))

    def test_usage_errors(self):
        for args in (["--source", "gen:dsmr30"], ["--modbus", "nowhere"], ["--speed", "0"],
                     ["--word-order", "badc"], ["--firmware", "five"], ["--phases", "2"]):
            out = subprocess.run([*simtest.sim_cmd(), *args], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 2, args)
            self.assertTrue(out.stderr.strip(), args)

    def test_missing_file_source(self):
        out = subprocess.run([*simtest.sim_cmd(), "--source",
                              "file:/nonexistent.p1"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 3)
        self.assertIn("/nonexistent.p1", out.stderr)

    def test_exit_at_end(self):
        path = os.path.join(GEN, "p1/gen-dsmr50-pv-ev-seed42.p1")
        out = subprocess.run([*simtest.sim_cmd(), "--source", "file:" + path,
                              "--speed", "1000", "--exit-at-end"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("telegrams: 12 ok, 0 failed", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
