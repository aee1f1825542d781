"""The metrics scraper and active health checks against real servers on loopback (simulated vLLM replicas)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from procs import free_port
from test_picking import Req
from tokenway_gateway.api.route import ActiveHealthCheck, LoadBalancing
from tokenway_gateway.picking import PickerRegistry
from tokenway_gateway.picking.scraper import apply_page, metric_sum
from tokenway_gateway.routing.endpoints import Endpoint
from tokenway_gateway.simulator.config import SimulatorConfig
from tokenway_gateway.simulator.server import SimulatorHandle, start_simulator

VLLM_PAGE = b"""# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="1",model_name="m"} 2.0
vllm:num_requests_running{engine="0",model_name="m"} 7.0
vllm:num_requests_waiting_by_reason{reason="capacity"} 99.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:prefix_cache_queries_total{model_name="m"} 1234.0
"""


def test_the_page_parser_reads_only_the_named_samples() -> None:
    assert metric_sum(VLLM_PAGE, [b"vllm:num_requests_waiting"]) == 5.0  # summed over engines, not _by_reason
    assert metric_sum(VLLM_PAGE, [b"vllm:num_requests_running"]) == 7.0
    assert metric_sum(VLLM_PAGE, [b"vllm:kv_cache_usage_perc", b"vllm:gpu_cache_usage_perc"]) == 0.25
    assert metric_sum(b"vllm:gpu_cache_usage_perc 0.5\n", [b"vllm:kv_cache_usage_perc",
                                                          b"vllm:gpu_cache_usage_perc"]) == 0.5  # older vLLM
    assert metric_sum(VLLM_PAGE, [b"vllm:missing"]) is None
    endpoint = Endpoint("http://127.0.0.1:1")
    endpoint.in_flight = 4
    assert apply_page(endpoint, VLLM_PAGE, 10.0)
    assert (endpoint.waiting, endpoint.running, endpoint.kv_usage, endpoint.scraped_at,
            endpoint.in_flight_at_scrape) == (5.0, 7.0, 0.25, 10.0, 4)
    assert not apply_page(endpoint, b"<html>not metrics</html>", 11.0)
    assert endpoint.scraped_at == 10.0


@pytest.fixture
async def sims() -> AsyncIterator[Callable[..., asyncio.Future[SimulatorHandle]]]:
    handles: list[SimulatorHandle] = []

    async def start(**overrides: object) -> SimulatorHandle:
        handle = await start_simulator(SimulatorConfig(model="m", **overrides))  # type: ignore[arg-type]
        handles.append(handle)
        return handle

    yield start  # type: ignore[misc]
    for handle in handles:
        await handle.stop()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_scraper_feeds_the_llm_aware_picker(sims: Callable[..., asyncio.Future[SimulatorHandle]]) -> None:
    busy = await sims(max_num_seqs=1, prefill_overhead_ms=2000.0)
    idle = await sims()
    dead = Endpoint(f"http://127.0.0.1:{free_port()}")
    eps = [Endpoint(busy.url), Endpoint(idle.url), dead]
    registry = PickerRegistry()
    lb = LoadBalancing(algorithm="llm-aware", metrics_interval_seconds=0.05, queue_threshold=100)
    picker = registry.picker("p", lb, None, eps)
    registry.start()
    try:
        await wait_for(lambda: eps[0].scraped_at > 0 and eps[1].served_models is not None)
        assert eps[1].served_models is not None and "m" in eps[1].served_models
        # Load the busy replica directly (not through the gateway): only the scrape can reveal it.
        body = {"model": "m", "prompt": "hello", "max_tokens": 1}
        async with aiohttp.ClientSession() as http:
            tasks = [asyncio.create_task(http.post(busy.url + "/v1/completions", json=body)) for _ in range(4)]
            await wait_for(lambda: eps[0].waiting >= 3)
            assert eps[0].running == 1.0 and eps[1].waiting == 0.0
            dead.ejected_until = time.monotonic() + 60  # the dead one is the outlier detector's business
            picks = {picker.pick(Req(), ()) for _ in range(30)}
            assert picks == {eps[1]}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert dead.scraped_at == 0.0  # never answered; scraping it raised nothing
        rounds = registry.scraper.rounds
        await wait_for(lambda: registry.scraper.rounds >= rounds + 3)
    finally:
        await registry.stop()


async def test_scraping_follows_the_config(sims: Callable[..., asyncio.Future[SimulatorHandle]]) -> None:
    sim = await sims()
    endpoint = Endpoint(sim.url)
    registry = PickerRegistry()
    registry.start()
    try:
        least = registry.picker("p", LoadBalancing(), None, [endpoint])
        registry.retain({least.key})
        await asyncio.sleep(0.3)
        assert endpoint.scraped_at == 0.0  # least-request pools are not scraped
        llm = registry.picker("p", LoadBalancing(algorithm="llm-aware", metrics_interval_seconds=0.05), None,
                              [endpoint])
        registry.retain({llm.key})
        await wait_for(lambda: endpoint.scraped_at > 0)
    finally:
        await registry.stop()


async def test_active_health_checks_take_endpoints_out_and_back() -> None:
    status = {"code": 200}

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=status["code"], text="ok")

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    good, down = Endpoint(f"http://127.0.0.1:{port}"), Endpoint(f"http://127.0.0.1:{free_port()}")
    registry = PickerRegistry()
    check = ActiveHealthCheck(interval_seconds=0.05, timeout_seconds=0.5, unhealthy_threshold=2, healthy_threshold=2)
    picker = registry.picker("ext", LoadBalancing(algorithm="round-robin"), None, [good, down], health=check)
    registry.start()
    try:
        await wait_for(lambda: not down.healthy)
        assert good.healthy
        assert {picker.pick(Req(), ()) for _ in range(10)} == {good}
        status["code"] = 503
        await wait_for(lambda: not good.healthy)
        assert picker.pick(Req(), ()) in (good, down)  # both out: panic mode still routes
        status["code"] = 200
        await wait_for(lambda: good.healthy)
        registry.retain(set())  # the pool left the config: its endpoints are no longer held out
        assert down.healthy
    finally:
        await registry.stop()
        await runner.cleanup()


async def test_simulator_prefill_lanes_serialize_prefills(
        sims: Callable[..., asyncio.Future[SimulatorHandle]]) -> None:
    """The routing benchmark's fleet: one prefill lane, so prefills queue and show as waiting."""
    sim = await sims(prefill_lanes=1, prefill_overhead_ms=600.0, max_num_seqs=8)
    body = {"model": "m", "prompt": "hello there", "max_tokens": 1}

    async def ttft(http: aiohttp.ClientSession) -> float:
        started = time.perf_counter()
        async with http.post(sim.url + "/v1/completions", json=body) as response:
            await response.read()
        return time.perf_counter() - started

    async with aiohttp.ClientSession() as http:
        tasks = [asyncio.create_task(ttft(http)) for _ in range(3)]
        await wait_for(lambda: sim.engine.num_running == 3)
        assert sim.engine.num_waiting() == 2  # two prefills wait for the lane
        times = sorted(await asyncio.gather(*tasks))
    # one after the other: ~0.6, ~1.2, ~1.8 s (generous bounds for a loaded machine)
    assert times[0] < 1.0 and 1.1 < times[1] < 1.8 and 1.7 < times[2] < 2.8, times


async def test_scrapes_ask_for_the_gauges_only(sims: Callable[..., asyncio.Future[SimulatorHandle]]) -> None:
    """name[] filtering (prometheus_client's, which vLLM serves): a small page, cheap at 1,000 endpoints."""
    from tokenway_gateway.picking.scraper import METRICS_QUERY

    sim = await sims()
    async with aiohttp.ClientSession() as http:
        full = await (await http.get(sim.url + "/metrics")).read()
        page = await (await http.get(sim.url + METRICS_QUERY)).read()
    assert b"vllm:time_to_first_token_seconds_bucket" in full
    assert b"_bucket" not in page and len(page) < len(full) / 5
    endpoint = Endpoint(sim.url)
    assert apply_page(endpoint, page, 1.0) and endpoint.scraped_at == 1.0
