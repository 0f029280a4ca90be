#!/usr/bin/env python3
"""A server-sent events (SSE) app, Python standard library only.

GET /                 a short HTML page that subscribes to the stream
GET /stream?count=N   N events ("tick" with a counter and a timestamp), one every interval_ms (default 200)

Behind lambda-adapter in AWS_LWA_INVOKE_MODE=response_stream, each event reaches the client as soon as
it is written, through a Function URL with InvokeMode RESPONSE_STREAM.
"""

import http.server
import json
import os
import time
from urllib.parse import parse_qs, urlparse

PAGE = b"""<!doctype html>
<title>SSE behind lambda-adapter</title>
<ul id="events"></ul>
<script>
  const source = new EventSource("stream?count=10");
  source.onmessage = (e) => {
    const li = document.createElement("li");
    li.textContent = e.data;
    document.getElementById("events").append(li);
  };
  source.addEventListener("done", () => source.close());
</script>
"""


def number(query, name, default, low, high):
    try:
        return max(low, min(high, int(query.get(name, [default])[0])))
    except ValueError:
        return default


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
        elif url.path == "/stream":
            self.stream(parse_qs(url.query))
        else:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def stream(self, query):
        count = number(query, "count", 10, 1, 1000)
        interval = number(query, "interval_ms", 200, 0, 10_000) / 1000
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(count):
            event = {"tick": i + 1, "of": count, "at": round(time.time(), 3)}
            self.chunk(f"id: {i + 1}\ndata: {json.dumps(event)}\n\n".encode())
            if i + 1 < count:
                time.sleep(interval)
        self.chunk(b"event: done\ndata: {}\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or "8080")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"SSE app listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
