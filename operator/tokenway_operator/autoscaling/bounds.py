"""The replica range an autoscaled pool may use, and its size until the autoscaler has decided (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenway_gateway.api import InferencePoolSpec


def can_scale_to_zero(spec: InferencePoolSpec) -> bool:
    return spec.autoscaling.enabled and spec.autoscaling.scale_to_zero and spec.replicas.min == 0


def floor(spec: InferencePoolSpec) -> int:
    """Fewest replicas while the pool serves: ``min``, but never 0 unless the pool may scale to zero (and then
    only the idle rule takes it there)."""
    if not spec.autoscaling.enabled:
        return spec.replicas.min
    return min(max(1, spec.replicas.min), max(spec.replicas.max, spec.replicas.min))


def ceiling(spec: InferencePoolSpec) -> int:
    return max(spec.replicas.max, spec.replicas.min)


def initial_replicas(spec: InferencePoolSpec) -> int:
    """What a new Deployment runs: ``replicas.min``; a scale-to-zero pool at min 0 starts at 0 and wakes on
    demand; any other autoscaled pool runs at least one replica until the autoscaler decides."""
    if can_scale_to_zero(spec):
        return 0
    return floor(spec)


def clamp(spec: InferencePoolSpec, replicas: int) -> int:
    """``replicas`` inside the pool's range (0 stays 0 for a pool that may scale to zero)."""
    if replicas == 0 and can_scale_to_zero(spec):
        return 0
    return max(floor(spec), min(ceiling(spec), replicas))


def autoscaled_replicas(spec: InferencePoolSpec, decided: int | None, deployment: Mapping[str, Any] | None,
                        status: Mapping[str, Any] | None) -> int | None:
    """The size a re-applied Deployment keeps for an autoscaled pool: the autoscaler's last decision in this
    process, else the Deployment's current size (only the autoscaler changes it), else the last decision in
    status; clamped into the pool's range. None: not autoscaled, or never decided (``initial_replicas``)."""
    if not spec.autoscaling.enabled:
        return None
    if decided is None:
        remembered = ((status or {}).get("autoscaler") or {}).get("desiredReplicas")
        running = ((deployment or {}).get("spec") or {}).get("replicas")
        found = running if isinstance(running, int) else remembered
        decided = int(found) if isinstance(found, int) else None
    return None if decided is None else clamp(spec, decided)
