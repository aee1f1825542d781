#!/usr/bin/env python3
"""Streaming load client for TLS and HTTP/2: C concurrent SSE streams, every event timestamped.

The HTTP/2 sibling of ``bench/stream_client.py`` (same figures, same JSON), for
``bench/tls_h2.py``:

  --proto h2   all C streams multiplexed over ``--connections`` HTTP/2 connections
               (default 1), over TLS for https:// URLs (ALPN h2) or h2c with prior
               knowledge for http:// URLs; framed by hand (DATA parsing is a slice;
               the ``h2`` library costs more per frame than the proxies measured),
               response headers decoded by ``hpack``;
  --proto h1   C keep-alive HTTP/1.1 connections, one stream each, over TLS for
               https:// URLs (stream_client.py's httptools protocol, plus TLS).

Each stream slot sends streaming chat completions back to back until ``--duration``
has passed. TTFT: request written to the first event with a "content" delta; ITL:
gaps between content events. Timestamps are taken once per read, before parsing.
Workers start staggered over ``--stagger-ms``; streams started during ``--warmup``
are not counted. The client reads as fast as it can (every DATA frame is handed
back to the window at once), so flow control never throttles the server here.
Prints one JSON object: counts, TTFT and ITL percentiles in ms, client CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import socket
import ssl
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import hpack
from stream_client import StreamProtocol, pct

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

perf = time.perf_counter


class Stream:
    __slots__ = ("buf", "done", "saw_done", "status", "times")

    def __init__(self, done: asyncio.Future[bool]) -> None:
        self.done = done
        self.times: list[float] = []
        self.buf = b""
        self.status = 0
        self.saw_done = False

    def on_body(self, body: bytes, now: float) -> None:
        buf = self.buf + body if self.buf else body
        start = 0
        while True:
            i = buf.find(b"\n\n", start)
            if i < 0:
                break
            event = buf[start:i]
            start = i + 2
            if b'"content"' in event:
                self.times.append(now)
            elif event.startswith(b"data: [DONE]"):
                self.saw_done = True
        self.buf = buf[start:]


def _hpack_literal(name: bytes, value: bytes) -> bytes:
    """One header as an HPACK literal without indexing, new name (lengths < 127): no decoder state."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
WINDOW = (1 << 31) - 1


