"""HTTP/2 from clients: one asyncio protocol per connection, one :class:`ClientChannel` per stream.

Reached three ways: ALPN ``h2`` on the TLS listener, the prior-knowledge preface
(``PRI * HTTP/2.0``) as the first bytes on either listener, and an ``Upgrade: h2c``
request on the plain port (both handed over by the HTTP/1.1 protocol, see
:func:`take_over_prior_knowledge` and :func:`take_over_upgrade`). Each stream
becomes a :class:`Request` exactly like an HTTP/1.1 request and goes to the same
handler, so every stream runs the same stage chain. Frames are parsed by the
``h2`` library; frames queued while a read is handled go out in one write at its end,
and chunks relayed from upstream callbacks in one turn of the event loop share one write.

Flow control both ways:

- responses: a stream sends what its and the connection's send windows allow and
  queues the rest; once more than ``send_high_water`` bytes wait, the stream's
  ``write_paused`` is set and its upstream paused (``active.pause_upstream()``),
  until the client's WINDOW_UPDATEs drain it below ``send_low_water``. Other
  streams keep flowing. A full socket pauses every stream's upstream.
- requests: bodies are capped at ``max_body_bytes`` (413 at once, then
  RST_STREAM NO_ERROR). A stream's receive window (``stream_window``) is reopened
  only while this connection holds fewer than ``receive_budget`` bytes of request
  bodies; the oldest incomplete stream's always is, and the connection window
  always is, so a full budget slows a client down but never deadlocks it. What one
  connection can make the gateway hold is thus bounded by ``receive_budget`` +
  ``max_body_bytes`` + ``max_concurrent_streams`` x ``stream_window``.

Limits: ``max_concurrent_streams`` (SETTINGS; a client that exceeds it gets
GOAWAY), the header-list size (SETTINGS_MAX_HEADER_LIST_SIZE = the listener's
``max_header_bytes``, enforced by the HPACK decoder), request-body and idle
deadlines swept by the listener's once-a-second sweep. Rapid reset (CVE-2023-44487):
streams the client resets before their response completed are counted per
connection; past ``max_resets`` within ``reset_window`` seconds the connection is
closed with GOAWAY ENHANCE_YOUR_CALM and ``H2Stats.rapid_reset_closes`` counts it.
Streams opened and reset within one read are never handed to the handler at all.
Any protocol violation (malformed frames, oversized headers, a bad preface) ends
the connection with GOAWAY and the matching error code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import H2Error, ProtocolError
from h2.settings import SettingCodes, Settings
from hpack.table import HeaderTable
from prometheus_client.core import CounterMetricFamily, Metric

from ..api.snapshot import Http2Settings
from .channel import FlowControlled, Request
from .errors import GatewayError

if TYPE_CHECKING:
    from .http import HttpConnection, ServerState

log = logging.getLogger("tokenway.h2")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_PREFACE_HEAD = PREFACE[:18]
_CONNECTION_HEADERS = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                                 b"upgrade"))
# Header validation is ours (:meth:`H2ServerConnection._request`, the same rules in one pass); h2's own,
# a chain of generators per header, cost more than the rest of a request's HTTP/2 handling.
_CONFIG = H2Configuration(client_side=False, header_encoding=None, validate_outbound_headers=False,
                          normalize_outbound_headers=False, validate_inbound_headers=False,
                          normalize_inbound_headers=False)
_STATUS = {code: b"%d" % code for code in range(100, 600)}
_BAD_PATH = re.compile(rb"[\x00-\x20\x7f]")  # would break the upstream request line
_PSEUDO = frozenset((b":method", b":path", b":scheme", b":authority"))
_FRAME_HEAD = struct.Struct(">HBBBL")  # 24-bit length as 16 + 8 bits, type, flags, stream id


class Malformed(Exception):
    """A request HEADERS block that RFC 9113 8.2/8.3 calls malformed: a stream error, not the connection's."""


def _hpack_int(value: int, prefix_bits: int, flags: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _hpack_str(value: bytes) -> bytes:
    return _hpack_int(len(value), 7, 0) + value


_STATIC_NAMES: dict[bytes, int] = {}
_STATIC_PAIRS: dict[tuple[bytes, bytes], int] = {}
for _index, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, start=1):
    _STATIC_NAMES.setdefault(_name, _index)
    _STATIC_PAIRS.setdefault((_name, _value), _index)
_NAME_PREFIX = {name: _hpack_int(index, 4, 0) for name, index in _STATIC_NAMES.items()}


