#!/usr/bin/env python3
"""`make demo`: the adapter and a small web app behind the local Lambda emulator, exercised with
a handful of requests, each printed with what came back.

    demo.py EMULATOR ADAPTER

Starts `EMULATOR --port 0 --extension ADAPTER -- python3 examples/demo/app.py` in response-streaming
mode (Function URL events), sends a GET, a JSON POST, an image request, an SSE stream and an SQS event
(through the raw-event endpoint), checks every answer, then stops the emulator. Exits 0 when all went
as expected.
"""

import json
import os
import sys

from emulator_run import ROOT, Emulator, free_port, request, say, server_sent_events

BOLD, DIM, GREEN, RED, RESET = ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() else ("",) * 5


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    say(f"  {GREEN}ok{RESET} {what}")


def step(title, method, path):
    say()
    say(f"{BOLD}{title}{RESET}")
    say(f"  > {method} {path}")


def demo(port, emulator):
    step("1. A plain GET", "GET", "/")
    _, response = request(port, "GET", "/")
    body = response.read()
    say(f"  < {response.status} {response.getheader('content-type')}: {body.decode()}")
    check(response.status == 200 and json.loads(body)["request_id"], "the app answered, and saw the Lambda request id")
    emulator.show_output(0.2)

    step("2. A JSON POST", "POST", "/api/echo")
    sent = {"order": 42, "items": ["tea", "scones"]}
    _, response = request(port, "POST", "/api/echo", json.dumps(sent), {"content-type": "application/json"})
    body = response.read()
    say(f"  < {response.status} {response.getheader('content-type')}: {body.decode()}")
    check(json.loads(body) == {"you_sent": sent}, "the body went to the app and back unchanged")
    emulator.show_output(0.2)

    step("3. An image (binary response)", "GET", "/logo.png")
    _, response = request(port, "GET", "/logo.png")
    image = response.read()
    say(f"  < {response.status} {response.getheader('content-type')}, {len(image)} bytes")
    check(image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) == 1796, "a complete PNG, byte for byte")
    os.makedirs(os.path.join(ROOT, "target", "demo"), exist_ok=True)
    with open(os.path.join(ROOT, "target", "demo", "logo.png"), "wb") as out:
        out.write(image)
    say(f"  (saved as target/demo/logo.png)")
    emulator.show_output(0.2)

    step("4. Server-sent events, streamed as they are written", "GET", "/stream")
    _, response = request(port, "GET", "/stream")
    say(f"  < {response.status} {response.getheader('content-type')}")
    events = []
    for seconds, event in server_sent_events(response):
        events.append(seconds)
        say(f"  < +{seconds * 1000:5.0f} ms  {event.decode()}")
    check(len(events) == 5, "5 events")
    check(events[-1] - events[0] > 0.3, "they arrived one by one, not all at the end")
    emulator.show_output(0.2)

    step("5. An SQS event (not HTTP), through the raw-event endpoint", "POST", "/2015-03-31/functions/function/invocations")
    sqs = {
        "Records": [
            {"messageId": "m-1", "eventSource": "aws:sqs", "body": "welcome new customer"},
            {"messageId": "m-2", "eventSource": "aws:sqs", "body": "this one should fail"},
        ]
    }
    _, response = request(port, "POST", "/2015-03-31/functions/function/invocations", json.dumps(sqs))
    body = response.read()
    say(f"  < {response.status}: {body.decode()}")
    check(json.loads(body) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}, "the app's JSON is the function's result")
    emulator.show_output(0.3)


def main(args):
    if len(args) != 2:
        raise SystemExit(__doc__)
    emulator_path, adapter_path = (os.path.abspath(path) for path in args)
    say(f"{BOLD}lambda-adapter demo{RESET}: a Python web app behind the adapter, in a local Lambda emulator")
    say(f"{DIM}(the emulator serves the Lambda Runtime and Extensions APIs, starts the adapter as an extension,")
    say(f"then the app, and turns plain HTTP requests into Function URL events){RESET}")
    # PORT is the app's port and, without AWS_LWA_PORT, the adapter's: a free one, not 8080, which
    # another server on this machine may hold.
    env = {"AWS_LWA_INVOKE_MODE": "response_stream", "PORT": str(free_port())}
    emulator = Emulator(emulator_path, adapter_path, ["python3", "examples/demo/app.py"], env)
    failed = None
    try:
        port = emulator.front_door()
        inspector = emulator.inspector()
        say(f"{BOLD}The inspector{RESET} lists every invocation as it happens: http://127.0.0.1:{inspector}/")
        demo(port, emulator)
    except (AssertionError, OSError, ValueError, KeyError) as err:
        failed = err
    finally:
        say()
        say(f"{BOLD}Stopping{RESET} (SIGTERM to the emulator: it stops the app, then the extension)")
        code = emulator.stop()
    if failed:
        say(f"{RED}demo failed: {failed}{RESET}")
        return 1
    if code not in (0, None):
        say(f"{RED}the emulator exited with status {code}{RESET}")
        return 1
    say(f"{GREEN}{BOLD}All 5 requests came back as expected.{RESET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
