"""HTTP/2 with prior knowledge (h2c) to upstreams that speak it, through httpx.

An :class:`H2Exchange` is one HTTP/2 stream that feeds the same ResponseSink
callbacks as a pooled HTTP/1.1 connection, so ProxyCall relays, retries and
cancels it the same way. httpx multiplexes the streams of an endpoint over one
connection. This path costs a task per request; the HTTP/1.1 path stays the fast one.
"""

from __future__ import annotations

import asyncio

import httpx

from ..routing.endpoints import Endpoint
from .upstream import ResponseSink, UpstreamError


class H2Clients:
    """One shared httpx client for every h2c endpoint (it keeps a connection per origin)."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(http1=False, http2=True, timeout=httpx.Timeout(None, connect=10.0),
                                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=64))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class H2Exchange:
    """Looks like an UpstreamConnection to ProxyCall; never returned to the HTTP/1.1 pool."""

    keep_alive = False

    def __init__(self, endpoint: Endpoint, clients: H2Clients) -> None:
        self.endpoint = endpoint
        self.clients = clients
        self.closed = False
        self.got_bytes = False
        self._completing = False
        self._task: asyncio.Task[None] | None = None

    def start(self, path: bytes, body: bytes, headers: dict[str, str], sink: ResponseSink) -> None:
        url = f"http://{self.endpoint.host}:{self.endpoint.port}{self.endpoint.base_path}{path.decode()}"
        self._task = asyncio.get_running_loop().create_task(self._run(url, body, headers, sink))

    async def _run(self, url: str, body: bytes, headers: dict[str, str], sink: ResponseSink) -> None:
        try:
            async with self.clients.client().stream("POST", url, content=body, headers=headers) as response:
                self.got_bytes = True
                sink.on_headers(response.status_code, [(k.lower(), v) for k, v in response.headers.raw])
                async for chunk in response.aiter_raw():
                    if self.closed:
                        return
                    sink.on_body(chunk)
            self._completing = True
            sink.on_complete()
        except httpx.ConnectError as exc:
            self.closed = True
            sink.on_error(UpstreamError("connect", f"cannot connect to {self.endpoint.label}: {exc}"))
        except (httpx.TransportError, httpx.StreamError) as exc:
            self.closed = True
            sink.on_error(UpstreamError("reset", f"HTTP/2 stream to {self.endpoint.label} failed: {exc}"))

    def abort(self) -> None:
        self.closed = True
        if self._task is not None and not self._completing and not self._task.done():
            self._task.cancel()

    def pause_reading(self) -> None:
        """HTTP/2 has its own flow-control windows; nothing to do."""

    def resume_reading(self) -> None:
        """See pause_reading."""
