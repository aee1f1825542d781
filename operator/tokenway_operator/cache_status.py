"""CachePolicy status: the rules it serves and its hit rate, as the gateways measure it.

Which rules a CachePolicy serves is computed the way the gateway does (pure): a rule (and the
unmatched ``default`` route) is served by the first policy, in name order, whose ``routes`` name
it or are empty; a policy that serves no rule does nothing and must not look Ready (see
:func:`tokenway_operator.status.policy_status`).

The hit rate comes from Prometheus, the same one the autoscaler reads (``--prometheus-url``),
over the gateways' ``tokenway_cache_hits_total`` and ``tokenway_cache_misses_total`` (labels
``namespace`` from the scrape config, ``cache`` = the policy's name), summed over every gateway
replica: hits / (hits + misses) over :data:`HIT_RATE_WINDOW`. Why Prometheus rather than
scraping gateway pods: it already aggregates every replica, survives gateway restarts (counter
resets are handled by ``increase``), needs no network path from the operator to the pods, and
is one batched query per interval for every policy of every namespace. Without Prometheus, or
without lookups in the window, ``hitRate`` is null and the ``HitRateMeasured`` condition says why:
a number is never made up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from tokenway_gateway.api import API_GROUP, API_VERSION, CachePolicySpec, RoutePolicySpec

from .compile import missing_pools
from .conditions import Cond
from .kinds import CACHE_POLICY, INFERENCE_POOL, ROUTE_POLICY

if TYPE_CHECKING:
    from .autoscaling.prometheus import PrometheusSource
    from .reconciling import Shared

log = logging.getLogger("tokenway.operator.cache")

HIT_RATE_WINDOW = "5m"
WINDOW_SECONDS = 300.0
INTERVAL_SECONDS = 30.0  # how often each CachePolicy's hit rate is refreshed
HIT_RATE_MEASURED = "HitRateMeasured"
DEFAULT_ROUTE = "default"  # requests no rule matches (tokenway_gateway.routing.table.DEFAULT_ROUTE)

Vectors = dict[str, list[tuple[dict[str, str], float]]]


def served_rules(caches: Mapping[str, CachePolicySpec], routes: Mapping[str, RoutePolicySpec],
                 pools: set[str]) -> dict[str, list[str]]:
    """Policy name -> the rules (and ``default``) it serves, as the gateway assigns them (pure)."""
    rules = [rule.name for spec in routes.values() if not missing_pools(spec, pools) for rule in spec.rules]
    served: dict[str, list[str]] = {name: [] for name in caches}
    for rule in dict.fromkeys([*rules, DEFAULT_ROUTE]):
        for name in sorted(caches):
            wanted = caches[name].routes
            if not wanted or rule in wanted:
                served[name].append(rule)
                break
    return served


def hit_rate_queries(window: str = HIT_RATE_WINDOW) -> dict[str, str]:
    return {
        "hits": f"sum by (namespace, cache) (increase(tokenway_cache_hits_total[{window}]))",
        "misses": f"sum by (namespace, cache) (increase(tokenway_cache_misses_total[{window}]))",
    }


def hit_rate_of(vectors: Vectors, namespace: str, cache: str,
                window_seconds: float = WINDOW_SECONDS) -> tuple[float | None, float | None]:
    """(hit rate, lookups per second) of one policy over the window; (None, None) without lookups (pure)."""

    def total(key: str) -> float:
        return sum(value for labels, value in vectors.get(key, ())
                   if labels.get("namespace") == namespace and labels.get("cache") == cache)

    hits, misses = total("hits"), total("misses")
    lookups = hits + misses
    if lookups <= 0:
        return None, None
    return round(hits / lookups, 4), round(lookups / window_seconds, 3)


def hit_rate_status(vectors: Vectors | None, error: str | None, namespace: str,
                    cache: str) -> tuple[dict[str, Any], Cond]:
    """The status fields and the HitRateMeasured condition of one policy (pure)."""
    if vectors is None:
        return ({"hitRate": None, "lookupsPerSecond": None},
                Cond(HIT_RATE_MEASURED, False, "MetricsUnavailable", error or "no metrics read yet"))
    rate, per_second = hit_rate_of(vectors, namespace, cache)
    if rate is None:
        return ({"hitRate": None, "lookupsPerSecond": 0.0},
                Cond(HIT_RATE_MEASURED, False, "NoLookups", f"no cache lookups in the last {HIT_RATE_WINDOW}"))
    return ({"hitRate": rate, "lookupsPerSecond": per_second},
            Cond(HIT_RATE_MEASURED, True, "Measured",
                 f"{rate:.1%} of {per_second:g} lookups/s hit over the last {HIT_RATE_WINDOW}, all gateway replicas"))


class CacheStatusReporter:
    """Writes each CachePolicy's hit rate and served rules; the Prometheus batch is shared for ``ttl`` seconds."""

    def __init__(self, shared: Shared, source: PrometheusSource, ttl: float) -> None:
        self.shared = shared
        self.source = source
        self.ttl = ttl
        self._vectors: Vectors | None = None
        self._error: str | None = None
        self._at = -1e18

    async def tick(self, namespace: str, name: str) -> dict[str, Any] | None:
        cache = self.shared.cache
        tracked = cache.get(CACHE_POLICY, namespace, name)
        if tracked is None or tracked.spec is None or tracked.error:
            return None
        if time.monotonic() - self._at >= self.ttl:
            vectors, error = await self.source.vectors(hit_rate_queries())
            self._vectors, self._error = (None, error) if error is not None else (vectors, None)
            self._at = time.monotonic()
        fields, cond = hit_rate_status(self._vectors, self._error, namespace, name)
        caches = cast(dict[str, CachePolicySpec], cache.specs(CACHE_POLICY, namespace))
        routes = cast(dict[str, RoutePolicySpec], cache.specs(ROUTE_POLICY, namespace))
        fields["routes"] = len(served_rules(caches, routes, set(cache.specs(INFERENCE_POOL, namespace))).get(name, []))
        await self.shared.statuses.write(tracked, fields, [cond])
        return fields


def register(source: Callable[[], PrometheusSource], interval: float = INTERVAL_SECONDS) -> None:
    """A kopf timer per CachePolicy: its hit rate every ``interval`` seconds (spread by uid)."""
    import kopf

    from .autoscaling.handlers import offset

    holder: list[CacheStatusReporter] = []

    def spread(body: kopf.Body, **_: Any) -> float:
        return offset(str(body.get("metadata", {}).get("uid", "")), interval)

    @kopf.timer(API_GROUP, API_VERSION, CACHE_POLICY.plural, id="cache-hit-rate", interval=interval,
                initial_delay=spread)
    async def hit_rate(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        try:
            if not holder:
                holder.append(CacheStatusReporter(memo.runtime.shared, source(), ttl=interval / 2))
            await holder[0].tick(namespace or "", name)
        except Exception:  # never let kopf retry-loop a tick; the next one measures again
            log.exception("hit rate of CachePolicy %s/%s failed", namespace, name)
