"""Reads the autoscaler's signals from Prometheus, batched and off the event loop.

Pools whose default queries only differ by selector share one batch (see
:class:`~.queries.Group`): a handful of queries answer every pool, so the cost does
not grow with the number of pools. A batch is reused for ``ttl`` seconds, and only one
fetch per batch is in flight at a time, so the per-pool timers that read it, spread
over the interval, cause a few queries per interval, not one per pool. Queries run with
``prometheus-api-client`` (blocking ``requests``) in one worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tokenway_gateway.api import InferencePoolSpec

from .queries import MIN_GATEWAY_TTFT_SAMPLES, OVERRIDES, TEMPLATES, Group, group_of, overrides
from .signals import Measurements

log = logging.getLogger("tokenway.operator.autoscaler")

Key = tuple[str, str]  # (namespace, pool)
Values = dict[str, dict[Key, float]]  # query key -> (namespace, pool) -> value


class QueryError(Exception):
    pass


class PrometheusQuerier:
    """Blocking: one PromQL instant query -> {(namespace, pool): value}. Used from a worker thread only."""

    def __init__(self, url: str, timeout: float) -> None:
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        # No retries: an unreachable Prometheus is reported within a tick, and the next tick tries again.
        retry = Retry(total=0, status_forcelist=[])
        self.url = url
        self.client = PrometheusConnect(url=url, disable_ssl=False, retry=retry, timeout=timeout)

    def vector(self, promql: str) -> list[tuple[dict[str, str], float]]:
        try:
            result = self.client.custom_query(promql)
        except Exception as exc:  # requests' connection errors, timeouts, PrometheusApiClientException
            raise QueryError(_short(exc)) from exc
        out: list[tuple[dict[str, str], float]] = []
        for sample in result or ():
            try:
                value = float(sample["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if not (math.isnan(value) or math.isinf(value)):
                out.append(({str(k): str(v) for k, v in (sample.get("metric") or {}).items()}, value))
        return out

    def query(self, promql: str) -> dict[Key, float]:
        return {(labels.get("namespace", ""), labels.get("pool", "")): value for labels, value in self.vector(promql)}

    def close(self) -> None:
        self.client.close()


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Max retries exceeded" in text or "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    return f"{type(exc).__name__}: {text[:200]}"


@dataclass
class _Batch:
    at: float = -math.inf
    values: Values = field(default_factory=dict)
    error: str | None = None
    pending: asyncio.Future[None] | None = None


class PrometheusSource:
    """``await measure(namespace, pool, spec)`` -> that pool's :class:`Measurements`."""

    def __init__(self, url: str | None, *, ttl: float = 5.0, timeout: float = 5.0,
                 querier: Callable[[str, float], Any] | None = None) -> None:
        self.url = url.rstrip("/") if url else None
        self.ttl = ttl
        self.timeout = timeout
        self._make_querier = querier or PrometheusQuerier
        self._querier: Any = None
        self._batches: dict[Group, _Batch] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenway-prometheus")
        self.queries_run = 0
        self._last_error: str | None = None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def measure(self, namespace: str, pool: str, spec: InferencePoolSpec) -> Measurements:
        if self.url is None:
            return Measurements(error="no Prometheus configured (operator flag --prometheus-url)")
        batch = await self._batch(group_of(spec))
        own = overrides(spec, namespace, pool)
        values: Mapping[str, Mapping[Key, float]] = batch.values
        error = batch.error
        if own:
            replaced = {k for key in own for k in OVERRIDES[key]}
            mine, own_error = await self._run({key: text for key, text in own.items()}, per_pool=True)
            values = {k: v for k, v in batch.values.items() if k not in replaced} | {
                key: {(namespace, pool): value} for key, found in mine.items() for value in found.values()}
            error = error or own_error
        if error is not None:
            return Measurements(error=f"Prometheus at {self.url}: {error}")
        return assemble(values, (namespace, pool))

    async def vectors(self, queries: dict[str, str]) -> tuple[dict[str, list[tuple[dict[str, str], float]]],
                                                              str | None]:
        """Raw instant vectors (for what is not per pool, e.g. gateways' traffic by region)."""
        if self.url is None:
            return {}, "no Prometheus configured (operator flag --prometheus-url)"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._vectors_blocking, queries)

    def _vectors_blocking(self, queries: dict[str, str]) -> tuple[dict[str, list[tuple[dict[str, str], float]]],
                                                                   str | None]:
        if self._querier is None:
            assert self.url is not None
            self._querier = self._make_querier(self.url, self.timeout)
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for key, text in queries.items():
            self.queries_run += 1
            try:
                out[key] = self._querier.vector(text)
            except QueryError as exc:
                return out, f"Prometheus at {self.url}: {exc}"
        return out, None

    async def _batch(self, group: Group) -> _Batch:
        batch = self._batches.setdefault(group, _Batch())
        if time.monotonic() - batch.at < self.ttl and batch.pending is None:
            return batch
        if batch.pending is None:
            batch.pending = asyncio.get_running_loop().create_future()
            try:
                values, error = await self._run({key: group.render(key) for key in TEMPLATES})
                batch.values, batch.error, batch.at = values, error, time.monotonic()
            finally:
                pending, batch.pending = batch.pending, None
                pending.set_result(None)
        else:
            await asyncio.shield(batch.pending)
        return batch

    async def _run(self, queries: dict[str, str], per_pool: bool = False) -> tuple[Values, str | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run_blocking, queries, per_pool)

    def _run_blocking(self, queries: dict[str, str], per_pool: bool) -> tuple[Values, str | None]:
        if self._querier is None:
            assert self.url is not None
            self._querier = self._make_querier(self.url, self.timeout)
        values: Values = {}
        for key, text in queries.items():
            self.queries_run += 1
            try:
                values[key] = self._querier.query(text)
            except QueryError as exc:
                if not per_pool:
                    self._report(str(exc))
                return values, str(exc)
        if not per_pool:
            self._report(None)
        return values, None

    def _report(self, error: str | None) -> None:
        """Log when Prometheus becomes unreadable or readable again, not on every tick."""
        if error != self._last_error:
            if error is None:
                log.info("Prometheus at %s answers again", self.url)
            else:
                log.warning("Prometheus at %s: %s (autoscaled pools hold their size)", self.url, error)
            self._last_error = error


