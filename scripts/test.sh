#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, builds, runs ctest,
# then runs the whole suite again in an ASan+UBSan build and in a TSan
# build (the responder is threaded and shares memory across processes).
# The package checks (label package: .debs, lintian, systemd units,
# install/run/purge on this machine as root) run in the first pass only.
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only some labels (passed to ctest)
#   VMB_SKIP_SANITIZERS=1      skip both sanitizer passes (local iterations)
#   VMB_KEEP_TMP=1             tests keep their scratch files; this script
#                              then keeps each pass's TMPDIR and names it
# Each ctest pass runs with a TMPDIR of its own (mode 1777 like /tmp: the
# web servers' workers run as www-data and must reach into it). A pass
# whose tests all passed must leave it empty: anything left fails the
# script, listed, and the directory is removed. After a failed test it is
# kept for inspection and its path printed (docs/testing.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
# node and npm ship with some machines outside Debian's packages: only
# install Debian's when there is no node at all.
test_pkgs=$VMB_TEST_PACKAGES
if command -v node >/dev/null && command -v npm >/dev/null; then
  test_pkgs=${test_pkgs//nodejs/}
  test_pkgs=${test_pkgs//npm/}
fi
# shellcheck disable=SC2086
vmb_ensure_packages $VMB_BUILD_PACKAGES $test_pkgs

jobs=$(nproc 2>/dev/null || echo 2)
run_suite() {
  local dir=$1 tmp rc=0 left; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  # Under /tmp, not under an inherited TMPDIR: a short prefix keeps the
  # tests' unix socket paths under 108 bytes, and /tmp's parents are
  # reachable by every user.
  tmp=$(mktemp -d /tmp/vmb-test.XXXXXX)
  chmod 1777 "$tmp"
  (cd "$dir" && TMPDIR=$tmp ctest --output-on-failure -j"$jobs" --timeout 600 \
     "${CTEST_ARGS[@]}" "${PASS_ARGS[@]}") || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "== tests failed in $dir; their TMPDIR is kept: $tmp" >&2
    exit "$rc"
  fi
  if [ "${VMB_KEEP_TMP:-0}" = 1 ]; then
    echo "== VMB_KEEP_TMP=1: the tests' scratch files are kept in $tmp"
    return 0
  fi
  left=$(cd "$tmp" && find . -mindepth 1 -maxdepth 2 | sed 's|^\./||' | sort)
  if [ -n "$left" ]; then
    echo "== every test passed in $dir, but these were left in its TMPDIR ($tmp):" >&2
    printf '%s\n' "$left" | head -n 200 | sed 's/^/   /' >&2
    echo "== a test must remove what it creates outside its build directory (docs/testing.md)" >&2
    rm -rf "$tmp"
    exit 1
  fi
  rmdir "$tmp"
}
CTEST_ARGS=("${@}")
PASS_ARGS=()

echo "== build and test (build/)"
run_suite build
if [ "${VMB_SKIP_SANITIZERS:-0}" != 1 ]; then
  # The package checks (label package) build their own non-sanitizer .debs
  # whatever this build's flags are: running them again would test the
  # same packages twice more, so they run in the plain pass only.
  PASS_ARGS=(-LE package)
  echo "== build and test under ASan+UBSan (build-asan/)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_suite build-asan -DVMB_ASAN=ON -DVMB_UBSAN=ON
  echo "== build and test under TSan (build-tsan/)"
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
  run_suite build-tsan -DVMB_TSAN=ON
fi
echo "== all tests passed"
