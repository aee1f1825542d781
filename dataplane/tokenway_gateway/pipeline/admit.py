"""The admit stage: token rate limits, reserved at admission and settled to the real usage.

On a route whose policy has ``rateLimits``, each request reserves its estimated prompt
tokens (with a margin) plus the most output it may produce: its ``max_tokens`` (or
``max_completion_tokens``) as the route's output caps leave it, else
:data:`DEFAULT_OUTPUT_TOKENS`, which is then also sent upstream as ``max_tokens`` so a
request can never use more than it reserved (a stream cannot overshoot a limit). A
settle hook charges the real ``usage`` when the request ends (about a token per
streamed chunk when upstream gave none); a request that failed before producing anything
releases its reservation (5xx, an upstream 429, the client gone), and one refused as
invalid (the guard's 400, an upstream 4xx) keeps its request but no tokens.

Counters are per route policy and tenant (all of a tenant's keys share them) with the
limits of the caller's tier. With ``limits.backend: redis`` every replica shares them; with
the memory backend and ``limits.replicas`` N (the operator sets it from the InferenceGateway),
each replica enforces 1/N of every limit. Unauthenticated requests (a gateway without keys) are
tenant ``anonymous`` in tier ``default``: a ``default`` entry in ``rateLimits`` is then one
budget shared by every caller of the route.

The memory backend answers synchronously (a method call). The Redis backend suspends the
request until its reply arrives (callback, no task); a Redis that is down or slower than
``limits.timeoutMs`` costs at most that timeout and then follows ``onRedisDown``.

Allowed responses carry OpenAI's ``x-ratelimit-*`` headers with what remains; refusals are
429 with ``Retry-After`` (and ``retry-after-ms``, which the openai SDK reads first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..api.snapshot import GatewayConfig, LimitsSettings, NamedRoutePolicy
from ..limits import (
    Decision,
    Limits,
    MemoryLimiter,
    RedisLimiter,
    build_limiter,
    limiter_key,
    ratelimit_headers,
    refusal_error,
    tier_limits,
)
from ..limits.estimate import DEFAULT_PROMPT_MARGIN
from .chain import ANSWERED, CONTINUE, Verdict
from .output_caps import DEFAULT_TIER, NO_OUTPUT_PATHS, OutputCaps, asked_output

if TYPE_CHECKING:
    from ..observability.policy_metrics import PolicyMetrics
    from ..proxy.gateway import Gateway
    from .context import RequestContext

log = logging.getLogger("tokenway.limits")

DEFAULT_OUTPUT_TOKENS = 4096  # reserved (and sent as max_tokens) when neither the request nor the route caps output
OLD_LIMITER_GRACE_SECONDS = 30.0  # a replaced Redis limiter stays open this long for in-flight settles
PRUNE_SECONDS = 3600.0
# Besides 5xx: failures that are not the caller's doing (an upstream's 429, the client gone before any output).
RELEASED_STATUSES = frozenset((429, 499))

Limiter = MemoryLimiter | RedisLimiter


class LimiterHolder:
    """The gateway's limiter; survives config swaps while the snapshot's ``limits`` section is unchanged."""

    def __init__(self, metrics: PolicyMetrics | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # of in-memory limiters
        self.settings: LimitsSettings | None = None
        self.limiter: Limiter | None = None
        self._pending: tuple[LimitsSettings, Limiter] | None = None
        self._prune: asyncio.TimerHandle | None = None
        self.metrics = metrics

    def for_settings(self, settings: LimitsSettings) -> Limiter:
        """The limiter for a snapshot being built (possibly in a thread): the live one when its settings
        are unchanged, else one new limiter shared by the snapshot's routes (adopted at the swap)."""
        if self.limiter is not None and self.settings == settings:
            return self.limiter
        pending = self._pending
        if pending is not None and pending[0] == settings:
            return pending[1]
        limiter = MemoryLimiter(self.clock) if settings.backend == "memory" else build_limiter(settings)
        self._pending = (settings, limiter)
        return limiter

    def adopt(self, config: GatewayConfig) -> None:
        """After a swap (on the loop): the snapshot's limiter becomes the live one; a replaced one closes."""
        settings = config.limits
        if self.settings == settings and self.limiter is not None:
            return
        pending, self._pending = self._pending, None
        old = self.limiter
        if pending is not None and pending[0] == settings:
            self.settings, self.limiter = pending
        else:
            self.settings, self.limiter = None, None  # no route limits: built when a snapshot needs one
        if old is not None and old is not self.limiter:
            _close_later(old)
        self._watch()

    def _watch(self) -> None:
        limiter, metrics = self.limiter, self.metrics
        if metrics is not None:
            if isinstance(limiter, RedisLimiter):
                metrics.limiter_backend = "redis"
                metrics.limiter_up = lambda: limiter.up
                metrics.limiter_stats = lambda: dict(limiter.stats)
            elif limiter is not None:
                metrics.limiter_backend = "memory"
                metrics.limiter_up = lambda: True
                metrics.limiter_stats = None
        if limiter is not None and self._prune is None:
            with contextlib.suppress(RuntimeError):  # no loop: tests building gateways synchronously
                self._prune = asyncio.get_running_loop().call_later(PRUNE_SECONDS, self._prune_now)

    def _prune_now(self) -> None:
        self._prune = None
        limiter = self.limiter
        memory = limiter.local if isinstance(limiter, RedisLimiter) else limiter
        if memory is not None:
            memory.prune()
        self._watch()

    async def aclose(self) -> None:
        if self._prune is not None:
            self._prune.cancel()
            self._prune = None
        for limiter in (self.limiter, self._pending[1] if self._pending else None):
            if isinstance(limiter, RedisLimiter):
                await limiter.aclose()


