#!/usr/bin/python3
"""Fleet benchmark: the largest sc-sim --devices fleet that holds every
device's 1 s cadence on this machine, each device with its Modbus listener
and its MQTT client publishing to a local mosquitto.

For each fleet size N (a ramp, --sizes): a private mosquitto on a free
loopback port; the fleet in shards of at most --shard devices (one process
each, numbered apart by --device-offset, as docs/user/fleet.md shows),
because one process may open only so many descriptors; every device
connected; then a measurement window (POST /fleet/v1/window on every shard,
--window seconds, GET /fleet/v1/status). N holds when, over the window:
  - telegrams >= 99.9 % of N x seconds (every device kept its cadence),
  - no MQTT publish failed in the window, and the broker received every
    publish the fleet sent (mosquitto's $SYS counter against the shards'
    own totals after they stopped; a device drops what comes before it is
    connected, as the device does: counted apart),
  - timers were late by less than 100 ms at p99 and 1000 ms at most.
Reported per N: start-up, CPU per device-second (fleet and broker), RSS
per device. Only the processes this script started are stopped, by pid.
--tls: the devices connect to a TLS listener of the broker (a CA and a
certificate for localhost made with openssl(1) for the run) and verify it.
--brokers 2: two mosquittos, each serving half of the fleet (its own shards,
as a larger fleet splits over brokers): tells whether the broker or the
twin is the ceiling. One mosquitto holds a descriptor per device, so one
broker cannot go past this machine's descriptor limit (ulimit -Hn); with
more brokers each needs only its part. --listeners 2: each broker listens
on two ports and its shards go to them in turn (one broker process, two
destinations for the devices' connections: tells the broker process from
the local ports connect() has to find for each address and port).
SC_SIM names another sc-sim (an older build measured beside this one).

  bench/bench_fleet.py [--sizes 1000,5000,10000] [--window 20] [--shard N]
                       [--brokers N] [--listeners N] [--modbus-port P] [--tls]
                       [--json FILE]
                       [--logs DIR]
"""

