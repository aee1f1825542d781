"""Redis cache backend: entries (and key vectors) shared by every gateway replica.

Layout under ``tw:cache:{namespace}`` (tenant, route and model appear only as short digests):

* ``:e:{tenant}:{route}:{model}:{key}``: the entry (JSON), with Redis' own expiry (``ttlSeconds``);
* ``:lru``: a sorted set of entry names by last use; past ``maxEntries`` the least recently used
  are popped and deleted;
* ``:v:{tenant}:{route}:{model}:{context}``: a stream of (key, vector, key text) per semantic
  partition. Each replica keeps a local :class:`~.index.VectorIndex` per partition and reads the
  stream from where it stopped before searching (one round trip), so a vector stored by any
  replica is found by all. A vector whose entry has expired or was invalidated is dropped the
  first time it comes up as a candidate.

Invalidation scans the key space with the tenant/route digest pattern (rare, admin-only).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .index import ANN_THRESHOLD, VectorIndex
from .keys import Partition
from .memory import SemanticCandidate
from .response import CachedResponse
from .verifier import Features, analyze

__all__ = ["RedisBackend"]

SYNC_BATCH = 2000
INLINE_ADDS = 32


@dataclass(slots=True)
class _Local:
    index: VectorIndex | None = None
    last_id: str = "0-0"
    texts: dict[str, str] = field(default_factory=dict)
    features: dict[str, Features] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RedisBackend:
    """Entries in Redis (``backend: redis``); ``client`` is a ``redis.asyncio.Redis``."""

    sync = False

    def __init__(self, client: Any, *, namespace: str = "default", max_entries: int = 10_000,
                 ttl_seconds: float = 3600, ann_threshold: int = ANN_THRESHOLD) -> None:
        self.r = client
        self.ns = f"tw:cache:{namespace}"
        self.max_entries = max_entries
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.ann_threshold = ann_threshold
        self._local: dict[tuple[Partition, str], _Local] = {}
        self.evictions = 0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 0.25, **kw: Any) -> RedisBackend:
        """A client with short socket timeouts: a stalled Redis turns lookups into misses quickly."""
        import redis.asyncio as aioredis

        return cls(aioredis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout), **kw)

    def _prefix(self, p: Partition) -> str:
        return f"{Partition.part_tag(p.tenant)}:{Partition.part_tag(p.route)}:{Partition.part_tag(p.model)}"

    def _ekey(self, p: Partition, key: str) -> str:
        return f"{self.ns}:e:{self._prefix(p)}:{key}"

    def _vkey(self, p: Partition, context: str) -> str:
        return f"{self.ns}:v:{self._prefix(p)}:{context}"

    # -- exact --------------------------------------------------------------------------------
    def get_nowait(self, partition: Partition, key: str) -> CachedResponse | None:
        raise TypeError("the Redis backend has no synchronous lookup; await get()")

    async def get(self, partition: Partition, key: str) -> CachedResponse | None:
        ekey = self._ekey(partition, key)
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.get(ekey)
            pipe.zadd(f"{self.ns}:lru", {ekey: time.time()}, xx=True)
            raw, _ = await pipe.execute()
        return None if raw is None else CachedResponse.from_bytes(raw)

    # -- store --------------------------------------------------------------------------------
    async def put(self, partition: Partition, entry: CachedResponse, context: str | None = None,
                  vector: npt.NDArray[np.float32] | None = None) -> None:
        ekey = self._ekey(partition, entry.key)
        lru = f"{self.ns}:lru"
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.set(ekey, entry.to_bytes(), px=self.ttl_ms)
            pipe.zadd(lru, {ekey: time.time()})
            if context is not None and vector is not None:
                vkey = self._vkey(partition, context)
                pipe.xadd(vkey, {"k": entry.key, "v": np.asarray(vector, dtype=np.float32).tobytes(),
                                 "x": (entry.semantic_text or "").encode()},
                          maxlen=max(self.max_entries, 1000), approximate=True)
                pipe.pexpire(vkey, self.ttl_ms)
            pipe.zcard(lru)
            res = await pipe.execute()
        over = int(res[-1]) - self.max_entries
        if over > 0:
            popped = await self.r.zpopmin(lru, over)
            if popped:
                await self.r.unlink(*[name for name, _ in popped])
                self.evictions += len(popped)

    # -- semantic -----------------------------------------------------------------------------
    async def _sync(self, partition: Partition, context: str, dim: int) -> _Local:
        lk = (partition, context)
        local = self._local.get(lk)
        if local is None:
            local = self._local[lk] = _Local()
        async with local.lock:
            vkey = self._vkey(partition, context)
            while True:
                rows = await self.r.xrange(vkey, min=f"({local.last_id}", count=SYNC_BATCH)
                if not rows:
                    break
                keys: list[str] = []
                vecs: list[npt.NDArray[np.float32]] = []
                for rid, fields in rows:
                    local.last_id = rid.decode() if isinstance(rid, bytes) else rid
                    k = fields[b"k"].decode()
                    vec = np.frombuffer(fields[b"v"], dtype=np.float32)
                    if dim and vec.shape[0] != dim:
                        continue
                    keys.append(k)
                    vecs.append(vec)
                    local.texts[k] = fields[b"x"].decode()
                    local.features.pop(k, None)
                if keys:
                    if local.index is None:
                        local.index = VectorIndex(vecs[0].shape[0], self.ann_threshold)
                    index = local.index
                    small = len(index) + len(keys) <= self.ann_threshold
                    if len(keys) <= INLINE_ADDS and index.kind == "flat" and small:
                        for k, v in zip(keys, vecs, strict=True):
                            index.add(k, v)
                    else:
                        await asyncio.get_running_loop().run_in_executor(None, _add_all, index, keys, vecs)
                if len(rows) < SYNC_BATCH:
                    break
        return local

    async def search(self, partition: Partition, context: str, vector: npt.NDArray[np.float32],
                     k: int) -> list[SemanticCandidate]:
        local = await self._sync(partition, context, int(vector.shape[0]))
        if local.index is None:
            return []
        out: list[SemanticCandidate] = []
        for key, sim in local.index.search(vector, k):
            out.append(SemanticCandidate(key, sim, local.features.get(key), local.texts.get(key)))
        return out

    def features_for(self, partition: Partition, context: str, key: str) -> Features | None:
        local = self._local.get((partition, context))
        if local is None or key not in local.texts:
            return None
        f = local.features.get(key)
        if f is None:
            f = local.features[key] = analyze(local.texts[key])
        return f

    async def fetch(self, partition: Partition, context: str, key: str) -> CachedResponse | None:
        """The entry behind a semantic candidate; forgets the vector when the entry is gone."""
        entry = await self.get(partition, key)
        if entry is None:
            local = self._local.get((partition, context))
            if local is not None and local.index is not None:
                local.index.remove(key)
                local.texts.pop(key, None)
                local.features.pop(key, None)
        return entry

    # -- invalidation -------------------------------------------------------------------------
    async def invalidate(self, tenant: str | None = None, route: str | None = None) -> int:
        t = Partition.part_tag(tenant) if tenant is not None else "*"
        r = Partition.part_tag(route) if route is not None else "*"
        removed = 0
        for kind in ("e", "v"):
            batch: list[bytes] = []
            async for name in self.r.scan_iter(match=f"{self.ns}:{kind}:{t}:{r}:*", count=1000):
                batch.append(name)
                if len(batch) >= 500:
                    removed += await self._unlink(kind, batch)
                    batch = []
            if batch:
                removed += await self._unlink(kind, batch)
        for lk in [lk for lk in self._local
                   if (tenant is None or lk[0].tenant == tenant) and (route is None or lk[0].route == route)]:
            self._local.pop(lk, None)
        return removed

    async def _unlink(self, kind: str, names: list[bytes]) -> int:
        await self.r.unlink(*names)
        if kind == "e":
            await self.r.zrem(f"{self.ns}:lru", *names)
            return len(names)
        return 0

    async def count(self) -> int:
        return int(await self.r.zcard(f"{self.ns}:lru"))

    async def aclose(self) -> None:
        await self.r.aclose()


def _add_all(index: VectorIndex, keys: list[str], vecs: list[npt.NDArray[np.float32]]) -> None:
    for k, v in zip(keys, vecs, strict=True):
        index.add(k, v)
