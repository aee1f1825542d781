"""One proxied request: picks endpoints, retries before the first byte, relays the response.

A ``ProxyCall`` is the :class:`ResponseSink` of the upstream connection, so response
bytes are written to the client from the parser callback that produced them.
Only what is needed is parsed: usage from the final stream chunk or the JSON body.
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
from .upstream import UpstreamConnection, UpstreamError

if TYPE_CHECKING:
    from ..observability.metrics import RouteMetrics
    from ..server.http import HttpConnection, Request
    from .gateway import Gateway

log = logging.getLogger("tokenway.proxy")

SSE_TYPE = b"text/event-stream"
USAGE_MARK = b'"usage"'
NULL_USAGE = (b'"usage":null', b'"usage": null')
DONE_EVENT = b"data: [DONE]"

# sink modes
_DISCARD, _BUFFER, _RELAY = 0, 1, 2


class ClientGone(Exception):
    pass


class ProxyCall:
    __slots__ = (
        "attempt_done",
        "body",
        "buffer",
        "chunks",
        "client",
        "content_type",
        "endpoint",
        "first_chunk_at",
        "gateway",
        "headers_sent",
        "last_chunk_at",
        "metrics",
        "mode",
        "path",
        "pool",
        "request",
        "retryable",
        "sent_at",
        "status",
        "stream",
        "strip_usage",
        "target",
        "tracer_span",
        "upstream",
        "upstream_done_at",
        "usage",
    )

    def __init__(self, gateway: Gateway, request: Request, client: HttpConnection, target: Target, path: bytes,
                 body: bytes, stream: bool, strip_usage: bool) -> None:
        self.gateway = gateway
        self.request = request
        self.client = client
        self.target = target
        self.path = path
        self.body = body
        self.stream = stream
        self.strip_usage = strip_usage
        self.pool: PoolRuntime = target.pool
        self.metrics: RouteMetrics = gateway.metrics.route(target.model, target.pool.name, target.route)
        self.upstream: UpstreamConnection | None = None
        self.endpoint: Endpoint | None = None
        self.attempt_done: asyncio.Future[None] | None = None
        self.mode = _BUFFER
        self.status = 0
        self.content_type = b"application/json"
        self.buffer: list[bytes] = []
        self.headers_sent = False
        self.retryable = False
        self.sent_at = 0.0
        self.first_chunk_at = 0.0
        self.last_chunk_at = 0.0
        self.upstream_done_at = 0.0
        self.usage: dict[str, Any] | None = None
        self.chunks = 0
        self.tracer_span: Any = None

    # ---- the request, start to end -------------------------------------------------
    async def run(self) -> int:
        """Proxy the request; returns the status the client saw."""
        target = self.target
        tried: set[Endpoint] = set()
        pools = (target.pool, *target.fallbacks)
        pool_index = 0
        attempts_left = target.attempts
        last_error: GatewayError | None = None
        self.client.active = self
        try:
            async with asyncio.timeout(target.timeout):
                while True:
                    pool = pools[pool_index]
                    endpoint = pool.picker.pick(pool.endpoints, tried)
                    if endpoint is None:
                        pool_index += 1
                        if pool_index >= len(pools):
                            break
                        continue
                    tried.add(endpoint)
                    self.pool = pool
                    self.retryable = attempts_left > 0
                    error = await self._attempt(endpoint)
                    if error is None:
                        return self.status
                    last_error = error
                    if attempts_left <= 0:
                        break
                    attempts_left -= 1
        except TimeoutError:
            return self._timed_out()
        except ClientGone:
            return 499
        if last_error is None:
            last_error = GatewayError(503, f"no endpoint available in pool {target.pool.name!r}",
                                      type_="api_error", code="no_healthy_upstream")
        self._fail_before_headers(last_error)
        return last_error.status

    async def _attempt(self, endpoint: Endpoint) -> GatewayError | None:
        """One try on one endpoint; returns an error only when another try may help."""
        gateway = self.gateway
        pool_name = self.pool.name
        endpoint.in_flight += 1
        gateway.metrics.in_flight.labels(pool_name).inc()
        self.endpoint = endpoint
        try:
            for fresh_retry in (False, True):
                try:
                    conn, reused = await gateway.connections.acquire(endpoint, self.target.connect_timeout)
                except UpstreamError as exc:
                    endpoint.record_failure()
                    gateway.metrics.upstream_errors.labels(pool_name, exc.kind).inc()
                    return GatewayError(502, f"upstream {endpoint.label} unavailable: {exc}", type_="api_error",
                                        code="upstream_connect_error")
                self.upstream = conn
                self.mode = _BUFFER
                self.buffer = []
                loop = asyncio.get_running_loop()
                self.attempt_done = done = loop.create_future()
                if self.client.write_paused:
                    conn.pause_reading()
                self.sent_at = time.perf_counter()
                conn.send(self._upstream_request(endpoint), self)
                try:
                    await done
                except UpstreamError as exc:
                    conn.abort()
                    if reused and not conn.got_bytes and not fresh_retry:
                        continue  # a stale keep-alive connection: the request never reached the upstream
                    endpoint.record_failure()
                    gateway.metrics.upstream_errors.labels(pool_name, exc.kind).inc()
                    if self.headers_sent:
                        self._end_stream_with_error(f"upstream failed mid-response: {exc}")
                        return None
                    return GatewayError(502, f"upstream {endpoint.label} failed: {exc}", type_="api_error",
                                        code="upstream_error")
                except asyncio.CancelledError:
                    conn.abort()
                    raise
                if self.mode == _DISCARD:  # a 5xx we chose to retry
                    gateway.connections.release(conn)
                    endpoint.record_failure()
                    gateway.metrics.upstream_errors.labels(pool_name, "5xx").inc()
                    return GatewayError(502, f"upstream {endpoint.label} answered {self.status}", type_="api_error",
                                        code="upstream_error")
                endpoint.record_success()
                gateway.connections.release(conn)
                self.upstream = None
                if self.mode == _BUFFER:
                    self._send_buffered()
                return None
            return None
        finally:
            endpoint.in_flight -= 1
            gateway.metrics.in_flight.labels(pool_name).dec()

    def _upstream_request(self, endpoint: Endpoint) -> bytes:
        request = self.request
        extra = endpoint.auth_header
        if request.traceparent:
            extra += b"traceparent: " + request.traceparent + b"\r\n"
        return b"POST %s%s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" \
               b"x-request-id: %s\r\n%s\r\n%s" % (
                   endpoint.base_path.encode(), self.path, endpoint.host_header, len(self.body),
                   request.request_id, extra, self.body)

    # ---- ResponseSink: called from the upstream parser ------------------------------
    def on_headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        content_type = b"application/json"
        for name, value in headers:
            if name == b"content-type":
                content_type = value
                break
        self.content_type = content_type
        if status >= 500 and self.retryable and self.target.retry_on_5xx:
            self.mode = _DISCARD
        elif self.stream and status == 200 and content_type.startswith(SSE_TYPE):
            self.mode = _RELAY
            self.headers_sent = True
            self.client.write(self.client.head(200, content_type, self._extra_headers(), self.request, None))
        else:
            self.mode = _BUFFER

    def on_body(self, data: bytes) -> None:
        mode = self.mode
        if mode == _RELAY:
            now = time.perf_counter()
            if self.first_chunk_at == 0.0:
                self.first_chunk_at = now
            else:
                self.metrics.itl.observe(now - self.last_chunk_at)
            self.last_chunk_at = now
            self.chunks += 1
            if USAGE_MARK in data and not any(mark in data for mark in NULL_USAGE):
                data = self._take_usage(data)
                if not data:
                    return
            self.client.write(b"%x\r\n%s\r\n" % (len(data), data))
        elif mode == _BUFFER:
            self.buffer.append(data)

    def on_complete(self) -> None:
        self.upstream_done_at = time.perf_counter()
        if self.mode == _RELAY:
            self.client.write(b"0\r\n\r\n")
        done = self.attempt_done
        if done is not None and not done.done():
            done.set_result(None)

    def on_error(self, error: UpstreamError) -> None:
        done = self.attempt_done
        if done is not None and not done.done():
            done.set_exception(error)

    # ---- FlowControlled: called from the client connection --------------------------
    def client_gone(self) -> None:
        if self.upstream is not None:
            self.upstream.abort()  # cancels generation upstream: vLLM aborts on disconnect
        done = self.attempt_done
        if done is not None and not done.done():
            done.set_exception(ClientGone())

    def pause_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    # ---- helpers --------------------------------------------------------------------
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
        return b"x-tokenway-pool: %s\r\nx-tokenway-endpoint: %s\r\nx-tokenway-overhead-ms: %.3f\r\n" % (
            self.pool.name.encode(), endpoint.encode(), overhead_ms)

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
        self.client.send(self.status, body, self.request, self.content_type, self._extra_headers())
        self.headers_sent = True

    def _fail_before_headers(self, error: GatewayError) -> None:
        self.status = error.status
        if not self.headers_sent:
            self.client.send_error(error, self.request, b"x-tokenway-pool: %s\r\n" % self.target.pool.name.encode())
            self.headers_sent = True

    def _end_stream_with_error(self, message: str) -> None:
        """Mid-stream failure: end the SSE stream with an error event so the client never hangs."""
        event = b"\n\ndata: " + error_body(message, "api_error", None, "upstream_error") + b"\n\n"
        self.client.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(event), event))
        self.status = 502

    def _timed_out(self) -> int:
        if self.upstream is not None:
            self.upstream.abort()
        message = f"request timed out after {self.target.timeout:g}s"
        self.gateway.metrics.upstream_errors.labels(self.pool.name, "timeout").inc()
        if self.headers_sent:
            self._end_stream_with_error(message)
            return 504
        self._fail_before_headers(GatewayError(504, message, type_="api_error", code="timeout"))
        return 504
