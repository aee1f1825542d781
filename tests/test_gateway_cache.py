"""The response cache through real processes: gateways, simulators and a real redis-server on loopback.

- exact hits, misses and bypasses (no-cache, no-store, sampled), under the model name each client asked for;
- streaming replay parsed by the official openai SDK (with and without the usage chunk);
- one Redis shared by two gateway processes: a store on one is a hit on the other;
- every false-hit family (negation, numbers, entities, role swaps, output form) refused by the verifier,
  while the same pairs hit on a route whose cache does not verify;
- cross-tenant isolation by API key, invalidation by tenant and route on the admin listener only;
- TTL expiry and LRU eviction (memory and Redis);
- failed, cut-off, cancelled and timed-out upstream responses never stored;
- multi-turn misses still carry prefix hashes: the llm-aware picker keeps a conversation on one replica,
  whose prefix cache then hits.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest
from procs import Proc, ProcessFactory, free_port, pool
from prometheus_client.parser import text_string_to_metric_families
from redis_server import RedisServer, redis_server_fixture  # noqa: F401  (provides `redis_server`)
from tokenway_gateway.auth import entry_for, new_key

CHAT = "/v1/chat/completions"


def metric(url: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def chat(url: str, content: str | list[dict[str, str]], *, model: str = "m", key: str | None = None,
         headers: dict[str, str] | None = None, system: str | None = None, timeout: float = 20.0,
         **extra: Any) -> httpx.Response:
    messages = content if isinstance(content, list) else [{"role": "user", "content": content}]
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    sent = dict(headers or {})
    if key is not None:
        sent["authorization"] = f"Bearer {key}"
    body = {"model": model, "messages": messages, "max_tokens": 12, **extra}
    body.setdefault("temperature", 0)
    if body["temperature"] is None:
        del body["temperature"]  # unset: sampled at the server's default of 1.0
    return httpx.post(url + CHAT, headers=sent, json=body, timeout=timeout)


def status(response: httpx.Response) -> str | None:
    found: str | None = response.headers.get("x-tokenway-cache")
    return found


def gateway_config(sims: dict[str, str], caches: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"version": "1", "pools": [pool(f"p-{model}", model, url, aliases=[f"{model}-alias"])
                                      for model, url in sims.items()],
            "caches": caches, **extra}


@pytest.fixture(scope="module")
def sim(module_procs: ProcessFactory) -> Proc:
    return module_procs.simulator("m", "--itl-ms", "1", "--prefill-overhead-ms", "1")


# ---- exact cache -----------------------------------------------------------------------------------


def test_exact_hit_miss_and_bypass(procs: ProcessFactory, sim: Proc) -> None:
    gw = procs.gateway(gateway_config({"m": sim.url}, [{"name": "exact"}]))
    first = chat(gw.url, "Say hello in five words.")
    assert first.status_code == 200 and status(first) == "miss"
    again = chat(gw.url, "Say hello in five words.")
    assert status(again) == "hit" and again.json() == first.json()  # the stored answer, id included
    # An alias of the same model shares the entry; the answer names the model this client asked for.
    alias = chat(gw.url, "Say hello in five words.", model="m-alias")
    assert status(alias) == "hit" and alias.json()["model"] == "m-alias"
    assert alias.json()["choices"] == first.json()["choices"]
    # Different sampling parameters are a different request.
    assert status(chat(gw.url, "Say hello in five words.", max_tokens=5)) == "miss"

    # no-cache: straight to upstream (a new completion id), and the fresh answer replaces the entry.
    fresh = chat(gw.url, "Say hello in five words.", headers={"cache-control": "no-cache"})
    assert status(fresh) == "bypass" and fresh.json()["id"] != first.json()["id"]
    replaced = chat(gw.url, "Say hello in five words.")
    assert status(replaced) == "hit" and replaced.json()["id"] == fresh.json()["id"]

    # no-store: looked up, never stored.
    unstored = chat(gw.url, "What is a cache?", headers={"cache-control": "no-store"})
    assert status(unstored) == "miss"
    later = chat(gw.url, "What is a cache?")
    assert status(later) == "miss" and later.json()["id"] != unstored.json()["id"]
    assert status(chat(gw.url, "What is a cache?")) == "hit"

    # Sampled requests (temperature unset means 1.0) are not cached unless the policy says so.
    sampled = [chat(gw.url, "Tell me a story.", temperature=None) for _ in range(2)]
    assert [status(r) for r in sampled] == ["bypass", "bypass"]
    assert sampled[0].json()["id"] != sampled[1].json()["id"]
    assert status(chat(gw.url, "Tell me a story.", temperature=0.7)) == "bypass"

    # A stored non-streaming answer is replayed to a streaming request too.
    stream = httpx.post(gw.url + CHAT, json={"model": "m", "messages": [{"role": "user", "content":
                                                                          "Say hello in five words."}],
                                             "max_tokens": 12, "temperature": 0, "stream": True}, timeout=10)
    assert status(stream) == "hit" and stream.headers["content-type"].startswith("text/event-stream")
    assert stream.text.endswith("data: [DONE]\n\n")

    url = gw.url
    assert metric(url, "tokenway_cache_hits_total", cache="exact", route="default", kind="exact") == 5
    assert metric(url, "tokenway_cache_misses_total", cache="exact", route="default") == 4
    assert metric(url, "tokenway_cache_bypasses_total", cache="exact", route="default") == 4
    assert metric(url, "tokenway_cache_entries", cache="exact") == 3
    assert metric(url, "tokenway_cache_lookup_seconds_count", cache="exact", route="default") == 9


def test_route_without_cache_policy_has_no_cache_stage(procs: ProcessFactory, sim: Proc) -> None:
    config = gateway_config({"m": sim.url}, [{"name": "only-cached", "routes": ["cached"]}])
    config["routes"] = [
        {"name": "a", "rules": [{"name": "cached", "match": {"headers": {"x-lane": "cached"}},
                                 "backends": [{"pool": "p-m"}]}]},
        {"name": "b", "rules": [{"name": "plain", "backends": [{"pool": "p-m"}]}]},
    ]
    gw = procs.gateway(config)
    assert status(chat(gw.url, "hi", headers={"x-lane": "cached"})) == "miss"
    assert status(chat(gw.url, "hi", headers={"x-lane": "cached"})) == "hit"
    plain = [chat(gw.url, "hi") for _ in range(2)]
    assert [status(r) for r in plain] == [None, None]  # no header, no lookup: the stage is not on that route
    assert plain[0].json()["id"] != plain[1].json()["id"]


# ---- streaming replay, read by the official SDK -----------------------------------------------------


def _read_stream(client: openai.OpenAI, include_usage: bool) -> tuple[str | None, str, str | None, Any, str]:
    options: Any = {"stream_options": {"include_usage": True}} if include_usage else {}
    raw = client.chat.completions.with_raw_response.create(
        model="m-alias", messages=[{"role": "user", "content": "Stream me a short answer about caching."}],
        stream=True, temperature=0, max_tokens=20, **options)
    text, finish, usage, models = "", None, None, set()
    for chunk in raw.parse():
        models.add(chunk.model)
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    (model,) = models
    return raw.headers.get("x-tokenway-cache"), text, finish, usage, model


def test_streaming_replay_parsed_by_openai_sdk(procs: ProcessFactory, sim: Proc) -> None:
    gw = procs.gateway(gateway_config({"m": sim.url}, [{"name": "exact"}]))
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0, timeout=20)
    cached, text, finish, usage, model = _read_stream(client, include_usage=True)
    assert cached == "miss" and text and finish == "length" and usage is not None and model == "m-alias"
    hit = _read_stream(client, include_usage=True)
    assert hit[0] == "hit"
    assert hit[1:] == (text, finish, usage, "m-alias")  # same text, finish reason, usage chunk and model name
    assert usage.completion_tokens == 20
    # Without stream_options.include_usage the replay has no usage chunk, as upstream streams do.
    bare = _read_stream(client, include_usage=False)
    assert bare[0] == "hit" and bare[1] == text and bare[3] is None
    # The stream was stored as one canonical answer: a non-streaming request gets it as JSON.
    whole = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "Stream me a short answer about caching."}],
        temperature=0, max_tokens=20)
    assert whole.headers["x-tokenway-cache"] == "hit"
    completion = whole.parse()
    assert completion.choices[0].message.content == text and completion.model == "m"
    assert completion.usage is not None and completion.usage.total_tokens == usage.total_tokens


# ---- Redis shared by two gateways -------------------------------------------------------------------


def test_redis_url_from_the_env_var_a_secret_fills(procs: ProcessFactory, sim: Proc,
                                                    redis_server: RedisServer) -> None:
    """In a cluster the operator maps a CachePolicy's redisSecretRef onto this env var (the kubelet reads the
    Secret); the compiled config names the variable, never the URL."""
    config = gateway_config({"m": sim.url}, [{"name": "secret", "backend": "redis", "redisUrlEnv": "TW_CACHE_URL",
                                              "redisSecretRef": {"name": "cache-redis", "key": "url"}}])
    one = procs.gateway(config, env={"TW_CACHE_URL": redis_server.url})
    two = procs.gateway(config, env={"TW_CACHE_URL": redis_server.url})
    assert status(chat(one.url, "Which port does Redis use?")) == "miss"
    deadline = time.monotonic() + 5
    while status(shared := chat(two.url, "Which port does Redis use?")) != "hit" and time.monotonic() < deadline:
        time.sleep(0.05)  # the store is written after the response
    assert status(shared) == "hit"  # stored through one replica's Redis, found through the other's


def test_redis_shared_by_two_gateways(procs: ProcessFactory, sim: Proc, redis_server: RedisServer) -> None:
    config = gateway_config({"m": sim.url}, [{"name": "shared", "mode": "both", "backend": "redis",
                                              "redisUrl": redis_server.url}])
    one, two = procs.gateway(config), procs.gateway(config)
    stored = chat(one.url, "How do I reset my password?")
    assert status(stored) == "miss"
    deadline = time.monotonic() + 5
    while status(exact := chat(two.url, "How do I reset my password?")) != "hit" and time.monotonic() < deadline:
        time.sleep(0.05)  # the store is written after the response: give it a moment
    assert status(exact) == "hit" and exact.json() == stored.json()
    semantic = chat(two.url, "How can I reset my password?")
    assert status(semantic) == "hit" and float(semantic.headers["x-tokenway-cache-similarity"]) > 0.9
    assert semantic.json()["choices"] == stored.json()["choices"]
    # And the other way round, streaming.
    assert status(chat(two.url, "What is your refund policy?")) == "miss"
    time.sleep(0.3)
    replay = httpx.post(one.url + CHAT, json={"model": "m", "stream": True, "temperature": 0, "max_tokens": 12,
                                              "messages": [{"role": "user", "content": "What is your refund policy?"}]},
                        timeout=10)
    assert status(replay) == "hit" and replay.text.endswith("data: [DONE]\n\n")
    assert metric(two.url, "tokenway_cache_hits_total", cache="shared", kind="semantic") == 1
    assert metric(one.url, "tokenway_cache_hits_total", cache="shared", kind="exact") == 1


# ---- false hits: every family through the gateway ----------------------------------------------------

# (stored request, new request, the verifier rule expected to refuse the candidate)
FALSE_HITS = [
    ("Can I cancel my subscription online?", "Can I not cancel my subscription online?", "negation"),
    ("Is port 443 open on the load balancer?", "Is port 443 closed on the load balancer?", "antonym"),
    ("Convert 100 USD to EUR", "Convert 250 USD to EUR", "number"),
    ("Book a table for 2 people at 7 pm", "Book a table for 4 people at 7 pm", "number"),
    ("What is the capital gains tax rate in Germany?", "What is the capital gains tax rate in France?", "entity"),
    ("What does the Python function os.path.join do?", "What does the Python function os.path.split do?", "entity"),
    ('Translate "good morning" into Spanish', 'Translate "good night" into Spanish', "quoted"),
    ("Convert USD to EUR", "Convert EUR to USD", "direction"),
    ("Is a flight from London to Paris cheaper than the train?",
     "Is a flight from Paris to London cheaper than the train?", "direction"),
    ("List the side effects of ibuprofen", "In one word, what is the main side effect of ibuprofen?", "form"),
    ("Give me a summary of the refund policy as a bulleted list",
     "Give me a summary of the refund policy in one sentence", "form"),
]
PARAPHRASES = [
    ("How do I reset my password?", "How can I reset my password?"),
    ("What is your refund policy?", "Can you explain your policy on refunds?"),
]


def test_every_false_hit_family_is_refused(procs: ProcessFactory, sim: Proc) -> None:
    # Two lanes, the same threshold (low, so every pair is a candidate): one verifies, one does not.
    config = gateway_config({"m": sim.url}, [
        {"name": "verified", "mode": "semantic", "similarityThreshold": 0.6, "routes": ["verified"]},
        {"name": "unverified", "mode": "semantic", "similarityThreshold": 0.6, "verify": False,
         "routes": ["unverified"]},
    ])
    config["routes"] = [{"name": "lanes", "rules": [
        {"name": lane, "match": {"headers": {"x-lane": lane}}, "backends": [{"pool": "p-m"}]}
        for lane in ("verified", "unverified")]}]
    gw = procs.gateway(config)
    for lane in ("verified", "unverified"):
        for i, (stored, asked, _) in enumerate(FALSE_HITS):
            system = f"Conversation {i}."  # its own context: a pair never meets another pair's entry
            assert status(chat(gw.url, stored, system=system, headers={"x-lane": lane})) == "miss"
            time.sleep(0.05)
            answer = chat(gw.url, asked, system=system, headers={"x-lane": lane})
            if lane == "verified":
                assert status(answer) == "miss", asked
            else:  # without the verifier, each of these pairs would have been a (wrong) hit
                assert status(answer) == "hit", asked
    for family in {rule for _, _, rule in FALSE_HITS}:
        expected = sum(1 for _, _, rule in FALSE_HITS if rule == family)
        assert metric(gw.url, "tokenway_cache_verifier_rejections_total", cache="verified", route="verified",
                      rule=family) == expected, family
    assert metric(gw.url, "tokenway_cache_verifier_rejections_total", cache="unverified") == 0
    for i, (stored, asked) in enumerate(PARAPHRASES):
        system = f"Paraphrase {i}."
        assert status(chat(gw.url, stored, system=system, headers={"x-lane": "verified"})) == "miss"
        time.sleep(0.05)
        hit = chat(gw.url, asked, system=system, headers={"x-lane": "verified"})
        assert status(hit) == "hit" and float(hit.headers["x-tokenway-cache-similarity"]) >= 0.8
    # Another system prompt (another conversation) never matches, however close the last turn.
    assert status(chat(gw.url, PARAPHRASES[0][0], system="Another assistant.", headers={"x-lane": "verified"})) \
        == "miss"


# ---- tenants and invalidation -----------------------------------------------------------------------

KEY_A, KEY_B = new_key(), new_key()


def test_tenants_are_isolated_and_invalidated_on_the_admin_port(procs: ProcessFactory, sim: Proc) -> None:
    config = gateway_config({"m": sim.url}, [{"name": "both", "mode": "both"}])
    config["auth"] = {"keys": [entry_for(KEY_A, "team-a").dump(), entry_for(KEY_B, "team-b").dump()]}
    admin_port = free_port()
    gw = procs.gateway(config, "--admin-port", str(admin_port))
    admin = f"http://127.0.0.1:{admin_port}/admin/cache"
    assert status(chat(gw.url, "How do I reset my password?", key=KEY_A)) == "miss"
    time.sleep(0.05)
    assert status(chat(gw.url, "How do I reset my password?", key=KEY_A)) == "hit"
    # The same prompt, word for word and paraphrased, from another tenant's key: a miss.
    assert status(chat(gw.url, "How do I reset my password?", key=KEY_B)) == "miss"
    time.sleep(0.05)
    assert status(chat(gw.url, "How do I reset my password?", key=KEY_B)) == "hit"  # its own entry now
    assert status(chat(gw.url, "How can I reset my password?", key=KEY_A)) == "hit"

    # The admin API is not on the public port.
    assert httpx.delete(gw.url + "/admin/cache", timeout=5).status_code in (404, 405)
    assert httpx.delete(admin + "?colour=blue", timeout=5).status_code == 400
    assert httpx.delete(admin + "?tenant=", timeout=5).status_code == 400
    shown = httpx.get(admin, timeout=5).json()
    assert shown["both"]["entries"] == 2 and shown["both"]["routes"]["default"]["hits_semantic"] == 1

    dropped = httpx.delete(admin, params={"tenant": "team-a"}, timeout=5)
    assert dropped.status_code == 200 and dropped.json() == {"invalidated": 1}
    assert status(chat(gw.url, "How do I reset my password?", key=KEY_A)) == "miss"
    assert status(chat(gw.url, "How do I reset my password?", key=KEY_B)) == "hit"
    time.sleep(0.05)
    assert httpx.delete(admin, params={"route": "elsewhere"}, timeout=5).json() == {"invalidated": 0}
    assert httpx.delete(admin, params={"route": "default"}, timeout=5).json() == {"invalidated": 2}
    assert status(chat(gw.url, "How do I reset my password?", key=KEY_B)) == "miss"
    time.sleep(0.05)
    assert httpx.delete(admin, timeout=5).json() == {"invalidated": 1}
    assert metric(gw.url, "tokenway_cache_entries", cache="both") == 0


def test_admin_port_cannot_be_the_public_port(tmp_path: Any) -> None:
    import subprocess
    import sys

    from procs import _env

    config = tmp_path / "c.yaml"
    config.write_text('version: "1"\npools: []\n')
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(config),
                           "--port", str(port), "--admin-port", str(port)], capture_output=True, text=True,
                          timeout=60, env=_env())
    assert done.returncode == 2 and "--admin-port" in done.stderr + done.stdout


# ---- limits: TTL and eviction -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_ttl_expiry_and_lru_eviction(procs: ProcessFactory, sim: Proc, redis_server: RedisServer,
                                     backend: str) -> None:
    spec: dict[str, Any] = {"name": "small", "maxEntries": 2, "ttlSeconds": 2, "backend": backend}
    if backend == "redis":
        spec["redisUrl"] = redis_server.url
    gw = procs.gateway(gateway_config({"m": sim.url}, [spec]))
    for prompt in ("one", "two"):
        assert status(chat(gw.url, prompt)) == "miss"
        time.sleep(0.1)
    assert status(chat(gw.url, "one")) == "hit"  # "one" is now the most recently used
    assert status(chat(gw.url, "three")) == "miss"  # a third entry evicts the least recently used: "two"
    time.sleep(0.1)
    assert [status(chat(gw.url, p)) for p in ("one", "three")] == ["hit", "hit"]
    assert status(chat(gw.url, "two")) == "miss"
    time.sleep(2.3)  # every entry has expired
    assert [status(chat(gw.url, p)) for p in ("one", "three")] == ["miss", "miss"]


# ---- only complete answers are stored ----------------------------------------------------------------


def _faults(sim_url: str, **settings: Any) -> None:
    assert httpx.post(sim_url + "/sim/faults", json=settings, timeout=5).status_code == 200


def test_failed_cut_off_cancelled_and_timed_out_responses_are_never_stored(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "20", "--prefill-overhead-ms", "1")
    config = gateway_config({"m": sim.url}, [{"name": "exact"}])
    config["server"] = {"retries": {"attempts": 0}, "timeouts": {"requestSeconds": 1.0}}
    gw = procs.gateway(config)
    streamed: dict[str, Any] = {"stream": True, "max_tokens": 10}
    plain: dict[str, Any] = {}

    # An upstream error (500), non-streaming and streaming.
    _faults(sim.url, error_rate=1.0, error_status=500)
    for prompt, extra in (("failing", plain), ("failing stream", streamed)):
        assert chat(gw.url, prompt, **extra).status_code == 500
    _faults(sim.url, error_rate=0.0)
    for prompt, extra in (("failing", plain), ("failing stream", streamed)):
        assert status(chat(gw.url, prompt, **extra)) == "miss"  # nothing was stored ...
        time.sleep(0.1)
        assert status(chat(gw.url, prompt, **extra)) == "hit"  # ... until an answer came through

    # A stream cut off by the upstream after two tokens.
    _faults(sim.url, disconnect_rate=1.0, disconnect_after_tokens=2)
    cut = chat(gw.url, "cut off", **streamed)
    assert status(cut) == "miss" and "upstream_error" in cut.text
    _faults(sim.url, disconnect_rate=0.0)
    assert status(chat(gw.url, "cut off", **streamed)) == "miss"

    # A stream the client cancels after the first chunk.
    body = {"model": "m", "messages": [{"role": "user", "content": "cancelled"}], "temperature": 0,
            "max_tokens": 30, "stream": True}
    with httpx.stream("POST", gw.url + CHAT, json=body, timeout=10) as response:
        assert status(response) == "miss"
        next(response.iter_bytes())
    time.sleep(0.8)  # the rest of the stream would have arrived by now
    assert status(chat(gw.url, "cancelled", max_tokens=30, stream=True)) == "miss"

    # An upstream that stalls past the request timeout (504 before any byte; a cut stream after).
    _faults(sim.url, stall_first_token_ms=1500)
    assert chat(gw.url, "too slow").status_code == 504
    _faults(sim.url, stall_first_token_ms=0)
    assert status(chat(gw.url, "too slow")) == "miss"
    refused = metric(gw.url, "tokenway_cache_stores_total", cache="exact", result="refused")
    assert refused >= 5  # 500 twice, the cut stream, the cancelled stream, the timeout


# ---- KV-cache reuse: misses keep their prefix affinity ---------------------------------------------------


def test_multi_turn_misses_keep_prefix_affinity(procs: ProcessFactory) -> None:
    sims = [procs.simulator("m", "--itl-ms", "1", "--prefill-overhead-ms", "1", "--seed", str(i)) for i in range(3)]
    config = {"version": "1", "caches": [{"name": "exact"}],
              "pools": [{**pool("p-m", "m", *(s.url for s in sims)),
                         "loadBalancing": {"algorithm": "llm-aware", "minPrefixMatchTokens": 16,
                                           "sessionAffinity": False}}]}
    gw = procs.gateway(config)
    system = ("You are the support assistant of a travel agency. Answer briefly, cite the booking rules, and never "
              "invent prices. ") * 3
    endpoints: dict[int, set[str]] = {}
    for turn in range(3):
        for conv in range(6):
            history: list[dict[str, str]] = [{"role": "system", "content": system}]
            for t in range(turn + 1):
                history.append({"role": "user", "content": f"Trip {conv}: question {t} about booking number "
                                                           f"{1000 + conv} and its luggage rules."})
                if t < turn:
                    history.append({"role": "assistant", "content": f"Answer {t} for trip {conv}."})
            response = chat(gw.url, history)
            assert response.status_code == 200 and status(response) == "miss"
            endpoints.setdefault(conv, set()).add(response.headers["x-tokenway-endpoint"])
    assert all(len(found) == 1 for found in endpoints.values()), endpoints  # each conversation stayed put
    hits = 0.0
    for s in sims:
        hits += metric(s.url, "vllm:prefix_cache_hits_total")
    assert hits > 0  # and the replica holding it reused its KV cache


# ---- config swaps ------------------------------------------------------------------------------------


def _reload(gw: Proc, config: dict[str, Any]) -> None:
    import os

    import yaml

    path = gw.extra["config_path"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    os.replace(tmp, path)
    deadline = time.monotonic() + 10
    while metric(gw.url, "tokenway_config_info", version=config["version"]) != 1:
        assert time.monotonic() < deadline, "the new config was not applied"
        time.sleep(0.05)


def test_entries_survive_config_swaps_while_the_policy_is_unchanged(procs: ProcessFactory, sim: Proc) -> None:
    config = gateway_config({"m": sim.url}, [{"name": "kept", "ttlSeconds": 600}])
    gw = procs.gateway(config)
    assert status(chat(gw.url, "keep me")) == "miss"
    time.sleep(0.05)
    # Another version (a route added, the cache's own routes narrowed to the rule that serves): still a hit.
    config = {**config, "version": "2", "caches": [{"name": "kept", "ttlSeconds": 600, "routes": ["all", "default"]}],
              "routes": [{"name": "r", "rules": [{"name": "all", "backends": [{"pool": "p-m"}]}]}]}
    _reload(gw, config)
    assert status(chat(gw.url, "keep me")) == "miss"  # another route ("all"): its own partition
    time.sleep(0.05)
    assert status(chat(gw.url, "keep me")) == "hit"
    _reload(gw, {**config, "version": "3"})
    assert status(chat(gw.url, "keep me")) == "hit"
    # Changed settings: a new cache, the old entries are gone (and the counters keep counting).
    _reload(gw, {**config, "version": "4", "caches": [{"name": "kept", "ttlSeconds": 60, "routes": ["all"]}]})
    assert status(chat(gw.url, "keep me")) == "miss"
    assert metric(gw.url, "tokenway_cache_hits_total", cache="kept") == 2
    # No cache policy any more: no cache stage, no header.
    _reload(gw, {**config, "version": "5", "caches": []})
    assert status(chat(gw.url, "keep me")) is None


def test_a_semantic_lookup_reuses_the_intent_stage_embedding() -> None:
    from types import SimpleNamespace

    import numpy as np
    from tokenway_gateway.api import CachePolicySpec
    from tokenway_gateway.cache import ResponseCache
    from tokenway_gateway.pipeline.cache import _reuse_intent_vector
    from tokenway_gateway.pipeline.intent import IntentDecision

    shared, other = object(), object()  # the embedder the intent stage used, and another model
    cache = ResponseCache(CachePolicySpec(mode="semantic"), load_embedder=False)
    vector = np.ones(384, dtype=np.float32)
    # The intent stage embeds the last user turn as sent; the cache embeds it stripped: the same text is reused,
    # another text (here: trailing spaces) is embedded again, and so is one another model embedded.
    for last, made_by, reused in (("How do I reset my password?", shared, True),
                                  ("How do I reset my password?  ", shared, False),
                                  ("How do I reset my password?", other, False)):
        payload = {"model": "m", "temperature": 0, "messages": [{"role": "user", "content": last}]}
        ctx = SimpleNamespace(payload=payload, intent=IntentDecision("support", 0.9, vector, made_by))
        plan = cache.plan(payload, tenant=None, model="m", route="r")
        _reuse_intent_vector(ctx, plan, shared)  # type: ignore[arg-type]
        assert (plan.vector is vector) is reused


def test_hits_over_h2c_streams(procs: ProcessFactory, sim: Proc) -> None:
    import orjson
    from h2_client import RawH2

    gw = procs.gateway(gateway_config({"m": sim.url}, [{"name": "exact"}]))
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "over h2"}], "temperature": 0,
                         "max_tokens": 8, "stream": True, "stream_options": {"include_usage": True}})
    client = RawH2(gw.port)
    try:
        first = client.request(body=body)
        client.wait(first)
        time.sleep(0.1)
        hits = [client.request(body=body) for _ in range(4)]  # concurrent streams on one connection
        client.wait(hits)
        assert client.responses[first].headers[b"x-tokenway-cache"] == b"miss"
        missed = client.responses[first].text()
        for stream_id in hits:
            response = client.responses[stream_id]
            assert response.status == 200 and response.headers[b"x-tokenway-cache"] == b"hit"
            text = response.text()
            assert text.endswith("data: [DONE]\n\n") and '"usage":{' in text
            contents = [orjson.loads(line[6:])["choices"] for line in text.splitlines()
                        if line.startswith("data: {")]
            assert "".join(c[0]["delta"].get("content") or "" for c in contents if c) == "".join(
                c[0]["delta"].get("content") or "" for c in
                (orjson.loads(line[6:])["choices"] for line in missed.splitlines() if line.startswith("data: {"))
                if c)
    finally:
        client.close()


def test_a_stream_whose_events_straddle_network_reads_is_stored(procs: ProcessFactory) -> None:
    """An upstream (a raw socket server, standing in for an engine) whose SSE events arrive split across
    HTTP chunks and TCP reads: the stored answer is still the whole stream."""
    import socket as socket_module
    import threading

    import orjson

    chunks = [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
              for word in ("Split ", "events ", "still ", "store.")]
    chunks.append({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
    stream = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    server = socket_module.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    served = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                served.append(body)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
                             b"connection: close\r\n\r\n")
                for i in range(0, len(stream), 37):  # 37-byte pieces: every event is cut somewhere
                    piece = stream[i:i + 37]
                    conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                    time.sleep(0.002)
                conn.sendall(b"0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        gw = procs.gateway({"version": "1", "pools": [pool("p", "m", f"http://127.0.0.1:{port}")],
                            "caches": [{"name": "exact"}]})
        body = {"model": "m", "messages": [{"role": "user", "content": "split"}], "temperature": 0,
                "stream": True, "stream_options": {"include_usage": True}}
        first = httpx.post(gw.url + CHAT, json=body, timeout=10)
        assert status(first) == "miss" and first.text.endswith("data: [DONE]\n\n")
        time.sleep(0.1)
        again = httpx.post(gw.url + CHAT, json=body, timeout=10)
        assert status(again) == "hit"
        text = "".join(orjson.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                       for line in again.text.splitlines()
                       if line.startswith("data: {") and orjson.loads(line[6:])["choices"])
        assert text == "Split events still store."
        assert '"total_tokens":7' in again.text
        assert len(served) == 1  # the hit never reached the upstream
    finally:
        server.close()
