#!/usr/bin/env bash
# scripts/smoke.sh [MODE] [options] : smoke test of a running stack.
#
# Checks, each printed as one PASS/FAIL line:
#   healthz, readyz, whoami (subject and auth mode), a KV write/read
#   round trip in the caller's own namespace, MCP initialize + tools/list
#   + tools/call kv_read of the value just written, delete, and that the
#   deleted secret is gone. Exit 0 only when every check passed.
#
# Modes (one):
#   --api-key   (default) X-API-Key: API_KEY, else DEMO_API_KEY
#   --hs256     Authorization: Bearer, an HS256 token: --jwt/SMOKE_JWT, else
#               DEMO_JWT, else one minted by scripts/gen-jwt from
#               JWT_HS256_SECRET for DEMO_SUBJECT
#   --rs256     an RS256 token checked against the bridge's JWKS: --jwt/SMOKE_JWT,
#               else minted by scripts/gen-jwt from --rsa-key/RS256_KEY
#               (+ --kid/RS256_KID) for SMOKE_SUBJECT/DEMO_SUBJECT. The dev
#               stack configures no JWKS unless started with JWT_JWKS_FILE;
#               without a key or token this mode says so and exits 2.
#   --mtls      a client certificate: --cert/MTLS_CLIENT_CERT,
#               --key/MTLS_CLIENT_KEY, --cacert/MTLS_CA_CERT, against an
#               https:// front (--url or MTLS_URL). The dev stack is plain
#               HTTP (no mTLS front); without these this mode says so and
#               exits 2.
#
# Where the stack is: --url, else BRIDGE_URL from the environment; when
# BRIDGE_URL is not set, the settings come from $DEV_DIR/stack.env
# (<repo>/.dev/stack.env), or from --env FILE.
#
# Exit: 0 all passed, 1 a check failed, 2 the mode cannot run here
# (missing credentials or a stack without that auth mode), 64 usage.
# No credential is ever printed.
# "A && B || C" below: B is pass() (an echo) or a test, never a failing action.
# shellcheck disable=SC2015
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,/^# No credential/p' "$0" | sed 's/^# \{0,1\}//'; }

mode=api-key url="" envfile="" jwt=${SMOKE_JWT:-} rsa_key=${RS256_KEY:-} kid=${RS256_KID:-}
cert=${MTLS_CLIENT_CERT:-} ckey=${MTLS_CLIENT_KEY:-} cacert=${MTLS_CA_CERT:-}
while [ $# -gt 0 ]; do
  case $1 in
    --api-key) mode=api-key ;;
    --hs256) mode=hs256 ;;
    --rs256) mode=rs256 ;;
    --mtls) mode=mtls ;;
    --url) url=${2:?--url needs a value}; shift ;;
    --env) envfile=${2:?--env needs a file}; shift ;;
    --jwt) jwt=${2:?--jwt needs a token}; shift ;;
    --rsa-key) rsa_key=${2:?--rsa-key needs a file}; shift ;;
    --kid) kid=${2:?--kid needs a value}; shift ;;
    --cert) cert=${2:?--cert needs a file}; shift ;;
    --key) ckey=${2:?--key needs a file}; shift ;;
    --cacert) cacert=${2:?--cacert needs a file}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "smoke.sh: unknown option $1" >&2; usage >&2; exit 64 ;;
  esac
  shift
done

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "smoke.sh: needs $tool" >&2; exit 2; }
done

# The stack's settings: an explicit file, else stack.env when the
# environment does not already name a bridge.
if [ -z "$envfile" ] && [ -z "${BRIDGE_URL:-}" ] && [ -z "$url" ]; then
  envfile=${DEV_DIR:-$root/.dev}/stack.env
fi
if [ -n "$envfile" ]; then
  [ -r "$envfile" ] || { echo "smoke.sh: no $envfile (start the stack: scripts/dev.sh up, or set BRIDGE_URL)" >&2; exit 2; }
  # shellcheck disable=SC1090
  . "$envfile"
fi
url=${url:-${BRIDGE_URL:-}}
[ "$mode" = mtls ] && url=${MTLS_URL:-$url}
[ -n "$url" ] || { echo "smoke.sh: no bridge URL (--url, BRIDGE_URL or stack.env)" >&2; exit 2; }
url=${url%/}

unsupported() { echo "UNSUPPORTED [$mode]: $*"; echo "smoke.sh: mode $mode NOT checked" >&2; exit 2; }

