"""InferenceGateway: the dataplane Deployment itself."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ApiModel, ObjectStatus, SecretKeyRef
from .pool import DEFAULT_REGION


class ResourceRequirements(ApiModel):
    cpu: str = Field(default="1", pattern=r"^[0-9]+(\.[0-9]+)?m?$")
    memory: str = Field(default="512Mi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$")
    cpu_limit: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?m?$")
    memory_limit: str | None = Field(default="1Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$")


class InferenceGatewaySpec(ApiModel):
    replicas: int = Field(default=2, ge=0, le=1000)
    region: str = Field(default=DEFAULT_REGION, min_length=1, max_length=63)
    image: str | None = Field(default=None, max_length=1024, description="Defaults to the operator's gateway image.")
    port: int = Field(default=8080, ge=1, le=65535)
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    api_key_secret_ref: SecretKeyRef | None = None
    redis_url: str | None = Field(default=None, pattern=r"^rediss?://", max_length=2048)
    otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    drain_seconds: int = Field(default=30, ge=0, le=3600)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)


class InferenceGatewayStatus(ObjectStatus):
    replicas: int = 0
    ready_replicas: int = 0
    config_version: str | None = None
    pools: int = 0
    routes: int = 0
