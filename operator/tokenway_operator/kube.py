"""The operator's writes: server-side apply, status patches, deletes and Events.

kopf watches; this writes, through the shared client (tokenway_gateway.kube), so the
operator and the gateway authenticate the same way and retry 429/5xx the same way.
"""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from typing import Any

from tokenway_gateway.kube import KubeClient, KubeConnection, KubeError, raise_for_status

from .kinds import EVENT, PLURALS
from .meta import MANAGER, Manifest

__all__ = ["Kube", "KubeError", "object_path"]

# Writes in flight at once, except the gateway config. A thousand pools reconciled at once would queue
# thousands of writes at the API server, in one flow of one identity, and the config write the gateways
# wait for would wait behind all of them (26 s at 1,000 pools): bulk writes take turns here instead,
# and ConfigMap writes skip the line.
BULK_WRITES = 32


def object_path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    tail = f"/{name}" if name else ""
    return f"{prefix}{ns}/{PLURALS[kind]}{tail}"


class Kube:
    def __init__(self, connection: KubeConnection) -> None:
        self.connection = connection
        self.client = KubeClient(connection)
        self._instance = socket.gethostname()
        self._bulk = asyncio.Semaphore(BULK_WRITES)

    async def close(self) -> None:
        await self.client.aclose()

    async def apply(self, manifest: Manifest, field_manager: str = MANAGER) -> dict[str, Any]:
        """Server-side apply (force): we own the fields we set, and only those."""
        if manifest.get("kind") == "ConfigMap":
            return await self._apply(manifest, field_manager)
        async with self._bulk:
            return await self._apply(manifest, field_manager)

    async def _apply(self, manifest: Manifest, field_manager: str) -> dict[str, Any]:
        meta = manifest["metadata"]
        path = object_path(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"])
        response = await self.client.request(
            "PATCH", path,
            params={"fieldManager": field_manager, "force": "true"},
            content=json.dumps(manifest),  # JSON is YAML
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        raise_for_status(response)
        result: dict[str, Any] = response.json()
        return result

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return await self.client.get_json(object_path(api_version, kind, namespace, name))

    async def delete(self, api_version: str, kind: str, namespace: str | None, name: str,
                     uid: str | None = None) -> bool:
        """Delete (only the object with ``uid``, when given); False when it was already gone."""
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        response = await self.client.request("DELETE", object_path(api_version, kind, namespace, name),
                                             json_body=body)
        if response.status_code in (404, 409):
            return False
        raise_for_status(response)
        return True

    async def patch_status(self, api_version: str, kind: str, namespace: str, name: str,
                           status: dict[str, Any]) -> dict[str, Any] | None:
        """Merge-patch the status subresource; None when the object is gone."""
        async with self._bulk:
            response = await self.client.request(
                "PATCH", object_path(api_version, kind, namespace, name) + "/status",
                content=json.dumps({"status": status}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
        if response.status_code == 404:
            return None
        raise_for_status(response)
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
        async with self._bulk:
            response = await self.client.request("POST", object_path(EVENT.api_version, EVENT.kind, namespace),
                                                 json_body=event)
        raise_for_status(response)
