#!/usr/bin/env bash
# bench/run.sh [scenario...] - measure the bridge's cost per request.
#
# Starts its own stack on 127.0.0.1 (vault-sim, the bridge as a spawn-fcgi
# pool behind lighttpd and nginx, the ceiling responder behind the same
# servers, the Python peer under uvicorn), runs wrk per scenario and prints
# one table: req/s, p50, p99, CPU microseconds per request of the serving
# processes and of the front web server (user+sys from /proc), the
# largest worker's RSS/PSS, and the issue 18 target ratios, all taken
# within this one run so that load from other users of the machine
# weighs on both sides of each ratio alike.
#
# Safe next to other work on the same machine: every TCP port is a free
# one picked at start (tests/lib/procs.py free_port), every process it
# stops is one it started (pids it holds, or spawn-fcgi children whose
# working directory is this run's own temporary directory), and it
# writes only its own part of docs/benchmarks.md: the lines between
# "<!-- bench/run.sh:begin -->" and "<!-- bench/run.sh:end -->" (the
# section is appended when the markers are missing). Other sections
# (event streams, Redis, ...) are left as they are.
#
# Scenarios (default: all but profile):
#   healthz          /healthz, bridge and ceiling, behind lighttpd and nginx
#   kv_read_lt       KV read with an API key through lighttpd (targets a, b)
#   kv_read          the same through nginx
#   kv_read_jwt kv_write transit_encrypt mcp_kv_read kv_read_child
#   direct           a KV read straight to vault-sim (what Vault costs)
#   peer             the Python peer's KV read (FastAPI + uvicorn + hvac)
#   rounds           BENCH_ROUNDS (3) interleaved rounds of the ceiling, the
#                    lighttpd KV read, the peer and the close-at-once
#                    ceiling; (a) and (b) are also given as the median of
#                    the per-round ratios, which load swings move less
#   syscalls         strace -c -f on the bridge workers over a lighttpd KV
#                    read load, divided by the requests served (target c)
#   memory           USS and PSS per worker before and after
#                    BENCH_MEMORY_REQUESTS mixed requests (target d)
#   leaks            the memory mix against an ASan+UBSan build (built in
#                    build-asan/); fails if a sanitizer reports anything
#   profile          perf record -g on the bridge workers over a lighttpd
#                    KV read load; the report goes to BENCH_PROFILE
#   hold             for profiling by hand: writes the URLs, the API key and
#                    the bridge pids to BENCH_BUILD/bench-hold.env and waits
#                    (until SIGTERM or BENCH_SECONDS x 60) with the stack up
# The peer runs on Debian's /usr/bin/python3, where python3-fastapi lives.
# Environment: BENCH_SECONDS (8), BENCH_WARMUP (2), BENCH_CONNECTIONS (32),
#   BENCH_PROCS (2), BENCH_THREADS (4), BENCH_OUT (docs/benchmarks.md; "-"
#   writes nothing), BENCH_BUILD (build), BENCH_NO_BUILD (1: use the
#   binaries in BENCH_BUILD as they are, no packages installed),
#   BENCH_MEMORY_REQUESTS (100000), BENCH_STRACE_SECONDS (3),
#   BENCH_PROFILE (BENCH_BUILD/bench-profile.txt), BENCH_COMMIT (the
#   commit named in the output; default: this tree's HEAD)
#
# bench/run.sh --smoke (ctest bench_run_smoke, label bench): 1 s runs of
# healthz, kv_read_lt, peer, syscalls and a 2000-request memory run
# against the binaries in BENCH_BUILD, written to a scratch copy of
# docs/benchmarks.md; it then checks that the section holds the four
# target rows and that every line outside the markers is unchanged.
# No figure is asserted: speed targets live in the docs, not in tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

smoke=0
if [ "${1:-}" = --smoke ]; then
  shift
  smoke=1
  export BENCH_SECONDS=1 BENCH_WARMUP=0 BENCH_NO_BUILD=1 BENCH_MEMORY_REQUESTS=2000 \
    BENCH_STRACE_SECONDS=1 BENCH_CONNECTIONS=8
  smoke_dir=$(mktemp -d /tmp/vmb-bench-smoke.XXXXXX)
  trap 'rm -rf "$smoke_dir"' EXIT
  cp docs/benchmarks.md "$smoke_dir/benchmarks.md"
  BENCH_OUT="$smoke_dir/benchmarks.md" bash "$0" healthz kv_read_lt peer syscalls memory \
    > "$smoke_dir/out.txt" 2>&1 || { cat "$smoke_dir/out.txt"; echo "smoke: bench/run.sh failed" >&2; exit 1; }
  outside() { awk '/^<!-- bench\/run.sh:begin -->$/{skip=1} !skip{print} /^<!-- bench\/run.sh:end -->$/{skip=0}' "$1"; }
  fail=0
  # where the section is new (no markers yet), it is appended at the end
  if grep -qxF '<!-- bench/run.sh:begin -->' docs/benchmarks.md; then
    cmp -s <(outside docs/benchmarks.md) <(outside "$smoke_dir/benchmarks.md") ||
      { echo "smoke: lines outside the bench/run.sh markers changed" >&2; fail=1; }
  fi
  for row in '| (a) bridge + lighttpd CPU' '| (b) bridge CPU per KV read' \
             '| (c) system calls per KV read' '| (d) largest USS growth'; do
    grep -qF "$row" "$smoke_dir/benchmarks.md" || { echo "smoke: no row '$row'" >&2; fail=1; }
  done
  grep -q '^| worker 2 |' "$smoke_dir/benchmarks.md" || { echo "smoke: no USS/PSS of worker 2" >&2; fail=1; }
  grep -q '^| accept' "$smoke_dir/benchmarks.md" || { echo "smoke: no syscall table" >&2; fail=1; }
  [ "$fail" = 0 ] || { cat "$smoke_dir/out.txt"; exit 1; }
  echo "smoke: bench/run.sh wrote its section and nothing else"
  exit 0
