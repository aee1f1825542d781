"""A pool's measurements (from Prometheus) -> the signals the decision weighs, per the pool's targets."""

from __future__ import annotations

from dataclasses import dataclass

from tokenway_gateway.api import InferencePoolSpec

from .decision import LATENCY, LOAD, PRESSURE, Observation, Signal


@dataclass(frozen=True)
class Measurements:
    """One pool's numbers over the stable window and the short (panic) window."""

    ttft_p95: float | None = None
    ttft_p95_short: float | None = None
    ttft_source: str | None = None  # "gateway" or "engine"
    queue: float | None = None  # waiting requests of the whole pool: engines plus the gateways' queue
    queue_short: float | None = None
    saturation: float | None = None  # mean busy share per replica, 0..1
    saturation_short: float | None = None
    demand: float = 0.0  # requests the gateways hold for this pool while it has no endpoint
    activity: float | None = None  # requests/s plus running sequences; 0 = idle
    sample_age: float | None = None  # seconds since the pool's freshest engine sample
    error: str | None = None


def observation(spec: InferencePoolSpec, m: Measurements, ready: int) -> Observation:
    a = spec.autoscaling
    signals: list[Signal] = []
    if a.ttft_p95_target_seconds:
        signals.append(Signal("TTFT p95", LATENCY, a.ttft_p95_target_seconds, m.ttft_p95, m.ttft_p95_short, "s"))
    if a.queue_depth_per_replica:
        def per(q: float | None) -> float | None:
            return None if q is None or ready <= 0 else q / ready

        signals.append(Signal("queue", PRESSURE, a.queue_depth_per_replica, per(m.queue), per(m.queue_short),
                              "/replica"))
    if a.saturation_target:
        signals.append(Signal("saturation", LOAD, a.saturation_target, m.saturation, m.saturation_short))
    return Observation(tuple(signals), m.demand, m.activity, m.sample_age, m.error)
