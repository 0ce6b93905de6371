#!/usr/bin/env bash
# Web-form ingress at a fixed rate: JSON form posts at RATE req/s for DURATION; each answer is the 202 that crmhub
# sends only after Kafka (a local Tansu broker) acknowledged the message, so the latency is post-to-ack.
# The load is open-loop with Poisson arrivals (Benchmarks/ingress_load.c, libcurl; latency counted from each post's
# scheduled time), as independent visitors of a form send it. --hey uses hey instead: its WORKERS workers start their
# rate tickers together, so it sends bursts of WORKERS posts (50 by default) every WORKERS/RATE seconds.
# crmhub runs pinned to CPU 1, the load and Tansu to CPU 0 (taskset), so the figures are about crmhub's share of the
# work. Appends a line per rate to bench-results/ingress.txt.
#   Benchmarks/ingress-bench.sh [--rate 1000] [--duration 20s] [--debug]
#   Benchmarks/ingress-bench.sh --hey [--workers 50] ... # hey's bursts (the load of lines before load= was recorded)
#   Benchmarks/ingress-bench.sh --no-pin ...             # no taskset (for comparison with earlier lines)
#   Benchmarks/ingress-bench.sh --linger 1 ...           # linger.ms of the producer the form produces through
#                                                        # (ingress.linger_ms); default: the hub's own default (2)
#   Benchmarks/ingress-bench.sh --sweep [--duration 20s]   # 1k, 2k, 4k, ... req/s until p99 passes 20 ms (at most
#                                                            # 7 rates, up to 64k/s), on one running crmhub
# CRMHUB_BENCH_BINARY=path measures a given binary instead of building the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/env.sh
RATE=1000 DURATION=20s CONFIGURATION=release SWEEP=0 PIN=1 LINGER="" LOAD=poisson WORKERS=50
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --debug) CONFIGURATION=debug; shift ;;
    --sweep) SWEEP=1; shift ;;
    --no-pin) PIN=0; shift ;;
    --linger) LINGER=$2; shift 2 ;;
    --hey) LOAD=hey; shift ;;
    --workers) WORKERS=$2; shift 2 ;;
    *) echo "usage: $0 [--rate N | --sweep] [--duration 20s] [--hey [--workers 50]] [--linger MS] [--no-pin] [--debug]" >&2; exit 2 ;;
  esac
done
# Pinning needs two CPUs; on one, everything shares it (and the line says so).
if [ "$(nproc)" -ge 2 ]; then HUB_CPU=1 LOAD_CPU=0; else HUB_CPU=0 LOAD_CPU=0; fi
[ "$PIN" = 1 ] || { HUB_CPU=all LOAD_CPU=all; }
# pinned CPU COMMAND...: runs COMMAND on CPU (or anywhere for "all").
pinned() { local cpu=$1; shift; if [ "$cpu" = all ]; then "$@"; else taskset -c "$cpu" "$@"; fi; }
ensure_runtime
command -v hey >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q hey
case "$DURATION" in
  *s) SECONDS_RUN=${DURATION%s} ;;
  *m) SECONDS_RUN=$(( ${DURATION%m} * 60 )) ;;
  *) echo "--duration: give seconds (20s) or minutes (1m)" >&2; exit 2 ;;
esac
LOADGEN=.runtime/bench/ingress_load
mkdir -p .runtime/bench
gcc -O2 -o "$LOADGEN" Benchmarks/ingress_load.c -lcurl -lm
SCRATCH=.build
[ "$CONFIGURATION" = release ] && SCRATCH=.build-release
if [ -n "${CRMHUB_BENCH_BINARY:-}" ]; then
  BIN=$CRMHUB_BENCH_BINARY
else
  swift build -c "$CONFIGURATION" --scratch-path "$SCRATCH" --product crmhub >&2
  BIN="$SCRATCH/$CONFIGURATION/crmhub"
fi

