"""The output-caps stage: a default and a maximum for max_tokens / max_completion_tokens, per route and tier.

A route's ``maxOutputTokens`` lowers any larger ``max_tokens`` or ``max_completion_tokens``
the client asked for; a request that asks for neither gets ``defaultOutputTokens`` (else
the maximum) as ``max_tokens``. ``outputTokensByTier`` replaces either value for the
tiers it names (unauthenticated requests count as tier ``default``). Shorter outputs are
the cheapest latency win, and admission reserves what the caps allow (see :mod:`.admit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..api.snapshot import GatewayConfig, NamedRoutePolicy
from .chain import CONTINUE, Verdict

if TYPE_CHECKING:
    from ..proxy.gateway import Gateway
    from .context import RequestContext

OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens")
# The tier of requests without an API key (an open gateway): its rateLimits and outputTokensByTier entries apply.
DEFAULT_TIER = "default"
NO_OUTPUT_PATHS = frozenset((b"/v1/embeddings",))

Caps = tuple["int | None", "int | None"]  # (default, maximum)


def asked_output(payload: dict[str, Any]) -> int | None:
    """The larger of max_tokens and max_completion_tokens the client set (positive integers only)."""
    asked = None
    for field in OUTPUT_FIELDS:
        value = payload.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0 and (asked is None or value > asked):
            asked = value
    return asked


class OutputCaps:
    """A route's caps, by tier; pure functions of (payload, tier)."""

    __slots__ = ("by_tier", "route")

    def __init__(self, route: Caps, by_tier: dict[str, Caps]) -> None:
        self.route = route
        self.by_tier = by_tier

    @classmethod
    def from_policy(cls, policy: NamedRoutePolicy | None) -> OutputCaps | None:
        if policy is None:
            return None
        route = (policy.default_output_tokens, policy.max_output_tokens)
        by_tier = {
            caps.tier: (caps.default_output_tokens if caps.default_output_tokens is not None else route[0],
                        caps.max_output_tokens if caps.max_output_tokens is not None else route[1])
            for caps in policy.output_tokens_by_tier
        }
        if route == (None, None) and all(caps == (None, None) for caps in by_tier.values()):
            return None
        return cls(route, by_tier)

    def caps(self, tier: str | None) -> Caps:
        if self.by_tier:
            found = self.by_tier.get(tier or DEFAULT_TIER)
            if found is not None:
                return found
        return self.route

    def limit(self, payload: dict[str, Any], tier: str | None) -> int | None:
        """Output tokens the request may produce once capped (per choice); None: no limit."""
        default, maximum = self.caps(tier)
        asked = asked_output(payload)
        if asked is None:
            return default if default is not None else maximum
        return asked if maximum is None else min(asked, maximum)

    def apply(self, payload: dict[str, Any], tier: str | None) -> bool:
        """Rewrite the payload's output limits; True when it changed."""
        default, maximum = self.caps(tier)
        changed = False
        asked = False
        for field in OUTPUT_FIELDS:
            value = payload.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                asked = True
                if maximum is not None and value > maximum:
                    payload[field] = maximum
                    changed = True
        if not asked:
            value = default if default is not None else maximum
            if value is not None:
                payload["max_tokens"] = value
                changed = True
        return changed


class OutputCapsStage:
    name = "output-caps"

    def __init__(self, caps: OutputCaps) -> None:
        self.caps = caps

    def run(self, ctx: RequestContext) -> Verdict:
        if ctx.path not in NO_OUTPUT_PATHS and self.caps.apply(ctx.payload, ctx.tier):
            ctx.dirty = True
        return CONTINUE


def output_caps_stage(gateway: Gateway, config: GatewayConfig,
                      policy: NamedRoutePolicy | None) -> OutputCapsStage | None:
    caps = OutputCaps.from_policy(policy)
    return OutputCapsStage(caps) if caps is not None else None
