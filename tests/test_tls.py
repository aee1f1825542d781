"""Client-facing TLS over real loopback: the openai SDK over HTTP/2, versions and ciphers, mTLS, rotation.

A private CA (tests/tls_certs.py) signs every certificate; gateways and simulators are
real processes (tests/procs.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from h2_client import RawH2
from procs import ROOT, ProcessFactory, _env, free_port
from tls_certs import TestPki, common_name

CHAT = "/v1/chat/completions"
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def sim(module_procs: ProcessFactory) -> Any:
    return module_procs.simulator("m", "--itl-ms", "3", "--itl-growth-per-seq", "0", "--prefill-overhead-ms", "1")


def config(sim_url: str, **extra: Any) -> dict[str, Any]:
    return {"version": "1", "pools": [{"name": "p", "models": [{"name": "m"}], "endpoints": [{"url": sim_url}]}],
            **extra}


@pytest.fixture(scope="module")
def tls_gateway(module_procs: ProcessFactory, pki: TestPki, sim: Any) -> Any:
    cert, key = pki.server()
    port = free_port()
    gw = module_procs.gateway(config(sim.url), "--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", str(port))
    gw.extra["tls_port"] = port
    return gw


def client_context(pki: TestPki, alpn: list[str] | None = None, **kw: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    for name, value in kw.items():
        setattr(ctx, name, value)
    return ctx


def handshake(port: int, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def test_openai_sdk_over_tls_and_http2(tls_gateway: Any, pki: TestPki) -> None:
    base_url = f"https://localhost:{tls_gateway.extra['tls_port']}/v1"
    http_client = httpx.Client(http2=True, verify=client_context(pki))
    client = openai.OpenAI(base_url=base_url, api_key="unused", http_client=http_client, max_retries=0)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "Say hello"}], max_tokens=7)
        assert raw.http_response.http_version == "HTTP/2"
        completion = raw.parse()
        assert completion.usage is not None and completion.usage.completion_tokens == 7
        assert raw.headers["x-tokenway-pool"] == "p"

        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Count"}],
                                                max_tokens=12, stream=True, stream_options={"include_usage": True})
        pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices and chunk.choices[0].delta]
        assert len([p for p in pieces if p]) == 12

        # A fan-out of concurrent requests multiplexed on one HTTP/2 connection (the async client: httpcore's
        # sync client shared by threads can send HEADERS out of stream-id order, a connection error in HTTP/2).
        async def fan_out() -> list[int]:
            async with httpx.AsyncClient(http2=True, verify=client_context(pki)) as async_http:
                async_client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", http_client=async_http,
                                                  max_retries=0)
                done = await asyncio.gather(*[async_client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"question {i}"}], max_tokens=3)
                    for i in range(32)])
                return [r.usage.completion_tokens if r.usage else 0 for r in done]

        assert asyncio.run(fan_out()) == [3] * 32
    finally:
        http_client.close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_versions_ciphers_and_alpn(tls_gateway: Any, pki: TestPki) -> None:
    port = tls_gateway.extra["tls_port"]
    with handshake(port, client_context(pki, ["h2", "http/1.1"])) as sock:
        assert sock.version() == "TLSv1.3" and sock.selected_alpn_protocol() == "h2"
        assert common_name(sock.getpeercert(binary_form=True) or b"") == "localhost"
    with handshake(port, client_context(pki, ["http/1.1"])) as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
    tls12 = client_context(pki, ["h2"], maximum_version=ssl.TLSVersion.TLSv1_2)
    with handshake(port, tls12) as sock:
        assert sock.version() == "TLSv1.2" and sock.selected_alpn_protocol() == "h2"
        cipher = sock.cipher()
        assert cipher is not None and cipher[0].startswith("ECDHE-") and ("GCM" in cipher[0] or "CHACHA" in cipher[0])
    # Old protocol versions and non-forward-secret or CBC suites are refused.
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    legacy.load_verify_locations(str(pki.ca_file))
    legacy.set_ciphers("ALL:@SECLEVEL=0")
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        legacy.minimum_version = legacy.maximum_version = version
        with pytest.raises(ssl.SSLError):
            handshake(port, legacy).close()
    for suite in ("AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA", "AES256-SHA256"):
        weak = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
        weak.set_ciphers(suite)
        with pytest.raises(ssl.SSLError):
            handshake(port, weak).close()


def test_http11_over_tls_keeps_the_fast_path(tls_gateway: Any, pki: TestPki) -> None:
    url = f"https://localhost:{tls_gateway.extra['tls_port']}"
    with httpx.Client(verify=client_context(pki)) as client:
        response = client.post(url + CHAT, json={"model": "m", "messages": MSG, "max_tokens": 4, "stream": True})
        assert response.status_code == 200 and response.http_version == "HTTP/1.1"
        assert response.text.rstrip().endswith("data: [DONE]")
        assert client.get(url + "/healthz").status_code == 200  # same keep-alive connection
    metrics = httpx.get(tls_gateway.url + "/metrics").text
    assert re.search(r'tokenway_tls_connections_total\{protocol="http/1.1"\} [1-9]', metrics)


def test_mtls_refuses_missing_or_foreign_client_certificates(module_procs: ProcessFactory, pki: TestPki, sim: Any,
                                                             tmp_path: Path) -> None:
    cert, key = pki.server("server-mtls")
    client_cert, client_key = pki.client()
    foreign = TestPki(tmp_path / "foreign", "someone-else-ca")
    foreign_cert, foreign_key = foreign.client("intruder")
    port = free_port()
    gw = module_procs.gateway(config(sim.url), "--tls-cert", str(cert), "--tls-key", str(key),
                              "--tls-client-ca", str(pki.ca_file), "--tls-port", str(port))
    url = f"https://localhost:{port}{CHAT}"
    body = {"model": "m", "messages": MSG, "max_tokens": 2}

    def accepted() -> float:
        text = httpx.get(gw.url + "/metrics").text
        return sum(float(v) for v in re.findall(r"^tokenway_tls_connections_total\{[^}]*\} (\S+)$", text, re.M))

    for label, identity in (("no certificate", None), ("foreign CA", (foreign_cert, foreign_key))):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context(pki, ["h2", "http/1.1"], maximum_version=version)
            if identity:
                ctx.load_cert_chain(*identity)
            # TLS 1.2 fails in the handshake; with 1.3 the client's side of it is over before the server's
            # verdict, which arrives as an alert on the first read.
            with pytest.raises((ssl.SSLError, ConnectionError)), handshake(port, ctx) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                if not sock.recv(1024):
                    raise ConnectionError(f"{label}: closed")
        sdk_ctx = client_context(pki)
        if identity:
            sdk_ctx.load_cert_chain(*identity)
        with httpx.Client(http2=True, verify=sdk_ctx) as client, pytest.raises(httpx.TransportError):
            client.post(url, json=body)
    assert accepted() == 0, "a connection without a valid client certificate reached the HTTP layer"

    ok_ctx = client_context(pki)
    ok_ctx.load_cert_chain(client_cert, client_key)
    with httpx.Client(http2=True, verify=ok_ctx) as client:
        response = client.post(url, json=body)
        assert response.status_code == 200 and response.http_version == "HTTP/2"
    assert accepted() == 1


class KubeletSecretDir:
    """A directory laid out like a mounted Secret: files link into ..data, which is swapped atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        self.generation = 0

    def publish(self, cert: Path, key: Path) -> None:
        self.generation += 1
        version = self.root / f"..2026_{self.generation:02d}"
        version.mkdir()
        (version / "tls.crt").write_bytes(cert.read_bytes())
        (version / "tls.key").write_bytes(key.read_bytes())
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(version.name)
        os.replace(tmp, self.root / "..data")
        for name in ("tls.crt", "tls.key"):
            if not (self.root / name).is_symlink():
                (self.root / name).symlink_to(f"..data/{name}")

    @property
    def cert(self) -> Path:
        return self.root / "tls.crt"

    @property
    def key(self) -> Path:
        return self.root / "tls.key"


