"""Behaviours a review found untested: each test here fails when its feature is switched off.

Fallback pools, retryOn, endpoint weights, ejecting a failing endpoint, upstream API keys,
HTTPS upstreams, alias rewriting, least-request picking and relaying an upstream's own error.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from procs import ProcessFactory, free_port, pool
from tls_certs import TestPki

CHAT = "/v1/chat/completions"


def chat(model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, **extra}


def test_a_rule_falls_back_to_another_pool_only_when_retry_on_allows(procs: ProcessFactory) -> None:
    live = procs.simulator("m", "--itl-ms", "1")
    dead = f"http://127.0.0.1:{free_port()}"

    def config(retry_on: list[str]) -> dict[str, Any]:
        return {"version": "1", "pools": [pool("primary", "m", dead), pool("backup", "m", live.url)],
                "routes": [{"name": "r", "retries": {"attempts": 2, "retryOn": retry_on},
                            "rules": [{"name": "all", "match": {"models": ["m"]},
                                       "backends": [{"pool": "primary"}], "fallbacks": ["backup"]}]}]}

    with_fallback = procs.gateway(config(["connect-failure"]))
    response = httpx.post(with_fallback.url + CHAT, json=chat())
    assert response.status_code == 200 and response.headers["x-tokenway-pool"] == "backup"
    no_retry = procs.gateway(config(["5xx"]))
    response = httpx.post(no_retry.url + CHAT, json=chat())
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_connect_error"


def test_endpoint_weights_set_the_share_of_traffic(procs: ProcessFactory) -> None:
    heavy, light = procs.simulator("m", "--itl-ms", "1"), procs.simulator("m", "--itl-ms", "1")
    config = {"version": "1", "pools": [{
        "name": "p", "models": [{"name": "m"}], "loadBalancing": {"algorithm": "weighted"},
        "endpoints": [{"url": heavy.url, "weight": 3, "name": "heavy"}, {"url": light.url, "weight": 1,
                                                                          "name": "light"}]}]}
    gw = procs.gateway(config)
    with httpx.Client() as client:
        used = Counter(client.post(gw.url + CHAT, json=chat()).headers["x-tokenway-endpoint"] for _ in range(40))
    assert used == {"heavy": 30, "light": 10}


def test_a_failing_endpoint_is_ejected_until_its_ejection_ends(procs: ProcessFactory) -> None:
    bad = procs.simulator("m", "--itl-ms", "1", "--error-rate", "1.0", "--error-status", "500")
    good = procs.simulator("m", "--itl-ms", "1")
    config = {"version": "1", "pools": [{
        "name": "p", "models": [{"name": "m"}], "loadBalancing": {"algorithm": "round-robin"},
        "outlierDetection": {"consecutiveErrors": 2, "baseEjectionSeconds": 60, "maxEjectionPercent": 50},
        "endpoints": [{"url": bad.url, "name": "bad"}, {"url": good.url, "name": "good"}]}]}
    gw = procs.gateway(config)
    with httpx.Client() as client:
        for _ in range(6):  # retried onto the good endpoint; the bad one collects consecutive 5xx
            assert client.post(gw.url + CHAT, json=chat()).status_code == 200
        httpx.post(bad.url + "/sim/faults", json={"error_rate": 0.0})  # it would answer now: still ejected
        used = Counter(client.post(gw.url + CHAT, json=chat()).headers["x-tokenway-endpoint"] for _ in range(10))
    assert used == {"good": 10}


def test_an_external_pools_api_key_is_sent_upstream(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "1", "--api-key", "sk-upstream-secret")
    config = {"version": "1", "pools": [{"name": "ext", "models": [{"name": "m"}],
                                         "endpoints": [{"url": sim.url, "apiKeyEnv": "EXT_KEY"}]}]}
    with_key = procs.gateway(config, env={"EXT_KEY": "sk-upstream-secret"})
    assert httpx.post(with_key.url + CHAT, json=chat()).status_code == 200
    without_key = procs.gateway(config)
    assert httpx.post(without_key.url + CHAT, json=chat()).status_code == 401
    assert "sk-upstream-secret" not in with_key.log_text()


def test_https_upstreams_are_verified(procs: ProcessFactory, tmp_path: Path) -> None:
    pki = TestPki(tmp_path / "pki")
    cert, key = pki.server("upstream")
    sim = procs.simulator("m", "--itl-ms", "1", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
                          ca_file=str(pki.ca_file))
    assert sim.url.startswith("https://")
    config = {"version": "1", "pools": [pool("tls", "m", sim.url)]}
    trusting = procs.gateway(config, env={"SSL_CERT_FILE": str(pki.ca_file)})
    response = httpx.post(trusting.url + CHAT, json=chat(stream=True))
    assert response.status_code == 200 and response.text.rstrip().endswith("data: [DONE]")
    untrusting = procs.gateway(config)  # the system store does not know the test CA: refused
    response = httpx.post(untrusting.url + CHAT, json=chat())
    assert response.status_code == 502 and "certificate" in response.json()["error"]["message"].lower()


def test_an_alias_is_rewritten_to_the_name_the_engine_serves(procs: ProcessFactory) -> None:
    sim = procs.simulator("org/model-a-v1", "--itl-ms", "1")  # answers to this name only
    config = {"version": "1", "pools": [{"name": "p", "endpoints": [{"url": sim.url}],
                                         "models": [{"name": "model-a", "aliases": ["a"],
                                                     "upstreamName": "org/model-a-v1"}]}]}
    gw = procs.gateway(config)
    for requested in ("a", "model-a"):
        response = httpx.post(gw.url + CHAT, json=chat(requested))
        assert response.status_code == 200, response.text
        assert response.json()["model"] == requested
        assert response.headers["x-tokenway-upstream-model"] == "org/model-a-v1"
    assert httpx.post(sim.url + CHAT, json=chat("a")).status_code == 404  # the engine does not know the alias


def test_least_request_avoids_the_endpoint_busy_with_a_long_stream(procs: ProcessFactory) -> None:
    sims = [procs.simulator("m", "--itl-ms", "20") for _ in range(2)]
    gw = procs.gateway({"version": "1", "pools": [{
        "name": "p", "models": [{"name": "m"}], "loadBalancing": {"algorithm": "least-request"},
        "endpoints": [{"url": s.url, "name": f"e{i}"} for i, s in enumerate(sims)]}]})
    busy: dict[str, str] = {}
    started = threading.Event()

    def long_stream() -> None:
        with httpx.stream("POST", gw.url + CHAT, json=chat(max_tokens=150, stream=True), timeout=30) as response:
            busy["endpoint"] = response.headers["x-tokenway-endpoint"]
            started.set()
            for _ in response.iter_raw():
                pass

    thread = threading.Thread(target=long_stream)
    thread.start()
    assert started.wait(10)
    with httpx.Client() as client:
        used = [client.post(gw.url + CHAT, json=chat()).headers["x-tokenway-endpoint"] for _ in range(10)]
    thread.join(30)
    # Round robin would alternate; least request sends every short request to the idle endpoint.
    assert busy["endpoint"] not in used and len(set(used)) == 1


def test_concurrent_streams_spread_across_endpoints(procs: ProcessFactory) -> None:
    sims = [procs.simulator("m", "--itl-ms", "5") for _ in range(2)]
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", *(s.url for s in sims))]})

    def one(_: int) -> str:
        return httpx.post(gw.url + CHAT, json=chat(stream=True, max_tokens=20), timeout=30).headers[
            "x-tokenway-endpoint"]

    with concurrent.futures.ThreadPoolExecutor(8) as executor:
        used = Counter(executor.map(one, range(16)))
    assert len(used) == 2 and min(used.values()) >= 4


def test_the_upstreams_own_5xx_is_relayed_when_no_retry_is_left(procs: ProcessFactory) -> None:
    bad = procs.simulator("m", "--error-rate", "1.0", "--error-status", "500")
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", bad.url)]})
    started = time.monotonic()
    response = httpx.post(gw.url + CHAT, json=chat())
    assert response.status_code == 500 and response.json()["error"]["type"]
    assert time.monotonic() - started < 5
