#!/usr/bin/env python3
"""Chaos test: kill -9 the crmhub daemon at random moments while keyed messages flow through a route into an HTTP
sink, then prove that nothing acknowledged was lost, that re-deliveries carry the same Idempotency-Key, and that each
key's messages were first delivered in order.

Usage: chaos_kill9.py --crmhub BIN --tansu BIN [--rounds 20] [--messages 3000] [--keys 40] [--seed N] [--output FILE]
                      [--min-mid-flight-kills N]
Everything runs on 127.0.0.1 on free ports; every process is stopped by PID. Exit code 0 only when lost == 0, the
order holds, and enough kills landed mid-flight (the broker had acknowledged messages the target had not yet
received when the kill came; the count is in the summary line).
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from confluent_kafka import Producer

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def stop(process, sig=signal.SIGTERM, timeout=20):
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--crmhub", required=True)
    parser.add_argument("--tansu", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--output")
    parser.add_argument("--min-mid-flight-kills", type=int, default=None,
                        help="fail unless at least this many kills landed with acknowledged messages not yet "
                             "delivered (default: half the rounds)")
    args = parser.parse_args()
    if args.min_mid_flight_kills is None:
        args.min_mid_flight_kills = (args.rounds + 1) // 2
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="crmhub-chaos-")
    print(f"chaos: seed={args.seed} rounds={args.rounds} messages={args.messages} keys={args.keys} work={work}", flush=True)

    kafka_port, target_port, admin_port = free_port(), free_port(), free_port()
    tansu = subprocess.Popen(
        [args.tansu, "broker", "--listener-url", f"tcp://127.0.0.1:{kafka_port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{kafka_port}", "--storage-engine", "memory://tansu/"],
        stdout=open(os.path.join(work, "tansu.log"), "w"), stderr=subprocess.STDOUT)
    record = os.path.join(work, "target.jsonl")
    target = subprocess.Popen([sys.executable, os.path.join(HERE, "recording_http_server.py"), str(target_port), record],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = [tansu, target]
    try:
        wait_port(kafka_port)
        wait_port(target_port)
        os.makedirs(os.path.join(work, "connectors"))
        with open(os.path.join(work, "connectors", "orders-http.yaml"), "w") as f:
            f.write(f"""name: orders-http
kind: http-sink
topic: crm.orders
url: http://127.0.0.1:{target_port}/orders
timeout_ms: 2000
max_in_flight: 32
retry:
  in_place_attempts: 2
  initial_backoff_ms: 50
  max_backoff_ms: 200
  topics: [2s, 5s, 20s]
""")
        config = os.path.join(work, "crmhub.yaml")
        with open(config, "w") as f:
            f.write(f"""kafka:
  brokers: ["127.0.0.1:{kafka_port}"]
  group_prefix: chaos
  session_timeout_ms: 3000
  heartbeat_interval_ms: 500
  statistics_interval_ms: 0
http:
  port: {admin_port}
connectors: connectors
mappings: mappings
state_dir: state
log:
  level: warning
shutdown_timeout_seconds: 10
routes:
  - name: orders
    from: raw.orders
    to: crm.orders
