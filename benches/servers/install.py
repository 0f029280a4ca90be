#!/usr/bin/env python3
"""Installs the real web servers of the bench's scenario (h) and writes the manifest that the bench
reads (SPEC IDs measured: EVT-1, RSP-1 on real servers; ERR-5 for the servers that write a
response's head and body in two writes with Nagle's algorithm on).

Usage: install.py OUT_DIR

Each server runs the same small app (apps/): `GET /small` answers the ~100 bytes of JSON in
apps/small.json, `POST /echo` echoes the request body. What a server needs comes from the
registries: Python packages into a venv under OUT_DIR (Django, Flask, gunicorn, FastAPI, uvicorn
from PyPI), Express from npm into OUT_DIR/node, and php-cli, nginx and golang-go from Debian with
apt-get when their commands are missing. A server that cannot be installed is skipped with one line,
here and in the bench's report. A second run reuses what the first installed.

OUT_DIR/manifest.json lists, per server, the command that starts it ({port} stands for its port),
its variables, whether it answers the POST, and its version.

Environment: LWA_BENCH_SERVERS=django,go installs (and benches) only the servers named;
LWA_BENCH_ONLY, when set without `h`, makes this a no-op (the bench will not run the scenario).
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
SMALL_JSON = os.path.join(APPS, "small.json")
PYTHON_PACKAGES = ["django", "flask", "gunicorn", "fastapi", "uvicorn"]
# Debian package of each system command a server needs.
DEBIAN = {"php": "php-cli", "nginx": "nginx", "go": "golang-go"}
# Bounds on each install step, so that a registry that hangs cannot hold the bench.
INSTALL_TIMEOUT = 600
BUILD_TIMEOUT = 300
# The servers that write a response's head and body in two writes with Nagle's algorithm on, on
# kept-alive connections: SPEC ERR-5's case (the others set TCP_NODELAY, write once, or close).
SPLIT_WRITE = {"http.server", "django", "jdk"}
# The order of the matrix: the two split-write servers of ERR-5 first.
ORDER = ["http.server", "django", "flask", "gunicorn", "uvicorn", "node", "express", "php", "nginx", "go", "jdk"]


class Skip(Exception):
    """A server that cannot be had here; the message is the one line that says why."""


def log(line):
    print(f"bench servers: {line}", flush=True)


def run(command, log_path, timeout, cwd=None, env=None):
    """Runs `command` with its output appended to `log_path`; raises Skip when it fails."""
    with open(log_path, "ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  cwd=cwd, env=env, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise Skip(f"`{command[0]}` failed: {err} (see {log_path})") from err
    if done.returncode != 0:
        raise Skip(f"`{' '.join(command[:4])}` exited with {done.returncode} (see {log_path})")


def output(command):
    """The first line of a command's output, or '' when it cannot run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else ""


