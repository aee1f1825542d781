"""Token-based rate limits: reserve at admission, settle to the real usage at completion.

Public API (the `admit` stage and the settle hook use these):

- `build_limiter(config.limits) -> MemoryLimiter | RedisLimiter` (keep it across swaps while
  `config.limits` is unchanged), `tier_limits(route) -> {tier: Limits}`, `limiter_key(route, tenant)`
- `reservation_tokens(body, output_cap, default_output=4096) -> int` (embeddings: default_output=0)
- `MemoryLimiter.reserve(key, limits, tokens) -> Decision` (synchronous)
- `limiter.reserve_cb(key, limits, tokens, callback) -> Decision | None` (every backend: a Decision
  now, or None and `callback(decision)` later from the loop within `timeout_ms`)
- `await limiter.areserve(key, limits, tokens) -> Decision`
- `Decision.allowed`, `.settle(actual_tokens)`, `.release()`
- `ratelimit_headers(decision) -> bytes`, `refusal_error(decision) -> GatewayError` (the 429)
"""

from .estimate import estimate_prompt_tokens, estimate_text_tokens, requested_output_tokens, reservation_tokens
from .headers import format_duration, ratelimit_headers, refusal_error
from .memory import MemoryLimiter
from .policy import Limiter, build_limiter, limiter_key, tier_limits
from .redis_backend import RedisLimiter
from .types import (
    REQUESTS_PER_MINUTE,
    TOKENS_PER_DAY,
    TOKENS_PER_MINUTE,
    UNAVAILABLE,
    Decision,
    Limits,
)

__all__ = [
    "REQUESTS_PER_MINUTE",
    "TOKENS_PER_DAY",
    "TOKENS_PER_MINUTE",
    "UNAVAILABLE",
    "Decision",
    "Limiter",
    "Limits",
    "MemoryLimiter",
    "RedisLimiter",
    "build_limiter",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "format_duration",
    "limiter_key",
    "ratelimit_headers",
    "refusal_error",
    "requested_output_tokens",
    "reservation_tokens",
    "tier_limits",
]
