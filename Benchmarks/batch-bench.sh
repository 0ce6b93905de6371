#!/usr/bin/env bash
# Batch import benchmark: a generated customer CSV through `crmhub batch run` (mapped to Customer by the shipped
# crm-customer-import mapping, and once more without a mapping), against Debian kcat producing the very messages the
# mapped import produced (read back from the topic: key + value), all on one local Tansu broker in one run.
#   Benchmarks/batch-bench.sh [ROWS]        (default 1000000; 200000 for a quick run)
# Environment: PARTITIONS (output topics' partitions, default 1), TIMEOUT (seconds per step, default 1200).
# Rates by wall clock and by CPU time (user + system, from /usr/bin/time), peak RSS of each process, and the broker's
# CPU time during each of the four runs (tansu_cpu=mapped/unmapped/kcat/kcat_headers): the machine has two cores, so what the
# broker takes is not there for the producer. kcat runs on the same librdkafka 2.16 as crmhub (LD_LIBRARY_PATH) with
# the same producer settings (idempotent, acks=all, linger.ms=20). kcat sends no headers; crmhub's messages carry
# seven (job, file, checksum, row, line, mapping, id). So kcat runs twice: bare (kcat=, the issue's comparison), and
# like for like (kcat_headers=) with the first mapped message's seven headers on every message: the same names and
# value sizes, static values because kcat -P cannot vary headers per message.
# Appends one line to bench-results/batch.txt.
set -euo pipefail
source "$(dirname "$0")/../deploy/lib/env.sh"
source "$(dirname "$0")/lib.sh"
cd "$CRMHUB_ROOT"
ROWS="${1:-1000000}"
PARTITIONS="${PARTITIONS:-1}"
TIMEOUT="${TIMEOUT:-1200}"
ensure_system_packages kcat time bc
ensure_swift
ensure_python_env >/dev/null
ensure_runtime_library >/dev/null

# CRMHUB_BENCH_BINARY: a crmhub binary to measure instead of building this checkout's release build.
bench_binary

DATA_DIR=.runtime/bench/batch-data
DATA="$DATA_DIR/customers-$ROWS.csv"
mkdir -p "$DATA_DIR" bench-results
if [ ! -s "$DATA" ]; then
  log "generating $ROWS customer rows into $DATA"
  python3 Benchmarks/batch_customers.py "$ROWS" "$DATA.tmp" && mv "$DATA.tmp" "$DATA"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crmhub-batch-bench.XXXXXX")
