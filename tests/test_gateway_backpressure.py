"""A slow client must slow the upstream down, not fill the gateway's memory."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
from procs import ProcessFactory, free_port

EVENT = b"data: " + b'{"choices":[{"index":0,"delta":{"content":"' + b"x" * 900 + b'"}}]}' + b"\n\n"
TOTAL_BYTES = 300 * 1024 * 1024


def _firehose(port: int, sent: list[int], stop: threading.Event) -> None:
    """An upstream that streams as fast as the socket takes it (300 MiB at most)."""
    with socket.create_server(("127.0.0.1", port)) as server:
        server.settimeout(10)
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (len(EVENT) * 64, EVENT * 64)
            conn.settimeout(0.5)
            while sent[0] < TOTAL_BYTES and not stop.is_set():
                try:
                    conn.sendall(chunk)
                except (TimeoutError, OSError):
                    continue
                sent[0] += len(chunk)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slow_client_pauses_the_upstream(procs: ProcessFactory) -> None:
    port = free_port()
    sent = [0]
    stop = threading.Event()
    upstream = threading.Thread(target=_firehose, args=(port, sent, stop), daemon=True)
    upstream.start()
    gw = procs.gateway({"version": "1", "pools": [{"name": "p", "models": [{"name": "m"}],
                                                   "endpoints": [{"url": f"http://127.0.0.1:{port}"}]}]})
    before = _rss_kib(gw.proc.pid)
    try:
        with httpx.stream("POST", gw.url + "/v1/chat/completions", timeout=30,
                          json={"model": "m", "messages": [], "stream": True}) as response:
            chunks = response.iter_raw()
            next(chunks)
            time.sleep(2.0)  # the client stops reading
            stalled_at = sent[0]
            time.sleep(1.0)
            # Socket buffers hold a few MiB; a gateway without back-pressure would have pulled everything.
            assert sent[0] == stalled_at, "the upstream kept sending while the client did not read"
            assert sent[0] < 64 * 1024 * 1024
            assert _rss_kib(gw.proc.pid) - before < 64 * 1024
            received = 0
            for piece in chunks:  # reading again resumes the upstream
                received += len(piece)
                if received > 8 * 1024 * 1024:
                    break
            assert sent[0] > stalled_at
    finally:
        stop.set()
        upstream.join(5)