class H2Protocol(asyncio.Protocol):
    """A minimal HTTP/2 client framing by hand (the h2 library would cost more per DATA frame than the
    proxies under test): stateless HPACK for requests, hpack's decoder for response headers only,
    windows opened wide so the server is never held back."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, Stream] = {}
        self.closed = False
        self.buf = b""
        self.decoder = hpack.Decoder()
        self.next_id = 1
        self.consumed = 0
        self.send_window = 65535  # the server's connection window for our request bodies
        self.stream_send_window = 65535
        self.window_open = asyncio.Event()
        self.window_open.set()
        self.header_block = b""
        self.header_stream = 0
        self.header_end_stream = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        settings = (0x2).to_bytes(2, "big") + (0).to_bytes(4, "big") + (0x4).to_bytes(2, "big") + \
            WINDOW.to_bytes(4, "big")  # ENABLE_PUSH 0, INITIAL_WINDOW_SIZE max
        transport.write(PREFACE + _frame(0x4, 0, 0, settings) +  # type: ignore[attr-defined]
                        _frame(0x8, 0, 0, (WINDOW - 65535).to_bytes(4, "big")))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.window_open.set()
        for stream in self.streams.values():
            if not stream.done.done():
                stream.done.set_result(False)

    def data_received(self, data: bytes) -> None:
        now = perf()
        buf = self.buf + data if self.buf else data
        offset, size = 0, len(buf)
        out: list[bytes] = []
        while size - offset >= 9:
            length = int.from_bytes(buf[offset:offset + 3], "big")
            end = offset + 9 + length
            if end > size:
                break
            kind, flags = buf[offset + 3], buf[offset + 4]
            stream_id = int.from_bytes(buf[offset + 5:offset + 9], "big") & 0x7FFFFFFF
            payload = buf[offset + 9:end]
            offset = end
            if kind == 0x0:  # DATA
                self.consumed += length
                stream = self.streams.get(stream_id)
                if flags & 0x8:
                    payload = payload[1:len(payload) - payload[0]]
                if stream is not None:
                    stream.on_body(payload, now)
                    if flags & 0x1:
                        self._end(stream_id, True)
            elif kind == 0x1 or kind == 0x9:  # HEADERS, CONTINUATION
                if kind == 0x1:
                    if flags & 0x8:
                        payload = payload[1:len(payload) - payload[0]]
                    if flags & 0x20:
                        payload = payload[5:]
                    self.header_block, self.header_stream = payload, stream_id
                    self.header_end_stream = bool(flags & 0x1)
                else:
                    self.header_block += payload
                if flags & 0x4:
                    headers = dict(self.decoder.decode(self.header_block, raw=True))
                    stream = self.streams.get(self.header_stream)
                    if stream is not None and b":status" in headers and not stream.status:
                        stream.status = int(headers[b":status"])
                    if self.header_end_stream:
                        self._end(self.header_stream, True)
            elif kind == 0x3:  # RST_STREAM
                self._end(stream_id, False)
            elif kind == 0x4 and not flags & 0x1:  # SETTINGS: note the initial window, acknowledge
                for i in range(0, len(payload) - 5, 6):
                    if int.from_bytes(payload[i:i + 2], "big") == 0x4:
                        self.stream_send_window = int.from_bytes(payload[i + 2:i + 6], "big")
                out.append(_frame(0x4, 0x1, 0, b""))
            elif kind == 0x6 and not flags & 0x1:  # PING
                out.append(_frame(0x6, 0x1, 0, payload))
            elif kind == 0x7:  # GOAWAY
                self.closed = True
                if self.transport is not None:
                    self.transport.close()
            elif kind == 0x8 and stream_id == 0:
                self.send_window += int.from_bytes(payload, "big") & 0x7FFFFFFF
                self.window_open.set()
        self.buf = buf[offset:]
        if self.consumed > WINDOW >> 2:
            out.append(_frame(0x8, 0, 0, self.consumed.to_bytes(4, "big")))
            self.consumed = 0
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _end(self, stream_id: int, ok: bool) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is not None and not stream.done.done():
            stream.done.set_result(ok)

    async def start(self, header_block: bytes, body: bytes) -> tuple[float, Stream]:
        while self.send_window < len(body) and not self.closed:
            self.window_open.clear()
            await self.window_open.wait()
        stream_id = self.next_id
        self.next_id += 2
        stream = Stream(asyncio.get_running_loop().create_future())
        self.streams[stream_id] = stream
        self.send_window -= len(body)
        t0 = perf()
        if self.transport is not None and not self.closed:
            self.transport.write(_frame(0x1, 0x4, stream_id, header_block) + _frame(0x0, 0x1, stream_id, body))
        else:
            stream.done.set_result(False)
        return t0, stream


async def run(args: argparse.Namespace) -> dict[str, Any]:
    u = urlsplit(args.url)
    tls = u.scheme == "https"
    host, port = u.hostname or "127.0.0.1", u.port or (443 if tls else 80)
    path = u.path or "/v1/chat/completions"
    context: ssl.SSLContext | None = None
    if tls:
        context = ssl.create_default_context(cafile=args.cafile) if args.cafile else ssl._create_unverified_context()
        context.set_alpn_protocols(["h2"] if args.proto == "h2" else ["http/1.1"])
    body = json.dumps({
        "model": args.model, "messages": [{"role": "user", "content": "Count to one hundred."}],
        "max_tokens": args.expect_tokens or 64, "stream": True, "stream_options": {"include_usage": True},
    }, separators=(",", ":")).encode()
    h2_headers = b"".join(_hpack_literal(name, value) for name, value in (
        (b":method", b"POST"), (b":path", path.encode()), (b":scheme", u.scheme.encode()),
        (b":authority", f"{host}:{port}".encode()), (b"content-type", b"application/json"),
        (b"accept", b"text/event-stream")))
    h1_request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                  f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    loop = asyncio.get_running_loop()
    server_hostname = args.server_name if tls else None
    ttft: list[float] = []
    itl: list[float] = []
    counts = {"streams": 0, "errors": 0, "short_streams": 0, "reconnects": 0}
    t_begin = perf()
    warm_until = t_begin + args.warmup
    deadline = warm_until + args.duration
    stagger = args.stagger_ms / 1000.0

    def record(t0: float, ok: bool, status: int, times: list[float], saw_done: bool) -> None:
        if t0 < warm_until:
            return
        if not ok or status != 200:
            counts["errors"] += 1
            return
        counts["streams"] += 1
        if not times or (args.expect_tokens and len(times) < args.expect_tokens) or not saw_done:
            counts["short_streams"] += 1
        if times:
            ttft.append(times[0] - t0)
            itl.extend(b - a for a, b in itertools.pairwise(times))

    if args.proto == "h2":
        conns: list[H2Protocol] = []
        for _ in range(args.connections):
            _, proto = await loop.create_connection(H2Protocol, host, port, ssl=context,
                                                    server_hostname=server_hostname)
            conns.append(proto)

        async def h2_worker(idx: int) -> None:
            await asyncio.sleep(stagger * idx / max(1, args.concurrency))
            proto = conns[idx % len(conns)]
            while perf() < deadline and not proto.closed:
                t0, stream = await proto.start(h2_headers, body)
                try:
                    ok = await asyncio.wait_for(stream.done, timeout=args.timeout)
                except TimeoutError:
                    ok = False
                record(t0, ok, stream.status, stream.times, stream.saw_done)
                if not ok:
                    await asyncio.sleep(0.01)

        workers = [h2_worker(i) for i in range(args.concurrency)]
    else:
        async def connect() -> StreamProtocol:
            _, proto = await loop.create_connection(StreamProtocol, host, port, ssl=context,
                                                    server_hostname=server_hostname)
            return proto

        async def h1_worker(idx: int) -> None:
            await asyncio.sleep(stagger * idx / max(1, args.concurrency))
            proto = await connect()
            while perf() < deadline:
                if proto.transport is None or proto.transport.is_closing():
                    counts["reconnects"] += 1
                    proto = await connect()
                t0, fut = proto.start(h1_request)
                try:
                    ok = await asyncio.wait_for(fut, timeout=args.timeout)
                except TimeoutError:
                    ok = False
                record(t0, ok, proto.status, proto.times, proto.saw_done)
                if not ok and proto.transport is not None:
                    proto.transport.close()
            if proto.transport is not None:
                proto.transport.close()

        workers = [h1_worker(i) for i in range(args.concurrency)]

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = perf()
    await asyncio.gather(*workers)
    wall = perf() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    ttft.sort()
    itl.sort()
    ms = 1000.0
    return {
        "proto": args.proto, "tls": tls, "concurrency": args.concurrency, "duration_s": round(wall, 3), **counts,
        "events": len(itl) + len(ttft), "client_cpu": round(cpu / wall, 3) if wall > 0 else None,
        "ttft_ms": {"p50": pct(ttft, 50) * ms, "p90": pct(ttft, 90) * ms, "p99": pct(ttft, 99) * ms},
        "itl_ms": {"p50": pct(itl, 50) * ms, "p90": pct(itl, 90) * ms, "p99": pct(itl, 99) * ms,
                   "p999": pct(itl, 99.9) * ms},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--proto", choices=["h2", "h1"], default="h2")
    p.add_argument("--connections", type=int, default=1, help="HTTP/2 connections the streams share")
    p.add_argument("--cafile", default=None, help="CA to verify the server with (default: no verification)")
    p.add_argument("--server-name", default="localhost", help="TLS server name (SNI)")
    p.add_argument("--model", default="bench-model")
    p.add_argument("--concurrency", "-c", type=int, default=64)
    p.add_argument("--duration", "-d", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--stagger-ms", type=float, default=5.0)
    p.add_argument("--expect-tokens", type=int, default=64)
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args(argv)
    if uvloop is not None:
        uvloop.install()
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
