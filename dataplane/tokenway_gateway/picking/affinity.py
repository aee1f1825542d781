"""Prefix-cache affinity that several gateway replicas agree on without sharing state.

Two sources of belief about which endpoint holds a prompt's KV cache:

* Placement (deterministic, the same in every gateway replica): a prompt that opens
  with a shared context (system/developer messages at least the minimum match long,
  a tenant's instructions) gets a group: the context's first `spread` endpoints on a
  consistent-hash ring of the pool, `spread` growing with the context's share of the
  traffic (TenantSpread). The conversation's anchor (the chained hash through its
  first user message, repeated by every later turn) picks its home inside the group
  by jump hashing. A prompt without a long shared context is placed by its anchor
  alone. Prompts shorter than the minimum match earn no affinity, so a short system
  prompt that every tenant shares does not pull the fleet onto one endpoint.
* Learning (per replica, bounded): an LRU map of block hash -> endpoint that picked
  requests were sent to (llm-d's approximate prefix index). The deepest match of a
  prompt is a candidate scored by how much of the prompt it covers, so a conversation
  that left a saturated home has a warm second place; it never outranks placement,
  which keeps N gateway replicas (each seeing 1/N of the turns) choosing as one.

Placement priors (expected fraction of the prompt in cache): home 1.0, the second
choice max(0.5, context share), other group members the context's share of the
prompt. The load scorers and the saturation filter decide how far affinity is
followed ("sticky until saturated").
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import PickRequest
from .prefix import BLOCK_CHARS, PrefixHashes, prompt_reaches
from .ring import HashRing

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

INDEX_CAPACITY = 1 << 16  # learned block entries per pool (a few MiB at most)
HOME_PRIORS = (1.0, 0.5)  # placement prior of the ring's first and second choice
OVERFLOW_PRIOR = 0.5  # share of a context's prior its overflow endpoint gets


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
    """What one request's prompt says about where to send it."""

    __slots__ = ("_by_endpoint", "depth", "hashes", "homes", "owner", "priors", "request", "shortest")

    def __init__(self, request: PickRequest | None, hashes: Sequence[int], homes: list[Endpoint],
                 priors: list[float], owner: Endpoint | None, depth: int, shortest: int) -> None:
        self.request = request
        self.hashes = hashes
        self.homes = homes  # endpoints placement points at, best first (empty: too short for affinity)
        self.priors = priors  # their expected share of the prompt in cache, in the same order
        self.owner = owner  # the endpoint the learned index holds the deepest match on
        self.depth = depth  # blocks of that match
        self.shortest = shortest  # blocks of the minimum match
        self._by_endpoint: dict[Endpoint, float] | None = None

    def prior(self, endpoint: Endpoint) -> float:
        """Expected fraction of the prompt cached on the endpoint: placement prior or learned match."""
        return self.priors_by_endpoint().get(endpoint, 0.0)

    def priors_by_endpoint(self) -> dict[Endpoint, float]:
        """prior() of every endpoint that has one (the homes and the learned owner)."""
        table = self._by_endpoint
        if table is None:
            table = self._by_endpoint = {}
            for endpoint, value in zip(self.homes, self.priors, strict=True):
                table.setdefault(endpoint, value)  # the first (best) place counts
            owner = self.owner
            if owner is not None and self.hashes:
                learned = self.depth / len(self.hashes)
                if learned > table.get(owner, 0.0):
                    table[owner] = learned
        return table


