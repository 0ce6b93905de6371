"""Demo feeder: writes a web-form submission to raw.webform every 2 seconds and prints every message that reaches
sink.erp.party (the end of the demo routes), with its crmhub headers. Usage: feed.py BOOTSTRAP [COUNT]."""
import json
import random
import sys
import time

from confluent_kafka import Consumer, Producer

bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19092"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
first_names = ["Ada", "John", "Mei", "Olu", "Sofia", "Lars"]
last_names = ["Lovelace", "Smith", "Tanaka", "Adeyemi", "García", "Nilsson"]

producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
consumer = Consumer({
    "bootstrap.servers": bootstrap, "group.id": "crmhub-demo-viewer", "auto.offset.reset": "latest",
    "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
})
consumer.subscribe(["sink.erp.party"])
for number in range(count):
    first, last = random.choice(first_names), random.choice(last_names)
    form = {
        "form": "contact", "first_name": first, "last_name": last,
        "email": f"{first}.{last}@example.com".lower(), "phone": f"020 7946 {random.randint(0, 9999):04d}",
        "message": "Please call me back about my order.", "submitted_at": time.strftime("%d/%m/%Y %H:%M"),
        "submission_id": number + 1,
    }
    producer.produce("raw.webform", key=form["email"], value=json.dumps(form).encode())
    producer.flush(10)
    print(f"sent     raw.webform      #{number} {form['email']}", flush=True)
    deadline = time.time() + 2
    while time.time() < deadline:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        headers = {key: value.decode() for key, value in (message.headers() or [])}
        print(f"received sink.erp.party   key={message.key().decode()} id={headers.get('crm-id')} via {headers.get('crm-route')}", flush=True)
consumer.close()
