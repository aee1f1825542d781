"""Fault injection: errors, first-token stalls, mid-stream disconnects, slow startup.

Decisions come from a PRNG seeded with the simulator's seed, so a given request
order sees the same faults on every run. Settings change at runtime through
``POST /sim/faults`` (see `update`); setting ``startup_delay_s`` there restarts
the not-ready window from now, which simulates a replica restart.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, fields
from typing import Any

from .config import FaultSettings, SimulatorConfig

_RANGES: dict[str, tuple[float, float]] = {
    "error_rate": (0.0, 1.0),
    "error_status": (400, 599),
    "stall_first_token_ms": (0.0, float("inf")),
    "disconnect_rate": (0.0, 1.0),
    "disconnect_after_tokens": (0, float("inf")),
    "startup_delay_s": (0.0, float("inf")),
}
_INTEGERS = {"error_status", "disconnect_after_tokens"}


def fault_settings(config: SimulatorConfig) -> FaultSettings:
    """A copy of the fault part of a config, which POST /sim/faults then changes on its own."""
    return FaultSettings(**{f.name: getattr(config, f.name) for f in fields(FaultSettings)})


class FaultInjector:
    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self._rng = random.Random(seed ^ 0x5EED_FA17)
        self._ready_at = time.monotonic() + settings.startup_delay_s

    def ready(self) -> bool:
        return time.monotonic() >= self._ready_at

    def error_status(self) -> int | None:
        """The status to fail this request with, or None to serve it."""
        rate = self.settings.error_rate
        if rate > 0.0 and self._rng.random() < rate:
            return self.settings.error_status
        return None

    def stall_seconds(self) -> float:
        return self.settings.stall_first_token_ms / 1000.0

    def disconnect_after(self) -> int | None:
        """After how many tokens to drop this request's connection, or None to finish it."""
        rate = self.settings.disconnect_rate
        if rate > 0.0 and self._rng.random() < rate:
            return self.settings.disconnect_after_tokens
        return None

    def snapshot(self) -> dict[str, Any]:
        state = asdict(self.settings)
        state["ready"] = self.ready()
        return state

    def update(self, changes: Any) -> None:
        """Apply a JSON object of settings; raises ValueError (and changes nothing) when invalid."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(set(changes) - set(_RANGES))
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}; known: {', '.join(_RANGES)}")
        for name, value in changes.items():
            low, high = _RANGES[name]
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if not is_number or (name in _INTEGERS and not isinstance(value, int)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number within [{low:g}, {high:g}]")
        for name, value in changes.items():
            setattr(self.settings, name, value)
        if "startup_delay_s" in changes:
            self._ready_at = time.monotonic() + self.settings.startup_delay_s
