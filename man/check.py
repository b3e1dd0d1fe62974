#!/usr/bin/python3
"""Checks the manual pages against man(1) and against the programs.

    check.py --program sc-sim=build/sim/sc-sim ... build/man/sc-sim.1 ...

For every page:
  - `man --warnings -E UTF-8 -l -Tutf8 PAGE` renders it without a word on
    stderr (groff and man warnings fail the check), and no rendered line is
    wider than 80 columns (MANWIDTH=80: the examples fit a terminal);
For every page of a program given with --program NAME=PATH:
  - every long option (--xyz) that `PATH --help` prints is documented in the
    page, and every long option the page documents is printed by --help
    (--help itself counts as printed: the check has just run it; and
    "SPEC as sc-sim --source" in sc-ctl's --help names sc-sim's option,
    not one of sc-ctl's);
  - every command the program's --help names (a "Commands:" list, or
    "Usage: PROG WORD ..." lines) is documented in the page, and every
    command the page documents is one --help names;
  - for sc-telegram, whose commands have a --help of their own, each
    command's options are compared with that command's subsection;
  - every option documented on both sides takes the same argument: the
    alternatives of `--speed X|max` (or of several lines of one option) are
    the same set in --help and in the page's term, and an option without an
    argument has none on either side.

The options of sc-sim, sc-hil and sc-telegram's commands are written once,
in man/help/*.txt: their --help text is compiled into the programs and
their pages' option terms are generated from the same file (man/help/help.cmake,
sim/tools/help_header.c), so this check mostly guards the hand-written rest:
sc-ctl's and sc-telegram's command lists, and the pages' other sections.
docs/reference/options.md shows every --help.

"Documented" means a term of the OPTIONS or COMMANDS section: a line at the
section's text indentation with its description indented below it
(scdoc: `*--source* _SPEC_` followed by a tab-indented paragraph), or for
commands a subsection of COMMANDS named after the command. A mention in
running text or in an example does not count. Options in the page's
OPTIONS section apply to every command.

Exit status 0 when every check passed, 1 otherwise (each difference is
printed), 2 on usage errors.
"""

import argparse
import os
import re
import subprocess
import sys

# Programs whose commands answer `PROG COMMAND --help` with their options.
# (sc-ctl's do not: `sc-ctl source --help` would send a request.)
COMMAND_HELP = {"sc-telegram"}

WIDTH = 80
LONG_OPT = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*[a-z0-9]")
PROGRAMS = ("sc-sim", "sc-telegram", "sc-ctl", "sc-hil")
SECTION = re.compile(r"^[A-Z][A-Z0-9 ()/-]*$")
TEXT_INDENT = 7   # man(7): text of a section
SUB_INDENT = 3    # .SS headings


def render(page):
    """The page as man shows it: (text without formatting, stderr, rc)."""
    env = dict(os.environ)
    for k in ("MANROFFOPT", "MAN_KEEP_FORMATTING", "GROFF_SGR", "GROFF_NO_SGR",
              "MANOPT", "MANPAGER", "PAGER"):
        env.pop(k, None)
    env.update(LC_ALL="C.UTF-8", MANWIDTH=str(WIDTH))
    try:
        p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", page],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except FileNotFoundError:
        return None, "man: not found (install the Debian package man-db)", 127
    out = p.stdout.decode("utf-8", "replace")
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)   # SGR, if grotty uses it
    out = re.sub(r".\x08", "", out)            # overstrike: bold, underline
    return out, p.stderr.decode("utf-8", "replace"), p.returncode


def indent(line):
    return len(line) - len(line.lstrip(" "))


def structure(text):
    """Sections of a rendered page: {SECTION: [(subsection, [lines])]},
    header and footer lines left out. Hyphenation added by groff (U+2010 at
    a line's end) is undone first."""
    text = re.sub("\u2010\n *", "", text)
    lines = text.split("\n")
    body = [l.rstrip() for l in lines]
    while body and not body[-1]:
        body.pop()
    body = body[1:-1]   # the header line and the footer line
    sections = {}
    cur = None
    for line in body:
        if SECTION.match(line):
            cur = sections.setdefault(line.strip(), [])
            cur.append((None, []))
        elif cur is not None and line and indent(line) == SUB_INDENT:
            cur.append((line.strip(), []))
        elif cur is not None:
            cur[-1][1].append(line)
    return sections


