"""A gateway in this process, serving real loopback HTTP from its own event-loop thread.

For tests that need to reach inside the running gateway (a limiter clock that can jump
forward, the live key ring), while the client, the HTTP server and the upstream
(simulator processes) stay real.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from procs import free_port
from tokenway_gateway.api.snapshot import GatewayConfig
from tokenway_gateway.config.store import ConfigStore
from tokenway_gateway.proxy.gateway import Gateway
from tokenway_gateway.server.lifecycle import GatewayServer

T = TypeVar("T")


class InProcessGateway:
    def __init__(self, config: dict[str, Any], *, limiter_clock: Callable[[], float] | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="inproc-gateway", daemon=True)
        self.thread.start()
        self.port = free_port()
        self.store = ConfigStore()

        async def start() -> tuple[Gateway, GatewayServer]:
            gateway = Gateway(self.store)
            if limiter_clock is not None:
                gateway.policies.limiters.clock = limiter_clock
            if not self.store.apply(GatewayConfig.model_validate(config), "test"):
                raise ValueError("config rejected")
            gateway.start()
            server = GatewayServer(gateway, "127.0.0.1", self.port)
            await server.start()
            return gateway, server

        self.gateway, self.server = self.call(start())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def apply(self, config: dict[str, Any]) -> bool:
        async def apply() -> bool:
            return self.store.apply(GatewayConfig.model_validate(config), "test")

        return self.call(apply())

    def close(self) -> None:
        async def stop() -> None:
            await self.server.drain(0.5)
            await self.server.stop()

        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
