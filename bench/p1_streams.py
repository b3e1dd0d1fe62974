"""Two P1 streams harder for `sc-telegram check` than the AM550 capture it is
timed on (bench/bench_check.py), made from that capture so that the meter,
its objects and its sizes stay the same:

- every-value: in every telegram, every line with a number or a time (energy,
  power, voltage, current, counts, tariff, the clock, the failure log) has a
  digit other than in the telegram before it; only the identification, the
  version, the equipment id and the empty text message stay as they are. The
  decoder's history (a telegram decoded against the one before it) reads
  almost every line again.
- every-layout: an unknown object whose length changes from telegram to
  telegram: no telegram has the layout of the one before it, and the
  history never applies.

Each telegram gets its CRC made right again (CRC-16/ARC). Writes
OUT_DIR/am550-every-value.p1 and OUT_DIR/am550-every-layout.p1.

usage: /usr/bin/python3 bench/p1_streams.py CAPTURE OUT_DIR
"""

import os
import re
import sys

from peers import crc16  # CRC-16/ARC, the benchmark's Python parser's


def with_crc(body):
    """body runs from '/' through '!'."""
    return body + b"%04X\r\n" % crc16(body)


# Objects left as they are: who the meter is, not what it measures.
KEEP = (b"1-3:0.2.8(", b"0-0:96.1.1(", b"0-0:96.13.0(")


def every_value(body, i):
    lines = body.split(b"\r\n")
    for k, line in enumerate(lines):
        paren = line.find(b"(")
        if k == 0 or paren < 0 or line.startswith(KEEP):
            continue
        v = bytearray(line)
        # The last digit before the last group's ')' (or its unit).
        end = line.rfind(b"*") if line.rfind(b"*") > line.rfind(b"(") else line.rfind(b")")
        for j in range(end - 1, paren, -1):
            if 48 <= v[j] <= 57:
                if j == end - 1 or v[j + 1] in b"SW":
                    v[j] = 48 + i % 10  # the telegram before had another digit here
                break
        lines[k] = bytes(v)
    return b"\r\n".join(lines)


def every_layout(body, i):
    extra = b"0-0:96.99.9(" + b"1" * (i % 37) + b")\r\n"
    return body[:-1] + extra + b"!"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    bodies = [m.group(1) for m in re.finditer(rb"(/[^!]*!)[0-9A-Fa-f]{4}\r\n", data)]
    for name, edit in (("every-value", every_value), ("every-layout", every_layout)):
        with open(os.path.join(sys.argv[2], "am550-%s.p1" % name), "wb") as f:
            for i, body in enumerate(bodies):
                f.write(with_crc(edit(body, i)))


if __name__ == "__main__":
    main()
