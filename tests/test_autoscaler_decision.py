"""The autoscaler's pure decision: HPA rule, stabilization, rate limits, panic, cooldown, bounds,
missing metrics, scale to zero, and memory that survives a restart (a round trip through status)."""

from __future__ import annotations

import itertools
import math
from typing import Any

from tokenway_gateway.api import InferencePoolSpec
from tokenway_operator.autoscaling.decision import (
    LATENCY,
    LOAD,
    PRESSURE,
    RATE_LIMITED,
    STALE,
    TOO_MANY,
    UNAVAILABLE,
    Decision,
    Observation,
    Signal,
    decide,
)
from tokenway_operator.autoscaling.history import History
from tokenway_operator.autoscaling.signals import Measurements, observation


def spec(replicas: tuple[int, int] = (1, 10), **autoscaling: Any) -> InferencePoolSpec:
    settings = {"enabled": True, "scaleDownStabilizationSeconds": 60, "cooldownSeconds": 0, **autoscaling}
    return InferencePoolSpec.model_validate({
        "models": [{"name": "m"}], "replicas": {"min": replicas[0], "max": replicas[1]}, "autoscaling": settings})


def load(value: float, short: float | None = None, target: float = 0.8) -> Observation:
    return Observation((Signal("saturation", LOAD, target, value, short),), activity=1.0, sample_age=1.0)


def run(s: InferencePoolSpec, obs: Observation, current: int, ready: int | None = None,
        history: History | None = None, now: float = 1000.0) -> Decision:
    return decide(s, obs, current, current if ready is None else ready, history or History(), now)


def test_hpa_rule_ratio_and_tolerance() -> None:
    s = spec()
    assert run(s, load(0.85), 4).desired == 4  # ratio 1.06: within tolerance 0.1
    assert run(s, load(0.8 * 1.5), 4).desired == 6  # ratio 1.5
    assert run(s, load(0.8 * 1.11), 4).desired == 5  # just outside the tolerance
    assert run(s, load(0.8 * 1.09), 4).desired == 4


def test_highest_recommendation_across_signals_wins() -> None:
    obs = Observation((
        Signal("saturation", LOAD, 0.8, 1.0),  # asks 5 of 4
        Signal("queue", PRESSURE, 4.0, 12.0),  # asks 12 of 4
        Signal("TTFT p95", LATENCY, 1.0, 2.0),  # asks 8 of 4
    ), activity=1.0, sample_age=1.0)
    decision = run(spec(replicas=(1, 20), scaleUpMaxPods=100), obs, 4)
    assert decision.desired == 8  # queue and TTFT say "more", at most double per decision; saturation 5
    load_heavy = Observation((Signal("saturation", LOAD, 0.5, 1.5), Signal("queue", PRESSURE, 4.0, 12.0)),
                             activity=1.0, sample_age=1.0)
    decision = run(spec(replicas=(1, 20), scaleUpMaxPods=100), load_heavy, 4)
    assert decision.desired == 12 and "saturation" in decision.reason  # the load signal sizes the pool


def test_queue_and_ttft_below_target_never_shrink_the_pool() -> None:
    obs = Observation((Signal("queue", PRESSURE, 4.0, 0.0), Signal("TTFT p95", LATENCY, 1.0, 0.1)),
                      activity=1.0, sample_age=1.0)
    decision = run(spec(), obs, 6)
    assert decision.desired == 6 and "no signal" in decision.reason
    # Saturation is the signal that does.
    with_load = Observation((*obs.signals, Signal("saturation", LOAD, 0.8, 0.2)), activity=1.0, sample_age=1.0)
    shrink = run(spec(scaleDownStabilizationSeconds=0), with_load, 6)
    assert shrink.desired == 2


def test_a_draining_queue_or_starting_replicas_ask_for_nothing_more() -> None:
    backlog = Observation((Signal("queue", PRESSURE, 2.0, 10.0, short=4.0),), activity=1.0, sample_age=1.0)
    assert run(spec(), backlog, 4).desired == 4  # shrinking: capacity already exceeds arrivals
    growing = Observation((Signal("queue", PRESSURE, 2.0, 10.0, short=12.0),), activity=1.0, sample_age=1.0)
    assert run(spec(), growing, 4, ready=2).desired == 4  # two replicas still starting: wait for them
    assert run(spec(replicas=(1, 40), scaleUpMaxPods=100), growing, 4).desired == 8  # growing: at most double


def test_ttft_waits_for_starting_replicas() -> None:
    obs = Observation((Signal("TTFT p95", LATENCY, 1.0, 5.0),), activity=1.0, sample_age=1.0)
    assert run(spec(), obs, 4, ready=2).desired == 4  # two replicas still starting: no more yet
    assert run(spec(), obs, 4, ready=4).desired == 8


def test_scale_down_stabilization_window() -> None:
    s = spec(scaleDownStabilizationSeconds=60)
    history = History()
    first = run(s, load(1.6), 2, history=history, now=0)  # asks 4
    assert first.desired == 4
    history = first.history
    for t in (10, 30, 59):
        d = run(s, load(0.2), 4, history=history, now=t)
        assert d.desired == 4, (t, d.reason)
        assert "stabilization" in d.reason
        history = d.history
    later = run(s, load(0.2), 4, history=history, now=61)
    assert later.desired == 1  # the high recommendation left the window


