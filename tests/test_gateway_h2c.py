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


def test_h2c_slow_client_pauses_the_upstream_stream(procs: ProcessFactory, h2_upstream: int) -> None:
    """A client that stops reading makes the gateway stop pulling the HTTP/2 stream, so the upstream's
    flow-control window fills and it stops sending: the gateway does not buffer the stream."""
    gw = h2_gateway(procs, h2_upstream)
    flood = 4000  # ~64 MB in 16 kB events
    sent_url = f"http://127.0.0.1:{h2_upstream}/sent"
    with httpx.Client(http1=False, http2=True) as upstream_probe, httpx.stream(
            "POST", gw.url + "/v1/chat/completions", timeout=30,
            json={"model": "m", "messages": [], "stream": True, "flood": flood}) as response:
        chunks = response.iter_raw()
        next(chunks)
        previous, stalled = -1, 0
        for _ in range(100):  # bounded: until the upstream is blocked for 0.5 s in a row
            time.sleep(0.1)
            now = int(upstream_probe.get(sent_url).text)
            stalled = stalled + 1 if now == previous else 0
            previous = now
            if stalled >= 5:
                break
        assert stalled >= 5, "the upstream kept sending while the client did not read"
        # Loopback socket buffers hold ~10-15 MB; without back-pressure the whole ~64 MB would be pulled.
        assert previous < flood * 16000 // 2, previous
        received = 0
        for piece in chunks:  # reading again resumes the upstream
            received += len(piece)
            if received > previous + 8_000_000:
                break
        assert int(upstream_probe.get(sent_url).text) > previous
