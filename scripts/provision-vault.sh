#!/usr/bin/env bash
# Provision a Vault (real `vault server -dev` or tests/vaultsim's vault-sim)
# for the Vault MCP Bridge. Only documented Vault HTTP API calls are used,
# so the same script works against both. Idempotent: re-running it leaves
# the same state (existing mounts, keys and the SSH CA are kept).
#
# Environment:
#   VAULT_ADDR   e.g. http://127.0.0.1:8200   (required)
#   VAULT_TOKEN  a root (or sufficiently privileged) token (required)
#   VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY,
#   VAULT_SKIP_VERIFY, VAULT_NAMESPACE
#                as for the vault CLI (scripts/lib/vault-client.sh)
#   POSTGRES_URL       optional: a real PostgreSQL for the database engine,
#                      as Vault's connection_url, e.g.
#                      postgresql://{{username}}:{{password}}@db:5432/app?sslmode=disable
#   POSTGRES_USERNAME  the user Vault connects as (creates and drops roles)
#   POSTGRES_PASSWORD  its password (sent to Vault only, never printed)
#   Without POSTGRES_URL the connection is a placeholder that is not
#   verified, and credentials issued from it open nothing.
#
# Creates:
#   secret/    KV v2 (enabled only if missing)
#   transit/   keys mcp-default (aes256-gcm96), mcp-signing (ed25519)
#   database/  connection "mcp-postgres" and role readonly (SELECT on the
#              public schema); verified when POSTGRES_URL is given
#   ssh/       CA key, roles otp_role and ca_role
#   auth/approle/  role mcp-bridge with policy mcp-bridge
#   policies   mcp-bridge and mcp-agent-<subject> per demo agent
set -euo pipefail

: "${VAULT_ADDR:?VAULT_ADDR must be set}"
: "${VAULT_TOKEN:?VAULT_TOKEN must be set}"
for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "provision-vault: $tool is required" >&2; exit 2; }
done

# shellcheck source=lib/vault-client.sh
. "$(dirname "$0")/lib/vault-client.sh"
vmb_vault_curl_opts || exit 2

ADDR="${VAULT_ADDR%/}"
AGENTS=(agent_api agent_jwt agent_mtls agent_alice agent_bob)
TMP=$(mktemp)
# The token goes to curl in a header file (mktemp: mode 0600), not on the
# command line, which every local user can read in ps.
HDR=$(mktemp)
trap 'rm -f "$TMP" "$TMP.status" "$TMP.err" "$HDR"' EXIT
printf 'X-Vault-Token: %s\nX-Vault-Request: true\n' "$VAULT_TOKEN" >"$HDR"
STATUS=000

# api METHOD PATH [JSON-BODY] -> prints the body, returns non-zero on
# statuses other than 2xx. The HTTP status is left in $STATUS and in
# $TMP.status (api often runs in a $(...) subshell, whose variables are
# lost: read it back with `last_status`).
api() {
  local method=$1 path=$2 body=${3-} rc=0
  local args=(-sS -o "$TMP" -w '%{http_code}' -X "$method" "${VMB_VAULT_CURL_OPTS[@]}"
              -H @"$HDR")
  # The body goes through stdin, not the command line: it may hold a
  # database password, and argv is visible to every local user.
  if [ -n "$body" ]; then
    args+=(-H "Content-Type: application/json" --data-binary @-)
  fi
  STATUS=$(printf '%s' "$body" | curl "${args[@]}" "${ADDR}/v1/${path}" 2>"$TMP.err") || rc=$?
  if [ "$rc" != 0 ]; then
    STATUS=000
    echo 000 >"$TMP.status"
    echo "provision-vault: cannot reach ${ADDR}: $(vmb_vault_curl_hint "$rc" "$(head -1 "$TMP.err")")" >&2
    head -1 "$TMP.err" >&2
    return 1
  fi
  echo "$STATUS" >"$TMP.status"
  cat "$TMP"
  case "$STATUS" in 2??) return 0 ;; *) return 1 ;; esac
}

# must METHOD PATH [BODY]: like api, but aborts with the error body.
must() {
  if ! api "$@" >/dev/null; then
    echo "provision-vault: $1 /v1/$2 failed with HTTP ${STATUS}: $(cat "$TMP")" >&2
    exit 1
  fi
}

