"""The register reference (`sc-telegram registers`, docs/reference/registers.md)
against the register map the device serves.

- The command's rows (JSON, CSV, text, Markdown) are the same registers,
  addresses and power_instant fields as the map written from SMART-CONNECT.md
  §6 in simtest.REGISTERS (independent of the C core), with the names and
  units `sc-telegram parse --format registers` serves them under.
- docs/reference/registers.md's table is the command's rows, cell by cell.
- The telegram objects each row names are the ones that feed it: each object
  of a full P1 telegram and of TIC frames is changed in turn (its last digit),
  the telegram parsed by `sc-telegram parse --format registers`, and the
  registers whose value moved must be exactly the ones that name the object.
- Bad options: a usage message, exit 2, nothing on stdout."""

import csv
import io
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402

TELEGRAM_TOOL = os.path.join(simtest.BUILD, "sim", "sc-telegram")
DOC = os.path.join(simtest.SOURCE, "docs", "reference", "registers.md")

OBIS = re.compile(r"\d+-\d+:\d+\.\d+\.\d+")
TIC_LABEL = re.compile(r"\b[A-Z][A-Z0-9]+\b")

# Every object the mapping reads (and some it does not), with values that
# differ from each other; reactive power flows so that PF depends on Q too.
P1_LINES = [
    "1-3:0.2.8(50)",
    "0-0:1.0.0(250315120000W)",
    "0-0:96.1.1(4530303437303030303037363330383138)",
    "1-0:1.8.0(003580.456*kWh)",
    "1-0:1.8.1(001234.567*kWh)",
    "1-0:1.8.2(002345.678*kWh)",
    "1-0:1.8.3(000111.222*kWh)",
    "1-0:1.8.4(000222.333*kWh)",
    "1-0:2.8.0(000999.888*kWh)",
    "1-0:2.8.1(000456.789*kWh)",
    "1-0:2.8.2(000543.210*kWh)",
    "1-0:2.8.3(000012.345*kWh)",
    "1-0:2.8.4(000023.456*kWh)",
    "0-0:96.14.0(0002)",
    "1-0:1.7.0(03.456*kW)",
    "1-0:2.7.0(00.012*kW)",
    "1-0:3.7.0(01.234*kvar)",
    "1-0:4.7.0(00.321*kvar)",
    "1-0:5.8.0(000123.456*kvarh)",
    "1-0:6.8.0(000234.567*kvarh)",
    "1-0:7.8.0(000345.678*kvarh)",
    "1-0:8.8.0(000456.789*kvarh)",
    "0-0:96.7.21(00007)",
    "0-0:96.7.9(00003)",
    "1-0:99.97.0(1)(0-0:96.7.19)(250101120000W)(0000000240*s)",
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
    "1-0:61.7.0(00.011*kW)",
    "1-0:22.7.0(00.003*kW)",
    "1-0:42.7.0(00.004*kW)",
    "1-0:62.7.0(00.700*kW)",
    "1-0:23.7.0(00.411*kvar)",
    "1-0:43.7.0(00.522*kvar)",
    "1-0:63.7.0(00.633*kvar)",
    "1-0:24.7.0(00.044*kvar)",
    "1-0:44.7.0(00.055*kvar)",
    "1-0:64.7.0(00.066*kvar)",
]
HEADER = "XMX5LGF0010REGISTERS"


