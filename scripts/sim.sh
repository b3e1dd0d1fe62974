#!/usr/bin/env bash
# Starts a virtual Smart Connect fed by its built-in synthetic meter (a DSMR 5
# household with solar panels and an EV charger), until Ctrl-C. It installs
# only what running needs (scripts/setup.sh --runtime) and builds only the
# programs, starts a local mosquitto for its MQTT, then sc-sim, and once
# sc-sim says it is ready prints how to read it, with the ports it took.
#
#   scripts/sim.sh [OPTIONS] [-- or any sc-sim option ...]
#     --modbus-port P   Modbus TCP (default 1502)
#     --https-port P    the configuration page and API over HTTPS (default 8443;
#                       user "user", password "smartconnect")
#     --http-port P     plain HTTP, linking to HTTPS; the twin's /sim/v1 (default 8080)
#     --broker-port P   the local mosquitto started here (default 1883; a broker
#                       already listening there is used instead)
#     --listen ADDR     the address of the servers (default 127.0.0.1; 0.0.0.0
#                       for the LAN; port 0 above takes any free port)
#     --fresh           start from the factory settings: the configuration saved
#                       in build/sim-state is ignored (and kept); nothing is saved
#     --build-dir DIR   build and run from DIR (default build)
#   Any other argument goes to sc-sim and wins over these, e.g.
#     scripts/sim.sh --source gen:tic --producer
#     scripts/sim.sh --mqtt off                      no MQTT, no broker started
#     scripts/sim.sh --mqtt mqtt://192.0.2.7:1883    your broker, none started
#
# Exits with sc-sim's status: 0 after Ctrl-C or SIGTERM, 2 on a usage error,
# 3 when a port is taken or the source cannot be opened (sc-sim --help).
set -euo pipefail
cd "$(dirname "$0")/.."

modbus_port=1502 https_port=8443 http_port=8080 broker_port=1883 listen=127.0.0.1
fresh=0 build=build mqtt_given=0 mqtt_off=0
passthrough=()
usage() { sed -n '/^#   scripts\/sim.sh/,/^# 3 when/p' "$0" | sed 's/^# \{0,1\}//'; }
port_arg() {
  case "$2" in
    ''|*[!0-9]*) echo "sim.sh: $1: '$2' is not a port number" >&2; exit 2 ;;
  esac
  if [ "$2" -gt 65535 ]; then echo "sim.sh: $1: '$2' is not a port number" >&2; exit 2; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --modbus-port|--https-port|--http-port|--broker-port|--listen|--build-dir)
      [ $# -ge 2 ] || { echo "sim.sh: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --modbus-port) port_arg "$1" "$2"; modbus_port=$2 ;;
        --https-port) port_arg "$1" "$2"; https_port=$2 ;;
        --http-port) port_arg "$1" "$2"; http_port=$2 ;;
        --broker-port) port_arg "$1" "$2"; broker_port=$2
          [ "$2" -gt 0 ] || { echo "sim.sh: --broker-port: 1-65535" >&2; exit 2; } ;;
        --listen) listen=$2 ;;
        --build-dir) build=$2 ;;
      esac
      shift 2 ;;
    --fresh) fresh=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --mqtt)
      [ $# -ge 2 ] || { echo "sim.sh: --mqtt needs a value" >&2; exit 2; }
      mqtt_given=1
      if [ "$2" = off ]; then mqtt_off=1; else mqtt_off=0; fi
      passthrough+=("$1" "$2"); shift 2 ;;
    --mqtt=*)
      mqtt_given=1
      if [ "${1#--mqtt=}" = off ]; then mqtt_off=1; else mqtt_off=0; fi
      passthrough+=("$1"); shift ;;
    --) shift; passthrough+=("$@"); break ;;
    *) passthrough+=("$1"); shift ;;
  esac
done

# What running needs, and the programs alone (no tests, benchmarks or
# manual pages): a folder configured before (scripts/build.sh) keeps its
# settings; a new one is configured without the tests.
scripts/setup.sh --runtime
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DSC_WERROR=ON -DSC_BUILD_TESTS=OFF -DSC_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" --target programs >&2

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/sc-sim.XXXXXX")
ready="$run_dir/ready.json"
broker_pid="" sim_pid=""
cleanup() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$run_dir"
}
trap cleanup EXIT
# Ctrl-C reaches sc-sim too (the same process group); SIGTERM to this script
# is passed on. Either way the script waits for sc-sim and exits with its status.
interrupted=0
stop_sim() {
  interrupted=1
  [ -n "$sim_pid" ] || exit 130
  kill -TERM "$sim_pid" 2>/dev/null || true
}
trap stop_sim INT TERM

