"""The headline table of the benchmarks: reads bench/out/*.json (written by
bench/run.sh), prints one table (each figure beside its peers and its aim)
and writes bench/out/all.json: the machine, the date, every benchmark's
figures and the headline rows.

usage: /usr/bin/python3 bench/table.py [OUT_DIR]   (default bench/out)
A benchmark whose file is missing is shown as "not run".
"""

import datetime
import json
import os
import platform
import sys


def load(out, name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def find(doc, key, **match):
    """The first entry of doc[key] whose fields equal match."""
    for r in (doc or {}).get(key, []):
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def num(x, fmt="{:,.0f}"):
    return "-" if x is None else fmt.format(x)


def machine():
    model, cores = "?", os.cpu_count()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kib / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": model, "cores": cores, "memory": mem,
            "kernel": platform.release(), "system": platform.platform()}


def rows(out):
    """(figure, sc-sim, peers, aim, met) for each headline figure."""
    p1, tic, peers = load(out, "p1"), load(out, "tic"), load(out, "peers")
    modbus, mqtt = load(out, "modbus"), load(out, "mqtt")
    nodelay, startup = load(out, "mqtt-nodelay"), load(out, "startup")
    replay, fleet = load(out, "replay"), load(out, "fleet")
    fleet2 = load(out, "fleet-2brokers")
    fleetdns = load(out, "fleet-dns")
    table = []

    for proto, doc, stage, unit in (("P1 DSMR 5", p1, "parse+crc+map", "telegrams"),
                                    ("TIC standard", tic, "parse+checksum+map", "frames")):
        ours = find(doc, "stages", stage=stage)
        key = "P1" if proto.startswith("P1") else "TIC"
        py = find(peers, "results", protocol=key, subject="python")
        sha = find(peers, "results", protocol=key, subject="sha256sum")
        if ours is None:
            table.append((proto + " " + stage, "not run", "", "", None))
            continue
        rate = ours["per_second"]
        peer = []
        dsmr = find(peers, "results", protocol=key, subject="dsmr_parser")
        if dsmr and dsmr.get("absent"):
            peer.append("ndokter/dsmr_parser absent")
        elif dsmr:
            peer.append("ndokter/dsmr_parser %s/s (x%.0f)" % (num(dsmr["per_second"]),
                                                             rate / dsmr["per_second"]))
        if py:
            peer.append("Python %s/s (x%.0f)" % (num(py["per_second"]), rate / py["per_second"]))
        if sha:
            peer.append("sha256sum %.0f MB/s" % sha["mb_per_s"])
        aim, met = ("", None)
        if key == "P1":
            aim, met = ">= 1,000,000/s", rate >= 1e6
        table.append(("%s %s, %s/s, one core" % (proto, stage, unit),
                      "%s/s (%.0f MB/s)" % (num(rate), ours["mb_per_s"]),
                      "; ".join(peer) or "peers not run", aim, met))
        if key == "P1":
            full = find(doc, "stages", stage="+ power_instant json")
            if full:
                table.append(("P1 telegram to registers and power_instant JSON",
                              "%s/s" % num(full["per_second"]), "", "", None))

    for name, proto, unit in (("check", "P1", "telegrams"), ("check-tic", "TIC", "frames")):
        chk = load(out, name)
        if chk is None:
            table.append(("sc-telegram check, %s, 100 MB" % proto, "not run", "", "", None))
            continue
        table.append(("sc-telegram check, %s, 100 MB file, %s/s (wall; CPU)" % (proto, unit),
                      "%s/s; %s/s" % (num(chk["check_per_second_wall"]),
                                      num(chk["check_per_second_cpu"])),
                      "sha256sum %.0f MB/s: check x%.2f wall, x%.2f CPU (median of %d rounds "
                      "in turns)" % (chk["sha256_mb_per_s_wall"], chk["ratio_wall"],
                                     chk["ratio_cpu"], len(chk["rounds"])),
                      ">= 1,000,000/s, >= 3x sha256sum",
                      chk["check_per_second_wall"] >= 1e6 and chk["ratio_wall"] >= 3))

    # The same capture made less alike from telegram to telegram
    # (bench/p1_streams.py): no aim, what another stream gets.
    for name, what in (("check-every-value", "every value changed in every telegram"),
                       ("check-every-layout", "a layout that changes in every telegram")):
        chk = load(out, name)
        if chk is None:
            continue
        table.append(("sc-telegram check, P1, the AM550 capture with %s, telegrams/s "
                      "(wall; CPU)" % what,
                      "%s/s; %s/s" % (num(chk["check_per_second_wall"]),
                                      num(chk["check_per_second_cpu"])),
                      "sha256sum %.0f MB/s: check x%.2f wall, x%.2f CPU" % (
                          chk["sha256_mb_per_s_wall"], chk["ratio_wall"], chk["ratio_cpu"]),
                      "", None))
    one = load(out, "check-tic-one-frame")
    if one is not None:
        # The field frame repeated: each frame the last one's bytes.
        table.append(("the same, TIC, one field frame repeated to 100 MB (flatters the "
                      "incremental decode)",
                      "%s/s; %s/s" % (num(one["check_per_second_wall"]),
                                      num(one["check_per_second_cpu"])),
                      "x%.2f wall, x%.2f CPU" % (one["ratio_wall"], one["ratio_cpu"]), "", None))

    counts = sorted({r.get("clients", 1) for r in (modbus or {}).get("results", [])
                     if r.get("subject") == "sc_sim" and "reads_per_s" in r}) or [1]
    for clients in counts:
        for fig, label in (("block30", "30-register block"), ("whole_map", "whole map")):
            ours = find(modbus, "results", subject="sc_sim", figure=fig, clients=clients)
            if ours is None:
                table.append(("Modbus " + label, "not run", "", "", None))
                continue
            peer = []
            for subj, name in (("pymodbus", "pymodbus"), ("libmodbus_floor", "libmodbus loop")):
                r = find(modbus, "results", subject=subj, figure=fig, clients=clients)
                if r:
                    peer.append("%s %s/s p50 %.0f p99 %.0f us" % (
                        name, num(r["reads_per_s"]), r["p50_us"], r["p99_us"]))
            ratio, p99r = ours["ratio_to_loop"], ours["p99_ratio_to_loop"]
            scaling = " (x%.2f of 1 client)" % ours["scaling"] if clients > 1 else ""
            table.append(("Modbus %s, %d client%s, reads/s, latency (median of %d rounds)"
                          % (label, clients, "s" if clients > 1 else "", modbus["rounds"]),
                          "%s/s%s p50 %.0f p99 %.0f us; %.0f %% of the loop, p99 x%.2f" % (
                              num(ours["reads_per_s"]), scaling, ours["p50_us"],
                              ours["p99_us"], ratio * 100, p99r),
                          "; ".join(peer), ">= 95 % of the loop, p99 not above",
                          ratio >= 0.95 and p99r <= 1.0))
    ping = find(modbus, "results", subject="tcp_pingpong")
    if ping:
        table.append(("Loopback TCP ping-pong of the same sizes (the floor)",
                      "%s/s p50 %.0f us" % (num(ping["reads_per_s"]), ping["p50_us"]), "", "",
                      None))

    t2r = find(modbus, "results", figure="telegram_to_register")
    if t2r:
        table.append(("Telegram in to Modbus-visible, p50/p99/max",
                      "%.0f / %.0f / %.0f us" % (t2r["p50_us"], t2r["p99_us"], t2r["max_us"]),
                      "", "", None))
    for doc, label in ((mqtt, ""), (nodelay, ", broker set_tcp_nodelay")):
        if not doc:
            continue
        m, f = doc["telegram_to_message"], doc["broker_floor"]
        table.append(("Telegram in to MQTT received%s, p50/p99/max" % label,
                      "%.0f / %.0f / %.0f us" % (m["p50_us"], m["p99_us"], m["max_us"]),
                      "broker round trip alone %.0f / %.0f / %.0f us" % (
                          f["p50_us"], f["p99_us"], f["max_us"]), "", None))
        if not label:
            s = doc["sustained"]
            table.append(("power_instant sustained, messages/s received",
                          "%s/s (%d of %d)" % (num(s["per_s"]), s["received"], s["telegrams"]),
                          "", "", None))

    for subj, label in (("sc_sim_fresh", "fresh state (TLS key made)"),
                        ("sc_sim_saved", "saved state"), ("sc_sim_nostate", "no state kept")):
        r = find(startup, "results", subject=subj)
        if r is None:
            continue
        peer = []
        if subj == "sc_sim_saved":
            for ps, name in (("pymodbus", "pymodbus server"), ("mosquitto", "mosquitto")):
                p = find(startup, "results", subject=ps)
                if p:
                    peer.append("%s %.1f ms" % (name, p["p50_ms"]))
        table.append(("Start-up to every port accepting, %s, p50" % label,
                      "%.1f ms (max %.1f)" % (r["p50_ms"], r["max_ms"]), "; ".join(peer),
                      "< 50 ms", r["p50_ms"] < 50))

    if replay:
        n = replay.get("telegrams")
        for r in replay.get("results", []):
            # The aims: the full pipeline under 5 s, the usual checks
            # (neither MQTT nor the read-back) under 1 s.
            aim = 5 if r["figure"].startswith("full") else 1 if r["figure"].startswith("neither") else None
            table.append(("Replay of %s telegrams at --speed max, %s" % (num(n), r["figure"]),
                          "%.2f s wall (%s/s)" % (r["wall_s"], num(r.get("per_second"))), "",
                          "< %d s" % aim if aim else "", (r["wall_s"] < aim) if aim else None))

    if fleet:
        held = [r for r in fleet.get("results", []) if r.get("holds")]
        big = max(held, key=lambda r: r["devices"]) if held else None
        tried = max((r["devices"] for r in fleet.get("results", [])), default=0)
        if big:
            table.append(("Fleet: largest N holding every 1 s cadence (tried up to %s)" % num(tried),
                          "%s devices, %.1f KiB and %.0f us CPU/s each" % (
                              num(big["devices"]), big["rss_kib_per_device"],
                              big["fleet_us_per_device_s"]),
                          "mosquitto %.2f cores" % big["broker_cpu_cores"],
                          ">= 10,000, <= 64 KB", big["devices"] >= 10000 and
                          big["rss_kib_per_device"] * 1024 <= 64000))
        else:
            table.append(("Fleet", "no size held", "", ">= 10,000", False))
    if fleet2:
        rs = fleet2.get("results", [])
        table.append(("Fleet over %d brokers: sizes held" % fleet2.get("brokers", 2),
                      ", ".join("%s %s" % (num(r["devices"]), "yes" if r.get("holds") else "no")
                                for r in rs),
                      "; ".join("%s: start %.1f s, late p99 %d ms" % (
                          num(r["devices"]), r["start_s"], r["late_p99_ms"])
                                for r in rs if "start_s" in r), "", None))
    if fleetdns and "absent" in fleetdns:
        table.append(("Fleet, broker by name", "absent: " + fleetdns["absent"], "", "", None))
    elif fleetdns:
        r = fleetdns
        table.append(("Fleet of %s, broker by name (DNS answers in %g s)" % (num(r["devices"]), r["delay_s"]),
                      ("all connected after %.2f s" % r["all_connected_s"]) if r["all_connected_s"] is not None
                      else "%s of %s connected" % (num(r["connected"]), num(r["devices"])),
                      "DNS queries: A %d, AAAA %d; lookups %s" % (
                          r["dns_a_queries"], r["dns_aaaa_queries"], r["name_lookups"]), "", None))
    return table


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
    table = rows(out)
    heads = ("figure", "sc-sim", "peers, same run", "aim", "met")
    cells = [(f, o, p, a, "" if m is None else ("yes" if m else "no")) for f, o, p, a, m in table]
    widths = [max(len(str(c[i])) for c in cells + [heads]) for i in range(len(heads))]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, heads))
    print(line)
    print("-" * len(line))
    for c in cells:
        print("  ".join("%-*s" % (w, v) for w, v in zip(widths, c)))
    every = {}
    for name in sorted(os.listdir(out)) if os.path.isdir(out) else []:
        if name.endswith(".json") and name != "all.json":
            doc = load(out, name[:-5])
            if doc is not None:
                every[name[:-5]] = doc
    with open(os.path.join(out, "all.json"), "w") as f:
        json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "machine": machine(),
                   "headline": [dict(zip(("figure", "sc_sim", "peers", "aim", "met"), r))
                                for r in table],
                   "benchmarks": every}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
