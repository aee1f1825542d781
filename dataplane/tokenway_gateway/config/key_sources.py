"""API keys from outside the config snapshot: one Kubernetes Secret, or a file; both watched.

The content is the YAML list `tokenway keys new` prints entries of
(``[{sha256, tenant, tier, disabled}]``, or ``{keys: [...]}``). A new revision is parsed off
the event loop and handed to the gateway's :class:`~tokenway_gateway.pipeline.authenticate.KeyRing`,
which swaps the live key store in one assignment: rotation takes effect within a watch
event (Secret) or a poll interval (file), without a restart or a dropped request. Content
that does not parse is logged (naming the entry and field, never a value) and the last
good keys stay in force.

In Kubernetes the gateway watches its one Secret itself (``--kube-api-key-secret NS/NAME``),
with a Role that allows get/list/watch on that Secret name only; the operator never reads it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
from pathlib import Path
from typing import Any

from ..auth import KeyEntry, KeyFileError, parse_key_entries
from ..kube import SECRETS, KubeClient, KubeConnection
from ..pipeline.authenticate import KeyRing
from .file_source import file_identity

log = logging.getLogger("tokenway.auth")

DEFAULT_SECRET_KEY = "api-keys"


async def _parse(data: bytes) -> list[KeyEntry]:
    return await asyncio.to_thread(parse_key_entries, data)


class FileKeySource:
    """``--api-keys-file``: polls the file's identity (follows atomic renames and ConfigMap/Secret volume swaps)."""

    kind = "file"

    def __init__(self, path: str | os.PathLike[str], ring: KeyRing, interval: float = 0.5) -> None:
        self.path = Path(path)
        self.ring = ring
        self.interval = interval
        self._seen: tuple[int, int, int] | None = None

    @property
    def name(self) -> str:
        return str(self.path)

    async def load_now(self) -> bool:
        """The first read: False (and a logged reason) when the file is unreadable or invalid."""
        self._seen = file_identity(self.path)
        return await self._load()

    async def _load(self) -> bool:
        metrics = self.ring.metrics
        try:
            data = await asyncio.to_thread(self.path.read_bytes)
            entries = await _parse(data)
        except (OSError, KeyFileError) as exc:
            log.error("API keys file %s not applied, keeping the last good keys: %s", self.path, exc)
            if metrics is not None:
                metrics.key_reloads.inc(self.kind, "rejected")
            return False
        await self.ring.update(entries)
        if metrics is not None:
            metrics.key_reloads.inc(self.kind, "applied")
        log.info("API keys from %s applied (%d entries)", self.path, len(entries))
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            seen = file_identity(self.path)
            if seen is None or seen == self._seen:
                continue
            self._seen = seen
            await self._load()


class KubeSecretKeySource:
    """Lists, then watches, one Secret by name; applies its ``key`` on every change."""

    kind = "secret"

    def __init__(self, namespace: str, name: str, ring: KeyRing, key: str = DEFAULT_SECRET_KEY,
                 connection: KubeConnection | None = None) -> None:
        self.namespace = namespace
        self.secret = name
        self.key = key
        self.ring = ring
        self.connection = connection
        self._last: bytes | None = None
        self.applied_resource_version: str | None = None

    @property
    def name(self) -> str:
        return f"{self.namespace}/{self.secret}"

    async def _handle(self, obj: dict[str, Any]) -> None:
        metrics = self.ring.metrics
        meta = obj.get("metadata") or {}
        encoded = (obj.get("data") or {}).get(self.key)
        if encoded is None:
            log.error("Secret %s has no key %r; keeping the last good API keys", self.name, self.key)
            if metrics is not None:
                metrics.key_reloads.inc(self.kind, "rejected")
            return
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            log.error("Secret %s key %r is not valid base64; keeping the last good API keys", self.name, self.key)
            return
        if data == self._last:
            self.applied_resource_version = meta.get("resourceVersion")
            return
        try:
            entries = await _parse(data)
        except KeyFileError as exc:
            log.error("Secret %s key %r not applied, keeping the last good API keys: %s", self.name, self.key, exc)
            if metrics is not None:
                metrics.key_reloads.inc(self.kind, "rejected")
            return
        self._last = data
        await self.ring.update(entries)
        self.applied_resource_version = meta.get("resourceVersion")
        if metrics is not None:
            metrics.key_reloads.inc(self.kind, "applied")
        log.info("API keys from Secret %s@%s applied (%d entries)", self.name, meta.get("resourceVersion"),
                 len(entries))

    async def run(self) -> None:
        conn = self.connection or KubeConnection.from_env()
        async with KubeClient(conn) as client:
            async for event in client.watch_object(SECRETS, self.namespace, self.secret):
                if event.type == "ABSENT":
                    log.error("API key Secret %s does not exist yet: every request is refused (401) until it "
                              "does; the gateway stays unready", self.name)
                elif event.type == "DELETED":
                    log.error("API key Secret %s was deleted; keeping the last good keys", self.name)
                    self._last = None
                elif event.object is not None:
                    await self._handle(event.object)


def secret_source_from_arg(arg: str, ring: KeyRing, key: str = DEFAULT_SECRET_KEY,
                           connection: KubeConnection | None = None) -> KubeSecretKeySource:
    """``"namespace/name"`` -> a source; a bare name uses the pod's namespace (``POD_NAMESPACE``)."""
    namespace, sep, name = arg.partition("/")
    if not sep:
        name, namespace = namespace, os.environ.get("POD_NAMESPACE", "")
    if not namespace or not name:
        raise ValueError(f"--kube-api-key-secret wants NAMESPACE/NAME, got {arg!r}")
    return KubeSecretKeySource(namespace, name, ring, key=key, connection=connection)


async def start_key_sources(ring_owner: Any, *, api_keys_file: str | None = None, secret: str | None = None,
                            secret_key: str = DEFAULT_SECRET_KEY, kubeconfig: str | None = None,
                            context: str | None = None, interval: float = 0.5) -> list[asyncio.Task[None]] | None:
    """Attach and start the gateway's key sources (``ring_owner`` is its ``policies``: a
    :class:`~tokenway_gateway.pipeline.policies.PolicyState`). A file is read once now: None (logged)
    when it cannot be used, so the gateway never starts open by mistake. A Secret is read by its
    watch; the gateway stays unready until the first read succeeds."""
    tasks: list[asyncio.Task[None]] = []
    ring: KeyRing = ring_owner.keys
    if api_keys_file:
        file_source = FileKeySource(api_keys_file, ring, interval)
        ring_owner.attach_key_source(file_source.name, file_source.kind)
        if not await file_source.load_now():
            return None
        tasks.append(asyncio.create_task(file_source.run()))
    if secret:
        from ..kube import KubeCredentialsError

        try:
            connection = KubeConnection.from_env(kubeconfig, context)
            secret_source = secret_source_from_arg(secret, ring, secret_key, connection)
        except (KubeCredentialsError, ValueError) as exc:
            log.error("%s", exc)
            return None
        ring_owner.attach_key_source(secret_source.name, secret_source.kind)
        tasks.append(asyncio.create_task(secret_source.run()))
    return tasks
