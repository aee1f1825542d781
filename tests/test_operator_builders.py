"""Pure parts of the operator, tested without a cluster: builders, compiler, status, cache, RBAC."""

from __future__ import annotations

import json
from typing import Any

from tokenway_gateway.api import (
    CachePolicySpec,
    EndpointConfig,
    InferenceGatewaySpec,
    InferencePoolSpec,
    RoutePolicySpec,
)
from tokenway_gateway.config.store import ConfigStore, parse_config
from tokenway_operator import conditions as c
from tokenway_operator.applier import Applier
from tokenway_operator.builders.gateway import gateway_children, gateway_config_map, gateway_deployment
from tokenway_operator.builders.pool import pool_children, pool_deployment
from tokenway_operator.cache import Cache, deployment_entries, slice_entries, track, tracked_entries
from tokenway_operator.compile import compile_snapshot, missing_pools, render_config
from tokenway_operator.endpoints import ready_endpoints
from tokenway_operator.kinds import (
    CHILD_KINDS,
    ENDPOINT_SLICE,
    INFERENCE_GATEWAY,
    INFERENCE_POOL,
    KINDS,
    children_of,
)
from tokenway_operator.kube import object_path
from tokenway_operator.meta import MANAGED_BY, POOL_LABEL, SERVICE_NAME_LABEL
from tokenway_operator.rbac import OPERATOR_RULES
from tokenway_operator.settings import Images
from tokenway_operator.status import gateway_status, invalid, policy_status, pool_status
from tokenway_operator.unsupported import unsupported_fields

IMAGES = Images(vllm="vllm/vllm-openai:test", sglang="lmsysorg/sglang:test", gateway="tokenway:test")
UID = "0000-1111"


def pool(**spec: Any) -> InferencePoolSpec:
    return InferencePoolSpec.model_validate({"models": [{"name": "llama"}], **spec})


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = manifest["spec"]["template"]["spec"]["containers"][0]
    return result


# ---- InferencePool builders ---------------------------------------------------------------------


def test_vllm_deployment_carries_every_latency_knob() -> None:
    spec = pool(
        models=[{"name": "llama", "upstreamName": "meta-llama/Llama-3.1-8B", "aliases": ["l3", "llama-8b"]}],
        quantization="awq",
        speculativeDecoding={"draftModel": "meta-llama/Llama-3.2-1B", "numSpeculativeTokens": 4},
        prefixCaching=False,
        maxModelLen=8192,
        gpus=2,
        args=["--enforce-eager"],
        port=8001,
    )
    dep = pool_deployment("llama", "ml", UID, spec, IMAGES)
    ctr = container(dep)
    args = ctr["args"]
    assert ctr["image"] == "vllm/vllm-openai:test" and "command" not in ctr
    assert args[:2] == ["--model", "meta-llama/Llama-3.1-8B"]
    names = args[args.index("--served-model-name") + 1: args.index("--port")]
    assert names == ["meta-llama/Llama-3.1-8B", "llama", "l3", "llama-8b"]
    assert args[args.index("--port") + 1] == "8001"
    assert args[args.index("--quantization") + 1] == "awq"
    assert json.loads(args[args.index("--speculative-config") + 1]) == {
        "model": "meta-llama/Llama-3.2-1B", "num_speculative_tokens": 4}
    assert "--no-enable-prefix-caching" in args and "--enable-prefix-caching" not in args
    assert args[args.index("--max-model-len") + 1] == "8192"
    assert args[args.index("--tensor-parallel-size") + 1] == "2"
    assert args[-1] == "--enforce-eager"  # user args last: they win
    assert ctr["resources"] == {"requests": {"nvidia.com/gpu": "2", "cpu": "2", "memory": "8Gi"},
                                "limits": {"nvidia.com/gpu": "2"}}
    assert ctr["ports"] == [{"name": "http", "containerPort": 8001, "protocol": "TCP"}]


