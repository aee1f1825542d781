"""InferencePool: a set of inference replicas serving one or more models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from .common import ApiModel, ObjectStatus, SecretKeyRef

Engine = Literal["vllm", "sglang", "external"]
UpstreamProtocol = Literal["http1", "h2c"]
Quantization = Literal["awq", "gptq", "fp8", "int8", "bitsandbytes"]

DEFAULT_REGION = "default"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def cel(rule: str, message: str) -> JsonDict:
    """A CEL rule for the CRD's x-kubernetes-validations (the API server enforces it)."""
    return {"rule": rule, "message": message}


class ServedModel(ApiModel):
    """A model name clients send, with the aliases that map to it."""

    name: str = Field(min_length=1, max_length=256, description="Model name as clients send it.")
    aliases: list[str] = Field(default_factory=list, max_length=32)
    upstream_name: str | None = Field(
        default=None,
        max_length=256,
        description="Name the engine serves the model under, when it differs from `name`.",
    )


class Capacity(ApiModel):
    """What one replica can take: the balancer uses this to spot saturation."""

    max_concurrent_sequences: int = Field(default=256, ge=1, le=100_000)
    weight: int = Field(default=1, ge=1, le=1000)


class ReplicaRange(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [cel("self.min <= self.max", "replicas.min must be <= replicas.max")]
        }
    )

    min: int = Field(default=1, ge=0, le=1000)
    max: int = Field(default=1, ge=0, le=1000)

    @model_validator(mode="after")
    def _min_le_max(self) -> ReplicaRange:
        if self.min > self.max:
            raise ValueError("replicas.min must be <= replicas.max")
        return self


class SpeculativeDecoding(ApiModel):
    draft_model: str = Field(min_length=1, max_length=256)
    num_speculative_tokens: int = Field(default=5, ge=1, le=64)


class Autoscaling(ApiModel):
    """Scale on what users feel (TTFT) and on what predicts it (queue depth)."""

    enabled: bool = False
    ttft_p95_target_seconds: float | None = Field(default=1.0, gt=0, le=600)
    queue_depth_per_replica: float | None = Field(default=4.0, gt=0, le=10_000)
    tolerance: float = Field(default=0.1, ge=0, le=1, description="Ignore ratios within 1±tolerance (as HPA).")
    metrics_window_seconds: int = Field(default=60, ge=10, le=3600)
    scale_up_stabilization_seconds: int = Field(default=0, ge=0, le=3600)
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=86400)
    scale_to_zero: bool = False
    scale_to_zero_idle_seconds: int = Field(default=600, ge=30, le=86400)


class ExternalEndpoint(ApiModel):
    """An endpoint outside the cluster (engine: external)."""

    url: str = Field(pattern=r"^https?://", max_length=2048)
    weight: int = Field(default=1, ge=1, le=1000)
    api_key_secret_ref: SecretKeyRef | None = None


class Toleration(ApiModel):
    model_config = ConfigDict(extra="allow")

    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class PoolRouting(ApiModel):
    """The part of a pool the gateway needs, shared by the CRD and the gateway config."""

    models: list[ServedModel] = Field(min_length=1, max_length=64)
    region: str = Field(default=DEFAULT_REGION, min_length=1, max_length=63)
    protocol: UpstreamProtocol = Field(default="http1", description="h2c: HTTP/2 with prior knowledge to upstreams.")
    capacity: Capacity = Field(default_factory=Capacity)


class InferencePoolSpec(PoolRouting):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.engine != 'external' || (has(self.endpoints) && size(self.endpoints) > 0)",
                    "engine: external needs at least one endpoint",
                ),
                cel(
                    "self.engine == 'external' || !has(self.endpoints) || size(self.endpoints) == 0",
                    "endpoints are only for engine: external",
                ),
            ]
        }
    )

    engine: Engine = "vllm"
    image: str | None = Field(default=None, max_length=1024, description="Defaults to the engine's image.")
    args: list[str] = Field(default_factory=list, max_length=128, description="Extra engine arguments.")
    env: dict[str, str] = Field(default_factory=dict)
    port: int = Field(default=8000, ge=1, le=65535)
    quantization: Quantization | None = None
    speculative_decoding: SpeculativeDecoding | None = None
    prefix_caching: bool = True
    max_model_len: int | None = Field(default=None, ge=128, le=10_000_000)
    gpus: int = Field(default=1, ge=0, le=64, description="nvidia.com/gpu per replica.")
    gpu_type: str | None = Field(default=None, max_length=128, description="Value of the nvidia.com/gpu.product label.")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    shm_size: str = Field(default="8Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$")
    replicas: ReplicaRange = Field(default_factory=ReplicaRange)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    endpoints: list[ExternalEndpoint] = Field(default_factory=list, max_length=256)

    @model_validator(mode="after")
    def _external_needs_endpoints(self) -> InferencePoolSpec:
        if self.engine == "external" and not self.endpoints:
            raise ValueError("engine: external needs at least one endpoint")
        if self.engine != "external" and self.endpoints:
            raise ValueError("endpoints are only for engine: external")
        return self


class InferencePoolStatus(ObjectStatus):
    replicas: int = 0
    ready_replicas: int = 0
    desired_replicas: int = 0
    ready_endpoints: int = 0
    observed_ttft_p95_seconds: float | None = None
    observed_queue_depth: float | None = None
    last_scale_time: str | None = None
    last_scale_reason: str | None = None


def pool_printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Engine", "type": "string", "jsonPath": ".spec.engine"},
        {"name": "Region", "type": "string", "jsonPath": ".spec.region"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
        {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredReplicas"},
        {"name": "TTFT-P95", "type": "number", "jsonPath": ".status.observedTtftP95Seconds"},
        {"name": "Queue", "type": "number", "jsonPath": ".status.observedQueueDepth"},
        {"name": "Status", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
