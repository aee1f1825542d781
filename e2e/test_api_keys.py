"""API keys from a Kubernetes Secret, end to end on a real API server.

An InferenceGateway names a Secret (apiKeySecretRef); the operator (running with exactly
the chart's permissions, which include no Secret access) gives the gateway's ServiceAccount
a Role that reads that one Secret; the gateway process (run by the node harness with that
ServiceAccount's token) watches it. Rotating the Secret under traffic takes effect within
seconds, and no request with a key valid throughout is refused or dropped.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import httpx
import yaml
from tokenway_gateway.auth import entry_for, new_key

from e2e.conftest import OPERATOR_NAMESPACE, OPERATOR_SA
from e2e.kube_cluster import ControlPlane
from e2e.node_harness import NodeHarness
from e2e.test_operator import (  # noqa: F401  (kube, harness, ns are fixtures)
    WITH_PROCESSES,
    Kube,
    eventually,
    harness,
    kube,
    ns,
    pool_spec,
    route_spec,
)

CHAT = "/v1/chat/completions"
SECRET_KEY = "api-keys"


def key_entries(*keys: tuple[str, str]) -> str:
    return yaml.safe_dump([entry_for(key, tenant, "free").dump() for key, tenant in keys])


def put_secret(admin: Kube, namespace: str, name: str, text: str) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque", "data": {SECRET_KEY: base64.b64encode(text.encode()).decode()}}
    path = f"/api/v1/namespaces/{namespace}/secrets"
    if admin.client.get(f"{path}/{name}").status_code == 404:
        admin.client.post(path, json=body).raise_for_status()
    else:
        admin.client.put(f"{path}/{name}", json=body).raise_for_status()


def status_of(url: str, key: str | None) -> int:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(url + CHAT, headers=headers, timeout=10, json={
        "model": "l3", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 2}).status_code


def test_gateway_watches_its_key_secret_with_least_privilege(kube: Kube, harness: NodeHarness, ns: str,  # noqa: F811
                                                             cluster: ControlPlane) -> None:
    WITH_PROCESSES.add(ns)
    old, stays, new = new_key(), new_key(), new_key()
    put_secret(kube, ns, "keys", key_entries((old, "team-old"), (stays, "team-b")))
    put_secret(kube, ns, "other", "not for the gateway")
    kube.apply_cr("inferencepools", ns, "llama", pool_spec(1), "InferencePool")
    kube.apply_cr("routepolicies", ns, "main", route_spec("llama", rateLimits=[
        {"tier": "free", "requestsPerMinute": 100_000}]), "RoutePolicy")
    kube.apply_cr("inferencegateways", ns, "gw", {"replicas": 1, "apiKeySecretRef": {"name": "keys",
                                                                                      "key": SECRET_KEY}},
                  "InferenceGateway")

    # The operator wrote a Role for exactly that Secret without being able to read Secrets itself.
    role = eventually(lambda: kube.get("roles", ns, "gw"), what="gateway Role")
    assert {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["keys"],
            "verbs": ["get", "list", "watch"]} in role["rules"]
    operator_token = cluster.service_account_token(OPERATOR_NAMESPACE, OPERATOR_SA)
    with cluster.http_client(token=operator_token) as operator_identity:
        assert operator_identity.get(f"/api/v1/namespaces/{ns}/secrets/keys").status_code == 403
    def compiled() -> Any:
        config = kube.config(ns)
        return config if config is not None and config.pools and config.pools[0].endpoints else None

    config = eventually(compiled, what="config with the pool's endpoint")
    assert config.auth is not None and config.auth.keys == []  # no keys in the ConfigMap, and never open
    supported = eventually(lambda: kube.condition("inferencegateways", ns, "gw", "Supported"), what="Supported")
    assert supported["status"] == "True"

    # The gateway's identity reads its Secret by name, and nothing else.
    token = cluster.service_account_token(ns, "gw")
    with cluster.http_client(token=token) as gateway_identity:
        secrets = f"/api/v1/namespaces/{ns}/secrets"
        assert gateway_identity.get(f"{secrets}/keys").status_code == 200
        assert gateway_identity.get(secrets, params={"fieldSelector": "metadata.name=keys"}).status_code == 200
        assert gateway_identity.get(f"{secrets}/other").status_code == 403
        assert gateway_identity.get(secrets).status_code == 403

    eventually(lambda: kube.condition("inferencegateways", ns, "gw", "Ready")["status"] == "True",  # type: ignore[index]
               timeout=60, what="gateway ready")
    url = eventually(lambda: harness.endpoints_of(ns, "gw"), what="gateway pod")[0]
    eventually(lambda: status_of(url, stays) == 200, timeout=30, what="gateway serving")
    assert status_of(url, None) == 401 and status_of(url, new) == 401 and status_of(url, old) == 200

    log: list[tuple[float, str, int]] = []
    stop = threading.Event()

    def traffic(name: str, key: str) -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    status = client.post(url + CHAT, headers={"authorization": f"Bearer {key}"}, json={
                        "model": "l3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}).status_code
                except httpx.HTTPError:
                    status = -1
                log.append((time.monotonic(), name, status))

    threads = [threading.Thread(target=traffic, args=args) for args in (("stays", stays), ("old", old))]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(log) > 20 or None, what="traffic")
        rotated = time.monotonic()
        put_secret(kube, ns, "keys", key_entries((stays, "team-b"), (new, "team-new")))
        eventually(lambda: status_of(url, old) == 401 or None, timeout=10, what="old key revoked")
        took = time.monotonic() - rotated
        assert status_of(url, new) == 200
        time.sleep(1.0)  # traffic after the rotation, for the check below
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    print(f"Secret rotation -> running gateway: {took * 1000:.0f} ms")
    assert took < 5.0
    assert {status for _, who, status in log if who == "stays"} == {200}  # nothing refused or dropped
    assert {status for at, who, status in log if who == "old" and at > rotated + took + 0.3} == {401}

    # A broken revision is refused whole: the last good keys stay.
    put_secret(kube, ns, "keys", "- sha256: not-a-digest\n")
    time.sleep(1.0)
    assert status_of(url, new) == 200 and status_of(url, stays) == 200
    metrics = httpx.get(url + "/metrics").text
    assert 'tokenway_api_key_reloads_total{result="rejected",source="secret"} 1.0' in metrics
    assert "tokenway_ratelimit_requests_total" in metrics  # the route's limits apply to the Secret's tenants
