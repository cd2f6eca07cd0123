#!/usr/bin/env bash
# Fails when an authenticator reports a reason that is not in the one list
# (core/src/base/auth_reason.h): metrics would count it as "other" and the
# docs would not know it. Looks at every `reason = "..."` and
# `*reason = "..."` assignment in core/src and stdio-app.
# Usage: check-auth-reasons.sh [ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
list=core/src/base/auth_reason.h
[ -r "$list" ] || { echo "auth reasons: $list missing"; exit 1; }
known=$(sed -nE 's/^[[:space:]]*X\(([a-z_]+)\).*/\1/p' "$list")
used=$(grep -rhoE '\breason[[:space:]]*=[[:space:]]*"[a-z_]+"' core/src stdio-app 2>/dev/null |
       sed -E 's/.*"([a-z_]+)"/\1/' | sort -u)
fail=0
for r in $used; do
  # A here-string, not a pipe: grep -q may exit before printf has written
  # everything, and pipefail would then report a listed reason as missing.
  if ! grep -qx -- "$r" <<< "$known"; then
    echo "auth reasons: \"$r\" is reported but not listed in $list"
    fail=1
  fi
done
[ "$fail" = 0 ] || exit 1
echo "auth reasons: $(wc -w <<< "$used") reported reasons, all listed"
