"""The bench's small app in Flask, served by Flask's development server (`flask run`) and by
gunicorn's sync worker (bench scenario (h)).

`GET /small` answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, `POST /echo` the request body back.
"""

import os

from flask import Flask, Response, request

with open(os.environ["BENCH_SMALL_JSON"], "rb") as small_file:
    SMALL = small_file.read()

app = Flask(__name__)


@app.get("/small")
def small():
    return Response(SMALL, mimetype="application/json")


@app.post("/echo")
def echo():
    return Response(request.get_data(), mimetype="text/plain")
