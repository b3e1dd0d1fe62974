"""Peers of the parser benchmarks (bench_p1, bench_tic), on the same bytes:

  - ndokter/dsmr_parser, the Python library behind Home Assistant's DSMR
    integration (P1 only): its TelegramBuffer cuts the stream, fed 64 KiB at
    a time as its readers feed it, and TelegramParser with the DSMR 5
    specification checks the CRC and parses every object. Its source is
    not part of the project: --dsmr-parser DIR, else $SC_DSMR_PARSER_SRC,
    else ../shared/peers/dsmr_parser-src beside the checkout; when that
    folder is absent the peer is named as absent. It runs on at most
    --dsmr-parser-mb MB (default 2: about a thousand telegrams a second);
  - a Python parse of the same capture with the same mapping to device
    quantities (frame, CRC-16/ARC or TIC checksum, object lines, the rules
    of p1_map.c / tic_map.c for the power_instant quantities), written the
    way a careful Python tool would (compiled regexes, a CRC table), one core;
  - sha256sum of the same bytes: a plain, memory-bandwidth-bound reference
    of what one core does with that many bytes.

usage: /usr/bin/python3 bench/peers.py [--mb N] [--json FILE] [--dsmr-parser DIR]
                                      [--dsmr-parser-mb N] P1_CAPTURE TIC_CAPTURE
Each figure is the best of three runs; the capture is repeated to --mb MB
(default 20: Python is ~100 times slower than the C parser).
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# --- P1 (DSMR 5) -----------------------------------------------------------

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0xA001 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc16(data):
    c = 0
    t = _CRC_TABLE
    for b in data:
        c = (c >> 8) ^ t[(c ^ b) & 0xFF]
    return c


TELEGRAM = re.compile(rb"/[^!]*!([0-9A-Fa-f]{4})?\r\n")
LINE = re.compile(rb"^(\d+-\d+:\d+\.\d+\.\d+)((?:\([^)]*\))+)\r?$", re.M)
VALUE = re.compile(rb"\(([^)]*)\)")
UNITS = {b"kWh": 1000, b"Wh": 1, b"kW": 1000, b"W": 1, b"kvarh": 1000, b"varh": 1,
         b"kvar": 1000, b"var": 1, b"V": 1, b"A": 1, b"m3": 1, b"s": 1}

P1_TOTALS = {b"1-0:1.7.0": "P+", b"1-0:2.7.0": "P-", b"1-0:1.8.0": "E_IMPORT",
             b"1-0:2.8.0": "E_EXPORT", b"1-0:3.7.0": "Q+", b"1-0:4.7.0": "Q-",
             b"0-0:96.7.21": "PFAIL", b"0-0:96.7.9": "LPFAIL"}
P1_PHASE = {}
for _n, (_u, _i, _pp, _pm) in enumerate([(32, 31, 21, 22), (52, 51, 41, 42), (72, 71, 61, 62)], 1):
    P1_PHASE[b"1-0:%d.7.0" % _u] = "l%d.U" % _n
    P1_PHASE[b"1-0:%d.7.0" % _i] = "l%d.I" % _n
    P1_PHASE[b"1-0:%d.7.0" % _pp] = "l%d.P+" % _n
    P1_PHASE[b"1-0:%d.7.0" % _pm] = "l%d.P-" % _n
    P1_PHASE[b"1-0:%d.32.0" % _u] = "l%d.VSAGS" % _n
    P1_PHASE[b"1-0:%d.36.0" % _u] = "l%d.VSWELLS" % _n
P1_MAP = {**P1_TOTALS, **P1_PHASE}
TARIFF_IN = {b"1-0:1.8.%d" % i for i in range(1, 5)}
TARIFF_OUT = {b"1-0:2.8.%d" % i for i in range(1, 5)}


def number(text):
    value, _, unit = text.partition(b"*")
    return float(value) * UNITS.get(unit, 1)


def p1_map(body):
    """The power_instant quantities of one telegram body (p1_map.c's rules)."""
    q = {}
    tin = tout = None
    for m in LINE.finditer(body):
        key, groups = m.group(1), m.group(2)
        name = P1_MAP.get(key)
        if name:
            q[name] = number(VALUE.findall(groups)[-1])
        elif key in TARIFF_IN:
            tin = (tin or 0.0) + number(VALUE.findall(groups)[-1])
        elif key in TARIFF_OUT:
            tout = (tout or 0.0) + number(VALUE.findall(groups)[-1])
    if "E_IMPORT" not in q and tin is not None:
        q["E_IMPORT"] = tin
    if "E_EXPORT" not in q and tout is not None:
        q["E_EXPORT"] = tout
    if "P+" in q and "P-" in q:
        q["P"] = q["P+"] - q["P-"]
    s = None
    for n in (1, 2, 3):
        if "l%d.P+" % n in q and "l%d.P-" % n in q:
            p = q["l%d.P" % n] = q["l%d.P+" % n] - q["l%d.P-" % n]
            s = (s or 0.0) + abs(p)
    if s is not None:
        q["S"] = s
    if "P" in q:
        p, r = q["P"], q.get("Q+", 0.0) - q.get("Q-", 0.0)
        if p or r:
            q["PF"] = max(-1.0, min(1.0, p / (p * p + r * r) ** 0.5))
    return q


def run_p1(data):
    good = bad = 0
    sink = 0.0
    for m in TELEGRAM.finditer(data):
        crc = m.group(1)
        end = m.start(1) if crc else m.end() - 2
        if crc and crc16(data[m.start():end]) != int(crc, 16):
            bad += 1
            continue
        q = p1_map(data[m.start():end])
        sink += q.get("P", 0.0)
        good += 1
    return good, bad


# --- ndokter/dsmr_parser ---------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DSMR_PARSER_DEFAULT = os.path.join(ROOT, "..", "shared", "peers", "dsmr_parser-src")


def load_dsmr_parser(src):
    """A function that parses a capture with dsmr_parser, or None when src
    does not hold it."""
    if not os.path.isfile(os.path.join(src, "dsmr_parser", "parsers.py")):
        return None
    sys.path.insert(0, src)
    from dsmr_parser.parsers import TelegramParser
    from dsmr_parser import telegram_specifications
    # telegram_buffer.py by its path: the package's clients/__init__ also
    # imports the serial readers and their dependencies.
    spec = importlib.util.spec_from_file_location(
        "dsmr_parser_telegram_buffer",
        os.path.join(src, "dsmr_parser", "clients", "telegram_buffer.py"))
    buffer_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(buffer_module)

    def run(data):
        text = data.decode("ascii")
        buf = buffer_module.TelegramBuffer()
        parser = TelegramParser(telegram_specifications.V5)
        good = bad = 0
        sink = 0.0
        for i in range(0, len(text), 65536):
            buf.append(text[i:i + 65536])
            for telegram in buf.get_all():
                try:
                    tg = parser.parse(telegram, throw_ex=True)
                except Exception:
                    bad += 1
                    continue
                sink += float(tg.CURRENT_ELECTRICITY_USAGE.value)
                good += 1
        return good, bad

    return run


# --- TIC (standard mode) ---------------------------------------------------

FRAME = re.compile(rb"\x02([^\x02\x03]*)\x03")
GROUP = re.compile(rb"\n([^\r\n]*)\r")
TIC_MAP = {b"SINSTS": "S", b"SINSTI": "SI", b"EAST": "E_IMPORT", b"EAIT": "E_EXPORT",
           b"ERQ1": "EQ1", b"ERQ2": "EQ2", b"ERQ3": "EQ3", b"ERQ4": "EQ4",
           b"URMS1": "l1.U", b"URMS2": "l2.U", b"URMS3": "l3.U",
           b"IRMS1": "l1.I", b"IRMS2": "l2.I", b"IRMS3": "l3.I",
           b"SINSTS1": "l1.S", b"SINSTS2": "l2.S", b"SINSTS3": "l3.S"}


def tic_map(frame):
    """None when a group's checksum is wrong, else the quantities."""
    q = {}
    for m in GROUP.finditer(frame):
        g = m.group(1)
        if len(g) < 3 or (sum(g[:-1]) & 0x3F) + 0x20 != g[-1]:
            return None
        fields = g[:-2].split(b"\t")
        name = TIC_MAP.get(fields[0])
        if name and len(fields) >= 2:
            q[name] = float(fields[-1])
    if "S" in q:
        q["P"] = q["S"] - q.get("SI", 0.0)
        three = "l2.S" in q or "l2.U" in q
        for n in (1, 2, 3) if three else (1,):
            v = q.get("l%d.S" % n, q["S"] if not three else None)
            if v is not None:
                q["l%d.P" % n] = 0.0 if q["P"] < 0 else v
    return q


def run_tic(data):
    good = bad = 0
    sink = 0.0
    for m in FRAME.finditer(data):
        q = tic_map(m.group(1))
        if q is None:
            bad += 1
            continue
        sink += q.get("P", 0.0)
        good += 1
    return good, bad


# --- harness ----------------------------------------------------------------

def best_of_three(fn, data):
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        good, bad = fn(data)
        t = time.perf_counter() - t0
        if best is None or t < best[0]:
            best = (t, good, bad)
    return best


def sha256_rate(data):
    with tempfile.NamedTemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as f:
        f.write(data)
        f.flush()
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(["sha256sum", f.name], check=True, stdout=subprocess.DEVNULL)
            t = time.perf_counter() - t0
            best = t if best is None else min(best, t)
        return best


def main():
    args = sys.argv[1:]
    mb, out, paths = 20.0, None, []
    dsmr_src = os.environ.get("SC_DSMR_PARSER_SRC") or DSMR_PARSER_DEFAULT
    dsmr_mb = 2.0
    while args:
        a = args.pop(0)
        if a == "--mb" and args:
            mb = float(args.pop(0))
        elif a == "--dsmr-parser" and args:
            dsmr_src = args.pop(0)
        elif a == "--dsmr-parser-mb" and args:
            dsmr_mb = float(args.pop(0))
        elif a == "--json" and args:
            out = args.pop(0)
        else:
            paths.append(a)
    if len(paths) != 2:
        sys.exit(__doc__)
    results = []
    print("Peers on the same captures, one core (best of three)")
    print("%-34s %12s %12s %10s %8s" % ("peer", "items", "per second", "MB/s", "ns each"))
    for what, unit, path, fn in (("P1", "telegrams", paths[0], run_p1),
                                 ("TIC", "frames", paths[1], run_tic)):
        if not os.path.exists(path):
            print("%s: %s is missing (the field corpus is needed); skipped" % (what, path))
            continue
        with open(path, "rb") as f:
            one = f.read()
        data = one * (int(mb * 1e6 / len(one)) + 1)
        if what == "P1":
            dsmr = load_dsmr_parser(dsmr_src)
            name = "%s ndokter/dsmr_parser parse+check" % what
            if dsmr is None:
                print("%-34s absent: no dsmr_parser in %s" % (name, os.path.abspath(dsmr_src)))
                results.append({"subject": "dsmr_parser", "figure": name, "protocol": what,
                                "absent": True, "source": os.path.abspath(dsmr_src)})
            else:
                small = one * (int(min(mb, dsmr_mb) * 1e6 / len(one)) + 1)
                t, n, nbad = best_of_three(dsmr, small)
                if nbad:
                    print("%s: dsmr_parser rejected %d of its %s" % (what, nbad, unit))
                print("%-34s %12d %12.0f %10.1f %8.0f" % (name, n, n / t, len(small) / 1e6 / t,
                                                           t * 1e9 / n))
                results.append({"subject": "dsmr_parser", "figure": name, "protocol": what,
                                "unit": unit, "items": n, "errors": nbad, "bytes": len(small),
                                "seconds": round(t, 6), "per_second": round(n / t),
                                "mb_per_s": round(len(small) / 1e6 / t, 1),
                                "source": os.path.abspath(dsmr_src)})
        secs, good, bad = best_of_three(fn, data)
        if bad:
            print("%s: the Python peer rejected %d of its %s" % (what, bad, unit))
        sha = sha256_rate(data)
        for name, t in (("python parse+check+map", secs), ("sha256sum of the same bytes", sha)):
            rate = good / t
            print("%-34s %12d %12.0f %10.1f %8.0f" % ("%s %s" % (what, name), good, rate,
                                                       len(data) / 1e6 / t, t * 1e9 / good))
            results.append({"subject": "python" if name.startswith("python") else "sha256sum",
                            "figure": "%s %s" % (what, name), "protocol": what, "unit": unit,
                            "items": good, "errors": bad, "bytes": len(data),
                            "seconds": round(t, 6), "per_second": round(rate),
                            "mb_per_s": round(len(data) / 1e6 / t, 1)})
    if out:
        with open(out, "w") as f:
            json.dump({"benchmark": "peers", "results": results}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
