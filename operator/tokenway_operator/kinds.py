"""The kinds the operator knows, in two tables: Tokenway's own kinds and the kinds of their children.

crdgen, the handlers (watches and indexes), the client's paths and the RBAC rules all
read these tables, so adding a kind or a child kind is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from tokenway_gateway.api import (
    API_GROUP,
    API_VERSION,
    CachePolicySpec,
    CachePolicyStatus,
    InferenceGatewaySpec,
    InferenceGatewayStatus,
    InferencePoolSpec,
    InferencePoolStatus,
    RoutePolicySpec,
    RoutePolicyStatus,
)
from tokenway_gateway.api.pool import pool_printer_columns

API_VERSION_FULL = f"{API_GROUP}/{API_VERSION}"
CATEGORY = "tokenway"

_STATUS_REASON = {
    "name": "Status",
    "type": "string",
    "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
}
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec_model: type[BaseModel]
    status_model: type[BaseModel]
    printer_columns: tuple[dict[str, Any], ...]
    description: str

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{API_GROUP}"

    @property
    def index_id(self) -> str:
        """Name of the kopf index of this kind (and the handler kwarg carrying it)."""
        return f"tokenway_{self.plural}"


INFERENCE_POOL = Kind(
    kind="InferencePool",
    plural="inferencepools",
    short_names=("ipool",),
    spec_model=InferencePoolSpec,
    status_model=InferencePoolStatus,
    printer_columns=tuple(pool_printer_columns()),
    description="A set of inference replicas (vLLM, SGLang or external endpoints) serving one or more models.",
)

ROUTE_POLICY = Kind(
    kind="RoutePolicy",
    plural="routepolicies",
    short_names=("rpol",),
    spec_model=RoutePolicySpec,
    status_model=RoutePolicyStatus,
    printer_columns=(
        {"name": "Priority", "type": "integer", "jsonPath": ".spec.priority"},
        {"name": "Rules", "type": "integer", "jsonPath": ".status.rules"},
        _STATUS_REASON,
        _AGE,
    ),
    description="Which pool serves a request, and how the gateway treats it on the way.",
)

CACHE_POLICY = Kind(
    kind="CachePolicy",
    plural="cachepolicies",
    short_names=("cpol",),
    spec_model=CachePolicySpec,
    status_model=CachePolicyStatus,
    printer_columns=(
        {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
        {"name": "Backend", "type": "string", "jsonPath": ".spec.backend"},
        {"name": "Hit rate", "type": "number", "jsonPath": ".status.hitRate"},
        _STATUS_REASON,
        _AGE,
    ),
    description="Exact and semantic response caching for chosen routes.",
)

INFERENCE_GATEWAY = Kind(
    kind="InferenceGateway",
    plural="inferencegateways",
    short_names=("igw",),
    spec_model=InferenceGatewaySpec,
    status_model=InferenceGatewayStatus,
    printer_columns=(
        {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Region", "type": "string", "jsonPath": ".spec.region"},
        {"name": "Pools", "type": "integer", "jsonPath": ".status.pools"},
        {"name": "Config", "type": "string", "jsonPath": ".status.configVersion"},
        _STATUS_REASON,
        _AGE,
    ),
    description="The Tokenway gateway (dataplane) Deployment and its compiled config.",
)

KINDS: tuple[Kind, ...] = (INFERENCE_POOL, ROUTE_POLICY, CACHE_POLICY, INFERENCE_GATEWAY)

KIND_BY_NAME: dict[str, Kind] = {k.kind: k for k in KINDS}


@dataclass(frozen=True)
class ApiKind:
    """A built-in Kubernetes kind the operator reads or writes."""

    api_version: str
    kind: str
    plural: str
    owners: tuple[str, ...] = ()  # Tokenway kinds that own objects of this kind (empty: never a child)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


_POOL, _GATEWAY = INFERENCE_POOL.kind, INFERENCE_GATEWAY.kind

# Everything the operator creates: watched (by label) to undo drift and deletions, granted by RBAC.
CHILD_KINDS: tuple[ApiKind, ...] = (
    ApiKind("apps/v1", "Deployment", "deployments", (_POOL, _GATEWAY)),
    ApiKind("v1", "Service", "services", (_POOL, _GATEWAY)),
    ApiKind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", (_POOL,)),
    ApiKind("v1", "ServiceAccount", "serviceaccounts", (_GATEWAY,)),
    ApiKind("v1", "ConfigMap", "configmaps", (_GATEWAY,)),
    ApiKind("rbac.authorization.k8s.io/v1", "Role", "roles", (_GATEWAY,)),
    ApiKind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", (_GATEWAY,)),
)
ENDPOINT_SLICE = ApiKind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices")
EVENT = ApiKind("v1", "Event", "events")

# kind -> plural, for every kind the operator's client builds a path for.
PLURALS: dict[str, str] = {k.kind: k.plural for k in KINDS} | {
    k.kind: k.plural for k in (*CHILD_KINDS, ENDPOINT_SLICE, EVENT)}


def children_of(owner: Kind) -> tuple[ApiKind, ...]:
    return tuple(c for c in CHILD_KINDS if owner.kind in c.owners)