WORK=$(mktemp -d)
KAFKA_PORT=$(free_port); ADMIN_PORT=$(free_port); INGRESS_PORT=$(free_port)
TANSU_PID=$(start_tansu "$KAFKA_PORT" "$WORK/tansu.log")
[ "$LOAD_CPU" = all ] || taskset -a -p -c "$LOAD_CPU" "$TANSU_PID" >/dev/null
mkdir -p "$WORK/connectors" "$WORK/mappings"
cat > "$WORK/connectors/form.yaml" <<YAML
name: bench-form
kind: webform
path: /forms/bench
topic: raw.bench
key_field: email
required: [email]
YAML
INGRESS_LINGER=""
[ -z "$LINGER" ] || INGRESS_LINGER=", linger_ms: $LINGER"
cat > "$WORK/crmhub.yaml" <<YAML
kafka: {brokers: ["127.0.0.1:$KAFKA_PORT"], group_prefix: bench, session_timeout_ms: 2000, heartbeat_interval_ms: 500, create_topics: true, topic_partitions: 3}
http: {host: 127.0.0.1, port: $ADMIN_PORT}
ingress: {host: 127.0.0.1, port: $INGRESS_PORT$INGRESS_LINGER}
connectors: connectors
mappings: mappings
state_dir: state
log: {level: warning, format: json}
routes:
  - {name: bench-copy, from: raw.bench, to: bench.out}
YAML
# Started directly (not through the function), so $! is crmhub's own pid and the clean-up stops it.
if [ "$HUB_CPU" = all ]; then
  "$BIN" run --config "$WORK/crmhub.yaml" > "$WORK/crmhub.log" 2>&1 &
else
  taskset -c "$HUB_CPU" "$BIN" run --config "$WORK/crmhub.yaml" > "$WORK/crmhub.log" 2>&1 &
