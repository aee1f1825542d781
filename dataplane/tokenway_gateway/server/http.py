"""The inbound HTTP/1.1 server: an asyncio protocol parsed by httptools.

One connection object per client socket; it is the :class:`ClientChannel` of the
request it is serving. Requests are handed to the gateway one at a time (pipelined
ones wait their turn); responses are written straight to the transport.
Back-pressure from a slow client pauses the upstream it reads from.

Edge limits, since a gateway sits at the edge: a request's headers must arrive
within ``header_timeout`` (slowloris), idle keep-alive connections close after
``idle_timeout``, headers larger than ``max_header_bytes`` get 431, and at most
``max_connections`` sockets are served at once. Deadlines are plain timestamps
checked by one sweep per listener each second: no timer per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Protocol

import httptools

from .channel import FlowControlled, Handler, Request
from .errors import GatewayError, error_body, reason

log = logging.getLogger("tokenway.http")

# Connection phases, for the deadline sweep.
_IDLE, _HEADERS, _BODY, _BUSY = 0, 1, 2, 3


class ServerLimits:
    """The edge limits of one listener (updated in place when the config changes)."""

    __slots__ = ("header_timeout", "idle_timeout", "max_body_bytes", "max_connections", "max_header_bytes")

    def __init__(self, max_body_bytes: int = 8 * 1024 * 1024, max_header_bytes: int = 64 * 1024,
                 header_timeout: float = 10.0, idle_timeout: float = 75.0, max_connections: int = 10_000) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections


class ServedConnection(Protocol):
    """What the sweep and the drain need of a connection (HTTP/1.1, or HTTP/2 in h2_server)."""

    deadline: float

    def on_deadline(self) -> None: ...
    def close(self) -> None: ...
    def close_if_idle(self) -> None: ...


class ServerState:
    """Shared by every connection of one listener: the handler, limits and the open set."""

    def __init__(self, handler: Handler, limits: ServerLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits or ServerLimits()
        self.connections: set[ServedConnection] = set()
        self.draining = False
        self.active_requests = 0
        self.refused_connections = 0
        self.timed_out_connections = 0
        self._at_limit = False
        self._sweeper: asyncio.TimerHandle | None = None

    @property
    def max_body_bytes(self) -> int:
        return self.limits.max_body_bytes

    def admit(self) -> bool:
        """Whether one more connection may be served; logs once each time the limit is reached."""
        limit = self.limits.max_connections
        if len(self.connections) < limit:
            if self._at_limit and len(self.connections) < limit * 0.9:
                self._at_limit = False
                log.warning("connection count back under the limit of %d; accepting again", limit)
            return True
        self.refused_connections += 1
        if not self._at_limit:
            self._at_limit = True
            log.warning("connection limit of %d reached: refusing new connections until some close", limit)
        return False

    def start_sweeping(self, interval: float = 1.0) -> None:
        loop = asyncio.get_running_loop()

        def sweep() -> None:
            self.sweep(time.perf_counter())
            self._sweeper = loop.call_later(interval, sweep)

        self._sweeper = loop.call_later(interval, sweep)

    def stop_sweeping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    def sweep(self, now: float) -> None:
        """Close connections whose header, body or idle deadline has passed."""
        for conn in [c for c in self.connections if 0.0 < c.deadline < now]:
            self.timed_out_connections += 1
            conn.on_deadline()


class HttpConnection(asyncio.Protocol):
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.request: Request | None = None
        self.pending: deque[Request] = deque()
        self.busy = False
        self.active: FlowControlled | None = None
        self.write_paused = False
        self.phase = _IDLE
        self.deadline = 0.0
        self.read_eof = False
        self._url = bytearray()
        self._header_budget = 0
        self._upgrading = False  # an "upgrade: h2c" request is held back from the handler

    @property
    def max_body_bytes(self) -> int:
        return self.state.limits.max_body_bytes

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        if not self.state.admit():
            assert self.transport is not None
            self.closed = True
            body = error_body("the gateway is at its connection limit; retry shortly", "api_error", None,
                              "too_many_connections")
            self.transport.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                                 b"content-length: %d\r\nretry-after: 1\r\nconnection: close\r\n\r\n%s"
                                 % (len(body), body))
            self.transport.close()
            return
        self.state.connections.add(self)
        # A new connection must send its first request's headers within the header timeout.
        self.deadline = time.perf_counter() + self.state.limits.header_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        self.pending.clear()
        if self.active is not None:
            self.active.client_gone()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            if not (self._upgrading and self._h2_upgrade(data[exc.args[0]:] if exc.args else b"")):
                self._reject(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            # HTTP/2 with prior knowledge: httptools stops at the preface, so only this error path looks for it.
            if not self.closed and not (self._url == b"*" and self._h2_preface(data, exc)):
                self._reject(400, f"malformed HTTP request: {exc}")

    def _h2_preface(self, data: bytes, error: Exception) -> bool:
        from .h2_server import take_over_prior_knowledge

        return take_over_prior_knowledge(self, data, error)

    def _h2_upgrade(self, rest: bytes) -> bool:
        from .h2_server import take_over_upgrade

        self._upgrading = self.busy = False
        return bool(self.pending) and take_over_upgrade(self, self.pending.pop(), rest)

    def eof_received(self) -> bool | None:
        """The client half-closed after sending: answer what it sent, then close."""
        self.read_eof = True
        if self.busy or self.pending:
            return True  # keep the transport open for the response
        return None  # idle: close now

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.active is not None:
            self.active.pause_upstream()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.active is not None:
            self.active.resume_upstream()

    def on_deadline(self) -> None:
        """The sweep found this connection past its deadline."""
        if self.phase == _HEADERS or self.phase == _BODY:
            what = "headers" if self.phase == _HEADERS else "body"
            self._reject(408, f"the request {what} did not arrive in time", code="request_timeout")
        else:
            self.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        now = time.perf_counter()
        self.request = Request(now)
        self._url.clear()
        limits = self.state.limits
        self._header_budget = limits.max_header_bytes
        self.phase = _HEADERS
        self.deadline = now + limits.header_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._header_budget -= len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.request
        assert request is not None
        budget = self._header_budget = self._header_budget - len(name) - len(value) - 4
        if budget < 0:
            self._reject(431, f"request headers exceed the limit of {self.state.limits.max_header_bytes} bytes",
                         code="request_header_fields_too_large")
            raise httptools.HttpParserError("headers too large")  # stop parsing this connection
        name = name.lower()
        request.headers.append((name, value))
        if name == b"content-type":
            request.content_type = value
        elif name == b"content-length":
            request.content_length = int(value) if value.isdigit() else -1
        elif name == b"authorization":
            request.authorization = value
        elif name == b"x-request-id":
            request.request_id = value
        elif name == b"traceparent":
            request.traceparent = value
        elif name == b"expect":
            request.expect_continue = value.lower() == b"100-continue"
        elif name == b"upgrade" and not self.busy and value.lower() == b"h2c":
            self.busy = self._upgrading = True  # on_message_complete holds it; the upgrade hands it to HTTP/2

    def on_headers_complete(self) -> None:
        request = self.request
        assert request is not None and self.transport is not None
        request.method = self.parser.get_method()
        request.path = bytes(self._url)
        request.keep_alive = self.parser.should_keep_alive()
        self.phase = _BODY
        # The body may take longer than headers (a large prompt on a slow link), but not forever.
        self.deadline = time.perf_counter() + max(self.state.limits.idle_timeout, self.state.limits.header_timeout)
        limit = self.state.limits.max_body_bytes
        if request.content_length > limit:
            request.too_large = True
            if request.expect_continue:  # the client waits for our word: refuse before it sends the body
                self._reject(413, f"request body exceeds the limit of {limit} bytes", code="request_too_large")
        elif request.expect_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self.request
        assert request is not None
        if request.too_large:
            return
        request.body += body
        if len(request.body) > self.state.limits.max_body_bytes:
            request.too_large = True
            request.body = bytearray()

    def on_message_complete(self) -> None:
        request, self.request = self.request, None
        assert request is not None
        self.phase = _BUSY
        self.deadline = 0.0
        if self.busy:
            if self._upgrading and not self.parser.should_upgrade():
                self._upgrading = self.busy = False  # "upgrade: h2c" without "connection: upgrade": HTTP/1.1
                self._start(request)
            else:
                self.pending.append(request)
        else:
            self._start(request)

    # request lifecycle
    def _start(self, request: Request) -> None:
        self.busy = True
        self.state.active_requests += 1
        try:
            self.state.handler(request, self)
        except Exception:
            log.exception("unhandled error serving a request")
            if self.busy and not self.closed:
                self.send_error(GatewayError(500, "internal gateway error", type_="api_error"), request)
            self.request_done(request)

    def request_done(self, request: Request) -> None:
        """The response to ``request`` is complete (or abandoned): serve the next one or close."""
        if not self.busy:
            return
        self.active = None
        self.busy = False
        self.state.active_requests -= 1
        if self.closed:
            return
        if not request.keep_alive or self.state.draining or (self.read_eof and not self.pending):
            self.close()
        elif self.pending:
            # Pipelined requests: next turn of the loop, not recursion.
            asyncio.get_running_loop().call_soon(self._start_pending)
        elif self.request is None:
            self.phase = _IDLE
            self.deadline = time.perf_counter() + self.state.limits.idle_timeout

    def _start_pending(self) -> None:
        if self.pending and not self.busy and not self.closed:
            self._start(self.pending.popleft())

    # ClientChannel
    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def head(self, status: int, content_type: bytes, extra: bytes, request: Request, length: int | None) -> bytes:
        """Response status line and headers; ``length`` None means chunked."""
        framing = b"transfer-encoding: chunked\r\n" if length is None else b"content-length: %d\r\n" % length
        closing = b"connection: close\r\n" if (not request.keep_alive or self.state.draining) else b""
        return b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\n%sx-request-id: %s\r\n%s%s\r\n" % (
            status, reason(status), content_type, framing, request.request_id, extra, closing)

    def send(self, status: int, body: bytes, request: Request, content_type: bytes = b"application/json",
             extra: bytes = b"") -> None:
        self.write(self.head(status, content_type, extra, request, len(body)) + body)

    def send_error(self, error: GatewayError, request: Request, extra: bytes = b"") -> None:
        if (error.status == 429 or error.status == 503) and b"retry-after:" not in extra:
            extra += b"retry-after: %d\r\n" % error.retry_after
        self.send(error.status, error.body(), request, extra=extra)

    def start_stream(self, status: int, content_type: bytes, extra: bytes, request: Request) -> None:
        self.write(self.head(status, content_type, extra, request, None))

    def write_chunk(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self.write(b"0\r\n\r\n")

    def _reject(self, status: int, message: str, code: str | None = None) -> None:
        """Answer a request we could not even parse (or that broke a limit), then close."""
        if self.transport is not None and not self.closed:
            body = error_body(message, "invalid_request_error", None, code)
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                                 b"connection: close\r\n\r\n%s" % (status, reason(status), len(body), body))
        self.close()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def close_if_idle(self) -> None:
        if not self.busy and self.request is None:
            self.close()
