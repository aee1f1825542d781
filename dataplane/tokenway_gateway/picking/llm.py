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
objects instead. While no candidate is saturated or lacks the model and the in-flight
differences stay within that scorer's floor (the common case), every scorer is linear in
its signal and that pass alone finds the winner; otherwise `finish` filters and
normalizes what it gathered. A request without affinity (no session home, a prompt too
short for the minimum prefix match, or prefix scoring off) is not recorded: it teaches
the prefix index nothing. (Two random choices instead of all candidates were tried
for such requests: cheaper on 16-endpoint pools, but p90 TTFT rose 3-25% (seeds 3-5) on
bench/routing_model.py's short-prompt workload near saturation.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
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
        # score()'s constants: thresholds, then each load scorer's weight per unit of its signal
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
        priors = affinity.priors_by_endpoint() if homes else NO_PRIORS
        if len(endpoints) <= FULL_SCAN:
            chosen = self.score(endpoints, request.model, now, priors, exclude)
            if chosen is None:  # nothing usable: panic mode
                chosen = self.score(self.panic(exclude), request.model, now, priors)
        else:
            extra: Sequence[Endpoint] = homes
            if affinity.owner is not None and affinity.owner not in homes:
                extra = [*homes, affinity.owner]
            chosen = self.score(self.candidates(exclude, now, extra), request.model, now, priors)
        if chosen is not None and homes:  # a request without affinity teaches the index nothing
            self._record(request, chosen)
        return chosen

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
        """The frame over `candidates` (filters, then the weighted scorers; ties broken at random)."""
        chosen = self.score(candidates, request.model, now, affinity.priors_by_endpoint())
        assert chosen is not None, "no candidates"
        return chosen

    def score(self, pool: Sequence[Endpoint], model: str, now: float, priors: Mapping[Endpoint, float],
              exclude: Collection[Endpoint] | None = None) -> Endpoint | None:
        """The endpoint of `pool` (its usable ones, not in `exclude`, when given) the frame picks; None: empty.

        One pass computes each endpoint's signals. The queue scorer is linear in the queue whenever
        the saturation filter keeps someone (the queues it keeps are within the saturation threshold,
        the scorer's floor, of each other), the KV-cache and prefix scorers always are: their sum is
        each endpoint's `base`. The in-flight scorer's scale is fixed while the kept loads differ by
        at most its floor, so in the common case (nobody filtered, loads within the floor) the pass's
        lowest key is the winner; otherwise `rescore` recomputes the key with the kept loads' range.
        `finish` takes the rest (the model filter, the TTFT scorer, a filter that would keep nobody).
        """
        stale_after = self.freshness.stale_after
        q_threshold, kv_threshold, q_scale, w_kv, l_scale = self._linear
        w_prefix = self.w_prefix if priors else 0.0
        prior = priors.get
        rows: list[tuple[Endpoint, float, float, float, float]] = []
        append = rows.append
        l_low = INF
        l_high = -1.0
        saturated = False
        unserved = 0
        best_key = INF
        ties: list[Endpoint] = []
        for endpoint in pool:
            if exclude is not None and (endpoint.ejected_until > now or not endpoint.healthy or endpoint in exclude):
                continue
            served = endpoint.served_models
            if served is not None and model not in served:
                unserved += 1
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
            if queue > q_threshold or kv > kv_threshold:
                saturated = True
            load = in_flight / endpoint.weight
            if load < l_low:
                l_low = load
            if load > l_high:
                l_high = load
            base = queue * q_scale + w_kv * (kv if kv < 1.0 else 1.0)
            if w_prefix:
                base -= w_prefix * prior(endpoint, 0.0)
            append((endpoint, queue, kv, load, base))
            key = base + load * l_scale
            if key < best_key - TIE:
                best_key = key
                ties = [endpoint]
            elif key <= best_key + TIE:
                ties.append(endpoint)
        if len(rows) <= 1:
            return rows[0][0] if rows else None
        if unserved or self.w_ttft:
            return self.finish(rows, model, unserved, prior)
        if saturated:
            # The saturation filter. Saturated = over the threshold AND a threshold's worth worse than the
            # best candidate: when the whole fleet is busy, leaving a warm cache for a cold one only adds
            # prefill work (a spill storm).
            q_limit = max(q_threshold, min(row[1] for row in rows) + q_threshold)
            kv_limit = max(kv_threshold, min(row[2] for row in rows) + (1.0 - kv_threshold))
            kept = [row for row in rows if row[1] <= q_limit and row[2] <= kv_limit]
            if len(kept) < len(rows):
                if len(kept) <= 1:
                    return kept[0][0] if kept else self.finish(rows, model, unserved, prior)
                return self.rescore(kept)
        if l_high - l_low > IN_FLIGHT_FLOOR:
            return self.rescore(rows)
        return ties[0] if len(ties) == 1 else ties[int(self._random.random() * len(ties))]

    def rescore(self, rows: list[tuple[Endpoint, float, float, float, float]]) -> Endpoint:
        """score()'s key with the in-flight scorer's scale from these rows' loads (they differ by more than
        its floor, or the saturation filter dropped someone): rows are (endpoint, queue estimate, KV-cache
        use, in-flight per weight, base)."""
        loads = [row[3] for row in rows]
        spread = max(loads) - min(loads)
        # Differences below the floor count in proportion: one request more is not the whole range.
        scale = self.w_in_flight / (spread if spread > IN_FLIGHT_FLOOR else IN_FLIGHT_FLOOR)
        keys = [row[4] + load * scale for row, load in zip(rows, loads, strict=True)]
        low = min(keys)
        top = [row[0] for row, key in zip(rows, keys, strict=True) if key <= low + TIE]
        return top[0] if len(top) == 1 else top[int(self._random.random() * len(top))]

    def finish(self, rows: list[tuple[Endpoint, float, float, float, float]], model: str, unserved: int,
               prior: Callable[[Endpoint, float], float]) -> Endpoint:
        """score()'s general case: the model and saturation filters, then every scorer min-max over what
        they kept (the model filter, the TTFT scorer, or a saturation filter that would keep nobody)."""
        kept = [row[0] for row in rows]
        queues = [row[1] for row in rows]
        kvs = [row[2] for row in rows]
        loads = [row[3] for row in rows]
        count = len(kept)
        q_limit = max(self.queue_threshold, min(queues) + self.queue_threshold)
        kv_limit = max(self.kv_threshold, min(kvs) + (1.0 - self.kv_threshold))
        if unserved or max(queues) > q_limit or max(kvs) > kv_limit:
            keep = [i for i in range(count) if queues[i] <= q_limit and kvs[i] <= kv_limit and
                    (not unserved or _serves(kept[i], model))]
            if not keep and unserved < count:
                keep = [i for i in range(count) if _serves(kept[i], model)]
            if keep and len(keep) < count:
                if len(keep) == 1:
                    return kept[keep[0]]
                kept = [kept[i] for i in keep]
                queues = [queues[i] for i in keep]
                kvs = [kvs[i] for i in keep]
                loads = [loads[i] for i in keep]
        # Differences below the saturation threshold count in proportion: a queue of 2 against 0 is not the
        # whole difference between a saturated and an idle endpoint. The same for in-flight requests.
        q_low = min(queues)
        q_high = max(queues)
        l_low = min(loads)
        l_high = max(loads)
        weight = self.w_queue
        q_scale = weight / max(q_high - q_low, self.queue_threshold) if weight and q_high > q_low else 0.0
        weight = self.w_in_flight
        l_scale = weight / max(l_high - l_low, IN_FLIGHT_FLOOR) if weight and l_high > l_low else 0.0
        w_kv = self.w_kv
        w_prefix = self.w_prefix
        totals = [(q_high - queue) * q_scale + w_kv * (1.0 - (kv if kv < 1.0 else 1.0)) + (l_high - load) * l_scale
                  + w_prefix * prior(endpoint, 0.0)
                  for endpoint, queue, kv, load in zip(kept, queues, kvs, loads, strict=True)]
        weight = self.w_ttft
        if weight:
            values = [e.ttft_ewma for e in kept]
            known = [v for v in values if v > 0.0]
            if known:
                best = min(known)
                _min_max([v if v > 0.0 else best for v in values], totals, weight)
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
