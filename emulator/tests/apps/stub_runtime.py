#!/usr/bin/env python3
"""A Lambda runtime that takes each invocation and never answers it: the function that always
times out. Python's default SIGTERM action ends it."""

import os
import sys
import time
import urllib.request

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
with urllib.request.urlopen("http://%s/2018-06-01/runtime/invocation/next" % api) as response:
    request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
sys.stderr.write("runtime got invocation %s and will not answer\n" % request_id)
sys.stderr.flush()
while True:
    time.sleep(60)