import argparse
import base64
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SC_SIM = os.environ.get("SC_SIM", os.path.join(HERE, "..", "build-release", "sim", "sc-sim"))
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
PASSWORD = "bench"
AUTH = "Basic " + base64.b64encode(("user:" + PASSWORD).encode()).decode()
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def all_descriptors():
    """In the child: as many descriptors as the hard limit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_until(what, predicate, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def make_pki(directory):
    """A CA and a broker certificate for localhost, with openssl(1)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    for cmd in (["req", "-x509"] + ec + ["-days", "2", "-subj", "/CN=bench-ca",
                                         "-keyout", "ca.key", "-out", "ca.crt"],
                ["req"] + ec + ["-subj", "/CN=localhost", "-keyout", "broker.key",
                                "-out", "broker.csr"],
                ["x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "broker.crt"]):
        subprocess.run(["openssl"] + cmd, cwd=directory, check=True, capture_output=True)
    os.chmod(os.path.join(directory, "broker.key"), 0o644)
    os.chmod(directory, 0o755)


class Broker:
    def __init__(self, directory, tls=False, pki=True, listeners=1):
        self.port = free_port()
        # More plain listeners on ports of their own (--listeners).
        self.ports = [self.port] + [free_port() for _ in range(listeners - 1)]
        self.tls_port = free_port() if tls else None
        conf = os.path.join(directory, "mosquitto-%d.conf" % self.port)
        import pwd
        lines = ["user " + pwd.getpwuid(os.getuid()).pw_name,
                 "listener %d 127.0.0.1" % self.port]
        lines += ["listener %d 127.0.0.1" % p for p in self.ports[1:]]
        if tls:
            if pki:
                make_pki(directory)
            lines += ["listener %d 127.0.0.1" % self.tls_port,
                      "cafile " + os.path.join(directory, "ca.crt"),
                      "certfile " + os.path.join(directory, "broker.crt"),
                      "keyfile " + os.path.join(directory, "broker.key")]
        with open(conf, "w") as f:
            f.write("\n".join(lines + [
                "allow_anonymous true", "persistence false", "max_connections -1",
                "sys_interval 1", "max_queued_messages 100",
                "log_dest stderr", "log_type error", "log_type warning"]) + "\n")
        self.log = open(os.path.join(directory, "mosquitto-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log, stderr=self.log,
                                     preexec_fn=all_descriptors)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited with %s" % self.proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False
        wait_until("mosquitto to listen", up, 10, 0.02)

    def received(self):
        """mosquitto's count of PUBLISH packets received (its $SYS topic is
        retained, so one read gives the latest figure)."""
        out = subprocess.run([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(self.port), "-C", "1",
                              "-W", "5", "-t", "$SYS/broker/publish/messages/received"],
                             capture_output=True, text=True, timeout=10)
        return int(out.stdout.strip() or 0)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


class Shard:
    def __init__(self, devices, offset, modbus_port, broker, log_path, listener=0):
        self.devices, self.offset = devices, offset
        self.log = open(log_path, "w+b")
        if broker.tls_port:
            mqtt = ["--mqtt", "mqtts://localhost:%d" % broker.tls_port,
                    "--cafile", os.path.join(os.path.dirname(log_path), "ca.crt")]
        else:
            mqtt = ["--mqtt", "mqtt://127.0.0.1:%d" % broker.ports[listener]]
        self.proc = subprocess.Popen(
            [SC_SIM, "--devices", str(devices), "--device-offset", str(offset),
             "--modbus", "127.0.0.1:%d" % modbus_port, "--modbus-clients", "1",
             "--http", "127.0.0.1:0", "--https", "off", "--password", PASSWORD]
            + mqtt + ["--log-level", "info"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
            preexec_fn=all_descriptors)
        self.http_port = None

    def text(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("sc-sim shard at %d exited with %s:\n%s"
                               % (self.offset, self.proc.returncode, self.text()[-2000:]))
        m = re.search(r"ready: fleet of .*?\bhttp [\d.]+:(\d+)", self.text())
        if m:
            self.http_port = int(m.group(1))
        return self.http_port is not None

    def call(self, path, method="GET"):
        rq = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path),
                                    method=method, data=b"" if method == "POST" else None)
        rq.add_header("Authorization", AUTH)
        with urllib.request.urlopen(rq, timeout=30) as r:
            return json.loads(r.read().decode() or "null")

    def stop(self):
        """SIGTERM, then the totals of the summary line it prints at exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        m = re.search(r"fleet of \d+ devices: telegrams: (\d+) ok, (\d+) failed; "
                      r"mqtt: (\d+) sent, (\d+) failed", self.text())
        self.log.close()
        return tuple(int(x) for x in m.groups()) if m else None


def listening_ports():
    """The TCP ports something listens on (any address), from /proc/net."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    local, state = line.split()[1], line.split()[3]
                    if state == "0A":
                        ports.add(int(local.rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def modbus_range(n, base):
    """The first port of n free Modbus ports, base .. base + n - 1 (base 0:
    the lowest such range from 1024 on). Each device's port is given
    (--modbus), below the kernel's ephemeral range: with port 0 the
    listeners would take ephemeral ports, which the devices' own MQTT
    connections need too, and past ~14,000 devices the range runs out."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    busy = listening_ports()
    if base == 0:
        base = 1024
        for p in sorted(q for q in busy if q >= 1024):
            if p >= base + n:
                break
            if p >= base:
                base = p + 1
    if base + n > low:
        raise RuntimeError("no %d free ports from %d below the ephemeral range (from %d)"
                           % (n, base, low))
    taken = sorted(p for p in busy if base <= p < base + n)
    if taken:
        raise RuntimeError("ports %s of %d..%d are in use; give another --modbus-port"
                           % (taken[:5], base, base + n - 1))
    return base


def plan_shards(n, brokers, shard, listeners=1):
    """(devices, offset, broker index, listener index) of each shard: as few
    shards of at most shard devices as a multiple of brokers x listeners
    allows, of equal size (within one), numbered on from each other; the
    brokers take equal runs of them, and a broker's shards go to its
    listeners in turn."""
    ways = brokers * listeners
    count = -(-n // shard)
    count = -(-count // ways) * ways
    plan, offset = [], 0
    for i in range(count):
        k = n // count + (1 if i < n % count else 0)
        plan.append((k, offset, i * brokers // count, i % listeners))
        offset += k
    return plan


def run_size(n, args, directory):
    # A broker holds each of its devices' connections: it needs a
    # descriptor each (and a few of its own) under this machine's hard limit.
    if n < args.brokers * args.listeners:
        raise RuntimeError("fewer devices than brokers x listeners")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    per_broker = -(-n // args.brokers)
    if hard != resource.RLIM_INFINITY and per_broker + 32 > hard:
        raise RuntimeError("one mosquitto may open %d descriptors here (ulimit -Hn), fewer than "
                           "%d connections (try --brokers %d)"
                           % (hard, per_broker + 32, -(-n // (hard - 32))))
    modbus = modbus_range(n, args.modbus_port)
    brokers, shards = [], []
    try:
        for b in range(args.brokers):
            brokers.append(Broker(directory, args.tls, pki=(b == 0), listeners=args.listeners))
        t0 = time.monotonic()
        for k, offset, b, li in plan_shards(n, args.brokers, args.shard, args.listeners):
            shards.append(Shard(k, offset, modbus + offset, brokers[b],
                                os.path.join(directory, "shard-%d.log" % offset), li))
        wait_until("the shards' ready lines", lambda: all(s.ready() for s in shards), 120)
        ready_s = time.monotonic() - t0
        start_s = max(s.call("/fleet/v1/status")["StartSeconds"] for s in shards)

        def connected():
            return sum(s.call("/fleet/v1/status")["MQTT"]["Connected"] for s in shards) == n
        wait_until("every device connected to the broker", connected, 120, 0.5)
        connected_s = time.monotonic() - t0
        # A few seconds for the first telegrams' bursts to settle.
        time.sleep(args.settle)
        broker_cpu0 = [proc_cpu_seconds(b.proc.pid) for b in brokers]
        w0 = time.monotonic()
        for s in shards:
            s.call("/fleet/v1/window", "POST")
        time.sleep(args.window)
        status = [s.call("/fleet/v1/status") for s in shards]
        broker_cpus = [proc_cpu_seconds(b.proc.pid) - c0 for b, c0 in zip(brokers, broker_cpu0)]
        broker_cpu = sum(broker_cpus)
        wall = time.monotonic() - w0
        windows = [st["Window"] for st in status]
        seconds = min(w["Seconds"] for w in windows)
        telegrams = sum(w["Telegrams"] for w in windows)
        expected = sum(st["Devices"] * w["Seconds"] for st, w in zip(status, windows))
        rss_kib = sum(st["Process"]["RssKiB"] for st in status)
        fleet_cpu = sum(w["CpuSeconds"] for w in windows)
        late_p99 = max(w["LateP99Ms"] for w in windows)
        late_max = max(w["LateMaxMs"] for w in windows)
        mqtt_failed = sum(w["MqttFailed"] for w in windows)
        # Stopped, the shards' totals against what the broker counted.
        totals = [s.stop() for s in shards]
        sent = sum(t[2] for t in totals if t)
        failed_total = sum(t[3] for t in totals if t)
        received = 0
        try:
            received = wait_until("the brokers' count", lambda: (lambda r: r if r >= sent else 0)(
                sum(b.received() for b in brokers)), 8, 0.5)
        except RuntimeError:
            received = sum(b.received() for b in brokers)
        cadence = telegrams / expected if expected else 0.0
        holds = (cadence >= 0.999 and mqtt_failed == 0 and
                 received >= sent and None not in totals and late_p99 < 100 and late_max < 1000)
        return {
            "subject": "fleet_%d" % n, "figure": "fleet of %d devices" % n, "devices": n,
            "shards": len(shards), "brokers": len(brokers), "listeners": args.listeners,
            "ready_s": round(ready_s, 2), "start_s": round(start_s, 3),
            "connected_s": round(connected_s, 2), "window_s": round(seconds, 2),
            "telegrams": telegrams, "cadence": round(cadence, 5),
            "mqtt_failed": mqtt_failed, "mqtt_sent_total": sent,
            # Publishes a device dropped while not connected (its first
            # telegrams, before the broker's CONNACK), as the device does.
            "mqtt_dropped_total": failed_total,
            "broker_received_total": received,
            "late_p99_ms": late_p99, "late_max_ms": late_max,
            "late_p99_ms_each": [w["LateP99Ms"] for w in windows],
            "fleet_cpu_cores": round(fleet_cpu / wall, 3),
            "fleet_us_per_device_s": round(fleet_cpu / wall / n * 1e6, 2),
            "broker_cpu_cores": round(broker_cpu / wall, 3),
            "broker_cpu_cores_each": [round(c / wall, 3) for c in broker_cpus],
            "rss_kib_per_device": round(rss_kib / n, 1), "holds": holds,
        }
    finally:
        for s in shards:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(10)
        for b in brokers:
            b.stop()


def keep_logs(logs, n, directory):
    """The run's logs (shards' and brokers') into logs/N/, when asked."""
    if not logs:
        return
    dest = os.path.join(logs, str(n))
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".log"):
            shutil.copy(os.path.join(directory, name), dest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,5000,10000,15000,19000",
                    help="fleet sizes to try, in order (default %(default)s)")
    ap.add_argument("--window", type=float, default=20, help="seconds measured (default 20)")
    ap.add_argument("--settle", type=float, default=3, help="seconds before (default 3)")
    ap.add_argument("--shard", type=int, default=8000, help="devices per process (default 8000)")
    ap.add_argument("--brokers", type=int, default=1,
                    help="mosquittos, each serving an equal part of the fleet (default 1)")
    ap.add_argument("--modbus-port", type=int, default=0,
                    help="the first device's Modbus port, the others after it "
                    "(default: the lowest free range from 1024)")
    ap.add_argument("--tls", action="store_true",
                    help="the devices connect over TLS, verifying the broker")
    ap.add_argument("--listeners", type=int, default=1,
                    help="plain listeners (ports) of each broker, its shards spread over them "
                    "(default 1)")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--logs", help="keep each size's shard and broker logs in this directory")
    args = ap.parse_args()
    if args.brokers < 1 or args.shard < 1 or args.listeners < 1:
        ap.error("--brokers, --listeners and --shard are at least 1")
    if args.tls and args.listeners > 1:
        ap.error("--listeners is for plain MQTT")
    if not os.access(SC_SIM, os.X_OK):
        sys.exit("bench_fleet: no %s (build it: bench/run.sh, or set SC_SIM)" % SC_SIM)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    print("Fleet: every device a 1 s telegram, its Modbus listener and MQTT client, to %s%s; "
          "%.0f s window, shards of <= %d"
          % ("a local mosquitto" if args.brokers == 1 else
             "%d local mosquittos (an equal part of the fleet each)" % args.brokers,
             " over TLS" if args.tls else "", args.window, args.shard))
    print("%8s %6s %9s %9s %9s %10s %9s %9s %11s %10s %9s %6s" % (
        "devices", "shards", "start s", "conn s", "cadence", "mqtt lost", "late p99", "late max",
        "us/dev-s", "broker cpu", "KiB/dev", "holds"))
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="sc-bench-fleet-") as d:
            try:
                r = run_size(n, args, d)
            except RuntimeError as e:
                keep_logs(args.logs, n, d)
                print("%8d  did not run: %s" % (n, e))
                results.append({"subject": "fleet_%d" % n, "figure": "fleet of %d devices" % n,
                                "devices": n, "holds": False, "error": str(e)})
                continue
            keep_logs(args.logs, n, d)
        results.append(r)
        print("%8d %6d %9.2f %9.2f %8.2f%% %10d %7d ms %6d ms %11.1f %10.2f %9.1f %6s" % (
            n, r["shards"], r["start_s"], r["connected_s"], r["cadence"] * 100,
            r["mqtt_sent_total"] - r["broker_received_total"] + r["mqtt_failed"],
            r["late_p99_ms"], r["late_max_ms"], r["fleet_us_per_device_s"], r["broker_cpu_cores"],
            r["rss_kib_per_device"], "yes" if r["holds"] else "NO"))
        sys.stdout.flush()
    held = [r["devices"] for r in results if r.get("holds")]
    largest = max(held) if held else 0
    print("largest fleet that held: %d devices" % largest)
    print("(start s: slowest shard's own start; conn s: launch to every device connected; "
          "us/dev-s: fleet CPU per device-second; broker cpu: mosquitto's cores)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmark": "fleet", "tls": args.tls, "brokers": args.brokers,
                       "largest_held": largest,
                       "results": results}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
