"""Wires the operator's parts together; one Runtime lives in kopf's memo.

* :class:`~.pools.PoolReconciler`: InferencePool -> engine Deployment, Service, PDB, status.
* :class:`~.gateways.GatewayReconciler`: InferenceGateway -> gateway Deployment, RBAC, Service, status.
* :class:`~.config_compiler.ConfigCompiler`: one namespace's pools, endpoints and policies ->
  the ConfigMap each gateway there watches, and the policies' status.

They read kopf's indexes through one :class:`~.cache.Cache` and write through one applier
(which also undoes drift) and one status writer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .applier import Applier
from .cache import Cache, Tracked, track
from .config_compiler import ConfigCompiler
from .gateways import GatewayReconciler
from .kinds import INFERENCE_GATEWAY, Kind
from .kube import Kube
from .metrics import RECONCILES
from .pools import PoolReconciler
from .reconciling import DirtyNamespaces, Published, Shared
from .settings import OperatorSettings
from .statuses import StatusWriter


class Runtime:
    def __init__(self, kube: Kube, settings: OperatorSettings, cache: Cache) -> None:
        self.kube = kube
        self.cache = cache
        self.applier = Applier(kube, cache.owner_alive)
        self.shared = Shared(kube, settings, cache, self.applier, StatusWriter(kube), DirtyNamespaces(), Published())
        self.pools = PoolReconciler(self.shared)
        self.gateways = GatewayReconciler(self.shared)
        self.compiler = ConfigCompiler(self.shared, self.pools, self.gateways)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self.compiler.run()), asyncio.create_task(self._resync_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.kube.close()

    def indexes_ready(self) -> None:
        """kopf calls resource handlers only once every index is filled: the first call says so."""
        self.compiler.indexes_ready.set()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.shared.settings.resync_seconds)
            await self.applier.resync()

    async def reconcile_policy(self, body: dict[str, Any], kind: Kind) -> None:
        """Policies have no children: validate, then let the namespace's config compile pick them up."""
        tracked = self.shared.tracked(kind, body)
        await self.shared.reject_invalid(tracked)
        RECONCILES.labels(kind=kind.kind, result="ok").inc()
        self.shared.dirty.mark(tracked.namespace)

    def deleted(self, kind: Kind, body: dict[str, Any]) -> None:
        """A Tokenway object is gone (kopf already dropped it from the index)."""
        tracked: Tracked = track(kind, body)
        self.shared.forget(tracked)
        if kind is INFERENCE_GATEWAY:
            self.gateways.forget(tracked)
        self.shared.dirty.mark(tracked.namespace)
