"""The routing table: a config snapshot compiled into lookups the hot path can afford.

Built once per config swap. Resolving a request is a dict lookup plus, when route
policies exist, a scan of their rules in priority order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson

from ..api.route import RouteRule
from ..api.snapshot import GatewayConfig, NamedRoutePolicy, PoolConfig
from .balancer import LeastRequestPicker, Picker
from .endpoints import Endpoint

DEFAULT_ROUTE = "default"


@dataclass(slots=True)
class PoolRuntime:
    name: str
    endpoints: list[Endpoint]
    picker: Picker
    protocol: str
    # requested name or alias -> (canonical model name, name the engine serves)
    models: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Target:
    """Where one request goes and under which rules."""

    pool: PoolRuntime
    model: str  # canonical name, used as the metrics label
    upstream_model: str
    route: str
    fallbacks: tuple[PoolRuntime, ...]
    timeout: float
    connect_timeout: float
    attempts: int
    retry_on_5xx: bool


@dataclass(slots=True)
class _CompiledRule:
    policy: NamedRoutePolicy
    rule: RouteRule
    models: frozenset[str]
    headers: tuple[tuple[str, str], ...]
    backends: list[tuple[PoolRuntime, int, str | None]]
    fallbacks: tuple[PoolRuntime, ...]


class RoutingTable:
    def __init__(self, config: GatewayConfig, endpoint_for: Callable[[str], Endpoint]) -> None:
        self.config = config
        server = config.server
        self.default_timeout = server.timeouts.request_seconds
        self.connect_timeout = server.timeouts.connect_seconds
        self.failover_attempts = server.retries.attempts
        self.pools: dict[str, PoolRuntime] = {p.name: self._build_pool(p, endpoint_for) for p in config.pools}
        self.by_model: dict[str, list[PoolRuntime]] = {}
        for pool in self.pools.values():
            for requested in pool.models:
                self.by_model.setdefault(requested, []).append(pool)
        policies = sorted(config.routes, key=lambda p: -p.priority)
        self.rules = [self._compile_rule(policy, rule) for policy in policies for rule in policy.rules]
        self.needs_headers = any(rule.headers for rule in self.rules)
        self.models_body = orjson.dumps({
            "object": "list",
            "data": [{"id": name, "object": "model", "created": 0, "owned_by": "tokenway"}
                     for name in sorted(self.by_model)],
        })

    @staticmethod
    def _build_pool(config: PoolConfig, endpoint_for: Callable[[str], Endpoint]) -> PoolRuntime:
        endpoints = []
        for ep_config in config.endpoints:
            endpoint = endpoint_for(ep_config.url)
            endpoint.configure(ep_config, config.protocol)
            endpoints.append(endpoint)
        models: dict[str, tuple[str, str]] = {}
        for model in config.models:
            upstream = model.upstream_name or model.name
            for requested in (model.name, *model.aliases):
                models[requested] = (model.name, upstream)
        return PoolRuntime(config.name, endpoints, LeastRequestPicker(), config.protocol, models)

    def _compile_rule(self, policy: NamedRoutePolicy, rule: RouteRule) -> _CompiledRule:
        return _CompiledRule(
            policy=policy,
            rule=rule,
            models=frozenset(rule.match.models),
            headers=tuple((k.lower(), v) for k, v in rule.match.headers.items()),
            backends=[(self.pools[b.pool], b.weight, b.model) for b in rule.backends if b.weight > 0],
            fallbacks=tuple(self.pools[name] for name in rule.fallbacks),
        )

    def resolve(self, model: str, headers: Mapping[str, str] | None) -> Target | None:
        for compiled in self.rules:
            if compiled.models and model not in compiled.models:
                continue
            if compiled.headers and (headers is None or any(headers.get(k) != v for k, v in compiled.headers)):
                continue
            return self._target_for_rule(compiled, model)
        pools = self.by_model.get(model)
        if not pools:
            return None
        primary = pools[0]
        canonical, upstream = primary.models[model]
        return Target(primary, canonical, upstream, DEFAULT_ROUTE, tuple(pools[1:]), self.default_timeout,
                      self.connect_timeout, self.failover_attempts, True)

    def _target_for_rule(self, compiled: _CompiledRule, model: str) -> Target | None:
        backends = compiled.backends
        if not backends:
            return None
        if len(backends) == 1:
            pool, _, rewrite = backends[0]
        else:
            pool, _, rewrite = random.choices(backends, weights=[w for _, w, _ in backends])[0]
        canonical, upstream = pool.models.get(model, (model, model))
        if rewrite:
            canonical, upstream = pool.models.get(rewrite, (rewrite, rewrite))
        policy = compiled.policy
        retries = policy.retries
        return Target(
            pool, canonical, upstream, compiled.rule.name, compiled.fallbacks,
            policy.timeouts.request_seconds, policy.timeouts.connect_seconds,
            retries.attempts, "5xx" in retries.retry_on,
        )
