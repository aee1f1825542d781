"""From config to limiter: the backend of `limits`, and each route's limits per tier."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from ..api.route import RoutePolicySpec
from ..api.snapshot import LimitsSettings
from .memory import DecisionCallback, MemoryLimiter
from .redis_backend import RedisLimiter
from .types import Decision, Limits


class Limiter(Protocol):
    def reserve_cb(self, key: Hashable, limits: Limits, tokens: int,
                   callback: DecisionCallback) -> Decision | None: ...

    async def areserve(self, key: Hashable, limits: Limits, tokens: int) -> Decision: ...


def build_limiter(settings: LimitsSettings) -> MemoryLimiter | RedisLimiter:
    """The limiter for a config's `limits` section. Keep it across config swaps while
    `settings` is unchanged (its counters live in it); build a new one when it changes."""
    if settings.backend == "redis":
        assert settings.redis_url is not None  # the model requires it
        return RedisLimiter(settings.redis_url, timeout_ms=settings.timeout_ms, on_down=settings.on_redis_down,
                            replicas=settings.replicas)
    return MemoryLimiter()


def tier_limits(route: RoutePolicySpec) -> dict[str, Limits]:
    """A route's `rateLimits` by tier (compile once per snapshot; tiers without an entry are unlimited)."""
    return {entry.tier: Limits.from_rate_limit(entry) for entry in route.rate_limits}


def limiter_key(route: str, tenant: str) -> str:
    """Counters are per route policy and tenant: all of a tenant's keys share them."""
    return f"{route}\x1f{tenant}"
