"""Nearest-neighbour search over one partition's key embeddings.

Vectors are L2-normalised, so cosine similarity is a dot product. A partition starts as brute
force over a float32 matrix (exact, cheapest while small); once it holds more than
``ann_threshold`` vectors it moves to an HNSW graph (usearch, inner product). The switch point
and the library were chosen by measurement (``bench/cache_speed.py``): brute force grows
linearly (~0.07 ms at 1k, ~1 ms at 10k, ~7-11 ms at 100k on the 2-core dev machine), HNSW stays
near 0.2-0.4 ms. hnswlib and faiss-cpu searched ~2x faster than usearch, but hnswlib ships only a
source distribution (a C++ toolchain in every image) and faiss's HNSW cannot delete (cache
eviction); usearch ships wheels for every supported Python, deletes and reuses slots, and stays
far inside the 5 ms budget.

Thread safety: every method takes the index's lock. The HNSW build on crossing the threshold runs
from a snapshot without the lock (searches keep using brute force meanwhile); removals made during
the build are replayed before the swap. Adds are expected from one writer at a time.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ANN_THRESHOLD", "VectorIndex"]

ANN_THRESHOLD = 4096
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 96

Vec = npt.NDArray[np.float32]


class _Flat:
    def __init__(self, dim: int, capacity: int = 64) -> None:
        self.mat = np.zeros((capacity, dim), dtype=np.float32)
        self.keys: list[str] = []
        self.row_of: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: str, vec: Vec) -> None:
        row = self.row_of.get(key)
        if row is None:
            row = len(self.keys)
            if row == self.mat.shape[0]:
                grown = np.zeros((row * 2, self.mat.shape[1]), dtype=np.float32)
                grown[:row] = self.mat
                self.mat = grown
            self.keys.append(key)
            self.row_of[key] = row
        self.mat[row] = vec

    def remove(self, key: str) -> bool:
        row = self.row_of.pop(key, None)
        if row is None:
            return False
        last = len(self.keys) - 1
        if row != last:
            moved = self.keys[last]
            self.mat[row] = self.mat[last]
            self.keys[row] = moved
            self.row_of[moved] = row
        self.keys.pop()
        return True

    def search(self, q: Vec, k: int) -> list[tuple[str, float]]:
        n = len(self.keys)
        if n == 0:
            return []
        sims = self.mat[:n] @ q
        if n <= k:
            order = np.argsort(-sims)
        else:
            top = np.argpartition(-sims, k)[:k]
            order = top[np.argsort(-sims[top])]
        return [(self.keys[i], float(sims[i])) for i in order]


class _Hnsw:
    """An HNSW graph (usearch): removals free their slots for later adds."""

    def __init__(self, dim: int, capacity: int) -> None:
        # usearch 2.26.2-2.26.6 with onnxruntime 1.32 crash the process (SIGSEGV) when onnxruntime
        # is imported after usearch; in the other order both work. pyproject pins usearch below
        # 2.26.2; loading onnxruntime first keeps later releases safe too.
        with contextlib.suppress(ImportError):
            import onnxruntime  # noqa: F401
        from usearch.index import Index

        self.index: Any = Index(ndim=dim, metric="ip", dtype="f32", connectivity=HNSW_M,
                                expansion_add=HNSW_EF_CONSTRUCTION, expansion_search=HNSW_EF_SEARCH)
        self.key_of: dict[int, str] = {}
        self.label_of: dict[str, int] = {}
        self.next_label = 0

    def __len__(self) -> int:
        return len(self.label_of)

    def add_many(self, keys: list[str], vecs: Vec, threads: int = 1) -> None:
        labels = np.arange(self.next_label, self.next_label + len(keys), dtype=np.uint64)
        self.next_label += len(keys)
        self.index.add(labels, vecs, threads=threads)
        for key, label in zip(keys, labels.tolist(), strict=True):
            self.key_of[label] = key
            self.label_of[key] = label

    def add(self, key: str, vec: Vec) -> None:
        if key in self.label_of:
            self.remove(key)
        label = self.next_label
        self.next_label += 1
        self.index.add(label, vec, threads=1)
        self.key_of[label] = key
        self.label_of[key] = label

    def remove(self, key: str) -> bool:
        label = self.label_of.pop(key, None)
        if label is None:
            return False
        self.key_of.pop(label, None)
        self.index.remove(label)
        return True

    def search(self, q: Vec, k: int) -> list[tuple[str, float]]:
        n = len(self.label_of)
        if n == 0:
            return []
        m = self.index.search(q, min(k, n), threads=1)
        return [(self.key_of[int(lab)], 1.0 - float(d)) for lab, d in zip(m.keys, m.distances, strict=True)
                if int(lab) in self.key_of]


class VectorIndex:
    """Keys -> vectors of one partition; brute force while small, HNSW above ``ann_threshold``."""

    def __init__(self, dim: int, ann_threshold: int = ANN_THRESHOLD) -> None:
        self.dim = dim
        self.ann_threshold = ann_threshold
        self._lock = threading.Lock()
        self._impl: _Flat | _Hnsw = _Flat(dim)
        self._building = False
        self._removed_during_build: set[str] = set()

    def __len__(self) -> int:
        return len(self._impl)

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self._impl, _Hnsw) else "flat"

    def add(self, key: str, vec: Vec) -> None:
        """Add or replace ``key``; may build the HNSW graph (seconds at most: call it off the event loop)."""
        with self._lock:
            self._impl.add(key, vec)
            self._removed_during_build.discard(key)
            upgrade = isinstance(self._impl, _Flat) and len(self._impl) > self.ann_threshold and not self._building
            if upgrade:
                self._building = True
                flat = self._impl
                assert isinstance(flat, _Flat)
                keys = list(flat.keys)
                mat = flat.mat[: len(keys)].copy()
        if upgrade:
            self._upgrade(keys, mat)

    def _upgrade(self, keys: list[str], mat: Vec) -> None:
        try:
            h = _Hnsw(self.dim, len(keys) * 2)
            h.add_many(keys, mat)
            with self._lock:
                for key in self._removed_during_build:
                    h.remove(key)
                self._removed_during_build.clear()
                current = self._impl
                # Anything added to the flat index after the snapshot (only by another writer).
                if isinstance(current, _Flat):
                    for key in current.keys:
                        if key not in h.label_of:
                            h.add(key, current.mat[current.row_of[key]])
                self._impl = h
        finally:
            self._building = False

    def bulk_load(self, keys: list[str], mat: Vec, *, threads: int = 1) -> None:
        """Load many vectors at once into an empty index (start-up, Redis sync, benchmarks)."""
        with self._lock:
            if len(self._impl):
                raise ValueError("bulk_load needs an empty index")
            if len(keys) > self.ann_threshold:
                h = _Hnsw(self.dim, len(keys))
                h.add_many(keys, np.ascontiguousarray(mat, dtype=np.float32), max(1, threads))
                self._impl = h
            else:
                for key, vec in zip(keys, mat, strict=True):
                    self._impl.add(key, vec)

    def remove(self, key: str) -> bool:
        with self._lock:
            if self._building:
                self._removed_during_build.add(key)
            return self._impl.remove(key)

    def search(self, q: Vec, k: int = 4) -> list[tuple[str, float]]:
        """Up to ``k`` (key, cosine similarity), best first."""
        with self._lock:
            return self._impl.search(q, k)
