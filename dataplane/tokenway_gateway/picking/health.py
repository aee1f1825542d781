"""Active health checks, for endpoints no Kubernetes probe watches (engine: external).

Each endpoint of a pool with `ActiveHealthCheck` settings is probed with GET `path`
every `interval_seconds`; `unhealthy_threshold` failed probes in a row (an error, a
timeout or a status other than 2xx) mark it unhealthy and the pickers stop choosing
it; `healthy_threshold` good probes in a row bring it back. Probes of one endpoint
never overlap, and the first probes are spread over one interval, not sent at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING

import aiohttp

from ..aio import cancel_and_wait
from ..api.route import ActiveHealthCheck

if TYPE_CHECKING:
    from ..routing.endpoints import Endpoint

log = logging.getLogger("tokenway.picking")
TICK_SECONDS = 0.05


class _Probe:
    __slots__ = ("config", "due", "endpoint", "failures", "running", "successes")

    def __init__(self, endpoint: Endpoint, config: ActiveHealthCheck, due: float) -> None:
        self.endpoint = endpoint
        self.config = config
        self.failures = 0
        self.successes = 0
        self.due = due
        self.running = False


class HealthChecker:
    def __init__(self) -> None:
        self._wanted: dict[tuple[str, ...], tuple[list[Endpoint], ActiveHealthCheck]] = {}
        self._probes: dict[str, _Probe] = {}
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def want(self, key: tuple[str, ...], endpoints: list[Endpoint], config: ActiveHealthCheck) -> None:
        self._wanted[key] = (endpoints, config)
        self._rebuild()

    def drop(self, key: tuple[str, ...]) -> None:
        if self._wanted.pop(key, None) is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        now = time.monotonic()
        probes: dict[str, _Probe] = {}
        for endpoints, config in self._wanted.values():
            for endpoint in endpoints:
                probe = self._probes.get(endpoint.url)
                if probe is None:
                    probe = _Probe(endpoint, config, now + random.random() * config.interval_seconds)
                probe.endpoint = endpoint
                probe.config = config
                probes[endpoint.url] = probe
        for url, probe in self._probes.items():
            if url not in probes:
                probe.endpoint.healthy = True  # no longer checked: no longer held out
        self._probes = probes

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tokenway-health-checks")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        for probe_task in list(self._inflight):
            probe_task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession()
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            for probe in list(self._probes.values()):
                if not probe.running and probe.due <= now:
                    probe.running = True
                    task = loop.create_task(self._probe(probe))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
            await asyncio.sleep(TICK_SECONDS)

    async def _probe(self, probe: _Probe) -> None:
        endpoint, config = probe.endpoint, probe.config
        session = self._session
        assert session is not None
        url = f"{endpoint.scheme}://{endpoint.host}:{endpoint.port}{endpoint.base_path}{config.path}"
        headers = {"authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else None
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=config.timeout_seconds),
                                   headers=headers) as response:
                await response.read()
                ok = 200 <= response.status < 300
        except (TimeoutError, aiohttp.ClientError, OSError):
            ok = False
        finally:
            probe.running = False
            probe.due = time.monotonic() + config.interval_seconds
        if ok:
            probe.failures = 0
            probe.successes += 1
            if not endpoint.healthy and probe.successes >= config.healthy_threshold:
                endpoint.healthy = True
                log.warning("endpoint %s passes its health check again", endpoint.label)
        else:
            probe.successes = 0
            probe.failures += 1
            if endpoint.healthy and probe.failures >= config.unhealthy_threshold:
                endpoint.healthy = False
                log.warning("endpoint %s fails its health check (%d in a row)", endpoint.label, probe.failures)
