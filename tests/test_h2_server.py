"""HTTP/2 from clients, over real loopback against a gateway process and simulator replicas.

Streams, flow control both ways, limits, rapid reset and bad input, driven by a raw
``h2`` client (tests/h2_client.py) so a test can withhold window, reset streams and
send malformed frames on purpose.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import h2.errors
import h2.settings
import httpx
import pytest
from h2_client import RawH2, tls_client_context
from procs import ProcessFactory, free_port
from tls_certs import TestPki

MAX_BODY = 1024 * 1024
MAX_HEADERS = 8 * 1024
EVENT = b"data: " + b'{"choices":[{"index":0,"delta":{"content":"' + b"x" * 900 + b'"}}]}' + b"\n\n"


class Firehose:
    """An upstream that streams SSE as fast as the socket takes it, and records what it sent and when it was cut."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sent = 0
        self.closed_by_peer = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.5)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._stream, args=(conn,), daemon=True).start()

    def _stream(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (len(EVENT) * 16, EVENT * 16)
            conn.settimeout(0.2)
            while not self.stop.is_set() and self.sent < 400 * 1024 * 1024:
                try:
                    conn.sendall(chunk)
                except TimeoutError:
                    continue
                except OSError:
                    self.closed_by_peer.set()
                    return
                self.sent += len(chunk)

    def close(self) -> None:
        self.stop.set()
        self.server.close()


@pytest.fixture(scope="module")
def stack(module_procs: ProcessFactory, tmp_path_factory: pytest.TempPathFactory) -> Any:
    pki = TestPki(tmp_path_factory.mktemp("pki"))
    cert, key = pki.server()
    sim = module_procs.simulator("m", "--itl-ms", "5", "--itl-growth-per-seq", "0", "--prefill-overhead-ms", "1",
                                 "--max-num-seqs", "512")
    slow = module_procs.simulator("slow", "--itl-ms", "50", "--itl-growth-per-seq", "0", "--prefill-overhead-ms", "1")
    fire = Firehose()
    tls_port = free_port()
    config = {
        "version": "1",
        # 120 streams (not the default 128): the config's http2 limits reach the SETTINGS clients see.
        "server": {"maxBodyBytes": MAX_BODY, "maxHeaderBytes": MAX_HEADERS, "http2": {"maxConcurrentStreams": 120}},
        "pools": [
            {"name": "p", "models": [{"name": "m"}], "endpoints": [{"url": sim.url}]},
            {"name": "s", "models": [{"name": "slow"}], "endpoints": [{"url": slow.url}]},
            {"name": "f", "models": [{"name": "fire"}], "endpoints": [{"url": f"http://127.0.0.1:{fire.port}"}]},
        ],
    }
    gw = module_procs.gateway(config, "--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", str(tls_port))
    yield {"gw": gw, "tls_port": tls_port, "ca": str(pki.ca_file), "fire": fire, "slow": slow, "sim": sim}
    fire.close()


def chat(model: str = "m", max_tokens: int = 8, stream: bool = False, content: str = "hello") -> bytes:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}],
                            "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def tls_client(stack: Any, **kwargs: Any) -> RawH2:
    return RawH2(stack["tls_port"], tls=tls_client_context(stack["ca"]), **kwargs)


def metric(stack: Any, name: str) -> float:
    text = httpx.get(stack["gw"].url + "/metrics").text
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} not exported"
    return float(match.group(1))


