"""Endpoint pickers: one frame (candidates -> filters -> weighted scorers -> highest score),
and the classic algorithms inside it.

Every picker draws its candidates the same way: endpoints that are not excluded (already
tried by this request), not ejected by outlier detection and not failed by active health
checks. Pools of up to FULL_SCAN endpoints are considered whole; larger pools give a
bounded set (affinity candidates plus a small random sample), so a pick costs the same
at 10 or 10,000 endpoints. When no endpoint may take traffic, every endpoint not yet
tried may (Envoy's panic mode: better a likely failure than a certain one).
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from .base import AttemptOutcome, Filter, PickRequest, Scorer
from .outlier import OutlierDetector
from .ring import HashRing, key_of
from .scorers import InFlightScorer

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

FULL_SCAN = 16  # pools up to this size are scored whole
LOAD_REFRESH_SECONDS = 0.05  # how old the pool-wide load average may get


def usable(endpoint: Endpoint, exclude: Collection[Endpoint], now: float) -> bool:
    return endpoint.ejected_until <= now and endpoint.healthy and endpoint not in exclude


class EndpointPicker:
    """Base of every picker: candidate drawing, panic mode, outcome bookkeeping."""

    needs_prefix = False
    algorithm = "base"

    def __init__(self, pool: str, endpoints: list[Endpoint], outlier: OutlierDetector, sample_size: int = 4) -> None:
        self.pool = pool
        self.key: tuple[str, ...] = (pool,)
        self.endpoints = endpoints
        self.outlier = outlier
        self.sample_size = sample_size
        self._random = random.Random()

    # -- the interface the request path calls ----------------------------------------
    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None:
        raise NotImplementedError

    def observe(self, endpoint: Endpoint, outcome: AttemptOutcome) -> None:
        """After every upstream attempt: outlier detection and the TTFT EWMA."""
        self.outlier.observe(endpoint, outcome)

    def update(self, endpoints: list[Endpoint]) -> None:
        """A new config kept this picker (same pool, same settings); its endpoint list may differ."""
        self.endpoints = endpoints
        self.outlier.endpoints = endpoints

    # -- shared helpers -----------------------------------------------------------------
    def candidates(self, exclude: Collection[Endpoint], now: float, extra: Sequence[Endpoint] = ()) -> list[Endpoint]:
        """Usable endpoints: the whole pool when small, else `extra` plus a random sample; panic when none."""
        endpoints = self.endpoints
        count = len(endpoints)
        if count <= FULL_SCAN:
            found = [e for e in endpoints if e.ejected_until <= now and e.healthy and e not in exclude]
            return found or self.panic(exclude)
        found = [e for e in extra if e.ejected_until <= now and e.healthy and e not in exclude]
        wanted = len(found) + self.sample_size
        rand = self._random.random
        for _ in range(3 * self.sample_size + 4):
            endpoint = endpoints[int(rand() * count)]
            if endpoint.ejected_until <= now and endpoint.healthy and endpoint not in exclude and \
                    endpoint not in found:
                found.append(endpoint)
                if len(found) >= wanted:
                    break
        if found:
            return found
        # The sample missed: most of the pool is out. A full scan is rare and still bounded by the pool.
        found = [e for e in endpoints if e.ejected_until <= now and e.healthy and e not in exclude]
        if found:
            return found if len(found) <= FULL_SCAN else self._random.sample(found, self.sample_size)
        return self.panic(exclude)

    def panic(self, exclude: Collection[Endpoint]) -> list[Endpoint]:
        """Nothing may take traffic: every endpoint not yet tried may (Envoy's panic mode)."""
        rest = [e for e in self.endpoints if e not in exclude]
        if len(rest) > FULL_SCAN:
            return self._random.sample(rest, self.sample_size)
        return rest


class RoundRobinPicker(EndpointPicker):
    """Each usable endpoint in turn; weights are ignored (see WeightedPicker)."""

    algorithm = "round-robin"

    def __init__(self, pool: str, endpoints: list[Endpoint], outlier: OutlierDetector, sample_size: int = 4) -> None:
        super().__init__(pool, endpoints, outlier, sample_size)
        self._cursor = -1

    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None:
        endpoints = self.endpoints
        count = len(endpoints)
        if count == 0:
            return None
        now = time.monotonic()
        cursor = self._cursor
        for _ in range(count):
            cursor = (cursor + 1) % count
            endpoint = endpoints[cursor]
            if endpoint.ejected_until <= now and endpoint.healthy and endpoint not in exclude:
                self._cursor = cursor
                return endpoint
        self._cursor = (self._cursor + 1) % count
        rest = self.panic(exclude)
        return rest[0] if rest else None


class WeightedPicker(EndpointPicker):
    """Weighted round robin by earliest deadline first (as Envoy): an endpoint of weight w is
    due every 1/w; shares follow the weights exactly, interleaved, at O(log n) a pick."""

    algorithm = "weighted"

    def __init__(self, pool: str, endpoints: list[Endpoint], outlier: OutlierDetector, sample_size: int = 4) -> None:
        super().__init__(pool, endpoints, outlier, sample_size)
        self._build()

    def _build(self) -> None:
        self._heap: list[tuple[float, int, int]] = [
            (1.0 / e.weight, i, i) for i, e in enumerate(self.endpoints)]
        heapq.heapify(self._heap)
        self._seq = len(self._heap)

    def update(self, endpoints: list[Endpoint]) -> None:
        super().update(endpoints)
        self._build()

    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None:
        heap = self._heap
        if not heap:
            return None
        endpoints = self.endpoints
        now = time.monotonic()
        for _ in range(len(heap)):
            deadline, _, index = heap[0]
            endpoint = endpoints[index]
            self._seq += 1
            heapq.heapreplace(heap, (deadline + 1.0 / endpoint.weight, self._seq, index))
            if endpoint.ejected_until <= now and endpoint.healthy and endpoint not in exclude:
                return endpoint
        rest = self.panic(exclude)
        return rest[0] if rest else None


class ScoringPicker(EndpointPicker):
    """The frame: candidates -> filters -> weighted scorers -> highest total, ties broken at random."""

    algorithm = "scoring"

    def __init__(self, pool: str, endpoints: list[Endpoint], outlier: OutlierDetector, sample_size: int,
                 filters: Sequence[Filter], scorers: Sequence[tuple[Scorer, float]]) -> None:
        super().__init__(pool, endpoints, outlier, sample_size)
        self.filters = list(filters)
        self.scorers = [(s, w) for s, w in scorers if w > 0.0]
        self.needs_prefix = any(s.needs_prefix for s, _ in self.scorers)
        # Scorers that learn from each pick (a prefix index) must see it even when there is no choice.
        self.scorers_learn = any(getattr(type(s), "picked", None) is not InFlightScorer.picked
                                 for s, _ in self.scorers)

    def affinity(self, request: PickRequest, now: float) -> Sequence[Endpoint]:
        """Candidates that must be considered beside the random sample (none here)."""
        return ()

    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None:
        now = time.monotonic()
        endpoints = self.endpoints
        if len(endpoints) == 1 and not self.scorers_learn:  # nothing to choose between
            only = endpoints[0]
            if only.ejected_until <= now and only.healthy and only not in exclude:
                return only
        candidates = self.candidates(exclude, now, self.affinity(request, now))
        if not candidates:
            return None
        for flt in self.filters:
            if len(candidates) == 1:
                break
            kept = flt.filter(request, candidates, now)
            if kept or not flt.soft:
                candidates = kept
        if not candidates:
            return None
        chosen = candidates[0] if len(candidates) == 1 else self.choose(request, candidates, now)
        for scorer, _ in self.scorers:
            scorer.picked(request, chosen, now)
        return chosen

    def choose(self, request: PickRequest, candidates: list[Endpoint], now: float) -> Endpoint:
        totals = [0.0] * len(candidates)
        for scorer, weight in self.scorers:
            scorer.score(request, candidates, totals, weight, now)
        best = max(totals)
        top = [i for i, total in enumerate(totals) if total >= best - 1e-9]
        return candidates[top[0] if len(top) == 1 else top[int(self._random.random() * len(top))]]


class LeastRequestPicker(ScoringPicker):
    """Fewest in-flight requests per unit of weight: exact on pools up to FULL_SCAN endpoints, the least
    loaded of a random sample of `sampleSize` (at least 2) on larger ones. Ties are broken at random.

    The frame with one scorer (in-flight, min-max); `choose` computes the same ranking in one pass."""

    algorithm = "least-request"

    def __init__(self, pool: str, endpoints: list[Endpoint], outlier: OutlierDetector, sample_size: int) -> None:
        super().__init__(pool, endpoints, outlier, max(2, sample_size), [], [(InFlightScorer(), 1.0)])

    def choose(self, request: PickRequest, candidates: list[Endpoint], now: float) -> Endpoint:
        best: list[Endpoint] = []
        best_load = 0.0
        for endpoint in candidates:
            load = endpoint.in_flight / endpoint.weight
            if not best or load < best_load:
                best = [endpoint]
                best_load = load
            elif load == best_load:
                best.append(endpoint)
        return best[0] if len(best) == 1 else best[int(self._random.random() * len(best))]


class PowerOfTwoPicker(EndpointPicker):
    """Two endpoints at random, the one with fewer in-flight requests per unit of weight."""

    algorithm = "power-of-two"

    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None:
        endpoints = self.endpoints
        count = len(endpoints)
        now = time.monotonic()
        rand = self._random.random
        first: Endpoint | None = None
        for _ in range(8):
            endpoint = endpoints[int(rand() * count)] if count else None
            if endpoint is None:
                return None
            if endpoint.ejected_until <= now and endpoint.healthy and endpoint not in exclude and \
                    endpoint is not first:
                if first is None:
                    first = endpoint
                    if count == 1:
                        return first
                else:
                    return first if first.in_flight / first.weight <= endpoint.in_flight / endpoint.weight \
                        else endpoint
        # Unlucky draws (most of the pool is out): decide among what is usable.
        pool = self.candidates(exclude, now)
        if not pool:
            return None
        if len(pool) == 1:
            return pool[0]
        a, b = self._random.sample(pool, 2)
        return a if a.in_flight / a.weight <= b.in_flight / b.weight else b


class PoolLoad:
    """The pool's average in-flight load per unit of weight, recomputed at most every LOAD_REFRESH_SECONDS."""

    __slots__ = ("_at", "_average", "endpoints")

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints = endpoints
        self._at = -1.0
        self._average = 0.0

    def average(self, now: float) -> float:
        if now - self._at > LOAD_REFRESH_SECONDS:
            endpoints = self.endpoints
            weight = sum(e.weight for e in endpoints) or 1
            self._average = sum(e.in_flight for e in endpoints) / weight
            self._at = now
        return self._average


class ConsistentHashPicker(EndpointPicker):
    """Consistent hashing with bounded load (Mirrokni et al., as in Envoy and HAProxy).

    The key is the `hashHeader` value when configured, else the request's session key;
    requests without one go to the less loaded of two random endpoints. An endpoint
    takes a keyed request while its in-flight load stays within bounded_load_factor x
    the pool average (+1); otherwise the walk goes on clockwise around the ring.
    """

    algorithm = "consistent-hash"

    def __init__(self, pool: str, endpoints: list[Endpoint], outlier: OutlierDetector, sample_size: int,
                 hash_header: str | None, factor: float) -> None:
        super().__init__(pool, endpoints, outlier, sample_size)
        self.hash_header = hash_header.lower().encode() if hash_header else None
        self.factor = factor
        self.ring = HashRing(endpoints)
        self.load = PoolLoad(endpoints)
        self._fallback = PowerOfTwoPicker(pool, endpoints, outlier, sample_size)

    def update(self, endpoints: list[Endpoint]) -> None:
        if [e.url for e in endpoints] != [e.url for e in self.endpoints]:
            self.ring = HashRing(endpoints)
        super().update(endpoints)
        self.load.endpoints = endpoints
        self._fallback.update(endpoints)

    def key_for(self, request: PickRequest) -> bytes | None:
        if self.hash_header is not None:
            return request.header(self.hash_header)
        return request.session_key

    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None:
        key = self.key_for(request)
        if not key:
            return self._fallback.pick(request, exclude)
        now = time.monotonic()
        bound = self.factor * self.load.average(now) + 1.0
        ring = self.ring
        hashed = key_of(key)
        count = len(ring.endpoints)
        width = 4
        while True:
            ranked = ring.ranked(hashed, width)
            for endpoint in ranked:
                if endpoint.ejected_until <= now and endpoint.healthy and endpoint not in exclude and \
                        endpoint.in_flight / endpoint.weight < bound:
                    return endpoint
            if width >= count:
                break
            width = min(count, width * 4)
        rest = self.candidates(exclude, now)
        return min(rest, key=lambda e: e.in_flight / e.weight) if rest else None
