"""sc-sim --mdns: the device advertised over mDNS through avahi-daemon, and
found by other machines of the LAN.

Each test builds a small LAN of its own (root only; skipped otherwise): two
network namespaces joined by a veth pair. The device's namespace ("dev",
10.77.0.2 on sca, with a tmpfs over /run) runs a private system D-Bus, an
avahi-daemon that uses sca only and publishes nothing of this machine, and
sc-sim --mdns. The other namespace ("peer", 10.77.0.3 on scb) is another
machine of the LAN: python3-zeroconf there browses and resolves with real
multicast queries over the veth wire (not through avahi), and fetches the
page at the address and port it resolved. avahi-resolve and avahi-browse ask
the device's avahi-daemon. Everything started is stopped by pid; waits poll
with deadlines.

Also: names already taken on the LAN (a peer answering for them while the
daemon probes) and on the host (another avahi client) get Avahi's
alternatives; a fleet advertises each device; without avahi-daemon, or
without a system bus at all, sc-sim logs the error, keeps serving, and
advertises the device once the daemon is there (also after a restart of the
daemon).
"""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simtest  # noqa: E402
from simtest import Sim, wait_until  # noqa: E402

PYTHON = "/usr/bin/python3"
DEV_IP, PEER_IP = "10.77.0.2", "10.77.0.3"
SERIAL = "E8DB84000001"
HOST = "smart-connect-%s" % SERIAL
PUBLISHED = r"mdns: published "
UNREACHABLE = r"mdns: avahi-daemon is not reachable \(Daemon not running\): smart-connect\.local is " \
              r"not advertised; sc-sim goes on without mDNS"

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""

# Only the test's interface, IPv4 as the device; none of this machine's own
# records (addresses, workstation, static services).
AVAHI_CONF = """[server]
host-name=sc-mdns-test
use-ipv4=yes
use-ipv6=no
allow-interfaces=sca
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=no
publish-hinfo=no
publish-workstation=no
publish-domain=no
publish-aaaa-on-ipv4=no
publish-a-on-ipv6=no
[reflector]
enable-reflector=no
"""

# The device's namespace: a tmpfs over /run (the system bus socket and
# avahi-daemon's pid file and socket), no static services or hosts, and
# one end of the veth pair; the other end goes to the peer ($1).
DEV_SETUP = """set -e
mount -t tmpfs -o size=4m,mode=0755 sc-mdns-run /run
mkdir -p /run/dbus /run/avahi-daemon
if [ -d /etc/avahi/services ]; then mount -t tmpfs -o size=64k,mode=0755 sc-mdns /etc/avahi/services; fi
if [ -f /etc/avahi/hosts ]; then mount --bind /dev/null /etc/avahi/hosts; fi
ip link set lo up
ip link add sca type veth peer name scb
ip link set scb netns "$1"
ip addr add %s/24 dev sca
ip link set sca multicast on up
""" % DEV_IP

PEER_SETUP = "set -e\nip link set lo up\n"

