"""The response cache one CachePolicy describes: plan, lookup, store, invalidate, stats.

Per request::

    plan = cache.plan(payload, tenant=..., model=..., route=..., cache_control=header)
    hit = cache.lookup_exact(plan)          # sync, memory backend: a dict hit, microseconds
    hit = await cache.lookup(plan)          # exact, then embed + search + verify (any backend)
    ...
    cache.store_nowait(plan, status, body=... | events=..., usage=...)   # from the settle hook

A plan is cheap (one sha256 over the request). The partition (tenant, model, route) is a hard
filter: exact keys and vector indexes are per partition, and the semantic index is further split
by the conversation-context digest, so another tenant's or another conversation's entries are
never searched.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import orjson

from .index import ANN_THRESHOLD
from .keys import Partition, SemanticKey, cache_control, exact_key, is_sampled, semantic_key
from .memory import MemoryBackend
from .redis_backend import RedisBackend
from .response import CachedResponse, from_body, from_sse, replay_json, replay_sse
from .verifier import Features, analyze, contradiction

if TYPE_CHECKING:
    from ..api.cache import CachePolicySpec
    from ..semantic.embedder import AsyncEmbedder

__all__ = ["ANONYMOUS_TENANT", "CacheHit", "CachePlan", "CacheStats", "ResponseCache"]

ANONYMOUS_TENANT = "anonymous"
CANDIDATES = 4  # nearest neighbours checked per semantic lookup
MAX_PARTITIONS = 65_536  # Partition objects kept for reuse (tenants x models x routes seen)
Vec = npt.NDArray[np.float32]
Backend = MemoryBackend | RedisBackend
LookupObserver = Callable[[str, str, float], None]  # (route, outcome, seconds)


@dataclass(slots=True)
class CachePlan:
    """What the cache will do for one request (computed once, carried in the request context)."""

    partition: Partition
    key: str                          # exact key ("" when the cache does not apply)
    lookup: bool                      # False: bypass (no-cache, sampled, streaming not cached, ...)
    store: bool                       # False: never store this response (no-store, sampled, ...)
    stream: bool = False
    include_usage: bool = False       # the client asked for stream_options.include_usage
    semantic: SemanticKey | None = None
    reason: str = ""                  # why it bypasses, for logs ("no-cache", "sampled", ...)
    vector: Vec | None = None         # the key text's embedding, once computed (reused by store)
    features: Features | None = None  # the verifier's analysis of the key text, once computed
    timings: dict[str, float] = field(default_factory=dict)  # seconds: embed, search, verify


@dataclass(slots=True)
class CacheHit:
    response: CachedResponse
    kind: Literal["exact", "semantic"]
    similarity: float  # 1.0 for exact hits

    def body(self) -> bytes:
        """The JSON body for a non-streaming request."""
        return replay_json(self.response)

    def sse(self, include_usage: bool = True) -> bytes:
        """The whole SSE stream (usage chunk, ``data: [DONE]``) for a streaming request."""
        return replay_sse(self.response, include_usage=include_usage)


@dataclass(slots=True)
class RouteStats:
    hits_exact: int = 0
    hits_semantic: int = 0
    misses: int = 0
    bypasses: int = 0
    rejections: dict[str, int] = field(default_factory=dict)  # verifier rule -> count
    stores: int = 0
    not_stored: int = 0  # incomplete/failed responses refused by store
    errors: int = 0  # backend or embedder failures (the lookup became a miss, the store was skipped)
    lookup_seconds: float = 0.0
    lookups: int = 0


class CacheStats:
    """Counters by route; ``observer(route, outcome, seconds)`` sees every lookup (for a histogram)."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteStats] = {}
        self.observer: LookupObserver | None = None

    def route(self, route: str) -> RouteStats:
        st = self.routes.get(route)
        if st is None:
            st = self.routes[route] = RouteStats()
        return st

    def lookup_done(self, route: str, outcome: str, seconds: float) -> None:
        st = self.route(route)
        st.lookups += 1
        st.lookup_seconds += seconds
        if outcome == "exact":
            st.hits_exact += 1
        elif outcome == "semantic":
            st.hits_semantic += 1
        else:
            st.misses += 1
        if self.observer is not None:
            self.observer(route, outcome, seconds)

    def hit_rate(self) -> float:
        hits = sum(s.hits_exact + s.hits_semantic for s in self.routes.values())
        total = hits + sum(s.misses for s in self.routes.values())
        return hits / total if total else 0.0

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {r: {"hits_exact": s.hits_exact, "hits_semantic": s.hits_semantic, "misses": s.misses,
                    "bypasses": s.bypasses, "rejections": dict(s.rejections), "stores": s.stores,
                    "not_stored": s.not_stored, "errors": s.errors, "lookups": s.lookups,
                    "lookup_seconds": s.lookup_seconds}
                for r, s in self.routes.items()}


