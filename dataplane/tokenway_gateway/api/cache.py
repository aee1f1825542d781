"""CachePolicy: exact and semantic response caching for chosen routes."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from .common import ApiModel, ObjectStatus, SecretKeyRef
from .pool import cel


class EmbeddingSource(ApiModel):
    """Where semantic-cache embeddings come from."""

    kind: Literal["local", "pool"] = "local"
    pool: str | None = Field(default=None, max_length=253, description="Pool serving the embedding model (kind: pool).")
    model: str | None = Field(default=None, max_length=256)


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
    mode: Literal["exact", "semantic", "both"] = "exact"
    similarity_threshold: float = Field(default=0.95, ge=0.5, le=1.0)
    embedding: EmbeddingSource = Field(default_factory=EmbeddingSource)
    ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86400)
    max_entries: int = Field(default=10_000, ge=1, le=100_000_000)
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str | None = Field(default=None, pattern=r"^rediss?://", max_length=2048)
    redis_secret_ref: SecretKeyRef | None = None
    scope: Literal["tenant", "global"] = "tenant"
    cache_streaming: bool = True


class CachePolicyStatus(ObjectStatus):
    routes: int = 0