def _close_later(limiter: Limiter) -> None:
    if not isinstance(limiter, RedisLimiter):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.call_later(OLD_LIMITER_GRACE_SECONDS, lambda: loop.create_task(limiter.aclose()))


class _Settle:
    """The settle hook of one admitted request."""

    __slots__ = ("decision", "prompt", "released", "settled")

    def __init__(self, decision: Decision, prompt: int, settled: Any, released: Any) -> None:
        self.decision = decision
        self.prompt = prompt
        self.settled = settled
        self.released = released

    def __call__(self, ctx: RequestContext) -> None:
        decision = self.decision
        usage = ctx.usage
        if usage is not None:
            total = usage.get("total_tokens")
            if not isinstance(total, int):
                total = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
            if isinstance(total, int) and total > 0:
                decision.settle(total)
                if self.settled is not None:
                    self.settled.value += total
                return
        call = ctx.call
        if ctx.status == 200 or (call is not None and call.chunks):
            # Output was produced but its usage is unknown: about a token per streamed chunk, at most the reservation.
            used = decision.tokens
            if call is not None and call.chunks:
                used = min(used, self.prompt + call.chunks)
            decision.settle(used)
            if self.settled is not None:
                self.settled.value += used
        elif ctx.status >= 500 or ctx.status in RELEASED_STATUSES:
            decision.release()  # not served, not the caller's doing: give the request and its tokens back
            if self.released is not None:
                self.released.value += 1
        else:
            decision.settle(0)  # refused as invalid (by the guard or upstream): the request counts, no tokens


class _Tier:
    """One tier's limits on a route, with its metric counters looked up once."""

    __slots__ = ("allowed", "limits", "name", "released", "reserved", "settled", "tokens")

    def __init__(self, route: str, name: str, limits: Limits, metrics: PolicyMetrics | None) -> None:
        self.name = name
        self.limits = limits
        self.tokens = limits.tokens_per_minute is not None or limits.tokens_per_day is not None
        if metrics is None:
            self.allowed = self.reserved = self.settled = self.released = None
        else:
            self.allowed = metrics.ratelimit.get(route, name, "allowed")
            self.reserved = metrics.reserved.get(route, name)
            self.settled = metrics.settled.get(route, name)
            self.released = metrics.released.get(route, name)


class _Waiting:
    """A request suspended until the Redis limiter answers."""

    __slots__ = ("ctx", "prompt", "stage", "tier")

    def __init__(self, stage: AdmitStage, ctx: RequestContext, tier: _Tier, prompt: int) -> None:
        self.stage = stage
        self.ctx = ctx
        self.tier = tier
        self.prompt = prompt

    def __call__(self, decision: Decision) -> None:
        ctx = self.ctx
        if ctx.finished:  # the client left meanwhile
            decision.release()
            return
        if self.stage.decided(ctx, decision, self.tier, self.prompt):
            ctx.resume()


