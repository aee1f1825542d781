"""Prometheus figures of the response caches, by cache policy and route (read from the caches at scrape time).

Labels stay bounded: ``cache`` (CachePolicy names) and ``route`` (rule names, or ``default``)
come from the config, ``kind``, ``rule`` and ``result`` are fixed sets. Never a tenant, key or
prompt. Counters are monotonic across config swaps: a replaced cache's totals are carried over.

* ``tokenway_cache_hits_total{cache,route,kind}``: exact and semantic hits;
* ``tokenway_cache_misses_total{cache,route}``, ``tokenway_cache_bypasses_total{cache,route}``
  (no-cache, sampled or streamed requests the policy does not cache);
* ``tokenway_cache_verifier_rejections_total{cache,route,rule}``: semantic candidates above the
  threshold refused by the verifier (negation, number, entity, role, form, ...);
* ``tokenway_cache_stores_total{cache,route,result}``: ``stored``, or ``refused`` (incomplete,
  failed or cancelled responses);
* ``tokenway_cache_errors_total{cache,route}``: backend or embedder failures and slow lookups
  (each served as a miss);
* ``tokenway_cache_lookup_seconds{cache,route}``: lookup latency (embedding, search, verification);
* ``tokenway_cache_entries{cache,backend}``: entries held (Redis: counted every few seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .metrics import FINE_BUCKETS, FastHistogram

if TYPE_CHECKING:
    from ..cache import RouteStats
    from ..pipeline.cache_holder import CacheHolder, HeldCache

Key = tuple[str, str]  # (cache, route)
COUNTERS = ("hits_exact", "hits_semantic", "misses", "bypasses", "stores", "not_stored", "errors")


def _counts(stats: RouteStats) -> dict[str, float]:
    return {name: float(getattr(stats, name)) for name in COUNTERS}


class CacheMetrics(Collector):
    def __init__(self, holder: CacheHolder) -> None:
        self.holder = holder
        self.latency: dict[Key, FastHistogram] = {}
        self.retired: dict[Key, dict[str, float]] = {}
        self.retired_rejections: dict[tuple[str, str, str], float] = {}
        self.embedder_missing: set[str] = set()

    def observer(self, cache: str) -> Callable[[str, str, float], None]:
        """The lookup observer of one cache (``ResponseCache.stats.observer``)."""
        latency = self.latency

        def observe(route: str, outcome: str, seconds: float) -> None:
            histogram = latency.get((cache, route))
            if histogram is None:
                histogram = latency[cache, route] = FastHistogram(FINE_BUCKETS)
            histogram.observe(seconds)

        return observe

    def retire(self, held: HeldCache) -> None:
        """Carry a replaced cache's totals over, so the counters never go down."""
        for route, stats in held.cache.stats.routes.items():
            into = self.retired.setdefault((held.name, route), dict.fromkeys(COUNTERS, 0.0))
            for name, value in _counts(stats).items():
                into[name] += value
            for rule, count in stats.rejections.items():
                key = (held.name, route, rule)
                self.retired_rejections[key] = self.retired_rejections.get(key, 0.0) + count

    def totals(self) -> tuple[dict[Key, dict[str, float]], dict[tuple[str, str, str], float]]:
        counts = {key: dict(values) for key, values in self.retired.items()}
        rejections = dict(self.retired_rejections)
        for held in list(self.holder.live.values()):
            for route, stats in list(held.cache.stats.routes.items()):
                into = counts.setdefault((held.name, route), dict.fromkeys(COUNTERS, 0.0))
                for name, value in _counts(stats).items():
                    into[name] += value
                for rule, count in list(stats.rejections.items()):
                    key = (held.name, route, rule)
                    rejections[key] = rejections.get(key, 0.0) + count
        return counts, rejections

    def collect(self) -> Iterator[Metric]:
        counts, rejections = self.totals()
        hits = CounterMetricFamily("tokenway_cache_hits", "Responses served from the cache, exact or semantic.",
                                   labels=("cache", "route", "kind"))
        misses = CounterMetricFamily("tokenway_cache_misses", "Cache lookups that found nothing to serve.",
                                     labels=("cache", "route"))
        bypasses = CounterMetricFamily("tokenway_cache_bypasses", "Requests that skipped the lookup (cache-control: "
                                       "no-cache, sampled or streamed requests the policy does not cache).",
                                       labels=("cache", "route"))
        stores = CounterMetricFamily("tokenway_cache_stores", "Responses stored, or refused (incomplete, failed or "
                                     "cancelled).", labels=("cache", "route", "result"))
        errors = CounterMetricFamily("tokenway_cache_errors", "Backend or embedder failures and slow lookups, each "
                                     "served as a miss or not stored.", labels=("cache", "route"))
        for (cache, route), values in counts.items():
            hits.add_metric([cache, route, "exact"], values["hits_exact"])
            hits.add_metric([cache, route, "semantic"], values["hits_semantic"])
            misses.add_metric([cache, route], values["misses"])
            bypasses.add_metric([cache, route], values["bypasses"])
            stores.add_metric([cache, route, "stored"], values["stores"])
            stores.add_metric([cache, route, "refused"], values["not_stored"])
            errors.add_metric([cache, route], values["errors"])
        rejected = CounterMetricFamily("tokenway_cache_verifier_rejections", "Semantic candidates above the "
                                       "similarity threshold that the verifier refused, by rule.",
                                       labels=("cache", "route", "rule"))
        for (cache, route, rule), value in rejections.items():
            rejected.add_metric([cache, route, rule], value)
        latency = HistogramMetricFamily("tokenway_cache_lookup_seconds", "Cache lookup time (embedding, search "
                                        "and verification included).", labels=("cache", "route"))
        for (cache, route), histogram in list(self.latency.items()):
            latency.add_metric([cache, route], histogram.cumulative(), histogram.sum)
        entries = GaugeMetricFamily("tokenway_cache_entries", "Entries held by each cache.",
                                    labels=("cache", "backend"))
        holder = self.holder
        for name, held in list(holder.live.items()):
            count = holder.entries(held)
            if count is not None:
                entries.add_metric([name, held.backend], count)
        semantic_off = GaugeMetricFamily("tokenway_cache_embedder_unavailable", "1 when a semantic cache runs "
                                         "exact-only because the embedding model could not be loaded.",
                                         labels=("cache",))
        for name in sorted(self.embedder_missing & holder.live.keys()):
            semantic_off.add_metric([name], 1.0)
        yield from (hits, misses, bypasses, stores, errors, rejected, latency, entries, semantic_off)
