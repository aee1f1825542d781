"""HTTP/2 with prior knowledge (h2c) to upstreams that speak it, through httpx.

An :class:`H2Exchange` is one HTTP/2 stream behind the same :class:`Upstream` protocol
as a pooled HTTP/1.1 connection, so the call relays, retries and cancels it the same
way. httpx multiplexes the streams of an endpoint over one connection. This path costs
a task per request; the HTTP/1.1 path stays the fast one.

Back-pressure: while the client is slow the exchange stops pulling from httpx. httpcore
acknowledges a stream's DATA (returns flow-control window) only as the body is read, so
the upstream stops sending once the stream's window (64 KiB) is full: the gateway never
buffers more than that per stream.
"""

from __future__ import annotations

import asyncio

import httpx

from ..routing.endpoints import Endpoint
from .upstream import ResponseSink, UpstreamError


class H2Connector:
    """One shared httpx client for every h2c endpoint (it keeps a connection per origin)."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(http1=False, http2=True, timeout=httpx.Timeout(None, connect=10.0),
                                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=64))
        return self._client

    def take(self, endpoint: Endpoint) -> H2Exchange:
        return H2Exchange(endpoint, self)

    async def connect(self, endpoint: Endpoint, timeout: float) -> H2Exchange:
        return H2Exchange(endpoint, self)

    def retain(self, urls: set[str]) -> None:
        """httpx closes idle connections itself."""

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class H2Exchange:
    def __init__(self, endpoint: Endpoint, connector: H2Connector) -> None:
        self.endpoint = endpoint
        self.connector = connector
        self.closed = False
        self.got_bytes = False
        self.reused = False
        self._completing = False
        self._task: asyncio.Task[None] | None = None
        self._readable = asyncio.Event()
        self._readable.set()

    def send(self, path: bytes, body: bytes, request_id: bytes, traceparent: bytes, sink: ResponseSink) -> None:
        endpoint = self.endpoint
        url = f"http://{endpoint.host}:{endpoint.port}{endpoint.base_path}{path.decode()}"
        headers = {"content-type": "application/json", "x-request-id": request_id.decode()}
        if endpoint.api_key:
            headers["authorization"] = f"Bearer {endpoint.api_key}"
        if traceparent:
            headers["traceparent"] = traceparent.decode()
        self._task = asyncio.get_running_loop().create_task(self._run(url, body, headers, sink))

    async def _run(self, url: str, body: bytes, headers: dict[str, str], sink: ResponseSink) -> None:
        try:
            async with self.connector.client().stream("POST", url, content=body, headers=headers) as response:
                self.got_bytes = True
                sink.on_headers(response.status_code, [(k.lower(), v) for k, v in response.headers.raw])
                async for chunk in response.aiter_raw():
                    if self.closed:
                        return
                    sink.on_body(chunk)
                    if not self._readable.is_set():
                        await self._readable.wait()
            self._completing = True
            sink.on_complete()
        except httpx.ConnectError as exc:
            self.closed = True
            sink.on_error(UpstreamError("connect", f"cannot connect to {self.endpoint.label}: {exc}"))
        except (httpx.TransportError, httpx.StreamError) as exc:
            self.closed = True
            sink.on_error(UpstreamError("reset", f"HTTP/2 stream to {self.endpoint.label} failed: {exc}"))

    def pause_reading(self) -> None:
        self._readable.clear()

    def resume_reading(self) -> None:
        self._readable.set()

    def abort(self) -> None:
        self.closed = True
        self._readable.set()
        if self._task is not None and not self._completing and not self._task.done():
            self._task.cancel()

    def finish(self) -> None:
        self.closed = True
