#!/usr/bin/env python3
"""`make inspector-shot`: the screenshot of the emulator's inspector for the README (SPEC EMU-5).

    inspector_shot.py EMULATOR ADAPTER OUT.png

Runs the demo app (examples/demo/app.py) behind the emulator in response-streaming mode, sends it
the demo's requests (a page, a JSON POST with an authorization header, an image, a stream, an SQS
event, a missing page), opens the inspector in headless Chromium (scripts/chromium.py) on the
JSON POST, and writes a PNG of it. Exits 0 when the PNG was written.
"""

import json
import os
import subprocess
import sys

from chromium import find_browser
from emulator_run import ROOT, Emulator, free_port, request, say

WIDTH, HEIGHT = 1440, 1120


def traffic(port, emulator):
    request(port, "GET", "/")[1].read()
    body = json.dumps({"order": 42, "items": ["tea", "scones"]})
    headers = {"content-type": "application/json", "authorization": "Bearer local-test-token"}
    request(port, "POST", "/api/echo", body, headers)[1].read()
    request(port, "GET", "/logo.png")[1].read()
    request(port, "GET", "/stream")[1].read()
    sqs = subprocess.run(
        [emulator.process.args[0], "event", "sqs"], check=True, capture_output=True, text=True
    ).stdout
    request(port, "POST", "/2015-03-31/functions/function/invocations", sqs)[1].read()
    request(port, "GET", "/no-such-page")[1].read()


def main(args):
    if len(args) != 3:
        raise SystemExit(__doc__)
    emulator_path, adapter_path = (os.path.abspath(path) for path in args[:2])
    out = os.path.abspath(args[2])
    browser = find_browser()
    if not browser:
        say("make inspector-shot needs Chromium: apt-get install -y chromium (or set LWA_CHROMIUM)")
        return 1
    env = {"AWS_LWA_INVOKE_MODE": "response_stream", "PORT": str(free_port())}
    emulator = Emulator(emulator_path, adapter_path, ["python3", "examples/demo/app.py"], env)
    try:
        port = emulator.front_door()
        inspector = emulator.inspector()
        traffic(port, emulator)
        emulator.show_output(0.5)
        listed = json.loads(request(inspector, "GET", "/api/invocations")[1].read())
        post = next(item for item in listed if item["target"] == "/api/echo")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        done = subprocess.run(
            [
                sys.executable,
                os.path.join(ROOT, "scripts", "chromium.py"),
                "--browser", browser,
                "--size", f"{WIDTH}x{HEIGHT}",
                "--open", f"http://127.0.0.1:{inspector}/#{post['id']}",
                "--wait-for", "document.getElementById('live').classList.contains('on')",
                "--wait-for", "document.querySelectorAll('#logs li').length > 0",
                "--screenshot", out,
            ],
            timeout=120,
        )
        if done.returncode != 0:
            return 1
    finally:
        emulator.stop()
    say(f"wrote {os.path.relpath(out, ROOT)} ({WIDTH}x{HEIGHT})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