def test_streams_on_one_connection_over_tls_and_h2c(stack: Any) -> None:
    for client in (tls_client(stack), RawH2(stack["gw"].port)):
        try:
            plain = client.request(body=chat(), headers=[("x-request-id", "rid-1")])
            streamed = client.request(body=chat(stream=True))
            models = client.request("/v1/models", method="GET")
            missing = client.request(body=chat(model="nope"))
            client.wait([plain, streamed, models, missing])
            r = client.responses
            assert r[plain].status == 200 and json.loads(r[plain].body)["usage"]["completion_tokens"] == 8
            assert r[plain].headers[b"x-request-id"] == b"rid-1"
            assert r[plain].headers[b"x-tokenway-pool"] == b"p"
            assert r[streamed].headers[b"content-type"].startswith(b"text/event-stream")
            events = [line for line in r[streamed].text().split("\n") if line.startswith("data: ")]
            assert events[-1] == "data: [DONE]" and sum('"content"' in e for e in events) >= 8
            assert r[models].status == 200 and "m" in r[models].text()
            assert r[missing].status == 404 and json.loads(r[missing].body)["error"]["code"] == "model_not_found"
            # Our SETTINGS: the stream and header-list limits.
            assert client.conn.remote_settings.max_concurrent_streams == 120
            assert client.conn.remote_settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == MAX_HEADERS
        finally:
            client.close()


def test_prior_knowledge_preface_split_across_reads(stack: Any) -> None:
    client = RawH2(stack["gw"].port, preface=False)
    try:
        client.conn.initiate_connection()
        data = client.conn.data_to_send()
        for piece in (data[:3], data[3:16], data[16:17], data[17:20], data[20:]):  # byte-wise boundaries
            client.send_raw(piece)
            time.sleep(0.02)
        stream = client.request(body=chat())
        client.wait(stream)
        assert client.responses[stream].status == 200
    finally:
        client.close()


def test_sse_relayed_chunk_by_chunk(stack: Any) -> None:
    client = tls_client(stack)
    try:
        stream = client.request(body=chat(model="slow", max_tokens=6, stream=True))
        arrivals: list[float] = []
        seen = 0
        deadline = time.monotonic() + 10
        while not client.responses[stream].ended and time.monotonic() < deadline:
            client.pump(0.05)
            count = client.responses[stream].body.count(b'"content"')
            arrivals += [time.perf_counter()] * (count - seen)
            seen = count
        # 50 ms between tokens upstream: relayed as they come, not in one burst at the end.
        assert len(arrivals) >= 6
        assert arrivals[-1] - arrivals[1] > 0.15
    finally:
        client.close()


def test_hundred_streams_with_one_slow_reader(stack: Any) -> None:
    fire: Firehose = stack["fire"]
    client = tls_client(stack, window=64 * 1024 * 1024)
    try:
        slow = client.request(body=chat(model="fire", stream=True))
        client.unread.add(slow)  # this stream's window is never handed back: a client that stopped reading
        client.pump(0.5)
        started = time.perf_counter()
        others = [client.request(body=chat(max_tokens=16, stream=True), flush=False) for _ in range(99)]
        client.flush()
        client.wait(others, timeout=20)
        elapsed = time.perf_counter() - started
        r = client.responses
        assert all(r[i].status == 200 and r[i].text().rstrip().endswith("data: [DONE]") for i in others)
        # 16 tokens 5 ms apart: about 0.1 s each and all at once; a stalled connection would take forever.
        assert elapsed < 5.0, f"99 streams took {elapsed:.2f}s next to a stalled one"
        assert len(r[slow].body) < 1024 * 1024  # held at its window

        # The stalled stream paused its upstream: the firehose stops sending (socket buffers aside).
        time.sleep(0.5)
        stalled_at = fire.sent
        for _ in range(5):
            client.pump(0.2)
        assert fire.sent == stalled_at, "the upstream kept sending while the client did not read"
        assert fire.sent < 64 * 1024 * 1024

        # Reading again resumes it.
        client.acknowledge(slow)
        deadline = time.monotonic() + 10
        while fire.sent < stalled_at + 4 * 1024 * 1024 and time.monotonic() < deadline:
            client.pump(0.05)
            client.acknowledge(slow)
        assert fire.sent >= stalled_at + 4 * 1024 * 1024, "reading again did not resume the upstream"

        # RST_STREAM from the client cancels the upstream request.
        client.reset(slow)
        assert fire.closed_by_peer.wait(5), "the upstream connection was not closed after the client reset"
        other = client.request(body=chat())
        client.wait(other)
        assert client.responses[other].status == 200
    finally:
        client.close()


