"""Shared building blocks of the Tokenway API (CRD specs and the gateway config).

Every model here is the single source of truth for both the gateway's config file
and the CRD schemas in ``crds/``: field names are camelCase on the wire (as
Kubernetes users expect) and snake_case in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

API_GROUP = "tokenway.io"
API_VERSION = "v1alpha1"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def cel(rule: str, message: str) -> JsonDict:
    """A CEL rule for the CRD's x-kubernetes-validations (the API server enforces it)."""
    return {"rule": rule, "message": message}


class ApiModel(BaseModel):
    """Base of every API object: camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
    )

    def dump(self) -> dict[str, Any]:
        """The wire form: camelCase keys, no unset optionals."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class SecretKeyRef(ApiModel):
    """A key inside a Kubernetes Secret (never the secret itself)."""

    name: str = Field(min_length=1, max_length=253, description="Name of the Secret, in the same namespace.")
    key: str = Field(default="api-key", min_length=1, max_length=253, description="Key inside the Secret.")


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """A standard Kubernetes status condition (metav1.Condition)."""

    type: str = Field(min_length=1, max_length=316, description="Ready, Progressing, Degraded or Supported.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(min_length=1, max_length=1024, description="CamelCase reason for the last transition.")
    message: str = Field(default="", max_length=32768, description="Human-readable details.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was computed for."
    )
    last_transition_time: datetime | None = Field(default=None, description="When the status last changed.")


class ObjectStatus(ApiModel):
    """Status fields every Tokenway kind has."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the operator last acted on."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Standard conditions: Ready, Progressing, Degraded and Supported.",
        max_length=32,
        # One condition per type, merged by type (as metav1.Condition lists are).
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
