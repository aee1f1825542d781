"""Rate limits in memory: the sliding window, reserve/settle/release, headers, the estimator."""

from __future__ import annotations

import pytest
from tokenway_gateway.api.route import RoutePolicySpec
from tokenway_gateway.api.snapshot import GatewayConfig
from tokenway_gateway.limits import (
    REQUESTS_PER_MINUTE,
    TOKENS_PER_DAY,
    TOKENS_PER_MINUTE,
    Decision,
    Limits,
    MemoryLimiter,
    RedisLimiter,
    build_limiter,
    estimate_prompt_tokens,
    format_duration,
    limiter_key,
    ratelimit_headers,
    refusal_error,
    requested_output_tokens,
    reservation_tokens,
    tier_limits,
)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(start: float = 1000.0) -> tuple[MemoryLimiter, Clock]:
    clock = Clock(start)
    return MemoryLimiter(clock), clock


def headers(decision: Decision) -> dict[str, str]:
    lines = ratelimit_headers(decision).decode().split("\r\n")
    return dict(line.split(": ", 1) for line in lines if line)


def test_requests_per_minute_admits_the_limit_then_refuses_until_the_oldest_expires() -> None:
    lim, clock = limiter(1000.2)
    limits = Limits(requests_per_minute=3)
    remaining = []
    for _ in range(3):
        decision = lim.reserve("k", limits, 10)
        assert decision.allowed
        remaining.append(decision.remaining_requests)
        clock.now += 1.0
    assert remaining == [2, 1, 0]
    refused = lim.reserve("k", limits, 10)
    assert not refused.allowed
    assert refused.refused_by == REQUESTS_PER_MINUTE
    # the first request (bucket 1000) stops counting when bucket 1060 ends: t = 1061
    assert refused.retry_after == pytest.approx(1061.0 - clock.now)
    clock.now = 1060.9
    assert not lim.reserve("k", limits, 10).allowed
    clock.now = 1061.0
    assert lim.reserve("k", limits, 10).allowed


def test_no_span_of_a_minute_ever_holds_more_than_the_limit() -> None:
    """A fixed window would admit 2x across a boundary, a full token bucket 2x in its first minute."""
    lim, clock = limiter(0.99)
    limits = Limits(tokens_per_minute=1000)
    assert lim.reserve("k", limits, 1000).allowed
    clock.now = 60.5  # 59.51 s later
    assert not lim.reserve("k", limits, 1).allowed
    clock.now = 61.0  # more than 60 s later
    assert lim.reserve("k", limits, 1000).allowed


def test_settle_refunds_unused_tokens_and_charges_overuse() -> None:
    lim, _ = limiter()
    limits = Limits(tokens_per_minute=1000)
    first = lim.reserve("k", limits, 600)
    assert first.remaining_tokens == 400
    assert not lim.reserve("k", limits, 500).allowed
    first.settle(100)
    second = lim.reserve("k", limits, 500)
    assert second.allowed and second.remaining_tokens == 400
    second.settle(700)  # more than reserved (a prompt under-estimate): charged at once
    third = lim.reserve("k", limits, 1)
    assert third.remaining_tokens == 1000 - 100 - 700 - 1
    second.settle(0)  # only the first settle or release counts
    third.release()
    third.release()
    assert lim.reserve("k", limits, 200).remaining_tokens == 0


def test_release_gives_back_the_request_and_its_tokens() -> None:
    lim, _ = limiter()
    limits = Limits(requests_per_minute=1, tokens_per_minute=100)
    decision = lim.reserve("k", limits, 100)
    assert not lim.reserve("k", limits, 1).allowed
    decision.release()
    again = lim.reserve("k", limits, 100)
    assert again.allowed
    assert (again.remaining_requests, again.remaining_tokens) == (0, 0)


