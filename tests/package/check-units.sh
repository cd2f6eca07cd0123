#!/usr/bin/env bash
# check-units.sh DEB_DIR : `systemd-analyze verify` on the units of the
# vault-mcp-bridge package, offline (no running systemd is needed: verify
# loads the files, parses every directive, and checks that ExecStart
# binaries and man pages exist). The package is unpacked into a scratch root and verify
# runs with --root there, so the binaries it looks for are the packaged
# ones. Any message at all fails: verify exits 0 on unknown keys and bad
# values, it only prints them. Prints `systemd-analyze security` exposure
# of the service as a record (docs/packaging.md).
set -euo pipefail
dir=$1
fail() { echo "FAIL: $*"; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (package systemd)"
deb=$(ls "$dir"/vault-mcp-bridge_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no vault-mcp-bridge .deb in $dir"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
unitdir=$(cd "$root" && find . -path '*/systemd/system' -type d | head -1)
[ -n "$unitdir" ] || fail "no systemd unit directory in the package"
unitdir=${unitdir#.}
for u in vault-mcp-bridge.socket vault-mcp-bridge.service vault-mcp-bridge@.service; do
  [ -f "$root$unitdir/$u" ] || fail "package lacks $unitdir/$u"
done
# The user and groups named in the units must resolve: --root
# reads the scratch root's passwd, so give it the host's plus ours.
mkdir -p "$root/etc"
cp /etc/passwd /etc/group "$root/etc/"
svc_user=$(sed -n 's/^User=//p' "$root$unitdir/vault-mcp-bridge.service")
grep -q "^$svc_user:" "$root/etc/passwd" ||
  echo "$svc_user:x:900:900::/nonexistent:/usr/sbin/nologin" >>"$root/etc/passwd"
grep -q "^$svc_user:" "$root/etc/group" || echo "$svc_user:x:900:" >>"$root/etc/group"
# verify loads the targets the units hook into (sockets.target, ...) from
# the root too: give it the host's stock units beside ours.
cp -rn /lib/systemd/system/. "$root$unitdir/" 2>/dev/null || true
# Documentation=man:... is checked by running man: point it at the package.
export MANPATH=$root/usr/share/man
# A template is verified through an instance.
units=("$unitdir/vault-mcp-bridge.socket" "$unitdir/vault-mcp-bridge.service"
       "$unitdir/vault-mcp-bridge@2.service")
msgs=$(systemd-analyze verify --root="$root" "${units[@]}" 2>&1) || fail "verify failed: $msgs"
[ -z "$msgs" ] || fail "systemd-analyze verify printed: $msgs"
echo "ok: systemd-analyze verify (socket, service, pool member @2)"
# Record, not a test: the exposure score of the service as systemd rates it.
for u in vault-mcp-bridge.service vault-mcp-bridge@2.service; do
  systemd-analyze security --offline=true --root="$root" "$unitdir/$u" 2>/dev/null |
    grep -E 'Overall exposure level' | sed "s|^|$u: |" || true
done