def peer_name(port: int, pki: TestPki) -> str:
    with handshake(port, client_context(pki)) as sock:
        return common_name(sock.getpeercert(binary_form=True) or b"")


def test_certificate_rotation_under_load(procs: ProcessFactory, pki: TestPki, sim: Any, tmp_path: Path) -> None:
    secret = KubeletSecretDir(tmp_path / "secret")
    secret.publish(*pki.server("before", common_name="localhost"))
    port = free_port()
    gw = procs.gateway(config(sim.url), "--tls-cert", str(secret.cert), "--tls-key", str(secret.key),
                       "--tls-port", str(port))
    assert peer_name(port, pki) == "localhost"

    # A live HTTP/2 connection from before the rotation, with a stream in flight across it.
    live = RawH2(port, tls=client_context(pki, ["h2"]))
    assert common_name(live.sock.getpeercert(binary_form=True) or b"") == "localhost"  # type: ignore[attr-defined]
    long_stream = {"model": "m", "messages": MSG, "max_tokens": 300, "stream": True}
    in_flight = live.request(body=json.dumps(long_stream).encode())

    failures: list[str] = []
    done = [0]
    stop = threading.Event()

    def load(http2: bool) -> None:
        while not stop.is_set():
            # A new connection (new handshake) for every few requests, HTTP/1.1 and HTTP/2.
            try:
                with httpx.Client(http2=http2, verify=client_context(pki), timeout=10) as client:
                    for _ in range(3):
                        r = client.post(f"https://localhost:{port}{CHAT}",
                                        json={"model": "m", "messages": MSG, "max_tokens": 2})
                        if r.status_code != 200:
                            failures.append(f"status {r.status_code}")
                        done[0] += 1
            except httpx.HTTPError as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=load, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        rotated_cert, rotated_key = pki.server("after", common_name="rotated.localhost")
        swapped_at = time.monotonic()
        secret.publish(rotated_cert, rotated_key)
        while peer_name(port, pki) != "rotated.localhost":
            assert time.monotonic() - swapped_at < 5.0, "new connections still get the old certificate after 5 s"
            time.sleep(0.1)
        took = time.monotonic() - swapped_at
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not failures, failures[:5]
    assert done[0] > 20
    assert took < 5.0

    # The live connection was not dropped: its stream finished and it still serves, on its old certificate.
    live.wait(in_flight, timeout=20)
    assert live.responses[in_flight].text().rstrip().endswith("data: [DONE]")
    again = live.request(body=json.dumps({"model": "m", "messages": MSG, "max_tokens": 2}).encode())
    live.wait(again)
    assert live.responses[again].status == 200
    live.close()
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'tokenway_tls_certificate_reloads_total{result="applied"} 1.0' in metrics

    # A broken replacement (key of another certificate) is refused; the current one keeps serving.
    other_cert, _ = pki.server("other")
    _, unrelated_key = pki.server("unrelated")
    secret.publish(other_cert, unrelated_key)
    deadline = time.monotonic() + 5
    while 'result="rejected"} 1.0' not in httpx.get(gw.url + "/metrics").text:
        assert time.monotonic() < deadline, "the mismatched pair was not noticed"
        time.sleep(0.1)
    assert peer_name(port, pki) == "rotated.localhost"


