#!/usr/bin/env bash
# bench/fuzz.sh [harness...] - the long fuzzing campaign (issue 13).
#
# Runs each libFuzzer harness of tests/fuzz (default: all) from its seed
# corpus with its dictionary until it has executed FUZZ_RUNS inputs or
# spent FUZZ_SECONDS, whichever comes first, and prints one line per
# harness: executions, seconds, exec/s, edge coverage ("cov"), features
# ("ft"), corpus size and the verdict. A crash, leak, timeout or sanitizer
# report fails the harness; its reproducer is kept under
# $FUZZ_WORK/artifacts and belongs in tests/fuzz/regressions/<name>/.
# The grown corpus stays in $FUZZ_WORK/<name> (not in the repository).
#
# Environment: FUZZ_RUNS (10000000), FUZZ_SECONDS (3600 per harness),
#   FUZZ_BUILD (build; the plain build that holds tests/fuzz/project/bin),
#   FUZZ_BIN (a directory of already built fuzz_* binaries, e.g. a copy
#   kept from one commit so a campaign is not rebuilt under it while the
#   tree changes; set, nothing is built),
#   FUZZ_WORK ($FUZZ_BUILD/fuzz-campaign), FUZZ_OUT (a TSV copy of the
#   table, default $FUZZ_WORK/results.tsv), FUZZ_JOBS (1; parallel
#   harnesses - the machine has 2 cores that other work shares).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${FUZZ_RUNS:-10000000}
secs=${FUZZ_SECONDS:-3600}
build=${FUZZ_BUILD:-build}
work=${FUZZ_WORK:-$build/fuzz-campaign}
out=${FUZZ_OUT:-$work/results.tsv}
jobs=${FUZZ_JOBS:-1}
bindir=${FUZZ_BIN:-$build/tests/fuzz/project/bin}
if [ -z "${FUZZ_BIN:-}" ]; then
  if [ ! -d "$bindir" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" --target vmb_fuzzers -j2 >/dev/null
fi
bindir=$(realpath "$bindir")
mkdir -p "$work/artifacts"
work=$(realpath "$work")
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do n=${f##*/fuzz_}; names+=("${n%.c}"); done
fi

run_one() {
  local n=$1 log="$work/$1.log" args start end rc
  mkdir -p "$work/$n"
  args=(-runs="$runs" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/$n-")
  [ -f "tests/fuzz/dict/$n.dict" ] && args+=(-dict="tests/fuzz/dict/$n.dict")
  start=$(date +%s)
  rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
    "$bindir/fuzz_$n" "${args[@]}" "$work/$n" "tests/fuzz/corpus/$n" >"$log" 2>&1 || rc=$?
  end=$(date +%s)
  local execs cov ft corp
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  local secs_used=$((end - start)); [ "$secs_used" -gt 0 ] || secs_used=1
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${execs:-0}" "$secs_used" \
    "$(( ${execs:-0} / secs_used ))" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$([ $rc -eq 0 ] && echo ok || echo "FAILED rc=$rc (see $log)")" >>"$out"
}

printf 'harness\texecutions\tseconds\texec_per_s\tcov\tft\tcorpus\tverdict\n' >"$out"
active=0
for n in "${names[@]}"; do
  run_one "$n" &
  active=$((active + 1))
  if [ "$active" -ge "$jobs" ]; then wait -n || true; active=$((active - 1)); fi
done
wait || true
column -t -s $'\t' "$out"
! grep -q FAILED "$out"
