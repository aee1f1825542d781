"""The generated CRDs are current and structural (what the API server demands)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml
from tokenway_operator import crdgen
from tokenway_operator.kinds import KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_generated_crds_are_current() -> None:
    stale = crdgen.stale_files([ROOT / d for d in crdgen.DEFAULT_OUT_DIRS])
    assert not stale, f"stale generated CRDs (run `tokenway crds`): {[str(p) for p in stale]}"


def test_check_flag_fails_on_stale_output(tmp_path: Path) -> None:
    args = argparse.Namespace(check=True, out=[tmp_path])
    assert crdgen.run(args) == 1  # nothing generated yet
    assert crdgen.run(argparse.Namespace(check=False, out=[tmp_path])) == 0
    assert crdgen.run(args) == 0
    victim = tmp_path / "tokenway.io_inferencepools.yaml"
    victim.write_text(victim.read_text().replace("ipool", "xpool"))
    assert crdgen.run(args) == 1


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.get("properties", {}).items():
            found += _walk(value, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            found += _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: Any) -> None:
    schema = crdgen.crd_manifest(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    # The API server rejects a CRD that says anything about metadata beyond its type.
    assert schema["properties"]["metadata"] == {"type": "object"}
    text = yaml.safe_dump(schema)
    for forbidden in ("$ref", "anyOf", "$defs", "title:", "const:"):
        assert forbidden not in text, forbidden
    for path, node in _walk(schema):
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"untyped node {path}"
        assert not ("properties" in node and "additionalProperties" in node), path
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True and "minimum" in node, path


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_property_has_a_description(kind: Any) -> None:
    """`kubectl explain` shows each field's description: every API field needs a one-line one."""
    schema = crdgen.crd_manifest(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    undescribed = [f"{path}.{name}" for path, node in _walk(schema)
                   for name, sub in (node.get("properties") or {}).items()
                   if not sub.get("description") and f"{path}.{name}" != ".metadata"]  # the API server's own
    assert not undescribed, f"fields without description (add description= in tokenway_gateway.api): {undescribed}"
    long = [path for path, node in _walk(schema) if "\n" in str(node.get("description", "")).strip()]
    assert not long, f"descriptions should be one line: {long}"


def _crd(kind_name: str) -> dict[str, Any]:
    kind = next(k for k in KINDS if k.kind == kind_name)
    return crdgen.crd_manifest(kind)


def test_pool_crd_names_columns_and_rules() -> None:
    crd = _crd("InferencePool")
    names = crd["spec"]["names"]
    assert names["shortNames"] == ["ipool"] and names["categories"] == ["tokenway"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Ready"] == ".status.readyReplicas"
    assert columns["TTFT-P95"] == ".status.observedTtftP95Seconds"
    assert columns["Region"] == ".spec.region" and columns["Age"] == ".metadata.creationTimestamp"
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["engine"]["enum"] == ["vllm", "sglang", "external"]
    assert spec["properties"]["engine"]["default"] == "vllm"
    assert spec["properties"]["nodeSelector"]["additionalProperties"] == {"type": "string"}
    assert spec["properties"]["replicas"]["x-kubernetes-validations"][0]["rule"] == "self.min <= self.max"
    assert {r["rule"] for r in spec["x-kubernetes-validations"]} >= {
        "self.engine != 'external' || (has(self.endpoints) && size(self.endpoints) > 0)"}
    assert spec["properties"]["tolerations"]["items"]["x-kubernetes-preserve-unknown-fields"] is True
    ttft = spec["properties"]["autoscaling"]["properties"]["ttftP95TargetSeconds"]
    assert ttft == {"type": "number", "default": 1.0, "minimum": 0, "exclusiveMinimum": True, "maximum": 600,
                    "description": "Scale up when time-to-first-token p95 exceeds this."}
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map" and conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "default" not in yaml.safe_dump(status)


def test_every_kind_has_short_name_and_category() -> None:
    short = {k.kind: crdgen.crd_manifest(k)["spec"]["names"]["shortNames"] for k in KINDS}
    assert short == {"InferencePool": ["ipool"], "RoutePolicy": ["rpol"], "CachePolicy": ["cpol"],
                     "InferenceGateway": ["igw"]}


def test_route_and_cache_cel_rules_present() -> None:
    route = _crd("RoutePolicy")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert route["x-kubernetes-validations"]
    cache = _crd("CachePolicy")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "redisUrl" in cache["x-kubernetes-validations"][0]["rule"]


def test_peering_crds_generated() -> None:
    names = {c["metadata"]["name"] for c in crdgen.peering_crds()}
    assert names == {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}
