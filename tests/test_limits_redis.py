"""Rate limits shared through a real redis-server: replicas, concurrency, settles, outages."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from procs import _env
from redis_server import RedisServer, redis_server_fixture  # noqa: F401  (provides `redis_server`)
from tokenway_gateway.limits import (
    UNAVAILABLE,
    Decision,
    Limits,
    MemoryLimiter,
    RedisLimiter,
    ratelimit_headers,
    refusal_error,
)


class SharedClock:
    """One fake clock for the memory limiter (seconds) and the Redis scripts (ms)."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def seconds(self) -> float:
        return self.now_ms / 1000

    def millis(self) -> int:
        return self.now_ms


def view(decision: Decision) -> tuple[object, ...]:
    return (decision.allowed, decision.refused_by, decision.retry_after, decision.limit_requests,
            decision.remaining_requests, decision.reset_requests, decision.limit_tokens, decision.remaining_tokens,
            decision.reset_tokens)


async def test_redis_and_memory_make_the_same_decisions(redis_server: RedisServer) -> None:
    """The Lua script is window.py's algorithm: same answers, headers included, on one clock."""
    clock = SharedClock(1_700_000_000_000)
    memory = MemoryLimiter(clock.seconds)
    shared = RedisLimiter(redis_server.url, timeout_ms=2000, now_ms=clock.millis)
    rng = random.Random(42)
    tiers = [Limits(5, 2000, 6000), Limits(None, 1500, None), Limits(8, None, 3000)]
    held: list[tuple[Decision, Decision]] = []
    try:
        for step in range(600):
            clock.now_ms += rng.choice([0, 0, 300, 1000, 7000, 45_000, 700_000])
            key = f"tenant-{rng.randrange(3)}"
            limits = tiers[int(key[-1])]
            tokens = rng.randrange(1, 900)
            expected = memory.reserve(key, limits, tokens)
            got = await shared.areserve(key, limits, tokens)
            assert view(got) == pytest.approx(view(expected)), f"step {step}"
            if got.allowed:
                held.append((expected, got))
            while held and rng.random() < 0.5:
                mine, theirs = held.pop(rng.randrange(len(held)))
                if rng.random() < 0.2:
                    mine.release()
                    theirs.release()
                else:
                    actual = rng.randrange(0, 2 * mine.tokens)
                    mine.settle(actual)
                    theirs.settle(actual)
                # settles run on Redis when flushed (next reservation or a 5 ms timer), with the time
                # then: let the timer send them before this fake clock jumps ahead
                await asyncio.sleep(0.01)
    finally:
        await shared.aclose()


async def test_three_replicas_share_one_limit_under_concurrency(redis_server: RedisServer) -> None:
    replicas = [RedisLimiter(redis_server.url, timeout_ms=2000) for _ in range(3)]
    limits = Limits(requests_per_minute=1000, tokens_per_minute=10_000)
    try:
        decisions = await asyncio.gather(*(replicas[i % 3].areserve("team-a", limits, 100) for i in range(300)))
        allowed = [d for d in decisions if d.allowed]
        assert len(allowed) == 100  # not 3 x 100: the LiteLLM multiplication bug
        assert sorted(d.remaining_tokens for d in allowed) == list(range(0, 10_000, 100))
        refused = [d for d in decisions if not d.allowed]
        assert all(d.retry_after is not None and 59 < d.retry_after <= 61 for d in refused)
        # settle half of them to a tenth: 50 x 90 tokens come back, to every replica
        for decision in allowed[:50]:
            decision.settle(10)
        await asyncio.sleep(0.05)  # the settle timer flushes them without a reservation
        again = await asyncio.gather(*(replicas[i % 3].areserve("team-a", limits, 90) for i in range(60)))
        assert sum(d.allowed for d in again) == 50
    finally:
        for replica in replicas:
            await replica.aclose()


