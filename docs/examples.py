#!/usr/bin/python3
"""Checks the example commands of README.md and docs/**/*.md against a checkout.

    /usr/bin/python3 docs/examples.py [--build DIR] [FILE.md ...]

Every fenced block whose language is sh is an example. In each, every word
that names a file of the repository (a path starting with one of the
checkout's top-level folders or files, also after `file:`; `build/...` in the
build tree DIR, default build/) must exist, globs must match, and no word may
reach outside the checkout (`../`). A block preceded by the line

    <!-- example: runs offline -->

is also run, as written, by bash (-e -o pipefail) in a scratch folder that
holds the checkout's top-level entries (and build/ as DIR), so that relative
paths work and what the example writes stays out of the checkout; it must
exit 0 within 300 s. The blocks of one page run in one folder, in order (a
file one example writes, the next may read), and what a block leaves running
in the background is stopped when it ends.

Every relative link of those pages must lead to a file of the checkout, and
its #anchor, if any, to a heading of the page.

Exit status: 0 when every example passed, 1 otherwise (each failure printed),
2 on usage errors.
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
RUN_MARK = "<!-- example: runs offline -->"
FENCE = re.compile(r"^(\s*)(```+)\s*([A-Za-z0-9_+-]*)[^\n]*$")
TIMEOUT = 300


def blocks(path):
    """(line number, language, text, runs) of each fenced block."""
    with open(path) as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, lang = m.group(1), m.group(2), m.group(3)
        start = i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != ticks:
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        runs = start > 0 and lines[start - 1].strip() == RUN_MARK
        out.append((start + 1, lang, "\n".join(body) + "\n", runs))
        i += 1
    return out


def words(text):
    """The words of a shell text, comments dropped, quotes removed."""
    text = text.replace("\\\n", " ")
    lex = shlex.shlex(text, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = "#"
    try:
        return list(lex)
    except ValueError as e:
        raise ValueError("cannot be read as shell: %s" % e)


def top_level():
    return {e for e in os.listdir(ROOT) if not e.startswith(".")} - {"build"}


def check_paths(text, build):
    errs = []
    tops = top_level()
    for w in words(text):
        for part in [w] + w.split("=", 1)[1:]:
            if part.startswith("file:"):
                part = part[len("file:"):]
            if "../" in part or part == "..":
                errs.append("'%s' reaches outside the checkout" % w)
                continue
            first = part.split("/", 1)[0]
            if part.startswith("build/"):
                target = os.path.join(build, part[len("build/"):])
            elif first in tops and ("/" in part or os.path.isfile(os.path.join(ROOT, part))):
                target = os.path.join(ROOT, part)
            else:
                continue
            if any(c in target for c in "*?["):
                if not glob.glob(target):
                    errs.append("'%s' matches no file" % part)
            elif not os.path.exists(target):
                errs.append("'%s' does not exist" % part)
    return errs


def scratch_dir(build):
    """A folder holding the checkout's top-level entries (build/ as the build
    tree), where an example runs."""
    scratch = tempfile.mkdtemp(prefix="sc-docs-example-")
    for e in os.listdir(ROOT):
        if e != "build":
            os.symlink(os.path.join(ROOT, e), os.path.join(scratch, e))
    os.symlink(os.path.abspath(build), os.path.join(scratch, "build"))
    return scratch


def run_block(text, scratch):
    """None when the block ran and exited 0, else what went wrong. What it
    left running in the background (its process group) is stopped."""
    p = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", text], cwd=scratch,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
        err = None if p.returncode == 0 else "exited %d" % p.returncode
    except subprocess.TimeoutExpired:
        err = "did not end within %d s" % TIMEOUT
    finally:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if err:
        if p.returncode is None:
            p.kill()
        out = p.communicate()[0]
        return "%s:\n%s" % (err, out.decode("utf-8", "replace")[-4000:])
    return None


LINK = re.compile(r"\]\(([^)#\s]*)(#[^)\s]*)?\)")


def anchors(path):
    """The anchors of a Markdown page's headings, as GitHub makes them."""
    out = set()
    fence = False
    with open(path) as f:
        for line in f:
            if line.startswith("```"):
                fence = not fence
            m = None if fence else re.match(r"^#{1,6}\s+(.*?)\s*$", line)
            if m:
                slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
                n = 1
                base = slug
                while slug in out:
                    slug = "%s-%d" % (base, n)
                    n += 1
                out.add(slug)
    return out


def check_links(path):
    """Relative links of a page that lead to no file of the checkout, or to
    no heading of a Markdown page."""
    with open(path) as f:
        text = f.read()
    errs = []
    for m in LINK.finditer(text):
        target, anchor = m.group(1), m.group(2)
        if re.match(r"^[a-z]+:", target):
            continue
        full = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
        line = text.count("\n", 0, m.start()) + 1
        where = "%s:%d: link to %s%s" % (os.path.relpath(path, ROOT), line, target, anchor or "")
        if not full.startswith(ROOT + os.sep) or not os.path.exists(full):
            errs.append(where + " leads to no file of the checkout")
        elif anchor and full.endswith(".md") and anchor[1:] not in anchors(full):
            errs.append(where + " names no heading of the page")
    return errs


def main():
    ap = argparse.ArgumentParser(description="checks the documentation's example commands")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build tree")
    ap.add_argument("files", nargs="*", help="Markdown files (default: README.md and docs/**/*.md)")
    a = ap.parse_args()
    files = a.files or ([os.path.join(ROOT, "README.md")]
                        + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)))
    failed = checked = ran = 0
    for path in map(os.path.abspath, files):
        rel = os.path.relpath(path, ROOT)
        for e in check_links(path):
            print("FAIL " + e)
            failed += 1
        # The examples of one page run in one folder, in order, as a reader
        # following the page runs them.
        scratch = None
        for line, lang, text, runs in blocks(path):
            if lang not in ("sh", "bash"):
                if runs:
                    print("FAIL %s:%d: marked to run, but its language is %r, not sh" % (rel, line, lang))
                    failed += 1
                continue
            checked += 1
            try:
                errs = check_paths(text, a.build)
            except ValueError as e:
                errs = [str(e)]
            if runs and not errs:
                ran += 1
                scratch = scratch or scratch_dir(a.build)
                err = run_block(text, scratch)
                if err:
                    errs.append(err)
            for e in errs:
                print("FAIL %s:%d: %s" % (rel, line, e.replace("\n", "\n    ")))
            if errs:
                failed += 1
            else:
                print("ok   %s:%d%s" % (rel, line, " (ran)" if runs else ""))
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    print("%d examples checked, %d of them run; %d failed" % (checked, ran, failed))
    if checked == 0 or ran == 0:
        print("FAIL no example found to check or to run")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
