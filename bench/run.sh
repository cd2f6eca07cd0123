#!/usr/bin/env bash
# bench/run.sh [scenario...] - measure the bridge's cost per request.
#
# Starts its own stack on 127.0.0.1 (vault-sim, the bridge as a spawn-fcgi
# pool behind lighttpd and nginx, the ceiling responder behind the same
# servers, the Python peer under uvicorn), runs wrk per scenario and prints
# one table: req/s, p50, p99, CPU microseconds per request of the serving
# processes (user+sys from /proc), RSS per worker, and the target ratios.
# The table is written to docs/benchmarks.md. Everything it starts is
# stopped on exit.
#
# Scenarios (default: all): healthz kv_read kv_read_jwt kv_write
#   transit_encrypt mcp_kv_read kv_read_child direct peer memory leaks
# "leaks" runs the memory mix against an ASan build of the bridge (built
# in build-asan/) and fails if LeakSanitizer or ASan report anything.
# The peer runs on Debian's /usr/bin/python3, where python3-fastapi lives.
# Environment: BENCH_SECONDS (8), BENCH_CONNECTIONS (32), BENCH_PROCS (2),
#   BENCH_THREADS (4), BENCH_OUT (docs/benchmarks.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib/deps.sh
# shellcheck disable=SC2086
vmb_ensure_packages $VMB_BUILD_PACKAGES wrk lighttpd nginx-light spawn-fcgi curl jq \
  openssl python3 python3-fastapi python3-uvicorn python3-hvac

secs=${BENCH_SECONDS:-8}
conns=${BENCH_CONNECTIONS:-32}
procs=${BENCH_PROCS:-2}
threads=${BENCH_THREADS:-4}
out_md=${BENCH_OUT:-docs/benchmarks.md}
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(healthz kv_read kv_read_jwt kv_write transit_encrypt mcp_kv_read kv_read_child direct peer memory leaks)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target vault-mcp-fcgi vault-sim bench-ceiling >/dev/null

work=$(mktemp -d /tmp/vmb-bench.XXXXXX)
chmod 755 "$work"   # nginx workers (user nobody) must reach the sockets
pids=()
cleanup() {
  for p in "${pids[@]}" $(bridge_pids) $(ceiling_pids); do kill "$p" 2>/dev/null || true; done
  kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  pkill -f "$work" 2>/dev/null || true
  sleep 0.3
  rm -rf "$work"
}
trap cleanup EXIT

vault_port=18600; lt_bridge=18610; lt_ceiling=18611; ng_bridge=18620; ng_ceiling=18621; peer_port=18630
subject=agent_alice
api_key=$(openssl rand -hex 24)
export VAULT_ADDR=http://127.0.0.1:$vault_port VAULT_TOKEN=root

wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# ---- Vault simulator, provisioned ----
build/bin/vault-sim --dev --dev-root-token-id root --dev-listen-address 127.0.0.1:$vault_port \
  > "$work/vault.log" 2>&1 &
pids+=($!)
wait_http "$VAULT_ADDR/v1/sys/health"
bash scripts/provision-vault.sh > "$work/provision.log" 2>&1
curl -sf -H "X-Vault-Token: root" -X POST -d '{"data":{"user":"bench","password":"not-a-real-one"}}' \
  "$VAULT_ADDR/v1/secret/data/mcp/$subject/bench/item" > /dev/null

# ---- an RSA key, its JWKS and an RS256 token for the JWT scenario ----
openssl genrsa -out "$work/jwt.key" 2048 2>/dev/null
python3 - "$work" "$subject" <<'PY'
import base64, json, subprocess, sys, time
work, subject = sys.argv[1], sys.argv[2]
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
mod = subprocess.run(["openssl", "rsa", "-in", work + "/jwt.key", "-noout", "-modulus"],
                     capture_output=True, text=True, check=True).stdout.strip().split("=")[1]