NO_AFFINITY = Affinity(None, (), [], [], None, 0, 0)
_MASK = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash (Lamping and Veach): growing `buckets` by one moves only 1/buckets of the keys."""
    key &= _MASK
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK
        j = int((b + 1) * (1 << 31) / ((key >> 33) + 1))
    return b


class TenantSpread:
    """How many endpoints a shared prefix (a tenant's system context) is spread over.

    Each gateway replica counts the requests it routes per shared prefix (exponentially
    decayed, half-life HALF_LIFE). Replicas see independent samples of one traffic mix,
    so they arrive at the same shares without talking. A prefix with share s of the
    traffic gets ceil(s x pool size x HEADROOM) endpoints, re-evaluated at most every
    REVIEW_SECONDS and only when the estimate leaves a hysteresis band, so
    conversations are not reshuffled by noise. Bounded to CAPACITY prefixes.
    """

    HALF_LIFE = 30.0
    HEADROOM = 1.5
    REVIEW_SECONDS = 5.0
    CAPACITY = 4096
    MIN_SAMPLE = 32.0  # requests seen before any group grows beyond one endpoint

    def __init__(self) -> None:
        self._counts: dict[int, list[float]] = {}  # key -> [decayed count, at, spread, reviewed at]
        self._total = 0.0
        self._total_at = 0.0

    def observe(self, key: int, size: int, now: float) -> int:
        decay = 0.6931471805599453 / self.HALF_LIFE
        self._total = self._total * _exp(-(now - self._total_at) * decay) + 1.0
        self._total_at = now
        entry = self._counts.get(key)
        if entry is None:
            if len(self._counts) >= self.CAPACITY:
                del self._counts[next(iter(self._counts))]
            entry = self._counts[key] = [0.0, now, 1.0, -1e9]
        entry[0] = entry[0] * _exp(-(now - entry[1]) * decay) + 1.0
        entry[1] = now
        if now - entry[3] >= self.REVIEW_SECONDS and self._total >= self.MIN_SAMPLE:
            wanted = entry[0] / self._total * size * self.HEADROOM
            spread = entry[2]
            if wanted > spread + 0.25 or wanted < spread - 1.25:
                entry[2] = float(min(size, max(1, -int(-wanted // 1))))
            entry[3] = now
        return int(entry[2])


def _exp(x: float) -> float:
    return math.exp(x) if x > -50.0 else 0.0


class PrefixScorer:
    """Placement and learned affinity (see the module docstring); also a Scorer of the generic frame.

    Placement is hierarchical when the prompt opens with a shared context (system or
    developer messages) at least the minimum match long: the context's key ranks the
    pool on the ring and its first `spread` endpoints form its group (the group holds the
    context in cache); the conversation's anchor picks its home inside the group by
    jump hashing, and the next group member is its second choice. Without a long shared
    context the anchor ranks the whole pool. Placement priors: home 1.0, second choice
    0.5, other group members the context's share of the prompt.
    """

    name = "prefix_cache"
    needs_prefix = True
    MAX_GROUP = 8

    def __init__(self, index: AffinityIndex, ring: HashRing, min_tokens: int) -> None:
        self.index = index
        self.ring = ring
        self.min_chars = min_tokens * CHARS_PER_TOKEN
        self.spread = TenantSpread()
        self._groups: dict[tuple[int, int], list[Endpoint]] = {}
        self._groups_ring = ring
        self._last = NO_AFFINITY

    def anchor(self, hashes: Sequence[int], depth: int) -> int:
        """The conversation's key: the chained hash through the first user turn, at least `depth` blocks deep."""
        first_turn = hashes.first_turn_blocks if isinstance(hashes, PrefixHashes) else 0
        return hashes[min(len(hashes), max(first_turn, depth)) - 1]

    def prepare(self, request: PickRequest, now: float = 0.0) -> Affinity:
        """Computed once per pick (candidate drawing, scoring and recording share it).

        A prompt too short for the minimum match is known so from its lengths: it is never
        hashed, and gets NO_AFFINITY (no homes: nothing to place, score or learn)."""
        last = self._last
        if last.request is request:
            return last
        if not prompt_reaches(request.payload, self.min_chars):
            return NO_AFFINITY
        hashes = request.prefix_hashes
        shortest = min_depth(hashes, self.min_chars)
        if not shortest:
            return NO_AFFINITY
        owner, depth = self.index.deepest(hashes, shortest)
        homes, priors = self.place(hashes, shortest, now)
        affinity = self._last = Affinity(request, hashes, homes, priors, owner, depth, shortest)
        return affinity

    def place(self, hashes: Sequence[int], shortest: int, now: float) -> tuple[list[Endpoint], list[float]]:
        anchor = self.anchor(hashes, shortest)
        shared = hashes.system_blocks if isinstance(hashes, PrefixHashes) else 0
        size = len(self.ring.endpoints)
        if shared < shortest or size < 2:
            homes = self.ring.ranked(anchor, len(HOME_PRIORS))
            return homes, list(HOME_PRIORS[:len(homes)])
        context = hashes[shared - 1]
        spread = min(self.spread.observe(context, size, now or time.monotonic()), self.MAX_GROUP)
        group = self._group(context, min(size, spread + 1))
        members = min(spread, len(group))
        first = jump_hash(anchor, members)
        second = (first + 1) % members if members > 1 else min(1, len(group) - 1)
        share = shared / len(hashes)
        homes = [group[first]]
        priors = [HOME_PRIORS[0]]
        if second != first:
            homes.append(group[second])
            priors.append(max(HOME_PRIORS[1], share))
        for i in range(members):
            if i != first and i != second:
                homes.append(group[i])
                priors.append(share)
        if len(group) > members and second != members:
            # The next endpoint on the context's ring takes its overflow, the same one in every replica,
            # so spilled requests warm one more endpoint instead of scattering.
            homes.append(group[members])
            priors.append(share * OVERFLOW_PRIOR)
        return homes, priors

    def _group(self, context: int, count: int) -> list[Endpoint]:
        """The context's preference list on the ring, memoized (bounded) while the ring stays the same."""
        ring = self.ring
        if ring is not self._groups_ring:
            self._groups.clear()
            self._groups_ring = ring
        key = (context, count)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= TenantSpread.CAPACITY:
                self._groups.clear()
            group = self._groups[key] = ring.ranked(context, count)
        return group

    def candidates(self, request: PickRequest) -> list[Endpoint]:
        affinity = self.prepare(request)
        if affinity.owner is None or affinity.owner in affinity.homes:
            return affinity.homes
        return [*affinity.homes, affinity.owner]

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None:
        affinity = self.prepare(request, now)
        if not affinity.homes:
            return
        prior = affinity.prior
        for i, endpoint in enumerate(candidates):
            value = prior(endpoint)
            if value:
                totals[i] += weight * value

    def picked(self, request: PickRequest, endpoint: Endpoint, now: float) -> None:
        affinity = self.prepare(request, now)
        if affinity.homes:
            self.index.record(affinity.hashes, affinity.shortest, endpoint)
        self._last = NO_AFFINITY
