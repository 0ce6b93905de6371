#!/usr/bin/env bash
# Mapping throughput: the crm-customer-import mapping in crmhub (release build, one core) vs the same
# transformation in jq (Benchmarks/mapping.jq) on the same generated JSON lines, both pinned to CPU 0.
# Appends one line to bench-results/mapping.txt: commit, rates by wall clock and by CPU time (user+sys, steadier on a
# shared machine), the ratio, peak RSS of both, and whether the outputs agree (the first 20 000 records byte for byte,
# and after sorting keys).
#   Benchmarks/mapping-bench.sh [COUNT]   (default 1000000)
# JQ_COUNT=N runs jq on the first N records only (jq takes minutes per 100 000 records; its rate is per record, and
# the output checks need N >= 20000); the line then says jq_count=N.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-1000000}"
SCRATCH="${SCRATCH:-.build-mapping}"
export PATH=/opt/swift/usr/bin:$PATH
command -v jq >/dev/null || { echo "jq is required (apt-get install -y jq)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install -y time)" >&2; exit 1; }
swift build -c release --scratch-path "$SCRATCH" --product crmhub-bench-mapping >&2
BIN="$SCRATCH/release/crmhub-bench-mapping"
DATA="${TMPDIR:-/tmp}/crmhub-mapping-bench-$COUNT.jsonl"
[ -s "$DATA" ] || "$BIN" generate "$COUNT" "$DATA"
T="${TMPDIR:-/tmp}"
JQ_COUNT="${JQ_COUNT:-$COUNT}"
JQ_DATA="$DATA"
if [ "$JQ_COUNT" -lt "$COUNT" ]; then
  JQ_DATA="$T/crmhub-mapping-bench-$COUNT-first$JQ_COUNT.jsonl"
  head -n "$JQ_COUNT" "$DATA" > "$JQ_DATA"
fi

# /usr/bin/time -f: wall seconds, user seconds, system seconds, peak RSS in KiB.
/usr/bin/time -o "$T/crmhub-bench-time.txt" -f "%e %U %S %M" \
  taskset -c 0 "$BIN" run Mappings crm-customer-import "$DATA" > "$T/crmhub-bench-out.jsonl" 2> "$T/crmhub-bench-err.txt"
/usr/bin/time -o "$T/jq-bench-time.txt" -f "%e %U %S %M" \
  taskset -c 0 jq -c -f Benchmarks/mapping.jq "$JQ_DATA" > "$T/jq-bench-out.jsonl"
read -r crm_s crm_u crm_sys crm_rss < "$T/crmhub-bench-time.txt"
read -r jq_s jq_u jq_sys jq_rss < "$T/jq-bench-time.txt"
crm_out=$(wc -l < "$T/crmhub-bench-out.jsonl")
jq_out=$(wc -l < "$T/jq-bench-out.jsonl")

rate() { echo "$COUNT / $1" | bc -l; }
crm_rps=$(rate "$crm_s"); jq_rps=$(echo "$JQ_COUNT / $jq_s" | bc -l)
crm_cpu=$(rate "($crm_u + $crm_sys)"); jq_cpu=$(echo "$JQ_COUNT / ($jq_u + $jq_sys)" | bc -l)
ratio=$(echo "$crm_rps / $jq_rps" | bc -l); cpu_ratio=$(echo "$crm_cpu / $jq_cpu" | bc -l)
same=$(cmp -s <(head -20000 "$T/crmhub-bench-out.jsonl" | jq -S -c .) <(head -20000 "$T/jq-bench-out.jsonl" | jq -S -c .) && echo yes || echo no)
bytes=$(cmp -s <(head -20000 "$T/crmhub-bench-out.jsonl") <(head -20000 "$T/jq-bench-out.jsonl") && echo yes || echo no)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain -- Sources Package.swift 2>/dev/null)" ] || commit="$commit+dirty"
line=$(printf '%s count=%s crmhub=%.0f rec/s (%.2fs, %s out) crmhub_cpu=%.0f rec/s jq=%.0f rec/s (%.2fs, %s out) jq_cpu=%.0f rec/s ratio=%.1fx cpu_ratio=%.1fx first20000-identical=%s first20000-bytes-identical=%s crmhub_rss=%sKiB jq_rss=%sKiB jq=%s jq_count=%s commit=%s loadavg=%s host=%s' \
  "$(date -u +%FT%TZ)" "$COUNT" "$crm_rps" "$crm_s" "$crm_out" "$crm_cpu" "$jq_rps" "$jq_s" "$jq_out" "$jq_cpu" "$ratio" "$cpu_ratio" \
  "$same" "$bytes" "$crm_rss" "$jq_rss" "$(jq --version)" "$JQ_COUNT" "$commit" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" "$(hostname)")
cat "$T/crmhub-bench-err.txt" >&2
echo "$line"
mkdir -p bench-results && echo "$line" >> bench-results/mapping.txt
