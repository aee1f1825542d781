"""The gateway's response caches, one per CachePolicy, kept across config swaps (``gateway.caches``).

A snapshot being built (possibly in a thread) asks :meth:`CacheHolder.for_config` for its
caches: a policy whose settings are unchanged gets the live cache (its entries stay), a new or
changed one gets a new cache, built there (it may load the embedding model). The caches are
adopted when the snapshot is swapped in (:meth:`CacheHolder.adopt`, on the loop); replaced ones
are closed after a grace period, so requests still settling under the old snapshot can store.

``routes`` is not part of what must stay unchanged: it only says which rules use the cache, and
entries are partitioned by route anyway.

A ``backend: redis`` policy without ``redisUrl`` uses the snapshot's ``limits.redisUrl`` (the
InferenceGateway's Redis) when there is one, else this replica's memory (logged): the gateway
cannot read ``redisSecretRef`` (the operator reports it as not supported). Redis keys are
prefixed with the policy name and, in a cluster, the gateway's ConfigMap (``instance``), so
two gateways sharing one Redis never share entries, while the replicas of one gateway do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..api.snapshot import GatewayConfig, NamedCachePolicy
from ..cache import RedisBackend, ResponseCache
from ..observability.cache_metrics import CacheMetrics
from ..semantic import EmbedderUnavailable, OpenAIEmbeddingsClient, embedder_for

if TYPE_CHECKING:
    from ..proxy.gateway import Gateway

log = logging.getLogger("tokenway.cache")

RETIRE_GRACE_SECONDS = 30.0  # a replaced cache stays open this long for requests settling under the old snapshot
ENTRIES_REFRESH_SECONDS = 5.0  # how often the entries of Redis caches are counted (for the gauge)


@dataclass(slots=True, eq=False)
class HeldCache:
    name: str
    key: str  # the settings it was built from (all but name and routes) and its Redis URL / namespace
    cache: ResponseCache
    backend: str  # "memory" or "redis" (as built: a Redis policy without a URL falls back to memory)


def _key(spec: NamedCachePolicy, redis_url: str | None, namespace: str) -> str:
    body = spec.model_dump(mode="json", exclude={"name", "routes"})
    return orjson.dumps([body, redis_url, namespace], option=orjson.OPT_SORT_KEYS).decode()


def _redis_url(spec: NamedCachePolicy, config: GatewayConfig) -> str | None:
    """The policy's Redis: its redisUrl, else its Secret's (an env var the kubelet fills), else the gateway's."""
    if spec.redis_url:
        return spec.redis_url
    if spec.redis_url_env and os.environ.get(spec.redis_url_env):
        return os.environ[spec.redis_url_env]
    return config.limits.redis_url if spec.backend == "redis" else None


def _pool_embedder(spec: NamedCachePolicy, config: GatewayConfig) -> OpenAIEmbeddingsClient | None:
    """The pool client a ``embedding: {kind: pool}`` policy names (None: the local model, loaded by the cache)."""
    if spec.embedding.kind != "pool":
        return None
    found = embedder_for(spec.embedding, config.pools)
    assert isinstance(found, OpenAIEmbeddingsClient)
    return found