def test_pool_pod_scheduling_probes_and_shm() -> None:
    spec = pool(
        gpuType="NVIDIA-H100-80GB-HBM3",
        nodeSelector={"pool": "gpu", "nvidia.com/gpu.product": "other"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
        shmSize="16Gi",
        env={"HF_HOME": "/cache"},
    )
    dep = pool_deployment("llama", "ml", UID, spec, IMAGES)
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["volumes"] == [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}]
    ctr = container(dep)
    assert ctr["volumeMounts"] == [{"name": "shm", "mountPath": "/dev/shm"}]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert ctr[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert ctr["env"] == [{"name": "HF_HOME", "value": "/cache"}]
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "8000"


def test_pool_replicas_always_set() -> None:
    fixed = pool_deployment("p", "ns", UID, pool(replicas={"min": 3, "max": 5}), IMAGES)
    assert fixed["spec"]["replicas"] == 3
    scaled = pool_deployment("p", "ns", UID, pool(autoscaling={"enabled": True}, replicas={"min": 2, "max": 5}),
                             IMAGES)
    assert scaled["spec"]["replicas"] == 2  # min, until the autoscaler has decided
    decided = pool_deployment("p", "ns", UID, pool(autoscaling={"enabled": True}, replicas={"min": 2, "max": 5}),
                              IMAGES, replicas=4)
    assert decided["spec"]["replicas"] == 4


def test_pool_children_owned_labelled_and_selected() -> None:
    deployment, service, pdb = pool_children("llama", "ml", UID, pool(), IMAGES)
    for obj in (deployment, service, pdb):
        meta = obj["metadata"]
        assert meta["name"] == "llama" and meta["namespace"] == "ml"
        assert meta["labels"][MANAGED_BY] == "tokenway" and meta["labels"][POOL_LABEL] == "llama"
        (owner,) = meta["ownerReferences"]
        assert owner == {"apiVersion": "tokenway.io/v1alpha1", "kind": "InferencePool", "name": "llama",
                         "uid": UID, "controller": True, "blockOwnerDeletion": True}
    assert deployment["spec"]["selector"]["matchLabels"] == {POOL_LABEL: "llama"}
    assert service["spec"]["selector"] == {POOL_LABEL: "llama"}
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["maxUnavailable"] == 1
    assert deployment["spec"]["template"]["spec"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_gpu_less_pool_has_no_gpu_resources_or_toleration() -> None:
    dep = pool_deployment("cpu", "ns", UID, pool(gpus=0), IMAGES)
    assert container(dep)["resources"] == {"requests": {"cpu": "2", "memory": "8Gi"}}
    assert "tolerations" not in dep["spec"]["template"]["spec"]


def test_sglang_image_and_args() -> None:
    spec = pool(engine="sglang", prefixCaching=False, maxModelLen=4096, quantization="fp8")
    ctr = container(pool_deployment("s", "ns", UID, spec, IMAGES))
    assert ctr["image"] == "lmsysorg/sglang:test"
    assert ctr["command"] == ["python3", "-m", "sglang.launch_server"]
    args = ctr["args"]
    assert args[args.index("--model-path") + 1] == "llama"
    assert "--disable-radix-cache" in args and args[args.index("--context-length") + 1] == "4096"


def test_external_pool_has_no_children() -> None:
    spec = pool(engine="external", endpoints=[{"url": "https://api.example.com/v1"}])
    assert pool_children("ext", "ns", UID, spec, IMAGES) == []


# ---- InferenceGateway builders ------------------------------------------------------------------


def test_gateway_objects_and_least_privilege_role() -> None:
    spec = InferenceGatewaySpec.model_validate({"port": 9000, "apiKeySecretRef": {"name": "keys"}})
    pools = {"ext": pool(engine="external", endpoints=[
        {"url": "https://a.example.com", "apiKeySecretRef": {"name": "openai", "key": "token"}},
        {"url": "https://b.example.com"},
    ])}
    sa, role, binding, deployment, service = gateway_children("gw", "ml", UID, spec, "tokenway:test", pools)
    assert sa["kind"] == "ServiceAccount" and sa["metadata"]["name"] == "gw"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["gw-config"],
                              "verbs": ["get", "list", "watch"]},
                             {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["keys"],
                              "verbs": ["get", "list", "watch"]}]  # its key Secret, by name: the gateway watches it
    assert binding["roleRef"]["name"] == "gw" and binding["subjects"][0]["name"] == "gw"
    ctr = container(deployment)
    assert ctr["image"] == "tokenway:test"
    assert ctr["command"] == ["tokenway", "gateway", "--kube-configmap", "ml/gw-config", "--port", "9000",
                              "--log-level", "info", "--admin-port", "9901", "--kube-api-key-secret", "ml/keys",
                              "--kube-api-key-secret-key", "api-key"]
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "gw"
    env = {e["name"]: e for e in ctr["env"]}
    assert env["TOKENWAY_UPSTREAM_KEY_EXT_0"]["valueFrom"] == {"secretKeyRef": {"name": "openai", "key": "token"}}
    assert "TOKENWAY_UPSTREAM_KEY_EXT_1" not in env
    assert not any("secretKeyRef" in e.get("valueFrom", {}) and e["valueFrom"]["secretKeyRef"]["name"] == "keys"
                   for e in ctr["env"])  # client keys are watched, not frozen into the environment
    _, open_role, *_ = gateway_children("gw", "ml", UID, InferenceGatewaySpec(), "tokenway:test", {})
    assert [r["resources"] for r in open_role["rules"]] == [["configmaps"]]
    assert service["spec"]["ports"][0]["port"] == 9000


