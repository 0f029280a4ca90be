#!/usr/bin/env python3
"""The demo app: a small web app (Python standard library only) with one endpoint per thing the
adapter translates.

GET  /               a greeting, with what the adapter told the app about the invocation
POST /api/echo       echoes the JSON body it received
GET  /logo.png       a PNG image, generated here (a binary response)
GET  /stream         server-sent events, one every 100 ms (a streamed response)
POST /events         SQS messages (a non-HTTP event, posted by the adapter as JSON)
"""

import http.server
import json
import os
import struct
import time
import zlib


def png(width=32, height=32):
    """A gradient PNG, built by hand so the demo needs no image library."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 8, y * 8, 160))
        for y in range(height)
    )

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


LOGO = png()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path == "/":
            context = json.loads(self.headers.get("x-amzn-lambda-context") or "{}")
            greeting = {
                "message": "Hello from a plain Python web app running behind lambda-adapter",
                "request_id": context.get("request_id"),
                "function": context.get("env_config", {}).get("function_name"),
            }
            self.send(200, "application/json", json.dumps(greeting).encode())
        elif self.path == "/logo.png":
            self.send(200, "image/png", LOGO)
        elif self.path.startswith("/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(1, 6):
                data = f"data: tick {i} at {time.strftime('%H:%M:%S')}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(0.1)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send(404, "text/plain", b"not found\n")

    def do_POST(self):
        if self.path == "/api/echo":
            received = json.loads(self.body() or b"null")
            self.send(200, "application/json", json.dumps({"you_sent": received}).encode())
        elif self.path == "/events":
            event = json.loads(self.body())
            records = event.get("Records", [])
            failed = [r["messageId"] for r in records if "fail" in r.get("body", "")]
            print(f"processed {len(records) - len(failed)} SQS messages, {len(failed)} failed", flush=True)
            result = {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
            self.send(200, "application/json", json.dumps(result).encode())
        else:
            self.send(404, "text/plain", b"not found\n")

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
