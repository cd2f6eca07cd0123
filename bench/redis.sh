#!/usr/bin/env bash
# bench/redis.sh [--smoke] [--out FILE] - what Redis costs per request (issue 16).
#
# Starts its own stack on 127.0.0.1 (free ports, a temp dir): one vault-sim,
# one redis-server (no persistence), three bridge pools (spawn-fcgi, each
# with its own RUN_DIR and LOG_DIR, each behind its own lighttpd):
#   A  REDIS_URL set  (host A)
#   B  REDIS_URL set  (host B: same Redis, same vault-sim)
#   S  REDIS_URL unset, rate limits in RUN_DIR shared memory (otherwise A's
#      configuration exactly)
# and measures, in one run:
#   (a) a KV read (GET /secrets/bench/item, API key) with the rate limit in
#       Redis (A) against shared memory (S): req/s, p50/p99 and CPU per
#       request (utime+stime from /proc of the pool's workers, and of
#       redis-server), at one connection (latency) and at BENCH_CONNECTIONS
#       (saturated); rounds alternate S and A so drift in the machine's
#       load hits both alike; medians of the rounds are reported;
#   (b) throughput of two hosts against one: the same wrk load all on A's
#       front, then split across A's and B's fronts at the same time;
#   (c) Redis round trips per request (bench/redis_trips.py: MONITOR and
#       INFO commandstats deltas over an exact number of requests) for a
#       KV read, a request in an MCP session, an MCP tools/call (which
#       publishes an event), an admin write (registry change counter), and
#       what one idle /mcp/sse stream costs per second.
# The results replace the block between the bench/redis.sh markers in the
# "## Redis (bench/redis.sh)" section of FILE (default docs/benchmarks.md);
# nothing else of FILE changes. Everything it starts is stopped on exit
# (by pid; the pools' workers are found by their working directory).
#
# --smoke: one round of 1 s runs and 60 requests per kind; for ctest
#   (label bench), which passes --out to a scratch file.
# Environment: BENCH_SECONDS (8), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32),
#   BENCH_PROCS (2), BENCH_THREADS (4), BENCH_TRIPS (400),
#   VMB_BIN_DIR (binaries already built: skip the build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

smoke=0
out_md=docs/benchmarks.md
while [ $# -gt 0 ]; do
  case $1 in
  --smoke) smoke=1 ;;
  --out) out_md=$2; shift ;;
  *) echo "usage: bench/redis.sh [--smoke] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck disable=SC1091  # sourced from the repository root (cd above)
. scripts/lib/deps.sh
vmb_ensure_packages wrk lighttpd spawn-fcgi redis-server redis-tools curl python3

secs=${BENCH_SECONDS:-8}; rounds=${BENCH_ROUNDS:-3}; trips_n=${BENCH_TRIPS:-400}
conns=${BENCH_CONNECTIONS:-32}; procs=${BENCH_PROCS:-2}; threads=${BENCH_THREADS:-4}
warm=2; stream_secs=5
if [ "$smoke" = 1 ]; then
  secs=1; rounds=1; trips_n=60; warm=0; stream_secs=1
fi

if [ -n "${VMB_BIN_DIR:-}" ]; then
  bin_dir=$VMB_BIN_DIR
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" --target vault-mcp-fcgi vault-sim >/dev/null
  bin_dir=$root/build/bin
fi
bridge_bin=$bin_dir/vault-mcp-fcgi

# The commit measured: the last one that changed anything outside docs/
# (so writing the figures down does not change the commit they name).
commit=$(git -C "$root" log -1 --format=%h HEAD -- . ':(exclude)docs' 2>/dev/null || echo unknown)
if ! git -C "$root" diff --quiet HEAD -- . ':(exclude)docs' 2>/dev/null; then
  commit="$commit (with uncommitted changes)"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

work=$(mktemp -d /tmp/vmb-redisbench.XXXXXX)
pids=()
pool_pids() {   # bridge workers whose working directory is $work/$1
  local p
  for p in $(pgrep -x vault-mcp-fcgi || true); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null || true)" = "$work/$1" ] && echo "$p"
  done
  return 0
}
cleanup() {
  local p
  for p in "${pids[@]}" $(pool_pids A) $(pool_pids B) $(pool_pids S); do
    kill "$p" 2>/dev/null || true
  done
  for _ in $(seq 50); do
    [ -z "$(pool_pids A)$(pool_pids B)$(pool_pids S)" ] && break
    sleep 0.1
  done
  rm -rf "$work"
}
trap cleanup EXIT

