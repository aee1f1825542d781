"""GSLB compiled per gateway and reported per region; `tokenway status`; the chart's Grafana dashboard."""

from __future__ import annotations

from typing import Any

from tokenway_gateway.api import InferenceGatewaySpec, InferencePoolSpec, RoutePolicySpec
from tokenway_gateway.routing.table import RoutingTable
from tokenway_operator import dashboard
from tokenway_operator.compile import compile_snapshot
from tokenway_operator.regions import region_status, traffic_of
from tokenway_operator.status_cli import render


def pool(region: str, **extra: Any) -> InferencePoolSpec:
    return InferencePoolSpec.model_validate({"models": [{"name": "chat"}], "region": region, **extra})


POOLS = {
    "chat-east": pool("us-east"),
    "chat-west": pool("eu-west"),
    "chat-provider": pool("us-east", engine="external", endpoints=[{"url": "https://api.example.com/v1"}]),
}
ROUTE = RoutePolicySpec.model_validate({
    "regionPreference": {"preferred": ["us-east", "eu-west"]},
    "rules": [{"name": "chat", "match": {"models": ["chat"]},
               "backends": [{"pool": "chat-east"}, {"pool": "chat-west"}, {"pool": "chat-provider"}]}]})
ENDPOINTS = {"chat-east": [], "chat-west": []}


def levels_for(region: str) -> list[tuple[str, int]]:
    config = compile_snapshot(POOLS, ENDPOINTS, {"geo": ROUTE}, {}, InferenceGatewaySpec(region=region))
    assert config.region == region
    table = RoutingTable.build(config, lambda _config, _policy: ())
    ((target,), _) = table.rules[0].targets["chat"]
    pools = [target.pool, *target.fallbacks]
    return [(p.name, level) for p, level in zip(pools, target.levels, strict=True)]


def test_each_gateway_gets_its_own_region_first_and_external_pools_last() -> None:
    assert levels_for("eu-west") == [("chat-west", 0), ("chat-east", 1), ("chat-provider", 2)]
    assert levels_for("us-east") == [("chat-east", 0), ("chat-west", 1), ("chat-provider", 2)]


def test_region_status_health_and_shares() -> None:
    pools = {**POOLS, "cold-west": pool("eu-west", replicas={"min": 0, "max": 2})}
    ready = {"chat-east": 1, "chat-west": 2, "chat-provider": 1, "cold-west": 0}
    desired = {"chat-east": 2, "chat-west": 2, "chat-provider": 1, "cold-west": 0}
    regions = region_status("eu-west", pools, ready, desired, {"eu-west": 3.0, "us-east": 1.0})
    assert [r["region"] for r in regions] == ["eu-west", "us-east", "external"]
    west, east, external = regions
    assert west["local"] and west["pools"] == 2 and west["health"] == 1.0 and west["requestShare"] == 0.75
    assert east["health"] == 0.5 and east["requestShare"] == 0.25
    assert external["health"] == 1.0
    idle = region_status("eu-west", {"cold-west": pools["cold-west"]}, {"cold-west": 0}, {"cold-west": 0}, None)
    assert idle[0]["health"] is None and "requestShare" not in idle[0]  # scaled to zero: no health to report


def test_traffic_of_one_gateway() -> None:
    vectors = {"served": [({"namespace": "ns", "gateway": "gw", "region": "eu-west"}, 3.0),
                          ({"namespace": "ns", "gateway": "gw", "region": "us-east"}, 1.0),
                          ({"namespace": "other", "gateway": "gw", "region": "eu-west"}, 9.0)],
               "spilled": [({"namespace": "ns", "gateway": "gw"}, 1.0)]}
    served, spilled = traffic_of(vectors, "ns", "gw")
    assert served == {"eu-west": 3.0, "us-east": 1.0} and spilled == 0.25
    assert traffic_of({}, "ns", "gw") == ({}, None)


def test_status_summary() -> None:
    pools = [{"metadata": {"name": "chat-east"},
              "spec": {"engine": "vllm", "region": "us-east", "autoscaling": {"enabled": True}},
              "status": {"readyReplicas": 2, "desiredReplicas": 3, "observedTtftP95Seconds": 0.41,
                         "observedQueueDepth": 1.5, "observedSaturation": 0.7,
                         "autoscaler": {"reason": "2 -> 3: queue 6/replica (target 4/replica)"},
                         "conditions": [{"type": "ScalingActive", "status": "True", "reason": "ValidMetrics"}]}},
             {"metadata": {"name": "cold"}, "spec": {"autoscaling": {"enabled": True}},
              "status": {"conditions": [{"type": "ScalingActive", "status": "False",
                                         "reason": "MetricsUnavailable"}]}}]
    gateways = [{"metadata": {"name": "gw-west"}, "spec": {"region": "eu-west", "replicas": 1},
                 "status": {"readyReplicas": 1, "configVersion": "abc", "spilloverShare": 0.2,
                            "regions": [{"region": "eu-west", "local": True, "health": 1.0, "requestShare": 0.8}]}}]
    events = [{"reason": "ScaledUp", "message": "2 -> 3: queue", "lastTimestamp": "2025-01-01T00:00:02Z",
               "involvedObject": {"kind": "InferencePool", "name": "chat-east"}},
              {"reason": "Created", "message": "x", "involvedObject": {"kind": "InferencePool", "name": "a"}}]
    text = render("ns", pools, gateways, events)
    assert "chat-east" in text and "2/3" in text and "0.410s" in text and "2 -> 3: queue" in text
    assert "holding (MetricsUnavailable)" in text
    assert "eu-west* 1.00 0.80" in text and "0.20" in text
    assert "ScaledUp: 2 -> 3: queue" in text and "Created" not in text


def test_dashboard_in_the_chart_is_generated() -> None:
    assert dashboard.CHART_FILE.read_text() == dashboard.render(), \
        "regenerate: python -m tokenway_operator.dashboard --write"
    titles = [p["title"] for p in dashboard.dashboard()["panels"]]
    for wanted in ("TTFT", "ITL", "Queue depth", "Replicas desired / ready", "Tokens / s", "cache hit rate",
                   "Spillover share"):
        assert any(wanted in title for title in titles), wanted
