#!/usr/bin/env bash
# run-server.sh SERVER [BASE_PORT] : end-to-end test of one front web server.
#
# SERVER is nginx, lighttpd, caddy, apache-fcgid or apache-proxy-fcgi.
# In a fresh temp dir it generates certificates (scripts/gen-certs.sh),
# starts vault-sim on BASE_PORT+1, the bridge (a spawn-fcgi pool, or
# Apache's own mod_fcgid process manager), and the web server in the
# foreground on 127.0.0.1:BASE_PORT with the shipped config from deploy/
# rendered into the temp dir; then runs the shared checks
# (tests/e2e/checks.sh). A second pass starts the "client certificate
# required" variant and runs its short check list.
# Everything started here is stopped on exit, failure included.
#
# Env: VMB_BUILD_DIR (default <repo>/build), KEEP_TMP=1 (or VMB_KEEP_TMP=1)
#      keeps the temp dir (under $TMPDIR, else /tmp),
#      VMB_E2E_SKIP_REQUIRED=1 skips the second pass.
set -euo pipefail

server=${1:?usage: run-server.sh nginx|lighttpd|caddy|apache-fcgid|apache-proxy-fcgi [BASE_PORT]}
port=${2:-17410}
vport=$((port + 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${VMB_BUILD_DIR:-$root/build}
bridge=$build/bin/vault-mcp-fcgi
sim=$build/bin/vault-sim
# shellcheck source=../../scripts/lib/stack.sh
. "$root/scripts/lib/stack.sh"
# shellcheck source=../../scripts/lib/render.sh
. "$root/scripts/lib/render.sh"

# The servers are started as root and drop to www-data, like packaged
# ones; as another user the test cannot run (77 = skipped for ctest).
if [ "$(id -u)" != 0 ]; then
  echo "run-server.sh: needs root (servers drop to www-data); skipping" >&2
  exit 77
fi

case $server in
  nginx) pkgs="nginx-light spawn-fcgi" ;;
  lighttpd) pkgs="lighttpd lighttpd-mod-openssl spawn-fcgi" ;;  # mod_openssl is only "Recommends"
  caddy) pkgs="caddy spawn-fcgi" ;;
  apache-fcgid) pkgs="apache2 libapache2-mod-fcgid" ;;
  apache-proxy-fcgi) pkgs="apache2 spawn-fcgi" ;;
  *) echo "unknown server $server" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086
vmb_ensure_packages curl jq openssl $pkgs
for b in "$bridge" "$sim"; do
  [ -x "$b" ] || { echo "missing $b: build first (cmake --build build)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmb-e2e-$server.XXXXXX")
