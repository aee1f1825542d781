"""Upstream transports behind one protocol, and pooled HTTP/1.1 keep-alive connections.

An :class:`Upstream` carries one request and feeds the response into a
:class:`ResponseSink` through callbacks. Bytes flow from the upstream socket straight
into the sink from the parser callbacks: no task, queue or copy per chunk, which is
what keeps the stream relay within microseconds of a direct connection. A
:class:`Connector` hands out upstreams for an endpoint: an idle one right away when it
can, otherwise after an asynchronous connect.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Protocol

import httptools

from ..routing.endpoints import Endpoint


class UpstreamError(Exception):
    """The upstream failed before completing a response."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # connect | reset | protocol | timeout


class ResponseSink(Protocol):
    def on_headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
    def on_body(self, data: bytes) -> None: ...
    def on_complete(self) -> None: ...
    def on_error(self, error: UpstreamError) -> None: ...


class Upstream(Protocol):
    """One request's way to an endpoint: a pooled HTTP/1.1 connection or an HTTP/2 stream."""

    endpoint: Endpoint
    got_bytes: bool  # any response byte arrived (a reused connection that got none may be stale)
    reused: bool  # an idle keep-alive connection taken from the pool

    def send(self, path: bytes, body: bytes, request_id: bytes, traceparent: bytes, sink: ResponseSink) -> None:
        """Send ``POST path`` with ``body``; the response goes to ``sink``."""

    def pause_reading(self) -> None:
        """Stop reading the response (the client is slow); the transport's flow control pushes back."""

    def resume_reading(self) -> None: ...

    def abort(self) -> None:
        """Stop now: vLLM aborts a sequence whose connection closes."""

    def finish(self) -> None:
        """The response completed: return the connection to its pool, or close it."""


class Connector(Protocol):
    def take(self, endpoint: Endpoint) -> Upstream | None:
        """An upstream ready to send now, or None when one must be connected first."""

    async def connect(self, endpoint: Endpoint, timeout: float) -> Upstream: ...

    def retain(self, urls: set[str]) -> None:
        """Close idle connections of endpoints that left the config."""

    async def aclose(self) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    __slots__ = ("_headers", "closed", "endpoint", "got_bytes", "keep_alive", "parser", "pool", "reused", "sink",
                 "transport")

    def __init__(self, endpoint: Endpoint, pool: ConnectionPool) -> None:
        self.endpoint = endpoint
        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.sink: ResponseSink | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self.closed = False
        self.keep_alive = True
        self.got_bytes = False
        self.reused = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError("protocol", f"invalid HTTP from upstream: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.sink is not None:
            self._fail(UpstreamError("reset", "upstream closed the connection before the response ended"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if self.sink is not None:
            self.sink.on_headers(self.parser.get_status_code(), self._headers)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.on_body(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.on_complete()

    # Upstream
    def send(self, path: bytes, body: bytes, request_id: bytes, traceparent: bytes, sink: ResponseSink) -> None:
        assert self.transport is not None
        endpoint = self.endpoint
        self.sink = sink
        self._headers = []
        self.got_bytes = False
        extra = endpoint.auth_header
        if traceparent:
            extra += b"traceparent: " + traceparent + b"\r\n"
        self.transport.write(
            b"POST %s%s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"x-request-id: %s\r\n%s\r\n%s" % (
                endpoint.base_path.encode(), path, endpoint.host_header, len(body), request_id, extra, body))

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        self.sink = None
        if self.transport is not None:
            self.transport.abort()

    def finish(self) -> None:
        self.pool.release(self)

    def _fail(self, error: UpstreamError) -> None:
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.on_error(error)


class ConnectionPool:
    """The HTTP/1.1 connector: idle keep-alive connections per endpoint URL."""

    def __init__(self, max_idle_per_endpoint: int = 256) -> None:
        self.max_idle = max_idle_per_endpoint
        self._idle: dict[str, deque[UpstreamConnection]] = {}
        self._ssl: ssl.SSLContext | None = None

    def take(self, endpoint: Endpoint) -> UpstreamConnection | None:
        """An idle keep-alive connection, if one is open (it may still turn out stale)."""
        idle = self._idle.get(endpoint.url)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        return None

    async def connect(self, endpoint: Endpoint, timeout: float) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        ssl_context = None
        if endpoint.scheme == "https":
            ssl_context = self._ssl = self._ssl or ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(endpoint, self), endpoint.host, endpoint.port, ssl=ssl_context,
                    server_hostname=endpoint.host if ssl_context is not None else None,
                )
        except TimeoutError as exc:
            raise UpstreamError("connect", f"connect to {endpoint.label} timed out after {timeout:g}s") from exc
        except OSError as exc:  # ssl.SSLError is an OSError too
            raise UpstreamError("connect", f"cannot connect to {endpoint.label}: {exc.strerror or exc}") from exc
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        if conn.closed or not conn.keep_alive:
            conn.abort()
            return
        idle = self._idle.get(conn.endpoint.url)
        if idle is None:
            idle = self._idle[conn.endpoint.url] = deque()
        if len(idle) >= self.max_idle:
            conn.abort()
        else:
            idle.append(conn)

    def retain(self, urls: set[str]) -> None:
        for url in list(self._idle):
            if url not in urls:
                for conn in self._idle.pop(url):
                    conn.abort()

    def use_ssl_context(self, context: ssl.SSLContext) -> None:
        """Verify HTTPS upstreams against this context (e.g. a private CA) instead of the system store."""
        self._ssl = context

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.abort()
        self._idle.clear()
