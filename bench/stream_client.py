"""Streaming load client: C concurrent SSE streams, timestamps every event.

A raw asyncio Protocol with httptools' response parser on uvloop (no aiohttp:
its per-chunk overhead would show up in the inter-token figures). Each of the
``--concurrency`` workers holds one keep-alive connection and sends streaming
chat completions back to back until ``--duration`` seconds have passed.

Per stream it records:
  TTFT: from writing the request to receiving the first event with a "content" delta;
  ITL:  the gaps between consecutive content events.
Timestamps are taken once per ``data_received`` call (perf_counter), before
parsing, so parsing cost does not skew them; events that arrive in one TCP read
share a timestamp (an ITL of ~0, which is what a real client would see too).

Workers start staggered over one inter-token interval so that 64 streams do not
tick in lockstep (which would measure burst handling, not relay latency).
Streams started during ``--warmup`` are not counted.

Prints one JSON object on stdout: counts, TTFT and ITL percentiles in ms, and
the client's own CPU use (``client_cpu``: fraction of one core over the run),
so a saturated client is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import resource
import socket
import sys
import time
from urllib.parse import urlsplit

import httptools

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

perf = time.perf_counter


class StreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.now = 0.0
        self.buf = b""
        self.times: list[float] = []
        self.done: asyncio.Future[bool] | None = None
        self.status = 0
        self.keep_alive = True
        self.saw_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.done is not None and not self.done.done():
            # a close-delimited body (no chunking, no length) ends here: fine if [DONE] came
            self.keep_alive = False
            self.done.set_result(self.status == 200 and self.saw_done)

    def data_received(self, data: bytes) -> None:
        self.now = perf()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        buf = self.buf + body if self.buf else body
        start = 0
        while True:
            i = buf.find(b"\n\n", start)
            if i < 0:
                break
            ev = buf[start:i]
            start = i + 2
            if b'"content"' in ev:
                self.times.append(self.now)
            elif ev.startswith(b"data: [DONE]"):
                self.saw_done = True
        self.buf = buf[start:]

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(True)

    def start(self, request: bytes) -> tuple[float, asyncio.Future[bool]]:
        assert self.transport is not None
        self.times = []
        self.buf = b""
        self.saw_done = False
        self.status = 0
        self.done = asyncio.get_running_loop().create_future()
        t0 = perf()
        self.transport.write(request)
        return t0, self.done


def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[k]


async def run(args: argparse.Namespace) -> dict[str, object]:
    u = urlsplit(args.url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    path = u.path or "/v1/chat/completions"
    body = json.dumps(
        {
            "model": args.model,
            "messages": [{"role": "user", "content": "Count to one hundred."}],
            "max_tokens": args.expect_tokens or 64,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        separators=(",", ":"),
    ).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\n{''.join(h + chr(13) + chr(10) for h in args.header)}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    loop = asyncio.get_running_loop()
    ttft: list[float] = []
    itl: list[float] = []
    counts = {"streams": 0, "errors": 0, "short_streams": 0, "reconnects": 0}
    t_begin = perf()
    warm_until = t_begin + args.warmup
    deadline = warm_until + args.duration
    stagger = args.stagger_ms / 1000.0

    async def connect() -> StreamProtocol:
        _, proto = await loop.create_connection(StreamProtocol, host, port)
        return proto

    async def worker(idx: int) -> None:
        await asyncio.sleep(stagger * idx / max(1, args.concurrency))
        proto = await connect()
        while perf() < deadline:
            if proto.transport is None or proto.transport.is_closing():
                counts["reconnects"] += 1
                proto = await connect()
            t0, fut = proto.start(request)
            try:
                ok = await asyncio.wait_for(fut, timeout=args.timeout)
            except TimeoutError:
                ok = False
                if proto.transport is not None:
                    proto.transport.close()
            counted = t0 >= warm_until
            if not ok or proto.status != 200:
                if counted:
                    counts["errors"] += 1
                if proto.transport is not None:
                    proto.transport.close()
                await asyncio.sleep(0.01)
                continue
            if not proto.keep_alive and proto.transport is not None:
                proto.transport.close()
            times = proto.times
            if not counted:
                continue
            counts["streams"] += 1
            if not times or (args.expect_tokens and len(times) < args.expect_tokens) or not proto.saw_done:
                counts["short_streams"] += 1
            if times:
                ttft.append(times[0] - t0)
                itl.extend(b - a for a, b in itertools.pairwise(times))
        if proto.transport is not None:
            proto.transport.close()

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = perf()
    await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
    wall = perf() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    ttft.sort()
    itl.sort()
    ms = 1000.0
    return {
        "concurrency": args.concurrency,
        "duration_s": round(wall, 3),
        **counts,
        "events": len(itl) + len(ttft),
        "client_cpu": round(cpu / wall, 3) if wall > 0 else None,
        "ttft_ms": {
            "p50": pct(ttft, 50) * ms,
            "p90": pct(ttft, 90) * ms,
            "p99": pct(ttft, 99) * ms,
            "mean": (sum(ttft) / len(ttft) * ms) if ttft else float("nan"),
        },
        "itl_ms": {
            "p50": pct(itl, 50) * ms,
            "p90": pct(itl, 90) * ms,
            "p99": pct(itl, 99) * ms,
            "p999": pct(itl, 99.9) * ms,
            "max": (itl[-1] * ms) if itl else float("nan"),
            "mean": (sum(itl) / len(itl) * ms) if itl else float("nan"),
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:9100/v1/chat/completions")
    p.add_argument("--model", default="bench-model")
    p.add_argument("--concurrency", "-c", type=int, default=64)
    p.add_argument("--duration", "-d", type=float, default=5.0, help="seconds of measured streams")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of streams not counted")
    p.add_argument("--stagger-ms", type=float, default=5.0, help="spread worker starts over this window")
    p.add_argument("--expect-tokens", type=int, default=64, help="tokens a full stream carries (0: unchecked)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-stream timeout (s)")
    p.add_argument("--header", action="append", default=[], help="extra request header, 'name: value'")
    args = p.parse_args(argv)
    if uvloop is not None:
        uvloop.install()
    result = asyncio.run(run(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
