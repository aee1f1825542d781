"""The gateway: dispatch by path, the stage chain of proxied requests, settling, config swaps.

A proxied request becomes a :class:`RequestContext` and walks the entry chain (parse,
route-deciding stages, route) and then its route's chain (policy stages, dispatch),
compiled per snapshot by :class:`ChainCompiler`. See docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..api.snapshot import GatewayConfig
from ..config.store import ConfigStore
from ..observability.metrics import GatewayMetrics
from ..observability.tracing import NO_TRACER, Tracer, make_tracer
from ..picking.registry import PickerRegistry
from ..pipeline.cache_holder import CacheHolder
from ..pipeline.chain import advance, advance_timed
from ..pipeline.compile import ChainCompiler
from ..pipeline.context import RequestContext
from ..pipeline.policies import PolicyState
from ..pipeline.queue import pump
from ..routing.endpoints import Endpoint, EndpointSpec
from ..routing.poolstate import PoolState, RouteState
from ..routing.table import RoutingTable
from ..server.channel import ClientChannel, Request
from ..server.errors import GatewayError
from .deadlines import Deadlines
from .h2 import H2Connector
from .upstream import ConnectionPool, Connector

log = logging.getLogger("tokenway.gateway")
access_log = logging.getLogger("tokenway.access")

PROXIED_PATHS = frozenset((b"/v1/chat/completions", b"/v1/completions", b"/v1/embeddings"))
MAX_REQUEST_ID = 128


class _RequestIds:
    """Request ids for requests that bring none: a random per-process prefix and a counter. Unique across
    replicas and restarts (64 random bits), and no getrandom() system call per request."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex().encode()
        self._counter = 0

    def __call__(self) -> bytes:
        self._counter += 1
        return b"%s%08x" % (self._prefix, self._counter)


_new_request_id = _RequestIds()


