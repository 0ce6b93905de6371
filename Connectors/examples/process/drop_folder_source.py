#!/usr/bin/env python3
"""An external-process source for crmhub: every *.json file dropped into a folder becomes one message.

The file name (without .json) is the message id and the file's JSON the value; the `key_field` setting names the
field used as the Kafka key. A file is deleted only when the hub answers `ack` (Kafka acknowledged it); on `nack` it
stays and is offered again later. After a crash or restart every remaining file is offered again with the same id,
so nothing is lost and a repeat is recognisable by its id.
"""
import json
import os
import queue
import sys
import threading
import time


def send(frame):
    sys.stdout.write(json.dumps(frame) + "\n")
    sys.stdout.flush()


def main():
    config = json.loads(sys.stdin.readline())
    settings = config.get("settings", {})
    folder = settings["folder"]
    key_field = settings.get("key_field")
    poll = float(settings.get("poll_seconds", "0.5"))
    send({"type": "hello", "protocol": 1})
    # Answers are read on a thread: select() on a buffered stdin would miss lines already in Python's buffer.
    answers = queue.Queue()

    def read_answers():
        for answer in sys.stdin:
            answers.put(answer)
        answers.put(None)  # the hub closed our stdin

    threading.Thread(target=read_answers, daemon=True).start()
    offered = set()
    while True:
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json") or name in offered:
                continue
            path = os.path.join(folder, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    value = json.load(handle)
            except (OSError, ValueError) as error:
                send({"type": "log", "level": "warning", "message": f"skipping {name}: {error}"})
                continue
            key = value.get(key_field) if key_field and isinstance(value, dict) else None
            send({"type": "message", "id": name[:-5], "key": key, "value": value})
            offered.add(name)
        # Answers from the hub: delete on ack, offer again on nack.
        deadline = time.monotonic() + poll
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = answers.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                return 0  # the hub closed our stdin: stop
            frame = json.loads(line)
            name = frame.get("id", "") + ".json"
            if frame.get("type") == "ack":
                try:
                    os.remove(os.path.join(folder, name))
                except FileNotFoundError:
                    pass
                offered.discard(name)
            elif frame.get("type") == "nack":
                send({"type": "log", "level": "warning", "message": f"{name} refused: {frame.get('reason')}"})
                offered.discard(name)


if __name__ == "__main__":
    sys.exit(main())
