"""Runs the local Lambda emulator (`lambda-emulator`) with the adapter and an app, for the demo, the
inspector's screenshot and the examples' tests: starts it on an ephemeral front-door port, relays
its output, finds its inspector, stops it with SIGTERM."""

import http.client
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIM, RESET = ("\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "")


def say(text=""):
    print(text, flush=True)


class Emulator:
    def __init__(self, emulator, adapter, command, env, cwd=ROOT, options=()):
        self.lines = queue.Queue()
        self.process = subprocess.Popen(
            [emulator, "--port", "0", "--extension", adapter, *options, "--", *command],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self.pump, daemon=True).start()

    def pump(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def show_output(self, wait=0.0):
        """Prints what the emulator said so far (the REPORT lines, the app's own output)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if line is None:
                return
            say(f"  {DIM}| {line}{RESET}")

    def front_door(self, timeout=120):
        """The front door's port, from its "listening on" line."""
        return self.port_after(r"listening on http://127\.0\.0\.1:(\d+)", timeout, "its front-door address")

    def inspector(self, timeout=30):
        """The inspector's port, from its "inspector on" line (read after the front door's)."""
        return self.port_after(r"inspector on http://127\.0\.0\.1:(\d+)", timeout, "its inspector's address")

    def port_after(self, pattern, timeout, what):
        """The port in the first output line matching `pattern`, relaying the lines before it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                break
            say(f"  {DIM}| {line}{RESET}")
            found = re.search(pattern, line)
            if found:
                return int(found.group(1))
        raise OSError(f"the emulator did not print {what}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.show_output(wait=2.0)
        return self.process.returncode


def free_port():
    """A loopback port that is free now, for an app to listen on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=body, headers=headers or {})
    return connection, connection.getresponse()




def server_sent_events(response):
    """Yields (seconds since the call, event bytes) for each event of an SSE response, as it arrives."""
    started, buffer = time.monotonic(), b""
    while True:
        data = response.read1(4096)
        if not data:
            return
        buffer += data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            yield time.monotonic() - started, event
