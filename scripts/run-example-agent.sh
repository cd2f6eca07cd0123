#!/usr/bin/env bash
# scripts/run-example-agent.sh [--no-llm] [--jwt TOKEN | --mtls] [-- AGENT ARGS...]
#
# Runs an example agent against a running stack with the credentials of
# $DEV_DIR/stack.env (<repo>/.dev/stack.env, written by scripts/dev.sh up)
# or of the environment (BRIDGE_URL, DEMO_API_KEY):
#
#   (default)   examples/llm_agent.py: plans with a language model through
#               an OpenAI-compatible endpoint, OPENAI_BASE_URL, OPENAI_MODEL
#               and OPENAI_API_KEY from the environment (see the script)
#   --no-llm    examples/direct_agent.py: the same calls in plain code
#   --jwt TOKEN authenticate with this bearer token instead of DEMO_API_KEY
#               (--jwt demo: the stack's DEMO_JWT)
#   --mtls      authenticate with a client certificate: MTLS_CLIENT_CERT,
#               MTLS_CLIENT_KEY, MTLS_CA_CERT against MTLS_URL (https://).
#               The dev stack has no TLS front: without these it says so
#               and exits 2.
# Arguments after -- go to the agent (e.g. the LLM agent's task).
# Exit: the agent's status; 2 when it cannot run here; 64 usage.
# "A && B || die" below: B is a test, never an action that can fail.
# shellcheck disable=SC2015
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,/^# Exit:/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "run-example-agent.sh: $*" >&2; exit 2; }

llm=1 jwt="" mtls=0
declare -a rest=()
while [ $# -gt 0 ]; do
  case $1 in
    --no-llm) llm=0 ;;
    --jwt) [ $# -ge 2 ] && [ -n "$2" ] || { echo "--jwt needs a token" >&2; exit 64; }
           jwt=$2; shift ;;
    --mtls) mtls=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; rest=("$@"); break ;;
    *) echo "run-example-agent.sh: unknown option $1" >&2; usage >&2; exit 64 ;;
  esac
  shift
done
[ -n "$jwt" ] && [ $mtls = 1 ] && { echo "give --jwt or --mtls, not both" >&2; exit 64; }

# The stack's settings, unless the environment already names a bridge.
if [ -z "${BRIDGE_URL:-}" ]; then
  envfile=${DEV_DIR:-$root/.dev}/stack.env
  [ -r "$envfile" ] || die "no $envfile: start the stack (scripts/dev.sh up) or set BRIDGE_URL"
  # shellcheck disable=SC1090
  . "$envfile"
fi
[ "$jwt" = demo ] && { jwt=${DEMO_JWT:-}; [ -n "$jwt" ] || die "--jwt demo: no DEMO_JWT in the stack's settings"; }

agent=$root/examples/llm_agent.py
[ $llm = 0 ] && agent=$root/examples/direct_agent.py
if [ $llm = 1 ]; then
  [ -n "${OPENAI_BASE_URL:-}" ] && [ -n "${OPENAI_MODEL:-}" ] ||
    die "the LLM agent needs OPENAI_BASE_URL and OPENAI_MODEL (and OPENAI_API_KEY); or use --no-llm"
fi

declare -a cred=()
if [ $mtls = 1 ]; then
  [ -n "${MTLS_CLIENT_CERT:-}" ] && [ -n "${MTLS_CLIENT_KEY:-}" ] && [ -n "${MTLS_URL:-}" ] ||
    die "--mtls needs MTLS_URL (https://), MTLS_CLIENT_CERT, MTLS_CLIENT_KEY (and MTLS_CA_CERT); \
the dev stack (scripts/dev.sh) is plain HTTP and has no mTLS front"
  cred=(--url "$MTLS_URL" --cert "$MTLS_CLIENT_CERT" --key "$MTLS_CLIENT_KEY")
  [ -n "${MTLS_CA_CERT:-}" ] && cred+=(--cacert "$MTLS_CA_CERT")
elif [ -n "$jwt" ]; then
  cred=(--url "$BRIDGE_URL" --jwt "$jwt")
else
  [ -n "${DEMO_API_KEY:-}" ] || die "no DEMO_API_KEY (or pass --jwt TOKEN / --mtls)"
  cred=(--url "$BRIDGE_URL" --api-key "$DEMO_API_KEY")
fi
exec python3 "$agent" "${cred[@]}" "${rest[@]}"
