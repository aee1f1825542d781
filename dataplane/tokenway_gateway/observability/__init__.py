"""Prometheus metrics and OpenTelemetry traces of the gateway."""
