"""Pooled HTTP/1.1 keep-alive connections to upstreams, parsed with httptools.

Bytes flow from the upstream socket straight into a :class:`ResponseSink` through
parser callbacks: no task, queue or copy per chunk, which is what keeps the stream
relay within microseconds of a direct connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import TYPE_CHECKING, Protocol

import httptools

from ..routing.endpoints import Endpoint

if TYPE_CHECKING:
    from .h2 import H2Exchange


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


class UpstreamConnection(asyncio.Protocol):
    __slots__ = ("_headers", "closed", "endpoint", "got_bytes", "keep_alive", "parser", "sink", "transport")

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.sink: ResponseSink | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self.closed = False
        self.keep_alive = True
        self.got_bytes = False

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

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

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

    # use
    def send(self, data: bytes, sink: ResponseSink) -> None:
        assert self.transport is not None
        self.sink = sink
        self._headers = []
        self.got_bytes = False
        self.transport.write(data)

    def detach(self) -> None:
        self.sink = None

    def abort(self) -> None:
        self.closed = True
        self.sink = None
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: UpstreamError) -> None:
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.on_error(error)


class ConnectionPool:
    """Idle keep-alive connections per endpoint URL."""

    def __init__(self, max_idle_per_endpoint: int = 256) -> None:
        self.max_idle = max_idle_per_endpoint
        self._idle: dict[str, deque[UpstreamConnection]] = {}
        self._ssl: ssl.SSLContext | None = None

    def take_idle(self, endpoint: Endpoint) -> UpstreamConnection | None:
        """An idle keep-alive connection, if one is open (it may still turn out stale)."""
        idle = self._idle.get(endpoint.url)
        while idle:
            conn = idle.pop()
            if not conn.closed:
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
                    lambda: UpstreamConnection(endpoint), endpoint.host, endpoint.port, ssl=ssl_context
                )
        except TimeoutError as exc:
            raise UpstreamError("connect", f"connect to {endpoint.label} timed out after {timeout:g}s") from exc
        except OSError as exc:
            raise UpstreamError("connect", f"cannot connect to {endpoint.label}: {exc.strerror or exc}") from exc
        return conn

    def release(self, conn: UpstreamConnection | H2Exchange) -> None:
        if conn.closed or not conn.keep_alive or not isinstance(conn, UpstreamConnection):
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
        """Close idle connections of endpoints that left the config."""
        for url in list(self._idle):
            if url not in urls:
                for conn in self._idle.pop(url):
                    conn.abort()

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.abort()
        self._idle.clear()
