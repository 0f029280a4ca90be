#!/usr/bin/env python3
"""An SQS consumer as a plain web app (Python standard library only).

lambda-adapter posts every non-HTTP event (SQS, SNS, S3, EventBridge, ...) to POST /events as JSON.
This app processes each SQS message and reports the ones it could not handle as batch item
failures, so SQS retries only those (enable ReportBatchItemFailures on the event source mapping).
"""

import http.server
import json
import os


def process(message):
    """The business logic: here, orders must be JSON with a positive quantity."""
    order = json.loads(message["body"])
    if int(order["quantity"]) <= 0:
        raise ValueError("quantity must be positive")
    print(f"order {order['id']}: {order['quantity']} x {order['item']}", flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        # The adapter's readiness check.
        self.reply(200, {"status": "ready"})

    def do_POST(self):
        if self.path != "/events":
            self.reply(404, {"error": "not found"})
            return
        event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        failures = []
        for message in event.get("Records", []):
            try:
                process(message)
            except (ValueError, KeyError, TypeError) as err:
                print(f"message {message.get('messageId')} failed: {err}", flush=True)
                failures.append({"itemIdentifier": message.get("messageId")})
        self.reply(200, {"batchItemFailures": failures})

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or "8080")
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
