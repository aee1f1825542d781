"""ResponseCache on a real redis-server: entries and vectors shared between replicas (processes)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from redis_server import RedisServer, redis_server_fixture  # noqa: F401  (provides `redis_server`)
from tokenway_gateway.api import CachePolicySpec
from tokenway_gateway.cache import RedisBackend, ResponseCache

ROOT = Path(__file__).resolve().parents[1]


def chat(text: str) -> dict[str, Any]:
    return {"model": "llama", "messages": [{"role": "user", "content": text}], "temperature": 0}


def answer(text: str) -> bytes:
    return orjson.dumps({"id": "c1", "object": "chat.completion", "created": 1, "model": "llama",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})


def policy(url: str, **kw: Any) -> CachePolicySpec:
    return CachePolicySpec(backend="redis", redis_url=url, **kw)


STORE_IN_OTHER_PROCESS = textwrap.dedent("""
    import asyncio, sys, orjson
    from tokenway_gateway.api import CachePolicySpec
    from tokenway_gateway.cache import ResponseCache

    async def main():
        cache = ResponseCache(CachePolicySpec(backend="redis", redis_url=sys.argv[1], mode="semantic"))
        for text, reply in (("How do I reset my password?", "Use the forgot-password link."),
                            ("What is your refund policy?", "30 days.")):
            plan = cache.plan({"model": "llama", "messages": [{"role": "user", "content": text}], "temperature": 0},
                              tenant="acme", model="llama", route="r")
            body = orjson.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "llama",
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                              "finish_reason": "stop"}]})
            assert await cache.store(plan, 200, body=body)
        await cache.aclose()

    asyncio.run(main())
""")


async def test_hit_on_one_replica_after_store_on_another(redis_server: RedisServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STORE_IN_OTHER_PROCESS, redis_server.url, cwd=str(ROOT),
        env={"PYTHONPATH": f"{ROOT / 'dataplane'}", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()

    cache = ResponseCache(policy(redis_server.url, mode="semantic"))
    try:
        assert not cache.sync_exact
        exact = await cache.lookup(cache.plan(chat("What is your refund policy?"), tenant="acme", model="llama",
                                              route="r"))
        assert exact is not None and exact.kind == "exact" and b"30 days." in exact.body()
        para = await cache.lookup(cache.plan(chat("I forgot my password. How can I reset it?"), tenant="acme",
                                             model="llama", route="r"))
        assert para is not None and para.kind == "semantic" and b"forgot-password" in para.body()
        # Another tenant's key never sees them.
        assert await cache.lookup(cache.plan(chat("What is your refund policy?"), tenant="globex", model="llama",
                                             route="r")) is None
        assert await cache.lookup(cache.plan(chat("I forgot my password. How can I reset it?"), tenant="globex",
                                             model="llama", route="r")) is None
        # A contradiction is still refused across replicas.
        assert await cache.lookup(cache.plan(chat("How do I reset my PIN?"), tenant="acme", model="llama",
                                             route="r")) is None
    finally:
        await cache.aclose()


async def test_redis_ttl_eviction_and_invalidation(redis_server: RedisServer) -> None:
    cache = ResponseCache(policy(redis_server.url, max_entries=3, ttl_seconds=1))
    other = ResponseCache(policy(redis_server.url, max_entries=3, ttl_seconds=1))  # a second replica
    try:
        plans = [cache.plan(chat(f"question {i}"), tenant="t", model="llama", route="r") for i in range(4)]
        for p in plans[:3]:
            assert await cache.store(p, 200, body=answer("a"))
        assert await other.lookup(plans[0]) is not None  # q0 is now the most recently used
        await asyncio.sleep(0.01)
        assert await cache.store(plans[3], 200, body=answer("a"))  # evicts q1
        assert await other.lookup(plans[1]) is None
        assert await other.lookup(plans[0]) is not None and await other.lookup(plans[3]) is not None
        assert await cache.entries() == 3
        await asyncio.sleep(1.2)
        assert await other.lookup(plans[0]) is None  # expired (Redis' own TTL)
    finally:
        await cache.aclose()
        await other.aclose()


async def test_redis_invalidation_by_tenant_and_route(redis_server: RedisServer) -> None:
    a = ResponseCache(policy(redis_server.url, mode="semantic"))
    b = ResponseCache(policy(redis_server.url, mode="semantic"))
    try:
        plans = {(t, r): a.plan(chat("How do I reset my password?"), tenant=t, model="llama", route=r)
                 for t in ("x", "y") for r in ("r1", "r2")}
        for p in plans.values():
            assert await a.store(p, 200, body=answer("v"))
        para = "I forgot my password. How can I reset it?"
        assert await b.lookup(b.plan(chat(para), tenant="x", model="llama", route="r1")) is not None
        assert await a.invalidate(tenant="x") == 2
        # The other replica's local vectors are stale: its lookup finds the entry gone and misses.
        assert await b.lookup(b.plan(chat(para), tenant="x", model="llama", route="r1")) is None
        assert await b.lookup(plans["y", "r1"]) is not None
        assert await b.invalidate(route="r2") == 1
        assert await a.lookup(plans["y", "r2"]) is None and await a.lookup(plans["y", "r1"]) is not None
        await a.invalidate()
        assert await a.entries() == 0
        # Nothing in Redis names the tenant or route in clear text.
        r = aioredis.from_url(redis_server.url)
        await a.store(plans["x", "r1"], 200, body=answer("v"))
        names = [k async for k in r.scan_iter("*")]
        assert names and not any(part == b"x" for k in names for part in k.split(b":"))
        await r.aclose()
    finally:
        await a.aclose()
        await b.aclose()


def test_backend_has_no_sync_exact_path() -> None:
    backend = RedisBackend(aioredis.from_url("redis://127.0.0.1:1/0"))
    with pytest.raises(TypeError):
        backend.get_nowait(None, "k")  # type: ignore[arg-type]
    asyncio.run(backend.aclose())


async def test_redis_outage_is_a_miss_not_a_failure(redis_server: RedisServer) -> None:
    cache = ResponseCache(policy(redis_server.url, mode="semantic"))
    try:
        p = cache.plan(chat("What is your refund policy?"), tenant="t", model="llama", route="r")
        assert await cache.store(p, 200, body=answer("30 days."))
        redis_server.kill()
        loop = asyncio.get_running_loop()
        t = loop.time()
        assert await cache.lookup(p) is None
        assert not await cache.store(p, 200, body=answer("30 days."))
        assert loop.time() - t < 5
        assert cache.stats.route("r").errors >= 2
        redis_server.start()
        for _ in range(50):  # the client reconnects by itself
            if await cache.store(p, 200, body=answer("30 days.")):
                break
            await asyncio.sleep(0.1)
        hit = await cache.lookup(p)
        assert hit is not None and b"30 days." in hit.body()
    finally:
        await cache.aclose()
