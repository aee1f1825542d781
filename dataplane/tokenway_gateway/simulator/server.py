"""The HTTP face of a simulated replica: vLLM's OpenAI-compatible endpoints on aiohttp.

Endpoints: POST /v1/chat/completions, /v1/completions, /v1/embeddings;
GET /v1/models, /health, /metrics; GET and POST /sim/faults (runtime fault control).
Handlers are cancelled when their client disconnects (aiohttp's handler
cancellation), and cancelling a handler aborts its sequences, which frees
their batch slots at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from .config import SimulatorConfig
from .engine import Engine, Sequence, Sink
from .faults import FaultInjector, fault_settings
from .metrics import CONTENT_TYPE, SimulatorMetrics
from .protocol import (
    ApiError,
    GenerationRequest,
    bad_request,
    load_json_object,
    model_not_found,
    parse_chat,
    parse_completion,
    parse_embeddings,
    server_error,
)
from .responses import DONE, ChoiceOutput, Formatter, embedding_vector, embeddings_body, usage
from .textgen import default_length, output_rng, prompt_digest, token_ids

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_MAX_BODY = 64 * 1024 * 1024


def _json(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def _openai_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            response = _json(exc.body(), exc.status)
            if exc.status in (429, 503):
                response.headers["Retry-After"] = "1"  # as OpenAI and overloaded servers answer
            return response
    return wrapped


def _drop_connection(request: web.Request) -> None:
    """Abort the TCP connection (a RST, not a clean close), as a crashing replica would."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


