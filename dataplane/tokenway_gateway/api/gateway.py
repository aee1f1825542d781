"""InferenceGateway: the dataplane Deployment itself."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from .cache import EmbeddingSource
from .common import ApiModel, ObjectStatus, SecretKeyRef, cel
from .pool import DEFAULT_REGION


class ResourceRequirements(ApiModel):
    """CPU and memory of each gateway pod."""

    cpu: str = Field(default="1", pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="CPU request.")
    memory: str = Field(default="512Mi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$", description="Memory request.")
    cpu_limit: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="CPU limit.")
    memory_limit: str | None = Field(default="1Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$", description="Memory limit.")


class TlsSecretRef(ApiModel):
    """A kubernetes.io/tls Secret (tls.crt, tls.key), as cert-manager writes it."""

    name: str = Field(min_length=1, max_length=253, description="Name of the Secret, in the same namespace.")


class ClientCaSecretRef(ApiModel):
    """The CA bundle client certificates must chain to (mTLS)."""

    name: str = Field(min_length=1, max_length=253, description="Name of the Secret, in the same namespace.")
    key: str = Field(default="ca.crt", min_length=1, max_length=253, description="Key of the PEM bundle.")


class GatewayTls(ApiModel):
    """Client-facing TLS: HTTP/2 and HTTP/1.1 (ALPN) on a second port; a renewed Secret is picked up live."""

    secret_ref: TlsSecretRef = Field(description="Server certificate and key (a kubernetes.io/tls Secret).")
    client_ca_secret_ref: ClientCaSecretRef | None = Field(
        default=None, description="When set, clients must present a certificate this CA signed.")
    port: int = Field(default=8443, ge=1, le=65535, description="TLS port of the gateway pods and Service.")


class InferenceGatewaySpec(ApiModel):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        cel("!has(self.tls) || self.tls.port != self.port", "tls.port must differ from port")]})

    replicas: int = Field(default=2, ge=0, le=1000, description="Gateway pods.")
    region: str = Field(
        default=DEFAULT_REGION, min_length=1, max_length=63, description="Region the gateway runs in."
    )
    image: str | None = Field(default=None, max_length=1024, description="Defaults to the operator's gateway image.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port of the gateway pods and Service.")
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="ClusterIP", description="Type of the gateway Service."
    )
    api_key_secret_ref: SecretKeyRef | None = Field(default=None, description="Secret key holding client API keys.")
    redis_url: str | None = Field(
        default=None, pattern=r"^rediss?://", max_length=2048, description="Redis for shared limits and cache."
    )
    otlp_endpoint: str | None = Field(
        default=None, pattern=r"^https?://", max_length=2048, description="OpenTelemetry collector (OTLP/HTTP)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Gateway log level.")
    drain_seconds: int = Field(default=30, ge=0, le=3600, description="How long streams may finish on shutdown.")
    resources: ResourceRequirements = Field(
        default_factory=ResourceRequirements, description="CPU and memory of each pod."
    )
    tls: GatewayTls | None = Field(default=None, description="Client-facing TLS listener.")
    embedding: EmbeddingSource = Field(
        default_factory=EmbeddingSource,
        description="Embeddings for intent routing and the guard's embedding mode (a CachePolicy names its own).",
    )

    @model_validator(mode="after")
    def _distinct_ports(self) -> InferenceGatewaySpec:
        if self.tls is not None and self.tls.port == self.port:
            raise ValueError("tls.port must differ from port")
        return self


class RegionStatus(ApiModel):
    """One region's pools as this gateway sees them (its own region is the first priority level)."""

    region: str = Field(description="Region name (external pools are listed as region `external`).")
    local: bool = Field(default=False, description="The gateway's own region.")
    pools: int = Field(default=0, description="Pools in the region.")
    ready_replicas: int = Field(default=0, description="Ready endpoints of the region's pools.")
    desired_replicas: int = Field(default=0, description="Replicas the region's pools should run now.")
    health: float | None = Field(
        default=None, description="Ready share of the desired replicas (unset while the region is scaled to zero)."
    )
    request_share: float | None = Field(
        default=None, description="Share of this gateway's region-routed requests the region served recently."
    )


class InferenceGatewayStatus(ObjectStatus):
    replicas: int = Field(default=0, description="Gateway pods that exist.")
    ready_replicas: int = Field(default=0, description="Gateway pods that are ready.")
    config_version: str | None = Field(default=None, description="Version of the config last written.")
    pools: int = Field(default=0, description="Pools in the config.")
    routes: int = Field(default=0, description="Route policies in the config.")
    regions: list[RegionStatus] = Field(default_factory=list, description="Health and traffic of each region.")
    spillover_share: float | None = Field(
        default=None, description="Share of region-routed requests recently served outside the preferred level."
    )
