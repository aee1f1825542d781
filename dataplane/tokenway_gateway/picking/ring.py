"""Consistent hashing that every gateway replica computes alike.

Points come from a 64-bit mixer (splitmix64) over CRC-32 of the endpoint URL, never
from the builtin `hash()` of strings (randomized per process), so N replicas map a
key to the same endpoints without talking to each other. A lookup is a bisection
plus a short walk: its cost does not grow with the pool.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

_MASK = (1 << 64) - 1


def mix64(x: int) -> int:
    """splitmix64's finalizer: spreads any 64-bit integer over the whole range."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
    return x ^ (x >> 31)


def key_of(data: bytes) -> int:
    """A stable 64-bit key for bytes (a session id, a header value)."""
    return zlib.adler32(data) << 32 | zlib.crc32(data)


def vnodes_for(count: int) -> int:
    """Points per endpoint: many on small pools (even shares), fewer on huge ones (cheap to build)."""
    return max(8, min(160, 16384 // max(count, 1)))


class HashRing:
    __slots__ = ("_owners", "_points", "endpoints")

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self.endpoints = list(endpoints)
        vnodes = vnodes_for(len(self.endpoints))
        pairs = []
        for index, endpoint in enumerate(self.endpoints):
            base = mix64(key_of(endpoint.url.encode()))
            for v in range(vnodes):
                pairs.append((mix64(base + v * 0x9E3779B97F4A7C15 & _MASK), index))
        pairs.sort()
        self._points = [p for p, _ in pairs]
        self._owners = [i for _, i in pairs]

    def ranked(self, key: int, count: int) -> list[Endpoint]:
        """The first `count` distinct endpoints clockwise from the key: its preference list."""
        points = self._points
        total = len(points)
        if total == 0:
            return []
        count = min(count, len(self.endpoints))
        owners = self._owners
        endpoints = self.endpoints
        start = bisect_left(points, mix64(key & _MASK))
        out: list[Endpoint] = []
        seen: set[int] = set()
        for step in range(total):
            index = owners[(start + step) % total]
            if index not in seen:
                seen.add(index)
                out.append(endpoints[index])
                if len(out) == count:
                    break
        return out
