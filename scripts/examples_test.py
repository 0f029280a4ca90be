#!/usr/bin/env python3
"""`make examples-test` (covers PKG-5): runs every example app through the local Lambda emulator with the adapter,
sends real requests, and checks the answers.

    examples_test.py EMULATOR ADAPTER [EXAMPLE ...]

With no EXAMPLE, all of them. Examples that need packages install them first (PyPI, npm, crates.io)
into target/examples/. Exits non-zero if any check fails.
"""

import json
import os
import subprocess
import sys

from emulator_run import ROOT, Emulator, request, say, server_sent_events

WORK = os.path.join(ROOT, "target", "examples")


def run(*command, cwd=ROOT):
    say(f"  $ {' '.join(command)}")
    subprocess.run(command, cwd=cwd, check=True)


def get(port, path, headers=None):
    _, response = request(port, "GET", path, headers=headers)
    return response.status, response.getheaders(), response.read()


def post(port, path, document, headers=None):
    _, response = request(port, "POST", path, json.dumps(document), {"content-type": "application/json", **(headers or {})})
    return response.status, response.getheaders(), response.read()


def expect(condition, what):
    if not condition:
        raise AssertionError(what)
    say(f"    ok {what}")


# ---- one function per example: set-up, then checks against the running function ----


def sse_python_setup():
    return ["python3", "app.py"], {"AWS_LWA_INVOKE_MODE": "response_stream"}, []


def sse_python_checks(port):
    _, response = request(port, "GET", "/stream?count=4&interval_ms=150")
    expect(response.status == 200 and response.getheader("content-type") == "text/event-stream", "an event stream")
    arrivals = list(server_sent_events(response))
    ticks = [e for _, e in arrivals if e.startswith(b"id:")]
    expect(len(ticks) == 4 and arrivals[-1][1].startswith(b"event: done"), "4 ticks, then done")
    expect(arrivals[3][0] - arrivals[0][0] > 0.3, "events arrived as written, not all at the end")
    status, _, page = get(port, "/")
    expect(status == 200 and b"EventSource" in page, "the page that subscribes")


def sqs_python_setup():
    return ["python3", "app.py"], {}, []


def sqs_python_checks(port):
    event = {
        "Records": [
            {"messageId": "1", "eventSource": "aws:sqs", "body": json.dumps({"id": "A1", "item": "tea", "quantity": 2})},
            {"messageId": "2", "eventSource": "aws:sqs", "body": json.dumps({"id": "A2", "item": "cake", "quantity": 0})},
            {"messageId": "3", "eventSource": "aws:sqs", "body": "not json"},
        ]
    }
    status, _, body = post(port, "/2015-03-31/functions/function/invocations", event)
    expect(status == 200, "the raw-event endpoint answered 200")
    expect(json.loads(body) == {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]}, "messages 2 and 3 reported as failures")


def flask_setup():
    venv = os.path.join(WORK, "flask-venv")
    if not os.path.exists(os.path.join(venv, "bin", "gunicorn")):
        run("python3", "-m", "venv", venv)
        run(os.path.join(venv, "bin", "pip"), "install", "--quiet", "-r", "examples/flask/requirements.txt")
    command = [os.path.join(venv, "bin", "gunicorn"), "--bind", "127.0.0.1:8080", "--threads", "4", "app:app"]
    return command, {}, ["--source", "v1"]


def flask_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and body == b"Hello from Flask behind lambda-adapter\n", "GET / through an API Gateway REST event")
    status, _, body = post(port, "/books", {"title": "Refactoring"})
    expect(status == 201 and json.loads(body)["title"] == "Refactoring", "POST /books created a book")
    status, _, body = get(port, "/books/3")
    expect(status == 200 and json.loads(body)["id"] == 3, "the new book is there")
    status, _, body = get(port, "/books/99")
    expect(status == 404, "a missing book is a 404")
    status, _, body = get(port, "/search?tag=a%20b&tag=c%2Bd&q=x")
    expect(json.loads(body) == {"tags": ["a b", "c+d"], "q": "x"}, "repeated query keys, spaces and plus signs kept")


def express_setup():
    if not os.path.exists(os.path.join(ROOT, "examples", "express", "node_modules", "express")):
        run("npm", "install", "--no-audit", "--no-fund", "--silent", cwd=os.path.join(ROOT, "examples", "express"))
    return ["node", "index.js"], {}, ["--source", "v2"]


def express_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and body.startswith(b"Hello from Express"), "GET / through an HTTP API event")
    status, _, body = post(port, "/todos", {"title": "write tests"})
    expect(status == 201 and json.loads(body)["id"] == 2, "POST /todos created a todo")
    status, headers, body = get(port, "/login", {"cookie": "a=1; b=2"})
    cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    expect(len(cookies) == 2, "both Set-Cookie headers came back")
    expect(json.loads(body)["cookieHeader"] == "a=1; b=2", "the request's cookies reached the app")


def axum_setup():
    target = os.path.join(WORK, "axum-target")
    run("cargo", "build", "--quiet", "--release", "--manifest-path", "examples/axum/Cargo.toml", "--target-dir", target)
    return [os.path.join(target, "release", "axum-example")], {}, ["--source", "alb"]


def axum_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and body.startswith(b"Hello from axum"), "GET / through an ALB event")
    status, _, body = get(port, "/hello/ferris?lang=en")
    expect(json.loads(body) == {"hello": "ferris", "lang": "en"}, "path and query parameters")
    status, _, body = post(port, "/greet", {"name": "Lambda"})
    expect(status == 201 and json.loads(body)["greeting"] == "Hi, Lambda!", "a JSON POST")
    status, _, body = get(port, "/context")
    expect(json.loads(body)["request_id"], "the app saw the Lambda request id")


EXAMPLES = {
    "sse-python": (sse_python_setup, sse_python_checks),
    "sqs-python": (sqs_python_setup, sqs_python_checks),
    "flask": (flask_setup, flask_checks),
    "express": (express_setup, express_checks),
    "axum": (axum_setup, axum_checks),
}


def test_example(name, emulator_path, adapter_path):
    setup, checks = EXAMPLES[name]
    say(f"== {name}")
    os.makedirs(WORK, exist_ok=True)
    command, env, options = setup()
    emulator = Emulator(emulator_path, adapter_path, command, env, cwd=os.path.join(ROOT, "examples", name), options=options)
    failure = None
    try:
        port = emulator.front_door()
        checks(port)
    except (AssertionError, OSError, ValueError, KeyError, IndexError) as err:
        failure = err
    finally:
        code = emulator.stop()
    if failure is None and code not in (0, None):
        failure = f"the emulator exited with status {code}"
    say(f"   {name}: {'FAILED: ' + str(failure) if failure else 'passed'}")
    return failure is None


def main(args):
    if len(args) < 2:
        raise SystemExit(__doc__)
    emulator_path, adapter_path = os.path.abspath(args[0]), os.path.abspath(args[1])
    names = args[2:] or list(EXAMPLES)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        raise SystemExit(f"unknown examples: {', '.join(unknown)} (known: {', '.join(EXAMPLES)})")
    passed = sum(test_example(name, emulator_path, adapter_path) for name in names)
    say(f"{passed} passed, {len(names) - passed} failed")
    return 0 if passed == len(names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
