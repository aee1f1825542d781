"""Bad input and failing upstreams: the right status, an OpenAI error body, never a hang."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import yaml
from procs import ProcessFactory, free_port, pool

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return dict(error)


@pytest.fixture(scope="module")
def gw(module_procs: ProcessFactory) -> Any:
    sim = module_procs.simulator("m", "--itl-ms", "1", "--prefill-overhead-ms", "1")
    dead = f"http://127.0.0.1:{free_port()}"
    config = {"version": "1", "server": {"maxBodyBytes": 4096},
              "pools": [pool("live", "m", sim.url), pool("dead", "dead-model", dead)]}
    return module_procs.gateway(config)


def test_malformed_json(gw: Any) -> None:
    response = httpx.post(gw.url + CHAT, content=b'{"model": "m", "messages": [', headers={"content-type":
                                                                                           "application/json"})
    assert_openai_error(response, 400, "invalid_json")


def test_body_not_an_object(gw: Any) -> None:
    assert_openai_error(httpx.post(gw.url + CHAT, json=[1, 2]), 400, "invalid_json")


def test_missing_model(gw: Any) -> None:
    error = assert_openai_error(httpx.post(gw.url + CHAT, json={"messages": MESSAGES}), 400)
    assert error["param"] == "model"


def test_unknown_model(gw: Any) -> None:
    error = assert_openai_error(httpx.post(gw.url + CHAT, json={"model": "gpt-9", "messages": MESSAGES}), 404,
                                "model_not_found")
    assert "gpt-9" in error["message"]


def test_body_over_the_limit(gw: Any) -> None:
    big = {"model": "m", "messages": [{"role": "user", "content": "x" * 10_000}]}
    assert_openai_error(httpx.post(gw.url + CHAT, json=big), 413, "request_too_large")


def test_chunked_body_over_the_limit(gw: Any) -> None:
    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 1000

    response = httpx.post(gw.url + CHAT, content=chunks(), headers={"content-type": "application/json"})
    assert_openai_error(response, 413)


def test_expect_continue_over_the_limit_is_refused_before_the_body(gw: Any) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"content-length: 1000000\r\nexpect: 100-continue\r\n\r\n")
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 413")
    assert b'"error"' in data


def test_expect_continue_within_the_limit_gets_100(gw: Any) -> None:
    body = json.dumps({"model": "m", "messages": MESSAGES, "max_tokens": 2}).encode()
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\nexpect: 100-continue\r\n\r\n" % len(body))
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_wrong_content_type(gw: Any) -> None:
    response = httpx.post(gw.url + CHAT, content=b"model=m", headers={"content-type": "text/plain"})
    assert_openai_error(response, 415, "unsupported_media_type")


def test_wrong_method_and_unknown_path(gw: Any) -> None:
    assert_openai_error(httpx.get(gw.url + CHAT), 405)
    assert_openai_error(httpx.get(gw.url + "/v2/whatever"), 404)


def test_garbage_http_gets_400_and_close(gw: Any) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 400")
    assert b'"error"' in data


def test_upstream_refusing_connections(gw: Any) -> None:
    started = time.monotonic()
    response = httpx.post(gw.url + CHAT, json={"model": "dead-model", "messages": MESSAGES})
    assert_openai_error(response, 502, "upstream_connect_error")
    assert time.monotonic() - started < 5


def test_failover_to_a_live_endpoint(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "1")
    dead = f"http://127.0.0.1:{free_port()}"
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", dead, sim.url)]})
    statuses = [httpx.post(gw.url + CHAT, json={"model": "m", "messages": MESSAGES, "max_tokens": 2}).status_code
                for _ in range(6)]
    assert statuses == [200] * 6


def test_5xx_is_retried_on_another_endpoint_before_the_first_byte(procs: ProcessFactory) -> None:
    bad = procs.simulator("m", "--error-rate", "1.0", "--error-status", "503")
    good = procs.simulator("m", "--itl-ms", "1")
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", bad.url, good.url)]})
    for _ in range(4):
        response = httpx.post(gw.url + CHAT, json={"model": "m", "messages": MESSAGES, "max_tokens": 2})
        assert response.status_code == 200, response.text


def test_upstream_429_passes_through_with_its_retry_after(procs: ProcessFactory) -> None:
    limited = procs.simulator("m", "--error-rate", "1.0", "--error-status", "429")
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", limited.url)]})
    response = httpx.post(gw.url + CHAT, json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_mid_stream_disconnect_ends_the_stream_with_an_error(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "5", "--disconnect-rate", "1.0", "--disconnect-after-tokens", "3")
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", sim.url)]})
    response = httpx.post(gw.url + CHAT, json={"model": "m", "messages": MESSAGES, "max_tokens": 20,
                                               "stream": True}, timeout=10)
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    # Some tokens, then an error event, then [DONE]: SDKs stop reading instead of hanging.
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    assert "error" in json.loads(events[-2])
    assert all("choices" in json.loads(e) for e in events[:-2]) and len(events) >= 4


def test_request_deadline(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--stall-first-token-ms", "5000")
    config = {"version": "1", "pools": [pool("p", "m", sim.url)],
              "routes": [{"name": "r", "timeouts": {"requestSeconds": 0.5},
                          "rules": [{"name": "all", "backends": [{"pool": "p"}]}]}]}
    gw = procs.gateway(config)
    started = time.monotonic()
    response = httpx.post(gw.url + CHAT, json={"model": "m", "messages": MESSAGES}, timeout=10)
    assert_openai_error(response, 504, "timeout")
    assert time.monotonic() - started < 3


def _running(sim_url: str) -> float:
    for line in httpx.get(sim_url + "/metrics").text.splitlines():
        if line.startswith("vllm:num_requests_running"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no vllm:num_requests_running")


def test_client_disconnect_cancels_the_upstream_request(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "50")
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", sim.url)]})
    with httpx.stream("POST", gw.url + CHAT, json={"model": "m", "messages": MESSAGES, "max_tokens": 1000,
                                                    "stream": True}) as response:
        chunks = response.iter_raw()
        seen = []
        for _ in range(5):
            seen.append((len(next(chunks)), _running(sim.url)))
        assert seen[-1][1] == 1, seen
    deadline = time.monotonic() + 5
    while _running(sim.url) != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running(sim.url) == 0


def test_hot_reload_good_then_bad(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "1")
    config: dict[str, Any] = {"version": "1", "pools": [pool("p", "m", sim.url)]}
    gw = procs.gateway(config)
    path = gw.extra["config_path"]

    config["version"] = "2"
    config["pools"][0]["models"][0]["aliases"] = ["m-new"]
    path.write_text(yaml.safe_dump(config))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if "m-new" in {m["id"] for m in httpx.get(gw.url + "/v1/models").json()["data"]}:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the new config was not applied")

    path.write_text("version: '3'\npools: [{name: BAD NAME, models: []}]\n")
    deadline = time.monotonic() + 5
    while "rejected" not in gw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "rejected, keeping version 2" in gw.log_text()
    response = httpx.post(gw.url + CHAT, json={"model": "m-new", "messages": MESSAGES, "max_tokens": 2})
    assert response.status_code == 200
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'tokenway_config_info{version="2"} 1.0' in metrics
    assert 'tokenway_config_reloads_total{result="rejected"} 1.0' in metrics


def test_sigterm_drains_in_flight_streams(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "40")
    gw = procs.gateway({"version": "1", "server": {"drainSeconds": 10}, "pools": [pool("p", "m", sim.url)]})
    result: dict[str, Any] = {}
    streaming = threading.Event()

    def stream() -> None:
        with httpx.stream("POST", gw.url + CHAT, json={"model": "m", "messages": MESSAGES, "max_tokens": 25,
                                                        "stream": True}, timeout=20) as response:
            chunks = response.iter_raw()
            text = next(chunks)
            streaming.set()  # the stream is under way when SIGTERM arrives
            result["text"] = (text + b"".join(chunks)).decode()

    thread = threading.Thread(target=stream)
    thread.start()
    assert streaming.wait(10)
    gw.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    refused = False
    while not refused and time.monotonic() < deadline:  # the listener closes at once
        try:
            httpx.get(gw.url + "/healthz", timeout=1)
        except httpx.ConnectError:
            refused = True
    assert refused, "the gateway kept accepting connections while draining"
    thread.join(20)
    assert result["text"].rstrip().endswith("data: [DONE]")
    assert gw.proc.wait(10) == 0


def test_port_in_use_is_a_clear_error_not_a_traceback(gw: Any, tmp_path: Any) -> None:
    import subprocess
    import sys

    from procs import _env

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"version": "1", "pools": []}))
    result = subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(config),
                             "--host", "127.0.0.1", "--port", str(gw.port)], capture_output=True, text=True,
                            env=_env(), timeout=30)
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_initial_config_exits_with_the_reason(tmp_path: Any) -> None:
    import subprocess
    import sys

    from procs import _env

    config = tmp_path / "c.yaml"
    config.write_text("version: '1'\npools: [{name: p, models: [], endpoints: [{url: 'ftp://x'}]}]\n")
    result = subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(config),
                             "--port", str(free_port())], capture_output=True, text=True, env=_env(), timeout=30)
    assert result.returncode == 2
    assert "pools.0.models" in result.stderr and "pools.0.endpoints.0.url" in result.stderr
    assert "Traceback" not in result.stderr


def test_kube_source_without_credentials_exits_with_the_reason(tmp_path: Any) -> None:
    import subprocess
    import sys

    from procs import _env

    env = {**_env(), "KUBECONFIG": str(tmp_path / "missing"), "KUBERNETES_SERVICE_HOST": ""}
    result = subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--kube-configmap", "ns/cm",
                             "--port", str(free_port())], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 2
    assert "no Kubernetes credentials" in result.stderr and "Traceback" not in result.stderr
