"""Routing resolution in process: rule order and index, weights, fallbacks, validate-whole-then-swap."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from tokenway_gateway.api.snapshot import GatewayConfig
from tokenway_gateway.config.store import ConfigStore
from tokenway_gateway.pipeline.compile import ChainCompiler
from tokenway_gateway.pipeline.context import RequestContext
from tokenway_gateway.proxy.gateway import Gateway
from tokenway_gateway.routing.table import RoutingTable, Target
from tokenway_gateway.server.channel import Request


def config(**extra: Any) -> GatewayConfig:
    data: dict[str, Any] = {
        "version": "1",
        "pools": [
            {"name": "a", "models": [{"name": "model-a", "aliases": ["alias-a"], "upstreamName": "org/model-a"}],
             "endpoints": [{"url": "http://10.0.0.1:8000"}, {"url": "http://10.0.0.2:8000", "weight": 3}]},
            {"name": "b", "models": [{"name": "model-b"}], "endpoints": [{"url": "http://10.0.0.3:8000"}]},
            {"name": "c", "models": [{"name": "model-a"}], "endpoints": [{"url": "http://10.0.0.4:8000"}]},
        ],
    }
    data.update(extra)
    return GatewayConfig.model_validate(data)


def build(cfg: GatewayConfig) -> RoutingTable:
    gateway = Gateway(ConfigStore())
    return RoutingTable.build(cfg, ChainCompiler(gateway).route_chain)


def resolve(table: RoutingTable, model: str, headers: dict[str, str] | None = None,
            payload: dict[str, Any] | None = None) -> Target | None:
    request = Request(0.0)
    request.headers = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    ctx = RequestContext(Gateway(ConfigStore()), request, None, b"/v1/chat/completions", table, ())  # type: ignore[arg-type]
    ctx.payload = payload or {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    ctx.requested_model = model
    return table.resolve(ctx)


def test_default_route_maps_aliases_and_upstream_names() -> None:
    table = build(config())
    target = resolve(table, "alias-a")
    assert target is not None
    assert (target.pool.name, target.model, target.upstream_model, target.route) == ("a", "model-a", "org/model-a",
                                                                                   "default")
    assert target.fallbacks == ()
    # Another pool serving the same model is the unmatched request's fallback, under its own engine name.
    target = resolve(table, "model-a")
    assert target is not None and [p.name for p in target.fallbacks] == ["c"]
    assert target.upstream_models == ("org/model-a", "model-a")
    assert resolve(table, "nope") is None


def test_rules_match_in_priority_order_then_position() -> None:
    routes = [
        {"name": "low", "priority": 1, "rules": [{"name": "all-a", "match": {"models": ["model-a"]},
                                                  "backends": [{"pool": "c"}]}]},
        {"name": "high", "priority": 5, "rules": [
            {"name": "gold", "match": {"models": ["model-a"], "headers": {"x-tier": "gold"}},
             "backends": [{"pool": "b", "model": "model-b"}]},
            {"name": "any-b", "match": {"models": ["model-b"]}, "backends": [{"pool": "b"}]},
        ]},
    ]
    table = build(config(routes=routes))
    gold = resolve(table, "model-a", {"x-tier": "gold"})
    assert gold is not None and (gold.route, gold.pool.name, gold.upstream_model) == ("gold", "b", "model-b")
    plain = resolve(table, "model-a", {"x-tier": "silver"})
    assert plain is not None and (plain.route, plain.pool.name) == ("all-a", "c")
    assert resolve(table, "model-b").route == "any-b"  # type: ignore[union-attr]


def test_a_catch_all_rule_earlier_in_order_wins_over_an_indexed_one() -> None:
    routes = [{"name": "p", "rules": [
        {"name": "catch-all", "backends": [{"pool": "c"}]},
        {"name": "gold", "match": {"headers": {"x-tier": "gold"}}, "backends": [{"pool": "b", "model": "model-b"}]},
    ]}]
    target = resolve(build(config(routes=routes)), "model-a", {"x-tier": "gold"})
    assert target is not None and target.route == "catch-all"


def test_256_header_rules_resolve_the_last_one_by_index() -> None:
    rules = [{"name": f"t{i}", "match": {"headers": {"x-tenant": f"tenant-{i}"}}, "backends": [{"pool": "b",
                                                                                              "model": "model-b"}]}
             for i in range(256)]
    table = build(config(routes=[{"name": "many", "rules": rules}]))
    target = resolve(table, "model-a", {"x-tenant": "tenant-255"})
    assert target is not None and target.route == "t255"
    assert resolve(table, "model-a", {"x-tenant": "tenant-999"}).route == "default"  # type: ignore[union-attr]
    # The index holds each rule once, under its header value: matching does not walk 256 rules.
    bucket = table.index.any_model
    assert not bucket.plain and len(bucket.by_header[b"x-tenant"]) == 256


def test_rules_on_more_header_names_than_the_request_has_headers_resolve_alike() -> None:
    # 41 indexed header names, requests with one or two headers: the index walks the request's headers.
    backend = [{"pool": "b", "model": "model-b"}]
    rules: list[dict[str, Any]] = [{"name": f"h{i}", "match": {"headers": {f"x-h{i}": "on"}}, "backends": backend}
                                   for i in range(40)]
    rules.append({"name": "both", "match": {"headers": {"x-h50": "on", "x-extra": "yes"}}, "backends": backend})
    table = build(config(routes=[{"name": "many", "rules": rules}]))
    routes = {
        "x-h39=on": resolve(table, "model-a", {"x-h39": "on"}),
        "x-h39=on,x-h7=on": resolve(table, "model-a", {"x-h39": "on", "x-h7": "on"}),
        "x-h39=off": resolve(table, "model-a", {"x-h39": "off"}),
        "x-h50=on": resolve(table, "model-a", {"x-h50": "on"}),
        "x-h50=on,x-extra=yes": resolve(table, "model-a", {"x-extra": "yes", "x-h50": "on"}),
    }
    assert {k: t.route if t else None for k, t in routes.items()} == {
        "x-h39=on": "h39", "x-h39=on,x-h7=on": "h7",  # rule order wins, not header order
        "x-h39=off": "default", "x-h50=on": "default", "x-h50=on,x-extra=yes": "both",
    }
    # A repeated header: its first value counts, as Request.header returns it.
    for values, route in (((b"on", b"off"), "h3"), ((b"off", b"on"), "default")):
        request = Request(0.0)
        request.headers = [(b"x-h3", value) for value in values]
        ctx = RequestContext(Gateway(ConfigStore()), request, None, b"/v1/chat/completions", table, ())  # type: ignore[arg-type]
        ctx.payload = {"model": "model-a", "messages": [{"role": "user", "content": "hello"}]}
        ctx.requested_model = "model-a"
        target = table.resolve(ctx)
        assert target is not None and target.route == route


def test_backend_weights_split_traffic() -> None:
    routes = [{"name": "split", "rules": [{"name": "ab", "match": {"models": ["model-a"]},
                                           "backends": [{"pool": "a", "weight": 3}, {"pool": "c", "weight": 1}]}]}]
    table = build(config(routes=routes))
    counts = Counter(resolve(table, "model-a").pool.name for _ in range(4000))  # type: ignore[union-attr]
    assert 2700 < counts["a"] < 3300 and 700 < counts["c"] < 1300


def test_prompt_conditions_match() -> None:
    routes = [{"name": "p", "rules": [
        {"name": "code", "match": {"keywords": ["python", "stack trace"]}, "backends": [{"pool": "b",
                                                                                         "model": "model-b"}]},
        {"name": "long", "match": {"minPromptTokens": 50}, "backends": [{"pool": "c"}]},
        {"name": "sql", "match": {"promptRegex": r"(?i)\bselect\b.+\bfrom\b"}, "backends": [{"pool": "c"}]},
    ]}]
    table = build(config(routes=routes))

    def chat(text: str) -> dict[str, Any]:
        return {"model": "model-a", "messages": [{"role": "user", "content": text}]}

    assert resolve(table, "model-a", payload=chat("Why does my Python loop hang?")).route == "code"  # type: ignore
    assert resolve(table, "model-a", payload=chat("word " * 100)).route == "long"  # type: ignore[union-attr]
    assert resolve(table, "model-a", payload=chat("select name from users")).route == "sql"  # type: ignore
    assert resolve(table, "model-a", payload=chat("hello")).route == "default"  # type: ignore[union-attr]


def test_a_virtual_model_name_is_routed_by_rule() -> None:
    routes = [{"name": "auto", "rules": [{"name": "auto", "match": {"models": ["auto"]},
                                          "backends": [{"pool": "b", "model": "model-b"}]}]}]
    table = build(config(routes=routes))
    target = resolve(table, "auto")
    assert target is not None and target.upstream_model == "model-b"
    assert b'"auto"' in table.models_body


@pytest.mark.parametrize("url", ["http://:8000", "http://host:99999"])
def test_an_unbuildable_snapshot_is_rejected_and_the_next_good_one_applies(url: str) -> None:
    store = ConfigStore()
    gateway = Gateway(store)
    good = config().model_dump_json(by_alias=True)
    assert store.apply_text(good, "good")
    live = gateway.endpoints["http://10.0.0.2:8000"]
    bad = config().model_dump(by_alias=True)
    bad["pools"][0]["endpoints"] = [{"url": "http://10.0.0.2:8000", "weight": 9}, {"url": url}]
    assert not store.apply_text(GatewayConfig.model_validate(bad).model_dump_json(by_alias=True), "bad")
    assert store.rejected == 1 and store.current is not None and store.current.version == "1"
    # Nothing live changed: not the weight of an endpoint the bad snapshot also named.
    assert live.weight == 3 and gateway.endpoints["http://10.0.0.2:8000"] is live
    newer = config(version="2").model_dump_json(by_alias=True)
    assert store.apply_text(newer, "good again") and store.current.version == "2"


def test_a_failing_listener_neither_rejects_nor_stops_later_snapshots() -> None:
    store = ConfigStore()
    Gateway(store)
    calls: list[str] = []

    def broken(cfg: GatewayConfig) -> None:
        calls.append(cfg.version)
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    assert store.apply_text(config(version="1").model_dump_json(by_alias=True), "t")
    assert store.apply_text(config(version="2").model_dump_json(by_alias=True), "t")
    assert calls == ["1", "2"] and store.current is not None and store.current.version == "2"


def test_endpoint_state_and_pickers_survive_a_swap() -> None:
    store = ConfigStore()
    gateway = Gateway(store)
    store.apply_text(config().model_dump_json(by_alias=True), "t")
    endpoint = gateway.endpoints["http://10.0.0.1:8000"]
    endpoint.in_flight = 7
    assert gateway.table is not None
    picker = gateway.table.pools["a"].picker
    store.apply_text(config(version="2").model_dump_json(by_alias=True), "t")
    assert gateway.endpoints["http://10.0.0.1:8000"] is endpoint and endpoint.in_flight == 7
    assert gateway.table.pools["a"].picker is picker


def test_route_policy_load_balancing_overrides_the_pool() -> None:
    routes = [{"name": "rr", "loadBalancing": {"algorithm": "round-robin"},
               "rules": [{"name": "all", "backends": [{"pool": "a"}]}]}]
    store = ConfigStore()
    gateway = Gateway(store)
    assert store.apply_text(config(routes=routes).model_dump_json(by_alias=True), "t")
    table = gateway.table
    assert table is not None
    routed = resolve(table, "model-a")
    default = table.default_targets["model-b"]
    assert routed is not None and routed.pickers[0] is not table.pools["a"].picker
    assert default.pickers[0] is table.pools["b"].picker