""")
        os.makedirs(os.path.join(work, "mappings"))

        # The source: an idempotent producer that records what the broker acknowledged.
        acked, acked_lock = [], threading.Lock()
        producer = Producer({"bootstrap.servers": f"127.0.0.1:{kafka_port}", "enable.idempotence": True, "acks": "all",
                             "linger.ms": 5})

        def on_delivery(mid):
            def report(err, msg):
                if err is None:
                    with acked_lock:
                        acked.append(mid)
            return report

        # Spread the messages over the whole run, so kills land while messages are produced, routed and delivered.
        interval = max(0.002, args.rounds * 1.75 / args.messages)

        def produce_all():
            for seq in range(args.messages):
                key = f"customer-{seq % args.keys}"
                mid = f"{key}#{seq // args.keys}"
                while True:
                    try:
                        producer.produce("raw.orders", key=key, value=json.dumps({"key": key, "n": seq // args.keys}),
                                         headers={"crm-id": mid}, on_delivery=on_delivery(mid))
                        break
                    except BufferError:
                        producer.poll(0.05)
                producer.poll(0)
                time.sleep(interval)
            producer.flush(60)

        hub_log = open(os.path.join(work, "crmhub.log"), "w")

        def start_hub():
            return subprocess.Popen([args.crmhub, "run", "--config", config, "--log-format", "json"],
                                    stdout=hub_log, stderr=subprocess.STDOUT)

        # The first start creates the topics; the producer starts once they exist.
        hub = start_hub()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1).status == 200:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        feeder = threading.Thread(target=produce_all)
        feeder.start()
        def delivered_ids():
            if not os.path.exists(record):
                return []
            with open(record) as f:
                return [json.loads(line)["idempotency_key"] for line in f if line.strip()]

        kills = 0
        # A kill "lands mid-flight" when the broker had acknowledged messages the target had not yet received: the
        # hub held work (consumed, in a retry topic, or about to be) that the kill interrupted.
        in_flight_at_kill = []
        for round_ in range(args.rounds):
            time.sleep(rng.uniform(0.5, 3.0))
            if round_ % 5 == 2:
                # A target outage through the kill: messages go to retry topics and must still arrive.
                urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{target_port}/_control/mode", data=b"503"))
            with acked_lock:
                acknowledged_now = set(acked)
            hub.send_signal(signal.SIGKILL)
            hub.wait()
            in_flight_at_kill.append(len(acknowledged_now - set(delivered_ids())))
            kills += 1
            if round_ % 5 == 3:
                urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{target_port}/_control/mode", data=b"ok"))
            hub = start_hub()
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{target_port}/_control/mode", data=b"ok"))
        feeder.join()

        # Let the last instance drain, then stop it cleanly.
        expected = set(acked)
        deadline = time.time() + 180
        while time.time() < deadline and not expected <= set(delivered_ids()):
            time.sleep(0.5)
        time.sleep(2)
        stop(hub)

        deliveries = []
        with open(record) as f:
            for line in f:
                entry = json.loads(line)
                body = json.loads(entry["body"])
                deliveries.append((entry["idempotency_key"], body["key"], body["n"]))
        ids = [d[0] for d in deliveries]
        distinct = set(ids)
        lost = expected - distinct
        first_seen = {}
        order_violations = 0
        for mid, key, n in deliveries:
            if mid in first_seen:
                continue
            first_seen[mid] = True
            previous = first_seen.get(("last", key), -1)
            if n < previous:
                order_violations += 1
            first_seen[("last", key)] = max(previous, n)
        mid_flight = sum(1 for n in in_flight_at_kill if n > 0)
        summary = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} chaos-kill9 seed={args.seed} kills={kills} "
                   f"sent={args.messages} acknowledged={len(expected)} delivered_distinct={len(distinct & expected)} "
                   f"deliveries={len(ids)} duplicates_by_idempotency_key={len(ids) - len(distinct)} lost={len(lost)} "
                   f"order_violations={order_violations} kills_mid_flight={mid_flight} "
                   f"in_flight_at_kill_median={sorted(in_flight_at_kill)[len(in_flight_at_kill) // 2] if in_flight_at_kill else 0}")
        print(summary, flush=True)
        if args.output:
            os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
            with open(args.output, "a") as f:
                f.write(summary + "\n")
        if lost:
            print(f"LOST (first 10): {sorted(lost)[:10]}; logs in {work}", flush=True)
        if mid_flight < args.min_mid_flight_kills:
            print(f"TOO FEW KILLS MID-FLIGHT: {mid_flight} of {kills} (need {args.min_mid_flight_kills}); "
                  f"the run proves little", flush=True)
        return 0 if (not lost and order_violations == 0 and len(expected) == args.messages
                     and mid_flight >= args.min_mid_flight_kills) else 1
    finally:
        for process in processes:
            stop(process, signal.SIGKILL)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Leave without running interpreter finalisers: librdkafka's threads in confluent-kafka can make a normal
    # shutdown slow or change the exit status after the verdict was printed.
    os._exit(code)
