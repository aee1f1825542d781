"""The client side of one proxied request: deadline, attempts, what reached the client, settling.

A :class:`ClientCall` picks an endpoint and starts an :class:`Attempt`; a failed attempt
(before any byte reached the client) is retried on another endpoint, then on the
route's fallback pools, as the route's ``retries`` allow. Retries (and, later, hedged
requests) are just more attempts. Once an attempt's response is accepted, the call
relays it: streams chunk by chunk as they arrive, other bodies whole.

The common case runs without a task or a future: the request goes out on an idle
pooled connection from the parser callback that completed it, and the response is
written to the client from the upstream parser callbacks that produce it. Only what
is needed is parsed: usage from the final stream chunk or the JSON body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..pipeline.queue import pump
from ..routing.table import RETRY_TIMEOUT
from ..server.errors import GatewayError, error_body
from .attempt import Attempt

if TYPE_CHECKING:
    from ..observability.metrics import RouteMetrics
    from ..pipeline.context import RequestContext
    from ..routing.endpoints import Endpoint
    from ..routing.table import EndpointPicker, PoolRuntime

log = logging.getLogger("tokenway.proxy")

USAGE_MARK = b'"usage"'
USAGE_WINDOW = 1024  # a usage object (with its details) fits in this many bytes
_DECODER = json.JSONDecoder()
# A usage object (not the `"usage": null` OpenAI puts in every chunk), compact or spaced JSON.
USAGE_OBJECT = (b'"usage":{', b'"usage": {')
# A timeout is retried when the route retries resets or 5xx (it is both: no answer in time).
_TIMEOUT_KINDS = frozenset(("reset", "5xx"))


class ClientCall:
    __slots__ = (
        "attempts", "attempts_left", "body", "channel", "chunks", "ctx", "deadline", "deadline_key", "finished",
        "first_chunk_at",
        "gateway", "headers_sent", "hedge_timer", "hedged", "last_chunk_at", "last_error", "last_response",
        "metrics", "order", "picker", "pool", "pool_index", "position", "rename", "request", "retrying", "sent_at",
        "spilled", "strip_usage", "target", "tried", "upstream_done_at", "winner",
    )

    def __init__(self, ctx: RequestContext) -> None:
        target = ctx.target
        assert target is not None
        self.ctx = ctx
        self.gateway = ctx.gateway
        self.request = ctx.request
        self.channel = ctx.channel
        self.target = target
        self.order = target.orders[0]  # pool indexes (0 = target.pool, i = fallbacks[i-1]) in the order tried
        self.position = 0
        self.pool_index = 0
        self.pool: PoolRuntime = target.pool
        self.picker: EndpointPicker = target.pickers[0]
        self.spilled = False
        metrics = target.metrics
        if metrics is None:
            metrics = target.metrics = ctx.gateway.metrics.route(target.model, target.pool.name, target.route)
        self.metrics: RouteMetrics = metrics
        self.attempts_left = target.attempts
        self.tried: set[Endpoint] = set()
        self.last_error: GatewayError | None = None
        # The last upstream answer dropped for a retry: relayed as it is when no retry can do better.
        self.last_response: tuple[int, bytes, bytes, bytes] | None = None
        self.attempts: list[Attempt] = []  # in flight; more than one while a hedge races
        self.winner: Attempt | None = None  # the attempt whose response the client gets
        self.deadline: asyncio.TimerHandle | None = None  # only without the gateway's deadline buckets (tests)
        self.deadline_key = 0  # the bucket in gateway.deadlines, when there
        self.hedge_timer: asyncio.TimerHandle | None = None
        self.hedged = False
        self.retrying = False
        self.headers_sent = False
        self.finished = False
        self.sent_at = 0.0
        self.first_chunk_at = 0.0
        self.last_chunk_at = 0.0
        self.upstream_done_at = 0.0
        self.chunks = 0
        self.strip_usage = False
        # Responses carry the model name the client asked for; the engine's name goes in a header.
        self.rename = _rename(target.upstream_model, ctx.requested_model)
        if ctx.stream:
            payload = ctx.payload
            options = payload.get("stream_options")
            if not isinstance(options, dict) or options.get("include_usage") is not True:
                # Ask for usage so tokens are counted exactly; the extra chunk is hidden from the client.
                payload["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
                ctx.dirty = self.strip_usage = True
        self.body = ctx.upstream_body()

    # ---- driving the attempts -------------------------------------------------------
    def start(self) -> None:
        target = self.target
        self.ctx.call = self
        self.channel.active = self
        loop = self.gateway.loop or asyncio.get_running_loop()
        deadlines = self.gateway.deadlines
        if deadlines.running:
            self.deadline_key = deadlines.add(self, self.request.started + target.timeouts.request_seconds)
        else:
            self.deadline = loop.call_later(target.timeouts.request_seconds, self.on_deadline)
        route = target.route_state
        route.active += 1
        if target.hedging is not None:
            route.count_request()  # the hedge budget's denominator
        if target.spillover is not None:  # region levels: where this request starts
            level = target.spillover.choose(loop.time())
            if level:
                self.order = target.orders[level]
                self.spilled = True
                self._enter_pool(self.order[0])
        self.pool.state.active += 1
        self.next_attempt()
        if target.hedging is not None and not self.finished:
            self._arm_hedge(loop)

    def _enter_pool(self, index: int) -> None:
        """Move to another pool of the target (a fallback, or another region level)."""
        target = self.target
        self.pool_index = index
        pool = target.pool if index == 0 else target.fallbacks[index - 1]
        self.picker = target.pickers[index]
        if pool is not self.pool:  # its figures go under its own label, its slot count moves along
            if self.attempts or self.winner is not None:
                self.pool.state.active -= 1
                pool.state.active += 1
            self.pool = pool
            self.metrics = self.gateway.metrics.route(target.model, pool.name, target.route)
            self._use_model(target.upstream_models[index])

    def _use_model(self, upstream_model: str) -> None:
        """Another pool may serve the model under another name: re-encode the body for it."""
        ctx = self.ctx
        if ctx.payload.get("model") != upstream_model:
            ctx.payload["model"] = upstream_model
            ctx.dirty = True
            self.body = ctx.upstream_body()
            self.rename = _rename(upstream_model, ctx.requested_model)

    def _pick(self) -> Endpoint | None:
        """The next endpoint to try: from the current pool, then the next pools in order."""
        cap = self.pool.capacity.max_pending_requests
        while True:
            endpoint = self.picker.pick(self.ctx, self.tried)
            if endpoint is not None and cap is not None and endpoint.in_flight >= cap:
                self.tried.add(endpoint)  # circuit breaker: this replica has all it may take
                self.gateway.metrics.circuit_open(self.pool.name)
                continue
            if endpoint is not None:
                return endpoint
            self.position += 1
            if self.position >= len(self.order):
                return None
            self._enter_pool(self.order[self.position])
            cap = self.pool.capacity.max_pending_requests

    def next_attempt(self) -> None:
        endpoint = self._pick()
        if endpoint is None:
            self._fail(self.last_error or GatewayError(
                503, f"no endpoint available in pool {self.target.pool.name!r}", type_="api_error",
                code="no_healthy_upstream"))
            return
        self.tried.add(endpoint)
        attempt = Attempt(self, endpoint, self.picker)
        self.attempts.append(attempt)
        attempt.start()

    def retry_or_fail(self, error: GatewayError, kind: str,
                      response: tuple[int, bytes, bytes, bytes] | None = None) -> None:
        """No attempt is left in flight and the last one failed before any byte reached the client:
        try again if the route allows it (retryOn, attempts, the retry budget).

        ``response`` is the upstream's own answer (status, body, content type, headers) when it gave one.
        """
        self.last_error = error
        if response is not None:
            self.last_response = response
        if self.finished:
            return
        if self.retryable(kind):
            self.attempts_left -= 1
            if not self.retrying:
                self.retrying = True
                self.target.route_state.retrying += 1
            self.next_attempt()
        else:
            self._fail(error)

    def attempt_failed(self, attempt: Attempt, error: GatewayError, kind: str,
                       response: tuple[int, bytes, bytes, bytes] | None = None) -> None:
        """An attempt ended without a response for the client; another may still be racing it."""
        if attempt in self.attempts:
            self.attempts.remove(attempt)
        if self.attempts:  # a hedge is still in flight: let it finish the job
            self.last_error = error
            if response is not None:
                self.last_response = response
            return
        self.retry_or_fail(error, kind, response)

    def claim(self, attempt: Attempt) -> bool:
        """``attempt`` is ready to answer the client: the first one to ask wins, the others are cancelled."""
        if self.winner is not None:
            return self.winner is attempt
        self.winner = attempt
        attempts = self.attempts
        if len(attempts) > 1:  # a hedge raced: the others stop
            first = attempts[0]
            hedge_won = attempt is not first
            for other in attempts:
                if other is attempt:
                    continue
                if other is first:
                    other.lose_race()  # it had the whole hedge delay and more to answer
                else:
                    other.cancel()  # a hedge that lost had less time: no verdict on its endpoint
            self.gateway.metrics.hedge_outcome(self.target.route, "won" if hedge_won else "lost")
            self.attempts = [attempt]
        if self.hedge_timer is not None:
            self.hedge_timer.cancel()
            self.hedge_timer = None
        return True

    def retryable(self, kind: str) -> bool:
        target = self.target
        if self.attempts_left <= 0:
            return False
        if kind not in target.retry_on and not (kind == RETRY_TIMEOUT and target.retry_on & _TIMEOUT_KINDS):
            return False
        if not self.retrying and not target.route_state.retry_allowed(target.retry_budget_percent):
            self.gateway.metrics.retry_budget_exhausted(target.route)
            return False
        return True

    # ---- hedging --------------------------------------------------------------------------
    def _arm_hedge(self, loop: asyncio.AbstractEventLoop) -> None:
        hedging = self.target.hedging
        assert hedging is not None
        route = self.target.route_state
        delay = hedging.delay_seconds
        if delay is None and hedging.ttft_percentile is not None:
            delay = route.ttft_percentile(hedging.ttft_percentile)
        if delay is not None and route.hedge_allowed(hedging.budget_percent):
            self.hedge_timer = loop.call_later(delay, self._hedge)

    def _hedge(self) -> None:
        """No first byte yet: race a second attempt on another endpoint (budgeted, so never an amplifier)."""
        self.hedge_timer = None
        route = self.target.route_state
        hedging = self.target.hedging
        if self.finished or self.winner is not None or self.hedged or len(self.attempts) != 1 or hedging is None:
            return
        if not route.hedge_allowed(hedging.budget_percent):
            return
        endpoint = self._pick()
        if endpoint is None:
            return
        self.hedged = True
        route.hedged += 1.0
        self.gateway.metrics.hedge_outcome(self.target.route, "sent")
        self.tried.add(endpoint)
        attempt = Attempt(self, endpoint, self.picker)
        self.attempts.append(attempt)
        attempt.start()

    # ---- relaying the accepted attempt ---------------------------------------------------
    def start_relay(self, content_type: bytes, extra: bytes) -> None:
        self.headers_sent = True
        self.channel.start_stream(200, content_type, self._headers(extra), self.request)

    def relay(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.first_chunk_at == 0.0:
            self.first_chunk_at = now
            span = self.ctx.span
            if span is not None:
                span.add_event("first_token")
        else:
            self.metrics.itl.observe(now - self.last_chunk_at)
        self.last_chunk_at = now
        self.chunks += 1
        if USAGE_OBJECT[0] in data or USAGE_OBJECT[1] in data:
            data = self._take_usage(data)
            if not data:
                return
        rename = self.rename
        if rename is not None:
            data = data.replace(rename[0], rename[1]).replace(rename[2], rename[3])
        capture = self.ctx.capture
        if capture is not None:
            capture.append(data)
        self.channel.write_chunk(data)

    def end_relay(self) -> None:
        self.channel.end_stream()
        self.finish(200)

    def send_whole(self, status: int, body: bytes, content_type: bytes, extra: bytes) -> None:
        if status == 200:
            usage = usage_of(body)
            if usage is not None:
                self.ctx.usage = usage
        rename = self.rename
        if rename is not None:
            body = body.replace(rename[0], rename[1], 1).replace(rename[2], rename[3], 1)
        capture = self.ctx.capture
        if capture is not None and status == 200:
            capture.append(body)
        self.headers_sent = True
        self.channel.send(status, body, self.request, content_type, self._headers(extra))
        self.finish(status)

    def broken_stream(self, message: str) -> None:
        """Failure after bytes reached the client: end the stream with an error event and [DONE]."""
        self.ctx.capture = None  # never store a cut-off response
        # The leading blank line ends an event the upstream may have left half-written.
        event = b"\n\ndata: " + error_body(message, "api_error", None, "upstream_error") + b"\n\ndata: [DONE]\n\n"
        self.channel.write_chunk(event)
        self.channel.end_stream()
        self.finish(502)

    # ---- FlowControlled: called from the client channel -------------------------------
    def client_gone(self) -> None:
        self.ctx.capture = None
        self._cancel_attempts()
        self.finish(499)

    def pause_upstream(self) -> None:
        for attempt in self.attempts:
            attempt.pause()

    def resume_upstream(self) -> None:
        for attempt in self.attempts:
            attempt.resume()

    def _cancel_attempts(self) -> None:
        attempts, self.attempts = self.attempts, []
        for attempt in attempts:
            attempt.cancel()

    # ---- endings ----------------------------------------------------------------------
    def on_deadline(self) -> None:
        self.deadline = None
        self.deadline_key = 0
        if self.finished:
            return
        self._cancel_attempts()
        message = f"request timed out after {self.target.timeout:g}s"
        self.gateway.metrics.upstream_errors.labels(self.pool.name, "timeout").inc()
        if self.headers_sent:
            self.broken_stream(message)
        else:
            self._fail(GatewayError(504, message, type_="api_error", code="timeout"))

    def _fail(self, error: GatewayError) -> None:
        if self.last_response is not None and not self.headers_sent:
            self.send_whole(*self.last_response)  # the upstream's own error says more than ours
            return
        if not self.headers_sent:
            self.headers_sent = True
            self.channel.send_error(error, self.request,
                                    self.ctx.extra_headers + b"x-tokenway-pool: %s\r\n" % self.pool.name.encode())
        self.finish(error.status)

    def finish(self, status: int) -> None:
        if self.finished:
            return
        self.finished = True
        if self.deadline_key:
            self.gateway.deadlines.remove(self, self.deadline_key)
        elif self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        if self.hedge_timer is not None:
            self.hedge_timer.cancel()
            self.hedge_timer = None
        route = self.target.route_state
        route.active -= 1
        if self.retrying:
            route.retrying -= 1
        if self.spilled or self.target.spillover is not None:
            self.gateway.metrics.region_request(self.target.route, self.pool.region, self.spilled)
        self.ctx.finish(status)
        state = self.pool.state
        state.active -= 1
        if state.queue:
            pump(self.gateway, state)  # a slot is free: let a waiting request in

    # ---- helpers ----------------------------------------------------------------------
    def _take_usage(self, data: bytes) -> bytes:
        """Read usage from the stream's usage event; drop that event if we asked for it ourselves."""
        kept: list[bytes] = []
        for event in data.split(b"\n\n"):
            if USAGE_MARK in event and event.startswith(b"data: {"):
                try:
                    parsed: Any = orjson.loads(event[6:])
                except orjson.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict) and isinstance(parsed.get("usage"), dict):
                    self.ctx.usage = parsed["usage"]
                    if self.strip_usage and not parsed.get("choices"):
                        continue
            kept.append(event)
        return b"\n\n".join(kept)

    def _headers(self, passthrough: bytes) -> bytes:
        """Tokenway's response headers, the stages' headers and the upstream's back-off hints."""
        attempt = self.winner
        endpoint = attempt.endpoint.label if attempt is not None else ""
        overhead_ms = (self.sent_at - self.request.started) * 1000.0
        extra = b"x-tokenway-pool: %s\r\nx-tokenway-endpoint: %s\r\nx-tokenway-overhead-ms: %.3f\r\n%s%s" % (
            self.pool.name.encode(), endpoint.encode(), overhead_ms, self.ctx.extra_headers, passthrough)
        if self.rename is not None:
            extra += b"x-tokenway-upstream-model: %s\r\n" % str(self.ctx.payload.get("model")).encode()
        if self.target.spillover is not None:
            extra += b"x-tokenway-region: %s\r\nx-tokenway-spillover: %s\r\n" % (
                self.pool.region.encode(), b"true" if self.spilled else b"false")
        return extra


