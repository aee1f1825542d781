"""Hot reload from a Kubernetes ConfigMap: list once, then watch it.

The operator writes the compiled snapshot into ConfigMap ``<gateway>-config``; this
source hands every new revision to :meth:`ConfigStore.offer` within
milliseconds of the write (a watch, not the kubelet's minute-long volume sync).
The gateway's Role allows get/list/watch on that one ConfigMap only, which is why
the list and the watch select it by name (:meth:`KubeClient.watch_object`).

Credentials and the client (retries, exec plugins) live in :mod:`tokenway_gateway.kube`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..kube import CONFIGMAPS, KubeClient, KubeConnection, KubeCredentialsError
from ..kube.connection import SA_DIR
from .store import ConfigStore

__all__ = ["KubeConfigMapSource", "KubeConnection", "KubeCredentialsError", "kube_source_from_arg"]

log = logging.getLogger("tokenway.config")


class KubeConfigMapSource:
    """Keeps ``store`` on the latest valid revision of one ConfigMap key."""

    def __init__(
        self, namespace: str, name: str, store: ConfigStore, key: str = "config.yaml",
        connection: KubeConnection | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.store = store
        self.key = key
        self.connection = connection
        self.applied_resource_version: str | None = None
        self._last_text: str | None = None

    @property
    def origin(self) -> str:
        return f"configmap {self.namespace}/{self.name}"

    async def _handle(self, obj: dict[str, Any]) -> None:
        """One revision of the ConfigMap: apply its key when the text changed."""
        meta = obj.get("metadata") or {}
        text = (obj.get("data") or {}).get(self.key)
        if text is None:
            log.error("%s has no key %r, keeping the current config", self.origin, self.key)
            return
        if text != self._last_text:
            self._last_text = text
            await self.store.offer(text, f"{self.origin}@{meta.get('resourceVersion')}")
        self.applied_resource_version = meta.get("resourceVersion")

    async def run(self) -> None:
        """List, then watch forever; the client relists on 410 and reconnects with backoff on errors."""
        conn = self.connection or KubeConnection.from_env()
        async with KubeClient(conn) as client:
            async for event in client.watch_object(CONFIGMAPS, self.namespace, self.name):
                if event.type == "ABSENT":
                    log.warning("%s does not exist yet; waiting for it", self.origin)
                elif event.type == "DELETED":
                    log.error("%s was deleted, keeping config version %s", self.origin,
                              self.store.current.version if self.store.current else "none")
                    self._last_text = None
                elif event.object is not None:
                    await self._handle(event.object)


def kube_source_from_arg(arg: str, store: ConfigStore, key: str = "config.yaml",
                         connection: KubeConnection | None = None) -> KubeConfigMapSource:
    """``"namespace/name"`` (as given to ``--kube-configmap``) -> a source; a bare name uses the pod's namespace."""
    namespace, sep, name = arg.partition("/")
    if not sep:
        name = namespace
        namespace = os.environ.get("POD_NAMESPACE") or _pod_namespace()
    if not namespace or not name:
        raise ValueError(f"--kube-configmap wants NAMESPACE/NAME, got {arg!r}")
    return KubeConfigMapSource(namespace, name, store, key=key, connection=connection)


def _pod_namespace() -> str:
    path = SA_DIR / "namespace"
    return path.read_text().strip() if path.exists() else "default"
