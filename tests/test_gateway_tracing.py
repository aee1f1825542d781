"""OpenTelemetry: spans per stage exported over OTLP/HTTP to a collector on loopback."""

from __future__ import annotations

import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from procs import ProcessFactory, pool

trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")


class Collector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        Collector.received.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_spans_per_stage_with_parentage(procs: ProcessFactory) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sim = procs.simulator("m", "--itl-ms", "1")
        config = {"version": "1", "pools": [pool("p", "m", sim.url)],
                  "telemetry": {"otlpEndpoint": f"http://127.0.0.1:{server.server_address[1]}"}}
        gw = procs.gateway(config)
        response = httpx.post(gw.url + "/v1/chat/completions",
                              json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
        assert response.status_code == 200
        gw.proc.send_signal(signal.SIGTERM)  # shutdown flushes the batch processor
        assert gw.proc.wait(15) == 0
    finally:
        server.shutdown()
    spans = []
    for body in Collector.received:
        request = trace_service.ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans.extend(scope.spans)
    by_name = {span.name: span for span in spans}
    assert {"tokenway.request", "tokenway.upstream"} <= set(by_name)
    root, upstream = by_name["tokenway.request"], by_name["tokenway.upstream"]
    assert upstream.parent_span_id == root.span_id
    assert upstream.trace_id == root.trace_id
    attributes = {a.key: a.value for a in root.attributes}
    assert attributes["tokenway.pool"].string_value == "p"
    assert attributes["gen_ai.usage.output_tokens"].int_value == 3
