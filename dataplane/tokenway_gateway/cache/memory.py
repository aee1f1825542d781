"""In-process cache backend: one LRU over all entries, TTL, one vector index per semantic partition.

Exact lookups are a dict hit (sync, microseconds). Semantic entries also live in a
:class:`~.index.VectorIndex` keyed by (partition, context digest), so a search only ever scans
its own tenant/model/route/conversation context: its cost does not depend on other tenants'
entries. Eviction (LRU past ``max_entries``), expiry (``ttl_seconds``, checked on access and at
the LRU head on every store) and invalidation remove entries from their index too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .index import ANN_THRESHOLD, VectorIndex
from .keys import Partition
from .response import CachedResponse
from .verifier import Features

__all__ = ["MemoryBackend", "SemanticCandidate"]


@dataclass(slots=True)
class SemanticCandidate:
    key: str
    similarity: float
    features: Features | None
    text: str | None


@dataclass(slots=True)
class _Slot:
    entry: CachedResponse
    expires_at: float
    index_key: tuple[Partition, str] | None = None  # (partition, context) of its vector, if any
    features: Features | None = None


class MemoryBackend:
    """Entries in this process only (``backend: memory``)."""

    sync = True

    def __init__(self, max_entries: int, ttl_seconds: float, *, ann_threshold: int = ANN_THRESHOLD,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl = float(ttl_seconds)
        self.ann_threshold = ann_threshold
        self.clock = clock
        self._lru: OrderedDict[tuple[Partition, str], _Slot] = OrderedDict()
        self._indexes: dict[tuple[Partition, str], VectorIndex] = {}
        self.evictions = 0
        self.expirations = 0

    def __len__(self) -> int:
        return len(self._lru)

    # -- exact --------------------------------------------------------------------------------
    def get_nowait(self, partition: Partition, key: str) -> CachedResponse | None:
        k = (partition, key)
        slot = self._lru.get(k)
        if slot is None:
            return None
        if slot.expires_at <= self.clock():
            self._drop(k, slot)
            self.expirations += 1
            return None
        self._lru.move_to_end(k)
        return slot.entry

    async def get(self, partition: Partition, key: str) -> CachedResponse | None:
        return self.get_nowait(partition, key)

    # -- store --------------------------------------------------------------------------------
    def put_nowait(self, partition: Partition, entry: CachedResponse, context: str | None = None,
                   features: Features | None = None, dim: int = 0) -> VectorIndex | None:
        """Store ``entry`` under its exact key; with a ``context``, return the index its vector goes in.

        Call it on the thread that owns this backend (the event loop). The caller adds the vector
        with ``index.add(entry.key, vector)``: inline while ``index.kind == "flat"`` and the index is
        below its threshold, otherwise off the loop (an HNSW insert or build).
        """
        if context is None:
            self._put(partition, entry, None, None)
            return None
        ik = (partition, context)
        index = self._indexes.get(ik)
        if index is None:
            index = self._indexes[ik] = VectorIndex(dim, self.ann_threshold)
        self._put(partition, entry, ik, features)
        return index

    def holds(self, partition: Partition, key: str) -> bool:
        return (partition, key) in self._lru

    def _put(self, partition: Partition, entry: CachedResponse, ik: tuple[Partition, str] | None,
             features: Features | None) -> None:
        k = (partition, entry.key)
        old = self._lru.pop(k, None)
        if old is not None and old.index_key is not None and old.index_key != ik:
            self._unindex(old.index_key, entry.key)
        now = self.clock()
        self._lru[k] = _Slot(entry, now + self.ttl, ik, features)
        # Expired entries at the LRU head go first, then the least recently used past the limit.
        for _ in range(2):
            head = next(iter(self._lru.items()), None)
            if head is None or head[1].expires_at > now:
                break
            self._drop(*head)
            self.expirations += 1
        while len(self._lru) > self.max_entries:
            hk, hs = next(iter(self._lru.items()))
            self._drop(hk, hs)
            self.evictions += 1

    def _drop(self, k: tuple[Partition, str], slot: _Slot) -> None:
        self._lru.pop(k, None)
        if slot.index_key is not None:
            self._unindex(slot.index_key, k[1])

    def _unindex(self, ik: tuple[Partition, str], key: str) -> None:
        index = self._indexes.get(ik)
        if index is not None:
            index.remove(key)
            if len(index) == 0:
                self._indexes.pop(ik, None)

    # -- semantic -----------------------------------------------------------------------------
    def search_nowait(self, partition: Partition, context: str, vector: npt.NDArray[np.float32],
                      k: int) -> list[SemanticCandidate]:
        index = self._indexes.get((partition, context))
        if index is None:
            return []
        out: list[SemanticCandidate] = []
        for key, sim in index.search(vector, k):
            slot = self._lru.get((partition, key))
            if slot is not None:
                out.append(SemanticCandidate(key, sim, slot.features, slot.entry.semantic_text))
        return out

    async def search(self, partition: Partition, context: str, vector: npt.NDArray[np.float32],
                     k: int) -> list[SemanticCandidate]:
        return self.search_nowait(partition, context, vector, k)

    def index_size(self, partition: Partition, context: str) -> int:
        index = self._indexes.get((partition, context))
        return 0 if index is None else len(index)

    # -- invalidation -------------------------------------------------------------------------
    def invalidate_nowait(self, tenant: str | None = None, route: str | None = None) -> int:
        doomed = [(k, s) for k, s in self._lru.items()
                  if (tenant is None or k[0].tenant == tenant) and (route is None or k[0].route == route)]
        for k, s in doomed:
            self._drop(k, s)
        return len(doomed)

    async def invalidate(self, tenant: str | None = None, route: str | None = None) -> int:
        return self.invalidate_nowait(tenant, route)

    async def count(self) -> int:
        return len(self._lru)

    async def aclose(self) -> None:
        return None
