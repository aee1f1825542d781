"""What the gateway sees of a client, whatever the wire: the request, and the channel back.

An HTTP/1.1 connection is a channel (one request at a time, pipelined ones wait);
an HTTP/2 stream is a channel of its own. The gateway writes responses only through
these methods, so TLS and HTTP/2 are separate protocol classes behind one interface
and a plain HTTP/1.1 request pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .errors import GatewayError


class Request:
    """One complete client request (headers and body received)."""

    __slots__ = ("authorization", "body", "content_length", "content_type", "expect_continue", "headers",
                 "keep_alive", "method", "path", "request_id", "started", "too_large", "traceparent")

    def __init__(self, started: float) -> None:
        self.started = started
        self.method = b""
        self.path = b""
        self.headers: list[tuple[bytes, bytes]] = []  # names lower-case
        self.body = bytearray()
        self.content_type = b""
        self.content_length = -1
        self.request_id = b""
        self.traceparent = b""
        self.authorization = b""
        self.expect_continue = False
        self.keep_alive = True
        self.too_large = False

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_map(self) -> dict[str, str]:
        return {name.decode("latin-1"): value.decode("latin-1") for name, value in self.headers}


class FlowControlled(Protocol):
    """What a channel needs from the handler of its current request."""

    def client_gone(self) -> None: ...
    def pause_upstream(self) -> None: ...
    def resume_upstream(self) -> None: ...


class ClientChannel(Protocol):
    """One request's way back to its client: an HTTP/1.1 connection or one HTTP/2 stream.

    ``active`` is set by the handler while a request is in progress: the channel calls its
    ``client_gone`` when the client disconnects (or resets the stream) and ``pause_upstream`` /
    ``resume_upstream`` as the client's buffer fills and drains.
    """

    closed: bool
    write_paused: bool
    active: FlowControlled | None

    @property
    def max_body_bytes(self) -> int:
        """The request body limit of the listener (for the 413 message)."""

    def send(self, status: int, body: bytes, request: Request, content_type: bytes = b"application/json",
             extra: bytes = b"") -> None:
        """A whole response. ``extra`` is zero or more ``name: value\\r\\n`` header lines."""

    def send_error(self, error: GatewayError, request: Request, extra: bytes = b"") -> None:
        """An OpenAI-format error response (with Retry-After on 429/503)."""

    def start_stream(self, status: int, content_type: bytes, extra: bytes, request: Request) -> None:
        """Response headers of a body of unknown length; chunks follow."""

    def write_chunk(self, data: bytes) -> None:
        """One piece of a streamed body, sent as it is (chunked framing or a DATA frame)."""

    def end_stream(self) -> None:
        """The streamed body is complete."""

    def request_done(self, request: Request) -> None:
        """The response to ``request`` is complete or abandoned; exactly once per request."""


# Called synchronously with each complete request; it must end with channel.request_done(request),
# right away or later from callbacks (no task per request on the fast path).
Handler = Callable[[Request, ClientChannel], None]
