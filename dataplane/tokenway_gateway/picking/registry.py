"""PickerRegistry: one picker per (pool, load-balancing settings), kept across config swaps.

The gateway asks for a picker whenever it commits a config. A pool whose settings did
not change gets its old picker back (cursors, rings, learned prefix index intact), with
the new endpoint list. The learned prefix index lives per pool, so a change of weights
or algorithm does not forget where prompts were sent. `retain` drops the state of
pools (and overrides) that left the config.

The registry also owns the background work the pickers feed on: the metrics scraper
for llm-aware pools and active health checks where configured (start()/stop()).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..api.route import ActiveHealthCheck, LoadBalancing, OutlierDetection
from .affinity import AffinityIndex
from .health import HealthChecker
from .llm import LlmAwarePicker
from .outlier import OutlierDetector
from .picker import (
    ConsistentHashPicker,
    EndpointPicker,
    LeastRequestPicker,
    PowerOfTwoPicker,
    RoundRobinPicker,
    WeightedPicker,
)
from .scraper import MetricsScraper

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

log = logging.getLogger("tokenway.picking")


def build_picker(pool: str, lb: LoadBalancing, outlier: OutlierDetection | None, endpoints: list[Endpoint],
                 index: AffinityIndex | None = None) -> EndpointPicker:
    """A new picker for one pool (no state reused)."""
    detector = OutlierDetector(pool, endpoints, outlier)
    algorithm = lb.algorithm
    if algorithm == "round-robin":
        return RoundRobinPicker(pool, endpoints, detector, lb.sample_size)
    if algorithm == "weighted":
        return WeightedPicker(pool, endpoints, detector, lb.sample_size)
    if algorithm == "power-of-two":
        return PowerOfTwoPicker(pool, endpoints, detector, lb.sample_size)
    if algorithm == "consistent-hash":
        return ConsistentHashPicker(pool, endpoints, detector, lb.sample_size, lb.hash_header,
                                    lb.bounded_load_factor)
    if algorithm == "llm-aware":
        return LlmAwarePicker(pool, endpoints, detector, lb, index if index is not None else AffinityIndex())
    return LeastRequestPicker(pool, endpoints, detector, lb.sample_size)


class PickerRegistry:
    def __init__(self) -> None:
        self._pickers: dict[tuple[str, ...], EndpointPicker] = {}
        self._indexes: dict[str, AffinityIndex] = {}
        self.scraper = MetricsScraper()
        self.health = HealthChecker()

    def picker(self, pool: str, lb: LoadBalancing, outlier: OutlierDetection | None, endpoints: list[Endpoint],
               health: ActiveHealthCheck | None = None) -> EndpointPicker:
        """The picker of a pool under these settings: the existing one when they survive. Never raises."""
        key = (pool, lb.model_dump_json(), outlier.model_dump_json() if outlier is not None else "")
        picker = self._pickers.get(key)
        if picker is None:
            index = self._indexes.get(pool)
            if index is None:
                index = self._indexes[pool] = AffinityIndex()
            picker = build_picker(pool, lb, outlier, endpoints, index)
            picker.key = key
            self._pickers[key] = picker
        else:
            now_in = set(endpoints)
            gone = {e for e in picker.endpoints if e not in now_in}
            if gone and pool in self._indexes:
                self._indexes[pool].forget(gone)
            picker.update(endpoints)
        if lb.algorithm == "llm-aware":
            self.scraper.want(key, endpoints, lb.metrics_interval_seconds)
        else:
            self.scraper.drop(key)
        if health is not None:
            self.health.want(key, endpoints, health)
        else:
            self.health.drop(key)
        return picker

    def retain(self, live: set[tuple[str, ...]]) -> None:
        """Drop pickers whose key is not in `live` (the keys of the pickers the committed config uses)."""
        for key in [k for k in self._pickers if k not in live]:
            del self._pickers[key]
            self.scraper.drop(key)
            self.health.drop(key)
        pools = {key[0] for key in self._pickers}
        for pool in [p for p in self._indexes if p not in pools]:
            del self._indexes[pool]

    def start(self) -> None:
        """Start the background scraper and health checker (on the running event loop)."""
        self.scraper.start()
        self.health.start()

    async def stop(self) -> None:
        await self.scraper.stop()
        await self.health.stop()
