"""The Debian package as an integrator meets it: scripts/package.sh builds
it, dpkg installs it on this machine, the files are where the FHS puts
them, the systemd unit passes systemd-analyze, the unit's own command line
(ExecStart with its EnvironmentFile, as its User with only its ambient
capability) serves Modbus on 502 and HTTPS on 443 and notifies readiness,
and the CI recipes (recipes/ci/) run step by step against the installed
package. Then the package is purged and the machine is as before.

Root only (dpkg, a user, ports below 1024, network namespaces): skipped
otherwise. The unit's command line and the recipes run in network
namespaces of the test's own, so fixed ports never meet another program's."""

import glob
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402
from simtest import wait_until  # noqa: E402

import yaml  # noqa: E402  (python3-yaml, scripts/setup.sh)

PKG = "smartconnect-twin"
UNIT = "/lib/systemd/system/sc-sim.service"
CONF = "/etc/smartconnect-twin/sc-sim.conf"
STATE = "/var/lib/smartconnect-twin"
RECIPES = os.path.join(simtest.SOURCE, "recipes", "ci")


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)


def installed():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PKG], capture_output=True, text=True)
    return p.returncode == 0 and p.stdout.startswith("install ok installed")


class NetNs:
    """A network namespace held by a process of ours; commands run in it by
    nsenter. On close every process in it is killed: they are all ours."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && exec sleep 3600"])
        self.ns = "/proc/%d/ns/net" % self.holder.pid
        wait_until(lambda: os.readlink(self.ns) != os.readlink("/proc/self/ns/net")
                   and self.lo_up(), 10)

    def lo_up(self):
        p = subprocess.run(["nsenter", "--net=" + self.ns, "ip", "-o", "link", "show", "lo"],
                           capture_output=True, text=True)
        return "UP" in p.stdout

    def cmd(self, argv):
        return ["nsenter", "--net=" + self.ns, *argv]

    def pids(self):
        mine = os.readlink(self.ns)
        out = []
        for d in glob.glob("/proc/[0-9]*"):
            try:
                if os.readlink(d + "/ns/net") == mine:
                    out.append(int(d[6:]))
            except OSError:
                pass
        return out

    def close(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.holder.wait(10)


def modbus_power(ns, port):
    """0x8016 read by mbpoll (float32, low word first: the device's CD AB)."""
    p = subprocess.run(ns.cmd(["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-0", "-r", "32790",
                               "-t", "4:float", "-c", "1", "-1", "127.0.0.1"]),
                       capture_output=True, text=True, timeout=30)
    for line in p.stdout.splitlines():
        if line.startswith("[32790]:"):
            return float(line.split(":", 1)[1])
    return None


@unittest.skipUnless(os.geteuid() == 0, "installs a package, adds a user, binds 502 and 443: root only")
class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sc-pkg-")
        build = os.path.join(cls.tmp, "build-pkg")
        p = run([os.path.join(simtest.SOURCE, "scripts", "package.sh"), build], timeout=1200)
        cls.deb = p.stdout.strip().splitlines()[-1]
        assert cls.deb.endswith(".deb") and os.path.exists(cls.deb), p.stdout
        cls.was_installed = installed()
        run(["dpkg", "-i", cls.deb])

    @classmethod
    def tearDownClass(cls):
        # Purge unless the machine had the package before the test did.
        if not cls.was_installed:
            run(["dpkg", "--purge", PKG])
        shutil.rmtree(cls.tmp, True)

    def test_1_files_are_where_the_fhs_puts_them(self):
        for path in ["/usr/bin/sc-sim", "/usr/bin/sc-hil", "/usr/bin/sc-telegram", "/usr/bin/sc-ctl",
                     UNIT, CONF, "/usr/share/smartconnect-twin/web/index.html",
                     "/usr/share/smartconnect-twin/scenarios/dsmr50-household-day.json",
                     "/usr/share/doc/smartconnect-twin/copyright"]:
            self.assertTrue(os.path.exists(path), path)
        # The README's links into docs/ lead to the guides installed beside it.
        doc = "/usr/share/doc/smartconnect-twin"
        with open(os.path.join(doc, "README.md"), encoding="utf-8") as f:
            links = re.findall(r"\]\((docs/[^)#\s]+)", f.read())
        self.assertTrue(links, "the README links to no page of docs/")
        for link in links:
            self.assertTrue(os.path.exists(os.path.join(doc, link)), link)
        for page in ["man1/sc-sim.1", "man1/sc-hil.1", "man1/sc-telegram.1", "man1/sc-ctl.1",
                     "man5/sc-scenario.5"]:
            self.assertTrue(glob.glob("/usr/share/man/%s*" % page), page)
        p = run(["man", "-w", "sc-sim"])
        self.assertIn("/usr/share/man/man1/sc-sim.1", p.stdout)
        # The configuration is a conffile: an edit survives an upgrade.
        p = run(["dpkg-query", "-W", "-f=${Conffiles}", PKG])
        self.assertIn(CONF, p.stdout)
        # Dependencies are Debian's library packages, not bundled copies.
        p = run(["dpkg-deb", "-f", self.deb, "Depends"])
        for lib in ["libmodbus5", "libpaho-mqtt1.3", "libmicrohttpd12", "libcjson1", "libserialport0",
                    "libcurl4", "libssl3"]:
            self.assertIn(lib, p.stdout)
        p = run(["dpkg", "-L", PKG])
        self.assertFalse([f for f in p.stdout.split() if f.endswith((".so", ".a")) or ".so." in f],
                         "the package carries libraries")
        # The installed programs start and know their version of the page.
        self.assertEqual(run(["/usr/bin/sc-sim", "--help"]).returncode, 0)
        # The service user: a system account without a shell or home of its own.
        pw = run(["getent", "passwd", "sc-sim"]).stdout.split(":")
        self.assertLess(int(pw[2]), 1000)
        self.assertEqual(os.stat(STATE).st_uid, int(pw[2]))

    def test_1_lintian_finds_no_error_or_warning(self):
        p = run(["lintian", "--fail-on", "error,warning", self.deb], check=False)
        tags = [l for l in p.stdout.splitlines() if l[:2] in ("E:", "W:")]
        self.assertEqual((p.returncode, tags), (0, []), p.stdout + p.stderr)

    def test_2_the_unit_passes_systemd_analyze(self):
        p = run(["systemd-analyze", "verify", UNIT], check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Nothing about this unit's own lines (systemd may mention others).
        self.assertNotIn("sc-sim.service:", p.stderr)

    def unit(self):
        keys = {}
        with open(UNIT) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith(("#", "[")):
                    k, _, v = line.partition("=")
                    keys.setdefault(k, []).append(v)
        return keys

    def test_3_the_units_command_line_serves_the_device_ports(self):
        u = self.unit()
        self.assertEqual(u["Type"], ["notify"])
        self.assertEqual(u["User"], ["sc-sim"])
        self.assertEqual(u["AmbientCapabilities"], ["CAP_NET_BIND_SERVICE"])
        # EnvironmentFile, then ExecStart with its variables expanded, as
        # systemd does for $VAR (split on white space).
        env = {}
        with open(u["EnvironmentFile"][0].lstrip("-")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    k, _, v = line.partition("=")
                    env[k] = " ".join(shlex.split(v))
        argv = []
        for word in shlex.split(u["ExecStart"][0]):
            if word.startswith("$"):
                argv += env[word[1:].strip("{}")].split()
            else:
                argv.append(word)
        self.assertEqual(argv[0], "/usr/bin/sc-sim")
        d = tempfile.mkdtemp(prefix="sc-unit-", dir=self.tmp)
        os.chmod(self.tmp, 0o755)
        os.chmod(d, 0o777)
        notify = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(notify)
        os.chmod(notify, 0o777)
        sock.settimeout(30)
        ns = NetNs()
        self.addCleanup(ns.close)
        cmd = ns.cmd(["setpriv", "--reuid=sc-sim", "--regid=sc-sim", "--init-groups",
                      "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service",
                      "--bounding-set=-all,+net_bind_service", "--no-new-privs", "--", *argv])
        log = open(os.path.join(d, "log"), "w+")
        self.addCleanup(log.close)
        proc = subprocess.Popen(cmd, env={"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notify},
                                stdout=log, stderr=subprocess.STDOUT)

        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        msg = sock.recv(4096).decode()
        self.assertIn("READY=1", msg)
        self.assertIn("modbus tcp 0.0.0.0:502", msg)
        self.assertIn("https 0.0.0.0:443", msg)
        power = wait_until(lambda: modbus_power(ns, 502), 20)
        self.assertGreater(abs(power), 1.0)
        # HTTPS on 443 asks for the password; the one drawn at first start is
        # in the log once and kept in the state directory, owned by sc-sim.
        p = run(ns.cmd(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1/api/v1/status"]))
        self.assertEqual(p.stdout, "401")
        log.seek(0)
        text = log.read()
        self.assertIn("http: login: user / ", text)
        pw = text.split("http: login: user / ", 1)[1].split()[0]
        p = run(ns.cmd(["curl", "-sk", "-u", "user:" + pw, "https://127.0.0.1/api/v1/status"]))
        self.assertIn("MeterType", json.loads(p.stdout))
        uid = int(run(["id", "-u", "sc-sim"]).stdout)
        kept = os.listdir(STATE)
        self.assertTrue(kept, "nothing kept in " + STATE)
        for name in kept:
            self.assertEqual(os.stat(os.path.join(STATE, name)).st_uid, uid, name)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        self.assertIn("STOPPING=1", sock.recv(4096).decode())

    def steps(self, recipe):
        with open(os.path.join(RECIPES, recipe)) as f:
            doc = yaml.safe_load(f)
        if recipe.startswith("github"):
            (job,) = doc["jobs"].values()
            self.assertEqual(job["container"], "debian:12")
            return [(s.get("name", ""), s["run"]) for s in job["steps"] if "run" in s]
        (job,) = doc.values()
        self.assertEqual(job["image"], "debian:12")
        return [(part, "\n".join(job[part])) for part in ("before_script", "script", "after_script")]

    def run_recipe(self, recipe):
        """Each step as the CI runner would: bash -e, in the job's working
        directory holding the .deb. The install runs on this machine (it
        needs the package mirror); the rest in a namespace of its own."""
        work = tempfile.mkdtemp(prefix="sc-ci-", dir=self.tmp)
        shutil.copy(self.deb, work)
        ns = NetNs()
        self.addCleanup(ns.close)
        out = []
        for name, script in self.steps(recipe):
            lines = script.splitlines()
            apt = [l for l in lines if l.strip().startswith("apt-get")]
            rest = [l for l in lines if not l.strip().startswith("apt-get")]
            # apt-get on this machine (it needs the package mirror), the
            # step's other lines in the namespace.
            for argv in (["bash", "-e", "-c", "\n".join(apt)] if apt else None,
                         ns.cmd(["bash", "-e", "-c", "\n".join(rest)]) if rest else None):
                if not argv:
                    continue
                p = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=300,
                                   stdin=subprocess.DEVNULL)
                out.append("== %s: %s\n%s%s" % (recipe, name, p.stdout, p.stderr))
                self.assertEqual(p.returncode, 0, "\n".join(out))
        text = "\n".join(out)
        self.assertRegex(text, r"\[32790\]:\s+-?\d")               # mbpoll read the power
        self.assertIn('"ts":', text)                               # a power_instant arrived
        self.assertIn("stopping on signal 15", text)               # sc-sim stopped cleanly
        self.assertFalse(os.path.exists("/tmp/sc-sim.ready"), "the ready file outlived sc-sim")
        with open(os.path.join(work, "sc-sim.log")) as f:
            self.assertIn("ready: modbus tcp 127.0.0.1:1502", f.read())

    def test_4_the_github_actions_recipe_runs(self):
        self.run_recipe("github-actions.yml")

    def test_5_the_gitlab_recipe_runs(self):
        self.run_recipe("gitlab-ci.yml")


if __name__ == "__main__":
    unittest.main()
