"""The gateway: request dispatch and the proxy pipeline's front half.

receive -> validate -> route -> ProxyCall (pick, upstream, relay) -> settle metrics.
Later stages (auth, rate limits, guard, cache, queue) slot in before ProxyCall.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..api.snapshot import GatewayConfig
from ..config.store import ConfigStore
from ..observability.metrics import GatewayMetrics
from ..observability.tracing import NO_TRACER, Tracer, make_tracer
from ..routing.endpoints import Endpoint
from ..routing.table import RoutingTable
from ..server.channel import ClientChannel, Request
from ..server.errors import GatewayError, bad_request
from .call import ProxyCall
from .h2 import H2Clients
from .upstream import ConnectionPool

log = logging.getLogger("tokenway.gateway")
access_log = logging.getLogger("tokenway.access")

PROXIED_PATHS = {b"/v1/chat/completions", b"/v1/completions", b"/v1/embeddings"}
STREAMABLE_PATHS = {b"/v1/chat/completions", b"/v1/completions"}
JSON_TYPES = (b"application/json", b"application/*+json")
MAX_REQUEST_ID = 128


def _new_request_id() -> bytes:
    return os.urandom(12).hex().encode()


class Gateway:
    def __init__(self, store: ConfigStore, metrics: GatewayMetrics | None = None, access_log: bool = False) -> None:
        self.store = store
        self.metrics = metrics or GatewayMetrics()
        self.access_log = access_log
        self.tracer: Tracer = NO_TRACER
        self._telemetry: tuple[str | None, str] = (None, "")
        self.endpoints: dict[str, Endpoint] = {}
        self.connections = ConnectionPool()
        self.h2 = H2Clients()
        self.table: RoutingTable | None = None
        self.draining = False
        store.subscribe(self.apply_config)
        if store.current is not None:
            self.apply_config(store.current)

    # ---- config ------------------------------------------------------------------
    def _endpoint_for(self, url: str) -> Endpoint:
        endpoint = self.endpoints.get(url)
        if endpoint is None:
            endpoint = self.endpoints[url] = Endpoint(url)
        return endpoint

    def apply_config(self, config: GatewayConfig) -> None:
        """Build the new table beside the old one, then swap it in with one assignment."""
        table = RoutingTable(config, self._endpoint_for)
        live = {ep.url for pool in table.pools.values() for ep in pool.endpoints}
        for url in list(self.endpoints):
            if url not in live and self.endpoints[url].in_flight == 0:
                del self.endpoints[url]
        self.connections.max_idle = config.server.max_idle_connections_per_endpoint
        self.connections.retain(live)
        self.table = table
        self.metrics.set_config_version(config.version)
        self._apply_telemetry(config)

    def _apply_telemetry(self, config: GatewayConfig) -> None:
        """Tracing follows the config too: a snapshot that arrives later (from Kubernetes) can turn it on."""
        wanted = (config.telemetry.otlp_endpoint, config.telemetry.service_name)
        if wanted == self._telemetry:
            return
        old, self.tracer, self._telemetry = self.tracer, make_tracer(*wanted), wanted
        if old.enabled:
            # Flushing exports over the network: never on the event loop.
            threading.Thread(target=old.shutdown, name="tracer-shutdown", daemon=True).start()

    # ---- dispatch ----------------------------------------------------------------
    def handle(self, request: Request, client: ClientChannel) -> None:
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
                self.proxy(request, client, path)
                return
            elif method not in (b"GET", b"HEAD"):
                raise GatewayError(404 if path not in _GET_PATHS else 405, f"no route for {method.decode()} "
                                   f"{path.decode(errors='replace')}", code="not_found")
            elif path == b"/v1/models":
                self._send_models(request, client)
            elif path == b"/healthz":
                client.send(200, b'{"status":"ok"}', request)
            elif path == b"/readyz":
                ready = self.table is not None and not self.draining
                client.send(200 if ready else 503, b'{"ready":%s}' % (b"true" if ready else b"false"), request)
            elif path == b"/metrics":
                client.send(200, generate_latest(self.metrics.registry), request, CONTENT_TYPE_LATEST.encode())
            else:
                raise GatewayError(404, f"no route for {path.decode(errors='replace')}", code="not_found")
        except GatewayError as error:
            client.send_error(error, request)
        client.request_done(request)

    def _send_models(self, request: Request, client: ClientChannel) -> None:
        table = self.table
        body = table.models_body if table is not None else b'{"object":"list","data":[]}'
        client.send(200, body, request)

    # ---- the proxy pipeline --------------------------------------------------------
    def proxy(self, request: Request, client: ClientChannel, path: bytes) -> None:
        if request.too_large:
            raise GatewayError(413, f"request body exceeds the limit of {client.max_body_bytes} bytes",
                               code="request_too_large")
        content_type = request.content_type.split(b";", 1)[0].strip().lower()
        if content_type and content_type not in JSON_TYPES:
            raise GatewayError(415, f"content-type must be application/json, got {content_type.decode()!r}",
                               code="unsupported_media_type")
        table = self.table
        if table is None:
            raise GatewayError(503, "the gateway has no config yet", type_="api_error", code="not_ready")
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}", code="invalid_json") from exc
        if not isinstance(payload, dict):
            raise bad_request("the request body must be a JSON object", code="invalid_json")
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            raise bad_request("you must provide a model parameter", param="model",
                              code="missing_required_parameter")
        tracer = self.tracer
        span = tracer.start("tokenway.request", None, **{"gen_ai.request.model": model}) if tracer.enabled else None
        target = table.resolve(model, request.header_map() if table.needs_headers else None)
        if target is None:
            tracer.end(span, 404)
            raise GatewayError(404, f"the model {model!r} does not exist or is not served here", param="model",
                               code="model_not_found")

        stream = path in STREAMABLE_PATHS and payload.get("stream") is True
        rewrite = target.upstream_model != model
        strip_usage = False
        if stream:
            options = payload.get("stream_options")
            if not isinstance(options, dict) or options.get("include_usage") is not True:
                # Ask for usage so tokens are counted exactly; the extra chunk is hidden from the client.
                payload["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
                strip_usage = rewrite = True
        if rewrite:
            payload["model"] = target.upstream_model
            body = orjson.dumps(payload)
        else:
            body = bytes(request.body)

        if span is not None:
            span.set_attribute("tokenway.pool", target.pool.name)
            span.set_attribute("tokenway.route", target.route)
            span.set_attribute("tokenway.stream", stream)
        ProxyCall(self, request, client, target, path, body, stream, strip_usage, span).start()

    def settle(self, call: ProxyCall, status: int) -> None:
        """Record what one request cost: latency, tokens, Tokenway's own overhead."""
        now = time.perf_counter()
        request = call.request
        metrics = call.metrics
        metrics.e2e.observe(now - request.started)
        if call.sent_at:
            pre = call.sent_at - request.started
            if call.stream and call.first_chunk_at:
                metrics.ttft.observe(call.first_chunk_at - request.started)
            if call.upstream_done_at:
                metrics.upstream.observe(call.upstream_done_at - call.sent_at)
                post = 0.0 if call.stream else now - call.upstream_done_at
                metrics.overhead.observe(pre + post)
        usage = call.usage
        if usage is not None:
            prompt = usage.get("prompt_tokens")
            completion = usage.get("completion_tokens")
            if isinstance(prompt, int):
                metrics.prompt_tokens.inc(prompt)
            if isinstance(completion, int):
                metrics.completion_tokens.inc(completion)
        elif call.stream and call.chunks:
            metrics.completion_tokens.inc(call.chunks)  # upstream gave no usage: one token per chunk
        self.metrics.count_request(metrics, status)
        if call.span is not None:
            if usage is not None:
                call.span.set_attribute("gen_ai.usage.input_tokens", usage.get("prompt_tokens") or 0)
                call.span.set_attribute("gen_ai.usage.output_tokens", usage.get("completion_tokens") or 0)
            self.tracer.end(call.span, status)
        if self.access_log:
            _log_access(call, status, now)


def _log_access(call: ProxyCall, status: int, now: float) -> None:
    """One line per proxied request: who served it, how fast, how many tokens; never the prompt or a key."""
    request, usage = call.request, call.usage or {}
    access_log.info("request", extra={"fields": {
        "request_id": request.request_id.decode(), "path": call.path.decode(), "model": call.target.model,
        "route": call.target.route, "pool": call.pool.name,
        "endpoint": call.endpoint.label if call.endpoint is not None else None, "status": status,
        "stream": call.stream, "duration_ms": round((now - request.started) * 1000, 3),
        "ttft_ms": round((call.first_chunk_at - request.started) * 1000, 3) if call.first_chunk_at else None,
        "prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens"),
    }})


_GET_PATHS = {b"/v1/models", b"/healthz", b"/readyz", b"/metrics"}
