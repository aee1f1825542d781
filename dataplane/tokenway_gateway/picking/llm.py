"""`algorithm: llm-aware`: the frame with the LLM filters and scorers.

Filters (soft: a filter that would leave nothing steps aside):
  model     endpoints that report their served models and lack the requested one;
  saturated waiting queue above queueThreshold or KV-cache use above kvCacheThreshold,
            and that much worse than the best candidate (a busy fleet keeps its caches).
Scorers (weights from loadBalancing.scorers; each score within 0..1):
  queue     engine waiting queue (scraped) plus requests sent since the scrape, min-max;
  kv_cache  1 - KV-cache use;
  in_flight the gateway's own outstanding requests per unit of weight, min-max;
  ttft      EWMA time to first token, min-max;
  prefix_cache  affinity.PrefixScorer (placement prior, learned match).
Picker: highest total, ties broken at random.

Session affinity comes first: a request with a session key goes to the session's
home on the ring while that endpoint is usable, not saturated and within the bounded
load; otherwise it is scored like any other request. Candidates: the whole pool up to
16 endpoints, else the affinity candidates plus `sampleSize` random endpoints.

A request with no affinity (no session home, a prompt too short for the minimum prefix
match, or prefix scoring off) has no warm cache to keep: it takes the power of two
choices. Two usable endpoints are drawn at random and the same filters and scorers
decide between them (the load scorers, relative to the pair); when both are saturated,
or an endpoint lacks the model, the whole candidate set is scored as usual. Two random
choices balance nearly as well as the least loaded of all, cost the same at 4 or 1,000
endpoints, and herd less when several gateway replicas act on the same stale scrape.

The per-candidate signals are computed once per pick in one pass (the filters and
scorers of this picker share them), which keeps a pick within a few microseconds per
candidate; the generic ScoringPicker composes Filter/Scorer objects instead.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from ..api.route import LoadBalancing
from .affinity import NO_AFFINITY, Affinity, AffinityIndex, PrefixScorer
from .base import PickRequest
from .outlier import OutlierDetector
from .picker import EndpointPicker, PoolLoad
from .ring import HashRing, key_of
from .scraper import MAX_SCRAPES_PER_SECOND
from .signals import Freshness

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

SESSION_CHOICES = 2  # ring choices a session may use before it is scored like any request
CHOICE_DRAWS = 8  # random draws to find two usable endpoints for a request without affinity
TIE = 1e-9  # totals this close are a tie (broken at random)
# In-flight differences smaller than this count in proportion, not as the whole range: each gateway
# replica counts only its own requests, and a difference of one should not outvote affinity.
IN_FLIGHT_FLOOR = 4.0


def scrape_period(interval: float, endpoints: int) -> float:
    """How often an endpoint's metrics are really scraped: the scraper stretches rounds on big pools."""
    return max(interval, endpoints / MAX_SCRAPES_PER_SECOND)