async def test_settles_ride_with_the_next_reservation(redis_server: RedisServer) -> None:
    limiter = RedisLimiter(redis_server.url, timeout_ms=2000, settle_flush_ms=10_000)
    limits = Limits(tokens_per_minute=1000)
    try:
        first = await limiter.areserve("k", limits, 800)
        writes = limiter.stats["writes"]
        first.settle(100)
        assert limiter.stats["writes"] == writes  # nothing sent on the settle path
        second = await limiter.areserve("k", limits, 800)  # fits only if the refund went first
        assert second.allowed and second.remaining_tokens == 100
        assert limiter.stats["writes"] == writes + 1  # settle and reservation in one write
        assert limiter.stats["settle_batches"] == 1
    finally:
        await limiter.aclose()


async def test_release_on_failure_frees_the_reservation_everywhere(redis_server: RedisServer) -> None:
    a = RedisLimiter(redis_server.url, timeout_ms=2000, settle_flush_ms=1)
    b = RedisLimiter(redis_server.url, timeout_ms=2000)
    limits = Limits(requests_per_minute=1, tokens_per_minute=500)
    try:
        decision = await a.areserve("k", limits, 500)
        assert not (await b.areserve("k", limits, 1)).allowed
        decision.release()
        await asyncio.sleep(0.05)
        again = await b.areserve("k", limits, 500)
        assert again.allowed
        text = ratelimit_headers(again)
        assert b"x-ratelimit-remaining-requests: 0\r\n" in text
        assert b"x-ratelimit-remaining-tokens: 0\r\n" in text
    finally:
        await a.aclose()
        await b.aclose()


