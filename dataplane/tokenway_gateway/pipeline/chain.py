"""The stage chain: each proxied request walks an ordered tuple of stages once.

A stage's ``run(ctx)`` returns one of three verdicts:

- ``CONTINUE``: go on to the next stage, right away, in the same call;
- ``SUSPENDED``: the stage (or the upstream call it started) owns the request now and will
  call ``ctx.resume()``, ``ctx.fail(...)`` or ``ctx.respond(...)`` later, from a callback;
- ``ANSWERED``: the stage already answered the client (a cache hit, an early error).

A stage may also raise :class:`GatewayError` to answer with an OpenAI-format error.
The synchronous common path is a loop of plain method calls: no task, no future.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from ..server.errors import GatewayError

if TYPE_CHECKING:
    from .context import RequestContext

log = logging.getLogger("tokenway.pipeline")

CONTINUE = 0
SUSPENDED = 1
ANSWERED = 2

Verdict = int


class Stage(Protocol):
    """One job on the request path (authenticate, admit, guard, cache lookup, dispatch, ...)."""

    name: str

    def run(self, ctx: RequestContext) -> Verdict: ...


def advance(ctx: RequestContext) -> None:
    """Run the context's stages from ``ctx.next_stage`` until one stops the walk.

    A stage may swap ``ctx.stages`` (route resolution does: it moves the request onto its
    route's compiled chain and sets ``next_stage`` to 0).
    """
    try:
        while True:
            stage = ctx.stages[ctx.next_stage]
            ctx.next_stage += 1
            if stage.run(ctx):
                return
    except GatewayError as error:
        ctx.fail(error)


def advance_timed(ctx: RequestContext) -> None:
    """:func:`advance`, charging each stage's time to ``ctx.gateway.stage_costs`` (TOKENWAY_STAGE_TIMING=1)."""
    costs = ctx.gateway.stage_costs
    clock = time.perf_counter
    try:
        while True:
            stage = ctx.stages[ctx.next_stage]
            ctx.next_stage += 1
            started = clock()
            try:
                verdict = stage.run(ctx)
            finally:
                spent = costs.get(stage.name)
                elapsed = clock() - started
                if spent is None:
                    costs[stage.name] = [elapsed, 1]
                else:
                    spent[0] += elapsed
                    spent[1] += 1
            if verdict:
                return
    except GatewayError as error:
        ctx.fail(error)


def resume(ctx: RequestContext) -> None:
    """Continue a suspended request from a callback: errors end the request, never the loop."""
    if ctx.finished:
        return
    try:
        ctx.gateway.advance(ctx)
    except Exception:
        log.exception("unhandled error in stage %s", _stage_name(ctx))
        if not ctx.finished:
            ctx.fail(GatewayError(500, "internal gateway error", type_="api_error"))


def _stage_name(ctx: RequestContext) -> str:
    index = ctx.next_stage - 1
    return ctx.stages[index].name if 0 <= index < len(ctx.stages) else "?"