used_ports=" "
port() {   # a free loopback port not handed out before in this run
  local p
  while :; do
    p=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from procs import free_port; print(free_port())' \
        "$root/tests/lib")
    case $used_ports in *" $p "*) continue ;; esac
    used_ports="$used_ports$p "
    echo "$p"; return 0
  done
}
wait_http() { for _ in $(seq 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# ---- vault-sim and redis-server ----
vault_port=$(port); redis_port=$(port)
"$bin_dir/vault-sim" --dev --dev-root-token-id root --dev-listen-address "127.0.0.1:$vault_port" \
  > "$work/vault.log" 2>&1 &
vault_pid=$!
pids+=("$vault_pid")
mkdir -p "$work/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work/redis" \
  --daemonize no --logfile "$work/redis/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
wait_http "http://127.0.0.1:$vault_port/v1/sys/health"
for _ in $(seq 100); do redis-cli -p "$redis_port" PING >/dev/null 2>&1 && break; sleep 0.1; done
subject=agent_bench
api_key=$(openssl rand -hex 24); admin_key=$(openssl rand -hex 24)
curl -sf -H "X-Vault-Token: root" -X POST -d '{"data":{"user":"bench","password":"not-a-real-one"}}' \
  "http://127.0.0.1:$vault_port/v1/secret/data/mcp/$subject/bench/item" > /dev/null

# ---- the three pools and their fronts ----
keys_json="{\"$api_key\":{\"subject\":\"$subject\",\"scopes\":[\"read\",\"write\",\"list\"]},\"$admin_key\":{\"subject\":\"bench-admin\",\"scopes\":[\"admin\"]}}"
declare -A front front_pid
start_pool() {   # $1 = name, $2 = REDIS_URL or ""
  local d=$work/$1 fp
  mkdir -p "$d"
  env -i PATH="$PATH" HOME="$work" API_KEYS_JSON="$keys_json" \
      VAULT_ADDR="http://127.0.0.1:$vault_port" VAULT_TOKEN=root \
      RUN_DIR="$d/run" LOG_DIR="$d/logs" \
      RATE_LIMIT_ENABLED=true RATE_LIMIT_REQUESTS=100000000 RATE_LIMIT_WINDOW_SECONDS=60 \
      REDIS_URL="$2" \
    spawn-fcgi -s "$d/fcgi.sock" -M 0600 -F "$procs" -d "$d" -- "$bridge_bin" --threads "$threads" > /dev/null
  fp=$(port)
  cat > "$d/lighttpd.conf" <<CONF
server.modules = ("mod_fastcgi")
server.document-root = "$d"
server.bind = "127.0.0.1"
server.port = $fp
server.errorlog = "$d/lighttpd.err"
server.max-connections = 1024
server.stream-response-body = 2
fastcgi.server = ("/" => (("socket" => "$d/fcgi.sock", "check-local" => "disable")))
CONF
  lighttpd -D -f "$d/lighttpd.conf" > /dev/null 2>&1 &
  front_pid[$1]=$!
  pids+=("${front_pid[$1]}")
  front[$1]=$fp
}
start_pool A "redis://127.0.0.1:$redis_port/0"
start_pool B "redis://127.0.0.1:$redis_port/0"
start_pool S ""
for h in A B S; do wait_http "http://127.0.0.1:${front[$h]}/healthz"; done
for h in A B S; do
  n=$(pool_pids $h | wc -l)
  [ "$n" -eq "$procs" ] || { echo "pool $h: $n of $procs workers running" >&2; exit 1; }
done

# ---- measuring ----
hz=$(getconf CLK_TCK)
ticks() {   # utime+stime (clock ticks) of the given pids, summed
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    # fields after the ")" of the command name: utime is the 12th, stime the 13th
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo $t
}
cat > "$work/hdr.lua" <<LUA
wrk.headers["X-API-Key"] = "$api_key"
LUA
to_us() {   # wrk's "1.23ms" / "456.00us" / "1.02s" -> microseconds
  awk -v v="$1" 'BEGIN{ n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /s$/) m = 1e6; else m = 1; printf "%.0f", n * m }'
}
# wrk_once URL CONNS OUTFILE: wrk in the foreground; fails on non-2xx
wrk_once() {
  local t=2
  [ "$2" -lt 2 ] && t=1
  wrk -t"$t" -c"$2" -d"${secs}s" --latency -s "$work/hdr.lua" "$1" > "$3"
  if grep -q "Non-2xx" "$3"; then echo "non-2xx answers from $1:" >&2; cat "$3" >&2; exit 1; fi
}
wrk_reqs() { awk '/requests in/{print $1}' "$1"; }
wrk_pct() { to_us "$(awk -v p="$2" '$1==p{print $2}' "$1")"; }
warmup() { [ "$warm" -gt 0 ] && wrk -t1 -c"$2" -d"${warm}s" -s "$work/hdr.lua" "$1" > /dev/null; return 0; }

declare -A V   # V[key] = space-separated values, one per round
add() { V[$1]="${V[$1]:-}$2 "; }
median() { echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{ if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }
spread() { echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{lo=$1} {hi=$1} END{ if (NR > 1) printf " (%s-%s)", lo, hi }'; }

kv_path=/secrets/bench/item
# (a) one limiter, one load: $1 = S|A, $2 = connections
measure_a() {
  local h=$1 c=$2 url="http://127.0.0.1:${front[$1]}$kv_path" pl b r b2 r2 n k
  pl=$(pool_pids "$h")
  warmup "$url" "$c"
  # shellcheck disable=SC2086
  b=$(ticks $pl); r=$(ticks "$redis_pid")
  wrk_once "$url" "$c" "$work/a.out"
  # shellcheck disable=SC2086
  b2=$(ticks $pl); r2=$(ticks "$redis_pid")
  n=$(wrk_reqs "$work/a.out"); k="$h,$c"
  add "rps,$k" "$(awk '/Requests\/sec/{printf "%d", $2}' "$work/a.out")"
  add "p50,$k" "$(wrk_pct "$work/a.out" 50%)"
  add "p99,$k" "$(wrk_pct "$work/a.out" 99%)"
  add "cpu,$k" "$(awk -v t=$((b2 - b)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')"
  add "rcpu,$k" "$(awk -v t=$((r2 - r)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')"
  add "n,$k" "$n"
  echo "  (a) $h c=$c: $(awk '/Requests\/sec/{print $2}' "$work/a.out") req/s, $n requests" >&2
}
# (b) $1 = 1 (all on A) or 2 (split across A and B)
measure_b() {
  local hosts=$1 pl b r b2 r2 f f2 v v2 n k=hosts$1 wp1 wp2 half=$((conns / 2))
  pl="$(pool_pids A) $(pool_pids B)"
  # shellcheck disable=SC2086
  b=$(ticks $pl); r=$(ticks "$redis_pid")
  f=$(ticks "${front_pid[A]}" "${front_pid[B]}"); v=$(ticks "$vault_pid")
  if [ "$hosts" = 1 ]; then
    wrk_once "http://127.0.0.1:${front[A]}$kv_path" "$conns" "$work/b1.out"
    n=$(wrk_reqs "$work/b1.out")
    add "p50,$k" "$(wrk_pct "$work/b1.out" 50%)"; add "p99,$k" "$(wrk_pct "$work/b1.out" 99%)"
  else
    wrk_once "http://127.0.0.1:${front[A]}$kv_path" "$half" "$work/b1.out" &
    wp1=$!; pids+=("$wp1")
    wrk_once "http://127.0.0.1:${front[B]}$kv_path" "$half" "$work/b2.out" &
    wp2=$!; pids+=("$wp2")
    wait "$wp1"; wait "$wp2"
    n=$(( $(wrk_reqs "$work/b1.out") + $(wrk_reqs "$work/b2.out") ))
    # the larger of the two fronts' percentiles (both carry half the load)
    add "p50,$k" "$(printf '%s\n%s\n' "$(wrk_pct "$work/b1.out" 50%)" "$(wrk_pct "$work/b2.out" 50%)" | sort -g | tail -1)"
    add "p99,$k" "$(printf '%s\n%s\n' "$(wrk_pct "$work/b1.out" 99%)" "$(wrk_pct "$work/b2.out" 99%)" | sort -g | tail -1)"
  fi
  # shellcheck disable=SC2086
  b2=$(ticks $pl); r2=$(ticks "$redis_pid")
  f2=$(ticks "${front_pid[A]}" "${front_pid[B]}"); v2=$(ticks "$vault_pid")
  add "rps,$k" "$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%d", n / s}')"
  add "fcpu,$k" "$(awk -v t=$((f2 - f)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')"
  add "vcpu,$k" "$(awk -v t=$((v2 - v)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')"
  # cores the whole stack got (bridge pools, fronts, redis-server,
  # vault-sim; not wrk) and the requests served per core-second of it
  add "cores,$k" "$(awk -v t=$((b2 - b + r2 - r + f2 - f + v2 - v)) -v hz="$hz" -v s="$secs" 'BEGIN{printf "%.2f", t / hz / s}')"
  add "rpc,$k" "$(awk -v t=$((b2 - b + r2 - r + f2 - f + v2 - v)) -v hz="$hz" -v n="$n" 'BEGIN{ if (t == 0) print 0; else printf "%d", n / (t / hz) }')"
  add "cpu,$k" "$(awk -v t=$((b2 - b)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')"
  add "rcpu,$k" "$(awk -v t=$((r2 - r)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.1f", t * 1e6 / hz / n}')"
  echo "  (b) $hosts host(s): $((n / secs)) req/s" >&2
}

for round in $(seq "$rounds"); do
  echo "round $round of $rounds" >&2
  for c in 1 "$conns"; do measure_a S "$c"; measure_a A "$c"; done
  warmup "http://127.0.0.1:${front[B]}$kv_path" "$conns"
  measure_b 1
  measure_b 2
done

echo "(c) round trips" >&2
python3 bench/redis_trips.py --redis-port "$redis_port" --front-a "${front[A]}" --front-b "${front[B]}" \
  --key "$api_key" --admin-key "$admin_key" --n "$trips_n" --stream-seconds "$stream_secs" \
  --procs "$procs" > "$work/trips.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the block ----
flips() { grep -c 'redis unavailable' "$work/$1/logs/server.log" 2>/dev/null || true; }
us_ms() { awk -v u="$1" 'BEGIN{ if (u == "n/a") print u; else if (u >= 1000) printf "%.2f ms", u / 1000; else printf "%d us", u }'; }
fig() { median "${V[$1]:-}"; }
cell_lat() { us_ms "$(fig "$1")"; }
{
  echo "<!-- bench/redis.sh: begin (generated; the script replaces this block) -->"
  echo "Produced by \`bench/redis.sh\`$([ "$smoke" = 1 ] && echo ' --smoke') at commit $commit, $started;"
  echo "load average (1/5/15 min) $load_before at the start, $load_after at the end, on $(nproc) cores"
  echo "shared with other sessions' builds and tests. Each pool: $procs spawn-fcgi processes x $threads threads"
  echo "behind its own lighttpd; vault-sim, redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') and wrk on the same cores."
  echo "$rounds round(s) of ${secs} s per figure; medians, the range over the rounds in parentheses."
  echo
  echo "**(a) KV read, rate limit in Redis against shared memory** (same stack; pools A and S differ only in \`REDIS_URL\`):"
  echo
  echo "| limiter | connections | req/s | p50 | p99 | bridge CPU us/req | redis-server CPU us/req |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for c in 1 "$conns"; do
    for h in S A; do
      k="$h,$c"
      name=$([ "$h" = S ] && echo "shared memory" || echo "Redis")
      echo "| $name | $c | $(fig "rps,$k")$(spread "${V[rps,$k]}") | $(cell_lat "p50,$k") | $(cell_lat "p99,$k") | $(fig "cpu,$k")$(spread "${V[cpu,$k]}") | $(fig "rcpu,$k") |"
    done
  done
  echo
  echo "**(b) two hosts against one** (both with \`REDIS_URL\`; wrk -c$conns all on A's front, then -c$((conns / 2)) on each front at once):"
  echo
  echo "| hosts | req/s | p50 | p99 | CPU us/req: bridge | lighttpd | redis-server | vault-sim | cores the stack got | req/s per core-second |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for k in hosts1 hosts2; do
    echo "| ${k#hosts} | $(fig "rps,$k")$(spread "${V[rps,$k]}") | $(cell_lat "p50,$k") | $(cell_lat "p99,$k") | $(fig "cpu,$k") | $(fig "fcpu,$k") | $(fig "rcpu,$k") | $(fig "vcpu,$k") | $(fig "cores,$k")$(spread "${V[cores,$k]}") | $(fig "rpc,$k")$(spread "${V[rpc,$k]}") |"
  done
  echo
  echo "**(c) Redis per request** ($trips_n requests of each kind, one at a time, alternating between A and B;"
  echo "round trips from \`MONITOR\`; commands executed and Redis' own time (the commands clients sent, scripts"
  echo "with what they run inside) from the \`INFO commandstats\` delta of a second pass without \`MONITOR\`):"
  echo
  python3 - "$work/trips.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
procs = r["procs_per_host"]
names = {"kv_read": "KV read (REST)", "mcp_session": "MCP `tools/list` in a session",
         "mcp_tool_call": "MCP `tools/call` kv_read in a session (publishes an event)",
         "admin_write": "admin write (`POST /admin/subjects`)"}
def fmt(d, n):
    return ", ".join("%s %.2f" % (k.upper(), v / n) for k, v in sorted(d.items(), key=lambda x: -x[1])) or "-"
print("| request | round trips / request | by command | executed in Redis / request (incl. inside scripts) | Redis time us/req |")
print("|---|---:|---|---:|---:|")
for k in ("kv_read", "mcp_session", "mcp_tool_call", "admin_write"):
    s = r[k]; n = s["n"]; ns = max(s["n_stats"], 1)
    trips = sum(s["trips"].values())
    executed = sum(c for c, _ in s["stats"].values())
    # Redis' time for the commands clients sent: a script's usec already
    # includes its inner commands, so those are not added again; a command
    # sent both ways (GET) is counted for its client-sent share.
    usec = 0.0
    for c, (calls, u) in s["stats"].items():
        sent = s["trips"].get(c, 0) / max(n, 1)
        if sent and calls:
            usec += u / ns * min(1.0, sent / (calls / ns))
    print("| %s | %.2f | %s | %.2f | %.1f |" % (names[k], trips / n, fmt(s["trips"], n), executed / ns, usec))
rp = r["registry_poll"]
gets = rp["trips"].get("get", 0)
print()
print("Registry change counter: %d `GET registry:gen` while 4 clients made %d KV reads over %.1f s "
      "(two hosts x %d processes): %.1f per second, %.3f per request; the bound is 4 per process per "
      "second (%d here) whatever the request rate. Each admin write adds one `SET` of a new token (%.2f per write measured)."
      % (gets, rp["n"], rp["seconds"], procs, gets / rp["seconds"], gets / max(rp["n"], 1), 8 * procs,
         r["admin_write"]["trips"].get("set", 0) / r["admin_write"]["n"]))
st = r["idle_stream"]
print()
print("One idle `/mcp/sse` stream on B, no requests, %.1f s counted: %.1f round trips per second (%s per second; "
      "once per stream, not per second, are its request's rate-limit check, registry check and placement)."
      % (st["window"], sum(st["trips"].values()) / st["window"], fmt(st["trips"], st["window"])))
PY
  # A command that missed REDIS_TIMEOUT_MS flips the process' Redis state
  # and logs one line ("redis unavailable: ..."); on an idle quiet machine
  # there are none.
  echo
  echo "Redis state flips logged during the run (\`redis unavailable\` lines in server.log, each a command that missed \`REDIS_TIMEOUT_MS\` or failed): host A $(flips A), host B $(flips B)."
  echo "<!-- bench/redis.sh: end -->"
} > "$work/block.md"
cat "$work/block.md"

# Put the block into FILE: between the markers if they are there, else a
# new section at the end. Nothing else of the file changes.
python3 - "$out_md" "$work/block.md" <<'PY'
import os, sys
path, block = sys.argv[1], open(sys.argv[2]).read()
begin, end = "<!-- bench/redis.sh: begin", "<!-- bench/redis.sh: end -->"
text = open(path).read() if os.path.exists(path) else ""
i, j = text.find(begin), text.find(end)
if i >= 0 and j > i:
    text = text[:i] + block.rstrip("\n") + text[j + len(end):]
else:
    text = text.rstrip("\n") + ("\n\n" if text else "") + "## Redis (bench/redis.sh)\n\n" + block
open(path + ".tmp", "w").write(text)
os.replace(path + ".tmp", path)
PY
echo "written to $out_md" >&2
