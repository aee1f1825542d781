"""HTTP/2 prior knowledge (h2c) to an upstream that speaks it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from procs import ProcessFactory, free_port, wait_http

pytest.importorskip("hypercorn")


def test_h2c_upstream_streaming_and_not(procs: ProcessFactory, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "hypercorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "hypercorn", "h2_upstream:app", "--bind", f"127.0.0.1:{port}"],
                                  cwd=Path(__file__).parent, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=server, log=log)
        gw = procs.gateway({"version": "1", "pools": [
            {"name": "h2", "protocol": "h2c", "models": [{"name": "m"}],
             "endpoints": [{"url": f"http://127.0.0.1:{port}"}]}]})
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
    finally:
        server.terminate()
        server.wait(10)