# Run by the peer's python3: browse, resolve services and host names with
# python3-zeroconf (multicast on scb), then fetch each _http._tcp service's
# page at the address, port and path it resolved to. JSON in, JSON out.
ZEROCONF = r'''
import json, socket, sys, time, urllib.error, urllib.request
from zeroconf import DNSOutgoing, DNSQuestion, IPVersion, ServiceBrowser, Zeroconf, const

req = json.loads(sys.argv[1])
deadline = time.monotonic() + req["timeout"]
zc = Zeroconf(interfaces=[req["ip"]], ip_version=IPVersion.V4Only)
out = {"browse": {}, "services": {}, "hosts": {}, "fetch": {}}


class Listener:
    def __init__(self, type_):
        self.type_ = type_

    def add_service(self, zc, type_, name):
        out["browse"].setdefault(self.type_, []).append(name)

    def update_service(self, zc, type_, name):
        pass

    def remove_service(self, zc, type_, name):
        pass


browsers = [ServiceBrowser(zc, t, Listener(t)) for t in req["types"]]
for type_, name in req["services"]:
    while name not in out["browse"].get(type_, []) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = max(0.0, deadline - time.monotonic())
    info = zc.get_service_info(type_, name, timeout=int(left * 1000))
    if info is None:
        continue
    s = {"port": info.port, "server": info.server, "addresses": info.parsed_addresses(),
         "txt": {k.decode(): (v or b"").decode() for k, v in info.properties.items()}}
    out["services"][name] = s
    if type_ == "_http._tcp.local." and s["addresses"]:
        url = "http://%s:%d%s" % (s["addresses"][0], s["port"], s["txt"].get("path", "/"))
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                out["fetch"][name] = [url, r.status, r.read(4096).decode(errors="replace")]
        except urllib.error.HTTPError as e:
            out["fetch"][name] = [url, e.code, e.read(4096).decode(errors="replace")]
for host in req["hosts"]:
    q = DNSOutgoing(const._FLAGS_QR_QUERY)
    q.add_question(DNSQuestion(host, const._TYPE_A, const._CLASS_IN))
    got, next_send = [], 0.0
    while not got and time.monotonic() < deadline:
        if time.monotonic() >= next_send:
            zc.send(q)
            next_send = time.monotonic() + 1.0
        time.sleep(0.05)
        got = sorted({socket.inet_ntoa(r.address)
                      for r in zc.cache.get_all_by_details(host, const._TYPE_A, const._CLASS_IN)})
    out["hosts"][host] = got
for b in browsers:
    b.cancel()
zc.close()
print(json.dumps(out))
'''

# A peer that already uses names of the device: services (type, name, host)
# of its own, which also publish their hosts' A records.
SQUATTER = r'''
import json, socket, sys
from zeroconf import IPVersion, ServiceInfo, Zeroconf

ip = sys.argv[1]
zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
for type_, name, server in json.loads(sys.argv[2]):
    zc.register_service(ServiceInfo(type_, name + "." + type_, addresses=[socket.inet_aton(ip)],
                                    port=80, server=server, properties={"model": "squatter"}))
print("registered", flush=True)
sys.stdin.read()
zc.close()
'''


def missing_tool():
    """A program or module the tests need that is not installed, or None:
    then they fail (scripts/setup.sh installs every one)."""
    for tool in ("unshare", "nsenter", "ip", "dbus-daemon", "avahi-daemon", "avahi-resolve",
                 "avahi-browse", "avahi-publish"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            return "needs %s (scripts/setup.sh installs it)" % tool
    if subprocess.run([PYTHON, "-c", "import zeroconf"], capture_output=True).returncode != 0:
        return "needs python3-zeroconf (scripts/setup.sh installs it)"
    return None


def cannot_run():
    """Why this machine cannot run the tests at all (no root, no network
    namespaces), or None: then they are skipped, saying so."""
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces)"
    if missing_tool():
        return None
    r = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "/bin/sh", "-c",
                        "ip link add sca type veth peer name scb"], capture_output=True)
    if r.returncode != 0:
        return "cannot make a network namespace with a veth pair: %s" % r.stderr.decode().strip()
    return None


SKIP = cannot_run()


def unescape(name):
    """A name as avahi-browse -p prints it: \\DDD escapes."""
    return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), name)


class Proc(simtest.LineLog):
    """A process of the test (a daemon, a helper), its output collected in
    lines; stopped by its own pid."""

    def __init__(self, args, stdin=False, env=None):
        self.args = args
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.start_reader(self.proc.stdout)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        for f in (self.proc.stdin, self.proc.stdout):
            if f and not f.closed:
                f.close()
        return self.proc.returncode


