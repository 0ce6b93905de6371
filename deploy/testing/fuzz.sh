#!/usr/bin/env bash
# Fuzzes every input surface with libFuzzer (docs/fuzzing.md): builds Sources/crmhub-fuzz with
# `-sanitize=fuzzer,address` in its own scratch folder (.build-fuzz), then runs each surface for a bounded time on its
# checked-in seed corpus (Tests/Fuzz/corpus/<surface>). Fails when any surface crashes, hangs (-timeout) or runs out
# of memory; the input that did it is kept under the run folder's <surface>/crashes/.
#
#   deploy/testing/fuzz.sh [--seconds N] [--surfaces "form ami ..."] [--output FILE] [--update-corpus]
#
# --seconds N        time per surface (default 30)
# --surfaces LIST    the surfaces to run (default: all)
# --output FILE      also write the summary table there
# --update-corpus    merge what the run found into Tests/Fuzz/corpus (libFuzzer -merge=1 keeps only inputs that add
#                    coverage), to commit
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SECONDS_EACH=30
SURFACES="form webhook mail csv evapi ami yaml mapping-compile mapping-apply"
OUTPUT=""
UPDATE_CORPUS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --surfaces) SURFACES=$2; shift 2 ;;
    --output) OUTPUT=$2; shift 2 ;;
    --update-corpus) UPDATE_CORPUS=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

SCRATCH="$ROOT/.build-fuzz"
build_started=$(date +%s)
mkdir -p "$SCRATCH"
# gold warns once per ASan symbol it cannot export; those lines are left out of what is shown.
if ! swift build -c debug --scratch-path "$SCRATCH" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  --product crmhub-fuzz >"$SCRATCH/build.log" 2>&1; then
  grep -v "Cannot export local symbol" "$SCRATCH/build.log" | tail -40 >&2
  echo "fuzz: the build failed" >&2
  exit 1
fi
grep -v "Cannot export local symbol" "$SCRATCH/build.log" | tail -2
BIN="$SCRATCH/debug/crmhub-fuzz"
build_seconds=$(( $(date +%s) - build_started ))

# Leaks are checked, except the standard library's own (Tests/Fuzz/lsan-suppressions.txt).
export LSAN_OPTIONS="suppressions=$ROOT/Tests/Fuzz/lsan-suppressions.txt:print_suppressions=0"
RUN="$SCRATCH/runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN"
summary="$RUN/summary.txt"
printf '%-16s %10s %8s %8s %6s  %s\n' surface executions exec/s corpus seconds result >"$summary"
failed=0
for surface in $SURFACES; do
  seeds="$ROOT/Tests/Fuzz/corpus/$surface"
  [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; exit 2; }
  mkdir -p "$RUN/$surface/corpus" "$RUN/$surface/crashes"
  started=$(date +%s)
  result=ok
  # The first folder receives what the run finds; the seeds are only read.
  if ! CRMHUB_FUZZ_SURFACE=$surface "$BIN" -max_total_time="$SECONDS_EACH" -timeout=5 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$RUN/$surface/crashes/" \
      "$RUN/$surface/corpus" "$seeds" >"$RUN/$surface/log.txt" 2>&1; then
    result="FAILED: $(ls "$RUN/$surface/crashes" | head -1) (log: $RUN/$surface/log.txt)"
    failed=1
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$RUN/$surface/log.txt" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$RUN/$surface/log.txt" | tail -1)
  corpus=$(( $(ls "$RUN/$surface/corpus" | wc -l) + $(ls "$seeds" | wc -l) ))
  printf '%-16s %10s %8s %8s %6s  %s\n' "$surface" "${executions:-?}" "${speed:-?}" "$corpus" \
    "$(( $(date +%s) - started ))" "$result" >>"$summary"
  if [ "$UPDATE_CORPUS" = 1 ] && [ "$result" = ok ]; then
    CRMHUB_FUZZ_SURFACE=$surface "$BIN" -merge=1 -timeout=5 -rss_limit_mb=2048 "$seeds" "$RUN/$surface/corpus" \
      >"$RUN/$surface/merge.txt" 2>&1
  fi
done
echo "build: ${build_seconds}s" >>"$summary"
cat "$summary"
[ -z "$OUTPUT" ] || cp "$summary" "$OUTPUT"
exit $failed
