"""A FastAPI app with an LLM-style chat endpoint, unchanged for Lambda (SPEC PKG-5).

POST /chat {"prompt": "..."}  the reply as server-sent events, one token per event, then [DONE]
GET  /models/{name}           a typed path parameter (FastAPI answers 422 for a bad one)
GET  /                        what this is

The tokens come from a canned generator that waits between tokens as a model would; behind
lambda-adapter with AWS_LWA_INVOKE_MODE=response_stream each one reaches the client as soon as it is
written, through a Function URL with InvokeMode RESPONSE_STREAM.
"""

import asyncio
import json

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

app = FastAPI(title="chat")

MODELS = {"echo-small": 0.05, "echo-large": 0.12}


class Chat(BaseModel):
    prompt: str = Field(min_length=1, max_length=2000)
    model: str = "echo-small"


def reply_to(prompt):
    """What the pretend model answers: deterministic, so that a test can check every token."""
    words = prompt.split()
    return ["You", " asked", " about", *[f" {w}" for w in words[:12]], "."]


async def tokens(chat, delay):
    for index, token in enumerate(reply_to(chat.prompt)):
        await asyncio.sleep(delay)
        yield f"data: {json.dumps({'index': index, 'token': token})}\n\n"
    yield "data: [DONE]\n\n"


@app.get("/")
async def index():
    return {"app": "chat", "models": sorted(MODELS), "try": "POST /chat {\"prompt\": \"...\"}"}


@app.get("/models/{name}")
async def model(name: str, limit: int = 10):
    if name not in MODELS:
        raise HTTPException(status_code=404, detail=f"no model {name}")
    return {"name": name, "seconds_per_token": MODELS[name], "limit": limit}


@app.post("/chat")
async def chat(chat: Chat):
    if chat.model not in MODELS:
        raise HTTPException(status_code=404, detail=f"no model {chat.model}")
    # Tell proxies not to buffer, as a real streaming endpoint would.
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(tokens(chat, MODELS[chat.model]), media_type="text/event-stream", headers=headers)
