"""Edge limits of the client listener over real sockets: slow headers, idle keep-alive, header size, connections."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest
from procs import ProcessFactory, pool

CHAT = "/v1/chat/completions"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


@pytest.fixture(scope="module")
def gw(module_procs: ProcessFactory) -> Any:
    sim = module_procs.simulator("m", "--itl-ms", "1", "--prefill-overhead-ms", "1")
    return module_procs.gateway({"version": "1", "server": {"headerTimeoutSeconds": 1.0, "idleTimeoutSeconds": 1.5,
                                                            "maxHeaderBytes": 8192},
                                 "pools": [pool("p", "m", sim.url)]})


def _closed(sock: socket.socket) -> bool:
    """True when the peer closed (or reset) the connection; reads whatever it sent before."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_half_open_requests_are_closed_after_the_header_timeout_while_traffic_flows(gw: Any) -> None:
    port = gw.port
    half_open = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")  # never finishes its headers
        sock.setblocking(False)
        half_open.append(sock)
    try:
        served = 0
        deadline = time.monotonic() + 10
        with httpx.Client() as client:
            while time.monotonic() < deadline and not all(_closed(s) for s in half_open):
                assert client.post(gw.url + CHAT, json=BODY).status_code == 200
                served += 1
        assert all(_closed(s) for s in half_open), "slowloris connections still open after 10 s"
        assert served > 10  # normal requests kept flowing meanwhile
    finally:
        for sock in half_open:
            sock.close()


def test_the_slow_client_gets_408_in_openai_format(gw: Any) -> None:
    with socket.create_connection(("127.0.0.1", gw.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        sock.settimeout(5)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 ") and b'"code":"request_timeout"' in data


def test_oversized_headers_get_431(gw: Any) -> None:
    response = httpx.post(gw.url + CHAT, json=BODY, headers={"x-big": "a" * 20_000})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "request_header_fields_too_large"
    assert httpx.post(gw.url + CHAT, json=BODY, headers={"x-ok": "a" * 1000}).status_code == 200


def test_idle_keepalive_connections_are_closed(gw: Any) -> None:
    with socket.create_connection(("127.0.0.1", gw.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # the gateway closes the idle connection
        assert 1.0 < time.monotonic() - started < 4.5


def test_connection_limit_refuses_with_503_and_logs_once(procs: ProcessFactory) -> None:
    sim = procs.simulator("m", "--itl-ms", "1")
    gw = procs.gateway({"version": "1", "server": {"maxConnections": 5}, "pools": [pool("p", "m", sim.url)]})
    held = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(5)]
    try:
        time.sleep(0.2)
        refused = []
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", gw.port)) as sock:
                sock.settimeout(5)
                refused.append(sock.recv(65536))
        assert all(r.startswith(b"HTTP/1.1 503") and b"too_many_connections" in r for r in refused), refused
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if httpx.post(gw.url + CHAT, json=BODY).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    assert httpx.post(gw.url + CHAT, json=BODY).status_code == 200
    assert gw.log_text().count("connection limit of 5 reached") == 1


def test_pipelined_and_concurrent_clients_are_unaffected_by_the_sweep(gw: Any) -> None:
    errors: list[str] = []

    def client() -> None:
        with httpx.Client() as c:
            for _ in range(20):
                response = c.post(gw.url + CHAT, json=BODY)
                if response.status_code != 200:
                    errors.append(response.text)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
