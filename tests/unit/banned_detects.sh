#!/usr/bin/env bash
# The banned-function check must reject a tree that calls strcpy.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'void f(char *d, const char *s) { strcpy(d, s); }\n' > "$dir/bad.c"
if "$1" "$dir" >/dev/null 2>&1; then
  echo "check-src.sh accepted a strcpy call"
  exit 1
fi
echo "planted strcpy detected"
