"""The layout's rules (docs/developer/architecture.md, "Layout"), read from the
sources' #include lines, so that a change that breaks them fails here:

- dependencies point down only: the core includes only the core; sim/io the
  core and itself; sim/twin and sim/runner the core, sim/io and themselves
  (not each other); hil/ the runner and below; no file of sim/ (programs and
  tests included) includes a header of hil/;
- no two modules include each other (a module is X.c with X.h and its private
  header X_int.h or X_impl.h), directly or through others;
- a header name is used once in the tree, since includes name files without
  their folder."""

import os
import re
import sys
import unittest

SRC = os.environ.get("SC_SOURCE_DIR",
                     os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

LAYERS = {"sim/core": "core", "sim/io": "io", "sim/twin": "twin",
          "sim/runner": "runner", "hil": "hil", "sim": "programs",
          "sim/tests": "sim-tests", "hil/tests": "hil-tests"}
ALLOWED = {
    "core": {"core"},
    "io": {"core", "io"},
    "twin": {"core", "io", "twin"},
    "runner": {"core", "io", "runner"},
    "hil": {"core", "io", "runner", "hil"},
    "programs": {"core", "io", "twin", "runner", "programs"},
    "sim-tests": {"core", "io", "twin", "runner", "programs", "sim-tests"},
    "hil-tests": {"core", "io", "twin", "runner", "hil", "sim-tests", "hil-tests"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    """{path relative to the checkout: layer} of every C file of ours."""
    out = {}
    for d, layer in LAYERS.items():
        for f in sorted(os.listdir(os.path.join(SRC, d))):
            if f.endswith((".c", ".h")):
                out[d + "/" + f] = layer
    return out


def module(path):
    base = os.path.splitext(path)[0]
    return re.sub(r"_(int|impl)$", "", base)


class Layout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = sources()
        cls.headers = {}
        for p in cls.files:
            if p.endswith(".h"):
                cls.headers.setdefault(os.path.basename(p), []).append(p)
        cls.includes = {}
        for p in cls.files:
            with open(os.path.join(SRC, p), encoding="utf-8") as f:
                names = INCLUDE.findall(f.read())
            cls.includes[p] = [t for n in names for t in cls.headers.get(os.path.basename(n), [])]

    def test_the_tree_has_every_layer(self):
        # A rule that reads no file would pass on anything.
        for layer in ("core", "io", "twin", "runner", "hil", "programs"):
            self.assertTrue(any(l == layer for l in self.files.values()), layer)
        self.assertGreater(sum(len(v) for v in self.includes.values()), 200)

    def test_header_names_are_unique(self):
        dup = {k: v for k, v in self.headers.items() if len(v) > 1}
        self.assertEqual(dup, {})

    def test_dependencies_point_down(self):
        bad = []
        for p, targets in self.includes.items():
            for t in targets:
                if self.files[t] not in ALLOWED[self.files[p]]:
                    bad.append("%s includes %s (%s may not use %s)"
                               % (p, t, self.files[p], self.files[t]))
        self.assertEqual(bad, [], "\n".join(bad))

    def test_no_sim_file_includes_a_hil_header(self):
        bad = [(p, t) for p, ts in self.includes.items() for t in ts
               if p.startswith("sim/") and t.startswith("hil/")]
        self.assertEqual(bad, [])

    def test_no_two_modules_include_each_other(self):
        graph = {}
        for p, ts in self.includes.items():
            a = module(p)
            graph.setdefault(a, set()).update(module(t) for t in ts if module(t) != a)
        # Any cycle, found by a depth-first walk with three colours.
        colour, stack, cycles = {}, [], []

        def walk(n):
            colour[n] = 1
            stack.append(n)
            for m in sorted(graph.get(n, ())):
                if colour.get(m, 0) == 0:
                    walk(m)
                elif colour[m] == 1:
                    cycles.append(" -> ".join(stack[stack.index(m):] + [m]))
            stack.pop()
            colour[n] = 2

        for n in sorted(graph):
            if colour.get(n, 0) == 0:
                walk(n)
        self.assertEqual(cycles, [], "\n".join(cycles))


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    unittest.main(verbosity=2)
