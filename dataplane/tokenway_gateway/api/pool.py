"""InferencePool: a set of inference replicas serving one or more models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from .common import ApiModel, ObjectStatus, SecretKeyRef, cel
from .route import ActiveHealthCheck, LoadBalancing, OutlierDetection, QueueLimits

Engine = Literal["vllm", "sglang", "external"]
UpstreamProtocol = Literal["http1", "h2c"]
Quantization = Literal["awq", "gptq", "fp8", "int8", "bitsandbytes"]

DEFAULT_REGION = "default"


class ServedModel(ApiModel):
    """A model name clients send, with the aliases that map to it."""

    name: str = Field(min_length=1, max_length=256, description="Model name as clients send it.")
    aliases: list[str] = Field(default_factory=list, max_length=32, description="Other names clients may use.")
    upstream_name: str | None = Field(
        default=None,
        max_length=256,
        description="Name the engine serves the model under, when it differs from `name`.",
    )


class Capacity(ApiModel):
    """What one replica can take: the gateway queues requests beyond it and spills to other regions."""

    max_concurrent_sequences: int = Field(
        default=256, ge=1, le=100_000, description="Sequences one replica runs at once before requests queue."
    )
    max_pending_requests: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="Circuit breaker: requests in flight to one replica at most; unset means no limit.",
    )
    weight: int = Field(default=1, ge=1, le=1000, description="Relative share of traffic per replica.")


class ReplicaRange(ApiModel):
    """How many replicas the pool runs (min is the fixed count without autoscaling)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [cel("self.min <= self.max", "replicas.min must be <= replicas.max")]
        }
    )

    min: int = Field(default=1, ge=0, le=1000, description="Fewest replicas (the count when autoscaling is off).")
    max: int = Field(default=1, ge=0, le=1000, description="Most replicas the autoscaler may run.")

    @model_validator(mode="after")
    def _min_le_max(self) -> ReplicaRange:
        if self.min > self.max:
            raise ValueError("replicas.min must be <= replicas.max")
        return self


class SpeculativeDecoding(ApiModel):
    """Speculative decoding with a small draft model (lower inter-token latency)."""

    draft_model: str = Field(min_length=1, max_length=256, description="Draft model to load (Hugging Face id or path).")
    num_speculative_tokens: int = Field(default=5, ge=1, le=64, description="Tokens the draft proposes per step.")


class AutoscalingQueries(ApiModel):
    """PromQL returning one value for this pool; ``$namespace``, ``$pool`` and ``$window`` (e.g. ``60s``) are
    replaced before the query runs."""

    ttft_p95: str | None = Field(default=None, max_length=4096, description="Time-to-first-token p95 in seconds.")
    queue_depth: str | None = Field(
        default=None, max_length=4096, description="Waiting requests of the whole pool (divided by ready replicas)."
    )
    saturation: str | None = Field(default=None, max_length=4096, description="Busy share per replica, 0 to 1.")
    demand: str | None = Field(
        default=None, max_length=4096,
        description="Requests waiting for this pool while it has no replica (wakes a pool scaled to zero).",
    )


