"""The operator's own settings (flags and environment), passed to handlers through kopf's memo."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Pinned engine images: an upgrade is a deliberate change here, never a moving tag.
VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"
SGLANG_IMAGE = "lmsysorg/sglang:v0.5.3"
GATEWAY_IMAGE = "ghcr.io/tokenway/tokenway-gateway:0.1.0"  # Dockerfile.gateway


@dataclass(frozen=True)
class Images:
    vllm: str = VLLM_IMAGE
    sglang: str = SGLANG_IMAGE
    gateway: str = GATEWAY_IMAGE


@dataclass(frozen=True)
class OperatorSettings:
    images: Images = field(default_factory=Images)
    # Re-apply every child this often: a backstop for drift that no watch event reported.
    resync_seconds: float = 300.0
    # Coalesce bursts of endpoint/policy changes into one config write per namespace.
    compile_debounce_seconds: float = 0.05
    # Namespaces watched; empty: the whole cluster.
    namespaces: tuple[str, ...] = ()
    # Peers silent this long are gone; a crashed operator blocks its successor at most this long.
    peering_lifetime: int = 30


def images_from_env() -> Images:
    return Images(
        vllm=os.environ.get("TOKENWAY_VLLM_IMAGE", VLLM_IMAGE),
        sglang=os.environ.get("TOKENWAY_SGLANG_IMAGE", SGLANG_IMAGE),
        gateway=os.environ.get("TOKENWAY_GATEWAY_IMAGE", GATEWAY_IMAGE),
    )
