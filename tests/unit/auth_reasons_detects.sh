#!/usr/bin/env bash
# The auth-reason check must refuse a reason that is not in the list, and
# accept the same tree once the reason is listed.
set -euo pipefail
check=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/core/src/base" "$dir/core/src/auth" "$dir/stdio-app"
printf '#define VMB_AUTH_REASON_MAP(X) \\\n  X(expired)\n' > "$dir/core/src/base/auth_reason.h"
printf 'void f(const char **reason) { *reason = "expired"; }\n' > "$dir/core/src/auth/a.c"
"$check" "$dir" >/dev/null || { echo "check-auth-reasons.sh refused a listed reason"; exit 1; }
printf 'void g(const char **reason) { *reason = "made_up_reason"; }\n' > "$dir/stdio-app/main.c"
if "$check" "$dir" >/dev/null 2>&1; then
  echo "check-auth-reasons.sh accepted an unlisted reason"
  exit 1
fi
echo "planted unlisted reason detected"
