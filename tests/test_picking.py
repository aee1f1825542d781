"""The picking frame and the classic algorithms, in process: each test fails when its behaviour is removed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from tokenway_gateway.api.route import LoadBalancing, OutlierDetection
from tokenway_gateway.picking import (
    CONNECT_FAILURE,
    OK,
    AttemptOutcome,
    Outcome,
    PickerRegistry,
    build_picker,
    prefix_block_hashes,
)
from tokenway_gateway.picking.picker import FULL_SCAN, EndpointPicker
from tokenway_gateway.routing.endpoints import Endpoint

FIVE_XX = AttemptOutcome(Outcome.HTTP_5XX, 500)


class Req:
    """A request as a picker sees it (the gateway's RequestContext has the same shape)."""

    def __init__(self, model: str = "m", session: bytes | None = None, headers: dict[bytes, bytes] | None = None,
                 payload: dict[str, Any] | None = None) -> None:
        self.model = model
        self.session_key = session
        self._headers = headers or {}
        self.payload = payload or {}
        self._hashes: Sequence[int] | None = None

    @property
    def prefix_hashes(self) -> Sequence[int]:
        if self._hashes is None:
            self._hashes = prefix_block_hashes(self.payload)
        return self._hashes

    def header(self, name: bytes) -> bytes | None:
        return self._headers.get(name)


def endpoints(count: int, weights: Sequence[int] | None = None) -> list[Endpoint]:
    out = []
    for i in range(count):
        endpoint = Endpoint(f"http://10.0.{i // 250}.{i % 250 + 1}:8000")
        if weights is not None:
            endpoint.weight = weights[i]
        out.append(endpoint)
    return out


def picker(algorithm: str, eps: list[Endpoint], outlier: OutlierDetection | None = None, **lb: Any) -> EndpointPicker:
    return build_picker("pool", LoadBalancing(algorithm=algorithm, **lb), outlier, eps)  # type: ignore[arg-type]


def shares(p: EndpointPicker, eps: list[Endpoint], picks: int, request: Req | None = None) -> list[int]:
    counts: Counter[Endpoint] = Counter()
    for _ in range(picks):
        chosen = p.pick(request or Req(), ())
        assert chosen is not None
        counts[chosen] += 1
    return [counts[e] for e in eps]


ALGORITHMS = ["round-robin", "weighted", "least-request", "power-of-two", "consistent-hash", "llm-aware"]


# ---- classic algorithms ------------------------------------------------------------------------
def test_round_robin_visits_each_in_turn() -> None:
    eps = endpoints(4)
    p = picker("round-robin", eps)
    order = [p.pick(Req(), ()) for _ in range(8)]
    assert order == eps + eps


def test_weighted_shares_follow_weights_interleaved() -> None:
    eps = endpoints(3, weights=[1, 3, 6])
    p = picker("weighted", eps)
    assert shares(p, eps, 1000) == [100, 300, 600]
    # interleaved, not in runs: the heavy endpoint never gets more than 3 picks in a row here
    run = longest = 0
    last = None
    for _ in range(100):
        chosen = p.pick(Req(), ())
        run = run + 1 if chosen is last else 1
        longest = max(longest, run)
        last = chosen
    assert longest <= 3


def test_round_robin_ignores_weights_but_weighted_does_not() -> None:
    eps = endpoints(2, weights=[1, 4])
    assert shares(picker("round-robin", eps), eps, 100) == [50, 50]
    assert shares(picker("weighted", eps), eps, 100) == [20, 80]


def test_least_request_picks_the_least_loaded() -> None:
    eps = endpoints(4)
    for endpoint, load in zip(eps, [5, 0, 3, 1], strict=True):
        endpoint.in_flight = load
    p = picker("least-request", eps)
    # plain round robin would spread these four picks over all endpoints
    assert [p.pick(Req(), ()) for _ in range(4)] == [eps[1]] * 4


def test_least_request_balances_in_flight_under_uneven_request_lengths() -> None:
    """Requests of endpoint 0 last 4x longer: least request sends it fewer, round robin would not."""
    eps = endpoints(4)
    p = picker("least-request", eps)
    running: list[tuple[int, Endpoint]] = []
    counts: Counter[Endpoint] = Counter()
    for tick in range(4000):
        running = [(end, e) for end, e in running if end > tick or setattr(e, "in_flight", e.in_flight - 1)]
        chosen = p.pick(Req(), ())
        assert chosen is not None
        assert chosen.in_flight == min(e.in_flight for e in eps)
        chosen.in_flight += 1
        counts[chosen] += 1
        running.append((tick + (16 if chosen is eps[0] else 4), chosen))
    assert counts[eps[0]] < 0.5 * counts[eps[1]]


def test_least_request_weights_change_shares() -> None:
    eps = endpoints(2, weights=[1, 3])
    p = picker("least-request", eps)
    for _ in range(400):  # every request stays: in-flight grows in proportion to the weights
        chosen = p.pick(Req(), ())
        assert chosen is not None
        chosen.in_flight += 1
    assert eps[0].in_flight == 100 and eps[1].in_flight == 300


def test_power_of_two_never_picks_the_most_loaded() -> None:
    eps = endpoints(5)
    eps[2].in_flight = 100
    p = picker("power-of-two", eps)
    counts = shares(p, eps, 2000)
    assert counts[2] == 0
    assert all(350 < c < 650 for i, c in enumerate(counts) if i != 2), counts


def test_consistent_hash_keeps_a_key_on_its_endpoint_and_spreads_keys() -> None:
    eps = endpoints(6)
    p = picker("consistent-hash", eps, hashHeader="x-user")
    homes = {}
    for user in range(600):
        request = Req(headers={b"x-user": b"user-%d" % user})
        first = p.pick(request, ())
        assert all(p.pick(request, ()) is first for _ in range(3))
        homes[user] = first
    spread = Counter(homes.values())
    assert len(spread) == 6 and min(spread.values()) > 50, spread
    # consistency: removing one endpoint moves only the keys it held
    p2 = picker("consistent-hash", eps[1:], hashHeader="x-user")
    moved = sum(1 for user, home in homes.items()
                if home is not eps[0] and p2.pick(Req(headers={b"x-user": b"user-%d" % user}), ()) is not home)
    assert moved == 0


def test_consistent_hash_session_key_and_bounded_load() -> None:
    eps = endpoints(4)
    p = picker("consistent-hash", eps, boundedLoadFactor=1.25)
    request = Req(session=b"conversation-1")
    home = p.pick(request, ())
    assert home is not None and p.pick(request, ()) is home
    home.in_flight = 20  # far above 1.25 x the average (+1): the key spills to the next endpoint on the ring
    spill = p.pick(request, ())
    assert spill is not None and spill is not home
    assert p.pick(request, ()) is spill  # and spills consistently
    home.in_flight = 0
    assert p.pick(request, ()) is home


def test_consistent_hash_without_key_balances() -> None:
    eps = endpoints(3)
    eps[0].in_flight = 50
    p = picker("consistent-hash", eps)
    assert shares(p, eps, 300)[0] == 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_exclude_is_honoured(algorithm: str) -> None:
    eps = endpoints(3)
    p = picker(algorithm, eps)
    for _ in range(30):
        assert p.pick(Req(session=b"s", payload=CHAT), {eps[0], eps[1]}) is eps[2]
    assert p.pick(Req(), set(eps)) is None


# ---- outlier detection and health --------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ejected_endpoint_gets_no_traffic_while_others_are_healthy(algorithm: str) -> None:
    eps = endpoints(4)
    p = picker(algorithm, eps)
    for _ in range(3):
        p.observe(eps[1], CONNECT_FAILURE)
    assert eps[1].ejected_until > time.monotonic()
    counts = shares(p, eps, 400, Req(session=b"s", payload=CHAT))
    assert counts[1] == 0 and sum(counts) == 400


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_panic_mode_routes_when_every_endpoint_is_out(algorithm: str) -> None:
    eps = endpoints(3)
    for endpoint in eps:
        endpoint.ejected_until = time.monotonic() + 60
    p = picker(algorithm, eps)
    picked = {p.pick(Req(), ()) for _ in range(60)}
    assert picked and None not in picked
    assert p.pick(Req(), {eps[0]}) in (eps[1], eps[2])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_failed_health_check_takes_an_endpoint_out(algorithm: str) -> None:
    eps = endpoints(3)
    eps[0].healthy = False
    assert shares(picker(algorithm, eps), eps, 90, Req(session=b"s", payload=CHAT))[0] == 0


def test_outlier_detection_counts_consecutive_5xx_and_resets_on_success() -> None:
    eps = endpoints(4)
    p = picker("least-request", eps, OutlierDetection(consecutive_errors=3))
    p.observe(eps[0], FIVE_XX)
    p.observe(eps[0], FIVE_XX)
    p.observe(eps[0], OK)  # a success breaks the run
    p.observe(eps[0], FIVE_XX)
    p.observe(eps[0], FIVE_XX)
    assert eps[0].ejected_until == 0.0
    p.observe(eps[0], FIVE_XX)
    assert eps[0].ejected_until > time.monotonic()


def test_gateway_failures_eject_sooner_and_cancellations_never() -> None:
    eps = endpoints(4)
    p = picker("least-request", eps, OutlierDetection(consecutive_errors=10, consecutive_gateway_failures=2))
    for _ in range(20):
        p.observe(eps[1], AttemptOutcome(Outcome.CANCELLED))
    assert eps[1].ejected_until == 0.0
    p.observe(eps[1], AttemptOutcome(Outcome.TIMEOUT))
    p.observe(eps[1], AttemptOutcome(Outcome.RESET))
    assert eps[1].ejected_until > time.monotonic()


def test_ejection_time_grows_on_repeats_up_to_the_cap() -> None:
    eps = endpoints(4)
    config = OutlierDetection(consecutive_gateway_failures=1, base_ejection_seconds=10, max_ejection_seconds=25)
    p = picker("least-request", eps, config)
    lengths = []
    for _ in range(3):
        p.observe(eps[0], CONNECT_FAILURE)
        lengths.append(round(eps[0].ejected_until - time.monotonic()))
        eps[0].ejected_until = time.monotonic() - 0.01  # its ejection just ended
    assert lengths == [10, 20, 25]
    # healthy for longer than its last ejection: the multiplier starts over
    eps[0].ejected_until = time.monotonic() - 100
    p.observe(eps[0], CONNECT_FAILURE)
    assert round(eps[0].ejected_until - time.monotonic()) == 10


def test_max_ejection_percent_caps_ejections() -> None:
    eps = endpoints(10)
    p = picker("least-request", eps, OutlierDetection(consecutive_gateway_failures=1, max_ejection_percent=30))
    for endpoint in eps:
        p.observe(endpoint, CONNECT_FAILURE)
    assert sum(1 for e in eps if e.ejected_until > time.monotonic()) == 3


def test_ttft_ewma_follows_observations() -> None:
    eps = endpoints(2)
    p = picker("least-request", eps)
    p.observe(eps[0], AttemptOutcome(Outcome.OK, 200, ttft=1.0))
    assert eps[0].ttft_ewma == 1.0
    for _ in range(30):
        p.observe(eps[0], AttemptOutcome(Outcome.OK, 200, ttft=0.1))
    assert 0.1 <= eps[0].ttft_ewma < 0.11


# ---- large pools: bounded candidate sets -------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_large_pool_picks_only_usable_endpoints(algorithm: str) -> None:
    eps = endpoints(1000)
    now = time.monotonic()
    for endpoint in eps[:900]:
        endpoint.ejected_until = now + 60  # 90% out: the random sample misses often
    p = picker(algorithm, eps)
    for i in range(200):
        chosen = p.pick(Req(session=b"s%d" % i, payload=CHAT), ())
        assert chosen is not None and chosen.ejected_until <= now


def test_large_pool_candidates_are_bounded() -> None:
    eps = endpoints(1000)
    p = picker("least-request", eps, sampleSize=4)
    assert len(p.candidates((), time.monotonic())) <= 4
    assert len(picker("least-request", endpoints(FULL_SCAN)).candidates((), time.monotonic())) == FULL_SCAN


def test_large_pool_least_request_avoids_loaded_endpoints() -> None:
    eps = endpoints(1000)
    for endpoint in eps[::2]:
        endpoint.in_flight = 10
    p = picker("least-request", eps)
    counts = shares(p, eps, 2000)
    loaded = sum(counts[::2])
    assert loaded < 0.1 * 2000  # a sample of 4 holds no idle endpoint once in 16 picks


# ---- the registry ------------------------------------------------------------------------------
def test_registry_reuses_state_across_config_swaps() -> None:
    registry = PickerRegistry()
    eps = endpoints(3)
    lb = LoadBalancing(algorithm="round-robin")
    first = registry.picker("a", lb, None, eps)
    assert first.pick(Req(), ()) is eps[0]
    bigger = [*eps, *endpoints(5)[3:]]
    again = registry.picker("a", LoadBalancing(algorithm="round-robin"), None, bigger)
    assert again is first and again.endpoints == bigger
    assert again.pick(Req(), ()) is eps[1]  # the cursor survived
    other = registry.picker("a", LoadBalancing(algorithm="least-request"), None, bigger)
    assert other is not first
    registry.retain({other.key})
    assert registry.picker("a", lb, None, bigger) is not first  # dropped by retain: a fresh one
    assert registry.picker("a", lb, OutlierDetection(consecutive_errors=2), bigger) is not first


def test_registry_keeps_the_prefix_index_when_settings_change() -> None:
    registry = PickerRegistry()
    eps = endpoints(6)
    request = Req(payload=CHAT)
    llm = registry.picker("a", LoadBalancing(algorithm="llm-aware"), None, eps)
    chosen = llm.pick(request, ())
    index = llm.prefix.index  # type: ignore[attr-defined]
    assert len(index) > 0
    retuned = registry.picker("a", LoadBalancing(algorithm="llm-aware", sampleSize=8), None, eps)
    assert retuned is not llm and retuned.prefix.index is index  # type: ignore[attr-defined]
    assert retuned.pick(Req(payload=CHAT), ()) is chosen
    registry.retain({retuned.key})
    registry.retain(set())
    fresh = registry.picker("a", LoadBalancing(algorithm="llm-aware"), None, eps)
    assert len(fresh.prefix.index) == 0  # type: ignore[attr-defined]


def test_registry_never_raises_for_valid_configs() -> None:
    registry = PickerRegistry()
    for algorithm in ALGORITHMS:
        for count in (0, 1, 50):
            p = registry.picker(f"pool-{count}", LoadBalancing(algorithm=algorithm), None,  # type: ignore[arg-type]
                                endpoints(count))
            chosen = p.pick(Req(payload=CHAT, session=b"s"), ())
            assert (chosen is None) == (count == 0)


CHAT = {"messages": [{"role": "system", "content": "You are a careful assistant. " * 80},
                     {"role": "user", "content": "Tell me about consistent hashing."}]}
