"""A small async Kubernetes client: server-side apply, status patches, deletes and Events.

kopf watches; this client writes. It shares the gateway's connection loader, so the
operator and the gateway authenticate the same way (in-cluster or $KUBECONFIG).
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any

import httpx
from tokenway_gateway.config.kube_source import KubeConnection

from .meta import MANAGER, Manifest

# kind -> plural for everything the operator writes.
PLURALS = {
    "Deployment": "deployments",
    "Service": "services",
    "ServiceAccount": "serviceaccounts",
    "ConfigMap": "configmaps",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "Event": "events",
    "EndpointSlice": "endpointslices",
    "InferencePool": "inferencepools",
    "RoutePolicy": "routepolicies",
    "CachePolicy": "cachepolicies",
    "InferenceGateway": "inferencegateways",
}


class KubeError(Exception):
    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message


def object_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    tail = f"/{name}" if name else ""
    return f"{prefix}{ns}/{PLURALS[kind]}{tail}"


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        message, reason = body.get("message", response.text), body.get("reason", "")
    except ValueError:
        message, reason = response.text, ""
    raise KubeError(response.status_code, message, reason)


class Kube:
    def __init__(self, connection: KubeConnection) -> None:
        self.connection = connection
        self._client = connection.client(timeout=httpx.Timeout(30.0, connect=5.0))
        self._instance = socket.gethostname()

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **self.connection.headers()}
        return await self._client.request(method, path, headers=headers, **kwargs)

    async def apply(self, manifest: Manifest, field_manager: str = MANAGER) -> dict[str, Any]:
        """Server-side apply (force): we own the fields we set, and only those."""
        meta = manifest["metadata"]
        path = object_path(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"])
        response = await self._request(
            "PATCH", path,
            params={"fieldManager": field_manager, "force": "true"},
            content=json.dumps(manifest),  # JSON is YAML
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        _raise_for(response)
        result: dict[str, Any] = response.json()
        return result

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        response = await self._request("GET", object_path(api_version, kind, namespace, name))
        if response.status_code == 404:
            return None
        _raise_for(response)
        result: dict[str, Any] = response.json()
        return result

    async def list(self, api_version: str, kind: str, namespace: str | None = None,
                   label_selector: str | None = None) -> list[dict[str, Any]]:
        """Every object of ``kind`` (in ``namespace``, or cluster-wide), following continue tokens."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "500"}
        if label_selector:
            params["labelSelector"] = label_selector
        while True:
            response = await self._request("GET", object_path(api_version, kind, namespace), params=params)
            _raise_for(response)
            body = response.json()
            for item in body.get("items") or []:
                item.setdefault("apiVersion", api_version)  # list items omit them
                item.setdefault("kind", kind)
                items.append(item)
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return items
            params["continue"] = token

    async def delete(self, api_version: str, kind: str, namespace: str | None, name: str,
                     uid: str | None = None) -> bool:
        """Delete (only the object with ``uid``, when given); False when it was already gone."""
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        response = await self._request("DELETE", object_path(api_version, kind, namespace, name),
                                       content=json.dumps(body), headers={"Content-Type": "application/json"})
        if response.status_code in (404, 409):
            return False
        _raise_for(response)
        return True

    async def patch_status(self, api_version: str, kind: str, namespace: str, name: str,
                           status: dict[str, Any]) -> dict[str, Any] | None:
        """Merge-patch the status subresource; None when the object is gone."""
        response = await self._request(
            "PATCH", object_path(api_version, kind, namespace, name) + "/status",
            content=json.dumps({"status": status}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        if response.status_code == 404:
            return None
        _raise_for(response)
        result: dict[str, Any] = response.json()
        return result

    async def post_event(self, involved: dict[str, Any], reason: str, message: str, warning: bool = False) -> None:
        """A core/v1 Event on ``involved`` (kubectl describe shows it)."""
        meta = involved.get("metadata") or {}
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        namespace = meta.get("namespace") or "default"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "tokenway-operator"},
            "reportingComponent": "tokenway.io/operator",
            "reportingInstance": self._instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        response = await self._request("POST", object_path("v1", "Event", namespace),
                                       content=json.dumps(event), headers={"Content-Type": "application/json"})
        _raise_for(response)
