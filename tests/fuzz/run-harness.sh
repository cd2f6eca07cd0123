#!/usr/bin/env bash
# run-harness.sh BIN SRCDIR NAME WORKDIR SECONDS|replay
#   SECONDS: fuzz for that long from the seed corpus (corpus/NAME) with the
#            dictionary (dict/NAME.dict, when present); new inputs go to a
#            scratch corpus in WORKDIR, never into the repository.
#   replay:  run every file of regressions/NAME once (each must pass).
# A crash, leak, timeout or sanitizer report makes libFuzzer exit non-zero,
# and the test fails; the reproducer is left in WORKDIR/artifacts.
set -euo pipefail
bin=$1 src=$2 name=$3 work=$4 budget=$5
bin=$(realpath "$bin"); src=$(realpath "$src")
[ -x "$bin" ] || { echo "missing harness $bin (build first)" >&2; exit 1; }
mkdir -p "$work/$name" "$work/artifacts"
cd "$work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The harness's scratch LOG_DIR/RUN_DIR (tests/fuzz/common.c) and any
# temporary file of libFuzzer go under a TMPDIR this script owns. The
# harness removes its directory when libFuzzer ends with exit(); a crash,
# timeout or leak ends it with _Exit or a signal, so this script removes
# the whole TMPDIR after a pass and keeps it (naming it) after a failure.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmb-fuzz-run-$name.XXXXXX")
export TMPDIR=$scratch
finish() {
  local rc=$?
  if [ "$rc" -eq 0 ] && [ "${VMB_KEEP_TMP:-0}" != 1 ]; then
    rm -rf "$scratch"
  else
    echo "run-harness.sh: kept $scratch (exit $rc)" >&2
  fi
  exit "$rc"
}
trap finish EXIT
if [ "$budget" = replay ]; then
  shopt -s nullglob
  files=("$src/regressions/$name"/*)
  [ ${#files[@]} -gt 0 ] || { echo "no regression inputs in $src/regressions/$name" >&2; exit 1; }
  "$bin" -runs=1 "${files[@]}"
  exit
fi
args=(-max_total_time="$budget" -timeout=20 -rss_limit_mb=2560 -max_len=65536
      -print_final_stats=1 -artifact_prefix="$work/artifacts/$name-")
[ -f "$src/dict/$name.dict" ] && args+=(-dict="$src/dict/$name.dict")
"$bin" "${args[@]}" "$work/$name" "$src/corpus/$name"