class StatelessEncoder:
    """HPACK for responses without the dynamic table: static-table matches, else literals never indexed.

    hpack's Encoder searches and updates the dynamic table for every field; the gateway's
    response headers are few and mostly unique per response (request id, overhead), so
    indexing them buys little and costs much. The first block (and the first after the
    client changes SETTINGS_HEADER_TABLE_SIZE) starts with a table size update to 0, so the
    client's decoder holds no state for us (RFC 7541 4.2, 6.2.2, 6.3). Stands in for
    ``H2Connection.encoder``, which h2 calls as ``encode(headers)``.
    """

    def __init__(self) -> None:
        self._announce = True
        self._cache: dict[tuple[bytes, bytes], bytes] = {}

    @property
    def header_table_size(self) -> int:
        return 0

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._announce = True

    def encode(self, headers: list[tuple[bytes, bytes]], huffman: bool = True) -> bytes:
        parts = [b"\x20"] if self._announce else []
        self._announce = False
        cache = self._cache
        for field in headers:
            encoded = cache.get(field)
            if encoded is None:
                name, value = field
                index = _STATIC_PAIRS.get(field)
                if index is not None:
                    encoded = _hpack_int(index, 7, 0x80)
                else:
                    prefix = _NAME_PREFIX.get(name)
                    encoded = (prefix if prefix is not None else b"\x00" + _hpack_str(name)) + _hpack_str(value)
                if len(cache) < 512 and len(value) < 64 and name != b"x-request-id":
                    cache[field] = encoded  # status, content types, pool and endpoint names repeat
            parts.append(encoded)
        return b"".join(parts)


_HTTP2 = Http2Settings()  # the configurable limits' defaults live in the API model


class H2Limits:
    """Per-connection HTTP/2 limits (shared by every connection of a process; defaults follow nginx/HAProxy).

    ``server.http2`` in the config sets the stream and rapid-reset limits (GatewayServer applies them)."""

    __slots__ = ("connection_window", "max_concurrent_streams", "max_resets", "receive_budget", "reset_window",
                 "send_high_water", "send_low_water", "stream_window")

    def __init__(self, max_concurrent_streams: int = _HTTP2.max_concurrent_streams, stream_window: int = 128 * 1024,
                 connection_window: int = 1024 * 1024, receive_budget: int = 0, send_high_water: int = 64 * 1024,
                 send_low_water: int = 16 * 1024, max_resets: int = _HTTP2.max_resets,
                 reset_window: float = _HTTP2.reset_window_seconds) -> None:
        self.max_concurrent_streams = max_concurrent_streams
        self.stream_window = stream_window  # SETTINGS_INITIAL_WINDOW_SIZE for request bodies
        self.connection_window = connection_window
        self.receive_budget = receive_budget  # request-body bytes held per connection; 0: 2x max_body_bytes
        self.send_high_water = send_high_water  # queued response bytes per stream that pause its upstream
        self.send_low_water = send_low_water
        self.max_resets = max_resets  # client resets of unfinished streams per window before GOAWAY
        self.reset_window = reset_window


class H2Stats:
    """Process-wide HTTP/2 counters (exported by :class:`TransportCollector`)."""

    __slots__ = ("client_resets", "connections", "malformed_requests", "protocol_errors", "rapid_reset_closes",
                 "streams")

    def __init__(self) -> None:
        self.connections = 0
        self.streams = 0
        self.client_resets = 0  # RST_STREAM from clients on streams whose response was not complete
        self.rapid_reset_closes = 0  # connections closed by the rapid-reset bound
        self.protocol_errors = 0  # connections ended with GOAWAY for bad input
        self.malformed_requests = 0  # streams reset for malformed request headers


LIMITS = H2Limits()
STATS = H2Stats()


def _head(status: int, content_type: bytes, request: Request, extra: bytes) -> list[tuple[bytes, bytes]]:
    headers = [(b":status", _STATUS.get(status) or b"%d" % status), (b"content-type", content_type)]
    if request.request_id:
        headers.append((b"x-request-id", request.request_id))
    if extra:
        for line in extra.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if sep:
                name = name.strip().lower()
                if name and name not in _CONNECTION_HEADERS:
                    headers.append((name, value.strip()))
    return headers


