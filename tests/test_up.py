"""`tokenway up`: the embedded default starts, serves, shows live figures and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
from procs import ROOT, _env


def test_up_serves_shows_figures_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tokenway_gateway.cli", "up", "--port", "0", "--traffic", "4",
                             "--refresh", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(),
                            cwd=ROOT, text=True)
    assert proc.stdout is not None
    output: list[str] = []
    url = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            match = re.search(r"Tokenway is up at (http://\S+)", line)
            if match:
                url = match.group(1)
            if url and re.match(r"llama\s+\d+\s+\d+ms\s+\d+ms\s+[\d.]+", line) and int(line.split()[1]) >= 2:
                break
        assert url, "".join(output)
        text = "".join(output)
        assert "curl " in text and "OpenAI(base_url=" in text
        response = httpx.post(url + "/v1/chat/completions", json={
            "model": "qwen2.5-7b-instruct", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
        assert response.status_code == 200 and response.json()["usage"]["completion_tokens"] == 4
        models = {m["id"] for m in httpx.get(url + "/v1/models").json()["data"]}
        assert {"llama-3.1-8b-instruct", "qwen2.5-7b-instruct"} <= models
        children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                         text=True).stdout.split()]
        assert len(children) == 3  # the simulated replicas
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, "".join(output) + rest
    for pid in children:  # every simulator it started is gone
        assert not os.path.exists(f"/proc/{pid}"), pid
