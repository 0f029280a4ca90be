#!/usr/bin/env python3
"""The web app behind the adapter in the emulator's end-to-end tests (Python 3 stdlib only).

Listens on 127.0.0.1:$AWS_LWA_PORT. Routes:
  /                  200 "ok" (the adapter's readiness check)
  /echo...           JSON of what arrived: method, target (path?query as sent), headers, body (base64)
  /binary            the 256 byte values, application/octet-stream
  /cookies           two Set-Cookie headers and a repeated X-Multi header
  /events            (pass-through events) {"received": <the JSON body>}
  /fail              500 "failed"
  /stream?n=N        chunked text/event-stream; chunk i is sent once /release was called i+1 times
  /stream-broken     one chunk (after a /release), then the connection is dropped mid-body
  /release           lets one more stream chunk go
  /gate              waits until /open, counting itself in flight meanwhile
  /inflight?atleast=N  answers the in-flight count once it reaches N (or after 10 s)
  /open              opens the gate
  /log?line=TEXT     writes TEXT to stderr, answers 200 "logged"
  /crash?code=N      the whole app exits at once with status N (default 7), mid-request
  /drop              closes the connection without answering
  /before-checkpoint, /after-restore  SnapStart hooks: log "hook <name>" on stderr, answer 200
                     (or $HOOK_STATUS, when set, for /after-restore)
On SIGTERM it writes "app got SIGTERM" to stderr and exits 0.
"""

import base64
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WAIT = 10.0
state = threading.Condition()
released = 0
in_flight = 0
gate = threading.Event()


def on_sigterm(_signum, _frame):
    sys.stderr.write("app got SIGTERM\n")
    sys.stderr.flush()
    os._exit(0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def wait_released(self, count):
        with state:
            return state.wait_for(lambda: released >= count, timeout=WAIT)

    def handle_any(self):
        global released, in_flight
        url = urlsplit(self.path)
        route = url.path
        if route == "/":
            self.reply(200, b"ok", [("Content-Type", "text/plain")])
        elif route.startswith("/echo"):
            seen = {
                "method": self.command,
                "target": self.path,
                "headers": [[name.lower(), value] for name, value in self.headers.items()],
                "body": base64.b64encode(self.body()).decode(),
            }
            self.reply(200, json.dumps(seen).encode(), [("Content-Type", "application/json")])
        elif route == "/binary":
            self.reply(200, bytes(range(256)), [("Content-Type", "application/octet-stream")])
        elif route == "/cookies":
            self.reply(200, b"cookies", [
                ("Content-Type", "text/plain"),
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2"),
                ("X-Multi", "one"),
                ("X-Multi", "two"),
            ])
        elif route == "/events":
            event = json.loads(self.body() or b"null")
            self.reply(200, json.dumps({"received": event}).encode(),
                       [("Content-Type", "application/json")])
        elif route == "/fail":
            self.reply(500, b"failed", [("Content-Type", "text/plain")])
        elif route in ("/stream", "/stream-broken"):
            count = int(parse_qs(url.query).get("n", ["3"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if route == "/stream-broken":
                if self.wait_released(1):
                    self.chunk(b"data: 0\n\n")
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            for index in range(count):
                if not self.wait_released(index + 1):
                    self.close_connection = True
                    return
                self.chunk(b"data: %d\n\n" % index)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif route == "/release":
            with state:
                released += 1
                state.notify_all()
            self.reply(200, str(released).encode())
        elif route == "/gate":
            with state:
                in_flight += 1
                state.notify_all()
            gate.wait(WAIT)
            with state:
                in_flight -= 1
            self.reply(200, b"through the gate")
        elif route == "/inflight":
            wanted = int(parse_qs(url.query).get("atleast", ["1"])[0])
            with state:
                state.wait_for(lambda: in_flight >= wanted, timeout=WAIT)
                count = in_flight
            self.reply(200, str(count).encode())
        elif route == "/open":
            gate.set()
            self.reply(200, b"open")
        elif route == "/log":
            sys.stderr.write(parse_qs(url.query).get("line", [""])[0] + "\n")
            sys.stderr.flush()
            self.reply(200, b"logged", [("Content-Type", "text/plain")])
        elif route == "/crash":
            code = int(parse_qs(url.query).get("code", ["7"])[0])
            sys.stderr.write("app crashes with status %d\n" % code)
            sys.stderr.flush()
            os._exit(code)
        elif route == "/drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif route in ("/before-checkpoint", "/after-restore"):
            sys.stderr.write("hook %s\n" % route[1:])
            sys.stderr.flush()
            status = 200
            if route == "/after-restore":
                status = int(os.environ.get("HOOK_STATUS", "200"))
            self.reply(status, b"hook")
        else:
            self.reply(404, b"not found")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    port = int(os.environ["AWS_LWA_PORT"])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    sys.stderr.write("app listening on port %d\n" % port)
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