# Credentials as curl arguments; never echoed.
declare -a auth=()
want_mode=""
case $mode in
  api-key)
    k=${API_KEY:-${DEMO_API_KEY:-}}
    [ -n "$k" ] || unsupported "no API key (API_KEY or DEMO_API_KEY)"
    auth=(-H "X-API-Key: $k"); want_mode=api_key ;;
  hs256)
    if [ -z "$jwt" ]; then jwt=${DEMO_JWT:-}; fi
    if [ -z "$jwt" ] && [ -n "${JWT_HS256_SECRET:-}" ] && [ -n "${DEMO_SUBJECT:-}" ]; then
      jwt=$(python3 "$root/scripts/gen-jwt" --sub "$DEMO_SUBJECT" --secret "$JWT_HS256_SECRET" \
        --iss "${JWT_ISSUER:-mcp-auth}" --aud "${JWT_AUDIENCE:-mcp-agents}") ||
        unsupported "scripts/gen-jwt could not mint an HS256 token"
    fi
    [ -n "$jwt" ] || unsupported "no HS256 token (--jwt, SMOKE_JWT, DEMO_JWT, or JWT_HS256_SECRET + DEMO_SUBJECT)"
    want_mode=jwt ;;
  rs256)
    if [ -z "$jwt" ] && [ -n "$rsa_key" ]; then
      sub=${SMOKE_SUBJECT:-${DEMO_SUBJECT:-}}
      [ -n "$sub" ] || unsupported "no subject for the RS256 token (SMOKE_SUBJECT or DEMO_SUBJECT)"
      declare -a kidarg=()
      [ -n "$kid" ] && kidarg=(--kid "$kid")
      jwt=$(python3 "$root/scripts/gen-jwt" --sub "$sub" --rsa-key "$rsa_key" "${kidarg[@]}" \
        --iss "${JWT_ISSUER:-mcp-auth}" --aud "${JWT_AUDIENCE:-mcp-agents}") ||
        unsupported "scripts/gen-jwt could not sign with $rsa_key"
    fi
    [ -n "$jwt" ] || unsupported "no RS256 token and no RSA key (--jwt/SMOKE_JWT or --rsa-key/RS256_KEY). \
The dev stack verifies RS256 only when started with JWT_JWKS_FILE or JWT_JWKS_URL (see docs/auth.md)"
    want_mode=jwt ;;
  mtls)
    [ -n "$cert" ] && [ -n "$ckey" ] ||
      unsupported "no client certificate (--cert/--key or MTLS_CLIENT_CERT/MTLS_CLIENT_KEY); \
the dev stack (scripts/dev.sh) has no TLS front, so it has no mTLS to test"
    case $url in https://*) ;; *) unsupported "$url is not https://: mTLS needs a TLS front (MTLS_URL)" ;; esac
    for f in "$cert" "$ckey" ${cacert:+"$cacert"}; do [ -r "$f" ] || unsupported "cannot read $f"; done
    auth=(--cert "$cert" --key "$ckey")
    [ -n "$cacert" ] && auth+=(--cacert "$cacert")
    want_mode=mtls ;;
