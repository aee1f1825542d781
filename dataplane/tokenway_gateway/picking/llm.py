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

The per-candidate signals are computed once per pick in one pass (the filters and
scorers of this picker share them); the generic ScoringPicker composes Filter/Scorer
objects instead. While no candidate is saturated or lacks the model and the load
differences stay within the scorers' floors (the common case), every scorer is linear in
its signal and choose_fast finds choose()'s winners in that one pass, without lists;
otherwise choose() filters and normalizes. A request without affinity (no session home, a
prompt too short for the minimum prefix match, or prefix scoring off) is not recorded: it
teaches the prefix index nothing. (Two random choices instead of all candidates were tried
for such requests: cheaper on 16-endpoint pools, but p90 TTFT rose 3-25% (seeds 3-5) on
bench/routing_model.py's short-prompt workload near saturation.)
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..api.route import LoadBalancing
from .affinity import NO_AFFINITY, Affinity, AffinityIndex, PrefixScorer
from .base import PickRequest
from .outlier import OutlierDetector
from .picker import FULL_SCAN, EndpointPicker, PoolLoad
from .ring import HashRing, key_of
from .scraper import MAX_SCRAPES_PER_SECOND
from .signals import Freshness

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

SESSION_CHOICES = 2  # ring choices a session may use before it is scored like any request
TIE = 1e-9  # totals this close are a tie (broken at random)
INF = float("inf")
NO_PRIORS: Mapping[Endpoint, float] = MappingProxyType({})
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
        # choose_fast's constants: thresholds, then each load scorer's weight per unit of its signal
        self._linear = (self.queue_threshold, self.kv_threshold,
                        self.w_queue / self.queue_threshold if self.queue_threshold else 0.0, self.w_kv,
                        self.w_in_flight / IN_FLIGHT_FLOOR)

    def update(self, endpoints: list[Endpoint]) -> None:
        if [e.url for e in endpoints] != [e.url for e in self.endpoints]:
            self.ring = self.prefix.ring = HashRing(endpoints)
        super().update(endpoints)
        self.load.endpoints = endpoints
        self.freshness.set_period(scrape_period(self.interval, len(endpoints)))

    def saturated(self, endpoint: Endpoint, now: float) -> bool:
        queue, kv = self.freshness.signals(endpoint, now)
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
        endpoints = self.endpoints
        homes = affinity.homes
        if homes:
            extra: Sequence[Endpoint] = homes
            if affinity.owner is not None and affinity.owner not in homes:
                extra = [*homes, affinity.owner]
            pool = endpoints if len(endpoints) <= FULL_SCAN else self.candidates(exclude, now, extra)
            chosen = self.choose_fast(pool, request.model, exclude, now, affinity.priors_by_endpoint())
        else:
            extra = ()
            pool = endpoints if len(endpoints) <= FULL_SCAN else self.candidates(exclude, now)
            chosen = self.choose_fast(pool, request.model, exclude, now, NO_PRIORS)
        if chosen is None:
            candidates = self.candidates(exclude, now, extra) if pool is endpoints else pool
            if not candidates:
                return None
            chosen = candidates[0] if len(candidates) == 1 else self.choose(request, candidates, affinity, now)
        if homes:  # a request without affinity teaches the index nothing
            self._record(request, chosen)
        return chosen

    def choose_fast(self, pool: Sequence[Endpoint], model: str, exclude: Collection[Endpoint], now: float,
                    priors: Mapping[Endpoint, float]) -> Endpoint | None:
        """choose() in one pass over the usable endpoints of `pool`, while its scorers are linear.

        While no endpoint is saturated or lacks the model, the filters keep everyone, and the queue
        differences are within the queue scorer's floor (the saturation threshold); while the
        in-flight differences stay within that scorer's floor too, each min-max scorer is a fixed
        linear function of its signal, and the prefix scorer adds weight x prior. The highest total
        is then the lowest weighted load less the prefix score, found in one pass without lists.
        None when a condition fails (or nothing is usable): choose() decides.
        """
        if self.w_ttft:
            return None
        stale_after = self.freshness.stale_after
        q_threshold, kv_threshold, q_scale, w_kv, l_scale = self._linear
        w_prefix = self.w_prefix
        prior = priors.get
        l_low = l_high = -1.0
        best_key = INF
        ties: list[Endpoint] = []
        for endpoint in pool:
            if endpoint.ejected_until > now or not endpoint.healthy or endpoint in exclude:
                continue
            served = endpoint.served_models
            if served is not None and model not in served:
                return None
            in_flight = endpoint.in_flight
            scraped = endpoint.scraped_at
            queue: float
            if not scraped:
                queue = in_flight
                kv = 0.0
            elif now - scraped <= stale_after:
                sent = in_flight - endpoint.in_flight_at_scrape
                queue = endpoint.waiting + sent if sent > 0 else endpoint.waiting
                kv = endpoint.kv_usage
            else:
                queue, kv = self.freshness.signals(endpoint, now)
            if queue > q_threshold or kv > kv_threshold:  # queues within 0..threshold: within its floor
                return None
            load = in_flight / endpoint.weight
            if load > l_high:
                if l_high < 0.0:
                    l_low = load
                l_high = load
            elif load < l_low:
                l_low = load
            key = queue * q_scale + w_kv * kv + load * l_scale - w_prefix * prior(endpoint, 0.0)
            if key < best_key - TIE:
                best_key = key
                ties = [endpoint]
            elif key <= best_key + TIE:
                ties.append(endpoint)
        if not ties or l_high - l_low > IN_FLIGHT_FLOOR:
            return None
        return ties[0] if len(ties) == 1 else ties[int(self._random.random() * len(ties))]

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
        model = request.model
        queues: list[float] = []
        kvs: list[float] = []
        unserved = 0
        # signals, once per candidate (a fresh scrape inline, the rest as signals() ages them)
        for endpoint in candidates:
            scraped = endpoint.scraped_at
            if scraped and now - scraped <= stale_after:
                sent = endpoint.in_flight - endpoint.in_flight_at_scrape
                queues.append(endpoint.waiting + sent if sent > 0 else endpoint.waiting)
                kvs.append(endpoint.kv_usage)
            else:
                queue, kv = self.freshness.signals(endpoint, now)
                queues.append(queue)
                kvs.append(kv)
            served = endpoint.served_models
            if served is not None and model not in served:
                unserved += 1
        q_threshold = self.queue_threshold
        q_low = min(queues)
        q_high = max(queues)
        kept = candidates
        # The two soft filters. Saturated = over the threshold AND a threshold's worth worse than the best
        # candidate: when the whole fleet is busy, leaving a warm cache for a cold one only adds prefill work
        # (a spill storm).
        q_limit = max(q_threshold, q_low + q_threshold)
        kv_limit = max(self.kv_threshold, min(kvs) + (1.0 - self.kv_threshold))
        if unserved or q_high > q_limit or max(kvs) > kv_limit:
            rows = [i for i, endpoint in enumerate(candidates) if queues[i] <= q_limit and kvs[i] <= kv_limit and
                    (not unserved or _serves(endpoint, model))]
            if not rows and unserved < len(candidates):
                rows = [i for i, endpoint in enumerate(candidates) if _serves(endpoint, model)]
            if rows and len(rows) < len(candidates):
                if len(rows) == 1:
                    return candidates[rows[0]]
                kept = [candidates[i] for i in rows]
                queues = [queues[i] for i in rows]
                kvs = [kvs[i] for i in rows]
                q_low = min(queues)
                q_high = max(queues)
        totals = [0.0] * len(kept)
        weight = self.w_queue
        if weight and q_high > q_low:
            # Differences below the saturation threshold count in proportion: a queue of 2 against 0 is not
            # the whole difference between a saturated and an idle endpoint.
            scale = weight / max(q_high - q_low, q_threshold)
            for i, queue in enumerate(queues):
                totals[i] = (q_high - queue) * scale
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
            prior = affinity.priors_by_endpoint().get
            for i, endpoint in enumerate(kept):
                value = prior(endpoint)
                if value:
                    totals[i] += weight * value
        best_total = max(totals)
        top = [i for i, total in enumerate(totals) if total >= best_total - TIE]
        return kept[top[0] if len(top) == 1 else top[int(self._random.random() * len(top))]]


def _serves(endpoint: Endpoint, model: str) -> bool:
    served = endpoint.served_models
    return served is None or model in served


def _min_max(values: list[float], totals: list[float], weight: float, floor: float = 0.0) -> None:
    """totals[i] += weight * (max - v) / max(max - min, floor): the lowest value scores highest."""
    low = min(values)
    high = max(values)
    if high <= low:
        return  # all equal: the same score for everyone changes no ranking
    scale = weight / max(high - low, floor)
    for i, value in enumerate(values):
        totals[i] += (high - value) * scale
