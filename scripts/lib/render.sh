# shellcheck shell=bash
# vmb_render TEMPLATE OUTPUT NAME=VALUE... : copy a deploy/ config with its
# @NAME@ placeholders replaced. Fails if a placeholder is left over, so a
# renamed placeholder cannot slip into a running server unnoticed.
# Usable by operators too:
#   . scripts/lib/render.sh
#   vmb_render deploy/nginx/vault-mcp.conf /etc/nginx/sites-available/vault-mcp \
#     SERVER_NAME=vault.example.com BIND_ADDR=0.0.0.0 PORT=443 ...
vmb_render() {
  local in=$1 out=$2 kv name value script=""
  shift 2
  for kv in "$@"; do
    name=${kv%%=*}
    value=${kv#*=}
    # Escape what is special on the right-hand side of s|||: \ & and |.
    value=$(printf '%s' "$value" | sed -e 's/[\\&|]/\\&/g')
    # A newline in the value: backslash-newline in the replacement.
    value=${value//$'\n'/\\$'\n'}
    # Comment lines keep their placeholders: they document them.
    script+="/^[[:space:]]*#/!s|@${name}@|${value}|g;"
  done
  sed -e "$script" "$in" >"$out.tmp"
  # Only unreplaced placeholders on non-comment lines count. Collected in
  # full rather than tested with grep -q: grep -q stops reading at the first
  # hit, and under a caller's pipefail the writer's SIGPIPE would turn a
  # found placeholder into a "none left".
  local left
  left=$(grep -v '^[[:space:]]*#' "$out.tmp" | grep -oE '@[A-Z][A-Z0-9_]*@' | sort -u | tr '\n' ' ') || true
  if [ -n "$left" ]; then
    echo "vmb_render: $in: placeholders left: $left" >&2
    rm -f "$out.tmp"
    return 1
  fi
  mv "$out.tmp" "$out"
}
