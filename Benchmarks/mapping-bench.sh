#!/usr/bin/env bash
# Mapping throughput: the crm-customer-import mapping in crmhub (release build, one core) vs the same
# transformation in jq (Benchmarks/mapping.jq) on the same generated JSON lines. Appends to bench-results/mapping.txt.
#   Benchmarks/mapping-bench.sh [COUNT]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-1000000}"
SCRATCH="${SCRATCH:-.build-mapping}"
export PATH=/opt/swift/usr/bin:$PATH
command -v jq >/dev/null || { echo "jq is required (apt-get install -y jq)" >&2; exit 1; }
swift build -c release --scratch-path "$SCRATCH" --product crmhub-bench-mapping >&2
BIN="$SCRATCH/release/crmhub-bench-mapping"
DATA="${TMPDIR:-/tmp}/crmhub-mapping-bench-$COUNT.jsonl"
[ -s "$DATA" ] || "$BIN" generate "$COUNT" "$DATA"
now() { date +%s.%N; }

t0=$(now); taskset -c 0 "$BIN" run Mappings crm-customer-import "$DATA" > /tmp/crmhub-bench-out.jsonl 2>/tmp/crmhub-bench-err.txt; t1=$(now)
crm_s=$(echo "$t1 - $t0" | bc -l)
crm_out=$(wc -l < /tmp/crmhub-bench-out.jsonl)
t0=$(now); taskset -c 0 jq -c -f Benchmarks/mapping.jq "$DATA" > /tmp/jq-bench-out.jsonl; t1=$(now)
jq_s=$(echo "$t1 - $t0" | bc -l)
jq_out=$(wc -l < /tmp/jq-bench-out.jsonl)

crm_rps=$(echo "$COUNT / $crm_s" | bc -l); jq_rps=$(echo "$COUNT / $jq_s" | bc -l)
ratio=$(echo "$crm_rps / $jq_rps" | bc -l)
same=$(cmp -s <(head -20000 /tmp/crmhub-bench-out.jsonl | jq -S -c .) <(head -20000 /tmp/jq-bench-out.jsonl | jq -S -c .) && echo yes || echo no)
line=$(printf '%s count=%s crmhub=%.0f rec/s (%.2fs, %s out) jq=%.0f rec/s (%.2fs, %s out) ratio=%.1fx first20000-identical=%s jq=%s host=%s' \
  "$(date -u +%FT%TZ)" "$COUNT" "$crm_rps" "$crm_s" "$crm_out" "$jq_rps" "$jq_s" "$jq_out" "$ratio" "$same" "$(jq --version)" "$(hostname)")
cat /tmp/crmhub-bench-err.txt >&2
echo "$line"
mkdir -p bench-results && echo "$line" >> bench-results/mapping.txt
