#!/usr/bin/env python3
"""`make examples-test` (covers PKG-5): runs every example app through the local Lambda emulator with the
adapter, sends real requests, and checks the answers.

    examples_test.py EMULATOR ADAPTER [EXAMPLE ...]

With no EXAMPLE, all of them. Each example gets a free port on 127.0.0.1 (AWS_LWA_PORT, which the
adapter and every example app read), so a server already on 8080 does not get in the way. What an
example needs is installed first: Python packages into venvs under target/examples/, npm packages
into the example's node_modules, Rust and Go builds into target/examples/, and missing system
tools with apt-get. An example whose package registry cannot be reached is skipped with one line;
any other failure fails it. Exits non-zero if any example failed.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

from emulator_run import ROOT, Emulator, request, say, server_sent_events

WORK = os.path.join(ROOT, "target", "examples")
# Bounds for an install or a build: a registry that hangs fails the example instead of the run.
INSTALL_TIMEOUT = 900
PROBE_TIMEOUT = 60


class Skip(Exception):
    """The example cannot run here for a reason outside it (a registry that cannot be reached)."""


def free_port():
    """A port on 127.0.0.1 that nothing listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*command, cwd=ROOT, env=None):
    say(f"  $ {' '.join(command)}")
    subprocess.run(command, cwd=cwd, check=True, timeout=INSTALL_TIMEOUT, env={**os.environ, **(env or {})})


def reachable(*probe):
    """Whether a registry answers, asked through its own client (the probe command)."""
    try:
        return subprocess.run(probe, capture_output=True, timeout=PROBE_TIMEOUT).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def install(command, probe, registry, cwd=ROOT, env=None):
    """Runs an install command; if it fails and the registry does not answer, the example is skipped."""
    try:
        run(*command, cwd=cwd, env=env)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        if not reachable(*probe):
            raise Skip(f"{registry} cannot be reached") from None
        raise


APT_UPDATED = []


def system_tool(command, package):
    """The path of a system command, installing its Debian package with apt-get when it is missing."""
    if shutil.which(command):
        return shutil.which(command)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Skip(f"needs {command} (Debian package {package}); install it, or run as root to let apt-get do it")
    apt = {"DEBIAN_FRONTEND": "noninteractive"}
    if not APT_UPDATED:
        install(["apt-get", "update", "-qq"], ["true"], "the Debian archive", env=apt)
        APT_UPDATED.append(True)
    install(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], ["apt-get", "update", "-qq"], "the Debian archive", env=apt)
    if not shutil.which(command):
        raise AssertionError(f"{package} did not install {command}")
    return shutil.which(command)


def python_venv(name, requirements):
    """A venv under target/examples with the example's requirements; returns its bin directory."""
    venv = os.path.join(WORK, f"{name}-venv")
    marker = os.path.join(venv, ".installed")
    if not os.path.exists(marker) or open(marker).read() != open(os.path.join(ROOT, requirements)).read():
        run(sys.executable, "-m", "venv", "--clear", venv)
        pip = os.path.join(venv, "bin", "pip")
        install([pip, "install", "--quiet", "-r", requirements], [pip, "index", "versions", "pip"], "PyPI")
        shutil.copyfile(os.path.join(ROOT, requirements), marker)
    return os.path.join(venv, "bin")


def npm_install(example):
    cwd = os.path.join(ROOT, "examples", example)
    # `npm ci` installs exactly the lockfile; a repeat run skips it when node_modules is there.
    if not os.path.exists(os.path.join(cwd, "node_modules", ".package-lock.json")):
        install(["npm", "ci", "--no-audit", "--no-fund", "--silent"], ["npm", "ping"], "the npm registry", cwd=cwd)
    return cwd


def with_path(bin_dir):
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def get(port, path, headers=None):
    _, response = request(port, "GET", path, headers=headers)
    return response.status, response.getheaders(), response.read()


def post(port, path, document, headers=None):
    _, response = request(port, "POST", path, json.dumps(document), {"content-type": "application/json", **(headers or {})})
    return response.status, response.getheaders(), response.read()


def post_raw(port, path, body, content_type, headers=None):
    _, response = request(port, "POST", path, body, {"content-type": content_type, **(headers or {})})
    return response.status, response.getheaders(), response.read()


def header(headers, name):
    """The value of a response header (the first one of that name), or None."""
    return next((value for key, value in headers if key.lower() == name), None)


def expect(condition, what):
    if not condition:
        raise AssertionError(what)
    say(f"    ok {what}")


