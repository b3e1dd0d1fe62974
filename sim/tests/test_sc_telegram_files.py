"""sc-telegram parse/check on files that change while they are read.

A regular file is read through a mapping of it (docs/user/sc-telegram.md); a
file cut shorter by another program meanwhile is reported, naming the file and
where it ended, with the exit status of a read error, instead of killing the
program with SIGBUS. To cut the file while sc-telegram is surely reading the
mapping, its standard output is a pipe of 64 KiB the test does not read yet:
once output has come (so the file is mapped and being read), sc-telegram can
have read no further than about 130 telegrams (some 100 KB) before the pipe
is full, and the file is cut at 1 MiB, far beyond that, before the output is
read."""

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import termios
import time
import unittest

BIN = os.environ.get("SC_BINARY_DIR", "build")
CORPUS = os.environ.get("SC_CORPUS_DIR", os.path.join(os.environ.get("SC_SOURCE_DIR", "."), "corpus", "field"))
TELEGRAM = os.path.join(BIN, "sim", "sc-telegram")
AM550 = os.path.join(CORPUS, "p1", "dsmr50-iskra-am550-566-telegrams.p1")
PIPE_SIZE = 65536
CUT = 1 << 20  # far past what fills the pipe, a multiple of any page size


def pending(fd):
    """Bytes waiting in the pipe fd reads."""
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)


class ShrinkingFile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-telegram-files-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        with open(AM550, "rb") as f:
            self.capture = f.read() * 8
        self.assertGreater(len(self.capture), 3 * CUT)

    def read_while_cut(self, cmd, cut_at):
        """Runs sc-telegram CMD on a copy of the capture and cuts the copy to
        cut_at bytes while it is being read; returns (status, stdout, stderr,
        path)."""
        path = os.path.join(self.dir, "capture.p1")
        with open(path, "wb") as f:
            f.write(self.capture)
        p = subprocess.Popen([TELEGRAM, cmd, path], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(p.kill)  # a no-op once it has exited
        out = p.stdout.fileno()
        fcntl.fcntl(out, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        deadline = time.monotonic() + 30
        while pending(out) == 0:
            self.assertIsNone(p.poll(), "sc-telegram ended before writing")
            self.assertLess(time.monotonic(), deadline, "no output in 30 s")
            time.sleep(0.01)
        os.truncate(path, cut_at)
        stdout, stderr = p.communicate(timeout=60)
        return p.returncode, stdout.decode(), stderr.decode(), path

    def telegrams_before(self, end):
        """The capture's telegrams that end (with their CRC) before end."""
        return sum(1 for m in re.finditer(rb"/[^!]*![0-9A-F]{4}", self.capture) if m.end() <= end)

    def read_error_status(self):
        p = subprocess.run([TELEGRAM, "parse", self.dir], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        self.assertIn("read error", p.stderr.decode())
        return p.returncode

    def test_a_file_cut_while_read_is_reported_with_where_it_ended(self):
        status, out, err, path = self.read_while_cut("parse", CUT)
        self.assertEqual(status, self.read_error_status(), err)
        self.assertIn("%s: file shrank while being read at byte %d\n" % (path, CUT), err)
        # Every telegram before the cut, and nothing after it: the one cut
        # in two is not reported.
        lines = out.splitlines()
        self.assertEqual(len(lines), self.telegrams_before(CUT))
        self.assertTrue(all(line.startswith("{") and line.endswith("}") for line in lines))
        self.assertIn("telegrams: %d ok: %d failed: 0" % (len(lines), len(lines)), err)

    def test_a_file_cut_inside_a_page_is_reported_at_its_new_end(self):
        # The rest of the page that holds the new end reads as zeros; the
        # end named is the file's new size.
        cut = CUT + 1000
        status, out, err, path = self.read_while_cut("parse", cut)
        self.assertEqual(status, self.read_error_status(), err)
        self.assertIn("%s: file shrank while being read at byte %d\n" % (path, cut), err)
        self.assertEqual(len(out.splitlines()), self.telegrams_before(cut))


if __name__ == "__main__":
    unittest.main()
