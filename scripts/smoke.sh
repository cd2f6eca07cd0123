#!/usr/bin/env bash
# scripts/smoke.sh : a smoke test of a running stack, through its front.
#
#   scripts/smoke.sh [--url URL] [--api-key KEY] [--jwt TOKEN] [--admin-key KEY]
#
# Defaults come from the dev stack's settings (.dev/stack.env, or
# $DEV_DIR/stack.env): BRIDGE_URL, DEMO_API_KEY, DEMO_JWT,
# DEMO_ADMIN_API_KEY. Checks, one line each: /healthz, /readyz,
# /openapi.json, whoami with the API key and with the JWT (each auth mode
# given), a KV write/read/delete in the caller's namespace, MCP tools/list,
# the admin API (with an admin key), /console/ and /docs/ served with a
# Content-Security-Policy. Exit 1 when any check failed. Needs curl and jq.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
envfile=${DEV_DIR:-$root/.dev}/stack.env
url="" key="" jwt="" admin=""
if [ -f "$envfile" ]; then
  # shellcheck disable=SC1090
  . "$envfile"
  url=${BRIDGE_URL:-}; key=${DEMO_API_KEY:-}; jwt=${DEMO_JWT:-}; admin=${DEMO_ADMIN_API_KEY:-}
fi
while [ $# -gt 0 ]; do
  case $1 in
    --url) url=$2; shift 2 ;;
    --api-key) key=$2; shift 2 ;;
    --jwt) jwt=$2; shift 2 ;;
    --admin-key) admin=$2; shift 2 ;;
    *) echo "smoke.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$url" ] || { echo "smoke.sh: no --url and no $envfile (start: scripts/dev.sh up)" >&2; exit 2; }

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL  %s: %s\n' "$1" "$2"; }
# get NAME EXPECTED_STATUS CURL_ARGS... : BODY and STATUS of one request.
call() {
  BODY=$(curl -sS --max-time 15 -o - -w '\n%{http_code}' "$@" 2>&1)
  STATUS=${BODY##*$'\n'}
  BODY=${BODY%$'\n'*}
}

call "$url/healthz"; [ "$STATUS" = 200 ] && ok "healthz" || bad "healthz" "$STATUS"
call "$url/readyz"; [ "$STATUS" = 200 ] && ok "readyz" || bad "readyz" "$STATUS ${BODY:0:200}"
call "$url/openapi.json"
if [ "$STATUS" = 200 ] && jq -e '.openapi and .paths["/whoami"]' <<<"$BODY" >/dev/null 2>&1; then
  ok "openapi.json"; else bad "openapi.json" "$STATUS"; fi

hdrs=()
if [ -n "$key" ]; then
  call -H "X-API-Key: $key" "$url/whoami"
  if [ "$STATUS" = 200 ] && [ "$(jq -r .auth_mode <<<"$BODY")" = api_key ]; then
    ok "whoami with the API key ($(jq -r .subject <<<"$BODY"))"; else bad "whoami api key" "$STATUS ${BODY:0:200}"; fi
  hdrs=(-H "X-API-Key: $key")
fi
if [ -n "$jwt" ]; then
  call -H "Authorization: Bearer $jwt" "$url/whoami"
  if [ "$STATUS" = 200 ] && [ "$(jq -r .auth_mode <<<"$BODY")" = jwt ]; then
    ok "whoami with the JWT ($(jq -r .subject <<<"$BODY"))"; else bad "whoami jwt" "$STATUS ${BODY:0:200}"; fi
  [ ${#hdrs[@]} -gt 0 ] || hdrs=(-H "Authorization: Bearer $jwt")
fi
call "$url/whoami"; [ "$STATUS" = 401 ] && ok "whoami without a credential is 401" || bad "whoami anonymous" "$STATUS"

if [ ${#hdrs[@]} -gt 0 ]; then
  p="smoke/$(date +%s)-$$" v="smoke-$RANDOM$RANDOM"
  call -X PUT "${hdrs[@]}" -H 'Content-Type: application/json' -d "{\"data\":{\"v\":\"$v\"}}" "$url/secrets/$p"
  w=$STATUS
  call "${hdrs[@]}" "$url/secrets/$p"
  r=$STATUS; got=$(jq -r '.data.v // empty' <<<"$BODY" 2>/dev/null)
  call -X DELETE "${hdrs[@]}" "$url/secrets/$p"
  d=$STATUS
  if [ "$w" = 200 ] && [ "$r" = 200 ] && [ "$got" = "$v" ] && [ "$d" = 200 -o "$d" = 204 ]; then
    ok "KV write, read, delete"; else bad "KV round trip" "write $w read $r ($got) delete $d"; fi
  call "${hdrs[@]}" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2025-06-18' -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' "$url/mcp/rpc"
  n=$(jq -r '.result.tools | length' <<<"$BODY" 2>/dev/null || echo 0)
  if [ "$STATUS" = 200 ] && [ "${n:-0}" -gt 0 ] 2>/dev/null; then ok "MCP tools/list ($n tools)"
  else bad "MCP tools/list" "$STATUS ${BODY:0:200}"; fi
fi
if [ -n "$admin" ]; then
  call -H "X-API-Key: $admin" "$url/admin/subjects"
  if [ "$STATUS" = 200 ] && jq -e '.subjects | type == "array"' <<<"$BODY" >/dev/null 2>&1; then
    ok "admin API ($(jq -r .count <<<"$BODY") subjects)"; else bad "admin API" "$STATUS ${BODY:0:200}"; fi
fi
for page in /console/ /docs/; do
  csp=$(curl -sS --max-time 10 -o /dev/null -D - "$url$page" | tr -d '\r' | grep -i '^content-security-policy:' || true)
  case $csp in *"script-src 'self'"*) ok "$page served with a CSP" ;; *) bad "$page" "no strict CSP header" ;; esac
done

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
