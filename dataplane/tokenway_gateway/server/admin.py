"""The admin listener (``tokenway gateway --admin-port P``): operations that clients must never reach.

It listens on its own port, on loopback unless ``--admin-host`` says otherwise, and never on
the public port. Routes:

* ``DELETE /admin/cache[?tenant=T][&route=R]``: drop response-cache entries of one tenant, one
  route (rule name, or ``default``), both, or all; answers ``{"invalidated": N}``. With
  ``scope: global`` caches, entries belong to no tenant: invalidate them by route or all.
* ``GET /admin/cache``: each live cache's mode, backend, entries, hit rate and counters by route.
* ``GET /healthz``.

Errors are OpenAI-format JSON, as on the public port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from urllib.parse import parse_qs

import orjson

from ..proxy.gateway import Gateway
from .channel import ClientChannel, Request
from .errors import GatewayError, bad_request
from .http import HttpConnection, ServerState

log = logging.getLogger("tokenway.admin")

CACHE_PATH = b"/admin/cache"
INVALIDATE_PARAMS = frozenset(("tenant", "route"))


class AdminServer:
    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self.state = ServerState(self.handle)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: HttpConnection(self.state), self.host, self.port)
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("admin listening on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        for conn in list(self.state.connections):
            conn.close()  # type: ignore[attr-defined]
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def handle(self, request: Request, channel: ClientChannel) -> None:
        path, _, query = request.path.partition(b"?")
        try:
            if path == CACHE_PATH:
                if request.method == b"DELETE":
                    self._invalidate(request, channel, query)
                    return
                if request.method != b"GET":
                    raise GatewayError(405, f"{request.method.decode()} is not allowed on /admin/cache; use GET "
                                       "or DELETE", code="method_not_allowed")
                channel.send(200, orjson.dumps(self.gateway.caches.describe()), request)
            elif path in (b"/healthz", b"/health"):
                channel.send(200, b'{"status":"ok"}', request)
            else:
                raise GatewayError(404, f"no admin route for {path.decode(errors='replace')}", code="not_found")
        except GatewayError as error:
            channel.send_error(error, request)
        channel.request_done(request)

    def _invalidate(self, request: Request, channel: ClientChannel, query: bytes) -> None:
        try:
            params = parse_qs(query.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(query))
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request(f"malformed query string: {exc}", code="invalid_query") from exc
        unknown = sorted(set(params) - INVALIDATE_PARAMS)
        if unknown:
            raise bad_request(f"unknown parameter(s): {', '.join(unknown)}; use tenant and/or route",
                              param=unknown[0], code="unknown_parameter")
        chosen: dict[str, str | None] = {}
        for name in INVALIDATE_PARAMS:
            values = params.get(name)
            if values is None:
                chosen[name] = None
            elif len(values) != 1 or not values[0]:
                raise bad_request(f"{name} must be given once, non-empty", param=name, code="invalid_parameter")
            else:
                chosen[name] = values[0]

        async def run() -> None:
            try:
                count = await self.gateway.caches.invalidate(chosen["tenant"], chosen["route"])
            except Exception as exc:  # a Redis that is down: say so, the caller may retry
                log.warning("cache invalidation failed: %r", exc)
                channel.send_error(GatewayError(503, f"invalidation failed: {type(exc).__name__}", type_="api_error",
                                                code="backend_unavailable"), request)
            else:
                log.info("cache invalidated: %d entries (tenant=%s, route=%s)", count,
                         "all" if chosen["tenant"] is None else "given", chosen["route"] or "all")
                channel.send(200, orjson.dumps({"invalidated": count}), request)
            channel.request_done(request)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
