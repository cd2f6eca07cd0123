#!/usr/bin/env bash
# checks.sh : the end-to-end checks every front web server must pass.
# Run by run-server.sh with the stack already up; talks only to
# https://localhost:$E2E_PORT (resolved to 127.0.0.1) through the server.
#
# Env (set by run-server.sh):
#   E2E_SERVER E2E_PORT E2E_CERTS          name, port, dir of gen-certs.sh output
#   E2E_API_KEY E2E_SUBJECT                first demo agent
#   E2E_API_KEY_2 E2E_SUBJECT_2            second demo agent
#   E2E_JWT_SECRET                         HS256 secret the bridge trusts
#   E2E_MTLS_SUBJECT                       CN of certs/client.crt
#   E2E_MODE=optional|required             client certificates optional
#                                          (full list) or required (short list)
#   E2E_ONLY="auth sse"                    only these check groups
# Prints one line per check and a summary; exits 1 if any check failed.
set -uo pipefail

port=${E2E_PORT:?}
certs=${E2E_CERTS:?}
mode=${E2E_MODE:-optional}
base="https://localhost:$port"
work=$(mktemp -d)
sse_pids=()
cleanup() {
  local p
  for p in "${sse_pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
failures=()
ok() { passed=$((passed + 1)); printf 'ok     %s\n' "$1"; }
bad() {
  failed=$((failed + 1)); failures+=("$1")
  printf 'FAIL   %s: %s\n' "$1" "$2"
}

# Every request: TLS to "localhost" (Caddy enforces SNI = Host), pinned to
# 127.0.0.1, trusting only the test CA.
CURL=(curl -sS --resolve "localhost:$port:127.0.0.1" --cacert "$certs/ca.crt"
  --max-time 10)
H1=(--http1.1)
H2=(--http2)
CERT=(--cert "$certs/client.crt" --key "$certs/client.key")
ROGUE=(--cert "$certs/rogue.crt" --key "$certs/rogue.key")
FORGED=(-H "X-SSL-Client-S-DN: CN=admin,O=Forged" -H "X-SSL-Client-Verify: SUCCESS"
  -H "SSL-Client-S-DN: CN=admin_dash" -H "SSL-Client-Verify: SUCCESS"
  -H "SSL_CLIENT_S_DN: CN=admin_underscore" -H "SSL_CLIENT_VERIFY: SUCCESS")

# req ARGS... : one request. Sets STATUS (000 when the connection or the
# handshake failed), VERSION (1.1 / 2), BODY (file) and HEADERS (file).
req() {
  BODY=$work/body
  HEADERS=$work/headers
  : >"$BODY"; : >"$HEADERS"
  local out
  out=$("${CURL[@]}" -o "$BODY" -D "$HEADERS" -w '%{http_code} %{http_version}' "$@" 2>"$work/err")
  STATUS=${out%% *}
  VERSION=${out##* }
  [ -n "$STATUS" ] || STATUS=000
}
jbody() { jq -r "$1" "$BODY" 2>/dev/null; }
header() { grep -i "^$1:" "$HEADERS" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }

# b64url : base64url without padding, stdin to stdout.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# mint_jwt SUBJECT [SECRET] : HS256 token with iss/aud the bridge expects.
mint_jwt() {
  local sub=$1 secret=${2:-$E2E_JWT_SECRET} now h p sig
  now=$(date +%s)
  h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  p=$(jq -cn --arg sub "$sub" --argjson now "$now" \
    '{sub:$sub, iss:"mcp-auth", aud:"mcp-agents", iat:$now, nbf:$now,
      exp:($now+300), scopes:["read","write","delete","list"]}' | b64url)
  sig=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
  printf '%s.%s.%s' "$h" "$p" "$sig"
}

# whoami_is NAME SUBJECT MODE ARGS... : GET /whoami must answer 200 with
# that subject and auth_mode.
whoami_is() {
  local name=$1 sub=$2 m=$3
  shift 3
  req "$@" "$base/whoami"
  local got_sub got_mode
  got_sub=$(jbody .subject); got_mode=$(jbody .auth_mode)
  if [ "$STATUS" = 200 ] && [ "$got_sub" = "$sub" ] && [ "$got_mode" = "$m" ]; then
    ok "$name"
  else
    bad "$name" "want 200 $sub/$m, got $STATUS ${got_sub:-?}/${got_mode:-?} $(head -c 200 "$BODY")"
  fi
}

# no_identity NAME ARGS... : /whoami must not yield an identity: the
# handshake fails, or the server refuses (4xx), or the bridge says 401.
no_identity() {
  local name=$1
  shift
  req "$@" "$base/whoami"
  case $STATUS in
    000) ok "$name (connection refused: $(head -c 80 "$work/err" | tr '\n' ' '))" ;;
    200) bad "$name" "got an identity: $(head -c 200 "$BODY")" ;;
    4??) ok "$name ($STATUS)" ;;
    *) bad "$name" "unexpected status $STATUS $(head -c 200 "$BODY")" ;;
  esac
}