def test_a_settle_after_the_window_moved_on_charges_only_overuse_now() -> None:
    lim, clock = limiter()
    limits = Limits(tokens_per_minute=1000)
    long_request = lim.reserve("k", limits, 500)
    clock.now += 120  # its bucket no longer counts
    long_request.settle(800)  # 300 over the reservation: charged to the current bucket
    assert lim.reserve("k", limits, 1).remaining_tokens == 1000 - 300 - 1
    short = lim.reserve("k", limits, 100)
    clock.now += 120
    short.settle(10)  # a refund after expiry frees nothing (and never goes negative)
    assert lim.reserve("k", limits, 1).remaining_tokens == 999


def test_tenants_and_routes_have_their_own_counters() -> None:
    lim, _ = limiter()
    limits = Limits(requests_per_minute=1)
    assert lim.reserve(limiter_key("chat", "team-a"), limits, 1).allowed
    assert not lim.reserve(limiter_key("chat", "team-a"), limits, 1).allowed
    assert lim.reserve(limiter_key("chat", "team-b"), limits, 1).allowed
    assert lim.reserve(limiter_key("batch", "team-a"), limits, 1).allowed
    assert len(lim) == 3


def test_day_window_binds_when_tighter_and_headers_follow_it() -> None:
    lim, clock = limiter(0.0)
    limits = Limits(tokens_per_minute=1000, tokens_per_day=1500)
    first = lim.reserve("k", limits, 900)
    assert (first.limit_tokens, first.remaining_tokens) == (1000, 100)
    clock.now = 120.0
    second = lim.reserve("k", limits, 500)
    assert (second.limit_tokens, second.remaining_tokens) == (1500, 100)  # the day has less left
    clock.now = 240.0
    refused = lim.reserve("k", limits, 500)
    assert refused.refused_by == TOKENS_PER_DAY
    # the first day bucket [0, 600) stops counting after 145 buckets: t = 87000
    assert refused.retry_after == pytest.approx(87000.0 - 240.0)


def test_a_request_larger_than_the_limit_is_refused_with_no_retry_after() -> None:
    lim, _ = limiter()
    decision = lim.reserve("k", Limits(tokens_per_minute=1000), 1001)
    assert not decision.allowed
    assert decision.refused_by == TOKENS_PER_MINUTE
    assert decision.retry_after is None
    assert "retry-after" not in headers(decision)
    error = refusal_error(decision)
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    assert "too large" in error.message


def test_no_limits_means_no_counters_and_no_headers() -> None:
    lim, _ = limiter()
    decision = lim.reserve("k", Limits(), 10**9)
    assert decision.allowed
    assert ratelimit_headers(decision) == b""
    decision.settle(5)
    assert len(lim) == 0


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.0004, "1ms"), (0.02, "20ms"), (0.999, "999ms"), (1, "1s"), (1.5, "1.5s"), (59.25, "59.25s"),
    (60, "1m0s"), (360, "6m0s"), (90.5, "1m30.5s"), (3661, "1h1m1s"), (86400, "24h0m0s"),
])
def test_format_duration_uses_openais_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_headers_of_successes_carry_decreasing_remaining_counts_and_refusals_retry_after() -> None:
    lim, clock = limiter(500.0)
    limits = Limits(requests_per_minute=3, tokens_per_minute=1000)
    seen = []
    for _ in range(3):
        decision = lim.reserve("k", limits, 300)
        seen.append(headers(decision))
        decision.settle(200)
        clock.now += 0.5
    assert [h["x-ratelimit-remaining-requests"] for h in seen] == ["2", "1", "0"]
    assert [h["x-ratelimit-remaining-tokens"] for h in seen] == ["700", "500", "300"]
    assert seen[0]["x-ratelimit-limit-requests"] == "3"
    assert seen[0]["x-ratelimit-limit-tokens"] == "1000"
    assert seen[0]["x-ratelimit-reset-requests"] == "1m1s"  # back to full when the newest bucket expires
    assert "retry-after" not in seen[0]
    refused = lim.reserve("k", limits, 300)
    got = headers(refused)
    assert got["x-ratelimit-remaining-requests"] == "0"
    assert got["retry-after"] == "60"  # the first request, bucket 500, expires at 561 (now 501.5)
    assert got["retry-after-ms"] == "59500"
    error = refusal_error(refused)
    assert (error.status, error.type, error.code) == (429, "requests", "rate_limit_exceeded")
    assert "requests per min (RPM)" in error.message and "59.5s" in error.message


