"""What a limiter is asked (Limits) and what it answers (Decision, which is also the reservation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..api.route import RateLimit

MINUTE = 60.0
DAY = 86400.0
MINUTE_BUCKET = 1.0  # seconds per bucket of the per-minute windows (60 buckets + 1, see window.py)
DAY_BUCKET = 600.0  # seconds per bucket of the per-day window (144 buckets + 1)

# What refused a request (Decision.refused_by)
REQUESTS_PER_MINUTE = "requests_per_minute"
TOKENS_PER_MINUTE = "tokens_per_minute"
TOKENS_PER_DAY = "tokens_per_day"
UNAVAILABLE = "limiter_unavailable"  # onRedisDown: deny


@dataclass(frozen=True, slots=True)
class Limits:
    """One tier's limits (None: that dimension is unlimited)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None

    @classmethod
    def from_rate_limit(cls, rate_limit: RateLimit) -> Limits:
        return cls(rate_limit.requests_per_minute, rate_limit.tokens_per_minute, rate_limit.tokens_per_day)

    @property
    def empty(self) -> bool:
        return self.requests_per_minute is None and self.tokens_per_minute is None and self.tokens_per_day is None

    def scaled(self, replicas: int) -> Limits:
        """This replica's share when the shared counters are unreachable (onRedisDown: local)."""
        if replicas <= 1:
            return self

        def share(value: int | None) -> int | None:
            return None if value is None else max(1, value // replicas)

        return Limits(share(self.requests_per_minute), share(self.tokens_per_minute), share(self.tokens_per_day))


class Settler(Protocol):
    def _settle(self, decision: Decision, delta_tokens: int, delta_requests: int) -> None: ...


class Decision:
    """A limiter's answer; when allowed it is also the reservation to settle or release.

    Header fields describe the request window and the binding token window (the one with the
    least remaining: per minute, or per day once the daily budget is the tighter): `limit_*`
    is None when that dimension is unlimited; `reset_*` is seconds until the window is back to
    its full limit; `retry_after` (seconds) is set on a refusal that waiting can cure.
    """

    __slots__ = (
        "_settler", "allowed", "bucket_day", "bucket_minute", "key", "limit_requests", "limit_tokens", "local",
        "refused_by", "remaining_requests", "remaining_tokens", "reset_requests", "reset_tokens", "retry_after",
        "tokens",
    )

    def __init__(self, allowed: bool, tokens: int) -> None:
        self.allowed = allowed
        self.tokens = tokens  # reserved (allowed) or asked (refused)
        self.refused_by: str | None = None
        self.retry_after: float | None = None
        self.limit_requests: int | None = None
        self.remaining_requests = 0
        self.reset_requests = 0.0
        self.limit_tokens: int | None = None
        self.remaining_tokens = 0
        self.reset_tokens = 0.0
        self.local = False  # decided by a local fallback while the shared store is unreachable
        self._settler: Settler | None = None
        self.key: object = None
        self.bucket_minute = 0
        self.bucket_day = 0

    def settle(self, actual_tokens: int) -> None:
        """The request completed and used `actual_tokens` (prompt + completion): charge that instead.

        Idempotent with `release`: only the first of the two counts. Never blocks (Redis: queued
        and sent with the next reservation or within a few milliseconds).
        """
        settler = self._settler
        if settler is not None:
            self._settler = None
            delta = actual_tokens - self.tokens
            if delta:
                settler._settle(self, delta, 0)

    def release(self) -> None:
        """The request failed before using anything: give its request and tokens back."""
        settler = self._settler
        if settler is not None:
            self._settler = None
            settler._settle(self, -self.tokens, -1)

    @property
    def pending(self) -> bool:
        """Reserved and neither settled nor released yet."""
        return self._settler is not None

    def __repr__(self) -> str:
        state = "allowed" if self.allowed else f"refused_by={self.refused_by}"
        return (f"Decision({state}, tokens={self.tokens}, requests={self.remaining_requests}/{self.limit_requests}, "
                f"tokens_left={self.remaining_tokens}/{self.limit_tokens}, retry_after={self.retry_after})")


def unlimited(tokens: int) -> Decision:
    """An allowed decision with nothing to settle and no header to send (no limits, or fail-open)."""
    return Decision(True, tokens)
