#!/usr/bin/env bash
# check-man.sh MANDIR FCGI_BIN : the man pages generated at build time
# format without a warning, have the sections a reader looks for, and
# vault-mcp-fcgi(8) lists every setting `vault-mcp-fcgi --help` knows.
set -euo pipefail
dir=$1 fcgi=$2
fail() { echo "FAIL: $*"; exit 1; }
for page in vault-mcp-fcgi.8 vault-mcp-stdio.1 vault-sim.1; do
  [ -s "$dir/$page" ] || fail "missing $dir/$page"
  [ -s "$dir/$page.gz" ] || fail "missing $dir/$page.gz"
  warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$dir/$page" 2>&1 >/dev/null) ||
    fail "$page does not format"
  [ -z "$warn" ] || fail "$page: groff warnings: $warn"
  text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$dir/$page" 2>/dev/null)
  for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "SEE ALSO"; do
    grep -q "^$sec" <<<"$text" || fail "$page has no $sec section"
  done
done
text=$(LC_ALL=C.UTF-8 MANWIDTH=300 man -l "$dir/vault-mcp-fcgi.8" 2>/dev/null)
n=0
while read -r env; do
  grep -qE -- "--[a-z0-9-]+ value, $env\$" <<<"$text" || fail "vault-mcp-fcgi(8) lacks $env"
  n=$((n + 1))
done < <("$fcgi" --help | sed -nE 's/.*\(env ([A-Z0-9_]+), default.*/\1/p')
[ "$n" -gt 20 ] || fail "only $n settings in --help"
echo "ok: 3 man pages, $n settings in vault-mcp-fcgi(8)"