def test_scale_down_goes_to_the_highest_recommendation_in_the_window() -> None:
    s = spec(scaleDownStabilizationSeconds=60)
    history = run(s, load(0.8), 8, now=0).history  # holds 8
    history = run(s, load(0.4), 8, history=history, now=30).history  # asks 4
    d = run(s, load(0.1), 8, history=history, now=61)  # asks 1; 4 is still in the window
    assert d.desired == 4


def test_scale_up_rate_limit() -> None:
    s = spec(replicas=(1, 100), scaleUpMaxPercent=100, scaleUpMaxPods=4, scaleUpPeriodSeconds=15)
    heavy = Observation((Signal("saturation", LOAD, 0.1, 2.5),), activity=1.0, sample_age=1.0)
    d = run(s, heavy, 2, now=0)
    assert d.desired == 6 and d.limited == RATE_LIMITED  # asks 50; max(2 * 2, 2 + 4)
    again = run(s, heavy, 6, ready=2, history=d.history, now=5)  # same period: base is still 2
    assert again.desired == 6
    later = run(s, heavy, 6, history=again.history, now=16)
    assert later.desired == 12  # a new period: 6 * 2


def test_scale_up_stabilization_uses_the_lowest_recommendation() -> None:
    s = spec(scaleUpStabilizationSeconds=30)
    history = run(s, load(0.8), 4, now=0).history  # 4
    d = run(s, load(1.6), 4, history=history, now=10)  # asks 8, but 4 is in the window
    assert d.desired == 4
    d = run(s, load(1.6), 4, history=d.history, now=31)
    assert d.desired == 8


def test_bounds_min_max() -> None:
    assert run(spec(replicas=(2, 5)), load(0.01), 3, history=None, now=0).desired == 3  # stabilization memory
    d = run(spec(replicas=(2, 5), scaleDownStabilizationSeconds=0), load(0.01), 3)
    assert d.desired == 2
    d = run(spec(replicas=(2, 5), scaleUpMaxPods=100), load(8.0), 3)
    assert d.desired == 5 and d.limited == TOO_MANY


def test_cooldown_blocks_scale_down_after_a_change() -> None:
    s = spec(scaleDownStabilizationSeconds=0, cooldownSeconds=30)
    up = run(s, load(1.6), 2, now=0)
    assert up.desired == 4
    d = run(s, load(0.2), 4, history=up.history, now=20)
    assert d.desired == 4 and "cooldown" in d.reason
    assert run(s, load(0.2), 4, history=d.history, now=31).desired == 1


def test_panic_acts_on_the_short_window_and_never_scales_down() -> None:
    s = spec(replicas=(1, 50), metricsWindowSeconds=60, scaleUpMaxPods=50)
    # The stable window averages the spike away (1.0 -> asks 5 of 4); the short one sees 4x.
    obs = Observation((Signal("queue", PRESSURE, 4.0, 5.0, short=16.0),), activity=1.0, sample_age=1.0)
    d = run(s, obs, 4, now=0)
    assert d.panicking and d.desired == 8, d.reason  # the short window's 4x, at most doubled per decision
    # Still panicking 30 s later: a calm short window does not shrink the pool.
    calm = Observation((Signal("saturation", LOAD, 0.8, 0.1, short=0.1),), activity=1.0, sample_age=1.0)
    d2 = run(s, calm, 8, history=d.history, now=30)
    assert d2.panicking and d2.desired == 8
    # After one stable window without a spike, panic ends (and stabilization takes over).
    d3 = run(s, calm, 8, history=d2.history, now=61)
    assert not d3.panicking


def test_no_panic_without_a_spike() -> None:
    obs = Observation((Signal("queue", PRESSURE, 4.0, 5.0, short=5.5),), activity=1.0, sample_age=1.0)
    d = run(spec(), obs, 4)
    assert not d.panicking and d.desired == 5


def test_missing_or_stale_metrics_hold_and_say_why() -> None:
    down = Observation(error="prometheus at http://prom:9090 unreachable")
    d = run(spec(), down, 5)
    assert d.desired == 5 and not d.metrics_ok and d.metrics_reason == UNAVAILABLE
    assert "unreachable" in d.reason
    stale = Observation((Signal("saturation", LOAD, 0.8, 0.0),), activity=0.0, sample_age=500.0)
    d = run(spec(), stale, 5)
    assert d.desired == 5 and d.metrics_reason == STALE
    none = Observation((Signal("saturation", LOAD, 0.8, None),), activity=None, sample_age=None)
    d = run(spec(), none, 5)
    assert d.desired == 5 and not d.metrics_ok
    # Never to min by accident, and never to zero, even for a scale-to-zero pool.
    d = run(spec(replicas=(0, 5), scaleToZero=True, scaleToZeroIdleSeconds=30), down, 3, now=10_000)
    assert d.desired == 3


