# shellcheck shell=bash
# Helpers shared by scripts/dev.sh and tests/e2e/: start and stop the
# pieces of a local stack (vault-sim, a spawn-fcgi pool of the bridge) and
# wait for them. Everything binds to 127.0.0.1. Processes are always
# stopped by the pids recorded here, never by name.

# vmb_wait_tcp PORT [SECONDS] : wait until 127.0.0.1:PORT accepts.
vmb_wait_tcp() {
  local port=$1 limit=${2:-15} i
  for ((i = 0; i < limit * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
  return 1
}

# vmb_wait_sock PATH [SECONDS] : wait until a unix socket exists.
vmb_wait_sock() {
  local path=$1 limit=${2:-15} i
  for ((i = 0; i < limit * 10; i++)); do
    [ -S "$path" ] && return 0
    sleep 0.1
  done
  echo "no socket at $path after ${limit}s" >&2
  return 1
}

# vmb_port_free PORT : true when nothing listens on 127.0.0.1:PORT.
vmb_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# vmb_stop_pids PIDFILE... : TERM every pid listed (one per line), wait
# up to 5 s, then KILL what is left. Removes the pid files.
vmb_stop_pids() {
  local f pid pids="" i
  for f in "$@"; do
    [ -f "$f" ] || continue
    while read -r pid || [ -n "$pid" ]; do
      [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && pids="$pids $pid"
    done <"$f"
  done
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      local alive=""
      for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
      pids=$alive
      [ -z "$pids" ] && break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
  fi
  rm -f "$@"
}

# vmb_sanitizer_check FILE... : fails (1), printing the first lines of the
# first report, when a file holds a sanitizer report. For logs that get
# our binaries' stderr: a leak found at exit or a report from a sanitizer
# that does not halt shows only there (docs/testing.md).
vmb_sanitizer_check() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer|runtime error:' "$f"; then
      echo "sanitizer report in $f:" >&2
      grep -m1 -A11 -E 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer|runtime error:' "$f" >&2
      return 1
    fi
  done
  return 0
}

# vmb_signal_then_kill SIGNAL PID : send SIGNAL, wait up to 15 s for PID to
# go, KILL it after that.
vmb_signal_then_kill() {
  local i
  kill -"$1" "$2" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$2" 2>/dev/null || true
}

# vmb_stop_child PID : TERM one process this shell started with `&`, wait
# up to 15 s (KILL after that) and return its exit status (137 when killed).
vmb_stop_child() {
  vmb_signal_then_kill TERM "$1"
  wait "$1"
}

# vmb_pids_alive PIDFILE : true when every pid in the file runs.
vmb_pids_alive() {
  local pid n=0
  [ -s "$1" ] || return 1
  while read -r pid || [ -n "$pid" ]; do
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    n=$((n + 1))
  done <"$1"
  [ "$n" -gt 0 ]
}

# vmb_start_vault_sim BIN PORT TOKEN LOGFILE PIDFILE
vmb_start_vault_sim() {
  local bin=$1 port=$2 token=$3 log=$4 pidfile=$5
  "$bin" --dev --dev-root-token-id "$token" \
    --dev-listen-address "127.0.0.1:$port" </dev/null >>"$log" 2>&1 &
  echo $! >"$pidfile"
  vmb_wait_tcp "$port" 15
}

# vmb_provision_vault ROOT ADDR TOKEN LOGFILE : run scripts/provision-vault.sh
# against the simulator (policies, mounts, demo data). Retries a few times:
# a freshly started simulator may still be settling.
vmb_provision_vault() {
  local root=$1 addr=$2 token=$3 log=$4 i
  if [ ! -x "$root/scripts/provision-vault.sh" ] && [ ! -f "$root/scripts/provision-vault.sh" ]; then
    echo "note: scripts/provision-vault.sh not found; using the simulator's dev defaults" >&2
    return 0
  fi
  for i in 1 2 3; do
    if VAULT_ADDR=$addr VAULT_TOKEN=$token bash "$root/scripts/provision-vault.sh" >>"$log" 2>&1; then
      return 0
    fi
    sleep 1
  done
  echo "scripts/provision-vault.sh failed (see $log)" >&2
  return 1
}

# vmb_pg_bindir : the newest /usr/lib/postgresql/<major>/bin with initdb.
vmb_pg_bindir() {
  local d best="" v bestv=0
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] || continue
    v=${d#/usr/lib/postgresql/}; v=${v%%/*}
    [[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt "$bestv" ] && { bestv=$v; best=$d; }
  done
  [ -n "$best" ] || { echo "no initdb under /usr/lib/postgresql (Debian package postgresql)" >&2; return 1; }
  printf '%s' "$best"
}

# vmb_start_postgres DIR PORT ADMIN PASSWORD DBNAME LOGFILE PIDFILE
# A throw-away PostgreSQL cluster in DIR (created, must be empty; as root
# its parents must be traversable by `postgres`), on 127.0.0.1:PORT with
# its socket and server.log in DIR, SCRAM password logins only,
# superuser ADMIN, and database DBNAME. initdb and postgres refuse root,
# so as root they run as the `postgres` account of the Debian package.
# The system's own cluster and service are not touched.
vmb_start_postgres() {
  local dir=$1 port=$2 admin=$3 pw=$4 db=$5 log=$6 pidfile=$7 bin i
  local -a as=()
  bin=$(vmb_pg_bindir) || return 1
  mkdir -p "$dir" && chmod 0700 "$dir" || return 1
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "no 'postgres' account to run PostgreSQL as" >&2; return 1; }
    chown postgres: "$dir" || return 1
    as=(runuser -u postgres --)
  fi
  # The password reaches initdb through a file only the cluster owner reads.
  (umask 077; printf '%s\n' "$pw" >"$dir/pw") || return 1
  if [ ${#as[@]} -gt 0 ]; then chown postgres: "$dir/pw"; fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U "$admin" --pwfile "$dir/pw" \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
    >"$log" 2>&1 || { rm -f "$dir/pw"; echo "initdb failed (see $log)" >&2; return 1; }
  rm -f "$dir/pw"
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" \
    start >>"$log" 2>&1 || { echo "PostgreSQL did not start (see $dir/server.log)" >&2; return 1; }
  head -n 1 "$dir/data/postmaster.pid" >"$pidfile" || return 1
  for ((i = 0; i < 50; i++)); do
    PGPASSWORD=$pw psql -X -q -h 127.0.0.1 -p "$port" -U "$admin" -d postgres \
      -c "CREATE DATABASE \"$db\"" >>"$log" 2>&1 && return 0
    sleep 0.2
  done
  echo "cannot create database $db (see $log)" >&2
  return 1
}

# vmb_stop_postgres PIDFILE : fast shutdown (SIGINT ends open sessions),
# then wait up to 15 s; KILL only as the last resort.
vmb_stop_postgres() {
  local pid
  [ -f "$1" ] || return 0
  pid=$(head -n 1 "$1")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    vmb_signal_then_kill INT "$pid"
  fi
  rm -f "$1"
}

# vmb_start_pool BIN SOCKET PROCS THREADS PIDFILE [USER [STDERR_FILE]]
# Starts PROCS bridge processes of THREADS threads each under spawn-fcgi on
# a unix socket. The bridge reads its settings from the caller's
# environment (export them, or APP_CONFIG_FILE, before calling). With USER
# the processes and the socket belong to that user (spawn-fcgi must run as
# root for that). With STDERR_FILE the processes' stderr is appended there
# (for vmb_sanitizer_check) instead of going to the caller's stderr.
vmb_start_pool() {
  local bin=$1 sock=$2 procs=$3 threads=$4 pidfile=$5 user=${6:-} err=${7:-/dev/stderr}
  local -a own=()
  if [ -n "$user" ]; then
    own=(-u "$user" -g "$user" -U "$user" -G "$user")
  fi
  rm -f "$sock"
  # -M 0660: only the socket's owner and group (the web server's user)
  # may connect. spawn-fcgi forks the children and exits; the pid file
  # gets one line per child.
  spawn-fcgi -s "$sock" -M 0660 "${own[@]}" -F "$procs" -P "$pidfile" \
    -- "$bin" --threads "$threads" >/dev/null 2>>"$err" || return 1
  vmb_wait_sock "$sock" 10
}

# Package installation: scripts/lib/deps.sh (shared with scripts/test.sh)
# when present; otherwise a minimal stand-in with the same name.
if [ -f "$(dirname "${BASH_SOURCE[0]}")/deps.sh" ]; then
  # shellcheck source=deps.sh
  . "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
fi
if ! declare -F vmb_ensure_packages >/dev/null; then
  vmb_ensure_packages() {
    local p missing=""
    for p in "$@"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing Debian packages:$missing" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
  }
fi
