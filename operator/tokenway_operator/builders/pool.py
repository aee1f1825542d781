"""InferencePool -> Deployment, Service and PodDisruptionBudget (pure functions)."""

from __future__ import annotations

import json
from typing import Any

from tokenway_gateway.api import InferencePoolSpec

from ..autoscaling.bounds import initial_replicas
from ..meta import POOL_LABEL, Manifest, labels, object_meta, owner_reference
from ..settings import Images

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
# Model loading takes minutes: the startup probe gives it up to 30 min before liveness applies.
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = 180


def selector(name: str) -> dict[str, str]:
    return {POOL_LABEL: name}


def pool_labels(name: str) -> dict[str, str]:
    return labels("pool", name, selector(name))


def served_names(spec: InferencePoolSpec) -> list[str]:
    """Every name the engine answers to: the upstream name first (vLLM reports it), then the rest."""
    names: list[str] = []
    for model in spec.models:
        for candidate in (model.upstream_name or model.name, model.name, *model.aliases):
            if candidate not in names:
                names.append(candidate)
    return names


def engine_model(spec: InferencePoolSpec) -> str:
    """The weights to load: the first model's upstream name (a Hugging Face id or a path)."""
    first = spec.models[0]
    return first.upstream_name or first.name


def _has_flag(args: list[str], *flags: str) -> bool:
    return any(a == f or a.startswith(f + "=") for a in args for f in flags)


def vllm_args(spec: InferencePoolSpec) -> list[str]:
    args = ["--model", engine_model(spec), "--served-model-name", *served_names(spec), "--port", str(spec.port)]
    if spec.quantization:
        args += ["--quantization", spec.quantization]
    if spec.speculative_decoding:
        draft = {
            "model": spec.speculative_decoding.draft_model,
            "num_speculative_tokens": spec.speculative_decoding.num_speculative_tokens,
        }
        args += ["--speculative-config", json.dumps(draft, separators=(",", ":"))]
    args.append("--enable-prefix-caching" if spec.prefix_caching else "--no-enable-prefix-caching")
    if spec.max_model_len:
        args += ["--max-model-len", str(spec.max_model_len)]
    if spec.gpus > 1 and not _has_flag(spec.args, "--tensor-parallel-size", "-tp"):
        args += ["--tensor-parallel-size", str(spec.gpus)]
    if not _has_flag(spec.args, "--max-num-seqs"):
        args += ["--max-num-seqs", str(spec.capacity.max_concurrent_sequences)]
    return args + list(spec.args)


def sglang_args(spec: InferencePoolSpec) -> list[str]:
    # SGLang serves one name; aliases are resolved by the gateway.
    names = served_names(spec)
    args = ["--model-path", engine_model(spec), "--served-model-name", names[0],
            "--host", "0.0.0.0", "--port", str(spec.port)]
    if spec.quantization:
        args += ["--quantization", spec.quantization]
    if spec.speculative_decoding:
        args += ["--speculative-algorithm", "EAGLE",
                 "--speculative-draft-model-path", spec.speculative_decoding.draft_model,
                 "--speculative-num-draft-tokens", str(spec.speculative_decoding.num_speculative_tokens)]
    if not spec.prefix_caching:
        args.append("--disable-radix-cache")
    if spec.max_model_len:
        args += ["--context-length", str(spec.max_model_len)]
    if spec.gpus > 1 and not _has_flag(spec.args, "--tp-size", "--tp"):
        args += ["--tp-size", str(spec.gpus)]
    if not _has_flag(spec.args, "--max-running-requests"):
        args += ["--max-running-requests", str(spec.capacity.max_concurrent_sequences)]
    args.append("--enable-metrics")
    return args + list(spec.args)


def engine_container(spec: InferencePoolSpec, images: Images) -> dict[str, Any]:
    http = {"path": HEALTH_PATH, "port": "http"}
    container: dict[str, Any] = {"name": "engine"}
    if spec.engine == "sglang":
        container["image"] = spec.image or images.sglang
        container["command"] = ["python3", "-m", "sglang.launch_server"]
        container["args"] = sglang_args(spec)
    else:
        # vllm/vllm-openai's entrypoint is the OpenAI server: pass arguments only.
        container["image"] = spec.image or images.vllm
        container["args"] = vllm_args(spec)
    container["ports"] = [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}]
    if spec.env:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    container["resources"] = engine_resources(spec)
    container["startupProbe"] = {
        "httpGet": http, "periodSeconds": STARTUP_PERIOD_SECONDS, "failureThreshold": STARTUP_FAILURES,
    }
    container["readinessProbe"] = {"httpGet": http, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3}
    container["livenessProbe"] = {"httpGet": http, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6}
    container["volumeMounts"] = [{"name": "shm", "mountPath": "/dev/shm"}]
    return container


