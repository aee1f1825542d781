"""The client call / upstream attempt state machine, in process, with scripted upstreams.

A fake connector hands out scripted upstreams; each test plays the upstream's side by
calling the attempt's sink callbacks, and reads what reached the client channel.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from tokenway_gateway.config.store import ConfigStore
from tokenway_gateway.proxy.gateway import Gateway
from tokenway_gateway.proxy.upstream import ResponseSink, UpstreamError
from tokenway_gateway.routing.endpoints import Endpoint
from tokenway_gateway.server.channel import FlowControlled, Request
from tokenway_gateway.server.errors import GatewayError


class ScriptedUpstream:
    def __init__(self, endpoint: Endpoint, reused: bool) -> None:
        self.endpoint = endpoint
        self.reused = reused
        self.got_bytes = False
        self.sink: ResponseSink | None = None
        self.sent: list[bytes] = []
        self.aborted = self.finished = self.paused = False

    def send(self, path: bytes, body: bytes, request_id: bytes, traceparent: bytes, sink: ResponseSink) -> None:
        self.sent.append(body)
        self.sink = sink

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def abort(self) -> None:
        self.aborted = True

    def finish(self) -> None:
        self.finished = True

    # the test plays the upstream
    def answer(self, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
        assert self.sink is not None
        self.got_bytes = True
        self.sink.on_headers(status, [(b"content-type", content_type)])
        if body:
            self.sink.on_body(body)
        self.sink.on_complete()

    def fail(self, kind: str = "reset") -> None:
        assert self.sink is not None
        self.sink.on_error(UpstreamError(kind, "scripted failure"))


class ScriptedConnector:
    def __init__(self, idle: bool = True) -> None:
        self.idle = idle
        self.upstreams: list[ScriptedUpstream] = []
        self.refuse: set[str] = set()

    def take(self, endpoint: Endpoint) -> ScriptedUpstream | None:
        if not self.idle:
            return None
        upstream = ScriptedUpstream(endpoint, reused=True)
        self.upstreams.append(upstream)
        return upstream

    async def connect(self, endpoint: Endpoint, timeout: float) -> ScriptedUpstream:
        if endpoint.url in self.refuse:
            raise UpstreamError("connect", "refused")
        upstream = ScriptedUpstream(endpoint, reused=False)
        self.upstreams.append(upstream)
        return upstream

    def retain(self, urls: set[str]) -> None:
        pass

    async def aclose(self) -> None:
        pass


class RecordingChannel:
    max_body_bytes = 1 << 20

    def __init__(self) -> None:
        self.closed = False
        self.write_paused = False
        self.active: FlowControlled | None = None
        self.responses: list[tuple[int, bytes, bytes]] = []
        self.stream_status = 0
        self.chunks: list[bytes] = []
        self.ended = False
        self.done = 0

    def send(self, status: int, body: bytes, request: Request, content_type: bytes = b"application/json",
             extra: bytes = b"") -> None:
        self.responses.append((status, body, extra))

    def send_error(self, error: GatewayError, request: Request, extra: bytes = b"") -> None:
        self.responses.append((error.status, error.body(), extra))

    def start_stream(self, status: int, content_type: bytes, extra: bytes, request: Request) -> None:
        self.stream_status = status

    def write_chunk(self, data: bytes) -> None:
        self.chunks.append(data)

    def end_stream(self) -> None:
        self.ended = True

    def request_done(self, request: Request) -> None:
        self.done += 1


def gateway_with(routes: list[dict[str, Any]] | None = None, endpoints: int = 2,
                 connector: ScriptedConnector | None = None) -> tuple[Gateway, ScriptedConnector]:
    store = ConfigStore()
    gateway = Gateway(store)
    config = {"version": "1", "pools": [
        {"name": "p", "models": [{"name": "m"}],
         "endpoints": [{"url": f"http://10.0.0.{i + 1}:8000"} for i in range(endpoints)]},
        {"name": "backup", "models": [{"name": "m-backup"}], "endpoints": [{"url": "http://10.0.1.1:8000"}]},
    ], "routes": routes or []}
    assert store.apply_text(orjson.dumps(config), "test")
    connector = connector or ScriptedConnector()
    gateway.connectors["http1"] = connector  # type: ignore[assignment]
    return gateway, connector


def send(gateway: Gateway, stream: bool = False) -> RecordingChannel:
    request = Request(0.0)
    request.method, request.path = b"POST", b"/v1/chat/completions"
    request.content_type = b"application/json"
    request.body = bytearray(orjson.dumps({"model": "m", "stream": stream,
                                           "messages": [{"role": "user", "content": "hi"}]}))
    channel = RecordingChannel()
    gateway.handle(request, channel)  # type: ignore[arg-type]
    return channel


def retry_route(retry_on: list[str], attempts: int = 2, fallbacks: list[str] | None = None,
                **timeouts: float) -> list[dict[str, Any]]:
    return [{"name": "r", "retries": {"attempts": attempts, "retryOn": retry_on}, "timeouts": timeouts,
             "rules": [{"name": "all", "backends": [{"pool": "p"}], "fallbacks": fallbacks or []}]}]


async def test_a_5xx_is_retried_on_another_endpoint_and_the_answer_relayed() -> None:
    gateway, connector = gateway_with(retry_route(["5xx"]))
    channel = send(gateway)
    first = connector.upstreams[0]
    first.answer(500, b'{"error":{"message":"boom"}}')
    assert not channel.responses  # dropped for a retry
    second = connector.upstreams[1]
    assert second.endpoint is not first.endpoint
    second.answer(200, b'{"id":"x","model":"m","usage":{"prompt_tokens":3,"completion_tokens":2}}')
    assert channel.responses[0][0] == 200 and channel.done == 1
    assert first.finished and second.finished


async def test_when_no_retry_is_left_the_upstreams_own_error_is_relayed() -> None:
    gateway, connector = gateway_with(retry_route(["5xx"]), endpoints=1)
    channel = send(gateway)
    connector.upstreams[0].answer(503, b'{"error":{"message":"overloaded","type":"x"}}')
    status, body, _ = channel.responses[0]
    assert status == 503 and b"overloaded" in body and channel.done == 1


async def test_a_status_not_in_retry_on_is_not_retried() -> None:
    gateway, connector = gateway_with(retry_route(["connect-failure"]))
    channel = send(gateway)
    connector.upstreams[0].answer(500, b'{"error":{"message":"boom"}}')
    assert len(connector.upstreams) == 1 and channel.responses[0][0] == 500


async def test_a_reset_is_retried_only_when_retry_on_says_reset() -> None:
    gateway, connector = gateway_with(retry_route(["5xx"]), connector=ScriptedConnector(idle=False))
    channel = send(gateway)
    await asyncio.sleep(0)
    connector.upstreams[0].fail("reset")
    assert len(connector.upstreams) == 1 and channel.responses[0][0] == 502

    gateway, connector = gateway_with(retry_route(["reset"]), connector=ScriptedConnector(idle=False))
    channel = send(gateway)
    await asyncio.sleep(0)
    connector.upstreams[0].fail("reset")
    await asyncio.sleep(0)
    assert len(connector.upstreams) == 2


async def test_a_refused_connection_is_retried_only_with_connect_failure() -> None:
    for retry_on, expected_tries in ((["5xx"], 1), (["connect-failure"], 2)):
        gateway, connector = gateway_with(retry_route(retry_on), connector=ScriptedConnector(idle=False))
        connector.refuse = {"http://10.0.0.1:8000", "http://10.0.0.2:8000"}
        channel = send(gateway)
        for _ in range(5):
            await asyncio.sleep(0)
        assert channel.responses[0][0] == 502
        assert sum(1 for ep in gateway.endpoints.values() if ep.url in connector.refuse) == 2
        tried = len([u for u in channel.responses])  # one answer per request, whatever the tries
        assert tried == 1
        assert _connects(gateway) == expected_tries


def _connects(gateway: Gateway) -> int:
    return int(sum(v for k, v in _error_counts(gateway).items() if k == "connect"))


def _error_counts(gateway: Gateway) -> dict[str, float]:
    counts: dict[str, float] = {}
    for metric in gateway.metrics.upstream_errors.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counts[sample.labels["kind"]] = counts.get(sample.labels["kind"], 0) + sample.value
    return counts


async def test_a_stale_keepalive_is_resent_without_spending_a_retry() -> None:
    gateway, connector = gateway_with(retry_route(["5xx"], attempts=0))
    channel = send(gateway)
    stale = connector.upstreams[0]
    stale.fail("reset")  # no byte came back on a reused connection: the request never arrived
    await asyncio.sleep(0)
    fresh = connector.upstreams[1]
    assert fresh.endpoint is stale.endpoint and not fresh.reused
    fresh.answer(200, b'{"ok":true}')
    assert channel.responses[0][0] == 200


async def test_fallback_pool_gets_the_request_under_its_own_model_name() -> None:
    routes = [{"name": "r", "rules": [{"name": "all", "match": {"models": ["m"]}, "backends": [{"pool": "p"}],
                                       "fallbacks": ["backup"]}], "retries": {"attempts": 3}}]
    gateway, connector = gateway_with(routes, endpoints=1)
    channel = send(gateway)
    connector.upstreams[0].answer(500, b"{}")
    backup = connector.upstreams[1]
    assert backup.endpoint.url == "http://10.0.1.1:8000"
    assert orjson.loads(backup.sent[0])["model"] == "m"  # the rule names no rewrite: the requested model
    backup.answer(200, b'{"model":"m"}')
    assert channel.responses[0][0] == 200
    assert b"x-tokenway-pool: backup" in channel.responses[0][2]


async def test_stream_headers_wait_for_the_first_chunk_and_a_break_after_it_ends_with_error_and_done() -> None:
    gateway, connector = gateway_with(retry_route(["5xx", "reset"]))
    channel = send(gateway, stream=True)
    upstream = connector.upstreams[0]
    assert upstream.sink is not None
    upstream.sink.on_headers(200, [(b"content-type", b"text/event-stream")])
    assert channel.stream_status == 0  # held until the first chunk: the attempt can still be retried
    upstream.sink.on_body(b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n')
    assert channel.stream_status == 200 and len(channel.chunks) == 1
    upstream.fail("reset")
    assert channel.ended and channel.chunks[-1].endswith(b"data: [DONE]\n\n")
    assert b'"error"' in channel.chunks[-1]
    assert len(connector.upstreams) == 1  # bytes reached the client: never retried


async def test_first_token_timeout_retries_a_stalled_stream_elsewhere() -> None:
    gateway, connector = gateway_with(retry_route(["reset"], firstTokenSeconds=0.05))
    channel = send(gateway, stream=True)
    stalled = connector.upstreams[0]
    assert stalled.sink is not None
    stalled.sink.on_headers(200, [(b"content-type", b"text/event-stream")])
    for _ in range(200):  # bounded: the timer fires after 50 ms
        if len(connector.upstreams) == 2:
            break
        await asyncio.sleep(0.005)
    assert stalled.aborted and len(connector.upstreams) == 2
    fresh = connector.upstreams[1]
    assert fresh.sink is not None and fresh.endpoint is not stalled.endpoint
    fresh.sink.on_headers(200, [(b"content-type", b"text/event-stream")])
    fresh.sink.on_body(b"data: [DONE]\n\n")
    fresh.sink.on_complete()
    assert channel.stream_status == 200 and channel.ended and channel.done == 1


async def test_client_gone_aborts_the_upstream_and_settles_once() -> None:
    gateway, connector = gateway_with()
    channel = send(gateway, stream=True)
    assert channel.active is not None
    channel.active.client_gone()
    upstream = connector.upstreams[0]
    assert upstream.aborted and channel.done == 1
    assert all(ep.in_flight == 0 for ep in gateway.endpoints.values())


async def test_slow_client_pauses_and_resumes_the_upstream() -> None:
    gateway, connector = gateway_with()
    channel = send(gateway, stream=True)
    upstream = connector.upstreams[0]
    assert channel.active is not None
    channel.active.pause_upstream()
    assert upstream.paused
    channel.active.resume_upstream()
    assert not upstream.paused


async def test_the_response_carries_the_requested_model_name() -> None:
    config_routes = [{"name": "r", "rules": [{"name": "all", "match": {"models": ["m"]},
                                              "backends": [{"pool": "backup", "model": "m-backup"}]}]}]
    gateway, connector = gateway_with(config_routes)
    channel = send(gateway)
    upstream = connector.upstreams[0]
    assert orjson.loads(upstream.sent[0])["model"] == "m-backup"
    upstream.answer(200, b'{"id":"1","model":"m-backup","choices":[]}')
    status, body, extra = channel.responses[0]
    assert status == 200 and orjson.loads(body)["model"] == "m" and b"x-tokenway-upstream-model: m-backup" in extra


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"messages":[]}', b'{"model":"m","stream":"yes"}'])
async def test_bad_bodies_get_400_in_openai_format(body: bytes) -> None:
    gateway, connector = gateway_with()
    request = Request(0.0)
    request.method, request.path, request.body = b"POST", b"/v1/chat/completions", bytearray(body)
    channel = RecordingChannel()
    gateway.handle(request, channel)  # type: ignore[arg-type]
    status, payload, _ = channel.responses[0]
    error = orjson.loads(payload)["error"]
    assert status == 400 and set(error) == {"message", "type", "param", "code"}
    assert not connector.upstreams and channel.done == 1


def test_usage_is_read_from_the_last_usage_object_of_any_shape() -> None:
    from tokenway_gateway.proxy.call import usage_of

    flat = (b'{"id":"x","choices":[{"message":{"content":"\\"usage\\": {1}"}}],'
            b'"usage":{"prompt_tokens":5,"completion_tokens":2}}')
    assert usage_of(flat) == {"prompt_tokens": 5, "completion_tokens": 2}
    nested = b'{"usage": {"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens":2}}'
    assert usage_of(nested) == {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 3},
                                "completion_tokens": 2}
    assert usage_of(b'{"usage":{"prompt_tokens":1,"note":"}"}}') == {"prompt_tokens": 1, "note": "}"}
    assert usage_of(b'{"usage":null}') is None and usage_of(b'{"id":"x"}') is None
