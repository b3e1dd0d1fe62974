"""The container image (Dockerfile), built and run as a CI job runs it: a
Debian 12 base image made from Debian's archive (mmdebstrap), the image
built with podman, then run: Modbus, the API and MQTT read from the running
container, its health check passing once sc-sim is ready, sc-sim running as
a non-root user, and a clean stop (exit 0 on SIGTERM).

Root only (podman's storage, namespaces); skipped otherwise. Everything
podman keeps goes to a storage of the test's own, removed at the end.
podman runs with runc (crun refuses this machine's hybrid cgroups) and a
containers.conf without default ulimits (the machine's hard limits are
below podman's defaults); the build's apt uses the host's network."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokertest  # noqa: E402
import simtest  # noqa: E402

IMAGE = "localhost/smartconnect-twin:test"
BASE = "localhost/debian:12-slim"
PASSWORD = "container-pw"


@unittest.skipUnless(os.geteuid() == 0, "needs root: podman's storage and namespaces")
class Container(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("podman", "runc", "mmdebstrap"):
            if not shutil.which(tool):
                raise AssertionError("%s not found: scripts/setup.sh installs it" % tool)
        cls.dir = tempfile.mkdtemp(prefix="sc-container-")
        conf = os.path.join(cls.dir, "containers.conf")
        with open(conf, "w") as f:
            f.write("[containers]\ndefault_ulimits = []\n")
        cls.env = dict(os.environ, CONTAINERS_CONF=conf)
        cls.store = ["--root", os.path.join(cls.dir, "storage"),
                     "--runroot", os.path.join(cls.dir, "run"), "--runtime", "runc"]
        try:
            base = os.path.join(cls.dir, "base.tar")
            cls.run_ok(["mmdebstrap", "--variant=minbase", "bookworm", base], timeout=900)
            cls.podman("import", base, BASE, timeout=300)
            cls.podman("build", "--network=host", "--format", "docker", "--pull=never",
                       "--build-arg", "BASE=" + BASE, "-t", IMAGE,
                       "-f", os.path.join(simtest.SOURCE, "Dockerfile"), simtest.SOURCE,
                       timeout=1500)
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    @classmethod
    def cleanup(cls):
        subprocess.run(["podman", *cls.store, "rm", "-a", "-f"], env=cls.env,
                       capture_output=True, timeout=120)
        subprocess.run(["podman", *cls.store, "system", "reset", "-f"], env=cls.env,
                       capture_output=True, timeout=300)
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def run_ok(cls, cmd, timeout):
        r = subprocess.run(cmd, env=cls.env, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("%s exited %d:\n%s\n%s" % (" ".join(cmd), r.returncode,
                                                          r.stdout[-4000:], r.stderr[-4000:]))
        return r.stdout

    @classmethod
    def podman(cls, *args, timeout=120):
        return cls.run_ok(["podman", *cls.store, *args], timeout)

    def test_run_read_every_interface_and_stop(self):
        broker = brokertest.Broker(self.dir)
        self.addCleanup(broker.close)
        sub = brokertest.Subscriber(broker.port, "devices/#")
        self.addCleanup(sub.close)
        ports = [brokertest.free_port() for _ in range(3)]
        name = "sc-twin-test-%d" % os.getpid()
        # As a CI service: the image's own options, then SC_SIM_OPTIONS (a
        # service that cannot pass arguments), then the arguments.
        cid = self.podman("run", "-d", "--name", name, "--network=host",
                          "-e", "SC_SIM_OPTIONS=--site ci --password " + PASSWORD, IMAGE,
                          "--modbus", ":%d" % ports[0], "--https", ":%d" % ports[1],
                          "--http", ":%d" % ports[2], "--mqtt", "mqtt://127.0.0.1:%d" % broker.port
                          ).strip()
        self.addCleanup(subprocess.run, ["podman", *self.store, "rm", "-f", cid], env=self.env,
                        capture_output=True, timeout=120)

        # Healthy once sc-sim has written its ready file.
        def healthy():
            r = subprocess.run(["podman", *self.store, "healthcheck", "run", cid], env=self.env,
                               capture_output=True, text=True, timeout=60)
            return r.returncode == 0
        simtest.wait_until(healthy, timeout=60, step=0.2)
        ready = re.search(r"ready: .*", self.podman_stderr_logs(cid)).group(0)
        # Every interface of the container (--listen 0.0.0.0).
        self.assertIn("modbus tcp 0.0.0.0:%d" % ports[0], ready)
        self.assertIn("https 0.0.0.0:%d" % ports[1], ready)

        # Not root: the user of the image and of the process.
        inspect = json.loads(self.podman("inspect", cid))[0]
        self.assertEqual(inspect["Config"]["User"], "999:999")
        with open("/proc/%d/status" % inspect["State"]["Pid"]) as f:
            uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", f.read(), re.M).groups()
        self.assertEqual(uids, ("999", "999"))

        # Modbus: active power, read once.
        r = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(ports[0]), "-a", "1", "-0", "-1",
                            "-t", "4:float", "-r", "32790", "-c", "1", "127.0.0.1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        power = float(re.search(r"\[32790\]:\s+(-?[\d.]+)", r.stdout).group(1))
        # The API, with the password given.
        r = subprocess.run(["curl", "-sk", "--max-time", "10", "-u", "user:" + PASSWORD,
                            "https://127.0.0.1:%d/api/v1/status" % ports[1]],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(json.loads(r.stdout)["MQTT"]["Site"], "ci", r.stdout)
        # MQTT: power_instant from the container.
        got = sub.until(lambda m: m[0] == "devices/ci/smart-connect/E8DB84000001/data/power_instant")
        self.assertIsInstance(json.loads(got[-1][1])["P"], (int, float))
        self.assertIsInstance(power, float)

        # A clean stop: SIGTERM, exit 0, the totals logged.
        self.podman("stop", "-t", "20", cid, timeout=60)
        state = json.loads(self.podman("inspect", cid))[0]["State"]
        self.assertEqual((state["Status"], state["ExitCode"]), ("exited", 0))
        self.assertIn("stopping on signal 15", self.podman_stderr_logs(cid))

    def podman_stderr_logs(self, cid):
        r = subprocess.run(["podman", *self.store, "logs", cid], env=self.env,
                           capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr


if __name__ == "__main__":
    unittest.main(verbosity=2)
