#!/usr/bin/env bash
# check-lintian.sh DEB_DIR ACCEPTED : lintian on every .deb in DEB_DIR.
# Any error fails; a warning fails unless ACCEPTED lists its tag with the
# reason we keep it (docs/packaging.md). Info and pedantic tags are shown.
set -euo pipefail
dir=$1 accepted=$2
fail() { echo "FAIL: $*"; exit 1; }
command -v lintian >/dev/null || fail "lintian is not installed (scripts/lib/deps.sh installs it)"
debs=("$dir"/*.deb)
[ -e "${debs[0]}" ] || fail "no .deb in $dir"
[ "${#debs[@]}" = 2 ] || fail "expected 2 packages, found ${#debs[@]}"
# lintian 2.116 (Debian 12) leaves two MLDBM cache files per run in its
# TMPDIR (mldbm-elf-*, mldbm-elf-by-member-*): it gets a TMPDIR of this
# script's, removed on exit.
lt_tmp=$(mktemp -d)
trap 'rm -rf "$lt_tmp"' EXIT
out=$(TMPDIR=$lt_tmp lintian --info --display-info --pedantic --no-tag-display-limit "${debs[@]}" 2>&1 |
      grep -v '^running with root privileges' || true)
tags=$(printf '%s\n' "$out" | grep -E '^[EWIP]: ' || true)
printf '%s\n' "$tags"
bad=0
while read -r line; do
  [ -n "$line" ] || continue
  sev=${line%%:*}
  tag=$(printf '%s' "$line" | awk '{print $3}')
  case $sev in
    E) echo "lintian error: $line"; bad=1 ;;
    W) grep -qE "^$tag([[:space:]]|$)" "$accepted" || { echo "lintian warning not accepted: $line"; bad=1; } ;;
  esac
done <<<"$tags"
[ $bad = 0 ] || fail "lintian (see above; accepted warnings: $accepted)"
echo "ok: lintian, no errors, $(printf '%s\n' "$tags" | grep -c '^W: ' || true) accepted warnings"
