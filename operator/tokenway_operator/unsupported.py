"""The API fields whose gateway behaviour is not implemented yet.

ONE place, so each issue that implements a feature deletes its line here; the
operator reports whatever this returns as condition ``Supported=False`` with
reason ``NotSupportedYet``. Fields set to their defaults are not reported: a user
who never asked for the feature is not told it is missing.
"""

from __future__ import annotations

from pydantic import BaseModel
from tokenway_gateway.api import CachePolicySpec, RoutePolicySpec


def unsupported_fields(spec: BaseModel) -> list[str]:
    """Wire paths (camelCase) of fields in ``spec`` that the gateway ignores today."""
    if isinstance(spec, RoutePolicySpec):
        return []  # every RoutePolicy field is enforced by the gateway
    if isinstance(spec, CachePolicySpec):
        return []  # every CachePolicy field is enforced (redisSecretRef reaches the gateway as an env var)
    return []  # InferencePool: autoscaling (issue 10) and region are enforced too


def unsupported_message(fields: list[str]) -> str:
    return "not supported by the gateway yet (ignored): " + ", ".join(fields)
