"""The gateway's config snapshot: what the operator compiles and the gateway loads.

A snapshot is validated whole before it replaces the running one, so every
cross-reference (route -> pool, model names) is checked here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .cache import CachePolicySpec, EmbeddingSource
from .common import NAME_PATTERN, ApiModel
from .pool import DEFAULT_REGION, PoolRouting
from .route import Retries, RoutePolicySpec, Timeouts

SNAPSHOT_KIND = "GatewayConfig"


class EndpointConfig(ApiModel):
    url: str = Field(pattern=r"^https?://", max_length=2048)
    weight: int = Field(default=1, ge=1, le=1000)
    api_key_env: str | None = Field(default=None, max_length=256, description="Env var holding the upstream API key.")
    name: str | None = Field(default=None, max_length=253, description="Pod or endpoint name, for logs and headers.")


class PoolConfig(PoolRouting):
    name: str = Field(min_length=1, max_length=253, pattern=NAME_PATTERN)
    endpoints: list[EndpointConfig] = Field(default_factory=list)
    external: bool = Field(
        default=False, description="Endpoints outside the cluster (other clusters, providers): the last region level."
    )


class NamedRoutePolicy(RoutePolicySpec):
    name: str = Field(min_length=1, max_length=253)


class NamedCachePolicy(CachePolicySpec):
    name: str = Field(min_length=1, max_length=253)
    redis_url_env: str | None = Field(
        default=None, max_length=256,
        description="Env var holding the Redis URL (the operator maps a redisSecretRef onto the gateway pod).",
    )


class Http2Settings(ApiModel):
    """Limits of client HTTP/2 connections (TLS by ALPN, and h2c on the plain port)."""

    max_concurrent_streams: int = Field(
        default=128, ge=1, le=10_000,
        description="Streams one client connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).")
    max_resets: int = Field(
        default=200, ge=1, le=1_000_000,
        description="Client resets of unfinished streams per resetWindowSeconds before the connection is closed "
                    "(the rapid-reset bound).")
    reset_window_seconds: float = Field(default=10.0, gt=0, le=3600,
                                        description="The window of the rapid-reset bound.")


class ServerSettings(ApiModel):
    """The listener's edge limits and the defaults of requests that match no RoutePolicy rule."""

    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024,
                                description="Largest request body accepted; bigger ones get 413.")
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024,
                                  description="Largest total size of a request's headers; bigger ones get 431.")
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600,
                                          description="A client must send a request's headers within this time.")
    idle_timeout_seconds: float = Field(default=75.0, gt=0, le=86400,
                                        description="Idle keep-alive client connections close after this time.")
    max_connections: int = Field(default=10_000, ge=1, le=1_000_000,
                                 description="Client connections served at once; more are refused with 503.")
    drain_seconds: float = Field(default=30.0, ge=0, le=3600,
                                 description="On SIGTERM, how long in-flight requests may take to finish.")
    max_idle_connections_per_endpoint: int = Field(
        default=256, ge=0, le=100_000, description="Idle keep-alive upstream connections kept per endpoint.")
    http2: Http2Settings = Field(default_factory=Http2Settings, description="Limits of client HTTP/2 connections.")
    timeouts: Timeouts = Field(default_factory=Timeouts,
                               description="Timeouts of requests that match no RoutePolicy rule.")
    retries: Retries = Field(default_factory=Retries,
                             description="Retries of requests that match no RoutePolicy rule.")


class TelemetrySettings(ApiModel):
    otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    service_name: str = "tokenway-gateway"


class ApiKeyEntry(ApiModel):
    """One API key, by digest: the plaintext never appears in config, logs, metrics or traces."""

    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="Hex SHA-256 of the key.")
    tenant: str = Field(min_length=1, max_length=253, description="Who the key belongs to; limits are per tenant.")
    tier: str = Field(default="default", min_length=1, max_length=63, description="Selects rateLimits and rules.")
    disabled: bool = Field(default=False, description="A disabled key is refused with 403.")

    @field_validator("sha256")
    @classmethod
    def _lower_hex(cls, value: str) -> str:
        return value.lower()


class AuthSettings(ApiModel):
    """When present, every request needs `Authorization: Bearer <key>` of a listed key."""

    keys: list[ApiKeyEntry] = Field(default_factory=list, max_length=1_000_000)

    @model_validator(mode="after")
    def _unique_digests(self) -> AuthSettings:
        if len({entry.sha256 for entry in self.keys}) != len(self.keys):
            raise ValueError("auth.keys: each sha256 may appear once")
        return self


class LimitsSettings(ApiModel):
    """Where rate-limit counters live: this process, or one Redis shared by all replicas."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str | None = Field(default=None, pattern=r"^rediss?://", max_length=2048)
    timeout_ms: float = Field(default=50.0, gt=0, le=10_000, description="Most time Redis may add to a request.")
    on_redis_down: Literal["allow", "deny", "local"] = Field(
        default="local", description="allow: fail open; deny: fail closed (429); local: limit / replicas here.")
    replicas: int = Field(default=1, ge=1, le=10_000, description="Gateway replicas sharing the limits.")

    @model_validator(mode="after")
    def _redis_needs_url(self) -> LimitsSettings:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("limits.backend redis needs limits.redisUrl")
        return self


class TlsSettings(ApiModel):
    """Client-facing TLS: a second listener (HTTP/2 and HTTP/1.1 by ALPN); changed files are reloaded live."""

    cert_file: str = Field(min_length=1, max_length=4096, description="PEM certificate chain (tls.crt).")
    key_file: str = Field(min_length=1, max_length=4096, description="PEM private key (tls.key).")
    client_ca_file: str | None = Field(default=None, min_length=1, max_length=4096,
                                       description="PEM CA bundle; when set, clients need a certificate it signed.")
    port: int = Field(default=8443, ge=1, le=65535, description="Port of the TLS listener.")


class GatewayConfig(ApiModel):
    kind: str = SNAPSHOT_KIND
    version: str = Field(default="0", min_length=1, max_length=128)
    region: str = Field(
        default=DEFAULT_REGION, min_length=1, max_length=63,
        description="The gateway's own region: its pools there are the first priority level.",
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    pools: list[PoolConfig] = Field(default_factory=list)
    routes: list[NamedRoutePolicy] = Field(default_factory=list)
    caches: list[NamedCachePolicy] = Field(default_factory=list)
    auth: AuthSettings | None = Field(default=None, description="API keys; without it the gateway is open.")
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    tls: TlsSettings | None = Field(default=None, description="TLS listener; without it only plain HTTP is served.")
    embedding: EmbeddingSource = Field(
        default_factory=EmbeddingSource,
        description="Embeddings for intent routing and the guard's embedding mode (a CachePolicy names its own).",
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> GatewayConfig:
        pool_names = [pool.name for pool in self.pools]
        if len(pool_names) != len(set(pool_names)):
            raise ValueError("pool names must be unique")
        known = set(pool_names)
        for policy in self.routes:
            for rule in policy.rules:
                for target in [b.pool for b in rule.backends] + rule.fallbacks:
                    if target not in known:
                        raise ValueError(f"route {policy.name}/{rule.name} references unknown pool {target!r}")
        if self.embedding.kind == "pool" and self.embedding.pool not in known:
            raise ValueError(f"embedding references unknown pool {self.embedding.pool!r}")
        return self
