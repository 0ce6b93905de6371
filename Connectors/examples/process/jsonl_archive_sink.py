#!/usr/bin/env python3
"""An external-process sink for crmhub: appends every message to a JSON-lines archive file.

Protocol (JSON lines on stdin/stdout, see Connectors/README.md): the hub sends a `config` frame first; this script
answers `hello`, then for each `message` frame appends {"id", "key", "value"} to the file named by the `path`
setting, flushes and fsyncs it, and only then answers `ack`. A message it cannot store is answered `nack` (with
"retry": false when retrying cannot help). If the script dies, the hub retries whatever was not acknowledged, so a
message may be appended twice: readers deduplicate by "id".
"""
import json
import os
import sys


def send(frame):
    sys.stdout.write(json.dumps(frame) + "\n")
    sys.stdout.flush()


def main():
    config = json.loads(sys.stdin.readline())
    if config.get("type") != "config" or config.get("protocol") != 1:
        print("expected a protocol-1 config frame", file=sys.stderr)
        return 2
    path = config["settings"]["path"]
    archive = open(path, "a", encoding="utf-8")
    send({"type": "hello", "protocol": 1})
    send({"type": "log", "level": "info", "message": f"archiving to {path}"})
    for line in sys.stdin:
        frame = json.loads(line)
        if frame.get("type") != "message":
            continue
        if "value" not in frame:
            send({"type": "nack", "id": frame["id"], "reason": "binary values are not archived", "retry": False})
            continue
        try:
            archive.write(json.dumps({"id": frame["id"], "key": frame.get("key"), "value": frame["value"]}, ensure_ascii=False) + "\n")
            archive.flush()
            os.fsync(archive.fileno())
        except OSError as error:
            send({"type": "nack", "id": frame["id"], "reason": str(error), "retry": True})
            continue
        send({"type": "ack", "id": frame["id"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
