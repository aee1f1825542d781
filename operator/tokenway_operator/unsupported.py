"""The API fields whose gateway behaviour is not implemented yet.

ONE place, so each issue that implements a feature deletes its line here; the
operator reports whatever this returns as condition ``Supported=False`` with
reason ``NotSupportedYet``. Fields set to their defaults are not reported: a user
who never asked for the feature is not told it is missing.
"""

from __future__ import annotations

from pydantic import BaseModel
from tokenway_gateway.api import CachePolicySpec, InferencePoolSpec, RoutePolicySpec
from tokenway_gateway.api.route import Retries

SUPPORTED_ALGORITHMS = frozenset({"least-request"})
# RouteMatch fields the gateway matches on today; the others are reported per rule.
SUPPORTED_MATCH_FIELDS = frozenset({"models", "headers", "api_key_tiers", "prompt_regex", "keywords",
                                    "min_prompt_tokens", "max_prompt_tokens", "intent"})


def unsupported_fields(spec: BaseModel) -> list[str]:
    """Wire paths (camelCase) of fields in ``spec`` that the gateway ignores today."""
    if isinstance(spec, RoutePolicySpec):
        return _route(spec)
    if isinstance(spec, CachePolicySpec):
        return ["spec"]  # the gateway has no response cache yet
    if isinstance(spec, InferencePoolSpec):
        return ["spec.autoscaling.enabled"] if spec.autoscaling.enabled else []
    return []


def _route(spec: RoutePolicySpec) -> list[str]:
    fields: list[str] = []
    for name in ("region_preference", "outlier_detection", "queue"):
        if getattr(spec, name):
            fields.append(f"spec.{_camel(name)}")
    if spec.timeouts.first_token_seconds is not None:
        fields.append("spec.timeouts.firstTokenSeconds")
    if spec.retries.budget_percent != Retries.model_fields["budget_percent"].default:
        fields.append("spec.retries.budgetPercent")
    if "429" in spec.retries.retry_on:
        fields.append("spec.retries.retryOn=429")
    if spec.load_balancing is not None and spec.load_balancing.algorithm not in SUPPORTED_ALGORITHMS:
        fields.append(f"spec.loadBalancing.algorithm={spec.load_balancing.algorithm}")
    for rule in spec.rules:
        for name in type(rule.match).model_fields:
            if name in SUPPORTED_MATCH_FIELDS:
                continue
            value = getattr(rule.match, name)
            if value not in (None, [], {}):
                fields.append(f"spec.rules[{rule.name}].match.{_camel(name)}")
    return fields


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def unsupported_message(fields: list[str]) -> str:
    return "not supported by the gateway yet (ignored): " + ", ".join(fields)
