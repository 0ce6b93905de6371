#!/usr/bin/env bash
# Quick start on a fresh Debian machine: installs what crmhub needs, builds it, starts a local Kafka-protocol broker
# (Tansu, in memory, 127.0.0.1:19092) and a recording HTTP target (127.0.0.1:8099, the marketing sink's), writes an
# admin token to data/demo/admin-token, drops the legacy customer sample into data/demo/imports and runs
# `crmhub run` on deploy/demo/crmhub.yaml: contact form on 127.0.0.1:8090, admin server on 127.0.0.1:8080.
# README "Quick start walkthrough" shows what to try from a second terminal. Ctrl-C stops everything.
# CRMHUB_DEMO_FEED=1 also runs deploy/demo/feed.py (a web-form message and a lead every 2 s).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$CRMHUB_ROOT"
ensure_runtime

log "building crmhub (first build takes a few minutes)"
swift build --product crmhub
BIN=$(swift build --show-bin-path)/crmhub

for port in 19092 8080 8090 8099; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    log "port $port is already in use; stop what listens there (or edit deploy/demo/crmhub.yaml)"; exit 1
  fi
done
mkdir -p .runtime/demo data/demo/imports
# The broker is in memory: start the master data and the job state afresh with it.
rm -rf data/demo.sqlite data/demo.sqlite-* data/state data/demo/imports/archive data/demo/imports/rejected data/demo/target.jsonl
if [ ! -s data/demo/admin-token ]; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16), end="")' >data/demo/admin-token)
fi
cp deploy/demo/samples/legacy-customers.jsonl data/demo/imports/legacy-customers.jsonl

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
}
trap cleanup EXIT
TANSU_PID=$(start_tansu 19092 .runtime/demo/tansu.log)
PIDS+=("$TANSU_PID")
log "Tansu broker running on 127.0.0.1:19092 (pid $TANSU_PID)"
python3 deploy/testing/recording_http_server.py 8099 data/demo/target.jsonl &
PIDS+=("$!")
log "recording HTTP target on 127.0.0.1:8099 writes each delivery to data/demo/target.jsonl (pid $!)"
if [ "${CRMHUB_DEMO_FEED:-0}" = 1 ]; then
  "$CRMHUB_VENV/bin/python" deploy/demo/feed.py 127.0.0.1:19092 >.runtime/demo/feed.log 2>&1 &
  PIDS+=("$!")
  log "demo feeder: a web-form message and a lead every 2 s; tail -f .runtime/demo/feed.log"
fi
"$BIN" validate --config deploy/demo/crmhub.yaml
cat >&2 <<'NEXT'

  crmhub starts now. In a second terminal, in this folder (README "Quick start walkthrough"):
    curl -s 127.0.0.1:8080/readyz
    curl -s -d 'first_name=Grace&last_name=Hopper&email=grace.hopper@example.co.uk&message=Send me offers&marketing_opt_in=yes' 127.0.0.1:8090/forms/contact
    curl -s -d 'first_name=Alan&last_name=Turing&email=alan.turing@example.co.uk&message=Just a question' 127.0.0.1:8090/forms/contact
    curl -s -H "Authorization: Bearer $(cat data/demo/admin-token)" '127.0.0.1:8080/mdm/customers?email=grace.hopper@example.co.uk'
    cat data/demo/target.jsonl
    curl -s 127.0.0.1:8080/metrics | grep crmhub_sink_suppressed_total
  The legacy sample (50 customers) is imported within a minute: .build/debug/crmhub batch history --config deploy/demo/crmhub.yaml

NEXT
"$BIN" run --config deploy/demo/crmhub.yaml
