#!/usr/bin/env python3
"""Drives a headless Chromium through the DevTools protocol over a pipe (--remote-debugging-pipe),
for the inspector's browser test and `make inspector-shot` (SPEC EMU-5). Python standard library
only; no npm package, no WebSocket.

    chromium.py [--browser PATH] [--size 1280x900] STEP...

Steps run in order:
    --open URL          load URL in a fresh tab
    --wait-for JS       until the expression is truthy (at most --step-timeout seconds)
    --eval JS           evaluate it (e.g. a click)
    --announce TEXT     print TEXT on its own line (a test waits for it, then acts)
    --print JS          print "result: " and the expression's value as JSON
    --screenshot PATH   write a PNG of the page

Exits 0 when every step succeeded; 1 with one line saying which step failed. `find_browser()`
names the Chromium found (LWA_CHROMIUM, then chromium, chromium-browser, google-chrome on PATH).
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
POLL_SECONDS = 0.05


def find_browser():
    """The Chromium to use, or None."""
    explicit = os.environ.get("LWA_CHROMIUM")
    if explicit:
        return explicit if os.path.exists(explicit) else shutil.which(explicit)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium, spoken to over its DevTools pipe (fd 3 in, fd 4 out)."""

    def __init__(self, executable, width, height):
        self.profile = tempfile.mkdtemp(prefix="lwa-chromium-")
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()

        def wire_pipes():
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        self.width, self.height = width, height

    def send(self, method, params=None, session=True, timeout=30.0):
        """Sends one command and returns its result (events in between are skipped)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.receive(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise RuntimeError(f"{method}: no answer within {timeout} s")

    def receive(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self.from_browser], [], [], max(0.0, left))
            if not readable:
                raise RuntimeError("the browser stopped answering")
            chunk = os.read(self.from_browser, 65536)
            if not chunk:
                raise RuntimeError("the browser closed its DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False
        )
        self.session = attached["sessionId"]
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout):
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                if self.evaluate(f"Boolean({expression})"):
                    return
            except RuntimeError as err:
                # The page may still be loading (no such element yet).
                last_error = err
            time.sleep(POLL_SECONDS)
        raise RuntimeError(f"not true within {timeout} s: {expression}" + (f" ({last_error})" if last_error else ""))

    def screenshot(self, path):
        shot = self.send("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as out:
            out.write(base64.b64decode(shot["data"]))

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def main(args):
    browser_path, size, step_timeout, steps = None, "1280x900", 20.0, []
    index = 0
    while index < len(args):
        name = args[index]
        if index + 1 >= len(args):
            raise SystemExit(f"{name} needs a value\n{__doc__}")
        value = args[index + 1]
        index += 2
        if name == "--browser":
            browser_path = value
        elif name == "--size":
            size = value
        elif name == "--step-timeout":
            step_timeout = float(value)
        elif name in ("--open", "--wait-for", "--eval", "--announce", "--print", "--screenshot"):
            steps.append((name, value))
        else:
            raise SystemExit(f"unknown argument {name}\n{__doc__}")
    browser_path = browser_path or find_browser()
    if not browser_path:
        print("no Chromium found (set LWA_CHROMIUM, or install chromium)", flush=True)
        return 1
    width, height = (int(part) for part in size.split("x"))
    browser = Browser(browser_path, width, height)
    try:
        for name, value in steps:
            try:
                if name == "--open":
                    browser.open(value)
                elif name == "--wait-for":
                    browser.wait_for(value, step_timeout)
                elif name == "--eval":
                    browser.evaluate(value)
                elif name == "--announce":
                    print(value, flush=True)
                elif name == "--print":
                    print("result: " + json.dumps(browser.evaluate(value)), flush=True)
                elif name == "--screenshot":
                    browser.screenshot(value)
            except (RuntimeError, OSError, ValueError) as err:
                print(f"step {name} {value!r} failed: {err}", flush=True)
                return 1
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
