"""CachePolicy status: supported fields, the rules a policy serves, and its hit rate from a real Prometheus
scraping two real gateway replicas."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from procs import ProcessFactory, pool
from prometheus_server import PrometheusServer, prometheus_binary
from tokenway_gateway.api import CachePolicySpec, RoutePolicySpec
from tokenway_operator.autoscaling.prometheus import PrometheusSource
from tokenway_operator.autoscaling.scrape import StaticTarget, static_scrape_config
from tokenway_operator.cache_status import hit_rate_of, hit_rate_queries, hit_rate_status, served_rules
from tokenway_operator.conditions import supported
from tokenway_operator.unsupported import unsupported_fields

CHAT = "/v1/chat/completions"


def cache(**fields: Any) -> CachePolicySpec:
    return CachePolicySpec.model_validate(fields)


def route(*rules: str, pool_name: str = "p") -> RoutePolicySpec:
    return RoutePolicySpec.model_validate({"rules": [{"name": r, "backends": [{"pool": pool_name}]} for r in rules]})


def test_a_cache_policy_is_supported_except_what_the_gateway_cannot_do() -> None:
    assert unsupported_fields(cache()) == []
    assert unsupported_fields(cache(mode="both", backend="redis", redisUrl="redis://r:6379/0", ttlSeconds=60,
                                    maxEntries=5, scope="global", similarityThreshold=0.9, verify=False,
                                    cacheSampled=True, cacheStreaming=False, routes=["a"])) == []
    assert supported(unsupported_fields(cache())).status is True
    assert unsupported_fields(cache(embedding={"kind": "pool", "pool": "emb", "model": "bge"})) == []
    assert unsupported_fields(cache(backend="redis", redisSecretRef={"name": "s", "key": "url"})) == []


def test_served_rules_follow_the_gateway() -> None:
    routes = {"r1": route("chat", "code"), "r2": route("search"), "broken": route("lost", pool_name="nope")}
    caches = {"a-all": cache(), "b-chat": cache(routes=["chat"]), "c-none": cache(routes=["nothing", "lost"])}
    served = served_rules(caches, routes, {"p"})
    # The first policy by name that applies takes the rule: "a-all" (every rule) leaves nothing to the others.
    assert sorted(served["a-all"]) == ["chat", "code", "default", "search"]
    assert served["b-chat"] == [] and served["c-none"] == []  # "lost" is in a policy left out (unknown pool)
    served = served_rules({"b-chat": cache(routes=["chat"]), "z-all": cache()}, routes, {"p"})
    assert served == {"b-chat": ["chat"], "z-all": ["code", "search", "default"]}


def test_hit_rate_status_never_makes_a_number_up() -> None:
    vectors = {"hits": [({"namespace": "ns", "cache": "c"}, 30.0), ({"namespace": "other", "cache": "c"}, 99.0)],
               "misses": [({"namespace": "ns", "cache": "c"}, 10.0)]}
    assert hit_rate_of(vectors, "ns", "c") == (0.75, round(40 / 300, 3))
    fields, cond = hit_rate_status(vectors, None, "ns", "c")
    assert fields["hitRate"] == 0.75 and cond.status is True and cond.reason == "Measured"
    fields, cond = hit_rate_status(vectors, None, "ns", "idle")
    assert fields["hitRate"] is None and cond.status is False and cond.reason == "NoLookups"
    fields, cond = hit_rate_status(None, "connection refused", "ns", "c")
    assert fields["hitRate"] is None and cond.reason == "MetricsUnavailable" and "refused" in cond.message


@pytest.mark.skipif(prometheus_binary() is None, reason="prometheus not installed (./dev installs it)")
def test_hit_rate_from_a_real_prometheus_over_two_gateways(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "1", "--prefill-overhead-ms", "1")
    config = {"version": "1", "pools": [pool("p", "m", sim.url)], "caches": [{"name": "answers"}]}
    gateways = [procs.gateway(config) for _ in range(2)]
    targets = [StaticTarget(f"127.0.0.1:{g.port}", {"namespace": "ns", "gateway": "gw"}) for g in gateways]

    def ask(gateway: int, text: str) -> str:
        response = httpx.post(gateways[gateway].url + CHAT, timeout=10, json={
            "model": "m", "messages": [{"role": "user", "content": text}], "temperature": 0, "max_tokens": 4})
        assert response.status_code == 200
        return response.headers["x-tokenway-cache"]

    with PrometheusServer(static_scrape_config(targets, interval="1s")) as prom:
        for g in (0, 1):  # the series exist (at 0 hits) before the measured traffic
            assert ask(g, "warm up") == "miss"
        deadline = time.monotonic() + 20
        while len(prom.query('tokenway_cache_misses_total{namespace="ns",cache="answers"}')) < 2:
            assert time.monotonic() < deadline, "the gateways' cache series were never scraped"
            time.sleep(0.5)
        time.sleep(1.5)
        # Per replica (memory caches): 2 misses then 6 hits on gateway 0, 4 misses on gateway 1.
        seen = [ask(0, t) for t in ("one", "two", "one", "two", "one", "two", "one", "two")]
        seen += [ask(1, t) for t in ("three", "four", "five", "six")]
        assert seen.count("hit") == 6 and seen.count("miss") == 6
        time.sleep(3)  # a few scrapes after the traffic
        source = PrometheusSource(prom.url, ttl=0.0)
        try:
            vectors, error = asyncio.run(source.vectors(hit_rate_queries()))
        finally:
            source.close()
        assert error is None
        rate, per_second = hit_rate_of(vectors, "ns", "answers")
        # Both replicas summed: 0.5 (gateway 0 alone would be 0.75, gateway 1 alone 0). increase() extrapolates
        # each series from its first and last samples, which on a few seconds of samples moves the ratio by points.
        assert rate == pytest.approx(6 / 12, abs=0.1)
        assert per_second is not None and per_second > 0
        assert hit_rate_of(vectors, "ns", "another") == (None, None)


def test_a_cache_policy_that_serves_no_route_is_not_ready() -> None:
    from tokenway_operator.status import policy_status

    fields, conds = policy_status(cache(routes=["nothing"]), [], 1, {"routes": 0})
    ready = {c.type: c for c in conds}["Ready"]
    assert ready.status is False and ready.reason == "NoMatchingRoute" and fields == {"routes": 0}
    _, conds = policy_status(cache(), [], 1, {"routes": 3})
    assert {c.type: c for c in conds}["Ready"].reason == "Compiled"