n = bytes.fromhex(mod)
jwk = {"kty": "RSA", "kid": "bench", "use": "sig", "alg": "RS256", "n": b64u(n), "e": "AQAB"}
open(work + "/jwks.json", "w").write(json.dumps({"keys": [jwk]}))
now = int(time.time())
head = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "bench"}).encode())
body = b64u(json.dumps({"sub": subject, "iss": "mcp-auth", "aud": "mcp-agents", "iat": now,
                        "exp": now + 3600, "scope": "read write delete list"}).encode())
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", work + "/jwt.key"],
                     input=(head + "." + body).encode(), capture_output=True, check=True).stdout
open(work + "/jwt.txt", "w").write(head + "." + body + "." + b64u(sig))
PY
jwt=$(cat "$work/jwt.txt")

# ---- the bridge pool and the ceiling, each a spawn-fcgi pool ----
bridge_bin=$root/build/bin/vault-mcp-fcgi
start_bridge() {   # $1 = extra env assignments (space separated)
  mkdir -p "$work/bridge"
  # shellcheck disable=SC2086
  env API_KEYS_JSON="{\"$api_key\":\"$subject\"}" JWT_JWKS_FILE="$work/jwks.json" \
      RATE_LIMIT_ENABLED=false LOG_DIR="$work/logs" RUN_DIR="$work/run" $1 \
    spawn-fcgi -s "$work/bridge.sock" -M 0666 -F "$procs" -d "$work/bridge" -- \
      "$bridge_bin" --threads "$threads" > /dev/null
}
stop_bridge() {
  local p
  for p in $(bridge_pids); do kill "$p"; done
  for _ in $(seq 50); do [ -z "$(bridge_pids)" ] && break; sleep 0.1; done
  rm -f "$work/bridge.sock"
}
pids_in() {   # processes named $1 whose working directory is $2
  local p
  for p in $(pgrep -x "$1" || true); do
    if [ "$(readlink "/proc/$p/cwd" 2>/dev/null || true)" = "$2" ]; then echo "$p"; fi
  done
  return 0
}
bridge_pids() { pids_in vault-mcp-fcgi "$work/bridge"; }
ceiling_pids() { pids_in bench-ceiling "$work/ceiling"; }
mkdir -p "$work/ceiling"
spawn-fcgi -s "$work/ceiling.sock" -M 0666 -F "$procs" -d "$work/ceiling" -- \
  "$root/build/bin/bench-ceiling" --threads "$threads" > /dev/null
start_bridge ""

