"""Status of each kind as a pure function of what was observed: (fields, conditions)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from tokenway_gateway.api import CachePolicySpec, InferenceGatewaySpec, InferencePoolSpec

from .conditions import (
    APPLY_FAILED,
    AS_EXPECTED,
    DEGRADED,
    INVALID_SPEC,
    PROGRESSING,
    READY,
    Cond,
    supported,
)
from .unsupported import unsupported_fields

Status = tuple[dict[str, Any], list[Cond]]


def invalid(error: str) -> list[Cond]:
    return [
        Cond(READY, False, INVALID_SPEC, error, warning=True),
        Cond(PROGRESSING, False, INVALID_SPEC, "fix the spec; nothing was applied"),
        Cond(DEGRADED, True, INVALID_SPEC, error, warning=True),
    ]


def _deployment_numbers(deployment: dict[str, Any] | None) -> dict[str, int]:
    status = (deployment or {}).get("status") or {}
    return {k: int(status.get(k) or 0) for k in ("replicas", "readyReplicas", "updatedReplicas", "availableReplicas")}


def rollout(deployment: dict[str, Any] | None, desired: int, apply_error: str | None) -> list[Cond]:
    """Ready / Progressing / Degraded of a workload from its Deployment, as `kubectl rollout status` reads it."""
    if deployment is None:
        if apply_error:
            return [Cond(READY, False, APPLY_FAILED, apply_error, warning=True),
                    Cond(PROGRESSING, False, APPLY_FAILED, apply_error),
                    Cond(DEGRADED, True, APPLY_FAILED, apply_error, warning=True)]
        return [Cond(READY, False, "Creating", "waiting for the Deployment"),
                Cond(PROGRESSING, True, "Creating", "Deployment being created"),
                Cond(DEGRADED, False, AS_EXPECTED)]
    n = _deployment_numbers(deployment)
    meta = deployment.get("metadata") or {}
    status = deployment.get("status") or {}
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    ready_text = f"{n['readyReplicas']}/{desired} replicas ready"
    if desired == 0:
        ready = Cond(READY, True, "ScaledToZero", "0 replicas wanted")
    elif n["readyReplicas"] >= desired:
        ready = Cond(READY, True, "AllReplicasReady", ready_text)
    else:
        ready = Cond(READY, False, "ReplicasNotReady", ready_text)
    rolling = not observed or n["updatedReplicas"] < desired or n["replicas"] > n["updatedReplicas"]
    progressing = (Cond(PROGRESSING, True, "RollingOut", f"{n['updatedReplicas']}/{desired} replicas updated")
                   if rolling else Cond(PROGRESSING, False, "RolloutComplete", ready_text))
    dep_conds = {c.get("type"): c for c in status.get("conditions") or []}
    failure = dep_conds.get("ReplicaFailure")
    stuck = dep_conds.get("Progressing")
    if apply_error:
        degraded = Cond(DEGRADED, True, APPLY_FAILED, apply_error, warning=True)
    elif failure and failure.get("status") == "True":
        degraded = Cond(DEGRADED, True, "ReplicaFailure", str(failure.get("message", "")), warning=True)
    elif stuck and stuck.get("reason") == "ProgressDeadlineExceeded":
        degraded = Cond(DEGRADED, True, "ProgressDeadlineExceeded", str(stuck.get("message", "")), warning=True)
    else:
        degraded = Cond(DEGRADED, False, AS_EXPECTED)
    return [ready, progressing, degraded]


def pool_status(spec: InferencePoolSpec, deployment: dict[str, Any] | None, ready_endpoints: int,
                apply_error: str | None) -> Status:
    if spec.engine == "external":
        count = len(spec.endpoints)
        conds = [Cond(READY, True, "ExternalEndpoints", f"{count} external endpoint(s)"),
                 Cond(PROGRESSING, False, "ExternalEndpoints", "no pods to roll out"),
                 Cond(DEGRADED, False, AS_EXPECTED)]
        fields = {"replicas": count, "readyReplicas": count, "desiredReplicas": count, "readyEndpoints": count}
        return fields, [*conds, supported(unsupported_fields(spec))]
    n = _deployment_numbers(deployment)
    if spec.autoscaling.enabled and deployment is not None:
        desired = int((deployment.get("spec") or {}).get("replicas", spec.replicas.min))
    else:
        desired = spec.replicas.min
    fields = {"replicas": n["replicas"], "readyReplicas": n["readyReplicas"],
              "desiredReplicas": desired, "readyEndpoints": ready_endpoints}
    return fields, [*rollout(deployment, desired, apply_error), supported(unsupported_fields(spec))]


def gateway_status(spec: InferenceGatewaySpec, deployment: dict[str, Any] | None, config_version: str | None,
                   pools: int, routes: int, apply_error: str | None) -> Status:
    n = _deployment_numbers(deployment)
    conds = rollout(deployment, spec.replicas, apply_error)
    if config_version is None and conds[0].status:
        conds[0] = Cond(READY, False, "ConfigPending", "the gateway config has not been written yet")
    fields: dict[str, Any] = {"replicas": n["replicas"], "readyReplicas": n["readyReplicas"],
                              "pools": pools, "routes": routes}
    if config_version:
        fields["configVersion"] = config_version
    return fields, [*conds, supported(unsupported_fields(spec))]


def policy_status(spec: BaseModel, missing_pools: list[str], gateways: int, extra: dict[str, Any]) -> Status:
    """RoutePolicy / CachePolicy: compiled into the namespace's gateway config, or why not."""
    if missing_pools:
        message = f"unknown pool(s): {', '.join(missing_pools)}; the policy is left out of the gateway config"
        conds = [Cond(READY, False, "UnknownPool", message, warning=True),
                 Cond(PROGRESSING, False, "UnknownPool", message),
                 Cond(DEGRADED, True, "UnknownPool", message, warning=True)]
    elif isinstance(spec, CachePolicySpec) and extra.get("routes") == 0:
        message = ("it serves no route: no rule it names exists, or an earlier CachePolicy (by name) serves them; "
                   "it caches nothing")
        conds = [Cond(READY, False, "NoMatchingRoute", message, warning=True),
                 Cond(PROGRESSING, False, "NoMatchingRoute", message),
                 Cond(DEGRADED, False, AS_EXPECTED)]
    elif gateways == 0:
        message = "no InferenceGateway in this namespace serves it yet"
        conds = [Cond(READY, False, "NoGateway", message),
                 Cond(PROGRESSING, False, "NoGateway", message),
                 Cond(DEGRADED, False, AS_EXPECTED)]
    else:
        message = f"compiled into the config of {gateways} gateway(s)"
        conds = [Cond(READY, True, "Compiled", message),
                 Cond(PROGRESSING, False, "Compiled", message),
                 Cond(DEGRADED, False, AS_EXPECTED)]
    return extra, [*conds, supported(unsupported_fields(spec))]
