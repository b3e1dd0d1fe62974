#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds with
# warnings as errors, runs every test, then builds again with AddressSanitizer
# and UndefinedBehaviorSanitizer and runs the tests a second time (all but
# those that run once: real time, the package, valgrind, the inventory), then
# builds the libFuzzer targets with clang and fuzzes each for a few seconds.
#   scripts/test.sh            all three passes
#   scripts/test.sh --quick    the plain pass only (every test, every label)
# The fast part alone, after a build: ctest --test-dir build -L unit (the
# labels: sim/tests/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc 2>/dev/null || echo 2)"

echo "== build (warnings are errors)"
scripts/build.sh build
echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${1:-}" != "--quick" ]; then
  echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer"
  scripts/build.sh build-asan -DSC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DSC_BUILD_BENCH=OFF
  echo "== tests under sanitizers"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
  echo "== fuzz targets, ${SC_FUZZ_SECONDS:-10} s each"
  fuzz/run.sh "${SC_FUZZ_SECONDS:-10}"
fi