MIN_COMPLETIONS = 3.0  # fewer finished requests in a window: too few to tell arrivals from throughput


def _ratio(completions: float | None, growth: float | None) -> float | None:
    """Arrivals / completions over a window (arrivals = completions + growth of the work in the system)."""
    if completions is None or completions < MIN_COMPLETIONS:
        return None
    return max(0.0, (completions + (growth or 0.0)) / completions)


def assemble(values: Mapping[str, Mapping[Key, float]], key: Key) -> Measurements:
    """One pool's numbers out of the batch (pure)."""

    def get(name: str) -> float | None:
        found = values.get(name)
        return None if found is None else found.get(key)

    samples = get("ttftSamples") or 0.0
    gateway, engine = get("ttftP95"), get("engineTtftP95")
    if gateway is not None and (samples >= MIN_GATEWAY_TTFT_SAMPLES or engine is None):
        ttft, ttft_short, source = gateway, get("ttftP95Short"), "gateway"
    elif engine is not None:
        ttft, ttft_short, source = engine, get("engineTtftP95Short"), "engine"
    else:
        ttft, ttft_short, source = None, None, None
    return Measurements(
        ttft_p95=ttft, ttft_p95_short=ttft_short, ttft_source=source,
        demand_ratio=_ratio(get("completions"), get("backlogGrowth")),
        demand_ratio_short=_ratio(get("completionsShort"), get("backlogGrowthShort")),
        queue=get("queueDepth"), queue_short=get("queueDepthShort"),
        saturation=get("saturation"), saturation_short=get("saturationShort"),
        demand=get("demand") or 0.0, activity=get("activity"), sample_age=get("sampleAge"),
    )
