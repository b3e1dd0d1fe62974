#!/usr/bin/env bash
# Installs the Debian packages smartconnect-twin builds, runs and tests with.
# Idempotent: when every package is already installed it only checks and exits.
#   scripts/setup.sh             everything: building, running, the whole test suite
#                                (scripts/build.sh, scripts/test.sh)
#   scripts/setup.sh --runtime   what building the programs and running them needs,
#                                with scripts/sim.sh's broker and the clients its hints
#                                name (scripts/sim.sh)
#   scripts/setup.sh --package   the runtime set and what building the Debian package
#                                needs (scripts/package.sh, the container image)
set -euo pipefail

# Building the programs and running them (scripts/sim.sh).
RUNTIME=(
  build-essential cmake pkg-config ninja-build
  libcjson-dev libmodbus-dev libserialport-dev
  libpaho-mqtt-dev libssl-dev libmicrohttpd-dev libcurl4-openssl-dev zlib1g-dev
  # readiness notification under systemd (sd_notify); sc-sim --mdns (avahi-client over D-Bus)
  libsystemd-dev libavahi-client-dev
  # the manual pages (man/*.scd to roff), built with the programs
  scdoc
  # the local broker of scripts/sim.sh, and the clients its hints name
  mosquitto mosquitto-clients mbpoll curl
)

# The Debian package: hardening flags and library dependencies (dpkg-dev);
# CPack finds the programs to strip and scan with file.
PACKAGE=(dpkg-dev file)

# Developing: the tests, their peers and tools.
DEVELOPMENT=(
  # the fuzz targets (libFuzzer) and the leak check of a long scenario
  clang libclang-rt-14-dev valgrind
  # the clock-step fault test (a wall clock stepped under a running sc-sim)
  faketime
  libcriterion-dev
  # the package's test
  lintian systemd man-db adduser jq util-linux iproute2
  # the tests' real peers
  openssl chromium fonts-liberation
  python3-pymodbus python3-serial-asyncio python3-paho-mqtt python3-websocket socat python3
  # the recipes test parses recipes/*.yaml and the Alfen recipe's yaml block
  python3-yaml
  # sc-sim --mdns's test: a private bus and avahi-daemon in a netns, two resolvers
  avahi-daemon dbus avahi-utils python3-zeroconf
  # the safe-defaults test sees every connect() of a bare sc-sim
  strace
  # the container image's test: a Debian base image made from the archive, built
  # and run with podman (runc: crun refuses hybrid cgroups)
  podman runc mmdebstrap
)

case "${1:-}" in
  --runtime) PACKAGES=("${RUNTIME[@]}") ;;
  --package) PACKAGES=("${RUNTIME[@]}" "${PACKAGE[@]}") ;;
  "") PACKAGES=("${RUNTIME[@]}" "${PACKAGE[@]}" "${DEVELOPMENT[@]}") ;;
  *) echo "usage: scripts/setup.sh [--runtime | --package]" >&2; exit 2 ;;
esac

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