PORT=$(free_port)
BROKER="127.0.0.1:$PORT"
TANSU_PID=$(start_tansu "$PORT" "$WORK/tansu.log")
cleanup() {
  kill "$TANSU_PID" 2>/dev/null || true
  wait "$TANSU_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log "Tansu on $BROKER (pid $TANSU_PID); librdkafka $(runtime_library_path); work folder $WORK"

create_bench_topics "$BROKER" "$PARTITIONS" bench.customer bench.raw bench.dlq bench.kcat bench.kcat-headers
# count_messages TOPIC: messages on TOPIC, counted by reading them (Tansu's high watermarks can lag a moment).
count_messages() {
  timeout "$TIMEOUT" kcat -C -b "$BROKER" -t "$1" -o beginning -e -q -f 'x\n' | wc -l
}

mkdir -p "$WORK/hub/Batch" "$WORK/hub/Connectors" "$WORK/drop-mapped" "$WORK/drop-raw"
cat >"$WORK/hub/crmhub.yaml" <<EOF
kafka:
  brokers: ["$BROKER"]
  create_topics: false
mappings: $CRMHUB_ROOT/Mappings
connectors: Connectors
batch: Batch
state_dir: state
routes: []
EOF
cat >"$WORK/hub/Batch/mapped.yaml" <<EOF
name: bench-mapped
direction: inbound
drop: $WORK/drop-mapped
pattern: "customers-*.csv"
mapping: crm-customer-import
to: {customer: bench.customer}
format: {type: csv}
dead_letter_topic: bench.dlq
settle_seconds: 0
EOF
cat >"$WORK/hub/Batch/raw.yaml" <<EOF
name: bench-raw
direction: inbound
drop: $WORK/drop-raw
pattern: "customers-*.csv"
to: bench.raw
format: {type: csv}
dead_letter_topic: bench.dlq
settle_seconds: 0
EOF
cp "$DATA" "$WORK/drop-mapped/customers-bench.csv"
cp "$DATA" "$WORK/drop-raw/customers-bench.csv"

# tansu_cpu: the broker's CPU time so far (user + system, seconds), to show what share of the two cores it took.
TICKS=$(getconf CLK_TCK)
tansu_cpu() { awk -v t="$TICKS" '{printf "%.2f", ($14 + $15) / t}' "/proc/$TANSU_PID/stat"; }
# run NAME COMMAND...: runs under /usr/bin/time (wall s, user s, system s, peak RSS KiB) into $WORK/NAME.time, and
# the broker's CPU time during the run into $WORK/NAME.tansu.
run() {
  local name=$1 before status=0
  shift
  before=$(tansu_cpu)
  /usr/bin/time -o "$WORK/$name.time" -f "%e %U %S %M" timeout "$TIMEOUT" "$@" || status=$?
  echo "$(tansu_cpu) - $before" | bc >"$WORK/$name.tansu"
  return $status
}

log "crmhub batch run bench-mapped ($ROWS rows, mapping crm-customer-import)"
(cd "$WORK/hub" && run mapped "$BIN" batch run bench-mapped --config crmhub.yaml) 2>"$WORK/mapped.err" \
  || { cat "$WORK/mapped.err" >&2; exit 1; }
log "crmhub batch run bench-raw ($ROWS rows, no mapping)"
(cd "$WORK/hub" && run raw "$BIN" batch run bench-raw --config crmhub.yaml) 2>"$WORK/raw.err" \
  || { cat "$WORK/raw.err" >&2; exit 1; }
mapped_out=$(count_messages bench.customer)
raw_out=$(count_messages bench.raw)
dlq_out=$(count_messages bench.dlq)

log "reading the $mapped_out mapped messages back (key TAB value)"
timeout "$TIMEOUT" kcat -C -b "$BROKER" -t bench.customer -o beginning -e -q -f '%k\t%s\n' >"$WORK/messages.tsv"
read_back=$(wc -l <"$WORK/messages.tsv")
bytes=$(wc -c <"$WORK/messages.tsv")
log "kcat -P: the same $read_back messages ($bytes bytes of key + value) to bench.kcat"
run kcat kcat -P -b "$BROKER" -t bench.kcat -K $'\t' -X enable.idempotence=true -X acks=all -X linger.ms=20 \
  -l "$WORK/messages.tsv" 2>"$WORK/kcat.err" || { cat "$WORK/kcat.err" >&2; exit 1; }
kcat_out=$(count_messages bench.kcat)
# The first mapped message's headers, "name=value,name=value,..." (no commas in any value), as kcat -H arguments.
header_args=()
IFS=, read -r -a first_headers < <(kcat -C -b "$BROKER" -t bench.customer -o beginning -c 1 -e -q -f '%h\n')
for header in "${first_headers[@]}"; do header_args+=(-H "$header"); done
log "kcat -P with the same seven headers on each message (${#first_headers[@]} found) to bench.kcat-headers"
run kcat_headers kcat -P -b "$BROKER" -t bench.kcat-headers "${header_args[@]}" -K $'\t' -X enable.idempotence=true \
  -X acks=all -X linger.ms=20 -l "$WORK/messages.tsv" 2>"$WORK/kcat-headers.err" \
  || { cat "$WORK/kcat-headers.err" >&2; exit 1; }
kcat_headers_out=$(count_messages bench.kcat-headers)

read -r m_s m_u m_sys m_rss <"$WORK/mapped.time"
read -r r_s r_u r_sys r_rss <"$WORK/raw.time"
read -r k_s k_u k_sys k_rss <"$WORK/kcat.time"
read -r h_s h_u h_sys h_rss <"$WORK/kcat_headers.time"
per() { echo "$1 / $2" | bc -l; }
m_rate=$(per "$ROWS" "$m_s"); m_cpu=$(per "$ROWS" "($m_u + $m_sys)")
r_rate=$(per "$ROWS" "$r_s"); r_cpu=$(per "$ROWS" "($r_u + $r_sys)")
k_rate=$(per "$kcat_out" "$k_s"); k_cpu=$(per "$kcat_out" "($k_u + $k_sys)")
h_rate=$(per "$kcat_headers_out" "$h_s")
ratio=$(per "$m_rate" "$k_rate"); cpu_ratio=$(per "$m_cpu" "$k_cpu"); ratio_headers=$(per "$m_rate" "$h_rate")
commit=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
[ -n "${BENCH_COMMIT:-}" ] || [ -z "$(git status --porcelain -- Sources Package.swift 2>/dev/null)" ] || commit="$commit+dirty"
line=$(printf '%s rows=%s partitions=%s mapped=%.0f rows/s (%.2fs, cpu %.2fs, %s msgs, dlq %s) mapped_cpu=%.0f rows/s mapped_rss=%sKiB unmapped=%.0f rows/s (%.2fs, cpu %.2fs, %s msgs) unmapped_cpu=%.0f rows/s unmapped_rss=%sKiB kcat=%.0f msg/s (%.2fs, cpu %.2fs, %s msgs) kcat_cpu=%.0f msg/s kcat_rss=%sKiB ratio=%.3f cpu_ratio=%.3f kcat_headers=%.0f msg/s (%.2fs, cpu %.2fs, %s msgs) ratio_headers=%.3f tansu_cpu=%s/%s/%s/%ss commit=%s loadavg=%s host=%s' \
  "$(date -u +%FT%TZ)" "$ROWS" "$PARTITIONS" "$m_rate" "$m_s" "$(echo "$m_u + $m_sys" | bc)" "$mapped_out" "$dlq_out" "$m_cpu" "$m_rss" \
  "$r_rate" "$r_s" "$(echo "$r_u + $r_sys" | bc)" "$raw_out" "$r_cpu" "$r_rss" \
  "$k_rate" "$k_s" "$(echo "$k_u + $k_sys" | bc)" "$kcat_out" "$k_cpu" "$k_rss" "$ratio" "$cpu_ratio" \
  "$h_rate" "$h_s" "$(echo "$h_u + $h_sys" | bc)" "$kcat_headers_out" "$ratio_headers" \
  "$(cat "$WORK/mapped.tansu")" "$(cat "$WORK/raw.tansu")" "$(cat "$WORK/kcat.tansu")" "$(cat "$WORK/kcat_headers.tansu")" \
  "$commit" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" "$(hostname)")
grep -h "progress:.*done" "$WORK/mapped.err" "$WORK/raw.err" >&2 || true
echo "$line"
echo "$line" >>bench-results/batch.txt