# ---------------------------------------------------------------------------
check_health() {
  local v
  for v in 1.1 2; do
    local -a hv=("${H1[@]}"); [ "$v" = 2 ] && hv=("${H2[@]}")
    req "${hv[@]}" "$@" "$base/healthz"
    if [ "$STATUS" = 200 ] && [ "$VERSION" = "$v" ] && [ "$(jbody .ok)" = true ]; then
      ok "healthz over HTTP/$v"
    else
      bad "healthz over HTTP/$v" "status $STATUS version $VERSION body $(head -c 200 "$BODY")"
    fi
  done
  req "${H2[@]}" "$@" "$base/readyz"
  if [ "$STATUS" = 200 ]; then ok "readyz (Vault reachable through the bridge)"
  else bad "readyz" "status $STATUS $(head -c 300 "$BODY")"; fi
}

check_static_and_headers() {
  req "$base/docs/"
  if [ "$STATUS" = 200 ] && grep -q static-docs-marker "$BODY"; then
    ok "static /docs/ served by the web server"
  else
    bad "static /docs/" "status $STATUS $(head -c 200 "$BODY")"
  fi
  # Each security header exactly once: the web server sets them, the
  # bridge does not (docs/deploy.md section 6), on app answers, app
  # errors and static files alike.
  local h url wrong="" n
  for url in "$base/healthz" "$base/whoami" "$base/docs/"; do
    req "$url"
    for h in Strict-Transport-Security X-Content-Type-Options X-Frame-Options \
             Referrer-Policy; do
      n=$(grep -ci "^$h:" "$HEADERS" || true)
      [ "$n" = 1 ] || wrong="$wrong ${url#"$base"}:$h=$n"
    done
  done
  if [ -z "$wrong" ]; then ok "security headers once each on app, error and static responses"
  else bad "security headers" "expected once each, got$wrong"; fi
  # The operator console: the same headers once each plus one strict
  # Content-Security-Policy (docs/console.md), set by the web server.
  req "$base/console/"
  wrong=""
  grep -q console-marker "$BODY" || wrong=" status $STATUS, no console page"
  for h in Strict-Transport-Security X-Content-Type-Options X-Frame-Options \
           Referrer-Policy Content-Security-Policy; do
    n=$(grep -ci "^$h:" "$HEADERS" || true)
    [ "$n" = 1 ] || wrong="$wrong $h=$n"
  done
  local csp d
  csp=$(header Content-Security-Policy)
  for d in "default-src 'self'" "script-src 'self'" "object-src 'none'" \
           "frame-ancestors 'none'" "base-uri 'none'"; do
    case $csp in *"$d"*) ;; *) wrong="$wrong missing:$d" ;; esac
  done
  case $csp in *unsafe-*) wrong="$wrong unsafe:$csp" ;; esac
  if [ -z "$wrong" ]; then ok "/console/ served with security headers and a strict CSP"
  else bad "/console/ CSP" "$wrong"; fi
  # The API docs: /docs/ under the same strict policy; /redoc/ static too,
  # its policy relaxed for styles and a blob: worker only.
  req "$base/docs/"
  csp=$(header Content-Security-Policy)
  case $csp in *"script-src 'self';"*"object-src 'none'"*) ;; *) wrong=" /docs/ CSP: $csp" ;; esac
  case $csp in *unsafe-*) wrong="$wrong /docs/ unsafe: $csp" ;; esac
  req "$base/redoc/"
  grep -q redoc-marker "$BODY" || wrong="$wrong /redoc/ status $STATUS, not the static page"
  csp=$(header Content-Security-Policy)
  case $csp in *"script-src 'self';"*"style-src 'self' 'unsafe-inline';"*"worker-src 'self' blob:;"*"object-src 'none'"*) ;;
    *) wrong="$wrong /redoc/ CSP: $csp" ;; esac
  case $csp in *unsafe-eval*) wrong="$wrong /redoc/ eval" ;; esac
  if [ -z "$wrong" ]; then ok "/docs/ and /redoc/ served with their CSP"
  else bad "API docs CSP" "$wrong"; fi
}

