#!/usr/bin/env bash
# scripts/dev.sh up|down|status : the local stack, everything on 127.0.0.1.
#
#   up [--with-postgres]
#           install missing Debian packages, build what is missing, start
#           vault-sim on ${VAULT_PORT:-8200} (provisioned by
#           scripts/provision-vault.sh), a spawn-fcgi pool of the bridge and
#           lighttpd on ${PORT:-8089}; write .dev/stack.env; print examples.
#           Running it again while the stack is up changes nothing.
#           --with-postgres (or WITH_POSTGRES=1) also starts a throw-away
#           PostgreSQL on ${POSTGRES_PORT:-5433}, runs vault-sim with
#           --database-plugins real and provisions the database engine
#           against it, so db.issue_creds returns logins psql accepts.
#   down    stop what `up` started (by the pids it recorded).
#   status  say what runs.
#
# Environment:
#   PORT, VAULT_PORT         front and simulator ports (8089, 8200)
#   VAULT_ADDR + VAULT_TOKEN both set: use that Vault, start no simulator
#   VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY,
#   VAULT_SKIP_VERIFY, VAULT_NAMESPACE
#                            that Vault's TLS and namespace, as for the vault
#                            CLI: used by provisioning and by the bridge,
#                            and written to stack.env
#   POOL_PROCS, POOL_THREADS bridge pool size (2 processes x 4 threads)
#   DEV_DIR                  state directory (<repo>/.dev)
#   VMB_BUILD_DIR            build directory (<repo>/build)
#   any bridge setting       passed through to the bridge, e.g.
#                            JWT_JWKS_FILE=... scripts/dev.sh up
#                            (see vault-mcp-fcgi --help)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/stack.sh
. "$root/scripts/lib/stack.sh"
# shellcheck source=lib/render.sh
. "$root/scripts/lib/render.sh"

