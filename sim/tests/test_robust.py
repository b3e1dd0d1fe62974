"""sc-sim against what broke it in a security probe of the running twin, each through the
program as a user runs it (started here on free loopback ports, stopped by
its pid): damaged files in --state-dir, the stop signals, and (below) the
Modbus and logging limits."""

import os
import shutil
import signal
import socket
import fcntl
import json
import random
import struct
import subprocess
import threading
import sys
import tempfile
import termios
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from simtest import Sim, sim_cmd, wait_until  # noqa: E402


def tmpdir(test):
    d = tempfile.mkdtemp(prefix="sc-robust-")
    test.addCleanup(shutil.rmtree, d, True)
    return d


class StateFiles(unittest.TestCase):
    def test_a_damaged_firmware_file_is_named_in_a_warning(self):
        state = tmpdir(self)
        with open(os.path.join(state, "firmware"), "wb") as f:
            f.write(b"5.\x001-garbage\n")
        with Sim("--state-dir", state, "--firmware", "5.1.2") as s:
            line = s.wait_for(r"firmware: .*firmware is not a version")
            self.assertIn(os.path.join(state, "firmware"), line)
            self.assertIn(r"5.\x001-garbage", line)
            self.assertIn("running 5.1.2", line)

    def run_failing(self, *args):
        p = subprocess.run(sim_cmd(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=30)
        return p.returncode, p.stderr.decode(errors="replace")

    def made_pair(self):
        state = tmpdir(self)
        with Sim("--state-dir", state, "--password", "pw") as s:
            self.assertEqual(s.stop(), 0)
        for name in ("https-cert.pem", "https-key.pem"):
            self.assertTrue(os.path.exists(os.path.join(state, name)), name)
        return state

    def test_a_broken_key_or_certificate_is_named_with_what_is_wrong(self):
        cases = [
            ("https-key.pem", b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n",
             r"https-key\.pem: not a PEM private key"),
            ("https-key.pem", b"", r"https-key\.pem: not a PEM private key"),
            ("https-cert.pem", b"garbage\n", r"https-cert\.pem: not a PEM certificate"),
            ("https-cert.pem", b"-----BEGIN CERTIFICATE-----\n\x00\n", r"https-cert\.pem: a NUL byte"),
        ]
        for name, data, rx in cases:
            with self.subTest(name=name, data=data):
                state = self.made_pair()
                with open(os.path.join(state, name), "wb") as f:
                    f.write(data)
                rc, err = self.run_failing("--state-dir", state, "--password", "pw")
                self.assertNotEqual(rc, 0)
                self.assertRegex(err, rx)
                self.assertIn(state, err)
                self.assertNotIn("Protocol error", err)

    def test_a_key_of_another_certificate_is_named(self):
        a, b = self.made_pair(), self.made_pair()
        shutil.copy(os.path.join(b, "https-key.pem"), os.path.join(a, "https-key.pem"))
        rc, err = self.run_failing("--state-dir", a, "--password", "pw")
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"https-key\.pem: the key is not the certificate's")


class Signals(unittest.TestCase):
    def test_hup_usr1_and_quit_stop_cleanly_and_withdraw_the_ready_file(self):
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT):
            with self.subTest(signal=sig.name):
                ready = os.path.join(tmpdir(self), "sc-sim.ready")
                with Sim("--ready-file", ready, "--password", "pw") as s:
                    wait_until(lambda: os.path.exists(ready), 15)
                    s.proc.send_signal(sig)
                    self.assertEqual(s.proc.wait(15), 0)
                    s.reader.join(10)
                    s.wait_for(r"stopping on signal %d" % int(sig), 1)
                self.assertFalse(os.path.exists(ready), "the ready file outlived sc-sim")


