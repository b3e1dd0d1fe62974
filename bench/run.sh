#!/usr/bin/env bash
# Runs every benchmark on a Release build (-O3, in build-release/), each
# beside its peers, writes their figures to bench/out/*.json, then prints the
# headline table and writes bench/out/all.json (bench/table.py).
# Not part of the test suite: figures depend on the machine. About 10 minutes;
# --quick runs smaller sizes (about 3 minutes) for a look, not for RESULTS.md.
#
# usage: bench/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
case "${1:-}" in
--quick) quick=1 ;;
"") ;;
*)
	echo "usage: bench/run.sh [--quick]" >&2
	exit 2
	;;
esac
py=/usr/bin/python3
corpus="$PWD/corpus/field"
scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release -DSC_BUILD_TESTS=OFF >&2
out=bench/out
mkdir -p "$out"
rm -f "$out"/*.json
if [ "$quick" = 1 ]; then
	mb=(--mb 20) peers_mb=(--mb 2) runs=(--runs 5) fleet=(--sizes 1000,5000 --window 10)
	replay=(--telegrams 20000) fleet2=(--sizes 5000 --window 10) check=(--mb 20 --rounds 3)
	fleetdns=(--devices 1000)
else
	mb=() peers_mb=() runs=() fleet=() replay=(--rounds 3) fleet2=(--sizes 19000,25000) check=()
	fleetdns=()
fi
section() { printf '\n=== %s\n' "$1"; }

section "P1 parser"
build-release/bench/bench_p1 --json "$out/p1.json" "${mb[@]}"
section "TIC parser"
build-release/bench/bench_tic --json "$out/tic.json" "${mb[@]}"
section "sc-telegram check beside sha256sum of the same 100 MB file: P1, TIC"
"$py" bench/bench_check.py --json "$out/check.json" "${check[@]}"
# The same meter with every value changing in every telegram, and with a
# layout that changes in every telegram (bench/p1_streams.py): what a stream
# less alike from telegram to telegram than the AM550's gets.
"$py" bench/p1_streams.py "$corpus/p1/dsmr50-iskra-am550-566-telegrams.p1" "$out"
for s in every-value every-layout; do
	"$py" bench/bench_check.py --json "$out/check-$s.json" "${check[@]}" "$out/am550-$s.p1"
done
# TIC: a day of a three-phase Tempo meter (sc-telegram gen, 86,400 frames,
# 105 MB), whose values move as a meter's do; the field frame repeated is
# kept beside it, labelled as such (it flatters a decoder that remembers the
# last frame). How much changes from frame to frame, in it and in the field
# recordings: tic-changes.json.
tic_day=$(mktemp -d)
trap 'rm -rf "$tic_day"' EXIT
build-release/sim/sc-telegram gen --protocol tic --phases 3 --calendar tempo --count 86400 \
	--start 1765000000 --seed 1 >"$tic_day/day.tic"
"$py" bench/tic_changes.py --json "$out/tic-changes.json" "$tic_day/day.tic" \
	"$corpus/tic/standard-tri-consumer-tempo-8-frames-damaged.tic" \
	"$corpus/tic/standard-mono-producer-9-frames-with-corruption.log"
"$py" bench/bench_check.py --json "$out/check-tic.json" "${check[@]}" "$tic_day/day.tic"
"$py" bench/bench_check.py --json "$out/check-tic-one-frame.json" "${check[@]}" \
	"$corpus/tic/standard-mono-consumer-base.tic"
section "Parser peers: ndokter/dsmr_parser, Python, sha256sum"
"$py" bench/peers.py --json "$out/peers.json" "${peers_mb[@]}" \
	"$corpus/p1/dsmr50-iskra-am550-566-telegrams.p1" \
	"$corpus/tic/standard-mono-consumer-base.tic"
section "Modbus TCP against pymodbus and a libmodbus loop"
build-release/bench/bench_modbus --json "$out/modbus.json"
section "MQTT"
build-release/bench/bench_mqtt --json "$out/mqtt.json"
build-release/bench/bench_mqtt --broker-nodelay --json "$out/mqtt-nodelay.json"
section "Start-up"
build-release/bench/bench_startup --json "$out/startup.json" "${runs[@]}"
section "Replay at --speed max"
build-release/bench/bench_replay --json "$out/replay.json" "${replay[@]}"
section "Fleet"
"$py" bench/bench_fleet.py --json "$out/fleet.json" "${fleet[@]}"
section "Fleet over two brokers"
"$py" bench/bench_fleet.py --brokers 2 --shard 5000 --json "$out/fleet-2brokers.json" "${fleet2[@]}"
section "Fleet whose broker is a name (root: its own DNS server)"
"$py" bench/bench_fleet_dns.py --json "$out/fleet-dns.json" "${fleetdns[@]}"
section "Headline"
"$py" bench/table.py "$out"
echo
echo "figures: $out/*.json, all of them in $out/all.json"