fi

secs=${BENCH_SECONDS:-8}
warmup=${BENCH_WARMUP:-2}
conns=${BENCH_CONNECTIONS:-32}
procs=${BENCH_PROCS:-2}
threads=${BENCH_THREADS:-4}
out_md=${BENCH_OUT:-docs/benchmarks.md}
build=${BENCH_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
mem_requests=${BENCH_MEMORY_REQUESTS:-100000}
strace_secs=${BENCH_STRACE_SECONDS:-3}
profile_out=${BENCH_PROFILE:-$build/bench-profile.txt}
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(healthz kv_read_lt kv_read kv_read_jwt kv_write
  transit_encrypt mcp_kv_read kv_read_child direct peer rounds syscalls memory leaks)
for s in "${scenarios[@]}"; do
  case $s in
  healthz|kv_read_lt|kv_read|kv_read_jwt|kv_write|transit_encrypt|mcp_kv_read|kv_read_child|\
  direct|peer|syscalls|memory|leaks|profile|hold|rounds) ;;
  *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done
wants() { local s; for s in "${scenarios[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  . scripts/lib/deps.sh
  extra=""
  wants syscalls && extra="$extra strace"
  wants profile && extra="$extra linux-perf"
  # shellcheck disable=SC2086
  vmb_ensure_packages $VMB_BUILD_PACKAGES wrk lighttpd nginx-light spawn-fcgi curl jq \
    openssl python3 python3-fastapi python3-uvicorn python3-hvac $extra
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target vault-mcp-fcgi vault-sim bench-ceiling >/dev/null
fi
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no -- core fcgi-app bench/ceiling.c 2>/dev/null)" ]; then
  commit="$commit+changes"
