"""Tokenway's API: one set of pydantic models for the CRDs and the gateway config."""

from .cache import CachePolicySpec, CachePolicyStatus
from .common import API_GROUP, API_VERSION, ApiModel, Condition, ObjectStatus, SecretKeyRef
from .gateway import InferenceGatewaySpec, InferenceGatewayStatus
from .pool import InferencePoolSpec, InferencePoolStatus, PoolRouting, ServedModel
from .route import RoutePolicySpec, RoutePolicyStatus, RouteRule
from .snapshot import EndpointConfig, GatewayConfig, NamedCachePolicy, NamedRoutePolicy, PoolConfig

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "ApiModel",
    "CachePolicySpec",
    "CachePolicyStatus",
    "Condition",
    "EndpointConfig",
    "GatewayConfig",
    "InferenceGatewaySpec",
    "InferenceGatewayStatus",
    "InferencePoolSpec",
    "InferencePoolStatus",
    "NamedCachePolicy",
    "NamedRoutePolicy",
    "ObjectStatus",
    "PoolConfig",
    "PoolRouting",
    "RoutePolicySpec",
    "RoutePolicyStatus",
    "RouteRule",
    "SecretKeyRef",
    "ServedModel",
]
