#!/usr/bin/env python3
"""Writes the bad-input table of the README from the catalogue
(sim/tests/badinput.py), between its two markers. The test suite checks that
the README's table is the catalogue's (sim/tests/test_badinput.py).

usage: scripts/badinput-table.py [--check]   (--check: exit 1 when out of date)
"""
import os
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(root, "sim", "tests"))
import badinput  # noqa: E402

BEGIN, END = "<!-- bad-input table: scripts/badinput-table.py -->", "<!-- end of bad-input table -->"
path = os.path.join(root, "README.md")
with open(path) as f:
    text = f.read()
if BEGIN not in text or END not in text:
    sys.exit("README.md: the markers %r and %r are missing" % (BEGIN, END))
head, rest = text.split(BEGIN, 1)
_, tail = rest.split(END, 1)
new = head + BEGIN + "\n" + badinput.table() + END + tail
if "--check" in sys.argv:
    sys.exit(0 if new == text else 1)
if new != text:
    with open(path, "w") as f:
        f.write(new)
print("%d cases" % len(badinput.CASES))
