"""One upstream attempt of a call: connection, endpoint, response buffer, span.

The attempt is the :class:`ResponseSink` of its upstream. It decides what to do with
the response as the headers arrive: drop it (a status the route retries), relay it
live (a stream), or buffer it (anything else); then it reports to its call, and how it
went to the pool's picker (outlier detection, latency EWMAs).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..picking.base import CANCELLED, CONNECT_FAILURE, OK, RESET, TIMEOUT, AttemptOutcome, Outcome
from ..routing.table import RETRY_5XX, RETRY_429, RETRY_CONNECT, RETRY_RESET, RETRY_TIMEOUT
from ..server.errors import GatewayError
from .upstream import UpstreamError

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint
    from ..routing.poolstate import PoolState
    from ..routing.table import EndpointPicker
    from .call import ClientCall
    from .upstream import Upstream

SSE_TYPE = b"text/event-stream"
# What the attempt does with a response: drop it (a status we retry), buffer it, relay it live, or hold a
# stream's headers until its first chunk (so a stream that never starts can still be retried elsewhere).
_DISCARD, _BUFFER, _RELAY, _HOLD = 0, 1, 2, 3
_OUTCOMES = {"connect": CONNECT_FAILURE, "timeout": TIMEOUT}


class Attempt:
    __slots__ = (
        "buffer",
        "call",
        "cancelled",
        "connect_task",
        "content_type",
        "endpoint",
        "mode",
        "passthrough",
        "picker",
        "pool_state",
        "sent_at",
        "span",
        "stale_retried",
        "status",
        "try_timer",
        "upstream",
    )

    def __init__(self, call: ClientCall, endpoint: Endpoint, picker: EndpointPicker) -> None:
        self.call = call
        self.endpoint = endpoint
        self.picker = picker
        self.upstream: Upstream | None = None
        self.pool_state: PoolState | None = None  # the pool it was sent in (the call may move on meanwhile)
        self.connect_task: asyncio.Task[None] | None = None
        self.try_timer: asyncio.TimerHandle | None = None
        self.span: Any = None
        self.mode = _BUFFER
        self.status = 0
        self.content_type = b"application/json"
        self.passthrough = b""
        self.buffer: list[bytes] = []
        self.sent_at = 0.0
        self.stale_retried = False
        self.cancelled = False

    # ---- sending --------------------------------------------------------------------------
    def start(self) -> None:
        upstream = self.call.gateway.connectors[self.endpoint.protocol].take(self.endpoint)
        if upstream is not None:
            self._send(upstream)
        else:
            self.connect_task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        call = self.call
        try:
            upstream = await call.gateway.connectors[self.endpoint.protocol].connect(
                self.endpoint, call.target.connect_timeout)
        except UpstreamError as exc:
            self.connect_task = None
            self._failed(CONNECT_FAILURE, RETRY_CONNECT, exc,
                         GatewayError(502, f"upstream {self.endpoint.label} unavailable: {exc}", type_="api_error",
                                      code="upstream_connect_error"))
            return
        self.connect_task = None
        if self.cancelled:
            upstream.finish()
            return
        self._send(upstream)

    def _send(self, upstream: Upstream) -> None:
        call = self.call
        gateway = call.gateway
        endpoint = self.endpoint
        endpoint.in_flight += 1
        state = self.pool_state = call.pool.state
        state.in_flight.value += 1
        self.upstream = upstream
        self.mode = _BUFFER
        self.buffer = []
        tracer = gateway.tracer
        request = call.request
        traceparent = request.traceparent
        if tracer.enabled:
            self.span = tracer.start("tokenway.upstream", call.ctx.span, **{
                "tokenway.pool": call.pool.name, "tokenway.endpoint": endpoint.label, "server.address": endpoint.host})
            traceparent = tracer.traceparent(self.span) or traceparent
        if call.channel.write_paused:
            upstream.pause_reading()
        timeouts = call.target.timeouts
        limit = timeouts.per_try_seconds  # until the whole response (a stream: its first token)
        if call.ctx.stream and timeouts.first_token_seconds is not None:
            limit = min(limit, timeouts.first_token_seconds) if limit is not None else timeouts.first_token_seconds
        if limit is not None:
            self.try_timer = asyncio.get_running_loop().call_later(limit, self._on_try_timeout, limit)
        self.sent_at = call.sent_at = time.perf_counter()
        upstream.send(call.ctx.path, call.body, request.request_id, traceparent, self)

    # ---- ResponseSink: called from the upstream ----------------------------------------------
    def on_headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        call = self.call
        self.status = status
        content_type = b"application/json"
        for name, value in headers:
            if name == b"content-type":
                content_type = value
                break
        self.content_type = content_type
        if status != 200:
            # Back-off hints of an upstream that refuses (429/503) reach the client unchanged.
            self.passthrough = b"".join(name + b": " + value + b"\r\n" for name, value in headers
                                        if name == b"retry-after" or name.startswith(b"x-ratelimit-"))
        retry_kind = RETRY_5XX if status >= 500 else RETRY_429 if status == 429 else None
        if retry_kind is not None and call.retryable(retry_kind):
            self.mode = _DISCARD
        elif call.ctx.stream and status == 200 and content_type.startswith(SSE_TYPE):
            self.mode = _HOLD
        else:
            self.mode = _BUFFER

    def on_body(self, data: bytes) -> None:
        mode = self.mode
        if mode == _RELAY:
            self.call.relay(data)
        elif mode in (_BUFFER, _DISCARD):
            self.buffer.append(data)
        elif mode == _HOLD:  # the first chunk: the client gets the headers now, if this attempt wins
            call = self.call
            if not call.claim(self):
                self.cancel()
                return
            self._stop_timer()
            self.mode = _RELAY
            if call.target.hedging is not None:  # hedging after a TTFT percentile needs the samples
                call.target.route_state.record_ttft(time.perf_counter() - self.sent_at)
            call.start_relay(self.content_type, self.passthrough)
            call.relay(data)

    def on_complete(self) -> None:
        call = self.call
        call.upstream_done_at = time.perf_counter()
        self._stop_timer()
        upstream, self.upstream = self.upstream, None
        assert upstream is not None
        self._release(self.status)
        upstream.finish()
        if self.cancelled or call.finished:
            return
        status = self.status
        if status >= 500:
            self.picker.observe(self.endpoint, AttemptOutcome(Outcome.HTTP_5XX, status))
        else:
            self.picker.observe(self.endpoint, OK)
        if self.mode == _DISCARD:
            kind = RETRY_5XX if status >= 500 else RETRY_429
            call.gateway.metrics.upstream_errors.labels(call.pool.name, "5xx" if status >= 500 else "429").inc()
            answer = (status, b"".join(self.buffer), self.content_type, self.passthrough)
            self.buffer = []
            call.attempt_failed(self, GatewayError(502 if status >= 500 else 429,
                                                   f"upstream {self.endpoint.label} answered {status}",
                                                   type_="api_error", code="upstream_error"), kind, answer)
        elif self.mode == _RELAY:
            call.end_relay()
        elif call.claim(self):
            if self.mode == _HOLD:  # a stream that ended without a chunk
                call.start_relay(self.content_type, self.passthrough)
                call.end_relay()
                return
            if call.target.hedging is not None:
                call.target.route_state.record_ttft(call.upstream_done_at - self.sent_at)
            body = b"".join(self.buffer)
            self.buffer = []
            call.send_whole(status, body, self.content_type, self.passthrough)

    def on_error(self, error: UpstreamError) -> None:
        call = self.call
        upstream, self.upstream = self.upstream, None
        self._release(502)
        if upstream is not None:
            upstream.abort()
        if self.cancelled or call.finished:
            return
        if upstream is not None and upstream.reused and not upstream.got_bytes \
                and not self.stale_retried and not call.headers_sent:
            # A stale keep-alive connection: the request never reached the upstream. Sending it again on a
            # fresh connection is not a retry in the policy's sense.
            self.stale_retried = True
            self.connect_task = asyncio.get_running_loop().create_task(self._connect())
            return
        outcome = _OUTCOMES.get(error.kind, RESET)
        retry_kind = RETRY_CONNECT if outcome is CONNECT_FAILURE else RETRY_RESET
        self._failed(outcome, retry_kind, error, GatewayError(
            502, f"upstream {self.endpoint.label} failed: {error}", type_="api_error", code="upstream_error"))

    # ---- endings --------------------------------------------------------------------------
    def _failed(self, outcome: AttemptOutcome, retry_kind: str, error: UpstreamError,
                client_error: GatewayError) -> None:
        call = self.call
        self._stop_timer()
        self.picker.observe(self.endpoint, outcome)
        call.gateway.metrics.upstream_errors.labels(call.pool.name, error.kind).inc()
        if self.cancelled or call.finished:
            return
        if call.winner is self:  # bytes reached the client: the stream ends with an error event
            call.broken_stream(f"upstream failed mid-response: {error}")
        elif call.winner is None:
            call.attempt_failed(self, client_error, retry_kind)

    def _on_try_timeout(self, seconds: float) -> None:
        self.try_timer = None
        if self.cancelled or self.call.finished or self.mode == _RELAY:
            return
        upstream, self.upstream = self.upstream, None
        if upstream is None:
            return
        self._release(504)
        upstream.abort()
        what = "its first token" if self.call.ctx.stream else "its response"
        self._failed(TIMEOUT, RETRY_TIMEOUT, UpstreamError("timeout", f"no {what} within {seconds:g}s"),
                     GatewayError(504, f"upstream {self.endpoint.label} sent no {what} within {seconds:g}s",
                                  type_="api_error", code="upstream_timeout"))

    def _stop_timer(self) -> None:
        timer = self.try_timer
        if timer is not None:
            timer.cancel()
            self.try_timer = None

    def lose_race(self) -> None:
        """A hedge answered first while this attempt had no first byte: reported like a per-try timeout (as
        Envoy reports those to outlier detection), with the time waited as a lower bound of the endpoint's TTFT,
        so a replica that keeps stalling is ejected and scored slower instead of winning picks as the least
        loaded once its stalled attempts are cancelled."""
        self.cancel(AttemptOutcome(Outcome.TIMEOUT, ttft=time.perf_counter() - self.sent_at))

    def cancel(self, outcome: AttemptOutcome = CANCELLED) -> None:
        """The call no longer wants this attempt (client gone, deadline, another attempt won)."""
        if self.cancelled:
            return
        self.cancelled = True
        self._stop_timer()
        if self.connect_task is not None:
            self.connect_task.cancel()
            self.connect_task = None
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            self._release(499)
            upstream.abort()
            self.picker.observe(self.endpoint, outcome)

    def _release(self, status: int) -> None:
        call = self.call
        self.endpoint.in_flight -= 1
        if self.pool_state is not None:
            self.pool_state.in_flight.value -= 1
        if self.span is not None:
            call.gateway.tracer.end(self.span, status)
            self.span = None

    def pause(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()
