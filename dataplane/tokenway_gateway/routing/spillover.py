"""Region priority levels with gradual spillover, as Envoy's priority load with an overprovisioning factor.

A route with ``regionPreference`` orders its pools in levels: the gateway's own region,
then the preferred regions in order, then any other region, then external pools.
Each level's health is Envoy's ``min(1, factor x healthy share)``, further scaled by its
headroom, which falls from 1 to 0 as its utilization goes from ``1/factor`` to full:

    health(level) = min(1, factor * healthy) * min(1, (1 - utilization) * factor / (factor - 1))

Level 0 takes ``health(0)`` of the traffic, level 1 ``min(health(1), 1 - load(0))``, and so
on; when the levels together are less than fully healthy, loads are scaled to add up to
one (Envoy's normalization). With the default factor 1.4, a local region with 2 of 4
endpoints ejected keeps 70% of the traffic and spills 30%, and one busier than 71% of its
slots starts spilling too.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .poolstate import PoolState

REFRESH_SECONDS = 0.05


def level_health(pools: list[PoolState], factor: float, now: float) -> float:
    endpoints = sum(len(p.endpoints) for p in pools)
    if endpoints == 0:
        return 0.0
    healthy = sum(p.healthy_fraction(now) * len(p.endpoints) for p in pools) / endpoints
    slots = sum(p.slots for p in pools)
    utilization = min(1.0, sum(p.active for p in pools) / slots) if slots else 1.0
    if factor > 1.0:
        headroom = min(1.0, (1.0 - utilization) * factor / (factor - 1.0))
    else:
        headroom = 1.0 if utilization < 1.0 else 0.0
    return min(1.0, factor * healthy) * headroom


def priority_loads(healths: list[float]) -> list[float]:
    """Envoy's priority load: each level takes what it can of what the levels above left over."""
    total = sum(healths)
    if total <= 0.0:
        return [1.0] + [0.0] * (len(healths) - 1)  # nothing healthy anywhere: try the first level
    if total < 1.0:
        return [h / total for h in healths]
    loads, left = [], 1.0
    for health in healths:
        take = min(health, left)
        loads.append(take)
        left -= take
    return loads


class Spillover:
    """Chooses the starting level of each request; shares are recomputed every 50 ms."""

    __slots__ = ("_at", "_cumulative", "factor", "levels")

    def __init__(self, levels: list[list[PoolState]], factor: float) -> None:
        self.levels = levels
        self.factor = factor
        self._at = -1.0
        self._cumulative: list[float] = []

    def shares(self, now: float) -> list[float]:
        return priority_loads([level_health(level, self.factor, now) for level in self.levels])

    def choose(self, now: float) -> int:
        if now - self._at > REFRESH_SECONDS:
            total, cumulative = 0.0, []
            for share in self.shares(now):
                total += share
                cumulative.append(total)
            self._cumulative, self._at = cumulative, now
        draw = random.random() * (self._cumulative[-1] if self._cumulative else 1.0)
        for index, bound in enumerate(self._cumulative):
            if draw < bound:
                return index
        return 0
