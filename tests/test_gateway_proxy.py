"""The gateway over real loopback HTTP against simulator processes: happy paths."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from procs import ProcessFactory, pool
from prometheus_client.parser import text_string_to_metric_families

CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def stack(module_procs: ProcessFactory) -> dict[str, Any]:
    fast = ("--time-scale", "1", "--itl-ms", "2", "--prefill-overhead-ms", "1")
    a1 = module_procs.simulator("model-a", "--served-model-name", "alias-a", *fast)
    a2 = module_procs.simulator("model-a", "--served-model-name", "alias-a", *fast)
    b1 = module_procs.simulator("model-b", *fast)
    config = {
        "version": "t1",
        "pools": [pool("pool-a", "model-a", a1.url, a2.url, aliases=["alias-a"]), pool("pool-b", "model-b", b1.url)],
        "routes": [{
            "name": "tiers",
            "rules": [{"name": "premium", "match": {"headers": {"x-tier": "premium"}, "models": ["model-a"]},
                       "backends": [{"pool": "pool-b", "model": "model-b"}]}],
        }],
    }
    gw = module_procs.gateway(config)
    return {"gw": gw, "sims": [a1, a2, b1]}


def chat(messages: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "model-a", "messages": [{"role": "user", "content": messages}], "max_tokens": 8, **extra}


def sse_events(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def test_non_streaming_chat_relays_body_usage_and_headers(stack: dict[str, Any]) -> None:
    response = httpx.post(stack["gw"].url + CHAT, json=chat(), headers={"x-request-id": "req-123"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["usage"]["completion_tokens"] == 8
    assert body["usage"]["prompt_tokens"] > 0
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers["x-tokenway-pool"] == "pool-a"
    assert float(response.headers["x-tokenway-overhead-ms"]) >= 0


def test_generated_request_id_when_client_sends_none(stack: dict[str, Any]) -> None:
    ids = {httpx.post(stack["gw"].url + CHAT, json=chat()).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(len(i) >= 16 for i in ids)


def test_streaming_hides_the_usage_chunk_it_asked_for(stack: dict[str, Any]) -> None:
    response = httpx.post(stack["gw"].url + CHAT, json=chat(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert not any('"usage":{' in e.replace(" ", "") for e in events[:-1])
    assert sum(1 for e in events if '"delta"' in e) >= 8


def test_streaming_with_include_usage_returns_usage(stack: dict[str, Any]) -> None:
    body = chat(stream=True, stream_options={"include_usage": True})
    events = sse_events(httpx.post(stack["gw"].url + CHAT, json=body).text)
    import json

    usage = [json.loads(e)["usage"] for e in events[:-1] if json.loads(e).get("usage")]
    assert usage and usage[-1]["completion_tokens"] == 8


def test_streaming_is_relayed_as_it_arrives(procs: ProcessFactory) -> None:
    slow = procs.simulator("slow", "--itl-ms", "60", "--prefill-overhead-ms", "1")
    gw = procs.gateway({"version": "1", "pools": [pool("slow", "slow", slow.url)]})
    arrivals: list[float] = []
    start = time.perf_counter()
    with httpx.stream("POST", gw.url + CHAT, json={"model": "slow", "max_tokens": 10, "stream": True,
                                                    "messages": [{"role": "user", "content": "hi"}]}) as response:
        for _ in response.iter_raw():
            arrivals.append(time.perf_counter() - start)
    # 10 tokens at 60 ms: a buffering proxy would deliver everything at once at the end.
    assert len(arrivals) >= 5
    assert arrivals[0] < arrivals[-1] * 0.5


def test_completions_api_streaming_and_not(stack: dict[str, Any]) -> None:
    url = stack["gw"].url + "/v1/completions"
    plain = httpx.post(url, json={"model": "model-b", "prompt": "Once upon", "max_tokens": 5})
    assert plain.status_code == 200 and plain.json()["object"] == "text_completion"
    assert plain.json()["usage"]["completion_tokens"] == 5
    streamed = sse_events(httpx.post(url, json={"model": "model-b", "prompt": "Once", "max_tokens": 5,
                                                "stream": True}).text)
    assert streamed[-1] == "[DONE]" and len(streamed) >= 6


def test_embeddings_are_proxied(stack: dict[str, Any]) -> None:
    response = httpx.post(stack["gw"].url + "/v1/embeddings", json={"model": "model-b", "input": ["a", "b"]})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2


def test_models_is_the_union_of_pools_and_aliases(stack: dict[str, Any]) -> None:
    names = {m["id"] for m in httpx.get(stack["gw"].url + "/v1/models").json()["data"]}
    assert names == {"model-a", "alias-a", "model-b"}


def test_header_rule_routes_to_another_pool(stack: dict[str, Any]) -> None:
    response = httpx.post(stack["gw"].url + CHAT, json=chat(), headers={"x-tier": "premium"})
    assert response.status_code == 200
    assert response.headers["x-tokenway-pool"] == "pool-b"
    # The client sees the model it asked for; the engine's name is in a header.
    assert response.json()["model"] == "model-a"
    assert response.headers["x-tokenway-upstream-model"] == "model-b"


def test_metrics_record_latency_and_tokens(stack: dict[str, Any]) -> None:
    httpx.post(stack["gw"].url + CHAT, json=chat(stream=True))
    text = httpx.get(stack["gw"].url + "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("tokenway_ttft_seconds", "tokenway_itl_seconds", "tokenway_e2e_seconds",
                 "tokenway_upstream_seconds", "tokenway_gateway_overhead_seconds"):
        assert families[name].type == "histogram", name
    ttft = [s for s in families["tokenway_ttft_seconds"].samples
            if s.name.endswith("_count") and s.labels == {"model": "model-a", "pool": "pool-a", "route": "default"}]
    assert ttft and ttft[0].value >= 1
    completion = [s.value for s in families["tokenway_completion_tokens"].samples
                  if s.labels.get("pool") == "pool-a"]
    assert completion and completion[0] >= 8
    statuses = {s.labels["status"] for s in families["tokenway_requests"].samples}
    assert "200" in statuses


def test_openai_sdk_sync_async_and_streaming(stack: dict[str, Any]) -> None:
    import asyncio

    import openai

    base = stack["gw"].url + "/v1"
    client = openai.OpenAI(base_url=base, api_key="unused")
    result = client.chat.completions.create(model="model-a", messages=[{"role": "user", "content": "hi"}],
                                            max_tokens=4)
    assert result.usage is not None and result.usage.completion_tokens == 4
    pieces = [c.choices[0].delta.content for c in client.chat.completions.create(
        model="model-a", messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True) if c.choices]
    assert len([p for p in pieces if p]) >= 4
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])

    async def async_calls() -> tuple[int, int]:
        aclient = openai.AsyncOpenAI(base_url=base, api_key="unused")
        plain = await aclient.completions.create(model="model-b", prompt="x", max_tokens=3)
        stream = await aclient.chat.completions.create(
            model="model-a", messages=[{"role": "user", "content": "hi"}], max_tokens=5, stream=True,
            stream_options={"include_usage": True})
        usage = 0
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage.completion_tokens
        await aclient.close()
        assert plain.usage is not None
        return plain.usage.completion_tokens, usage

    assert asyncio.run(async_calls()) == (3, 5)


def test_access_log_is_one_json_line_per_request_without_the_prompt(procs: ProcessFactory) -> None:
    import json

    sim = procs.simulator("m", "--itl-ms", "1")
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", sim.url)]}, "--access-log")
    secret_prompt = "my-secret-prompt-text"
    httpx.post(gw.url + CHAT, json={"model": "m", "max_tokens": 3, "stream": True,
                                    "messages": [{"role": "user", "content": secret_prompt}]},
               headers={"x-request-id": "abc", "authorization": "Bearer sk-secret"})
    deadline = time.monotonic() + 5
    while '"request_id":"abc"' not in gw.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [json.loads(line) for line in gw.log_text().splitlines() if '"logger":"tokenway.access"' in line]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["request_id"] == "abc" and entry["status"] == 200 and entry["pool"] == "p"
    assert entry["completion_tokens"] == 3 and entry["ttft_ms"] > 0 and entry["stream"] is True
    assert secret_prompt not in gw.log_text() and "sk-secret" not in gw.log_text()
