"""What the reconcilers share, and the steps every reconcile takes.

A reconcile is: track the object (its last valid spec, from the cache) -> reject an
invalid spec with a condition -> build children (pure) -> server-side apply -> status.
The pool and gateway reconcilers and the config compiler each own one job and meet
here: the cache they read, the applier and status writer they write through, the
namespaces whose gateway config must be recompiled, and the config versions written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import kopf

from .applier import Applier
from .cache import Cache, Tracked, track
from .kinds import Kind
from .kube import Kube, KubeError
from .metrics import ERRORS, RECONCILES
from .settings import OperatorSettings
from .status import invalid
from .statuses import StatusWriter

APPLY_RETRY_SECONDS = 5


class DirtyNamespaces:
    """Namespaces whose gateway config may have changed; the compiler drains them in batches."""

    def __init__(self) -> None:
        self._dirty: set[str] = set()
        self.wake = asyncio.Event()

    def mark(self, namespace: str) -> None:
        self._dirty.add(namespace)
        self.wake.set()

    def take(self) -> set[str]:
        batch, self._dirty = self._dirty, set()
        self.wake.clear()
        return batch


@dataclass
class Published:
    """Config versions written per (namespace, gateway), and whether the first compile after start is done.

    Until it is, a gateway's status would read ConfigPending on every operator restart."""

    versions: dict[tuple[str, str], str] = field(default_factory=dict)
    first_compile_done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Shared:
    kube: Kube
    settings: OperatorSettings
    cache: Cache
    applier: Applier
    statuses: StatusWriter
    dirty: DirtyNamespaces
    published: Published
    apply_errors: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def tracked(self, kind: Kind, body: dict[str, Any]) -> Tracked:
        """The object of ``body`` as the cache holds it (kopf indexed it before calling the handler)."""
        meta = body.get("metadata") or {}
        current = self.cache.get(kind, meta.get("namespace", ""), meta.get("name", ""))
        if current is not None and current.uid == meta.get("uid") and current.generation == meta.get("generation"):
            return current
        return track(kind, body, current)

    def apply_error(self, tracked: Tracked) -> str | None:
        return self.apply_errors.get((tracked.kind.kind, tracked.namespace, tracked.name))

    async def reject_invalid(self, tracked: Tracked) -> None:
        """An invalid spec gets Ready=False/InvalidSpec and no retries until the spec changes."""
        if tracked.error is None:
            return
        RECONCILES.labels(kind=tracked.kind.kind, result="invalid").inc()
        ERRORS.labels(kind=tracked.kind.kind, reason="InvalidSpec").inc()
        await self.statuses.write(tracked, {}, invalid(tracked.error))
        raise kopf.PermanentError(f"invalid spec: {tracked.error}")

    async def applying(self, tracked: Tracked, writes: Awaitable[object],
                       refresh_status: Callable[[str, str], Awaitable[None]]) -> None:
        """Run ``writes``; on failure report it in the status and let kopf retry (or not, for 400/422)."""
        key = (tracked.kind.kind, tracked.namespace, tracked.name)
        try:
            await writes
        except KubeError as exc:
            self.apply_errors[key] = str(exc)
            RECONCILES.labels(kind=tracked.kind.kind, result="error").inc()
            ERRORS.labels(kind=tracked.kind.kind, reason="ApplyFailed").inc()
            await refresh_status(tracked.namespace, tracked.name)
            _raise_for_kopf(exc)
        self.apply_errors.pop(key, None)

    def forget(self, tracked: Tracked) -> None:
        """The object was deleted: children go with it (garbage collection), so do our memories."""
        self.applier.forget_owner(tracked.uid)
        self.statuses.forget(tracked)
        self.apply_errors.pop((tracked.kind.kind, tracked.namespace, tracked.name), None)


def _raise_for_kopf(exc: KubeError) -> NoReturn:
    if exc.status in (400, 422):  # the API server will reject the same manifest again
        raise kopf.PermanentError(f"apply rejected: {exc}") from exc
    raise kopf.TemporaryError(f"apply failed: {exc}", delay=APPLY_RETRY_SECONDS) from exc
