"""OpenAI response shapes: full bodies, SSE chunks and embeddings.

A streaming chunk differs from the previous one only in the token text, so each
choice gets a byte template (prefix + JSON string + suffix) built once per
request; a token costs two byte concatenations, never a JSON serialisation.
"""

from __future__ import annotations

import base64
import hashlib
import math
import sys
from array import array
from collections.abc import Sequence
from typing import Any

import orjson

from .textgen import VOCAB_JSON, detokenize

DONE = b"data: [DONE]\n\n"


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> dict[str, Any]:
    # prompt_tokens_details.cached_tokens is OpenAI's field for prefix-cache hits.
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens}}


class ChoiceOutput:
    """What one finished (or partial) choice produced, for the full response body."""

    __slots__ = ("finish_reason", "ids", "index")

    def __init__(self, index: int, ids: Sequence[int], finish_reason: str | None) -> None:
        self.index = index
        self.ids = ids
        self.finish_reason = finish_reason


class Formatter:
    """Builds the bodies and chunks of one chat or completions response."""

    def __init__(self, kind: str, response_id: str, created: int, model: str, num_choices: int,
                 include_usage: bool) -> None:
        self.chat = kind == "chat"
        self.response_id = response_id
        self.created = created
        self.model = model
        self.include_usage = include_usage
        self._chunk_object = "chat.completion.chunk" if self.chat else "text_completion"
        head = orjson.dumps({"id": response_id, "object": self._chunk_object, "created": created,
                             "model": model})[:-1]
        self._head = b"data: " + head + b',"choices":[{"index":'
        usage_tail = b',"usage":null' if include_usage else b""
        field = b',"delta":{"content":' if self.chat else b',"text":'
        self._prefixes = [self._head + str(i).encode() + field for i in range(num_choices)]
        self._suffix = (b'},"logprobs":null,"finish_reason":null}]' if self.chat
                        else b',"logprobs":null,"finish_reason":null}]') + usage_tail + b"}\n\n"

    # -- streaming ---------------------------------------------------------------------
    def token_chunks(self, index: int, ids: Sequence[int]) -> bytes:
        prefix = self._prefixes[index]
        suffix = self._suffix
        vocab = VOCAB_JSON
        return b"".join([prefix + vocab[i] + suffix for i in ids])

    def _chunk(self, choices: list[dict[str, Any]], usage_value: dict[str, Any] | None = None) -> bytes:
        chunk: dict[str, Any] = {"id": self.response_id, "object": self._chunk_object, "created": self.created,
                                 "model": self.model, "choices": choices}
        if self.include_usage:
            chunk["usage"] = usage_value
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def role_chunk(self, index: int) -> bytes:
        """Chat streams open each choice with the assistant role (completions have none)."""
        if not self.chat:
            return b""
        return self._chunk([{"index": index, "delta": {"role": "assistant", "content": ""},
                             "logprobs": None, "finish_reason": None}])

    def finish_chunk(self, index: int, finish_reason: str) -> bytes:
        body: dict[str, Any] = {"index": index, "delta": {}} if self.chat else {"index": index, "text": ""}
        body["logprobs"] = None
        body["finish_reason"] = finish_reason
        return self._chunk([body])

    def usage_chunk(self, usage_value: dict[str, Any]) -> bytes:
        return self._chunk([], usage_value)

    # -- non-streaming -----------------------------------------------------------------
    def body(self, choices: list[ChoiceOutput], usage_value: dict[str, Any]) -> bytes:
        rendered: list[dict[str, Any]] = []
        for choice in choices:
            text = detokenize(choice.ids)
            if self.chat:
                rendered.append({"index": choice.index, "message": {"role": "assistant", "content": text},
                                 "logprobs": None, "finish_reason": choice.finish_reason})
            else:
                rendered.append({"index": choice.index, "text": text, "logprobs": None,
                                 "finish_reason": choice.finish_reason})
        return orjson.dumps({"id": self.response_id, "object": "chat.completion" if self.chat else "text_completion",
                             "created": self.created, "model": self.model, "choices": rendered,
                             "usage": usage_value})


def embedding_vector(data: bytes, dim: int, seed: int) -> list[float]:
    """A deterministic unit vector: the same input (and seed) always maps to the same point."""
    raw = array("H", hashlib.shake_256(seed.to_bytes(8, "little", signed=True) + data).digest(2 * dim))
    values = [v - 32767.5 for v in raw]
    norm = math.hypot(*values) or 1.0
    return [v / norm for v in values]


def embedding_b64(vector: list[float]) -> str:
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()  # OpenAI's base64 embeddings are little-endian float32
    return base64.b64encode(packed.tobytes()).decode()


def embeddings_body(model: str, vectors: list[list[float]], as_base64: bool, num_tokens: int) -> bytes:
    data = [{"object": "embedding", "index": i, "embedding": embedding_b64(v) if as_base64 else v}
            for i, v in enumerate(vectors)]
    return orjson.dumps({"object": "list", "data": data, "model": model,
                         "usage": {"prompt_tokens": num_tokens, "total_tokens": num_tokens}})