def test_scale_to_zero_after_idle_window_and_back_on_demand() -> None:
    s = spec(replicas=(0, 4), scaleToZero=True, scaleToZeroIdleSeconds=60, scaleDownStabilizationSeconds=0)
    idle = Observation((Signal("saturation", LOAD, 0.8, 0.0),), activity=0.0, sample_age=1.0)
    d = run(s, idle, 1, now=0)
    assert d.desired == 1  # normal recommendations never go below one replica
    d = run(s, idle, 1, history=d.history, now=59)
    assert d.desired == 1
    busy = Observation((Signal("saturation", LOAD, 0.8, 0.3),), activity=2.0, sample_age=1.0)
    reset = run(s, busy, 1, history=d.history, now=60)
    assert reset.desired == 1 and reset.history.idle_since is None  # traffic resets the idle clock
    d = run(s, idle, 1, history=reset.history, now=61)
    d = run(s, idle, 1, history=d.history, now=122)
    assert d.desired == 0 and "idle" in d.reason
    at_zero = run(s, Observation(activity=0.0), 0, history=d.history, now=130)
    assert at_zero.desired == 0
    wake = run(s, Observation(demand=3), 0, history=at_zero.history, now=140)
    assert wake.desired == 1 and "from zero" in wake.reason


def test_memory_survives_a_restart() -> None:
    """The same sequence with the history kept in memory, or written to status and read back each tick."""
    s = spec(replicas=(1, 20), scaleDownStabilizationSeconds=45, cooldownSeconds=10, metricsWindowSeconds=20)
    values = [0.5, 2.0, 2.5, 1.0, 0.3, 0.3, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1]
    kept, restored = History(), History()
    n_kept = n_restored = 2
    for i, v in enumerate(values):
        now = i * 10.0
        obs = Observation((Signal("saturation", LOAD, 0.8, v, short=v),), activity=1.0, sample_age=1.0)
        a = decide(s, obs, n_kept, n_kept, kept, now)
        b = decide(s, obs, n_restored, n_restored, History.from_dict(restored.to_dict()), now)
        assert (a.desired, a.reason) == (b.desired, b.reason)
        kept, restored, n_kept, n_restored = a.history, b.history, a.desired, b.desired
    assert History.from_dict({"highs": "junk"}) == History()


def test_measurements_to_signals() -> None:
    s = spec(ttftP95TargetSeconds=0.5, queueDepthPerReplica=2, saturationTarget=0.7)
    obs = observation(s, Measurements(ttft_p95=1.0, queue=12.0, queue_short=24.0, saturation=0.5), ready=3)
    by_name = {sig.name: sig for sig in obs.signals}
    assert by_name["queue"].value == 4.0 and by_name["queue"].short == 8.0
    assert by_name["TTFT p95"].value == 1.0 and by_name["saturation"].target == 0.7
    # Saturation is corrected by arrivals / completions: a backlog draining (0.5) halves it.
    draining = observation(s, Measurements(saturation=1.0, demand_ratio=0.5, saturation_short=1.0,
                                           demand_ratio_short=3.0), ready=3)
    sat = {sig.name: sig for sig in draining.signals}["saturation"]
    assert sat.value == 0.5 and sat.short == 3.0
    only_ttft = observation(spec(queueDepthPerReplica=None, saturationTarget=None), Measurements(), ready=1)
    assert [sig.name for sig in only_ttft.signals] == ["TTFT p95"]


def test_a_load_step_settles_with_at_most_one_direction_change() -> None:
    """A fluid model of a pool: load steps 4x, replicas start after a delay; the decision must not flap."""
    s = spec(replicas=(1, 40), metricsWindowSeconds=20, panicWindowSeconds=4, scaleDownStabilizationSeconds=60,
             cooldownSeconds=20, queueDepthPerReplica=4, ttftP95TargetSeconds=None, saturationTarget=0.7)
    capacity = 10.0  # requests/s one replica serves
    current, starting, queue = 2, [], 0.0
    history, directions = History(), []
    for tick in range(0, 400):
        now = float(tick)
        rate = 12.0 if tick < 100 else 48.0
        ready = current - len(starting)
        served = min(rate + queue, ready * capacity)
        queue = max(0.0, queue + rate - served)
        sat = min(1.0, served / max(1, ready) / capacity)
        if tick % 2 == 0:
            obs = Observation((Signal("queue", PRESSURE, 4.0, queue / ready, short=queue / ready),
                               Signal("saturation", LOAD, 0.7, sat, short=sat)), activity=rate, sample_age=1.0)
            d = decide(s, obs, current, ready, history, now)
            history = d.history
            if d.desired != current:
                directions.append(int(math.copysign(1, d.desired - current)))
                if d.desired > current:
                    starting += [now + 10] * (d.desired - current)
                current = d.desired
        starting = [t for t in starting if t > now]
    changes = sum(1 for a, b in itertools.pairwise(directions) if a != b)
    assert changes <= 1, directions
    assert 5 <= current <= 9, current  # 48 req/s at 70% of 10 per replica needs about 7
