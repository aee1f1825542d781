"""Stored responses: only complete ones; replay parsed by the official openai SDK over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web
from tokenway_gateway.cache import CachedResponse, from_body, from_sse, replay_json, replay_sse

USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


LONG = "Hello there, this is a cached answer that spans more than one chunk of sixty-four chars."


def completion(content: str = LONG, finish: str | None = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "llama",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                         "finish_reason": finish}], "usage": USAGE}


def sse_stream(texts: list[str], *, done: bool = True, finish: bool = True, usage: bool = True) -> bytes:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000001, "model": "llama"}
    out = [b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                           "finish_reason": None}]}) + b"\n\n"]
    for t in texts:
        out.append(b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "delta": {"content": t},
                                                                   "finish_reason": None}]}) + b"\n\n")
    if finish:
        out.append(b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "delta": {},
                                                                   "finish_reason": "stop"}]}) + b"\n\n")
    if usage:
        out.append(b"data: " + orjson.dumps({**base, "choices": [], "usage": USAGE}) + b"\n\n")
    if done:
        out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def test_only_complete_successful_bodies_are_stored() -> None:
    assert from_body(200, orjson.dumps(completion())) is not None
    assert from_body(500, orjson.dumps(completion())) is None
    assert from_body(200, orjson.dumps(completion(finish=None))) is None  # cut off
    assert from_body(200, b'{"error": {"message": "x"}}') is None
    assert from_body(200, b"not json") is None
    assert from_body(200, orjson.dumps({**completion(), "choices": []})) is None


def test_only_complete_streams_are_stored() -> None:
    whole = from_sse(200, [sse_stream(["Hel", "lo"])])
    assert whole is not None
    assert whole["choices"][0]["message"]["content"] == "Hello"
    assert whole["usage"] == USAGE and whole["object"] == "chat.completion"
    # One buffer per event works the same as one buffer.
    per_event = [e + b"\n\n" for e in sse_stream(["Hel", "lo"]).split(b"\n\n") if e]
    assert from_sse(200, per_event) == whole
    assert from_sse(200, [sse_stream(["Hel"], done=False)]) is None  # truncated stream
    assert from_sse(200, [sse_stream(["Hel"], finish=False)]) is None  # no finish_reason
    assert from_sse(502, [sse_stream(["Hel"])]) is None
    err = sse_stream(["Hel"]).replace(b"data: [DONE]", b'data: {"error": {"message": "boom"}}\n\ndata: [DONE]')
    assert from_sse(200, [err]) is None
    # usage passed by the caller wins over the stream's own.
    assert from_sse(200, [sse_stream(["x"], usage=False)], usage={"total_tokens": 3})["usage"] == {  # type: ignore[index]
        "total_tokens": 3}


def test_tool_calls_round_trip() -> None:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def args(a: str) -> dict[str, Any]:
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": a}}]}
        return {**base, "choices": [{"index": 0, "delta": delta}]}

    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}}]},
        args('{"city":'),
        args('"Oslo"}'),
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    obj = from_sse(200, chunks, require_done=False)
    assert obj is not None
    call = obj["choices"][0]["message"]["tool_calls"][0]
    assert call == {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    again = from_sse(200, [replay_sse(CachedResponse(orjson.dumps(obj)))])
    assert again is not None and again["choices"] == obj["choices"]


@pytest.fixture
async def replay_server() -> AsyncIterator[str]:
    """A loopback server answering from the cache's replay functions (as the gateway will on a hit)."""
    entry = CachedResponse(orjson.dumps(completion()), key="k")

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(replay_sse(entry, include_usage=include))
            await resp.write_eof()
            return resp
        return web.Response(body=replay_json(entry), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_replay_parsed_by_openai_sdk(replay_server: str) -> None:
    client = openai.AsyncOpenAI(base_url=replay_server, api_key="sk-none", max_retries=0)
    msgs: Any = [{"role": "user", "content": "hi"}]
    plain = await client.chat.completions.create(model="llama", messages=msgs)
    assert plain.choices[0].message.content == completion()["choices"][0]["message"]["content"]
    assert plain.usage is not None and plain.usage.total_tokens == 18

    stream = await client.chat.completions.create(model="llama", messages=msgs, stream=True,
                                                  stream_options={"include_usage": True})
    text, usage, finish, n = "", None, None, 0
    async for chunk in stream:
        n += 1
        if chunk.usage is not None:
            usage = chunk.usage
        for ch in chunk.choices:
            text += ch.delta.content or ""
            finish = ch.finish_reason or finish
    assert text == completion()["choices"][0]["message"]["content"]
    assert finish == "stop" and usage is not None and usage.completion_tokens == 7
    assert n >= 4  # role, two content chunks, finish, usage

    no_usage = await client.chat.completions.create(model="llama", messages=msgs, stream=True)
    chunks = [c async for c in no_usage]
    assert all(c.usage is None for c in chunks)
    await client.close()
