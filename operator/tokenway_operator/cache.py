"""What the operator has seen, read from kopf's in-memory indexes.

kopf keeps one index per watched kind (``@kopf.index``, registered in handlers.py) and
fills all of them from its watch streams before it calls any resource handler, so the
reconcilers and the config compiler read a complete picture without listing anything.
This module holds the indexing functions (pure: body in, index entries out) and
:class:`Cache`, a typed read-only view over the live index objects.

Index layouts (an index maps keys to collections of values, one value per object):

* each Tokenway kind: ``namespace -> Tracked`` and ``(namespace, name) -> Tracked``;
* EndpointSlices: ``(namespace, service) -> slice`` (trimmed to what endpoints.py reads);
* managed Deployments: ``(namespace, name) -> deployment`` (trimmed to what status.py reads).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .kinds import KIND_BY_NAME, KINDS, Kind
from .meta import SERVICE_NAME_LABEL

# kopf.Index is a Mapping[key, kopf.Store]; a Store is a collection of values. Tests pass plain dicts of lists.
IndexLike = Mapping[Any, Collection[Any]]


def parse_spec(kind: Kind, raw: dict[str, Any] | None) -> tuple[BaseModel | None, str | None]:
    """Validate a spec with the same models the gateway loads; (model, None) or (None, why)."""
    try:
        return kind.spec_model.model_validate(raw or {}), None
    except ValidationError as exc:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        return None, problems


@dataclass(frozen=True)
class Tracked:
    """One Tokenway object as last seen: identity, status, and its last VALID spec."""

    kind: Kind
    body: dict[str, Any]  # metadata (identity only) and status; the raw spec is not kept
    spec: BaseModel | None  # the last valid spec (kept while a newer generation is invalid)
    error: str | None  # why the current generation's spec is invalid

    @property
    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.body.get("metadata") or {}
        return meta

    @property
    def name(self) -> str:
        return str(self.meta.get("name"))

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace"))

    @property
    def uid(self) -> str:
        return str(self.meta.get("uid"))

    @property
    def generation(self) -> int | None:
        gen = self.meta.get("generation")
        return int(gen) if gen is not None else None


_IDENTITY = ("name", "namespace", "uid", "generation", "resourceVersion")


def track(kind: Kind, body: Mapping[str, Any], previous: Tracked | None = None) -> Tracked:
    """``body`` as a Tracked; the spec is parsed only when its generation is new to ``previous``."""
    meta = body.get("metadata") or {}
    slim = {"metadata": {k: meta[k] for k in _IDENTITY if k in meta}, "status": dict(body.get("status") or {})}
    same_object = previous is not None and previous.uid == meta.get("uid")
    if previous is not None and same_object and previous.generation == meta.get("generation"):
        return Tracked(kind, slim, previous.spec, previous.error)  # status or metadata only
    spec, error = parse_spec(kind, body.get("spec"))
    if spec is None and previous is not None and same_object:
        spec = previous.spec
    return Tracked(kind, slim, spec, error)


def tracked_entries(kind: Kind, body: Mapping[str, Any], own_index: IndexLike) -> dict[Any, Tracked]:
    """Index entries of one Tokenway object (the indexing function of ``kind``)."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    previous = _pick(own_index.get((namespace, name), ()), str(meta.get("uid")))
    tracked = track(kind, body, previous)
    return {namespace: tracked, (namespace, name): tracked}


def slice_entries(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Index entry of one EndpointSlice, under the Service it belongs to."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    trimmed = {k: body[k] for k in ("addressType", "endpoints", "ports") if k in body}
    trimmed["metadata"] = {"name": meta.get("name"), "namespace": meta.get("namespace")}
    return {(str(meta.get("namespace", "")), str(labels.get(SERVICE_NAME_LABEL, ""))): trimmed}


def deployment_entries(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Index entry of one Deployment the operator manages: what the owner's status reads."""
    meta = body.get("metadata") or {}
    trimmed = {
        "metadata": {k: meta[k] for k in ("name", "namespace", "generation", "labels") if k in meta},
        "spec": {"replicas": (body.get("spec") or {}).get("replicas")},
        "status": dict(body.get("status") or {}),
    }
    return {(str(meta.get("namespace", "")), str(meta.get("name", ""))): trimmed}


def _pick(values: Iterable[Tracked], uid: str | None = None) -> Tracked | None:
    """The value of one (namespace, name) key: normally exactly one; during a delete-and-recreate, prefer ``uid``."""
    found = None
    for value in values:
        if uid is None or value.uid == uid:
            return value
        found = value
    return found


class Cache:
    """Typed reads over the live kopf indexes (they change under it as events arrive)."""

    def __init__(self, objects: Mapping[str, IndexLike], slices: IndexLike, deployments: IndexLike) -> None:
        self._objects = objects  # Kind.kind -> index
        self._slices = slices
        self._deployments = deployments

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], slices_id: str, deployments_id: str) -> Cache:
        """From the indexes kopf passes to handlers as keyword arguments."""
        return cls({k.kind: kwargs[k.index_id] for k in KINDS}, kwargs[slices_id], kwargs[deployments_id])

    def get(self, kind: Kind, namespace: str, name: str) -> Tracked | None:
        return _pick(self._objects[kind.kind].get((namespace, name), ()))

    def all(self, kind: Kind, namespace: str) -> list[Tracked]:
        return list(self._objects[kind.kind].get(namespace, ()))

    def specs(self, kind: Kind, namespace: str) -> dict[str, Any]:
        """name -> last valid spec, for every object of ``kind`` in ``namespace``."""
        return {t.name: t.spec for t in self.all(kind, namespace) if t.spec is not None}

    def count(self, kind: Kind) -> int:
        return sum(len(values) for key, values in self._objects[kind.kind].items() if isinstance(key, str))

    def namespaces(self) -> set[str]:
        """Namespaces holding any Tokenway object."""
        return {key for index in self._objects.values() for key in index if isinstance(key, str)}

    def service_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        return list(self._slices.get((namespace, service), ()))

    def deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        values = self._deployments.get((namespace, name), ())
        return next(iter(values), None)

    def owner_alive(self, namespace: str, ref: Mapping[str, Any]) -> bool:
        """Whether the owner an ownerReference names still exists (the same object: same uid)."""
        kind = KIND_BY_NAME.get(str(ref.get("kind")))
        if kind is None:
            return False
        tracked = self.get(kind, namespace, str(ref.get("name")))
        return tracked is not None and tracked.uid == ref.get("uid")
