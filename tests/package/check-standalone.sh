#!/usr/bin/env bash
# check-standalone.sh SOURCE_DIR : the repository stands alone. No file may
# refer to the shared folder that sits beside the developers' checkouts
# (a fresh clone has none); test data lives in tests/data (README there).
set -euo pipefail
src=$1
# The pattern is assembled so this file does not match itself.
up='\.\.'/shared
abs=/work/'shared'
hits=$(grep -rnI -e "$up" -e "$abs" --exclude-dir=.git --exclude-dir='build*' \
         --exclude-dir=node_modules --exclude-dir=.dev "$src" || true)
if [ -n "$hits" ]; then
  printf '%s\n' "$hits" | head -20
  echo "FAIL: files refer to the shared folder outside the repository (copy the data into tests/data)"
  exit 1
fi
for d in jose sigv4 kms vault-api; do
  [ -d "$src/tests/data/$d" ] || { echo "FAIL: tests/data/$d is missing"; exit 1; }
done
echo "ok: no reference outside the repository; tests/data complete"
