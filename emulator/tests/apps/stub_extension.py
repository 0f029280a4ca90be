#!/usr/bin/env python3
"""An external extension for the emulator's tests, chosen by $STUB_EXTENSION_MODE:
  shutdown (default)  registers for SHUTDOWN, waits for it, says so on stderr, exits 0
  exit                exits with status 3 without registering
  silent              never registers (sleeps)
"""

import json
import os
import sys
import time
import urllib.request

mode = os.environ.get("STUB_EXTENSION_MODE", "shutdown")
if mode == "exit":
    sys.stderr.write("extension gives up\n")
    sys.exit(3)
if mode == "silent":
    while True:
        time.sleep(60)

base = "http://%s/2020-01-01/extension" % os.environ["AWS_LAMBDA_RUNTIME_API"]
register = urllib.request.Request(
    base + "/register",
    data=json.dumps({"events": ["SHUTDOWN"]}).encode(),
    headers={"Lambda-Extension-Name": os.path.basename(sys.argv[0])},
    method="POST",
)
with urllib.request.urlopen(register) as response:
    identifier = response.headers["Lambda-Extension-Identifier"]
while True:
    next_event = urllib.request.Request(
        base + "/event/next", headers={"Lambda-Extension-Identifier": identifier}
    )
    with urllib.request.urlopen(next_event) as response:
        event = json.load(response)
    if event.get("eventType") == "SHUTDOWN":
        sys.stderr.write("extension got SHUTDOWN %s\n" % event.get("shutdownReason"))
        sys.stderr.flush()
        sys.exit(0)
