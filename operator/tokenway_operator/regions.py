"""GSLB as a gateway sees it: each region's health and traffic share, and how much traffic spilled over.

The routing itself is compiled into each gateway's config (compile.py: the gateway's
own region, pools' regions and ``external`` flags, RoutePolicy ``regionPreference``) and
enforced by the gateway (routing/spillover.py: priority levels, Envoy-style spillover
by health and saturation, external pools last). This module reports it: per region,
ready replicas against desired ones (from what the operator watches) and the share of
the gateway's requests it served recently (``tokenway_region_requests_total``, through
Prometheus), plus the spilled share, in the InferenceGateway's status and as operator
metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, cast

from tokenway_gateway.api import InferenceGatewaySpec, InferencePoolSpec

from .autoscaling.prometheus import PrometheusSource
from .autoscaling.telemetry import REGION_HEALTH, SPILLOVER_SHARE
from .kinds import INFERENCE_GATEWAY, INFERENCE_POOL
from .pools import PoolReconciler
from .reconciling import Shared

log = logging.getLogger("tokenway.operator.regions")

EXTERNAL = "external"
TRAFFIC_WINDOW = "2m"


def region_status(local: str, pools: Mapping[str, InferencePoolSpec], ready: Mapping[str, int],
                  desired: Mapping[str, int], served: Mapping[str, float] | None) -> list[dict[str, Any]]:
    """One entry per region (external pools together as ``external``), the gateway's own region first (pure)."""
    regions: dict[str, dict[str, Any]] = {}
    for name, spec in pools.items():
        region = EXTERNAL if spec.engine == "external" else spec.region
        entry = regions.setdefault(region, {"region": region, "local": region == local, "pools": 0,
                                            "readyReplicas": 0, "desiredReplicas": 0})
        entry["pools"] += 1
        entry["readyReplicas"] += ready.get(name, 0)
        entry["desiredReplicas"] += desired.get(name, 0)
    total = sum(served.values()) if served else 0.0
    for entry in regions.values():
        want, have = entry["desiredReplicas"], entry["readyReplicas"]
        entry["health"] = round(min(1.0, have / want), 3) if want > 0 else None
        if served is not None and total > 0:
            entry["requestShare"] = round(served.get(entry["region"], 0.0) / total, 3)
    return sorted(regions.values(), key=lambda e: (not e["local"], e["region"] == EXTERNAL, e["region"]))


def traffic_queries(window: str = TRAFFIC_WINDOW) -> dict[str, str]:
    return {
        "served": f"sum by (namespace, gateway, region) (rate(tokenway_region_requests_total[{window}]))",
        "spilled": f'sum by (namespace, gateway) (rate(tokenway_region_requests_total{{spilled="true"}}[{window}]))',
    }


def traffic_of(vectors: Mapping[str, list[tuple[dict[str, str], float]]], namespace: str,
               gateway: str) -> tuple[dict[str, float], float | None]:
    """(requests/s per serving region, spilled share) of one gateway; ({}, None) without traffic."""
    served = {labels.get("region", ""): value for labels, value in vectors.get("served", ())
              if labels.get("namespace") == namespace and labels.get("gateway") == gateway}
    spilled = sum(value for labels, value in vectors.get("spilled", ())
                  if labels.get("namespace") == namespace and labels.get("gateway") == gateway)
    total = sum(served.values())
    return served, (round(spilled / total, 3) if total > 0 else None)


class RegionReporter:
    def __init__(self, shared: Shared, pools: PoolReconciler, source: PrometheusSource, ttl: float) -> None:
        self.shared = shared
        self.pools = pools
        self.source = source
        self.ttl = ttl
        self._vectors: dict[str, list[tuple[dict[str, str], float]]] = {}
        self._at = -1e18

    async def tick(self, namespace: str, name: str) -> list[dict[str, Any]] | None:
        cache = self.shared.cache
        tracked = cache.get(INFERENCE_GATEWAY, namespace, name)
        if tracked is None or tracked.spec is None:
            return None
        gateway = cast(InferenceGatewaySpec, tracked.spec)
        pools = cast(dict[str, InferencePoolSpec], cache.specs(INFERENCE_POOL, namespace))
        ready, desired = {}, {}
        for pool, spec in pools.items():
            if spec.engine == "external":
                ready[pool] = desired[pool] = len(spec.endpoints)
                continue
            ready[pool] = len(self.pools.endpoints(namespace, pool, spec))
            deployment = cache.deployment(namespace, pool) or {}
            desired[pool] = int((deployment.get("spec") or {}).get("replicas") or 0)
        if time.monotonic() - self._at >= self.ttl:
            vectors, error = await self.source.vectors(traffic_queries())
            if error is None:
                self._vectors = vectors
            elif self.source.url is not None:
                log.debug("gateway traffic by region not read: %s", error)
            self._at = time.monotonic()
        served, spilled = traffic_of(self._vectors, namespace, name)
        regions = region_status(gateway.region, pools, ready, desired, served or None)
        for entry in regions:
            if entry["health"] is not None:
                REGION_HEALTH.labels(namespace=namespace, gateway=name, region=entry["region"]).set(entry["health"])
        if spilled is not None:
            SPILLOVER_SHARE.labels(namespace=namespace, gateway=name).set(spilled)
        await self.shared.statuses.write(tracked, {"regions": regions, "spilloverShare": spilled}, [])
        return regions
