"""Load estimates from scraped engine metrics, discounted as the scrape ages.

A scrape is fresh for `stale_after` seconds (three scrape intervals); its weight
then falls linearly to zero at four times that. Between scrapes the gateway knows
what it sent itself: the waiting-queue estimate adds the requests it started since
the scrape, so a burst is seen before the next scrape lands. Without a usable scrape
the estimate is the gateway's own in-flight count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint


class Freshness:
    __slots__ = ("fade", "stale_after")

    def __init__(self, interval: float) -> None:
        self.stale_after = self.fade = 0.0
        self.set_period(interval)

    def set_period(self, interval: float) -> None:
        """The scrape period, as the scraper really runs it."""
        self.stale_after = max(3.0 * interval, 0.05)
        self.fade = 3.0 * self.stale_after

    def signals(self, endpoint: Endpoint, now: float) -> tuple[float, float]:
        """(estimated requests waiting at, or on their way to, the engine; KV-cache use 0..1)."""
        in_flight = endpoint.in_flight
        scraped = endpoint.scraped_at
        if scraped:
            age = now - scraped - self.stale_after
            sent = in_flight - endpoint.in_flight_at_scrape
            queue = endpoint.waiting + sent if sent > 0 else endpoint.waiting
            if age <= 0.0:
                return queue, endpoint.kv_usage
            fade = self.fade
            if age < fade:
                f = 1.0 - age / fade
                return f * queue + (1.0 - f) * in_flight, f * endpoint.kv_usage
        return float(in_flight), 0.0