check_auth() {
  req "$base/whoami"
  if [ "$STATUS" = 401 ] && [ -n "$(header WWW-Authenticate)" ]; then
    ok "no credentials: 401 with WWW-Authenticate"
  else
    bad "no credentials" "status $STATUS, WWW-Authenticate '$(header WWW-Authenticate)'"
  fi
  whoami_is "API key (HTTP/1.1)" "$E2E_SUBJECT" api_key "${H1[@]}" -H "X-API-Key: $E2E_API_KEY"
  whoami_is "API key (HTTP/2)" "$E2E_SUBJECT" api_key "${H2[@]}" -H "X-API-Key: $E2E_API_KEY"
  whoami_is "second API key" "$E2E_SUBJECT_2" api_key -H "X-API-Key: $E2E_API_KEY_2"
  no_identity "wrong API key" -H "X-API-Key: not-a-key"

  local jwt
  jwt=$(mint_jwt agent_jwt)
  whoami_is "JWT HS256 (HTTP/1.1)" agent_jwt jwt "${H1[@]}" -H "Authorization: Bearer $jwt"
  whoami_is "JWT HS256 (HTTP/2)" agent_jwt jwt "${H2[@]}" -H "Authorization: Bearer $jwt"
  no_identity "JWT signed with another secret" \
    -H "Authorization: Bearer $(mint_jwt agent_jwt "$(openssl rand -hex 32)")"

  whoami_is "mTLS client certificate (HTTP/1.1)" "$E2E_MTLS_SUBJECT" mtls "${H1[@]}" "${CERT[@]}"
  whoami_is "mTLS client certificate (HTTP/2)" "$E2E_MTLS_SUBJECT" mtls "${H2[@]}" "${CERT[@]}"
  no_identity "certificate from another CA" "${ROGUE[@]}"
  no_identity "no certificate, no credentials" "${H2[@]}"
  whoami_is "no certificate + API key = api_key, not mtls" "$E2E_SUBJECT" api_key \
    -H "X-API-Key: $E2E_API_KEY"
  # The certificate and an API key together: either identity is fine for
  # the bridge to pick, as long as it is one of the two real ones.
  req "${CERT[@]}" -H "X-API-Key: $E2E_API_KEY" "$base/whoami"
  case "$STATUS $(jbody .subject)" in
    "200 $E2E_MTLS_SUBJECT" | "200 $E2E_SUBJECT") ok "certificate + API key: $(jbody .auth_mode)" ;;
    *) bad "certificate + API key" "status $STATUS $(head -c 200 "$BODY")" ;;
  esac
}

