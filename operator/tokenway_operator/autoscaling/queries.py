"""The autoscaler's PromQL: one template per signal, run batched for every pool at once.

Series are found by the target labels the generated scrape config
(:func:`tokenway_operator.autoscaling.scrape.scrape_config`) attaches: ``namespace`` and
``pool`` on engine targets, ``namespace`` and ``gateway`` on gateway targets (whose own
series carry ``pool`` as a metric label). Each template aggregates ``by (namespace, pool)``,
so one query answers for every pool; ``$sel`` is empty then. Rendered with a pool's
selector instead, the same template is the query shown in that pool's status: what runs
is what is shown.

A pool may override a signal's query (``spec.autoscaling.queries``): that query is run
for that pool alone, with ``$namespace``, ``$pool`` and ``$window`` filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from tokenway_gateway.api import InferencePoolSpec

# Fewer gateway-observed first tokens than this in the window: use the engines' TTFT histogram.
MIN_GATEWAY_TTFT_SAMPLES = 20


def _plus(a: str, b: str) -> str:
    """a + b where either side may be missing for a pool (PromQL's + drops unmatched series)."""
    return f"({a}) + ({b}) or ({a}) or ({b})"


def _ttft(metric: str, window: str) -> str:
    return (f"histogram_quantile(0.95, sum by (namespace, pool, le) "
            f"(rate({metric}_bucket{{$sel}}[{window}])))")


# Per-replica busy share: the larger of KV-cache use and running sequences / capacity, averaged over replicas.
_RUNNING = "clamp_max(avg_over_time(vllm:num_requests_running{$sel}[{w}]) / $capacity, 1)"
_KV = "avg_over_time(vllm:kv_cache_usage_perc{$sel}[{w}])"
# Per replica max(running share, KV share) (a series missing KV use counts its running share), then the mean.
_SATURATION = f"avg by (namespace, pool) (({_RUNNING} > {_KV}) or {_KV} or {_RUNNING})"

_QUEUE = _plus(
    "sum by (namespace, pool) (avg_over_time(vllm:num_requests_waiting{$sel}[{w}]))",
    "sum by (namespace, pool) (avg_over_time(tokenway_queue_depth{$sel}[{w}]))",
)

TEMPLATES: dict[str, str] = {
    "ttftP95": _ttft("tokenway_ttft_seconds", "$window"),
    "ttftP95Short": _ttft("tokenway_ttft_seconds", "$short"),
    "ttftSamples": "sum by (namespace, pool) (increase(tokenway_ttft_seconds_count{$sel}[$window]))",
    "engineTtftP95": _ttft("vllm:time_to_first_token_seconds", "$window"),
    "engineTtftP95Short": _ttft("vllm:time_to_first_token_seconds", "$short"),
    "queueDepth": _QUEUE.replace("{w}", "$window"),
    "queueDepthShort": _QUEUE.replace("{w}", "$short"),
    "saturation": _SATURATION.replace("{w}", "$window"),
    "saturationShort": _SATURATION.replace("{w}", "$short"),
    "demand": _plus("sum by (namespace, pool) (max_over_time(tokenway_queue_depth{$sel}[$window]))",
                    "sum by (namespace, pool) (increase(tokenway_pool_no_endpoint_requests_total{$sel}[$window]))"),
    # Requests arriving at the gateways plus sequences the engines run or hold; 0 means idle.
    "activity": ("sum by (namespace, pool) (rate(tokenway_requests_total{$sel}[$window])"
                 " or tokenway_in_flight_requests{$sel}"
                 " or avg_over_time(vllm:num_requests_running{$sel}[$window])"
                 " or label_replace(avg_over_time(vllm:num_requests_waiting{$sel}[$window]), "
                 "\"signal\", \"waiting\", \"\", \"\"))"),
    # Demand against throughput: requests finished in the window, and how much the backlog (requests waiting at
    # engines or gateways) grew meanwhile. Arrivals = finished + growth; arrivals / finished corrects saturation for
    # a backlog (full replicas draining a queue are not the load they will carry). Running requests are left out:
    # they grow whenever load ramps up below capacity (slots filling), which is no backlog.
    "completions": "sum by (namespace, pool) (increase(vllm:request_success_total{$sel}[$window]))",
    "completionsShort": "sum by (namespace, pool) (increase(vllm:request_success_total{$sel}[$short]))",
    "backlogGrowth": _plus("sum by (namespace, pool) (delta(vllm:num_requests_waiting{$sel}[$window]))",
                           "sum by (namespace, pool) (delta(tokenway_queue_depth{$sel}[$window]))"),
    "backlogGrowthShort": _plus("sum by (namespace, pool) (delta(vllm:num_requests_waiting{$sel}[$short]))",
                                "sum by (namespace, pool) (delta(tokenway_queue_depth{$sel}[$short]))"),
    # Seconds between the query and the freshest engine sample (staleness).
    "sampleAge": "time() - max by (namespace, pool) (timestamp(vllm:num_requests_running{$sel}))",
}

# Override key (spec.autoscaling.queries) -> the template keys it replaces.
OVERRIDES: dict[str, tuple[str, ...]] = {
    "ttftP95": ("ttftP95", "ttftP95Short", "ttftSamples", "engineTtftP95", "engineTtftP95Short"),
    "queueDepth": ("queueDepth", "queueDepthShort"),
    "saturation": ("saturation", "saturationShort", "completions", "completionsShort", "backlogGrowth",
                   "backlogGrowthShort"),
    "demand": ("demand",),
}
# What status.autoscaler.queries shows: the query behind each signal the decision weighs.
SHOWN = ("ttftP95", "queueDepth", "saturation", "demand")


@dataclass(frozen=True)
class Group:
    """Pools whose default queries are identical apart from the selector: one batch answers all of them."""

    window: int
    short: int
    capacity: int

    def render(self, key: str, selector: str = "") -> str:
        return Template(TEMPLATES[key]).substitute(
            sel=selector, window=f"{self.window}s", short=f"{self.short}s", capacity=self.capacity)


def group_of(spec: InferencePoolSpec) -> Group:
    a = spec.autoscaling
    return Group(a.metrics_window_seconds, a.panic_window_seconds, spec.capacity.max_concurrent_sequences)


def selector(namespace: str, pool: str) -> str:
    return f'namespace="{_escape(namespace)}",pool="{_escape(pool)}"'


def overrides(spec: InferencePoolSpec, namespace: str, pool: str) -> dict[str, str]:
    """The pool's own queries, placeholders filled in (signal key -> PromQL)."""
    q = spec.autoscaling.queries
    if q is None:
        return {}
    window = f"{spec.autoscaling.metrics_window_seconds}s"
    found = {"ttftP95": q.ttft_p95, "queueDepth": q.queue_depth, "saturation": q.saturation, "demand": q.demand}
    return {key: Template(text).safe_substitute(namespace=namespace, pool=pool, window=window)
            for key, text in found.items() if text}


def shown_queries(spec: InferencePoolSpec, namespace: str, pool: str, ttft_source: str | None = None
                  ) -> dict[str, str]:
    """What status.autoscaler.queries carries: each signal's PromQL for this pool (the TTFT one from the
    histogram it last came from: the gateway's, or the engines' when the gateway saw too few streams)."""
    group, sel = group_of(spec), selector(namespace, pool)
    shown = {key: group.render(key, sel) for key in SHOWN}
    if ttft_source == "engine":
        shown["ttftP95"] = group.render("engineTtftP95", sel)
    shown.update(overrides(spec, namespace, pool))
    return shown


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
