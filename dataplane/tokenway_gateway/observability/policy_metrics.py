"""Prometheus figures of the access-policy stages: authentication, rate limits, prompt guard, intents.

Plain Python counters updated on the event loop (as :mod:`.metrics` does for requests) and
turned into families when /metrics is scraped. Labels stay bounded: route policy and rule
names, tiers and intent names come from the config; results and reasons are fixed sets.
Never a key, a tenant's key id or a prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .metrics import CounterFamily, FastHistogram

# Embedding takes milliseconds (more under load), so the intent histogram starts at 0.1 ms and ends at 5 s.
EMBED_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)



class PolicyMetrics(Collector):
    """Every access-policy figure of one gateway process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # authentication
        self.auth = CounterFamily("tokenway_auth_requests", "Authentication results (ok, missing, invalid, disabled).",
                                  ("result",))
        self.key_reloads = CounterFamily("tokenway_api_key_reloads",
                                         "API key sources read (Secret or file), by result.", ("source", "result"))
        self.keys_loaded: dict[str, int] = {}  # source -> keys in the live store
        # rate limits
        self.ratelimit = CounterFamily(
            "tokenway_ratelimit_requests",
            "Admission decisions per route policy and tier: allowed, allowed_fallback (Redis down, local or "
            "fail-open policy), refused_<requests_per_minute|tokens_per_minute|tokens_per_day|limiter_unavailable>.",
            ("route", "tier", "result"))
        self.reserved = CounterFamily("tokenway_ratelimit_reserved_tokens",
                                      "Tokens reserved at admission (prompt estimate + most output).",
                                      ("route", "tier"))
        self.settled = CounterFamily("tokenway_ratelimit_settled_tokens",
                                     "Tokens charged once requests ended (real usage, or the reservation kept when "
                                     "the usage is unknown); released reservations are not counted.",
                                     ("route", "tier"))
        self.released = CounterFamily("tokenway_ratelimit_released",
                                      "Reservations given back because the request failed before using tokens.",
                                      ("route", "tier"))
        self.limiter_stats: Callable[[], dict[str, int]] | None = None
        self.limiter_up: Callable[[], bool] | None = None
        self.limiter_backend = "memory"
        # prompt guard
        self.guard = CounterFamily("tokenway_guard_verdicts",
                                   "Prompt-guard outcomes per route policy: pass, flagged, blocked, limit.",
                                   ("route", "outcome"))
        # intents and routing decisions
        self.intents = CounterFamily("tokenway_intent_matches",
                                     "Intent of each embedded prompt (none: no intent close enough).", ("intent",))
        self.intent_errors = CounterFamily("tokenway_intent_errors",
                                           "Prompts routed without an intent: embedder error, overload, or "
                                           "examples not embedded.",
                                           ("reason",))
        self.intent_seconds = FastHistogram(EMBED_BUCKETS)
        self.decisions = CounterFamily("tokenway_route_decisions",
                                       "Routing decisions of requests on routes with prompt-based rules: the rule "
                                       "chosen (default: none matched) and the prompt's intent.", ("rule", "intent"))
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterator[Metric]:
        yield from (family.family() for family in (
            self.auth, self.key_reloads, self.ratelimit, self.reserved, self.settled, self.released, self.guard,
            self.intents, self.intent_errors, self.decisions))
        keys = GaugeMetricFamily("tokenway_api_keys", "API keys in force, by source (config, secret, file).",
                                 labels=("source",))
        for source, count in list(self.keys_loaded.items()):
            keys.add_metric([source], count)
        yield keys
        for name, documentation, histogram in (
            ("tokenway_intent_seconds", "Prompt embedding plus intent match, wall time.", self.intent_seconds),
        ):
            family = HistogramMetricFamily(name, documentation, labels=())
            family.add_metric([], histogram.cumulative(), histogram.sum)
            yield family
        if self.limiter_up is not None:
            up = GaugeMetricFamily("tokenway_ratelimit_backend_up",
                                   "1 when the rate-limit backend answers (memory: always).", labels=("backend",))
            up.add_metric([self.limiter_backend], 1.0 if self.limiter_up() else 0.0)
            yield up
        if self.limiter_stats is not None:
            events = CounterMetricFamily(
                "tokenway_ratelimit_backend_events",
                "Shared (Redis) limiter events: reserves, fallbacks, timeouts, outages, errors, settles, "
                "settle_batches, settles_dropped, writes.", labels=("event",))
            for event, value in sorted(self.limiter_stats().items()):
                events.add_metric([event], value)
            yield events
