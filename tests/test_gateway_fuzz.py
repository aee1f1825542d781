"""Property-based fuzzing of a live gateway: request lines, headers and JSON bodies over real sockets.

Whatever arrives, the gateway never answers 5xx itself (a 502/503/504 only when the upstream
is at fault, which the healthy simulator never is), never hangs, and never drops a complete
request without a response.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from procs import ProcessFactory, pool

PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/healthz", "/metrics",
         "/nope", "/v1/chat/completions?x=1", "//", "/v1/../v1/models"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]
TOKEN = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=':()<>@,;\\"/[]?={}'),
                min_size=1, max_size=20)
VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
JSON_LEAF = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(JSON_LEAF, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool", "x"]),
                                 "content": st.text(max_size=80) | JSON})
BODY = st.one_of(
    st.fixed_dictionaries({"model": st.sampled_from(["m", "nope", "", "M"]) | JSON,
                           "messages": st.lists(MESSAGE, max_size=3) | JSON},
                          optional={"stream": st.booleans() | JSON, "max_tokens": st.integers(-5, 40) | JSON,
                                    "stream_options": JSON, "temperature": JSON, "user": JSON}),
    JSON,
)


@pytest.fixture(scope="module")
def gw(module_procs: ProcessFactory) -> Any:
    sim = module_procs.simulator("m", "--itl-ms", "0", "--prefill-overhead-ms", "0", "--time-scale", "0")
    return module_procs.gateway({"version": "1", "server": {"maxBodyBytes": 16384, "headerTimeoutSeconds": 2.0},
                                 "pools": [pool("p", "m", sim.url)]})


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` (a complete request), half-close, read everything the gateway answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return data


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), f"no HTTP response to a complete request: {response[:200]!r}"
    return int(response[9:12])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(METHODS), path=st.sampled_from(PATHS),
       headers=st.lists(st.tuples(TOKEN, VALUE), max_size=6), body=BODY,
       content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=utf-8"]))
def test_complete_requests_always_get_a_response_and_never_a_gateway_5xx(
        gw: Any, method: str, path: str, headers: list[tuple[str, str]], body: Any, content_type: str) -> None:
    payload = json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "host: fuzz", f"content-length: {len(payload)}", "connection: close"]
    if content_type:
        lines.append(f"content-type: {content_type}")
    reserved = {"host", "content-length", "connection", "content-type", "transfer-encoding", "expect"}
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in reserved]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    response = exchange(gw.port, raw)
    status = status_of(response)
    assert status < 500, response[:500]
    if status >= 400 and method != "HEAD":
        head, _, rest = response.partition(b"\r\n\r\n")
        assert b"content-type: application/json" in head
        error = json.loads(rest)["error"]
        assert set(error) == {"message", "type", "param", "code"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300))
def test_garbage_never_crashes_or_hangs_the_gateway(gw: Any, garbage: bytes) -> None:
    response = exchange(gw.port, garbage + b"\r\n\r\n")
    if response:  # a parse error gets a 4xx; an incomplete request may get nothing
        assert 400 <= status_of(response) < 500, response[:300]
    # The gateway still serves.
    ok = exchange(gw.port, b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    assert status_of(ok) == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=120))
def test_request_lines(gw: Any, line: str) -> None:
    response = exchange(gw.port, line.encode("latin-1") + b"\r\nhost: x\r\nconnection: close\r\n\r\n")
    if response:
        assert status_of(response) < 500, response[:300]
