"""The test suite's own inventory, read from the build's test list
(`ctest --show-only=json-v1`): every test_* file of the source tree runs
under ctest (a Criterion file as the executable of its name in the matching
build folder, any other file named on a test's command line), and every test
carries its labels (sim/tests/CMakeLists.txt: unit, peer, slow, root; unit
alone, since a unit test is fast and needs no peer and no root).

Registered in the plain build only: the sanitizer build leaves out the tests
that run once (PLAIN_ONLY), so its list is not the whole suite."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402

CTEST = os.environ.get("SC_CTEST", "ctest")
LABELS = {"unit", "peer", "slow", "root"}


def test_files(source):
    """Paths (relative to source) of the files named test_* in the tree,
    build trees (a CMakeCache.txt), hidden folders and caches left out."""
    found = []
    for top, dirs, files in os.walk(source):
        if top != source and "CMakeCache.txt" in files:
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for f in files:
            if f.startswith("test_"):
                found.append(os.path.relpath(os.path.join(top, f), source))
    return sorted(found)


def test_list(build):
    """The build's tests: the parsed json-v1 document's "tests"."""
    r = subprocess.run([CTEST, "--show-only=json-v1", "--test-dir", build], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("ctest --show-only failed: %s" % r.stderr)
    return json.loads(r.stdout)["tests"]


def labels_of(test):
    for p in test.get("properties", []):
        if p["name"] == "LABELS":
            return set(p["value"])
    return set()


def not_run(source, build, files, tests):
    """The files of `files` that no test of `tests` runs."""
    real = os.path.realpath
    args = {real(a) for t in tests for a in t.get("command", []) if os.path.isabs(a)}
    missing = []
    for rel in files:
        stem, ext = os.path.splitext(rel)
        if ext == ".c":
            # A Criterion test: its executable, named after the file, in
            # the build folder that mirrors the file's folder.
            ran = real(os.path.join(build, stem)) in args
        else:
            ran = real(os.path.join(source, rel)) in args
        if not ran:
            missing.append(rel)
    return missing


def bad_labels(tests):
    """'name: why' for each test whose labels break the rules."""
    bad = []
    for t in tests:
        got = labels_of(t)
        if not got:
            bad.append("%s: no label" % t["name"])
        elif got - LABELS:
            bad.append("%s: unknown label %s" % (t["name"], sorted(got - LABELS)))
        elif "unit" in got and got != {"unit"}:
            bad.append("%s: unit with %s" % (t["name"], sorted(got - {"unit"})))
    return bad


class Inventory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tests = test_list(simtest.BUILD)
        cls.files = test_files(simtest.SOURCE)

    def test_every_test_file_runs_under_ctest(self):
        # The tree has test files in more than one place; all are seen.
        self.assertIn(os.path.join("sim", "tests", "test_crc16.c"), self.files)
        self.assertIn(os.path.join("hil", "tests", "test_hil.py"), self.files)
        self.assertIn(os.path.join("sim", "tests", "test_inventory.py"), self.files)
        self.assertEqual(not_run(simtest.SOURCE, simtest.BUILD, self.files, self.tests), [],
                         "test files that ctest does not run: add them to a CMakeLists.txt")

    def test_every_test_has_its_labels(self):
        self.assertGreater(len(self.tests), 40)
        self.assertEqual(bad_labels(self.tests), [])
        names = {t["name"]: labels_of(t) for t in self.tests}
        self.assertEqual(names["test_crc16"], {"unit"})
        self.assertEqual(names["test_inventory"], {"unit"})
        self.assertIn("root", names["test_package"])


class TheChecksCanFail(unittest.TestCase):
    """The two checks on a made-up tree and test list."""

    def test_a_file_no_test_runs_is_named(self):
        with tempfile.TemporaryDirectory() as src:
            build = os.path.join(src, "build")
            for rel in ("a/tests/test_one.c", "a/tests/test_two.py", "b/test_three.sh",
                        "a/tests/helper.py", "build/a/tests/test_one", "build/CMakeCache.txt",
                        ".git/test_hidden.py"):
                os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
                open(os.path.join(src, rel), "w").close()
            files = test_files(src)
            self.assertEqual(files, ["a/tests/test_one.c", "a/tests/test_two.py", "b/test_three.sh"])
            tests = [{"name": "test_one", "command": [os.path.join(build, "a/tests/test_one")]},
                     {"name": "test_two", "command": ["/usr/bin/python3",
                                                      os.path.join(src, "a/tests/test_two.py")]}]
            self.assertEqual(not_run(src, build, files, tests), ["b/test_three.sh"])
            self.assertEqual(not_run(src, build, files, tests[1:]),
                             ["a/tests/test_one.c", "b/test_three.sh"])

    def test_missing_unknown_and_mixed_labels_are_named(self):
        def t(name, *labels):
            return {"name": name, "properties": [{"name": "LABELS", "value": list(labels)}]}
        self.assertEqual(bad_labels([t("a", "unit"), t("b", "peer", "slow", "root"),
                                     {"name": "c"}, t("d", "fast"), t("e", "unit", "peer")]),
                         ["c: no label", "d: unknown label ['fast']", "e: unit with ['peer']"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