esac
if [ "$mode" = hs256 ] || [ "$mode" = rs256 ]; then
  # The token's header must name the algorithm of the mode, or the mode
  # would pass with the wrong kind of token.
  hdr=$(printf '%s' "${jwt%%.*}" | tr '_-' '/+')
  while [ $((${#hdr} % 4)) -ne 0 ]; do hdr+="="; done
  alg=$(printf '%s' "$hdr" | base64 -d 2>/dev/null | jq -r '.alg // empty' 2>/dev/null)
  want_alg=HS256; [ "$mode" = rs256 ] && want_alg=RS256
  [ "$alg" = "$want_alg" ] || unsupported "the token is not $want_alg (its header says '${alg:-?}')"
  auth=(-H "Authorization: Bearer $jwt")
fi
# The TLS material for the unauthenticated probes too.
declare -a tls=()
[ "$mode" = mtls ] && tls=("${auth[@]}")

fails=0 passes=0
pass() { passes=$((passes + 1)); echo "PASS [$mode] $*"; }
fail() { fails=$((fails + 1)); echo "FAIL [$mode] $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# req NAME METHOD PATH [BODY] : status code in $code, body in $tmp/NAME.
req() {
  local name=$1 method=$2 path=$3 body=${4:-}
  local -a extra=()
  [ -n "$body" ] && extra=(-H 'Content-Type: application/json' --data-binary "$body")
  code=$(curl -sS --max-time 10 -o "$tmp/$name" -w '%{http_code}' -X "$method" \
    "${auth[@]}" "${extra[@]}" "$url$path" 2>"$tmp/$name.err") || code=000
}
# rpc NAME BODY : MCP JSON-RPC over Streamable HTTP, session header kept.
session=""
rpc() {
  local name=$1 body=$2
  local -a extra=(-H 'MCP-Protocol-Version: 2025-06-18')
  [ -n "$session" ] && extra+=(-H "Mcp-Session-Id: $session")
  code=$(curl -sS --max-time 10 -o "$tmp/$name" -D "$tmp/$name.hdr" -w '%{http_code}' -X POST \
    "${auth[@]}" "${extra[@]}" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' --data-binary "$body" \
    "$url/mcp/rpc" 2>"$tmp/$name.err") || code=000
}
why() { # a short reason: HTTP code and the error code of a JSON answer
  local e
  e=$(jq -r '(.error.code? // .error? // empty) | tostring' "$tmp/$1" 2>/dev/null | head -c 80)
  [ "$code" = 000 ] && e=$(head -c 160 "$tmp/$1.err")
  printf 'HTTP %s%s' "$code" "${e:+ ($e)}"
}

echo "smoke: $url, mode $mode"
code=$(curl -sS --max-time 10 -o "$tmp/h" -w '%{http_code}' "${tls[@]}" "$url/healthz" 2>"$tmp/h.err") || code=000
[ "$code" = 200 ] && pass "healthz" || fail "healthz: $(why h)"
code=$(curl -sS --max-time 10 -o "$tmp/r" -w '%{http_code}' "${tls[@]}" "$url/readyz" 2>"$tmp/r.err") || code=000
[ "$code" = 200 ] && pass "readyz" || fail "readyz: $(why r)"

req whoami GET /whoami
subject=$(jq -r '.subject // empty' "$tmp/whoami" 2>/dev/null)
got_mode=$(jq -r '.auth_mode // empty' "$tmp/whoami" 2>/dev/null)
if [ "$code" = 200 ] && [ -n "$subject" ] && [ "$got_mode" = "$want_mode" ]; then
  pass "whoami: $subject ($got_mode)"
else
  fail "whoami: $(why whoami), subject '${subject}', auth_mode '${got_mode}' (want $want_mode)"
fi

# KV round trip under smoke/ in the caller's namespace; a fresh value,
# so an old answer cannot pass.
probe=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
path=smoke/probe-$probe
req put PUT "/secrets/$path" "$(jq -cn --arg p "$probe" '{data: {probe: $p}}')"
[ "$code" = 200 ] && pass "kv write $path" || fail "kv write $path: $(why put)"
req get GET "/secrets/$path"
got=$(jq -r '.data.probe // empty' "$tmp/get" 2>/dev/null)
[ "$code" = 200 ] && [ "$got" = "$probe" ] && pass "kv read back" || fail "kv read back: $(why get), value matches: $([ "$got" = "$probe" ] && echo yes || echo no)"

rpc init '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"smoke.sh","version":"1"}}}'
session=$(tr -d '\r' <"$tmp/init.hdr" 2>/dev/null | awk -F': *' 'tolower($1)=="mcp-session-id"{print $2}' | tail -1)
v=$(jq -r '.result.protocolVersion // empty' "$tmp/init" 2>/dev/null)
[ "$code" = 200 ] && [ "$v" = 2025-06-18 ] && pass "mcp initialize" || fail "mcp initialize: $(why init)"
rpc list '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
n=$(jq -r '.result.tools | length' "$tmp/list" 2>/dev/null || echo 0)
has=$(jq -r '[.result.tools[]?.name] | index("kv_read") != null' "$tmp/list" 2>/dev/null)
[ "$code" = 200 ] && [ "$has" = true ] && pass "mcp tools/list: $n tools, kv_read among them" ||
  fail "mcp tools/list: $(why list), kv_read listed: ${has:-no}"
rpc call "$(jq -cn --arg p "$path" '{jsonrpc:"2.0",id:3,method:"tools/call",params:{name:"kv_read",arguments:{path:$p}}}')"
got=$(jq -r 'if .result.isError then "" else .result.structuredContent.data.probe // empty end' "$tmp/call" 2>/dev/null)
[ "$code" = 200 ] && [ "$got" = "$probe" ] && pass "mcp tools/call kv_read" ||
  fail "mcp tools/call kv_read: $(why call), value matches: $([ "$got" = "$probe" ] && echo yes || echo no)"

req del DELETE "/secrets/$path"
[ "$code" = 200 ] && pass "kv delete" || fail "kv delete: $(why del)"
req gone GET "/secrets/$path"
[ "$code" = 404 ] && pass "kv read after delete: 404" || fail "kv read after delete: $(why gone) (want 404)"

echo "smoke [$mode]: $passes passed, $fails failed"
[ "$fails" = 0 ]
