"""Response cache: exact and verified semantic hits in hard (tenant, model, route) partitions."""

from .cache import ANONYMOUS_TENANT, CacheHit, CachePlan, CacheStats, ResponseCache, RouteStats
from .index import VectorIndex
from .keys import Partition, SemanticKey, cache_control, exact_key, is_sampled, semantic_key
from .memory import MemoryBackend
from .redis_backend import RedisBackend
from .response import CachedResponse, from_body, from_sse, replay_json, replay_sse
from .verifier import Features, analyze, contradiction

__all__ = [
    "ANONYMOUS_TENANT",
    "CacheHit",
    "CachePlan",
    "CacheStats",
    "CachedResponse",
    "Features",
    "MemoryBackend",
    "Partition",
    "RedisBackend",
    "ResponseCache",
    "RouteStats",
    "SemanticKey",
    "VectorIndex",
    "analyze",
    "cache_control",
    "contradiction",
    "exact_key",
    "from_body",
    "from_sse",
    "is_sampled",
    "replay_json",
    "replay_sse",
    "semantic_key",
]
