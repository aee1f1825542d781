"""Cache keys: which requests may be cached, the exact key and the semantic key text.

* The **exact key** is a sha256 over the normalised request: everything the answer depends on
  (model, messages, tools, response format, sampling parameters, ...) and nothing it does not
  (``stream``, ``stream_options``, ``user``, ``metadata``, ...). Unknown fields are kept, so a new
  parameter can never make two different requests share a key.
* The **semantic key** is the text of the last user turn plus a digest of everything else the
  answer depends on (system prompt, prior turns, tools, output-shaping parameters). The digest is
  part of the index's partition, so another conversation or system prompt never matches.
* A **sampled** request (temperature > 0, or unset: OpenAI's and vLLM's default is 1.0) is not
  cached unless the policy allows it; its answer is meant to vary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

__all__ = [
    "Partition",
    "SemanticKey",
    "cache_control",
    "exact_key",
    "is_sampled",
    "semantic_key",
]

# Request fields that never change the answer.
NOT_IN_KEY = frozenset({
    "stream", "stream_options", "user", "metadata", "store", "service_tier", "safety_identifier",
    "prompt_cache_key", "request_id", "priority",
})
# Fields that make answers vary run to run; ignored by the semantic digest (a paraphrase differs
# more than a seed does) but kept in the exact key.
SAMPLING = frozenset({"temperature", "top_p", "top_k", "min_p", "seed", "presence_penalty",
                      "frequency_penalty", "repetition_penalty"})


class Partition(NamedTuple):
    """A hard partition: lookups never see another partition's entries.

    A named tuple, so hashing and comparing it (every backend lookup and store does) run in C."""

    tenant: str
    model: str
    route: str

    @property
    def tag(self) -> str:
        """A short, key-safe digest of the three parts (Redis key names; never the plain tenant)."""
        raw = f"{self.tenant}\x00{self.model}\x00{self.route}".encode()
        return hashlib.blake2b(raw, digest_size=9).hexdigest()

    @staticmethod
    def part_tag(value: str) -> str:
        return hashlib.blake2b(value.encode(), digest_size=6).hexdigest()


def is_sampled(payload: Mapping[str, Any]) -> bool:
    """True when the request samples (temperature > 0, or unset: the server default is 1.0)."""
    t = payload.get("temperature", 1.0)
    try:
        return t is None or float(t) > 0.0
    except (TypeError, ValueError):
        return True


def cache_control(header: str | bytes | None) -> tuple[bool, bool]:
    """(no_cache, no_store) from a ``cache-control`` request header."""
    if not header:
        return False, False
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    parts = {p.strip().split("=", 1)[0].lower() for p in text.split(",")}
    return "no-cache" in parts, "no-store" in parts


def exact_key(payload: Mapping[str, Any]) -> str:
    """sha256 (hex) of the request minus the fields that do not change the answer."""
    body = {k: v for k, v in payload.items() if k not in NOT_IN_KEY}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class SemanticKey:
    text: str     # the last user turn, as text
    context: str  # digest of everything else that shapes the answer


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                return None  # images, audio, files: not a text request
            parts.append(part["text"])
        return "\n".join(parts)
    return None


def semantic_key(payload: Mapping[str, Any]) -> SemanticKey | None:
    """The semantic key of a chat or completions request, or None when it has no user text to match."""
    messages = payload.get("messages")
    if isinstance(messages, list):
        if not messages or not isinstance(messages[-1], Mapping) or messages[-1].get("role") != "user":
            return None  # a tool result or an assistant prefill: only exact matches are safe
        text = _text_of(messages[-1].get("content"))
        prior: Any = messages[:-1]
    else:
        prompt = payload.get("prompt")
        if not isinstance(prompt, str):
            return None
        text, prior = prompt, None
    if text is None or not text.strip():
        return None
    rest = {k: v for k, v in payload.items()
            if k not in NOT_IN_KEY and k not in SAMPLING and k not in ("messages", "prompt")}
    rest["__prior"] = prior
    digest = hashlib.sha256(orjson.dumps(rest, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return SemanticKey(text=text.strip(), context=digest)