class ModbusDeadline(unittest.TestCase):
    def test_a_request_dripped_a_byte_a_second_is_closed_and_the_slot_freed(self):
        from pymodbus.client import ModbusTcpClient
        # The idle timeout (600 s) never fires here: only the request's
        # deadline can close the connection while each byte beats it.
        with Sim("--modbus-idle-timeout", "600", "--modbus-clients", "1") as s:
            request = struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0x8006, 2)
            conn = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            self.addCleanup(conn.close)
            closed = False
            # One byte a second, never the whole request (the last byte is held).
            for b in request[:-1]:
                try:
                    conn.sendall(bytes([b]))
                    conn.settimeout(1.0)
                    closed = conn.recv(1) == b""
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    closed = True
                if closed:
                    break
            self.assertTrue(closed, "a request dripped over %d s still held the slot"
                            % (len(request) - 1))
            s.wait_for(r"modbus: client .* closed \(request not complete within its deadline\)")
            c = ModbusTcpClient("127.0.0.1", port=s.port, timeout=5)
            self.addCleanup(c.close)
            self.assertTrue(wait_until(c.connect, 10))
            r = c.read_holding_registers(0x8006, 2, slave=1)
            self.assertFalse(r.isError(), r)


def noise(size, seed=1):
    """Random bytes with telegram starts and ends among them: every kind of
    rejection the meter input logs."""
    rnd = random.Random(seed)
    block = bytes(rnd.getrandbits(8) for _ in range(1 << 16)) + b"/ISK5\\2M550T\r\n!12\r\n" * 200
    return (block * (size // len(block) + 1))[:size]


class Logging(unittest.TestCase):
    def test_noise_on_the_input_gives_a_bounded_log_with_a_summary(self):
        data = noise(32 << 20)
        p = subprocess.Popen(sim_cmd("--source", "stdin", "--http", "off", "--https", "off"),
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = []
        reader = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
        reader.start()
        try:
            p.stdin.write(data)
            p.stdin.close()
            # The input read to its end, the process stops on SIGTERM and says
            # what it left out.
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        reader.join(10)
        p.stderr.close()
        log = err[0]
        # Without a limit these 32 MB gave over 20 MB of log.
        self.assertLess(len(log), 1 << 20, "%d bytes of log for %d of noise" % (len(log), len(data)))
        self.assertRegex(log.decode(errors="replace"), r"warn: \d+ more like this in the last \d+ s: ")

    def test_a_stderr_nobody_reads_never_stops_modbus(self):
        from pymodbus.client import ModbusTcpClient
        ready = os.path.join(tmpdir(self), "ready")
        # stderr is a pipe this test never reads: once it is full, a log line
        # that waited for it would freeze the device.
        p = subprocess.Popen(sim_cmd("--source", "stdin", "--ready-file", ready, "--http", "off",
                                     "--https", "off", "--log-level", "debug"),
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop():
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stderr.close()
        self.addCleanup(stop)
        # One page of pipe (F_SETPIPE_SZ), so that it is full within the first lines.
        fcntl.fcntl(p.stderr.fileno(), 1031, 4096)

        def unread():
            return struct.unpack("i", fcntl.ioctl(p.stderr.fileno(), termios.FIONREAD, b"\0" * 4))[0]

        fed = [0]

        def feed():
            try:
                for k in range(200):
                    p.stdin.write(noise(1 << 20, seed=k))
                    fed[0] += 1 << 20
                p.stdin.close()
            except (BrokenPipeError, ValueError, OSError):
                pass
        threading.Thread(target=feed, daemon=True).start()
        info = wait_until(lambda: os.path.exists(ready) and open(ready).read().endswith("\n")
                          and json.load(open(ready)), 15)
        port = info["modbus"]
        # The noise's rejections have reached the pipe nobody reads, and
        # 4 MB of noise (thousands of log lines) have been taken in since:
        # a device blocked on its log would have stopped reading its input.
        wait_until(lambda: unread() > 0 and fed[0] >= 4 << 20, 30)
        for _ in range(3):
            c = ModbusTcpClient("127.0.0.1", port=port, timeout=5)
            try:
                self.assertTrue(c.connect())
                for _ in range(20):
                    r = c.read_holding_registers(0x8006, 2, slave=1)
                    self.assertFalse(r.isError(), r)
            finally:
                c.close()
        self.assertIsNone(p.poll())
        self.assertGreater(unread(), 0)


if __name__ == "__main__":
    unittest.main()
