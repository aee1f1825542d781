"""llm-aware picking and prefix hashing, in process: each test fails when its behaviour is removed."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from test_picking import Req, endpoints, picker
from tokenway_gateway.api.route import LoadBalancing
from tokenway_gateway.picking import AttemptOutcome, Outcome, PickerRegistry, prefix_block_hashes
from tokenway_gateway.picking.affinity import NO_AFFINITY, Affinity, AffinityIndex
from tokenway_gateway.picking.llm import LlmAwarePicker
from tokenway_gateway.picking.prefix import MAX_BLOCKS, prompt_reaches
from tokenway_gateway.routing.endpoints import Endpoint

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "You are the support assistant of tenant %d. Policies follow. " + "Answer precisely and cite the policy. " * 60


def conversation(tenant: int, chat: int, turns: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM % tenant}]
    for turn in range(turns):
        messages.append({"role": "user", "content": f"chat {chat} question {turn}: " + "details " * 30})
        if turn < turns - 1:
            messages.append({"role": "assistant", "content": f"answer {turn} of chat {chat} " + "words " * 40})
    return {"model": "m", "messages": messages}


def warm(p: Any, tenants: int) -> None:
    """Steady state: the picker has seen every tenant's traffic share (group sizes are settled)."""
    for round_ in range(max(3, 40 // tenants)):
        for tenant in range(tenants):
            chosen = p.pick(Req(payload=conversation(tenant, 10_000 + round_ * 100 + tenant, 1)), ())
            assert chosen is not None


def scrape(endpoint: Endpoint, waiting: float = 0.0, kv: float = 0.0, age: float = 0.0) -> None:
    endpoint.waiting = waiting
    endpoint.kv_usage = kv
    endpoint.scraped_at = time.monotonic() - age
    endpoint.in_flight_at_scrape = endpoint.in_flight


# ---- prefix hashing ------------------------------------------------------------------------------
def test_later_turns_repeat_earlier_turns_hashes() -> None:
    one, two, three = (prefix_block_hashes(conversation(1, 7, t)) for t in (1, 2, 3))
    assert len(one) < len(two) < len(three)
    assert two[:len(one)] == one and three[:len(two)] == two
    assert one.first_turn_blocks == two.first_turn_blocks == three.first_turn_blocks == len(one)
    assert 0 < one.system_blocks < one.first_turn_blocks


def test_different_prompts_differ_from_the_first_differing_block() -> None:
    a = prefix_block_hashes(conversation(1, 1, 2))
    b = prefix_block_hashes(conversation(1, 2, 2))  # same tenant, another chat
    c = prefix_block_hashes(conversation(2, 1, 2))  # another tenant
    shared = a.system_blocks - 1  # the system prompt's full blocks
    assert a[:shared] == b[:shared] and a[a.first_turn_blocks - 1] != b[b.first_turn_blocks - 1]
    assert a[0] != c[0]
    roles = prefix_block_hashes({"messages": [{"role": "user", "content": "hello"}]})
    assert roles != prefix_block_hashes({"messages": [{"role": "assistant", "content": "hello"}]})


def test_prefix_hashes_are_the_same_in_every_process() -> None:
    """Gateway replicas must agree: the builtin hash() of bytes would differ between processes."""
    code = ("import sys, json; sys.path.insert(0, 'dataplane');"
            "from tokenway_gateway.picking import prefix_block_hashes;"
            "print(json.dumps(list(prefix_block_hashes({'messages': [{'role': 'user', 'content': 'x' * 3000}]}))))")
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                check=True, timeout=60).stdout)
    assert len(outs) == 1
    assert outs.pop().strip() == str(list(prefix_block_hashes({"messages": [{"role": "user",
                                                                              "content": "x" * 3000}]})))