def test_a_cache_redis_secret_reaches_the_gateway_as_env_and_config() -> None:
    from tokenway_gateway.api import CachePolicySpec
    from tokenway_operator.compile import compile_snapshot

    caches = {"shared": CachePolicySpec.model_validate({"backend": "redis",
                                                        "redisSecretRef": {"name": "redis-url", "key": "url"}}),
              "plain": CachePolicySpec()}
    dep = gateway_deployment("gw", "ns", UID, InferenceGatewaySpec(), "tokenway:test", {}, caches)
    env = {e["name"]: e for e in container(dep)["env"]}
    assert env["TOKENWAY_CACHE_REDIS_URL_SHARED"]["valueFrom"] == {"secretKeyRef": {"name": "redis-url", "key": "url"}}
    assert not any(name.startswith("TOKENWAY_CACHE_REDIS_URL_PLAIN") for name in env)
    compiled = {c.name: c for c in compile_snapshot({}, {}, {}, caches).caches}
    assert compiled["shared"].redis_url_env == "TOKENWAY_CACHE_REDIS_URL_SHARED"
    assert compiled["plain"].redis_url_env is None


def test_gateway_image_override_and_replicas() -> None:
    spec = InferenceGatewaySpec.model_validate({"image": "mine:1", "replicas": 3})
    dep = gateway_deployment("gw", "ns", UID, spec, "tokenway:test", {})
    assert container(dep)["image"] == "mine:1" and dep["spec"]["replicas"] == 3


# ---- compile_snapshot ---------------------------------------------------------------------------


def _route(*backends: str, priority: int = 0, **extra: Any) -> RoutePolicySpec:
    return RoutePolicySpec.model_validate({
        "priority": priority,
        "rules": [{"name": "r", "backends": [{"pool": b} for b in backends]}],
        **extra,
    })


def test_compile_snapshot_pools_endpoints_routes() -> None:
    pools = {
        "b": pool(capacity={"weight": 3}),
        "a": pool(region="eu"),
        "ext": pool(engine="external", endpoints=[
            {"url": "https://api.example.com", "apiKeySecretRef": {"name": "k"}}]),
    }
    endpoints = {"a": [EndpointConfig(url="http://10.0.0.1:8000", name="a-0")],
                 "b": [EndpointConfig(url="http://10.0.0.2:8000")]}
    routes = {"low": _route("a"), "high": _route("b", priority=5), "broken": _route("missing")}
    caches = {"c": CachePolicySpec()}
    config = compile_snapshot(pools, endpoints, routes, caches, InferenceGatewaySpec(drainSeconds=7))
    assert [p.name for p in config.pools] == ["a", "b", "ext"]
    assert config.pools[0].region == "eu" and config.pools[0].endpoints[0].url == "http://10.0.0.1:8000"
    assert config.pools[1].endpoints[0].weight == 3
    assert config.pools[2].endpoints[0].api_key_env == "TOKENWAY_UPSTREAM_KEY_EXT_0"
    assert [r.name for r in config.routes] == ["high", "low"]  # priority first; broken left out
    assert [c.name for c in config.caches] == ["c"]
    assert config.server.drain_seconds == 7
    # What the ConfigMap carries is exactly what the gateway loads.
    assert parse_config(render_config(config)) == config
    store = ConfigStore()
    assert store.apply_text(render_config(config), "test") and store.current is not None
    assert store.current.version == config.version