log() { printf 'provision-vault: %s\n' "$*"; }
last_status() { cat "$TMP.status" 2>/dev/null || echo 000; }

# --- secrets engines -------------------------------------------------------
mounts=$(api GET sys/mounts) || { echo "provision-vault: cannot list mounts (HTTP $(last_status))" >&2; exit 1; }
has_mount() { jq -e --arg p "$1/" '(.data // .) | has($p)' <<<"$mounts" >/dev/null; }

if has_mount secret; then
  log "secret/ already mounted"
else
  must POST sys/mounts/secret '{"type":"kv","options":{"version":"2"}}'
  log "enabled KV v2 at secret/"
fi
for engine in transit database ssh; do
  if has_mount "$engine"; then
    log "$engine/ already mounted"
  else
    must POST "sys/mounts/$engine" "$(jq -nc --arg t "$engine" '{type:$t}')"
    log "enabled $engine at $engine/"
  fi
done

# --- transit keys ----------------------------------------------------------
ensure_key() {
  local name=$1 type=$2
  if api GET "transit/keys/$name" >/dev/null; then
    log "transit key $name exists"
  else
    must POST "transit/keys/$name" "$(jq -nc --arg t "$type" '{type:$t}')"
    log "created transit key $name ($type)"
  fi
}
ensure_key mcp-default aes256-gcm96
ensure_key mcp-signing ed25519

# --- database ----------------------------------------------------------------
if [ -n "${POSTGRES_URL:-}" ]; then
  : "${POSTGRES_USERNAME:?POSTGRES_USERNAME must be set with POSTGRES_URL}"
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set with POSTGRES_URL}"
  # Vault connects now (verify_connection) and refuses a config it cannot use.
  must POST database/config/mcp-postgres "$(jq -nc --arg url "$POSTGRES_URL" \
    --arg user "$POSTGRES_USERNAME" --arg pw "$POSTGRES_PASSWORD" '{
    plugin_name: "postgresql-database-plugin",
    allowed_roles: "readonly",
    connection_url: $url,
    username: $user,
    password: $pw,
    verify_connection: true
  }')"
else
  # verify_connection=false: no live database is needed to provision.
  must POST database/config/mcp-postgres "$(jq -nc '{
    plugin_name: "postgresql-database-plugin",
    allowed_roles: "readonly",
    connection_url: "postgresql://{{username}}:{{password}}@127.0.0.1:5432/mcp?sslmode=disable",
    username: "vault",
    password: "vault-provisioning-placeholder",
    verify_connection: false
  }')"
fi
must POST database/roles/readonly "$(jq -nc '{
  db_name: "mcp-postgres",
  creation_statements: ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '\''{{password}}'\'' VALID UNTIL '\''{{expiration}}'\''; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";"],
  default_ttl: "1h",
  max_ttl: "24h"
}')"
if [ -n "${POSTGRES_URL:-}" ]; then
  log "database connection mcp-postgres (verified) and role readonly written"
else
  log "database connection mcp-postgres (placeholder, not verified) and role readonly written"
fi

# --- ssh -----------------------------------------------------------------------
if api GET ssh/config/ca >/dev/null; then
  log "ssh CA already configured"
else
  must POST ssh/config/ca '{"generate_signing_key":true,"key_type":"ssh-ed25519"}'
  log "generated ssh CA key"
fi
must POST ssh/roles/otp_role '{"key_type":"otp","default_user":"ubuntu","cidr_list":"127.0.0.0/8","port":22}'
allowed_users=$(IFS=,; echo "ubuntu,${AGENTS[*]}")
must POST ssh/roles/ca_role "$(jq -nc --arg u "$allowed_users" '{
  key_type: "ca",
  allow_user_certificates: true,
  allowed_users: $u,
  default_user: "ubuntu",
  ttl: "30m",
  max_ttl: "1h",
  default_extensions: {"permit-pty": ""},
  allowed_extensions: "permit-pty,permit-port-forwarding,permit-agent-forwarding,permit-X11-forwarding,permit-user-rc"
}')"
log "ssh roles otp_role and ca_role written"

