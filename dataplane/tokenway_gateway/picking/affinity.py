"""Prefix-cache affinity that several gateway replicas agree on without sharing state.

Two sources of belief about which endpoint holds a prompt's KV cache:

* Placement (deterministic): the conversation's anchor, the chained hash through its
  first user message (or through the minimum match length, whichever is longer), is looked
  up on a consistent-hash ring of the pool. Every turn of a conversation repeats the
  anchor, and every gateway replica computes the same ring, so all of them send a
  conversation to the same home without talking to each other. Prompts shorter than
  the minimum match earn no affinity, so a short system prompt that every tenant
  shares does not pull the whole fleet onto one endpoint.
* Learning (per replica, bounded): an LRU map of block hash -> endpoint that picked
  requests were sent to (llm-d's approximate prefix index). The deepest match of a
  prompt says where most of it was computed, even when placement moved it (a home
  that was saturated at the time).

The scorer gives each candidate max(learned match fraction, placement prior); the
load scorers and the saturation filter decide how far affinity is followed
("sticky until saturated").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import PickRequest
from .prefix import BLOCK_CHARS, PrefixHashes
from .ring import HashRing

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

INDEX_CAPACITY = 1 << 16  # learned block entries per pool (a few MiB at most)
HOME_PRIORS = (1.0, 0.5)  # placement prior of the ring's first and second choice


CHARS_PER_TOKEN = 4


def min_depth(hashes: Sequence[int], min_chars: int) -> int:
    """Blocks that cover at least `min_chars` of the prompt (0: the prompt is shorter)."""
    if isinstance(hashes, PrefixHashes):
        return hashes.depth_for(min_chars)
    blocks = -(-min_chars // BLOCK_CHARS)  # plain hash lists: assume full blocks
    return blocks if len(hashes) >= blocks else 0


class AffinityIndex:
    """Block hash -> endpoint a request with that prefix was last sent to, in LRU order, bounded."""

    __slots__ = ("_map", "capacity")

    def __init__(self, capacity: int = INDEX_CAPACITY) -> None:
        self.capacity = capacity
        self._map: dict[int, Endpoint] = {}

    def __len__(self) -> int:
        return len(self._map)

    def deepest(self, hashes: Sequence[int], min_blocks: int) -> tuple[Endpoint | None, int]:
        """The endpoint holding the longest known prefix (at least min_blocks deep) and its depth.

        Recorded prefixes are contiguous from min_blocks on, so presence is monotone in depth
        and a binary search finds the deepest match in O(log blocks) lookups.
        """
        index = self._map
        count = len(hashes)
        if count < min_blocks or hashes[min_blocks - 1] not in index:
            return None, 0
        if hashes[-1] in index:
            return index[hashes[-1]], count
        low, high = min_blocks, count - 1  # hashes[low-1] is known, hashes[high] is not
        while low < high:
            mid = (low + high + 1) // 2
            if hashes[mid - 1] in index:
                low = mid
            else:
                high = mid - 1
        return index[hashes[low - 1]], low

    def record(self, hashes: Sequence[int], min_blocks: int, endpoint: Endpoint) -> None:
        index = self._map
        for h in hashes[min_blocks - 1:]:
            if index.get(h) is endpoint:
                del index[h]  # re-inserted below: most recently used
            index[h] = endpoint
        excess = len(index) - self.capacity
        if excess > 0:
            for h in list(_first(index, excess)):
                del index[h]

    def forget(self, endpoints: set[Endpoint]) -> None:
        """Drop what is known about endpoints that left the pool."""
        index = self._map
        for h in [h for h, e in index.items() if e in endpoints]:
            del index[h]


def _first(index: dict[int, Endpoint], count: int) -> list[int]:
    out = []
    for h in index:
        out.append(h)
        if len(out) >= count:
            break
    return out


class Affinity:
    """What one request's prompt says about where to send it: its anchor homes and learned owner."""

    __slots__ = ("depth", "hashes", "homes", "owner", "request", "shortest")

    def __init__(self, request: PickRequest | None, hashes: Sequence[int], homes: list[Endpoint],
                 owner: Endpoint | None, depth: int, shortest: int) -> None:
        self.request = request
        self.hashes = hashes
        self.homes = homes  # the anchor's ring choices, best first (empty: too short for affinity)
        self.owner = owner  # the endpoint the learned index holds the deepest match on
        self.depth = depth  # blocks of that match
        self.shortest = shortest  # blocks of the minimum match


NO_AFFINITY = Affinity(None, (), [], None, 0, 0)


class PrefixScorer:
    name = "prefix_cache"
    needs_prefix = True

    def __init__(self, index: AffinityIndex, ring: HashRing, min_tokens: int) -> None:
        self.index = index
        self.ring = ring
        self.min_chars = min_tokens * CHARS_PER_TOKEN
        self._last = NO_AFFINITY

    def anchor(self, hashes: Sequence[int], depth: int) -> int:
        """The placement key: the chained hash through the first user turn, at least `depth` blocks deep."""
        first_turn = hashes.first_turn_blocks if isinstance(hashes, PrefixHashes) else 0
        return hashes[min(len(hashes), max(first_turn, depth)) - 1]

    def prepare(self, request: PickRequest) -> Affinity:
        """Computed once per pick (candidate drawing, scoring and recording share it)."""
        last = self._last
        if last.request is request:
            return last
        hashes = request.prefix_hashes
        shortest = min_depth(hashes, self.min_chars)
        if not shortest:
            affinity = Affinity(request, hashes, [], None, 0, 0)
        else:
            owner, depth = self.index.deepest(hashes, shortest)
            homes = self.ring.ranked(self.anchor(hashes, shortest), len(HOME_PRIORS))
            affinity = Affinity(request, hashes, homes, owner, depth, shortest)
        self._last = affinity
        return affinity

    def candidates(self, request: PickRequest) -> list[Endpoint]:
        affinity = self.prepare(request)
        if affinity.owner is None or affinity.owner in affinity.homes:
            return affinity.homes
        return [*affinity.homes, affinity.owner]

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None:
        affinity = self.prepare(request)
        homes = affinity.homes
        if not homes:
            return
        owner = affinity.owner
        learned = affinity.depth / len(affinity.hashes) if owner is not None else 0.0
        for i, endpoint in enumerate(candidates):
            prior = 0.0
            for rank, home in enumerate(homes):
                if home is endpoint:
                    prior = HOME_PRIORS[rank]
                    break
            if endpoint is owner and learned > prior:
                prior = learned
            if prior:
                totals[i] += weight * prior

    def picked(self, request: PickRequest, endpoint: Endpoint, now: float) -> None:
        affinity = self.prepare(request)
        if affinity.homes:
            self.index.record(affinity.hashes, affinity.shortest, endpoint)
        self._last = NO_AFFINITY
