"""The queue stage: requests wait in the gateway, fairly, while their pool is full or has no endpoint.

Instead of piling onto a busy replica (where vLLM's own FIFO queue serves a flooding
tenant first), a request waits in its pool's :class:`FairQueue` and is let in when a
slot frees or endpoints appear (the activator half of scale-from-zero). Order: priority
band first (a header), then start-time fair queuing across tenants with each request's
cost in tokens divided by its tier's weight, so one tenant's flood cannot starve a light
tenant and a tenant's share is in tokens, not requests. Requests that wait longer than
``maxWaitSeconds`` get 503 with Retry-After; a full queue answers 429.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import TYPE_CHECKING

from ..server.errors import GatewayError
from .chain import CONTINUE, Verdict
from .output_caps import asked_output

if TYPE_CHECKING:
    from ..api.route import QueueLimits
    from ..api.snapshot import GatewayConfig, NamedRoutePolicy
    from ..proxy.gateway import Gateway
    from ..routing.poolstate import PoolState
    from .context import RequestContext

DEFAULT_OUTPUT_COST = 256  # tokens charged for a request that sets no max_tokens
PRIORITY_BOUND = 10


class Waiter:
    __slots__ = ("ctx", "done", "enqueued_at", "finish_tag", "priority", "start_tag", "tenant", "timer")

    def __init__(self, ctx: RequestContext, tenant: str, priority: int) -> None:
        self.ctx = ctx
        self.tenant = tenant
        self.priority = priority
        self.enqueued_at = time.perf_counter()
        self.start_tag = self.finish_tag = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.done = False


class FairQueue:
    """Priority bands, then start-time fair queuing (SFQ) by tenant inside a band."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, float, int, Waiter]] = []
        self._virtual = 0.0
        self._last_finish: dict[str, float] = {}
        self._seq = itertools.count()
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def push(self, waiter: Waiter, cost: float) -> None:
        start = max(self._virtual, self._last_finish.get(waiter.tenant, 0.0))
        waiter.start_tag = start
        waiter.finish_tag = self._last_finish[waiter.tenant] = start + cost
        heapq.heappush(self._heap, (-waiter.priority, start, next(self._seq), waiter))
        self._live += 1

    def pop(self) -> Waiter | None:
        while self._heap:
            _, start, _, waiter = heapq.heappop(self._heap)
            if waiter.done:
                continue  # removed while waiting (timed out, client gone)
            waiter.done = True
            self._live -= 1
            self._virtual = max(self._virtual, start)
            self._forget_idle()
            return waiter
        return None

    def remove(self, waiter: Waiter) -> None:
        if not waiter.done:
            waiter.done = True
            self._live -= 1
            if self._live == 0:
                self._heap.clear()

    def _forget_idle(self) -> None:
        """Tenants whose last tag the virtual clock has passed no longer need remembering (bounded memory)."""
        if len(self._last_finish) > 4 * (self._live + 16):
            virtual = self._virtual
            self._last_finish = {t: f for t, f in self._last_finish.items() if f > virtual}


class QueueStage:
    name = "queue"

    def __init__(self, gateway: Gateway, limits: QueueLimits | None) -> None:
        self.gateway = gateway
        self.limits = limits  # None: only hold requests for a pool with no endpoint (with default limits)

    def run(self, ctx: RequestContext) -> Verdict:
        target = ctx.target
        assert target is not None
        state = target.pool.state
        if state.active < state.slots and not state.queue:
            return CONTINUE  # room, and nobody waiting ahead
        if not state.slots:
            self.gateway.metrics.no_endpoint_request(state.name)  # demand for a pool scaled to zero
        limits = self.limits or state.queue_limits
        if limits is None:
            if state.slots:
                return CONTINUE  # no queue configured: only a pool with no endpoint holds requests
            limits = _DEFAULT_LIMITS
        queue = state.queue
        if queue is None:
            queue = state.queue = FairQueue()
        if len(queue) >= limits.max_queued:
            self.gateway.metrics.queue_rejected(state.name, "full")
            raise GatewayError(429, f"the queue of pool {state.name!r} is full; retry shortly",
                               type_="rate_limit_error", code="queue_full")
        waiter = Waiter(ctx, _tenant(ctx, limits), _priority(ctx, limits))
        cost = (ctx.prompt_tokens + (asked_output(ctx.payload) or DEFAULT_OUTPUT_COST)) / \
            max(0.01, limits.tier_weights.get(ctx.tier or "", 1.0))
        queue.push(waiter, cost)
        waiter.timer = asyncio.get_running_loop().call_later(limits.max_wait_seconds, self._expire, state, waiter)
        self.gateway.metrics.queue_depth(state.name, len(queue))
        return ctx.suspend(lambda: self._cancel(state, waiter))

    def _expire(self, state: PoolState, waiter: Waiter) -> None:
        if waiter.done or state.queue is None:
            return
        state.queue.remove(waiter)
        self.gateway.metrics.queue_rejected(state.name, "timeout")
        self.gateway.metrics.queue_depth(state.name, len(state.queue))
        waited = time.perf_counter() - waiter.enqueued_at
        waiter.ctx.fail(GatewayError(503, f"no capacity in pool {state.name!r} after waiting {waited:.1f}s",
                                     type_="api_error", code="queue_timeout", retry_after=2))

    def _cancel(self, state: PoolState, waiter: Waiter) -> None:
        if state.queue is not None:
            state.queue.remove(waiter)
            self.gateway.metrics.queue_depth(state.name, len(state.queue))
        if waiter.timer is not None:
            waiter.timer.cancel()


def pump(gateway: Gateway, state: PoolState) -> None:
    """Let waiting requests in while the pool has room (after a request ends, or endpoints appear).

    Each resumed request starts its upstream call synchronously, which takes its slot
    before the next one is considered.
    """
    queue = state.queue
    while queue and state.active < state.slots:
        waiter = queue.pop()
        if waiter is None:
            break
        if waiter.timer is not None:
            waiter.timer.cancel()
        gateway.metrics.queue_wait(state.name, time.perf_counter() - waiter.enqueued_at)
        ctx = waiter.ctx
        if ctx.table is not gateway.table and gateway.table is not None:
            ctx.retarget(gateway.table)  # the config changed while it waited (endpoints appeared)
        before = state.active
        ctx.resume()
        if state.active == before and not ctx.finished:
            break  # it did not take a slot here (re-routed elsewhere): stop rather than spin
    gateway.metrics.queue_depth(state.name, len(queue) if queue else 0)


def _tenant(ctx: RequestContext, limits: QueueLimits) -> str:
    if ctx.principal is not None:
        return ctx.tenant
    named = ctx.request.header(limits.tenant_header.lower().encode())
    return named.decode("latin-1")[:128] if named else ctx.tenant


def _priority(ctx: RequestContext, limits: QueueLimits) -> int:
    value = ctx.request.header(limits.priority_header.lower().encode())
    if not value:
        return 0
    try:
        return max(-PRIORITY_BOUND, min(PRIORITY_BOUND, int(value)))
    except ValueError:
        return 0


def _default_limits() -> QueueLimits:
    from ..api.route import QueueLimits

    return QueueLimits()


_DEFAULT_LIMITS = _default_limits()


def queue_stage(gateway: Gateway, config: GatewayConfig, policy: NamedRoutePolicy | None) -> QueueStage:
    """Every route gets the stage: it costs two comparisons while the pool has room, and it is what holds
    requests for a pool scaled to zero. Queuing for saturation needs ``queue`` on the route or its pools."""
    return QueueStage(gateway, policy.queue if policy is not None else None)
