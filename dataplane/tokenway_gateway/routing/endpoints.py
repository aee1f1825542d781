"""Runtime state of upstream endpoints, kept across config swaps (keyed by URL)."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

from ..api.snapshot import EndpointConfig


class EndpointSpec:
    """An endpoint as one config snapshot declares it, checked while the snapshot is validated.

    Building it touches no live state, so a snapshot that fails here never half-applies.
    """

    __slots__ = ("api_key", "auth_header", "label", "protocol", "url", "weight")

    def __init__(self, config: EndpointConfig, protocol: str) -> None:
        parts = urlsplit(config.url)
        try:
            parts.port  # noqa: B018  # raises ValueError for a port out of range
        except ValueError as exc:
            raise ValueError(f"endpoint URL {config.url!r}: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint URL {config.url!r} must be http(s)://host[:port]")
        if protocol == "h2c" and parts.scheme != "http":
            raise ValueError(f"endpoint URL {config.url!r}: h2c needs http://, not {parts.scheme}://")
        self.url = config.url
        self.weight = config.weight
        self.protocol = protocol
        self.label = config.name
        self.api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        self.auth_header = b"authorization: Bearer " + self.api_key.encode() + b"\r\n" if self.api_key else b""


class Endpoint:
    """One upstream replica: its address, load and passive health."""

    # Load signals and outlier state (waiting, running, kv_usage, scraped_at, ...) are written by
    # tokenway_gateway.picking: its metrics scraper, health checks and EndpointPicker.observe.
    __slots__ = ("api_key", "auth_header", "base_path", "consecutive_5xx", "consecutive_gateway", "ejected_until",
                 "ejections", "failures", "healthy", "host", "host_header", "in_flight", "in_flight_at_scrape",
                 "kv_usage", "label", "port", "protocol", "running", "scheme", "scraped_at", "served_models",
                 "ttft_ewma", "url", "waiting", "weight")

    def __init__(self, url: str, weight: int = 1, protocol: str = "http1", label: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint URL {url!r} must be http(s)://host[:port]")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.host_header = parts.netloc.encode()
        self.weight = weight
        self.protocol = protocol
        self.label = label or parts.netloc
        self.in_flight = 0
        self.failures = 0
        self.ejected_until = 0.0
        self.waiting = 0.0  # vllm:num_requests_waiting at the last scrape
        self.running = 0.0  # vllm:num_requests_running
        self.kv_usage = 0.0  # vllm:kv_cache_usage_perc, 0..1
        self.scraped_at = 0.0  # time.monotonic() of the last good scrape; 0.0 = never
        self.in_flight_at_scrape = 0  # the gateway's own in-flight count when that scrape landed
        self.served_models: frozenset[str] | None = None  # models and LoRA adapters it reports; None = unknown
        self.ttft_ewma = 0.0  # seconds, 0.0 = no sample yet
        self.healthy = True  # verdict of active health checks (always True without them)
        self.consecutive_5xx = 0
        self.consecutive_gateway = 0  # connect failures, resets, timeouts in a row
        self.ejections = 0  # times ejected recently: the next ejection lasts longer
        self.api_key: str | None = None
        self.auth_header = b""

    def configure(self, spec: EndpointSpec) -> None:
        """Apply a validated spec (on the event loop, when its config is committed)."""
        self.weight = spec.weight
        self.protocol = spec.protocol
        if spec.label:
            self.label = spec.label
        self.api_key = spec.api_key
        self.auth_header = spec.auth_header

    @property
    def available(self) -> bool:
        return self.ejected_until <= time.monotonic()

    def record_success(self) -> None:
        self.failures = 0

    def record_failure(self, eject_after: int = 3, eject_seconds: float = 5.0) -> None:
        """Passive health: consecutive connect failures take the endpoint out for a while."""
        self.failures += 1
        if self.failures >= eject_after:
            self.ejected_until = time.monotonic() + eject_seconds
