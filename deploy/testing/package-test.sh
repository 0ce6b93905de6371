#!/usr/bin/env bash
# Installs the release tarball into a temporary prefix and runs a route from there, with nothing from the checkout:
# no LD_LIBRARY_PATH, an empty environment (env -i), the installed binary, librdkafka and example mappings.
#   1. the installed crmhub loads the packaged librdkafka (ldd, `crmhub version`), man page and completions are there;
#   2. a Tansu broker on a free 127.0.0.1 port; `crmhub validate` and `crmhub run` on a configuration that uses the
#      installed Connectors/ and Mappings/ (admin and ingress servers on free 127.0.0.1 ports);
#   3. a web form posted to the installed contact-form connector is answered 202, and the route webform-to-customer
#      turns it into a Customer on crm.customer (read back with the venv's confluent-kafka);
#   4. /readyz and /metrics answer; SIGTERM stops crmhub cleanly (exit 0) within its shutdown timeout.
# Everything it starts is stopped by PID. Usage:
#   bash deploy/testing/package-test.sh [TARBALL]             # test this tarball
#   bash deploy/testing/package-test.sh [package.sh options]  # build one first, e.g. --config debug
set -euo pipefail
source "$(dirname "$0")/../lib/env.sh"
cd "$CRMHUB_ROOT"
ensure_runtime

if [ $# -ge 1 ] && [ -f "$1" ]; then
  TARBALL=$(readlink -f "$1")
else
  TARBALL=$(readlink -f "$(bash deploy/package.sh "$@" | tail -n 1)")
fi
log "package test: $TARBALL"

WORK=$(mktemp -d)
PREFIX="$WORK/prefix"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() {
  log "package test FAILED: $*"
  [ -f "$WORK/crmhub.log" ] && { log "crmhub.log (last 40 lines):"; tail -n 40 "$WORK/crmhub.log" >&2; }
  exit 1
}
# A clean environment: no LD_LIBRARY_PATH, no PATH into the checkout or the toolchain.
clean() { env -i PATH=/usr/bin:/bin HOME="$WORK" LANG=C.UTF-8 "$@"; }

mkdir -p "$PREFIX"
tar -xzf "$TARBALL" -C "$PREFIX" --strip-components=1
CRMHUB="$PREFIX/bin/crmhub"

# 1. Standalone: the packaged librdkafka, no LD_LIBRARY_PATH.
LOADED=$(clean ldd "$CRMHUB" | awk '$1 == "librdkafka.so.1" { print $3 }')
[ "$(readlink -f "$LOADED")" = "$(readlink -f "$PREFIX/lib/librdkafka.so.1")" ] || fail "ldd: librdkafka from '$LOADED', not $PREFIX/lib"
! clean ldd "$CRMHUB" | grep -q "not found" || fail "ldd: libraries not found"
VERSION_OUT=$(clean "$CRMHUB" version) || fail "crmhub version failed"
echo "$VERSION_OUT" | grep -q '^librdkafka runtime 2\.' || fail "crmhub version: $VERSION_OUT"
! echo "$VERSION_OUT" | grep -q '^warning' || fail "old librdkafka: $VERSION_OUT"
[ -s "$PREFIX/share/man/man1/crmhub.1" ] || fail "man page share/man/man1/crmhub.1 missing"
bash -n "$PREFIX/share/bash-completion/completions/crmhub" || fail "bash completion does not parse"
[ -s "$PREFIX/share/zsh/site-functions/_crmhub" ] && [ -s "$PREFIX/share/fish/vendor_completions.d/crmhub.fish" ] \
  || fail "zsh or fish completion missing"
for file in LICENSE CHANGELOG.md README.md BUILD; do
  [ -s "$PREFIX/share/doc/crmhub/$file" ] || fail "share/doc/crmhub/$file missing"
done
[ -s "$PREFIX/lib/systemd/system/crmhub.service" ] || fail "systemd unit missing"
log "installed: $(echo "$VERSION_OUT" | head -n 2 | tr '\n' ' ')"

# 2. A broker and the installed daemon on a configuration that points into the prefix.
KAFKA_PORT=$(free_port)
ADMIN_PORT=$(free_port)
INGRESS_PORT=$(free_port)
TANSU_PID=$(start_tansu "$KAFKA_PORT" "$WORK/tansu.log") || fail "Tansu did not start"
PIDS+=("$TANSU_PID")
EXAMPLES="$PREFIX/share/crmhub/examples"
mkdir -p "$WORK/etc" "$WORK/var"
cat >"$WORK/etc/crmhub.yaml" <<EOF
kafka:
  brokers: ["127.0.0.1:$KAFKA_PORT"]
  client_id: crmhub-package-test
  group_prefix: crmhub-package-test
  session_timeout_ms: 6000
  heartbeat_interval_ms: 1000
  create_topics: true
  topic_partitions: 1
http:
  host: 127.0.0.1
  port: $ADMIN_PORT
ingress:
  host: 127.0.0.1
  port: $INGRESS_PORT
store:
  kind: sqlite
  path: $WORK/var/master.sqlite
connectors: $EXAMPLES/Connectors
mappings: $EXAMPLES/Mappings
rules: $WORK/etc/rules
batch: $WORK/etc/batch
state_dir: $WORK/var/state
log:
  level: info
  format: text
shutdown_timeout_seconds: 10
routes:
  - name: webform-to-customer
    from: raw.webform
    mapping: web-form
    to:
      customer: crm.customer
      ticket: crm.ticket
      consent: crm.consent
EOF
clean "$CRMHUB" validate --config "$WORK/etc/crmhub.yaml" || fail "crmhub validate"
# env execs crmhub, so $! is crmhub's own PID (a shell function here would put a subshell in between).
env -i PATH=/usr/bin:/bin HOME="$WORK" LANG=C.UTF-8 "$CRMHUB" run --config "$WORK/etc/crmhub.yaml" >"$WORK/crmhub.log" 2>&1 &
CRMHUB_PID=$!
PIDS+=("$CRMHUB_PID")

ready=0
for _ in $(seq 1 120); do
  kill -0 "$CRMHUB_PID" 2>/dev/null || fail "crmhub exited during start-up"
  if curl -fsS -o /dev/null "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null; then ready=1; break; fi
  sleep 0.5
done
[ "$ready" = 1 ] || fail "/readyz did not answer 200 within 60 s"
grep -q "librdkafka runtime" "$WORK/crmhub.log" || fail "crmhub did not log its librdkafka runtime"
! grep -q "older than 2.1" "$WORK/crmhub.log" || fail "crmhub runs on an old librdkafka"

# 3. A web form through the installed connector and route.
EMAIL="package.test.$$@example.com"
code=000
for _ in $(seq 1 30); do
  code=$(curl -s -o "$WORK/post.out" -w '%{http_code}' --max-time 10 \
    --data-urlencode "email=$EMAIL" --data-urlencode "first_name=Ada" --data-urlencode "last_name=Lovelace" \
    --data-urlencode "message=Hello from the package test" "http://127.0.0.1:$INGRESS_PORT/forms/contact" || true)
  [ "$code" = 202 ] && break
  sleep 1
done
[ "$code" = 202 ] || fail "contact form answered $code: $(cat "$WORK/post.out" 2>/dev/null)"
"$CRMHUB_VENV/bin/python" - "127.0.0.1:$KAFKA_PORT" "$EMAIL" >"$WORK/consume.log" 2>&1 <<'EOF' || fail "no Customer for the form on crm.customer: $(tail -n 5 "$WORK/consume.log")"
import sys, time
from confluent_kafka import Consumer
bootstrap, email = sys.argv[1], sys.argv[2]
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"package-test-{time.time_ns()}",
                     "auto.offset.reset": "earliest", "topic.metadata.refresh.interval.ms": 1000})
