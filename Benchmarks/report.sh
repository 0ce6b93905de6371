#!/usr/bin/env bash
# Renders the benchmark history in bench-results/ as PNG charts, one per benchmark (rate or latency by run, with the
# comparison's line: jq, the plain librdkafka loop, the goal), into docs/benchmarks/.
#   Benchmarks/report.sh [RESULTS_DIR] [OUT_DIR]
# Needs gnuplot (Debian gnuplot-nox, installed here when missing) and python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS="${1:-bench-results}"
OUT="${2:-docs/benchmarks}"
if ! command -v gnuplot >/dev/null; then
  echo "installing gnuplot-nox" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y gnuplot-nox >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y gnuplot-nox >/dev/null; }
fi
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 Benchmarks/report_data.py "$RESULTS" "$WORK" "$OUT" | while read -r gp; do
  gnuplot "$gp"
  echo "$OUT/$(basename "${gp%.gp}").png"
done
