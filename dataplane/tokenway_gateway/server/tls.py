"""Client-facing TLS: the server SSLContext, ALPN, optional mTLS, and certificate rotation.

One :class:`CertificateStore` per TLS listener holds the current context. The
listening socket keeps the context it was created with; its servername callback
(which OpenSSL runs on every ClientHello, with or without SNI) moves each new
handshake onto the store's current context. Rotation therefore builds a fresh
context from the files (``load_cert_chain`` on a new SSLContext) and swaps one
reference: new connections get the new certificate, live ones keep theirs.

:class:`CertificateWatcher` polls the files' identity (device, inode, size,
mtime, after following symlinks), so the kubelet's atomic symlink swap of a
mounted Secret (what cert-manager's renewals end in) is seen within a poll
interval. Reading and parsing the files runs in a thread, never on the loop; a
half-written or mismatched pair is refused and retried, and the old certificate
keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass

from ..aio import cancel_and_wait

log = logging.getLogger("tokenway.tls")

ALPN_PROTOCOLS = ["h2", "http/1.1"]
# TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all of that already).
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class TlsConfigError(RuntimeError):
    """The certificate, key or client CA cannot be loaded (one line, for the operator's log)."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the listener's certificate chain, key and (for mTLS) client CA bundle live."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None

    def paths(self) -> tuple[str, ...]:
        return (self.cert_file, self.key_file) + ((self.client_ca_file,) if self.client_ca_file else ())


def build_server_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context: TLS 1.2+, modern ciphers, ALPN h2 then http/1.1, client certs if a CA is given.

    Reads files: call it from a thread when the loop is running.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_SINGLE_ECDH_USE
    ctx.set_alpn_protocols(ALPN_PROTOCOLS)
    try:
        ctx.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"cannot load TLS certificate {files.cert_file} with key {files.key_file}: "
                             f"{_reason(exc)}") from exc
    if files.client_ca_file:
        try:
            ctx.load_verify_locations(cafile=files.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"cannot load client CA bundle {files.client_ca_file}: {_reason(exc)}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED  # no certificate, or one the CA did not sign: handshake refused
    return ctx


def _reason(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


FileIdentity = tuple[tuple[int, int, int, int], ...]


def file_identity(paths: tuple[str, ...]) -> FileIdentity:
    """What changes when any file is rewritten or a symlink is swapped (stat follows links)."""
    out = []
    for path in paths:
        st = os.stat(path)
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


class TlsStats:
    """Counters for /metrics: certificate reloads and TLS connections by negotiated protocol."""

    __slots__ = ("connections_h1", "connections_h2", "reload_failures", "reloads")

    def __init__(self) -> None:
        self.reloads = 0
        self.reload_failures = 0
        self.connections_h2 = 0
        self.connections_h1 = 0


class CertificateStore:
    """The current server context of one listener, and the callback that hands it to new handshakes."""

    def __init__(self, files: TlsFiles, stats: TlsStats | None = None) -> None:
        self.files = files
        self.stats = stats or TlsStats()
        self.identity: FileIdentity = file_identity(files.paths()) if _all_exist(files) else ()
        self.current = self._prepare(build_server_context(files))
        self.listening = self.current  # the context the socket was created with

    def _prepare(self, ctx: ssl.SSLContext) -> ssl.SSLContext:
        ctx.sni_callback = self._select
        return ctx

    def _select(self, sslobj: ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext) -> None:
        current = self.current
        if sslobj.context is not current:
            sslobj.context = current

    def set_files(self, files: TlsFiles) -> None:
        """New paths (from a config change): the next check loads them."""
        if files != self.files:
            self.files = files
            self.identity = ()

    def check(self) -> ssl.SSLContext | None:
        """Build a new context if the files changed since the last good load (blocking: run in a thread).

        Returns the new context, or None when nothing changed or the new files do not load
        (then the current context keeps serving and the next check tries again).
        """
        files = self.files
        try:
            identity = file_identity(files.paths())
        except OSError:
            return None  # a file is missing for a moment (mid-swap): keep serving, look again
        if identity == self.identity:
            return None
        try:
            ctx = build_server_context(files)
        except TlsConfigError as exc:
            self.stats.reload_failures += 1
            log.warning("certificate change not applied, keeping the current one: %s", exc)
            self.identity = identity  # retried once the files change again
            return None
        self.identity = identity
        return self._prepare(ctx)

    def install(self, ctx: ssl.SSLContext) -> None:
        """Swap in a context built by :meth:`check` (on the loop; new handshakes use it at once)."""
        self.current = ctx
        self.stats.reloads += 1
        log.info("TLS certificate reloaded from %s", self.files.cert_file)


def _all_exist(files: TlsFiles) -> bool:
    return all(os.path.exists(p) for p in files.paths())


class CertificateWatcher:
    """Polls a store's files and installs a new context when they change."""

    def __init__(self, store: CertificateStore, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def check_now(self) -> bool:
        """One check; True when a new certificate was installed."""
        ctx = await asyncio.to_thread(self.store.check)
        if ctx is None:
            return False
        self.store.install(ctx)
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check_now()
            except Exception:  # never let the watcher die: the next poll tries again
                log.exception("certificate check failed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
