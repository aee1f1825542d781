"""One proxied request: picks endpoints, retries before the first byte, relays the response.

The common case runs without a task or a future: the request is sent on an idle
pooled connection from the parser callback that completed it, and the response is
written to the client from the upstream parser callbacks that produce it. Only a
new upstream connection needs a coroutine. Only what is needed is parsed: usage
from the final stream chunk or the JSON body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..routing.endpoints import Endpoint
from ..routing.table import PoolRuntime, Target
from ..server.errors import GatewayError, error_body
from .h2 import H2Exchange
from .upstream import UpstreamConnection, UpstreamError

if TYPE_CHECKING:
    from ..observability.metrics import RouteMetrics
    from ..server.channel import ClientChannel, Request
    from .gateway import Gateway

log = logging.getLogger("tokenway.proxy")

SSE_TYPE = b"text/event-stream"
USAGE_MARK = b'"usage"'
# A usage object (not the `"usage": null` OpenAI puts in every chunk), compact or spaced JSON.
USAGE_OBJECT = (b'"usage":{', b'"usage": {')

# What the sink does with a response: drop it (a 5xx we retry), buffer it, or relay it live.
_DISCARD, _BUFFER, _RELAY = 0, 1, 2


class ProxyCall:
    __slots__ = (
        "attempts_left", "body", "buffer", "chunks", "client", "connect_task", "content_type", "deadline",
        "endpoint", "finished", "first_chunk_at", "gateway", "headers_sent", "last_chunk_at", "last_error",
        "metrics", "mode", "passthrough", "path", "pool", "pool_index", "request", "retryable", "reused", "sent_at",
        "span", "stale_retried", "status", "stream", "strip_usage", "target", "tried", "upstream", "upstream_done_at",
        "upstream_span", "usage",
    )

    def __init__(self, gateway: Gateway, request: Request, client: ClientChannel, target: Target, path: bytes,
                 body: bytes, stream: bool, strip_usage: bool, span: Any = None) -> None:
        self.gateway = gateway
        self.request = request
        self.client = client
        self.target = target
        self.path = path
        self.body = body
        self.stream = stream
        self.strip_usage = strip_usage
        self.span = span
        self.pool: PoolRuntime = target.pool
        self.pool_index = 0
        self.metrics: RouteMetrics = gateway.metrics.route(target.model, target.pool.name, target.route)
        self.attempts_left = target.attempts
        self.tried: set[Endpoint] = set()
        self.last_error: GatewayError | None = None
        self.upstream: UpstreamConnection | H2Exchange | None = None
        self.endpoint: Endpoint | None = None
        self.connect_task: asyncio.Task[None] | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.upstream_span: Any = None
        self.mode = _BUFFER
        self.status = 0
        self.content_type = b"application/json"
        self.passthrough = b""
        self.buffer: list[bytes] = []
        self.headers_sent = False
        self.finished = False
        self.retryable = False
        self.reused = False
        self.stale_retried = False
        self.sent_at = 0.0
        self.first_chunk_at = 0.0
        self.last_chunk_at = 0.0
        self.upstream_done_at = 0.0
        self.usage: dict[str, Any] | None = None
        self.chunks = 0

    # ---- driving the attempts -------------------------------------------------------
    def start(self) -> None:
        self.client.active = self
        self.deadline = asyncio.get_running_loop().call_later(self.target.timeout, self._on_deadline)
        self._next_attempt()

    def _next_attempt(self) -> None:
        pools = self.target.fallbacks
        while True:
            pool = self.target.pool if self.pool_index == 0 else pools[self.pool_index - 1]
            endpoint = pool.picker.pick(pool.endpoints, self.tried)
            if endpoint is not None:
                break
            self.pool_index += 1
            if self.pool_index > len(pools):
                self._fail(self.last_error or GatewayError(
                    503, f"no endpoint available in pool {self.target.pool.name!r}", type_="api_error",
                    code="no_healthy_upstream"))
                return
        self.tried.add(endpoint)
        if pool is not self.pool:  # a fallback pool: its figures go under its own label
            self.pool = pool
            self.metrics = self.gateway.metrics.route(self.target.model, pool.name, self.target.route)
        self.retryable = self.attempts_left > 0
        if endpoint.protocol == "h2c":
            self._send(H2Exchange(endpoint, self.gateway.h2), endpoint, reused=False)
            return
        conn = self.gateway.connections.take_idle(endpoint)
        if conn is not None:
            self._send(conn, endpoint, reused=True)
        else:
            self.connect_task = asyncio.get_running_loop().create_task(self._connect(endpoint))

    async def _connect(self, endpoint: Endpoint) -> None:
        try:
            conn = await self.gateway.connections.connect(endpoint, self.target.connect_timeout)
        except UpstreamError as exc:
            self.connect_task = None
            endpoint.record_failure()
            self.gateway.metrics.upstream_errors.labels(self.pool.name, exc.kind).inc()
            self._retry_or_fail(GatewayError(502, f"upstream {endpoint.label} unavailable: {exc}",
                                             type_="api_error", code="upstream_connect_error"))
            return
        self.connect_task = None
        if self.finished:
            self.gateway.connections.release(conn)
            return
        self._send(conn, endpoint, reused=False)

    def _send(self, conn: UpstreamConnection | H2Exchange, endpoint: Endpoint, reused: bool) -> None:
        endpoint.in_flight += 1
        self.gateway.metrics.pool_in_flight(self.pool.name).inc()
        self.upstream = conn
        self.endpoint = endpoint
        self.reused = reused
        self.mode = _BUFFER
        self.buffer = []
        tracer = self.gateway.tracer
        if tracer.enabled:
            self.upstream_span = tracer.start("tokenway.upstream", self.span, **{
                "tokenway.pool": self.pool.name, "tokenway.endpoint": endpoint.label, "server.address": endpoint.host})
        if self.client.write_paused:
            conn.pause_reading()
        self.sent_at = time.perf_counter()
        if isinstance(conn, H2Exchange):
            conn.start(self.path, self.body, self._h2_headers(endpoint), self)
        else:
            conn.send(self._upstream_request(endpoint), self)

    def _release_endpoint(self, status: int | None) -> None:
        endpoint = self.endpoint
        if endpoint is not None:
            endpoint.in_flight -= 1
            self.gateway.metrics.pool_in_flight(self.pool.name).dec()
        if self.upstream_span is not None:
            self.gateway.tracer.end(self.upstream_span, status)
            self.upstream_span = None

    def _retry_or_fail(self, error: GatewayError) -> None:
        self.last_error = error
        if self.finished:
            return
        if self.attempts_left > 0:
            self.attempts_left -= 1
            self._next_attempt()
        else:
            self._fail(error)

    def _upstream_request(self, endpoint: Endpoint) -> bytes:
        request = self.request
        extra = endpoint.auth_header
        traceparent = self.gateway.tracer.traceparent(self.upstream_span) if self.upstream_span is not None \
            else request.traceparent
        if traceparent:
            extra += b"traceparent: " + traceparent + b"\r\n"
        return b"POST %s%s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" \
               b"x-request-id: %s\r\n%s\r\n%s" % (
                   endpoint.base_path.encode(), self.path, endpoint.host_header, len(self.body),
                   request.request_id, extra, self.body)

    def _h2_headers(self, endpoint: Endpoint) -> dict[str, str]:
        headers = {"content-type": "application/json", "x-request-id": self.request.request_id.decode()}
        if endpoint.api_key:
            headers["authorization"] = f"Bearer {endpoint.api_key}"
        if self.request.traceparent:
            headers["traceparent"] = self.request.traceparent.decode()
        return headers

    # ---- ResponseSink: called from the upstream parser ------------------------------
    def on_headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
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
        if status >= 500 and self.retryable and self.target.retry_on_5xx:
            self.mode = _DISCARD
        elif self.stream and status == 200 and content_type.startswith(SSE_TYPE):
            self.mode = _RELAY
            self.headers_sent = True
            self.client.start_stream(200, content_type, self._extra_headers(), self.request)
        else:
            self.mode = _BUFFER

    def on_body(self, data: bytes) -> None:
        mode = self.mode
        if mode == _RELAY:
            now = time.perf_counter()
            if self.first_chunk_at == 0.0:
                self.first_chunk_at = now
                if self.span is not None:
                    self.span.add_event("first_token")
            else:
                self.metrics.itl.observe(now - self.last_chunk_at)
            self.last_chunk_at = now
            self.chunks += 1
            if USAGE_OBJECT[0] in data or USAGE_OBJECT[1] in data:
                data = self._take_usage(data)
                if not data:
                    return
            self.client.write_chunk(data)
        elif mode == _BUFFER:
            self.buffer.append(data)

    def on_complete(self) -> None:
        self.upstream_done_at = time.perf_counter()
        conn, self.upstream = self.upstream, None
        endpoint = self.endpoint
        assert conn is not None and endpoint is not None
        self._release_endpoint(self.status)
        self.gateway.connections.release(conn)
        if self.finished:
            return
        if self.mode == _DISCARD:
            endpoint.record_failure()
            self.gateway.metrics.upstream_errors.labels(self.pool.name, "5xx").inc()
            self._retry_or_fail(GatewayError(502, f"upstream {endpoint.label} answered {self.status}",
                                             type_="api_error", code="upstream_error"))
            return
        endpoint.record_success()
        if self.mode == _RELAY:
            self.client.end_stream()
        else:
            self._send_buffered()
        self._finish(self.status)

    def on_error(self, error: UpstreamError) -> None:
        conn, self.upstream = self.upstream, None
        endpoint = self.endpoint
        assert endpoint is not None
        self._release_endpoint(502)
        if conn is not None:
            conn.abort()
        if self.finished:
            return
        if self.reused and conn is not None and not conn.got_bytes and not self.stale_retried and \
                not self.headers_sent:
            # A stale keep-alive connection: the request never reached the upstream; try a fresh one.
            self.stale_retried = True
            self.connect_task = asyncio.get_running_loop().create_task(self._connect(endpoint))
            return
        endpoint.record_failure()
        self.gateway.metrics.upstream_errors.labels(self.pool.name, error.kind).inc()
        if self.headers_sent:
            self._end_stream_with_error(f"upstream failed mid-response: {error}")
            self._finish(502)
            return
        self._retry_or_fail(GatewayError(502, f"upstream {endpoint.label} failed: {error}", type_="api_error",
                                         code="upstream_error"))

    # ---- FlowControlled: called from the client connection --------------------------
    def client_gone(self) -> None:
        self._abort_upstream()
        self._finish(499)

    def pause_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    # ---- endings ----------------------------------------------------------------------
    def _abort_upstream(self) -> None:
        """Stop work upstream: closing the connection makes vLLM abort the sequence."""
        if self.connect_task is not None:
            self.connect_task.cancel()
            self.connect_task = None
        conn, self.upstream = self.upstream, None
        if conn is not None:
            self._release_endpoint(499)
            conn.abort()

    def _on_deadline(self) -> None:
        self.deadline = None
        if self.finished:
            return
        self._abort_upstream()
        message = f"request timed out after {self.target.timeout:g}s"
        self.gateway.metrics.upstream_errors.labels(self.pool.name, "timeout").inc()
        if self.headers_sent:
            self._end_stream_with_error(message)
        else:
            self._send_error(GatewayError(504, message, type_="api_error", code="timeout"))
        self._finish(504)

    def _fail(self, error: GatewayError) -> None:
        self._send_error(error)
        self._finish(error.status)

    def _send_error(self, error: GatewayError) -> None:
        self.status = error.status
        if not self.headers_sent:
            self.headers_sent = True
            self.client.send_error(error, self.request, b"x-tokenway-pool: %s\r\n" % self.target.pool.name.encode())

    def _finish(self, status: int) -> None:
        if self.finished:
            return
        self.finished = True
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        self.gateway.settle(self, status)
        self.client.request_done(self.request)

    # ---- helpers ----------------------------------------------------------------------
    def _take_usage(self, data: bytes) -> bytes:
        """Read usage from the stream's usage event; drop that event if we asked for it ourselves."""
        kept: list[bytes] = []
        for event in data.split(b"\n\n"):
            if USAGE_MARK in event and event.startswith(b"data: {"):
                try:
                    parsed = orjson.loads(event[6:])
                except orjson.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict) and isinstance(parsed.get("usage"), dict):
                    self.usage = parsed["usage"]
                    if self.strip_usage and not parsed.get("choices"):
                        continue
            kept.append(event)
        return b"\n\n".join(kept)

    def _extra_headers(self) -> bytes:
        overhead_ms = (self.sent_at - self.request.started) * 1000.0
        endpoint = self.endpoint.label if self.endpoint is not None else ""
        return b"x-tokenway-pool: %s\r\nx-tokenway-endpoint: %s\r\nx-tokenway-overhead-ms: %.3f\r\n%s" % (
            self.pool.name.encode(), endpoint.encode(), overhead_ms, self.passthrough)

    def _send_buffered(self) -> None:
        body = b"".join(self.buffer)
        self.buffer = []
        if self.status == 200 and USAGE_MARK in body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("usage"), dict):
                self.usage = parsed["usage"]
        self.headers_sent = True
        self.client.send(self.status, body, self.request, self.content_type, self._extra_headers())

    def _end_stream_with_error(self, message: str) -> None:
        """Mid-stream failure: end the SSE stream with an error event so the client never hangs."""
        event = b"\n\ndata: " + error_body(message, "api_error", None, "upstream_error") + b"\n\n"
        self.client.write_chunk(event)
        self.client.end_stream()
        self.status = 502