class H2Stream:
    """One stream: the request being received, then the :class:`ClientChannel` of its response."""

    __slots__ = ("active", "body_held", "buffered", "closed", "conn", "deadline", "dispatched", "end_pending",
                 "flow_paused", "h2_stream", "handled", "head_sent", "local_done", "pending", "remote_done",
                 "request", "stream_id", "unacked", "write_paused")

    def __init__(self, conn: H2ServerConnection, stream_id: int, request: Request) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.request = request
        self.h2_stream: Any = conn.h2.streams.get(stream_id)  # h2's state of it: windows for the fast path
        self.active: FlowControlled | None = None
        self.closed = False  # nothing more can be sent: reset, connection gone, or response complete
        self.write_paused = False
        self.flow_paused = False  # this stream's own queue is over the high-water mark
        self.pending: deque[bytes] = deque()
        self.buffered = 0
        self.end_pending = False
        self.head_sent = False
        self.local_done = False  # our END_STREAM has been handed to h2
        self.remote_done = False  # the client's END_STREAM arrived
        self.dispatched = False
        self.handled = False
        self.body_held = 0  # request-body bytes counted against the connection's receive budget
        self.unacked = 0  # received bytes not yet handed back to the stream's window
        self.deadline = 0.0

    @property
    def max_body_bytes(self) -> int:
        return self.conn.state.limits.max_body_bytes

    # ClientChannel
    def send(self, status: int, body: bytes, request: Request, content_type: bytes = b"application/json",
             extra: bytes = b"") -> None:
        if self.closed or self.head_sent:
            return
        headers = _head(status, content_type, request, extra)
        headers.append((b"content-length", b"%d" % len(body)))
        conn = self.conn
        if not body or request.method == b"HEAD":
            conn.send_headers(self, headers, True)
            return
        batching = conn._in_receive
        conn._in_receive = True  # HEADERS and DATA in one write
        try:
            conn.send_headers(self, headers, False)
            conn.write(self, body, True)
        finally:
            conn._in_receive = batching
        if not batching:
            conn._dirty()

    def send_error(self, error: GatewayError, request: Request, extra: bytes = b"") -> None:
        if (error.status == 429 or error.status == 503) and b"retry-after:" not in extra:
            extra += b"retry-after: %d\r\n" % error.retry_after
        self.send(error.status, error.body(), request, extra=extra)

    def start_stream(self, status: int, content_type: bytes, extra: bytes, request: Request) -> None:
        if self.closed or self.head_sent:
            return
        self.conn.send_headers(self, _head(status, content_type, request, extra), False)

    def write_chunk(self, data: bytes) -> None:
        if data and not self.closed and not self.end_pending:
            self.conn.write(self, data, False)

    def end_stream(self) -> None:
        if not self.closed and not self.end_pending:
            self.conn.write(self, b"", True)

    def request_done(self, request: Request) -> None:
        if self.handled:
            return
        self.handled = True
        self.active = None
        self.conn.request_finished(self)


