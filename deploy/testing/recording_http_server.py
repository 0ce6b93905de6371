#!/usr/bin/env python3
"""A loopback HTTP target for crmhub's tests and chaos script: records every request it accepts and answers as the
current mode says. Usage: recording_http_server.py PORT RECORD_FILE

Each accepted request is appended to RECORD_FILE as one JSON line:
  {"method", "path", "idempotency_key", "headers", "body", "status"}
Modes (POST /_control/mode with the mode as the body, or the first line of RECORD_FILE.mode if present):
  ok            201 for everything (default)
  503           503 Service Unavailable
  429:N         429 with Retry-After: N
  422-if:TEXT   422 when the body contains TEXT, else 201
  422-echo      422 with an error body that quotes the request body (as validating APIs do)
  slow:MS       201 after MS milliseconds
GET /_control/count answers the number of recorded (accepted) requests.
Binds 127.0.0.1 only.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
RECORD = sys.argv[2]
lock = threading.Lock()
state = {"mode": "ok", "count": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_control/count":
            with lock:
                self.reply(200, str(state["count"]).encode())
        else:
            self.reply(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_control/mode":
            with lock:
                state["mode"] = body.decode().strip()
            self.reply(204)
            return
        self.handle_target(body)

    do_PUT = do_POST
    do_PATCH = do_POST

    def handle_target(self, body):
        with lock:
            mode = state["mode"]
        status, headers = 201, {"Content-Type": "application/json"}
        if mode == "503":
            status = 503
        elif mode.startswith("429:"):
            status, headers = 429, {"Retry-After": mode.split(":", 1)[1]}
        elif mode.startswith("422-if:") and mode.split(":", 1)[1].encode() in body:
            status = 422
        elif mode == "422-echo":
            self.reply(422, json.dumps({"error": "invalid party: " + body.decode("utf-8", "replace")}).encode(), headers)
            return
        elif mode.startswith("slow:"):
            time.sleep(int(mode.split(":", 1)[1]) / 1000)
        if status == 201:
            entry = {
                "method": self.command,
                "path": self.path,
                "idempotency_key": self.headers.get("Idempotency-Key"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "status": status,
            }
            with lock:
                with open(RECORD, "a") as record:
                    record.write(json.dumps(entry, sort_keys=True) + "\n")
                state["count"] += 1
            self.reply(201, b'{"ok":true}', headers)
        else:
            self.reply(status, b'{"error":"target says %d"}' % status, headers)


ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"listening on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