# The web server's workers and the bridge run as www-data: they must be
# able to reach the socket and the logs under the temp dir.
chmod 0755 "$tmp"
mkdir -p "$tmp/logs" "$tmp/run" "$tmp/bridge-logs" "$tmp/www/docs" "$tmp/www/redoc" "$tmp/www/console" "$tmp/www/static"
chown www-data:www-data "$tmp/run" "$tmp/bridge-logs" "$tmp/logs"
server_pid=""
sim_pid=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "$server_pid" ]; then
    echo "$server_pid" >"$tmp/server.pid.1"
    vmb_stop_pids "$tmp/server.pid.1"
  fi
  # Apache's mod_fcgid children die with Apache; the pool and the
  # simulator were started by us.
  vmb_stop_pids "$tmp/pool.pid"
  # The simulator is our child: its exit status after SIGTERM must be 0,
  # and no log that gets our binaries' stderr may hold a sanitizer report
  # (LeakSanitizer reports at exit; docs/testing.md). The pool's and
  # mod_fcgid's processes are not our children: only their stderr is seen.
  if [ -n "$sim_pid" ]; then
    vmb_stop_child "$sim_pid"
    st=$?
    if [ "$st" -ne 0 ]; then
      echo "vault-sim exited with $st after SIGTERM (expected 0)" >&2
      [ "$rc" -ne 0 ] || rc=1
    fi
  fi
  if ! vmb_sanitizer_check "$tmp/logs/vault-sim.log" "$tmp/logs/bridge-stderr.log" \
      "$tmp/logs/error.log"; then
    [ "$rc" -ne 0 ] || rc=1
  fi
  if [ "$rc" -ne 0 ]; then
    echo "--- failure: last lines of the logs in $tmp"
    for f in "$tmp"/logs/* "$tmp"/bridge-logs/server.log; do
      [ -f "$f" ] && { echo "== $f"; tail -n 15 "$f"; }
    done
  fi
  if [ "${KEEP_TMP:-0}" = 1 ] || [ "${VMB_KEEP_TMP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in "$port" "$vport"; do
  vmb_port_free "$p" || { echo "port $p is busy" >&2; exit 1; }
done

bash "$root/scripts/gen-certs.sh" "$tmp/certs" >/dev/null
chmod 0644 "$tmp/certs"/*.key   # test material only: the server user reads it
echo "<!doctype html><title>docs</title>static-docs-marker" >"$tmp/www/docs/index.html"
echo "redoc-marker" >"$tmp/www/redoc/index.html"
echo "console-marker" >"$tmp/www/console/index.html"

# ---- secrets of this run --------------------------------------------------
rand() { openssl rand -hex "$1"; }
api_key=$(rand 24)
api_key_2=$(rand 24)
jwt_secret=$(rand 32)
vault_token=root

# ---- Vault simulator ------------------------------------------------------
vmb_start_vault_sim "$sim" "$vport" "$vault_token" "$tmp/logs/vault-sim.log" "$tmp/vault.pid"
sim_pid=$(cat "$tmp/vault.pid")
# A provisioning failure is reported but not fatal here: the checks then
# show which features suffer from it.
vmb_provision_vault "$root" "http://127.0.0.1:$vport" "$vault_token" "$tmp/logs/provision.log" ||
  { echo "WARNING: provisioning failed:"; tail -5 "$tmp/logs/provision.log"; }

# ---- bridge settings (one JSON file, read through APP_CONFIG_FILE) --------
jq -n --arg vault "http://127.0.0.1:$vport" --arg tok "$vault_token" \
  --arg k1 "$api_key" --arg k2 "$api_key_2" --arg jwt "$jwt_secret" \
  --arg logs "$tmp/bridge-logs" --arg run "$tmp/run" '{
    VAULT_ADDR: $vault, VAULT_TOKEN: $tok,
    API_KEYS_JSON: {($k1): "agent_alice", ($k2): "agent_bob"},
    JWT_HS256_SECRET: $jwt,
    AUTH_MTLS_ENABLED: true,
    RATE_LIMIT_ENABLED: false,
    MCP_SSE_KEEPALIVE_SECONDS: 15,
    LOG_DIR: $logs, RUN_DIR: $run
  }' >"$tmp/bridge.json"
chown root:www-data "$tmp/bridge.json"
chmod 0640 "$tmp/bridge.json"
export APP_CONFIG_FILE=$tmp/bridge.json
"$bridge" --check-config >/dev/null

sock=$tmp/run/fcgi.sock
start_pool() {
  # 2 processes x 4 threads, as in deploy/spawn-fcgi/.
  vmb_start_pool "$bridge" "$sock" 2 4 "$tmp/pool.pid" www-data "$tmp/logs/bridge-stderr.log"
}

# Common placeholder values.
render() {
  vmb_render "$1" "$2" SERVER_NAME=localhost BIND_ADDR=127.0.0.1 PORT="$port" \
    TLS_CERT="$tmp/certs/server.crt" TLS_KEY="$tmp/certs/server.key" \
    TLS_CHAIN="$tmp/certs/server-chain.pem" CLIENT_CA="$tmp/certs/ca.crt" \
    APP_SOCKET="$sock" WWW_ROOT="$tmp/www" BRIDGE_BIN="$bridge" \
    APP_CONFIG_FILE="$tmp/bridge.json" LOG_DIR="$tmp/logs" HEALTH_PORT=$((port + 3))
}

# ---- per-server start functions -------------------------------------------
# Each renders the shipped site config ($1 = deploy file) into a minimal
# main config of its own and starts the server in the foreground, in the
# background of this shell, recording server_pid.

start_nginx() {
  render "$root/deploy/nginx/$1" "$tmp/site.conf"
  # The site includes "fastcgi_params" relative to the config directory,
  # as it would find /etc/nginx/fastcgi_params in a real install.
  ln -sf /etc/nginx/fastcgi_params "$tmp/fastcgi_params"
  cat >"$tmp/nginx.conf" <<EOF
user www-data;
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $tmp/logs/access.log;
    client_body_temp_path $tmp/nginx-body;
    fastcgi_temp_path $tmp/nginx-fastcgi;
    proxy_temp_path $tmp/nginx-proxy;
    uwsgi_temp_path $tmp/nginx-uwsgi;
    scgi_temp_path $tmp/nginx-scgi;
    include $tmp/site.conf;
}
EOF
  nginx -t -q -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;'
  nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' </dev/null >>"$tmp/logs/stdout.log" 2>&1 &
  server_pid=$!
}

start_lighttpd() {
  render "$root/deploy/lighttpd/$1" "$tmp/site.conf"
  cat >"$tmp/lighttpd.conf" <<EOF
server.document-root = "$tmp/www"
server.bind          = "127.0.0.1"
# The plain port is not used: the site file opens the TLS socket. Bind
# the main socket to a port of ours so lighttpd does not try port 80.
server.port          = $((port + 2))
server.username      = "www-data"
server.groupname     = "www-data"
server.pid-file      = "$tmp/lighttpd.pid"
server.errorlog      = "$tmp/logs/error.log"
server.modules       = ( "mod_indexfile", "mod_access", "mod_accesslog" )
accesslog.filename   = "$tmp/logs/access.log"
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
include "$tmp/site.conf"
# As in Debian's lighttpd.conf: the static handler comes last.
server.modules += ( "mod_staticfile" )
EOF
  lighttpd -tt -f "$tmp/lighttpd.conf" >/dev/null
  lighttpd -D -f "$tmp/lighttpd.conf" </dev/null >>"$tmp/logs/stdout.log" 2>&1 &
  server_pid=$!
}

start_caddy() {
  render "$root/deploy/caddy/$1" "$tmp/Caddyfile"
  mkdir -p "$tmp/caddy-home"
  local -a env=(HOME="$tmp/caddy-home" XDG_DATA_HOME="$tmp/caddy-home/data"
    XDG_CONFIG_HOME="$tmp/caddy-home/config")
  env "${env[@]}" caddy validate --config "$tmp/Caddyfile" --adapter caddyfile >>"$tmp/logs/validate.log" 2>&1 \
    || { cat "$tmp/logs/validate.log" >&2; return 1; }
  env "${env[@]}" caddy run --config "$tmp/Caddyfile" --adapter caddyfile \
    </dev/null >>"$tmp/logs/stdout.log" 2>&1 &
  server_pid=$!
}

# Minimal Apache main config shared by both Apache variants. The site
# file uses ${APACHE_LOG_DIR} like Debian's own sites.
apache_main() {
  local mods=$1
  local moddir=/usr/lib/apache2/modules
  {
    echo "Define APACHE_LOG_DIR $tmp/logs"
    echo "ServerRoot /etc/apache2"
    echo "ServerName localhost"
    echo "PidFile $tmp/apache.pid"
    echo "DefaultRuntimeDir $tmp/run-apache"
    echo "Mutex file:$tmp/run-apache default"
    echo "User www-data"
    echo "Group www-data"
    echo "ErrorLog $tmp/logs/error.log"
    echo "LogLevel warn"
    # The site's <VirtualHost> needs a Listen (ports.conf in Debian).
    echo "Listen 127.0.0.1:$port"
    for m in mpm_event authz_core authz_host mime dir alias headers setenvif \
             socache_shmcb ssl http2 $mods; do
      echo "LoadModule ${m}_module $moddir/mod_$m.so"
    done
    echo "TypesConfig /etc/mime.types"
    # As Debian's mods-available/ssl.conf does for the whole server.
    echo "SSLSessionCache shmcb:$tmp/run-apache/ssl_scache(512000)"
    echo 'LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined'
    echo "CustomLog $tmp/logs/access.log combined"
    echo "<Directory />"
    echo "  AllowOverride None"
    echo "  Require all denied"
    echo "</Directory>"
    echo "Include $tmp/site.conf"
  } >"$tmp/apache2.conf"
  mkdir -p "$tmp/run-apache"
  chown www-data:www-data "$tmp/run-apache"
}

start_apache() {
  render "$root/deploy/apache/$1" "$tmp/site.conf"
  apache2 -t -f "$tmp/apache2.conf" 2>>"$tmp/logs/error.log" \
    || { tail -5 "$tmp/logs/error.log" >&2; return 1; }
  apache2 -D FOREGROUND -f "$tmp/apache2.conf" </dev/null >>"$tmp/logs/stdout.log" 2>&1 &
  server_pid=$!
}

start_apache-fcgid() {
  apache_main "fcgid"
  # mod_fcgid starts the bridge processes itself; its IPC socket and
  # shared memory live in the temp dir.
  {
    echo "FcgidIPCDir $tmp/run-apache"
    echo "FcgidProcessTableFile $tmp/run-apache/fcgid_shm"
  } >>"$tmp/apache2.conf"
  start_apache "$1"
}

start_apache-proxy-fcgi() {
  apache_main "proxy proxy_fcgi"
  start_pool
  start_apache "$1"
}

start_server() {
  local file=$1
  case $server in
    nginx | lighttpd | caddy) start_pool; "start_$server" "$file" ;;
    *) "start_$server" "$file" ;;
  esac
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$server_pid" 2>/dev/null || { echo "$server exited at start" >&2; return 1; }
    vmb_port_free "$port" || break
    sleep 0.1
  done
  vmb_wait_tcp "$port" 1
}

stop_server() {
  echo "$server_pid" >"$tmp/server.pid.1"
  vmb_stop_pids "$tmp/server.pid.1"
  server_pid=""
  vmb_stop_pids "$tmp/pool.pid"
  local i
  for ((i = 0; i < 50; i++)); do vmb_port_free "$port" && break; sleep 0.1; done
}

case $server in
  nginx) site=vault-mcp.conf; site_req=vault-mcp-mtls-required.conf ;;
  lighttpd) site=vault-mcp.conf; site_req=vault-mcp-mtls-required.conf ;;
  caddy) site=Caddyfile; site_req=Caddyfile.mtls-required ;;
  apache-fcgid) site=vault-mcp-fcgid.conf; site_req=vault-mcp-fcgid-mtls-required.conf ;;
  apache-proxy-fcgi) site=vault-mcp-proxy-fcgi.conf; site_req=vault-mcp-proxy-fcgi-mtls-required.conf ;;
esac

export E2E_SERVER=$server E2E_PORT=$port E2E_CERTS=$tmp/certs
export E2E_API_KEY=$api_key E2E_SUBJECT=agent_alice
export E2E_API_KEY_2=$api_key_2 E2E_SUBJECT_2=agent_bob
export E2E_JWT_SECRET=$jwt_secret E2E_MTLS_SUBJECT=agent_mtls
export E2E_VAULT_ADDR="http://127.0.0.1:$vport" E2E_VAULT_TOKEN=$vault_token

echo "== $server: client certificate optional ($site) on https://localhost:$port"
start_server "$site"
rc=0
bash "$root/tests/e2e/checks.sh" || rc=$?

if [ "${VMB_E2E_SKIP_REQUIRED:-0}" != 1 ]; then
  stop_server
  echo "== $server: client certificate required ($site_req)"
  start_server "$site_req"
  E2E_MODE=required bash "$root/tests/e2e/checks.sh" || rc=$?
fi
exit "$rc"