# --- policies ----------------------------------------------------------------
put_policy() {
  must PUT "sys/policies/acl/$1" "$(jq -nc --arg p "$2" '{policy:$p}')"
  log "policy $1 written"
}

agent_policy() {
  local s=$1
  cat <<EOF
# MCP agent $s: its own KV area plus the shared crypto and credential paths.
path "secret/data/mcp/$s/*"     { capabilities = ["create", "read", "update", "patch", "delete"] }
path "secret/metadata/mcp/$s/*" { capabilities = ["read", "list", "delete"] }
path "secret/delete/mcp/$s/*"   { capabilities = ["update"] }
path "secret/undelete/mcp/$s/*" { capabilities = ["update"] }
path "secret/destroy/mcp/$s/*"  { capabilities = ["update"] }
path "secret/subkeys/mcp/$s/*"  { capabilities = ["read"] }
path "transit/encrypt/mcp-*"    { capabilities = ["update"] }
path "transit/decrypt/mcp-*"    { capabilities = ["update"] }
path "transit/rewrap/mcp-*"     { capabilities = ["update"] }
path "transit/sign/mcp-*"       { capabilities = ["update"] }
path "transit/verify/mcp-*"     { capabilities = ["update"] }
path "transit/hmac/mcp-*"       { capabilities = ["update"] }
path "database/creds/readonly"  { capabilities = ["read"] }
path "ssh/creds/otp_role"       { capabilities = ["update"] }
path "ssh/sign/ca_role"         { capabilities = ["update"] }
path "sys/leases/renew"         { capabilities = ["update"] }
path "sys/leases/revoke"        { capabilities = ["update"] }
EOF
}

for s in "${AGENTS[@]}"; do
  put_policy "mcp-agent-$s" "$(agent_policy "$s")"
done

put_policy mcp-bridge "$(cat <<'EOF'
# The bridge itself: mints per-agent child tokens (sudo lets it attach the
# mcp-agent-* policies it does not hold) and manages their lifecycle.
path "auth/token/create"        { capabilities = ["update", "sudo"] }
path "auth/token/create-orphan" { capabilities = ["update", "sudo"] }
path "auth/token/lookup"        { capabilities = ["update"] }
path "auth/token/lookup-self"   { capabilities = ["read"] }
path "auth/token/renew-self"    { capabilities = ["update"] }
path "auth/token/revoke"        { capabilities = ["update"] }
path "auth/token/revoke-self"   { capabilities = ["update"] }
path "sys/leases/renew"         { capabilities = ["update"] }
path "sys/leases/revoke"        { capabilities = ["update"] }
path "sys/leases/lookup"        { capabilities = ["update"] }
path "sys/health"               { capabilities = ["read"] }
path "sys/capabilities-self"    { capabilities = ["update"] }
# The subject registry and lease owners (docs/registry.md), and the agents'
# policies, which the bridge writes from their grants.
path "secret/data/mcp-admin/*"     { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/mcp-admin/*" { capabilities = ["read", "list", "delete"] }
path "sys/policies/acl/mcp-agent-*" { capabilities = ["create", "read", "update", "delete"] }
# Response wrapping (docs/wrapping.md): wrap_ttl answers, wrap.lookup, wrap.unwrap.
path "sys/wrapping/wrap"        { capabilities = ["update"] }
path "sys/wrapping/lookup"      { capabilities = ["update"] }
path "sys/wrapping/unwrap"      { capabilities = ["update"] }
EOF
)"

# --- approle -------------------------------------------------------------------
auths=$(api GET sys/auth) || { echo "provision-vault: cannot list auth methods (HTTP $(last_status))" >&2; exit 1; }
if jq -e '(.data // .) | has("approle/")' <<<"$auths" >/dev/null; then
  log "approle already enabled"
else
  must POST sys/auth/approle '{"type":"approle"}'
  log "enabled approle"
fi
must POST auth/approle/role/mcp-bridge '{"token_policies":["mcp-bridge"],"token_ttl":"1h","token_max_ttl":"4h","secret_id_ttl":"0","secret_id_num_uses":0}'
role_id=$(api GET auth/approle/role/mcp-bridge/role-id | jq -r '.data.role_id')
log "approle role mcp-bridge written (role_id ${role_id})"
log "done"
