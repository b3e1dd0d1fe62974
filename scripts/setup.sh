#!/usr/bin/env bash
# Installs the Debian packages smartconnect-twin builds and tests with.
# Idempotent: when every package is already installed it only checks and exits.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ninja-build
  # the fuzz targets (libFuzzer) and the leak check of a long scenario
  clang libclang-rt-14-dev valgrind
  # the clock-step fault test (a wall clock stepped under a running sc-sim)
  faketime
  libcjson-dev libcriterion-dev libmodbus-dev libserialport-dev
  libpaho-mqtt-dev libssl-dev libmicrohttpd-dev libcurl4-openssl-dev zlib1g-dev
  # readiness notification under systemd (sd_notify); the package and its test
  libsystemd-dev dpkg-dev lintian systemd man-db adduser jq util-linux iproute2
  # the local broker of scripts/sim.sh, and the tests' real peers
  mosquitto mosquitto-clients openssl curl chromium fonts-liberation
  mbpoll python3-pymodbus python3-serial-asyncio python3-paho-mqtt python3-websocket socat python3
  # the manual pages (man/*.scd to roff); man-db's man renders them in their test
  scdoc
  # the recipes test parses recipes/*.yaml and the Alfen recipe's yaml block
  python3-yaml
  # sc-sim --mdns (avahi-client over D-Bus) and its test: a private bus and avahi-daemon in a netns, two resolvers
  libavahi-client-dev avahi-daemon dbus avahi-utils python3-zeroconf
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