def terms(lines):
    """The terms among a section's lines: runs of lines at the text
    indentation directly followed by a deeper-indented line."""
    out, run = [], []
    for line in lines + [""]:
        if line and indent(line) == TEXT_INDENT:
            run.append(line.strip())
            continue
        if run and line and indent(line) > TEXT_INDENT:
            out.append(" ".join(run))
        run = []
    return out


def documented(sections):
    """(options of OPTIONS, {command: options of its subsection or term})."""
    options = set()
    commands = {}
    for sub, lines in sections.get("OPTIONS", []):
        for t in terms(lines):
            options.update(LONG_OPT.findall(t))
    for sub, lines in sections.get("COMMANDS", []):
        ts = terms(lines)
        if sub is not None:
            name = sub.split()[0]
            opts = commands.setdefault(name, set())
            for t in ts:
                opts.update(LONG_OPT.findall(t))
            continue
        for t in ts:
            if t.startswith("-"):
                options.update(LONG_OPT.findall(t))
            else:
                commands.setdefault(t.split()[0], set()).update(LONG_OPT.findall(t))
    return options, commands


def help_options(name, text):
    """The long options a --help prints, less those it names as another
    program's ("SPEC as sc-sim --source")."""
    opts = set()
    for line in text.split("\n"):
        for m in LONG_OPT.finditer(line):
            before = line[:m.start()]
            other = re.search(r"\b(sc-[a-z]+)(\s+[a-z][a-z0-9-]*)?\s+$", before)
            if other and other.group(1) in PROGRAMS and other.group(1) != name:
                continue
            opts.add(m.group(0))
    # Evidently accepted: the check has just run it.
    opts.add("--help")
    return opts