class Installer:
    def __init__(self, out):
        self.out = out
        self.log_path = os.path.join(out, "install.log")
        self.apt_updated = False
        self.venv_result = None

    def system_tool(self, command):
        """The path of a system command, installing its Debian package when it is missing."""
        found = shutil.which(command)
        if found:
            return found
        package = DEBIAN[command]
        if not shutil.which("apt-get"):
            raise Skip(f"needs `{command}` (Debian package {package}), and there is no apt-get to install it")
        if os.geteuid() != 0:
            raise Skip(f"needs `{command}` (Debian package {package}); installing it with apt-get needs root")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if not self.apt_updated:
            self.apt_updated = True
            run(["apt-get", "update", "-qq"], self.log_path, INSTALL_TIMEOUT, env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], self.log_path,
            INSTALL_TIMEOUT, env=env)
        found = shutil.which(command)
        if not found:
            raise Skip(f"`{command}` is still missing after installing {package}")
        return found

    def venv(self):
        """The venv's bin directory and the packages' versions; installed once per run."""
        if self.venv_result is None:
            try:
                self.venv_result = ("ok", self.make_venv())
            except Skip as skip:
                self.venv_result = ("skip", str(skip))
        kind, value = self.venv_result
        if kind == "skip":
            raise Skip(value)
        return value

    def make_venv(self):
        venv = os.path.join(self.out, "venv")
        bin_dir = os.path.join(venv, "bin")
        marker = os.path.join(venv, ".installed")
        wanted = " ".join(PYTHON_PACKAGES)
        installed = open(marker, encoding="utf-8").read() if os.path.exists(marker) else ""
        if installed != wanted:
            run([sys.executable, "-m", "venv", "--clear", venv], self.log_path, BUILD_TIMEOUT)
            run([os.path.join(bin_dir, "pip"), "install", "--quiet", "--disable-pip-version-check", *PYTHON_PACKAGES],
                self.log_path, INSTALL_TIMEOUT)
            with open(marker, "w", encoding="utf-8") as f:
                f.write(wanted)
        probe = "import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in %r}))" % PYTHON_PACKAGES
        try:
            versions = json.loads(output([os.path.join(bin_dir, "python"), "-c", probe]) or "{}")
        except ValueError:
            versions = {}
        return bin_dir, versions

    # Each server: (argv with {port}, extra variables, answers the POST, version).

    def http_server(self):
        # The venv's interpreter, as for the other Python servers; this one needs no package.
        try:
            python = os.path.join(self.venv()[0], "python")
        except Skip:
            python = sys.executable
        version = output([python, "--version"])
        return [python, os.path.join(APPS, "http_server.py"), "{port}"], {}, True, f"{version}, HTTP/1.1, a thread per connection"

    def django(self):
        bin_dir, versions = self.venv()
        argv = [os.path.join(bin_dir, "python"), "-m", "django", "runserver", "127.0.0.1:{port}", "--noreload"]
        env = {"DJANGO_SETTINGS_MODULE": "bench_django", "PYTHONPATH": APPS}
        return argv, env, True, f"Django {versions.get('django', '?')} runserver (threaded)"

    def flask(self):
        bin_dir, versions = self.venv()
        argv = [os.path.join(bin_dir, "flask"), "--app", "flask_app", "run", "--host", "127.0.0.1", "--port", "{port}"]
        return argv, {"PYTHONPATH": APPS}, True, f"Flask {versions.get('flask', '?')} development server (threaded)"

    def gunicorn(self):
        bin_dir, versions = self.venv()
        argv = [os.path.join(bin_dir, "gunicorn"), "--worker-class", "sync", "--workers", "1",
                "--bind", "127.0.0.1:{port}", "--chdir", APPS, "flask_app:app"]
        return argv, {}, True, f"gunicorn {versions.get('gunicorn', '?')}, one sync worker, the Flask app (closes every connection)"

    def uvicorn(self):
        bin_dir, versions = self.venv()
        argv = [os.path.join(bin_dir, "uvicorn"), "--app-dir", APPS, "--host", "127.0.0.1", "--port", "{port}", "fastapi_app:app"]
        return argv, {}, True, f"uvicorn {versions.get('uvicorn', '?')} (h11), FastAPI {versions.get('fastapi', '?')}"

    def node(self):
        node = shutil.which("node")
        if not node:
            raise Skip("needs `node` (Debian package nodejs)")
        return [node, os.path.join(APPS, "node_http.js"), "{port}"], {}, True, f"Node {output([node, '--version'])} http"

    def express(self):
        node = shutil.which("node")
        npm = shutil.which("npm")
        if not node or not npm:
            raise Skip("needs `node` and `npm` (Debian packages nodejs, npm)")
        prefix = os.path.join(self.out, "node")
        package = os.path.join(prefix, "node_modules", "express", "package.json")
        if not os.path.exists(package):
            os.makedirs(prefix, exist_ok=True)
            run([npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--silent", "express"], self.log_path,
                INSTALL_TIMEOUT)
        with open(package, encoding="utf-8") as f:
            version = json.load(f).get("version", "?")
        env = {"NODE_PATH": os.path.join(prefix, "node_modules")}
        return [node, os.path.join(APPS, "express_app.js"), "{port}"], env, True, f"Express {version} on Node {output([node, '--version'])}"

    def php(self):
        php = self.system_tool("php")
        argv = [php, "-S", "127.0.0.1:{port}", os.path.join(APPS, "router.php")]
        return argv, {}, True, f"{' '.join(output([php, '--version']).split()[:2])} built-in server (closes every connection)"

    def nginx(self):
        nginx = self.system_tool("nginx")
        work = os.path.join(self.out, "nginx")
        os.makedirs(work, exist_ok=True)
        # nginx's workers run as another user when it is started as root: its files are readable by all.
        os.chmod(work, 0o755)
        small = os.path.join(work, "small.json")
        shutil.copyfile(SMALL_JSON, small)
        os.chmod(small, 0o644)
        script = os.path.join(work, "run.sh")
        with open(script, "w", encoding="utf-8") as f:
            f.write(f"""#!/bin/sh
# Written by benches/servers/install.py: nginx in the foreground on port $1.
set -eu
tmp="{work}/$1"
mkdir -p "$tmp"
chmod 755 "$tmp"
sed -e "s|__PORT__|$1|g" -e "s|__SMALL__|{small}|g" -e "s|__TMP__|$tmp|g" "{APPS}/nginx.conf" > "$tmp/nginx.conf"
exec "{nginx}" -e stderr -p "$tmp" -c "$tmp/nginx.conf"
""")
        os.chmod(script, 0o755)
        version = output([nginx, "-v"]).replace("nginx version: ", "")
        return [script, "{port}"], {}, False, f"{version}, a static file (no POST: nginx cannot echo a body without modules)"

    def go(self):
        go = self.system_tool("go")
        work = os.path.join(self.out, "go")
        os.makedirs(work, exist_ok=True)
        binary = os.path.join(work, "app")
        # Standard library only: GOTOOLCHAIN=local and GOPROXY=off keep Go from fetching anything.
        env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOPROXY="off", GO111MODULE="off",
                   GOCACHE=os.path.join(work, "cache"))
        run([go, "build", "-o", binary, os.path.join(APPS, "main.go")], self.log_path, BUILD_TIMEOUT, env=env)
        return [binary, "{port}"], {}, True, f"{output([go, 'version']).replace('go version ', '')} net/http"

    def jdk(self):
        java, javac = shutil.which("java"), shutil.which("javac")
        if not java or not javac:
            raise Skip("needs a JDK (`java` and `javac`)")
        work = os.path.join(self.out, "java")
        os.makedirs(work, exist_ok=True)
        run([javac, "-d", work, os.path.join(APPS, "BenchServer.java")], self.log_path, BUILD_TIMEOUT)
        version = output([java, "-version"])
        return [java, "-cp", work, "BenchServer", "{port}"], {}, True, f"JDK HttpServer ({version})"