# The hints reach the servers at the listening address (any address: loopback).
host=$listen
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

broker_args=()
if [ "$mqtt_given" = 0 ]; then
  if port_open "$broker_port"; then
    echo "sim.sh: a broker already listens on 127.0.0.1:$broker_port; using it" >&2
  else
    cat > "$run_dir/mosquitto.conf" <<CONF
user $(id -un)
listener $broker_port 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
log_dest file $run_dir/mosquitto.log
CONF
    mosquitto -c "$run_dir/mosquitto.conf" 2>>"$run_dir/mosquitto.log" &
    broker_pid=$!
    until port_open "$broker_port"; do
      if ! kill -0 "$broker_pid" 2>/dev/null; then
        wait "$broker_pid" 2>/dev/null || true
        broker_pid=""
        echo "sim.sh: mosquitto did not start on 127.0.0.1:$broker_port:" >&2
        cat "$run_dir/mosquitto.log" >&2 2>/dev/null || true
        echo "sim.sh: choose another port with --broker-port P, or --mqtt off" >&2
        exit 3
      fi
      sleep 0.05
    done
    echo "sim.sh: mosquitto on 127.0.0.1:$broker_port (pid $broker_pid)" >&2
  fi
  broker_args=(--mqtt "mqtt://127.0.0.1:$broker_port")
fi

state_args=(--state-dir "$build/sim-state")
if [ "$fresh" = 1 ]; then
  state_args=()
  echo "sim.sh: --fresh: factory settings; $build/sim-state is not read, nothing is saved" >&2
fi

"$build/sim/sc-sim" --listen "$listen" --modbus ":$modbus_port" --https ":$https_port" \
  --http ":$http_port" --password smartconnect "${state_args[@]}" \
  "${broker_args[@]}" --site demo --source gen:dsmr50:pv-ev --ready-file "$ready" \
  "${passthrough[@]}" &
sim_pid=$!

# The hints once sc-sim is ready (its ready file names the ports it took).
while [ ! -s "$ready" ] && kill -0 "$sim_pid" 2>/dev/null; do
  sleep 0.05
done
if [ -s "$ready" ]; then
  field() { sed -n "s/.*\"$1\":[[:space:]]*\\([0-9a-z]*\\).*/\\1/p" "$ready"; }
  mb=$(field modbus) https=$(field https) http=$(field http)
  {
    echo "sim.sh: ready. Read it from another terminal, e.g."
    if [ "$mb" != null ]; then
      echo "  mbpoll -m tcp -p $mb -a 1 -0 -1 -t 4:float -r 32790 -c 1 $host   # 0x8016 active power, W"
      echo "  mbpoll -m tcp -p $mb -a 1 -0 -1 -t 4:float -r 32782 -c 3 $host   # 0x800E currents L1-L3, A"
    fi
    if [ "$mqtt_off" = 0 ]; then
      if [ "$mqtt_given" = 0 ]; then
        echo "  mosquitto_sub -h 127.0.0.1 -p $broker_port -t 'devices/#' -v -C 3   # power_instant messages"
      else
        echo "  mosquitto_sub -t 'devices/#' -v -C 3 (on your broker)   # power_instant messages"
      fi
    fi
    if [ "$https" != null ]; then
      echo "  curl -sk -u user:smartconnect https://$host:$https/api/v1/status   # the device's status"
    fi
    # The twin's control API answers on loopback only (sc-sim --control).
    if [ "$http" != null ] && [ "${listen#127.}" != "$listen" ]; then
      echo "  curl -s http://$host:$http/sim/v1/state   # what the twin observes (LED, meter, ...)"
    fi
    if [ "$https" != null ]; then
      echo "  and the configuration page at https://$host:$https/ (user / smartconnect); Ctrl-C stops"
    fi
  } >&2
fi

# Until sc-sim ends; a signal to this script interrupts wait (the trap
# passes it on), so wait again: then it is sc-sim's own status.
while :; do
  interrupted=0
  wait "$sim_pid" && status=0 || status=$?
  [ "$interrupted" = 1 ] || break
done
case "$status" in
  0) ;;
  3) echo "sim.sh: sc-sim exited with status 3: a port it needs is taken (choose others with" \
          "--modbus-port, --https-port, --http-port) or its source cannot be opened" >&2 ;;
  *) echo "sim.sh: sc-sim exited with status $status" >&2 ;;
esac
exit "$status"
