"""The TLS listener: handshake, then HTTP/2 or HTTP/1.1 by ALPN, on the same handler and limits.

The plain listener needs nothing here: it serves :class:`HttpConnection`, which
hands a connection to HTTP/2 only when it starts with the prior-knowledge preface
or asks for ``Upgrade: h2c`` (see ``h2_server``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from .h2_server import H2ServerConnection
from .http import HttpConnection, ServerState
from .tls import CertificateStore, CertificateWatcher, TlsConfigError, TlsFiles, TlsStats

log = logging.getLogger("tokenway.server")


class AlpnDispatch(asyncio.Protocol):
    """First protocol of a TLS connection: replaced, once the handshake is done, by the one ALPN chose."""

    def __init__(self, state: ServerState, stats: TlsStats) -> None:
        self.state = state
        self.stats = stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        protocol: asyncio.Protocol
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            self.stats.connections_h2 += 1
            protocol = H2ServerConnection(self.state)
        else:
            self.stats.connections_h1 += 1
            protocol = HttpConnection(self.state)
        transport.set_protocol(protocol)  # type: ignore[attr-defined]
        protocol.connection_made(transport)

    def data_received(self, data: bytes) -> None:  # pragma: no cover - replaced before any data
        raise RuntimeError("AlpnDispatch received data")


class TlsListener:
    """The TLS port of a gateway: listening socket, certificate store and its file watcher.

    Files given at construction (the command line) win over the config's ``tls`` section;
    a ``tls`` section that appears in a later config starts the listener, and one that
    names other files is picked up by the watcher.
    """

    def __init__(self, state: ServerState, host: str, files: TlsFiles | None = None, port: int = 8443, *,
                 reuse_port: bool = False, poll_interval: float = 1.0) -> None:
        self.state = state
        self.host = host
        self.port = port
        self.files = files
        self.fixed = files is not None
        self.reuse_port = reuse_port
        self.poll_interval = poll_interval
        self.stats = TlsStats()
        self.store: CertificateStore | None = None
        self.watcher: CertificateWatcher | None = None
        self._server: asyncio.AbstractServer | None = None
        self._running = False
        self._starting: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.files is not None

    def configure(self, cert_file: str | None, key_file: str | None, client_ca_file: str | None,
                  port: int) -> None:
        """The config's ``tls`` section (ignored when the command line named the files)."""
        if self.fixed:
            return
        if cert_file is None or key_file is None:
            if self._server is not None:
                log.warning("the config no longer has a tls section; the TLS listener keeps serving until restart")
            return
        files = TlsFiles(cert_file, key_file, client_ca_file)
        if self._server is not None and port != self.port:
            log.warning("tls.port changed to %d; the TLS listener stays on %d until restart", port, self.port)
        if self._server is None:
            self.port = port
        self.files = files
        if self.store is not None:
            self.store.set_files(files)
        elif self._running and self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start_later())

    async def _start_later(self) -> None:
        try:
            await self.start()
        except (TlsConfigError, OSError) as exc:
            log.error("TLS listener not started: %s", exc)
        finally:
            self._starting = None

    async def start(self) -> None:
        """Load the certificate (in a thread) and listen; raises TlsConfigError or OSError."""
        self._running = True
        files = self.files
        if files is None or self._server is not None:
            return
        store = await asyncio.to_thread(CertificateStore, files, self.stats)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: AlpnDispatch(self.state, self.stats), self.host, self.port, ssl=store.listening,
            backlog=4096, reuse_port=self.reuse_port or None,
            ssl_handshake_timeout=self.state.limits.header_timeout,
        )
        self.store = store
        sock: Any = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.watcher = CertificateWatcher(store, self.poll_interval)
        self.watcher.start()
        log.info("gateway listening on https://%s:%d (h2, http/1.1%s)", self.host, self.port,
                 "; client certificates required" if files.client_ca_file else "")

    def close(self) -> None:
        """Stop accepting (drain)."""
        if self._server is not None:
            self._server.close()

    async def stop(self) -> None:
        """Stop listening and watching; the open connections are closed with the listener's others."""
        self._running = False
        if self._starting is not None:
            self._starting.cancel()
        if self.watcher is not None:
            await self.watcher.stop()
        if self._server is not None:
            self._server.close()
            self._server = None
