#!/usr/bin/env bash
# Fails when a banned C function appears in our sources (CONVENTIONS P7):
# they either overflow (sprintf, strcpy, strcat), mislead (strncpy), keep
# hidden state (strtok, gmtime, localtime) or hide errors (atoi).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|atoi|atol|gets|gmtime|localtime|asctime|ctime)[[:space:]]*\('
files=$(git ls-files -co --exclude-standard -- '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
hits=$(printf '%s\n' $files | grep -v '^build' | xargs -r grep -nE "$banned" || true)
if [ -n "$hits" ]; then
  echo "banned functions found:"
  echo "$hits"
  exit 1
fi
echo "no banned functions in $(printf '%s\n' $files | grep -vc '^build') files"
