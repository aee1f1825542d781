"""Running a gateway listener: start, graceful drain, stop."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from ..api.snapshot import GatewayConfig
from ..proxy.gateway import Gateway
from .h2_server import LIMITS as H2_LIMITS
from .h2_server import TransportCollector
from .http import HttpConnection, ServerLimits, ServerState
from .listeners import TlsListener
from .tls import TlsConfigError, TlsFiles

log = logging.getLogger("tokenway.server")


class ListenError(RuntimeError):
    pass


class GatewayServer:
    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 8080, *,
                 reuse_port: bool = False, tls: TlsFiles | None = None, tls_port: int = 8443) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self.reuse_port = reuse_port
        self.state = ServerState(gateway.handle, ServerLimits())
        self._server: asyncio.Server | None = None
        # TLS port (HTTP/2 and HTTP/1.1 by ALPN): files from the command line, else the config's tls section.
        self.tls = TlsListener(self.state, host, tls, tls_port, reuse_port=reuse_port)
        gateway.metrics.registry.register(TransportCollector(tls=self.tls.stats))
        if gateway.store.current is not None:
            self._on_config(gateway.store.current)
        gateway.store.subscribe(self._on_config)

    def _on_config(self, config: GatewayConfig) -> None:
        server, limits = config.server, self.state.limits
        limits.max_body_bytes = server.max_body_bytes
        limits.max_header_bytes = server.max_header_bytes
        limits.header_timeout = server.header_timeout_seconds
        limits.idle_timeout = server.idle_timeout_seconds
        limits.max_connections = server.max_connections
        http2 = server.http2  # every HTTP/2 connection of the process reads these (new connections: all of them)
        H2_LIMITS.max_concurrent_streams = http2.max_concurrent_streams
        H2_LIMITS.max_resets = http2.max_resets
        H2_LIMITS.reset_window = http2.reset_window_seconds
        if config.tls is not None:
            tls = config.tls
            self.tls.configure(tls.cert_file, tls.key_file, tls.client_ca_file, tls.port)

    async def start(self) -> None:
        """Listen; raises ListenError with a one-line reason when the address is taken or invalid."""
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: HttpConnection(self.state), self.host, self.port, backlog=4096,
                reuse_port=self.reuse_port or None,
            )
        except OSError as exc:
            raise ListenError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self.tls.start()
        except TlsConfigError as exc:
            raise ListenError(str(exc)) from exc
        except OSError as exc:
            raise ListenError(f"cannot listen on {self.host}:{self.tls.port}: {exc.strerror or exc}") from exc
        self.state.start_sweeping()
        self.gateway.start()
        log.info("gateway listening on http://%s:%d", self.host, self.port)

    async def drain(self, timeout: float) -> bool:
        """Stop accepting, let in-flight requests finish; returns True when all did in time."""
        self.gateway.draining = True
        self.state.draining = True
        if self._server is not None:
            self._server.close()
        self.tls.close()
        for conn in list(self.state.connections):
            conn.close_if_idle()
        deadline = time.monotonic() + timeout
        while self.state.active_requests > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        finished = self.state.active_requests == 0
        if not finished:
            log.warning("drain timeout after %.1fs: closing %d in-flight request(s)", timeout,
                        self.state.active_requests)
        return finished

    async def stop(self) -> None:
        await self.tls.stop()
        self.state.stop_sweeping()
        for conn in list(self.state.connections):
            conn.close()
        await self.gateway.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