def test_prefix_hashing_is_bounded_and_handles_every_shape() -> None:
    huge = prefix_block_hashes({"messages": [{"role": "user", "content": "y" * 5_000_000}]})
    assert len(huge) == MAX_BLOCKS
    assert len(prefix_block_hashes({"prompt": "z" * 3000})) >= 5
    assert len(prefix_block_hashes({"prompt": [1, 2, 3]})) == 1
    assert prefix_block_hashes({"input": "embed me"}) == []
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "look"},
                                                        {"type": "image_url", "image_url": {"url": "data:x"}}]}]}
    assert len(prefix_block_hashes(parts)) == 1
    assert prefix_block_hashes({"messages": [None, {"role": 3, "content": None}]})  # odd shapes never raise


def random_payload(rng: random.Random) -> dict[str, Any]:
    """Prompts of every shape prefix_block_hashes accepts, around the default minimum match (1,024 bytes)."""
    texts = [lambda n: "w" * n, lambda n: "é" * n, lambda n: "中" * n, lambda n: "😀" * n, lambda n: "ab c" * (n // 4)]
    roles: list[Any] = ["system", "user", "assistant", "developer", "", "r" * 70, "rôle", None, 3]
    if rng.random() < 0.15:
        prompt: Any = rng.choice([rng.choice(texts)(rng.randint(0, 1400)), [1, 2, 3], None, True, ["a", "b"]])
        return {"prompt": prompt}
    messages: list[Any] = []
    for _ in range(rng.randint(0, 6)):
        content: Any = rng.choice(texts)(rng.randint(0, 700))
        roll = rng.random()
        if roll < 0.05:
            content = None
        elif roll < 0.1:
            content = [{"type": "text", "text": "part"}, {"type": "image_url", "image_url": {"url": "data:x"}}]
        elif roll < 0.12:
            content = {"odd": "shape"}
        message: Any = {"role": rng.choice(roles), "content": content}
        if rng.random() < 0.05:
            message = rng.choice([None, "not a message", {"content": "no role " * 10}])
        messages.append(message)
    return {"messages": messages}


def test_prompt_reaches_never_says_short_for_a_prompt_that_earns_affinity() -> None:
    """The length bound that lets short prompts skip hashing agrees with the hashes: never below them, and
    exact for plain ASCII text (so every short prompt of that kind skips)."""
    rng = random.Random(5)
    exact = 0
    for _ in range(3000):
        payload = random_payload(rng)
        hashes = prefix_block_hashes(payload)
        covered = hashes.ends[-1] if hashes.ends else 0
        for chars in (rng.randint(1, 4000), covered, covered + 1, max(1, covered - 1), 1024):
            earns = hashes.depth_for(chars) > 0
            reaches = prompt_reaches(payload, chars)
            assert reaches or not earns, (payload, chars)
            messages = payload.get("messages")
            plain = isinstance(messages, list) and all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and m["content"].isascii()
                and isinstance(m.get("role"), str) and m["role"].isascii() and len(m["role"]) < 64 for m in messages)
            if plain:
                assert reaches == earns, (payload, chars)
                exact += 1
    assert exact > 1000
    assert not prompt_reaches({"prompt": "x" * 100_000}, MAX_BLOCKS * 512 + 1)  # deeper than anything hashed


class CountingReq(Req):
    hashed = 0

    @property
    def prefix_hashes(self) -> Any:
        CountingReq.hashed += 1
        return prefix_block_hashes(self.payload)


def test_a_prompt_too_short_for_affinity_is_never_hashed() -> None:
    eps = endpoints(6)
    for e in eps:
        scrape(e)
    p = picker("llm-aware", eps)
    short = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x" * 990}]}
    CountingReq.hashed = 0
    for session in (None, b"user-1"):
        for _ in range(50):
            assert p.pick(CountingReq(payload=short, session=session), ()) is not None
    assert CountingReq.hashed == 0
    # 1,024 bytes (256 tokens, the default minimum match) with the roles and separators: hashed, and placed
    long = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x" * 1001}]}
    chosen = {p.pick(CountingReq(payload=long), ()) for _ in range(20)}
    assert CountingReq.hashed == 20 and len(chosen) == 1


def random_fleet(rng: random.Random, size: int) -> list[Endpoint]:
    """Load signals inside and outside choose_fast's conditions (saturation, the scorers' floors, models)."""
    eps = endpoints(size)
    busy = rng.random() < 0.3
    for e in eps:
        e.in_flight = rng.randint(0, 9 if busy else 3)
        e.weight = rng.choice([1, 1, 2])
        scrape(e, waiting=rng.choice([0, 0, 1, 2, 4] + ([7, 12] if busy else [])),
               kv=rng.choice([0.0, 0.1, 0.5, 0.7] + ([0.9] if busy else [])),
               age=rng.choice([0.0, 0.0, 0.0, 0.7, 60.0]))
        e.in_flight_at_scrape = max(0, e.in_flight - rng.randint(0, 2))
        if rng.random() < 0.1:
            e.scraped_at = 0.0
        if rng.random() < 0.05:
            e.served_models = frozenset({"other"})
        if rng.random() < 0.05:
            e.ejected_until = time.monotonic() + 30
    return eps


def random_affinity(rng: random.Random, eps: list[Endpoint]) -> Affinity:
    if rng.random() < 0.3:
        return NO_AFFINITY
    homes = rng.sample(eps, rng.randint(1, min(len(eps), 5)))
    priors = sorted((rng.choice([1.0, 0.5, 0.3, 0.15]) for _ in homes), reverse=True)
    owner = rng.choice([None, *eps])
    blocks = rng.randint(1, 20)
    return Affinity(Req(), list(range(blocks)), homes, priors, owner, rng.randint(1, blocks), 1)


def reference_winners(p: LlmAwarePicker, candidates: list[Endpoint], affinity: Affinity, now: float) -> set[Endpoint]:
    """The frame as documented, written plainly: soft model and saturation filters, then min-max scorers with
    their floors (queue: the saturation threshold, in-flight: 4), free KV cache and the prefix prior."""
    signals = [p.freshness.signals(e, now) for e in candidates]
    serving = [e for e in candidates if e.served_models is None or "m" in e.served_models]
    q_limit = max(p.queue_threshold, min(q for q, _ in signals) + p.queue_threshold)
    kv_limit = max(p.kv_threshold, min(kv for _, kv in signals) + 1 - p.kv_threshold)
    open_ = [e for e, (q, kv) in zip(candidates, signals, strict=True)
             if q <= q_limit and kv <= kv_limit and e in serving]
    kept = open_ or serving or candidates
    rows = [candidates.index(e) for e in kept]

    def min_max(values: list[float], floor: float) -> list[float]:
        low, high = min(values), max(values)
        return [0.0 if high <= low else (high - v) / max(high - low, floor) for v in values]

    queue = min_max([signals[i][0] for i in rows], p.queue_threshold)
    load = min_max([e.in_flight / e.weight for e in kept], 4.0)
    totals = [p.w_queue * queue[j] + p.w_kv * (1 - min(signals[i][1], 1.0)) + p.w_in_flight * load[j] +
              p.w_prefix * affinity.prior(e) for j, (i, e) in enumerate(zip(rows, kept, strict=True))]
    return {e for e, total in zip(kept, totals, strict=True) if total >= max(totals) - 1e-9}


def counted(p: LlmAwarePicker) -> Counter[str]:
    """Counts of score()'s slower paths (rescore, finish) on this picker."""
    calls = Counter[str]()
    for name in ("rescore", "finish"):
        method = getattr(p, name)

        def counting(*args: Any, _name: str = name, _method: Any = method) -> Endpoint:
            calls[_name] += 1
            return _method(*args)  # type: ignore[no-any-return]

        setattr(p, name, counting)
    return calls


def test_score_picks_what_the_frame_picks() -> None:
    """score() (its one pass, rescore or finish) picks the frame's winners (all of them, as ties are broken at
    random) on random fleets, with and without prefix affinity; every path is taken."""
    rng = random.Random(3)
    paths = Counter[str]()
    for round_ in range(240):
        eps = random_fleet(rng, rng.choice([2, 3, 4, 6, 16]))
        p = picker("llm-aware", eps)
        assert isinstance(p, LlmAwarePicker)
        affinity = random_affinity(rng, eps)
        now = time.monotonic()
        usable = [e for e in eps if e.ejected_until <= now]
        if len(usable) < 2:
            continue
        calls = counted(p)
        picked = {p.score(eps, "m", now, affinity.priors_by_endpoint(), ()) for _ in range(300)}
        assert picked == reference_winners(p, usable, affinity, now), round_
        paths.update(list(calls) or ["one pass"])
    assert min(paths["one pass"], paths["rescore"], paths["finish"]) > 10, paths


def test_the_slower_paths_are_taken_only_when_needed() -> None:
    eps = endpoints(4)
    for e in eps:
        scrape(e)
    p = picker("llm-aware", eps)
    assert isinstance(p, LlmAwarePicker)
    calls = counted(p)
    now = time.monotonic()

    def path() -> str:
        before = dict(calls)
        assert p.score(eps, "m", now, {}, ()) is not None
        changed = [name for name in calls if calls[name] != before.get(name, 0)]
        return changed[0] if changed else "one pass"

    assert path() == "one pass"
    eps[2].in_flight = 4  # within the in-flight scorer's floor: its scale is fixed
    assert path() == "one pass"
    eps[2].in_flight = 5  # beyond it: the scale depends on the range
    assert path() == "rescore"
    eps[2].in_flight = 0
    scrape(eps[1], waiting=9)  # saturated: dropped, the rest are scored on their own
    assert path() == "rescore"
    scrape(eps[1], kv=0.95)
    assert path() == "rescore"
    scrape(eps[1])
    eps[3].served_models = frozenset({"other"})
    assert path() == "finish"
    eps[3].served_models = frozenset({"m"})
    assert path() == "one pass"
    scrape(eps[0], kv=0.95)  # every endpoint saturated in one way or another: the filter steps aside
    for e in eps[1:]:
        scrape(e, waiting=9 + eps.index(e))
    assert path() == "finish"
    assert {p.score(eps, "m", now, {}, ()) for _ in range(100)} == reference_winners(p, eps, NO_AFFINITY, now)
    assert p.score(eps, "m", now, {}, set(eps)) is None  # nothing usable
    ttft = picker("llm-aware", eps, scorers={"ttft": 1.0})
    assert isinstance(ttft, LlmAwarePicker)
    ttft_calls = counted(ttft)
    assert ttft.score(eps, "m", now, {}, ()) is not None and ttft_calls["finish"] == 1


def test_an_unsaturated_fleet_is_scored_in_one_pass() -> None:
    eps = endpoints(6)
    for e in eps:
        scrape(e)
    p = picker("llm-aware", eps)
    assert isinstance(p, LlmAwarePicker)
    calls = counted(p)
    short = {"messages": [{"role": "user", "content": "hi"}]}
    for i in range(60):
        chosen = p.pick(Req(payload=short if i % 2 else conversation(i % 3, i, 2)), ())
        assert chosen is not None
        chosen.in_flight += i % 2  # loads move, within the in-flight scorer's floor
    assert not calls
    for e in eps:
        scrape(e, waiting=9)
    scrape(eps[0])
    assert p.pick(Req(payload=short), ()) is eps[0]
    assert p.pick(Req(payload=conversation(1, 1, 2)), ()) is eps[0]
    assert calls["rescore"] == 0 and calls["finish"] == 0  # one endpoint left: no scoring at all
    scrape(eps[1])
    assert p.pick(Req(payload=short), ()) in (eps[0], eps[1]) and calls["rescore"] == 1


def test_requests_without_affinity_avoid_saturated_endpoints() -> None:
    eps = endpoints(6)
    for e in eps:
        scrape(e, waiting=20)
    scrape(eps[4])
    p = picker("llm-aware", eps)
    assert all(p.pick(Req(), ()) is eps[4] for _ in range(100))


# ---- prefix affinity -----------------------------------------------------------------------------
def test_a_conversation_stays_on_one_endpoint_across_turns() -> None:
    eps = endpoints(6)
    p = picker("llm-aware", eps)
    warm(p, 5)
    homes: Counter[Endpoint] = Counter()
    for chat in range(60):
        first = p.pick(Req(payload=conversation(chat % 5, chat, 1)), ())
        for turns in range(2, 6):
            assert p.pick(Req(payload=conversation(chat % 5, chat, turns)), ()) is first
        homes[first] += 1
    assert len(homes) >= 3, homes  # tenants' groups cover different endpoints


def test_gateway_replicas_agree_without_sharing_state() -> None:
    """Three registries (three gateway processes) over the same URLs place every turn alike."""
    fleets = [endpoints(6) for _ in range(3)]
    pickers = [PickerRegistry().picker("pool", LoadBalancing(algorithm="llm-aware"), None, fleet)
               for fleet in fleets]
    for p in pickers:
        warm(p, 4)
    for chat in range(40):
        placed = set()
        for turns in range(1, 5):
            replica = (chat + turns) % 3  # each turn lands on another gateway replica
            chosen = pickers[replica].pick(Req(payload=conversation(chat % 4, chat, turns)), ())
            assert chosen is not None
            placed.add(chosen.url)
        assert len(placed) == 1


def test_a_short_shared_system_prompt_makes_no_hotspot() -> None:
    eps = endpoints(6)
    p = picker("llm-aware", eps)
    counts: Counter[Endpoint] = Counter()
    for i in range(600):  # every request: the same short system prompt, a short distinct question
        payload = {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                                {"role": "user", "content": f"question {i}"}]}
        chosen = p.pick(Req(payload=payload), ())
        assert chosen is not None
        counts[chosen] += 1
        chosen.in_flight += 1  # they stay: a hotspot would show as a pile on one endpoint
    assert max(counts.values()) <= 101, counts


