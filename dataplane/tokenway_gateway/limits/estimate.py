"""A fast prompt-token estimate for admission (settle corrects it to the real usage).

Per text: a linear model on counts that C code computes in one pass each (length, spaces,
double spaces, newlines, UTF-8 bytes beyond one per character, digits), fitted by least
squares on relative error against OpenAI's cl100k_base and o200k_base tokenizers (the max
of the two per sample) on the tune half of a local corpus (`bench/limits.py estimator`
rebuilds it and reports the held-out half). Plus OpenAI's chat framing: 3 tokens per message,
1 per name, 3 to prime the reply.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

# chars, spaces, double spaces, newlines, extra UTF-8 bytes, digits (fitted: bench/limits.py estimator)
_C_CHARS, _C_SPACE, _C_DSPACE, _C_NL, _C_EXTRA, _C_DIGIT = 0.2104, -0.097, -0.1795, 2.0914, 0.4862, 0.8178
_DIGITS = b"0123456789"
PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_TOKENS = 765  # a high-detail 512x512-tile image in OpenAI's accounting: an upper-end guess
AUDIO_TOKENS = 500
DEFAULT_PROMPT_MARGIN = 1.25  # reserve 25% above the estimate: under-estimates become rare (bench)


def estimate_text_tokens(text: str) -> float:
    if not text:
        return 0.0
    raw = text.encode()
    n = len(text)
    extra = len(raw) - n
    digits = len(raw) - len(raw.translate(None, _DIGITS))
    estimate = (_C_CHARS * n + _C_SPACE * raw.count(b" ") + _C_DSPACE * raw.count(b"  ")
                + _C_NL * raw.count(b"\n") + _C_EXTRA * extra + _C_DIGIT * digits)
    return max(estimate, n / 8.0 + 1.0)  # never less than a token per 8 characters


def _content_tokens(content: Any) -> float:
    if isinstance(content, str):
        return estimate_text_tokens(content)
    if isinstance(content, list):
        total = 0.0
        for part in content:
            if isinstance(part, str):
                total += estimate_text_tokens(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if kind == "text" or "text" in part:
                    text = part.get("text")
                    total += estimate_text_tokens(text) if isinstance(text, str) else 0.0
                elif kind in ("image_url", "image", "input_image"):
                    total += IMAGE_TOKENS
                elif kind in ("input_audio", "audio"):
                    total += AUDIO_TOKENS
                else:
                    total += _json_tokens(part)
        return total
    if content is None:
        return 0.0
    return _json_tokens(content)


def _json_tokens(value: Any) -> float:
    try:
        return estimate_text_tokens(orjson.dumps(value).decode())
    except TypeError:
        return 0.0


def _prompt_tokens(prompt: Any) -> float:
    """`prompt` of /v1/completions (or `input` of /v1/embeddings): text, texts, or token ids."""
    if isinstance(prompt, str):
        return estimate_text_tokens(prompt)
    if isinstance(prompt, list):
        if prompt and all(isinstance(item, int) for item in prompt):
            return float(len(prompt))
        return sum(_prompt_tokens(item) for item in prompt)
    return 0.0


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """Estimated prompt tokens of a parsed chat/completions/embeddings request body."""
    total = 0.0
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            total += PER_MESSAGE + _content_tokens(message.get("content"))
            if message.get("name"):
                total += PER_NAME
            for field in ("tool_calls", "function_call"):
                if message.get(field):
                    total += _json_tokens(message[field])
        total += REPLY_PRIMING
    for field in ("prompt", "input"):
        if field in body:
            total += _prompt_tokens(body[field])
    for field in ("tools", "functions", "response_format"):
        if body.get(field):
            total += _json_tokens(body[field])
    return max(1, math.ceil(total))


def requested_output_tokens(body: dict[str, Any], output_cap: int | None, default: int) -> int:
    """The most output the request may produce: max_completion_tokens or max_tokens (the route's
    cap bounds it; the cap, else `default`, when the request sets neither) times `n` choices."""
    asked = body.get("max_completion_tokens")
    if not isinstance(asked, int) or isinstance(asked, bool) or asked <= 0:
        asked = body.get("max_tokens")
    limit = asked if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0 else None
    if output_cap is not None:
        limit = output_cap if limit is None else min(limit, output_cap)
    if limit is None:
        limit = default
    choices = body.get("n")
    if isinstance(choices, int) and not isinstance(choices, bool) and choices > 1:
        limit *= choices
    return limit


def reservation_tokens(body: dict[str, Any], output_cap: int | None = None, default_output: int = 4096,
                       prompt_margin: float = DEFAULT_PROMPT_MARGIN) -> int:
    """What admission reserves: the prompt estimate with a margin, plus the most output allowed."""
    prompt = estimate_prompt_tokens(body)
    return math.ceil(prompt * prompt_margin) + requested_output_tokens(body, output_cap, default_output)