class AdmitStage:
    name = "admit"

    def __init__(self, route: str, limiter: Limiter, limits: dict[str, Limits], caps: OutputCaps | None,
                 metrics: PolicyMetrics | None) -> None:
        self.route = route
        self.limiter = limiter
        self.memory = limiter if isinstance(limiter, MemoryLimiter) else None  # answers synchronously
        self.limits = limits
        self.tiers = {name: _Tier(route, name, found, metrics) for name, found in limits.items()}
        self.caps = caps
        self.keys: dict[str, str] = {}
        self.metrics = metrics

    def run(self, ctx: RequestContext) -> Verdict:
        tier = self.tiers.get(ctx.tier or DEFAULT_TIER)
        if tier is None:
            return CONTINUE  # no limits for this tier
        payload = ctx.payload
        prompt = ctx.prompt_tokens
        tokens = math.ceil(prompt * DEFAULT_PROMPT_MARGIN)
        if ctx.path not in NO_OUTPUT_PATHS:
            output = self.caps.limit(payload, ctx.tier) if self.caps is not None else asked_output(payload)
            if output is None:
                output = DEFAULT_OUTPUT_TOKENS
                if tier.tokens:
                    payload["max_tokens"] = output  # what was reserved is all it may use
                    ctx.dirty = True
            choices = payload.get("n")
            if choices.__class__ is int and choices > 1:
                output *= choices
            tokens += output
        tenant = ctx.tenant
        key = self.keys.get(tenant)
        if key is None:
            key = self.keys[tenant] = limiter_key(self.route, tenant)
        memory = self.memory
        if memory is not None:
            decision = memory.reserve(key, tier.limits, tokens)
        else:
            found = self.limiter.reserve_cb(key, tier.limits, tokens, _Waiting(self, ctx, tier, prompt))
            if found is None:
                return ctx.suspend()  # the callback ends the suspension (a client gone meanwhile: released)
            decision = found
        return CONTINUE if self.decided(ctx, decision, tier, prompt) else ANSWERED

    def decided(self, ctx: RequestContext, decision: Decision, tier: _Tier, prompt: int) -> bool:
        """Apply a decision: True to go on; False when the request was refused (answered with 429)."""
        headers = ratelimit_headers(decision)
        if headers:
            ctx.extra_headers += headers
        if decision.allowed:
            if decision.pending:
                ctx.on_settle(_Settle(decision, prompt, tier.settled, tier.released))
            if tier.allowed is not None:
                if decision.local or (not decision.pending and decision.limit_requests is None
                                      and decision.limit_tokens is None):
                    self.metrics.ratelimit.inc(self.route, tier.name, "allowed_fallback")  # type: ignore[union-attr]
                else:
                    tier.allowed.value += 1
                tier.reserved.value += decision.tokens  # type: ignore[union-attr]
            return True
        if self.metrics is not None:
            self.metrics.ratelimit.inc(self.route, tier.name, f"refused_{decision.refused_by}")
        error = refusal_error(decision)
        if decision.retry_after is None:
            ctx.extra_headers += b"x-should-retry: false\r\n"  # waiting cannot cure it: the request is too large
        else:
            error.retry_after = max(1, math.ceil(decision.retry_after))
        ctx.fail(error)
        return False


def admit_stage(gateway: Gateway, config: GatewayConfig, policy: NamedRoutePolicy | None) -> AdmitStage | None:
    if policy is None or not policy.rate_limits:
        return None
    limits = {tier: found for tier, found in tier_limits(policy).items() if not found.empty}
    if not limits:
        return None
    settings = config.limits
    if settings.backend == "memory" and settings.replicas > 1:
        # Counters in each replica's memory: each enforces its share, so N replicas never admit N times a limit.
        limits = {tier: found.scaled(settings.replicas) for tier, found in limits.items()}
    policies = gateway.policies
    limiter = policies.limiters.for_settings(config.limits)
    return AdmitStage(policy.name, limiter, limits, OutputCaps.from_policy(policy), policies.metrics)
