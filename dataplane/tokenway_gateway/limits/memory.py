"""In-process limiter for one replica: synchronous, a few dict and list operations per call."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from .types import (
    DAY,
    DAY_BUCKET,
    MINUTE,
    MINUTE_BUCKET,
    REQUESTS_PER_MINUTE,
    TOKENS_PER_DAY,
    TOKENS_PER_MINUTE,
    Decision,
    Limits,
    unlimited,
)
from .window import Window

DecisionCallback = Callable[[Decision], None]


class _Tenant:
    __slots__ = ("day", "last_used", "requests", "tokens")

    def __init__(self) -> None:
        self.requests = Window(MINUTE, MINUTE_BUCKET)
        self.tokens = Window(MINUTE, MINUTE_BUCKET)
        self.day = Window(DAY, DAY_BUCKET)
        self.last_used = 0.0


class MemoryLimiter:
    """Sliding-window limits per key (route + tenant) in this process.

    `reserve` answers synchronously; `reserve_cb` and `areserve` exist so callers can treat
    every backend alike. Settle and release are plain method calls on the Decision.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tenants: dict[Hashable, _Tenant] = {}

    def __len__(self) -> int:
        return len(self._tenants)

    def reserve(self, key: Hashable, limits: Limits, tokens: int) -> Decision:
        """Admit one request of an estimated `tokens` (prompt estimate + max output) or refuse it."""
        if limits.empty:
            return unlimited(tokens)
        now = self.clock()
        tenant = self._tenants.get(key)
        if tenant is None:
            tenant = self._tenants[key] = _Tenant()
        tenant.last_used = now
        rpm = limits.requests_per_minute
        tpm = limits.tokens_per_minute
        tpd = limits.tokens_per_day
        requests = tenant.requests
        minute_tokens = tenant.tokens
        day = tenant.day
        bucket = int(now // MINUTE_BUCKET)
        day_bucket = int(now // DAY_BUCKET)
        if rpm is not None:
            requests.advance(bucket)
        if tpm is not None:
            minute_tokens.advance(bucket)
        if tpd is not None:
            day.advance(day_bucket)
        refused = (
            (rpm is not None and requests.total + 1 > rpm)
            or (tpm is not None and minute_tokens.total + tokens > tpm)
            or (tpd is not None and day.total + tokens > tpd)
        )
        if refused:
            return self._refusal(tenant, limits, tokens, now)
        decision = Decision(True, tokens)
        if rpm is not None:
            requests.charge(1)
        if tpm is not None:
            minute_tokens.charge(tokens)
        if tpd is not None:
            day.charge(tokens)
        decision._settler = self
        decision.key = tenant
        decision.bucket_minute = bucket
        decision.bucket_day = day_bucket
        _describe(decision, tenant, limits, now)
        return decision

    def _refusal(self, tenant: _Tenant, limits: Limits, tokens: int, now: float) -> Decision:
        decision = Decision(False, tokens)
        waits: list[float | None] = []
        if limits.requests_per_minute is not None and tenant.requests.total + 1 > limits.requests_per_minute:
            decision.refused_by = REQUESTS_PER_MINUTE
            waits.append(tenant.requests.retry_after(now, 1, limits.requests_per_minute))
        if limits.tokens_per_minute is not None and tenant.tokens.total + tokens > limits.tokens_per_minute:
            decision.refused_by = decision.refused_by or TOKENS_PER_MINUTE
            waits.append(tenant.tokens.retry_after(now, tokens, limits.tokens_per_minute))
        if limits.tokens_per_day is not None and tenant.day.total + tokens > limits.tokens_per_day:
            decision.refused_by = decision.refused_by or TOKENS_PER_DAY
            waits.append(tenant.day.retry_after(now, tokens, limits.tokens_per_day))
        decision.retry_after = None if None in waits else max(w for w in waits if w is not None)
        _describe(decision, tenant, limits, now)
        return decision

    def _settle(self, decision: Decision, delta_tokens: int, delta_requests: int) -> None:
        tenant = decision.key
        assert isinstance(tenant, _Tenant)
        now = self.clock()
        bucket = int(now // MINUTE_BUCKET)
        if delta_requests:
            tenant.requests.adjust(decision.bucket_minute, delta_requests, bucket)
        if delta_tokens:
            tenant.tokens.adjust(decision.bucket_minute, delta_tokens, bucket)
            tenant.day.adjust(decision.bucket_day, delta_tokens, int(now // DAY_BUCKET))

    def reserve_cb(self, key: Hashable, limits: Limits, tokens: int, callback: DecisionCallback) -> Decision | None:
        """Backend-neutral form: the memory backend always answers now (the callback is never called)."""
        return self.reserve(key, limits, tokens)

    async def areserve(self, key: Hashable, limits: Limits, tokens: int) -> Decision:
        return self.reserve(key, limits, tokens)

    def prune(self, idle_seconds: float = DAY + DAY_BUCKET) -> int:
        """Forget keys unused for longer than every window (their counters are all zero by then)."""
        cutoff = self.clock() - idle_seconds
        stale = [key for key, tenant in self._tenants.items() if tenant.last_used < cutoff]
        for key in stale:
            del self._tenants[key]
        return len(stale)


def _describe(decision: Decision, tenant: _Tenant, limits: Limits, now: float) -> None:
    """Fill the header fields: the request window, and the token window with the least remaining."""
    rpm = limits.requests_per_minute
    if rpm is not None:
        decision.limit_requests = rpm
        decision.remaining_requests = max(0, rpm - tenant.requests.total)
        decision.reset_requests = tenant.requests.reset_after(now)
    tpm = limits.tokens_per_minute
    tpd = limits.tokens_per_day
    minute_left = None if tpm is None else max(0, tpm - tenant.tokens.total)
    day_left = None if tpd is None else max(0, tpd - tenant.day.total)
    if minute_left is not None and (day_left is None or minute_left <= day_left):
        decision.limit_tokens = tpm
        decision.remaining_tokens = minute_left
        decision.reset_tokens = tenant.tokens.reset_after(now)
    elif day_left is not None:
        decision.limit_tokens = tpd
        decision.remaining_tokens = day_left
        decision.reset_tokens = tenant.day.reset_after(now)
