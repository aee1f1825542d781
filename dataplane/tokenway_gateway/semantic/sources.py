"""Which embedder a config snapshot's ``embedding`` source means: the local model, or a pool's.

``kind: local`` is the process-wide all-MiniLM-L6-v2 (:func:`get_embedder`). ``kind: pool`` is an
:class:`OpenAIEmbeddingsClient` over the named pool's endpoints, one per (pool, model) for the
life of the process: every snapshot that names it gets the same client with its targets set to
that snapshot's endpoints (pods come and go), so a matcher built on it, the cache and the intent
stage all hold one object, and its vectors are only ever compared with its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .embedder import Embedder, EmbedderUnavailable, OpenAIEmbeddingsClient

if TYPE_CHECKING:
    from ..api.cache import EmbeddingSource
    from ..api.snapshot import PoolConfig

_clients: dict[tuple[str, str], OpenAIEmbeddingsClient] = {}
_lock = threading.Lock()


def embedder_for(source: EmbeddingSource, pools: Sequence[PoolConfig]) -> Embedder | OpenAIEmbeddingsClient:
    """The embedder ``source`` names in a snapshot with ``pools``; EmbedderUnavailable when it cannot be had."""
    if source.kind == "local":
        from . import get_embedder  # looked up on the package at call time (tests swap it there)

        return get_embedder()
    assert source.pool is not None and source.model is not None  # the model validator guarantees both
    pool = next((p for p in pools if p.name == source.pool), None)
    if pool is None:
        raise EmbedderUnavailable(f"embedding pool {source.pool!r} is not in the config")
    targets = [(e.url, os.environ.get(e.api_key_env) if e.api_key_env else None) for e in pool.endpoints]
    key = (source.pool, source.model)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = OpenAIEmbeddingsClient(None, source.model, timeout=source.timeout_ms / 1000)
    client.set_targets(targets)
    client.timeout = source.timeout_ms / 1000
    return client