def test_a_conversation_that_left_its_saturated_homes_stays_where_it_went() -> None:
    """The learned index: once both placement choices are saturated, the endpoint that took the previous
    turn holds most of the prompt and is preferred over the other cold endpoints."""
    eps = endpoints(6)
    p = picker("llm-aware", eps)
    assert isinstance(p, LlmAwarePicker)
    for chat in range(10):
        for e in eps:
            scrape(e)
        messages: list[dict[str, Any]] = [{"role": "user", "content": f"chat {chat}: " + "question " * 130}]
        homes = p.prefix.prepare(Req(payload={"messages": messages}), time.monotonic()).homes
        assert len(homes) == 2
        for home in homes:
            scrape(home, waiting=9)
        went = set()
        for turn in range(4):
            chosen = p.pick(Req(payload={"messages": list(messages)}), ())
            assert chosen is not None and chosen not in homes
            went.add(chosen)
            messages += [{"role": "assistant", "content": f"answer {turn}"}, {"role": "user", "content": "more"}]
        assert len(went) == 1, chat


def test_sticky_until_saturated() -> None:
    eps = endpoints(6)
    for e in eps:
        scrape(e)
    p = picker("llm-aware", eps)
    warm(p, 3)
    home = p.pick(Req(payload=conversation(1, 1, 1)), ())
    assert home is not None
    scrape(home, waiting=1)  # busier than the rest but not saturated (threshold 5): affinity wins
    assert p.pick(Req(payload=conversation(1, 1, 2)), ()) is home
    scrape(home, waiting=9)  # saturated: the conversation goes elsewhere
    moved = p.pick(Req(payload=conversation(1, 1, 3)), ())
    assert moved is not None and moved is not home
    scrape(home, waiting=0)
    assert p.pick(Req(payload=conversation(1, 1, 4)), ()) is home  # back home: placement, as every replica sees it
    scrape(home, waiting=9)
    assert p.pick(Req(payload=conversation(1, 1, 5)), ()) is not home


