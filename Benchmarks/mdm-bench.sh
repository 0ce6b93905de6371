#!/usr/bin/env bash
# Master data benchmark: identity resolution quality, speed and memory on data the engine was not tuned on.
#
# Data sources (different designs):
#   swift   the built-in generator (Sources/CRMMasterData/Evaluation/SyntheticCustomers.swift), seeds 101 and up:
#           never used while choosing the model, its levels or its thresholds
#   faker   Benchmarks/faker_customers.py: an independent generator on Faker (PyPI) with its own corruption model
#   nad     the same Faker generator with names, address and date of birth only (no e-mail, no phone)
#
# For every source and size: bulk resolve (file order, model trained on the file first), score pairwise and
# cluster precision/recall/F1, then the same file streamed one record at a time with per-record latency, and a
# check that streaming and bulk gave the same clusters. Peak RSS is the resolving process's (VmHWM).
# Results are printed and appended, with the commit, to bench-results/mdm/results.txt.
#
# Usage: Benchmarks/mdm-bench.sh [COUNT...]             (default: 100000 1000000)
#   SOURCES="swift faker nad" SEED=101 OUT=bench-results/mdm  STREAM=1 (0: skip the streaming run)
#   SKIP_BUILD=1 (use the driver already built, e.g. when running one invocation per source in parallel)
#
# Builds only what runs the engine: a release build of the CRMMasterData target (scratch .build-mdm-rel) and a
# one-file driver (Benchmarks/mdm/main.swift) linked against its objects. Installs Faker into .venv itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCES=${SOURCES:-swift faker nad}
SEED=${SEED:-101}
OUT=${OUT:-bench-results/mdm}
STREAM=${STREAM:-1}
DATA=${DATA:-$OUT/data}
SCRATCH=.build-mdm-rel
BIN=$SCRATCH/mdm-bench
mkdir -p "$OUT" "$DATA"

# --- build ---------------------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
swift build -c release --target CRMMasterData --scratch-path "$SCRATCH" 2>&1 | grep -E "error|warning: .*CRMMasterData|Compiling CRMMasterData|Build" || true
REL=$SCRATCH/release
objs=$(for module in CRMMasterData CRMNormalize CRMCSV CRMModel GRDB Crypto CryptoBoringWrapper CCryptoBoringSSL \
  CCryptoBoringSSLShims CXKCP CXKCPShims CMemoryHints; do find "$REL/$module.build" -name '*.o'; done)
if [ ! -x "$BIN" ] || [ -n "$(find "$REL/CRMMasterData.build" Benchmarks/mdm -newer "$BIN" -name '*.[os]*' 2>/dev/null | head -1)" ]; then
  # shellcheck disable=SC2086
  swiftc -O -module-name mdmbench Benchmarks/mdm/main.swift -o "$BIN" \
    -I "$REL/Modules" -Xcc -fmodule-map-file="$(find "$SCRATCH/checkouts/GRDB.swift" -path '*GRDBSQLite/module.modulemap' | head -1)" -Xcc -fmodule-map-file="$REL/CMemoryHints.build/module.modulemap" \
    $objs -lsqlite3 -lstdc++
fi
fi

# --- data ----------------------------------------------------------------------------------------------------
if [[ " $SOURCES " == *" faker "* || " $SOURCES " == *" nad "* ]]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -c "import faker" 2>/dev/null || .venv/bin/pip install -q Faker
fi
generate() { # source count seed file
  case $1 in
    swift) "$BIN" generate "$2" "$3" "$4" ;;
    faker) .venv/bin/python Benchmarks/faker_customers.py "$2" "$3" "$4" --mode full ;;
    nad) .venv/bin/python Benchmarks/faker_customers.py "$2" "$3" "$4" --mode nad ;;
  esac
}

commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Benchmarks || echo "+dirty")
for count in ${@:-100000 1000000}; do
  for source in $SOURCES; do
    input="$DATA/$source-$count-seed$SEED.csv"
    [ -f "$input" ] || generate "$source" "$count" "$SEED" "$input"
    echo "== $source $count records (seed $SEED), bulk (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    bulk=$(/usr/bin/time -f "cpu_user=%Us cpu_sys=%Ss max_rss=%MkB" "$BIN" resolve "$input" "$OUT/clusters-$source-$count.csv" 2>&1)
    echo "$bulk"
    quality=$("$BIN" evaluate "$input" "$OUT/clusters-$source-$count.csv")
    echo "$quality"
    same="-"
    stream=""
    if [ "$STREAM" = 1 ]; then
      echo "== $source $count records, streaming (one by one, per-record latency)"
      stream=$(/usr/bin/time -f "cpu_user=%Us cpu_sys=%Ss max_rss=%MkB" "$BIN" resolve "$input" "$OUT/clusters-$source-$count-stream.csv" --latency 2>&1)
      echo "$stream" | grep -E "latency|cpu_user"
      cmp -s "$OUT/clusters-$source-$count.csv" "$OUT/clusters-$source-$count-stream.csv" && same=yes || same=NO
      echo "streaming clusters identical to bulk: $same"
    fi
    {
      echo "## $(date -u +%FT%TZ) commit=$commit source=$source count=$count seed=$SEED host_cores=$(nproc) load_avg=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
      echo "$bulk"
      echo "$quality"
      [ -n "$stream" ] && echo "$stream" | grep -E "latency|cpu_user" | sed 's/^cpu_user/stream_cpu_user/' 
      echo "streaming_equals_bulk=$same"
    } >> "$OUT/results.txt"
  done
done
