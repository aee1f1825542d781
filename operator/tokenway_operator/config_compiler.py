"""The per-namespace config compiler: pools + ready endpoints + policies -> one ConfigMap per gateway.

Changes mark their namespace dirty; one loop compiles dirty namespaces in batches
(a short debounce coalesces bursts of endpoint changes into one write). It starts
only once kopf's indexes are complete, so a restarted operator never pushes a
snapshot that misses pools or routes it simply had not seen yet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

from tokenway_gateway.api import CachePolicySpec, InferenceGatewaySpec, InferencePoolSpec, RoutePolicySpec

from .builders.gateway import gateway_config_map
from .cache_status import served_rules
from .compile import compile_snapshot, missing_pools, render_config
from .gateways import GatewayReconciler
from .kinds import CACHE_POLICY, INFERENCE_GATEWAY, INFERENCE_POOL, ROUTE_POLICY
from .metrics import COMPILE_SECONDS, COMPILES, CONFIG_WRITES, ERRORS
from .pools import PoolReconciler
from .reconciling import Shared
from .status import policy_status

log = logging.getLogger("tokenway.operator")

RETRY_SECONDS = 1.0
# After a batch of compiles, wait as long as it took (at most this): while changes stream in (a thousand
# pools created, endpoints flapping), compiles take at most about half the event loop, and each one
# folds in every change of the pause. A quiet namespace still compiles within the debounce.
MAX_PAUSE_SECONDS = 1.0


class ConfigCompiler:
    def __init__(self, shared: Shared, pools: PoolReconciler, gateways: GatewayReconciler) -> None:
        self.shared = shared
        self.pools = pools
        self.gateways = gateways
        self.indexes_ready = asyncio.Event()  # set by the first resource handler kopf calls
        self._ready_counts: dict[tuple[str, str], int] = {}  # ready endpoints per pool at the last compile
        self._refreshing: set[asyncio.Task[None]] = set()

    def mark_all(self) -> None:
        for namespace in self.shared.cache.namespaces():
            self.shared.dirty.mark(namespace)

    async def run(self) -> None:
        shared = self.shared
        await self.indexes_ready.wait()
        self.mark_all()
        while True:
            await shared.dirty.wake.wait()
            await asyncio.sleep(shared.settings.compile_debounce_seconds)
            started = time.monotonic()
            for namespace in sorted(shared.dirty.take()):
                try:
                    await self.sync_namespace(namespace)
                except Exception:
                    log.exception("compiling the gateway config of namespace %s failed; retrying", namespace)
                    ERRORS.labels(kind="GatewayConfig", reason="Exception").inc()
                    asyncio.get_running_loop().call_later(RETRY_SECONDS, shared.dirty.mark, namespace)
            if not shared.published.first_compile_done.is_set():
                shared.published.first_compile_done.set()
                for namespace in shared.cache.namespaces():
                    for gateway in shared.cache.all(INFERENCE_GATEWAY, namespace):
                        await self.gateways.refresh_status(namespace, gateway.name)
            await asyncio.sleep(min(MAX_PAUSE_SECONDS, time.monotonic() - started))

    async def sync_namespace(self, namespace: str) -> None:
        """Compile pools + ready endpoints + policies into the snapshot every gateway here serves."""
        started = time.monotonic()
        shared, cache = self.shared, self.shared.cache
        pools = cast(dict[str, InferencePoolSpec], cache.specs(INFERENCE_POOL, namespace))
        endpoints = {name: self.pools.endpoints(namespace, name, spec) for name, spec in pools.items()}
        routes = cast(dict[str, RoutePolicySpec], cache.specs(ROUTE_POLICY, namespace))
        caches = cast(dict[str, CachePolicySpec], cache.specs(CACHE_POLICY, namespace))
        gateways = [g for g in cache.all(INFERENCE_GATEWAY, namespace) if g.spec is not None]
        for gateway in gateways:
            spec = cast(InferenceGatewaySpec, gateway.spec)
            config = compile_snapshot(pools, endpoints, routes, caches, spec)
            COMPILES.inc()
            key = (namespace, gateway.name)
            if shared.published.versions.get(key) != config.version:
                manifest = gateway_config_map(gateway.name, namespace, gateway.uid, render_config(config),
                                              config.version)
                await shared.applier.apply(manifest)
                CONFIG_WRITES.inc()
                shared.published.versions[key] = config.version
                log.info("gateway %s/%s: config version %s (%d pools, %d routes)", namespace, gateway.name,
                         config.version, len(config.pools), len(config.routes))
            await self.gateways.follow_pools(gateway)
        COMPILE_SECONDS.observe(time.monotonic() - started)
        names = set(pools)
        served = served_rules(caches, routes, names)  # the rules each CachePolicy serves, as the gateway assigns them
        for kind in (ROUTE_POLICY, CACHE_POLICY):
            for tracked in cache.all(kind, namespace):
                if tracked.error or tracked.spec is None:
                    continue
                route = tracked.spec if isinstance(tracked.spec, RoutePolicySpec) else None
                missing = missing_pools(route, names) if route is not None else []
                extra = {"rules": len(route.rules)} if route is not None else {"routes": len(served[tracked.name])}
                fields, conds = policy_status(tracked.spec, missing, len(gateways), extra)
                await shared.statuses.write(tracked, fields, conds)
        # A pool's status reads its ready endpoints: refresh the pools whose count changed (the others'
        # statuses follow their own events), not every pool of the namespace on every compile.
        # Off the compile loop: a thousand status writes must not hold back the next endpoint change.
        counts = self._ready_counts
        for key in [k for k in counts if k[0] == namespace and k[1] not in pools]:
            del counts[key]
        changed = [name for name, ready in endpoints.items() if counts.get((namespace, name)) != len(ready)]
        for name in changed:
            counts[(namespace, name)] = len(endpoints[name])
        task = asyncio.create_task(self._refresh_statuses(namespace, [g.name for g in gateways], changed))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _refresh_statuses(self, namespace: str, gateways: list[str], names: list[str]) -> None:
        for gateway in gateways:
            try:
                await self.gateways.refresh_status(namespace, gateway)
            except Exception:
                log.exception("status of gateway %s/%s not refreshed", namespace, gateway)
        for name in names:
            try:
                await self.pools.refresh_status(namespace, name)
            except Exception:
                log.exception("status of pool %s/%s not refreshed", namespace, name)