def test_three_processes_share_one_limit(redis_server: RedisServer) -> None:
    script = textwrap.dedent(f"""
        import asyncio, sys
        from tokenway_gateway.limits import Limits, RedisLimiter
        async def main():
            limiter = RedisLimiter({redis_server.url!r}, timeout_ms=5000)
            limits = Limits(tokens_per_minute=20_000)
            await limiter.areserve("warm-up", Limits(requests_per_minute=10**6), 1)
            sys.stdout.write("ready\\n"); sys.stdout.flush()
            sys.stdin.readline()
            decisions = await asyncio.gather(*(limiter.areserve("shared", limits, 100) for _ in range(200)))
            print(sum(d.allowed for d in decisions))
            await limiter.aclose()
        asyncio.run(main())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=_env()) for _ in range(3)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:  # start all three at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        counts = [int(proc.communicate(timeout=60)[0].strip()) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sum(counts) == 200  # 20_000 / 100, split among the replicas however the race went
    assert all(count < 200 for count in counts) or sorted(counts) == [0, 0, 200]


async def _until(predicate_coro, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate_coro():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("policy", ["local", "deny", "allow"])
async def test_redis_killed_mid_test_then_restarted(redis_server: RedisServer, policy: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    timeout_ms = 100.0
    limiter = RedisLimiter(redis_server.url, timeout_ms=timeout_ms, on_down=policy,  # type: ignore[arg-type]
                           replicas=2)
    limits = Limits(requests_per_minute=10)
    caplog.set_level(logging.WARNING, logger="tokenway.limits")
    try:
        before = await limiter.areserve("k", limits, 1)
        assert before.allowed and not before.local and before.remaining_requests == 9
        redis_server.kill()
        worst = 0.0
        outcomes = []
        for _ in range(30):
            started = time.perf_counter()
            decision = await limiter.areserve("k", limits, 1)
            worst = max(worst, time.perf_counter() - started)
            outcomes.append(decision)
        assert worst < timeout_ms / 1000 + 0.05  # never more than the Redis timeout added
        if policy == "local":
            assert all(d.local for d in outcomes)
            assert sum(d.allowed for d in outcomes) == 5  # the limit divided by the 2 replicas
        elif policy == "deny":
            assert not any(d.allowed for d in outcomes)
            assert all(d.refused_by == UNAVAILABLE for d in outcomes)
            error = refusal_error(outcomes[0])
            assert error.status == 429
            assert b"retry-after: 1\r\n" in ratelimit_headers(outcomes[0])
        else:
            assert all(d.allowed and ratelimit_headers(d) == b"" for d in outcomes)
        warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(warnings) == 1  # once per outage, not per request
        assert "127.0.0.1" in warnings[0].getMessage()

        redis_server.start()  # same port, empty (nothing persisted)

        async def recovered() -> bool:
            decision = await limiter.areserve("k", limits, 1)
            return decision.allowed and not decision.local and decision.limit_requests == 10

        assert await _until(recovered, timeout=10.0)
        assert any("is back" in r.getMessage() for r in caplog.records)
        assert limiter.up
    finally:
        await limiter.aclose()


async def test_a_stalled_redis_costs_at_most_the_timeout(redis_server: RedisServer) -> None:
    """SIGSTOP: the connection stays open but nothing answers (a hung or overloaded server)."""
    limiter = RedisLimiter(redis_server.url, timeout_ms=80, on_down="local")
    limits = Limits(tokens_per_minute=1000)
    assert redis_server.proc is not None
    try:
        assert not (await limiter.areserve("k", limits, 10)).local
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        started = time.perf_counter()
        stalled = await asyncio.gather(*(limiter.areserve("k", limits, 10) for _ in range(20)))
        elapsed = time.perf_counter() - started
        assert all(d.local and d.allowed for d in stalled)
        assert elapsed < 0.08 + 0.05
        assert limiter.stats["timeouts"] == 1
        started = time.perf_counter()
        assert (await limiter.areserve("k", limits, 10)).local  # known down: no wait at all
        assert time.perf_counter() - started < 0.01
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    try:
        async def recovered() -> bool:
            return not (await limiter.areserve("k", limits, 1)).local

        assert await _until(recovered, timeout=10.0)
    finally:
        await limiter.aclose()


async def test_unreachable_at_start_falls_back_then_connects(redis_server: RedisServer) -> None:
    redis_server.kill()
    limiter = RedisLimiter(redis_server.url, timeout_ms=100, on_down="deny")
    try:
        first = await limiter.areserve("k", Limits(requests_per_minute=5), 1)
        assert not first.allowed and first.refused_by == UNAVAILABLE
        redis_server.start()

        async def recovered() -> bool:
            return (await limiter.areserve("k", Limits(requests_per_minute=5), 1)).allowed

        assert await _until(recovered, timeout=10.0)
    finally:
        await limiter.aclose()


async def test_password_and_database_from_the_url(tmp_path: object) -> None:
    with RedisServer() as server:
        import redis as redis_client

        admin = redis_client.Redis(port=server.port)
        admin.config_set("requirepass", "s3cret")
        limiter = RedisLimiter(f"redis://:s3cret@127.0.0.1:{server.port}/3", timeout_ms=2000, on_down="deny")
        try:
            decision = await limiter.areserve("k", Limits(requests_per_minute=5), 1)
            assert decision.allowed and decision.remaining_requests == 4
            authed = redis_client.Redis(port=server.port, password="s3cret", db=3)
            assert authed.exists("tokenway:rl:k")
        finally:
            await limiter.aclose()


def test_works_on_uvloop(redis_server: RedisServer) -> None:
    """The gateway's loop: uvloop transports are not asyncio.Transport subclasses."""
    uvloop = pytest.importorskip("uvloop")

    async def run() -> tuple[int, int]:
        replicas = [RedisLimiter(redis_server.url, timeout_ms=2000) for _ in range(3)]
        limits = Limits(tokens_per_minute=5000)
        try:
            decisions = await asyncio.gather(*(replicas[i % 3].areserve("u", limits, 100) for i in range(90)))
            for decision in decisions:
                if decision.allowed:
                    decision.settle(50)
            await asyncio.sleep(0.05)
            refunded = await replicas[0].areserve("u", limits, 2500)
            return sum(d.allowed for d in decisions), refunded.remaining_tokens
        finally:
            for replica in replicas:
                await replica.aclose()

    admitted, remaining = uvloop.run(run())
    assert admitted == 50
    assert remaining == 0  # 50 x 50 settled back, then 2500 reserved
