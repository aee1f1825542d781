"""Writes status subresources and posts an Event on each meaningful condition transition."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from .cache import Tracked
from .conditions import DEGRADED, READY, SUPPORTED, Cond, merge, now_iso, transitions
from .kinds import API_VERSION_FULL
from .kube import Kube, KubeError

log = logging.getLogger("tokenway.operator")


def worth_an_event(cond: Cond) -> bool:
    """Ready changes, something degraded, or fields the gateway ignores; not every rollout step."""
    return cond.type == READY or (cond.type == DEGRADED and bool(cond.status)) or (
        cond.type == SUPPORTED and cond.status is False)


class StatusWriter:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.last: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        # Reconcilers and watch events refresh the same status concurrently: one writer per object.
        self._locks: defaultdict[tuple[str, str, str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    def forget(self, tracked: Tracked) -> None:
        key = (tracked.kind.kind, tracked.namespace, tracked.name, tracked.uid)
        self.last.pop(key, None)
        self._locks.pop(key, None)

    async def write(self, tracked: Tracked, fields: dict[str, Any], conds: list[Cond]) -> bool:
        """Patch the status when it differs from the last one written; True when written."""
        key = (tracked.kind.kind, tracked.namespace, tracked.name, tracked.uid)
        async with self._locks[key]:
            return await self._write(key, tracked, fields, conds)

    async def _write(self, key: tuple[str, str, str, str], tracked: Tracked, fields: dict[str, Any],
                     conds: list[Cond]) -> bool:
        old = self.last.get(key)
        if old is None:
            old = dict(tracked.body.get("status") or {})
        old_conds = old.get("conditions") or []
        status = {
            **fields,
            "observedGeneration": tracked.generation,
            "conditions": merge(old_conds, conds, tracked.generation, now_iso()),
        }
        if all(old.get(k) == v for k, v in status.items()):
            return False
        try:
            result = await self.kube.patch_status(
                API_VERSION_FULL, tracked.kind.kind, tracked.namespace, tracked.name, status)
        except KubeError as exc:
            log.warning("status of %s %s/%s not written: %s", tracked.kind.kind, tracked.namespace,
                        tracked.name, exc)
            return False
        if result is None:
            return False  # deleted meanwhile
        self.last[key] = {**old, **status}
        for cond in transitions(old_conds, conds):
            if worth_an_event(cond):
                await self._event(tracked, cond)
        return True

    async def _event(self, tracked: Tracked, cond: Cond) -> None:
        involved = {"apiVersion": API_VERSION_FULL, "kind": tracked.kind.kind, "metadata": tracked.meta}
        message = f"{cond.type}={cond.status_text}: {cond.message}" if cond.message else \
            f"{cond.type}={cond.status_text}"
        try:
            await self.kube.post_event(involved, cond.reason, message, warning=cond.warning)
        except KubeError as exc:
            log.warning("event for %s %s/%s not posted: %s", tracked.kind.kind, tracked.namespace,
                        tracked.name, exc)
