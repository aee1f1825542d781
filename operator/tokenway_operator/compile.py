"""Pools, ready endpoints and policies of one namespace -> ONE versioned GatewayConfig (pure).

The version is a hash of the content, so recompiling unchanged inputs (a resync, an
operator restart) yields the same snapshot and no write.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence

import orjson
from tokenway_gateway.api import (
    CachePolicySpec,
    EndpointConfig,
    GatewayConfig,
    InferenceGatewaySpec,
    InferencePoolSpec,
    NamedCachePolicy,
    NamedRoutePolicy,
    PoolConfig,
    RoutePolicySpec,
)
from tokenway_gateway.api.cache import EmbeddingSource
from tokenway_gateway.api.pool import DEFAULT_REGION
from tokenway_gateway.api.route import LoadBalancing
from tokenway_gateway.api.snapshot import AuthSettings, LimitsSettings, ServerSettings, TelemetrySettings

from .meta import api_key_env, cache_redis_env

log = logging.getLogger("tokenway.operator")


def missing_pools(spec: RoutePolicySpec, pool_names: set[str]) -> list[str]:
    """Pools a route policy names that do not exist (such a policy is left out of the snapshot)."""
    wanted = [b.pool for rule in spec.rules for b in rule.backends] + [p for r in spec.rules for p in r.fallbacks]
    return sorted({p for p in wanted if p not in pool_names})


def pool_config(name: str, spec: InferencePoolSpec, ready: Sequence[EndpointConfig]) -> PoolConfig:
    if spec.engine == "external":
        endpoints = [
            EndpointConfig(
                url=ep.url,
                weight=ep.weight,
                api_key_env=api_key_env(name, i) if ep.api_key_secret_ref else None,
                name=f"{name}-{i}",
            )
            for i, ep in enumerate(spec.endpoints)
        ]
    else:
        endpoints = [ep.model_copy(update={"weight": spec.capacity.weight}) for ep in ready]
    return PoolConfig(
        name=name,
        models=spec.models,
        region=spec.region,
        protocol=spec.protocol,
        capacity=spec.capacity,
        load_balancing=pool_load_balancing(spec),
        outlier_detection=spec.outlier_detection,
        queue=spec.queue,
        health_check=spec.health_check,
        external=spec.engine == "external",
        endpoints=endpoints,
    )


def pool_load_balancing(spec: InferencePoolSpec) -> LoadBalancing:
    """llm-aware picking is the default for pools of engines Tokenway can read (vLLM, SGLang metrics);
    an algorithm the user chose is kept, and external endpoints default to least-request."""
    balancing = spec.load_balancing
    if spec.engine == "external" or "algorithm" in balancing.model_fields_set:
        return balancing
    return balancing.model_copy(update={"algorithm": "llm-aware"})


def gateway_limits(gateway: InferenceGatewaySpec) -> LimitsSettings:
    """Rate-limit counters in the gateway's Redis when it has one, shared by all replicas; otherwise in
    each replica's memory, each enforcing its share (limit / replicas) of every limit."""
    replicas = max(1, gateway.replicas)
    if gateway.redis_url:
        return LimitsSettings(backend="redis", redis_url=gateway.redis_url, replicas=replicas)
    return LimitsSettings(replicas=replicas)


def gateway_embedding(gateway: InferenceGatewaySpec, pools: set[str]) -> EmbeddingSource:
    """The gateway's embedding source; one naming a pool that does not exist (yet) compiles to the local
    model, so the snapshot stays valid (the gateway rejects unknown pools) and intents keep routing."""
    source = gateway.embedding
    if source.kind == "pool" and source.pool not in pools:
        log.warning("InferenceGateway embedding names pool %r, which does not exist: the gateway embeds locally",
                    source.pool)
        return EmbeddingSource()
    return source


def content_version(config: GatewayConfig) -> str:
    body = config.model_dump(mode="json", by_alias=True, exclude={"version"})
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return digest[:16]


def compile_snapshot(
    pools: Mapping[str, InferencePoolSpec],
    endpoints: Mapping[str, Sequence[EndpointConfig]],
    routes: Mapping[str, RoutePolicySpec],
    caches: Mapping[str, CachePolicySpec],
    gateway: InferenceGatewaySpec | None = None,
) -> GatewayConfig:
    """The gateway's whole config; route policies naming unknown pools are left out."""
    pool_configs = [pool_config(name, pools[name], endpoints.get(name, ())) for name in sorted(pools)]
    names = set(pools)
    ordered_routes = sorted(routes.items(), key=lambda item: (-item[1].priority, item[0]))
    named_routes = [
        NamedRoutePolicy(name=name, **_fields(spec)) for name, spec in ordered_routes if not missing_pools(spec, names)
    ]
    named_caches = [NamedCachePolicy(name=name, redis_url_env=cache_redis_env(name) if caches[name].redis_secret_ref
                                     else None, **_fields(caches[name])) for name in sorted(caches)]
    server = ServerSettings()
    telemetry = TelemetrySettings()
    limits = LimitsSettings()
    auth = None
    embedding = EmbeddingSource()
    if gateway is not None:
        server = ServerSettings(drain_seconds=gateway.drain_seconds)
        telemetry = TelemetrySettings(otlp_endpoint=gateway.otlp_endpoint)
        limits = gateway_limits(gateway)
        if gateway.api_key_secret_ref is not None:
            auth = AuthSettings()  # keys come from the Secret the gateway watches; none here: never open
        embedding = gateway_embedding(gateway, names)
    config = GatewayConfig(
        region=gateway.region if gateway is not None else DEFAULT_REGION,
        server=server, telemetry=telemetry, pools=pool_configs, routes=named_routes, caches=named_caches,
        auth=auth, limits=limits, embedding=embedding,
    )
    config.version = content_version(config)
    return config


def _fields(spec: RoutePolicySpec | CachePolicySpec) -> dict[str, object]:
    # Field by field (not a dump): the models stay models, no round trip through JSON.
    return {name: getattr(spec, name) for name in type(spec).model_fields}


def render_config(config: GatewayConfig) -> str:
    """The text the ConfigMap carries (what ConfigStore.apply_text parses): indented JSON, which is YAML.

    Fields at their defaults are left out (the gateway fills them in again), so the snapshot
    stays far below the 1 MiB ConfigMap limit with thousands of pools; and orjson writes a
    200-pool snapshot in about a millisecond, where a YAML dumper needs over a hundred."""
    body = config.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n"
