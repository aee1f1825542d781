"""The routing table: a config snapshot compiled into lookups the hot path can afford.

Two phases, so a snapshot is validated whole before anything live changes:

1. :meth:`RoutingTable.build` (pure, may run in a thread): checks every endpoint URL,
   compiles rules into an index and each route's stage chain, precomputes targets.
   Anything that can fail fails here, and the running table is untouched.
2. :meth:`RoutingTable.bind` (on the event loop, at the swap): attaches the live
   :class:`Endpoint` objects (their load and health survive swaps) and the pools'
   pickers (their state survives too), then the gateway swaps the table in.

Which settings win: a RoutePolicy's ``loadBalancing``, ``outlierDetection`` and ``queue``
override the pool's own for the requests that policy routes; requests that match no
rule use the pool's settings, and ``server.timeouts`` / ``server.retries``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import orjson

from ..api.pool import Capacity
from ..api.route import ActiveHealthCheck, Hedging, LoadBalancing, OutlierDetection, QueueLimits, Retries, Timeouts
from ..api.snapshot import GatewayConfig, NamedRoutePolicy, PoolConfig
from .endpoints import Endpoint, EndpointSpec
from .poolstate import PoolState, RouteState
from .rules import CompiledRule, RuleIndex, cumulative_weights
from .spillover import Spillover

if TYPE_CHECKING:
    from ..observability.metrics import RouteMetrics
    from ..picking.base import AttemptOutcome, PickRequest
    from ..pipeline.chain import Stage
    from ..pipeline.context import RequestContext

DEFAULT_ROUTE = "default"
# Retry kinds as the config names them, by what went wrong.
RETRY_CONNECT, RETRY_RESET, RETRY_5XX, RETRY_429 = "connect-failure", "reset", "5xx", "429"
RETRY_TIMEOUT = "timeout"  # not a retryOn value: retried when retryOn has reset or 5xx


class EndpointPicker(Protocol):
    needs_prefix: bool
    key: tuple[str, ...]

    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None: ...

    def observe(self, endpoint: Endpoint, outcome: AttemptOutcome) -> None: ...


class PickerRegistry(Protocol):
    def picker(self, pool: str, lb: LoadBalancing, outlier: OutlierDetection | None,
               endpoints: list[Endpoint], health: ActiveHealthCheck | None = None) -> EndpointPicker: ...


# Builds a route's stage chain: (the snapshot, the route's policy or None for unmatched requests).
ChainBuilder = Callable[[GatewayConfig, NamedRoutePolicy | None], "tuple[Stage, ...]"]


@dataclass(slots=True, eq=False)
class PoolRuntime:
    name: str
    protocol: str
    region: str
    specs: tuple[EndpointSpec, ...]
    # requested name or alias -> (canonical model name, name the engine serves)
    models: dict[str, tuple[str, str]]
    load_balancing: LoadBalancing
    outlier: OutlierDetection | None
    queue: QueueLimits | None
    capacity: Capacity
    external: bool
    health_check: ActiveHealthCheck | None
    endpoints: list[Endpoint] = field(default_factory=list)  # bound at the swap
    picker: EndpointPicker | None = None  # bound at the swap
    state: PoolState = field(default_factory=lambda: PoolState(""))  # the live one is bound at the swap


@dataclass(slots=True, eq=False)
class Target:
    """Where one request goes and under which rules."""

    pool: PoolRuntime
    model: str  # canonical name, used as the metrics label
    upstream_model: str
    route: str
    fallbacks: tuple[PoolRuntime, ...]
    timeouts: Timeouts
    attempts: int
    retry_on: frozenset[str]
    chain: tuple[Stage, ...]
    policy: NamedRoutePolicy | None
    load_balancing: LoadBalancing | None  # the route's override, if any
    outlier: OutlierDetection | None
    queue: QueueLimits | None
    # The engine's model name in pool, then in each fallback (pools may serve a model under different names).
    upstream_models: tuple[str, ...] = ()
    hedging: Hedging | None = None
    retry_budget_percent: float = 100.0
    # Region priority level of pool, then of each fallback (regionPreference), and its overprovisioning factor.
    levels: tuple[int, ...] = ()
    overprovisioning: float = 1.4
    pickers: tuple[EndpointPicker, ...] = ()  # for pool, then each fallback; bound at the swap
    route_state: RouteState = field(default_factory=RouteState)  # the live one is bound at the swap
    spillover: Spillover | None = None  # bound at the swap, with levels
    orders: tuple[tuple[int, ...], ...] = ((0,),)  # per starting level: pool indexes in the order tried
    metrics: RouteMetrics | None = None  # the figures of (model, pool, route), looked up on first use

    @property
    def timeout(self) -> float:
        return self.timeouts.request_seconds

    @property
    def connect_timeout(self) -> float:
        return self.timeouts.connect_seconds


@dataclass(slots=True)
class _RouteSettings:
    """What a policy (or the server defaults) contributes to each of its targets."""

    name: str
    policy: NamedRoutePolicy | None
    timeouts: Timeouts
    retries: Retries
    chain: tuple[Stage, ...]


class RoutingTable:
    def __init__(self) -> None:
        self.config: GatewayConfig
        self.pools: dict[str, PoolRuntime] = {}
        self.by_model: dict[str, list[PoolRuntime]] = {}
        self.rules: list[CompiledRule] = []
        self.index: RuleIndex
        self.defaults: _RouteSettings
        self.default_targets: dict[str, Target] = {}
        self.models_body = b""
        self.entry: tuple[Stage, ...] = ()  # the entry chain of this snapshot (set by the gateway)
        self._settings: dict[int, _RouteSettings] = {}
        self._registry: PickerRegistry | None = None
        self._route_state_for: Callable[[str], RouteState] = lambda _: RouteState()

    # ---- phase 1: build (pure) -------------------------------------------------------
    @classmethod
    def build(cls, config: GatewayConfig, chain_for: ChainBuilder) -> RoutingTable:
        """Compile ``config``; raises ValueError (with the reason) when any part cannot be built."""
        table = cls()
        table.config = config
        table.pools = {pool.name: _build_pool(pool) for pool in config.pools}
        for pool in table.pools.values():
            for requested in pool.models:
                table.by_model.setdefault(requested, []).append(pool)
        server = config.server
        table.defaults = _RouteSettings(DEFAULT_ROUTE, None, server.timeouts, server.retries, chain_for(config, None))
        policies = sorted(config.routes, key=lambda p: -p.priority)
        order = 0
        for policy in policies:
            settings = _RouteSettings(policy.name, policy, policy.timeouts, policy.retries, chain_for(config, policy))
            for rule_spec in policy.rules:
                compiled = CompiledRule.compile(order, policy, rule_spec)
                table._settings[id(compiled)] = settings
                table.rules.append(compiled)
                order += 1
        table.index = RuleIndex(table.rules)
        for model, pools in table.by_model.items():
            table.default_targets[model] = table._default_target(model, pools)
        for rule in table.rules:
            for model in rule.models or table.by_model.keys():
                rule.targets[model] = table._rule_targets(rule, model)
        served = set(table.by_model) | table.index.named_models
        table.models_body = orjson.dumps({
            "object": "list",
            "data": [{"id": name, "object": "model", "created": 0, "owned_by": "tokenway"} for name in sorted(served)],
        })
        return table

    def _default_target(self, model: str, pools: list[PoolRuntime]) -> Target:
        primary = pools[0]
        canonical, upstream = primary.models[model]
        settings = self.defaults
        return Target(primary, canonical, upstream, DEFAULT_ROUTE, tuple(pools[1:]), settings.timeouts,
                      settings.retries.attempts, frozenset(settings.retries.retry_on), settings.chain, None, None,
                      primary.outlier, primary.queue, tuple(pool.models[model][1] for pool in pools),
                      retry_budget_percent=settings.retries.budget_percent)

    def _rule_targets(self, rule: CompiledRule, model: str) -> tuple[tuple[Target, ...], tuple[int, ...]]:
        settings = self._settings[id(rule)]
        policy = rule.policy
        fallbacks = tuple(self.pools[name] for name in rule.rule.fallbacks)
        if policy.region_preference is not None:
            target = self._region_target(rule, settings, model)
            return (target,), (1,)
        targets, weights = [], []
        for backend in rule.rule.backends:
            if backend.weight <= 0:
                continue
            pool = self.pools[backend.pool]
            wanted = backend.model or model
            targets.append(self._target(rule, settings, pool, fallbacks, wanted))
            weights.append(backend.weight)
        return tuple(targets), cumulative_weights(weights)

    def _target(self, rule: CompiledRule, settings: _RouteSettings, pool: PoolRuntime,
                fallbacks: tuple[PoolRuntime, ...], wanted: str, levels: tuple[int, ...] = ()) -> Target:
        policy = rule.policy
        canonical, upstream = pool.models.get(wanted, (wanted, wanted))
        upstream_models = (upstream, *(p.models.get(wanted, (wanted, wanted))[1] for p in fallbacks))
        target = Target(pool, canonical, upstream, rule.name, fallbacks, settings.timeouts,
                        settings.retries.attempts, frozenset(settings.retries.retry_on), settings.chain, policy,
                        policy.load_balancing, policy.outlier_detection or pool.outlier,
                        policy.queue or pool.queue, upstream_models, policy.hedging,
                        settings.retries.budget_percent, levels,
                        policy.region_preference.overprovisioning_factor if policy.region_preference else 1.4)
        if self._registry is not None:  # built lazily after the swap
            self._bind_target(target)
        return target

    def _region_target(self, rule: CompiledRule, settings: _RouteSettings, model: str) -> Target:
        """Backends and fallbacks ordered in region priority levels: the gateway's region, the preferred
        regions in order, other regions, then external pools. Backend weights do not apply here."""
        preference = rule.policy.region_preference
        assert preference is not None
        wanted = {b.pool: b.model for b in rule.rule.backends if b.weight > 0}
        names = list(dict.fromkeys([*wanted, *rule.rule.fallbacks]))
        order = [self.config.region, *(r for r in preference.preferred if r != self.config.region)]

        def level(pool: PoolRuntime) -> int:
            if pool.external:
                return len(order) + 1
            return order.index(pool.region) if pool.region in order else len(order)

        pools = sorted((self.pools[name] for name in names), key=level)  # stable: backend order within a level
        ranks = sorted({level(pool) for pool in pools})
        levels = tuple(ranks.index(level(pool)) for pool in pools)
        return self._target(rule, settings, pools[0], tuple(pools[1:]), wanted.get(pools[0].name) or model, levels)

    # ---- phase 2: bind (on the loop, at the swap) ------------------------------------------
    def bind(self, endpoint_for: Callable[[EndpointSpec], Endpoint], registry: PickerRegistry,
             pool_state_for: Callable[[str], PoolState], route_state_for: Callable[[str], RouteState]) -> None:
        """Attach live endpoints, pickers and pool/route state. Touches live state only through the callables;
        the caller then updates the pool states (their endpoints and slots) to this table."""
        self._registry = registry
        self._route_state_for = route_state_for
        for pool in self.pools.values():
            pool.endpoints = [endpoint_for(spec) for spec in pool.specs]
            pool.picker = registry.picker(pool.name, pool.load_balancing, pool.outlier, pool.endpoints,
                                          pool.health_check)
            pool.state = pool_state_for(pool.name)
        for target in self.default_targets.values():
            self._bind_target(target)
        for rule in self.rules:
            for targets, _ in rule.targets.values():
                for target in targets:
                    self._bind_target(target)

    def _bind_target(self, target: Target) -> None:
        registry = self._registry
        assert registry is not None
        target.route_state = self._route_state_for(target.route)
        if target.levels:
            pools = (target.pool, *target.fallbacks)
            count = max(target.levels) + 1
            levels = [[p.state for p, lv in zip(pools, target.levels, strict=True) if lv == index]
                      for index in range(count)]
            target.spillover = Spillover(levels, target.overprovisioning)
            # Starting at level L: its pools, the levels below it, then the ones above.
            target.orders = tuple(
                tuple(i for i, lv in enumerate(target.levels) if lv >= start)
                + tuple(i for i, lv in enumerate(target.levels) if lv < start)
                for start in range(count))
        else:
            target.orders = (tuple(range(1 + len(target.fallbacks))),)
        pickers = []
        outlier = target.policy.outlier_detection if target.policy is not None else None
        for pool in (target.pool, *target.fallbacks):
            if target.load_balancing is None and outlier is None:
                assert pool.picker is not None
                pickers.append(pool.picker)
            else:  # the policy overrides the pool's settings: a picker of its own (its state survives swaps too)
                pickers.append(registry.picker(pool.name, target.load_balancing or pool.load_balancing,
                                               outlier or pool.outlier, pool.endpoints, pool.health_check))
        target.pickers = tuple(pickers)

    # ---- per request -----------------------------------------------------------------------
    def resolve(self, ctx: RequestContext) -> Target | None:
        model = ctx.requested_model
        rule = self.index.first_match(ctx, model)
        if rule is not None:
            # Models no pool serves (a virtual "auto" a rule names) are cached too: the rule lists them.
            return rule.choose(model, self._rule_targets, model in self.by_model or model in rule.models)
        return self.default_targets.get(model)

    def picker_keys(self) -> set[tuple[str, ...]]:
        """The registry keys of every picker this table uses (the registry drops the others)."""
        keys: set[tuple[str, ...]] = set()
        for pool in self.pools.values():
            if pool.picker is not None:
                keys.add(pool.picker.key)
        for target in self.default_targets.values():
            keys.update(picker.key for picker in target.pickers)
        for rule in self.rules:
            for targets, _ in rule.targets.values():
                keys.update(picker.key for target in targets for picker in target.pickers)
        return keys

    def live_urls(self) -> set[str]:
        return {spec.url for pool in self.pools.values() for spec in pool.specs}


def _build_pool(config: PoolConfig) -> PoolRuntime:
    specs = tuple(EndpointSpec(ep, config.protocol) for ep in config.endpoints)
    models: dict[str, tuple[str, str]] = {}
    for model in config.models:
        upstream = model.upstream_name or model.name
        for requested in (model.name, *model.aliases):
            models[requested] = (model.name, upstream)
    return PoolRuntime(config.name, config.protocol, config.region, specs, models, config.load_balancing,
                       config.outlier_detection, config.queue, config.capacity, config.external, config.health_check)
