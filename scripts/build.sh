#!/usr/bin/env bash
# Configure and build into build/ (or the directory given as $1), installing
# the Debian packages first. Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
scripts/setup.sh
# The tests and benchmarks are built unless the arguments say otherwise
# (a build folder that scripts/sim.sh configured without them gets them).
cmake -S . -B "$dir" -G Ninja -DSC_WERROR=ON -DSC_BUILD_TESTS=ON -DSC_BUILD_BENCH=ON "$@" >/dev/null
cmake --build "$dir"
