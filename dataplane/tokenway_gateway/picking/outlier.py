"""Passive outlier detection, as Envoy does it.

Consecutive 5xx answers (gateway failures count as 5xx too) or consecutive gateway
failures (connect failure, reset, timeout) eject an endpoint for
base_ejection_seconds x (times ejected), capped at max_ejection_seconds. The
multiplier resets once an endpoint has stayed healthy for as long as its last
ejection lasted. At most max_ejection_percent of a pool is ejected at once (at least
one endpoint when the percentage is above zero). When every endpoint is ejected
the pickers route to all of them anyway (Envoy's panic mode).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..api.route import OutlierDetection
from .base import GATEWAY_FAILURES, AttemptOutcome, Outcome

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

log = logging.getLogger("tokenway.picking")
DEFAULT_OUTLIER = OutlierDetection()
TTFT_ALPHA = 0.2  # EWMA weight of a new time-to-first-token sample


class OutlierDetector:
    __slots__ = ("config", "endpoints", "pool")

    def __init__(self, pool: str, endpoints: list[Endpoint], config: OutlierDetection | None) -> None:
        self.pool = pool
        self.endpoints = endpoints
        self.config = config or DEFAULT_OUTLIER

    def observe(self, endpoint: Endpoint, outcome: AttemptOutcome) -> None:
        kind = outcome.kind
        if kind is Outcome.OK:
            endpoint.consecutive_5xx = 0
            endpoint.consecutive_gateway = 0
            ttft = outcome.ttft
            if ttft is not None and ttft >= 0.0:
                old = endpoint.ttft_ewma
                endpoint.ttft_ewma = ttft if old == 0.0 else old + TTFT_ALPHA * (ttft - old)
            return
        if kind is Outcome.CANCELLED:
            return
        ttft = outcome.ttft  # a lost hedge race: how long it waited, a lower bound of its TTFT
        if ttft is not None and ttft > endpoint.ttft_ewma:
            old = endpoint.ttft_ewma
            endpoint.ttft_ewma = ttft if old == 0.0 else old + TTFT_ALPHA * (ttft - old)
        now = time.monotonic()
        if endpoint.ejected_until > now:
            return  # already out (panic traffic still reaches it): its failures do not extend the ejection
        config = self.config
        endpoint.consecutive_5xx += 1
        if kind in GATEWAY_FAILURES:
            endpoint.consecutive_gateway += 1
        if endpoint.consecutive_5xx >= config.consecutive_errors or \
                endpoint.consecutive_gateway >= config.consecutive_gateway_failures:
            self._eject(endpoint, now)

    def _eject(self, endpoint: Endpoint, now: float) -> None:
        config = self.config
        endpoints = self.endpoints
        if config.max_ejection_percent <= 0:
            return
        allowed = max(1, len(endpoints) * config.max_ejection_percent // 100)
        ejected = sum(1 for e in endpoints if e.ejected_until > now)
        if ejected >= allowed:
            return
        base = config.base_ejection_seconds
        last_end = endpoint.ejected_until
        if endpoint.ejections and last_end and now - last_end > base * endpoint.ejections:
            endpoint.ejections = 0  # healthy for as long as its last ejection: start over
        endpoint.ejections += 1
        seconds = min(base * endpoint.ejections, config.max_ejection_seconds)
        endpoint.ejected_until = now + seconds
        endpoint.consecutive_5xx = 0
        endpoint.consecutive_gateway = 0
        log.warning("endpoint %s of pool %s ejected for %.0fs (ejection %d)", endpoint.label, self.pool, seconds,
                    endpoint.ejections)
