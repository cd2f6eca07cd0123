#!/usr/bin/env bash
# check-version.sh BIN NAME VERSION BUILD_TYPE : `BIN --version` names the
# program and version on its first line, then the build (type, compiler,
# sanitizers) and the libraries it runs with, and exits 0.
set -euo pipefail
bin=$1 name=$2 version=$3 btype=$4
out=$("$bin" --version) || { echo "FAIL: $bin --version exited $?"; exit 1; }
printf '%s\n' "$out"
first=$(printf '%s\n' "$out" | head -1)
if [ "$name" = vault-sim ]; then
  # First line as the Vault CLI prints it: clients parse "Vault vX.Y.Z".
  [[ $first =~ ^Vault\ v[0-9]+\.[0-9]+\.[0-9]+\ \(vault-sim\)$ ]] ||
    { echo "FAIL: first line '$first'"; exit 1; }
else
  [ "$first" = "$name $version" ] || { echo "FAIL: first line '$first', want '$name $version'"; exit 1; }
fi
grep -qE "^build: ${btype:-unknown}, [A-Za-z]+ [0-9.]+, sanitizers: [a-z+]+$" <<<"$out" ||
  { echo "FAIL: no 'build: $btype, <compiler> <version>, sanitizers: ...' line"; exit 1; }
libs=$(printf '%s\n' "$out" | sed -n '/^libraries:/,$p')
for lib in json-c OpenSSL; do
  grep -qE "${lib}[ /][0-9]" <<<"$libs" || { echo "FAIL: no $lib version"; exit 1; }
done
case $name in
  vault-mcp-fcgi) want="libyaml libcurl libfcgi" ;;
  vault-mcp-stdio) want="libyaml libcurl" ;;
  vault-sim) want="libmicrohttpd" ;;
esac
for lib in $want; do
  grep -qE "${lib}[ /][0-9]" <<<"$libs" || { echo "FAIL: no $lib version"; exit 1; }
done
echo "ok: $name --version"