def test_snapshot_version_is_a_content_hash() -> None:
    pools = {"a": pool()}
    one = compile_snapshot(pools, {"a": [EndpointConfig(url="http://10.0.0.1:8000")]}, {}, {})
    same = compile_snapshot(pools, {"a": [EndpointConfig(url="http://10.0.0.1:8000")]}, {}, {})
    other = compile_snapshot(pools, {"a": [EndpointConfig(url="http://10.0.0.9:8000")]}, {}, {})
    assert one.version == same.version != other.version and len(one.version) == 16


def test_missing_pools_counts_fallbacks() -> None:
    spec = RoutePolicySpec.model_validate(
        {"rules": [{"name": "r", "backends": [{"pool": "a"}], "fallbacks": ["z"]}]})
    assert missing_pools(spec, {"a"}) == ["z"]


# ---- EndpointSlices -----------------------------------------------------------------------------


def test_ready_endpoints_from_slices() -> None:
    slices = [
        {"addressType": "IPv4", "ports": [{"name": "metrics", "port": 9100}, {"name": "http", "port": 8000}],
         "endpoints": [
             {"addresses": ["10.0.0.2"], "conditions": {"ready": True}, "targetRef": {"name": "pod-b"}},
             {"addresses": ["10.0.0.1"], "conditions": {}, "targetRef": {"name": "pod-a"}},  # unset = ready
             {"addresses": ["10.0.0.3"], "conditions": {"ready": False}},
         ]},
        {"addressType": "IPv6", "ports": [{"name": "http", "port": 8000}],
         "endpoints": [{"addresses": ["fd00::1"], "conditions": {"ready": True}}]},
        {"addressType": "IPv4", "ports": [{"name": "http", "port": 8000}],
         "endpoints": [{"addresses": ["10.0.0.2"], "conditions": {"ready": True}}]},  # duplicate
        {"addressType": "IPv4", "ports": [], "endpoints": [{"addresses": ["10.0.0.7"]}]},  # no port yet
    ]
    urls = [e.url for e in ready_endpoints(slices)]
    assert urls == ["http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://[fd00::1]:8000"]
    assert ready_endpoints(slices)[0].name == "pod-a"


# ---- unsupported fields -------------------------------------------------------------------------


def test_unsupported_fields_named() -> None:
    spec = RoutePolicySpec.model_validate({
        "rules": [{"name": "r", "match": {"models": ["m"], "promptRegex": "x+", "keywords": ["k"],
                                          "apiKeyTiers": ["gold"], "intent": "code", "minPromptTokens": 3},
                   "backends": [{"pool": "a"}]}],
        "rateLimits": [{"tier": "gold", "tokensPerMinute": 10}],
        "promptGuard": {"enabled": True},
        "regionPreference": {"preferred": ["eu"]},
        "outlierDetection": {},
        "queue": {},
        "loadBalancing": {"algorithm": "llm-aware"},
        "maxOutputTokens": 512,
        "timeouts": {"firstTokenSeconds": 2},
        "retries": {"budgetPercent": 5, "retryOn": ["5xx", "429"]},
    })
    # Every RoutePolicy field is enforced by the gateway (issues 7 and 8).
    assert unsupported_fields(spec) == []
    assert unsupported_fields(_route("a")) == []
    assert unsupported_fields(CachePolicySpec()) == []  # the gateway caches (issue 9)
    assert unsupported_fields(pool(autoscaling={"enabled": True, "scaleToZero": True})) == []
    assert unsupported_fields(pool()) == []
    assert unsupported_fields(InferenceGatewaySpec.model_validate({"apiKeySecretRef": {"name": "keys"},
                                                                   "redisUrl": "redis://r:6379/0"})) == []
    assert unsupported_fields(InferenceGatewaySpec()) == []


# ---- conditions and status ----------------------------------------------------------------------


