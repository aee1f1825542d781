"""What the cache stores (one complete, successful response) and how it is replayed.

A response is stored in one canonical form, the non-streaming OpenAI object (``chat.completion``
or ``text_completion``) with its ``usage``, whether it arrived as JSON or as SSE events, so one
entry serves both streaming and non-streaming requests:

* :func:`from_body` / :func:`from_sse` build it, or return None when the response is not
  complete (a choice without ``finish_reason``, a stream without ``data: [DONE]``, an error
  object, a non-2xx status): only complete answers are cached;
* :func:`replay_json` gives the JSON body for a non-streaming request;
* :func:`replay_sse` gives a well-formed SSE byte stream (role chunk, content chunks, finish
  chunk, a usage chunk when asked for, ``data: [DONE]``) for a streaming request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["CachedResponse", "from_body", "from_sse", "replay_json", "replay_sse"]

CHUNK_CHARS = 64  # content characters per replayed SSE chunk


@dataclass(slots=True)
class CachedResponse:
    """A stored answer. ``body`` is the canonical JSON object (bytes); ``key`` its exact key."""

    body: bytes
    key: str = ""
    created_at: float = field(default_factory=time.time)
    semantic_text: str | None = None  # the semantic key text it was stored under (for the verifier)
    _parsed: dict[str, Any] | None = None

    def parsed(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = orjson.loads(self.body)
        return self._parsed

    def to_bytes(self) -> bytes:
        return orjson.dumps({"b": self.body.decode(), "k": self.key, "t": self.created_at,
                             "s": self.semantic_text})

    @classmethod
    def from_bytes(cls, raw: bytes) -> CachedResponse:
        d = orjson.loads(raw)
        return cls(body=d["b"].encode(), key=d["k"], created_at=d["t"], semantic_text=d.get("s"))


def _complete(obj: Mapping[str, Any]) -> bool:
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or "error" in obj:
        return False
    for ch in choices:
        if not isinstance(ch, Mapping):
            return False
        fr = ch.get("finish_reason")
        if not isinstance(fr, str) or fr in ("error", "abort", "cancelled"):
            return False
    return True


def from_body(status: int, body: bytes | Mapping[str, Any]) -> dict[str, Any] | None:
    """The canonical object of a complete non-streaming response, else None."""
    if not 200 <= status < 300:
        return None
    try:
        obj = orjson.loads(body) if isinstance(body, bytes | bytearray | memoryview | str) else dict(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or obj.get("object") not in ("chat.completion", "text_completion"):
        return None
    return obj if _complete(obj) else None


def _event_payloads(events: Iterable[bytes | str | Mapping[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Parsed ``data:`` payloads of an SSE stream (raw bytes, lines or already-parsed chunks)."""
    out: list[dict[str, Any]] = []
    done = False
    for ev in events:
        if isinstance(ev, Mapping):
            out.append(dict(ev))
            continue
        text = ev.decode() if isinstance(ev, bytes | bytearray) else ev
        for line in text.splitlines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
            elif data:
                try:
                    obj = orjson.loads(data)
                except orjson.JSONDecodeError:
                    return out, False
                if isinstance(obj, dict):
                    out.append(obj)
    return out, done


