"""Measuring endpoint change -> config applied by the gateway, shared by the e2e test and the bench.

The gateway's own config source runs here with the gateway's own identity (its Role
only), and records when each set of endpoint URLs was first applied.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from tokenway_gateway.api import GatewayConfig
from tokenway_gateway.config.kube_source import KubeConfigMapSource, KubeConnection
from tokenway_gateway.config.store import ConfigStore

from e2e.kube_cluster import ControlPlane


def endpoint_slice(namespace: str, pool: str, name: str, service_uid: str, ips: list[str]) -> dict[str, Any]:
    """An EndpointSlice of ready IPs for a pool's Service, as the EndpointSlice controller writes it."""
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": pool, "tokenway.io/pool": pool,
                                "app.kubernetes.io/managed-by": "tokenway"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": pool, "uid": service_uid}]},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        "ports": [{"name": "http", "port": 8000, "protocol": "TCP"}],
    }


def _endpoint_key(config: GatewayConfig) -> str:
    return ",".join(e.url for p in config.pools for e in p.endpoints)


class GatewayConfigWatch:
    """Runs the gateway's KubeConfigMapSource; ``applied`` maps endpoint URL lists to first-seen times."""

    def __init__(self, cluster: ControlPlane, namespace: str, configmap: str, service_account: str) -> None:
        self.store = ConfigStore()
        self.applied: dict[str, float] = {}
        self.store.subscribe(lambda config: self.applied.setdefault(_endpoint_key(config), time.monotonic()))
        identity = KubeConnection.from_kubeconfig(cluster.service_account_kubeconfig(namespace, service_account))
        self.source = KubeConfigMapSource(namespace, configmap, self.store, connection=identity)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> GatewayConfigWatch:
        self._task = asyncio.create_task(self.source.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def time_change(self, admin: httpx.AsyncClient, token: str, slice_: dict[str, Any],
                          timeout: float = 30.0) -> float | None:
        """Apply ``slice_`` and return seconds until the gateway applied a config with its first address."""
        meta = slice_["metadata"]
        want = f"http://{slice_['endpoints'][0]['addresses'][0]}:8000"
        started = time.monotonic()
        response = await admin.patch(
            f"/apis/discovery.k8s.io/v1/namespaces/{meta['namespace']}/endpointslices/{meta['name']}",
            params={"fieldManager": "tokenway-e2e", "force": "true"}, content=json.dumps(slice_),
            headers={"Content-Type": "application/apply-patch+yaml", "Authorization": f"Bearer {token}"})
        response.raise_for_status()
        while time.monotonic() - started < timeout:
            seen = [at for key, at in self.applied.items() if want in key.split(",")]
            if seen:
                return seen[0] - started
            await asyncio.sleep(0.002)
        return None