class LlmAwarePicker(EndpointPicker):
    algorithm = "llm-aware"

    def __init__(self, pool: str, endpoints: list[Endpoint], outlier: OutlierDetector, lb: LoadBalancing,
                 index: AffinityIndex) -> None:
        super().__init__(pool, endpoints, outlier, lb.sample_size)
        self.interval = lb.metrics_interval_seconds
        self.freshness = Freshness(scrape_period(self.interval, len(endpoints)))
        self.queue_threshold = float(lb.queue_threshold)
        self.kv_threshold = lb.kv_cache_threshold
        self.ring = HashRing(endpoints)
        self.prefix = PrefixScorer(index, self.ring, lb.min_prefix_match_tokens)
        weights = lb.scorers
        self.w_queue = weights.queue
        self.w_kv = weights.kv_cache
        self.w_prefix = weights.prefix_cache
        self.w_in_flight = weights.in_flight
        self.w_ttft = weights.ttft
        self.needs_prefix = self.w_prefix > 0.0
        self.session_affinity = lb.session_affinity
        self.factor = lb.bounded_load_factor
        self.load = PoolLoad(endpoints)

    def update(self, endpoints: list[Endpoint]) -> None:
        if [e.url for e in endpoints] != [e.url for e in self.endpoints]:
            self.ring = self.prefix.ring = HashRing(endpoints)
        super().update(endpoints)
        self.load.endpoints = endpoints
        self.freshness.set_period(scrape_period(self.interval, len(endpoints)))

    def signals(self, endpoint: Endpoint, now: float) -> tuple[float, float]:
        """(queue estimate, KV-cache use) as the filters and scorers see them (signals.Freshness)."""
        in_flight = endpoint.in_flight
        scraped = endpoint.scraped_at
        if scraped:
            freshness = self.freshness
            age = now - scraped - freshness.stale_after
            sent = in_flight - endpoint.in_flight_at_scrape
            queue = endpoint.waiting + sent if sent > 0 else endpoint.waiting
            if age <= 0.0:
                return queue, endpoint.kv_usage
            fade = freshness.fade
            if age < fade:
                f = 1.0 - age / fade
                return f * queue + (1.0 - f) * in_flight, f * endpoint.kv_usage
        return float(in_flight), 0.0

    def saturated(self, endpoint: Endpoint, now: float) -> bool:
        queue, kv = self.signals(endpoint, now)
        return queue > self.queue_threshold or kv > self.kv_threshold

    def pick(self, request: PickRequest, exclude: Collection[Endpoint]) -> Endpoint | None:
        now = time.monotonic()
        if self.session_affinity:
            key = request.session_key
            if key:
                chosen = self._session_home(key, exclude, now)
                if chosen is not None:
                    self._record(request, chosen)
                    return chosen
        if len(self.endpoints) <= 1:
            candidates = self.candidates(exclude, now)
            return candidates[0] if candidates else None
        affinity = self.prefix.prepare(request, now) if self.needs_prefix else NO_AFFINITY
        extra: Sequence[Endpoint] = affinity.homes
        if not extra:
            chosen = self.two_choices(request.model, exclude, now)
            if chosen is not None:
                return chosen  # nothing to record: a request without affinity teaches the index nothing
        elif affinity.owner is not None and affinity.owner not in extra:
            extra = [*extra, affinity.owner]
        candidates = self.candidates(exclude, now, extra)
        if not candidates:
            return None
        chosen = candidates[0] if len(candidates) == 1 else self.choose(request, candidates, affinity, now)
        if extra:
            self._record(request, chosen)
        return chosen

    def two_choices(self, model: str, exclude: Collection[Endpoint], now: float) -> Endpoint | None:
        """The better of two random usable endpoints by the filters and scorers (without prefix affinity).

        None when the pick needs the whole candidate set: fewer than two usable endpoints were
        drawn, one lacks the model, or both are saturated (an unsaturated one may exist elsewhere).
        """
        endpoints = self.endpoints
        count = len(endpoints)
        rand = self._random.random
        first: Endpoint | None = None
        second: Endpoint | None = None
        for _ in range(CHOICE_DRAWS):
            endpoint = endpoints[int(rand() * count)]
            if endpoint.ejected_until <= now and endpoint.healthy and endpoint is not first and \
                    endpoint not in exclude:
                if first is None:
                    first = endpoint
                else:
                    second = endpoint
                    break
        if first is None or second is None:
            return None
        served = first.served_models
        if served is not None and model not in served:
            return None
        served = second.served_models
        if served is not None and model not in served:
            return None
        q_a, kv_a = self.signals(first, now)
        q_b, kv_b = self.signals(second, now)
        q_threshold = self.queue_threshold
        kv_threshold = self.kv_threshold
        saturated_a = q_a > q_threshold or kv_a > kv_threshold
        saturated_b = q_b > q_threshold or kv_b > kv_threshold
        if saturated_a or saturated_b:
            if saturated_a and saturated_b:
                return None
            # the saturation filter over the pair: dropped when a threshold's worth worse than the other
            q_limit = max(q_threshold, min(q_a, q_b) + q_threshold)
            kv_limit = max(kv_threshold, min(kv_a, kv_b) + (1.0 - kv_threshold))
            if saturated_a and (q_a > q_limit or kv_a > kv_limit):
                return second
            if saturated_b and (q_b > q_limit or kv_b > kv_limit):
                return first
        # total(first) - total(second), each scorer min-max over the pair as in choose()
        lead = 0.0
        weight = self.w_queue
        if weight and q_a != q_b:
            lead += weight * (q_b - q_a) / max(abs(q_b - q_a), q_threshold)
        weight = self.w_kv
        if weight:
            lead += weight * ((kv_b if kv_b < 1.0 else 1.0) - (kv_a if kv_a < 1.0 else 1.0))
        weight = self.w_in_flight
        if weight:
            load = first.in_flight / first.weight - second.in_flight / second.weight
            if load:
                lead -= weight * load / max(abs(load), IN_FLIGHT_FLOOR)
        weight = self.w_ttft
        if weight:
            t_a = first.ttft_ewma
            t_b = second.ttft_ewma
            if t_a > 0.0 and t_b > 0.0 and t_a != t_b:  # an unknown TTFT counts as the best known
                lead += weight if t_a < t_b else -weight
        if lead > TIE:
            return first
        if lead < -TIE:
            return second
        return first if rand() < 0.5 else second

    def _session_home(self, key: bytes, exclude: Collection[Endpoint], now: float) -> Endpoint | None:
        bound = self.factor * self.load.average(now) + 1.0
        for endpoint in self.ring.ranked(key_of(key), SESSION_CHOICES):
            if endpoint.ejected_until <= now and endpoint.healthy and endpoint not in exclude and \
                    endpoint.in_flight / endpoint.weight < bound and not self.saturated(endpoint, now):
                return endpoint
        return None

    def _record(self, request: PickRequest, endpoint: Endpoint) -> None:
        if self.needs_prefix:
            self.prefix.picked(request, endpoint, 0.0)

    def choose(self, request: PickRequest, candidates: list[Endpoint], affinity: Affinity, now: float) -> Endpoint:
        stale_after = self.freshness.stale_after
        fade = self.freshness.fade
        q_limit = self.queue_threshold
        kv_limit = self.kv_threshold
        model = request.model
        queues: list[float] = []
        kvs: list[float] = []
        serving: list[Endpoint] = []
        open_: list[Endpoint] = []
        # signals, once per candidate; then the two soft filters
        for endpoint in candidates:
            scraped = endpoint.scraped_at
            in_flight = endpoint.in_flight
            if scraped:
                age = now - scraped - stale_after
                f = 1.0 if age <= 0.0 else (0.0 if age >= fade else 1.0 - age / fade)
            else:
                f = 0.0
            if f == 1.0:
                queue = endpoint.waiting + max(0, in_flight - endpoint.in_flight_at_scrape)
                kv = endpoint.kv_usage
            elif f == 0.0:
                queue = float(in_flight)
                kv = 0.0
            else:
                queue = f * (endpoint.waiting + max(0, in_flight - endpoint.in_flight_at_scrape)) + \
                    (1.0 - f) * in_flight
                kv = f * endpoint.kv_usage
            queues.append(queue)
            kvs.append(kv)
            served = endpoint.served_models
            if served is None or model in served:
                serving.append(endpoint)
        # Saturated = over the threshold AND a threshold's worth worse than the best candidate: when the
        # whole fleet is busy, leaving a warm cache for a cold one only adds prefill work (a spill storm).
        q_limit = max(q_limit, min(queues) + q_limit)
        kv_limit = max(kv_limit, min(kvs) + (1.0 - kv_limit))
        for i, endpoint in enumerate(candidates):
            if queues[i] <= q_limit and kvs[i] <= kv_limit and (len(serving) == len(candidates) or
                                                                  endpoint in serving):
                open_.append(endpoint)
        kept = open_ or serving or candidates
        if len(kept) == len(candidates):
            kept = candidates
        if len(kept) == 1:
            return kept[0]
        if kept is not candidates:
            position = {id(e): i for i, e in enumerate(candidates)}
            rows = [position[id(e)] for e in kept]
            queues = [queues[i] for i in rows]
            kvs = [kvs[i] for i in rows]
        totals = [0.0] * len(kept)
        weight = self.w_queue
        if weight:
            # Differences below the saturation threshold count in proportion: a queue of 2 against 0 is not
            # the whole difference between a saturated and an idle endpoint.
            _min_max(queues, totals, weight, self.queue_threshold)
        weight = self.w_kv
        if weight:
            for i, kv in enumerate(kvs):
                totals[i] += weight * (1.0 - (kv if kv < 1.0 else 1.0))
        weight = self.w_in_flight
        if weight:
            _min_max([e.in_flight / e.weight for e in kept], totals, weight, IN_FLIGHT_FLOOR)
        weight = self.w_ttft
        if weight:
            values = [e.ttft_ewma for e in kept]
            known = [v for v in values if v > 0.0]
            if known:
                best = min(known)
                _min_max([v if v > 0.0 else best for v in values], totals, weight)
        weight = self.w_prefix
        if weight and affinity.homes:
            _prefix(affinity, kept, totals, weight)
        best_total = max(totals)
        top = [i for i, total in enumerate(totals) if total >= best_total - 1e-9]
        return kept[top[0] if len(top) == 1 else top[int(self._random.random() * len(top))]]


def _min_max(values: list[float], totals: list[float], weight: float, floor: float = 0.0) -> None:
    """totals[i] += weight * (max - v) / max(max - min, floor): the lowest value scores highest."""
    low = min(values)
    high = max(values)
    if high <= low:
        return  # all equal: the same score for everyone changes no ranking
    scale = weight / max(high - low, floor)
    for i, value in enumerate(values):
        totals[i] += (high - value) * scale


def _prefix(affinity: Affinity, kept: list[Endpoint], totals: list[float], weight: float) -> None:
    prior = affinity.prior
    for i, endpoint in enumerate(kept):
        value = prior(endpoint)
        if value:
            totals[i] += weight * value