def test_client_reset_cancels_upstream_sequence(stack: Any) -> None:
    sim_metrics = stack["slow"].url + "/metrics"

    def running() -> float:
        match = re.search(r"^vllm:num_requests_running\{[^}]*\} ([0-9.]+)$", httpx.get(sim_metrics).text, re.M)
        assert match
        return float(match.group(1))

    client = RawH2(stack["gw"].port)
    try:
        stream = client.request(body=chat(model="slow", max_tokens=500, stream=True))
        deadline = time.monotonic() + 5
        while running() < 1 and time.monotonic() < deadline:
            client.pump(0.05)
        assert running() == 1
        client.reset(stream)
        deadline = time.monotonic() + 5
        while running() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running() == 0, "the simulator still runs the sequence of a reset stream"
    finally:
        client.close()


def test_request_body_over_the_limit_gets_413_and_the_connection_lives(stack: Any) -> None:
    client = RawH2(stack["gw"].port, window=16 * 1024 * 1024)
    try:
        big = b'{"model":"m","messages":[{"role":"user","content":"' + b"a" * (MAX_BODY + 10) + b'"}]}'
        stream = client.request(body=b"", end=False)
        offset = 0
        deadline = time.monotonic() + 5
        while client.responses[stream].status == 0 and time.monotonic() < deadline:
            if offset < len(big):
                offset += client.send_body(stream, big[offset:], end=False)
            client.pump(0.05)
        response = client.responses[stream]
        assert response.status == 413
        client.wait(stream)
        assert json.loads(response.body)["error"]["code"] == "request_too_large"
        # Declared too large up front: refused before a byte of body.
        declared = client.request(body=None, end=False, headers=[("content-length", str(MAX_BODY + 1))])
        client.wait(declared)
        assert client.responses[declared].status == 413
        ok = client.request(body=chat())
        client.wait(ok)
        assert client.responses[ok].status == 200
        assert not client.closed
    finally:
        client.close()


