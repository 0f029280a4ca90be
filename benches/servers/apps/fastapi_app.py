"""The bench's small app in FastAPI, served by uvicorn (bench scenario (h)).

`GET /small` answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, `POST /echo` the request body back.
"""

import os

from fastapi import FastAPI, Request, Response

with open(os.environ["BENCH_SMALL_JSON"], "rb") as small_file:
    SMALL = small_file.read()

app = FastAPI()


@app.get("/small")
async def small():
    return Response(SMALL, media_type="application/json")


@app.post("/echo")
async def echo(request: Request):
    return Response(await request.body(), media_type="text/plain")