class Netns:
    """A network (and mount) namespace held by a 'cat' of ours: setup runs
    in it first; closing cat's stdin ends it."""

    def __init__(self, setup, *args):
        script = setup + "\necho ready\nexec cat\n"
        self.proc = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private",
                                      "/bin/sh", "-c", script, "sh", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        got = b""
        while b"ready\n" not in got:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                err = self.proc.stderr.read1(4096) if self.proc.poll() is not None else b""
                self.close()
                raise AssertionError("namespace setup failed: %s %s" % (got, err))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                got += os.read(self.proc.stdout.fileno(), 4096)
        self.pid = self.proc.pid

    def enter(self, mount=True):
        """A command prefix that runs a program inside (nsenter execs it:
        the pid is the program's)."""
        ns = ["--net=/proc/%d/ns/net" % self.pid]
        if mount:
            ns.append("--mount=/proc/%d/ns/mnt" % self.pid)
        return ["nsenter", *ns, "--"]

    def run(self, *args, timeout=30, check=True):
        r = subprocess.run(self.enter() + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                        r.stderr))
        return r

    def exists(self, path):
        return os.path.exists("/proc/%d/root%s" % (self.pid, path))

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                f.close()


@unittest.skipIf(SKIP, SKIP or "")
class Lan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = missing_tool()
        if missing:
            raise AssertionError(missing)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sc-mdns-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.bus_conf = os.path.join(self.dir, "bus.conf")
        self.avahi_conf = os.path.join(self.dir, "avahi-daemon.conf")
        with open(self.bus_conf, "w") as f:
            f.write(BUS_CONF)
        with open(self.avahi_conf, "w") as f:
            f.write(AVAHI_CONF)
        self.peer = Netns(PEER_SETUP)
        self.addCleanup(self.peer.close)
        self.dev = Netns(DEV_SETUP, str(self.peer.pid))
        self.addCleanup(self.dev.close)
        self.peer.run("sh", "-c", "ip addr add %s/24 dev scb && ip link set scb multicast on up"
                      % PEER_IP)
        self.bus = self.avahi = None

    # ---- the device's daemons ----

    def start_bus(self):
        self.bus = Proc(self.dev.enter() + ["dbus-daemon", "--config-file=" + self.bus_conf,
                                            "--nofork", "--nopidfile"])
        self.addCleanup(self.bus.stop)
        wait_until(lambda: self.dev.exists("/run/dbus/system_bus_socket"), 10)

    def start_avahi(self):
        self.avahi = Proc(self.dev.enter() + ["avahi-daemon", "-f", self.avahi_conf, "--no-drop-root",
                                              "--no-chroot", "--no-rlimits", "--no-proc-title"])
        self.addCleanup(self.avahi.stop)
        self.avahi.wait_for(r"Server startup complete", 15)

    def start_daemons(self):
        self.start_bus()
        self.start_avahi()

    def sim(self, *args):
        # Sim adds --modbus, --mqtt off and loopback HTTP ports unless given.
        sim = Sim("--mdns", *args, wrap=self.dev.enter())
        self.addCleanup(sim.__exit__)
        return sim

    # ---- the LAN's view ----

    def zeroconf(self, services=(), hosts=(), types=("_http._tcp.local.",), timeout=20):
        req = {"ip": PEER_IP, "timeout": timeout, "types": list(types),
               "services": [list(s) for s in services], "hosts": list(hosts)}
        r = subprocess.run(self.peer.enter(mount=False) + [PYTHON, "-c", ZEROCONF, json.dumps(req)],
                           capture_output=True, text=True, timeout=timeout + 30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def avahi_resolve(self, name):
        r = self.dev.run("avahi-resolve", "-4", "-n", name)
        fields = r.stdout.split()
        self.assertEqual(len(fields), 2, r.stdout + r.stderr)
        self.assertEqual(fields[0].lower(), name.lower())
        return fields[1]

    def avahi_browse(self, type_):
        """Resolved services of a type: name -> (host, address, port, txt)."""
        r = self.dev.run("avahi-browse", "-rtpk", type_)
        out = {}
        for line in r.stdout.splitlines():
            f = line.split(";")
            if f[0] == "=" and len(f) >= 10:
                txt = dict(re.findall(r'"([^"=]*)=([^"]*)"', f[9]))
                out[unescape(f[3])] = (f[6], f[7], int(f[8]), txt)
        return out

    def browsed_names(self, type_):
        """Services of a type, resolved or not."""
        r = self.dev.run("avahi-browse", "-tpk", type_)
        return sorted(unescape(f.split(";")[3]) for f in r.stdout.splitlines() if f.startswith("+;"))

    def count(self, sim, pattern):
        rx = re.compile(pattern)
        with sim.cond:
            return sum(1 for line in sim.lines if rx.search(line))

    # ---- the tests ----

    def test_published_found_by_a_peer_and_by_avahi(self):
        self.start_daemons()
        sim = self.sim("--http", DEV_IP + ":0", "--https", DEV_IP + ":0")
        line = sim.wait_for(PUBLISHED, 20)
        self.assertIn("mdns: published smart-connect.local and %s.local at %s (sca), service '%s' "
                      "on _http._tcp port %d and _https._tcp port %d"
                      % (HOST, DEV_IP, HOST, sim.http_port, sim.https_port), line)

        http_name, https_name = HOST + "._http._tcp.local.", HOST + "._https._tcp.local."
        got = self.zeroconf(services=[("_http._tcp.local.", http_name),
                                      ("_https._tcp.local.", https_name)],
                            hosts=["smart-connect.local.", HOST + ".local."],
                            types=("_http._tcp.local.", "_https._tcp.local."))
        self.assertIn(http_name, got["browse"].get("_http._tcp.local.", []), got)
        self.assertIn(https_name, got["browse"].get("_https._tcp.local.", []), got)
        txt = {"serial": SERIAL, "model": "Smart Connect P1", "fw": "5.2.0", "path": "/"}
        for name, port in ((http_name, sim.http_port), (https_name, sim.https_port)):
            s = got["services"].get(name)
            self.assertIsNotNone(s, got)
            self.assertEqual(s["port"], port)
            self.assertEqual(s["server"].lower(), (HOST + ".local.").lower())
            self.assertEqual(s["addresses"], [DEV_IP])
            self.assertEqual(s["txt"], txt)
        self.assertEqual(got["hosts"], {"smart-connect.local.": [DEV_IP], HOST + ".local.": [DEV_IP]})
        # The page, at the address and port the peer resolved: sc-sim's.
        url, status, body = got["fetch"][http_name]
        self.assertEqual(url, "http://%s:%d/" % (DEV_IP, sim.http_port))
        self.assertIn(status, (200, 401))
        self.assertIn("Smart", body)

        # avahi's own resolvers agree.
        self.assertEqual(self.avahi_resolve("smart-connect.local"), DEV_IP)
        self.assertEqual(self.avahi_resolve(HOST + ".local"), DEV_IP)
        host, addr, port, browsed_txt = self.avahi_browse("_http._tcp")[HOST]
        self.assertEqual((host.lower(), addr, port), ((HOST + ".local").lower(), DEV_IP, sim.http_port))
        self.assertEqual(browsed_txt, txt)
        self.assertEqual(self.avahi_browse("_https._tcp")[HOST][2], sim.https_port)

        # Stopped: withdrawn.
        self.assertEqual(sim.stop(), 0)
        wait_until(lambda: HOST not in self.browsed_names("_http._tcp"), 10, 0.2)

    def test_the_address_advertised(self):
        self.start_daemons()
        # Every address: the interface's (getifaddrs: the only one besides lo).
        sim = self.sim("--http", "0.0.0.0:0", "--https", "off")
        self.assertIn(" at %s (sca), service '%s' on _http._tcp port %d" % (DEV_IP, HOST, sim.http_port),
                      sim.wait_for(PUBLISHED, 20))
        self.assertEqual(self.avahi_resolve("smart-connect.local"), DEV_IP)
        got = self.zeroconf(services=[("_http._tcp.local.", HOST + "._http._tcp.local.")])
        self.assertEqual(got["fetch"][HOST + "._http._tcp.local."][1], 200)
        self.assertEqual(sim.stop(), 0)
        # --mdns-address: that one, on every interface (not one of this host's).
        sim = self.sim("--http", "0.0.0.0:0", "--https", "off", "--mdns-address", "10.77.0.9")
        self.assertIn(" at 10.77.0.9 (every interface)", sim.wait_for(PUBLISHED, 20))
        self.assertEqual(self.avahi_resolve(HOST + ".local"), "10.77.0.9")
        self.assertEqual(sim.stop(), 0)
        # HTTP on loopback only: advertised, with a warning that it does not reach.
        sim = self.sim("--http", "127.0.0.1:0", "--https", "off")
        sim.wait_for(r"warn: mdns: %s is advertised but HTTP listens on 127\.0\.0\.1 only"
                     % re.escape(DEV_IP))
        sim.wait_for(PUBLISHED, 20)
        self.assertEqual(sim.stop(), 0)

    def test_names_taken_on_the_lan_and_on_the_host(self):
        self.start_daemons()
        # A peer with the device's service name on both types, its hosts
        # named smart-connect.local and smart-connect-SERIAL.local: its
        # answers to the device's probes (with those hosts' A records) show
        # all three names taken...
        taken = [("_http._tcp.local.", HOST, "smart-connect.local."),
                 ("_https._tcp.local.", HOST, HOST + ".local.")]
        squatter = Proc(self.peer.enter(mount=False) + [PYTHON, "-c", SQUATTER, PEER_IP,
                                                       json.dumps(taken)], stdin=True)
        self.addCleanup(squatter.stop)
        squatter.wait_for("registered", 20)
        # ... and another program of the device's host that has Avahi's first
        # alternative of the service name (refused at once, locally).
        other = Proc(self.dev.enter() + ["avahi-publish", "-s", HOST + " #2", "_http._tcp", "1234"])
        self.addCleanup(other.stop)
        other.wait_for("Established under name", 15)

        sim = self.sim("--http", DEV_IP + ":0", "--https", DEV_IP + ":0")
        for old, new in (("smart-connect.local", "smart-connect-2.local"),
                         (HOST + ".local", HOST + "-2.local")):
            sim.wait_for(r"warn: mdns: the host name %s is taken; now %s" % (re.escape(old), re.escape(new)), 20)
        for old, new in ((HOST, HOST + " #2"), (HOST + " #2", HOST + " #3")):
            sim.wait_for(r"warn: mdns: the service name '%s' is taken; now '%s'" % (old, new), 20)
        sim.wait_for(r"mdns: published smart-connect-2\.local and %s-2\.local at %s \(sca\), service "
                     r"'%s #3' on _http\._tcp" % (HOST, re.escape(DEV_IP), HOST), 20)
        self.assertEqual(self.avahi_resolve("smart-connect-2.local"), DEV_IP)
        self.assertEqual(self.avahi_resolve(HOST + "-2.local"), DEV_IP)
        self.assertEqual(self.browsed_names("_http._tcp"), [HOST, HOST + " #2", HOST + " #3"])
        browsed = self.avahi_browse("_http._tcp")
        host, addr, port, txt = browsed[HOST + " #3"]
        self.assertEqual((host.lower(), addr, port), ((HOST + "-2.local").lower(), DEV_IP, sim.http_port))
        self.assertEqual(txt["serial"], SERIAL)
        self.assertEqual(self.avahi_browse("_https._tcp")[HOST + " #3"][:3],
                         (HOST + "-2.local", DEV_IP, sim.https_port))
        # The peer keeps its own.
        self.assertEqual(browsed[HOST][:2], ("smart-connect.local", PEER_IP))
        self.assertEqual(sim.stop(), 0)

    def test_a_fleet_advertises_each_device(self):
        self.start_daemons()
        sim = Sim("--mdns", "--devices", "3", "--password", "pw", "--http", DEV_IP + ":0",
                  "--https", "off", ready=False, wrap=self.dev.enter())
        self.addCleanup(sim.__exit__)
        port = int(re.search(r"\bhttp [\d.]+:(\d+)", sim.wait_for(r"ready: fleet of", 30)).group(1))
        serials = ["E8DB8400000%d" % i for i in (1, 2, 3)]
        self.assertIn("published smart-connect.local and 3 devices at %s (sca): smart-connect-%s.local "
                      "to smart-connect-%s.local, services 'smart-connect-%s' to 'smart-connect-%s' on "
                      "_http._tcp port %d" % (DEV_IP, serials[0], serials[2], serials[0], serials[2], port),
                      sim.wait_for(PUBLISHED, 30))
        browsed = self.avahi_browse("_http._tcp")
        names = ["smart-connect-" + s for s in serials]
        got = self.zeroconf(services=[("_http._tcp.local.", n + "._http._tcp.local.") for n in names],
                            hosts=[n + ".local." for n in names])
        for s, n in zip(serials, names):
            self.assertEqual(browsed[n][1:3], (DEV_IP, port))
            self.assertEqual(browsed[n][3]["path"], "/devices/%s/" % s)
            self.assertEqual(browsed[n][3]["serial"], s)
            self.assertEqual(got["hosts"][n + ".local."], [DEV_IP])
            url, status, _ = got["fetch"][n + "._http._tcp.local."]
            self.assertEqual(url, "http://%s:%d/devices/%s/" % (DEV_IP, port, s))
            self.assertIn(status, (200, 401))
        self.assertEqual(sim.stop(), 0)

    def test_without_avahi_daemon_it_goes_on_and_advertises_once_the_daemon_runs(self):
        self.start_bus()
        sim = self.sim("--http", DEV_IP + ":0", "--https", "off")
        sim.wait_for("error: " + UNREACHABLE, 15)
        got = self.zeroconf(hosts=["smart-connect.local."], timeout=3)
        self.assertEqual(got["hosts"]["smart-connect.local."], [])
        # Serving all the same: the page from the peer.
        r = subprocess.run(self.peer.enter(mount=False) + [
            PYTHON, "-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1], "
            "timeout=10).status)", "http://%s:%d/" % (DEV_IP, sim.http_port)],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), "200", r.stderr)
        # The daemon starts: advertised.
        self.start_avahi()
        sim.wait_for(r"info: mdns: avahi-daemon is running now", 15)
        sim.wait_for(PUBLISHED, 20)
        self.assertEqual(self.avahi_resolve(HOST + ".local"), DEV_IP)
        # The daemon restarts: advertised again.
        self.assertEqual(self.avahi.stop(), 0)
        sim.wait_for(r"error: mdns: lost avahi-daemon", 15)
        self.start_avahi()
        wait_until(lambda: self.count(sim, PUBLISHED) >= 2, 20, 0.1)
        self.assertEqual(self.avahi_resolve("smart-connect.local"), DEV_IP)
        self.assertEqual(sim.stop(), 0)

    def test_without_a_system_bus_it_goes_on_and_retries(self):
        sim = self.sim("--http", DEV_IP + ":0", "--https", "off")
        sim.wait_for("error: " + UNREACHABLE, 15)
        ready = sim.wait_for(r"ready: ")
        self.assertIn("http %s:%d" % (DEV_IP, sim.http_port), ready)
        # The bus and the daemon come: advertised at the next attempt (5 s).
        self.start_daemons()
        sim.wait_for(PUBLISHED, 20)
        self.assertEqual(self.avahi_resolve(HOST + ".local"), DEV_IP)
        self.assertEqual(sim.stop(), 0)


class Usage(unittest.TestCase):
    """What needs no daemon: refusals on the command line."""

    def refused(self, *args, message):
        from simtest import sim_cmd
        r = subprocess.run(sim_cmd(*args), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(message, r.stderr)

    def test_usage_errors(self):
        self.refused("--mdns-address", "127.0.0.1", message="--mdns-address: '127.0.0.1' is not an IPv4 "
                     "unicast address")
        self.refused("--mdns-address", "smart-connect", message="--mdns-address: 'smart-connect' is not")
        self.refused("--mdns", "--devices", "101", message="--mdns advertises a fleet of at most 100 devices")
        self.refused("--mdns", "--scenario", "x.json", message="--mdns advertises a running device")

    def test_help_names_the_options(self):
        from simtest import SC_SIM
        out = subprocess.run([SC_SIM, "--help"], capture_output=True, text=True, timeout=30).stdout
        self.assertIn("--mdns ", out)
        self.assertIn("--mdns-address A.B.C.D", out)


if __name__ == "__main__":
    unittest.main()
