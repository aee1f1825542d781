#!/usr/bin/env python3
"""CPU cost of one request through the gateway's Python path, in process: no sockets, no loop wakeups.

The gateway's HTTP/1.1 protocol object is fed a whole request per call, with a fake transport on the
client side and a fake upstream that answers synchronously from inside ``send``, so what is timed
(``time.process_time`` over N requests) is exactly the Python the gateway runs per request: parsing,
the stage chain, the pick, the call and attempt, the relay and settle. Kernel time and event-loop
overhead are left out, so the figure is steady enough to compare two commits or two configs a few
percent apart (run each a few times and keep the minimum):

    python bench/inprocess.py                       # the plain one-pool config, 20,000 requests
    python bench/inprocess.py --config FILE.yaml    # any gateway config whose pools serve bench-model
    python bench/inprocess.py --header "authorization: Bearer KEY"
    python bench/inprocess.py --config CACHE.yaml --unique   # an exact cache at 0% hits: lookup, miss, store

``--tokenway-rev``-style A/B: run it with PYTHONPATH pointing at another checkout's dataplane/.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "dataplane") not in sys.path:
    sys.path.append(str(ROOT / "dataplane"))

import uvloop  # noqa: E402
from tokenway_gateway.config.store import ConfigStore  # noqa: E402
from tokenway_gateway.proxy.gateway import Gateway  # noqa: E402
from tokenway_gateway.server import http as http_mod  # noqa: E402

BODY = b'{"model":"bench-model","messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":16}'
UNIQUE_BODY = (b'{"model":"bench-model","messages":[{"role":"user","content":"Say hello in five words, request %d."}],'
               b'"max_tokens":16,"temperature":0}')
ANSWER = (b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"bench-model","choices":[{"index":0,'
          b'"message":{"role":"assistant","content":"Hello there, how are you"},"finish_reason":"stop"}],'
          b'"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}')
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]
PLAIN = ('version: "1"\npools:\n  - name: fake\n    models: [{name: bench-model}]\n'
         '    endpoints: [{url: "http://127.0.0.1:9"}]\n')


class FakeTransport:
    """The client's socket: counts what the gateway writes."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def close(self) -> None: ...
    def abort(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...

    def get_extra_info(self, *args: Any, **kwargs: Any) -> None:
        return None


class AnsweringUpstream:
    """An upstream connection that answers every request at once, from inside send()."""

    closed = False
    keep_alive = True
    got_bytes = True
    reused = True

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    def send(self, *args: Any) -> None:
        sink = args[-1]
        sink.on_headers(200, HEADERS)
        sink.on_body(ANSWER)
        sink.on_complete()

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def abort(self) -> None: ...
    def finish(self) -> None: ...


class AnsweringPool:
    """The HTTP/1.1 connector: always an idle connection to hand out."""

    max_idle = 1

    def take(self, endpoint: Any) -> AnsweringUpstream:
        return AnsweringUpstream(endpoint)

    def release(self, conn: Any) -> None: ...
    def retain(self, urls: Any) -> None: ...
    def close(self) -> None: ...

    async def aclose(self) -> None: ...


async def measure(config: str, raws: list[bytes], requests: int) -> float:
    store = ConfigStore()
    gateway = Gateway(store)
    if not store.apply_text(config, "bench"):
        raise SystemExit("the config was rejected (see the log above)")
    gateway.connectors["http1"] = AnsweringPool()  # type: ignore[assignment]
    gateway.loop = asyncio.get_running_loop()
    gateway.deadlines.start(gateway.loop)
    conn = http_mod.HttpConnection(http_mod.ServerState(gateway.handle, http_mod.ServerLimits()))
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    n = len(raws)
    for i in range(2000):  # warm-up: caches, pickers, lazily built state
        conn.data_received(raws[i % n])
    gc.collect()
    gc.freeze()
    started = time.process_time()
    for i in range(2000, 2000 + requests):
        conn.data_received(raws[i % n])
    elapsed = time.process_time() - started
    if transport.written == 0:
        raise SystemExit("the gateway wrote nothing: the request did not go through")
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="gateway config (default: one pool, one endpoint)")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="repeat and report each run and the minimum")
    parser.add_argument("--header", action="append", default=[], help="extra request header, 'name: value'")
    parser.add_argument("--unique", action="store_true",
                        help="a different prompt (temperature 0) on every request, built before timing: "
                        "what an exact cache costs at 0%% hits (lookup, miss, store)")
    args = parser.parse_args()
    config = args.config.read_text() if args.config else PLAIN
    extra = b"".join(h.encode() + b"\r\n" for h in args.header)
    bodies = [UNIQUE_BODY % i for i in range(2000 + args.requests)] if args.unique else [BODY]
    raws = [b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" + extra
            + b"content-length: %d\r\n\r\n" % len(body) + body for body in bodies]
    uvloop.install()
    figures = [asyncio.run(measure(config, raws, args.requests)) for _ in range(args.runs)]
    print("us/request (Python path, in process): " + ", ".join(f"{f:.2f}" for f in figures)
          + f"; min {min(figures):.2f}")


if __name__ == "__main__":
    main()
