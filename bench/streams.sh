#!/usr/bin/env bash
# bench/streams.sh [--smoke] [--front nginx|lighttpd]... - what open event
# streams cost (issue 21, "Measure").
#
# Starts its own stack on 127.0.0.1 (vault-sim, the bridge as a spawn-fcgi
# pool, nginx or lighttpd in front, each sized for the number of streams),
# then per front: opens N concurrent GET /mcp/sse streams with
# bench-stream-client (bench/stream_client.c: one epoll loop), spread over
# N/S API keys (S = MCP_MAX_STREAMS_PER_SUBJECT), and reports
#   - streams open, and what the rest got (HTTP status counts);
#   - bridge threads before/after (/proc/PID/task of the pool);
#   - memory per open stream: USS (Private_Clean+Private_Dirty) and PSS
#     deltas from /proc/PID/smaps_rollup, of the pool and of the front, and
#     the machine's kernel memory (unreclaimable slab + TCP buffers);
#   - idle CPU with every stream open (utime+stime over STREAMS_IDLE_SECONDS,
#     % of one core) of the pool, the front and the client;
#   - event latency: STREAMS_CALLS MCP tools/call (kv.read, which publishes
#     tool.completed) by subjects whose streams are open; time from sending
#     the call until the event reached each / all of the subject's streams;
#   - KV read p99 (wrk) before the streams open, while they are open and
#     after they closed.
# The table goes into docs/benchmarks.md, section "## Event streams
# (bench/streams.sh)", as a block named STREAMS_LABEL (a rerun with the
# same label replaces that block; other blocks and sections stay).
# Everything started is stopped on exit, by the pids recorded here.
#
# --smoke: a short run (N=50, 2 per subject, 2 x 51 threads so that even
#   the thread-per-stream design holds them), both fronts, that asserts
#   every stream opened and got an event; no docs written. ctest
#   bench_streams_smoke runs it.
#
# Environment: STREAMS_N (10000), STREAMS_PER_SUBJECT (16), BENCH_PROCS (2),
#   BENCH_THREADS (4), STREAMS_IDLE_SECONDS (30), STREAMS_CALLS (200),
#   STREAMS_KV_SECONDS (10), STREAMS_KEEPALIVE_SECONDS (15),
#   STREAMS_CONCURRENCY (256 opening at once), LIGHTTPD_WORKERS (2),
#   STREAMS_LABEL ("latest"), BENCH_OUT (docs/benchmarks.md),
#   VMB_BUILD_DIR (build; with it nothing is rebuilt), KEEP_TMP=1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

smoke=0
fronts=()
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) smoke=1 ;;
    --front) fronts+=("${2:?--front needs nginx or lighttpd}"); shift ;;
    *) echo "usage: bench/streams.sh [--smoke] [--front nginx|lighttpd]..." >&2; exit 2 ;;
  esac
  shift
done
[ ${#fronts[@]} -eq 0 ] && fronts=(nginx lighttpd)
for f in "${fronts[@]}"; do
  case $f in nginx | lighttpd) ;; *) echo "unknown front $f" >&2; exit 2 ;; esac
done

if [ "$smoke" = 1 ]; then
  # Each process gets n + 1 threads: a thread-per-stream pool holds
  # threads - 1 streams per process, and the processes do not share the
  # accepts evenly (one process may take every stream).
  n=${STREAMS_N:-50}; per=${STREAMS_PER_SUBJECT:-2}; threads=${BENCH_THREADS:-$((n + 1))}
  idle=${STREAMS_IDLE_SECONDS:-1}; kv_secs=${STREAMS_KV_SECONDS:-1}
  calls=${STREAMS_CALLS:-$(((n + per - 1) / per))}   # one call per subject
else
  n=${STREAMS_N:-10000}; per=${STREAMS_PER_SUBJECT:-16}; threads=${BENCH_THREADS:-4}
  idle=${STREAMS_IDLE_SECONDS:-30}; kv_secs=${STREAMS_KV_SECONDS:-10}
  calls=${STREAMS_CALLS:-200}
