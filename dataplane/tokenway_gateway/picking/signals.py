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

    def weight(self, endpoint: Endpoint, now: float) -> float:
        """1.0 for a fresh scrape, falling to 0.0; 0.0 when never scraped."""
        scraped = endpoint.scraped_at
        if scraped == 0.0:
            return 0.0
        age = now - scraped - self.stale_after
        if age <= 0.0:
            return 1.0
        return 0.0 if age >= self.fade else 1.0 - age / self.fade

    def queue(self, endpoint: Endpoint, now: float) -> float:
        """Estimated requests waiting at (or on their way to) the engine."""
        f = self.weight(endpoint, now)
        if f == 0.0:
            return float(endpoint.in_flight)
        in_flight = endpoint.in_flight
        fresh = endpoint.waiting + max(0, in_flight - endpoint.in_flight_at_scrape)
        return fresh if f == 1.0 else f * fresh + (1.0 - f) * in_flight

    def kv_usage(self, endpoint: Endpoint, now: float) -> float:
        f = self.weight(endpoint, now)
        return f * endpoint.kv_usage if f else 0.0