check_forged() {
  local v
  for v in 1.1 2; do
    local -a hv=("${H1[@]}"); [ "$v" = 2 ] && hv=("${H2[@]}")
    no_identity "forged DN headers alone (HTTP/$v)" "${hv[@]}" "${FORGED[@]}"
    whoami_is "forged DN headers + API key (HTTP/$v)" "$E2E_SUBJECT" api_key "${hv[@]}" \
      "${FORGED[@]}" -H "X-API-Key: $E2E_API_KEY"
    whoami_is "forged DN headers + real certificate (HTTP/$v)" "$E2E_MTLS_SUBJECT" mtls \
      "${hv[@]}" "${FORGED[@]}" "${CERT[@]}"
    no_identity "forged DN headers + wrong-CA certificate (HTTP/$v)" "${hv[@]}" \
      "${FORGED[@]}" "${ROGUE[@]}"
  done
}

# ---- MCP over HTTP --------------------------------------------------------
mcp_session=""
# mcp_post JSON ARGS... : POST /mcp/rpc; the JSON-RPC reply (from a JSON or
# an SSE-framed answer) ends up in $BODY.
mcp_post() {
  local json=$1
  shift
  local -a sess=()
  [ -n "$mcp_session" ] && sess=(-H "Mcp-Session-Id: $mcp_session")
  printf '%s' "$json" >"$work/rpc-in"
  req -X POST -H "Content-Type: application/json" \
    -H "Accept: application/json, text/event-stream" \
    -H "MCP-Protocol-Version: 2025-06-18" "${sess[@]}" \
    --data-binary @"$work/rpc-in" "$@" "$base/mcp/rpc"
  if grep -qi '^content-type: *text/event-stream' "$HEADERS"; then
    sed -n 's/^data: \{0,1\}//p' "$BODY" | tail -1 >"$work/rpc-out"
    cp "$work/rpc-out" "$BODY"
  fi
}

mcp_init() {
  mcp_session=""
  mcp_post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}' "$@"
  [ "$STATUS" = 200 ] || return 1
  mcp_session=$(header Mcp-Session-Id)
  mcp_post '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$@"
  return 0
}

# kv_get PATH ARGS... -> $BODY; prints the secret's data object (compact).
kv_data() { jq -c '(.data.data? // .data) | objects' "$BODY" 2>/dev/null; }

