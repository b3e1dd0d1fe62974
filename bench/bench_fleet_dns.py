#!/usr/bin/python3
"""Fleet whose broker is a name: how long until every device is connected,
and what the fleet asks of the DNS server.

A private mosquitto on a free loopback port; a DNS server of the bench's own
(sim/tests/dnstest.py: answers the broker's name after --delay seconds, on a
loopback address, port 53); the fleet (--devices N, one process) in a mount
namespace whose /etc/resolv.conf names that server, told the broker as
mqtt://broker.fleet.test:PORT. Reported: seconds from the start of sc-sim to
every device connected (/fleet/v1/status), the A and AAAA queries the DNS
server received, and the fleet's own count of lookups (MQTT.NameLookups).
Needs root (the namespace, port 53): without it the figure is named absent.
SC_SIM names another sc-sim (an older build measured beside this one).

  bench/bench_fleet_dns.py [--devices 5000] [--delay 0.02] [--json FILE]
"""

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sim", "tests"))
import brokertest  # noqa: E402
from dnstest import SlowDns, resolv_conf_wrap  # noqa: E402

SC_SIM = os.environ.get("SC_SIM", os.path.join(HERE, "..", "build-release", "sim", "sc-sim"))
NAME = "broker.fleet.test"
DNS_ADDR = "127.0.0.79"
PASSWORD = "bench"


def status(port):
    req = urllib.request.Request("http://127.0.0.1:%d/fleet/v1/status" % port)
    req.add_header("Authorization", "Basic " + base64.b64encode(("user:" + PASSWORD).encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def measure(devices, delay, timeout):
    d = tempfile.mkdtemp(prefix="bench-fleet-dns-")
    broker = dns = proc = None
    try:
        broker = brokertest.Broker(d)
        dns = SlowDns(DNS_ADDR, {NAME: "127.0.0.1"}, delay)
        t0 = time.monotonic()
        proc = subprocess.Popen(resolv_conf_wrap(d, DNS_ADDR) + [
            SC_SIM, "--devices", str(devices), "--modbus", "127.0.0.1:0", "--modbus-base-port", "0",
            "--http", "127.0.0.1:0", "--https", "off", "--password", PASSWORD,
            "--mqtt", "mqtt://%s:%d" % (NAME, broker.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = None
        for line in proc.stderr:
            m = re.search(rb"ready: fleet of.*\bhttp [\d.]+:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            raise SystemExit("sc-sim did not say it was ready")
        # The rest of its log is read away so that it never blocks on it.
        drain = subprocess.Popen(["cat"], stdin=proc.stderr, stdout=subprocess.DEVNULL)
        connected, doc = 0, {}
        while time.monotonic() - t0 < timeout:
            doc = status(port)
            connected = doc["MQTT"]["Connected"]
            if connected == devices:
                break
            time.sleep(0.02)
        took = time.monotonic() - t0
        drain.kill()
        drain.wait()
        return {"devices": devices, "delay_s": delay, "connected": connected,
                "all_connected_s": round(took, 3) if connected == devices else None,
                "dns_a_queries": dns.count(NAME, 1), "dns_aaaa_queries": dns.count(NAME, 28),
                "name_lookups": doc.get("MQTT", {}).get("NameLookups")}
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if dns:
            dns.close()
        if broker:
            broker.close()
        shutil.rmtree(d, True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--delay", type=float, default=0.02, help="the DNS server's answer time, s")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        doc = {"absent": "needs root and unshare (a mount namespace, a DNS server on port 53)"}
        print("fleet, broker by name: absent (%s)" % doc["absent"])
    else:
        doc = measure(a.devices, a.delay, a.timeout)
        print("fleet of %d, broker by name, DNS answering in %g s: %s; DNS queries A %d, AAAA %d; "
              "the fleet's lookups %s" % (
                  doc["devices"], doc["delay_s"],
                  "all connected after %.2f s" % doc["all_connected_s"] if doc["all_connected_s"] is not None
                  else "%d of %d connected after %g s" % (doc["connected"], doc["devices"], a.timeout),
                  doc["dns_a_queries"], doc["dns_aaaa_queries"], doc["name_lookups"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