def run_help(path, args):
    try:
        p = subprocess.run([path] + args + ["--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "%s: %s" % (path, e)
    if p.returncode != 0:
        return None, "%s --help exited %d: %s" % (" ".join([path] + args), p.returncode,
                                                  p.stderr.decode("utf-8", "replace").strip())
    return p.stdout.decode("utf-8", "replace"), None


def help_commands(name, text):
    """Commands a --help names: a "Commands:" list, and PROG WORD in the
    Usage lines."""
    cmds = []
    lines = text.split("\n")
    in_list = False
    for line in lines:
        if line.strip() == "Commands:":
            in_list = True
            continue
        if in_list:
            if not line.strip():
                in_list = False
                continue
            m = re.match(r"^  ([a-z][a-z0-9-]*)(\s|$)", line)
            if m:
                cmds.append(m.group(1))
    usage = False
    for line in lines:
        if line.startswith("Usage:"):
            usage = True
        elif not line.startswith(" "):
            usage = False
        if usage:
            m = re.match(r"^(?:Usage:)?\s*" + re.escape(name) + r"\s+([a-z][a-z0-9-]*)\b", line)
            if m:
                cmds.append(m.group(1))
    return list(dict.fromkeys(cmds))


def diff(what, in_help, in_page, helpname):
    errs = []
    for o in sorted(in_help - in_page):
        errs.append("%s %s: printed by %s, not documented in the page" % (what, o, helpname))
    for o in sorted(in_page - in_help):
        errs.append("%s %s: documented in the page, not printed by %s" % (what, o, helpname))
    return errs


OPTION_LINE = re.compile(r"^ {1,6}(?:-[a-zA-Z], )?(--[a-z0-9][a-z0-9-]*(?: [^ -][^ ]*)?"
                         r"(?: --[a-z0-9][a-z0-9-]*(?: [^ -][^ ]*)?)*)(?: {2,}|$)")
BRACKETED = re.compile(r"\[(--[a-z0-9][a-z0-9-]*)(?: ([^\]\s]+))?\]")


def alternatives(arg):
    """An option's argument as the set of its alternatives: 'X|max' ->
    {'X', 'max'}; no argument -> {''}."""
    return set(arg.split("|")) if arg else {""}


def add_forms(forms, tokens):
    """Options and their arguments from the tokens of one term or line:
    each --option, then its argument when the next token is not an option."""
    i = 0
    while i < len(tokens):
        tok = tokens[i].rstrip(",")
        if tok.startswith("--"):
            arg = ""
            if i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                arg = tokens[i + 1].rstrip(",")
                i += 1
            forms.setdefault(tok, set()).update(alternatives(arg))
        i += 1


def help_arguments(text):
    """{option: alternatives of its argument} as a --help prints them: the
    option lines (an option at the start of an indented line, its argument
    after one space, the description after two) and [--option ARG] in
    command lines."""
    forms = {}
    for line in text.split("\n"):
        m = OPTION_LINE.match(line)
        if m:
            add_forms(forms, m.group(1).split(" "))
        for b in BRACKETED.finditer(line):
            forms.setdefault(b.group(1), set()).update(alternatives(b.group(2) or ""))
    return forms


def page_arguments(sections, command=None):
    """{option: alternatives of its argument} of the OPTIONS terms, and of
    the COMMANDS terms (those of one command's subsection when command is
    given)."""
    forms = {}
    for sub, lines in sections.get("OPTIONS", []):
        for t in terms(lines):
            add_forms(forms, t.split())
    for sub, lines in sections.get("COMMANDS", []):
        if command is not None and (sub is None or sub.split()[0] != command):
            continue
        for t in terms(lines):
            add_forms(forms, t.split())
    return forms


def diff_arguments(in_help, in_page, helpname):
    """Options documented on both sides whose arguments differ."""
    errs = []
    for o in sorted(set(in_help) & set(in_page)):
        if o == "--help" or in_help[o] == in_page[o]:
            continue
        show = lambda alts: "|".join(sorted(a or "(none)" for a in alts))
        errs.append("option %s: argument %s in %s, %s in the page"
                    % (o, show(in_help[o]), helpname, show(in_page[o])))
    return errs


def check_program(name, path, sections):
    errs = []
    main_help, err = run_help(path, [])
    if err:
        return [err]
    page_opts, page_cmds = documented(sections)
    help_opts = help_options(name, main_help)
    cmds = help_commands(name, main_help)
    errs += diff("command", set(cmds), set(page_cmds), "%s --help" % name)
    if name in COMMAND_HELP:
        # Global options against the main --help; each command's against
        # its own --help (the global ones count for every command).
        errs += diff("option", help_opts, page_opts, "%s --help" % name)
        for cmd in cmds:
            text, err = run_help(path, [cmd])
            if err:
                errs.append(err)
                continue
            errs += diff("option", help_options(name, text),
                         page_cmds.get(cmd, set()) | page_opts,
                         "%s %s --help" % (name, cmd))
            errs += diff_arguments(help_arguments(text), page_arguments(sections, cmd),
                                   "%s %s --help" % (name, cmd))
    else:
        every = set(page_opts)
        for o in page_cmds.values():
            every |= o
        errs += diff("option", help_opts, every, "%s --help" % name)
        errs += diff_arguments(help_arguments(main_help), page_arguments(sections),
                               "%s --help" % name)
    return errs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--program", action="append", default=[], metavar="NAME=PATH",
                    help="a program and its binary; its page is NAME.1")
    ap.add_argument("pages", nargs="+", help="generated manual pages (roff)")
    a = ap.parse_args()
    programs = {}
    for spec in a.program:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            ap.error("--program %r: NAME=PATH expected" % spec)
        programs[name] = path

    failed = 0
    seen = set()
    for page in a.pages:
        base = os.path.basename(page)
        name, _, section = base.rpartition(".")
        errs = []
        text, stderr, rc = render(page)
        if text is None or rc != 0 or stderr.strip():
            errs.append("man -l %s (exit %s) said:\n%s" % (page, rc, stderr.rstrip()))
        if text is not None:
            for n, line in enumerate(text.split("\n"), 1):
                if len(line.rstrip()) > WIDTH:
                    errs.append("rendered line %d is %d columns wide (at most %d): %s"
                                % (n, len(line.rstrip()), WIDTH, line.strip()))
            sections = structure(text)
            for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
                if s not in sections:
                    errs.append("no %s section" % s)
            if name in programs:
                seen.add(name)
                for s in ("OPTIONS", "EXIT STATUS", "EXAMPLES"):
                    if s not in sections:
                        errs.append("no %s section" % s)
                errs += check_program(name, programs[name], sections)
        if errs:
            failed += 1
            print("FAIL %s" % base)
            for e in errs:
                print("  " + e.replace("\n", "\n    "))
        else:
            print("ok   %s" % base)
    for name in sorted(set(programs) - seen):
        failed += 1
        print("FAIL %s: no page %s.1 given" % (name, name))
    if failed:
        print("%d of %d pages failed" % (failed, len(a.pages)))
        return 1
    print("%d pages checked" % len(a.pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