# ---- one function per example: set-up (given the app's port), then checks against the running function ----
#
# A set-up returns (app command, extra environment, emulator options); the command runs in the
# example's directory. Every set-up that can starts the app with the example's own run.sh, the
# script a zip + layer deployment runs, so that the script is tested too.


def sse_python_setup(port):
    return ["./run.sh"], {"AWS_LWA_INVOKE_MODE": "response_stream"}, []


def sse_python_checks(port):
    _, response = request(port, "GET", "/stream?count=4&interval_ms=150")
    expect(response.status == 200 and response.getheader("content-type") == "text/event-stream", "an event stream")
    arrivals = list(server_sent_events(response))
    ticks = [e for _, e in arrivals if e.startswith(b"id:")]
    expect(len(ticks) == 4 and arrivals[-1][1].startswith(b"event: done"), "4 ticks, then done")
    expect(arrivals[3][0] - arrivals[0][0] > 0.3, "events arrived as written, not all at the end")
    status, _, page = get(port, "/")
    expect(status == 200 and b"EventSource" in page, "the page that subscribes")


def sqs_python_setup(port):
    return ["./run.sh"], {}, []


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


def java_setup(port):
    system_tool("javac", "default-jdk-headless")
    classes = os.path.join(WORK, "java-classes")
    os.makedirs(classes, exist_ok=True)
    run("javac", "--release", "17", "-d", classes, "examples/java/App.java")
    # The zip's layout: run.sh next to the classes.
    shutil.copy2(os.path.join(ROOT, "examples", "java", "run.sh"), classes)
    return [os.path.join(classes, "run.sh")], {}, ["--source", "v1"]


def java_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and body == b"Hello from Java behind lambda-adapter\n", "GET / through an API Gateway REST event")
    url = "https://example.com/docs?page=2&lang=en"
    status, headers, body = post_raw(port, "/links", url, "text/plain")
    location = header(headers, "location")
    expect(status == 201 and location == f"/l/{json.loads(body)['code']}", "POST /links made a short link, with its Location")
    status, headers, body = get(port, location)
    expect(status == 302 and header(headers, "location") == url and body == b"", "the short link redirects to the URL, query intact")
    status, _, body = get(port, "/links")
    expect(json.loads(body).get(location[3:]) == url, "GET /links lists it")
    status, _, body = post_raw(port, "/links", "ftp://example.com/x", "text/plain")
    expect(status == 400, "a URL that is not http(s) is a 400")
    status, _, body = get(port, "/l/nothing")
    expect(status == 404, "an unknown code is a 404")
    status, _, body = get(port, "/context")
    expect(re.fullmatch(r"[0-9a-f-]{36}", json.loads(body)["request_id"] or ""), "the app saw the Lambda request id")


def flask_setup(port):
    bin_dir = python_venv("flask", "examples/flask/requirements.txt")
    return ["./run.sh"], with_path(bin_dir), ["--source", "v1"]


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


TOKENS = ["You", " asked", " about", " streaming", " tokens", " through", " Lambda", "."]


def fastapi_setup(port):
    bin_dir = python_venv("fastapi", "examples/fastapi/requirements.txt")
    return ["./run.sh"], {**with_path(bin_dir), "AWS_LWA_INVOKE_MODE": "response_stream"}, []


def fastapi_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and json.loads(body)["models"] == ["echo-large", "echo-small"], "GET / through a Function URL event")
    status, _, body = get(port, "/models/echo-small?limit=3")
    expect(status == 200 and json.loads(body)["limit"] == 3, "a typed query parameter")
    status, _, body = get(port, "/models/echo-small?limit=many")
    expect(status == 422 and json.loads(body)["detail"][0]["loc"] == ["query", "limit"], "a bad one is FastAPI's 422")
    _, response = request(port, "POST", "/chat", json.dumps({"prompt": "streaming tokens through Lambda"}), {"content-type": "application/json"})
    expect(response.status == 200 and response.getheader("content-type").startswith("text/event-stream"), "POST /chat answers an event stream")
    arrivals = list(server_sent_events(response))
    data = [event.decode()[len("data: "):] for _, event in arrivals]
    expect(data[-1] == "[DONE]" and [json.loads(d)["token"] for d in data[:-1]] == TOKENS, "every token in order, then [DONE]")
    # 8 tokens 50 ms apart: streamed, the first arrives about 350 ms before the last.
    expect(arrivals[-2][0] - arrivals[0][0] > 0.25, "tokens arrived as they were generated, not all at the end")
    status, _, body = post(port, "/chat", {"prompt": ""})
    expect(status == 422, "an empty prompt is a 422")