def test_kv_saturation_filters_and_all_saturated_still_picks() -> None:
    eps = endpoints(3)
    for e in eps:
        scrape(e, kv=0.95)
    scrape(eps[2], kv=0.2)
    p = picker("llm-aware", eps, scorers={"kvCache": 0, "queue": 0, "inFlight": 0, "ttft": 0, "prefixCache": 0})
    assert all(p.pick(Req(), ()) is eps[2] for _ in range(30))  # the filter alone decides
    scrape(eps[2], kv=0.95)
    assert {p.pick(Req(), ()) for _ in range(60)} == set(eps)  # soft: all saturated, all stay


# ---- load scorers --------------------------------------------------------------------------------
def only(scorer: str) -> dict[str, float]:
    weights = {"queue": 0.0, "kvCache": 0.0, "prefixCache": 0.0, "inFlight": 0.0, "ttft": 0.0}
    weights[scorer] = 1.0
    return weights


def assert_prefers(p: Any, eps: list[Endpoint], best: Endpoint, worst: Endpoint) -> None:
    """Scoring the whole set picks `best`; picks without affinity (two random choices) never take `worst`
    and take `best` whenever it is drawn (two of three pairs of a 3-endpoint pool)."""
    assert all(p.choose(Req(), eps, NO_AFFINITY, time.monotonic()) is best for _ in range(20))
    counts = Counter(p.pick(Req(), ()) for _ in range(300))
    assert counts[worst] == 0, counts
    assert counts[best] > 150 and counts[best] > 1.5 * max(counts[e] for e in eps if e is not best), counts


