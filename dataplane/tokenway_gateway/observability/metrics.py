"""The gateway's Prometheus metrics.

The per-request series (latency histograms, token and status counters, in-flight
gauges) are plain Python numbers updated without locks, since the gateway runs on
one event loop, and are turned into Prometheus families only when /metrics is
scraped. prometheus_client's own metric objects take a lock and validate on every
observe, which cost ~10% of the request path's CPU in profiles.

Labels stay bounded: model (as configured, never what a client typed), pool and route.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# The _created series double the exposition size and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# 1 ms to 60 s, for what users feel (TTFT, E2E, queue wait).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# Finer at the low end for ITL and Tokenway's own overhead.
FINE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
LABELS = ("model", "pool", "route")


class FastHistogram:
    """Bucket counts and a sum; ``counts[-1]`` is the +Inf bucket (not cumulative until scraped)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(total)))
        return out


class FastCounter:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


Labels = tuple[str, ...]


class CounterFamily:
    """Counters by label values, exported as one family."""

    __slots__ = ("counters", "documentation", "labels", "name")

    def __init__(self, name: str, documentation: str, labels: Labels) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.counters: dict[Labels, FastCounter] = {}

    def get(self, *values: str) -> FastCounter:
        counter = self.counters.get(values)
        if counter is None:
            counter = self.counters[values] = FastCounter()
        return counter

    def inc(self, *values: str, amount: float = 1.0) -> None:
        counter = self.counters.get(values)
        if counter is None:
            counter = self.counters[values] = FastCounter()
        counter.value += amount

    def family(self) -> CounterMetricFamily:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, counter in list(self.counters.items()):
            family.add_metric(list(values), counter.value)
        return family


class RouteMetrics:
    """Everything recorded per (model, pool, route)."""

    __slots__ = ("completion_tokens", "e2e", "itl", "overhead", "prompt_tokens", "statuses", "ttft", "upstream")

    def __init__(self) -> None:
        self.ttft = FastHistogram(LATENCY_BUCKETS)
        self.itl = FastHistogram(FINE_BUCKETS)
        self.e2e = FastHistogram(LATENCY_BUCKETS)
        self.upstream = FastHistogram(LATENCY_BUCKETS)
        self.overhead = FastHistogram(FINE_BUCKETS)
        self.prompt_tokens = FastCounter()
        self.completion_tokens = FastCounter()
        self.statuses: dict[int, FastCounter] = {}


HISTOGRAMS = (
    ("ttft", "tokenway_ttft_seconds", "Time to first token seen by the client."),
    ("itl", "tokenway_itl_seconds", "Time between streamed chunks."),
    ("e2e", "tokenway_e2e_seconds", "Request start to last byte."),
    ("upstream", "tokenway_upstream_seconds", "Upstream request sent to response complete."),
    ("overhead", "tokenway_gateway_overhead_seconds", "Time spent inside Tokenway per request."),
)


