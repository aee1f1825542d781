"""The cache stage (route chain): answer from the response cache, or arm the store for the response.

A route gets this stage only when a CachePolicy of the snapshot applies to one of its rules
(``CachePolicy.routes`` names rules; empty means every rule and the unmatched ``default``
route). The caches themselves live on the gateway (:class:`CacheHolder`) and keep their
entries across config swaps while their policy is unchanged.

Per request:

* ``plan`` (one sha256 over the request) says what the cache may do: bypass for
  ``cache-control: no-cache``, sampled requests (unless ``cacheSampled``), streams (unless
  ``cacheStreaming``); ``no-store`` looks up but never stores.
* An exact-only memory cache answers synchronously (a dict lookup: no task, no suspension).
  Semantic caches and the Redis backend suspend the request while the lookup runs (one task,
  resumed from its done-callback); an error or a lookup slower than :data:`LOOKUP_TIMEOUT`
  is a miss, never a failed request.
* A hit is answered here: JSON through ``ctx.respond``, a stream replayed whole as a
  well-formed SSE stream (usage chunk when the client asked for it, ``data: [DONE]``), at once.
  Responses carry the model name this client asked for.
* A miss that may be stored sets ``ctx.capture = []`` (the call appends what it relays; it
  drops the capture on a broken, cancelled or timed-out response) and a settle hook stores
  the captured response: only complete 2xx answers are kept (the library refuses the rest).

Headers: ``x-tokenway-cache: hit|miss|bypass`` and ``x-tokenway-cache-similarity`` on semantic
hits. A hit charges its stored ``usage`` to the route's rate limits (what the client received).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..cache import CachedResponse, MemoryBackend, from_body, from_sse
from ..routing.table import DEFAULT_ROUTE
from .chain import ANSWERED, CONTINUE, Verdict
from .intent import MAX_EMBED_CHARS
from .prompt import last_user_text

if TYPE_CHECKING:
    from ..api.snapshot import GatewayConfig, NamedRoutePolicy
    from ..cache import CacheHit, CachePlan, ResponseCache
    from ..proxy.gateway import Gateway
    from .context import RequestContext

log = logging.getLogger("tokenway.cache")

CACHED_PATHS = frozenset((b"/v1/chat/completions", b"/v1/completions"))
LOOKUP_TIMEOUT = 0.5  # seconds an async lookup may take before the request goes upstream as a miss
MAX_PENDING = 256  # async lookups in flight above which new ones skip the semantic search (exact only)
SSE = b"text/event-stream"

HIT = b"x-tokenway-cache: hit\r\n"
MISS = b"x-tokenway-cache: miss"
BYPASS = b"x-tokenway-cache: bypass"


class _Pending:
    """Async lookups in flight in this process (all caches)."""

    count = 0


class _Store:
    """Settle hook of a miss: store the response the client got, when it is complete."""

    __slots__ = ("cache", "plan")

    def __init__(self, cache: ResponseCache, plan: CachePlan) -> None:
        self.cache = cache
        self.plan = plan

    def __call__(self, ctx: RequestContext) -> None:
        captured, status, cache = ctx.capture, ctx.status, self.cache
        if captured is None:  # cut off, cancelled or timed out: never stored
            cache.store_nowait(self.plan, status, body=b"", completed=False)
        elif not cache.needs_async_lookup:  # exact-only memory cache: store now, no task
            _store_now(cache, self.plan, status, captured, ctx.stream, ctx.usage)
        elif ctx.stream:
            # One buffer: relayed pieces are network reads, and an event may straddle two of them.
            cache.store_nowait(self.plan, status, events=[b"".join(captured)], usage=ctx.usage)
        else:
            cache.store_nowait(self.plan, status, body=b"".join(captured) if captured else b"")


def _store_now(cache: ResponseCache, plan: CachePlan, status: int, captured: list[bytes], stream: bool,
               usage: dict[str, Any] | None) -> None:
    """``ResponseCache.store`` for an exact-only memory cache, synchronously (what it awaits there is nothing:
    no embedding, no Redis), so a miss costs no task. Only complete 2xx answers are kept."""
    stats = cache.stats.route(plan.partition.route)
    if not 200 <= status < 300:
        stats.not_stored += 1
        return
    whole = b"".join(captured)  # relayed pieces are network reads: an SSE event may straddle two
    obj = from_sse(status, [whole], usage) if stream else from_body(status, whole)
    backend = cache.backend
    if obj is None or not isinstance(backend, MemoryBackend):
        stats.not_stored += 1
        return
    # A JSON answer, validated, is its own canonical form (an exact-size join of what was relayed); one assembled
    # from events is dumped, and orjson's result keeps its 4 KiB buffer: keep an exact-size copy.
    body = bytes(memoryview(orjson.dumps(obj))) if stream else whole
    backend.put_nowait(plan.partition, CachedResponse(body=body, key=plan.key))
    stats.stores += 1


class _Lookup:
    """One suspended request waiting for an async lookup."""

    __slots__ = ("cache", "ctx", "plan", "stage", "started", "task")

    def __init__(self, stage: CacheStage, ctx: RequestContext, cache: ResponseCache, plan: CachePlan) -> None:
        self.stage = stage
        self.ctx = ctx
        self.cache = cache
        self.plan = plan
        self.started = time.perf_counter()
        _Pending.count += 1
        self.task = asyncio.get_running_loop().create_task(self._run(_Pending.count > MAX_PENDING))
        self.task.add_done_callback(self.done)

    async def _run(self, exact_only: bool) -> CacheHit | None:
        plan = self.plan
        semantic = plan.semantic
        if exact_only:
            plan.semantic = None  # overloaded: no embedding now (the store still embeds, off the request path)
        try:
            return await asyncio.wait_for(self.cache.lookup(plan), LOOKUP_TIMEOUT)
        except TimeoutError:
            self.cache.stats.route(plan.partition.route).errors += 1
            self.cache.record_miss(plan, time.perf_counter() - self.started)
            return None
        finally:
            plan.semantic = semantic

    def cancel(self) -> None:
        self.task.cancel()

    def done(self, task: asyncio.Task[CacheHit | None]) -> None:
        _Pending.count -= 1
        ctx = self.ctx
        if ctx.finished:  # the client left meanwhile
            return
        hit: CacheHit | None = None
        if not task.cancelled():
            error = task.exception()
            if error is None:
                hit = task.result()
            else:
                log.warning("cache lookup failed: %r (served as a miss)", error)
        if hit is not None:
            self.stage.serve(ctx, self.plan, hit)
            return
        self.stage.missed(ctx, self.cache, self.plan)
        ctx.resume()


class CacheStage:
    name = "cache"

    def __init__(self, by_route: dict[str, ResponseCache]) -> None:
        self.by_route = by_route

    def run(self, ctx: RequestContext) -> Verdict:
        target = ctx.target
        assert target is not None
        cache = self.by_route.get(target.route)
        if cache is None or ctx.path not in CACHED_PATHS:
            return CONTINUE
        plan = cache.plan(ctx.payload, tenant=ctx.tenant, model=ctx.model, route=target.route,
                          cache_control_header=ctx.request.header(b"cache-control"))
        if plan.semantic is not None and ctx.intent is not None:
            _reuse_intent_vector(ctx, plan, cache.embedder)
        if not plan.lookup:
            ctx.add_header(BYPASS)
            if plan.store:  # no-cache: not served from the cache, but the fresh answer replaces the entry
                self._arm(ctx, cache, plan)
            return CONTINUE
        if cache.sync_exact:
            started = time.perf_counter()
            hit = cache.lookup_exact(plan)
            if hit is not None:
                return self.serve(ctx, plan, hit)
            if not cache.needs_async_lookup:
                cache.record_miss(plan, time.perf_counter() - started)
                self.missed(ctx, cache, plan)
                return CONTINUE
        waiting = _Lookup(self, ctx, cache, plan)
        return ctx.suspend(waiting.cancel)

    def missed(self, ctx: RequestContext, cache: ResponseCache, plan: CachePlan) -> None:
        ctx.add_header(MISS)
        if plan.store:
            self._arm(ctx, cache, plan)

    @staticmethod
    def _arm(ctx: RequestContext, cache: ResponseCache, plan: CachePlan) -> None:
        ctx.capture = []
        ctx.on_settle(_Store(cache, plan))

    def serve(self, ctx: RequestContext, plan: CachePlan, hit: CacheHit) -> Verdict:
        """Answer from the cache and end the request."""
        if ctx.finished:
            return ANSWERED
        stored = hit.response.parsed()
        usage = stored.get("usage")
        if isinstance(usage, dict):
            ctx.usage = usage
        extra = HIT
        if hit.kind == "semantic":
            extra += b"x-tokenway-cache-similarity: %.4f\r\n" % hit.similarity
        model = stored.get("model")
        rename = None
        if isinstance(model, str) and model != ctx.requested_model:
            rename = (b'"model":' + orjson.dumps(model), b'"model":' + orjson.dumps(ctx.requested_model))
        if ctx.span is not None:
            ctx.span.set_attribute("tokenway.cache", hit.kind)
        if not ctx.stream:
            body = hit.body()
            if rename is not None:
                body = body.replace(rename[0], rename[1], 1)
            return ctx.respond(200, body, extra=extra)
        data = hit.sse(include_usage=plan.include_usage)
        if rename is not None:
            data = data.replace(rename[0], rename[1])
        channel = ctx.channel
        channel.start_stream(200, SSE, ctx.extra_headers + extra, ctx.request)
        channel.write_chunk(data)
        channel.end_stream()
        ctx.finish(200)
        return ANSWERED


def _reuse_intent_vector(ctx: RequestContext, plan: CachePlan, embedder: object) -> None:
    """The intent stage embedded the same text with the same embedder: no second embedding."""
    vector = getattr(ctx.intent, "vector", None)
    semantic = plan.semantic
    if vector is not None and semantic is not None and getattr(ctx.intent, "embedder", None) is embedder and \
            last_user_text(ctx.payload)[:MAX_EMBED_CHARS] == semantic.text:
        plan.vector = vector


def route_caches(config: GatewayConfig, policy: NamedRoutePolicy | None,
                 caches: dict[str, ResponseCache]) -> dict[str, ResponseCache]:
    """Rule name -> the cache that applies to it (the first CachePolicy, in snapshot order, naming it)."""
    rules = [rule.name for rule in policy.rules] if policy is not None else [DEFAULT_ROUTE]
    found: dict[str, ResponseCache] = {}
    for rule in rules:
        for spec in config.caches:
            if not spec.routes or rule in spec.routes:
                found[rule] = caches[spec.name]
                break
    return found


def cache_stage(gateway: Gateway, config: GatewayConfig, policy: NamedRoutePolicy | None) -> CacheStage | None:
    if not config.caches:
        return None
    by_route = route_caches(config, policy, gateway.caches.for_config(config))
    return CacheStage(by_route) if by_route else None
