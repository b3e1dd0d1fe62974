#!/usr/bin/env bash
# Build and start a virtual Smart Connect fed by its built-in synthetic meter
# (a DSMR 5 household with solar panels and an EV charger), serving Modbus TCP
# on 127.0.0.1:1502, its configuration page and API on https://127.0.0.1:8443
# (user "user", password "smartconnect"; http://127.0.0.1:8080 links there),
# and publishing MQTT to a local mosquitto on 127.0.0.1:1883 (started here
# unless a broker already listens there), until Ctrl-C. Its configuration is
# kept in build/sim-state. Arguments go to sc-sim and override these, e.g.
#   scripts/sim.sh --source gen:tic --modbus 127.0.0.1:1503
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >&2

broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if port_open 1883; then
  echo "sim.sh: a broker already listens on 127.0.0.1:1883; using it" >&2
else
  mkdir -p build/sim-broker
  cat > build/sim-broker/mosquitto.conf <<CONF
user $(id -un)
listener 1883 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
log_dest file $PWD/build/sim-broker/mosquitto.log
CONF
  mosquitto -c build/sim-broker/mosquitto.conf &
  broker_pid=$!
  for _ in $(seq 1 100); do
    port_open 1883 && break
    kill -0 "$broker_pid" 2>/dev/null || { echo "sim.sh: mosquitto did not start (build/sim-broker/mosquitto.log)" >&2; exit 3; }
    sleep 0.05
  done
  echo "sim.sh: mosquitto on 127.0.0.1:1883 (pid $broker_pid)" >&2
fi

cat >&2 <<'TXT'
Read it from another terminal, e.g.
  mbpoll -m tcp -p 1502 -a 1 -0 -t 4:float -r 32790 -c 1 127.0.0.1     # active power, W
  mbpoll -m tcp -p 1502 -a 1 -0 -t 4:float -r 32782 -c 3 127.0.0.1     # currents L1-L3, A
  mosquitto_sub -h 127.0.0.1 -t 'devices/#' -v                        # power_instant, device_counters
  curl -sk -u user:smartconnect https://127.0.0.1:8443/api/v1/status  # the device's status
  and the configuration page at https://127.0.0.1:8443/ (user / smartconnect)
TXT
build/sim/sc-sim --modbus 127.0.0.1:1502 --https 127.0.0.1:8443 --http 127.0.0.1:8080 \
  --password smartconnect --state-dir build/sim-state \
  --mqtt mqtt://127.0.0.1:1883 --site demo --source gen:dsmr50:pv-ev "$@" &
sim_pid=$!
# Ctrl-C reaches sc-sim too (same process group); wait for it to finish.
wait "$sim_pid" || true
