"""The autoscaler's signals read from a real Prometheus that scrapes a real simulator and gateway.

Prometheus (the Debian package `./dev` installs) scrapes with the labels the generated
scrape config attaches (here as static targets: no cluster). The queries are the ones the
operator runs, batched for every pool.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from procs import ProcessFactory
from prometheus_server import PrometheusServer, prometheus_binary
from tokenway_gateway.api import InferencePoolSpec
from tokenway_operator import dashboard
from tokenway_operator.autoscaling.decision import decide
from tokenway_operator.autoscaling.history import History
from tokenway_operator.autoscaling.prometheus import PrometheusSource, assemble
from tokenway_operator.autoscaling.queries import TEMPLATES, group_of, shown_queries
from tokenway_operator.autoscaling.scrape import StaticTarget, scrape_config, static_scrape_config
from tokenway_operator.autoscaling.signals import observation

pytestmark = pytest.mark.skipif(prometheus_binary() is None, reason="prometheus not installed (./dev installs it)")

CHAT = "/v1/chat/completions"


def spec(**autoscaling: Any) -> InferencePoolSpec:
    return InferencePoolSpec.model_validate({
        "models": [{"name": "m"}], "replicas": {"min": 0, "max": 8}, "capacity": {"maxConcurrentSequences": 2},
        "autoscaling": {"enabled": True, "metricsWindowSeconds": 10, "panicWindowSeconds": 3,
                        "queueDepthPerReplica": 1, **autoscaling}})


@pytest.fixture
def fleet(procs: ProcessFactory) -> Iterator[dict[str, Any]]:
    sim = procs.simulator("m", "--max-num-seqs", "2", "--itl-ms", "20", "--max-tokens-default", "10")
    config = {"version": "1", "pools": [
        {"name": "p", "models": [{"name": "m"}], "endpoints": [{"url": sim.url}],
         "capacity": {"maxConcurrentSequences": 64}},
        {"name": "z", "models": [{"name": "cold"}], "endpoints": [], "queue": {"maxWaitSeconds": 3}}]}
    gateway = procs.gateway(config)
    targets = [StaticTarget(f"127.0.0.1:{sim.port}", {"namespace": "ns", "pool": "p"}),
               StaticTarget(f"127.0.0.1:{gateway.port}", {"namespace": "ns", "gateway": "gw"})]
    with PrometheusServer(static_scrape_config(targets, interval="1s")) as prom:
        yield {"sim": sim, "gateway": gateway, "prometheus": prom}


def load(url: str, model: str, count: int, concurrency: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    todo = list(range(count))

    def worker() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    if not todo:
                        return
                    todo.pop()
                r = client.post(url + CHAT, json={"model": model, "stream": True,
                                                  "messages": [{"role": "user", "content": "hi"}]})
                with lock:
                    statuses.append(r.status_code)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def wait_for(prom: PrometheusServer, promql: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not prom.query(promql):
        assert time.monotonic() < deadline, f"no samples for {promql}"
        time.sleep(0.5)


def test_signals_from_a_real_prometheus(fleet: dict[str, Any]) -> None:
    prom: PrometheusServer = fleet["prometheus"]
    gateway = fleet["gateway"]
    wait_for(prom, 'up{pool="p"} == 1')
    wait_for(prom, 'up{gateway="gw"} == 1')
    # A request for the pool with no endpoint is held (and times out): the demand signal.
    cold = threading.Thread(target=load, args=(gateway.url, "cold", 1, 1))
    cold.start()
    statuses = load(gateway.url, "m", 60, 12)  # 12 at once on a replica that runs 2: a queue builds
    cold.join(30)
    assert statuses.count(200) == 60
    wait_for(prom, "tokenway_pool_no_endpoint_requests_total > 0")
    time.sleep(2.5)  # two more scrapes after the load

    source = PrometheusSource(prom.url, ttl=0.0)
    try:
        m = asyncio.run(source.measure("ns", "p", spec()))
        assert m.error is None
        assert m.ttft_p95 is not None and m.ttft_p95 > 0.05, m  # queued behind 2 running sequences
        assert m.ttft_source == "gateway"  # the gateway saw 60 streams start (>= 20)
        assert m.queue is not None and m.queue > 0.5, m
        assert m.saturation is not None and 0.0 < m.saturation <= 1.0, m
        assert m.activity is not None and m.activity > 0, m
        assert m.sample_age is not None and m.sample_age < 5, m
        decision = decide(spec(), observation(spec(), m, ready=1), current=1, ready=1, history=History(),
                          now=time.time())
        assert decision.desired > 1, decision.reason  # the queue asks for more replicas

        cold_pool = asyncio.run(source.measure("ns", "z", spec()))
        assert cold_pool.demand >= 1, cold_pool

        # One batch answered both pools: every default query ran once.
        runs = source.queries_run
        asyncio.run(source.measure("ns", "p", spec()))
        assert source.queries_run == runs + len(TEMPLATES)  # ttl 0: a new batch, never one per pool

        # The shown, per-pool query returns what the batch computed for this pool.
        shown = shown_queries(spec(), "ns", "p")
        (sample,) = prom.query(shown["saturation"])
        assert float(sample["value"][1]) == pytest.approx(m.saturation, rel=0.5)

        # An override runs for its pool alone, with $namespace/$pool/$window filled in.
        custom = spec(queries={"queueDepth": 'sum(max_over_time(vllm:num_requests_waiting{namespace="$namespace",'
                                             'pool="$pool"}[$window])) + 1000'})
        overridden = asyncio.run(source.measure("ns", "p", custom))
        assert overridden.queue is not None and overridden.queue >= 1000

        # Every panel of the chart's Grafana dashboard is valid PromQL over these series.
        for expr in dashboard.queries():
            prom.query(expr.replace("$namespace", "ns").replace("$pool", ".*").replace("$__rate_interval", "10s"))
        assert prom.query(dashboard.queries()[0].replace("$namespace", "ns").replace("$pool", ".*")
                          .replace("$__rate_interval", "30s")), "TTFT p50 of the dashboard has data"

        # A killed replica: its series go stale, the pool has no fresh engine sample any more.
        fleet["sim"].stop()
        time.sleep(3)
        stale = asyncio.run(source.measure("ns", "p", spec()))
        assert stale.error is None and stale.sample_age is None, stale

        # Prometheus down: every pool reports why, nobody gets a made-up number.
        prom.stop()
        down = asyncio.run(source.measure("ns", "p", spec()))
        assert down.error is not None and "connection refused" in down.error and prom.url in down.error
        held = decide(spec(), observation(spec(), down, ready=3), current=3, ready=3, history=History(),
                      now=time.time())
        assert held.desired == 3 and not held.metrics_ok
    finally:
        source.close()


def test_no_prometheus_configured() -> None:
    m = asyncio.run(PrometheusSource(None).measure("ns", "p", spec()))
    assert m.error is not None and "--prometheus-url" in m.error


def test_assemble_prefers_the_gateway_unless_it_saw_too_little() -> None:
    key = ("ns", "p")
    values = {"ttftP95": {key: 2.0}, "ttftSamples": {key: 5.0}, "engineTtftP95": {key: 0.5}}
    assert assemble(values, key).ttft_source == "engine"
    values["ttftSamples"] = {key: 50.0}
    assert assemble(values, key).ttft_p95 == 2.0
    assert assemble({"ttftP95": {key: 2.0}}, key).ttft_source == "gateway"  # the only one there is


def test_scrape_config_labels_what_the_queries_group_by() -> None:
    config = scrape_config(interval="5s", namespaces=["a"], api_server="https://k:6443", ca_file="/ca",
                           bearer_token_file="/t")
    pools, gateways = config["scrape_configs"]
    assert pools["kubernetes_sd_configs"][0]["role"] == "endpointslice"
    assert {r.get("target_label") for r in pools["relabel_configs"]} >= {"namespace", "pool"}
    assert {r.get("target_label") for r in gateways["relabel_configs"]} >= {"namespace", "gateway"}
    assert group_of(spec()) == group_of(spec(tolerance=0.2))  # same windows and capacity: one batch


def test_assemble_corrects_demand_by_the_backlog_only() -> None:
    key = ("ns", "pool")
    growing = assemble({"completions": {key: 40.0}, "backlogGrowth": {key: 20.0}}, key)
    assert growing.demand_ratio == 1.5  # 60 arrived, 40 finished: the waiting queue grew by 20
    draining = assemble({"completions": {key: 40.0}, "backlogGrowth": {key: -20.0}}, key)
    assert draining.demand_ratio == 0.5
    assert assemble({"completions": {key: 2.0}, "backlogGrowth": {key: 5.0}}, key).demand_ratio is None  # too few
    # A load ramping up below capacity fills slots (running grows) but leaves nobody waiting: no correction.
    from tokenway_operator.autoscaling.queries import TEMPLATES

    assert "num_requests_running" not in TEMPLATES["backlogGrowth"]
    assert "num_requests_waiting" in TEMPLATES["backlogGrowth"] and "tokenway_queue_depth" in TEMPLATES["backlogGrowth"]
