#!/usr/bin/env bash
# check-deploy.sh : the checks every deployment guide ends with, usable
# against any running deployment.
#
#   scripts/check-deploy.sh --url https://HOST:PORT --cacert CA.pem \
#       --cert AGENT.crt --key AGENT.key [--subject NAME] \
#       [--health http://127.0.0.1:HEALTH_PORT]
#
#   1. the agent certificate yields an mTLS identity (GET /whoami)
#   2. without a certificate there is no identity (handshake refused,
#      or a 4xx answer)
#   3. a KV round trip in the agent's namespace: PUT, GET (same data),
#      DELETE, GET = 404
#   4. /readyz answers 200 (Vault reachable, token accepted)
#   5. with --health: the loopback health server answers /healthz,
#      /readyz and /metrics without a certificate, and nothing else
# Prints one line per check; exits 1 when any failed. Needs curl and jq.
set -uo pipefail

url="" cacert="" cert="" key="" subject="" health=""
while [ $# -gt 0 ]; do
  case $1 in
    --url) url=$2; shift 2 ;;
    --cacert) cacert=$2; shift 2 ;;
    --cert) cert=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --subject) subject=$2; shift 2 ;;
    --health) health=$2; shift 2 ;;
    *) echo "check-deploy.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$url" ] && [ -n "$cert" ] && [ -n "$key" ] ||
  { echo "usage: check-deploy.sh --url URL --cert CRT --key KEY [--cacert CA] [--subject S] [--health URL]" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
ok() { printf 'ok     %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL   %s: %s\n' "$1" "$2"; }

CURL=(curl -sS --max-time 10)
[ -n "$cacert" ] && CURL+=(--cacert "$cacert")
CERT=(--cert "$cert" --key "$key")

# req ARGS... : sets STATUS (000 = no HTTP answer) and BODY (a file).
BODY=$work/body
req() {
  : >"$BODY"
  STATUS=$("${CURL[@]}" -o "$BODY" -w '%{http_code}' "$@" 2>"$work/err") || true
  [ -n "$STATUS" ] || STATUS=000
}
jb() { jq -r "$1" "$BODY" 2>/dev/null; }
snippet() { head -c 200 "$BODY" | tr '\n' ' '; }

# 1. identity from the certificate
req "${CERT[@]}" "$url/whoami"
if [ "$STATUS" = 200 ] && [ "$(jb .auth_mode)" = mtls ] &&
   { [ -z "$subject" ] || [ "$(jb .subject)" = "$subject" ]; }; then
  ok "mTLS identity: $(jb .subject)"
else
  bad "mTLS identity" "status $STATUS $(snippet) $(head -c 200 "$work/err")"
fi

# 2. no certificate, no identity
req "$url/whoami"
case $STATUS in
  000) ok "no certificate: refused in the handshake" ;;
  4??) ok "no certificate: refused ($STATUS)" ;;
  *) bad "no certificate" "status $STATUS $(snippet)" ;;
esac

# 3. KV round trip in the agent's own namespace
path="deploy-check/$(date +%s)-$$"
value="probe-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
jq -cn --arg v "$value" '{data:{probe:$v}}' >"$work/put"
req "${CERT[@]}" -X PUT -H 'Content-Type: application/json' --data-binary @"$work/put" "$url/secrets/$path"
if [[ $STATUS == 20? ]]; then
  req "${CERT[@]}" "$url/secrets/$path"
  got=$(jb '(.data.data? // .data).probe // empty')
  if [ "$STATUS" = 200 ] && [ "$got" = "$value" ]; then
    req "${CERT[@]}" -X DELETE "$url/secrets/$path"
    if [[ $STATUS == 20? ]]; then
      req "${CERT[@]}" "$url/secrets/$path"
      if [ "$STATUS" = 404 ]; then ok "KV round trip (write, read back, delete)"
      else bad "KV round trip" "read after delete: $STATUS"; fi
    else
      bad "KV round trip" "delete: $STATUS $(snippet)"
    fi
  else
    bad "KV round trip" "read back: $STATUS $(snippet)"
  fi
else
  bad "KV round trip" "write: $STATUS $(snippet)"
fi

# 4. readiness through the front server
req "${CERT[@]}" "$url/readyz"
if [ "$STATUS" = 200 ] && [ "$(jb .ok)" = true ]; then ok "/readyz: ready"
else bad "/readyz" "status $STATUS $(snippet)"; fi

# 5. the loopback health server
if [ -n "$health" ]; then
  hc=(curl -sS --max-time 10)
  for p in /healthz /readyz; do
    STATUS=$("${hc[@]}" -o "$BODY" -w '%{http_code}' "$health$p" 2>"$work/err") || STATUS=000
    if [ "$STATUS" = 200 ] && [ "$(jb .ok)" = true ]; then ok "health server $p"
    else bad "health server $p" "status $STATUS $(snippet)"; fi
  done
  STATUS=$("${hc[@]}" -o "$BODY" -w '%{http_code}' "$health/metrics" 2>"$work/err") || STATUS=000
  if [ "$STATUS" = 200 ] && grep -q '^# TYPE [a-z_]*http_requests_total counter' "$BODY"; then
    ok "health server /metrics"
  else
    bad "health server /metrics" "status $STATUS $(snippet)"
  fi
  STATUS=$("${hc[@]}" -o "$BODY" -w '%{http_code}' "$health/whoami" 2>"$work/err") || STATUS=000
  if [ "$STATUS" = 404 ] || [ "$STATUS" = 403 ]; then ok "health server serves nothing else ($STATUS)"
  else bad "health server /whoami" "want 403/404, got $STATUS"; fi
fi

[ "$failed" = 0 ] || { echo "check-deploy: $failed check(s) failed"; exit 1; }
echo "check-deploy: all checks passed"
