#!/usr/bin/env bash
# Build and start a virtual Smart Connect fed by the built-in synthetic meter.
# Today it prints the device's power_instant JSON for every telegram of a
# DSMR 5 meter, once a second, until Ctrl-C; arguments go to 'sc-telegram gen'
# (e.g. --protocol emucs --profile pv --count 5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >&2
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(--protocol dsmr50 --profile pv-ev --count 0)
build/sim/sc-telegram gen --realtime "${args[@]}" | build/sim/sc-telegram parse