check_bodies() {
  local v auth=(-H "X-API-Key: $E2E_API_KEY")
  local big_written=0
  # ~300 KiB of payload: above mod_fcgid's 128 KiB default request limit.
  openssl rand -hex 153600 | tr -d '\n' >"$work/big"
  for v in 1.1 2; do
    local -a hv=("${H1[@]}"); [ "$v" = 2 ] && hv=("${H2[@]}")
    local p="e2e/$E2E_SERVER/h${v%.*}"
    local data='{"user":"svc","password":"p@ss w0rd; \"quoted\" ünïcode","n":42}'
    jq -cn --argjson d "$data" '{data:$d}' >"$work/put-small"
    req "${hv[@]}" "${auth[@]}" -X PUT -H "Content-Type: application/json" \
      --data-binary @"$work/put-small" "$base/secrets/$p/small"
    if [[ $STATUS == 20? ]] && [ "$VERSION" = "$v" ]; then
      req "${hv[@]}" "${auth[@]}" "$base/secrets/$p/small"
      if [ "$STATUS" = 200 ] && [ "$(kv_data)" = "$(jq -c . <<<"$data")" ]; then
        ok "PUT small body intact (HTTP/$v)"
      else
        bad "PUT small body (HTTP/$v)" "read back $STATUS $(head -c 200 "$BODY")"
      fi
    else
      bad "PUT small body (HTTP/$v)" "status $STATUS version $VERSION $(head -c 200 "$BODY")"
    fi

    jq -cn --rawfile b "$work/big" '{data:{blob:$b}}' >"$work/put-big"
    req "${hv[@]}" "${auth[@]}" -X PUT -H "Content-Type: application/json" \
      --data-binary @"$work/put-big" "$base/secrets/$p/big"
    if [[ $STATUS == 20? ]]; then
      req "${hv[@]}" "${auth[@]}" "$base/secrets/$p/big"
      jq -j '(.data.data? // .data).blob // empty' "$BODY" >"$work/big-back" 2>/dev/null
      if [ "$STATUS" = 200 ] && cmp -s "$work/big" "$work/big-back"; then
        ok "PUT $(stat -c %s "$work/put-big")-byte body intact (HTTP/$v)"
        big_written=1
      else
        bad "PUT big body (HTTP/$v)" "read back $STATUS, $(stat -c %s "$work/big-back") of $(stat -c %s "$work/big") bytes"
      fi
    else
      bad "PUT big body (HTTP/$v)" "status $STATUS $(head -c 200 "$BODY")"
    fi

    # POST: an MCP tool call carrying the secret, read back over REST.
    if mcp_init "${hv[@]}" "${auth[@]}"; then
      local args
      args=$(jq -cn --arg path "$p/posted" --argjson d "$data" \
        '{jsonrpc:"2.0",id:2,method:"tools/call",params:{name:"kv.write",arguments:{path:$path,data:$d}}}')
      mcp_post "$args" "${hv[@]}" "${auth[@]}"
      if [ "$STATUS" = 200 ] && [ "$(jbody '.result.isError // false')" = false ] &&
         [ "$(jbody '.result | type')" = object ]; then
        req "${hv[@]}" "${auth[@]}" "$base/secrets/$p/posted"
        if [ "$STATUS" = 200 ] && [ "$(kv_data)" = "$(jq -c . <<<"$data")" ]; then
          ok "POST /mcp/rpc kv.write body intact (HTTP/$v)"
        else
          bad "POST kv.write (HTTP/$v)" "read back $STATUS $(head -c 200 "$BODY")"
        fi
      else
        bad "POST kv.write (HTTP/$v)" "status $STATUS $(head -c 300 "$BODY")"
      fi
    else
      bad "POST /mcp/rpc initialize (HTTP/$v)" "status $STATUS $(head -c 300 "$BODY")"
    fi

    req "${hv[@]}" "${auth[@]}" -X DELETE "$base/secrets/$p/small"
    if [[ $STATUS == 20? ]]; then
      req "${hv[@]}" "${auth[@]}" "$base/secrets/$p/small"
      if [ "$STATUS" = 404 ]; then ok "DELETE then GET = 404 (HTTP/$v)"
      else bad "DELETE (HTTP/$v)" "GET after DELETE: $STATUS"; fi
    else
      bad "DELETE (HTTP/$v)" "status $STATUS $(head -c 200 "$BODY")"
    fi
  done
  # The other agent must not see the first one's secret (only meaningful
  # once the first agent could write it).
  [ "$big_written" = 1 ] || return 0
  req -H "X-API-Key: $E2E_API_KEY_2" "$base/secrets/e2e/$E2E_SERVER/h1/big"
  if [ "$STATUS" = 404 ] || [ "$STATUS" = 403 ]; then
    ok "second agent cannot read the first agent's secret ($STATUS)"
  else
    bad "namespace isolation" "second agent got $STATUS"
  fi
}