def test_a_fast_client_cannot_make_the_gateway_buffer_without_bound(stack: Any) -> None:
    client = RawH2(stack["gw"].port)
    try:
        part = b"x" * (MAX_BODY // 8)
        streams = [client.request(body=b"", end=False, flush=False) for _ in range(20)]
        client.flush()
        sent, offered = 0, 0
        for _ in range(7):  # offer 20 nearly-full bodies, never finishing one
            for stream in streams:
                offered += len(part)
                sent += client.send_body(stream, part, end=False)
            for _ in range(3):
                client.pump(0.1)
        # Each stream's window (128 KiB) plus the receive budget (2 x maxBodyBytes) is all it lets in.
        bound = 20 * 128 * 1024 + 2 * MAX_BODY + MAX_BODY
        assert sent <= bound, (sent, bound)
        assert offered > 1.5 * bound
        # The oldest stream still gets window: it can send its whole body and be answered (no deadlock).
        first = streams[0]
        deadline = time.monotonic() + 10
        total = 7 * len(part)
        while total < MAX_BODY - len(part) and time.monotonic() < deadline:
            total += client.send_body(first, part[: MAX_BODY - len(part) - total], end=False)
            client.pump(0.05)
        assert total >= MAX_BODY - len(part), "the oldest stream got no more window"
        client.send_body(first, b"", end=True)
        client.wait(first, timeout=10)
        assert client.responses[first].status == 400  # filler, not JSON: served, not stuck
    finally:
        client.close()


def test_rapid_reset_closes_the_connection_and_spares_others(stack: Any) -> None:
    before = metric(stack, "tokenway_http2_rapid_reset_closes_total")
    bystander = tls_client(stack)
    attacker = RawH2(stack["gw"].port)
    try:
        keep = bystander.request(body=chat(model="slow", max_tokens=40, stream=True))
        for _ in range(400):
            if attacker.closed:
                break
            try:
                stream = attacker.request(body=chat(), flush=False)
                attacker.reset(stream, flush=False)
                attacker.flush()
            except (OSError, h2.exceptions.ProtocolError):
                break
        attacker.wait_closed()
        assert attacker.goaway is not None and attacker.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        bystander.wait(keep, timeout=15)
        assert bystander.responses[keep].text().rstrip().endswith("data: [DONE]")
        fresh = bystander.request(body=chat())
        bystander.wait(fresh)
        assert bystander.responses[fresh].status == 200
        assert metric(stack, "tokenway_http2_rapid_reset_closes_total") == before + 1
        assert metric(stack, "tokenway_http2_client_resets_total") >= 200
    finally:
        attacker.close()
        bystander.close()


def _goaway_code(data: bytes) -> int | None:
    """The error code of the first GOAWAY frame in raw server bytes."""
    offset = 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        kind = data[offset + 3]
        if kind == 0x7:
            payload = data[offset + 9:offset + 9 + length]
            return struct.unpack(">I", payload[4:8])[0] if len(payload) >= 8 else None
        offset += 9 + length
    return None


def _raw_exchange(port: int, payload: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send bytes, read until the server closes; returns (bytes, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                return received, False
            if not data:
                return received, True
            received += data
        return received, False


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream_id.to_bytes(4, "big") + payload


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = _frame(0x4, 0, 0, b"")


@pytest.mark.parametrize("name,payload,code", [
    ("bad preface tail", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + SETTINGS, h2.errors.ErrorCodes.PROTOCOL_ERROR),
    ("settings of a bad length", PREFACE + _frame(0x4, 0, 0, b"\x00\x03\x00"), h2.errors.ErrorCodes.FRAME_SIZE_ERROR),
    ("data on stream 0", PREFACE + SETTINGS + _frame(0x0, 0, 0, b"hello"), h2.errors.ErrorCodes.PROTOCOL_ERROR),
    ("headers on an even stream", PREFACE + SETTINGS + _frame(0x1, 0x5, 2, b"\x82\x84\x86"),
     h2.errors.ErrorCodes.PROTOCOL_ERROR),
    ("garbage HPACK", PREFACE + SETTINGS + _frame(0x1, 0x5, 1, b"\xff\xff\xff\xff\xff\xff"),
     h2.errors.ErrorCodes.PROTOCOL_ERROR),  # h2 reports HPACK errors as PROTOCOL_ERROR
    ("window update of zero", PREFACE + SETTINGS + _frame(0x8, 0, 0, b"\x00\x00\x00\x00"),
     h2.errors.ErrorCodes.PROTOCOL_ERROR),
    ("frame larger than allowed", PREFACE + SETTINGS + _frame(0x0, 0, 1, b"x" * 20000),
     h2.errors.ErrorCodes.FRAME_SIZE_ERROR),
])
def test_malformed_input_gets_goaway_not_a_crash(stack: Any, name: str, payload: bytes, code: int) -> None:
    received, closed = _raw_exchange(stack["gw"].port, payload)
    assert closed, f"{name}: the connection was left open"
    assert _goaway_code(received) == code, f"{name}: {received[-40:]!r}"
    assert httpx.get(stack["gw"].url + "/healthz").status_code == 200


def test_invalid_preface_over_tls_h2(stack: Any) -> None:
    ctx = tls_client_context(stack["ca"])
    with socket.create_connection(("127.0.0.1", stack["tls_port"]), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as sock:
        assert sock.selected_alpn_protocol() == "h2"
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        received = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    assert _goaway_code(received) == h2.errors.ErrorCodes.PROTOCOL_ERROR


def test_malformed_request_headers_reset_only_their_stream(stack: Any) -> None:
    client = RawH2(stack["gw"].port, strict=False)
    base = [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"), (":path", "/v1/chat/completions")]
    cases = {
        "uppercase name": [*base, ("X-Tier", "premium")],
        "CR LF in a value": [*base, ("x-request-id", "a\r\nx-injected: 1")],
        "connection header": [*base, ("connection", "keep-alive")],
        "te other than trailers": [*base, ("te", "gzip")],
        "no :path": base[:3],
        "space in :path": [*base[:3], (":path", "/v1/chat/completions HTTP/1.1")],
        "pseudo-header after a regular one": [("content-type", "application/json"), *base],
        "duplicate :method": [*base, (":method", "GET")],
        "unknown pseudo-header": [*base, (":protocol", "websocket")],
    }
    try:
        streams = {name: client.request(raw_headers=headers, body=chat()) for name, headers in cases.items()}
        client.wait(list(streams.values()))
        for name, stream in streams.items():
            assert client.responses[stream].reset == h2.errors.ErrorCodes.PROTOCOL_ERROR, name
        ok = client.request(body=chat())
        client.wait(ok)
        assert client.responses[ok].status == 200 and not client.closed
    finally:
        client.close()


def test_stateless_hpack_encoder_round_trips() -> None:
    import hpack
    from tokenway_gateway.server.h2_server import StatelessEncoder

    encoder, decoder = StatelessEncoder(), hpack.Decoder()
    blocks = [
        [(b":status", b"200"), (b"content-type", b"application/json"), (b"x-request-id", b"abc"),
         (b"x-tokenway-pool", b"p"), (b"content-length", b"123")],
        [(b":status", b"404"), (b"retry-after", b"1"), (b"x-" + b"n" * 200, b"v" * 300)],
        [(b":status", b"200"), (b"content-type", b"text/event-stream"), (b"x-request-id", b"def")],
    ]
    for block in blocks:
        assert decoder.decode(encoder.encode(block), raw=True) == block
    assert len(decoder.header_table.dynamic_entries) == 0  # nothing indexed: no state in the client
    encoder.header_table_size = 100  # the client changed SETTINGS_HEADER_TABLE_SIZE: size update again
    assert encoder.encode(blocks[0]).startswith(b"\x20")
    assert decoder.decode(encoder.encode(blocks[0]), raw=True) == blocks[0]


def test_oversized_headers_end_the_connection(stack: Any) -> None:
    client = RawH2(stack["gw"].port)
    try:
        client.request(body=chat(), headers=[("x-big", "v" * (MAX_HEADERS + 100))])
        client.wait_closed()
        assert client.goaway is not None
        assert client.goaway.error_code in (h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
                                            h2.errors.ErrorCodes.PROTOCOL_ERROR)
    finally:
        client.close()
    assert httpx.get(stack["gw"].url + "/healthz").status_code == 200


def test_too_many_concurrent_streams_is_a_protocol_error(stack: Any) -> None:
    client = RawH2(stack["gw"].port)
    try:
        client.pump(0.3)  # our SETTINGS arrive; the test client ignores them on purpose below
        client.conn.remote_settings.max_concurrent_streams = 1000
        client.conn.remote_settings.acknowledge()
        for _ in range(130):
            client.request(body=chat(model="slow", max_tokens=50, stream=True), flush=False)
        client.flush()
        client.wait_closed()
        assert client.goaway is not None and client.goaway.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    finally:
        client.close()


def test_curl_http2_on_both_ports(stack: Any) -> None:
    body = chat().decode()
    port, tls_port = stack["gw"].port, stack["tls_port"]
    for args in (["--http2-prior-knowledge", f"http://127.0.0.1:{port}"],
                 ["--http2", f"http://127.0.0.1:{port}"],  # Upgrade: h2c
                 ["--http2", f"https://localhost:{tls_port}"],  # ALPN
                 ["--http2-prior-knowledge", f"https://localhost:{tls_port}"]):
        result = subprocess.run(["curl", "-sS", "-m", "10", "--cacert", stack["ca"], "-w", "\n%{http_version}",
                                 "-H", "content-type: application/json", "-d", body,
                                 args[1] + "/v1/chat/completions", args[0]],
                                capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, (args, result.stderr)
        text, version = result.stdout.rsplit("\n", 1)
        assert version == "2", (args, version)
        assert json.loads(text)["usage"]["completion_tokens"] == 8


def test_h2c_upgrade_with_a_body_in_later_reads(stack: Any) -> None:
    import h2.config
    import h2.connection
    import h2.events

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    settings = client.initiate_upgrade_connection()
    body = chat(max_tokens=5)
    with socket.create_connection(("127.0.0.1", stack["gw"].port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: Upgrade, HTTP2-Settings\r\n"
                     b"upgrade: h2c\r\nhttp2-settings: " + settings + b"\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n" % len(body))
        time.sleep(0.2)
        sock.sendall(body[:10])
        time.sleep(0.2)
        sock.sendall(body[10:])
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, rest = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101 ")
        sock.sendall(client.data_to_send())
        status, data, ended = 0, b"", False
        events = client.receive_data(rest) if rest else []
        deadline = time.monotonic() + 10
        while not ended and time.monotonic() < deadline:
            for event in events:
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                    status = int(dict(event.headers or [])[b":status"])
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == 1:
                    data += event.data or b""
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
                    ended = True
            sock.sendall(client.data_to_send())
            if not ended:
                events = client.receive_data(sock.recv(65536))
    assert status == 200 and json.loads(data)["usage"]["completion_tokens"] == 5


def test_http11_still_served_on_both_ports(stack: Any) -> None:
    assert httpx.post(stack["gw"].url + "/v1/chat/completions", content=chat()).status_code == 200
    with httpx.Client(verify=tls_client_context(stack["ca"], ["http/1.1"])) as client:
        response = client.post(f"https://localhost:{stack['tls_port']}/v1/chat/completions", content=chat())
        assert response.status_code == 200 and response.http_version == "HTTP/1.1"
    # "upgrade: h2c" without "connection: upgrade" is no upgrade: a plain HTTP/1.1 answer, connection kept.
    with socket.create_connection(("127.0.0.1", stack["gw"].port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nupgrade: h2c\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")


def test_drain_sends_goaway_and_finishes_open_streams(procs: ProcessFactory, tmp_path: Path) -> None:
    sim = procs.simulator("slow", "--itl-ms", "40", "--itl-growth-per-seq", "0", "--prefill-overhead-ms", "1")
    gw = procs.gateway({"version": "1", "pools": [{"name": "s", "models": [{"name": "slow"}],
                                                   "endpoints": [{"url": sim.url}]}]})
    client = RawH2(gw.port)
    try:
        stream = client.request(body=chat(model="slow", max_tokens=20, stream=True))
        client.pump(0.3)
        gw.proc.send_signal(15)
        client.wait(stream, timeout=15)
        assert client.responses[stream].text().rstrip().endswith("data: [DONE]")
        client.wait_closed()
        assert client.goaway is not None and client.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        assert gw.proc.wait(10) == 0
    finally:
        client.close()


class _StubTransport:
    """Just enough of a transport for the protocol classes, in process."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("split", range(1, 33))
def test_prior_knowledge_preface_at_every_split_point(split: int) -> None:
    """However the preface and the first SETTINGS frame are cut into reads, HTTP/2 takes over cleanly."""
    from tokenway_gateway.server.h2_server import H2ServerConnection
    from tokenway_gateway.server.http import HttpConnection, ServerState

    state = ServerState(lambda request, channel: None)
    transport = _StubTransport()
    conn = HttpConnection(state)
    conn.connection_made(transport)  # type: ignore[arg-type]
    settings = _frame(0x4, 0, 0, (0x3).to_bytes(2, "big") + (77).to_bytes(4, "big"))  # MAX_CONCURRENT_STREAMS 77
    data = PREFACE + settings
    for start in range(0, len(data), split):
        target = transport.protocol or conn
        target.data_received(data[start:start + split])
    h2conn = transport.protocol
    assert isinstance(h2conn, H2ServerConnection), f"not taken over at split {split}"
    assert not transport.closed and not h2conn.closed
    assert h2conn.h2.remote_settings.max_concurrent_streams == 77
    assert conn not in state.connections and h2conn in state.connections