def main(args):
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    only = os.environ.get("LWA_BENCH_ONLY", "")
    if only and "h" not in [s.strip() for s in only.split(",")]:
        log(f"LWA_BENCH_ONLY={only} leaves out (h): nothing to install")
        return 0
    out = os.path.abspath(args[0])
    os.makedirs(out, exist_ok=True)
    installer = Installer(out)
    wanted = [s.strip() for s in os.environ.get("LWA_BENCH_SERVERS", "").split(",") if s.strip()]
    unknown = [name for name in wanted if name not in ORDER]
    if unknown:
        log(f"unknown in LWA_BENCH_SERVERS: {', '.join(unknown)} (known: {', '.join(ORDER)})")
    servers, skipped = [], []
    for name in ORDER:
        if wanted and name not in wanted:
            continue
        try:
            argv, env, post, version = getattr(installer, name.replace(".", "_"))()
        except Skip as skip:
            log(f"{name}: skipped: {skip}")
            skipped.append({"name": name, "reason": str(skip)})
            continue
        env = dict(env, BENCH_SMALL_JSON=SMALL_JSON)
        servers.append({"name": name, "argv": argv, "env": env, "post": post, "split_write": name in SPLIT_WRITE,
                        "version": version})
        log(f"{name}: {version}")
    manifest = {"small_json": SMALL_JSON, "servers": servers, "skipped": skipped}
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    log(f"{len(servers)} ready, {len(skipped)} skipped: {os.path.join(out, 'manifest.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
