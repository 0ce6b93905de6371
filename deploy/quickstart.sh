#!/usr/bin/env bash
# Quick start on a fresh Debian machine: installs what crmhub needs, builds it, starts a local Kafka-protocol broker
# (Tansu, in memory, 127.0.0.1:19092), feeds demo web-form messages and runs `crmhub run` on deploy/demo/crmhub.yaml.
# The admin server answers on http://127.0.0.1:8080/healthz, /readyz and /metrics. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$CRMHUB_ROOT"
ensure_runtime

log "building crmhub (first build takes a few minutes)"
swift build --product crmhub
BIN=$(swift build --show-bin-path)/crmhub

mkdir -p .runtime/demo data
if (exec 3<>/dev/tcp/127.0.0.1/19092) 2>/dev/null; then
  log "port 19092 is already in use; stop what listens there (or edit deploy/demo/crmhub.yaml)"; exit 1
fi
TANSU_PID=$(start_tansu 19092 .runtime/demo/tansu.log)
log "Tansu broker running on 127.0.0.1:19092 (pid $TANSU_PID)"
"$CRMHUB_VENV/bin/python" deploy/demo/feed.py 127.0.0.1:19092 >.runtime/demo/feed.log 2>&1 &
FEED_PID=$!
cleanup() {
  kill "$FEED_PID" 2>/dev/null || true
  kill "$TANSU_PID" 2>/dev/null || true
  wait "$FEED_PID" "$TANSU_PID" 2>/dev/null || true
}
trap cleanup EXIT
log "demo feeder writes a web-form message to raw.webform every 2 s and prints what reaches sink.erp.party: tail -f .runtime/demo/feed.log"
"$BIN" validate --config deploy/demo/crmhub.yaml
"$BIN" run --config deploy/demo/crmhub.yaml
