"""The user's command on a large capture, beside sha256sum of the same file in
the same run: `sc-telegram check` over the AM550 field capture repeated to
100 MB (in /dev/shm when there is one, so that the disk is not measured),
and `sha256sum` of that file, taken in turns, several rounds. Each round
gives both programs' wall time and CPU time (user + system, from wait4)
and their ratio; the figures are the best round of each and the median of
the per-round ratios. The machine may be loaded by others: the ratio of two
programs run in turns is the figure to read, not either time alone.

usage: /usr/bin/python3 bench/bench_check.py [--mb N] [--rounds N] [--json FILE]
                                             [--binary SC_TELEGRAM] [CAPTURE]
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(argv):
    """(wall seconds, CPU seconds, stdout) of one run of argv."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("%s: exit status %d" % (" ".join(argv), p.returncode))
    return wall, ru.ru_utime + ru.ru_stime, out.decode()


def main():
    args = sys.argv[1:]
    mb, rounds, out = 100.0, 5, None
    binary = os.path.join(ROOT, "build-release", "sim", "sc-telegram")
    capture = os.path.join(ROOT, "corpus", "field", "p1", "dsmr50-iskra-am550-566-telegrams.p1")
    while args:
        a = args.pop(0)
        if a == "--mb" and args:
            mb = float(args.pop(0))
        elif a == "--rounds" and args:
            rounds = int(args.pop(0))
        elif a == "--json" and args:
            out = args.pop(0)
        elif a == "--binary" and args:
            binary = args.pop(0)
        elif a.startswith("-"):
            sys.exit(__doc__)
        else:
            capture = a
    with open(capture, "rb") as f:
        one = f.read()
    reps = int(mb * 1e6 / len(one)) + 1
    tmpdir = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.NamedTemporaryFile(dir=tmpdir, suffix=".p1") as f:
        for _ in range(reps):
            f.write(one)
        f.flush()
        size = f.tell()
        check = [binary, "check", f.name]
        sha = ["sha256sum", f.name]
        # Once each first: the file into the page cache, the summary read.
        m = re.search(r"(P1|TIC) telegrams: (\d+) ok: (\d+) failed: (\d+)", timed(check)[2])
        if not m or m.group(4) != "0" or m.group(2) != m.group(3):
            sys.exit("sc-telegram check did not pass every telegram: %r" % (m and m.group(0)))
        proto, telegrams = m.group(1), int(m.group(2))
        unit = "frames" if proto == "TIC" else "telegrams"
        timed(sha)
        runs = []
        for r in range(rounds):
            # Turns alternate which program goes first.
            pair = [("check", check), ("sha", sha)]
            if r % 2:
                pair.reverse()
            res = {name: timed(argv)[:2] for name, argv in pair}
            runs.append(res)
    print("%s: sc-telegram check beside sha256sum of the same %.1f MB file (%d %s), "
          "%d rounds in turns" % (proto, size / 1e6, telegrams, unit, rounds))
    print("%-6s %14s %14s %14s %14s %8s %8s" % ("round", "check wall s", "sha256 wall s",
                                                "check cpu s", "sha256 cpu s", "wall x",
                                                "cpu x"))
    for i, r in enumerate(runs, 1):
        print("%-6d %14.3f %14.3f %14.3f %14.3f %8.2f %8.2f" % (
            i, r["check"][0], r["sha"][0], r["check"][1], r["sha"][1],
            r["sha"][0] / r["check"][0], r["sha"][1] / r["check"][1]))
    best = {k: (min(r[k][0] for r in runs), min(r[k][1] for r in runs)) for k in ("check", "sha")}
    wall_x = statistics.median(r["sha"][0] / r["check"][0] for r in runs)
    cpu_x = statistics.median(r["sha"][1] / r["check"][1] for r in runs)
    print("best round: check %.0f %s/s wall (%.0f MB/s), %.0f %s/s CPU; sha256sum %.0f MB/s "
          "wall" % (telegrams / best["check"][0], unit, size / 1e6 / best["check"][0],
                    telegrams / best["check"][1], unit, size / 1e6 / best["sha"][0]))
    print("%s: check is %.2fx sha256sum in wall time, %.2fx in CPU time (median of the rounds' "
          "ratios)" % (proto, wall_x, cpu_x))
    if out:
        doc = {"benchmark": "check", "protocol": proto, "input": capture, "bytes": size,
               "unit": unit, "items": telegrams,
               "rounds": [{"check_wall": round(r["check"][0], 6), "sha256_wall": round(r["sha"][0], 6),
                           "check_cpu": round(r["check"][1], 6), "sha256_cpu": round(r["sha"][1], 6)}
                          for r in runs],
               "check_per_second_wall": round(telegrams / best["check"][0]),
               "check_per_second_cpu": round(telegrams / best["check"][1]),
               "sha256_mb_per_s_wall": round(size / 1e6 / best["sha"][0], 1),
               "ratio_wall": round(wall_x, 3), "ratio_cpu": round(cpu_x, 3)}
        with open(out, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