def test_prune_forgets_idle_keys_only() -> None:
    lim, clock = limiter()
    lim.reserve("old", Limits(requests_per_minute=5), 1)
    clock.now += 100_000
    lim.reserve("new", Limits(requests_per_minute=5), 1)
    assert lim.prune() == 1
    assert len(lim) == 1


def test_config_compiles_to_tier_limits_and_a_backend() -> None:
    route = RoutePolicySpec.model_validate({
        "rules": [{"name": "r", "backends": [{"pool": "p"}]}],
        "rateLimits": [{"tier": "free", "requestsPerMinute": 10, "tokensPerMinute": 1000},
                       {"tier": "premium", "tokensPerDay": 10**6}],
    })
    assert tier_limits(route) == {"free": Limits(10, 1000, None), "premium": Limits(None, None, 10**6)}
    with pytest.raises(ValueError, match="tiers must be unique"):
        RoutePolicySpec.model_validate({"rules": [{"name": "r", "backends": [{"pool": "p"}]}],
                                        "rateLimits": [{"tier": "a"}, {"tier": "a"}]})
    assert isinstance(build_limiter(GatewayConfig().limits), MemoryLimiter)
    shared = GatewayConfig.model_validate({"limits": {"backend": "redis", "redisUrl": "redis://127.0.0.1:1/2",
                                                      "timeoutMs": 20, "onRedisDown": "deny", "replicas": 3}})
    redis_limiter = build_limiter(shared.limits)
    assert isinstance(redis_limiter, RedisLimiter)
    assert (redis_limiter.db, redis_limiter.timeout, redis_limiter.on_down) == (2, 0.02, "deny")
    with pytest.raises(ValueError, match="redisUrl"):
        GatewayConfig.model_validate({"limits": {"backend": "redis"}})


def test_limits_scale_down_per_replica_for_the_local_fallback() -> None:
    assert Limits(100, 1000, None).scaled(3) == Limits(33, 333, None)
    assert Limits(2, None, 5).scaled(4) == Limits(1, None, 1)


def test_estimator_counts_chat_framing_parts_and_tools() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    plain = estimate_prompt_tokens({"messages": [{"role": "user", "content": text}]})
    assert 150 <= plain <= 260  # cl100k: 200 tokens of text + 6 framing
    parts = estimate_prompt_tokens({"messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]})
    assert parts == plain
    with_image = estimate_prompt_tokens({"messages": [{"role": "user", "content": [
        {"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": "data:x"}}]}]})
    assert with_image > plain + 500
    with_tools = estimate_prompt_tokens({"messages": [{"role": "user", "content": text}], "tools": [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]})
    assert with_tools > plain
    assert estimate_prompt_tokens({"prompt": [1, 2, 3, 4]}) == 4
    assert estimate_prompt_tokens({"prompt": ["a b c", "d e f"]}) >= 2
    assert estimate_prompt_tokens({}) == 1
    assert estimate_prompt_tokens({"messages": "not a list", "prompt": {"odd": 1}}) == 1


def test_reservation_is_prompt_with_margin_plus_the_most_output_allowed() -> None:
    assert requested_output_tokens({"max_tokens": 100}, None, 4096) == 100
    assert requested_output_tokens({"max_completion_tokens": 50, "max_tokens": 100}, None, 4096) == 50
    assert requested_output_tokens({}, 256, 4096) == 256  # the route's cap when the request has none
    assert requested_output_tokens({"max_tokens": 1000}, 256, 4096) == 256
    assert requested_output_tokens({}, None, 4096) == 4096
    assert requested_output_tokens({"max_tokens": 100, "n": 3}, None, 4096) == 300
    assert requested_output_tokens({"max_tokens": True}, None, 7) == 7
    body = {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 100}
    prompt = estimate_prompt_tokens(body)
    assert reservation_tokens(body) == -(-prompt * 125 // 100) + 100
    assert reservation_tokens({"input": "hello"}, default_output=0) >= 1
