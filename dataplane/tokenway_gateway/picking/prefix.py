"""Prefix hashing: the one implementation the picker and the cache share.

A prompt is serialized message by message (role, then content), each message cut
into blocks of `block_chars` bytes; a message's last, shorter block is a block too
(a message is complete, so its end is a stable boundary: turn n+1 of a chat repeats
every block of turn n). Block i's hash covers the whole prompt up to the end of
block i (64-bit XXH3 of the block, seeded with block i-1's hash): equal hashes mean
equal prefixes, the same property as vLLM's chained KV-block hashes.

Why XXH3: one C call of about 0.1 us per 512-byte block (CRC-32 plus Adler-32, the
checksums used before, took three times as long), and unlike the builtin `hash()` of
bytes it is the same in every process, so gateway replicas agree on it without sharing
state. It is not collision resistant; a collision only costs a worse placement. Work
is bounded: at most `max_blocks` blocks are hashed, whatever the prompt's size.

`prompt_reaches` tells from lengths alone (no encoding, no hashing) whether a prompt
can cover a given number of bytes, so a prompt too short to earn prefix affinity is
never hashed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

import orjson
from xxhash import xxh3_64_intdigest

BLOCK_CHARS = 512  # about 128 tokens at 4 characters a token
MAX_BLOCKS = 64  # 32 KiB of prompt at most is hashed
_ROLE_END = b"\x1f"
_MESSAGE_END = b"\x1e"


class PrefixHashes(list[int]):
    """Chained block hashes, plus where the prompt's structure lies in them.

    system_blocks: blocks through the leading system/developer messages (0 when the
    prompt does not start with one); first_turn_blocks: blocks through the first user
    message (the part every later turn of the conversation repeats; 0 for a bare prompt);
    ends: the prompt bytes covered through each block (a message's last block is short).
    """

    __slots__ = ("ends", "first_turn_blocks", "system_blocks")

    def __init__(self) -> None:
        super().__init__()
        self.system_blocks = 0
        self.first_turn_blocks = 0
        self.ends: list[int] = []

    def depth_for(self, chars: int) -> int:
        """Blocks needed to cover at least `chars` bytes of the prompt; 0 when the prompt is shorter."""
        return bisect_left(self.ends, chars) + 1 if self.ends and self.ends[-1] >= chars else 0


EMPTY = PrefixHashes()


def _content_bytes(content: Any, limit: int) -> bytes:
    if isinstance(content, str):
        return content[:limit].encode()
    if content is None:
        return b""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"][:limit].encode())
            else:
                parts.append(orjson.dumps(part, option=orjson.OPT_SORT_KEYS)[:limit])
        return b"\x1d".join(parts)
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)[:limit]


def _size_at_most(text: str) -> int:
    """Bytes of `text` in UTF-8, or more (an ASCII string's length is exact; str.isascii() is O(1))."""
    return len(text) if text.isascii() else 4 * len(text)


def prompt_reaches(payload: Mapping[str, Any], chars: int, block_chars: int = BLOCK_CHARS,
                   max_blocks: int = MAX_BLOCKS) -> bool:
    """Whether prefix_block_hashes(payload) may cover `chars` bytes or more.

    False only when it surely does not (then its hashes have no block `chars` deep): the
    serialized size is bounded from above by string lengths, without encoding anything.
    Shapes whose size needs serializing (content parts, a token-id prompt) answer True.
    """
    if chars > max_blocks * block_chars:
        return False  # deeper than anything hashed
    messages = payload.get("messages")
    if isinstance(messages, list):
        total = 0
        for message in messages:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                total += _size_at_most(content)
            elif content is not None:
                return True
            role = message.get("role", "")
            if isinstance(role, str) and role.isascii() and len(role) < 64:
                total += len(role) + 2  # the role and the two separators
            else:
                total += 66  # a role is cut to 64 bytes
            if total >= chars:
                return True
        return False
    prompt = payload.get("prompt")
    if prompt is None or isinstance(prompt, bool):
        return False
    if isinstance(prompt, str):
        return _size_at_most(prompt) + 2 >= chars
    return True


def prefix_block_hashes(payload: dict[str, Any], block_chars: int = BLOCK_CHARS,
                        max_blocks: int = MAX_BLOCKS) -> PrefixHashes:
    """Chained hashes of the prompt's leading blocks: chat `messages`, or a completion `prompt`."""
    out = PrefixHashes()
    messages = payload.get("messages")
    if isinstance(messages, list):
        segments: list[tuple[str, Any]] = [
            (str(m.get("role", "")), m.get("content")) for m in messages if isinstance(m, dict)]
    else:
        prompt = payload.get("prompt")
        if prompt is None or isinstance(prompt, bool):
            return out
        segments = [("", prompt)]
    chain = xxh3_64_intdigest
    h = 0
    append = out.append
    ends = out.ends
    covered = 0
    budget = max_blocks * block_chars
    in_system = True
    for role, content in segments:
        data = role.encode()[:64] + _ROLE_END + _content_bytes(content, budget) + _MESSAGE_END
        size = len(data)
        room = (max_blocks - len(out)) * block_chars
        stop = size if size < room else room  # room is whole blocks: only a message's last block is short
        for start in range(0, stop, block_chars):
            h = chain(data[start:start + block_chars], h)
            append(h)
        ends.extend(range(covered + block_chars, covered + stop, block_chars))
        covered += stop
        ends.append(covered)
        budget -= size
        if in_system:
            if role in ("system", "developer"):
                out.system_blocks = len(out)
            else:
                in_system = False
        if role == "user" and not out.first_turn_blocks:
            out.first_turn_blocks = len(out)
        if len(out) >= max_blocks or budget <= 0:
            break
    return out
