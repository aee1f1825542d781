"""Parsing and validation of OpenAI requests, and OpenAI-format errors.

Only what changes the simulation is read (prompt, max tokens, n, streaming,
usage reporting); unknown fields are ignored, as vLLM does. Invalid input raises
`ApiError`, which renders as ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..server.errors import GatewayError
from .tokenizer import PromptError, chat_prompt_tokens, completion_prompts

MAX_N = 128


# One OpenAI error type for the gateway and the simulator.
ApiError = GatewayError


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def model_not_found(model: str) -> ApiError:
    # vLLM's wording, with OpenAI's code.
    return ApiError(404, f"The model `{model}` does not exist.", param="model", code="model_not_found")


def server_error(status: int) -> ApiError:
    if status == 503:
        return ApiError(503, "The server is overloaded or not ready yet.", type_="service_unavailable_error",
                        code="service_unavailable")
    if status == 429:
        return ApiError(429, "Rate limit reached (injected fault).", type_="rate_limit_error",
                        code="rate_limit_exceeded")
    if status < 500:
        return ApiError(status, "Injected client error.", code="injected_fault")
    return ApiError(status, "The server had an error while processing your request (injected fault).",
                    type_="server_error", code="internal_error")


def load_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


@dataclass
class GenerationRequest:
    """A chat or completions request reduced to what the simulation needs."""

    kind: Literal["chat", "completion"]
    model: str | None
    prompts: list[list[str]]
    max_tokens: int | None
    n: int
    stream: bool
    include_usage: bool

    @property
    def num_prompt_tokens(self) -> int:
        return sum(len(p) for p in self.prompts)


def _optional_int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad_request(f"'{name}' must be an integer between {low} and {high}.", name)
    return value


def _optional_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"'{name}' must be a boolean.", name)
    return value


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise bad_request("'model' must be a string.", "model")
    return model


def _common(body: dict[str, Any], kind: Literal["chat", "completion"], prompts: list[list[str]],
            max_tokens: int | None) -> GenerationRequest:
    stream = _optional_bool(body, "stream")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise bad_request("Stream options can only be defined when `stream=True`.", "stream_options")
        if not isinstance(options, dict):
            raise bad_request("'stream_options' must be an object.", "stream_options")
        include_usage = _optional_bool(options, "include_usage")
    n = _optional_int(body, "n", 1, MAX_N) or 1
    return GenerationRequest(kind=kind, model=_model(body), prompts=prompts, max_tokens=max_tokens, n=n,
                             stream=stream, include_usage=include_usage)


def parse_chat(body: dict[str, Any]) -> GenerationRequest:
    if "messages" not in body:
        raise bad_request("Missing required parameter: 'messages'.", "messages")
    try:
        prompt = chat_prompt_tokens(body["messages"])
    except PromptError as exc:
        raise bad_request(str(exc), exc.param) from None
    # max_completion_tokens replaced max_tokens in OpenAI's chat API; the newer one wins.
    max_tokens = _optional_int(body, "max_completion_tokens", 1, 1 << 30)
    if max_tokens is None:
        max_tokens = _optional_int(body, "max_tokens", 1, 1 << 30)
    return _common(body, "chat", [prompt], max_tokens)


def parse_completion(body: dict[str, Any]) -> GenerationRequest:
    if "prompt" not in body:
        raise bad_request("Missing required parameter: 'prompt'.", "prompt")
    try:
        prompts = completion_prompts(body["prompt"])
    except PromptError as exc:
        raise bad_request(str(exc), exc.param) from None
    return _common(body, "completion", prompts, _optional_int(body, "max_tokens", 1, 1 << 30))


@dataclass
class EmbeddingRequest:
    model: str | None
    inputs: list[bytes]  # canonical bytes of each input: what the vector is a hash of
    num_tokens: int
    dimensions: int | None
    base64: bool


def parse_embeddings(body: dict[str, Any]) -> EmbeddingRequest:
    if "input" not in body:
        raise bad_request("Missing required parameter: 'input'.", "input")
    raw = body["input"]
    try:
        prompts = completion_prompts(raw)
    except PromptError:
        raise bad_request("'input' must be a non-empty string, an array of strings or an array of token ids.",
                          "input") from None
    items = [raw] if isinstance(raw, str) or all(isinstance(t, int) for t in raw) else raw
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise bad_request("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    return EmbeddingRequest(model=_model(body), inputs=[orjson.dumps(item) for item in items],
                            num_tokens=sum(len(p) for p in prompts),
                            dimensions=_optional_int(body, "dimensions", 1, 1 << 16), base64=fmt == "base64")
