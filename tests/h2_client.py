"""A raw HTTP/2 test client on the ``h2`` library: full control of frames, windows and resets.

Used where httpx would hide what a test must do on purpose (not read one stream,
reset streams in bulk, ignore limits, send garbage). Blocking sockets, one thread.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


@dataclass
class Response:
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: int | None = None  # error code of an RST_STREAM from the server
    first_byte_at: float = 0.0
    ended_at: float = 0.0

    def text(self) -> str:
        return self.body.decode()


class RawH2:
    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1",
                 settings: dict[int, int] | None = None, window: int | None = None,
                 preface: bool = True, strict: bool = True) -> None:
        raw = socket.create_connection((host, port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock: socket.socket = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=strict,
            normalize_outbound_headers=strict))  # strict=False: send malformed headers on purpose
        if settings:
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.responses: dict[int, Response] = {}
        self.unread: set[int] = set()  # streams whose data we do not acknowledge (a slow reader)
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.closed = False
        self.remote_settings: dict[Any, int] = {}
        if preface:
            self.conn.initiate_connection()
            if window:
                self.conn.increment_flow_control_window(window)
            self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, path: str = "/v1/chat/completions", body: bytes | None = None, method: str = "POST",
                headers: list[tuple[str, str]] | None = None, end: bool = True, flush: bool = True,
                raw_headers: list[tuple[str, str]] | None = None) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "https"), (":authority", "localhost")]
        if body is not None:
            hdrs.append(("content-type", "application/json"))
        hdrs += headers or []
        if raw_headers is not None:
            hdrs = raw_headers
        self.conn.send_headers(stream_id, [(k.encode(), v.encode()) for k, v in hdrs],
                               end_stream=end and body is None)
        if body is not None:
            self.send_body(stream_id, body, end=end)
        self.responses[stream_id] = Response()
        if flush:
            self.flush()
        return stream_id

    def send_body(self, stream_id: int, body: bytes, end: bool = True) -> int:
        """Send as much of body as the windows allow now; returns the bytes sent."""
        sent = 0
        while sent < len(body):
            window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
            if window <= 0:
                break
            chunk = body[sent:sent + window]
            self.conn.send_data(stream_id, chunk, end_stream=end and sent + len(chunk) == len(body))
            sent += len(chunk)
        if end and not body:
            self.conn.end_stream(stream_id)
        self.flush()
        return sent

    def reset(self, stream_id: int, flush: bool = True) -> None:
        self.conn.reset_stream(stream_id)
        if flush:
            self.flush()

    def pump(self, timeout: float = 0.2) -> bool:
        """Read once (up to timeout); returns False when the server closed the connection."""
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.closed = True
            return False
        now = time.perf_counter()
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                response = self.responses.setdefault(event.stream_id, Response())
                response.headers = dict(event.headers or [])
                response.status = int(response.headers[b":status"])
                response.first_byte_at = now
            elif isinstance(event, h2.events.DataReceived):
                response = self.responses.setdefault(event.stream_id, Response())
                response.body += event.data or b""
                if event.stream_id not in self.unread and event.flow_controlled_length:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                response = self.responses[event.stream_id]
                response.ended = True
                response.ended_at = now
            elif isinstance(event, h2.events.StreamReset):
                self.responses.setdefault(event.stream_id, Response()).reset = int(event.error_code)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                self.remote_settings.update({k: v.new_value for k, v in event.changed_settings.items()})
        try:
            self.flush()
        except OSError:
            self.closed = True
        return True

    def acknowledge(self, stream_id: int) -> None:
        """Start reading a stream we held back: hand back everything buffered so far."""
        self.unread.discard(stream_id)
        size = len(self.responses[stream_id].body)
        if size:
            self.conn.acknowledge_received_data(size, stream_id)
            self.flush()

    def wait(self, stream_ids: list[int] | int, timeout: float = 10.0) -> None:
        ids = [stream_ids] if isinstance(stream_ids, int) else stream_ids
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.responses[i].ended or self.responses[i].reset is not None for i in ids):
                return
            if not self.pump():
                break
        done = sum(1 for i in ids if self.responses[i].ended)
        raise AssertionError(f"{done}/{len(ids)} streams ended; goaway={self.goaway} closed={self.closed}")

    def wait_closed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pump():
            pass
        assert self.closed, "the server did not close the connection"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def tls_client_context(ca_file: str, alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.set_alpn_protocols(alpn or ["h2"])
    return ctx
