"""A simulator's safe defaults, run as a user runs sc-sim: a bare sc-sim (no
option at all, in a network namespace of its own so that it may take the
device's ports 502, 80 and 443) listens on 127.0.0.1 only and contacts no
host beyond the machine, though its configuration shows the factory broker
(the vendor's cloud); --mqtt naming a broker dials it (the check that would
see a connection does see one); --listen moves every server, a server's own
address still wins; a saved configuration that overrides a flag at start
is logged, a line per setting.

The namespace has loopback and a default route through it: a connection to
any address beyond the machine leaves a socket in SYN_SENT (seen in
/proc/PID/net/tcp) and a connect() call (seen by strace)."""

import json
import os
import re
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

SC_SIM = simtest.SC_SIM
FACTORY_BROKER = "mqtt://broker.xemex-cloud.eu:8883"
ROOT = os.geteuid() == 0


def proc_sockets(pid):
    """Every IPv4/IPv6 TCP and UDP socket of pid's network namespace:
    (proto, local address, local port, remote address, remote port, state)."""
    out = []
    for proto in ("tcp", "udp", "tcp6", "udp6"):
        with open("/proc/%d/net/%s" % (pid, proto)) as f:
            for line in f.read().splitlines()[1:]:
                parts = line.split()
                (la, lp), (ra, rp) = (p.split(":") for p in parts[1:3])
                out.append((proto, addr(la), int(lp, 16), addr(ra), int(rp, 16), parts[3]))
    return out


