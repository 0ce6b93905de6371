"""Demo feeder: every 2 seconds writes a web-form submission to raw.webform and a new lead to crm.lead, and prints
every message that reaches sink.erp.party (the end of the customer routes) and crm.lead.assigned (the lead-assignment
rule's output), with its crmhub headers. Usage: feed.py BOOTSTRAP [COUNT]."""
import json
import random
import sys
import time

from confluent_kafka import Consumer, Producer

bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19092"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
first_names = ["Ada", "John", "Mei", "Olu", "Sofia", "Lars"]
last_names = ["Lovelace", "Smith", "Tanaka", "Adeyemi", "García", "Nilsson"]
run = time.strftime("%H%M%S")  # lead ids are new on every run: the hub's lead book outlives the in-memory broker
lead_places = [("GB", "EC1A 1BB"), ("GB", "SW1A 2AA"), ("GB", "M1 1AE"), ("DE", "80331"), ("DE", "10115"), ("FR", "75001")]

producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
consumer = Consumer({
    # From the beginning: the demo broker is in memory, and Tansu's "latest" offset is past the real end.
    "bootstrap.servers": bootstrap, "group.id": f"crmhub-demo-viewer-{time.time_ns()}", "auto.offset.reset": "earliest",
    "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
    "topic.metadata.refresh.interval.ms": 2000,  # the hub creates the topics after the feeder subscribed
})
consumer.subscribe(["sink.erp.party", "crm.lead.assigned"])
for number in range(count):
    first, last = random.choice(first_names), random.choice(last_names)
    form = {
        "form": "contact", "first_name": first, "last_name": last,
        "email": f"{first}.{last}@example.com".lower(), "phone": f"020 7946 {random.randint(0, 9999):04d}",
        "message": "Please call me back about my order.", "submitted_at": time.strftime("%d/%m/%Y %H:%M"),
        "submission_id": number + 1,
    }
    producer.produce("raw.webform", key=form["email"], value=json.dumps(form).encode())
    country, postal_code = random.choice(lead_places)
    lead = {"id": f"lead-{run}-{number + 1}", "status": "new", "name": f"{first} {last}",
            "address": {"country": country, "postalCode": postal_code}}
    producer.produce("crm.lead", key=lead["id"], value=json.dumps(lead).encode())
    if number >= 5 and random.random() < 0.5:  # sales converts an older lead: its owner gets room for a new one
        closed = {"id": f"lead-{run}-{random.randint(1, number - 4)}", "status": "converted"}
        producer.produce("crm.lead", key=closed["id"], value=json.dumps(closed).encode())
    producer.flush(10)
    print(f"sent     raw.webform      #{number} {form['email']}", flush=True)
    print(f"sent     crm.lead         {lead['id']} {country} {postal_code}", flush=True)
    deadline = time.time() + 2
    while time.time() < deadline:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        headers = {key: value.decode() for key, value in (message.headers() or [])}
        if message.topic() == "crm.lead.assigned":
            assignment = json.loads(message.value()).get("assignment", {})
            print(f"received crm.lead.assigned {message.key().decode()} -> {assignment.get('owner')} "
                  f"({assignment.get('territory')}, {assignment.get('openLeads')} open)", flush=True)
            continue
        print(f"received sink.erp.party   key={message.key().decode()} id={headers.get('crm-id')} via {headers.get('crm-route')}", flush=True)
consumer.close()
