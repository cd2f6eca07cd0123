#!/usr/bin/env bash
# guide-test.sh SETUP : run the deploy guides for one web server as
# written (label guides). SETUP is nginx, lighttpd, caddy, apache-proxy-fcgi
# or apache-fcgid.
#
# What the test provides, and nothing else: a scratch root (every path
# setting of the guides points into it), free loopback ports chosen now,
# and a Vault (the simulator, provisioned like a real one by
# scripts/provision-vault.sh). Then tests/guides/run-guide.py runs
# docs/deploy.md §0, the pool guide (except for mod_fcgid) and the web
# server's README in order, ending with the checks of docs/deploy.md and
# the guides' own stop steps; systemd units named by the guides are
# checked with systemd-analyze verify.
#
# Env: VMB_BUILD_DIR (default <repo>/build), KEEP_TMP=1 keeps the root.
set -euo pipefail

setup=${1:?usage: guide-test.sh nginx|lighttpd|caddy|apache-proxy-fcgi|apache-fcgid}
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${VMB_BUILD_DIR:-$repo/build}
# shellcheck source=../../scripts/lib/stack.sh
. "$repo/scripts/lib/stack.sh"

# The guides create a system user and start servers that drop to
# www-data, as on a real host; as another user the test cannot run.
if [ "$(id -u)" != 0 ]; then
  echo "guide-test.sh: needs root (the guides install as root); skipping" >&2
  exit 77
fi
for b in "$build/bin/vault-mcp-fcgi" "$build/bin/vault-sim"; do
  [ -x "$b" ] || { echo "missing $b: build first" >&2; exit 2; }
done
vmb_ensure_packages curl jq openssl python3 systemd

guides=("$repo/docs/deploy.md")
variant=""
extra=(--set THREADS=4)   # pool settings; not declared for mod_fcgid
# A user of the test's own, not the package's vault-mcp-bridge: the
# package's install/purge test must find the host as it left it. Removed
# at the end when this run created it.
pool_user=vmb-guide-test
case $setup in
  nginx | lighttpd | caddy)
    guides+=("$repo/deploy/spawn-fcgi/README.md" "$repo/deploy/$setup/README.md") ;;
  apache-proxy-fcgi)
    guides+=("$repo/deploy/spawn-fcgi/README.md" "$repo/deploy/apache/README.md")
    variant=proxy-fcgi ;;
  apache-fcgid)
    # mod_fcgid runs the bridge itself, as Apache's user.
    guides+=("$repo/deploy/apache/README.md")
    variant=fcgid
    extra=()
    pool_user=www-data ;;
  *) echo "unknown setup $setup" >&2; exit 2 ;;
esac

# The harness's own files (simulator) sit beside the scratch root, so the
# runner's leftover-process scan of the root sees only what guides start.
work=$(mktemp -d "${TMPDIR:-/tmp}/vmb-guide-$setup.XXXXXX")
root=$work/root
user_existed=0
getent passwd "$pool_user" >/dev/null && user_existed=1
mkdir "$root"
chmod 0755 "$work" "$root"
cleanup() {
  local rc=$?
  set +e
  # Our child: exit 0 after SIGTERM and no sanitizer report (docs/testing.md).
  if [ -s "$work/vault-sim.pid" ]; then
    vmb_stop_child "$(cat "$work/vault-sim.pid")"
    st=$?
    if [ "$st" -ne 0 ]; then
      echo "vault-sim exited with $st after SIGTERM (expected 0)" >&2
      [ "$rc" -ne 0 ] || rc=1
    fi
  fi
  vmb_sanitizer_check "$work/vault-sim.log" || { [ "$rc" -ne 0 ] || rc=1; }
  if [ "$user_existed" = 0 ] && getent passwd "$pool_user" >/dev/null; then
    userdel "$pool_user" 2>/dev/null
    getent group "$pool_user" >/dev/null && groupdel "$pool_user" 2>/dev/null
  fi
  if [ "$rc" -ne 0 ]; then
    echo "--- failure: last lines of the logs under $work"
    find "$work" -name '*.log' -size +0 | while read -r f; do
      echo "== $f"; tail -n 12 "$f"
    done
  fi
  if [ "${KEEP_TMP:-0}" = 1 ] || [ "${VMB_KEEP_TMP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The guides put the pool's socket at RUN_ROOT/vault-mcp-bridge/fcgi.sock,
# under $TMPDIR: a unix socket path holds at most 107 bytes, and Apache's
# mod_proxy keeps a worker's socket path in a 96-byte field (95 bytes);
# spawn-fcgi's and Apache's own complaints come late and say little.
sock=$root/run/vault-mcp-bridge/fcgi.sock
sock_max=107
[ "$setup" = apache-proxy-fcgi ] && sock_max=95
if [ ${#sock} -gt $sock_max ]; then
  echo "guide-test.sh: $sock is ${#sock} bytes, more than the $sock_max the socket path may have here; use a shorter TMPDIR" >&2
  exit 1
fi

free_port() { python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import procs; print(procs.free_port())' "$repo/tests/lib"; }
port=$(free_port)
health_port=$(free_port)
vault_port=$(free_port)
while [ "$health_port" = "$port" ]; do health_port=$(free_port); done
while [ "$vault_port" = "$port" ] || [ "$vault_port" = "$health_port" ]; do vault_port=$(free_port); done

token=guide-$(openssl rand -hex 12)
vmb_start_vault_sim "$build/bin/vault-sim" "$vault_port" "$token" "$work/vault-sim.log" "$work/vault-sim.pid"
vmb_provision_vault "$repo" "http://127.0.0.1:$vault_port" "$token" "$work/provision.log"

echo "== guides for $setup: https://localhost:$port, health 127.0.0.1:$health_port, root $root"
python3 "$repo/tests/guides/run-guide.py" --root "$root" --variant "$variant" \
  --set ETC={root}/etc --set RUN_ROOT={root}/run --set LOG_ROOT={root}/log \
  --set BIN={root}/bin --set BUILD="$build" \
  --set SERVER_NAME=localhost --set BIND_ADDR=127.0.0.1 \
  --set PORT="$port" --set HEALTH_PORT="$health_port" \
  --set TLS_DIR={root}/etc/ssl/vault-mcp --set WWW_ROOT={root}/www \
  --set POOL_USER="$pool_user" \
  --set VAULT_ADDR="http://127.0.0.1:$vault_port" --set VAULT_TOKEN="$token" \
  "${extra[@]}" "${guides[@]}"