def django_setup(port):
    bin_dir = python_venv("django", "examples/django/requirements.txt")
    # Django's development server, as the README runs it locally (the image runs gunicorn: run.sh).
    command = ["python3", "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    return command, with_path(bin_dir), ["--source", "v2"]


def django_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and b"Django runs on Lambda unchanged" in body, "GET / rendered a template through an HTTP API event")
    status, _, body = post(port, "/api/notes", {"text": "from the API"})
    expect(status == 201 and json.loads(body) == {"id": 2, "text": "from the API"}, "POST /api/notes added a note")
    status, _, body = get(port, "/api/notes/2")
    expect(status == 200 and json.loads(body)["text"] == "from the API", "GET /api/notes/2 finds it")
    status, _, body = get(port, "/api/notes/99")
    expect(status == 404, "a missing note is a 404")
    status, headers, page = get(port, "/notes/new")
    cookie = next((v.split(";")[0] for k, v in headers if k.lower() == "set-cookie" and v.startswith("csrftoken=")), None)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    expect(status == 200 and cookie and token, "the form page set the CSRF cookie and token")
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1).decode(), "text": "from the form & more"})
    browser = {"cookie": cookie, "origin": f"http://127.0.0.1:{port}"}
    status, headers, _ = post_raw(port, "/notes/new", form, "application/x-www-form-urlencoded", browser)
    expect(status == 302 and header(headers, "location") == "/", "the form POST with cookie and token redirected")
    status, _, body = get(port, "/")
    expect(b"from the form &amp; more" in body, "the form's note is on the page")
    status, _, _ = post_raw(port, "/notes/new", "text=forged", "application/x-www-form-urlencoded")
    expect(status == 403, "a POST without the CSRF token is refused")


def express_setup(port):
    npm_install("express")
    return ["./run.sh"], {}, ["--source", "v2"]


def express_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and body.startswith(b"Hello from Express"), "GET / through an HTTP API event")
    status, _, body = post(port, "/todos", {"title": "write tests"})
    expect(status == 201 and json.loads(body)["id"] == 2, "POST /todos created a todo")
    status, headers, body = get(port, "/login", {"cookie": "a=1; b=2"})
    cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    expect(len(cookies) == 2, "both Set-Cookie headers came back")
    expect(json.loads(body)["cookieHeader"] == "a=1; b=2", "the request's cookies reached the app")


def nextjs_setup(port):
    cwd = npm_install("nextjs")
    standalone = os.path.join(cwd, ".next", "standalone")
    env = {"NEXT_TELEMETRY_DISABLED": "1"}
    run("npm", "run", "build", "--silent", cwd=cwd, env=env)
    # The deployment's layout (the README's steps): the standalone server, its static assets, run.sh.
    shutil.copytree(os.path.join(cwd, ".next", "static"), os.path.join(standalone, ".next", "static"), dirs_exist_ok=True)
    shutil.copy2(os.path.join(cwd, "run.sh"), standalone)
    return [os.path.join(standalone, "run.sh")], env, []


def nextjs_checks(port):
    status, _, page = get(port, "/")
    first = re.search(rb"Rendered for request (?:<!-- -->)?([0-9a-f-]{36})", page)
    expect(status == 200 and b"Simplicity is prerequisite" in page and first, "GET / rendered on the server, with the request id")
    _, _, page = get(port, "/")
    second = re.search(rb"Rendered for request (?:<!-- -->)?([0-9a-f-]{36})", page)
    expect(second and second.group(1) != first.group(1), "rendered again for the next request")
    script = re.search(rb'src="(/_next/static/[^"]+\.js)"', page)
    status, headers, body = get(port, script.group(1).decode()) if script else (None, [], b"")
    expect(status == 200 and "javascript" in (header(headers, "content-type") or "") and body, "a static asset of the page is served")
    status, _, body = post(port, "/api/quotes", {"text": "Ship it.", "by": "someone"})
    expect(status == 201 and json.loads(body)["id"] == 3, "POST /api/quotes (a route handler) added a quote")
    status, _, body = get(port, "/api/quotes")
    expect([q["id"] for q in json.loads(body)] == [1, 2, 3], "GET /api/quotes lists three")
    status, _, page = get(port, "/quotes/3")
    expect(status == 200 and b"Ship it." in page, "the dynamic route renders the new quote")
    status, _, _ = get(port, "/quotes/99")
    expect(status == 404, "notFound() is a 404")