def engine_resources(spec: InferencePoolSpec) -> dict[str, Any]:
    """GPUs (requests = limits, as the device plugin wants), CPU and memory requests, optional limits."""
    res = spec.resources
    requests: dict[str, str] = {"cpu": res.cpu, "memory": res.memory}
    limits: dict[str, str] = {}
    if res.cpu_limit:
        limits["cpu"] = res.cpu_limit
    if res.memory_limit:
        limits["memory"] = res.memory_limit
    if spec.gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(spec.gpus)
    return {"requests": requests, "limits": limits} if limits else {"requests": requests}


def _int_or_percent(value: str) -> int | str:
    return value if value.endswith("%") else int(value)


def rollout_strategy(spec: InferencePoolSpec) -> dict[str, Any]:
    """RollingUpdate that needs no spare GPU by default (maxSurge 0, maxUnavailable 1)."""
    return {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": _int_or_percent(spec.rollout.max_surge),
        "maxUnavailable": _int_or_percent(spec.rollout.max_unavailable),
    }}


def tolerations(spec: InferencePoolSpec) -> list[dict[str, Any]]:
    result = [t.dump() for t in spec.tolerations]
    if spec.gpus and not any(t.get("key") == GPU_RESOURCE for t in result):
        result.append(dict(GPU_TOLERATION))
    return result


def node_selector(spec: InferencePoolSpec) -> dict[str, str]:
    selected = dict(spec.node_selector)
    if spec.gpu_type:
        selected[GPU_PRODUCT_LABEL] = spec.gpu_type  # the typed field wins over a raw selector
    return selected


def pool_deployment(name: str, namespace: str, uid: str, spec: InferencePoolSpec, images: Images,
                    replicas: int | None = None) -> Manifest:
    """``replicas``: the autoscaler's last decision; None: the pool's initial size (``initial_replicas``)."""
    owner = owner_reference("InferencePool", name, uid)
    pod_spec: dict[str, Any] = {
        "containers": [engine_container(spec, images)],
        "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": spec.shm_size}}],
    }
    if node_selector(spec):
        pod_spec["nodeSelector"] = node_selector(spec)
    if tolerations(spec):
        pod_spec["tolerations"] = tolerations(spec)
    deploy_spec: dict[str, Any] = {
        # Always set: without it Kubernetes runs exactly one pod (a GPU held by a pool at min 0).
        "replicas": initial_replicas(spec) if replicas is None else replicas,
        "strategy": rollout_strategy(spec),
        "selector": {"matchLabels": selector(name)},
        "template": {
            "metadata": {
                "labels": pool_labels(name),
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(spec.port),
                    "prometheus.io/path": METRICS_PATH,
                },
            },
            "spec": pod_spec,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(name, namespace, owner, pool_labels(name)),
        "spec": deploy_spec,
    }


def pool_service(name: str, namespace: str, uid: str, spec: InferencePoolSpec) -> Manifest:
    owner = owner_reference("InferencePool", name, uid)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(name, namespace, owner, pool_labels(name)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(name),
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pool_pdb(name: str, namespace: str, uid: str) -> Manifest:
    owner = owner_reference("InferencePool", name, uid)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": object_meta(name, namespace, owner, pool_labels(name)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(name)}},
    }


def pool_children(name: str, namespace: str, uid: str, spec: InferencePoolSpec, images: Images,
                  replicas: int | None = None) -> list[Manifest]:
    """Everything an InferencePool owns; nothing for engine: external (its endpoints are URLs)."""
    if spec.engine == "external":
        return []
    return [
        pool_deployment(name, namespace, uid, spec, images, replicas),
        pool_service(name, namespace, uid, spec),
        pool_pdb(name, namespace, uid),
    ]
