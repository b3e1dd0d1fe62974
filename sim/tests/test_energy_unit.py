"""The energy unit of firmware before 5.1 on both interfaces: the manual puts
the same footnote on the energy registers 0x8100/0x8106 (§5.3) and on
E_IMPORT/E_EXPORT of the MQTT payload (§5.4): "In eerdere versies werden
deze waarden onjuist weergegeven in kWh. Sinds de release van V5.1.x is dit
veranderd naar Wh." A twin run with --firmware 5.0.x serves kWh in both, one
with 5.1 or later Wh in both: the payload read from a real mosquitto by a
paho subscriber, the registers by pymodbus, each telegram's values computed
here from its text."""

import json
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402
from simtest import Sim  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

SERIAL = "E8DB84ABC123"
CAPTURE = os.path.join(simtest.SOURCE, "corpus", "p1", "gen-dsmr50-pv-ev-seed42.p1")


class EnergyUnit(unittest.TestCase):
    def setUp(self):
        self.dir = brokertest.tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.broker = brokertest.Broker(self.dir)
        self.addCleanup(self.broker.close)

    def run_firmware(self, firmware):
        """One telegram to a twin of that firmware: (the telegram's values,
        the power_instant payload, the Modbus energy registers)."""
        with open(CAPTURE, "rb") as f:
            tel = simtest.split_telegrams(f.read())[0]
        want = simtest.p1_values(tel)
        self.assertIn("E_IMPORT", want)
        self.assertIn("E_EXPORT", want)
        sub = brokertest.Subscriber(self.broker.port, "devices/#")
        self.addCleanup(sub.close)
        with Sim("--source", "stdin", "--serial-number", SERIAL, "--firmware", firmware,
                 "--mqtt", "mqtt://127.0.0.1:%d" % self.broker.port, stdin_pipe=True) as sim:
            sim.wait_for(r"mqtt: connected")
            sim.proc.stdin.write(tel)
            sim.proc.stdin.flush()
            payload = None
            deadline = time.monotonic() + 20
            while payload is None:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "no power_instant message")
                try:
                    topic, body, _ = sub.get(timeout=left)
                except Exception:
                    continue
                if topic.endswith("/data/power_instant"):
                    payload = json.loads(body)
            c = ModbusTcpClient("127.0.0.1", port=sim.port, timeout=5)
            self.assertTrue(c.connect())
            try:
                regs = {}
                for addr in (0x8100, 0x8106):
                    r = c.read_holding_registers(addr, count=2, slave=1)
                    self.assertFalse(r.isError(), r)
                    words = [0] * (simtest.MAP_END - simtest.MAP_START)
                    words[addr - simtest.MAP_START:addr - simtest.MAP_START + 2] = r.registers
                    regs[addr] = simtest.float_at(words, addr)
            finally:
                c.close()
            self.assertEqual(sim.stop(), 0)
        return want, payload, regs

    def check(self, firmware, scale):
        want, p, regs = self.run_firmware(firmware)
        for key, addr in (("E_IMPORT", 0x8100), ("E_EXPORT", 0x8106)):
            x = want[key] * scale
            # The payload carries the double; the register a float32.
            self.assertAlmostEqual(p[key], x, delta=1e-9 * max(1.0, abs(x)), msg=(firmware, key))
            self.assertAlmostEqual(regs[addr], x, delta=1e-6 * max(1.0, abs(x)),
                                   msg=(firmware, hex(addr)))
        # Only the energy: power stays in W.
        self.assertAlmostEqual(p["P"], want["P"], delta=1e-9 * max(1.0, abs(want["P"])))

    def test_before_5_1_both_interfaces_in_kwh(self):
        self.check("5.0.3", 1 / 1000.0)

    def test_from_5_1_both_interfaces_in_wh(self):
        self.check("5.1.0", 1.0)


if __name__ == "__main__":
    unittest.main()
