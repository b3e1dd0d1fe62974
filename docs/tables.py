#!/usr/bin/python3
"""The generated parts of the documentation, each from its one source:

  docs/developer/bad-input.md   the bad-input table and the bad-condition table: the
                                catalogue, sim/tests/badinput.py (CASES, CONDITIONS)
  docs/reference/registers.md   the Modbus register map: the core's sim/core/regmap.c,
                                printed by `sc-telegram registers --format markdown`
  docs/reference/options.md     every program's options: its --help, whose text is
                                man/help/*.txt (compiled into the program)

    /usr/bin/python3 docs/tables.py [--build DIR]           rewrite what is stale
    /usr/bin/python3 docs/tables.py --check [--build DIR]   exit 1 when anything is stale

DIR is the build tree (default build/), whose programs print the tables. With
--check it also checks that every program's --help is the text of its
man/help/*.txt (as sim/tools/help_header.c makes it; a @NAME@ there stands
for a default the program defines once, any text). Each
generated part sits between `<!-- generated: NAME ... -->` and
`<!-- end of NAME -->`; the rest of each file is written by hand.

Exit status: 0 fresh (or rewritten), 1 stale or a --help that is not its source
(each difference printed), 2 on usage errors.
"""

import argparse
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "sim", "tests"))
import badinput  # noqa: E402

HELP_DIR = os.path.join(ROOT, "man", "help")

# The help sources and the command line that prints each: program, then
# the command for sc-telegram's commands.
HELP = [
    ("sc-sim", []),
    ("sc-ctl", []),
    ("sc-telegram", []),
    ("sc-telegram", ["gen"]),
    ("sc-telegram", ["parse"]),
    ("sc-telegram", ["check"]),
    ("sc-telegram", ["to-scenario"]),
    ("sc-telegram", ["crc"]),
    ("sc-telegram", ["registers"]),
    ("sc-hil", []),
]
# Where each program is in the build tree.
PROGRAMS = {"sc-sim": "sim/sc-sim", "sc-ctl": "sim/sc-ctl", "sc-telegram": "sim/sc-telegram",
            "sc-hil": "hil/sc-hil",
            "sc_help_header": "sc_help_header"}
MAN_SECTION = {"sc-sim": 1, "sc-ctl": 1, "sc-telegram": 1, "sc-hil": 1}


def help_source(prog, args):
    name = "-".join([prog] + args)
    return name, os.path.join(HELP_DIR, name + ".txt")


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                 p.stderr.decode("utf-8", "replace").strip()))
    return p.stdout.decode("utf-8")


def badinput_table(build):
    return badinput.table()


def condition_table(build):
    return badinput.conditions_table()


def register_table(build):
    return run([os.path.join(build, PROGRAMS["sc-telegram"]), "registers", "--format", "markdown"])


def options_reference(build):
    out = []
    for prog, args in HELP:
        name, src = help_source(prog, args)
        title = " ".join([prog] + args)
        out.append("## %s\n" % title)
        out.append("`%s --help`, from [man/help/%s.txt](../../man/help/%s.txt); the manual page "
                   "is %s(%d).\n" % (title, name, name, prog, MAN_SECTION[prog]))
        text = run([os.path.join(build, PROGRAMS[prog])] + args + ["--help"])
        out.append("```text\n" + text + ("" if text.endswith("\n") else "\n") + "```\n")
    return "\n".join(out)


# (file, name of the generated part, function of the build tree)
PARTS = [
    ("docs/developer/bad-input.md", "bad-input table", badinput_table),
    ("docs/developer/bad-input.md", "bad-condition table", condition_table),
    ("docs/reference/registers.md", "register map", register_table),
    ("docs/reference/options.md", "option lists", options_reference),
]


def markers(name):
    return ("<!-- generated: %s by docs/tables.py; do not edit -->" % name,
            "<!-- end of %s -->" % name)


def fill(text, name, body, path):
    begin, end = markers(name)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise RuntimeError("%s: the markers %r and %r are missing or out of order" % (path, begin, end))
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body + end + tail


def help_matches(source, printed):
    """True when printed is source with each @NAME@ standing for some text
    without a line break."""
    pattern = "".join(re.escape(piece) if i % 2 == 0 else "[^\n]+"
                      for i, piece in enumerate(re.split(r"@([A-Z][A-Z0-9_]*)@", source)))
    return re.fullmatch(pattern, printed) is not None


def check_help(build):
    errs = []
    names = set()
    for prog, args in HELP:
        name, src = help_source(prog, args)
        names.add(name + ".txt")
        source = run([os.path.join(build, PROGRAMS["sc_help_header"]), "text", src])
        printed = run([os.path.join(build, PROGRAMS[prog])] + args + ["--help"])
        if not help_matches(source, printed):
            diff = "".join(difflib.unified_diff(source.splitlines(True), printed.splitlines(True),
                                                "man/help/%s.txt" % name,
                                                "%s --help" % " ".join([prog] + args)))
            errs.append("%s --help is not the text of man/help/%s.txt:\n%s" % (" ".join([prog] + args), name, diff))
    for extra in sorted(set(os.listdir(HELP_DIR)) - names):
        if extra.endswith(".txt"):
            errs.append("man/help/%s is the help of no program listed in docs/tables.py" % extra)
    return errs


def main():
    ap = argparse.ArgumentParser(description="the generated parts of the documentation")
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build tree")
    ap.add_argument("--program", action="append", default=[], metavar="NAME=PATH",
                    help="where a program is, when not at its place in the build tree "
                         "(NAME sc-sim, sc-ctl, sc-telegram, sc-hil or sc_help_header)")
    a = ap.parse_args()
    for spec in a.program:
        name, sep, path = spec.partition("=")
        if not sep or name not in PROGRAMS:
            ap.error("--program %r: NAME=PATH expected, NAME one of %s" % (spec, ", ".join(PROGRAMS)))
        PROGRAMS[name] = os.path.abspath(path)
    errs = []
    for rel, name, make in PARTS:
        path = os.path.join(ROOT, rel)
        with open(path) as f:
            text = f.read()
        try:
            new = fill(text, name, make(a.build), rel)
        except RuntimeError as e:
            errs.append(str(e))
            continue
        if new == text:
            continue
        if a.check:
            diff = "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True),
                                                rel, rel + " (generated)"))
            errs.append("%s: the %s is stale; run /usr/bin/python3 docs/tables.py\n%s"
                        % (rel, name, diff))
        else:
            with open(path + ".tmp", "w") as f:
                f.write(new)
            os.replace(path + ".tmp", path)
            print("%s: %s written" % (rel, name))
    if a.check:
        try:
            errs += check_help(a.build)
        except RuntimeError as e:
            errs.append(str(e))
    for e in errs:
        print("FAIL " + e)
    if errs:
        return 1
    if a.check:
        print("ok: %d generated parts fresh, %d --help texts are their sources" % (len(PARTS), len(HELP)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
