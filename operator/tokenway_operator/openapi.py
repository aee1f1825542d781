"""Pydantic JSON Schema -> Kubernetes structural OpenAPI v3 schema.

Kubernetes accepts a subset of OpenAPI 3.0 ("structural" schemas): no $ref, every
node typed, no anyOf-with-types, no ``additionalProperties`` next to
``properties``, and OpenAPI 3.0's boolean ``exclusiveMinimum``. Pydantic emits
JSON Schema 2020-12, so this module rewrites one into the other. Pure functions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]

# JSON-Schema keywords Kubernetes ignores or rejects; dropped everywhere.
_DROPPED = {"title", "$schema", "examples", "discriminator"}


def model_schema(model: type[BaseModel], *, keep_defaults: bool = True) -> Schema:
    """The structural schema of ``model`` (camelCase wire names)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Schema] = raw.pop("$defs", {})
    return structural(raw, defs, keep_defaults=keep_defaults)


def structural(node: Schema, defs: dict[str, Schema], *, keep_defaults: bool = True) -> Schema:
    """Rewrite one JSON-Schema node (recursively) into a structural OpenAPI node."""
    node = _inline_ref(node, defs)
    node = _collapse_nullable(node, defs)
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "default" and (value is None or not keep_defaults):
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs, keep_defaults=keep_defaults) for name, sub in value.items()}
        elif key == "items":
            out[key] = structural(value, defs, keep_defaults=keep_defaults)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = structural(value, defs, keep_defaults=keep_defaults)
            # `false` is what structural pruning does anyway; `true` is handled below.
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
        else:
            out[key] = value
    if node.get("additionalProperties") is True:
        # An open object (extra="allow"): keep the unknown fields it exists to carry.
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "type" not in out and "properties" in out:
        out["type"] = "object"
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out.setdefault("x-kubernetes-preserve-unknown-fields", True)
    return _ordered(out)


def _ordered(node: Schema) -> Schema:
    """type and description first, so the generated YAML reads top-down."""
    head = {k: node[k] for k in ("type", "description") if k in node}
    return head | {k: v for k, v in node.items() if k not in head}


def _inline_ref(node: Schema, defs: dict[str, Schema]) -> Schema:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = dict(defs[ref.rsplit("/", 1)[-1]])
    # Siblings of $ref (description, default) override the referenced model's own.
    target.update({k: v for k, v in node.items() if k != "$ref"})
    return _inline_ref(target, defs)


def _collapse_nullable(node: Schema, defs: dict[str, Schema]) -> Schema:
    """``anyOf: [X, null]`` -> X: an absent field already means None (we dump with exclude_none)."""
    variants = node.get("anyOf")
    if variants is None:
        return node
    concrete = [v for v in variants if v.get("type") != "null"]
    if len(concrete) != 1:
        raise ValueError(f"unions other than Optional[X] have no structural schema: {variants!r}")
    merged = dict(_inline_ref(concrete[0], defs))
    merged.update({k: v for k, v in node.items() if k != "anyOf"})
    return merged
