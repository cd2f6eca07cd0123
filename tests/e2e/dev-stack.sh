#!/usr/bin/env bash
# dev-stack.sh : scripts/dev.sh up, use the stack as a new user would,
# scripts/dev.sh down, and check that nothing it started is left running.
# Env: PORT, VAULT_PORT, DEV_DIR, VMB_BUILD_DIR (set by ctest).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dev=${DEV_DIR:-$root/.dev}
fail() { echo "FAIL: $*" >&2; exit 1; }
# vault-mcp-stdio, run below as the README says, keeps its shared files in
# $XDG_RUNTIME_DIR/vault-mcp-bridge (a desktop session has one); as root
# without it they would go to /tmp/vault-mcp-bridge-0 and stay there.
xdg=$(mktemp -d)
trap 'bash "$root/scripts/dev.sh" down >/dev/null 2>&1 || true; rm -rf "$xdg"' EXIT

# Start from nothing, as on a fresh checkout.
bash "$root/scripts/dev.sh" down >/dev/null 2>&1 || true
rm -rf "$dev"

up_out=$(bash "$root/scripts/dev.sh" up)
printf '%s\n' "$up_out"
[ -f "$dev/stack.env" ] || fail "no $dev/stack.env"
# `source` alone must export the names (a child process sees them).
env -i bash -c '. "$1" && printenv BRIDGE_URL DEMO_API_KEY' _ "$dev/stack.env" >/dev/null ||
  fail "sourcing stack.env does not export BRIDGE_URL/DEMO_API_KEY"
# The printed stop/status hints name this DEV_DIR when it is not the default.
if [ "$dev" != "$root/.dev" ]; then
  printf '%s' "$up_out" | grep -q "DEV_DIR=.* scripts/dev.sh down" ||
    fail "the 'Stop:' hint does not name DEV_DIR"
fi
echo "ok: stack.env exports its names; hints name DEV_DIR"
# shellcheck disable=SC1091
. "$dev/stack.env"
for v in BRIDGE_URL VAULT_ADDR VAULT_TOKEN JWT_HS256_SECRET LOG_DIR DEMO_SUBJECT \
         DEMO_API_KEY DEMO_SUBJECT_2 DEMO_API_KEY_2 DEMO_ADMIN_API_KEY; do
  [ -n "${!v:-}" ] || fail "stack.env lacks $v"
done
echo "ok: stack.env has every name"

curl -fsS "$BRIDGE_URL/healthz" >/dev/null || fail "healthz"
curl -fsS "$BRIDGE_URL/readyz" >/dev/null || fail "readyz"
got=$(curl -fsS -H "X-API-Key: $DEMO_API_KEY" "$BRIDGE_URL/whoami" | jq -r .subject)
[ "$got" = "$DEMO_SUBJECT" ] || fail "whoami with DEMO_API_KEY gave '$got'"
got=$(curl -fsS -H "X-API-Key: $DEMO_API_KEY_2" "$BRIDGE_URL/whoami" | jq -r .subject)
[ "$got" = "$DEMO_SUBJECT_2" ] || fail "whoami with DEMO_API_KEY_2 gave '$got'"
echo "ok: healthz, readyz, both demo agents"

# The example agent, as a new user would run it, with a key and with a JWT.
BRIDGE_URL=$BRIDGE_URL DEMO_API_KEY=$DEMO_API_KEY python3 "$root/examples/direct_agent.py" \
  || fail "examples/direct_agent.py with the API key"
BRIDGE_URL=$BRIDGE_URL python3 "$root/examples/direct_agent.py" --jwt "$DEMO_JWT" \
  || fail "examples/direct_agent.py with the JWT"
echo "ok: the example agent ran over REST and MCP"

# The registry (issue 12): both demo agents are registered, and the second
# one cannot decrypt what the first one encrypted (the user's first repro).
subs=$(VMB_URL=$BRIDGE_URL VMB_ADMIN_API_KEY=$DEMO_ADMIN_API_KEY "$root/scripts/vmb-admin" list) ||
  fail "vmb-admin list with DEMO_ADMIN_API_KEY"
grep -q "^$DEMO_SUBJECT " <<<"$subs" && grep -q "^$DEMO_SUBJECT_2 " <<<"$subs" ||
  fail "demo subjects not in the registry: $subs"
ct=$(curl -fsS -X POST -H "X-API-Key: $DEMO_API_KEY" -H 'Content-Type: application/json' \
  -d '{"key":"mcp-default","plaintext":"aGVsbG8="}' "$BRIDGE_URL/transit/encrypt" | jq -r .ciphertext)
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $DEMO_API_KEY_2" \
  -H 'Content-Type: application/json' -d "$(jq -cn --arg c "$ct" '{key:"mcp-default",ciphertext:$c}')" \
  "$BRIDGE_URL/transit/decrypt")
[ "$code" = 403 ] || fail "the second agent decrypted the first one's ciphertext (HTTP $code)"
echo "ok: demo subjects registered; agent 2 cannot decrypt agent 1's ciphertext"

# The README's next step after `up`: vault-mcp-stdio with SUBJECT.
stdio=${VMB_BUILD_DIR:-$root/build}/bin/vault-mcp-stdio
[ -x "$stdio" ] || fail "no $stdio after scripts/dev.sh up (the README runs it next)"
out=$(printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' |
  SUBJECT=$DEMO_SUBJECT VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=$VAULT_TOKEN LOG_DIR= \
    XDG_RUNTIME_DIR=$xdg "$stdio" 2>/dev/null) ||
  fail "vault-mcp-stdio exited non-zero"
n=$(printf '%s\n' "$out" | jq -s '[.[] | select(.id == 2) | .result.tools | length] | first // 0')
[ "$n" -gt 0 ] || fail "vault-mcp-stdio tools/list: $(printf '%s' "$out" | head -c 300)"
echo "ok: vault-mcp-stdio answers with the stack's settings ($n tools)"

# Each security header exactly once behind the dev front (lighttpd sets
# them, the bridge does not), on an app answer and on an app error.
for path in /healthz /whoami; do
  hdrs=$(curl -sS -D - -o /dev/null "$BRIDGE_URL$path")
  for h in X-Content-Type-Options X-Frame-Options Referrer-Policy; do
    c=$(printf '%s' "$hdrs" | grep -ci "^$h:" || true)
    [ "$c" = 1 ] || fail "$path carries $h $c times (want 1)"
  done
done
echo "ok: security headers once each"

# Idempotent: a second `up` keeps the same stack (same keys).
key=$DEMO_API_KEY
bash "$root/scripts/dev.sh" up >/dev/null
# shellcheck disable=SC1091
. "$dev/stack.env"
[ "$DEMO_API_KEY" = "$key" ] || fail "second up replaced the running stack"
bash "$root/scripts/dev.sh" status
echo "ok: second up is a no-op, status answers"

pids=$(cat "$dev"/pids/*.pid)
bash "$root/scripts/dev.sh" down
sleep 0.5
for p in $pids; do
  kill -0 "$p" 2>/dev/null && fail "pid $p still runs after down"
done
if bash "$root/scripts/dev.sh" status >/dev/null 2>&1; then fail "status says up after down"; fi
curl -fsS --max-time 2 "$BRIDGE_URL/healthz" >/dev/null 2>&1 && fail "still answering after down"
echo "ok: down stopped everything"
