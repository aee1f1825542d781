"""kopf handlers: thin adapters from watch events to the reconcilers, plus kopf's indexes.

Importing this module registers everything in kopf's default registry.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import kopf
from tokenway_gateway.api import API_GROUP, API_VERSION
from tokenway_gateway.kube import KubeConnection

from .cache import Cache, deployment_entries, slice_entries, tracked_entries
from .kinds import (
    CACHE_POLICY,
    CHILD_KINDS,
    ENDPOINT_SLICE,
    INFERENCE_GATEWAY,
    INFERENCE_POOL,
    KINDS,
    ROUTE_POLICY,
    Kind,
)
from .kube import Kube
from .meta import COMPONENT, INSTANCE, MANAGED_BY, MANAGER, POOL_LABEL
from .metrics import MANAGED
from .runtime import Runtime
from .settings import OperatorSettings

log = logging.getLogger("tokenway.operator")

MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGER}"
SLICES_INDEX = "tokenway_endpointslices"
DEPLOYMENTS_INDEX = "tokenway_deployments"


def runtime(memo: Any) -> Runtime:
    """For resource handlers only: kopf runs them after every index is filled, so the first call says so."""
    rt: Runtime = memo.runtime
    rt.indexes_ready()
    return rt


# ---- operator lifecycle ------------------------------------------------------------------------


@kopf.on.login()
async def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """One credential source for kopf's watches and our writes (in-cluster or a kubeconfig, exec plugins too).

    kopf logs in again when ``expiration`` passes or the API server answers 401."""
    conn: KubeConnection = memo.connection
    creds = await conn.credentials()
    return kopf.ConnectionInfo(
        server=conn.server,
        ca_data=conn.ca_data,
        insecure=conn.insecure,
        token=creds.token,
        scheme="Bearer" if creds.token else None,
        certificate_data=creds.cert_data,
        private_key_data=creds.key_data,
        default_namespace=conn.namespace,
        expiration=datetime.fromtimestamp(creds.expires_at, UTC) if creds.expires_at is not None else None,
    )


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration")
    settings.persistence.finalizer = f"{API_GROUP}/finalizer"
    settings.posting.level = logging.WARNING  # our own Events report transitions; kopf's only failures
    # Objects handled at once per kind: a thousand pools created together would otherwise each hold a
    # handler, its bodies and requests in flight at the same time (memory peaks that never come back).
    # An idle worker keeps its slot until idle_timeout: short, so the slots turn over.
    settings.queueing.worker_limit = 100
    settings.queueing.idle_timeout = 0.5
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.networking.request_timeout = 60
    for child in CHILD_KINDS:
        settings.watching.label_selectors[child.api_version, child.plural] = MANAGED_SELECTOR
    settings.watching.label_selectors[ENDPOINT_SLICE.api_version, ENDPOINT_SLICE.plural] = POOL_LABEL
    op_settings: OperatorSettings = memo.operator_settings
    settings.peering.lifetime = op_settings.peering_lifetime
    # The indexes are live objects: empty now, complete before any resource handler runs.
    cache = Cache.from_kwargs(kwargs, SLICES_INDEX, DEPLOYMENTS_INDEX)
    memo.runtime = Runtime(Kube(memo.connection), op_settings, cache)
    memo.runtime.start()


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    if getattr(memo, "runtime", None) is not None:
        await memo.runtime.stop()


# ---- indexes: what the reconcilers and the config compiler read --------------------------------


def _register_kind(kind: Kind) -> None:
    def index(body: kopf.Body, **kwargs: Any) -> dict[Any, Any]:
        return tracked_entries(kind, body, kwargs[kind.index_id])

    async def on_event(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
        rt = runtime(memo)
        if type == "DELETED":
            rt.deleted(kind, dict(body))
        if type != "MODIFIED":  # counting is O(objects): only when one comes or goes, not per status write
            MANAGED.labels(kind=kind.kind).set(rt.cache.count(kind))

    kopf.index(API_GROUP, API_VERSION, kind.plural, id=kind.index_id)(index)
    kopf.on.event(API_GROUP, API_VERSION, kind.plural, id=f"deleted-{kind.plural}")(on_event)


for _kind in KINDS:
    _register_kind(_kind)


@kopf.index(ENDPOINT_SLICE.api_version, ENDPOINT_SLICE.plural, labels={POOL_LABEL: kopf.PRESENT}, id=SLICES_INDEX)
def index_endpoint_slice(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return slice_entries(body)


@kopf.index("apps/v1", "deployments", labels={MANAGED_BY: MANAGER}, id=DEPLOYMENTS_INDEX)
def index_deployment(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return deployment_entries(body)


# ---- Tokenway kinds: reconcilers ---------------------------------------------------------------


@kopf.on.resume(API_GROUP, API_VERSION, INFERENCE_POOL.plural)
@kopf.on.create(API_GROUP, API_VERSION, INFERENCE_POOL.plural)
@kopf.on.update(API_GROUP, API_VERSION, INFERENCE_POOL.plural)
async def reconcile_pool(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).pools.reconcile(dict(body))


@kopf.on.resume(API_GROUP, API_VERSION, INFERENCE_GATEWAY.plural)
@kopf.on.create(API_GROUP, API_VERSION, INFERENCE_GATEWAY.plural)
@kopf.on.update(API_GROUP, API_VERSION, INFERENCE_GATEWAY.plural)
async def reconcile_gateway(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).gateways.reconcile(dict(body))


@kopf.on.resume(API_GROUP, API_VERSION, ROUTE_POLICY.plural)
@kopf.on.create(API_GROUP, API_VERSION, ROUTE_POLICY.plural)
@kopf.on.update(API_GROUP, API_VERSION, ROUTE_POLICY.plural)
async def reconcile_route_policy(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).reconcile_policy(dict(body), ROUTE_POLICY)


@kopf.on.resume(API_GROUP, API_VERSION, CACHE_POLICY.plural)
@kopf.on.create(API_GROUP, API_VERSION, CACHE_POLICY.plural)
@kopf.on.update(API_GROUP, API_VERSION, CACHE_POLICY.plural)
async def reconcile_cache_policy(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).reconcile_policy(dict(body), CACHE_POLICY)


# ---- children and endpoints --------------------------------------------------------------------


async def on_child_event(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).applier.on_child_event(type, dict(body))


for _child in CHILD_KINDS:
    if _child.kind != "Deployment":  # below: drift and the owner's status
        kopf.on.event(_child.api_version, _child.plural, labels={MANAGED_BY: MANAGER},
                      id=f"child-{_child.plural}")(on_child_event)


@kopf.on.event("apps/v1", "deployments", labels={MANAGED_BY: MANAGER}, id="child-deployments")
async def on_deployment_event(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    """Drift on the Deployment, and the replica counts its owner's status reports (read from the index)."""
    rt = runtime(memo)
    await rt.applier.on_child_event(type, dict(body))
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    namespace, instance = meta.get("namespace", ""), labels.get(INSTANCE, meta.get("name", ""))
    if labels.get(COMPONENT) == "pool":
        await rt.pools.refresh_status(namespace, instance)
    elif labels.get(COMPONENT) == "gateway":
        await rt.gateways.refresh_status(namespace, instance)


@kopf.on.event(ENDPOINT_SLICE.api_version, ENDPOINT_SLICE.plural, labels={POOL_LABEL: kopf.PRESENT},
               id="endpointslices")
async def on_endpoint_slice(body: kopf.Body, memo: Any, **_: Any) -> None:
    """Ready endpoints may have changed: recompile (an unchanged snapshot hashes the same and is not written)."""
    runtime(memo).shared.dirty.mark(body.get("metadata", {}).get("namespace", ""))
