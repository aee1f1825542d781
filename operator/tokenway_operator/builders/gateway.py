"""InferenceGateway -> Deployment, Service, ServiceAccount, Role, RoleBinding, config ConfigMap (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenway_gateway.api import CachePolicySpec, InferenceGatewaySpec, InferencePoolSpec

from ..meta import (
    CONFIG_KEY,
    CONFIG_VERSION_ANNOTATION,
    GATEWAY_LABEL,
    Manifest,
    api_key_env,
    cache_redis_env,
    config_map_name,
    labels,
    object_meta,
    owner_reference,
)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"  # 503 until the gateway holds a config
METRICS_PATH = "/metrics"
# The TLS Secret is mounted whole (no subPath), so the kubelet's atomic ..data swap on renewal
# reaches the files and the gateway's watcher reloads them without a restart.
TLS_DIR = "/etc/tokenway/tls"
CLIENT_CA_DIR = "/etc/tokenway/client-ca"
# The admin listener (DELETE /admin/cache): loopback only, reached with `kubectl port-forward`.
ADMIN_PORT = 9901


def selector(name: str) -> dict[str, str]:
    return {GATEWAY_LABEL: name}


def gateway_labels(name: str) -> dict[str, str]:
    return labels("gateway", name, selector(name))


def _owner(name: str, uid: str) -> dict[str, Any]:
    return owner_reference("InferenceGateway", name, uid)


def secret_env(pools: Mapping[str, InferencePoolSpec],
               caches: Mapping[str, CachePolicySpec] | None = None) -> list[dict[str, Any]]:
    """One env var per Secret key the gateway needs, read by the kubelet: each external endpoint's API
    key, and each CachePolicy's Redis URL (``redisSecretRef``).

    The operator never reads Secrets; the compiled config names these variables instead.
    """
    env: list[dict[str, Any]] = []
    for pool_name in sorted(pools):
        for index, endpoint in enumerate(pools[pool_name].endpoints):
            ref = endpoint.api_key_secret_ref
            if ref is not None:
                env.append({
                    "name": api_key_env(pool_name, index),
                    "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
                })
    for policy in sorted(caches or {}):
        ref = (caches or {})[policy].redis_secret_ref
        if ref is not None:
            env.append({
                "name": cache_redis_env(policy),
                "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
            })
    return env


def gateway_env(spec: InferenceGatewaySpec, pools: Mapping[str, InferencePoolSpec],
                caches: Mapping[str, CachePolicySpec] | None = None) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "TOKENWAY_REGION", "value": spec.region},
    ]
    if spec.redis_url:
        env.append({"name": "TOKENWAY_REDIS_URL", "value": spec.redis_url})
    if spec.otlp_endpoint:
        env.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": spec.otlp_endpoint})
    return env + secret_env(pools, caches)


def gateway_command(name: str, namespace: str, spec: InferenceGatewaySpec) -> list[str]:
    public = {spec.port, spec.tls.port if spec.tls is not None else spec.port}
    admin = next(port for port in range(ADMIN_PORT, ADMIN_PORT + 3) if port not in public)
    command = ["tokenway", "gateway", "--kube-configmap", f"{namespace}/{config_map_name(name)}",
               "--port", str(spec.port), "--log-level", spec.log_level, "--admin-port", str(admin)]
    if spec.tls is not None:
        command += ["--tls-cert", f"{TLS_DIR}/tls.crt", "--tls-key", f"{TLS_DIR}/tls.key",
                    "--tls-port", str(spec.tls.port)]
        if spec.tls.client_ca_secret_ref is not None:
            command += ["--tls-client-ca", f"{CLIENT_CA_DIR}/ca.crt"]
    ref = spec.api_key_secret_ref
    if ref is not None:  # the gateway watches the key Secret itself: rotation applies within seconds
        command += ["--kube-api-key-secret", f"{namespace}/{ref.name}", "--kube-api-key-secret-key", ref.key]
    return command


def tls_volumes(spec: InferenceGatewaySpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pod volumes and container mounts for the TLS Secret and the client CA (none without tls)."""
    tls = spec.tls
    if tls is None:
        return [], []
    volumes: list[dict[str, Any]] = [{"name": "tls", "secret": {"secretName": tls.secret_ref.name}}]
    mounts: list[dict[str, Any]] = [{"name": "tls", "mountPath": TLS_DIR, "readOnly": True}]
    ca = tls.client_ca_secret_ref
    if ca is not None:
        volumes.append({"name": "client-ca", "secret": {"secretName": ca.name,
                                                        "items": [{"key": ca.key, "path": "ca.crt"}]}})
        mounts.append({"name": "client-ca", "mountPath": CLIENT_CA_DIR, "readOnly": True})
    return volumes, mounts


