"""RoutePolicy rules compiled into an index, so matching cost barely grows with the rule count.

Rules keep their global order (policy priority, then position). A request's candidate
rules come from two dict lookups: by requested model (rules that name it, plus rules
for any model), then, inside that bucket, by the value of each indexed header (a rule
is indexed under its first header condition). Only the candidates are checked in
full, in order; the first full match wins. With 256 rules keyed on ``x-tier`` a
request checks one or two rules, not 256. The header lookups cost the smaller of the
indexed header names and the request's headers, so rules keyed on 256 different
header names cost no more than rules on one.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from random import random
from typing import TYPE_CHECKING

from ..api.route import RouteRule
from ..api.snapshot import NamedRoutePolicy

if TYPE_CHECKING:
    from ..pipeline.context import RequestContext
    from .table import Target


@dataclass(slots=True, eq=False)
class CompiledRule:
    order: int
    name: str
    policy: NamedRoutePolicy
    rule: RouteRule
    models: frozenset[str]
    headers: tuple[tuple[bytes, bytes], ...]
    tiers: frozenset[str]
    regex: re.Pattern[str] | None
    keywords: tuple[str, ...]
    min_tokens: int | None
    max_tokens: int | None
    intent: str | None
    # requested model -> (targets, cumulative weights); filled when the table is built or lazily
    targets: dict[str, tuple[tuple[Target, ...], tuple[int, ...]]] = field(default_factory=dict)

    @classmethod
    def compile(cls, order: int, policy: NamedRoutePolicy, rule: RouteRule) -> CompiledRule:
        match = rule.match
        return cls(
            order=order, name=rule.name, policy=policy, rule=rule, models=frozenset(match.models),
            headers=tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in match.headers.items()),
            tiers=frozenset(match.api_key_tiers),
            regex=re.compile(match.prompt_regex) if match.prompt_regex else None,
            keywords=tuple(k.lower() for k in match.keywords),
            min_tokens=match.min_prompt_tokens, max_tokens=match.max_prompt_tokens, intent=match.intent,
        )

    def matches(self, ctx: RequestContext) -> bool:
        """Every condition besides the model (the index already checked it)."""
        request = ctx.request
        for name, value in self.headers:
            if request.header(name) != value:
                return False
        if self.tiers and ctx.tier not in self.tiers:
            return False
        if self.min_tokens is not None and ctx.prompt_tokens < self.min_tokens:
            return False
        if self.max_tokens is not None and ctx.prompt_tokens > self.max_tokens:
            return False
        if self.keywords:
            text = ctx.prompt_text.lower()
            if not any(keyword in text for keyword in self.keywords):
                return False
        if self.regex is not None and self.regex.search(ctx.prompt_text) is None:
            return False
        return self.intent is None or ctx.intent_name() == self.intent

    def choose(self, model: str, build: Callable[[CompiledRule, str], tuple[tuple[Target, ...], tuple[int, ...]]],
               cacheable: bool) -> Target | None:
        """A target for ``model``: one backend, by weight."""
        choice = self.targets.get(model)
        if choice is None:
            choice = build(self, model)
            if cacheable:
                self.targets[model] = choice
        targets, cumulative = choice
        if len(targets) <= 1:
            return targets[0] if targets else None
        return targets[bisect_right(cumulative, random() * cumulative[-1])]


class _Bucket:
    """The rules that can match one requested model, in order, indexed by one header each."""

    __slots__ = ("by_header", "plain")

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.plain: list[CompiledRule] = []
        self.by_header: dict[bytes, dict[bytes, list[CompiledRule]]] = {}
        for rule in sorted(rules, key=lambda r: r.order):
            if rule.headers:
                name, value = rule.headers[0]
                self.by_header.setdefault(name, {}).setdefault(value, []).append(rule)
            else:
                self.plain.append(rule)

    def first_match(self, ctx: RequestContext) -> CompiledRule | None:
        if not self.by_header:
            for rule in self.plain:
                if rule.matches(ctx):
                    return rule
            return None
        candidates = list(self.plain)
        request = ctx.request
        by_header = self.by_header
        headers = request.headers
        if len(by_header) <= len(headers):
            for name, by_value in by_header.items():
                value = request.header(name)
                if value is not None:
                    hit = by_value.get(value)
                    if hit:
                        candidates += hit
        else:  # rules keyed on more header names than the request has headers: walk the request's instead
            # (a repeated header may propose a rule its first value does not match: `matches` checks them all)
            for name, value in headers:
                values = by_header.get(name)
                if values is not None:
                    hit = values.get(value)
                    if hit:
                        candidates += hit
        if len(candidates) > 1:
            candidates.sort(key=_order)
        for rule in candidates:
            if rule.matches(ctx):
                return rule
        return None


def _order(rule: CompiledRule) -> int:
    return rule.order


class RuleIndex:
    def __init__(self, rules: list[CompiledRule]) -> None:
        self.empty = not rules
        any_model = [rule for rule in rules if not rule.models]
        named: dict[str, list[CompiledRule]] = {}
        for rule in rules:
            for model in rule.models:
                named.setdefault(model, []).append(rule)
        self.by_model = {model: _Bucket([*own, *any_model]) for model, own in named.items()}
        self.any_model = _Bucket(any_model)
        self.named_models = frozenset(named)

    def first_match(self, ctx: RequestContext, model: str) -> CompiledRule | None:
        if self.empty:
            return None
        return self.by_model.get(model, self.any_model).first_match(ctx)


def cumulative_weights(weights: Iterable[int]) -> tuple[int, ...]:
    total, out = 0, []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)