def addr(hexaddr):
    """/proc/net's address (host byte order words) as text."""
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0]))
    words = struct.unpack("<4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))


def loopback(a):
    return a.startswith("127.") or a in ("::1", "::ffff:127.0.0.1")


class NetnsSim(simtest.LineLog):
    """sc-sim in a new network namespace (loopback up, default route through
    it), under strace recording its connect() calls. self.proc is strace's
    (our pid); self.pid is sc-sim's, its child."""

    def __init__(self, test, *args):
        self.tmp = tempfile.mkdtemp(prefix="sc-safe-")
        self.trace = os.path.join(self.tmp, "connect.trace")
        self.args = [SC_SIM, *args]
        script = ('ip link set lo up && ip route add default dev lo && '
                  'exec strace -f -qq -e trace=connect -o "$0" "$@"')
        # LeakSanitizer cannot stop the world under ptrace (it aborts at
        # exit): under the sanitizers the leak check is left to the other
        # tests, the rest of ASan and UBSan stays on.
        env = dict(os.environ)
        if env.get("ASAN_OPTIONS"):
            env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
        self.proc = subprocess.Popen(["unshare", "-n", "--", "sh", "-c", script, self.trace,
                                      *self.args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        test.addCleanup(self.close)
        self.start_reader(self.proc.stderr)
        self.ready = self.wait_for(r"ready: ")
        self.pid = simtest.wait_until(self._child)

    def _child(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def http(self, url, *extra):
        """curl inside the namespace: (status, body)."""
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-n", "curl", "-sk", "--max-time", "10",
                            "-w", "\n%{http_code}", *extra, url],
                           capture_output=True, text=True, timeout=30)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body

    def state(self):
        st, body = self.http("http://127.0.0.1:80/sim/v1/state")
        assert st == 200, (st, body)
        return json.loads(body)["Status"]

    def connects(self):
        """The IPv4/IPv6 addresses sc-sim called connect() on."""
        with open(self.trace) as f:
            text = f.read()
        return (re.findall(r'inet_addr\("([\d.]+)"\)', text)
                + re.findall(r'inet_pton\(AF_INET6, "([0-9a-f:.]+)"', text))

    def stop(self):
        """SIGTERM to sc-sim (our child's child); its exit status is strace's."""
        if self.pid and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        return self.proc.wait(15)

    def close(self):
        if self.proc.poll() is None:
            if self.pid:
                os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(15)
        self.reader.join(5)
        self.proc.stderr.close()
        subprocess.run(["rm", "-rf", self.tmp])


@unittest.skipUnless(ROOT, "needs root: a network namespace of its own, ports 502, 80 and 443")
class BareSim(unittest.TestCase):
    def test_listens_on_loopback_and_contacts_no_host_beyond_it(self):
        s = NetnsSim(self)
        self.assertIn("modbus tcp 127.0.0.1:502", s.ready)
        self.assertIn("https 127.0.0.1:443", s.ready)
        self.assertIn("http 127.0.0.1:80", s.ready)
        self.assertIn("mqtt the factory broker is not dialled", s.ready)
        s.wait_for(r"mqtt: mqtt://broker\.xemex-cloud\.eu:8883 is the factory broker .* does not "
                   r"dial it unless --mqtt names it")
        # The device runs: telegrams come and are served.
        st = simtest.wait_until(lambda: (lambda x: x if x["Counters"]["telegrams_pass"] >= 3
                                         else None)(s.state()), timeout=20)
        self.assertEqual(st["MQTT"]["State"], "off")
        self.assertIn("factory broker is not dialled", st["MQTT"]["LastError"])
        self.assertEqual(st["Counters"]["mqtt_event_errors"], 0)
        # The configuration shows the factory broker, as the device's does.
        pw = re.search(r"http: login: user / (\S+)", "\n".join(s.lines)).group(1)
        code, body = s.http("https://127.0.0.1:443/api/v1/config", "-u", "user:" + pw)
        self.assertEqual(code, 200, body)
        self.assertEqual(json.loads(body)["MQTT"]["Broker"], FACTORY_BROKER)
        socks = proc_sockets(s.pid)
        listening = sorted((p, a, port) for p, a, port, _, _, state in socks if state == "0A")
        self.assertEqual(listening, [("tcp", "127.0.0.1", 80), ("tcp", "127.0.0.1", 443),
                                     ("tcp", "127.0.0.1", 502)])
        for proto, la, lp, ra, rp, state in socks:
            self.assertTrue(loopback(la), (proto, la, lp, ra, rp, state))
            self.assertTrue(ra in ("0.0.0.0", "::") or loopback(ra), (proto, la, lp, ra, rp, state))
        self.assertEqual(s.stop(), 0)
        self.assertEqual([a for a in s.connects() if not loopback(a)], [], s.connects())

    def test_a_broker_named_by_mqtt_is_dialled(self):
        # The same observation sees a connection when there is one.
        s = NetnsSim(self, "--mqtt", "mqtt://203.0.113.5:1883")
        simtest.wait_until(lambda: any(ra == "203.0.113.5" and rp == 1883
                                       for _, _, _, ra, rp, _ in proc_sockets(s.pid)), timeout=15)
        self.assertEqual(s.stop(), 0)
        self.assertIn("203.0.113.5", s.connects())

    def test_the_factory_broker_named_by_mqtt_is_dialled(self):
        s = NetnsSim(self, "--mqtt", FACTORY_BROKER)
        self.assertNotIn("not dialled", s.ready)
        self.assertIn("mqtt mqtts://broker.xemex-cloud.eu:8883 (TLS) as E8DB84000001", s.ready)
        st = s.state()
        self.assertNotEqual(st["MQTT"]["State"], "off", st["MQTT"])
        self.assertNotIn("not dialled", st["MQTT"].get("LastError") or "")
        self.assertEqual(s.stop(), 0)

    def test_listen_moves_every_server_and_their_own_addresses_win(self):
        s = NetnsSim(self, "--listen", "0.0.0.0")
        for want in ("modbus tcp 0.0.0.0:502", "https 0.0.0.0:443", "http 0.0.0.0:80"):
            self.assertIn(want, s.ready)
        self.assertEqual(s.stop(), 0)
        s = NetnsSim(self, "--listen", "0.0.0.0", "--modbus", "127.0.0.1:1502", "--http", "off")
        self.assertIn("modbus tcp 127.0.0.1:1502", s.ready)
        self.assertIn("https 0.0.0.0:443", s.ready)
        listening = sorted((a, port) for _, a, port, _, _, st in proc_sockets(s.pid) if st == "0A")
        self.assertEqual(listening, [("0.0.0.0", 443), ("127.0.0.1", 1502)])
        self.assertEqual(s.stop(), 0)


class ListenOption(unittest.TestCase):
    def test_not_an_address_is_a_usage_error(self):
        for bad in ("localhost", "0.0.0.0:80", "::1", "300.1.1.1", ""):
            with self.subTest(bad):
                r = subprocess.run([SC_SIM, "--listen", bad], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("sc-sim: --listen: '%s' is not an IPv4 address" % bad, r.stderr)

    def test_a_port_alone_must_be_a_port(self):
        for opt, bad in (("--modbus", ":x"), ("--http", ":70000"), ("--https", ":")):
            with self.subTest(opt + " " + bad):
                r = subprocess.run([SC_SIM, opt, bad], capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("sc-sim: %s: '%s' is not ADDR:PORT" % (opt, bad), r.stderr)

    def test_the_servers_listen_there_on_free_ports(self):
        # Without root: free ports, the address from --listen (Modbus's
        # port alone given), HTTP's own address winning.
        args = [SC_SIM, "--listen", "127.0.0.2", "--modbus-base-port", "0", "--mqtt", "off",
                "--http", "127.0.0.1:0", "--https", ":0"]
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        log = simtest.LineLog()
        log.proc, log.args = p, args
        log.start_reader(p.stderr)
        try:
            line = log.wait_for(r"ready: ")
            self.assertRegex(line, r"modbus tcp 127\.0\.0\.2:\d+")
            self.assertRegex(line, r"http 127\.0\.0\.1:\d+")
            # ":PORT": the port on the --listen address.
            self.assertRegex(line, r"https 127\.0\.0\.2:\d+")
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(10), 0)
            log.reader.join(5)
            p.stderr.close()


class SavedOverrides(unittest.TestCase):
    """A configuration saved through the API wins over the flags at the next
    start, and says so: a warning per setting, naming the flag, the saved
    value and its file."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sc-override-")
        self.state = os.path.join(self.tmp.name, "state")
        self.closed = socket.socket()
        self.closed.bind(("127.0.0.1", 0))  # bound, not listening: a broker that refuses
        self.broker = "mqtt://127.0.0.1:%d" % self.closed.getsockname()[1]

    def tearDown(self):
        self.closed.close()
        self.tmp.cleanup()

    def sim(self, *extra):
        return simtest.Sim("--state-dir", self.state, "--password", "secret12",
                           "--mqtt", self.broker, "--site", "demo", *extra)

    def patch(self, s, body):
        r = subprocess.run(["curl", "-sk", "-u", "user:secret12", "-X", "PATCH", "-o", "/dev/null",
                            "-w", "%{http_code}", "-H", "Content-Type: application/json",
                            "--data-binary", body,
                            "https://127.0.0.1:%d/api/v1/config" % s.https_port],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "200", r.stderr)

    def test_each_overridden_flag_is_logged_once(self):
        with self.sim() as s:
            self.assertFalse([ln for ln in s.lines if "overridden" in ln], s.lines)
            self.patch(s, '{"MQTT":{"Site":"attic","Broker":"mqtt://127.0.0.1:9"}}')
            self.assertEqual(s.stop(), 0)
        with open(os.path.join(self.state, "firmware"), "w") as f:
            f.write("5.2.1\n")  # as a simulated update saves it
        with self.sim("--firmware", "5.0.3") as s:
            config = os.path.join(self.state, "config.json")
            site = s.wait_for(r"overridden.*MQTT\.Site")
            self.assertEqual(site, "sc-sim: warn: config: --site 'demo' is overridden by the saved "
                             "configuration: MQTT.Site is 'attic' in %s (a factory reset, or a "
                             "start without the file, returns to the command line's)" % config)
            broker = s.wait_for(r"overridden.*MQTT\.Broker")
            self.assertIn("config: --mqtt %s is overridden by the saved configuration: "
                          "MQTT.Broker is mqtt://127.0.0.1:9 in %s" % (self.broker, config), broker)
            fw = s.wait_for(r"firmware: --firmware")
            self.assertIn("firmware: --firmware 5.0.3 is overridden by the version saved by a "
                          "simulated update: 5.2.1 in %s" % os.path.join(self.state, "firmware"), fw)
            over = [ln for ln in s.lines if "overridden" in ln]
            self.assertEqual(len(over), 3, over)
            # And the saved values are the ones in force.
            self.assertIn("mqtt://127.0.0.1:9", s.wait_for(r"ready: "))
            self.assertEqual(s.stop(), 0)

    def test_flags_the_saved_configuration_agrees_with_are_not_logged(self):
        with self.sim() as s:
            self.patch(s, '{"MQTT":{"Site":"attic"}}')
            self.assertEqual(s.stop(), 0)
        with simtest.Sim("--state-dir", self.state, "--password", "secret12",
                         "--mqtt", self.broker, "--site", "attic") as s:
            self.assertFalse([ln for ln in s.lines if "overridden" in ln], s.lines)
            self.assertEqual(s.stop(), 0)
        # Without the flags nothing is overridden either.
        with simtest.Sim("--state-dir", self.state, "--password", "secret12") as s:
            self.assertFalse([ln for ln in s.lines if "overridden" in ln], s.lines)
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
