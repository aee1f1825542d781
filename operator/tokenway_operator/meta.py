"""Names, labels and owner references shared by every object the operator creates."""

from __future__ import annotations

import re
from typing import Any

from .kinds import API_VERSION_FULL

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "tokenway"  # also the server-side-apply field manager
COMPONENT = "app.kubernetes.io/component"
INSTANCE = "app.kubernetes.io/instance"
PART_OF = "app.kubernetes.io/part-of"
POOL_LABEL = "tokenway.io/pool"
GATEWAY_LABEL = "tokenway.io/gateway"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # set on EndpointSlices by Kubernetes
CONFIG_KEY = "config.yaml"
CONFIG_VERSION_ANNOTATION = "tokenway.io/config-version"

Manifest = dict[str, Any]


def labels(component: str, instance: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        MANAGED_BY: MANAGER,
        PART_OF: "tokenway",
        COMPONENT: component,
        INSTANCE: instance,
        **(extra or {}),
    }


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    """A controller reference: garbage collection deletes the child with its owner."""
    return {
        "apiVersion": API_VERSION_FULL,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_meta(
    name: str, namespace: str, owner: dict[str, Any], obj_labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": obj_labels, "ownerReferences": [owner]}
    if annotations:
        meta["annotations"] = annotations
    return meta


def config_map_name(gateway: str) -> str:
    return f"{gateway}-config"


def api_key_env(pool: str, index: int) -> str:
    """Env var on the gateway Deployment holding external endpoint ``index``'s API key."""
    return f"TOKENWAY_UPSTREAM_KEY_{re.sub(r'[^A-Za-z0-9]', '_', pool).upper()}_{index}"


def cache_redis_env(policy: str) -> str:
    """Env var on the gateway Deployment holding CachePolicy ``policy``'s Redis URL (its redisSecretRef)."""
    return f"TOKENWAY_CACHE_REDIS_URL_{re.sub(r'[^A-Za-z0-9]', '_', policy).upper()}"
