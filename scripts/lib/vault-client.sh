# shellcheck shell=bash
# Vault's own client variables for our scripts' curl calls, read the way
# the vault CLI reads them, so a script works against a Vault behind TLS
# with the same environment as `vault` itself:
#   VAULT_CACERT       PEM file of the CA(s) to trust       -> --cacert
#   VAULT_CAPATH       directory of CA certificates (hashed) -> --capath
#   VAULT_CLIENT_CERT  client certificate (PEM)              -> --cert
#   VAULT_CLIENT_KEY   its key (PEM)                         -> --key
#   VAULT_SKIP_VERIFY  true/1/t: no certificate check (development only)
#   VAULT_NAMESPACE    namespace header                      -> X-Vault-Namespace
# Sourced by scripts/provision-vault.sh (and through it scripts/dev.sh).
# Every variable may be unset.

# vmb_vault_curl_opts : fills the array VMB_VAULT_CURL_OPTS. Returns 2 with
# a message naming the variable when one is unusable (missing file, cert
# without key, a VAULT_SKIP_VERIFY that is not a boolean).
vmb_vault_curl_opts() {
  VMB_VAULT_CURL_OPTS=()
  local v
  if [ -n "${VAULT_CACERT:-}" ]; then
    [ -r "$VAULT_CACERT" ] || { echo "VAULT_CACERT: cannot read $VAULT_CACERT" >&2; return 2; }
    VMB_VAULT_CURL_OPTS+=(--cacert "$VAULT_CACERT")
  fi
  if [ -n "${VAULT_CAPATH:-}" ]; then
    [ -d "$VAULT_CAPATH" ] || { echo "VAULT_CAPATH: $VAULT_CAPATH is not a directory" >&2; return 2; }
    VMB_VAULT_CURL_OPTS+=(--capath "$VAULT_CAPATH")
  fi
  if [ -n "${VAULT_CLIENT_CERT:-}" ] || [ -n "${VAULT_CLIENT_KEY:-}" ]; then
    if [ -z "${VAULT_CLIENT_CERT:-}" ] || [ -z "${VAULT_CLIENT_KEY:-}" ]; then
      echo "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together" >&2
      return 2
    fi
    for v in VAULT_CLIENT_CERT VAULT_CLIENT_KEY; do
      [ -r "${!v}" ] || { echo "$v: cannot read ${!v}" >&2; return 2; }
    done
    VMB_VAULT_CURL_OPTS+=(--cert "$VAULT_CLIENT_CERT" --key "$VAULT_CLIENT_KEY")
  fi
  # Go's strconv.ParseBool, as the vault CLI.
  case ${VAULT_SKIP_VERIFY:-} in
    "" | 0 | f | F | false | FALSE | False) ;;
    1 | t | T | true | TRUE | True)
      echo "warning: VAULT_SKIP_VERIFY is set: Vault's certificate is not checked" >&2
      VMB_VAULT_CURL_OPTS+=(--insecure) ;;
    *) echo "VAULT_SKIP_VERIFY: expected true or false, got '$VAULT_SKIP_VERIFY'" >&2; return 2 ;;
  esac
  if [ -n "${VAULT_NAMESPACE:-}" ]; then
    VMB_VAULT_CURL_OPTS+=(-H "X-Vault-Namespace: $VAULT_NAMESPACE")
  fi
  return 0
}

# vmb_vault_curl_hint RC [CURL_MESSAGE] : one line on what a failed curl
# call means for a Vault client, naming the variable to check. curl 7.88
# reports an unknown CA, an expired certificate and a name mismatch all as
# exit 60, so its message tells them apart.
vmb_vault_curl_hint() {
  local msg=${2:-}
  if [ "$1" = 60 ] || [ "$1" = 51 ]; then
    case $msg in
      *"target host name"*) echo "TLS: Vault's certificate does not name the host in VAULT_ADDR"; return ;;
      *"has expired"*) echo "TLS: Vault's certificate has expired"; return ;;
      *"not yet valid"*) echo "TLS: Vault's certificate is not valid yet (check the clocks)"; return ;;
      *"local issuer"* | *"self-signed"* | *"self signed"* | *"unable to get issuer"*)
        echo "TLS: Vault's certificate is signed by a CA that is not trusted (set VAULT_CACERT or VAULT_CAPATH)"; return ;;
    esac
  fi
  case $1 in
    6) echo "the host in VAULT_ADDR does not resolve" ;;
    7) echo "nothing accepts connections at VAULT_ADDR" ;;
    28) echo "Vault did not answer in time" ;;
    35) echo "TLS handshake failed (not TLS on that port, or a client certificate is required: VAULT_CLIENT_CERT/VAULT_CLIENT_KEY)" ;;
    51) echo "TLS: Vault's certificate does not name the host in VAULT_ADDR" ;;
    52 | 56) echo "Vault closed the connection (plain HTTP to a TLS port?)" ;;
    58) echo "TLS: the client certificate or key cannot be used (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY)" ;;
    60) echo "TLS: Vault's certificate is not trusted, or expired (set VAULT_CACERT or VAULT_CAPATH to its CA)" ;;
    77) echo "TLS: the CA file cannot be read (VAULT_CACERT, VAULT_CAPATH)" ;;
    *) echo "curl exit status $1" ;;
  esac
}
