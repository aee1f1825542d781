"""OpenTelemetry spans per pipeline stage, only when an OTLP endpoint is configured.

When tracing is off, :data:`NO_TRACER` is used and every call site checks one
attribute: no span objects, no context propagation, nothing allocated.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("tokenway.tracing")


class Tracer:
    """A thin wrapper so the hot path never imports OpenTelemetry when it is off."""

    enabled = False

    def start(self, name: str, parent: Any = None, **attributes: Any) -> Any:
        return None

    def end(self, span: Any, status_code: int | None = None) -> None:
        return None

    def traceparent(self, span: Any) -> bytes | None:
        return None

    def shutdown(self) -> None:
        return None


NO_TRACER = Tracer()


class OtelTracer(Tracer):
    enabled = True

    def __init__(self, endpoint: str, service_name: str) -> None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/")
                                                                                + "/v1/traces")))
        self._tracer = self._provider.get_tracer("tokenway.gateway")
        self._propagator = TraceContextTextMapPropagator()

    def start(self, name: str, parent: Any = None, **attributes: Any) -> Any:
        context = self._trace.set_span_in_context(parent) if parent is not None else None
        return self._tracer.start_span(name, context=context, attributes=attributes)

    def end(self, span: Any, status_code: int | None = None) -> None:
        if span is None:
            return
        if status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
            if status_code >= 500:
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
        span.end()

    def traceparent(self, span: Any) -> bytes | None:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=self._trace.set_span_in_context(span))
        value = carrier.get("traceparent")
        return value.encode() if value else None

    def shutdown(self) -> None:
        self._provider.shutdown()


def make_tracer(endpoint: str | None, service_name: str) -> Tracer:
    if not endpoint:
        return NO_TRACER
    try:
        return OtelTracer(endpoint, service_name)
    except ImportError:
        log.error("OTLP endpoint set but opentelemetry is not installed (pip install 'tokenway[otel]'); tracing off")
        return NO_TRACER
