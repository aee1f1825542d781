"""Endpoint picking behind one small interface, so LLM-aware pickers can replace it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .endpoints import Endpoint


class Picker(Protocol):
    def pick(self, endpoints: Sequence[Endpoint], exclude: frozenset[Endpoint] | set[Endpoint]) -> Endpoint | None:
        """Choose an endpoint, or None when every one is excluded or ejected."""


class LeastRequestPicker:
    """Fewest outstanding requests per unit of weight; ties rotate so equal endpoints share load."""

    __slots__ = ("_turn",)

    def __init__(self) -> None:
        self._turn = 0

    def pick(self, endpoints: Sequence[Endpoint], exclude: frozenset[Endpoint] | set[Endpoint]) -> Endpoint | None:
        count = len(endpoints)
        if count == 0:
            return None
        self._turn = start = (self._turn + 1) % count
        best: Endpoint | None = None
        best_load = 0.0
        fallback: Endpoint | None = None
        for offset in range(count):
            endpoint = endpoints[(start + offset) % count]
            if endpoint in exclude:
                continue
            if not endpoint.available:
                fallback = fallback or endpoint
                continue
            load = endpoint.in_flight / endpoint.weight
            if best is None or load < best_load:
                best, best_load = endpoint, load
        # All ejected: try one anyway rather than fail closed (Envoy's panic threshold idea).
        return best or fallback