def test_tls_from_the_config_file(procs: ProcessFactory, pki: TestPki, sim: Any) -> None:
    cert, key = pki.server("from-config", common_name="localhost")
    port = free_port()
    gw = procs.gateway(config(sim.url, tls={"certFile": str(cert), "keyFile": str(key), "port": port}))
    with httpx.Client(http2=True, verify=client_context(pki)) as client:
        response = client.post(f"https://localhost:{port}{CHAT}", json={"model": "m", "messages": MSG, "max_tokens": 2})
        assert response.status_code == 200 and response.http_version == "HTTP/2"
    assert gw.proc.poll() is None


def _run_gateway(tmp_path: Path, cfg: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run([sys.executable, "-m", "tokenway_gateway.cli", "gateway", "--config", str(path),
                           "--host", "127.0.0.1", "--port", str(free_port()), *flags],
                          capture_output=True, text=True, timeout=30, env=_env(), cwd=ROOT)


@pytest.fixture
def pair(pki: TestPki) -> Iterator[tuple[Path, Path]]:
    yield pki.server("pair")


def test_bad_tls_files_are_a_one_line_error(tmp_path: Path, pki: TestPki, pair: tuple[Path, Path]) -> None:
    cert, _ = pair
    _, other_key = pki.server("mismatch")
    cfg = config("http://127.0.0.1:9")
    for flags, expect in (
        (("--tls-cert", str(cert), "--tls-key", str(other_key), "--tls-port", str(free_port())), "cannot load"),
        (("--tls-cert", str(tmp_path / "missing.crt"), "--tls-key", str(other_key)), "cannot load"),
        (("--tls-cert", str(cert)), "go together"),
    ):
        result = _run_gateway(tmp_path, cfg, *flags)
        assert result.returncode == 2, result.stderr[-500:]
        assert expect in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
