"""A minimal, fast fake OpenAI-compatible upstream for the dataplane benchmark.

It speaks just enough HTTP/1.1 (keep-alive, pipelining for non-streaming requests)
through a raw asyncio Protocol and httptools on uvloop, so that the proxies under
test, not this server, are the bottleneck. ``bench/dataplane.py`` measures it
directly first ("direct" target) to show its ceiling.

Routes:
  POST /v1/chat/completions (also /v1/completions)
      non-streaming: a small fixed chat completion with ``usage``;
      ``"stream": true``: SSE over chunked encoding: headers at once, the first
      token after ``--ttft-ms``, then one token every ``--interval-ms`` (scheduled
      on absolute times, so timer drift does not accumulate), then a usage chunk,
      ``data: [DONE]`` and the terminating chunk. ``max_tokens`` in the body is
      ignored on purpose: every stream has ``--tokens`` tokens.
  GET /health, /healthz, /ready  -> 200
  GET /v1/models                  -> the model list (``--model``)
  GET /metrics                    -> a few vLLM-named gauges (all idle)
  GET /get_server_info, /get_model_info -> small JSON (some routers probe these)
  anything else                   -> 404 JSON error

``--workers N`` forks N processes sharing the port with SO_REUSEPORT.
Prints ``READY <port>`` on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time

import httptools

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a project dependency
    uvloop = None  # type: ignore[assignment]

_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')


class Responses:
    """All response bytes, built once."""

    def __init__(self, model: str, tokens: int, ttft_ms: float, interval_ms: float) -> None:
        self.model = model
        self.tokens = tokens
        self.ttft = ttft_ms / 1000.0
        self.interval = interval_ms / 1000.0
        created = int(time.time())
        completion = {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello! I am a fake upstream, answering fast."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22},
        }
        self.completion = self._response(200, json.dumps(completion, separators=(",", ":")).encode())
        self.completion_close = self._response(200, json.dumps(completion, separators=(",", ":")).encode(), close=True)
        models = {
            "object": "list",
            "data": [{"id": model, "object": "model", "created": created, "owned_by": "bench", "max_model_len": 8192}],
        }
        self.models = self._response(200, json.dumps(models).encode())
        self.health = self._response(200, b"")
        self.server_info = self._response(200, json.dumps({"model_path": model, "max_model_len": 8192}).encode())
        self.metrics = self._response(
            200,
            (
                f'vllm:num_requests_running{{model_name="{model}"}} 0\n'
                f'vllm:num_requests_waiting{{model_name="{model}"}} 0\n'
                f'vllm:kv_cache_usage_perc{{model_name="{model}"}} 0\n'
            ).encode(),
            ctype=b"text/plain; version=0.0.4",
        )
        self.not_found = self._response(
            404, b'{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":"not_found"}}'
        )
        self.stream_head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created, "model": model}
        self.token_chunks = []
        for i in range(tokens):
            delta = {"role": "assistant", "content": f" tok{i}"} if i == 0 else {"content": f" tok{i}"}
            ev = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": None}])
            self.token_chunks.append(self._chunk(ev))
        last = dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "length"}])
        usage = dict(
            base,
            choices=[],
            usage={"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens},
        )
        self.stream_tail = self._chunk(last) + self._chunk(usage) + self._frame(b"data: [DONE]\n\n") + b"0\r\n\r\n"

    @staticmethod
    def _response(status: int, body: bytes, ctype: bytes = b"application/json", close: bool = False) -> bytes:
        reason = {200: b"OK", 404: b"Not Found"}[status]
        conn = b"connection: close\r\n" if close else b""
        return (
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s\r\n"
            % (status, reason, ctype, len(body), conn)
            + body
        )

    @staticmethod
    def _frame(payload: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(payload), payload)

    def _chunk(self, obj: dict[str, object]) -> bytes:
        return self._frame(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")


class UpstreamProtocol(asyncio.Protocol):
    __slots__ = ("body", "loop", "parser", "r", "transport", "url")

    def __init__(self, r: Responses, loop: asyncio.AbstractEventLoop) -> None:
        self.r = r
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []

    # -- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        t = self.transport
        if t is None:
            return
        r = self.r
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        keep_alive = self.parser.should_keep_alive()
        if method == b"POST" and path in (b"/v1/chat/completions", b"/v1/completions"):
            body = b"".join(self.body)
            if _STREAM_RE.search(body):
                self._stream(keep_alive)
                return
            t.write(r.completion if keep_alive else r.completion_close)
        elif method == b"GET" and path in (b"/health", b"/healthz", b"/ready", b"/health_generate"):
            t.write(r.health)
        elif method == b"GET" and path == b"/v1/models":
            t.write(r.models)
        elif method == b"GET" and path == b"/metrics":
            t.write(r.metrics)
        elif method == b"GET" and path in (b"/get_server_info", b"/get_model_info", b"/server_info"):
            t.write(r.server_info)
        else:
            t.write(r.not_found)
        if not keep_alive:
            t.close()

    # -- streaming
    def _stream(self, keep_alive: bool) -> None:
        t = self.transport
        assert t is not None
        r = self.r
        t.write(r.stream_head)
        start = self.loop.time() + r.ttft
        self.loop.call_at(start, self._tick, 0, start, keep_alive)

    def _tick(self, i: int, start: float, keep_alive: bool) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        r = self.r
        if i < r.tokens:
            t.write(r.token_chunks[i])
            self.loop.call_at(start + (i + 1) * r.interval, self._tick, i + 1, start, keep_alive)
            return
        t.write(r.stream_tail)
        if not keep_alive:
            t.close()


def serve(args: argparse.Namespace, sock: socket.socket) -> None:
    if uvloop is not None:
        uvloop.install()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    r = Responses(args.model, args.tokens, args.ttft_ms, args.interval_ms)

    async def main() -> None:
        server = await loop.create_server(lambda: UpstreamProtocol(r, loop), sock=sock, backlog=4096)
        async with server:
            await server.serve_forever()

    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    with contextlib.suppress(RuntimeError):  # loop.stop() from a signal
        loop.run_until_complete(main())


def make_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--model", default="bench-model")
    p.add_argument("--tokens", type=int, default=64, help="tokens per stream")
    p.add_argument("--ttft-ms", type=float, default=5.0, help="delay before the first streamed token")
    p.add_argument("--interval-ms", type=float, default=5.0, help="inter-token interval of streams")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    args = p.parse_args(argv)

    if args.workers <= 1:
        sock = make_socket(args.host, args.port, reuse_port=False)
        print(f"READY {sock.getsockname()[1]}", flush=True)
        serve(args, sock)
        return 0

    socks = [make_socket(args.host, args.port, reuse_port=True)]
    port = socks[0].getsockname()[1]
    socks += [make_socket(args.host, port, reuse_port=True) for _ in range(args.workers - 1)]
    children = []
    for s in socks:
        pid = os.fork()
        if pid == 0:
            serve(args, s)
            os._exit(0)
        children.append(pid)
        s.close()
    print(f"READY {port}", flush=True)

    def forward(signum: int, _frame: object) -> None:
        for c in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(c, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for c in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(c, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
