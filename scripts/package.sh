#!/usr/bin/env bash
# Builds the Debian package: a release build under the /usr prefix in
# build-pkg/ (or the directory given as $1), then CPack. Prints the path of
# the .deb on its last line.
#   scripts/package.sh && sudo apt-get install ./build-pkg/smartconnect-twin_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-pkg}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
scripts/setup.sh --package
# Debian's hardening flags (fortify, stack protector, full RELRO, bind now),
# as a Debian build of the package would have them.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
ldflags="$(dpkg-buildflags --get LDFLAGS)"
cmake -S . -B "$dir" -G Ninja -DSC_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
  -DCMAKE_INSTALL_PREFIX=/usr -DSC_BUILD_TESTS=OFF -DSC_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir"
rm -f "$dir"/smartconnect-twin_*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
ls "$dir"/smartconnect-twin_*.deb
