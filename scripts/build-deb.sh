#!/usr/bin/env bash
# scripts/build-deb.sh [BUILD_DIR] [OUT_DIR] : build the Debian packages
# vault-mcp-bridge_<version>_<arch>.deb and vault-sim_<version>_<arch>.deb
# with CPack (docs/packaging.md). BUILD_DIR defaults to build-deb/, OUT_DIR
# to BUILD_DIR/packages. The build is configured for Debian's layout
# (/usr, /etc, /var, /run) without the tests; any further CMake arguments
# can be given in VMB_DEB_CMAKE_ARGS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build-deb}
out=${2:-$dir/packages}
# Debian's hardening flags (fortify, stack protector, relro, bind-now)
# when dpkg-buildflags is there, as a Debian build would use them.
if command -v dpkg-buildflags >/dev/null; then
  export DEB_BUILD_MAINT_OPTIONS=hardening=+all
  CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
  LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
  export CFLAGS LDFLAGS
fi
# shellcheck disable=SC2086
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_SYSCONFDIR=/etc \
  -DCMAKE_INSTALL_LOCALSTATEDIR=/var -DCMAKE_INSTALL_RUNSTATEDIR=/run \
  ${VMB_DEB_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
rm -f "$out"/*.deb
(cd "$dir" && cpack -G DEB -B "$out" >/dev/null)
ls "$out"/*.deb
