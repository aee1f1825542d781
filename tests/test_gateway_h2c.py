"""HTTP/2 prior knowledge (h2c) to an upstream that speaks it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from procs import Proc, ProcessFactory, free_port, wait_http

pytest.importorskip("hypercorn")


@pytest.fixture
def h2_upstream(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    log = tmp_path / "hypercorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "hypercorn", "h2_upstream:app", "--bind", f"127.0.0.1:{port}"],
                                  cwd=Path(__file__).parent, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=server, log=log)
        yield port
    finally:
        server.terminate()  # a flood handler blocked on flow control keeps hypercorn's graceful exit waiting
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def h2_gateway(procs: ProcessFactory, port: int) -> Proc:
    return procs.gateway({"version": "1", "pools": [
        {"name": "h2", "protocol": "h2c", "models": [{"name": "m"}],
         "endpoints": [{"url": f"http://127.0.0.1:{port}"}]}]})


def test_h2c_upstream_streaming_and_not(procs: ProcessFactory, h2_upstream: int) -> None:
    gw = h2_gateway(procs, h2_upstream)
    plain = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert plain.status_code == 200, plain.text
    assert plain.json()["http_version"] == "2"
    streamed = httpx.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": [], "stream": True})
    assert streamed.status_code == 200
    events = [line for line in streamed.text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert len(events) == 4  # three tokens and [DONE]: the usage chunk the gateway asked for is hidden
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'tokenway_completion_tokens_total{model="m",pool="h2",route="default"} 4.0' in metrics


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_h2c_slow_client_pauses_the_upstream_stream(procs: ProcessFactory, h2_upstream: int) -> None:
    """A client that stops reading makes the gateway stop pulling the HTTP/2 stream (it withholds the stream's
    flow-control window): the gateway does not buffer the stream, and nothing is lost when the client reads again.

    Measured on the gateway itself: hypercorn's ASGI send() returns before its data passes flow control (it
    buffers in its own memory), so what the upstream app has sent says nothing about what the gateway pulled."""
    from h2_upstream import FLOOD_CHUNK

    gw = h2_gateway(procs, h2_upstream)
    flood = 16000  # ~256 MB in 16 kB events: a gateway without back-pressure would pull it all while the client waits
    with httpx.stream("POST", gw.url + "/v1/chat/completions", timeout=30,
                      json={"model": "m", "messages": [], "stream": True, "flood": flood}) as response:
        chunks = response.iter_raw()
        received = len(next(chunks))
        before = _rss_mib(gw.proc.pid)
        grown = 0.0
        for _ in range(20):  # 2 s without reading; the upstream delivers ~100 MB/s when let through
            time.sleep(0.1)
            grown = max(grown, _rss_mib(gw.proc.pid) - before)
        # Socket buffers on both hops hold the rest; the gateway keeps at most a flow-control window per stream.
        assert grown < 48, f"the gateway buffered {grown:.0f} MiB while the client did not read"
        tail = b""
        for piece in chunks:  # reading again resumes the upstream, to the end
            received += len(piece)
            tail = (tail + piece)[-64:]
    assert received == flood * len(FLOOD_CHUNK) + len(b"data: [DONE]\n\n"), received
    assert tail.endswith(b"data: [DONE]\n\n")
