"""The inbound HTTP/1.1 server: an asyncio protocol parsed by httptools.

One connection object per client socket. Requests are handed to the gateway one
at a time (pipelined ones wait their turn); responses are written straight to the
transport. Back-pressure from a slow client pauses the upstream it reads from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import httptools

from .errors import GatewayError, error_body, reason

log = logging.getLogger("tokenway.http")


class Request:
    __slots__ = ("body", "content_length", "content_type", "expect_continue", "headers", "keep_alive", "method",
                 "path", "request_id", "started", "too_large", "traceparent")

    def __init__(self, started: float) -> None:
        self.started = started
        self.method = b""
        self.path = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.content_type = b""
        self.content_length = -1
        self.request_id = b""
        self.traceparent = b""
        self.expect_continue = False
        self.keep_alive = True
        self.too_large = False

    def header_map(self) -> dict[str, str]:
        return {name.decode("latin-1"): value.decode("latin-1") for name, value in self.headers}


class FlowControlled(Protocol):
    """What a connection needs from the handler of its current request."""

    def client_gone(self) -> None: ...
    def pause_upstream(self) -> None: ...
    def resume_upstream(self) -> None: ...


# Called synchronously with each complete request; it must end with conn.request_done(request),
# right away or later from callbacks (no task per request on the fast path).
Handler = Callable[[Request, "HttpConnection"], None]


class ServerState:
    """Shared by every connection of one listener: the handler, limits and the open set."""

    def __init__(self, handler: Handler, max_body_bytes: int) -> None:
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        self.connections: set[HttpConnection] = set()
        self.draining = False
        self.active_requests = 0


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
        self._url = bytearray()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        self.state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        self.pending.clear()
        if self.active is not None:
            self.active.client_gone()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._reject(400, f"malformed HTTP request: {exc}")

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.active is not None:
            self.active.pause_upstream()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.active is not None:
            self.active.resume_upstream()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.request = Request(time.perf_counter())
        self._url.clear()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.request
        assert request is not None
        name = name.lower()
        request.headers.append((name, value))
        if name == b"content-type":
            request.content_type = value
        elif name == b"content-length":
            request.content_length = int(value) if value.isdigit() else -1
        elif name == b"x-request-id":
            request.request_id = value
        elif name == b"traceparent":
            request.traceparent = value
        elif name == b"expect":
            request.expect_continue = value.lower() == b"100-continue"

    def on_headers_complete(self) -> None:
        request = self.request
        assert request is not None and self.transport is not None
        request.method = self.parser.get_method()
        request.path = bytes(self._url)
        request.keep_alive = self.parser.should_keep_alive()
        if request.content_length > self.state.max_body_bytes:
            request.too_large = True
            if request.expect_continue:  # the client waits for our word: refuse before it sends the body
                self._reject(413, f"request body exceeds the limit of {self.state.max_body_bytes} bytes")
        elif request.expect_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self.request
        assert request is not None
        if request.too_large:
            return
        request.body += body
        if len(request.body) > self.state.max_body_bytes:
            request.too_large = True
            request.body = bytearray()

    def on_message_complete(self) -> None:
        request, self.request = self.request, None
        assert request is not None
        if self.busy:
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
        if not request.keep_alive or self.state.draining:
            self.close()
        elif self.pending:
            # Pipelined requests: next turn of the loop, not recursion.
            asyncio.get_running_loop().call_soon(self._start_pending)

    def _start_pending(self) -> None:
        if self.pending and not self.busy and not self.closed:
            self._start(self.pending.popleft())

    # writing
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
        if error.status == 429 or error.status == 503:
            extra += b"retry-after: 1\r\n"
        self.send(error.status, error.body(), request, extra=extra)

    def _reject(self, status: int, message: str) -> None:
        """Answer a request we could not even parse, then close."""
        if self.transport is not None and not self.closed:
            body = error_body(message, "invalid_request_error")
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
