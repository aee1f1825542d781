"""One autoscaler tick for one pool: measure -> decide (pure) -> scale the Deployment -> status and Events.

The memory the decision needs lives in this process between ticks and in
``status.autoscaler.history`` across restarts. Status is written when something a user
would look at changed (the size, a condition, panic, where TTFT came from), and
otherwise at most every ``status_interval_seconds``, so a thousand pools do not patch
their status on every tick.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from tokenway_gateway.api import InferencePoolSpec

from ..cache import Tracked
from ..conditions import Cond
from ..kinds import API_VERSION_FULL, INFERENCE_POOL
from ..kube import KubeError
from ..pools import PoolReconciler
from ..reconciling import Shared
from .decision import NO_READY, Decision, decide
from .history import History
from .prometheus import PrometheusSource
from .queries import shown_queries
from .signals import Measurements, observation
from .telemetry import DECISIONS, POOL_REPLICAS, SCALE_EVENTS, TICK_SECONDS

log = logging.getLogger("tokenway.operator.autoscaler")

SCALING_ACTIVE = "ScalingActive"
SCALING_LIMITED = "ScalingLimited"


@dataclass(frozen=True)
class AutoscaleSettings:
    prometheus_url: str | None = None
    interval_seconds: float = 15.0  # the kopf timer of each pool
    status_interval_seconds: float = 30.0  # unchanged decisions still refresh status this often
    query_timeout_seconds: float = 5.0


@dataclass
class _PoolMemory:
    uid: str
    history: History
    applied: int | None = None  # the size this process last applied
    written_at: float = 0.0
    written: dict[str, Any] = field(default_factory=dict)  # what a user sees, as last written
    kept: dict[str, Any] = field(default_factory=dict)  # observations and memory, as last written
    metrics_ok: bool | None = None


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


class Autoscaler:
    def __init__(self, shared: Shared, pools: PoolReconciler, source: PrometheusSource,
                 settings: AutoscaleSettings) -> None:
        self.shared = shared
        self.pools = pools
        self.source = source
        self.settings = settings
        self._memory: dict[tuple[str, str], _PoolMemory] = {}

    def close(self) -> None:
        self.source.close()

    async def tick(self, namespace: str, name: str, now: float | None = None) -> Decision | None:
        """Decide for one pool and act; None when there is nothing to decide (not autoscaled, no Deployment)."""
        started = time.monotonic()
        tracked = self.shared.cache.get(INFERENCE_POOL, namespace, name)
        key = (namespace, name)
        if tracked is None or tracked.spec is None:
            self._memory.pop(key, None)
            self.pools.decided.pop(key, None)
            return None
        spec = cast(InferencePoolSpec, tracked.spec)
        deployment = self.shared.cache.deployment(namespace, name)
        if not spec.autoscaling.enabled or spec.engine == "external" or deployment is None:
            return None
        memory = self._memory.get(key)
        if memory is None or memory.uid != tracked.uid:
            status = tracked.body.get("status") or {}
            memory = self._memory[key] = _PoolMemory(
                tracked.uid, History.from_dict((status.get("autoscaler") or {}).get("history")))
        running = (deployment.get("spec") or {}).get("replicas")
        current = memory.applied if memory.applied is not None else int(running or 0)
        ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
        measured = await self.source.measure(namespace, name, spec)
        now = time.time() if now is None else now
        decision = decide(spec, observation(spec, measured, ready), current, ready, memory.history, now)
        scaled = decision.desired != current
        if scaled:
            try:
                await self.pools.scale(tracked, spec, decision.desired)
            except KubeError as exc:
                log.warning("pool %s/%s: scaling to %d failed: %s", namespace, name, decision.desired, exc)
                DECISIONS.labels(result="error").inc()
                return decision
            memory.applied = decision.desired
            SCALE_EVENTS.labels(direction="up" if decision.desired > current else "down").inc()
            log.info("pool %s/%s: %s", namespace, name, decision.reason)
        elif memory.applied is None:
            memory.applied = current
        memory.history = decision.history
        DECISIONS.labels(result=("up" if decision.desired > current else "down") if scaled else
                         ("hold" if decision.metrics_ok else "unavailable")).inc()
        POOL_REPLICAS.labels(namespace=namespace, pool=name, state="desired").set(decision.desired)
        POOL_REPLICAS.labels(namespace=namespace, pool=name, state="ready").set(ready)
        await self._record(tracked, spec, memory, measured, decision, current, ready, scaled, now)
        TICK_SECONDS.observe(time.monotonic() - started)
        return decision

    async def _record(self, tracked: Tracked, spec: InferencePoolSpec, memory: _PoolMemory, m: Measurements,
                      d: Decision, current: int, ready: int, scaled: bool, now: float) -> None:
        queue = None if m.queue is None or ready <= 0 else m.queue / ready
        visible = {"desired": d.desired, "ok": d.metrics_ok, "why": d.metrics_reason, "limited": d.limited,
                   "panicking": d.panicking, "source": m.ttft_source}
        kept = {"ttft": _round(m.ttft_p95), "queue": _round(queue, 2), "saturation": _round(m.saturation),
                "history": d.history.to_dict(), "reason": d.reason}
        due = now - memory.written_at >= self.settings.status_interval_seconds and kept != memory.kept
        if not (scaled or due or visible != memory.written):
            return
        if not memory.written and d.metrics_reason == NO_READY and not (tracked.body.get("status") or {}).get(
                "autoscaler"):
            # A new pool whose replicas are still starting: nothing measured, nothing decided. Its first
            # record comes with its first ready replica (a thousand new pools: a thousand fewer writes).
            return
        fields: dict[str, Any] = {
            "desiredReplicas": d.desired,
            "observedTtftP95Seconds": _round(m.ttft_p95),
            "observedQueueDepth": _round(queue, 2),
            "observedSaturation": _round(m.saturation),
            "autoscaler": {
                "decidedAt": iso(now), "desiredReplicas": d.desired, "reason": d.reason[:1024],
                "panicking": d.panicking, "ttftSource": m.ttft_source,
                "queries": shown_queries(spec, tracked.namespace, tracked.name, m.ttft_source),
                "history": d.history.to_dict(),
            },
        }
        if scaled:
            fields["lastScaleTime"] = iso(now)
            fields["lastScaleReason"] = d.reason[:1024]
        active_text = d.reason if not d.metrics_ok else "the autoscaler reads its signals and decides"
        conds = [Cond(SCALING_ACTIVE, d.metrics_ok, d.metrics_reason, active_text, warning=not d.metrics_ok),
                 Cond(SCALING_LIMITED, d.limited is not None, d.limited or "DesiredWithinRange",
                      d.reason if d.limited else f"{d.desired} is within [min, max] and the rate limits")]
        written = await self.shared.statuses.write(tracked, fields, conds)
        if written or not scaled:
            memory.written_at, memory.written, memory.kept = now, visible, kept
        if scaled:
            reason = ("ScaledToZero" if d.desired == 0 else "ScaledFromZero" if current == 0 else
                      "ScaledUp" if d.desired > current else "ScaledDown")
            await self._event(tracked, reason, d.reason, warning=False)
        if memory.metrics_ok is not None and memory.metrics_ok != d.metrics_ok:
            await self._event(tracked, d.metrics_reason if not d.metrics_ok else "MetricsAvailable",
                              d.reason, warning=not d.metrics_ok)
        memory.metrics_ok = d.metrics_ok

    async def _event(self, tracked: Tracked, reason: str, message: str, warning: bool) -> None:
        involved = {"apiVersion": API_VERSION_FULL, "kind": INFERENCE_POOL.kind, "metadata": tracked.meta}
        try:
            await self.shared.kube.post_event(involved, reason, message, warning=warning)
        except KubeError as exc:
            log.warning("event for pool %s/%s not posted: %s", tracked.namespace, tracked.name, exc)

