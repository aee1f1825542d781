"""The InferenceGateway reconciler: spec -> ServiceAccount, Role, RoleBinding, Deployment, Service -> status.

The gateway's ConfigMap is not built here: the config compiler writes it (config_compiler.py).
"""

from __future__ import annotations

from typing import Any, cast

from tokenway_gateway.api import CachePolicySpec, InferenceGatewaySpec, InferencePoolSpec, RoutePolicySpec

from .builders.gateway import gateway_children, secret_env
from .cache import Tracked
from .compile import missing_pools
from .kinds import CACHE_POLICY, INFERENCE_GATEWAY, INFERENCE_POOL, ROUTE_POLICY
from .metrics import RECONCILE_SECONDS, RECONCILES
from .reconciling import Shared
from .status import gateway_status


class GatewayReconciler:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        # The Secret-backed env vars (external endpoints' keys, caches' Redis URLs) each gateway
        # Deployment was last applied with.
        self._env: dict[tuple[str, str], list[dict[str, Any]]] = {}

    async def reconcile(self, body: dict[str, Any]) -> None:
        tracked = self.shared.tracked(INFERENCE_GATEWAY, body)
        with RECONCILE_SECONDS.labels(kind=INFERENCE_GATEWAY.kind).time():
            await self.shared.reject_invalid(tracked)
            await self.apply(tracked)
            RECONCILES.labels(kind=INFERENCE_GATEWAY.kind, result="ok").inc()
        await self.refresh_status(tracked.namespace, tracked.name)
        self.shared.dirty.mark(tracked.namespace)

    def _pools(self, namespace: str) -> dict[str, InferencePoolSpec]:
        return cast(dict[str, InferencePoolSpec], self.shared.cache.specs(INFERENCE_POOL, namespace))

    def _caches(self, namespace: str) -> dict[str, CachePolicySpec]:
        return cast(dict[str, CachePolicySpec], self.shared.cache.specs(CACHE_POLICY, namespace))

    async def apply(self, tracked: Tracked) -> None:
        shared = self.shared
        spec = cast(InferenceGatewaySpec, tracked.spec)
        pools, caches = self._pools(tracked.namespace), self._caches(tracked.namespace)
        children = gateway_children(tracked.name, tracked.namespace, tracked.uid, spec,
                                    shared.settings.images.gateway, pools, caches)
        await shared.applying(tracked, shared.applier.apply_all(children), self.refresh_status)
        self._env[(tracked.namespace, tracked.name)] = secret_env(pools, caches)

    async def follow_pools(self, tracked: Tracked) -> None:
        """Re-apply the Deployment when a Secret reference it maps to env changed (an external endpoint's
        key, a CachePolicy's redisSecretRef)."""
        namespace = tracked.namespace
        if self._env.get((namespace, tracked.name)) != secret_env(self._pools(namespace), self._caches(namespace)):
            await self.apply(tracked)

    async def refresh_status(self, namespace: str, name: str) -> None:
        shared = self.shared
        tracked = shared.cache.get(INFERENCE_GATEWAY, namespace, name)
        if tracked is None or tracked.error or tracked.spec is None \
                or not shared.published.first_compile_done.is_set():
            return
        spec = cast(InferenceGatewaySpec, tracked.spec)
        pools = set(shared.cache.specs(INFERENCE_POOL, namespace))
        routes = sum(1 for route in shared.cache.specs(ROUTE_POLICY, namespace).values()
                     if not missing_pools(cast(RoutePolicySpec, route), pools))
        fields, conds = gateway_status(spec, shared.cache.deployment(namespace, name),
                                       shared.published.versions.get((namespace, name)), len(pools), routes,
                                       shared.apply_error(tracked))
        await shared.statuses.write(tracked, fields, conds)

    def forget(self, tracked: Tracked) -> None:
        self._env.pop((tracked.namespace, tracked.name), None)
        self.shared.published.versions.pop((tracked.namespace, tracked.name), None)
