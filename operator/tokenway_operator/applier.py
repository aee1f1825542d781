"""Applies children with server-side apply and puts them back when someone else changes or deletes them.

Every applied manifest is remembered with the generation (or, for kinds without
one, the resourceVersion) the API server answered with. A watch event showing a
newer spec generation, or a deletion, means a foreign change: the remembered
manifest is applied again. Status-only updates (same generation) are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from .kube import Kube, KubeError
from .meta import Manifest
from .metrics import APPLIES, DRIFT_CORRECTIONS

log = logging.getLogger("tokenway.operator")

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)  # then the periodic resync is the backstop

def key_of(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace", "")), str(meta.get("name"))


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_uid(obj: dict[str, Any]) -> str | None:
    ref = controller_ref(obj)
    return str(ref.get("uid")) if ref is not None else None

# (namespace, the controller's ownerReference) -> whether that owner still exists.
OwnerAlive = Callable[[str, Mapping[str, Any]], bool]


def _observed(obj: dict[str, Any]) -> tuple[int | None, str | None]:
    meta = obj.get("metadata") or {}
    gen = meta.get("generation")
    return (int(gen) if gen else None), meta.get("resourceVersion")


class Applier:
    def __init__(self, kube: Kube, owner_alive: OwnerAlive) -> None:
        self.kube = kube
        self.owner_alive = owner_alive
        self.desired: dict[tuple[str, str, str], Manifest] = {}
        self.observed: dict[tuple[str, str, str], tuple[int | None, str | None]] = {}
        # Keys being applied right now: the watch event of our own write may beat the response.
        self._in_flight: set[tuple[str, str, str]] = set()

    async def apply(self, manifest: Manifest) -> dict[str, Any]:
        key = key_of(manifest)
        self.desired[key] = manifest
        self._in_flight.add(key)
        try:
            result = await self.kube.apply(manifest)
        except KubeError:
            APPLIES.labels(kind=key[0], result="error").inc()
            raise
        finally:
            self._in_flight.discard(key)
        APPLIES.labels(kind=key[0], result="ok").inc()
        self.observed[key] = _observed(result)
        return result

    async def apply_all(self, manifests: list[Manifest]) -> dict[tuple[str, str, str], dict[str, Any]]:
        """In order: a RoleBinding's Role must exist before it (RBAC checks the binding against it)."""
        return {key_of(m): await self.apply(m) for m in manifests}

    def forget_owner(self, uid: str) -> None:
        """The owner is gone: garbage collection removes its children; do not recreate them."""
        for key in [k for k, m in self.desired.items() if owner_uid(m) == uid]:
            self.desired.pop(key, None)
            self.observed.pop(key, None)

    def forget(self, key: tuple[str, str, str]) -> None:
        self.desired.pop(key, None)
        self.observed.pop(key, None)

    def drifted(self, event_type: str | None, obj: dict[str, Any]) -> Manifest | None:
        """The manifest to re-apply when ``obj`` (from a watch event) no longer matches what we applied."""
        key = key_of(obj)
        manifest = self.desired.get(key)
        if manifest is None or key in self._in_flight:
            return None
        if not self._owner_alive(manifest):
            self.forget(key)
            return None
        if event_type == "DELETED":
            return manifest
        gen, version = _observed(obj)
        seen_gen, seen_version = self.observed.get(key, (None, None))
        if gen is not None:
            return manifest if seen_gen is None or gen > seen_gen else None
        return manifest if version != seen_version else None

    async def on_child_event(self, event_type: str | None, obj: dict[str, Any]) -> None:
        manifest = self.drifted(event_type, obj)
        if manifest is None:
            return
        kind, namespace, name = key_of(obj)
        what = "deleted" if event_type == "DELETED" else "changed"
        log.info("%s %s/%s was %s by someone else: re-applying", kind, namespace, name, what)
        DRIFT_CORRECTIONS.labels(kind=kind, cause=what).inc()
        for delay in (*RETRY_DELAYS, None):
            try:
                await self.apply(manifest)
                return
            except KubeError as exc:
                # e.g. a RoleBinding whose Role is being recreated by a concurrent handler right now.
                log.warning("re-applying %s %s/%s failed: %s", kind, namespace, name, exc)
                if delay is None or self.desired.get(key_of(obj)) is not manifest:
                    return
                await asyncio.sleep(delay)

    def _owner_alive(self, manifest: Manifest) -> bool:
        ref = controller_ref(manifest)
        return ref is None or self.owner_alive(key_of(manifest)[1], ref)

    async def resync(self) -> None:
        """Re-apply everything (a no-op write when nothing drifted): the backstop for missed events."""
        started = time.monotonic()
        for manifest in list(self.desired.values()):
            if not self._owner_alive(manifest):
                self.forget(key_of(manifest))
                continue
            try:
                await self.apply(manifest)
            except KubeError as exc:
                log.warning("resync of %s failed: %s", key_of(manifest), exc)
        log.debug("resynced %d objects in %.2fs", len(self.desired), time.monotonic() - started)
