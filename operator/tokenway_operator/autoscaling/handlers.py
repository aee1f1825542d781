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


def autoscaler(memo: Any) -> Autoscaler:
    found: Autoscaler | None = getattr(memo, "autoscaler", None)
    if found is None:
        settings: AutoscaleSettings = memo.autoscale_settings
        found = memo.autoscaler = Autoscaler(memo.runtime.shared, memo.runtime.pools, source(memo), settings)
    return found


def source(memo: Any) -> PrometheusSource:
    found: PrometheusSource | None = getattr(memo, "prometheus", None)
    if found is None:
        settings: AutoscaleSettings = memo.autoscale_settings
        found = memo.prometheus = PrometheusSource(settings.prometheus_url, ttl=settings.interval_seconds / 2,
                                                   timeout=settings.query_timeout_seconds)
    return found


def reporter(memo: Any) -> RegionReporter:
    found: RegionReporter | None = getattr(memo, "region_reporter", None)
    if found is None:
        settings: AutoscaleSettings = memo.autoscale_settings
        found = memo.region_reporter = RegionReporter(memo.runtime.shared, memo.runtime.pools, source(memo),
                                                      ttl=settings.interval_seconds / 2)
    return found


def _autoscaled(spec: Any, **_: Any) -> bool:
    return bool((spec.get("autoscaling") or {}).get("enabled")) and spec.get("engine") != "external"


def register(settings: AutoscaleSettings) -> None:
    interval = settings.interval_seconds

    def spread(body: kopf.Body, **_: Any) -> float:
        return offset(str(body.get("metadata", {}).get("uid", "")), interval)

    @kopf.timer(API_GROUP, API_VERSION, INFERENCE_POOL.plural, id="autoscaler", interval=interval,
                initial_delay=spread, when=_autoscaled)
    async def autoscale(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        try:
            await autoscaler(memo).tick(namespace or "", name)
        except Exception:  # never let kopf retry-loop a tick; the next tick decides again
            log.exception("autoscaler tick of pool %s/%s failed", namespace, name)

    @kopf.timer(API_GROUP, API_VERSION, INFERENCE_GATEWAY.plural, id="regions", interval=max(interval, 5.0),
                initial_delay=spread)
    async def regions(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        try:
            await reporter(memo).tick(namespace or "", name)
        except Exception:
            log.exception("region status of gateway %s/%s failed", namespace, name)

    @kopf.on.cleanup()
    async def close(memo: Any, **_: Any) -> None:
        found: PrometheusSource | None = getattr(memo, "prometheus", None)
        if found is not None:
            found.close()
