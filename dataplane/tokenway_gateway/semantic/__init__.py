"""Shared sentence embeddings (semantic cache, intent routing, prompt guard)."""

from .embedder import (
    AsyncEmbedder,
    EmbedCallback,
    Embedder,
    EmbedderUnavailable,
    EmbeddingsPoolError,
    OpenAIEmbeddingsClient,
    get_embedder,
)
from .sources import embedder_for

__all__ = [
    "AsyncEmbedder",
    "EmbedCallback",
    "Embedder",
    "EmbedderUnavailable",
    "EmbeddingsPoolError",
    "OpenAIEmbeddingsClient",
    "embedder_for",
    "get_embedder",
]