fi
HUB_PID=$!
cleanup() { kill "$HUB_PID" 2>/dev/null || true; wait "$HUB_PID" 2>/dev/null || true; kill "$TANSU_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || { cat "$WORK/crmhub.log" >&2; echo "crmhub did not become ready" >&2; exit 1; }

URL="http://127.0.0.1:$INGRESS_PORT/forms/bench"
printf '%s' '{"email":"bench@example.com","first_name":"Zoë","last_name":"Müller","message":"Please call me back about order SO-1234."}' \
  > "$WORK/body.json"
pinned "$LOAD_CPU" hey -z 3s -c 10 -q 50 -m POST -T application/json -D "$WORK/body.json" "$URL" > /dev/null   # warm-up: topic metadata, connections

# measure RATE: one load run at RATE req/s; prints and appends its line, sets P99.
# hub_cpu_ticks: crmhub's CPU time so far (user + system, in clock ticks).
hub_cpu_ticks() { awk '{print $14 + $15}' "/proc/$HUB_PID/stat"; }
# hub_peak_rss: crmhub's peak resident set so far (VmHWM), e.g. 61234kB.
hub_peak_rss() { awk '/^VmHWM/ {print $2 "kB"}' "/proc/$HUB_PID/status"; }
# ack_buckets FILE: the ingress producer's acknowledgement histogram now ("le cumulative-count" lines) into FILE.
ack_buckets() {
  curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk -F'le="' '/^crmhub_kafka_produce_latency_seconds_bucket\{producer="ingress"/ { split($2, a, "\""); n = $0; sub(/.* /, "", n); print a[1], n }' >"$1"
}
# ack_quantile BEFORE AFTER Q: the Q quantile (ms) of the acknowledgements between two ack_buckets files, read as
# Prometheus' histogram_quantile does (linear within a bucket); "-" without any.
ack_quantile() {
  join <(sort "$1") <(sort "$2") | awk -v q="$3" '$1 != "+Inf" { print $1 * 1000, $3 - $2 }' | sort -n |
    awk -v q="$3" '{ le[NR] = $1; c[NR] = $2 } END {
      total = c[NR]; if (total <= 0) { print "-"; exit }
      target = q * total; lo = 0; prev = 0
      for (i = 1; i <= NR; i++) { if (c[i] >= target) { printf "%.1f", lo + (le[i] - lo) * (target - prev) / (c[i] - prev); exit } lo = le[i]; prev = c[i] }
      printf ">%s", le[NR] }'
}
measure() {
  local rate=$1 ticks_before ticks_after rps p50 p90 codes line requests cpu_us load ack_p50 ack_p99
  ticks_before=$(hub_cpu_ticks)
  ack_buckets "$WORK/acks.before"
  if [ "$LOAD" = poisson ]; then
    load="poisson"
    pinned "$LOAD_CPU" "$LOADGEN" "$URL" "$rate" "$SECONDS_RUN" "$WORK/body.json" 256 "$rate" > "$WORK/load.txt" || true
    ticks_after=$(hub_cpu_ticks)
    cat "$WORK/load.txt" >&2
    requests=$(grep -oE '[=,]202:[0-9]+' "$WORK/load.txt" | grep -oE '[0-9]+$' || echo 0)
    rps=$(grep -oE 'achieved=[0-9.]+' "$WORK/load.txt" | cut -d= -f2)
    p50=$(grep -oE 'p50=[0-9.]+' "$WORK/load.txt" | cut -d= -f2)
    p90=$(grep -oE 'p90=[0-9.]+' "$WORK/load.txt" | cut -d= -f2)
    P99=$(grep -oE 'p99=[0-9.]+' "$WORK/load.txt" | cut -d= -f2)
    codes=$(grep -oE 'codes=[^ ]*' "$WORK/load.txt" | cut -d= -f2)
  else
    # hey: -c workers, each at -q req/s: WORKERS x RATE/WORKERS = RATE req/s, in bursts of WORKERS.
    local per_worker=$(( (rate + WORKERS - 1) / WORKERS ))
    load="hey-c$WORKERS"
    pinned "$LOAD_CPU" hey -z "$DURATION" -c "$WORKERS" -q "$per_worker" -m POST -T application/json -D "$WORK/body.json" \
      "$URL" > "$WORK/hey.txt"
    ticks_after=$(hub_cpu_ticks)
    cat "$WORK/hey.txt" >&2
    requests=$(awk '/\[202\]/ {print $2}' "$WORK/hey.txt")
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/hey.txt")
    p50=$(awk '/ 50% in/ {print $3*1000}' "$WORK/hey.txt")
    p90=$(awk '/ 90% in/ {print $3*1000}' "$WORK/hey.txt")
    P99=$(awk '/ 99% in/ {print $3*1000}' "$WORK/hey.txt")
    codes=$(awk '/Status code distribution/ {on=1; next} on && /\[/ {printf "%s%s", sep, $1 $2; sep=" "} on && !/\[/ && NF==0 {on=0}' "$WORK/hey.txt")
  fi
  # How long Kafka took to acknowledge the same posts, as the hub's producer saw it (the 202 waits for this).
  ack_buckets "$WORK/acks.after"
  ack_p50=$(ack_quantile "$WORK/acks.before" "$WORK/acks.after" 0.5)
  ack_p99=$(ack_quantile "$WORK/acks.before" "$WORK/acks.after" 0.99)
  # crmhub's CPU time per accepted request (the passthrough route that copies the topic included).
  cpu_us=$(echo "($ticks_after - $ticks_before) * 1000000 / $(getconf CLK_TCK) / ${requests:-1}" | bc)
  line=$(printf '%s target=%s/s duration=%s build=%s load=%s achieved=%.0f req/s p50=%.1fms p90=%.1fms p99=%.1fms kafka_ack_p50=%sms kafka_ack_p99=%sms codes=%s hub_cpu_per_request=%sus hub_peak_rss=%s pinned=hub:cpu%s,load+tansu:cpu%s sweep=%s ingress_linger_ms=%s commit=%s loadavg=%s host=%s' \
    "$(date -u +%FT%TZ)" "$rate" "$DURATION" "$CONFIGURATION" "$load" "$rps" "$p50" "$p90" "$P99" "$ack_p50" "$ack_p99" "$codes" "$cpu_us" "$(hub_peak_rss)" "$HUB_CPU" "$LOAD_CPU" "$SWEEP" "${LINGER:-2}" \
    "${BENCH_COMMIT:-$(git rev-parse --short HEAD)}" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" "$(hostname)")
  echo "$line"
  mkdir -p bench-results && echo "$line" >> bench-results/ingress.txt
}

if [ "$SWEEP" = 1 ]; then
  rate=1000
  for _ in $(seq 1 7); do
    measure "$rate"
    # Stop once p99 passed 20 ms: the last rate under it is the top rate at p99 <= 20 ms.
    awk -v p="$P99" 'BEGIN { exit !(p > 20) }' && break
    rate=$(( rate * 2 ))
  done
else
  measure "$RATE"
fi