fi
# BENCH_COMMIT names the code measured when BENCH_BUILD holds another
# commit's binaries (a before/after comparison).
commit=${BENCH_COMMIT:-$commit}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d /tmp/vmb-bench.XXXXXX)
chmod 755 "$work"   # nginx workers (user nobody) must reach the sockets
started=()          # pids of the processes this script started itself
nginx_pid=""; peer_pid=""
cleanup() {
  local p
  # Only what this run started: its own pids, the peer's workers (its
  # children), and the spawn-fcgi pools identified by their working
  # directory, which is this run's temporary directory.
  for p in ${peer_pid:+$(pgrep -P "$peer_pid" || true)} "${started[@]}" $(bridge_pids) \
           $(ceiling_pids) $(ceiling2_pids); do
    kill "$p" 2>/dev/null || true
  done
  for _ in $(seq 30); do
    p=""
    for q in "${started[@]}" $(bridge_pids) $(ceiling_pids) $(ceiling2_pids); do
      kill -0 "$q" 2>/dev/null && p=1
    done
    [ -z "$p" ] && break
    sleep 0.1
  done
  # Whatever ignored SIGTERM for 3 s is killed while its working directory
  # still names it as this run's (after the rm below it could not be found).
  for q in "${started[@]}" $(bridge_pids) $(ceiling_pids) $(ceiling2_pids); do
    if kill -0 "$q" 2>/dev/null; then
      echo "bench/run.sh: pid $q ignored SIGTERM; killing it" >&2
      kill -9 "$q" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Seven distinct free loopback ports, picked the way the tests pick theirs.
read -r vault_port lt_bridge lt_ceiling ng_bridge ng_ceiling peer_port lt_ceiling2 < <(
  python3 - "$root/tests/lib" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from procs import free_port
ports = []
while len(ports) < 7:
    p = free_port()
    if p not in ports:
        ports.append(p)
print(*ports)
PY
)
subject=agent_alice
api_key=$(openssl rand -hex 24)
export VAULT_ADDR=http://127.0.0.1:$vault_port VAULT_TOKEN=root

# wait_http URL [PID]: until URL answers; fails at once when PID (the
# server that should answer) has exited, e.g. because the port was taken.
wait_http() {
  for _ in $(seq 100); do
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
      echo "the server for $1 has exited (port taken?)" >&2; return 1
    fi
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2; return 1
}

# ---- Vault simulator, provisioned ----
"$build/bin/vault-sim" --dev --dev-root-token-id root --dev-listen-address 127.0.0.1:$vault_port \
  > "$work/vault.log" 2>&1 &
vault_pid=$!
started+=("$vault_pid")
wait_http "$VAULT_ADDR/v1/sys/health" "$vault_pid"
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
bridge_bin=$build/bin/vault-mcp-fcgi
start_bridge() {   # $1 = extra env assignments (space separated)
  mkdir -p "$work/bridge"
  # shellcheck disable=SC2086
  # DEFAULT_GRANTS_JSON: the subject has no registry record; the transit
  # scenario needs its key granted (docs/registry.md).
  env API_KEYS_JSON="{\"$api_key\":\"$subject\"}" JWT_JWKS_FILE="$work/jwks.json" \
      DEFAULT_GRANTS_JSON='{"transit_keys":["mcp-default"]}' \
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
pids_in() {   # processes named $1 whose working directory is $2 (this run's)
  local p
  for p in $(pgrep -x "$1" || true); do
    if [ "$(readlink "/proc/$p/cwd" 2>/dev/null || true)" = "$2" ]; then echo "$p"; fi
  done
  return 0
}
bridge_pids() { pids_in vault-mcp-fcgi "$work/bridge"; }
ceiling_pids() { pids_in bench-ceiling "$work/ceiling"; }
ceiling2_pids() { pids_in bench-ceiling "$work/ceiling2"; }
mkdir -p "$work/ceiling" "$work/ceiling2"
spawn-fcgi -s "$work/ceiling.sock" -M 0666 -F "$procs" -d "$work/ceiling" -- \
  "$build/bin/bench-ceiling" --threads "$threads" > /dev/null
# The same responder closing the connection as the bridge does on a unix
# socket (without libfcgi's linger), for a like-for-like ratio.
spawn-fcgi -s "$work/ceiling2.sock" -M 0666 -F "$procs" -d "$work/ceiling2" -- \
  "$build/bin/bench-ceiling" --threads "$threads" --close-at-once 1 > /dev/null
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
else \$SERVER["socket"] == "127.0.0.1:$lt_ceiling2" {
  fastcgi.server = ("/" => (("socket" => "$work/ceiling2.sock", "check-local" => "disable")))
}
else \$SERVER["socket"] == "127.0.0.1:$lt_bridge" {
  fastcgi.server = ("/" => (("socket" => "$work/bridge.sock", "check-local" => "disable")))
}
CONF
lighttpd -D -f "$work/lighttpd.conf" > /dev/null 2>&1 &
lighttpd_pid=$!
started+=("$lighttpd_pid")
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
nginx_pid=$!
started+=("$nginx_pid")

# ---- the Python peer ----
if wants peer || wants rounds; then
  (cd bench/peers && PEER_API_KEY=$api_key PEER_SUBJECT=$subject \
    exec /usr/bin/python3 -m uvicorn kv_peer:app --host 127.0.0.1 --port $peer_port --workers 2 \
    --log-level warning > "$work/peer.log" 2>&1) &
  peer_pid=$!
  started+=("$peer_pid")
fi
# The uvicorn supervisor this run started and the workers it spawned.
peer_pids() { [ -n "$peer_pid" ] && { echo "$peer_pid"; pgrep -P "$peer_pid" || true; }; return 0; }
lighttpd_pids() { echo "$lighttpd_pid"; }
nginx_pids() { echo "$nginx_pid"; pgrep -P "$nginx_pid" || true; }
vault_pids() { echo "$vault_pid"; }
no_pids() { return 0; }

wait_http "http://127.0.0.1:$lt_bridge/healthz" "$lighttpd_pid"
wait_http "http://127.0.0.1:$ng_bridge/healthz" "$nginx_pid"
wait_http "http://127.0.0.1:$ng_ceiling/" "$nginx_pid"
[ -n "$peer_pid" ] && wait_http "http://127.0.0.1:$peer_port/openapi.json" "$peer_pid"

# ---- measuring ----
ticks() {   # sum of utime+stime (clock ticks) of the given pids, all threads
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    # the command name (field 2) may hold spaces: count from its ')'
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
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
# USS (pages only this process maps: Private_Clean + Private_Dirty) and
# PSS of one process in KiB, "uss pss".
uss_pss() {
  awk '/^Private_(Clean|Dirty):/{u += $2} /^Pss:/{p = $2} END{print u + 0, p + 0}' \
    "/proc/$1/smaps_rollup" 2>/dev/null || echo "0 0"
}
hz=$(getconf CLK_TCK)

cat > "$work/post.lua" <<'LUA'
wrk.method = os.getenv("WRK_METHOD") or "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
for k, v in string.gmatch(os.getenv("WRK_HEADERS") or "", "([^:|]+):([^|]+)") do wrk.headers[k] = v end
LUA

declare -A R_RPS R_P50 R_P99 R_CPU R_FRONT R_RSS R_REQ
# run NAME URL SERVING_PIDS_FN FRONT_PIDS_FN [METHOD BODY HEADERS]
# CPU is taken for the serving processes and the front server separately,
# over the same window.
run() {
  local name=$1 url=$2 pidfn=$3 frontfn=$4 method=${5:-GET} body=${6:-} hdrs=${7:-}
  local before after fbefore fafter out reqs pidlist frontlist
  pidlist=$($pidfn)
  frontlist=$($frontfn)
  if [ "$warmup" -gt 0 ]; then
    WRK_METHOD=$method WRK_BODY=$body WRK_HEADERS=$hdrs wrk -t2 -c"$conns" -d"${warmup}s" \
      -s "$work/post.lua" "$url" > /dev/null
  fi
  before=$(ticks $pidlist); fbefore=$(ticks $frontlist)
  out=$(WRK_METHOD=$method WRK_BODY=$body WRK_HEADERS=$hdrs wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/post.lua" "$url")
  after=$(ticks $pidlist); fafter=$(ticks $frontlist)
  if echo "$out" | grep -q "Non-2xx"; then
    echo "scenario $name: non-2xx answers:" >&2; echo "$out" >&2; exit 1
  fi
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  R_REQ[$name]=$reqs
  R_RPS[$name]=$(echo "$out" | awk '/Requests\/sec/{printf "%d", $2}')
  R_P50[$name]=$(echo "$out" | awk '$1=="50%"{print $2}')
  R_P99[$name]=$(echo "$out" | awk '$1=="99%"{print $2}')
  R_CPU[$name]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')
  if [ -n "$frontlist" ]; then
    R_FRONT[$name]=$(awk -v t=$((fafter - fbefore)) -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')
  else
    R_FRONT[$name]="-"
  fi
  R_RSS[$name]=$(rss_kib $pidlist)
  printf '%-30s %8s req/s  p50 %-8s p99 %-8s cpu %7s us/req  front %6s us/req  rss/pss %s KiB\n' \
    "$name" "${R_RPS[$name]}" "${R_P50[$name]}" "${R_P99[$name]}" "${R_CPU[$name]}" \
    "${R_FRONT[$name]}" "${R_RSS[$name]}"
}
# Requests the bridge has logged so far (one requests.log line each).
logged() { wc -l < "$work/logs/requests.log" 2>/dev/null || echo 0; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0 || a == "" || b == "" || a == "-" || b == "-") print "n/a"; else printf "%.3f", a / b }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.1f", a + b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END{ if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

KEYH="X-API-Key:$api_key"
kv_url_ng="http://127.0.0.1:$ng_bridge/secrets/bench/item"
kv_url_lt="http://127.0.0.1:$lt_bridge/secrets/bench/item"

# Why each system call of a KV read is there (target c). A call the
# profile shows that is not in this list is printed as unexplained.
declare -A WHY=(
  [accept]="libfcgi takes the web server's connection (lighttpd opens one per request)"
  [accept4]="libfcgi takes the web server's connection (lighttpd opens one per request)"
  [read]="libfcgi reads the FastCGI request (params and the empty stdin arrive in one read); with the linger, one more read waits for the server's close"
  [write]="the whole FastCGI response at FCGX_Finish_r (1); one per log line, requests.log and responses.log (2): O_APPEND, unbuffered, so a crash loses no line"
  [writev]="the FastCGI response"
  [sendto]="libcurl sends the HTTP request to Vault"
  [recvfrom]="libcurl reads Vault's reply (1); a MSG_PEEK at the web server's connection tells a client that went away (1, fails with EAGAIN while it is there)"
  [poll]="libfcgi checks the new connection has data (1); libcurl checks the kept-alive Vault connection is still open (1) and, right after sending, whether the reply is there (1); the wait for Vault's reply when it is not (0-1); before the driver: curl_easy_perform's wake-up pipe (1) and a re-check after each wait (1); with the linger, one more wait for the server's close"
  [ppoll]="libcurl waits for Vault's socket"
  [shutdown]="libfcgi's linger close: half-close, then wait for the server to close (kept on TCP; a unix socket now closes at once)"
  [close]="libfcgi closes the web server's connection"
  [futex]="threads contend for the listening socket's accept lock in libfcgi or for malloc"
  [clock_gettime]="timestamps (vDSO normally; a real call only where the clock source needs one)"
  [getpid]="OpenSSL's fork check"
  [fstat]="log rotation check, at most once a second per process"
  [newfstatat]="log rotation check, at most once a second per process"
  [stat]="log rotation check, at most once a second per process"
  [openat]="log rotation: reopening a file only when it was renamed away"
  [getsockname]="libcurl asks for its local address after a (re)connect"
  [getpeername]="libcurl asks for the peer's address after a (re)connect"
  [socket]="libcurl opens a new connection to Vault (keep-alive lost)"
  [connect]="libcurl connects to Vault (keep-alive lost)"
  [setsockopt]="libcurl sets TCP_NODELAY and keep-alive on a new Vault connection"
  [getsockopt]="libcurl checks a new connection's result"
  [fcntl]="libcurl makes a new socket non-blocking"
  [rt_sigaction]="libfcgi/libcurl signal dispositions"
  [madvise]="glibc malloc returns freed memory of a thread arena"
  [mmap]="glibc malloc grows a thread arena"
  [munmap]="glibc malloc trims a thread arena"
  [brk]="glibc malloc grows the main arena"
  [getrandom]="the request-id pool refills (1 KiB, every 64 requests)"
  [restart_syscall]="a strace artefact: a wait that strace's attaching interrupted, resumed"
  [socketpair]="libcurl's wake-up pipe, made once per multi handle"
  [mprotect]="glibc grows a thread's malloc heap (rare)"
  [epoll_wait]="the background threads (metrics, probes)"
  [nanosleep]="the background threads (health probe, span exporter)"
  [clock_nanosleep]="the background threads (health probe, span exporter)"
)

for s in "${scenarios[@]}"; do
  case $s in
  healthz)
    run "healthz lighttpd bridge" "http://127.0.0.1:$lt_bridge/healthz" bridge_pids lighttpd_pids
    run "healthz lighttpd ceiling" "http://127.0.0.1:$lt_ceiling/healthz" ceiling_pids lighttpd_pids
    run "healthz lighttpd ceiling, close at once" "http://127.0.0.1:$lt_ceiling2/healthz" ceiling2_pids lighttpd_pids
    run "healthz nginx bridge" "http://127.0.0.1:$ng_bridge/healthz" bridge_pids nginx_pids
    run "healthz nginx ceiling" "http://127.0.0.1:$ng_ceiling/healthz" ceiling_pids nginx_pids ;;
  kv_read_lt) run "kv read api-key lighttpd" "$kv_url_lt" bridge_pids lighttpd_pids GET "" "$KEYH" ;;
  kv_read) run "kv read api-key nginx" "$kv_url_ng" bridge_pids nginx_pids GET "" "$KEYH" ;;
  kv_read_jwt) run "kv read rs256 jwt" "$kv_url_ng" bridge_pids nginx_pids GET "" "Authorization:Bearer $jwt" ;;
  kv_write) run "kv write" "http://127.0.0.1:$ng_bridge/secrets/bench/written" bridge_pids nginx_pids PUT \
              '{"data":{"k":"v"}}' "$KEYH" ;;
  transit_encrypt) run "transit encrypt" "http://127.0.0.1:$ng_bridge/transit/encrypt" bridge_pids nginx_pids POST \
              '{"key":"mcp-default","plaintext":"aGVsbG8gd29ybGQ="}' "$KEYH" ;;
  mcp_kv_read) run "mcp tools/call kv.read" "http://127.0.0.1:$ng_bridge/mcp/rpc" bridge_pids nginx_pids POST \
              '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"kv.read","arguments":{"path":"bench/item"}}}' \
              "$KEYH|Accept:application/json, text/event-stream|MCP-Protocol-Version:2025-06-18" ;;
  kv_read_child)
    stop_bridge; start_bridge "CHILD_TOKEN_ENABLED=true"
    wait_http "http://127.0.0.1:$ng_bridge/healthz"
    run "kv read child tokens" "$kv_url_ng" bridge_pids nginx_pids GET "" "$KEYH"
    stop_bridge; start_bridge ""; wait_http "http://127.0.0.1:$ng_bridge/healthz" ;;
  direct) run "kv read direct to vault-sim" "$VAULT_ADDR/v1/secret/data/mcp/$subject/bench/item" vault_pids no_pids GET "" "X-Vault-Token:root" ;;
  peer) run "kv read python peer" "http://127.0.0.1:$peer_port/secrets/bench/item" peer_pids no_pids GET "" "$KEYH" ;;
  syscalls)
    # strace attaches to every thread of every worker (-f with -p), the
    # load runs, strace detaches; the requests are counted in
    # requests.log, so the division is exact.
    pl=$(bridge_pids); sargs=()
    for p in $pl; do sargs+=(-p "$p"); done
    WRK_METHOD=GET WRK_HEADERS=$KEYH wrk -t1 -c8 -d1s -s "$work/post.lua" "$kv_url_lt" > /dev/null
    strace -c -f -o "$work/strace.txt" "${sargs[@]}" 2> "$work/strace.err" &
    spid=$!
    sleep 1   # attached to every thread before the load starts
    n0=$(logged)
    WRK_METHOD=GET WRK_HEADERS=$KEYH wrk -t1 -c8 -d"${strace_secs}s" -s "$work/post.lua" "$kv_url_lt" > /dev/null
    sleep 0.5
    kill -INT "$spid"; wait "$spid" || true
    n1=$(logged)
    R_REQ[syscalls]=$((n1 - n0))
    # "% time seconds usecs/call calls [errors] syscall"
    awk -v n="${R_REQ[syscalls]}" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
        err = (NF == 6) ? $5 : 0
        printf "%s %.2f %.2f\n", $NF, $4 / n, err / n }' "$work/strace.txt" \
      | sort -k2,2 -g -r > "$work/syscalls.txt"
    R_SYS_TOTAL=$(awk '{s += $2} END{printf "%.1f", s}' "$work/syscalls.txt")
    echo "syscalls: ${R_REQ[syscalls]} KV reads through lighttpd under strace, $R_SYS_TOTAL system calls per read:"
    while read -r sc per errs; do
      printf '  %-16s %6s per read  %s\n' "$sc" "$per" "${WHY[$sc]:-UNEXPLAINED}"
    done < "$work/syscalls.txt" ;;
  memory)
    # The mix first warms every worker up (thread arenas, caches, the
    # first touch of shared pages), then BENCH_MEMORY_REQUESTS more
    # requests must leave every worker's USS and PSS where they were.
    mix() {   # $1 = requests wanted; prints how many were served
      local want=$1 done_=0 o u
      while [ "$done_" -lt "$want" ]; do
        for u in "http://127.0.0.1:$ng_bridge/healthz" "$kv_url_ng" "$kv_url_lt"; do
          o=$(WRK_METHOD=GET WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d1s -s "$work/post.lua" "$u")
          done_=$((done_ + $(echo "$o" | awk '/requests in/{print $1}')))
        done
        o=$(WRK_METHOD=PUT WRK_BODY='{"data":{"m":"x"}}' WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d1s \
            -s "$work/post.lua" "http://127.0.0.1:$ng_bridge/secrets/bench/mem")
        done_=$((done_ + $(echo "$o" | awk '/requests in/{print $1}')))
      done
      echo "$done_"
    }
    pl=$(bridge_pids)
    warm=$(mix $((mem_requests / 5)))
    declare -A U0 P0
    for p in $pl; do read -r U0[$p] P0[$p] < <(uss_pss "$p"); done
    before_rss=$(rss_kib $pl)
    n0=$(logged)
    total=$(mix "$mem_requests")
    n1=$(logged)
    after_rss=$(rss_kib $pl)
    R_MEM_LINES=""; R_MEM_GROWTH=0; wn=0
    for p in $pl; do
      wn=$((wn + 1))
      read -r u1 p1 < <(uss_pss "$p")
      g=$((u1 - U0[$p]))
      [ "$g" -gt "$R_MEM_GROWTH" ] && R_MEM_GROWTH=$g
      R_MEM_LINES+="| worker $wn | ${U0[$p]} -> $u1 | ${P0[$p]} -> $p1 |"$'\n'
    done
    R_REQ[memory]=$((n1 - n0)); R_RSS[memory]="$before_rss -> $after_rss"
    echo "memory: $warm warm-up requests, then ${R_REQ[memory]} mixed requests (logged by the bridge):"
    printf '%s' "$R_MEM_LINES"
    echo "  largest USS growth of a worker: $R_MEM_GROWTH KiB; largest worker RSS/PSS $before_rss -> $after_rss KiB" ;;
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
    bridge_bin=$build/bin/vault-mcp-fcgi
    start_bridge ""; wait_http "http://127.0.0.1:$ng_bridge/healthz"
    if ls "$work/asan"/report* >/dev/null 2>&1; then
      echo "leaks: sanitizer reports after $total requests:" >&2
      cat "$work/asan"/report* >&2
      exit 1
    fi
    R_REQ[leaks]=$total
    echo "leaks: $total mixed requests (incl. 404s) under ASan+UBSan, no report" ;;
  profile)
    pl=$(bridge_pids)
    WRK_METHOD=GET WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d"${warmup}s" -s "$work/post.lua" "$kv_url_lt" > /dev/null
    WRK_METHOD=GET WRK_HEADERS=$KEYH wrk -t2 -c"$conns" -d"$((secs + 2))s" -s "$work/post.lua" "$kv_url_lt" > /dev/null &
    wpid=$!
    perf record -q -F 1999 -g -o "$profile_out.data" -p "$(echo $pl | tr ' ' ,)" -- sleep "$secs" 2>/dev/null
    wait "$wpid"
    {
      echo "== perf, bridge workers, KV read through lighttpd, commit $commit"
      perf report -i "$profile_out.data" --stdio --no-children -g none --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25
      perf report -i "$profile_out.data" --stdio --no-children -g none --sort dso,sym 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -80
      echo "== call graph (caller) of the top entries"
      perf report -i "$profile_out.data" --stdio --children -g caller,0.5,callee --sort sym 2>/dev/null \
        | grep -v '^$' | head -400
    } > "$profile_out"
    echo "profile: written to $profile_out (samples in $profile_out.data)" ;;
  rounds)
    R_ROUNDS=""; RA=(); RB=(); RB2=()
    for i in $(seq "${BENCH_ROUNDS:-3}"); do
      run "round $i: ceiling" "http://127.0.0.1:$lt_ceiling/healthz" ceiling_pids lighttpd_pids
      run "round $i: kv read" "$kv_url_lt" bridge_pids lighttpd_pids GET "" "$KEYH"
      run "round $i: peer" "http://127.0.0.1:$peer_port/secrets/bench/item" peer_pids no_pids GET "" "$KEYH"
      run "round $i: ceiling2" "http://127.0.0.1:$lt_ceiling2/healthz" ceiling2_pids lighttpd_pids
      k="round $i: kv read"
      ra=$(ratio "$(sum "${R_CPU[$k]}" "${R_FRONT[$k]}")" "${R_CPU[round $i: peer]}")
      rb=$(ratio "${R_CPU[$k]}" "${R_CPU[round $i: ceiling]}")
      rb2=$(ratio "${R_CPU[$k]}" "${R_CPU[round $i: ceiling2]}")
      RA+=("$ra"); RB+=("$rb"); RB2+=("$rb2")
      R_ROUNDS+="| $i | ${R_CPU[$k]} | ${R_FRONT[$k]} | ${R_CPU[round $i: ceiling]} | ${R_CPU[round $i: ceiling2]} | ${R_CPU[round $i: peer]} | $ra | $rb | $rb2 |"$'\n'
    done
    R_MED_A=$(median "${RA[@]}"); R_MED_B=$(median "${RB[@]}"); R_MED_B2=$(median "${RB2[@]}")
    echo "rounds: median (a) $R_MED_A, (b) $R_MED_B, (b) against the close-at-once ceiling $R_MED_B2" ;;
  hold)
    { echo "KV_URL_LT=$kv_url_lt"; echo "KV_URL_NG=$kv_url_ng"; echo "API_KEY=$api_key"
      echo "BRIDGE_PIDS=\"$(echo $(bridge_pids))\""; echo "WORK=$work"; } > "$build/bench-hold.env"
    echo "hold: stack up, see $build/bench-hold.env"
    trap 'exit 0' TERM INT
    sleep $((secs * 60)) & wait $! || true ;;
  esac
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table ----
verdict() {   # verdict VALUE OP LIMIT
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN{ if (v == "n/a") { print "-"; exit }
    ok = (op == "<=") ? v <= l : v >= l; print ok ? "met" : "NOT met" }'
}
kvl="kv read api-key lighttpd"; ceil_lt="healthz lighttpd ceiling"
{
  echo "Produced by \`bench/run.sh\` at commit $commit on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores,"
  echo "$(uname -sr); load average $load_start at the start, $load_end at the end (the machine is"
  echo "shared, so each target below is a ratio of two figures taken in this same run)."
  echo "wrk -t2 -c$conns, ${secs} s per scenario after a ${warmup} s warm-up, HTTP/1.1 keep-alive, loopback;"
  echo "the bridge and the ceiling each run as $procs spawn-fcgi processes x $threads threads; wrk, the"
  echo "web servers, the bridge and vault-sim share the same cores. CPU is user+sys per request"
  echo "served, of the serving processes (the bridge pool, the ceiling, vault-sim or the Python peer)"
  echo "and, separately, of the front web server (lighttpd or nginx: master and workers)."
  echo
  echo "| scenario | req/s | p50 | p99 | serving CPU us/req | front CPU us/req | RSS/PSS of the largest worker, KiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for k in "${!R_RPS[@]}"; do
    case $k in "round "*) continue ;; esac
    echo "| $k | ${R_RPS[$k]} | ${R_P50[$k]} | ${R_P99[$k]} | ${R_CPU[$k]} | ${R_FRONT[$k]} | ${R_RSS[$k]} |"
  done | sort
  if [ -n "${R_ROUNDS:-}" ]; then
    echo
    echo "Interleaved rounds (lighttpd; serving CPU us per request; (a) = (bridge + lighttpd) / peer,"
    echo "(b) = bridge / ceiling, (b') = bridge / close-at-once ceiling):"
    echo
    echo "| round | bridge, KV read | lighttpd, KV read | ceiling | ceiling, close at once | Python peer | (a) | (b) | (b') |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$R_ROUNDS"
    echo "| median | | | | | | $R_MED_A | $R_MED_B | $R_MED_B2 |"
  fi
  if [ -n "${R_REQ[syscalls]:-}" ]; then
    echo
    echo "System calls per KV read (API key, through lighttpd): \`strace -c -f\` attached to every"
    echo "thread of both workers over ${R_REQ[syscalls]} requests (counted in requests.log), divided:"
    echo "$R_SYS_TOTAL per read."
    echo
    echo "| system call | per KV read | failed per read | why |"
    echo "|---|---:|---:|---|"
    while read -r sc per errs; do
      echo "| $sc | $per | $errs | ${WHY[$sc]:-UNEXPLAINED} |"
    done < "$work/syscalls.txt"
  fi
  if [ -n "${R_REQ[memory]:-}" ]; then
    echo
    echo "Memory run: after a $((mem_requests / 5))-request warm-up, ${R_REQ[memory]} mixed requests (healthz, KV read"
    echo "through nginx and lighttpd, KV write; counted in requests.log). USS is the memory only"
    echo "that worker maps (Private_Clean + Private_Dirty of smaps_rollup), PSS adds its share of"
    echo "pages shared with other processes:"
    echo
    echo "| worker | USS KiB, before -> after | PSS KiB, before -> after |"
    echo "|---|---:|---:|"
    printf '%s' "$R_MEM_LINES"
  fi
  if [ -n "${R_REQ[leaks]:-}" ]; then
    echo
    echo "Leak run: ${R_REQ[leaks]} mixed requests (healthz, KV read, KV 404, KV write) against an ASan+UBSan build; the workers exited on SIGTERM with no LeakSanitizer or sanitizer report."
  fi
  echo
  echo "### Targets (issue 18)"
  echo
  echo "| target | measured | goal | |"
  echo "|---|---:|---:|---|"
  if [ -n "${R_CPU[kv read python peer]:-}" ] && [ -n "${R_CPU[$kvl]:-}" ]; then
    a=$(ratio "$(sum "${R_CPU[$kvl]}" "${R_FRONT[$kvl]}")" "${R_CPU[kv read python peer]}")
    echo "| (a) bridge + lighttpd CPU per KV read / Python peer's ($(sum "${R_CPU[$kvl]}" "${R_FRONT[$kvl]}") / ${R_CPU[kv read python peer]} us) | $a | <= 0.10 | $(verdict "$a" "<=" 0.10) |"
    echo "| bridge alone / Python peer's | $(ratio "${R_CPU[$kvl]}" "${R_CPU[kv read python peer]}") | | |"
  fi
  if [ -n "${R_CPU[$ceil_lt]:-}" ] && [ -n "${R_CPU[$kvl]:-}" ]; then
    b=$(ratio "${R_CPU[$kvl]}" "${R_CPU[$ceil_lt]}")
    echo "| (b) bridge CPU per KV read / ceiling CPU per request, both behind lighttpd (${R_CPU[$kvl]} / ${R_CPU[$ceil_lt]} us) | $b | <= 3 | $(verdict "$b" "<=" 3) |"
  fi
  if [ -n "${R_ROUNDS:-}" ]; then
    echo "| (a) median of ${BENCH_ROUNDS:-3} interleaved rounds | $R_MED_A | <= 0.10 | $(verdict "$R_MED_A" "<=" 0.10) |"
    echo "| (b) median of ${BENCH_ROUNDS:-3} interleaved rounds | $R_MED_B | <= 3 | $(verdict "$R_MED_B" "<=" 3) |"
    echo "| (b) median against the close-at-once ceiling | $R_MED_B2 | | |"
  fi
  [ -n "${R_CPU[$ceil_lt, close at once]:-}" ] && [ -n "${R_CPU[$kvl]:-}" ] &&
    echo "| the same against a ceiling that also closes at once (${R_CPU[$kvl]} / ${R_CPU[$ceil_lt, close at once]} us) | $(ratio "${R_CPU[$kvl]}" "${R_CPU[$ceil_lt, close at once]}") | | |"
  [ -n "${R_CPU[healthz nginx ceiling]:-}" ] && [ -n "${R_CPU[kv read api-key nginx]:-}" ] &&
    echo "| the same behind nginx | $(ratio "${R_CPU[kv read api-key nginx]}" "${R_CPU[healthz nginx ceiling]}") | | |"
  [ -n "${R_REQ[syscalls]:-}" ] &&
    echo "| (c) system calls per KV read (each explained above) | $R_SYS_TOTAL | counted | $(grep -q UNEXPLAINED <(while read -r sc _; do echo "${WHY[$sc]:-UNEXPLAINED}"; done < "$work/syscalls.txt") && echo "NOT all explained" || echo "met") |"
  [ -n "${R_REQ[memory]:-}" ] &&
    echo "| (d) largest USS growth of a worker over ${R_REQ[memory]} requests, KiB | $R_MEM_GROWTH | <= 128, flat | $(verdict "$R_MEM_GROWTH" "<=" 128) |"
  [ -n "${R_RPS[healthz nginx ceiling]:-}" ] &&
    echo "| /healthz throughput, bridge / ceiling (nginx) | $(ratio "${R_RPS[healthz nginx bridge]}" "${R_RPS[healthz nginx ceiling]}") | >= 0.70 | |"
  [ -n "${R_RPS[healthz lighttpd ceiling]:-}" ] &&
    echo "| /healthz throughput, bridge / ceiling (lighttpd) | $(ratio "${R_RPS[healthz lighttpd bridge]}" "${R_RPS[healthz lighttpd ceiling]}") | >= 0.70 | |"
  true
} > "$work/table.md"
cat "$work/table.md"

# ---- our section of docs/benchmarks.md, and nothing else ----
if [ "$out_md" != "-" ]; then
  begin='<!-- bench/run.sh:begin -->'; end='<!-- bench/run.sh:end -->'
  if [ -f "$out_md" ] && grep -qxF "$begin" "$out_md" && grep -qxF "$end" "$out_md"; then
    awk -v b="$begin" -v e="$end" -v t="$work/table.md" '
      $0 == b { print; while ((getline l < t) > 0) print l; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' "$out_md" > "$work/out.md"
  else
    { [ -f "$out_md" ] && cat "$out_md" && echo
      echo "## Hot path (bench/run.sh)"; echo; echo "$begin"; cat "$work/table.md"; echo "$end"
    } > "$work/out.md"
  fi
  cat "$work/out.md" > "$out_md"
  echo "written to $out_md (between the bench/run.sh markers)"
fi
