"""Background scraping of each endpoint's engine metrics (vLLM's /metrics, and what the simulator serves).

One asyncio task per registry. Every round it fetches /metrics of each endpoint of the
llm-aware pools over kept-alive connections, at most CONCURRENCY at a time, asks
for only the gauges it needs (name[] filter) and reads them with bytes.find, never a
full parse (a server that ignores the filter sends the whole page; that works too). Rounds
run every `interval` (the smallest any pool asks for), stretched so that no more
than MAX_SCRAPES_PER_SECOND are made: with 1,000 endpoints a round takes 5 s, and
the pickers judge a figure's age against that period (signals.Freshness).
Every MODELS_EVERY_SECONDS it also reads /v1/models (the served model and LoRA
names) for the model filter. An endpoint that keeps failing is retried less often.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import aiohttp
import orjson

from ..aio import cancel_and_wait

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

log = logging.getLogger("tokenway.picking")

CONCURRENCY = 32
MAX_SCRAPES_PER_SECOND = 200  # about 5% of a core at 1,000 endpoints (a scrape costs ~250 us of CPU)
MODELS_EVERY_SECONDS = 10.0
BACKOFF_AFTER = 3  # failures in a row before an endpoint is scraped less often
BACKOFF_SECONDS = 10.0

WAITING = (b"vllm:num_requests_waiting",)
RUNNING = (b"vllm:num_requests_running",)
KV_USAGE = (b"vllm:kv_cache_usage_perc", b"vllm:gpu_cache_usage_perc")  # the second: vLLM before v0.10
# Ask for those metrics only (prometheus_client's name[] filter, which vLLM's /metrics app honours):
# a page of four gauges instead of dozens of histograms, cheap for the engine and for us.
METRICS_QUERY = "/metrics?" + "&".join(f"name[]={n.decode()}" for n in (*WAITING, *RUNNING, *KV_USAGE))


def metric_sum(page: bytes, names: Iterable[bytes]) -> float | None:
    """Sum of the samples of the first of `names` present in a Prometheus text page (None when absent)."""
    for name in names:
        total = 0.0
        found = False
        start = 0
        while True:
            at = page.find(name, start)
            if at < 0:
                break
            start = at + len(name)
            if at and page[at - 1] != 0x0A:  # not at a line start (a comment or another metric's label)
                continue
            end = page.find(b"\n", start)
            line = page[start:end if end >= 0 else len(page)]
            if line[:1] not in (b"{", b" "):
                continue  # a longer metric name with this prefix (e.g. _created)
            value = line.rsplit(b"}", 1)[-1].split()
            if value:
                with contextlib.suppress(ValueError):
                    total += float(value[0])
                    found = True
        if found:
            return total
    return None


def apply_page(endpoint: Endpoint, page: bytes, now: float) -> bool:
    """Write what a metrics page says into the endpoint; False when it has none of the engine's figures."""
    waiting = metric_sum(page, WAITING)
    running = metric_sum(page, RUNNING)
    kv = metric_sum(page, KV_USAGE)
    if waiting is None and running is None and kv is None:
        return False
    endpoint.waiting = waiting or 0.0
    endpoint.running = running or 0.0
    endpoint.kv_usage = kv or 0.0
    endpoint.in_flight_at_scrape = endpoint.in_flight
    endpoint.scraped_at = now
    return True


class _Target:
    __slots__ = ("endpoint", "failures", "models_at", "next_at")

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.failures = 0
        self.next_at = 0.0
        self.models_at = 0.0


class MetricsScraper:
    def __init__(self) -> None:
        self._wanted: dict[tuple[str, ...], tuple[list[Endpoint], float]] = {}
        self._targets: dict[str, _Target] = {}
        self.interval = 0.2
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.rounds = 0

    # -- what to scrape (called on config commits) ---------------------------------------
    def want(self, key: tuple[str, ...], endpoints: list[Endpoint], interval: float) -> None:
        self._wanted[key] = (endpoints, interval)
        self._rebuild()

    def drop(self, key: tuple[str, ...]) -> None:
        if self._wanted.pop(key, None) is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        targets: dict[str, _Target] = {}
        interval = 60.0
        for endpoints, pool_interval in self._wanted.values():
            interval = min(interval, pool_interval)
            for endpoint in endpoints:
                targets[endpoint.url] = self._targets.get(endpoint.url) or _Target(endpoint)
                targets[endpoint.url].endpoint = endpoint
        self._targets = targets
        self.interval = interval

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tokenway-metrics-scraper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=2, ttl_dns_cache=300),
            auto_decompress=False)
        gate = asyncio.Semaphore(CONCURRENCY)
        while True:
            started = time.monotonic()
            targets = list(self._targets.values())
            if targets:
                await asyncio.gather(*(self._scrape(t, gate, started) for t in targets if t.next_at <= started))
                self.rounds += 1
            period = max(self.interval, len(targets) / MAX_SCRAPES_PER_SECOND)
            await asyncio.sleep(max(0.0, started + period - time.monotonic()))

    async def _scrape(self, target: _Target, gate: asyncio.Semaphore, now: float) -> None:
        endpoint = target.endpoint
        session = self._session
        assert session is not None
        base = f"{endpoint.scheme}://{endpoint.host}:{endpoint.port}{endpoint.base_path}"
        timeout = aiohttp.ClientTimeout(total=max(1.0, 5 * self.interval))
        headers = {"authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else None
        async with gate:
            try:
                async with session.get(base + METRICS_QUERY, timeout=timeout, headers=headers) as response:
                    page = await response.read()
                    ok = response.status == 200 and apply_page(endpoint, page, time.monotonic())
                if ok and now - target.models_at >= MODELS_EVERY_SECONDS:
                    target.models_at = now
                    async with session.get(base + "/v1/models", timeout=timeout, headers=headers) as response:
                        if response.status == 200:
                            endpoint.served_models = _model_names(await response.read())
            except (TimeoutError, aiohttp.ClientError, OSError):
                ok = False
        if ok:
            target.failures = 0
            return
        target.failures += 1
        if target.failures >= BACKOFF_AFTER:
            target.next_at = now + BACKOFF_SECONDS
            if target.failures == BACKOFF_AFTER:
                log.info("no engine metrics from %s; retrying every %.0fs", endpoint.label, BACKOFF_SECONDS)


def _model_names(body: bytes) -> frozenset[str] | None:
    try:
        data = orjson.loads(body).get("data")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    names = frozenset(str(m["id"]) for m in data if isinstance(m, dict) and "id" in m)
    return names or None
