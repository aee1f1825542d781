"""What the operator has seen, fed by watch events (an informer cache, kept by kopf event handlers).

The config compiler reads pools, policies and EndpointSlices from here instead of
listing them from the API server on every change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from .kinds import KINDS, Kind


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


@dataclass
class Tracked:
    """One Tokenway object as last seen."""

    kind: Kind
    body: dict[str, Any]
    spec: BaseModel | None  # the last VALID spec (kept while a newer one is invalid)
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


@dataclass
class State:
    objects: dict[str, dict[str, dict[str, Tracked]]] = field(
        default_factory=lambda: {k.kind: defaultdict(dict) for k in KINDS}
    )
    # namespace -> slice name -> slice (and an index by Service); namespace -> deployment name -> deployment.
    slices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    _by_service: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    deployments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    uids: set[str] = field(default_factory=set)
    deleted_uids: set[str] = field(default_factory=set)  # so a stale listing cannot resurrect them

    def upsert(self, kind: Kind, body: dict[str, Any]) -> tuple[Tracked, bool]:
        """Record ``body``; True when what the compiler reads (the spec) changed."""
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        before = self.objects[kind.kind][namespace].get(name)
        if before is not None and before.uid == meta.get("uid") and before.generation == meta.get("generation"):
            before.body = body  # status or metadata only
            return before, False
        spec, error = parse_spec(kind, body.get("spec"))
        if spec is None and before is not None and before.uid == meta.get("uid"):
            spec = before.spec
        tracked = Tracked(kind, body, spec, error)
        self.objects[kind.kind][namespace][name] = tracked
        if before is not None and before.uid != tracked.uid:
            self.uids.discard(before.uid)
        self.uids.add(tracked.uid)
        return tracked, True

    def remove(self, kind: Kind, namespace: str, name: str) -> Tracked | None:
        gone = self.objects[kind.kind][namespace].pop(name, None)
        if gone is not None:
            self.uids.discard(gone.uid)
            self.deleted_uids.add(gone.uid)
        return gone

    def get(self, kind: Kind, namespace: str, name: str) -> Tracked | None:
        return self.objects[kind.kind][namespace].get(name)

    def all(self, kind: Kind, namespace: str) -> list[Tracked]:
        return list(self.objects[kind.kind][namespace].values())

    def specs(self, kind: Kind, namespace: str) -> dict[str, Any]:
        """name -> last valid spec, for every object of ``kind`` in ``namespace``."""
        return {t.name: t.spec for t in self.all(kind, namespace) if t.spec is not None}

    def namespaces(self) -> set[str]:
        found = {ns for per_kind in self.objects.values() for ns, objs in per_kind.items() if objs}
        return found | {ns for ns, s in self.slices.items() if s}

    def owner_alive(self, uid: str) -> bool:
        return uid in self.uids

    def put_slice(self, slice_: dict[str, Any]) -> dict[str, Any] | None:
        """Record an EndpointSlice; returns the previous version."""
        meta = slice_.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        before = self.drop_slice(namespace, name)
        self.slices[namespace][name] = slice_
        self._by_service[(namespace, _service_of(slice_))][name] = slice_
        return before

    def drop_slice(self, namespace: str, name: str) -> dict[str, Any] | None:
        before = self.slices[namespace].pop(name, None)
        if before is not None:
            self._by_service[(namespace, _service_of(before))].pop(name, None)
        return before

    def service_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        return list(self._by_service[(namespace, service)].values())


def _service_of(slice_: dict[str, Any]) -> str:
    labels: dict[str, str] = (slice_.get("metadata") or {}).get("labels") or {}
    return labels.get("kubernetes.io/service-name", "")