class _RequestCollector(Collector):
    def __init__(self, owner: GatewayMetrics) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Metric]:
        routes = list(self.owner.routes.items())
        for attribute, name, documentation in HISTOGRAMS:
            family = HistogramMetricFamily(name, documentation, labels=LABELS)
            for key, metrics in routes:
                histogram: FastHistogram = getattr(metrics, attribute)
                family.add_metric(list(key), histogram.cumulative(), histogram.sum)
            yield family
        prompt = CounterMetricFamily("tokenway_prompt_tokens", "Prompt tokens.", labels=LABELS)
        completion = CounterMetricFamily("tokenway_completion_tokens", "Completion tokens.", labels=LABELS)
        requests = CounterMetricFamily("tokenway_requests", "Requests by final status.", labels=(*LABELS, "status"))
        for key, metrics in routes:
            prompt.add_metric(list(key), metrics.prompt_tokens.value)
            completion.add_metric(list(key), metrics.completion_tokens.value)
            for status, counter in metrics.statuses.items():
                requests.add_metric([*key, str(status)], counter.value)
        in_flight = GaugeMetricFamily("tokenway_in_flight_requests", "Requests in flight per pool.", labels=("pool",))
        for pool, gauge in self.owner.in_flight.items():
            in_flight.add_metric([pool], gauge.value)
        unrouted = CounterMetricFamily("tokenway_unrouted_requests",
                                       "Requests answered before a route was chosen (bad input, unknown model, "
                                       "authentication), by status.", labels=("status",))
        for status, counter in self.owner.unrouted.items():
            unrouted.add_metric([str(status)], counter.value)
        yield from (prompt, completion, requests, in_flight, unrouted)
        owner = self.owner
        depth = GaugeMetricFamily("tokenway_queue_depth", "Requests waiting in the gateway's queue, per pool.",
                                  labels=("pool",))
        for pool, value in list(owner.queue_depths.items()):
            depth.add_metric([pool], value)
        wait = HistogramMetricFamily("tokenway_queue_wait_seconds", "Time requests waited in the queue.",
                                     labels=("pool",))
        for pool, histogram in list(owner.queue_waits.items()):
            wait.add_metric([pool], histogram.cumulative(), histogram.sum)
        yield from (depth, wait)
        for counters in (owner.queue_rejections, owner.circuit_breaks, owner.hedges, owner.retry_budget,
                         owner.regions, owner.no_endpoint):
            yield counters.family()
        costs = self.owner.stage_costs
        if costs is not None:
            seconds = CounterMetricFamily("tokenway_stage_seconds",
                                          "Time spent in each stage (TOKENWAY_STAGE_TIMING=1).", labels=("stage",))
            calls = CounterMetricFamily("tokenway_stage_calls", "Calls of each stage (TOKENWAY_STAGE_TIMING=1).",
                                        labels=("stage",))
            for stage, (spent, count) in list(costs.items()):
                seconds.add_metric([stage], spent)
                calls.add_metric([stage], count)
            yield from (seconds, calls)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.routes: dict[tuple[str, str, str], RouteMetrics] = {}
        self.in_flight: dict[str, FastCounter] = {}
        self.unrouted: dict[int, FastCounter] = {}
        self.stage_costs: dict[str, list[float]] | None = None
        self.queue_depths: dict[str, int] = {}
        self.queue_waits: dict[str, FastHistogram] = {}
        self.queue_rejections = CounterFamily("tokenway_queue_rejected", "Requests refused by a pool's queue (full) "
                                              "or that waited too long (timeout).", ("pool", "reason"))
        self.circuit_breaks = CounterFamily("tokenway_circuit_breaker_skips", "Endpoints skipped because they had "
                                            "capacity.maxPendingRequests in flight.", ("pool",))
        self.hedges = CounterFamily("tokenway_hedges", "Hedged requests: sent, and which attempt answered first "
                                    "(won: the hedge, lost: the original).",
                                    ("route", "outcome"))
        self.retry_budget = CounterFamily("tokenway_retry_budget_exhausted", "Retries refused by the retry budget.",
                                          ("route",))
        self.regions = CounterFamily("tokenway_region_requests", "Requests by the region that served them and "
                                     "whether they spilled over from a preferred level.", ("route", "region",
                                                                                           "spilled"))
        self.no_endpoint = CounterFamily("tokenway_pool_no_endpoint_requests", "Requests that found their pool "
                                         "without any endpoint and were held for it: the demand that wakes a pool "
                                         "scaled to zero.", ("pool",))
        r = self.registry
        r.register(_RequestCollector(self))
        self.upstream_errors = Counter("tokenway_upstream_errors", "Upstream failures by kind.", ("pool", "kind"),
                                       registry=r)
        self.config_reloads = Counter("tokenway_config_reloads", "Config snapshots offered, by result.",
                                      ("result",), registry=r)
        self.config_version = Gauge("tokenway_config_info", "The running config version (value 1).", ("version",),
                                    registry=r)

    def route(self, model: str, pool: str, route: str) -> RouteMetrics:
        key = (model, pool, route)
        found = self.routes.get(key)
        if found is None:
            found = self.routes[key] = RouteMetrics()
        return found

    def pool_in_flight(self, pool: str) -> FastCounter:
        gauge = self.in_flight.get(pool)
        if gauge is None:
            gauge = self.in_flight[pool] = FastCounter()
        return gauge

    def count_request(self, metrics: RouteMetrics, status: int) -> None:
        counter = metrics.statuses.get(status)
        if counter is None:
            counter = metrics.statuses[status] = FastCounter()
        counter.value += 1

    def count_unrouted(self, status: int) -> None:
        counter = self.unrouted.get(status)
        if counter is None:
            counter = self.unrouted[status] = FastCounter()
        counter.value += 1

    def queue_depth(self, pool: str, depth: int) -> None:
        self.queue_depths[pool] = depth

    def queue_wait(self, pool: str, seconds: float) -> None:
        histogram = self.queue_waits.get(pool)
        if histogram is None:
            histogram = self.queue_waits[pool] = FastHistogram(LATENCY_BUCKETS)
        histogram.observe(seconds)

    def no_endpoint_request(self, pool: str) -> None:
        self.no_endpoint.inc(pool)

    def queue_rejected(self, pool: str, reason: str) -> None:
        self.queue_rejections.inc(pool, reason)

    def circuit_open(self, pool: str) -> None:
        self.circuit_breaks.inc(pool)

    def hedge_outcome(self, route: str, outcome: str) -> None:
        self.hedges.inc(route, outcome)

    def retry_budget_exhausted(self, route: str) -> None:
        self.retry_budget.inc(route)

    def region_request(self, route: str, region: str, spilled: bool) -> None:
        self.regions.inc(route, region, "true" if spilled else "false")

    def watch_stage_costs(self, costs: dict[str, list[float]]) -> None:
        """Export per-stage time and calls from this (live) dict."""
        self.stage_costs = costs

    def set_config_version(self, version: str) -> None:
        self.config_version.clear()
        self.config_version.labels(version).set(1)
