"""The simulator (`tokenway sim`), over real HTTP on loopback.

Timing assertions compare relative figures with wide margins: the test machine
may be loaded.
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import signal
import socket
import subprocess
import sys
import time
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tokenway_gateway.cli import build_parser
from tokenway_gateway.simulator import SimulatorConfig, SimulatorHandle, start_simulator
from tokenway_gateway.simulator.cli import DESCRIPTION, config_from_args
from tokenway_gateway.simulator.prefix_cache import PrefixCache, block_hashes
from tokenway_gateway.simulator.tokenizer import chat_prompt_tokens, tokenize

Factory = Callable[..., Awaitable[SimulatorHandle]]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def sim() -> AsyncIterator[Factory]:
    """Start simulators with fast defaults (any SimulatorConfig field overrides them)."""
    handles: list[SimulatorHandle] = []

    async def start(**overrides: Any) -> SimulatorHandle:
        fields: dict[str, Any] = {"model": "m1", "prefill_overhead_ms": 1.0, "prefill_ms_per_token": 0.0,
                                  "itl_ms": 1.0, "itl_growth_per_seq": 0.0}
        fields.update(overrides)
        handle = await start_simulator(SimulatorConfig(**fields))
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        await handle.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body) as response:
        return response.status, orjson.loads(await response.read())


async def stream(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[list[Any], float, list[float]]:
    """The parsed SSE events ("[DONE]" kept as a string), the TTFT and the token arrival times."""
    events: list[Any] = []
    token_times: list[float] = []
    start = time.perf_counter()
    ttft = math.nan
    async with http.post(url, json=body) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for raw in response.content:
            line = raw.strip()
            if not line:
                continue
            assert line.startswith(b"data: ")
            payload = line[len(b"data: "):]
            if payload == b"[DONE]":
                events.append("[DONE]")
                continue
            event = orjson.loads(payload)
            events.append(event)
            if any(c.get("text") or c.get("delta", {}).get("content") for c in event["choices"]):
                now = time.perf_counter()
                if math.isnan(ttft):
                    ttft = now - start
                token_times.append(now)
    return events, ttft, token_times


async def scrape(http: aiohttp.ClientSession, handle: SimulatorHandle) -> dict[str, float]:
    """Every sample of /metrics, keyed by name and labels (model_name dropped)."""
    async with http.get(handle.url + "/metrics") as response:
        text = await response.text()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "model_name")
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples


# -- chat and completions ----------------------------------------------------------------
async def test_chat_non_streaming_shape_and_usage(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim()
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hello, world!"},
                                             {"type": "image_url", "image_url": {"url": "x"}}]}]
    status, body = await post(http, h.url + "/v1/chat/completions",
                              {"model": "m1", "messages": messages, "max_tokens": 7})
    assert status == 200
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert isinstance(body["created"], int) and body["model"] == "m1"
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "length"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    usage = body["usage"]
    assert usage["prompt_tokens"] == len(chat_prompt_tokens(messages)) == (2 + 4) + (2 + 6) + 1
    assert usage["completion_tokens"] == 7
    assert usage["total_tokens"] == usage["prompt_tokens"] + 7
    assert len(tokenize(choice["message"]["content"])) == 7  # one pseudo-word per token


async def test_chat_streaming_with_and_without_usage(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim()
    request = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": True}
    events, _, tokens = await stream(http, h.url + "/v1/chat/completions", request)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(tokens) == 5
    assert chunks[-1]["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}]

    request["stream_options"] = {"include_usage": True}
    events, _, _ = await stream(http, h.url + "/v1/chat/completions", request)
    assert events[-1] == "[DONE]"
    final = events[-2]
    assert final["choices"] == []
    assert final["usage"]["completion_tokens"] == 5 and final["usage"]["prompt_tokens"] == 4
    assert all(c["usage"] is None for c in events[:-2])


async def test_completions_non_streaming_and_streaming(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim()
    status, body = await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": "Say this", "max_tokens": 4})
    assert status == 200 and body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    assert body["choices"][0]["finish_reason"] == "length" and body["choices"][0]["text"]
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6,
                             "prompt_tokens_details": {"cached_tokens": 0}}

    events, _, tokens = await stream(http, h.url + "/v1/completions", {
        "model": "m1", "prompt": ["one two", [1, 2, 3]], "max_tokens": 3, "stream": True,
        "stream_options": {"include_usage": True}})
    assert events[-1] == "[DONE]" and len(tokens) == 6
    assert events[-2]["usage"]["prompt_tokens"] == 5 and events[-2]["usage"]["completion_tokens"] == 6
    finishes = {c["choices"][0]["index"]: c["choices"][0]["finish_reason"]
                for c in events[:-2] if c["choices"][0]["finish_reason"]}
    assert finishes == {0: "length", 1: "length"}


async def test_output_is_deterministic_given_the_seed(sim: Factory, http: aiohttp.ClientSession) -> None:
    a, b, c = await sim(seed=7), await sim(seed=7), await sim(seed=8)
    request: dict[str, Any] = {"model": "m1", "messages": [{"role": "user", "content": "Tell me a story"}]}

    async def answer(h: SimulatorHandle) -> dict[str, Any]:
        status, body = await post(http, h.url + "/v1/chat/completions", request)
        assert status == 200
        return body["choices"][0]  # type: ignore[no-any-return]

    first, again, other = await answer(a), await answer(b), await answer(c)
    assert first["message"] == again["message"] and first["message"] != other["message"]
    assert first["finish_reason"] == "stop"
    assert 16 <= len(tokenize(first["message"]["content"])) <= 128
    # max_completion_tokens wins over max_tokens, and a server default applies when neither is set.
    request.update(max_tokens=9, max_completion_tokens=3)
    assert len(tokenize((await answer(a))["message"]["content"])) == 3
    d = await sim(max_tokens_default=11)
    del request["max_tokens"], request["max_completion_tokens"]
    assert len(tokenize((await answer(d))["message"]["content"])) == 11


async def test_bad_input_gets_openai_errors(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(served_model_names=["alias"], max_model_len=64)
    url = h.url + "/v1/chat/completions"
    async with http.post(url, data=b"{not json", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
        error = (await r.json())["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    status, body = await post(http, url, {"model": "m1"})
    assert status == 400 and body["error"]["param"] == "messages"
    status, body = await post(http, url, {"model": "m1", "messages": [{"content": "no role"}]})
    assert status == 400
    status, body = await post(http, url, {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert status == 404 and body["error"]["message"] == "The model `nope` does not exist."
    status, body = await post(http, url, {"model": "m1", "messages": [{"role": "user", "content": "x"}],
                                          "stream_options": {"include_usage": True}})
    assert status == 400 and body["error"]["param"] == "stream_options"
    status, body = await post(http, url, {"model": "m1", "messages": [{"role": "user", "content": "x"}],
                                          "max_tokens": 100})
    assert status == 400 and "maximum context length is 64" in body["error"]["message"]
    status, body = await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": "x", "max_tokens": 0})
    assert status == 400 and body["error"]["param"] == "max_tokens"
    status, body = await post(http, h.url + "/v1/completions", {"model": "alias", "prompt": "x", "max_tokens": 1})
    assert status == 200 and body["model"] == "alias"


async def test_models_health_and_embeddings(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(served_model_names=["a1", "a2"], embedding_dim=32)
    async with http.get(h.url + "/v1/models") as r:
        models = await r.json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["m1", "a1", "a2"]
    assert all(m["object"] == "model" and m["root"] == "m1" for m in models["data"])
    async with http.get(h.url + "/health") as r:
        assert r.status == 200

    status, body = await post(http, h.url + "/v1/embeddings", {"model": "m1", "input": ["alpha", "beta", "alpha"]})
    assert status == 200 and body["object"] == "list" and body["usage"]["prompt_tokens"] == 5  # alph|a, beta, alph|a
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2] and all(len(v) == 32 for v in vectors)
    assert all(abs(math.fsum(x * x for x in v) - 1.0) < 1e-9 for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    status, body = await post(http, h.url + "/v1/embeddings",
                              {"model": "m1", "input": "alpha", "encoding_format": "base64", "dimensions": 8})
    decoded = array("f", base64.b64decode(body["data"][0]["embedding"]))
    assert status == 200 and len(decoded) == 8


# -- prefix cache and batching -----------------------------------------------------------
async def test_prefix_cache_makes_a_repeated_prompt_faster(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(prefill_ms_per_token=0.25)  # 480 uncached tokens -> ~120 ms of prefill
    prompt = " ".join(f"w{i}" for i in range(480))
    request = {"model": "m1", "prompt": prompt, "max_tokens": 2, "stream": True}
    _, cold, _ = await stream(http, h.url + "/v1/completions", request)
    before = await scrape(http, h)
    _, warm, _ = await stream(http, h.url + "/v1/completions", request)
    after = await scrape(http, h)
    assert warm < cold * 0.6, (cold, warm)
    assert after["vllm:prefix_cache_hits_total"] - before["vllm:prefix_cache_hits_total"] == 464  # 29 blocks
    assert after["vllm:prefix_cache_queries_total"] == 2 * 480
    status, body = await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": prompt, "max_tokens": 1})
    assert status == 200 and body["usage"]["prompt_tokens_details"]["cached_tokens"] == 464

    off = await sim(prefill_ms_per_token=0.25, enable_prefix_caching=False)
    await stream(http, off.url + "/v1/completions", request)
    _, again, _ = await stream(http, off.url + "/v1/completions", request)
    assert again > warm * 1.5
    assert (await scrape(http, off))["vllm:prefix_cache_hits_total"] == 0


def test_prefix_cache_blocks_chain_and_evict() -> None:
    tokens = [str(i) for i in range(64)]
    cache = PrefixCache(block_size=16, capacity=4)
    hashes = block_hashes(tokens, 16)
    assert len(hashes) == 4 and cache.match(hashes, 64) == 0
    cache.insert(hashes)
    assert cache.match(hashes, 64) == 48  # the last token is always computed
    assert cache.match(hashes, 65) == 64
    other = block_hashes(["x", *tokens[1:]], 16)  # same later blocks, different first block: no hit
    assert cache.match(other, 64) == 0
    cache.insert(block_hashes([str(i) for i in range(100, 132)], 16))  # evicts the two oldest blocks
    assert len(cache) == 4 and cache.match(hashes, 65) == 0


async def test_batching_queues_beyond_max_num_seqs(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(max_num_seqs=2, itl_ms=4.0, itl_growth_per_seq=1.0, kv_cache_blocks=64)
    url = h.url + "/v1/completions"
    request = {"model": "m1", "prompt": "batch me", "max_tokens": 25, "stream": True}
    _, _, solo = await stream(http, url, request)

    runs = [asyncio.create_task(stream(http, url, request)) for _ in range(4)]
    peak = {"waiting": 0.0, "running": 0.0, "kv": 0.0}
    while not all(t.done() for t in runs):
        m = await scrape(http, h)
        peak["waiting"] = max(peak["waiting"], m["vllm:num_requests_waiting"])
        peak["running"] = max(peak["running"], m["vllm:num_requests_running"])
        peak["kv"] = max(peak["kv"], m["vllm:kv_cache_usage_perc"])
        await asyncio.sleep(0.005)
    results = [t.result() for t in runs]
    assert peak["waiting"] == 2 and peak["running"] == 2 and 0 < peak["kv"] <= 1
    assert all(events[-1] == "[DONE]" and len(times) == 25 for events, _, times in results)

    def mean_itl(times: list[float]) -> float:
        return (times[-1] - times[0]) / (len(times) - 1)

    # Two running sequences: ITL = 4 ms * (1 + 1.0 * 1) = 2x the solo ITL.
    batched = min(mean_itl(times) for _, _, times in results)
    assert batched > mean_itl(solo) * 1.3, (batched, mean_itl(solo))
    # The last two waited for the first two: their TTFT includes the queue time.
    ttfts = sorted(ttft for _, ttft, _ in results)
    assert ttfts[2] > ttfts[1] + mean_itl(solo) * 10
    m = await scrape(http, h)
    assert m["vllm:num_requests_running"] == 0 and m["vllm:num_requests_waiting"] == 0
    assert m["vllm:kv_cache_usage_perc"] == 0
    assert m["vllm:request_queue_time_seconds_count"] == 5


async def test_client_disconnect_frees_the_slot(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(max_num_seqs=1, itl_ms=5.0)
    url = h.url + "/v1/chat/completions"
    long = {"model": "m1", "messages": [{"role": "user", "content": "go"}], "max_tokens": 2000, "stream": True}
    async with http.post(url, json=long) as response:
        seen = 0
        async for line in response.content:
            seen += line.startswith(b"data: ")
            if seen == 3:
                break
        response.close()
    deadline = time.monotonic() + 5
    while h.engine.num_running and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    m = await scrape(http, h)
    assert m["vllm:num_requests_running"] == 0 and m["vllm:kv_cache_usage_perc"] == 0
    assert m["vllm:request_success_total{finished_reason=abort}"] == 1
    assert m["vllm:generation_tokens_total"] < 100
    status, _ = await post(http, url, {"model": "m1", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2})
    assert status == 200


# -- faults ------------------------------------------------------------------------------
async def test_error_rate_and_runtime_fault_changes(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(error_rate=1.0)
    chat = {"model": "m1", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    for _ in range(3):
        status, body = await post(http, h.url + "/v1/chat/completions", chat)
        assert status == 500 and body["error"]["type"] == "server_error"
    status, faults = await post(http, h.url + "/sim/faults", {"error_status": 503})
    assert status == 200 and faults["error_status"] == 503 and faults["error_rate"] == 1.0
    status, body = await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": "x"})
    assert status == 503 and set(body["error"]) == {"message", "type", "param", "code"}
    status, body = await post(http, h.url + "/sim/faults", {"error_rate": 2})
    assert status == 400
    status, _ = await post(http, h.url + "/sim/faults", {"error_rate": 0})
    status, _ = await post(http, h.url + "/v1/chat/completions", chat)
    assert status == 200


async def test_stall_delays_the_first_token(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim()
    request = {"model": "m1", "prompt": "x", "max_tokens": 2, "stream": True}
    _, quick, _ = await stream(http, h.url + "/v1/completions", request)
    h.faults.update({"stall_first_token_ms": 250})
    _, stalled, _ = await stream(http, h.url + "/v1/completions", request)
    assert stalled >= 0.24 and stalled > quick + 0.15, (quick, stalled)


async def test_disconnect_truncates_the_stream(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(disconnect_rate=1.0, disconnect_after_tokens=3)
    lines: list[bytes] = []
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.post(h.url + "/v1/completions",
                             json={"model": "m1", "prompt": "x", "max_tokens": 20, "stream": True}) as response:
            async for line in response.content:
                if line.strip():
                    lines.append(line.strip())
    assert len(lines) == 3 and b"data: [DONE]" not in lines
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": "x", "max_tokens": 2})


async def test_startup_delay_answers_503_then_200(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(startup_delay_s=0.4)
    async with http.get(h.url + "/health") as r:
        assert r.status == 503
    status, body = await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": "x"})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    await asyncio.sleep(0.45)
    async with http.get(h.url + "/health") as r:
        assert r.status == 200
    status, _ = await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": "x", "max_tokens": 1})
    assert status == 200


# -- clients, metrics, CLI ----------------------------------------------------------------
async def test_official_openai_sdk_sync_and_async(sim: Factory) -> None:
    h = await sim(served_model_names=["alias"])
    base = h.url + "/v1"
    messages: Any = [{"role": "user", "content": "hello"}]

    def sync_calls() -> tuple[str, int, int]:
        with openai.OpenAI(base_url=base, api_key="x", max_retries=0) as client:
            reply = client.chat.completions.create(model="m1", messages=messages, max_tokens=4)
            pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
                model="alias", messages=messages, max_tokens=4, stream=True) if c.choices]
            embedding = client.embeddings.create(model="m1", input="hello")  # the SDK asks for base64
            assert reply.choices[0].message.content == "".join(pieces)
            assert reply.usage is not None
            content = reply.choices[0].message.content or ""
            return content, reply.usage.completion_tokens, len(embedding.data[0].embedding)

    text, completion_tokens, dim = await asyncio.to_thread(sync_calls)
    assert text and completion_tokens == 4 and dim == 768

    async with openai.AsyncOpenAI(base_url=base, api_key="x", max_retries=0) as client:
        chunks = [c async for c in await client.chat.completions.create(
            model="m1", messages=messages, max_tokens=4, stream=True, stream_options={"include_usage": True})]
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
        completion = await client.completions.create(model="m1", prompt="hi", max_tokens=3)
        assert completion.usage is not None and completion.usage.completion_tokens == 3
        models = await client.models.list()
        assert [m.id for m in models.data] == ["m1", "alias"]
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="missing", messages=messages)


async def test_metrics_exposition_has_vllm_names_and_types(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim()
    await post(http, h.url + "/v1/completions", {"model": "m1", "prompt": "hi you", "max_tokens": 3})
    async with http.get(h.url + "/metrics") as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(await r.text())}
    expected = {
        "vllm:num_requests_running": "gauge", "vllm:num_requests_waiting": "gauge",
        "vllm:kv_cache_usage_perc": "gauge", "vllm:prefix_cache_hits": "counter",
        "vllm:prefix_cache_queries": "counter", "vllm:prompt_tokens": "counter",
        "vllm:generation_tokens": "counter", "vllm:request_success": "counter",
        "vllm:time_to_first_token_seconds": "histogram", "vllm:inter_token_latency_seconds": "histogram",
        "vllm:e2e_request_latency_seconds": "histogram", "vllm:request_queue_time_seconds": "histogram",
    }
    for name, kind in expected.items():
        assert families[name].type == kind, name
        assert all(s.labels.get("model_name") == "m1" for s in families[name].samples), name
    values = {s.name: s.value for f in families.values() for s in f.samples if not s.labels.get("le")}
    assert values["vllm:prompt_tokens_total"] == 2 and values["vllm:generation_tokens_total"] == 3
    assert values["vllm:time_to_first_token_seconds_count"] == 1
    assert values["vllm:inter_token_latency_seconds_count"] == 2


async def test_time_scale_zero_is_a_fast_upstream(sim: Factory, http: aiohttp.ClientSession) -> None:
    h = await sim(time_scale=0, itl_ms=1000.0, prefill_overhead_ms=1000.0)
    request = {"model": "m1", "prompt": "x", "max_tokens": 16}
    start = time.perf_counter()
    results = await asyncio.gather(*(post(http, h.url + "/v1/completions", request) for _ in range(200)))
    assert all(status == 200 for status, _ in results)
    assert time.perf_counter() - start < 5.0  # at 1x these would take 16 s each
    events, _, tokens = await stream(http, h.url + "/v1/completions", {**request, "stream": True})
    assert len(tokens) == 16 and events[-1] == "[DONE]"


def test_cli_flags_cover_every_config_field() -> None:
    args = build_parser(["sim"]).parse_args(["sim", "--model", "m9", "--served-model-name", "a", "b",
                                             "--no-prefix-caching", "--itl-ms", "3", "--error-rate", "0.5"])
    config = config_from_args(args)
    assert config.model_names == ["m9", "a", "b"] and not config.enable_prefix_caching
    assert config.itl_ms == 3 and config.error_rate == 0.5
    defaults = config_from_args(build_parser(["sim"]).parse_args(["sim"]))
    assert defaults == SimulatorConfig()
    for formula in ("TTFT", "ITL(r) = itl * (1 + itl_growth * (r - 1))", "prefill_per_token", "--time-scale"):
        assert formula in DESCRIPTION


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_cli_process_serves_and_stops_on_sigterm(http: aiohttp.ClientSession) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "dataplane"), str(ROOT / "operator")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tokenway_gateway.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
        "--model", "m1", "--time-scale", "0", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/health") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                pass
            assert time.monotonic() < deadline and proc.returncode is None, "the simulator did not come up"
            await asyncio.sleep(0.05)
        status, body = await post(http, f"http://127.0.0.1:{port}/v1/completions",
                                  {"model": "m1", "prompt": "hi", "max_tokens": 2})
        assert status == 200 and body["usage"]["completion_tokens"] == 2
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err