def run(*args, stdin=None):
    p = subprocess.run([TELEGRAM_TOOL, *args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def reference(fmt="json"):
    rc, out, err = run("registers", "--format", fmt)
    if rc != 0:
        raise AssertionError("sc-telegram registers --format %s exited %d: %s" % (fmt, rc, err))
    return out


def bump_last_digit(text, lo, hi):
    """text with the last digit in text[lo:hi] changed (9 -> 0, else +1); None
    when there is no digit."""
    for i in range(hi - 1, lo - 1, -1):
        if text[i].isdigit():
            d = "0" if text[i] == "9" else chr(ord(text[i]) + 1)
            return text[:i] + d + text[i + 1:]
    return None


def p1_variants(lines):
    """(object changed, telegram) for every line whose value holds a digit:
    the line's last value group has its last digit changed."""
    out = []
    for i, line in enumerate(lines):
        key = line[:line.index("(")]
        new = bump_last_digit(line, line.rindex("("), len(line))
        if new is None or key == "1-3:0.2.8":
            continue
        out.append((key, simtest.p1_telegram(HEADER, lines[:i] + [new] + lines[i + 1:])))
    return out


def tic_checksum(group):
    """Standard mode: the sum from the label through the HT before the
    checksum, low 6 bits, + 0x20."""
    return chr((sum(group.encode("latin-1")) & 0x3F) + 0x20)


def tic_variants(frame):
    """(label changed, frame) for every group whose data is digits only: its
    last digit changed and its checksum made right again."""
    text = frame.decode("latin-1")
    groups = re.findall(r"\n([^\r\n]*)\r", text)
    out = []
    for g in groups:
        body, check = g[:-1], g[-1]
        if tic_checksum(body) != check:
            raise AssertionError("the test's TIC checksum disagrees with the generator: %r" % g)
        fields = body[:-1].split("\t")
        data = fields[-1]
        if not data.isdigit():
            continue
        fields[-1] = bump_last_digit(data, 0, len(data))
        nbody = "\t".join(fields) + "\t"
        out.append((fields[0], text.replace("\n" + g + "\r", "\n" + nbody + tic_checksum(nbody) + "\r", 1)
                    .encode("latin-1")))
    return out


def register_blocks(data, protocol):
    """`sc-telegram parse --format registers` of the telegrams in data: one
    {name: line} per telegram (every telegram must parse)."""
    rc, out, err = run("parse", "--strict", "--protocol", protocol, "--format", "registers", "-",
                       stdin=data)
    if rc != 0:
        raise AssertionError("parse exited %d: %s" % (rc, err[-2000:]))
    blocks = []
    for block in out.strip("\n").split("\n\n"):
        lines = block.splitlines()
        assert lines[0].startswith("# telegram"), lines[0]
        regs = {}
        for line in lines[1:]:
            # 0x8006 WORD WORD VALUE [UNIT] NAME [(absent)]
            name = re.sub(r" \(absent\)$", "", line).split()[-1]
            regs[name] = line
        blocks.append(regs)
    return blocks


def moved(base_and_variants, protocol):
    """{object: {register names whose line changed}} for (object, telegram)
    variants after a base telegram."""
    data = b"".join(t for _, t in base_and_variants)
    blocks = register_blocks(data, protocol)
    if len(blocks) != len(base_and_variants):
        raise AssertionError("%d telegrams parsed of %d" % (len(blocks), len(base_and_variants)))
    base = blocks[0]
    out = {}
    for (obj, _), regs in zip(base_and_variants[1:], blocks[1:]):
        out.setdefault(obj, set()).update(n for n in base if regs[n] != base[n])
    return out


class Reference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rows = json.loads(reference("json"))

    def test_the_map_of_the_device(self):
        """Every register of SMART-CONNECT.md §6, in address order, with the
        power_instant field that has its value; names and units as `parse
        --format registers` serves them."""
        addrs = [r["address"] for r in self.rows]
        self.assertEqual(addrs, sorted(simtest.REGISTERS))
        for r in self.rows:
            a = r["address"]
            self.assertEqual(r["hex"], "0x%04X" % a)
            self.assertEqual(r["one_based"], a + 1)
            self.assertEqual(r["power_instant"], simtest.REGISTERS[a], r["name"])
            self.assertEqual(r["functions"], [3, 4])
            self.assertEqual((r["type"], r["registers"], r["word_order"], r["scale"]),
                             ("float32", 2, "CD AB", 1))
            self.assertTrue(r["meaning"], r["name"])
        # The map as the parser serves it: the same names at the same addresses.
        served = register_blocks(simtest.p1_telegram(HEADER, P1_LINES), "p1")[0]
        self.assertEqual(sorted(served), sorted(r["name"] for r in self.rows))
        for r in self.rows:
            # 0x8006 WORD WORD VALUE [UNIT] NAME [(absent)]
            toks = served[r["name"]].replace(" (absent)", "").split()
            self.assertEqual((toks[0], toks[-1]), (r["hex"], r["name"]))
            self.assertEqual(toks[4:-1], [r["unit"]] if r["unit"] else [], r["name"])
        energy = [r for r in self.rows if r["power_instant"] in ("E_IMPORT", "E_EXPORT")]
        self.assertEqual([(r["unit"], r["unit_before_5_1"]) for r in energy], [("Wh", "kWh")] * 2)

    def test_csv_and_text_are_the_same_rows(self):
        rows = list(csv.DictReader(io.StringIO(reference("csv"))))
        self.assertEqual(len(rows), len(self.rows))
        for c, j in zip(rows, self.rows):
            for k in ("name", "hex", "unit", "unit_before_5_1", "power_instant", "meaning", "p1",
                      "tic", "word_order", "type"):
                self.assertEqual(c[k], str(j[k]), (j["name"], k))
            self.assertEqual((int(c["address"]), int(c["one_based"])), (j["address"], j["one_based"]))
            self.assertEqual(c["functions"], "3 4")
        text = reference("text")
        self.assertIn("mbpoll -0", text)
        lines = [l for l in text.splitlines() if l.startswith("0x")]
        self.assertEqual(len(lines), len(self.rows))
        for line, j in zip(lines, self.rows):
            want = [j["hex"], str(j["address"]), str(j["one_based"]), j["unit"] or "-", j["name"],
                    j["power_instant"], j["p1"] or "-", j["tic"] or "-", j["meaning"]]
            self.assertEqual(re.split(r"  +", line.rstrip()), want)

    def test_the_document_is_the_reference(self):
        with open(DOC) as f:
            doc = f.read()
        begin = doc.index("<!-- generated: register map")
        table = doc[begin:doc.index("<!-- end of register map -->")]
        rows = [l for l in table.splitlines() if l.startswith("| 0x")]
        self.assertEqual(len(rows), len(self.rows))

        def cell(s):
            s = s.strip().replace("\\|", "|")
            return "" if s == "-" else s.strip("`")
        for line, j in zip(rows, self.rows):
            cells = [cell(c) for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            unit = j["unit"] if j["unit"] == j["unit_before_5_1"] else \
                "%s (%s before firmware 5.1)" % (j["unit"], j["unit_before_5_1"])
            self.assertEqual(cells, [j["hex"], str(j["address"]), str(j["one_based"]), unit,
                                     j["name"], j["meaning"], j["power_instant"], j["p1"], j["tic"]])

    def check_feeds(self, protocol, runs, key):
        """runs: lists of (object, telegram), the base first. Each register's
        listed objects are the objects whose change moved it."""
        listed = {r["name"]: set((OBIS if protocol == "p1" else TIC_LABEL).findall(r[key]))
                  for r in self.rows}
        found = {n: set() for n in listed}
        for variants in runs:
            for obj, names in moved(variants, protocol).items():
                for n in names:
                    self.assertIn(obj, listed[n], "%s moves %s, which does not name it (%s: %r)"
                                  % (obj, n, key, [r[key] for r in self.rows if r["name"] == n][0]))
                    found[n].add(obj)
        for n in listed:
            self.assertEqual(found[n], listed[n], "%s: the objects that feed it" % n)

    def test_p1_objects_feed_what_the_reference_says(self):
        with_totals = [("", simtest.p1_telegram(HEADER, P1_LINES))] + p1_variants(P1_LINES)
        tariffs = [l for l in P1_LINES if not l.startswith(("1-0:1.8.0", "1-0:2.8.0"))]
        tariffs_only = [("", simtest.p1_telegram(HEADER, tariffs))] + p1_variants(tariffs)
        self.check_feeds("p1", [with_totals, tariffs_only], "p1")

    def test_tic_labels_feed_what_the_reference_says(self):
        runs = []
        for phases in ("3", "1"):
            rc, frame, err = run("gen", "--protocol", "tic", "--count", "1", "--phases", phases,
                                 "--producer", "--start", "1765000000", "--seed", "5")
            self.assertEqual(rc, 0, err)
            frame = frame.encode("latin-1")
            runs.append([("", frame)] + tic_variants(frame))
        self.check_feeds("tic", runs, "tic")

    def test_bad_options(self):
        for args in (["--format", "xml"], ["--format"], ["--bogus"], ["extra"]):
            rc, out, err = run("registers", *args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(out, "", args)
            self.assertIn("sc-telegram registers", err, args)
        rc, out, _ = run("registers", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--format", out)


if __name__ == "__main__":
    unittest.main()
