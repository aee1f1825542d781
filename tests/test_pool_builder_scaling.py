"""The pool Deployment's size, rollout strategy and engine resources (issue 10's builder fixes)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from tokenway_gateway.api import InferencePoolSpec
from tokenway_operator.autoscaling.bounds import clamp, floor, initial_replicas
from tokenway_operator.builders.pool import pool_deployment
from tokenway_operator.settings import Images

UID = "0000-uid"
IMAGES = Images(vllm="vllm:test", sglang="sglang:test", gateway="gw:test")


def pool(**spec: Any) -> InferencePoolSpec:
    return InferencePoolSpec.model_validate({"models": [{"name": "m"}], **spec})


def replicas_of(spec: InferencePoolSpec, decided: int | None = None) -> int:
    value: int = pool_deployment("p", "ns", UID, spec, IMAGES, decided)["spec"]["replicas"]
    return value


def test_replicas_follow_min_until_the_autoscaler_decides() -> None:
    # The examples' pools as a new user applied them: min 2 ran one pod, a min-0 pool held a GPU.
    assert replicas_of(pool(replicas={"min": 2, "max": 8}, autoscaling={"enabled": True})) == 2
    assert replicas_of(pool(replicas={"min": 0, "max": 3},
                            autoscaling={"enabled": True, "scaleToZero": True})) == 0
    # min 0 without scaleToZero: an autoscaled pool still serves with one replica.
    assert replicas_of(pool(replicas={"min": 0, "max": 3}, autoscaling={"enabled": True})) == 1
    # Autoscaling off: exactly min, 0 included.
    assert replicas_of(pool(replicas={"min": 0, "max": 3})) == 0
    assert replicas_of(pool(replicas={"min": 2, "max": 8}, autoscaling={"enabled": True}), decided=5) == 5


def test_bounds() -> None:
    zero = pool(replicas={"min": 0, "max": 3}, autoscaling={"enabled": True, "scaleToZero": True})
    assert initial_replicas(zero) == 0 and floor(zero) == 1
    assert clamp(zero, 0) == 0 and clamp(zero, 7) == 3
    ranged = pool(replicas={"min": 2, "max": 4}, autoscaling={"enabled": True})
    assert clamp(ranged, 0) == 2 and clamp(ranged, 1) == 2 and clamp(ranged, 9) == 4


def test_gpu_aware_rollout_defaults_and_override() -> None:
    strategy = pool_deployment("p", "ns", UID, pool(), IMAGES)["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    custom = pool_deployment("p", "ns", UID, pool(rollout={"maxSurge": "25%", "maxUnavailable": "0"}),
                             IMAGES)["spec"]["strategy"]
    assert custom["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    with pytest.raises(ValidationError):
        pool(rollout={"maxSurge": "lots"})


def test_engine_cpu_memory_requests_and_limits() -> None:
    dep = pool_deployment("p", "ns", UID, pool(gpus=1, resources={"cpu": "8", "memory": "64Gi",
                                                                   "memoryLimit": "80Gi"}), IMAGES)
    resources = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"},
                         "limits": {"memory": "80Gi", "nvidia.com/gpu": "1"}}
    with pytest.raises(ValidationError):
        pool(resources={"memory": "lots"})
