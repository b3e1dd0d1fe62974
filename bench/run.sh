#!/usr/bin/env bash
# Runs every benchmark on a Release build (-O3, in build-release/) and writes
# their figures to bench/out/*.json. Not part of the test suite: figures
# depend on the machine. Arguments go to each benchmark (e.g. --mb 20).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release -DSC_BUILD_TESTS=OFF >&2
mkdir -p bench/out
build-release/bench/bench_p1 --json bench/out/p1.json "$@"
echo
build-release/bench/bench_tic --json bench/out/tic.json "$@"
echo
build-release/bench/bench_modbus --json bench/out/modbus.json
echo
build-release/bench/bench_mqtt --json bench/out/mqtt.json
echo
build-release/bench/bench_mqtt --broker-nodelay --json bench/out/mqtt-nodelay.json
echo
build-release/bench/bench_replay --json bench/out/replay.json
