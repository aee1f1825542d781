"""The gateway's Prometheus metrics.

Labels stay bounded: model (as configured, never what a client typed), pool and
route. Labelled children are cached per (model, pool, route) so the hot path does
no label lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

# The _created series double the exposition size and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# 1 ms to 60 s, for what users feel (TTFT, E2E, queue wait).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# Finer at the low end for ITL and Tokenway's own overhead.
FINE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
LABELS = ("model", "pool", "route")


@dataclass(slots=True)
class RouteMetrics:
    """The labelled children for one (model, pool, route)."""

    ttft: Histogram
    itl: Histogram
    e2e: Histogram
    upstream: Histogram
    overhead: Histogram
    prompt_tokens: Counter
    completion_tokens: Counter


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.ttft = Histogram("tokenway_ttft_seconds", "Time to first token seen by the client.", LABELS,
                              buckets=LATENCY_BUCKETS, registry=r)
        self.itl = Histogram("tokenway_itl_seconds", "Time between streamed chunks.", LABELS,
                             buckets=FINE_BUCKETS, registry=r)
        self.e2e = Histogram("tokenway_e2e_seconds", "Request start to last byte.", LABELS,
                             buckets=LATENCY_BUCKETS, registry=r)
        self.upstream = Histogram("tokenway_upstream_seconds", "Upstream request sent to response complete.", LABELS,
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.overhead = Histogram("tokenway_gateway_overhead_seconds", "Time spent inside Tokenway per request.",
                                  LABELS, buckets=FINE_BUCKETS, registry=r)
        self.prompt_tokens = Counter("tokenway_prompt_tokens", "Prompt tokens.", LABELS, registry=r)
        self.completion_tokens = Counter("tokenway_completion_tokens", "Completion tokens.", LABELS, registry=r)
        self.requests = Counter("tokenway_requests", "Requests by final status.", (*LABELS, "status"), registry=r)
        self.upstream_errors = Counter("tokenway_upstream_errors", "Upstream failures by kind.", ("pool", "kind"),
                                       registry=r)
        self.in_flight = Gauge("tokenway_in_flight_requests", "Requests in flight per pool.", ("pool",), registry=r)
        self.config_reloads = Counter("tokenway_config_reloads", "Config snapshots offered, by result.",
                                      ("result",), registry=r)
        self.config_version = Gauge("tokenway_config_info", "The running config version (value 1).", ("version",),
                                    registry=r)
        self._routes: dict[tuple[str, str, str], RouteMetrics] = {}
        self._statuses: dict[tuple[str, str, str, int], Counter] = {}

    def route(self, model: str, pool: str, route: str) -> RouteMetrics:
        key = (model, pool, route)
        found = self._routes.get(key)
        if found is None:
            found = RouteMetrics(
                self.ttft.labels(*key), self.itl.labels(*key), self.e2e.labels(*key), self.upstream.labels(*key),
                self.overhead.labels(*key), self.prompt_tokens.labels(*key), self.completion_tokens.labels(*key),
            )
            self._routes[key] = found
        return found

    def count_request(self, model: str, pool: str, route: str, status: int) -> None:
        key = (model, pool, route, status)
        counter = self._statuses.get(key)
        if counter is None:
            counter = self._statuses[key] = self.requests.labels(model, pool, route, str(status))
        counter.inc()

    def set_config_version(self, version: str) -> None:
        self.config_version.clear()
        self.config_version.labels(version).set(1)
