#!/usr/bin/env bash
# check-layout.sh BUILD_DIR : `cmake --install` into a staging root lays
# out bin/, etc/vault-mcp-bridge/, share/vault-mcp-bridge/ (web-server
# snippets with the socket and static root filled in, the www tree),
# systemd units, tmpfiles.d and man pages; nothing else lands outside them.
set -euo pipefail
build=$1
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
DESTDIR=$stage cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
r=$stage$prefix
for f in bin/vault-mcp-fcgi bin/vault-mcp-stdio bin/vault-sim bin/vault-mcp-pool \
         share/man/man8/vault-mcp-fcgi.8.gz share/man/man1/vault-mcp-stdio.1.gz \
         share/man/man1/vault-sim.1.gz share/man/man8/vault-mcp-pool.8.gz \
         share/vault-mcp-bridge/render.sh share/vault-mcp-bridge/webserver/README.md \
         share/vault-mcp-bridge/www/docs/index.html share/vault-mcp-bridge/www/console/index.html share/vault-mcp-bridge/www/redoc/index.html share/vault-mcp-bridge/www/static/vendor/redoc-2.5.4/LICENSE share/vault-mcp-bridge/www/static/vendor/swagger-ui-dist-5.35.0/LICENSE \
         share/doc/vault-mcp-bridge/copyright share/doc/vault-mcp-bridge/changelog.gz \
         share/doc/vault-sim/copyright; do
  [ -e "$r/$f" ] || fail "missing $prefix/$f"
done
for s in lighttpd/vault-mcp.conf nginx/vault-mcp.conf apache/vault-mcp-proxy-fcgi.conf \
         apache/vault-mcp-fcgid.conf caddy/Caddyfile; do
  f=$r/share/vault-mcp-bridge/webserver/$s
  [ -s "$f" ] || fail "missing snippet $s"
  left=$(grep -v '^[[:space:]]*#' "$f" | grep -oE '@(APP_SOCKET|WWW_ROOT|BRIDGE_BIN|APP_CONFIG_FILE)@' | sort -u | tr '\n' ' ' || true)
  [ -z "$left" ] || fail "$s still has $left"
done
grep -q "/vault-mcp-bridge/fcgi.sock" "$r/share/vault-mcp-bridge/webserver/nginx/vault-mcp.conf" ||
  fail "nginx snippet does not point at the package's socket"
! grep -q /usr/local/bin/vault-mcp-fcgi "$r/bin/vault-mcp-pool" ||
  [ "$prefix" = /usr/local ] || fail "pool script still points at /usr/local"
# Config and units: wherever the prefix puts them, exactly one of each.
n=$(find "$stage" -path '*/vault-mcp-bridge/config.yaml' | wc -l)
[ "$n" = 1 ] || fail "$n config.yaml files installed"
for u in vault-mcp-bridge.socket vault-mcp-bridge.service 'vault-mcp-bridge@.service'; do
  n=$(find "$stage" -path "*/systemd/system/$u" | wc -l)
  [ "$n" = 1 ] || fail "$u installed $n times"
done
[ "$(find "$stage" -path '*/tmpfiles.d/vault-mcp-bridge.conf' | wc -l)" = 1 ] || fail "no tmpfiles.d entry"
# The config example is valid for the bridge itself.
APP_CONFIG_FILE=$(find "$stage" -path '*/vault-mcp-bridge/config.yaml') \
  "$r/bin/vault-mcp-fcgi" --check-config >/dev/null || fail "the installed config.yaml is refused"
echo "ok: install layout under $prefix ($(find "$stage" -type f | wc -l) files)"