fi
procs=${BENCH_PROCS:-2}
settle=$((smoke ? 1 : 3))
gap=${STREAMS_CALL_GAP_MS:-$((smoke ? 20 : 100))}   # random pause between calls, 0..gap ms
keepalive=${STREAMS_KEEPALIVE_SECONDS:-15}
concurrency=${STREAMS_CONCURRENCY:-256}
lt_workers=${LIGHTTPD_WORKERS:-2}
label=${STREAMS_LABEL:-latest}
out_md=${BENCH_OUT:-docs/benchmarks.md}
subjects=$(((n + per - 1) / per))

# shellcheck source=../scripts/lib/stack.sh
. scripts/lib/stack.sh
vmb_ensure_packages wrk lighttpd nginx-light spawn-fcgi curl jq openssl python3

if [ -n "${VMB_BUILD_DIR:-}" ]; then
  build=$(cd "$VMB_BUILD_DIR" && pwd)   # absolute: the pool starts in $work
else
  build=$root/build
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 --target vault-mcp-fcgi vault-sim bench-stream-client >/dev/null
fi
bridge=$build/bin/vault-mcp-fcgi
client=$build/bin/bench-stream-client
for b in "$bridge" "$build/bin/vault-sim" "$client"; do
  [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 2; }
done

# Every stream is a socket in the client, the front (twice: client side and
# FastCGI side) and the bridge: everything started here inherits the whole
# hard limit. Raising the hard limit itself needs CAP_SYS_RESOURCE.
ulimit -n "$(ulimit -Hn)"
fdmax=$(ulimit -n)

