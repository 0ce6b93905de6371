#!/usr/bin/env bash
# Callgrind profile of `crmhub batch run` importing a generated customer CSV (Benchmarks/batch_customers.py) into a
# local Tansu broker, mapped (crm-customer-import) or not. valgrind 3.19 cannot read the toolchain's DWARF 5, so the
# release binary is profiled from a copy without debug sections. Prints the top entries (exclusive, demangled).
#   Benchmarks/batch-profile.sh [ROWS] [mapped|raw] [OUT]     (default 20000 mapped cg.batch)
set -euo pipefail
source "$(dirname "$0")/../deploy/lib/env.sh"
source "$(dirname "$0")/lib.sh"
cd "$CRMHUB_ROOT"
ROWS="${1:-20000}"
KIND="${2:-mapped}"
OUT="${3:-cg.batch}"
ensure_swift
ensure_python_env >/dev/null
ensure_runtime_library >/dev/null
# CRMHUB_BENCH_BINARY: a crmhub binary to measure instead of building this checkout's release build.
bench_binary
DATA=.runtime/bench/batch-data/customers-$ROWS.csv
mkdir -p .runtime/bench/batch-data
[ -s "$DATA" ] || python3 Benchmarks/batch_customers.py "$ROWS" "$DATA"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crmhub-batch-profile.XXXXXX")
cp "$BIN" "$WORK/crmhub" && objcopy --strip-debug "$WORK/crmhub"
PORT=$(free_port)
TANSU_PID=$(start_tansu "$PORT" "$WORK/tansu.log")
trap 'kill "$TANSU_PID" 2>/dev/null || true; wait "$TANSU_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
create_bench_topics "127.0.0.1:$PORT" 1 bench.out bench.dlq
mkdir -p "$WORK/hub/Batch" "$WORK/hub/Connectors" "$WORK/drop"
cat >"$WORK/hub/crmhub.yaml" <<EOF
kafka: {brokers: ["127.0.0.1:$PORT"], create_topics: false}
mappings: $CRMHUB_ROOT/Mappings
connectors: Connectors
batch: Batch
state_dir: state
routes: []
EOF
if [ "$KIND" = mapped ]; then
  printf 'mapping: crm-customer-import\nto: {customer: bench.out}\n' >"$WORK/hub/Batch/job.yaml"
else
  printf 'to: bench.out\n' >"$WORK/hub/Batch/job.yaml"
fi
cat >>"$WORK/hub/Batch/job.yaml" <<EOF
name: profile
direction: inbound
drop: $WORK/drop
pattern: "*.csv"
format: {type: csv}
dead_letter_topic: bench.dlq
settle_seconds: 0
EOF
cp "$DATA" "$WORK/drop/customers.csv"
(cd "$WORK/hub" && timeout 1800 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
  "$WORK/crmhub" batch run profile --config crmhub.yaml) 2>"$WORK/valgrind.err" || { tail -20 "$WORK/valgrind.err" >&2; exit 1; }
cp "$WORK/cg.out" "$OUT"
grep -E "progress.*done|Collected" "$WORK/valgrind.err" >&2 || true
callgrind_annotate "$OUT" 2>/dev/null | swift demangle --simplified | head -60
