"""ResponseCache on the in-memory backend: exact and semantic hits, partitions, TTL, LRU, invalidation."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from tokenway_gateway.api import CachePolicySpec
from tokenway_gateway.cache import CachedResponse, MemoryBackend, Partition, ResponseCache, VectorIndex

SYSTEM = "You are a support agent."


def chat(text: str, **kw: Any) -> dict[str, Any]:
    return {"model": "llama", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}],
            "temperature": 0, **kw}


def answer(text: str) -> bytes:
    return orjson.dumps({"id": "c1", "object": "chat.completion", "created": 1, "model": "llama",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})


def content(hit: Any) -> str:
    return str(orjson.loads(hit.body())["choices"][0]["message"]["content"])


async def test_exact_hit_is_sync_and_per_partition() -> None:
    cache = ResponseCache(CachePolicySpec(mode="exact"))
    assert cache.sync_exact and not cache.needs_async_lookup and cache.embedder is None
    p = cache.plan(chat("What is your refund policy?"), tenant="acme", model="llama", route="default")
    assert cache.lookup_exact(p) is None
    assert await cache.store(p, 200, body=answer("30 days."))
    again = cache.plan(chat("What is your refund policy?", stream=True), tenant="acme", model="llama", route="default")
    hit = cache.lookup_exact(again)
    assert hit is not None and hit.kind == "exact" and content(hit) == "30 days."
    # Same prompt, another tenant / model / route: a miss (hard partitions).
    for kw in ({"tenant": "globex", "model": "llama", "route": "default"},
               {"tenant": "acme", "model": "mistral", "route": "default"},
               {"tenant": "acme", "model": "llama", "route": "premium"},
               {"tenant": None, "model": "llama", "route": "default"}):
        assert cache.lookup_exact(cache.plan(chat("What is your refund policy?"), **kw)) is None  # type: ignore[arg-type]
    st = cache.stats.route("default")
    assert st.hits_exact == 1


async def test_global_scope_shares_between_tenants() -> None:
    cache = ResponseCache(CachePolicySpec(scope="global"))
    p = cache.plan(chat("hello"), tenant="a", model="llama", route="r")
    await cache.store(p, 200, body=answer("hi"))
    assert cache.lookup_exact(cache.plan(chat("hello"), tenant="b", model="llama", route="r")) is not None


async def test_bypass_rules() -> None:
    cache = ResponseCache(CachePolicySpec())
    sampled = cache.plan({**chat("x"), "temperature": 0.7}, tenant="t", model="llama", route="r")
    assert not sampled.lookup and not sampled.store and sampled.reason == "sampled"
    unset = cache.plan({"model": "llama", "messages": [{"role": "user", "content": "x"}]}, tenant="t", model="llama",
                       route="r")
    assert not unset.lookup  # temperature unset means 1.0
    allowed = ResponseCache(CachePolicySpec(cache_sampled=True)).plan({**chat("x"), "temperature": 0.7}, tenant="t",
                                                                      model="llama", route="r")
    assert allowed.lookup and allowed.store
    no_cache = cache.plan(chat("x"), tenant="t", model="llama", route="r", cache_control_header="no-cache")
    assert not no_cache.lookup and no_cache.store
    no_store = cache.plan(chat("x"), tenant="t", model="llama", route="r", cache_control_header="no-store")
    assert no_store.lookup and not no_store.store
    assert not await cache.store(no_store, 200, body=answer("a"))
    no_stream = ResponseCache(CachePolicySpec(cache_streaming=False))
    assert not no_stream.plan(chat("x", stream=True), tenant="t", model="llama", route="r").lookup
    assert CachePolicySpec(routes=["a"]).routes == ["a"]
    assert ResponseCache(CachePolicySpec(routes=["a"])).applies_to("a")
    assert not ResponseCache(CachePolicySpec(routes=["a"])).applies_to("b")


async def test_failed_cancelled_or_cut_off_responses_are_never_stored() -> None:
    cache = ResponseCache(CachePolicySpec())
    p = cache.plan(chat("q"), tenant="t", model="llama", route="r")
    cut = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
           b'"choices":[{"index":0,"delta":{"content":"par"}}]}\n\n')
    assert not await cache.store(p, 500, body=answer("x"))
    assert not await cache.store(p, 200, body=answer("x"), completed=False)  # client cancelled
    assert not await cache.store(p, 200, events=[cut])  # stream cut before finish and [DONE]
    assert not await cache.store(p, 200, body=b'{"error": {"message": "overloaded"}}')
    assert cache.store_nowait(p, 503, body=answer("x")) is None
    assert cache.lookup_exact(p) is None
    assert cache.stats.route("r").not_stored >= 4
    task = cache.store_nowait(p, 200, events=[cut + b'data: {"id":"c","object":"chat.completion.chunk","created":1,'
                                              b'"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
                                              b"\n\ndata: [DONE]\n\n"])
    assert task is not None and await task
    hit = cache.lookup_exact(p)
    assert hit is not None and b"par" in hit.sse()


async def test_ttl_expiry_and_lru_eviction() -> None:
    now = [1000.0]
    backend = MemoryBackend(max_entries=3, ttl_seconds=10, clock=lambda: now[0])
    cache = ResponseCache(CachePolicySpec(max_entries=3, ttl_seconds=10), backend)
    plans = [cache.plan(chat(f"q{i}"), tenant="t", model="llama", route="r") for i in range(5)]
    for p in plans[:3]:
        await cache.store(p, 200, body=answer("a"))
    assert cache.lookup_exact(plans[0]) is not None  # q0 becomes most recently used
    await cache.store(plans[3], 200, body=answer("a"))  # evicts q1, the least recently used
    assert cache.lookup_exact(plans[1]) is None
    assert cache.lookup_exact(plans[0]) is not None and cache.lookup_exact(plans[3]) is not None
    assert backend.evictions == 1 and len(backend) == 3
    now[0] += 11
    assert cache.lookup_exact(plans[0]) is None  # expired
    assert backend.expirations >= 1


async def test_invalidation_by_tenant_route_or_all() -> None:
    cache = ResponseCache(CachePolicySpec())
    plans = {(t, r): cache.plan(chat("same"), tenant=t, model="llama", route=r)
             for t in ("a", "b") for r in ("x", "y")}
    for p in plans.values():
        await cache.store(p, 200, body=answer("v"))
    assert await cache.invalidate(tenant="a") == 2
    assert cache.lookup_exact(plans["a", "x"]) is None and cache.lookup_exact(plans["b", "x"]) is not None
    assert await cache.invalidate(route="y") == 1
    assert cache.lookup_exact(plans["b", "y"]) is None and cache.lookup_exact(plans["b", "x"]) is not None
    assert await cache.invalidate() == 1
    assert await cache.entries() == 0


@pytest.fixture(scope="module")
def semantic_cache_policy() -> CachePolicySpec:
    return CachePolicySpec(mode="semantic")


async def test_semantic_hit_verified_and_isolated(semantic_cache_policy: CachePolicySpec) -> None:
    cache = ResponseCache(semantic_cache_policy)
    stored = cache.plan(chat("How do I reset my password?"), tenant="acme", model="llama", route="r")
    assert await cache.lookup(stored) is None
    assert await cache.store(stored, 200, body=answer("Use the forgot-password link."))

    para = cache.plan(chat("I forgot my password. How can I reset it?"), tenant="acme", model="llama", route="r")
    hit = await cache.lookup(para)
    assert hit is not None and hit.kind == "semantic" and 0.8 <= hit.similarity < 1.0
    assert content(hit) == "Use the forgot-password link."
    assert set(para.timings) == {"embed", "search", "verify"}

    # Same text, other tenant: never searched.
    assert await cache.lookup(cache.plan(chat("I forgot my password. How can I reset it?"), tenant="globex",
                                         model="llama", route="r")) is None
    # Same text, another system prompt: another context, never matched.
    other_ctx = chat("I forgot my password. How can I reset it?")
    other_ctx["messages"][0]["content"] = "You are a bank's support agent."
    assert await cache.lookup(cache.plan(other_ctx, tenant="acme", model="llama", route="r")) is None


async def test_semantic_false_hits_rejected_by_verifier(semantic_cache_policy: CachePolicySpec) -> None:
    cache = ResponseCache(semantic_cache_policy)
    pairs = [("Is the port open on the server?", "Is the port closed on the server?"),
             ("Convert 100 USD to EUR.", "Convert 100 EUR to USD."),
             ("Can I get a refund after 30 days?", "Can I get a refund after 60 days?")]
    for stored, _ in pairs:
        await cache.store(cache.plan(chat(stored), tenant="t", model="llama", route="r"), 200, body=answer(stored))
    for _, query in pairs:
        assert await cache.lookup(cache.plan(chat(query), tenant="t", model="llama", route="r")) is None
    assert sum(cache.stats.route("r").rejections.values()) >= 3
    # Without the verifier, the same lookups hit (the threshold alone does not separate them).
    loose = ResponseCache(CachePolicySpec(mode="semantic", verify=False))
    for stored, _ in pairs:
        await loose.store(loose.plan(chat(stored), tenant="t", model="llama", route="r"), 200, body=answer(stored))
    wrong = [await loose.lookup(loose.plan(chat(q), tenant="t", model="llama", route="r")) for _, q in pairs]
    assert sum(h is not None for h in wrong) >= 2


async def test_semantic_partition_switches_to_hnsw_and_evicts() -> None:
    cache = ResponseCache(CachePolicySpec(mode="semantic", max_entries=40), ann_threshold=16)
    texts = [f"What is the status of order number {1000 + i}?" for i in range(30)]
    vecs = cache.embedder.embed(texts) if hasattr(cache.embedder, "embed") else None  # type: ignore[union-attr]
    assert vecs is not None
    for t, v in zip(texts, vecs, strict=True):
        p = cache.plan(chat(t), tenant="t", model="llama", route="r")
        p.vector = v
        assert await cache.store(p, 200, body=answer(t))
    backend = cache.backend
    assert isinstance(backend, MemoryBackend)
    part = Partition("t", "llama", "r")
    ctx = cache.plan(chat(texts[0]), tenant="t", model="llama", route="r").semantic.context  # type: ignore[union-attr]
    index = backend._indexes[(part, ctx)]
    assert index.kind == "hnsw" and len(index) == 30
    # Invalidation empties the index too.
    await cache.invalidate(tenant="t")
    assert backend.index_size(part, ctx) == 0


def test_vector_index_flat_and_hnsw_agree() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    flat, ann = VectorIndex(32, ann_threshold=10_000), VectorIndex(32, ann_threshold=50)
    for i, v in enumerate(x):
        flat.add(f"k{i}", v)
        ann.add(f"k{i}", v)
    assert flat.kind == "flat" and ann.kind == "hnsw"
    for i in (0, 17, 299):
        assert flat.search(x[i], 1)[0][0] == f"k{i}" == ann.search(x[i], 1)[0][0]
        assert ann.search(x[i], 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    for idx in (flat, ann):
        assert idx.remove("k17") and not idx.remove("k17")
        assert all(k != "k17" for k, _ in idx.search(x[17], 5))
        idx.add("k17", x[17])  # re-adding reuses a slot
        assert idx.search(x[17], 1)[0][0] == "k17"
    assert len(flat) == len(ann) == 300


def test_cached_response_round_trip() -> None:
    e = CachedResponse(answer("x"), key="k", semantic_text="q")
    back = CachedResponse.from_bytes(e.to_bytes())
    assert (back.body, back.key, back.semantic_text) == (e.body, e.key, e.semantic_text)


def test_hnsw_then_embedder_in_one_process() -> None:
    """An HNSW index built before the embedder loads must not crash the process (a usearch release
    segfaulted when onnxruntime was imported after it)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import numpy as np\n"
            "from tokenway_gateway.cache import VectorIndex\n"
            "ix = VectorIndex(4, ann_threshold=0)\n"
            "ix.add('a', np.array([1, 0, 0, 0], dtype=np.float32))\n"
            "from tokenway_gateway.semantic import get_embedder\n"
            "print(get_embedder().embed(['ok']).shape, ix.kind)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(root / "dataplane"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 384) hnsw" in out.stdout
