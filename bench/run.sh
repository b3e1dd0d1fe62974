#!/usr/bin/env bash
# Runs every benchmark on an optimised build and writes their figures to
# bench/out/*.json. Not part of the test suite: figures depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
mkdir -p bench/out
build/bench/bench_p1 --json bench/out/p1.json "$@"
echo
build/bench/bench_tic --json bench/out/tic.json "$@"
