"""Reading the prompt out of an OpenAI request body, cheaply and with bounded work."""

from __future__ import annotations

from typing import Any

# Chat templates add a few tokens per message (role markers, separators).
TOKENS_PER_MESSAGE = 4


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, {"type": "image_url", ...}]
        return "\n".join(part["text"] for part in content
                         if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def prompt_text(payload: dict[str, Any]) -> str:
    """Message contents in order (chat), or the prompt (completions, embeddings input)."""
    messages = payload.get("messages")
    if isinstance(messages, list):
        return "\n".join(_content_text(m.get("content")) for m in messages if isinstance(m, dict))
    prompt = payload.get("prompt", payload.get("input"))
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(p for p in prompt if isinstance(p, str))
    return ""


def last_user_text(payload: dict[str, Any]) -> str:
    """The last user turn of a chat (or the whole prompt of a completion)."""
    messages = payload.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""
    return prompt_text(payload)


def estimate_tokens(payload: dict[str, Any], text: str) -> int:
    """A fast prompt-token estimate: about 4 characters per token for English and code, plus
    the chat template's per-message overhead. Admission reserves on it; settling corrects it."""
    messages = payload.get("messages")
    overhead = TOKENS_PER_MESSAGE * len(messages) if isinstance(messages, list) else 0
    return (len(text) + 3) // 4 + overhead


def requested_output_tokens(payload: dict[str, Any]) -> int | None:
    """``max_completion_tokens`` or ``max_tokens`` when the client set one."""
    for field in ("max_completion_tokens", "max_tokens"):
        value = payload.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
