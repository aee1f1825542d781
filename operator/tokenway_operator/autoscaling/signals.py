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
    demand_ratio: float | None = None  # arrivals / completions over the stable window (1: steady, >1: backlog grows)
    demand_ratio_short: float | None = None
    demand: float = 0.0  # requests the gateways hold for this pool while it has no endpoint
    activity: float | None = None  # requests/s plus running sequences; 0 = idle
    sample_age: float | None = None  # seconds since the pool's freshest engine sample
    error: str | None = None


MAX_DEMAND_RATIO = 4.0


def _demand(saturation: float | None, ratio: float | None) -> float | None:
    if saturation is None or ratio is None:
        return saturation
    return saturation * min(MAX_DEMAND_RATIO, ratio)


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
        # The load replicas will carry: busy share x arrivals / completions. Replicas draining a backlog are
        # full but carry less; replicas falling behind carry more than their (capped) busy share shows.
        signals.append(Signal("saturation", LOAD, a.saturation_target, _demand(m.saturation, m.demand_ratio),
                              _demand(m.saturation_short, m.demand_ratio_short)))
    return Observation(tuple(signals), m.demand, m.activity, m.sample_age, m.error)
