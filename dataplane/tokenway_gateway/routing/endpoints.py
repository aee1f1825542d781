"""Runtime state of upstream endpoints, kept across config swaps (keyed by URL)."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

from ..api.snapshot import EndpointConfig


class Endpoint:
    """One upstream replica: its address, load and passive health."""

    __slots__ = ("api_key", "auth_header", "base_path", "ejected_until", "failures", "host", "host_header",
                 "in_flight", "label", "port", "protocol", "scheme", "url", "weight")

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
        self.api_key: str | None = None
        self.auth_header = b""

    def configure(self, config: EndpointConfig, protocol: str) -> None:
        self.weight = config.weight
        self.protocol = protocol
        if config.name:
            self.label = config.name
        self.api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        self.auth_header = b"authorization: Bearer " + self.api_key.encode() + b"\r\n" if self.api_key else b""

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