def axum_setup(port):
    target = os.path.join(WORK, "axum-target")
    install(["cargo", "build", "--quiet", "--release", "--manifest-path", "examples/axum/Cargo.toml", "--target-dir", target], ["cargo", "info", "axum"], "crates.io")
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


def go_setup(port):
    go = system_tool("go", "golang-go")
    binary = os.path.join(WORK, "go", "app")
    # Standard library only: nothing to download, and GOTOOLCHAIN=local keeps Go from fetching one.
    env = {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "GOCACHE": os.path.join(WORK, "go", "cache")}
    run(go, "build", "-trimpath", "-o", binary, ".", cwd=os.path.join(ROOT, "examples", "go"), env=env)
    return [binary], {"AWS_LWA_INVOKE_MODE": "response_stream"}, []


def go_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and body == b"Hello from Go net/http behind lambda-adapter\n", "GET / through a Function URL event")
    status, headers, body = post(port, "/api/tasks", {"title": "ship the Go example"})
    location = header(headers, "location")
    expect(status == 201 and location == "/api/tasks/2", "POST /api/tasks created a task, with its Location")
    status, _, body = get(port, location)
    expect(json.loads(body) == {"id": 2, "title": "ship the Go example", "done": False}, "the new task is there")
    status, _, body = get(port, "/api/tasks")
    expect([t["id"] for t in json.loads(body)] == [1, 2], "GET /api/tasks lists both")
    status, _, _ = get(port, "/api/tasks/9")
    expect(status == 404, "a missing task is a 404")
    status, _, _ = post(port, "/api/tasks", {"name": "no title"})
    expect(status == 400, "a task without a title is a 400")
    _, response = request(port, "GET", "/events?count=4")
    expect(response.status == 200 and response.getheader("content-type") == "text/event-stream", "GET /events is an event stream")
    arrivals = list(server_sent_events(response))
    steps = [json.loads(e.split(b"data: ")[1]) for _, e in arrivals if e.startswith(b"id:")]
    expect([s["step"] for s in steps] == [1, 2, 3, 4] and arrivals[-1][1].startswith(b"event: done"), "4 steps, then done")
    expect(arrivals[3][0] - arrivals[0][0] > 0.3, "events arrived as they were flushed, not all at the end")


def php_setup(port):
    system_tool("php", "php-cli")
    return ["./run.sh"], {"AWS_LWA_READINESS_CHECK_PATH": "/health"}, ["--source", "alb-multi"]


def multipart(fields, files):
    """A multipart/form-data body: (content type, bytes)."""
    boundary = "----lambda-adapter-example-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n")
    for name, (filename, content_type, data) in files.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    return f"multipart/form-data; boundary={boundary}", b"".join(parts) + f"--{boundary}--\r\n".encode()


def php_checks(port):
    status, _, body = get(port, "/")
    expect(status == 200 and b"<h1>Guestbook</h1>" in body, "GET / through an ALB event (multi-value headers)")
    form = urllib.parse.urlencode({"name": "Ada", "message": "hello from Lambda <3"})
    status, headers, _ = post_raw(port, "/guestbook", form, "application/x-www-form-urlencoded")
    expect(status == 303 and header(headers, "location") == "/", "the form POST was taken, 303 to /")
    status, _, body = get(port, "/")
    expect(b"<li>Ada: hello from Lambda &lt;3</li>" in body, "the entry is on the page, escaped")
    status, _, _ = post_raw(port, "/guestbook", "name=Ada", "application/x-www-form-urlencoded")
    expect(status == 400, "a form without a message is a 400")
    # Every byte value, and more than a little: a multipart body arrives base64 in the event.
    data = bytes(range(256)) * 128 + hashlib.sha256(b"lambda-adapter").digest()
    content_type, body = multipart({"note": "caf\u00e9 \u2713"}, {"file": ("data.bin", "application/octet-stream", data)})
    status, _, answer = post_raw(port, "/upload", body, content_type)
    received = json.loads(answer) if status == 200 else {}
    expect(received.get("size") == len(data) and received.get("sha256") == hashlib.sha256(data).hexdigest(), f"the {len(data)}-byte upload arrived byte for byte")
    expect(received.get("name") == "data.bin" and received.get("note") == "caf\u00e9 \u2713", "its file name and the UTF-8 form field too")
    status, _, _ = post_raw(port, "/upload", *reversed(multipart({"note": "no file"}, {})))
    expect(status == 400, "an upload without a file is a 400")


