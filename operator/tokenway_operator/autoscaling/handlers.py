"""The autoscaler's kopf timers: one per autoscaled pool, one per gateway (region status).

Registered by `tokenway operator` before kopf starts, since the interval is a flag. Each
timer's first tick is delayed by a stable offset within the interval (from the object's
uid), so a thousand pools seen at once do not all fire together. kopf stops timers while
peering pauses this operator, so only the active replica scales.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import kopf
from tokenway_gateway.api import API_GROUP, API_VERSION

from ..kinds import INFERENCE_GATEWAY, INFERENCE_POOL
from ..regions import RegionReporter
from .loop import Autoscaler, AutoscaleSettings
from .prometheus import PrometheusSource

log = logging.getLogger("tokenway.operator.autoscaler")


def offset(uid: str, interval: float) -> float:
    """A stable share of ``interval`` for this object: timers spread evenly, the same after a restart."""
    return int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF * interval


class Parts:
    """The autoscaler's shared objects. kopf gives each object's handlers a shallow copy of the operator's
    memo, so they hang off this one holder (put in the memo before kopf starts), never off a copy."""

    def __init__(self, settings: AutoscaleSettings) -> None:
        self.settings = settings
        self._source: PrometheusSource | None = None
        self._autoscaler: Autoscaler | None = None
        self._reporter: RegionReporter | None = None

    def source(self) -> PrometheusSource:
        if self._source is None:
            s = self.settings
            self._source = PrometheusSource(s.prometheus_url, ttl=s.interval_seconds / 2,
                                            timeout=s.query_timeout_seconds)
        return self._source

    def autoscaler(self, memo: Any) -> Autoscaler:
        if self._autoscaler is None:
            self._autoscaler = Autoscaler(memo.runtime.shared, memo.runtime.pools, self.source(), self.settings)
        return self._autoscaler

    def reporter(self, memo: Any) -> RegionReporter:
        if self._reporter is None:
            self._reporter = RegionReporter(memo.runtime.shared, memo.runtime.pools, self.source(),
                                            ttl=self.settings.interval_seconds / 2)
        return self._reporter

    def close(self) -> None:
        if self._source is not None:
            self._source.close()


def _autoscaled(spec: Any, **_: Any) -> bool:
    return bool((spec.get("autoscaling") or {}).get("enabled")) and spec.get("engine") != "external"


def register(settings: AutoscaleSettings) -> Parts:
    """Register the timers; put the returned holder in the operator's memo as ``autoscaling``."""
    interval = settings.interval_seconds
    parts = Parts(settings)

    def spread(body: kopf.Body, **_: Any) -> float:
        return offset(str(body.get("metadata", {}).get("uid", "")), interval)

    @kopf.timer(API_GROUP, API_VERSION, INFERENCE_POOL.plural, id="autoscaler", interval=interval,
                initial_delay=spread, when=_autoscaled)
    async def autoscale(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        try:
            await parts.autoscaler(memo).tick(namespace or "", name)
        except Exception:  # never let kopf retry-loop a tick; the next tick decides again
            log.exception("autoscaler tick of pool %s/%s failed", namespace, name)

    @kopf.timer(API_GROUP, API_VERSION, INFERENCE_GATEWAY.plural, id="regions", interval=max(interval, 5.0),
                initial_delay=spread)
    async def regions(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        try:
            await parts.reporter(memo).tick(namespace or "", name)
        except Exception:
            log.exception("region status of gateway %s/%s failed", namespace, name)

    @kopf.on.cleanup()
    async def close(**_: Any) -> None:
        parts.close()

    return parts
