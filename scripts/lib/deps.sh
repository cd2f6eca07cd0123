# shellcheck shell=bash
# Debian packages the build and the test suite need. Sourced by
# scripts/test.sh and scripts/dev.sh; installs only what is missing.
# lintian, systemd (systemd-analyze), man-db, file (CPack's dependency
# scan), adduser: the package checks of tests/package (label package).
# clang + libclang-rt-dev: libFuzzer for tests/fuzz (the runtime is only a
# "Recommends" of clang, and installs here skip recommendations).

# libpq-dev: vault-sim links libpq so its database engine can create and
#   drop real PostgreSQL users (--database-plugins real, issue 20).
# postgresql: the `real` tests and `scripts/dev.sh up --with-postgres` run
#   a throw-away cluster (initdb in a temporary directory, loopback port);
#   the package's own cluster is never started by us.
# openssh-server: the `real` tests run their own sshd (own config, host key
#   and port) to prove that signed certificates and OTPs open a real
#   server. On a machine with systemd the package also enables the system
#   ssh service; the tests never use or touch it.
# libhiredis-dev: the Redis protocol (command formatting, reply parsing)
#   for REDIS_URL, state shared by several hosts (issue 16). Debian 12's
#   hiredis 0.14 has no TLS, so upstream/redis.c owns the socket and the
#   OpenSSL session itself and uses hiredis only for the protocol.
# redis-server: the `scale` tests run their own throw-away redis-server
#   (own port and directory, no persistence; also with a password and
#   with TLS); the package's own service is never used by the tests.
# python3-fastapi, python3-uvicorn, python3-hvac: the Python peer that
#   bench/run.sh measures the bridge against (bench/peers/kv_peer.py);
#   strace: its system-call count per KV read. bench_run_smoke runs both.
# chromium: the browser the console tests (tests/console) drive headless
#   through puppeteer-core; no browser is ever downloaded.
VMB_BUILD_PACKAGES="build-essential cmake pkg-config libfcgi-dev libfcgi-bin
libjson-c-dev libcurl4-openssl-dev libssl-dev libjwt-dev libyaml-dev
libmicrohttpd-dev libcmocka-dev clang libclang-rt-dev libpq-dev libhiredis-dev"
VMB_TEST_PACKAGES="curl jq python3 openssl openssh-client spawn-fcgi lighttpd lighttpd-mod-openssl
nginx-light apache2 libapache2-mod-fcgid caddy wrk prometheus valgrind nodejs npm chromium
postgresql openssh-server systemd lintian man-db file adduser redis-server
python3-fastapi python3-uvicorn python3-hvac strace"

vmb_missing_packages() {
  local p missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing="$missing $p"
  done
  printf '%s' "$missing"
}

# vmb_ensure_packages PKG... : apt-get install what is not installed yet.
vmb_ensure_packages() {
  local missing
  missing=$(vmb_missing_packages "$@")
  [ -z "$missing" ] && return 0
  echo "installing Debian packages:$missing" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  # shellcheck disable=SC2086
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >&2
}