class Autoscaling(ApiModel):
    """Scale on what users feel (TTFT) and on what predicts it (queue depth)."""

    enabled: bool = Field(default=False, description="Let the operator scale replicas between min and max.")
    ttft_p95_target_seconds: float | None = Field(
        default=1.0, gt=0, le=600, description="Scale up when time-to-first-token p95 exceeds this."
    )
    queue_depth_per_replica: float | None = Field(
        default=4.0, gt=0, le=10_000, description="Target waiting requests per replica."
    )
    tolerance: float = Field(default=0.1, ge=0, le=1, description="Ignore ratios within 1±tolerance (as HPA).")
    metrics_window_seconds: int = Field(default=60, ge=10, le=3600, description="Window the metrics are averaged over.")
    scale_up_stabilization_seconds: int = Field(
        default=0, ge=0, le=3600, description="Wait this long before acting on a scale-up recommendation."
    )
    scale_down_stabilization_seconds: int = Field(
        default=300, ge=0, le=86400, description="Use the highest recommendation of this window when scaling down."
    )
    scale_to_zero: bool = Field(default=False, description="Allow zero replicas after an idle period.")
    scale_to_zero_idle_seconds: int = Field(
        default=600, ge=30, le=86400, description="Idle time before scaling to zero."
    )
    saturation_target: float | None = Field(
        default=0.8, gt=0, le=1,
        description="Target busy share per replica: the larger of KV-cache use and running sequences / "
                    "capacity.maxConcurrentSequences. The load signal that lets a pool shrink.",
    )
    panic_window_seconds: int = Field(
        default=6, ge=2, le=600,
        description="Short window for sudden spikes (Knative's panic window); at least twice the scrape interval.",
    )
    panic_threshold: float = Field(
        default=2.0, gt=1, le=100,
        description="Panic when the short window asks for this many times the ready replicas, or a signal "
                    "over its target is this many times its stable-window value; no scale-down while panicking.",
    )
    scale_up_max_percent: int = Field(
        default=100, ge=1, le=10000, description="Scale-up rate limit: grow by at most this % per period."
    )
    scale_up_max_pods: int = Field(
        default=4, ge=1, le=1000, description="Scale-up rate limit: or by this many pods per period (the larger)."
    )
    scale_up_period_seconds: int = Field(
        default=15, ge=1, le=3600, description="Period of the scale-up rate limits."
    )
    cooldown_seconds: int = Field(
        default=30, ge=0, le=86400,
        description="No scale-down for this long after any change (new replicas need time to take load).",
    )
    metrics_max_age_seconds: int = Field(
        default=60, ge=5, le=3600,
        description="Engine samples older than this count as missing: the pool keeps its size and says why.",
    )
    queries: AutoscalingQueries | None = Field(
        default=None, description="PromQL overrides for this pool (status.autoscaler.queries shows the defaults).",
    )


class EngineResources(ApiModel):
    """CPU and memory of each engine pod (besides its GPUs): weights are read through host memory."""

    cpu: str = Field(default="2", pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="CPU request of the engine.")
    memory: str = Field(
        default="8Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$", description="Memory request of the engine."
    )
    cpu_limit: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="CPU limit.")
    memory_limit: str | None = Field(default=None, pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$", description="Memory limit.")


class Rollout(ApiModel):
    """How a changed pod template rolls out. The defaults need no spare GPU: one old replica stops, then its
    replacement starts (a one-replica pool is briefly down; raise maxSurge when a spare GPU exists)."""

    max_surge: str = Field(
        default="0", pattern=r"^[0-9]+%?$", description="Extra pods during a rollout (a count or a percentage)."
    )
    max_unavailable: str = Field(
        default="1", pattern=r"^[0-9]+%?$", description="Pods that may be down during a rollout (count or %)."
    )


class ExternalEndpoint(ApiModel):
    """An endpoint outside the cluster (engine: external)."""

    url: str = Field(pattern=r"^https?://", max_length=2048, description="Base URL of the OpenAI-compatible API.")
    weight: int = Field(default=1, ge=1, le=1000, description="Relative share of traffic.")
    api_key_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the upstream API key (sent as a Bearer token)."
    )


class Toleration(ApiModel):
    """A Kubernetes pod toleration, copied to the engine pods."""

    model_config = ConfigDict(extra="allow")

    key: str | None = Field(default=None, description="Taint key to tolerate; empty with Exists tolerates all.")
    operator: Literal["Exists", "Equal"] | None = Field(default=None, description="Exists or Equal (default).")
    value: str | None = Field(default=None, description="Taint value to match with Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to tolerate; empty tolerates all effects."
    )
    toleration_seconds: int | None = Field(default=None, description="How long a NoExecute taint is tolerated.")