def test_queue_scorer_prefers_the_shortest_scraped_queue() -> None:
    eps = endpoints(3)
    for e, waiting in zip(eps, [4, 0, 2], strict=True):
        scrape(e, waiting=waiting)
    p = picker("llm-aware", eps, scorers=only("queue"))
    assert_prefers(p, eps, eps[1], eps[0])


def test_queue_estimate_counts_requests_sent_since_the_scrape() -> None:
    eps = endpoints(2)
    scrape(eps[0], waiting=1)
    scrape(eps[1], waiting=0)
    eps[1].in_flight += 3  # three requests went to eps[1] after its scrape
    p = picker("llm-aware", eps, scorers=only("queue"))
    assert p.pick(Req(), ()) is eps[0]


def test_a_stale_scrape_is_discounted() -> None:
    eps = endpoints(2)
    scrape(eps[0], waiting=4, age=60.0)  # long ago: the gateway's own count (0 in flight) is used instead
    scrape(eps[1], waiting=1)
    p = picker("llm-aware", eps, scorers=only("queue"))
    assert p.pick(Req(), ()) is eps[0]


def test_kv_cache_scorer_prefers_free_cache() -> None:
    eps = endpoints(3)
    for e, kv in zip(eps, [0.7, 0.1, 0.5], strict=True):
        scrape(e, kv=kv)
    p = picker("llm-aware", eps, scorers=only("kvCache"))
    assert_prefers(p, eps, eps[1], eps[0])