work=$(mktemp -d /tmp/vmb-streams.XXXXXX)
chmod 755 "$work"   # nginx workers (user nobody) reach the socket
mkdir -p "$work/logs" "$work/run"
client_pid=""
cleanup() {
  local rc=$?
  set +e
  [ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
  vmb_stop_pids "$work/front.pid" "$work/pool.pid" "$work/vault.pid"
  if [ "$rc" -ne 0 ]; then
    for f in "$work"/logs/server.log "$work"/*.err "$work/client.err"; do
      [ -s "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import procs; print(procs.free_port())' "$root/tests/lib"; }
vport=$(free_port)
fport=$(free_port)
while [ "$fport" = "$vport" ]; do fport=$(free_port); done
export VAULT_ADDR=http://127.0.0.1:$vport VAULT_TOKEN=root

say() { echo "streams.sh [${SECONDS}s]: $*" >&2; }
fail() { echo "streams.sh: FAIL: $*" >&2; exit 1; }

# ---- Vault simulator, one secret per subject --------------------------------
vmb_start_vault_sim "$build/bin/vault-sim" "$vport" root "$work/logs/vault-sim.log" "$work/vault.pid"
vmb_provision_vault "$root" "$VAULT_ADDR" root "$work/logs/provision.log"
python3 - "$work" "$subjects" "$VAULT_ADDR" <<'PY'
import json, os, sys
work, count, vault = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keys = [os.urandom(24).hex() for _ in range(count)]
subj = ["bench_s%05d" % i for i in range(count)]
open(work + "/keys.txt", "w").write("".join(k + "\n" for k in keys))
open(work + "/api_keys.json", "w").write(json.dumps(dict(zip(keys, subj))))
# one curl run writes every subject's bench/item (connection reused)
with open(work + "/curl-items.cfg", "w") as f:
    for i, s in enumerate(subj):
        if i:
            f.write("next\n")
        f.write('url = "%s/v1/secret/data/mcp/%s/bench/item"\n' % (vault, s))
        f.write('header = "X-Vault-Token: root"\nrequest = "POST"\n')
        f.write('data = "{\\"data\\":{\\"user\\":\\"bench\\",\\"password\\":\\"not-a-real-one\\"}}"\n')
        f.write('output = "/dev/null"\nsilent\nfail\n')
PY
curl -K "$work/curl-items.cfg" || fail "could not write the subjects' secrets into vault-sim"
key0=$(head -n 1 "$work/keys.txt")

# ---- bridge settings ---------------------------------------------------------
# MCP_MAX_STREAMS_PER_PROCESS exists only once streams are parked; when the
# binary knows it, every stream may land on one process.
help=$("$bridge" --help 2>&1 || true)
proc_limit=""
if line=$(grep -m1 'env MCP_MAX_STREAMS_PER_PROCESS' <<<"$help"); then
  hi=$(sed -n 's/.*range [0-9]*\.\.\([0-9]*\).*/\1/p' <<<"$line")
  proc_limit=$((n + 16))
  [ -n "$hi" ] && [ "$proc_limit" -gt "$hi" ] && proc_limit=$hi
fi
python3 - "$work" "$per" "$keepalive" "$proc_limit" <<'PY'
import json, sys
work, per, ka, plim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
import os
cfg = {"VAULT_ADDR": os.environ["VAULT_ADDR"], "VAULT_TOKEN": "root",
       "API_KEYS_JSON": json.load(open(work + "/api_keys.json")),
       "RATE_LIMIT_ENABLED": False, "MCP_MAX_STREAMS_PER_SUBJECT": per,
       "MCP_SSE_KEEPALIVE_SECONDS": ka, "LOG_DIR": work + "/logs", "RUN_DIR": work + "/run"}
if plim:
    cfg["MCP_MAX_STREAMS_PER_PROCESS"] = int(plim)
json.dump(cfg, open(work + "/bridge.json", "w"))
PY
export APP_CONFIG_FILE=$work/bridge.json
"$bridge" --check-config >"$work/check-config.txt" 2>&1 || { cat "$work/check-config.txt" >&2; fail "bridge refuses the config"; }

sock=$work/bridge.sock
start_pool() {
  rm -f "$sock"
  (cd "$work" && spawn-fcgi -s "$sock" -M 0666 -b 4096 -F "$procs" -P "$work/pool.pid" \
    -- "$bridge" --threads "$threads" >/dev/null)
  vmb_wait_sock "$sock" 10
}

# ---- fronts, sized for the streams ---------------------------------------------
start_nginx() {
  # Each stream is two connections of one worker (client + FastCGI);
  # reuseport spreads the clients evenly over the two workers.
  local wc=$((n + 1024))
  cat >"$work/nginx.conf" <<CONF
worker_processes 2;
worker_rlimit_nofile $fdmax;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections $wc; use epoll; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  fastcgi_temp_path $work/nginx-fcgi;
  server {
    listen 127.0.0.1:$fport reuseport backlog=4096;
    # unbuffered, and quiet for longer than the keepalive interval
    location = /mcp/sse { include /etc/nginx/fastcgi_params; fastcgi_pass unix:$sock;
      fastcgi_buffering off; fastcgi_read_timeout 1h; }
    location / { include /etc/nginx/fastcgi_params; fastcgi_pass unix:$sock; }
  }
}
CONF
  nginx -t -q -c "$work/nginx.conf" -p "$work" -g 'daemon off;' 2>>"$work/nginx.err"
  setsid nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' </dev/null >/dev/null 2>>"$work/nginx.err" &
  echo $! >"$work/front.pid"
}
start_lighttpd() {
  # A stream needs two fds of one lighttpd process (client + FastCGI), so
  # with a hard fd limit of 20000 one process holds fewer than 10000
  # streams (max-connections is at most max-fds/2): LIGHTTPD_WORKERS
  # processes share the listening socket (server.max-worker). 2 hold 10000
  # with room for an uneven split.
  local mc=$((fdmax / 2 - 64))
  cat >"$work/lighttpd.conf" <<CONF
server.modules = ("mod_fastcgi")
server.document-root = "$work"
server.port = $fport
server.bind = "127.0.0.1"
server.errorlog = "$work/lighttpd.err"
server.max-fds = $fdmax
server.max-connections = $mc
server.max-worker = $lt_workers
server.listen-backlog = 4096
fastcgi.server = ("/" => (("socket" => "$sock", "check-local" => "disable")))
\$HTTP["url"] == "/mcp/sse" { server.stream-response-body = 2 }
CONF
  lighttpd -tt -f "$work/lighttpd.conf" >/dev/null 2>>"$work/lighttpd.err"
  # Its own session: with server.max-worker, lighttpd stops its workers
  # with kill(0, SIGTERM), which would hit this script's process group.
  setsid lighttpd -D -f "$work/lighttpd.conf" </dev/null >/dev/null 2>>"$work/lighttpd.err" &
  echo $! >"$work/front.pid"
}

# ---- /proc readings -------------------------------------------------------------
pool_pids() { cat "$work/pool.pid"; }
front_pids() {   # the front's main process and its workers
  local m; m=$(cat "$work/front.pid"); echo "$m"; pgrep -P "$m" || true
}
threads_of() { local t=0 p; for p in "$@"; do t=$((t + $(ls "/proc/$p/task" | wc -l))); done; echo $t; }
ticks_of() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo $t
}
mem_of() {   # "USS PSS" in KiB, summed
  local p
  for p in "$@"; do cat "/proc/$p/smaps_rollup"; done |
    awk '/^Private_(Clean|Dirty):/{u += $2} /^Pss:/{s += $2} END{printf "%d %d\n", u, s}'
}
# Kernel memory of the whole machine, KiB: unreclaimable slab (sockets,
# socket buffers, epoll items, files) plus TCP buffer pages. Every stream
# holds kernel objects at both ends of both of its connections; they belong
# to no process, so USS cannot see them. Machine-wide, so other work moves it.
kmem() {
  local slab tcp
  slab=$(awk '/^SUnreclaim:/{print $2}' /proc/meminfo)
  tcp=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * 4 }' /proc/net/sockstat)
  echo $((slab + ${tcp:-0}))
}
hz=$(getconf CLK_TCK)
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