# ---- front servers ----
cat > "$work/lighttpd.conf" <<CONF
server.modules = ("mod_fastcgi")
server.document-root = "$work"
server.port = $lt_bridge
server.bind = "127.0.0.1"
server.errorlog = "$work/lighttpd.err"
server.max-connections = 1024
\$SERVER["socket"] == "127.0.0.1:$lt_ceiling" {
  fastcgi.server = ("/" => (("socket" => "$work/ceiling.sock", "check-local" => "disable")))
}
else \$SERVER["socket"] == "127.0.0.1:$lt_bridge" {
  fastcgi.server = ("/" => (("socket" => "$work/bridge.sock", "check-local" => "disable")))
}
CONF
lighttpd -D -f "$work/lighttpd.conf" > /dev/null 2>&1 &
pids+=($!)
cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  fastcgi_temp_path $work/nginx-fcgi;
  server { listen 127.0.0.1:$ng_bridge;
    location / { include /etc/nginx/fastcgi_params; fastcgi_pass unix:$work/bridge.sock; } }
  server { listen 127.0.0.1:$ng_ceiling;
    location / { include /etc/nginx/fastcgi_params; fastcgi_pass unix:$work/ceiling.sock; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' > /dev/null 2>&1 &
pids+=($!)

# ---- the Python peer ----
(cd bench/peers && PEER_API_KEY=$api_key PEER_SUBJECT=$subject \
  exec /usr/bin/python3 -m uvicorn kv_peer:app --host 127.0.0.1 --port $peer_port --workers 2 \
  --log-level warning > "$work/peer.log" 2>&1) &
pids+=($!)
peer_pids() {   # the uvicorn supervisor and every worker it spawned
  local top
  top=$(pgrep -f "uvicorn kv_peer:app" || true)
  [ -z "$top" ] && return 0
  echo "$top"
  for p in $top; do pgrep -P "$p" || true; done
  return 0
}

wait_http "http://127.0.0.1:$lt_bridge/healthz"
wait_http "http://127.0.0.1:$ng_bridge/healthz"
wait_http "http://127.0.0.1:$ng_ceiling/"
wait_http "http://127.0.0.1:$peer_port/openapi.json"

# ---- measuring ----
ticks() {   # sum of utime+stime (clock ticks) of the given pids
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $t
}
# Largest worker's RSS and PSS in KiB ("rss/pss"). RSS counts every shared
# library page in full; PSS divides shared pages among their users, which
# is what a pool of workers really costs per worker.
rss_kib() {
  local p best=0 pss=0 r s
  for p in "$@"; do
    r=$(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    if [ "${r:-0}" -gt "$best" ]; then best=$r; pss=$s; fi
  done
  echo "$best/$pss"
}
hz=$(getconf CLK_TCK)

cat > "$work/post.lua" <<'LUA'
wrk.method = os.getenv("WRK_METHOD") or "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
for k, v in string.gmatch(os.getenv("WRK_HEADERS") or "", "([^:|]+):([^|]+)") do wrk.headers[k] = v end
LUA

declare -A R_RPS R_P50 R_P99 R_CPU R_RSS R_REQ
# run NAME URL PIDS_FN [METHOD BODY HEADERS]
run() {
  local name=$1 url=$2 pidfn=$3 method=${4:-GET} body=${5:-} hdrs=${6:-}
  local before after out reqs pidlist
  pidlist=$($pidfn)
  WRK_METHOD=$method WRK_BODY=$body WRK_HEADERS=$hdrs wrk -t2 -c"$conns" -d2s -s "$work/post.lua" "$url" > /dev/null
  before=$(ticks $pidlist)
  out=$(WRK_METHOD=$method WRK_BODY=$body WRK_HEADERS=$hdrs wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/post.lua" "$url")
  after=$(ticks $pidlist)
  if echo "$out" | grep -q "Non-2xx"; then
    echo "scenario $name: non-2xx answers:" >&2; echo "$out" >&2; exit 1
  fi
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  R_REQ[$name]=$reqs
  R_RPS[$name]=$(echo "$out" | awk '/Requests\/sec/{printf "%d", $2}')
  R_P50[$name]=$(echo "$out" | awk '$1=="50%"{print $2}')
  R_P99[$name]=$(echo "$out" | awk '$1=="99%"{print $2}')
  R_CPU[$name]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')
  R_RSS[$name]=$(rss_kib $pidlist)
  printf '%-28s %8s req/s  p50 %-8s p99 %-8s cpu %7s us/req  rss %s KiB\n' "$name" "${R_RPS[$name]}" \
    "${R_P50[$name]}" "${R_P99[$name]}" "${R_CPU[$name]}" "${R_RSS[$name]}"
}
vault_pids() { pids_in vault-sim "$root"; }

KEYH="X-API-Key:$api_key"
kv_url_ng="http://127.0.0.1:$ng_bridge/secrets/bench/item"
for s in "${scenarios[@]}"; do
  case $s in
  healthz)
    run "healthz lighttpd bridge" "http://127.0.0.1:$lt_bridge/healthz" bridge_pids
    run "healthz lighttpd ceiling" "http://127.0.0.1:$lt_ceiling/healthz" ceiling_pids
    run "healthz nginx bridge" "http://127.0.0.1:$ng_bridge/healthz" bridge_pids
    run "healthz nginx ceiling" "http://127.0.0.1:$ng_ceiling/healthz" ceiling_pids ;;
  kv_read) run "kv read api-key" "$kv_url_ng" bridge_pids GET "" "$KEYH" ;;
  kv_read_jwt) run "kv read rs256 jwt" "$kv_url_ng" bridge_pids GET "" "Authorization:Bearer $jwt" ;;
  kv_write) run "kv write" "http://127.0.0.1:$ng_bridge/secrets/bench/written" bridge_pids PUT \
              '{"data":{"k":"v"}}' "$KEYH" ;;
  transit_encrypt) run "transit encrypt" "http://127.0.0.1:$ng_bridge/transit/encrypt" bridge_pids POST \
              '{"key":"mcp-default","plaintext":"aGVsbG8gd29ybGQ="}' "$KEYH" ;;
  mcp_kv_read) run "mcp tools/call kv.read" "http://127.0.0.1:$ng_bridge/mcp/rpc" bridge_pids POST \
              '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kv.read","arguments":{"path":"bench/item"}}}' \
              "$KEYH|Accept:application/json, text/event-stream|MCP-Protocol-Version:2025-06-18" ;;
  kv_read_child)
    stop_bridge; start_bridge "CHILD_TOKEN_ENABLED=true"
    wait_http "http://127.0.0.1:$ng_bridge/healthz"
    run "kv read child tokens" "$kv_url_ng" bridge_pids GET "" "$KEYH"
    stop_bridge; start_bridge ""; wait_http "http://127.0.0.1:$ng_bridge/healthz" ;;
  direct) run "kv read direct to vault-sim" "$VAULT_ADDR/v1/secret/data/mcp/$subject/bench/item" vault_pids GET "" "X-Vault-Token:root" ;;
  peer) run "kv read python peer" "http://127.0.0.1:$peer_port/secrets/bench/item" peer_pids GET "" "$KEYH" ;;
  memory)
    # The mix first warms every worker up (thread arenas, caches, the
    # first touch of shared pages), then 100k more requests must leave
    # the workers' memory where it was.
    mix() {   # $1 = requests wanted; prints how many were served
      local want=$1 done_=0 o u
      while [ "$done_" -lt "$want" ]; do
        for u in "http://127.0.0.1:$ng_bridge/healthz" "$kv_url_ng"; do
          o=$(WRK_METHOD=GET WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d3s -s "$work/post.lua" "$u")
          done_=$((done_ + $(echo "$o" | awk '/requests in/{print $1}')))
        done
        o=$(WRK_METHOD=PUT WRK_BODY='{"data":{"m":"x"}}' WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d2s \
            -s "$work/post.lua" "http://127.0.0.1:$ng_bridge/secrets/bench/mem")
        done_=$((done_ + $(echo "$o" | awk '/requests in/{print $1}')))
      done
      echo "$done_"
    }
    pl=$(bridge_pids)
    warm=$(mix 20000)
    before_rss=$(rss_kib $pl)
    total=$(mix 100000)
    after_rss=$(rss_kib $pl)
    R_REQ[memory]=$total; R_RSS[memory]="$before_rss -> $after_rss"
    echo "memory: $warm warm-up requests, then $total mixed requests: largest worker RSS/PSS $before_rss -> $after_rss KiB" ;;
  leaks)
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMB_ASAN=ON -DVMB_UBSAN=ON >/dev/null
    cmake --build build-asan -j"$(nproc)" --target vault-mcp-fcgi >/dev/null
    stop_bridge
    bridge_bin=$root/build-asan/bin/vault-mcp-fcgi
    mkdir -p "$work/asan"
    start_bridge "ASAN_OPTIONS=detect_leaks=1:log_path=$work/asan/report UBSAN_OPTIONS=print_stacktrace=1:log_path=$work/asan/report"
    wait_http "http://127.0.0.1:$ng_bridge/healthz"
    total=0
    for u in "http://127.0.0.1:$ng_bridge/healthz" "$kv_url_ng" "http://127.0.0.1:$ng_bridge/secrets/bench/missing"; do
      o=$(WRK_METHOD=GET WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d3s -s "$work/post.lua" "$u")
      total=$((total + $(echo "$o" | awk '/requests in/{print $1}')))
    done
    o=$(WRK_METHOD=PUT WRK_BODY='{"data":{"m":"x"}}' WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d3s -s "$work/post.lua" \
        "http://127.0.0.1:$ng_bridge/secrets/bench/mem")
    total=$((total + $(echo "$o" | awk '/requests in/{print $1}')))
    stop_bridge   # SIGTERM: the workers exit and LeakSanitizer runs
    bridge_bin=$root/build/bin/vault-mcp-fcgi
    start_bridge ""; wait_http "http://127.0.0.1:$ng_bridge/healthz"
    if ls "$work/asan"/report* >/dev/null 2>&1; then
      echo "leaks: sanitizer reports after $total requests:" >&2
      cat "$work/asan"/report* >&2
      exit 1
    fi
    R_REQ[leaks]=$total
    echo "leaks: $total mixed requests (incl. 404s) under ASan+UBSan, no report" ;;
  *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done

