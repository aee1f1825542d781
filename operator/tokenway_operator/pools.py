"""The InferencePool reconciler: spec -> Deployment, Service, PodDisruptionBudget -> pool status."""

from __future__ import annotations

from typing import Any, cast

from tokenway_gateway.api import EndpointConfig, InferencePoolSpec

from .autoscaling.bounds import autoscaled_replicas
from .builders.pool import pool_children, pool_deployment
from .cache import Tracked
from .endpoints import ready_endpoints
from .kinds import INFERENCE_POOL, children_of
from .metrics import RECONCILE_SECONDS, RECONCILES
from .reconciling import Shared
from .status import pool_status


class PoolReconciler:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.decided: dict[tuple[str, str], int] = {}  # the autoscaler's last applied size per pool

    async def reconcile(self, body: dict[str, Any]) -> None:
        shared = self.shared
        tracked = shared.tracked(INFERENCE_POOL, body)
        with RECONCILE_SECONDS.labels(kind=INFERENCE_POOL.kind).time():
            await shared.reject_invalid(tracked)
            spec = cast(InferencePoolSpec, tracked.spec)
            children = pool_children(tracked.name, tracked.namespace, tracked.uid, spec, shared.settings.images,
                                     self.replicas(tracked, spec))

            async def writes() -> None:
                await shared.applier.apply_all(children)
                if spec.engine == "external":
                    await self._prune_children(tracked)

            await shared.applying(tracked, writes(), self.refresh_status)
            # The Deployment's body reaches the cache through its watch events only: the apply
            # response could be older than a status that arrived meanwhile.
            RECONCILES.labels(kind=INFERENCE_POOL.kind, result="ok").inc()
        await self.refresh_status(tracked.namespace, tracked.name)
        shared.dirty.mark(tracked.namespace)

    def replicas(self, tracked: Tracked, spec: InferencePoolSpec) -> int | None:
        """An autoscaled pool keeps the size the autoscaler chose when its Deployment is re-applied."""
        deployment = self.shared.cache.deployment(tracked.namespace, tracked.name)
        return autoscaled_replicas(spec, self.decided.get((tracked.namespace, tracked.name)), deployment,
                                   tracked.body.get("status"))

    async def scale(self, tracked: Tracked, spec: InferencePoolSpec, replicas: int) -> None:
        """The autoscaler's write: the same Deployment manifest with new replicas, through the applier (which
        then takes the new size as the one to keep, not as drift)."""
        self.decided[(tracked.namespace, tracked.name)] = replicas
        await self.shared.applier.apply(pool_deployment(tracked.name, tracked.namespace, tracked.uid, spec,
                                                         self.shared.settings.images, replicas))

    async def _prune_children(self, tracked: Tracked) -> None:
        """engine: external owns no pods: delete what an earlier in-cluster engine left behind."""
        kube, applier = self.shared.kube, self.shared.applier
        for child in children_of(INFERENCE_POOL):
            applier.forget((child.kind, tracked.namespace, tracked.name))
            found = await kube.get(child.api_version, child.kind, tracked.namespace, tracked.name)
            refs = ((found or {}).get("metadata") or {}).get("ownerReferences") or []
            if found is not None and any(r.get("uid") == tracked.uid for r in refs):
                await kube.delete(child.api_version, child.kind, tracked.namespace, tracked.name,
                                  uid=found["metadata"]["uid"])

    def endpoints(self, namespace: str, name: str, spec: InferencePoolSpec) -> list[EndpointConfig]:
        """The pool's ready endpoints, from the EndpointSlices of its Service (external pools list their own)."""
        if spec.engine == "external":
            return []
        return ready_endpoints(self.shared.cache.service_slices(namespace, name))

    async def refresh_status(self, namespace: str, name: str) -> None:
        shared = self.shared
        tracked = shared.cache.get(INFERENCE_POOL, namespace, name)
        if tracked is None or tracked.error or tracked.spec is None:
            return
        spec = cast(InferencePoolSpec, tracked.spec)
        ready = len(self.endpoints(namespace, name, spec))
        deployment = None if spec.engine == "external" else shared.cache.deployment(namespace, name)
        fields, conds = pool_status(spec, deployment, ready, shared.apply_error(tracked))
        await shared.statuses.write(tracked, fields, conds)
