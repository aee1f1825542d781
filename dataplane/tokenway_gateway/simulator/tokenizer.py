"""A cheap, deterministic stand-in for a BPE tokenizer.

Rule: a token is a run of at most 4 word characters, or one punctuation
character; whitespace is dropped. So "hello, world" -> ["hell", "o", ",",
"worl", "d"]: short words are one token, long ones ~4 characters per token,
which is close to what BPE tokenizers give on English text. The tokens
themselves (not just their count) are kept because the prefix cache hashes
them.

Chat prompts follow a ChatML-like template: every message adds two template
tokens (``<|role|>`` before the content, ``<|end|>`` after it) and the prompt
ends with one ``<|assistant|>`` token, so identical conversation prefixes give
identical token prefixes, as with a real chat template.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_TOKEN_RE = re.compile(r"\w{1,4}|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split text into approximate tokens."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    return len(_TOKEN_RE.findall(text))


class PromptError(ValueError):
    """The prompt is malformed; `param` names the offending request field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def _content_text(content: Any, where: str) -> str:
    """The text of a message's content: a string, a list of content parts, or None."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise PromptError(f"{where}: each content part must be an object with a 'type'", where)
            if part["type"] == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise PromptError(f"{where}: a text content part needs a string 'text'", where)
                texts.append(text)
            # Non-text parts (images, audio) cost no tokens here: the simulator models text only.
        return "\n".join(texts)
    raise PromptError(f"{where}: content must be a string, a list of content parts or null", where)


def chat_prompt_tokens(messages: Any) -> list[str]:
    """Tokens of a chat conversation rendered through the simulated chat template."""
    if not isinstance(messages, list) or not messages:
        raise PromptError("'messages' must be a non-empty array", "messages")
    tokens: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise PromptError(f"messages[{i}] must be an object", "messages")
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise PromptError(f"messages[{i}].role must be a non-empty string", "messages")
        tokens.append(f"<|{role}|>")
        tokens.extend(tokenize(_content_text(message.get("content"), f"messages[{i}].content")))
        tokens.append("<|end|>")
    tokens.append("<|assistant|>")
    return tokens


def completion_prompts(prompt: Any) -> list[list[str]]:
    """The prompts of a completions request, tokenized: one list per prompt of the batch.

    Accepts what OpenAI accepts: a string, a list of strings, a list of token ids,
    or a list of lists of token ids (ids are kept as tokens, one each).
    """
    if isinstance(prompt, str):
        batch: Sequence[Any] = [prompt]
    elif isinstance(prompt, list) and prompt:
        batch = [prompt] if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt) else prompt
    else:
        raise PromptError("'prompt' must be a string, an array of strings or an array of token ids", "prompt")
    prompts = []
    for item in batch:
        if isinstance(item, str):
            tokens = tokenize(item)
        elif isinstance(item, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            tokens = [f"#{t}" for t in item]
        else:
            raise PromptError("each prompt must be a string or an array of token ids", "prompt")
        if not tokens:
            raise PromptError("the prompt must not be empty", "prompt")
        prompts.append(tokens)
    return prompts
