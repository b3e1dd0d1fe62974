#!/usr/bin/env bash
# Build and start a virtual Smart Connect fed by its built-in synthetic meter
# (a DSMR 5 household with solar panels and an EV charger), serving Modbus TCP
# on loopback port 1502 until Ctrl-C. Arguments go to sc-sim and override
# these defaults, e.g. scripts/sim.sh --source gen:tic --modbus 127.0.0.1:1503
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >&2
cat >&2 <<'TXT'
Read it from another terminal, e.g. active power and currents (floats, CD AB):
  mbpoll -m tcp -p 1502 -a 1 -0 -t 4:float -r 32790 -c 1 127.0.0.1
  mbpoll -m tcp -p 1502 -a 1 -0 -t 4:float -r 32782 -c 3 127.0.0.1
TXT
exec build/sim/sc-sim --modbus 127.0.0.1:1502 --source gen:dsmr50:pv-ev "$@"
