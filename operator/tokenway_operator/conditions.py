"""Standard status conditions (metav1.Condition) as plain dicts: set, compare, report transitions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .unsupported import unsupported_message

READY = "Ready"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
SUPPORTED = "Supported"

# Reasons (CamelCase, as Kubernetes wants them).
INVALID_SPEC = "InvalidSpec"
NOT_SUPPORTED_YET = "NotSupportedYet"
ALL_SUPPORTED = "AllFieldsSupported"
APPLY_FAILED = "ApplyFailed"
AS_EXPECTED = "AsExpected"

Conditions = list[dict[str, Any]]


@dataclass(frozen=True)
class Cond:
    """A desired condition, before timestamps and generations are stamped on."""

    type: str
    status: bool | None  # None -> "Unknown"
    reason: str
    message: str = ""
    warning: bool = False  # post the transition as a Warning Event

    @property
    def status_text(self) -> str:
        return "Unknown" if self.status is None else ("True" if self.status else "False")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(old: Sequence[dict[str, Any]], wanted: Sequence[Cond], generation: int | None, now: str) -> Conditions:
    """New conditions list: lastTransitionTime moves only when a condition's status changes."""
    previous = {c.get("type"): c for c in old}
    result: Conditions = []
    for cond in wanted:
        before = previous.get(cond.type)
        changed = before is None or before.get("status") != cond.status_text
        entry: dict[str, Any] = {
            "type": cond.type,
            "status": cond.status_text,
            "reason": cond.reason,
            "message": cond.message[:32768],
            "lastTransitionTime": now if changed or before is None else before.get("lastTransitionTime", now),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        result.append(entry)
    # Keep conditions another writer owns (types we did not set this time).
    ours = {c.type for c in wanted}
    result.extend(c for c in old if c.get("type") not in ours)
    return result


def transitions(old: Sequence[dict[str, Any]], wanted: Sequence[Cond]) -> list[Cond]:
    """Conditions whose status or reason changed: each is worth one Event."""
    previous = {c.get("type"): c for c in old}
    changed = []
    for cond in wanted:
        before = previous.get(cond.type)
        if before is None or before.get("status") != cond.status_text or before.get("reason") != cond.reason:
            changed.append(cond)
    return changed


def supported(fields: list[str]) -> Cond:
    if fields:
        return Cond(SUPPORTED, False, NOT_SUPPORTED_YET, unsupported_message(fields), warning=True)
    return Cond(SUPPORTED, True, ALL_SUPPORTED, "every field set is implemented by the gateway")


def find(conditions: Sequence[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)