dev=${DEV_DIR:-$root/.dev}
case $dev in /*) ;; *) dev=$(pwd)/$dev ;; esac
default_build=$root/build
build=${VMB_BUILD_DIR:-$default_build}
bridge=$build/bin/vault-mcp-fcgi
sim=$build/bin/vault-sim
stdio=$build/bin/vault-mcp-stdio
envfile=$dev/stack.env

say() { printf '%s\n' "$*"; }
# How to call this script again for the same stack: with DEV_DIR when it
# is not the default, so the printed hints work as they are.
self_cmd() {
  if [ "$dev" != "$root/.dev" ]; then
    printf 'DEV_DIR=%q scripts/dev.sh' "$dev"
  else
    printf 'scripts/dev.sh'
  fi
}
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

# Unix socket paths are limited to 107 bytes; fall back to $TMPDIR (else
# /tmp) when the checkout sits deep in the tree.
sock_path() {
  local s=$dev/run/fcgi.sock
  if [ ${#s} -gt 100 ]; then
    s=${TMPDIR:-/tmp}/vmb-dev-$(printf '%s' "$dev" | cksum | cut -d' ' -f1).sock
  fi
  printf '%s' "$s"
}

# Reads a value back from stack.env (written by us, NAME='value').
stack_get() {
  [ -f "$envfile" ] || return 1
  # shellcheck disable=SC1090
  (set +u; . "$envfile"; eval "printf '%s' \"\${$1:-}\"")
}

components() {
  local c
  for c in postgres vault pool lighttpd; do
    [ -f "$dev/pids/$c.pid" ] && printf '%s ' "$c"
  done
}

is_up() {
  local c any=0
  [ -f "$envfile" ] || return 1
  for c in pool lighttpd; do
    vmb_pids_alive "$dev/pids/$c.pid" || return 1
  done
  for c in vault postgres; do
    if [ -f "$dev/pids/$c.pid" ]; then
      vmb_pids_alive "$dev/pids/$c.pid" || return 1
    fi
  done
  any=1
  curl -fsS --max-time 3 "$(stack_get BRIDGE_URL)/healthz" >/dev/null 2>&1 && [ $any = 1 ]
}

cmd_down() {
  local c
  if [ ! -d "$dev/pids" ]; then
    say "dev stack: nothing to stop in $dev"
    return 0
  fi
  # Front first, then the pool, then Vault, then the database.
  for c in lighttpd pool vault; do
    if [ -f "$dev/pids/$c.pid" ]; then
      vmb_stop_pids "$dev/pids/$c.pid"
      say "stopped $c"
    fi
  done
  if [ -f "$dev/pids/postgres.pid" ]; then
    vmb_stop_postgres "$dev/pids/postgres.pid"
    say "stopped postgres"
  fi
  if [ -f "$dev/postgres.dir" ]; then
    # The cluster lives only as long as the stack.
    local pgdir
    pgdir=$(cat "$dev/postgres.dir")
    case $pgdir in "${TMPDIR:-/tmp}"/vmb-dev-pg.* | /tmp/vmb-dev-pg.* | "$dev"/postgres)
      rm -rf "$pgdir" ;;
    esac
    rm -f "$dev/postgres.dir"
  fi
  rm -f "$(sock_path)" "$envfile"
  say "dev stack: down"
}

cmd_status() {
  local c rc=0 url
  if [ ! -f "$envfile" ] && [ -z "$(components)" ]; then
    say "dev stack: down (no $envfile); start it with: $(self_cmd) up"
    return 3
  fi
  for c in postgres vault pool lighttpd; do
    if [ "$c" = postgres ] && [ ! -f "$dev/pids/$c.pid" ]; then
      continue
    fi
    if [ -f "$dev/pids/$c.pid" ]; then
      if vmb_pids_alive "$dev/pids/$c.pid"; then
        say "$c: running (pid $(tr '\n' ' ' <"$dev/pids/$c.pid"))"
      else
        say "$c: NOT running (stale pids in $dev/pids/$c.pid)"
        rc=1
      fi
    elif [ "$c" = vault ]; then
      say "vault: external ($(stack_get VAULT_ADDR || echo '?'))"
    else
      say "$c: not started"
      rc=1
    fi
  done
  url=$(stack_get BRIDGE_URL || true)
  if [ -n "$url" ]; then
    if curl -fsS --max-time 3 "$url/healthz" >/dev/null 2>&1; then
      say "bridge: $url/healthz OK"
      curl -sS --max-time 5 "$url/readyz" 2>/dev/null | head -c 300 && echo
    else
      say "bridge: $url/healthz NOT answering"
      rc=1
    fi
  fi
  say "settings: . $envfile"
  say "stop: $(self_cmd) down"
  return "$rc"
}

# Create a subject in the registry, or set its grants when it exists.
provision_subject() {
  local url=$1 key=$2 subject=$3 grants=$4 code
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $key" \
    -H 'Content-Type: application/json' \
    -d "$(jq -cn --arg s "$subject" --argjson g "$grants" \
          '{subject: $s, description: "dev stack demo agent", grants: $g}')" \
    "$url/admin/subjects") || return 1
  case $code in
    201) say "registered $subject" ;;
    409) curl -fsS -o /dev/null -X PATCH -H "X-API-Key: $key" -H 'Content-Type: application/json' \
           -d "$(jq -cn --argjson g "$grants" '{grants: $g, enabled: true}')" \
           "$url/admin/subjects/$subject" || return 1
         say "updated the grants of $subject" ;;
    *) return 1 ;;
  esac
}

print_examples() {
  local url key jwt
  url=$(stack_get BRIDGE_URL); key=$(stack_get DEMO_API_KEY); jwt=$(stack_get DEMO_JWT)
  cat <<EOF

Vault MCP Bridge dev stack is up: $url
Settings for your shell:  . $envfile

  # health (no auth) and readiness (Vault reachable)
  curl -s $url/healthz
  curl -s $url/readyz
  # who am I, with the first demo agent's API key (or with its JWT)
  curl -s -H "X-API-Key: $key" $url/whoami
  curl -s -H "Authorization: Bearer $jwt" $url/whoami
  # write, read, list, delete a secret in the agent's own namespace
  curl -s -X PUT -H "X-API-Key: $key" -H 'Content-Type: application/json' \\
       -d '{"data":{"user":"svc","password":"s3cret"}}' $url/secrets/demo/db
  curl -s -H "X-API-Key: $key" $url/secrets/demo/db
  curl -s -H "X-API-Key: $key" "$url/secrets?prefix=demo/"
  curl -s -X DELETE -H "X-API-Key: $key" $url/secrets/demo/db

  # MCP over HTTP (JSON-RPC): initialize, list tools, call one
  curl -s -H "X-API-Key: $key" -H 'Content-Type: application/json' \\
       -H 'Accept: application/json, text/event-stream' \\
       -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \\
       $url/mcp/rpc
  curl -s -H "X-API-Key: $key" -H 'Content-Type: application/json' \\
       -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18' \\
       -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' $url/mcp/rpc
  curl -s -H "X-API-Key: $key" -H 'Content-Type: application/json' \\
       -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18' \\
       -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"kv_read","arguments":{"path":"demo/db"}}}' \\
       $url/mcp/rpc
  # live tool.completed events for this agent (Server-Sent Events)
  curl -sN -H "X-API-Key: $key" $url/mcp/sse

  # MCP clients (e.g. MCP Inspector): Streamable HTTP at $url/mcp/rpc
  # with header X-API-Key: $key

  # the subject registry: who may use which keys and roles (docs/registry.md)
  curl -s -H "X-API-Key: $(stack_get DEMO_ADMIN_API_KEY)" $url/admin/subjects
  VMB_URL=$url VMB_ADMIN_API_KEY=$(stack_get DEMO_ADMIN_API_KEY) scripts/vmb-admin list

Operator console: $url/console/  (sign in with DEMO_ADMIN_API_KEY from $envfile)

Logs: $(stack_get LOG_DIR)   Status: $(self_cmd) status   Stop: $(self_cmd) down
EOF
  local pgport pgdb
  pgport=$(stack_get POSTGRES_PORT || true)
  [ -n "$pgport" ] || return 0
  pgdb=$(stack_get POSTGRES_DB)
  cat <<EOF

PostgreSQL (throw-away, --with-postgres): 127.0.0.1:$pgport, database $pgdb
  # a login for role readonly (SELECT on public tables), used with psql
  creds=\$(curl -s -X POST -H "X-API-Key: $key" -H 'Content-Type: application/json' \\
       -d '{}' $url/db/creds/readonly)
  PGPASSWORD=\$(jq -r .password <<<"\$creds") psql -h 127.0.0.1 -p $pgport -d $pgdb \\
       -U "\$(jq -r .username <<<"\$creds")" -c 'SELECT * FROM demo'
  # revoke it: the user is dropped and the login stops working
  jq '{lease_id}' <<<"\$creds" | curl -s -X POST -H "X-API-Key: $key" \\
       -H 'Content-Type: application/json' --data-binary @- $url/db/revoke
EOF
}

# b64url : base64url without padding.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# mint_jwt SUBJECT SECRET ISSUER AUDIENCE : an HS256 token valid 24 h.
mint_jwt() {
  local now h p s
  now=$(date +%s)
  h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  p=$(jq -cn --arg sub "$1" --arg iss "$3" --arg aud "$4" --argjson now "$now" \
    '{sub:$sub, iss:$iss, aud:$aud, iat:$now, nbf:$now, exp:($now+86400),
      scopes:["read","write","delete","list"]}' | tr -d '\n' | b64url)
  s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$2" -binary | b64url)
  printf '%s.%s.%s' "$h" "$p" "$s"
}

# export NAME='value' with single quotes escaped: `source`/`.` alone
# puts it into the environment of the shell and of what it runs.
env_line() {
  local v=${2//\'/\'\\\'\'}
  printf "export %s='%s'\n" "$1" "$v"
}

cmd_up() {
  local port=${PORT:-8089} vport=${VAULT_PORT:-8200} with_pg=${WITH_POSTGRES:-0}
  local pgport=${POSTGRES_PORT:-5433} arg
  for arg in "$@"; do
    case $arg in
      --with-postgres) with_pg=1 ;;
      *) die "unknown option $arg (usage: scripts/dev.sh up [--with-postgres])" ;;
    esac
  done
  [ "$with_pg" = 1 ] || with_pg=0
  if is_up && { [ "$with_pg" = 0 ] || [ -f "$dev/pids/postgres.pid" ]; }; then
    say "dev stack: already up"
    print_examples
    return 0
  fi
  if [ -n "$(components)" ]; then
    say "dev stack: partly running, restarting it"
    cmd_down >/dev/null
  fi
  # Whatever goes wrong from here on, stop what was started.
  up_done=0
  trap 'if [ "$up_done" = 0 ]; then cmd_down >/dev/null 2>&1; fi' EXIT
  trap 'exit 130' INT TERM HUP

  # 1. Packages and build.
  # shellcheck disable=SC2086
  vmb_ensure_packages ${VMB_BUILD_PACKAGES:-build-essential cmake pkg-config libfcgi-dev \
    libjson-c-dev libcurl4-openssl-dev libssl-dev libjwt-dev libyaml-dev libmicrohttpd-dev libpq-dev libhiredis-dev} \
    curl jq openssl spawn-fcgi lighttpd
  if [ "$with_pg" = 1 ]; then
    vmb_ensure_packages postgresql libpq-dev
  fi
  # vault-mcp-stdio too: the README's next step after `up` runs it.
  if [ ! -x "$bridge" ] || [ ! -x "$sim" ] || [ ! -x "$stdio" ] ||
     [ "$build" = "$default_build" ]; then
    say "building in $build ..."
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target vault-mcp-fcgi vault-mcp-stdio vault-sim >/dev/null
  fi

  vmb_port_free "$port" || die "127.0.0.1:$port is in use (set PORT=...)"
  mkdir -p "$dev/pids" "$dev/run" "$dev/www/docs" "$dev/www/console" "$dev/www/static"
  local logdir=${LOG_DIR:-$dev/logs}
  mkdir -p "$logdir"

  # The operator console: a fresh copy of console/ at every `up` (lighttpd
  # may run as www-data, which need not read the checkout).
  rm -rf "$dev/www/console" "$dev/www/docs" "$dev/www/redoc" "$dev/www/static/vendor"
  cp -R "$root/console" "$dev/www/console"
  # The API docs pages (Swagger UI at /docs/, ReDoc at /redoc/) and the
  # libraries they load (/static/vendor/).
  cp -R "$root/apidocs/." "$dev/www/"
  chmod -R a+rX "$dev/www"

  # 2. Secrets of this stack: fresh for every `up`.
  local key1 key2 key_admin jwt_secret subj1=agent_alice subj2=agent_bob
  key1=$(openssl rand -hex 24)
  key2=$(openssl rand -hex 24)
  key_admin=$(openssl rand -hex 24)
  jwt_secret=${JWT_HS256_SECRET:-$(openssl rand -hex 32)}

  # 3. PostgreSQL on request: a fresh cluster for every `up`. As root the
  #    cluster runs as `postgres`, which may not reach into this checkout,
  #    so its directory is then under $TMPDIR (else /tmp; scripts/test.sh
  #    makes its TMPDIR 1777 like /tmp so postgres can reach it).
  local pg_admin=vaultadmin pg_db=mcp pg_pw="" pg_dir=""
  if [ "$with_pg" = 1 ]; then
    vmb_port_free "$pgport" || die "127.0.0.1:$pgport is in use (set POSTGRES_PORT=...)"
    pg_pw=$(openssl rand -hex 16)
    if [ "$(id -u)" = 0 ]; then
      pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/vmb-dev-pg.XXXXXX")
    else
      pg_dir=$dev/postgres
      rm -rf "$pg_dir"
    fi
    printf '%s\n' "$pg_dir" >"$dev/postgres.dir"
    say "starting PostgreSQL on 127.0.0.1:$pgport ($pg_dir)"
    vmb_start_postgres "$pg_dir" "$pgport" "$pg_admin" "$pg_pw" "$pg_db" \
      "$logdir/postgres-setup.log" "$dev/pids/postgres.pid" ||
      die "PostgreSQL did not start (see $logdir/postgres-setup.log)"
    # Something for the readonly role to read.
    PGPASSWORD=$pg_pw psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pgport" -U "$pg_admin" \
      -d "$pg_db" -c "CREATE TABLE demo (id int PRIMARY KEY, note text);
        INSERT INTO demo VALUES (1, 'read by a dynamic PostgreSQL user');" \
      >>"$logdir/postgres-setup.log" 2>&1 || die "cannot seed PostgreSQL"
  fi

  # 4. Vault: the caller's, or the simulator. Its TLS files as absolute
  #    paths: the pool does not run in this directory.
  local v
  for v in VAULT_CACERT VAULT_CAPATH VAULT_CLIENT_CERT VAULT_CLIENT_KEY; do
    if [ -n "${!v:-}" ] && [[ ${!v} != /* ]]; then export "$v=$PWD/${!v}"; fi
  done
  local vault_addr vault_token
  if [ -n "${VAULT_ADDR:-}" ] && [ -n "${VAULT_TOKEN:-}" ]; then
    vault_addr=$VAULT_ADDR
    vault_token=$VAULT_TOKEN
    say "using the Vault at $vault_addr (no simulator)"
  else
    vmb_port_free "$vport" || die "127.0.0.1:$vport is in use (set VAULT_PORT=...)"
    vault_addr=http://127.0.0.1:$vport
    vault_token=dev-$(openssl rand -hex 12)
    say "starting vault-sim on $vault_addr"
    # setsid: the simulator outlives this script and its terminal.
    local -a simopts=()
    [ "$with_pg" = 1 ] && simopts=(--database-plugins real)
    setsid "$sim" --dev --dev-root-token-id "$vault_token" \
      --dev-listen-address "127.0.0.1:$vport" "${simopts[@]}" </dev/null \
      >>"$logdir/vault-sim.log" 2>&1 &
    echo $! >"$dev/pids/vault.pid"
    vmb_wait_tcp "$vport" 15 || die "vault-sim did not start (see $logdir/vault-sim.log)"
  fi
  if [ "$with_pg" = 1 ]; then
    POSTGRES_URL="postgresql://{{username}}:{{password}}@127.0.0.1:$pgport/$pg_db?sslmode=disable" \
      POSTGRES_USERNAME=$pg_admin POSTGRES_PASSWORD=$pg_pw \
      vmb_provision_vault "$root" "$vault_addr" "$vault_token" "$logdir/provision.log" ||
      die "provisioning Vault failed (see $logdir/provision.log)"
  else
    POSTGRES_URL='' vmb_provision_vault "$root" "$vault_addr" "$vault_token" "$logdir/provision.log" ||
    { die "provisioning Vault failed (see $logdir/provision.log)"; }
  fi

  # 5. The bridge pool. Settings go through the environment, so anything
  #    the caller exported (JWT_JWKS_FILE, LOG_LEVEL, ...) passes through.
  local keys
  keys=$(jq -cn --arg k1 "$key1" --arg k2 "$key2" --arg s1 "$subj1" --arg s2 "$subj2" \
    --arg ka "$key_admin" --argjson extra "${API_KEYS_JSON:-{\}}" \
    '$extra + {($k1): $s1, ($k2): $s2, ($ka): {subject: "dev-admin", scopes: ["admin"]}}')
  export API_KEYS_JSON=$keys JWT_HS256_SECRET=$jwt_secret
  export VAULT_ADDR=$vault_addr VAULT_TOKEN=$vault_token LOG_DIR=$logdir
  export RUN_DIR=${RUN_DIR:-$dev/run}
  local sock user=""
  sock=$(sock_path)
  # As root, lighttpd drops to www-data, and the pool socket must belong to
  # it; otherwise everything runs as the calling user.
  if [ "$(id -u)" = 0 ] && id www-data >/dev/null 2>&1; then
    user=www-data
    chown -R www-data:www-data "$logdir" "$RUN_DIR" "$dev/run"
    chmod o+x "$dev"
  fi
  "$bridge" --check-config >/dev/null || die "the bridge refuses its settings (see above)"
  vmb_start_pool "$bridge" "$sock" "${POOL_PROCS:-2}" "${POOL_THREADS:-4}" "$dev/pids/pool.pid" $user ||
    { die "the bridge pool did not start (see $logdir/server.log)"; }

  # 6. lighttpd in front (it daemonises and writes its own pid file).
  local user_lines=""
  [ -n "$user" ] && user_lines="server.username = \"$user\"
server.groupname = \"$user\""
  vmb_render "$root/deploy/lighttpd/vault-mcp-dev.conf" "$dev/lighttpd.conf" \
    PORT="$port" APP_SOCKET="$sock" WWW_ROOT="$dev/www" STATE_DIR="$dev/run" \
    USER_LINES="$user_lines"
  lighttpd -tt -f "$dev/lighttpd.conf" >/dev/null || die "lighttpd refuses $dev/lighttpd.conf"
  lighttpd -f "$dev/lighttpd.conf" || { die "lighttpd did not start"; }
  local i
  for ((i = 0; i < 50; i++)); do [ -s "$dev/run/lighttpd.pid" ] && break; sleep 0.1; done
  cp "$dev/run/lighttpd.pid" "$dev/pids/lighttpd.pid"

  # 7. Wait until the bridge answers through lighttpd.
  local url=http://127.0.0.1:$port ok=0
  for ((i = 0; i < 50; i++)); do
    if curl -fsS --max-time 2 "$url/healthz" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ $ok = 1 ] || { die "no answer from $url/healthz"; }

  # 7b. The demo subjects in the registry, with grants on the demo keys and
  #     roles (issue 12): the first agent gets every demo resource, the second
  #     only the signing key, so it cannot decrypt the first one's data.
  provision_subject "$url" "$key_admin" "$subj1" \
    '{"transit_keys":["mcp-default","mcp-signing"],"db_roles":["readonly"],"ssh_roles":["otp_role","ca_role"]}' ||
    die "cannot register $subj1 (see $logdir/server.log)"
  provision_subject "$url" "$key_admin" "$subj2" \
    '{"transit_keys":["mcp-signing"],"db_roles":["readonly"],"ssh_roles":["otp_role"]}' ||
    die "cannot register $subj2 (see $logdir/server.log)"

  # 8. Connection details.
  local iss=${JWT_ISSUER:-mcp-auth} aud=${JWT_AUDIENCE:-mcp-agents}
  {
    echo "# Vault MCP Bridge dev stack, written by scripts/dev.sh up on $(date -u +%FT%TZ)"
    env_line BRIDGE_URL "$url"
    env_line VAULT_ADDR "$vault_addr"
    env_line VAULT_TOKEN "$vault_token"
    # A Vault behind TLS: what the bridge and vault-mcp-stdio need to reach it.
    for v in VAULT_CACERT VAULT_CAPATH VAULT_CLIENT_CERT VAULT_CLIENT_KEY \
             VAULT_SKIP_VERIFY VAULT_NAMESPACE; do
      if [ -n "${!v:-}" ]; then env_line "$v" "${!v}"; fi
    done
    env_line JWT_HS256_SECRET "$jwt_secret"
    env_line JWT_ISSUER "$iss"
    env_line JWT_AUDIENCE "$aud"
    env_line LOG_DIR "$logdir"
    env_line DEMO_ADMIN_API_KEY "$key_admin"
    env_line DEMO_SUBJECT "$subj1"
    env_line DEMO_API_KEY "$key1"
    env_line DEMO_JWT "$(mint_jwt "$subj1" "$jwt_secret" "$iss" "$aud")"
    env_line DEMO_SUBJECT_2 "$subj2"
    env_line DEMO_API_KEY_2 "$key2"
    env_line DEMO_JWT_2 "$(mint_jwt "$subj2" "$jwt_secret" "$iss" "$aud")"
    if [ "$with_pg" = 1 ]; then
      env_line POSTGRES_PORT "$pgport"
      env_line POSTGRES_DB "$pg_db"
      env_line POSTGRES_ADMIN "$pg_admin"
      env_line POSTGRES_ADMIN_PASSWORD "$pg_pw"
    fi
  } >"$envfile.tmp"
  chmod 0600 "$envfile.tmp"
  mv "$envfile.tmp" "$envfile"
  up_done=1
  print_examples
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: scripts/dev.sh up [--with-postgres] | down | status" >&2; exit 2 ;;
esac
