"""scripts/sim.sh run as a user runs it, on free ports: it prints its hints
once sc-sim is ready, with the ports it was given; each hint works when
pasted (mbpoll reads once and exits, mosquitto_sub gets power_instant from
the broker sim.sh started, curl gets the status); stopped by its pid it
exits 0 and the broker it started is gone. A port in use makes it exit with
sc-sim's status (3), its broker gone too; --mqtt off starts no broker; a
usage error is sc-sim's 2."""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402

SIM_SH = os.path.join(simtest.SOURCE, "scripts", "sim.sh")


class SimScript(simtest.LineLog):
    """scripts/sim.sh with its stderr collected; stopped by its pid."""

    def __init__(self, test, *args):
        self.args = [SIM_SH, "--build-dir", simtest.BUILD, *args]
        self.proc = subprocess.Popen(self.args, cwd=simtest.SOURCE, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        test.addCleanup(self.close)
        self.start_reader(self.proc.stderr)

    def broker_pid(self):
        m = re.search(r"sim\.sh: mosquitto on 127\.0\.0\.1:\d+ \(pid (\d+)\)", "\n".join(self.lines))
        return int(m.group(1)) if m else None

    def children(self):
        """The commands of this script's child processes now."""
        out = []
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            for pid in f.read().split():
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as c:
                        out.append(c.read().split(b"\0")[0].decode())
                except OSError:
                    pass
        return out

    def hints(self):
        """The commands of the hint lines printed after 'sim.sh: ready.'."""
        self.wait_for(r"and the configuration page at ")
        text = self.lines[self.lines.index(self.wait_for(r"^sim\.sh: ready\.")) + 1:]
        return [re.split(r"\s+# ", ln)[0].strip() for ln in text
                if re.match(r"  (mbpoll|mosquitto_sub|curl) ", ln)]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def close(self):
        # SIGTERM first: the script stops sc-sim and its broker.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.reader.join(10)
        if not self.reader.is_alive():
            self.proc.stderr.close()


def gone(pid):
    """pid no longer runs mosquitto (exited, or the number taken by another)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"mosquitto" not in f.read()
    except OSError:
        return True


def port_refused(port):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


class Run(unittest.TestCase):
    def ports(self):
        return {k: brokertest.free_port() for k in ("modbus", "https", "http", "broker")}

    def start(self, p, *extra):
        return SimScript(self, "--modbus-port", str(p["modbus"]), "--https-port", str(p["https"]),
                         "--http-port", str(p["http"]), "--broker-port", str(p["broker"]),
                         "--fresh", *extra)

    def test_hints_after_ready_with_its_ports_and_each_works(self):
        p = self.ports()
        s = self.start(p)
        ready = s.wait_for(r"sc-sim: info: ready: ", timeout=120)
        hints = s.hints()
        # After sc-sim's own ready line, with the ports given.
        self.assertLess(s.lines.index(ready), s.lines.index(s.wait_for(r"^sim\.sh: ready\.")))
        self.assertIn("modbus tcp 127.0.0.1:%d" % p["modbus"], ready)
        mbpoll = [h for h in hints if h.startswith("mbpoll")]
        self.assertEqual(len(mbpoll), 2, hints)
        for h in mbpoll:
            self.assertIn("-p %d " % p["modbus"], h)
            self.assertIn(" -1 ", h, "reads once: the device's one Modbus slot is not held")
        self.assertIn("mosquitto_sub -h 127.0.0.1 -p %d -t 'devices/#' -v -C 3" % p["broker"], hints)
        self.assertIn("curl -sk -u user:smartconnect https://127.0.0.1:%d/api/v1/status" % p["https"],
                      hints)
        self.assertIn("curl -s http://127.0.0.1:%d/sim/v1/state" % p["http"], hints)
        broker = s.broker_pid()
        self.assertIsNotNone(broker, s.lines)

        # Each pasted as it is: mbpoll reads once and exits.
        for h in mbpoll:
            r = subprocess.run(shlex.split(h), capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            values = re.findall(r"\[(\d+)\]:\s+(-?[\d.]+)", r.stdout)
            self.assertTrue(values, r.stdout)
        r = subprocess.run(shlex.split(mbpoll[0]), capture_output=True, text=True, timeout=30)
        power = float(re.search(r"\[32790\]:\s+(-?[\d.]+)", r.stdout).group(1))
        sub = [h for h in hints if h.startswith("mosquitto_sub")][0]
        r = subprocess.run(shlex.split(sub), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        msgs = r.stdout.splitlines()
        self.assertEqual(len(msgs), 3, r.stdout)
        for m in msgs:
            topic, payload = m.split(" ", 1)
            self.assertEqual(topic, "devices/demo/smart-connect/E8DB84000001/data/power_instant")
            self.assertIsInstance(json.loads(payload)["P"], (int, float))
        for h in [h for h in hints if h.startswith("curl")]:
            r = subprocess.run(shlex.split(h), capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            doc = json.loads(r.stdout)
            self.assertTrue(doc)
        st = json.loads(subprocess.run(shlex.split(
            "curl -s http://127.0.0.1:%d/sim/v1/state" % p["http"]), capture_output=True,
            text=True, timeout=30).stdout)["Status"]
        self.assertEqual(st["MQTT"]["State"], "connected")
        self.assertIsInstance(power, float)

        self.assertEqual(s.stop(), 0)
        self.assertTrue(gone(broker), "the broker sim.sh started is gone")
        for port in (p["modbus"], p["https"], p["http"], p["broker"]):
            self.assertTrue(port_refused(port), port)

    def test_a_port_in_use_exits_with_sc_sims_status(self):
        p = self.ports()
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        p["modbus"] = taken.getsockname()[1]
        s = self.start(p)
        self.assertEqual(s.proc.wait(120), 3, s.lines)
        s.wait_for(r"sc-sim: error: modbus: cannot listen on 127\.0\.0\.1:%d: the port is in use"
                   % p["modbus"])
        s.wait_for(r"sim\.sh: sc-sim exited with status 3: a port it needs is taken")
        self.assertFalse([ln for ln in s.lines if ln.startswith("sim.sh: ready")], s.lines)
        broker = s.broker_pid()
        self.assertIsNotNone(broker, s.lines)
        self.assertTrue(gone(broker), "the broker sim.sh started is gone")

    def test_mqtt_off_starts_no_broker(self):
        p = self.ports()
        s = self.start(p, "--mqtt", "off")
        s.wait_for(r"sc-sim: info: ready: .*mqtt off \(--mqtt off\)", timeout=120)
        hints = s.hints()
        self.assertFalse([h for h in hints if h.startswith("mosquitto_sub")], hints)
        self.assertTrue([h for h in hints if h.startswith("mbpoll")], hints)
        self.assertIsNone(s.broker_pid(), s.lines)
        kids = s.children()
        self.assertEqual([os.path.basename(k) for k in kids], ["sc-sim"], kids)
        self.assertTrue(port_refused(p["broker"]))
        self.assertEqual(s.stop(), 0)

    def test_a_usage_error_is_sc_sims(self):
        p = self.ports()
        s = self.start(p, "--no-such-option")
        self.assertEqual(s.proc.wait(120), 2, s.lines)
        broker = s.broker_pid()
        self.assertTrue(broker is None or gone(broker))


if __name__ == "__main__":
    unittest.main(verbosity=2)
