"""The README's Kubernetes quick start, run as written against the real API server with the operator.

The commands are read from the README's "On Kubernetes" block, so the test fails when
the README stops working: each ``kubectl apply -n NS -f FILE...`` is applied
server-side (what ``kubectl apply --server-side`` sends), in a fresh namespace instead
of ``tokenway-demo``. ``helm install`` is played by the session's operator (same RBAC
as the chart; e2e/test_helm.py installs the chart itself). Then what a new user
expects must hold: every route policy compiled into the gateway's config (no
UnknownPool), and every Secret the gateway's pods reference exists with its key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import yaml
from tokenway_gateway.config.store import parse_config

from e2e.conftest import ROOT, OperatorProcess
from e2e.kube_cluster import ControlPlane
from e2e.quickstart import DEMO_NAMESPACE, flag_values, readme_commands

pytestmark = pytest.mark.e2e

T = TypeVar("T")
API = "/apis/tokenway.io/v1alpha1"
CORE = {"Secret": "secrets", "Service": "services", "ConfigMap": "configmaps"}
APPS = {"Deployment": "deployments"}


def path_of(doc: dict[str, Any], namespace: str) -> str:
    kind, name = doc["kind"], doc["metadata"]["name"]
    if kind in CORE:
        return f"/api/v1/namespaces/{namespace}/{CORE[kind]}/{name}"
    if kind in APPS:
        return f"/apis/apps/v1/namespaces/{namespace}/{APPS[kind]}/{name}"
    from tokenway_operator.kinds import KIND_BY_NAME

    return f"{API}/namespaces/{namespace}/{KIND_BY_NAME[kind].plural}/{name}"


def eventually(fn: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = fn()
            if result:
                return result
        except (AssertionError, KeyError, TypeError, IndexError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        time.sleep(0.2)


def test_readme_quick_start_works(cluster: ControlPlane, operator: OperatorProcess) -> None:
    namespace = f"quickstart-{uuid.uuid4().hex[:5]}"
    commands = readme_commands()
    assert commands[0][:2] == ["helm", "install"], "the quick start begins with installing the chart"
    applied: list[dict[str, Any]] = []
    with cluster.http_client() as client:
        for words in commands[1:]:
            assert words[0] == "kubectl", words
            words = [namespace if w == DEMO_NAMESPACE else w for w in words]
            if words[1:3] == ["create", "namespace"]:
                client.post("/api/v1/namespaces", json={"metadata": {"name": words[3]}}).raise_for_status()
            elif "apply" in words:
                (target,) = flag_values(words, "-n", "--namespace")
                for file in flag_values(words, "-f", "--filename"):
                    for doc in yaml.safe_load_all((ROOT / file).read_text()):
                        if not doc:
                            continue
                        response = client.patch(path_of(doc, target), content=json.dumps(doc),
                                                params={"fieldManager": "kubectl", "force": "true"},
                                                headers={"Content-Type": "application/apply-patch+yaml"})
                        assert response.status_code in (200, 201), (file, doc["metadata"]["name"], response.text)
                        applied.append(doc)
            elif "get" in words:
                (target,) = flag_values(words, "-n", "--namespace")
                resources = words[words.index("get") + 1].split(",")
                discovery = client.get(API).json()["resources"]
                known = {r["name"] for r in discovery} | {s for r in discovery for s in r.get("shortNames", [])}
                assert set(resources) <= known, resources
            else:
                raise AssertionError(f"the test does not know this README command: {words}")

        def get(path: str) -> dict[str, Any] | None:
            response = client.get(path)
            return None if response.status_code == 404 else response.raise_for_status().json()

        routes = [d["metadata"]["name"] for d in applied if d["kind"] == "RoutePolicy"]
        pools = [d["metadata"]["name"] for d in applied if d["kind"] == "InferencePool"]
        (gateway,) = [d["metadata"]["name"] for d in applied if d["kind"] == "InferenceGateway"]
        assert routes and pools

        def ready_reason(name: str) -> str | None:
            status = (get(f"{API}/namespaces/{namespace}/routepolicies/{name}") or {}).get("status") or {}
            ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
            return str(ready[0]["reason"]) if ready else None

        for route in routes:
            try:
                eventually(lambda r=route: ready_reason(r) == "Compiled", what=f"route policy {route} compiled")
            except AssertionError:
                raise AssertionError(f"route policy {route} is {ready_reason(route)}, not Compiled: "
                                     f"{get(f'{API}/namespaces/{namespace}/routepolicies/{route}')}") from None

        def config_with_everything() -> Any:
            cm = get(f"/api/v1/namespaces/{namespace}/configmaps/{gateway}-config")
            config = parse_config(cm["data"]["config.yaml"]) if cm else None
            if config and {r.name for r in config.routes} == set(routes) and len(config.pools) == len(pools):
                return config
            return None

        eventually(config_with_everything, what="every pool and route in the gateway's config")
        status = eventually(lambda: (get(f"{API}/namespaces/{namespace}/inferencegateways/{gateway}") or {})
                            .get("status", {}).get("configVersion") and get(
                                f"{API}/namespaces/{namespace}/inferencegateways/{gateway}")["status"],
                            what="gateway status")
        assert status["routes"] == len(routes) and status["pools"] == len(pools)

        # Every Secret the gateway's pods read (client keys, upstream keys) exists, with the key.
        deployment = eventually(lambda: get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{gateway}"),
                                what="gateway Deployment")
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        refs = [e["valueFrom"]["secretKeyRef"] for e in env if "secretKeyRef" in e.get("valueFrom", {})]
        assert refs, "the quick start's gateway uses API keys"
        for ref in refs:
            secret = get(f"/api/v1/namespaces/{namespace}/secrets/{ref['name']}")
            assert secret is not None, f"the gateway reads Secret {ref['name']}, which the quick start never creates"
            assert ref["key"] in (secret.get("data") or {}), f"Secret {ref['name']} lacks key {ref['key']}"
