"""The operator against a real kube-apiserver + etcd, with the node harness playing kubelet and controllers.

The operator runs as a subprocess with exactly the chart's RBAC (OPERATOR_RULES) and
peering on, as in production. Every test works in its own namespace.
"""

from __future__ import annotations

import json
import re
import signal
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tokenway_gateway.config.kube_source import KubeConnection
from tokenway_gateway.config.store import parse_config

from e2e.conftest import OperatorProcess, apply
from e2e.kube_cluster import ControlPlane
from e2e.node_harness import NodeHarness
from e2e.propagation import GatewayConfigWatch, endpoint_slice
from e2e.waiting import eventually

pytestmark = pytest.mark.e2e

API = "/apis/tokenway.io/v1alpha1"
PROPAGATION_BUDGET_SECONDS = 2.0
# Namespaces where the test itself plays the EndpointSlice controller (the harness keeps out).
MANUAL_ENDPOINTS: set[str] = set()
# Namespaces where the harness runs real simulator and gateway processes.
WITH_PROCESSES: set[str] = set()


def contains(big: Any, small: Any) -> bool:
    """``small`` is ``big`` with some defaulted fields left out."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and contains(big[k], v) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(big) == len(small) and all(map(contains, big, small))
    return bool(big == small)


class Kube:
    """Admin access for the tests (the operator itself never uses it)."""

    def __init__(self, cp: ControlPlane) -> None:
        self.client = cp.http_client()

    def path(self, plural: str, ns: str, name: str | None = None) -> str:
        core = {"services", "configmaps", "serviceaccounts", "events", "pods"}
        group = {"deployments": "/apis/apps/v1", "poddisruptionbudgets": "/apis/policy/v1",
                 "roles": "/apis/rbac.authorization.k8s.io/v1", "rolebindings": "/apis/rbac.authorization.k8s.io/v1",
                 "endpointslices": "/apis/discovery.k8s.io/v1"}.get(plural, "/api/v1" if plural in core else API)
        return f"{group}/namespaces/{ns}/{plural}" + (f"/{name}" if name else "")

    def apply_cr(self, plural: str, ns: str, name: str, spec: dict[str, Any], kind: str) -> dict[str, Any]:
        body = {"apiVersion": "tokenway.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": ns},
                "spec": spec}
        return apply(self.client, self.path(plural, ns, name), body, manager="e2e-user")

    def create(self, plural: str, ns: str, body: dict[str, Any], **params: str) -> httpx.Response:
        return self.client.post(self.path(plural, ns), json=body, params=params)

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        response = self.client.get(self.path(plural, ns, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def delete(self, plural: str, ns: str, name: str) -> None:
        self.client.delete(self.path(plural, ns, name)).raise_for_status()

    def merge_patch(self, plural: str, ns: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        response = self.client.patch(self.path(plural, ns, name), content=json.dumps(patch),
                                     headers={"Content-Type": "application/merge-patch+json"})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def condition(self, plural: str, ns: str, name: str, type_: str) -> dict[str, Any] | None:
        obj = self.get(plural, ns, name) or {}
        return next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == type_), None)

    def config(self, ns: str, gateway: str = "gw") -> Any:
        cm = self.get("configmaps", ns, f"{gateway}-config")
        return parse_config(cm["data"]["config.yaml"]) if cm else None

    def events(self, ns: str, name: str) -> list[dict[str, Any]]:
        response = self.client.get(self.path("events", ns), params={"fieldSelector": f"involvedObject.name={name}"})
        items: list[dict[str, Any]] = response.raise_for_status().json()["items"]
        return items


@pytest.fixture(scope="module")
def kube(cluster: ControlPlane) -> Iterator[Kube]:
    k = Kube(cluster)
    yield k
    k.client.close()


@pytest.fixture(scope="module")
def harness(cluster: ControlPlane, operator: OperatorProcess) -> Iterator[NodeHarness]:
    with NodeHarness(cluster, processes=WITH_PROCESSES, ignore=MANUAL_ENDPOINTS) as h:
        yield h
    assert not h.errors, h.errors


@pytest.fixture
def ns(kube: Kube, request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:5]
    kube.client.post("/api/v1/namespaces", json={"metadata": {"name": name}}).raise_for_status()
    return name


def pool_spec(replicas: int = 1, **extra: Any) -> dict[str, Any]:
    return {"models": [{"name": "llama", "aliases": ["l3"]}], "replicas": {"min": replicas, "max": replicas},
            **extra}


def route_spec(*pools: str, **extra: Any) -> dict[str, Any]:
    return {"rules": [{"name": "main", "backends": [{"pool": p} for p in pools]}], **extra}


# ---- CRD schemas on the real API server ---------------------------------------------------------


VALID = [
    ("inferencepools", "InferencePool", {
        "models": [{"name": "llama", "upstreamName": "meta-llama/Llama-3.1-8B", "aliases": ["l3"]}],
        "quantization": "awq", "speculativeDecoding": {"draftModel": "meta-llama/Llama-3.2-1B"},
        "gpus": 2, "gpuType": "NVIDIA-H100-80GB-HBM3", "nodeSelector": {"zone": "a"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "replicas": {"min": 1, "max": 4}, "autoscaling": {"enabled": True, "ttftP95TargetSeconds": 0.5},
    }),
    ("inferencepools", "InferencePool", {
        "models": [{"name": "gpt-4o"}], "engine": "external",
        "endpoints": [{"url": "https://api.openai.com", "apiKeySecretRef": {"name": "openai"}}],
    }),
    ("routepolicies", "RoutePolicy", {
        "rules": [{"name": "chat", "match": {"models": ["llama"], "headers": {"x-team": "a"}},
                   "backends": [{"pool": "llama", "weight": 3}], "fallbacks": ["gpt"]}],
        "retries": {"attempts": 1}, "timeouts": {"requestSeconds": 30},
    }),
    ("cachepolicies", "CachePolicy", {"mode": "semantic", "backend": "redis", "redisUrl": "redis://r:6379"}),
    ("inferencegateways", "InferenceGateway", {"replicas": 2, "serviceType": "LoadBalancer"}),
]


@pytest.mark.parametrize(("plural", "kind", "spec"), VALID, ids=[f"{v[1]}-{i}" for i, v in enumerate(VALID)])
def test_valid_examples_round_trip(kube: Kube, cluster: ControlPlane, plural: str, kind: str,
                                   spec: dict[str, Any]) -> None:
    ns = "schema-valid"
    kube.client.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
    name = f"ok-{uuid.uuid4().hex[:6]}"
    body = {"apiVersion": "tokenway.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    response = kube.create(plural, ns, body, fieldValidation="Strict")
    assert response.status_code == 201, response.text
    stored = response.json()["spec"]
    assert contains(stored, spec)  # what was sent, plus the schema's defaults
    # The API server applied the models' defaults, and the models accept what it stored.
    from tokenway_operator.kinds import KINDS

    model = next(k for k in KINDS if k.plural == plural).spec_model
    parsed = model.model_validate(stored)
    if plural == "inferencepools" and spec.get("engine") is None:
        assert stored["engine"] == "vllm" and stored["port"] == 8000 and stored["prefixCaching"] is True
        assert stored["replicas"] == {"min": 1, "max": 4} and stored["autoscaling"]["tolerance"] == 0.1
    assert parsed is not None


INVALID = [
    ("inferencepools", "InferencePool", pool_spec(engine="tpu"), "Unsupported value"),
    ("inferencepools", "InferencePool", pool_spec(port=70000), "65535"),
    ("inferencepools", "InferencePool", {"models": [{"name": "m"}], "replicas": {"min": 3, "max": 1}},
     "replicas.min must be <= replicas.max"),
    ("inferencepools", "InferencePool", {"models": [{"name": "m"}], "engine": "external"},
     "engine: external needs at least one endpoint"),
    ("inferencepools", "InferencePool", {"models": [{"name": "m"}], "endpoints": [{"url": "https://x"}]},
     "endpoints are only for engine: external"),
    ("inferencepools", "InferencePool", {"models": []}, "should have at least 1 items"),
    ("inferencepools", "InferencePool", pool_spec(shmSize="lots"), "spec.shmSize"),
    ("routepolicies", "RoutePolicy", {"rules": [{"name": "a", "backends": [{"pool": "p"}]},
                                                {"name": "a", "backends": [{"pool": "q"}]}]},
     "rule names must be unique"),
    ("routepolicies", "RoutePolicy", route_spec("Bad_Pool"), "spec.rules[0].backends[0].pool"),
    ("routepolicies", "RoutePolicy", route_spec("p", loadBalancing={"algorithm": "random"}), "Unsupported value"),
    ("cachepolicies", "CachePolicy", {"backend": "redis"}, "backend: redis needs redisUrl or redisSecretRef"),
    ("cachepolicies", "CachePolicy", {"similarityThreshold": 0.1}, "spec.similarityThreshold"),
    ("cachepolicies", "CachePolicy", {"embedding": {"kind": "pool", "pool": "emb"}}, "kind: pool needs pool and model"),
    ("inferencegateways", "InferenceGateway", {"serviceType": "Ingress"}, "Unsupported value"),
    ("inferencegateways", "InferenceGateway", {"replicas": 1, "color": "red"}, 'unknown field "spec.color"'),
]


@pytest.mark.parametrize(("plural", "kind", "spec", "message"), INVALID,
                         ids=[f"{v[1]}-{i}" for i, v in enumerate(INVALID)])
def test_invalid_examples_rejected_by_the_api_server(kube: Kube, cluster: ControlPlane, plural: str, kind: str,
                                                     spec: dict[str, Any], message: str) -> None:
    ns = "schema-invalid"
    kube.client.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
    body = {"apiVersion": "tokenway.io/v1alpha1", "kind": kind, "metadata": {"name": "bad"}, "spec": spec}
    response = kube.create(plural, ns, body, fieldValidation="Strict")
    assert response.status_code in (400, 422), response.text  # 400: strict decoding of an unknown field
    assert message in response.json()["message"], response.json()["message"]


def test_printer_columns_and_short_names(kube: Kube, harness: NodeHarness, ns: str) -> None:
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(2, region="eu"), "InferencePool")
    eventually(lambda: (kube.get("inferencepools", ns, "llama") or {}).get("status", {}).get("readyReplicas") == 2,
               what="2 ready replicas")
    table = kube.client.get(kube.path("inferencepools", ns),
                            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns[:9] == ["Name", "Engine", "Region", "Ready", "Desired", "TTFT-P95", "Queue", "Status", "Age"]
    row = table["rows"][0]["cells"]
    assert row[:5] == ["llama", "vllm", "eu", 2, 2] and row[7] == "AllReplicasReady"
    resources = kube.client.get("/apis/tokenway.io/v1alpha1").json()["resources"]
    short = {r["name"]: r.get("shortNames") for r in resources if "/" not in r["name"]}
    assert short == {"inferencepools": ["ipool"], "routepolicies": ["rpol"], "cachepolicies": ["cpol"],
                     "inferencegateways": ["igw"]}
    assert all(r.get("categories") == ["tokenway"] for r in resources if "/" not in r["name"])


# ---- reconciling each kind ----------------------------------------------------------------------


def test_pool_lifecycle(kube: Kube, harness: NodeHarness, ns: str) -> None:
    created = kube.apply_cr("inferencepools", ns, "llama",
                            pool_spec(2, gpuType="NVIDIA-L4", quantization="fp8"), "InferencePool")
    uid = created["metadata"]["uid"]
    deployment = eventually(lambda: kube.get("deployments", ns, "llama"), what="pool Deployment")
    owner = deployment["metadata"]["ownerReferences"][0]
    assert owner["uid"] == uid and owner["controller"] is True and owner["kind"] == "InferencePool"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    assert "--quantization" in pod["containers"][0]["args"] and deployment["spec"]["replicas"] == 2
    eventually(lambda: kube.get("services", ns, "llama") and kube.get("poddisruptionbudgets", ns, "llama"),
               what="Service and PodDisruptionBudget")
    managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
    assert "tokenway" in managers  # server-side apply with our field manager

    def ready() -> dict[str, Any] | None:
        status = (kube.get("inferencepools", ns, "llama") or {}).get("status") or {}
        return status if status.get("readyReplicas") == 2 and status.get("readyEndpoints") == 2 else None

    status = eventually(ready, what="pool ready")
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "AllReplicasReady"
    assert conds["Progressing"]["status"] == "False" and conds["Degraded"]["status"] == "False"
    assert conds["Supported"]["status"] == "True" and status["observedGeneration"] == 1
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])

    kube.apply_cr("inferencepools", ns, "llama", pool_spec(3, gpuType="NVIDIA-L4"), "InferencePool")
    eventually(lambda: kube.get("deployments", ns, "llama")["spec"]["replicas"] == 3, what="scaled Deployment")
    status = eventually(lambda: (s := kube.get("inferencepools", ns, "llama")["status"])["readyReplicas"] == 3
                        and s["observedGeneration"] == 2 and s, what="3 ready at generation 2")
    assert status["desiredReplicas"] == 3
    assert "--quantization" not in kube.get("deployments", ns, "llama")["spec"]["template"]["spec"][
        "containers"][0]["args"]  # a field removed from the spec is removed from the Deployment

    # engine: external owns no pods: the in-cluster children go away.
    kube.apply_cr("inferencepools", ns, "llama", {"models": [{"name": "llama"}], "engine": "external",
                                                  "endpoints": [{"url": "https://api.example.com"}]},
                  "InferencePool")
    eventually(lambda: kube.get("deployments", ns, "llama") is None and kube.get("services", ns, "llama") is None,
               what="children pruned")
    eventually(lambda: (kube.condition("inferencepools", ns, "llama", "Ready") or {}).get("reason")
               == "ExternalEndpoints", what="external pool ready")


def test_gateway_objects_config_and_least_privilege(kube: Kube, harness: NodeHarness, ns: str,
                                                    cluster: ControlPlane) -> None:
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(2), "InferencePool")
    kube.apply_cr("routepolicies", ns, "main", route_spec("llama"), "RoutePolicy")
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1, "port": 9000}, "InferenceGateway")
    for plural, name in (("serviceaccounts", "gw"), ("roles", "gw"), ("rolebindings", "gw"),
                         ("deployments", "gw"), ("services", "gw")):
        eventually(lambda p=plural, n=name: kube.get(p, ns, n), what=f"{plural}/{name}")
    deployment = kube.get("deployments", ns, "gw")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "tokenway:e2e"
    assert container["command"][:5] == ["tokenway", "gateway", "--kube-configmap", f"{ns}/gw-config", "--port"]

    def config_with_endpoints() -> Any:
        config = kube.config(ns)
        return config if config and config.pools and len(config.pools[0].endpoints) == 2 else None

    config = eventually(config_with_endpoints, what="config with 2 endpoints")
    assert [r.name for r in config.routes] == ["main"]
    status = eventually(lambda: (s := kube.get("inferencegateways", ns, "gw")["status"]).get("configVersion")
                        == config.version and s, what="gateway status shows the version")
    assert status["pools"] == 1 and status["routes"] == 1

    # An external pool's API key reaches the gateway as an env var from its Secret (never read by the operator).
    kube.apply_cr("inferencepools", ns, "openai", {
        "models": [{"name": "gpt-4o"}], "engine": "external",
        "endpoints": [{"url": "https://api.openai.com", "apiKeySecretRef": {"name": "openai", "key": "token"}}],
    }, "InferencePool")

    def key_env() -> dict[str, Any] | None:
        env = kube.get("deployments", ns, "gw")["spec"]["template"]["spec"]["containers"][0]["env"]
        return next((e for e in env if e["name"] == "TOKENWAY_UPSTREAM_KEY_OPENAI_0"), None)

    assert eventually(key_env, what="key env on the gateway")["valueFrom"] == {
        "secretKeyRef": {"name": "openai", "key": "token"}}
    external = eventually(lambda: next(p for p in kube.config(ns).pools if p.name == "openai"), what="openai pool")
    assert external.endpoints[0].api_key_env == "TOKENWAY_UPSTREAM_KEY_OPENAI_0"

    # The gateway's identity can read and watch its ConfigMap, and nothing else.
    token = cluster.service_account_token(ns, "gw")
    with cluster.http_client(token=token) as gw:
        own = f"/api/v1/namespaces/{ns}/configmaps"
        assert gw.get(f"{own}/gw-config").status_code == 200
        assert gw.get(own, params={"fieldSelector": "metadata.name=gw-config"}).status_code == 200
        assert gw.get(own).status_code == 403
        assert gw.get(f"/api/v1/namespaces/{ns}/secrets").status_code == 403
        assert gw.get(f"{API}/namespaces/{ns}/inferencepools").status_code == 403


def test_policy_status_unsupported_fields_and_events(kube: Kube, harness: NodeHarness, ns: str) -> None:
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1}, "InferenceGateway")
    kube.apply_cr("routepolicies", ns, "main",
                  route_spec("llama", loadBalancing={"algorithm": "power-of-two"}), "RoutePolicy")
    kube.apply_cr("cachepolicies", ns, "cache", {"mode": "exact"}, "CachePolicy")
    eventually(lambda: kube.condition("routepolicies", ns, "main", "Ready")["reason"] == "UnknownPool",
               what="UnknownPool")
    assert not kube.config(ns).routes  # left out until its pool exists
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(1), "InferencePool")
    eventually(lambda: kube.condition("routepolicies", ns, "main", "Ready")["reason"] == "Compiled",
               what="Compiled")
    eventually(lambda: [r.name for r in kube.config(ns).routes] == ["main"], what="route in config")
    supported = eventually(lambda: kube.condition("routepolicies", ns, "main", "Supported"), what="supported")
    assert supported["status"] == "True"  # power-of-two is enforced by the gateway
    cache = eventually(lambda: kube.condition("cachepolicies", ns, "cache", "Supported"), what="cache status")
    assert cache["status"] == "True"  # the gateway caches (issue 9)
    # Embeddings from a pool and a Redis URL from a Secret are enforced: Supported, and the Secret reaches the
    # gateway as an env var the kubelet fills (the operator never reads it), named in the compiled config.
    kube.apply_cr("cachepolicies", ns, "pooled", {"mode": "semantic", "backend": "redis",
                                                  "redisSecretRef": {"name": "cache-redis", "key": "url"},
                                                  "embedding": {"kind": "pool", "pool": "emb", "model": "bge"}},
                  "CachePolicy")
    pooled = eventually(lambda: kube.condition("cachepolicies", ns, "pooled", "Supported"), what="pooled status")
    assert pooled["status"] == "True"
    env = eventually(lambda: next((e for e in kube.get("deployments", ns, "gw")["spec"]["template"]["spec"][
        "containers"][0]["env"] if e["name"] == "TOKENWAY_CACHE_REDIS_URL_POOLED"), None), what="cache Redis env")
    assert env["valueFrom"] == {"secretKeyRef": {"name": "cache-redis", "key": "url"}}
    compiled = eventually(lambda: next((c for c in kube.config(ns).caches if c.name == "pooled"), None),
                          what="pooled in config")
    assert compiled.redis_url_env == "TOKENWAY_CACHE_REDIS_URL_POOLED" and compiled.redis_secret_ref is not None
    # The policy serves every rule; one naming a rule that does not exist caches nothing and is not Ready.
    eventually(lambda: (kube.get("cachepolicies", ns, "cache") or {}).get("status", {}).get("routes", 0) >= 1,
               what="routes served")
    kube.apply_cr("cachepolicies", ns, "zz-nothing", {"routes": ["no-such-rule"]}, "CachePolicy")
    idle = eventually(lambda: kube.condition("cachepolicies", ns, "zz-nothing", "Ready"), what="idle cache status")
    assert idle["status"] == "False" and idle["reason"] == "NoMatchingRoute"
    events = eventually(lambda: kube.events(ns, "main") if len(kube.events(ns, "main")) >= 2 else None,
                        what="route events")
    reasons = {(e["reason"], e["type"]) for e in events}
    assert ("UnknownPool", "Warning") in reasons and ("Compiled", "Normal") in reasons
    assert ("NotSupportedYet", "Warning") not in reasons
    assert all(e["involvedObject"]["kind"] == "RoutePolicy" for e in events)


def test_invalid_spec_gets_a_condition_not_a_crash_loop(kube: Kube, harness: NodeHarness, ns: str,
                                                        operator: OperatorProcess) -> None:
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(1), "InferencePool")
    # The schema cannot compile a regex; the pydantic model can, and says no.
    kube.apply_cr("routepolicies", ns, "bad", {"rules": [{"name": "r", "match": {"promptRegex": "(unclosed"},
                                                          "backends": [{"pool": "llama"}]}]}, "RoutePolicy")
    ready = eventually(lambda: kube.condition("routepolicies", ns, "bad", "Ready"), what="InvalidSpec condition")
    assert ready["status"] == "False" and ready["reason"] == "InvalidSpec" and "promptRegex" in ready["message"]
    eventually(lambda: [e for e in kube.events(ns, "bad") if e["reason"] == "InvalidSpec"], what="InvalidSpec event")
    time.sleep(1)  # Ready=False and Degraded=True each post one
    events = [e for e in kube.events(ns, "bad") if e["reason"] == "InvalidSpec"]
    assert all(e["type"] == "Warning" for e in events) and len(events) == 2
    time.sleep(3)  # a crash loop would retry, and post again, meanwhile
    assert len([e for e in kube.events(ns, "bad") if e["reason"] == "InvalidSpec"]) == len(events)
    assert operator.process is not None and operator.process.poll() is None
    kube.apply_cr("routepolicies", ns, "bad", route_spec("llama"), "RoutePolicy")
    eventually(lambda: kube.condition("routepolicies", ns, "bad", "Ready")["reason"] == "NoGateway",
               what="fixed spec accepted")


# ---- drift, deletion, restarts ------------------------------------------------------------------


def test_drift_on_owned_fields_is_corrected(kube: Kube, harness: NodeHarness, ns: str) -> None:
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(2), "InferencePool")
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1}, "InferenceGateway")
    eventually(lambda: kube.get("deployments", ns, "llama") and kube.get("roles", ns, "gw"), what="children")
    eventually(lambda: kube.get("configmaps", ns, "gw-config"), what="config")
    intruder = "someone-else"
    apply(kube.client, kube.path("deployments", ns, "llama"), {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
            "name": "llama", "namespace": ns, "annotations": {"team.example.com/owner": "ml"}},
        "spec": {"replicas": 7}}, manager=intruder)
    apply(kube.client, kube.path("services", ns, "llama"), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "llama", "namespace": ns},
        "spec": {"ports": [{"port": 8000, "protocol": "TCP", "targetPort": 9999}]}}, manager=intruder)
    kube.merge_patch("roles", ns, "gw", {"rules": [{"apiGroups": [""], "resources": ["secrets"],
                                                    "verbs": ["get"]}]})
    kube.merge_patch("configmaps", ns, "gw-config", {"data": {"config.yaml": "pools: []\n"}})
    eventually(lambda: kube.get("deployments", ns, "llama")["spec"]["replicas"] == 2, what="replicas restored")
    eventually(lambda: kube.get("services", ns, "llama")["spec"]["ports"][0]["targetPort"] == "http",
               what="targetPort restored")
    eventually(lambda: kube.get("roles", ns, "gw")["rules"][0]["resources"] == ["configmaps"], what="role restored")
    eventually(lambda: kube.config(ns).pools, what="config restored")
    # Fields the operator does not own are left alone.
    deployment = kube.get("deployments", ns, "llama")
    assert deployment["metadata"]["annotations"]["team.example.com/owner"] == "ml"


def test_deleted_children_are_recreated(kube: Kube, harness: NodeHarness, ns: str) -> None:
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(1), "InferencePool")
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1}, "InferenceGateway")
    children = [("deployments", "llama"), ("services", "llama"), ("poddisruptionbudgets", "llama"),
                ("configmaps", "gw-config"), ("roles", "gw"), ("rolebindings", "gw"), ("deployments", "gw"),
                ("serviceaccounts", "gw")]
    uids = {c: eventually(lambda c=c: kube.get(*c[:1], ns, c[1]), what=str(c))["metadata"]["uid"] for c in children}
    for plural, name in children:
        kube.delete(plural, ns, name)
    for child in children:
        recreated = eventually(lambda c=child: kube.get(c[0], ns, c[1]), what=f"recreated {child}")
        assert recreated["metadata"]["uid"] != uids[child]


def test_deleting_a_pool_takes_it_out_of_the_config(kube: Kube, harness: NodeHarness, ns: str) -> None:
    kube.apply_cr("inferencepools", ns, "a", pool_spec(1), "InferencePool")
    kube.apply_cr("inferencepools", ns, "b", pool_spec(1), "InferencePool")
    kube.apply_cr("routepolicies", ns, "main", route_spec("a"), "RoutePolicy")
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1}, "InferenceGateway")
    eventually(lambda: {p.name for p in kube.config(ns).pools} == {"a", "b"}, what="both pools")
    kube.delete("inferencepools", ns, "b")
    eventually(lambda: {p.name for p in kube.config(ns).pools} == {"a"}, what="b removed")
    kube.delete("inferencepools", ns, "a")
    eventually(lambda: not kube.config(ns).pools and not kube.config(ns).routes, what="a and its route removed")
    eventually(lambda: kube.condition("routepolicies", ns, "main", "Ready")["reason"] == "UnknownPool",
               what="route reports the missing pool")
    kube.delete("inferencegateways", ns, "gw")
    # No garbage collector runs here; owner references are what a real cluster's GC follows.
    cm = kube.get("configmaps", ns, "gw-config")
    assert cm is None or cm["metadata"]["ownerReferences"][0]["kind"] == "InferenceGateway"


def test_operator_restart_mid_reconcile_converges(kube: Kube, harness: NodeHarness, ns: str,
                                                  operator: OperatorProcess) -> None:
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1}, "InferenceGateway")
    eventually(lambda: kube.get("configmaps", ns, "gw-config"), what="gateway config")
    names = [f"p{i}" for i in range(12)]
    for name in names:
        kube.apply_cr("inferencepools", ns, name, pool_spec(1), "InferencePool")
    time.sleep(0.3)
    operator.stop(signal.SIGKILL)  # mid-reconcile: some pools done, some not, some half-applied
    for name in names[:4]:
        kube.apply_cr("inferencepools", ns, name, pool_spec(2), "InferencePool")  # changed while it was down
    operator.start()

    def converged() -> bool:
        for name in names:
            pool = kube.get("inferencepools", ns, name) or {}
            want = 2 if name in names[:4] else 1
            status = pool.get("status") or {}
            assert status.get("observedGeneration") == pool["metadata"]["generation"], (name, pool)
            assert status.get("readyReplicas") == want, (name, status)
        return {p.name for p in kube.config(ns).pools} == set(names)

    eventually(converged, timeout=60, what="all pools converged after the restart")


def test_namespace_scoped_operator_ignores_other_namespaces(kube: Kube, harness: NodeHarness,
                                                            operator: OperatorProcess, cluster: ControlPlane) -> None:
    inside, outside = (f"scoped-{uuid.uuid4().hex[:5]}" for _ in range(2))
    for name in (inside, outside):
        kube.client.post("/api/v1/namespaces", json={"metadata": {"name": name}}).raise_for_status()
    operator.stop()  # the cluster-wide one would reconcile both
    scoped = OperatorProcess(cluster, operator.kubeconfig, "--standalone", "--namespace", inside)
    try:
        scoped.start()
        for name in (inside, outside):
            kube.apply_cr("inferencepools", name, "llama", pool_spec(1), "InferencePool")
        eventually(lambda: kube.get("deployments", inside, "llama"), what="pool reconciled in scope")
        time.sleep(1)
        assert kube.get("deployments", outside, "llama") is None
        assert not (kube.get("inferencepools", outside, "llama") or {}).get("status")
    finally:
        scoped.stop()
        operator.start()
    eventually(lambda: kube.get("deployments", outside, "llama"), what="the cluster-wide operator takes over")


# ---- config propagation to the gateway ----------------------------------------------------------


async def test_endpoint_change_reaches_the_gateway_within_two_seconds(kube: Kube, operator: OperatorProcess,
                                                                      cluster: ControlPlane) -> None:
    ns = f"propagation-{uuid.uuid4().hex[:5]}"
    MANUAL_ENDPOINTS.add(ns)  # this test plays the EndpointSlice controller itself
    kube.client.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(1), "InferencePool")
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1}, "InferenceGateway")
    service = eventually(lambda: kube.get("services", ns, "llama"), what="pool Service")
    eventually(lambda: kube.get("rolebindings", ns, "gw") and kube.get("configmaps", ns, "gw-config"),
               what="gateway RBAC and config")

    # The gateway's own code path, with the gateway's own identity (its Role only).
    latencies: list[float] = []
    async with GatewayConfigWatch(cluster, ns, "gw-config", "gw") as watch, \
            KubeConnection.from_kubeconfig(cluster.kubeconfig_path).client() as admin:
        for i in range(10):
            ips = [f"10.1.{i}.{j}" for j in range(1, 3)]
            slice_ = endpoint_slice(ns, "llama", "llama-manual", service["metadata"]["uid"], ips)
            latency = await watch.time_change(admin, cluster.admin_token, slice_, timeout=10)
            assert latency is not None, f"change {i} never reached the gateway"
            latencies.append(latency)
    print(f"endpoint change -> gateway config: p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} changes")
    assert max(latencies) < PROPAGATION_BUDGET_SECONDS, latencies


def test_real_gateway_serves_through_simulated_pool(kube: Kube, harness: NodeHarness, cluster: ControlPlane) -> None:
    ns = f"traffic-{uuid.uuid4().hex[:5]}"
    WITH_PROCESSES.add(ns)
    kube.client.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(2), "InferencePool")
    kube.apply_cr("routepolicies", ns, "main", route_spec("llama"), "RoutePolicy")
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1}, "InferenceGateway")
    eventually(lambda: kube.condition("inferencegateways", ns, "gw", "Ready")["status"] == "True",
               timeout=60, what="gateway ready")
    gateway = eventually(lambda: harness.endpoints_of(ns, "gw"), what="gateway pod")[0]
    eventually(lambda: len(kube.config(ns).pools[0].endpoints) == 2, what="2 endpoints in config")

    def running_version() -> str | None:
        text = httpx.get(f"{gateway}/metrics", timeout=2).text
        found = re.search(r'tokenway_config_info\{version="([0-9a-f]+)"\}', text)
        return found.group(1) if found else None

    eventually(lambda: running_version() == kube.config(ns).version, what="gateway runs the compiled config")
    with httpx.Client(base_url=gateway, timeout=10) as client:
        seen = set()
        for _ in range(8):
            response = client.post("/v1/chat/completions", json={
                "model": "l3", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4})
            assert response.status_code == 200, response.text
            assert response.headers["x-tokenway-pool"] == "llama"
            seen.add(response.headers["x-tokenway-endpoint"])
        assert len(seen) == 2  # both simulated replicas served

    # Scale up: a new simulator process, a new EndpointSlice, a new config, picked up live.
    started = time.monotonic()
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(3), "InferencePool")
    eventually(lambda: len(kube.config(ns).pools[0].endpoints) == 3, timeout=30, what="3 endpoints")
    version = kube.config(ns).version
    written = time.monotonic()  # the snapshot is in the ConfigMap: now the running gateway process must follow
    while running_version() != version and time.monotonic() - written < 10:
        time.sleep(0.01)
    propagation = time.monotonic() - written
    assert running_version() == version
    print(f"config written -> running gateway process applied it: {propagation * 1000:.0f} ms; scale-up to a "
          f"serving 3rd replica: {time.monotonic() - started:.2f}s (includes starting the process)")
    assert propagation < PROPAGATION_BUDGET_SECONDS


# ---- the operator process -----------------------------------------------------------------------


def test_operator_metrics_liveness_and_rbac_sufficiency(operator: OperatorProcess, harness: NodeHarness) -> None:
    assert httpx.get(f"http://127.0.0.1:{operator.liveness_port}/healthz", timeout=2).status_code == 200
    metrics = httpx.get(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=2).text
    for name in ("tokenway_operator_reconciles_total", "tokenway_operator_reconcile_duration_seconds_bucket",
                 "tokenway_operator_applies_total", "tokenway_operator_config_writes_total",
                 "tokenway_operator_drift_corrections_total", "process_resident_memory_bytes"):
        assert name in metrics, name
    # The operator ran every test with exactly OPERATOR_RULES: nothing was ever forbidden.
    log = operator.log_path.read_text(errors="replace").splitlines()
    denied = [line for line in log if re.search(r"[Ff]orbidden", line)]  # kopf and our client both say so
    assert not denied, denied[:5]
    # A fresh CRD answers 429 "storage is (re)initializing" at first: retried, so a warning, not an error.
    retried_errors = [line for line in log if " ERROR " in line and "will retry" in line]
    assert not retried_errors, retried_errors[:5]
