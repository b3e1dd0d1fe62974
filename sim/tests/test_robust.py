"""sc-sim against what broke it in the probe of issue 27, each through the
program as a user runs it (started here on free loopback ports, stopped by
its pid): damaged files in --state-dir, the stop signals, and (below) the
Modbus and logging limits."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
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


if __name__ == "__main__":
    unittest.main()