def test_condition_transition_time_moves_only_on_status_change() -> None:
    first = c.merge([], [c.Cond("Ready", False, "Creating")], 1, "t1")
    same = c.merge(first, [c.Cond("Ready", False, "ReplicasNotReady", "0/1")], 2, "t2")
    assert same[0]["lastTransitionTime"] == "t1" and same[0]["observedGeneration"] == 2
    flipped = c.merge(same, [c.Cond("Ready", True, "AllReplicasReady")], 2, "t3")
    assert flipped[0]["lastTransitionTime"] == "t3" and flipped[0]["status"] == "True"
    assert [x.reason for x in c.transitions(same, [c.Cond("Ready", True, "AllReplicasReady")])] == [
        "AllReplicasReady"]
    assert c.transitions(flipped, [c.Cond("Ready", True, "AllReplicasReady")]) == []


def _deployment(generation: int, observed: int, replicas: int, ready: int, updated: int) -> dict[str, Any]:
    return {"metadata": {"generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "replicas": replicas, "readyReplicas": ready,
                       "updatedReplicas": updated, "availableReplicas": ready}}


def test_pool_status_from_deployment() -> None:
    spec = pool(replicas={"min": 2, "max": 2})
    fields, conds = pool_status(spec, None, 0, None)
    by_type = {x.type: x for x in conds}
    assert by_type["Ready"].status is False and by_type["Progressing"].status is True
    fields, conds = pool_status(spec, _deployment(1, 1, 2, 1, 2), 1, None)
    by_type = {x.type: x for x in conds}
    assert by_type["Ready"].reason == "ReplicasNotReady" and fields["readyReplicas"] == 1
    fields, conds = pool_status(spec, _deployment(1, 1, 2, 2, 2), 2, None)
    by_type = {x.type: x for x in conds}
    assert by_type["Ready"].status and by_type["Progressing"].status is False
    assert by_type["Degraded"].status is False and by_type["Supported"].status is True
    assert fields == {"replicas": 2, "readyReplicas": 2, "desiredReplicas": 2, "readyEndpoints": 2}
    _, conds = pool_status(spec, _deployment(2, 2, 2, 2, 2), 2, "403 Forbidden")
    assert {x.type: x for x in conds}["Degraded"].reason == "ApplyFailed"


def test_pool_status_reports_supported_and_invalid() -> None:
    _, conds = pool_status(pool(autoscaling={"enabled": True}), None, 0, None)
    supported = {x.type: x for x in conds}["Supported"]
    assert supported.status is True  # the operator's autoscaler implements it (issue 10)
    assert {x.type: x.reason for x in invalid("bad")}["Ready"] == "InvalidSpec"


def test_gateway_and_policy_status() -> None:
    spec = InferenceGatewaySpec(replicas=1)
    _, conds = gateway_status(spec, _deployment(1, 1, 1, 1, 1), None, 0, 0, None)
    assert conds[0].reason == "ConfigPending"
    fields, conds = gateway_status(spec, _deployment(1, 1, 1, 1, 1), "abc", 2, 1, None)
    assert conds[0].status and fields["configVersion"] == "abc" and fields["pools"] == 2
    _, conds = policy_status(_route("a"), ["a"], 1, {})
    assert conds[0].reason == "UnknownPool"
    _, conds = policy_status(_route("a"), [], 0, {})
    assert conds[0].reason == "NoGateway"
    _, conds = policy_status(_route("a"), [], 1, {})
    assert conds[0].reason == "Compiled" and conds[0].status


# ---- the cache over kopf's indexes, and drift -------------------------------------------------


def _pool_body(generation: int, spec: dict[str, Any], uid: str = UID, name: str = "p",
               namespace: str = "ns") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "uid": uid, "generation": generation,
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": spec, "status": {"readyReplicas": generation}}


def test_track_keeps_the_last_valid_spec_and_parses_each_generation_once() -> None:
    first = track(INFERENCE_POOL, _pool_body(1, {"models": [{"name": "m"}]}))
    assert first.spec is not None and first.error is None and first.generation == 1
    assert "managedFields" not in first.meta and "spec" not in first.body  # only identity and status are kept
    status_only = track(INFERENCE_POOL, _pool_body(1, {"models": [{"name": "m"}]}), first)
    assert status_only.spec is first.spec  # same generation: not parsed again
    broken = track(INFERENCE_POOL, _pool_body(2, {"models": []}), status_only)
    assert broken.error and "spec.models" in broken.error and broken.spec is first.spec  # still serving gen 1
    recreated = track(INFERENCE_POOL, _pool_body(1, {"models": []}, uid="other"), broken)
    assert recreated.spec is None  # a new object with the same name inherits nothing