def nginx_setup(port):
    system_tool("nginx", "nginx")
    system_tool("brotli", "brotli")  # to check the br answers
    env = {"AWS_LWA_READINESS_CHECK_PATH": "/healthz", "AWS_LWA_ENABLE_COMPRESSION": "true"}
    return ["./run.sh"], env, []


def site_file(path):
    with open(os.path.join(ROOT, "examples", "nginx", "site", path), "rb") as f:
        return f.read()


def nginx_checks(port):
    status, _, body = get(port, "/healthz")
    expect(status == 200 and body == b"ok\n", "the readiness path answers")
    status, headers, body = get(port, "/", {"accept-encoding": "gzip"})
    expect(status == 200 and header(headers, "content-encoding") == "gzip", "GET / with accept-encoding gzip is gzip")
    expect(gzip.decompress(body) == site_file("index.html"), "which unpacks to index.html")
    status, headers, body = get(port, "/css/site.css", {"accept-encoding": "br"})
    expect(status == 200 and header(headers, "content-encoding") == "br", "the stylesheet with accept-encoding br is br")
    unpacked = subprocess.run(["brotli", "-d", "-c"], input=body, capture_output=True, timeout=30).stdout
    expect(unpacked == site_file("css/site.css") and len(body) < len(unpacked), "which unpacks to the stylesheet, and is smaller")
    expect(header(headers, "cache-control") == "public, max-age=86400", "nginx's own headers kept")
    status, headers, body = get(port, "/img/logo.png", {"accept-encoding": "gzip, br"})
    expect(status == 200 and header(headers, "content-encoding") is None and body == site_file("img/logo.png"), "an image is never compressed")
    status, headers, body = get(port, "/about")
    expect(status == 200 and header(headers, "content-encoding") is None and body == site_file("about.html"), "a clean URL, plain without accept-encoding")
    status, _, body = get(port, "/docs/")
    expect(status == 200 and body == site_file("docs/index.html"), "a directory index")
    status, _, body = get(port, "/missing")
    expect(status == 404 and body == site_file("404.html"), "a missing page is the site's 404 page")


EXAMPLES = {
    "sse-python": (sse_python_setup, sse_python_checks),
    "sqs-python": (sqs_python_setup, sqs_python_checks),
    "java": (java_setup, java_checks),
    "flask": (flask_setup, flask_checks),
    "fastapi": (fastapi_setup, fastapi_checks),
    "django": (django_setup, django_checks),
    "express": (express_setup, express_checks),
    "nextjs": (nextjs_setup, nextjs_checks),
    "axum": (axum_setup, axum_checks),
    "go": (go_setup, go_checks),
    "php": (php_setup, php_checks),
    "nginx": (nginx_setup, nginx_checks),
}


def test_example(name, emulator_path, adapter_path):
    """'passed', 'failed' or 'skipped'."""
    setup, checks = EXAMPLES[name]
    say(f"== {name}")
    started = time.monotonic()
    os.makedirs(WORK, exist_ok=True)
    port = free_port()
    try:
        command, env, options = setup(port)
    except Skip as why:
        say(f"   {name}: skipped: {why}")
        return "skipped"
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, AssertionError) as err:
        say(f"   {name}: FAILED: set-up: {err}")
        return "failed"
    # AWS_LWA_PORT tells both the adapter and the app which port to use.
    env = {**env, "AWS_LWA_PORT": str(port)}
    emulator = Emulator(emulator_path, adapter_path, command, env, cwd=os.path.join(ROOT, "examples", name), options=options)
    failure = None
    try:
        checks(emulator.front_door())
    except (AssertionError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
        failure = f"{type(err).__name__}: {err}"
    finally:
        code = emulator.stop()
    if failure is None and code not in (0, None):
        failure = f"the emulator exited with status {code}"
    say(f"   {name}: {'FAILED: ' + failure if failure else 'passed'} ({time.monotonic() - started:.1f} s)")
    return "failed" if failure else "passed"


def main(args):
    if len(args) < 2:
        raise SystemExit(__doc__)
    emulator_path, adapter_path = os.path.abspath(args[0]), os.path.abspath(args[1])
    names = args[2:] or list(EXAMPLES)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        raise SystemExit(f"unknown examples: {', '.join(unknown)} (known: {', '.join(EXAMPLES)})")
    results = [test_example(name, emulator_path, adapter_path) for name in names]
    say(f"{results.count('passed')} passed, {results.count('failed')} failed, {results.count('skipped')} skipped")
    return 1 if "failed" in results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
