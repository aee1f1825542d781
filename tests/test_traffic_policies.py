"""Fair queuing, region spillover, retry and hedge budgets: the policies in process, then over loopback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections import Counter
from typing import Any

import httpx
import orjson
import pytest
from procs import ProcessFactory, free_port, pool
from test_call_attempt import gateway_with, send
from tokenway_gateway.pipeline.queue import FairQueue, Waiter
from tokenway_gateway.routing.poolstate import PoolState, RouteState
from tokenway_gateway.routing.spillover import level_health, priority_loads

CHAT = "/v1/chat/completions"


# ---- the fair queue ------------------------------------------------------------------------
def _waiter(tenant: str, priority: int = 0) -> Waiter:
    return Waiter(None, tenant, priority)  # type: ignore[arg-type]


def test_a_flooding_tenant_does_not_starve_a_light_one() -> None:
    queue = FairQueue()
    for _ in range(100):
        queue.push(_waiter("flood"), cost=100)
    queue.push(_waiter("light"), cost=100)
    served = [queue.pop().tenant for _ in range(3)]  # type: ignore[union-attr]
    assert "light" in served


def test_shares_follow_tokens_and_weights() -> None:
    queue = FairQueue()
    for _ in range(300):
        queue.push(_waiter("big"), cost=400)  # long requests
        queue.push(_waiter("small"), cost=100)
        queue.push(_waiter("gold"), cost=100 / 2)  # weight 2
    first = Counter(queue.pop().tenant for _ in range(120))  # type: ignore[union-attr]
    # Equal token shares: four small requests per big one; the weight-2 tenant gets twice the small one's.
    assert 3.0 < first["small"] / first["big"] < 5.0
    assert 1.6 < first["gold"] / first["small"] < 2.4


def test_priority_bands_come_first_and_removed_waiters_are_skipped() -> None:
    queue = FairQueue()
    low, high, gone = _waiter("a"), _waiter("b", priority=5), _waiter("c", priority=9)
    for waiter in (low, high, gone):
        queue.push(waiter, cost=1)
    queue.remove(gone)
    assert len(queue) == 2 and queue.pop() is high and queue.pop() is low and queue.pop() is None


# ---- spillover (Envoy's priority load) --------------------------------------------------------------
def _level(endpoints: int, healthy: int, active: int = 0, slots_each: int = 10) -> PoolState:
    from tokenway_gateway.api.pool import Capacity
    from tokenway_gateway.routing.endpoints import Endpoint

    state = PoolState("p")
    eps = [Endpoint(f"http://10.0.0.{i}:80") for i in range(endpoints)]
    for endpoint in eps[healthy:]:
        endpoint.healthy = False
    state.configure(eps, Capacity(max_concurrent_sequences=slots_each), None)
    state.active = active
    return state


@pytest.mark.parametrize(("healthy", "expected"), [(4, [1.0, 0.0]), (2, [0.7, 0.3]), (1, [0.35, 0.65]),
                                                    (0, [0.0, 1.0])])
def test_spillover_follows_envoys_curve_for_health(healthy: int, expected: list[float]) -> None:
    local, remote = _level(4, healthy), _level(4, 4)
    loads = priority_loads([level_health([local], 1.4, 0.0), level_health([remote], 1.4, 0.0)])
    assert loads == pytest.approx(expected)


def test_saturation_spills_gradually_from_one_over_the_factor() -> None:
    healths = [level_health([_level(1, 1, active=a, slots_each=100)], 1.4, 0.0) for a in (50, 71, 85, 100)]
    assert healths[0] == pytest.approx(1.0) and healths[1] == pytest.approx(1.0, abs=0.01)
    assert 0.4 < healths[2] < 0.6 and healths[3] == 0.0


def test_degraded_levels_are_normalized() -> None:
    assert priority_loads([0.35, 0.35]) == pytest.approx([0.5, 0.5])
    assert priority_loads([0.0, 0.0]) == [1.0, 0.0]


# ---- budgets ----------------------------------------------------------------------------------------
def test_retry_budget_allows_a_share_of_active_requests_with_a_floor() -> None:
    route = RouteState()
    route.active, route.retrying = 100, 19
    assert route.retry_allowed(20.0)
    route.retrying = 20
    assert not route.retry_allowed(20.0)
    route.active, route.retrying = 2, 2
    assert route.retry_allowed(20.0)  # the floor of 3 concurrent retries


def test_hedge_budget_caps_the_share_of_hedged_requests() -> None:
    route = RouteState()
    allowed = 0
    for _ in range(2000):
        route.count_request()
        if route.hedge_allowed(5.0):
            route.hedged += 1
            allowed += 1
    assert 80 < allowed < 110


# ---- hedging in process --------------------------------------------------------------------------------
async def test_a_hedge_races_a_slow_attempt_and_the_first_chunk_wins() -> None:
    routes = [{"name": "r", "hedging": {"delaySeconds": 0.03, "budgetPercent": 100},
               "rules": [{"name": "all", "backends": [{"pool": "p"}]}]}]
    gateway, connector = gateway_with(routes)
    gateway.route_states["all"].requests = 100.0  # a route with history: the budget has room
    channel = send(gateway, stream=True)
    slow = connector.upstreams[0]
    for _ in range(100):
        if len(connector.upstreams) == 2:
            break
        await asyncio.sleep(0.005)
    assert len(connector.upstreams) == 2
    hedge = connector.upstreams[1]
    assert hedge.endpoint is not slow.endpoint
    assert hedge.sink is not None and slow.sink is not None
    hedge.sink.on_headers(200, [(b"content-type", b"text/event-stream")])
    hedge.sink.on_body(b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n')
    assert slow.aborted and channel.stream_status == 200
    hedge.sink.on_body(b"data: [DONE]\n\n")
    hedge.sink.on_complete()
    assert channel.ended and channel.done == 1
    assert all(ep.in_flight == 0 for ep in gateway.endpoints.values())
    hedges = gateway.metrics.hedges
    assert hedges.get("all", "won").value == 1 and hedges.get("all", "lost").value == 0
    # The stalled endpoint lost the race: counted like a per-try timeout, its TTFT EWMA at least the wait,
    # so least-request does not keep choosing it once its stalled attempts are cancelled.
    assert slow.endpoint.consecutive_gateway == 1 and slow.endpoint.ttft_ewma >= 0.03
    assert hedge.endpoint.consecutive_gateway == 0


async def test_the_original_answering_first_cancels_the_hedge_without_blaming_it() -> None:
    routes = [{"name": "r", "hedging": {"delaySeconds": 0.02, "budgetPercent": 100},
               "rules": [{"name": "all", "backends": [{"pool": "p"}]}]}]
    gateway, connector = gateway_with(routes)
    gateway.route_states["all"].requests = 100.0
    channel = send(gateway)
    for _ in range(100):
        if len(connector.upstreams) == 2:
            break
        await asyncio.sleep(0.005)
    original, hedge = connector.upstreams
    original.answer(200, b'{"ok":1}')
    assert hedge.aborted and channel.responses[0][0] == 200
    assert gateway.metrics.hedges.get("all", "lost").value == 1
    assert original.endpoint.consecutive_gateway == 0 and hedge.endpoint.consecutive_gateway == 0


async def test_no_hedge_when_the_first_byte_is_fast() -> None:
    routes = [{"name": "r", "hedging": {"delaySeconds": 0.05, "budgetPercent": 100},
               "rules": [{"name": "all", "backends": [{"pool": "p"}]}]}]
    gateway, connector = gateway_with(routes)
    gateway.route_states["all"].requests = 100.0
    channel = send(gateway)
    connector.upstreams[0].answer(200, b'{"ok":1}')
    await asyncio.sleep(0.1)
    assert len(connector.upstreams) == 1 and channel.responses[0][0] == 200


async def test_circuit_breaker_skips_a_replica_at_its_pending_limit() -> None:
    gateway, connector = gateway_with()
    assert gateway.table is not None
    gateway.table.pools["p"].capacity = gateway.table.pools["p"].capacity.model_copy(
        update={"max_pending_requests": 1})
    channels = [send(gateway) for _ in range(3)]
    assert [u.endpoint.url for u in connector.upstreams[:2]] != [connector.upstreams[0].endpoint.url] * 2
    status, body, _ = channels[2].responses[0]
    assert status == 503 and orjson.loads(body)["error"]["code"] == "no_healthy_upstream"


# ---- over loopback ------------------------------------------------------------------------------------
def _queue_gateway(procs: ProcessFactory, **queue: Any) -> Any:
    sim = procs.simulator("m", "--itl-ms", "20", "--prefill-overhead-ms", "1")
    config = {"version": "1", "pools": [{**pool("p", "m", sim.url), "capacity": {"maxConcurrentSequences": 2},
                                         "queue": {"maxQueued": 100, "maxWaitSeconds": 20, **queue}}]}
    return procs.gateway(config)


def test_the_light_tenant_waits_briefly_while_another_floods(procs: ProcessFactory) -> None:
    gw = _queue_gateway(procs)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
    finished: dict[str, list[float]] = {"flood": [], "light": []}
    started = time.monotonic()

    def one(tenant: str) -> None:
        response = httpx.post(gw.url + CHAT, json=body, headers={"x-tenant-id": tenant}, timeout=60)
        assert response.status_code == 200
        finished[tenant].append(time.monotonic() - started)

    with concurrent.futures.ThreadPoolExecutor(24) as executor:
        futures = [executor.submit(one, "flood") for _ in range(20)]
        time.sleep(0.3)  # the flood fills both slots and the queue
        futures += [executor.submit(one, "light") for _ in range(2)]
        for future in futures:
            future.result()
    # FIFO would serve the light tenant after all 20; fair queuing lets it in next.
    assert max(finished["light"]) < sorted(finished["flood"])[12], finished
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'tokenway_queue_wait_seconds_count{pool="p"}' in metrics


def test_a_request_that_waits_too_long_gets_503_with_retry_after(procs: ProcessFactory) -> None:
    gw = _queue_gateway(procs, maxWaitSeconds=0.5)
    long = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 200, "stream": True}

    def hold() -> None:
        httpx.post(gw.url + CHAT, json=long, timeout=30)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    response = httpx.post(gw.url + CHAT, json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["error"]["code"] == "queue_timeout"
    for thread in threads:
        thread.join(30)


def test_a_pool_with_no_endpoint_holds_requests_until_one_appears(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "1")
    empty = {"version": "1", "pools": [{"name": "p", "models": [{"name": "m"}], "endpoints": [],
                                        "queue": {"maxWaitSeconds": 20}}]}
    gw = procs.gateway(empty)
    result: dict[str, Any] = {}

    def ask() -> None:
        started = time.monotonic()
        response = httpx.post(gw.url + CHAT, json={"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                                   "max_tokens": 2}, timeout=30)
        result["status"], result["waited"] = response.status_code, time.monotonic() - started

    thread = threading.Thread(target=ask)
    thread.start()
    deadline = time.monotonic() + 10
    while 'tokenway_queue_depth{pool="p"} 1.0' not in httpx.get(gw.url + "/metrics").text:
        assert time.monotonic() < deadline, "the request was not held"
        time.sleep(0.05)
    config_path = gw.extra["config_path"]
    config_path.write_text(orjson.dumps({**empty, "version": "2", "pools": [
        {**empty["pools"][0], "endpoints": [{"url": sim.url}]}]}).decode())
    thread.join(30)
    assert result["status"] == 200 and result["waited"] > 0.1


def test_traffic_spills_to_the_next_region_when_the_local_one_is_down(procs: ProcessFactory) -> None:
    remote = procs.simulator("m", "--itl-ms", "1")
    dead = f"http://127.0.0.1:{free_port()}"
    config = {"version": "1", "region": "eu", "pools": [
        {**pool("local", "m", dead), "region": "eu",
         "outlierDetection": {"consecutiveGatewayFailures": 1, "maxEjectionPercent": 100}},
        {**pool("far", "m", remote.url), "region": "us"}],
        "routes": [{"name": "geo", "regionPreference": {"preferred": ["us"]}, "retries": {"attempts": 2},
                    "rules": [{"name": "all", "match": {"models": ["m"]}, "backends": [{"pool": "local"},
                                                                                       {"pool": "far"}]}]}]}
    gw = procs.gateway(config)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    with httpx.Client() as client:
        first = client.post(gw.url + CHAT, json=body)  # tries the local level, fails over
        assert first.status_code == 200 and first.headers["x-tokenway-region"] == "us"
        time.sleep(0.2)  # health is re-read every 100 ms
        answers = [client.post(gw.url + CHAT, json=body) for _ in range(10)]
    assert all(a.status_code == 200 and a.headers["x-tokenway-spillover"] == "true" for a in answers)
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'tokenway_region_requests_total{region="us",route="all",spilled="true"}' in metrics, metrics


def test_local_region_serves_while_healthy(procs: ProcessFactory) -> None:
    local, remote = procs.simulator("m", "--itl-ms", "1"), procs.simulator("m", "--itl-ms", "1")
    config = {"version": "1", "region": "eu", "pools": [
        {**pool("local", "m", local.url), "region": "eu"}, {**pool("far", "m", remote.url), "region": "us"}],
        "routes": [{"name": "geo", "regionPreference": {"preferred": ["us"]},
                    "rules": [{"name": "all", "backends": [{"pool": "far"}, {"pool": "local"}]}]}]}
    gw = procs.gateway(config)
    with httpx.Client() as client:
        regions = Counter(client.post(gw.url + CHAT, json={"model": "m", "messages": [], "max_tokens": 1})
                          .headers["x-tokenway-region"] for _ in range(10))
    assert regions == {"eu": 10}




# ---- request deadlines ---------------------------------------------------------------------------------
def test_deadline_buckets_expire_due_items_once_and_forget_finished_ones() -> None:
    from tokenway_gateway.proxy.deadlines import RESOLUTION, Deadlines

    class Item:
        def __init__(self) -> None:
            self.expired = 0

        def on_deadline(self) -> None:
            self.expired += 1

    deadlines = Deadlines()
    early, late, finished = Item(), Item(), Item()
    deadlines.add(early, 10.0)
    deadlines.add(late, 20.0)
    key = deadlines.add(finished, 10.0)
    deadlines.remove(finished, key)
    deadlines.expire(10.0)  # not yet: a deadline fires at most one bucket late, never early
    assert early.expired == 0
    deadlines.expire(10.0 + 2 * RESOLUTION)
    deadlines.expire(10.0 + 3 * RESOLUTION)
    assert (early.expired, late.expired, finished.expired) == (1, 0, 0)
    deadlines.expire(25.0)
    assert late.expired == 1 and len(deadlines) == 0
