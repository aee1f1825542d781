"""Shared sentence embeddings (semantic cache, intent routing, prompt guard)."""

from .embedder import (
    AsyncEmbedder,
    EmbedCallback,
    Embedder,
    EmbedderUnavailable,
    OpenAIEmbeddingsClient,
    get_embedder,
)

__all__ = [
    "AsyncEmbedder",
    "EmbedCallback",
    "Embedder",
    "EmbedderUnavailable",
    "OpenAIEmbeddingsClient",
    "get_embedder",
]
