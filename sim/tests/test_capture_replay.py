"""Field captures as support engineers bring them, turned into scenarios and
replayed: sc-telegram to-scenario on raw, timestamped and gzip captures (the
566-telegram field capture among them), the expectations it writes checked
against the telegram text independently of the C core, malformed captures
refused with the file and line, and sc-sim --record writing the meter line
in the timestamped form that to-scenario reads back."""

import gzip
import json
import os
import subprocess
import sys
import tempfile
import unittest
import zlib

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402

SC_SIM = simtest.SC_SIM
SC_TELEGRAM = os.path.join(simtest.BUILD, "sim", "sc-telegram")
MAGIC = "# smartconnect-twin capture 1"


def gen(*args):
    return subprocess.run([SC_TELEGRAM, "gen", "--start", "1751360400", *args],
                          capture_output=True, check=True, timeout=30).stdout


def to_scenario(capture, *args, output=None):
    cmd = [SC_TELEGRAM, "to-scenario", *args, capture]
    if output:
        cmd[2:2] = ["-o", output]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def replay(path, *args):
    r = subprocess.run([SC_SIM, "--scenario", path, "--speed", "max", *args],
                       capture_output=True, text=True, timeout=300)
    got = simtest.find_summary(r.stdout)
    return r, got[1:] if got else None


def timestamped(reads):
    """The timestamped form of [(seconds, bytes)]."""
    return (MAGIC + "\n" + "".join("%.3f %s\n" % (t, b.hex()) for t, b in reads)).encode()


class Scratch(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name, data=None):
        p = os.path.join(self.dir, name)
        if data is not None:
            with open(p, "wb") as f:
                f.write(data)
        return p

    def load(self, path):
        with open(path) as f:
            return json.load(f)


