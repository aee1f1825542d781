"""OpenAI's rate-limit headers and 429 body for a Decision."""

from __future__ import annotations

import functools
import math

from ..server.errors import GatewayError
from .types import REQUESTS_PER_MINUTE, TOKENS_PER_DAY, TOKENS_PER_MINUTE, UNAVAILABLE, Decision


def format_duration(seconds: float) -> str:
    """OpenAI's reset format (Go's time.Duration): `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`."""
    if seconds <= 0:
        return "0s"
    return _format_ms(math.ceil(seconds * 1000))


@functools.lru_cache(maxsize=8192)
def _format_ms(millis: int) -> str:
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def ratelimit_headers(decision: Decision) -> bytes:
    """Header lines (`name: value\\r\\n`) for a response: the limits, what remains, when each resets;
    on a refusal also `retry-after` (whole seconds) and `retry-after-ms` (which the openai SDK
    reads first). Empty when the request had no limit (or was let through while Redis was down)."""
    out = b""
    if decision.limit_requests is not None:
        out += b"x-ratelimit-limit-requests: %d\r\nx-ratelimit-remaining-requests: %d\r\n" \
               b"x-ratelimit-reset-requests: %s\r\n" % (
                   decision.limit_requests, decision.remaining_requests,
                   format_duration(decision.reset_requests).encode())
    if decision.limit_tokens is not None:
        out += b"x-ratelimit-limit-tokens: %d\r\nx-ratelimit-remaining-tokens: %d\r\n" \
               b"x-ratelimit-reset-tokens: %s\r\n" % (
                   decision.limit_tokens, decision.remaining_tokens, format_duration(decision.reset_tokens).encode())
    if not decision.allowed and decision.retry_after is not None:
        wait = max(decision.retry_after, 0.001)
        out += b"retry-after: %d\r\nretry-after-ms: %d\r\n" % (max(1, math.ceil(wait)), math.ceil(wait * 1000))
    return out


_WHAT = {
    REQUESTS_PER_MINUTE: ("requests per min (RPM)", "requests"),
    TOKENS_PER_MINUTE: ("tokens per min (TPM)", "tokens"),
    TOKENS_PER_DAY: ("tokens per day (TPD)", "tokens"),
}


def refusal_error(decision: Decision) -> GatewayError:
    """The 429 for a refused Decision, in OpenAI's words (send it with `ratelimit_headers`)."""
    if decision.refused_by == UNAVAILABLE:
        return GatewayError(429, "Rate limits cannot be checked right now; please retry shortly.",
                            type_="requests", code="rate_limit_exceeded")
    what, type_ = _WHAT.get(decision.refused_by or "", ("requests", "requests"))
    if decision.retry_after is None:
        return GatewayError(
            429, f"Request too large: it needs {decision.tokens} tokens, more than the limit of {what} allows.",
            type_=type_, code="rate_limit_exceeded")
    return GatewayError(
        429, f"Rate limit reached on {what}. Please try again in {format_duration(decision.retry_after)}.",
        type_=type_, code="rate_limit_exceeded")
