"""The stages every proxied request runs: parse, route, dispatch (plus no-op stages for benchmarks).

Later capabilities (authenticate, admit, guard, cache lookup, queue) are stages of
their own; :mod:`.compile` decides per route which of them run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ..proxy.call import ClientCall
from ..server.errors import GatewayError, bad_request
from .chain import CONTINUE, SUSPENDED, Verdict

if TYPE_CHECKING:
    from .context import RequestContext

STREAMABLE_PATHS = frozenset((b"/v1/chat/completions", b"/v1/completions"))
JSON_TYPES = (b"application/json", b"application/*+json")


class ParseStage:
    """Checks the envelope and parses the JSON body once; the payload stays an object from here on."""

    name = "parse"

    def run(self, ctx: RequestContext) -> Verdict:
        request = ctx.request
        if request.too_large:
            raise GatewayError(413, f"request body exceeds the limit of {ctx.channel.max_body_bytes} bytes",
                               code="request_too_large")
        content_type = request.content_type
        if content_type:
            content_type = content_type.split(b";", 1)[0].strip().lower()
            if content_type not in JSON_TYPES:
                raise GatewayError(415, f"content-type must be application/json, got {content_type.decode()!r}",
                                   code="unsupported_media_type")
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}", code="invalid_json") from exc
        if not isinstance(payload, dict):
            raise bad_request("the request body must be a JSON object", code="invalid_json")
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            raise bad_request("you must provide a model parameter", param="model", code="missing_required_parameter")
        stream = payload.get("stream", False)
        if not isinstance(stream, bool):
            raise bad_request("stream must be a boolean", param="stream", code="invalid_type")
        ctx.payload = payload
        ctx.requested_model = ctx.model = model
        ctx.stream = stream and ctx.path in STREAMABLE_PATHS
        tracer = ctx.gateway.tracer
        if tracer.enabled:
            ctx.span = tracer.start("tokenway.request", None, **{"gen_ai.request.model": model})
        return CONTINUE


class RouteStage:
    """Resolves the route (rule -> pool, model rewrite), then moves the request onto that route's chain."""

    name = "route"

    def run(self, ctx: RequestContext) -> Verdict:
        target = ctx.table.resolve(ctx)
        if target is None:
            raise GatewayError(404, f"the model {ctx.requested_model!r} does not exist or is not served here",
                               param="model", code="model_not_found")
        ctx.target = target
        ctx.model = target.model
        if target.upstream_model != ctx.requested_model:
            ctx.payload["model"] = target.upstream_model
            ctx.dirty = True
        if ctx.span is not None:
            ctx.span.set_attribute("tokenway.pool", target.pool.name)
            ctx.span.set_attribute("tokenway.route", target.route)
            ctx.span.set_attribute("tokenway.stream", ctx.stream)
        ctx.stages = target.chain
        ctx.next_stage = 0
        return CONTINUE


class DispatchStage:
    """The last stage: hands the request to a :class:`ClientCall` (pick, upstream attempts, relay)."""

    name = "dispatch"

    def run(self, ctx: RequestContext) -> Verdict:
        ClientCall(ctx).start()
        return SUSPENDED


class NoopStage:
    """Does nothing: ``TOKENWAY_BENCH_NOOP_STAGES=N`` puts N of these on every route, to price the frame."""

    def __init__(self, index: int) -> None:
        self.name = f"noop-{index}"

    def run(self, ctx: RequestContext) -> Verdict:
        return CONTINUE
