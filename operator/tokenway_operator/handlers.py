"""kopf handlers: thin adapters from watch events to the Runtime's reconcilers.

Importing this module registers the handlers in kopf's default registry.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from tokenway_gateway.api import API_GROUP, API_VERSION
from tokenway_gateway.config.kube_source import KubeConnection

from .kinds import CACHE_POLICY, KINDS, ROUTE_POLICY, Kind
from .kube import Kube
from .meta import COMPONENT, INSTANCE, MANAGED_BY, MANAGER, POOL_LABEL
from .metrics import MANAGED
from .runtime import Runtime
from .settings import OperatorSettings

log = logging.getLogger("tokenway.operator")

# Kinds the operator creates; watched (server-side filtered by label) to undo drift and deletions.
CHILD_RESOURCES = (
    ("apps/v1", "deployments"),
    ("v1", "services"),
    ("v1", "serviceaccounts"),
    ("v1", "configmaps"),
    ("policy/v1", "poddisruptionbudgets"),
    ("rbac.authorization.k8s.io/v1", "roles"),
    ("rbac.authorization.k8s.io/v1", "rolebindings"),
)
ENDPOINT_SLICES = ("discovery.k8s.io/v1", "endpointslices")
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGER}"


def runtime(memo: Any) -> Runtime:
    rt: Runtime = memo.runtime
    return rt


# ---- operator lifecycle ------------------------------------------------------------------------


@kopf.on.login()
def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """One credential source for kopf's watches and our writes (in-cluster or $KUBECONFIG)."""
    conn: KubeConnection = memo.connection
    token = conn.bearer_token()  # re-read on each login: kopf logs in again on 401 (rotated tokens)
    return kopf.ConnectionInfo(
        server=conn.server,
        ca_data=conn.ca_data,
        insecure=conn.insecure,
        token=token,
        scheme="Bearer" if token else None,
        certificate_data=conn.cert_data,
        private_key_data=conn.key_data,
        default_namespace=conn.namespace,
    )


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration")
    settings.persistence.finalizer = f"{API_GROUP}/finalizer"
    settings.posting.level = logging.WARNING  # our own Events report transitions; kopf's only failures
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.networking.request_timeout = 60
    for group_version, plural in CHILD_RESOURCES:
        settings.watching.label_selectors[group_version, plural] = MANAGED_SELECTOR
    settings.watching.label_selectors[ENDPOINT_SLICES] = POOL_LABEL
    op_settings: OperatorSettings = memo.operator_settings
    settings.peering.lifetime = op_settings.peering_lifetime
    memo.runtime = Runtime(Kube(memo.connection), op_settings)
    memo.runtime.start()


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    if getattr(memo, "runtime", None) is not None:
        await runtime(memo).stop()


# ---- Tokenway kinds: informer cache ------------------------------------------------------------


def _cache_handler(kind: Kind) -> None:
    async def on_event(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
        rt = runtime(memo)
        meta: dict[str, Any] = body.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        if type == "DELETED":
            gone = rt.state.remove(kind, namespace, name)
            if gone is not None:
                rt.forget(gone)
            rt.mark(namespace)
        else:
            changed = rt.state.upsert(kind, dict(body))[1]
            if changed:
                rt.mark(namespace)
        MANAGED.labels(kind=kind.kind).set(sum(len(v) for v in rt.state.objects[kind.kind].values()))

    kopf.on.event(API_GROUP, API_VERSION, kind.plural, id=f"cache-{kind.plural}")(on_event)


for _kind in KINDS:
    _cache_handler(_kind)


# ---- Tokenway kinds: reconcilers ---------------------------------------------------------------


@kopf.on.resume(API_GROUP, API_VERSION, "inferencepools")
@kopf.on.create(API_GROUP, API_VERSION, "inferencepools")
@kopf.on.update(API_GROUP, API_VERSION, "inferencepools")
async def reconcile_pool(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).reconcile_pool(dict(body))


@kopf.on.resume(API_GROUP, API_VERSION, "inferencegateways")
@kopf.on.create(API_GROUP, API_VERSION, "inferencegateways")
@kopf.on.update(API_GROUP, API_VERSION, "inferencegateways")
async def reconcile_gateway(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).reconcile_gateway(dict(body))


@kopf.on.resume(API_GROUP, API_VERSION, "routepolicies")
@kopf.on.create(API_GROUP, API_VERSION, "routepolicies")
@kopf.on.update(API_GROUP, API_VERSION, "routepolicies")
async def reconcile_route_policy(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).reconcile_policy(dict(body), ROUTE_POLICY)


@kopf.on.resume(API_GROUP, API_VERSION, "cachepolicies")
@kopf.on.create(API_GROUP, API_VERSION, "cachepolicies")
@kopf.on.update(API_GROUP, API_VERSION, "cachepolicies")
async def reconcile_cache_policy(body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).reconcile_policy(dict(body), CACHE_POLICY)


# ---- children and endpoints --------------------------------------------------------------------


async def on_child_event(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    await runtime(memo).applier.on_child_event(type, dict(body))


for _group_version, _plural in CHILD_RESOURCES[1:]:
    kopf.on.event(_group_version, _plural, labels={MANAGED_BY: MANAGER}, id=f"child-{_plural}")(on_child_event)


@kopf.on.event("apps/v1", "deployments", labels={MANAGED_BY: MANAGER}, id="child-deployments")
async def on_deployment_event(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    """Drift on the Deployment, and the replica counts the owner's status reports."""
    rt = runtime(memo)
    deployment = dict(body)
    await rt.applier.on_child_event(type, deployment)
    meta = deployment.get("metadata") or {}
    labels = meta.get("labels") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    if type == "DELETED":
        rt.state.deployments[namespace].pop(name, None)
    else:
        rt.state.deployments[namespace][name] = deployment
    instance = labels.get(INSTANCE, name)
    if labels.get(COMPONENT) == "pool":
        await rt.refresh_pool_status(namespace, instance)
    elif labels.get(COMPONENT) == "gateway":
        await rt.refresh_gateway_status(namespace, instance)


@kopf.on.event(*ENDPOINT_SLICES, labels={POOL_LABEL: kopf.PRESENT}, id="endpointslices")
async def on_endpoint_slice(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    rt = runtime(memo)
    meta = body.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    if type == "DELETED":
        rt.state.drop_slice(namespace, name)
    else:
        slice_ = dict(body)
        before = rt.state.put_slice(slice_)
        if before is not None and _endpoint_view(before) == _endpoint_view(slice_):
            return  # metadata-only change: the ready set is the same
    rt.mark(namespace)


def _endpoint_view(slice_: dict[str, Any]) -> tuple[Any, ...]:
    return (slice_.get("endpoints"), slice_.get("ports"), (slice_.get("metadata") or {}).get("labels"))