class Gateway:
    def __init__(self, store: ConfigStore, metrics: GatewayMetrics | None = None, access_log: bool = False,
                 stage_timing: bool | None = None) -> None:
        self.store = store
        self.metrics = metrics or GatewayMetrics()
        self.access_log = access_log
        self.tracer: Tracer = NO_TRACER
        self._telemetry: tuple[str | None, str] = (None, "")
        self.endpoints: dict[str, Endpoint] = {}
        self.http1 = ConnectionPool()
        self.h2 = H2Connector()
        self.connectors: dict[str, Connector] = {"http1": self.http1, "h2c": self.h2}
        self.pickers = PickerRegistry()
        self.pool_states: dict[str, PoolState] = {}  # live, by pool name: slots, active calls, the queue
        self.route_states: dict[str, RouteState] = {}  # live, by route name: retry and hedge budgets
        self.chains = ChainCompiler(self)
        self.table: RoutingTable | None = None
        self.draining = False
        # The serving loop, once started: asyncio.get_running_loop() costs a getpid() per call.
        self.loop: asyncio.AbstractEventLoop | None = None
        self.deadlines = Deadlines()  # request deadlines in 100 ms buckets (no timer per request)
        self.policies = PolicyState(self)  # keys, rate limiter, their metrics: kept across swaps
        self.caches = CacheHolder(self)  # response caches, one per CachePolicy: kept across swaps
        # Per-stage time and calls when TOKENWAY_STAGE_TIMING=1 (the benchmark's CPU-µs per stage).
        if stage_timing is None:
            stage_timing = os.environ.get("TOKENWAY_STAGE_TIMING", "") == "1"
        self.stage_costs: dict[str, list[float]] = {}
        self.advance: Callable[[RequestContext], None] = advance_timed if stage_timing else advance
        if stage_timing:
            self.metrics.watch_stage_costs(self.stage_costs)
        store.add_preparer(self.prepare_config)
        if store.current is not None and not store.apply(store.current, "initial"):
            raise ValueError("the initial config cannot be applied")

    # ---- config ------------------------------------------------------------------
    def prepare_config(self, config: GatewayConfig) -> Callable[[], None]:
        """Build everything the snapshot needs without touching live state (may run in a thread)."""
        table = RoutingTable.build(config, self.chains.route_chain)
        table.entry = self.chains.entry_chain(config)
        return lambda: self._commit(config, table)

    def _endpoint_for(self, spec: EndpointSpec) -> Endpoint:
        endpoint = self.endpoints.get(spec.url)
        if endpoint is None:
            endpoint = self.endpoints[spec.url] = Endpoint(spec.url)
        endpoint.configure(spec)
        return endpoint

    def _commit(self, config: GatewayConfig, table: RoutingTable) -> None:
        """Swap a built table in, on the event loop: endpoints and picker state carry over."""
        table.bind(self._endpoint_for, self.pickers, self._pool_state, self._route_state)
        for pool in table.pools.values():
            pool.state.configure(pool.endpoints, pool.capacity, pool.queue)
        self.pickers.retain(table.picker_keys())
        live = table.live_urls()
        for url in [url for url, endpoint in self.endpoints.items() if url not in live and endpoint.in_flight == 0]:
            del self.endpoints[url]
        self.http1.max_idle = config.server.max_idle_connections_per_endpoint
        for connector in self.connectors.values():
            connector.retain(live)
        self.table = table
        for name in [n for n, state in self.pool_states.items() if n not in table.pools and not state.queue]:
            del self.pool_states[name]
        self.metrics.set_config_version(config.version)
        self._apply_telemetry(config)
        for state in list(self.pool_states.values()):
            if state.queue:
                pump(self, state)  # endpoints may have appeared: let waiting requests in

    def _pool_state(self, name: str) -> PoolState:
        state = self.pool_states.get(name)
        if state is None:
            state = self.pool_states[name] = PoolState(name, self.metrics.pool_in_flight(name))
        return state

    def _route_state(self, name: str) -> RouteState:
        state = self.route_states.get(name)
        if state is None:
            state = self.route_states[name] = RouteState()
        return state

    def _apply_telemetry(self, config: GatewayConfig) -> None:
        """Tracing follows the config too: a snapshot that arrives later (from Kubernetes) can turn it on."""
        wanted = (config.telemetry.otlp_endpoint, config.telemetry.service_name)
        if wanted == self._telemetry:
            return
        old, self.tracer, self._telemetry = self.tracer, make_tracer(*wanted), wanted
        if old.enabled:
            # Flushing exports over the network: never on the event loop.
            threading.Thread(target=old.shutdown, name="tracer-shutdown", daemon=True).start()

    def start(self) -> None:
        """Start background work (metrics scraping, health checks) on the running loop."""
        self.loop = asyncio.get_running_loop()
        self.deadlines.start(self.loop)
        self.pickers.start()

    async def stop(self) -> None:
        self.deadlines.stop()
        await self.pickers.stop()
        await self.policies.aclose()
        await self.caches.aclose()
        for connector in self.connectors.values():
            await connector.aclose()

    # ---- dispatch ----------------------------------------------------------------
    def handle(self, request: Request, channel: ClientChannel) -> None:
        """Serve one request; proxied ones finish later, from upstream callbacks."""
        rid = request.request_id
        if not rid or len(rid) > MAX_REQUEST_ID:
            request.request_id = _new_request_id()
        path = request.path.split(b"?", 1)[0]
        method = request.method
        try:
            if path in PROXIED_PATHS:
                if method != b"POST":
                    raise GatewayError(405, f"{method.decode()} is not allowed on {path.decode()}; use POST",
                                       code="method_not_allowed")
                table = self.table
                if table is None:
                    raise GatewayError(503, "the gateway has no config yet", type_="api_error", code="not_ready")
                ctx = RequestContext(self, request, channel, path, table, table.entry)
                channel.active = ctx
                self.advance(ctx)
                return
            elif method not in (b"GET", b"HEAD"):
                raise GatewayError(404 if path not in _GET_PATHS else 405, f"no route for {method.decode()} "
                                   f"{path.decode(errors='replace')}", code="not_found")
            elif path == b"/v1/models":
                table = self.table
                channel.send(200, table.models_body if table is not None else b'{"object":"list","data":[]}',
                             request)
            elif path == b"/healthz" or path == b"/health":  # /health: vLLM's path, which clients probe
                channel.send(200, b'{"status":"ok"}', request)
            elif path == b"/readyz":
                ready = self.table is not None and not self.draining and self.policies.ready
                channel.send(200 if ready else 503, b'{"ready":%s}' % (b"true" if ready else b"false"), request)
            elif path == b"/metrics":
                channel.send(200, generate_latest(self.metrics.registry), request, CONTENT_TYPE_LATEST.encode())
            else:
                raise GatewayError(404, f"no route for {path.decode(errors='replace')}", code="not_found")
        except GatewayError as error:
            channel.send_error(error, request)
        channel.request_done(request)

    # ---- settling ----------------------------------------------------------------
    def settle(self, ctx: RequestContext) -> None:
        """Record what one request cost, once, whatever the outcome; then the stages' settle hooks."""
        now = time.perf_counter()
        status = ctx.status
        target = ctx.target
        hooks = ctx.settle_hooks
        if hooks is not None:
            for hook in hooks:
                try:
                    hook(ctx)
                except Exception:
                    log.exception("settle hook failed")
        if target is None:
            self.metrics.count_unrouted(status)
            if ctx.span is not None:
                self.tracer.end(ctx.span, status)
            return
        call = ctx.call
        metrics = call.metrics if call is not None else self.metrics.route(target.model, target.pool.name,
                                                                           target.route)
        request = ctx.request
        metrics.e2e.observe(now - request.started)
        if call is not None and call.sent_at:
            pre = call.sent_at - request.started
            if ctx.stream and call.first_chunk_at:
                metrics.ttft.observe(call.first_chunk_at - request.started)
            if call.upstream_done_at:
                metrics.upstream.observe(call.upstream_done_at - call.sent_at)
                post = 0.0 if ctx.stream else now - call.upstream_done_at
                metrics.overhead.observe(pre + post)
        usage = ctx.usage
        if usage is not None:
            prompt = usage.get("prompt_tokens")
            completion = usage.get("completion_tokens")
            if isinstance(prompt, int):
                metrics.prompt_tokens.inc(prompt)
            if isinstance(completion, int):
                metrics.completion_tokens.inc(completion)
        elif call is not None and ctx.stream and call.chunks:
            metrics.completion_tokens.inc(call.chunks)  # upstream gave no usage: one token per chunk
        self.metrics.count_request(metrics, status)
        if ctx.span is not None:
            if usage is not None:
                ctx.span.set_attribute("gen_ai.usage.input_tokens", usage.get("prompt_tokens") or 0)
                ctx.span.set_attribute("gen_ai.usage.output_tokens", usage.get("completion_tokens") or 0)
            self.tracer.end(ctx.span, status)
        if self.access_log:
            _log_access(ctx, status, now)


def _log_access(ctx: RequestContext, status: int, now: float) -> None:
    """One line per proxied request: who served it, how fast, how many tokens; never the prompt or a key."""
    request, usage, call, target = ctx.request, ctx.usage or {}, ctx.call, ctx.target
    assert target is not None
    attempt = call.winner if call is not None else None
    access_log.info("request", extra={"fields": {
        "request_id": request.request_id.decode(), "path": ctx.path.decode(), "model": target.model,
        "route": target.route, "pool": call.pool.name if call is not None else target.pool.name,
        "tenant": ctx.tenant, "endpoint": attempt.endpoint.label if attempt is not None else None, "status": status,
        "stream": ctx.stream, "duration_ms": round((now - request.started) * 1000, 3),
        "ttft_ms": round((call.first_chunk_at - request.started) * 1000, 3)
        if call is not None and call.first_chunk_at else None,
        "prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens"),
    }})


_GET_PATHS = frozenset((b"/v1/models", b"/healthz", b"/health", b"/readyz", b"/metrics"))
