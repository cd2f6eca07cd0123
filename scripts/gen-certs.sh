#!/usr/bin/env bash
# gen-certs.sh DIR : throw-away TLS material for tests and local trials.
#
# Writes into DIR (created if needed):
#   ca.crt / ca.key              the CA the web server trusts for clients
#   server.crt / server.key      server cert signed by that CA,
#                                SAN DNS:localhost, IP:127.0.0.1
#   server-chain.pem             server cert followed by the CA (some
#                                servers want the chain in one file)
#   server-combined.pem          cert + key in one file
#   client.crt / client.key      client cert, subject
#                                /C=US/O=Example, Inc./OU=Agents/CN=agent_mtls
#                                (the comma in O= shows DN escaping issues)
#   client.pem                   client cert + key, for curl --cert
#   rogue-ca.crt / rogue-ca.key  a second, untrusted CA
#   rogue.crt / rogue.key / rogue.pem
#                                client cert with the same subject, signed by
#                                the untrusted CA: it must never authenticate
#
# Never use these for anything but tests: keys are unencrypted and the CA
# key sits next to its certificate.
#   CLIENT_CN=name  changes the CN of the client certificates.
set -euo pipefail

dir=${1:?usage: gen-certs.sh DIR}
cn=${CLIENT_CN:-agent_mtls}
mkdir -p "$dir"
cd "$dir"
umask 077

# Subject with a comma inside O=: -subj needs it escaped with a backslash.
client_subj="/C=US/O=Example\\, Inc./OU=Agents/CN=$cn"

ext=$(mktemp)
trap 'rm -f "$ext"' EXIT

# mkca NAME SUBJECT
mkca() {
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
    -keyout "$1.key" -out "$1.crt" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# mkleaf NAME SUBJECT CA EXTENSIONS...
mkleaf() {
  local name=$1 subj=$2 ca=$3
  shift 3
  printf '%s\n' "$@" >"$ext"
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$name.key" \
    -out "$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" \
    -CAcreateserial -days 30 -sha256 -extfile "$ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr"
}

mkca ca "/O=Vault MCP Bridge Test/CN=Test Client and Server CA"
mkca rogue-ca "/O=Somebody Else/CN=Other CA"

mkleaf server "/O=Vault MCP Bridge Test/CN=localhost" ca \
  "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1"
client_ext=("basicConstraints=CA:FALSE"
  "keyUsage=critical,digitalSignature,keyEncipherment"
  "extendedKeyUsage=clientAuth")
mkleaf client "$client_subj" ca "${client_ext[@]}"
mkleaf rogue "$client_subj" rogue-ca "${client_ext[@]}"

cat server.crt ca.crt >server-chain.pem
cat server.crt server.key >server-combined.pem
cat client.crt client.key >client.pem
cat rogue.crt rogue.key >rogue.pem
rm -f ./*.srl
# Web servers drop privileges before some of them read files (lighttpd
# reads the key as root, nginx too, Caddy and Apache children do not need
# it); keep everything readable by the owner and its group only, and let
# the caller widen it for a test directory if its server user needs it.
chmod 0640 ./*.key ./*.pem
chmod 0644 ./*.crt
echo "certificates written to $(pwd)"
