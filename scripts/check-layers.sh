#!/usr/bin/env bash
# Fails when the core's layering is broken (issue 18, docs/architecture.md).
#
# The core lives in core/src/<layer>/, one folder per layer. A file may use
# its own layer and the layers below it, never one above: lower layers
# never call up, so the drawing has no loops. This script checks
#   1. every core source sits in a known layer folder;
#   2. every #include "..." in core/src, core/include, fcgi-app and
#      stdio-app resolves to a header whose layer is not above the
#      includer's (private header names are unique across layers);
#   3. the transports (fcgi-app, stdio-app) include only public headers
#      (vmb/*.h) and their own;
#   4. given the built archive (libvmb_core.a), no object refers to a
#      symbol defined in a higher layer: this also catches a function
#      declared by hand instead of through a header;
#   5. in that archive, the gate is where the drawing puts it: the
#      request walk and the shared dispatch are defined in gate/, and the
#      HTTP entry (entry/) only hands each request to it.
#
# Usage: check-layers.sh [ROOT] [path/to/libvmb_core.a]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
archive=${2:-}
cd "$root"

# Bottom to top; keep in step with VMB_CORE_LAYERS in core/CMakeLists.txt.
layers=(base config obs upstream auth gate backends mcp api entry)
# Public headers (core/include/vmb) and the layer that implements each.
declare -A public=(
  [vmb/arena.h]=base [vmb/buf.h]=base [vmb/error.h]=base [vmb/log.h]=base
  [vmb/request.h]=base [vmb/version.h]=base [vmb/config.h]=config
  [vmb/worker.h]=upstream [vmb/mcp.h]=mcp [vmb/core.h]=entry
)
# Functions that must be defined in a given layer (check 5): the gate's
# REST walk and the dispatch REST and MCP share, and the entry point
# that hands requests to them. Checked when the archive is the core's
# (it defines vmb_core_handle).
declare -A placed=(
  [vmb_gate_http]=gate [vmb_gate_run]=gate [vmb_core_handle]=entry
)

declare -A rank=()
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done

fail=0
problem() { echo "layers: $*"; fail=1; }

# Private headers: name -> layer (names must be unique).
declare -A header=()
for f in core/src/*/*.h; do
  [ -e "$f" ] || continue
  layer=$(basename "$(dirname "$f")")
  name=$(basename "$f")
  if [ -n "${header[$name]:-}" ]; then
    problem "$f: header name also used in ${header[$name]}/ (names must be unique)"
  fi
  header[$name]=$layer
done

for f in core/src/* core/src/*/*; do
  [ -e "$f" ] || continue
  case "$f" in
    core/src/*/*)
      layer=$(basename "$(dirname "$f")")
      [ -n "${rank[$layer]:-}" ] || problem "$f: folder '$layer' is not a known layer" ;;
    *) [ -d "$f" ] || problem "$f: core sources belong in a layer folder" ;;
  esac
done
for f in core/include/vmb/*.h; do
  [ -e "$f" ] || continue
  [ -n "${public[vmb/$(basename "$f")]:-}" ] ||
    problem "$f: public header not assigned to a layer in scripts/check-layers.sh"
done

# layer_of FILE -> the layer of a core file (public headers included).
layer_of() {
  case "$1" in
    core/include/vmb/*) echo "${public[vmb/$(basename "$1")]:-}" ;;
    core/src/*/*) basename "$(dirname "$1")" ;;
  esac
}

check_includes() {       # FILE OWN_RANK TRANSPORT(0/1)
  local f=$1 own=$2 transport=$3 line inc target tl
  while IFS= read -r line; do
    inc=${line#*\"}; inc=${inc%%\"*}
    if [[ $inc == vmb/* ]]; then
      tl=${public[$inc]:-}
      [ -n "$tl" ] || { problem "$f: includes unknown public header $inc"; continue; }
    elif [ "$transport" = 1 ]; then
      [ -e "$(dirname "$f")/$inc" ] ||
        problem "$f: a transport includes the private core header \"$inc\""
      continue
    else
      tl=${header[$inc]:-}
      [ -n "$tl" ] || { problem "$f: includes \"$inc\", which is no core header"; continue; }
    fi
    if [ "${rank[$tl]}" -gt "$own" ]; then
      problem "$f: includes \"$inc\" from layer $tl, above $(layer_of "$f" || true)"
    fi
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
}

n=0
for f in core/src/*/*.[ch] core/include/vmb/*.h; do
  [ -e "$f" ] || continue
  l=$(layer_of "$f")
  [ -n "$l" ] && [ -n "${rank[$l]:-}" ] || continue
  check_includes "$f" "${rank[$l]}" 0
  n=$((n + 1))
done
top=$(( ${#layers[@]} - 1 ))
for f in fcgi-app/*.[ch] stdio-app/*.[ch]; do
  [ -e "$f" ] || continue
  check_includes "$f" "$top" 1
  n=$((n + 1))
done

if [ -n "$archive" ]; then
  [ -r "$archive" ] || { echo "layers: cannot read $archive"; exit 2; }
  # member object name -> layer, from the source tree (x.c -> x.c.o).
  declare -A objlayer=()
  for f in core/src/*/*.c; do
    objlayer[$(basename "$f").o]=$(basename "$(dirname "$f")")
  done
  # nm -A: "archive:member: [addr] TYPE name".
  declare -A defined_in=()
  while read -r member sym; do
    defined_in[$sym]=${objlayer[$member]:-}
  done < <(nm -A --defined-only --extern-only "$archive" 2>/dev/null |
           awk '{split($1, p, ":"); print p[2], $NF}')
  while read -r member sym; do
    own=${objlayer[$member]:-}
    tl=${defined_in[$sym]:-}
    [ -n "$own" ] && [ -n "$tl" ] || continue
    if [ "${rank[$tl]}" -gt "${rank[$own]}" ]; then
      problem "$member ($own) uses $sym, defined in layer $tl"
    fi
  done < <(nm -A --undefined-only "$archive" 2>/dev/null |
           awk '{split($1, p, ":"); print p[2], $NF}')
  if [ -n "${defined_in[vmb_core_handle]+set}" ]; then
    for sym in "${!placed[@]}"; do
      if [ -z "${defined_in[$sym]+set}" ]; then
        problem "$sym is not defined in the archive (expected in ${placed[$sym]}/)"
      elif [ "${defined_in[$sym]}" != "${placed[$sym]}" ]; then
        problem "$sym is defined in ${defined_in[$sym]:-?}/, expected in ${placed[$sym]}/"
      fi
    done
  fi
fi

if [ "$fail" != 0 ]; then
  echo "layers: order (bottom to top): ${layers[*]}"
  exit 1
fi
echo "layers: $n files include only their own layer or lower${archive:+; symbols agree}"
