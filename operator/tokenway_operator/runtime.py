"""The reconcilers: validate -> build (pure) -> server-side apply -> status. kopf handlers call these.

One Runtime lives in kopf's memo; it owns the API client, the informer cache,
the applier (drift correction), the status writer and the per-namespace config
compiler.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from typing import Any, NoReturn, cast

import httpx
import kopf
from tokenway_gateway.api import (
    CachePolicySpec,
    EndpointConfig,
    InferenceGatewaySpec,
    InferencePoolSpec,
    RoutePolicySpec,
)

from .applier import Applier
from .builders.gateway import gateway_children, gateway_config_map, upstream_key_env
from .builders.pool import pool_children
from .compile import compile_snapshot, missing_pools, render_config
from .endpoints import ready_endpoints
from .kinds import API_VERSION_FULL, CACHE_POLICY, INFERENCE_GATEWAY, INFERENCE_POOL, ROUTE_POLICY, Kind
from .kube import Kube, KubeError
from .meta import MANAGED_BY, MANAGER, POOL_LABEL
from .metrics import COMPILE_SECONDS, COMPILES, CONFIG_WRITES, ERRORS, RECONCILE_SECONDS, RECONCILES
from .settings import OperatorSettings
from .state import State, Tracked
from .status import gateway_status, invalid, policy_status, pool_status
from .statuses import StatusWriter

log = logging.getLogger("tokenway.operator")

POOL_CHILD_KINDS = (("apps/v1", "Deployment"), ("v1", "Service"), ("policy/v1", "PodDisruptionBudget"))
APPLY_RETRY_SECONDS = 5


class Runtime:
    def __init__(self, kube: Kube, settings: OperatorSettings) -> None:
        self.kube = kube
        self.settings = settings
        self.state = State()
        self.applier = Applier(kube, self.state.owner_alive)
        self.statuses = StatusWriter(kube)
        self.apply_errors: dict[tuple[str, str, str], str] = {}
        self.config_written: dict[tuple[str, str], str] = {}  # (namespace, gateway) -> version
        self.gateway_env: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        # Set once everything was listed and compiled: before that a gateway's status would
        # flap to ConfigPending on every operator restart.
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._compile_loop()), asyncio.create_task(self._resync_loop())]

    async def initial_sync(self) -> None:
        """List everything the compiler reads before the first compile.

        kopf's watch streams deliver their initial lists independently; compiling
        before all of them arrived could push a snapshot missing pools or routes
        to running gateways after an operator restart.
        """
        namespaces: list[str | None] = [ns for ns in self.settings.namespaces if not _is_glob(ns)] or [None]
        if any(_is_glob(ns) for ns in self.settings.namespaces):
            namespaces = [None]
        for namespace in namespaces:
            # Watch events may have delivered newer versions already: listed ones only fill gaps.
            for kind in (INFERENCE_POOL, ROUTE_POLICY, CACHE_POLICY, INFERENCE_GATEWAY):
                for body in await self.kube.list(API_VERSION_FULL, kind.kind, namespace):
                    meta = body["metadata"]
                    if self._in_scope(body) and self.state.get(kind, meta["namespace"], meta["name"]) is None \
                            and meta["uid"] not in self.state.deleted_uids:
                        self.state.upsert(kind, body)
            for slice_ in await self.kube.list("discovery.k8s.io/v1", "EndpointSlice", namespace, POOL_LABEL):
                meta = slice_["metadata"]
                if self._in_scope(slice_) and meta["name"] not in self.state.slices[meta["namespace"]]:
                    self.state.put_slice(slice_)
            for deployment in await self.kube.list("apps/v1", "Deployment", namespace, f"{MANAGED_BY}={MANAGER}"):
                meta = deployment["metadata"]
                if self._in_scope(deployment):
                    self.state.deployments[meta["namespace"]].setdefault(meta["name"], deployment)

    def _in_scope(self, body: dict[str, Any]) -> bool:
        patterns = self.settings.namespaces
        namespace = (body.get("metadata") or {}).get("namespace", "")
        return not patterns or any(fnmatch.fnmatchcase(namespace, p) for p in patterns)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.kube.close()

    def mark_all(self) -> None:
        for namespace in self.state.namespaces():
            self.mark(namespace)

    def mark(self, namespace: str) -> None:
        """The namespace's gateway config may have changed: recompile it soon (coalesced)."""
        self._dirty.add(namespace)
        self._wake.set()

    async def _compile_loop(self) -> None:
        while True:
            try:
                await self.initial_sync()
                break
            except (KubeError, httpx.HTTPError) as exc:
                log.warning("initial listing failed (%s); retrying before the first config compile", exc)
                await asyncio.sleep(2)
        self.mark_all()
        first = True
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.settings.compile_debounce_seconds)
            batch, self._dirty = self._dirty, set()
            for namespace in sorted(batch):
                try:
                    await self.sync_namespace(namespace)
                except Exception:
                    log.exception("compiling the gateway config of namespace %s failed; retrying", namespace)
                    ERRORS.labels(kind="GatewayConfig", reason="Exception").inc()
                    asyncio.get_running_loop().call_later(1.0, self.mark, namespace)
            if first:
                first = False
                self._synced.set()
                for gateway_ns in self.state.namespaces():
                    for gateway in self.state.all(INFERENCE_GATEWAY, gateway_ns):
                        await self.refresh_gateway_status(gateway_ns, gateway.name)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            await self.applier.resync()

    # ---- InferencePool ---------------------------------------------------------------------

    async def reconcile_pool(self, body: dict[str, Any]) -> None:
        tracked = self._track(INFERENCE_POOL, body)
        with RECONCILE_SECONDS.labels(kind="InferencePool").time():
            await self._rejecting_invalid(tracked)
            spec = cast(InferencePoolSpec, tracked.spec)
            key = ("InferencePool", tracked.namespace, tracked.name)
            children = pool_children(tracked.name, tracked.namespace, tracked.uid, spec, self.settings.images)
            try:
                await self.applier.apply_all(children)
                if spec.engine == "external":
                    await self._prune_pool_children(tracked)
            except KubeError as exc:
                await self._apply_failed(tracked, key, exc)
            self.apply_errors.pop(key, None)
            # The Deployment's body reaches the state through its watch events only: storing the
            # apply response here could overwrite a newer status that arrived meanwhile.
            RECONCILES.labels(kind="InferencePool", result="ok").inc()
        await self.refresh_pool_status(tracked.namespace, tracked.name)
        self.mark(tracked.namespace)

    async def _prune_pool_children(self, tracked: Tracked) -> None:
        """engine: external owns no pods: delete what an earlier in-cluster engine left behind."""
        for api_version, kind in POOL_CHILD_KINDS:
            self.applier.forget((kind, tracked.namespace, tracked.name))
            child = await self.kube.get(api_version, kind, tracked.namespace, tracked.name)
            refs = ((child or {}).get("metadata") or {}).get("ownerReferences") or []
            if child is not None and any(r.get("uid") == tracked.uid for r in refs):
                await self.kube.delete(api_version, kind, tracked.namespace, tracked.name,
                                       uid=child["metadata"]["uid"])
        self.state.deployments[tracked.namespace].pop(tracked.name, None)

    def pool_endpoints(self, namespace: str, name: str, spec: InferencePoolSpec) -> list[EndpointConfig]:
        if spec.engine == "external":
            return []
        return ready_endpoints(self.state.service_slices(namespace, name))

    async def refresh_pool_status(self, namespace: str, name: str) -> None:
        tracked = self.state.get(INFERENCE_POOL, namespace, name)
        if tracked is None or tracked.error or tracked.spec is None:
            return
        spec = cast(InferencePoolSpec, tracked.spec)
        ready = len(self.pool_endpoints(namespace, name, spec))
        deployment = self.state.deployments[namespace].get(name)
        fields, conds = pool_status(spec, deployment, ready, self.apply_errors.get(("InferencePool", namespace, name)))
        await self.statuses.write(tracked, fields, conds)

    # ---- InferenceGateway ------------------------------------------------------------------

    async def reconcile_gateway(self, body: dict[str, Any]) -> None:
        tracked = self._track(INFERENCE_GATEWAY, body)
        with RECONCILE_SECONDS.labels(kind="InferenceGateway").time():
            await self._rejecting_invalid(tracked)
            await self._apply_gateway(tracked)
            RECONCILES.labels(kind="InferenceGateway", result="ok").inc()
        await self.refresh_gateway_status(tracked.namespace, tracked.name)
        self.mark(tracked.namespace)

    async def _apply_gateway(self, tracked: Tracked) -> None:
        spec = cast(InferenceGatewaySpec, tracked.spec)
        key = ("InferenceGateway", tracked.namespace, tracked.name)
        pools = cast(dict[str, InferencePoolSpec], self.state.specs(INFERENCE_POOL, tracked.namespace))
        children = gateway_children(tracked.name, tracked.namespace, tracked.uid, spec,
                                    self.settings.images.gateway, pools)
        try:
            await self.applier.apply_all(children)
        except KubeError as exc:
            await self._apply_failed(tracked, key, exc)
        self.apply_errors.pop(key, None)
        self.gateway_env[(tracked.namespace, tracked.name)] = upstream_key_env(pools)

    async def refresh_gateway_status(self, namespace: str, name: str) -> None:
        tracked = self.state.get(INFERENCE_GATEWAY, namespace, name)
        if tracked is None or tracked.error or tracked.spec is None or not self._synced.is_set():
            return
        spec = cast(InferenceGatewaySpec, tracked.spec)
        version = self.config_written.get((namespace, name))
        pools = len(self.state.specs(INFERENCE_POOL, namespace))
        routes = sum(1 for s in self.state.specs(ROUTE_POLICY, namespace).values()
                     if not missing_pools(s, set(self.state.specs(INFERENCE_POOL, namespace))))
        fields, conds = gateway_status(spec, self.state.deployments[namespace].get(name), version, pools, routes,
                                       self.apply_errors.get(("InferenceGateway", namespace, name)))
        await self.statuses.write(tracked, fields, conds)

    # ---- RoutePolicy / CachePolicy ---------------------------------------------------------

    async def reconcile_policy(self, body: dict[str, Any], kind: Kind) -> None:
        """Policies have no children: validate, then let the namespace's config compile pick them up."""
        tracked = self._track(kind, body)
        await self._rejecting_invalid(tracked)
        RECONCILES.labels(kind=kind.kind, result="ok").inc()
        self.mark(tracked.namespace)

    # ---- one namespace's gateway config ----------------------------------------------------

    async def sync_namespace(self, namespace: str) -> None:
        """Compile pools + ready endpoints + policies into the snapshot every gateway here serves."""
        started = time.monotonic()
        state = self.state
        pools = cast(dict[str, InferencePoolSpec], state.specs(INFERENCE_POOL, namespace))
        endpoints = {name: self.pool_endpoints(namespace, name, spec) for name, spec in pools.items()}
        routes = cast(dict[str, RoutePolicySpec], state.specs(ROUTE_POLICY, namespace))
        caches = cast(dict[str, CachePolicySpec], state.specs(CACHE_POLICY, namespace))
        gateways = [g for g in state.all(INFERENCE_GATEWAY, namespace) if g.spec is not None]
        for gateway in gateways:
            spec = cast(InferenceGatewaySpec, gateway.spec)
            config = compile_snapshot(pools, endpoints, routes, caches, spec)
            COMPILES.inc()
            if self.config_written.get((namespace, gateway.name)) != config.version:
                manifest = gateway_config_map(gateway.name, namespace, gateway.uid, render_config(config),
                                              config.version)
                await self.applier.apply(manifest)
                CONFIG_WRITES.inc()
                self.config_written[(namespace, gateway.name)] = config.version
                log.info("gateway %s/%s: config version %s (%d pools, %d routes)", namespace, gateway.name,
                         config.version, len(config.pools), len(config.routes))
            if self.gateway_env.get((namespace, gateway.name)) != upstream_key_env(pools):
                await self._apply_gateway(gateway)  # an external endpoint's key Secret changed
            await self.refresh_gateway_status(namespace, gateway.name)
        COMPILE_SECONDS.observe(time.monotonic() - started)
        names = set(pools)
        for kind in (ROUTE_POLICY, CACHE_POLICY):
            for tracked in state.all(kind, namespace):
                if tracked.error or tracked.spec is None:
                    continue
                missing = missing_pools(tracked.spec, names) if isinstance(tracked.spec, RoutePolicySpec) else []
                extra = {"rules": len(tracked.spec.rules)} if isinstance(tracked.spec, RoutePolicySpec) else {}
                fields, conds = policy_status(tracked.spec, missing, len(gateways), extra)
                await self.statuses.write(tracked, fields, conds)
        for name in pools:
            await self.refresh_pool_status(namespace, name)

    # ---- helpers ---------------------------------------------------------------------------

    def _track(self, kind: Kind, body: dict[str, Any]) -> Tracked:
        meta = body.get("metadata") or {}
        tracked = self.state.get(kind, meta.get("namespace", ""), meta.get("name", ""))
        if tracked is None or tracked.uid != meta.get("uid") or tracked.generation != meta.get("generation"):
            tracked, _ = self.state.upsert(kind, dict(body))
        return tracked

    async def _rejecting_invalid(self, tracked: Tracked) -> None:
        """An invalid spec gets Ready=False/InvalidSpec and no retries until the spec changes."""
        if tracked.error is None:
            return
        RECONCILES.labels(kind=tracked.kind.kind, result="invalid").inc()
        ERRORS.labels(kind=tracked.kind.kind, reason="InvalidSpec").inc()
        await self.statuses.write(tracked, {}, invalid(tracked.error))
        raise kopf.PermanentError(f"invalid spec: {tracked.error}")

    async def _apply_failed(self, tracked: Tracked, key: tuple[str, str, str], exc: KubeError) -> NoReturn:
        self.apply_errors[key] = str(exc)
        RECONCILES.labels(kind=tracked.kind.kind, result="error").inc()
        ERRORS.labels(kind=tracked.kind.kind, reason="ApplyFailed").inc()
        if tracked.kind is INFERENCE_POOL:
            await self.refresh_pool_status(tracked.namespace, tracked.name)
        else:
            await self.refresh_gateway_status(tracked.namespace, tracked.name)
        if exc.status in (400, 422):  # the API server will reject the same manifest again
            raise kopf.PermanentError(f"apply rejected: {exc}") from exc
        raise kopf.TemporaryError(f"apply failed: {exc}", delay=APPLY_RETRY_SECONDS) from exc

    def forget(self, tracked: Tracked) -> None:
        """The object was deleted: children go with it (garbage collection), so do our memories."""
        self.applier.forget_owner(tracked.uid)
        self.statuses.forget(tracked)
        key = (tracked.namespace, tracked.name)
        if tracked.kind is INFERENCE_GATEWAY:
            self.config_written.pop(key, None)
            self.gateway_env.pop(key, None)
        if tracked.kind in (INFERENCE_GATEWAY, INFERENCE_POOL):
            self.state.deployments[tracked.namespace].pop(tracked.name, None)
        self.apply_errors.pop((tracked.kind.kind, tracked.namespace, tracked.name), None)


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")
