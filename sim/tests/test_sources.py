"""sc-sim's meter sources as users feed them: a serial port (a socat pty pair
standing in for a P1 cable, unplugged and plugged back), standard input, the
built-in generators, and a capture replayed on a faster clock."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

SC_TELEGRAM = os.path.join(simtest.BUILD, "sim", "sc-telegram")


def gen(*args):
    return subprocess.run([SC_TELEGRAM, "gen", *args], capture_output=True, check=True,
                          timeout=30).stdout


def power(port):
    """Total active power served (0x8016), or None when the read fails."""
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
    try:
        if not c.connect():
            return None
        rr = c.read_holding_registers(0x8016, 2, slave=1)
        if rr.isError():
            return None
        w = [0] * (simtest.MAP_END - simtest.MAP_START)
        w[0x16:0x18] = rr.registers
        return simtest.float_at(w, 0x8016)
    finally:
        c.close()


class PtyPair:
    """socat joining two pseudo-terminals: the meter side and the dongle side."""

    def __init__(self, directory):
        self.meter = os.path.join(directory, "meter")
        self.dongle = os.path.join(directory, "dongle")
        self.proc = subprocess.Popen(
            ["socat", "pty,raw,echo=0,link=" + self.dongle, "pty,raw,echo=0,link=" + self.meter],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(self.meter) and os.path.exists(self.dongle))

    def send(self, data):
        with open(self.meter, "wb", buffering=0) as f:
            f.write(data)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        wait_until(lambda: not os.path.exists(self.meter))


class Serial(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_p1_cable_unplugged_and_back(self):
        pty = PtyPair(self.dir)
        self.addCleanup(pty.close)
        tels = simtest.split_telegrams(gen("--count", "3", "--seed", "4", "--start", "1751360400"))
        want = [simtest.p1_values(t)["P"] for t in tels]
        with Sim("--source", "serial:" + pty.dongle, "--modbus-clients", "4") as sim:
            sim.wait_for(r"open at 115200 8N1")
            pty.send(tels[0])
            wait_until(lambda: power(sim.port) == want[0])
            pty.close()
            sim.wait_for(r"lost .*reopening every second")
            pty2 = PtyPair(self.dir)
            self.addCleanup(pty2.close)
            wait_until(lambda: sum("open at 115200 8N1" in l for l in sim.lines) >= 2, timeout=15)
            # The last values stayed served while the cable was out.
            self.assertEqual(power(sim.port), want[0])
            pty2.send(tels[1] + tels[2])
            wait_until(lambda: power(sim.port) == want[2])
            self.assertEqual(sim.stop(), 0)
            self.assertTrue(any("telegrams: 3 ok, 0 failed" in l for l in sim.lines), sim.lines)

    def test_tic_line(self):
        pty = PtyPair(self.dir)
        self.addCleanup(pty.close)
        frame = simtest.split_telegrams(gen("--protocol", "tic", "--count", "1",
                                            "--start", "1751360400"))[0]
        with Sim("--source", "serial:" + pty.dongle, "--device", "tic") as sim:
            sim.wait_for(r"open at 9600 7E1")
            pty.send(frame)
            wait_until(lambda: power(sim.port) == simtest.tic_values(frame)["P"])
            self.assertEqual(sim.stop(), 0)

    def test_missing_port(self):
        out = subprocess.run([*simtest.sim_cmd(), "--source",
                              "serial:/dev/ttyNOPE0"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 3)
        self.assertIn("/dev/ttyNOPE0", out.stderr)


class Stdin(unittest.TestCase):
    def test_bytes_from_a_pipe_then_end(self):
        data = gen("--count", "4", "--fault", "bad-crc", "--fault-every", "4",
                   "--start", "1751360400")
        out = subprocess.run([*simtest.sim_cmd(), "--source", "stdin",
                              "--exit-at-end"], input=data, capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        err = out.stderr.decode()
        self.assertIn("telegrams: 3 ok, 1 failed", err)
        self.assertIn("rejected: crc", err)

    def test_live_pipe(self):
        tels = simtest.split_telegrams(gen("--count", "2", "--seed", "9", "--start", "1751360400"))
        proc = subprocess.Popen([*simtest.sim_cmd(), "--source", "stdin"],
                                stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=False)
        self.addCleanup(proc.kill)
        port = None
        while port is None:
            line = proc.stderr.readline().decode()
            self.assertTrue(line, "sc-sim ended early")
            if "ready:" in line:
                port = int(line.split("modbus tcp 127.0.0.1:")[1].split()[0])
        for t in tels:
            proc.stdin.write(t)
            proc.stdin.flush()
            p = simtest.p1_values(t)["P"]
            wait_until(lambda: power(port) == p)
        proc.stdin.close()
        proc.terminate()
        self.assertEqual(proc.wait(10), 0)
        proc.stderr.close()


class Staleness(unittest.TestCase):
    def test_silent_meter_keeps_last_values(self):
        tels = simtest.split_telegrams(gen("--count", "2", "--seed", "3", "--start", "1751360400"))
        proc = subprocess.Popen([*simtest.sim_cmd(), "--source", "stdin",
                                 "--no-data-timeout", "0.5"],
                                stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        lines = []
        port = None
        while port is None:
            line = proc.stderr.readline().decode()
            self.assertTrue(line, "sc-sim ended early")
            lines.append(line)
            if "ready:" in line:
                port = int(line.split("modbus tcp 127.0.0.1:")[1].split()[0])
        proc.stdin.write(tels[0])
        proc.stdin.flush()
        want = simtest.p1_values(tels[0])["P"]
        wait_until(lambda: power(port) == want)

        def until(text):
            while True:
                line = proc.stderr.readline().decode()
                self.assertTrue(line, "sc-sim ended before '%s'" % text)
                lines.append(line)
                if text in line:
                    return line
        self.assertIn("no data for 0.5 s", until("meter: no data"))
        self.assertEqual(power(port), want, "the last values stay served")
        proc.stdin.write(tels[1])
        proc.stdin.flush()
        until("meter: data again")
        wait_until(lambda: power(port) == simtest.p1_values(tels[1])["P"])
        proc.stdin.close()
        proc.terminate()
        self.assertEqual(proc.wait(10), 0)
        proc.stderr.close()

    def test_dsmr42_cadence_does_not_flap(self):
        # 10 s telegrams on a clock 50 times faster: 12 telegrams in about
        # 2.4 s of wall time, never 30 s of device time without one.
        with Sim("--source", "gen:dsmr42", "--speed", "50", "--log-level", "debug") as sim:
            wait_until(lambda: sum("telegram at offset" in l for l in sim.lines) >= 12,
                       timeout=30)
            self.assertEqual(sim.stop(), 0)
            self.assertFalse([l for l in sim.lines if "no data" in l], sim.lines)

    def test_dsmr42_goes_quiet(self):
        # The same meter with its telegrams cut after the first: after 30 s of
        # device time (0.6 s at speed 50) the link counts as silent.
        tel = gen("--protocol", "dsmr42", "--count", "1", "--start", "1751360400")
        with tempfile.NamedTemporaryFile(suffix=".p1", delete=False) as f:
            f.write(tel)
        self.addCleanup(os.unlink, f.name)
        with Sim("--source", "file:" + f.name, "--speed", "50") as sim:
            line = sim.wait_for(r"meter: no data", timeout=30)
            self.assertIn("no data for 30 s", line)
            self.assertEqual(sim.stop(), 0)


class Generators(unittest.TestCase):
    def test_every_built_in_meter_serves_values(self):
        for spec, extra in (("gen:dsmr42", []), ("gen:dsmr50:pv", []), ("gen:emucs:ev", []),
                            ("gen:tic", ["--phases", "1"]),
                            ("gen:tic:pv-ev", ["--producer", "--calendar", "tempo"])):
            with Sim("--source", spec, *extra) as sim:
                wait_until(lambda: power(sim.port) not in (None, 0.0))
                self.assertEqual(sim.stop(), 0)
                self.assertIn("source " + spec, next(l for l in sim.lines if "ready:" in l))

    def test_speed_runs_the_clock_faster(self):
        # 200 telegrams of a 1 s meter at speed 100: about 2 s of wall time.
        data = gen("--count", "200", "--start", "1751360400")
        with tempfile.NamedTemporaryFile(suffix=".p1", delete=False) as f:
            f.write(data)
        self.addCleanup(os.unlink, f.name)
        out = subprocess.run([*simtest.sim_cmd(), "--source",
                              "file:" + f.name, "--speed", "100", "--exit-at-end"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("telegrams: 200 ok", out.stderr)

    def test_looped_capture_goes_on(self):
        path = os.path.join(simtest.SOURCE, "corpus", "p1", "gen-dsmr42-pv-ev-seed42.p1")
        with Sim("--source", "file:" + path, "--speed", "1000", "--loop",
                 "--log-level", "debug") as sim:
            wait_until(lambda: sum("telegram at offset" in l for l in sim.lines) > 12)
            sim.stop()
            line = next(l for l in sim.lines if "telegrams:" in l)
            ok = int(line.split("telegrams: ")[1].split()[0])
            self.assertGreater(ok, 12, "more telegrams than the capture holds: it looped")


if __name__ == "__main__":
    unittest.main(verbosity=2)