class H2ServerConnection(asyncio.Protocol):
    """An HTTP/2 connection from a client (server side)."""

    def __init__(self, state: ServerState, limits: H2Limits = LIMITS, stats: H2Stats = STATS) -> None:
        self.state = state
        self.limits = limits
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.h2 = H2Connection(_CONFIG)
        self.h2.encoder = StatelessEncoder()  # type: ignore[assignment]
        self.streams: dict[int, H2Stream] = {}
        self.closed = False
        self.deadline = 0.0
        self.draining = False  # close (GOAWAY) as soon as no stream is open
        self.transport_paused = False
        self.body_held = 0
        self._conn_unacked = 0
        self._receiving: dict[int, H2Stream] = {}  # streams whose request is incomplete, oldest first
        self._blocked: set[H2Stream] = set()  # streams waiting for send window
        self._out: list[bytes] = []  # frames framed here, in order after what h2 had queued before them
        self._in_receive = False  # frames queued now are written once the read (or response) is handled
        self._flush_handle: asyncio.Handle | None = None
        self._resets = 0
        self._resets_until = 0.0
        self._upgrade: tuple[Request, int] | None = None  # an h2c Upgrade waiting for its body

    # ---- starting ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """A new connection that negotiated h2 (ALPN)."""
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        if not self.state.admit():
            self.closed = True
            transport.close()
            return
        self.state.connections.add(self)
        self._start()

    def _adopt(self, previous: HttpConnection, transport: asyncio.Transport) -> None:
        """Take the socket over from the HTTP/1.1 protocol that has served it so far (already admitted)."""
        self.transport = transport
        self.state.connections.discard(previous)
        self.state.connections.add(self)
        previous.closed = True  # the HTTP/1.1 side must never write again
        transport.set_protocol(self)

    def _start(self, upgrade_settings: bytes | None = None) -> None:
        """Our SETTINGS and window; with ``upgrade_settings`` (an h2c Upgrade) stream 1 is the upgraded request.

        Raises h2's errors (or ValueError) for a malformed HTTP2-Settings header.
        """
        limits, server = self.limits, self.state.limits
        self.h2.local_settings = Settings(client=False, initial_values={
            SettingCodes.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
            SettingCodes.INITIAL_WINDOW_SIZE: limits.stream_window,
            SettingCodes.MAX_HEADER_LIST_SIZE: server.max_header_bytes,
        })
        # Enforced from the first HEADERS frame, not only once the client acknowledges the setting.
        self.h2.decoder.max_header_list_size = server.max_header_bytes
        if upgrade_settings is None:
            self.h2.initiate_connection()
        else:
            self.h2.initiate_upgrade_connection(upgrade_settings)
        self.stats.connections += 1
        if limits.connection_window > 65535:
            self.h2.increment_flow_control_window(limits.connection_window - 65535)
        self.deadline = time.perf_counter() + server.header_timeout
        self._flush()

    # ---- asyncio.Protocol ---------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self._upgrade is not None:
            data = self._upgrade_body(data)
            if not data:
                return
        self._in_receive = True
        try:
            events = self.h2.receive_data(data)
        except ProtocolError as exc:
            self._in_receive = False
            self._protocol_error(exc)
            return
        except Exception:  # h2 or hpack failing on input: still the client's fault, never ours to crash on
            self._in_receive = False
            log.debug("HTTP/2 input broke the parser", exc_info=True)
            self._fail(ErrorCodes.PROTOCOL_ERROR)
            return
        try:
            self._handle(events)
        finally:
            self._in_receive = False
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for stream in list(self.streams.values()):
            stream.closed = True
            if stream.active is not None:
                stream.active.client_gone()
        self.streams.clear()
        self._receiving.clear()
        self._blocked.clear()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def pause_writing(self) -> None:
        self.transport_paused = True
        for stream in list(self.streams.values()):
            self._set_paused(stream)

    def resume_writing(self) -> None:
        self.transport_paused = False
        for stream in list(self.streams.values()):
            self._set_paused(stream)

    # ---- incoming events ------------------------------------------------------------------
    def _handle(self, events: list[Event]) -> None:
        ready: list[H2Stream] = []
        for event in events:
            if self.closed:
                return
            if isinstance(event, DataReceived):
                self._on_data(event)
            elif isinstance(event, RequestReceived):
                self._on_request(event)
            elif isinstance(event, StreamEnded):
                stream = self._receiving.pop(event.stream_id, None)
                if stream is not None:
                    stream.remote_done = True
                    ready.append(stream)
                    if self.body_held and self._receiving:
                        self._give_back_window()  # another stream may be the oldest now
                elif (stream := self.streams.get(event.stream_id)) is not None:
                    stream.remote_done = True
                    self._forget_if_done(stream)
            elif isinstance(event, WindowUpdated):
                self._on_window(event.stream_id)
            elif isinstance(event, StreamReset):
                self._on_reset(event)
            elif isinstance(event, RemoteSettingsChanged):
                if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                    self._on_window(0)
            elif isinstance(event, ConnectionTerminated):
                self._on_goaway()
                return
        # Dispatch after the whole read: a stream opened and reset in the same read never reaches the handler.
        for stream in ready:
            if not stream.closed and not self.closed:
                self._dispatch(stream)
        if ready or self.streams:
            self._update_deadline()

    def _on_request(self, event: RequestReceived) -> None:
        stream_id = event.stream_id
        self.stats.streams += 1
        try:
            request = self._request(event.headers or ())
        except Malformed as exc:
            log.debug("malformed HTTP/2 request: %s", exc)
            self.stats.malformed_requests += 1
            with contextlib.suppress(H2Error):
                self.h2.reset_stream(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        stream = H2Stream(self, stream_id, request)
        self.streams[stream_id] = stream
        if self.transport_paused:
            stream.write_paused = True
        # Until its END_STREAM (in this read already, for a request without a body) the stream is receiving.
        stream.deadline = time.perf_counter() + max(self.state.limits.idle_timeout, self.state.limits.header_timeout)
        self._receiving[stream_id] = stream
        if event.stream_ended is None and request.content_length > self.state.limits.max_body_bytes:
            self._too_large(stream)

    def _request(self, headers: object) -> Request:
        """The stream's :class:`Request`, checked as RFC 9113 8.2-8.3 asks; raises Malformed."""
        request = Request(time.perf_counter())
        authority = scheme = b""
        has_host = pseudo_done = False
        seen: set[bytes] = set()
        names: list[bytes] = []
        values: list[bytes] = []
        append = request.headers.append
        for name, value in headers:  # type: ignore[attr-defined]
            values.append(value)
            if name[:1] == b":":
                if pseudo_done or name not in _PSEUDO or name in seen:
                    raise Malformed(f"bad pseudo-header {name!r}")
                seen.add(name)
                if name == b":method":
                    request.method = value
                elif name == b":path":
                    request.path = value
                elif name == b":authority":
                    authority = value
                else:
                    scheme = value
                continue
            pseudo_done = True
            names.append(name)
            append((name, value))
            if name == b"content-type":
                request.content_type = value
            elif name == b"content-length":
                if not value.isdigit():
                    raise Malformed("bad content-length")
                request.content_length = int(value)
            elif name == b"authorization":
                request.authorization = value
            elif name == b"x-request-id":
                request.request_id = value
            elif name == b"traceparent":
                request.traceparent = value
            elif name == b"host":
                has_host = True
            elif name in _CONNECTION_HEADERS or (name == b"te" and value != b"trailers"):
                raise Malformed(f"connection-specific header {name!r}")
        if not request.method or not scheme or not request.path or _BAD_PATH.search(request.path):
            raise Malformed("missing or bad :method, :scheme or :path")
        joined = b"".join(names)
        if joined.lower() != joined or b":" in joined or b" " in joined or not all(names):
            raise Malformed("bad header name")
        joined = b"".join(values)
        if b"\r" in joined or b"\n" in joined or b"\x00" in joined:
            raise Malformed("CR, LF or NUL in a header")
        if authority and not has_host:
            append((b"host", authority))
        return request

    def _on_data(self, event: DataReceived) -> None:
        size = event.flow_controlled_length or 0
        if size:
            self._consumed(size)
        stream = self._receiving.get(event.stream_id)
        if stream is None:  # a stream we answered early or reset: drop the bytes
            return
        request = stream.request
        if not request.too_large:
            data = event.data or b""
            request.body += data
            stream.body_held += len(data)
            self.body_held += len(data)
            if len(request.body) > self.state.limits.max_body_bytes:
                self._too_large(stream)
                return
        if size:
            stream.unacked += size
            if stream.unacked >= self.limits.stream_window >> 1 and (
                    self.body_held <= self._budget() or stream is next(iter(self._receiving.values()))):
                self._open_stream_window(stream)

    def _consumed(self, size: int) -> None:
        """Connection-level window: always handed back (streams' own windows bound what is held)."""
        self._conn_unacked += size
        if self._conn_unacked >= self.limits.connection_window >> 2:
            self.h2.increment_flow_control_window(self._conn_unacked)
            self._conn_unacked = 0

    def _open_stream_window(self, stream: H2Stream) -> None:
        with contextlib.suppress(H2Error):
            self.h2.increment_flow_control_window(stream.unacked, stream.stream_id)
        stream.unacked = 0

    def _budget(self) -> int:
        return self.limits.receive_budget or 2 * self.state.limits.max_body_bytes

    def _give_back_window(self) -> None:
        """Open the windows held back while the connection held too much; the oldest stream always gets its."""
        budget = self._budget()
        for index, stream in enumerate(list(self._receiving.values())):
            if stream.unacked >= self.limits.stream_window >> 1 and (index == 0 or self.body_held <= budget):
                self._open_stream_window(stream)

    def _release_body(self, stream: H2Stream) -> None:
        if stream.body_held:
            self.body_held -= stream.body_held
            stream.body_held = 0
            if self._receiving:
                self._give_back_window()

    def _too_large(self, stream: H2Stream) -> None:
        """Answer 413 before the body is complete, then ask the client to stop sending (RFC 9113 8.1)."""
        request = stream.request
        request.too_large = True
        request.body = bytearray()
        self._release_body(stream)
        limit = self.state.limits.max_body_bytes
        error = GatewayError(413, f"request body exceeds the limit of {limit} bytes", code="request_too_large")
        stream.send_error(error, request)

    def _on_window(self, stream_id: int) -> None:
        if stream_id == 0:
            for blocked in list(self._blocked):
                self._drain(blocked)
        else:
            stream = self.streams.get(stream_id)
            if stream is not None and stream in self._blocked:
                self._drain(stream)

    def _on_reset(self, event: StreamReset) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is None:
            return
        premature = event.remote_reset and not stream.local_done
        self._drop(stream)
        if premature:
            self.stats.client_resets += 1
            now = time.monotonic()
            if now >= self._resets_until:
                self._resets_until = now + self.limits.reset_window
                self._resets = 0
            self._resets += 1
            if self._resets > self.limits.max_resets:
                self.stats.rapid_reset_closes += 1
                log.warning("closing an HTTP/2 connection: %d stream resets in %gs (rapid-reset bound)",
                            self._resets, self.limits.reset_window)
                self._fail(ErrorCodes.ENHANCE_YOUR_CALM)

    def _on_goaway(self) -> None:
        """The client is going away: h2 can send nothing more, so in-flight streams end here."""
        self._flush()
        self.close()

    # ---- dispatch and completion ------------------------------------------------------------
    def _dispatch(self, stream: H2Stream) -> None:
        stream.dispatched = True
        self.state.active_requests += 1
        request = stream.request
        try:
            self.state.handler(request, stream)
        except Exception:
            log.exception("unhandled error serving a request")
            if not stream.closed and not stream.head_sent:
                stream.send_error(GatewayError(500, "internal gateway error", type_="api_error"), request)
            stream.request_done(request)

    def request_finished(self, stream: H2Stream) -> None:
        if stream.dispatched:
            self.state.active_requests -= 1
        self._release_body(stream)
        if not stream.closed and not stream.local_done and not stream.end_pending:
            self._reset(stream, ErrorCodes.INTERNAL_ERROR)  # abandoned without a complete response
        else:
            self._forget_if_done(stream)

    def _forget_if_done(self, stream: H2Stream) -> None:
        if stream.local_done and (stream.handled or not stream.dispatched):
            if not stream.remote_done:
                # We answered before the request was complete (413): stop the client sending the rest.
                self._reset(stream, ErrorCodes.NO_ERROR)
                return
            self._forget(stream)

    def _forget(self, stream: H2Stream) -> None:
        if self.streams.pop(stream.stream_id, None) is None:
            return
        self._receiving.pop(stream.stream_id, None)
        self._blocked.discard(stream)
        if not self.streams:
            if self.draining or self.state.draining:
                self._goodbye(ErrorCodes.NO_ERROR)
            elif not self.closed:
                self._update_deadline()

    def _drop(self, stream: H2Stream) -> None:
        """The stream is gone (reset by either side): stop its upstream and forget it."""
        stream.closed = True
        stream.pending.clear()
        stream.buffered = 0
        self._receiving.pop(stream.stream_id, None)
        self._blocked.discard(stream)
        active = stream.active
        if active is not None:
            active.client_gone()  # ends in request_done
        elif not stream.dispatched:
            self._release_body(stream)
        self._forget(stream)

    def _reset(self, stream: H2Stream, code: ErrorCodes) -> None:
        with contextlib.suppress(H2Error):
            self.h2.reset_stream(stream.stream_id, code)
        self._drop(stream)
        self._dirty()

    # ---- writing ---------------------------------------------------------------------------
    def send_headers(self, stream: H2Stream, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        stream.head_sent = True
        try:
            self.h2.send_headers(stream.stream_id, headers, end_stream=end)
        except H2Error:
            self._reset(stream, ErrorCodes.INTERNAL_ERROR)
            return
        if end:
            self._local_end(stream)
        self._dirty()

    def write(self, stream: H2Stream, data: bytes, end: bool) -> None:
        if not end and not stream.pending:
            size = len(data)
            h2 = self.h2
            own = stream.h2_stream
            if own is not None and size <= own.outbound_flow_control_window and \
                    size <= h2.outbound_flow_control_window and size <= h2.max_outbound_frame_size:
                self._data_frame(stream, own, data)  # the streaming fast path: windows open, nothing queued
                self._dirty()
                return
        if data:
            stream.pending.append(data)
            stream.buffered += len(data)
        if end:
            stream.end_pending = True
        self._drain(stream)

    def _data_frame(self, stream: H2Stream, own: Any, data: bytes) -> None:
        """A DATA frame without END_STREAM, framed here: h2's send_data costs ten times more per chunk.

        h2 keeps the windows (both are debited exactly as its send_data would) and the stream
        state (which DATA without END_STREAM never changes); h2's queued frames go out first.
        """
        size = len(data)
        h2 = self.h2
        h2.outbound_flow_control_window -= size
        own.outbound_flow_control_window -= size
        queued = h2.data_to_send()
        out = self._out
        if queued:
            out.append(queued)
        out.append(_FRAME_HEAD.pack(size >> 8, size & 0xFF, 0, 0, stream.stream_id))
        out.append(data)

    def _drain(self, stream: H2Stream) -> None:
        """Send what the windows allow; queue the rest; pause or resume the stream's upstream."""
        h2 = self.h2
        stream_id = stream.stream_id
        pending = stream.pending
        own = stream.h2_stream
        try:
            while pending and own is not None:
                window = min(h2.outbound_flow_control_window, own.outbound_flow_control_window,
                             h2.max_outbound_frame_size)
                if window <= 0:
                    break
                chunk = pending[0]
                if len(chunk) <= window:
                    pending.popleft()
                    stream.buffered -= len(chunk)
                    if stream.end_pending and not pending:
                        h2.send_data(stream_id, chunk, end_stream=True)
                        self._local_end(stream)
                    else:
                        self._data_frame(stream, own, chunk)
                else:
                    self._data_frame(stream, own, chunk[:window])
                    pending[0] = chunk[window:]
                    stream.buffered -= window
            if not pending and stream.end_pending and not stream.local_done:
                h2.end_stream(stream_id)
                self._local_end(stream)
        except H2Error:
            self._reset(stream, ErrorCodes.INTERNAL_ERROR)
            return
        if pending:
            self._blocked.add(stream)
        else:
            self._blocked.discard(stream)
        if stream.flow_paused:
            if stream.buffered <= self.limits.send_low_water:
                stream.flow_paused = False
                self._set_paused(stream)
        elif stream.buffered > self.limits.send_high_water:
            stream.flow_paused = True
            self._set_paused(stream)
        self._dirty()

    def _local_end(self, stream: H2Stream) -> None:
        stream.local_done = True
        stream.end_pending = False
        stream.closed = True
        self._forget_if_done(stream)

    def _set_paused(self, stream: H2Stream) -> None:
        paused = stream.flow_paused or self.transport_paused
        if paused != stream.write_paused:
            stream.write_paused = paused
            active = stream.active
            if active is not None:
                if paused:
                    active.pause_upstream()
                else:
                    active.resume_upstream()

    def _dirty(self) -> None:
        """Frames are queued: write them at the end of the read being handled, else on the next loop turn.

        Chunks that several streams relay in one turn of the loop (upstream callbacks) share one
        write: one syscall and, over TLS, one record instead of one per chunk. The cost is the rest
        of the turn's callbacks as added latency; on a busy core the saved CPU is worth more
        (bench/tls_h2.py, 64 streams over TLS on a loaded 2-core machine: ITL p99 76 ms writing each
        chunk at once, 20 ms coalesced; CPU per relayed token then matches HTTP/1.1's).
        """
        if self._in_receive or self._flush_handle is not None or self.closed:
            return
        self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        if self.transport is None:
            return
        data = self.h2.data_to_send()
        out = self._out
        if out:
            if data:
                out.append(data)
            data = b"".join(out)
            out.clear()
        if data and not self.closed:
            self.transport.write(data)

    # ---- ending ------------------------------------------------------------------------------
    def _protocol_error(self, exc: ProtocolError) -> None:
        """GOAWAY with the error's code (h2 queued it already, except for a bad preface), then close."""
        self.stats.protocol_errors += 1
        log.debug("HTTP/2 protocol error from a client: %s", exc)
        if self.h2.state_machine.state is not ConnectionState.CLOSED:
            with contextlib.suppress(Exception):
                self.h2.close_connection(exc.error_code)
        self._flush()
        self.close()

    def _fail(self, code: ErrorCodes) -> None:
        if code != ErrorCodes.ENHANCE_YOUR_CALM:
            self.stats.protocol_errors += 1
        self._goodbye(code)

    def _goodbye(self, code: ErrorCodes) -> None:
        """GOAWAY with ``code``, then close the socket."""
        if self.closed:
            return
        with contextlib.suppress(Exception):  # h2 refuses in some states; the socket closes all the same
            self.h2.close_connection(code)
        self._flush()
        self.close()

    def _update_deadline(self) -> None:
        if self._receiving:
            self.deadline = next(iter(self._receiving.values())).deadline
        elif self.streams:
            self.deadline = 0.0  # requests in flight: their own timeouts apply
        else:
            self.deadline = time.perf_counter() + self.state.limits.idle_timeout

    def on_deadline(self) -> None:
        """The sweep found this connection past its deadline: a stalled request body, or idle."""
        if self.closed:
            return
        if not self.streams:
            self._goodbye(ErrorCodes.NO_ERROR)
            return
        now = time.perf_counter()
        for stream in [s for s in self._receiving.values() if s.deadline < now]:
            self._receiving.pop(stream.stream_id, None)
            self._release_body(stream)
            stream.send_error(GatewayError(408, "the request body did not arrive in time", code="request_timeout"),
                              stream.request)
        self._update_deadline()
        self._flush()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def close_if_idle(self) -> None:
        """Graceful shutdown: GOAWAY and close now if idle, else as soon as the open streams have finished.

        Not GOAWAY at once with the streams still open, as RFC 9113 6.8 allows: clients built on
        the h2 library (httpx, so the openai SDK) fail every open stream when a GOAWAY arrives.
        """
        if self.closed:
            return
        if not self.streams:
            self._goodbye(ErrorCodes.NO_ERROR)
        else:
            self.draining = True

    # ---- h2c Upgrade ---------------------------------------------------------------------------
    def _upgrade_body(self, data: bytes) -> bytes:
        """Collect the body of an upgraded request; returns what follows it (the client's preface)."""
        assert self._upgrade is not None
        request, need = self._upgrade
        take = data[:need]
        request.body += take
        need -= len(take)
        if need > 0:
            self._upgrade = (request, need)
            return b""
        self._upgrade = None
        self._begin_upgraded(request)
        return data[len(take):]

    def _begin_upgraded(self, request: Request) -> None:
        stream = H2Stream(self, 1, request)
        stream.remote_done = True
        self.streams[1] = stream
        self.stats.streams += 1
        self._dispatch(stream)
        self._update_deadline()
        self._flush()


def _preface_rest(data: bytes) -> bytes:
    """What follows the preface in ``data``, the read in which httptools consumed the preface's last byte.

    The longest start of ``data`` that ends the preface is it: the client's first frame
    (SETTINGS) begins with a zero byte, which the preface never contains.
    """
    for k in range(min(len(PREFACE), len(data)), 0, -1):
        if PREFACE.endswith(data[:k]):
            return data[k:]
    return data


def take_over_prior_knowledge(conn: HttpConnection, data: bytes, error: Exception) -> bool:
    """Called by the HTTP/1.1 protocol when httptools stops at ``PRI * HTTP/2.0``: continue as HTTP/2.

    httptools reads the whole 24-byte preface before it stops ("Pause on PRI/Upgrade");
    ``data`` is the read in which it stopped. A broken preface gets HTTP/2's answer to one
    (GOAWAY PROTOCOL_ERROR) rather than an HTTP/1.1 400. Only on a connection with no
    request in progress.
    """
    transport = conn.transport
    if transport is None or conn.closed or conn.busy or conn.pending:
        return False
    complete = "PRI" in str(error)
    h2conn = H2ServerConnection(conn.state)
    h2conn._adopt(conn, transport)
    h2conn._start()
    h2conn.data_received(PREFACE + _preface_rest(data) if complete else _PREFACE_HEAD + b"??\r\n\r\n")
    return True


def take_over_upgrade(conn: HttpConnection, request: Request, rest: bytes) -> bool:
    """An ``Upgrade: h2c`` request (RFC 7540 3.2) on the plain port: 101, then HTTP/2 with it as stream 1.

    ``rest`` is what followed the request's headers in the read (its body, then the client's preface).
    """
    transport = conn.transport
    settings = request.header(b"http2-settings")
    if transport is None or conn.closed or settings is None or request.header(b"transfer-encoding") is not None:
        return False
    h2conn = H2ServerConnection(conn.state)
    try:
        h2conn._start(settings)
    except Exception:  # a malformed HTTP2-Settings header: answer over HTTP/1.1 instead
        return False
    transport.write(b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n")
    h2conn._adopt(conn, transport)
    h2conn._flush()
    need = max(0, request.content_length)
    if need:
        h2conn._upgrade = (request, need)
    else:
        h2conn._begin_upgraded(request)
    if rest:
        h2conn.data_received(rest)
    return True


class TransportCollector:
    """Prometheus families for the HTTP/2 and TLS counters (register on the gateway's registry)."""

    def __init__(self, stats: H2Stats = STATS, tls: object | None = None) -> None:
        self.stats = stats
        self.tls = tls

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        for name, doc, value in (
            ("tokenway_http2_connections", "HTTP/2 client connections accepted.", s.connections),
            ("tokenway_http2_streams", "HTTP/2 client streams opened.", s.streams),
            ("tokenway_http2_client_resets", "Client RST_STREAMs of streams whose response was not complete.",
             s.client_resets),
            ("tokenway_http2_rapid_reset_closes", "HTTP/2 connections closed by the rapid-reset bound.",
             s.rapid_reset_closes),
            ("tokenway_http2_protocol_errors", "HTTP/2 connections ended with GOAWAY for bad input.",
             s.protocol_errors),
            ("tokenway_http2_malformed_requests", "HTTP/2 streams reset for malformed request headers.",
             s.malformed_requests),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        tls = self.tls
        if tls is not None:
            connections = CounterMetricFamily("tokenway_tls_connections", "TLS client connections by ALPN protocol.",
                                              labels=["protocol"])
            connections.add_metric(["h2"], getattr(tls, "connections_h2", 0))
            connections.add_metric(["http/1.1"], getattr(tls, "connections_h1", 0))
            yield connections
            reloads = CounterMetricFamily("tokenway_tls_certificate_reloads", "Certificate reloads from changed files.",
                                          labels=["result"])
            reloads.add_metric(["applied"], getattr(tls, "reloads", 0))
            reloads.add_metric(["rejected"], getattr(tls, "reload_failures", 0))
            yield reloads

