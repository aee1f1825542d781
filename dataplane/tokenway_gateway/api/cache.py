"""CachePolicy: exact and semantic response caching for chosen routes."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from .common import ApiModel, ObjectStatus, SecretKeyRef, cel


class EmbeddingSource(ApiModel):
    """Where embeddings come from: the gateway's own CPU model, or an OpenAI-compatible embeddings pool."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self.kind != 'pool' || (has(self.pool) && has(self.model))", "kind: pool needs pool and model"),
                cel("self.kind != 'local' || !has(self.model)",
                    "kind: local runs the gateway's all-MiniLM-L6-v2; model names a pool's model (kind: pool)"),
            ]
        }
    )

    kind: Literal["local", "pool"] = Field(
        default="local",
        description="local: all-MiniLM-L6-v2 on the gateway's CPU; pool: POST /v1/embeddings to a pool's endpoints.",
    )
    pool: str | None = Field(default=None, max_length=253, description="Pool serving the embedding model (kind: pool).")
    model: str | None = Field(default=None, max_length=256, description="Embedding model name (kind: pool).")
    timeout_ms: int = Field(default=2000, ge=10, le=60_000, description="Per-request timeout of the embeddings call.")

    @model_validator(mode="after")
    def _pool_fields(self) -> EmbeddingSource:
        if self.kind == "pool" and (not self.pool or not self.model):
            raise ValueError("embedding kind: pool needs pool and model")
        if self.kind == "local" and self.model is not None:
            raise ValueError("embedding kind: local runs the gateway's all-MiniLM-L6-v2; model names a pool's model")
        return self


class CachePolicySpec(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self.backend != 'redis' || has(self.redisUrl) || has(self.redisSecretRef)",
                    "backend: redis needs redisUrl or redisSecretRef"),
            ]
        }
    )

    routes: list[str] = Field(default_factory=list, max_length=256, description="Route rule names; empty means all.")
    mode: Literal["exact", "semantic", "both"] = Field(
        default="exact", description="exact: same request; semantic: a close enough prompt; both."
    )
    similarity_threshold: float = Field(
        default=0.80, ge=0.5, le=1.0,
        description="Cosine similarity a semantic candidate needs before the verifier checks it (0.80: measured).",
    )
    embedding: EmbeddingSource = Field(default_factory=EmbeddingSource, description="Where embeddings come from.")
    ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86400, description="How long an entry lives.")
    max_entries: int = Field(default=10_000, ge=1, le=100_000_000, description="Entries kept (least recent go).")
    backend: Literal["memory", "redis"] = Field(
        default="memory", description="memory: per gateway replica; redis: shared."
    )
    redis_url: str | None = Field(
        default=None, pattern=r"^rediss?://", max_length=2048, description="Redis URL (backend: redis)."
    )
    redis_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the Redis URL, instead of redisUrl."
    )
    scope: Literal["tenant", "global"] = Field(
        default="tenant", description="tenant: entries are never shared between API keys; global: shared."
    )
    cache_streaming: bool = Field(default=True, description="Cache streamed responses and replay them as streams.")
    verify: bool = Field(
        default=True,
        description="Serve a semantic candidate only if no contradiction is found (negation, numbers, entities, ...).",
    )
    cache_sampled: bool = Field(
        default=False, description="Also cache requests with temperature > 0 (unset temperature counts as 1)."
    )


class CachePolicyStatus(ObjectStatus):
    routes: int = Field(default=0, description="Route rules (and the unmatched default route) the policy serves.")
    hit_rate: float | None = Field(
        default=None, ge=0, le=1,
        description="Hits / (hits + misses) over the last 5 minutes, all gateway replicas (from Prometheus); "
                    "null when not measured.",
    )
    lookups_per_second: float | None = Field(
        default=None, ge=0, description="Cache lookups per second over the last 5 minutes, all gateway replicas."
    )
