"""The autoscaler's decision: a pure function of (observation, current replicas, spec, history, now).

The rule is Kubernetes HPA's, with Knative's panic mode and a scale-to-zero idle rule:

1. Each signal recommends ``ceil(ready * value / target)``; a ratio within ``1 ± tolerance`` keeps the
   current size. The highest recommendation wins. Signals differ in what a low value means:

   * ``load`` (saturation: KV-cache use or running / capacity) is proportional to the traffic a
     replica carries, so it recommends fewer replicas too: it is what lets a pool shrink;
   * ``pressure`` (queue depth) and ``latency`` (TTFT p95) sit at their floor (an empty queue, the
     prefill time) whenever there is spare capacity, so below target they say nothing about how
     many replicas the load needs: they only ever ask for more. While replicas are still starting
     they ask for nothing: TTFT still shows the past, and the queue is a backlog the new replicas
     will drain, so a cold start is not answered with ever more replicas; nor do a draining queue
     or a falling TTFT (lower over the short window than over the stable one). They say "more", not
     how many: at most double per decision. Saturation sizes the pool, corrected for backlog by
     arrivals / completions (signals.py).

2. Panic (Knative, AIBrix): a short window catches a spike the stable window averages away. When a
   signal's short-window value is over target and ``panicThreshold`` times its stable value, or the
   short window asks for ``panicThreshold`` times the ready replicas, the pool panics for one stable
   window: it acts on the higher of both windows and never scales down.
3. Stabilization (HPA): scaling down goes only to the highest recommendation of the last
   ``scaleDownStabilizationSeconds``; scaling up to the lowest of ``scaleUpStabilizationSeconds``;
   after any change no scale-down for ``cooldownSeconds``; scale-ups add at most
   ``max(scaleUpMaxPercent %, scaleUpMaxPods)`` per ``scaleUpPeriodSeconds``; then min/max.
4. Missing or stale metrics hold the size and say why: never a scale to min by accident.
5. Scale to zero: a pool that may (``scaleToZero`` with ``replicas.min: 0``) goes to zero after
   ``scaleToZeroIdleSeconds`` without traffic, and back to one as soon as requests wait for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from tokenway_gateway.api import InferencePoolSpec

from .bounds import can_scale_to_zero, ceiling, floor
from .history import History

SignalKind = Literal["load", "pressure", "latency"]
LOAD: SignalKind = "load"
PRESSURE: SignalKind = "pressure"
LATENCY: SignalKind = "latency"

# ScalingActive reasons.
VALID = "ValidMetrics"
UNAVAILABLE = "MetricsUnavailable"
STALE = "StaleMetrics"
NO_READY = "NoReadyReplicas"
AT_ZERO = "ScaledToZero"
# ScalingLimited reasons.
TOO_MANY = "TooManyReplicas"
TOO_FEW = "TooFewReplicas"
RATE_LIMITED = "ScaleUpLimited"


@dataclass(frozen=True)
class Signal:
    """One measured signal: ``value`` over the stable window, ``short`` over the panic window."""

    name: str
    kind: SignalKind
    target: float
    value: float | None
    short: float | None = None
    unit: str = ""

    def describe(self, value: float | None = None) -> str:
        shown = self.value if value is None else value
        return f"{self.name} {_num(shown)}{self.unit} (target {_num(self.target)}{self.unit})"


@dataclass(frozen=True)
class Observation:
    signals: tuple[Signal, ...] = ()
    demand: float = 0.0  # requests waiting for this pool while it has no endpoint
    activity: float | None = None  # requests/s arriving plus sequences running; 0 means idle
    sample_age: float | None = None  # seconds since the freshest engine sample; None: no sample at all
    error: str | None = None  # why nothing could be read (Prometheus unreachable, not configured)


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: str
    history: History
    metrics_ok: bool
    metrics_reason: str
    limited: str | None = None
    panicking: bool = False
    recommendation: int | None = None


def recommend(signal: Signal, value: float | None, ready: int, current: int, tolerance: float) -> int | None:
    """The HPA rule for one signal; None when the signal has no opinion."""
    if value is None or signal.target <= 0 or ready <= 0:
        return None
    ratio = value / signal.target
    if abs(ratio - 1.0) <= tolerance:
        return current
    if ratio < 1.0 and signal.kind != LOAD:
        return None
    if signal.kind != LOAD and ready < current:
        # Replicas are starting: TTFT still shows the past, and the queue is a backlog they will drain, not
        # the load they will carry (sizing on it overshoots by the backlog a cold start lets build up).
        return None
    if signal.kind != LOAD and signal.short is not None and signal.value is not None \
            and signal.short < signal.value * (1.0 - tolerance):
        return None  # the queue drains, TTFT falls: the replicas there already outrun the arrivals
    if signal.kind != LOAD:
        ratio = min(ratio, 2.0)  # "more", not how many: a backlog or a latency does not size the pool
    return max(0, math.ceil(ready * ratio - 1e-9))


def _best(opinions: list[tuple[int, Signal, float]]) -> tuple[int, Signal, float] | None:
    return max(opinions, key=lambda o: o[0]) if opinions else None


def decide(spec: InferencePoolSpec, obs: Observation, current: int, ready: int, history: History,
           now: float) -> Decision:
    a = spec.autoscaling
    lo, hi = floor(spec), ceiling(spec)
    keep = float(max(a.scale_down_stabilization_seconds, a.scale_up_stabilization_seconds,
                     a.scale_up_period_seconds, a.metrics_window_seconds, a.cooldown_seconds))

    def hold(reason: str, ok: bool, why: str, hist: History = history) -> Decision:
        desired = current if current == 0 and can_scale_to_zero(spec) else max(lo, min(hi, current))
        if desired != current:
            return Decision(desired, f"{reason}; replicas {'min' if desired == lo else 'max'} is {desired}",
                            hist.scaled(now, current, desired, keep), ok, why,
                            TOO_FEW if desired == lo else TOO_MANY)
        return Decision(current, reason, hist, ok, why)

    if obs.error is not None:
        return hold(f"holding {current}: metrics unavailable ({obs.error})", False, UNAVAILABLE)

    if current == 0:
        if obs.demand > 0 or not can_scale_to_zero(spec):
            why = f"{_num(obs.demand)} request(s) waiting" if obs.demand > 0 else f"replicas.min is {lo}"
            fresh = replace(history, idle_since=None, panic_until=None)
            return Decision(lo, f"scale from zero: {why}", fresh.scaled(now, 0, lo, keep), True, VALID)
        return Decision(0, "scaled to zero: no request is waiting", history, True, AT_ZERO)

    if ready == 0:
        return hold(f"holding {current}: waiting for a ready replica", True, NO_READY)
    if obs.sample_age is None:
        return hold(f"holding {current}: no engine metrics in Prometheus yet", False, STALE)
    if obs.sample_age > a.metrics_max_age_seconds:
        return hold(f"holding {current}: newest engine sample is {obs.sample_age:.0f}s old "
                    f"(> {a.metrics_max_age_seconds}s)", False, STALE)

    # Scale to zero after the idle window.
    idle = obs.activity is not None and obs.activity <= 0 and obs.demand <= 0
    idle_since = (history.idle_since if history.idle_since is not None else now) if idle else None
    history = replace(history, idle_since=idle_since)
    if can_scale_to_zero(spec) and idle_since is not None and now - idle_since >= a.scale_to_zero_idle_seconds:
        return Decision(0, f"idle for {now - idle_since:.0f}s: scale to zero",
                        replace(history.scaled(now, current, 0, keep), idle_since=None, panic_until=None),
                        True, VALID)

    tol = a.tolerance
    stable = [(r, s, s.value) for s in obs.signals
              if (r := recommend(s, s.value, ready, current, tol)) is not None and s.value is not None]
    short = [(r, s, s.short) for s in obs.signals
             if (r := recommend(s, s.short, ready, current, tol)) is not None and s.short is not None]
    best, best_short = _best(stable), _best(short)
    rec = best[0] if best is not None else current
    why = f"{best[1].describe()}" if best is not None else "no signal asks for a change"

    # Panic: the short window sees a spike the stable window averages away.
    spike = next((s for s in obs.signals if s.short is not None and s.value is not None
                  and s.short > s.target * (1 + tol) and s.short >= a.panic_threshold * max(s.value, 1e-9)), None)
    if spike is None and best_short is not None and best_short[0] >= a.panic_threshold * ready:
        spike = best_short[1]
    panic_until = history.panic_until
    if spike is not None:
        panic_until = now + a.metrics_window_seconds
    panicking = panic_until is not None and now < panic_until
    if panic_until is not None and not panicking:
        panic_until = None
    history = replace(history, panic_until=panic_until)
    if panicking:
        if best_short is not None and best_short[0] > rec:
            rec = best_short[0]
            why = f"{best_short[1].describe(best_short[2])} over {a.panic_window_seconds}s"
        if rec < current:
            rec, why = current, "panicking: no scale-down"
        if spike is not None:
            why = f"panic ({spike.name} spiked): {why}"

    if not history.highs:
        # No memory (a new pool, or status lost): the current size counts as recommended just now, so a
        # restart never scales down before one stabilization window has passed.
        history = history.remember(now - 0.001, current, keep)
    history = history.remember(now, rec, keep)
    desired, limited = rec, None
    if rec < current:
        high = history.highest_since(now - a.scale_down_stabilization_seconds)
        desired = min(current, max(rec, high if high is not None else rec))
        if desired >= current:
            why = (f"{why}; scale-down stabilization: highest recommendation of the last "
                   f"{a.scale_down_stabilization_seconds}s is {high}")
        elif history.last_scale_time is not None and now - history.last_scale_time < a.cooldown_seconds:
            why = f"{why}; cooldown: last change {now - history.last_scale_time:.0f}s ago"
            desired = current
    elif rec > current:
        low = history.lowest_since(now - a.scale_up_stabilization_seconds) if a.scale_up_stabilization_seconds \
            else rec
        desired = max(current, min(rec, low if low is not None else rec))
        if desired <= current:
            why = (f"{why}; scale-up stabilization: lowest recommendation of the last "
                   f"{a.scale_up_stabilization_seconds}s is {low}")
        base = current - history.added_since(now - a.scale_up_period_seconds)
        limit = max(math.ceil(base * (1 + a.scale_up_max_percent / 100)), base + a.scale_up_max_pods)
        if desired > limit:
            desired, limited = max(current, limit), RATE_LIMITED
            why = f"{why}; scale-up limited to {desired} this {a.scale_up_period_seconds}s period"
    clamped = max(lo, min(hi, desired))
    if clamped != desired:
        limited = TOO_MANY if desired > hi else TOO_FEW
        why = f"{why}; replicas.{'max' if desired > hi else 'min'} is {clamped}"
        desired = clamped
    if desired != current:
        history = history.scaled(now, current, desired, keep)
        reason = f"{current} -> {desired}: {why}"
    else:
        reason = f"holding {current}: {why}"
    return Decision(desired, reason, history, True, VALID, limited, panicking, rec)


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}"
