#!/usr/bin/env bash
# Mapped route vs passthrough route: the same generated JSON customers (Benchmarks/batch_customers.py --jsonl) on one
# input topic, read by a `crmhub run` with one passthrough route, then by a `crmhub run` with one
# crm-customer-import route (each alone, each from the beginning with its own group), on one local Tansu broker.
# The rate comes from the route's own counters on /metrics (crmhub_route_messages_out_total, acknowledged output):
# (last - first sample) / time between them, sampled every 0.2 s from the first message to the last.
#   Benchmarks/mapped-route-bench.sh [RECORDS]      (default 200000)
# Environment: PARTITIONS (default 3), TIMEOUT (seconds per route, default 900).
# Appends one line to bench-results/mapped-route.txt, with CPU time (user + system) and peak RSS of each process.
set -euo pipefail
source "$(dirname "$0")/../deploy/lib/env.sh"
source "$(dirname "$0")/lib.sh"
cd "$CRMHUB_ROOT"
RECORDS="${1:-200000}"
PARTITIONS="${PARTITIONS:-3}"
TIMEOUT="${TIMEOUT:-900}"
# MAX_IN_FLIGHT=N sets both routes' max_in_flight (the default is the hub's).
IN_FLIGHT=${MAX_IN_FLIGHT:+, max_in_flight: $MAX_IN_FLIGHT}
ensure_system_packages kcat bc curl
ensure_swift
ensure_python_env >/dev/null
ensure_runtime_library >/dev/null
# CRMHUB_BENCH_BINARY: a crmhub binary to measure instead of building this checkout's release build.
bench_binary
DATA=.runtime/bench/batch-data/customers-$RECORDS.jsonl
mkdir -p .runtime/bench/batch-data bench-results
[ -s "$DATA" ] || python3 Benchmarks/batch_customers.py --jsonl "$RECORDS" "$DATA"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/crmhub-mapped-route-bench.XXXXXX")
PORT=$(free_port)
BROKER="127.0.0.1:$PORT"
TANSU_PID=$(start_tansu "$PORT" "$WORK/tansu.log")
HUB_PID=""
cleanup() {
  [ -z "$HUB_PID" ] || kill "$HUB_PID" 2>/dev/null || true
  kill "$TANSU_PID" 2>/dev/null || true
  wait "$TANSU_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log "Tansu on $BROKER (pid $TANSU_PID)"
create_bench_topics "$BROKER" "$PARTITIONS" bench.in bench.pass bench.mapped bench.dlq
log "preloading $RECORDS customers into bench.in"
timeout "$TIMEOUT" kcat -P -b "$BROKER" -t bench.in -X linger.ms=20 -l "$DATA"

# tansu_ticks: the broker's CPU time so far in clock ticks (user + system).
tansu_ticks() { awk '{ print $14 + $15 }' "/proc/$TANSU_PID/stat"; }
# route NAME ROUTE_YAML: runs crmhub with that one route until its output counter reaches RECORDS; writes
# "rate cpu_seconds peak_rss_kib broker_cpu_seconds" to $WORK/NAME.result (CPU time and VmHWM read from /proc just
# before SIGTERM; the broker's CPU time over the same span: the two share the machine's two cores).
route() {
  local name=$1 yaml=$2 http tansu_before
  tansu_before=$(tansu_ticks)
  http=$(free_port)
  mkdir -p "$WORK/$name/Connectors"
  cat >"$WORK/$name/crmhub.yaml" <<EOF
kafka:
  brokers: ["$BROKER"]
  client_id: bench-$name
  group_prefix: bench-$name
  create_topics: false
  session_timeout_ms: 6000
  heartbeat_interval_ms: 1000
http: {host: 127.0.0.1, port: $http}
mappings: $CRMHUB_ROOT/Mappings
connectors: Connectors
state_dir: state
log: {level: warning, format: text}
routes:
  - $yaml
EOF
  (cd "$WORK/$name" && exec "$BIN" run --config crmhub.yaml) 2>"$WORK/$name.err" &
  HUB_PID=$!
  local first_t="" first_n=0 t n=0 deadline=$((SECONDS + TIMEOUT))
  while [ "$n" -lt "$RECORDS" ]; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$HUB_PID" 2>/dev/null; then
      log "$name: stopped at $n of $RECORDS"
      tail "$WORK/$name.err" >&2
      exit 1
    fi
    sleep 0.2
    t=$(date +%s.%N)
    n=$(curl -sf "http://127.0.0.1:$http/metrics" |
      awk -v r="$name" '$1 ~ /^crmhub_route_messages_out_total\{/ && $1 ~ ("route=\"" r "\"") { s += $2 } END { printf "%d", s }') || n=0
    if [ -z "$first_t" ] && [ "$n" -gt 0 ]; then first_t=$t; first_n=$n; fi
  done
  local ticks rss tansu
  ticks=$(awk '{ print $14 + $15 }' "/proc/$HUB_PID/stat")
  # CPU seconds by thread name (the route's tasks run on the cooperative pool, librdkafka on its own threads).
  for task in /proc/"$HUB_PID"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$task/comm")" "$(awk '{ print $14 + $15 }' "$task/stat")"
  done | awk -v hz="$(getconf CLK_TCK)" '{ cpu[$1] += $2 } END { for (t in cpu) if (cpu[t] > 0) printf "%s=%.2fs ", t, cpu[t] / hz }' \
    >"$WORK/$name.threads"
  log "$name threads: $(cat "$WORK/$name.threads")"
  tansu=$(($(tansu_ticks) - tansu_before))
  rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$HUB_PID/status")
  kill -TERM "$HUB_PID"
  wait "$HUB_PID" 2>/dev/null || true
  HUB_PID=""
  echo "$(echo "($n - $first_n) / ($t - $first_t)" | bc -l) $(echo "$ticks / $(getconf CLK_TCK)" | bc -l) $rss" \
    "$(echo "$tansu / $(getconf CLK_TCK)" | bc -l)" >"$WORK/$name.result"
}

log "passthrough route"
route pass "{name: pass, from: bench.in, to: bench.pass, dead_letter_topic: bench.dlq}"
read -r pass_rate pass_cpu pass_rss pass_tansu <"$WORK/pass.result"
log "passthrough: $pass_rate rec/s"
log "mapped route (crm-customer-import)"
route mapped \
  "{name: mapped, from: bench.in, mapping: crm-customer-import, to: {customer: bench.mapped}, dead_letter_topic: bench.dlq$IN_FLIGHT}"
read -r map_rate map_cpu map_rss map_tansu <"$WORK/mapped.result"
log "mapped: $map_rate rec/s"
commit=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
[ -n "${BENCH_COMMIT:-}" ] || [ -z "$(git status --porcelain -- Sources Package.swift 2>/dev/null)" ] || commit="$commit+dirty"
line=$(printf '%s records=%s partitions=%s mapped=%.0f rec/s mapped_cpu=%.2fs mapped_rss=%sKiB passthrough=%.0f rec/s passthrough_cpu=%.2fs passthrough_rss=%sKiB ratio=%.3f tansu_cpu=%.2f/%.2fs max_in_flight=%s mapped_threads="%s" commit=%s loadavg=%s host=%s' \
  "$(date -u +%FT%TZ)" "$RECORDS" "$PARTITIONS" "$map_rate" "$map_cpu" "$map_rss" "$pass_rate" "$pass_cpu" "$pass_rss" \
  "$(echo "$map_rate / $pass_rate" | bc -l)" "$map_tansu" "$pass_tansu" "${MAX_IN_FLIGHT:-default}" \
  "$(sed 's/ *$//' "$WORK/mapped.threads")" "$commit" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" "$(hostname)")
echo "$line"
echo "$line" >>bench-results/mapped-route.txt