class FieldCapture(Scratch):
    def test_566_telegrams_replay_through_a_generated_scenario(self):
        am550 = simtest.field_capture("p1", "dsmr50-iskra-am550-566-telegrams.p1")
        out = self.path("am550.json")
        r = to_scenario(am550, output=out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("567 steps, 566 telegrams with expectations", r.stderr)
        doc = self.load(out)
        self.assertEqual(doc["meter"]["protocol"], "dsmr50")
        # The capture is named relative to the scenario, and found from there.
        rel = doc["steps"][0]["capture"]["file"]
        self.assertFalse(os.path.isabs(rel))
        self.assertEqual(os.path.realpath(os.path.join(self.dir, rel)), os.path.realpath(am550))
        # Every telegram's expectations against the telegram text itself.
        telegrams = simtest.split_telegrams(open(am550, "rb").read())
        self.assertEqual(len(telegrams), 566)
        for k in (0, 1, 283, 565):
            want = simtest.p1_values(telegrams[k])
            regs = doc["steps"][k]["expect"][0]["modbus"]["registers"]
            self.assertAlmostEqual(regs["active_power"], want["P"], places=3)
            self.assertAlmostEqual(regs["energy_import"], want["E_IMPORT"], delta=0.5)
            self.assertAlmostEqual(regs["voltage_l1"], want["l1.U"], places=4)
            fields = doc["steps"][k]["expect"][1]["mqtt"]["fields"]
            self.assertEqual(fields["P"], want["P"])
            self.assertEqual(fields["l3.I"], want["l3.I"])
        r, counts = replay(out)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-2000:])
        # Two a telegram, the read-backs' sum and every power_instant's.
        self.assertEqual(counts, (566 * 2 + 2, 0, 0, 566))
        self.assertIn("power_instant each telegram: 566 delivered, 0 lost, 0 duplicated, "
                      "0 out of order", r.stdout)

    def test_a_changed_value_fails_naming_the_step(self):
        am550 = simtest.field_capture("p1", "dsmr50-iskra-am550-566-telegrams.p1")
        out = self.path("am550.json")
        self.assertEqual(to_scenario(am550, "--no-mqtt", output=out).returncode, 0)
        doc = self.load(out)
        regs = doc["steps"][100]["expect"][0]["modbus"]["registers"]
        served = regs["active_power"]
        regs["active_power"] = served + 50
        with open(out, "w") as f:
            json.dump(doc, f)
        r, counts = replay(out)
        self.assertEqual(r.returncode, 1, r.stdout[-2000:])
        fails = [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL")]
        self.assertEqual(len(fails), 1, fails)
        self.assertIn("steps[100].expect[0] at 100 s", fails[0])
        self.assertIn("active_power %g" % (served + 50), fails[0])
        self.assertIn("got active_power %g (13 others as expected)" % served, fails[0])
        self.assertEqual(counts[1], 1)


class Captures(Scratch):
    def test_faults_are_notes_and_counted(self):
        raw = gen("--count", "12", "--fault", "bad-crc", "--fault-every", "4")
        cap = self.path("faulty.p1", raw)
        out = self.path("faulty.json")
        r = to_scenario(cap, output=out)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = self.load(out)
        notes = [s.get("note") for s in doc["steps"][:-1]]
        rejected = [i for i, n in enumerate(notes) if n and "rejected" in n]
        self.assertEqual(rejected, [3, 7, 11])
        self.assertEqual(doc["steps"][-1]["expect"]["counters"],
                         {"telegrams_pass": 9, "telegrams_fail": 3, "telegrams_frame_fail": 0})
        r, counts = replay(out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The 3 rejected telegrams expect no power_instant.
        self.assertEqual(counts, (9 * 2 + 2, 0, 0, 12))
        self.assertIn("power_instant each telegram: 9 delivered, 0 lost, 0 duplicated, "
                      "0 out of order", r.stdout)

    def test_timestamped_capture_keeps_its_times_and_gzip_reads_the_same(self):
        tels = simtest.split_telegrams(gen("--count", "3"))
        # Reads split inside telegrams, at the times a serial port gave them.
        reads = [(100.0, tels[0][:40]), (100.1, tels[0][40:]), (101.5, tels[1]),
                 (104.0, tels[2][:7]), (104.02, tels[2][7:])]
        plain = self.path("t.cap", timestamped(reads))
        packed = self.path("t.cap.gz", gzip.compress(timestamped(reads)))
        a, b = self.path("a.json"), self.path("b.json")
        self.assertEqual(to_scenario(plain, output=a).returncode, 0)
        self.assertEqual(to_scenario(packed, output=b).returncode, 0)
        da, db = self.load(a), self.load(b)
        self.assertEqual([s["at"] for s in da["steps"]], [0, 1.5, 4, 4])
        for s in db["steps"][:-1]:
            self.assertEqual(s["capture"]["file"], "t.cap.gz")
            s["capture"]["file"] = "t.cap"
        db["name"], db["description"] = da["name"], da["description"]
        self.assertEqual(da, db)
        for p in (a, b):
            r, counts = replay(p)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(counts[1:], (0, 0, 3))

    def test_embedded_telegrams_need_no_capture(self):
        raw = gen("--protocol", "tic", "--count", "3")
        cap = self.path("linky.tic", raw)
        out = self.path("linky.json")
        self.assertEqual(to_scenario(cap, "--embed", "--name", "linky-three", output=out).returncode, 0)
        os.unlink(cap)
        doc = self.load(out)
        self.assertEqual((doc["name"], doc["device"]), ("linky-three", "tic"))
        self.assertEqual(doc["steps"][0]["telegram"].encode("latin-1"),
                         simtest.split_telegrams(raw)[0])
        r, counts = replay(out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(counts[1:], (0, 0, 3))

    def test_every_respaces_the_telegrams(self):
        cap = self.path("k.p1", gen("--protocol", "dsmr42", "--count", "3"))
        out = self.path("k.json")
        self.assertEqual(to_scenario(cap, output=out).returncode, 0)
        self.assertEqual([s["at"] for s in self.load(out)["steps"]], [0, 10, 20, 20])
        self.assertEqual(to_scenario(cap, "--every", "2.5", output=out).returncode, 0)
        self.assertEqual([s["at"] for s in self.load(out)["steps"]], [0, 2.5, 5, 5])

    def test_stdout_when_no_output_is_named(self):
        cap = self.path("s.p1", gen("--count", "2"))
        r = to_scenario(cap)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(len(doc["steps"]), 3)
        self.assertTrue(os.path.isabs(doc["steps"][0]["capture"]["file"]))

    def test_a_recording_cut_short_is_read_as_far_as_it_goes(self):
        tels = simtest.split_telegrams(gen("--count", "4"))
        z = zlib.compressobj(6, zlib.DEFLATED, 31)
        data = z.compress(MAGIC.encode() + b"\n")
        for i, t in enumerate(tels):
            data += z.compress(b"%d.000 %s\n" % (i, t.hex().encode())) + z.flush(zlib.Z_SYNC_FLUSH)
        cap = self.path("cut.cap.gz", data)  # no end of stream, no trailer
        out = self.path("cut.json")
        r = to_scenario(cap, output=out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the compressed data ends early", r.stderr)
        self.assertEqual(len(self.load(out)["steps"]), 5)


class Malformed(Scratch):
    def refused(self, name, data, message, status=2):
        cap = self.path(name, data) if data is not None else self.path(name)
        out = self.path("out.json")
        r = to_scenario(cap, output=out)
        self.assertEqual(r.returncode, status, r.stderr)
        self.assertEqual(r.stderr.strip(), "sc-telegram to-scenario: " + message % {"f": cap})
        self.assertFalse(os.path.exists(out), "nothing written for a bad capture")

    def test_not_hex(self):
        self.refused("a.cap", (MAGIC + "\n0.0 2f49zz\n").encode(), "%(f)s: line 2: 'zz' is not a hex byte")

    def test_odd_digits(self):
        self.refused("a.cap", (MAGIC + "\n# a comment\n0.0 2f4\n").encode(),
                     "%(f)s: line 3: an odd number of hex digits")

    def test_no_time(self):
        self.refused("a.cap", (MAGIC + "\nabc 2f\n").encode(), "%(f)s: line 2: not '<seconds> <hex bytes>'")

    def test_missing(self):
        self.refused("none.p1", None, "%(f)s: No such file or directory")

    def test_empty(self):
        self.refused("empty.p1", b"", "%(f)s holds no telegram", status=1)

    def test_corrupt_gzip(self):
        good = bytearray(gzip.compress(gen("--count", "3")))
        good[len(good) // 2] ^= 0xFF
        cap = self.path("bad.p1.gz", bytes(good))
        r = to_scenario(cap, output=self.path("out.json"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertTrue(r.stderr.startswith("sc-telegram to-scenario: %s: " % cap), r.stderr)

    def test_usage(self):
        cap = self.path("s.p1", gen("--count", "1"))
        for args in ([], [cap, cap], ["--every", "0", cap], ["--protocol", "x", cap], ["--bogus", cap]):
            r = subprocess.run([SC_TELEGRAM, "to-scenario", *args], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("to-scenario", r.stderr)


class EachTelegram(Scratch):
    def scenario(self, steps):
        doc = {"scenario": 1, "name": "each", "meter": {"protocol": "dsmr50", "seed": 9,
                                                        "start": 1751360400},
               "steps": steps}
        path = self.path("each.json", json.dumps(doc).encode())
        return path

    def test_every_telegram_read_back(self):
        path = self.scenario([{"at": 0, "telegrams": {"count": 30}},
                              {"at": 29, "expect": {"counters": {"telegrams_pass": 30}}}])
        r, counts = replay(path, "--mqtt", "off", "--each-telegram")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("PASS each telegram at 29 s: modbus 0x8016 active_power, 0x8100 "
                      "energy_import: the same after each of 30 read back", r.stdout)
        self.assertEqual(counts, (2, 0, 0, 30))

    def test_telegrams_into_a_cut_cable_are_not_expected(self):
        # Telegrams sent while the cable is out never reach the device; the
        # oracle does not take them, so the device's last values stay right.
        path = self.scenario([{"at": 0, "telegrams": {"count": 40}},
                              {"at": 9.5, "meter": "cut"},
                              {"at": 39, "expect": {"modbus": "telegram"}}])
        r, counts = replay(path, "--mqtt", "off", "--each-telegram")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("the same after each of 10 read back", r.stdout)
        self.assertTrue(r.stdout.rstrip().endswith("; 30 did not reach the device"), r.stdout)
        self.assertEqual(counts, (2, 0, 0, 40))

    def test_only_with_a_scenario(self):
        r = subprocess.run(simtest.sim_cmd("--each-telegram"), capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--each-telegram goes with --scenario FILE", r.stderr)


def inflate_partial(data):
    """The text of a gzip stream that may lack its end (being written)."""
    return zlib.decompressobj(31).decompress(data).decode()


class Record(Scratch):
    def test_record_the_generated_meter_and_replay_it(self):
        rec = self.path("line.cap.gz")

        def lines():
            try:
                with open(rec, "rb") as f:
                    return inflate_partial(f.read()).splitlines()
            except (OSError, zlib.error):
                return []

        # In real time (--speed 1): a busy machine's scheduling delay of
        # 150 ms stays within the spacing's tolerance (at --speed 5 it was
        # three quarters of a second of the device's clock).
        with simtest.Sim("--source", "gen:dsmr50", "--speed", "1", "--start", "1751360400",
                         "--record", rec) as sim:
            # Written through while it runs: readable before the end.
            simtest.wait_until(lambda: len(lines()) >= 5, timeout=30)
            self.assertEqual(sim.stop(), 0)
            sim.wait_for(r"record: \d+ reads of the meter line written")
        got = lines()
        self.assertEqual(got[0], MAGIC)
        times = [float(ln.split()[0]) for ln in got[1:]]
        # The first telegram ends within its first second on the line.
        self.assertTrue(1751360400 <= times[0] < 1751360401, times[0])
        # The device clock when each read came: a telegram every second of
        # it.
        for a, b in zip(times, times[1:]):
            self.assertAlmostEqual(b - a, 1.0, delta=0.3)
        with gzip.open(rec) as f:  # closed cleanly: a whole gzip file
            self.assertTrue(f.read().startswith(MAGIC.encode()))
        out = self.path("line.json")
        r = to_scenario(rec, output=out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.load(out)["meter"]["start"], 1751360400)
        r, counts = replay(out)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        self.assertEqual(counts[1:3], (0, 0))
        self.assertEqual(counts[3], len(times))

    def test_record_keeps_the_reads_as_they_came(self):
        raw = gen("--count", "2", "--fault", "garbage", "--fault-every", "2")
        rec = self.path("stdin.cap")
        with simtest.Sim("--source", "stdin", "--record", rec, stdin_pipe=True) as sim:
            for p in (raw[:100], raw[100:1000], raw[1000:]):
                sim.proc.stdin.write(p)
                sim.proc.stdin.flush()

            def recorded():
                with open(rec) as f:
                    return b"".join(bytes.fromhex(ln.split()[1]) for ln in f.read().splitlines()[1:])
            # Every byte, garbage included, in the order it came.
            simtest.wait_until(lambda: recorded() == raw, timeout=10)
            self.assertEqual(sim.stop(), 0)

    def test_record_to_a_file_that_cannot_be_made(self):
        r = subprocess.run(simtest.sim_cmd("--record", os.path.join(self.dir, "no", "such", "x.cap")),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("--record: ", r.stderr)
        self.assertIn("No such file or directory", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
