#!/usr/bin/env bash
# Route benchmark: a crmhub route (consume -> transform -> produce -> commit after ack) against a plain librdkafka
# consume->produce loop in C (Benchmarks/plain_loop.c), 1 KiB messages, same Tansu broker, in one run.
# Usage: bash Benchmarks/route-bench.sh [--messages N] [--rounds R] [--partitions P]
# Results are printed and appended to bench-results/route.txt (one line per run).
# CRMHUB_BENCH_TOOL=path runs a given crmhub-bench binary instead of building this checkout's release build.
# BENCH_COMMIT=label names the binary in the result line (default: this checkout's commit).
set -euo pipefail
source "$(dirname "$0")/../deploy/lib/env.sh"
cd "$CRMHUB_ROOT"
ensure_runtime

if [ -n "${CRMHUB_BENCH_TOOL:-}" ]; then
  BENCH=$(readlink -f "$CRMHUB_BENCH_TOOL")
else
  log "building crmhub-bench (release)"
  swift build -c release --product crmhub-bench
  BENCH=$(swift build -c release --show-bin-path)/crmhub-bench
fi
mkdir -p .runtime/bench bench-results
gcc -O2 -o .runtime/bench/plain_loop Benchmarks/plain_loop.c $(pkg-config --cflags --libs rdkafka)

PORT=$(free_port)
TANSU_PID=$(start_tansu "$PORT" .runtime/bench/tansu.log)
trap 'kill "$TANSU_PID" 2>/dev/null || true; wait "$TANSU_PID" 2>/dev/null || true' EXIT
log "Tansu on 127.0.0.1:$PORT (pid $TANSU_PID); librdkafka runtime $(readlink -f "$CRMHUB_RUNTIME/lib/librdkafka.so.1")"
"$BENCH" route --bootstrap "127.0.0.1:$PORT" --plain-loop .runtime/bench/plain_loop \
  --output bench-results/route.txt --note "commit=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}" "$@"