def from_sse(status: int, events: Iterable[bytes | str | Mapping[str, Any]],
             usage: Mapping[str, Any] | None = None, *, require_done: bool = True) -> dict[str, Any] | None:
    """Assemble the canonical object from a complete SSE stream, else None.

    ``events`` may be raw SSE bytes (whole stream or one buffer per event), text lines or parsed
    chunk dicts. ``usage`` overrides the stream's own usage chunk. Without ``data: [DONE]`` (a cut
    stream) nothing is returned unless ``require_done`` is False (the caller saw [DONE] itself and
    passes parsed chunks).
    """
    if not 200 <= status < 300:
        return None
    chunks, done = _event_payloads(events)
    if (require_done and not done) or not chunks:
        return None
    first = chunks[0]
    kind = first.get("object")
    chat = kind == "chat.completion.chunk"
    if not chat and kind != "text_completion":
        return None
    choices: dict[int, dict[str, Any]] = {}
    seen_usage: Any = None
    for ch in chunks:
        if "error" in ch:
            return None
        if ch.get("usage"):
            seen_usage = ch["usage"]
        for c in ch.get("choices") or ():
            idx = int(c.get("index", 0))
            acc = choices.setdefault(idx, {"index": idx, "content": [], "tools": {}, "role": "assistant",
                                           "finish_reason": None, "logprobs": None})
            if chat:
                delta = c.get("delta") or {}
                if delta.get("role"):
                    acc["role"] = delta["role"]
                if isinstance(delta.get("content"), str):
                    acc["content"].append(delta["content"])
                for tc in delta.get("tool_calls") or ():
                    t = acc["tools"].setdefault(int(tc.get("index", 0)), {"id": None, "type": "function",
                                                                          "name": [], "arguments": []})
                    if tc.get("id"):
                        t["id"] = tc["id"]
                    fn = tc.get("function") or {}
                    if fn.get("name"):
                        t["name"].append(fn["name"])
                    if fn.get("arguments"):
                        t["arguments"].append(fn["arguments"])
            elif isinstance(c.get("text"), str):
                acc["content"].append(c["text"])
            if c.get("finish_reason"):
                acc["finish_reason"] = c["finish_reason"]
    out_choices: list[dict[str, Any]] = []
    for idx in sorted(choices):
        acc = choices[idx]
        text = "".join(acc["content"])
        if chat:
            msg: dict[str, Any] = {"role": acc["role"], "content": text if (text or not acc["tools"]) else None}
            if acc["tools"]:
                msg["tool_calls"] = [
                    {"id": t["id"], "type": t["type"],
                     "function": {"name": "".join(t["name"]), "arguments": "".join(t["arguments"])}}
                    for _, t in sorted(acc["tools"].items())
                ]
            out_choices.append({"index": idx, "message": msg, "logprobs": None,
                                "finish_reason": acc["finish_reason"]})
        else:
            out_choices.append({"index": idx, "text": text, "logprobs": None, "finish_reason": acc["finish_reason"]})
    obj: dict[str, Any] = {
        "id": first.get("id", ""),
        "object": "chat.completion" if chat else "text_completion",
        "created": first.get("created", int(time.time())),
        "model": first.get("model", ""),
        "choices": out_choices,
    }
    if first.get("system_fingerprint"):
        obj["system_fingerprint"] = first["system_fingerprint"]
    u = usage if usage is not None else seen_usage
    if u:
        obj["usage"] = dict(u)
    return obj if _complete(obj) else None


def replay_json(entry: CachedResponse) -> bytes:
    """The stored answer as a non-streaming response body."""
    return entry.body


def _sse(obj: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def replay_sse(entry: CachedResponse, *, include_usage: bool = True, chunk_chars: int = CHUNK_CHARS) -> bytes:
    """The stored answer as a complete SSE stream, ending in ``data: [DONE]``.

    ``include_usage`` adds the final usage chunk (``choices: []``) that OpenAI sends for
    ``stream_options.include_usage``; the gateway always asks upstream for it, so replay it
    whenever the client asked or the gateway wants to read it.
    """
    obj = entry.parsed()
    chat = obj.get("object") == "chat.completion"
    base = {"id": obj.get("id", ""), "object": "chat.completion.chunk" if chat else "text_completion",
            "created": obj.get("created", 0), "model": obj.get("model", "")}
    if obj.get("system_fingerprint"):
        base["system_fingerprint"] = obj["system_fingerprint"]
    parts: list[bytes] = []
    step = max(1, chunk_chars)
    for ch in obj.get("choices", ()):
        idx = ch.get("index", 0)
        if chat:
            msg = ch.get("message") or {}
            parts.append(_sse({**base, "choices": [{"index": idx, "delta": {"role": msg.get("role", "assistant"),
                                                                            "content": ""},
                                                    "logprobs": None, "finish_reason": None}]}))
            content = msg.get("content") or ""
            for i in range(0, len(content), step):
                parts.append(_sse({**base, "choices": [{"index": idx, "delta": {"content": content[i:i + step]},
                                                        "logprobs": None, "finish_reason": None}]}))
            for n, tc in enumerate(msg.get("tool_calls") or ()):
                parts.append(_sse({**base, "choices": [{"index": idx, "delta": {"tool_calls": [{
                    "index": n, "id": tc.get("id"), "type": tc.get("type", "function"),
                    "function": tc.get("function", {})}]}, "logprobs": None, "finish_reason": None}]}))
            parts.append(_sse({**base, "choices": [{"index": idx, "delta": {}, "logprobs": None,
                                                    "finish_reason": ch.get("finish_reason")}]}))
        else:
            text = ch.get("text") or ""
            for i in range(0, len(text), step):
                parts.append(_sse({**base, "choices": [{"index": idx, "text": text[i:i + step], "logprobs": None,
                                                        "finish_reason": None}]}))
            parts.append(_sse({**base, "choices": [{"index": idx, "text": "", "logprobs": None,
                                                    "finish_reason": ch.get("finish_reason")}]}))
    if include_usage and obj.get("usage"):
        parts.append(_sse({**base, "choices": [], "usage": obj["usage"]}))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)