cat >"$work/get.lua" <<'LUA'
wrk.headers["X-API-Key"] = os.getenv("WRK_KEY")
LUA
kv_p99() {   # $1 seconds -> "p99_ms requests non2xx p50_ms"
  local out
  out=$(WRK_KEY=$key0 wrk -t1 -c4 -d"${1}s" --latency -s "$work/get.lua" \
        "http://127.0.0.1:$fport/secrets/bench/item")
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                        if (v ~ /s$/) return v * 1000; return v }
       $1 == "99%" { p = ms($2) } $1 == "50%" { h = ms($2) }
       /requests in/ { r = $1 } /Non-2xx/ { e = $NF }
       END { printf "%.2f %d %d %.2f\n", p, r, e + 0, h }' <<<"$out"
}

# ---- one front ---------------------------------------------------------------------
declare -A R
client_cmd() {   # $1 command, $2 timeout seconds -> the answer line
  local reply
  echo "$1" >&"${CLIENT[1]}"
  IFS= read -r -t "$2" -u "${CLIENT[0]}" reply || fail "client gave no answer to '$1'"
  echo "$reply"
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
metrics_streams() {   # stream gauges on /metrics, when the bridge has any
  curl -s "http://127.0.0.1:$fport/metrics" | grep -v '^#' | grep -i 'stream' | grep -vi 'upstream' |
    tr '\n' ' ' | cut -c1-400 || true
}

run_front() {
  local f=$1 i
  say "$f: pool $procs x $threads threads, $n streams over $subjects subjects"
  start_pool
  "start_$f"
  for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$fport/healthz" && break
    sleep 0.1
  done
  curl -sf -o /dev/null "http://127.0.0.1:$fport/healthz" || fail "$f does not answer"
  R[$f.load_start]=$(loadavg)

  kv_p99 "$kv_secs" >/dev/null   # warm-up: every worker thread has served
  read -r "R[$f.kv0]" "R[$f.kv0_n]" "R[$f.kv0_err]" "R[$f.kv0_p50]" <<<"$(kv_p99 "$kv_secs")"
  local pp fp
  pp=$(pool_pids); fp=$(front_pids)
  # shellcheck disable=SC2086
  R[$f.thr0]=$(threads_of $pp)
  # shellcheck disable=SC2086
  read -r "R[$f.buss0]" "R[$f.bpss0]" <<<"$(mem_of $pp)"
  # shellcheck disable=SC2086
  read -r "R[$f.fuss0]" "R[$f.fpss0]" <<<"$(mem_of $fp)"
  R[$f.kmem0]=$(kmem)

  coproc CLIENT { exec "$client" --port "$fport" --keys "$work/keys.txt" --streams "$n" \
    --per-key "$per" --concurrency "$concurrency" --open-timeout 180 2>>"$work/client.err"; }
  client_pid=$CLIENT_PID
  IFS= read -r -t 10 -u "${CLIENT[0]}" "R[$f.ready]" || fail "client did not start"
  local t0=$SECONDS line
  line=$(client_cmd open 240)
  R[$f.open_s]=$((SECONDS - t0))
  say "$f: $line"
  R[$f.open]=$(field open "$line"); R[$f.codes]=$(field codes "$line")
  R[$f.cfail]=$(field conn_failed "$line"); R[$f.nodata]=$(field no_data "$line")
  R[$f.pending]=$(field pending "$line")
  sleep "$settle"   # let the pool settle (threads, buffers) before reading /proc
  # shellcheck disable=SC2086
  R[$f.thr1]=$(threads_of $pp)
  # shellcheck disable=SC2086
  read -r "R[$f.buss1]" "R[$f.bpss1]" <<<"$(mem_of $pp)"
  fp=$(front_pids)
  # shellcheck disable=SC2086
  read -r "R[$f.fuss1]" "R[$f.fpss1]" <<<"$(mem_of $fp)"
  R[$f.kmem1]=$(kmem)
  R[$f.metrics]=$(metrics_streams)

  # idle: every stream open, nothing happening but keepalives
  local b0 f0 c0 b1 f1 c1 s0 s1
  s0=$(client_cmd status 10)
  # shellcheck disable=SC2086
  b0=$(ticks_of $pp); f0=$(ticks_of $fp); c0=$(ticks_of "$client_pid")
  sleep "$idle"
  # shellcheck disable=SC2086
  b1=$(ticks_of $pp); f1=$(ticks_of $fp); c1=$(ticks_of "$client_pid")
  s1=$(client_cmd status 10)
  R[$f.ka]=$(($(field keepalives "$s1") - $(field keepalives "$s0")))
  pcts() { awk -v t="$1" -v hz="$hz" -v s="$idle" 'BEGIN { printf "%.2f", 100 * t / hz / s }'; }
  R[$f.cpu_b]=$(pcts $((b1 - b0))); R[$f.cpu_f]=$(pcts $((f1 - f0))); R[$f.cpu_c]=$(pcts $((c1 - c0)))
  R[$f.load_idle]=$(loadavg)
  say "$f: idle ${idle}s: bridge ${R[$f.cpu_b]}% front ${R[$f.cpu_f]}% client ${R[$f.cpu_c]}% of a core"

  line=$(client_cmd "calls $calls 5000 $gap" $((calls * 6 + 30)))
  say "$f: $line"
  for k in "done" http200 subjects expected received missed all_p50_ms all_p99_ms all_max_ms \
           each_p50_ms each_p99_ms ts_p50_ms ts_p99_ms; do
    R[$f.$k]=$(field "$k" "$line")
  done

  read -r "R[$f.kv1]" "R[$f.kv1_n]" "R[$f.kv1_err]" "R[$f.kv1_p50]" <<<"$(kv_p99 "$kv_secs")"
  line=$(client_cmd status 10)
  say "$f: $line"
  R[$f.still]=$(field open "$line"); R[$f.closed]=$(field closed "$line")
  R[$f.with_event]=$(field with_event "$line")
  R[$f.load_end]=$(loadavg)

  echo quit >&"${CLIENT[1]}"
  local crc=0
  wait "$client_pid" || crc=$?
  client_pid=""
  # a sanitizer report of an instrumented client makes it exit non-zero
  [ "$crc" = 0 ] || fail "$f: the client exited with status $crc (see client.err)"
  # KV reads once more without streams: the spread of the two runs without
  # streams shows how much of a difference the machine's load alone makes.
  sleep "$settle"
  read -r "R[$f.kv2]" "R[$f.kv2_n]" "R[$f.kv2_err]" "R[$f.kv2_p50]" <<<"$(kv_p99 "$kv_secs")"
  vmb_stop_pids "$work/front.pid" "$work/pool.pid"

  if [ "$smoke" = 1 ]; then
    [ "${R[$f.open]}" = "$n" ] || fail "$f: ${R[$f.open]} of $n streams opened (codes ${R[$f.codes]})"
    [ "${R[$f.nodata]}" = 0 ] || fail "$f: ${R[$f.nodata]} streams got 200 but no data (buffered?)"
    [ "${R[$f.done]}" = "$calls" ] && [ "${R[$f.http200]}" = "$calls" ] ||
      fail "$f: ${R[$f.http200]} of $calls tools/call answered 200"
    [ "${R[$f.missed]}" = 0 ] && [ "${R[$f.received]}" = "${R[$f.expected]}" ] ||
      fail "$f: ${R[$f.missed]} of ${R[$f.expected]} events missed"
    [ "${R[$f.with_event]}" = "$n" ] && [ "${R[$f.still]}" = "$n" ] ||
      fail "$f: ${R[$f.with_event]} of ${R[$f.still]} open streams (of $n) got an event"
    [ "${R[$f.kv0_err]}" = 0 ] && [ "${R[$f.kv1_err]}" = 0 ] && [ "${R[$f.kv2_err]}" = 0 ] &&
      [ "${R[$f.kv1_n]}" -gt 0 ] ||
      fail "$f: KV reads failed (${R[$f.kv0_err]} / ${R[$f.kv1_err]} / ${R[$f.kv2_err]} non-2xx)"
    say "$f: smoke ok: $n streams open, $calls calls, every stream got its subject's events"
  fi
}

for f in "${fronts[@]}"; do run_front "$f"; done
[ "$smoke" = 1 ] && { say "smoke passed"; exit 0; }

# ---- the table ---------------------------------------------------------------------
per_stream() {   # $1 before, $2 after, $3 streams -> KiB per stream
  awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { if (s > 0) printf "%.1f", (b - a) / s; else print "n/a" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# The last commit outside docs/: recording the figures does not change it.
commit=$(git log -1 --format=%h -- . ':!docs')
git diff --quiet HEAD -- core fcgi-app 2>/dev/null || commit="$commit+local changes"
{
  echo "<!-- bench/streams.sh run: $label -->"
  echo "### $label"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') at commit $commit, $(nproc) cores, $(uname -r);"
  echo "pool $procs x $threads threads (spawn-fcgi), MCP_MAX_STREAMS_PER_SUBJECT=$per$([ -n "$proc_limit" ] && echo ", MCP_MAX_STREAMS_PER_PROCESS=$proc_limit"),"
  echo "MCP_SSE_KEEPALIVE_SECONDS=$keepalive; $n streams asked over $subjects API keys, $concurrency opening at once;"
  echo "fd limit $fdmax per process; lighttpd with server.max-worker=$lt_workers; nginx 2 workers."
  echo
  printf '| |'; for f in "${fronts[@]}"; do printf ' %s |' "$f"; done; echo
  printf '|---|'; for f in "${fronts[@]}"; do printf -- '---:|'; done; echo
  row() { local name=$1; shift; printf '| %s |' "$name"; for f in "${fronts[@]}"; do printf ' %s |' "$("$@" "$f")"; done; echo; }
  v_load() { echo "${R[$1.load_start]} / ${R[$1.load_idle]} / ${R[$1.load_end]}"; }
  v_open() { echo "${R[$1.open]} of $n (${R[$1.open_s]} s)"; }
  v_rest() { echo "codes ${R[$1.codes]}; conn. failed ${R[$1.cfail]}; 200 without data ${R[$1.nodata]}; pending ${R[$1.pending]}"; }
  v_thr() { echo "${R[$1.thr0]} → ${R[$1.thr1]}"; }
  v_bmem() { echo "${R[$1.buss0]} → ${R[$1.buss1]} / ${R[$1.bpss0]} → ${R[$1.bpss1]}"; }
  v_bper() { echo "$(per_stream "${R[$1.buss0]}" "${R[$1.buss1]}" "${R[$1.open]}") / $(per_stream "${R[$1.bpss0]}" "${R[$1.bpss1]}" "${R[$1.open]}")"; }
  v_fmem() { echo "${R[$1.fuss0]} → ${R[$1.fuss1]} / ${R[$1.fpss0]} → ${R[$1.fpss1]}"; }
  v_fper() { echo "$(per_stream "${R[$1.fuss0]}" "${R[$1.fuss1]}" "${R[$1.open]}") / $(per_stream "${R[$1.fpss0]}" "${R[$1.fpss1]}" "${R[$1.open]}")"; }
  v_kmem() { echo "${R[$1.kmem0]} → ${R[$1.kmem1]}: $(per_stream "${R[$1.kmem0]}" "${R[$1.kmem1]}" "${R[$1.open]}")"; }
  v_cpu() { echo "${R[$1.cpu_b]} / ${R[$1.cpu_f]} / ${R[$1.cpu_c]}"; }
  v_ka() { echo "${R[$1.ka]}"; }
  v_calls() { echo "${R[$1.done]} calls (${R[$1.http200]} × 200) over ${R[$1.subjects]} subjects; ${R[$1.received]} of ${R[$1.expected]} deliveries, ${R[$1.missed]} missed"; }
  v_all() { echo "${R[$1.all_p50_ms]} / ${R[$1.all_p99_ms]} / ${R[$1.all_max_ms]}"; }
  v_each() { echo "${R[$1.each_p50_ms]} / ${R[$1.each_p99_ms]}"; }
  v_ts() { echo "${R[$1.ts_p50_ms]} / ${R[$1.ts_p99_ms]}"; }
  v_kv() { echo "${R[$1.kv0]} → ${R[$1.kv1]} → ${R[$1.kv2]} ms (with / before × $(ratio "${R[$1.kv1]}" "${R[$1.kv0]}"), after / before × $(ratio "${R[$1.kv2]}" "${R[$1.kv0]}"))"; }
  v_kv50() { echo "${R[$1.kv0_p50]} → ${R[$1.kv1_p50]} → ${R[$1.kv2_p50]} ms"; }
  v_end() { echo "${R[$1.still]} open, ${R[$1.closed]} closed"; }
  v_met() { local m="${R[$1.metrics]}"; echo "${m:-none}"; }
  row "load average (start / idle / end)" v_load
  row "streams open (time to open all)" v_open
  row "the rest" v_rest
  row "bridge threads before → after (goal: no growth)" v_thr
  row "bridge pool USS / PSS, KiB, before → after" v_bmem
  row "**bridge USS / PSS per open stream, KiB** (goal USS ≤ 8)" v_bper
  row "front USS / PSS, KiB, before → after" v_fmem
  row "front USS / PSS per open stream, KiB" v_fper
  row "kernel memory (SUnreclaim + TCP buffers, whole machine) before → after: per open stream, KiB" v_kmem
  row "**idle CPU over ${idle} s, % of one core: bridge pool / front / client** (goal pool < 2)" v_cpu
  row "keepalives received in that time" v_ka
  row "tools/call kv.read" v_calls
  row "**event send → all of the subject's streams, ms: p50 / p99 / max** (goal p99 ≤ 50)" v_all
  row "event send → each stream, ms: p50 / p99" v_each
  row "event ts → receipt (ms clock), ms: p50 / p99" v_ts
  row "**KV read p99 before → with streams → after they closed (wrk -t1 -c4, ${kv_secs} s each)** (goal with / before ≤ 1.10)" v_kv
  row "KV read p50, same runs" v_kv50
  row "streams at the end" v_end
  row "stream metrics on /metrics" v_met
  echo "<!-- end of run: $label -->"
} >"$work/block.md"
cat "$work/block.md"

python3 - "$out_md" "$work/block.md" "$label" <<'PY'
import re, sys
path, block_path, label = sys.argv[1], sys.argv[2], sys.argv[3]
head = "## Event streams (bench/streams.sh)"
block = open(block_path).read().rstrip("\n") + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n"
start = text.find("\n" + head + "\n")
if start < 0:
    text = text.rstrip("\n") + "\n\n" + head + "\n\n" + block
else:
    start += 1
    nxt = re.compile(r"^## ", re.M).search(text, start + len(head))
    end = nxt.start() if nxt else len(text)
    section = text[start:end]
    b0 = section.find("<!-- bench/streams.sh run: %s -->" % label)
    endmark = "<!-- end of run: %s -->\n" % label
    if b0 >= 0 and section.find(endmark, b0) >= 0:
        b1 = section.find(endmark, b0) + len(endmark)
        section = section[:b0] + block + section[b1:]
    else:
        section = section.rstrip("\n") + "\n\n" + block + ("\n" if nxt else "")
    text = text[:start] + section + text[end:]
open(path, "w").write(text)
PY
say "written to $out_md (block '$label')"
