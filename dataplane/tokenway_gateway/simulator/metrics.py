"""vLLM's Prometheus metrics, with vLLM's names, types, labels and buckets.

The gateway and the autoscaler read a simulator exactly as they read vLLM, so
nothing here is renamed. Each simulator owns a private CollectorRegistry:
several simulators run in one process in tests and in `tokenway up`.
The three gauges are callbacks into the engine, read at scrape time, so the
request path never touches them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# vLLM's bucket boundaries (vllm/v1/metrics/loggers.py), so dashboards built for vLLM work unchanged.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
               2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
REQUEST_LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
                           40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)

# The classic text format every Prometheus (2.x included) and vLLM scraper accepts.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FINISH_REASONS = ("stop", "length", "abort")


class SimulatorMetrics:
    """The metric children of one simulated replica, labelled with its model name."""

    def __init__(self, model_name: str, *, block_size: int, num_blocks: int, prefix_caching: bool) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        lbl = ["model_name"]
        self._running = Gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
                              lbl, registry=reg).labels(model_name)
        self._waiting = Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
                              lbl, registry=reg).labels(model_name)
        self._kv_usage = Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
                               lbl, registry=reg).labels(model_name)
        self.prefix_queries = Counter("vllm:prefix_cache_queries",
                                      "Prefix cache queries, in terms of number of queried tokens.",
                                      lbl, registry=reg).labels(model_name)
        self.prefix_hits = Counter("vllm:prefix_cache_hits",
                                   "Prefix cache hits, in terms of number of cached tokens.",
                                   lbl, registry=reg).labels(model_name)
        self.prompt_tokens = Counter("vllm:prompt_tokens", "Number of prefill tokens processed.",
                                     lbl, registry=reg).labels(model_name)
        self.generation_tokens = Counter("vllm:generation_tokens", "Number of generation tokens processed.",
                                         lbl, registry=reg).labels(model_name)
        success = Counter("vllm:request_success", "Count of successfully processed requests.",
                          ["model_name", "finished_reason"], registry=reg)
        self.request_success = {reason: success.labels(model_name, reason) for reason in FINISH_REASONS}
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                              lbl, registry=reg, buckets=TTFT_BUCKETS).labels(model_name)
        self.itl = Histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
                             lbl, registry=reg, buckets=ITL_BUCKETS).labels(model_name)
        self.e2e = Histogram("vllm:e2e_request_latency_seconds",
                             "Histogram of e2e request latency in seconds.",
                             lbl, registry=reg, buckets=REQUEST_LATENCY_BUCKETS).labels(model_name)
        self.queue_time = Histogram("vllm:request_queue_time_seconds",
                                    "Histogram of time spent in WAITING phase for request.",
                                    lbl, registry=reg, buckets=REQUEST_LATENCY_BUCKETS).labels(model_name)
        # vLLM publishes its cache geometry as an info-style gauge; KV-aware schedulers read it.
        Gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
              ["block_size", "num_gpu_blocks", "enable_prefix_caching"], registry=reg).labels(
            str(block_size), str(num_blocks), str(prefix_caching)).set(1)

    def bind(self, running: Callable[[], float], waiting: Callable[[], float], kv_usage: Callable[[], float]) -> None:
        """Wire the gauges to the engine's live state."""
        self._running.set_function(running)
        self._waiting.set_function(waiting)
        self._kv_usage.set_function(kv_usage)

    def render(self, names: Sequence[str] = ()) -> bytes:
        """The exposition page; only the named metrics when names are given (prometheus_client's name[])."""
        return generate_latest(self.registry.restricted_registry(names) if names else self.registry)