class PoolRouting(ApiModel):
    """The part of a pool the gateway needs, shared by the CRD and the gateway config."""

    models: list[ServedModel] = Field(min_length=1, max_length=64, description="Models the pool serves.")
    region: str = Field(
        default=DEFAULT_REGION, min_length=1, max_length=63, description="Region label used for region preference."
    )
    protocol: UpstreamProtocol = Field(default="http1", description="h2c: HTTP/2 with prior knowledge to upstreams.")
    capacity: Capacity = Field(default_factory=Capacity)
    load_balancing: LoadBalancing = Field(
        default_factory=LoadBalancing, description="Endpoint picking in this pool (a RoutePolicy may override it)."
    )
    outlier_detection: OutlierDetection | None = Field(
        default=None, description="Eject failing endpoints of this pool (a RoutePolicy may override it)."
    )
    queue: QueueLimits | None = Field(
        default=None, description="Queue requests while this pool is saturated (a RoutePolicy may override it)."
    )
    health_check: ActiveHealthCheck | None = Field(
        default=None, description="Probe each endpoint actively (for external endpoints that no kubelet probes)."
    )


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

    engine: Engine = Field(default="vllm", description="vllm, sglang, or external for endpoints outside the cluster.")
    image: str | None = Field(default=None, max_length=1024, description="Defaults to the engine's image.")
    args: list[str] = Field(default_factory=list, max_length=128, description="Extra engine arguments.")
    env: dict[str, str] = Field(default_factory=dict, description="Plain environment variables for the engine.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the engine serves HTTP on.")
    quantization: Quantization | None = Field(default=None, description="Weight quantization the engine loads.")
    speculative_decoding: SpeculativeDecoding | None = Field(
        default=None, description="Speculative decoding with a draft model."
    )
    prefix_caching: bool = Field(default=True, description="Engine-side automatic prefix caching.")
    max_model_len: int | None = Field(
        default=None, ge=128, le=10_000_000, description="Longest context (prompt + output) in tokens."
    )
    gpus: int = Field(default=1, ge=0, le=64, description="nvidia.com/gpu per replica.")
    gpu_type: str | None = Field(default=None, max_length=128, description="Value of the nvidia.com/gpu.product label.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels the engine pods require.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Tolerations of the engine pods.")
    shm_size: str = Field(
        default="8Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$", description="Size of the in-memory /dev/shm volume."
    )
    resources: EngineResources = Field(
        default_factory=EngineResources, description="CPU and memory requests (and limits) of each engine pod."
    )
    rollout: Rollout = Field(default_factory=Rollout, description="Rolling update of the engine pods.")
    replicas: ReplicaRange = Field(default_factory=ReplicaRange, description="Replica count range.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    endpoints: list[ExternalEndpoint] = Field(
        default_factory=list, max_length=256, description="Endpoints outside the cluster (engine: external only)."
    )

    @model_validator(mode="after")
    def _external_needs_endpoints(self) -> InferencePoolSpec:
        if self.engine == "external" and not self.endpoints:
            raise ValueError("engine: external needs at least one endpoint")
        if self.engine != "external" and self.endpoints:
            raise ValueError("endpoints are only for engine: external")
        return self


class AutoscalerStatus(ApiModel):
    """What the autoscaler measured and decided last, and what it remembers (kept here so that it survives
    operator restarts)."""

    decided_at: str | None = Field(default=None, description="When the autoscaler last decided.")
    desired_replicas: int | None = Field(default=None, description="Replicas it last asked for.")
    reason: str | None = Field(default=None, description="Why (the deciding signal, or why it held).")
    panicking: bool = Field(default=False, description="Acting on the short window after a sudden spike.")
    ttft_source: str | None = Field(
        default=None, description="gateway or engine: whose TTFT histogram the p95 came from."
    )
    queries: dict[str, str] = Field(default_factory=dict, description="The PromQL behind each signal.")
    history: dict[str, Any] = Field(
        default_factory=dict, description="Recent recommendations and scale events (stabilization memory).",
    )


class InferencePoolStatus(ObjectStatus):
    replicas: int = Field(default=0, description="Engine pods that exist.")
    ready_replicas: int = Field(default=0, description="Engine pods that are ready.")
    desired_replicas: int = Field(default=0, description="Replicas the pool should run now.")
    ready_endpoints: int = Field(default=0, description="Ready endpoints in the gateway config.")
    observed_ttft_p95_seconds: float | None = Field(default=None, description="Measured time-to-first-token p95.")
    observed_queue_depth: float | None = Field(default=None, description="Measured waiting requests per replica.")
    last_scale_time: str | None = Field(default=None, description="When the autoscaler last changed replicas.")
    last_scale_reason: str | None = Field(default=None, description="Why the autoscaler last changed replicas.")
    observed_saturation: float | None = Field(
        default=None, description="Measured busy share per replica (KV-cache use or running / capacity)."
    )
    autoscaler: AutoscalerStatus | None = Field(default=None, description="The autoscaler's last decision.")


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