class ResponseCache:
    """One CachePolicy's cache. Build it off the event loop (it may load the embedding model)."""

    def __init__(self, policy: CachePolicySpec, backend: Backend | None = None, *,
                 embedder: AsyncEmbedder | None = None, namespace: str = "default",
                 ann_threshold: int = ANN_THRESHOLD, load_embedder: bool = True) -> None:
        self.policy = policy
        self.semantic_enabled = policy.mode in ("semantic", "both")
        if backend is None:
            if policy.backend == "redis":
                if not policy.redis_url:
                    raise ValueError("backend: redis needs a redisUrl (resolve redisSecretRef before building)")
                backend = RedisBackend.from_url(policy.redis_url, namespace=namespace,
                                                max_entries=policy.max_entries, ttl_seconds=policy.ttl_seconds,
                                                ann_threshold=ann_threshold)
            else:
                backend = MemoryBackend(policy.max_entries, policy.ttl_seconds, ann_threshold=ann_threshold)
        self.backend: Backend = backend
        self._routes = frozenset(policy.routes)
        if embedder is None and self.semantic_enabled and load_embedder:
            from ..semantic.embedder import get_embedder

            embedder = get_embedder()
        self.embedder = embedder
        self.stats = CacheStats()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenway-cache")
        self._tasks: set[asyncio.Task[bool]] = set()
        self._partitions: dict[tuple[str, str, str], Partition] = {}

    # -- planning -----------------------------------------------------------------------------
    @property
    def sync_exact(self) -> bool:
        """True when :meth:`lookup_exact` can answer without awaiting (memory backend)."""
        return isinstance(self.backend, MemoryBackend)

    def applies_to(self, route: str) -> bool:
        return not self._routes or route in self._routes

    def partition(self, tenant: str | None, model: str, route: str) -> Partition:
        t = "*" if self.policy.scope == "global" else (tenant or ANONYMOUS_TENANT)
        parts, key = self._partitions, (t, model, route)
        found = parts.get(key)
        if found is None:  # one object per partition, shared by its entries
            if len(parts) >= MAX_PARTITIONS:
                parts.clear()
            found = parts[key] = Partition(t, model, route)
        return found

    def plan(self, payload: Mapping[str, Any], *, tenant: str | None, model: str, route: str,
             cache_control_header: str | bytes | None = None) -> CachePlan:
        part = self.partition(tenant, model, route)
        stream = bool(payload.get("stream"))
        so = payload.get("stream_options")
        include_usage = bool(stream and isinstance(so, Mapping) and so.get("include_usage"))
        no_cache, no_store = cache_control(cache_control_header)
        reason = ""
        if stream and not self.policy.cache_streaming:
            reason = "streaming"
        elif is_sampled(payload) and not self.policy.cache_sampled:
            reason = "sampled"
        if reason:
            self.stats.route(route).bypasses += 1
            return CachePlan(part, "", False, False, stream, include_usage, reason=reason)
        key = exact_key(payload)
        sem = semantic_key(payload) if self.semantic_enabled else None
        if no_cache:
            self.stats.route(route).bypasses += 1
        return CachePlan(part, key, not no_cache, not no_store, stream, include_usage, sem,
                         reason="no-cache" if no_cache else ("no-store" if no_store else ""))

    # -- lookup -------------------------------------------------------------------------------
    def lookup_exact(self, plan: CachePlan) -> CacheHit | None:
        """Exact hit from the memory backend, synchronously (records a hit; a miss is recorded by
        :meth:`lookup`, or by :meth:`record_miss` when the caller stops here)."""
        if not plan.lookup or not isinstance(self.backend, MemoryBackend):
            return None
        t0 = time.perf_counter()
        entry = self.backend.get_nowait(plan.partition, plan.key)
        if entry is None:
            return None
        self.stats.lookup_done(plan.partition.route, "exact", time.perf_counter() - t0)
        return CacheHit(entry, "exact", 1.0)

    def record_miss(self, plan: CachePlan, seconds: float = 0.0) -> None:
        self.stats.lookup_done(plan.partition.route, "miss", seconds)

    @property
    def needs_async_lookup(self) -> bool:
        """False when an exact-only memory cache: :meth:`lookup_exact` is the whole lookup."""
        return self.semantic_enabled or not isinstance(self.backend, MemoryBackend)

    async def lookup(self, plan: CachePlan) -> CacheHit | None:
        """Exact, then (semantic mode) embed, search the partition and verify the candidates."""
        if not plan.lookup:
            return None
        t0 = time.perf_counter()
        route = plan.partition.route
        try:
            entry = await self.backend.get(plan.partition, plan.key)
            if entry is not None:
                self.stats.lookup_done(route, "exact", time.perf_counter() - t0)
                return CacheHit(entry, "exact", 1.0)
            hit = None
            if plan.semantic is not None and self.embedder is not None:
                hit = await self._semantic(plan)
        except Exception:  # Redis down or slow, embedder failure: a miss, never a failed request
            self.stats.route(route).errors += 1
            hit = None
        self.stats.lookup_done(route, "semantic" if hit else "miss", time.perf_counter() - t0)
        return hit

    async def _semantic(self, plan: CachePlan) -> CacheHit | None:
        assert plan.semantic is not None and self.embedder is not None
        t = time.perf_counter()
        if plan.vector is None:
            plan.vector = await self.embedder.aembed(plan.semantic.text)
        t1 = time.perf_counter()
        plan.timings["embed"] = t1 - t
        cands = await self.backend.search(plan.partition, plan.semantic.context, plan.vector, CANDIDATES)
        t2 = time.perf_counter()
        plan.timings["search"] = t2 - t1
        threshold = self.policy.similarity_threshold
        hit: CacheHit | None = None
        rejections = self.stats.route(plan.partition.route).rejections
        for cand in cands:
            if cand.similarity < threshold:
                break
            if self.policy.verify:
                feats = cand.features
                if feats is None and isinstance(self.backend, RedisBackend):
                    feats = self.backend.features_for(plan.partition, plan.semantic.context, cand.key)
                if feats is None:
                    feats = analyze(cand.text or "")
                if plan.features is None:
                    plan.features = analyze(plan.semantic.text)
                why = contradiction(plan.features, feats)
                if why is not None:
                    rejections[why] = rejections.get(why, 0) + 1
                    continue
            if isinstance(self.backend, RedisBackend):
                entry = await self.backend.fetch(plan.partition, plan.semantic.context, cand.key)
            else:
                entry = self.backend.get_nowait(plan.partition, cand.key)
            if entry is not None:
                hit = CacheHit(entry, "semantic", cand.similarity)
                break
        plan.timings["verify"] = time.perf_counter() - t2
        return hit

    # -- store --------------------------------------------------------------------------------
    def store_nowait(self, plan: CachePlan, status: int, *, body: bytes | Mapping[str, Any] | None = None,
                     events: Iterable[bytes | str | Mapping[str, Any]] | None = None,
                     usage: Mapping[str, Any] | None = None, completed: bool = True) -> asyncio.Task[bool] | None:
        """Schedule :meth:`store` on the running loop (for a synchronous settle hook)."""
        if not plan.store:
            return None
        if not completed or not 200 <= status < 300:
            self.stats.route(plan.partition.route).not_stored += 1
            return None
        task = asyncio.get_running_loop().create_task(
            self.store(plan, status, body=body, events=events, usage=usage, completed=completed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def store(self, plan: CachePlan, status: int, *, body: bytes | Mapping[str, Any] | None = None,
                    events: Iterable[bytes | str | Mapping[str, Any]] | None = None,
                    usage: Mapping[str, Any] | None = None, completed: bool = True) -> bool:
        """Store a complete, successful response; returns whether it was stored.

        ``body`` for a non-streaming response, or ``events`` (raw SSE bytes or parsed chunks) and
        ``usage`` for a stream. ``completed=False`` (cancelled, cut off, errored mid-stream) and
        non-2xx statuses are never stored; neither is a stream without ``data: [DONE]`` or a choice
        without ``finish_reason``.
        """
        st = self.stats.route(plan.partition.route)
        if not plan.store:
            return False
        if not completed:
            st.not_stored += 1
            return False
        try:
            return await self._store(plan, st, status, body, events, usage)
        except Exception:  # a cache that cannot store is a cache that misses
            st.errors += 1
            return False

    async def _store(self, plan: CachePlan, st: RouteStats, status: int, body: bytes | Mapping[str, Any] | None,
                     events: Iterable[bytes | str | Mapping[str, Any]] | None,
                     usage: Mapping[str, Any] | None) -> bool:
        obj = from_body(status, body) if body is not None else (
            from_sse(status, events, usage) if events is not None else None)
        if obj is None:
            st.not_stored += 1
            return False
        sem = plan.semantic
        # orjson's result keeps its 4 KiB working buffer: hold a copy of the exact size (~16x less per entry).
        body = bytes(memoryview(orjson.dumps(obj)))
        entry = CachedResponse(body=body, key=plan.key, semantic_text=sem.text if sem else None)
        vector = plan.vector
        if sem is not None and self.embedder is not None and vector is None:
            try:
                vector = plan.vector = await self.embedder.aembed(sem.text)
            except Exception:
                vector = None  # stored for exact hits only
        backend = self.backend
        if isinstance(backend, RedisBackend):
            await backend.put(plan.partition, entry, sem.context if sem and vector is not None else None, vector)
        elif sem is None or vector is None:
            backend.put_nowait(plan.partition, entry)
        else:
            feats = plan.features or analyze(sem.text)
            index = backend.put_nowait(plan.partition, entry, sem.context, feats, int(vector.shape[0]))
            assert index is not None
            if index.kind == "flat" and len(index) < index.ann_threshold:
                index.add(entry.key, vector)
            else:  # an HNSW insert (or the build when crossing the threshold): off the loop
                await asyncio.get_running_loop().run_in_executor(self._writer, index.add, entry.key, vector)
                if not backend.holds(plan.partition, entry.key):
                    index.remove(entry.key)  # evicted or invalidated while it was being indexed
        st.stores += 1
        return True

    # -- admin --------------------------------------------------------------------------------
    async def invalidate(self, tenant: str | None = None, route: str | None = None) -> int:
        """Drop entries of one tenant, one route, both, or all (no arguments); returns how many."""
        return await self.backend.invalidate(tenant, route)

    async def entries(self) -> int:
        return await self.backend.count()

    async def aclose(self) -> None:
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t
        self._writer.shutdown(wait=False)
        await self.backend.aclose()
