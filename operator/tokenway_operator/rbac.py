"""The operator's permissions: ONE list, rendered into the Helm chart's ClusterRole and used by the e2e test.

The e2e suite runs the operator with a service account bound to exactly these
rules, so a missing permission fails a test rather than a production rollout.
"""

from __future__ import annotations

from typing import Any

from tokenway_gateway.api import API_GROUP

from .kinds import CHILD_KINDS, ENDPOINT_SLICE, KINDS

_OURS = [k.plural for k in KINDS]
_WRITE = ["get", "list", "watch", "create", "patch", "update", "delete"]
_READ = ["get", "list", "watch"]


def _child_rules() -> list[dict[str, Any]]:
    """One rule per API group of the child kinds (server-side apply is `patch`; a first apply is `create`)."""
    groups: dict[str, list[str]] = {}
    for child in CHILD_KINDS:
        groups.setdefault(child.group, []).append(child.plural)
    return [{"apiGroups": [group], "resources": plurals, "verbs": _WRITE} for group, plurals in groups.items()]


OPERATOR_RULES: list[dict[str, Any]] = [
    # Our kinds: watch, annotate (kopf's progress), status, and owner-reference finalizers
    # (blockOwnerDeletion needs `update` on <kind>/finalizers).
    {"apiGroups": [API_GROUP], "resources": _OURS, "verbs": ["get", "list", "watch", "patch", "update"]},
    {"apiGroups": [API_GROUP], "resources": [f"{p}/status" for p in _OURS], "verbs": ["get", "patch", "update"]},
    {"apiGroups": [API_GROUP], "resources": [f"{p}/finalizers" for p in _OURS], "verbs": ["update"]},
    # What the operator creates (kinds.CHILD_KINDS). The gateway's Role grants get/list/watch on
    # configmaps, which the operator holds itself (RBAC forbids granting what you do not have).
    *_child_rules(),
    # ... and on the one API-key Secret its InferenceGateway names (apiKeySecretRef): the operator
    # never reads Secrets, so it may write Roles granting more than it holds (`escalate`) and bind
    # its gateways' service accounts to them (`bind`). Namespaced Roles only, never ClusterRoles.
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate", "bind"]},
    # Ready endpoints of the pools.
    {"apiGroups": [ENDPOINT_SLICE.group], "resources": [ENDPOINT_SLICE.plural], "verbs": _READ},
    # Events on our objects (ours and kopf's).
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    # kopf: discovery of CRDs and namespaces, and peering.
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": _READ},
    {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings", "kopfpeerings"],
     "verbs": ["get", "list", "watch", "patch"]},
]


def cluster_role(name: str = "tokenway-operator") -> dict[str, Any]:
    """The ClusterRole manifest (what the chart renders)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": OPERATOR_RULES,
    }
