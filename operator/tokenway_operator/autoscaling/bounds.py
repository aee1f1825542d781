"""The replica range an autoscaled pool may use, and its size until the autoscaler has decided (pure)."""

from __future__ import annotations

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
