"""Automatic prefix caching, modelled on vLLM's: an LRU of full KV blocks.

A prompt is cut into full blocks of `block_size` tokens; block i's key is
hash(key of block i-1, tokens of block i), so a block only matches when the
whole prefix before it matches too (vLLM's chained block hashes). A lookup
walks the chain until the first miss; the hit tokens skip prefill. As in vLLM,
at most len(prompt) - 1 tokens can hit, because the last prompt token must be
computed to produce logits. The LRU holds at most `capacity` blocks (the
replica's --kv-cache-blocks); inserting beyond that evicts the least recently
used block. Hashes use Python's hash(): they live in this process only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


def block_hashes(tokens: Sequence[str], block_size: int) -> list[int]:
    """The chained hashes of the prompt's full blocks."""
    hashes = []
    parent = 0
    for start in range(0, len(tokens) - block_size + 1, block_size):
        parent = hash((parent, tuple(tokens[start:start + block_size])))
        hashes.append(parent)
    return hashes


class PrefixCache:
    """LRU of block hashes; counts nothing itself (the engine owns the metrics)."""

    def __init__(self, block_size: int, capacity: int) -> None:
        self.block_size = block_size
        self.capacity = capacity
        self._blocks: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._blocks)

    def match(self, hashes: Sequence[int], num_tokens: int) -> int:
        """Number of prompt tokens already cached (a whole number of blocks); touches the hits."""
        max_blocks = min(len(hashes), (num_tokens - 1) // self.block_size)
        blocks = self._blocks
        hit = 0
        while hit < max_blocks and hashes[hit] in blocks:
            blocks.move_to_end(hashes[hit])
            hit += 1
        return hit * self.block_size

    def insert(self, hashes: Sequence[int]) -> None:
        """Record computed blocks as cached (most recently used), evicting the oldest."""
        blocks = self._blocks
        for h in hashes:
            if h in blocks:
                blocks.move_to_end(h)
            else:
                blocks[h] = None
        while len(blocks) > self.capacity:
            blocks.popitem(last=False)

    def clear(self) -> None:
        self._blocks.clear()
