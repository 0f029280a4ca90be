"""The bench's small app on Python's standard `http.server` (bench scenario (h); SPEC ERR-5: this
server writes a response's head and body in two writes with Nagle's algorithm on).

`GET /small` answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, `POST /echo` the request body back.
HTTP/1.1, so connections are kept alive; a thread per connection, so the adapter's pooled
connection and the bench's direct one are served side by side. Usage: http_server.py PORT
"""

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open(os.environ["BENCH_SMALL_JSON"], "rb") as small_file:
    SMALL = small_file.read()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/small":
            self.answer(SMALL, "application/json")
        else:
            self.send_error(404)

    def do_POST(self):
        if self.path == "/echo":
            length = int(self.headers.get("Content-Length", "0"))
            self.answer(self.rfile.read(length), "text/plain")
        else:
            self.send_error(404)


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
