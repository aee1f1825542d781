"""Which stages run, compiled from each config snapshot, so a request pays only for what its route uses.

Two chains per snapshot:

- the entry chain, for every proxied request: parse, then the stages that decide the
  route (authentication, intent embedding when some rule matches on intent), then route;
- one chain per route (per RoutePolicy, and one for requests no rule matches): the
  stages that route's settings ask for (admission, guard, output caps, cache lookup,
  queue), then dispatch.

A new capability adds a :data:`StageFactory` to :data:`ENTRY_STAGES` or :data:`ROUTE_STAGES`
in the position it must run; the factory returns None when a snapshot or route does not
use it. Factories run while a snapshot is validated (possibly in a thread): they may
build and check, never touch live state.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..api.snapshot import GatewayConfig, NamedRoutePolicy
from .admit import admit_stage
from .authenticate import authenticate_stage
from .cache import cache_stage
from .guard import guard_stage
from .intent import intent_stage, route_note_stage
from .output_caps import output_caps_stage
from .queue import queue_stage
from .stages import DispatchStage, NoopStage, ParseStage, RouteStage

if TYPE_CHECKING:
    from ..proxy.gateway import Gateway
    from .chain import Stage

# (gateway, snapshot, route policy or None for unmatched requests) -> a stage, or None when not used
StageFactory = Callable[["Gateway", GatewayConfig, "NamedRoutePolicy | None"], "Stage | None"]
# (gateway, snapshot) -> a stage of the entry chain, or None
EntryStageFactory = Callable[["Gateway", GatewayConfig], "Stage | None"]

# Between parse and route, in order.
ENTRY_STAGES: list[EntryStageFactory] = [authenticate_stage, intent_stage]
# Between route and dispatch, in order.
ROUTE_STAGES: list[StageFactory] = [route_note_stage, admit_stage, guard_stage, output_caps_stage, cache_stage]

_PARSE, _ROUTE, _DISPATCH = ParseStage(), RouteStage(), DispatchStage()


def _bench_noop_stages() -> tuple[Stage, ...]:
    """Benchmarks price the frame itself with N no-op stages on every route."""
    count = int(os.environ.get("TOKENWAY_BENCH_NOOP_STAGES", "0") or 0)
    return tuple(NoopStage(i) for i in range(count))


class ChainCompiler:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.noops = _bench_noop_stages()

    def entry_chain(self, config: GatewayConfig) -> tuple[Stage, ...]:
        stages = [stage for stage in (factory(self.gateway, config) for factory in ENTRY_STAGES) if stage is not None]
        # Stages that need only the headers (authentication) run before the body is parsed.
        early = [stage for stage in stages if getattr(stage, "before_parse", False)]
        return (*early, _PARSE, *(stage for stage in stages if stage not in early), _ROUTE)

    def route_chain(self, config: GatewayConfig, policy: NamedRoutePolicy | None) -> tuple[Stage, ...]:
        stages = [factory(self.gateway, config, policy) for factory in ROUTE_STAGES]
        # The queue is always last before dispatch: what waits has passed every check already.
        return (*(s for s in stages if s is not None), *self.noops, queue_stage(self.gateway, config, policy),
                _DISPATCH)
