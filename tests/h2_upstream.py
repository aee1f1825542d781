"""A tiny ASGI upstream for the h2c test, served by hypercorn (which speaks HTTP/2 prior knowledge).

It reports the HTTP version it saw, so the test proves the gateway used HTTP/2.
"""

from __future__ import annotations

import json
from typing import Any

FLOOD_CHUNK = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "x" * 16000}}]}).encode() + b"\n\n"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = json.loads(body or b"{}")
    version = scope.get("http_version", "?").encode()
    if request.get("flood"):  # stream `flood` big chunks as fast as the peer's flow-control window allows
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for _ in range(int(request["flood"])):
            await send({"type": "http.response.body", "body": FLOOD_CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    if request.get("stream"):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"x-http-version", version)]})
        for index in range(3):
            chunk = {"choices": [{"index": 0, "delta": {"content": f"t{index}"}}]}
            await send({"type": "http.response.body", "body": b"data: " + json.dumps(chunk).encode() + b"\n\n",
                        "more_body": True})
        usage = {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}}
        await send({"type": "http.response.body", "body": b"data: " + json.dumps(usage).encode() + b"\n\n",
                    "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    payload = json.dumps({"object": "chat.completion", "model": request.get("model"), "http_version": version.decode(),
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
                          "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})