def _index(entries: list[dict[Any, Any]]) -> dict[Any, list[Any]]:
    """What kopf builds from indexing results: key -> the values of every object under that key."""
    index: dict[Any, list[Any]] = {}
    for entry in entries:
        for key, value in entry.items():
            index.setdefault(key, []).append(value)
    return index


def test_cache_reads_what_the_indexing_functions_produce() -> None:
    entries: list[dict[Any, Any]] = []
    for body in (_pool_body(1, {"models": [{"name": "a"}]}, uid="u-a", name="a"),
                 _pool_body(1, {"models": [{"name": "b"}]}, uid="u-b", name="b"),
                 _pool_body(1, {"models": []}, uid="u-c", name="c"),  # invalid from the start
                 _pool_body(1, {"models": [{"name": "x"}]}, uid="u-x", name="x", namespace="other")):
        entries.append(tracked_entries(INFERENCE_POOL, body, _index(entries)))
    pools = _index(entries)
    slice_body = {"metadata": {"name": "a-x1", "namespace": "ns", "labels": {SERVICE_NAME_LABEL: "a"}},
                  "addressType": "IPv4", "ports": [{"name": "http", "port": 8000}],
                  "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]}
    deployment = {"metadata": {"name": "a", "namespace": "ns", "generation": 3, "labels": {MANAGED_BY: "tokenway"},
                               "managedFields": [{}]}, "spec": {"replicas": 2, "template": {}},
                  "status": {"readyReplicas": 2}}
    empty: dict[str, dict[Any, list[Any]]] = {k.kind: {} for k in KINDS}
    cache = Cache({**empty, "InferencePool": pools}, _index([slice_entries(slice_body)]),
                  _index([deployment_entries(deployment)]))
    assert sorted(cache.specs(INFERENCE_POOL, "ns")) == ["a", "b"]  # c has no valid spec
    assert [t.name for t in cache.all(INFERENCE_POOL, "other")] == ["x"]
    assert cache.namespaces() == {"ns", "other"} and cache.count(INFERENCE_POOL) == 4
    tracked = cache.get(INFERENCE_POOL, "ns", "a")
    assert tracked is not None and tracked.uid == "u-a" and cache.get(INFERENCE_POOL, "ns", "zzz") is None
    assert [e.url for e in ready_endpoints(cache.service_slices("ns", "a"))] == ["http://10.0.0.1:8000"]
    assert cache.service_slices("ns", "b") == []
    assert cache.deployment("ns", "a") == {"metadata": {"name": "a", "namespace": "ns", "generation": 3,
                                                        "labels": {MANAGED_BY: "tokenway"}},
                                           "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}
    owner = {"kind": "InferencePool", "name": "a", "uid": "u-a"}
    assert cache.owner_alive("ns", owner)
    assert not cache.owner_alive("ns", {**owner, "uid": "u-old"})  # same name, another object
    assert not cache.owner_alive("other", owner) and not cache.owner_alive("ns", {**owner, "kind": "Pod"})


def test_applier_detects_drift_by_generation_and_deletion() -> None:
    alive = {UID}
    applier = Applier(kube=None, owner_alive=lambda ns, ref: ref["uid"] in alive)  # type: ignore[arg-type]
    manifest = pool_children("p", "ns", UID, pool(), IMAGES)[0]
    key = ("Deployment", "ns", "p")
    applier.desired[key] = manifest
    applier.observed[key] = (3, "100")
    obj = {"kind": "Deployment", "metadata": {"name": "p", "namespace": "ns", "generation": 3,
                                              "resourceVersion": "105"}}
    assert applier.drifted("MODIFIED", obj) is None  # status-only update
    obj["metadata"]["generation"] = 4
    assert applier.drifted("MODIFIED", obj) is manifest  # someone edited the spec
    assert applier.drifted("DELETED", obj) is manifest
    alive.clear()
    assert applier.drifted("DELETED", obj) is None  # owner gone: garbage collection, not drift
    assert key not in applier.desired


def test_applier_uses_resource_version_without_generation() -> None:
    applier = Applier(kube=None, owner_alive=lambda ns, ref: True)  # type: ignore[arg-type]
    cm = gateway_config_map("gw", "ns", UID, "version: x\n", "x")
    key = ("ConfigMap", "ns", "gw-config")
    applier.desired[key] = cm
    applier.observed[key] = (None, "7")
    obj = {"kind": "ConfigMap", "metadata": {"name": "gw-config", "namespace": "ns", "resourceVersion": "7"}}
    assert applier.drifted("MODIFIED", obj) is None
    obj["metadata"]["resourceVersion"] = "8"
    assert applier.drifted("MODIFIED", obj) is cm


# ---- one table of child kinds, and RBAC ---------------------------------------------------------


def test_child_kinds_table_covers_everything_the_builders_make() -> None:
    """A kind the builders make but the table lacks would be neither watched for drift nor granted by RBAC."""
    pool_kinds = {m["kind"] for m in pool_children("p", "ns", UID, pool(), IMAGES)}
    gateway_kinds = {m["kind"] for m in gateway_children("g", "ns", UID, InferenceGatewaySpec(), "img", {})}
    gateway_kinds.add(gateway_config_map("g", "ns", UID, "", "v")["kind"])
    assert {c.kind for c in children_of(INFERENCE_POOL)} == pool_kinds
    assert {c.kind for c in children_of(INFERENCE_GATEWAY)} == gateway_kinds
    for manifest in [*pool_children("p", "ns", UID, pool(), IMAGES),
                     *gateway_children("g", "ns", UID, InferenceGatewaySpec(), "img", {})]:
        child = next(c for c in CHILD_KINDS if c.kind == manifest["kind"])
        assert manifest["apiVersion"] == child.api_version
        assert object_path(child.api_version, child.kind, "ns", "x").endswith(f"/namespaces/ns/{child.plural}/x")


def _allowed(group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
               for r in OPERATOR_RULES)


def test_rbac_covers_what_the_operator_watches_and_writes() -> None:
    for child in CHILD_KINDS:
        for verb in ("get", "list", "watch", "create", "patch", "delete"):
            assert _allowed(child.group, child.plural, verb), (child.group, child.plural, verb)
    assert _allowed(ENDPOINT_SLICE.group, ENDPOINT_SLICE.plural, "watch")
    for kind in KINDS:
        assert _allowed("tokenway.io", kind.plural, "watch") and _allowed("tokenway.io", kind.plural, "patch")
        assert _allowed("tokenway.io", f"{kind.plural}/status", "patch")
    assert not any("secrets" in r["resources"] for r in OPERATOR_RULES)  # the operator never reads Secrets
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in OPERATOR_RULES)


def test_retried_kopf_requests_log_as_warnings() -> None:
    """A fresh CRD answers 429 "storage is (re)initializing" for a moment; kopf retries: not an error."""
    import logging

    from tokenway_operator.logs import RetriedRequestsAreWarnings

    def record(name: str, level: int, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, None, None)

    demote = RetriedRequestsAreWarnings()
    retried = record("kopf._cogs.clients.watching", logging.ERROR,
                     "Request attempt #1/9 failed; will retry: GET /apis/tokenway.io/v1alpha1/routepolicies -> 429")
    assert demote.filter(retried) and retried.levelno == logging.WARNING and retried.levelname == "WARNING"
    final = record("kopf._cogs.clients.watching", logging.ERROR, "Request attempt #9/9 failed; escalating: GET /x")
    ours = record("tokenway.operator", logging.ERROR, "compiling failed; will retry")
    assert demote.filter(final) and final.levelno == logging.ERROR
    assert demote.filter(ours) and ours.levelno == logging.ERROR


def test_engine_pools_default_to_llm_aware_picking_and_keep_a_chosen_algorithm() -> None:
    external = pool(engine="external", endpoints=[{"url": "https://api.example.com"}],
                    healthCheck={"path": "/v1/models", "intervalSeconds": 10})
    config = compile_snapshot({"vllm": pool(), "chosen": pool(loadBalancing={"algorithm": "power-of-two"}),
                               "ext": external}, {}, {}, {})
    by_name = {p.name: p for p in config.pools}
    assert by_name["vllm"].load_balancing.algorithm == "llm-aware"
    assert by_name["chosen"].load_balancing.algorithm == "power-of-two"
    assert by_name["ext"].load_balancing.algorithm == "least-request" and by_name["ext"].external
    assert by_name["ext"].health_check is not None and by_name["ext"].health_check.path == "/v1/models"