# ---- SSE --------------------------------------------------------------------
# Opens GET /mcp/sse, timestamps every line as it arrives, makes a tool call
# and requires its tool.completed event within 1 s of the call's answer.
check_sse() {
  local v auth=(-H "X-API-Key: $E2E_API_KEY")
  for v in 1.1 2; do
    local -a hv=("${H1[@]}"); [ "$v" = 2 ] && hv=("${H2[@]}")
    local fifo=$work/sse-$v.fifo out=$work/sse-$v.log t0 t_first="" t_done t_evt="" i
    mkfifo "$fifo"
    : >"$out"
    t0=$EPOCHREALTIME
    "${CURL[@]}" --max-time 20 -N "${hv[@]}" "${auth[@]}" -H "Accept: text/event-stream" \
      "$base/mcp/sse" >"$fifo" 2>/dev/null &
    local cpid=$!
    sse_pids+=("$cpid")
    (while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done <"$fifo" >"$out") &
    sse_pids+=("$!")
    # First bytes of the stream (a comment, priming event or keepalive).
    for ((i = 0; i < 20; i++)); do
      [ -s "$out" ] && break
      sleep 0.05
    done
    [ -s "$out" ] && t_first=$(head -1 "$out" | cut -d' ' -f1)
    if [ -n "$t_first" ]; then
      ok "SSE first bytes after $(awk -v a="$t0" -v b="$t_first" 'BEGIN{printf "%.3f", b-a}') s (HTTP/$v)"
    else
      bad "SSE first bytes (HTTP/$v)" "nothing within 1 s (buffered, or no initial comment)"
    fi
    # A tool call by the same subject, over a separate connection.
    if mcp_init "${auth[@]}"; then
      mcp_post '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"kv.read","arguments":{"path":"e2e/sse-probe"}}}' "${auth[@]}"
      t_done=$EPOCHREALTIME
      for ((i = 0; i < 40; i++)); do
        grep -q 'tool.completed' "$out" && break
        sleep 0.05
      done
      t_evt=$(grep -m1 'tool.completed' "$out" | cut -d' ' -f1)
      if [ -n "$t_evt" ]; then
        ok "SSE tool.completed event $(awk -v a="$t_done" -v b="$t_evt" 'BEGIN{printf "%.3f", b-a}') s after the call (HTTP/$v)"
      else
        bad "SSE tool.completed (HTTP/$v)" "no event within 2 s; stream so far: $(cut -d' ' -f2- "$out" | head -c 200 | tr '\n' '|')"
      fi
    else
      bad "SSE tool call (HTTP/$v)" "initialize failed: $STATUS"
    fi
    kill "$cpid" 2>/dev/null
    wait "$cpid" 2>/dev/null
    rm -f "$fifo"
  done
}

check_required() {
  no_identity "required: no certificate is refused" "${H2[@]}" -H "X-API-Key: $E2E_API_KEY"
  req "$base/healthz"
  if [ "$STATUS" != 200 ]; then ok "required: even /healthz needs a certificate ($STATUS)"
  else bad "required: /healthz without certificate" "got 200"; fi
  whoami_is "required: mTLS client certificate (HTTP/1.1)" "$E2E_MTLS_SUBJECT" mtls "${H1[@]}" "${CERT[@]}"
  whoami_is "required: mTLS client certificate (HTTP/2)" "$E2E_MTLS_SUBJECT" mtls "${H2[@]}" "${CERT[@]}"
  no_identity "required: certificate from another CA" "${ROGUE[@]}"
  whoami_is "required: forged DN headers + real certificate" "$E2E_MTLS_SUBJECT" mtls \
    "${FORGED[@]}" "${CERT[@]}"
}

# The operator smoke test in its mTLS mode, against this TLS front with the
# test client certificate (scripts/smoke.sh; docs/operator-scripts.md).
check_smoke_mtls() {
  local root out rc
  root=$(cd "$(dirname "$0")/../.." && pwd)
  out=$(bash "$root/scripts/smoke.sh" --mtls --url "$base" --cert "$certs/client.crt" \
    --key "$certs/client.key" --cacert "$certs/ca.crt" 2>&1)
  rc=$?
  if [ "$rc" = 0 ] && grep -q "subject $E2E_MTLS_SUBJECT\|$E2E_MTLS_SUBJECT" <<<"$out" \
    && ! grep -q FAIL <<<"$out"; then
    ok "scripts/smoke.sh --mtls: $(grep -c '^PASS' <<<"$out") checks passed"
  else
    bad "scripts/smoke.sh --mtls" "rc $rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"
  fi
}

echo "-- $E2E_SERVER ($mode client certificates), $base"
if [ "$mode" = required ]; then
  check_required
  check_smoke_mtls
else
  # E2E_ONLY="sse bodies" runs a subset (debugging).
  for c in ${E2E_ONLY:-health static_and_headers auth forged bodies sse smoke_mtls}; do
    "check_$c"
  done
fi

echo "-- $E2E_SERVER ($mode): $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  printf '   failed: %s\n' "${failures[@]}"
  exit 1
fi