class CacheHolder:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.instance = ""  # the gateway's ConfigMap (NAMESPACE/NAME) in a cluster: part of Redis key prefixes
        self.live: dict[str, HeldCache] = {}
        self._pending: dict[str, HeldCache] = {}
        self._built: tuple[GatewayConfig, dict[str, HeldCache]] | None = None
        self._lock = threading.Lock()
        self._refresh: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.redis_entries: dict[str, int] = {}
        self.metrics = CacheMetrics(self)
        gateway.metrics.registry.register(self.metrics)
        gateway.store.subscribe(self.adopt)

    # ---- building (any thread) ----------------------------------------------------------------
    def for_config(self, config: GatewayConfig) -> dict[str, ResponseCache]:
        """The caches of ``config`` by policy name: live ones when unchanged, else new (adopted at the swap)."""
        return {name: held.cache for name, held in self._held_for(config).items()}

    def _held_for(self, config: GatewayConfig) -> dict[str, HeldCache]:
        with self._lock:
            built = self._built
            if built is not None and built[0] is config:
                return built[1]
            names = [spec.name for spec in config.caches]
            if len(names) != len(set(names)):
                raise ValueError("caches: each CachePolicy name may appear once")
            out: dict[str, HeldCache] = {}
            for spec in config.caches:
                url = _redis_url(spec, config)
                namespace = f"{self.instance}/{spec.name}" if self.instance else spec.name
                key = _key(spec, url, namespace)
                found = self.live.get(spec.name)
                if found is None or found.key != key:
                    found = self._pending.get(spec.name)
                if found is None or found.key != key:
                    found = self._pending[spec.name] = self._build(spec, key, url, namespace, config)
                elif spec.mode != "exact" and spec.embedding.kind == "pool":
                    with contextlib.suppress(EmbedderUnavailable):  # pool gone: the client keeps its last endpoints
                        _pool_embedder(spec, config)  # the same client: its endpoints follow this snapshot
                out[spec.name] = found
            self._built = (config, out)
            return out

    def _build(self, spec: NamedCachePolicy, key: str, url: str | None, namespace: str,
               config: GatewayConfig) -> HeldCache:
        backend = None
        kind = "memory"
        if spec.backend == "redis":
            if url:
                backend = RedisBackend.from_url(url, namespace=namespace, max_entries=spec.max_entries,
                                                ttl_seconds=spec.ttl_seconds)
                kind = "redis"
            else:
                log.warning("cache %s: backend redis without a redisUrl (and no limits.redisUrl): entries are kept "
                            "in this replica's memory", spec.name)
        policy = spec if kind == spec.backend else spec.model_copy(update={"backend": "memory"})
        embedder_ok = True
        try:
            embedder = _pool_embedder(spec, config) if spec.mode != "exact" else None
            cache = ResponseCache(policy, backend, namespace=namespace, embedder=embedder)
        except Exception as exc:  # the embedder cannot load: exact matches only, never a rejected snapshot
            if spec.mode == "exact":
                raise
            log.warning("cache %s: the embedder is unavailable (%s); exact matches only", spec.name, exc)
            cache = ResponseCache(policy, backend, namespace=namespace, load_embedder=False)
            embedder_ok = False
        cache.stats.observer = self.metrics.observer(spec.name)
        held = HeldCache(spec.name, key, cache, kind)
        if not embedder_ok:
            self.metrics.embedder_missing.add(spec.name)
        return held

    # ---- the swap (on the loop) ---------------------------------------------------------------
    def adopt(self, config: GatewayConfig) -> None:
        held = self._held_for(config) if config.caches else {}
        with self._lock:
            old, self.live = self.live, dict(held)
            pending, self._pending = self._pending, {}
        adopted = {id(h) for h in held.values()}
        for gone in [*old.values(), *pending.values()]:
            if id(gone) not in adopted:
                self._retire(gone)
        for name in [n for n in self.redis_entries if n not in self.live]:
            del self.redis_entries[name]
        if self._refresh is None and any(h.backend == "redis" for h in self.live.values()):
            with contextlib.suppress(RuntimeError):  # no running loop: a gateway built synchronously in a test
                self._refresh = asyncio.get_running_loop().call_later(0.0, self._count_entries)

    def _retire(self, held: HeldCache) -> None:
        self.metrics.retire(held)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(RETIRE_GRACE_SECONDS, self._spawn, held.cache.aclose)

    def _spawn(self, make: Callable[[], Any]) -> None:
        task = asyncio.get_running_loop().create_task(make())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _count_entries(self) -> None:
        self._refresh = None
        redis = [h for h in self.live.values() if h.backend == "redis"]
        if not redis:
            return
        for held in redis:
            self._spawn(lambda held=held: self._count(held))  # type: ignore[misc]
        self._refresh = asyncio.get_running_loop().call_later(ENTRIES_REFRESH_SECONDS, self._count_entries)

    async def _count(self, held: HeldCache) -> None:
        with contextlib.suppress(Exception):  # Redis down: the gauge keeps its last value
            self.redis_entries[held.name] = await held.cache.entries()

    # ---- admin ---------------------------------------------------------------------------------
    async def invalidate(self, tenant: str | None = None, route: str | None = None) -> int:
        """Drop the entries of one tenant, one route, both, or all, in every cache; returns how many."""
        total = 0
        for held in list(self.live.values()):
            total += await held.cache.invalidate(tenant, route)
        return total

    def entries(self, held: HeldCache) -> int | None:
        backend = held.cache.backend
        if held.backend == "memory":
            return len(backend)  # type: ignore[arg-type]
        return self.redis_entries.get(held.name)

    def describe(self) -> dict[str, Any]:
        """What GET /admin/cache shows: each live cache's settings and figures by route."""
        return {name: {"mode": held.cache.policy.mode, "backend": held.backend, "entries": self.entries(held),
                       "hitRate": round(held.cache.stats.hit_rate(), 4), "routes": held.cache.stats.snapshot()}
                for name, held in self.live.items()}

    async def aclose(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        for task in list(self._tasks):
            task.cancel()
        for held in [*self.live.values(), *self._pending.values()]:
            with contextlib.suppress(Exception):
                await held.cache.aclose()
