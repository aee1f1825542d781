"""Quantiles from Prometheus histogram buckets, as PromQL's histogram_quantile() computes them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """``buckets``: (upper bound, cumulative count) sorted by bound, ending with +Inf.

    Linear interpolation inside the bucket that holds the rank; None when empty.
    """
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # the rank is past the last finite bucket: report its bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def bucket_counts(registry: CollectorRegistry, metric: str, match: dict[str, str]) -> list[tuple[float, float]]:
    """Cumulative bucket counts of ``metric`` summed over every series whose labels include ``match``."""
    sums: dict[float, float] = {}
    for family in registry.collect():
        if family.name != metric:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            if any(sample.labels.get(k) != v for k, v in match.items()):
                continue
            bound = float(sample.labels["le"])
            sums[bound] = sums.get(bound, 0.0) + sample.value
    return sorted(sums.items())


def counter_total(registry: CollectorRegistry, metric: str, match: dict[str, str]) -> float:
    total = 0.0
    for family in registry.collect():
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in match.items()):
                total += sample.value
    return total


def subtract(now: Iterable[tuple[float, float]], before: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Bucket counts of a window: the difference of two cumulative snapshots."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in now]
