"""The manifests in examples/ validate against the API models and reference each other consistently.

The same pydantic models are the CRD schemas and the gateway config, so an example
that validates here is one the operator accepts; e2e/test_helm.py additionally
dry-runs them against a real API server with the generated CRDs installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from tokenway_gateway.api import (
    API_GROUP,
    API_VERSION,
    CachePolicySpec,
    GatewayConfig,
    InferenceGatewaySpec,
    InferencePoolSpec,
    RoutePolicySpec,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPEC_MODELS: dict[str, type[BaseModel]] = {
    "InferencePool": InferencePoolSpec,
    "RoutePolicy": RoutePolicySpec,
    "CachePolicy": CachePolicySpec,
    "InferenceGateway": InferenceGatewaySpec,
}
DNS1123 = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def load_examples() -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


DOCS = load_examples()
TOKENWAY_DOCS = [(f, d) for f, d in DOCS if d["apiVersion"].split("/")[0] == API_GROUP]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in TOKENWAY_DOCS if d["kind"] == kind}


def test_examples_exist() -> None:
    kinds = {d["kind"] for _, d in TOKENWAY_DOCS}
    assert kinds == set(SPEC_MODELS), f"examples cover {sorted(kinds)}"
    assert (EXAMPLES / "README.md").is_file()


@pytest.mark.parametrize(
    ("filename", "doc"),
    TOKENWAY_DOCS,
    ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in TOKENWAY_DOCS],
)
def test_spec_validates(filename: str, doc: dict[str, Any]) -> None:
    assert doc["apiVersion"] == f"{API_GROUP}/{API_VERSION}"
    assert doc["kind"] in SPEC_MODELS, f"{filename}: unknown kind {doc['kind']}"
    assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}, f"{filename}: unexpected top-level keys"
    assert "namespace" not in doc["metadata"], "examples are namespace-agnostic (kubectl apply -n ...)"
    model = SPEC_MODELS[doc["kind"]]
    spec = model.model_validate(doc["spec"])
    # The wire form round-trips: no field was silently renamed or dropped.
    dumped = spec.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert dumped == doc["spec"]


def test_every_other_object_is_plain_kubernetes() -> None:
    for filename, doc in DOCS:
        if (filename, doc) in TOKENWAY_DOCS:
            continue
        assert doc["kind"] in {"Secret", "Deployment", "Service"}, f"{filename}: {doc['kind']}"


def test_references_resolve() -> None:
    """Routes name existing pools, caches name existing rules, Secrets exist, models are served."""
    pools = {name: InferencePoolSpec.model_validate(d["spec"]) for name, d in by_kind("InferencePool").items()}
    routes = {name: RoutePolicySpec.model_validate(d["spec"]) for name, d in by_kind("RoutePolicy").items()}
    caches = {name: CachePolicySpec.model_validate(d["spec"]) for name, d in by_kind("CachePolicy").items()}
    gateways = {name: InferenceGatewaySpec.model_validate(d["spec"]) for name, d in by_kind("InferenceGateway").items()}
    secrets = {
        d["metadata"]["name"]: set(d.get("stringData", {})) | set(d.get("data", {}))
        for _, d in DOCS
        if d["kind"] == "Secret"
    }

    # The snapshot model checks route -> pool references, as the operator's compiler will.
    config = GatewayConfig.model_validate({
        "pools": [
            {
                "name": name,
                "models": [m.dump() for m in spec.models],
                "region": spec.region,
                "capacity": spec.capacity.dump(),
                "endpoints": [{"url": e.url, "weight": e.weight} for e in spec.endpoints],
            }
            for name, spec in pools.items()
        ],
        "routes": [{"name": name, **d["spec"]} for name, d in by_kind("RoutePolicy").items()],
        "caches": [{"name": name, **d["spec"]} for name, d in by_kind("CachePolicy").items()],
    })
    assert len(config.pools) == len(pools)

    rule_names = {rule.name for policy in routes.values() for rule in policy.rules}
    for cache in caches.values():
        assert set(cache.routes) <= rule_names

    served: dict[str, set[str]] = {
        name: {n for m in spec.models for n in (m.name, *m.aliases)} for name, spec in pools.items()
    }
    for policy in routes.values():
        for rule in policy.rules:
            for target in [b.pool for b in rule.backends] + rule.fallbacks:
                # Every model a rule matches is served by every pool it may send to.
                assert set(rule.match.models) <= served[target], (rule.name, target)

    refs = [g.api_key_secret_ref for g in gateways.values()]
    refs += [e.api_key_secret_ref for p in pools.values() for e in p.endpoints]
    for ref in refs:
        if ref is not None:
            assert ref.name in secrets and ref.key in secrets[ref.name], ref

    regions = {spec.region for spec in pools.values() if spec.engine != "external"}
    assert regions == {"us-east", "eu-west"}
    for policy in routes.values():
        if policy.region_preference:
            assert set(policy.region_preference.preferred) <= regions


def test_showcased_features() -> None:
    """The examples show what the README says they show."""
    pools = {name: InferencePoolSpec.model_validate(d["spec"]) for name, d in by_kind("InferencePool").items()}
    in_cluster = [p for p in pools.values() if p.engine == "vllm"]
    assert len(in_cluster) == 4
    assert all(p.quantization == "fp8" and p.prefix_caching and p.gpu_type for p in in_cluster)
    assert all(p.autoscaling.enabled for p in in_cluster)
    assert sum(p.speculative_decoding is not None for p in in_cluster) == 1
    assert any(p.autoscaling.scale_to_zero for p in in_cluster)
    models = {m.name for p in in_cluster for m in p.models}
    assert models == {"llama-3.1-8b-instruct", "qwen2.5-7b-instruct"}
    external = [p for p in pools.values() if p.engine == "external"]
    assert len(external) == 1 and all(e.api_key_secret_ref for e in external[0].endpoints)
    policy = RoutePolicySpec.model_validate(next(iter(by_kind("RoutePolicy").values()))["spec"])
    assert any(r.match.headers for r in policy.rules) and any(r.fallbacks for r in policy.rules)
    assert policy.region_preference is not None


def test_names_are_dns_labels() -> None:
    import re

    for _, doc in DOCS:
        assert re.match(DNS1123, doc["metadata"]["name"]), doc["metadata"]["name"]


def _tiltfile_constant(name: str) -> Any:
    import ast

    text = (EXAMPLES.parent / "Tiltfile").read_text()
    line = next(line for line in text.splitlines() if line.startswith(f"{name} = "))
    return ast.literal_eval(line.split(" = ", 1)[1])


@pytest.mark.parametrize("name", sorted(by_kind("InferencePool")))
def test_simulator_stands_in_for_vllm(name: str) -> None:
    """The Tiltfile runs each vLLM pool on the simulator image (ENTRYPOINT `tokenway sim`):
    the operator's vLLM arguments for that pool must parse as simulator arguments."""
    import argparse

    from tokenway_gateway.simulator.cli import add_arguments
    from tokenway_operator.builders import pool as builders

    spec = dict(by_kind("InferencePool")[name]["spec"])
    if spec.get("engine") == "external":
        pytest.skip("external pools have no engine")
    for field in _tiltfile_constant("GPU_ONLY_FIELDS"):
        spec.pop(field, None)
    spec.update(gpus=0, args=_tiltfile_constant("SIM_ARGS"))
    args = builders.vllm_args(InferencePoolSpec.model_validate(spec))
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(parser)
    parsed, unknown = parser.parse_known_args(args)
    assert not unknown, f"the simulator rejects {unknown}"
    assert parsed.port == spec.get("port", 8000)
