"""Load scorers: each adds weight x score (0..1, higher is better) to every candidate's total.

Relative scorers (in-flight, queue, TTFT) normalize min-max over the candidates, as the
Inference Extension's queue scorer does: the least loaded candidate scores 1, the most
loaded 0, equal candidates all score 1. The KV-cache scorer is absolute (1 - use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import PickRequest
from .signals import Freshness

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint


def _add_min_max(values: list[float], totals: list[float], weight: float) -> None:
    """totals[i] += weight * (max - v) / (max - min): lower values score higher."""
    low = min(values)
    high = max(values)
    if high <= low:
        for i in range(len(totals)):
            totals[i] += weight
        return
    scale = weight / (high - low)
    for i, value in enumerate(values):
        totals[i] += (high - value) * scale


class _NoState:
    needs_prefix = False

    def picked(self, request: PickRequest, endpoint: Endpoint, now: float) -> None:
        return None


class InFlightScorer(_NoState):
    """Requests the gateway has outstanding on the endpoint, per unit of weight."""

    name = "in_flight"

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None:
        _add_min_max([e.in_flight / e.weight for e in candidates], totals, weight)


class QueueScorer(_NoState):
    """The engine's waiting queue (scraped), plus what the gateway sent since the scrape."""

    name = "queue"

    def __init__(self, freshness: Freshness) -> None:
        self.freshness = freshness

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None:
        queue = self.freshness.queue
        _add_min_max([queue(e, now) for e in candidates], totals, weight)


class KVCacheScorer(_NoState):
    """Free KV cache: 1 - vllm:kv_cache_usage_perc (a stale figure fades towards free)."""

    name = "kv_cache"

    def __init__(self, freshness: Freshness) -> None:
        self.freshness = freshness

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None:
        kv = self.freshness.kv_usage
        for i, endpoint in enumerate(candidates):
            totals[i] += weight * (1.0 - min(1.0, kv(endpoint, now)))


class TTFTScorer(_NoState):
    """EWMA of the endpoint's observed time to first token; an endpoint without samples scores as the best."""

    name = "ttft"

    def score(self, request: PickRequest, candidates: list[Endpoint], totals: list[float], weight: float,
              now: float) -> None:
        values = [e.ttft_ewma for e in candidates]
        known = [v for v in values if v > 0.0]
        if not known:
            for i in range(len(totals)):
                totals[i] += weight
            return
        best = min(known)
        _add_min_max([v if v > 0.0 else best for v in values], totals, weight)
