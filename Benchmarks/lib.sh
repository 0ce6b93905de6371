# Shared set-up of the benchmark scripts that run crmhub against a local Tansu broker. Source it after
# deploy/lib/env.sh.

# bench_binary: sets BIN to the crmhub binary to measure: CRMHUB_BENCH_BINARY when given, else this checkout's
# release build (built now).
bench_binary() {
  if [ -n "${CRMHUB_BENCH_BINARY:-}" ]; then
    BIN=$(readlink -f "$CRMHUB_BENCH_BINARY")
  else
    swift build -c release --product crmhub >&2
    BIN=$(swift build -c release --show-bin-path)/crmhub
  fi
}

# create_bench_topics BROKER PARTITIONS TOPIC...: creates the topics (one replica) through the confluent-kafka client
# in the venv, and waits for the broker's answer.
create_bench_topics() {
  "$CRMHUB_VENV/bin/python" - "$@" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for _, future in admin.create_topics([NewTopic(t, int(sys.argv[2]), 1) for t in sys.argv[3:]]).items():
    future.result(30)
PY
}