consumer.subscribe(["crm.customer"])
deadline = time.time() + 60
try:
    while time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        if email.encode() in (message.value() or b""):
            headers = {key: value.decode() for key, value in (message.headers() or [])}
            print(f"crm.customer offset {message.offset()} route={headers.get('crm-route')} id={headers.get('crm-id')}")
            sys.exit(0)
    sys.exit(f"no message with {email} on crm.customer within 60 s")
finally:
    consumer.close()
EOF
log "route: $(cat "$WORK/consume.log")"

# 4. Admin endpoints and a clean stop.
curl -fsS "http://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null || fail "/healthz"
# Read the whole page first: `curl | grep -q` fails under pipefail when grep stops reading at its first match.
METRICS=$(curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics") || fail "/metrics"
grep -q '^crmhub_' <<<"$METRICS" || fail "/metrics has no crmhub_ series"
kill -TERM "$CRMHUB_PID"
stopped=0
for _ in $(seq 1 60); do
  kill -0 "$CRMHUB_PID" 2>/dev/null || { stopped=1; break; }
  sleep 0.5
done
[ "$stopped" = 1 ] || fail "crmhub did not stop within 30 s of SIGTERM"
status=0
wait "$CRMHUB_PID" || status=$?
[ "$status" = 0 ] || fail "crmhub exited with $status after SIGTERM"
log "package test passed: installed $(basename "$TARBALL") into a temporary prefix, web form -> crm.customer, clean SIGTERM stop"
