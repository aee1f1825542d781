"""Live per-pool and per-route state that outlives config swaps (keyed by name on the gateway).

PoolState counts the requests a pool is serving against its slots (replicas x
maxConcurrentSequences): the queue stage holds requests while a pool is full or
empty, and region spillover reads how healthy and how busy each priority level is.
RouteState keeps a route's retry and hedge budgets and its recent time to first byte.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import TYPE_CHECKING

from ..api.pool import Capacity
from ..api.route import QueueLimits
from ..observability.metrics import FastCounter

if TYPE_CHECKING:
    from ..pipeline.queue import FairQueue
    from .endpoints import Endpoint

HEALTH_REFRESH_SECONDS = 0.1
# Envoy's retry budget floor: a handful of concurrent retries are always allowed.
MIN_RETRY_CONCURRENCY = 3
# Budgets count over a decaying window of about this many requests.
BUDGET_WINDOW = 1000.0


class PoolState:
    __slots__ = ("_checked_at", "_healthy", "active", "capacity", "endpoints", "in_flight", "name", "queue",
                 "queue_limits", "slots")

    def __init__(self, name: str, in_flight: FastCounter | None = None) -> None:
        self.name = name
        self.active = 0  # client calls currently served by this pool
        self.in_flight = in_flight or FastCounter()  # upstream attempts in flight (the exported gauge)
        self.slots = 0
        self.endpoints: list[Endpoint] = []
        self.capacity = Capacity()
        self.queue: FairQueue | None = None  # created on first use
        self.queue_limits: QueueLimits | None = None
        self._healthy = 1.0
        self._checked_at = -1.0

    def configure(self, endpoints: list[Endpoint], capacity: Capacity, queue_limits: QueueLimits | None) -> None:
        self.endpoints = endpoints
        self.capacity = capacity
        self.slots = capacity.max_concurrent_sequences * sum(e.weight for e in endpoints)
        self.queue_limits = queue_limits
        self._checked_at = -1.0

    @property
    def full(self) -> bool:
        return self.active >= self.slots

    def healthy_fraction(self, now: float) -> float:
        """Share of endpoints in rotation (not ejected, passing health checks), refreshed every 100 ms."""
        if now - self._checked_at > HEALTH_REFRESH_SECONDS:
            endpoints = self.endpoints
            if endpoints:
                wall = time.monotonic()
                usable = sum(1 for e in endpoints if e.healthy and e.ejected_until <= wall)
                self._healthy = usable / len(endpoints)
            else:
                self._healthy = 0.0
            self._checked_at = now
        return self._healthy

    def utilization(self) -> float:
        return min(1.0, self.active / self.slots) if self.slots else 1.0


class RouteState:
    """Retry and hedge budgets of one route, and its recent time to first byte."""

    __slots__ = ("_ttft_sorted", "active", "hedged", "requests", "retrying", "ttft_samples")

    def __init__(self) -> None:
        self.active = 0  # calls in progress
        self.retrying = 0  # calls in progress that are on a retry
        self.requests = 0.0  # decayed counts, for the hedge budget
        self.hedged = 0.0
        self.ttft_samples: deque[float] = deque(maxlen=512)
        self._ttft_sorted: list[float] | None = None

    def retry_allowed(self, budget_percent: float) -> bool:
        """Envoy's retry budget: concurrent retries within a share of the active requests."""
        return self.retrying < max(MIN_RETRY_CONCURRENCY, math.floor(self.active * budget_percent / 100.0))

    def count_request(self) -> None:
        self.requests = self.requests * (1.0 - 1.0 / BUDGET_WINDOW) + 1.0
        self.hedged *= 1.0 - 1.0 / BUDGET_WINDOW

    def hedge_allowed(self, budget_percent: float) -> bool:
        return self.hedged + 1.0 <= self.requests * budget_percent / 100.0

    def record_ttft(self, seconds: float) -> None:
        self.ttft_samples.append(seconds)
        if len(self.ttft_samples) % 32 == 0:
            self._ttft_sorted = None

    def ttft_percentile(self, percentile: float) -> float | None:
        """The route's recent first-byte latency at ``percentile`` (None until 32 samples)."""
        if len(self.ttft_samples) < 32:
            return None
        if self._ttft_sorted is None:
            self._ttft_sorted = sorted(self.ttft_samples)
        ordered = self._ttft_sorted
        return ordered[min(len(ordered) - 1, int(len(ordered) * percentile / 100.0))]