# ---- the table ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0 || a == "" || b == "") print "n/a"; else printf "%.2f", a / b }'; }
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`bench/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo),"
  echo "$(uname -sr). wrk -t2 -c$conns, ${secs} s per scenario after a 2 s warm-up, HTTP/1.1 keep-alive,"
  echo "loopback; the bridge and the ceiling each run as $procs spawn-fcgi processes x $threads threads; wrk, the web"
  echo "servers, the bridge and vault-sim share the same cores. CPU is user+sys of the serving"
  echo "processes (the bridge pool, the ceiling, vault-sim or the Python peer) per request served."
  echo
  echo "| scenario | req/s | p50 | p99 | CPU us/req | RSS/PSS of the largest worker, KiB |"
  echo "|---|---:|---:|---:|---:|---:|"
  for k in "${!R_RPS[@]}"; do
    echo "| $k | ${R_RPS[$k]} | ${R_P50[$k]} | ${R_P99[$k]} | ${R_CPU[$k]} | ${R_RSS[$k]} |"
  done | sort
  if [ -n "${R_REQ[memory]:-}" ]; then
    echo
    echo "Memory run: after a 20k-request warm-up, ${R_REQ[memory]} mixed requests (healthz, KV read, KV write); largest worker RSS/PSS ${R_RSS[memory]} KiB."
  fi
  if [ -n "${R_REQ[leaks]:-}" ]; then
    echo
    echo "Leak run: ${R_REQ[leaks]} mixed requests (healthz, KV read, KV 404, KV write) against an ASan+UBSan build; the workers exited on SIGTERM with no LeakSanitizer or sanitizer report."
  fi
  echo
  echo "## Targets"
  echo
  echo "| target | measured | goal |"
  echo "|---|---:|---:|"
  [ -n "${R_CPU[kv read python peer]:-}" ] && [ -n "${R_CPU[kv read api-key]:-}" ] &&
    echo "| bridge CPU per KV read / Python peer's | $(ratio "${R_CPU[kv read api-key]}" "${R_CPU[kv read python peer]}") | <= 0.10 |"
  [ -n "${R_CPU[healthz nginx ceiling]:-}" ] && [ -n "${R_CPU[kv read api-key]:-}" ] &&
    echo "| bridge CPU per KV read (API key) / ceiling CPU per request | $(ratio "${R_CPU[kv read api-key]}" "${R_CPU[healthz nginx ceiling]}") | <= 4 |"
  [ -n "${R_RPS[healthz nginx ceiling]:-}" ] &&
    echo "| /healthz throughput, bridge / ceiling (nginx) | $(ratio "${R_RPS[healthz nginx bridge]}" "${R_RPS[healthz nginx ceiling]}") | >= 0.70 |"
  [ -n "${R_RPS[healthz lighttpd ceiling]:-}" ] &&
    echo "| /healthz throughput, bridge / ceiling (lighttpd) | $(ratio "${R_RPS[healthz lighttpd bridge]}" "${R_RPS[healthz lighttpd ceiling]}") | >= 0.70 |"
  [ -n "${R_RSS[memory]:-}" ] && echo "| RSS/PSS per worker over the memory run (KiB) | ${R_RSS[memory]} | <= 8192, flat |"
} > "$work/table.md"
cat "$work/table.md"
if [ -f "$out_md" ] && grep -q '^## Notes' "$out_md"; then
  # keep the hand-written analysis below the generated part
  sed -n '/^## Notes/,$p' "$out_md" > "$work/notes.md"
  cat "$work/table.md" <(echo) "$work/notes.md" > "$out_md"
else
  cp "$work/table.md" "$out_md"
fi
echo "written to $out_md"
