#!/usr/bin/env bash
# stack-scripts.sh smoke|agents : the operator scripts against a dev stack.
#
# Starts scripts/dev.sh up in a temp DEV_DIR on free loopback ports (with a
# JWKS file, so RS256 is configured too), runs the scripts as an operator
# would, checks their exit codes and output, stops the stack, and checks
# that a stack that is down makes them fail.
#   smoke   scripts/smoke.sh in every mode: api-key, hs256 (DEMO_JWT and a
#           token minted by gen-jwt), rs256 (JWKS), mtls (no front: exit 2),
#           wrong credentials (exit 1), the stack down (exit 1)
#   agents  scripts/run-example-agent.sh --no-llm (API key, JWT) and the LLM
#           agent against tests/examples/fake_openai.py: a scripted
#           write/read/refused/delete conversation, and the turn limit
# Env: VMB_BUILD_DIR (set by ctest).
# "A && B || die" below: B is a test, never an action that can fail.
# shellcheck disable=SC2015
set -euo pipefail
what=${1:?usage: stack-scripts.sh smoke|agents}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/examples
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vmb-opscripts.XXXXXX")
# As root the pool and lighttpd run as www-data: they must reach DEV_DIR
# and read the JWKS file (the private keys stay 0600).
chmod 755 "$work"
export DEV_DIR=$work/dev
fake_pid=""
cleanup() {
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
  bash "$root/scripts/dev.sh" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Three loopback ports nothing uses now (tests/lib/procs.py free_port).
pick_ports() {
  python3 -c "
import sys; sys.path.insert(0, '$root/tests/lib')
from procs import free_port
ps = set()
while len(ps) < 3: ps.add(free_port())
print(*ps)"
}

# An RSA key and its JWKS (kid smoke-k1), so the stack verifies RS256 too.
openssl genrsa -out "$work/rs.key" 2048 2>/dev/null
openssl genrsa -out "$work/other.key" 2048 2>/dev/null
python3 - "$work/rs.key" "$work/jwks.json" <<'EOF'
import base64, json, subprocess, sys
mod = subprocess.run(["openssl", "rsa", "-in", sys.argv[1], "-noout", "-modulus"],
                     capture_output=True, check=True, text=True).stdout.strip().split("=", 1)[1]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
jwk = {"kty": "RSA", "kid": "smoke-k1", "use": "sig", "alg": "RS256",
       "n": b64(bytes.fromhex(mod)), "e": b64((65537).to_bytes(3, "big"))}
json.dump({"keys": [jwk]}, open(sys.argv[2], "w"))
EOF
chmod 644 "$work/jwks.json"

# Another test may take a port between free_port and the bind: then dev.sh
# refuses it ("is in use") before starting anything, and we pick again.
up=0
for attempt in 1 2 3; do
  read -r PORT VAULT_PORT FAKE_PORT <<<"$(pick_ports)"
  export PORT VAULT_PORT
  if JWT_JWKS_FILE=$work/jwks.json bash "$root/scripts/dev.sh" up >"$work/up.log" 2>&1; then
    up=1; break
  fi
  grep -q 'is in use' "$work/up.log" || break
  echo "ports taken (attempt $attempt), picking others"
done
[ $up = 1 ] || { cat "$work/up.log"; fail "scripts/dev.sh up"; }
# shellcheck disable=SC1091
. "$DEV_DIR/stack.env"
ok "dev stack up on $BRIDGE_URL"

# run NAME WANT_RC CMD... : run, keep output in $work/NAME.out, check rc.
run() {
  local name=$1 want=$2 rc=0
  shift 2
  "$@" >"$work/$name.out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat "$work/$name.out"; fail "$name: exit $rc, want $want"; }
}
# no_secrets FILE : none of the stack's credentials appears in FILE.
no_secrets() {
  local s
  for s in "$DEMO_API_KEY" "$DEMO_ADMIN_API_KEY" "$DEMO_JWT" "$JWT_HS256_SECRET" "$VAULT_TOKEN" \
           ${1:+} "${@:2}"; do
    [ -n "$s" ] || continue
    if grep -qF -- "$s" "$1"; then fail "a credential appears in $(basename "$1")"; fi
  done
}
# all_pass NAME N : exactly N PASS lines and no FAIL line.
all_pass() {
  local p f
  p=$(grep -c '^PASS ' "$work/$1.out" || true)
  f=$(grep -c '^FAIL ' "$work/$1.out" || true)
  [ "$p" = "$2" ] && [ "$f" = 0 ] || { cat "$work/$1.out"; fail "$1: $p PASS / $f FAIL lines, want $2 / 0"; }
  no_secrets "$work/$1.out"
}

smoke_tests() {
  local smoke=$root/scripts/smoke.sh
  # Through stack.env alone (no BRIDGE_URL in the environment).
  run api 0 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" bash "$smoke"
  all_pass api 10
  grep -q "^PASS \[api-key\] whoami: $DEMO_SUBJECT (api_key)" "$work/api.out" || fail "api-key whoami line"
  ok "smoke --api-key (default): 10 PASS from stack.env"

  run hs 0 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" bash "$smoke" --hs256
  all_pass hs 10
  grep -q "whoami: $DEMO_SUBJECT (jwt)" "$work/hs.out" || fail "hs256 whoami line"
  # No DEMO_JWT: the token comes from scripts/gen-jwt and the secret.
  run hsgen 0 env -u DEMO_JWT BRIDGE_URL="$BRIDGE_URL" JWT_HS256_SECRET="$JWT_HS256_SECRET" \
    DEMO_SUBJECT="$DEMO_SUBJECT_2" bash "$smoke" --hs256
  all_pass hsgen 10
  grep -q "whoami: $DEMO_SUBJECT_2 (jwt)" "$work/hsgen.out" || fail "gen-jwt token was not for $DEMO_SUBJECT_2"
  ok "smoke --hs256: DEMO_JWT and a gen-jwt token, 10 PASS each"

  run rs 0 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" RS256_KEY="$work/rs.key" RS256_KID=smoke-k1 \
    bash "$smoke" --rs256
  all_pass rs 10
  grep -q "whoami: $DEMO_SUBJECT (jwt)" "$work/rs.out" || fail "rs256 whoami line"
  ok "smoke --rs256 with the JWKS the stack was started with: 10 PASS"

  # Failures must fail: a key the JWKS does not hold, a wrong API key, an
  # HS256 token given to --rs256, no RS256 material, no mTLS front.
  run rsbad 1 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" bash "$smoke" --rs256 --rsa-key "$work/other.key" --kid smoke-k1
  grep -q '^FAIL \[rs256\] whoami' "$work/rsbad.out" || fail "rs256 with a foreign key: no whoami FAIL"
  run keybad 1 env API_KEY=not-a-key BRIDGE_URL="$BRIDGE_URL" bash "$smoke"
  grep -q '^FAIL \[api-key\] whoami' "$work/keybad.out" && grep -q '^PASS \[api-key\] healthz' "$work/keybad.out" ||
    fail "wrong API key: want healthz PASS and whoami FAIL"
  run rsnone 2 env -u RS256_KEY -u SMOKE_JWT BRIDGE_URL="$BRIDGE_URL" DEMO_JWT="$DEMO_JWT" bash "$smoke" --rs256
  grep -q '^UNSUPPORTED \[rs256\]' "$work/rsnone.out" || fail "rs256 without material: no UNSUPPORTED line"
  run rshs 2 env BRIDGE_URL="$BRIDGE_URL" bash "$smoke" --rs256 --jwt "$DEMO_JWT"
  grep -q "not RS256" "$work/rshs.out" || fail "an HS256 token passed as --rs256"
  run mtls 2 env -u MTLS_CLIENT_CERT BRIDGE_URL="$BRIDGE_URL" bash "$smoke" --mtls
  grep -q '^UNSUPPORTED \[mtls\].*no TLS front' "$work/mtls.out" || fail "mtls: no UNSUPPORTED line"
  bash "$root/scripts/gen-certs.sh" "$work/certs" >/dev/null 2>&1
  run mtlshttp 2 env BRIDGE_URL="$BRIDGE_URL" bash "$smoke" --mtls --cert "$work/certs/client.crt" --key "$work/certs/client.key"
  grep -q 'is not https://' "$work/mtlshttp.out" || fail "mtls on http: no refusal"
  ok "smoke exits 1 on a foreign RS256 key and a wrong API key, 2 on modes it cannot check"

  bash "$root/scripts/dev.sh" down >/dev/null
  run down 1 env BRIDGE_URL="$BRIDGE_URL" DEMO_API_KEY="$DEMO_API_KEY" bash "$smoke"
  grep -q '^FAIL \[api-key\] healthz' "$work/down.out" && ! grep -q '^PASS' "$work/down.out" ||
    { cat "$work/down.out"; fail "a stopped stack: want only FAIL lines"; }
  ok "smoke against a stopped stack: exit 1, every check FAIL"
}

agent_tests() {
  local runner=$root/scripts/run-example-agent.sh
  run direct 0 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" bash "$runner" --no-llm
  grep -q '^ok: deleted example/app' "$work/direct.out" || fail "direct agent did not finish"
  grep -q "^ok: whoami: $DEMO_SUBJECT as api_key" "$work/direct.out" || fail "direct agent not as api_key"
  run directjwt 0 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" bash "$runner" --no-llm --jwt demo
  grep -q "^ok: whoami: $DEMO_SUBJECT as jwt" "$work/directjwt.out" || fail "direct agent --jwt demo not as jwt"
  run directmtls 2 env -u BRIDGE_URL -u MTLS_URL DEV_DIR="$DEV_DIR" bash "$runner" --no-llm --mtls
  grep -q 'no mTLS front' "$work/directmtls.out" || fail "--mtls on the dev stack: no explanation"
  run nollmenv 2 env -u BRIDGE_URL -u OPENAI_BASE_URL DEV_DIR="$DEV_DIR" bash "$runner"
  ok "run-example-agent.sh --no-llm with the API key and --jwt demo; --mtls and a missing model exit 2"

  # The LLM agent against the scripted endpoint.
  local secret state=$work/fake.json
  secret=llm-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  python3 "$here/fake_openai.py" --port "$FAKE_PORT" --state "$state" --script write-read-delete \
    --api-key test-openai-key --model fake-model --secret "$secret" >"$work/fake.log" 2>&1 &
  fake_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do grep -q listening "$work/fake.log" && break; sleep 0.1; done
  grep -q listening "$work/fake.log" || fail "fake endpoint did not start"
  run llm 0 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" OPENAI_BASE_URL="http://127.0.0.1:$FAKE_PORT/v1" \
    OPENAI_API_KEY=test-openai-key OPENAI_MODEL=fake-model bash "$runner"
  jq -e '.errors == [] and .done == true and .requests == 5' "$state" >/dev/null ||
    { cat "$work/llm.out" "$state"; fail "the fake endpoint saw a wrong conversation"; }
  grep -q '^model: All three steps succeeded.' "$work/llm.out" || fail "no final answer printed"
  for t in kv_write kv_read kv_delete; do
    grep -q "tools/call $t " "$work/llm.out" || fail "agent did not log $t"
  done
  no_secrets "$work/llm.out" "$secret" test-openai-key
  code=$(curl -sS -o /dev/null -w '%{http_code}' -H "X-API-Key: $DEMO_API_KEY" "$BRIDGE_URL/secrets/llm/demo")
  [ "$code" = 404 ] || fail "llm/demo after the agent's kv_delete: HTTP $code"
  ok "LLM agent: 5 model turns, write/read/refused/unknown/delete checked by the endpoint; no secret printed"
  sed "s/^/    /" "$work/llm.out"

  # With a JWT, and a model that never stops: the turn limit ends it.
  kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true
  python3 "$here/fake_openai.py" --port "$FAKE_PORT" --state "$state" --script loop \
    --api-key test-openai-key --model fake-model >"$work/fake.log" 2>&1 &
  fake_pid=$!
  for ((i = 0; i < 100; i++)); do grep -q listening "$work/fake.log" && break; sleep 0.1; done
  run loop 3 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" OPENAI_BASE_URL="http://127.0.0.1:$FAKE_PORT/v1" \
    OPENAI_API_KEY=test-openai-key OPENAI_MODEL=fake-model bash "$runner" --jwt demo -- --max-turns 3
  jq -e '.errors == [] and .requests == 3' "$state" >/dev/null || { cat "$state"; fail "loop: want 3 requests"; }
  grep -q 'stopped: no final answer after 3 model turns' "$work/loop.out" || fail "loop: no stop message"
  ok "LLM agent with --jwt stops after --max-turns 3 (exit 3)"

  # A model endpoint that rejects the key: a clear error, exit 1.
  run badkey 1 env -u BRIDGE_URL DEV_DIR="$DEV_DIR" OPENAI_BASE_URL="http://127.0.0.1:$FAKE_PORT/nope" \
    OPENAI_API_KEY=test-openai-key OPENAI_MODEL=fake-model bash "$runner"
  grep -q 'chat completions: HTTP 404' "$work/badkey.out" || fail "a failing endpoint: no clear error"
  no_secrets "$work/badkey.out" test-openai-key
  ok "LLM agent: a failing model endpoint exits 1 with the HTTP status"
}

case $what in
  smoke) smoke_tests ;;
  agents) agent_tests ;;
  *) fail "unknown part $what" ;;
esac
echo "PASS: stack-scripts $what"