class Simulator:
    """One simulated replica: engine, metrics and faults behind an aiohttp application."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.metrics = SimulatorMetrics(config.model, block_size=config.block_size,
                                        num_blocks=config.kv_cache_blocks,
                                        prefix_caching=config.enable_prefix_caching)
        self.engine = Engine(config, self.metrics)
        self.faults = FaultInjector(fault_settings(config), config.seed)
        self.created = int(time.time())
        self._names = frozenset(config.model_names)
        self._id_prefix = os.urandom(4).hex()
        self._next_id = 0
        # Neither the model length nor the KV cache can hold more than this many tokens per sequence.
        self._token_limit = min(config.max_model_len, config.kv_cache_blocks * config.block_size)

    def build_app(self) -> web.Application:
        middlewares = [self._require_api_key] if self.config.api_key else []
        app = web.Application(client_max_size=_MAX_BODY, middlewares=middlewares)
        app.router.add_post("/v1/chat/completions", _openai_errors(self.chat_completions))
        app.router.add_post("/v1/completions", _openai_errors(self.completions))
        app.router.add_post("/v1/embeddings", _openai_errors(self.embeddings))
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", _openai_errors(self.health))
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_get("/sim/faults", self.get_faults)
        app.router.add_post("/sim/faults", _openai_errors(self.set_faults))
        return app

    @web.middleware
    async def _require_api_key(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """As vLLM with --api-key: every /v1 route needs the bearer key."""
        if request.path.startswith("/v1/") and request.headers.get("Authorization") != f"Bearer {self.config.api_key}":
            return _json(ApiError(401, "Unauthorized", type_="authentication_error", code="invalid_api_key").body(),
                         401)
        return await handler(request)

    # -- small endpoints ---------------------------------------------------------------
    async def health(self, request: web.Request) -> web.StreamResponse:
        self._require_ready()
        return web.Response(status=200)  # vLLM answers an empty 200

    async def models(self, request: web.Request) -> web.StreamResponse:
        cfg = self.config
        data: list[dict[str, Any]] = [
            {"id": name, "object": "model", "created": self.created, "owned_by": "vllm", "root": cfg.model,
             "parent": None, "max_model_len": cfg.max_model_len, "permission": []}
            for name in cfg.model_names]
        return _json(orjson.dumps({"object": "list", "data": data}))

    async def metrics_page(self, request: web.Request) -> web.StreamResponse:
        # ?name[]=...: only those metrics, as vLLM's prometheus_client app answers (cheap scrapes).
        response = web.Response(body=self.metrics.render(request.query.getall("name[]", [])))
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        return _json(orjson.dumps(self.faults.snapshot()))

    async def set_faults(self, request: web.Request) -> web.StreamResponse:
        try:
            self.faults.update(load_json_object(await request.read()))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        log.info("fault settings changed: %s", self.faults.snapshot())
        return _json(orjson.dumps(self.faults.snapshot()))

    # -- checks shared by the model endpoints --------------------------------------------
    def _require_ready(self) -> None:
        if not self.faults.ready():
            raise ApiError(503, "The model is still loading.", type_="service_unavailable_error",
                           code="service_unavailable")

    def _served_name(self, requested: str | None) -> str:
        if requested is None:
            return self.config.model
        if requested not in self._names:
            raise model_not_found(requested)
        return requested

    def _inject_error(self) -> None:
        status = self.faults.error_status()
        if status is not None:
            raise server_error(status)

    def _response_id(self, prefix: str) -> str:
        self._next_id += 1
        return f"{prefix}-{self._id_prefix}{self._next_id:08x}"

    # -- embeddings --------------------------------------------------------------------
    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        self._require_ready()
        req = parse_embeddings(load_json_object(await request.read()))
        model = self._served_name(req.model)
        self._inject_error()
        delay = self.engine.prefill_seconds(req.num_tokens)
        if delay > 0:
            await asyncio.sleep(delay)
        dim = req.dimensions or self.config.embedding_dim
        vectors = [embedding_vector(data, dim, self.config.seed) for data in req.inputs]
        return _json(embeddings_body(model, vectors, req.base64, req.num_tokens))

    # -- generation --------------------------------------------------------------------
    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        self._require_ready()
        return await self._generate(request, parse_chat(load_json_object(await request.read())))

    async def completions(self, request: web.Request) -> web.StreamResponse:
        self._require_ready()
        return await self._generate(request, parse_completion(load_json_object(await request.read())))

    def _plan(self, req: GenerationRequest, sink: Sink) -> tuple[list[Sequence], list[list[int]]]:
        """One sequence per (prompt, choice), with its whole deterministic output drawn up front."""
        cfg = self.config
        limit = self._token_limit
        stall = self.faults.stall_seconds()
        seqs: list[Sequence] = []
        outputs: list[list[int]] = []
        for prompt in req.prompts:
            room = limit - len(prompt)
            if room < 1 or (req.max_tokens is not None and req.max_tokens > room):
                wanted = req.max_tokens or 1
                raise bad_request(
                    f"This model's maximum context length is {limit} tokens. However, you requested "
                    f"{len(prompt) + wanted} tokens ({len(prompt)} in the messages, {wanted} in the completion). "
                    "Please reduce the length of the messages or completion.", "max_tokens")
            digest = prompt_digest(prompt)
            for choice in range(req.n):
                rng = output_rng(cfg.seed, digest, choice)
                if req.max_tokens is not None:
                    count, reason = req.max_tokens, "length"
                elif cfg.max_tokens_default:
                    count, reason = min(cfg.max_tokens_default, room), "length"
                else:
                    count, reason = min(default_length(rng, cfg.output_tokens_min, cfg.output_tokens_max), room), "stop"
                outputs.append(token_ids(rng, count))
                seqs.append(Sequence(prompt, count, reason, sink, stall))
        return seqs, outputs

    async def _generate(self, request: web.Request, req: GenerationRequest) -> web.StreamResponse:
        model = self._served_name(req.model)
        engine = self.engine
        sink = Sink(engine.loop)
        seqs, outputs = self._plan(req, sink)
        self._inject_error()
        disconnect_after = self.faults.disconnect_after()
        formatter = Formatter(req.kind, self._response_id("chatcmpl" if req.kind == "chat" else "cmpl"),
                              int(time.time()), model, len(seqs), req.include_usage)
        for seq in seqs:
            engine.submit(seq)
        try:
            if req.stream:
                try:
                    return await self._stream(request, req, seqs, outputs, formatter, disconnect_after)
                except ConnectionResetError:
                    # The client left between two writes: same as aiohttp's handler cancellation.
                    raise asyncio.CancelledError from None
            while not all(seq.finished for seq in seqs):
                await sink.wait()
            if disconnect_after is not None:
                _drop_connection(request)
            choices = [ChoiceOutput(i, ids, seq.finish_reason)
                       for i, (seq, ids) in enumerate(zip(seqs, outputs, strict=True))]
            return _json(formatter.body(choices, self._usage(req, seqs)))
        finally:
            for seq in seqs:
                if not seq.finished:
                    engine.cancel(seq)

    @staticmethod
    def _usage(req: GenerationRequest, seqs: list[Sequence]) -> dict[str, Any]:
        # The n choices of a prompt share one prefill: count its prompt (and cache hits) once.
        cached = sum(seq.cached_tokens for seq in seqs[::req.n])
        return usage(req.num_prompt_tokens, sum(seq.emitted for seq in seqs), cached)

    async def _stream(self, request: web.Request, req: GenerationRequest, seqs: list[Sequence],
                      outputs: list[list[int]], fmt: Formatter, disconnect_after: int | None) -> web.StreamResponse:
        response = web.StreamResponse(headers=_SSE_HEADERS)
        await response.prepare(request)
        count = len(seqs)
        sent = [0] * count
        closed = [False] * count
        budget = disconnect_after if disconnect_after is not None else -1
        sink = seqs[0].sink
        while True:
            parts: list[bytes] = []
            for i in range(count):
                seq = seqs[i]
                emitted = seq.emitted
                start = sent[i]
                upto = emitted if budget < 0 else min(emitted, start + budget)
                if upto > start:
                    if start == 0:
                        parts.append(fmt.role_chunk(i))
                    parts.append(fmt.token_chunks(i, outputs[i][start:upto]))
                    sent[i] = upto
                    if budget > 0:
                        budget -= upto - start
                if seq.finished and not closed[i] and sent[i] == emitted:
                    closed[i] = True
                    parts.append(fmt.finish_chunk(i, seq.finish_reason))
            if budget == 0:
                if parts:
                    await response.write(b"".join(parts))
                _drop_connection(request)
            if all(closed):
                if req.include_usage:
                    parts.append(fmt.usage_chunk(self._usage(req, seqs)))
                parts.append(DONE)
                # One write for the last tokens, [DONE] and the chunked-encoding terminator.
                await response.write_eof(b"".join(parts))
                return response
            if parts:
                await response.write(b"".join(parts))
            await sink.wait()


class SimulatorHandle:
    """A running simulator: its address, its parts (for tests) and `stop()`."""

    def __init__(self, simulator: Simulator, runner: web.AppRunner, host: str, port: int,
                 scheme: str = "http") -> None:
        self.simulator = simulator
        self.scheme = scheme
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def config(self) -> SimulatorConfig:
        return self.simulator.config

    @property
    def url(self) -> str:
        """The root URL, e.g. http://127.0.0.1:8001 (the OpenAI base URL is url + "/v1")."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def engine(self) -> Engine:
        return self.simulator.engine

    @property
    def faults(self) -> FaultInjector:
        return self.simulator.faults

    async def stop(self) -> None:
        self.simulator.engine.shutdown()
        await self._runner.cleanup()

    async def __aenter__(self) -> SimulatorHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_simulator(config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0, *,
                          access_log: bool = False, shutdown_timeout: float = 1.0,
                          ssl_context: ssl.SSLContext | None = None) -> SimulatorHandle:
    """Start a simulator in the running event loop; port 0 picks a free port (see handle.port)."""
    simulator = Simulator(config or SimulatorConfig())
    runner = web.AppRunner(simulator.build_app(), handler_cancellation=True,
                           access_log=log if access_log else None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, ssl_context=ssl_context)
    await site.start()
    bound_port = int(runner.addresses[0][1])
    return SimulatorHandle(simulator, runner, host, bound_port, "https" if ssl_context is not None else "http")