def usage_of(body: bytes) -> dict[str, Any] | None:
    """The ``usage`` object of a JSON response, parsed alone: a long completion's body is not parsed whole.

    Inside JSON strings quotes are escaped, so a raw ``"usage":`` is a key; the response's own is its
    last one (OpenAI and vLLM put it last). Falls back to parsing the whole body.
    """
    at = body.rfind(USAGE_MARK)
    if at < 0:
        return None
    start = body.find(b"{", at, at + 32)
    if start >= 0:
        end = body.find(b"}", start)
        if end > 0 and body.find(b"{", start + 1, end) < 0:  # a flat object (the common case): orjson alone
            try:
                usage = orjson.loads(body[start:end + 1])
                if isinstance(usage, dict):
                    return usage
            except orjson.JSONDecodeError:
                pass
        try:
            usage, _ = _DECODER.raw_decode(body[start:start + USAGE_WINDOW].decode("utf-8", "replace"))
            if isinstance(usage, dict):
                return usage
        except ValueError:
            pass
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    found = parsed.get("usage") if isinstance(parsed, dict) else None
    return found if isinstance(found, dict) else None


def _rename(upstream_model: str, requested_model: str) -> tuple[bytes, bytes, bytes, bytes] | None:
    """Byte replacements that put the requested model name back into responses (compact or spaced JSON)."""
    if upstream_model == requested_model:
        return None
    upstream, requested = orjson.dumps(upstream_model), orjson.dumps(requested_model)
    return b'"model":' + upstream, b'"model":' + requested, b'"model": ' + upstream, b'"model": ' + requested