def test_an_in_flight_difference_of_one_does_not_outvote_free_kv_cache() -> None:
    """In-flight differences below the scorer's floor (4) count in proportion, with or without a filter."""
    eps = endpoints(3)
    scrape(eps[0], kv=0.0)
    scrape(eps[1], kv=0.3)
    scrape(eps[2], kv=0.1)
    eps[0].in_flight = 1  # one request more than eps[1]; eps[2] is busier than both
    eps[2].in_flight = 2
    p = picker("llm-aware", eps, scorers={"queue": 0, "kvCache": 1, "inFlight": 1, "prefixCache": 0})
    assert all(p.pick(Req(), ()) is eps[0] for _ in range(20))
    scrape(eps[2], kv=0.95)  # saturated: filtered out, the other two are scored on their own
    assert all(p.pick(Req(), ()) is eps[0] for _ in range(20))


def test_a_busy_fleet_never_gets_an_endpoint_without_the_model() -> None:
    """No endpoint passes the saturation filter: the model filter still holds."""
    eps = endpoints(3)
    scrape(eps[0], kv=0.95)  # the shortest queue, but its KV cache is full
    scrape(eps[1], waiting=9)  # free KV cache, but a long queue
    scrape(eps[2])
    eps[2].served_models = frozenset({"other"})
    p = picker("llm-aware", eps)
    assert {p.pick(Req(), ()) for _ in range(60)} <= {eps[0], eps[1]}