def gateway_deployment(
    name: str, namespace: str, uid: str, spec: InferenceGatewaySpec, image: str,
    pools: Mapping[str, InferencePoolSpec], caches: Mapping[str, CachePolicySpec] | None = None,
) -> Manifest:
    res = spec.resources
    resources: dict[str, Any] = {"requests": {"cpu": res.cpu, "memory": res.memory}}
    limits = {k: v for k, v in (("cpu", res.cpu_limit), ("memory", res.memory_limit)) if v}
    if limits:
        resources["limits"] = limits
    ports = [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}]
    if spec.tls is not None:
        ports.append({"name": "https", "containerPort": spec.tls.port, "protocol": "TCP"})
    volumes, mounts = tls_volumes(spec)
    container: dict[str, Any] = {
        "name": "gateway",
        "image": spec.image or image,
        "command": gateway_command(name, namespace, spec),
        "ports": ports,
        "env": gateway_env(spec, pools, caches),
        "resources": resources,
        "readinessProbe": {"httpGet": {"path": READINESS_PATH, "port": "http"}, "periodSeconds": 2,
                           "failureThreshold": 2},
        "livenessProbe": {"httpGet": {"path": LIVENESS_PATH, "port": "http"}, "periodSeconds": 10,
                          "failureThreshold": 3},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,  # Dockerfile.gateway runs as uid 10001
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod: dict[str, Any] = {
        "serviceAccountName": name,
        # Room for the gateway to drain in-flight streams after SIGTERM.
        "terminationGracePeriodSeconds": spec.drain_seconds + 10,
        "containers": [container],
    }
    if mounts:
        container["volumeMounts"] = mounts
        pod["volumes"] = volumes
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(name, namespace, _owner(name, uid), gateway_labels(name)),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector(name)},
            # Never fewer ready gateways than asked for during a rollout.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": gateway_labels(name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(spec.port),
                        "prometheus.io/path": METRICS_PATH,
                    },
                },
                "spec": pod,
            },
        },
    }


def gateway_service(name: str, namespace: str, uid: str, spec: InferenceGatewaySpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(name, namespace, _owner(name, uid), gateway_labels(name)),
        "spec": {
            "type": spec.service_type,
            "selector": selector(name),
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}] + (
                [{"name": "https", "port": spec.tls.port, "targetPort": "https", "protocol": "TCP"}]
                if spec.tls is not None else []),
        },
    }


def gateway_service_account(name: str, namespace: str, uid: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_meta(name, namespace, _owner(name, uid), gateway_labels(name)),
    }


def gateway_role(name: str, namespace: str, uid: str, api_key_secret: str | None = None) -> Manifest:
    """Least privilege: read and watch its own config ConfigMap and its API-key Secret, nothing else."""
    rules: list[dict[str, Any]] = [{
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": [config_map_name(name)],
        "verbs": ["get", "list", "watch"],
    }]
    if api_key_secret is not None:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "resourceNames": [api_key_secret],
                      "verbs": ["get", "list", "watch"]})
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": object_meta(name, namespace, _owner(name, uid), gateway_labels(name)),
        "rules": rules,
    }


def gateway_role_binding(name: str, namespace: str, uid: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": object_meta(name, namespace, _owner(name, uid), gateway_labels(name)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def gateway_config_map(name: str, namespace: str, uid: str, config_yaml: str, version: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(
            config_map_name(name), namespace, _owner(name, uid), gateway_labels(name),
            annotations={CONFIG_VERSION_ANNOTATION: version},
        ),
        "data": {CONFIG_KEY: config_yaml},
    }


def gateway_children(
    name: str, namespace: str, uid: str, spec: InferenceGatewaySpec, image: str,
    pools: Mapping[str, InferencePoolSpec], caches: Mapping[str, CachePolicySpec] | None = None,
) -> list[Manifest]:
    """The gateway's objects except its ConfigMap (written by the config compiler)."""
    return [
        gateway_service_account(name, namespace, uid),
        gateway_role(name, namespace, uid, spec.api_key_secret_ref.name if spec.api_key_secret_ref else None),
        gateway_role_binding(name, namespace, uid),
        gateway_deployment(name, namespace, uid, spec, image, pools, caches),
        gateway_service(name, namespace, uid, spec),
    ]
