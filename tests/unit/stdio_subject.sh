#!/usr/bin/env bash
# stdio_subject.sh BIN - vault-mcp-stdio takes SUBJECT through the one
# subject rule (issue 13): path-like or empty subjects stop start-up with
# exit 2 and a message; a valid one gets as far as serving (EOF at once).
set -u
bin=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export LOG_DIR=$tmp/logs RUN_DIR=$tmp/run VAULT_ADDR=http://127.0.0.1:9 VAULT_TOKEN=t
fail=0
for s in "../other" ".." "." "a/b" "a b" "" "x%2fy"; do
  out=$(SUBJECT="$s" "$bin" </dev/null 2>&1); rc=$?
  if [ $rc -ne 2 ] || ! grep -q "SUBJECT" <<<"$out"; then
    echo "SUBJECT='$s': rc=$rc, output: $out"; fail=1
  fi
done
out=$(SUBJECT="agent-1" "$bin" </dev/null 2>&1); rc=$?
if [ $rc -ne 0 ]; then echo "SUBJECT=agent-1: rc=$rc: $out"; fail=1; fi
[ $fail -eq 0 ] && echo "ok"
exit $fail
