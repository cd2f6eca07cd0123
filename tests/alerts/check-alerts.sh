#!/usr/bin/env bash
# check-alerts.sh : the alert rules of docs/alerts.md are valid, are the
# shipped file, and behave as tests/alerts/alerts-test.yml says.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rules=$repo/deploy/prometheus/vault-mcp-alerts.yml
command -v promtool >/dev/null || { echo "FAIL: promtool missing (Debian package prometheus)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The yaml block of docs/alerts.md that starts with the rules file's header.
awk '/^```yaml$/ {inb=1; buf=""; next} /^```$/ && inb {inb=0; if (buf ~ /^# Prometheus alert rules/) {printf "%s", buf; exit}} inb {buf = buf $0 "\n"}' \
  "$repo/docs/alerts.md" >"$work/from-doc.yml"
[ -s "$work/from-doc.yml" ] || { echo "FAIL: no rules block in docs/alerts.md"; exit 1; }
cmp -s "$rules" "$work/from-doc.yml" ||
  { echo "FAIL: docs/alerts.md shows other rules than $rules"; diff "$rules" "$work/from-doc.yml" | head; exit 1; }
echo "ok   docs/alerts.md shows deploy/prometheus/vault-mcp-alerts.yml"
promtool check rules "$rules"
promtool check rules "$work/from-doc.yml"
cd "$repo/tests/alerts"
promtool test rules alerts-test.yml
