"""Access policies across real processes: gateways, simulators and a real redis-server on loopback.

- one rate limit shared by three gateway processes through Redis (not three times it);
- Redis killed mid-test, then restarted: each onRedisDown policy, bounded latency, recovery;
- API keys rotated (key file, config reload) under continuous traffic: no request dropped;
- the prompt guard (block and flag routes) on the labelled held-out injection set;
- routing rules, intents included, on labelled prompt sets, through the gateway.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from procs import Proc, ProcessFactory, pool
from prometheus_client.parser import text_string_to_metric_families
from redis_server import RedisServer, redis_server_fixture  # noqa: F401  (provides `redis_server`)
from tokenway_gateway.auth import entry_for, new_key

CHAT = "/v1/chat/completions"
DATA = Path(__file__).resolve().parents[1] / "bench" / "data"


def metric(url: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def chat(url: str, key: str | None, content: str = "hello", model: str = "m", timeout: float = 10.0,
         **extra: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    headers.update(extra.pop("headers", {}))
    return httpx.post(url + CHAT, headers=headers, timeout=timeout,
                      json={"model": model, "messages": [{"role": "user", "content": content}], **extra})


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def sim(module_procs: ProcessFactory) -> Proc:
    return module_procs.simulator("m", "--itl-ms", "1", "--prefill-overhead-ms", "1")


KEY = new_key()


def limited_config(sim_url: str, redis_url: str, **limits: Any) -> dict[str, Any]:
    return {
        "version": "1",
        "pools": [pool("p", "m", sim_url)],
        "auth": {"keys": [entry_for(KEY, "team-a", "free").dump()]},
        "limits": {"backend": "redis", "redisUrl": redis_url, **limits},
        "routes": [{"name": "main", "rules": [{"name": "all", "backends": [{"pool": "p"}]}],
                    "rateLimits": [{"tier": "free", "requestsPerMinute": 30, "tokensPerMinute": 1_000_000}]}],
    }


# ---- one limit, three gateways -------------------------------------------------------------------


def test_three_gateways_share_one_limit_through_redis(procs: ProcessFactory, sim: Proc,
                                                      redis_server: RedisServer) -> None:
    config = limited_config(sim.url, redis_server.url)
    gateways = [procs.gateway(config) for _ in range(3)]
    results: list[tuple[int, int, int | None]] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        for i in range(20):  # 60 requests in all, from three clients at once, each to its own gateway
            response = chat(gateways[(index + i) % 3].url, KEY, max_tokens=2)
            remaining = response.headers.get("x-ratelimit-remaining-requests")
            with lock:
                results.append((index, response.status_code, int(remaining) if remaining is not None else None))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = [status for _, status, _ in results]
    assert len(statuses) == 60
    assert statuses.count(200) == 30 and statuses.count(429) == 30  # the limit, once, not three times
    # What remains is one shared count: every allowed response saw a different value, 29 down to 0.
    assert sorted(r or 0 for _, s, r in results if s == 200) == list(range(30))
    assert sum(metric(g.url, "tokenway_ratelimit_requests_total", result="allowed") for g in gateways) == 30
    assert all(metric(g.url, "tokenway_ratelimit_backend_up", backend="redis") == 1 for g in gateways)


# ---- Redis down and back -------------------------------------------------------------------------


def test_redis_killed_mid_test_then_restarted(procs: ProcessFactory, sim: Proc, redis_server: RedisServer) -> None:
    local = procs.gateway(limited_config(sim.url, redis_server.url, onRedisDown="local", replicas=3,
                                         timeoutMs=100))
    deny = procs.gateway(limited_config(sim.url, redis_server.url, onRedisDown="deny", timeoutMs=100))
    allow = procs.gateway(limited_config(sim.url, redis_server.url, onRedisDown="allow", timeoutMs=100))
    for gw in (local, deny, allow):
        assert chat(gw.url, KEY, max_tokens=2).status_code == 200  # 3 of the shared 30 used
    redis_server.kill()
    # Every request answers within the Redis timeout plus the proxying, whatever the policy.
    slowest = 0.0
    local_statuses: list[int] = []
    deny_statuses: list[int] = []
    allow_statuses: list[int] = []
    for _ in range(15):
        for gw, statuses in ((local, local_statuses), (deny, deny_statuses), (allow, allow_statuses)):
            started = time.monotonic()
            statuses.append(chat(gw.url, KEY, max_tokens=2).status_code)
            slowest = max(slowest, time.monotonic() - started)
    assert slowest < 1.0, slowest
    # local: this replica enforces 30 / 3 = 10 per minute on its own (the request before the outage
    # went to Redis, which is gone, so 10 more pass); deny: 429; allow: everything passes.
    assert local_statuses.count(200) == 10 and local_statuses.count(429) == 5, local_statuses
    assert set(deny_statuses) == {429} and set(allow_statuses) == {200}
    refused = chat(deny.url, KEY, max_tokens=2)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded" and "retry-after" in refused.headers
    assert metric(local.url, "tokenway_ratelimit_backend_up", backend="redis") == 0
    assert metric(local.url, "tokenway_ratelimit_requests_total", result="allowed_fallback") == 10
    # One log line per outage, not one per request.
    assert local.log_text().count("unavailable") == 1
    redis_server.start()  # same port, empty
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and chat(deny.url, KEY, max_tokens=2).status_code != 200:
        time.sleep(0.1)
    assert chat(deny.url, KEY, max_tokens=2).status_code == 200  # recovered by itself
    while time.monotonic() < deadline and chat(local.url, KEY, max_tokens=2).status_code != 200:
        time.sleep(0.1)
    assert metric(local.url, "tokenway_ratelimit_backend_up", backend="redis") == 1
    assert "is back" in local.log_text()


# ---- key rotation --------------------------------------------------------------------------------


class Traffic:
    """Clients sending requests back to back with given keys, recording every status."""

    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url = url
        self.keys = keys
        self.log: list[tuple[float, str, int]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(name,)) for name in keys]

    def _run(self, name: str) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    status = client.post(self.url + CHAT, headers={"authorization": f"Bearer {self.keys[name]}"},
                                         json={"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                               "max_tokens": 2}).status_code
                except httpx.HTTPError:
                    status = -1  # a dropped connection
                self.log.append((time.monotonic(), name, status))

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    def statuses(self, name: str, after: float = 0.0) -> list[int]:
        return [status for at, who, status in self.log if who == name and at >= after]


def entries(*pairs: tuple[str, str, bool]) -> str:
    return yaml.safe_dump([entry_for(key, tenant, "free", disabled).dump() for key, tenant, disabled in pairs])


def wait_for(check: Any, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_key_file_rotation_under_traffic_drops_nothing(procs: ProcessFactory, sim: Proc, tmp_path: Path) -> None:
    old, stays, new = new_key(), new_key(), new_key()
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(entries((old, "a", False), (stays, "b", False)))
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", sim.url)]}, "--api-keys-file", str(keys_file))
    assert chat(gw.url, None).status_code == 401  # a key file alone makes keys required
    slow = httpx.Client(timeout=20)
    with Traffic(gw.url, {"old": old, "stays": stays, "new": new}) as traffic:
        wait_for(lambda: len(traffic.statuses("stays")) > 20)
        # A long stream authenticated with the old key keeps going after its key is revoked.
        with slow.stream("POST", gw.url + CHAT, headers={"authorization": f"Bearer {old}"}, json={
                "model": "m", "messages": [{"role": "user", "content": "long"}], "max_tokens": 300,
                "stream": True}) as stream:
            assert stream.status_code == 200
            rotated = time.monotonic()
            write_atomically(keys_file, entries((stays, "b", False), (new, "c", False), (old, "a", True)))
            took = wait_for(lambda: chat(gw.url, old).status_code == 403)  # disabled now
            body = stream.read().decode()
        assert body.rstrip().endswith("data: [DONE]")
        wait_for(lambda: traffic.statuses("new", rotated + took)[-1:] == [200])
        time.sleep(1.0)  # traffic after the rotation, for the checks below
    assert took < 2.0, took  # the file is polled every 0.1 s in tests (--reload-interval)
    assert set(traffic.statuses("stays")) == {200}, "a valid key was refused or dropped during the rotation"
    after = rotated + took + 0.3
    assert set(traffic.statuses("old", after)) == {403} and set(traffic.statuses("new", after)) == {200}
    assert set(traffic.statuses("old")) <= {200, 403} and set(traffic.statuses("new")) <= {200, 401}
    # A file that does not parse is refused whole; the last good keys stay in force.
    write_atomically(keys_file, "- sha256: nothex\n  tenant: x\n")
    time.sleep(0.5)
    assert chat(gw.url, new).status_code == 200 and chat(gw.url, stays).status_code == 200
    assert "nothex" not in gw.log_text() and new not in gw.log_text() and stays not in gw.log_text()
    assert metric(gw.url, "tokenway_api_key_reloads_total", source="file", result="rejected") == 1


def test_config_reload_rotates_keys_without_dropping_requests(procs: ProcessFactory, sim: Proc) -> None:
    old, stays, new = new_key(), new_key(), new_key()

    def config(version: str, *keys: tuple[str, str, bool]) -> dict[str, Any]:
        return {"version": version, "pools": [pool("p", "m", sim.url)],
                "auth": {"keys": [entry_for(k, t, "free", d).dump() for k, t, d in keys]}}

    gw = procs.gateway(config("1", (old, "a", False), (stays, "b", False)))
    config_path = gw.extra["config_path"]
    with Traffic(gw.url, {"old": old, "stays": stays}) as traffic:
        wait_for(lambda: len(traffic.statuses("stays")) > 20)
        rotated = time.monotonic()
        write_atomically(config_path, yaml.safe_dump(config("2", (stays, "b", False), (new, "c", False))))
        took = wait_for(lambda: chat(gw.url, old).status_code == 401)
        assert chat(gw.url, new).status_code == 200
        time.sleep(1.0)  # traffic after the rotation, for the checks below
    assert took < 2.0
    assert set(traffic.statuses("stays")) == {200}
    assert set(traffic.statuses("old", rotated + took + 0.3)) == {401}


# ---- prompt guard on the labelled held-out set ---------------------------------------------------


def test_guard_blocks_and_flags_the_heldout_set_through_the_gateway(procs: ProcessFactory, sim: Proc) -> None:
    from tokenway_gateway.api.route import PromptGuard as GuardConfig
    from tokenway_gateway.guard import PromptGuard

    rows = [json.loads(line) for line in (DATA / "guard_heldout.jsonl").read_text().splitlines() if line.strip()]
    routes = [
        {"name": mode, "rules": [{"name": mode, "match": {"headers": {"x-guard": mode}}, "backends": [{"pool": "p"}]}],
         "promptGuard": {"enabled": True, "action": action}}
        for mode, action in (("strict", "block"), ("lenient", "flag"))
    ]
    gw = procs.gateway({"version": "1", "pools": [pool("p", "m", sim.url)], "routes": routes})
    library = PromptGuard(GuardConfig(enabled=True))
    blocked, flagged, agree = {}, {}, 0
    with httpx.Client(base_url=gw.url, timeout=10) as client:
        for row in rows:
            body = {"model": "m", "messages": [{"role": "user", "content": row["text"]}], "max_tokens": 2}
            strict = client.post(CHAT, json=body, headers={"x-guard": "strict"})
            lenient = client.post(CHAT, json=body, headers={"x-guard": "lenient"})
            assert lenient.status_code == 200
            blocked[row["id"]] = strict.status_code == 400
            if strict.status_code == 400:
                assert strict.json()["error"]["code"] == "prompt_blocked"
            else:
                assert strict.status_code == 200
            flagged[row["id"]] = lenient.headers.get("x-tokenway-guard") == "flagged"
            agree += blocked[row["id"]] == library.check([row["text"]]).flagged
    assert blocked == flagged  # one verdict, two actions
    attacks = [r for r in rows if r["label"] == "attack"]
    benign = [r for r in rows if r["label"] == "benign"]
    tpr = sum(blocked[r["id"]] for r in attacks) / len(attacks)
    fpr = sum(blocked[r["id"]] for r in benign) / len(benign)
    print(f"guard through the gateway, held-out set: TPR {tpr:.3f} ({len(attacks)} attacks), "
          f"FPR {fpr:.3f} ({len(benign)} benign)")
    assert agree == len(rows)  # the gateway screens what the library scores
    assert tpr >= 0.9 and fpr <= 0.02
    assert metric(gw.url, "tokenway_guard_verdicts_total", route="strict", outcome="blocked") == sum(blocked.values())
    assert metric(gw.url, "tokenway_guard_verdicts_total", route="lenient", outcome="flagged") == sum(flagged.values())
    log = gw.log_text()
    assert log.count('"prompt blocked by the guard"') == sum(blocked.values())
    assert not any(r["text"][:40] in log for r in attacks)  # never the prompt


# ---- routing rules and intents on labelled prompts -----------------------------------------------


def intent_rows(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / f"intents_{split}.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def routed(module_procs: ProcessFactory, sim: Proc) -> Iterator[Proc]:
    examples: dict[str, list[str]] = {}
    for row in intent_rows("tune"):  # intents defined from the tune half; the held-out half is what we score
        if row["intent"]:
            examples.setdefault(row["intent"], []).append(row["text"])
    names = sorted(examples)
    pools = [pool(name, "m", sim.url) for name in [*names, "general", "long", "sql", "gold"]]
    config = {
        "version": "1",
        "pools": pools,
        "auth": {"keys": [entry_for(KEY, "team-a", "free").dump(), entry_for(GOLD, "team-g", "gold").dump()]},
        "routes": [{
            "name": "auto",
            "intents": [{"name": name, "examples": examples[name]} for name in names],
            "rules": [
                {"name": "gold", "match": {"models": ["auto"], "apiKeyTiers": ["gold"]},
                 "backends": [{"pool": "gold", "model": "m"}]},
                {"name": "long", "match": {"models": ["auto"], "minPromptTokens": 400},
                 "backends": [{"pool": "long", "model": "m"}]},
                {"name": "sql", "match": {"models": ["auto"], "promptRegex": r"(?i)\bselect\b.+\bfrom\b"},
                 "backends": [{"pool": "sql", "model": "m"}]},
                *[{"name": f"to-{name}", "match": {"models": ["auto"], "intent": name},
                   "backends": [{"pool": name, "model": "m"}]} for name in names],
                {"name": "general", "match": {"models": ["auto"]}, "backends": [{"pool": "general", "model": "m"}]},
            ],
        }],
    }
    yield module_procs.gateway(config, ready_timeout=120)  # embeds ~200 examples at start: slow on a busy CPU


GOLD = new_key()


def test_intent_rules_route_the_heldout_prompts(routed: Proc) -> None:
    rows = intent_rows("heldout")
    right, decisions = 0, []
    with httpx.Client(base_url=routed.url, timeout=20, headers={"authorization": f"Bearer {KEY}"}) as client:
        for row in rows:
            response = client.post(CHAT, json={"model": "auto", "max_tokens": 2,
                                               "messages": [{"role": "system", "content": "Be brief."},
                                                            {"role": "user", "content": row["text"]}]})
            assert response.status_code == 200, response.text
            expected = row["intent"] or "general"
            right += response.headers["x-tokenway-pool"] == expected
            decisions.append(response.headers["x-tokenway-route"])
    accuracy = right / len(rows)
    print(f"intent routing through the gateway, held-out half ({len(rows)} prompts, 30 with no intent): "
          f"accuracy {accuracy:.3f}")
    assert accuracy >= 0.8
    assert all(d.startswith("rule=") and "; intent=" in d and "; score=" in d for d in decisions)
    counted = metric(routed.url, "tokenway_route_decisions_total")
    assert counted == len(rows)
    assert metric(routed.url, "tokenway_intent_matches_total") == len(rows)


def test_rule_order_tiers_regex_and_token_bounds(routed: Proc) -> None:
    cases = [
        (KEY, "SELECT name FROM users WHERE id = 3; why is this slow?", "sql"),
        (KEY, "word " * 600, "long"),  # ~600+ estimated tokens: the token bound comes before intents
        (GOLD, "Write a Python function that reverses a list.", "gold"),  # the tier rule comes first
        (KEY, "Write a Python function that reverses a list.", "coding"),
        (KEY, "Translate 'good morning' into Spanish.", "translation"),
    ]
    for key, text, pool_name in cases:
        response = chat(routed.url, key, text, model="auto", max_tokens=2)
        assert response.headers["x-tokenway-pool"] == pool_name, (text[:40], response.headers)
    # A model no intent rule names skips the embedding (and the header's intent part).
    plain = chat(routed.url, KEY, "Write a Python function.", model="m", max_tokens=2)
    assert plain.headers["x-tokenway-route"] == "rule=default"