def test_in_flight_scorer_uses_the_gateways_own_count_and_weights() -> None:
    eps = endpoints(3)
    eps[0].in_flight, eps[1].in_flight, eps[2].in_flight = 3, 2, 4
    eps[2].weight = 4  # 4 in flight at weight 4 is the lightest load
    p = picker("llm-aware", eps, scorers=only("inFlight"))
    assert_prefers(p, eps, eps[2], eps[0])


def test_ttft_scorer_prefers_the_faster_endpoint() -> None:
    eps = endpoints(2)
    p = picker("llm-aware", eps, scorers=only("ttft"))
    for _ in range(5):
        p.observe(eps[0], AttemptOutcome(Outcome.OK, 200, ttft=0.8))
        p.observe(eps[1], AttemptOutcome(Outcome.OK, 200, ttft=0.1))
    assert all(p.pick(Req(), ()) is eps[1] for _ in range(20))


def test_model_filter_skips_endpoints_without_the_model() -> None:
    eps = endpoints(3)
    eps[0].served_models = frozenset({"other"})
    eps[1].served_models = frozenset({"m", "m-lora"})
    p = picker("llm-aware", eps)
    picked = {p.pick(Req(model="m-lora"), ()) for _ in range(60)}
    assert picked == {eps[1], eps[2]}  # eps[2] reports nothing: kept
    eps[1].served_models = eps[2].served_models = frozenset({"other"})
    assert {p.pick(Req(model="m"), ()) for _ in range(60)} == set(eps)  # nobody reports it: filter steps aside


# ---- session affinity ----------------------------------------------------------------------------
def test_session_affinity_holds_while_healthy_and_not_saturated() -> None:
    eps = endpoints(6)
    for e in eps:
        scrape(e)
    p = picker("llm-aware", eps)
    home = p.pick(Req(session=b"user-42", payload=conversation(1, 1, 1)), ())
    for chat in range(20):  # different prompts, one session: one endpoint
        assert p.pick(Req(session=b"user-42", payload=conversation(chat, chat, 2)), ()) is home
    assert home is not None
    scrape(home, waiting=20)
    assert p.pick(Req(session=b"user-42"), ()) is not home
    scrape(home)
    home.ejected_until = time.monotonic() + 30
    assert p.pick(Req(session=b"user-42"), ()) is not home
    home.ejected_until = 0.0
    assert p.pick(Req(session=b"user-42"), ()) is home
    off = picker("llm-aware", eps, sessionAffinity=False)
    assert len({off.pick(Req(session=b"user-42"), ()) for _ in range(60)}) > 1


# ---- bounded state and cost ----------------------------------------------------------------------
def test_learned_index_is_bounded() -> None:
    index = AffinityIndex(capacity=100)
    eps = endpoints(2)
    for chat in range(200):
        index.record(prefix_block_hashes(conversation(chat, chat, 3)), 1, eps[chat % 2])
    assert len(index) <= 100
    latest = prefix_block_hashes(conversation(199, 199, 3))
    assert index.deepest(latest, 1) == (eps[1], len(latest))


def test_large_pool_keeps_conversations_home_with_a_bounded_candidate_set() -> None:
    eps = endpoints(1000)
    p = picker("llm-aware", eps)
    warm(p, 30)
    for chat in range(30):
        first = p.pick(Req(payload=conversation(chat, chat, 1)), ())
        assert all(p.pick(Req(payload=conversation(chat, chat, t)), ()) is first for t in (2, 3))
    assert len(p.candidates((), time.monotonic(), eps[:2])) <= 2 + 4
